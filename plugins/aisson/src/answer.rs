//! АИС СОН's answers on the IPPSU drafts sent: `IppsuAnswer` 1.0 (`schemas/ippsu-answer-1.0.xsd`), each `Answer`
//! read into one `receipt` naming the draft's document.
//!
//! ```xml
//! <IppsuAnswer xmlns="urn:ipra:aisson:ippsu-answer:1.0" version="1.0">
//!   <Answer>                                          <!-- one or more -->
//!     <DocumentName>ippsu-17-2.xml</DocumentName>     <!-- the file the server sent -->
//!     <Accepted>true|false</Accepted>
//!     <IppsuNumber>…</IppsuNumber>?                   <!-- the IPPSU's number in АИС СОН -->
//!     <Reason>…</Reason>?                             <!-- required when not accepted -->
//!   </Answer>
//! </IppsuAnswer>
//! ```
//!
//! `receipt`: `document-name` = `DocumentName`, `accepted`, `reason` = `Reason`, `extra` = `ippsu-number` when
//! given. An answer without a document name of ours (`ippsu-<message-id>.xml`), with another `Accepted` than
//! `true`/`false`, or a rejection without a reason is one record error naming `Answer[n]` and the element; the
//! other answers go on. A document that is not XML or of another version is refused whole.

use crate::{is_file_name_part, refuse, xml_refusal, MAX_TEXT};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, ImportOutput, Normalized, PluginError, Receipt, RecordOutcome,
};
use ipra_plugin_sdk::xml::{self, Tag, XmlReader};

/// The format's name in its namespace.
pub const FORMAT: &str = "ippsu-answer";
/// Root element.
pub const ROOT: &str = "IppsuAnswer";
/// Namespace of the answer, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:aisson:ippsu-answer:1.0";
/// Answers one document holds at most.
pub const MAX_ANSWERS: usize = 100_000;

/// One `Answer` as written.
#[derive(Default)]
struct RawAnswer {
    document_name: Option<String>,
    accepted: Option<String>,
    ippsu_number: Option<String>,
    reason: Option<String>,
}

fn leaf(reader: &mut XmlReader, file: &str) -> Result<Option<String>, PluginError> {
    let text = reader.read_text().map_err(xml_refusal(file))?;
    let text = xml::trim(&text);
    Ok((!text.is_empty()).then(|| text.to_string()))
}

fn read_answer(reader: &mut XmlReader, file: &str) -> Result<RawAnswer, PluginError> {
    let mut answer = RawAnswer::default();
    loop {
        match reader.next_tag().map_err(xml_refusal(file))? {
            Tag::Open(child) => {
                let slot = match child.local_name() {
                    "DocumentName" => &mut answer.document_name,
                    "Accepted" => &mut answer.accepted,
                    "IppsuNumber" => &mut answer.ippsu_number,
                    "Reason" => &mut answer.reason,
                    _ => {
                        reader.skip().map_err(xml_refusal(file))?;
                        continue;
                    }
                };
                *slot = leaf(reader, file)?;
            }
            Tag::Empty(_) => {}
            Tag::Close | Tag::Eof => return Ok(answer),
        }
    }
}

/// Reads the body of an answer document whose root (namespace and version checked) was just opened.
pub fn read(file: &str, reader: &mut XmlReader, empty_root: bool) -> Result<ImportOutput, PluginError> {
    let mut records = Vec::new();
    if !empty_root {
        loop {
            let raw = match reader.next_tag().map_err(xml_refusal(file))? {
                Tag::Open(child) if child.local_name() == "Answer" => read_answer(reader, file)?,
                Tag::Empty(child) if child.local_name() == "Answer" => RawAnswer::default(),
                Tag::Open(_) => {
                    reader.skip().map_err(xml_refusal(file))?;
                    continue;
                }
                Tag::Empty(_) => continue,
                Tag::Close | Tag::Eof => break,
            };
            if records.len() >= MAX_ANSWERS {
                return Err(refuse(
                    file,
                    "document-too-large",
                    "Answer",
                    format!("в документе больше {MAX_ANSWERS} ответов"),
                ));
            }
            records.push(answer_record(records.len() + 1, raw));
        }
        reader.next_tag().map_err(xml_refusal(file))?;
    }
    let mut warnings = Vec::new();
    if records.is_empty() {
        warnings.push(
            PluginError::new(
                "empty-document",
                format!("Файл «{file}»: в ответе АИС СОН нет ни одного ответа на проект ИППСУ (Answer)"),
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

/// Whether a name is one of the drafts' file names (`ippsu-<message-id>.xml`).
fn is_draft_name(name: &str) -> bool {
    name.strip_prefix("ippsu-")
        .and_then(|rest| rest.strip_suffix(".xml"))
        .is_some_and(is_file_name_part)
}

fn answer_record(n: usize, raw: RawAnswer) -> RecordOutcome {
    let locator = match raw.document_name.as_deref() {
        Some(name) => format!("Answer[{n}] {}", name.chars().take(120).collect::<String>()),
        None => format!("Answer[{n}]"),
    };
    let error = |code: &str, field: &str, message: String| {
        PluginError::new(code, format!("{locator}: {message}"))
            .at_record(locator.clone())
            .at_field(field)
    };
    let outcome = (|| {
        let document_name = raw.document_name.ok_or_else(|| {
            error(
                "missing-field",
                "DocumentName",
                "не указан файл проекта ИППСУ, на который дан ответ (элемент DocumentName)".into(),
            )
        })?;
        if !is_draft_name(&document_name) {
            return Err(error(
                "document-name-invalid",
                "DocumentName",
                format!("«{document_name}» — не имя отправленного проекта ИППСУ (ожидается ippsu-<идентификатор>.xml)"),
            ));
        }
        let accepted = match raw.accepted.as_deref() {
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                return Err(error(
                    "accepted-invalid",
                    "Accepted",
                    format!("«{other}» — ожидается true (проект принят) или false (отклонён)"),
                ))
            }
            None => {
                return Err(error(
                    "missing-field",
                    "Accepted",
                    "не указано, принят ли проект (элемент Accepted)".into(),
                ))
            }
        };
        for (element, text) in [("Reason", &raw.reason), ("IppsuNumber", &raw.ippsu_number)] {
            if text.as_ref().is_some_and(|t| t.chars().count() > MAX_TEXT) {
                return Err(error(
                    "text-too-long",
                    element,
                    format!("текст элемента {element} длиннее {MAX_TEXT} знаков"),
                ));
            }
        }
        if !accepted && raw.reason.is_none() {
            return Err(error(
                "missing-field",
                "Reason",
                "проект ИППСУ отклонён без причины (элемент Reason)".into(),
            ));
        }
        let extra = raw
            .ippsu_number
            .map(|number| {
                vec![Attribute {
                    code: "ippsu-number".into(),
                    value: number,
                }]
            })
            .unwrap_or_default();
        Ok(Normalized::Receipt(Receipt {
            document_name,
            accepted,
            reason: raw.reason,
            extra,
        }))
    })();
    RecordOutcome { locator, outcome }
}
