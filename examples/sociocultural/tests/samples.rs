//! The plugin's hooks run natively on the samples of `samples/`, as the server would call them, with the
//! host's look-ups answered from `samples/lookups.toml`: `cargo test`, no server needed.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    ExecuteInput, ExecutionInput, ExportInput, ImportInput, IpraExtract, PluginError, PluginKind,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::department::{DepartmentPlugin, MemoryLookups};
use ipra_plugin_sdk::testing;

use ipra_plugin_sociocultural::{Plugin, DEPARTMENT};

fn sample(name: &str) -> String {
    testing::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

fn ipra() -> IpraExtract {
    testing::ipra_from_toml(&sample("samples/ipra.toml")).unwrap()
}

fn lookups() -> MemoryLookups {
    testing::lookups_from_toml(&sample("samples/lookups.toml")).unwrap()
}

fn execution(name: &str) -> ExecutionInput {
    testing::execution_from_toml(ipra(), &sample(name)).unwrap()
}

fn errors(name: &str) -> Vec<PluginError> {
    let input = ExecuteInput::Execution(execution(name));
    <Plugin as DepartmentPlugin>::execute(input, &lookups()).unwrap().errors
}

#[test]
fn describe_agrees_with_the_manifest() {
    let info = <Plugin as Guest>::describe();
    let manifest = sample("plugin.toml");
    assert!(
        manifest.contains(&format!("id = \"{}\"", info.id)),
        "plugin.toml names id {}",
        info.id
    );
    assert!(matches!(info.kind, PluginKind::Department));
    assert!(manifest.contains("kind = \"department\""));
    assert_eq!(info.sections, [DEPARTMENT.section.to_string()]);
}

#[test]
fn import_claims_the_measures_of_the_section() {
    let out = <Plugin as DepartmentPlugin>::import(ImportInput::Ipra(ipra()), &lookups()).unwrap();
    let claimed: Vec<(&str, Option<&str>)> = out
        .claims
        .iter()
        .map(|c| (c.measure_key.as_str(), c.executor_ogrn.as_deref()))
        .collect();
    // Measure 1 by the extract's executor, measure 2 by the routing rule; the health measure is not ours.
    assert_eq!(claimed, [("1", Some("1027700132195")), ("2", Some("1037739010891"))]);
    assert!(out.claims.iter().all(|c| c.section == DEPARTMENT.section));
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[test]
fn execute_accepts_a_valid_record() {
    let found = errors("samples/execution-valid.toml");
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn execute_refuses_an_invalid_record_naming_the_fields() {
    let found = errors("samples/execution-invalid.toml");
    let fields: Vec<(&str, &str)> = found
        .iter()
        .map(|e| (e.code.as_str(), e.field.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        fields,
        [
            ("missing-field", "Причины неисполнения"),
            ("activity-missing", "Комментарий")
        ],
        "{found:#?}"
    );
    assert!(found.iter().all(|e| e.record.is_some() && !e.message.is_empty()));
}

#[test]
fn export_renders_the_section_of_the_report() {
    let report = testing::report_of(
        &execution("samples/execution-valid.toml"),
        "1027700132195",
        "Министерство",
    );
    let documents = <Plugin as DepartmentPlugin>::export(ExportInput::ReportSection(report), &lookups()).unwrap();
    assert_eq!(documents.len(), 1);
    assert_eq!(documents[0].name, format!("report-section-{}.xml", DEPARTMENT.section));
    let xml = String::from_utf8(documents[0].bytes.clone()).unwrap();
    assert!(
        xml.contains(&format!("<Section code=\"{}\">", DEPARTMENT.section)),
        "{xml}"
    );
    assert!(xml.contains("Социокультурная реабилитация"), "{xml}");
    assert_eq!(xml.matches("status=\"executed\"").count(), 2, "{xml}");
}

#[test]
fn export_refuses_a_report_its_own_rules_refuse() {
    let report = testing::report_of(
        &execution("samples/execution-invalid.toml"),
        "1027700132195",
        "Министерство",
    );
    let error = <Plugin as DepartmentPlugin>::export(ExportInput::ReportSection(report), &lookups()).unwrap_err();
    assert!(!error.message.is_empty() && error.field.is_some(), "{error:?}");
}

#[test]
fn the_kind_of_activity_is_read_from_the_comment_or_the_attribute() {
    let input = execution("samples/execution-valid.toml");
    let kinds: Vec<Option<&str>> = input
        .entries
        .iter()
        .map(ipra_plugin_sociocultural::activity_of)
        .collect();
    assert_eq!(kinds, [Some("theatre"), Some("library")]);
    let refused = errors("samples/execution-invalid.toml");
    let own = refused.iter().find(|e| e.code == "activity-missing").unwrap();
    assert_eq!(own.record.as_deref(), Some("Мероприятие 1 (мероприятие ИПРА 1)"));
    assert!(
        own.message.contains("укажите в комментарии вид мероприятия"),
        "{}",
        own.message
    );
}
