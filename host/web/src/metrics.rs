//! `/metrics`: the server's figures in the Prometheus text format (version 0.0.4), open without a
//! login as exporters are. It holds no personal data: labels are route templates
//! (`/api/v1/ipras/{id}`, never an address as asked, never a query string), job names, plugin and
//! connector ids, statuses; values are counts, times and sizes.
//!
//! What it counts:
//! * HTTP requests, by the middleware [`track`] every request passes: by method, route template
//!   and status, with their time as a histogram per route, and the requests under way. One lock
//!   per request, no allocation once a route has been answered with a status;
//! * imports and job runs finished in this process (counters of `ipra_store::metrics`);
//! * from the database, read at a scrape with a time limit and kept [`FRESH_FOR`] so that many
//!   scrapers do not each query it: jobs, exchange messages waiting and the lag, the signing
//!   queue, import runs (each statement bounded by an index: see `ipra_store::metrics`);
//! * the plugins' calls (the runtime's figures), the connection pools, the disks, the build.

use crate::app::App;
use crate::Instance;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipra_store::metrics as figures;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How long figures read from the database are served again before they are read anew.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// The longest the database's figures may take to read; past it the scrape answers without them.
pub const TIME_LIMIT: Duration = Duration::from_secs(3);

// ---------------------------------------------------------------------------------------------
// The text format

/// A page of the Prometheus text format being written: each family's `HELP` and `TYPE` once, then
/// its samples, label values escaped.
#[derive(Default)]
pub struct Exposition {
    text: String,
}

/// A label value as the format quotes it: backslash, double quote and line feed escaped.
pub fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

impl Exposition {
    /// Starts a family: `kind` is `counter`, `gauge` or `histogram`.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample of the family begun last (for a histogram, with its suffix).
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        self.labels(labels, None);
        let _ = writeln!(self.text, " {value}");
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.text.push('{');
        let mut first = true;
        for (name, value) in labels.iter().copied().chain(le.map(|le| ("le", le))) {
            if !first {
                self.text.push(',');
            }
            first = false;
            let _ = write!(self.text, "{name}=\"{}\"", escape(value));
        }
        self.text.push('}');
    }

    /// The samples of one histogram: `buckets` holds the observations per bucket of `bounds`
    /// (not cumulative), the last above the last bound.
    pub fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        bounds: &[f64],
        buckets: &[u64],
        sum: f64,
        count: u64,
    ) {
        let mut cumulative = 0;
        for (i, bound) in bounds.iter().enumerate() {
            cumulative += buckets.get(i).copied().unwrap_or(0);
            let _ = write!(self.text, "{name}_bucket");
            self.labels(labels, Some(&bound.to_string()));
            let _ = writeln!(self.text, " {cumulative}");
        }
        let _ = write!(self.text, "{name}_bucket");
        self.labels(labels, Some("+Inf"));
        let _ = writeln!(self.text, " {count}");
        self.sample(&format!("{name}_sum"), labels, sum);
        self.sample(&format!("{name}_count"), labels, count);
    }

    pub fn push_raw(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn into_text(self) -> String {
        self.text
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP requests

/// Upper bounds of the buckets of a request's time, in seconds (+Inf implied).
pub const HTTP_BUCKETS: [f64; 11] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The methods counted by name; any other is `other`.
const METHODS: [&str; 8] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "other"];

/// The route label of a request no route matched (an unknown address: never the address itself).
pub const OTHER_ROUTE: &str = "other";

/// A request slower than this is logged at `info` (the others at `debug`).
const SLOW: Duration = Duration::from_secs(1);

fn method_index(method: &Method) -> usize {
    METHODS
        .iter()
        .position(|m| *m == method.as_str())
        .unwrap_or(METHODS.len() - 1)
}

/// The figures of one route template.
#[derive(Default)]
struct RouteFigures {
    /// (method index, status code, requests): a handful per route.
    answers: Vec<(u8, u16, u64)>,
    /// By bucket of [`HTTP_BUCKETS`], not cumulative; the last above the last bound.
    buckets: [u64; HTTP_BUCKETS.len() + 1],
    seconds: f64,
    count: u64,
}

struct Http {
    in_flight: AtomicI64,
    /// Requests waiting for their turn (`interactive::Turns`), and the waits that ended.
    waiting: AtomicI64,
    waits: AtomicU64,
    waited_micros: AtomicU64,
    routes: Mutex<BTreeMap<Box<str>, RouteFigures>>,
}

static HTTP: Http = Http {
    in_flight: AtomicI64::new(0),
    waiting: AtomicI64::new(0),
    waits: AtomicU64::new(0),
    waited_micros: AtomicU64::new(0),
    routes: Mutex::new(BTreeMap::new()),
};

impl Http {
    fn record(&self, method: usize, route: &str, status: u16, took: Duration) {
        let seconds = took.as_secs_f64();
        let bucket = HTTP_BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(HTTP_BUCKETS.len());
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let figures = match routes.get_mut(route) {
            Some(figures) => figures,
            None => routes.entry(route.into()).or_default(),
        };
        let method = method as u8;
        match figures
            .answers
            .iter_mut()
            .find(|(m, s, _)| *m == method && *s == status)
        {
            Some((_, _, n)) => *n += 1,
            None => figures.answers.push((method, status, 1)),
        }
        figures.buckets[bucket] += 1;
        figures.seconds += seconds;
        figures.count += 1;
    }

    fn render(&self, out: &mut Exposition) {
        out.family(
            "ipra_http_requests_total",
            "counter",
            "HTTP requests answered by this process, by method, route template (`other`: no route matched) and status code.",
        );
        let routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        for (route, figures) in routes.iter() {
            let mut answers = figures.answers.clone();
            answers.sort();
            for (method, status, n) in answers {
                let status = status.to_string();
                out.sample(
                    "ipra_http_requests_total",
                    &[
                        ("method", METHODS[method as usize]),
                        ("route", route),
                        ("status", &status),
                    ],
                    n,
                );
            }
        }
        out.family(
            "ipra_http_request_duration_seconds",
            "histogram",
            "Time to answer an HTTP request (until the head of the response), by route template.",
        );
        for (route, figures) in routes.iter() {
            out.histogram(
                "ipra_http_request_duration_seconds",
                &[("route", route)],
                &HTTP_BUCKETS,
                &figures.buckets,
                figures.seconds,
                figures.count,
            );
        }
        drop(routes);
        out.family(
            "ipra_http_requests_in_flight",
            "gauge",
            "HTTP requests being answered now.",
        );
        out.sample(
            "ipra_http_requests_in_flight",
            &[],
            self.in_flight.load(Ordering::Relaxed).max(0),
        );
        out.family(
            "ipra_http_requests_waiting",
            "gauge",
            "Requests that read, waiting now for their turn: at most `server.concurrent_requests` are served at once.",
        );
        out.sample(
            "ipra_http_requests_waiting",
            &[],
            self.waiting.load(Ordering::Relaxed).max(0),
        );
        out.family(
            "ipra_http_turn_waits_total",
            "counter",
            "Requests that had to wait for their turn.",
        );
        out.sample("ipra_http_turn_waits_total", &[], self.waits.load(Ordering::Relaxed));
        out.family(
            "ipra_http_turn_wait_seconds_total",
            "counter",
            "Time requests spent waiting for their turn, in all.",
        );
        out.sample(
            "ipra_http_turn_wait_seconds_total",
            &[],
            self.waited_micros.load(Ordering::Relaxed) as f64 / 1e6,
        );
    }
}

/// Counts a request waiting for its turn until dropped (also when its client goes away meanwhile).
pub struct Waiting;

impl Waiting {
    pub fn enter() -> Waiting {
        HTTP.waiting.fetch_add(1, Ordering::Relaxed);
        Waiting
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        HTTP.waiting.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A wait for a turn that ended (with the turn, or past its limit).
pub fn waited(took: Duration) {
    HTTP.waits.fetch_add(1, Ordering::Relaxed);
    HTTP.waited_micros
        .fetch_add(took.as_micros().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
}

/// Counts a request under way until dropped (also when its client goes away mid-answer).
struct InFlight;

impl InFlight {
    fn enter() -> InFlight {
        HTTP.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        HTTP.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The middleware every request passes (inside the router, where the matched route is known):
/// counts it and its time by route template, and logs one line of it — target `ipra::http`, at
/// `debug`, or `info` when it failed (5xx) or took a second or more — with the method, route
/// template, status and time. The address as asked and its query string (a SNILS, a name) are
/// never logged nor counted. What the request logs meanwhile carries a span `request` with the
/// method and route.
pub async fn track(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(OTHER_ROUTE, |m| m.as_str());
    let method = method_index(request.method());
    let _in_flight = InFlight::enter();
    let started = Instant::now();
    let span = tracing::info_span!(target: "ipra::http", "request", method = METHODS[method], route);
    let response = next.run(request).instrument(span).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    HTTP.record(method, route, status, took);
    let duration_ms = (took.as_secs_f64() * 1000.0 * 10.0).round() / 10.0;
    if status >= 500 || took >= SLOW {
        tracing::info!(target: "ipra::http", method = METHODS[method], route, status, duration_ms, "request answered");
    } else {
        tracing::debug!(target: "ipra::http", method = METHODS[method], route, status, duration_ms, "request answered");
    }
    response
}

// ---------------------------------------------------------------------------------------------
// The pools

/// The background pool of the running server (the scheduler, the workers, imports), set by
/// `serve`: requests have a pool of their own, which the handler has.
static BACKGROUND: Mutex<Option<crate::db::Db>> = Mutex::new(None);

pub fn set_background_pool(db: &crate::db::Db) {
    *BACKGROUND.lock().unwrap_or_else(|e| e.into_inner()) = Some(db.clone());
}

fn render_pools(out: &mut Exposition, requests: &crate::db::Db) {
    let mut pools = vec![("requests", figures::pool(requests))];
    if let Some(db) = BACKGROUND.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        pools.push(("background", figures::pool(db)));
    }
    let mut family = |name: &str, help: &str, value: &dyn Fn(&figures::PoolFigures) -> u64| {
        out.family(name, "gauge", help);
        for (pool, figures) in &pools {
            out.sample(name, &[("pool", pool)], value(figures));
        }
    };
    family(
        "ipra_db_pool_connections",
        "Connections open in a database pool (idle or in use): `requests` serves HTTP requests, `background` the scheduler, workers and imports.",
        &|p| u64::from(p.size),
    );
    family(
        "ipra_db_pool_idle_connections",
        "Idle connections of a database pool.",
        &|p| p.idle as u64,
    );
    family(
        "ipra_db_pool_max_connections",
        "The most connections a database pool opens.",
        &|p| u64::from(p.max),
    );
}

// ---------------------------------------------------------------------------------------------
// Figures of this process

fn render_process(out: &mut Exposition, app: &App, instance: &Instance) {
    out.family(
        "ipra_build_info",
        "gauge",
        "The version of the ipra server answering (always 1).",
    );
    out.sample("ipra_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1);
    out.family(
        "ipra_database_info",
        "gauge",
        "The database engine of the register (always 1).",
    );
    out.sample("ipra_database_info", &[("engine", app.db.engine.name())], 1);
    out.family(
        "ipra_scheduler_leader",
        "gauge",
        "1 when this instance leads the scheduler (runs the jobs), else 0.",
    );
    out.sample(
        "ipra_scheduler_leader",
        &[],
        u8::from(instance.leader.load(Ordering::Relaxed)),
    );

    let storage = crate::db::storage::state();
    out.family(
        "ipra_storage_status",
        "gauge",
        "The disks of the database and the data directory: 1 for the state they are in (ok; low: less than 16 MiB free; full: writes refused).",
    );
    for status in ["ok", "low", "full"] {
        out.sample(
            "ipra_storage_status",
            &[("status", status)],
            u8::from(storage.status == status),
        );
    }
    out.family(
        "ipra_storage_free_bytes",
        "gauge",
        "Free space of the fullest watched disk, to the MiB.",
    );
    if let Some(mib) = storage.free_mib {
        out.sample("ipra_storage_free_bytes", &[], mib * 1024 * 1024);
    }
    render_pools(out, &app.db);

    let imports = figures::imports();
    out.family(
        "ipra_import_runs_total",
        "counter",
        "Import runs of this process since it started, by how they ended (finished; stopped: by a plugin whose failure policy is stop-job; failed). Dry runs are not counted.",
    );
    for (result, n) in [
        ("finished", imports.finished - imports.stopped),
        ("stopped", imports.stopped),
        ("failed", imports.failed),
    ] {
        out.sample("ipra_import_runs_total", &[("result", result)], n);
    }
    out.family(
        "ipra_import_files_total",
        "counter",
        "Files read by the imports of this process since it started.",
    );
    out.sample("ipra_import_files_total", &[], imports.files);
    out.family(
        "ipra_import_records_total",
        "counter",
        "Extracts the imports of this process stored since it started, by outcome (imported: new or changed; unchanged; superseded: replaced by a newer one of the same IPRA).",
    );
    for (outcome, n) in [
        ("imported", imports.imported),
        ("unchanged", imports.unchanged),
        ("superseded", imports.superseded),
    ] {
        out.sample("ipra_import_records_total", &[("outcome", outcome)], n);
    }
    out.family(
        "ipra_import_rejections_total",
        "counter",
        "Files and records the imports of this process rejected since it started (each with its reason in the import report and the quarantine).",
    );
    out.sample("ipra_import_rejections_total", &[], imports.rejections);
    out.family(
        "ipra_import_rejected_files_total",
        "counter",
        "Files the imports of this process refused whole since it started.",
    );
    out.sample("ipra_import_rejected_files_total", &[], imports.rejected_files);

    let jobs = figures::job_runs();
    out.family(
        "ipra_job_runs_total",
        "counter",
        "Runs of a scheduled job (not dry runs) finished by this process since it started, by outcome (succeeded; retrying: failed, another attempt scheduled; failed: for good).",
    );
    for (job, counters) in &jobs {
        for (i, outcome) in figures::JOB_OUTCOMES.iter().enumerate() {
            out.sample(
                "ipra_job_runs_total",
                &[("job", job), ("outcome", outcome)],
                counters.runs[i],
            );
        }
    }
    out.family(
        "ipra_job_run_duration_seconds",
        "histogram",
        "Time of the runs of a scheduled job finished by this process since it started.",
    );
    for (job, counters) in &jobs {
        out.histogram(
            "ipra_job_run_duration_seconds",
            &[("job", job)],
            &figures::JOB_BUCKETS,
            &counters.buckets,
            counters.seconds,
            counters.count(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Figures of the database

struct DbPart {
    at: Instant,
    text: String,
}

/// The last figures read from the database; the lock also makes scrapers arriving together wait
/// for one read instead of each making its own.
static DB_PART: LazyLock<tokio::sync::Mutex<Option<DbPart>>> = LazyLock::new(|| tokio::sync::Mutex::new(None));

async fn db_part(app: &App) -> String {
    let mut cached = DB_PART.lock().await;
    if let Some(part) = cached.as_ref().filter(|p| p.at.elapsed() < FRESH_FOR) {
        return part.text.clone();
    }
    let started = Instant::now();
    let read = tokio::time::timeout(TIME_LIMIT, figures::collect(&app.db, crate::clock::now())).await;
    let took = started.elapsed().as_secs_f64();
    let mut out = Exposition::default();
    let up = match read {
        Ok(Ok(figures)) => {
            render_database(&mut out, app, &figures, crate::clock::now().unix_timestamp());
            1
        }
        Ok(Err(e)) => {
            tracing::warn!("/metrics: the figures of the database were not read: {e:#}");
            0
        }
        Err(_) => {
            tracing::warn!(
                limit_ms = TIME_LIMIT.as_millis() as u64,
                "/metrics: the figures of the database were not read in time"
            );
            0
        }
    };
    // Readiness, as `/api/v1/ready` would answer now (it asks the database too).
    let (problems, ready) = crate::readiness(app).await;
    out.family(
        "ipra_ready",
        "gauge",
        "1 when this instance is ready to serve, as /api/v1/ready answers (database, disks, migrations, plugins); 0 with the problems named there.",
    );
    out.sample("ipra_ready", &[], u8::from(problems.is_empty()));
    out.family(
        "ipra_migrations_current",
        "gauge",
        "1 when the database's applied migrations are exactly this binary's; 0 otherwise (absent when the database could not be asked).",
    );
    if let Some(current) = ready["migrations"]["current"].as_bool() {
        out.sample("ipra_migrations_current", &[], u8::from(current));
    }
    out.family(
        "ipra_metrics_database_up",
        "gauge",
        "1 when the figures read from the database at the last scrape were read; 0 when the database did not answer in time or failed (those families are then left out).",
    );
    out.sample("ipra_metrics_database_up", &[], up);
    out.family(
        "ipra_metrics_database_read_seconds",
        "gauge",
        "Time the last read of the database's figures took (they are read at most every 5 s).",
    );
    out.sample("ipra_metrics_database_read_seconds", &[], took);
    let text = out.into_text();
    *cached = Some(DbPart {
        at: Instant::now(),
        text: text.clone(),
    });
    text
}

/// Age in seconds of a time `at` (Unix seconds) on the register's clock `now`, never negative.
fn age(now: i64, at: Option<i64>) -> i64 {
    at.map_or(0, |at| (now - at).max(0))
}

fn render_database(out: &mut Exposition, app: &App, db: &figures::DbFigures, now: i64) {
    // Jobs.
    let jobs = &db.jobs;
    out.family(
        "ipra_job_enabled",
        "gauge",
        "1 when a scheduled job is enabled (database).",
    );
    for job in jobs {
        out.sample("ipra_job_enabled", &[("job", &job.name)], u8::from(job.enabled));
    }
    out.family(
        "ipra_job_running",
        "gauge",
        "1 while a run of a job is under way in any instance or process (database).",
    );
    for job in jobs {
        out.sample("ipra_job_running", &[("job", &job.name)], u8::from(job.running));
    }
    out.family(
        "ipra_job_recent_runs",
        "gauge",
        "Runs of a job (not dry runs) started in the last 24 hours, by status, as the database records them: every instance's and the command line's.",
    );
    for job in jobs {
        for (status, n) in &job.recent {
            out.sample("ipra_job_recent_runs", &[("job", &job.name), ("status", status)], n);
        }
    }
    out.family(
        "ipra_job_failed_runs",
        "gauge",
        "Runs of a job failed for good that wait for an administrator to retry or discard them (database).",
    );
    for job in jobs {
        out.sample("ipra_job_failed_runs", &[("job", &job.name)], job.failed_waiting);
    }
    out.family(
        "ipra_job_last_run_success",
        "gauge",
        "1 when the last run of a job that ended (not a dry run) succeeded, 0 when it failed (database).",
    );
    for job in jobs {
        if let Some(status) = &job.last_status {
            out.sample(
                "ipra_job_last_run_success",
                &[("job", &job.name)],
                u8::from(status == "succeeded"),
            );
        }
    }
    out.family(
        "ipra_job_last_run_duration_seconds",
        "gauge",
        "Time the last run of a job that ended took (database, to the second).",
    );
    for job in jobs {
        if let Some(seconds) = job.last_duration {
            out.sample("ipra_job_last_run_duration_seconds", &[("job", &job.name)], seconds);
        }
    }
    out.family(
        "ipra_job_last_run_timestamp_seconds",
        "gauge",
        "When the last run of a job that ended ended (Unix time, database).",
    );
    for job in jobs {
        if let Some(at) = job.last_finished {
            out.sample("ipra_job_last_run_timestamp_seconds", &[("job", &job.name)], at);
        }
    }
    out.family(
        "ipra_job_last_success_timestamp_seconds",
        "gauge",
        "When the last successful run of a job ended (Unix time, database); absent while it has never succeeded.",
    );
    for job in jobs {
        if let Some(at) = job.last_success {
            out.sample("ipra_job_last_success_timestamp_seconds", &[("job", &job.name)], at);
        }
    }

    // Exchange: every enabled connector appears, with zeros when nothing of it waits.
    let mut messages: BTreeMap<(String, String, String), i64> = BTreeMap::new();
    let mut oldest: BTreeMap<(String, String), Option<i64>> = BTreeMap::new();
    for plugin in app.plugins.all().iter() {
        if plugin.manifest.kind != "connector" || !app.plugins.is_enabled(plugin) {
            continue;
        }
        for (direction, used) in [
            ("in", !plugin.manifest.reads.is_empty()),
            ("out", !plugin.manifest.writes.is_empty()),
        ] {
            if used {
                let key = (plugin.id().to_string(), direction.to_string());
                messages.insert((key.0.clone(), key.1.clone(), "failed".into()), 0);
                oldest.insert(key, None);
            }
        }
    }
    for w in &db.waiting {
        messages.insert((w.connector.clone(), w.direction.clone(), w.status.clone()), w.count);
        let lag = oldest.entry((w.connector.clone(), w.direction.clone())).or_insert(None);
        if figures::LAG_STATUSES.contains(&w.status.as_str()) {
            *lag = match (*lag, w.oldest) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    out.family(
        "ipra_exchange_messages",
        "gauge",
        "Exchange messages not in a final status, by connector, direction (in, out) and status: received or queued (waiting for a worker), processing or sending (taken by one), failed or stopped (waiting for an administrator). Database.",
    );
    for ((connector, direction, status), n) in &messages {
        out.sample(
            "ipra_exchange_messages",
            &[("connector", connector), ("direction", direction), ("status", status)],
            n,
        );
    }
    out.family(
        "ipra_exchange_lag_seconds",
        "gauge",
        "Age of the oldest exchange message of a connector and direction whose work is not done (received or processing in, queued or sending out); 0 when none waits. Database.",
    );
    for ((connector, direction), at) in &oldest {
        out.sample(
            "ipra_exchange_lag_seconds",
            &[("connector", connector), ("direction", direction)],
            age(now, *at),
        );
    }

    // Signing.
    out.family(
        "ipra_signing_queue_reports",
        "gauge",
        "Execution reports in the signing queue: awaiting-signature, or signed-not-sent (the outbox job sends them). Database.",
    );
    for q in &db.signing {
        out.sample("ipra_signing_queue_reports", &[("state", q.state)], q.count);
    }
    out.family(
        "ipra_signing_queue_oldest_seconds",
        "gauge",
        "How long the oldest report of a state of the signing queue has been in it; 0 when the state is empty. Database.",
    );
    for q in &db.signing {
        out.sample(
            "ipra_signing_queue_oldest_seconds",
            &[("state", q.state)],
            age(now, q.oldest),
        );
    }

    // Imports, durable.
    let i = &db.imports;
    out.family(
        "ipra_import_runs_running",
        "gauge",
        "Import runs under way in any process (database).",
    );
    out.sample("ipra_import_runs_running", &[], i.running);
    out.family(
        "ipra_import_last_finished_timestamp_seconds",
        "gauge",
        "When the last import run that finished ended (Unix time, database; any process, the command line too).",
    );
    if let Some(at) = i.last_finished {
        out.sample("ipra_import_last_finished_timestamp_seconds", &[], at);
    }
    out.family(
        "ipra_import_last_run_files",
        "gauge",
        "Files of the last import run that finished (database).",
    );
    out.sample("ipra_import_last_run_files", &[], i.last_files);
    out.family(
        "ipra_import_last_run_records",
        "gauge",
        "Extracts of the last import run that finished, by outcome (database).",
    );
    for (outcome, n) in [
        ("imported", i.last_imported),
        ("unchanged", i.last_unchanged),
        ("superseded", i.last_superseded),
    ] {
        out.sample("ipra_import_last_run_records", &[("outcome", outcome)], n);
    }
    out.family(
        "ipra_import_last_run_rejections",
        "gauge",
        "Rejections of the last import run that finished (database).",
    );
    out.sample("ipra_import_last_run_rejections", &[], i.last_rejected);
    for (name, help, n) in [
        (
            "ipra_import_runs_24h",
            "Import runs started in the last 24 hours (database: every process, kept across restarts).",
            i.day_runs,
        ),
        (
            "ipra_import_files_24h",
            "Files of the import runs started in the last 24 hours (database).",
            i.day_files,
        ),
        (
            "ipra_import_records_24h",
            "Extracts stored (new or changed) by the import runs started in the last 24 hours (database).",
            i.day_imported,
        ),
        (
            "ipra_import_rejections_24h",
            "Rejections of the import runs started in the last 24 hours (database).",
            i.day_rejected,
        ),
    ] {
        out.family(name, "gauge", help);
        out.sample(name, &[], n);
    }
}

// ---------------------------------------------------------------------------------------------
// The route

/// `/metrics`: every family above, then the plugins' calls (by plugin, hook and how they ended,
/// with their time as a histogram) and the plugins loaded and refused.
pub async fn handler(State(app): State<App>, axum::Extension(instance): axum::Extension<Instance>) -> Response {
    let mut out = Exposition::default();
    render_process(&mut out, &app, &instance);
    HTTP.render(&mut out);
    out.push_raw(&db_part(&app).await);
    out.push_raw(&app.plugins.figures().prometheus());
    out.family(
        "ipra_plugins_loaded",
        "gauge",
        "Plugins in service (built-in and installed).",
    );
    out.sample("ipra_plugins_loaded", &[], app.plugins.all().len());
    out.family(
        "ipra_plugins_refused",
        "gauge",
        "Installed plugins refused at the last scan.",
    );
    out.sample("ipra_plugins_refused", &[], app.plugins.refused().len());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        out.into_text(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_families_histograms_and_escaped_labels() {
        let mut out = Exposition::default();
        out.family("x_seconds", "histogram", "Time.\nOf \\ things.");
        out.histogram("x_seconds", &[("route", "/a/{id}")], &[0.5, 1.0], &[2, 1, 1], 3.25, 4);
        out.family("y", "gauge", "Why.");
        out.sample("y", &[("v", "a\"b\\c\nd")], 1);
        out.sample("y", &[], 2.5);
        assert_eq!(
            out.into_text(),
            "# HELP x_seconds Time.\\nOf \\\\ things.\n# TYPE x_seconds histogram\n\
             x_seconds_bucket{route=\"/a/{id}\",le=\"0.5\"} 2\n\
             x_seconds_bucket{route=\"/a/{id}\",le=\"1\"} 3\n\
             x_seconds_bucket{route=\"/a/{id}\",le=\"+Inf\"} 4\n\
             x_seconds_sum{route=\"/a/{id}\"} 3.25\n\
             x_seconds_count{route=\"/a/{id}\"} 4\n\
             # HELP y Why.\n# TYPE y gauge\n\
             y{v=\"a\\\"b\\\\c\\nd\"} 1\n\
             y 2.5\n"
        );
    }

    #[test]
    fn counts_requests_by_route_method_and_status() {
        let http = Http {
            in_flight: AtomicI64::new(0),
            waiting: AtomicI64::new(0),
            waits: AtomicU64::new(0),
            waited_micros: AtomicU64::new(0),
            routes: Mutex::new(BTreeMap::new()),
        };
        let get = method_index(&Method::GET);
        http.record(get, "/api/v1/ipras/{id}", 200, Duration::from_millis(3));
        http.record(get, "/api/v1/ipras/{id}", 200, Duration::from_millis(30));
        http.record(get, "/api/v1/ipras/{id}", 404, Duration::from_secs(30));
        http.record(
            method_index(&Method::from_bytes(b"PROPFIND").unwrap()),
            OTHER_ROUTE,
            405,
            Duration::ZERO,
        );
        let mut out = Exposition::default();
        http.render(&mut out);
        let text = out.into_text();
        for line in [
            "ipra_http_requests_total{method=\"GET\",route=\"/api/v1/ipras/{id}\",status=\"200\"} 2",
            "ipra_http_requests_total{method=\"GET\",route=\"/api/v1/ipras/{id}\",status=\"404\"} 1",
            "ipra_http_requests_total{method=\"other\",route=\"other\",status=\"405\"} 1",
            "ipra_http_request_duration_seconds_bucket{route=\"/api/v1/ipras/{id}\",le=\"0.005\"} 1",
            "ipra_http_request_duration_seconds_bucket{route=\"/api/v1/ipras/{id}\",le=\"0.05\"} 2",
            "ipra_http_request_duration_seconds_bucket{route=\"/api/v1/ipras/{id}\",le=\"10\"} 2",
            "ipra_http_request_duration_seconds_bucket{route=\"/api/v1/ipras/{id}\",le=\"+Inf\"} 3",
            "ipra_http_request_duration_seconds_count{route=\"/api/v1/ipras/{id}\"} 3",
            "ipra_http_requests_in_flight 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }
}
