//! Signing, scheduler and exchange end to end: real GOST keys made in the test, the FRI outbox and
//! inbox folders, retries and stops, the hash-chained log, and two server instances on one
//! PostgreSQL with one scheduler leader and no work item processed twice.

mod common;

use common::{failover, fri_samples, gost_key, Backend, Env};
use std::path::Path;
use std::process::Stdio;

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

fn sign_send_and_receive(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let (_, report) = env.reported_ipra("extract_4.xml", &orgs);
    let report = report.to_string();
    let exchange = env.data_dir().join("exchange/fri");

    // Unsigned: the outbox job sends nothing; signing needs a configured provider.
    let run = env.ok(&["jobs", "run", "fri-outbox", "--json"]);
    assert_eq!(run["status"], "succeeded");
    assert!(files(&exchange.join("outbox")).is_empty());
    let out = env.run(&["sign", "report", &report]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[signing.organisations."));

    let (key, cert) = gost_key(env.dir.path(), "minsoc");
    env.write_signing_config(&orgs["region"], &key, &cert);
    let signed = env.ok(&["sign", "report", &report, "--json"]);
    assert!(signed["subject"].as_str().unwrap().contains("minsoc"), "{signed}");

    // Dry run reports what would be sent and sends nothing.
    let dry = env.ok(&["jobs", "dry-run", "fri-outbox", "--json"]);
    assert!(dry["report"].as_str().unwrap().contains("отправить отчёт"), "{dry}");
    assert!(files(&exchange.join("outbox")).is_empty());
    assert_eq!(env.ok(&["reports", "list", "--json"])[0]["status"], "signed");

    let run = env.ok(&["jobs", "run", "fri-outbox", "--json"]);
    assert_eq!(run["counts"]["sent"], 1, "{run}");
    let sent = files(&exchange.join("outbox"));
    assert_eq!(sent.len(), 2, "document and detached signature: {sent:?}");
    let document = exchange
        .join("outbox")
        .join(sent.iter().find(|n| !n.ends_with(".sig")).unwrap());
    let signature = exchange
        .join("outbox")
        .join(sent.iter().find(|n| n.ends_with(".sig")).unwrap());
    // The signature verifies with OpenSSL itself, independently of the product.
    let verify = std::process::Command::new("openssl")
        .args([
            "cms",
            "-verify",
            "-engine",
            "gost",
            "-binary",
            "-inform",
            "DER",
            "-noverify",
            "-in",
        ])
        .arg(&signature)
        .arg("-content")
        .arg(&document)
        .arg("-certfile")
        .arg(&cert)
        .arg("-out")
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stderr));
    assert_eq!(env.ok(&["reports", "list", "--json"])[0]["status"], "sent");

    // FRI's receipt arrives in the inbox: the report is rejected with the reason received.
    let document_name = document.file_name().unwrap().to_str().unwrap();
    std::fs::write(
        exchange.join("inbox").join("receipt-1.xml"),
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ReportReceipt xmlns=\"urn:ipra:fri-receipt:1.0\" document=\"{document_name}\" status=\"rejected\"><Reason>Не указана дата исполнения</Reason></ReportReceipt>\n"
        ),
    )
    .unwrap();
    let dry = env.ok(&["jobs", "dry-run", "fri-inbox", "--json"]);
    assert!(dry["report"].as_str().unwrap().contains("receipt-1.xml"));
    assert!(
        files(&exchange.join("inbox")).contains(&"receipt-1.xml".to_string()),
        "dry run leaves the inbox"
    );
    env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    let reports = env.ok(&["reports", "list", "--json"]);
    assert_eq!(reports[0]["status"], "rejected");
    assert_eq!(reports[0]["rejection_reason"], "Не указана дата исполнения");
    assert!(files(&exchange.join("inbox")).is_empty());
    assert_eq!(files(&exchange.join("archive")), vec!["receipt-1.xml".to_string()]);

    // The hash chain holds, and breaks when an entry is altered.
    let verified = env.ok(&["audit", "verify", "--json"]);
    assert_eq!(verified["ok"], true);
    assert!(verified["entries"].as_u64().unwrap() >= 2);
    common::block_on(async {
        sqlx::any::install_default_drivers();
        let url = env
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", env.data_dir().join("ipra.sqlite").display()));
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("UPDATE exchange_log SET sha256 = 'forged' WHERE id = (SELECT MIN(id) FROM exchange_log)")
            .execute(&mut conn)
            .await
            .unwrap();
    });
    let (code, broken) = env.run_json(&["audit", "verify", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(broken["ok"], false);
}

#[test]
fn sign_send_and_receive_on_sqlite() {
    sign_send_and_receive(Backend::Sqlite);
}

#[test]
fn sign_send_and_receive_on_postgres() {
    sign_send_and_receive(Backend::Postgres);
}

/// A signature made by the signer's own tool is verified before it is accepted.
#[test]
fn uploaded_signatures_are_verified() {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    let (_, report) = env.reported_ipra("extract-20211124093406.xml", &orgs);
    let report = report.to_string();
    let (key, cert) = gost_key(env.dir.path(), "signer");
    std::fs::write(
        env.data_dir().join("signing.toml"),
        format!("[organisations.\"{}\"]\nprovider = \"upload\"\n", orgs["region"]),
    )
    .unwrap();
    let doc = env.dir.path().join("report.xml");
    env.run_ok(&["reports", "document", &report, "--out", doc.to_str().unwrap()]);
    let sign = |data: &Path, out: &Path| common::gost_sign(data, &key, &cert, out);
    // A signature of other data is refused, and the attempt is kept with its reason.
    let other = env.dir.path().join("other.xml");
    std::fs::write(&other, b"<other/>").unwrap();
    let wrong = env.dir.path().join("wrong.sig");
    sign(&other, &wrong);
    let out = env.run(&["sign", "upload", &report, "--signature", wrong.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("не принята"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let attempts = env.ok(&["sign", "attempts", "--report", &report, "--json"]);
    assert_eq!(attempts[0]["status"], "failed");
    assert_eq!(
        env.ok(&["reports", "list", "--json"])[0]["status"],
        "awaiting-signature"
    );

    let good = env.dir.path().join("good.sig");
    sign(&doc, &good);
    env.ok(&[
        "sign",
        "upload",
        &report,
        "--signature",
        good.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(env.ok(&["reports", "list", "--json"])[0]["status"], "signed");
}

/// A delivery that fails is retried with backoff, can be stopped and put back by an administrator;
/// the job run that failed waits for a decision.
#[test]
fn failed_delivery_retries_stops_and_resumes() {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    let (_, report) = env.reported_ipra("extract_4.xml", &orgs);
    let (key, cert) = gost_key(env.dir.path(), "minsoc");
    env.write_signing_config(&orgs["region"], &key, &cert);
    env.ok(&["sign", "report", &report.to_string(), "--json"]);
    // Nothing listens on this loopback port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.run_ok(&[
        "jobs",
        "set",
        "fri-outbox",
        "--settings",
        &format!("{{\"upload_url\": \"http://127.0.0.1:{port}/upload\"}}"),
    ]);
    let (code, run) = env.run_json(&["jobs", "run", "fri-outbox", "--json"]);
    assert_eq!(code, 1);
    assert_eq!(run["status"], "retrying", "{run}");
    assert!(run["next_attempt_at"].as_str().is_some());
    let messages = env.ok(&["exchange", "list", "--json"]);
    let message = &messages[0];
    assert_eq!(
        message["status"], "queued",
        "back in line for a later attempt: {message}"
    );
    assert!(message["last_error"].as_str().unwrap().contains("127.0.0.1"));
    let id = message["id"].to_string();
    env.run_ok(&["exchange", "stop", &id]);
    assert_eq!(env.ok(&["exchange", "list", "--json"])[0]["status"], "stopped");
    env.run_ok(&["exchange", "retry", &id]);
    assert_eq!(env.ok(&["exchange", "list", "--json"])[0]["status"], "queued");
    // The administrator discards the failed run; the history keeps it.
    env.run_ok(&["jobs", "discard", &run["id"].to_string()]);
    let history = env.ok(&["jobs", "history", "fri-outbox", "--json"]);
    assert_eq!(history[0]["status"], "discarded");
    assert_eq!(
        env.ok(&["reports", "list", "--json"])[0]["status"],
        "signed",
        "nothing was sent"
    );
}

/// The inbox takes each document once: the same file dropped again is a duplicate.
#[test]
fn inbox_takes_each_document_once() {
    let env = Env::new(Backend::Sqlite);
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(fri_samples().join("extract_4.xml"), inbox.join("a.xml")).unwrap();
    let run = env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 1, "{run}");
    std::fs::copy(fri_samples().join("extract_4.xml"), inbox.join("again.xml")).unwrap();
    let run = env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(run["counts"]["duplicates"], 1, "{run}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 1);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM exchange_messages"), 1);
    // A bad extract is refused by the connector: its message fails with the reason, the document
    // goes to quarantine, and the run (which did its work) says so among what it did.
    std::fs::write(inbox.join("bad.xml"), b"<broken").unwrap();
    let run = env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(run["counts"]["refused"], 1, "{run}");
    assert!(run["report"].to_string().contains("bad.xml"), "{run}");
    let failed: Vec<serde_json::Value> = env
        .ok(&["exchange", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["file_name"] == "bad.xml")
        .cloned()
        .collect();
    // A document that will always fail is refused for good at once: no retries, one quarantined copy.
    assert_eq!(failed[0]["status"], "failed", "{failed:?}");
    assert_eq!(failed[0]["attempts"], 1, "{failed:?}");
    assert!(
        failed[0]["last_error"].as_str().unwrap().contains("окончательный"),
        "{failed:?}"
    );
    for _ in 0..2 {
        env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    }
    let quarantined = std::fs::read_dir(env.data_dir().join("quarantine"))
        .map(|d| {
            d.filter(|e| {
                !e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".reasons.txt")
            })
            .count()
        })
        .unwrap_or(0);
    assert_eq!(quarantined, 1, "quarantined once, not on every run");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE status <> 'finished'"),
        0,
        "every import run of the inbox is closed"
    );
}

/// A message whose instance was killed while processing it (status `processing`, lease run out)
/// is taken again and applied once; one interrupted too often waits for an administrator.
fn interrupted_claims_are_taken_again(backend: Backend) {
    let env = Env::new(backend);
    let payload = std::fs::read(fri_samples().join("extract_4.xml")).unwrap();
    let sha = {
        use std::fmt::Write;
        let digest = <sha2::Sha256 as sha2::Digest>::digest(&payload);
        digest.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    };
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    let blob = match backend {
        Backend::Sqlite => format!("X'{hex}'"),
        Backend::Postgres => format!("'\\x{hex}'::bytea"),
    };
    env.run_ok(&["migrate"]);
    // What a SIGKILL between the claim and its end leaves: the claim of an instance that is gone.
    env.execute(&format!(
        "INSERT INTO exchange_messages (connector, direction, kind, file_name, sha256, payload, status, attempts, claimed_by, \
         lease_until, created_at, updated_at) VALUES ('fri', 'in', 'incoming', 'killed.xml', '{sha}', {blob}, 'processing', 1, \
         'gone:1', '2000-01-01T00:00:00Z', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
    ));
    env.execute(
        "INSERT INTO exchange_log (at, connector, direction, message_id, file_name, sha256) \
         SELECT '2026-01-01T00:00:00Z', 'fri', 'in', id, file_name, sha256 FROM exchange_messages WHERE file_name = 'killed.xml'",
    );
    let run = env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 1, "{run}");
    let message = &env.ok(&["exchange", "list", "--json"])[0];
    assert_eq!(message["status"], "processed", "{message}");
    assert_eq!(message["attempts"], 2, "{message}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 1);
    // Delivered again: a duplicate, nothing imported twice.
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::write(inbox.join("again.xml"), &payload).unwrap();
    let run = env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(run["counts"]["duplicates"], 1, "{run}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 1);
    assert_eq!(env.ok(&["audit", "verify", "--json"])["ok"], true);

    // A document that kills its worker every time is not taken forever.
    env.execute(
        "UPDATE exchange_messages SET status = 'processing', attempts = 5, lease_until = '2000-01-01T00:00:00Z' \
         WHERE file_name = 'killed.xml'",
    );
    env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    let message = &env.ok(&["exchange", "list", "--json"])[0];
    assert_eq!(message["status"], "failed", "{message}");
    assert!(
        message["last_error"].as_str().unwrap().contains("прерывалась"),
        "{message}"
    );
    // An administrator puts it back in line.
    env.run_ok(&["exchange", "retry", &message["id"].to_string()]);
    env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(env.ok(&["exchange", "list", "--json"])[0]["status"], "processed");
}

#[test]
fn interrupted_claims_are_taken_again_on_sqlite() {
    interrupted_claims_are_taken_again(Backend::Sqlite);
}

#[test]
fn interrupted_claims_are_taken_again_on_postgres() {
    interrupted_claims_are_taken_again(Backend::Postgres);
}

/// `ipra audit verify` finds every change to the exchange log or its documents: an edited field
/// (the message id too), a replaced document, a message without its entry, the last entries
/// deleted, and a chain recomputed after an edit.
#[test]
fn the_exchange_log_shows_every_tampering() {
    let env = Env::new(Backend::Sqlite);
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, sample) in ["extract_4.xml", "extract_1.xml", "extract-20211124093406.xml"]
        .iter()
        .enumerate()
    {
        std::fs::copy(fri_samples().join(sample), inbox.join(format!("{i}.xml"))).unwrap();
    }
    // One of them is refused (a SNILS with a letter): logged all the same.
    env.run_json(&["jobs", "run", "fri-inbox", "--json"]);
    let verified = env.ok(&["audit", "verify", "--json"]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["exchange_log"]["entries"], 3, "{verified}");
    assert_eq!(verified["exchange_log"]["documents_checked"], 3, "{verified}");
    let head = env.ok(&["audit", "head", "--json"])["exchange_log"].clone();
    let recorded = format!("exchange:{}:{}", head["seq"], head["hash"].as_str().unwrap());
    let broken = |why: &str| {
        let (code, v) = env.run_json(&["audit", "verify", "--json", "--head", &recorded]);
        assert_eq!((code, &v["ok"]), (1, &serde_json::json!(false)), "{why}: {v}");
        v["exchange_log"]["reason"].as_str().unwrap_or_default().to_string()
    };
    let holds = |why: &str| {
        let v = env.ok(&["audit", "verify", "--json", "--head", &recorded]);
        assert_eq!(v["ok"], true, "{why}: {v}");
    };

    env.execute("UPDATE exchange_log SET message_id = message_id + 1 WHERE seq = 1");
    assert!(broken("message id edited").contains("изменена"));
    env.execute("UPDATE exchange_log SET message_id = message_id - 1 WHERE seq = 1");
    holds("restored");

    env.execute(
        "UPDATE exchange_messages SET payload = X'3c782f3e' WHERE id = (SELECT MIN(id) FROM exchange_messages)",
    );
    assert!(broken("document replaced").contains("заменён"));
    env.execute("DELETE FROM exchange_messages WHERE id = (SELECT MIN(id) FROM exchange_messages)");
    holds("a document gone with its message: the log keeps its hash, nothing claims otherwise");

    // The last entry deleted and the head moved back: the anchor and the recorded head remember.
    let second = env.text("SELECT entry_hash FROM exchange_log WHERE seq = 2");
    env.execute("DELETE FROM exchange_log WHERE seq = 3");
    env.execute(&format!("UPDATE exchange_seal SET seq = 2, head_hash = '{second}'"));
    let reason = broken("last entry deleted");
    assert!(
        reason.contains("последние записи удалены") || reason.contains("нет записи"),
        "{reason}"
    );

    // A fresh installation: an edit with the whole chain recomputed is caught by the anchors.
    let env = Env::new(Backend::Sqlite);
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, sample) in ["extract_4.xml", "extract_1.xml"].iter().enumerate() {
        std::fs::copy(fri_samples().join(sample), inbox.join(format!("{i}.xml"))).unwrap();
    }
    env.run_json(&["jobs", "run", "fri-inbox", "--json"]);
    assert_eq!(env.ok(&["audit", "verify", "--json"])["ok"], true);
    env.execute("UPDATE exchange_log SET file_name = 'other.xml', seq = NULL, entry_hash = NULL");
    env.execute(
        "UPDATE exchange_seal SET seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    );
    let (code, v) = env.run_json(&["audit", "verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["exchange_log"]["reason"].as_str().unwrap().contains("пересчитан"),
        "{v}"
    );
    // A message whose entry is gone.
    let env = Env::new(Backend::Sqlite);
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(fri_samples().join("extract_4.xml"), inbox.join("a.xml")).unwrap();
    env.ok(&["jobs", "run", "fri-inbox", "--json"]);
    env.execute("DELETE FROM exchange_log");
    env.execute(
        "UPDATE exchange_seal SET seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'",
    );
    let _ = std::fs::remove_file(env.data_dir().join("audit/anchors.log"));
    let (code, v) = env.run_json(&["audit", "verify", "--json"]);
    assert_eq!(code, 1, "{v}");
    assert!(
        v["exchange_log"]["reason"].as_str().unwrap().contains("нет записи"),
        "{v}"
    );
}

/// Two instances on one PostgreSQL: exactly one leads the scheduler, both take inbox work, and
/// every document is processed exactly once; runs of a job never overlap. The leader is killed and
/// the other takes over (the core is shared with tests/instances.rs, which runs it on the layout of
/// deploy/compose.yaml behind nginx).
#[test]
fn two_instances_share_one_postgres() {
    let env = Env::new(Backend::Postgres);
    env.only_job_every_second(Some("fri-inbox"));
    let demo = env.dir.path().join("demo");
    env.run_ok(&["demo", "--count", "24", "--seed", "11", "--out", demo.to_str().unwrap()]);
    let mut instances = Vec::new();
    for _ in 0..2 {
        let addr = common::free_addr();
        let child = env
            .ipra()
            .args(["serve", "--listen", &addr, "--tick-ms", "100"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        instances.push(failover::Instance { addr, child });
    }
    let mut names: Vec<_> = std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let mut layout = failover::Layout {
        env: &env,
        instances,
        inbox: env.data_dir().join("exchange/fri/inbox"),
        front: None,
    };
    failover::leader_failover(
        &mut layout,
        &failover::Plan {
            documents: &names,
            at_kill: 0,
            after: 4,
        },
    );
}

fn xmllint(document: &Path, schema: &Path) {
    common::assert_valid_xml(document, schema);
}

/// ZAGS: death records pushed by the registry close the person's measures; persons not yet checked
/// are asked about with requests that validate against the published schema.
#[test]
fn zags_deaths_close_measures_and_checks_are_requested() {
    let env = Env::new(Backend::Sqlite);
    env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");

    // The check: one request per person with an IPRA in force, valid against FATALINF 4.0.1.
    let run = env.ok(&["jobs", "run", "zags-check", "--json"]);
    assert_eq!(run["counts"]["requests"], 1, "{run}");
    let outbox = env.data_dir().join("exchange/zags/outbox");
    let requests = files(&outbox);
    assert_eq!(requests.len(), 1, "{requests:?}");
    xmllint(
        &outbox.join(&requests[0]),
        &common::formats().join("zags/zags-fatalinf-ru-root.xsd"),
    );
    let again = env.ok(&["jobs", "run", "zags-check", "--json"]);
    assert_eq!(again["counts"]["persons"], 0, "checked persons wait for the next round");

    // The push: the official 4.0.6 sample, about this person (no SNILS: matched by name and birth date).
    let sample = std::fs::read_to_string(common::formats().join("zags/fatal-4.0.6/request.sample.xml")).unwrap();
    let about_her = common::fatal_request_about_her();
    let unknown = sample
        .replace("170219920000200319007", "170219920000200319999")
        .replace(">Тестов<", ">Неизвестный<");
    let inbox = env.data_dir().join("exchange/zags/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("fatal-1.xml"), about_her).unwrap();
    std::fs::write(inbox.join("fatal-2.xml"), unknown).unwrap();
    let run = env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 2, "{run}");
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra} AND status = 'open'"
        )),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE death_date = '2021-02-26'"),
        1
    );
    assert_eq!(env.death_statuses(), vec!["applied", "no-match"]);
    let stats = env.ok(&["stats", "--json"]);
    let died = stats["not_executed_by_reason"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == "died")
        .unwrap()
        .clone();
    assert!(died["measures"].as_i64().unwrap() > 0, "{stats}");
    // The registry cancels the record: nothing was reported yet, so the measures open again.
    let cancellation = std::fs::read_to_string(env.data_dir().join("exchange/zags/archive/fatal-1.xml")).unwrap().replace(
        "</СведРегСмерт>",
        "<СведАннулирАГС КодВидСвед=\"0401\" ДатаВнесИспр=\"2021-10-02\"><ns2:ПрСведДокИспрАГС>1</ns2:ПрСведДокИспрАГС></СведАннулирАГС></СведРегСмерт>",
    );
    std::fs::write(inbox.join("fatal-3.xml"), cancellation).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra} AND status = 'open'"
        )) > 0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE death_date IS NOT NULL"),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM death_records WHERE status = 'cancelled'"),
        1
    );

    // Two persons with her name and birth date: a record without SNILS waits for a person to decide.
    let twin = std::fs::read_to_string(fri_samples().join("extract_4.xml"))
        .unwrap()
        .replace("120-334-215 87", "112-233-445 95");
    let twin_path = env.dir.path().join("twin.xml");
    std::fs::write(&twin_path, twin).unwrap();
    env.ok(&["import", twin_path.to_str().unwrap(), "--json"]);
    let second = std::fs::read_to_string(env.data_dir().join("exchange/zags/archive/fatal-1.xml"))
        .unwrap()
        .replace("170219920000200319007", "170219920000200319008");
    std::fs::write(inbox.join("fatal-4.xml"), second).unwrap();
    env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    let pending = env.ok(&["exchange", "deaths", "--status", "pending", "--json"]);
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");
    let id = pending[0]["id"].to_string();
    env.run_ok(&["exchange", "decide-death", &id, "--snils", "120-334-215 87"]);
    assert_eq!(
        env.scalar(&format!(
            "SELECT COUNT(*) FROM measures WHERE ipra_id = {ipra} AND status = 'open'"
        )),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE snils = '11223344595' AND death_date IS NULL"),
        1,
        "the namesake lives on"
    );

    // The same file again changes nothing.
    std::fs::write(
        inbox.join("fatal-1-again.xml"),
        std::fs::read(env.data_dir().join("exchange/zags/archive/fatal-1.xml")).unwrap(),
    )
    .unwrap();
    let run = env.ok(&["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(run["counts"]["duplicates"], 1, "{run}");
}

/// EGISSO: an executed, reported social-protection measure whose type is mapped becomes a fact of
/// assignment in a 10.06.S 1.1.0 package that validates against the published schema; once.
#[test]
fn egisso_facts_are_uploaded_once() {
    let env = Env::new(Backend::Postgres);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let social = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "social-protection")
        .expect("a social measure")
        .clone();
    let card = env.ok(&["show", &ipra.to_string(), "--json"]);
    let date = card["decision_date"].as_str().unwrap().to_string();
    env.ok(&[
        "executions",
        "add",
        "--ipra",
        &ipra.to_string(),
        "--measure",
        &social["id"].to_string(),
        "--section",
        "social-protection",
        "--org",
        &orgs["social-protection"],
        "--executor",
        &orgs["social-protection"],
        "--name",
        social["name"].as_str().unwrap(),
        "--result",
        "executed",
        "--date",
        &date,
        "--ready",
        "--json",
    ]);
    env.assemble(ipra, &orgs["region"]);
    // EGISSO reference lists (NSI) come in through the connector and become versioned lists.
    let nsi = env.dir.path().join("lmsz@2024.csv");
    std::fs::write(
        &nsi,
        "code;name;parent\n5f1d3b8e-4c1a-4b7e-9d7a-2f6e8c9a1b23;Реабилитационные услуги;\n",
    )
    .unwrap();
    env.ok(&["import", "--connector", "egisso", nsi.to_str().unwrap(), "--json"]);
    let list = env.ok(&["reference", "show", "egisso-lmsz", "--json"]);
    assert_eq!(list[0]["name"], "Реабилитационные услуги", "{list}");
    let category = social["category_code"].as_str().unwrap();
    env.run_ok(&[
        "exchange",
        "egisso-map",
        category,
        "--lmsz",
        "5f1d3b8e-4c1a-4b7e-9d7a-2f6e8c9a1b23",
        "--category",
        "0a9c4b2d-7e6f-4a1b-8c3d-5e7f9a1b2c3d",
        "--osz",
        "0040.000001",
    ]);
    let dry = env.ok(&["jobs", "dry-run", "egisso-upload", "--json"]);
    assert_eq!(dry["counts"]["facts"], 1, "{dry}");
    let outbox = env.data_dir().join("exchange/egisso/outbox");
    assert!(files(&outbox).is_empty(), "dry run sends nothing");
    let run = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(run["counts"]["sent"], 1, "{run}");
    let sent = files(&outbox);
    assert_eq!(sent.len(), 1);
    xmllint(
        &outbox.join(&sent[0]),
        &common::formats().join("egisso/egisso_schema-23.12.0/10.06.S-1.1.0.xsd"),
    );
    let again = env.ok(&["jobs", "run", "egisso-upload", "--json"]);
    assert_eq!(again["counts"]["facts"], 0, "each fact once");
}
