//! What the store knows for `/metrics` (the web side renders it in the Prometheus format):
//!
//! * counters of this process — imports and job runs finished here since the start, kept in
//!   atomics and one small map (a restart resets them, as Prometheus counters may);
//! * figures read from the database at a scrape — jobs, exchange messages waiting, the signing
//!   queue, import runs — durable and the same whichever instance (or the command line) did the
//!   work. Each statement is bounded by an index (`migrations/*/0025_metrics_indexes.sql`): the
//!   rows it reads are a job's runs of the last day, the messages and reports waiting, never a
//!   whole large table (the test below asks SQLite for every plan);
//! * the connection pools.
//!
//! Nothing here holds personal data: job names, connector ids, statuses, counts and times.

use crate::db::Db;
use crate::register::import::ImportReport;
use anyhow::Result;
use sqlx::Row;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

// ---------------------------------------------------------------------------------------------
// Counters of this process

/// Imports finished in this process (dry runs are not counted: they store nothing).
struct ImportCounters {
    finished: AtomicU64,
    failed: AtomicU64,
    stopped: AtomicU64,
    files: AtomicU64,
    imported: AtomicU64,
    unchanged: AtomicU64,
    superseded: AtomicU64,
    rejections: AtomicU64,
    rejected_files: AtomicU64,
}

static IMPORTS: ImportCounters = ImportCounters {
    finished: AtomicU64::new(0),
    failed: AtomicU64::new(0),
    stopped: AtomicU64::new(0),
    files: AtomicU64::new(0),
    imported: AtomicU64::new(0),
    unchanged: AtomicU64::new(0),
    superseded: AtomicU64::new(0),
    rejections: AtomicU64::new(0),
    rejected_files: AtomicU64::new(0),
};

/// What the imports of this process did since it started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportTotals {
    /// Runs that came to their end (a run stopped by a plugin's `stop-job` policy included).
    pub finished: u64,
    /// Runs that failed (the database, the disk): nothing after the failure was stored.
    pub failed: u64,
    /// Runs stopped before their end by a plugin whose failure policy is `stop-job`.
    pub stopped: u64,
    pub files: u64,
    /// Extracts stored, new or changed.
    pub imported: u64,
    /// Extracts already stored as they are.
    pub unchanged: u64,
    /// Extracts stored and replaced by newer ones of the same IPRA.
    pub superseded: u64,
    /// Rejections (a file or a record refused, with its reason).
    pub rejections: u64,
    /// Files refused whole.
    pub rejected_files: u64,
}

/// Counts an import run of this process as it ended (called by `import::run_stream`).
pub fn count_import(result: &Result<ImportReport>) {
    let add = |counter: &AtomicU64, n: u64| {
        counter.fetch_add(n, Ordering::Relaxed);
    };
    match result {
        Ok(report) if report.dry_run => {}
        Ok(report) => {
            add(&IMPORTS.finished, 1);
            add(&IMPORTS.stopped, u64::from(report.stopped.is_some()));
            add(&IMPORTS.files, report.files);
            add(&IMPORTS.imported, report.imported);
            add(&IMPORTS.unchanged, report.unchanged);
            add(&IMPORTS.superseded, report.superseded);
            add(&IMPORTS.rejections, report.rejected.len() as u64);
            add(&IMPORTS.rejected_files, report.rejected_files);
        }
        Err(_) => add(&IMPORTS.failed, 1),
    }
}

pub fn imports() -> ImportTotals {
    let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    ImportTotals {
        finished: get(&IMPORTS.finished),
        failed: get(&IMPORTS.failed),
        stopped: get(&IMPORTS.stopped),
        files: get(&IMPORTS.files),
        imported: get(&IMPORTS.imported),
        unchanged: get(&IMPORTS.unchanged),
        superseded: get(&IMPORTS.superseded),
        rejections: get(&IMPORTS.rejections),
        rejected_files: get(&IMPORTS.rejected_files),
    }
}

/// Upper bounds of the buckets of a job run's duration, in seconds (+Inf implied).
pub const JOB_BUCKETS: [f64; 10] = [0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];

/// How the runs of a job that ended (not dry runs) finished: `succeeded`, `retrying` (failed, a
/// new attempt is scheduled) or `failed` (failed for good, an administrator decides).
pub const JOB_OUTCOMES: [&str; 3] = ["succeeded", "retrying", "failed"];

/// The runs of one job finished in this process.
#[derive(Clone, Debug, Default)]
pub struct JobCounters {
    /// By [`JOB_OUTCOMES`], in its order.
    pub runs: [u64; 3],
    /// Runs per bucket of [`JOB_BUCKETS`], not cumulative; the last is above the last bound.
    pub buckets: [u64; 11],
    pub seconds: f64,
}

impl JobCounters {
    pub fn count(&self) -> u64 {
        self.runs.iter().sum()
    }
}

static JOBS: Mutex<BTreeMap<String, JobCounters>> = Mutex::new(BTreeMap::new());

/// Counts a real run of `job` that ended as `status` after `took` (called by `scheduler::run_job`).
pub fn count_job_run(job: &str, status: &str, took: Duration) {
    let Some(outcome) = JOB_OUTCOMES.iter().position(|s| *s == status) else {
        return;
    };
    let seconds = took.as_secs_f64();
    let bucket = JOB_BUCKETS
        .iter()
        .position(|b| seconds <= *b)
        .unwrap_or(JOB_BUCKETS.len());
    let mut jobs = JOBS.lock().unwrap_or_else(|e| e.into_inner());
    let counters = match jobs.get_mut(job) {
        Some(counters) => counters,
        None => jobs.entry(job.to_string()).or_default(),
    };
    counters.runs[outcome] += 1;
    counters.buckets[bucket] += 1;
    counters.seconds += seconds;
}

/// The runs counted so far, by job name.
pub fn job_runs() -> BTreeMap<String, JobCounters> {
    JOBS.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

// ---------------------------------------------------------------------------------------------
// The connection pools

/// A connection pool as sqlx counts it.
#[derive(Clone, Copy, Debug)]
pub struct PoolFigures {
    /// Connections open now (idle or in use).
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

pub fn pool(db: &Db) -> PoolFigures {
    PoolFigures {
        size: db.pool.size(),
        idle: db.pool.num_idle(),
        max: db.pool.options().get_max_connections(),
    }
}

// ---------------------------------------------------------------------------------------------
// Figures read from the database

/// What the database holds of one scheduled job.
#[derive(Clone, Debug, Default)]
pub struct JobFigures {
    pub name: String,
    pub enabled: bool,
    /// A run of it is under way (here or in another process).
    pub running: bool,
    /// Real runs started in the last 24 hours, by status (`running`, `succeeded`, `retrying`,
    /// `failed`, `retried`, `discarded`).
    pub recent: Vec<(String, i64)>,
    /// Runs failed for good that wait for an administrator to retry or discard them.
    pub failed_waiting: i64,
    /// The last real run that ended: its status, duration and end (Unix seconds).
    pub last_status: Option<String>,
    pub last_duration: Option<f64>,
    pub last_finished: Option<i64>,
    /// When its last real run that succeeded ended (Unix seconds).
    pub last_success: Option<i64>,
}

/// Exchange messages of one connector and direction in one status that is not final.
#[derive(Clone, Debug)]
pub struct Waiting {
    pub connector: String,
    pub direction: String,
    pub status: String,
    pub count: i64,
    /// When the oldest of them was recorded (Unix seconds).
    pub oldest: Option<i64>,
}

/// The statuses of a message that are not final: waiting for a worker (`received` in,
/// `queued` out), taken by one (`processing`, `sending`), or left for an administrator
/// (`failed`, `stopped`). `processed`, `sent` and `duplicate` are final and not counted: there
/// are as many of them as documents ever exchanged.
pub const WAITING_STATUSES: [&str; 6] = ["received", "processing", "queued", "sending", "failed", "stopped"];

/// The statuses that make a connector's lag: the work not done yet.
pub const LAG_STATUSES: [&str; 4] = ["received", "processing", "queued", "sending"];

/// One state of the signing queue.
#[derive(Clone, Debug)]
pub struct SigningQueue {
    /// `awaiting-signature` or `signed-not-sent`.
    pub state: &'static str,
    pub count: i64,
    /// Since when the oldest report of the state has been in it (Unix seconds).
    pub oldest: Option<i64>,
}

/// Import runs as the database keeps them (every process's, the command line's too).
#[derive(Clone, Debug, Default)]
pub struct ImportRuns {
    pub running: i64,
    /// The last run that finished: its end (Unix seconds) and what it did.
    pub last_finished: Option<i64>,
    pub last_files: i64,
    pub last_imported: i64,
    pub last_unchanged: i64,
    pub last_superseded: i64,
    pub last_rejected: i64,
    /// Runs started in the last 24 hours, with their files, stored extracts and rejections.
    pub day_runs: i64,
    pub day_files: i64,
    pub day_imported: i64,
    pub day_rejected: i64,
}

/// Everything `/metrics` reads from the database.
#[derive(Clone, Debug, Default)]
pub struct DbFigures {
    pub jobs: Vec<JobFigures>,
    pub waiting: Vec<Waiting>,
    pub signing: Vec<SigningQueue>,
    pub imports: ImportRuns,
}

/// A stored RFC 3339 time as Unix seconds.
fn unix(text: Option<String>) -> Option<i64> {
    let text = text?;
    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// A time as the `*_at` columns hold it (RFC 3339, whole seconds, UTC).
fn stamp(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Reads the figures. `now` is the register's clock (`clock::now`), which the stored times follow.
pub async fn collect(db: &Db, now: time::OffsetDateTime) -> Result<DbFigures> {
    let day_ago = stamp(now - time::Duration::days(1));
    Ok(DbFigures {
        jobs: jobs(db, &day_ago).await?,
        waiting: waiting(db).await?,
        signing: signing(db).await?,
        imports: import_runs(db, &day_ago).await?,
    })
}

const JOBS_SQL: &str = "SELECT name, enabled, running_run FROM jobs ORDER BY name";
const JOB_RECENT_SQL: &str =
    "SELECT status, COUNT(*) AS n FROM job_runs WHERE job = $1 AND started_at >= $2 AND dry_run = 0 GROUP BY status";
const JOB_FAILED_SQL: &str = "SELECT COUNT(*) AS n FROM job_runs WHERE job = $1 AND status = $2";
const JOB_LAST_SQL: &str = "SELECT status, started_at, finished_at FROM job_runs \
     WHERE job = $1 AND dry_run = 0 AND finished_at IS NOT NULL ORDER BY id DESC LIMIT 1";
const JOB_SUCCESS_SQL: &str =
    "SELECT finished_at FROM job_runs WHERE job = $1 AND status = $2 AND dry_run = 0 ORDER BY id DESC LIMIT 1";

/// Every job with a few indexed look-ups each (the jobs are tens; their runs are not read whole).
async fn jobs(db: &Db, day_ago: &str) -> Result<Vec<JobFigures>> {
    use crate::plans::{record, Arg};
    let text = |s: &str| Arg::Text(s.to_string());
    record(JOBS_SQL, []);
    let rows = sqlx::query(JOBS_SQL).fetch_all(&db.pool).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let name: String = row.try_get("name")?;
        let mut job = JobFigures {
            enabled: row.try_get::<i64, _>("enabled")? != 0,
            running: row.try_get::<Option<i64>, _>("running_run")?.is_some(),
            ..JobFigures::default()
        };
        record(JOB_RECENT_SQL, [text(&name), text(day_ago)]);
        for r in sqlx::query(JOB_RECENT_SQL)
            .bind(&name)
            .bind(day_ago)
            .fetch_all(&db.pool)
            .await?
        {
            job.recent.push((r.try_get("status")?, r.try_get("n")?));
        }
        record(JOB_FAILED_SQL, [text(&name), text("failed")]);
        job.failed_waiting = sqlx::query(JOB_FAILED_SQL)
            .bind(&name)
            .bind("failed")
            .fetch_one(&db.pool)
            .await?
            .try_get("n")?;
        record(JOB_LAST_SQL, [text(&name)]);
        if let Some(r) = sqlx::query(JOB_LAST_SQL).bind(&name).fetch_optional(&db.pool).await? {
            let started = unix(r.try_get("started_at")?);
            let finished = unix(r.try_get("finished_at")?);
            job.last_status = Some(r.try_get("status")?);
            job.last_finished = finished;
            job.last_duration = match (started, finished) {
                (Some(s), Some(f)) => Some((f - s).max(0) as f64),
                _ => None,
            };
        }
        record(JOB_SUCCESS_SQL, [text(&name), text("succeeded")]);
        job.last_success = match sqlx::query(JOB_SUCCESS_SQL)
            .bind(&name)
            .bind("succeeded")
            .fetch_optional(&db.pool)
            .await?
        {
            Some(r) => unix(r.try_get("finished_at")?),
            None => None,
        };
        job.name = name;
        out.push(job);
    }
    Ok(out)
}

/// The statuses of [`WAITING_STATUSES`] as an SQL list.
fn waiting_list() -> String {
    WAITING_STATUSES.map(|s| format!("'{s}'")).join(", ")
}

/// Messages not in a final status, by status, connector and direction, with the oldest of each
/// (one range of a covering index per status).
async fn waiting(db: &Db) -> Result<Vec<Waiting>> {
    let sql = format!(
        "SELECT status, connector, direction, COUNT(*) AS n, MIN(created_at) AS oldest FROM exchange_messages \
         WHERE status IN ({}) GROUP BY status, connector, direction",
        waiting_list()
    );
    crate::plans::record(&sql, []);
    let mut out = Vec::new();
    for r in sqlx::query(&sql).fetch_all(&db.pool).await? {
        out.push(Waiting {
            status: r.try_get("status")?,
            connector: r.try_get("connector")?,
            direction: r.try_get("direction")?,
            count: r.try_get("n")?,
            oldest: unix(r.try_get("oldest")?),
        });
    }
    Ok(out)
}

const REPORTS_COUNT_SQL: &str = "SELECT COUNT(*) AS n FROM reports WHERE status = $1";
const REPORTS_OLDEST_SQL: &str = "SELECT created_at, signed_at FROM reports WHERE status = $1 ORDER BY id LIMIT 1";

/// Reports awaiting a signature, and signed ones not sent yet (the outbox job sends them).
async fn signing(db: &Db) -> Result<Vec<SigningQueue>> {
    let mut out = Vec::new();
    for (state, status, since) in [
        ("awaiting-signature", "awaiting-signature", "created_at"),
        ("signed-not-sent", "signed", "signed_at"),
    ] {
        let arg = || [crate::plans::Arg::Text(status.to_string())];
        crate::plans::record(REPORTS_COUNT_SQL, arg());
        let count: i64 = sqlx::query(REPORTS_COUNT_SQL)
            .bind(status)
            .fetch_one(&db.pool)
            .await?
            .try_get("n")?;
        crate::plans::record(REPORTS_OLDEST_SQL, arg());
        let oldest = match sqlx::query(REPORTS_OLDEST_SQL)
            .bind(status)
            .fetch_optional(&db.pool)
            .await?
        {
            Some(r) => unix(r.try_get(since)?),
            None => None,
        };
        out.push(SigningQueue { state, count, oldest });
    }
    Ok(out)
}

const IMPORTS_RUNNING_SQL: &str = "SELECT COUNT(*) AS n FROM import_runs WHERE status = 'running'";
const IMPORTS_LAST_SQL: &str = "SELECT finished_at, files, imported, unchanged, superseded, rejected FROM import_runs \
     WHERE status = 'finished' ORDER BY id DESC LIMIT 1";
const IMPORTS_DAY_SQL: &str = "SELECT COUNT(*) AS runs, CAST(COALESCE(SUM(files), 0) AS BIGINT) AS files, \
     CAST(COALESCE(SUM(imported), 0) AS BIGINT) AS imported, CAST(COALESCE(SUM(rejected), 0) AS BIGINT) AS rejected \
     FROM import_runs WHERE started_at >= $1";

async fn import_runs(db: &Db, day_ago: &str) -> Result<ImportRuns> {
    let mut out = ImportRuns::default();
    crate::plans::record(IMPORTS_RUNNING_SQL, []);
    out.running = sqlx::query(IMPORTS_RUNNING_SQL)
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    crate::plans::record(IMPORTS_LAST_SQL, []);
    if let Some(r) = sqlx::query(IMPORTS_LAST_SQL).fetch_optional(&db.pool).await? {
        out.last_finished = unix(r.try_get("finished_at")?);
        out.last_files = r.try_get("files")?;
        out.last_imported = r.try_get("imported")?;
        out.last_unchanged = r.try_get("unchanged")?;
        out.last_superseded = r.try_get("superseded")?;
        out.last_rejected = r.try_get("rejected")?;
    }
    crate::plans::record(IMPORTS_DAY_SQL, [crate::plans::Arg::Text(day_ago.to_string())]);
    let r = sqlx::query(IMPORTS_DAY_SQL).bind(day_ago).fetch_one(&db.pool).await?;
    out.day_runs = r.try_get("runs")?;
    out.day_files = r.try_get("files")?;
    out.day_imported = r.try_get("imported")?;
    out.day_rejected = r.try_get("rejected")?;
    Ok(out)
}

/// The plugins an administrator enabled (`plugin_settings`), for the readiness check: each
/// should be in service.
pub async fn enabled_plugins(db: &Db) -> Result<Vec<String>> {
    Ok(
        sqlx::query("SELECT plugin_id FROM plugin_settings WHERE enabled = 1 ORDER BY plugin_id")
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("plugin_id"))
            .collect::<Result<_, _>>()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement of a scrape, as SQLite would run it: none reads a table whole (a walk of
    /// `import_runs` newest first, stopped by its LIMIT at the first finished run, is allowed, as
    /// is a read of the partial index of the runs under way; the `jobs` table is tens of rows).
    #[tokio::test]
    async fn every_scrape_statement_is_bounded_by_an_index() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::db::default_url(dir.path())).await.unwrap();
        sqlx::query(
            "INSERT INTO jobs (name, kind, schedule, enabled, config, updated_at) \
             VALUES ('deadline-check', 'deadline-check', '0 6 * * *', 1, '{}', '2026-01-01T00:00:00Z')",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO job_runs (job, trigger, dry_run, attempt, status, instance, started_at, finished_at, counts, errors) \
             VALUES ('deadline-check', 't', 0, 1, 'succeeded', 'i', '2026-01-01T00:00:00Z', '2026-01-01T00:00:07Z', '{}', '[]')",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let now = time::macros::datetime!(2026-01-01 12:00 UTC);
        let (figures, recorded) = crate::plans::recording("metrics", collect(&db, now)).await;
        let figures = figures.unwrap();
        assert_eq!(figures.jobs.len(), 1);
        let job = &figures.jobs[0];
        assert_eq!(job.recent, vec![("succeeded".to_string(), 1)]);
        assert_eq!(job.last_duration, Some(7.0));
        assert_eq!(job.last_success, job.last_finished);
        assert_eq!(figures.signing.len(), 2);
        assert!(recorded.len() >= 10, "{recorded:?}");
        for finding in crate::plans::check(&db, &recorded).await.unwrap() {
            let bounded_walk = finding.sql.contains("ORDER BY id DESC LIMIT 1");
            for line in &finding.plan {
                let Some(scanned) = line.trim().strip_prefix("SCAN ") else {
                    continue;
                };
                let table = scanned.split_whitespace().next().unwrap_or_default();
                let allowed = table == "jobs"
                    || (bounded_walk && table == "import_runs")
                    || scanned.ends_with("USING COVERING INDEX import_runs_running");
                assert!(allowed, "{}: {}", finding.sql, finding.plan.join(" / "));
            }
        }
    }

    #[test]
    fn counts_imports_and_job_runs() {
        let before = imports();
        count_import(&Ok(ImportReport {
            files: 2,
            imported: 3,
            ..ImportReport::default()
        }));
        count_import(&Err(anyhow::anyhow!("диск")));
        count_import(&Ok(ImportReport {
            dry_run: true,
            files: 5,
            ..ImportReport::default()
        }));
        let after = imports();
        assert_eq!(after.finished - before.finished, 1);
        assert_eq!(after.failed - before.failed, 1);
        assert_eq!(after.files - before.files, 2);
        assert_eq!(after.imported - before.imported, 3);

        count_job_run("metrics-test", "succeeded", Duration::from_millis(300));
        count_job_run("metrics-test", "failed", Duration::from_secs(7200));
        count_job_run("metrics-test", "running", Duration::from_secs(1));
        let runs = job_runs();
        let job = &runs["metrics-test"];
        assert_eq!(job.runs, [1, 0, 1]);
        assert_eq!(job.buckets[1], 1);
        assert_eq!(job.buckets[JOB_BUCKETS.len()], 1);
        assert_eq!(job.count(), 2);
    }
}
