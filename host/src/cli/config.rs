//! `ipra config check|show` and the resolution of the configuration at start: the file, the
//! environment over it, the global flags over both (see `ipra_store::config`).

use anyhow::{bail, Result};
use clap::Subcommand;
use ipra_store::config::{self, Problem, Resolved};
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Check the configuration: the file's syntax and every value (addresses, zone, database,
    /// limits, the files signing names, the identity provider); exit 1 with every problem named by
    /// its key.
    Check {
        #[arg(long)]
        json: bool,
    },
    /// Print the configuration in force (file, environment and flags together), secrets masked.
    Show,
}

/// The global flags that win over the environment and the file.
pub struct Flags {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database: Option<String>,
    pub time_zone: Option<String>,
}

/// Resolves the configuration of this process and installs it. Its problems stop every command
/// but `ipra config check`, which lists them.
pub fn resolve(flags: &Flags, checking: bool) -> Result<Arc<Resolved>> {
    let mut resolved = config::resolve(flags.config.as_deref(), &|name| std::env::var(name).ok())?;
    let c = &mut resolved.config;
    if let Some(dir) = &flags.data_dir {
        c.data_dir = Some(dir.clone());
    }
    if let Some(url) = &flags.database {
        c.database = Some(url.clone());
        c.database_env = None;
    }
    if let Some(zone) = &flags.time_zone {
        c.time_zone = Some(zone.clone());
    }
    resolved.legacy_files = config::legacy_files(&resolved, &resolved.data_dir());
    let problems = problems(&resolved);
    if !checking && !problems.is_empty() {
        let place = resolved
            .file
            .as_ref()
            .map(|f| format!(" ({})", f.display()))
            .unwrap_or_default();
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        bail!(
            "настройки{place} не приняты:\n{}\n(проверка: ipra config check)",
            list.join("\n")
        );
    }
    Ok(config::install(resolved))
}

/// The store's checks and the log filter's syntax, which only the binary knows.
fn problems(resolved: &Resolved) -> Vec<Problem> {
    let mut problems = resolved.problems();
    if let Some(level) = &resolved.config.log.level {
        if tracing_subscriber::EnvFilter::try_new(level).is_err() {
            problems.push(Problem {
                key: "log.level".into(),
                message: format!("«{level}» — не уровень журнала: ожидается, например, warn,ipra=info или debug"),
            });
        }
    }
    problems
}

/// The older files still read, said once at start.
pub fn warn_legacy(resolved: &Resolved) {
    for file in &resolved.legacy_files {
        let section = legacy_section(file);
        tracing::warn!(
            "файл {} устарел: он ещё читается, но перенесите его содержимое в раздел [{section}] файла настроек ipra.toml",
            file.display()
        );
    }
}

fn legacy_section(file: &Path) -> &'static str {
    if file.ends_with("oidc.toml") {
        "oidc"
    } else {
        "signing"
    }
}

pub async fn run(command: ConfigCommand, settings: &Resolved, database: Option<&str>, data_dir: &Path) -> Result<i32> {
    match command {
        ConfigCommand::Show => {
            match &settings.file {
                Some(file) => println!("# файл настроек: {}", file.display()),
                None => println!(
                    "# файл настроек не задан ({} нет): значения из окружения и по умолчанию",
                    config::SYSTEM_PATH
                ),
            }
            for (variable, key) in &settings.from_environment {
                println!("# {key} — из переменной окружения {variable}");
            }
            for file in &settings.legacy_files {
                println!(
                    "# устаревший файл {} ещё читается: перенесите его в раздел [{}]",
                    file.display(),
                    legacy_section(file)
                );
            }
            print!("{}", settings.show());
            Ok(0)
        }
        ConfigCommand::Check { json } => {
            let mut problems = problems(settings);
            problems.extend(reachable(database, data_dir).await);
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "ok": problems.is_empty(),
                        "file": settings.file,
                        "environment": settings.from_environment.iter().map(|(v, k)| serde_json::json!({"variable": v, "key": k})).collect::<Vec<_>>(),
                        "legacy_files": settings.legacy_files,
                        "problems": problems,
                    })
                );
            } else {
                match &settings.file {
                    Some(file) => println!("файл настроек: {}", file.display()),
                    None => println!("файл настроек не задан: значения из окружения и по умолчанию"),
                }
                for file in &settings.legacy_files {
                    println!(
                        "предупреждение: устаревший файл {} ещё читается; перенесите его в раздел [{}] файла настроек",
                        file.display(),
                        legacy_section(file)
                    );
                }
                if problems.is_empty() {
                    println!("настройки в порядке");
                } else {
                    for p in &problems {
                        println!("ошибка: {p}");
                    }
                }
            }
            Ok(if problems.is_empty() { 0 } else { 1 })
        }
    }
}

/// The data directory can be written and the database answers (PostgreSQL: a connection is
/// opened and closed; nothing is migrated or written).
async fn reachable(database: Option<&str>, data_dir: &Path) -> Vec<Problem> {
    let mut problems = Vec::new();
    let probe = data_dir.join(".config-check");
    let writable = std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&probe, b""))
        .and_then(|()| std::fs::remove_file(&probe));
    if let Err(e) = writable {
        problems.push(Problem {
            key: "data_dir".into(),
            message: format!("в каталог данных {} нельзя писать: {e}", data_dir.display()),
        });
    }
    if let Some(url) = database.filter(|u| u.starts_with("postgres")) {
        let failure = config::probe_database(url).await;
        if let Some(why) = failure {
            problems.push(Problem {
                key: "database".into(),
                message: format!("база данных {} недоступна: {why}", config::redact_url(url)),
            });
        }
    }
    problems
}
