//! EGISSO connector: renders facts of assignment of social-support measures as the EGISSO data file
//! 10.06.S version 1.1.0 (release 23.12.0) and reads EGISSO reference lists (NSI) exported by an administrator.
//!
//! # Export (`export(facts)`)
//!
//! One document `egisso-10.06.S-<packageId>.xml` per 1000 facts (the schema's limit per package), root
//! `data` in `urn://egisso-ru/msg/10.06.S/1.1.0` with `package-RAF/1.1.0`, `assignment-fact/1.0.8`,
//! `prsn-info/1.0.4`, `prsn-basis/1.0.2` and SMEV commons 1.0.1, the versions that root imports. `packageId` is
//! the batch's `package-id` when it is a UUID, otherwise UUID v5 of `urn:ipra:egisso:package:<package-id>`
//! (`…:<n>` for the n-th further package); each fact's `uuid` is `extra` `uuid` or UUID v5 of
//! `urn:ipra:egisso:fact:<fact-id>`, so a re-sent fact keeps its identity. Every date is written with the
//! region's offset (config `timezone`, e.g. `2024-03-05+03:00`).
//!
//! | element | from |
//! |---|---|
//! | `oszCode` | `extra` `oszCode`, else config `osz-code` (`NNNN.NNNNNN`) |
//! | `mszReceiver` | the fact's person: `SNILS` (11 digits, control number verified), `FamilyName`, `FirstName`, `Patronymic` (Cyrillic only, as `smev:rus`), `Gender` (`M`/`F` → `Male`/`Female`), `BirthDate` — all required but the patronymic; with `extra` `representativeSnils` the representative is the receiver instead (`representativeSurname`, `representativeGivenName`, `representativePatronymic`, `representativeGender`, `representativeBirthDate`) |
//! | `reasonPersons/basisPerson` | only with a representative: the fact's person (e.g. the disabled child), with `kinshipTypeCode` (7 digits) when given |
//! | `lmszId`, `lmszProviderCode`, `categoryId` | `extra` `lmszId` (UUID, required), `lmszProviderCode` (optional), `categoryId` (UUID, required) |
//! | `decisionDate`, `dateStart`, `dateFinish` | `decision-date`; `start-date` (else the decision date); `end-date` when given, never before the start |
//! | `needsCriteria` | `extra` `needsCriteria` (`true`/`false`, default `false`) and `needsCriteriaCodes` (comma-separated) |
//! | `assignmentInfo` | `extra` `form`: `service` (default), `natural`, `exemption` or `monetary`. Monetary: `amount` (required, written with two decimals). Others: `amount` (quantity, default 1), `measuryCode` (2 digits) or `okeiCode` (default 642 «единица»), `content` (else `measureName`, cut to 200 characters; not for `exemption`), `monetization` (exemption, default `false`), `comment`, `equivalentAmount` (roubles, default 0) |
//!
//! A batch is all or nothing (the host marks the whole batch sent when documents come back): the first invalid
//! fact fails the call with `record` = its fact id and `field` = the element or `extra` key (`lmszId`,
//! `SNILS`, `dateFinish`, …); the message also counts the other invalid facts. An empty batch gives no document.
//!
//! Besides new facts (`fact`), a batch carries changes of facts EGISSO holds, by `extra` `operation`:
//!
//! | `operation` | element of `package-RAF` 1.1.0 | what it needs |
//! |---|---|---|
//! | `fact` (default) | `fact` | the fact as above, `uuid` |
//! | `correction` | `alterationBasedOnPreviousErrors`: the whole fact again | the fact as above, `uuid` (of the fact), `eventUuid` |
//! | `termination` | `terminationBasedOnEndOfRight` (the recipient died: the right ended) | `uuid`, `eventUuid`, `end-date` (the date it ended) |
//! | `invalidation` | `errorsInvalidation` (the fact was uploaded in error: the execution was withdrawn) | `uuid`, `eventUuid` |
//!
//! In the package every new fact comes first, then corrections, terminations and invalidations, as the
//! schema's sequence orders them.
//!
//! # Import (`import(document)`): EGISSO's answers
//!
//! The protocols of loading and checking a package (`package-protocol` 1.0.3 and 2.3.0, bare or in the 10.10.I
//! 1.0.3 and 10.36.S 2.0.0 answers) and bare package results (`package-result` 1.0.2 and 2.3.0) become receipts
//! (`Normalized::Receipt`) about the package's data file: one per record EGISSO names (accepted or rejected with
//! its errors), then one for the package. See [`answers`] for the details and what is refused.
//!
//! # Import (`import(document)`): reference lists
//!
//! The published schema set (release 23.12.0) holds no document of EGISSO's reference lists (NSI), so the
//! connector reads two simple forms an administrator can produce from an EGISSO classifier export; either
//! gives one record `Normalized::Reference`.
//!
//! XML (UTF-8, no DOCTYPE):
//!
//! ```xml
//! <referenceList id="egisso-lmsz" version="2024-01-15">
//!   <entry code="c3cbbd4c-3cca-486e-912c-9971d100ef3e" name="Ежемесячная денежная выплата" parent="…">
//!     <attribute code="oszCode" value="0040.000001"/>
//!   </entry>
//! </referenceList>
//! ```
//!
//! Other attributes of `entry` and its `attribute` children go to the entry's `extra`. Without `id`/`version`
//! the file name gives them: `<list-id>[@<version>].xml`.
//!
//! CSV (UTF-8, BOM allowed, `;` or `,`, quotes with `""`): a header row naming `code`, `name` and optionally
//! `parent` (also `Код`, `Наименование`, `Родитель`, `uuid`, `id`); other columns go to `extra` under their
//! header. The list id and version come from the file name `<list-id>[@<version>].csv`. Rows without a code
//! or name, and repeated codes, are skipped with a warning naming the row.
//!
//! Configuration (host `config`): `timezone` (default `+03:00` in the manifest), `osz-code`.

pub mod answers;
pub mod facts;
pub mod nsi;

use facts::FactsConfig;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, PluginError,
    PluginInfo, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;

/// Document types this connector writes or reads.
pub const DOCUMENT_TYPES: [&str; 9] = [
    "10.06.S-1.1.0",
    "package-protocol-1.0.3",
    "package-protocol-2.3.0",
    "package-result-1.0.2",
    "package-result-2.3.0",
    "10.10.I-1.0.3",
    "10.36.S-2.0.0",
    "egisso-nsi-xml",
    "egisso-nsi-csv",
];

/// What `describe` returns.
pub fn info() -> PluginInfo {
    PluginInfo {
        id: "egisso".into(),
        name: "Коннектор ЕГИССО (факты назначения мер социальной защиты)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: PluginKind::Connector,
        sections: Vec::new(),
        document_types: DOCUMENT_TYPES.iter().map(|t| t.to_string()).collect(),
        hooks: vec![Hook::Import, Hook::Export],
        config_keys: vec![
            ConfigKey {
                name: "timezone".into(),
                description: "Смещение часового пояса региона для дат ЕГИССО, например +03:00".into(),
                required: true,
                default_value: Some("+03:00".into()),
            },
            ConfigKey {
                name: "osz-code".into(),
                description: "Код ОСЗ в ЕГИССО (NNNN.NNNNNN) для фактов без собственного oszCode".into(),
                required: false,
                default_value: None,
            },
        ],
        lookups: Vec::new(),
    }
}

/// The region's settings, read through the host (only inside the sandbox: host functions panic natively).
fn host_config() -> FactsConfig {
    use ipra_plugin_sdk::bindings::ipra::plugin::host::config;
    let read = |key: &str| config(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    FactsConfig {
        timezone: read("timezone").unwrap_or_else(|| "+03:00".into()),
        osz_code: read("osz-code"),
    }
}

fn not_supported(what: &str) -> PluginError {
    PluginError {
        code: "not-supported".into(),
        message: format!("Коннектор ЕГИССО не обрабатывает {what}"),
        record: None,
        field: None,
    }
}

/// `import` without host calls.
pub fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
    match input {
        ImportInput::Document(document) if answers::looks_like_answer(&document) => answers::import_answer(&document),
        ImportInput::Document(document) => nsi::import_reference(&document),
        ImportInput::Ipra(_) => Err(not_supported("ИПРА: это коннектор, а не ведомство")),
    }
}

/// `export` with the configuration given.
pub fn export(input: ExportInput, config: &FactsConfig) -> Result<Vec<Document>, PluginError> {
    match input {
        ExportInput::Facts(batch) => facts::export_facts(&batch, config),
        _ => Err(not_supported("отчёты и запросы: он выгружает только факты назначения")),
    }
}

/// The plugin exported to the host.
pub struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        info()
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        import(input)
    }

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        Err(not_supported("шаги обмена: факты выгружаются через export"))
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        match input {
            ExportInput::Facts(_) => export(input, &host_config()),
            other => Err(not_supported(match other {
                ExportInput::Requests(_) => "запросы",
                _ => "отчёты об исполнении",
            })),
        }
    }
}

// Exported only in the component: natively (the host's benchmark, the fuzzer) several plugins
// link into one binary, and their exports would clash.
#[cfg(target_arch = "wasm32")]
ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);

#[cfg(test)]
mod tests;
