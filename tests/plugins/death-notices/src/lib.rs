//! A connector the host has never seen, for the tests of «connectors declared, not coded»: a
//! regional registry's death notices as CSV (`record_id;snils;surname;given_name;patronymic;
//! birth_date;death_date`, a header line first). Each line becomes a death record; a line that does
//! not hold is refused with its number.

use ipra_plugin_sdk::bindings::ipra::plugin::types::{
    DeathRecord, DeathRecordKind, Document, ExecuteInput, ExecuteOutput, ExportInput, Hook, ImportInput, ImportOutput,
    Normalized, PluginError, PluginInfo, PluginKind, RecordOutcome,
};
use ipra_plugin_sdk::bindings::Guest;

struct DeathNotices;

fn refusal(code: &str, message: String, record: Option<String>) -> PluginError {
    PluginError {
        code: code.into(),
        message,
        record,
        field: None,
    }
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

fn line(locator: &str, text: &str) -> Result<Normalized, PluginError> {
    let fields: Vec<&str> = text.split(';').collect();
    if fields.len() != 7 {
        return Err(refusal(
            "bad-line",
            format!("{locator}: ожидается 7 полей через «;», получено {}", fields.len()),
            Some(locator.into()),
        ));
    }
    if fields[0].trim().is_empty() || fields[2].trim().is_empty() || fields[3].trim().is_empty() {
        return Err(refusal(
            "missing",
            format!("{locator}: нужны номер записи, фамилия и имя"),
            Some(locator.into()),
        ));
    }
    Ok(Normalized::Death(DeathRecord {
        record_id: fields[0].trim().into(),
        kind: DeathRecordKind::New,
        act_number: None,
        act_date: None,
        death_date: optional(fields[6]),
        snils: optional(fields[1]),
        surname: fields[2].trim().into(),
        given_name: fields[3].trim().into(),
        patronymic: optional(fields[4]),
        birth_date: optional(fields[5]),
        registry_office: None,
        extra: vec![],
    }))
}

impl Guest for DeathNotices {
    fn describe() -> PluginInfo {
        PluginInfo {
            id: "death-notices".into(),
            name: "Тестовый коннектор: извещения о смерти (CSV)".into(),
            version: "1.0.0".into(),
            kind: PluginKind::Connector,
            sections: vec![],
            document_types: vec!["death-notices-csv".into()],
            hooks: vec![Hook::Import],
            config_keys: vec![],
            lookups: vec![],
        }
    }

    fn import(input: ImportInput) -> Result<ImportOutput, PluginError> {
        let ImportInput::Document(doc) = input else {
            return Err(refusal("not-supported", "Не поддерживается".into(), None));
        };
        let text = String::from_utf8(doc.bytes)
            .map_err(|_| refusal("encoding", format!("{}: ожидается текст UTF-8", doc.name), None))?;
        let records = text
            .lines()
            .enumerate()
            .skip(1)
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                let locator = format!("Строка {}", n + 1);
                RecordOutcome {
                    outcome: line(&locator, l),
                    locator,
                }
            })
            .collect();
        Ok(ImportOutput {
            records,
            claims: vec![],
            follow_ups: vec![],
            warnings: vec![],
        })
    }

    fn execute(_input: ExecuteInput) -> Result<ExecuteOutput, PluginError> {
        Err(refusal("not-supported", "Не поддерживается".into(), None))
    }

    fn export(_input: ExportInput) -> Result<Vec<Document>, PluginError> {
        Err(refusal("not-supported", "Не поддерживается".into(), None))
    }
}

ipra_plugin_sdk::bindings::export_plugin!(DeathNotices);
