//! The host's own types for what crosses the plugin boundary: a plugin's description, the
//! documents and records it reads and writes, and the look-ups it asks for.
//!
//! These are not the WIT types: `runtime` reads each interface version a component was built
//! against (`plugin-sdk/wit/v1.0`, `v1` = 1.1, …) and `adapter` converts between that version's
//! generated types and these, so the register, the scheduler and the pages never name a WIT type
//! and a new interface version (a `wit/v2` beside `v1`) changes the runtime and the adapter only.
//! The fields follow the newest interface; the meaning of each is documented in the WIT.
//!
//! An extract is much larger than the other cases of the enums that carry one; they are not boxed,
//! as the values are moved whole between the sandbox and the register, one at a time.
#![allow(clippy::large_enum_variant)]

/// A typed error: bad input is reported with this, never with a trap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginError {
    /// Stable machine code, e.g. `snils-checksum`, `xml-malformed`, `missing-field`.
    pub code: String,
    /// Message for users, in Russian.
    pub message: String,
    /// Which record the error concerns (e.g. `Документ 1, Запись 14`), when known.
    pub record: Option<String>,
    /// Which field the error concerns (e.g. `СНИЛС`), when known.
    pub field: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PluginKind {
    /// Executes measures of one or more IPRA sections (health, employment, ...).
    Department,
    /// Talks to an external system (FRI, ZAGS, EGISSO).
    Connector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Hook {
    Import,
    Execute,
    Export,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LogLevel {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigKey {
    pub name: String,
    pub description: String,
    pub required: bool,
    pub default_value: Option<String>,
}

/// What `describe` returns: who the plugin is and what it handles.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginInfo {
    pub id: String,
    /// Human name, in Russian.
    pub name: String,
    pub version: String,
    pub kind: PluginKind,
    /// Measure sections a department handles (`health`, `employment`, `education`,
    /// `social-protection`, `sport`, `tsr`).
    pub sections: Vec<String>,
    /// Document types a connector reads or writes (e.g. `IPRA_20190101`, `FATALRequest-4.0.6`).
    pub document_types: Vec<String>,
    pub hooks: Vec<Hook>,
    pub config_keys: Vec<ConfigKey>,
    /// Look-ups the plugin asks the host for: `organisation`, `route`, `reference`.
    pub lookups: Vec<String>,
}

/// A free key/value pair: fields that a format carries beyond the typed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    pub code: String,
    pub value: String,
}

/// A document crossing the boundary: an incoming file or a rendered outgoing one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    pub name: String,
    /// E.g. `application/xml`, `application/zip`. On an incoming document the host adds
    /// `; charset=utf-8` exactly when it has checked `bytes` to be valid UTF-8, so a plugin may
    /// skip that check (the Rust SDK's `xml::decode_incoming` does); it passes on no other charset.
    pub media_type: String,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    /// 11 digits, checksum verified by the connector.
    pub snils: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: Option<String>,
    /// `M` or `F`.
    pub gender: Option<String>,
    /// Code of the territory (municipal district) used for routing, when known.
    pub territory_code: Option<String>,
    /// Address as one line, when known.
    pub address: Option<String>,
    pub extra: Vec<Attribute>,
}

/// One measure (or TSR item) of an IPRA, as given in the extract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Measure {
    /// Unique within its document (the record key of the extract).
    pub key: String,
    /// Section of the measure (`health`, ..., `tsr`), empty when the category is not mapped.
    pub section: String,
    pub category_code: String,
    pub category_name: String,
    /// Measure, event type or TSR classifier code as given.
    pub code: Option<String>,
    pub name: String,
    pub guid: Option<String>,
    pub executor_ogrn: Option<String>,
    pub executor_name: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub quantity: Option<String>,
    pub extra: Vec<Attribute>,
}

/// A normalized IPRA document of an extract.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpraExtract {
    /// Identifier of the extract as a whole.
    pub extract_id: String,
    /// Identifier of the IPRA document inside the extract.
    pub document_id: String,
    /// Document version code, e.g. `IPRA_20190101`.
    pub document_version: String,
    /// IPRA number.
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    /// Date of the MSE decision (the document date).
    pub decision_date: Option<String>,
    pub valid_until: Option<String>,
    /// MSE institution that issued the IPRA.
    pub issued_by: Option<String>,
    pub is_child: bool,
    pub person: Person,
    pub measures: Vec<Measure>,
    pub extra: Vec<Attribute>,
}

/// An execution report already sent by someone for an IPRA (e.g. `RESOC_20180416`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorReport {
    pub document_id: String,
    pub document_version: String,
    /// Document id of the IPRA it reports on.
    pub parent_document_id: Option<String>,
    pub number: Option<String>,
    pub date: Option<String>,
    pub source: Option<String>,
    pub snils: String,
    pub entries: Vec<Measure>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeathRecordKind {
    New,
    Correction,
    Cancellation,
}

/// A civil-registry death record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeathRecord {
    pub record_id: String,
    pub kind: DeathRecordKind,
    pub act_number: Option<String>,
    pub act_date: Option<String>,
    pub death_date: Option<String>,
    pub snils: Option<String>,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: Option<String>,
    pub registry_office: Option<String>,
    /// Anything else the connector read. One code the host acts on: `doubt`, a reason in Russian the
    /// connector doubts the record (dates that contradict each other); such a record waits for a person.
    pub extra: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceEntry {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
    pub extra: Vec<Attribute>,
}

/// A reference list (e.g. EGISSO NSI) delivered by a connector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReferenceList {
    pub list_id: String,
    pub version: Option<String>,
    pub entries: Vec<ReferenceEntry>,
}

/// An answer of an external system on a document the host sent (e.g. FRI's receipt on an
/// execution report): accepted, or rejected with the reason. Since 1.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// File name of the sent document the answer is about, as the host named it when sending.
    pub document_name: String,
    pub accepted: bool,
    /// Why it was rejected, in the system's words.
    pub reason: Option<String>,
    pub extra: Vec<Attribute>,
}

/// What one record of an incoming document turned into.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Normalized {
    Ipra(IpraExtract),
    PriorReport(PriorReport),
    Death(DeathRecord),
    Reference(ReferenceList),
    /// An answer on a sent document. Since 1.1.
    Receipt(Receipt),
    /// A document the register does not keep (other document kinds); the text says which.
    Skipped(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordOutcome {
    /// Where in the document the record is (e.g. `Документ 2`).
    pub locator: String,
    pub outcome: Result<Normalized, PluginError>,
}

/// A department's claim of a measure of a stored IPRA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasureClaim {
    pub measure_key: String,
    pub section: String,
    /// Executor chosen by the department (from the extract or routing), when any.
    pub executor_ogrn: Option<String>,
    pub note: Option<String>,
}

/// Something the host must do or keep after `import` or `execute`: an IPPSU draft, a TSR clarification
/// request, a request document to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowUp {
    pub kind: String,
    pub title: String,
    pub due_date: Option<String>,
    pub attributes: Vec<Attribute>,
    pub document: Option<Document>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportInput {
    /// Connectors: an external document (file, attachment, message body).
    Document(Document),
    /// Departments: an IPRA just stored in the register.
    Ipra(IpraExtract),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportOutput {
    pub records: Vec<RecordOutcome>,
    pub claims: Vec<MeasureClaim>,
    /// Departments: what the host must do next (e.g. an IPPSU draft for social protection).
    pub follow_ups: Vec<FollowUp>,
    pub warnings: Vec<PluginError>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExecutionStatus {
    Executed,
    NotExecuted,
}

/// One measure row of an execution record (what an executor did or why not).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionEntry {
    /// The IPRA measure this row reports on, when it is one of the extract's measures.
    pub measure_key: Option<String>,
    pub section: String,
    pub status: ExecutionStatus,
    pub measure_name: String,
    pub executor_ogrn: String,
    pub executor_name: Option<String>,
    pub clarification: Option<String>,
    pub execution_date: Option<String>,
    /// Codes of non-execution reasons (only when not executed).
    pub reasons: Vec<String>,
    /// Comment (only when executed).
    pub comment: Option<String>,
    pub extra: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionInput {
    pub ipra: IpraExtract,
    pub entries: Vec<ExecutionEntry>,
    pub today: String,
}

/// A connector's exchange step to plan (e.g. a ZAGS check of persons not yet checked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlanInput {
    pub step: String,
    pub persons: Vec<Person>,
    pub today: String,
    pub extra: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecuteInput {
    Execution(ExecutionInput),
    Plan(PlanInput),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecuteOutput {
    /// Field-level problems; an empty list means the input is valid.
    pub errors: Vec<PluginError>,
    pub follow_ups: Vec<FollowUp>,
}

/// An execution report to render: a department renders its section, a connector the package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportInput {
    pub report_id: String,
    pub ipra: IpraExtract,
    pub entries: Vec<ExecutionEntry>,
    pub reporter_ogrn: String,
    pub reporter_name: String,
    pub created: String,
    /// Sections already rendered by departments (for the connector's package).
    pub sections: Vec<Document>,
}

/// A fact of assignment of a social-support measure (EGISSO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fact {
    pub fact_id: String,
    pub person: Person,
    pub measure_code: String,
    pub decision_date: String,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub extra: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactBatch {
    pub package_id: String,
    pub facts: Vec<Fact>,
    pub extra: Vec<Attribute>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExportInput {
    ReportSection(ReportInput),
    ReportPackage(ReportInput),
    Facts(FactBatch),
    Requests(PlanInput),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Organisation {
    pub ogrn: String,
    pub name: String,
    pub department: Option<String>,
    pub territory_code: Option<String>,
}

impl ImportInput {
    /// An empty input, for the moment an input is lent to a call (see `runtime::Hooks`).
    pub(crate) fn placeholder() -> ImportInput {
        ImportInput::Document(Document {
            name: String::new(),
            media_type: String::new(),
            bytes: Vec::new(),
        })
    }
}
