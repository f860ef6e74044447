//! `ipra-fuzz`: runs the fuzz targets on mutations of the real public samples for a while and
//! keeps every input that panics or takes too long (a hang, a quadratic blow-up).
//!
//! ```sh
//! cargo run -p ipra-fuzz --profile fuzz -- --target all --seconds 600   # a long run
//! cargo run -p ipra-fuzz --profile fuzz -- --target fri --seconds 60 --seed 7
//! cargo run -p ipra-fuzz --profile fuzz -- --replay target/fuzz-findings/fri-….bin
//! ```
//!
//! Exit status 1 when anything was found; the inputs are in `target/fuzz-findings/` (or `--out`).

use ipra_fuzz::mutate::{mutate, Rng};
use ipra_fuzz::targets::TARGETS;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Larger inputs are not tried: the host refuses documents above a plugin's memory anyway.
const MAX_INPUT: usize = 4 * 1024 * 1024;
/// An input slower than this is kept as a finding (a quadratic path, a near-hang).
const SLOW: Duration = Duration::from_secs(3);
/// An input still running after this is a hang: it is written out and the process exits.
const HANG: Duration = Duration::from_secs(20);

struct Args {
    targets: Vec<String>,
    seconds: u64,
    seed: u64,
    out: PathBuf,
    replay: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        targets: Vec::new(),
        seconds: 10,
        seed: 1,
        out: PathBuf::from("target/fuzz-findings"),
        replay: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag}: нужно значение"));
        match flag.as_str() {
            "--target" => a.targets.push(value()?),
            "--seconds" => a.seconds = value()?.parse().map_err(|_| "--seconds: число секунд".to_string())?,
            "--seed" => a.seed = value()?.parse().map_err(|_| "--seed: число".to_string())?,
            "--out" => a.out = PathBuf::from(value()?),
            "--replay" => a.replay = Some(PathBuf::from(value()?)),
            other => {
                return Err(format!(
                    "неизвестный параметр {other}: --target ИМЯ|all, --seconds N, --seed S, --out DIR, --replay FILE"
                ))
            }
        }
    }
    if a.targets.is_empty() || a.targets.iter().any(|t| t == "all") {
        a.targets = TARGETS.iter().map(|(n, _)| n.to_string()).collect();
    }
    if let Some(bad) = a.targets.iter().find(|t| !TARGETS.iter().any(|(n, _)| n == t)) {
        let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
        return Err(format!("цель «{bad}» неизвестна: {}", names.join(", ")));
    }
    Ok(a)
}

/// The samples a target starts from: the public ones in `../shared/formats/` beside the workspace,
/// or, for the exchanges that have no public schema (ИС МСЭ, АИС СОН), the documents their
/// connectors keep in `plugins/<id>/fixtures/`.
fn seeds(target: &str) -> Vec<Vec<u8>> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let folder = match target {
        "zags" | "egisso" => here.join("../../shared/formats").join(target),
        "mse" | "aisson" => here.join("../plugins").join(target).join("fixtures"),
        _ => here.join("../../shared/formats/fri"),
    };
    let mut files = Vec::new();
    collect(&folder, &mut files);
    files.sort();
    let mut seeds: Vec<Vec<u8>> = files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|b| b.len() <= MAX_INPUT)
        .collect();
    if target == "zip" {
        // Archives of the samples, as extracts arrive zipped.
        let zipped: Vec<Vec<u8>> = seeds
            .chunks(3)
            .map(|chunk| {
                let names: Vec<String> = (0..chunk.len()).map(|i| format!("extract-{i}.xml")).collect();
                let entries: Vec<(&str, &[u8])> = names
                    .iter()
                    .map(String::as_str)
                    .zip(chunk.iter().map(Vec::as_slice))
                    .collect();
                ipra_plugin_sdk::archive::write_zip(&entries)
            })
            .collect();
        seeds = zipped;
    }
    if seeds.is_empty() {
        seeds.push(b"<?xml version=\"1.0\"?><a/>".to_vec());
    }
    seeds
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "xml") {
            out.push(path);
        }
    }
}

fn save(out: &Path, target: &str, kind: &str, input: &[u8]) -> PathBuf {
    let _ = std::fs::create_dir_all(out);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = out.join(format!("{target}-{kind}-{hash:016x}.bin"));
    let _ = std::fs::write(&path, input);
    path
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("ошибка: {e}");
            std::process::exit(2);
        }
    };
    // Panics are findings, reported once per input below, not printed by the default hook.
    let last_panic = Arc::new(Mutex::new(String::new()));
    {
        let last_panic = last_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            *last_panic.lock().unwrap_or_else(|e| e.into_inner()) = info.to_string();
        }));
    }
    if let Some(file) = &args.replay {
        let input = std::fs::read(file).unwrap_or_default();
        for target in &args.targets {
            let run = TARGETS
                .iter()
                .find(|(n, _)| n == target)
                .map(|(_, f)| *f)
                .unwrap_or(|_| {});
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| run(&input));
            println!(
                "{target}: {} за {:?}",
                if outcome.is_ok() {
                    "без паники"
                } else {
                    "ПАНИКА"
                },
                start.elapsed()
            );
        }
        return;
    }
    // The watchdog: an input that never ends is written out before the process gives up.
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::new(Mutex::new((String::new(), Vec::new())));
    let started_at = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let (current, started_at, out) = (current.clone(), started_at.clone(), args.out.clone());
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(500));
            let since = started_at.load(Ordering::Relaxed);
            if since != 0 && epoch.elapsed().as_millis() as u64 - since > HANG.as_millis() as u64 {
                let (target, input) = current.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let path = save(&out, &target, "hang", &input);
                eprintln!("ЗАВИСАНИЕ: {target}, вход сохранён в {}", path.display());
                std::process::exit(1);
            }
        });
    }
    let per_target = Duration::from_secs(args.seconds.max(1)) / args.targets.len().max(1) as u32;
    let mut findings = 0usize;
    let mut total = 0u64;
    for (k, target) in args.targets.iter().enumerate() {
        let run = TARGETS
            .iter()
            .find(|(n, _)| n == target)
            .map(|(_, f)| *f)
            .expect("known target");
        let seeds = seeds(target);
        let mut rng = Rng::new(args.seed.wrapping_mul(0x9E37_79B9).wrapping_add(k as u64 + 1));
        let until = Instant::now() + per_target;
        let mut runs = 0u64;
        let mut found_here = 0usize;
        // The seeds themselves first, then mutants.
        let mut queue: Vec<Vec<u8>> = seeds.clone();
        while Instant::now() < until || !queue.is_empty() {
            let input = match queue.pop() {
                Some(seed) => seed,
                None => {
                    let a = &seeds[rng.below(seeds.len())];
                    let b = &seeds[rng.below(seeds.len())];
                    mutate(&mut rng, a, b, MAX_INPUT)
                }
            };
            *current.lock().unwrap_or_else(|e| e.into_inner()) = (target.clone(), input.clone());
            started_at.store(epoch.elapsed().as_millis().max(1) as u64, Ordering::Relaxed);
            let start = Instant::now();
            let outcome = std::panic::catch_unwind(|| run(&input));
            let took = start.elapsed();
            started_at.store(0, Ordering::Relaxed);
            runs += 1;
            if outcome.is_err() {
                let path = save(&args.out, target, "panic", &input);
                let message = last_panic.lock().unwrap_or_else(|e| e.into_inner()).clone();
                eprintln!("ПАНИКА в {target}: {message}\n  вход: {}", path.display());
                found_here += 1;
            } else if took > SLOW {
                let path = save(&args.out, target, "slow", &input);
                eprintln!(
                    "МЕДЛЕННО в {target}: {took:?} на {} байт\n  вход: {}",
                    input.len(),
                    path.display()
                );
                found_here += 1;
            }
            if found_here >= 10 {
                break;
            }
        }
        println!("{target}: {runs} входов, находок {found_here}");
        findings += found_here;
        total += runs;
    }
    println!("всего {total} входов, находок {findings}");
    if findings > 0 {
        std::process::exit(1);
    }
}
