//! What every command works on: the data directory, the migrated database, the plugins with
//! their enablement and look-ups, and the reference snapshot.

use crate::db::{self, Db};
use crate::plugins::install::{self, Change, Mode, Trust};
use crate::plugins::{BuiltinPlugin, PluginHost};
use crate::register::directory::RegisterLookups;
use crate::register::reference::{self, ReferenceSnapshot};
use anyhow::{Context, Result};
use sqlx::Row;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct App {
    pub data_dir: PathBuf,
    pub db: Db,
    pub plugins: Arc<PluginHost>,
    /// What statistics and the dashboard count, in memory (loaded on first use).
    pub facts: Arc<crate::register::facts::FactsIndex>,
    reference: Arc<RwLock<Arc<ReferenceSnapshot>>>,
}

impl App {
    /// Opens the store named by `database` (or the SQLite file in `data_dir`) and loads plugins:
    /// `builtin`, the ones the binary carries, and those installed in the data directory.
    pub async fn open(data_dir: &Path, database: Option<&str>, builtin: &'static [BuiltinPlugin]) -> Result<App> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("создание каталога данных {}", data_dir.display()))?;
        db::storage::watch(data_dir);
        let url = database
            .map(str::to_string)
            .unwrap_or_else(|| db::default_url(data_dir));
        let db = Db::open(&url).await?;
        reference::seed_shipped(&db).await?;
        backfill_search_names(&db).await?;
        let reference = Arc::new(ReferenceSnapshot::load(&db).await?);
        // The compiled-component cache may be shared between data directories (tests do).
        let settings = crate::config::current();
        let cache = settings
            .config
            .plugins
            .cache
            .clone()
            .unwrap_or_else(|| data_dir.join("cache").join("plugins"));
        let installed = data_dir.join("plugins");
        let bounds = settings.plugin_bounds()?;
        let plugins =
            tokio::task::spawn_blocking(move || PluginHost::load(builtin, &installed, Some(cache), bounds)).await??;
        plugins.set_enablement(load_enablement(&db).await?);
        let reference = Arc::new(RwLock::new(reference));
        let app = App {
            data_dir: data_dir.to_path_buf(),
            db,
            plugins: Arc::new(plugins),
            facts: Arc::default(),
            reference,
        };
        app.refresh_lookups().await?;
        Ok(app)
    }

    /// Gives plugins a fresh in-memory view of the directory and routing rules after a change.
    pub async fn refresh_lookups(&self) -> Result<()> {
        let lookups = RegisterLookups::load(&self.db, self.reference()).await?;
        self.plugins.set_lookups(Arc::new(lookups));
        Ok(())
    }

    /// The current version of every reference list.
    pub fn reference(&self) -> Arc<ReferenceSnapshot> {
        self.reference
            .read()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Re-reads the reference lists after an administrator's change and passes them to plugins.
    pub async fn reload_reference(&self) -> Result<()> {
        let fresh = Arc::new(ReferenceSnapshot::load(&self.db).await?);
        if let Ok(mut current) = self.reference.write() {
            *current = fresh;
        }
        self.refresh_lookups().await
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.data_dir.join("quarantine")
    }

    /// Persists an administrator's choice and applies it at once.
    pub async fn set_plugin_enabled(&self, id: &str, enabled: bool, actor: &str) -> Result<()> {
        if self.plugins.get(id).is_none() {
            anyhow::bail!("плагин «{id}» не найден (ipra plugins list)");
        }
        sqlx::query(
            "INSERT INTO plugin_settings (plugin_id, enabled, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (plugin_id) DO UPDATE SET enabled = excluded.enabled, updated_at = excluded.updated_at",
        )
        .bind(id)
        .bind(i64::from(enabled))
        .bind(db::now())
        .execute(&self.db.pool)
        .await?;
        self.plugins.set_enablement(load_enablement(&self.db).await?);
        crate::scheduler::seed_jobs(self).await?;
        crate::audit::record(
            &self.db,
            actor,
            if enabled { "plugin.enable" } else { "plugin.disable" },
            &format!("plugin:{id}"),
            None,
        )
        .await?;
        Ok(())
    }
}

/// Installing, upgrading, removing and rolling back plugins: the change takes effect at once in
/// this process (calls in flight finish on the version they started with), the scheduler's jobs
/// follow the declared ones, and the change is in the audit log with who made it.
impl App {
    pub fn plugins_dir(&self) -> PathBuf {
        self.data_dir.join("plugins")
    }

    /// Checks and installs (or upgrades) a package (`.ipra-plugin`). A newly installed plugin is
    /// disabled until an administrator enables it for this installation.
    pub async fn install_plugin(&self, bytes: Vec<u8>, mode: Mode, actor: &str) -> Result<Change> {
        let mut trust = Trust::load(&self.data_dir)?;
        // The installation's policy in ipra.toml wins over the trust file's.
        if let Some(required) = crate::config::current().config.plugins.require_signature {
            trust.require_signature = required;
        }
        let plugins = self.plugins.clone();
        let change = tokio::task::spawn_blocking(move || plugins.install_package(&bytes, mode, &trust)).await??;
        let action = match mode {
            Mode::Install => "plugin.install",
            Mode::Upgrade => "plugin.upgrade",
        };
        self.after_plugin_change(&change, action, actor).await?;
        Ok(change)
    }

    /// Takes an installed plugin out of service (kept for rollback).
    pub async fn remove_plugin(&self, id: &str, actor: &str) -> Result<Change> {
        let plugins = self.plugins.clone();
        let id = id.to_string();
        let change = tokio::task::spawn_blocking(move || plugins.remove_installed(&id)).await??;
        self.after_plugin_change(&change, "plugin.remove", actor).await?;
        Ok(change)
    }

    /// Puts the kept previous version of a plugin back.
    pub async fn rollback_plugin(&self, id: &str, actor: &str) -> Result<Change> {
        let plugins = self.plugins.clone();
        let id = id.to_string();
        let change = tokio::task::spawn_blocking(move || plugins.rollback(&id)).await??;
        self.after_plugin_change(&change, "plugin.rollback", actor).await?;
        Ok(change)
    }

    async fn after_plugin_change(&self, change: &Change, action: &str, actor: &str) -> Result<()> {
        self.plugins.set_enablement(load_enablement(&self.db).await?);
        crate::scheduler::seed_jobs(self).await?;
        let detail = serde_json::json!({
            "version": change.version,
            "replaced": change.replaced,
            "signed_by": change.signed_by,
        })
        .to_string();
        crate::audit::record(&self.db, actor, action, &format!("plugin:{}", change.id), Some(&detail)).await?;
        tracing::info!(plugin = %change.id, version = ?change.version, replaced = ?change.replaced, "{action}");
        Ok(())
    }

    /// Reads the installed plugins again when another process changed them (the command line on a
    /// running server's data directory): `seen` is the generation last seen, updated here.
    pub async fn follow_plugin_changes(&self, seen: &mut Option<String>) -> Result<bool> {
        let now = install::generation(&self.plugins_dir());
        if now == *seen {
            return Ok(false);
        }
        *seen = now;
        let plugins = self.plugins.clone();
        tokio::task::spawn_blocking(move || plugins.rescan()).await?;
        self.plugins.set_enablement(load_enablement(&self.db).await?);
        crate::scheduler::seed_jobs(self).await?;
        Ok(true)
    }
}

async fn load_enablement(db: &Db) -> Result<HashMap<String, bool>> {
    sqlx::query("SELECT plugin_id, enabled FROM plugin_settings")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("plugin_id")?, row.try_get::<i64, _>("enabled")? != 0)))
        .collect()
}

/// Persons stored before the search column existed get it filled once (names in upper case).
async fn backfill_search_names(db: &Db) -> Result<()> {
    let rows = sqlx::query("SELECT id, surname, given_name, patronymic FROM persons WHERE search_name IS NULL")
        .fetch_all(&db.pool)
        .await?;
    for row in rows {
        let name = format!(
            "{} {} {}",
            row.try_get::<String, _>("surname")?,
            row.try_get::<String, _>("given_name")?,
            crate::db::opt_text(&row, "patronymic").unwrap_or_default()
        );
        sqlx::query("UPDATE persons SET search_name = $1 WHERE id = $2")
            .bind(name.trim().to_uppercase())
            .bind(row.try_get::<i64, _>("id")?)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}
