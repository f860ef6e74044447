//! FRI connector plugin: reads IPRA extracts of the federal register of disabled persons (`fri:ВыпискаФРИ`,
//! every IPRA document version, XML or ZIP) into normalized records for the register.
//!
//! [`import_document`] is the whole import, callable natively (the host's benchmark compares it with the same
//! code inside the sandbox); [`export_report`] renders the execution report package for upload;
//! [`Plugin`] exports both through the v1 interface.

mod export;
mod extract;
mod import;
mod receipt;

#[cfg(test)]
mod hostile_tests;

pub use export::{export_report, within_federal_sections};

pub use extract::normalize_code;
pub use import::{import_document, IPRA_VERSIONS, MAX_DOCUMENT_BYTES};

/// A document for the connector's parser run natively, outside the sandbox: the host's import
/// benchmark times it against the same parser compiled to WebAssembly. It keeps the interface's
/// types on this side, so the host names none of them.
pub struct NativeDocument(Document);

impl NativeDocument {
    pub fn new(name: &str, bytes: Vec<u8>) -> NativeDocument {
        NativeDocument(Document {
            name: name.to_string(),
            media_type: "application/xml".to_string(),
            bytes,
        })
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// Reads the whole document as `import` does; the number of records read, or none when refused.
    pub fn parse(&self) -> Option<usize> {
        import_document(&self.0).ok().map(|output| output.records.len())
    }
}

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, PluginError, PluginInfo,
    PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::error::not_supported;

// Every call runs in a fresh instance that is dropped after it: small blocks are bumped from
// chunks and never freed one by one (see `ipra_plugin_sdk::arena`).
#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: ipra_plugin_sdk::arena::CallArena = ipra_plugin_sdk::arena::CallArena::new();

/// The plugin exported to the host.
pub struct Plugin;

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        let mut document_types = vec!["ВыпискаФРИ".to_string()];
        document_types.extend(IPRA_VERSIONS.iter().map(|v| v.to_string()));
        document_types.extend(["RESOC_20180416".to_string(), "PRPEXEC_20170213".to_string()]);
        document_types.push("ReportReceipt".to_string());
        PluginInfo {
            id: "fri".to_string(),
            name: "Коннектор ФРИ (федеральный реестр инвалидов)".to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Connector,
            sections: Vec::new(),
            document_types,
            hooks: vec![Hook::Import, Hook::Export],
            config_keys: Vec::new(),
            lookups: vec!["reference".to_string()],
        }
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        match input {
            ImportInput::Document(document) => import_document(&document),
            ImportInput::Ipra(_) => Err(not_supported(
                "коннектор ФРИ принимает только документы (выписки ФРИ), а не ИПРА из реестра",
            )),
        }
    }

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        Err(not_supported("коннектор ФРИ не планирует шагов обмена"))
    }

    fn export(input: ExportInput) -> Result<Vec<Document>, PluginError> {
        match input {
            ExportInput::ReportPackage(mut report) => {
                // The region's own sections go within their federal parents.
                let sections = ipra_plugin_sdk::bindings::ipra::plugin::host::reference_list("sections");
                for entry in &mut report.entries {
                    let federal = within_federal_sections(&entry.section, &sections).to_string();
                    entry.section = federal;
                }
                export_report(&report)
            }
            _ => Err(not_supported(
                "коннектор ФРИ выгружает только пакеты отчётов об исполнении",
            )),
        }
    }
}

// Exported only in the component: natively (the host's benchmark, the fuzzer) several plugins
// link into one binary, and their exports would clash.
#[cfg(target_arch = "wasm32")]
ipra_plugin_sdk::bindings::export_plugin!(Plugin with_types_in ipra_plugin_sdk::bindings);
