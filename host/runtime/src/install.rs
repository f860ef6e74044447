//! Installing, upgrading, removing and rolling back the plugins of the data directory.
//!
//! Layout under `DATA_DIR/plugins/`:
//!
//! | folder | what |
//! |---|---|
//! | `<id>/` | the installed version: `plugin.toml`, `plugin.wasm`, the signature if any |
//! | `.previous/<id>/` | the version before it, kept for `rollback` (and after `remove`) |
//! | `.staging/<id>/` | a version being put in place; `READY` in it once it is whole |
//!
//! A change is a sequence of renames, each atomic, that [`recover`] finishes after a crash at any
//! point: a staged version marked `READY` is rolled forward (the installed one becomes the previous,
//! the staged one the installed), one without the mark is thrown away. So the data directory
//! always holds either the old version or the new, whole, and never half of one.
//!
//! Every package is checked before anything changes: its manifest against its component (API
//! range, SHA-256), its vendor signature against the keys the installation trusts ([`Trust`]),
//! and the component itself, compiled and asked to `describe` itself, in the running sandbox.

use crate::manifest::Manifest;
use crate::package::{self, Package};
use crate::{load_one, Origin, PluginHost};
use anyhow::{bail, Context, Result};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

const PREVIOUS: &str = ".previous";
const STAGING: &str = ".staging";
const READY: &str = "READY";
/// A file the installer touches on every change, so that other processes on the same data
/// directory (a running server, when the change came from the command line) see it.
pub const GENERATION: &str = ".generation";

/// Holds the installer's lock on the plugins folder: one change at a time across processes (a
/// server and a command on the same data directory), and no recovery while a change is running.
struct FolderLock(#[allow(dead_code)] std::fs::File);

fn lock_folder(installed_dir: &Path) -> Result<FolderLock> {
    use std::os::fd::AsRawFd;
    std::fs::create_dir_all(installed_dir).with_context(|| format!("создание {}", installed_dir.display()))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(installed_dir.join(".lock"))
        .with_context(|| format!("{}/.lock не открывается", installed_dir.display()))?;
    // SAFETY: flock(2) on a descriptor this function owns; released when the file is closed.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        anyhow::bail!(
            "блокировка {}/.lock не взята: {}",
            installed_dir.display(),
            std::io::Error::last_os_error()
        );
    }
    Ok(FolderLock(file))
}

/// The vendors an installation trusts: `DATA_DIR/plugin-trust.toml`.
///
/// ```toml
/// # Packages must carry a signature by one of the keys below.
/// require_signature = true
///
/// [[ed25519]]
/// vendor = "ООО «Вендор»"
/// key = "base64 of the 32-byte public key, as `ipra plugin keygen` prints it"
///
/// [[gost]]
/// vendor = "ГБУ «Региональный центр»"
/// certificate = "vendor.pem"   # relative to the data directory
/// ```
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trust {
    #[serde(default)]
    pub require_signature: bool,
    #[serde(default)]
    pub ed25519: Vec<TrustedKey>,
    #[serde(default)]
    pub gost: Vec<TrustedCertificate>,
    /// Where relative certificate paths are resolved.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedKey {
    pub vendor: String,
    pub key: String,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedCertificate {
    pub vendor: String,
    pub certificate: PathBuf,
}

/// The name of the trust file in the data directory.
pub const TRUST_FILE: &str = "plugin-trust.toml";

impl Trust {
    /// Reads `DATA_DIR/plugin-trust.toml`; no file means no trusted keys and no requirement.
    pub fn load(data_dir: &Path) -> Result<Trust> {
        let path = data_dir.join(TRUST_FILE);
        let mut trust: Trust = match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.message()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Trust::default(),
            Err(e) => return Err(e).with_context(|| format!("{} не читается", path.display())),
        };
        trust.base_dir = data_dir.to_path_buf();
        Ok(trust)
    }

    /// Who signed the package, by the keys trusted here: `Ok(None)` for an unsigned package where
    /// no signature is required; a refusal naming what failed otherwise.
    pub fn check(&self, package: &Package) -> Result<Option<String>> {
        let data = package.manifest_text.as_bytes();
        if let Some(signature) = &package.ed25519_signature {
            if self.ed25519.is_empty() {
                bail!("пакет подписан ключом Ed25519, но доверенных ключей Ed25519 нет ({TRUST_FILE})");
            }
            for trusted in &self.ed25519 {
                let key = base64::engine::general_purpose::STANDARD
                    .decode(trusted.key.trim())
                    .with_context(|| format!("{TRUST_FILE}: ключ поставщика «{}» не в base64", trusted.vendor))?;
                let public = ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key);
                if public.verify(data, signature).is_ok() {
                    return Ok(Some(trusted.vendor.clone()));
                }
            }
            bail!(
                "подпись пакета (Ed25519) не подтверждается ни одним доверенным ключом ({TRUST_FILE}): пакет изменён после подписи или подписан чужим ключом"
            );
        }
        if let Some(signature) = &package.gost_signature {
            if self.gost.is_empty() {
                bail!("пакет подписан ГОСТ Р 34.10-2012, но доверенных сертификатов нет ({TRUST_FILE})");
            }
            let mut last = String::new();
            for trusted in &self.gost {
                let options = ipra_signing::VerifyOptions {
                    signer_certificate: Some(self.base_dir.join(&trusted.certificate)),
                    ..Default::default()
                };
                match ipra_signing::verify(data, signature, &options) {
                    Ok(_) => return Ok(Some(trusted.vendor.clone())),
                    Err(e) => last = e.to_string(),
                }
            }
            bail!("подпись пакета (ГОСТ Р 34.10-2012) не подтверждается доверенными сертификатами: {last}");
        }
        if self.require_signature {
            bail!("пакет не подписан, а установка требует подписи поставщика ({TRUST_FILE}: require_signature)");
        }
        Ok(None)
    }
}

/// Install a new plugin, or upgrade one installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Install,
    Upgrade,
}

/// What a change did, for the audit log and the reply.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub id: String,
    /// The version now in effect (`None` after removing a plugin that no built-in replaces).
    pub version: Option<String>,
    /// The version it replaced.
    pub replaced: Option<String>,
    /// The vendor whose signature was checked, if the package was signed.
    pub signed_by: Option<String>,
}

impl PluginHost {
    fn installed_path(&self, id: &str) -> PathBuf {
        self.installed_dir.join(id)
    }

    /// A change is in place: other processes are told (`.generation`), the locks released, and
    /// this process takes the new set of plugins.
    fn take_effect(&self, folder: FolderLock, one: std::sync::MutexGuard<'_, ()>) {
        touch_generation(&self.installed_dir);
        drop(folder);
        drop(one);
        self.rescan();
    }

    /// Checks a package and puts it in place: `Install` refuses an id already installed,
    /// `Upgrade` one not installed or a version not newer. Takes effect at once.
    pub fn install_package(&self, bytes: &[u8], mode: Mode, trust: &Trust) -> Result<Change> {
        let package = package::read(bytes)?;
        let signed_by = trust.check(&package)?;
        let id = package.manifest.id.clone();
        let one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let folder = lock_folder(&self.installed_dir)?;
        recover_locked(&self.installed_dir);
        let installed = read_manifest(&self.installed_path(&id));
        match (mode, &installed) {
            (Mode::Install, Some(current)) => bail!(
                "плагин «{id}» уже установлен (версия {}): для новой версии используйте обновление (ipra plugins upgrade)",
                current.version
            ),
            (Mode::Upgrade, None) => {
                bail!("плагин «{id}» не установлен: обновлять нечего (ipra plugins install)")
            }
            (Mode::Upgrade, Some(current)) => {
                let (new, old) = (version(&package.manifest)?, version(current)?);
                if new <= old {
                    bail!(
                        "версия {new} плагина «{id}» не новее установленной {old}: обновление только вперёд, для возврата есть откат (ipra plugins rollback {id})"
                    );
                }
            }
            (Mode::Install, None) => {}
        }
        if let Some(builtin) = self.builtin.iter().find(|p| p.id() == id) {
            if mode == Mode::Install && version(&package.manifest)? <= version(&builtin.manifest)? {
                bail!(
                    "плагин «{id}» встроен в сервер в версии {}; пакет версии {} не новее",
                    builtin.manifest.version,
                    package.manifest.version
                );
            }
        }
        // The component must load and describe itself as its manifest says, before anything moves.
        load_one(
            &self.sandbox,
            &self.bounds,
            package.manifest.clone(),
            &package.wasm,
            Origin::Installed(self.installed_path(&id)),
        )
        .context("компонент пакета не загружается")?;
        let replaced = installed.map(|m| m.version).or_else(|| {
            self.builtin
                .iter()
                .find(|p| p.id() == id)
                .map(|p| p.manifest.version.clone())
        });
        let mut files: Vec<(&str, &[u8])> = vec![
            (package::MANIFEST, package.manifest_text.as_bytes()),
            (package::COMPONENT, &package.wasm),
        ];
        if let Some(signature) = &package.ed25519_signature {
            files.push((package::ED25519_SIGNATURE, signature));
        }
        if let Some(signature) = &package.gost_signature {
            files.push((package::GOST_SIGNATURE, signature));
        }
        stage(&self.installed_dir, &id, &files)?;
        roll_forward(&self.installed_dir, &id)?;
        self.take_effect(folder, one);
        Ok(Change {
            id,
            version: Some(package.manifest.version),
            replaced,
            signed_by,
        })
    }

    /// Takes an installed plugin out of service; its files are kept for `rollback`. A built-in
    /// plugin of the same id serves again; a built-in plugin alone cannot be removed (disable it).
    pub fn remove_installed(&self, id: &str) -> Result<Change> {
        let one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let folder = lock_folder(&self.installed_dir)?;
        recover_locked(&self.installed_dir);
        let path = self.installed_path(id);
        let Some(current) = read_manifest(&path) else {
            if self.builtin.iter().any(|p| p.id() == id) {
                bail!("плагин «{id}» встроен в сервер и не удаляется: его можно отключить (ipra plugins disable {id})");
            }
            bail!("плагин «{id}» не установлен");
        };
        let previous = self.installed_dir.join(PREVIOUS);
        std::fs::create_dir_all(&previous)?;
        remove_dir(&previous.join(id))?;
        std::fs::rename(&path, previous.join(id)).with_context(|| format!("перенос {}", path.display()))?;
        sync_dir(&previous);
        sync_dir(&self.installed_dir);
        self.take_effect(folder, one);
        Ok(Change {
            id: id.to_string(),
            version: self
                .builtin
                .iter()
                .find(|p| p.id() == id)
                .map(|p| p.manifest.version.clone()),
            replaced: Some(current.version),
            signed_by: None,
        })
    }

    /// Puts the kept previous version back in place (the current one becomes the kept one, so a
    /// second rollback undoes the first).
    pub fn rollback(&self, id: &str) -> Result<Change> {
        let one = self.changing.lock().unwrap_or_else(|e| e.into_inner());
        let folder = lock_folder(&self.installed_dir)?;
        recover_locked(&self.installed_dir);
        let kept = self.installed_dir.join(PREVIOUS).join(id);
        let Some(previous) = read_manifest(&kept) else {
            bail!("для плагина «{id}» нет сохранённой предыдущей версии: откатывать не к чему");
        };
        // The kept version is checked like a new package: its files may have been touched.
        let wasm = std::fs::read(kept.join(&previous.wasm))
            .with_context(|| format!("файл компонента предыдущей версии «{id}» не читается"))?;
        load_one(
            &self.sandbox,
            &self.bounds,
            previous.clone(),
            &wasm,
            Origin::Installed(self.installed_path(id)),
        )
        .context("предыдущая версия не загружается")?;
        let names = files_of(&kept)?;
        let contents: Vec<(String, Vec<u8>)> = names
            .into_iter()
            .map(|name| std::fs::read(kept.join(&name)).map(|bytes| (name, bytes)))
            .collect::<std::io::Result<_>>()?;
        let files: Vec<(&str, &[u8])> = contents.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
        let current = read_manifest(&self.installed_path(id)).map(|m| m.version);
        stage(&self.installed_dir, id, &files)?;
        roll_forward(&self.installed_dir, id)?;
        self.take_effect(folder, one);
        Ok(Change {
            id: id.to_string(),
            version: Some(previous.version),
            replaced: current,
            signed_by: None,
        })
    }
}

/// The version kept for rollback of plugin `id`, if any.
pub fn previous_version(installed_dir: &Path, id: &str) -> Option<String> {
    read_manifest(&installed_dir.join(PREVIOUS).join(id)).map(|m| m.version)
}

/// What `plugins/.generation` says now (changes whenever the installed plugins change).
pub fn generation(installed_dir: &Path) -> Option<String> {
    std::fs::read_to_string(installed_dir.join(GENERATION)).ok()
}

fn touch_generation(installed_dir: &Path) {
    let stamp = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    );
    let tmp = installed_dir.join(format!("{GENERATION}.tmp"));
    if std::fs::write(&tmp, stamp).is_ok() {
        let _ = std::fs::rename(&tmp, installed_dir.join(GENERATION));
    }
}

fn version(manifest: &Manifest) -> Result<semver::Version> {
    semver::Version::parse(&manifest.version)
        .with_context(|| format!("версия «{}» не соответствует semver", manifest.version))
}

fn read_manifest(folder: &Path) -> Option<Manifest> {
    let text = std::fs::read_to_string(folder.join(package::MANIFEST)).ok()?;
    Manifest::parse(&text).ok()
}

fn files_of(folder: &Path) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(folder)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Writes the files of a version into `.staging/<id>/`, each synced, then the `READY` mark.
fn stage(installed_dir: &Path, id: &str, files: &[(&str, &[u8])]) -> Result<()> {
    use std::io::Write;
    let staging = installed_dir.join(STAGING).join(id);
    remove_dir(&staging)?;
    std::fs::create_dir_all(&staging).with_context(|| format!("создание {}", staging.display()))?;
    for (name, bytes) in files {
        let mut file = std::fs::File::create(staging.join(name))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::crashpoint::here("plugin.staging");
    }
    sync_dir(&staging);
    std::fs::File::create(staging.join(READY))?.sync_all()?;
    sync_dir(&staging);
    crate::crashpoint::here("plugin.staged");
    Ok(())
}

/// Moves a `READY` staged version into place: the installed one (if any) becomes the kept
/// previous one. Each step is a rename; run again after a crash, it finishes what was begun.
fn roll_forward(installed_dir: &Path, id: &str) -> Result<()> {
    let staging = installed_dir.join(STAGING).join(id);
    let current = installed_dir.join(id);
    let previous_dir = installed_dir.join(PREVIOUS);
    let previous = previous_dir.join(id);
    if current.exists() {
        std::fs::create_dir_all(&previous_dir)?;
        remove_dir(&previous)?;
        std::fs::rename(&current, &previous).with_context(|| format!("перенос {}", current.display()))?;
        sync_dir(&previous_dir);
        crate::crashpoint::here("plugin.set-aside");
    }
    std::fs::rename(&staging, &current).with_context(|| format!("перенос {}", staging.display()))?;
    let _ = std::fs::remove_file(current.join(READY));
    sync_dir(installed_dir);
    Ok(())
}

/// Finishes or undoes what a crash interrupted (see the module's documentation).
pub fn recover(installed_dir: &Path) {
    if !installed_dir.join(STAGING).is_dir() {
        return;
    }
    match lock_folder(installed_dir) {
        Ok(_lock) => recover_locked(installed_dir),
        Err(e) => tracing::error!("could not recover interrupted plugin changes: {e:#}"),
    }
}

fn recover_locked(installed_dir: &Path) {
    let staging = installed_dir.join(STAGING);
    let Ok(entries) = std::fs::read_dir(&staging) else {
        return;
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let id = entry.file_name().to_string_lossy().into_owned();
        let outcome = if entry.path().join(READY).is_file() {
            tracing::warn!(plugin = %id, "finishing a plugin change a stop interrupted");
            roll_forward(installed_dir, &id)
        } else {
            tracing::warn!(plugin = %id, "dropping a plugin change a stop interrupted before it was whole");
            remove_dir(&entry.path())
        };
        if let Err(e) = outcome {
            tracing::error!(plugin = %id, "could not recover an interrupted plugin change: {e:#}");
        }
    }
    // A ready mark left in an installed folder by a stop right after the last rename.
    if let Ok(entries) = std::fs::read_dir(installed_dir) {
        for entry in entries.filter_map(|e| e.ok()) {
            let _ = std::fs::remove_file(entry.path().join(READY));
        }
    }
}

fn remove_dir(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("удаление {}", path.display())),
    }
}

fn sync_dir(path: &Path) {
    if let Ok(dir) = std::fs::File::open(path) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version_folder(dir: &Path, version: &str) {
        std::fs::create_dir_all(dir).unwrap();
        let text = format!(
            "id = \"x\"\nversion = \"{version}\"\nkind = \"department\"\napi = \"^1.0\"\nvendor = \"v\"\nsha256 = \"{}\"\n",
            "0".repeat(64)
        );
        std::fs::write(dir.join("plugin.toml"), text).unwrap();
    }

    /// A crash at each step of a change leaves the old version or the new, and recovery finishes.
    #[test]
    fn recovery_rolls_a_ready_change_forward_and_drops_an_unfinished_one() {
        let root = std::env::temp_dir().join(format!("ipra-install-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // Staged and ready, nothing moved yet.
        version_folder(&root.join("x"), "1.0.0");
        stage(&root, "x", &[("plugin.toml", b"id = \"x\"\nversion = \"2.0.0\"\nkind = \"department\"\napi = \"^1.0\"\nvendor = \"v\"\nsha256 = \"00\"\n")]).unwrap();
        recover(&root);
        assert_eq!(read_manifest(&root.join("x")).unwrap().version, "2.0.0");
        assert_eq!(previous_version(&root, "x").as_deref(), Some("1.0.0"));
        // Stopped after the installed version was moved aside, before the new one moved in.
        stage(&root, "x", &[("plugin.toml", b"id = \"x\"\nversion = \"3.0.0\"\nkind = \"department\"\napi = \"^1.0\"\nvendor = \"v\"\nsha256 = \"00\"\n")]).unwrap();
        remove_dir(&root.join(PREVIOUS).join("x")).unwrap();
        std::fs::rename(root.join("x"), root.join(PREVIOUS).join("x")).unwrap();
        recover(&root);
        assert_eq!(read_manifest(&root.join("x")).unwrap().version, "3.0.0");
        assert_eq!(previous_version(&root, "x").as_deref(), Some("2.0.0"));
        // Stopped while staging: the mark is missing, the installed version stays.
        std::fs::create_dir_all(root.join(STAGING).join("x")).unwrap();
        std::fs::write(root.join(STAGING).join("x").join("plugin.toml"), "half").unwrap();
        recover(&root);
        assert_eq!(read_manifest(&root.join("x")).unwrap().version, "3.0.0");
        assert!(!root.join(STAGING).join("x").exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn an_unsigned_package_passes_only_where_no_signature_is_required() {
        let text = package::complete_manifest(
            "id = \"x\"\nversion = \"1.0.0\"\nkind = \"department\"\napi = \"^1.0\"\nvendor = \"v\"\n",
            b"wasm",
        );
        let unsigned = package::read(&package::write(&text, b"wasm", None, None)).unwrap();
        assert_eq!(Trust::default().check(&unsigned).unwrap(), None);
        let strict = Trust {
            require_signature: true,
            ..Trust::default()
        };
        let err = strict.check(&unsigned).unwrap_err().to_string();
        assert!(err.contains("не подписан"), "{err}");

        let (key, public) = package::generate_ed25519().unwrap();
        let (_, stranger) = package::generate_ed25519().unwrap();
        let signature = package::sign_ed25519(&text, &key).unwrap();
        let signed = package::read(&package::write(&text, b"wasm", Some(&signature), None)).unwrap();
        let trusting = |key: &str| Trust {
            require_signature: true,
            ed25519: vec![TrustedKey {
                vendor: "ООО «Вендор»".into(),
                key: key.into(),
            }],
            ..Trust::default()
        };
        assert_eq!(
            trusting(&public).check(&signed).unwrap().as_deref(),
            Some("ООО «Вендор»")
        );
        let err = trusting(&stranger).check(&signed).unwrap_err().to_string();
        assert!(err.contains("не подтверждается"), "{err}");
    }
}
