//! The package (`.ipra-plugin`) of the test connector of death notices the tests install through
//! the API and the page (a module of `plugin_admin.rs` and `ui_plugins.rs`).
#![allow(dead_code)]

use sha2::{Digest, Sha256};

/// The test connector's id (`tests/plugins/death-notices`).
pub const ID: &str = "death-notices";

/// A package (`.ipra-plugin`) of the test connector of death notices (built by build.rs, never
/// embedded) at `version`: its manifest completed as `ipra plugin package` completes it, then
/// changed by `tamper`.
pub fn package(version: &str, tamper: impl Fn(String) -> String) -> Vec<u8> {
    let staged = std::path::Path::new(env!("IPRA_TEST_PLUGIN_DIR"));
    let wasm = std::fs::read(staged.join(format!("{ID}.wasm"))).expect("the test plugin is built");
    let manifest = std::fs::read_to_string(staged.join(format!("{ID}.toml"))).expect("its manifest");
    let sha = hex::encode(Sha256::digest(&wasm));
    let mut head = Vec::new();
    let mut tables = Vec::new();
    for line in manifest.lines() {
        let key = line.split('=').next().unwrap_or_default().trim();
        if !tables.is_empty() || line.trim_start().starts_with('[') {
            tables.push(line.to_string());
        } else if key == "version" && line.contains('=') {
            head.push(format!("version = \"{version}\""));
        } else if !(line.contains('=') && (key == "wasm" || key == "sha256")) {
            head.push(line.to_string());
        }
    }
    let completed = format!(
        "{}\nwasm = \"plugin.wasm\"\nsha256 = \"{sha}\"\n\n{}\n",
        head.join("\n").trim_end(),
        tables.join("\n")
    );
    let manifest = tamper(completed);
    ipra_plugin_sdk::archive::write_zip(&[("plugin.toml", manifest.as_bytes()), ("plugin.wasm", &wasm)])
}
