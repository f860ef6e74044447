//! The plugin's hooks run natively on the samples of `samples/`, as the server would call them:
//! `cargo test`, no server needed.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ExecuteInput, ExportInput, FactBatch, ImportInput, Normalized, PlanInput, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::testing;

use {{crate_ident}}::Plugin;

fn sample(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

#[test]
fn describe_agrees_with_the_manifest() {
    let info = Plugin::describe();
    let manifest = testing::read(sample("plugin.toml")).unwrap();
    assert!(
        manifest.contains(&format!("id = \"{}\"", info.id)),
        "plugin.toml names id {}",
        info.id
    );
    assert!(
        manifest.contains(&format!("version = \"{}\"", info.version)),
        "the same version"
    );
    assert!(matches!(info.kind, PluginKind::Connector));
    assert!(manifest.contains("kind = \"connector\""));
}

/// What became of a line: (record id, SNILS) of a death record, or (code, field) of the error.
type Outcome<'a> = Result<(&'a str, Option<&'a str>), (&'a str, Option<&'a str>)>;

#[test]
fn import_reads_every_line_and_refuses_the_bad_ones_by_number() {
    let document = testing::document(&sample("samples/notices.csv")).unwrap();
    let out = Plugin::import(ImportInput::Document(document)).unwrap();
    let outcomes: Vec<(&str, Outcome)> = out
        .records
        .iter()
        .map(|r| {
            let outcome = match &r.outcome {
                Ok(Normalized::Death(d)) => Ok((d.record_id.as_str(), d.snils.as_deref())),
                Ok(other) => panic!("{}: not a death record: {other:?}", r.locator),
                Err(e) => Err((e.code.as_str(), e.field.as_deref())),
            };
            (r.locator.as_str(), outcome)
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("Строка 2", Ok(("N-1", Some("12033421587")))),
            ("Строка 3", Ok(("N-2", None))),
            ("Строка 4", Err(("snils-checksum", Some("СНИЛС")))),
            ("Строка 5", Err(("missing-field", Some("Фамилия")))),
        ]
    );
}

#[test]
fn import_refuses_what_is_not_text() {
    let document = ipra_plugin_sdk::bindings::ipra::plugin::types::Document {
        name: "binary.csv".into(),
        media_type: "text/csv".into(),
        bytes: vec![0xff, 0xfe, 0x00],
    };
    let error = Plugin::import(ImportInput::Document(document)).unwrap_err();
    assert_eq!(error.code, "encoding");
    assert!(error.message.contains("binary.csv"), "{}", error.message);
}

#[test]
fn execute_and_export_are_not_supported() {
    let plan = PlanInput {
        step: "check".into(),
        persons: Vec::new(),
        today: "2025-03-01".into(),
        extra: Vec::new(),
    };
    assert_eq!(
        Plugin::execute(ExecuteInput::Plan(plan)).unwrap_err().code,
        "not-supported"
    );
    let facts = FactBatch {
        package_id: "p".into(),
        facts: Vec::new(),
        extra: Vec::new(),
    };
    assert_eq!(
        Plugin::export(ExportInput::Facts(facts)).unwrap_err().code,
        "not-supported"
    );
}
