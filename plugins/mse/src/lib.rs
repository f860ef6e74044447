//! MSE connector (ИС МСЭ in ЕЦП): what the region sends to the federal MSE institutions and reads back.
//!
//! No public schema of these exchanges exists, so the connector defines three open, versioned XML formats, each
//! with its XSD in `schemas/` and described in `README.md`; a region whose adapter expects another layout
//! changes this plugin, not the host.
//!
//! # Export (`export(requests)`)
//!
//! The host hands a plan (`plan-input`) whose `step` says what to write:
//!
//! - `tsr-clarification` ([`request`]): one TSR clarification request (порядок ФБ МСЭ для ИС МСЭ в ЕЦП, ПП РФ № 2121 п. 4(1)) —
//!   `tsr-clarification-<RequestId>.xml`, namespace `urn:ipra:mse:tsr-clarification:1.0`
//!   (`schemas/tsr-clarification-1.0.xsd`);
//! - `execution-status` ([`status`]): the execution status of the IPRAs one bureau issued (ИС «Исполнение ИПРА», the
//!   regional data mart) — `mse-status-<PackageId>.xml`, namespace `urn:ipra:mse:execution-status:1.0`
//!   (`schemas/execution-status-1.0.xsd`).
//!
//! # Import (`import(document)`)
//!
//! ИС МСЭ's answer on a request ([`answer`]), namespace `urn:ipra:mse:tsr-clarification-answer:1.0`
//! (`schemas/tsr-clarification-answer-1.0.xsd`), becomes one `receipt` naming the request's document. A document
//! that is not such an answer, of another version, or malformed is refused as a whole with a Russian reason
//! naming the file, the element and the field; the host keeps it in quarantine.
//!
//! Configuration (host `config`): `region` — the regional body keeping the data mart, written in the status
//! export's header (optional).

pub mod answer;
pub mod request;
pub mod status;

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ConfigKey, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, PluginError,
    PluginInfo, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;

/// Document types this connector writes or reads (root element and format version).
pub const DOCUMENT_TYPES: [&str; 3] = [
    "TsrClarificationRequest-1.0",
    "TsrClarificationAnswer-1.0",
    "IpraExecutionStatus-1.0",
];

/// What `describe` returns.
pub fn info() -> PluginInfo {
    PluginInfo {
        id: "mse".into(),
        name: "Коннектор ИС МСЭ (запросы на уточнение ТСР, ход исполнения ИПРА для бюро МСЭ)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        kind: PluginKind::Connector,
        sections: Vec::new(),
        document_types: DOCUMENT_TYPES.iter().map(|t| t.to_string()).collect(),
        hooks: vec![Hook::Import, Hook::Export],
        config_keys: vec![ConfigKey {
            name: "region".into(),
            description: "Региональный орган, ведущий витрину исполнения ИПРА (в заголовке выгрузки для бюро МСЭ)"
                .into(),
            required: false,
            default_value: None,
        }],
        lookups: Vec::new(),
    }
}

/// What the region configures (host `config`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// `region`: the regional body keeping the data mart.
    pub region: Option<String>,
}

/// The region's settings, read through the host (only inside the sandbox: host functions panic natively).
fn host_config() -> Config {
    use ipra_plugin_sdk::bindings::ipra::plugin::host::config;
    Config {
        region: config("region").map(|v| v.trim().to_string()).filter(|v| !v.is_empty()),
    }
}

fn not_supported(what: &str) -> PluginError {
    PluginError::new("not-supported", format!("Коннектор ИС МСЭ не обрабатывает {what}"))
}

/// `import` without host calls, for native tests and other hosts.
pub fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
    match input {
        ImportInput::Document(document) => answer::import_document(&document),
        ImportInput::Ipra(_) => Err(not_supported("ИПРА: это коннектор, а не ведомство")),
    }
}

/// `export` with the configuration given.
pub fn export(input: ExportInput, config: &Config) -> Result<Vec<Document>, PluginError> {
    match input {
        ExportInput::Requests(plan) => match plan.step.as_str() {
            request::STEP => request::render(&plan).map(|d| vec![d]),
            status::STEP => status::render(&plan, config).map(|d| vec![d]),
            other => Err(PluginError::new(
                "step-unknown",
                format!(
                    "Шаг «{other}» коннектору ИС МСЭ неизвестен: он пишет «{}» и «{}»",
                    request::STEP,
                    status::STEP
                ),
            )
            .at_field("step")),
        },
        _ => Err(not_supported(
            "отчёты и факты назначения: он пишет запросы на уточнение ТСР и ход исполнения ИПРА",
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

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        // Nothing to plan: the host chooses what to send (raised requests, changed IPRAs).
        Err(not_supported("планирование шагов: что отправить, выбирает сервер"))
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        match input {
            ExportInput::Requests(_) => export(input, &host_config()),
            other => export(other, &Config::default()),
        }
    }
}

// Exported only in the component: natively several plugins may link into one binary.
#[cfg(target_arch = "wasm32")]
ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);

#[cfg(test)]
mod tests;
