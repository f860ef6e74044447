//! Department plugin «Социокультурная реабилитация» of an example vendor: claims the IPRA measures of section
//! `sociocultural`, validates their execution and renders its section of the execution report.
//!
//! Made by `ipra plugin new sociocultural --kind department --label "Социокультурная реабилитация"`; the
//! vendor changed only [`own_rules`]: an executed socio-cultural measure names the kind of activity — a
//! concert, theatre, museum or exhibition, library, club or circle, excursion, film, festival — in the
//! attribute `activity` (one of [`ACTIVITIES`]' codes) or in words in its comment. The region's statistics of
//! socio-cultural rehabilitation are kept by that kind.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    Document, ExecuteInput, ExecuteOutput, ExecutionEntry, ExecutionInput, ExecutionStatus, ExportInput, PluginError,
};
use ipra_plugin_sdk::department::{attribute, entry_record, field, Department, Lookups};

/// This department: its plugin id, the section of the measures it executes and the section's Russian label.
pub const DEPARTMENT: Department = Department {
    id: "sociocultural",
    section: "sociocultural",
    label: "Социокультурная реабилитация",
};

/// The kinds of socio-cultural activity: the code of the attribute `activity`, the Russian name, and the stems
/// by which a comment names it.
pub const ACTIVITIES: [(&str, &str, &[&str]); 8] = [
    ("concert", "концерт", &["концерт"]),
    ("theatre", "театр", &["театр", "спектакл"]),
    ("museum", "музей или выставка", &["музе", "выставк"]),
    ("library", "библиотека", &["библиотек"]),
    ("club", "клуб или кружок", &["клуб", "кружок", "кружк"]),
    ("excursion", "экскурсия", &["экскурси"]),
    ("cinema", "кинопоказ", &["кино", "фильм"]),
    ("festival", "фестиваль", &["фестивал"]),
];

ipra_plugin_sdk::department_plugin!(
    /// The plugin exported to the host.
    Plugin = DEPARTMENT, {
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

/// The kind of activity an entry names: the attribute `activity` when it is a known code, else the first kind
/// whose stem the comment contains (any case).
///
/// ```
/// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecutionEntry, ExecutionStatus};
/// let mut entry = ExecutionEntry {
///     measure_key: None, section: "sociocultural".into(), status: ExecutionStatus::Executed,
///     measure_name: "Социокультурная реабилитация".into(), executor_ogrn: String::new(), executor_name: None,
///     clarification: None, execution_date: None, reasons: Vec::new(),
///     comment: Some("Посещение Театра юного зрителя".into()), extra: Vec::new(),
/// };
/// assert_eq!(ipra_plugin_sociocultural::activity_of(&entry), Some("theatre"));
/// entry.comment = Some("Проведено мероприятие".into());
/// assert_eq!(ipra_plugin_sociocultural::activity_of(&entry), None);
/// ```
pub fn activity_of(entry: &ExecutionEntry) -> Option<&'static str> {
    if let Some(code) = attribute(&entry.extra, "activity") {
        return ACTIVITIES
            .iter()
            .find(|(c, _, _)| *c == code.trim())
            .map(|(c, _, _)| *c);
    }
    let comment = entry.comment.as_deref().unwrap_or_default().to_lowercase();
    ACTIVITIES
        .iter()
        .find(|(_, _, stems)| stems.iter().any(|stem| comment.contains(stem)))
        .map(|(code, _, _)| *code)
}

/// This department's own rule, beyond the SDK's: an executed measure of the section names its kind of
/// activity ([`activity_of`]); the error names the entry and the field «Комментарий».
pub fn own_rules(input: &ExecutionInput) -> Vec<PluginError> {
    let mut errors = Vec::new();
    for (index, entry) in input.entries.iter().enumerate() {
        if entry.section != DEPARTMENT.section || !matches!(entry.status, ExecutionStatus::Executed) {
            continue;
        }
        if activity_of(entry).is_none() {
            let kinds: Vec<&str> = ACTIVITIES.iter().map(|(_, name, _)| *name).collect();
            errors.push(PluginError {
                code: "activity-missing".to_string(),
                message: format!(
                    "Социокультурная реабилитация: укажите в комментарии вид мероприятия ({}), например «посещение театра»",
                    kinds.join(", ")
                ),
                record: Some(entry_record(index + 1, entry)),
                field: Some(field::COMMENT.to_string()),
            });
        }
    }
    errors
}
