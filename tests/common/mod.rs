//! Shared harness of the end-to-end tests: runs the real `ipra` binary on a fresh data directory
//! against SQLite or a real PostgreSQL server that the tests start themselves (as `postgres`).
#![allow(dead_code)]

pub mod browser;
pub mod failover;
pub mod packaging;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The database engine a test runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

impl Backend {
    /// "sqlite" or "postgres", for file names such as screenshots.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The sources of the host's crates (the binary, the store, the web side), from the workspace root:
/// what must never name a connector or a WIT type.
pub const HOST_SOURCE_DIRS: &[&str] = &["host/src", "host/store/src", "host/web/src"];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ is in the workspace")
        .to_path_buf()
}

/// `../shared/formats` beside the project.
pub fn formats() -> PathBuf {
    workspace_root().join("../shared/formats")
}

pub fn fri_samples() -> PathBuf {
    formats().join("fri/samples/yuryzje")
}

/// The date every test runs on (`IPRA_TODAY`): received dates, deadlines and overdue marks, the
/// statistics' months and job schedules then never depend on the day the suite is run.
pub const TODAY: &str = "2026-11-20";

/// A fresh data directory plus the database it uses.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub backend: Backend,
    pub database: Option<String>,
}

impl Env {
    pub fn new(backend: Backend) -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres().create_database()),
        };
        Env { dir, backend, database }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The real binary, pointed at this environment.
    pub fn ipra(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ipra"));
        // The configuration is what the test says, whatever this machine keeps in /etc/ipra.
        cmd.env("IPRA_CONFIG", "none")
            .env("IPRA_DATA_DIR", self.data_dir())
            .env("IPRA_PLUGIN_CACHE", plugin_cache())
            .env("IPRA_LOG", "warn")
            .env("IPRA_TODAY", TODAY)
            .env_remove("IPRA_DATABASE_URL")
            .stdin(Stdio::null());
        if let Some(url) = &self.database {
            cmd.env("IPRA_DATABASE_URL", url);
        }
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.ipra().args(args).output().expect("run ipra")
    }

    /// Runs and parses stdout as JSON; panics with stderr when it is not.
    pub fn run_json(&self, args: &[&str]) -> (i32, serde_json::Value) {
        let out = self.run(args);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not JSON ({e}); stdout: {stdout}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap_or(-1), value)
    }

    /// Runs a SQL statement that changes the database (test fixtures the CLI has no command for).
    pub fn execute(&self, sql: &str) {
        let url = self
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir().join("ipra.sqlite").display()));
        block_on(async move {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("execute");
        })
    }

    /// Runs a SQL query through sqlx and returns the first column of the first row as i64.
    pub fn scalar(&self, sql: &str) -> i64 {
        self.first_value(sql)
    }

    /// Runs a SQL query through sqlx and returns the first column of the first row as text.
    pub fn text(&self, sql: &str) -> String {
        self.first_value(sql)
    }

    /// Runs a SQL query through sqlx and returns the first column of every row as i64.
    pub fn ids(&self, sql: &str) -> Vec<i64> {
        self.rows(sql)
            .iter()
            .map(|r| sqlx::Row::try_get::<i64, _>(r, 0).expect("i64 column"))
            .collect()
    }

    /// Runs a SQL query through sqlx and returns the first column of every row as text.
    pub fn texts(&self, sql: &str) -> Vec<String> {
        self.rows(sql)
            .iter()
            .map(|r| sqlx::Row::try_get::<String, _>(r, 0).expect("text column"))
            .collect()
    }

    fn first_value<T>(&self, sql: &str) -> T
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
    {
        let rows = self.rows(sql);
        let row = rows.first().expect("a row");
        sqlx::Row::try_get::<T, _>(row, 0).expect("a value of the column's type")
    }

    /// The rows of a SQL query, read through sqlx (read-only on SQLite).
    fn rows(&self, sql: &str) -> Vec<sqlx::any::AnyRow> {
        let url = self
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}?mode=ro", self.data_dir().join("ipra.sqlite").display()));
        block_on(async move {
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
                .await
                .expect("connect");
            sqlx::query(sql).fetch_all(&mut conn).await.expect("query")
        })
    }
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Compiled plugins are cached across the tests of a run (they are keyed by hash and engine).
fn plugin_cache() -> PathBuf {
    workspace_root().join("target").join("test-plugin-cache")
}

/// A PostgreSQL server for this test process, started on first use and stopped when it exits.
pub struct Postgres {
    port: u16,
    next_db: Mutex<u32>,
}

pub fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(Postgres::start)
}

fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian package postgresql; .ci/run installs it)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.is_file())
        .collect();
    versions.sort();
    versions
        .pop()
        .unwrap_or_else(|| panic!("{name} of PostgreSQL not found under /usr/lib/postgresql"))
}

fn postgres_ids() -> (u32, u32) {
    let out = Command::new("id").args(["-u", "postgres"]).output().expect("id");
    let uid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("postgres user exists");
    let out = Command::new("id").args(["-g", "postgres"]).output().expect("id");
    let gid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("postgres group exists");
    (uid, gid)
}

/// A command run as the `postgres` user (PostgreSQL refuses to run as root).
fn as_postgres(program: &Path, parent_death_signal: Option<i32>) -> Command {
    let (uid, gid) = postgres_ids();
    let mut cmd = Command::new(program);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0 || libc::setgid(gid) != 0 || libc::setuid(uid) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Set after the uid change (which would clear it): the server dies with the test process.
            if let Some(signal) = parent_death_signal {
                libc::prctl(libc::PR_SET_PDEATHSIG, signal);
            }
            Ok(())
        });
    }
    cmd
}

/// Folders of servers whose test process is gone (the server died with it).
fn remove_stale_servers() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("ipra-test-pg-") {
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

impl Postgres {
    fn start() -> Postgres {
        remove_stale_servers();
        let root = std::env::temp_dir().join(format!("ipra-test-pg-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let data = root.join("data");
        let socket = root.join("socket");
        std::fs::create_dir_all(&socket).expect("pg dirs");
        let chown = |p: &Path| {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(p)
                .status()
                .expect("chown");
            assert!(status.success(), "chown {}", p.display());
        };
        chown(&root);
        let out = as_postgres(&pg_bin("initdb"), None)
            .args(["-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();

        // Started from a thread that never ends: the parent-death signal follows the thread.
        let (tx, rx) = std::sync::mpsc::channel();
        let postgres = pg_bin("postgres");
        std::thread::spawn(move || {
            let log = std::fs::File::create(root.join("postgres.log")).expect("pg log");
            let child = as_postgres(&postgres, Some(libc::SIGINT))
                .arg("-D")
                .arg(&data)
                .args([
                    "-p",
                    &port.to_string(),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                ])
                .args([
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ])
                .arg("-k")
                .arg(&socket)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn();
            let _ = tx.send(child.map(|c| c.id()));
            loop {
                std::thread::park();
            }
        });
        rx.recv().expect("pg thread").expect("start postgres");
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        loop {
            let ok = block_on(async {
                sqlx::any::install_default_drivers();
                <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.is_ok()
            });
            if ok {
                break;
            }
            assert!(Instant::now() < deadline, "PostgreSQL did not start in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Postgres {
            port,
            next_db: Mutex::new(0),
        }
    }

    /// A new empty database on this server; returns its URL.
    pub fn create_database(&self) -> String {
        let name = {
            let mut n = self.next_db.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            format!("ipra_test_{}_{}", std::process::id(), *n)
        };
        let admin = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        block_on(async {
            use sqlx::Executor;
            sqlx::any::install_default_drivers();
            let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin)
                .await
                .expect("connect admin");
            conn.execute(format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create database");
        });
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

/// The official `FATALRequest` 4.0.6 sample, rewritten to be about the person of the FRI sample
/// `extract_4.xml` (no SNILS: matched by name and birth date).
pub fn fatal_request_about_her() -> String {
    std::fs::read_to_string(formats().join("zags/fatal-4.0.6/request.sample.xml"))
        .expect("the ZAGS sample")
        .replace(">Тестов<", ">Погодина<")
        .replace(">Иван<", ">Валентина<")
        .replace(">Тестович<", ">Ивановна<")
        .replace("1954-02-15", "1957-05-15")
}

/// A valid 13-digit OGRN from a 12-digit base (check digit = base mod 11 mod 10).
pub fn ogrn(base: u64) -> String {
    format!("{base:012}{}", (base % 11) % 10)
}

pub const SECTIONS: [&str; 6] = ["health", "employment", "education", "social-protection", "sport", "tsr"];

impl Env {
    /// Runs a command that must succeed; returns its stdout.
    pub fn run_ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs a `--json` command that must succeed; returns its JSON.
    pub fn ok(&self, args: &[&str]) -> serde_json::Value {
        let (code, value) = self.run_json(args);
        assert_eq!(code, 0, "{args:?}: {value}");
        value
    }

    /// The status of every death record in the register of deaths (`ipra exchange deaths`), in its
    /// order.
    pub fn death_statuses(&self) -> Vec<String> {
        let deaths = self.ok(&["exchange", "deaths", "--json"]);
        deaths
            .as_array()
            .unwrap_or_else(|| panic!("a list: {deaths}"))
            .iter()
            .map(|d| {
                d["status"]
                    .as_str()
                    .unwrap_or_else(|| panic!("a status: {d}"))
                    .to_string()
            })
            .collect()
    }

    /// One executor per department with region-wide rules, plus the reporting regional body
    /// (key `region`).
    pub fn directory(&self) -> std::collections::BTreeMap<&'static str, String> {
        let mut by_section = std::collections::BTreeMap::new();
        for (n, section) in SECTIONS.iter().enumerate() {
            let o = ogrn(102_770_013_200 + n as u64);
            self.run_ok(&[
                "orgs",
                "add",
                "--ogrn",
                &o,
                "--name",
                &format!("Исполнитель {section}"),
                "--department",
                section,
            ]);
            self.run_ok(&["routing", "set", "--section", section, "--ogrn", &o]);
            by_section.insert(*section, o);
        }
        let region = ogrn(102_770_013_299);
        self.run_ok(&[
            "orgs",
            "add",
            "--ogrn",
            &region,
            "--name",
            "Министерство социальной политики",
            "--department",
            "region",
        ]);
        by_section.insert("region", region);
        by_section
    }

    /// `ipra reports assemble` of IPRA `ipra` by `reporter`: the new report's id.
    pub fn assemble(&self, ipra: i64, reporter: &str) -> i64 {
        self.ok(&[
            "reports",
            "assemble",
            "--ipra",
            &ipra.to_string(),
            "--reporter",
            reporter,
            "--json",
        ])["result"]
            .as_i64()
            .expect("the report's id")
    }

    /// Two demo extracts of one person, the later superseding the earlier (`ipra demo --seed 5`).
    pub fn superseding_pair(&self) -> (PathBuf, PathBuf) {
        let out = self.dir.path().join("demo");
        self.run_ok(&["demo", "--count", "80", "--seed", "5", "--out", out.to_str().unwrap()]);
        let mut files: Vec<_> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
        files.sort();
        // Files are named INDEX_SNILS_VERSION.xml; the later file of a SNILS supersedes the earlier.
        let snils_of = |p: &Path| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .split('_')
                .nth(1)
                .unwrap()
                .to_string()
        };
        files
            .iter()
            .enumerate()
            .find_map(|(i, f)| {
                files[i + 1..]
                    .iter()
                    .find(|g| snils_of(g) == snils_of(f))
                    .map(|g| (f.clone(), g.clone()))
            })
            .expect("the demo has a superseding IPRA")
    }

    /// Imports a sample, records one executed measure and assembles the report; returns (IPRA id, report id).
    pub fn reported_ipra(&self, sample: &str, orgs: &std::collections::BTreeMap<&'static str, String>) -> (i64, i64) {
        let path = fri_samples().join(sample);
        self.ok(&["import", path.to_str().unwrap(), "--json"]);
        let ipra = self.scalar("SELECT MAX(id) FROM ipras");
        let measures = self.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
        let m = measures
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["section"] == "social-protection" || m["section"] == "health")
            .expect("a measure")
            .clone();
        let section = m["section"].as_str().unwrap();
        let card = self.ok(&["show", &ipra.to_string(), "--json"]);
        let date = card["decision_date"].as_str().unwrap().to_string();
        self.add_execution(
            ipra,
            &m,
            &orgs[section],
            &["--result", "executed", "--date", &date, "--ready"],
        );
        (ipra, self.assemble(ipra, &orgs["region"]))
    }
}

/// Generates a GOST R 34.10-2012 key and a self-signed certificate with the openssl binary.
/// The jobs every installation starts with.
pub const DEFAULT_JOBS: [&str; 9] = [
    "fri-inbox",
    "fri-outbox",
    "zags-inbox",
    "zags-check",
    "egisso-upload",
    "mse-inbox",
    "mse-outbox",
    "mse-status",
    "deadline-check",
];

/// A free loopback address for a server to listen on.
pub fn free_addr() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .expect("free port")
        .local_addr()
        .expect("addr")
        .port();
    format!("127.0.0.1:{port}")
}

/// The arguments of `ipra executions add` for measure `m` (as `measures list` gives it) of IPRA
/// `ipra`, executed by organisation `org`; the result and what goes with it follow.
pub fn execution_args(ipra: i64, m: &serde_json::Value, org: &str) -> Vec<String> {
    [
        "executions",
        "add",
        "--ipra",
        &ipra.to_string(),
        "--measure",
        &m["id"].to_string(),
        "--section",
        m["section"].as_str().expect("section"),
        "--org",
        org,
        "--executor",
        org,
        "--name",
        m["name"].as_str().expect("name"),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

impl Env {
    /// `ipra executions add … MORE --json` for measure `m` of IPRA `ipra` by organisation `org`.
    pub fn add_execution(&self, ipra: i64, m: &serde_json::Value, org: &str, more: &[&str]) -> serde_json::Value {
        let mut args = execution_args(ipra, m, org);
        args.extend(more.iter().map(|a| a.to_string()));
        args.push("--json".into());
        self.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// The demo directory, another health organisation (the stranger), and a user of each role with
    /// `password`: `admin`, `coord`, `audit`, `health` (an executor of the directory's health
    /// organisation) and `other` (an executor of the stranger). Returns the directory and the
    /// stranger's OGRN.
    pub fn five_roles(&self, password: &str) -> (std::collections::BTreeMap<&'static str, String>, String) {
        let orgs = self.directory();
        let stranger = ogrn(102_770_013_277);
        self.run_ok(&[
            "orgs",
            "add",
            "--ogrn",
            &stranger,
            "--name",
            "Другая больница",
            "--department",
            "health",
        ]);
        for (login, role, ogrn) in [
            ("admin", "administrator", None),
            ("coord", "coordinator", None),
            ("audit", "auditor", None),
            ("health", "executor", Some(orgs["health"].as_str())),
            ("other", "executor", Some(stranger.as_str())),
        ] {
            self.add_user(login, role, ogrn, password);
        }
        (orgs, stranger)
    }

    /// Of the default jobs only `job` runs by schedule, every second; none when `None`.
    pub fn only_job_every_second(&self, job: Option<&str>) {
        for name in DEFAULT_JOBS {
            if Some(name) == job {
                self.run_ok(&["jobs", "set", name, "--schedule", "* * * * * *"]);
            } else {
                self.run_ok(&["jobs", "set", name, "--enabled", "false"]);
            }
        }
    }

    /// Signs every report awaiting signature with a GOST key of `reporter` (made once per
    /// installation) and sends them through the FRI outbox job: a measure's result counts from then.
    pub fn sign_and_send(&self, reporter: &str) {
        if !self.data_dir().join("signing.toml").exists() {
            let (key, cert) = gost_key(self.dir.path(), "reporter");
            self.write_signing_config(reporter, &key, &cert);
        }
        for id in self.ids("SELECT id FROM reports WHERE status = 'awaiting-signature' ORDER BY id") {
            self.ok(&["sign", "report", &id.to_string(), "--json"]);
        }
        let run = self.ok(&["jobs", "run", "fri-outbox", "--json"]);
        assert_eq!(run["status"], "succeeded", "{run}");
    }

    /// Signs the reports of organisation `ogrn` with a GOST key of [`gost_key`].
    pub fn write_signing_config(&self, ogrn: &str, key: &Path, cert: &Path) {
        std::fs::create_dir_all(self.data_dir()).unwrap();
        std::fs::write(
            self.data_dir().join("signing.toml"),
            format!(
                "[organisations.\"{ogrn}\"]\nprovider = \"gost\"\nkey = \"{}\"\ncertificate = \"{}\"\n",
                key.display(),
                cert.display()
            ),
        )
        .unwrap();
    }
}

pub fn gost_key(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key.pem"));
    let cert = dir.join(format!("{name}.cert.pem"));
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "genpkey",
        "-engine",
        "gost",
        "-algorithm",
        "gost2012_256",
        "-pkeyopt",
        "paramset:A",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "req",
        "-new",
        "-x509",
        "-engine",
        "gost",
        "-md_gost12_256",
        "-key",
        key.to_str().unwrap(),
        "-out",
        cert.to_str().unwrap(),
        "-days",
        "365",
        "-subj",
        &format!("/CN={name}/O=IPRA test"),
    ]);
    (key, cert)
}

/// A detached GOST R 34.10-2012 signature (CMS, DER) of the file `data`, written to `out`, with a
/// key and certificate of [`gost_key`], as a signer's own tool makes it.
pub fn gost_sign(data: &Path, key: &Path, cert: &Path, out: &Path) {
    let status = Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-engine",
            "gost",
            "-binary",
            "-outform",
            "DER",
            "-md",
            "md_gost12_256",
        ])
        .arg("-signer")
        .arg(cert)
        .arg("-inkey")
        .arg(key)
        .arg("-in")
        .arg(data)
        .arg("-out")
        .arg(out)
        .output()
        .expect("openssl");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
}

impl Env {
    /// Adds a user through the CLI (the password goes through standard input).
    pub fn add_user(&self, login: &str, role: &str, ogrn: Option<&str>, password: &str) {
        use std::io::Write;
        let mut args = vec!["users", "add", login, "--name", login, "--role", role];
        if let Some(ogrn) = ogrn {
            args.extend(["--ogrn", ogrn]);
        }
        let mut child = self
            .ipra()
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ipra");
        writeln!(child.stdin.take().expect("stdin"), "{password}").expect("password");
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "users add {login}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A running `ipra serve` on a free loopback port, stopped when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Env {
    pub fn serve(&self, extra: &[&str]) -> Server {
        use std::io::BufRead;
        let mut child = self
            .ipra()
            .args(["serve", "--listen", "127.0.0.1:0", "--no-scheduler"])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("ipra serve");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("first line");
        let addr = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_string();
        Server { child, addr }
    }
}

/// An HTTP response as the tests read it.
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        let start = self
            .body
            .find(['{', '['])
            .unwrap_or_else(|| panic!("no JSON in {}", self.body));
        let end = self.body.rfind(['}', ']']).unwrap_or(self.body.len() - 1);
        serde_json::from_str(&self.body[start..=end]).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn cookie(&self) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let l = l
                .strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))?;
            Some(l.split(';').next()?.to_string())
        })
    }
}

/// A plain HTTP/1.1 request over loopback (no client library: what is sent is what the test says).
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    request.push_str("\r\n");
    if let Some(body) = body {
        request.push_str(body);
    }
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    // Chunked bodies: keep only the chunk payloads.
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 || tail.len() < n {
                break;
            }
            out.push_str(&tail[..n]);
            rest = tail[n..].trim_start_matches("\r\n");
        }
        out
    } else {
        body.to_string()
    };
    Response {
        status,
        headers: head.to_string(),
        body,
    }
}

/// Logs in through the API; returns the cookie header value and the CSRF token.
pub fn login(addr: &str, login: &str, password: &str) -> (String, String) {
    let response = http(
        addr,
        "POST",
        "/api/v1/session",
        &[],
        Some(&format!("{{\"login\":\"{login}\",\"password\":\"{password}\"}}")),
    );
    assert_eq!(response.status, 200, "login {login}: {}", response.body);
    let cookie = response.cookie().expect("session cookie");
    let csrf = response.json()["csrf_token"].as_str().expect("csrf").to_string();
    (cookie, csrf)
}

/// Percent-encodes a query value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One record of a target-group category, as the FRI writes records (code/name pairs).
fn target_group_record(key: &str, code: &str, name: &str) -> String {
    let attribute = |code: &str, name: &str, value: &str| {
        format!(
            "<fri:Атрибут><fri:Код>{code}</fri:Код><fri:Наименование>{name}</fri:Наименование>\
             <fri:ТипДанных>STRING</fri:ТипДанных><fri:Значение>{value}</fri:Значение></fri:Атрибут>"
        )
    };
    format!(
        "<fri:Запись><fri:ИдентификаторОбъекта>9{key}</fri:ИдентификаторОбъекта><fri:Ключ>TRG.{key}</fri:Ключ>\
         <fri:Родитель></fri:Родитель><fri:Категория><fri:Код>MSE.IPRA.TRG</fri:Код>\
         <fri:Наименование>Целевая реабилитационная группа</fri:Наименование></fri:Категория><fri:ВсеАтрибуты>{}{}</fri:ВсеАтрибуты></fri:Запись>",
        attribute("TargetRehabGroupCode", "Код ЦРГ", code),
        attribute("TargetRehabGroupName", "Наименование ЦРГ", name),
    )
}

/// The 2022 sample with what the newer forms add: two target rehabilitation groups and the need for
/// early help (no public sample carries them yet).
pub fn extract_with_target_groups(dir: &Path) -> PathBuf {
    let sample = std::fs::read_to_string(fri_samples().join("11350102278_IPRA_20221024.xml")).unwrap();
    let early = "<fri:Запись><fri:ИдентификаторОбъекта>9100</fri:ИдентификаторОбъекта><fri:Ключ>EARLY.1</fri:Ключ>\
                 <fri:Родитель></fri:Родитель><fri:Категория><fri:Код>MSE.IPRA.EARLYHELP</fri:Код>\
                 <fri:Наименование>Ранняя помощь</fri:Наименование></fri:Категория><fri:ВсеАтрибуты>\
                 <fri:Атрибут><fri:Код>IsNeeded</fri:Код><fri:Наименование>Нуждается</fri:Наименование>\
                 <fri:ТипДанных>BOOLEAN</fri:ТипДанных><fri:Значение>true</fri:Значение></fri:Атрибут></fri:ВсеАтрибуты></fri:Запись>";
    let added = format!(
        "{}{}{early}</fri:ВсеСведения>",
        target_group_record("1", "ЦРГ 3", "Нарушение функций опорно-двигательного аппарата"),
        target_group_record("2", "ЦРГ 12", "Нарушение функций слуха"),
    );
    let text = sample.replacen("</fri:ВсеСведения>", &added, 1);
    let path = dir.join("ipra-2024-target-groups.xml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Asserts that `document` is valid against the XSD `schema`, as xmllint (a validator nobody on the
/// team wrote) reads them.
pub fn assert_valid_xml(document: &Path, schema: &Path) {
    let out = Command::new("xmllint")
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

/// The names of the files in `dir` (none when it does not exist), sorted.
pub fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
