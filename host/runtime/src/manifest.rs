//! `plugin.toml`: who a plugin is, which API range it needs and the SHA-256 of its component.
//! A manifest that does not match the host or its `.wasm` is refused with a clear message.

use super::runtime::HOST_API;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub version: String,
    pub kind: String,
    /// Semver range of the plugin API it was built for, e.g. `^1.0`.
    pub api: String,
    pub vendor: String,
    /// File name of the component beside the manifest.
    #[serde(default = "default_wasm")]
    pub wasm: String,
    pub sha256: String,
    /// Look-ups the plugin may use: `organisation`, `route`, `reference`.
    #[serde(default)]
    pub lookups: Vec<String>,
    /// Default configuration values, readable by the plugin through `config`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The exchange steps a connector brings (`[[jobs]]`): the scheduler starts each with its
    /// default schedule while the plugin is enabled, and the administration pages call it by its
    /// label. An administrator changes the schedule or disables the job; the host knows no
    /// connector's jobs by name.
    #[serde(default)]
    pub jobs: Vec<JobDeclaration>,
    /// Kinds of document a connector reads from outside, as the host calls them: `ipra-extract`,
    /// `prior-report`, `receipt`, `death-record`, `reference`, `execution-result` (its prior reports
    /// are services another system provided, applied as execution records). The host chooses a connector for a
    /// document by these (an uploaded extract goes to the one that reads `ipra-extract`).
    #[serde(default)]
    pub reads: Vec<String>,
    /// Kinds of document a connector writes for outside: `execution-report` (it packages the
    /// signed reports), `request`, `facts`, `execution-status`, `ippsu`, `recipients`.
    #[serde(default)]
    pub writes: Vec<String>,
    /// What the plugin asks of the sandbox and what its failure does (`[limits]`), within the
    /// bounds the installation sets (see [`crate::runtime::Limits`]).
    #[serde(default)]
    pub limits: PluginLimits,
}

/// `[limits]` of a manifest: memory and time per call, and what a failed call does.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PluginLimits {
    /// Memory a call may grow to, in MiB (the installation's bound applies when it is lower).
    pub memory_mib: Option<u64>,
    /// Time a call may run, in milliseconds (the installation's bound applies when it is lower).
    pub time_ms: Option<u64>,
    /// What a failed call (trap, time or memory limit) does to the work it was part of.
    pub on_failure: Option<FailurePolicy>,
}

/// What a plugin call that failed in the sandbox does to the work it was part of.
#[derive(Clone, Copy, Debug, Deserialize, serde::Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    /// The document waits in quarantine for a person; the rest of the batch goes on (a
    /// connector's default).
    QuarantineDocument,
    /// Only the record is left out, with its error noted; the rest of the document goes on (a
    /// department's default: the IPRA is stored and the measures it failed to claim wait in the
    /// coordinator's queue). A connector's failed call covers its whole document, so for a
    /// connector this is the same as quarantine.
    SkipRecord,
    /// The job (import run, exchange step) stops; nothing after the failure is taken.
    StopJob,
}

impl FailurePolicy {
    /// What the pages call it.
    pub fn label(self) -> &'static str {
        match self {
            FailurePolicy::QuarantineDocument => "документ в карантин",
            FailurePolicy::SkipRecord => "пропустить запись",
            FailurePolicy::StopJob => "остановить задание",
        }
    }
}

/// The kinds of document the host knows how to ask a connector for (see [`Manifest::reads`]).
pub const DOCUMENT_KINDS: &[&str] = &[
    "ipra-extract",
    "prior-report",
    "receipt",
    "death-record",
    "reference",
    "execution-report",
    "request",
    "facts",
    "execution-status",
    "execution-result",
    "ippsu",
    "recipients",
];

/// What the pages call a kind of document.
pub fn document_kind_label(kind: &str) -> &str {
    match kind {
        "ipra-extract" => "выписки ИПРА",
        "prior-report" => "сведения об исполнении",
        "receipt" => "квитанции на отчёты",
        "death-record" => "сведения о смерти",
        "reference" => "справочники",
        "execution-report" => "отчёты об исполнении",
        "request" => "запросы",
        "facts" => "факты назначения",
        "execution-result" => "результаты исполнения мероприятий",
        "ippsu" => "проекты ИППСУ",
        "recipients" => "регистр получателей социальных услуг",
        "execution-status" => "ход исполнения ИПРА",
        other => other,
    }
}

/// One job a plugin declares.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobDeclaration {
    /// The job's name in the scheduler, e.g. `fri-inbox`.
    pub name: String,
    /// What the job runs: an exchange kind of the host (`fri-inbox`, …) or `plugin-step`, which
    /// calls the plugin's `execute` hook with `step` from `config`.
    pub kind: String,
    /// The default schedule: cron, minute hour day month weekday, in the region's time.
    pub schedule: String,
    /// What people read on the administration pages, e.g. «ФРИ: приём выписок».
    pub label: String,
    /// The job's settings (JSON object), e.g. `{ step = "upload" }`.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    /// Whether the job starts enabled when the plugin is first installed (`true` unless set): a
    /// job that talks to a system not every region has (АИС СОН, the bureaus' data mart) comes
    /// disabled, and an administrator turns it on on «Задания».
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
}

fn enabled_by_default() -> bool {
    true
}

fn default_wasm() -> String {
    "plugin.wasm".into()
}

/// Why a plugin was refused.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("манифест не читается: {0}")]
    Syntax(String),
    #[error("идентификатор «{0}» недопустим: только строчные латинские буквы, цифры и «-»")]
    BadId(String),
    #[error("вид плагина «{0}» неизвестен: ожидается department или connector")]
    BadKind(String),
    #[error("задание «{name}» в манифесте: {why}")]
    BadJob { name: String, why: String },
    #[error("версия плагина «{0}» не соответствует semver")]
    BadVersion(String),
    #[error("диапазон API «{0}» не соответствует semver (пример: \"^1.0\")")]
    BadApiRange(String),
    #[error(
        "плагин требует API {required}, а сервер предоставляет {HOST_API}: нужна другая версия плагина или сервера"
    )]
    ApiMismatch { required: String },
    #[error("контрольная сумма SHA-256 файла {wasm} не совпадает с манифестом (в манифесте {expected}, у файла {actual}): файл повреждён или подменён")]
    HashMismatch {
        wasm: String,
        expected: String,
        actual: String,
    },
}

/// Whether `text` is a name as manifests spell them (a plugin's id, a job's name): lowercase latin
/// letters, digits and `-`, not empty.
pub fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub const LOOKUPS: [&str; 3] = ["organisation", "route", "reference"];

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let mut manifest: Manifest =
            toml::from_str(text).map_err(|e| ManifestError::Syntax(e.message().to_string()))?;
        if !(is_name(&manifest.id) && manifest.id.len() <= 64) {
            return Err(ManifestError::BadId(manifest.id));
        }
        if !matches!(manifest.kind.as_str(), "department" | "connector") {
            return Err(ManifestError::BadKind(manifest.kind));
        }
        if semver::Version::parse(&manifest.version).is_err() {
            return Err(ManifestError::BadVersion(manifest.version));
        }
        for job in &manifest.jobs {
            let bad = |why: String| ManifestError::BadJob {
                name: job.name.clone(),
                why,
            };
            if !is_name(&job.name) {
                return Err(bad("имя: только строчные латинские буквы, цифры и «-»".into()));
            }
            if job.label.trim().is_empty() {
                return Err(bad("не указано название (label)".into()));
            }
            crate::jobs::parse_schedule(&job.schedule).map_err(|e| bad(format!("{e:#}")))?;
            if !crate::jobs::runs_kind(&job.kind) {
                return Err(bad(format!(
                    "вид «{}» неизвестен серверу (известны: {})",
                    job.kind,
                    crate::jobs::KINDS
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        // A connector's exchange job serves the connector that declares it unless it says otherwise.
        for job in &mut manifest.jobs {
            if crate::jobs::serves_a_connector(&job.kind) && !job.config.contains_key("connector") {
                job.config.insert("connector".into(), manifest.id.clone().into());
            }
        }
        if let Some(unknown) = manifest
            .reads
            .iter()
            .chain(&manifest.writes)
            .find(|k| !DOCUMENT_KINDS.contains(&k.as_str()))
        {
            return Err(ManifestError::Syntax(format!(
                "вид документа «{unknown}» в reads/writes неизвестен серверу (известны: {})",
                DOCUMENT_KINDS.join(", ")
            )));
        }
        if let Some(unknown) = manifest.lookups.iter().find(|l| !LOOKUPS.contains(&l.as_str())) {
            return Err(ManifestError::Syntax(format!(
                "неизвестный справочный запрос «{unknown}» в lookups"
            )));
        }
        Ok(manifest)
    }

    /// What a failed call of this plugin does: the manifest's `on_failure`, else the kind's
    /// default — a connector's document waits in quarantine, a department's record is stored
    /// without its claims (the measures wait in the coordinator's queue).
    pub fn failure_policy(&self) -> FailurePolicy {
        self.limits.on_failure.unwrap_or(match self.kind.as_str() {
            "department" => FailurePolicy::SkipRecord,
            _ => FailurePolicy::QuarantineDocument,
        })
    }

    /// Checks the API range against this host and the component bytes against the hash.
    pub fn verify(&self, wasm: &[u8]) -> Result<(), ManifestError> {
        let range = semver::VersionReq::parse(&self.api).map_err(|_| ManifestError::BadApiRange(self.api.clone()))?;
        if !range.matches(&HOST_API) {
            return Err(ManifestError::ApiMismatch {
                required: self.api.clone(),
            });
        }
        let actual = hex::encode(Sha256::digest(wasm));
        if !actual.eq_ignore_ascii_case(self.sha256.trim()) {
            return Err(ManifestError::HashMismatch {
                wasm: self.wasm.clone(),
                expected: self.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(api: &str, sha: &str) -> String {
        format!("id = \"x\"\nversion = \"1.0.0\"\nkind = \"connector\"\napi = \"{api}\"\nvendor = \"v\"\nsha256 = \"{sha}\"\n")
    }

    #[test]
    fn accepts_matching_range_and_hash() {
        let sha = hex::encode(Sha256::digest(b"wasm"));
        Manifest::parse(&manifest("^1.0", &sha))
            .unwrap()
            .verify(b"wasm")
            .unwrap();
    }

    #[test]
    fn reads_the_jobs_a_connector_declares_and_refuses_a_bad_one() {
        let sha = "0".repeat(64);
        let text = format!(
            "{}\n[[jobs]]\nname = \"vendor-upload\"\nkind = \"plugin-step\"\nschedule = \"30 1 * * *\"\nlabel = \"Выгрузка\"\nconfig = {{ step = \"upload\" }}\n",
            manifest("^1.0", &sha)
        );
        let parsed = Manifest::parse(&text).unwrap();
        assert_eq!(parsed.jobs.len(), 1);
        assert_eq!(parsed.jobs[0].config["step"], "upload");
        let bad = text.replace("30 1 * * *", "каждый день");
        let err = Manifest::parse(&bad).unwrap_err().to_string();
        assert!(
            err.contains("задание «vendor-upload»") && err.contains("расписание"),
            "{err}"
        );
        let unnamed = text.replace("label = \"Выгрузка\"", "label = \" \"");
        assert!(Manifest::parse(&unnamed).is_err());
    }

    #[test]
    fn refuses_other_major_api() {
        let sha = hex::encode(Sha256::digest(b"wasm"));
        let err = Manifest::parse(&manifest("^2.0", &sha))
            .unwrap()
            .verify(b"wasm")
            .unwrap_err();
        assert!(err.to_string().contains("требует API ^2.0"), "{err}");
    }

    #[test]
    fn refuses_wrong_hash() {
        let err = Manifest::parse(&manifest("^1", &"0".repeat(64)))
            .unwrap()
            .verify(b"wasm")
            .unwrap_err();
        assert!(matches!(err, ManifestError::HashMismatch { .. }));
    }

    #[test]
    fn refuses_bad_id_and_unknown_fields() {
        assert!(matches!(
            Manifest::parse(&manifest("^1", "0").replace("id = \"x\"", "id = \"../x\"")),
            Err(ManifestError::BadId(_))
        ));
        assert!(Manifest::parse(&format!("{}filesystem = true\n", manifest("^1", "0"))).is_err());
    }
}
