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
    let out = std::process::Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(schema)
        .arg(document)
        .output()
        .expect("xmllint (Debian libxml2-utils)");
    assert!(
        out.status.success(),
        "{} against {}: {}",
        document.display(),
        schema.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
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
