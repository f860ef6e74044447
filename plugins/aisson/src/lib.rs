//! АИС СОН connector (автоматизированная информационная система социального обслуживания): the region's exchange
//! with the social-service system (ИС «Исполнение ИПРА»: «Формирование ИППСУ на основе данных ИПРА», the execution
//! results returned, the register of social-service recipients under 442-ФЗ).
//!
//! No public schema of these exchanges exists, so the connector defines four open, versioned XML formats, each with
//! its XSD in `schemas/` and described in `README.md`; a region whose АИС СОН expects another layout changes this
//! plugin, not the host.
//!
//! # Export (`export(requests)`)
//!
//! The host hands a plan (`plan-input`) whose `step` says what to write:
//!
//! - `ippsu` ([`ippsu`]): one IPPSU draft for АИС СОН, created or corrected — `ippsu-<message-id>.xml`, namespace
//!   `urn:ipra:aisson:ippsu:1.0` (`schemas/ippsu-1.0.xsd`);
//! - `recipients` ([`recipients`]): a package of the register of social-service recipients —
//!   `recipients-<package>.xml`, namespace `urn:ipra:aisson:recipients:1.0` (`schemas/recipients-1.0.xsd`).
//!
//! # Import (`import(document)`)
//!
//! - the services АИС СОН reports back ([`services`]), namespace `urn:ipra:aisson:services:1.0`
//!   (`schemas/services-1.0.xsd`): each `Recipient` becomes one `prior-report` whose entries are the services
//!   (the social-protection measures of the IPRA by their key), or a record error naming the recipient and field;
//! - АИС СОН's answers on the IPPSU drafts sent ([`answer`]), namespace `urn:ipra:aisson:ippsu-answer:1.0`
//!   (`schemas/ippsu-answer-1.0.xsd`): each `Answer` becomes one `receipt` naming the draft's document.
//!
//! A document that is not XML, has a DOCTYPE or an unknown entity, is of another version or lacks its header is
//! refused as a whole with a Russian reason naming the file; the host keeps it in quarantine. A document of another
//! namespace is refused with `not-supported`.
//!
//! Configuration (host `config`): `results` — what the services reported back become in the register, `draft`
//! (the executor confirms) or `ready`; the host reads it, the plugin only declares it.

pub mod answer;
pub mod ippsu;
pub mod recipients;
pub mod services;

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, ConfigKey, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, Person,
    PlanInput, PluginError, PluginInfo, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::snils;
use ipra_plugin_sdk::xml::writer::XmlWriter;
use ipra_plugin_sdk::xml::{self, Tag, XmlError, XmlReader};

/// Document types this connector writes or reads (root element and format version).
pub const DOCUMENT_TYPES: [&str; 4] = [
    "IppsuRequest-1.0",
    "RecipientRegister-1.0",
    "ServicesReport-1.0",
    "IppsuAnswer-1.0",
];

/// The one format version written and read.
pub const VERSION: &str = "1.0";

/// The largest incoming document read (a services report of a whole region's month stays far below it).
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// Config key: what the services reported back become (`draft` or `ready`).
pub const RESULTS_KEY: &str = "results";

/// What `describe` returns.
pub fn info() -> PluginInfo {
    PluginInfo {
        id: "aisson".into(),
        name: "Коннектор АИС СОН (ИППСУ, оказанные социальные услуги, регистр получателей)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: PluginKind::Connector,
        sections: Vec::new(),
        document_types: DOCUMENT_TYPES.iter().map(|t| t.to_string()).collect(),
        hooks: vec![Hook::Import, Hook::Export],
        config_keys: vec![ConfigKey {
            name: RESULTS_KEY.into(),
            description: "Чем становятся сведения АИС СОН об оказанных услугах: draft — черновики записей об исполнении (исполнитель подтверждает), ready — готовые к отчёту записи".into(),
            required: false,
            default_value: Some("draft".into()),
        }],
        lookups: Vec::new(),
    }
}

fn not_supported(what: &str) -> PluginError {
    PluginError::new("not-supported", format!("Коннектор АИС СОН не обрабатывает {what}"))
}

/// Where in the namespace family of a format a document's root lies: `urn:ipra:aisson:<format>:<version>`.
const NAMESPACE_STEM: &str = "urn:ipra:aisson:";

/// `import`: reads one document АИС СОН sent back.
pub fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
    match input {
        ImportInput::Document(document) => import_document(&document),
        ImportInput::Ipra(_) => Err(not_supported("ИПРА: это коннектор, а не ведомство")),
    }
}

/// A whole-document refusal naming the file.
pub(crate) fn refuse(file: &str, code: &str, field: &str, message: impl std::fmt::Display) -> PluginError {
    PluginError::new(code, format!("Файл «{file}»: {message}"))
        .at_record(format!("Файл «{file}»"))
        .at_field(field)
}

/// An XML error of the file as a whole-document refusal.
pub(crate) fn xml_refusal(file: &str) -> impl Fn(XmlError) -> PluginError + '_ {
    move |e| refuse(file, e.code(), "XML", e)
}

/// Reads one incoming document: its root decides the format; the body is streamed, never held as a tree.
pub fn import_document(document: &Document) -> Result<ImportOutput, PluginError> {
    let file = document.name.as_str();
    if document.bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(refuse(
            file,
            "document-too-large",
            "XML",
            format!(
                "документ больше {} МБ: АИС СОН должна делить сведения на пакеты",
                MAX_DOCUMENT_BYTES / 1024 / 1024
            ),
        ));
    }
    let text = xml::decode_incoming(&document.bytes, &document.media_type).map_err(xml_refusal(file))?;
    let mut reader = XmlReader::new(&text);
    let (root, empty) = match reader.next_tag().map_err(xml_refusal(file))? {
        Tag::Open(root) => (root, false),
        Tag::Empty(root) => (root, true),
        Tag::Close | Tag::Eof => {
            return Err(refuse(
                file,
                "xml-malformed",
                "XML",
                "документ не содержит корневого элемента",
            ));
        }
    };
    let namespace = reader
        .own_namespace(&root)
        .map_err(xml_refusal(file))?
        .map(|n| n.trim().to_string())
        .unwrap_or_default();
    let (format, ns_version) = namespace
        .strip_prefix(NAMESPACE_STEM)
        .and_then(|rest| rest.rsplit_once(':'))
        .filter(|(format, _)| [services::FORMAT, answer::FORMAT].contains(format))
        .ok_or_else(|| {
            PluginError::new(
                "not-supported",
                format!(
                    "Файл «{file}»: корневой элемент <{}>{} — это не сведения АИС СОН об оказанных услугах ({}) и не ответ АИС СОН на проект ИППСУ ({}); коннектор АИС СОН такой документ не обрабатывает",
                    root.local_name(),
                    if namespace.is_empty() {
                        " без пространства имён".to_string()
                    } else {
                        format!(" в пространстве имён {namespace}")
                    },
                    services::NAMESPACE,
                    answer::NAMESPACE,
                ),
            )
            .at_record(format!("Файл «{file}»"))
            .at_field("xmlns")
        })?;
    let (expected_root, expected_namespace) = if format == services::FORMAT {
        (services::ROOT, services::NAMESPACE)
    } else {
        (answer::ROOT, answer::NAMESPACE)
    };
    if root.local_name() != expected_root {
        return Err(refuse(
            file,
            "wrong-root",
            "XML",
            format!(
                "корневой элемент <{}> в пространстве имён {namespace}: ожидается {expected_root}",
                root.local_name()
            ),
        ));
    }
    let version = reader.attribute(&root, "version").map_err(xml_refusal(file))?;
    let version = version.as_deref().map(str::trim);
    for (found, field) in [(Some(ns_version), "xmlns"), (version, "version")] {
        match found {
            Some(VERSION) => {}
            Some(other) => {
                return Err(refuse(
                    file,
                    "version-unsupported",
                    field,
                    format!(
                        "версия формата {expected_root} «{other}» не поддерживается: коннектор читает версию {VERSION} ({expected_namespace}). Документ не загружен, ничего не изменено"
                    ),
                ));
            }
            None => {
                return Err(refuse(
                    file,
                    "missing-field",
                    "version",
                    format!("у корневого элемента {expected_root} нет атрибута version"),
                ));
            }
        }
    }
    if format == services::FORMAT {
        services::read(file, &mut reader, empty)
    } else {
        answer::read(file, &mut reader, empty)
    }
}

/// `export` of a plan.
pub fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
    match input {
        ExportInput::Requests(plan) => match plan.step.as_str() {
            ippsu::STEP => ippsu::render(&plan).map(|d| vec![d]),
            recipients::STEP => recipients::render(&plan).map(|d| vec![d]),
            other => Err(PluginError::new(
                "step-unknown",
                format!(
                    "Шаг «{other}» коннектору АИС СОН неизвестен: он пишет «{}» (проект ИППСУ) и «{}» (регистр получателей социальных услуг)",
                    ippsu::STEP,
                    recipients::STEP
                ),
            )
            .at_field("step")),
        },
        _ => Err(not_supported(
            "отчёты и факты назначения: он пишет проекты ИППСУ и регистр получателей социальных услуг",
        )),
    }
}

/// The plugin exported to the host.
pub struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        info()
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        import(input)
    }

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        // Nothing to plan: the host chooses what to send (IPPSU drafts raised or changed, new recipients).
        Err(not_supported("планирование шагов: что отправить, выбирает сервер"))
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        export(input)
    }
}

// Exported only in the component: natively several plugins may link into one binary.
#[cfg(target_arch = "wasm32")]
ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);

// ---- helpers shared by the writers ----

/// A plan attribute's value, trimmed; `None` when absent or blank.
pub(crate) fn value<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

/// Reads a plan's (or a person's) attributes with errors that name the record and the field.
pub(crate) struct Fields<'a> {
    pub extra: &'a [Attribute],
    pub record: String,
}

impl<'a> Fields<'a> {
    pub fn error(&self, code: &str, field: &str, message: impl std::fmt::Display) -> PluginError {
        PluginError::new(code, format!("{}: {message}", self.record))
            .at_record(self.record.clone())
            .at_field(field)
    }

    pub fn optional(&self, code: &str) -> Option<&'a str> {
        value(self.extra, code)
    }

    pub fn required(&self, code: &str, label: &str) -> Result<&'a str, PluginError> {
        self.optional(code)
            .ok_or_else(|| self.error("missing-field", code, format!("не указано «{label}» ({code})")))
    }

    /// An optional date, written back as `YYYY-MM-DD`.
    pub fn date(&self, code: &str, label: &str) -> Result<Option<String>, PluginError> {
        self.optional(code)
            .map(|text| self.parse_date(code, label, text))
            .transpose()
    }

    pub fn parse_date(&self, field: &str, label: &str, text: &str) -> Result<String, PluginError> {
        Date::parse(text).map(|d| d.to_string()).map_err(|e| {
            self.error(
                e.code(),
                field,
                format!("«{label}» — дата «{text}» не распознана ({e})"),
            )
        })
    }

    /// A person's SNILS, checked, as 11 digits.
    pub fn snils(&self, raw: &str) -> Result<String, PluginError> {
        snils::validate(raw).map_err(|e| self.error(e.code(), "snils", format!("СНИЛС «{}» неверен ({e})", raw.trim())))
    }
}

/// Longest text written into an element or attribute (the schemas' `Text`).
pub const MAX_TEXT: usize = 4000;

/// Refuses a plan whose texts would not fit the schemas: each attribute of the plan and of its persons, and the
/// persons' names and address, at most [`MAX_TEXT`] characters.
pub(crate) fn check_lengths(plan: &PlanInput, record: &str) -> Result<(), PluginError> {
    let too_long = |field: &str, what: String| {
        PluginError::new("text-too-long", format!("{record}: {what} длиннее {MAX_TEXT} знаков"))
            .at_record(record)
            .at_field(field)
    };
    for a in plan
        .extra
        .iter()
        .chain(plan.persons.iter().flat_map(|p| p.extra.iter()))
    {
        if a.value.chars().count() > MAX_TEXT {
            return Err(too_long(&a.code, format!("значение «{}»", a.code)));
        }
    }
    for (n, p) in plan.persons.iter().enumerate() {
        for (field, text) in [
            ("surname", Some(&p.surname)),
            ("given-name", Some(&p.given_name)),
            ("patronymic", p.patronymic.as_ref()),
            ("territory-code", p.territory_code.as_ref()),
            ("address", p.address.as_ref()),
        ] {
            if text.is_some_and(|t| t.chars().count() > MAX_TEXT) {
                return Err(too_long(field, format!("у получателя {}: «{field}»", n + 1)));
            }
        }
    }
    Ok(())
}

/// Whether a text may stand in a file name the host writes: letters, digits, `.`, `_`, `-`, at most 100 of them,
/// not starting with a dot.
pub(crate) fn is_file_name_part(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 100
        && !text.starts_with('.')
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `NNN-NNN-NNN NN` as people read a SNILS, or the text as given (cut short) when it is not one.
pub(crate) fn display_snils(raw: &str) -> String {
    snils::format(raw).unwrap_or_else(|_| raw.trim().chars().take(20).collect())
}

/// A recipient of social services as the documents write it (`Recipient` of the IPPSU and of the register), its
/// fields checked: a valid SNILS, a surname and a given name, a real birth date, a gender of `M` or `F`.
pub(crate) struct Recipient<'a> {
    person: &'a Person,
    snils: String,
    surname: &'a str,
    given_name: &'a str,
    birth_date: Option<String>,
    gender: Option<&'a str>,
}

/// An optional text of a person, trimmed; `None` when absent or blank.
fn trimmed(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

impl<'a> Recipient<'a> {
    /// Checks a plan's person; errors name `f`'s record and the field.
    pub fn read(f: &Fields, person: &'a Person) -> Result<Recipient<'a>, PluginError> {
        let snils = f.snils(&person.snils)?;
        let surname = person.surname.trim();
        let given_name = person.given_name.trim();
        if surname.is_empty() || given_name.is_empty() {
            return Err(f.error(
                "missing-field",
                "surname",
                format!("не указаны фамилия и имя получателя (СНИЛС {})", display_snils(&snils)),
            ));
        }
        let birth_date = trimmed(&person.birth_date)
            .map(|d| f.parse_date("birth-date", "дата рождения", d))
            .transpose()?;
        let gender = trimmed(&person.gender);
        if let Some(g) = gender.filter(|g| !matches!(*g, "M" | "F")) {
            return Err(f.error(
                "gender-unknown",
                "gender",
                format!("пол «{g}» неизвестен: ожидается M или F"),
            ));
        }
        Ok(Recipient {
            person,
            snils,
            surname,
            given_name,
            birth_date,
            gender,
        })
    }

    /// Writes the `Recipient` element, `more` writing what a document adds after the address.
    pub fn write(&self, xml: &mut XmlWriter, more: impl FnOnce(&mut XmlWriter)) {
        xml.open("Recipient", &[]);
        xml.leaf("Snils", &self.snils);
        xml.leaf("Surname", self.surname);
        xml.leaf("GivenName", self.given_name);
        xml.leaf_opt("Patronymic", trimmed(&self.person.patronymic));
        xml.leaf_opt("BirthDate", self.birth_date.as_deref());
        xml.leaf_opt("Gender", self.gender);
        xml.leaf_opt("TerritoryCode", trimmed(&self.person.territory_code));
        xml.leaf_opt("Address", trimmed(&self.person.address));
        more(xml);
        xml.close("Recipient");
    }
}

#[cfg(test)]
mod tests;
