//! The plugin runtime of the IPRA execution server: the plugins of an installation (the first-party
//! ones the binary carries plus those installed in the data directory's `plugins/` folder; manifests
//! checked, enablement per installation), the sandbox they run in, and the interface versions it
//! serves. This crate alone names wasmtime and the types generated from the WIT: what crosses the
//! boundary is in the host's own types (`model`), converted by `adapter`.

mod adapter;
pub mod crashpoint;
pub mod install;
pub mod jobs;
pub mod lookups;
pub mod manifest;
pub mod model;
pub mod package;
pub mod runtime;
pub mod stats;

use anyhow::{Context, Result};
use lookups::Lookups;
use manifest::Manifest;

use runtime::{Bounds, CallContext, CallError, Limits, Prepared, Sandbox};
use serde::Serialize;
use stats::{Figures, Hook, Outcome};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// A first-party plugin compiled into the binary (by the host's `build.rs`).
pub struct BuiltinPlugin {
    pub manifest: &'static str,
    pub wasm: &'static [u8],
}

/// Where a plugin came from.
#[derive(Clone, Debug)]
pub enum Origin {
    Builtin,
    Installed(PathBuf),
}

/// A plugin ready to be called: manifest checked, component compiled and linked.
pub struct LoadedPlugin {
    pub manifest: Manifest,
    pub info: model::PluginInfo,
    pub origin: Origin,
    /// The limits its calls run with: what its manifest asks, within the installation's bounds.
    pub limits: Limits,
    pre: Prepared,
}

impl LoadedPlugin {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn is_department(&self) -> bool {
        self.manifest.kind == "department"
    }
}

/// A plugin found but not loaded, with the reason an administrator can act on.
#[derive(Clone, Debug, Serialize)]
pub struct Refused {
    pub path: String,
    pub id: Option<String>,
    pub reason: String,
}

/// One row of `ipra plugins list`.
#[derive(Clone, Debug, Serialize)]
pub struct PluginSummary {
    pub id: String,
    pub name: String,
    pub version: String,
    pub kind: String,
    pub api: String,
    /// The interface version the component was built against (e.g. `1.0.0`), read from it.
    pub interface: String,
    pub vendor: String,
    pub sha256: String,
    pub origin: String,
    pub enabled: bool,
    pub sections: Vec<String>,
    pub document_types: Vec<String>,
    /// Kinds of document the manifest says it reads and writes.
    pub reads: Vec<String>,
    pub writes: Vec<String>,
    /// Memory (MiB) and time (ms) per call granted, and what a failed call does.
    pub memory_mib: usize,
    pub time_ms: u128,
    pub on_failure: manifest::FailurePolicy,
    /// The version kept for `rollback`, if any.
    pub previous_version: Option<String>,
}

/// All plugins of the installation and the sandbox they run in. The set of plugins changes while
/// the server runs (install, upgrade, remove, rollback): a call holds its own `Arc` of the plugin
/// it runs, so calls in flight finish on the version they started with.
pub struct PluginHost {
    sandbox: Arc<Sandbox>,
    bounds: Bounds,
    builtin: Vec<Arc<LoadedPlugin>>,
    installed_dir: PathBuf,
    plugins: RwLock<Arc<[Arc<LoadedPlugin>]>>,
    refused: RwLock<Vec<Refused>>,
    enabled: RwLock<HashMap<String, bool>>,
    lookups: RwLock<Arc<dyn Lookups>>,
    figures: Figures,
    /// Held by whoever changes the installed plugins (one change at a time).
    changing: std::sync::Mutex<()>,
}

impl PluginHost {
    /// Loads the built-in plugins and those installed under `installed_dir`.
    pub fn load(
        builtin: &[BuiltinPlugin],
        installed_dir: &Path,
        cache_dir: Option<PathBuf>,
        bounds: Bounds,
    ) -> Result<PluginHost> {
        let sandbox = Sandbox::new(cache_dir)?;
        let mut loaded_builtin = Vec::new();
        for builtin in builtin {
            let manifest = Manifest::parse(builtin.manifest).context("манифест встроенного плагина")?;
            let loaded = load_one(&sandbox, &bounds, manifest, builtin.wasm, Origin::Builtin)
                .context("встроенный плагин не загрузился")?;
            loaded_builtin.push(Arc::new(loaded));
        }
        let host = PluginHost {
            sandbox,
            bounds,
            builtin: loaded_builtin,
            installed_dir: installed_dir.to_path_buf(),
            plugins: RwLock::new(Arc::new([])),
            refused: RwLock::new(Vec::new()),
            enabled: RwLock::new(HashMap::new()),
            lookups: RwLock::new(Arc::new(lookups::NoLookups)),
            figures: Figures::default(),
            changing: std::sync::Mutex::new(()),
        };
        install::recover(installed_dir);
        host.rescan();
        Ok(host)
    }

    /// Reads the installed plugins again (after an install, upgrade, remove or rollback, here or
    /// by another process): a plugin whose folder and component are unchanged is kept as loaded,
    /// a changed one is loaded anew, and the new set replaces the old at once.
    pub fn rescan(&self) {
        let current = self.all();
        let mut plugins: Vec<Arc<LoadedPlugin>> = self.builtin.clone();
        let mut refused = Vec::new();
        for (path, outcome) in scan_installed(&self.sandbox, &self.bounds, &self.installed_dir, &current) {
            match outcome {
                Ok(loaded) => {
                    // An installed plugin with the id of a built-in one replaces it (vendor update).
                    plugins.retain(|p| p.id() != loaded.id());
                    plugins.push(loaded);
                }
                Err((id, reason)) => {
                    tracing::warn!(path = %path.display(), "plugin refused: {reason}");
                    refused.push(Refused {
                        path: path.display().to_string(),
                        id,
                        reason,
                    });
                }
            }
        }
        plugins.sort_by(|a, b| a.id().cmp(b.id()));
        if let Ok(mut current) = self.plugins.write() {
            *current = plugins.into();
        }
        if let Ok(mut current) = self.refused.write() {
            *current = refused;
        }
    }

    /// The installation's bounds of plugin limits.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The figures of every plugin's calls.
    pub fn figures(&self) -> &Figures {
        &self.figures
    }

    /// Applies the persisted choices; plugins without one use their default
    /// (built-in: enabled, installed: disabled until an administrator enables them).
    pub fn set_enablement(&self, choices: HashMap<String, bool>) {
        if let Ok(mut enabled) = self.enabled.write() {
            *enabled = choices;
        }
    }

    pub fn set_lookups(&self, lookups: Arc<dyn Lookups>) {
        if let Ok(mut current) = self.lookups.write() {
            *current = lookups;
        }
    }

    pub fn is_enabled(&self, plugin: &LoadedPlugin) -> bool {
        let choice = self.enabled.read().ok().and_then(|m| m.get(plugin.id()).copied());
        choice.unwrap_or(matches!(plugin.origin, Origin::Builtin))
    }

    pub fn get(&self, id: &str) -> Option<Arc<LoadedPlugin>> {
        self.all().iter().find(|p| p.id() == id).cloned()
    }

    /// The plugins as they are now (a later change does not alter what this returned).
    pub fn all(&self) -> Arc<[Arc<LoadedPlugin>]> {
        self.plugins
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    pub fn refused(&self) -> Vec<Refused> {
        self.refused
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Enabled department plugins, in id order.
    pub fn enabled_departments(&self) -> Vec<Arc<LoadedPlugin>> {
        self.all()
            .iter()
            .filter(|p| p.is_department() && self.is_enabled(p))
            .cloned()
            .collect()
    }

    /// The enabled connectors whose manifests say they read documents of `kind` (`ipra-extract`,
    /// `death-record`, …; see `manifest::DOCUMENT_KINDS`), by id.
    pub fn connectors_reading(&self, kind: &str) -> Vec<Arc<LoadedPlugin>> {
        self.connectors(&|m: &Manifest| m.reads.iter().any(|k| k == kind))
    }

    /// The connector that reads documents of `kind` when nobody says which: the first enabled one
    /// by id, or a message an administrator can act on.
    pub fn connector_reading(&self, kind: &str) -> Result<Arc<LoadedPlugin>> {
        self.first_connector(kind, "читающего", |m| m.reads.iter().any(|k| k == kind))
    }

    /// The connector that writes documents of `kind` (`execution-report`, …).
    pub fn connector_writing(&self, kind: &str) -> Result<Arc<LoadedPlugin>> {
        self.first_connector(kind, "готовящего", |m| m.writes.iter().any(|k| k == kind))
    }

    /// The first enabled connector that declares `kind`; else why none, naming a disabled one.
    fn first_connector(
        &self,
        kind: &str,
        does: &str,
        declares: impl Fn(&Manifest) -> bool,
    ) -> Result<Arc<LoadedPlugin>> {
        if let Some(found) = self.connectors(&declares).into_iter().next() {
            return Ok(found);
        }
        match self.all().iter().find(|p| !p.is_department() && declares(&p.manifest)) {
            Some(disabled) => anyhow::bail!(
                "коннектор «{}» ({does} документы вида «{kind}») отключён: включите его (ipra plugins enable {})",
                disabled.id(),
                disabled.id()
            ),
            None => anyhow::bail!("нет коннектора, {does} документы вида «{kind}» (ipra plugins list)"),
        }
    }

    fn connectors(&self, declares: &impl Fn(&Manifest) -> bool) -> Vec<Arc<LoadedPlugin>> {
        let mut found: Vec<Arc<LoadedPlugin>> = self
            .all()
            .iter()
            .filter(|p| !p.is_department() && self.is_enabled(p) && declares(&p.manifest))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.id().cmp(b.id()));
        found
    }

    pub fn summaries(&self) -> Vec<PluginSummary> {
        self.all()
            .iter()
            .map(|p| PluginSummary {
                id: p.manifest.id.clone(),
                name: p.info.name.clone(),
                version: p.manifest.version.clone(),
                kind: p.manifest.kind.clone(),
                api: p.manifest.api.clone(),
                interface: p.pre.api().version().to_string(),
                vendor: p.manifest.vendor.clone(),
                sha256: p.manifest.sha256.clone(),
                origin: match &p.origin {
                    Origin::Builtin => "builtin".into(),
                    Origin::Installed(path) => path.display().to_string(),
                },
                enabled: self.is_enabled(p),
                sections: p.info.sections.clone(),
                document_types: p.info.document_types.clone(),
                reads: p.manifest.reads.clone(),
                writes: p.manifest.writes.clone(),
                memory_mib: p.limits.memory_bytes >> 20,
                time_ms: p.limits.time.as_millis(),
                on_failure: p.manifest.failure_policy(),
                previous_version: install::previous_version(&self.installed_dir, p.id()),
            })
            .collect()
    }

    fn context(&self, plugin: &LoadedPlugin) -> CallContext {
        let lookups = self
            .lookups
            .read()
            .map(|l| l.clone())
            .unwrap_or_else(|e| e.into_inner().clone());
        CallContext {
            plugin_id: plugin.id().into(),
            config: Arc::new(plugin.manifest.config.clone()),
            allowed_lookups: plugin.manifest.lookups.clone().into(),
            lookups,
            limits: plugin.limits,
        }
    }

    /// One call of `hook`, counted in the figures.
    fn timed<T>(
        &self,
        plugin: &LoadedPlugin,
        hook: Hook,
        call: impl FnOnce(
            &runtime::Hooks,
            &mut wasmtime::Store<runtime::CallState>,
        ) -> wasmtime::Result<Result<T, model::PluginError>>,
    ) -> CallOutcome<T> {
        self.figures.begin(plugin.id());
        let started = std::time::Instant::now();
        let outcome = self.sandbox.call(&plugin.pre, &self.context(plugin), call);
        let ended = match &outcome {
            Ok(Ok(_)) => Outcome::Ok,
            Ok(Err(_)) => Outcome::Refused,
            Err(_) => Outcome::Failed,
        };
        self.figures.record(plugin.id(), hook, ended, started.elapsed());
        outcome
    }

    pub fn import(
        &self,
        plugin: &LoadedPlugin,
        input: model::ImportInput,
    ) -> Result<Result<model::ImportOutput, model::PluginError>, CallError> {
        self.timed(plugin, Hook::Import, |p, store| p.call_import(store, input))
    }

    /// `import` of an input the caller keeps for further calls (moved in and back, never copied).
    pub fn import_keeping(
        &self,
        plugin: &LoadedPlugin,
        input: &mut model::ImportInput,
    ) -> Result<Result<model::ImportOutput, model::PluginError>, CallError> {
        self.timed(plugin, Hook::Import, |p, store| p.call_import_keeping(store, input))
    }

    pub fn execute(
        &self,
        plugin: &LoadedPlugin,
        input: model::ExecuteInput,
    ) -> Result<Result<model::ExecuteOutput, model::PluginError>, CallError> {
        self.timed(plugin, Hook::Execute, |p, store| p.call_execute(store, input))
    }

    pub fn export(
        &self,
        plugin: &LoadedPlugin,
        input: model::ExportInput,
    ) -> Result<Result<Vec<model::Document>, model::PluginError>, CallError> {
        self.timed(plugin, Hook::Export, |p, store| p.call_export(store, input))
    }

    pub fn describe(&self, plugin: &LoadedPlugin) -> Result<model::PluginInfo, CallError> {
        match self.timed(plugin, Hook::Describe, |p, store| p.call_describe(store).map(Ok)) {
            Ok(Ok(info)) => Ok(info),
            // `describe` has no typed error; this arm is never taken.
            Ok(Err(e)) => Err(CallError::Trap {
                plugin: plugin.id().into(),
                detail: e.message,
            }),
            Err(e) => Err(e),
        }
    }
}

/// An incoming document (a file, a message body) for a connector's `import`. When its bytes are
/// UTF-8 the media type says so with `; charset=utf-8`: the host has checked them here, natively
/// and with the widest SIMD of the machine, and the plugin need not check them again in the
/// sandbox, where the same check costs about three times as much (see `document.media-type` in
/// the interface). A charset the media type came with is dropped: only the host's own check is
/// passed on.
pub fn incoming_document(name: String, media_type: &str, bytes: Vec<u8>) -> model::Document {
    let essence = media_type.split(';').next().unwrap_or_default().trim();
    let media_type = if simdutf8::basic::from_utf8(&bytes).is_ok() {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_string()
    };
    model::Document {
        name,
        media_type,
        bytes,
    }
}

/// What a plugin call gives: the plugin's answer (its value or its typed error) or a sandbox failure.
pub type CallOutcome<T> = Result<Result<T, model::PluginError>, CallError>;

impl PluginHost {
    /// Runs a plugin call on a blocking thread, so that the async runtime goes on serving meanwhile.
    pub async fn call_async<T: Send + 'static>(
        self: &Arc<Self>,
        plugin: Arc<LoadedPlugin>,
        call: impl FnOnce(&PluginHost, &LoadedPlugin) -> CallOutcome<T> + Send + 'static,
    ) -> CallOutcome<T> {
        let host = self.clone();
        let id = plugin.id().to_string();
        tokio::task::spawn_blocking(move || call(&host, &plugin))
            .await
            .unwrap_or_else(|e| {
                Err(CallError::Trap {
                    plugin: id,
                    detail: e.to_string(),
                })
            })
    }
}

/// The plugin's value, or its error (typed, or a sandbox failure) as a Russian message.
pub fn answer<T>(outcome: CallOutcome<T>) -> Result<T> {
    match outcome {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => anyhow::bail!(
            "{}{}",
            e.message,
            e.field.map(|f| format!(" (поле «{f}»)")).unwrap_or_default()
        ),
        Err(call) => Err(call.into()),
    }
}

/// Checks, compiles and describes one plugin; its `describe` must agree with its manifest.
fn load_one(
    sandbox: &Arc<Sandbox>,
    bounds: &Bounds,
    manifest: Manifest,
    wasm: &[u8],
    origin: Origin,
) -> Result<LoadedPlugin> {
    manifest.verify(wasm)?;
    let pre = sandbox.prepare(wasm, &manifest.sha256)?;
    let limits = bounds.grant(&manifest.limits);
    let ctx = CallContext {
        plugin_id: manifest.id.as_str().into(),
        config: Arc::new(manifest.config.clone()),
        allowed_lookups: Arc::new([]),
        lookups: Arc::new(lookups::NoLookups),
        limits,
    };
    let info = sandbox.call(&pre, &ctx, |p, store| p.call_describe(store))?;
    if info.id != manifest.id {
        anyhow::bail!("плагин называет себя «{}», а манифест — «{}»", info.id, manifest.id);
    }
    let kind = match info.kind {
        model::PluginKind::Department => "department",
        model::PluginKind::Connector => "connector",
    };
    if kind != manifest.kind {
        anyhow::bail!("плагин сообщает вид «{kind}», а манифест — «{}»", manifest.kind);
    }
    Ok(LoadedPlugin {
        manifest,
        info,
        origin,
        limits,
        pre,
    })
}

type ScanOutcome = Result<Arc<LoadedPlugin>, (Option<String>, String)>;

/// Every `plugins/<folder>/plugin.toml` of the data directory (folders whose name starts with a
/// dot are the installer's own), each loaded or refused; one already `loaded` from the same
/// folder with the same component hash is kept as it is.
fn scan_installed(
    sandbox: &Arc<Sandbox>,
    bounds: &Bounds,
    dir: &Path,
    loaded: &[Arc<LoadedPlugin>],
) -> Vec<(PathBuf, ScanOutcome)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut manifests: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path().join("plugin.toml"))
        .filter(|p| p.is_file())
        .collect();
    manifests.sort();
    manifests
        .into_iter()
        .map(|path| {
            let outcome = (|| {
                let text = std::fs::read_to_string(&path).map_err(|e| (None, format!("не читается: {e}")))?;
                let manifest = Manifest::parse(&text).map_err(|e| (None, e.to_string()))?;
                let id = Some(manifest.id.clone());
                let folder = path.parent().unwrap_or(dir);
                let wasm_path = folder.join(&manifest.wasm);
                if manifest.wasm.contains('/') || manifest.wasm.contains("..") {
                    return Err((
                        id,
                        format!("файл компонента «{}» должен лежать рядом с манифестом", manifest.wasm),
                    ));
                }
                let unchanged = loaded.iter().find(|p| {
                    matches!(&p.origin, Origin::Installed(f) if f == folder)
                        && p.manifest.sha256.eq_ignore_ascii_case(&manifest.sha256)
                        && p.manifest.id == manifest.id
                        && p.manifest.version == manifest.version
                });
                if let Some(same) = unchanged {
                    return Ok(same.clone());
                }
                let wasm = std::fs::read(&wasm_path).map_err(|e| {
                    (
                        id.clone(),
                        format!("файл компонента {} не читается: {e}", wasm_path.display()),
                    )
                })?;
                load_one(
                    sandbox,
                    bounds,
                    manifest,
                    &wasm,
                    Origin::Installed(folder.to_path_buf()),
                )
                .map(Arc::new)
                .map_err(|e| (id, format!("{e:#}")))
            })();
            (path, outcome)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::incoming_document;

    #[test]
    fn incoming_documents_say_utf8_only_when_the_host_checked_it() {
        let utf8 = incoming_document("a.xml".into(), "application/xml", "<a>Я</a>".into());
        assert_eq!(utf8.media_type, "application/xml; charset=utf-8");
        assert!(ipra_plugin_sdk::xml::host_checked_utf8(&utf8.media_type));
        // A charset given from outside is never passed on: the bytes decide.
        let cp1251 = incoming_document(
            "b.xml".into(),
            "application/xml; charset=utf-8",
            b"<a>\xdf</a>".to_vec(),
        );
        assert_eq!(cp1251.media_type, "application/xml");
        let zip = incoming_document("c.zip".into(), "application/zip", b"PK\x03\x04\xff\xfe".to_vec());
        assert_eq!(zip.media_type, "application/zip");
    }
}
