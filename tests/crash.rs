//! Crash tests: `ipra serve` killed with SIGKILL at random moments while its inbox job imports a
//! stream of FRI extracts, restarted each time; and each durable step of the inbox, the outbox,
//! signing and a ZAGS record killed right after it (`IPRA_CRASH_AT`). Afterwards every document is applied exactly once
//! (the register equals a clean import of the same files), no message is left claimed, no import
//! run is left open, and both logs verify. On SQLite and on PostgreSQL.
//!
//! The suite kills a few times; `IPRA_CRASH_KILLS=30 cargo nextest run -p ipra-host -E 'binary(crash)'`
//! runs a long series.

mod common;

use common::{Backend, Env};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// A small deterministic generator: the kill moments are the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn kills() -> usize {
    std::env::var("IPRA_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8)
}

/// The register's shape, to compare with a clean import.
fn shape(env: &Env) -> (i64, i64, i64, i64) {
    (
        env.scalar("SELECT COUNT(*) FROM persons"),
        env.scalar("SELECT COUNT(*) FROM ipras"),
        env.scalar("SELECT COUNT(*) FROM measures"),
        env.scalar("SELECT COUNT(*) FROM ipras WHERE superseded_by IS NOT NULL"),
    )
}

fn serve(env: &Env) -> std::process::Child {
    env.ipra()
        .args(["serve", "--listen", "127.0.0.1:0", "--tick-ms", "100"])
        // A killed instance's claims are taken again after this long.
        .env("IPRA_EXCHANGE_LEASE_SECONDS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ipra serve")
}

fn inbox_survives_sigkill(backend: Backend) {
    let env = Env::new(backend);
    env.only_job_every_second(Some("fri-inbox"));
    let demo = env.dir.path().join("demo");
    env.run_ok(&[
        "demo",
        "--count",
        "200",
        "--seed",
        "23",
        "--out",
        demo.to_str().unwrap(),
    ]);
    let mut names: Vec<_> = std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();

    // The same files imported cleanly, for comparison.
    let clean = Env::new(backend);
    clean.run_ok(&["import", demo.to_str().unwrap()]);
    let expected = shape(&clean);

    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for path in &names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::copy(path, inbox.join(format!("{name}.part"))).unwrap();
        std::fs::rename(inbox.join(format!("{name}.part")), inbox.join(&name)).unwrap();
    }
    let mut rng = Lcg(0x1b_2026 + backend as u64);
    let mut killed_with_work = 0;
    let processed = || env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'");
    for _ in 0..kills() {
        let before = processed();
        if before == names.len() as i64 {
            break;
        }
        let mut server = serve(&env);
        // Killed while the inbox is being worked through: once a few more documents are done,
        // at a moment that falls anywhere in the processing of the next.
        let target = before + 1 + (rng.next() % 12) as i64;
        let deadline = Instant::now() + Duration::from_secs(120);
        while processed() < target.min(names.len() as i64) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 20_000));
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        if env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processing'") > 0 {
            killed_with_work += 1;
        }
    }
    // The last start finishes the work.
    let mut server = serve(&env);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let done = env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'");
        let open = env.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'running'");
        if done == names.len() as i64 && open == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after {} kills the inbox was not finished: {done} of {} processed, {open} import runs open",
            kills(),
            names.len()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    server.kill().unwrap();
    server.wait().unwrap();

    assert_eq!(env.scalar("SELECT COUNT(*) FROM exchange_messages"), names.len() as i64);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status <> 'processed'"),
        0,
        "nothing stuck in processing, nothing failed"
    );
    assert_eq!(
        shape(&env),
        expected,
        "the register equals a clean import of the same files"
    );
    let verified = env.ok(&["audit", "verify", "--json"]);
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["exchange_log"]["entries"], names.len(), "{verified}");
    eprintln!(
        "{}: {} kills, {killed_with_work} with a message in processing; register {:?}",
        backend.name(),
        kills(),
        expected
    );
}

#[test]
fn inbox_survives_sigkill_on_sqlite() {
    inbox_survives_sigkill(Backend::Sqlite);
}

#[test]
fn inbox_survives_sigkill_on_postgres() {
    inbox_survives_sigkill(Backend::Postgres);
}

/// Runs `ipra ARGS` with the process killed at `point`; it must die by SIGKILL.
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

/// After a kill, the same command again (claims of the killed process taken once their lease ran out).
fn again(env: &Env, args: &[&str]) -> serde_json::Value {
    std::thread::sleep(Duration::from_millis(1_100));
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

fn logs_hold(env: &Env, point: &str) {
    let verified = env.ok(&["audit", "verify", "--json"]);
    assert_eq!(verified["ok"], true, "{point}: {verified}");
}

/// Each durable step of the inbox — the file recorded, the message claimed, the extract stored —
/// survives a SIGKILL right after it: the next run applies the document once.
fn inbox_steps_survive_a_kill(backend: Backend) {
    for point in ["inbox.recorded", "inbox.claimed", "inbox.applied"] {
        let env = Env::new(backend);
        let inbox = env.data_dir().join("exchange/fri/inbox");
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::copy(common::fri_samples().join("extract_4.xml"), inbox.join("a.xml")).unwrap();
        killed_at(&env, point, &["jobs", "run", "fri-inbox", "--json"]);
        let run = again(&env, &["jobs", "run", "fri-inbox", "--json"]);
        assert_eq!(run["status"], "succeeded", "{point}: {run}");
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'"),
            1,
            "{point}"
        );
        assert_eq!(env.scalar("SELECT COUNT(*) FROM exchange_messages"), 1, "{point}");
        assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 1, "{point}: the extract once");
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'running'"),
            0,
            "{point}: the killed import run is closed"
        );
        assert!(
            std::fs::read_dir(&inbox).unwrap().next().is_none(),
            "{point}: inbox emptied"
        );
        logs_hold(&env, point);
    }
}

#[test]
fn inbox_steps_survive_a_kill_on_sqlite() {
    inbox_steps_survive_a_kill(Backend::Sqlite);
}

#[test]
fn inbox_steps_survive_a_kill_on_postgres() {
    inbox_steps_survive_a_kill(Backend::Postgres);
}

/// Signing and sending survive a SIGKILL after each durable step: the signature attached, the
/// document delivered, the message marked sent with its log entry. The report ends sent, its
/// document is in the outbox once, the logs verify.
fn signing_and_outbox_steps_survive_a_kill(backend: Backend) {
    for point in ["signing.attached", "outbox.delivered", "outbox.logged"] {
        let env = Env::new(backend);
        let orgs = env.directory();
        let (_, report) = env.reported_ipra("extract_4.xml", &orgs);
        let report = report.to_string();
        let (key, cert) = common::gost_key(env.dir.path(), "minsoc");
        env.write_signing_config(&orgs["region"], &key, &cert);
        if point == "signing.attached" {
            killed_at(&env, point, &["sign", "report", &report, "--json"]);
            assert_eq!(
                env.ok(&["reports", "list", "--json"])[0]["status"],
                "signed",
                "the signature attached before the kill stands"
            );
        } else {
            env.ok(&["sign", "report", &report, "--json"]);
            killed_at(&env, point, &["jobs", "run", "fri-outbox", "--json"]);
        }
        let run = again(&env, &["jobs", "run", "fri-outbox", "--json"]);
        assert_eq!(run["status"], "succeeded", "{point}: {run}");
        assert_eq!(env.ok(&["reports", "list", "--json"])[0]["status"], "sent", "{point}");
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE direction = 'out' AND status = 'sent'"),
            1,
            "{point}"
        );
        let outbox: Vec<String> = std::fs::read_dir(env.data_dir().join("exchange/fri/outbox"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            outbox.len(),
            2,
            "{point}: the document and its signature, once: {outbox:?}"
        );
        assert!(outbox.iter().all(|n| !n.ends_with(".part")), "{point}: {outbox:?}");
        logs_hold(&env, point);
    }
}

#[test]
fn signing_and_outbox_steps_survive_a_kill_on_sqlite() {
    signing_and_outbox_steps_survive_a_kill(Backend::Sqlite);
}

#[test]
fn signing_and_outbox_steps_survive_a_kill_on_postgres() {
    signing_and_outbox_steps_survive_a_kill(Backend::Postgres);
}

/// A death record received from ZAGS and recorded, the process killed before the person's measures
/// were closed: taken again, the record is applied whole and once.
fn a_zags_record_survives_a_kill_before_it_is_applied(backend: Backend) {
    let env = Env::new(backend);
    env.directory();
    env.ok(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let about_her = common::fatal_request_about_her();
    let inbox = env.data_dir().join("exchange/zags/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("fatal-1.xml"), about_her).unwrap();
    killed_at(&env, "zags.recorded", &["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM death_records WHERE status = 'applied'"),
        1
    );
    assert!(
        env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'open'") > 0,
        "killed before the measures were closed"
    );
    let run = again(&env, &["jobs", "run", "zags-inbox", "--json"]);
    assert_eq!(run["status"], "succeeded", "{run}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'open'"), 0);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM death_records"), 1, "recorded once");
    let closed_by_death = env.scalar("SELECT COUNT(*) FROM execution_records WHERE created_by = 'ЗАГС'");
    assert_eq!(
        closed_by_death,
        env.scalar("SELECT COUNT(*) FROM measures"),
        "one record per measure, none twice"
    );
    logs_hold(&env, "zags.recorded");
}

/// `ipra import` killed at random moments over the same folder, then run to the end: the register
/// equals a clean import, and the killed runs are closed as interrupted.
#[test]
fn a_killed_import_resumes_to_the_same_register() {
    let env = Env::new(Backend::Sqlite);
    let demo = env.dir.path().join("demo");
    env.run_ok(&[
        "demo",
        "--count",
        "300",
        "--seed",
        "31",
        "--out",
        demo.to_str().unwrap(),
    ]);
    let clean = Env::new(Backend::Sqlite);
    clean.run_ok(&["import", demo.to_str().unwrap()]);
    env.run_ok(&["migrate"]);
    let mut rng = Lcg(0x1b_0031);
    for _ in 0..kills() {
        let mut import = env
            .ipra()
            .args(["import", demo.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300 + rng.next() % 1_500));
        import.kill().unwrap();
        import.wait().unwrap();
    }
    env.run_ok(&["import", demo.to_str().unwrap()]);
    assert_eq!(shape(&env), shape(&clean), "the register equals a clean import");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'running'"),
        0
    );
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE status NOT IN ('finished', 'interrupted')"),
        0,
        "every run killed midway is closed as interrupted, the others finished"
    );
    let interrupted = env.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'interrupted'");
    assert!(interrupted > 0, "at least one kill landed in the middle of a run");
    eprintln!("{} kills, {interrupted} in the middle of a run", kills());
}

#[test]
fn a_zags_record_survives_a_kill_before_it_is_applied_on_sqlite() {
    a_zags_record_survives_a_kill_before_it_is_applied(Backend::Sqlite);
}

#[test]
fn a_zags_record_survives_a_kill_before_it_is_applied_on_postgres() {
    a_zags_record_survives_a_kill_before_it_is_applied(Backend::Postgres);
}
