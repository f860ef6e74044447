//! Planning the ZAGS death check: one `FATALINFRequest` 4.0.1 per person, valid against
//! `zags-fatalinf-ru-root.xsd`, with identifiers derived from the date and the SNILS (no clock, no randomness).

use crate::date;
use crate::import::display_snils;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ExecuteOutput, FollowUp, Person, PlanInput, PluginError,
};
use ipra_plugin_sdk::xml::writer::escape_text;
use ipra_plugin_sdk::{snils, uuid};

/// Namespaces of the query service, version 4.0.1.
const ROOT_NS: &str = "urn://x-artefacts-zags-fatalinf/root/112-52/4.0.1";
const TYPES_NS: &str = "urn://x-artefacts-zags-fatalinf/types/4.0.1";

/// The plan step this connector knows.
pub const STEP: &str = "zags-check";
/// `follow-up.kind` of a planned request.
pub const FOLLOW_UP_KIND: &str = "zags-request";

/// What the region configures for its queries (host `config` keys in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestConfig {
    /// `КодНормОсн`, two characters of the ZAGS list СНПОСН (`legal-basis-code`, default `01`).
    pub legal_basis_code: String,
    /// `СведДокОсн`, the organisational document giving the right to ask (`legal-basis-document`); absent, the
    /// request says it has none (`ПрСведДокОсн`).
    pub legal_basis_document: Option<String>,
    /// `РегионРегАГС`, two digits, to narrow the search to one region (`region-code`); absent, all regions.
    pub region_code: Option<String>,
    /// The region's SMEV sender mnemonic (`sender-code`), passed on to the transport as a follow-up attribute.
    pub sender_code: Option<String>,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            legal_basis_code: "01".into(),
            legal_basis_document: None,
            region_code: None,
            sender_code: None,
        }
    }
}

fn config_error(key: &str, message: String) -> PluginError {
    PluginError {
        code: "config-invalid".into(),
        message,
        record: Some("Настройки коннектора ЗАГС".into()),
        field: Some(key.into()),
    }
}

impl RequestConfig {
    /// Checks the values against the schema before any request is written with them.
    pub fn validate(&self) -> Result<(), PluginError> {
        if self.legal_basis_code.chars().count() != 2 {
            return Err(config_error(
                "legal-basis-code",
                format!(
                    "Код нормативного основания запроса «{}» должен состоять из двух символов",
                    self.legal_basis_code
                ),
            ));
        }
        if let Some(document) = &self.legal_basis_document {
            if document.trim().is_empty() || document.chars().count() > 500 {
                return Err(config_error(
                    "legal-basis-document",
                    "Сведения о документе-основании запроса должны занимать от 1 до 500 символов".into(),
                ));
            }
        }
        if let Some(region) = &self.region_code {
            if region.len() != 2 || !region.bytes().all(|b| b.is_ascii_digit()) {
                return Err(config_error(
                    "region-code",
                    format!("Код региона «{region}» должен состоять из двух цифр"),
                ));
            }
        }
        Ok(())
    }
}

/// One planned query.
struct Planned {
    snils: String,
    request_id: String,
    document_id: String,
    title: String,
    document: Document,
}

fn full_name(person: &Person) -> String {
    [
        Some(person.surname.as_str()),
        Some(person.given_name.as_str()),
        person.patronymic.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

fn person_error(person: &Person, code: &str, field: &str, message: String) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        record: Some(format!("Гражданин {}", full_name(person))),
        field: Some(field.into()),
    }
}

/// `<fnst:name>value</fnst:name>`, or the "unknown" flag element when the value is blank.
fn name_element(out: &mut String, name: &str, value: Option<&str>) {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => out.push_str(&format!("<fnst:{name}>{}</fnst:{name}>", escape_text(v))),
        None => out.push_str(&format!("<fnst:Пр{name}>1</fnst:Пр{name}>")),
    }
}

fn birth_date_element(person: &Person) -> Result<String, PluginError> {
    let Some(raw) = person.birth_date.as_deref().map(str::trim).filter(|d| !d.is_empty()) else {
        return Ok("<ПрДатаРожд>1</ПрДатаРожд>".into());
    };
    if let Some(full) = date::calendar(raw) {
        return Ok(format!("<ДатаРождКаленд>{full}</ДатаРождКаленд>"));
    }
    // The register may know only the year or the month of birth, as ZAGS itself does.
    let mut parts = raw.split('-');
    let year = parts.next().unwrap_or_default();
    let month = parts.next();
    let partial = date::partial(year, month, None).map_err(|why| {
        person_error(
            person,
            "date-invalid",
            "ДатаРождения",
            format!(
                "Дата рождения «{raw}» гражданина {} не распознана: {why}",
                full_name(person)
            ),
        )
    })?;
    let month = match partial.split_once('-') {
        Some((_, m)) => format!("<fnst:Месяц>{}</fnst:Месяц>", m.trim_start_matches('0')),
        None => "<fnst:ПрМесяц>1</fnst:ПрМесяц>".into(),
    };
    Ok(format!(
        "<ДатаРождДок><fnst:ПрДень>1</fnst:ПрДень>{month}<fnst:Год>{}</fnst:Год></ДатаРождДок>",
        &partial[..4]
    ))
}

fn render(person: &Person, digits: &str, today: &str, config: &RequestConfig) -> Result<Planned, PluginError> {
    for (field, value) in [("Фамилия", &person.surname), ("Имя", &person.given_name)] {
        if value.trim().chars().count() > 60 {
            return Err(person_error(
                person,
                "field-too-long",
                field,
                format!("Поле «{field}» гражданина {} длиннее 60 символов", full_name(person)),
            ));
        }
    }
    if let Some(p) = &person.patronymic {
        if p.trim().chars().count() > 60 {
            return Err(person_error(
                person,
                "field-too-long",
                "Отчество",
                format!("Поле «Отчество» гражданина {} длиннее 60 символов", full_name(person)),
            ));
        }
    }
    let birth = birth_date_element(person)?;
    let compact_day = today.replace('-', "");
    let request_id = uuid::v5(&format!("urn:ipra:zags:fatalinf:{today}:{digits}"));
    let document_id = format!("{digits}-{compact_day}");

    let mut xml = String::with_capacity(1024);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<FATALINFRequest xmlns=\"{ROOT_NS}\" xmlns:fnst=\"{TYPES_NS}\" ИдЗапрос=\"{request_id}\" КолДок=\"1\" ТипАГС=\"07\">\n"
    ));
    xml.push_str(&format!(
        "  <СведОсн КодНормОсн=\"{}\">",
        escape_text(&config.legal_basis_code)
    ));
    match &config.legal_basis_document {
        Some(d) => xml.push_str(&format!("<СведДокОсн>{}</СведДокОсн>", escape_text(d.trim()))),
        None => xml.push_str("<ПрСведДокОсн>1</ПрСведДокОсн>"),
    }
    xml.push_str("</СведОсн>\n");
    xml.push_str(&format!("  <СведЗапрос ИдДок=\"{document_id}\">\n"));
    xml.push_str(&format!(
        "    <СведФЛ СНИЛС=\"{}\">\n      <ФИО>",
        display_snils(digits)
    ));
    name_element(&mut xml, "Фамилия", Some(&person.surname));
    name_element(&mut xml, "Имя", Some(&person.given_name));
    name_element(&mut xml, "Отчество", person.patronymic.as_deref());
    xml.push_str("</ФИО>\n      ");
    xml.push_str(&birth);
    xml.push_str("\n    </СведФЛ>\n    ");
    match &config.region_code {
        Some(region) => xml.push_str(&format!("<РегионРегАГС>{region}</РегионРегАГС>")),
        None => xml.push_str("<ПрРегионРегАГС>1</ПрРегионРегАГС>"),
    }
    xml.push_str("\n  </СведЗапрос>\n</FATALINFRequest>\n");

    Ok(Planned {
        snils: digits.to_string(),
        title: format!(
            "Запрос в ЕГР ЗАГС о смерти: {} (СНИЛС {})",
            full_name(person),
            display_snils(digits)
        ),
        document: Document {
            name: format!("zags-fatalinf-{request_id}.xml"),
            media_type: "application/xml".into(),
            bytes: xml.into_bytes(),
        },
        request_id,
        document_id,
    })
}

/// Every person's request, and the persons that cannot be asked about with the reason.
fn prepare(input: &PlanInput, config: &RequestConfig) -> Result<(Vec<Planned>, Vec<PluginError>), PluginError> {
    if input.step != STEP {
        return Err(PluginError {
            code: "unsupported-step".into(),
            message: format!(
                "Коннектор ЗАГС не выполняет шаг «{}» (известен шаг «{STEP}»)",
                input.step
            ),
            record: None,
            field: Some("step".into()),
        });
    }
    config.validate()?;
    let today = date::calendar(&input.today).ok_or_else(|| PluginError {
        code: "date-invalid".into(),
        message: format!("Текущая дата «{}» не распознана", input.today),
        record: None,
        field: Some("today".into()),
    })?;
    let mut planned: Vec<Planned> = Vec::new();
    let mut errors = Vec::new();
    for person in &input.persons {
        let digits = match snils::validate(&person.snils) {
            Ok(d) => d,
            Err(e) => {
                errors.push(person_error(
                    person,
                    e.code(),
                    "СНИЛС",
                    format!("СНИЛС «{}»: {e}", person.snils),
                ));
                continue;
            }
        };
        // The host may list a person twice (several IPRAs); one question is enough.
        if planned.iter().any(|p| p.snils == digits) {
            continue;
        }
        match render(person, &digits, &today, config) {
            Ok(p) => planned.push(p),
            Err(e) => errors.push(e),
        }
    }
    Ok((planned, errors))
}

/// `execute(plan)`: one follow-up `zags-request` per person with its request document; persons that cannot be
/// asked about are listed in `errors` and the others still go.
pub fn plan(input: &PlanInput, config: &RequestConfig) -> Result<ExecuteOutput, PluginError> {
    let (planned, errors) = prepare(input, config)?;
    let follow_ups = planned
        .into_iter()
        .map(|p| {
            let mut attributes = vec![
                Attribute {
                    code: "snils".into(),
                    value: p.snils,
                },
                Attribute {
                    code: "request-id".into(),
                    value: p.request_id,
                },
                Attribute {
                    code: "document-id".into(),
                    value: p.document_id,
                },
            ];
            if let Some(sender) = &config.sender_code {
                attributes.push(Attribute {
                    code: "sender-code".into(),
                    value: sender.clone(),
                });
            }
            FollowUp {
                kind: FOLLOW_UP_KIND.into(),
                title: p.title,
                due_date: None,
                attributes,
                document: Some(p.document),
            }
        })
        .collect();
    Ok(ExecuteOutput { errors, follow_ups })
}

/// `export(requests)`: the same documents as `plan`; here a person that cannot be asked about fails the call,
/// because a list of documents has no room for per-person errors.
pub fn requests(input: &PlanInput, config: &RequestConfig) -> Result<Vec<Document>, PluginError> {
    let (planned, mut errors) = prepare(input, config)?;
    if !errors.is_empty() {
        return Err(errors.swap_remove(0));
    }
    Ok(planned.into_iter().map(|p| p.document).collect())
}
