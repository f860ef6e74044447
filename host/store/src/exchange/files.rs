//! Documents as files: the folders and files given to `ipra import` or uploaded, walked into the
//! import's inputs, and the quarantine folder where a refused document is kept with its reasons.
//! The register reads what it is handed; finding files and keeping refused ones is this side's.

use crate::app::App;
use crate::register::import::{ImportOptions, ImportReport, InputFile, Quarantine, Rejection};
use anyhow::Result;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Told how many files were written so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Imports files and folders (CLI, demo, upload) through the one way in, refused documents kept in
/// the data directory's quarantine. `progress` is asked once, with the number of files found, for
/// what to tell as they are written.
pub async fn import_paths(
    app: &App,
    paths: &[PathBuf],
    dry_run: bool,
    origin: &str,
    connector: Option<&str>,
    progress: &(dyn Fn(usize) -> Option<Progress> + Sync),
) -> Result<ImportReport> {
    let (files, missing) = collect(paths);
    let mut opts = ImportOptions::new(origin, dry_run);
    opts.connector = match connector {
        Some(id) => id.to_string(),
        None => app.plugins.connector_reading("ipra-extract")?.id().to_string(),
    };
    opts.quarantine = Some(QuarantineFolder::shared(app.quarantine_dir()));
    opts.progress = progress(files.len());
    let mut report = crate::register::intake::run(app, files, &opts).await?;
    report.rejected.splice(0..0, missing);
    Ok(report)
}

/// Expands files and folders (recursively, sorted) into input files; missing paths are rejections.
pub fn collect(paths: &[PathBuf]) -> (Vec<InputFile>, Vec<Rejection>) {
    let mut files = Vec::new();
    let mut missing = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found);
            found.sort();
            files.extend(found.into_iter().map(InputFile::from_path));
        } else if path.is_file() {
            files.push(InputFile::from_path(path.clone()));
        } else {
            missing.push(Rejection {
                file: path.display().to_string(),
                record: None,
                field: None,
                code: "file-not-found".into(),
                message: "файл или каталог не найден".into(),
            });
        }
    }
    (files, missing)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, out);
        } else if path.is_file() {
            out.push(path);
        }
    }
}

/// The data directory's quarantine folder: each refused document copied as `run<N>-<name>`, with
/// `<that>.reasons.txt` beside it naming every record, field and reason.
pub struct QuarantineFolder(PathBuf);

impl QuarantineFolder {
    pub fn shared(dir: PathBuf) -> std::sync::Arc<dyn Quarantine> {
        std::sync::Arc::new(QuarantineFolder(dir))
    }
}

impl Quarantine for QuarantineFolder {
    fn keep(&self, input: &InputFile, run_id: Option<i64>, errors: &[Rejection]) -> Result<()> {
        quarantine(&self.0, input, run_id, errors)
    }
}

fn quarantine(dir: &Path, input: &InputFile, run_id: Option<i64>, errors: &[Rejection]) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let base = input
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let stem = format!("run{}-{base}", run_id.unwrap_or_default());
    match &input.content {
        Some(bytes) => std::fs::write(dir.join(&stem), bytes.as_slice())?,
        None if input.path.is_file() => {
            std::fs::copy(&input.path, dir.join(&stem))?;
        }
        None => {}
    }
    let mut reasons = format!("Файл: {}\n", input.name);
    for e in errors {
        reasons.push_str(&format!(
            "- запись: {}; поле: {}; код: {}; {}\n",
            e.record.as_deref().unwrap_or("—"),
            e.field.as_deref().unwrap_or("—"),
            e.code,
            e.message
        ));
    }
    std::fs::write(dir.join(format!("{stem}.reasons.txt")), reasons)?;
    Ok(())
}
