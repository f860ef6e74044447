//! Department plugin «Обеспечение ТСР»: claims the IPRA's TSR items, validates their execution, renders its report
//! section, and builds the TSR clarification request to the MSE institution (seed 001, ПП РФ № 2121, п. 4(1)).
//!
//! Claims, validation and the report section are the SDK's [`department`](ipra_plugin_sdk::department). What is
//! particular here: an execution entry whose `extra` has `action=tsr-clarification` is not an execution row but a
//! request to clarify that TSR item (type, name or parameters do not match the list of indications). Its attributes:
//! `consent=true|false` (the citizen's or representative's consent; required and must be `true`), `reason=…` (what
//! to clarify; required) and `received=YYYY-MM-DD` (when the IPRA data reached the authorised body; required). The
//! entry's `measure-key` names the TSR item and its `executor-ogrn` the authorised body sending the request.
//!
//! When every clarification entry is valid, `execute` returns one follow-up `kind = "tsr-clarification"` with
//! `due-date` = the `clarification-days`-th (config, 2 by default) working day after the earliest `received`, by
//! the host's `working-calendar` list (weekends are non-working unless listed as `workday`, listed `holiday`s are
//! non-working). Its attributes: `ipra-number`, `ipra-document-id`, `snils`, `sender-ogrn`, `received`,
//! `consent`, `items` (count), per item *i* (from 1) `item.<i>.key`, `item.<i>.code`, `item.<i>.name`,
//! `item.<i>.reason`; and `overdue=true` when the due date is already before today.
//!
//! # The request document `tsr-clarification-<IPRA document id>.xml` (namespace `urn:ipra:tsr-clarification:1.0`)
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <TsrClarificationRequest xmlns="urn:ipra:tsr-clarification:1.0" version="1.0">
//!   <Created>YYYY-MM-DD</Created>             <!-- today, as the host passed it -->
//!   <Sender><Ogrn>…</Ogrn><Name>…</Name></Sender>   <!-- the authorised body, from the directory -->
//!   <Ipra>
//!     <ExtractId>…</ExtractId> <DocumentId>…</DocumentId> <Number>…</Number>
//!     <ProtocolNumber>…</ProtocolNumber> <ProtocolDate>…</ProtocolDate>
//!     <DecisionDate>…</DecisionDate>?  <IssuedBy>…</IssuedBy>?   <!-- the MSE institution to address -->
//!   </Ipra>
//!   <Person>
//!     <Snils>…</Snils> <Surname>…</Surname> <GivenName>…</GivenName> <Patronymic>…</Patronymic>?
//!     <BirthDate>…</BirthDate>?
//!   </Person>
//!   <Received>YYYY-MM-DD</Received>  <DueDate>YYYY-MM-DD</DueDate>
//!   <Items>
//!     <Item key="measure key">
//!       <Code>classifier code, e.g. 7-02-01</Code>?  <Name>…</Name>  <Quantity>…</Quantity>?
//!       <Reason>what does not match the indications</Reason>
//!     </Item>
//!   </Items>
//!   <Consent given="true"/>          <!-- the request is never built without consent -->
//! </TsrClarificationRequest>
//! ```

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, ExecuteInput, ExecuteOutput, ExecutionEntry, ExecutionInput, ExportInput, FollowUp,
    ImportInput, ImportOutput, Measure, PluginError, PluginInfo,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::department::{
    add_working_days, attr, attribute, check_executor, entry_record, field, file_name_part, is_date, Department,
    HostLookups, Lookups, XmlWriter, WORKING_CALENDAR,
};

/// This department: section `tsr`.
pub const DEPARTMENT: Department = Department {
    id: "tsr",
    section: "tsr",
    label: "Обеспечение ТСР",
};

/// Namespace of the clarification request document.
pub const CLARIFICATION_NAMESPACE: &str = "urn:ipra:tsr-clarification:1.0";

/// The `action` attribute value that makes an entry a clarification request.
pub const CLARIFICATION_ACTION: &str = "tsr-clarification";

/// Config key: working days the request must be sent in.
pub const DAYS_KEY: &str = "clarification-days";

/// The legal term when the config does not set one (ПП РФ от 23.11.2022 № 2121, п. 4(1)).
const DEFAULT_DAYS: u32 = 2;

const CONSENT_FIELD: &str = "Согласие гражданина";
const REASON_FIELD: &str = "Причина уточнения";
const RECEIVED_FIELD: &str = "Дата получения ИПРА";

/// The plugin exported to the host.
pub struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        DEPARTMENT.describe(vec![ConfigKey {
            name: DAYS_KEY.to_string(),
            description: "Срок направления запроса на уточнение ТСР, рабочих дней со дня получения ИПРА".to_string(),
            required: false,
            default_value: Some(DEFAULT_DAYS.to_string()),
        }])
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        DEPARTMENT.import(input, &HostLookups)
    }

    fn execute(input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        execute(input, &HostLookups)
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        DEPARTMENT.export(input, &HostLookups)
    }
}

ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);

fn is_clarification(entry: &ExecutionEntry) -> bool {
    attribute(&entry.extra, "action").map(str::trim) == Some(CLARIFICATION_ACTION)
}

/// Hook `execute`: ordinary rows are validated by the department; clarification rows become the request.
pub fn execute(input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
    let ExecuteInput::Execution(execution) = input else {
        return DEPARTMENT.execute(input, lookups);
    };
    let mut errors = DEPARTMENT.validate_where(&execution, lookups, &|e| !is_clarification(e));
    let (request, request_errors) = clarification(&execution, lookups);
    errors.extend(request_errors);
    let follow_ups = match request {
        Some(request) if errors.is_empty() => vec![request],
        _ => Vec::new(),
    };
    Ok(ExecuteOutput { errors, follow_ups })
}

/// One valid clarification row: the TSR item and why it must be clarified.
struct Item<'a> {
    measure: &'a Measure,
    reason: String,
}

/// Checks the clarification rows of an execution and builds the request from them. Returns no request when
/// there are no such rows or any of them is invalid (then the errors say why).
pub fn clarification(execution: &ExecutionInput, lookups: &dyn Lookups) -> (Option<FollowUp>, Vec<PluginError>) {
    let ipra = &execution.ipra;
    let mut errors = Vec::new();
    let mut items = Vec::new();
    let mut sender = None;
    let mut received: Option<String> = None;
    for (index, entry) in execution.entries.iter().enumerate() {
        if !is_clarification(entry) {
            continue;
        }
        let record = entry_record(index + 1, entry);
        let mut error = |code: &str, field: &str, message: String| {
            errors.push(PluginError {
                code: code.to_string(),
                message,
                record: Some(record.clone()),
                field: Some(field.to_string()),
            })
        };
        if entry.section != DEPARTMENT.section {
            error(
                "section-mismatch",
                field::SECTION,
                format!(
                    "Запрос на уточнение ТСР относится только к разделу «{}», а не к разделу «{}»",
                    DEPARTMENT.label, entry.section
                ),
            );
            continue;
        }
        match attribute(&entry.extra, "consent").map(str::trim) {
            Some("true") => {}
            Some("false") => error(
                "consent-refused",
                CONSENT_FIELD,
                "Гражданин (его представитель) не дал согласия: без согласия запрос на уточнение ТСР не направляется".to_string(),
            ),
            None | Some("") => error(
                "consent-missing",
                CONSENT_FIELD,
                "Отметьте согласие гражданина или его представителя на запрос уточнения ТСР: без него запрос не направляется".to_string(),
            ),
            Some(other) => error(
                "consent-format",
                CONSENT_FIELD,
                format!("Согласие «{other}» не распознано: ожидается true или false"),
            ),
        }
        let reason = attribute(&entry.extra, "reason").map(str::trim).unwrap_or_default();
        if reason.is_empty() {
            error(
                "missing-field",
                REASON_FIELD,
                "Укажите, что в виде, наименовании или параметрах ТСР не соответствует показаниям".to_string(),
            );
        }
        match attribute(&entry.extra, "received").map(str::trim) {
            None | Some("") => error(
                "missing-field",
                RECEIVED_FIELD,
                "Укажите дату получения сведений ИПРА: от неё считается срок запроса".to_string(),
            ),
            Some(date) if !is_date(date) => error(
                "date-format",
                RECEIVED_FIELD,
                format!("Дата «{date}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
            ),
            Some(date) if is_date(&execution.today) && date > execution.today.trim() => error(
                "date-in-future",
                RECEIVED_FIELD,
                format!("Дата получения {date} позже сегодняшней ({})", execution.today.trim()),
            ),
            Some(date) => {
                // ISO dates compare as text; the term runs from the earliest receipt.
                if received.as_deref().is_none_or(|r| date < r) {
                    received = Some(date.to_string());
                }
            }
        }
        match check_executor(&entry.executor_ogrn, lookups) {
            Ok(org) => {
                let name = entry
                    .executor_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or(org.name);
                sender.get_or_insert((org.ogrn, name));
            }
            Err(e) => error(&e.code, field::EXECUTOR_OGRN, e.message),
        }
        let measure = match entry.measure_key.as_deref() {
            None => {
                error(
                    "missing-field",
                    field::MEASURE,
                    "Выберите ТСР из ИПРА, которое нужно уточнить".to_string(),
                );
                None
            }
            Some(key) => {
                let found = DEPARTMENT.measures(ipra).find(|m| m.key == key);
                if found.is_none() {
                    error(
                        "measure-unknown",
                        field::MEASURE,
                        format!("В ИПРА № {} нет ТСР «{key}»", ipra.number),
                    );
                }
                found
            }
        };
        if let Some(measure) = measure {
            items.push(Item {
                measure,
                reason: reason.to_string(),
            });
        }
    }
    if !errors.is_empty() || items.is_empty() {
        return (None, errors);
    }
    let (Some((sender_ogrn, sender_name)), Some(received)) = (sender, received) else {
        return (None, errors);
    };
    let days = lookups
        .config(DAYS_KEY)
        .and_then(|d| d.trim().parse().ok())
        .unwrap_or(DEFAULT_DAYS);
    let calendar = lookups.reference_list(WORKING_CALENDAR);
    let Some(due) = add_working_days(&received, days, &calendar) else {
        return (None, errors);
    };
    let today = execution.today.trim();

    let person = &ipra.person;
    let mut attributes = vec![
        attr("ipra-number", &ipra.number),
        attr("ipra-document-id", &ipra.document_id),
        attr("snils", &person.snils),
        attr("sender-ogrn", &sender_ogrn),
        attr("received", &received),
        attr("consent", "true"),
        attr("items", &items.len().to_string()),
    ];
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("item.{}", i + 1);
        attributes.push(attr(&format!("{prefix}.key"), &item.measure.key));
        if let Some(code) = item.measure.code.as_deref() {
            attributes.push(attr(&format!("{prefix}.code"), code));
        }
        attributes.push(attr(&format!("{prefix}.name"), &item.measure.name));
        attributes.push(attr(&format!("{prefix}.reason"), &item.reason));
    }
    if is_date(today) && due.as_str() < today {
        attributes.push(attr("overdue", "true"));
    }

    let mut xml = XmlWriter::new();
    xml.open(
        "TsrClarificationRequest",
        &[("xmlns", CLARIFICATION_NAMESPACE), ("version", "1.0")],
    );
    xml.leaf("Created", today);
    xml.open("Sender", &[]);
    xml.leaf("Ogrn", &sender_ogrn);
    xml.leaf_opt("Name", Some(&sender_name));
    xml.close("Sender");
    xml.open("Ipra", &[]);
    xml.leaf("ExtractId", &ipra.extract_id);
    xml.leaf("DocumentId", &ipra.document_id);
    xml.leaf("Number", &ipra.number);
    xml.leaf("ProtocolNumber", &ipra.protocol_number);
    xml.leaf("ProtocolDate", &ipra.protocol_date);
    xml.leaf_opt("DecisionDate", ipra.decision_date.as_deref());
    xml.leaf_opt("IssuedBy", ipra.issued_by.as_deref());
    xml.close("Ipra");
    xml.open("Person", &[]);
    xml.leaf("Snils", &person.snils);
    xml.leaf("Surname", &person.surname);
    xml.leaf("GivenName", &person.given_name);
    xml.leaf_opt("Patronymic", person.patronymic.as_deref());
    xml.leaf_opt("BirthDate", person.birth_date.as_deref());
    xml.close("Person");
    xml.leaf("Received", &received);
    xml.leaf("DueDate", &due);
    xml.open("Items", &[]);
    for item in &items {
        xml.open("Item", &[("key", &item.measure.key)]);
        xml.leaf_opt("Code", item.measure.code.as_deref());
        xml.leaf("Name", &item.measure.name);
        xml.leaf_opt("Quantity", item.measure.quantity.as_deref());
        xml.leaf("Reason", &item.reason);
        xml.close("Item");
    }
    xml.close("Items");
    xml.empty("Consent", &[("given", "true")]);
    xml.close("TsrClarificationRequest");

    let request = FollowUp {
        kind: CLARIFICATION_ACTION.to_string(),
        title: format!(
            "Запрос на уточнение ТСР по ИПРА № {} (позиций: {}), направить до {due}",
            ipra.number,
            items.len()
        ),
        due_date: Some(due),
        attributes,
        document: Some(Document {
            name: format!("tsr-clarification-{}.xml", file_name_part(&ipra.document_id)),
            media_type: "application/xml".to_string(),
            bytes: xml.finish().into_bytes(),
        }),
    };
    (Some(request), errors)
}
