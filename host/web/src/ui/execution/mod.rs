//! The executor's and coordinator's work on an IPRA (руководство «ЛК исполнителя ИПРА» в ЕЦП, domain §5.4–5.8): the execution
//! form by the six sections ([`form`]), the register of executions with filters, sorting, paging
//! and export (here), the reports with their printed form and the signing step ([`reports`]),
//! and the PDF writer of the printed form ([`pdf`]). Each page action has an `/api/v1` twin.

pub mod form;
pub mod pdf;
pub mod reports;

use super::{esc, group_digits, mask_snils, opt, page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::Principal;
use crate::export::{Cell, Format};
use crate::register::execution;
use crate::register::execution_register::{self, ExecutionFilter, ExecutionRow, PendingRow};
use crate::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/ipras/{id}/execution", get(form::show).post(form::submit))
        .route("/ipras/{id}/report", post(reports::assemble))
        .route("/executions", get(register_page))
        .route("/executions/export", get(register_export))
        .route("/executions/{id}", get(view))
        .route("/notices/{id}/read", post(notice_read))
        .route("/api/v1/notices", get(notices_api))
        .route("/api/v1/notices/{id}/read", post(notice_read_api))
        .route("/reports", get(reports::list_page))
        .route("/reports/{id}", get(reports::show))
        .route("/reports/{id}/print.pdf", get(reports::print_page))
        .route("/reports/{id}/sign", post(reports::sign))
        .route("/reports/{id}/signature", post(reports::upload))
        .route("/reports/{id}/withdraw", post(reports::withdraw))
        .route("/reports/{id}/answer", post(reports::answer))
        .route("/api/v1/reports/{id}/pdf", get(reports::print_api))
        .route("/api/v1/execution-register", get(register_api))
}

/// `2026-03-05…` (or a stored time: the region's date of it) as `05.03.2026`; anything else as it
/// is, escaped.
pub fn ru_date(date: &str) -> String {
    crate::ui::dates::day(date).unwrap_or_else(|| esc(date))
}

/// A stored time (RFC 3339, UTC) as `ДД.ММ.ГГГГ ЧЧ:ММ` on the region's clocks.
pub fn ru_datetime(at: &str) -> String {
    crate::ui::dates::day_time(at).unwrap_or_else(|| ru_date(at))
}

/// The six sections in the order of the `sections` reference list: (code, name).
pub fn section_names(app: &App) -> Vec<(String, String)> {
    app.reference().code_names("sections")
}

pub fn reason_names(app: &App) -> Vec<(String, String)> {
    app.reference().code_names("non-execution-reasons")
}

/// One status change of an execution record.
pub struct RecordEvent {
    pub record: i64,
    pub measure: String,
    pub from: Option<String>,
    pub to: String,
    pub at: String,
    pub actor: String,
}

/// The status history of the records of an IPRA the user sees, newest first.
pub async fn record_history(app: &App, user: &Principal, ipra_id: i64) -> anyhow::Result<Vec<RecordEvent>> {
    let mut events = Vec::new();
    for r in execution::records_of_ipra(app, ipra_id).await? {
        if user.scope().is_some_and(|o| r.form.organisation != o) {
            continue;
        }
        for step in execution::record_steps(&app.db, r.id).await? {
            events.push(RecordEvent {
                record: r.id,
                measure: r.form.measure_name.clone(),
                from: step.from,
                to: step.to,
                at: step.at,
                actor: step.actor,
            });
        }
    }
    events.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(events)
}

/// The register's query: the filter of `execution_register` plus the page's column settings.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RegisterQuery {
    #[serde(flatten)]
    pub filter: ExecutionFilter,
    /// The page number as the reader counts it (positions do not know it).
    pub page: Option<u32>,
    pub format: Option<String>,
    /// «Настройка столбцов таблицы»: present when the settings were sent; then the columns
    /// shown are the `c_<column>` sent (by default all are shown).
    pub columns: Option<String>,
    pub c_snils: Option<String>,
    pub c_surname: Option<String>,
    pub c_given_name: Option<String>,
    pub c_patronymic: Option<String>,
    pub c_section: Option<String>,
    pub c_result: Option<String>,
    pub c_executor: Option<String>,
    pub c_date: Option<String>,
    pub c_sent: Option<String>,
    pub c_status: Option<String>,
}

/// The optional columns of the register: (key, heading, hidden on a phone, the sort it offers).
const COLUMNS: &[(&str, &str, bool, Option<&str>)] = &[
    ("snils", "СНИЛС", true, None),
    ("surname", "Фамилия", false, Some("surname")),
    ("given_name", "Имя", false, None),
    ("patronymic", "Отчество", true, None),
    ("section", "Раздел", true, None),
    ("result", "Мероприятие и результат", false, None),
    ("executor", "Исполнитель", true, None),
    ("date", "Изменено", false, Some("date")),
    ("sent", "Дата отправки", true, Some("sent")),
    ("status", "Статус", false, Some("status")),
];

impl RegisterQuery {
    fn column_flag(&self, key: &str) -> &Option<String> {
        match key {
            "snils" => &self.c_snils,
            "surname" => &self.c_surname,
            "given_name" => &self.c_given_name,
            "patronymic" => &self.c_patronymic,
            "section" => &self.c_section,
            "result" => &self.c_result,
            "executor" => &self.c_executor,
            "date" => &self.c_date,
            "sent" => &self.c_sent,
            _ => &self.c_status,
        }
    }

    /// Whether a column is shown: all by default, else as the settings say.
    pub fn shows(&self, key: &str) -> bool {
        self.columns.is_none() || self.column_flag(key).is_some()
    }
}

#[derive(Debug, Serialize)]
pub struct RegisterPage {
    #[serde(flatten)]
    pub found: execution_register::ExecutionPage,
    pub page: u32,
    /// IPRAs awaiting execution (the first 25 by due date); `pending_more`: there are others.
    pub pending: Vec<PendingRow>,
    pub pending_total: usize,
    pub pending_more: bool,
}

pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

const PER_PAGE: u32 = 25;

/// One page of the register and the IPRAs awaiting execution.
async fn register_page_data(app: &App, user: &Principal, q: &RegisterQuery) -> anyhow::Result<RegisterPage> {
    let found = execution_register::list(&app.db, &q.filter, user.scope(), PER_PAGE).await?;
    let (pending, pending_more) =
        execution_register::pending(&app.db, user.scope(), q.filter.number.as_deref(), PER_PAGE as usize).await?;
    Ok(RegisterPage {
        found,
        page: q.page.unwrap_or(1).max(1),
        pending_total: pending.len(),
        pending,
        pending_more,
    })
}

fn section_label(app: &App, code: &str) -> String {
    section_names(app)
        .into_iter()
        .find(|(c, _)| c == code)
        .map(|(_, n)| n)
        .unwrap_or_else(|| code.to_string())
}

fn register_header() -> Vec<String> {
    [
        "Номер ИПРА",
        "СНИЛС",
        "Фамилия",
        "Имя",
        "Отчество",
        "Раздел",
        "Мероприятие",
        "Результат",
        "Дата исполнения",
        "Исполнитель (ОГРН)",
        "Изменено",
        "Дата отправки",
        "Статус",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn register_cells(app: &App, r: &ExecutionRow) -> Vec<Cell> {
    vec![
        Cell::from(r.number.as_str()),
        Cell::from(r.snils.as_str()),
        Cell::from(r.surname.as_str()),
        Cell::from(r.given_name.as_str()),
        Cell::from(r.patronymic.clone()),
        Cell::from(section_label(app, &r.section)),
        Cell::from(r.measure.as_str()),
        Cell::from(form::result_label(&r.result)),
        Cell::from(r.execution_date.as_deref().map(ru_date)),
        Cell::from(r.executor_ogrn.as_str()),
        Cell::from(ru_date(&r.date)),
        Cell::from(r.sent_at.as_deref().map(ru_date)),
        Cell::from(r.status_label.as_str()),
    ]
}

/// The whole register of the filter as a file (every page, in its order), streamed as it is read.
async fn export(app: &App, user: &Principal, q: &RegisterQuery, format: &str) -> Result<Response, ApiError> {
    let format = Format::parse(format).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            format!("формат выгрузки «{format}» неизвестен: csv или xlsx"),
        )
    })?;
    let (app, scope, mut filter) = (app.clone(), user.scope().map(str::to_string), q.filter.clone());
    Ok(crate::export_stream::download(
        format,
        "Реестр исполнения ИПРА",
        register_header(),
        "executions",
        move |mut sink| async move {
            let result = async {
                loop {
                    let page = execution_register::list(&app.db, &filter, scope.as_deref(), 500).await?;
                    let rows: Vec<Vec<Cell>> = page.items.iter().map(|r| register_cells(&app, r)).collect();
                    sink.send(&rows).await?;
                    match page.next {
                        Some(next) => filter.after = Some(next),
                        None => break,
                    }
                }
                anyhow::Ok(())
            }
            .await;
            (sink, result)
        },
    ))
}

/// GET `/api/v1/execution-register`: the register as JSON, or a file with `format=csv|xlsx`.
async fn register_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, ApiError> {
    let problems = execution_register::problems(&q.filter);
    if !problems.is_empty() {
        return Err(ApiError::bad_filter(problems));
    }
    if let Some(format) = q.format.as_deref().filter(|f| !f.is_empty()) {
        return export(&app, &user, &q, format).await;
    }
    Ok(Json(register_page_data(&app, &user, &q).await?).into_response())
}

async fn register_export(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<RegisterQuery>,
) -> Result<Response, PageError> {
    let problems = execution_register::problems(&q.filter);
    if !problems.is_empty() {
        return Err(
            PageError::bad_request(problems.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" ")).for_user(&user),
        );
    }
    export(&app, &user, &q, q.format.as_deref().unwrap_or("csv"))
        .await
        .map_err(|e| PageError::bad_request(e.message().to_string()).for_user(&user))
}

fn query_string(q: &RegisterQuery, skip: &[&str]) -> String {
    let f = &q.filter;
    [
        ("number", &f.number),
        ("snils", &f.snils),
        ("surname", &f.surname),
        ("given_name", &f.given_name),
        ("patronymic", &f.patronymic),
        ("sent_from", &f.sent_from),
        ("sent_to", &f.sent_to),
        ("status", &f.status),
        ("section", &f.section),
        ("result", &f.result),
        ("sort", &f.sort),
        ("dir", &f.dir),
        ("columns", &q.columns),
        ("c_snils", &q.c_snils),
        ("c_surname", &q.c_surname),
        ("c_given_name", &q.c_given_name),
        ("c_patronymic", &q.c_patronymic),
        ("c_section", &q.c_section),
        ("c_result", &q.c_result),
        ("c_executor", &q.c_executor),
        ("c_date", &q.c_date),
        ("c_sent", &q.c_sent),
        ("c_status", &q.c_status),
    ]
    .into_iter()
    .filter(|(k, _)| !skip.contains(k))
    .filter_map(|(k, v)| {
        v.as_deref()
            .filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}&", urlencode(v)))
    })
    .collect()
}

fn filter_input(name: &str, label: &str, value: &Option<String>, kind: &str) -> String {
    format!(
        r#"<label for="x-{name}">{label}<input id="x-{name}" name="{name}" type="{kind}" value="{}"></label>"#,
        value.as_deref().map(esc).unwrap_or_default()
    )
}

fn select_input(name: &str, label: &str, value: &Option<String>, options: &[(String, String)]) -> String {
    let mut html =
        format!(r#"<label for="x-{name}">{label}<select id="x-{name}" name="{name}"><option value="">все</option>"#);
    for (code, text) in options {
        html.push_str(&format!(
            r#"<option value="{}"{}>{}</option>"#,
            esc(code),
            if value.as_deref() == Some(code.as_str()) {
                " selected"
            } else {
                ""
            },
            esc(text)
        ));
    }
    html.push_str("</select></label>");
    html
}

/// GET `/executions`: the register of executions.
async fn register_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<RegisterQuery>,
) -> Result<Html<String>, PageError> {
    let filter = &q.filter;
    let problems = execution_register::problems(filter);
    let mut body = String::from("<h1>Реестр исполнения ИПРА</h1>");
    if let Some(ogrn) = user.scope() {
        let notices = execution::unread_notices(&app.db, ogrn, 20)
            .await
            .map_err(|e| PageError::from(e).for_user(&user))?;
        body.push_str(&notices_html(&user, &notices));
    }
    body.push_str(r#"<form class="filters" method="get" action="/executions">"#);
    body.push_str(&filter_input("number", "Номер ИПРА", &filter.number, "text"));
    body.push_str(&filter_input("snils", "СНИЛС", &filter.snils, "text"));
    body.push_str(&filter_input("surname", "Фамилия", &filter.surname, "text"));
    body.push_str(&filter_input("given_name", "Имя", &filter.given_name, "text"));
    body.push_str(&filter_input("patronymic", "Отчество", &filter.patronymic, "text"));
    body.push_str(&select_input(
        "section",
        "Раздел",
        &filter.section,
        &section_names(&app),
    ));
    body.push_str(&select_input(
        "result",
        "Результат",
        &filter.result,
        &[
            ("executed".to_string(), "Выполнено".to_string()),
            ("not-executed".to_string(), "Не выполнено".to_string()),
        ],
    ));
    body.push_str(&filter_input("sent_from", "Дата отправки с", &filter.sent_from, "date"));
    body.push_str(&filter_input("sent_to", "по", &filter.sent_to, "date"));
    let statuses: Vec<(String, String)> = execution_register::STATUSES
        .iter()
        .map(|(c, l)| (c.to_string(), l.to_string()))
        .collect();
    body.push_str(&select_input("status", "Статус", &filter.status, &statuses));
    body.push_str(r#"<details class="ex-columns"><summary>Настройка столбцов таблицы</summary><input type="hidden" name="columns" value="1">"#);
    for (key, label, _, _) in COLUMNS {
        body.push_str(&format!(
            r#"<span class="ex-check"><input type="checkbox" id="x-c-{key}" name="c_{key}" value="1"{}><label for="x-c-{key}">{label}</label></span>"#,
            if q.shows(key) { " checked" } else { "" }
        ));
    }
    body.push_str("</details>");
    if let Some(sort) = &filter.sort {
        body.push_str(&format!(r#"<input type="hidden" name="sort" value="{}">"#, esc(sort)));
    }
    if let Some(dir) = &filter.dir {
        body.push_str(&format!(r#"<input type="hidden" name="dir" value="{}">"#, esc(dir)));
    }
    body.push_str(r#"<button type="submit">Найти</button> <a href="/executions">Сбросить</a></form>"#);
    if !problems.is_empty() {
        for (_, m) in &problems {
            body.push_str(&format!(r#"<p class="alert" role="alert">{}</p>"#, esc(m)));
        }
        return Ok(page(Some(&user), "Реестр исполнения", &body));
    }
    let data = register_page_data(&app, &user, &q).await?;
    let found = &data.found;
    let qs = query_string(&q, &[]);
    body.push_str(&format!(
        r#"<p class="ex-summary">Найдено: {}{} · Выгрузить: <a href="/executions/export?{qs}format=csv">CSV</a>, <a href="/executions/export?{qs}format=xlsx">XLSX</a></p>"#,
        if found.total_exact { "" } else { "более " },
        group_digits(found.total as u64)
    ));
    let base = query_string(&q, &["sort", "dir"]);
    let current = filter.sort.as_deref().unwrap_or("date");
    let header = |key: &str, label: &str, class: &str| {
        let desc_now = match filter.dir.as_deref() {
            Some(d) => d == "desc",
            None => key == "date" || key == "sent",
        };
        let (dir, mark, sorted) = if current == key {
            if desc_now {
                ("asc", " ↓", r#" aria-sort="descending""#)
            } else {
                ("desc", " ↑", r#" aria-sort="ascending""#)
            }
        } else {
            ("asc", "", "")
        };
        format!(r#"<th{class}{sorted}><a href="/executions?{base}sort={key}&dir={dir}">{label}{mark}</a></th>"#)
    };
    body.push_str(r#"<div class="table-wrap"><table class="ex-register"><thead><tr>"#);
    body.push_str(&header("number", "Номер ИПРА", ""));
    let shown: Vec<&(&str, &str, bool, Option<&str>)> = COLUMNS.iter().filter(|(k, _, _, _)| q.shows(k)).collect();
    let narrow = |hide: bool| if hide { r#" class="hide-narrow""# } else { "" };
    for (_, label, hide, sort) in &shown {
        match sort {
            Some(sort) => body.push_str(&header(sort, label, narrow(*hide))),
            None => body.push_str(&format!("<th{}>{label}</th>", narrow(*hide))),
        }
    }
    body.push_str("</tr></thead><tbody>");
    if found.items.is_empty() {
        body.push_str(&format!(
            r#"<tr><td colspan="{}" class="muted">Ничего не найдено.</td></tr>"#,
            shown.len() + 1
        ));
    }
    for r in &found.items {
        body.push_str(&format!(
            r#"<tr><td><a href="/executions/{}">{}</a></td>"#,
            r.ipra_id,
            esc(&r.number)
        ));
        for (key, _, hide, _) in &shown {
            let value = match *key {
                "snils" => esc(&r.snils),
                "surname" => esc(&r.surname),
                "given_name" => esc(&r.given_name),
                "patronymic" => opt(&r.patronymic),
                "section" => esc(&section_label(&app, &r.section)),
                "result" => format!(
                    "{}<br><span class=\"muted\">{}{}</span>",
                    esc(&r.measure),
                    form::result_label(&r.result),
                    r.execution_date
                        .as_deref()
                        .map(|d| format!(", {}", ru_date(d)))
                        .unwrap_or_default()
                ),
                "executor" => format!(
                    "{}<br><span class=\"muted\">ОГРН {}</span>",
                    opt(&r.executor_name),
                    esc(&r.executor_ogrn)
                ),
                "date" => ru_date(&r.date),
                "sent" => r.sent_at.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
                _ => format!(
                    r#"<span class="ex-st ex-st-{}">{}</span>"#,
                    r.status,
                    esc(&r.status_label)
                ),
            };
            body.push_str(&format!("<td{}>{value}</td>", narrow(*hide)));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    if data.page > 1 || found.next.is_some() {
        body.push_str(r#"<nav class="pages" aria-label="Страницы">"#);
        if data.page > 1 {
            body.push_str(&format!(r#"<a href="/executions?{qs}" rel="first">« первая</a> "#));
        }
        body.push_str(&format!("страница {}", group_digits(u64::from(data.page))));
        if let Some(next) = &found.next {
            body.push_str(&format!(
                r#" <a href="/executions?{qs}after={}&page={}" rel="next">вперёд →</a>"#,
                urlencode(next),
                data.page + 1
            ));
        }
        body.push_str("</nav>");
    }
    body.push_str(&format!(
        r#"<h2 id="pending">Ожидают внесения исполнения: {}{}</h2>"#,
        if data.pending_more { "более " } else { "" },
        data.pending_total
    ));
    if data.pending.is_empty() {
        body.push_str(r#"<p class="muted">Нет ИПРА с открытыми мероприятиями без записей исполнения.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table class="ex-pending"><thead><tr><th>Номер ИПРА</th><th>ФИО</th><th>Открытых мероприятий</th><th>Ближайший срок</th><th>Действие</th></tr></thead><tbody>"#);
        for p in &data.pending {
            body.push_str(&format!(
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/ipras/{}/execution">{}</a></td></tr>"#,
                esc(&p.number),
                esc(&p.full_name),
                p.open_measures,
                p.due_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
                p.ipra_id,
                if user.can_write() {
                    "Внести исполнение"
                } else {
                    "Открыть"
                }
            ));
        }
        body.push_str("</tbody></table></div>");
        if data.pending_more {
            body.push_str(&format!(
                r#"<p class="muted">Показаны {PER_PAGE} с ближайшим сроком; уточните номер ИПРА в фильтре.</p>"#
            ));
        }
    }
    Ok(page(Some(&user), "Реестр исполнения", &body))
}

/// GET `/executions/{id}`: the execution of one IPRA, read only, by section with reasons.
async fn view(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let card = crate::register::query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(&user))?;
    let records: Vec<_> = execution::records_of_ipra(&app, id)
        .await?
        .into_iter()
        .filter(|r| user.scope().is_none_or(|o| r.form.organisation == o))
        .collect();
    let p = &card.person;
    let mut body = format!(
        r#"<h1>Исполнение ИПРА № {}</h1><p>{} {} {} · СНИЛС {} · протокол {} от {}</p>"#,
        esc(&card.number),
        esc(&p.surname),
        esc(&p.given_name),
        opt(&p.patronymic),
        mask_snils(&digits(&p.snils)),
        esc(&card.protocol_number),
        ru_date(&card.protocol_date)
    );
    body.push_str(&format!(
        r#"<p class="actions"><a href="/ipras/{id}/execution">{}</a> · <a href="/ipras/{id}">Карточка выписки</a> · <a href="/reports?ipra={id}">Отчёты</a></p>"#,
        if user.can_write() { "Открыть форму исполнения" } else { "Форма исполнения (просмотр)" }
    ));
    let reasons = reason_names(&app);
    for (code, name) in section_names(&app) {
        let in_section: Vec<_> = records.iter().filter(|r| r.form.section == code).collect();
        if in_section.is_empty() {
            continue;
        }
        body.push_str(&format!(
            r#"<h2>{}</h2><div class="table-wrap"><table><thead><tr><th>Мероприятие</th><th>Результат</th><th>Исполнитель</th><th>Дата</th><th>Причины неисполнения / комментарий</th><th>Статус</th></tr></thead><tbody>"#,
            esc(&name)
        ));
        for r in in_section {
            let f = &r.form;
            body.push_str(&format!(
                "<tr><td>{}{}</td><td>{}</td><td>{}<br><span class=\"muted\">ОГРН {}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.measure_name),
                f.clarification
                    .as_deref()
                    .map(|c| format!("<br><span class=\"muted\">{}</span>", esc(c)))
                    .unwrap_or_default(),
                form::result_label(&f.result),
                opt(&f.executor_name),
                esc(&f.executor_ogrn),
                f.execution_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
                if f.reasons.is_empty() {
                    opt(&f.comment)
                } else {
                    esc(&form::reason_list(&f.reasons, &reasons))
                },
                execution::status_label(&r.status)
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    if records.is_empty() {
        body.push_str(r#"<p class="muted">Исполнение ещё не вносилось.</p>"#);
    }
    Ok(page(Some(&user), &format!("Исполнение ИПРА № {}", card.number), &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shown_day_month_year() {
        assert_eq!(ru_date("2026-03-05"), "05.03.2026");
        assert_eq!(ru_date("2026-03-05T10:20:30Z"), "05.03.2026");
        assert_eq!(ru_datetime("2026-03-05T10:20:30Z"), "05.03.2026 13:20");
        assert_eq!(
            ru_date("2026-03-05T22:20:30Z"),
            "06.03.2026",
            "the region's date of a late UTC time"
        );
        assert_eq!(ru_date("вчера"), "вчера");
    }

    #[test]
    fn snils_digits_are_kept() {
        assert_eq!(digits("123-456 789 01"), "12345678901");
    }
}

/// What the organisation is told and has not marked read: records moved to a superseding IPRA.
fn notices_html(user: &Principal, notices: &[execution::Notice]) -> String {
    if notices.is_empty() {
        return String::new();
    }
    let mut out =
        String::from(r#"<section class="notices" id="notices" aria-label="Уведомления"><h2>Уведомления</h2><ul>"#);
    for n in notices {
        let link = n
            .ipra_id
            .map(|id| format!(r#" <a href="/ipras/{id}/execution">Открыть исполнение</a>"#))
            .unwrap_or_default();
        out.push_str(&format!(
            r#"<li data-notice="{id}"><span class="muted">{at}</span> {text}{link} <form class="inline" method="post" action="/notices/{id}/read">{csrf}<button type="submit">Прочитано</button></form></li>"#,
            id = n.id,
            at = esc(&crate::ui::dates::day_time(&n.at).unwrap_or_else(|| n.at.clone())),
            text = esc(&n.text),
            csrf = super::csrf_field(user),
        ));
    }
    out.push_str("</ul></section>");
    out
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn notice_read(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    axum::Form(form): axum::Form<CsrfForm>,
) -> Result<Response, PageError> {
    super::check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    let Some(ogrn) = user.scope() else {
        return Err(PageError::not_found("Уведомление").for_user(&user));
    };
    if !execution::mark_notice_read(&app.db, ogrn, id, &user.actor())
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?
    {
        return Err(PageError::not_found("Уведомление").for_user(&user));
    }
    Ok(axum::response::Redirect::to("/executions#notices").into_response())
}

/// The organisation's unread notices (an executor's; others have none).
async fn notices_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<execution::Notice>>, ApiError> {
    Ok(Json(match user.scope() {
        Some(ogrn) => execution::unread_notices(&app.db, ogrn, 100).await?,
        None => Vec::new(),
    }))
}

async fn notice_read_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let found = match user.scope() {
        Some(ogrn) => execution::mark_notice_read(&app.db, ogrn, id, &user.actor()).await?,
        None => false,
    };
    if !found {
        return Err(ApiError::not_found("Уведомление"));
    }
    Ok(Json(serde_json::json!({"ok": true})))
}
