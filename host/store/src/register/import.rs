//! The import pipeline: files → connector plugin `import` → section mapping → department plugins
//! `import` (claims) → register, parsing on worker threads while one writer stores in order.
//!
//! Each file is stored whole or not at all (a group of files is written in one transaction, a few
//! statements per table for all of them; a group in which a file fails is rolled back and written
//! again file by file, each with a savepoint); a rejected file is reported with file, record, field
//! and a Russian message, and copied to quarantine.

use super::deadlines;
use super::reference::{MeasureType, ReferenceSnapshot};
use super::store::{self, IpraOutcome, PreparedMeasure, SourceDocument};
use crate::db::{now, Db};
use crate::plugins::manifest::FailurePolicy;
use crate::plugins::model;
use crate::plugins::runtime::CallError;
use crate::plugins::{LoadedPlugin, PluginHost};
use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Acquire, Row};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Larger inputs are refused before any parsing.
pub const MAX_FILE_BYTES: u64 = 64 << 20;
/// Files per transaction, written together: commits and statements are amortised; a failing file
/// makes its group be written again with a savepoint per file.
const BATCH_FILES: usize = 64;
/// How far parsing may run ahead of the writer (bounds memory whatever the number of files): past a
/// whole group, so that parsing goes on while the writer stores one.
const WINDOW: usize = 4 * BATCH_FILES;

#[derive(Clone)]
pub struct ImportOptions {
    pub dry_run: bool,
    /// Who started the run: `cli`, `inbox`, `demo`, `bench`.
    pub origin: String,
    /// Connector plugin that reads the files (the caller chooses it: see `register::intake`).
    pub connector: String,
    pub workers: usize,
    /// Where rejected files are kept with their reasons (none in dry-run): the transport's business.
    pub quarantine: Option<Arc<dyn Quarantine>>,
    /// Called after each file is written, with the number done so far.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Whether a refused record leaves the document's other records (a connector that reads only
    /// what systems send record by record: deaths, receipts), rather than refusing the document
    /// whole. Set from the connector's manifest by the run.
    per_record: bool,
}

impl ImportOptions {
    pub fn new(origin: &str, dry_run: bool) -> ImportOptions {
        ImportOptions {
            dry_run,
            origin: origin.into(),
            connector: String::new(),
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            quarantine: None,
            progress: None,
            per_record: false,
        }
    }
}

/// Keeps a rejected document with the reasons it was refused, for a person to look at (the
/// transport side provides it: `exchange::files::QuarantineFolder`).
pub trait Quarantine: Send + Sync {
    fn keep(&self, input: &InputFile, run_id: Option<i64>, errors: &[Rejection]) -> Result<()>;
}

/// A rejected file or record, as `ipra import --json` prints it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Rejection {
    pub file: String,
    pub record: Option<String>,
    pub field: Option<String>,
    pub code: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct ImportReport {
    pub imported: u64,
    pub unchanged: u64,
    pub superseded: u64,
    pub rejected: Vec<Rejection>,
    pub files: u64,
    pub bytes: u64,
    pub dry_run: bool,
    pub warnings: Vec<Rejection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// Files rejected as a whole (nothing of them stored); `rejected` names why.
    #[serde(skip)]
    pub rejected_files: u64,
    /// Records for the register to apply one by one (deaths, receipts): see `register::intake`.
    #[serde(skip)]
    pub received: Vec<ReceivedRecord>,
    /// What applying them did, one line each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub applied: Vec<String>,
    /// Why the run stopped before the end: a plugin whose policy is `stop-job` failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The files a stopped run did not process (they are as they were: nothing of them stored).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_processed: Vec<String>,
}

/// One input file: where it is and the name reports use.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub path: PathBuf,
    pub name: String,
    /// The bytes, when they come from a message rather than a file on disk.
    pub content: Option<Arc<Vec<u8>>>,
}

impl InputFile {
    pub fn from_path(path: PathBuf) -> InputFile {
        InputFile {
            name: path.display().to_string(),
            path,
            content: None,
        }
    }

    /// An input held in memory (an exchange message); `name` is what reports show.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> InputFile {
        InputFile {
            path: PathBuf::from(name),
            name: name.to_string(),
            content: Some(Arc::new(bytes)),
        }
    }

    fn read(&self) -> std::result::Result<Vec<u8>, (&'static str, String)> {
        if let Some(content) = &self.content {
            return Ok(content.as_ref().clone());
        }
        match std::fs::metadata(&self.path) {
            Ok(meta) if meta.len() > MAX_FILE_BYTES => Err((
                "file-too-large",
                format!(
                    "файл слишком велик: {} МиБ при пределе {} МиБ",
                    meta.len() >> 20,
                    MAX_FILE_BYTES >> 20
                ),
            )),
            _ => std::fs::read(&self.path).map_err(|e| ("file-unreadable", format!("файл не читается: {e}"))),
        }
    }
}

/// The media type of an incoming file: a ZIP by its signature, else by its extension (XML when
/// it has none the host knows).
fn media_type(file_name: &str, bytes: &[u8]) -> &'static str {
    let lower = file_name.to_ascii_lowercase();
    if bytes.starts_with(b"PK\x03\x04") {
        "application/zip"
    } else if lower.ends_with(".csv") {
        "text/csv"
    } else if lower.ends_with(".json") {
        "application/json"
    } else {
        "application/xml"
    }
}

/// What one record of a parsed file is, ready for the writer.
enum ParsedRecord {
    Ipra {
        locator: String,
        ipra: Box<model::IpraExtract>,
        measures: Vec<PreparedMeasure>,
        /// Follow-ups of department plugins (IPPSU draft, social-service recipient, …) by plugin id.
        follow_ups: Vec<(String, model::FollowUp)>,
    },
    Prior {
        locator: String,
        report: Box<model::PriorReport>,
    },
    Skipped {
        locator: String,
        text: String,
    },
    Rejected {
        locator: String,
        error: model::PluginError,
    },
    /// A reference list a connector delivers (e.g. EGISSO NSI), kept as the next version of
    /// `<connector>-<list id>`.
    Reference {
        locator: String,
        list: model::ReferenceList,
    },
    /// What an external system tells the register (a death, an answer on a sent report): applied
    /// one by one after the run (see [`Received`]).
    Received {
        locator: String,
        record: Received,
    },
}

/// A record an external system sends that the register applies on its own, one by one: unlike an
/// extract, a document of them is not all or nothing (a refused death record leaves the others).
#[derive(Clone, Debug)]
pub enum Received {
    Death(Box<model::DeathRecord>),
    Receipt(model::Receipt),
    /// Services a connector that reads `execution-result` reports back for a person's IPRA: they
    /// become execution records of its measures (`register::social_services`), not a prior report.
    Executions(Box<model::PriorReport>),
}

/// A [`Received`] record with where it came from.
#[derive(Clone, Debug)]
pub struct ReceivedRecord {
    pub file: String,
    pub locator: String,
    pub record: Received,
}

impl ParsedRecord {
    /// Whether the record is kept by the register as part of its document (an IPRA, a prior
    /// report, a reference list), which makes the document all or nothing.
    fn is_register_record(&self) -> bool {
        matches!(
            self,
            ParsedRecord::Ipra { .. } | ParsedRecord::Prior { .. } | ParsedRecord::Reference { .. }
        )
    }
}

struct ParsedFile {
    index: usize,
    input: InputFile,
    sha256: String,
    size: u64,
    compressed: Vec<u8>,
    outcome: Result<Vec<ParsedRecord>, Rejection>,
    warnings: Vec<Rejection>,
    /// Set when a plugin failed whose policy stops the run (`stop-job`): why.
    stop: Option<String>,
}

/// What a plugin's failed call does to the file it was reading (see `FailurePolicy`).
enum Failed {
    /// Noted as a warning; the file goes on.
    Noted(Rejection),
    /// The file is refused and quarantined.
    File(Rejection),
    /// The file is refused and quarantined, and the run stops after it.
    Run(Rejection),
}

fn failed(plugin: &LoadedPlugin, rejection: Rejection) -> Failed {
    match plugin.manifest.failure_policy() {
        FailurePolicy::SkipRecord if plugin.is_department() => Failed::Noted(rejection),
        FailurePolicy::SkipRecord | FailurePolicy::QuarantineDocument => Failed::File(rejection),
        FailurePolicy::StopJob => Failed::Run(rejection),
    }
}

fn rejection(file: &str, error: &model::PluginError, record: Option<&str>) -> Rejection {
    Rejection {
        file: file.into(),
        record: error.record.clone().or_else(|| record.map(str::to_string)),
        field: error.field.clone(),
        code: error.code.clone(),
        message: error.message.clone(),
    }
}

fn call_failure(file: &str, error: &CallError) -> Rejection {
    Rejection {
        file: file.into(),
        record: None,
        field: None,
        code: error.code().into(),
        message: error.to_string(),
    }
}

thread_local! {
    /// Each worker's zstd context, reused from file to file (creating one costs as much as
    /// compressing a small file).
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// zstd's first fast level: extracts still shrink ≈ 12×, at well over 1 GB/s.
const ZSTD_LEVEL: i32 = -1;

/// The source document as stored, zstd-compressed.
fn compress(bytes: &[u8]) -> Vec<u8> {
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = zstd::bulk::Compressor::new(ZSTD_LEVEL).ok();
        }
        slot.as_mut().and_then(|c| c.compress(bytes).ok()).unwrap_or_default()
    })
}

/// The parse stage for one file; everything here is pure and runs on a worker thread.
pub struct Parser<'a> {
    pub plugins: &'a PluginHost,
    pub connector: Arc<LoadedPlugin>,
    pub departments: Vec<Arc<LoadedPlugin>>,
    pub reference: &'a ReferenceSnapshot,
    /// The day the files are received: the start of the measures' deadlines.
    pub today: String,
}

impl Parser<'_> {
    /// Whether the connector reads results of execution reported back (its prior reports become
    /// execution records).
    fn reads_execution_results(&self) -> bool {
        self.connector.manifest.reads.iter().any(|k| k == "execution-result")
    }

    fn parse(&self, index: usize, input: InputFile) -> ParsedFile {
        let mut parsed = ParsedFile {
            index,
            sha256: String::new(),
            size: 0,
            compressed: Vec::new(),
            outcome: Ok(Vec::new()),
            warnings: Vec::new(),
            stop: None,
            input,
        };
        let file = parsed.input.name.clone();
        let fail = |code: &str, message: String| Rejection {
            file: file.clone(),
            record: None,
            field: None,
            code: code.into(),
            message,
        };
        let bytes = match parsed.input.read() {
            Ok(bytes) if bytes.len() as u64 > MAX_FILE_BYTES => {
                parsed.outcome = Err(fail(
                    "file-too-large",
                    format!(
                        "файл слишком велик: {} МиБ при пределе {} МиБ",
                        bytes.len() >> 20,
                        MAX_FILE_BYTES >> 20
                    ),
                ));
                return parsed;
            }
            Ok(bytes) => bytes,
            Err((code, message)) => {
                parsed.outcome = Err(fail(code, message));
                return parsed;
            }
        };
        parsed.size = bytes.len() as u64;
        parsed.sha256 = hex::encode(Sha256::digest(&bytes));
        parsed.compressed = compress(&bytes);
        let base_name = parsed
            .input
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let media_type = media_type(&base_name, &bytes);
        let input = model::ImportInput::Document(crate::plugins::incoming_document(base_name, media_type, bytes));
        let output = match self.plugins.import(&self.connector, input) {
            Ok(Ok(output)) => output,
            Ok(Err(error)) => {
                parsed.outcome = Err(rejection(&file, &error, None));
                return parsed;
            }
            Err(error) => {
                let rejection = call_failure(&file, &error);
                if let Failed::Run(_) = failed(&self.connector, rejection.clone()) {
                    parsed.stop = Some(stop_reason(&self.connector, &rejection));
                }
                parsed.outcome = Err(rejection);
                return parsed;
            }
        };
        parsed
            .warnings
            .extend(output.warnings.iter().map(|w| rejection(&file, w, None)));
        let mut records = Vec::with_capacity(output.records.len());
        for outcome in output.records {
            let locator = outcome.locator;
            records.push(match outcome.outcome {
                Err(error) => ParsedRecord::Rejected { locator, error },
                Ok(model::Normalized::Ipra(ipra)) => {
                    let (ipra, measures, follow_ups, failure) =
                        self.prepare_measures(&file, &locator, ipra, &mut parsed.warnings);
                    if let Some((plugin, failure)) = failure {
                        // A department failed whose policy refuses the whole document.
                        if let Failed::Run(rejection) = &failure {
                            parsed.stop = Some(stop_reason(&plugin, rejection));
                        }
                        if let Failed::File(rejection) | Failed::Run(rejection) = failure {
                            parsed.outcome = Err(rejection);
                            return parsed;
                        }
                    }
                    ParsedRecord::Ipra {
                        locator,
                        ipra: Box::new(ipra),
                        measures,
                        follow_ups,
                    }
                }
                Ok(model::Normalized::PriorReport(report)) if self.reads_execution_results() => {
                    ParsedRecord::Received {
                        locator,
                        record: Received::Executions(Box::new(report)),
                    }
                }
                Ok(model::Normalized::PriorReport(report)) => ParsedRecord::Prior {
                    locator,
                    report: Box::new(report),
                },
                Ok(model::Normalized::Skipped(text)) => ParsedRecord::Skipped { locator, text },
                Ok(model::Normalized::Reference(list)) => ParsedRecord::Reference { locator, list },
                Ok(model::Normalized::Death(death)) => ParsedRecord::Received {
                    locator,
                    record: Received::Death(Box::new(death)),
                },
                Ok(model::Normalized::Receipt(receipt)) => ParsedRecord::Received {
                    locator,
                    record: Received::Receipt(receipt),
                },
            });
        }
        parsed.outcome = Ok(records);
        parsed
    }

    /// Maps each measure to its section, gives it a due date and lets the departments of those
    /// sections claim them; returns the IPRA (its measures moved out), the measures ready to store
    /// and the departments' follow-ups.
    fn prepare_measures(
        &self,
        file: &str,
        locator: &str,
        mut ipra: model::IpraExtract,
        warnings: &mut Vec<Rejection>,
    ) -> Prepared {
        let person = &ipra.person;
        let mut candidates: Vec<&str> = person.territory_code.iter().map(String::as_str).collect();
        candidates.extend(
            person
                .extra
                .iter()
                .filter(|a| matches!(a.code.as_str(), "DistrictGuidFIAS" | "District"))
                .map(|a| a.value.as_str()),
        );
        if let Some(code) = self.reference.territory_code(&candidates) {
            ipra.person.territory_code = Some(code);
        }
        for m in &mut ipra.measures {
            // The 2022 form types its rehabilitation records by `EventTypeCode`, the older forms by
            // `GroupTypeId` and `GroupTypeName`: each is looked up in its own rows of the category map.
            let attribute = |code: &str| m.extra.iter().find(|a| a.code == code).map(|a| a.value.as_str());
            let kind = MeasureType {
                event_type: attribute("EventTypeCode"),
                group_id: attribute("GroupTypeId"),
                names: [
                    attribute("GroupTypeName"),
                    attribute("EventTypeName"),
                    Some(m.category_name.as_str()),
                ],
            };
            m.section = self
                .reference
                .measure_section(&m.category_code, kind)
                .unwrap_or_default()
                .to_string();
        }
        let mut claims: HashMap<String, (String, model::MeasureClaim)> = HashMap::new();
        let mut follow_ups = Vec::new();
        let mut failure = None;
        let all = std::mem::take(&mut ipra.measures);
        // One input for every department: only its measures change from call to call.
        let mut input = model::ImportInput::Ipra(ipra);
        for department in &self.departments {
            // A department sees the IPRA with the measures of its own sections only: it claims no
            // others, and the smaller input is cheaper to pass into the sandbox.
            let own: Vec<model::Measure> = all
                .iter()
                .filter(|m| department.info.sections.contains(&m.section))
                .cloned()
                .collect();
            if own.is_empty() {
                continue;
            }
            if let model::ImportInput::Ipra(ipra) = &mut input {
                ipra.measures = own;
            }
            match self.plugins.import_keeping(department, &mut input) {
                Ok(Ok(output)) => {
                    warnings.extend(output.warnings.iter().map(|w| rejection(file, w, Some(locator))));
                    for claim in output.claims {
                        claims
                            .entry(claim.measure_key.clone())
                            .or_insert((department.id().to_string(), claim));
                    }
                    follow_ups.extend(output.follow_ups.into_iter().map(|f| (department.id().to_string(), f)));
                }
                Ok(Err(error)) => warnings.push(rejection(file, &error, Some(locator))),
                Err(error) => {
                    let refused = Rejection {
                        record: Some(locator.into()),
                        ..call_failure(file, &error)
                    };
                    match failed(department, refused) {
                        Failed::Noted(refused) => warnings.push(refused),
                        whole => {
                            failure = Some((department.clone(), whole));
                            break;
                        }
                    }
                }
            }
        }
        let model::ImportInput::Ipra(mut ipra) = input else {
            unreachable!("the departments' input was built as an IPRA above")
        };
        ipra.measures = Vec::new();
        let due_date = deadlines::due_date(
            self.reference,
            "measure-execution",
            &self.today,
            ipra.valid_until.as_deref(),
        );
        let measures = all
            .into_iter()
            .map(|m| {
                let claim = claims.remove(&m.key);
                let assigned_ogrn = claim.as_ref().and_then(|(_, c)| c.executor_ogrn.clone());
                let assignment_source = assigned_ogrn.as_ref().map(|ogrn| {
                    if m.executor_ogrn.as_ref() == Some(ogrn) {
                        "extract"
                    } else {
                        "rule"
                    }
                });
                PreparedMeasure {
                    extra_json: store::extra_json(&m.extra),
                    measure: m,
                    claimed_by: claim.as_ref().map(|(id, _)| id.clone()),
                    assigned_ogrn,
                    assignment_source,
                    note: claim.and_then(|(_, c)| c.note),
                    due_date: due_date.clone(),
                }
            })
            .collect();
        (ipra, measures, follow_ups, failure)
    }
}

/// An IPRA made ready to store: the extract (its measures moved out), the measures, the
/// departments' follow-ups, and a department's failure that refuses the document, if any.
type Prepared = (
    model::IpraExtract,
    Vec<PreparedMeasure>,
    Vec<(String, model::FollowUp)>,
    Option<(Arc<LoadedPlugin>, Failed)>,
);

/// Why a run stopped, for its report.
fn stop_reason(plugin: &LoadedPlugin, rejection: &Rejection) -> String {
    format!(
        "обработка остановлена на файле {}: сбой плагина «{}», которому манифест велит останавливать задание (on_failure = \"stop-job\"): {}",
        rejection.file,
        plugin.id(),
        rejection.message
    )
}

/// How much lower than the rest of the server the parse workers run (a `nice` value).
const WORKER_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority to [`WORKER_NICE`]. The workers can keep every
/// core busy; at a lower priority they give way at once to the writer (which hands each statement
/// to SQLite's own thread and waits for it: every wait for a core stalled the whole pipeline) and to
/// the web server's requests. Measured: import 15–25 % faster on 2 cores.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: two system calls about this thread only, with no memory passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, WORKER_NICE) != 0 {
            tracing::debug!("could not lower the parse worker's priority");
        }
    }
}

/// Imports `files` through the connector, storing what is valid and reporting the rest.
pub async fn run(
    db: &Db,
    plugins: &Arc<PluginHost>,
    reference: &Arc<ReferenceSnapshot>,
    files: Vec<InputFile>,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    run_stream(db, plugins, reference, Box::new(files.into_iter()), opts).await
}

/// Files for [`run_stream`], taken one at a time as parsing goes on. The stream may block: a
/// stream that waits while its producer makes the next files (`ipra bench import` generates its
/// extracts as they are consumed) gets what it has so far written and committed meanwhile.
pub type InputStream = Box<dyn Iterator<Item = InputFile> + Send>;

/// How often a running import says it is alive (`import_runs.heartbeat_at`).
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(30);
/// A run silent this long (its process was killed elsewhere) is closed as interrupted.
const HEARTBEAT_LOST_SECONDS: i64 = 300;

/// Keeps a run's heartbeat until dropped.
struct Heartbeat(tokio::task::JoinHandle<()>);

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Closes as interrupted the import runs whose process stopped without finishing them: a process
/// of this machine that no longer exists, or a run whose heartbeat has been silent for minutes
/// (another machine). Their stored extracts stay: each batch was committed whole.
pub async fn close_interrupted_runs(db: &Db) -> Result<u64> {
    let rows = sqlx::query("SELECT id, instance, heartbeat_at FROM import_runs WHERE status = 'running'")
        .fetch_all(&db.pool)
        .await?;
    let silent = (crate::clock::now() - time::Duration::seconds(HEARTBEAT_LOST_SECONDS))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let mut closed = 0;
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let instance: Option<String> = row.try_get("instance")?;
        let heartbeat: Option<String> = row.try_get("heartbeat_at")?;
        let gone = match instance.as_deref().and_then(crate::scheduler::instance_alive) {
            Some(alive) => !alive,
            None => heartbeat.is_none_or(|h| h < silent),
        };
        if gone {
            closed += sqlx::query(
                "UPDATE import_runs SET status = 'interrupted', finished_at = $1, error = $2 WHERE id = $3 AND status = 'running'",
            )
            .bind(now())
            .bind("загрузка прервана: процесс остановился; сохранённые выписки остались, повторный запуск загрузит остальные")
            .bind(id)
            .execute(&db.pool)
            .await?
            .rows_affected();
        }
    }
    Ok(closed)
}

/// [`run`] over a stream of files that need not exist before the import starts.
pub async fn run_stream(
    db: &Db,
    plugins: &Arc<PluginHost>,
    reference: &Arc<ReferenceSnapshot>,
    inputs: InputStream,
    opts: &ImportOptions,
) -> Result<ImportReport> {
    if opts.dry_run {
        return run_stream_inner(db, plugins, reference, inputs, opts, None).await;
    }
    // Runs of processes since killed are closed before this one begins.
    let closed = close_interrupted_runs(db).await?;
    if closed > 0 {
        tracing::warn!(runs = closed, "import runs of a stopped process closed as interrupted");
    }
    let at = now();
    let id: i64 = sqlx::query(
        "INSERT INTO import_runs (origin, dry_run, started_at, status, instance, heartbeat_at) VALUES ($1, 0, $2, 'running', $3, $2) RETURNING id",
    )
    .bind(&opts.origin)
    .bind(&at)
    .bind(crate::scheduler::instance_name())
    .fetch_one(&db.pool)
    .await?
    .try_get("id")?;
    let beat = {
        let db = db.clone();
        Heartbeat(tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let _ = sqlx::query("UPDATE import_runs SET heartbeat_at = $1 WHERE id = $2")
                    .bind(now())
                    .bind(id)
                    .execute(&db.pool)
                    .await;
            }
        }))
    };
    let result = run_stream_inner(db, plugins, reference, inputs, opts, Some(id)).await;
    drop(beat);
    crate::metrics::count_import(&result);
    if let Err(e) = &result {
        let _ = sqlx::query("UPDATE import_runs SET status = 'failed', finished_at = $1, error = $2 WHERE id = $3")
            .bind(now())
            .bind(crate::db::storage::explain(e))
            .bind(id)
            .execute(&db.pool)
            .await;
    }
    result
}

async fn run_stream_inner(
    db: &Db,
    plugins: &Arc<PluginHost>,
    reference: &Arc<ReferenceSnapshot>,
    inputs: InputStream,
    opts: &ImportOptions,
    run_id: Option<i64>,
) -> Result<ImportReport> {
    let connector = plugins
        .get(&opts.connector)
        .filter(|p| plugins.is_enabled(p))
        .with_context(|| {
            format!(
                "коннектор «{}» не установлен или отключён (ipra plugins list)",
                opts.connector
            )
        })?;
    let departments = plugins.enabled_departments();
    // A connector that reads nothing kept whole (extracts, prior reports, reference lists) has its
    // documents applied record by record.
    let whole = ["ipra-extract", "prior-report", "reference"];
    let opts = &ImportOptions {
        per_record: !connector.manifest.reads.is_empty()
            && !connector.manifest.reads.iter().any(|k| whole.contains(&k.as_str())),
        ..opts.clone()
    };
    let mut report = ImportReport {
        dry_run: opts.dry_run,
        ..ImportReport::default()
    };
    report.run_id = run_id;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<ParsedFile>(WINDOW);
    // The stream with the index of its next file; `taken` counts the files taken from it, `consumed`
    // those the writer has taken in order.
    let source = Arc::new(std::sync::Mutex::new((0usize, inputs)));
    let taken = Arc::new(AtomicUsize::new(0));
    let consumed = Arc::new(AtomicUsize::new(0));
    // Set when a plugin whose policy is `stop-job` failed: the workers take no more files, and
    // the names of those they had taken are kept for the report.
    let halt = Arc::new(AtomicBool::new(false));
    let dropped: Arc<std::sync::Mutex<Vec<(usize, String)>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..opts.workers.max(1) {
        let (tx, source, taken, consumed) = (tx.clone(), source.clone(), taken.clone(), consumed.clone());
        let (halt, dropped) = (halt.clone(), dropped.clone());
        let (plugins, reference, connector, departments) = (
            plugins.clone(),
            reference.clone(),
            connector.clone(),
            departments.clone(),
        );
        workers.push(std::thread::spawn(move || {
            lower_priority();
            let parser = Parser {
                plugins: &plugins,
                connector,
                departments,
                reference: &reference,
                today: deadlines::format_date(deadlines::today()),
            };
            let drop_file = |index: usize, name: String| {
                dropped.lock().unwrap_or_else(|e| e.into_inner()).push((index, name));
            };
            loop {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let (index, input) = {
                    let mut source = source.lock().unwrap_or_else(|e| e.into_inner());
                    let Some(input) = source.1.next() else { break };
                    let index = source.0;
                    source.0 += 1;
                    taken.store(source.0, Ordering::SeqCst);
                    (index, input)
                };
                // Stay within a window of the writer so memory stays flat on huge runs.
                while index >= consumed.load(Ordering::SeqCst) + WINDOW && !halt.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                if halt.load(Ordering::SeqCst) {
                    drop_file(index, input.name);
                    break;
                }
                if let Err(unsent) = tx.blocking_send(parser.parse(index, input)) {
                    drop_file(unsent.0.index, unsent.0.input.name);
                    break;
                }
            }
        }));
    }
    drop(tx);

    let mut writer = Writer {
        bulk: !opts.dry_run,
        outcomes: Outcomes {
            run_id,
            rows: Vec::new(),
        },
        // On the region's clocks: the received date is the region's date.
        received_at: crate::db::local_now(),
        opts,
        written: 0,
    };
    // A dry run, never committed, keeps one transaction for all files and gives each its own savepoint.
    let mut target = if opts.dry_run {
        Target::DryRun(db.pool.begin().await?)
    } else {
        Target::Commit(db.pool.acquire().await?)
    };
    // The files taken in order and not yet written: written together, in one transaction.
    let mut group: Vec<ParsedFile> = Vec::new();
    let mut pending: BTreeMap<usize, ParsedFile> = BTreeMap::new();
    let (mut received, mut expected) = (0usize, 0usize);
    let mut group_started = Instant::now();
    loop {
        let file = match rx.try_recv() {
            Ok(file) => Some(file),
            Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
            Err(tokio::sync::mpsc::error::TryRecvError::Empty) => {
                // Every file taken from the stream is here: the stream is waiting for its producer,
                // so what came so far is written now rather than when more comes.
                if !group.is_empty() && taken.load(Ordering::SeqCst) == received {
                    writer.write(&mut target, &mut group, &mut report).await?;
                    group_started = Instant::now();
                }
                rx.recv().await
            }
        };
        let Some(file) = file else { break };
        received += 1;
        pending.insert(file.index, file);
        while let Some(file) = pending.remove(&expected) {
            if group.is_empty() {
                group_started = Instant::now();
            }
            let stop = file.stop.clone();
            group.push(file);
            expected += 1;
            consumed.store(expected, Ordering::SeqCst);
            if stop.is_some() {
                // The failed file is refused and kept like any other; nothing after it is taken.
                halt.store(true, Ordering::SeqCst);
                report.stopped = stop;
                break;
            }
            if group.len() >= BATCH_FILES || group_started.elapsed() > Duration::from_millis(500) {
                writer.write(&mut target, &mut group, &mut report).await?;
            }
        }
        if report.stopped.is_some() {
            break;
        }
    }
    writer.write(&mut target, &mut group, &mut report).await?;
    if let Target::DryRun(batch) = target {
        batch.rollback().await?;
    }
    if report.stopped.is_some() {
        let mut left: Vec<(usize, String)> = pending.into_values().map(|f| (f.index, f.input.name)).collect();
        while let Ok(file) = rx.try_recv() {
            left.push((file.index, file.input.name));
        }
        drop(rx);
        for worker in workers {
            let _ = worker.join();
        }
        left.extend(std::mem::take(&mut *dropped.lock().unwrap_or_else(|e| e.into_inner())));
        let mut source = source.lock().unwrap_or_else(|e| e.into_inner());
        let next = source.0;
        left.extend(source.1.by_ref().enumerate().map(|(i, f)| (next + i, f.name)));
        left.sort();
        report.not_processed = left.into_iter().map(|(_, name)| name).collect();
        tracing::warn!(
            not_processed = report.not_processed.len(),
            "{}",
            report.stopped.as_deref().unwrap_or_default()
        );
    } else {
        for worker in workers {
            let _ = worker.join();
        }
    }
    let total = taken.load(Ordering::SeqCst);
    if expected < total && report.stopped.is_none() {
        anyhow::bail!("обработка остановлена: разобрано {expected} файлов из {total}");
    }
    report.files = expected as u64;
    if let Some(id) = run_id {
        sqlx::query(
            "UPDATE import_runs SET status = 'finished', finished_at = $1, files = $2, imported = $3, unchanged = $4, superseded = $5, rejected = $6, error = $8 \
             WHERE id = $7",
        )
        .bind(now())
        .bind(report.files as i64)
        .bind(report.imported as i64)
        .bind(report.unchanged as i64)
        .bind(report.superseded as i64)
        .bind(report.rejected.len() as i64)
        .bind(id)
        .bind(report.stopped.as_deref())
        .execute(&db.pool)
        .await?;
    }
    Ok(report)
}

/// Where the writer writes: a connection on which each group is a transaction, committed, or the
/// one transaction of a dry run.
enum Target {
    Commit(sqlx::pool::PoolConnection<sqlx::Any>),
    DryRun(sqlx::Transaction<'static, sqlx::Any>),
}

/// The single writer: stores groups of parsed files in order.
struct Writer<'a> {
    /// Whether a group is written in a few statements per table for all its files (else file by file).
    bulk: bool,
    outcomes: Outcomes,
    received_at: String,
    opts: &'a ImportOptions,
    /// Files written so far.
    written: u64,
}

impl Writer<'_> {
    /// Writes `group` (emptied) in a transaction of its own, committed — or, in a dry run, in the
    /// run's transaction, each file in a savepoint.
    async fn write(
        &mut self,
        target: &mut Target,
        group: &mut Vec<ParsedFile>,
        report: &mut ImportReport,
    ) -> Result<()> {
        if group.is_empty() {
            return Ok(());
        }
        let (received_at, opts) = (self.received_at.as_str(), self.opts);
        match target {
            Target::DryRun(batch) => {
                for file in group.iter() {
                    write_file(batch, file, true, &mut self.outcomes, received_at, opts, report).await?;
                }
            }
            Target::Commit(conn) => {
                let mark = ReportMark::of(report);
                let mut batch = conn.begin().await?;
                let written = if self.bulk {
                    write_bulk(&mut batch, group, &mut self.outcomes, received_at, opts, report).await?
                } else {
                    let mut written = Written::Done;
                    for file in group.iter() {
                        written =
                            write_file(&mut batch, file, false, &mut self.outcomes, received_at, opts, report).await?;
                        if written == Written::Replay {
                            break;
                        }
                    }
                    written
                };
                if written == Written::Replay {
                    // Undo the whole group, then write its files again, each whole or not at all.
                    batch.rollback().await?;
                    mark.restore(report);
                    self.outcomes.rows.clear();
                    batch = conn.begin().await?;
                    for file in group.iter() {
                        write_file(&mut batch, file, true, &mut self.outcomes, received_at, opts, report).await?;
                    }
                }
                self.outcomes.flush(&mut batch).await?;
                batch.commit().await?;
            }
        }
        self.written += group.len() as u64;
        group.clear();
        if let Some(progress) = &opts.progress {
            progress(self.written);
        }
        Ok(())
    }
}

/// What a file of a group is to the bulk writer.
enum Fit {
    /// Written with others; these keys (the SNILS of its IPRAs and reports, its SHA-256) must not be
    /// met again in the same run of files, since each file is placed against the register as it was
    /// before the run.
    With(Vec<String>),
    /// Written on its own, after the files before it (it delivers a reference list or carries one
    /// person twice).
    Alone,
}

fn fit(file: &ParsedFile) -> Fit {
    let Ok(records) = &file.outcome else {
        return Fit::With(Vec::new());
    };
    let mut keys = vec![format!("sha256:{}", file.sha256)];
    let mut ipras = std::collections::HashSet::new();
    for record in records {
        match record {
            ParsedRecord::Reference { .. } => return Fit::Alone,
            ParsedRecord::Ipra { ipra, .. } => {
                if !ipras.insert(ipra.person.snils.as_str()) {
                    return Fit::Alone;
                }
                keys.push(ipra.person.snils.clone());
            }
            ParsedRecord::Prior { report, .. } => keys.push(report.snils.clone()),
            ParsedRecord::Rejected { .. } => return Fit::With(Vec::new()),
            ParsedRecord::Skipped { .. } | ParsedRecord::Received { .. } => {}
        }
    }
    Fit::With(keys)
}

/// Writes the files of a group a few statements per table for many files at a time (each statement
/// is a round trip to PostgreSQL, which shares the cores). A run takes the files in order that share
/// no person with a file before them still unwritten; the files it leaves go in the next run, so
/// that a file is always stored after the earlier files of its person, as one by one.
async fn write_bulk(
    conn: &mut sqlx::AnyConnection,
    files: &[ParsedFile],
    outcomes: &mut Outcomes,
    received_at: &str,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Written> {
    let mut left: Vec<(&ParsedFile, Fit)> = files.iter().map(|f| (f, fit(f))).collect();
    while !left.is_empty() {
        if let (file, Fit::Alone) = &left[0] {
            if write_file(conn, file, false, outcomes, received_at, opts, report).await? == Written::Replay {
                return Ok(Written::Replay);
            }
            left.remove(0);
            continue;
        }
        let mut run = Vec::new();
        let mut later = Vec::new();
        let (mut taken, mut blocked) = (std::collections::HashSet::new(), std::collections::HashSet::new());
        let mut barrier = false;
        for (file, fit) in left {
            let keys = match &fit {
                Fit::With(keys) if !barrier => keys,
                _ => {
                    // Nothing passes a file that goes alone.
                    barrier = true;
                    later.push((file, fit));
                    continue;
                }
            };
            if keys.iter().any(|k| taken.contains(k) || blocked.contains(k)) {
                blocked.extend(keys.iter().cloned());
                later.push((file, fit));
            } else {
                taken.extend(keys.iter().cloned());
                run.push(file);
            }
        }
        if write_run(conn, &run, outcomes, received_at, opts, report).await? == Written::Replay {
            return Ok(Written::Replay);
        }
        left = later;
    }
    Ok(Written::Done)
}

/// Writes files with no person in common as [`write_file`] would one by one, without savepoints:
/// any storage failure asks for the group to be replayed file by file.
async fn write_run(
    conn: &mut sqlx::AnyConnection,
    files: &[&ParsedFile],
    outcomes: &mut Outcomes,
    received_at: &str,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Written> {
    let mut accepted: Vec<(&ParsedFile, &[ParsedRecord])> = Vec::new();
    for file in files {
        if let Some(records) = accept(file, outcomes, opts, report) {
            accepted.push((file, records));
        }
    }
    if accepted.is_empty() {
        return Ok(Written::Done);
    }
    match store_run(conn, &accepted, outcomes, received_at, opts, report).await {
        Ok(()) => Ok(Written::Done),
        Err(e) => {
            tracing::debug!("a group of files failed to be stored, written again file by file: {e:#}");
            Ok(Written::Replay)
        }
    }
}

async fn store_run(
    conn: &mut sqlx::AnyConnection,
    files: &[(&ParsedFile, &[ParsedRecord])],
    outcomes: &mut Outcomes,
    received_at: &str,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<()> {
    let docs: Vec<SourceDocument> = files
        .iter()
        .map(|(file, _)| source_document(file, received_at, opts))
        .collect();
    let sources = store::insert_sources(conn, &docs).await?;
    let mut items = Vec::new();
    for ((_, records), source) in files.iter().zip(&sources) {
        let Some(source_id) = *source else { continue };
        for record in records.iter() {
            if let ParsedRecord::Ipra { ipra, measures, .. } = record {
                items.push(store::GroupIpra {
                    ipra,
                    measures,
                    source_id,
                });
            }
        }
    }
    let stored = store::store_ipras(conn, &items, received_at).await?;
    let replaced: Vec<(i64, i64)> = stored
        .iter()
        .filter_map(|outcome| match outcome {
            IpraOutcome::Imported {
                id,
                superseded: Some(old),
            } => Some((*old, *id)),
            _ => None,
        })
        .collect();
    super::execution::carry_over_all(conn, &replaced).await?;
    let mut follow_ups = Vec::new();
    let mut stored_records = stored.iter();
    for ((_, records), source) in files.iter().zip(&sources) {
        if source.is_none() {
            continue;
        }
        for record in records.iter() {
            if let ParsedRecord::Ipra { follow_ups: f, .. } = record {
                let outcome = stored_records.next().context("an IPRA of the group has no outcome")?;
                match outcome {
                    IpraOutcome::Unchanged { .. } => {}
                    IpraOutcome::Imported { id, .. } | IpraOutcome::ImportedAsSuperseded { id, .. } => {
                        follow_ups.push((*id, f.as_slice()));
                    }
                }
            }
        }
    }
    store::store_follow_ups_of(conn, &follow_ups, received_at).await?;

    // Reports carried in the extracts, after the IPRAs; then the outcomes.
    let priors: Vec<(&model::PriorReport, i64)> = files
        .iter()
        .zip(&sources)
        .filter_map(|((_, records), source)| source.map(|id| (records, id)))
        .flat_map(|(records, id)| {
            records.iter().filter_map(move |r| match r {
                ParsedRecord::Prior { report, .. } => Some((report.as_ref(), id)),
                _ => None,
            })
        })
        .collect();
    store::store_prior_reports(conn, &priors).await?;
    let mut stored_records = stored.iter();
    for ((file, records), source) in files.iter().zip(&sources) {
        let mut rows = Vec::new();
        for record in records.iter() {
            if let ParsedRecord::Ipra { locator, .. } = record {
                let (label, id) = match source {
                    None => {
                        report.unchanged += 1;
                        ("unchanged", None)
                    }
                    Some(_) => {
                        let outcome = stored_records.next().context("an IPRA of the group has no outcome")?;
                        let (label, id) = count_outcome(outcome, report);
                        (label, Some(id))
                    }
                };
                rows.push(OutcomeRow {
                    record: locator.clone(),
                    outcome: label,
                    ipra_id: id,
                    error: None,
                });
            }
        }
        if source.is_some() {
            rows.extend(records.iter().filter_map(|r| other_outcome(file, r)));
        }
        outcomes.push(&file.input.name, rows);
    }
    Ok(())
}

/// The outcome row of a stored record other than an IPRA.
fn other_outcome(file: &ParsedFile, record: &ParsedRecord) -> Option<OutcomeRow> {
    let (locator, outcome, error) = match record {
        ParsedRecord::Prior { locator, .. } => (locator, "prior-report", None),
        ParsedRecord::Reference { locator, .. } => (locator, "reference", None),
        ParsedRecord::Skipped { locator, text } => (
            locator,
            "skipped",
            Some(Rejection {
                file: file.input.name.clone(),
                record: None,
                field: None,
                code: "skipped".into(),
                message: text.clone(),
            }),
        ),
        ParsedRecord::Received { locator, .. } => (locator, "received", None),
        ParsedRecord::Ipra { .. } | ParsedRecord::Rejected { .. } => return None,
    };
    Some(OutcomeRow {
        record: locator.clone(),
        outcome,
        ipra_id: None,
        error,
    })
}

/// The outcome row's label and IPRA of a stored IPRA, counted in the report.
fn count_outcome(outcome: &IpraOutcome, report: &mut ImportReport) -> (&'static str, i64) {
    match *outcome {
        IpraOutcome::Imported { id, superseded } => {
            report.imported += 1;
            report.superseded += u64::from(superseded.is_some());
            ("imported", id)
        }
        IpraOutcome::ImportedAsSuperseded { id, .. } => {
            report.imported += 1;
            report.superseded += 1;
            ("imported-superseded", id)
        }
        IpraOutcome::Unchanged { id } => {
            report.unchanged += 1;
            ("unchanged", id)
        }
    }
}

/// What an import run recorded of each file: (file, outcome, records), `outcome` being `imported`,
/// `imported-superseded`, `unchanged` or `rejected`.
pub async fn outcomes_by_file(db: &Db, run_id: i64) -> Result<Vec<(String, String, i64)>> {
    sqlx::query("SELECT file, outcome, COUNT(*) AS n FROM import_outcomes WHERE run_id = $1 GROUP BY file, outcome")
        .bind(run_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| Ok((row.try_get("file")?, row.try_get("outcome")?, row.try_get("n")?)))
        .collect()
}

/// One outcome row of `import_outcomes`.
struct OutcomeRow {
    record: String,
    outcome: &'static str,
    ipra_id: Option<i64>,
    error: Option<Rejection>,
}

/// The report's counts when a batch began, to put it back when the batch is written again.
struct ReportMark {
    imported: u64,
    unchanged: u64,
    superseded: u64,
    bytes: u64,
    rejected: usize,
    warnings: usize,
    received: usize,
    rejected_files: u64,
}

impl ReportMark {
    fn of(report: &ImportReport) -> ReportMark {
        ReportMark {
            imported: report.imported,
            unchanged: report.unchanged,
            superseded: report.superseded,
            bytes: report.bytes,
            rejected: report.rejected.len(),
            warnings: report.warnings.len(),
            received: report.received.len(),
            rejected_files: report.rejected_files,
        }
    }

    fn restore(&self, report: &mut ImportReport) {
        report.imported = self.imported;
        report.unchanged = self.unchanged;
        report.superseded = self.superseded;
        report.bytes = self.bytes;
        report.rejected.truncate(self.rejected);
        report.warnings.truncate(self.warnings);
        report.received.truncate(self.received);
        report.rejected_files = self.rejected_files;
    }
}

/// What writing one file came to.
#[derive(Debug, PartialEq, Eq)]
enum Written {
    Done,
    /// Written without a savepoint of its own, the file failed part-way: the batch's transaction is
    /// to be rolled back and its files written again, each in a savepoint.
    Replay,
}

/// Counts a file in the report and rejects it if it is rejected or has a rejected record; else its
/// records, to be stored.
fn accept<'f>(
    file: &'f ParsedFile,
    outcomes: &mut Outcomes,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Option<&'f [ParsedRecord]> {
    report.bytes += file.size;
    report.warnings.extend(file.warnings.iter().cloned());
    let name = &file.input.name;
    let records = match &file.outcome {
        Err(rejected) => {
            reject(&file.input, outcomes, vec![rejected.clone()], opts, report);
            return None;
        }
        Ok(records) => records,
    };
    let errors: Vec<Rejection> = records
        .iter()
        .filter_map(|r| match r {
            ParsedRecord::Rejected { locator, error } => Some(rejection(name, error, Some(locator))),
            _ => None,
        })
        .collect();
    if !errors.is_empty() {
        if !opts.per_record || records.iter().any(ParsedRecord::is_register_record) {
            reject(&file.input, outcomes, errors, opts, report);
            return None;
        }
        // A document of received records only: the refused ones are named, the others applied.
        report.rejected.extend(errors);
    }
    // Received records are applied after the run whether or not the document was stored before:
    // one received again after an interrupted run is applied now (applying is idempotent).
    report.received.extend(records.iter().filter_map(|record| match record {
        ParsedRecord::Received { locator, record } => Some(ReceivedRecord {
            file: name.clone(),
            locator: locator.clone(),
            record: record.clone(),
        }),
        _ => None,
    }));
    Some(records)
}

fn source_document<'f>(file: &'f ParsedFile, received_at: &'f str, opts: &'f ImportOptions) -> SourceDocument<'f> {
    SourceDocument {
        sha256: &file.sha256,
        file_name: file
            .input
            .path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or(&file.input.name),
        media_type: "application/xml",
        size_bytes: file.size as i64,
        compressed: &file.compressed,
        connector: &opts.connector,
        received_at,
    }
}

/// Stores the records of a stored file other than IPRAs (after them, so that reports carried in the
/// same extract find their IPRA); returns their outcome rows.
async fn store_other_records(
    conn: &mut sqlx::AnyConnection,
    file: &ParsedFile,
    records: &[ParsedRecord],
    source_id: i64,
    opts: &ImportOptions,
) -> Result<Vec<OutcomeRow>> {
    for record in records {
        match record {
            ParsedRecord::Prior { report: prior, .. } => {
                store::store_prior_report(&mut *conn, prior, source_id).await?;
            }
            ParsedRecord::Reference { list, .. } => {
                let list_id = format!("{}-{}", opts.connector, list.list_id)
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '-' })
                    .collect::<String>();
                let entries: Vec<super::reference::Entry> = list
                    .entries
                    .iter()
                    .map(|e| super::reference::Entry {
                        code: e.code.clone(),
                        name: e.name.clone(),
                        parent: e.parent.clone(),
                        extra: e.extra.iter().map(|a| (a.code.clone(), a.value.clone())).collect(),
                    })
                    .collect();
                let note = list.version.as_deref().map(|v| format!("версия источника {v}"));
                super::reference::insert_version(&mut *conn, &list_id, &entries, &opts.connector, note.as_deref())
                    .await?;
            }
            _ => {}
        }
    }
    Ok(records.iter().filter_map(|r| other_outcome(file, r)).collect())
}

/// Writes one parsed file in the group's transaction. With `atomic`, the file has a savepoint of its
/// own and a storage failure rejects just this file; without, a failure asks for the group to be
/// replayed ([`Written::Replay`]), which saves two round trips per file in the usual case.
async fn write_file(
    conn: &mut sqlx::AnyConnection,
    file: &ParsedFile,
    atomic: bool,
    outcomes: &mut Outcomes,
    received_at: &str,
    opts: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Written> {
    let Some(records) = accept(file, outcomes, opts, report) else {
        return Ok(Written::Done);
    };
    let name = file.input.name.clone();
    if atomic {
        sqlx::query("SAVEPOINT import_file").execute(&mut *conn).await?;
    }
    let mut rows = Vec::new();
    let mark = ReportMark::of(report);
    // One statement stores the source or finds it already there (then every IPRA is unchanged).
    let stored = store::insert_source(&mut *conn, &source_document(file, received_at, opts)).await?;
    match stored {
        None => {
            for record in records {
                if let ParsedRecord::Ipra { locator, .. } = record {
                    report.unchanged += 1;
                    rows.push(OutcomeRow {
                        record: locator.clone(),
                        outcome: "unchanged",
                        ipra_id: None,
                        error: None,
                    });
                }
            }
        }
        Some(source_id) => {
            // IPRA first, so that reports carried in the same extract find their IPRA.
            for record in records {
                if let ParsedRecord::Ipra {
                    locator,
                    ipra,
                    measures,
                    follow_ups,
                } = record
                {
                    let outcome =
                        store_ipra_record(&mut *conn, ipra, measures, follow_ups, source_id, received_at).await;
                    let (label, id) = match outcome {
                        Ok(outcome) => count_outcome(&outcome, report),
                        Err(_) if !atomic => return Ok(Written::Replay),
                        // SQLite has rolled the whole transaction back by itself: the statements
                        // after it would run outside any transaction (and fail on foreign keys,
                        // hiding the cause). The batch stops here, named for what it is.
                        Err(e) if crate::db::storage::is_full(&e) => return Err(e),
                        Err(e) => {
                            sqlx::query("ROLLBACK TO SAVEPOINT import_file")
                                .execute(&mut *conn)
                                .await?;
                            sqlx::query("RELEASE SAVEPOINT import_file").execute(&mut *conn).await?;
                            mark.restore(report);
                            let message = format!("выписка не сохранена: ошибка базы данных: {e:#}");
                            let rejected = Rejection {
                                file: name.clone(),
                                record: Some(locator.clone()),
                                field: None,
                                code: "storage-failed".into(),
                                message,
                            };
                            reject(&file.input, outcomes, vec![rejected], opts, report);
                            return Ok(Written::Done);
                        }
                    };
                    rows.push(OutcomeRow {
                        record: locator.clone(),
                        outcome: label,
                        ipra_id: Some(id),
                        error: None,
                    });
                }
            }
            rows.extend(store_other_records(conn, file, records, source_id, opts).await?);
        }
    }
    if atomic {
        sqlx::query("RELEASE SAVEPOINT import_file").execute(&mut *conn).await?;
    }
    outcomes.push(&name, rows);
    Ok(Written::Done)
}

/// Stores one IPRA with what follows from it: carry-over from the IPRA it supersedes and the
/// departments' follow-ups (IPPSU drafts, social-service recipients, …).
async fn store_ipra_record(
    conn: &mut sqlx::AnyConnection,
    ipra: &model::IpraExtract,
    measures: &[PreparedMeasure],
    follow_ups: &[(String, model::FollowUp)],
    source_id: i64,
    received_at: &str,
) -> Result<IpraOutcome> {
    let outcome = store::store_ipra(conn, ipra, measures, source_id, received_at).await?;
    let id = match outcome {
        IpraOutcome::Unchanged { .. } => return Ok(outcome),
        IpraOutcome::Imported { id, superseded } => {
            if let Some(old) = superseded {
                super::execution::carry_over(conn, old, id).await?;
            }
            id
        }
        IpraOutcome::ImportedAsSuperseded { id, .. } => id,
    };
    store::store_follow_ups(conn, id, follow_ups, received_at).await?;
    Ok(outcome)
}

/// The outcome rows of a batch of files, kept until the batch commits and then inserted a few
/// statements at a time (a round trip per file was a tenth of the writer's time).
struct Outcomes {
    /// `None` in a dry run: nothing is written.
    run_id: Option<i64>,
    rows: Vec<(String, OutcomeRow)>,
}

/// Rows per INSERT of outcomes: few statement shapes for the statement cache, few round trips.
const OUTCOME_CHUNK: usize = 64;
const OUTCOME_COLUMNS: usize = 8;

impl Outcomes {
    fn push(&mut self, file: &str, rows: Vec<OutcomeRow>) {
        if self.run_id.is_some() {
            self.rows.extend(rows.into_iter().map(|row| (file.to_string(), row)));
        }
    }

    /// Inserts the rows kept so far, in the batch's transaction.
    async fn flush(&mut self, conn: &mut sqlx::AnyConnection) -> Result<()> {
        let Some(run_id) = self.run_id else {
            return Ok(());
        };
        let rows = std::mem::take(&mut self.rows);
        for range in store::chunks(rows.len(), OUTCOME_CHUNK) {
            let chunk = &rows[range];
            let sql = store::multi_row_insert(
                conn,
                "INSERT INTO import_outcomes (run_id, file, record, outcome, ipra_id, code, field, message) VALUES ",
                chunk.len(),
                OUTCOME_COLUMNS,
            );
            let mut query = sqlx::query(&sql);
            for (file, row) in chunk {
                let error = row.error.as_ref();
                query = query
                    .bind(run_id)
                    .bind(file.as_str())
                    .bind(&row.record)
                    .bind(row.outcome)
                    .bind(row.ipra_id)
                    .bind(error.map(|e| e.code.as_str()))
                    .bind(error.and_then(|e| e.field.as_deref()))
                    .bind(error.map(|e| e.message.as_str()));
            }
            query.execute(&mut *conn).await?;
        }
        Ok(())
    }
}

/// Records a rejected file: outcome rows, a copy in quarantine with the reasons, the report.
fn reject(
    input: &InputFile,
    outcomes: &mut Outcomes,
    errors: Vec<Rejection>,
    opts: &ImportOptions,
    report: &mut ImportReport,
) {
    let rows: Vec<OutcomeRow> = errors
        .iter()
        .map(|e| OutcomeRow {
            record: e.record.clone().unwrap_or_default(),
            outcome: "rejected",
            ipra_id: None,
            error: Some(e.clone()),
        })
        .collect();
    outcomes.push(&input.name, rows);
    if let (Some(quarantine), false) = (&opts.quarantine, opts.dry_run) {
        if let Err(e) = quarantine.keep(input, outcomes.run_id, &errors) {
            tracing::error!(file = %input.name, "could not quarantine the rejected file: {e:#}");
        }
    }
    report.rejected.extend(errors);
    report.rejected_files += 1;
}
