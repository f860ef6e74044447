//! Shared logic of the six department plugins: claiming the measures of a section, validating execution entries
//! and rendering the section of an execution report, with the host's look-ups behind the [`Lookups`] trait.

use crate::bindings::ipra::plugin::host::Organisation;
use crate::bindings::ipra::plugin::types::{
    Attribute, ConfigKey, Document, ExecuteInput, ExecuteOutput, ExecutionEntry, ExecutionInput, ExecutionStatus,
    ExportInput, Hook, ImportInput, ImportOutput, IpraExtract, Measure, MeasureClaim, PluginError, PluginInfo,
    PluginKind, ReferenceEntry, ReportInput,
};

/// Namespace of the report-section documents; `plugin-sdk/schemas/report-section-1.0.xsd` describes them.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::department::REPORT_SECTION_NAMESPACE, "urn:ipra:report-section:1.0");
/// ```
pub const REPORT_SECTION_NAMESPACE: &str = "urn:ipra:report-section:1.0";

/// Reference list of the non-execution reasons (codes an entry's `reasons` must come from).
///
/// ```
/// assert_eq!(ipra_plugin_sdk::department::NON_EXECUTION_REASONS, "non-execution-reasons");
/// ```
pub const NON_EXECUTION_REASONS: &str = "non-execution-reasons";

/// Reference list of the working-day calendar (`code` = date, `name` = `holiday` or `workday`).
///
/// ```
/// assert_eq!(ipra_plugin_sdk::department::WORKING_CALENDAR, "working-calendar");
/// ```
pub const WORKING_CALENDAR: &str = "working-calendar";

/// Names of the execution form's fields (руководство «ЛК исполнителя ИПРА» в ЕЦП), used as `field` of the errors.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::department::field::EXECUTOR_OGRN, "ОГРН исполнителя");
/// ```
pub mod field {
    /// The section an entry belongs to.
    pub const SECTION: &str = "Раздел";
    /// The IPRA measure an entry reports on.
    pub const MEASURE: &str = "Мероприятие ИПРА";
    /// «Наименование мероприятия».
    pub const MEASURE_NAME: &str = "Наименование мероприятия";
    /// «ОГРН исполнителя».
    pub const EXECUTOR_OGRN: &str = "ОГРН исполнителя";
    /// «Дата» (of execution).
    pub const DATE: &str = "Дата";
    /// «Причины неисполнения».
    pub const REASONS: &str = "Причины неисполнения";
    /// «Комментарий».
    pub const COMMENT: &str = "Комментарий";
    /// Today's date as the host passed it.
    pub const TODAY: &str = "Текущая дата";
}

/// The host's read-only look-ups, as a trait so native tests can supply fakes ([`MemoryLookups`]).
///
/// Inside a plugin use [`HostLookups`]; the host functions panic on a native build.
///
/// ```
/// use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
/// let lookups = MemoryLookups::default();
/// assert!(lookups.organisation_by_ogrn("1027700132195").is_none());
/// ```
pub trait Lookups {
    /// An executor organisation of the directory by OGRN.
    fn organisation_by_ogrn(&self, ogrn: &str) -> Option<Organisation>;
    /// The executor a routing rule names for a section in a territory.
    fn route(&self, section: &str, territory_code: &str) -> Option<Organisation>;
    /// The current version of a reference list.
    fn reference_list(&self, list_id: &str) -> Vec<ReferenceEntry>;
    /// The plugin's own configuration value.
    fn config(&self, key: &str) -> Option<String>;
}

/// The real look-ups: the host functions of the `ipra:plugin/host` interface.
///
/// ```no_run
/// use ipra_plugin_sdk::department::{HostLookups, Lookups};
/// // Only inside a plugin running in the host.
/// let reasons = HostLookups.reference_list("non-execution-reasons");
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct HostLookups;

impl Lookups for HostLookups {
    fn organisation_by_ogrn(&self, ogrn: &str) -> Option<Organisation> {
        crate::bindings::ipra::plugin::host::organisation_by_ogrn(ogrn)
    }
    fn route(&self, section: &str, territory_code: &str) -> Option<Organisation> {
        crate::bindings::ipra::plugin::host::route(section, territory_code)
    }
    fn reference_list(&self, list_id: &str) -> Vec<ReferenceEntry> {
        crate::bindings::ipra::plugin::host::reference_list(list_id)
    }
    fn config(&self, key: &str) -> Option<String> {
        crate::bindings::ipra::plugin::host::config(key)
    }
}

/// Look-ups held in memory: for native tests of department plugins and for tools.
///
/// ```
/// use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
/// let lookups = MemoryLookups::default()
///     .with_organisation("1027700132195", "ГБУЗ «Больница № 1»")
///     .with_route("health", "45000", "1027700132195")
///     .with_reference("non-execution-reasons", &[("refused", "Отказ")])
///     .with_config("clarification-days", "2");
/// assert_eq!(lookups.route("health", "45000").map(|o| o.name).as_deref(), Some("ГБУЗ «Больница № 1»"));
/// assert_eq!(lookups.reference_list("non-execution-reasons").len(), 1);
/// assert_eq!(lookups.config("clarification-days").as_deref(), Some("2"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryLookups {
    /// The directory of executor organisations.
    pub organisations: Vec<Organisation>,
    /// Routing rules: (section, territory code, OGRN of the executor).
    pub routes: Vec<(String, String, String)>,
    /// Reference lists by id.
    pub lists: Vec<(String, Vec<ReferenceEntry>)>,
    /// Configuration values.
    pub config: Vec<(String, String)>,
}

impl MemoryLookups {
    /// Adds an organisation to the directory.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
    /// let l = MemoryLookups::default().with_organisation("1027700132195", "ГБУЗ");
    /// assert!(l.organisation_by_ogrn("1027700132195").is_some());
    /// ```
    pub fn with_organisation(mut self, ogrn: &str, name: &str) -> Self {
        self.organisations.push(Organisation {
            ogrn: ogrn.to_string(),
            name: name.to_string(),
            department: None,
            territory_code: None,
        });
        self
    }

    /// Adds a routing rule naming an organisation of the directory (added with `with_organisation`).
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
    /// let l = MemoryLookups::default()
    ///     .with_organisation("1027700132195", "ГБУЗ")
    ///     .with_route("health", "45", "1027700132195");
    /// assert!(l.route("health", "45").is_some());
    /// assert!(l.route("sport", "45").is_none());
    /// ```
    pub fn with_route(mut self, section: &str, territory_code: &str, ogrn: &str) -> Self {
        self.routes
            .push((section.to_string(), territory_code.to_string(), ogrn.to_string()));
        self
    }

    /// Sets a reference list from (code, name) pairs.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
    /// let l = MemoryLookups::default().with_reference("working-calendar", &[("2025-01-01", "holiday")]);
    /// assert_eq!(l.reference_list("working-calendar")[0].name, "holiday");
    /// ```
    pub fn with_reference(mut self, list_id: &str, entries: &[(&str, &str)]) -> Self {
        let entries = entries
            .iter()
            .map(|(code, name)| ReferenceEntry {
                code: code.to_string(),
                name: name.to_string(),
                parent: None,
                extra: Vec::new(),
            })
            .collect();
        self.lists.retain(|(id, _)| id != list_id);
        self.lists.push((list_id.to_string(), entries));
        self
    }

    /// Sets a configuration value.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Lookups, MemoryLookups};
    /// assert_eq!(MemoryLookups::default().with_config("k", "v").config("k").as_deref(), Some("v"));
    /// ```
    pub fn with_config(mut self, key: &str, value: &str) -> Self {
        self.config.push((key.to_string(), value.to_string()));
        self
    }
}

impl Lookups for MemoryLookups {
    fn organisation_by_ogrn(&self, ogrn: &str) -> Option<Organisation> {
        self.organisations.iter().find(|o| o.ogrn == ogrn).cloned()
    }
    fn route(&self, section: &str, territory_code: &str) -> Option<Organisation> {
        self.routes
            .iter()
            .find(|(s, t, _)| s == section && t == territory_code)
            .and_then(|(_, _, ogrn)| self.organisation_by_ogrn(ogrn))
    }
    fn reference_list(&self, list_id: &str) -> Vec<ReferenceEntry> {
        self.lists
            .iter()
            .find(|(id, _)| id == list_id)
            .map(|(_, entries)| entries.clone())
            .unwrap_or_default()
    }
    fn config(&self, key: &str) -> Option<String> {
        self.config.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
}

/// One department: the plugin id, the IPRA section it executes and the section's Russian label.
///
/// Each department plugin declares one of these and implements its `Guest` by calling the methods below.
///
/// ```
/// use ipra_plugin_sdk::department::Department;
/// const HEALTH: Department = Department { id: "health", section: "health", label: "Охрана здоровья" };
/// assert_eq!(HEALTH.describe(Vec::new()).sections, vec!["health".to_string()]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Department {
    /// Plugin id (the manifest's `id`).
    pub id: &'static str,
    /// Section id of the measures it executes (`health`, ..., `tsr`).
    pub section: &'static str,
    /// Russian label of the section as the execution form shows it (руководство «ЛК исполнителя ИПРА» в ЕЦП).
    pub label: &'static str,
}

/// What the claim of one measure decided, before it becomes a [`MeasureClaim`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum ExecutorChoice {
    Extract(String),
    Routed(String),
    Coordinator,
}

impl Department {
    /// The plugin's description: a department of one section with all three hooks and the look-ups it uses.
    /// `config_keys` are the department's own settings (most have none).
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::Department;
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::PluginKind;
    /// let info = Department { id: "sport", section: "sport", label: "Физическая культура и спорт" }.describe(Vec::new());
    /// assert!(matches!(info.kind, PluginKind::Department));
    /// assert_eq!(info.name, "Раздел ИПРА «Физическая культура и спорт»");
    /// ```
    pub fn describe(&self, config_keys: Vec<ConfigKey>) -> PluginInfo {
        PluginInfo {
            id: self.id.to_string(),
            name: format!("Раздел ИПРА «{}»", self.label),
            version: env!("CARGO_PKG_VERSION").to_string(),
            kind: PluginKind::Department,
            sections: vec![self.section.to_string()],
            document_types: Vec::new(),
            hooks: vec![Hook::Import, Hook::Execute, Hook::Export],
            config_keys,
            lookups: vec!["organisation".to_string(), "route".to_string(), "reference".to_string()],
        }
    }

    /// The IPRA's measures of this department's section.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, sample_ipra};
    /// let ipra = sample_ipra();
    /// let health = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// assert!(health.measures(&ipra).all(|m| m.section == "health"));
    /// ```
    pub fn measures<'a>(&'a self, ipra: &'a IpraExtract) -> impl Iterator<Item = &'a Measure> + 'a {
        ipra.measures.iter().filter(move |m| m.section == self.section)
    }

    /// Hook `import`: claims the measures of the section of an IPRA just stored; a document is not supported.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{Document, ImportInput};
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let doc = Document { name: "a.xml".into(), media_type: "application/xml".into(), bytes: Vec::new() };
    /// let err = d.import(ImportInput::Document(doc), &MemoryLookups::default()).unwrap_err();
    /// assert_eq!(err.code, "not-supported");
    /// ```
    pub fn import(&self, input: ImportInput, lookups: &dyn Lookups) -> Result<ImportOutput, PluginError> {
        match input {
            ImportInput::Ipra(ipra) => Ok(self.claim(&ipra, lookups)),
            ImportInput::Document(doc) => Err(not_supported(&format!(
                "Раздел «{}» не читает внешние документы (получен «{}»): их читают коннекторы",
                self.label, doc.name
            ))),
        }
    }

    /// Claims every measure of the section. The executor is the extract's OGRN when it is valid and in the
    /// directory, else the routing rule for the person's territory, else none (the coordinator's queue) with a
    /// note saying why. An invalid OGRN in the extract is a warning: real extracts carry 7–8 digit ones.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups, sample_ipra};
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let out = d.claim(&sample_ipra(), &MemoryLookups::default());
    /// assert_eq!(out.claims.len(), 1);
    /// assert!(out.claims[0].executor_ogrn.is_none() && out.claims[0].note.is_some());
    /// ```
    pub fn claim(&self, ipra: &IpraExtract, lookups: &dyn Lookups) -> ImportOutput {
        let mut claims = Vec::new();
        let mut warnings = Vec::new();
        let territory = ipra
            .person
            .territory_code
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty());
        for measure in self.measures(ipra) {
            let record = format!("ИПРА № {}, мероприятие {}", ipra.number, measure.key);
            let mut why_not_extract = String::new();
            let mut choice = None;
            match measure
                .executor_ogrn
                .as_deref()
                .map(str::trim)
                .filter(|o| !o.is_empty())
            {
                None => why_not_extract = "в выписке не указан ОГРН исполнителя".to_string(),
                Some(ogrn) => match check_ogrn(ogrn) {
                    Err(problem) => {
                        warnings.push(PluginError {
                            code: problem.code().to_string(),
                            message: format!(
                                "ОГРН исполнителя «{ogrn}» в выписке неверен ({}): исполнитель мероприятия «{}» будет назначен по правилам маршрутизации",
                                problem.describe(),
                                measure.name
                            ),
                            record: Some(record.clone()),
                            field: Some(field::EXECUTOR_OGRN.to_string()),
                        });
                        why_not_extract =
                            format!("ОГРН исполнителя «{ogrn}» в выписке неверен ({})", problem.describe());
                    }
                    Ok(()) => match lookups.organisation_by_ogrn(ogrn) {
                        Some(org) => choice = Some(ExecutorChoice::Extract(org.ogrn)),
                        None => {
                            why_not_extract =
                                format!("организации с ОГРН {ogrn} из выписки нет в справочнике исполнителей")
                        }
                    },
                },
            }
            let choice = choice.unwrap_or_else(|| match territory.and_then(|t| lookups.route(self.section, t)) {
                Some(org) => ExecutorChoice::Routed(org.ogrn),
                None => ExecutorChoice::Coordinator,
            });
            let (executor_ogrn, note) = match choice {
                ExecutorChoice::Extract(ogrn) => (Some(ogrn), None),
                ExecutorChoice::Routed(ogrn) => {
                    let note = format!(
                        "Исполнитель назначен по правилу маршрутизации раздела «{}» для территории {}: {why_not_extract}",
                        self.label,
                        territory.unwrap_or_default()
                    );
                    (Some(ogrn), Some(note))
                }
                ExecutorChoice::Coordinator => {
                    let routing = match territory {
                        Some(t) => format!("правила маршрутизации раздела «{}» для территории {t} нет", self.label),
                        None => "территория гражданина не указана, маршрутизация невозможна".to_string(),
                    };
                    let note = format!(
                        "Исполнитель не определён: {why_not_extract}; {routing}. Мероприятие передано координатору для назначения"
                    );
                    (None, Some(note))
                }
            };
            claims.push(MeasureClaim {
                measure_key: measure.key.clone(),
                section: self.section.to_string(),
                executor_ogrn,
                note,
            });
        }
        ImportOutput {
            records: Vec::new(),
            claims,
            follow_ups: Vec::new(),
            warnings,
        }
    }

    /// Hook `execute`: validates an execution record's entries (see [`Department::validate`]); an exchange plan is
    /// not supported.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups, sample_ipra};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecuteInput, ExecutionInput};
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let input = ExecutionInput { ipra: sample_ipra(), entries: Vec::new(), today: "2025-03-01".into() };
    /// let out = d.execute(ExecuteInput::Execution(input), &MemoryLookups::default()).unwrap();
    /// assert!(out.errors.is_empty() && out.follow_ups.is_empty());
    /// ```
    pub fn execute(&self, input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
        match input {
            ExecuteInput::Execution(execution) => Ok(ExecuteOutput {
                errors: self.validate(&execution, lookups),
                follow_ups: Vec::new(),
            }),
            ExecuteInput::Plan(plan) => Err(not_supported(&format!(
                "Раздел «{}» не планирует обмен (шаг «{}»): это делают коннекторы",
                self.label, plan.step
            ))),
        }
    }

    /// Validates every entry of an execution record against the execution form's rules (руководство «ЛК исполнителя ИПРА» в ЕЦП) and returns
    /// the field-level errors; an empty list means the record is valid.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups, sample_ipra};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecutionEntry, ExecutionInput, ExecutionStatus};
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let entry = ExecutionEntry {
    ///     measure_key: None, section: "health".into(), status: ExecutionStatus::Executed,
    ///     measure_name: "".into(), executor_ogrn: "1027700132195".into(), executor_name: None,
    ///     clarification: None, execution_date: Some("2025-02-01".into()), reasons: Vec::new(),
    ///     comment: None, extra: Vec::new(),
    /// };
    /// let lookups = MemoryLookups::default().with_organisation("1027700132195", "ГБУЗ");
    /// let input = ExecutionInput { ipra: sample_ipra(), entries: vec![entry], today: "2025-03-01".into() };
    /// let errors = d.validate(&input, &lookups);
    /// assert_eq!(errors.len(), 1);
    /// assert_eq!(errors[0].field.as_deref(), Some("Наименование мероприятия"));
    /// ```
    pub fn validate(&self, input: &ExecutionInput, lookups: &dyn Lookups) -> Vec<PluginError> {
        self.validate_where(input, lookups, &|_| true)
    }

    /// [`Department::validate`] restricted to the entries `include` accepts; the others keep their positions, so
    /// errors still name the entry's place in the record (a section that gives some rows another meaning, such as
    /// a TSR clarification request, checks those itself).
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups, sample_ipra};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecutionEntry, ExecutionInput, ExecutionStatus};
    /// let d = Department { id: "tsr", section: "tsr", label: "Обеспечение ТСР" };
    /// let entry = ExecutionEntry {
    ///     measure_key: None, section: "tsr".into(), status: ExecutionStatus::Executed,
    ///     measure_name: "".into(), executor_ogrn: "".into(), executor_name: None, clarification: None,
    ///     execution_date: None, reasons: Vec::new(), comment: None, extra: Vec::new(),
    /// };
    /// let input = ExecutionInput { ipra: sample_ipra(), entries: vec![entry.clone(), entry], today: "2025-03-01".into() };
    /// let lookups = MemoryLookups::default();
    /// let second_only = d.validate_where(&input, &lookups, &|e| std::ptr::eq(e, &input.entries[1]));
    /// assert!(second_only.iter().all(|e| e.record.as_deref() == Some("Мероприятие 2")));
    /// ```
    pub fn validate_where(
        &self,
        input: &ExecutionInput,
        lookups: &dyn Lookups,
        include: &dyn Fn(&ExecutionEntry) -> bool,
    ) -> Vec<PluginError> {
        let mut errors = Vec::new();
        let today = parse_date(input.today.trim());
        if today.is_none() {
            errors.push(PluginError {
                code: "date-format".to_string(),
                message: format!("Текущая дата «{}» не распознана (ожидается ГГГГ-ММ-ДД)", input.today),
                record: None,
                field: Some(field::TODAY.to_string()),
            });
        }
        let reasons = lookups.reference_list(NON_EXECUTION_REASONS);
        let context = ValidationContext {
            ipra: &input.ipra,
            today: today.map(|d| (d, input.today.trim().to_string())),
            period: IpraPeriod::of(&input.ipra),
            reasons: &reasons,
        };
        for (index, entry) in input.entries.iter().enumerate() {
            if include(entry) {
                errors.extend(self.validate_entry(index + 1, entry, &context, lookups));
            }
        }
        errors
    }

    fn validate_entry(
        &self,
        position: usize,
        entry: &ExecutionEntry,
        context: &ValidationContext<'_>,
        lookups: &dyn Lookups,
    ) -> Vec<PluginError> {
        let record = entry_record(position, entry);
        let error = |code: &str, field: &str, message: String| PluginError {
            code: code.to_string(),
            message,
            record: Some(record.clone()),
            field: Some(field.to_string()),
        };
        let mut errors = Vec::new();

        if entry.section != self.section {
            // Another section's row is not ours to judge; say so once and skip the rest.
            errors.push(error(
                "section-mismatch",
                field::SECTION,
                format!(
                    "Мероприятие относится к разделу «{}», а проверяется разделом «{}»: перенесите его в свой раздел",
                    entry.section, self.label
                ),
            ));
            return errors;
        }
        if let Some(key) = entry.measure_key.as_deref() {
            if !self.measures(context.ipra).any(|m| m.key == key) {
                errors.push(error(
                    "measure-unknown",
                    field::MEASURE,
                    format!(
                        "В ИПРА № {} нет мероприятия «{key}» раздела «{}»",
                        context.ipra.number, self.label
                    ),
                ));
            }
        }
        if entry.measure_name.trim().is_empty() {
            errors.push(error(
                "missing-field",
                field::MEASURE_NAME,
                "Укажите наименование мероприятия".to_string(),
            ));
        }
        if let Err(e) = check_executor(&entry.executor_ogrn, lookups) {
            errors.push(error(&e.code, field::EXECUTOR_OGRN, e.message));
        }
        errors.extend(validate_date(entry, context, &error));
        match entry.status {
            ExecutionStatus::Executed => {
                if !entry.reasons.is_empty() {
                    errors.push(error(
                        "reasons-not-allowed",
                        field::REASONS,
                        "Причины неисполнения указываются только при результате «Не выполнено»: уберите их или смените результат".to_string(),
                    ));
                }
            }
            ExecutionStatus::NotExecuted => {
                if entry.reasons.is_empty() {
                    errors.push(error(
                        "missing-field",
                        field::REASONS,
                        "При результате «Не выполнено» выберите хотя бы одну причину неисполнения".to_string(),
                    ));
                }
                for code in &entry.reasons {
                    if !context.reasons.iter().any(|r| &r.code == code) {
                        errors.push(error(
                            "reason-unknown",
                            field::REASONS,
                            format!("Причины неисполнения с кодом «{code}» нет в справочнике причин неисполнения"),
                        ));
                    }
                }
                if entry.comment.as_deref().is_some_and(|c| !c.trim().is_empty()) {
                    errors.push(error(
                        "comment-not-allowed",
                        field::COMMENT,
                        "Комментарий указывается только при результате «Выполнено»: опишите обстоятельства в уточнении мероприятия".to_string(),
                    ));
                }
            }
        }
        errors
    }

    /// Hook `export`: renders the section of an execution report; other export inputs are not supported.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExportInput, FactBatch};
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let batch = FactBatch { package_id: "p".into(), facts: Vec::new(), extra: Vec::new() };
    /// assert_eq!(d.export(ExportInput::Facts(batch), &MemoryLookups::default()).unwrap_err().code, "not-supported");
    /// ```
    pub fn export(&self, input: ExportInput, lookups: &dyn Lookups) -> Result<Vec<Document>, PluginError> {
        match input {
            ExportInput::ReportSection(report) => Ok(vec![self.render_section(&report, lookups)?]),
            ExportInput::ReportPackage(_) => Err(not_supported(&format!(
                "Раздел «{}» формирует только свой раздел отчёта; пакет отчёта формирует коннектор",
                self.label
            ))),
            ExportInput::Facts(_) | ExportInput::Requests(_) => Err(not_supported(&format!(
                "Раздел «{}» не формирует сведения ЕГИССО и запросы: это делают коннекторы",
                self.label
            ))),
        }
    }

    /// Renders this section of an execution report as `report-section-<section>.xml` in the namespace
    /// [`REPORT_SECTION_NAMESPACE`]. Only the report's entries of this section are rendered; they are validated
    /// first (with the report's creation date as today) and the first error is returned, so a rendered section
    /// always satisfies the form's rules and the schema.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, MemoryLookups, sample_ipra};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::ReportInput;
    /// let d = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// let report = ReportInput {
    ///     report_id: "R-1".into(), ipra: sample_ipra(), entries: Vec::new(),
    ///     reporter_ogrn: "1027700132195".into(), reporter_name: "Минздрав".into(),
    ///     created: "2025-03-01".into(), sections: Vec::new(),
    /// };
    /// let doc = d.render_section(&report, &MemoryLookups::default()).unwrap();
    /// assert_eq!(doc.name, "report-section-health.xml");
    /// assert!(String::from_utf8(doc.bytes).unwrap().contains("<Measures/>"));
    /// ```
    pub fn render_section(&self, report: &ReportInput, lookups: &dyn Lookups) -> Result<Document, PluginError> {
        let entries: Vec<ExecutionEntry> = report
            .entries
            .iter()
            .filter(|e| e.section == self.section)
            .cloned()
            .collect();
        let today = report.created.get(..10).unwrap_or(&report.created).to_string();
        let input = ExecutionInput {
            ipra: report.ipra.clone(),
            entries,
            today,
        };
        if let Some(first) = self.validate(&input, lookups).into_iter().next() {
            return Err(first);
        }
        if let Err(problem) = check_ogrn(report.reporter_ogrn.trim()) {
            return Err(PluginError {
                code: problem.code().to_string(),
                message: format!(
                    "ОГРН отчитывающейся организации «{}» неверен: {}",
                    report.reporter_ogrn,
                    problem.describe()
                ),
                record: Some(format!("Отчёт {}", report.report_id)),
                field: Some("ОГРН отчитывающейся организации".to_string()),
            });
        }
        check_report_identity(report)?;
        let reasons = lookups.reference_list(NON_EXECUTION_REASONS);
        let ipra = &report.ipra;
        // The schema takes a date or an ISO date-time; anything else keeps only its date.
        let created = match report.created.as_bytes().get(10) {
            None | Some(b'T') => report.created.as_str(),
            Some(_) => report.created.get(..10).unwrap_or_default(),
        };
        let mut xml = XmlWriter::new();
        xml.open(
            "ReportSection",
            &[("xmlns", REPORT_SECTION_NAMESPACE), ("version", "1.0")],
        );
        xml.leaf("ReportId", &report.report_id);
        xml.leaf("Created", created);
        xml.leaf_with("Section", &[("code", self.section)], self.label);
        xml.open("Ipra", &[]);
        xml.leaf("ExtractId", &ipra.extract_id);
        xml.leaf("DocumentId", &ipra.document_id);
        xml.leaf("DocumentVersion", &ipra.document_version);
        xml.leaf("Number", &ipra.number);
        xml.leaf("ProtocolNumber", &ipra.protocol_number);
        xml.leaf("ProtocolDate", &ipra.protocol_date);
        xml.leaf_opt("DecisionDate", ipra.decision_date.as_deref());
        xml.leaf_opt("ValidUntil", ipra.valid_until.as_deref());
        xml.leaf_opt("IssuedBy", ipra.issued_by.as_deref());
        xml.open("Person", &[]);
        xml.leaf("Snils", &ipra.person.snils);
        xml.leaf("Surname", &ipra.person.surname);
        xml.leaf("GivenName", &ipra.person.given_name);
        xml.leaf_opt("Patronymic", ipra.person.patronymic.as_deref());
        xml.leaf_opt("BirthDate", ipra.person.birth_date.as_deref());
        xml.close("Person");
        xml.close("Ipra");
        xml.open("Reporter", &[]);
        xml.leaf("Ogrn", report.reporter_ogrn.trim());
        xml.leaf_opt("Name", Some(report.reporter_name.as_str()));
        xml.close("Reporter");
        if input.entries.is_empty() {
            xml.empty("Measures", &[]);
        } else {
            xml.open("Measures", &[]);
            for (index, entry) in input.entries.iter().enumerate() {
                let position = (index + 1).to_string();
                let mut attributes = vec![("position", position.as_str()), ("status", status_code(&entry.status))];
                if let Some(key) = entry.measure_key.as_deref() {
                    attributes.push(("key", key));
                }
                xml.open("Measure", &attributes);
                xml.leaf("Name", entry.measure_name.trim());
                let ogrn = entry.executor_ogrn.trim();
                let executor_name = entry
                    .executor_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .or_else(|| lookups.organisation_by_ogrn(ogrn).map(|o| o.name));
                xml.open("Executor", &[]);
                xml.leaf("Ogrn", ogrn);
                xml.leaf_opt("Name", executor_name.as_deref());
                xml.close("Executor");
                xml.leaf_opt("Clarification", entry.clarification.as_deref());
                xml.leaf_opt("Date", entry.execution_date.as_deref().map(str::trim));
                match entry.status {
                    ExecutionStatus::NotExecuted => {
                        xml.open("Reasons", &[]);
                        for code in &entry.reasons {
                            let name = reasons
                                .iter()
                                .find(|r| &r.code == code)
                                .map(|r| r.name.as_str())
                                .unwrap_or_default();
                            xml.leaf_with("Reason", &[("code", code)], name);
                        }
                        xml.close("Reasons");
                    }
                    ExecutionStatus::Executed => {
                        xml.leaf_opt("Comment", entry.comment.as_deref());
                    }
                }
                xml.close("Measure");
            }
            xml.close("Measures");
        }
        xml.close("ReportSection");
        Ok(Document {
            name: format!("report-section-{}.xml", self.section),
            media_type: "application/xml".to_string(),
            bytes: xml.finish().into_bytes(),
        })
    }
}

/// The identity a report section cannot be rendered without (the schema requires it non-blank).
fn check_report_identity(report: &ReportInput) -> Result<(), PluginError> {
    let ipra = &report.ipra;
    let record = format!("ИПРА № {}", ipra.number);
    let required = [
        (report.report_id.as_str(), "Идентификатор отчёта"),
        (ipra.extract_id.as_str(), "Идентификатор выписки"),
        (ipra.document_id.as_str(), "Идентификатор документа ИПРА"),
        (ipra.document_version.as_str(), "Версия документа ИПРА"),
        (ipra.number.as_str(), "Номер ИПРА"),
        (ipra.person.surname.as_str(), "Фамилия"),
        (ipra.person.given_name.as_str(), "Имя"),
        (report.reporter_name.as_str(), "Наименование отчитывающейся организации"),
    ];
    if let Some((_, name)) = required.iter().find(|(value, _)| value.trim().is_empty()) {
        return Err(PluginError {
            code: "missing-field".to_string(),
            message: format!("Не заполнено поле «{name}»: раздел отчёта не сформирован"),
            record: Some(record),
            field: Some(name.to_string()),
        });
    }
    let snils = &ipra.person.snils;
    if snils.len() != 11 || !snils.bytes().all(|c| c.is_ascii_digit()) {
        return Err(PluginError {
            code: "snils-format".to_string(),
            message: format!("СНИЛС «{snils}» должен состоять из 11 цифр без разделителей"),
            record: Some(record),
            field: Some("СНИЛС".to_string()),
        });
    }
    Ok(())
}

/// Checks the execution date of an entry: required when executed, a date, not after today, within the IPRA.
fn validate_date(
    entry: &ExecutionEntry,
    context: &ValidationContext<'_>,
    error: &dyn Fn(&str, &str, String) -> PluginError,
) -> Option<PluginError> {
    let text = entry.execution_date.as_deref().map(str::trim).filter(|d| !d.is_empty());
    let Some(text) = text else {
        return matches!(entry.status, ExecutionStatus::Executed).then(|| {
            error(
                "missing-field",
                field::DATE,
                "Укажите дату исполнения мероприятия".to_string(),
            )
        });
    };
    let Some(date) = parse_date(text) else {
        return Some(error(
            "date-format",
            field::DATE,
            format!("Дата «{text}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
        ));
    };
    if let Some((today, today_text)) = &context.today {
        if date > *today {
            return Some(error(
                "date-in-future",
                field::DATE,
                format!("Дата {text} позже сегодняшней ({today_text})"),
            ));
        }
    }
    if let Some((from, from_text)) = &context.period.from {
        if date < *from {
            return Some(error(
                "date-before-ipra",
                field::DATE,
                format!("Дата {text} раньше даты решения по ИПРА ({from_text})"),
            ));
        }
    }
    if let Some((until, until_text)) = &context.period.until {
        if date > *until {
            return Some(error(
                "date-after-ipra",
                field::DATE,
                format!("Дата {text} позже окончания срока действия ИПРА ({until_text})"),
            ));
        }
    }
    None
}

/// What an execution is checked against: the IPRA, today and the reason list, read once per call.
struct ValidationContext<'a> {
    ipra: &'a IpraExtract,
    today: Option<(Date, String)>,
    period: IpraPeriod,
    reasons: &'a [ReferenceEntry],
}

/// The period an IPRA is in force: from the decision (or, lacking it, the protocol) date to `valid_until`.
struct IpraPeriod {
    from: Option<(Date, String)>,
    until: Option<(Date, String)>,
}

impl IpraPeriod {
    fn of(ipra: &IpraExtract) -> Self {
        let dated = |text: &str| parse_date(text.trim()).map(|d| (d, text.trim().to_string()));
        let from = ipra
            .decision_date
            .as_deref()
            .and_then(dated)
            .or_else(|| dated(&ipra.protocol_date));
        let until = ipra.valid_until.as_deref().and_then(dated);
        IpraPeriod { from, until }
    }
}

/// Code of an execution status as the report documents write it (`executed`, `not-executed`).
///
/// ```
/// # use ipra_plugin_sdk::department::status_code;
/// # use ipra_plugin_sdk::bindings::ipra::plugin::types::ExecutionStatus;
/// assert_eq!(status_code(&ExecutionStatus::NotExecuted), "not-executed");
/// ```
pub fn status_code(status: &ExecutionStatus) -> &'static str {
    match status {
        ExecutionStatus::Executed => "executed",
        ExecutionStatus::NotExecuted => "not-executed",
    }
}

/// How an error names an execution entry: its position in the record and, when any, the IPRA measure.
///
/// ```
/// # use ipra_plugin_sdk::department::entry_record;
/// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecutionEntry, ExecutionStatus};
/// let mut entry = ExecutionEntry {
///     measure_key: Some("14".into()), section: "health".into(), status: ExecutionStatus::Executed,
///     measure_name: "Реабилитация".into(), executor_ogrn: String::new(), executor_name: None,
///     clarification: None, execution_date: None, reasons: Vec::new(), comment: None, extra: Vec::new(),
/// };
/// assert_eq!(entry_record(2, &entry), "Мероприятие 2 (мероприятие ИПРА 14)");
/// entry.measure_key = None;
/// assert_eq!(entry_record(2, &entry), "Мероприятие 2");
/// ```
pub fn entry_record(position: usize, entry: &ExecutionEntry) -> String {
    match entry.measure_key.as_deref() {
        Some(key) => format!("Мероприятие {position} (мероприятие ИПРА {key})"),
        None => format!("Мероприятие {position}"),
    }
}

/// The value of a free attribute by code.
///
/// ```
/// # use ipra_plugin_sdk::department::attribute;
/// # use ipra_plugin_sdk::bindings::ipra::plugin::types::Attribute;
/// let extra = vec![Attribute { code: "consent".into(), value: "true".into() }];
/// assert_eq!(attribute(&extra, "consent"), Some("true"));
/// assert_eq!(attribute(&extra, "reason"), None);
/// ```
pub fn attribute<'a>(extra: &'a [Attribute], code: &str) -> Option<&'a str> {
    extra.iter().find(|a| a.code == code).map(|a| a.value.as_str())
}

/// A free attribute (for follow-ups).
///
/// ```
/// # use ipra_plugin_sdk::department::attr;
/// assert_eq!(attr("snils", "12345678901").value, "12345678901");
/// ```
pub fn attr(code: &str, value: &str) -> Attribute {
    Attribute {
        code: code.to_string(),
        value: value.to_string(),
    }
}

/// The typed error for an input a plugin does not handle (code `not-supported`).
///
/// ```
/// # use ipra_plugin_sdk::department::not_supported;
/// assert_eq!(not_supported("нет").code, "not-supported");
/// ```
pub fn not_supported(message: &str) -> PluginError {
    PluginError {
        code: "not-supported".to_string(),
        message: message.to_string(),
        record: None,
        field: None,
    }
}

/// Checks an executor OGRN of an execution entry: present, valid (OGRN or OGRNIP checksum) and in the directory
/// of executors. Returns the organisation, or the error without record and field (the caller knows both).
///
/// ```
/// # use ipra_plugin_sdk::department::{check_executor, MemoryLookups};
/// let lookups = MemoryLookups::default().with_organisation("1027700132195", "ГБУЗ");
/// assert_eq!(check_executor("1027700132195", &lookups).unwrap().name, "ГБУЗ");
/// assert_eq!(check_executor(" ", &lookups).unwrap_err().code, "missing-field");
/// assert_eq!(check_executor("1027700132196", &lookups).unwrap_err().code, "ogrn-checksum");
/// assert_eq!(check_executor("1037739010891", &lookups).unwrap_err().code, "executor-unknown");
/// ```
pub fn check_executor(ogrn: &str, lookups: &dyn Lookups) -> Result<Organisation, PluginError> {
    let ogrn = ogrn.trim();
    let fail = |code: &str, message: String| PluginError {
        code: code.to_string(),
        message,
        record: None,
        field: None,
    };
    if ogrn.is_empty() {
        return Err(fail("missing-field", "Укажите ОГРН исполнителя".to_string()));
    }
    if let Err(problem) = check_ogrn(ogrn) {
        return Err(fail(
            problem.code(),
            format!("ОГРН «{ogrn}» неверен: {}", problem.describe()),
        ));
    }
    lookups.organisation_by_ogrn(ogrn).ok_or_else(|| {
        fail(
            "executor-unknown",
            format!(
                "Организации с ОГРН {ogrn} нет в справочнике исполнителей ИПРА: попросите координатора добавить её в справочник"
            ),
        )
    })
}

/// A text (such as a document id) as part of a file name: anything but letters, digits, `-` and `_` becomes `_`.
///
/// ```
/// # use ipra_plugin_sdk::department::file_name_part;
/// assert_eq!(file_name_part("1234.5.45/2025"), "1234_5_45_2025");
/// ```
pub fn file_name_part(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// The date `days` working days after `from` (both `YYYY-MM-DD`): Saturdays and Sundays are non-working unless
/// the calendar lists them as `workday`, other days are working unless listed as `holiday`. The calendar is the
/// host's [`WORKING_CALENDAR`] reference list. `None` when `from` is not a date.
///
/// ```
/// # use ipra_plugin_sdk::department::{add_working_days, MemoryLookups, Lookups};
/// let calendar = MemoryLookups::default()
///     .with_reference("working-calendar", &[("2025-06-12", "holiday")])
///     .reference_list("working-calendar");
/// // Tuesday 10 June 2025: Wednesday 11 is the 1st working day, Thursday 12 a holiday, Friday 13 the 2nd.
/// assert_eq!(add_working_days("2025-06-10", 2, &calendar).as_deref(), Some("2025-06-13"));
/// ```
pub fn add_working_days(from: &str, days: u32, calendar: &[ReferenceEntry]) -> Option<String> {
    let mut date = parse_date(from.trim())?;
    let listed = |d: Date, kind: &str| {
        calendar
            .iter()
            .any(|e| e.name.trim() == kind && parse_date(e.code.trim()) == Some(d))
    };
    let mut left = days;
    while left > 0 {
        date += 1;
        let working = if weekday(date) >= 5 {
            listed(date, "workday")
        } else {
            !listed(date, "holiday")
        };
        if working {
            left -= 1;
        }
    }
    Some(format_date(date))
}

/// Whether a text is a calendar date `YYYY-MM-DD`.
///
/// ```
/// # use ipra_plugin_sdk::department::is_date;
/// assert!(is_date("2024-02-29"));
/// assert!(!is_date("2025-02-29"));
/// assert!(!is_date("01.02.2025"));
/// ```
pub fn is_date(text: &str) -> bool {
    parse_date(text).is_some()
}

/// A small IPRA with one measure of every section and one unmapped measure, for examples and tests.
///
/// ```
/// let ipra = ipra_plugin_sdk::department::sample_ipra();
/// assert_eq!(ipra.measures.len(), 7);
/// ```
pub fn sample_ipra() -> IpraExtract {
    use crate::bindings::ipra::plugin::types::Person;
    let measure = |key: &str, section: &str, category: &str, code: Option<&str>, name: &str| Measure {
        key: key.to_string(),
        section: section.to_string(),
        category_code: category.to_string(),
        category_name: String::new(),
        code: code.map(str::to_string),
        name: name.to_string(),
        guid: None,
        executor_ogrn: None,
        executor_name: None,
        date_from: None,
        date_to: None,
        quantity: None,
        extra: Vec::new(),
    };
    IpraExtract {
        extract_id: "E-1".to_string(),
        document_id: "D-1".to_string(),
        document_version: "IPRA_20221024".to_string(),
        number: "1234.5.45/2025".to_string(),
        protocol_number: "1234.5.45/2025".to_string(),
        protocol_date: "2025-01-10".to_string(),
        decision_date: Some("2025-01-10".to_string()),
        valid_until: Some("2026-02-01".to_string()),
        issued_by: Some("Бюро медико-социальной экспертизы № 5".to_string()),
        is_child: false,
        person: Person {
            snils: "11223344595".to_string(),
            surname: "Иванов".to_string(),
            given_name: "Иван".to_string(),
            patronymic: Some("Иванович".to_string()),
            birth_date: Some("1970-05-01".to_string()),
            gender: Some("M".to_string()),
            territory_code: Some("45000".to_string()),
            address: Some("г. Курган, ул. Ленина, д. 1".to_string()),
            extra: Vec::new(),
        },
        measures: vec![
            measure("1", "health", "MSE.IPRA.REHAB:1", Some("1"), "Медицинская реабилитация"),
            measure(
                "2",
                "employment",
                "MSE.IPRA.REHAB:3",
                Some("3"),
                "Профессиональная ориентация",
            ),
            measure(
                "3",
                "education",
                "MSE.IPRA.REHAB:2",
                Some("2"),
                "Психолого-педагогическая помощь",
            ),
            measure(
                "4",
                "social-protection",
                "MSE.IPRA.REHAB:4",
                Some("4"),
                "Социально-бытовая реабилитация",
            ),
            measure(
                "5",
                "sport",
                "MSE.IPRA.PHYSIOTHERAPY",
                None,
                "Адаптивная физическая культура",
            ),
            measure(
                "6",
                "tsr",
                "MSE.IPRA.TSR",
                Some("7-02-01"),
                "Кресло-коляска с ручным приводом",
            ),
            measure("7", "", "MSE.IPRA.UNKNOWN", None, "Мероприятие без раздела"),
        ],
        extra: Vec::new(),
    }
}

// ---- support: small date, OGRN and XML helpers (to move onto the SDK's shared modules when they exist) ----

/// A calendar date as days since 1970-01-01.
type Date = i64;

/// Strict `YYYY-MM-DD` to days since 1970-01-01.
fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<i64> {
        let part = text.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if d < 1 || d > month_days {
        return None;
    }
    // Days from civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

fn format_date(days: Date) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// 0 = Monday ... 6 = Sunday (1970-01-01 was a Thursday).
fn weekday(days: Date) -> i64 {
    (days + 3).rem_euclid(7)
}

enum OgrnProblem {
    Format,
    Checksum,
}

impl OgrnProblem {
    fn code(&self) -> &'static str {
        match self {
            OgrnProblem::Format => "ogrn-format",
            OgrnProblem::Checksum => "ogrn-checksum",
        }
    }
    fn describe(&self) -> &'static str {
        match self {
            OgrnProblem::Format => "нужно 13 цифр ОГРН или 15 цифр ОГРНИП",
            OgrnProblem::Checksum => "не сходится контрольная цифра",
        }
    }
}

/// OGRN: 13 digits, last = (first 12 mod 11) mod 10; OGRNIP: 15 digits, last = (first 14 mod 13) mod 10.
fn check_ogrn(ogrn: &str) -> Result<(), OgrnProblem> {
    let modulus = match ogrn.len() {
        13 => 11,
        15 => 13,
        _ => return Err(OgrnProblem::Format),
    };
    if !ogrn.bytes().all(|c| c.is_ascii_digit()) {
        return Err(OgrnProblem::Format);
    }
    let (body, check) = ogrn.split_at(ogrn.len() - 1);
    let body: u64 = body.parse().map_err(|_| OgrnProblem::Format)?;
    let check: u64 = check.parse().map_err(|_| OgrnProblem::Format)?;
    if body % modulus % 10 == check {
        Ok(())
    } else {
        Err(OgrnProblem::Checksum)
    }
}

/// The hooks of a department plugin, each the plain [`Department`]'s unless the plugin says otherwise; the
/// host-facing [`Guest`](crate::bindings::Guest) implementation and the export come from
/// [`department_plugin!`](crate::department_plugin), which implements this trait.
///
/// ```
/// use ipra_plugin_sdk::bindings::ipra::plugin::types::ImportInput;
/// use ipra_plugin_sdk::department::{sample_ipra, Department, DepartmentPlugin, MemoryLookups};
/// struct Sport;
/// impl DepartmentPlugin for Sport {
///     const DEPARTMENT: Department = Department { id: "sport", section: "sport", label: "Физическая культура и спорт" };
/// }
/// let out = Sport::import(ImportInput::Ipra(sample_ipra()), &MemoryLookups::default()).unwrap();
/// assert!(out.claims.iter().all(|c| c.section == "sport"));
/// assert!(Sport::config_keys().is_empty());
/// ```
pub trait DepartmentPlugin {
    /// The department: its plugin id, section and label.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, DepartmentPlugin};
    /// struct Health;
    /// impl DepartmentPlugin for Health {
    ///     const DEPARTMENT: Department = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// }
    /// assert_eq!(Health::DEPARTMENT.section, "health");
    /// ```
    const DEPARTMENT: Department;

    /// The department's own settings, for `describe`; none unless overridden.
    ///
    /// ```
    /// # use ipra_plugin_sdk::department::{Department, DepartmentPlugin};
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::ConfigKey;
    /// struct Tsr;
    /// impl DepartmentPlugin for Tsr {
    ///     const DEPARTMENT: Department = Department { id: "tsr", section: "tsr", label: "ТСР" };
    ///     fn config_keys() -> Vec<ConfigKey> {
    ///         vec![ConfigKey { name: "days".into(), description: "Срок".into(), required: false, default_value: None }]
    ///     }
    /// }
    /// assert_eq!(Tsr::config_keys()[0].name, "days");
    /// ```
    fn config_keys() -> Vec<ConfigKey> {
        Vec::new()
    }

    /// Hook `import`: [`Department::import`] unless overridden.
    ///
    /// ```
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::ImportInput;
    /// # use ipra_plugin_sdk::department::{sample_ipra, Department, DepartmentPlugin, MemoryLookups};
    /// struct Health;
    /// impl DepartmentPlugin for Health {
    ///     const DEPARTMENT: Department = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// }
    /// let out = Health::import(ImportInput::Ipra(sample_ipra()), &MemoryLookups::default()).unwrap();
    /// assert_eq!(out.claims.len(), 1);
    /// ```
    fn import(input: ImportInput, lookups: &dyn Lookups) -> Result<ImportOutput, PluginError> {
        Self::DEPARTMENT.import(input, lookups)
    }

    /// Hook `execute`: [`Department::execute`] unless overridden.
    ///
    /// ```
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExecuteInput, PlanInput};
    /// # use ipra_plugin_sdk::department::{Department, DepartmentPlugin, MemoryLookups};
    /// struct Health;
    /// impl DepartmentPlugin for Health {
    ///     const DEPARTMENT: Department = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// }
    /// let plan = PlanInput { step: "queries".into(), persons: Vec::new(), today: "2025-03-01".into(), extra: Vec::new() };
    /// let error = Health::execute(ExecuteInput::Plan(plan), &MemoryLookups::default()).unwrap_err();
    /// assert_eq!(error.code, "not-supported");
    /// ```
    fn execute(input: ExecuteInput, lookups: &dyn Lookups) -> Result<ExecuteOutput, PluginError> {
        Self::DEPARTMENT.execute(input, lookups)
    }

    /// Hook `export`: [`Department::export`] unless overridden.
    ///
    /// ```
    /// # use ipra_plugin_sdk::bindings::ipra::plugin::types::{ExportInput, FactBatch};
    /// # use ipra_plugin_sdk::department::{Department, DepartmentPlugin, MemoryLookups};
    /// struct Health;
    /// impl DepartmentPlugin for Health {
    ///     const DEPARTMENT: Department = Department { id: "health", section: "health", label: "Охрана здоровья" };
    /// }
    /// let facts = ExportInput::Facts(FactBatch { package_id: "p".into(), facts: Vec::new(), extra: Vec::new() });
    /// let error = Health::export(facts, &MemoryLookups::default()).unwrap_err();
    /// assert_eq!(error.code, "not-supported");
    /// ```
    fn export(input: ExportInput, lookups: &dyn Lookups) -> Result<Vec<Document>, PluginError> {
        Self::DEPARTMENT.export(input, lookups)
    }
}

/// Declares a department plugin: the unit struct, its [`DepartmentPlugin`](crate::department::DepartmentPlugin)
/// implementation (with the hooks given in braces, if any), the [`Guest`](crate::bindings::Guest) implementation
/// that calls them with the host's look-ups, and the component export.
///
/// A plain department is its [`Department`](crate::department::Department) and one line:
///
/// ```
/// use ipra_plugin_sdk::bindings::Guest;
/// use ipra_plugin_sdk::department::Department;
///
/// pub const DEPARTMENT: Department = Department { id: "sport", section: "sport", label: "Физическая культура и спорт" };
///
/// ipra_plugin_sdk::department_plugin!(
///     /// The plugin exported to the host.
///     Plugin = DEPARTMENT
/// );
/// # fn main() {
/// assert_eq!(<Plugin as Guest>::describe().sections, ["sport".to_string()]);
/// # }
/// ```
///
/// A department with something of its own overrides those hooks:
///
/// ```
/// use ipra_plugin_sdk::bindings::ipra::plugin::types::{ConfigKey, ImportInput, ImportOutput, PluginError};
/// use ipra_plugin_sdk::bindings::Guest;
/// use ipra_plugin_sdk::department::{Department, Lookups};
///
/// pub const DEPARTMENT: Department = Department { id: "tsr", section: "tsr", label: "ТСР" };
///
/// ipra_plugin_sdk::department_plugin!(Plugin = DEPARTMENT, {
///     fn config_keys() -> Vec<ConfigKey> {
///         vec![ConfigKey { name: "days".into(), description: "Срок".into(), required: false, default_value: None }]
///     }
///
///     fn import(input: ImportInput, lookups: &dyn Lookups) -> Result<ImportOutput, PluginError> {
///         DEPARTMENT.import(input, lookups)
///     }
/// });
/// # fn main() {
/// assert_eq!(<Plugin as Guest>::describe().config_keys[0].name, "days");
/// # }
/// ```
#[macro_export]
macro_rules! department_plugin {
    ($(#[$attribute:meta])* $plugin:ident = $department:path $(, { $($hooks:tt)* })? $(,)?) => {
        $(#[$attribute])*
        pub struct $plugin;

        impl $crate::department::DepartmentPlugin for $plugin {
            const DEPARTMENT: $crate::department::Department = $department;
            $($($hooks)*)?
        }

        impl $crate::bindings::Guest for $plugin {
            fn describe() -> $crate::bindings::ipra::plugin::types::PluginInfo {
                let mut info = <$plugin as $crate::department::DepartmentPlugin>::DEPARTMENT
                    .describe(<$plugin as $crate::department::DepartmentPlugin>::config_keys());
                // The plugin's own version (this expands in the plugin's crate), not the SDK's.
                info.version = env!("CARGO_PKG_VERSION").to_string();
                info
            }

            fn import(
                input: $crate::bindings::ipra::plugin::types::ImportInput,
            ) -> Result<$crate::bindings::ipra::plugin::types::ImportOutput, $crate::bindings::ipra::plugin::types::PluginError>
            {
                <$plugin as $crate::department::DepartmentPlugin>::import(input, &$crate::department::HostLookups)
            }

            fn execute(
                input: $crate::bindings::ipra::plugin::types::ExecuteInput,
            ) -> Result<$crate::bindings::ipra::plugin::types::ExecuteOutput, $crate::bindings::ipra::plugin::types::PluginError>
            {
                <$plugin as $crate::department::DepartmentPlugin>::execute(input, &$crate::department::HostLookups)
            }

            fn export(
                input: $crate::bindings::ipra::plugin::types::ExportInput,
            ) -> Result<
                Vec<$crate::bindings::ipra::plugin::types::Document>,
                $crate::bindings::ipra::plugin::types::PluginError,
            > {
                <$plugin as $crate::department::DepartmentPlugin>::export(input, &$crate::department::HostLookups)
            }
        }

        $crate::bindings::export_plugin!($plugin with_types_in $crate::bindings);
    };
}

/// The writer of department documents (report sections, follow-up documents); it lives in
/// [`xml::writer`](crate::xml::writer), shared with connectors.
pub use crate::xml::writer::XmlWriter;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::ipra::plugin::types::Document;

    const SECTIONS: [(&str, &str); 6] = [
        ("health", "Охрана здоровья"),
        ("employment", "Содействие занятости населения"),
        ("education", "Образование"),
        ("social-protection", "Социальная защита населения"),
        ("sport", "Физическая культура и спорт"),
        ("tsr", "Обеспечение ТСР"),
    ];
    const HEALTH: Department = Department {
        id: "health",
        section: "health",
        label: "Охрана здоровья",
    };
    const CLINIC: &str = "1027700132195";
    const ROUTED: &str = "1037739010891";
    const UNKNOWN: &str = "1027739609391";

    fn lookups() -> MemoryLookups {
        MemoryLookups::default()
            .with_organisation(CLINIC, "ГБУЗ «Больница № 1»")
            .with_organisation(ROUTED, "ГБУЗ «Районная больница»")
            .with_route("health", "45000", ROUTED)
            .with_reference(
                NON_EXECUTION_REASONS,
                &[("refused", "Отказ инвалида"), ("moved", "Смена места жительства")],
            )
    }

    fn entry() -> ExecutionEntry {
        ExecutionEntry {
            measure_key: Some("1".to_string()),
            section: "health".to_string(),
            status: ExecutionStatus::Executed,
            measure_name: "Медицинская реабилитация".to_string(),
            executor_ogrn: CLINIC.to_string(),
            executor_name: None,
            clarification: None,
            execution_date: Some("2025-02-01".to_string()),
            reasons: Vec::new(),
            comment: None,
            extra: Vec::new(),
        }
    }

    fn not_executed() -> ExecutionEntry {
        ExecutionEntry {
            status: ExecutionStatus::NotExecuted,
            reasons: vec!["refused".to_string()],
            execution_date: None,
            ..entry()
        }
    }

    fn validate(entries: Vec<ExecutionEntry>) -> Vec<PluginError> {
        let input = ExecutionInput {
            ipra: sample_ipra(),
            entries,
            today: "2025-03-01".to_string(),
        };
        HEALTH.validate(&input, &lookups())
    }

    /// The single error of one entry: its code, field and message.
    fn only_error(entry: ExecutionEntry) -> (String, String, String) {
        let errors = validate(vec![entry]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e.record.as_deref(), Some("Мероприятие 1 (мероприятие ИПРА 1)"));
        (e.code.clone(), e.field.clone().unwrap_or_default(), e.message.clone())
    }

    #[test]
    fn each_department_claims_only_its_section() {
        let ipra = sample_ipra();
        for (section, label) in SECTIONS {
            let d = Department {
                id: section,
                section,
                label,
            };
            let out = d.import(ImportInput::Ipra(ipra.clone()), &lookups()).unwrap();
            let keys: Vec<_> = out.claims.iter().map(|c| c.measure_key.as_str()).collect();
            let expected: Vec<_> = ipra
                .measures
                .iter()
                .filter(|m| m.section == section)
                .map(|m| m.key.as_str())
                .collect();
            assert_eq!(keys, expected, "{section}");
            assert_eq!(keys.len(), 1);
            assert!(out.claims.iter().all(|c| c.section == section));
            assert!(out.records.is_empty() && out.follow_ups.is_empty());
        }
    }

    fn with_executor(ogrn: Option<&str>, territory: Option<&str>) -> IpraExtract {
        let mut ipra = sample_ipra();
        ipra.person.territory_code = territory.map(str::to_string);
        for m in &mut ipra.measures {
            m.executor_ogrn = ogrn.map(str::to_string);
        }
        ipra
    }

    #[test]
    fn executor_from_extract_when_valid_and_known() {
        let out = HEALTH.claim(&with_executor(Some(CLINIC), Some("45000")), &lookups());
        assert_eq!(out.claims[0].executor_ogrn.as_deref(), Some(CLINIC));
        assert_eq!(out.claims[0].note, None);
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn executor_routed_when_extract_ogrn_unknown() {
        let out = HEALTH.claim(&with_executor(Some(UNKNOWN), Some("45000")), &lookups());
        assert_eq!(out.claims[0].executor_ogrn.as_deref(), Some(ROUTED));
        let note = out.claims[0].note.clone().unwrap_or_default();
        assert!(note.contains("маршрутизации") && note.contains(UNKNOWN), "{note}");
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn short_extract_ogrn_is_a_warning_and_routing_decides() {
        // Real IPRA_20221024 data carries 7–8 digit ExecutorOGRN values.
        let out = HEALTH.claim(&with_executor(Some("1234567"), Some("45000")), &lookups());
        assert_eq!(out.claims[0].executor_ogrn.as_deref(), Some(ROUTED));
        assert_eq!(out.warnings.len(), 1);
        let w = &out.warnings[0];
        assert_eq!(w.code, "ogrn-format");
        assert_eq!(w.field.as_deref(), Some(field::EXECUTOR_OGRN));
        assert_eq!(w.record.as_deref(), Some("ИПРА № 1234.5.45/2025, мероприятие 1"));
        assert!(w.message.contains("1234567"));

        let bad_checksum = HEALTH.claim(&with_executor(Some("1027700132196"), None), &lookups());
        assert_eq!(bad_checksum.warnings[0].code, "ogrn-checksum");
    }

    #[test]
    fn coordinator_queue_with_a_note_when_nothing_decides() {
        let no_route = HEALTH.claim(&with_executor(None, Some("46000")), &lookups());
        assert_eq!(no_route.claims[0].executor_ogrn, None);
        let note = no_route.claims[0].note.clone().unwrap_or_default();
        assert!(
            note.contains("не указан ОГРН") && note.contains("46000") && note.contains("координатору"),
            "{note}"
        );

        let no_territory = HEALTH.claim(&with_executor(None, None), &lookups());
        let note = no_territory.claims[0].note.clone().unwrap_or_default();
        assert!(note.contains("территория гражданина не указана"), "{note}");
    }

    #[test]
    fn import_of_a_document_is_not_supported() {
        let doc = Document {
            name: "x.xml".into(),
            media_type: "application/xml".into(),
            bytes: Vec::new(),
        };
        let err = HEALTH.import(ImportInput::Document(doc), &lookups()).unwrap_err();
        assert_eq!(err.code, "not-supported");
    }

    #[test]
    fn valid_entries_have_no_errors() {
        let executed_ogrnip = ExecutionEntry {
            executor_ogrn: "304500116000157".to_string(),
            measure_key: None,
            comment: Some("Курс пройден".to_string()),
            ..entry()
        };
        let lookups = lookups().with_organisation("304500116000157", "ИП Петров");
        let input = ExecutionInput {
            ipra: sample_ipra(),
            entries: vec![entry(), not_executed(), executed_ogrnip],
            today: "2025-03-01".to_string(),
        };
        let errors = HEALTH.validate(&input, &lookups);
        assert!(errors.is_empty(), "{errors:?}");
    }

    #[test]
    fn measure_name_required() {
        let (code, field, message) = only_error(ExecutionEntry {
            measure_name: "  ".into(),
            ..entry()
        });
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("missing-field", "Наименование мероприятия")
        );
        assert_eq!(message, "Укажите наименование мероприятия");
    }

    #[test]
    fn executor_ogrn_required_valid_and_known() {
        let cases = [
            ("", "missing-field", "Укажите ОГРН исполнителя"),
            ("12345", "ogrn-format", "13 цифр ОГРН или 15 цифр ОГРНИП"),
            ("1027700132196", "ogrn-checksum", "контрольная цифра"),
            ("304500116000158", "ogrn-checksum", "контрольная цифра"),
            (UNKNOWN, "executor-unknown", "попросите координатора добавить"),
        ];
        for (ogrn, expected_code, text) in cases {
            let (code, field, message) = only_error(ExecutionEntry {
                executor_ogrn: ogrn.into(),
                ..entry()
            });
            assert_eq!(code, expected_code, "{ogrn}");
            assert_eq!(field, "ОГРН исполнителя");
            assert!(message.contains(text), "{message}");
        }
    }

    #[test]
    fn execution_date_rules() {
        let date = |d: Option<&str>| ExecutionEntry {
            execution_date: d.map(str::to_string),
            ..entry()
        };
        let cases = [
            (None, "missing-field", "Укажите дату исполнения"),
            (Some("01.02.2025"), "date-format", "ГГГГ-ММ-ДД"),
            (Some("2025-02-30"), "date-format", "ГГГГ-ММ-ДД"),
            (Some("2025-03-02"), "date-in-future", "позже сегодняшней (2025-03-01)"),
            (
                Some("2025-01-09"),
                "date-before-ipra",
                "раньше даты решения по ИПРА (2025-01-10)",
            ),
        ];
        for (value, expected_code, text) in cases {
            let (code, field, message) = only_error(date(value));
            assert_eq!(code, expected_code, "{value:?}");
            assert_eq!(field, "Дата");
            assert!(message.contains(text), "{message}");
        }
        // The IPRA's end: a report made after the IPRA expired must not date a measure past it.
        let mut ipra = sample_ipra();
        ipra.valid_until = Some("2025-02-01".into());
        let input = ExecutionInput {
            ipra,
            entries: vec![date(Some("2025-02-02"))],
            today: "2025-03-01".into(),
        };
        let errors = HEALTH.validate(&input, &lookups());
        assert_eq!(errors[0].code, "date-after-ipra");
        assert!(errors[0].message.contains("2025-02-01"));
        // Without a decision date the protocol date opens the period.
        let mut ipra = sample_ipra();
        ipra.decision_date = None;
        ipra.protocol_date = "2025-01-20".into();
        let input = ExecutionInput {
            ipra,
            entries: vec![date(Some("2025-01-15"))],
            today: "2025-03-01".into(),
        };
        assert_eq!(HEALTH.validate(&input, &lookups())[0].code, "date-before-ipra");
        // Boundaries are inside the period.
        assert!(validate(vec![date(Some("2025-01-10")), date(Some("2025-03-01"))]).is_empty());
    }

    #[test]
    fn not_executed_needs_known_reasons_and_no_comment() {
        let (code, field, message) = only_error(ExecutionEntry {
            reasons: Vec::new(),
            ..not_executed()
        });
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("missing-field", "Причины неисполнения")
        );
        assert!(message.contains("хотя бы одну причину"));

        let (code, field, message) = only_error(ExecutionEntry {
            reasons: vec!["refused".into(), "lost".into()],
            ..not_executed()
        });
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("reason-unknown", "Причины неисполнения")
        );
        assert!(message.contains("«lost»"));

        let (code, field, message) = only_error(ExecutionEntry {
            comment: Some("Отказался".into()),
            ..not_executed()
        });
        assert_eq!((code.as_str(), field.as_str()), ("comment-not-allowed", "Комментарий"));
        assert!(message.contains("только при результате «Выполнено»"));

        // A date is optional when not executed, but checked when given.
        let (code, _, _) = only_error(ExecutionEntry {
            execution_date: Some("2030-01-01".into()),
            ..not_executed()
        });
        assert_eq!(code, "date-in-future");
    }

    #[test]
    fn reason_codes_come_from_the_host_list() {
        // Nothing is hard-coded: with an empty list every code is unknown.
        let input = ExecutionInput {
            ipra: sample_ipra(),
            entries: vec![not_executed()],
            today: "2025-03-01".into(),
        };
        let empty = MemoryLookups::default().with_organisation(CLINIC, "ГБУЗ");
        assert_eq!(HEALTH.validate(&input, &empty)[0].code, "reason-unknown");
    }

    #[test]
    fn executed_has_no_reasons() {
        let (code, field, _) = only_error(ExecutionEntry {
            reasons: vec!["refused".into()],
            ..entry()
        });
        assert_eq!(
            (code.as_str(), field.as_str()),
            ("reasons-not-allowed", "Причины неисполнения")
        );
    }

    #[test]
    fn entry_of_another_section_or_measure_is_an_error() {
        let (code, field, message) = only_error(ExecutionEntry {
            section: "sport".into(),
            ..entry()
        });
        assert_eq!((code.as_str(), field.as_str()), ("section-mismatch", "Раздел"));
        assert!(message.contains("«sport»") && message.contains("«Охрана здоровья»"));

        // Measure 5 exists but belongs to sport; 99 does not exist.
        for key in ["5", "99"] {
            let errors = validate(vec![ExecutionEntry {
                measure_key: Some(key.into()),
                ..entry()
            }]);
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].code, "measure-unknown");
            assert_eq!(errors[0].field.as_deref(), Some("Мероприятие ИПРА"));
            assert_eq!(
                errors[0].record.as_deref(),
                Some(format!("Мероприятие 1 (мероприятие ИПРА {key})").as_str())
            );
        }
    }

    #[test]
    fn errors_name_the_entry_position() {
        let errors = validate(vec![
            entry(),
            ExecutionEntry {
                measure_key: None,
                measure_name: String::new(),
                ..entry()
            },
        ]);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].record.as_deref(), Some("Мероприятие 2"));
    }

    #[test]
    fn malformed_today_is_reported() {
        let input = ExecutionInput {
            ipra: sample_ipra(),
            entries: vec![entry()],
            today: "сегодня".into(),
        };
        let errors = HEALTH.validate(&input, &lookups());
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field.as_deref(), Some(field::TODAY));
    }

    #[test]
    fn plan_and_other_exports_are_not_supported() {
        use crate::bindings::ipra::plugin::types::PlanInput;
        let plan = PlanInput {
            step: "zags-check".into(),
            persons: Vec::new(),
            today: "2025-03-01".into(),
            extra: Vec::new(),
        };
        assert_eq!(
            HEALTH
                .execute(ExecuteInput::Plan(plan.clone()), &lookups())
                .unwrap_err()
                .code,
            "not-supported"
        );
        assert_eq!(
            HEALTH.export(ExportInput::Requests(plan), &lookups()).unwrap_err().code,
            "not-supported"
        );
        assert_eq!(
            HEALTH
                .export(ExportInput::ReportPackage(report(Vec::new())), &lookups())
                .unwrap_err()
                .code,
            "not-supported"
        );
    }

    fn report(entries: Vec<ExecutionEntry>) -> ReportInput {
        ReportInput {
            report_id: "R-2025-1".into(),
            ipra: sample_ipra(),
            entries,
            reporter_ogrn: CLINIC.into(),
            reporter_name: "Министерство здравоохранения".into(),
            created: "2025-03-01T10:00:00".into(),
            sections: Vec::new(),
        }
    }

    /// Validates a document with xmllint against the product's schema; the schema is the contract readers rely on.
    fn assert_valid_against_schema(document: &Document) {
        // A folder of the call's own, removed after: tests run in parallel and render the same names.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ipra-dept-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(&document.name);
        std::fs::write(&path, &document.bytes).unwrap();
        let schema = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/report-section-1.0.xsd");
        let output = std::process::Command::new("xmllint")
            .args(["--noout", "--schema", schema])
            .arg(&path)
            .output()
            .expect("xmllint is needed for this test (Debian: apt-get install libxml2-utils)");
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            output.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&document.bytes)
        );
    }

    #[test]
    fn rendered_section_validates_against_the_schema() {
        let tricky = ExecutionEntry {
            measure_key: None,
            measure_name: "Протезирование <верхних> & \"нижних\" конечностей".into(),
            executor_name: Some("ООО «Протез & Ко»".into()),
            clarification: Some("строка 1\r\nстрока 2\u{7}".into()),
            comment: Some("  пробелы сохраняются  ".into()),
            ..entry()
        };
        let other_section = ExecutionEntry {
            section: "sport".into(),
            ..entry()
        };
        let doc = HEALTH
            .export(
                ExportInput::ReportSection(report(vec![entry(), not_executed(), tricky, other_section])),
                &lookups(),
            )
            .unwrap()
            .remove(0);
        assert_eq!(doc.name, "report-section-health.xml");
        assert_eq!(doc.media_type, "application/xml");
        assert_valid_against_schema(&doc);
        let text = String::from_utf8(doc.bytes.clone()).unwrap();
        assert!(text.contains("<ReportSection xmlns=\"urn:ipra:report-section:1.0\" version=\"1.0\">"));
        assert!(text.contains("<Section code=\"health\">Охрана здоровья</Section>"));
        assert!(text.contains("<Measure position=\"1\" status=\"executed\" key=\"1\">"));
        assert!(text.contains("<Measure position=\"2\" status=\"not-executed\" key=\"1\">"));
        assert!(text.contains("<Reason code=\"refused\">Отказ инвалида</Reason>"));
        // The executor's name comes from the directory when the entry has none.
        assert!(text.contains("<Name>ГБУЗ «Больница № 1»</Name>"));
        assert!(text.contains("Протезирование &lt;верхних&gt; &amp; \"нижних\" конечностей"));
        assert!(text.contains("строка 1&#13;\nстрока 2\u{FFFD}"));
        assert!(text.contains("<Comment>  пробелы сохраняются  </Comment>"));
        // Only this section's rows: three, not four.
        assert_eq!(text.matches("<Measure ").count(), 3);

        let empty = HEALTH.render_section(&report(Vec::new()), &lookups()).unwrap();
        assert_valid_against_schema(&empty);

        // A minimal IPRA (no optional fields) still validates.
        let mut minimal = report(vec![entry()]);
        minimal.ipra.decision_date = None;
        minimal.ipra.valid_until = None;
        minimal.ipra.issued_by = None;
        minimal.ipra.person.patronymic = None;
        minimal.ipra.person.birth_date = None;
        minimal.created = "2025-03-01 10:00:00".into();
        assert_valid_against_schema(&HEALTH.render_section(&minimal, &lookups()).unwrap());
    }

    #[test]
    fn an_invalid_section_is_not_rendered() {
        let err = HEALTH
            .render_section(
                &report(vec![ExecutionEntry {
                    measure_name: String::new(),
                    ..entry()
                }]),
                &lookups(),
            )
            .unwrap_err();
        assert_eq!(err.code, "missing-field");
        let mut no_snils = report(Vec::new());
        no_snils.ipra.person.snils = "112-233-445 95".into();
        assert_eq!(
            HEALTH.render_section(&no_snils, &lookups()).unwrap_err().code,
            "snils-format"
        );
        let mut no_surname = report(Vec::new());
        no_surname.ipra.person.surname = " ".into();
        let err = HEALTH.render_section(&no_surname, &lookups()).unwrap_err();
        assert_eq!(
            (err.code.as_str(), err.field.as_deref()),
            ("missing-field", Some("Фамилия"))
        );
        let mut bad_reporter = report(Vec::new());
        bad_reporter.reporter_ogrn = "123".into();
        assert_eq!(
            HEALTH.render_section(&bad_reporter, &lookups()).unwrap_err().code,
            "ogrn-format"
        );
    }

    #[test]
    fn working_days_skip_weekends_and_holidays() {
        let calendar = MemoryLookups::default()
            .with_reference(
                WORKING_CALENDAR,
                &[("2024-11-04", "holiday"), ("2024-11-02", "workday")],
            )
            .reference_list(WORKING_CALENDAR);
        // Friday 2024-11-08 -> Monday 11 (1), Tuesday 12 (2).
        assert_eq!(
            add_working_days("2024-11-08", 2, &calendar).as_deref(),
            Some("2024-11-12")
        );
        // Thursday 2024-10-31 -> Friday 1 (1), Saturday 2 is a working Saturday (2).
        assert_eq!(
            add_working_days("2024-10-31", 2, &calendar).as_deref(),
            Some("2024-11-02")
        );
        // Saturday 2024-11-02 -> Monday 4 is a holiday: Tuesday 5 (1), Wednesday 6 (2).
        assert_eq!(
            add_working_days("2024-11-02", 2, &calendar).as_deref(),
            Some("2024-11-06")
        );
        // Across a year end and a leap day.
        assert_eq!(add_working_days("2024-12-31", 1, &[]).as_deref(), Some("2025-01-01"));
        assert_eq!(add_working_days("2024-02-28", 1, &[]).as_deref(), Some("2024-02-29"));
        assert_eq!(add_working_days("2024-02-30", 1, &[]), None);
    }

    #[test]
    fn dates_round_trip() {
        for text in ["1970-01-01", "1900-03-01", "2000-02-29", "2025-12-31", "2100-02-28"] {
            let days = parse_date(text).unwrap();
            assert_eq!(format_date(days), text);
        }
        assert_eq!(weekday(parse_date("2025-06-09").unwrap()), 0, "a Monday");
        for bad in [
            "2100-02-29",
            "2025-13-01",
            "2025-00-10",
            "2025-1-01",
            "+025-01-01",
            "2025-01-1x",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }
}
