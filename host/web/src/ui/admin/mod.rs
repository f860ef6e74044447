//! The administration pages (`/admin/…`) and the API routes they need beyond the existing ones.
//! One file per page group; this module holds the index, the role matrix and the form helpers.
//!
//! Roles: the administrator does everything; the coordinator manages organisations, routing,
//! reference lists, the calendar and ZAGS decisions, and sees and runs jobs and exchange messages;
//! the auditor sees every page read-only (no forms); an executor has no administration pages.

pub mod api;
pub mod audit;
pub mod calendar;
pub mod deaths;
pub mod jobs;
pub mod messages;
pub mod organisations;
pub mod plugins;
pub mod reference;
pub mod users;

use super::{esc, page, require_page, PageError, PageUser};
use crate::app::App;
use crate::auth::{Principal, Role};
use axum::response::Html;
use axum::routing::get;
use axum::Router;

pub const ADMIN: &[Role] = &[Role::Administrator];
pub const MANAGERS: &[Role] = &[Role::Administrator, Role::Coordinator];
pub const VIEWERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];
/// Pages of the administrator that the auditor reads: plugins, users, the audit log.
pub const ADMIN_AUDIT: &[Role] = &[Role::Administrator, Role::Auditor];

/// The pages of the index: address, name, what it is for, who sees it and who changes there.
pub struct AdminPage {
    pub path: &'static str,
    pub label: &'static str,
    pub about: &'static str,
    pub roles: &'static [Role],
}

pub const PAGES: &[AdminPage] = &[
    AdminPage {
        path: "/admin/organisations",
        label: "Организации и маршрутизация",
        about: "Справочник организаций-исполнителей и правила назначения мероприятий по разделам и территориям.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/reference",
        label: "Справочники",
        about: "Региональные справочники с историей версий: разделы, категории, причины, сроки.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/calendar",
        label: "Производственный календарь",
        about: "Праздничные и перенесённые рабочие дни для расчёта сроков.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/deaths",
        label: "Сверка с ЗАГС",
        about: "Сведения о смерти, ожидающие решения: однофамильцы без СНИЛС.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/jobs",
        label: "Задания",
        about: "Обмены и проверки по расписанию: запуск, пробный запуск, история.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/egisso",
        label: "ЕГИССО",
        about: "Сопоставление мер ЕГИССО, факты назначения, ответы ЕГИССО с причинами отказа, повторная отправка.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/messages",
        label: "Сообщения обмена",
        about: "Входящие и исходящие документы ФРИ, ЗАГС, ЕГИССО; повтор и остановка.",
        roles: VIEWERS,
    },
    AdminPage {
        path: "/admin/users",
        label: "Пользователи и роли",
        about: "Учётные записи, роли, организации, пароли и токены API.",
        roles: ADMIN_AUDIT,
    },
    AdminPage {
        path: "/admin/plugins",
        label: "Модули",
        about: "Модули ведомств и внешних систем: версии, контрольные суммы, включение.",
        roles: ADMIN_AUDIT,
    },
    AdminPage {
        path: "/admin/audit",
        label: "Журнал аудита",
        about: "Кто, когда и что сделал; проверка целостности журнала обмена.",
        roles: ADMIN_AUDIT,
    },
];

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin", get(index))
        .merge(plugins::routes())
        .merge(jobs::routes())
        .merge(messages::routes())
        .merge(organisations::routes())
        .merge(users::routes())
        .merge(reference::routes())
        .merge(calendar::routes())
        .merge(deaths::routes())
        .merge(audit::routes())
        .merge(api::routes())
}

async fn index(PageUser(user): PageUser) -> Result<Html<String>, PageError> {
    require_page(&user, VIEWERS).map_err(|e| e.for_user(&user))?;
    let mut body = String::from("<h1>Администрирование</h1>");
    if !user.can_write() {
        body.push_str(r#"<p class="notice">Режим просмотра: у роли «Аудитор» нет права изменять настройки.</p>"#);
    }
    body.push_str(r#"<div class="cards adm-index">"#);
    for p in PAGES.iter().filter(|p| p.roles.contains(&user.role)) {
        body.push_str(&format!(
            r#"<div class="card"><h2><a href="{}">{}</a></h2><p>{}</p></div>"#,
            p.path, p.label, p.about
        ));
    }
    body.push_str("</div>");
    Ok(page(Some(&user), "Администрирование", &body))
}

/// The user of an administration page, checked against the page's roles (403 page otherwise).
pub fn allow(user: &Principal, roles: &[Role]) -> Result<(), PageError> {
    require_page(user, roles).map_err(|e| e.for_user(user))
}

/// A form post that changes something: roles, not the auditor, and the CSRF token.
pub fn allow_write(user: &Principal, roles: &[Role], fields: &Fields) -> Result<(), PageError> {
    allow(user, roles)?;
    super::require_page_write(user).map_err(|e| e.for_user(user))?;
    super::check_csrf(user, field(fields, "csrf")).map_err(|e| e.for_user(user))
}

/// The fields of a posted form, in order (repeated names allowed).
pub type Fields = Vec<(String, String)>;

/// A posted field, trimmed; empty when absent.
pub fn field<'a>(fields: &'a Fields, name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
        .unwrap_or_default()
}

/// A posted field or None when empty.
pub fn field_opt(fields: &Fields, name: &str) -> Option<String> {
    Some(field(fields, name)).filter(|v| !v.is_empty()).map(str::to_string)
}

/// RFC 3339 time or ISO date as ДД.ММ.ГГГГ (with ЧЧ:ММ on the region's clocks for times).
pub fn dt(text: &str) -> String {
    let dates = |t: &str| crate::ui::dates::day_time(t).or_else(|| crate::ui::dates::day(t));
    dates(text).unwrap_or_else(|| esc(text))
}

pub fn dt_opt(text: &Option<String>) -> String {
    text.as_deref().map(dt).unwrap_or_else(|| "—".into())
}

/// A labelled text input with its error next to it (`role="alert"`, tied by `aria-describedby`).
pub fn input(name: &str, label: &str, value: &str, error: Option<&str>, extra: &str) -> String {
    let (described, message) = error_parts(name, error);
    format!(
        r#"<label for="f-{name}">{label}<input id="f-{name}" name="{name}" value="{}" {extra}{described}>{message}</label>"#,
        esc(value)
    )
}

/// A labelled select; `options` are (value, text).
pub fn select(name: &str, label: &str, options: &[(String, String)], current: &str, error: Option<&str>) -> String {
    let (described, message) = error_parts(name, error);
    let mut out = format!(r#"<label for="f-{name}">{label}<select id="f-{name}" name="{name}"{described}>"#);
    for (value, text) in options {
        out.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(value),
            if value == current { " selected" } else { "" },
            esc(text)
        ));
    }
    out.push_str(&format!("</select>{message}</label>"));
    out
}

fn error_parts(name: &str, error: Option<&str>) -> (String, String) {
    match error {
        Some(e) => (
            format!(r#" aria-invalid="true" aria-describedby="e-{name}""#),
            format!(
                r#"<span class="field-error" id="e-{name}" role="alert">{}</span>"#,
                esc(e)
            ),
        ),
        None => (String::new(), String::new()),
    }
}

/// The confirmation a page shows after a change it redirected from (`?done=…`).
pub fn done_notice(done: Option<&str>) -> String {
    let text = match done.unwrap_or_default() {
        "plugin-enabled" => "Модуль включён.",
        "plugin-disabled" => "Модуль выключен.",
        "plugin-installed" => "Модуль установлен. Он выключен, пока администратор его не включит.",
        "plugin-installed-enabled" => "Модуль установлен и включён.",
        "plugin-upgraded" => "Модуль обновлён; прежняя версия сохранена для отката.",
        "plugin-removed" => "Модуль удалён; его версия сохранена для отката.",
        "plugin-rolled-back" => "Модуль возвращён к предыдущей версии.",
        "job-saved" => "Задание сохранено.",
        "job-added" => "Задание добавлено.",
        "run-retried" => "Запуск повторён.",
        "run-discarded" => "Неудачный запуск отклонён.",
        "message-retry" => "Сообщение поставлено в очередь повторно.",
        "message-stopped" => "Повторы сообщения остановлены.",
        "org-saved" => "Организация сохранена.",
        "rule-saved" => "Правило маршрутизации сохранено, мероприятия переназначены.",
        "rule-deleted" => "Правило маршрутизации удалено.",
        "user-added" => "Пользователь добавлен.",
        "user-saved" => "Роль и организация пользователя сохранены.",
        "user-password" => "Пароль изменён; открытые сеансы пользователя завершены.",
        "user-deactivated" => "Пользователь отключён; его сеансы завершены.",
        "user-activated" => "Пользователь снова может входить.",
        "token-revoked" => "Токен отозван.",
        "reference-saved" => "Справочник сохранён новой версией.",
        "calendar-saved" => "Календарь сохранён новой версией.",
        "death-applied" => "Сведения о смерти применены к гражданину.",
        "death-rejected" => "Сведения о смерти отклонены.",
        _ => return String::new(),
    };
    format!(r#"<p class="notice" role="status">{text}</p>"#)
}

/// A refusal of the register (a Russian message) shown as an alert above a form.
pub fn alert(message: &str) -> String {
    format!(r#"<p class="alert" role="alert">{}</p>"#, esc(message))
}

/// A form with one button posting to `action` (with the CSRF field).
pub fn button_form(user: &Principal, action: &str, label: &str, class: &str, confirm: Option<&str>) -> String {
    let confirm = confirm
        .map(|c| format!(r#" data-confirm="{}""#, esc(c)))
        .unwrap_or_default();
    format!(
        r#"<form method="post" action="{action}" class="adm-inline">{}<button type="submit" class="{class}"{confirm}>{label}</button></form>"#,
        super::csrf_field(user)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shown_russian_style() {
        // Times on the region's clocks: Moscow, UTC+3, in unit tests.
        assert_eq!(dt("2026-11-23T12:05:07Z"), "23.11.2026 15:05");
        assert_eq!(dt("2026-01-09"), "09.01.2026");
        assert_eq!(dt("не дата"), "не дата");
    }

    #[test]
    fn fields_are_trimmed_and_optional() {
        let fields: Fields = vec![("a".into(), " x ".into()), ("b".into(), "  ".into())];
        assert_eq!(field(&fields, "a"), "x");
        assert_eq!(field_opt(&fields, "b"), None);
        assert_eq!(field(&fields, "c"), "");
    }
}
