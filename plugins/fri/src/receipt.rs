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
use ipra_plugin_sdk::xml::tree;

/// The namespace of a receipt.
pub const RECEIPT_NAMESPACE: &str = "urn:ipra:fri-receipt:1.0";

/// Whether `bytes` look like a receipt: its namespace near the start. Extracts, which are large,
/// are never parsed twice for this.
pub fn looks_like_receipt(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    head.windows(RECEIPT_NAMESPACE.len())
        .any(|w| w == RECEIPT_NAMESPACE.as_bytes())
}

fn refused(code: &str, message: String, field: &str) -> PluginError {
    let mut error = PluginError::new(code, message);
    error.record = Some("Квитанция".into());
    error.field = Some(field.into());
    error
}

/// The one record of a receipt document, or why the document is not a receipt that holds.
pub fn read(name: &str, bytes: &[u8]) -> Result<RecordOutcome, PluginError> {
    let root = tree::parse(bytes)?;
    if root.name != "ReportReceipt" || root.namespace.as_deref() != Some(RECEIPT_NAMESPACE) {
        return Err(PluginError::new(
            "wrong-root",
            format!(
                "«{name}»: корневой элемент <{}> — это не квитанция ФРИ (ожидается ReportReceipt в пространстве имён {RECEIPT_NAMESPACE})",
                root.name
            ),
        ));
    }
    let outcome = (|| {
        let document = root
            .attr("document")
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                refused(
                    "missing-field",
                    format!("«{name}»: в квитанции не указан отчёт (атрибут document)"),
                    "document",
                )
            })?;
        let accepted = match root.attr("status").map(str::trim) {
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
            document_name: document.to_string(),
            accepted,
            reason: root.child_text("Reason").map(str::to_string),
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
