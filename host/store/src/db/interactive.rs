//! Interactive work: the pool the web server's requests use, where every statement runs under a
//! time-out and a request whose client has gone away has its statement stopped at once.
//!
//! How a request's statements are found, without touching the queries themselves: the web layer
//! runs each request inside [`Interactive::scope`], which keeps the request's [`RequestQueries`]
//! in a task-local. The pool's `before_acquire` and `after_connect` hooks run in the acquiring
//! task, read it, and tell the connection whom it now works for — one round trip, which takes
//! the place of the pool's liveness ping:
//!
//! - SQLite: `SELECT ipra_request(id)`, a function every connection of the process gets (see
//!   `sqlite_watch`); the connection's progress handler then stops a statement of a dropped
//!   request, or one running past the time-out, within a thousand VM steps.
//! - PostgreSQL: `statement_timeout` for this request, and `application_name` naming it; when a
//!   request is dropped, `pg_cancel_backend` reaches the backend that still runs a statement under
//!   that name, from a control connection apart from both pools. Releases wait for a cancel under
//!   way, so a cancelled backend never serves anyone else first.
//!
//! Background work (imports, jobs, migrations, the CLI) uses the other pool and is limited by
//! neither; an acquisition here outside any request runs without a time-out.

use super::{sqlite_watch, Db, Engine, SQLITE_SETTINGS};
use anyhow::{Context, Result};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyConnection, AnyPool, Executor, Row};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

/// What the statements of one HTTP request run under, and what happened to them.
pub struct RequestQueries {
    id: u64,
    timeout: Option<Duration>,
    /// A connection was marked for the request (on PostgreSQL, only then is there anything to cancel).
    used: AtomicBool,
    cancelled: AtomicBool,
    timed_out: AtomicBool,
}

impl RequestQueries {
    pub(super) fn id(&self) -> u64 {
        self.id
    }

    pub(super) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// The request was dropped (its client went away): its statements are to stop.
    pub(super) fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// A statement of the request ran past its time-out and was stopped.
    pub(super) fn note_timeout(&self) {
        self.timed_out.store(true, Ordering::Relaxed);
    }
}

tokio::task_local! {
    static CURRENT: Arc<RequestQueries>;
}

fn current() -> Option<Arc<RequestQueries>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// The statement time-out of the request being served, if any.
pub fn current_timeout() -> Option<Duration> {
    current().and_then(|r| r.timeout)
}

/// Records that a statement of the request being served was stopped by its time-out (for a
/// stop the database reported as an error rather than through the watch).
pub fn note_timeout() {
    if let Some(request) = current() {
        request.note_timeout();
    }
}

/// Whether an error is a statement the database stopped: a time-out or a cancel (PostgreSQL
/// `query_canceled`, SQLite `SQLITE_INTERRUPT`, which only the watch causes here).
pub fn is_stopped_statement(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() else {
            return false;
        };
        matches!(db.code().as_deref(), Some("57014") | Some("9"))
    })
}

/// The interactive pool's shared state: the time-out, and on PostgreSQL what cancels need.
pub struct Interactive {
    engine: Engine,
    timeout: Option<Duration>,
    next_id: AtomicU64,
    /// Tells this process's requests from other instances' on a shared PostgreSQL server.
    instance: u32,
    /// PostgreSQL: a connection apart from both pools that sends cancels (opened on first use).
    control: Option<AnyPool>,
    cancels: Arc<CancelsUnderWay>,
}

pub(super) async fn open(db: &Db, timeout: Option<Duration>) -> Result<(Db, Arc<Interactive>)> {
    let engine = db.engine;
    let connect = (*db.pool.connect_options()).clone();
    let control = (engine == Engine::Postgres).then(|| {
        AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy_with(connect.clone())
    });
    let mut instance = [0u8; 4];
    getrandom::getrandom(&mut instance).context("случайный номер экземпляра")?;
    let interactive = Arc::new(Interactive {
        engine,
        timeout,
        next_id: AtomicU64::new(1),
        instance: u32::from_le_bytes(instance),
        control,
        cancels: Arc::default(),
    });
    let on_connect = interactive.clone();
    let on_acquire = interactive.clone();
    let cancels = interactive.cancels.clone();
    let options = AnyPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .max_connections(match engine {
            Engine::Sqlite => 4,
            Engine::Postgres => 8,
        })
        // The mark in `before_acquire` is a round trip to the connection and tests it as well.
        .test_before_acquire(false)
        .after_connect(move |conn, _meta| {
            let request = current();
            let interactive = on_connect.clone();
            Box::pin(async move {
                if interactive.engine == Engine::Sqlite {
                    conn.execute(SQLITE_SETTINGS).await?;
                    // Requests read a page's rows; the database file stays in the system's cache
                    // anyway. Half the background pool's cache keeps a loaded server of a million
                    // persons under 512 MiB with four request connections.
                    conn.execute("PRAGMA cache_size = -16384").await?;
                } else {
                    // A request reads one page through an index: starting parallel workers costs
                    // more than the walk (an executor's register by name at a million persons:
                    // 43-60 ms with two workers, 11 ms without), and so does compiling the
                    // statement, which PostgreSQL does for a walk whose whole cost it estimates
                    // past `jit_above_cost` although a LIMIT stops it early (a count of a report
                    // status: 144 ms of compiling for 6 ms of reading). Background work keeps both.
                    conn.execute(PG_REQUEST_SETTINGS).await?;
                }
                interactive.mark(conn, request.as_deref()).await?;
                Ok(())
            })
        })
        .before_acquire(move |conn, _meta| {
            let request = current();
            let interactive = on_acquire.clone();
            Box::pin(async move { interactive.mark(conn, request.as_deref()).await })
        });
    let options = match engine {
        Engine::Postgres => options.after_release(move |_conn, _meta| {
            let cancels = cancels.clone();
            Box::pin(async move {
                cancels.wait().await;
                Ok(true)
            })
        }),
        Engine::Sqlite => options.after_release(|conn, _meta| Box::pin(super::clean_release(conn))),
    };
    let pool = options
        .connect_with(connect)
        .await
        .context("подключение к базе данных для веб-запросов")?;
    Ok((
        Db {
            pool,
            engine,
            url: db.url.clone(),
        },
        interactive,
    ))
}

impl Interactive {
    /// Runs `request` (a request's whole service future) with its statements under the
    /// interactive rules. The output says whether a statement of it ran out of time; dropping
    /// the future before it finishes stops the statement it was running.
    pub fn scope<F: Future>(self: &Arc<Self>, request: F) -> Scoped<F> {
        let queries = Arc::new(RequestQueries {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            timeout: self.timeout,
            used: AtomicBool::new(false),
            cancelled: AtomicBool::new(false),
            timed_out: AtomicBool::new(false),
        });
        if self.engine == Engine::Sqlite {
            sqlite_watch::register(&queries);
        }
        Scoped {
            inner: Box::pin(CURRENT.scope(queries.clone(), request)),
            queries,
            interactive: self.clone(),
            finished: false,
        }
    }

    /// The statement time-out of this server (None: none).
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Tells a connection which request (if any) it now serves. Ok(false) retires it.
    async fn mark(&self, conn: &mut AnyConnection, request: Option<&RequestQueries>) -> Result<bool, sqlx::Error> {
        if let Some(request) = request {
            request.used.store(true, Ordering::Relaxed);
        }
        match self.engine {
            Engine::Sqlite => {
                let retire: i64 = sqlx::query_scalar("SELECT ipra_request($1)")
                    .bind(request.map_or(0, |r| r.id) as i64)
                    .fetch_one(&mut *conn)
                    .await?;
                Ok(retire == 0)
            }
            Engine::Postgres => {
                let timeout = request.and_then(|r| r.timeout).map_or(0, |t| t.as_millis().max(1));
                let name = match request {
                    Some(r) => self.application_name(r.id),
                    None => "ipra".to_string(),
                };
                // Both values are this module's own digits and letters, so the simple protocol
                // (one message, no statement to prepare) is safe and the cheapest round trip.
                let set = format!("SET statement_timeout = {timeout}; SET application_name = '{name}'");
                conn.execute(set.as_str()).await?;
                Ok(true)
            }
        }
    }

    fn application_name(&self, id: u64) -> String {
        format!("ipra request {:08x}-{id}", self.instance)
    }

    /// PostgreSQL: cancels the statement a dropped request's backend still runs.
    fn cancel(&self, request: &RequestQueries) {
        let (Some(control), Ok(runtime)) = (self.control.clone(), tokio::runtime::Handle::try_current()) else {
            return;
        };
        let name = self.application_name(request.id);
        let cancels = self.cancels.clone();
        cancels.begin();
        runtime.spawn(async move {
            let sent = sqlx::query(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = $1 AND state = 'active' AND pid <> pg_backend_pid()",
            )
            .bind(&name)
            .execute(&control)
            .await;
            if let Err(e) = sent {
                tracing::warn!("cancelling the statement of a request whose client went away: {e}");
            }
            cancels.end();
        });
    }
}

/// A request's future under [`Interactive::scope`].
pub struct Scoped<F: Future> {
    inner: Pin<Box<tokio::task::futures::TaskLocalFuture<Arc<RequestQueries>, F>>>,
    queries: Arc<RequestQueries>,
    interactive: Arc<Interactive>,
    finished: bool,
}

impl<F: Future> Future for Scoped<F> {
    /// The request's output, and whether a statement of it ran out of time.
    type Output = (F::Output, bool);

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let output = std::task::ready!(self.inner.as_mut().poll(cx));
        self.finished = true;
        Poll::Ready((output, self.queries.timed_out.load(Ordering::Relaxed)))
    }
}

impl<F: Future> Drop for Scoped<F> {
    /// Runs before the request's future (and the connections it holds) is dropped, so that the
    /// connections see the cancel, and on PostgreSQL their release waits for it.
    fn drop(&mut self) {
        if self.interactive.engine == Engine::Sqlite {
            sqlite_watch::unregister(self.queries.id);
        }
        if !self.finished {
            self.queries.cancelled.store(true, Ordering::Relaxed);
            if self.interactive.engine == Engine::Postgres && self.queries.used.load(Ordering::Relaxed) {
                self.interactive.cancel(&self.queries);
            }
        }
    }
}

/// Cancels being sent; a released connection waits for them (at most a moment) before it goes
/// back to the pool.
#[derive(Default)]
struct CancelsUnderWay {
    count: AtomicUsize,
    done: tokio::sync::Notify,
}

impl CancelsUnderWay {
    fn begin(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn end(&self) {
        if self.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.done.notify_waiters();
        }
    }

    async fn wait(&self) {
        if self.count.load(Ordering::SeqCst) == 0 {
            return;
        }
        let waiting = async {
            loop {
                let done = self.done.notified();
                tokio::pin!(done);
                done.as_mut().enable();
                if self.count.load(Ordering::SeqCst) == 0 {
                    return;
                }
                done.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), waiting).await;
    }
}

/// What every request connection of PostgreSQL sets once, when it is opened.
const PG_REQUEST_SETTINGS: &str = "SET max_parallel_workers_per_gather = 0; SET jit = off";

/// How a PostgreSQL connection runs statements: the parallel workers per gather it allows and
/// whether it compiles statements (a request's: none, and no).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PgStatementSettings {
    pub parallel_workers_per_gather: i64,
    pub jit: bool,
}

/// The administrators' check of the time-out set-up: a statement that runs `seconds` on the
/// database (a counting loop on SQLite, `pg_sleep` on PostgreSQL). On PostgreSQL the answer is
/// how the statement's connection runs statements.
pub async fn slow_query(db: &Db, seconds: u32) -> Result<Option<PgStatementSettings>> {
    Ok(match db.engine {
        Engine::Sqlite => {
            let until = sqlite_watch::clock_ms() + i64::from(seconds) * 1000;
            sqlx::query(
                "WITH RECURSIVE spin(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM spin WHERE ipra_clock_ms() < $1) \
                 SELECT MAX(n) AS n FROM spin",
            )
            .bind(until)
            .fetch_one(&db.pool)
            .await?;
            None
        }
        Engine::Postgres => {
            let row = sqlx::query(
                "SELECT current_setting('max_parallel_workers_per_gather') AS workers, current_setting('jit') AS jit \
                 FROM pg_sleep($1)",
            )
            .bind(f64::from(seconds))
            .fetch_one(&db.pool)
            .await?;
            let workers: String = row.try_get("workers")?;
            let jit: String = row.try_get("jit")?;
            Some(PgStatementSettings {
                parallel_workers_per_gather: workers.parse().context("max_parallel_workers_per_gather")?,
                jit: jit == "on",
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    async fn scratch(dir: &std::path::Path) -> Db {
        let url = std::env::var("IPRA_OVERHEAD_DATABASE_URL")
            .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.join("scratch.sqlite").display()));
        let db = Db::open(&url).await.expect("open");
        sqlx::query("DROP TABLE IF EXISTS scratch")
            .execute(&db.pool)
            .await
            .expect("drop");
        sqlx::query("CREATE TABLE scratch (id INTEGER PRIMARY KEY, x INTEGER NOT NULL)")
            .execute(&db.pool)
            .await
            .expect("create");
        db
    }

    /// A writer waiting for another's write lock is a statement like any other: it gives up at
    /// the request's time-out instead of the 30 s `busy_timeout`, and the connection serves on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_sqlite_writer_waiting_for_the_lock_gives_up_at_the_time_out() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = scratch(dir.path()).await;
        let (web, rules) = db
            .interactive(Some(Duration::from_millis(300)))
            .await
            .expect("interactive");
        let mut holder = db.pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO scratch (id, x) VALUES (1, 1)")
            .execute(&mut *holder)
            .await
            .expect("hold the write lock");
        let started = Instant::now();
        let insert = || sqlx::query("INSERT INTO scratch (id, x) VALUES (2, 2)").execute(&web.pool);
        let (result, timed_out) = rules.scope(insert()).await;
        assert!(result.is_err() && timed_out, "{result:?}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "gave up before busy_timeout"
        );
        holder.rollback().await.expect("rollback");
        let (result, timed_out) = rules.scope(insert()).await;
        assert!(result.is_ok() && !timed_out, "{result:?}");
    }

    /// Prints what the interactive rules cost: the same indexed read through the background pool
    /// and through the interactive pool inside a request, then on one connection of each (the
    /// statement hooks alone), then one long statement (the progress handler alone). Batches
    /// alternate and the medians are printed, the machine being shared. SQLite unless
    /// IPRA_OVERHEAD_DATABASE_URL names another database.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "prints figures: cargo test --release --bin ipra overhead -- --ignored --nocapture"]
    async fn overhead_per_query() {
        const ROWS: i64 = 10_000;
        const BATCH: u32 = 1_000;
        const BATCHES: usize = 21;
        let dir = tempfile::tempdir().expect("temp dir");
        let db = scratch(dir.path()).await;
        sqlx::query(
            "INSERT INTO scratch (id, x) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             SELECT i, i * 7 FROM n",
        )
        .bind(ROWS)
        .execute(&db.pool)
        .await
        .expect("rows");
        let (web, rules) = db
            .interactive(Some(Duration::from_secs(60)))
            .await
            .expect("interactive");
        async fn reads(pool: &AnyPool, one_connection: bool) -> Duration {
            let mut conn = pool.acquire().await.expect("acquire");
            let started = Instant::now();
            for i in 0..BATCH {
                let read = sqlx::query("SELECT x FROM scratch WHERE id = $1").bind(i64::from(i) % ROWS + 1);
                if one_connection {
                    read.fetch_one(&mut *conn).await.expect("read");
                } else {
                    read.fetch_one(pool).await.expect("read");
                }
            }
            started.elapsed() / BATCH
        }
        async fn long_statement(pool: &AnyPool) -> Duration {
            let started = Instant::now();
            sqlx::query(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000000) SELECT MAX(i) FROM n",
            )
            .fetch_one(pool)
            .await
            .expect("long statement");
            started.elapsed()
        }
        fn median(mut runs: Vec<Duration>) -> Duration {
            runs.sort();
            runs[runs.len() / 2]
        }
        let mut figures: [Vec<Duration>; 6] = Default::default();
        for _ in 0..BATCHES {
            figures[0].push(reads(&db.pool, false).await);
            figures[1].push(rules.scope(reads(&web.pool, false)).await.0);
            figures[2].push(reads(&db.pool, true).await);
            figures[3].push(rules.scope(reads(&web.pool, true)).await.0);
        }
        for _ in 0..5 {
            figures[4].push(long_statement(&db.pool).await);
            figures[5].push(rules.scope(long_statement(&web.pool)).await.0);
        }
        let [pooled, pooled_web, conn, conn_web, long, long_web] = figures.map(median);
        println!(
            "{}: a pooled indexed read {pooled:?} background, {pooled_web:?} interactive; on one connection \
             {conn:?} background, {conn_web:?} interactive; a 2M-row statement {long:?} background, \
             {long_web:?} interactive (medians)",
            db.engine.name()
        );
    }
}
