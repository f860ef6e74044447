//! The exchange engine: per connector an inbox and an outbox folder (the file mode of an SMEV 3
//! adapter) plus HTTP upload, durable message tables, retries an administrator can stop, and the
//! append-only, hash-chained log of every exchanged document.
//!
//! Exactly once: an inbox file is first recorded (unique by connector and SHA-256) and only then
//! moved to `archive/`; processing is idempotent (the import recognises what it already stored) and
//! a message is marked processed after its effects are committed. A crash between any two steps
//! leads to the same end state when the step is repeated.

pub mod files;
pub mod log;

use crate::app::App;
use crate::db::{now, Engine};
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{FromRow, Row};
use std::path::{Path, PathBuf};

/// The folders of a connector under `DATA_DIR/exchange/<connector>/`.
pub struct Folders {
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub archive: PathBuf,
}

pub fn folders(app: &App, connector: &str) -> Result<Folders> {
    let (inbox, outbox, archive) = crate::config::current().exchange_folders(&app.data_dir, connector);
    let folders = Folders { inbox, outbox, archive };
    for dir in [&folders.inbox, &folders.outbox, &folders.archive] {
        std::fs::create_dir_all(dir).with_context(|| format!("создание каталога обмена {}", dir.display()))?;
    }
    Ok(folders)
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub registered: u64,
    pub duplicates: u64,
    pub processed: u64,
    pub failed: u64,
    pub sent: u64,
    pub would: Vec<String>,
}

/// Records every file of the connector's inbox as a message, then moves it to the archive.
pub async fn scan_inbox(app: &App, connector: &str, kind: &str, dry_run: bool) -> Result<Counts> {
    let folders = folders(app, connector)?;
    let mut counts = Counts::default();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folders.inbox)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.') || n.ends_with(".part"))
        })
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file").to_string();
        if dry_run {
            counts.would.push(format!("принять {name}"));
            continue;
        }
        let bytes = std::fs::read(&path).with_context(|| format!("чтение {}", path.display()))?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let at = now();
        // The message and its log entry are committed together.
        let mut tx = app.db.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO exchange_messages (connector, direction, kind, file_name, sha256, payload, status, created_at, updated_at) \
             VALUES ($1, 'in', $2, $3, $4, $5, 'received', $6, $6) ON CONFLICT (connector, direction, sha256) DO NOTHING RETURNING id",
        )
        .bind(connector)
        .bind(kind)
        .bind(&name)
        .bind(&sha)
        .bind(&bytes)
        .bind(&at)
        .fetch_optional(&mut *tx)
        .await?;
        match inserted {
            Some(row) => {
                let id: i64 = row.try_get("id")?;
                log::append(&mut *tx, connector, "in", Some(id), &name, &sha).await?;
                tx.commit().await?;
                crate::crashpoint::here("inbox.recorded");
                counts.registered += 1;
            }
            None => {
                tx.rollback().await?;
                counts.duplicates += 1;
            }
        }
        // Only after the message is durable does the file leave the inbox.
        let target = unique_path(&folders.archive, &name);
        std::fs::rename(&path, &target).with_context(|| format!("перенос {} в архив", path.display()))?;
    }
    Ok(counts)
}

fn unique_path(dir: &Path, name: &str) -> PathBuf {
    let mut target = dir.join(name);
    let mut n = 1;
    while target.exists() {
        target = dir.join(format!("{n}-{name}"));
        n += 1;
    }
    target
}

/// Delivery or processing attempts of a message before it stays failed for an administrator.
/// Only transient failures are retried; a permanent refusal is final at once.
pub const MAX_ATTEMPTS: i64 = 5;

/// How long a claim holds without its worker renewing it (`exchange.lease_seconds`,
/// `IPRA_EXCHANGE_LEASE_SECONDS`, 120 s): a message whose instance was killed is taken again once
/// its lease has run out.
pub fn lease_seconds() -> i64 {
    crate::config::current().lease_seconds()
}

fn lease_until() -> String {
    (crate::clock::now() + time::Duration::seconds(lease_seconds()))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A message taken for processing by this instance. While it lives, its lease is renewed.
pub struct Claimed {
    pub id: i64,
    pub file_name: String,
    pub payload: Vec<u8>,
    pub signature: Option<Vec<u8>>,
    pub report_id: Option<i64>,
    pub attempts: i64,
    /// Taken again after an instance that held it stopped.
    pub reclaimed: bool,
    _renewal: Renewal,
}

/// Renews a claim's lease in the background until dropped.
struct Renewal(Option<tokio::task::JoinHandle<()>>);

impl Drop for Renewal {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

fn renew(app: &App, id: i64, instance: &str) -> Renewal {
    let (db, instance) = (app.db.clone(), instance.to_string());
    let every = std::time::Duration::from_secs((lease_seconds() as u64 / 3).max(1));
    Renewal(Some(tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let renewed =
                sqlx::query("UPDATE exchange_messages SET lease_until = $1 WHERE id = $2 AND claimed_by = $3")
                    .bind(lease_until())
                    .bind(id)
                    .bind(&instance)
                    .execute(&db.pool)
                    .await;
            if let Err(e) = renewed {
                tracing::warn!(message = id, "exchange lease not renewed: {e}");
            }
        }
    })))
}

/// Takes the next message of a connector in `status` — or one left in `busy` by an instance that
/// stopped (its lease ran out) — so that no two instances take the same one (PostgreSQL:
/// `FOR UPDATE SKIP LOCKED`; SQLite has one writer at a time). A message interrupted
/// [`MAX_ATTEMPTS`] times is left failed for an administrator instead of being taken again.
pub async fn claim(
    app: &App,
    connector: &str,
    direction: &str,
    status: &str,
    busy: &str,
    instance: &str,
) -> Result<Option<Claimed>> {
    loop {
        let at = now();
        let lock = match app.db.engine {
            Engine::Postgres => " FOR UPDATE SKIP LOCKED",
            Engine::Sqlite => "",
        };
        // Abandoned claims first: they are the oldest work.
        let abandoned = format!(
            "SELECT id, status FROM exchange_messages WHERE connector = $1 AND direction = $2 AND status = $3 \
             AND (lease_until IS NULL OR lease_until < $4) ORDER BY id LIMIT 1{lock}"
        );
        let waiting = format!(
            "SELECT id, status FROM exchange_messages WHERE connector = $1 AND direction = $2 AND status = $3 \
             AND (next_attempt_at IS NULL OR next_attempt_at <= $4) ORDER BY id LIMIT 1{lock}"
        );
        let mut tx = app.db.pool.begin().await?;
        let mut picked = None;
        for (sql, from) in [(&abandoned, busy), (&waiting, status)] {
            picked = sqlx::query(sql)
                .bind(connector)
                .bind(direction)
                .bind(from)
                .bind(&at)
                .fetch_optional(&mut *tx)
                .await?;
            if picked.is_some() {
                break;
            }
        }
        let Some(row) = picked else {
            return Ok(None);
        };
        let id: i64 = row.try_get("id")?;
        let from: String = row.try_get("status")?;
        let reclaimed = from == busy;
        let changed = sqlx::query(
            "UPDATE exchange_messages SET status = $1, claimed_by = $2, attempts = attempts + 1, lease_until = $3, updated_at = $4 \
             WHERE id = $5 AND status = $6",
        )
        .bind(busy)
        .bind(instance)
        .bind(lease_until())
        .bind(&at)
        .bind(id)
        .bind(&from)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            tx.rollback().await?;
            continue;
        }
        let row = sqlx::query("SELECT * FROM exchange_messages WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let attempts: i64 = row.try_get("attempts")?;
        if reclaimed && attempts > MAX_ATTEMPTS {
            // Interrupted again and again (a document that kills its worker): an administrator decides.
            sqlx::query(
                "UPDATE exchange_messages SET status = 'failed', lease_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(format!(
                "обработка прерывалась {} раз (экземпляр сервера останавливался): сообщение отложено до решения администратора",
                attempts - 1
            ))
            .bind(&at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::warn!(
                message = id,
                "exchange message interrupted {} times: failed",
                attempts - 1
            );
            continue;
        }
        tx.commit().await?;
        if reclaimed {
            tracing::info!(message = id, "exchange message taken again after an interrupted claim");
        }
        return Ok(Some(Claimed {
            id,
            file_name: row.try_get("file_name")?,
            payload: row.try_get("payload")?,
            signature: row.try_get::<Option<Vec<u8>>, _>("signature").ok().flatten(),
            report_id: row.try_get("report_id").ok().flatten(),
            attempts,
            reclaimed,
            _renewal: renew(app, id, instance),
        }));
    }
}

/// A failure worth retrying: the database, the disk, the network or the other side for a while.
/// What is not marked so — a document the connector refuses, a 4xx answer — is permanent.
#[derive(Debug)]
pub struct Transient(pub String);

impl std::fmt::Display for Transient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Transient {}

/// Whether a failure may pass by itself: storage, I/O, a database that is busy or away, or one
/// marked [`Transient`]. A constraint the database refuses, a document a plugin refuses, a
/// receipt for an unknown report are permanent: retrying them changes nothing.
pub fn is_transient(e: &anyhow::Error) -> bool {
    crate::db::storage::is_full(e)
        || e.chain().any(|cause| {
            if cause.downcast_ref::<Transient>().is_some() || cause.downcast_ref::<std::io::Error>().is_some() {
                return true;
            }
            match cause.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Database(db)) => !matches!(
                    db.kind(),
                    sqlx::error::ErrorKind::UniqueViolation
                        | sqlx::error::ErrorKind::ForeignKeyViolation
                        | sqlx::error::ErrorKind::NotNullViolation
                        | sqlx::error::ErrorKind::CheckViolation
                ),
                Some(sqlx::Error::RowNotFound | sqlx::Error::ColumnNotFound(_) | sqlx::Error::ColumnDecode { .. }) => {
                    false
                }
                Some(_) => true,
                None => false,
            }
        })
}

/// How a message's work ended.
pub enum Finish<'a> {
    /// Done: the message takes this status.
    Done(&'a str),
    /// Failed: retried later with backoff while the failure is transient and attempts remain,
    /// else left `failed` for an administrator. A full disk does not use up an attempt.
    Failed(&'a anyhow::Error, String),
}

/// Marks a claimed message done or failed.
pub async fn finish(app: &App, message: &Claimed, outcome: Finish<'_>, retry_status: &str) -> Result<()> {
    let at = now();
    match outcome {
        Finish::Done(status) => {
            sqlx::query(
                "UPDATE exchange_messages SET status = $1, last_error = NULL, refusals = NULL, lease_until = NULL, updated_at = $2 WHERE id = $3",
            )
            .bind(status)
            .bind(&at)
            .bind(message.id)
            .execute(&app.db.pool)
            .await?;
        }
        Finish::Failed(cause, error) => {
            let full = crate::db::storage::is_full(cause);
            let attempts = if full { message.attempts - 1 } else { message.attempts };
            let (status, next, error) = if is_transient(cause) && attempts < MAX_ATTEMPTS {
                let delay = if full { 30 } else { 30i64 * (1 << attempts.clamp(0, 10)) };
                let next = crate::clock::now() + time::Duration::seconds(delay);
                (
                    retry_status,
                    next.format(&time::format_description::well_known::Rfc3339).ok(),
                    error,
                )
            } else if is_transient(cause) {
                ("failed", None, format!("{error} (попыток: {attempts})"))
            } else {
                (
                    "failed",
                    None,
                    format!("{error} (отказ окончательный: повтор ничего не изменит)"),
                )
            };
            sqlx::query(
                "UPDATE exchange_messages SET status = $1, last_error = $2, next_attempt_at = $3, attempts = $4, lease_until = NULL, \
                 updated_at = $5 WHERE id = $6",
            )
            .bind(status)
            .bind(&error)
            .bind(next)
            .bind(attempts)
            .bind(&at)
            .bind(message.id)
            .execute(&app.db.pool)
            .await?;
        }
    }
    Ok(())
}

/// Marks an outgoing message sent and logs the document, in one transaction.
pub async fn finish_sent(app: &App, connector: &str, message: &Claimed) -> Result<()> {
    let sha = hex::encode(Sha256::digest(&message.payload));
    let mut tx = app.db.pool.begin().await?;
    sqlx::query(
        "UPDATE exchange_messages SET status = 'sent', last_error = NULL, lease_until = NULL, updated_at = $1 WHERE id = $2",
    )
    .bind(now())
    .bind(message.id)
    .execute(&mut *tx)
    .await?;
    log::append(&mut *tx, connector, "out", Some(message.id), &message.file_name, &sha).await?;
    tx.commit().await?;
    Ok(())
}

/// Queues an outgoing document (and its detached signature) in the connector's outbox table.
pub async fn queue_outgoing(
    app: &App,
    connector: &str,
    kind: &str,
    file_name: &str,
    payload: &[u8],
    signature: Option<&[u8]>,
    report_id: Option<i64>,
) -> Result<i64> {
    let sha = hex::encode(Sha256::digest(payload));
    let at = now();
    sqlx::query(
        "INSERT INTO exchange_messages (connector, direction, kind, file_name, sha256, payload, signature, status, report_id, created_at, updated_at) \
         VALUES ($1, 'out', $2, $3, $4, $5, $6, 'queued', $7, $8, $8) ON CONFLICT (connector, direction, sha256) DO NOTHING",
    )
    .bind(connector)
    .bind(kind)
    .bind(file_name)
    .bind(&sha)
    .bind(payload)
    .bind(signature)
    .bind(report_id)
    .bind(&at)
    .execute(&app.db.pool)
    .await?;
    Ok(
        sqlx::query("SELECT id FROM exchange_messages WHERE connector = $1 AND direction = 'out' AND sha256 = $2")
            .bind(connector)
            .bind(&sha)
            .fetch_one(&app.db.pool)
            .await?
            .try_get("id")?,
    )
}

/// [`queue_outgoing`] of a document without signature inside the caller's transaction, so that the
/// message is queued together with what it records (a package of facts and its facts): both or neither.
pub async fn queue_outgoing_in(
    conn: &mut sqlx::AnyConnection,
    connector: &str,
    kind: &str,
    file_name: &str,
    payload: &[u8],
) -> Result<i64> {
    let sha = hex::encode(Sha256::digest(payload));
    let at = now();
    sqlx::query(
        "INSERT INTO exchange_messages (connector, direction, kind, file_name, sha256, payload, status, created_at, updated_at) \
         VALUES ($1, 'out', $2, $3, $4, $5, 'queued', $6, $6) ON CONFLICT (connector, direction, sha256) DO NOTHING",
    )
    .bind(connector)
    .bind(kind)
    .bind(file_name)
    .bind(&sha)
    .bind(payload)
    .bind(&at)
    .execute(&mut *conn)
    .await?;
    Ok(
        sqlx::query("SELECT id FROM exchange_messages WHERE connector = $1 AND direction = 'out' AND sha256 = $2")
            .bind(connector)
            .bind(&sha)
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?,
    )
}

/// Delivers one outgoing message: into the outbox folder (written whole, then renamed, so the
/// adapter never sees half a file) or by HTTP POST when the connector has an upload URL.
pub fn deliver(folder: &Path, upload_url: Option<&str>, message: &Claimed) -> Result<()> {
    match upload_url {
        Some(url) => {
            http_post(url, &message.file_name, &message.payload)?;
            if let Some(signature) = &message.signature {
                http_post(url, &format!("{}.sig", message.file_name), signature)?;
            }
            Ok(())
        }
        None => {
            let write = |name: &str, bytes: &[u8]| -> Result<()> {
                let part = folder.join(format!("{name}.part"));
                std::fs::write(&part, bytes)?;
                std::fs::rename(&part, folder.join(name))?;
                Ok(())
            };
            if let Some(signature) = &message.signature {
                write(&format!("{}.sig", message.file_name), signature)?;
            }
            write(&message.file_name, &message.payload)
        }
    }
}

/// A minimal HTTP/1.1 POST (no TLS: the SMEV adapter is reached on the local network).
fn http_post(url: &str, name: &str, body: &[u8]) -> Result<()> {
    use std::io::{Read, Write};
    let rest = url
        .strip_prefix("http://")
        .context("адрес выгрузки должен начинаться с http://")?;
    let (host, path) = rest
        .split_once('/')
        .map(|(h, p)| (h, format!("/{p}")))
        .unwrap_or((rest, "/".into()));
    let mut stream = std::net::TcpStream::connect(host).with_context(|| format!("соединение с {host}"))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nX-File-Name: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        name.replace(['\r', '\n'], ""),
        body.len()
    )?;
    stream.write_all(body)?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status: u16 = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    if status >= 500 || status == 429 || status == 408 {
        return Err(Transient(format!("сервер выгрузки ответил {status}: повтор позже")).into());
    }
    if !(200..300).contains(&status) {
        bail!("сервер выгрузки ответил {status}: документ не принят");
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MessageView {
    pub id: i64,
    pub connector: String,
    pub direction: String,
    pub kind: String,
    pub file_name: String,
    pub sha256: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// What the connector refused in the message, one line each (a whole document or single records).
    pub refusals: Option<String>,
    pub report_id: Option<i64>,
    pub claimed_by: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

const MESSAGE_COLUMNS: &str = "id, connector, direction, kind, file_name, sha256, status, attempts, last_error, \
     refusals, report_id, claimed_by, created_at, updated_at";

fn message_from_row(r: &sqlx::any::AnyRow) -> Result<MessageView> {
    Ok(MessageView::from_row(r)?)
}

/// Every message in `status` (a job's work: what waits is few), oldest first.
pub async fn messages(app: &App, status: &str) -> Result<Vec<MessageView>> {
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM exchange_messages WHERE status = $1 ORDER BY id"
    ))
    .bind(status)
    .fetch_all(&app.db.pool)
    .await?
    .iter()
    .map(message_from_row)
    .collect()
}

/// A page of messages, newest first (`status`: only those), below the id `before`.
pub async fn messages_page(
    db: &crate::db::Db,
    status: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<crate::paging::Page<MessageView>> {
    let mut q = crate::paging::PageQuery {
        table: "exchange_messages",
        columns: MESSAGE_COLUMNS,
        conditions: Vec::new(),
        binds: Vec::new(),
        index: None,
    };
    if let Some(s) = status.filter(|s| !s.is_empty()) {
        q.filter("status = ?", s);
        q.index = Some("exchange_messages_state");
    }
    let page = crate::paging::newest_first(db, &q, before, limit).await?;
    let items = page.items.iter().map(message_from_row).collect::<Result<Vec<_>>>()?;
    Ok(page.map_items(items))
}

/// One message with its refusals, or `None` when there is no such message.
pub async fn message(db: &crate::db::Db, id: i64) -> Result<Option<MessageView>> {
    sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM exchange_messages WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    .as_ref()
    .map(message_from_row)
    .transpose()
}

/// Keeps what the connector refused in a message (one line each) where the operator looks for it.
pub async fn keep_refusals(app: &App, id: i64, refusals: &[String]) -> Result<()> {
    if refusals.is_empty() {
        return Ok(());
    }
    sqlx::query("UPDATE exchange_messages SET refusals = $1, updated_at = $2 WHERE id = $3")
        .bind(refusals.join("\n"))
        .bind(now())
        .bind(id)
        .execute(&app.db.pool)
        .await?;
    Ok(())
}

/// The newest messages of these connectors with something refused in them, newest first.
pub async fn refused(db: &crate::db::Db, connectors: &[String], limit: u32) -> Result<Vec<MessageView>> {
    if connectors.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=connectors.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM exchange_messages WHERE connector IN ({}) AND refusals IS NOT NULL \
         ORDER BY id DESC LIMIT {limit}",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql);
    for connector in connectors {
        query = query.bind(connector);
    }
    query.fetch_all(&db.pool).await?.iter().map(message_from_row).collect()
}

/// An administrator stops the retries of a message, or puts a failed or stopped one back in line.
pub async fn set_retry(app: &App, id: i64, retry: bool, actor: &str) -> Result<()> {
    let row = sqlx::query("SELECT direction, status FROM exchange_messages WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .context("сообщение не найдено")?;
    let direction: String = row.try_get("direction")?;
    let status: String = row.try_get("status")?;
    let (allowed, to): (&[&str], &str) = match (retry, direction.as_str()) {
        (true, "in") => (&["failed", "stopped"], "received"),
        (true, _) => (&["failed", "stopped"], "queued"),
        (false, "in") => (&["failed", "received"], "stopped"),
        (false, _) => (&["failed", "queued"], "stopped"),
    };
    if !allowed.contains(&status.as_str()) {
        bail!("сообщение {id} в статусе «{status}»: действие недоступно");
    }
    sqlx::query("UPDATE exchange_messages SET status = $1, next_attempt_at = NULL, attempts = CASE WHEN $2 = 1 THEN 0 ELSE attempts END, updated_at = $3 WHERE id = $4")
        .bind(to)
        .bind(i64::from(retry))
        .bind(now())
        .bind(id)
        .execute(&app.db.pool)
        .await?;
    crate::audit::record(
        &app.db,
        actor,
        if retry { "exchange.retry" } else { "exchange.stop" },
        &format!("message:{id}"),
        None,
    )
    .await
}
