//! Tests: generated packages validated with xmllint against the published 10.06.S 1.1.0 schema, each kind of
//! invalid fact refused with its fact id and field, and both reference-list forms read.

use super::*;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Attribute, Fact, FactBatch, Normalized, Person};
use ipra_plugin_sdk::uuid;
use std::path::{Path, PathBuf};

/// The shared format files sit beside the project (`../shared`); found from this crate upwards.
fn shared_file(relative: &str) -> PathBuf {
    let start = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    start
        .ancestors()
        .map(|dir| dir.join("shared").join("formats").join(relative))
        .find(|path| path.exists())
        .unwrap_or_else(|| panic!("../shared/formats/{relative} not found above {}", start.display()))
}

fn schema() -> PathBuf {
    shared_file("egisso/egisso_schema-23.12.0/10.06.S-1.1.0.xsd")
}

fn assert_valid(document: &Document, schema: &Path) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ipra-egisso-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(&document.name);
    std::fs::write(&path, &document.bytes).expect("write");
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(&path)
        .output()
        .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&document.bytes)
    );
}

fn config() -> FactsConfig {
    FactsConfig {
        timezone: "+03:00".into(),
        osz_code: Some("0040.000001".into()),
    }
}

fn attr(code: &str, value: &str) -> Attribute {
    Attribute {
        code: code.into(),
        value: value.into(),
    }
}

fn person(snils: &str, surname: &str, given: &str, patronymic: Option<&str>, gender: &str, birth: &str) -> Person {
    Person {
        snils: snils.into(),
        surname: surname.into(),
        given_name: given.into(),
        patronymic: patronymic.map(str::to_string),
        birth_date: Some(birth.into()),
        gender: Some(gender.into()),
        territory_code: None,
        address: None,
        extra: Vec::new(),
    }
}

fn base_extra() -> Vec<Attribute> {
    vec![
        attr("lmszId", "c3cbbd4c-3cca-486e-912c-9971d100ef3e"),
        attr("categoryId", "823a390c-13ef-4484-bbf6-6a5844891d11"),
        attr("measureName", "Социально-средовая реабилитация"),
        attr("ipraNumber", "1234.5.77/2024"),
    ]
}

fn adult() -> Fact {
    Fact {
        fact_id: "ipra-execution-1".into(),
        person: person("112-233-445 95", "Тестов", "Иван", Some("Тестович"), "M", "1954-02-15"),
        measure_code: "MSE.IPRA.SOCIAL.EVENT".into(),
        decision_date: "2024-03-01".into(),
        start_date: Some("2024-03-05".into()),
        end_date: Some("2025-03-01".into()),
        extra: base_extra(),
    }
}

/// A disabled child whose mother receives the measure.
fn child_with_representative() -> Fact {
    let mut extra = base_extra();
    extra.extend([
        attr("representativeSnils", "98765432183"),
        attr("representativeSurname", "Иванова"),
        attr("representativeGivenName", "Мария"),
        attr("representativePatronymic", "Петровна"),
        attr("representativeGender", "F"),
        attr("representativeBirthDate", "1985-01-01"),
        attr("kinshipTypeCode", "0120011"),
        attr("form", "monetary"),
        attr("amount", "14506,5"),
    ]);
    Fact {
        fact_id: "ipra-execution-2".into(),
        person: person("12345678964", "Иванов", "Пётр", None, "M", "2015-06-01"),
        measure_code: "MSE.IPRA.SOCIAL.EVENT".into(),
        decision_date: "2024-03-01".into(),
        start_date: None,
        end_date: None,
        extra,
    }
}

/// A child who receives the measure himself, in kind, with needs criteria.
fn child_in_kind() -> Fact {
    let mut extra = base_extra();
    extra.extend([
        attr("form", "natural"),
        attr("amount", "2"),
        attr("okeiCode", "796"),
        attr("equivalentAmount", "1500.50"),
        attr("needsCriteria", "true"),
        attr("needsCriteriaCodes", "001, 2"),
        attr("oszCode", "0040.000002"),
        attr("comment", "Передано по акту"),
    ]);
    Fact {
        fact_id: "ipra-execution-3".into(),
        person: person("11122233372", "Сидорова", "Анна", None, "Ж", "2012-09-13"),
        measure_code: "MSE.IPRA.TSR.REGIONAL.ITEM".into(),
        decision_date: "2024-02-20".into(),
        start_date: Some("2024-02-21".into()),
        end_date: Some("2024-02-21".into()),
        extra,
    }
}

fn exemption() -> Fact {
    let mut extra = base_extra();
    extra.extend([
        attr("form", "exemption"),
        attr("amount", "50"),
        attr("measuryCode", "01"),
        attr("monetization", "true"),
    ]);
    Fact {
        fact_id: "ipra-execution-4".into(),
        ..adult()
    }
    .with_extra(extra)
}

trait WithExtra {
    fn with_extra(self, extra: Vec<Attribute>) -> Self;
}

impl WithExtra for Fact {
    fn with_extra(mut self, extra: Vec<Attribute>) -> Self {
        self.extra = extra;
        self
    }
}

fn batch(facts: Vec<Fact>) -> FactBatch {
    FactBatch {
        package_id: "ipra-egisso-20240305T030000Z".into(),
        facts,
        extra: Vec::new(),
    }
}

fn text(document: &Document) -> String {
    String::from_utf8(document.bytes.clone()).unwrap()
}

#[test]
fn a_package_of_adults_and_children_validates_against_10_06_s_1_1_0() {
    let documents = export(
        ExportInput::Facts(batch(vec![
            adult(),
            child_with_representative(),
            child_in_kind(),
            exemption(),
        ])),
        &config(),
    )
    .unwrap();
    assert_eq!(documents.len(), 1);
    let document = &documents[0];
    assert_valid(document, &schema());
    let xml = text(document);
    let package_id = uuid::v5("urn:ipra:egisso:package:ipra-egisso-20240305T030000Z");
    assert_eq!(document.name, format!("egisso-10.06.S-{package_id}.xml"));
    assert!(xml.contains(&format!("<pac:packageId>{package_id}</pac:packageId>")));
    assert_eq!(xml.matches("<pac:fact>").count(), 4);
    // Dates carry the region's offset; the adult has an end date, the represented child none.
    assert!(xml.contains("<af:dateStart>2024-03-05+03:00</af:dateStart>"), "{xml}");
    assert!(xml.contains("<af:dateFinish>2025-03-01+03:00</af:dateFinish>"), "{xml}");
    assert!(xml.contains("<prsn:SNILS>11223344595</prsn:SNILS>"), "{xml}");
    assert!(
        xml.contains("<prsn:BirthDate>1954-02-15+03:00</prsn:BirthDate>"),
        "{xml}"
    );
    // The mother receives, the child is the basis person.
    assert!(
        xml.contains("<af:mszReceiver><prsn:SNILS>98765432183</prsn:SNILS>"),
        "{xml}"
    );
    assert!(
        xml.contains("<basis:basisPerson><prsn:prsnInfo><prsn:SNILS>12345678964</prsn:SNILS>"),
        "{xml}"
    );
    assert!(
        xml.contains("<basis:kinshipTypeCode>0120011</basis:kinshipTypeCode>"),
        "{xml}"
    );
    assert!(
        xml.contains("<af:monetaryForm><af:amount>14506.50</af:amount></af:monetaryForm>"),
        "{xml}"
    );
    assert!(
        xml.contains("<af:OKEICode>642</af:OKEICode>"),
        "the default service unit: {xml}"
    );
    assert!(xml.contains("<af:okeiCode>796</af:okeiCode>"), "{xml}");
    assert!(xml.contains(&format!(
        "<pac:uuid>{}</pac:uuid>",
        uuid::v5("urn:ipra:egisso:fact:ipra-execution-1")
    )));
    // The same batch gives the same bytes.
    let again = export(
        ExportInput::Facts(batch(vec![
            adult(),
            child_with_representative(),
            child_in_kind(),
            exemption(),
        ])),
        &config(),
    )
    .unwrap();
    assert_eq!(again[0].bytes, document.bytes);
}

#[test]
fn more_than_a_thousand_facts_go_in_several_packages_each_valid() {
    let facts: Vec<Fact> = (0..1001)
        .map(|n| Fact {
            fact_id: format!("ipra-execution-{n}"),
            ..adult()
        })
        .collect();
    let documents = export(ExportInput::Facts(batch(facts)), &config()).unwrap();
    assert_eq!(documents.len(), 2);
    assert_ne!(documents[0].name, documents[1].name);
    assert_eq!(text(&documents[1]).matches("<pac:fact>").count(), 1);
    assert_valid(&documents[1], &schema());
}

#[test]
fn a_uuid_package_id_is_kept_and_an_empty_batch_gives_nothing() {
    let mut b = batch(vec![adult()]);
    b.package_id = "E30BF807-36F8-4F29-8B1F-CA1F10CC8969".into();
    let documents = export(ExportInput::Facts(b), &config()).unwrap();
    assert!(text(&documents[0]).contains("<pac:packageId>e30bf807-36f8-4f29-8b1f-ca1f10cc8969</pac:packageId>"));
    assert!(export(ExportInput::Facts(batch(Vec::new())), &config())
        .unwrap()
        .is_empty());
}

fn refused(fact: Fact) -> PluginError {
    export(ExportInput::Facts(batch(vec![fact])), &config()).unwrap_err()
}

fn without(mut fact: Fact, code: &str) -> Fact {
    fact.extra.retain(|a| a.code != code);
    fact
}

fn with(mut fact: Fact, code: &str, value: &str) -> Fact {
    fact.extra.retain(|a| a.code != code);
    fact.extra.push(attr(code, value));
    fact
}

#[test]
fn each_invalid_fact_names_its_id_and_field() {
    let cases: Vec<(Fact, &str, &str)> = vec![
        (without(adult(), "lmszId"), "missing-field", "lmszId"),
        (with(adult(), "lmszId", "not-a-uuid"), "uuid-invalid", "lmszId"),
        (without(adult(), "categoryId"), "missing-field", "categoryId"),
        (
            Fact {
                person: person("112-233-445 96", "Тестов", "Иван", None, "M", "1954-02-15"),
                ..adult()
            },
            "snils-checksum",
            "SNILS",
        ),
        (
            Fact {
                end_date: Some("2024-03-04".into()),
                ..adult()
            },
            "date-order",
            "dateFinish",
        ),
        (
            Fact {
                decision_date: "2024-02-30".into(),
                ..adult()
            },
            "date-invalid",
            "decisionDate",
        ),
        (
            Fact {
                person: person("11223344595", "Smith", "John", None, "M", "1954-02-15"),
                ..adult()
            },
            "name-invalid",
            "FamilyName",
        ),
        (
            Fact {
                person: Person {
                    gender: None,
                    ..adult().person
                },
                ..adult()
            },
            "missing-field",
            "Gender",
        ),
        (
            Fact {
                person: Person {
                    birth_date: None,
                    ..adult().person
                },
                ..adult()
            },
            "missing-field",
            "BirthDate",
        ),
        (with(adult(), "oszCode", "40.1"), "code-invalid", "oszCode"),
        (
            with(with(adult(), "form", "monetary"), "amount", "много"),
            "amount-invalid",
            "amount",
        ),
        (with(adult(), "form", "certificate"), "value-invalid", "form"),
        (
            with(child_with_representative(), "representativeSnils", "1234"),
            "snils-invalid",
            "representativeSnils",
        ),
        (
            with(child_with_representative(), "kinshipTypeCode", "12"),
            "code-invalid",
            "kinshipTypeCode",
        ),
    ];
    for (fact, code, field) in cases {
        let id = fact.fact_id.clone();
        let error = refused(fact);
        assert_eq!(
            (error.code.as_str(), error.field.as_deref(), error.record.as_deref()),
            (code, Some(field), Some(id.as_str())),
            "{}",
            error.message
        );
        assert!(error.message.starts_with(&format!("Факт {id}:")), "{}", error.message);
    }
}

#[test]
fn a_batch_with_invalid_facts_fails_on_the_first_and_counts_the_others() {
    let bad = |n: u32| Fact {
        fact_id: format!("bad-{n}"),
        ..without(adult(), "lmszId")
    };
    let error = export(
        ExportInput::Facts(batch(vec![adult(), bad(1), bad(2), bad(3)])),
        &config(),
    )
    .unwrap_err();
    assert_eq!(error.record.as_deref(), Some("bad-1"));
    assert!(
        error.message.contains("ещё фактов с ошибками: 2 (bad-2, bad-3)"),
        "{}",
        error.message
    );
}

#[test]
fn configuration_is_checked() {
    let bad_zone = FactsConfig {
        timezone: "MSK".into(),
        osz_code: None,
    };
    let error = export(ExportInput::Facts(batch(vec![adult()])), &bad_zone).unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("config-invalid", Some("timezone"))
    );
    let no_osz = FactsConfig {
        timezone: "+05:00".into(),
        osz_code: None,
    };
    let error = export(ExportInput::Facts(batch(vec![adult()])), &no_osz).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("oszCode"));
    let documents = export(
        ExportInput::Facts(batch(vec![with(adult(), "oszCode", "0040.000003")])),
        &no_osz,
    )
    .unwrap();
    assert!(text(&documents[0]).contains("<af:decisionDate>2024-03-01+05:00</af:decisionDate>"));
    assert_valid(&documents[0], &schema());
}

fn reference(name: &str, media_type: &str, body: &str) -> Result<ImportOutput, PluginError> {
    import(ImportInput::Document(Document {
        name: name.into(),
        media_type: media_type.into(),
        bytes: body.as_bytes().to_vec(),
    }))
}

fn list(out: &ImportOutput) -> &ipra_plugin_sdk::bindings::ipra::plugin::types::ReferenceList {
    match &out.records[0].outcome {
        Ok(Normalized::Reference(list)) => list,
        other => panic!("expected a reference list, got {other:?}"),
    }
}

#[test]
fn reads_a_reference_list_in_xml() {
    let body = r#"<?xml version="1.0" encoding="UTF-8"?>
<referenceList id="egisso-lmsz" version="2024-01-15">
  <entry code="c3cbbd4c-3cca-486e-912c-9971d100ef3e" name="Ежемесячная денежная выплата" oszCode="0040.000001">
    <attribute code="form" value="monetary"/>
  </entry>
  <entry code="823a390c-13ef-4484-bbf6-6a5844891d11" name="Инвалиды &amp; дети-инвалиды" parent="c3cbbd4c-3cca-486e-912c-9971d100ef3e"/>
  <entry code="823a390c-13ef-4484-bbf6-6a5844891d11" name="Повтор"/>
  <entry name="Без кода"/>
</referenceList>"#;
    let out = reference("lmsz.xml", "application/xml", body).unwrap();
    let l = list(&out);
    assert_eq!(
        (l.list_id.as_str(), l.version.as_deref()),
        ("egisso-lmsz", Some("2024-01-15"))
    );
    assert_eq!(l.entries.len(), 2);
    assert_eq!(l.entries[0].name, "Ежемесячная денежная выплата");
    let extra: Vec<(&str, &str)> = l.entries[0]
        .extra
        .iter()
        .map(|a| (a.code.as_str(), a.value.as_str()))
        .collect();
    assert_eq!(extra, vec![("oszCode", "0040.000001"), ("form", "monetary")]);
    assert_eq!(l.entries[1].name, "Инвалиды & дети-инвалиды");
    assert_eq!(
        l.entries[1].parent.as_deref(),
        Some("c3cbbd4c-3cca-486e-912c-9971d100ef3e")
    );
    let codes: Vec<&str> = out.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, vec!["duplicate-code", "missing-field"]);
    assert_eq!(out.warnings[1].record.as_deref(), Some("Элемент 4"));
}

#[test]
fn reads_a_reference_list_in_csv() {
    let body = "\u{feff}Код;Наименование;Родитель;oszCode\n\
                c3cbbd4c-3cca-486e-912c-9971d100ef3e;\"Выплата; ежемесячная \"\"ЕДВ\"\"\";;0040.000001\n\
                823a390c-13ef-4484-bbf6-6a5844891d11;Дети-инвалиды;c3cbbd4c-3cca-486e-912c-9971d100ef3e;\n\
                ;Без кода;;\n";
    let out = reference("egisso-categories@2024.2.csv", "text/csv", body).unwrap();
    let l = list(&out);
    assert_eq!(
        (l.list_id.as_str(), l.version.as_deref()),
        ("egisso-categories", Some("2024.2"))
    );
    assert_eq!(l.entries.len(), 2);
    assert_eq!(l.entries[0].name, "Выплата; ежемесячная \"ЕДВ\"");
    assert_eq!(l.entries[0].parent, None);
    assert_eq!(l.entries[0].extra[0].code, "oszCode");
    assert_eq!(
        l.entries[1].parent.as_deref(),
        Some("c3cbbd4c-3cca-486e-912c-9971d100ef3e")
    );
    assert_eq!(out.warnings.len(), 1);
    assert_eq!(out.warnings[0].record.as_deref(), Some("Строка 4"));
}

#[test]
fn refuses_what_is_not_a_reference_list() {
    let error = reference("x.csv", "text/csv", "a;b\n1;2\n").unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("missing-field", Some("code"))
    );
    assert_eq!(
        reference("x.xml", "application/xml", "<other/>").unwrap_err().code,
        "unsupported-document"
    );
    let doctype = "<!DOCTYPE r [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><referenceList>&e;</referenceList>";
    assert_eq!(
        reference("x.xml", "application/xml", doctype).unwrap_err().code,
        "xml-doctype"
    );
    assert_eq!(
        reference("x.xml", "application/xml", "<referenceList>")
            .unwrap_err()
            .code,
        "xml-malformed"
    );
}

/// Hostile reference lists: a foreign namespace, a wrong encoding label, deep nesting, a huge list
/// of repeated codes — each refused with a reason or read whole, never a panic.
#[test]
fn hostile_reference_lists_are_refused_or_read_whole() {
    let foreign = reference(
        "x.xml",
        "application/xml",
        r#"<referenceList xmlns="urn:other" id="egisso-lmsz"><entry code="1" name="Выплата"/></referenceList>"#,
    )
    .unwrap_err();
    assert_eq!(
        (foreign.code.as_str(), foreign.field.as_deref()),
        ("unsupported-document", Some("xmlns"))
    );
    assert!(foreign.message.contains("urn:other"), "{}", foreign.message);
    let mislabelled = r#"<?xml version="1.0" encoding="windows-1251"?><referenceList><entry code="1" name="Выплата"/></referenceList>"#;
    assert_eq!(
        reference("x.xml", "application/xml", mislabelled).unwrap_err().code,
        "xml-encoding"
    );
    let deep = format!(
        "<referenceList>{}{}</referenceList>",
        "<a>".repeat(100_000),
        "</a>".repeat(100_000)
    );
    assert!(
        reference("x.xml", "application/xml", &deep).is_err(),
        "nesting is bounded"
    );
    // A hundred thousand entries, every code twice: read whole, each repeat a warning.
    let mut big = String::from("<referenceList id=\"egisso-big\">");
    for i in 0..100_000 {
        big.push_str(&format!(r#"<entry code="{}" name="Выплата {i}"/>"#, i % 50_000));
    }
    big.push_str("</referenceList>");
    let out = reference("big.xml", "application/xml", &big).unwrap();
    assert_eq!(list(&out).entries.len(), 50_000);
    assert_eq!(out.warnings.len(), 50_000);
}

#[test]
fn describes_a_connector() {
    let info = info();
    assert_eq!((info.id.as_str(), info.kind), ("egisso", PluginKind::Connector));
    assert_eq!(info.hooks, vec![Hook::Import, Hook::Export]);
    assert!(info.config_keys.iter().any(|k| k.name == "timezone"));
}

// Changes of facts EGISSO holds: corrections, terminations, invalidations.

const FACT_UUID: &str = "35905ecc-c283-4675-96d7-ca1f10cc0001";

fn change(operation: &str, event: &str) -> Fact {
    let fact = with(with(adult(), "operation", operation), "uuid", FACT_UUID);
    with(fact, "eventUuid", event)
}

#[test]
fn corrections_terminations_and_invalidations_validate_in_schema_order() {
    let termination = Fact {
        end_date: Some("2024-06-10".into()),
        fact_id: "ipra-execution-5".into(),
        ..change("termination", "0b7e3c1a-9d2f-4e8b-a6c5-1f0e9d8c7b6a")
    };
    let invalidation = Fact {
        fact_id: "ipra-execution-6".into(),
        ..change("invalidation", "1c8f4d2b-0e3a-4f9c-b7d6-2a1f0e9d8c7b")
    };
    let correction = Fact {
        fact_id: "ipra-execution-7".into(),
        ..change("correction", "2d9a5e3c-1f4b-4a0d-8e7f-3b2a1f0e9d8c")
    };
    // Given in the reverse of the schema's order: the package puts them right.
    let documents = export(
        ExportInput::Facts(batch(vec![invalidation, termination, correction, adult()])),
        &config(),
    )
    .unwrap();
    assert_eq!(documents.len(), 1);
    assert_valid(&documents[0], &schema());
    let xml = text(&documents[0]);
    let at = |needle: &str| xml.find(needle).unwrap_or_else(|| panic!("{needle} in {xml}"));
    assert!(at("<pac:fact>") < at("<pac:alterationBasedOnPreviousErrors>"));
    assert!(at("<pac:alterationBasedOnPreviousErrors>") < at("<pac:terminationBasedOnEndOfRight>"));
    assert!(at("<pac:terminationBasedOnEndOfRight>") < at("<pac:errorsInvalidation>"));
    assert!(xml.contains(&format!(
        "<pac:uuid>0b7e3c1a-9d2f-4e8b-a6c5-1f0e9d8c7b6a</pac:uuid><pac:assignmentFactUuid>{FACT_UUID}</pac:assignmentFactUuid>"
    )));
    assert!(
        xml.contains("<pac:dateFinish>2024-06-10+03:00</pac:dateFinish>"),
        "{xml}"
    );
    // The correction carries the whole fact again, without a uuid of its own inside.
    let correction = &xml[at("<pac:alterationBasedOnPreviousErrors>")..at("</pac:alterationBasedOnPreviousErrors>")];
    assert!(
        correction.contains("<af:lmszId>") && correction.contains("<pac:fact>"),
        "{correction}"
    );
    assert_eq!(correction.matches("<pac:uuid>").count(), 1, "{correction}");
}

#[test]
fn a_change_without_its_identifiers_is_refused() {
    let no_event = without(
        change("correction", "2d9a5e3c-1f4b-4a0d-8e7f-3b2a1f0e9d8c"),
        "eventUuid",
    );
    assert_eq!(refused(no_event).field.as_deref(), Some("eventUuid"));
    let no_fact = without(change("invalidation", "2d9a5e3c-1f4b-4a0d-8e7f-3b2a1f0e9d8c"), "uuid");
    assert_eq!(refused(no_fact).field.as_deref(), Some("uuid"));
    let no_date = Fact {
        end_date: None,
        ..change("termination", "2d9a5e3c-1f4b-4a0d-8e7f-3b2a1f0e9d8c")
    };
    assert_eq!(refused(no_date).field.as_deref(), Some("dateFinish"));
    let same = change("termination", FACT_UUID);
    assert_eq!(refused(same).field.as_deref(), Some("eventUuid"));
    let unknown = with(adult(), "operation", "merge");
    let error = refused(unknown);
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("value-invalid", Some("operation"))
    );
}

// EGISSO's answers: the samples of `samples/`, written after the release's SMEV samples.

const PACKAGE: &str = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const REJECTED: &str = "7a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9";
const WARNED: &str = "9c8b7a6d-5e4f-4321-9876-fedcba987654";

fn sample(name: &str) -> String {
    std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples").join(name))
        .unwrap_or_else(|e| panic!("samples/{name}: {e}"))
}

fn answer(name: &str, body: &str) -> Result<ImportOutput, PluginError> {
    import(ImportInput::Document(Document {
        name: name.into(),
        media_type: "application/xml; charset=utf-8".into(),
        bytes: body.as_bytes().to_vec(),
    }))
}

/// A receipt as the tests look at it: locator, accepted, reason, extra as pairs.
type Seen = (String, bool, Option<String>, Vec<(String, String)>);

/// The receipts of an answer.
fn receipts(out: &ImportOutput) -> Vec<Seen> {
    out.records
        .iter()
        .map(|r| match &r.outcome {
            Ok(Normalized::Receipt(receipt)) => {
                assert_eq!(receipt.document_name, format!("egisso-10.06.S-{PACKAGE}.xml"));
                (
                    r.locator.clone(),
                    receipt.accepted,
                    receipt.reason.clone(),
                    receipt
                        .extra
                        .iter()
                        .map(|a| (a.code.clone(), a.value.clone()))
                        .collect(),
                )
            }
            other => panic!("a receipt, not {other:?}"),
        })
        .collect()
}

fn extra_of<'a>(extra: &'a [(String, String)], code: &str) -> Option<&'a str> {
    extra.iter().find(|(c, _)| c == code).map(|(_, v)| v.as_str())
}

#[test]
fn the_samples_validate_against_their_schemas() {
    for (file, xsd) in [
        (
            "package-protocol-1.0.3.xml",
            "schemas/egisso/package-protocol-1.0.3.xsd",
        ),
        (
            "package-protocol-1.0.3.message.xml",
            "schemas/egisso/package-protocol-1.0.3.xsd",
        ),
        ("10.10.I-1.0.3.response.xml", "10.10.I-1.0.3.xsd"),
        (
            "package-protocol-2.3.0.xml",
            "schemas/egisso/package-protocol-2.3.0.xsd",
        ),
        ("10.36.S-2.0.0.response.xml", "10.36.S-2.0.0.xsd"),
        ("package-result-1.0.2.xml", "schemas/egisso/package-result-1.0.2.xsd"),
        ("package-result-2.3.0.xml", "schemas/egisso/package-result-2.3.0.xsd"),
    ] {
        let document = Document {
            name: file.into(),
            media_type: "application/xml".into(),
            bytes: sample(file).into_bytes(),
        };
        assert_valid(&document, &shared_file(&format!("egisso/egisso_schema-23.12.0/{xsd}")));
    }
}

#[test]
fn a_1_0_3_protocol_gives_a_receipt_per_record_and_one_for_the_package() {
    let out = answer("protocol.xml", &sample("package-protocol-1.0.3.xml")).unwrap();
    let r = receipts(&out);
    assert_eq!(r.len(), 3, "{r:?}");
    let (locator, accepted, reason, extra) = &r[0];
    assert_eq!(locator, &format!("Запись 1 ({REJECTED})"));
    assert!(!accepted);
    assert_eq!(
        reason.as_deref(),
        Some("[021] Дата начала действия назначения раньше даты решения о назначении")
    );
    assert_eq!(extra_of(extra, "record"), Some(REJECTED));
    assert_eq!(extra_of(extra, "ruleCode"), Some("021"));
    assert_eq!(extra_of(extra, "packageStatus"), Some("3"));
    assert_eq!(extra_of(extra, "protocolVersion"), Some("1.0.3"));
    let (_, accepted, reason, extra) = &r[1];
    assert!(accepted);
    assert!(
        reason
            .as_deref()
            .unwrap()
            .starts_with("принято с предупреждениями: [019]"),
        "{reason:?}"
    );
    assert_eq!(extra_of(extra, "record"), Some(WARNED));
    let (locator, accepted, _, extra) = &r[2];
    assert_eq!(locator, &format!("Пакет {PACKAGE}"));
    assert!(accepted);
    assert_eq!(extra_of(extra, "record"), None);
    assert_eq!(
        (extra_of(extra, "recordNum"), extra_of(extra, "recordNumSuccess")),
        (Some("3"), Some("2"))
    );
}

#[test]
fn the_10_10_i_answer_and_both_2_3_0_forms_are_read() {
    let out = answer("response.xml", &sample("10.10.I-1.0.3.response.xml")).unwrap();
    let r = receipts(&out);
    assert_eq!(r.len(), 2);
    assert_eq!(
        r[0].2.as_deref(),
        Some(
            "[014] Значение идентификатора ЛМСЗ bb553ff1-42c3-4e13-b07f-5033b5a41ad7 в реестре не найдено; \
             [059] Значение кода 000002 не найдено в справочнике \"Критерии нуждаемости\""
        )
    );
    assert_eq!(extra_of(&r[0].3, "ruleCode"), Some("014,059"));

    let out = answer("protocol-2.xml", &sample("package-protocol-2.3.0.xml")).unwrap();
    let r = receipts(&out);
    assert_eq!(
        (r.len(), r[0].1, extra_of(&r[0].3, "protocolVersion")),
        (2, false, Some("2.3.0"))
    );
    assert_eq!(extra_of(&r[0].3, "record"), Some(REJECTED));

    let out = answer("10.36.xml", &sample("10.36.S-2.0.0.response.xml")).unwrap();
    let r = receipts(&out);
    assert_eq!(r.len(), 1, "every fact accepted: the package's receipt only");
    assert_eq!(extra_of(&r[0].3, "recordNumSuccess"), Some("2"));

    for (file, status) in [("package-result-1.0.2.xml", "2"), ("package-result-2.3.0.xml", "1")] {
        let out = answer(file, &sample(file)).unwrap();
        let r = receipts(&out);
        assert_eq!(
            (r.len(), extra_of(&r[0].3, "packageStatus")),
            (1, Some(status)),
            "{file}"
        );
    }
}

#[test]
fn a_message_refused_whole_names_its_package_by_the_file_name() {
    let body = sample("package-protocol-1.0.3.message.xml");
    let out = answer(&format!("egisso-10.06.S-{PACKAGE}.xml.protocol.xml"), &body).unwrap();
    let r = receipts(&out);
    assert_eq!(r.len(), 1);
    assert!(!r[0].1);
    assert_eq!(
        r[0].2.as_deref(),
        Some("сообщение отклонено: [FORMAT] Файл пакета не соответствует схеме 10.06.S")
    );
    assert_eq!(extra_of(&r[0].3, "packageStatus"), Some("refused"));
    let error = answer("protocol.xml", &body).unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("package-unknown", Some("packageId"))
    );
    assert!(
        error.message.starts_with("Документ «protocol.xml»"),
        "{}",
        error.message
    );
}

/// Hostile and malformed answers: each refused whole with a Russian reason naming the file (and the
/// record and field where there is one), never a panic.
#[test]
fn doubtful_answers_are_refused_with_the_reason() {
    let good = sample("package-protocol-1.0.3.xml");
    let cases: Vec<(&str, String, &str, Option<&str>, &str)> = vec![
        (
            "unknown version",
            good.replace("package-protocol/1.0.3", "package-protocol/1.0.9"),
            "unsupported-version",
            Some("xmlns"),
            "«1.0.9»",
        ),
        (
            "mixed families",
            good.replace("package-result/1.0.2", "package-result/2.3.0"),
            "unsupported-version",
            Some("xmlns"),
            "«2.3.0»",
        ),
        (
            "foreign namespace",
            good.replace(
                "urn://egisso-ru/types/record-result/1.0.3",
                "http://example.com/records",
            ),
            "unsupported-document",
            Some("recordResult"),
            "http://example.com/records",
        ),
        (
            "a package id that is no UUID",
            good.replace(PACKAGE, "пакет-1"),
            "uuid-invalid",
            Some("packageID"),
            "«пакет-1»",
        ),
        (
            "an unknown status",
            good.replace("<ns4:packageStatus>3<", "<ns4:packageStatus>7<"),
            "value-invalid",
            Some("packageStatus"),
            "«7»",
        ),
        (
            "a record that is no UUID",
            good.replace(REJECTED, "12345"),
            "uuid-invalid",
            Some("recID"),
            "запись 1",
        ),
        (
            "a record named twice",
            good.replace(WARNED, REJECTED),
            "duplicate-record",
            Some("recID"),
            "дважды",
        ),
        (
            "a record neither true nor false",
            good.replacen("<ns5:recordOK>false<", "<ns5:recordOK>maybe<", 1),
            "value-invalid",
            Some("recordOK"),
            "«maybe»",
        ),
        (
            "a rule code of letters",
            good.replace("<ns5:ruleCode>021<", "<ns5:ruleCode>abc<"),
            "code-invalid",
            Some("ruleCode"),
            "«abc»",
        ),
        (
            "counts that do not add up",
            good.replace("<ns4:recordNum>3<", "<ns4:recordNum>4<"),
            "count-mismatch",
            Some("recordNum"),
            "не сходятся",
        ),
        (
            "more successes than records",
            good.replace("<ns4:recordNumSuccess>2<", "<ns4:recordNumSuccess>5<"),
            "count-mismatch",
            Some("recordNumSuccess"),
            "так не бывает",
        ),
        (
            "processed before it was received",
            good.replace("2026-11-20T03:05:14.179+03:00", "2026-11-19T03:05:14+03:00"),
            "date-order",
            Some("finishProcessTime"),
            "невозможные даты",
        ),
        (
            "an impossible date",
            good.replace("2026-11-20T03:05:08.655+03:00", "2026-02-30T03:05:08+03:00"),
            "date-invalid",
            Some("receivingTime"),
            "2026-02-30",
        ),
        (
            "no package id",
            good.replace(&format!("<ns4:packageID>{PACKAGE}</ns4:packageID>"), ""),
            "missing-field",
            Some("packageID"),
            "packageID",
        ),
        (
            "a data file sent back",
            r#"<msg:data xmlns:msg="urn://egisso-ru/msg/10.06.S/1.1.0"/>"#.into(),
            "unsupported-document",
            None,
            "10.06.S",
        ),
        (
            "the 10.10.I 1.0.4 notice of an attachment",
            std::fs::read_to_string(shared_file(
                "egisso/egisso_schema-23.12.0/samples/10.10.I-1.0.4.request.1.xml",
            ))
            .unwrap()
            .replace("<request", "<response")
            .replace("</request>", "</response>"),
            "unsupported-document",
            Some("attachment"),
            "вложением",
        ),
        (
            "a DOCTYPE",
            format!(
                "<!DOCTYPE p [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
                &good[good.find("<ns2:protocol").unwrap()..]
            ),
            "xml-doctype",
            None,
            "Документ «bad.xml»",
        ),
        (
            "a broken document",
            good[..good.len() / 2].to_string(),
            "xml-malformed",
            None,
            "строка",
        ),
    ];
    for (what, body, code, field, said) in cases {
        let error = answer("bad.xml", &body).map(|o| receipts(&o)).unwrap_err();
        assert_eq!(
            (error.code.as_str(), error.field.as_deref()),
            (code, field),
            "{what}: {}",
            error.message
        );
        assert!(error.message.contains(said), "{what}: {}", error.message);
        assert!(
            error.message.starts_with("Документ «bad.xml»"),
            "{what}: {}",
            error.message
        );
    }
}

#[test]
fn reference_lists_are_still_told_from_answers() {
    // A reference list in no namespace, and a CSV that mentions an EGISSO namespace, stay reference lists.
    let out = reference(
        "lmsz.csv",
        "text/csv",
        "code;name;note\nc3cbbd4c-3cca-486e-912c-9971d100ef3e;Выплата;urn://egisso-ru/types/x\n",
    )
    .unwrap();
    assert_eq!(list(&out).entries.len(), 1);
}
