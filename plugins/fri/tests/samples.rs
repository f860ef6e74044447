//! The FRI import against every public sample in `../shared/formats/fri/samples` (values asserted as read from
//! the files) and against hostile inputs built from them: truncation, DTDs, encodings, ZIPs, bad records.

use ipra_plugin_fri::{import_document, Plugin};
use ipra_plugin_sdk::archive::write_zip;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Document, ExportInput, FactBatch, Hook, ImportInput, ImportOutput, IpraExtract, Normalized, PluginError,
    PluginKind, PriorReport,
};
use ipra_plugin_sdk::bindings::Guest;
use std::path::PathBuf;

fn samples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/formats/fri/samples")
}

fn sample_bytes(name: &str) -> Vec<u8> {
    let path = samples().join("yuryzje").join(name);
    let path = if path.exists() { path } else { samples().join(name) };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn document(name: &str, bytes: Vec<u8>) -> Document {
    Document {
        name: name.to_string(),
        media_type: "application/xml".to_string(),
        bytes,
    }
}

fn import(name: &str) -> ImportOutput {
    import_document(&document(name, sample_bytes(name))).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn import_text(text: &str) -> Result<ImportOutput, PluginError> {
    import_document(&document("test.xml", text.as_bytes().to_vec()))
}

fn sample_text(name: &str) -> String {
    String::from_utf8(sample_bytes(name)).unwrap()
}

/// Outcome kinds in order: `I` IPRA, `P` prior report, `S` skipped, `E` error.
fn kinds(output: &ImportOutput) -> String {
    output
        .records
        .iter()
        .map(|r| match &r.outcome {
            Ok(Normalized::Ipra(_)) => 'I',
            Ok(Normalized::PriorReport(_)) => 'P',
            Ok(Normalized::Skipped(_)) => 'S',
            Ok(_) => '?',
            Err(_) => 'E',
        })
        .collect()
}

fn ipras(output: &ImportOutput) -> Vec<&IpraExtract> {
    output
        .records
        .iter()
        .filter_map(|r| match &r.outcome {
            Ok(Normalized::Ipra(i)) => Some(i),
            _ => None,
        })
        .collect()
}

fn the_ipra(output: &ImportOutput) -> &IpraExtract {
    let all = ipras(output);
    assert_eq!(all.len(), 1, "{:?}", kinds(output));
    all[0]
}

fn priors(output: &ImportOutput) -> Vec<&PriorReport> {
    output
        .records
        .iter()
        .filter_map(|r| match &r.outcome {
            Ok(Normalized::PriorReport(p)) => Some(p),
            _ => None,
        })
        .collect()
}

fn errors(output: &ImportOutput) -> Vec<&PluginError> {
    output.records.iter().filter_map(|r| r.outcome.as_ref().err()).collect()
}

fn extra<'a>(
    attributes: &'a [ipra_plugin_sdk::bindings::ipra::plugin::types::Attribute],
    code: &str,
) -> Option<&'a str> {
    attributes.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

#[test]
fn ipra_20190101_regional_extract() {
    let output = import("extract_4.xml");
    assert_eq!(kinds(&output), "I");
    assert_eq!(output.records[0].locator, "Документ 1 (IPRA_20190101)");
    let ipra = the_ipra(&output);
    assert_eq!(ipra.extract_id, "2a044e95-f04f-470b-8f57-af11ac94a30f");
    assert_eq!(ipra.document_id, "a0b64f86-1a7c-4e4b-87ce-37b28271b33b");
    assert_eq!(ipra.document_version, "IPRA_20190101");
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("МРН-20882/21", "П.МР-195515/20", "2021-05-01")
    );
    assert_eq!(ipra.decision_date.as_deref(), Some("2020-12-13"));
    assert_eq!(ipra.valid_until.as_deref(), Some("2027-05-15"));
    assert_eq!(
        ipra.issued_by.as_deref(),
        Some("Бюро социально-медицинской экспертизы по Тюменской области")
    );
    assert!(!ipra.is_child);
    let person = &ipra.person;
    assert_eq!(person.snils, "12033421587");
    assert_eq!(
        (
            person.surname.as_str(),
            person.given_name.as_str(),
            person.patronymic.as_deref()
        ),
        ("ПОГОДИНА", "ВАЛЕНТИНА", Some("ИВАНОВНА"))
    );
    assert_eq!(person.birth_date.as_deref(), Some("1957-05-15"));
    assert_eq!(person.gender.as_deref(), Some("F"));
    assert_eq!(
        person.territory_code.as_deref(),
        Some("cb77cc8b-1bb2-4c34-a7f7-51a46bc37725")
    );
    assert_eq!(
        person.address.as_deref(),
        Some("889098, Санкт-Петербург г., Мельничная, 77, 3А/1,1")
    );
    assert_eq!(extra(&person.extra, "District"), Some("ЗАО"));
    assert_eq!(extra(&person.extra, "ДатаРегистрации"), Some("2021-12-08T18:49:05"));
    assert_eq!(extra(&ipra.extra, "TypeOfSubmission"), Some("КОРР"));
    assert_eq!(extra(&ipra.extra, "DisabilityGroupId"), Some("2"));
    assert_eq!(extra(&ipra.extra, "RehabPotentialId"), Some("12"));

    let categories: Vec<&str> = ipra.measures.iter().map(|m| m.category_code.as_str()).collect();
    assert_eq!(
        categories,
        [
            "MSE.IPRA.MED.EVENT",
            "MSE.IPRA.PROF.EVENT",
            "MSE.IPRA.SOCIAL.EVENT",
            "MSE.IPRA.PHYSIOTHERAPY.EVENT",
            "MSE.IPRA.TSR.FEDERAL.ITEM",
            "MSE.IPRA.TSR.MSK",
            "MSE.IPRA.HELPITEM",
            "MSE.IPRA.TSR.REGIONAL.ITEM"
        ]
    );
    let wheelchair = &ipra.measures[4];
    assert_eq!(wheelchair.code.as_deref(), Some("7-02-08"));
    assert_eq!(
        wheelchair.name,
        "Кресло-коляска с ручным приводом для лиц с большим весом прогулочная (для инвалидов и детей-инвалидов)"
    );
    assert_eq!(wheelchair.quantity.as_deref(), Some("1"));
    assert_eq!(
        (wheelchair.date_from.as_deref(), wheelchair.date_to.as_deref()),
        (Some("2021-04-13"), Some("2022-08-13"))
    );
    assert_eq!(wheelchair.guid.as_deref(), Some("a6e98b79-e6a2-44bc-bb8b-d4b2f523cecc"));
    let med = &ipra.measures[0];
    assert_eq!(
        (med.code.as_deref(), med.name.as_str(), med.executor_name.as_deref()),
        (
            Some("0"),
            "Восстановительная терапия",
            Some("Главная городская больница")
        )
    );
    assert!(
        ipra.measures.iter().all(|m| m.section.is_empty()),
        "the host maps sections"
    );
    assert!(ipra
        .measures
        .iter()
        .all(|m| m.key.starts_with("95C98A91E4DFB79FF184EBBA37A762F2.")));
    assert!(output.warnings.is_empty(), "{:?}", output.warnings);
}

#[test]
fn ipra_20190101_other_extracts() {
    let output = import("11350102278_IPRA_2019.xml");
    assert_eq!(kinds(&output), "IS");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("МРН-2055552/21", "П.МР-15555515/20", "2021-05-01")
    );
    assert_eq!(ipra.person.snils, "74133421058");
    assert_eq!(ipra.measures.len(), 21);
    assert_eq!(extra(&ipra.extra, "Регион"), Some("23"));

    let output = import("FO_PFR.FO_EGISSO.xml");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("972.9.13/2020", "1447.9.13/2020", "2020-12-17")
    );
    assert_eq!(ipra.valid_until.as_deref(), Some("9999-12-31"));
    assert_eq!(ipra.person.territory_code, None, "this address carries no district");
    assert_eq!(
        ipra.person.address.as_deref(),
        Some("430033, Мордовия Респ, Саранск г, Ярославская ул, д. 10, кв. 43")
    );
    assert_eq!(ipra.measures.len(), 8);

    // A real extract that repeats one record key for two measures: both kept, the second re-keyed, a warning.
    let output = import("extract-20211124093406.xml");
    let ipra = the_ipra(&output);
    assert_eq!(ipra.number, "МРН-20882/21");
    let repeated = "95C98A91E4DFB79FF184EBBA37A762F2.12D7A9C0C5BB18700143EA85898E729D";
    assert!(ipra.measures.iter().any(|m| m.key == repeated));
    assert!(ipra
        .measures
        .iter()
        .any(|m| m.key == format!("{repeated}@MSE.IPRA.REHAB")));
    let mut keys: Vec<&str> = ipra.measures.iter().map(|m| m.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), ipra.measures.len());
    assert_eq!(output.warnings.len(), 1);
    assert_eq!(output.warnings[0].code, "duplicate-key");
}

#[test]
fn ipra_20160101() {
    let output = import("11350102278_IPRA_2016.xml");
    assert_eq!(kinds(&output), "SI");
    assert_eq!(output.records[1].locator, "Документ 2 (IPRA_20160101)");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("Л-9933382/21", "Л-99515/20", "2021-02-01")
    );
    // No DecisionDate in this version: the document date stands for it.
    assert_eq!(ipra.decision_date.as_deref(), Some("2021-01-30"));
    assert_eq!(ipra.valid_until.as_deref(), Some("2025-04-28"));
    assert_eq!(ipra.measures.len(), 11);
    let rehab = ipra
        .measures
        .iter()
        .find(|m| m.category_code == "MSE.IPRA.REHAB")
        .unwrap();
    assert_eq!(
        (rehab.code.as_deref(), rehab.name.as_str()),
        (Some("12"), "Социокультурная реабилитация")
    );

    let output = import("zdrv.xml");
    assert_eq!(kinds(&output), "PPPSSI");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("23362", "9719084", "2017-05-12")
    );
    assert!(ipra.is_child, "IsChild=true");
    assert_eq!(ipra.person.surname, "NCMB");
    let reports = priors(&output);
    assert_eq!(
        reports.iter().map(|p| p.document_version.as_str()).collect::<Vec<_>>(),
        ["TSR_20170101", "RPAY_20170101", "PRPEXEC_20170213"]
    );
    assert_eq!(reports[2].entries.len(), 7);

    let output = import("response.xml");
    assert_eq!(kinds(&output), "SSSSSPPPPPSSI");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("336.8.ФБ/2016", "6295131", "2006-07-11")
    );
    assert_eq!(ipra.person.snils, "00000060001", "below 001-001-998: no checksum");
    assert_eq!(extra(&ipra.extra, "Регион"), Some("72"));
    let resoc = priors(&output);
    assert_eq!(resoc.len(), 5);
    let first = resoc[0];
    assert_eq!(first.document_version, "RESOC_20180416");
    assert_eq!(first.document_id, "8071a668-24e7-4a75-9334-0a042aa84841");
    assert_eq!(first.parent_document_id, None, "empty РодительскийДокумент");
    assert_eq!(first.number.as_deref(), Some("20180824160745"));
    assert_eq!(first.date.as_deref(), Some("2018-08-24"));
    assert_eq!(first.source.as_deref(), Some("Фонд социального страхования России"));
    assert_eq!(first.entries.len(), 2);
    assert_eq!(first.entries[0].category_code, "IPRAEXEC.REHAB.SOCIOENV");
    assert_eq!(first.entries[0].date_from.as_deref(), Some("2018-08-13"));
    assert_eq!(
        extra(&first.entries[0].extra, "ExecuteDocRequisitesNumber"),
        Some("001-79/18")
    );
}

#[test]
fn ipra_20170812() {
    let output = import("mse.ipra.rehab.xml");
    assert_eq!(kinds(&output), "SSSI");
    let ipra = the_ipra(&output);
    assert_eq!(ipra.document_version, "IPRA_20170812");
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("23344", "10068181", "2017-05-11")
    );
    assert_eq!(ipra.decision_date.as_deref(), Some("2017-03-20"));
    assert!(ipra.is_child);
    assert_eq!(ipra.person.territory_code.as_deref(), Some("г. Вязьма"));
    // The two MSE.IPRA.REHAB records say IsNeeded=false: not measures.
    assert!(ipra.measures.iter().all(|m| m.category_code != "MSE.IPRA.REHAB"));
    assert_eq!(ipra.measures.len(), 18);
}

#[test]
fn ipra_20221024_and_its_quirks() {
    let output = import("11350102278_IPRA_20221024.xml");
    assert_eq!(kinds(&output), "IS");
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.number.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("ИПРА-500-000000004", "ППМСЭ-423-000000002", "2024-02-08")
    );
    assert_eq!(ipra.decision_date.as_deref(), Some("2024-02-09"));
    assert_eq!(ipra.valid_until.as_deref(), Some("2029-02-08"));
    assert!(ipra
        .issued_by
        .as_deref()
        .unwrap()
        .starts_with("\"Бюро № 24 Федерального казенного учреждения"));
    assert!(!ipra.is_child, "born 1972, no IsChild in this version");
    assert_eq!(ipra.person.snils, "12091402205");
    assert_eq!(ipra.person.territory_code.as_deref(), Some("Бугульминский"));
    assert_eq!(
        ipra.person.address.as_deref(),
        Some("423231, Республика Татарстан, р-н Бугульминский, г. Бугульма, ул. Комсомольская, д. 3/1, кв. 9")
    );
    // The Cyrillic О of ОrganizationName/ОrganizationOGRN is normalised to the Latin letter.
    assert_eq!(extra(&ipra.extra, "OrganizationName"), Some("7-й автобусный парк"));
    assert_eq!(extra(&ipra.extra, "OrganizationOGRN"), Some("28732398"));
    assert!(ipra.extra.iter().all(|a| !a.code.contains('О')));

    let rehab: Vec<_> = ipra
        .measures
        .iter()
        .filter(|m| m.category_code == "MSE.IPRA.REHAB")
        .collect();
    assert_eq!(rehab.len(), 4);
    let shared = "e4f5cffc-6a95-11ed-b446-0800270f8269";
    assert_eq!(rehab.iter().filter(|m| m.guid.as_deref() == Some(shared)).count(), 3);
    let mut keys: Vec<&str> = ipra.measures.iter().map(|m| m.key.as_str()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(
        keys.len(),
        ipra.measures.len(),
        "keys are unique although GUIDs are not"
    );
    let event_types: Vec<_> = rehab
        .iter()
        .map(|m| extra(&m.extra, "EventTypeCode").unwrap())
        .collect();
    assert_eq!(event_types, ["3", "1", "2", "4"]);
    assert_eq!(rehab[1].name, "Медицинская реабилитация");
    assert_eq!(rehab[1].executor_ogrn.as_deref(), Some("29346299"));

    let tsr: Vec<_> = ipra
        .measures
        .iter()
        .filter(|m| m.category_code == "MSE.IPRA.TSR.FEDERAL.ITEM")
        .collect();
    assert_eq!(
        tsr.len(),
        4,
        "three items and a service; the parameter records are not measures"
    );
    assert_eq!(
        tsr.iter().map(|m| m.code.as_deref().unwrap_or("-")).collect::<Vec<_>>(),
        ["7-02-01", "7-01-01", "7-01-07", "-"]
    );
    assert_eq!(tsr[3].name, "Получение ТСР");
    assert_eq!(extra(&tsr[0].extra, "BudgetCode"), Some("1"));
    assert_eq!(tsr[0].quantity.as_deref(), Some("2"));
    assert_eq!(ipra.measures.len(), 11);

    // Every 7–8 digit ExecutorOGRN is kept and flagged, never a rejection.
    assert_eq!(output.warnings.len(), 8);
    assert!(output.warnings.iter().all(|w| w.code == "executor-ogrn-invalid"
        && w.field.as_deref() == Some("ExecutorOGRN")
        && w.record
            .as_deref()
            .unwrap()
            .starts_with("Документ 1 (IPRA_20221024), Запись ")));
}

#[test]
fn dirty_snils_is_a_record_error_and_the_rest_goes_on() {
    let output = import("extract_1.xml");
    assert_eq!(kinds(&output), "ESS");
    let error = errors(&output)[0];
    assert_eq!(error.code, "snils-invalid");
    assert_eq!(error.field.as_deref(), Some("СНИЛС"));
    assert_eq!(error.record.as_deref(), Some("Документ 1 (IPRA_20190101)"));
    assert_eq!(
        error.message,
        "СНИЛС «12А0-334-215 87»: СНИЛС содержит букву «А» (позиция 3) вместо цифры"
    );
}

#[test]
fn older_model_files() {
    // The 2018 ВсеФайлы model: an ACT file is skipped.
    let output = import("RequestExtract.sample-egisso-consumer.xml");
    assert_eq!(kinds(&output), "S");
    // new.extract.xml holds no `Документ`, but one IPRA `Файл` of the older model, read by the codes in its
    // fields' `id` attributes: its SNILS fails the checksum, so it is a record error, not a document error.
    let output = import("new.extract.xml");
    assert_eq!(kinds(&output), "E");
    let error = errors(&output)[0];
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("snils-checksum", Some("СНИЛС"))
    );
    assert_eq!(output.records[0].locator, "Документ 1 (IPRA)");
    // Its birth date (2950) is after the decision: the next error once the SNILS is right.
    let fixed = sample_text("new.extract.xml").replace("331-903-031 33", "331-903-031 30");
    let output = import_text(&fixed).unwrap();
    let error = errors(&output)[0];
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("date-invalid", Some("Дата рождения"))
    );
    // With both fixed the file is an IPRA (version `IPRA`: that model has no version code).
    let output = import_text(&fixed.replace("2950-06-08", "2010-06-08")).unwrap();
    let ipra = the_ipra(&output);
    assert_eq!(
        (
            ipra.document_version.as_str(),
            ipra.protocol_number.as_str(),
            ipra.protocol_date.as_str()
        ),
        ("IPRA", "6295189", "2016-03-02")
    );
    assert_eq!(ipra.issued_by.as_deref(), Some("Экспертный состав № 8 общего профиля"));
    assert!(ipra.is_child);
}

/// An extract that holds no document is reported (and rejected by the host), never counted as a
/// file with nothing new in it.
#[test]
fn an_extract_without_documents_is_said_to_hold_none() {
    let text = sample_text("new.extract.xml");
    let start = text.find("<fri:ВсеФайлы>").unwrap();
    let end = text.find("</fri:ВсеФайлы>").unwrap() + "</fri:ВсеФайлы>".len();
    let error = import_text(&format!("{}<fri:ВсеДокументы/>{}", &text[..start], &text[end..])).unwrap_err();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("empty-extract", Some("ВсеДокументы"))
    );
    assert!(
        error.message.contains("не содержит ни одного документа"),
        "{}",
        error.message
    );
}

#[test]
fn other_formats_are_refused_whole() {
    let error = import_document(&document(
        "initiative.xml",
        sample_bytes("initiative-distribution-1.0.2.sample.xml"),
    ))
    .unwrap_err();
    assert_eq!(error.code, "wrong-root");
    assert!(
        error.message.contains("InitiativeDistributionRequest"),
        "{}",
        error.message
    );
    let error = import_text(r#"<ВыпискаФРИ xmlns="http://example.org"/>"#).unwrap_err();
    assert_eq!(error.code, "wrong-root");
    // The generated schema instance has the right root and placeholder documents: nothing to store.
    let output = import_document(&document(
        "generated.xml",
        std::fs::read(samples().join("../fri-extract-schema-v1.5.generated-sample.xml")).unwrap(),
    ))
    .unwrap();
    assert!(ipras(&output).is_empty());
}

fn same(a: &ImportOutput, b: &ImportOutput) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

#[test]
fn encodings_give_identical_output() {
    let text = sample_text("extract_4.xml");
    let original = import_text(&text).unwrap();

    let declared = text.replacen(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
        1,
    );
    let cp1251 = ipra_plugin_sdk::xml::encode_windows_1251(&declared).unwrap();
    assert!(cp1251.len() < text.len(), "one byte per Cyrillic letter");
    same(&import_document(&document("test.xml", cp1251)).unwrap(), &original);

    let bom = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    same(&import_document(&document("test.xml", bom)).unwrap(), &original);

    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    same(&import_document(&document("test.xml", utf16)).unwrap(), &original);

    let koi8 = text.replacen(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\" encoding=\"KOI8-R\"?>",
        1,
    );
    assert_eq!(import_text(&koi8).unwrap_err().code, "xml-encoding");
    let mut broken = text.into_bytes();
    broken[500] = 0xFF;
    assert_eq!(
        import_document(&document("test.xml", broken)).unwrap_err().code,
        "xml-encoding"
    );
}

#[test]
fn zip_archives() {
    let one = write_zip(&[("extract_4.xml", sample_bytes("extract_4.xml").as_slice())]);
    let output = import_document(&document("in.zip", one)).unwrap();
    assert_eq!(kinds(&output), "I");
    assert_eq!(output.records[0].locator, "extract_4.xml: Документ 1 (IPRA_20190101)");

    let two = write_zip(&[
        ("a/extract_4.xml", sample_bytes("extract_4.xml").as_slice()),
        ("a/readme.txt", b"not xml".as_slice()),
        ("b/2022.xml", sample_bytes("11350102278_IPRA_20221024.xml").as_slice()),
    ]);
    let output = import_document(&document("in.zip", two)).unwrap();
    assert_eq!(kinds(&output), "IIS");
    assert!(output.records[1].locator.starts_with("b/2022.xml: Документ 1"));

    let none = write_zip(&[("readme.txt", b"text".as_slice())]);
    assert_eq!(
        import_document(&document("in.zip", none)).unwrap_err().code,
        "archive-empty"
    );

    // 40 MiB of one repeated byte compress to a few dozen KiB: refused before inflating.
    let zeros = vec![b' '; 40 * 1024 * 1024];
    let bomb = write_zip(&[("bomb.xml", zeros.as_slice())]);
    let error = import_document(&document("bomb.zip", bomb)).unwrap_err();
    assert_eq!(error.code, "archive-limit");
    assert!(error.message.contains("bomb.zip"), "{}", error.message);

    let mut truncated = write_zip(&[("extract_4.xml", sample_bytes("extract_4.xml").as_slice())]);
    truncated.truncate(truncated.len() / 2);
    assert_eq!(
        import_document(&document("in.zip", truncated)).unwrap_err().code,
        "archive-malformed"
    );

    let broken_xml = write_zip(&[("x.xml", b"<fri:a".as_slice())]);
    let error = import_document(&document("in.zip", broken_xml)).unwrap_err();
    assert_eq!(error.code, "xml-malformed");
    assert!(
        error.message.starts_with("файл «x.xml» в архиве: "),
        "{}",
        error.message
    );
}

#[test]
fn hostile_xml_is_refused_whole() {
    let text = sample_text("extract_4.xml");
    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .find(|&i| i >= text.len() / 2)
        .unwrap();
    let error = import_text(&text[..cut]).unwrap_err();
    assert_eq!(error.code, "xml-malformed");
    assert!(error.message.contains("документ оборван"), "{}", error.message);
    assert!(error.message.contains("строка"), "{}", error.message);

    let laughs = text.replacen(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\"><!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>",
        1,
    );
    let laughs = laughs.replacen("ПОГОДИНА", "&lol2;", 1);
    assert_eq!(import_text(&laughs).unwrap_err().code, "xml-dtd");

    let external = text.replacen(
        "<?xml version=\"1.0\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
        1,
    );
    let external = external.replacen("ПОГОДИНА", "&xxe;", 1);
    assert_eq!(import_text(&external).unwrap_err().code, "xml-dtd");

    let unknown = text.replacen("ПОГОДИНА", "&xxe;", 1);
    let error = import_text(&unknown).unwrap_err();
    assert_eq!(error.code, "xml-entity");
    assert!(
        error.message.contains("&xxe;") && error.message.contains("строка 9"),
        "{}",
        error.message
    );

    let mismatched = text.replacen("</fri:Фамилия>", "</fri:Имя>", 1);
    let error = import_text(&mismatched).unwrap_err();
    assert_eq!(error.code, "xml-malformed");
    assert!(error.message.contains("<fri:Фамилия>"), "{}", error.message);

    let oversized = vec![b' '; ipra_plugin_fri::MAX_DOCUMENT_BYTES + 1];
    assert_eq!(
        import_document(&document("big.xml", oversized)).unwrap_err().code,
        "document-too-large"
    );
    assert_eq!(import_text("").unwrap_err().code, "xml-malformed");
}

#[test]
fn record_errors_leave_the_rest_of_the_document() {
    let text = sample_text("11350102278_IPRA_2019.xml");

    let unknown = text.replacen("IPRA_20190101", "IPRA_20990101", 1);
    let output = import_text(&unknown).unwrap();
    assert_eq!(kinds(&output), "ES");
    let error = errors(&output)[0];
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("unknown-version", Some("КодВерсия"))
    );
    assert_eq!(error.record.as_deref(), Some("Документ 1 (IPRA_20990101)"));

    let no_protocol = text.replacen("<fri:Код>ProtocolNum</fri:Код>", "<fri:Код>ProtocolNumber</fri:Код>", 1);
    let error = errors(&import_text(&no_protocol).unwrap())[0].clone();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("missing-field", Some("Номер протокола МСЭ"))
    );

    let no_date = text.replacen("<fri:Код>ProtocolDate</fri:Код>", "<fri:Код>Protocol</fri:Код>", 1);
    let error = errors(&import_text(&no_date).unwrap())[0].clone();
    assert_eq!(error.field.as_deref(), Some("Дата протокола МСЭ"));

    let bad_date = text.replacen("2021-05-01</fri:Значение>", "2021-02-30</fri:Значение>", 1);
    let error = errors(&import_text(&bad_date).unwrap())[0].clone();
    assert_eq!(
        (error.code.as_str(), error.field.as_deref()),
        ("date-invalid", Some("Дата протокола МСЭ"))
    );
    assert!(error.message.contains("2021-02-30"), "{}", error.message);

    let bad_measure_date = text.replacen("2020-05-15</fri:Значение>", "15.13.2020</fri:Значение>", 1);
    let error = errors(&import_text(&bad_measure_date).unwrap())[0].clone();
    assert_eq!(error.field.as_deref(), Some("From"));
    assert!(error.record.as_deref().unwrap().contains(", Запись "), "{error:?}");
}

#[test]
fn duplicate_documents_are_record_errors() {
    let text = sample_text("extract_4.xml");
    let start = text.find("<fri:Документ>").unwrap();
    let end = text.find("</fri:Документ>").unwrap() + "</fri:Документ>".len();
    let doubled = format!("{}{}{}", &text[..end], &text[start..end], &text[end..]);
    let output = import_text(&doubled).unwrap();
    assert_eq!(kinds(&output), "IE");
    let error = errors(&output)[0];
    assert_eq!(error.code, "duplicate-document");
    assert!(
        error.message.contains("Документ 1 (IPRA_20190101)"),
        "{}",
        error.message
    );

    // The same IPRA under another document ID: a duplicate identity.
    let copy = text[start..end].replacen(
        "a0b64f86-1a7c-4e4b-87ce-37b28271b33b",
        "a0b64f86-0000-4e4b-87ce-37b28271b33b",
        1,
    );
    let output = import_text(&format!("{}{copy}{}", &text[..end], &text[end..])).unwrap();
    assert_eq!(kinds(&output), "IE");
    assert_eq!(errors(&output)[0].code, "duplicate-ipra");
}

#[test]
fn the_plugin_interface() {
    let info = <Plugin as Guest>::describe();
    assert_eq!(info.id, "fri");
    assert!(matches!(info.kind, PluginKind::Connector));
    assert!(info.hooks.iter().any(|h| matches!(h, Hook::Import)));
    for version in ipra_plugin_fri::IPRA_VERSIONS {
        assert!(info.document_types.iter().any(|t| t == version));
    }
    let output = <Plugin as Guest>::import(ImportInput::Document(document(
        "extract_4.xml",
        sample_bytes("extract_4.xml"),
    )))
    .unwrap();
    assert_eq!(kinds(&output), "I");
    assert!(output.claims.is_empty() && output.follow_ups.is_empty());
    let error = <Plugin as Guest>::export(ExportInput::Facts(FactBatch {
        package_id: "p".to_string(),
        facts: Vec::new(),
        extra: Vec::new(),
    }))
    .unwrap_err();
    assert_eq!(error.code, "not-supported");
}
