//! ZAGS connector: reads civil-registry death records (`FATALRequest` 4.0.6 and 4.0.4, `FATALINFResponse` 4.0.1)
//! into `DeathRecord`s and plans the death check of persons as `FATALINFRequest` 4.0.1 documents.
//!
//! # Import (`import(document)`)
//!
//! The root element decides: `FATALRequest` (the registry's push, ns
//! `urn://x-artefacts-zags-fatal/root/112-04/<version>`, versions 4.0.6 and 4.0.4) gives one record per
//! `СведРегСмерт`; `FATALINFResponse` (the answer to our query, ns `…/112-52/4.0.1`) one per `СведОтветАГС`;
//! any other root is one `Skipped` record. A `FATALRequest` or `FATALINFResponse` whose root has no namespace
//! (`namespace-missing`), a URI of another format (`namespace-foreign`) or a version not listed here
//! (`version-unsupported`) is refused as a whole, field `xmlns`: a layout we have not read is not guessed at
//! when what it decides is a person's death. Below the root, names are matched without namespaces. XML with a DOCTYPE, entity references other than the five predefined
//! ones, or broken syntax is refused as a whole with `xml-doctype`, `xml-entity` or `xml-malformed` and the line
//! and column. Locators: `Запись N (акт <номер>)`, `Ответ N (ИдДок <id>)`.
//!
//! | `DeathRecord` | from |
//! |---|---|
//! | `record-id` | `<НомерЗаписЕГР>/<НомерВерс>` (4.0.4: `НомерЗапис`): every version of an act is its own record |
//! | `kind` | `cancellation` with `СведАннулирАГС` (unless a later `СведВосстанАГС` restores it); `correction` with `СведИспрАГС`, `СведВосстанАГС` or `НомерВерс` above 0; else `new` |
//! | `act-number`, `act-date` | `НомерЗаписЕГР` (`НомерЗапис`); `ДатаЗапис` or the partial `ДатаЗаписДок` |
//! | `death-date`, `birth-date` | `ДатаСмертКаленд`/`ДатаРождКаленд`; a partial `…Док` date keeps what is known (`YYYY-MM` or `YYYY`); a `Пр…` flag gives none |
//! | `snils` | `ПрдСведРег/@СНИЛС` normalized to 11 digits, control number verified (absent in 4.0.4); a bad one fails the record with field `СНИЛС` |
//! | `surname`, `given-name`, `patronymic` | `ФИОУмер` (an unknown surname or name is empty) |
//! | `registry-office` | `ОрганЗАГС/@НаимЗАГС` |
//!
//! `extra`: `format` (`FATALRequest-4.0.6`, …), `document-id`, `document-date`, `record-number`,
//! `record-version`, `record-version-date`, `egr-section`, `certificate-act-number`, `status-code` (`КодСостСтат`,
//! 4.0.4 `КодСтатус`), `status-name`, `status-date`, `registry-office-code`, `correction-date`,
//! `restoration-date`, `cancellation-date`, `certificate` (series, number, date), `gender` (`M`/`F`),
//! `unidentified`, `death-time`, `death-place`, `address`, `birth-date-precision` / `death-date-precision`
//! (`year`, `month`), `doubt` (one per contradiction inside the record — a death date before the birth date,
//! an act date before the death date — in Russian, for the host to keep the record for a person's decision)
//! and, for answers, `request-document-id` and `request-snils`.
//!
//! An answer without `СведРегСмерт` and with `РезОбраб` 1 or 2 is `Skipped` with a text naming the person by
//! the SNILS in our `ИдДок`; any other `РезОбраб` without a record is a record error `zags-not-processed`.
//!
//! # Plan (`execute(plan)` with step `zags-check`) and export (`export(requests)`)
//!
//! One `FATALINFRequest` per distinct SNILS, `КолДок` 1, `ТипАГС` 07: `ИдЗапрос` = UUID v5 of
//! `urn:ipra:zags:fatalinf:<today>:<snils>`, `ИдДок` = `<snils>-<YYYYMMDD of today>` (so an answer that finds
//! nothing still names the person), `СведФЛ/@СНИЛС` as `NNN-NNN-NNN NN`, `ФИО` (blank parts as `Пр…` flags),
//! `ДатаРождКаленд` (or `ДатаРождДок` for a year or month only, or `ПрДатаРожд`). The follow-up is
//! `zags-request` with attributes `snils`, `request-id`, `document-id` (and `sender-code` when configured) and
//! the document `zags-fatalinf-<ИдЗапрос>.xml`. Persons with a bad SNILS or over-long names go to `errors`.
//!
//! Configuration (host `config`): `legal-basis-code` (`КодНормОсн`, default `01`), `legal-basis-document`
//! (`СведДокОсн`), `region-code` (`РегионРегАГС`), `sender-code` (handed to the transport).

pub mod date;
pub mod import;
pub mod request;

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, PluginError,
    PluginInfo, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;
use request::RequestConfig;

/// Document types this connector reads or writes.
pub const DOCUMENT_TYPES: [&str; 4] = [
    "FATALRequest-4.0.6",
    "FATALRequest-4.0.4",
    "FATALINFResponse-4.0.1",
    "FATALINFRequest-4.0.1",
];

fn config_key(name: &str, description: &str, default_value: Option<&str>) -> ConfigKey {
    ConfigKey {
        name: name.into(),
        description: description.into(),
        required: false,
        default_value: default_value.map(str::to_string),
    }
}

/// What `describe` returns.
pub fn info() -> PluginInfo {
    PluginInfo {
        id: "zags".into(),
        name: "Коннектор ЗАГС (сведения о смерти из ЕГР ЗАГС)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: PluginKind::Connector,
        sections: Vec::new(),
        document_types: DOCUMENT_TYPES.iter().map(|t| t.to_string()).collect(),
        hooks: vec![Hook::Import, Hook::Execute, Hook::Export],
        config_keys: vec![
            config_key(
                "legal-basis-code",
                "Код нормативно-правового основания запроса (КодНормОсн, справочник СНПОСН), две позиции",
                Some("01"),
            ),
            config_key(
                "legal-basis-document",
                "Сведения о документе-основании запроса (СведДокОсн); не задано — «нет сведений»",
                None,
            ),
            config_key(
                "region-code",
                "Код субъекта РФ, где искать запись акта (РегионРегАГС); не задано — во всех субъектах",
                None,
            ),
            config_key("sender-code", "Мнемоника отправителя СМЭВ, передаётся транспорту", None),
        ],
        lookups: Vec::new(),
    }
}

/// The region's settings, read through the host (only inside the sandbox: host functions panic natively).
fn host_config() -> RequestConfig {
    use ipra_plugin_sdk::bindings::ipra::plugin::host::config;
    let read = |key: &str| config(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    RequestConfig {
        legal_basis_code: read("legal-basis-code").unwrap_or_else(|| "01".into()),
        legal_basis_document: read("legal-basis-document"),
        region_code: read("region-code"),
        sender_code: read("sender-code"),
    }
}

fn not_supported(what: &str) -> PluginError {
    PluginError {
        code: "not-supported".into(),
        message: format!("Коннектор ЗАГС не обрабатывает {what}"),
        record: None,
        field: None,
    }
}

/// `import` without host calls, for native tests and other hosts.
pub fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
    match input {
        ImportInput::Document(document) => import::import_document(&document),
        ImportInput::Ipra(_) => Err(not_supported("ИПРА: это коннектор, а не ведомство")),
    }
}

/// `execute` with the configuration given.
pub fn execute(input: ExecuteInput, config: &RequestConfig) -> Result<ExecuteOutput, PluginError> {
    match input {
        ExecuteInput::Plan(plan) => request::plan(&plan, config),
        ExecuteInput::Execution(_) => Err(not_supported("сведения об исполнении мероприятий")),
    }
}

/// `export` with the configuration given.
pub fn export(input: ExportInput, config: &RequestConfig) -> Result<Vec<Document>, PluginError> {
    match input {
        ExportInput::Requests(plan) => request::requests(&plan, config),
        _ => Err(not_supported(
            "отчёты и факты назначения: он выгружает только запросы о смерти",
        )),
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

    fn execute(input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        // Configuration is read only when there is something to plan.
        match input {
            ExecuteInput::Plan(_) => execute(input, &host_config()),
            other => execute(other, &RequestConfig::default()),
        }
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        match input {
            ExportInput::Requests(_) => export(input, &host_config()),
            other => export(other, &RequestConfig::default()),
        }
    }
}

// Exported only in the component: natively (the host's benchmark, the fuzzer) several plugins
// link into one binary, and their exports would clash.
#[cfg(target_arch = "wasm32")]
ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);

#[cfg(test)]
mod tests;
