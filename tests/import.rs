//! End-to-end import: the real binary, the real FRI plugin compiled to wasm32-wasip2, the real
//! public samples, on SQLite and on a PostgreSQL server the test starts.

mod common;

use common::{fri_samples, Backend, Env, BACKENDS};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn rejected_files(report: &Value) -> Vec<String> {
    report["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect()
}

fn register_rows(env: &Env) -> (i64, i64, i64, i64) {
    (
        env.scalar("SELECT COUNT(*) FROM ipras"),
        env.scalar("SELECT COUNT(*) FROM measures"),
        env.scalar("SELECT COUNT(*) FROM persons"),
        env.scalar("SELECT COUNT(*) FROM source_documents"),
    )
}

/// What every import leaves true of the register, however its files were grouped: each IPRA row
/// carries the list's columns as its person and measures give them, and a journal row; each stored
/// source document has its IPRAs (no file stored in part); one IPRA in force per person, the
/// replaced ones with no open measures.
fn assert_register_consistent(env: &Env) {
    let checks = [
        (
            "IPRA rows whose name or territory differ from their person's",
            "SELECT COUNT(*) FROM ipras i JOIN persons p ON p.id = i.person_id \
             WHERE i.search_name <> COALESCE(p.search_name, '') OR COALESCE(i.territory_code, '') <> COALESCE(p.territory_code, '')",
        ),
        (
            "IPRA rows whose measures_count is not their number of measures",
            "SELECT COUNT(*) FROM ipras i WHERE i.measures_count <> (SELECT COUNT(*) FROM measures m WHERE m.ipra_id = i.id)",
        ),
        (
            "IPRA rows whose open_due_min is not the earliest due date of their open measures",
            "SELECT COUNT(*) FROM ipras i WHERE COALESCE(i.open_due_min, '') <> \
             COALESCE((SELECT MIN(m.due_date) FROM measures m WHERE m.ipra_id = i.id AND m.status = 'open'), '')",
        ),
        (
            "IPRAs without a journal row",
            "SELECT COUNT(*) FROM ipras i WHERE NOT EXISTS (SELECT 1 FROM register_changes c WHERE c.ipra_id = i.id)",
        ),
        (
            "source documents stored without their IPRAs",
            "SELECT COUNT(*) FROM source_documents s WHERE NOT EXISTS (SELECT 1 FROM ipras i WHERE i.source_document_id = s.id)",
        ),
        (
            "persons with more than one IPRA in force",
            "SELECT COUNT(*) FROM (SELECT person_id FROM ipras WHERE status = 'active' GROUP BY person_id HAVING COUNT(*) > 1) x",
        ),
        (
            "replaced IPRAs not pointing to a newer one, or with open measures",
            "SELECT COUNT(*) FROM ipras i WHERE i.status = 'superseded' AND (i.superseded_by IS NULL \
             OR EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.status = 'open'))",
        ),
    ];
    for (what, sql) in checks {
        assert_eq!(env.scalar(sql), 0, "{what}");
    }
}

fn samples_import_idempotently(backend: Backend) {
    let env = Env::new(backend);
    let samples = fri_samples();
    let samples = samples.to_str().unwrap();

    // Dry run first: a full report, and nothing written.
    let (code, dry) = env.run_json(&["import", samples, "--dry-run", "--json"]);
    assert_eq!(code, 1, "the dirty-SNILS sample is rejected: {dry}");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 0, "dry run wrote nothing");
    assert_eq!(env.scalar("SELECT COUNT(*) FROM import_runs"), 0);

    let (code, first) = env.run_json(&["import", samples, "--json"]);
    assert_eq!(code, 1, "{first}");
    assert_eq!(first["imported"], dry["imported"], "dry run predicts the real run");
    let imported = first["imported"].as_u64().unwrap();
    assert!(imported >= 8, "every good sample carries an IPRA: {first}");
    let rejected = rejected_files(&first);
    assert!(rejected.iter().any(|f| f.ends_with("extract_1.xml")), "{first}");
    let snils_error = first["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with("extract_1.xml"))
        .unwrap();
    assert_eq!(snils_error["field"], "СНИЛС", "{snils_error}");
    assert!(
        snils_error["message"]
            .as_str()
            .unwrap()
            .chars()
            .any(|c| ('а'..='я').contains(&c)),
        "message in Russian"
    );
    assert!(!rejected.iter().any(|f| f.ends_with("extract_4.xml")));

    let before = register_rows(&env);
    assert_eq!(before.0 as u64, imported);
    assert!(before.1 > imported as i64, "measures stored");
    // Rejected files are quarantined with their reasons.
    let quarantine = env.data_dir().join("quarantine");
    let names: Vec<String> = std::fs::read_dir(&quarantine)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n.ends_with("extract_1.xml")), "{names:?}");
    assert!(
        names.iter().any(|n| n.ends_with("extract_1.xml.reasons.txt")),
        "{names:?}"
    );

    // The same extracts again change nothing.
    let (_, second) = env.run_json(&["import", samples, "--json"]);
    assert_eq!(second["imported"], 0, "{second}");
    assert_eq!(second["unchanged"].as_u64().unwrap(), imported);
    assert_eq!(register_rows(&env), before);

    // Every IPRA version of the samples is in the register.
    for version in ["IPRA_20160101", "IPRA_20170812", "IPRA_20190101", "IPRA_20221024"] {
        let n = env.scalar(&format!(
            "SELECT COUNT(*) FROM ipras WHERE document_version = '{version}'"
        ));
        assert!(n >= 1, "{version} imported");
    }
    // Measures are mapped to sections from the reference list; RESOC reports are linked to their IPRA.
    assert!(env.scalar("SELECT COUNT(*) FROM measures WHERE section = 'tsr'") > 0);
    assert!(env.scalar("SELECT COUNT(*) FROM measures WHERE section = 'health'") > 0);
    assert!(env.scalar("SELECT COUNT(*) FROM prior_reports WHERE ipra_id IS NOT NULL") >= 1);
    // Import runs keep per-record outcomes.
    assert!(env.scalar("SELECT COUNT(*) FROM import_outcomes WHERE outcome = 'rejected'") >= 1);
}

#[test]
fn samples_import_idempotently_on_sqlite() {
    samples_import_idempotently(Backend::Sqlite);
}

#[test]
fn samples_import_idempotently_on_postgres() {
    samples_import_idempotently(Backend::Postgres);
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Hostile and edge-case inputs: each gets a clear error and the register stays as it was.
#[test]
fn hostile_inputs_are_rejected_and_leave_the_register_as_it_was() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let good = std::fs::read(fri_samples().join("extract_4.xml")).unwrap();
        let (code, _) = env.run_json(&[
            "import",
            fri_samples().join("extract_4.xml").to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, 0);
        let before = register_rows(&env);

        let bad = env.dir.path().join("bad");
        std::fs::create_dir_all(&bad).unwrap();
        write(&bad, "truncated.xml", &good[..good.len() / 2]);
        write(
            &bad,
            "laughs.xml",
            r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><fri:ВыпискаФРИ xmlns:fri="http://fri.pfr.ru">&lol2;</fri:ВыпискаФРИ>"#.as_bytes(),
        );
        write(
            &bad,
            "external.xml",
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><fri:ВыпискаФРИ xmlns:fri="http://fri.pfr.ru">&xxe;</fri:ВыпискаФРИ>"#.as_bytes(),
        );
        write(&bad, "empty.xml", b"");
        write(&bad, "not-xml.xml", b"\x00\x01\x02 binary garbage");
        let text = String::from_utf8(good.clone()).unwrap();
        write(
            &bad,
            "unknown-version.xml",
            text.replace("IPRA_20190101", "IPRA_20990101").as_bytes(),
        );
        write(&bad, "wrong-root.xml", br#"<?xml version="1.0"?><root/>"#);

        let (code, report) = env.run_json(&["import", bad.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1);
        let rejected = rejected_files(&report);
        for name in [
            "truncated.xml",
            "laughs.xml",
            "external.xml",
            "empty.xml",
            "not-xml.xml",
            "unknown-version.xml",
            "wrong-root.xml",
        ] {
            assert!(rejected.iter().any(|f| f.ends_with(name)), "{name} rejected: {report}");
        }
        for r in report["rejected"].as_array().unwrap() {
            assert!(!r["code"].as_str().unwrap().is_empty());
            assert!(
                r["message"].as_str().unwrap().chars().any(|c| ('а'..='я').contains(&c)),
                "Russian message: {r}"
            );
        }
        let unknown = report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"].as_str().unwrap().ends_with("unknown-version.xml"))
            .unwrap();
        assert!(
            unknown["message"].as_str().unwrap().contains("IPRA_20990101"),
            "{unknown}"
        );
        assert_eq!(register_rows(&env), before, "nothing stored or half-written");
    }
}

/// A windows-1251 copy and a ZIP of a sample import like the original.
#[test]
fn encodings_and_zip_are_read() {
    let env = Env::new(Backend::Sqlite);
    let dir = env.dir.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fri_samples().join("extract-20211124093406.xml")).unwrap();
    let declaration_end = text.find("?>").unwrap() + 2;
    let cp1251 = format!(
        "<?xml version=\"1.0\" encoding=\"windows-1251\"?>{}",
        &text[declaration_end..]
    );
    let encoded: Vec<u8> = cp1251
        .chars()
        .map(|c| match c {
            'А'..='я' => (c as u32 - 'А' as u32 + 0xC0) as u8,
            'Ё' => 0xA8,
            'ё' => 0xB8,
            '№' => 0xB9,
            c if c.is_ascii() => c as u8,
            other => panic!("unexpected char {other}"),
        })
        .collect();
    write(&dir, "cp1251.xml", &encoded);
    let (code, report) = env.run_json(&["import", dir.join("cp1251.xml").to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["imported"], 1);
    // The UTF-8 original is the same IPRA: unchanged.
    let (_, report) = env.run_json(&[
        "import",
        fri_samples().join("extract-20211124093406.xml").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(report["unchanged"], 1, "{report}");

    // A ZIP holding an extract.
    let zip_path = dir.join("extract.zip");
    let status = std::process::Command::new("python3")
        .args(["-c", "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED); z.write(sys.argv[2], 'extract_4.xml'); z.close()"])
        .arg(&zip_path)
        .arg(fri_samples().join("extract_4.xml"))
        .status()
        .unwrap();
    assert!(status.success());
    let (code, report) = env.run_json(&["import", zip_path.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["imported"], 1, "{report}");
}

/// Writes `count` demo extracts into the test's folder; returns the folder and its files, sorted.
fn demo_files(env: &Env, count: usize, seed: u64) -> (PathBuf, Vec<PathBuf>) {
    let out = env.dir.path().join("demo");
    env.run_ok(&[
        "demo",
        "--count",
        &count.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    (out, files)
}

/// Demo extracts: valid, several versions, adults and children, and superseding IPRAs keep history.
/// Most IPRAs they replace are in the same group of files as the new one (written together in a few
/// statements per table): the real run reports what the dry run, written file by file, predicted.
#[test]
fn demo_extracts_import_with_supersession() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (out, mut files) = demo_files(&env, 120, 3);
        let (_, dry) = env.run_json(&["import", out.to_str().unwrap(), "--dry-run", "--json"]);
        let run = env
            .ipra()
            .env("IPRA_LOG", "ipra=debug")
            .args(["import", out.to_str().unwrap(), "--json"])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&run.stdout).unwrap();
        assert_eq!(run.status.code(), Some(0), "{report}");
        // No group had to be written again file by file: the bulk writes hold for demo extracts.
        let log = String::from_utf8_lossy(&run.stderr);
        assert!(!log.contains("written again file by file"), "{log}");
        for count in ["imported", "unchanged", "superseded", "files", "bytes"] {
            assert_eq!(report[count], dry[count], "{count}: {report} / {dry}");
        }
        assert!(report["superseded"].as_u64().unwrap() >= 1, "{report}");
        let superseded =
            env.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'superseded' AND superseded_by IS NOT NULL");
        assert_eq!(superseded as u64, report["superseded"].as_u64().unwrap());
        assert_register_consistent(&env);
        assert!(env.scalar("SELECT COUNT(*) FROM ipras WHERE is_child = 1") > 0);
        assert!(env.scalar("SELECT COUNT(DISTINCT document_version) FROM ipras") >= 2);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM import_outcomes WHERE outcome IN ('imported', 'imported-superseded')"),
            120
        );

        // Importing the files again, in reverse order one by one, changes nothing.
        files.reverse();
        let before = register_rows(&env);
        let args: Vec<String> = ["import".to_string(), "--json".into()]
            .into_iter()
            .chain(files.iter().take(30).map(|p| p.display().to_string()))
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, again) = env.run_json(&args);
        assert_eq!(again["imported"], 0);
        assert_eq!(again["unchanged"], 30);
        assert_eq!(register_rows(&env), before);
    }
}

/// An import killed mid-way (SIGKILL, no chance to clean up) leaves whole files only: every file it
/// stored has all of its IPRAs, measures, journal rows and outcomes; importing again stores the rest.
#[test]
fn a_killed_import_leaves_whole_files() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let total = 400;
        let (out, _) = demo_files(&env, total, 17);
        env.run_ok(&["migrate"]);
        let mut child = env
            .ipra()
            .args(["import", out.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Killed as soon as a first group of files is committed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while env.scalar("SELECT COUNT(*) FROM ipras") == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "killed before it ended");
        let stored = env.scalar("SELECT COUNT(*) FROM ipras");
        assert!(
            stored > 0 && stored < total as i64,
            "killed mid-way: {stored} of {total}"
        );
        assert_register_consistent(&env);
        assert_eq!(
            env.scalar("SELECT COUNT(DISTINCT file) FROM import_outcomes"),
            env.scalar("SELECT COUNT(*) FROM source_documents"),
            "each stored file has its outcomes, and only they"
        );

        let (code, report) = env.run_json(&["import", out.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{report}");
        assert_eq!(report["imported"].as_i64().unwrap() + stored, total as i64, "{report}");
        assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), total as i64);
        assert_register_consistent(&env);
    }
}

/// An older IPRA arriving after the newer one is stored as history, never in force.
#[test]
fn out_of_order_versions_keep_the_newest_in_force() {
    let env = Env::new(Backend::Sqlite);
    let (out, files) = demo_files(&env, 60, 9);
    // Newest first: every superseding file before the one it supersedes.
    for path in files.iter().rev() {
        let (code, report) = env.run_json(&["import", path.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{report}");
    }
    let ordered = Env::new(Backend::Sqlite);
    let (_, _) = ordered.run_json(&["import", out.to_str().unwrap(), "--json"]);
    let active = |e: &Env| e.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'active'");
    assert_eq!(active(&env), active(&ordered), "same IPRAs in force whatever the order");
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'superseded'"),
        ordered.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'superseded'")
    );
}

/// `ipra bench import --json` runs the whole benchmark on each engine and prints every figure the
/// issue names; the extracts it generated are all imported, and each file has its outcome row (they
/// are written per batch, not per file). No figure is compared with a speed: tests never time.
/// The bench's native baselines are a program of their own (the server links no plugin crate);
/// cargo builds it beside the binary under test, where `ipra bench import` looks for it.
fn build_bench_native() {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "ipra-bench-native"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let program = Path::new(env!("CARGO_BIN_EXE_ipra")).with_file_name("ipra-bench-native");
    assert!(program.exists(), "{} built", program.display());
}

#[test]
fn bench_prints_every_figure() {
    build_bench_native();
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (code, bench) = env.run_json(&["bench", "import", "--count", "70", "--json"]);
        assert_eq!(code, 0, "{bench}");
        for field in [
            "extracts_per_s",
            "mib_per_s",
            "native_parse_per_s",
            "ratio",
            "fri_native_parse_per_s",
            "ratio_vs_fri_native",
            "wasm_vs_native_parse",
            "wasm_vs_quick_xml_parse",
            "plugin_call_us",
            "peak_rss_mib",
        ] {
            let value = bench[field]
                .as_f64()
                .unwrap_or_else(|| panic!("{field} missing: {bench}"));
            assert!(value.is_finite() && value > 0.0, "{field}: {bench}");
        }
        assert_eq!(bench["count"], 70, "{bench}");
        assert_eq!(bench["imported"], 70, "{bench}");
        assert_eq!(bench["rejected"], 0, "{bench}");
        assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 70);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM import_outcomes WHERE outcome IN ('imported', 'imported-superseded')"),
            70
        );
        assert_eq!(env.scalar("SELECT COUNT(DISTINCT file) FROM import_outcomes"), 70);
    }
}

/// A file the database refuses part-way (here a trigger refuses one person's IPRA) is rejected on its
/// own with `storage-failed`, nothing of it stays stored, and the other files of the same batch are
/// stored whole: files are written without a savepoint each and the batch is replayed file by file
/// when one fails.
#[test]
fn a_storage_failure_rejects_only_its_file() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (out, files) = demo_files(&env, 12, 5);
        // Demo files are named `<n>_<SNILS>_<version>.xml`: refuse the IPRA of a person with one file,
        // in the middle of the batch.
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        let snils_of = |name: &str| name.split('_').nth(1).unwrap().to_string();
        let victim = names[5..]
            .iter()
            .find(|n| names.iter().filter(|m| snils_of(m) == snils_of(n)).count() == 1)
            .expect("a person with one IPRA")
            .clone();
        let snils = snils_of(&victim);
        assert!(env.run(&["plugins", "list"]).status.success());
        match backend {
            Backend::Sqlite => env.execute(&format!(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON ipras WHEN NEW.snils = '{snils}' \
                 BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
            )),
            Backend::Postgres => {
                env.execute(&format!(
                    "CREATE FUNCTION refuse_one() RETURNS trigger AS $$ BEGIN \
                     IF NEW.snils = '{snils}' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
                     RETURN NEW; END $$ LANGUAGE plpgsql"
                ));
                env.execute(
                    "CREATE TRIGGER refuse_one BEFORE INSERT ON ipras FOR EACH ROW EXECUTE FUNCTION refuse_one()",
                );
            }
        }
        let (code, report) = env.run_json(&["import", out.to_str().unwrap(), "--json"]);
        assert_eq!(code, 1, "{report}");
        let rejected = report["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), 1, "{report}");
        assert_eq!(rejected[0]["code"], "storage-failed", "{report}");
        assert!(rejected[0]["file"].as_str().unwrap().ends_with(&victim), "{report}");
        assert_eq!(report["imported"], 11, "{report}");
        assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 11);
        assert_eq!(
            env.scalar(&format!("SELECT COUNT(*) FROM persons WHERE snils = '{snils}'")),
            0
        );
        assert_eq!(env.scalar("SELECT COUNT(*) FROM source_documents"), 11);
        assert_eq!(env.scalar("SELECT COUNT(DISTINCT file) FROM import_outcomes"), 12);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM import_outcomes WHERE outcome = 'rejected' AND code = 'storage-failed'"),
            1
        );
        let quarantined = std::fs::read_dir(env.data_dir().join("quarantine")).map_or(0, |d| d.count());
        assert!(quarantined >= 1, "the refused file is kept in quarantine");
    }
}

/// A file that is an FRI extract but holds no document — empty, or of elements the reader does not
/// know — is rejected with the file named and quarantined, not counted as nothing new.
#[test]
fn an_extract_with_nothing_in_it_is_rejected() {
    let env = Env::new(Backend::Sqlite);
    let dir = env.dir.path().join("in");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("empty.xml"),
        "<?xml version=\"1.0\"?><fri:ВыпискаФРИ xmlns:fri=\"http://fri.pfr.ru\"><fri:ВсеДокументы/></fri:ВыпискаФРИ>",
    )
    .unwrap();
    std::fs::write(
        dir.join("unknown.xml"),
        "<?xml version=\"1.0\"?><fri:ВыпискаФРИ xmlns:fri=\"http://fri.pfr.ru\"><fri:Что><fri:То/></fri:Что></fri:ВыпискаФРИ>",
    )
    .unwrap();
    let (code, report) = env.run_json(&["import", dir.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    for r in rejected {
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("не содержит ни одного документа"),
            "{r}"
        );
    }
    let quarantined = std::fs::read_dir(env.data_dir().join("quarantine")).unwrap().count();
    assert!(quarantined >= 2, "both quarantined");
}
