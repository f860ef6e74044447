//! Generated extracts validate against the published FRI extract schema, checked by xmllint.
//! One file per IPRA version, adult and child, with and without the extra documents.

use std::path::PathBuf;
use std::process::Command;

use ipra_demo::{extracts, DemoExtract, DemoOptions};

fn schema() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/formats/fri/fri-extract-schema-v1.5.xsd")
}

/// First extracts of the stream covering every (version, adult/child) pair, plus extra documents.
fn coverage() -> Vec<DemoExtract> {
    let opts = DemoOptions {
        count: 5_000,
        seed: 20_240_601,
        ..Default::default()
    };
    let mut seen = std::collections::HashSet::new();
    let mut picked = Vec::new();
    let (mut act, mut resoc, mut superseding) = (false, false, false);
    for e in extracts(&opts) {
        let xml = String::from_utf8_lossy(&e.xml);
        let has_act = xml.contains("<fri:Код>ACT</fri:Код>");
        let has_resoc = xml.contains("RESOC_20180416");
        let new_kind = seen.insert((e.version, e.is_child));
        if new_kind || (has_act && !act) || (has_resoc && !resoc) || (e.supersedes_earlier && !superseding) {
            act |= has_act;
            resoc |= has_resoc;
            superseding |= e.supersedes_earlier;
            picked.push(e);
        }
        if seen.len() == 8 && act && resoc && superseding {
            break;
        }
    }
    assert_eq!(seen.len(), 8, "every version for adults and children: {seen:?}");
    assert!(act && resoc && superseding);
    picked
}

#[test]
fn generated_extracts_validate_against_the_fri_schema() {
    let schema = schema();
    if !schema.exists() {
        panic!("схема не найдена: {}", schema.display());
    }
    let dir = std::env::temp_dir().join(format!("ipra-demo-xmllint-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut files = Vec::new();
    for e in coverage() {
        let path = dir.join(&e.file_name);
        std::fs::write(&path, &e.xml).unwrap();
        files.push(path);
    }
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .args(&files)
        .output()
        .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(output.status.success(), "xmllint:\n{stderr}");
    assert_eq!(stderr.matches(" validates").count(), files.len(), "{stderr}");
}
