//! Department plugin «Социальная защита населения»: claims the IPRA's social measures, drafts the IPPSU
//! (individual programme of social services) from them and asks to register the person as a social-service recipient.
//!
//! Claims, validation and the report section are the SDK's [`department`](ipra_plugin_sdk::department). What is
//! particular here happens on `import`: when a new IPRA has measures of this section, the output carries two
//! follow-ups (ИС «Исполнение ИПРА», «Формирование ИППСУ на основе данных ИПРА»):
//!
//! - `ippsu-draft`: the draft IPPSU, with attributes `snils`, `surname`, `given-name`, `patronymic`, `birth-date`,
//!   `ipra-number`, `ipra-document-id`, `services` (count) and per service *i* (from 1) `service.<i>.key`,
//!   `service.<i>.name`, `service.<i>.code`, `service.<i>.from`, `service.<i>.to`, `service.<i>.provider-ogrn`
//!   (empty values are left out), and the document `ippsu-draft-<IPRA document id>.xml`;
//! - `social-service-recipient`: add the person to the register of social-service recipients (442-ФЗ), with the
//!   person's `snils`, names, `birth-date`, `gender`, `territory-code`, `address` and `ipra-number`.
//!
//! The config key `ippsu-draft` (`true` by default) turns both off, e.g. where АИС СОН drafts IPPSU itself.
//!
//! # The IPPSU draft document (namespace `urn:ipra:ippsu-draft:1.0`)
//!
//! ```xml
//! <?xml version="1.0" encoding="UTF-8"?>
//! <IppsuDraft xmlns="urn:ipra:ippsu-draft:1.0" version="1.0">
//!   <Ipra>                      <!-- the IPRA the draft is built from -->
//!     <ExtractId>…</ExtractId> <DocumentId>…</DocumentId> <Number>…</Number>
//!     <ProtocolNumber>…</ProtocolNumber> <ProtocolDate>…</ProtocolDate>
//!     <DecisionDate>…</DecisionDate>?  <ValidUntil>…</ValidUntil>?  <IssuedBy>…</IssuedBy>?
//!   </Ipra>
//!   <Recipient>                 <!-- the person -->
//!     <Snils>11 digits</Snils> <Surname>…</Surname> <GivenName>…</GivenName> <Patronymic>…</Patronymic>?
//!     <BirthDate>YYYY-MM-DD</BirthDate>?  <Gender>M|F</Gender>?  <TerritoryCode>…</TerritoryCode>?
//!     <Address>…</Address>?
//!   </Recipient>
//!   <Services>                  <!-- one per social measure of the IPRA, in the IPRA's order -->
//!     <Service key="measure key">
//!       <Name>…</Name> <Code>…</Code>?
//!       <Category code="category code">category name</Category>
//!       <Period><From>YYYY-MM-DD</From>? <To>YYYY-MM-DD</To>?</Period>  <!-- the measure's, else the IPRA's -->
//!       <Provider><Ogrn>…</Ogrn></Provider>?  <!-- the executor the claim chose, when any -->
//!     </Service>
//!   </Services>
//! </IppsuDraft>
//! ```
//! Optional elements (`?`) are left out when the value is absent. The draft is a proposal: the social-service
//! body approves (or corrects) the IPPSU in its own system.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, FollowUp, ImportInput, ImportOutput, IpraExtract, MeasureClaim, PluginError,
};
use ipra_plugin_sdk::department::{attr, file_name_part, Department, Lookups, XmlWriter};

/// This department: section `social-protection`.
pub const DEPARTMENT: Department = Department {
    id: "social-protection",
    section: "social-protection",
    label: "Социальная защита населения",
};

/// Namespace of the IPPSU draft document.
pub const IPPSU_NAMESPACE: &str = "urn:ipra:ippsu-draft:1.0";

/// Config key: whether to draft the IPPSU and the recipient registration (`true` unless set to `false`).
pub const IPPSU_DRAFT_KEY: &str = "ippsu-draft";

ipra_plugin_sdk::department_plugin!(
    /// The plugin exported to the host.
    Plugin = DEPARTMENT, {
        fn config_keys() -> Vec<ConfigKey> {
            vec![ConfigKey {
                name: IPPSU_DRAFT_KEY.to_string(),
                description: "Формировать проект ИППСУ и запрос на включение в регистр получателей социальных услуг при поступлении ИПРА (true/false)".to_string(),
                required: false,
                default_value: Some("true".to_string()),
            }]
        }

        fn import(input: ImportInput, lookups: &dyn Lookups) -> Result<ImportOutput, PluginError> {
            import(input, lookups)
        }
    }
);

/// Hook `import`: the department's claims plus, when social measures were claimed, the IPPSU draft and the
/// recipient registration follow-ups.
pub fn import(input: ImportInput, lookups: &dyn Lookups) -> Result<ImportOutput, PluginError> {
    let ipra = match &input {
        ImportInput::Ipra(ipra) => Some(ipra.clone()),
        ImportInput::Document(_) => None,
    };
    let mut output = DEPARTMENT.import(input, lookups)?;
    let enabled = lookups
        .config(IPPSU_DRAFT_KEY)
        .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"));
    if let Some(ipra) = ipra.filter(|_| enabled && !output.claims.is_empty()) {
        output.follow_ups.push(ippsu_draft(&ipra, &output.claims));
        output.follow_ups.push(recipient_registration(&ipra));
    }
    Ok(output)
}

fn full_name(ipra: &IpraExtract) -> String {
    let person = &ipra.person;
    [
        Some(person.surname.as_str()),
        Some(person.given_name.as_str()),
        person.patronymic.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.trim().is_empty())
    .collect::<Vec<_>>()
    .join(" ")
}

fn push_some(
    attributes: &mut Vec<ipra_plugin_sdk::bindings::ipra::plugin::types::Attribute>,
    code: &str,
    value: Option<&str>,
) {
    if let Some(value) = value.filter(|v| !v.trim().is_empty()) {
        attributes.push(attr(code, value));
    }
}

/// The `ippsu-draft` follow-up: the social measures as proposed services, with the rendered draft document.
pub fn ippsu_draft(ipra: &IpraExtract, claims: &[MeasureClaim]) -> FollowUp {
    let person = &ipra.person;
    let services: Vec<_> = DEPARTMENT
        .measures(ipra)
        .map(|measure| {
            let provider = claims
                .iter()
                .find(|c| c.measure_key == measure.key)
                .and_then(|c| c.executor_ogrn.as_deref());
            let from = measure.date_from.as_deref().or(ipra.decision_date.as_deref());
            let to = measure.date_to.as_deref().or(ipra.valid_until.as_deref());
            (measure, provider, from, to)
        })
        .collect();

    let mut attributes = Vec::new();
    push_some(&mut attributes, "snils", Some(&person.snils));
    push_some(&mut attributes, "surname", Some(&person.surname));
    push_some(&mut attributes, "given-name", Some(&person.given_name));
    push_some(&mut attributes, "patronymic", person.patronymic.as_deref());
    push_some(&mut attributes, "birth-date", person.birth_date.as_deref());
    push_some(&mut attributes, "ipra-number", Some(&ipra.number));
    push_some(&mut attributes, "ipra-document-id", Some(&ipra.document_id));
    attributes.push(attr("services", &services.len().to_string()));
    for (i, (measure, provider, from, to)) in services.iter().enumerate() {
        let prefix = format!("service.{}", i + 1);
        push_some(&mut attributes, &format!("{prefix}.key"), Some(&measure.key));
        push_some(&mut attributes, &format!("{prefix}.name"), Some(&measure.name));
        push_some(&mut attributes, &format!("{prefix}.code"), measure.code.as_deref());
        push_some(&mut attributes, &format!("{prefix}.from"), *from);
        push_some(&mut attributes, &format!("{prefix}.to"), *to);
        push_some(&mut attributes, &format!("{prefix}.provider-ogrn"), *provider);
    }

    let mut xml = XmlWriter::new();
    xml.open("IppsuDraft", &[("xmlns", IPPSU_NAMESPACE), ("version", "1.0")]);
    xml.open("Ipra", &[]);
    xml.leaf("ExtractId", &ipra.extract_id);
    xml.leaf("DocumentId", &ipra.document_id);
    xml.leaf("Number", &ipra.number);
    xml.leaf("ProtocolNumber", &ipra.protocol_number);
    xml.leaf("ProtocolDate", &ipra.protocol_date);
    xml.leaf_opt("DecisionDate", ipra.decision_date.as_deref());
    xml.leaf_opt("ValidUntil", ipra.valid_until.as_deref());
    xml.leaf_opt("IssuedBy", ipra.issued_by.as_deref());
    xml.close("Ipra");
    xml.open("Recipient", &[]);
    xml.leaf("Snils", &person.snils);
    xml.leaf("Surname", &person.surname);
    xml.leaf("GivenName", &person.given_name);
    xml.leaf_opt("Patronymic", person.patronymic.as_deref());
    xml.leaf_opt("BirthDate", person.birth_date.as_deref());
    xml.leaf_opt("Gender", person.gender.as_deref());
    xml.leaf_opt("TerritoryCode", person.territory_code.as_deref());
    xml.leaf_opt("Address", person.address.as_deref());
    xml.close("Recipient");
    xml.open("Services", &[]);
    for (measure, provider, from, to) in &services {
        xml.open("Service", &[("key", &measure.key)]);
        xml.leaf("Name", &measure.name);
        xml.leaf_opt("Code", measure.code.as_deref());
        xml.leaf_with("Category", &[("code", &measure.category_code)], &measure.category_name);
        xml.open("Period", &[]);
        xml.leaf_opt("From", *from);
        xml.leaf_opt("To", *to);
        xml.close("Period");
        if let Some(ogrn) = provider {
            xml.open("Provider", &[]);
            xml.leaf("Ogrn", ogrn);
            xml.close("Provider");
        }
        xml.close("Service");
    }
    xml.close("Services");
    xml.close("IppsuDraft");

    FollowUp {
        kind: "ippsu-draft".to_string(),
        title: format!(
            "Проект ИППСУ по ИПРА № {}: {} (услуг: {})",
            ipra.number,
            full_name(ipra),
            services.len()
        ),
        due_date: None,
        attributes,
        document: Some(Document {
            name: format!("ippsu-draft-{}.xml", file_name_part(&ipra.document_id)),
            media_type: "application/xml".to_string(),
            bytes: xml.finish().into_bytes(),
        }),
    }
}

/// The `social-service-recipient` follow-up: register the person as a recipient of social services.
pub fn recipient_registration(ipra: &IpraExtract) -> FollowUp {
    let person = &ipra.person;
    let mut attributes = Vec::new();
    push_some(&mut attributes, "snils", Some(&person.snils));
    push_some(&mut attributes, "surname", Some(&person.surname));
    push_some(&mut attributes, "given-name", Some(&person.given_name));
    push_some(&mut attributes, "patronymic", person.patronymic.as_deref());
    push_some(&mut attributes, "birth-date", person.birth_date.as_deref());
    push_some(&mut attributes, "gender", person.gender.as_deref());
    push_some(&mut attributes, "territory-code", person.territory_code.as_deref());
    push_some(&mut attributes, "address", person.address.as_deref());
    push_some(&mut attributes, "ipra-number", Some(&ipra.number));
    FollowUp {
        kind: "social-service-recipient".to_string(),
        title: format!(
            "Включить {} (СНИЛС {}) в регистр получателей социальных услуг",
            full_name(ipra),
            person.snils
        ),
        due_date: None,
        attributes,
        document: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipra_plugin_sdk::bindings::Guest;
    use ipra_plugin_sdk::department::{attribute, sample_ipra, MemoryLookups};

    const CENTRE: &str = "1037739010891";

    fn lookups() -> MemoryLookups {
        MemoryLookups::default()
            .with_organisation(CENTRE, "ГБУ «Комплексный центр социального обслуживания»")
            .with_route("social-protection", "45000", CENTRE)
    }

    /// xmllint (a parser nobody on the team wrote) must read the draft.
    fn assert_well_formed(document: &Document) {
        let path = std::env::temp_dir().join(format!("{}-{}", std::process::id(), document.name));
        std::fs::write(&path, &document.bytes).unwrap();
        let output = std::process::Command::new("xmllint")
            .arg("--noout")
            .arg(&path)
            .output()
            .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
        let _ = std::fs::remove_file(&path);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }

    #[test]
    fn a_new_ipra_with_social_measures_gets_an_ippsu_draft_and_a_recipient_registration() {
        let mut ipra = sample_ipra();
        ipra.person.address = Some("ул. «Мира» & Ко, д. <1>".into());
        ipra.measures[3].date_from = Some("2025-02-01".into());
        let out = import(ImportInput::Ipra(ipra), &lookups()).unwrap();
        assert_eq!(out.claims.len(), 1);
        assert_eq!(out.claims[0].executor_ogrn.as_deref(), Some(CENTRE));
        let kinds: Vec<_> = out.follow_ups.iter().map(|f| f.kind.as_str()).collect();
        assert_eq!(kinds, ["ippsu-draft", "social-service-recipient"]);

        let draft = &out.follow_ups[0];
        let a = &draft.attributes;
        assert_eq!(attribute(a, "snils"), Some("11223344595"));
        assert_eq!(attribute(a, "ipra-number"), Some("1234.5.45/2025"));
        assert_eq!(attribute(a, "services"), Some("1"));
        assert_eq!(attribute(a, "service.1.key"), Some("4"));
        assert_eq!(attribute(a, "service.1.name"), Some("Социально-бытовая реабилитация"));
        // The measure's own start, the IPRA's end when the measure has none.
        assert_eq!(attribute(a, "service.1.from"), Some("2025-02-01"));
        assert_eq!(attribute(a, "service.1.to"), Some("2026-02-01"));
        assert_eq!(attribute(a, "service.1.provider-ogrn"), Some(CENTRE));
        assert!(draft.title.contains("Иванов Иван Иванович"));

        let doc = draft.document.as_ref().unwrap();
        assert_eq!(doc.name, "ippsu-draft-D-1.xml");
        assert_eq!(doc.media_type, "application/xml");
        assert_well_formed(doc);
        let text = String::from_utf8(doc.bytes.clone()).unwrap();
        assert!(text.contains("<IppsuDraft xmlns=\"urn:ipra:ippsu-draft:1.0\" version=\"1.0\">"));
        assert!(text.contains("<Service key=\"4\">"));
        assert!(text.contains("<Address>ул. «Мира» &amp; Ко, д. &lt;1&gt;</Address>"));
        assert!(text.contains("<Provider>") && text.contains("<Ogrn>1037739010891</Ogrn>"));

        let recipient = &out.follow_ups[1];
        assert_eq!(attribute(&recipient.attributes, "snils"), Some("11223344595"));
        assert_eq!(attribute(&recipient.attributes, "territory-code"), Some("45000"));
        assert!(recipient.document.is_none());
    }

    #[test]
    fn no_social_measures_no_follow_ups() {
        let mut ipra = sample_ipra();
        ipra.measures.retain(|m| m.section != "social-protection");
        let out = import(ImportInput::Ipra(ipra), &lookups()).unwrap();
        assert!(out.claims.is_empty() && out.follow_ups.is_empty());
    }

    #[test]
    fn the_config_can_turn_the_draft_off() {
        let off = lookups().with_config(IPPSU_DRAFT_KEY, "false");
        let out = import(ImportInput::Ipra(sample_ipra()), &off).unwrap();
        assert_eq!(out.claims.len(), 1);
        assert!(out.follow_ups.is_empty());
    }

    #[test]
    fn documents_are_not_imported() {
        let doc = Document {
            name: "x.xml".into(),
            media_type: "application/xml".into(),
            bytes: Vec::new(),
        };
        assert_eq!(
            import(ImportInput::Document(doc), &lookups()).unwrap_err().code,
            "not-supported"
        );
    }

    #[test]
    fn describes_its_section_and_config() {
        let info = <Plugin as Guest>::describe();
        assert_eq!(info.sections, ["social-protection"]);
        assert_eq!(info.config_keys[0].name, IPPSU_DRAFT_KEY);
    }
}
