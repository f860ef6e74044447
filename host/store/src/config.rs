//! One configuration: `/etc/ipra/ipra.toml` (or the file `--config` / `IPRA_CONFIG` names) holds
//! what used to be spread over flags, environment variables, `signing.toml` and `oidc.toml`.
//!
//! Precedence, highest first: a command-line flag, an environment variable (the table in
//! [`ENVIRONMENT`]), the file, the built-in default. The process resolves it once at start
//! ([`install`]); the store's code reads it through [`current`]. A process that never installed
//! one (a benchmark or a unit test in process) gets the environment over the defaults.
//!
//! Every problem is said in Russian naming the key (`server.listen`, `signing.organisations.…`)
//! and, for the file's own syntax, its line; `ipra config check` lists all of them at once.

use crate::auth::oidc::OidcConfig;
use crate::signing::SigningConfig;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Where a packaged installation keeps its configuration; read when it exists and no other is named.
pub const SYSTEM_PATH: &str = "/etc/ipra/ipra.toml";

/// The data directory when nothing names one (a developer's checkout).
pub const DEFAULT_DATA_DIR: &str = "ipra-data";

/// The whole configuration as the file spells it; every key optional.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Database, installed plugins, quarantine, exchange folders, cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://USER:PASSWORD@HOST/DB`; default: SQLite in the data directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// The name of an environment variable holding the database URL (so that its password stays
    /// out of the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_env: Option<String>,
    /// The region's IANA time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    pub server: Server,
    pub log: Log,
    pub plugins: Plugins,
    pub exchange: Exchange,
    pub audit: Audit,
    /// What was `signing.toml`: a signing provider per organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing: Option<SigningConfig>,
    /// What was `oidc.toml`: login through the region's identity provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcConfig>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub statement_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_ms: Option<u64>,
    /// Requests that read served at once; the others wait their turn (0: no turns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrent_requests: Option<u64>,
    /// Whether this instance runs the scheduler and the exchange workers (one leads at a time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick_ms: Option<u64>,
    /// This instance's name in job runs and claims (default: host name and process id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Whether the session cookie is `Secure` (false only on plain HTTP in a closed network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie_secure: Option<bool>,
}

/// Requests that read served at once by default: two a core (a page's time is partly the
/// database's, partly the server's). The server takes at most as many as its request pool has
/// connections.
pub fn default_concurrent_requests() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * 2
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A `tracing` filter: `warn,ipra=info`, `debug`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// `text` or `json` (one object per line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Plugins {
    /// Memory of a plugin whose manifest asks for none, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<u64>,
    /// The most a manifest may ask for, MiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_memory_mib: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_time_ms: Option<u64>,
    /// Whether every installed package must carry a vendor's signature a key of
    /// `DATA_DIR/plugin-trust.toml` verifies (wins over that file's own `require_signature`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_signature: Option<bool>,
    /// The compiled-component cache (default: `DATA_DIR/cache/plugins`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Exchange {
    /// The folder holding each connector's `inbox/`, `outbox/` and `archive/` (default:
    /// `DATA_DIR/exchange`); several instances share one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// How long a claimed message holds without its worker renewing it, seconds (120).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lease_seconds: Option<i64>,
    /// Per connector: its own folders and the address its documents are uploaded to.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub connectors: BTreeMap<String, Connector>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Connector {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inbox: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<PathBuf>,
    /// Where signed documents are also POSTed (wins over the job's own setting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// Where the heads of the audit and exchange logs are anchored (default `DATA_DIR/audit/anchors.log`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchor_file: Option<PathBuf>,
}

/// Environment variables and the keys they override. Several names of one key: the first is the
/// documented one, the others the names earlier releases read.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("IPRA_DATA_DIR", "data_dir"),
    ("IPRA_DATABASE_URL", "database"),
    ("IPRA_TIME_ZONE", "time_zone"),
    ("IPRA_SERVER_LISTEN", "server.listen"),
    ("IPRA_SERVER_STATEMENT_TIMEOUT_MS", "server.statement_timeout_ms"),
    ("IPRA_STATEMENT_TIMEOUT_MS", "server.statement_timeout_ms"),
    ("IPRA_SERVER_SHUTDOWN_GRACE_MS", "server.shutdown_grace_ms"),
    ("IPRA_SERVER_CONCURRENT_REQUESTS", "server.concurrent_requests"),
    ("IPRA_SHUTDOWN_GRACE_MS", "server.shutdown_grace_ms"),
    ("IPRA_SERVER_SCHEDULER", "server.scheduler"),
    ("IPRA_SERVER_TICK_MS", "server.tick_ms"),
    ("IPRA_SERVER_INSTANCE", "server.instance"),
    ("IPRA_SERVER_COOKIE_SECURE", "server.cookie_secure"),
    ("IPRA_COOKIE_SECURE", "server.cookie_secure"),
    ("IPRA_LOG", "log.level"),
    ("IPRA_LOG_FORMAT", "log.format"),
    ("IPRA_PLUGIN_MEMORY_MIB", "plugins.memory_mib"),
    ("IPRA_PLUGIN_MAX_MEMORY_MIB", "plugins.max_memory_mib"),
    ("IPRA_PLUGIN_TIME_MS", "plugins.time_ms"),
    ("IPRA_PLUGIN_MAX_TIME_MS", "plugins.max_time_ms"),
    ("IPRA_PLUGIN_CACHE", "plugins.cache"),
    ("IPRA_PLUGIN_REQUIRE_SIGNATURE", "plugins.require_signature"),
    ("IPRA_EXCHANGE_ROOT", "exchange.root"),
    ("IPRA_EXCHANGE_LEASE_SECONDS", "exchange.lease_seconds"),
    ("IPRA_AUDIT_ANCHOR_FILE", "audit.anchor_file"),
];

/// The resolved configuration and where it came from.
#[derive(Clone, Debug, Default)]
pub struct Resolved {
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// The environment variables that overrode a key: (variable, key).
    pub from_environment: Vec<(String, String)>,
    /// Older files of the data directory still read (`signing.toml`, `oidc.toml`).
    pub legacy_files: Vec<PathBuf>,
}

static CURRENT: OnceLock<Arc<Resolved>> = OnceLock::new();

/// Makes `resolved` the configuration of this process (once; later calls keep the first).
pub fn install(resolved: Resolved) -> Arc<Resolved> {
    CURRENT.get_or_init(|| Arc::new(resolved)).clone()
}

/// This process's configuration: the one installed at start, else the environment over the
/// defaults (an environment variable that does not parse is then ignored, as it was before).
pub fn current() -> Arc<Resolved> {
    CURRENT
        .get_or_init(|| {
            let mut resolved = Resolved::default();
            let _ = apply_environment(&mut resolved, &|name| std::env::var(name).ok());
            Arc::new(resolved)
        })
        .clone()
}

/// A problem of the configuration: the key it is about and what is wrong, in Russian.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

fn problem(key: &str, message: impl Into<String>) -> Problem {
    Problem {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Which file to read: the one named (flag or `IPRA_CONFIG`), else [`SYSTEM_PATH`] when it exists;
/// `none` reads no file at all (the tests do, whatever the machine has in /etc).
pub fn path_to_read(named: Option<&Path>) -> Option<PathBuf> {
    match named {
        Some(path) if path.as_os_str() == "none" || path.as_os_str().is_empty() => None,
        Some(path) => Some(path.to_path_buf()),
        None => Some(PathBuf::from(SYSTEM_PATH)).filter(|p| p.exists()),
    }
}

/// Reads the file (if any) and lays the environment over it. A file that does not parse, a value
/// of the environment that does not, is an error naming the line or the variable; the checks of
/// what the values mean are [`Resolved::problems`].
pub fn resolve(named: Option<&Path>, environment: &dyn Fn(&str) -> Option<String>) -> Result<Resolved> {
    let mut resolved = Resolved::default();
    if let Some(path) = path_to_read(named) {
        let text =
            std::fs::read_to_string(&path).with_context(|| format!("файл настроек {} не прочитан", path.display()))?;
        resolved.config = parse(&text).map_err(|e| anyhow::anyhow!("файл настроек {}: {e}", path.display()))?;
        resolved.file = Some(path);
    }
    let problems = apply_environment(&mut resolved, environment);
    if let Some(first) = problems.first() {
        anyhow::bail!("{}", first.message);
    }
    Ok(resolved)
}

/// Parses the file's text; an error names the line and the key.
pub fn parse(text: &str) -> std::result::Result<Config, String> {
    toml::from_str::<Config>(text).map_err(|e| explain_toml(text, &e))
}

/// toml's own message is English and names the field without its table: say it in Russian, with
/// the line and the key's full name.
fn explain_toml(text: &str, e: &toml::de::Error) -> String {
    let start = e.span().map(|s| s.start).unwrap_or(0).min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    // The table the offending line belongs to: the last `[header]` above it.
    let table = text[..start]
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            (l.starts_with('[') && l.ends_with(']')).then(|| l.trim_matches(['[', ']']).trim().to_string())
        })
        .unwrap_or_default();
    let key = |name: &str| {
        if table.is_empty() {
            name.to_string()
        } else {
            format!("{table}.{name}")
        }
    };
    let message = e.message();
    let said = if let Some(rest) = message.strip_prefix("unknown field `") {
        let (name, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let allowed: Vec<&str> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .filter(|s| !s.is_empty())
            .collect();
        if allowed.is_empty() {
            format!("неизвестный ключ «{}»", key(name))
        } else {
            format!("неизвестный ключ «{}» (допустимы: {})", key(name), allowed.join(", "))
        }
    } else if let Some(rest) = message.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or(rest);
        format!("не хватает ключа «{}»", key(name))
    } else if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let expected = message.rsplit("expected ").next().unwrap_or("");
        let wanted = match expected.trim() {
            e if e.contains("u64") || e.contains("i64") || e.contains("integer") => "целое число",
            e if e.contains("bool") => "true или false",
            e if e.contains("string") || e.contains("path") => "строка в кавычках",
            e if e.contains("map") || e.contains("struct") || e.contains("table") => "раздел (таблица)",
            _ => "значение другого вида",
        };
        // The span is the value's; its key is what the line holds before `=`.
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let name = text[line_start..].split(['=', '\n']).next().unwrap_or("").trim();
        if name.is_empty() || name.contains(['"', '[']) {
            format!("неверный вид значения в разделе [{table}]: ожидается {wanted}")
        } else {
            format!("неверный вид значения ключа «{}»: ожидается {wanted}", key(name))
        }
    } else {
        format!("ошибка синтаксиса TOML ({})", message.trim())
    };
    format!("строка {line}: {said}")
}

/// Lays the environment over the file; a value that does not parse is a problem naming the variable.
fn apply_environment(resolved: &mut Resolved, environment: &dyn Fn(&str) -> Option<String>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut taken = std::collections::BTreeSet::new();
    for (variable, key) in ENVIRONMENT {
        // The documented name wins over an older one of the same key.
        if taken.contains(key) {
            continue;
        }
        let Some(value) = environment(variable).filter(|v| !v.trim().is_empty()) else {
            continue;
        };
        match set(&mut resolved.config, key, value.trim()) {
            Ok(()) => {
                taken.insert(*key);
                resolved.from_environment.push((variable.to_string(), key.to_string()));
            }
            Err(wanted) => problems.push(problem(
                key,
                format!("переменная окружения {variable}=«{value}»: ожидается {wanted} (ключ {key})"),
            )),
        }
    }
    problems
}

/// Sets one key from text; what was expected when it does not parse.
fn set(config: &mut Config, key: &str, value: &str) -> std::result::Result<(), &'static str> {
    fn number<T: std::str::FromStr>(value: &str) -> std::result::Result<Option<T>, &'static str> {
        value.parse().map(Some).map_err(|_| "целое число")
    }
    fn positive(value: &str) -> std::result::Result<Option<u64>, &'static str> {
        value
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or("целое положительное число")
    }
    fn flag(value: &str) -> std::result::Result<Option<bool>, &'static str> {
        match value.to_lowercase().as_str() {
            "true" | "yes" | "1" | "on" => Ok(Some(true)),
            "false" | "no" | "0" | "off" | "never" => Ok(Some(false)),
            _ => Err("true или false"),
        }
    }
    let text = Some(value.to_string());
    let path = Some(PathBuf::from(value));
    match key {
        "data_dir" => config.data_dir = path,
        "database" => config.database = text,
        "time_zone" => config.time_zone = text,
        "server.listen" => config.server.listen = text,
        "server.statement_timeout_ms" => config.server.statement_timeout_ms = number(value)?,
        "server.shutdown_grace_ms" => config.server.shutdown_grace_ms = number(value)?,
        "server.concurrent_requests" => config.server.concurrent_requests = number(value)?,
        "server.scheduler" => config.server.scheduler = flag(value)?,
        "server.tick_ms" => config.server.tick_ms = positive(value)?,
        "server.instance" => config.server.instance = text,
        "server.cookie_secure" => config.server.cookie_secure = flag(value)?,
        "log.level" => config.log.level = text,
        "log.format" => config.log.format = text,
        "plugins.memory_mib" => config.plugins.memory_mib = positive(value)?,
        "plugins.max_memory_mib" => config.plugins.max_memory_mib = positive(value)?,
        "plugins.time_ms" => config.plugins.time_ms = positive(value)?,
        "plugins.max_time_ms" => config.plugins.max_time_ms = positive(value)?,
        "plugins.cache" => config.plugins.cache = path,
        "plugins.require_signature" => config.plugins.require_signature = flag(value)?,
        "exchange.root" => config.exchange.root = path,
        "exchange.lease_seconds" => config.exchange.lease_seconds = number(value)?,
        "audit.anchor_file" => config.audit.anchor_file = path,
        _ => unreachable!("every key of ENVIRONMENT is set here"),
    }
    Ok(())
}

impl Resolved {
    /// The data directory: the file's, the environment's, else `./ipra-data`.
    pub fn data_dir(&self) -> PathBuf {
        self.config
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The database URL when one is set (by key or by the variable `database_env` names).
    pub fn database(&self) -> Option<String> {
        self.config.database.clone().or_else(|| {
            self.config
                .database_env
                .as_ref()
                .and_then(|name| std::env::var(name).ok())
                .filter(|v| !v.trim().is_empty())
        })
    }

    /// The exchange folders of a connector.
    pub fn exchange_folders(&self, data_dir: &Path, connector: &str) -> (PathBuf, PathBuf, PathBuf) {
        let root = self
            .config
            .exchange
            .root
            .clone()
            .unwrap_or_else(|| data_dir.join("exchange"))
            .join(connector);
        let own = self.config.exchange.connectors.get(connector);
        let pick = |chosen: Option<&PathBuf>, name: &str| chosen.cloned().unwrap_or_else(|| root.join(name));
        (
            pick(own.and_then(|c| c.inbox.as_ref()), "inbox"),
            pick(own.and_then(|c| c.outbox.as_ref()), "outbox"),
            pick(own.and_then(|c| c.archive.as_ref()), "archive"),
        )
    }

    /// The upload address the file gives a connector, if any.
    pub fn upload_url(&self, connector: &str) -> Option<String> {
        self.config
            .exchange
            .connectors
            .get(connector)
            .and_then(|c| c.upload_url.clone())
    }

    pub fn lease_seconds(&self) -> i64 {
        self.config.exchange.lease_seconds.filter(|s| *s > 0).unwrap_or(120)
    }

    pub fn cookie_secure(&self) -> bool {
        self.config.server.cookie_secure.unwrap_or(true)
    }

    /// What the installation allows its plugins (see `ipra_runtime::runtime::Bounds`).
    pub fn plugin_bounds(&self) -> Result<crate::plugins::runtime::Bounds> {
        let p = &self.config.plugins;
        crate::plugins::runtime::Bounds::from_settings(p.memory_mib, p.max_memory_mib, p.time_ms, p.max_time_ms)
    }

    /// Every problem of the values, each naming its key: addresses, zone, database, formats,
    /// limits, files the signing providers name, the identity provider's addresses. (The log
    /// filter's syntax is checked by the binary, which owns the subscriber.)
    pub fn problems(&self) -> Vec<Problem> {
        let c = &self.config;
        let mut problems = Vec::new();
        if let Some(listen) = &c.server.listen {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                problems.push(problem(
                    "server.listen",
                    format!("«{listen}» — не адрес: ожидается IP-адрес и порт, например 127.0.0.1:8080"),
                ));
            }
        }
        if let Some(zone) = &c.time_zone {
            if let Err(e) = crate::clock::parse_zone(zone) {
                problems.push(problem("time_zone", format!("{e:#}")));
            }
        }
        if let Some(url) = self.database() {
            let known = ["sqlite:", "postgres://", "postgresql://"];
            if !known.iter().any(|p| url.starts_with(p)) {
                problems.push(problem(
                    "database",
                    format!(
                        "«{}»: ожидается sqlite://ФАЙЛ или postgres://ПОЛЬЗОВАТЕЛЬ:ПАРОЛЬ@СЕРВЕР/БАЗА",
                        redact_url(&url)
                    ),
                ));
            }
        } else if let Some(name) = &c.database_env {
            problems.push(problem(
                "database_env",
                format!("переменная окружения {name} не задана: адрес базы данных неизвестен"),
            ));
        }
        if c.database.is_some() && c.database_env.is_some() {
            problems.push(problem(
                "database_env",
                "заданы и database, и database_env: оставьте один из них",
            ));
        }
        if let Some(format) = &c.log.format {
            if !matches!(format.as_str(), "text" | "json") {
                problems.push(problem("log.format", format!("«{format}»: ожидается text или json")));
            }
        }
        for (key, value) in [
            ("plugins.memory_mib", c.plugins.memory_mib),
            ("plugins.max_memory_mib", c.plugins.max_memory_mib),
            ("plugins.time_ms", c.plugins.time_ms),
            ("plugins.max_time_ms", c.plugins.max_time_ms),
            ("server.tick_ms", c.server.tick_ms),
        ] {
            if value == Some(0) {
                problems.push(problem(key, "ожидается целое положительное число"));
            }
        }
        if let Err(e) = self.plugin_bounds() {
            problems.push(problem("plugins", format!("{e:#}")));
        }
        if c.exchange.lease_seconds.is_some_and(|s| s <= 0) {
            problems.push(problem(
                "exchange.lease_seconds",
                "ожидается целое положительное число секунд",
            ));
        }
        for (id, connector) in &c.exchange.connectors {
            if !crate::plugins::manifest::is_name(id) {
                problems.push(problem(
                    &format!("exchange.connectors.{id}"),
                    "имя подключения — идентификатор плагина (латинские строчные буквы, цифры, дефис)",
                ));
            }
            if let Some(url) = &connector.upload_url {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    problems.push(problem(
                        &format!("exchange.connectors.{id}.upload_url"),
                        format!("«{url}»: ожидается адрес http:// или https://"),
                    ));
                }
            }
        }
        if let Some(signing) = &c.signing {
            for (ogrn, provider) in &signing.organisations {
                let key = format!("signing.organisations.{ogrn}");
                if !(ogrn.len() == 13 || ogrn.len() == 15) || !ogrn.bytes().all(|b| b.is_ascii_digit()) {
                    problems.push(problem(&key, "организация называется своим ОГРН (13 или 15 цифр)"));
                }
                for (field, file) in provider_files(provider) {
                    if !file.exists() {
                        problems.push(problem(
                            &format!("{key}.{field}"),
                            format!("файл {} не найден", file.display()),
                        ));
                    }
                }
            }
        }
        if let Some(oidc) = &c.oidc {
            if let Err(e) = oidc.check() {
                problems.push(problem("oidc", format!("{e:#}")));
            }
        }
        problems
    }

    /// The resolved configuration as TOML, every key that has a default with the value in force,
    /// secrets masked (a database password, the identity provider's client secret).
    pub fn show(&self) -> String {
        let mut config = self.config.clone();
        let data_dir = self.data_dir();
        config.database = Some(
            self.database()
                .map(|u| redact_url(&u))
                .unwrap_or_else(|| crate::db::default_url(&data_dir)),
        );
        config.data_dir = Some(data_dir.clone());
        config
            .time_zone
            .get_or_insert_with(|| crate::clock::DEFAULT_ZONE.into());
        let server = &mut config.server;
        server.listen.get_or_insert_with(|| "127.0.0.1:8080".into());
        server.statement_timeout_ms.get_or_insert(15_000);
        server.shutdown_grace_ms.get_or_insert(10_000);
        server
            .concurrent_requests
            .get_or_insert(default_concurrent_requests() as u64);
        server.scheduler.get_or_insert(true);
        server.tick_ms.get_or_insert(1_000);
        server.cookie_secure.get_or_insert(true);
        config.log.level.get_or_insert_with(|| "warn,ipra=info".into());
        config.log.format.get_or_insert_with(|| "text".into());
        if let Ok(bounds) = self.plugin_bounds() {
            let p = &mut config.plugins;
            p.memory_mib.get_or_insert((bounds.default.memory_bytes >> 20) as u64);
            p.max_memory_mib.get_or_insert((bounds.max.memory_bytes >> 20) as u64);
            p.time_ms.get_or_insert(bounds.default.time.as_millis() as u64);
            p.max_time_ms.get_or_insert(bounds.max.time.as_millis() as u64);
        }
        config
            .plugins
            .cache
            .get_or_insert_with(|| data_dir.join("cache").join("plugins"));
        config.exchange.root.get_or_insert_with(|| data_dir.join("exchange"));
        config.exchange.lease_seconds.get_or_insert(self.lease_seconds());
        config
            .audit
            .anchor_file
            .get_or_insert_with(|| data_dir.join("audit").join("anchors.log"));
        if let Some(oidc) = &mut config.oidc {
            if oidc.client_secret.is_some() {
                oidc.client_secret = Some("***".into());
            }
        }
        toml::to_string_pretty(&config).unwrap_or_default()
    }
}

/// The files a signing provider names: (key, path).
fn provider_files(provider: &ipra_signing::Provider) -> Vec<(&'static str, PathBuf)> {
    use ipra_signing::Provider;
    let mut files = Vec::new();
    match provider {
        Provider::Gost(c) => {
            files.push(("key", c.key.clone()));
            files.push(("certificate", c.certificate.clone()));
            files.extend(c.ca_file.clone().map(|f| ("ca_file", f)));
        }
        Provider::ExternalCommand(c) => {
            files.extend(c.certificate.clone().map(|f| ("certificate", f)));
            files.extend(c.ca_file.clone().map(|f| ("ca_file", f)));
        }
        Provider::Upload(c) => files.extend(c.ca_file.clone().map(|f| ("ca_file", f))),
    }
    files
}

/// Whether a PostgreSQL server answers at `url`: a connection opened and closed, nothing read or
/// written; why not, when it does not.
pub async fn probe_database(url: &str) -> Option<String> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let attempt = tokio::time::timeout(std::time::Duration::from_secs(5), sqlx::AnyConnection::connect(url)).await;
    match attempt {
        Ok(Ok(connection)) => {
            let _ = connection.close().await;
            None
        }
        Ok(Err(e)) => Some(format!("{e}")),
        Err(_) => Some("сервер не ответил за 5 с".to_string()),
    }
}

/// A URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    crate::db::redact(url)
}

/// The older files of the data directory, read when the configuration lacks their section.
pub fn legacy_files(resolved: &Resolved, data_dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if resolved.config.signing.is_none() && data_dir.join("signing.toml").exists() {
        files.push(data_dir.join("signing.toml"));
    }
    if resolved.config.oidc.is_none() && data_dir.join("oidc.toml").exists() {
        files.push(data_dir.join("oidc.toml"));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn an_unknown_key_is_named_with_its_table_and_line() {
        let e = parse("data_dir = \"/var/lib/ipra\"\n\n[server]\nlisten = \"127.0.0.1:1\"\nlistn = 1\n").unwrap_err();
        assert!(e.starts_with("строка 5: неизвестный ключ «server.listn»"), "{e}");
        assert!(e.contains("listen"), "{e}");
    }

    #[test]
    fn a_value_of_the_wrong_kind_names_its_key() {
        let e = parse("[server]\nstatement_timeout_ms = \"fast\"\n").unwrap_err();
        assert_eq!(
            e,
            "строка 2: неверный вид значения ключа «server.statement_timeout_ms»: ожидается целое число"
        );
    }

    #[test]
    fn the_environment_overrides_the_file_and_the_documented_name_wins() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ipra.toml");
        std::fs::write(&file, "[server]\nlisten = \"127.0.0.1:1\"\nstatement_timeout_ms = 5\n").unwrap();
        let resolved = resolve(
            Some(&file),
            &env(&[
                ("IPRA_SERVER_LISTEN", "127.0.0.1:2"),
                ("IPRA_SERVER_STATEMENT_TIMEOUT_MS", "7"),
                ("IPRA_STATEMENT_TIMEOUT_MS", "9"),
            ]),
        )
        .unwrap();
        assert_eq!(resolved.config.server.listen.as_deref(), Some("127.0.0.1:2"));
        assert_eq!(resolved.config.server.statement_timeout_ms, Some(7));
        let e = resolve(Some(&file), &env(&[("IPRA_SERVER_SCHEDULER", "perhaps")])).unwrap_err();
        assert!(
            format!("{e}").contains("IPRA_SERVER_SCHEDULER=«perhaps»: ожидается true или false"),
            "{e}"
        );
    }

    #[test]
    fn problems_name_their_keys() {
        let config = parse(
            "time_zone = \"Europe/Nowhere\"\ndatabase = \"mysql://x\"\n[server]\nlisten = \"everywhere\"\n\
             [log]\nformat = \"xml\"\n[plugins]\nmemory_mib = 0\n[exchange.connectors.fri]\nupload_url = \"ftp://x\"\n\
             [signing.organisations.1027700000001]\nprovider = \"gost\"\nkey = \"/nonexistent/k.pem\"\ncertificate = \"/nonexistent/c.pem\"\n",
        )
        .unwrap();
        let resolved = Resolved {
            config,
            ..Resolved::default()
        };
        let keys: Vec<String> = resolved.problems().into_iter().map(|p| p.key).collect();
        for key in [
            "server.listen",
            "time_zone",
            "database",
            "log.format",
            "plugins.memory_mib",
            "exchange.connectors.fri.upload_url",
            "signing.organisations.1027700000001.key",
            "signing.organisations.1027700000001.certificate",
        ] {
            assert!(keys.iter().any(|k| k == key), "{key} not in {keys:?}");
        }
    }

    #[test]
    fn show_masks_secrets() {
        let config = parse(
            "database = \"postgres://ipra:secret@db/ipra\"\n[oidc]\nissuer = \"https://sso.example.ru\"\n\
             client_id = \"ipra\"\nclient_secret = \"hunter2\"\nredirect_uri = \"https://ipra.example.ru/login/oidc/callback\"\n",
        )
        .unwrap();
        let shown = Resolved {
            config,
            ..Resolved::default()
        }
        .show();
        assert!(!shown.contains("secret@") && !shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("client_secret = \"***\""), "{shown}");
    }
}
