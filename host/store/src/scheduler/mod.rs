//! The scheduler: jobs with cron schedules, every run recorded (start, end, counts, errors), runs
//! of one job never overlapping, retries with backoff up to a limit and then a visible failed state,
//! manual and dry runs. On PostgreSQL one instance is the leader (advisory lock); every instance
//! processes exchange work items, taken with `FOR UPDATE SKIP LOCKED`.

pub(crate) mod ippsu;
pub mod jobs;
mod outgoing;
mod recipients;

use crate::app::App;
use crate::db::rows::{Flag, JsonText};
use crate::db::{now, Engine};
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::{FromRow, Row};
use std::time::Duration;

/// The host's own jobs (name, kind, default schedule). Every exchange job comes from the manifest
/// of the connector that brings it (`[[jobs]]`, see [`declared_jobs`]).
const HOST_JOBS: &[(&str, &str, &str)] = &[("deadline-check", "deadline-check", "0 6 * * *")];

pub use crate::plugins::jobs::{parse_schedule, serves_a_connector, KINDS};

/// The jobs the enabled plugins declare, with the plugin that declares each.
pub fn declared_jobs(app: &App) -> Vec<(String, crate::plugins::manifest::JobDeclaration)> {
    app.plugins
        .all()
        .iter()
        .filter(|p| app.plugins.is_enabled(p))
        .flat_map(|p| p.manifest.jobs.iter().map(|j| (p.id().to_string(), j.clone())))
        .collect()
}

/// Job kinds an administrator may schedule (each honours dry-run), with their labels: the host's
/// own and those the enabled plugins declare.
pub fn kinds(app: &App) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = KINDS.iter().map(|(k, l)| (k.to_string(), l.to_string())).collect();
    for (_, job) in declared_jobs(app) {
        if !out.iter().any(|(k, _)| *k == job.kind) {
            out.push((job.kind, job.label));
        }
    }
    out
}

/// What the pages call a job: the label its plugin declares for it, else its kind's.
pub fn job_label(app: &App, name: &str, kind: &str) -> String {
    declared_jobs(app)
        .into_iter()
        .find(|(_, job)| job.name == name)
        .map_or_else(|| kind_label(app, kind), |(_, job)| job.label)
}

/// What the pages call a kind of job: its declared label, or the kind itself.
pub fn kind_label(app: &App, kind: &str) -> String {
    kinds(app)
        .into_iter()
        .find(|(k, _)| k == kind)
        .map_or_else(|| kind.to_string(), |(_, label)| label)
}

/// Starts the host's jobs and every job an enabled plugin declares, each once: a job already there
/// keeps what the administrator made of it.
pub async fn seed_jobs(app: &App) -> Result<()> {
    let mut jobs: Vec<(String, String, String, String, bool)> = HOST_JOBS
        .iter()
        .map(|(n, k, s)| (n.to_string(), k.to_string(), s.to_string(), "{}".to_string(), true))
        .collect();
    for (_, job) in declared_jobs(app) {
        let config = serde_json::Value::Object(job.config).to_string();
        jobs.push((job.name, job.kind, job.schedule, config, job.enabled));
    }
    for (name, kind, schedule, config, enabled) in jobs {
        sqlx::query(
            "INSERT INTO jobs (name, kind, schedule, enabled, config, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(kind)
        .bind(schedule)
        .bind(i64::from(enabled))
        .bind(config)
        .bind(now())
        .execute(&app.db.pool)
        .await?;
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Job {
    pub name: String,
    pub kind: String,
    /// What people call its kind: the label its plugin declares, or the host's own.
    #[sqlx(skip)]
    pub label: String,
    pub schedule: String,
    #[sqlx(try_from = "Flag")]
    pub enabled: bool,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub config: serde_json::Value,
    pub max_attempts: i64,
    pub backoff_seconds: i64,
    pub running_run: Option<i64>,
    #[sqlx(skip)]
    pub next_run: Option<String>,
    #[sqlx(skip)]
    pub last_run: Option<RunView>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RunView {
    pub id: i64,
    pub job: String,
    pub trigger: String,
    #[sqlx(try_from = "Flag")]
    pub dry_run: bool,
    pub attempt: i64,
    pub status: String,
    pub instance: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub next_attempt_at: Option<String>,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub counts: serde_json::Value,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub errors: serde_json::Value,
    pub report: Option<String>,
}

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<RunView> {
    Ok(RunView::from_row(r)?)
}

pub async fn list_jobs(app: &App) -> Result<Vec<Job>> {
    let rows = sqlx::query("SELECT * FROM jobs ORDER BY name")
        .fetch_all(&app.db.pool)
        .await?;
    let mut jobs = Vec::new();
    for r in rows {
        let mut job = Job::from_row(&r)?;
        job.last_run = history(app, &job.name, 1).await?.into_iter().next();
        job.next_run = parse_schedule(&job.schedule)
            .ok()
            .and_then(|s| s.after(&crate::clock::now_zoned()).next())
            .map(|t| t.to_rfc3339());
        job.label = job_label(app, &job.name, &job.kind);
        jobs.push(job);
    }
    Ok(jobs)
}

pub async fn history(app: &App, job: &str, limit: i64) -> Result<Vec<RunView>> {
    sqlx::query(&format!(
        "SELECT * FROM job_runs WHERE job = $1 ORDER BY id DESC LIMIT {}",
        limit.clamp(1, 1000)
    ))
    .bind(job)
    .fetch_all(&app.db.pool)
    .await?
    .iter()
    .map(run_from_row)
    .collect()
}

/// Runs that failed for good, waiting for an administrator.
pub async fn failed_runs(app: &App) -> Result<Vec<RunView>> {
    sqlx::query("SELECT * FROM job_runs WHERE status = 'failed' ORDER BY id")
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(run_from_row)
        .collect()
}

/// A job's settings: what an administrator stored, over what its plugin's manifest declares (the
/// connector it serves, its step), so that settings changed by hand never lose the declared ones.
fn with_declared_settings(app: &App, name: &str, stored: serde_json::Value) -> serde_json::Value {
    let Some((_, declared)) = declared_jobs(app).into_iter().find(|(_, job)| job.name == name) else {
        return stored;
    };
    let mut settings = declared.config;
    if let serde_json::Value::Object(stored) = stored {
        settings.extend(stored);
    }
    serde_json::Value::Object(settings)
}

/// Adds a job, e.g. a second `plugin-step` for a vendor's connector.
pub async fn add_job(app: &App, name: &str, kind: &str, schedule: &str, config: &str, actor: &str) -> Result<()> {
    let kinds = kinds(app);
    if !kinds.iter().any(|(k, _)| k == kind) {
        let known: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
        return Err(crate::refusal::invalid(
            "kind",
            format!("вид задания «{kind}» неизвестен: {}", known.join(", ")),
        ));
    }
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(crate::refusal::invalid(
            "name",
            format!("имя задания «{name}» недопустимо: строчные латинские буквы, цифры и «-»"),
        ));
    }
    parse_schedule(schedule)?;
    let settings = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(config)
        .context("настройки задания должны быть объектом JSON")?;
    if serves_a_connector(kind) {
        let connector = settings.get("connector").and_then(serde_json::Value::as_str);
        if connector.and_then(|id| app.plugins.get(id)).is_none() {
            return Err(crate::refusal::invalid(
                "config",
                format!(
                    "задание вида «{kind}» служит коннектору: укажите установленный коннектор в настройках ({{\"connector\": \"…\"}})"
                ),
            ));
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO jobs (name, kind, schedule, enabled, config, updated_at) VALUES ($1, $2, $3, 1, $4, $5) ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(kind)
    .bind(schedule)
    .bind(config)
    .bind(now())
    .execute(&app.db.pool)
    .await?
    .rows_affected();
    if inserted != 1 {
        return Err(crate::refusal::conflict(format!("задание «{name}» уже есть")));
    }
    crate::audit::record(&app.db, actor, "job.add", &format!("job:{name}"), Some(kind)).await
}

pub async fn configure(
    app: &App,
    name: &str,
    schedule: Option<&str>,
    enabled: Option<bool>,
    config: Option<&str>,
    actor: &str,
) -> Result<()> {
    if let Some(s) = schedule {
        parse_schedule(s)?;
    }
    if let Some(c) = config {
        serde_json::from_str::<serde_json::Value>(c).context("настройки задания должны быть объектом JSON")?;
    }
    let changed = sqlx::query(
        "UPDATE jobs SET schedule = COALESCE($1, schedule), enabled = COALESCE($2, enabled), config = COALESCE($3, config), updated_at = $4 WHERE name = $5",
    )
    .bind(schedule)
    .bind(enabled.map(i64::from))
    .bind(config)
    .bind(now())
    .bind(name)
    .execute(&app.db.pool)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::not_found(format!(
            "задание «{name}» не найдено (ipra jobs list)"
        )));
    }
    crate::audit::record(&app.db, actor, "job.configure", &format!("job:{name}"), None).await
}

/// The outcome of one run of a job.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    pub counts: serde_json::Map<String, serde_json::Value>,
    pub errors: Vec<String>,
    /// What a dry run would have done, or what a run did, in words.
    pub report: Vec<String>,
}

/// Starts a run unless one of the same job is running; returns the finished run.
pub async fn run_job(
    app: &App,
    name: &str,
    trigger: &str,
    dry_run: bool,
    attempt: i64,
    instance: &str,
) -> Result<RunView> {
    let job = sqlx::query("SELECT * FROM jobs WHERE name = $1")
        .bind(name)
        .fetch_optional(&app.db.pool)
        .await?
        .with_context(|| format!("задание «{name}» не найдено (ipra jobs list)"))?;
    let kind: String = job.try_get("kind")?;
    let stored: serde_json::Value = serde_json::from_str(&job.try_get::<String, _>("config")?).unwrap_or_default();
    let config = with_declared_settings(app, name, stored);
    let max_attempts: i64 = job.try_get("max_attempts")?;
    let backoff: i64 = job.try_get("backoff_seconds")?;
    // The guard: only one run of a job at a time, whichever instance or process starts it.
    let take = || async {
        Ok::<_, anyhow::Error>(
            sqlx::query("UPDATE jobs SET running_run = -1 WHERE name = $1 AND running_run IS NULL")
                .bind(name)
                .execute(&app.db.pool)
                .await?
                .rows_affected(),
        )
    };
    let mut taken = take().await?;
    if taken != 1 && release_if_abandoned(app, name).await? {
        taken = take().await?;
    }
    if taken != 1 {
        return Err(crate::refusal::conflict(format!(
            "задание «{name}» уже выполняется: запуски одного задания не пересекаются"
        )));
    }
    let started = now();
    let run_id: i64 = sqlx::query(
        "INSERT INTO job_runs (job, trigger, dry_run, attempt, status, instance, started_at, counts, errors) \
         VALUES ($1, $2, $3, $4, 'running', $5, $6, '{}', '[]') RETURNING id",
    )
    .bind(name)
    .bind(trigger)
    .bind(i64::from(dry_run))
    .bind(attempt)
    .bind(instance)
    .bind(&started)
    .fetch_one(&app.db.pool)
    .await?
    .try_get("id")?;
    sqlx::query("UPDATE jobs SET running_run = $1 WHERE name = $2")
        .bind(run_id)
        .bind(name)
        .execute(&app.db.pool)
        .await?;

    let began = std::time::Instant::now();
    let result = jobs::execute(app, &kind, &config, dry_run, instance).await;
    let (outcome, failure) = match result {
        Ok(outcome) if outcome.errors.is_empty() => (outcome, None),
        Ok(outcome) => {
            let first = outcome.errors.first().cloned().unwrap_or_default();
            (outcome, Some(first))
        }
        Err(e) => {
            let error = crate::db::storage::explain(&e);
            (
                Outcome {
                    errors: vec![error.clone()],
                    ..Outcome::default()
                },
                Some(error),
            )
        }
    };
    let (status, next_attempt) = match (&failure, dry_run) {
        (None, _) => ("succeeded", None),
        (Some(_), true) => ("failed", None),
        (Some(_), false) if attempt < max_attempts => {
            let delay = backoff.max(1) * (1 << (attempt - 1).clamp(0, 16));
            let next = crate::clock::now() + time::Duration::seconds(delay);
            (
                "retrying",
                next.format(&time::format_description::well_known::Rfc3339).ok(),
            )
        }
        (Some(_), false) => ("failed", None),
    };
    sqlx::query(
        "UPDATE job_runs SET status = $1, finished_at = $2, next_attempt_at = $3, counts = $4, errors = $5, report = $6 WHERE id = $7",
    )
    .bind(status)
    .bind(now())
    .bind(next_attempt)
    .bind(serde_json::Value::Object(outcome.counts.clone()).to_string())
    .bind(serde_json::to_string(&outcome.errors)?)
    .bind(outcome.report.join("\n"))
    .bind(run_id)
    .execute(&app.db.pool)
    .await?;
    if !dry_run {
        crate::metrics::count_job_run(name, status, began.elapsed());
    }
    sqlx::query("UPDATE jobs SET running_run = NULL WHERE name = $1")
        .bind(name)
        .execute(&app.db.pool)
        .await?;
    let run = sqlx::query("SELECT * FROM job_runs WHERE id = $1")
        .bind(run_id)
        .fetch_one(&app.db.pool)
        .await?;
    run_from_row(&run)
}

/// An administrator's decision on a failed run: run it again now, or discard it.
pub async fn decide(app: &App, run_id: i64, retry: bool, actor: &str, instance: &str) -> Result<Option<RunView>> {
    let run = sqlx::query("SELECT job, status, dry_run FROM job_runs WHERE id = $1")
        .bind(run_id)
        .fetch_optional(&app.db.pool)
        .await?
        .context("запуск не найден")?;
    let status: String = run.try_get("status")?;
    if !matches!(status.as_str(), "failed" | "retrying") {
        return Err(crate::refusal::conflict(format!(
            "запуск {run_id} в статусе «{status}»: повторить или отменить можно только неудачный"
        )));
    }
    let job: String = run.try_get("job")?;
    let next = if retry { "retried" } else { "discarded" };
    sqlx::query("UPDATE job_runs SET status = $1, next_attempt_at = NULL WHERE id = $2")
        .bind(next)
        .bind(run_id)
        .execute(&app.db.pool)
        .await?;
    crate::audit::record(
        &app.db,
        actor,
        if retry { "job.retry" } else { "job.discard" },
        &format!("run:{run_id}"),
        None,
    )
    .await?;
    if retry {
        let dry = run.try_get::<i64, _>("dry_run")? != 0;
        return Ok(Some(
            run_job(app, &job, "повтор администратором", dry, 1, instance).await?,
        ));
    }
    Ok(None)
}

/// One pass of the leader: runs due by schedule and retries due by backoff.
pub async fn tick(app: &App, instance: &str, since: &str) -> Result<()> {
    let rows = sqlx::query("SELECT name, schedule FROM jobs WHERE enabled = 1 AND running_run IS NULL")
        .fetch_all(&app.db.pool)
        .await?;
    // Schedules are read in the region's time: «0 6 * * *» is six in the morning there.
    let zoned_now = crate::clock::now_zoned();
    for r in rows {
        let name: String = r.try_get("name")?;
        let schedule: String = r.try_get("schedule")?;
        let Ok(schedule) = parse_schedule(&schedule) else {
            continue;
        };
        let last: Option<String> =
            sqlx::query("SELECT MAX(started_at) AS t FROM job_runs WHERE job = $1 AND trigger = 'расписание'")
                .bind(&name)
                .fetch_one(&app.db.pool)
                .await?
                .try_get("t")
                .ok()
                .flatten();
        let from = last.as_deref().unwrap_or(since);
        let from = chrono::DateTime::parse_from_rfc3339(from)
            .map(|t| t.with_timezone(&crate::clock::zone()))
            .unwrap_or(zoned_now);
        let due = schedule.after(&from).next().is_some_and(|next| next <= zoned_now);
        if due {
            if let Err(e) = run_job(app, &name, "расписание", false, 1, instance).await {
                tracing::warn!(job = %name, "scheduled run not started: {e:#}");
            }
        }
    }
    let retries = sqlx::query(
        "SELECT id, job, attempt FROM job_runs WHERE status = 'retrying' AND next_attempt_at <= $1 ORDER BY id",
    )
    .bind(now())
    .fetch_all(&app.db.pool)
    .await?;
    for r in retries {
        let id: i64 = r.try_get("id")?;
        let job: String = r.try_get("job")?;
        let attempt: i64 = r.try_get("attempt")?;
        sqlx::query("UPDATE job_runs SET status = 'retried' WHERE id = $1 AND status = 'retrying'")
            .bind(id)
            .execute(&app.db.pool)
            .await?;
        if let Err(e) = run_job(app, &job, "повтор", false, attempt + 1, instance).await {
            tracing::warn!(job = %job, "retry not started: {e:#}");
        }
    }
    Ok(())
}

/// Holds the scheduler leadership for this process while the returned connection lives.
pub async fn try_lead(app: &App) -> Result<Option<Leadership>> {
    match app.db.engine {
        Engine::Sqlite => Ok(Some(Leadership { _conn: None })),
        Engine::Postgres => {
            let mut conn = app.db.pool.acquire().await?.detach();
            let got: bool = sqlx::query("SELECT pg_try_advisory_lock(727275001) AS got")
                .fetch_one(&mut conn)
                .await?
                .try_get::<bool, _>("got")
                .unwrap_or(false);
            Ok(got.then_some(Leadership { _conn: Some(conn) }))
        }
    }
}

pub struct Leadership {
    _conn: Option<sqlx::AnyConnection>,
}

/// The background loop of `serve`: every instance processes work items; the leader also runs
/// the schedule. Stale runs left by a crashed leader are closed when leadership is taken.
pub async fn run_loop(
    app: App,
    instance: String,
    tick_every: Duration,
    leader_flag: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let since = now();
    let mut leadership: Option<Leadership> = None;
    let mut pruned: Option<std::time::Instant> = None;
    loop {
        if leadership.is_none() {
            match try_lead(&app).await {
                Ok(Some(l)) => {
                    leadership = Some(l);
                    leader_flag.store(true, std::sync::atomic::Ordering::SeqCst);
                    tracing::info!(%instance, "scheduler leader");
                    if let Err(e) = close_stale_runs(&app).await {
                        tracing::warn!("stale runs not closed: {e:#}");
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::warn!("leadership check failed: {e:#}"),
            }
        }
        // Logs the start and the end of a full disk, and keeps the health routes' view fresh.
        crate::db::storage::state();
        if let Err(e) = jobs::process_work(&app, &instance).await {
            tracing::warn!("work items: {}", crate::db::storage::explain(&e));
        }
        if leadership.is_some() {
            // The audit and exchange logs' entries of the last moments join their hash chains.
            let anchors = crate::audit::anchor_file(&app.data_dir);
            if let Err(e) = crate::audit::seal(&app.db, Some(&anchors)).await {
                tracing::warn!("logs not sealed: {}", crate::db::storage::explain(&e));
            }
            match crate::register::import::close_interrupted_runs(&app.db).await {
                Ok(n) if n > 0 => tracing::warn!(runs = n, "import runs of a stopped process closed as interrupted"),
                Ok(_) => {}
                Err(e) => tracing::warn!("import runs not checked: {}", crate::db::storage::explain(&e)),
            }
            if let Err(e) = tick(&app, &instance, &since).await {
                tracing::warn!("scheduler tick failed: {e:#}");
            }
            // The statistics index's journal keeps the latest changes; an instance that fell
            // further behind reloads the index whole.
            if pruned.is_none_or(|t| t.elapsed() > Duration::from_secs(600)) {
                match crate::register::facts::prune_journal(&app.db, crate::register::facts::JOURNAL_KEEP).await {
                    Ok(n) if n > 0 => tracing::info!(removed = n, "statistics journal pruned"),
                    Ok(_) => {}
                    Err(e) => tracing::warn!("statistics journal not pruned: {e:#}"),
                }
                pruned = Some(std::time::Instant::now());
            }
        }
        tokio::time::sleep(tick_every).await;
    }
}

/// Whether the process named by an instance (`[name@]host:pid`, see [`instance_name`]) still
/// runs: known only for a process of this machine (`Some`); another machine's is never judged from
/// here (`None`).
pub fn instance_alive(instance: &str) -> Option<bool> {
    let (host, pid) = instance.rsplit_once(':')?;
    let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
    if host != host_name() {
        return None;
    }
    let pid: u32 = pid.parse().ok()?;
    Some(pid == std::process::id() || std::path::Path::new(&format!("/proc/{pid}")).exists())
}

/// A run of `job` left `running` by a process of this machine that was killed (a `jobs run` from
/// the CLI, a server without a successor yet) is closed as interrupted, so the job can run again.
async fn release_if_abandoned(app: &App, job: &str) -> Result<bool> {
    let Some(row) =
        sqlx::query("SELECT r.id, r.instance FROM jobs j JOIN job_runs r ON r.id = j.running_run WHERE j.name = $1")
            .bind(job)
            .fetch_optional(&app.db.pool)
            .await?
    else {
        return Ok(false);
    };
    let instance: String = row.try_get("instance")?;
    if instance_alive(&instance) != Some(false) {
        return Ok(false);
    }
    let run: i64 = row.try_get("id")?;
    sqlx::query(
        "UPDATE job_runs SET status = 'failed', finished_at = $1, errors = '[\"запуск прерван: процесс остановился\"]' \
         WHERE id = $2 AND status = 'running'",
    )
    .bind(now())
    .bind(run)
    .execute(&app.db.pool)
    .await?;
    let released = sqlx::query("UPDATE jobs SET running_run = NULL WHERE name = $1 AND running_run = $2")
        .bind(job)
        .bind(run)
        .execute(&app.db.pool)
        .await?
        .rows_affected();
    tracing::warn!(%job, run, %instance, "a run of a stopped process closed as interrupted");
    Ok(released == 1)
}

async fn close_stale_runs(app: &App) -> Result<()> {
    sqlx::query(
        "UPDATE job_runs SET status = 'failed', finished_at = $1, errors = '[\"запуск прерван: экземпляр сервера остановился\"]' WHERE status = 'running'",
    )
    .bind(now())
    .execute(&app.db.pool)
    .await?;
    sqlx::query("UPDATE jobs SET running_run = NULL")
        .execute(&app.db.pool)
        .await?;
    Ok(())
}

/// This instance's name in job runs and claims: `host:pid`, after the name the configuration gives
/// it (`server.instance`) as `name@host:pid` — the process stays identifiable, so that a run a killed
/// instance left is known abandoned at once on its machine ([`instance_alive`]).
pub fn instance_name() -> String {
    let process = format!("{}:{}", host_name(), std::process::id());
    match &crate::config::current().config.server.instance {
        Some(name) => format!("{name}@{process}"),
        None => process,
    }
}

/// This machine's name, read once.
pub fn host_name() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "host".into())
    })
}
