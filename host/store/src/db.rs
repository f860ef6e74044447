//! The register's database: one pool over SQLite (embedded default) or PostgreSQL (by URL),
//! migrated on open. Queries use `$n` placeholders, which both engines accept. The web server
//! adds a second pool for interactive work (`interactive`): statement time-outs, and statements
//! stopped when the client that asked for them has gone away.

pub mod bulk_read;
pub mod interactive;
pub mod migration_state;
pub mod rows;
mod sqlite_watch;
pub mod storage;
pub mod upgrade;

use anyhow::{Context, Result};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::time::Duration;

/// Which engine a database URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// A migrated connection pool plus the engine it talks to.
#[derive(Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub engine: Engine,
    /// The URL the pool was opened with (bulk reads open a native connection to it).
    pub url: String,
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/postgres");

/// The migrations this binary carries for an engine.
pub fn migrator(engine: Engine) -> &'static sqlx::migrate::Migrator {
    match engine {
        Engine::Sqlite => &SQLITE_MIGRATIONS,
        Engine::Postgres => &POSTGRES_MIGRATIONS,
    }
}

/// Every SQLite connection's settings. A 32 MiB page cache holds an import batch's dirty pages (the
/// 2 MiB default spilled them to the WAL mid-transaction and read them back); savepoint journals
/// stay in memory. A writer waits up to [`SQLITE_BUSY_LIMIT`] for another one.
const SQLITE_SETTINGS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 30000; \
     PRAGMA cache_size = -32768; PRAGMA temp_store = MEMORY;";

/// How long a SQLite writer waits for the write lock (`busy_timeout` above).
const SQLITE_BUSY_LIMIT: Duration = Duration::from_secs(30);

/// SQLite: whether a connection coming back to its pool may serve again — only when it holds no
/// transaction. After a full disk SQLite rolls a failed transaction back by itself; sqlx's own
/// ROLLBACK then fails, its count of open transactions stays one too high, and the connection's
/// next transaction starts as a savepoint that its rollback (`ROLLBACK TO`) leaves open: a pooled
/// connection keeps the write lock, and every writer after it gets «database is locked» long after
/// the disk has room again. Such a connection is closed (SQLite rolls back what it held) and the
/// pool opens a fresh one. The query runs after the rollback a dropped transaction queued, so the
/// count read after it is the settled one.
///
/// Only a connection whose count says a transaction is open is asked: the count rises when sqlx's
/// BEGIN has run and falls only after its COMMIT or ROLLBACK has, so a count of zero leaves nothing
/// queued that could still change the connection's state, and both the full disk's stale count and
/// a dropped transaction's queued rollback read above zero. Most releases are of a request's single
/// statement without a transaction; the question would be one more round trip to the connection's
/// thread for each of them. Every transaction of the code is sqlx's (`begin`), none a raw `BEGIN`
/// that the count would not see.
async fn clean_release(conn: &mut sqlx::AnyConnection) -> Result<bool, sqlx::Error> {
    use sqlx::{Database, TransactionManager};
    if <sqlx::Any as Database>::TransactionManager::get_transaction_depth(conn) == 0 {
        return Ok(true);
    }
    let autocommit: i64 = sqlx::query_scalar("SELECT ipra_autocommit()")
        .fetch_one(&mut *conn)
        .await?;
    let depth = <sqlx::Any as Database>::TransactionManager::get_transaction_depth(conn);
    if autocommit == 1 && depth == 0 {
        return Ok(true);
    }
    tracing::warn!(
        autocommit,
        depth,
        "соединение с базой вернулось в пул с незавершённой транзакцией (так бывает после переполнения диска): оно закрыто, вместо него откроется новое"
    );
    Ok(false)
}

/// The default URL: the SQLite file inside the data directory.
pub fn default_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("ipra.sqlite").display())
}

impl Db {
    /// Whether the database answers at all (the readiness probe).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Opens (creating if needed) and migrates the database at `url`: a store made by a newer
    /// release is refused before anything changes ([`upgrade::migrate`]).
    pub async fn open(url: &str) -> Result<Db> {
        let db = Db::connect(url).await?;
        upgrade::migrate(&db).await?;
        Ok(db)
    }

    /// Opens the database at `url` without migrating it (`ipra migrate --status`, backups).
    pub async fn connect(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Engine::Postgres
        } else if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else {
            anyhow::bail!("неизвестный адрес базы данных «{url}»: ожидается sqlite://… или postgres://…");
        };
        let options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        let pool = match engine {
            Engine::Sqlite => {
                // One writer at a time is SQLite's model; WAL lets readers go on meanwhile.
                let path = url
                    .trim_start_matches("sqlite://")
                    .split('?')
                    .next()
                    .unwrap_or_default();
                if let Some(parent) = Path::new(path).parent() {
                    if !parent.as_os_str().is_empty() {
                        std::fs::create_dir_all(parent)
                            .with_context(|| format!("создание каталога базы {}", parent.display()))?;
                        storage::watch(parent);
                    }
                }
                sqlite_watch::install().map_err(|e| anyhow::anyhow!("подготовка SQLite: {e}"))?;
                options
                    .max_connections(4)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            conn.execute(SQLITE_SETTINGS).await?;
                            Ok(())
                        })
                    })
                    .after_release(|conn, _meta| Box::pin(clean_release(conn)))
                    .connect(url)
                    .await
            }
            Engine::Postgres => options.max_connections(8).connect(url).await,
        }
        .with_context(|| format!("подключение к базе данных {}", redact(url)))?;
        Ok(Db {
            pool,
            engine,
            url: url.to_string(),
        })
    }

    /// A second pool over the same database for the web server's requests: each statement a
    /// request runs is limited to `statement_timeout` (None: no limit) and stopped when the
    /// request is dropped. Requests run inside [`interactive::Interactive::scope`].
    pub async fn interactive(
        &self,
        statement_timeout: Option<Duration>,
    ) -> Result<(Db, std::sync::Arc<interactive::Interactive>)> {
        interactive::open(self, statement_timeout).await
    }
}

/// A URL safe to print: the password, if any, is hidden.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Current time as RFC 3339 UTC text, the form every `*_at` column holds.
pub fn now() -> String {
    stamp(crate::clock::now())
}

/// The current moment on the region's clocks (RFC 3339 with the zone's offset), for times whose
/// date is read as a date — an extract's received date: its first ten characters are the day
/// the region received it.
pub fn local_now() -> String {
    stamp(crate::clock::local(crate::clock::now()))
}

fn stamp(at: time::OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Reads an optional text column of a row by name.
pub fn opt_text(row: &AnyRow, column: &str) -> Option<String> {
    use sqlx::Row;
    row.try_get::<Option<String>, _>(column).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A transaction SQLite rolled back by itself (a full disk does so; here a trigger's
    /// `RAISE(ROLLBACK)`) leaves the pool's connection out of step with sqlx. The next
    /// transaction on it, rolled back, must not keep the write lock from everyone else.
    #[tokio::test]
    async fn a_connection_sqlite_rolled_back_does_not_keep_the_write_lock() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&default_url(dir.path())).await.unwrap();
        for statement in [
            "CREATE TABLE scratch (x INTEGER)",
            "CREATE TRIGGER scratch_boom BEFORE INSERT ON scratch WHEN NEW.x = 13 \
             BEGIN SELECT RAISE(ROLLBACK, 'boom'); END",
        ] {
            sqlx::query(statement).execute(&db.pool).await.unwrap();
        }
        let mut tx = db.pool.begin().await.unwrap();
        sqlx::query("INSERT INTO scratch VALUES (1)")
            .execute(&mut *tx)
            .await
            .unwrap();
        assert!(sqlx::query("INSERT INTO scratch VALUES (13)")
            .execute(&mut *tx)
            .await
            .is_err());
        drop(tx);
        for _ in 0..3 {
            let mut tx = db.pool.begin().await.unwrap();
            sqlx::query("INSERT INTO scratch VALUES (2)")
                .execute(&mut *tx)
                .await
                .unwrap();
            drop(tx);
        }
        // Another writer (a second process, say) gets the lock at once.
        let url = default_url(dir.path());
        let mut other = <sqlx::AnyConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("PRAGMA busy_timeout = 200")
            .execute(&mut other)
            .await
            .unwrap();
        sqlx::query("INSERT INTO scratch VALUES (3)")
            .execute(&mut other)
            .await
            .expect("the write lock is free");
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM scratch")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        assert_eq!(n, 1, "only the other writer's row is stored");
    }

    #[test]
    fn redacts_password() {
        assert_eq!(
            redact("postgres://ipra:secret@localhost:5432/ipra"),
            "postgres://ipra:***@localhost:5432/ipra"
        );
        assert_eq!(
            redact("sqlite://ipra-data/ipra.sqlite"),
            "sqlite://ipra-data/ipra.sqlite"
        );
    }
}
