//! ИС МСЭ's answer on a TSR clarification request: `TsrClarificationAnswer` 1.0
//! (`schemas/tsr-clarification-answer-1.0.xsd`), read into one `receipt` naming the request's document.
//!
//! ```xml
//! <TsrClarificationAnswer xmlns="urn:ipra:mse:tsr-clarification-answer:1.0" version="1.0">
//!   <RequestId>…</RequestId>            <!-- the RequestId of our request -->
//!   <AnswerDate>2026-11-23</AnswerDate>
//!   <Bureau>…</Bureau>?                 <!-- who answered -->
//!   <Decision>new-ipra|no-change|refused</Decision>
//!   <NewIpra><Number/><ProtocolNumber/><ProtocolDate/></NewIpra>?   <!-- with new-ipra -->
//!   <Comment>…</Comment>?               <!-- required with refused: why -->
//! </TsrClarificationAnswer>
//! ```
//!
//! `receipt`: `document-name` = `tsr-clarification-<RequestId>.xml`, `accepted` = the decision is not `refused`,
//! `reason` = the comment (or what the decision says), `extra`: `request-id`, `decision`, `answer-date`,
//! `bureau`, `new-ipra-number`, `new-protocol-number`, `new-protocol-date`, `comment`.
//!
//! The answer is read whole or refused whole: a document that is not XML, has a DOCTYPE or an entity
//! (`xml-*`), another root or namespace (`wrong-root`), another format version (`version-unsupported`), or a
//! missing or bad field (`missing-field`, `date-*`, `decision-unknown`, `request-id-invalid`) is refused with a
//! Russian reason naming the file, the record («Ответ ИС МСЭ») and the field, and the host keeps it in quarantine.

use crate::request;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, Document, ImportOutput, Normalized, PluginError, Receipt, RecordOutcome,
};
use ipra_plugin_sdk::date::Date;
use ipra_plugin_sdk::xml::tree::{self, Element};

/// Namespace prefix of the answer; the version follows it.
pub const NAMESPACE_BASE: &str = "urn:ipra:mse:tsr-clarification-answer:";
/// The one version read.
pub const VERSION: &str = "1.0";
/// Where the record is in the document (one answer per document).
pub const RECORD: &str = "Ответ ИС МСЭ";

/// The decisions of ИС МСЭ and what the register is told of each.
const DECISIONS: [(&str, &str); 3] = [
    ("new-ipra", "разработана новая ИПРА с уточнёнными ТСР"),
    ("no-change", "уточнение не требуется, ИПРА не изменена"),
    ("refused", "в уточнении отказано"),
];

fn refuse(file: &str, code: &str, field: &str, message: String) -> PluginError {
    PluginError::new(code, format!("Файл «{file}»: {message}"))
        .at_record(RECORD)
        .at_field(field)
}

fn text<'a>(element: &'a Element, name: &str) -> Option<&'a str> {
    element.child_text(name)
}

fn attribute(code: &str, value: &str) -> Attribute {
    Attribute {
        code: code.into(),
        value: value.into(),
    }
}

/// Whether a text is a UUID as we write them (`8-4-4-4-12` hex digits).
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Reads one incoming document of ИС МСЭ.
pub fn import_document(document: &Document) -> Result<ImportOutput, PluginError> {
    let receipt = read(&document.name, &document.bytes)?;
    Ok(ImportOutput {
        records: vec![RecordOutcome {
            locator: RECORD.into(),
            outcome: Ok(Normalized::Receipt(receipt)),
        }],
        claims: Vec::new(),
        follow_ups: Vec::new(),
        warnings: Vec::new(),
    })
}

/// The receipt an answer holds, or why the document is refused.
pub fn read(file: &str, bytes: &[u8]) -> Result<Receipt, PluginError> {
    let root = tree::parse(bytes).map_err(|e| {
        let code = e.code.clone();
        refuse(file, &code, "XML", e.message)
    })?;
    let namespace = root.namespace.as_deref().unwrap_or_default();
    if root.name != "TsrClarificationAnswer" || !namespace.starts_with(NAMESPACE_BASE) {
        return Err(refuse(
            file,
            "wrong-root",
            "xmlns",
            format!(
                "корневой элемент <{}>{} — это не ответ ИС МСЭ на запрос (ожидается TsrClarificationAnswer в пространстве имён {NAMESPACE_BASE}{VERSION})",
                root.name,
                if namespace.is_empty() {
                    " без пространства имён".to_string()
                } else {
                    format!(" в пространстве имён {namespace}")
                }
            ),
        ));
    }
    let ns_version = &namespace[NAMESPACE_BASE.len()..];
    if ns_version != VERSION {
        return Err(refuse(
            file,
            "version-unsupported",
            "xmlns",
            format!("версия формата ответа «{ns_version}» не поддерживается: коннектор читает версию {VERSION}"),
        ));
    }
    match root.attr("version").map(str::trim) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(refuse(
                file,
                "version-unsupported",
                "version",
                format!("версия формата ответа «{other}» не поддерживается: коннектор читает версию {VERSION}"),
            ));
        }
        None => {
            return Err(refuse(
                file,
                "missing-field",
                "version",
                "у корневого элемента нет атрибута version".into(),
            ));
        }
    }
    let required = |name: &str, label: &str| {
        text(&root, name).ok_or_else(|| {
            refuse(
                file,
                "missing-field",
                name,
                format!("не указано «{label}» (элемент {name})"),
            )
        })
    };
    let date = |element: &Element, name: &str, label: &str| -> Result<Option<String>, PluginError> {
        match text(element, name) {
            None => Ok(None),
            Some(t) => Date::parse(t).map(|d| Some(d.to_string())).map_err(|e| {
                refuse(
                    file,
                    e.code(),
                    name,
                    format!("«{label}» — дата «{t}» не распознана ({e})"),
                )
            }),
        }
    };
    let request_id = required("RequestId", "идентификатор запроса")?;
    if !is_uuid(request_id) {
        return Err(refuse(
            file,
            "request-id-invalid",
            "RequestId",
            format!("идентификатор запроса «{request_id}» — не идентификатор нашего запроса (UUID)"),
        ));
    }
    required("AnswerDate", "дата ответа")?;
    let answer_date = date(&root, "AnswerDate", "дата ответа")?.unwrap_or_default();
    let decision = required("Decision", "решение")?;
    let Some((_, said)) = DECISIONS.iter().find(|(code, _)| *code == decision) else {
        return Err(refuse(
            file,
            "decision-unknown",
            "Decision",
            format!(
                "решение «{decision}» неизвестно: ожидается {}",
                DECISIONS.map(|(c, _)| c).join(", ")
            ),
        ));
    };
    let comment = text(&root, "Comment");
    if decision == "refused" && comment.is_none() {
        return Err(refuse(
            file,
            "missing-field",
            "Comment",
            "при отказе в уточнении нужна причина (элемент Comment)".into(),
        ));
    }
    let mut extra = vec![
        attribute("request-id", request_id),
        attribute("decision", decision),
        attribute("answer-date", &answer_date),
    ];
    if let Some(bureau) = text(&root, "Bureau") {
        extra.push(attribute("bureau", bureau));
    }
    let mut said = said.to_string();
    if let Some(new) = root.child("NewIpra") {
        let number = text(new, "Number").ok_or_else(|| {
            refuse(
                file,
                "missing-field",
                "NewIpra/Number",
                "у новой ИПРА не указан номер (элемент NewIpra/Number)".into(),
            )
        })?;
        extra.push(attribute("new-ipra-number", number));
        said.push_str(&format!(" (№ {number}"));
        if let Some(protocol) = text(new, "ProtocolNumber") {
            extra.push(attribute("new-protocol-number", protocol));
            said.push_str(&format!(", протокол {protocol}"));
        }
        if let Some(d) = date(new, "ProtocolDate", "дата протокола новой ИПРА")? {
            said.push_str(&format!(" от {d}"));
            extra.push(attribute("new-protocol-date", &d));
        }
        said.push(')');
    }
    if let Some(comment) = comment {
        extra.push(attribute("comment", comment));
    }
    let reason = match comment {
        Some(comment) => format!("{said}: {comment}"),
        None => said,
    };
    Ok(Receipt {
        document_name: request::file_name(&request_id.to_ascii_lowercase()),
        accepted: decision != "refused",
        reason: Some(reason),
        extra,
    })
}
