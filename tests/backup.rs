//! Backups and restores with the real binary: a backup taken on SQLite in the middle of a large
//! import restores a register where every extract is whole, nothing committed before the backup
//! is missing, no import run is left half-written and the audit log verifies; keys stay out unless
//! asked for; a damaged backup, one of a newer release, a data directory in the way are refused
//! naming what is wrong; on PostgreSQL, pg_dump and pg_restore carry a register into a second
//! database.

mod common;

use common::{Backend, Env};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The highest migration of this release.
fn common_latest() -> i64 {
    std::fs::read_dir(common::workspace_root().join("migrations/sqlite"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.split('_').next()?.parse().ok())
        .max()
        .unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a data directory holds besides the database: configuration, the trust list, a file
/// waiting in an exchange inbox, a compiled-plugin cache, and keys — a demo key, a key in `keys/`,
/// and one named only by `signing.toml`.
fn lay_out_files(data: &Path) {
    let write = |rel: &str, text: &str| {
        let path = data.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("demo-signing/demo.key.pem", "-----BEGIN PRIVATE KEY-----\ndemo\n");
    write("demo-signing/demo.cert.pem", "-----BEGIN CERTIFICATE-----\ndemo\n");
    write("keys/minsoc.key.pem", "-----BEGIN PRIVATE KEY-----\nminsoc\n");
    write(
        "signing/gost-2026.pem",
        "-----BEGIN PRIVATE KEY-----\nnamed by signing.toml\n",
    );
    write(
        "signing.toml",
        &format!(
            "[organisations.\"1027700132998\"]\nprovider = \"gost\"\nkey = \"{}\"\ncertificate = \"{}\"\n",
            data.join("signing/gost-2026.pem").display(),
            data.join("demo-signing/demo.cert.pem").display()
        ),
    );
    write("plugin-trust.toml", "# no vendors trusted yet\n");
    write("exchange/fri/inbox/waiting.xml", "<waiting/>");
    write("cache/plugins/compiled.bin", "scratch");
}

fn exists(data: &Path, rel: &str) -> bool {
    data.join(rel).exists()
}

/// Measures per IPRA: `id → count`.
fn measures_by_ipra(env: &Env) -> BTreeMap<i64, i64> {
    env.texts(
        "SELECT CAST(i.id AS TEXT) || ':' || CAST((SELECT COUNT(*) FROM measures m WHERE m.ipra_id = i.id) AS TEXT) \
         FROM ipras i",
    )
    .iter()
    .map(|row| {
        let (id, n) = row.split_once(':').unwrap();
        (id.parse().unwrap(), n.parse().unwrap())
    })
    .collect()
}

fn manifest(dir: &Path) -> toml::Value {
    toml::from_str(&std::fs::read_to_string(dir.join("backup.toml")).unwrap()).unwrap()
}

fn backed_up_paths(dir: &Path) -> Vec<String> {
    manifest(dir)["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_backup_taken_during_an_import_restores_a_whole_register() {
    let env = Env::new(Backend::Sqlite);
    let data = env.data_dir();
    let extracts = env.dir.path().join("extracts");
    env.run_ok(&[
        "demo",
        "--out",
        extracts.to_str().unwrap(),
        "--count",
        "3000",
        "--seed",
        "3",
    ]);
    // A first run with files the import refuses: they are quarantined, named by the run's outcomes.
    let broken = env.dir.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for n in 0..3 {
        std::fs::write(broken.join(format!("broken-{n}.xml")), format!("<не выписка {n}")).unwrap();
    }
    let out = env.run(&["import", broken.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "refused: {}", stdout(&out));
    // Audited changes, sealed and anchored outside the database.
    env.directory();
    env.run_ok(&["audit", "verify"]);
    lay_out_files(&data);

    let mut import = env
        .ipra()
        .args(["import", extracts.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ipra import");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if env.scalar("SELECT COUNT(*) FROM ipras") >= 100 {
            break;
        }
        assert!(
            import.try_wait().unwrap().is_none(),
            "the import ended before the backup"
        );
        assert!(Instant::now() < deadline, "the import stored nothing in two minutes");
        std::thread::sleep(Duration::from_millis(20));
    }
    let committed = env.scalar("SELECT COUNT(*) FROM ipras");
    let backup = env.dir.path().join("backups").join("monday");
    let out = env.run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "backup: {}", stderr(&out));
    let still_importing = import.try_wait().unwrap().is_none();
    let status = import.wait().unwrap();
    assert!(status.success(), "the import went on and finished: {status}");
    assert!(still_importing, "the backup was taken in the middle of the import");
    let total = env.scalar("SELECT COUNT(*) FROM ipras");

    // The backup: complete, its inventory true, keys left out and said so.
    assert!(!backup.with_file_name("monday.partial").exists());
    let text = stdout(&out);
    assert!(text.contains("не включено: demo-signing/"), "{text}");
    let inventory = manifest(&backup);
    assert_eq!(inventory["ipra_version"].as_str(), Some(VERSION));
    assert_eq!(inventory["engine"].as_str(), Some("sqlite"));
    assert_eq!(inventory["migration"].as_integer(), Some(common_latest()));
    assert_eq!(inventory["with_keys"].as_bool(), Some(false));
    let paths = backed_up_paths(&backup);
    assert_eq!(paths[0], "ipra.sqlite", "the database first");
    for present in [
        "audit/anchors.log",
        "signing.toml",
        "plugin-trust.toml",
        "exchange/fri/inbox/waiting.xml",
    ] {
        assert!(paths.iter().any(|p| p == present), "{present} in {paths:?}");
    }
    for absent in [
        "demo-signing/",
        "keys/",
        "signing/gost-2026.pem",
        "cache/",
        "ipra.sqlite-wal",
    ] {
        assert!(
            !paths.iter().any(|p| p.starts_with(absent)),
            "{absent} not in {paths:?}"
        );
    }
    assert!(
        paths.iter().any(|p| p.starts_with("quarantine/run1-broken-")),
        "{paths:?}"
    );
    let excluded: Vec<&str> = inventory["excluded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    for key in ["demo-signing/", "keys/", "signing/gost-2026.pem"] {
        assert!(excluded.contains(&key), "{key} listed as left out: {excluded:?}");
    }

    // Restored into a fresh data directory.
    let restored = Env::new(Backend::Sqlite);
    let out = restored.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "restore: {}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("integrity_check: ok"), "{text}");
    assert!(text.contains("закрыто как прерванные: 1"), "{text}");
    let count = restored.scalar("SELECT COUNT(*) FROM ipras");
    assert!(
        committed <= count && count < total,
        "everything committed before the backup ({committed}) and not what came after ({total}): {count}"
    );
    // Every extract whole: its measures all there, as the finished import stored the same file.
    let whole = measures_by_ipra(&env);
    let back = measures_by_ipra(&restored);
    assert_eq!(back.len() as i64, count);
    for (id, n) in &back {
        assert_eq!(Some(n), whole.get(id), "IPRA {id}: its measures, as in its source file");
        assert!(*n > 0, "IPRA {id} has measures");
    }
    assert_eq!(
        restored.scalar(
            "SELECT COUNT(*) FROM ipras i WHERE NOT EXISTS \
             (SELECT 1 FROM source_documents s WHERE s.id = i.source_document_id)"
        ),
        0,
        "every IPRA's source document is there"
    );
    // No import run left under way; what the runs name is there.
    assert_eq!(
        restored.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'running'"),
        0
    );
    assert_eq!(
        restored.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'interrupted'"),
        1
    );
    assert_eq!(
        restored.scalar(
            "SELECT COUNT(*) FROM import_outcomes o WHERE o.ipra_id IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM ipras i WHERE i.id = o.ipra_id)"
        ),
        0,
        "every outcome's IPRA is there"
    );
    let rejected = restored
        .texts("SELECT DISTINCT CAST(run_id AS TEXT) || '|' || file FROM import_outcomes WHERE outcome = 'rejected'");
    assert_eq!(rejected.len(), 3, "{rejected:?}");
    let back_data = restored.data_dir();
    for row in &rejected {
        let (run, file) = row.split_once('|').unwrap();
        let name = Path::new(file).file_name().unwrap().to_string_lossy();
        assert!(
            exists(&back_data, &format!("quarantine/run{run}-{name}")),
            "the quarantined copy of {file}"
        );
    }
    for present in [
        "signing.toml",
        "plugin-trust.toml",
        "exchange/fri/inbox/waiting.xml",
        "audit/anchors.log",
    ] {
        assert!(exists(&back_data, present), "{present} restored");
    }
    for absent in ["demo-signing", "keys", "signing/gost-2026.pem", "cache", "backup.toml"] {
        assert!(!exists(&back_data, absent), "{absent} not restored");
    }
    let audit = restored.run_ok(&["audit", "verify"]);
    assert!(audit.contains("журнал аудита цел"), "{audit}");
    restored.run_ok(&["stats", "--verify"]);
    // The rest of the import, run again on the restore, completes it.
    restored.run_ok(&["import", extracts.to_str().unwrap()]);
    assert_eq!(restored.scalar("SELECT COUNT(*) FROM ipras"), total);
}

#[test]
fn keys_only_when_asked_and_a_wrong_backup_is_refused_naming_what_is_wrong() {
    let env = Env::new(Backend::Sqlite);
    env.run_ok(&["demo", "--count", "20", "--seed", "2"]);
    lay_out_files(&env.data_dir());
    let backups = env.dir.path().join("backups");

    // With the keys.
    let with_keys = backups.join("with-keys");
    env.run_ok(&["backup", with_keys.to_str().unwrap(), "--with-keys"]);
    let paths = backed_up_paths(&with_keys);
    for key in [
        "demo-signing/demo.key.pem",
        "keys/minsoc.key.pem",
        "signing/gost-2026.pem",
    ] {
        assert!(paths.iter().any(|p| p == key), "{key} in {paths:?}");
    }
    assert_eq!(manifest(&with_keys)["with_keys"].as_bool(), Some(true));
    let restored = Env::new(Backend::Sqlite);
    restored.run_ok(&["restore", with_keys.to_str().unwrap()]);
    assert!(exists(&restored.data_dir(), "keys/minsoc.key.pem"));

    // Never over an existing backup; a backup left half-written is replaced.
    let plain = backups.join("plain");
    std::fs::create_dir_all(backups.join("plain.partial/audit")).unwrap();
    std::fs::write(backups.join("plain.partial/ipra.sqlite"), "half").unwrap();
    env.run_ok(&["backup", plain.to_str().unwrap()]);
    assert!(!backups.join("plain.partial").exists());
    let out = env.run(&["backup", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("уже существует"), "{}", stderr(&out));
    assert!(!backed_up_paths(&plain).iter().any(|p| p.contains("key")));

    // A damaged file, a missing one, a newer release's backup: refused, nothing restored.
    let copy = |name: &str| -> PathBuf {
        let dir = backups.join(name);
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(&plain)
            .arg(&dir)
            .status()
            .unwrap();
        assert!(status.success());
        dir
    };
    let damaged = copy("damaged-config");
    std::fs::write(damaged.join("signing.toml"), "[organisations]\n").unwrap();
    let damaged_db = copy("damaged-database");
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(damaged_db.join("ipra.sqlite"))
            .unwrap();
        f.seek(SeekFrom::Start(40_000)).unwrap();
        f.write_all(b"\xde\xad\xbe\xef").unwrap();
    }
    let missing = copy("missing");
    std::fs::remove_file(missing.join("plugin-trust.toml")).unwrap();
    let newer = copy("newer");
    let mut inventory = manifest(&newer);
    inventory["ipra_version"] = "0.9.0".into();
    inventory["migration"] = 9031.into();
    inventory["migrations"].as_array_mut().unwrap().push(9031.into());
    std::fs::write(newer.join("backup.toml"), toml::to_string(&inventory).unwrap()).unwrap();
    // A database whose pages are broken although the inventory matches it (rewritten to): the
    // database's own check refuses it.
    let broken_pages = copy("broken-pages");
    {
        use sha2::Digest;
        use std::io::{Read, Seek, SeekFrom, Write};
        let path = broken_pages.join("ipra.sqlite");
        let mut f = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let mut header = [0u8; 18];
        f.read_exact(&mut header).unwrap();
        let page = u64::from(u16::from_be_bytes([header[16], header[17]]));
        for n in 2..6 {
            f.seek(SeekFrom::Start(page * n)).unwrap();
            f.write_all(&[0xff; 12]).unwrap();
        }
        drop(f);
        let mut inventory = manifest(&broken_pages);
        let file = &mut inventory["files"].as_array_mut().unwrap()[0];
        let bytes = std::fs::read(&path).unwrap();
        file["sha256"] = hex::encode(sha2::Sha256::digest(&bytes)).into();
        file["size"] = (bytes.len() as i64).into();
        std::fs::write(broken_pages.join("backup.toml"), toml::to_string(&inventory).unwrap()).unwrap();
    }
    for (dir, expected) in [
        (&damaged, &["signing.toml", "повреждён", "SHA-256"][..]),
        (&damaged_db, &["ipra.sqlite", "повреждён"]),
        (&missing, &["plugin-trust.toml", "нет файла"]),
        (&broken_pages, &["ipra.sqlite", "integrity_check"]),
        (
            &newer,
            &[
                "ipra 0.9.0",
                "9031",
                &format!("ipra {VERSION}"),
                "не поддерживается",
                "ipra 0.9.0 или новее",
            ],
        ),
    ] {
        let target = Env::new(Backend::Sqlite);
        let out = target.run(&["restore", dir.to_str().unwrap()]);
        let e = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{dir:?}: {e}");
        for part in expected {
            assert!(e.contains(part), "{dir:?}: «{part}» in {e}");
        }
        assert!(!target.data_dir().exists(), "{dir:?}: nothing restored");
        assert!(
            !target.dir.path().join("data.restoring").exists(),
            "{dir:?}: no staging left"
        );
    }

    // A data directory in the way: refused, then moved aside with --force.
    let out = env.run(&["restore", plain.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("не пуст") && stderr(&out).contains("--force"),
        "{}",
        stderr(&out)
    );
    let backed_up = env.scalar("SELECT COUNT(*) FROM ipras");
    env.run_ok(&["import", common::fri_samples().join("extract_4.xml").to_str().unwrap()]);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), backed_up + 1);
    let out = env.run_ok(&["restore", plain.to_str().unwrap(), "--force"]);
    assert!(out.contains("отодвинуто"), "{out}");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM ipras"),
        backed_up,
        "the backup's register, without the later import"
    );
    let aside: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("data.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old data directory kept aside");
    assert!(env.dir.path().join(&aside[0]).join("ipra.sqlite").exists());
    assert!(env.dir.path().join(&aside[0]).join("keys/minsoc.key.pem").exists());
    env.run_ok(&["audit", "verify"]);
}

#[test]
fn postgres_round_trip_through_pg_dump_and_pg_restore() {
    let env = Env::new(Backend::Postgres);
    env.run_ok(&["demo", "--count", "30", "--seed", "4"]);
    env.run_ok(&["audit", "verify"]);
    lay_out_files(&env.data_dir());
    let backup = env.dir.path().join("pg-backup");
    let out = env.run(&["backup", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let inventory = manifest(&backup);
    assert_eq!(inventory["engine"].as_str(), Some("postgres"));
    assert_eq!(inventory["migration"].as_integer(), Some(common_latest()));
    let paths = backed_up_paths(&backup);
    assert_eq!(paths[0], "ipra.pgdump");
    assert!(paths.iter().any(|p| p == "signing.toml") && !paths.iter().any(|p| p.starts_with("keys/")));

    // Into a second, empty database of the same server.
    let second = Env::new(Backend::Postgres);
    let out = second.run(&["restore", backup.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for table in [
        "persons",
        "ipras",
        "measures",
        "users",
        "audit_log",
        "source_documents",
        "ipra_releases",
    ] {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        assert_eq!(second.scalar(&sql), env.scalar(&sql), "{table}");
    }
    assert_eq!(measures_by_ipra(&second), measures_by_ipra(&env));
    assert!(exists(&second.data_dir(), "signing.toml") && exists(&second.data_dir(), "audit/anchors.log"));
    let audit = second.run_ok(&["audit", "verify"]);
    assert!(audit.contains("журнал аудита цел"), "{audit}");
    second.run_ok(&["stats", "--verify"]);

    // Not over a database that holds a register.
    let again = second.run(&["restore", backup.to_str().unwrap(), "--force"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("не пуста"), "{}", stderr(&again));
}
