//! The social services АИС СОН reports back (provided, refused, not provided): `ServicesReport` 1.0
//! (`schemas/services-1.0.xsd`), read as a stream, one recipient at a time.
//!
//! ```xml
//! <ServicesReport xmlns="urn:ipra:aisson:services:1.0" version="1.0">
//!   <PackageId>…</PackageId>  <Date>YYYY-MM-DD</Date>  <Body>…</Body>?     <!-- the header -->
//!   <Recipient>                                                             <!-- one or more -->
//!     <Snils>…</Snils>  <IpraDocumentId>…</IpraDocumentId>  <IppsuNumber>…</IppsuNumber>?
//!     <Service key="IPRA measure key">                                      <!-- one or more -->
//!       <Name>…</Name> <Code>…</Code>? <Result>provided|refused|not-provided</Result>
//!       <DateFrom>…</DateFrom>? <DateTo>…</DateTo>? <ProviderOgrn>…</ProviderOgrn> <ProviderName>…</ProviderName>?
//!       <Reason>…</Reason>?                                                 <!-- required unless provided -->
//!     </Service>
//!   </Recipient>
//! </ServicesReport>
//! ```
//!
//! Each `Recipient` becomes one `prior-report`: `document-id` = `<PackageId>/<n>` (*n* the recipient's position from
//! 1), `document-version` = `1.0`, `parent-document-id` = `IpraDocumentId`, `number` = `IppsuNumber`, `date` = the
//! header's `Date`, `source` = «АИС СОН» (or «АИС СОН: <Body>»), and one `measure` per service: `key`, section
//! `social-protection`, `code`, `name`, `executor-ogrn` = `ProviderOgrn`, `executor-name` = `ProviderName`,
//! `date-from`, `date-to`, `extra` = `result` and `reason`.
//!
//! A recipient that does not hold (a SNILS with a bad checksum, an impossible date, `DateTo` before `DateFrom`, a
//! date after the report's, a bad OGRN, an unknown `Result`, no `Reason` for a refusal, a service without its key)
//! is one record error naming `Recipient[n]` with the SNILS and the element; the rest of the document goes on, and
//! the host keeps the refused recipient for a person to look at. A document that is not XML, of another version, or
//! without `PackageId` or `Date` is refused as a whole.

use crate::{display_snils, refuse, xml_refusal, MAX_TEXT};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, ImportOutput, Measure, Normalized, PluginError, PriorReport, RecordOutcome,
};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::{self, Tag, XmlReader};
use ipra_plugin_sdk::{ogrn, snils};

/// The format's name in its namespace.
pub const FORMAT: &str = "services";
/// Root element.
pub const ROOT: &str = "ServicesReport";
/// Namespace of the report, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:aisson:services:1.0";
/// The section of the IPRA whose measures the services execute.
pub const SECTION: &str = "social-protection";
/// What a service's `Result` may be, and how a person reads it.
pub const RESULTS: [(&str, &str); 3] = [
    ("provided", "услуга оказана"),
    ("refused", "получатель отказался от услуги"),
    ("not-provided", "услуга не оказана"),
];
/// Recipients one document holds at most.
pub const MAX_RECIPIENTS: usize = 100_000;
/// Services one recipient holds at most.
pub const MAX_SERVICES: usize = 500;

/// The header of the report.
#[derive(Default)]
struct Header {
    package_id: Option<String>,
    date: Option<String>,
    body: Option<String>,
}

/// One `Service` as written.
#[derive(Default)]
struct RawService {
    key: Option<String>,
    name: Option<String>,
    code: Option<String>,
    result: Option<String>,
    date_from: Option<String>,
    date_to: Option<String>,
    provider_ogrn: Option<String>,
    provider_name: Option<String>,
    reason: Option<String>,
}

/// One `Recipient` as written.
#[derive(Default)]
struct RawRecipient {
    snils: Option<String>,
    ipra_document_id: Option<String>,
    ippsu_number: Option<String>,
    services: Vec<RawService>,
}

/// The trimmed text of the leaf just opened, `None` when blank.
fn leaf(reader: &mut XmlReader, file: &str) -> Result<Option<String>, PluginError> {
    let text = reader.read_text().map_err(xml_refusal(file))?;
    let text = xml::trim(&text);
    Ok((!text.is_empty()).then(|| text.to_string()))
}

fn read_service(reader: &mut XmlReader, file: &str, key: Option<String>) -> Result<RawService, PluginError> {
    let mut service = RawService {
        key,
        ..RawService::default()
    };
    loop {
        match reader.next_tag().map_err(xml_refusal(file))? {
            Tag::Open(child) => {
                let slot = match child.local_name() {
                    "Name" => &mut service.name,
                    "Code" => &mut service.code,
                    "Result" => &mut service.result,
                    "DateFrom" => &mut service.date_from,
                    "DateTo" => &mut service.date_to,
                    "ProviderOgrn" => &mut service.provider_ogrn,
                    "ProviderName" => &mut service.provider_name,
                    "Reason" => &mut service.reason,
                    _ => {
                        reader.skip().map_err(xml_refusal(file))?;
                        continue;
                    }
                };
                *slot = leaf(reader, file)?;
            }
            Tag::Empty(_) => {}
            Tag::Close | Tag::Eof => return Ok(service),
        }
    }
}

fn read_recipient(reader: &mut XmlReader, file: &str) -> Result<RawRecipient, PluginError> {
    let mut recipient = RawRecipient::default();
    loop {
        match reader.next_tag().map_err(xml_refusal(file))? {
            Tag::Open(child) => match child.local_name() {
                "Snils" => recipient.snils = leaf(reader, file)?,
                "IpraDocumentId" => recipient.ipra_document_id = leaf(reader, file)?,
                "IppsuNumber" => recipient.ippsu_number = leaf(reader, file)?,
                "Service" => {
                    let key = reader.attribute(&child, "key").map_err(xml_refusal(file))?;
                    let key = key
                        .as_deref()
                        .map(xml::trim)
                        .filter(|k| !k.is_empty())
                        .map(str::to_string);
                    let service = read_service(reader, file, key)?;
                    if recipient.services.len() <= MAX_SERVICES {
                        recipient.services.push(service);
                    }
                }
                _ => reader.skip().map_err(xml_refusal(file))?,
            },
            Tag::Empty(child) if child.local_name() == "Service" => {
                let key = reader.attribute(&child, "key").map_err(xml_refusal(file))?;
                let key = key
                    .as_deref()
                    .map(xml::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_string);
                if recipient.services.len() <= MAX_SERVICES {
                    recipient.services.push(RawService {
                        key,
                        ..RawService::default()
                    });
                }
            }
            Tag::Empty(_) => {}
            Tag::Close | Tag::Eof => return Ok(recipient),
        }
    }
}

/// Reads the body of a report whose root (namespace and version checked) was just opened.
pub fn read(file: &str, reader: &mut XmlReader, empty_root: bool) -> Result<ImportOutput, PluginError> {
    let mut header = Header::default();
    let mut records = Vec::new();
    // The header, checked once before the first recipient: package id and the report's date.
    let mut checked: Option<(String, Date, String)> = None;
    if !empty_root {
        loop {
            match reader.next_tag().map_err(xml_refusal(file))? {
                Tag::Open(child) => match child.local_name() {
                    name @ ("PackageId" | "Date" | "Body") => {
                        if checked.is_some() {
                            return Err(refuse(
                                file,
                                "header-misplaced",
                                name,
                                format!("элемент {name} после сведений о получателях: заголовок пакета (PackageId, Date, Body) должен идти первым"),
                            ));
                        }
                        let value = leaf(reader, file)?;
                        match name {
                            "PackageId" => header.package_id = value,
                            "Date" => header.date = value,
                            _ => header.body = value,
                        }
                    }
                    "Recipient" => {
                        let (package, date, source) = match &checked {
                            Some(c) => c,
                            None => checked.insert(check_header(file, &header)?),
                        };
                        let raw = read_recipient(reader, file)?;
                        if records.len() >= MAX_RECIPIENTS {
                            return Err(refuse(
                                file,
                                "document-too-large",
                                "Recipient",
                                format!("в пакете больше {MAX_RECIPIENTS} получателей: АИС СОН должна делить сведения на пакеты"),
                            ));
                        }
                        let n = records.len() + 1;
                        records.push(recipient_record(n, raw, package, *date, source));
                    }
                    _ => reader.skip().map_err(xml_refusal(file))?,
                },
                Tag::Empty(child) if child.local_name() == "Recipient" => {
                    let (package, date, source) = match &checked {
                        Some(c) => c,
                        None => checked.insert(check_header(file, &header)?),
                    };
                    let n = records.len() + 1;
                    records.push(recipient_record(n, RawRecipient::default(), package, *date, source));
                }
                Tag::Empty(_) => {}
                Tag::Close | Tag::Eof => break,
            }
        }
        // Nothing may follow the root: a document cut or glued together is refused whole.
        reader.next_tag().map_err(xml_refusal(file))?;
    }
    if checked.is_none() {
        check_header(file, &header)?;
    }
    let mut warnings = Vec::new();
    if records.is_empty() {
        warnings.push(
            PluginError::new(
                "empty-document",
                format!("Файл «{file}»: в сведениях АИС СОН нет ни одного получателя (Recipient)"),
            )
            .at_record(format!("Файл «{file}»")),
        );
    }
    Ok(ImportOutput {
        records,
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings,
    })
}

/// The package id, the report's date and the source it names, or why the document is refused whole.
fn check_header(file: &str, header: &Header) -> Result<(String, Date, String), PluginError> {
    let package = header.package_id.clone().ok_or_else(|| {
        refuse(
            file,
            "missing-field",
            "PackageId",
            "не указан идентификатор пакета (элемент PackageId): сведения АИС СОН не загружены",
        )
    })?;
    if package.chars().count() > 200 {
        return Err(refuse(
            file,
            "package-invalid",
            "PackageId",
            "идентификатор пакета (PackageId) длиннее 200 знаков",
        ));
    }
    let text = header.date.as_deref().ok_or_else(|| {
        refuse(
            file,
            "missing-field",
            "Date",
            "не указана дата сведений (элемент Date): сведения АИС СОН не загружены",
        )
    })?;
    let date = Date::parse(text).map_err(|e| {
        refuse(
            file,
            e.code(),
            "Date",
            format!("дата сведений «{text}» (элемент Date) не распознана ({e})"),
        )
    })?;
    let source = match header.body.as_deref() {
        Some(body) => format!("АИС СОН: {}", body.chars().take(MAX_TEXT).collect::<String>()),
        None => "АИС СОН".to_string(),
    };
    Ok((package, date, source))
}

fn attribute(code: &str, value: &str) -> Attribute {
    Attribute {
        code: code.into(),
        value: value.into(),
    }
}

/// One recipient as a record: a `prior-report`, or the error naming the recipient and the element.
fn recipient_record(n: usize, raw: RawRecipient, package: &str, date: Date, source: &str) -> RecordOutcome {
    let locator = match raw.snils.as_deref() {
        Some(s) => format!("Recipient[{n}] СНИЛС {}", display_snils(s)),
        None => format!("Recipient[{n}]"),
    };
    let outcome = prior_report(n, raw, &locator, package, date, source).map(Normalized::PriorReport);
    RecordOutcome { locator, outcome }
}

fn prior_report(
    n: usize,
    raw: RawRecipient,
    locator: &str,
    package: &str,
    date: Date,
    source: &str,
) -> Result<PriorReport, PluginError> {
    let error = |code: &str, field: &str, message: String| {
        PluginError::new(code, format!("{locator}: {message}"))
            .at_record(locator)
            .at_field(field)
    };
    let snils_text = raw.snils.as_deref().ok_or_else(|| {
        error(
            "missing-field",
            "Snils",
            "не указан СНИЛС получателя (элемент Snils)".into(),
        )
    })?;
    let snils = snils::validate(snils_text)
        .map_err(|e| error(e.code(), "Snils", format!("СНИЛС «{snils_text}» неверен ({e})")))?;
    let ipra = raw.ipra_document_id.ok_or_else(|| {
        error(
            "missing-field",
            "IpraDocumentId",
            "не указан идентификатор документа ИПРА (элемент IpraDocumentId)".into(),
        )
    })?;
    for (element, text) in [
        ("IpraDocumentId", Some(&ipra)),
        ("IppsuNumber", raw.ippsu_number.as_ref()),
    ] {
        if text.is_some_and(|t| t.chars().count() > MAX_TEXT) {
            return Err(error(
                "text-too-long",
                element,
                format!("текст элемента {element} длиннее {MAX_TEXT} знаков"),
            ));
        }
    }
    if raw.services.is_empty() {
        return Err(error(
            "missing-field",
            "Service",
            "нет ни одной услуги (элемент Service)".into(),
        ));
    }
    if raw.services.len() > MAX_SERVICES {
        return Err(error(
            "services-too-many",
            "Service",
            format!("больше {MAX_SERVICES} услуг у одного получателя"),
        ));
    }
    let mut entries: Vec<Measure> = Vec::with_capacity(raw.services.len());
    for (j, s) in raw.services.into_iter().enumerate() {
        let j = j + 1;
        let at = |element: &str| format!("Service[{j}]/{element}");
        let service = match &s.name {
            Some(name) => format!("услуга {j} «{}»", name.chars().take(100).collect::<String>()),
            None => format!("услуга {j}"),
        };
        for (element, text) in [
            ("@key", &s.key),
            ("Name", &s.name),
            ("Code", &s.code),
            ("ProviderName", &s.provider_name),
            ("Reason", &s.reason),
        ] {
            if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
                return Err(error(
                    "text-too-long",
                    &at(element),
                    format!("{service}: текст элемента {element} длиннее {MAX_TEXT} знаков"),
                ));
            }
        }
        let key = s.key.ok_or_else(|| {
            error(
                "missing-field",
                &at("@key"),
                format!("{service}: не указан ключ мероприятия ИПРА (атрибут key)"),
            )
        })?;
        if entries.iter().any(|m| m.key == key) {
            return Err(error(
                "service-duplicate",
                &at("@key"),
                format!("{service}: мероприятие ИПРА с ключом «{key}» указано дважды"),
            ));
        }
        let name = s.name.clone().ok_or_else(|| {
            error(
                "missing-field",
                &at("Name"),
                format!("{service}: не указано наименование услуги (элемент Name)"),
            )
        })?;
        let result = s.result.as_deref().ok_or_else(|| {
            error(
                "missing-field",
                &at("Result"),
                format!("{service}: не указан результат (элемент Result)"),
            )
        })?;
        if !RESULTS.iter().any(|(code, _)| *code == result) {
            return Err(error(
                "result-unknown",
                &at("Result"),
                format!(
                    "{service}: результат «{result}» неизвестен: ожидается {}",
                    RESULTS.map(|(c, said)| format!("{c} ({said})")).join(", ")
                ),
            ));
        }
        if result != "provided" && s.reason.is_none() {
            return Err(error(
                "missing-field",
                &at("Reason"),
                format!("{service}: при результате «{result}» нужна причина (элемент Reason)"),
            ));
        }
        let mut dates = [None, None];
        for (slot, (element, text)) in dates
            .iter_mut()
            .zip([("DateFrom", &s.date_from), ("DateTo", &s.date_to)])
        {
            let Some(text) = text else { continue };
            let parsed = Date::parse(text)
                .map_err(|e| error(e.code(), &at(element), format!("{service}: элемент {element}: {e}")))?;
            if parsed > date {
                return Err(error(
                    "date-future",
                    &at(element),
                    format!("{service}: дата {parsed} (элемент {element}) позже даты сведений {date}"),
                ));
            }
            *slot = Some(parsed);
        }
        if let [Some(from), Some(to)] = dates {
            if to < from {
                return Err(error(
                    "date-order",
                    &at("DateTo"),
                    format!("{service}: дата окончания {to} раньше даты начала {from}"),
                ));
            }
        }
        let provider = s.provider_ogrn.as_deref().ok_or_else(|| {
            error(
                "missing-field",
                &at("ProviderOgrn"),
                format!("{service}: не указан ОГРН поставщика социальных услуг (элемент ProviderOgrn)"),
            )
        })?;
        ogrn::validate(provider).map_err(|e| {
            error(
                e.code(),
                &at("ProviderOgrn"),
                format!("{service}: ОГРН поставщика «{provider}» неверен ({e})"),
            )
        })?;
        let mut extra = vec![attribute("result", result)];
        if let Some(reason) = &s.reason {
            extra.push(attribute("reason", reason));
        }
        entries.push(Measure {
            key,
            section: SECTION.into(),
            category_code: String::new(),
            category_name: String::new(),
            code: s.code,
            name,
            guid: None,
            executor_ogrn: Some(provider.to_string()),
            executor_name: s.provider_name,
            date_from: dates[0].map(|d| d.to_string()),
            date_to: dates[1].map(|d| d.to_string()),
            quantity: None,
            extra,
        });
    }
    Ok(PriorReport {
        document_id: format!("{package}/{n}"),
        document_version: crate::VERSION.into(),
        parent_document_id: Some(ipra),
        number: raw.ippsu_number,
        date: Some(date.to_string()),
        source: Some(source.to_string()),
        snils,
        entries,
    })
}
