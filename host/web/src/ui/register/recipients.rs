//! «Регистр получателей социальных услуг» (442-ФЗ; seeds 000 and 003): the persons the social-protection
//! department registered on import, as the regional ministry keeps them — the page `/recipients` with its
//! filters, keyset pages, links to each person's card and the export (CSV, XLSX) of the whole filtered
//! register, streamed; the API twins `GET /api/v1/social-service-recipients` (JSON, same filters and
//! cursor), `/api/v1/social-service-recipients/export` and one recipient; and, for a coordinator, the
//! button that runs the job(s) of kind `recipients-export` (whatever connector brings them).
//!
//! Who reads what is `register::recipients::Scope`; every page and answer naming persons is logged as a
//! read (`recipients.read`, the export `recipients.export`, one recipient `recipient.read`).

use super::{ru_date, ru_opt_date};
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::{Principal, Role};
use crate::export::{Cell, Format};
use crate::register::recipients::{self, Recipient, RecipientFilter, Scope};
use crate::ui::{check_csrf, csrf_field, esc, group_digits, mask_snils, page, urlencode, PageError, PageUser};
use crate::ApiError;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/recipients", get(register_page))
        .route("/recipients/send", post(send_page))
        .route("/api/v1/social-service-recipients", get(list_api))
        .route("/api/v1/social-service-recipients/export", get(export_api))
        .route("/api/v1/social-service-recipients/{id}", get(get_api))
}

/// Who may open the page: the region's readers and the executors (scoped to their measures).
pub const READERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Executor, Role::Auditor];

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
}

/// The scope of a user, refusing the roles that read nothing here (a bureau): 403 rather than an empty list.
fn scope_of(user: &Principal) -> Result<Scope, ApiError> {
    match Scope::of(user) {
        Scope::Nothing if user.role == Role::Bureau => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "регистр получателей социальных услуг бюро МСЭ не доступен".to_string(),
        )),
        scope => Ok(scope),
    }
}

/// The enabled jobs that send the register (kind `recipients-export`), by name.
async fn send_jobs(app: &App) -> anyhow::Result<Vec<(String, String)>> {
    Ok(crate::scheduler::list_jobs(app)
        .await?
        .into_iter()
        .filter(|j| j.kind == recipients::JOB_KIND && j.enabled)
        .map(|j| (j.name, j.label))
        .collect())
}

fn may_send(user: &Principal) -> bool {
    matches!(user.role, Role::Coordinator | Role::Administrator)
}

/// The filter's query string, each pair ending in `&`.
fn params(filter: &RecipientFilter) -> String {
    filter
        .pairs()
        .iter()
        .map(|(k, v)| format!("{k}={}&", urlencode(v)))
        .collect()
}

fn sent_text(r: &Recipient) -> String {
    match (&r.sent_at, &r.sent_document) {
        (Some(at), Some(doc)) => format!("{} ({doc})", ru_date(at)),
        (Some(at), None) => ru_date(at),
        _ => "не отправлен".into(),
    }
}

#[derive(Deserialize, Default)]
struct PageParams {
    #[serde(default)]
    notice: Option<String>,
}

fn options(current: Option<&str>, items: &[(&str, &str)]) -> String {
    items
        .iter()
        .map(|(v, label)| {
            format!(
                r#"<option value="{v}"{}>{label}</option>"#,
                if current == Some(*v) { " selected" } else { "" }
            )
        })
        .collect()
}

async fn register_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(params_in): Query<PageParams>,
    Query(filter): Query<RecipientFilter>,
) -> Result<Html<String>, PageError> {
    crate::ui::require_page(&user, READERS)?;
    let scope = Scope::of(&user);
    let mut body = String::from(r#"<h1>Регистр получателей социальных услуг</h1>"#);
    body.push_str(
        r#"<p class="muted">Получатели социальных услуг (Федеральный закон от 28.12.2013 № 442-ФЗ), включённые в регистр при загрузке ИПРА с мероприятиями социальной защиты в ИС «Исполнение ИПРА», и их передача в АИС СОН.</p>"#,
    );
    if let Some(notice) = params_in.notice.as_deref().filter(|n| !n.is_empty()) {
        body.push_str(&format!(
            r#"<p class="notice" role="status" id="rec-notice">{}</p>"#,
            esc(notice)
        ));
    }
    let territories = recipients::territories(&app.db).await?;
    let f = |v: &Option<String>| esc(v.as_deref().unwrap_or_default());
    let territory_options: String = territories
        .iter()
        .map(|t| {
            format!(
                r#"<option value="{0}"{1}>{0}</option>"#,
                esc(t),
                if filter.territory.as_deref() == Some(t.as_str()) {
                    " selected"
                } else {
                    ""
                }
            )
        })
        .collect();
    body.push_str(&format!(
        r#"<form class="filters" method="get" action="/recipients" id="rec-filter">
<label>Поиск <input type="search" name="q" value="{q}" placeholder="Фамилия, СНИЛС или номер ИПРА"></label>
<label>Территория <select name="territory"><option value="">все</option>{territory_options}</select></label>
<label>Добавлен с <input type="date" name="added_from" value="{from}"></label>
<label>по <input type="date" name="added_to" value="{to}"></label>
<label>ИПРА <select name="state"><option value="">любая</option>{states}</select></label>
<label>В АИС СОН <select name="sent"><option value="">все</option>{sent}</select></label>
<label>Порядок <select name="sort">{sorts}</select></label>
<button type="submit">Найти</button> <a href="/recipients">Сбросить</a></form>"#,
        q = f(&filter.q),
        from = f(&filter.added_from),
        to = f(&filter.added_to),
        states = options(
            filter.state.as_deref(),
            &[
                ("current", "действует"),
                ("superseded", "заменена новой"),
                ("deceased", "получатель умер")
            ]
        ),
        sent = options(filter.sent.as_deref(), &[("yes", "отправлен"), ("no", "не отправлен")]),
        sorts = options(
            filter.sort.as_deref(),
            &[("added", "сначала новые"), ("name", "по фамилии")]
        ),
    ));
    if let Err(problem) = filter.check() {
        body.push_str(&format!(
            r#"<p class="alert" role="alert" id="rec-problems">Фильтр не применён: {}</p>"#,
            esc(&problem)
        ));
        return Ok(page(Some(&user), "Регистр получателей социальных услуг", &body));
    }
    // The send button: a coordinator runs the job(s) that send the register, when any is enabled.
    if may_send(&user) {
        let jobs = send_jobs(&app).await?;
        if jobs.is_empty() {
            body.push_str(
                r#"<p class="muted" id="rec-send-off">Отправка в АИС СОН не настроена: задание выгрузки регистра получателей выключено (включается на странице «Задания»).</p>"#,
            );
        } else {
            let names = jobs.iter().map(|(_, label)| esc(label)).collect::<Vec<_>>().join("; ");
            body.push_str(&format!(
                r#"<form method="post" action="/recipients/send" id="rec-send" class="actions">{}<button type="submit" name="dry_run" value="0">Отправить в АИС СОН</button> <button type="submit" class="secondary" name="dry_run" value="1">Проверить без отправки</button> <span class="muted">{names}</span></form>"#,
                csrf_field(&user)
            ));
        }
    }
    let found = recipients::list(&app.db, &filter, &scope).await?;
    let persons: Vec<i64> = found.items.iter().map(|r| r.person_id).collect();
    recipients::log_read(&app.db, &user.actor(), "recipients.read", &filter, &persons).await?;
    let query = params(&filter);
    body.push_str(&format!(
        r#"<div class="actions reg-summary"><p id="rec-total" role="status" data-total="{0}" data-exact="{1}">Найдено: {2}{3}</p>
<a class="button secondary" id="rec-export-csv" href="/api/v1/social-service-recipients/export?{query}format=csv" download>Выгрузить в CSV</a>
<a class="button secondary" id="rec-export-xlsx" href="/api/v1/social-service-recipients/export?{query}format=xlsx" download>Выгрузить в XLSX</a></div>"#,
        found.total,
        found.total_exact,
        if found.total_exact { "" } else { "более " },
        group_digits(found.total.max(0) as u64),
    ));
    body.push_str(
        r#"<div class="table-wrap"><table class="reg-table" id="rec-table"><caption class="visually-hidden">Получатели социальных услуг</caption><thead><tr>
<th scope="col">ФИО</th><th scope="col">СНИЛС</th><th scope="col">Дата рождения</th><th scope="col">Территория</th><th scope="col">ИПРА</th><th scope="col">Состояние</th><th scope="col">Добавлен</th><th scope="col">В АИС СОН</th></tr></thead><tbody>"#,
    );
    if found.items.is_empty() {
        body.push_str(&format!(
            r#"<tr><td colspan="8" class="muted">{}</td></tr>"#,
            if filter.pairs().iter().any(|(k, _)| *k != "sort" && *k != "per_page") {
                "По этому фильтру получателей нет."
            } else {
                "В регистре пока нет получателей."
            }
        ));
    }
    for r in &found.items {
        let name = esc(&r.full_name());
        let name = match r.ipra_id {
            Some(id) => format!(r#"<a href="/ipras/{id}">{name}</a>"#),
            None => name,
        };
        body.push_str(&format!(
            r#"<tr data-id="{}" data-person="{}"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td data-state="{}">{}</td><td>{}</td><td class="rec-sent">{}</td></tr>"#,
            r.id,
            r.person_id,
            esc(&mask_snils(&r.snils)),
            ru_opt_date(&r.birth_date),
            esc(r.territory_code.as_deref().unwrap_or("—")),
            esc(r.ipra_number.as_deref().unwrap_or("—")),
            esc(&r.state),
            recipients::state_label(&r.state),
            esc(&ru_date(&r.added_at)),
            esc(&sent_text(r)),
        ));
    }
    body.push_str("</tbody></table></div>");
    if let Some(next) = &found.next {
        body.push_str(&format!(
            r#"<nav class="pages" aria-label="Страницы"><a href="/recipients?{query}" rel="first">« первая</a> <a href="/recipients?{query}after={}" rel="next">дальше →</a></nav>"#,
            urlencode(next)
        ));
    } else if filter.after.is_some() {
        body.push_str(&format!(
            r#"<nav class="pages" aria-label="Страницы"><a href="/recipients?{query}" rel="first">« первая</a></nav>"#
        ));
    }
    Ok(page(Some(&user), "Регистр получателей социальных услуг", &body))
}

#[derive(Deserialize)]
struct SendFields {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    dry_run: Option<String>,
}

/// Runs every enabled job of kind `recipients-export` (a dry run when asked) and comes back with what it did.
async fn send_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<SendFields>,
) -> Result<Response, PageError> {
    check_csrf(&user, &fields.csrf)?;
    if !may_send(&user) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let dry_run = fields.dry_run.as_deref() == Some("1");
    let jobs = send_jobs(&app).await?;
    if jobs.is_empty() {
        return Err(PageError::bad_request(
            "отправка в АИС СОН не настроена: задание выгрузки регистра получателей выключено".into(),
        )
        .for_user(&user));
    }
    let mut said = Vec::new();
    for (name, label) in &jobs {
        match crate::ui::admin::jobs::start(&app, &user, name, dry_run).await {
            Ok(run) => {
                let status = match run.status.as_str() {
                    "succeeded" => "выполнено",
                    "failed" => "не выполнено",
                    "retrying" => "не выполнено, будет повторено",
                    _ => "запущено",
                };
                let mut text = format!("{label}: {status} (запуск {}", run.id);
                let errors: Vec<String> = run
                    .errors
                    .as_array()
                    .map(|e| e.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let lines: Vec<String> = errors
                    .into_iter()
                    .chain(run.report.as_deref().unwrap_or_default().lines().map(str::to_string))
                    .filter(|l| !l.is_empty())
                    .collect();
                // What the run said, its errors first, in a few lines (the whole report is on «Задания»).
                for line in lines.iter().take(6) {
                    text.push_str(&format!("; {line}"));
                }
                if lines.len() > 6 {
                    text.push_str(&format!(
                        "; и ещё {} строк — в журнале запуска на странице «Задания»",
                        lines.len() - 6
                    ));
                }
                text.push(')');
                said.push(text);
            }
            Err(e) => said.push(format!("{label}: запуск не выполнен: {e:#}")),
        }
    }
    let prefix = if dry_run {
        "Проверка без отправки — "
    } else {
        ""
    };
    Ok(Redirect::to(&format!(
        "/recipients?notice={}",
        urlencode(&format!("{prefix}{}", said.join(" · ")))
    ))
    .into_response())
}

async fn list_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(filter): Query<RecipientFilter>,
) -> Result<Json<recipients::RecipientPage>, ApiError> {
    let scope = scope_of(&user)?;
    filter.check().map_err(bad_request)?;
    let mut found = recipients::list(&app.db, &filter, &scope).await?;
    let persons: Vec<i64> = found.items.iter().map(|r| r.person_id).collect();
    recipients::log_read(&app.db, &user.actor(), "recipients.read", &filter, &persons).await?;
    // Lists mask SNILS, as the register's do.
    for r in &mut found.items {
        r.snils = mask_snils(&r.snils);
    }
    Ok(Json(found))
}

async fn get_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Recipient>, ApiError> {
    let scope = scope_of(&user)?;
    let found = recipients::get(&app.db, id, &scope)
        .await?
        .ok_or_else(|| ApiError::not_found("получатель социальных услуг"))?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "recipient.read",
        &format!("person:{}", found.person_id),
        None,
    )
    .await?;
    Ok(Json(found))
}

#[derive(Deserialize)]
struct ExportParams {
    format: Option<String>,
}

/// The whole filtered register as CSV or XLSX (SNILS masked, the caller's scope), streamed 500 rows at a
/// time; logged as `recipients.export` with the rows sent.
async fn export_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(params_in): Query<ExportParams>,
    Query(filter): Query<RecipientFilter>,
) -> Result<Response, ApiError> {
    let scope = scope_of(&user)?;
    let format = params_in
        .format
        .as_deref()
        .and_then(Format::parse)
        .ok_or_else(|| bad_request("«format»: укажите csv или xlsx".into()))?;
    filter.check().map_err(bad_request)?;
    let header: Vec<String> = [
        "ФИО",
        "СНИЛС",
        "Дата рождения",
        "Территория",
        "Номер ИПРА",
        "Состояние",
        "Дата включения в регистр",
        "Отправлен в АИС СОН",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let stem = format!(
        "registr-poluchatelei-{}",
        crate::register::deadlines::format_date(crate::register::deadlines::today())
    );
    let actor = user.actor();
    let format_name = if format == Format::Csv { "csv" } else { "xlsx" };
    Ok(crate::export_stream::download(
        format,
        "Регистр получателей социальных услуг",
        header,
        &stem,
        move |mut sink| async move {
            let mut persons: Vec<i64> = Vec::new();
            let result = async {
                let mut after: Option<String> = None;
                let mut lead = None;
                loop {
                    let (chunk, next) =
                        recipients::chunk(&app.db, &filter, &scope, after.as_deref(), 500, &mut lead).await?;
                    let rows: Vec<Vec<Cell>> = chunk
                        .iter()
                        .map(|r| {
                            vec![
                                Cell::from(r.full_name()),
                                Cell::from(mask_snils(&r.snils)),
                                Cell::from(r.birth_date.as_deref().map(ru_date).unwrap_or_default()),
                                Cell::from(r.territory_code.clone().unwrap_or_default()),
                                Cell::from(r.ipra_number.clone().unwrap_or_default()),
                                Cell::from(recipients::state_label(&r.state).to_string()),
                                Cell::from(ru_date(&r.added_at)),
                                Cell::from(sent_text(r)),
                            ]
                        })
                        .collect();
                    persons.extend(chunk.iter().map(|r| r.person_id));
                    sink.send(&rows).await?;
                    match next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                anyhow::Ok(())
            }
            .await;
            let detail = json!({
                "count": sink.rows,
                "format": format_name,
                "filter": filter.pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect::<std::collections::BTreeMap<_, _>>(),
                "complete": result.is_ok(),
                "persons": persons,
            })
            .to_string();
            let logged = crate::audit::record(
                &app.db,
                &actor,
                "recipients.export",
                "social-service-recipients",
                Some(&detail),
            )
            .await;
            (sink, result.and(logged))
        },
    ))
}
