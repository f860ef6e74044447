//! Readers of the packaging files for the tests that check and run them: the container image's
//! Containerfile (packaging/oci/) and the systemd unit (packaging/deb/).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// One instruction of a Containerfile: its keyword (upper case) and the rest of its line, with
/// continuation lines joined.
#[derive(Clone, Debug)]
pub struct Instruction {
    pub keyword: String,
    pub rest: String,
}

pub fn containerfile_path() -> PathBuf {
    super::workspace_root().join("packaging/oci/Containerfile")
}

/// The instructions of packaging/oci/Containerfile, in order.
pub fn containerfile() -> Vec<Instruction> {
    let text = std::fs::read_to_string(containerfile_path()).expect("packaging/oci/Containerfile");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if !current.is_empty() && trimmed.starts_with('#') {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part.trim_end());
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                let (keyword, rest) = current.split_once(char::is_whitespace).unwrap_or((&current, ""));
                instructions.push(Instruction {
                    keyword: keyword.to_ascii_uppercase(),
                    rest: rest.trim().to_string(),
                });
                current.clear();
            }
        }
    }
    instructions
}

/// The instructions of the last stage (after the last FROM): what the image is.
pub fn final_stage() -> Vec<Instruction> {
    let all = containerfile();
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").expect("a FROM");
    all[last_from + 1..].to_vec()
}

/// The exec-form (JSON) arguments of the stage's last `keyword` (ENTRYPOINT, CMD, VOLUME).
pub fn exec_form(stage: &[Instruction], keyword: &str) -> Vec<String> {
    let instruction = stage
        .iter()
        .rev()
        .find(|i| i.keyword == keyword)
        .unwrap_or_else(|| panic!("no {keyword} in the Containerfile's last stage"));
    serde_json::from_str(&instruction.rest)
        .unwrap_or_else(|e| panic!("{keyword} {}: not the exec (JSON) form: {e}", instruction.rest))
}

/// The image's environment (ENV K=V …).
pub fn environment(stage: &[Instruction]) -> BTreeMap<String, String> {
    stage
        .iter()
        .filter(|i| i.keyword == "ENV")
        .flat_map(|i| {
            i.rest
                .split_whitespace()
                .map(|pair| {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("ENV {}: not K=V", i.rest));
                    (k.to_string(), v.trim_matches('"').to_string())
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The COPY instructions of the stage: (options, sources, destination).
pub fn copies(stage: &[Instruction]) -> Vec<(Vec<String>, Vec<String>, String)> {
    stage
        .iter()
        .filter(|i| i.keyword == "COPY")
        .map(|i| {
            let (options, mut paths): (Vec<String>, Vec<String>) = i
                .rest
                .split_whitespace()
                .map(str::to_string)
                .partition(|w| w.starts_with("--"));
            let destination = paths.pop().expect("a COPY destination");
            (options, paths, destination)
        })
        .collect()
}

/// The source in the repository of the file the image has at `destination` (a COPY from the
/// build context), if any.
pub fn copied_from_context(stage: &[Instruction], destination: &str) -> Option<PathBuf> {
    copies(stage)
        .into_iter()
        .find(|(options, sources, to)| {
            to == destination && sources.len() == 1 && !options.iter().any(|o| o.starts_with("--from"))
        })
        .map(|(_, sources, _)| super::workspace_root().join(&sources[0]))
}

/// A systemd unit file: section → [(key, value)] in order (keys may repeat).
pub fn unit(text: &str) -> BTreeMap<String, Vec<(String, String)>> {
    let mut sections: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_string();
            continue;
        }
        let (key, value) = line.split_once('=').unwrap_or_else(|| panic!("unit line {line:?}"));
        sections
            .entry(section.clone())
            .or_default()
            .push((key.trim().to_string(), value.trim().to_string()));
    }
    sections
}

/// The values of `key` in `section` of a unit, in order.
pub fn unit_values(unit: &BTreeMap<String, Vec<(String, String)>>, section: &str, key: &str) -> Vec<String> {
    unit.get(section)
        .map(|entries| {
            entries
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .collect()
        })
        .unwrap_or_default()
}
