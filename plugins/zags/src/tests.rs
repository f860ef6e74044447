//! Tests against the published ZAGS schemas and the official sample; fixtures derived from the sample are
//! validated with xmllint (a validator nobody on the team wrote) before the reader is trusted with them.

use super::*;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Attribute, DeathRecord, DeathRecordKind, Normalized, Person, PlanInput, RecordOutcome,
};
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

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join(name)
}

/// xmllint's verdict on a file against a schema.
fn assert_valid(path: &Path, schema: &Path) {
    let output = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(path)
        .output()
        .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
    assert!(
        output.status.success(),
        "{} against {}: {}",
        path.display(),
        schema.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn assert_document_valid(document: &Document, schema: &Path) {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ipra-zags-{}-{call}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(&document.name);
    std::fs::write(&path, &document.bytes).expect("write");
    assert_valid(&path, schema);
    let _ = std::fs::remove_dir_all(&dir);
}

fn read(path: &Path) -> Vec<RecordOutcome> {
    let bytes = std::fs::read(path).expect("read");
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    import(ImportInput::Document(Document {
        name,
        media_type: "application/xml".into(),
        bytes,
    }))
    .expect("import")
    .records
}

fn death(outcome: &RecordOutcome) -> &DeathRecord {
    match &outcome.outcome {
        Ok(Normalized::Death(d)) => d,
        other => panic!("{}: expected a death record, got {other:?}", outcome.locator),
    }
}

fn extra<'a>(death: &'a DeathRecord, code: &str) -> Option<&'a str> {
    death.extra.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

fn import_text(text: &str) -> Result<ImportOutput, PluginError> {
    import(ImportInput::Document(Document {
        name: "test.xml".into(),
        media_type: "application/xml".into(),
        bytes: text.as_bytes().to_vec(),
    }))
}

#[test]
fn the_official_4_0_6_sample_is_a_new_death_record() {
    let path = shared_file("zags/fatal-4.0.6/request.sample.xml");
    assert_valid(&path, &shared_file("zags/fatal-4.0.6/zags-fatal-ru-root-4.0.6.xsd"));
    let records = read(&path);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].locator, "Запись 1 (акт 170219920000200319007)");
    let d = death(&records[0]);
    assert_eq!(d.record_id, "170219920000200319007/0");
    assert_eq!(d.kind, DeathRecordKind::New);
    assert_eq!(d.act_number.as_deref(), Some("170219920000200319007"));
    assert_eq!(d.act_date.as_deref(), Some("2021-02-27"));
    assert_eq!(d.death_date.as_deref(), Some("2021-02-26"));
    assert_eq!(d.birth_date.as_deref(), Some("1954-02-15"));
    assert_eq!(d.snils, None, "the sample has no SNILS");
    assert_eq!(
        (d.surname.as_str(), d.given_name.as_str(), d.patronymic.as_deref()),
        ("Тестов", "Иван", Some("Тестович"))
    );
    assert_eq!(
        d.registry_office.as_deref(),
        Some("Отдел записи актов гражданского состояния Гагаринского района города Тест Управления ЗАГС города Тест")
    );
    assert_eq!(extra(d, "format"), Some("FATALRequest-4.0.6"));
    assert_eq!(extra(d, "document-id"), Some("def7441f-625a-4d94-bbd5-7dc11b41a4be"));
    assert_eq!(extra(d, "status-code"), Some("0101"));
    assert_eq!(extra(d, "registry-office-code"), Some("R9200002"));
    assert_eq!(extra(d, "certificate"), Some("I-КМ 111111 2021-02-27"));
    assert_eq!(extra(d, "gender"), Some("M"));
    assert_eq!(extra(d, "death-time"), Some("06:30:00.000+03:00"));
    assert_eq!(
        extra(d, "address"),
        Some("Российская Федерация, г. Тест, ул. Тест , д.4А, кв.28")
    );
    assert_eq!(extra(d, "death-date-precision"), None);
}

#[test]
fn a_4_0_4_record_derived_from_the_sample_reads_the_same_person() {
    let path = fixture("fatal-4.0.4.xml");
    assert_valid(&path, &shared_file("zags/fatal-older/zags-fatal-ru-root.xsd"));
    let records = read(&path);
    let d = death(&records[0]);
    assert_eq!(d.record_id, "170219920000200319007/0");
    assert_eq!(d.kind, DeathRecordKind::New);
    assert_eq!(d.act_date.as_deref(), Some("2021-02-27"));
    assert_eq!(d.death_date.as_deref(), Some("2021-02-26"));
    assert_eq!(d.birth_date.as_deref(), Some("1954-02-15"));
    assert_eq!((d.surname.as_str(), d.given_name.as_str()), ("Тестов", "Иван"));
    assert_eq!(d.snils, None);
    assert_eq!(extra(d, "format"), Some("FATALRequest-4.0.4"));
    assert_eq!(extra(d, "status-code"), Some("01"));
    assert_eq!(extra(d, "status-name"), Some("Актуальная"));
    assert_eq!(extra(d, "gender"), Some("M"));
    assert_eq!(extra(d, "certificate"), Some("I-КМ 111111 2021-02-27"));
    assert_eq!(
        extra(d, "address"),
        Some("Российская Федерация, г. Тест, ул. Тест , д.4А, кв.28")
    );
}

#[test]
fn corrections_cancellations_partial_dates_and_a_bad_snils() {
    let path = fixture("fatal-4.0.6-changes.xml");
    assert_valid(&path, &shared_file("zags/fatal-4.0.6/zags-fatal-ru-root-4.0.6.xsd"));
    let records = read(&path);
    assert_eq!(records.len(), 3);

    let corrected = death(&records[0]);
    assert_eq!(corrected.kind, DeathRecordKind::Correction);
    assert_eq!(corrected.record_id, "170219920000200319007/1");
    assert_eq!(corrected.snils.as_deref(), Some("11223344595"));
    assert_eq!(corrected.death_date.as_deref(), Some("2021-02"), "the day is unknown");
    assert_eq!(extra(corrected, "death-date-precision"), Some("month"));
    assert_eq!(extra(corrected, "correction-date"), Some("2021-10-01"));

    let cancelled = death(&records[1]);
    assert_eq!(cancelled.kind, DeathRecordKind::Cancellation);
    assert_eq!(cancelled.record_id, "170219920000200319008/2");
    assert_eq!(cancelled.given_name, "Пётр");
    assert_eq!(cancelled.patronymic, None, "ПрОтчество: no patronymic");
    assert_eq!(cancelled.birth_date.as_deref(), Some("1950"));
    assert_eq!(extra(cancelled, "birth-date-precision"), Some("year"));
    assert_eq!(extra(cancelled, "cancellation-date"), Some("2021-10-02"));

    let bad = records[2].outcome.as_ref().expect_err("a bad SNILS fails its record");
    assert_eq!(bad.code, "snils-checksum");
    assert_eq!(bad.field.as_deref(), Some("СНИЛС"));
    assert_eq!(bad.record.as_deref(), Some("Запись 3 (акт 170219920000200319009)"));
    assert!(bad.message.contains("112-233-445 96"), "{}", bad.message);
}

#[test]
fn a_restoration_after_a_cancellation_is_a_correction() {
    let sample = std::fs::read_to_string(shared_file("zags/fatal-4.0.6/request.sample.xml")).unwrap();
    let blocks = "<СведВосстанАГС ДатаВнесИспр=\"2021-12-01\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведВосстанАГС>\
                  <СведАннулирАГС ДатаВнесИспр=\"2021-10-01\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведАннулирАГС>";
    let text = sample.replace("</ПрдСведРег>", &format!("</ПрдСведРег>{blocks}"));
    let out = import_text(&text).unwrap();
    assert_eq!(death(&out.records[0]).kind, DeathRecordKind::Correction);
    let later_cancel = text.replace("2021-10-01", "2022-01-01");
    let out = import_text(&later_cancel).unwrap();
    assert_eq!(death(&out.records[0]).kind, DeathRecordKind::Cancellation);
}

#[test]
fn fatalinf_answers_give_a_death_or_name_the_person_not_found() {
    let path = fixture("fatalinf-response.xml");
    assert_valid(&path, &shared_file("zags/zags-fatalinf-ru-root.xsd"));
    let records = read(&path);
    assert_eq!(records.len(), 2);
    let found = death(&records[0]);
    assert_eq!(found.snils.as_deref(), Some("98765432183"));
    assert_eq!(found.death_date.as_deref(), Some("2020-05-20"));
    assert_eq!(found.act_date.as_deref(), Some("2020-05-21"));
    assert_eq!(
        (found.surname.as_str(), found.given_name.as_str()),
        ("Иванова", "Мария")
    );
    assert_eq!(extra(found, "format"), Some("FATALINFResponse-4.0.1"));
    assert_eq!(extra(found, "gender"), Some("F"));
    assert_eq!(extra(found, "request-snils"), Some("98765432183"));
    match &records[1].outcome {
        Ok(Normalized::Skipped(text)) => {
            assert!(text.contains("112-233-445 95"), "{text}");
            assert!(text.contains("не найдены"), "{text}");
        }
        other => panic!("expected Skipped, got {other:?}"),
    }
}

#[test]
fn an_unprocessed_answer_is_a_record_error() {
    let text = r#"<FATALINFResponse xmlns="urn://x-artefacts-zags-fatalinf/root/112-52/4.0.1" ИдЗапрос="x" ДатаСвед="2020-06-02" КолДок="1" ТипАГСЗапрос="07"><СведОтветАГС ИдДок="11223344595-20200601" РезОбраб="3"/></FATALINFResponse>"#;
    let out = import_text(text).unwrap();
    let error = out.records[0].outcome.as_ref().unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("zags-not-processed", Some("РезОбраб"))
    );
}

#[test]
fn hostile_and_broken_xml_is_refused_with_its_position() {
    let laughs = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\n<FATALRequest>&lol2;</FATALRequest>";
    let error = import_text(laughs).unwrap_err();
    assert_eq!(error.code, "xml-doctype");
    assert!(error.message.contains("строка 2"), "{}", error.message);
    assert_eq!(error.record.as_deref(), Some("Документ «test.xml»"));

    let external = "<FATALRequest>&xxe;</FATALRequest>";
    assert_eq!(import_text(external).unwrap_err().code, "xml-entity");

    let broken = "<FATALRequest ИдСвед=\"1\">\n  <СведРегСмерт>\n</FATALRequest>";
    let error = import_text(broken).unwrap_err();
    assert_eq!(error.code, "xml-malformed");
    assert!(error.message.contains("строка 3"), "{}", error.message);
}

/// The official sample with its root namespace replaced (`None`: removed).
fn sample_in_namespace(namespace: Option<&str>) -> String {
    let sample = std::fs::read_to_string(shared_file("zags/fatal-4.0.6/request.sample.xml")).unwrap();
    let declared = "xmlns=\"urn://x-artefacts-zags-fatal/root/112-04/4.0.6\"";
    assert!(
        sample.contains(declared),
        "the sample declares its root namespace as default"
    );
    match namespace {
        Some(ns) => sample.replace(declared, &format!("xmlns=\"{ns}\"")),
        None => sample.replace(declared, ""),
    }
}

#[test]
fn only_the_namespace_versions_we_read_are_accepted() {
    let cases = [
        (
            Some("urn://x-artefacts-zags-fatal/root/112-04/9.9.9"),
            "version-unsupported",
            "«9.9.9»",
        ),
        (
            Some("urn://x-artefacts-zags-fatal/root/112-04/"),
            "version-unsupported",
            "«»",
        ),
        (
            Some("http://example.com/fatal"),
            "namespace-foreign",
            "http://example.com/fatal",
        ),
        (
            Some("urn://x-artefacts-zags-fatalinf/root/112-52/4.0.1"),
            "namespace-foreign",
            "112-52",
        ),
        (None, "namespace-missing", "нет пространства имён"),
    ];
    for (namespace, code, named) in cases {
        let error = import_text(&sample_in_namespace(namespace)).expect_err(code);
        assert_eq!(error.code, code, "{namespace:?}");
        assert_eq!(error.record.as_deref(), Some("Документ «test.xml»"));
        assert_eq!(error.field.as_deref(), Some("xmlns"));
        assert!(error.message.contains(named), "{}", error.message);
        assert!(error.message.contains("не применены"), "{}", error.message);
        assert!(
            error.message.contains("urn://x-artefacts-zags-fatal/root/112-04/4.0.6"),
            "the message names what is expected: {}",
            error.message
        );
    }
    let answer = r#"<FATALINFResponse xmlns="urn://x-artefacts-zags-fatalinf/root/112-52/4.0.2" ИдЗапрос="x" ДатаСвед="2020-06-02" КолДок="1" ТипАГСЗапрос="07"><СведОтветАГС ИдДок="11223344595-20200601" РезОбраб="2"/></FATALINFResponse>"#;
    assert_eq!(import_text(answer).unwrap_err().code, "version-unsupported");
    let stripped = r#"<FATALINFResponse ИдЗапрос="x" ДатаСвед="2020-06-02" КолДок="1" ТипАГСЗапрос="07"><СведОтветАГС ИдДок="11223344595-20200601" РезОбраб="2"/></FATALINFResponse>"#;
    assert_eq!(import_text(stripped).unwrap_err().code, "namespace-missing");
    // Both known FATALRequest versions still read.
    let ours = import_text(&sample_in_namespace(Some(
        "urn://x-artefacts-zags-fatal/root/112-04/4.0.4",
    )))
    .unwrap();
    assert_eq!(extra(death(&ours.records[0]), "format"), Some("FATALRequest-4.0.4"));
}

#[test]
fn contradicting_dates_are_flagged_as_doubts_not_errors() {
    let sample = std::fs::read_to_string(shared_file("zags/fatal-4.0.6/request.sample.xml")).unwrap();
    let clean = import_text(&sample).unwrap();
    assert_eq!(extra(death(&clean.records[0]), "doubt"), None);

    let before_birth = sample.replace("2021-02-26", "1950-01-01");
    let out = import_text(&before_birth).unwrap();
    let d = death(&out.records[0]);
    let doubts: Vec<&str> = d
        .extra
        .iter()
        .filter(|a| a.code == "doubt")
        .map(|a| a.value.as_str())
        .collect();
    assert_eq!(
        doubts,
        vec!["дата смерти 1950-01-01 раньше даты рождения 1954-02-15 в записи ЗАГС"]
    );

    // The act drawn up the day before the death it records.
    let act_first = sample.replace(">2021-02-27</ДатаЗапис>", ">2021-02-25</ДатаЗапис>");
    assert!(act_first.contains("2021-02-25"), "the sample's act date is an element");
    let out = import_text(&act_first).unwrap();
    assert_eq!(
        extra(death(&out.records[0]), "doubt"),
        Some("дата записи акта 2021-02-25 раньше даты смерти 2021-02-26")
    );

    // A date that is no date at all fails the record with its field.
    let no_date = sample.replace("2021-02-26", "2021-02-30");
    let out = import_text(&no_date).unwrap();
    let error = out.records[0].outcome.as_ref().unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("date-invalid", Some("ДатаСмерт"))
    );
    assert!(error.message.contains("2021-02-30"), "{}", error.message);
}

#[test]
fn other_documents_are_skipped() {
    let out = import_text("<ReportPrint/>").unwrap();
    assert!(matches!(&out.records[0].outcome, Ok(Normalized::Skipped(t)) if t.contains("ReportPrint")));
}

fn person(snils: &str, surname: &str, given: &str, patronymic: Option<&str>, birth: Option<&str>) -> Person {
    Person {
        snils: snils.into(),
        surname: surname.into(),
        given_name: given.into(),
        patronymic: patronymic.map(str::to_string),
        birth_date: birth.map(str::to_string),
        gender: None,
        territory_code: None,
        address: None,
        extra: Vec::new(),
    }
}

fn plan_input(today: &str) -> PlanInput {
    PlanInput {
        step: "zags-check".into(),
        persons: vec![
            person("112-233-445 95", "Тестов", "Иван", Some("Тестович"), Some("1954-02-15")),
            person("98765432183", "О'Нил & Ко", "Мария", None, Some("1995")),
            person("123-456-789 00", "Неверный", "Снилс", None, None),
            person("11223344595", "Тестов", "Иван", Some("Тестович"), Some("1954-02-15")),
            person("12345678964", "Без", "Даты", None, None),
        ],
        today: today.into(),
        extra: Vec::new(),
    }
}

fn attribute<'a>(attributes: &'a [Attribute], code: &str) -> Option<&'a str> {
    attributes.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

#[test]
fn the_plan_asks_once_per_person_with_requests_that_validate() {
    let config = RequestConfig::default();
    let out = execute(ExecuteInput::Plan(plan_input("2024-03-05")), &config).unwrap();
    assert_eq!(
        out.follow_ups.len(),
        3,
        "the duplicate SNILS and the bad one are not asked about"
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].code, "snils-checksum");
    assert_eq!(out.errors[0].field.as_deref(), Some("СНИЛС"));
    assert_eq!(out.errors[0].record.as_deref(), Some("Гражданин Неверный Снилс"));

    let schema = shared_file("zags/zags-fatalinf-ru-root.xsd");
    for follow_up in &out.follow_ups {
        assert_eq!(follow_up.kind, "zags-request");
        let document = follow_up.document.as_ref().unwrap();
        assert_document_valid(document, &schema);
        let request_id = attribute(&follow_up.attributes, "request-id").unwrap();
        assert_eq!(document.name, format!("zags-fatalinf-{request_id}.xml"));
        let text = String::from_utf8(document.bytes.clone()).unwrap();
        assert!(text.contains(&format!("ИдЗапрос=\"{request_id}\"")));
    }
    let first = &out.follow_ups[0];
    assert_eq!(attribute(&first.attributes, "snils"), Some("11223344595"));
    assert_eq!(
        attribute(&first.attributes, "document-id"),
        Some("11223344595-20240305")
    );
    assert!(first.title.contains("Тестов Иван Тестович"), "{}", first.title);
    let text = String::from_utf8(first.document.as_ref().unwrap().bytes.clone()).unwrap();
    assert!(text.contains("СНИЛС=\"112-233-445 95\""), "{text}");
    assert!(text.contains("<ДатаРождКаленд>1954-02-15</ДатаРождКаленд>"), "{text}");
    let second = String::from_utf8(out.follow_ups[1].document.as_ref().unwrap().bytes.clone()).unwrap();
    assert!(second.contains("О'Нил &amp; Ко"), "{second}");
    assert!(second.contains("<fnst:ПрОтчество>1</fnst:ПрОтчество>"), "{second}");
    assert!(second.contains("<fnst:Год>1995</fnst:Год>"), "{second}");

    // Deterministic: the same day gives the same bytes, another day another request.
    let again = execute(ExecuteInput::Plan(plan_input("2024-03-05")), &config).unwrap();
    let bytes = |o: &ExecuteOutput| {
        o.follow_ups[0]
            .document
            .as_ref()
            .map(|d| (d.name.clone(), d.bytes.clone()))
    };
    assert_eq!(bytes(&again), bytes(&out));
    let later = execute(ExecuteInput::Plan(plan_input("2024-04-05")), &config).unwrap();
    assert_ne!(
        attribute(&later.follow_ups[0].attributes, "request-id"),
        attribute(&first.attributes, "request-id")
    );
}

#[test]
fn an_answer_to_our_request_names_the_person_it_did_not_find() {
    let out = execute(ExecuteInput::Plan(plan_input("2024-03-05")), &RequestConfig::default()).unwrap();
    let document_id = attribute(&out.follow_ups[0].attributes, "document-id").unwrap();
    let answer = format!(
        r#"<FATALINFResponse xmlns="urn://x-artefacts-zags-fatalinf/root/112-52/4.0.1" ИдЗапрос="r" ДатаСвед="2024-03-06" КолДок="1" ТипАГСЗапрос="07"><СведОтветАГС ИдДок="{document_id}" РезОбраб="2"/></FATALINFResponse>"#
    );
    let records = import_text(&answer).unwrap().records;
    assert!(matches!(&records[0].outcome, Ok(Normalized::Skipped(t)) if t.contains("112-233-445 95")));
}

#[test]
fn configured_requests_validate_and_bad_configuration_is_refused() {
    let config = RequestConfig {
        legal_basis_code: "05".into(),
        legal_basis_document: Some("Соглашение об информационном взаимодействии № 1".into()),
        region_code: Some("92".into()),
        sender_code: Some("REGSZN01".into()),
    };
    let out = execute(ExecuteInput::Plan(plan_input("2024-03-05")), &config).unwrap();
    let document = out.follow_ups[0].document.as_ref().unwrap();
    assert_document_valid(document, &shared_file("zags/zags-fatalinf-ru-root.xsd"));
    assert_eq!(
        attribute(&out.follow_ups[0].attributes, "sender-code"),
        Some("REGSZN01")
    );

    let bad = RequestConfig {
        region_code: Some("7".into()),
        ..RequestConfig::default()
    };
    let error = execute(ExecuteInput::Plan(plan_input("2024-03-05")), &bad).unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("config-invalid", Some("region-code"))
    );
    let mut wrong_step = plan_input("2024-03-05");
    wrong_step.step = "fri-send".into();
    assert_eq!(
        execute(ExecuteInput::Plan(wrong_step), &RequestConfig::default())
            .unwrap_err()
            .code,
        "unsupported-step"
    );
    let bad_day = plan_input("2024-13-05");
    assert_eq!(
        execute(ExecuteInput::Plan(bad_day), &RequestConfig::default())
            .unwrap_err()
            .field
            .as_deref(),
        Some("today")
    );
}

#[test]
fn export_renders_the_planned_documents_or_names_the_first_bad_person() {
    let config = RequestConfig::default();
    let mut input = plan_input("2024-03-05");
    input.persons.remove(2);
    let planned = execute(ExecuteInput::Plan(input.clone()), &config).unwrap();
    let documents = export(ExportInput::Requests(input), &config).unwrap();
    let from_plan: Vec<(String, Vec<u8>)> = planned
        .follow_ups
        .into_iter()
        .filter_map(|f| f.document)
        .map(|d| (d.name, d.bytes))
        .collect();
    let exported: Vec<(String, Vec<u8>)> = documents.into_iter().map(|d| (d.name, d.bytes)).collect();
    assert_eq!(exported, from_plan);
    let error = export(ExportInput::Requests(plan_input("2024-03-05")), &config).unwrap_err();
    assert_eq!(error.field.as_deref(), Some("СНИЛС"));
}

#[test]
fn describes_a_connector() {
    let info = info();
    assert_eq!(info.id, "zags");
    assert_eq!(info.kind, PluginKind::Connector);
    assert_eq!(info.document_types, DOCUMENT_TYPES.map(str::to_string).to_vec());
    assert_eq!(info.hooks, vec![Hook::Import, Hook::Execute, Hook::Export]);
    assert!(info.config_keys.iter().any(|k| k.name == "legal-basis-code"));
}
