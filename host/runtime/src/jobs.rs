//! The jobs a plugin's manifest may declare: the kinds the host runs and their schedules. This is
//! part of the plugin contract (a manifest naming a kind the host does not run is refused), so it
//! lives with the manifest; the host's scheduler runs them.

use anyhow::Result;
use std::str::FromStr;

/// The kinds of job the host runs, with their labels (its scheduler's `jobs` says what each does). A plugin's
/// manifest declares its jobs with these kinds; which connector an exchange job serves is in its
/// settings.
pub const KINDS: &[(&str, &str)] = &[
    ("deadline-check", "Контроль сроков"),
    ("inbox", "Приём входящих документов коннектора"),
    ("report-outbox", "Отправка подписанных отчётов через коннектор"),
    ("person-check", "Сверка лиц через коннектор"),
    ("facts-upload", "Выгрузка фактов назначения через коннектор"),
    ("request-outbox", "Отправка запросов ведомств через коннектор"),
    ("status-export", "Выгрузка хода исполнения ИПРА через коннектор"),
    ("ippsu-outbox", "Отправка проектов ИППСУ через коннектор"),
    (
        "recipients-export",
        "Выгрузка регистра получателей социальных услуг через коннектор",
    ),
    ("plugin-step", "Шаг модуля"),
];

/// Whether the host runs jobs of this kind.
pub fn runs_kind(kind: &str) -> bool {
    KINDS.iter().any(|(k, _)| *k == kind)
}

/// Whether a job of this kind serves one connector, named in its settings (`connector`).
pub fn serves_a_connector(kind: &str) -> bool {
    matches!(
        kind,
        "inbox"
            | "report-outbox"
            | "person-check"
            | "facts-upload"
            | "request-outbox"
            | "status-export"
            | "recipients-export"
            | "ippsu-outbox"
    )
}

/// Accepts the usual five fields (minute hour day month weekday) or the `cron` crate's six/seven.
pub fn parse_schedule(text: &str) -> Result<cron::Schedule> {
    let fields = text.split_whitespace().count();
    let full = if fields == 5 {
        format!("0 {text}")
    } else {
        text.to_string()
    };
    cron::Schedule::from_str(&full).map_err(|e| anyhow::anyhow!("расписание «{text}» не разобрано: {e}"))
}
