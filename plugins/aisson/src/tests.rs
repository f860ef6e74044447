use super::*;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Normalized, Person, PlanInput, PriorReport, Receipt, RecordOutcome,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");

/// The social-protection executor of the tests' directory (`tests/common`, `directory()`).
const PROVIDER: &str = "1027700132030";
/// The IPRA of `11350102278_IPRA_2019.xml` and its two first social-protection measures.
const IPRA_2019: &str = "d4088685-305d-4a0a-ac8e-9bcca19004cc";
const KEY_2019_HOUSEHOLD: &str = "E5F940179FB1E657143B59D960F965F1.387687B3580A2506C39BA48A4BB8CFFA";
const KEY_2019_ENVIRONMENT: &str = "E5F940179FB1E657143B59D960F965F1.3621A7CAE567879C4D47E4C93AF9C301";
/// The IPRA of `extract_4.xml` and its social-environment measure.
const IPRA_4: &str = "a0b64f86-1a7c-4e4b-87ce-37b28271b33b";
const KEY_4_ENVIRONMENT: &str = "95C98A91E4DFB79FF184EBBA37A762F2.9B32854134513E6531C7DBD8F4CDE343";

fn attrs(pairs: &[(&str, &str)]) -> Vec<Attribute> {
    pairs
        .iter()
        .map(|(code, value)| Attribute {
            code: code.to_string(),
            value: value.to_string(),
        })
        .collect()
}

fn person(snils: &str, extra: Vec<Attribute>) -> Person {
    Person {
        snils: snils.into(),
        surname: "Хаслова".into(),
        given_name: "Валентина".into(),
        patronymic: Some("Ивановна".into()),
        birth_date: Some("1957-05-15".into()),
        gender: Some("F".into()),
        territory_code: Some("cb77cc8b-1bb2-4c34-a7f7-51a46bc37725".into()),
        address: Some("625000, Тюмень г., Мельничная ул., д. 77".into()),
        extra,
    }
}

/// `xmllint --schema` of a document against one of the plugin's schemas: whether it holds, and what xmllint said.
fn xmllint(name: &str, bytes: &[u8], schema: &str) -> (bool, String) {
    let path = std::env::temp_dir().join(format!("aisson-{}-{name}", std::process::id()));
    std::fs::write(&path, bytes).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--nonet")
        .arg("--schema")
        .arg(format!("{SCHEMAS}/{schema}"))
        .arg(&path)
        .output()
        .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
    let _ = std::fs::remove_file(&path);
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn validate(document: &Document, schema: &str) {
    let (ok, said) = xmllint(&document.name, &document.bytes, schema);
    assert!(ok, "{}: {said}", document.name);
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

// ---- IPPSU drafts ----

fn ippsu_plan(changes: &[(&str, &str)]) -> PlanInput {
    let mut all = vec![
        // As the social-protection department stored the follow-up.
        ("snils", "74133421058"),
        ("surname", "Хаслова"),
        ("given-name", "Валентина"),
        ("ipra-number", "МРН-2055552/21"),
        ("ipra-document-id", IPRA_2019),
        ("services", "2"),
        ("service.1.key", KEY_2019_HOUSEHOLD),
        ("service.1.name", "Социально-бытовая адаптация"),
        ("service.1.code", "46"),
        ("service.1.from", "2021-10-04"),
        ("service.1.to", "2025-08-20"),
        ("service.1.provider-ogrn", PROVIDER),
        ("service.2.key", KEY_2019_ENVIRONMENT),
        ("service.2.name", "Социально-средовая реабилитация или абилитация"),
        ("service.2.code", "43"),
        // As the extract gave it (8 digits): left out, the draft still goes.
        ("service.2.provider-ogrn", "29346299"),
        // The host's own.
        ("message-id", "2-1"),
        ("action", "create"),
        ("ipra-protocol-number", "П.МР-15555515/20"),
        ("ipra-protocol-date", "2021-05-01"),
        ("ipra-decision-date", "2020-12-13"),
        ("ipra-valid-until", "2027-05-15"),
        (
            "ipra-issued-by",
            "Бюро социально-медицинской экспертизы по Тюменской области",
        ),
    ];
    for (code, value) in changes {
        all.retain(|(c, _)| c != code);
        if !value.is_empty() {
            all.push((code, value));
        }
    }
    PlanInput {
        step: ippsu::STEP.into(),
        persons: vec![person("74133421058", Vec::new())],
        today: "2026-11-20".into(),
        extra: attrs(&all),
    }
}

fn render(plan: PlanInput) -> Result<Document, PluginError> {
    export(ExportInput::Requests(plan)).map(|mut docs| {
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    })
}

#[test]
fn a_new_ippsu_draft_is_written_in_its_schema() {
    let doc = render(ippsu_plan(&[])).unwrap();
    assert_eq!(doc.name, "ippsu-2-1.xml");
    assert_eq!(doc.media_type, "application/xml");
    validate(&doc, "ippsu-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    for expected in [
        r#"<IppsuRequest xmlns="urn:ipra:aisson:ippsu:1.0" version="1.0" action="create">"#,
        "<MessageId>2-1</MessageId>",
        "<Date>2026-11-20</Date>",
        "<Number>МРН-2055552/21</Number>",
        &format!("<DocumentId>{IPRA_2019}</DocumentId>"),
        "<ProtocolDate>2021-05-01</ProtocolDate>",
        "<ValidUntil>2027-05-15</ValidUntil>",
        "<Snils>74133421058</Snils>",
        "<Gender>F</Gender>",
        &format!(r#"<Service key="{KEY_2019_HOUSEHOLD}">"#),
        "<From>2021-10-04</From>",
        "<To>2025-08-20</To>",
        &format!("<ProviderOgrn>{PROVIDER}</ProviderOgrn>"),
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    assert!(!text.contains("<Correction>"), "{text}");
    // The 8-digit OGRN of the extract is left out; only the valid provider is written.
    assert!(!text.contains("29346299"), "{text}");
    assert_eq!(text.matches("<ProviderOgrn>").count(), 1, "{text}");
    // The second service has no period of its own: none is written.
    assert_eq!(text.matches("<Period>").count(), 1, "{text}");
}

#[test]
fn a_correction_says_why_and_which_ipra_it_replaces() {
    let doc = render(ippsu_plan(&[
        ("message-id", "7-12"),
        ("action", "correct"),
        ("reason", "поступила новая ИПРА"),
        ("previous-ipra-document-id", "ff60a3e0-8196-48b8-9815-6c624fc17afc"),
    ]))
    .unwrap();
    assert_eq!(doc.name, "ippsu-7-12.xml");
    validate(&doc, "ippsu-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    assert!(text.contains(r#"version="1.0" action="correct">"#), "{text}");
    assert!(text.contains("<Reason>поступила новая ИПРА</Reason>"), "{text}");
    assert!(
        text.contains("<PreviousIpraDocumentId>ff60a3e0-8196-48b8-9815-6c624fc17afc</PreviousIpraDocumentId>"),
        "{text}"
    );
    // A changed measure of the same IPRA: a correction without a previous IPRA.
    let doc = render(ippsu_plan(&[
        ("action", "correct"),
        ("reason", "изменён исполнитель мероприятия"),
    ]))
    .unwrap();
    validate(&doc, "ippsu-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    assert!(
        text.contains("<Reason>изменён исполнитель мероприятия</Reason>"),
        "{text}"
    );
    assert!(!text.contains("PreviousIpraDocumentId"), "{text}");
}

#[test]
fn hostile_text_is_escaped_and_the_document_still_holds() {
    let mut plan = ippsu_plan(&[("service.1.name", "Адаптация <b>&amp;</b> \"быт\" ]]> 'x'")]);
    plan.persons[0].surname = "Хаслова</Surname><Surname>Иванова".into();
    plan.persons[0].address = Some("<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>&e;".into());
    let doc = render(plan).unwrap();
    validate(&doc, "ippsu-1.0.xsd");
    let text = String::from_utf8(doc.bytes.clone()).unwrap();
    assert!(
        text.contains("<Surname>Хаслова&lt;/Surname&gt;&lt;Surname&gt;Иванова</Surname>"),
        "{text}"
    );
    assert!(!text.contains("<!DOCTYPE"), "{text}");
    assert!(text.contains("&amp;e;"), "{text}");
    // Read back, every text is exactly what was given.
    let root = ipra_plugin_sdk::xml::tree::parse(&doc.bytes).unwrap();
    let service = root.child("Services").unwrap().child("Service").unwrap();
    assert_eq!(
        service.child_text("Name"),
        Some("Адаптация <b>&amp;</b> \"быт\" ]]> 'x'")
    );

    let mut plan = recipients_plan();
    plan.persons[0].given_name = "Валентина & <Co>".into();
    plan.extra = attrs(&[("package", "1-2"), ("region", "Департамент \"социального\" <развития>")]);
    let doc = render(plan).unwrap();
    validate(&doc, "recipients-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    assert!(
        text.contains("<GivenName>Валентина &amp; &lt;Co&gt;</GivenName>"),
        "{text}"
    );
}

#[test]
fn an_ippsu_draft_with_a_missing_or_bad_field_is_not_written() {
    for (change, code, field) in [
        (("message-id", ""), "missing-field", "message-id"),
        (("message-id", "../../etc/passwd"), "message-id-invalid", "message-id"),
        (("action", ""), "missing-field", "action"),
        (("action", "delete"), "action-unknown", "action"),
        (("ipra-number", ""), "missing-field", "ipra-number"),
        (("ipra-document-id", ""), "missing-field", "ipra-document-id"),
        (
            ("ipra-protocol-date", "2021-02-30"),
            "date-invalid",
            "ipra-protocol-date",
        ),
        (("services", ""), "missing-field", "services"),
        (("services", "0"), "services-invalid", "services"),
        (("service.1.key", ""), "missing-field", "service.1.key"),
        (
            ("service.2.key", KEY_2019_HOUSEHOLD),
            "service-duplicate",
            "service.2.key",
        ),
        (("service.2.name", ""), "missing-field", "service.2.name"),
        (("service.1.from", "32.01.2026"), "date-invalid", "service.1.from"),
        (("service.1.to", "2020-01-01"), "date-order", "service.1.to"),
        // A correction must say why.
        (("action", "correct"), "missing-field", "reason"),
    ] {
        let e = render(ippsu_plan(&[change])).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            (code, Some(field)),
            "{change:?}: {e:?}"
        );
        assert!(e.record.as_deref().unwrap().starts_with("Проект ИППСУ"), "{e:?}");
        assert!(e.message.starts_with("Проект ИППСУ"), "{e:?}");
    }
    let mut plan = ippsu_plan(&[]);
    plan.persons[0].snils = "74133421059".into();
    let e = render(plan).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("snils-checksum", Some("snils")),
        "{e:?}"
    );
    let mut plan = ippsu_plan(&[]);
    plan.persons[0].surname = " ".into();
    assert_eq!(render(plan).unwrap_err().field.as_deref(), Some("surname"));
    let mut plan = ippsu_plan(&[]);
    plan.persons.push(plan.persons[0].clone());
    assert_eq!(render(plan).unwrap_err().code, "persons-count");
    let e = render(PlanInput {
        step: "other".into(),
        ..ippsu_plan(&[])
    })
    .unwrap_err();
    assert_eq!((e.code.as_str(), e.field.as_deref()), ("step-unknown", Some("step")));
}

// ---- the register of recipients ----

fn recipients_plan() -> PlanInput {
    let recipient = |snils: &str, number: &str, document_id: &str, status: Option<&str>| {
        let mut extra = attrs(&[
            ("ipra-number", number),
            ("ipra-document-id", document_id),
            ("added-at", "2026-11-20"),
        ]);
        if let Some(status) = status {
            extra.extend(attrs(&[("ippsu-status", status)]));
        }
        person(snils, extra)
    };
    let mut second = recipient("12033421587", "МРН-20882/21", IPRA_4, None);
    second.surname = "Погодина".into();
    second.patronymic = None;
    second.gender = None;
    second.territory_code = None;
    second.address = None;
    PlanInput {
        step: recipients::STEP.into(),
        persons: vec![
            recipient("74133421058", "МРН-2055552/21", IPRA_2019, Some("проект ИППСУ принят")),
            second,
        ],
        today: "2026-11-20".into(),
        extra: attrs(&[
            ("package", "1-40"),
            ("region", "Департамент социального развития Тюменской области"),
        ]),
    }
}

#[test]
fn the_register_of_recipients_is_written_in_its_schema() {
    let doc = render(recipients_plan()).unwrap();
    assert_eq!(doc.name, "recipients-1-40.xml");
    validate(&doc, "recipients-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    for expected in [
        r#"<RecipientRegister xmlns="urn:ipra:aisson:recipients:1.0" version="1.0">"#,
        "<PackageId>1-40</PackageId>",
        "<Date>2026-11-20</Date>",
        "<Region>Департамент социального развития Тюменской области</Region>",
        "<Count>2</Count>",
        "<Snils>74133421058</Snils>",
        "<Snils>12033421587</Snils>",
        &format!("<DocumentId>{IPRA_4}</DocumentId>"),
        "<AddedAt>2026-11-20</AddedAt>",
        "<IppsuStatus>проект ИППСУ принят</IppsuStatus>",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
    assert_eq!(text.matches("<IppsuStatus>").count(), 1);
    // A package id that may not stand in a file name gets a stable UUID name instead.
    let mut plan = recipients_plan();
    plan.extra = attrs(&[("package", "aisson:1/40")]);
    let doc = render(plan.clone()).unwrap();
    validate(&doc, "recipients-1.0.xsd");
    assert!(doc.name.starts_with("recipients-") && !doc.name.contains('/') && !doc.name.contains(':'));
    assert_eq!(render(plan).unwrap().name, doc.name);
}

#[test]
fn a_register_with_a_bad_recipient_names_them() {
    let mut plan = recipients_plan();
    plan.persons[1].extra.retain(|a| a.code != "added-at");
    let e = render(plan).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("missing-field", Some("added-at"))
    );
    assert_eq!(e.record.as_deref(), Some("Получатель 2 (СНИЛС 120-334-215 87)"));
    let mut plan = recipients_plan();
    plan.persons[0].extra = attrs(&[
        ("ipra-number", "1"),
        ("ipra-document-id", "D"),
        ("added-at", "2026-13-01"),
    ]);
    let e = render(plan).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("date-invalid", Some("added-at"))
    );
    let mut plan = recipients_plan();
    plan.persons[1].snils = "12033421588".into();
    assert_eq!(render(plan).unwrap_err().code, "snils-checksum");
    let mut plan = recipients_plan();
    plan.persons[0].gender = Some("X".into());
    assert_eq!(render(plan).unwrap_err().field.as_deref(), Some("gender"));
    let mut plan = recipients_plan();
    plan.extra.clear();
    assert_eq!(render(plan).unwrap_err().field.as_deref(), Some("package"));
    let mut plan = recipients_plan();
    plan.persons.clear();
    assert_eq!(render(plan).unwrap_err().code, "recipients-count");
}

// ---- the services reported back ----

fn import_text(name: &str, text: &str) -> Result<ImportOutput, PluginError> {
    import(ImportInput::Document(Document {
        name: name.into(),
        media_type: "application/xml".into(),
        bytes: text.as_bytes().to_vec(),
    }))
}

fn report(outcome: &RecordOutcome) -> &PriorReport {
    match &outcome.outcome {
        Ok(Normalized::PriorReport(report)) => report,
        other => panic!("{}: {other:?}", outcome.locator),
    }
}

fn extra<'a>(attributes: &'a [Attribute], code: &str) -> Option<&'a str> {
    attributes.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

#[test]
fn the_services_reported_become_prior_reports_of_the_recipients() {
    let out = import_text("services-report.xml", &fixture("services-report.xml")).unwrap();
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    assert_eq!(out.records.len(), 2);
    assert_eq!(out.records[0].locator, "Recipient[1] СНИЛС 741-334-210 58");
    assert_eq!(out.records[1].locator, "Recipient[2] СНИЛС 120-334-215 87");

    let first = report(&out.records[0]);
    assert_eq!(first.document_id, "SON-2026-11-0042/1");
    assert_eq!(first.document_version, "1.0");
    assert_eq!(first.parent_document_id.as_deref(), Some(IPRA_2019));
    assert_eq!(first.number.as_deref(), Some("ИППСУ-72-004512"));
    assert_eq!(first.date.as_deref(), Some("2026-11-18"));
    assert_eq!(
        first.source.as_deref(),
        Some("АИС СОН: Департамент социального развития Тюменской области")
    );
    assert_eq!(first.snils, "74133421058");
    assert_eq!(first.entries.len(), 2);
    let provided = &first.entries[0];
    assert_eq!(provided.key, KEY_2019_HOUSEHOLD);
    assert_eq!(provided.section, "social-protection");
    assert_eq!(
        (provided.category_code.as_str(), provided.category_name.as_str()),
        ("", "")
    );
    assert_eq!(provided.code.as_deref(), Some("46"));
    assert_eq!(provided.name, "Социально-бытовая адаптация");
    assert_eq!(provided.executor_ogrn.as_deref(), Some(PROVIDER));
    assert_eq!(
        provided.executor_name.as_deref(),
        Some("АУ СОН ТО «Комплексный центр социального обслуживания населения г. Тюмени»")
    );
    assert_eq!(provided.date_from.as_deref(), Some("2026-02-02"));
    assert_eq!(provided.date_to.as_deref(), Some("2026-10-30"));
    assert_eq!(provided.guid, None);
    assert_eq!(provided.quantity, None);
    assert_eq!(extra(&provided.extra, "result"), Some("provided"));
    assert_eq!(extra(&provided.extra, "reason"), None);
    let refused = &first.entries[1];
    assert_eq!(refused.key, KEY_2019_ENVIRONMENT);
    assert_eq!(extra(&refused.extra, "result"), Some("refused"));
    assert_eq!(
        extra(&refused.extra, "reason"),
        Some("Письменный отказ получателя от услуги от 10.03.2026")
    );
    assert_eq!(
        (refused.date_from.as_deref(), refused.date_to.as_deref()),
        (Some("2026-03-10"), None)
    );

    let second = report(&out.records[1]);
    assert_eq!(second.document_id, "SON-2026-11-0042/2");
    assert_eq!(second.parent_document_id.as_deref(), Some(IPRA_4));
    assert_eq!(second.number, None);
    assert_eq!(second.snils, "12033421587");
    assert_eq!(second.entries.len(), 1);
    let not_provided = &second.entries[0];
    assert_eq!(not_provided.key, KEY_4_ENVIRONMENT);
    assert_eq!(not_provided.executor_name, None);
    assert_eq!(extra(&not_provided.extra, "result"), Some("not-provided"));
    assert!(extra(&not_provided.extra, "reason").unwrap().contains("выбыл"));

    // Without a Body the source is АИС СОН alone.
    let text =
        fixture("services-report.xml").replace("<Body>Департамент социального развития Тюменской области</Body>", "");
    let out = import_text("r.xml", &text).unwrap();
    assert_eq!(report(&out.records[0]).source.as_deref(), Some("АИС СОН"));
}

#[test]
fn a_recipient_that_does_not_hold_is_refused_alone() {
    let good = fixture("services-report.xml");
    let first_service = format!(r#"<Service key="{KEY_2019_HOUSEHOLD}">"#);
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            good.replacen("<Snils>74133421058</Snils>", "<Snils>74133421059</Snils>", 1),
            "snils-checksum",
            "Snils",
            "74133421059",
        ),
        (
            good.replacen("<Snils>74133421058</Snils>", "", 1),
            "missing-field",
            "Snils",
            "СНИЛС",
        ),
        (
            good.replacen(&format!("<IpraDocumentId>{IPRA_2019}</IpraDocumentId>"), "", 1),
            "missing-field",
            "IpraDocumentId",
            "ИПРА",
        ),
        (
            good.replacen("<DateFrom>2026-02-02</DateFrom>", "<DateFrom>2025-02-30</DateFrom>", 1),
            "date-invalid",
            "Service[1]/DateFrom",
            "2025-02-30",
        ),
        (
            good.replacen("<DateTo>2026-10-30</DateTo>", "<DateTo>2026-01-30</DateTo>", 1),
            "date-order",
            "Service[1]/DateTo",
            "2026-01-30",
        ),
        (
            good.replacen("<DateTo>2026-10-30</DateTo>", "<DateTo>2026-11-19</DateTo>", 1),
            "date-future",
            "Service[1]/DateTo",
            "позже даты сведений 2026-11-18",
        ),
        (
            good.replacen(
                "<ProviderOgrn>1027700132030</ProviderOgrn>",
                "<ProviderOgrn>1027700132031</ProviderOgrn>",
                1,
            ),
            "ogrn-checksum",
            "Service[1]/ProviderOgrn",
            "1027700132031",
        ),
        (
            good.replacen("<ProviderOgrn>1027700132030</ProviderOgrn>", "", 1),
            "missing-field",
            "Service[1]/ProviderOgrn",
            "ОГРН",
        ),
        (
            good.replacen("<Result>provided</Result>", "<Result>maybe</Result>", 1),
            "result-unknown",
            "Service[1]/Result",
            "«maybe»",
        ),
        (
            good.replacen(
                "<Reason>Письменный отказ получателя от услуги от 10.03.2026</Reason>",
                "",
                1,
            ),
            "missing-field",
            "Service[2]/Reason",
            "refused",
        ),
        (
            good.replacen(&first_service, "<Service>", 1),
            "missing-field",
            "Service[1]/@key",
            "ключ",
        ),
        (
            good.replacen(&first_service, r#"<Service key="  ">"#, 1),
            "missing-field",
            "Service[1]/@key",
            "ключ",
        ),
        (
            good.replacen(
                &format!(r#"key="{KEY_2019_ENVIRONMENT}""#),
                &format!(r#"key="{KEY_2019_HOUSEHOLD}""#),
                1,
            ),
            "service-duplicate",
            "Service[2]/@key",
            "дважды",
        ),
        (
            good.replacen("<Name>Социально-бытовая адаптация</Name>", "", 1),
            "missing-field",
            "Service[1]/Name",
            "наименование",
        ),
    ];
    for (text, code, field, said) in cases {
        let out = import_text("services.xml", &text).unwrap_or_else(|e| panic!("{code} {field}: {e:?}"));
        assert_eq!(out.records.len(), 2, "{code} {field}");
        let Err(e) = &out.records[0].outcome else {
            panic!("{code} {field}: accepted {:?}", out.records[0].outcome);
        };
        assert_eq!((e.code.as_str(), e.field.as_deref()), (code, Some(field)), "{e:?}");
        assert_eq!(e.record.as_deref(), Some(out.records[0].locator.as_str()));
        assert!(e.message.starts_with("Recipient[1]"), "{}", e.message);
        assert!(e.message.contains(said), "{said}: {}", e.message);
        // The other recipient goes on.
        assert_eq!(report(&out.records[1]).document_id, "SON-2026-11-0042/2");
    }
    // not-provided without a reason as well.
    let text = good.replacen(
        "<Reason>Получатель выбыл на постоянное место жительства за пределы региона</Reason>",
        "",
        1,
    );
    let out = import_text("services.xml", &text).unwrap();
    let Err(e) = &out.records[1].outcome else { panic!() };
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("missing-field", Some("Service[1]/Reason"))
    );
    assert!(out.records[0].outcome.is_ok());
}

#[test]
fn the_doubtful_sample_keeps_the_good_recipient_and_names_the_others() {
    let out = import_text("services-doubtful.xml", &fixture("services-doubtful.xml")).unwrap();
    assert_eq!(out.records.len(), 3);
    let good = report(&out.records[0]);
    assert_eq!(good.document_id, "SON-2026-11-0043/1");
    assert_eq!(good.entries[0].key, KEY_2019_HOUSEHOLD);
    let errors: Vec<_> = out.records[1..]
        .iter()
        .map(|r| {
            let Err(e) = &r.outcome else { panic!("{:?}", r.outcome) };
            (r.locator.as_str(), e.code.as_str(), e.field.as_deref().unwrap())
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                "Recipient[2] СНИЛС 120-334-215 87",
                "date-invalid",
                "Service[1]/DateFrom"
            ),
            ("Recipient[3] СНИЛС 120-334-215 88", "snils-checksum", "Snils"),
        ]
    );
}

#[test]
fn a_document_that_does_not_hold_is_refused_whole() {
    let good = fixture("services-report.xml");
    let cases: Vec<(&str, String, &str, &str, &str)> = vec![
        (
            "hostile.xml",
            fixture("services-hostile.xml"),
            "xml-dtd",
            "XML",
            "DOCTYPE",
        ),
        (
            "services-unknown-version.xml",
            fixture("services-unknown-version.xml"),
            "version-unsupported",
            "xmlns",
            "«2.0»",
        ),
        (
            "v11.xml",
            good.replace(r#"version="1.0">"#, r#"version="1.1">"#),
            "version-unsupported",
            "version",
            "«1.1»",
        ),
        (
            "no-version.xml",
            good.replace(r#" version="1.0">"#, ">"),
            "missing-field",
            "version",
            "version",
        ),
        (
            "broken.xml",
            good.replace("</Recipient>\n</ServicesReport>", "</Recipent>\n</ServicesReport>"),
            "xml-malformed",
            "XML",
            "строка",
        ),
        (
            "cut.xml",
            good[..good.len() - 40].to_string(),
            "xml-malformed",
            "XML",
            "оборван",
        ),
        (
            "entity.xml",
            good.replace("<Body>Департамент", "<Body>&undefined;Департамент"),
            "xml-entity",
            "XML",
            "undefined",
        ),
        (
            "no-package.xml",
            good.replace("<PackageId>SON-2026-11-0042</PackageId>", ""),
            "missing-field",
            "PackageId",
            "PackageId",
        ),
        (
            "no-date.xml",
            good.replace("<Date>2026-11-18</Date>", ""),
            "missing-field",
            "Date",
            "Date",
        ),
        (
            "bad-date.xml",
            good.replace("<Date>2026-11-18</Date>", "<Date>2026-02-30</Date>"),
            "date-invalid",
            "Date",
            "2026-02-30",
        ),
        (
            "wrong-root.xml",
            good.replace("<ServicesReport ", "<ServiceReport ")
                .replace("</ServicesReport>", "</ServiceReport>"),
            "wrong-root",
            "XML",
            "ServiceReport",
        ),
        (
            "foreign.xml",
            good.replace(
                "urn:ipra:aisson:services:1.0",
                "urn:ipra:mse:tsr-clarification-answer:1.0",
            ),
            "not-supported",
            "xmlns",
            "urn:ipra:mse:tsr-clarification-answer:1.0",
        ),
        (
            "no-namespace.xml",
            good.replace(r#" xmlns="urn:ipra:aisson:services:1.0""#, ""),
            "not-supported",
            "xmlns",
            "без пространства имён",
        ),
        ("text.xml", "это не XML".to_string(), "xml-malformed", "XML", ""),
    ];
    for (name, text, code, field, said) in cases {
        let e = import_text(name, &text).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            (code, Some(field)),
            "{name}: {e:?}"
        );
        assert!(e.message.contains(&format!("«{name}»")), "{name}: {}", e.message);
        assert!(e.message.contains(said), "{name}: {}", e.message);
    }
    // Bytes that are not text, and our own outgoing draft fed back, are refused as well.
    assert!(import(ImportInput::Document(Document {
        name: "bin.xml".into(),
        media_type: "application/xml".into(),
        bytes: vec![0xff, 0xfe, 0x00, 0x3c],
    }))
    .is_err());
    let draft = render(ippsu_plan(&[])).unwrap();
    let e = import(ImportInput::Document(draft)).unwrap_err();
    assert_eq!(e.code, "not-supported");
    // A report without recipients holds nothing, said as a warning.
    let empty = format!("{}</ServicesReport>", &good[..good.find("<Recipient>").unwrap()]);
    let out = import_text("empty.xml", &empty).unwrap();
    assert!(out.records.is_empty());
    assert_eq!(out.warnings[0].code, "empty-document");
}

// ---- answers on the drafts ----

fn receipt(outcome: &RecordOutcome) -> &Receipt {
    match &outcome.outcome {
        Ok(Normalized::Receipt(receipt)) => receipt,
        other => panic!("{}: {other:?}", outcome.locator),
    }
}

#[test]
fn answers_on_the_drafts_become_receipts() {
    // An answer names the drafts by the names they were sent under.
    let first = render(ippsu_plan(&[])).unwrap().name;
    let second = render(ippsu_plan(&[("message-id", "3-2")])).unwrap().name;
    let text = fixture("ippsu-answer.xml")
        .replace("ippsu-MESSAGE-1.xml", &first)
        .replace("ippsu-MESSAGE-2.xml", &second);
    let out = import_text("answer.xml", &text).unwrap();
    assert_eq!(out.records.len(), 2);
    assert_eq!(out.records[0].locator, "Answer[1] ippsu-2-1.xml");
    let accepted = receipt(&out.records[0]);
    assert_eq!(accepted.document_name, "ippsu-2-1.xml");
    assert!(accepted.accepted);
    assert_eq!(accepted.reason, None);
    assert_eq!(extra(&accepted.extra, "ippsu-number"), Some("ИППСУ-72-004512"));
    let rejected = receipt(&out.records[1]);
    assert_eq!(rejected.document_name, "ippsu-3-2.xml");
    assert!(!rejected.accepted);
    assert!(rejected.reason.as_deref().unwrap().contains("не обращался"));
    assert!(rejected.extra.is_empty());

    let good = fixture("ippsu-answer.xml");
    for (text, code, field) in [
        (
            good.replacen("<Accepted>true</Accepted>", "<Accepted>да</Accepted>", 1),
            "accepted-invalid",
            "Accepted",
        ),
        (
            good.replacen("<Accepted>true</Accepted>", "", 1),
            "missing-field",
            "Accepted",
        ),
        (
            good.replacen("ippsu-MESSAGE-1.xml", "../../etc/passwd", 1),
            "document-name-invalid",
            "DocumentName",
        ),
        (
            good.replacen("<DocumentName>ippsu-MESSAGE-1.xml</DocumentName>", "", 1),
            "missing-field",
            "DocumentName",
        ),
    ] {
        let out = import_text("a.xml", &text).unwrap();
        let Err(e) = &out.records[0].outcome else {
            panic!("{code}")
        };
        assert_eq!((e.code.as_str(), e.field.as_deref()), (code, Some(field)), "{e:?}");
        assert!(e.message.starts_with("Answer[1]"), "{}", e.message);
        assert!(out.records[1].outcome.is_ok());
    }
    let text = good.replacen(
        "<Reason>Получатель не обращался с заявлением о предоставлении социального обслуживания</Reason>",
        "",
        1,
    );
    let out = import_text("a.xml", &text).unwrap();
    let Err(e) = &out.records[1].outcome else { panic!() };
    assert_eq!((e.code.as_str(), e.field.as_deref()), ("missing-field", Some("Reason")));

    for (text, code) in [
        (
            good.replace("ippsu-answer:1.0", "ippsu-answer:2.0"),
            "version-unsupported",
        ),
        (
            good.replacen("<IppsuAnswer", "<!DOCTYPE x [<!ENTITY e \"e\">]><IppsuAnswer", 1),
            "xml-dtd",
        ),
    ] {
        assert_eq!(import_text("a.xml", &text).unwrap_err().code, code);
    }
}

#[test]
fn the_samples_hold_their_schemas_and_the_hostile_ones_do_not_pass() {
    for (name, schema) in [
        ("services-report.xml", "services-1.0.xsd"),
        ("ippsu-answer.xml", "ippsu-answer-1.0.xsd"),
    ] {
        let (ok, said) = xmllint(name, fixture(name).as_bytes(), schema);
        assert!(ok, "{name}: {said}");
    }
    // The doubtful sample is well-formed but not valid: its 30 February is what the schema refuses too.
    let (ok, said) = xmllint(
        "services-doubtful.xml",
        fixture("services-doubtful.xml").as_bytes(),
        "services-1.0.xsd",
    );
    assert!(!ok && said.contains("2025-02-30"), "{said}");
    let (ok, _) = xmllint(
        "services-unknown-version.xml",
        fixture("services-unknown-version.xml").as_bytes(),
        "services-1.0.xsd",
    );
    assert!(!ok);
}

#[test]
fn describes_itself_as_the_manifest_says() {
    let info = <Plugin as Guest>::describe();
    assert_eq!(info.id, "aisson");
    assert!(matches!(info.kind, PluginKind::Connector));
    assert_eq!(info.config_keys[0].name, RESULTS_KEY);
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml")).unwrap();
    assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
    assert!(manifest.contains("id = \"aisson\""));
    assert!(manifest.contains("results = \"draft\""));
    // Every exchange job is off until the region turns it on.
    assert_eq!(manifest.matches("[[jobs]]").count(), 3);
    assert_eq!(manifest.matches("enabled = false").count(), 3);
    for step in [ippsu::STEP, recipients::STEP] {
        assert!(manifest.contains(&format!("step = \"{step}\"")), "{step}");
    }
}

#[test]
fn texts_longer_than_the_schemas_allow_are_named() {
    let long = "а".repeat(MAX_TEXT + 1);
    let e = render(ippsu_plan(&[("service.1.name", &long)])).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("text-too-long", Some("service.1.name"))
    );
    let mut plan = recipients_plan();
    plan.persons[1].address = Some(long.clone());
    let e = render(plan).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("text-too-long", Some("address"))
    );
    let text = fixture("services-report.xml").replacen("<Reason>Письменный", &format!("<Reason>{long}Письменный"), 1);
    let out = import_text("long.xml", &text).unwrap();
    let Err(e) = &out.records[0].outcome else { panic!() };
    assert_eq!(
        (e.code.as_str(), e.field.as_deref()),
        ("text-too-long", Some("Service[2]/Reason"))
    );
}

#[test]
fn a_report_in_windows_1251_is_read_as_in_utf_8() {
    let text = fixture("services-report.xml").replacen(r#"encoding="UTF-8""#, r#"encoding="windows-1251""#, 1);
    let bytes = ipra_plugin_sdk::xml::encode_windows_1251(&text).unwrap();
    let out = import(ImportInput::Document(Document {
        name: "cp1251.xml".into(),
        media_type: "application/xml".into(),
        bytes,
    }))
    .unwrap();
    assert_eq!(out.records.len(), 2);
    assert_eq!(report(&out.records[0]).entries[0].name, "Социально-бытовая адаптация");
}
