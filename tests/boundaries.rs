//! The rules of ARCHITECTURE.md, checked: on the sources (the host names no connector — a
//! connector's manifest declares what it reads, writes and runs — and no WIT type) and on the
//! crates' dependencies (`cargo metadata`: only the store names sqlx, only the runtime names
//! wasmtime, the web side names neither, the host's crates depend on no plugin, and plugins and
//! the SDK name no engine, database or host).

mod common;

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The sources of the host's crates (everything but the plugin runtime, which is checked apart):
/// the binary, the store and the web side.
fn host_sources() -> Vec<PathBuf> {
    common::HOST_SOURCE_DIRS
        .iter()
        .flat_map(|dir| sources(&root().join(dir)))
        .collect()
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
    for path in host_sources() {
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
fn the_host_names_no_wit_type() {
    // The runtime is its own crate (`host/runtime`, `ipra-runtime`): the host's sources use its
    // `model` and never the generated bindings.
    let mut offenders = Vec::new();
    for path in host_sources() {
        for (n, code) in product_lines(&path) {
            let names_wit = [
                "bindgen!",
                "ipra::plugin::",
                "v1_0::",
                "v1_1::",
                "runtime::wit",
                "wasmtime",
                "ipra_plugin_sdk::bindings",
            ]
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

/// The normal (not dev, not build) dependencies of every workspace crate, from `cargo metadata`.
fn dependencies() -> std::collections::BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_string())
                .collect();
            (p["name"].as_str().unwrap().to_string(), deps)
        })
        .collect()
}

/// The rules of ARCHITECTURE.md that are dependency facts: `cargo metadata` shows them, and
/// `cargo tree -e normal --depth 1 -p ipra-web` (or any other crate) prints one crate's.
#[test]
fn dependencies_keep_the_boundaries() {
    let deps = dependencies();
    let of = |krate: &str| {
        deps.get(krate)
            .unwrap_or_else(|| panic!("{krate} in the workspace: {deps:?}"))
    };
    let engine = ["wasmtime", "wasmtime-wasi"];
    // Only the runtime names wasmtime; it knows no database and no web.
    for (krate, list) in &deps {
        if krate != "ipra-runtime" {
            assert!(
                !list.iter().any(|d| engine.contains(&d.as_str())),
                "{krate} depends on wasmtime: {list:?}"
            );
        }
    }
    let runtime = of("ipra-runtime");
    assert!(runtime.iter().any(|d| d == "wasmtime"));
    for forbidden in ["sqlx", "axum"] {
        assert!(
            !runtime.iter().any(|d| d == forbidden),
            "ipra-runtime depends on {forbidden}"
        );
    }
    // The runtime takes from the SDK its ZIP reader and writer (a plugin package is a ZIP), nothing
    // else: never the guest bindings, whose types are the WIT's as a plugin sees them.
    let mut uses = Vec::new();
    for file in sources(&root().join("host/runtime/src")) {
        for (n, line) in product_lines(&file) {
            let beyond = line
                .split("ipra_plugin_sdk::")
                .skip(1)
                .any(|path| !path.starts_with("archive"));
            if beyond {
                uses.push(format!("{}:{n}: {}", file.display(), line.trim()));
            }
        }
    }
    assert!(
        uses.is_empty(),
        "the runtime uses the SDK beyond its archive helpers:\n{}",
        uses.join("\n")
    );
    // The SDK and every plugin: no engine, no database, no host.
    for (krate, list) in deps
        .iter()
        .filter(|(k, _)| k.starts_with("ipra-plugin") || k.starts_with("ipra-test-plugin"))
    {
        for forbidden in ["sqlx", "tokio", "ipra", "ipra-runtime"] {
            assert!(!list.iter().any(|d| d == forbidden), "{krate} depends on {forbidden}");
        }
    }
    // Signing has no database.
    assert!(!of("ipra-signing").iter().any(|d| d == "sqlx"));
    // The store is the one crate that speaks SQL; it knows no web framework.
    for (krate, list) in &deps {
        if krate != "ipra-store" {
            assert!(!list.iter().any(|d| d == "sqlx"), "{krate} depends on sqlx");
        }
    }
    assert!(of("ipra-store").iter().any(|d| d == "sqlx"));
    assert!(!of("ipra-store").iter().any(|d| d == "axum" || d == "ipra-web"));
    // The web side asks the store: no database, no engine; the binary puts them together.
    let web = of("ipra-web");
    assert!(web.iter().any(|d| d == "ipra-store") && web.iter().any(|d| d == "axum"));
    for forbidden in ["sqlx", "libsqlite3-sys", "wasmtime", "ipra-runtime"] {
        assert!(!web.iter().any(|d| d == forbidden), "ipra-web depends on {forbidden}");
    }
    // The host's crates depend on no plugin crate (the SDK's helpers — SNILS, OGRN, ZIP — aside);
    // the import benchmark's native baseline of the FRI parser is a program of its own
    // (`ipra-bench-native`), started beside the binary.
    for krate in ["ipra", "ipra-store", "ipra-web", "ipra-runtime"] {
        let plugins: Vec<&String> = of(krate)
            .iter()
            .filter(|d| d.starts_with("ipra-plugin-") && *d != "ipra-plugin-sdk")
            .collect();
        assert!(plugins.is_empty(), "{krate} depends on plugin crates {plugins:?}");
    }
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
