//! Backups of an installation and their restore (`ipra backup DEST`, `ipra restore SRC`).
//!
//! A backup is a folder laid out like a data directory: the database (`ipra.sqlite`, a consistent
//! snapshot taken by `VACUUM INTO` while the server goes on serving and importing; or
//! `ipra.pgdump`, PostgreSQL's `pg_dump --format=custom`), the data directory's files, and the
//! inventory `backup.toml`: the release and migration level that made it, when, what was included
//! and left out, and the size and SHA-256 of every file. It is written to `DEST.partial` and
//! renamed to `DEST` only when complete, so a folder named `DEST` is always a whole backup.
//!
//! The order keeps what the files and the database say about each other true: the audit log's
//! anchor file is copied before the database snapshot (every head it holds is then in the
//! snapshot), every other file after it (a quarantined file or an installed plugin the snapshot
//! names is already on disk).
//!
//! Keys (the signing keys' folders, files named like keys, the key files `signing.toml` names)
//! stay out unless asked for: a backup is often kept where keys must not be.
//!
//! A restore checks the inventory first (a backup of a newer release is refused like a
//! downgrade), then copies every file into a staging folder beside the data directory checking its
//! SHA-256, checks the database (`PRAGMA integrity_check`, or `pg_restore` into an empty
//! database), and only then puts the staging folder in the data directory's place.

use crate::db::{self, upgrade, Db, Engine};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The inventory of a backup.
pub const MANIFEST: &str = "backup.toml";
/// The SQLite database in a backup (and in a data directory).
pub const SQLITE_FILE: &str = "ipra.sqlite";
/// The PostgreSQL dump in a backup.
pub const PG_DUMP_FILE: &str = "ipra.pgdump";
/// The layout of backups this release writes and reads.
const FORMAT: u32 = 1;

/// `backup.toml`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The release of ipra that made the backup.
    pub ipra_version: String,
    pub created_at: String,
    /// `sqlite` or `postgres`.
    pub engine: String,
    /// The database in the backup: `ipra.sqlite` or `ipra.pgdump`.
    pub database: String,
    /// The highest migration applied to the database.
    pub migration: i64,
    /// Whether key files were included (`--with-keys`).
    pub with_keys: bool,
    /// Every migration applied to the database.
    pub migrations: Vec<i64>,
    /// What the backup holds: the database and the top-level entries of the data directory.
    pub included: Vec<String>,
    /// What was left out, and why.
    pub excluded: Vec<Excluded>,
    /// Every file with its size and SHA-256, the database first.
    pub files: Vec<FileEntry>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Excluded {
    pub path: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup, with `/`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// Reads `backup.toml` of a backup folder.
    pub fn read(src: &Path) -> Result<Manifest> {
        let path = src.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "в {} нет описи {MANIFEST}: это не резервная копия ipra или копия не дописана (незаконченная \
                 копия лежит в каталоге с окончанием .partial)",
                src.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("{} не читается", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("опись {} не разобрана", path.display()))
    }
}

pub struct BackupOptions {
    pub with_keys: bool,
}

/// The engine a database URL names.
fn engine_of(url: &str) -> Result<Engine> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Engine::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Engine::Sqlite)
    } else {
        bail!("неизвестный адрес базы данных «{url}»: ожидается sqlite://… или postgres://…")
    }
}

/// The file a SQLite URL names.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    PathBuf::from(rest.split('?').next().unwrap_or_default())
}

/// `path` made absolute against the current folder (it need not exist).
fn absolute(path: &Path) -> Result<PathBuf> {
    let path = std::path::absolute(path).with_context(|| format!("путь {}", path.display()))?;
    // Taken as the system names it (symbolic links resolved), the parent when it does not exist yet.
    if let Ok(real) = path.canonicalize() {
        return Ok(real);
    }
    match (path.parent().and_then(|p| p.canonicalize().ok()), path.file_name()) {
        (Some(parent), Some(name)) => Ok(parent.join(name)),
        _ => Ok(path),
    }
}

/// `DIR` + `suffix` beside `DIR`.
fn beside(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// A path relative to the backup's root, as the inventory writes it.
fn slashed(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Copies `src` to `dst` (its folders made), hashing as it goes and syncing the copy; `None` when
/// `src` is gone (moved away while the backup ran).
fn copy_hashed(src: &Path, dst: &Path) -> Result<Option<(u64, String)>> {
    let mut input = match std::fs::File::open(src) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{} не читается", src.display())),
    };
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("создание каталога {}", dir.display()))?;
    }
    let mut output = std::fs::File::create(dst).with_context(|| format!("{} не создаётся", dst.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("{} не читается", src.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output
            .write_all(&buf[..n])
            .with_context(|| format!("{} не записывается", dst.display()))?;
        size += n as u64;
    }
    output
        .sync_all()
        .with_context(|| format!("{} не записывается", dst.display()))?;
    Ok(Some((size, hex::encode(hasher.finalize()))))
}

/// Copies a file that is only ever appended to by whole lines (the anchor file), up to its last
/// complete line: a line being written at that moment is left for the next backup.
fn copy_whole_lines(src: &Path, root: &Path, rel: &Path) -> Result<Option<FileEntry>> {
    let mut bytes = match std::fs::read(src) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{} не читается", src.display())),
    };
    bytes.truncate(bytes.iter().rposition(|b| *b == b'\n').map_or(0, |end| end + 1));
    let dst = root.join(rel);
    if let Some(dir) = dst.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("создание каталога {}", dir.display()))?;
    }
    let mut output = std::fs::File::create(&dst).with_context(|| format!("{} не создаётся", dst.display()))?;
    output.write_all(&bytes)?;
    output.sync_all()?;
    Ok(Some(FileEntry {
        path: slashed(rel),
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(&bytes)),
    }))
}

/// The size and SHA-256 of a file.
fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut input = std::fs::File::open(path).with_context(|| format!("{} не читается", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .with_context(|| format!("{} не читается", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn sync_dir(dir: &Path) {
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Top-level entries of a data directory that are never copied, and why.
fn never_copied(name: &str) -> Option<&'static str> {
    match name {
        n if n.starts_with(SQLITE_FILE) => Some("файл базы SQLite: в копию идёт её согласованный снимок"),
        "cache" => Some("кэш скомпилированных плагинов: строится заново"),
        "uploads" => Some("незаконченные загрузки через веб-интерфейс"),
        "demo-inbox" => Some("временные файлы демонстрационной загрузки"),
        "bench" => Some("черновые реестры замеров (ipra bench)"),
        n if n.ends_with(".partial") || n.ends_with(".restoring") => {
            Some("незаконченная резервная копия или восстановление")
        }
        _ => None,
    }
}

/// Top-level folders that hold keys.
const KEY_FOLDERS: &[&str] = &["demo-signing", "keys", "signing-keys", "private"];

/// Whether a file's name says it holds a private key.
fn key_named(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.ends_with(".key")
        || n.contains(".key.")
        || n.contains("private")
        || n.ends_with(".pfx")
        || n.ends_with(".p12")
        || n.ends_with(".jks")
}

/// The files the signing settings name as keys (every `key = "…"` of `signing.toml` and of the
/// `[signing]` section of the configuration file), absolute.
fn signing_keys(data_dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(t) => {
                for (k, v) in t {
                    match v {
                        toml::Value::String(s) if k.contains("key") => out.push(s.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            toml::Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    if let Some(value) = std::fs::read_to_string(data_dir.join("signing.toml"))
        .ok()
        .and_then(|text| toml::from_str::<toml::Value>(&text).ok())
    {
        walk(&value, &mut found);
    }
    if let Ok(value) = toml::Value::try_from(&crate::config::current().config.signing) {
        walk(&value, &mut found);
    }
    found
        .into_iter()
        .map(|p| {
            let p = PathBuf::from(p);
            let p = if p.is_relative() { data_dir.join(p) } else { p };
            p.canonicalize().unwrap_or(p)
        })
        .collect()
}

/// What goes into a backup from the data directory.
struct Selection {
    root: PathBuf,
    with_keys: bool,
    keys: BTreeSet<PathBuf>,
    /// Absolute paths never walked into (the backup being written, files already copied).
    skip: BTreeSet<PathBuf>,
    files: Vec<PathBuf>,
    excluded: Vec<Excluded>,
    /// Keys the signing settings name outside the data directory: never copied, only named.
    outside_keys: Vec<PathBuf>,
}

impl Selection {
    fn exclude(&mut self, rel: &Path, dir: bool, reason: &str) {
        let mut path = slashed(rel);
        if dir {
            path.push('/');
        }
        self.excluded.push(Excluded {
            path,
            reason: reason.to_string(),
        });
    }

    fn walk(&mut self, dir: &Path) -> Result<()> {
        let mut entries: Vec<std::fs::DirEntry> = match std::fs::read_dir(dir) {
            Ok(entries) => entries.filter_map(|e| e.ok()).collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("каталог {} не читается", dir.display())),
        };
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if self.skip.contains(&path) {
                continue;
            }
            let rel = path.strip_prefix(&self.root).unwrap_or(&path).to_path_buf();
            let name = entry.file_name().to_string_lossy().into_owned();
            let top = rel.components().count() == 1;
            let Ok(kind) = entry.file_type() else { continue };
            if top {
                if let Some(reason) = never_copied(&name) {
                    // The database files are not worth a line: the snapshot stands for them.
                    if !name.starts_with(SQLITE_FILE) {
                        self.exclude(&rel, kind.is_dir(), reason);
                    }
                    continue;
                }
            }
            if rel == Path::new("plugins").join(".staging") {
                self.exclude(&rel, true, "незаконченная установка плагина");
                continue;
            }
            let is_key = (top && kind.is_dir() && KEY_FOLDERS.contains(&name.as_str()))
                || (kind.is_file() && (key_named(&name) || self.keys.contains(&path)));
            if is_key && !self.with_keys {
                self.exclude(&rel, kind.is_dir(), "ключи: в копию идут только с --with-keys");
                continue;
            }
            if kind.is_dir() {
                self.walk(&path)?;
            } else if kind.is_file() {
                self.files.push(rel);
            } else {
                self.exclude(&rel, false, "не обычный файл (ссылка, сокет): не копируется");
            }
        }
        Ok(())
    }
}

/// A program of PostgreSQL's client: on PATH, else the newest of Debian's
/// `/usr/lib/postgresql/*/bin`.
fn pg_tool(name: &str) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.is_file())
        .collect();
    found.sort_by_key(|p| {
        p.components()
            .nth(4)
            .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    found.pop()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let Some(b) = text.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A PostgreSQL URL for libpq without its password, and the password (given to the tools through
/// `PGPASSWORD`, never on their command line where every user of the machine sees it).
fn pg_connection(url: &str) -> (String, Option<String>) {
    if let (Some(scheme), Some(at)) = (url.find("://"), url.find('@')) {
        if at > scheme {
            if let Some((user, password)) = url[scheme + 3..at].split_once(':') {
                return (
                    format!("{}{user}{}", &url[..scheme + 3], &url[at..]),
                    Some(percent_decode(password)),
                );
            }
        }
    }
    (url.to_string(), None)
}

/// Runs a PostgreSQL client program; its error output is the failure's message.
async fn run_pg(program: &Path, args: &[std::ffi::OsString], password: Option<&str>) -> Result<()> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdin(std::process::Stdio::null());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .await
        .with_context(|| format!("{} не запускается", program.display()))?;
    if !out.status.success() {
        bail!(
            "{} завершился с ошибкой ({}): {}",
            program.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Writes a backup of the installation (data directory `data_dir`, database `url`) to `dest`.
pub async fn backup(data_dir: &Path, url: &str, dest: &Path, opts: &BackupOptions) -> Result<Manifest> {
    let engine = engine_of(url)?;
    let data_dir = absolute(data_dir)?;
    let dest = absolute(dest)?;
    if dest.exists() {
        bail!(
            "{} уже существует: резервная копия пишется только в новый каталог",
            dest.display()
        );
    }
    if engine == Engine::Sqlite && !sqlite_path(url).is_file() {
        bail!(
            "база данных {} не найдена: копировать нечего (каталог данных {})",
            sqlite_path(url).display(),
            data_dir.display()
        );
    }
    let partial = beside(&dest, ".partial");
    if partial.exists() {
        tracing::warn!(path = %partial.display(), "removing an interrupted backup");
        std::fs::remove_dir_all(&partial)
            .with_context(|| format!("незаконченная копия {} не удаляется", partial.display()))?;
    }
    std::fs::create_dir_all(&partial).with_context(|| format!("каталог {} не создаётся", partial.display()))?;
    match write_backup(&data_dir, url, engine, &dest, &partial, opts).await {
        Ok(manifest) => {
            std::fs::rename(&partial, &dest)
                .with_context(|| format!("{} не переименовывается в {}", partial.display(), dest.display()))?;
            if let Some(parent) = dest.parent() {
                sync_dir(parent);
            }
            Ok(manifest)
        }
        Err(e) => {
            let _ = std::fs::remove_dir_all(&partial);
            Err(e)
        }
    }
}

async fn write_backup(
    data_dir: &Path,
    url: &str,
    engine: Engine,
    dest: &Path,
    partial: &Path,
    opts: &BackupOptions,
) -> Result<Manifest> {
    let db = Db::connect(url).await?;
    // A store of a newer release is that release's to copy.
    upgrade::check(&db).await?;
    let mut selection = Selection {
        root: data_dir.to_path_buf(),
        with_keys: opts.with_keys,
        keys: signing_keys(data_dir),
        skip: [dest.to_path_buf(), partial.to_path_buf()].into_iter().collect(),
        files: Vec::new(),
        excluded: Vec::new(),
        outside_keys: Vec::new(),
    };
    let mut files = Vec::new();

    // 1. The anchors of the audit log, before the snapshot: every head they hold is in it.
    let anchors = crate::audit::anchor_file(data_dir);
    let anchors = anchors.canonicalize().unwrap_or(anchors);
    match anchors.strip_prefix(data_dir) {
        Ok(rel) => {
            if let Some(entry) = copy_whole_lines(&anchors, partial, rel)? {
                files.push(entry);
            }
            selection.skip.insert(anchors.clone());
        }
        Err(_) => selection.excluded.push(Excluded {
            path: anchors.display().to_string(),
            reason: "файл якорей журнала аудита вне каталога данных (audit.anchor_file): хранится там, где назначено"
                .into(),
        }),
    }

    // 2. The database: one consistent snapshot; writers go on meanwhile.
    let (database, applied) = match engine {
        Engine::Sqlite => {
            let target = partial.join(SQLITE_FILE);
            sqlx::query("VACUUM INTO $1")
                .bind(target.to_string_lossy().into_owned())
                .execute(&db.pool)
                .await
                .context("снимок базы SQLite (VACUUM INTO) не снят")?;
            db.pool.close().await;
            let snapshot = plain_sqlite(&target, true).await?;
            let applied = applied_versions(&snapshot).await?;
            (SQLITE_FILE, applied)
        }
        Engine::Postgres => {
            let applied = upgrade::applied(&db).await?.iter().map(|a| a.version).collect();
            db.pool.close().await;
            let Some(pg_dump) = pg_tool("pg_dump") else {
                bail!(
                    "pg_dump не найден (нет в PATH и в /usr/lib/postgresql/*/bin): установите клиент PostgreSQL \
                     (пакет postgresql-client той же или более новой версии, что и сервер) или снимите дамп сами: \
                     pg_dump --format=custom --file {}/{PG_DUMP_FILE} '{}'",
                    dest.display(),
                    db::redact(url)
                );
            };
            let (conninfo, password) = pg_connection(url);
            let args: Vec<std::ffi::OsString> = vec![
                "--format=custom".into(),
                "--no-owner".into(),
                "--no-privileges".into(),
                "--file".into(),
                partial.join(PG_DUMP_FILE).into(),
                "--dbname".into(),
                conninfo.into(),
            ];
            run_pg(&pg_dump, &args, password.as_deref())
                .await
                .context("дамп базы PostgreSQL (pg_dump) не снят")?;
            (PG_DUMP_FILE, applied)
        }
    };
    let (size, sha256) = hash_file(&partial.join(database))?;
    files.insert(
        0,
        FileEntry {
            path: database.into(),
            size,
            sha256,
        },
    );

    // 3. Every other file, after the snapshot: what the snapshot names is on disk by now.
    selection.walk(data_dir)?;
    selection.outside_keys = selection
        .keys
        .iter()
        .filter(|k| !k.starts_with(data_dir))
        .cloned()
        .collect();
    for rel in std::mem::take(&mut selection.files) {
        if let Some((size, sha256)) = copy_hashed(&data_dir.join(&rel), &partial.join(&rel))? {
            files.push(FileEntry {
                path: slashed(&rel),
                size,
                sha256,
            });
        }
    }
    for key in &selection.outside_keys {
        selection.excluded.push(Excluded {
            path: key.display().to_string(),
            reason: "ключ из настроек подписи вне каталога данных: не копируется, сохраните его отдельно".into(),
        });
    }
    // Exchange folders the configuration puts elsewhere are not the data directory's.
    let settings = crate::config::current();
    let exchange = &settings.config.exchange;
    let elsewhere = exchange.root.iter().chain(
        exchange
            .connectors
            .values()
            .flat_map(|c| [&c.inbox, &c.outbox, &c.archive])
            .flatten(),
    );
    for folder in elsewhere.filter(|f| !absolute(f).is_ok_and(|f| f.starts_with(data_dir))) {
        selection.excluded.push(Excluded {
            path: folder.display().to_string(),
            reason: "папка обмена вне каталога данных (раздел [exchange] настроек): не копируется; полученные \
                     и отправленные документы хранятся в базе"
                .into(),
        });
    }
    let mut included: Vec<String> = Vec::new();
    for f in &files {
        let top = match f.path.split_once('/') {
            Some((dir, _)) => format!("{dir}/"),
            None => f.path.clone(),
        };
        if !included.contains(&top) {
            included.push(top);
        }
    }
    let manifest = Manifest {
        format: FORMAT,
        ipra_version: upgrade::VERSION.into(),
        created_at: db::now(),
        engine: engine.name().into(),
        database: database.into(),
        migration: applied.iter().copied().max().unwrap_or(0),
        with_keys: opts.with_keys,
        migrations: applied,
        included,
        excluded: selection.excluded,
        files,
    };
    let text = toml::to_string(&manifest).context("опись резервной копии")?;
    let path = partial.join(MANIFEST);
    let mut file = std::fs::File::create(&path).with_context(|| format!("{} не создаётся", path.display()))?;
    file.write_all(
        format!("# Резервная копия ipra: опись (ipra restore проверяет по ней каждый файл).\n{text}").as_bytes(),
    )?;
    file.sync_all()?;
    sync_dir(partial);
    Ok(manifest)
}

/// The migrations a database records, by number.
async fn applied_versions(conn: &Db) -> Result<Vec<i64>> {
    let versions = upgrade::applied(conn).await?.iter().map(|a| a.version).collect();
    conn.pool.close().await;
    Ok(versions)
}

/// One plain connection to a SQLite file (no settings, no migrations): a backup's snapshot.
async fn plain_sqlite(path: &Path, read_only: bool) -> Result<Db> {
    sqlx::any::install_default_drivers();
    let url = format!(
        "sqlite://{}?mode={}",
        path.display(),
        if read_only { "ro" } else { "rw" }
    );
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&url)
        .await
        .with_context(|| format!("база {} не открывается", path.display()))?;
    Ok(Db {
        pool,
        engine: Engine::Sqlite,
        url,
    })
}

pub struct RestoreOptions {
    /// Restore over a data directory that is not empty: it is moved aside first.
    pub force: bool,
}

/// What a restore did.
#[derive(Debug, Serialize)]
pub struct Restored {
    pub manifest: Manifest,
    pub data_dir: PathBuf,
    /// Where the data directory (or database file) found in the way was moved.
    pub moved_aside: Vec<PathBuf>,
    /// Import runs under way when the backup was taken, closed as interrupted.
    pub interrupted_runs: u64,
    /// Files in the backup folder that its inventory does not list: not restored.
    pub unlisted: Vec<String>,
    /// Migrations this release will apply when it first opens the restored store.
    pub pending: Vec<i64>,
}

/// Whether a folder is absent or holds nothing.
fn empty_dir(path: &Path) -> Result<bool> {
    match std::fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(e).with_context(|| format!("каталог {} не читается", path.display())),
    }
}

/// Every file under `dir`, relative, with `/`.
fn listed_files(dir: &Path, root: &Path, out: &mut Vec<String>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("каталог {} не читается", dir.display()))?
    {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            listed_files(&path, root, out)?;
        } else {
            out.push(slashed(path.strip_prefix(root).unwrap_or(&path)));
        }
    }
    Ok(())
}

/// Refuses a backup this release must not restore: another layout, a newer release's.
fn check_manifest(manifest: &Manifest, src: &Path, engine: Engine) -> Result<()> {
    if manifest.format > FORMAT {
        bail!(
            "резервная копия {} записана в формате {} более новой версией ipra ({}); эта версия (ipra {}) читает \
             формат {FORMAT}: восстановите её ipra {} или новее",
            src.display(),
            manifest.format,
            manifest.ipra_version,
            upgrade::VERSION,
            manifest.ipra_version
        );
    }
    let stored = [Engine::Sqlite, Engine::Postgres]
        .into_iter()
        .find(|e| e.name() == manifest.engine)
        .with_context(|| format!("{MANIFEST}: неизвестный вид базы «{}»", manifest.engine))?;
    let known: BTreeSet<i64> = upgrade::known(stored).iter().map(|m| m.version).collect();
    let unknown: Vec<String> = manifest
        .migrations
        .iter()
        .filter(|v| !known.contains(v))
        .map(|v| format!("{v:04}"))
        .collect();
    if !unknown.is_empty() || upgrade::newer(&manifest.ipra_version, upgrade::VERSION) {
        let migrations = if unknown.is_empty() {
            String::new()
        } else {
            format!(
                " В её базе применены миграции, которых эта версия не знает: {}.",
                unknown.join(", ")
            )
        };
        bail!(
            "резервная копия {} сделана более новой версией ipra {} (миграция {:04}), а это ipra {} (знает миграции \
             до {:04}).{migrations} Переход на более старую версию не поддерживается: ничего не изменено. \
             Восстановите копию ipra {} или новее",
            src.display(),
            manifest.ipra_version,
            manifest.migration,
            upgrade::VERSION,
            upgrade::latest(stored),
            manifest.ipra_version
        );
    }
    if stored != engine {
        bail!(
            "резервная копия {} — база {}, а настроена база {}: копия восстанавливается только в базу того же вида",
            src.display(),
            manifest.engine,
            engine.name()
        );
    }
    Ok(())
}

/// Restores the backup `src` into the data directory `data_dir` and the database `url`.
pub async fn restore(src: &Path, data_dir: &Path, url: &str, opts: &RestoreOptions) -> Result<Restored> {
    let engine = engine_of(url)?;
    let src = absolute(src)?;
    let data_dir = absolute(data_dir)?;
    let manifest = Manifest::read(&src)?;
    check_manifest(&manifest, &src, engine)?;

    // Where the database goes: inside the data directory (SQLite's default) or elsewhere.
    let sqlite_target = (engine == Engine::Sqlite).then(|| {
        // Its folder resolved as the data directory is (that folder may not exist yet).
        let p = sqlite_path(url);
        let dir = p
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        absolute(dir)
            .unwrap_or_else(|_| dir.to_path_buf())
            .join(p.file_name().unwrap_or_default())
    });
    let db_inside = sqlite_target.as_ref().is_some_and(|p| *p == data_dir.join(SQLITE_FILE));

    // What is in the way, before anything is written.
    if !empty_dir(&data_dir)? && !opts.force {
        bail!(
            "каталог данных {} не пуст: копия восстанавливается только в пустой каталог. Остановите сервер и \
             укажите пустой каталог (--data-dir) или добавьте --force: нынешний каталог будет отодвинут в \
             {}.before-restore-ДАТА",
            data_dir.display(),
            data_dir.display()
        );
    }
    if let Some(target) = sqlite_target.as_ref().filter(|_| !db_inside) {
        if target.exists() && !opts.force {
            bail!(
                "база {} уже существует: копия восстанавливается только на место пустой; добавьте --force, чтобы \
                 отодвинуть её",
                target.display()
            );
        }
    }
    if engine == Engine::Postgres {
        let db = Db::connect(url).await?;
        let tables: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
        )
        .fetch_one(&db.pool)
        .await?;
        db.pool.close().await;
        if tables > 0 {
            bail!(
                "база {} не пуста ({tables} таблиц): копия PostgreSQL восстанавливается только в пустую базу. \
                 Создайте новую (createdb) и укажите её (--database), ничего не изменено",
                db::redact(url)
            );
        }
    }

    // Every file into a staging folder beside the data directory, checked against the inventory.
    let staging = beside(&data_dir, ".restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .with_context(|| format!("незаконченное восстановление {} не удаляется", staging.display()))?;
    }
    std::fs::create_dir_all(&staging).with_context(|| format!("каталог {} не создаётся", staging.display()))?;
    let result = stage_and_restore(
        &src,
        &manifest,
        url,
        engine,
        &staging,
        sqlite_target.as_deref(),
        db_inside,
    )
    .await;
    let (interrupted_runs, pending) = match result {
        Ok(done) => done,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if let Some(target) = sqlite_target.as_ref().filter(|_| !db_inside) {
                let _ = std::fs::remove_file(beside(target, ".restoring"));
            }
            return Err(e);
        }
    };

    // The staging folder takes the data directory's place.
    let stamp = db::now().replace([':', '-'], "");
    let mut moved_aside = Vec::new();
    if data_dir.exists() {
        if empty_dir(&data_dir)? {
            std::fs::remove_dir(&data_dir).with_context(|| format!("{} не удаляется", data_dir.display()))?;
        } else {
            let aside = beside(&data_dir, &format!(".before-restore-{stamp}"));
            std::fs::rename(&data_dir, &aside)
                .with_context(|| format!("{} не отодвигается в {}", data_dir.display(), aside.display()))?;
            moved_aside.push(aside);
        }
    }
    if let Some(parent) = data_dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&staging, &data_dir)
        .with_context(|| format!("{} не переименовывается в {}", staging.display(), data_dir.display()))?;
    if let Some(target) = sqlite_target.as_ref().filter(|_| !db_inside) {
        if target.exists() {
            let aside = beside(target, &format!(".before-restore-{stamp}"));
            for suffix in ["", "-wal", "-shm"] {
                let from = beside(target, suffix);
                if from.exists() {
                    std::fs::rename(&from, beside(&aside, suffix))
                        .with_context(|| format!("{} не отодвигается", from.display()))?;
                }
            }
            moved_aside.push(aside);
        }
        std::fs::rename(beside(target, ".restoring"), target)
            .with_context(|| format!("база {} не ставится на место", target.display()))?;
    }
    if let Some(parent) = data_dir.parent() {
        sync_dir(parent);
    }
    let mut all = Vec::new();
    listed_files(&src, &src, &mut all)?;
    let unlisted = all
        .into_iter()
        .filter(|f| f != MANIFEST && !manifest.files.iter().any(|e| e.path == *f))
        .collect();
    Ok(Restored {
        manifest,
        data_dir,
        moved_aside,
        interrupted_runs,
        unlisted,
        pending,
    })
}

/// Copies and checks every file, restores the database; the import runs closed and the
/// migrations pending.
async fn stage_and_restore(
    src: &Path,
    manifest: &Manifest,
    url: &str,
    engine: Engine,
    staging: &Path,
    sqlite_target: Option<&Path>,
    db_inside: bool,
) -> Result<(u64, Vec<i64>)> {
    let mismatch = |entry: &FileEntry, size: u64, sha: &str| -> Result<()> {
        if size != entry.size || sha != entry.sha256 {
            bail!(
                "файл {} резервной копии {} повреждён: его SHA-256 {sha} ({size} байт) не совпадает с описью {MANIFEST} \
                 ({}, {} байт). Ничего не изменено; возьмите другую копию",
                entry.path,
                src.display(),
                entry.sha256,
                entry.size
            );
        }
        Ok(())
    };
    for entry in &manifest.files {
        if entry.path.split('/').any(|part| part == ".." || part.is_empty()) {
            bail!("{MANIFEST}: недопустимый путь «{}»", entry.path);
        }
        let from = src.join(&entry.path);
        if !from.is_file() {
            bail!(
                "в резервной копии {} нет файла {}, указанного в описи {MANIFEST}: копия неполна, ничего не изменено",
                src.display(),
                entry.path
            );
        }
        let to = if entry.path == manifest.database {
            match (engine, sqlite_target) {
                (Engine::Postgres, _) => {
                    let (size, sha) = hash_file(&from)?;
                    mismatch(entry, size, &sha)?;
                    continue;
                }
                (Engine::Sqlite, Some(target)) if !db_inside => beside(target, ".restoring"),
                _ => staging.join(&entry.path),
            }
        } else {
            staging.join(&entry.path)
        };
        let (size, sha) = copy_hashed(&from, &to)?.with_context(|| format!("{} исчез", from.display()))?;
        mismatch(entry, size, &sha)?;
    }

    match engine {
        Engine::Sqlite => {
            let file = match sqlite_target {
                Some(target) if !db_inside => beside(target, ".restoring"),
                _ => staging.join(SQLITE_FILE),
            };
            let unreadable = |e: anyhow::Error| {
                anyhow::anyhow!(
                    "база {} резервной копии {} повреждена: PRAGMA integrity_check не выполняется ({e:#}). Ничего не \
                     изменено; возьмите другую копию",
                    manifest.database,
                    src.display()
                )
            };
            let db = plain_sqlite(&file, false).await.map_err(unreadable)?;
            let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&db.pool)
                .await
                .map_err(|e| unreadable(e.into()))?;
            if problems != ["ok"] {
                bail!(
                    "база {} резервной копии {} не прошла PRAGMA integrity_check: {}. Ничего не изменено",
                    manifest.database,
                    src.display(),
                    problems.into_iter().take(5).collect::<Vec<_>>().join("; ")
                );
            }
            let done = settle(&db).await;
            db.pool.close().await;
            done
        }
        Engine::Postgres => {
            let Some(pg_restore) = pg_tool("pg_restore") else {
                bail!(
                    "pg_restore не найден (нет в PATH и в /usr/lib/postgresql/*/bin): установите клиент PostgreSQL \
                     (пакет postgresql-client) или восстановите дамп сами: pg_restore --no-owner --no-privileges \
                     --single-transaction --dbname '{}' {}/{PG_DUMP_FILE}, затем ipra restore повторно не нужен — \
                     скопируйте остальные файлы копии в каталог данных",
                    db::redact(url),
                    src.display()
                );
            };
            let (conninfo, password) = pg_connection(url);
            let args: Vec<std::ffi::OsString> = vec![
                "--no-owner".into(),
                "--no-privileges".into(),
                "--exit-on-error".into(),
                "--single-transaction".into(),
                "--dbname".into(),
                conninfo.into(),
                src.join(PG_DUMP_FILE).into(),
            ];
            run_pg(&pg_restore, &args, password.as_deref())
                .await
                .context("дамп PostgreSQL (pg_restore) не восстановлен; база осталась пустой")?;
            let db = Db::connect(url).await?;
            let done = settle(&db).await;
            db.pool.close().await;
            done
        }
    }
}

/// The restored store made ready: import runs under way when the backup was taken are closed as
/// interrupted (what they had committed is there; running the import again loads the rest); it is
/// checked against this release. Returns the runs closed and the migrations still to apply.
async fn settle(db: &Db) -> Result<(u64, Vec<i64>)> {
    upgrade::check(db).await?;
    let status = upgrade::status(db).await?;
    let has_status = status.applied.iter().any(|a| a.version >= 15);
    let closed = if has_status {
        sqlx::query(
            "UPDATE import_runs SET status = 'interrupted', finished_at = $1, error = $2 WHERE status = 'running'",
        )
        .bind(db::now())
        .bind(
            "загрузка шла, когда снималась резервная копия: в копии то, что успело сохраниться; повторный запуск \
             загрузки добавит остальное",
        )
        .execute(&db.pool)
        .await?
        .rows_affected()
    } else {
        0
    };
    Ok((closed, status.pending.iter().map(|m| m.version).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_told_by_name() {
        for name in ["demo.key.pem", "vendor.key", "PRIVATE.pem", "store.p12", "a.pfx"] {
            assert!(key_named(name), "{name}");
        }
        for name in ["demo.cert.pem", "signing.toml", "plugin-trust.toml", "keyboard.txt"] {
            assert!(!key_named(name), "{name}");
        }
    }

    #[test]
    fn the_password_stays_off_the_command_line() {
        assert_eq!(
            pg_connection("postgres://ipra:s%40cret@db:5432/ipra"),
            ("postgres://ipra@db:5432/ipra".to_string(), Some("s@cret".to_string()))
        );
        assert_eq!(
            pg_connection("postgres://ipra@db/ipra"),
            ("postgres://ipra@db/ipra".to_string(), None)
        );
    }

    #[test]
    fn sqlite_urls_name_their_file() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/ipra/ipra.sqlite?mode=rwc"),
            PathBuf::from("/var/lib/ipra/ipra.sqlite")
        );
        assert_eq!(
            sqlite_path("sqlite://data/ipra.sqlite"),
            PathBuf::from("data/ipra.sqlite")
        );
    }
}
