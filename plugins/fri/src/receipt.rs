//! FRI's receipts on the execution reports the region sent: accepted, or rejected with the reason.
//!
//! The form is adapter-neutral and small (see the README, «Квитанции ФРИ»):
//!
//! ```xml
//! <ReportReceipt xmlns="urn:ipra:fri-receipt:1.0" document="fri-report-….xml" status="accepted|rejected">
//!   <Reason>…</Reason>
//! </ReportReceipt>
//! ```
//!
//! The host applies what this reads to the report it sent under that document name; reading the
//! receipt is the connector's business, so a region whose transport wraps receipts differently
//! changes this plugin, not the host.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{Normalized, PluginError, Receipt, RecordOutcome};
use ipra_plugin_sdk::xml::{self, Tag, XmlReader};

/// The namespace of a receipt.
pub const RECEIPT_NAMESPACE: &str = "urn:ipra:fri-receipt:1.0";

/// Whether `bytes` look like a receipt: its namespace near the start. Extracts, which are large,
/// are never parsed twice for this.
pub fn looks_like_receipt(bytes: &[u8]) -> bool {
    // Every extract passes here, so this is a byte scan for the needle's first byte rather than a
    // comparison at every position (which costs a large extract's parse several per cent in the sandbox).
    let head = &bytes[..bytes.len().min(1024)];
    let needle = RECEIPT_NAMESPACE.as_bytes();
    let mut from = 0;
    while let Some(at) = head[from..].iter().position(|&b| b == needle[0]) {
        if head[from + at..].starts_with(needle) {
            return true;
        }
        from += at + 1;
    }
    false
}

fn refused(code: &str, message: String, field: &str) -> PluginError {
    let mut error = PluginError::new(code, message);
    error.record = Some("Квитанция".into());
    error.field = Some(field.into());
    error
}

/// The one record of a receipt document, or why the document is not a receipt that holds. It is
/// read with the same streaming reader as the extracts (no tree of the document is built).
pub fn read(name: &str, bytes: &[u8]) -> Result<RecordOutcome, PluginError> {
    let xml_error = |e: xml::XmlError| PluginError::new(e.code(), format!("«{name}»: {e}"));
    let text = xml::decode_document(bytes).map_err(xml_error)?;
    let mut reader = XmlReader::new(&text);
    let (root, empty) = match reader.next_tag().map_err(xml_error)? {
        Tag::Open(root) => (root, false),
        Tag::Empty(root) => (root, true),
        Tag::Close | Tag::Eof => {
            return Err(PluginError::new(
                "xml-malformed",
                format!("«{name}»: документ не содержит корневого элемента"),
            ))
        }
    };
    let attribute = |name: &str| reader.attribute(&root, name).map_err(xml_error);
    let namespace = match root.prefix() {
        Some(prefix) => attribute(&format!("xmlns:{prefix}"))?,
        None => attribute("xmlns")?,
    };
    if root.local_name() != "ReportReceipt" || namespace.as_deref() != Some(RECEIPT_NAMESPACE) {
        return Err(PluginError::new(
            "wrong-root",
            format!(
                "«{name}»: корневой элемент <{}> — это не квитанция ФРИ (ожидается ReportReceipt в пространстве имён {RECEIPT_NAMESPACE})",
                root.name()
            ),
        ));
    }
    let document = attribute("document")?
        .map(|d| d.trim().to_string())
        .filter(|d| !d.is_empty());
    let status = attribute("status")?.map(|s| s.trim().to_string());
    let mut reason = None;
    if !empty {
        // The children: `Reason`, the only one read; any other is passed over.
        loop {
            match reader.next_tag().map_err(xml_error)? {
                Tag::Open(child) if child.local_name() == "Reason" => {
                    let text = reader.read_text().map_err(xml_error)?;
                    let text = xml::trim(&text);
                    if !text.is_empty() {
                        reason = Some(text.to_string());
                    }
                }
                Tag::Open(_) => reader.skip().map_err(xml_error)?,
                Tag::Empty(_) => {}
                Tag::Close | Tag::Eof => break,
            }
        }
    }
    let outcome = (|| {
        let document = document.ok_or_else(|| {
            refused(
                "missing-field",
                format!("«{name}»: в квитанции не указан отчёт (атрибут document)"),
                "document",
            )
        })?;
        let accepted = match status.as_deref() {
            Some("accepted") => true,
            Some("rejected") => false,
            other => {
                return Err(refused(
                    "bad-status",
                    format!(
                        "«{name}»: состояние квитанции «{}» неизвестно (ожидается accepted или rejected)",
                        other.unwrap_or("")
                    ),
                    "status",
                ))
            }
        };
        Ok(Normalized::Receipt(Receipt {
            document_name: document,
            accepted,
            reason,
            extra: Vec::new(),
        }))
    })();
    Ok(RecordOutcome {
        locator: "Квитанция".into(),
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receipts_are_read_and_their_faults_named() {
        let ok = format!(
            "<ReportReceipt xmlns=\"{RECEIPT_NAMESPACE}\" document=\"fri-report-1.xml\" status=\"rejected\"><Reason>Нет даты</Reason></ReportReceipt>"
        );
        assert!(looks_like_receipt(ok.as_bytes()));
        let Ok(Normalized::Receipt(r)) = read("r.xml", ok.as_bytes()).unwrap().outcome else {
            panic!("a receipt")
        };
        assert_eq!(
            (r.document_name.as_str(), r.accepted, r.reason.as_deref()),
            ("fri-report-1.xml", false, Some("Нет даты"))
        );
        let bad = format!("<ReportReceipt xmlns=\"{RECEIPT_NAMESPACE}\" document=\"a.xml\" status=\"maybe\"/>");
        let e = read("r.xml", bad.as_bytes()).unwrap().outcome.unwrap_err();
        assert_eq!(e.field.as_deref(), Some("status"));
        let foreign = "<ReportReceipt xmlns=\"urn:other\" document=\"a.xml\" status=\"accepted\"/>";
        assert_eq!(read("r.xml", foreign.as_bytes()).unwrap_err().code, "wrong-root");
        assert!(!looks_like_receipt(b"<fri:VypiskaFRI/>"));
    }
}
