//! Builds the first-party plugins (every `plugins/<id>/` with a `plugin.toml`) for wasm32-wasip2
//! and embeds them, with their manifests completed by the SHA-256 of each `.wasm`, into `ipra`.
//!
//! The nested cargo uses its own target directory (`target/wasm`), so it never waits on the lock
//! of the outer build, and is built once per host build whatever the number of tests.

use sha2::{Digest, Sha256};
use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const WASM_TARGET: &str = "wasm32-wasip2";

fn main() {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root")
        .to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    for watched in ["plugins", "plugin-sdk", "tests/plugins", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let first_party = plugin_crates(&root.join("plugins"));
    let test_plugins = plugin_crates(&root.join("tests/plugins"));
    let all: Vec<&PluginCrate> = first_party.iter().chain(test_plugins.iter()).collect();
    let wasm_dir = build_wasm(&root, &all);

    let mut embedded = String::from(
        "/// First-party plugins compiled into this binary.\npub static BUILTIN_PLUGINS: &[BuiltinPlugin] = &[\n",
    );
    for plugin in &first_party {
        let (wasm_path, manifest_path) = stage(plugin, &wasm_dir, &out);
        writeln!(
            embedded,
            "    BuiltinPlugin {{ manifest: include_str!({manifest_path:?}), wasm: include_bytes!({wasm_path:?}) }},"
        )
        .expect("writing to a String cannot fail");
    }
    embedded.push_str("];\n");
    fs::write(out.join("builtin_plugins.rs"), embedded).expect("write builtin_plugins.rs");

    // Test-only plugins (misbehaving ones for the sandbox tests) are staged, never embedded.
    for plugin in &test_plugins {
        stage(plugin, &wasm_dir, &out);
    }
    println!("cargo:rustc-env=IPRA_TEST_PLUGIN_DIR={}", out.display());
}

struct PluginCrate {
    dir: PathBuf,
    package: String,
    manifest: String,
    id: String,
}

/// Every folder under `parent` that holds a `plugin.toml` and a `Cargo.toml`.
fn plugin_crates(parent: &Path) -> Vec<PluginCrate> {
    let Ok(entries) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut crates: Vec<PluginCrate> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|dir| dir.join("plugin.toml").is_file() && dir.join("Cargo.toml").is_file())
        .map(|dir| {
            let cargo_toml = fs::read_to_string(dir.join("Cargo.toml")).expect("read Cargo.toml");
            let package = toml_string(&cargo_toml, "name").expect("plugin crate has a package name");
            let manifest = fs::read_to_string(dir.join("plugin.toml")).expect("read plugin.toml");
            let id = toml_string(&manifest, "id").expect("plugin.toml has an id");
            PluginCrate {
                dir,
                package,
                manifest,
                id,
            }
        })
        .collect();
    crates.sort_by(|a, b| a.id.cmp(&b.id));
    crates
}

/// The value of the first `key = "value"` line; enough for the flat manifests read here.
fn toml_string(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// On a fresh machine the wasm target may be missing: add it, so one `cargo build` does it all.
fn ensure_wasm_target() {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == WASM_TARGET)
        })
        .unwrap_or(true);
    if !installed {
        println!("cargo:warning=installing the {WASM_TARGET} target with rustup");
        let _ = Command::new("rustup").args(["target", "add", WASM_TARGET]).status();
    }
}

fn build_wasm(root: &Path, plugins: &[&PluginCrate]) -> PathBuf {
    let target_dir = root.join("target").join("wasm");
    let wasm_dir = target_dir.join(WASM_TARGET).join("release");
    if plugins.is_empty() {
        return wasm_dir;
    }
    ensure_wasm_target();
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root)
        .args(["build", "--release", "--target", WASM_TARGET, "--target-dir"])
        .arg(&target_dir);
    for plugin in plugins {
        cmd.args(["-p", &plugin.package]);
    }
    // The outer build's settings (wrappers such as clippy-driver, flags, target dir) are for the
    // host, not for the plugins. Plugins use wasm SIMD (wasmtime runs it): the XML tokenizer's
    // UTF-8 check is markedly faster with it.
    cmd.env("CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS", "-C target-feature=+simd128");
    // Plugins run on every import: optimise them whole (one codegen unit, full LTO), which the
    // workspace's release profile, tuned for the host's build time, does not.
    cmd.env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3");
    for var in [
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_LLVM_COV",
        "RUSTDOCFLAGS",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo to build the plugins");
    if !status.success() {
        panic!(
            "building the plugins for {WASM_TARGET} failed (is the target installed? `rustup target add {WASM_TARGET}`)"
        );
    }
    wasm_dir
}

/// Copies a plugin's component next to a manifest completed with its file name and SHA-256.
fn stage(plugin: &PluginCrate, wasm_dir: &Path, out: &Path) -> (PathBuf, PathBuf) {
    let built = wasm_dir.join(format!("{}.wasm", plugin.package.replace('-', "_")));
    let bytes = fs::read(&built).unwrap_or_else(|e| panic!("read {}: {e}", built.display()));
    let sha = hex::encode(Sha256::digest(&bytes));
    let wasm_path = out.join(format!("{}.wasm", plugin.id));
    fs::write(&wasm_path, &bytes).expect("stage wasm");
    // Top-level keys go before the first table (`[config]`), or TOML would read them into it.
    let table_at = plugin
        .manifest
        .find("\n[")
        .map(|i| i + 1)
        .unwrap_or(plugin.manifest.len());
    let (head, tables) = plugin.manifest.split_at(table_at);
    let manifest = format!(
        "{}\nwasm = \"{}.wasm\"\nsha256 = \"{sha}\"\n\n{tables}",
        head.trim_end(),
        plugin.id
    );
    let manifest_path = out.join(format!("{}.toml", plugin.id));
    fs::write(&manifest_path, manifest).expect("stage manifest");
    println!("cargo:rerun-if-changed={}", plugin.dir.join("plugin.toml").display());
    (wasm_path, manifest_path)
}
