//! The TSR clarification request (порядок ФБ МСЭ для ИС МСЭ в ЕЦП; ПП РФ от 23.11.2022 № 2121, п. 4(1)): the authorised body asks the
//! MSE institution that issued the IPRA to bring the type, name or parameters of TSR items in line with the
//! list of indications. Written as `TsrClarificationRequest` 1.0 (`schemas/tsr-clarification-1.0.xsd`).
//!
//! The host's plan (`step` = [`STEP`]) carries the IPRA's person in `persons[0]` and the request in `extra`
//! (see the README, «Запрос на уточнение ТСР»): `request-id`, `ipra-number`, `ipra-document-id`,
//! `ipra-extract-id`, `protocol-number`, `protocol-date`, `decision-date`, `issued-by`, `is-child`,
//! `sender-ogrn`, `sender-name`, `received`, `due-date`, `consent`, `consent-by`, `consent-date`, `reason`,
//! `printed-form`, `items` and per item *i* (from 1) `item.<i>.key`, `item.<i>.code`, `item.<i>.name`,
//! `item.<i>.quantity`, `item.<i>.reason`.
//!
//! `RequestId` is UUID v5 of `urn:ipra:mse:tsr-clarification:<ipra-document-id>:<request-id>`: the same request
//! always gets the same id and file name `tsr-clarification-<RequestId>.xml`, by which ИС МСЭ's answer finds it.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, Document, PlanInput, PluginError};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::writer::XmlWriter;
use ipra_plugin_sdk::{ogrn, snils, uuid};

/// The plan step of a request.
pub const STEP: &str = "tsr-clarification";
/// Namespace of the request, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:mse:tsr-clarification:1.0";
/// The format version written.
pub const VERSION: &str = "1.0";

/// The request's identifier as written (`RequestId`).
pub fn request_id(document_id: &str, host_id: &str) -> String {
    uuid::v5(&format!("urn:ipra:mse:tsr-clarification:{document_id}:{host_id}"))
}

/// The file name of the request with this `RequestId`; an answer names its request this way.
pub fn file_name(request_id: &str) -> String {
    format!("tsr-clarification-{request_id}.xml")
}

fn value<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

/// Reads the plan's attributes with errors that name the request and the field.
struct Fields<'a> {
    extra: &'a [Attribute],
    record: String,
}

impl<'a> Fields<'a> {
    fn error(&self, code: &str, field: &str, message: String) -> PluginError {
        PluginError::new(code, message)
            .at_record(self.record.clone())
            .at_field(field)
    }

    fn optional(&self, code: &str) -> Option<&'a str> {
        value(self.extra, code)
    }

    fn required(&self, code: &str, label: &str) -> Result<&'a str, PluginError> {
        self.optional(code).ok_or_else(|| {
            self.error(
                "missing-field",
                code,
                format!("{}: не указано «{label}» ({code})", self.record),
            )
        })
    }

    fn date(&self, code: &str, label: &str) -> Result<Option<String>, PluginError> {
        match self.optional(code) {
            None => Ok(None),
            Some(text) => Date::parse(text).map(|d| Some(d.to_string())).map_err(|e| {
                self.error(
                    e.code(),
                    code,
                    format!("{}: «{label}» — дата «{text}» не распознана ({e})", self.record),
                )
            }),
        }
    }

    fn required_date(&self, code: &str, label: &str) -> Result<String, PluginError> {
        self.required(code, label)?;
        Ok(self.date(code, label)?.unwrap_or_default())
    }
}

/// One TSR item of the request.
struct Item<'a> {
    key: &'a str,
    code: Option<&'a str>,
    name: &'a str,
    quantity: Option<&'a str>,
    reason: &'a str,
}

/// Renders the request, or says which field of the plan does not hold.
pub fn render(plan: &PlanInput) -> Result<Document, PluginError> {
    let host_id = value(&plan.extra, "request-id").unwrap_or("?");
    let f = Fields {
        extra: &plan.extra,
        record: format!("Запрос на уточнение ТСР {host_id}"),
    };
    let host_id = f.required("request-id", "номер запроса")?;
    let person = plan.persons.first().ok_or_else(|| {
        f.error(
            "missing-field",
            "persons",
            format!("{}: не передан гражданин, о котором запрос", f.record),
        )
    })?;
    let snils = snils::validate(&person.snils).map_err(|e| {
        f.error(
            e.code(),
            "СНИЛС",
            format!("{}: СНИЛС «{}» неверен ({e})", f.record, person.snils),
        )
    })?;
    if person.surname.trim().is_empty() || person.given_name.trim().is_empty() {
        return Err(f.error(
            "missing-field",
            "ФИО",
            format!("{}: не указаны фамилия и имя гражданина", f.record),
        ));
    }
    let document_id = f.required("ipra-document-id", "идентификатор документа ИПРА")?;
    let number = f.required("ipra-number", "номер ИПРА")?;
    let protocol_number = f.required("protocol-number", "номер протокола МСЭ")?;
    let protocol_date = f.required_date("protocol-date", "дата протокола МСЭ")?;
    let decision_date = f.date("decision-date", "дата решения")?;
    let sender_ogrn = f.required("sender-ogrn", "ОГРН уполномоченного органа")?;
    if !ogrn::is_valid(sender_ogrn) {
        return Err(f.error(
            "ogrn-invalid",
            "sender-ogrn",
            format!("{}: ОГРН уполномоченного органа «{sender_ogrn}» неверен", f.record),
        ));
    }
    let sender_name = f.required("sender-name", "наименование уполномоченного органа")?;
    let received = f.required_date("received", "дата получения (представления) программы")?;
    let due = f.required_date("due-date", "срок направления запроса")?;
    // The request is never written without the citizen's (or representative's) consent.
    if f.optional("consent") != Some("true") {
        return Err(f.error(
            "consent-missing",
            "consent",
            format!(
                "{}: нет согласия гражданина (его представителя): без него запрос не направляется",
                f.record
            ),
        ));
    }
    let consent_by = match f.optional("consent-by").unwrap_or("citizen") {
        by @ ("citizen" | "representative") => by,
        other => {
            return Err(f.error(
                "consent-by-unknown",
                "consent-by",
                format!(
                    "{}: кто дал согласие — «{other}»: ожидается citizen или representative",
                    f.record
                ),
            ));
        }
    };
    let consent_date = f.date("consent-date", "дата согласия")?;
    let count: usize = f
        .required("items", "число позиций ТСР")?
        .parse()
        .ok()
        .filter(|n| (1..=100).contains(n))
        .ok_or_else(|| {
            f.error(
                "items-invalid",
                "items",
                format!("{}: число позиций ТСР должно быть от 1 до 100", f.record),
            )
        })?;
    let request_reason = f.optional("reason");
    let mut items = Vec::with_capacity(count);
    for i in 1..=count {
        let label = |what: &str| format!("позиция {i}: {what}");
        let key = f.required(&format!("item.{i}.key"), &label("мероприятие ИПРА"))?;
        let name = f.required(&format!("item.{i}.name"), &label("наименование ТСР"))?;
        let reason = f
            .optional(&format!("item.{i}.reason"))
            .or(request_reason)
            .ok_or_else(|| {
                f.error(
                    "missing-field",
                    &format!("item.{i}.reason"),
                    format!("{}: {}", f.record, label("что не соответствует показаниям")),
                )
            })?;
        items.push(Item {
            key,
            code: f.optional(&format!("item.{i}.code")),
            name,
            quantity: f.optional(&format!("item.{i}.quantity")),
            reason,
        });
    }

    let id = request_id(document_id, host_id);
    let mut xml = XmlWriter::new();
    xml.open("TsrClarificationRequest", &[("xmlns", NAMESPACE), ("version", VERSION)]);
    xml.leaf("RequestId", &id);
    xml.leaf("Created", plan.today.trim());
    xml.open("Sender", &[]);
    xml.leaf("Ogrn", sender_ogrn);
    xml.leaf("Name", sender_name);
    xml.close("Sender");
    // The structural unit where the MSE was held receives the request (порядок ФБ МСЭ для ИС МСЭ в ЕЦП).
    xml.leaf_opt("Addressee", f.optional("issued-by"));
    xml.open("Ipra", &[]);
    xml.leaf("Number", number);
    xml.leaf("ProtocolNumber", protocol_number);
    xml.leaf("ProtocolDate", &protocol_date);
    xml.leaf_opt("DecisionDate", decision_date.as_deref());
    xml.leaf("DocumentId", document_id);
    xml.leaf_opt("ExtractId", f.optional("ipra-extract-id"));
    xml.leaf(
        "Child",
        if f.optional("is-child") == Some("true") {
            "true"
        } else {
            "false"
        },
    );
    xml.close("Ipra");
    xml.open("Person", &[]);
    xml.leaf("Snils", &snils);
    xml.leaf("Surname", person.surname.trim());
    xml.leaf("GivenName", person.given_name.trim());
    xml.leaf_opt(
        "Patronymic",
        person.patronymic.as_deref().map(str::trim).filter(|p| !p.is_empty()),
    );
    xml.leaf_opt(
        "BirthDate",
        person
            .birth_date
            .as_deref()
            .and_then(|d| Date::parse(d).ok())
            .map(|d| d.to_string())
            .as_deref(),
    );
    xml.close("Person");
    xml.leaf("ProgrammeReceived", &received);
    xml.leaf("DueDate", &due);
    let mut consent = vec![("given", "true"), ("by", consent_by)];
    if let Some(date) = consent_date.as_deref() {
        consent.push(("date", date));
    }
    xml.empty("Consent", &consent);
    xml.leaf_opt("Reason", request_reason);
    xml.open("Items", &[]);
    for item in &items {
        xml.open("Item", &[("key", item.key)]);
        xml.leaf_opt("Code", item.code);
        xml.leaf("Name", item.name);
        xml.leaf_opt("Quantity", item.quantity);
        xml.leaf("Reason", item.reason);
        xml.close("Item");
    }
    xml.close("Items");
    // The printed form travels beside the request under the same name (порядок ФБ МСЭ для ИС МСЭ в ЕЦП: «Добавить PDF-файл запроса»).
    if f.optional("printed-form") == Some("true") {
        xml.leaf("PrintedForm", &file_name(&id).replace(".xml", ".pdf"));
    }
    xml.close("TsrClarificationRequest");
    Ok(Document {
        name: file_name(&id),
        media_type: "application/xml".into(),
        bytes: xml.finish().into_bytes(),
    })
}
