//! The IPPSU draft for АИС СОН (individual programme of social services formed from the IPRA's social-protection
//! measures, ИС «Исполнение ИПРА»: «Формирование ИППСУ на основе данных ИПРА»): `IppsuRequest` 1.0
//! (`schemas/ippsu-1.0.xsd`), created for a new IPRA or corrected when a superseding IPRA arrives or a measure
//! changes.
//!
//! The host's plan (`step` = [`STEP`]) carries the recipient in `persons[0]` (the register's current data) and in
//! `extra` every attribute of the `ippsu-draft` follow-up as stored (`ipra-number`, `ipra-document-id`, `services`
//! and per service *i* from 1 `service.<i>.key`, `.name`, `.code`, `.from`, `.to`, `.provider-ogrn`), plus
//! `message-id` (required, names the file `ippsu-<message-id>.xml`), `action` (`create` | `correct`),
//! `previous-ipra-document-id` and `reason` (on `correct`), and the optional `ipra-protocol-number`,
//! `ipra-protocol-date`, `ipra-decision-date`, `ipra-valid-until`, `ipra-issued-by`.

use crate::{is_file_name_part, Fields, Recipient, VERSION};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Document, PlanInput, PluginError};
use ipra_plugin_sdk::ogrn;
use ipra_plugin_sdk::xml::writer::XmlWriter;

/// The plan step of an IPPSU draft.
pub const STEP: &str = "ippsu";
/// Namespace of the IPPSU draft, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:aisson:ippsu:1.0";
/// Services one draft holds at most (an IPRA has a handful of social-protection measures).
pub const MAX_SERVICES: usize = 200;
/// What the host may ask: a new draft, or a correction of the one sent before.
pub const ACTIONS: [&str; 2] = ["create", "correct"];

/// The file name of the draft sent under this message id; АИС СОН's answer names it.
pub fn file_name(message_id: &str) -> String {
    format!("ippsu-{message_id}.xml")
}

/// One service of the draft (one social-protection measure of the IPRA).
struct Service<'a> {
    key: &'a str,
    name: &'a str,
    code: Option<&'a str>,
    from: Option<String>,
    to: Option<String>,
    provider: Option<&'a str>,
}

/// Renders the draft, or says which field of the plan does not hold.
pub fn render(plan: &PlanInput) -> Result<Document, PluginError> {
    let shown = crate::value(&plan.extra, "message-id").unwrap_or("без номера");
    let f = Fields {
        extra: &plan.extra,
        record: format!("Проект ИППСУ {shown}"),
    };
    crate::check_lengths(plan, &f.record)?;
    let message_id = f.required("message-id", "идентификатор отправки")?;
    if !is_file_name_part(message_id) {
        return Err(f.error(
            "message-id-invalid",
            "message-id",
            format!("идентификатор отправки «{message_id}» недопустим в имени файла (только латинские буквы, цифры, «.», «_», «-», до 100 знаков)"),
        ));
    }
    let action = f.required("action", "действие (create или correct)")?;
    if !ACTIONS.contains(&action) {
        return Err(f.error(
            "action-unknown",
            "action",
            format!("действие «{action}» неизвестно: ожидается create (новый проект) или correct (исправление)"),
        ));
    }
    let today = f.parse_date("today", "дата формирования", &plan.today)?;
    let person = match plan.persons.as_slice() {
        [person] => person,
        other => {
            return Err(f.error(
                "persons-count",
                "persons",
                format!("проект ИППСУ пишется на одного получателя, передано {}", other.len()),
            ))
        }
    };
    let recipient = Recipient::read(&f, person)?;
    let number = f.required("ipra-number", "номер ИПРА")?;
    let document_id = f.required("ipra-document-id", "идентификатор документа ИПРА")?;
    let protocol_date = f.date("ipra-protocol-date", "дата протокола МСЭ")?;
    let decision_date = f.date("ipra-decision-date", "дата решения")?;
    let valid_until = f.date("ipra-valid-until", "срок действия ИПРА")?;
    let (previous, reason) = if action == "correct" {
        (
            f.optional("previous-ipra-document-id"),
            Some(f.required("reason", "причина исправления")?),
        )
    } else {
        (None, None)
    };
    let count: usize = f
        .required("services", "число услуг")?
        .parse()
        .ok()
        .filter(|n| (1..=MAX_SERVICES).contains(n))
        .ok_or_else(|| {
            f.error(
                "services-invalid",
                "services",
                format!("число услуг должно быть от 1 до {MAX_SERVICES}"),
            )
        })?;
    let mut services = Vec::with_capacity(count);
    for i in 1..=count {
        let at = |field: &str| format!("service.{i}.{field}");
        let label = |what: &str| format!("услуга {i}: {what}");
        let from = f.date(&at("from"), &label("начало срока"))?;
        let to = f.date(&at("to"), &label("окончание срока"))?;
        if let (Some(from), Some(to)) = (&from, &to) {
            if to < from {
                return Err(f.error(
                    "date-order",
                    &at("to"),
                    format!("{}: окончание срока {to} раньше начала {from}", label("срок")),
                ));
            }
        }
        // The provider the measure is assigned to. An OGRN that fails its check (kept as the extract gave it,
        // the measure not yet assigned) is left out rather than holding the draft back: АИС СОН chooses the
        // provider of social services then.
        let provider = f.optional(&at("provider-ogrn")).filter(|o| ogrn::is_valid(o));
        let key = f.required(&at("key"), &label("ключ мероприятия ИПРА"))?;
        if services.iter().any(|s: &Service| s.key == key) {
            return Err(f.error(
                "service-duplicate",
                &at("key"),
                format!(
                    "{}: мероприятие с ключом «{key}» указано дважды",
                    label("ключ мероприятия ИПРА")
                ),
            ));
        }
        services.push(Service {
            key,
            name: f.required(&at("name"), &label("наименование"))?,
            code: f.optional(&at("code")),
            from,
            to,
            provider,
        });
    }

    let mut xml = XmlWriter::new();
    xml.open(
        "IppsuRequest",
        &[("xmlns", NAMESPACE), ("version", VERSION), ("action", action)],
    );
    xml.leaf("MessageId", message_id);
    xml.leaf("Date", &today);
    if let Some(reason) = reason {
        xml.open("Correction", &[]);
        xml.leaf("Reason", reason);
        xml.leaf_opt("PreviousIpraDocumentId", previous);
        xml.close("Correction");
    }
    xml.open("Ipra", &[]);
    xml.leaf("Number", number);
    xml.leaf("DocumentId", document_id);
    xml.leaf_opt("ProtocolNumber", f.optional("ipra-protocol-number"));
    xml.leaf_opt("ProtocolDate", protocol_date.as_deref());
    xml.leaf_opt("DecisionDate", decision_date.as_deref());
    xml.leaf_opt("ValidUntil", valid_until.as_deref());
    xml.leaf_opt("IssuedBy", f.optional("ipra-issued-by"));
    xml.close("Ipra");
    recipient.write(&mut xml, |_| {});
    xml.open("Services", &[]);
    for s in &services {
        xml.open("Service", &[("key", s.key)]);
        xml.leaf("Name", s.name);
        xml.leaf_opt("Code", s.code);
        if s.from.is_some() || s.to.is_some() {
            xml.open("Period", &[]);
            xml.leaf_opt("From", s.from.as_deref());
            xml.leaf_opt("To", s.to.as_deref());
            xml.close("Period");
        }
        xml.leaf_opt("ProviderOgrn", s.provider);
        xml.close("Service");
    }
    xml.close("Services");
    xml.close("IppsuRequest");
    Ok(Document {
        name: file_name(message_id),
        media_type: "application/xml".into(),
        bytes: xml.finish().into_bytes(),
    })
}
