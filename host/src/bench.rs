//! `ipra bench import`: the end-to-end import rate against the native parse-only rate of the same
//! files in the same run, WASM vs native parse of the same parser, per-call overhead, peak RSS.

use crate::app::App;
use crate::plugins::runtime::wit;
use crate::register::import::{self, ImportOptions};
use anyhow::{Context, Result};
use ipra_plugin_sdk::bindings::ipra::plugin::types as guest;
use serde::Serialize;
use std::path::{Path, PathBuf};
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
    /// End to end over native parse-only (target ≥ 0.35).
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

fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    Ok(files)
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

fn document(path: &Path) -> Result<wit::Document> {
    Ok(wit::Document {
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        media_type: "application/xml".into(),
        bytes: std::fs::read(path)?,
    })
}

/// One element of a record as the baseline reads it: name, attributes and text, all owned.
#[derive(Default)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
}

/// Reads one element (name and attributes) into the record it belongs to: elements at the root and
/// just under it start a record, deeper ones join the current one.
fn read_element(records: &mut Vec<Vec<Node>>, depth: usize, start: &quick_xml::events::BytesStart) -> Result<()> {
    let mut node = Node {
        name: start.name().as_ref().to_string(),
        ..Node::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute?;
        node.attributes.push((
            attribute.key.as_ref().to_string(),
            attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)?
                .into_owned(),
        ));
    }
    if depth <= 1 {
        records.push(Vec::new());
    }
    if let Some(record) = records.last_mut() {
        record.push(node);
    }
    Ok(())
}

/// The native baseline: quick-xml reading every record (every element under the root, with
/// its attributes and unescaped text) of one document into memory. Returns the elements read.
fn quick_xml_records(bytes: &[u8]) -> Result<Vec<Vec<Node>>> {
    use quick_xml::events::Event;
    let text = ipra_plugin_sdk::xml::decode_document(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut records: Vec<Vec<Node>> = Vec::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event()? {
            Event::Start(start) => {
                read_element(&mut records, depth, &start)?;
                depth += 1;
            }
            Event::Empty(start) => read_element(&mut records, depth, &start)?,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                // Indentation between elements is no part of a record.
                if t.as_ref().bytes().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                if let Some(node) = records.last_mut().and_then(|r| r.last_mut()) {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(node) = records.last_mut().and_then(|r| r.last_mut()) {
                    if r.is_char_ref() {
                        node.text.extend(r.resolve_char_ref()?);
                    } else {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_xml_entity(&name) {
                            Some(value) => node.text.push_str(value),
                            None => anyhow::bail!("неизвестная сущность «&{name};»"),
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(records)
}

fn native_document(doc: &wit::Document) -> guest::Document {
    guest::Document {
        name: doc.name.clone(),
        media_type: doc.media_type.clone(),
        bytes: doc.bytes.clone(),
    }
}

pub async fn import(app: &App, count: usize, seed: u64, json: bool) -> Result<()> {
    let dir = app.data_dir.join(format!("bench-{}", std::process::id()));
    if !json {
        eprintln!("генерация {count} выписок в {} …", dir.display());
    }
    crate::demo::write_files(&dir, count, seed)?;
    let files = files_in(&dir)?;
    let result = measure(app, &dir, &files).await;
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
        println!("  отношение сквозной/разбор: {:.2} (цель ≥ 0,35)", bench.ratio);
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

async fn measure(app: &App, dir: &Path, files: &[PathBuf]) -> Result<ImportBench> {
    let connector = app.plugins.get("fri").context("нет коннектора ФРИ")?;

    // 1. Native parse-only of every file, one core, no plugin, no database: quick-xml reading every
    // record into memory (the baseline), and the FRI connector's own parser compiled natively.
    let (mut native_time, mut fri_native_time) = (Duration::ZERO, Duration::ZERO);
    let mut total_bytes = 0u64;
    for path in files {
        let doc = native_document(&document(path)?);
        total_bytes += doc.bytes.len() as u64;
        let start = Instant::now();
        let records = quick_xml_records(&doc.bytes).with_context(|| format!("{}", path.display()))?;
        native_time += start.elapsed();
        // Every element read, to be sure nothing was skipped.
        let elements: usize = records
            .iter()
            .map(|r| r.iter().filter(|n| !n.name.is_empty()).count())
            .sum();
        std::hint::black_box(elements);
        drop(records);
        let start = Instant::now();
        let parsed = ipra_plugin_fri::import_document(&doc);
        fri_native_time += start.elapsed();
        std::hint::black_box(parsed.is_ok());
    }

    // 2. WASM vs native parse of the same sample of files, both through one call each. Each file is
    // parsed three times each way, alternately, and the fastest of each kept: on a shared machine a
    // single timing of a call is as much the neighbours' as the parser's.
    let sample: Vec<&PathBuf> = files.iter().take(400).collect();
    let (mut wasm_time, mut native_sample_time, mut sample_bytes) = (Duration::ZERO, Duration::ZERO, 0u64);
    for path in &sample {
        let doc = document(path)?;
        sample_bytes += doc.bytes.len() as u64;
        let native = native_document(&doc);
        let (name, mut bytes) = (doc.name, doc.bytes);
        let (mut native_best, mut wasm_best) = (Duration::MAX, Duration::MAX);
        for _ in 0..3 {
            let start = Instant::now();
            std::hint::black_box(ipra_plugin_fri::import_document(&native).is_ok());
            native_best = native_best.min(start.elapsed());
            // The WASM side as an import runs it: the host's UTF-8 check of the document (which the
            // native parse does itself) and the call.
            let start = Instant::now();
            let input = wit::ImportInput::Document(crate::plugins::incoming_document(
                name.clone(),
                "application/xml",
                bytes,
            ));
            let out = app.plugins.import(&connector, &input);
            wasm_best = wasm_best.min(start.elapsed());
            std::hint::black_box(matches!(out, Ok(Ok(_))));
            let wit::ImportInput::Document(doc) = input else {
                unreachable!("built as a document above")
            };
            bytes = doc.bytes;
        }
        native_sample_time += native_best;
        wasm_time += wasm_best;
    }

    // 3. Per-call overhead: a small call into a fresh instance.
    let calls = 2000;
    let start = Instant::now();
    for _ in 0..calls {
        std::hint::black_box(app.plugins.describe(&connector).is_ok());
    }
    let plugin_call_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(calls);

    // 4. End to end: files → plugin → register, both cores.
    let (inputs, _) = import::collect_inputs(&[dir.to_path_buf()]);
    let mut opts = ImportOptions::new("bench", false);
    opts.quarantine_dir = Some(app.quarantine_dir());
    let start = Instant::now();
    let report = import::run(&app.db, &app.plugins, &app.reference(), inputs, &opts).await?;
    let e2e = start.elapsed().as_secs_f64();

    let n = files.len() as f64;
    let native_s = native_time.as_secs_f64().max(1e-9);
    let native_parse_per_s = n / native_s;
    let extracts_per_s = n / e2e;
    Ok(ImportBench {
        count: files.len(),
        database: app.db.engine.name(),
        total_mib: mib(total_bytes),
        extracts_per_s,
        mib_per_s: mib(total_bytes) / e2e,
        native_parse_per_s,
        native_parse_mib_per_s: mib(total_bytes) / native_s,
        ratio: extracts_per_s / native_parse_per_s,
        fri_native_parse_per_s: n / fri_native_time.as_secs_f64().max(1e-9),
        ratio_vs_fri_native: extracts_per_s * fri_native_time.as_secs_f64() / n,
        wasm_vs_native_parse: wasm_time.as_secs_f64() / native_sample_time.as_secs_f64().max(1e-9),
        wasm_parse_mib_per_s: mib(sample_bytes) / wasm_time.as_secs_f64().max(1e-9),
        wasm_vs_quick_xml_parse: (wasm_time.as_secs_f64() / sample_bytes.max(1) as f64)
            / (native_s / total_bytes.max(1) as f64),
        plugin_call_us,
        peak_rss_mib: peak_rss_mib(),
        imported: report.imported,
        rejected: report.rejected.len(),
    })
}
