//! Connector «{{name}}»: reads death notices of a regional registry, CSV in UTF-8 with a header line
//! (`record_id;snils;surname;given_name;patronymic;birth_date;death_date`), into death records the host
//! applies to its register of deaths. A line that does not hold is refused with its number; the others go on.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    DeathRecord, DeathRecordKind, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput,
    Normalized, PluginError, PluginInfo, PluginKind, RecordOutcome,
};
use ipra_plugin_sdk::bindings::Guest;
use ipra_plugin_sdk::department::not_supported;

/// The plugin exported to the host.
pub struct Plugin;

/// The plugin's name, as the pages show it.
pub const NAME: &str = "{{name}}";

/// The columns of a line, in order.
pub const COLUMNS: [&str; 7] = [
    "record_id",
    "snils",
    "surname",
    "given_name",
    "patronymic",
    "birth_date",
    "death_date",
];

impl Guest for Plugin {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "{{id}}".into(),
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Connector,
            sections: Vec::new(),
            document_types: vec!["{{id}}-csv".into()],
            hooks: vec![Hook::Import],
            config_keys: Vec::new(),
            lookups: Vec::new(),
        }
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        let ImportInput::Document(doc) = input else {
            return Err(not_supported(&format!("{NAME}: читает только документы")));
        };
        let text = String::from_utf8(doc.bytes).map_err(|_| PluginError {
            code: "encoding".into(),
            message: format!("Файл «{}»: ожидается текст в кодировке UTF-8", doc.name),
            record: None,
            field: None,
        })?;
        let records = text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                let locator = format!("Строка {}", n + 1);
                RecordOutcome {
                    outcome: read_line(&locator, line),
                    locator,
                }
            })
            .collect();
        Ok(ImportOutput {
            records,
            claims: Vec::new(),
            follow_ups: Vec::new(),
            warnings: Vec::new(),
        })
    }

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        Err(not_supported(&format!("{NAME}: не планирует обмен")))
    }

    fn export(_input: ExportInput) -> Result<Vec<Document>, PluginError> {
        Err(not_supported(&format!("{NAME}: ничего не отправляет")))
    }
}

ipra_plugin_sdk::bindings::export_plugin!(Plugin);

/// One line of the file: a death record, or the error naming the line and the field.
pub fn read_line(locator: &str, line: &str) -> Result<Normalized, PluginError> {
    let fields: Vec<&str> = line.split(';').map(str::trim).collect();
    let error = |code: &str, field: Option<&str>, message: String| PluginError {
        code: code.into(),
        message: format!("{locator}: {message}"),
        record: Some(locator.into()),
        field: field.map(Into::into),
    };
    if fields.len() != COLUMNS.len() {
        return Err(error(
            "bad-line",
            None,
            format!("ожидается {} полей через «;», получено {}", COLUMNS.len(), fields.len()),
        ));
    }
    for (index, label) in [(0, "Номер записи"), (2, "Фамилия"), (3, "Имя")] {
        if fields[index].is_empty() {
            return Err(error(
                "missing-field",
                Some(label),
                format!("не указано поле «{label}»"),
            ));
        }
    }
    // The SNILS may be missing (the host then looks the person up by name and birth date), never wrong.
    let snils = match fields[1] {
        "" => None,
        given => Some(
            ipra_plugin_sdk::snils::validate(given)
                .map_err(|e| error(e.code(), Some("СНИЛС"), format!("СНИЛС «{given}»: {e}")))?,
        ),
    };
    let optional = |text: &str| (!text.is_empty()).then(|| text.to_string());
    Ok(Normalized::Death(DeathRecord {
        record_id: fields[0].into(),
        kind: DeathRecordKind::New,
        act_number: None,
        act_date: None,
        death_date: optional(fields[6]),
        snils,
        surname: fields[2].into(),
        given_name: fields[3].into(),
        patronymic: optional(fields[4]),
        birth_date: optional(fields[5]),
        registry_office: None,
        extra: Vec::new(),
    }))
}
