//! The vendor's kit end to end: a department plugin made outside the workspace with `ipra plugin new`,
//! changed by its vendor (`examples/sociocultural/`), tested with its own harness (`cargo test`), packaged and
//! signed (`ipra plugin keygen`, `ipra plugin package`), installed into a region's data directory, and then
//! at work: the region maps socio-cultural rehabilitation to the new section, the plugin claims the measure of
//! a real FRI extract for a culture organisation, refuses an execution record by its own rule and accepts one.

mod common;

use common::{fri_samples, ogrn, workspace_root, Backend, Env};
use std::path::{Path, PathBuf};
use std::process::Command;

const ID: &str = "sociocultural";
const LABEL: &str = "Социокультурная реабилитация";
const VENDOR: &str = "ООО «Культура и реабилитация»";

/// Builds of the vendor's crate share one target directory, so a second run is incremental.
fn vendor_target_dir() -> PathBuf {
    workspace_root().join("target/vendor-plugin-kit")
}

/// `ipra` outside any installation (the kit needs none).
fn kit(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_ipra"))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", vendor_target_dir())
        .env("IPRA_LOG", "warn")
        .output()
        .expect("run ipra");
    assert!(
        out.status.success(),
        "ipra {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies every file under `from` over the same path under `to`: the vendor's changes to the template.
fn overlay(from: &Path, to: &Path) -> Vec<String> {
    let mut copied = Vec::new();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copied.extend(overlay(&path, &target));
        } else {
            assert!(
                target.exists() || path.ends_with("README.md"),
                "the vendor changes files of the template: {}",
                target.display()
            );
            std::fs::copy(&path, &target).unwrap();
            copied.push(target.display().to_string());
        }
    }
    copied
}

/// The vendor's own `cargo test`, as on a vendor's machine (the host's build settings left out).
fn vendor_cargo_test(crate_dir: &Path) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("test")
        .current_dir(crate_dir)
        .env("CARGO_TARGET_DIR", vendor_target_dir());
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_TARGET",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd.output().expect("run cargo test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the vendor's harness fails:\n{text}");
    text
}

/// The reference lists of a region that gives socio-cultural rehabilitation its own section: a row in
/// `sections`, and the socio-cultural rows of `measure-categories` pointing at it.
fn region_lists(dir: &Path) -> (PathBuf, PathBuf) {
    let shipped = |name: &str| std::fs::read_to_string(workspace_root().join("reference").join(name)).unwrap();
    let sections = dir.join("sections.csv");
    std::fs::write(
        &sections,
        format!(
            "{}{ID};{LABEL};social-protection;department=культура,kind=rehabilitation\n",
            shipped("sections.csv")
        ),
    )
    .unwrap();
    let categories: Vec<String> = shipped("measure-categories.csv")
        .lines()
        .map(|line| {
            if !line.starts_with('#') && line.contains("Социокультурн") {
                line.replace(";social-protection;", &format!(";{ID};"))
            } else {
                line.to_string()
            }
        })
        .collect();
    let moved = categories.iter().filter(|l| l.contains(&format!(";{ID};"))).count();
    assert!(moved >= 2, "the socio-cultural rows of the shipped map: {moved}");
    let map = dir.join("measure-categories.csv");
    std::fs::write(&map, categories.join("\n") + "\n").unwrap();
    (sections, map)
}

#[test]
fn a_vendor_department_is_made_tested_packaged_installed_and_at_work() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join(ID);
    let sdk = workspace_root().join("plugin-sdk");

    // The vendor: a new crate from the template, the vendor's changes over it, its harness passes.
    let made = kit(
        work.path(),
        &[
            "plugin",
            "new",
            ID,
            "--kind",
            "department",
            "--path",
            crate_dir.to_str().unwrap(),
            "--label",
            LABEL,
            "--vendor",
            VENDOR,
            "--sdk",
            sdk.to_str().unwrap(),
        ],
    );
    assert!(made.contains("создан плагин «sociocultural»"), "{made}");
    let changed = overlay(&workspace_root().join("examples").join(ID), &crate_dir);
    assert!(changed.iter().any(|f| f.ends_with("src/lib.rs")), "{changed:?}");
    // The versions the workspace builds with: the vendor's build needs no newer crate than ours.
    std::fs::copy(workspace_root().join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();
    let harness = vendor_cargo_test(&crate_dir);
    assert!(
        harness.contains("test result: ok. 7 passed"),
        "the harness runs the hooks on the samples:\n{harness}"
    );

    // A signing key, then the signed package.
    let key_prefix = work.path().join("vendor");
    let keys = kit(
        work.path(),
        &["plugin", "keygen", key_prefix.to_str().unwrap(), "--vendor", VENDOR],
    );
    assert!(keys.contains("[[ed25519]]"), "{keys}");
    let public = std::fs::read_to_string(work.path().join("vendor.pub")).unwrap();
    let packaged = kit(
        work.path(),
        &[
            "plugin",
            "package",
            crate_dir.to_str().unwrap(),
            "--sign-key",
            work.path().join("vendor.key").to_str().unwrap(),
        ],
    );
    let package = crate_dir.join("target/sociocultural-0.1.0.ipra-plugin");
    assert!(
        packaged.contains(&format!("пакет: {}", package.display())),
        "{packaged}"
    );
    assert!(
        packaged.contains(&format!("открытый ключ {}", public.trim())),
        "{packaged}"
    );
    assert!(package.is_file());

    // The region: trusts the vendor's key, installs and enables the plugin.
    let env = Env::new(Backend::Sqlite);
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(
        env.data_dir().join("plugin-trust.toml"),
        format!(
            "[[ed25519]]\nvendor = \"{}\"\nkey = \"{}\"\n",
            VENDOR.replace('"', "\\\""),
            public.trim()
        ),
    )
    .unwrap();
    let installed = env.run_ok(&["plugins", "install", package.to_str().unwrap()]);
    assert!(installed.contains("установлен"), "{installed}");
    env.run_ok(&["plugins", "enable", ID]);
    let list = env.ok(&["plugins", "list", "--json"]);
    let listed = list.as_array().unwrap().iter().find(|p| p["id"] == ID).expect("listed");
    assert_eq!(
        (listed["kind"].as_str(), listed["enabled"].as_bool()),
        (Some("department"), Some(true)),
        "{listed}"
    );

    // Its section in the reference lists, a culture organisation of the section and its routing rule.
    let (sections, map) = region_lists(work.path());
    env.run_ok(&[
        "reference",
        "set",
        "sections",
        sections.to_str().unwrap(),
        "--note",
        "социокультурная реабилитация",
    ]);
    env.run_ok(&[
        "reference",
        "set",
        "measure-categories",
        map.to_str().unwrap(),
        "--note",
        "социокультурная реабилитация — отдельный раздел",
    ]);
    let orgs = env.directory();
    let culture = ogrn(102_770_013_240);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &culture,
        "--name",
        "ГБУК «Областной центр народного творчества»",
        "--department",
        ID,
    ]);
    env.run_ok(&["routing", "set", "--section", ID, "--ogrn", &culture]);

    // A real FRI extract: its socio-cultural measure is claimed by the plugin for the culture organisation.
    let sample = fri_samples().join("11350102278_IPRA_2016.xml");
    env.ok(&["import", sample.to_str().unwrap(), "--json"]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let measure = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == ID)
        .unwrap_or_else(|| panic!("a measure of section {ID}: {measures}"))
        .clone();
    assert_eq!(measure["name"], LABEL, "{measure}");
    assert_eq!(measure["assigned_ogrn"].as_str(), Some(culture.as_str()), "{measure}");

    // Execution: refused by the vendor's own rule (no kind of activity), accepted with one.
    let card = env.ok(&["show", &ipra.to_string(), "--json"]);
    let date = card["decision_date"].as_str().expect("decision date").to_string();
    let mut refused_args = common::execution_args(ipra, &measure, &culture);
    refused_args.extend(
        [
            "--result",
            "executed",
            "--date",
            &date,
            "--comment",
            "Мероприятие проведено",
            "--ready",
            "--json",
        ]
        .map(String::from),
    );
    let (code, refused) = env.run_json(&refused_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "{refused}");
    let errors = refused["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors: {refused}"));
    let own = errors
        .iter()
        .find(|e| e["code"] == "activity-missing")
        .unwrap_or_else(|| panic!("the vendor's rule: {refused}"));
    assert_eq!(own["field"], "Комментарий", "{own}");
    let message = own["message"].as_str().unwrap();
    assert!(
        message.starts_with("Социокультурная реабилитация: укажите в комментарии вид мероприятия"),
        "{message}"
    );
    assert_eq!(errors.len(), 1, "only the vendor's rule refuses it: {refused}");

    env.add_execution(
        ipra,
        &measure,
        &culture,
        &[
            "--result",
            "executed",
            "--date",
            &date,
            "--comment",
            "Посещение областного театра драмы",
            "--ready",
        ],
    );

    // The report: the department renders its section; the FRI connector carries it to FRI within the federal
    // section the region's list names as its parent (social protection: the federal form has six sections).
    let (code, assembled) = env.run_json(&[
        "reports",
        "assemble",
        "--ipra",
        &ipra.to_string(),
        "--reporter",
        &orgs["region"],
        "--json",
    ]);
    assert_eq!(code, 0, "{assembled}");
    let report = assembled["result"].to_string();
    let doc = work.path().join("report.xml");
    env.run_ok(&["reports", "document", &report, "--out", doc.to_str().unwrap()]);
    let xml = std::fs::read_to_string(&doc).unwrap();
    assert!(
        xml.contains("театра драмы"),
        "the vendor's entry is in the report: {xml}"
    );
    assert!(
        xml.contains("RESOC"),
        "within the social-protection section of the federal form: {xml}"
    );
}
