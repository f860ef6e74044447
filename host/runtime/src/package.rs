//! The plugin package (`.ipra-plugin`): one ZIP archive a vendor ships and a region installs.
//!
//! | entry | what |
//! |---|---|
//! | `plugin.toml` | the manifest, completed with `wasm = "plugin.wasm"` and the component's SHA-256 |
//! | `plugin.wasm` | the component (wasm32-wasip2) |
//! | `plugin.sig` | optional: the vendor's Ed25519 signature of the `plugin.toml` bytes (64 bytes) |
//! | `plugin.p7s` | optional: the vendor's GOST R 34.10-2012 detached CMS signature (DER) of the same bytes |
//!
//! The manifest names the component's hash, so a signature of the manifest covers the component
//! too. `ipra plugin package` writes packages; `ipra plugins install` reads them ([`read`]).

use crate::manifest::{Manifest, ManifestError};
use anyhow::Result;
use base64::Engine as _;
use ipra_plugin_sdk::archive::{self, ArchiveLimits};
use sha2::{Digest, Sha256};

/// The file extension of a package.
pub const FILE_EXTENSION: &str = "ipra-plugin";
pub const MANIFEST: &str = "plugin.toml";
pub const COMPONENT: &str = "plugin.wasm";
pub const ED25519_SIGNATURE: &str = "plugin.sig";
pub const GOST_SIGNATURE: &str = "plugin.p7s";

/// A package as read: nothing in it is trusted yet (see [`crate::trust`]).
#[derive(Clone, Debug)]
pub struct Package {
    /// The manifest's bytes as shipped: what a signature covers.
    pub manifest_text: String,
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
    pub ed25519_signature: Option<Vec<u8>>,
    pub gost_signature: Option<Vec<u8>>,
}

/// Why a package could not be read.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("файл не является пакетом плагина (.{FILE_EXTENSION}, архив ZIP): {0}")]
    NotAnArchive(String),
    #[error("в пакете нет файла {0}")]
    Missing(&'static str),
    #[error("манифест пакета ({MANIFEST}) не в кодировке UTF-8")]
    ManifestEncoding,
    /// (Not a `source`: the message already says it, and `{:#}` would say it twice.)
    #[error("манифест пакета ({MANIFEST}): {0}")]
    Manifest(ManifestError),
    #[error("манифест пакета называет файл компонента «{0}», а в пакете он всегда {COMPONENT}")]
    ComponentName(String),
}

impl From<ManifestError> for PackageError {
    fn from(e: ManifestError) -> Self {
        PackageError::Manifest(e)
    }
}

/// Sets the manifest's `wasm` and `sha256` to those of `wasm`: top-level keys, written before the
/// first table of the manifest; earlier values of the two are replaced.
pub fn complete_manifest(manifest_text: &str, wasm: &[u8]) -> String {
    let sha = hex::encode(Sha256::digest(wasm));
    let lines: Vec<&str> = manifest_text.lines().collect();
    let first_table = lines
        .iter()
        .position(|l| l.trim_start().starts_with('['))
        .unwrap_or(lines.len());
    let is_ours = |line: &&str| {
        let key = line.split('=').next().unwrap_or_default().trim();
        line.contains('=') && (key == "wasm" || key == "sha256")
    };
    let head: Vec<&str> = lines[..first_table].iter().filter(|l| !is_ours(l)).copied().collect();
    let mut out = head.join("\n").trim_end().to_string();
    out.push_str(&format!("\nwasm = \"{COMPONENT}\"\nsha256 = \"{sha}\"\n"));
    if first_table < lines.len() {
        out.push('\n');
        out.push_str(&lines[first_table..].join("\n"));
        out.push('\n');
    }
    out
}

/// Writes a package of a completed manifest and its component, with the signatures given.
pub fn write(manifest_text: &str, wasm: &[u8], ed25519: Option<&[u8]>, gost: Option<&[u8]>) -> Vec<u8> {
    let mut entries: Vec<(&str, &[u8])> = vec![(MANIFEST, manifest_text.as_bytes()), (COMPONENT, wasm)];
    if let Some(signature) = ed25519 {
        entries.push((ED25519_SIGNATURE, signature));
    }
    if let Some(signature) = gost {
        entries.push((GOST_SIGNATURE, signature));
    }
    archive::write_zip(&entries)
}

/// Reads a package and checks its manifest against its component (syntax, API range, hash).
pub fn read(bytes: &[u8]) -> Result<Package, PackageError> {
    if !archive::is_zip(bytes) {
        return Err(PackageError::NotAnArchive("нет заголовка ZIP".into()));
    }
    let limits = ArchiveLimits {
        max_entries: 16,
        max_total_size: 256 << 20,
        ..ArchiveLimits::default()
    };
    let entries = archive::extract(bytes, &limits, |name| {
        [MANIFEST, COMPONENT, ED25519_SIGNATURE, GOST_SIGNATURE].contains(&name)
    })
    .map_err(|e| PackageError::NotAnArchive(e.to_string()))?;
    let take = |name: &str| entries.iter().find(|e| e.name == name).map(|e| e.bytes.clone());
    let manifest_bytes = take(MANIFEST).ok_or(PackageError::Missing(MANIFEST))?;
    let wasm = take(COMPONENT).ok_or(PackageError::Missing(COMPONENT))?;
    let manifest_text = String::from_utf8(manifest_bytes).map_err(|_| PackageError::ManifestEncoding)?;
    let manifest = Manifest::parse(&manifest_text)?;
    if manifest.wasm != COMPONENT {
        return Err(PackageError::ComponentName(manifest.wasm));
    }
    manifest.verify(&wasm)?;
    Ok(Package {
        manifest_text,
        manifest,
        wasm,
        ed25519_signature: take(ED25519_SIGNATURE),
        gost_signature: take(GOST_SIGNATURE),
    })
}

/// A new Ed25519 key pair for a vendor: the private key (PKCS#8, to keep secret) and the public
/// key in base64 (for the regions' lists of trusted keys).
pub fn generate_ed25519() -> Result<(Vec<u8>, String)> {
    use ring::signature::KeyPair;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| anyhow::anyhow!("не удалось создать ключ Ed25519"))?;
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| anyhow::anyhow!("созданный ключ Ed25519 не читается"))?;
    let public = base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref());
    Ok((pkcs8.as_ref().to_vec(), public))
}

/// The vendor's Ed25519 signature of a completed manifest, with a private key in PKCS#8.
pub fn sign_ed25519(manifest_text: &str, pkcs8: &[u8]) -> Result<Vec<u8>> {
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| anyhow::anyhow!("ключ подписи не читается: ожидается закрытый ключ Ed25519 в PKCS#8 (DER)"))?;
    Ok(pair.sign(manifest_text.as_bytes()).as_ref().to_vec())
}

/// The public key (base64) of a private Ed25519 key in PKCS#8.
pub fn ed25519_public(pkcs8: &[u8]) -> Result<String> {
    use ring::signature::KeyPair;
    let pair = ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .map_err(|_| anyhow::anyhow!("ключ подписи не читается: ожидается закрытый ключ Ed25519 в PKCS#8 (DER)"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(pair.public_key().as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST_TEXT: &str = "# vendor\nid = \"x\"\nversion = \"1.0.0\"\nkind = \"department\"\napi = \"^1.0\"\nvendor = \"v\"\nsha256 = \"old\"\n\n[config]\na = \"b\"\n";

    #[test]
    fn completes_the_manifest_before_its_tables() {
        let text = complete_manifest(MANIFEST_TEXT, b"wasm");
        let manifest = Manifest::parse(&text).unwrap();
        assert_eq!(manifest.wasm, COMPONENT);
        assert_eq!(manifest.sha256, hex::encode(Sha256::digest(b"wasm")));
        assert_eq!(manifest.config["a"], "b");
        assert_eq!(text.matches("sha256").count(), 1, "{text}");
        // Completing twice changes nothing.
        assert_eq!(complete_manifest(&text, b"wasm"), text);
    }

    #[test]
    fn reads_what_it_writes_and_refuses_what_is_not_a_package() {
        let text = complete_manifest(MANIFEST_TEXT, b"wasm");
        let (key, public) = generate_ed25519().unwrap();
        let signature = sign_ed25519(&text, &key).unwrap();
        assert_eq!(ed25519_public(&key).unwrap(), public);
        let package = read(&write(&text, b"wasm", Some(&signature), None)).unwrap();
        assert_eq!(package.manifest.id, "x");
        assert_eq!(package.wasm, b"wasm");
        assert_eq!(package.ed25519_signature.as_deref(), Some(signature.as_slice()));
        assert!(package.gost_signature.is_none());

        let tampered = read(&write(&text, b"other", None, None)).unwrap_err();
        assert!(tampered.to_string().contains("SHA-256"), "{tampered}");
        let no_wasm = archive::write_zip(&[(MANIFEST, text.as_bytes())]);
        assert!(matches!(read(&no_wasm), Err(PackageError::Missing(COMPONENT))));
        assert!(matches!(read(b"<xml/>"), Err(PackageError::NotAnArchive(_))));
    }
}
