use super::*;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, Normalized, Person, PlanInput};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
const SCHEMAS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas");

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
        surname: "Погодина".into(),
        given_name: "Валентина".into(),
        patronymic: Some("Ивановна".into()),
        birth_date: Some("1957-05-15".into()),
        gender: Some("F".into()),
        territory_code: None,
        address: None,
        extra,
    }
}

fn request_plan(extra: &[(&str, &str)]) -> PlanInput {
    let mut all = vec![
        ("request-id", "7"),
        ("ipra-number", "1234.5.45/2024"),
        ("ipra-document-id", "D-1"),
        ("ipra-extract-id", "E-1"),
        ("protocol-number", "2345.5.45/2024"),
        ("protocol-date", "2024-10-20"),
        ("decision-date", "2024-10-20"),
        ("issued-by", "Бюро МСЭ № 5"),
        ("is-child", "false"),
        ("sender-ogrn", "1027700067328"),
        ("sender-name", "ОСФР по Курганской области"),
        ("received", "2024-11-01"),
        ("due-date", "2024-11-06"),
        ("consent", "true"),
        ("consent-by", "representative"),
        ("consent-date", "2024-11-05"),
        ("reason", "Параметры <ширина сиденья> не соответствуют показаниям"),
        ("printed-form", "true"),
        ("items", "1"),
        ("item.1.key", "6"),
        ("item.1.code", "7-02-01"),
        ("item.1.name", "Кресло-коляска с ручным приводом"),
        ("item.1.quantity", "1"),
    ];
    for (code, value) in extra {
        all.retain(|(c, _)| c != code);
        if !value.is_empty() {
            all.push((code, value));
        }
    }
    PlanInput {
        step: request::STEP.into(),
        persons: vec![person("12033421587", Vec::new())],
        today: "2024-11-05".into(),
        extra: attrs(&all),
    }
}

/// `xmllint --schema` of a document against one of the plugin's schemas.
fn validate(document: &Document, schema: &str) {
    let path = std::env::temp_dir().join(format!("mse-{}-{}", std::process::id(), document.name));
    std::fs::write(&path, &document.bytes).unwrap();
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(format!("{SCHEMAS}/{schema}"))
        .arg(&path)
        .output()
        .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
    let _ = std::fs::remove_file(&path);
    assert!(
        output.status.success(),
        "{}: {}",
        document.name,
        String::from_utf8_lossy(&output.stderr)
    );
}

fn render_request(plan: PlanInput) -> Result<Document, PluginError> {
    export(ExportInput::Requests(plan), &Config::default()).map(|mut docs| docs.remove(0))
}

#[test]
fn a_request_is_written_in_its_schema() {
    let doc = render_request(request_plan(&[])).unwrap();
    let id = request::request_id("D-1", "7");
    assert_eq!(doc.name, format!("tsr-clarification-{id}.xml"));
    validate(&doc, "tsr-clarification-1.0.xsd");
    let text = String::from_utf8(doc.bytes).unwrap();
    assert!(text.contains(&format!("<RequestId>{id}</RequestId>")), "{text}");
    assert!(text.contains("<Addressee>Бюро МСЭ № 5</Addressee>"));
    assert!(text.contains("<Snils>12033421587</Snils>"));
    assert!(text.contains("<ProgrammeReceived>2024-11-01</ProgrammeReceived>"));
    assert!(text.contains(r#"<Consent given="true" by="representative" date="2024-11-05"/>"#));
    // The request's reason serves the item that has none of its own, escaped.
    assert!(text.contains("<Reason>Параметры &lt;ширина сиденья&gt; не соответствуют показаниям</Reason>"));
    assert!(text.contains(&format!("<PrintedForm>tsr-clarification-{id}.pdf</PrintedForm>")));
    // The same request always has the same identity.
    assert_eq!(
        render_request(request_plan(&[])).unwrap().name,
        format!("tsr-clarification-{id}.xml")
    );
}

#[test]
fn a_request_without_consent_or_with_bad_fields_is_not_written() {
    for (change, code, field) in [
        (("consent", ""), "consent-missing", "consent"),
        (("consent", "false"), "consent-missing", "consent"),
        (("consent-by", "сосед"), "consent-by-unknown", "consent-by"),
        (("sender-ogrn", "1027700067329"), "ogrn-invalid", "sender-ogrn"),
        (("received", "01.13.2024"), "date-invalid", "received"),
        (("ipra-number", ""), "missing-field", "ipra-number"),
        (("items", "0"), "items-invalid", "items"),
        (("item.1.name", ""), "missing-field", "item.1.name"),
    ] {
        let e = render_request(request_plan(&[change])).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            (code, Some(field)),
            "{change:?}: {e:?}"
        );
        assert_eq!(e.record.as_deref(), Some("Запрос на уточнение ТСР 7"));
    }
    let mut plan = request_plan(&[]);
    plan.persons[0].snils = "12033421588".into();
    let e = render_request(plan).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("СНИЛС"), "{e:?}");
    let e = render_request(PlanInput {
        step: "other".into(),
        ..request_plan(&[])
    })
    .unwrap_err();
    assert_eq!(e.code, "step-unknown");
}

fn status_plan() -> PlanInput {
    let ipra = |number: &str, status: &str, measures: &[(&str, &str)]| {
        let mut extra = attrs(&[
            ("ipra-number", number),
            ("ipra-document-id", &format!("doc-{number}")),
            ("protocol-number", "2345.5.45/2024"),
            ("protocol-date", "2024-10-20"),
            ("decision-date", "2024-10-20"),
            ("valid-until", "2026-11-01"),
            ("status", status),
        ]);
        extra.extend(attrs(measures));
        person("12033421587", extra)
    };
    PlanInput {
        step: status::STEP.into(),
        persons: vec![
            ipra(
                "1",
                "active",
                &[
                    ("measures", "3"),
                    ("measure.1.key", "6"),
                    ("measure.1.section", "tsr"),
                    ("measure.1.code", "7-02-01"),
                    ("measure.1.name", "Кресло-коляска"),
                    ("measure.1.executor-ogrn", "1027700067328"),
                    ("measure.1.due-date", "2024-11-01"),
                    ("measure.1.status", "open"),
                    ("measure.2.key", "1"),
                    ("measure.2.section", "health"),
                    ("measure.2.name", "Медицинская реабилитация"),
                    ("measure.2.status", "executed"),
                    ("measure.2.execution-date", "2024-11-02"),
                    ("measure.3.key", "2"),
                    ("measure.3.section", "sport"),
                    ("measure.3.name", "Адаптивная физкультура"),
                    ("measure.3.status", "not-executed"),
                    ("measure.3.reasons", "refused, other"),
                ],
            ),
            ipra(
                "2",
                "superseded",
                &[
                    ("superseded-by", "1"),
                    ("measures", "1"),
                    ("measure.1.key", "6"),
                    ("measure.1.section", "tsr"),
                    ("measure.1.name", "Кресло-коляска"),
                    ("measure.1.status", "closed"),
                    ("measure.1.closed-reason", "заменена новой ИПРА"),
                ],
            ),
        ],
        today: "2024-11-05".into(),
        extra: attrs(&[("package", "mse-status:Бюро МСЭ № 5:1:1"), ("issuer", "Бюро МСЭ № 5")]),
    }
}

#[test]
fn the_status_of_a_bureaus_ipras_is_written_in_its_schema() {
    let config = Config {
        region: Some("Министерство социальной политики".into()),
    };
    let docs = export(ExportInput::Requests(status_plan()), &config).unwrap();
    assert_eq!(docs.len(), 1);
    validate(&docs[0], "execution-status-1.0.xsd");
    let text = String::from_utf8(docs[0].bytes.clone()).unwrap();
    assert!(text.contains("<Bureau>Бюро МСЭ № 5</Bureau>"));
    assert!(text.contains("<Region>Министерство социальной политики</Region>"));
    assert!(
        text.contains(r#"<Summary total="3" open="1" executed="1" notExecuted="1" closed="0" overdue="1"/>"#),
        "{text}"
    );
    assert!(text.contains(r#"<Reason code="refused"/>"#) && text.contains(r#"<Reason code="other"/>"#));
    assert!(text.contains("<SupersededBy>1</SupersededBy>"));
    // The same package has the same identity.
    let again = export(ExportInput::Requests(status_plan()), &config).unwrap();
    assert_eq!(again[0].name, docs[0].name);
}

#[test]
fn a_status_with_a_bad_record_names_it() {
    let mut plan = status_plan();
    plan.persons[1].extra.retain(|a| a.code != "measure.1.status");
    plan.persons[1].extra.extend(attrs(&[("measure.1.status", "lost")]));
    let e = export(ExportInput::Requests(plan), &Config::default()).unwrap_err();
    assert_eq!(e.code, "status-unknown");
    assert_eq!(e.record.as_deref(), Some("ИПРА 2 (№ 2), мероприятие 1"));
    assert_eq!(e.field.as_deref(), Some("measure.1.status"));
    let mut plan = status_plan();
    plan.extra.clear();
    assert_eq!(
        export(ExportInput::Requests(plan), &Config::default())
            .unwrap_err()
            .field
            .as_deref(),
        Some("package")
    );
}

fn answer(name: &str, bytes: &[u8]) -> Result<ImportOutput, PluginError> {
    import(ImportInput::Document(Document {
        name: name.into(),
        media_type: "application/xml".into(),
        bytes: bytes.to_vec(),
    }))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{FIXTURES}/{name}")).unwrap()
}

#[test]
fn an_answer_becomes_a_receipt_on_the_request() {
    let out = answer("a.xml", fixture("answer-new-ipra.xml").as_bytes()).unwrap();
    assert_eq!(out.records.len(), 1);
    let Ok(Normalized::Receipt(receipt)) = &out.records[0].outcome else {
        panic!("{:?}", out.records[0].outcome);
    };
    assert_eq!(
        receipt.document_name,
        "tsr-clarification-3f0a6c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b.xml"
    );
    assert!(receipt.accepted);
    let reason = receipt.reason.as_deref().unwrap();
    assert!(
        reason.contains("разработана новая ИПРА") && reason.contains("№ 1234.5.45/2026"),
        "{reason}"
    );
    let extra = |code: &str| receipt.extra.iter().find(|a| a.code == code).map(|a| a.value.as_str());
    assert_eq!(extra("decision"), Some("new-ipra"));
    assert_eq!(extra("new-ipra-number"), Some("1234.5.45/2026"));

    let out = answer("r.xml", fixture("answer-refused.xml").as_bytes()).unwrap();
    let Ok(Normalized::Receipt(receipt)) = &out.records[0].outcome else {
        panic!();
    };
    assert!(!receipt.accepted);
    assert!(receipt.reason.as_deref().unwrap().contains("бюро № 7"));
}

#[test]
fn hostile_and_malformed_answers_are_refused_with_a_reason() {
    let good = fixture("answer-refused.xml");
    let cases: Vec<(&str, String, &str, &str, &str)> = vec![
        (
            "broken.xml",
            good.replace("</Decision>", "</Decisio>"),
            "xml-malformed",
            "XML",
            "строка",
        ),
        (
            "doctype.xml",
            good.replacen(
                "<TsrClarificationAnswer",
                "<!DOCTYPE a [<!ENTITY x \"y\">]><TsrClarificationAnswer",
                1,
            ),
            "xml-doctype",
            "XML",
            "DOCTYPE",
        ),
        (
            "v2.xml",
            good.replace("tsr-clarification-answer:1.0", "tsr-clarification-answer:2.0"),
            "version-unsupported",
            "xmlns",
            "«2.0»",
        ),
        (
            "v-attr.xml",
            good.replace("version=\"1.0\">", "version=\"1.1\">"),
            "version-unsupported",
            "version",
            "«1.1»",
        ),
        (
            "foreign.xml",
            good.replace("urn:ipra:mse:tsr-clarification-answer:1.0", "http://example.com/answer"),
            "wrong-root",
            "xmlns",
            "http://example.com/answer",
        ),
        (
            "no-id.xml",
            good.replace("<RequestId>3f0a6c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b</RequestId>", ""),
            "missing-field",
            "RequestId",
            "идентификатор запроса",
        ),
        (
            "bad-id.xml",
            good.replace("3f0a6c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b", "../../etc/passwd"),
            "request-id-invalid",
            "RequestId",
            "../../etc/passwd",
        ),
        (
            "bad-date.xml",
            good.replace("2026-11-24", "2026-02-30"),
            "date-invalid",
            "AnswerDate",
            "2026-02-30",
        ),
        (
            "decision.xml",
            good.replace("<Decision>refused", "<Decision>maybe"),
            "decision-unknown",
            "Decision",
            "«maybe»",
        ),
        (
            "no-reason.xml",
            good.replace(
                "<Comment>Запрос направлен не в то учреждение: МСЭ проводилась в бюро № 7</Comment>",
                "",
            ),
            "missing-field",
            "Comment",
            "причина",
        ),
    ];
    for (name, text, code, field, said) in cases {
        let e = answer(name, text.as_bytes()).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.field.as_deref()),
            (code, Some(field)),
            "{name}: {e:?}"
        );
        assert!(e.message.contains(&format!("«{name}»")), "{name}: {}", e.message);
        assert!(e.message.contains(said), "{name}: {}", e.message);
        assert_eq!(e.record.as_deref(), Some(answer::RECORD));
    }
    assert!(answer("bin.xml", &[0xff, 0xfe, 0x00]).is_err());
}

#[test]
fn describes_itself_as_a_connector() {
    let info = <Plugin as Guest>::describe();
    assert_eq!(info.id, "mse");
    assert!(matches!(info.kind, PluginKind::Connector));
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/plugin.toml")).unwrap();
    assert!(manifest.contains(&format!("name = \"{}\"", info.name)));
}

#[test]
fn the_sample_answers_hold_their_schema_and_name_the_request_they_answer() {
    for name in ["answer-new-ipra.xml", "answer-refused.xml"] {
        let document = Document {
            name: name.into(),
            media_type: "application/xml".into(),
            bytes: fixture(name).into_bytes(),
        };
        validate(&document, "tsr-clarification-answer-1.0.xsd");
    }
    // An answer on a request written here finds that request's document.
    let request = render_request(request_plan(&[])).unwrap();
    let id = request::request_id("D-1", "7");
    let text = fixture("answer-new-ipra.xml").replace("3f0a6c1e-2b4d-5e6f-8a9b-0c1d2e3f4a5b", &id);
    let out = answer("a.xml", text.as_bytes()).unwrap();
    let Ok(Normalized::Receipt(receipt)) = &out.records[0].outcome else {
        panic!("{:?}", out.records[0].outcome);
    };
    assert_eq!(receipt.document_name, request.name);
}
