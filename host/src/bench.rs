//! `ipra bench import`: the end-to-end import rate against the native parse-only rate of the same
//! files in the same run, WASM vs native parse of the same parser, per-call overhead, peak RSS. The
//! extracts are generated as the import consumes them, so any count runs in bounded disk and memory.

use crate::app::App;
use crate::plugins::model;
use crate::plugins::{LoadedPlugin, PluginHost};
use crate::register::import::{self, ImportOptions, InputFile};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Serialize)]
pub struct ImportBench {
    pub count: usize,
    pub database: &'static str,
    pub total_mib: f64,
    pub extracts_per_s: f64,
    pub mib_per_s: f64,
    /// The baseline: quick-xml reading every record of every file into memory, one core.
    pub native_parse_per_s: f64,
    pub native_parse_mib_per_s: f64,
    /// End to end over native parse-only (target ≥ 0.5).
    pub ratio: f64,
    /// The FRI connector's own parser (reading and normalising every record) compiled natively, one
    /// core: a stricter baseline than plain quick-xml, since it does all of the connector's work.
    pub fri_native_parse_per_s: f64,
    /// End to end over the FRI parser's native rate.
    pub ratio_vs_fri_native: f64,
    /// WASM parse time over native parse time of the same files by the same parser (target ≤ 2): the
    /// sandbox's cost alone.
    pub wasm_vs_native_parse: f64,
    pub wasm_parse_mib_per_s: f64,
    /// WASM parse time over the quick-xml baseline's time for as many bytes (`native_parse_per_s`).
    pub wasm_vs_quick_xml_parse: f64,
    /// Mean cost of one small plugin call (fresh store and instance + `describe`).
    pub plugin_call_us: f64,
    pub peak_rss_mib: f64,
    pub imported: u64,
    pub rejected: usize,
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Peak resident set size of this process (VmHWM), in MiB.
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Extracts generated at a time into the bench's folder: the import reads them there, and the next
/// ones are generated once these are stored (≈ 140 MiB of files at a time, whatever the count).
const RING: usize = 1000;
/// Files of the WASM vs native parse sample.
const SAMPLE: usize = 400;

pub async fn import(app: &App, count: usize, seed: u64, json: bool) -> Result<()> {
    let dir = app.data_dir.join(format!("bench-{}", std::process::id()));
    if !json {
        eprintln!(
            "{count} выписок: генерируются по {RING} в {} по мере импорта …",
            dir.display()
        );
    }
    let result = measure(app, &dir, count, seed).await;
    std::fs::remove_dir_all(&dir).ok();
    let bench = result?;
    if json {
        println!("{}", serde_json::to_string(&bench)?);
    } else {
        println!(
            "Импорт {} выписок ({:.1} МиБ), база {}:",
            bench.count, bench.total_mib, bench.database
        );
        println!(
            "  сквозной импорт:        {:>9.0} выписок/с  {:>7.1} МиБ/с",
            bench.extracts_per_s, bench.mib_per_s
        );
        println!(
            "  только разбор (quick-xml, натив): {:>5.0} выписок/с  {:>7.1} МиБ/с  (1 ядро)",
            bench.native_parse_per_s, bench.native_parse_mib_per_s
        );
        println!("  отношение сквозной/разбор: {:.2} (цель ≥ 0,5)", bench.ratio);
        println!(
            "  разбор коннектором ФРИ (натив): {:>5.0} выписок/с  (1 ядро; сквозной/он: {:.2})",
            bench.fri_native_parse_per_s, bench.ratio_vs_fri_native
        );
        println!(
            "  разбор в WASM / натив:     {:.2} (цель ≤ 2; WASM {:.1} МиБ/с; тот же разборщик)",
            bench.wasm_vs_native_parse, bench.wasm_parse_mib_per_s
        );
        println!(
            "  разбор в WASM / quick-xml (натив): {:.2}",
            bench.wasm_vs_quick_xml_parse
        );
        println!(
            "  накладные расходы вызова плагина: {:.1} мкс (цель ≤ 50)",
            bench.plugin_call_us
        );
        println!("  пиковая память (RSS): {:.1} МиБ (цель ≤ 256)", bench.peak_rss_mib);
        println!("  загружено {}, отклонено {}", bench.imported, bench.rejected);
    }
    Ok(())
}

/// What the generating side measured: the native parses of every extract, the WASM sample, and the
/// time the import was given each round of files until it had stored them.
#[derive(Default)]
struct Feeding {
    files: usize,
    total_bytes: u64,
    native_time: Duration,
    fri_native_time: Duration,
    wasm_time: Duration,
    native_sample_time: Duration,
    sample_bytes: u64,
    sample_files: usize,
    import_time: Duration,
    /// When the last file was stored and the stream ended.
    fed_all: Option<Instant>,
}

/// How far the import has got: files written, and whether it has ended.
#[derive(Default)]
struct Progress {
    written: u64,
    ended: bool,
}

type Shared = Arc<(Mutex<Progress>, Condvar)>;

fn notify(shared: &Shared, change: impl FnOnce(&mut Progress)) {
    let (lock, ready) = &**shared;
    change(&mut lock.lock().unwrap_or_else(|e| e.into_inner()));
    ready.notify_all();
}

async fn measure(app: &App, dir: &Path, count: usize, seed: u64) -> Result<ImportBench> {
    let connector = app.plugins.connector_reading("ipra-extract")?;

    // Per-call overhead: a small call into a fresh instance.
    let calls = 2000;
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(app.plugins.describe(&connector).is_ok());
    }
    let plugin_call_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(calls);

    // End to end: files → plugin → register, both cores, one import run fed as the files are made.
    // Rounds of RING extracts: each is generated and parsed natively while the import waits for it
    // (its clock stopped), then handed to the import, and the clock runs until the import has
    // stored it all.
    let (files_tx, files_rx) = std::sync::mpsc::sync_channel::<InputFile>(RING);
    let shared: Shared = Arc::default();
    let mut opts = ImportOptions::new("bench", false);
    opts.connector = connector.id().to_string();
    opts.quarantine = Some(crate::exchange::files::QuarantineFolder::shared(app.quarantine_dir()));
    let progress = shared.clone();
    opts.progress = Some(Arc::new(move |written| notify(&progress, |p| p.written = written)));
    let (db, plugins, reference) = (app.db.clone(), app.plugins.clone(), app.reference());
    let ended = shared.clone();
    let import = tokio::spawn(async move {
        let report = import::run_stream(&db, &plugins, &reference, Box::new(files_rx.into_iter()), &opts).await;
        notify(&ended, |p| p.ended = true);
        report.map(|report| (report, Instant::now()))
    });
    let (plugins, dir) = (app.plugins.clone(), dir.to_path_buf());
    let feeding = tokio::task::spawn_blocking(move || feed(&plugins, &connector, &dir, count, seed, files_tx, &shared));
    let feeding = feeding.await?;
    let (report, import_ended) = import.await??;
    let mut fed = feeding?;
    // The import's last steps after the files were stored (its run recorded) count too.
    if let Some(fed_all) = fed.fed_all {
        fed.import_time += import_ended.saturating_duration_since(fed_all);
    }

    let n = fed.files as f64;
    let total_bytes = fed.total_bytes;
    let e2e = fed.import_time.as_secs_f64().max(1e-9);
    let native_s = fed.native_time.as_secs_f64().max(1e-9);
    let native_parse_per_s = n / native_s;
    let extracts_per_s = n / e2e;
    Ok(ImportBench {
        count: fed.files,
        database: app.db.engine.name(),
        total_mib: mib(total_bytes),
        extracts_per_s,
        mib_per_s: mib(total_bytes) / e2e,
        native_parse_per_s,
        native_parse_mib_per_s: mib(total_bytes) / native_s,
        ratio: extracts_per_s / native_parse_per_s,
        fri_native_parse_per_s: n / fed.fri_native_time.as_secs_f64().max(1e-9),
        ratio_vs_fri_native: extracts_per_s * fed.fri_native_time.as_secs_f64() / n,
        wasm_vs_native_parse: fed.wasm_time.as_secs_f64() / fed.native_sample_time.as_secs_f64().max(1e-9),
        wasm_parse_mib_per_s: mib(fed.sample_bytes) / fed.wasm_time.as_secs_f64().max(1e-9),
        wasm_vs_quick_xml_parse: (fed.wasm_time.as_secs_f64() / fed.sample_bytes.max(1) as f64)
            / (native_s / total_bytes.max(1) as f64),
        plugin_call_us,
        peak_rss_mib: peak_rss_mib(),
        imported: report.imported,
        rejected: report.rejected.len(),
    })
}

/// Generates the extracts round by round into `dir`, measures the native parses of each (and the
/// WASM sample), hands each round to the import and waits until it is stored.
fn feed(
    plugins: &PluginHost,
    connector: &Arc<LoadedPlugin>,
    dir: &Path,
    count: usize,
    seed: u64,
    files: std::sync::mpsc::SyncSender<InputFile>,
    shared: &Shared,
) -> Result<Feeding> {
    let mut fed = Feeding::default();
    let mut native = Native::start()?;
    let mut extracts = ipra_demo::extracts(&ipra_demo::DemoOptions {
        count,
        seed,
        ..Default::default()
    });
    let mut round: Vec<PathBuf> = Vec::with_capacity(RING);
    loop {
        for path in round.drain(..) {
            std::fs::remove_file(&path).ok();
        }
        std::fs::create_dir_all(dir).with_context(|| format!("создание каталога {}", dir.display()))?;
        for extract in extracts.by_ref().take(RING) {
            let path = dir.join(&extract.file_name);
            std::fs::write(&path, &extract.xml).with_context(|| format!("запись {}", path.display()))?;
            measure_parses(
                &mut native,
                plugins,
                connector,
                &path,
                &extract.file_name,
                extract.xml,
                &mut fed,
            )
            .with_context(|| format!("{}", path.display()))?;
            round.push(path);
        }
        if round.is_empty() {
            break;
        }
        let start = Instant::now();
        for path in &round {
            if files.send(InputFile::from_path(path.clone())).is_err() {
                anyhow::bail!("импорт остановился раньше времени");
            }
        }
        fed.files += round.len();
        let (lock, ready) = &**shared;
        let mut progress = lock.lock().unwrap_or_else(|e| e.into_inner());
        while progress.written < fed.files as u64 && !progress.ended {
            progress = ready.wait(progress).unwrap_or_else(|e| e.into_inner());
        }
        fed.import_time += start.elapsed();
        if progress.ended {
            break;
        }
    }
    fed.fed_all = Some(Instant::now());
    Ok(fed)
}

/// The native baselines, timed in a process of their own (`ipra-bench-native`, built beside `ipra`):
/// the server depends on no plugin crate, so the FRI parser's native build lives there.
struct Native {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: std::io::BufReader<std::process::ChildStdout>,
}

impl Native {
    fn start() -> Result<Native> {
        let program = match std::env::var_os("IPRA_BENCH_NATIVE") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe()?.with_file_name("ipra-bench-native"),
        };
        let mut child = std::process::Command::new(&program)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .with_context(|| {
                format!(
                    "не запущен {} — native-замеры делает отдельная программа: \
                     cargo build --release -p ipra-bench-native (или путь в IPRA_BENCH_NATIVE)",
                    program.display()
                )
            })?;
        let input = child.stdin.take().context("нет stdin у ipra-bench-native")?;
        let output = std::io::BufReader::new(child.stdout.take().context("нет stdout у ipra-bench-native")?);
        Ok(Native { child, input, output })
    }

    /// One question, one line of numbers back.
    fn ask(&mut self, command: &str, path: &Path) -> Result<Vec<u64>> {
        use std::io::{BufRead, Write};
        writeln!(self.input, "{command} {}", path.display())?;
        self.input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            anyhow::bail!("ipra-bench-native завершился");
        }
        if let Some(error) = line.trim_end().strip_prefix("error ") {
            anyhow::bail!("{error}");
        }
        line.split_whitespace()
            .map(|n| {
                n.parse::<u64>()
                    .with_context(|| format!("ответ ipra-bench-native: {line}"))
            })
            .collect()
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Times the native parses of one extract — quick-xml reading every record (the baseline), the FRI
/// connector's parser compiled natively — and, for the first [`SAMPLE`] files, WASM vs native parse
/// by the same parser: each three times each way, alternately, the fastest of each kept (on a shared
/// machine a single timing of a call is as much the neighbours' as the parser's).
fn measure_parses(
    native: &mut Native,
    plugins: &PluginHost,
    connector: &Arc<LoadedPlugin>,
    path: &Path,
    name: &str,
    bytes: Vec<u8>,
    fed: &mut Feeding,
) -> Result<()> {
    let &[quick, fri, len] = native.ask("both", path)?.as_slice() else {
        anyhow::bail!("ipra-bench-native: ожидались три числа");
    };
    fed.total_bytes += len;
    fed.native_time += Duration::from_nanos(quick);
    fed.fri_native_time += Duration::from_nanos(fri);

    if fed.sample_files >= SAMPLE {
        return Ok(());
    }
    fed.sample_files += 1;
    fed.sample_bytes += len;
    let mut bytes = bytes;
    let (mut native_best, mut wasm_best) = (Duration::MAX, Duration::MAX);
    for _ in 0..3 {
        let &[fri] = native.ask("parser", path)?.as_slice() else {
            anyhow::bail!("ipra-bench-native: ожидалось одно число");
        };
        native_best = native_best.min(Duration::from_nanos(fri));
        // The WASM side as an import runs it: the host's UTF-8 check of the document (which the
        // native parse does itself) and the call. The bytes are lent to the call and taken back.
        let start = Instant::now();
        let mut input = model::ImportInput::Document(crate::plugins::incoming_document(
            name.to_string(),
            "application/xml",
            bytes,
        ));
        let out = plugins.import_keeping(connector, &mut input);
        wasm_best = wasm_best.min(start.elapsed());
        std::hint::black_box(matches!(out, Ok(Ok(_))));
        let model::ImportInput::Document(doc) = input else {
            unreachable!("built as a document above")
        };
        bytes = doc.bytes;
    }
    fed.native_sample_time += native_best;
    fed.wasm_time += wasm_best;
    Ok(())
}
