//! The rules of ARCHITECTURE.md that the sources keep, checked on the sources themselves:
//! the host names no connector (a connector's manifest declares what it reads, writes and runs),
//! and only the plugin runtime and its adapter name the types generated from the WIT.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The lines of a source file that are product code: before its test module, comments dropped.
fn product_lines(path: &Path) -> Vec<(usize, String)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        if line.trim() == "#[cfg(test)]"
            && lines
                .get(n + 1)
                .is_some_and(|next| next.trim_start().starts_with("mod "))
        {
            break;
        }
        let code = line.split("//").next().unwrap_or_default();
        out.push((n + 1, code.to_string()));
    }
    out
}

/// The ids of the connectors shipped with the product (`plugins/*/plugin.toml` of kind connector)
/// and of the test ones.
fn connector_ids() -> Vec<String> {
    let mut ids = Vec::new();
    for parent in ["plugins", "tests/plugins"] {
        for entry in std::fs::read_dir(root().join(parent)).unwrap() {
            let manifest = entry.unwrap().path().join("plugin.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let value = |key: &str| {
                text.lines().find_map(|l| {
                    let (k, v) = l.split_once('=')?;
                    (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
                })
            };
            if value("kind").as_deref() == Some("connector") {
                ids.push(value("id").unwrap());
            }
        }
    }
    ids.sort();
    ids
}

#[test]
fn the_host_names_no_connector() {
    let ids = connector_ids();
    assert!(ids.len() >= 4, "the shipped connectors are found: {ids:?}");
    let mut offenders = Vec::new();
    for path in sources(&root().join("host/src")) {
        for (n, code) in product_lines(&path) {
            for id in &ids {
                // A connector id as a literal, alone or as the start of a name (`"fri"`, `"zags-check"`,
                // `'egisso'` in SQL).
                let named = [
                    format!("\"{id}\""),
                    format!("\"{id}-"),
                    format!("'{id}'"),
                    format!("'{id}-"),
                ]
                .iter()
                .any(|needle| code.contains(needle.as_str()));
                if named {
                    offenders.push(format!("{}:{n}: {}", path.display(), code.trim()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "connector ids in the host's code (declare them in the connector's manifest instead):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn only_the_runtime_names_wit_types() {
    let allowed = ["host/src/plugins/runtime.rs", "host/src/plugins/adapter.rs"].map(|p| root().join(p));
    let mut offenders = Vec::new();
    for path in sources(&root().join("host/src")) {
        if allowed.contains(&path) {
            continue;
        }
        for (n, code) in product_lines(&path) {
            let names_wit = ["bindgen!", "ipra::plugin::", "v1_0::", "v1_1::", "runtime::wit"]
                .iter()
                .any(|needle| code.contains(needle));
            if names_wit {
                offenders.push(format!("{}:{n}: {}", path.display(), code.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "WIT types outside the plugin runtime (use crate::plugins::model):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn every_interface_version_is_kept_beside_the_newest() {
    // The newest 1.x lives in `wit/v1`; each released minor is kept as it was, for the adapter.
    let wit = root().join("plugin-sdk/wit");
    let newest = std::fs::read_to_string(wit.join("v1/plugin.wit")).unwrap();
    let released = std::fs::read_to_string(wit.join("v1.0/plugin.wit")).unwrap();
    assert!(newest.contains("package ipra:plugin@1.1.0;"));
    assert!(released.contains("package ipra:plugin@1.0.0;"));
    // 1.1 only adds: every line of 1.0's types is still there.
    for line in released
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("//"))
    {
        if line.starts_with("package ") {
            continue;
        }
        assert!(
            newest.lines().any(|l| l.trim() == line),
            "1.1 lost a line of 1.0: {line}"
        );
    }
}
