//! Department plugin «{{label}}»: claims the IPRA measures of section `{{section}}`, validates their execution
//! (the SDK's rules of the execution form plus this department's own, [`own_rules`]) and renders its section of
//! the execution report. Everything but [`own_rules`] is the SDK's [`department`](ipra_plugin_sdk::department).

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Document, ExecuteInput, ExecuteOutput, ExecutionEntry, ExecutionInput, ExecutionStatus, ExportInput, PluginError,
};
use ipra_plugin_sdk::department::{entry_record, field, Department, Lookups};

/// This department: its plugin id, the section of the measures it executes and the section's Russian label.
pub const DEPARTMENT: Department = Department {
    id: "{{id}}",
    section: "{{section}}",
    label: "{{label}}",
};

ipra_plugin_sdk::department_plugin!(
    /// The plugin exported to the host.
    Plugin = DEPARTMENT, {
    // `import` (claiming the measures of the section) is the SDK's. Override it here to do more.

    fn execute(input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
        let ExecuteInput::Execution(execution) = &input else {
            return DEPARTMENT.execute(input, lookups);
        };
        // The SDK's rules of the execution form first, then this department's own.
        let mut errors = DEPARTMENT.validate(execution, lookups);
        errors.extend(own_rules(execution));
        Ok(ExecuteOutput { errors, follow_ups: Vec::new() })
    }

    fn export(input: ExportInput, lookups: &dyn Lookups) -> Result<Vec<Document>, PluginError> {
        // A report section is rendered only from entries that pass the department's own rules too.
        if let ExportInput::ReportSection(report) = &input {
            let execution = ExecutionInput {
                ipra: report.ipra.clone(),
                entries: report.entries.iter().filter(|e| e.section == DEPARTMENT.section).cloned().collect(),
                today: report.created.get(..10).unwrap_or(&report.created).to_string(),
            };
            if let Some(first) = own_rules(&execution).into_iter().next() {
                return Err(first);
            }
        }
        DEPARTMENT.export(input, lookups)
    }
});

/// This department's own rules, beyond the SDK's: one error per problem, each naming the entry (`record`) and
/// the field of the execution form (`field`), with a message in Russian that the clerk sees as it is.
///
/// The rule given as an example: an executed measure says in its comment what was done.
pub fn own_rules(input: &ExecutionInput) -> Vec<PluginError> {
    let mut errors = Vec::new();
    for (index, entry) in input.entries.iter().enumerate() {
        if entry.section != DEPARTMENT.section {
            continue;
        }
        errors.extend(check_entry(index + 1, entry));
    }
    errors
}

fn check_entry(position: usize, entry: &ExecutionEntry) -> Option<PluginError> {
    let described = entry.comment.as_deref().is_some_and(|c| !c.trim().is_empty());
    if matches!(entry.status, ExecutionStatus::Executed) && !described {
        return Some(PluginError {
            code: "comment-required".to_string(),
            message: format!(
                "Раздел «{}»: опишите в комментарии, что сделано по мероприятию «{}»",
                DEPARTMENT.label, entry.measure_name
            ),
            record: Some(entry_record(position, entry)),
            field: Some(field::COMMENT.to_string()),
        });
    }
    None
}
