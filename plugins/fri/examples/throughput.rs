//! Native parse speed of the FRI import over the public samples: `cargo run --release -p ipra-plugin-fri
//! --example throughput [SECONDS]`. Prints MiB/s of input; the host's `ipra bench import` compares it with WASM.

use ipra_plugin_fri::import_document;
use ipra_plugin_sdk::bindings::ipra::plugin::types::Document;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seconds: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/formats/fri/samples/yuryzje");
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        documents.push(Document {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            media_type: "application/xml".to_string(),
            bytes: std::fs::read(&path)?,
        });
    }
    let bytes_per_round: usize = documents.iter().map(|d| d.bytes.len()).sum();
    let (mut rounds, mut records, start) = (0u64, 0usize, Instant::now());
    while start.elapsed() < Duration::from_secs_f64(seconds) {
        for document in &documents {
            if let Ok(output) = import_document(document) {
                records += std::hint::black_box(output.records.len());
            }
        }
        rounds += 1;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mib = (bytes_per_round as f64 * rounds as f64) / (1024.0 * 1024.0);
    println!(
        "{} samples, {:.1} KiB per round, {rounds} rounds, {records} records: {:.0} MiB/s, {:.0} extracts/s (1 core)",
        documents.len(),
        bytes_per_round as f64 / 1024.0,
        mib / elapsed,
        (documents.len() as f64 * rounds as f64) / elapsed
    );
    Ok(())
}
