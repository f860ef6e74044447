//! The exchange with ИС МСЭ through the MSE connector (`plugins/mse`), end to end through the real binary and
//! the exchange folders, on SQLite and PostgreSQL:
//! - a TSR clarification request (порядок ФБ МСЭ для ИС МСЭ в ЕЦП) raised with the citizen's consent (API and CLI; refused without),
//!   its received date defaulting to the day the IPRA was imported, its two working days on the dashboard; the
//!   dry run sends nothing; the outbox job writes the request (valid against the plugin's XSD) and its printed
//!   form (PDF); ИС МСЭ's answer dropped into the inbox closes it; hostile and malformed answers are quarantined
//!   with a Russian reason and change nothing; a corrected IPRA closes another request, linked to it, and the
//!   TSR measures go on on the new IPRA;
//! - the regional data mart for MSE (ИС «Исполнение ИПРА»): the scheduled export of the execution status per IPRA, one
//!   document per bureau, valid against its XSD, each IPRA sent logged as a read, only what changed sent again;
//! - the MSE bureau's read-only role, scoped by the issuing institution (API), its reads logged;
//! - the pages (headless Chromium): the request raised from the card with consent, and a bureau's register.

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, workspace_root, Backend, Env, BACKENDS, TODAY};
use std::path::{Path, PathBuf};

const PASSWORD: &str = "Пароль-для-теста-1";
/// The institution that issued `extract_4.xml`.
const TYUMEN: &str = "Бюро социально-медицинской экспертизы по Тюменской области";

fn schema(name: &str) -> PathBuf {
    workspace_root().join("plugins/mse/schemas").join(name)
}

fn xmllint(document: &Path, schema: &Path) {
    common::assert_valid_xml(document, schema);
}

fn files(dir: &Path) -> Vec<String> {
    common::file_names(dir)
}

fn folder(env: &Env, which: &str) -> PathBuf {
    env.data_dir().join("exchange/mse").join(which)
}

/// The text of a PDF through poppler's `pdftotext`.
fn pdf_text(path: &Path) -> String {
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// ИС МСЭ's answer on the request sent as `request_file` (`tsr-clarification-<RequestId>.xml`).
fn answer(request_file: &str, decision: &str, comment: &str) -> String {
    let id = request_file
        .strip_prefix("tsr-clarification-")
        .and_then(|r| r.strip_suffix(".xml"))
        .expect("a request file");
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<TsrClarificationAnswer xmlns="urn:ipra:mse:tsr-clarification-answer:1.0" version="1.0">
  <RequestId>{id}</RequestId>
  <AnswerDate>{TODAY}</AnswerDate>
  <Bureau>{TYUMEN}</Bureau>
  <Decision>{decision}</Decision>
  <Comment>{comment}</Comment>
</TsrClarificationAnswer>
"#
    )
}

/// Adds an MSE bureau's user through the CLI (`--role bureau --issuer`).
fn add_bureau(env: &Env, login: &str, issuer: &str) {
    use std::io::Write;
    let mut child = env
        .ipra()
        .args([
            "users", "add", login, "--name", login, "--role", "bureau", "--issuer", issuer,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("ipra");
    writeln!(child.stdin.take().unwrap(), "{PASSWORD}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// `extract_4.xml` corrected by ИС МСЭ (приказ № 545н п. 7): a new IPRA (number, protocol) of the same
/// person, only its TSR item changed.
fn corrected_extract(env: &Env) -> PathBuf {
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
        .replace(
            "Кресло-коляска с ручным приводом для лиц с большим весом прогулочная",
            "Кресло-коляска с ручным приводом прогулочная, ширина сиденья 50 см",
        );
    assert!(text.contains("МРН-20883/21") && text.contains("2021-06-01") && text.contains("ширина сиденья 50"));
    let path = env.dir.path().join("corrected.xml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The directory, `extract_4.xml` imported and its TSR measures (ids).
fn setup(backend: Backend) -> (Env, std::collections::BTreeMap<&'static str, String>, i64, Vec<i64>) {
    let env = Env::new(backend);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let tsr = env.ids(&format!(
        "SELECT id FROM measures WHERE ipra_id = {ipra} AND section = 'tsr' ORDER BY id"
    ));
    assert!(tsr.len() >= 2, "the sample has TSR items: {tsr:?}");
    (env, orgs, ipra, tsr)
}

fn request_status(env: &Env, id: i64) -> String {
    env.text(&format!("SELECT status FROM tsr_clarifications WHERE id = {id}"))
}

fn round_trip(backend: Backend) {
    let (env, orgs, ipra, tsr) = setup(backend);
    let sender = orgs["tsr"].clone();
    env.add_user("coord", "coordinator", None, PASSWORD);
    // Follow-ups of other departments overdue on 23 November, before any request.
    let overdue_on_23 = || {
        env.ok(&["deadlines", "--today", "2026-11-23", "--json"])["follow_ups"]
            .as_i64()
            .unwrap()
    };
    let others_overdue = overdue_on_23();

    // Without the citizen's consent nothing is raised.
    let cli = |measure: i64, more: &[&str]| {
        let mut args = vec![
            "follow-ups".to_string(),
            "tsr-clarify".into(),
            "--ipra".into(),
            ipra.to_string(),
            "--measure".into(),
            measure.to_string(),
            "--org".into(),
            sender.clone(),
            "--reason".into(),
            "ширина сиденья не соответствует показаниям".into(),
            "--json".into(),
        ];
        args.extend(more.iter().map(|a| a.to_string()));
        env.run_json(&args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (code, refused) = cli(tsr[0], &[]);
    assert_eq!(code, 1, "{refused}");
    assert!(refused.to_string().contains("согласи"), "{refused}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM tsr_clarifications"), 0);

    // Through the API, with consent: the received date is the day the IPRA was imported, in the region's zone.
    let server = env.serve(&[]);
    let (cookie, csrf) = login(&server.addr, "coord", PASSWORD);
    let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let raised = http(
        &server.addr,
        "POST",
        &format!("/api/v1/ipras/{ipra}/tsr-clarifications"),
        &with_csrf,
        Some(&format!(
            r#"{{"measure_ids":[{}],"sender_ogrn":"{sender}","consent":true,"reason":"тип кресла-коляски не соответствует показаниям"}}"#,
            tsr[0]
        )),
    );
    assert_eq!(raised.status, 200, "{}", raised.body);
    let a = raised.json()["result"][0].as_i64().expect("the request's id");
    assert_eq!(
        env.text(&format!("SELECT received_date FROM tsr_clarifications WHERE id = {a}")),
        TODAY
    );
    // Friday 20 November + 2 working days.
    assert_eq!(
        env.text(&format!("SELECT due_date FROM tsr_clarifications WHERE id = {a}")),
        "2026-11-24"
    );
    // Raised twice on the same TSR item: refused.
    let twice = http(
        &server.addr,
        "POST",
        &format!("/api/v1/ipras/{ipra}/tsr-clarifications"),
        &with_csrf,
        Some(&format!(
            r#"{{"measure_ids":[{}],"sender_ogrn":"{sender}","consent":true,"reason":"ещё раз"}}"#,
            tsr[0]
        )),
    );
    assert_eq!(twice.status, 409, "{}", twice.body);

    // Through the CLI, on the date the representative presented the programme (editable).
    let (code, done) = cli(
        tsr[1],
        &[
            "--consent",
            "--consent-by",
            "representative",
            "--received",
            "2026-11-18",
        ],
    );
    assert_eq!(code, 0, "{done}");
    let b = done["result"][0].as_i64().unwrap();
    assert_eq!(
        env.text(&format!(
            "SELECT received_date || ' ' || due_date || ' ' || consent_by FROM tsr_clarifications WHERE id = {b}"
        )),
        "2026-11-18 2026-11-20 representative"
    );
    let listed = http(
        &server.addr,
        "GET",
        &format!("/api/v1/ipras/{ipra}/tsr-clarifications"),
        &with_csrf,
        None,
    );
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json().as_array().unwrap().len(), 2, "{}", listed.body);

    // The deadline on the dashboard: both open; not sent by their due dates, they count as overdue.
    let dashboard = http(&server.addr, "GET", "/api/v1/dashboard", &with_csrf, None).json();
    assert_eq!(dashboard["cards"]["tsr_clarifications_open"], 2, "{dashboard}");
    assert_eq!(dashboard["cards"]["tsr_clarifications_overdue"], 0, "{dashboard}");
    assert_eq!(overdue_on_23(), others_overdue + 1, "B was due on 20 November");
    drop(server);

    // The dry run says what it would send and sends nothing.
    let dry = env.ok(&["jobs", "dry-run", "mse-outbox", "--json"]);
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert_eq!(dry["counts"]["requests"], 2, "{dry}");
    assert!(dry["report"].as_str().unwrap().contains("печатную форму"), "{dry}");
    assert!(files(&folder(&env, "outbox")).is_empty());
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE connector = 'mse'"),
        0
    );
    assert_eq!(request_status(&env, a), "raised");

    // The outbox: each request as XML in the plugin's schema, with its printed form.
    let run = env.ok(&["jobs", "run", "mse-outbox", "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["sent"], 4, "{run}");
    assert_eq!(run["counts"]["delivered"], 2, "{run}");
    let sent = files(&folder(&env, "outbox"));
    let xml: Vec<&String> = sent.iter().filter(|f| f.ends_with(".xml")).collect();
    assert_eq!(xml.len(), 2, "{sent:?}");
    for name in &xml {
        let path = folder(&env, "outbox").join(name);
        xmllint(&path, &schema("tsr-clarification-1.0.xsd"));
        let pdf = path.with_extension("pdf");
        assert!(pdf.exists(), "the printed form beside {name}");
        let text = pdf_text(&pdf);
        assert!(
            text.contains("Запрос на уточнение технического средства") && text.contains("ПОГОДИНА"),
            "{text}"
        );
    }
    let file_of = |id: i64| env.text(&format!("SELECT document_name FROM tsr_clarifications WHERE id = {id}"));
    let (file_a, file_b) = (file_of(a), file_of(b));
    let request_b = std::fs::read_to_string(folder(&env, "outbox").join(&file_b)).unwrap();
    assert!(
        request_b.contains(r#"<Consent given="true" by="representative""#)
            && request_b.contains("<ProgrammeReceived>2026-11-18</ProgrammeReceived>")
            && request_b.contains(&format!("<Addressee>{TYUMEN}</Addressee>")),
        "{request_b}"
    );
    for id in [a, b] {
        assert_eq!(request_status(&env, id), "sent");
    }
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM follow_ups WHERE kind = 'tsr-clarification' AND status = 'sent'"),
        2
    );
    // Sent in time: no longer overdue.
    assert_eq!(overdue_on_23(), others_overdue);
    let again = env.ok(&["jobs", "run", "mse-outbox", "--json"]);
    assert_eq!(again["counts"]["requests"], 0, "each request once: {again}");

    // Hostile and malformed answers: quarantined with the reason, nothing changes, nothing is lost.
    let inbox = folder(&env, "inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let good_b = answer(&file_b, "no-change", "ТСР соответствует перечню показаний");
    let hostile = [
        (
            "broken.xml",
            good_b.replace("</Decision>", "</Decisio>"),
            "xml-malformed",
        ),
        (
            "version-2.0.xml",
            good_b.replace("tsr-clarification-answer:1.0", "tsr-clarification-answer:2.0"),
            "«2.0» не поддерживается",
        ),
        (
            "doctype.xml",
            good_b.replacen(
                "<TsrClarificationAnswer",
                "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><TsrClarificationAnswer",
                1,
            ),
            "DOCTYPE",
        ),
        (
            "no-decision.xml",
            good_b.replace("<Decision>no-change</Decision>", ""),
            "Decision",
        ),
    ];
    for (name, text, _) in &hostile {
        std::fs::write(inbox.join(name), text).unwrap();
    }
    // A well-formed answer about a request nobody sent.
    std::fs::write(
        inbox.join("stranger.xml"),
        answer(
            "tsr-clarification-00000000-0000-5000-8000-000000000000.xml",
            "no-change",
            "—",
        ),
    )
    .unwrap();
    let run = env.ok(&["jobs", "run", "mse-inbox", "--json"]);
    assert_eq!(run["counts"]["refused"], 4, "{run}");
    assert_eq!(run["counts"]["records_refused"], 1, "{run}");
    assert_eq!(request_status(&env, b), "sent", "nothing changed");
    let messages = env.ok(&["exchange", "list", "--json"]);
    let message = |file: &str| {
        messages
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["file_name"] == file)
            .unwrap_or_else(|| panic!("no message {file}: {messages}"))
            .clone()
    };
    for (name, _, reason) in &hostile {
        let m = message(name);
        assert_eq!(m["status"], "failed", "{m}");
        let error = m["last_error"].as_str().unwrap();
        assert!(
            error.contains(reason) && error.contains(&format!("«{name}»")),
            "{name}: {error}"
        );
        let kept = files(&env.data_dir().join("quarantine"));
        let copy = kept
            .iter()
            .find(|f| f.ends_with(name))
            .unwrap_or_else(|| panic!("{name} in quarantine: {kept:?}"));
        let reasons =
            std::fs::read_to_string(env.data_dir().join("quarantine").join(format!("{copy}.reasons.txt"))).unwrap();
        assert!(
            reasons.contains("Ответ ИС МСЭ") && reasons.contains(reason),
            "{reasons}"
        );
    }
    let stranger = message("stranger.xml");
    assert!(
        stranger["refusals"]
            .as_str()
            .unwrap()
            .contains("неизвестный или не отправленный"),
        "{stranger}"
    );
    // Every file stays in the archive.
    assert_eq!(files(&folder(&env, "archive")).len(), 5);

    // ИС МСЭ answers request A: it closes with the answer.
    std::fs::write(
        inbox.join("answer-a.xml"),
        answer(&file_a, "refused", "МСЭ проводилась в другом бюро"),
    )
    .unwrap();
    let run = env.ok(&["jobs", "run", "mse-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 1, "{run}");
    assert_eq!(request_status(&env, a), "rejected");
    assert!(env
        .text(&format!("SELECT answer FROM tsr_clarifications WHERE id = {a}"))
        .contains("МСЭ проводилась в другом бюро"));
    assert_eq!(
        env.text(&format!(
            "SELECT f.status FROM follow_ups f JOIN tsr_clarifications c ON c.follow_up_id = f.id WHERE c.id = {a}"
        )),
        "closed"
    );
    // The same answer again (another file name) changes nothing.
    std::fs::write(inbox.join("answer-a-again.xml"), answer(&file_a, "no-change", "повтор")).unwrap();
    env.ok(&["jobs", "run", "mse-inbox", "--json"]);
    assert_eq!(request_status(&env, a), "rejected");

    // The corrected IPRA arrives: request B closes, linked to it; the TSR measures go on on the new IPRA.
    env.ok(&["import", corrected_extract(&env).to_str().unwrap(), "--json"]);
    let new = env.scalar("SELECT MAX(id) FROM ipras");
    assert_ne!(new, ipra);
    assert_eq!(
        env.text(&format!("SELECT status FROM ipras WHERE id = {ipra}")),
        "superseded"
    );
    assert_eq!(request_status(&env, b), "superseded");
    assert_eq!(
        env.scalar(&format!(
            "SELECT corrected_ipra_id FROM tsr_clarifications WHERE id = {b}"
        )),
        new
    );
    assert_eq!(
        request_status(&env, a),
        "rejected",
        "an answered request keeps its answer"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM follow_ups WHERE kind = 'tsr-clarification' AND status IN ('open', 'sent')"),
        0
    );
    let new_tsr = env.ok(&["measures", "list", "--ipra", &new.to_string(), "--json"]);
    let new_tsr: Vec<&serde_json::Value> = new_tsr
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["section"] == "tsr")
        .collect();
    assert_eq!(new_tsr.len(), tsr.len());
    assert!(new_tsr
        .iter()
        .all(|m| m["status"] == "open" && m["assigned_ogrn"] == sender.as_str()));
    assert!(new_tsr
        .iter()
        .any(|m| m["name"].as_str().unwrap().contains("ширина сиденья 50")));
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra} AND section = 'tsr' AND status = 'open'"
        )),
        0
    );
    let shown = env.ok(&["follow-ups", "tsr-requests", "--ipra", &ipra.to_string(), "--json"]);
    assert_eq!(shown[1]["corrected_ipra_number"], "МРН-20883/21", "{shown}");
    // A late answer on B is kept with it; B stays closed by the new IPRA.
    std::fs::write(
        inbox.join("answer-b.xml"),
        answer(&file_b, "new-ipra", "разработана новая ИПРА"),
    )
    .unwrap();
    env.ok(&["jobs", "run", "mse-inbox", "--json"]);
    assert_eq!(request_status(&env, b), "superseded");
    assert!(env
        .text(&format!("SELECT answer FROM tsr_clarifications WHERE id = {b}"))
        .contains("разработана новая ИПРА"));
    // The new IPRA may have its own request.
    let (code, out) = env.run_json(&[
        "follow-ups",
        "tsr-clarify",
        "--ipra",
        &new.to_string(),
        "--measure",
        &new_tsr[0]["id"].to_string(),
        "--org",
        &sender,
        "--consent",
        "--reason",
        "вес пользователя",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    // None on the replaced one.
    let (code, out) = cli(tsr[2 % tsr.len()], &["--consent"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("заменена"), "{out}");
}

#[test]
fn tsr_clarification_round_trip_on_sqlite() {
    round_trip(Backend::Sqlite);
}

#[test]
fn tsr_clarification_round_trip_on_postgres() {
    round_trip(Backend::Postgres);
}

fn status_export(backend: Backend) {
    let (env, orgs, ipra, _) = setup(backend);
    env.ok(&[
        "import",
        fri_samples().join("11350102278_IPRA_20221024.xml").to_str().unwrap(),
        "--json",
    ]);
    let other = env.scalar("SELECT MAX(id) FROM ipras");
    let outbox = folder(&env, "outbox");

    // The dry run says what it would export and sends nothing.
    let dry = env.ok(&["jobs", "dry-run", "mse-status", "--json"]);
    assert_eq!(dry["status"], "succeeded", "{dry}");
    assert_eq!(dry["counts"]["ipras"], 2, "{dry}");
    assert_eq!(dry["counts"]["documents"], 2, "one per bureau: {dry}");
    assert!(files(&outbox).is_empty());
    assert_eq!(env.scalar("SELECT COUNT(*) FROM status_export_cursors"), 0);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.status-export'"),
        0
    );

    // The run: one document per bureau, valid against the schema; every IPRA sent is logged as a read.
    let run = env.ok(&["jobs", "run", "mse-status", "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(run["counts"]["sent"], 2, "{run}");
    let sent = files(&outbox);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let mut bureaus = Vec::new();
    for name in &sent {
        xmllint(&outbox.join(name), &schema("execution-status-1.0.xsd"));
        let text = std::fs::read_to_string(outbox.join(name)).unwrap();
        bureaus.push(
            text.split("<Bureau>")
                .nth(1)
                .unwrap()
                .split("</Bureau>")
                .next()
                .unwrap()
                .to_string(),
        );
    }
    assert!(bureaus.iter().any(|b| b == TYUMEN), "{bureaus:?}");
    for id in [ipra, other] {
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.status-export' AND subject = 'ipra:{id}'"
            )),
            1
        );
    }

    // Nothing changed: nothing sent.
    let again = env.ok(&["jobs", "run", "mse-status", "--json"]);
    assert_eq!(again["counts"].get("ipras"), None, "{again}");
    assert_eq!(files(&outbox).len(), 2);

    // A measure executed: its IPRA goes again, with the result.
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let m = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "health" || m["section"] == "social-protection")
        .unwrap()
        .clone();
    let section = m["section"].as_str().unwrap();
    let card = env.ok(&["show", &ipra.to_string(), "--json"]);
    let date = card["decision_date"].as_str().unwrap().to_string();
    env.add_execution(
        ipra,
        &m,
        &orgs[section],
        &["--result", "executed", "--date", &date, "--ready"],
    );
    let run = env.ok(&["jobs", "run", "mse-status", "--json"]);
    assert_eq!(run["counts"]["ipras"], 1, "{run}");
    let newest: Vec<String> = files(&outbox).into_iter().filter(|f| !sent.contains(f)).collect();
    assert_eq!(newest.len(), 1, "{newest:?}");
    xmllint(&outbox.join(&newest[0]), &schema("execution-status-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&newest[0])).unwrap();
    assert!(text.contains(&format!("<Bureau>{TYUMEN}</Bureau>")) && text.contains("<Number>МРН-20882/21</Number>"));
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.status-export' AND subject = 'ipra:{ipra}'"
        )),
        2
    );

    // Its report sent (the result counts from then): the IPRA goes again, the measure executed.
    env.assemble(ipra, &orgs["region"]);
    env.sign_and_send(&orgs["region"]);
    let before = files(&outbox);
    let run = env.ok(&["jobs", "run", "mse-status", "--json"]);
    assert_eq!(run["counts"]["ipras"], 1, "{run}");
    let newest: Vec<String> = files(&outbox).into_iter().filter(|f| !before.contains(f)).collect();
    assert_eq!(newest.len(), 1, "{newest:?}");
    xmllint(&outbox.join(&newest[0]), &schema("execution-status-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&newest[0])).unwrap();
    assert!(
        text.contains("<Status>executed</Status>") && text.contains(&format!("<ExecutionDate>{date}</ExecutionDate>")),
        "{text}"
    );
}

#[test]
fn status_export_for_the_bureaus_on_sqlite() {
    status_export(Backend::Sqlite);
}

#[test]
fn status_export_for_the_bureaus_on_postgres() {
    status_export(Backend::Postgres);
}

fn bureau_reads_its_own(backend: Backend) {
    let (env, _, ipra, _) = setup(backend);
    env.ok(&[
        "import",
        fri_samples().join("11350102278_IPRA_20221024.xml").to_str().unwrap(),
        "--json",
    ]);
    let other = env.scalar("SELECT MAX(id) FROM ipras");
    assert_ne!(
        env.text(&format!("SELECT issued_by FROM ipras WHERE id = {other}")),
        TYUMEN
    );
    // A bureau needs its institution.
    let out = env.run(&["users", "add", "nobody", "--name", "x", "--role", "bureau"]);
    assert!(!out.status.success());
    add_bureau(&env, "buro", TYUMEN);
    let server = env.serve(&[]);
    let (cookie, csrf) = login(&server.addr, "buro", PASSWORD);
    let headers = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let get = |path: &str| http(&server.addr, "GET", path, &headers, None);

    // The register: only its institution's IPRAs, whatever the filter asks; the read logged.
    let list = get("/api/v1/ipras").json();
    let ids: Vec<i64> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![ipra], "{list}");
    let asked = get(&format!(
        "/api/v1/ipras?issued_by={}",
        common::urlencode(&env.text(&format!("SELECT issued_by FROM ipras WHERE id = {other}")))
    ))
    .json();
    assert_eq!(asked["items"].as_array().unwrap().len(), 1, "{asked}");
    assert_eq!(asked["items"][0]["id"], ipra);
    assert!(env.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'bureau:buro' AND action = 'register.read'") >= 2);

    // Its card in full (every department's measures), logged; another institution's is not there.
    let card = get(&format!("/api/v1/ipras/{ipra}"));
    assert_eq!(card.status, 200, "{}", card.body);
    let all_measures = env.scalar(&format!("SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra}"));
    assert_eq!(card.json()["measures"].as_array().unwrap().len() as i64, all_measures);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM audit_log WHERE actor = 'bureau:buro' AND action = 'ipra.read' AND subject = 'ipra:{ipra}'"
        )),
        1
    );
    assert_eq!(get(&format!("/api/v1/ipras/{other}")).status, 404);
    assert_eq!(get(&format!("/api/v1/ipras/{ipra}/tsr-clarifications")).status, 200);
    assert_eq!(get(&format!("/api/v1/ipras/{other}/tsr-clarifications")).status, 404);
    // Read-only: nothing it may change, nothing beyond the register.
    let write = http(
        &server.addr,
        "POST",
        &format!("/api/v1/ipras/{ipra}/tsr-clarifications"),
        &headers,
        Some(r#"{"measure_ids":[],"sender_ogrn":"1027700132195","consent":true,"reason":"x"}"#),
    );
    assert_eq!(write.status, 403, "{}", write.body);
    for path in [
        "/api/v1/execution-register",
        "/api/v1/reports",
        "/api/v1/dashboard",
        "/api/v1/exchange/messages",
        "/api/v1/follow-ups",
    ] {
        let r = get(path);
        let empty = r.status == 200
            && r.json()
                .get("items")
                .or(Some(&r.json()))
                .and_then(|v| v.as_array())
                .is_some_and(|a| a.is_empty());
        assert!(r.status == 403 || empty, "{path}: {} {}", r.status, r.body);
    }
    let export = get("/api/v1/ipras/export?format=csv");
    assert_eq!(export.status, 200);
    assert!(export.body.contains("МРН-20882/21"), "{}", export.body);
    assert_eq!(
        export.body.lines().count(),
        2,
        "the header and its IPRA: {}",
        export.body
    );
}

#[test]
fn a_bureau_reads_its_institutions_ipras_on_sqlite() {
    bureau_reads_its_own(Backend::Sqlite);
}

#[test]
fn a_bureau_reads_its_institutions_ipras_on_postgres() {
    bureau_reads_its_own(Backend::Postgres);
}

/// The pages: the coordinator raises a request from the card's TSR section (refused without consent, then
/// with it, the received date prefilled with the import date); the printed form opens; a bureau's register
/// lists its institution's IPRAs only.
#[test]
fn pages_raise_a_request_and_show_a_bureau_its_register() {
    for backend in BACKENDS {
        let (env, _, ipra, tsr) = setup(backend);
        env.ok(&[
            "import",
            fri_samples().join("11350102278_IPRA_20221024.xml").to_str().unwrap(),
            "--json",
        ]);
        env.add_user("coord", "coordinator", None, PASSWORD);
        add_bureau(&env, "buro", TYUMEN);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/ipras/{ipra}"));
        browser.find("#tsr-clarification form#tsr-form");
        assert_eq!(
            browser.script("return document.querySelector('#tsr-received').value"),
            TODAY,
            "the received date defaults to the import date"
        );
        browser.click(&format!("#tsr-m-{}", tsr[0]));
        browser.fill("#tsr-reason", "ширина сиденья не соответствует показаниям");
        // Without consent: refused, said next to the form.
        browser.submit("#tsr-raise");
        let alert = browser.text("#tsr-alert");
        assert!(alert.contains("согласи"), "{alert}");
        assert_eq!(env.scalar("SELECT COUNT(*) FROM tsr_clarifications"), 0);
        browser.click(&format!("#tsr-m-{}", tsr[0]));
        browser.fill("#tsr-reason", "ширина сиденья не соответствует показаниям");
        browser.click("#tsr-consent");
        browser.select("#tsr-consent-by", "representative");
        browser.submit("#tsr-raise");
        let notice = browser.text("#tsr-notice");
        assert!(notice.contains("сформирован"), "{notice}");
        let row = browser.text("#tsr-requests tbody tr");
        assert!(row.contains("ждёт отправки"), "{row}");
        // The item asked about is not offered again; the others are.
        assert!(!browser.has(&format!("#tsr-m-{}", tsr[0])));
        assert!(browser.has(&format!("#tsr-m-{}", tsr[1])));
        browser.screenshot(&format!("mse-tsr-request-{}", backend.name()));
        assert_eq!(env.text("SELECT consent_by FROM tsr_clarifications"), "representative");
        let id = env.scalar("SELECT MAX(id) FROM tsr_clarifications");
        // The printed form (the cookie's session: the same bytes the outbox will send).
        let (cookie, _) = login(addr, "coord", PASSWORD);
        let pdf = http(
            addr,
            "GET",
            &format!("/tsr-clarifications/{id}/print.pdf"),
            &[("Cookie", cookie.as_str())],
            None,
        );
        assert_eq!(pdf.status, 200);
        assert!(pdf.headers.to_ascii_lowercase().contains("application/pdf"));
        // The execution form raises one too, and comes back to itself.
        browser.goto(&format!("http://{addr}/ipras/{ipra}/execution"));
        browser.find("#ex-tsr-clarification");
        browser.click(&format!("#tsr-m-{}", tsr[1]));
        browser.fill("#tsr-reason", "вид ванны не соответствует показаниям");
        browser.click("#tsr-consent");
        browser.submit("#tsr-raise");
        browser.wait_url(&format!("/ipras/{ipra}/execution?tsr_raised="));
        assert!(browser.text("#tsr-notice").contains("сформирован"));
        assert_eq!(
            browser.script("return document.querySelectorAll('#tsr-requests tbody tr').length"),
            2
        );

        // The bureau's register: its institution's IPRA, the card in full, no way to change anything.
        let bureau = Browser::start();
        bureau.login(addr, "buro", PASSWORD);
        bureau.goto(&format!("http://{addr}/"));
        let rows = bureau.script("return document.querySelectorAll('#reg-table tbody tr[data-id]').length");
        assert_eq!(rows, 1, "{}", bureau.text("#reg-table"));
        assert!(bureau.text("#reg-table").contains("МРН-20882/21"));
        let menu = bureau.text("nav.main");
        assert!(
            menu.contains("Реестр выписок") && !menu.contains("Исполнение"),
            "{menu}"
        );
        bureau.screenshot(&format!("mse-bureau-register-{}", backend.name()));
        bureau.click(&format!("#reg-table a[href=\"/ipras/{ipra}\"]"));
        bureau.find("#tsr-requests");
        assert!(!bureau.has("#tsr-form") && !bureau.has("#reg-add-execution"));
        assert!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE actor = 'bureau:buro' AND action IN ('register.read', 'ipra.read')")
                >= 2
        );
    }
}

/// Raises a request through the API; returns (status, body).
fn raise_api(
    server: &common::Server,
    headers: &[(&str, &str)],
    ipra: i64,
    measures: &[i64],
    sender: &str,
) -> common::Response {
    let ids: Vec<String> = measures.iter().map(i64::to_string).collect();
    http(
        &server.addr,
        "POST",
        &format!("/api/v1/ipras/{ipra}/tsr-clarifications"),
        headers,
        Some(&format!(
            r#"{{"measure_ids":[{}],"sender_ogrn":"{sender}","consent":true,"reason":"тип кресла-коляски не соответствует показаниям"}}"#,
            ids.join(",")
        )),
    )
}

fn listed(r: &common::Response) -> Vec<i64> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.body))
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

/// A raised request is changed (received date, consent, reason, items) and withdrawn through the API while it
/// is not queued, each change audited; refused in Russian once queued. The list of every request filters by
/// state, overdue, territory and the days raised, pages by keyset, is scoped for an executor and closed to a
/// bureau. The export of the data mart is off after install, the request exchange on.
fn requests_are_changed_withdrawn_and_listed(backend: Backend) {
    let (env, orgs, ipra, tsr) = setup(backend);
    let sender = orgs["tsr"].clone();
    // The jobs as installed (`ipra jobs list` starts those the plugins declare).
    let jobs = env.ok(&["jobs", "list", "--json"]);
    let enabled = |job: &str| {
        jobs.as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == job)
            .unwrap_or_else(|| panic!("{job}: {jobs}"))["enabled"]
            .as_bool()
            .map(i64::from)
            .unwrap_or_else(|| panic!("{job}: {jobs}"))
    };
    assert_eq!(enabled("mse-status"), 0, "the data mart's export comes off");
    assert_eq!((enabled("mse-outbox"), enabled("mse-inbox")), (1, 1));
    env.add_user("coord", "coordinator", None, PASSWORD);
    env.add_user("tsr-exec", "executor", Some(&sender), PASSWORD);
    env.add_user("health-exec", "executor", Some(&orgs["health"]), PASSWORD);
    add_bureau(&env, "buro", TYUMEN);
    let server = env.serve(&[]);
    let (cookie, csrf) = login(&server.addr, "coord", PASSWORD);
    let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let get = |path: &str| http(&server.addr, "GET", path, &h, None);

    let raised = raise_api(&server, &h, ipra, &[tsr[0]], &sender);
    assert_eq!(raised.status, 200, "{}", raised.body);
    let a = raised.json()["result"][0].as_i64().unwrap();
    // Changed: presented on 17 November by the representative; due two working days later.
    let put = |id: i64, body: &str| {
        http(
            &server.addr,
            "PUT",
            &format!("/api/v1/tsr-clarifications/{id}"),
            &h,
            Some(body),
        )
    };
    let change = format!(
        r#"{{"measure_ids":[{}],"sender_ogrn":"{sender}","consent":true,"consent_by":"representative","received":"2026-11-17","reason":"ширина сиденья не соответствует весу"}}"#,
        tsr[0]
    );
    let changed = put(a, &change);
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(
        env.text(&format!(
            "SELECT received_date || ' ' || due_date || ' ' || consent_by || ' ' || reason FROM tsr_clarifications WHERE id = {a}"
        )),
        "2026-11-17 2026-11-19 representative ширина сиденья не соответствует весу"
    );
    assert_eq!(
        env.text(&format!(
            "SELECT f.due_date FROM follow_ups f JOIN tsr_clarifications c ON c.follow_up_id = f.id WHERE c.id = {a}"
        )),
        "2026-11-19",
        "the follow-up's deadline follows"
    );
    let audit = env.text("SELECT detail FROM audit_log WHERE action = 'tsr.clarification.edit'");
    assert!(
        audit.contains("2026-11-17") && audit.contains(TODAY),
        "before and after: {audit}"
    );
    // Bad input: a Russian refusal naming the field; nothing changes.
    let bad = put(a, &change.replace("2026-11-17", "17.11.2026"));
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("ГГГГ-ММ-ДД"), "{}", bad.body);
    let unconsented = put(a, &change.replace(r#""consent":true"#, r#""consent":false"#));
    assert_eq!(unconsented.status, 422, "{}", unconsented.body);
    assert!(unconsented.body.contains("согласи"), "{}", unconsented.body);
    assert_eq!(
        env.text(&format!("SELECT received_date FROM tsr_clarifications WHERE id = {a}")),
        "2026-11-17"
    );

    // Withdrawn: closed with its follow-up, audited; its item may be asked about again.
    let b = raise_api(&server, &h, ipra, &[tsr[1]], &sender).json()["result"][0]
        .as_i64()
        .unwrap();
    let withdraw = |id: i64, reason: &str| {
        http(
            &server.addr,
            "POST",
            &format!("/api/v1/tsr-clarifications/{id}/withdraw"),
            &h,
            Some(&format!(r#"{{"reason":"{reason}"}}"#)),
        )
    };
    let unexplained = withdraw(b, "");
    assert_eq!(unexplained.status, 422, "{}", unexplained.body);
    assert!(unexplained.body.contains("почему"), "{}", unexplained.body);
    let done = withdraw(b, "гражданин отказался от запроса");
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(request_status(&env, b), "withdrawn");
    assert_eq!(
        env.text(&format!(
            "SELECT f.status FROM follow_ups f JOIN tsr_clarifications c ON c.follow_up_id = f.id WHERE c.id = {b}"
        )),
        "closed"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tsr.clarification.withdraw'"),
        1
    );
    let again = withdraw(b, "ещё раз");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("отозван"), "{}", again.body);
    let c = raise_api(&server, &h, ipra, &[tsr[1]], &sender);
    assert_eq!(c.status, 200, "the withdrawn request's item is free: {}", c.body);
    let c = c.json()["result"][0].as_i64().unwrap();

    // The list: newest first, filtered, each through its index.
    assert_eq!(listed(&get("/api/v1/tsr-clarifications")), vec![c, b, a]);
    assert_eq!(listed(&get("/api/v1/tsr-clarifications?status=open")), vec![c, a]);
    assert_eq!(listed(&get("/api/v1/tsr-clarifications?status=closed")), vec![b]);
    assert_eq!(
        listed(&get("/api/v1/tsr-clarifications?status=sent")),
        Vec::<i64>::new()
    );
    assert_eq!(
        listed(&get("/api/v1/tsr-clarifications?overdue=true")),
        vec![a],
        "due on 19 November"
    );
    assert_eq!(
        listed(&get(&format!("/api/v1/tsr-clarifications?before={c}"))),
        vec![b, a]
    );
    assert_eq!(
        listed(&get(&format!("/api/v1/tsr-clarifications?from={TODAY}&to={TODAY}"))),
        vec![c, b, a]
    );
    assert!(listed(&get("/api/v1/tsr-clarifications?from=2026-11-21")).is_empty());
    assert!(listed(&get("/api/v1/tsr-clarifications?territory=00000")).is_empty());
    let territory = env.text(&format!(
        "SELECT COALESCE(territory_code, '') FROM ipras WHERE id = {ipra}"
    ));
    if !territory.is_empty() {
        assert_eq!(
            listed(&get(&format!(
                "/api/v1/tsr-clarifications?territory={}",
                common::urlencode(&territory)
            ))),
            vec![c, b, a]
        );
    }
    let bad = get("/api/v1/tsr-clarifications?from=20.11.2026");
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("ГГГГ-ММ-ДД"), "{}", bad.body);
    assert_eq!(get("/api/v1/tsr-clarifications?status=lost").status, 400);
    assert!(env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tsr.clarification.list'") >= 8);
    // An executor sees the requests its organisation sends; a bureau none of the list.
    let as_user = |who: &str, path: &str| {
        let (cookie, _) = login(&server.addr, who, PASSWORD);
        http(&server.addr, "GET", path, &[("Cookie", cookie.as_str())], None)
    };
    assert_eq!(
        listed(&as_user("tsr-exec", "/api/v1/tsr-clarifications")),
        vec![c, b, a]
    );
    assert!(listed(&as_user("health-exec", "/api/v1/tsr-clarifications")).is_empty());
    assert_eq!(as_user("buro", "/api/v1/tsr-clarifications").status, 403);
    assert_eq!(as_user("buro", "/tsr-clarifications").status, 403);
    // The page and the dashboard's count that leads to it.
    let page = get("/tsr-clarifications?status=open");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!(r#"href="/tsr-clarifications/{a}""#))
            && !page.body.contains(&format!(r#"<tr data-id="{b}""#))
    );
    assert!(get("/dashboard")
        .body
        .contains(r#"href="/tsr-clarifications?status=open""#));
    drop(server);

    // Queued: neither changed nor withdrawn any more.
    let run = env.ok(&["jobs", "run", "mse-outbox", "--json"]);
    assert_eq!(run["counts"]["queued"], 2, "{run}");
    let server = env.serve(&[]);
    let (cookie, csrf) = login(&server.addr, "coord", PASSWORD);
    let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    let late = http(
        &server.addr,
        "PUT",
        &format!("/api/v1/tsr-clarifications/{a}"),
        &h,
        Some(&change),
    );
    assert_eq!(late.status, 409, "{}", late.body);
    assert!(
        late.body.contains("отправлен") || late.body.contains("очередь"),
        "{}",
        late.body
    );
    let late = http(
        &server.addr,
        "POST",
        &format!("/api/v1/tsr-clarifications/{a}/withdraw"),
        &h,
        Some(r#"{"reason":"поздно"}"#),
    );
    assert_eq!(late.status, 409, "{}", late.body);
    assert_eq!(request_status(&env, a), "sent");
    assert_eq!(
        listed(&http(
            &server.addr,
            "GET",
            "/api/v1/tsr-clarifications?status=sent",
            &h,
            None
        )),
        vec![c, a]
    );
}

#[test]
fn requests_are_changed_withdrawn_and_listed_on_sqlite() {
    requests_are_changed_withdrawn_and_listed(Backend::Sqlite);
}

#[test]
fn requests_are_changed_withdrawn_and_listed_on_postgres() {
    requests_are_changed_withdrawn_and_listed(Backend::Postgres);
}

/// The same request submitted several times at once: one is raised, the others refused in Russian.
fn double_submit_raises_one(backend: Backend) {
    let (env, orgs, ipra, tsr) = setup(backend);
    let sender = orgs["tsr"].clone();
    env.add_user("coord", "coordinator", None, PASSWORD);
    let server = env.serve(&[]);
    let (cookie, csrf) = login(&server.addr, "coord", PASSWORD);
    let outcomes: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
                    let r = raise_api(&server, &h, ipra, &[tsr[0], tsr[1]], &sender);
                    (r.status, r.body)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let raised = outcomes.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(raised, 1, "{outcomes:?}");
    for (status, body) in outcomes.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 409, "{body}");
        assert!(body.contains("уже есть запрос на уточнение"), "{body}");
    }
    assert_eq!(env.scalar("SELECT COUNT(*) FROM tsr_clarifications"), 1);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM follow_ups WHERE kind = 'tsr-clarification'"),
        1
    );
}

#[test]
fn double_submit_raises_one_on_sqlite() {
    double_submit_raises_one(Backend::Sqlite);
}

#[test]
fn double_submit_raises_one_on_postgres() {
    double_submit_raises_one(Backend::Postgres);
}

/// The outbox killed (SIGKILL) after queuing a request's documents but before marking it queued: nothing of
/// it stays queued, and the next run — on another day, so the document differs — queues it once.
fn a_request_is_queued_once_across_a_kill(backend: Backend) {
    use std::os::unix::process::ExitStatusExt;
    let (env, orgs, ipra, tsr) = setup(backend);
    let (code, out) = env.run_json(&[
        "follow-ups",
        "tsr-clarify",
        "--ipra",
        &ipra.to_string(),
        "--measure",
        &tsr[0].to_string(),
        "--org",
        &orgs["tsr"],
        "--consent",
        "--reason",
        "ширина сиденья не соответствует показаниям",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}");
    let killed = env
        .ipra()
        .env("IPRA_CRASH_AT", "mse.request.queued")
        .args(["jobs", "run", "mse-outbox", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        killed.status.signal(),
        Some(9),
        "not killed there: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    let messages = || env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE connector = 'mse'");
    assert_eq!(messages(), 0, "nothing of the killed run stays queued");
    // The job's run left by the killed process is released by the next (its instance is gone).
    let out = env
        .ipra()
        .env("IPRA_TODAY", "2026-11-23")
        .env("IPRA_EXCHANGE_LEASE_SECONDS", "1")
        .args(["jobs", "run", "mse-outbox", "--json"])
        .output()
        .unwrap();
    let run: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(run["counts"]["queued"], 1, "{run}");
    assert_eq!(messages(), 2, "the request and its printed form, once");
    let sent = files(&folder(&env, "outbox"));
    assert_eq!(sent.iter().filter(|f| f.ends_with(".xml")).count(), 1, "{sent:?}");
    let xml = sent.iter().find(|f| f.ends_with(".xml")).unwrap();
    xmllint(&folder(&env, "outbox").join(xml), &schema("tsr-clarification-1.0.xsd"));
    assert!(std::fs::read_to_string(folder(&env, "outbox").join(xml))
        .unwrap()
        .contains("<Created>2026-11-23</Created>"));
    let id = env.scalar("SELECT MAX(id) FROM tsr_clarifications");
    assert_eq!(request_status(&env, id), "sent");
}

#[test]
fn a_request_is_queued_once_across_a_kill_on_sqlite() {
    a_request_is_queued_once_across_a_kill(Backend::Sqlite);
}

#[test]
fn a_request_is_queued_once_across_a_kill_on_postgres() {
    a_request_is_queued_once_across_a_kill(Backend::Postgres);
}

/// ZAGS cancels a death: the person's IPRA is in force again and the next status export sends it again.
fn a_cancelled_death_sends_the_ipra_again(backend: Backend) {
    let (env, _, ipra, _) = setup(backend);
    let outbox = folder(&env, "outbox");
    let export = |what: &str| {
        let before = files(&outbox);
        let run = env.ok(&["jobs", "run", "mse-status", "--json"]);
        assert_eq!(run["status"], "succeeded", "{what}: {run}");
        let newest: Vec<String> = files(&outbox).into_iter().filter(|f| !before.contains(f)).collect();
        (run, newest)
    };
    let (run, _) = export("the first run");
    assert_eq!(run["counts"]["ipras"], 1, "{run}");
    let inbox = env.data_dir().join("exchange/zags/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("fatal-1.xml"), common::fatal_request_about_her()).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.text(&format!("SELECT status FROM ipras WHERE id = {ipra}")),
        "closed"
    );
    let (run, newest) = export("after the death");
    assert_eq!(run["counts"]["ipras"], 1, "{run}");
    assert_eq!(newest.len(), 1, "{newest:?}");
    // ZAGS corrects the death date: nothing opens, the IPRA goes again.
    let correction = std::fs::read_to_string(env.data_dir().join("exchange/zags/archive/fatal-1.xml"))
        .unwrap()
        .replace(">2021-02-26<", ">2021-02-25<")
        .replace(
            "</СведРегСмерт>",
            "<СведИспрАГС КодВидСвед=\"0401\" ДатаВнесИспр=\"2021-10-01\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведИспрАГС></СведРегСмерт>",
        );
    std::fs::write(inbox.join("fatal-c.xml"), correction).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE death_date = '2021-02-25'"),
        1,
        "{:?}",
        env.death_statuses()
    );
    let (run, newest) = export("after the correction");
    assert_eq!(run["counts"]["ipras"], 1, "the corrected death goes again: {run}");
    assert_eq!(newest.len(), 1, "{newest:?}");
    let cancellation = std::fs::read_to_string(env.data_dir().join("exchange/zags/archive/fatal-1.xml"))
        .unwrap()
        .replace(
            "</СведРегСмерт>",
            "<СведАннулирАГС КодВидСвед=\"0401\" ДатаВнесИспр=\"2021-10-02\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведАннулирАГС></СведРегСмерт>",
        );
    std::fs::write(inbox.join("fatal-2.xml"), cancellation).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.text(&format!("SELECT status FROM ipras WHERE id = {ipra}")),
        "active"
    );
    let (run, newest) = export("after the cancellation");
    assert_eq!(run["counts"]["ipras"], 1, "the restored IPRA goes again: {run}");
    assert_eq!(newest.len(), 1, "{newest:?}");
    xmllint(&outbox.join(&newest[0]), &schema("execution-status-1.0.xsd"));
    let text = std::fs::read_to_string(outbox.join(&newest[0])).unwrap();
    assert!(text.contains("<Number>МРН-20882/21</Number>"), "{text}");
    let (again, _) = export("nothing more");
    assert_eq!(again["counts"].get("ipras"), None, "{again}");
}

#[test]
fn a_cancelled_death_sends_the_ipra_again_on_sqlite() {
    a_cancelled_death_sends_the_ipra_again(Backend::Sqlite);
}

#[test]
fn a_cancelled_death_sends_the_ipra_again_on_postgres() {
    a_cancelled_death_sends_the_ipra_again(Backend::Postgres);
}

/// The pages: the administrator adds a bureau's user with its institution on «Пользователи и роли» (refused
/// without one); the coordinator changes a raised request on its page and withdraws another; the list of
/// every request filters them; the dashboard's count leads there.
#[test]
fn pages_change_withdraw_list_requests_and_add_a_bureau() {
    for backend in BACKENDS {
        let (env, orgs, ipra, tsr) = setup(backend);
        let sender = orgs["tsr"].clone();
        env.add_user("admin", "administrator", None, PASSWORD);
        env.add_user("coord", "coordinator", None, PASSWORD);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();

        let admin = Browser::start();
        admin.login(addr, "admin", PASSWORD);
        admin.goto(&format!("http://{addr}/admin/users"));
        admin.fill("#f-login", "buro-tyumen");
        admin.fill("#f-full_name", "Бюро МСЭ по Тюменской области");
        admin.select("#f-role", "bureau");
        admin.fill("#f-password", PASSWORD);
        admin.click(".adm-user-form button[type=submit]");
        admin.find("#e-issuer");
        assert!(admin.text("#e-issuer").contains("учреждение"), "{}", admin.text("main"));
        assert_eq!(env.scalar("SELECT COUNT(*) FROM users WHERE login = 'buro-tyumen'"), 0);
        admin.fill("#f-issuer", TYUMEN);
        admin.fill("#f-password", PASSWORD);
        admin.click(".adm-user-form button[type=submit]");
        admin.wait_url("/admin/users/buro-tyumen?done=user-added");
        assert_eq!(
            env.text("SELECT role || ' ' || issuer FROM users WHERE login = 'buro-tyumen'"),
            format!("bureau {TYUMEN}")
        );
        admin.screenshot(&format!("mse-admin-bureau-user-{}", backend.name()));
        // The bureau reads its institution's register.
        let (cookie, _) = login(addr, "buro-tyumen", PASSWORD);
        let list = http(addr, "GET", "/api/v1/ipras", &[("Cookie", cookie.as_str())], None).json();
        assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");

        let (cookie, csrf) = login(addr, "coord", PASSWORD);
        let h = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
        let a = raise_api(&server, &h, ipra, &[tsr[0]], &sender).json()["result"][0]
            .as_i64()
            .unwrap();
        let b = raise_api(&server, &h, ipra, &[tsr[1]], &sender).json()["result"][0]
            .as_i64()
            .unwrap();
        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/ipras/{ipra}"));
        browser.click(&format!("#tsr-requests a[href=\"/tsr-clarifications/{a}\"]"));
        browser.find("#tsr-edit-form");
        assert_eq!(
            browser.script("return document.querySelector('#tsr-received').value"),
            TODAY
        );
        browser.script("document.querySelector('#tsr-received').value = '2026-11-18'");
        browser.fill("#tsr-reason", "вид кресла-коляски не соответствует показаниям");
        browser.select("#tsr-consent-by", "representative");
        browser.submit("#tsr-save");
        browser.wait_url(&format!("/tsr-clarifications/{a}?done=saved"));
        assert!(browser.text("#tsr-notice").contains("изменён"));
        assert!(
            browser.text("#tsr-due").contains("20.11.2026"),
            "{}",
            browser.text("#tsr-request")
        );
        assert_eq!(
            env.text(&format!(
                "SELECT received_date || ' ' || consent_by FROM tsr_clarifications WHERE id = {a}"
            )),
            "2026-11-18 representative"
        );
        // Without consent: refused next to the form, nothing changed.
        browser.click("#tsr-consent");
        browser.script("document.querySelector('#tsr-received').value = '2026-11-16'");
        browser.submit("#tsr-save");
        browser.wait_url("error=");
        assert!(
            browser.text("#tsr-alert").contains("согласи"),
            "{}",
            browser.text("#tsr-alert")
        );
        assert_eq!(
            env.text(&format!("SELECT received_date FROM tsr_clarifications WHERE id = {a}")),
            "2026-11-18"
        );
        browser.screenshot(&format!("mse-tsr-request-edit-{}", backend.name()));
        browser.goto(&format!("http://{addr}/tsr-clarifications/{b}"));
        browser.fill("#tsr-withdraw-reason", "гражданин отказался");
        browser.submit("#tsr-withdraw");
        browser.wait_url(&format!("/tsr-clarifications/{b}?done=withdrawn"));
        assert!(browser.text("#tsr-state").contains("отозван"));
        assert!(!browser.has("#tsr-edit-form") && !browser.has("#tsr-withdraw-form"));

        // The list, from the dashboard's count.
        browser.goto(&format!("http://{addr}/dashboard"));
        browser.click("#card-tsr a");
        browser.wait_url("/tsr-clarifications?status=open");
        let rows = || {
            browser.script(
                "return Array.from(document.querySelectorAll('#tsr-all tbody tr')).map(r => r.dataset.id).join(',')",
            )
        };
        assert_eq!(rows(), a.to_string());
        browser.select("#f-status", "closed");
        browser.submit("#f-apply");
        browser.wait_url("status=closed");
        assert_eq!(rows(), b.to_string());
        browser.select("#f-status", "");
        browser.script("document.querySelector('#f-from').value = '2026-11-21'");
        browser.submit("#f-apply");
        browser.wait_url("from=2026-11-21");
        assert!(browser.has("#tsr-empty"));
        browser.screenshot(&format!("mse-tsr-requests-{}", backend.name()));
    }
}

/// The command line changes and withdraws a request not yet queued, as the page and the API do, and refuses
/// in Russian once the outbox queued it (one engine: the register code is the API's, tested on both).
#[test]
fn the_cli_changes_and_withdraws_a_request_until_queued() {
    let (env, orgs, ipra, tsr) = setup(Backend::Sqlite);
    let raise = |measure: i64| {
        let (code, out) = env.run_json(&[
            "follow-ups",
            "tsr-clarify",
            "--ipra",
            &ipra.to_string(),
            "--measure",
            &measure.to_string(),
            "--org",
            &orgs["tsr"],
            "--consent",
            "--reason",
            "ширина сиденья не соответствует показаниям",
            "--json",
        ]);
        assert_eq!(code, 0, "{out}");
        out["result"][0].as_i64().unwrap()
    };
    let a = raise(tsr[0]);
    let b = raise(tsr[1]);
    let edit = |id: i64, more: &[&str]| {
        let id = id.to_string();
        let mut args = vec!["follow-ups", "tsr-request-edit", id.as_str()];
        args.extend_from_slice(more);
        env.run_json(&args)
    };
    let change = |id: i64| {
        edit(
            id,
            &[
                "--measure",
                &tsr[0].to_string(),
                "--org",
                &orgs["tsr"],
                "--consent",
                "--consent-by",
                "representative",
                "--received",
                "2026-11-17",
                "--reason",
                "нужна коляска с электроприводом",
                "--json",
            ],
        )
    };
    // Changed: received date, consent, reason; audited.
    let (code, out) = change(a);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        env.text(&format!("SELECT reason FROM tsr_clarifications WHERE id = {a}")),
        "нужна коляска с электроприводом"
    );
    assert_eq!(
        env.text(&format!("SELECT received_date FROM tsr_clarifications WHERE id = {a}")),
        "2026-11-17"
    );
    assert_eq!(
        env.text(&format!("SELECT consent_by FROM tsr_clarifications WHERE id = {a}")),
        "representative"
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tsr.clarification.edit'"),
        1
    );
    // Without consent nothing changes.
    let (code, out) = edit(
        a,
        &[
            "--measure",
            &tsr[0].to_string(),
            "--org",
            &orgs["tsr"],
            "--reason",
            "иное",
            "--json",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("согласи"), "{out}");
    assert_eq!(
        env.text(&format!("SELECT reason FROM tsr_clarifications WHERE id = {a}")),
        "нужна коляска с электроприводом"
    );

    // Withdrawn with a reason (none: refused), then neither changed nor withdrawn again.
    let withdraw = |id: i64, reason: &str| {
        env.run_json(&[
            "follow-ups",
            "tsr-request-withdraw",
            &id.to_string(),
            "--reason",
            reason,
            "--json",
        ])
    };
    let (code, out) = withdraw(b, " ");
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("почему"), "{out}");
    assert_eq!(request_status(&env, b), "raised");
    let (code, out) = withdraw(b, "гражданин отказался от запроса");
    assert_eq!(code, 0, "{out}");
    assert_eq!(request_status(&env, b), "withdrawn");
    let (code, out) = withdraw(b, "ещё раз");
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("отозван"), "{out}");
    let (code, out) = withdraw(999_999, "нет такого");
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("не найден"), "{out}");

    // Queued: refused in Russian, nothing changed.
    let run = env.ok(&["jobs", "run", "mse-outbox", "--json"]);
    assert_eq!(run["counts"]["queued"], 1, "{run}");
    let (code, out) = change(a);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.to_string().contains("нельзя") && out.to_string().contains(&format!("№ {a}")),
        "{out}"
    );
    let (code, out) = withdraw(a, "поздно");
    assert_eq!(code, 1, "{out}");
    assert!(out.to_string().contains("нельзя"), "{out}");
    assert_eq!(request_status(&env, a), "sent");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'tsr.clarification.edit'"),
        1
    );
}
