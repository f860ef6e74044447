//! Native helpers for a plugin's own tests (cargo feature `testing`, never in a wasm build): an IPRA, the
//! entries of an execution record and the look-ups written as small TOML files, turned into the types the
//! hooks take. A plugin made by `ipra plugin new` keeps such files in `samples/` and runs its hooks on them
//! with `cargo test`, with no server.
//!
//! ```toml
//! # samples/ipra.toml: one IPRA with its person and measures (keys as in the WIT, snake_case)
//! number = "1234.5.45/2025"
//! protocol_date = "2025-01-10"
//! [person]
//! snils = "11223344595"
//! surname = "Иванов"
//! given_name = "Иван"
//! territory_code = "45000"
//! [[measures]]
//! key = "1"
//! section = "sport"
//! name = "Адаптивная физическая культура"
//! ```
//!
//! Every field not given takes a plain default (empty text, no value, `false`), so a sample says only what
//! its test is about.

use crate::bindings::ipra::plugin::types::{
    Attribute, Document, ExecutionEntry, ExecutionInput, ExecutionStatus, IpraExtract, Measure, Person, ReportInput,
};
use crate::department::MemoryLookups;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;

/// An IPRA of a TOML text (see the module's example).
///
/// ```
/// let ipra = ipra_plugin_sdk::testing::ipra_from_toml(r#"
///     number = "1/2025"
///     protocol_date = "2025-01-10"
///     [person]
///     snils = "11223344595"
///     surname = "Иванов"
///     given_name = "Иван"
///     [[measures]]
///     key = "7"
///     section = "sport"
///     name = "Плавание"
///     [measures.extra]
///     place = "бассейн"
/// "#).unwrap();
/// assert_eq!(ipra.measures[0].extra[0].value, "бассейн");
/// assert_eq!(ipra.protocol_number, "1/2025", "the protocol number defaults to the IPRA number");
/// ```
pub fn ipra_from_toml(text: &str) -> Result<IpraExtract, String> {
    let ipra: IpraToml = toml::from_str(text).map_err(|e| format!("ИПРА в TOML не читается: {e}"))?;
    Ok(ipra.into())
}

/// The entries of an execution record of a TOML text (`today` and `[[entries]]`), for an IPRA.
///
/// ```
/// use ipra_plugin_sdk::bindings::ipra::plugin::types::ExecutionStatus;
/// let ipra = ipra_plugin_sdk::department::sample_ipra();
/// let input = ipra_plugin_sdk::testing::execution_from_toml(ipra, r#"
///     today = "2025-03-01"
///     [[entries]]
///     measure_key = "5"
///     section = "sport"
///     status = "not-executed"
///     measure_name = "Адаптивная физическая культура"
///     executor_ogrn = "1027700132195"
///     reasons = ["refused"]
/// "#).unwrap();
/// assert!(matches!(input.entries[0].status, ExecutionStatus::NotExecuted));
/// ```
pub fn execution_from_toml(ipra: IpraExtract, text: &str) -> Result<ExecutionInput, String> {
    let record: ExecutionToml =
        toml::from_str(text).map_err(|e| format!("записи об исполнении в TOML не читаются: {e}"))?;
    let entries = record
        .entries
        .into_iter()
        .map(EntryToml::into_entry)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ExecutionInput {
        ipra,
        entries,
        today: record.today,
    })
}

/// The host's look-ups of a TOML text: `[[organisations]]` (ogrn, name), `[[routes]]` (section, territory,
/// ogrn), `[lists]` (list id → `[[code, name], …]`) and `[config]`.
///
/// ```
/// use ipra_plugin_sdk::department::Lookups;
/// let lookups = ipra_plugin_sdk::testing::lookups_from_toml(r#"
///     [[organisations]]
///     ogrn = "1027700132195"
///     name = "ГБУК «Областная библиотека»"
///     [[routes]]
///     section = "sport"
///     territory = "45000"
///     ogrn = "1027700132195"
///     [lists]
///     non-execution-reasons = [["refused", "Отказ"]]
///     [config]
///     days = "2"
/// "#).unwrap();
/// assert!(lookups.route("sport", "45000").is_some());
/// assert_eq!(lookups.reference_list("non-execution-reasons")[0].code, "refused");
/// assert_eq!(lookups.config("days").as_deref(), Some("2"));
/// ```
pub fn lookups_from_toml(text: &str) -> Result<MemoryLookups, String> {
    let given: LookupsToml = toml::from_str(text).map_err(|e| format!("справочные данные в TOML не читаются: {e}"))?;
    let mut lookups = MemoryLookups::default();
    for org in &given.organisations {
        lookups = lookups.with_organisation(&org.ogrn, &org.name);
    }
    for route in &given.routes {
        lookups = lookups.with_route(&route.section, &route.territory, &route.ogrn);
    }
    for (id, entries) in &given.lists {
        let pairs: Vec<(&str, &str)> = entries.iter().map(|[c, n]| (c.as_str(), n.as_str())).collect();
        lookups = lookups.with_reference(id, &pairs);
    }
    for (key, value) in &given.config {
        lookups = lookups.with_config(key, value);
    }
    Ok(lookups)
}

/// The execution report a department renders its section of (`export`), from an execution record.
///
/// ```
/// let input = ipra_plugin_sdk::testing::execution_from_toml(ipra_plugin_sdk::department::sample_ipra(), "today = \"2025-03-01\"").unwrap();
/// let report = ipra_plugin_sdk::testing::report_of(&input, "1027700132195", "Министерство");
/// assert_eq!(report.created, "2025-03-01");
/// ```
pub fn report_of(input: &ExecutionInput, reporter_ogrn: &str, reporter_name: &str) -> ReportInput {
    ReportInput {
        report_id: format!("R-{}", input.ipra.document_id),
        ipra: input.ipra.clone(),
        entries: input.entries.clone(),
        reporter_ogrn: reporter_ogrn.to_string(),
        reporter_name: reporter_name.to_string(),
        created: input.today.clone(),
        sections: Vec::new(),
    }
}

/// A file as the host hands it to a connector's `import`: its name, its bytes and a media type by its
/// extension (`.xml`, `.csv`, `.json`, `.zip`; anything else `application/octet-stream`). Like the host, the
/// media type says `; charset=utf-8` only when the bytes are valid UTF-8.
///
/// ```
/// let dir = std::env::temp_dir().join("ipra-sdk-testing-doc");
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("a.csv"), "id;name\n").unwrap();
/// let doc = ipra_plugin_sdk::testing::document(&dir.join("a.csv")).unwrap();
/// assert_eq!((doc.name.as_str(), doc.media_type.as_str()), ("a.csv", "text/csv; charset=utf-8"));
/// ```
pub fn document(path: &Path) -> Result<Document, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{} не читается: {e}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let extension = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let media = match extension.as_str() {
        "xml" => "application/xml",
        "csv" => "text/csv",
        "json" => "application/json",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    };
    let media_type = if extension != "zip" && std::str::from_utf8(&bytes).is_ok() {
        format!("{media}; charset=utf-8")
    } else {
        media.to_string()
    };
    Ok(Document {
        name,
        media_type,
        bytes,
    })
}

/// Reads a sample file as text, naming the file when it cannot: `read("samples/ipra.toml")`.
///
/// ```
/// assert!(ipra_plugin_sdk::testing::read("no/such/file.toml").unwrap_err().contains("no/such/file.toml"));
/// ```
pub fn read(path: impl AsRef<Path>) -> Result<String, String> {
    let path = path.as_ref();
    std::fs::read_to_string(path).map_err(|e| format!("{} не читается: {e}", path.display()))
}

fn attributes(extra: BTreeMap<String, String>) -> Vec<Attribute> {
    extra
        .into_iter()
        .map(|(code, value)| Attribute { code, value })
        .collect()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IpraToml {
    #[serde(default = "default_id")]
    extract_id: String,
    #[serde(default = "default_id")]
    document_id: String,
    #[serde(default = "default_version")]
    document_version: String,
    number: String,
    #[serde(default)]
    protocol_number: Option<String>,
    protocol_date: String,
    #[serde(default)]
    decision_date: Option<String>,
    #[serde(default)]
    valid_until: Option<String>,
    #[serde(default)]
    issued_by: Option<String>,
    #[serde(default)]
    is_child: bool,
    person: PersonToml,
    #[serde(default)]
    measures: Vec<MeasureToml>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
}

fn default_id() -> String {
    "SAMPLE-1".to_string()
}

fn default_version() -> String {
    "IPRA_20221024".to_string()
}

impl From<IpraToml> for IpraExtract {
    fn from(t: IpraToml) -> Self {
        IpraExtract {
            extract_id: t.extract_id,
            document_id: t.document_id,
            document_version: t.document_version,
            protocol_number: t.protocol_number.unwrap_or_else(|| t.number.clone()),
            number: t.number,
            protocol_date: t.protocol_date,
            decision_date: t.decision_date,
            valid_until: t.valid_until,
            issued_by: t.issued_by,
            is_child: t.is_child,
            person: t.person.into(),
            measures: t.measures.into_iter().map(Into::into).collect(),
            extra: attributes(t.extra),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonToml {
    snils: String,
    surname: String,
    given_name: String,
    #[serde(default)]
    patronymic: Option<String>,
    #[serde(default)]
    birth_date: Option<String>,
    #[serde(default)]
    gender: Option<String>,
    #[serde(default)]
    territory_code: Option<String>,
    #[serde(default)]
    address: Option<String>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
}

impl From<PersonToml> for Person {
    fn from(t: PersonToml) -> Self {
        Person {
            snils: t.snils,
            surname: t.surname,
            given_name: t.given_name,
            patronymic: t.patronymic,
            birth_date: t.birth_date,
            gender: t.gender,
            territory_code: t.territory_code,
            address: t.address,
            extra: attributes(t.extra),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MeasureToml {
    key: String,
    section: String,
    #[serde(default)]
    category_code: String,
    #[serde(default)]
    category_name: String,
    #[serde(default)]
    code: Option<String>,
    name: String,
    #[serde(default)]
    guid: Option<String>,
    #[serde(default)]
    executor_ogrn: Option<String>,
    #[serde(default)]
    executor_name: Option<String>,
    #[serde(default)]
    date_from: Option<String>,
    #[serde(default)]
    date_to: Option<String>,
    #[serde(default)]
    quantity: Option<String>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
}

impl From<MeasureToml> for Measure {
    fn from(t: MeasureToml) -> Self {
        Measure {
            key: t.key,
            section: t.section,
            category_code: t.category_code,
            category_name: t.category_name,
            code: t.code,
            name: t.name,
            guid: t.guid,
            executor_ogrn: t.executor_ogrn,
            executor_name: t.executor_name,
            date_from: t.date_from,
            date_to: t.date_to,
            quantity: t.quantity,
            extra: attributes(t.extra),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecutionToml {
    today: String,
    #[serde(default)]
    entries: Vec<EntryToml>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryToml {
    #[serde(default)]
    measure_key: Option<String>,
    section: String,
    status: String,
    #[serde(default)]
    measure_name: String,
    #[serde(default)]
    executor_ogrn: String,
    #[serde(default)]
    executor_name: Option<String>,
    #[serde(default)]
    clarification: Option<String>,
    #[serde(default)]
    execution_date: Option<String>,
    #[serde(default)]
    reasons: Vec<String>,
    #[serde(default)]
    comment: Option<String>,
    #[serde(default)]
    extra: BTreeMap<String, String>,
}

impl EntryToml {
    fn into_entry(self) -> Result<ExecutionEntry, String> {
        let status = match self.status.as_str() {
            "executed" => ExecutionStatus::Executed,
            "not-executed" => ExecutionStatus::NotExecuted,
            other => return Err(format!("поле status: «{other}» — ожидается executed или not-executed")),
        };
        Ok(ExecutionEntry {
            measure_key: self.measure_key,
            section: self.section,
            status,
            measure_name: self.measure_name,
            executor_ogrn: self.executor_ogrn,
            executor_name: self.executor_name,
            clarification: self.clarification,
            execution_date: self.execution_date,
            reasons: self.reasons,
            comment: self.comment,
            extra: attributes(self.extra),
        })
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct LookupsToml {
    #[serde(default)]
    organisations: Vec<OrganisationToml>,
    #[serde(default)]
    routes: Vec<RouteToml>,
    #[serde(default)]
    lists: BTreeMap<String, Vec<[String; 2]>>,
    #[serde(default)]
    config: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrganisationToml {
    ogrn: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteToml {
    section: String,
    territory: String,
    ogrn: String,
}
