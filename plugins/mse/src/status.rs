//! The execution status of IPRAs for the bureau that issued them (ИС «Исполнение ИПРА», the regional data mart: «формирование
//! данных для региональной витрины … доступ МСЭ к данным витрины»): `IpraExecutionStatus` 1.0
//! (`schemas/execution-status-1.0.xsd`), one document per bureau and run of the export.
//!
//! The host's plan (`step` = [`STEP`]) carries the bureau and the package in `extra` (`issuer`, `package`) and
//! one person per IPRA in `persons`, the IPRA in the person's `extra` (see the README, «Ход исполнения ИПРА»):
//! `ipra-number`, `ipra-document-id`, `protocol-number`, `protocol-date`, `decision-date`, `valid-until`,
//! `status`, `superseded-by`, `measures` and per measure *i* (from 1) `measure.<i>.key`, `.section`, `.code`,
//! `.name`, `.executor-ogrn`, `.due-date`, `.status`, `.execution-date`, `.reasons` (codes separated by
//! commas), `.closed-reason`. `PackageId` is UUID v5 of `urn:ipra:mse:execution-status:<package>`: the same
//! package written again has the same id and file name.

use crate::Config;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, Document, PlanInput, PluginError};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::writer::XmlWriter;
use ipra_plugin_sdk::{snils, uuid};

/// The plan step of the status export.
pub const STEP: &str = "execution-status";
/// Namespace of the status export, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:mse:execution-status:1.0";
/// The format version written.
pub const VERSION: &str = "1.0";
/// IPRAs one document holds at most.
pub const MAX_IPRAS: usize = 10_000;

const IPRA_STATUSES: [&str; 3] = ["active", "superseded", "closed"];
const MEASURE_STATUSES: [&str; 4] = ["open", "executed", "not-executed", "closed"];

fn value<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

fn error(record: &str, code: &str, field: &str, message: String) -> PluginError {
    PluginError::new(code, format!("{record}: {message}"))
        .at_record(record)
        .at_field(field)
}

fn required<'a>(extra: &'a [Attribute], record: &str, code: &str, label: &str) -> Result<&'a str, PluginError> {
    value(extra, code).ok_or_else(|| error(record, "missing-field", code, format!("не указано «{label}» ({code})")))
}

fn date(extra: &[Attribute], record: &str, code: &str) -> Result<Option<String>, PluginError> {
    match value(extra, code) {
        None => Ok(None),
        Some(text) => Date::parse(text)
            .map(|d| Some(d.to_string()))
            .map_err(|e| error(record, e.code(), code, format!("дата «{text}» не распознана ({e})"))),
    }
}

/// Counts of an IPRA's measures by status, and those open past their due date on `today`.
#[derive(Default)]
struct Summary {
    total: usize,
    open: usize,
    executed: usize,
    not_executed: usize,
    closed: usize,
    overdue: usize,
}

/// One measure of an IPRA, as read from the plan.
struct Measure<'a> {
    key: &'a str,
    section: &'a str,
    code: Option<&'a str>,
    name: &'a str,
    executor: Option<&'a str>,
    due: Option<String>,
    status: &'a str,
    executed_on: Option<String>,
    reasons: Vec<&'a str>,
    closed_reason: Option<&'a str>,
}

/// Renders the package, or says which IPRA and field of the plan does not hold (the whole package is refused:
/// the host exports it again once the data is mended).
pub fn render(plan: &PlanInput, config: &Config) -> Result<Document, PluginError> {
    let package = required(&plan.extra, "Пакет", "package", "ключ пакета")?;
    let issuer = required(&plan.extra, "Пакет", "issuer", "бюро МСЭ, сформировавшее ИПРА")?;
    let today = Date::parse(&plan.today).map(|d| d.to_string()).map_err(|e| {
        error(
            "Пакет",
            e.code(),
            "today",
            format!("сегодняшняя дата «{}» не распознана", plan.today),
        )
    })?;
    if plan.persons.is_empty() || plan.persons.len() > MAX_IPRAS {
        return Err(error(
            "Пакет",
            "ipras-count",
            "persons",
            format!(
                "в пакете должно быть от 1 до {MAX_IPRAS} ИПРА, передано {}",
                plan.persons.len()
            ),
        ));
    }
    let id = uuid::v5(&format!("urn:ipra:mse:execution-status:{package}"));
    let mut xml = XmlWriter::new();
    xml.open("IpraExecutionStatus", &[("xmlns", NAMESPACE), ("version", VERSION)]);
    xml.leaf("PackageId", &id);
    xml.leaf("Created", &today);
    xml.leaf_opt("Region", config.region.as_deref());
    xml.leaf("Bureau", issuer);
    for (n, person) in plan.persons.iter().enumerate() {
        let e = &person.extra;
        let number = value(e, "ipra-number").unwrap_or("?");
        let record = format!("ИПРА {} (№ {number})", n + 1);
        let number = required(e, &record, "ipra-number", "номер ИПРА")?;
        let snils = snils::validate(&person.snils).map_err(|err| {
            error(
                &record,
                err.code(),
                "СНИЛС",
                format!("СНИЛС «{}» неверен ({err})", person.snils),
            )
        })?;
        let status = required(e, &record, "status", "статус ИПРА")?;
        if !IPRA_STATUSES.contains(&status) {
            return Err(error(
                &record,
                "status-unknown",
                "status",
                format!("статус «{status}» неизвестен: ожидается {}", IPRA_STATUSES.join(", ")),
            ));
        }
        xml.open("Ipra", &[]);
        xml.leaf("Number", number);
        xml.leaf(
            "ProtocolNumber",
            required(e, &record, "protocol-number", "номер протокола")?,
        );
        let protocol_date = date(e, &record, "protocol-date")?.ok_or_else(|| {
            error(
                &record,
                "missing-field",
                "protocol-date",
                "не указана дата протокола".into(),
            )
        })?;
        xml.leaf("ProtocolDate", &protocol_date);
        xml.leaf_opt("DecisionDate", date(e, &record, "decision-date")?.as_deref());
        xml.leaf_opt("ValidUntil", date(e, &record, "valid-until")?.as_deref());
        xml.leaf(
            "DocumentId",
            required(e, &record, "ipra-document-id", "идентификатор документа ИПРА")?,
        );
        xml.leaf("Snils", &snils);
        xml.leaf("Status", status);
        xml.leaf_opt("SupersededBy", value(e, "superseded-by"));
        let count: usize = value(e, "measures").and_then(|n| n.parse().ok()).unwrap_or(0);
        let mut summary = Summary::default();
        let mut measures = Vec::with_capacity(count);
        for i in 1..=count {
            let at = |field: &str| format!("measure.{i}.{field}");
            let record = format!("{record}, мероприятие {i}");
            let status = required(e, &record, &at("status"), "состояние мероприятия")?;
            if !MEASURE_STATUSES.contains(&status) {
                return Err(error(
                    &record,
                    "status-unknown",
                    &at("status"),
                    format!(
                        "состояние «{status}» неизвестно: ожидается {}",
                        MEASURE_STATUSES.join(", ")
                    ),
                ));
            }
            let due = date(e, &record, &at("due-date"))?;
            summary.total += 1;
            match status {
                "open" => {
                    summary.open += 1;
                    if due.as_deref().is_some_and(|d| d < today.as_str()) {
                        summary.overdue += 1;
                    }
                }
                "executed" => summary.executed += 1,
                "not-executed" => summary.not_executed += 1,
                _ => summary.closed += 1,
            }
            measures.push(Measure {
                key: required(e, &record, &at("key"), "ключ мероприятия")?,
                section: required(e, &record, &at("section"), "раздел")?,
                code: value(e, &at("code")),
                name: required(e, &record, &at("name"), "наименование мероприятия")?,
                executor: value(e, &at("executor-ogrn")),
                due,
                status,
                executed_on: date(e, &record, &at("execution-date"))?,
                reasons: value(e, &at("reasons"))
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .collect(),
                closed_reason: value(e, &at("closed-reason")),
            });
        }
        let counts = [
            summary.total,
            summary.open,
            summary.executed,
            summary.not_executed,
            summary.closed,
            summary.overdue,
        ]
        .map(|n| n.to_string());
        xml.empty(
            "Summary",
            &[
                ("total", &counts[0]),
                ("open", &counts[1]),
                ("executed", &counts[2]),
                ("notExecuted", &counts[3]),
                ("closed", &counts[4]),
                ("overdue", &counts[5]),
            ],
        );
        for m in &measures {
            xml.open("Measure", &[("key", m.key), ("section", m.section)]);
            xml.leaf_opt("Code", m.code);
            xml.leaf("Name", m.name);
            xml.leaf_opt("Executor", m.executor);
            xml.leaf_opt("DueDate", m.due.as_deref());
            xml.leaf("Status", m.status);
            xml.leaf_opt("ExecutionDate", m.executed_on.as_deref());
            for reason in &m.reasons {
                xml.empty("Reason", &[("code", reason)]);
            }
            xml.leaf_opt("ClosedReason", m.closed_reason);
            xml.close("Measure");
        }
        xml.close("Ipra");
    }
    xml.close("IpraExecutionStatus");
    Ok(Document {
        name: format!("mse-status-{id}.xml"),
        media_type: "application/xml".into(),
        bytes: xml.finish().into_bytes(),
    })
}
