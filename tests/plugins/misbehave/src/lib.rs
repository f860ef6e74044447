//! A plugin that misbehaves on request, so the tests can prove that the sandbox contains it:
//! the document name selects the misdeed (`loop`, `alloc`, `trap`, `stack`); anything else echoes.
//!
//! Installed with `kind = "department"` in its manifest and `[config] kind = "department"`, it is a
//! department of the sections its `sections` setting lists (comma-separated) that commits the
//! misdeed its `misdeed` setting names on every IPRA it is asked to claim: for the tests of what a
//! department's failure does to an import (`[limits] on_failure`).

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput, Normalized, PluginError,
    PluginInfo, PluginKind, RecordOutcome,
};
use ipra_plugin_sdk::bindings::{ipra::plugin::host, Guest};

struct Misbehave;

/// Commits the misdeed `name` names (`loop`, `alloc`, `trap`, `stack`); returns for anything else.
fn misbehave(name: &str) {
    match name {
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "alloc" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => panic!("deliberate trap"),
        // Busy for a while (the `spin` setting's count of rounds), then answers as usual.
        "slow" => {
            let rounds: u64 = host::config("spin").and_then(|s| s.parse().ok()).unwrap_or(1 << 30);
            let mut n: u64 = 0;
            for _ in 0..rounds {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "stack" => {
            std::hint::black_box(recurse([0; 8]));
        }
        _ => {}
    }
}

/// Whether the installation made it a department (`[config] kind = "department"`).
fn is_department() -> bool {
    host::config("kind").as_deref() == Some("department")
}

fn not_supported() -> PluginError {
    PluginError {
        code: "not-supported".into(),
        message: "Не поддерживается".into(),
        record: None,
        field: None,
    }
}

/// Recurses until the wasm stack is exhausted (the frame holds a value so it cannot be optimised away).
#[allow(unconditional_recursion)]
fn recurse(frame: [u64; 8]) -> u64 {
    let next = std::hint::black_box([frame[0] + 1; 8]);
    std::hint::black_box(recurse(next)) + frame[7]
}

impl Guest for Misbehave {
    fn describe() -> PluginInfo {
        let department = is_department();
        PluginInfo {
            id: "misbehave".into(),
            name: "Тестовый плагин-нарушитель".into(),
            version: "1.0.0".into(),
            kind: if department {
                PluginKind::Department
            } else {
                PluginKind::Connector
            },
            sections: host::config("sections")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            document_types: vec!["test".into()],
            hooks: vec![Hook::Import, Hook::Execute],
            config_keys: vec![],
            lookups: vec![],
        }
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        let doc = match input {
            ImportInput::Document(doc) => doc,
            ImportInput::Ipra(_) if is_department() => {
                misbehave(&host::config("misdeed").unwrap_or_default());
                return Ok(ImportOutput {
                    records: vec![],
                    claims: vec![],
                    follow_ups: vec![],
                    warnings: vec![],
                });
            }
            ImportInput::Ipra(_) => return Err(not_supported()),
        };
        misbehave(&doc.name);
        host::log(host::LogLevel::Info, &format!("echo {}", doc.name));
        Ok(ImportOutput {
            records: vec![RecordOutcome {
                locator: doc.name.clone(),
                outcome: Ok(Normalized::Skipped(format!(
                    "{} байт; config echo = {:?}",
                    doc.bytes.len(),
                    host::config("echo")
                ))),
            }],
            claims: vec![],
            follow_ups: vec![],
            warnings: vec![],
        })
    }

    /// A plan step named like a misdeed commits it; any other step plans nothing.
    fn execute(input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        let ExecuteInput::Plan(plan) = input else {
            return Err(not_supported());
        };
        misbehave(&plan.step);
        Ok(ExecuteOutput {
            errors: vec![],
            follow_ups: vec![],
        })
    }

    fn export(_input: ExportInput) -> Result<Vec<Document>, PluginError> {
        Err(not_supported())
    }
}

ipra_plugin_sdk::bindings::export_plugin!(Misbehave);
