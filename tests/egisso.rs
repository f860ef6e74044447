//! EGISSO answers and corrections end to end, through the real binary and the EGISSO connector's
//! outbox and inbox folders, on SQLite and PostgreSQL: facts of three persons are uploaded (a dry run
//! first, which sends and stores nothing); EGISSO's protocol (`package-protocol` 1.0.3, the sample of
//! `plugins/egisso/samples/` with the real package and fact ids) dropped into the inbox accepts two and
//! rejects one with its reason and rule; hostile answers — an unknown version, a broken document, an
//! answer on a package never sent, one that contradicts the first — change nothing, the refused ones
//! quarantined with a Russian reason; the rejected fact, its execution corrected, is sent again under
//! the same uuid and accepted by a 10.36.S 2.0.0 answer; then a changed execution date goes out as a
//! correction, a death as a termination and a withdrawn execution as an invalidation, in one package
//! valid against 10.06.S 1.1.0, all accepted by a 2.3.0 protocol. In a real browser: the mapping
//! page (a mapping refused beside its field, one saved) and the facts list with EGISSO's reason, from
//! which the corrected fact is sent again.

mod common;

use common::browser::Browser;
use common::{fri_samples, workspace_root, Backend, Env, BACKENDS};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "Пароль-для-теста-1";
/// The local measures (LMSZ) and the category of recipients of the region's NSI files.
const LMSZ: &str = "5f1d3b8e-4c1a-4b7e-9d7a-2f6e8c9a1b23";
const LMSZ_OTHER: &str = "6a2e4c9f-5d2b-4c8f-8e1b-3a7f9d0c2e34";
const CATEGORY: &str = "0a9c4b2d-7e6f-4a1b-8c3d-5e7f9a1b2c3d";
/// The identifiers in the samples, replaced by the real ones.
const SAMPLE_PACKAGE: &str = "3f2b1c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
const SAMPLE_REJECTED: &str = "7a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9";
const SAMPLE_WARNED: &str = "9c8b7a6d-5e4f-4321-9876-fedcba987654";
/// Her SNILS in `extract_4.xml`.
const SNILS_A: &str = "120-334-215 87";

fn sample(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("plugins/egisso/samples").join(name)).expect("an EGISSO sample")
}

fn schema() -> PathBuf {
    common::formats().join("egisso/egisso_schema-23.12.0/10.06.S-1.1.0.xsd")
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn xmllint(document: &Path) {
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema())
        .arg(document)
        .output()
        .expect("xmllint (Debian libxml2-utils)");
    assert!(
        out.status.success(),
        "{}: {}",
        document.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One person's executed social-protection measure, reported.
struct Reported {
    ipra: i64,
    execution: i64,
    measure: serde_json::Value,
    report: i64,
}

fn reported(env: &Env, extract: &str, orgs: &std::collections::BTreeMap<&'static str, String>) -> Reported {
    env.ok(&["import", fri_samples().join(extract).to_str().unwrap(), "--json"]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let measure = env
        .ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "social-protection")
        .unwrap_or_else(|| panic!("a social measure in {extract}"))
        .clone();
    let card = env.ok(&["show", &ipra.to_string(), "--json"]);
    let date = card["decision_date"].as_str().unwrap().to_string();
    env.add_execution(
        ipra,
        &measure,
        &orgs["social-protection"],
        &["--result", "executed", "--date", &date, "--ready"],
    );
    let execution = env.scalar(&format!(
        "SELECT id FROM execution_records WHERE ipra_id = {ipra} AND section = 'social-protection'"
    ));
    let report = env.assemble(ipra, &orgs["region"]);
    Reported {
        ipra,
        execution,
        measure,
        report,
    }
}

/// The record's report is withdrawn, the record executed on `date` instead and reported again.
fn redate(env: &Env, r: &mut Reported, orgs: &std::collections::BTreeMap<&'static str, String>, date: &str) {
    env.run_ok(&["reports", "withdraw", &r.report.to_string()]);
    env.run_ok(&["executions", "draft", &r.execution.to_string()]);
    let mut update = common::execution_args(r.ipra, &r.measure, &orgs["social-protection"]);
    update[1] = "update".into();
    update.insert(2, r.execution.to_string());
    update.extend(["--result", "executed", "--date", date].map(String::from));
    env.run_ok(&update.iter().map(String::as_str).collect::<Vec<_>>());
    env.run_ok(&["executions", "ready", &r.execution.to_string()]);
    r.report = env.assemble(r.ipra, &orgs["region"]);
}

/// A fact of an execution: (id, fact uuid, event uuid, status, operation).
fn fact(env: &Env, execution: i64) -> (i64, String, String, String, String) {
    let row = env.text(&format!(
        "SELECT id || '|' || fact_uuid || '|' || event_uuid || '|' || status || '|' || operation \
         FROM egisso_facts WHERE execution_id = {execution}"
    ));
    let f: Vec<&str> = row.split('|').collect();
    (
        f[0].parse().unwrap(),
        f[1].into(),
        f[2].into(),
        f[3].into(),
        f[4].into(),
    )
}

/// Every fact's state, to show that something changed nothing.
fn states(env: &Env) -> Vec<String> {
    env.texts(
        "SELECT id || ':' || status || ':' || operation || ':' || COALESCE(error, '') || ':' || COALESCE(package_ref, 0) \
         FROM egisso_facts ORDER BY id",
    )
}

fn latest_package(env: &Env) -> String {
    env.text("SELECT package_uuid FROM egisso_packages ORDER BY id DESC LIMIT 1")
}

fn drop_answer(env: &Env, name: &str, text: &str) {
    let inbox = env.data_dir().join("exchange/egisso/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join(name), text).unwrap();
}

fn message<'a>(messages: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["file_name"] == file)
        .unwrap_or_else(|| panic!("no message {file} in {messages}"))
}

/// An answer that EGISSO accepted every element of the package: the 10.36.S 2.0.0 sample with the
/// package's id and its number of elements.
fn all_accepted(package: &str, elements: usize) -> String {
    sample("10.36.S-2.0.0.response.xml")
        .replace(SAMPLE_PACKAGE, package)
        .replace("<pr:recordNum>2<", &format!("<pr:recordNum>{elements}<"))
        .replace("<pr:recordNumSuccess>2<", &format!("<pr:recordNumSuccess>{elements}<"))
}

fn answers_and_corrections(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let a = reported(&env, "extract_4.xml", &orgs);
    let mut b = reported(&env, "extract-20211124093406.xml", &orgs);
    let d = reported(&env, "FO_PFR.FO_EGISSO.xml", &orgs);
    let outbox = env.data_dir().join("exchange/egisso/outbox");

    // The region's NSI, in the documented CSV form (the schema set holds no NSI document).
    let lmsz = env.dir.path().join("lmsz@2024-01.csv");
    std::fs::write(
        &lmsz,
        format!("code;name;parent;oszCode\n{LMSZ};Реабилитационные услуги;;0040.000001\n{LMSZ_OTHER};Ежемесячная выплата;;0040.000001\n"),
    )
    .unwrap();
    let categories = env.dir.path().join("categories@2024-01.csv");
    std::fs::write(&categories, format!("code;name\n{CATEGORY};Инвалиды\n")).unwrap();
    for file in [&lmsz, &categories] {
        env.ok(&["import", "--connector", "egisso", file.to_str().unwrap(), "--json"]);
    }
    let category = a.measure["category_code"].as_str().unwrap().to_string();
    // A measure the loaded NSI does not know is refused, naming the field.
    let out = env.run(&[
        "exchange",
        "egisso-map",
        &category,
        "--lmsz",
        "11111111-2222-4333-8444-555555555555",
    ]);
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(error.contains("не найдена в загруженном справочнике ЛМСЗ"), "{error}");
    env.run_ok(&[
        "exchange",
        "egisso-map",
        &category,
        "--lmsz",
        LMSZ,
        "--category",
        CATEGORY,
        "--osz",
        "0040.000001",
    ]);

    // A dry run writes the package and sends and stores nothing.
    let dry = env.ok(&["jobs", "dry-run", "egisso-upload", "--json"]);
    assert_eq!(dry["counts"]["facts"], 3, "{dry}");
    assert!(files(&outbox).is_empty(), "a dry run sends nothing");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_facts"), 0);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_packages"), 0);

    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(
        (run["counts"]["facts"].as_i64(), run["counts"]["sent"].as_i64()),
        (Some(3), Some(1)),
        "{run}"
    );
    let package = latest_package(&env);
    let sent = files(&outbox);
    assert_eq!(sent, vec![format!("egisso-10.06.S-{package}.xml")]);
    xmllint(&outbox.join(&sent[0]));
    for r in [&a, &b, &d] {
        let (_, uuid, event, status, op) = fact(&env, r.execution);
        assert_eq!((status.as_str(), op.as_str()), ("sent", "fact"));
        assert_eq!(uuid, event, "a new fact is named by its own uuid");
    }
    let (b_id, b_uuid, b_event, ..) = fact(&env, b.execution);
    let (_, a_uuid, a_event, ..) = fact(&env, a.execution);
    let (_, d_uuid, ..) = fact(&env, d.execution);

    // First a bare package result (1.0.2): the package is being processed, no fact is answered yet.
    drop_answer(
        &env,
        "result.xml",
        &sample("package-result-1.0.2.xml").replace(SAMPLE_PACKAGE, &package),
    );
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(env.text("SELECT status FROM egisso_packages"), "processing");
    assert_eq!(fact(&env, b.execution).3, "sent");

    // EGISSO's protocol: B rejected (rule 021), A accepted with a warning, D accepted without remarks.
    let protocol = sample("package-protocol-1.0.3.xml")
        .replace(SAMPLE_PACKAGE, &package)
        .replace(SAMPLE_REJECTED, &b_event)
        .replace(SAMPLE_WARNED, &a_event);
    drop_answer(&env, &format!("egisso-10.06.S-{package}.xml.protocol.xml"), &protocol);
    let inbox = env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(inbox["counts"]["processed"], 1, "{inbox}");
    let b_row = env.text(&format!(
        "SELECT status || '|' || rule_code || '|' || error FROM egisso_facts WHERE id = {b_id}"
    ));
    assert_eq!(
        b_row,
        "rejected|021|[021] Дата начала действия назначения раньше даты решения о назначении"
    );
    assert_eq!(fact(&env, a.execution).3, "accepted");
    assert!(env
        .text(&format!(
            "SELECT error FROM egisso_facts WHERE execution_id = {}",
            a.execution
        ))
        .starts_with("принято с предупреждениями: [019]"));
    assert_eq!(fact(&env, d.execution).3, "accepted");
    assert_eq!(
        env.text("SELECT status FROM egisso_packages ORDER BY id LIMIT 1"),
        "processed"
    );
    let rejected = env.ok(&["exchange", "egisso-facts", "--status", "rejected", "--json"]);
    assert_eq!(rejected.as_array().unwrap().len(), 1, "{rejected}");
    assert_eq!(rejected[0]["rule_code"], "021");

    // Hostile and doubtful answers change nothing: refused whole (quarantined with the reason), or
    // their records refused and kept on the message.
    let before = states(&env);
    let answers = [
        (
            "version.xml",
            protocol.replace("package-protocol/1.0.3", "package-protocol/1.0.9"),
        ),
        ("broken.xml", protocol[..protocol.len() / 2].to_string()),
        (
            "other-package.xml",
            protocol.replace(&package, "0f0e0d0c-0b0a-4908-8706-050403020100"),
        ),
        (
            "contradiction.xml",
            protocol
                .replacen("<ns5:recordOK>false<", "<ns5:recordOK>true<", 1)
                .replace("<ns4:recordNumSuccess>2<", "<ns4:recordNumSuccess>3<"),
        ),
        ("again.xml", format!("{protocol}<!-- доставлен повторно -->\n")),
    ];
    for (name, text) in &answers {
        drop_answer(&env, name, text);
    }
    let inbox = env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(
        (
            inbox["counts"]["processed"].as_i64(),
            inbox["counts"]["refused"].as_i64()
        ),
        (Some(3), Some(2)),
        "{inbox}"
    );
    assert_eq!(states(&env), before, "nothing changed");
    let messages = env.ok(&["exchange", "list", "--json"]);
    for (file, reason) in [
        ("version.xml", "версия «1.0.9» ответа ЕГИССО не поддерживается"),
        ("broken.xml", "не является корректным XML"),
    ] {
        let m = message(&messages, file);
        assert_eq!(m["status"], "failed", "{m}");
        assert_eq!(m["attempts"], 1, "a refusal is not retried: {m}");
        assert!(m["last_error"].as_str().unwrap().contains(reason), "{m}");
        let quarantined = files(&env.data_dir().join("quarantine"));
        let kept = quarantined
            .iter()
            .find(|f| f.ends_with(&format!("-{file}.reasons.txt")))
            .unwrap_or_else(|| panic!("{file} quarantined: {quarantined:?}"));
        let reasons = std::fs::read_to_string(env.data_dir().join("quarantine").join(kept)).unwrap();
        assert!(reasons.contains(reason), "{reasons}");
    }
    for (file, reason) in [
        ("other-package.xml", "который не отправлялся: не учтён"),
        ("contradiction.xml", "противоречит учтённому ранее"),
    ] {
        let m = message(&messages, file);
        assert_eq!(m["status"], "processed", "{m}");
        assert!(
            m["refusals"].as_str().unwrap_or_default().contains(reason),
            "{file}: {m}"
        );
    }
    assert!(
        message(&messages, "again.xml")["refusals"].is_null(),
        "the same answer again is no fault"
    );

    // B's execution is corrected (its date), then, from the facts page, sent again.
    redate(&env, &mut b, &orgs, "2021-12-01");
    env.add_user("coord", "coordinator", None, PASSWORD);
    {
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/admin"));
        assert!(browser.text("main").contains("ЕГИССО"));
        browser.goto(&format!("http://{addr}/admin/egisso"));
        let mappings = browser.text(".adm-egisso-mappings");
        assert!(
            mappings.contains(&category)
                && mappings.contains("Реабилитационные услуги")
                && mappings.contains("Инвалиды"),
            "{mappings}"
        );
        assert!(browser.text("#count-rejected").contains('1'));
        // A mapping to a measure the NSI does not know is refused beside its field; a known one is saved.
        browser.fill("#f-local_code", "MSE.IPRA.SOCIAL.EVENT:проверка");
        browser.fill("#f-lmsz_id", "11111111-2222-4333-8444-555555555555");
        browser.click("#mapping-form button[type=submit]");
        browser.find("#e-lmsz_id");
        assert!(browser
            .text("#e-lmsz_id")
            .contains("не найдена в загруженном справочнике ЛМСЗ"));
        browser.fill("#f-lmsz_id", LMSZ_OTHER);
        browser.fill("#f-category_id", CATEGORY);
        browser.click("#mapping-form button[type=submit]");
        browser.wait_url("done=mapping-saved");
        assert!(browser.text(".adm-egisso-mappings").contains("Ежемесячная выплата"));
        browser.screenshot(&format!("egisso-mappings-{}", backend.name()));
        env.run_ok(&["exchange", "egisso-map"]);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM egisso_mappings WHERE local_code = 'MSE.IPRA.SOCIAL.EVENT:проверка'"),
            1
        );
        // The rejected fact with EGISSO's reason, and «Отправить повторно».
        browser.goto(&format!("http://{addr}/admin/egisso/facts?status=rejected"));
        let row = browser.text(&format!("#fact-{b_id}"));
        assert!(
            row.contains("[021] Дата начала действия назначения раньше даты решения о назначении")
                && row.contains("отклонён"),
            "{row}"
        );
        browser.screenshot(&format!("egisso-rejected-{}", backend.name()));
        browser.click(&format!(r#"form[action^="/admin/egisso/facts/{b_id}/resend"] button"#));
        browser.accept_alert();
        browser.wait_url("done=fact-resend");
        assert!(browser.text("p.notice[role=status]").contains("отправлен повторно"));
        // The auditor reads, without forms.
        env.add_user("audit", "auditor", None, PASSWORD);
        let (cookie, _) = common::login(addr, "audit", PASSWORD);
        let page = common::http(addr, "GET", "/admin/egisso/facts", &[("Cookie", &cookie)], None);
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("Отправить повторно"));
        let api = common::http(
            addr,
            "GET",
            "/api/v1/egisso/facts?status=queued",
            &[("Cookie", &cookie)],
            None,
        )
        .json();
        assert_eq!(api["items"][0]["id"], b_id, "{api}");
    }
    assert_eq!(fact(&env, b.execution).3, "queued");
    let before = states(&env);
    let dry = env.ok(&["jobs", "dry-run", "egisso-upload", "--json"]);
    assert_eq!(dry["counts"]["facts"], 1, "{dry}");
    assert_eq!(states(&env), before, "a dry run stores nothing");
    assert_eq!(files(&outbox).len(), 1, "a dry run sends nothing");
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["sent"], 1, "{run}");
    let resent = latest_package(&env);
    let path = outbox.join(format!("egisso-10.06.S-{resent}.xml"));
    xmllint(&path);
    let xml = std::fs::read_to_string(&path).unwrap();
    assert!(
        xml.contains(&format!("<pac:uuid>{b_uuid}</pac:uuid>")) && xml.contains("<af:dateStart>2021-12-01+03:00<"),
        "the corrected fact under its uuid: {xml}"
    );
    assert!(
        !xml.contains("alterationBasedOnPreviousErrors"),
        "never accepted: sent as a new fact"
    );
    let (_, uuid, _, status, op) = fact(&env, b.execution);
    assert_eq!(
        (uuid.as_str(), status.as_str(), op.as_str()),
        (b_uuid.as_str(), "sent", "fact")
    );
    drop_answer(&env, "resent.xml", &all_accepted(&resent, 1));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(fact(&env, b.execution).3, "accepted");

    // Changes of the facts EGISSO holds: B's date again (a correction), her death (a termination), D's
    // execution withdrawn (an invalidation) — one package.
    redate(&env, &mut b, &orgs, "2021-12-15");
    env.run_ok(&["death", SNILS_A, "--date", "2026-11-01"]);
    env.run_ok(&["reports", "withdraw", &d.report.to_string()]);
    let before = states(&env);
    let dry = env.ok(&["jobs", "dry-run", "egisso-upload", "--json"]);
    for key in ["corrections", "terminations", "invalidations"] {
        assert_eq!(dry["counts"][key], 1, "{key}: {dry}");
    }
    assert_eq!(states(&env), before, "a dry run stores nothing");
    let sent_before = files(&outbox).len();
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["facts"], 3, "{run}");
    assert_eq!(files(&outbox).len(), sent_before + 1);
    let changes = latest_package(&env);
    let path = outbox.join(format!("egisso-10.06.S-{changes}.xml"));
    xmllint(&path);
    let xml = std::fs::read_to_string(&path).unwrap();
    for (element, uuid) in [
        ("alterationBasedOnPreviousErrors", &b_uuid),
        ("terminationBasedOnEndOfRight", &a_uuid),
        ("errorsInvalidation", &d_uuid),
    ] {
        let at = xml
            .find(&format!("<pac:{element}>"))
            .unwrap_or_else(|| panic!("{element}: {xml}"));
        let end = xml.find(&format!("</pac:{element}>")).unwrap();
        assert!(
            xml[at..end].contains(&format!("<pac:assignmentFactUuid>{uuid}</pac:assignmentFactUuid>")),
            "{element} changes its fact: {xml}"
        );
    }
    assert!(
        xml.contains("<pac:dateFinish>2026-11-01+03:00</pac:dateFinish>"),
        "{xml}"
    );
    assert!(xml.contains("<af:dateStart>2021-12-15+03:00<"), "{xml}");
    let events: Vec<String> = [a.execution, b.execution, d.execution]
        .iter()
        .map(|e| fact(&env, *e).2)
        .collect();
    assert!(
        !events.contains(&a_uuid) && !events.contains(&b_uuid) && !events.contains(&d_uuid),
        "each change has an event uuid of its own"
    );
    drop_answer(&env, "changes.xml", &all_accepted(&changes, 3));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    let ops = |e: i64| {
        let (_, _, _, status, op) = fact(&env, e);
        format!("{status}/{op}")
    };
    assert_eq!(ops(a.execution), "accepted/termination");
    assert_eq!(ops(b.execution), "accepted/correction");
    assert_eq!(ops(d.execution), "cancelled/invalidation");

    // Nothing is left to send.
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["facts"], 0, "{run}");
}

#[test]
fn egisso_answers_corrections_and_cancellations() {
    for backend in BACKENDS {
        answers_and_corrections(backend);
    }
}

/// Runs `ipra ARGS` killed (SIGKILL) at the crash point `point`.
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
}

/// The same command after a kill, once the killed process's claims have run out.
fn again(env: &Env, args: &[&str]) -> serde_json::Value {
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let out = env
        .ipra()
        .env("IPRA_EXCHANGE_LEASE_SECONDS", "1")
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {text} {}", String::from_utf8_lossy(&out.stderr)))
}

/// Each durable step survives a SIGKILL: killed before the package is committed, nothing of it is
/// stored or sent; killed once it is delivered, the next run delivers the same package and marks its
/// facts sent; killed after an answer is applied, the next run applies it again to the same end.
fn steps_survive_a_kill(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let a = reported(&env, "extract_4.xml", &orgs);
    let category = a.measure["category_code"].as_str().unwrap().to_string();
    env.run_ok(&[
        "exchange",
        "egisso-map",
        &category,
        "--lmsz",
        LMSZ,
        "--category",
        CATEGORY,
        "--osz",
        "0040.000001",
    ]);
    let outbox = env.data_dir().join("exchange/egisso/outbox");
    let upload = ["jobs", "run", "egisso-upload", "--json"];

    killed_at(&env, "egisso.queued", &upload);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_facts"), 0);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_packages"), 0);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE kind = 'facts'"),
        0
    );
    assert!(files(&outbox).is_empty());

    killed_at(&env, "outbox.delivered", &upload);
    assert_eq!(files(&outbox).len(), 1, "delivered before the kill");
    assert_eq!(fact(&env, a.execution).3, "queued", "not yet marked");
    let run = again(&env, &upload);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["facts"], 0, "no second package: {run}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_packages"), 1);
    assert_eq!(files(&outbox).len(), 1, "the same file, delivered again");
    assert_eq!(fact(&env, a.execution).3, "sent");

    let package = latest_package(&env);
    let event = fact(&env, a.execution).2;
    let protocol = sample("package-protocol-2.3.0.xml")
        .replace(SAMPLE_PACKAGE, &package)
        .replace(SAMPLE_REJECTED, &event)
        .replace("<pr:recordNum>2<", "<pr:recordNum>1<")
        .replace("<pr:recordNumSuccess>1</pr:recordNumSuccess>", "");
    drop_answer(&env, "protocol.xml", &protocol);
    killed_at(&env, "inbox.applied", &["jobs", "run", "egisso-inbox", "--json"]);
    let rejected = "rejected|021|[021] Дата решения о назначении позже даты начала действия назначения";
    let row = || {
        env.text(&format!(
            "SELECT status || '|' || COALESCE(rule_code, '') || '|' || error FROM egisso_facts WHERE execution_id = {}",
            a.execution
        ))
    };
    assert_eq!(row(), rejected, "applied before the kill");
    let run = again(&env, &["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(row(), rejected, "applied again to the same end");
    let messages = env.ok(&["exchange", "list", "--json"]);
    let m = message(&messages, "protocol.xml");
    assert_eq!(m["status"], "processed", "{m}");
    assert!(m["refusals"].is_null(), "{m}");

    // Sent again, the message refused whole (`messageResult`, no package id inside): the answer's file
    // name says which package, and all its facts are rejected with EGISSO's errors.
    let id = fact(&env, a.execution).0;
    env.run_ok(&["exchange", "egisso-resend", &id.to_string()]);
    env.ok(&upload);
    let package = latest_package(&env);
    drop_answer(
        &env,
        &format!("egisso-10.06.S-{package}.xml.protocol.xml"),
        &sample("package-protocol-1.0.3.message.xml"),
    );
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(
        row(),
        "rejected||сообщение отклонено: [FORMAT] Файл пакета не соответствует схеме 10.06.S"
    );
    assert_eq!(
        env.text("SELECT status FROM egisso_packages ORDER BY id DESC LIMIT 1"),
        "refused"
    );
}

#[test]
fn egisso_steps_survive_sigkill() {
    for backend in BACKENDS {
        steps_survive_a_kill(backend);
    }
}

/// `extract_4.xml` corrected by ИС МСЭ: a new IPRA (number, protocol, ids) of the same person, whose
/// surname changed.
fn renamed_extract(env: &Env) -> PathBuf {
    let text = std::fs::read_to_string(fri_samples().join("extract_4.xml"))
        .unwrap()
        .replace("МРН-20882/21", "МРН-20883/21")
        .replace("П.МР-195515/20", "П.МР-195516/20")
        .replace(
            "<fri:Значение>2021-05-01</fri:Значение>",
            "<fri:Значение>2021-06-01</fri:Значение>",
        )
        .replace(
            "a0b64f86-1a7c-4e4b-87ce-37b28271b33b",
            "a0b64f86-1a7c-4e4b-87ce-37b28271b33c",
        )
        .replace(
            "2a044e95-f04f-470b-8f57-af11ac94a30f",
            "2a044e95-f04f-470b-8f57-af11ac94a310",
        )
        .replace("ПОГОДИНА<", "СЕРГЕЕВА<");
    assert!(text.contains("МРН-20883/21") && text.contains("СЕРГЕЕВА"));
    let path = env.dir.path().join("renamed.xml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `element`s of a package (`alterationBasedOnPreviousErrors`, …), each as its text.
fn elements(xml: &str, element: &str) -> Vec<String> {
    xml.split(&format!("<pac:{element}>"))
        .skip(1)
        .map(|part| part.split(&format!("</pac:{element}>")).next().unwrap().to_string())
        .collect()
}

/// The latest package: written to the outbox, valid against 10.06.S 1.1.0, and its text.
fn latest_xml(env: &Env) -> (String, String) {
    let package = latest_package(env);
    let path = env
        .data_dir()
        .join("exchange/egisso/outbox")
        .join(format!("egisso-10.06.S-{package}.xml"));
    xmllint(&path);
    (package, std::fs::read_to_string(&path).unwrap())
}

/// What changed, not the register, drives the upload; a changed identity and a changed or deleted
/// mapping correct (or cancel) the facts EGISSO holds.
fn changes_are_sent(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let a = reported(&env, "extract_4.xml", &orgs);
    let b = reported(&env, "extract-20211124093406.xml", &orgs);
    let category = a.measure["category_code"].as_str().unwrap().to_string();
    assert_eq!(b.measure["category_code"], a.measure["category_code"]);

    // The reported executions wait in the journal; with no mapping an upload parks them under their
    // category (nothing sent), and the mapping wakes them.
    let pending = || env.scalar("SELECT COUNT(*) FROM egisso_pending WHERE parked IS NULL");
    assert_eq!(pending(), 2);
    let dry = env.ok(&["jobs", "dry-run", "egisso-upload", "--json"]);
    assert_eq!(dry["counts"]["facts"], 0, "{dry}");
    assert_eq!(pending(), 2, "a dry run changes nothing");
    env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(pending(), 0);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM egisso_pending WHERE parked = '{category}'"
        )),
        2,
        "parked until their category is mapped"
    );
    let mapped = env.run_ok(&[
        "exchange",
        "egisso-map",
        &category,
        "--lmsz",
        LMSZ,
        "--category",
        CATEGORY,
        "--osz",
        "0040.000001",
    ]);
    assert!(mapped.contains("не затрагивает"), "{mapped}");
    assert_eq!(pending(), 2, "woken by the mapping");
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["facts"], 2, "{run}");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM egisso_pending"),
        0,
        "each left with its fact"
    );
    let (package, _) = latest_xml(&env);
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    drop_answer(&env, "first.xml", &all_accepted(&package, 2));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    let (a_id, a_uuid, ..) = fact(&env, a.execution);
    let (b_id, b_uuid, ..) = fact(&env, b.execution);
    assert_eq!(fact(&env, a.execution).3, "accepted");
    assert_eq!(fact(&env, b.execution).3, "accepted");
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["facts"], 0, "nothing changed: {run}");

    // A corrected IPRA changes her surname: the fact EGISSO holds is corrected with the new name.
    let imported = env.ok(&["import", renamed_extract(&env).to_str().unwrap(), "--json"]);
    assert_eq!(imported["superseded"], 1, "{imported}");
    assert_eq!(
        env.text(&format!("SELECT change_reason FROM egisso_facts WHERE id = {a_id}")),
        "identity"
    );
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(
        (run["counts"]["facts"].as_i64(), run["counts"]["corrections"].as_i64()),
        (Some(1), Some(1)),
        "{run}"
    );
    let (package, xml) = latest_xml(&env);
    let corrections = elements(&xml, "alterationBasedOnPreviousErrors");
    assert_eq!(corrections.len(), 1, "{xml}");
    assert!(
        corrections[0].contains(&format!("<pac:assignmentFactUuid>{a_uuid}</pac:assignmentFactUuid>"))
            && corrections[0].contains("<smev:FamilyName>СЕРГЕЕВА</smev:FamilyName>"),
        "the correction carries the new name: {xml}"
    );
    assert!(!xml.contains("ПОГОДИНА"), "{xml}");
    drop_answer(&env, "renamed.xml", &all_accepted(&package, 1));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(fact(&env, a.execution).3, "accepted");

    // The mapping changes in the admin's page: how many facts it corrects is shown before it is
    // confirmed, and the facts page says why they are corrected.
    env.add_user("coord", "coordinator", None, PASSWORD);
    {
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let (cookie, _) = common::login(addr, "coord", PASSWORD);
        let effect = common::http(
            addr,
            "GET",
            &format!("/api/v1/egisso/mappings/{category}/effect?lmsz_id={LMSZ_OTHER}&category_id={CATEGORY}&osz_code=0040.000001"),
            &[("Cookie", &cookie)],
            None,
        )
        .json();
        assert_eq!(
            (effect["corrections"].as_i64(), effect["cancellations"].as_i64()),
            (Some(2), Some(0)),
            "{effect}"
        );
        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/admin/egisso?edit={category}#mapping-form"));
        browser.fill("#f-lmsz_id", LMSZ_OTHER);
        browser.click("#mapping-form button[type=submit]");
        browser.find("#mapping-confirm");
        assert_eq!(browser.text("#effect-corrections"), "2");
        assert!(
            browser
                .text("#mapping-confirm")
                .contains("Будет исправлено фактов, уже переданных в ЕГИССО: 2"),
            "{}",
            browser.text("#mapping-confirm")
        );
        assert_eq!(
            env.text(&format!(
                "SELECT lmsz_id FROM egisso_mappings WHERE local_code = '{category}'"
            )),
            LMSZ,
            "not saved before it is confirmed"
        );
        browser.screenshot(&format!("egisso-mapping-confirm-{}", backend.name()));
        browser.click("#confirm-form button[type=submit]");
        browser.wait_url("done=mapping-saved");
        assert!(browser
            .text("p.notice[role=status]")
            .contains("исправлено фактов, уже переданных в ЕГИССО: 2"));
        browser.goto(&format!("http://{addr}/admin/egisso/facts"));
        for id in [a_id, b_id] {
            let row = browser.text(&format!("#fact-{id}"));
            assert!(row.contains("изменено сопоставление мер"), "{row}");
        }
        drop(server);
    }
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["corrections"], 2, "{run}");
    let (package, xml) = latest_xml(&env);
    let corrections = elements(&xml, "alterationBasedOnPreviousErrors");
    assert_eq!(corrections.len(), 2, "{xml}");
    for (c, uuid) in corrections.iter().zip([&a_uuid, &b_uuid]) {
        assert!(
            c.contains(&format!("<pac:assignmentFactUuid>{uuid}</pac:assignmentFactUuid>"))
                && c.contains(&format!("<af:lmszId>{LMSZ_OTHER}</af:lmszId>")),
            "corrected under the new measure: {xml}"
        );
    }
    drop_answer(&env, "remapped.xml", &all_accepted(&package, 2));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(fact(&env, b.execution).3, "accepted");
    let api = env.ok(&["exchange", "egisso-facts", "--json"]);
    assert!(
        api.as_array()
            .unwrap()
            .iter()
            .all(|f| f["change_reason"] == "mapping" && f["operation"] == "correction"),
        "{api}"
    );

    // The mapping deleted: the facts it covered are cancelled.
    {
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/admin/egisso"));
        browser.click(&format!("#mapping-{} form button", category.replace(['.', ':'], "-")));
        browser.accept_alert();
        browser.find("#mapping-confirm");
        assert_eq!(browser.text("#effect-cancellations"), "2");
        browser.click("#confirm-form button[type=submit]");
        browser.wait_url("done=mapping-deleted");
        drop(server);
    }
    assert_eq!(env.scalar("SELECT COUNT(*) FROM egisso_mappings"), 0);
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["invalidations"], 2, "{run}");
    let (package, xml) = latest_xml(&env);
    assert_eq!(elements(&xml, "errorsInvalidation").len(), 2, "{xml}");
    drop_answer(&env, "unmapped.xml", &all_accepted(&package, 2));
    env.ok(&["jobs", "run", "egisso-inbox", "--json"]);
    assert_eq!(fact(&env, a.execution).3, "cancelled");
    assert_eq!(fact(&env, b.execution).3, "cancelled");
}

#[test]
fn egisso_identity_and_mapping_changes_are_corrected() {
    for backend in BACKENDS {
        changes_are_sent(backend);
    }
}

/// The upload's selection walks its indexes: `ipra bench plans` explains its statements with the
/// pages', and none reads a large table whole.
#[test]
fn egisso_selection_reads_no_large_table_whole() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (code, report) = env.run_json(&["bench", "plans", "--persons", "200", "--json"]);
        let findings = report["findings"].as_array().expect("findings");
        let selection: Vec<&serde_json::Value> = findings
            .iter()
            .filter(|f| f["context"] == "facts upload: selection")
            .collect();
        assert!(selection.len() >= 8, "{}: {selection:?}", backend.name());
        for f in &selection {
            assert!(
                f["full_scans"].as_array().unwrap().is_empty(),
                "{}: {}",
                backend.name(),
                serde_json::to_string_pretty(f).unwrap()
            );
        }
        assert!(
            selection
                .iter()
                .any(|f| f["sql"].as_str().unwrap().contains("FROM egisso_pending")),
            "the journal is what is read: {selection:?}"
        );
        assert_eq!(code, 0, "{report}");
    }
}
