//! Upgrades: a store made by the previous release (tests/fixtures/upgrade/, made by release 0.1.0's
//! own binary: see the README there) is migrated in place by this one on both engines, its register
//! intact; a store a newer release has migrated is refused, unchanged, with the Russian reason and
//! what to do; an applied migration changed since is refused too. And migrations only go forward:
//! every migration file is listed with its SHA-256, the same numbers for both engines, none edited.

mod common;

use common::{workspace_root, Backend, Env, BACKENDS};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The release whose store the fixtures hold.
const PREVIOUS: &str = "0.1.0";
/// This release.
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn fixtures() -> PathBuf {
    workspace_root().join("tests/fixtures/upgrade")
}

/// The highest migration of this release.
fn latest() -> i64 {
    std::fs::read_dir(workspace_root().join("migrations/sqlite"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.split('_').next()?.parse().ok())
        .max()
        .unwrap()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

/// The numeric parts of a version, for comparing releases.
fn release(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|p| p.parse().expect("a numeric version"))
        .collect()
}

/// A released migration is never edited: a change to the schema is a new migration (the next
/// number, for both engines). Stores of a release have applied its migrations and keep their
/// checksums; an edited one would be refused by every store made before the edit. The list gives
/// each migration under the release that ships it: those of releases before this one are frozen;
/// those of the release in the making may still change until it is made (its line then follows).
#[test]
fn migrations_only_go_forward() {
    let list = std::fs::read_to_string(fixtures().join("migrations.sha256")).unwrap();
    let mut listed = BTreeMap::new();
    let mut section = None;
    for line in list.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(version) = line.strip_prefix("# release ") {
            section = Some(version.trim().to_string());
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        let (hash, path) = line.split_once("  ").unwrap_or_else(|| panic!("«HASH  PATH»: {line}"));
        let shipped = section
            .clone()
            .unwrap_or_else(|| panic!("{path}: listed before any «# release X.Y.Z»"));
        listed.insert(path.to_string(), (hash.to_string(), shipped));
    }
    let mut names: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for engine in ["sqlite", "postgres"] {
        let dir = workspace_root().join("migrations").join(engine);
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sql"))
            .collect();
        files.sort();
        for file in &files {
            let path = format!("migrations/{engine}/{file}");
            let (hash, shipped) = listed.get(&path).unwrap_or_else(|| {
                panic!(
                    "{path} is not in tests/fixtures/upgrade/migrations.sha256: a new migration gets its line \
                     there (sha256sum {path}), under the release that ships it («# release {VERSION}»)"
                )
            });
            assert!(
                release(shipped) <= release(VERSION),
                "{path} is listed under release {shipped}, after this one ({VERSION})"
            );
            if release(shipped) < release(VERSION) {
                assert_eq!(
                    *hash,
                    sha256(&dir.join(file)),
                    "{path} was edited after release {shipped} shipped it: a released migration is never edited \
                     — put the change in a new migration with the next number, for both engines"
                );
            }
        }
        names.insert(engine, files);
    }
    assert_eq!(
        names["sqlite"], names["postgres"],
        "every migration exists for both engines, with the same number and name"
    );
    for path in listed.keys() {
        assert!(
            workspace_root().join(path).is_file(),
            "{path} is listed but gone: a released migration is never removed"
        );
    }
    for (path, (_, shipped)) in &listed {
        let number: u32 = path.rsplit('/').next().unwrap()[..4].parse().unwrap();
        if number <= 23 {
            assert_eq!(shipped, PREVIOUS, "{path} shipped with release {PREVIOUS}: frozen");
        }
    }
}

/// The newest PostgreSQL client program of Debian's installation.
fn pg_program(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found
        .pop()
        .unwrap_or_else(|| panic!("{name} not found under /usr/lib/postgresql"))
}

/// Puts the previous release's store into the environment's database.
fn load_previous_release(env: &Env) {
    match env.backend {
        Backend::Sqlite => {
            let sql = std::fs::read_to_string(fixtures().join(format!("ipra-{PREVIOUS}.sqlite.sql"))).unwrap();
            std::fs::create_dir_all(env.data_dir()).unwrap();
            let url = format!("sqlite://{}?mode=rwc", env.data_dir().join("ipra.sqlite").display());
            common::block_on(async move {
                sqlx::any::install_default_drivers();
                let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
                sqlx::raw_sql(&sql)
                    .execute(&mut conn)
                    .await
                    .expect("the SQLite fixture loads");
            });
        }
        Backend::Postgres => {
            let out = std::process::Command::new(pg_program("psql"))
                .args(["-q", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(env.database.as_deref().unwrap())
                .arg("-f")
                .arg(fixtures().join(format!("ipra-{PREVIOUS}.postgres.sql")))
                .output()
                .expect("psql");
            assert!(
                out.status.success(),
                "the PostgreSQL fixture loads: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// What must come through an upgrade, and what a refused start must not touch.
fn register(env: &Env) -> BTreeMap<&'static str, i64> {
    [
        "persons",
        "ipras",
        "measures",
        "execution_records",
        "reports",
        "source_documents",
        "organisations",
        "users",
        "audit_log",
        "import_runs",
        "jobs",
    ]
    .into_iter()
    .map(|table| (table, env.scalar(&format!("SELECT COUNT(*) FROM {table}"))))
    .collect()
}

/// Every migration the store records (number, checksum) and every release that opened it.
fn history(env: &Env) -> (Vec<String>, Vec<String>) {
    let checksum = match env.backend {
        Backend::Sqlite => "hex(checksum)",
        Backend::Postgres => "upper(encode(checksum, 'hex'))",
    };
    (
        env.texts(&format!(
            "SELECT CAST(version AS TEXT) || ' ' || {checksum} FROM _sqlx_migrations ORDER BY version"
        )),
        env.texts("SELECT version || ' ' || first_opened_at || ' ' || instance FROM ipra_releases ORDER BY version"),
    )
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_previous_release_store_is_upgraded_in_place_and_a_newer_one_refused() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        load_previous_release(&env);
        assert_eq!(
            env.scalar("SELECT MAX(version) FROM _sqlx_migrations"),
            23,
            "{backend:?}: 0.1.0's store"
        );
        let before = register(&env);
        assert_eq!(before["ipras"], 30, "{backend:?}: the fixture's register: {before:?}");
        assert!(
            before["measures"] > 100 && before["execution_records"] == 2 && before["reports"] == 1,
            "{before:?}"
        );

        // The status of a store this release has not opened yet: 0024 pending, no release recorded.
        let status = env.ok(&["migrate", "--status", "--json"]);
        assert_eq!(status["pending"][0]["version"], 24, "{backend:?}: {status}");
        assert_eq!(status["applied"].as_array().unwrap().len(), 20, "{status}");
        assert_eq!(status["releases"], serde_json::json!([]), "{status}");

        // The upgrade in place.
        let out = env.run_ok(&["migrate"]);
        assert!(out.contains(&format!("{:04}", latest())), "{out}");
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 24 AND success"),
            1
        );
        assert_eq!(register(&env), before, "{backend:?}: the register came through whole");
        let status = env.ok(&["migrate", "--status", "--json"]);
        assert_eq!(status["pending"], serde_json::json!([]), "{status}");
        assert_eq!(status["unknown"], serde_json::json!([]), "{status}");
        let releases = status["releases"].as_array().unwrap();
        assert_eq!(releases.len(), 1, "{status}");
        assert_eq!(releases[0]["version"], VERSION);
        assert!(releases[0]["instance"].as_str().unwrap().contains(':'), "{status}");
        let text = env.run_ok(&["migrate", "--status"]);
        assert!(text.contains("0024 releases") && text.contains(VERSION), "{text}");

        // The register reads and counts as before.
        let card = env.ok(&["show", "1", "--json"]);
        assert_eq!(card["id"], 1, "{card}");
        let reports = env.ok(&["reports", "list", "--json"]);
        assert_eq!(reports[0]["status"], "awaiting-signature", "{reports}");
        env.run_ok(&["stats", "--verify"]);
        let audit = env.run_ok(&["audit", "verify"]);
        assert!(audit.contains("журнал аудита цел"), "{audit}");
        env.run_ok(&["migrate"]);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM ipra_releases"),
            1,
            "a release is recorded once"
        );

        // A newer release has migrated the store since: this one refuses it, unchanged.
        let (checksum, truth) = match backend {
            Backend::Sqlite => ("X'00'", "1"),
            Backend::Postgres => ("decode('00', 'hex')", "TRUE"),
        };
        env.execute(&format!(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9000, 'measure plans', {truth}, {checksum}, 1)"
        ));
        env.execute("INSERT INTO ipra_releases VALUES ('0.3.0', '2027-03-01T09:00:00Z', 'newer-host:4242')");
        let (state, counts) = (history(&env), register(&env));
        let refused_backup = env.dir.path().join("refused-backup");
        for args in [
            &["migrate"][..],
            &["show", "1"],
            &["backup", refused_backup.to_str().unwrap()],
        ] {
            let out = env.run(args);
            let e = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{backend:?} {args:?} refused: {e}");
            for part in [
                "9000 «measure plans»",
                &format!("ipra {VERSION}"),
                "ipra 0.3.0",
                "newer-host:4242",
                "не поддерживается",
                "база не изменена",
                "установите ipra 0.3.0 или новее",
                "ipra restore",
            ] {
                assert!(e.contains(part), "{backend:?} {args:?}: «{part}» in {e}");
            }
        }
        assert_eq!(
            (history(&env), register(&env)),
            (state, counts),
            "{backend:?}: nothing changed"
        );
        assert!(!refused_backup.exists() && !env.dir.path().join("refused-backup.partial").exists());
        let out = env.run(&["migrate", "--status"]);
        assert_eq!(out.status.code(), Some(1), "the status names the stranger");
        assert!(String::from_utf8_lossy(&out.stdout).contains("9000 measure plans"));

        // An applied migration whose contents differ from this release's file: refused, in Russian.
        env.execute("DELETE FROM _sqlx_migrations WHERE version = 9000");
        let original = history(&env);
        env.execute(match backend {
            Backend::Sqlite => "UPDATE _sqlx_migrations SET checksum = X'0102' WHERE version = 5",
            Backend::Postgres => "UPDATE _sqlx_migrations SET checksum = decode('0102', 'hex') WHERE version = 5",
        });
        let out = env.run(&["migrate"]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{e}");
        assert!(
            e.contains("миграция 0005 «person search»") && e.contains("контрольные суммы не совпадают"),
            "{e}"
        );
        assert!(
            !e.contains("previously applied"),
            "sqlx's English is not what a person reads: {e}"
        );
        assert_ne!(history(&env), original);
    }
}
