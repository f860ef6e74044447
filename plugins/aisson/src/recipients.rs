//! A package of the register of social-service recipients (442-ФЗ; ИС «Исполнение ИПРА»: the persons whose IPRA
//! has social-protection measures, for АИС СОН): `RecipientRegister` 1.0 (`schemas/recipients-1.0.xsd`).
//!
//! The host's plan (`step` = [`STEP`]) carries the package in `extra` (`package`, required: the file is
//! `recipients-<package>.xml`, see [`file_name`]; `region`, optional) and one person per recipient in `persons`, each with the
//! register's names, birth date, gender, territory and address and in its `extra`: `ipra-number`,
//! `ipra-document-id`, `added-at` (`YYYY-MM-DD`) and the optional `ippsu-status`.

use crate::{display_snils, is_file_name_part, value, Fields, Recipient, VERSION};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Document, PlanInput, PluginError};
use ipra_plugin_sdk::uuid;
use ipra_plugin_sdk::xml::writer::XmlWriter;

/// The plan step of the register export.
pub const STEP: &str = "recipients";
/// Namespace of the register, version 1.0.
pub const NAMESPACE: &str = "urn:ipra:aisson:recipients:1.0";
/// Recipients one document holds at most.
pub const MAX_RECIPIENTS: usize = 10_000;

/// The file name of a package: `recipients-<package>.xml` when the package id may stand in a file name (latin
/// letters, digits, `.`, `_`, `-`), else `recipients-<UUID v5 of urn:ipra:aisson:recipients:<package>>.xml` — the
/// same package always gets the same name either way.
pub fn file_name(package: &str) -> String {
    if is_file_name_part(package) {
        format!("recipients-{package}.xml")
    } else {
        format!(
            "recipients-{}.xml",
            uuid::v5(&format!("urn:ipra:aisson:recipients:{package}"))
        )
    }
}

/// Renders the package, or says which recipient and field of the plan does not hold (the whole package is refused:
/// the host exports it again once the data is mended).
pub fn render(plan: &PlanInput) -> Result<Document, PluginError> {
    let header = Fields {
        extra: &plan.extra,
        record: "Пакет регистра получателей социальных услуг".into(),
    };
    crate::check_lengths(plan, &header.record)?;
    let package = header.required("package", "идентификатор пакета")?;
    let today = header.parse_date("today", "дата формирования", &plan.today)?;
    if plan.persons.is_empty() || plan.persons.len() > MAX_RECIPIENTS {
        return Err(header.error(
            "recipients-count",
            "persons",
            format!(
                "в пакете должно быть от 1 до {MAX_RECIPIENTS} получателей, передано {}",
                plan.persons.len()
            ),
        ));
    }
    let mut xml = XmlWriter::new();
    xml.open("RecipientRegister", &[("xmlns", NAMESPACE), ("version", VERSION)]);
    xml.leaf("PackageId", package);
    xml.leaf("Date", &today);
    xml.leaf_opt("Region", header.optional("region"));
    xml.leaf("Count", &plan.persons.len().to_string());
    for (n, person) in plan.persons.iter().enumerate() {
        let f = Fields {
            extra: &person.extra,
            record: format!("Получатель {} (СНИЛС {})", n + 1, display_snils(&person.snils)),
        };
        let recipient = Recipient::read(&f, person)?;
        let number = f.required("ipra-number", "номер ИПРА")?;
        let document_id = f.required("ipra-document-id", "идентификатор документа ИПРА")?;
        let added_at = f.required("added-at", "дата включения в регистр")?;
        let added_at = f.parse_date("added-at", "дата включения в регистр", added_at)?;
        recipient.write(&mut xml, |xml| {
            xml.open("Ipra", &[]);
            xml.leaf("Number", number);
            xml.leaf("DocumentId", document_id);
            xml.close("Ipra");
            xml.leaf("AddedAt", &added_at);
            xml.leaf_opt("IppsuStatus", value(&person.extra, "ippsu-status"));
        });
    }
    xml.close("RecipientRegister");
    Ok(Document {
        name: file_name(package),
        media_type: "application/xml".into(),
        bytes: xml.finish().into_bytes(),
    })
}
