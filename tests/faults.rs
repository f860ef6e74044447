//! Faults a region's server meets, end to end with the real binary: a disk that fills up under
//! the embedded database while the inbox is processed. The server says so (health, readiness, the
//! job's run, the CLI — in Russian, naming the cause), and once space returns it recovers by
//! itself: every delivered document is imported, writers are not locked out, no restart.
//!
//! A PostgreSQL database that goes away and comes back is outlived the same way.
//!
//! The disk is a small tmpfs mounted under the test's data directory (the test runs as root, as
//! the suite does on its machine).

mod common;

use common::{http, Backend, Env};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// A tmpfs of `mib` MiB at a path, unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(path: &Path, mib: u32) -> SmallDisk {
        std::fs::create_dir_all(path).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "the full-disk test mounts a small tmpfs at {}: it needs root, as the suite has on its machine",
            path.display()
        );
        SmallDisk(path.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `ipra serve` with its scheduler ticking every 200 ms, its log (info and up) in a file.
fn serve_logged(env: &Env) -> (Server, String, PathBuf) {
    let addr = common::free_addr();
    let log = env.dir.path().join("serve.log");
    let server = Server(
        env.ipra()
            .args(["serve", "--listen", &addr, "--tick-ms", "200"])
            .env("IPRA_LOG", "warn,ipra=info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    (server, addr, log)
}

fn json(addr: &str, path: &str) -> (u16, serde_json::Value) {
    let r = http(addr, "GET", path, &[], None);
    (r.status, r.json())
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_full_disk_is_said_and_the_server_recovers_by_itself_when_space_returns() {
    let env = Env::new(Backend::Sqlite);
    let disk = SmallDisk::mount(&env.data_dir(), 64);
    env.run_ok(&["migrate"]);
    env.add_user("admin", "administrator", None, PASSWORD);
    env.only_job_every_second(Some("fri-inbox"));
    // Extracts made beside the small disk, then delivered into its inbox.
    let demo = env.dir.path().join("demo");
    env.run_ok(&["demo", "--count", "40", "--seed", "5", "--out", demo.to_str().unwrap()]);
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for path in &names {
        std::fs::copy(path, inbox.join(path.file_name().unwrap())).unwrap();
    }
    // Leave the database about a megabyte: the inbox fills it mid-way.
    let filler = env.data_dir().join("filler");
    let free = free_bytes(&env.data_dir());
    std::fs::write(&filler, vec![0u8; (free - 1024 * 1024) as usize]).unwrap();

    let (_server, addr, log) = serve_logged(&env);
    wait_for("the server answers", Duration::from_secs(120), || {
        std::net::TcpStream::connect(&addr).is_ok()
    });

    // Full: health is degraded, readiness refuses with the cause, the job's run names it.
    wait_for("readiness says the disk is full", Duration::from_secs(120), || {
        json(&addr, "/api/v1/ready").0 == 503
    });
    let (_, ready) = json(&addr, "/api/v1/ready");
    assert_eq!(ready["storage"]["status"], "full", "{ready}");
    assert!(
        ready["problems"][0]
            .as_str()
            .unwrap()
            .contains("На диске не осталось места"),
        "{ready}"
    );
    let (status, health) = json(&addr, "/api/v1/health");
    assert_eq!(status, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    wait_for(
        "a run of the inbox names the full disk",
        Duration::from_secs(60),
        || {
            env.run_json(&["jobs", "history", "fri-inbox", "--json"])
                .1
                .as_array()
                .is_some_and(|runs| {
                    runs.iter()
                        .any(|r| r.to_string().contains("На диске не осталось места"))
                })
        },
    );

    // The CLI names the cause too (not a constraint that failed after SQLite gave up).
    let more = env.dir.path().join("more");
    env.run_ok(&["demo", "--count", "3", "--seed", "6", "--out", more.to_str().unwrap()]);
    let out = env.run(&["import", more.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}{stderr}");
    assert!(
        format!("{stdout}{stderr}").contains("На диске не осталось места"),
        "{stdout}{stderr}"
    );

    // Space returns: without a restart every document is imported and writers are not locked out.
    std::fs::remove_file(&filler).unwrap();
    wait_for("readiness is back", Duration::from_secs(30), || {
        json(&addr, "/api/v1/ready").0 == 200
    });
    wait_for("every delivered document is imported", Duration::from_secs(240), || {
        env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'") == names.len() as i64
    });
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages"),
        names.len() as i64,
        "{}",
        env.run_ok(&["exchange", "list"])
    );
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), names.len() as i64);
    env.add_user("clerk", "coordinator", None, PASSWORD);
    let (status, health) = json(&addr, "/api/v1/health");
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(
        log.contains("На диске не осталось места") && log.contains("место на диске снова есть"),
        "{log}"
    );
    drop(disk);
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .expect("df")
}

/// The PostgreSQL database goes away under a running server (its connections cut, new ones
/// refused) and comes back: readiness says so while it lasts, and afterwards the server serves and
/// its jobs go on by themselves — a document delivered during the outage is imported once.
#[test]
fn the_server_outlives_its_database_going_away() {
    let env = Env::new(Backend::Postgres);
    let url = env.database.clone().unwrap();
    let (server_url, name) = url.rsplit_once('/').unwrap();
    let admin = format!("{server_url}/postgres");
    let sql = |statement: String| {
        let admin = admin.clone();
        common::block_on(async move {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .unwrap();
            sqlx::query(&statement).execute(&mut conn).await.unwrap();
        })
    };
    env.run_ok(&["migrate"]);
    env.only_job_every_second(Some("fri-inbox"));
    let (_server, addr, log) = serve_logged(&env);
    wait_for("the server is ready", Duration::from_secs(120), || {
        std::net::TcpStream::connect(&addr).is_ok() && json(&addr, "/api/v1/ready").0 == 200
    });

    // Away: new connections refused, the open ones cut.
    sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"));
    sql(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    ));
    wait_for("readiness says the database is away", Duration::from_secs(60), || {
        let (status, body) = json(&addr, "/api/v1/ready");
        status == 503 && body.to_string().contains("база данных")
    });
    let (status, health) = json(&addr, "/api/v1/health");
    assert_eq!(
        status,
        200,
        "the process itself is alive: {health} {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    assert_eq!(health["status"], "degraded", "{health}");
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::copy(common::fri_samples().join("extract_4.xml"), inbox.join("during.xml")).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        inbox.join("during.xml").exists(),
        "nothing taken while the database is away"
    );

    // Back: the server recovers by itself.
    sql(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"));
    wait_for("readiness recovers", Duration::from_secs(60), || {
        json(&addr, "/api/v1/ready").0 == 200
    });
    // A message whose processing the outage cut (a pooled connection found dead) is a transient
    // failure, taken again after its backoff: 60 s for the first. So the wait is longer than that.
    wait_for(
        "the document delivered meanwhile is imported",
        Duration::from_secs(180),
        || env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'") == 1,
    );
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 1);
    assert_eq!(env.ok(&["audit", "verify", "--json"])["ok"], true);
}
