//! The exchange with АИС СОН (the social-services system) through its connector (`plugins/aisson`), end to end
//! through the real binary and the exchange folders, on SQLite and PostgreSQL:
//! - the IPPSU drafts of the social-protection department go out by the `ippsu-outbox` job (off by default): the
//!   dry run writes nothing; the run writes `ippsu-*.xml` valid against the plugin's XSD, each IPRA once; a
//!   superseding IPRA and a reassigned measure send a correction; АИС СОН's answers mark them accepted (with the
//!   IPPSU number) or rejected (with the reason), shown on the IPRA card; an answer on a document never sent is
//!   refused with a Russian reason;
//! - the services АИС СОН reports back become execution records of the matching social-protection measures:
//!   drafts, or ready records with the setting `results = "ready"`; the same report again changes nothing; a
//!   doubtful record changes nothing and is refused naming the record and the field; hostile documents and an
//!   unknown version are quarantined with the reason;
//! - with the connector's jobs off, an executor still records execution by hand;
//! - the pages (headless Chromium): an administrator turns the exchange on at «Задания» and runs it, and the
//!   coordinator's card shows the IPPSU's state and the records that came from АИС СОН.

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, ogrn, workspace_root, Backend, Env};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "Пароль-для-теста-1";
const CONNECTOR: &str = "aisson";
/// The IPRA of `11350102278_IPRA_2019.xml` and of `extract_4.xml`, as the plugin's fixtures name them.
const IPRA_2019: &str = "d4088685-305d-4a0a-ac8e-9bcca19004cc";
const IPRA_4: &str = "a0b64f86-1a7c-4e4b-87ce-37b28271b33b";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("plugins/aisson/fixtures").join(name)).unwrap()
}

fn schema(name: &str) -> PathBuf {
    workspace_root().join("plugins/aisson/schemas").join(name)
}

fn xmllint(document: &Path, schema: &Path) {
    common::assert_valid_xml(document, schema);
}

fn files(dir: &Path) -> Vec<String> {
    common::file_names(dir)
}

fn folder(env: &Env, which: &str) -> PathBuf {
    env.data_dir().join("exchange").join(CONNECTOR).join(which)
}

/// Drops `text` into the connector's inbox as `name`.
fn drop_in(env: &Env, name: &str, text: &str) {
    let inbox = folder(env, "inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join(name), text).unwrap();
}

fn job(env: &Env, name: &str) -> serde_json::Value {
    let jobs = env.ok(&["jobs", "list", "--json"]);
    jobs.as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("job {name} declared: {jobs}"))
}

fn run(env: &Env, name: &str) -> serde_json::Value {
    let run = env.ok(&["jobs", "run", name, "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    run
}

fn message(env: &Env, file: &str) -> serde_json::Value {
    let messages = env.ok(&["exchange", "list", "--json"]);
    messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file_name"] == file)
        .cloned()
        .unwrap_or_else(|| panic!("no message {file}: {messages}"))
}

/// The directory (the social-protection executor is the fixtures' provider), `extract_4.xml` and
/// `11350102278_IPRA_2019.xml` imported; their IPRA ids.
fn setup(backend: Backend) -> (Env, std::collections::BTreeMap<&'static str, String>, i64, i64) {
    let env = Env::new(backend);
    let orgs = env.directory();
    assert_eq!(orgs["social-protection"], "1027700132030", "the fixtures' provider");
    for sample in ["extract_4.xml", "11350102278_IPRA_2019.xml"] {
        env.ok(&["import", fri_samples().join(sample).to_str().unwrap(), "--json"]);
    }
    let id = |document: &str| env.scalar(&format!("SELECT id FROM ipras WHERE document_id = '{document}'"));
    let (ipra_4, ipra_2019) = (id(IPRA_4), id(IPRA_2019));
    (env, orgs, ipra_4, ipra_2019)
}

/// `extract_4.xml` corrected: a new IPRA (number, protocol, document id) of the same person.
fn corrected_extract(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(fri_samples().join("extract_4.xml"))
        .unwrap()
        .replace("МРН-20882/21", "МРН-20883/21")
        .replace("П.МР-195515/20", "П.МР-195516/20")
        .replace(IPRA_4, "a0b64f86-1a7c-4e4b-87ce-37b28271b33c");
    assert!(text.contains("МРН-20883/21"));
    let path = env.dir.path().join("corrected.xml");
    std::fs::write(&path, text).unwrap();
    path
}

fn send_status(env: &Env, document: &str) -> String {
    env.text(&format!(
        "SELECT status FROM ippsu_sends WHERE document_name = '{document}'"
    ))
}

fn records(env: &Env, condition: &str) -> i64 {
    env.scalar(&format!("SELECT COUNT(*) FROM execution_records WHERE {condition}"))
}

fn ippsu_round_trip(backend: Backend) {
    let (env, orgs, ipra_4, ipra_2019) = setup(backend);
    let outbox = folder(&env, "outbox");

    // Off by default: a region without АИС СОН records execution by hand.
    for name in ["aisson-inbox", "aisson-outbox", "aisson-recipients"] {
        assert_eq!(job(&env, name)["enabled"], false, "{name}");
    }
    assert_eq!(job(&env, "aisson-outbox")["kind"], "ippsu-outbox");
    for name in ["aisson-inbox", "aisson-outbox"] {
        env.run_ok(&["jobs", "set", name, "--enabled", "true"]);
    }

    // The dry run says what it would send and changes nothing.
    let dry = env.ok(&["jobs", "dry-run", "aisson-outbox", "--json"]);
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert_eq!(dry["counts"]["planned"], 2, "{dry}");
    let said = dry["report"].as_str().unwrap();
    assert!(
        said.contains("МРН-20882/21") && said.contains("МРН-2055552/21"),
        "{said}"
    );
    assert!(files(&outbox).is_empty());
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ippsu_sends"), 0);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM exchange_messages WHERE connector = '{CONNECTOR}'"
        )),
        0
    );

    // The run: one IPPSU per IPRA, in the plugin's schema, with the register's recipient and services.
    let sent = run(&env, "aisson-outbox");
    assert_eq!(sent["counts"]["queued"], 2, "{sent}");
    assert_eq!(sent["counts"]["delivered"], 2, "{sent}");
    let written = files(&outbox);
    assert_eq!(written.len(), 2, "{written:?}");
    for name in &written {
        assert!(name.starts_with("ippsu-") && name.ends_with(".xml"), "{name}");
        xmllint(&outbox.join(name), &schema("ippsu-1.0.xsd"));
        let text = std::fs::read_to_string(outbox.join(name)).unwrap();
        assert!(text.contains(r#"action="create""#), "{text}");
        assert_eq!(send_status(&env, name), "sent");
    }
    let document_of = |ipra: i64, action: &str| {
        env.text(&format!(
            "SELECT document_name FROM ippsu_sends WHERE ipra_id = {ipra} AND action = '{action}' ORDER BY id DESC LIMIT 1"
        ))
    };
    let (doc_4, doc_2019) = (document_of(ipra_4, "create"), document_of(ipra_2019, "create"));
    let text_2019 = std::fs::read_to_string(outbox.join(&doc_2019)).unwrap();
    assert!(
        text_2019.contains("74133421058") && text_2019.contains("ХАСЛОВА") && text_2019.contains(IPRA_2019),
        "{text_2019}"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM follow_ups WHERE kind = 'ippsu-draft' AND status = 'sent'"),
        2
    );

    // Again: nothing new.
    let again = run(&env, "aisson-outbox");
    assert!(again["counts"]["queued"].as_u64().unwrap_or(0) == 0, "{again}");
    assert_eq!(files(&outbox).len(), 2);

    // A superseding IPRA: a correction naming the IPRA it replaced.
    env.ok(&["import", corrected_extract(&env).to_str().unwrap(), "--json"]);
    let new_4 = env.scalar("SELECT id FROM ipras WHERE number = 'МРН-20883/21'");
    let corrected = run(&env, "aisson-outbox");
    assert_eq!(corrected["counts"]["queued"], 1, "{corrected}");
    let correction = document_of(new_4, "correct");
    xmllint(&outbox.join(&correction), &schema("ippsu-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&correction)).unwrap();
    assert!(
        text.contains(r#"action="correct""#) && text.contains(IPRA_4) && text.contains("поступила новая ИПРА"),
        "{text}"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT previous_ipra_id FROM ippsu_sends WHERE document_name = '{correction}'"
        )),
        ipra_4
    );

    // A reassigned social-protection measure: a correction of its IPRA's IPPSU with the new provider.
    let other = ogrn(102_770_013_213);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &other,
        "--name",
        "Комплексный центр социального обслуживания",
        "--department",
        "social-protection",
    ]);
    let measure = env.scalar(&format!(
        "SELECT MIN(id) FROM measures WHERE ipra_id = {ipra_2019} AND section = 'social-protection'"
    ));
    env.run_ok(&["measures", "assign", &measure.to_string(), "--ogrn", &other]);
    let reassigned = run(&env, "aisson-outbox");
    assert_eq!(reassigned["counts"]["queued"], 1, "{reassigned}");
    let correction = document_of(ipra_2019, "correct");
    xmllint(&outbox.join(&correction), &schema("ippsu-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&correction)).unwrap();
    assert!(
        text.contains(r#"action="correct""#) && text.contains("изменён исполнитель") && text.contains(&other),
        "{text}"
    );
    assert_eq!(run(&env, "aisson-outbox")["counts"]["queued"].as_u64().unwrap_or(0), 0);

    // АИС СОН's answers: one accepted with its number, one rejected with the reason; one on a document never sent.
    let answers = fixture("ippsu-answer.xml")
        .replace("ippsu-MESSAGE-1.xml", &doc_2019)
        .replace("ippsu-MESSAGE-2.xml", &doc_4);
    drop_in(&env, "answers.xml", &answers);
    drop_in(
        &env,
        "stranger.xml",
        &fixture("ippsu-answer.xml")
            .replace("ippsu-MESSAGE-1.xml", "ippsu-999-999.xml")
            .replace("ippsu-MESSAGE-2.xml", "ippsu-999-998.xml"),
    );
    run(&env, "aisson-inbox");
    assert_eq!(send_status(&env, &doc_2019), "accepted");
    assert_eq!(
        env.text(&format!(
            "SELECT ippsu_number FROM ippsu_sends WHERE document_name = '{doc_2019}'"
        )),
        "ИППСУ-72-004512"
    );
    assert_eq!(send_status(&env, &doc_4), "rejected");
    let stranger = message(&env, "stranger.xml");
    assert!(
        stranger["refusals"]
            .as_str()
            .unwrap_or_default()
            .contains("который не отправлялся"),
        "{stranger}"
    );

    // The card shows the IPPSU's state.
    env.add_user("coord", "coordinator", None, PASSWORD);
    let server = env.serve(&[]);
    let (cookie, _) = login(&server.addr, "coord", PASSWORD);
    let card = |ipra: i64| {
        http(
            &server.addr,
            "GET",
            &format!("/ipras/{ipra}"),
            &[("Cookie", cookie.as_str())],
            None,
        )
    };
    let page = card(ipra_2019);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Проекты ИППСУ")
            && page.body.contains("ИППСУ № ИППСУ-72-004512")
            && page.body.contains("изменён исполнитель мероприятия"),
        "{}",
        page.body
    );
    let page = card(ipra_4);
    assert!(
        page.body.contains("отклонён: Получатель не обращался с заявлением"),
        "{}",
        page.body
    );
    drop(server);

    // The services reported back: execution records of the matching measures, drafts by default; the
    // superseded IPRA's measure is found on the IPRA that replaced it.
    drop_in(&env, "services.xml", &fixture("services-report.xml"));
    let applied = run(&env, "aisson-inbox");
    assert_eq!(
        applied["counts"]["records_refused"].as_u64().unwrap_or(0),
        0,
        "{applied}"
    );
    let actor = "Коннектор АИС СОН (ИППСУ, оказанные социальные услуги, регистр получателей)";
    assert_eq!(
        records(&env, &format!("created_by = '{actor}' AND status = 'draft'")),
        3
    );
    assert_eq!(records(&env, &format!("ipra_id = {ipra_2019} AND status = 'draft'")), 2);
    assert_eq!(records(&env, &format!("ipra_id = {new_4} AND status = 'draft'")), 1);
    assert_eq!(
        records(
            &env,
            &format!("ipra_id = {ipra_2019} AND result = 'executed' AND execution_date = '2026-10-30'")
        ),
        1
    );
    assert_eq!(
        records(
            &env,
            &format!("ipra_id = {ipra_2019} AND result = 'not-executed' AND reasons LIKE '%refused%'")
        ),
        1
    );
    assert_eq!(
        records(
            &env,
            &format!("ipra_id = {new_4} AND result = 'not-executed' AND clarification LIKE '%выбыл%'")
        ),
        1
    );
    // The same report again (another file of the same records) changes nothing.
    drop_in(
        &env,
        "services-again.xml",
        &fixture("services-report.xml").replace("</ServicesReport>", "</ServicesReport>\n<!-- повторно -->"),
    );
    run(&env, "aisson-inbox");
    assert_eq!(records(&env, "1 = 1"), 3);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM social_service_results"), 3);

    // With the setting `results = "ready"`, the records are ready for the report at once.
    env.run_ok(&[
        "jobs",
        "set",
        "aisson-inbox",
        "--enabled",
        "true",
        "--settings",
        r#"{"results": "ready"}"#,
    ]);
    let key: String = env.text(&format!(
        "SELECT measure_key FROM measures WHERE ipra_id = {ipra_2019} AND section = 'social-protection' \
         AND name = 'Социально-педагогическая реабилитация'"
    ));
    let ready = fixture("services-report.xml")
        .replace("SON-2026-11-0042", "SON-2026-11-0050")
        .replace(
            "E5F940179FB1E657143B59D960F965F1.387687B3580A2506C39BA48A4BB8CFFA",
            &key,
        );
    // Only the first recipient's first service: the rest is cut out.
    let start = ready
        .find("    <Service key=\"E5F940179FB1E657143B59D960F965F1.3621A7CAE")
        .unwrap();
    let end = ready.find("</ServicesReport>").unwrap();
    let ready = format!("{}  </Recipient>\n</ServicesReport>\n", &ready[..start]);
    assert!(end > start);
    drop_in(&env, "services-ready.xml", &ready);
    run(&env, "aisson-inbox");
    assert_eq!(
        env.text(&format!(
            "SELECT e.status FROM execution_records e JOIN measures m ON m.id = e.measure_id WHERE m.measure_key = '{key}'"
        )),
        "ready"
    );

    // The card names the records that came from АИС СОН.
    let server = env.serve(&[]);
    let (cookie, _) = login(&server.addr, "coord", PASSWORD);
    let page = http(
        &server.addr,
        "GET",
        &format!("/ipras/{ipra_2019}"),
        &[("Cookie", cookie.as_str())],
        None,
    );
    assert!(
        page.body
            .contains("по сведениям об оказанных услугах (SON-2026-11-0042/1): услуга оказана")
            && page.body.contains("отказ от услуги"),
        "{}",
        page.body
    );

    // The card's API carries the IPPSU sends with their answers and marks the records that came from АИС СОН;
    // its read is logged.
    let reads = || {
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.read' AND subject = 'ipra:{ipra_2019}'"
        ))
    };
    let before = reads();
    let api = http(
        &server.addr,
        "GET",
        &format!("/api/v1/ipras/{ipra_2019}"),
        &[("Cookie", cookie.as_str())],
        None,
    );
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(reads(), before + 1);
    let card: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    let sends = card["ippsu_sends"].as_array().expect("ippsu_sends");
    let create = sends
        .iter()
        .find(|s| s["action"] == "create")
        .unwrap_or_else(|| panic!("{sends:?}"));
    assert_eq!(create["document_name"], doc_2019.as_str());
    assert_eq!(create["status"], "accepted");
    assert_eq!(create["ippsu_number"], "ИППСУ-72-004512");
    assert!(
        create["sent_at"].is_string() && create["answered_at"].is_string(),
        "{create}"
    );
    let correct = sends
        .iter()
        .find(|s| s["action"] == "correct")
        .unwrap_or_else(|| panic!("{sends:?}"));
    assert_eq!(correct["reason"], "изменён исполнитель мероприятия");
    let reported = card["reported_services"].as_array().expect("reported_services");
    let own: Vec<i64> = env.ids(&format!(
        "SELECT id FROM execution_records WHERE ipra_id = {ipra_2019} ORDER BY id"
    ));
    assert_eq!(reported.len(), own.len(), "{reported:?}");
    for r in reported {
        assert!(own.contains(&r["execution_record_id"].as_i64().unwrap()), "{r}");
    }
    assert!(
        reported
            .iter()
            .any(|r| r["service_result"] == "provided" && r["document_id"] == "SON-2026-11-0042/1"),
        "{reported:?}"
    );
    assert!(
        reported.iter().any(|r| r["service_result"] == "refused"),
        "{reported:?}"
    );
    // The rejected IPPSU of the other IPRA, with the reason.
    let api = http(
        &server.addr,
        "GET",
        &format!("/api/v1/ipras/{ipra_4}"),
        &[("Cookie", cookie.as_str())],
        None,
    );
    let card: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert!(
        card["ippsu_sends"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["status"] == "rejected"
                && s["answer_reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("Получатель не обращался с заявлением"))
                && s["document_name"] == doc_4.as_str()),
        "{card}"
    );
    let _ = orgs;
}

fn doubtful_and_hostile(backend: Backend) {
    let (env, orgs, ipra_4, ipra_2019) = setup(backend);
    env.run_ok(&["jobs", "set", "aisson-inbox", "--enabled", "true"]);
    let health_key = env.text(&format!(
        "SELECT measure_key FROM measures WHERE ipra_id = {ipra_2019} AND section <> 'social-protection' ORDER BY id LIMIT 1"
    ));
    let social = |ipra: i64, n: i64| {
        env.text(&format!(
            "SELECT measure_key FROM measures WHERE ipra_id = {ipra} AND section = 'social-protection' ORDER BY id LIMIT 1 OFFSET {n}"
        ))
    };
    let stranger = ogrn(102_770_013_277);
    let recipient = |snils: &str, document: &str, key: &str, provider: &str| {
        format!(
            r#"  <Recipient>
    <Snils>{snils}</Snils>
    <IpraDocumentId>{document}</IpraDocumentId>
    <Service key="{key}">
      <Name>Социальная услуга</Name>
      <Result>provided</Result>
      <DateFrom>2026-02-02</DateFrom>
      <DateTo>2026-10-30</DateTo>
      <ProviderOgrn>{provider}</ProviderOgrn>
    </Service>
  </Recipient>
"#
        )
    };
    let provider = orgs["social-protection"].clone();
    let doubts = [
        // 1: good.
        recipient("74133421058", IPRA_2019, &social(ipra_2019, 2), &provider),
        // 2: the SNILS of another person.
        recipient("12033421587", IPRA_2019, &social(ipra_2019, 1), &provider),
        // 3: an IPRA the register does not hold.
        recipient(
            "74133421058",
            "00000000-0000-0000-0000-000000000000",
            &social(ipra_2019, 1),
            &provider,
        ),
        // 4: a measure of another section.
        recipient("74133421058", IPRA_2019, &health_key, &provider),
        // 5: a provider the directory does not know.
        recipient("74133421058", IPRA_2019, &social(ipra_2019, 1), &stranger),
        // 6: a key the IPRA does not have.
        recipient("12033421587", IPRA_4, "НЕТ-ТАКОГО-КЛЮЧА", &provider),
        // 7: the measure of recipient 1 again: it has its record now.
        recipient("74133421058", IPRA_2019, &social(ipra_2019, 2), &provider),
    ];
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ServicesReport xmlns=\"urn:ipra:aisson:services:1.0\" version=\"1.0\">\n  \
         <PackageId>SON-2026-11-0060</PackageId>\n  <Date>2026-11-18</Date>\n{}</ServicesReport>\n",
        doubts.concat()
    );
    drop_in(&env, "doubts.xml", &document);
    drop_in(&env, "doubtful.xml", &fixture("services-doubtful.xml"));
    drop_in(&env, "hostile.xml", &fixture("services-hostile.xml"));
    drop_in(&env, "version-2.xml", &fixture("services-unknown-version.xml"));
    let inbox = run(&env, "aisson-inbox");
    assert_eq!(inbox["counts"]["refused"], 2, "{inbox}");

    // Only the good recipients became records: 1 of «doubts.xml», 1 of the plugin's doubtful fixture.
    assert_eq!(records(&env, "1 = 1"), 2);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM social_service_results"), 2);
    let refusals = message(&env, "doubts.xml")["refusals"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for (record, words) in [
        ("Recipient[2]", "не совпадает"),
        ("Recipient[3]", "не найдена"),
        ("Recipient[4]", "не к социальной защите"),
        ("Recipient[5]", "не найден среди организаций социальной защиты"),
        ("Recipient[6]", "нет мероприятия с ключом"),
        ("Recipient[7]", "уже есть запись исполнения"),
    ] {
        let line = refusals
            .lines()
            .find(|l| l.contains(record))
            .unwrap_or_else(|| panic!("{record} refused: {refusals}"));
        assert!(line.contains(words) && line.contains("поле «"), "{record}: {line}");
    }
    assert!(!refusals.contains("Recipient[1]"), "{refusals}");
    assert_eq!(refusals.lines().count(), 6, "{refusals}");
    let doubtful = message(&env, "doubtful.xml")["refusals"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        doubtful.contains("Recipient[2]") && doubtful.contains("Recipient[3]"),
        "{doubtful}"
    );

    // Hostile and unknown-version documents: quarantined with the reason, nothing applied.
    for name in ["hostile.xml", "version-2.xml"] {
        let m = message(&env, name);
        assert_eq!(m["status"], "failed", "{m}");
        assert!(m["last_error"].as_str().unwrap().contains(&format!("«{name}»")), "{m}");
        let kept = files(&env.data_dir().join("quarantine"));
        let copy = kept
            .iter()
            .find(|f| f.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in quarantine: {kept:?}"));
        let reasons =
            std::fs::read_to_string(env.data_dir().join("quarantine").join(format!("{copy}.reasons.txt"))).unwrap();
        assert!(!reasons.trim().is_empty());
    }

    // The connector's jobs off: an executor records execution by hand.
    env.run_ok(&["jobs", "set", "aisson-inbox", "--enabled", "false"]);
    let measures = env.ok(&["measures", "list", "--ipra", &ipra_4.to_string(), "--json"]);
    let m = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "social-protection")
        .expect("a social-protection measure")
        .clone();
    let date = env.ok(&["show", &ipra_4.to_string(), "--json"])["decision_date"]
        .as_str()
        .unwrap()
        .to_string();
    env.add_execution(
        ipra_4,
        &m,
        &orgs["social-protection"],
        &["--result", "executed", "--date", &date],
    );
    assert_eq!(records(&env, &format!("ipra_id = {ipra_4}")), 1);

    // An IPRA replaced before its IPPSU went out: only the new IPRA's is sent, as a create.
    env.ok(&["import", corrected_extract(&env).to_str().unwrap(), "--json"]);
    env.run_ok(&["jobs", "set", "aisson-outbox", "--enabled", "true"]);
    let sent = run(&env, "aisson-outbox");
    assert_eq!(sent["counts"]["queued"], 2, "{sent}");
    assert_eq!(
        env.text(&format!("SELECT status FROM ippsu_sends WHERE ipra_id = {ipra_4}")),
        "superseded"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM ippsu_sends WHERE action = 'create' AND status = 'sent'"),
        2
    );
    let outbox = folder(&env, "outbox");
    let written = files(&outbox);
    assert_eq!(written.len(), 2, "{written:?}");
    for name in &written {
        let text = std::fs::read_to_string(outbox.join(name)).unwrap();
        assert!(
            !text.contains("МРН-20882/21") && text.contains(r#"action="create""#),
            "{text}"
        );
    }
}

/// Runs `ipra ARGS` killed at `point`; it must die by SIGKILL.
fn killed_at(env: &Env, point: &str, args: &[&str]) {
    use std::os::unix::process::ExitStatusExt;
    let out = env
        .ipra()
        .env("IPRA_CRASH_AT", point)
        .env("IPRA_EXCHANGE_LEASE_SECONDS", "1")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        out.status.signal(),
        Some(9),
        "{point}: {args:?} was not killed there: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::thread::sleep(std::time::Duration::from_millis(1_100));
}

/// A kill while a document is queued, or right after, never makes two documents of one send.
fn killed_while_queueing(backend: Backend) {
    let (env, _, _, _) = setup(backend);
    env.run_ok(&["jobs", "set", "aisson-outbox", "--enabled", "true"]);
    let messages = || {
        env.scalar(&format!(
            "SELECT COUNT(*) FROM exchange_messages WHERE connector = '{CONNECTOR}'"
        ))
    };
    let args = ["jobs", "run", "aisson-outbox", "--json"];
    // Inside the transaction that queues the first document and marks its send: neither is kept.
    killed_at(&env, "ippsu.marking", &args);
    assert_eq!(messages(), 0);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM ippsu_sends WHERE status = 'pending'"),
        2
    );
    // Right after it: the first is queued and marked, the second still waits.
    killed_at(&env, "ippsu.queued", &args);
    assert_eq!(messages(), 1);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM ippsu_sends WHERE status = 'queued'"),
        1
    );
    let run = env.ok(&["jobs", "run", "aisson-outbox", "--json"]);
    assert_eq!(run["counts"]["queued"], 1, "{run}");
    assert_eq!(run["counts"]["sent"], 2, "{run}");
    assert_eq!(messages(), 2);
    assert_eq!(files(&folder(&env, "outbox")).len(), 2);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ippsu_sends WHERE status = 'sent'"), 2);
}

#[test]
fn a_kill_never_sends_an_ippsu_twice_on_sqlite() {
    killed_while_queueing(Backend::Sqlite);
}

#[test]
fn a_kill_never_sends_an_ippsu_twice_on_postgres() {
    killed_while_queueing(Backend::Postgres);
}

/// The recipient dies (ZAGS's record applied): the IPPSU АИС СОН holds is corrected once, naming the death
/// and its date, although the IPRA is closed; the IPRA whose IPPSU never went out sends nothing; services
/// reported afterwards for the dead person are refused naming the record and change nothing.
fn death_corrects_the_ippsu(backend: Backend) {
    let (env, orgs, ipra_4, ipra_2019) = setup(backend);
    let outbox = folder(&env, "outbox");
    for name in ["aisson-inbox", "aisson-outbox"] {
        env.run_ok(&["jobs", "set", name, "--enabled", "true"]);
    }
    assert_eq!(run(&env, "aisson-outbox")["counts"]["queued"], 2);

    // Her death, from ZAGS.
    let inbox = env.data_dir().join("exchange/zags/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("fatal-1.xml"), common::fatal_request_about_her()).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.text(&format!("SELECT status FROM ipras WHERE id = {ipra_4}")),
        "closed"
    );
    let corrections = |ipra: i64| {
        env.scalar(&format!(
            "SELECT COUNT(*) FROM ippsu_sends WHERE ipra_id = {ipra} AND action = 'correct'"
        ))
    };
    assert_eq!(corrections(ipra_4), 1, "planned with the death");
    assert_eq!(corrections(ipra_2019), 0, "another person's IPPSU is left alone");
    let reason = env.text(&format!(
        "SELECT reason FROM ippsu_sends WHERE ipra_id = {ipra_4} AND action = 'correct'"
    ));
    assert!(
        reason.starts_with("получатель социальных услуг умер 26.02.2021"),
        "{reason}"
    );

    // The dry run says it and sends nothing.
    let before = files(&outbox);
    let dry = env.ok(&["jobs", "dry-run", "aisson-outbox", "--json"]);
    assert_eq!(dry["counts"]["pending"], 1, "{dry}");
    assert!(dry["report"].as_str().unwrap().contains("МРН-20882/21"), "{dry}");
    assert_eq!(files(&outbox), before);

    // The run sends the correction once, in the plugin's schema, with the reason.
    let sent = run(&env, "aisson-outbox");
    assert_eq!(sent["counts"]["queued"], 1, "{sent}");
    let correction = env.text(&format!(
        "SELECT document_name FROM ippsu_sends WHERE ipra_id = {ipra_4} AND action = 'correct'"
    ));
    assert_eq!(send_status(&env, &correction), "sent");
    xmllint(&outbox.join(&correction), &schema("ippsu-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&correction)).unwrap();
    assert!(
        text.contains(r#"action="correct""#) && text.contains("умер 26.02.2021") && text.contains(IPRA_4),
        "{text}"
    );
    assert_eq!(run(&env, "aisson-outbox")["counts"]["queued"].as_u64().unwrap_or(0), 0);
    assert_eq!(corrections(ipra_4), 1);

    // Services reported for her afterwards: refused naming the record and the field, nothing changes.
    let key = env.text(&format!(
        "SELECT measure_key FROM measures WHERE ipra_id = {ipra_4} AND section = 'social-protection' ORDER BY id LIMIT 1"
    ));
    let measures_before = env.texts(&format!(
        "SELECT id || ':' || status FROM measures WHERE ipra_id = {ipra_4} ORDER BY id"
    ));
    let records_before = records(&env, "1 = 1");
    let report = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ServicesReport xmlns="urn:ipra:aisson:services:1.0" version="1.0">
  <PackageId>SON-2026-11-0070</PackageId>
  <Date>2026-11-18</Date>
  <Recipient>
    <Snils>12033421587</Snils>
    <IpraDocumentId>{IPRA_4}</IpraDocumentId>
    <Service key="{key}">
      <Name>Социально-бытовая реабилитация</Name>
      <Result>provided</Result>
      <DateFrom>2026-02-02</DateFrom>
      <DateTo>2026-10-30</DateTo>
      <ProviderOgrn>{}</ProviderOgrn>
    </Service>
  </Recipient>
</ServicesReport>
"#,
        orgs["social-protection"]
    );
    drop_in(&env, "services-dead.xml", &report);
    run(&env, "aisson-inbox");
    let refusals = message(&env, "services-dead.xml")["refusals"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        refusals.contains("Recipient[1]") && refusals.contains("умер") && refusals.contains("поле «Snils»"),
        "{refusals}"
    );
    assert_eq!(records(&env, "1 = 1"), records_before);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM social_service_results"), 0);
    assert_eq!(
        env.texts(&format!(
            "SELECT id || ':' || status FROM measures WHERE ipra_id = {ipra_4} ORDER BY id"
        )),
        measures_before
    );

    // ZAGS cancels the act: the IPRA is in force again and the IPPSU is corrected once more.
    let cancellation = std::fs::read_to_string(env.data_dir().join("exchange/zags/archive/fatal-1.xml"))
        .unwrap()
        .replace(
            "</СведРегСмерт>",
            "<СведАннулирАГС ДатаВнесИспр=\"2021-10-01\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведАннулирАГС></СведРегСмерт>",
        );
    std::fs::write(inbox.join("fatal-a.xml"), cancellation).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.text(&format!("SELECT status FROM ipras WHERE id = {ipra_4}")),
        "active"
    );
    assert_eq!(corrections(ipra_4), 2);
    let sent = run(&env, "aisson-outbox");
    assert_eq!(sent["counts"]["queued"], 1, "{sent}");
    let again = env.text(&format!(
        "SELECT document_name FROM ippsu_sends WHERE ipra_id = {ipra_4} AND action = 'correct' ORDER BY id DESC LIMIT 1"
    ));
    xmllint(&outbox.join(&again), &schema("ippsu-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&again)).unwrap();
    assert!(
        text.contains(r#"action="correct""#) && text.contains("аннулирована"),
        "{text}"
    );
}

#[test]
fn a_death_corrects_the_ippsu_and_refuses_services_on_sqlite() {
    death_corrects_the_ippsu(Backend::Sqlite);
}

#[test]
fn a_death_corrects_the_ippsu_and_refuses_services_on_postgres() {
    death_corrects_the_ippsu(Backend::Postgres);
}

#[test]
fn ippsu_out_and_services_back_on_sqlite() {
    ippsu_round_trip(Backend::Sqlite);
}

#[test]
fn ippsu_out_and_services_back_on_postgres() {
    ippsu_round_trip(Backend::Postgres);
}

#[test]
fn doubtful_and_hostile_reports_on_sqlite() {
    doubtful_and_hostile(Backend::Sqlite);
}

#[test]
fn doubtful_and_hostile_reports_on_postgres() {
    doubtful_and_hostile(Backend::Postgres);
}

/// The pages, as an administrator and a coordinator use them: the jobs come off; the administrator
/// turns the outbox and the inbox on at «Задания» and runs them there; after АИС СОН's answers and
/// its services, the coordinator's card lists the IPPSU sent with its state and marks the records
/// that came from АИС СОН as drafts for the executor.
#[test]
fn pages_turn_the_exchange_on_and_show_the_ippsu_on_the_card() {
    let (env, _, ipra_4, ipra_2019) = setup(Backend::Sqlite);
    env.add_user("admin", "administrator", None, PASSWORD);
    env.add_user("coord", "coordinator", None, PASSWORD);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();

    let admin = Browser::start();
    admin.login(addr, "admin", PASSWORD);
    for name in ["aisson-outbox", "aisson-inbox"] {
        admin.goto(&format!("http://{addr}/admin/jobs/{name}"));
        assert_eq!(
            admin.script("return document.querySelector('#f-enabled').checked"),
            serde_json::Value::Bool(false),
            "{name} comes off"
        );
        admin.click("#f-enabled");
        admin.click(".adm-job-form button[type=submit]");
        admin.wait_url("done=job-saved");
        assert_eq!(job(&env, name)["enabled"], true, "{name}");
    }
    // A dry run first: what would go, nothing written.
    admin.goto(&format!("http://{addr}/admin/jobs/aisson-outbox"));
    admin.click(r#"form[action="/admin/jobs/aisson-outbox/dry-run"] button"#);
    admin.wait_url("run=");
    let said = admin.text(".adm-run-result");
    assert!(said.contains("МРН-2055552/21"), "{said}");
    assert!(files(&folder(&env, "outbox")).is_empty());
    admin.click(r#"form[action="/admin/jobs/aisson-outbox/run"] button"#);
    admin.find(".adm-runs tbody tr:nth-child(2)");
    assert!(admin.text(".adm-run-result h2").starts_with("Результат запуска"));
    admin.screenshot("aisson-outbox-run");
    let document_of = |ipra: i64| {
        env.text(&format!(
            "SELECT document_name FROM ippsu_sends WHERE ipra_id = {ipra} AND action = 'create'"
        ))
    };
    let (doc_4, doc_2019) = (document_of(ipra_4), document_of(ipra_2019));
    assert_eq!(files(&folder(&env, "outbox")).len(), 2);

    // АИС СОН answers and reports its services; the administrator runs the inbox from its page.
    drop_in(
        &env,
        "answers.xml",
        &fixture("ippsu-answer.xml")
            .replace("ippsu-MESSAGE-1.xml", &doc_2019)
            .replace("ippsu-MESSAGE-2.xml", &doc_4),
    );
    drop_in(&env, "services.xml", &fixture("services-report.xml"));
    admin.goto(&format!("http://{addr}/admin/jobs/aisson-inbox"));
    admin.click(r#"form[action="/admin/jobs/aisson-inbox/run"] button"#);
    admin.wait_url("run=");
    assert_eq!(send_status(&env, &doc_2019), "accepted");

    // The coordinator's card.
    let coord = Browser::start();
    coord.login(addr, "coord", PASSWORD);
    coord.goto(&format!("http://{addr}/ipras/{ipra_2019}"));
    let sends = coord.text("#reg-ippsu");
    assert!(
        sends.contains("создание") && sends.contains("ИППСУ № ИППСУ-72-004512"),
        "{sends}"
    );
    let reported = coord.text("main");
    assert!(
        reported.contains("по сведениям об оказанных услугах (SON-2026-11-0042/1)"),
        "{reported}"
    );
    assert_eq!(
        coord.script("return document.querySelectorAll('.reg-reported').length"),
        serde_json::json!(2),
        "both services of the first recipient are marked"
    );
    coord.screenshot("aisson-card-ippsu");
    coord.goto(&format!("http://{addr}/ipras/{ipra_4}"));
    let sends = coord.text("#reg-ippsu");
    assert!(sends.contains("отклонён"), "{sends}");
}
