//! «Сообщения обмена»: the exchange inbox/outbox with a status filter (failed first), the details
//! of each message, and putting a message back in line or stopping its retries.

use super::{allow, allow_write, button_form, done_notice, dt, Fields, ADMIN, MANAGERS, VIEWERS};
use crate::app::App;
use crate::auth::Principal;
use crate::exchange::{self, MessageView};
use crate::ui::{esc, opt, page, urlencode, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/messages", get(list))
        .route("/admin/messages/{id}/retry", post(retry))
        .route("/admin/messages/{id}/stop", post(stop))
}

const STATUSES: &[(&str, &str)] = &[
    ("failed", "ошибка"),
    ("stopped", "остановлено"),
    ("received", "принято, ждёт обработки"),
    ("queued", "в очереди на отправку"),
    ("processing", "обрабатывается"),
    ("processed", "обработано"),
    ("sent", "отправлено"),
    ("duplicate", "повтор"),
];

pub fn status_label(status: &str) -> &str {
    STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map(|(_, l)| *l)
        .unwrap_or(status)
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    done: Option<String>,
    problem: Option<String>,
    /// The page below this message number.
    before: Option<i64>,
}

/// Messages a page shows.
const PER_PAGE: u32 = 50;

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let status = q.status.clone().filter(|s| !s.is_empty());
    let found = exchange::messages_page(&app.db, status.as_deref(), q.before, PER_PAGE).await?;
    // Without a status chosen, the failed messages come first (the newest of them), then all.
    let failed = if status.is_none() && q.before.is_none() {
        Some(exchange::messages_page(&app.db, Some("failed"), None, PER_PAGE).await?)
    } else {
        None
    };
    let mut body = String::from("<h1>Сообщения обмена</h1>");
    body.push_str(&done_notice(q.done.as_deref()));
    if q.problem.is_some() {
        body.push_str(r#"<p class="alert" role="alert">Действие недоступно для сообщения в его текущем статусе.</p>"#);
    }
    body.push_str(r#"<form class="filters" method="get" action="/admin/messages"><label for="f-status">Статус<select id="f-status" name="status" data-autosubmit><option value="">все (сначала ошибки)</option>"#);
    for (value, label) in STATUSES {
        body.push_str(&format!(
            r#"<option value="{value}"{}>{label}</option>"#,
            if status.as_deref() == Some(*value) {
                " selected"
            } else {
                ""
            }
        ));
    }
    body.push_str(r#"</select></label><button type="submit">Показать</button></form>"#);
    if let Some(failed) = failed.filter(|f| !f.items.is_empty()) {
        body.push_str(&format!(
            r#"<h2 id="failed">С ошибкой: {}{}</h2>"#,
            if failed.total_exact { "" } else { "более " },
            failed.total
        ));
        body.push_str(&table(&user, &failed.items, None));
        if failed.next.is_some() {
            body.push_str(r#"<p><a href="/admin/messages?status=failed">Все сообщения с ошибкой →</a></p>"#);
        }
        body.push_str("<h2>Все сообщения</h2>");
    }
    body.push_str(&format!(
        "<p>Сообщений: {}{}</p>",
        if found.total_exact { "" } else { "более " },
        crate::ui::group_digits(found.total as u64)
    ));
    if found.items.is_empty() {
        body.push_str(r#"<p class="muted">Сообщений с таким статусом нет.</p>"#);
    } else {
        body.push_str(&table(&user, &found.items, status.as_deref()));
    }
    if let Some(next) = found.next {
        let status_param = status
            .as_deref()
            .map(|s| format!("status={}&", urlencode(s)))
            .unwrap_or_default();
        body.push_str(&crate::ui::keyset_pages("/admin/messages", &status_param, next));
    }
    Ok(page(Some(&user), "Сообщения обмена", &body))
}

fn table(user: &Principal, messages: &[MessageView], status: Option<&str>) -> String {
    let back = status.map(|s| format!("?status={}", urlencode(s))).unwrap_or_default();
    let mut out = String::from(
        r#"<div class="table-wrap"><table class="adm-messages"><thead><tr><th>№</th><th>Система</th><th>Направление</th><th class="hide-narrow">Вид</th><th>Файл</th><th>Статус</th><th>Попыток</th><th>Последняя ошибка</th><th class="hide-narrow">Обновлено</th><th>Действия</th></tr></thead><tbody>"#,
    );
    let can_retry = user.can_write() && MANAGERS.contains(&user.role);
    let can_stop = user.can_write() && ADMIN.contains(&user.role);
    for m in messages {
        let mut actions = String::new();
        if can_retry && matches!(m.status.as_str(), "failed" | "stopped") {
            actions.push_str(&button_form(
                user,
                &format!("/admin/messages/{}/retry{back}", m.id),
                "Повторить",
                "",
                None,
            ));
        }
        let stoppable = match m.direction.as_str() {
            "in" => matches!(m.status.as_str(), "failed" | "received"),
            _ => matches!(m.status.as_str(), "failed" | "queued"),
        };
        if can_stop && stoppable {
            actions.push_str(&button_form(
                user,
                &format!("/admin/messages/{}/stop{back}", m.id),
                "Остановить",
                "secondary",
                Some("Остановить повторы этого сообщения?"),
            ));
        }
        let details = format!(
            r#"<details><summary>Подробнее</summary><dl><dt>SHA-256</dt><dd><code class="adm-hash">{}</code></dd><dt>Создано</dt><dd>{}</dd><dt>Отчёт</dt><dd>{}</dd><dt>Обрабатывает</dt><dd>{}</dd></dl></details>"#,
            esc(&m.sha256),
            dt(&m.created_at),
            m.report_id
                .map(|r| format!(r#"<a href="/reports/{r}">№ {r}</a>"#))
                .unwrap_or_else(|| "—".into()),
            opt(&m.claimed_by)
        );
        out.push_str(&format!(
            r#"<tr id="message-{id}" class="status-{st}"><td>{id}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td>{}{details}</td><td class="{}">{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td>{}</td></tr>"#,
            esc(&m.connector.to_uppercase()),
            if m.direction == "in" { "входящее" } else { "исходящее" },
            esc(&m.kind),
            esc(&m.file_name),
            if m.status == "failed" { "bad" } else { "" },
            esc(status_label(&m.status)),
            m.attempts,
            error_cell(m),
            dt(&m.updated_at),
            if actions.is_empty() { "—".into() } else { actions },
            id = m.id,
            st = esc(&m.status),
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

/// The last error, and what the connector refused in a processed message, one line each.
fn error_cell(m: &MessageView) -> String {
    let mut cell = opt(&m.last_error);
    if let Some(refusals) = m.refusals.as_deref().filter(|_| m.status != "failed") {
        let lines: String = refusals.lines().map(|l| format!("<li>{}</li>", esc(l))).collect();
        cell = format!(
            r#"<p class="bad">Не принято записей: {}</p><ul>{lines}</ul>"#,
            refusals.lines().count()
        );
    }
    cell
}

#[derive(serde::Deserialize, Default)]
struct Back {
    status: Option<String>,
}

async fn change(
    app: App,
    user: Principal,
    id: i64,
    fields: Fields,
    back: Back,
    retry: bool,
) -> Result<Redirect, PageError> {
    allow_write(&user, if retry { MANAGERS } else { ADMIN }, &fields)?;
    let status = back
        .status
        .filter(|s| !s.is_empty())
        .map(|s| format!("&status={}", urlencode(&s)))
        .unwrap_or_default();
    match exchange::set_retry(&app, id, retry, &user.actor()).await {
        Ok(()) => {
            let done = if retry { "message-retry" } else { "message-stopped" };
            Ok(Redirect::to(&format!("/admin/messages?done={done}{status}")))
        }
        Err(_) => Ok(Redirect::to(&format!("/admin/messages?problem=1{status}"))),
    }
}

async fn retry(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(back): Query<Back>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    change(app, user, id, fields, back, true).await
}

async fn stop(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(back): Query<Back>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    change(app, user, id, fields, back, false).await
}
