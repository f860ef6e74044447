//! Operating an installation: the store's migrations (`ipra migrate [--status]`), backups
//! (`ipra backup DEST`) and their restore (`ipra restore SRC`).

use crate::app::App;
use crate::db::{self, upgrade, Db, Engine};
use anyhow::Result;
use ipra_store::backup::{self, BackupOptions, Manifest, RestoreOptions};
use std::future::Future;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// Show the migrations applied and pending and the releases of ipra that opened the store,
    /// changing nothing (exit 1 when the store holds migrations this release does not know).
    #[arg(long)]
    pub status: bool,
    /// With --status: print one JSON object.
    #[arg(long, requires = "status")]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct BackupArgs {
    /// The folder to write the backup to; it must not exist. It appears only once the backup is
    /// complete (written as DEST.partial first).
    pub dest: PathBuf,
    /// Include the key files of the data directory (demo-signing/, keys/, *.key, the keys
    /// signing.toml names), left out by default.
    #[arg(long)]
    pub with_keys: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup folder (`ipra backup DEST`).
    pub src: PathBuf,
    /// Restore although the data directory is not empty: it is moved aside to
    /// DATA_DIR.before-restore-TIME first.
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub json: bool,
}

fn url_of(data_dir: &Path, database: Option<&str>) -> String {
    database
        .map(str::to_string)
        .unwrap_or_else(|| db::default_url(data_dir))
}

/// `ipra migrate`: applies the pending migrations (after the checks of every open); with
/// `--status`, shows where the store stands.
pub async fn migrate<F, Fut>(args: MigrateArgs, data_dir: &Path, database: Option<&str>, open: F) -> Result<i32>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<App>>,
{
    if !args.status {
        let app = open().await?;
        println!(
            "база данных готова ({}): миграции применены до {:04}, ipra {}",
            app.db.engine.name(),
            upgrade::latest(app.db.engine),
            upgrade::VERSION
        );
        return Ok(0);
    }
    let url = url_of(data_dir, database);
    let sqlite_file = url
        .strip_prefix("sqlite://")
        .map(|rest| PathBuf::from(rest.split('?').next().unwrap_or_default()));
    if let Some(file) = sqlite_file.filter(|f| !f.exists()) {
        let known = upgrade::known(Engine::Sqlite);
        if args.json {
            let status = serde_json::json!({
                "engine": "sqlite", "ipra_version": upgrade::VERSION, "exists": false,
                "applied": [], "pending": known, "unknown": [], "changed": [], "releases": [],
            });
            println!("{}", serde_json::to_string_pretty(&status)?);
        } else {
            println!(
                "базы {} ещё нет: при первом запуске ipra {} применит все {} миграций (до {:04})",
                file.display(),
                upgrade::VERSION,
                known.len(),
                upgrade::latest(Engine::Sqlite)
            );
        }
        return Ok(0);
    }
    let db = Db::connect(&url).await?;
    let status = upgrade::status(&db).await?;
    db.pool.close().await;
    let code = if status.unknown.is_empty() && status.changed.is_empty() {
        0
    } else {
        1
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(code);
    }
    println!(
        "База данных: {} ({}); эта версия: ipra {}, знает миграции до {:04}",
        status.engine,
        db::redact(&url),
        status.ipra_version,
        upgrade::latest(db.engine)
    );
    println!("Применены ({}):", status.applied.len());
    for m in &status.applied {
        let mark = if status.changed.contains(&m.version) {
            "  ИЗМЕНЕНА после применения: содержимое не совпадает с файлом этой версии"
        } else if !m.success {
            "  ПРИМЕНЕНА НЕ ДО КОНЦА"
        } else {
            ""
        };
        println!("  {:04} {:<32} {}{mark}", m.version, m.description, m.installed_on);
    }
    if status.pending.is_empty() {
        println!("Ожидающих миграций нет.");
    } else {
        println!(
            "Ожидают применения ({}): ipra migrate или любой запуск применит их",
            status.pending.len()
        );
        for m in &status.pending {
            println!("  {:04} {}", m.version, m.description);
        }
    }
    if !status.unknown.is_empty() {
        println!(
            "Неизвестны этой версии ({}): базу обновила более новая версия ipra, эта версия её не откроет:",
            status.unknown.len()
        );
        for m in &status.unknown {
            println!("  {:04} {:<32} {}", m.version, m.description, m.installed_on);
        }
    }
    println!("Версии ipra, открывавшие базу:");
    if status.releases.is_empty() {
        println!("  записей нет (версии до 0.2.0 их не вели)");
    }
    for r in &status.releases {
        println!(
            "  {:<10} впервые {}  экземпляр {}",
            r.version, r.first_opened_at, r.instance
        );
    }
    Ok(code)
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} МБ", bytes as f64 / (1024.0 * 1024.0))
}

fn describe(manifest: &Manifest) -> String {
    format!(
        "ipra {}, {}, база {}, миграция {:04}",
        manifest.ipra_version, manifest.created_at, manifest.engine, manifest.migration
    )
}

/// `ipra backup DEST`.
pub async fn backup(args: BackupArgs, data_dir: &Path, database: Option<&str>) -> Result<i32> {
    let url = url_of(data_dir, database);
    let opts = BackupOptions {
        with_keys: args.with_keys,
    };
    let manifest = backup::backup(data_dir, &url, &args.dest, &opts).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&manifest)?);
        return Ok(0);
    }
    println!(
        "резервная копия записана в {} ({})",
        args.dest.display(),
        describe(&manifest)
    );
    println!(
        "  файлов: {}, {}; опись с SHA-256 каждого файла: {}",
        manifest.files.len(),
        megabytes(manifest.bytes()),
        backup::MANIFEST
    );
    println!("  включено: {}", manifest.included.join(", "));
    for e in &manifest.excluded {
        println!("  не включено: {} — {}", e.path, e.reason);
    }
    Ok(0)
}

/// `ipra restore SRC`.
pub async fn restore(args: RestoreArgs, data_dir: &Path, database: Option<&str>) -> Result<i32> {
    let url = url_of(data_dir, database);
    let opts = RestoreOptions { force: args.force };
    let restored = backup::restore(&args.src, data_dir, &url, &opts).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&restored)?);
        return Ok(0);
    }
    let manifest = &restored.manifest;
    println!(
        "резервная копия {} ({}) проверена: файлов {}, контрольные суммы совпали{}",
        args.src.display(),
        describe(manifest),
        manifest.files.len(),
        if manifest.engine == "sqlite" {
            ", PRAGMA integrity_check: ok"
        } else {
            ", pg_restore выполнен"
        }
    );
    println!("восстановлено в {}", restored.data_dir.display());
    for aside in &restored.moved_aside {
        println!("прежнее содержимое отодвинуто: {}", aside.display());
    }
    if restored.interrupted_runs > 0 {
        println!(
            "загрузок, шедших во время копирования, закрыто как прерванные: {} (повторите загрузку, чтобы добавить остальное)",
            restored.interrupted_runs
        );
    }
    for f in &restored.unlisted {
        println!("не восстановлен (нет в описи): {f}");
    }
    if !restored.pending.is_empty() {
        println!(
            "при первом запуске ipra {} применит миграции: {}",
            upgrade::VERSION,
            restored
                .pending
                .iter()
                .map(|v| format!("{v:04}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !manifest.with_keys {
        println!("ключи в копию не входили: верните их на место (см. signing.toml), если они нужны");
    }
    Ok(0)
}
