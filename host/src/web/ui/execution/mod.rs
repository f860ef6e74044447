//! The executor's and coordinator's work on an IPRA (seed 002, domain §5.4–5.8): the execution
//! form by the six sections ([`form`]), the register of executions with filters, sorting, paging
//! and export (here), the reports with their printed form and the signing step ([`reports`]),
//! and the PDF writer of the printed form ([`pdf`]). Each page action has an `/api/v1` twin.

pub mod form;
pub mod pdf;
pub mod reports;

use super::{esc, mask_snils, opt, page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::Principal;
use crate::register::execution;
use crate::web::export::{Cell, Format, Table};
use crate::web::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/ipras/{id}/execution", get(form::show).post(form::submit))
        .route("/ipras/{id}/report", post(reports::assemble))
        .route("/executions", get(register_page))
        .route("/executions/export", get(register_export))
        .route("/executions/{id}", get(view))
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

/// `2026-03-05…` as `05.03.2026`; anything else as it is.
pub fn ru_date(date: &str) -> String {
    let d = date.get(..10).unwrap_or(date);
    let parts: Vec<&str> = d.split('-').collect();
    match parts.as_slice() {
        [y, m, day] if y.len() == 4 && m.len() == 2 && day.len() == 2 => format!("{day}.{m}.{y}"),
        _ => esc(date),
    }
}

/// A stored timestamp (RFC 3339, UTC) as `ДД.ММ.ГГГГ ЧЧ:ММ`.
pub fn ru_datetime(at: &str) -> String {
    match at.get(11..16) {
        Some(time) if at.len() >= 16 => format!("{} {time}", ru_date(at)),
        _ => ru_date(at),
    }
}

/// The six sections in the order of the `sections` reference list: (code, name).
pub fn section_names(app: &App) -> Vec<(String, String)> {
    app.reference()
        .list("sections")
        .iter()
        .map(|e| (e.code.clone(), e.name.clone()))
        .collect()
}

pub fn reason_names(app: &App) -> Vec<(String, String)> {
    app.reference()
        .list("non-execution-reasons")
        .iter()
        .map(|e| (e.code.clone(), e.name.clone()))
        .collect()
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
        let rows = sqlx::query("SELECT * FROM lifecycle_events WHERE subject = $1 ORDER BY id")
            .bind(format!("execution:{}", r.id))
            .fetch_all(&app.db.pool)
            .await?;
        for row in rows {
            events.push(RecordEvent {
                record: r.id,
                measure: r.form.measure_name.clone(),
                from: crate::db::opt_text(&row, "from_status"),
                to: row.try_get("to_status")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
            });
        }
    }
    events.sort_by(|a, b| b.at.cmp(&a.at));
    Ok(events)
}

/// Filters, sorting and paging of the register of executions (domain §5.6).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct RegisterFilter {
    pub number: Option<String>,
    pub snils: Option<String>,
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub sent_from: Option<String>,
    pub sent_to: Option<String>,
    pub status: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub page: Option<u32>,
    pub format: Option<String>,
    /// «Настройка столбцов таблицы»: present when the settings were sent; then the columns
    /// shown are the `c_<column>` sent (by default all are shown).
    pub columns: Option<String>,
    pub c_snils: Option<String>,
    pub c_surname: Option<String>,
    pub c_given_name: Option<String>,
    pub c_patronymic: Option<String>,
    pub c_date: Option<String>,
    pub c_sent: Option<String>,
    pub c_status: Option<String>,
}

/// The optional columns of the register: (key, heading, hidden on a phone).
const COLUMNS: &[(&str, &str, bool)] = &[
    ("snils", "СНИЛС", true),
    ("surname", "Фамилия", false),
    ("given_name", "Имя", false),
    ("patronymic", "Отчество", true),
    ("date", "Дата", false),
    ("sent", "Дата отправки", true),
    ("status", "Статус", false),
];

impl RegisterFilter {
    fn column_flag(&self, key: &str) -> &Option<String> {
        match key {
            "snils" => &self.c_snils,
            "surname" => &self.c_surname,
            "given_name" => &self.c_given_name,
            "patronymic" => &self.c_patronymic,
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

#[derive(Clone, Debug, Serialize)]
pub struct RegisterRow {
    pub ipra_id: i64,
    pub number: String,
    /// Masked: the whole SNILS is shown only on the card.
    pub snils: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    /// When the execution last changed.
    pub date: String,
    pub sent_at: Option<String>,
    pub status: String,
    pub status_label: String,
    pub report_id: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct RegisterPage {
    pub total: usize,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<RegisterRow>,
    /// IPRAs awaiting execution (first 25 by due date) and how many there are.
    pub pending: Vec<PendingRow>,
    pub pending_total: usize,
}

pub const REGISTER_STATUSES: &[(&str, &str)] = &[
    ("draft", "Черновик"),
    ("ready", "Готово к подписанию"),
    ("awaiting-signature", "Ожидание подписания"),
    ("signed", "Подписано"),
    ("sent", "Отправлено"),
    ("send-failed", "Ошибка отправки"),
    ("accepted", "Принято"),
    ("rejected", "Отклонено"),
];

fn register_label(status: &str) -> &'static str {
    REGISTER_STATUSES
        .iter()
        .find(|(c, _)| *c == status)
        .map(|(_, l)| *l)
        .unwrap_or("—")
}

/// The status of an IPRA's execution: open records first (draft, then ready), else the status
/// of its latest report, with «Ошибка отправки» when the sending failed for good.
pub fn execution_status(drafts: i64, ready: i64, report_status: Option<&str>, send_failed: bool) -> &'static str {
    if drafts > 0 {
        return "draft";
    }
    if ready > 0 {
        return "ready";
    }
    match report_status {
        Some("signed") if send_failed => "send-failed",
        Some("awaiting-signature") => "awaiting-signature",
        Some("signed") => "signed",
        Some("sent") => "sent",
        Some("accepted") => "accepted",
        Some("rejected") => "rejected",
        _ => "draft",
    }
}

pub fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

fn contains(haystack: &str, needle: &Option<String>) -> bool {
    match needle.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => haystack.to_lowercase().contains(&n.to_lowercase()),
        None => true,
    }
}

/// All rows of the register the user may see, filtered and sorted (not paged).
pub async fn register_rows(app: &App, user: &Principal, f: &RegisterFilter) -> anyhow::Result<Vec<RegisterRow>> {
    let rows = sqlx::query(
        "SELECT i.id, i.number, p.snils, p.surname, p.given_name, p.patronymic, MAX(e.updated_at) AS changed, \
         SUM(CASE WHEN e.status = 'draft' THEN 1 ELSE 0 END) AS drafts, \
         SUM(CASE WHEN e.status = 'ready' THEN 1 ELSE 0 END) AS ready, MAX(e.report_id) AS report_id \
         FROM execution_records e JOIN ipras i ON i.id = e.ipra_id JOIN persons p ON p.id = i.person_id \
         WHERE ($1 = '' OR e.organisation = $1) \
         GROUP BY i.id, i.number, p.snils, p.surname, p.given_name, p.patronymic",
    )
    .bind(user.scope().unwrap_or(""))
    .fetch_all(&app.db.pool)
    .await?;
    let reports: BTreeMap<i64, (String, Option<String>)> = sqlx::query("SELECT id, status, sent_at FROM reports")
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(|r| -> anyhow::Result<_> {
            Ok((
                r.try_get::<i64, _>("id")?,
                (r.try_get::<String, _>("status")?, crate::db::opt_text(r, "sent_at")),
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let failed: BTreeSet<i64> =
        sqlx::query("SELECT report_id FROM exchange_messages WHERE status = 'failed' AND report_id IS NOT NULL")
            .fetch_all(&app.db.pool)
            .await?
            .iter()
            .filter_map(|r| r.try_get::<i64, _>("report_id").ok())
            .collect();
    let snils_filter = f.snils.as_deref().map(digits).unwrap_or_default();
    let mut out = Vec::new();
    for row in rows {
        let report_id: Option<i64> = row.try_get("report_id").ok().flatten();
        let report = report_id.and_then(|id| reports.get(&id));
        let status = execution_status(
            row.try_get("drafts")?,
            row.try_get("ready")?,
            report.map(|r| r.0.as_str()),
            report_id.is_some_and(|id| failed.contains(&id)),
        );
        let snils: String = row.try_get("snils")?;
        let item = RegisterRow {
            ipra_id: row.try_get("id")?,
            number: row.try_get("number")?,
            snils: mask_snils(&digits(&snils)),
            surname: row.try_get("surname")?,
            given_name: row.try_get("given_name")?,
            patronymic: crate::db::opt_text(&row, "patronymic"),
            date: row.try_get("changed")?,
            sent_at: report.and_then(|r| r.1.clone()),
            status: status.to_string(),
            status_label: register_label(status).to_string(),
            report_id,
        };
        let sent = item.sent_at.as_deref().map(|s| s.get(..10).unwrap_or(s));
        let keep = contains(&item.number, &f.number)
            && (snils_filter.is_empty() || digits(&snils).contains(&snils_filter))
            && contains(&item.surname, &f.surname)
            && contains(&item.given_name, &f.given_name)
            && contains(item.patronymic.as_deref().unwrap_or(""), &f.patronymic)
            && f.status.as_deref().is_none_or(|s| s.is_empty() || s == item.status)
            && f.sent_from
                .as_deref()
                .is_none_or(|from| from.is_empty() || sent.is_some_and(|s| s >= from))
            && f.sent_to
                .as_deref()
                .is_none_or(|to| to.is_empty() || sent.is_some_and(|s| s <= to));
        if keep {
            out.push(item);
        }
    }
    let key = f.sort.as_deref().unwrap_or("date");
    out.sort_by(|a, b| {
        let text = |r: &RegisterRow| -> String {
            match key {
                "number" => r.number.clone(),
                "snils" => r.snils.clone(),
                "surname" => r.surname.to_lowercase(),
                "given_name" => r.given_name.to_lowercase(),
                "patronymic" => r.patronymic.clone().unwrap_or_default().to_lowercase(),
                "sent" => r.sent_at.clone().unwrap_or_default(),
                "status" => r.status_label.clone(),
                _ => r.date.clone(),
            }
        };
        text(a).cmp(&text(b)).then(a.ipra_id.cmp(&b.ipra_id))
    });
    let descending = match f.dir.as_deref() {
        Some("desc") => true,
        Some("asc") => false,
        _ => key == "date",
    };
    if descending {
        out.reverse();
    }
    Ok(out)
}

/// An IPRA whose open measures (the user's organisation's, for an executor) have no execution
/// record yet: where the work starts.
#[derive(Clone, Debug, Serialize)]
pub struct PendingRow {
    pub ipra_id: i64,
    pub number: String,
    pub full_name: String,
    pub open_measures: i64,
    /// The nearest due date of those measures.
    pub due_date: Option<String>,
}

/// IPRAs awaiting execution, nearest due date first (those without a due date last).
pub async fn pending_rows(app: &App, user: &Principal, number: Option<&str>) -> anyhow::Result<Vec<PendingRow>> {
    let rows = sqlx::query(
        "SELECT i.id, i.number, p.surname, p.given_name, p.patronymic, COUNT(*) AS open_measures, MIN(m.due_date) AS due \
         FROM measures m JOIN ipras i ON i.id = m.ipra_id JOIN persons p ON p.id = i.person_id \
         WHERE m.status = 'open' AND i.status = 'active' AND ($1 = '' OR m.assigned_ogrn = $1) \
         AND NOT EXISTS (SELECT 1 FROM execution_records e WHERE e.measure_id = m.id) \
         GROUP BY i.id, i.number, p.surname, p.given_name, p.patronymic",
    )
    .bind(user.scope().unwrap_or(""))
    .fetch_all(&app.db.pool)
    .await?;
    let number = number.map(str::to_string);
    let mut out = Vec::new();
    for row in rows {
        let item = PendingRow {
            ipra_id: row.try_get("id")?,
            number: row.try_get("number")?,
            full_name: [
                Some(row.try_get::<String, _>("surname")?),
                Some(row.try_get::<String, _>("given_name")?),
                crate::db::opt_text(&row, "patronymic"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" "),
            open_measures: row.try_get("open_measures")?,
            due_date: crate::db::opt_text(&row, "due"),
        };
        if contains(&item.number, &number) {
            out.push(item);
        }
    }
    out.sort_by(|a, b| {
        (a.due_date.is_none(), &a.due_date, a.ipra_id).cmp(&(b.due_date.is_none(), &b.due_date, b.ipra_id))
    });
    Ok(out)
}

const PER_PAGE: u32 = 25;

fn paged(rows: Vec<RegisterRow>, page: Option<u32>) -> RegisterPage {
    let total = rows.len();
    let pages = (total as u32).div_ceil(PER_PAGE).max(1);
    let page = page.unwrap_or(1).clamp(1, pages);
    let items = rows
        .into_iter()
        .skip(((page - 1) * PER_PAGE) as usize)
        .take(PER_PAGE as usize)
        .collect();
    RegisterPage {
        total,
        page,
        per_page: PER_PAGE,
        items,
        pending: Vec::new(),
        pending_total: 0,
    }
}

fn register_table(rows: &[RegisterRow]) -> Table {
    Table {
        title: "Реестр исполнения ИПРА".into(),
        header: [
            "Номер ИПРА",
            "СНИЛС",
            "Фамилия",
            "Имя",
            "Отчество",
            "Дата",
            "Дата отправки",
            "Статус",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        rows: rows
            .iter()
            .map(|r| {
                vec![
                    Cell::from(r.number.as_str()),
                    Cell::from(r.snils.as_str()),
                    Cell::from(r.surname.as_str()),
                    Cell::from(r.given_name.as_str()),
                    Cell::from(r.patronymic.clone()),
                    Cell::from(ru_date(&r.date)),
                    Cell::from(r.sent_at.as_deref().map(ru_date)),
                    Cell::from(r.status_label.as_str()),
                ]
            })
            .collect(),
    }
}

fn export(rows: &[RegisterRow], format: &str) -> Result<Response, String> {
    let format = Format::parse(format).ok_or_else(|| format!("формат выгрузки «{format}» неизвестен: csv или xlsx"))?;
    Ok(register_table(rows).download(format, "executions"))
}

/// GET `/api/v1/execution-register`: the register as JSON, or a file with `format=csv|xlsx`.
async fn register_api(
    State(app): State<App>,
    user: Principal,
    Query(filter): Query<RegisterFilter>,
) -> Result<Response, ApiError> {
    let rows = register_rows(&app, &user, &filter).await?;
    if let Some(format) = filter.format.as_deref().filter(|f| !f.is_empty()) {
        return export(&rows, format).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad-request", m));
    }
    let mut found = paged(rows, filter.page);
    let pending = pending_rows(&app, &user, filter.number.as_deref()).await?;
    found.pending_total = pending.len();
    found.pending = pending.into_iter().take(PER_PAGE as usize).collect();
    Ok(Json(found).into_response())
}

async fn register_export(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(filter): Query<RegisterFilter>,
) -> Result<Response, PageError> {
    let rows = register_rows(&app, &user, &filter).await?;
    export(&rows, filter.format.as_deref().unwrap_or("csv")).map_err(|m| PageError::bad_request(m).for_user(&user))
}

fn query_string(f: &RegisterFilter, skip: &[&str]) -> String {
    [
        ("number", &f.number),
        ("snils", &f.snils),
        ("surname", &f.surname),
        ("given_name", &f.given_name),
        ("patronymic", &f.patronymic),
        ("sent_from", &f.sent_from),
        ("sent_to", &f.sent_to),
        ("status", &f.status),
        ("sort", &f.sort),
        ("dir", &f.dir),
        ("columns", &f.columns),
        ("c_snils", &f.c_snils),
        ("c_surname", &f.c_surname),
        ("c_given_name", &f.c_given_name),
        ("c_patronymic", &f.c_patronymic),
        ("c_date", &f.c_date),
        ("c_sent", &f.c_sent),
        ("c_status", &f.c_status),
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

/// GET `/executions`: the register of executions.
async fn register_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(filter): Query<RegisterFilter>,
) -> Result<Html<String>, PageError> {
    let rows = register_rows(&app, &user, &filter).await?;
    let found = paged(rows, filter.page);
    let mut body = String::from("<h1>Реестр исполнения ИПРА</h1>");
    body.push_str(r#"<form class="filters" method="get" action="/executions">"#);
    body.push_str(&filter_input("number", "Номер ИПРА", &filter.number, "text"));
    body.push_str(&filter_input("snils", "СНИЛС", &filter.snils, "text"));
    body.push_str(&filter_input("surname", "Фамилия", &filter.surname, "text"));
    body.push_str(&filter_input("given_name", "Имя", &filter.given_name, "text"));
    body.push_str(&filter_input("patronymic", "Отчество", &filter.patronymic, "text"));
    body.push_str(&filter_input("sent_from", "Дата отправки с", &filter.sent_from, "date"));
    body.push_str(&filter_input("sent_to", "по", &filter.sent_to, "date"));
    body.push_str(r#"<label for="x-status">Статус<select id="x-status" name="status"><option value="">все</option>"#);
    for (code, label) in REGISTER_STATUSES {
        body.push_str(&format!(
            r#"<option value="{code}"{}>{label}</option>"#,
            if filter.status.as_deref() == Some(code) {
                " selected"
            } else {
                ""
            }
        ));
    }
    body.push_str("</select></label>");
    body.push_str(r#"<details class="ex-columns"><summary>Настройка столбцов таблицы</summary><input type="hidden" name="columns" value="1">"#);
    for (key, label, _) in COLUMNS {
        body.push_str(&format!(
            r#"<span class="ex-check"><input type="checkbox" id="x-c-{key}" name="c_{key}" value="1"{}><label for="x-c-{key}">{label}</label></span>"#,
            if filter.shows(key) { " checked" } else { "" }
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
    let qs = query_string(&filter, &[]);
    body.push_str(&format!(
        r#"<p class="ex-summary">Найдено: {} · Выгрузить: <a href="/executions/export?{qs}format=csv">CSV</a>, <a href="/executions/export?{qs}format=xlsx">XLSX</a></p>"#,
        found.total
    ));
    let base = query_string(&filter, &["sort", "dir"]);
    let current = filter.sort.as_deref().unwrap_or("date");
    let header = |key: &str, label: &str, class: &str| {
        let (dir, mark) = if current == key {
            let desc = match filter.dir.as_deref() {
                Some(d) => d == "desc",
                None => key == "date",
            };
            if desc {
                ("asc", " ↓")
            } else {
                ("desc", " ↑")
            }
        } else {
            ("asc", "")
        };
        let sorted = if current == key {
            if mark == " ↓" {
                r#" aria-sort="descending""#
            } else {
                r#" aria-sort="ascending""#
            }
        } else {
            ""
        };
        format!(r#"<th{class}{sorted}><a href="/executions?{base}sort={key}&dir={dir}">{label}{mark}</a></th>"#)
    };
    body.push_str(r#"<div class="table-wrap"><table class="ex-register"><thead><tr>"#);
    body.push_str(&header("number", "Номер ИПРА", ""));
    let shown: Vec<&(&str, &str, bool)> = COLUMNS.iter().filter(|(k, _, _)| filter.shows(k)).collect();
    let narrow = |hide: bool| if hide { r#" class="hide-narrow""# } else { "" };
    for (key, label, hide) in &shown {
        body.push_str(&header(key, label, narrow(*hide)));
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
        for (key, _, hide) in &shown {
            let value = match *key {
                "snils" => esc(&r.snils),
                "surname" => esc(&r.surname),
                "given_name" => esc(&r.given_name),
                "patronymic" => opt(&r.patronymic),
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
    let pages = (found.total as u32).div_ceil(found.per_page).max(1);
    if pages > 1 {
        body.push_str(r#"<nav class="pages" aria-label="Страницы">"#);
        if found.page > 1 {
            body.push_str(&format!(
                r#"<a href="/executions?{qs}page={}">← назад</a> "#,
                found.page - 1
            ));
        }
        body.push_str(&format!("страница {} из {pages}", found.page));
        if found.page < pages {
            body.push_str(&format!(
                r#" <a href="/executions?{qs}page={}">вперёд →</a>"#,
                found.page + 1
            ));
        }
        body.push_str("</nav>");
    }
    let pending = pending_rows(&app, &user, filter.number.as_deref()).await?;
    body.push_str(&format!(
        r#"<h2 id="pending">Ожидают внесения исполнения: {}</h2>"#,
        pending.len()
    ));
    if pending.is_empty() {
        body.push_str(r#"<p class="muted">Нет ИПРА с открытыми мероприятиями без записей исполнения.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table class="ex-pending"><thead><tr><th>Номер ИПРА</th><th>ФИО</th><th>Открытых мероприятий</th><th>Ближайший срок</th><th>Действие</th></tr></thead><tbody>"#);
        for p in pending.iter().take(PER_PAGE as usize) {
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
        if pending.len() > PER_PAGE as usize {
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
        assert_eq!(ru_datetime("2026-03-05T10:20:30Z"), "05.03.2026 10:20");
        assert_eq!(ru_date("вчера"), "вчера");
    }

    #[test]
    fn the_status_of_an_execution_follows_records_then_report() {
        assert_eq!(execution_status(1, 3, Some("sent"), false), "draft");
        assert_eq!(execution_status(0, 2, None, false), "ready");
        assert_eq!(
            execution_status(0, 0, Some("awaiting-signature"), false),
            "awaiting-signature"
        );
        assert_eq!(execution_status(0, 0, Some("signed"), true), "send-failed");
        assert_eq!(execution_status(0, 0, Some("accepted"), false), "accepted");
        assert_eq!(register_label("rejected"), "Отклонено");
    }

    #[test]
    fn filters_match_case_insensitively() {
        assert!(contains("Иванова", &Some("иван".into())));
        assert!(contains("Иванова", &None));
        assert!(!contains("Петров", &Some("иван".into())));
        assert_eq!(digits("123-456 789 01"), "12345678901");
    }
}
