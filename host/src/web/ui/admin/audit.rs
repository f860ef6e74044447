//! «Журнал аудита»: who did what to which object, filtered by actor, action, object and dates,
//! paged; «Проверить целостность» recomputes the hash chain of the exchange log.

use super::{allow, dt, ADMIN_AUDIT};
use crate::app::App;
use crate::db::{opt_text, Db};
use crate::exchange::log::{self, Verification};
use crate::web::ui::{esc, opt, page, urlencode, PageError, PageUser};
use anyhow::Result;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use sqlx::Row;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/audit", get(show))
        .route("/admin/audit/export", get(export))
}

pub const PER_PAGE: i64 = 50;
/// The most entries one export holds (narrow the filter for more).
pub const EXPORT_MAX: i64 = 20_000;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuditFilter {
    /// Part of the actor, e.g. `ivanov` or `administrator:`.
    pub actor: Option<String>,
    /// The start of the action, e.g. `user.` or `ipra.read`.
    pub action: Option<String>,
    /// Part of the object, e.g. `ipra:12`.
    pub subject: Option<String>,
    /// First day, ГГГГ-ММ-ДД.
    pub from: Option<String>,
    /// Last day, ГГГГ-ММ-ДД.
    pub to: Option<String>,
    pub page: Option<i64>,
    /// Show the result of the chain check.
    pub verify: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditPage {
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    pub items: Vec<AuditEntry>,
}

fn text(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_string()
}

/// A day as ГГГГ-ММ-ДД, or a Russian message naming the field.
pub fn check_day(value: &Option<String>, field: &str) -> Result<String, String> {
    let v = text(value);
    if v.is_empty() || super::calendar::parse_date(&v).is_some() {
        Ok(v)
    } else {
        Err(format!("{field}: нужна дата в виде ДД.ММ.ГГГГ"))
    }
}

fn bind_all<'q>(
    mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &[String],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for a in args {
        q = q.bind(a.clone());
    }
    q
}

/// The entries matching a filter, newest first, a page of [`PER_PAGE`].
pub async fn search(db: &Db, f: &AuditFilter) -> Result<AuditPage> {
    let page = f.page.unwrap_or(1).max(1);
    search_rows(db, f, PER_PAGE, (page - 1) * PER_PAGE).await
}

async fn search_rows(db: &Db, f: &AuditFilter, limit: i64, offset: i64) -> Result<AuditPage> {
    let from = check_day(&f.from, "Дата с").map_err(anyhow::Error::msg)?;
    let to = check_day(&f.to, "Дата по").map_err(anyhow::Error::msg)?;
    // `at` is RFC 3339 UTC text, so day bounds compare as text.
    let to_next = if to.is_empty() {
        String::new()
    } else {
        format!("{to}T99")
    };
    let condition =
        "($1 = '' OR LOWER(actor) LIKE $2) AND ($3 = '' OR action LIKE $4) AND ($5 = '' OR LOWER(subject) LIKE $6) \
                     AND ($7 = '' OR at >= $7) AND ($8 = '' OR at < $8)";
    let actor = text(&f.actor).to_lowercase();
    let action = text(&f.action);
    let subject = text(&f.subject).to_lowercase();
    let like = |s: &str| format!("%{}%", s.replace(['%', '_'], ""));
    let args = [
        actor.clone(),
        like(&actor),
        action.clone(),
        format!("{}%", action.replace(['%', '_'], "")),
        subject.clone(),
        like(&subject),
        from,
        to_next,
    ];
    let count_sql = format!("SELECT COUNT(*) AS n FROM audit_log WHERE {condition}");
    let total: i64 = bind_all(sqlx::query(&count_sql), &args)
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    let sql = format!(
        "SELECT id, at, actor, action, subject, detail FROM audit_log WHERE {condition} ORDER BY id DESC LIMIT {} OFFSET {}",
        limit.clamp(1, EXPORT_MAX),
        offset.max(0)
    );
    let items = bind_all(sqlx::query(&sql), &args)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AuditEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                actor: r.try_get("actor")?,
                action: r.try_get("action")?,
                subject: r.try_get("subject")?,
                detail: opt_text(r, "detail"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(AuditPage {
        total,
        page: offset / limit.max(1) + 1,
        per_page: limit,
        items,
    })
}

fn query_string(f: &AuditFilter, page: i64) -> String {
    let mut parts = Vec::new();
    for (k, v) in [
        ("actor", &f.actor),
        ("action", &f.action),
        ("subject", &f.subject),
        ("from", &f.from),
        ("to", &f.to),
    ] {
        let v = text(v);
        if !v.is_empty() {
            parts.push(format!("{k}={}", urlencode(&v)));
        }
    }
    parts.push(format!("page={page}"));
    parts.join("&")
}

fn verification_html(v: &Verification) -> String {
    if v.ok {
        format!(
            r#"<p class="notice adm-verify" role="status">Целостность подтверждена: цепочка из {} записей журнала обмена не нарушена.</p>"#,
            v.entries
        )
    } else {
        format!(
            r#"<p class="alert adm-verify" role="alert">Целостность нарушена: запись № {} — {}. Записей проверено: {}.</p>"#,
            v.broken_at.map(|b| b.to_string()).unwrap_or_else(|| "—".into()),
            opt(&v.reason),
            v.entries
        )
    }
}

async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(f): Query<AuditFilter>,
) -> Result<Html<String>, PageError> {
    allow(&user, ADMIN_AUDIT)?;
    let mut body = String::from("<h1>Журнал аудита</h1>");
    if f.verify.is_some() {
        let v = log::verify(&app.db).await?;
        crate::audit::record(
            &app.db,
            &user.actor(),
            "audit.verify",
            "exchange-log",
            Some(if v.ok { "ok" } else { "broken" }),
        )
        .await?;
        body.push_str(&verification_html(&v));
    }
    let from_error = check_day(&f.from, "Дата с").err();
    let to_error = check_day(&f.to, "Дата по").err();
    let field = |name: &str, label: &str, value: &Option<String>, kind: &str, error: &Option<String>| {
        let (aria, message) = match error {
            Some(e) => (
                format!(r#" aria-invalid="true" aria-describedby="e-{name}""#),
                format!(
                    r#"<span class="field-error" id="e-{name}" role="alert">{}</span>"#,
                    esc(e)
                ),
            ),
            None => (String::new(), String::new()),
        };
        format!(
            r#"<label for="f-{name}">{label}<input id="f-{name}" name="{name}" type="{kind}" value="{}"{aria}>{message}</label>"#,
            esc(&text(value))
        )
    };
    body.push_str(r#"<form class="filters adm-audit-filter" method="get" action="/admin/audit">"#);
    body.push_str(&field("actor", "Кто (логин или роль)", &f.actor, "text", &None));
    body.push_str(&field(
        "action",
        "Действие (начало, напр. user.)",
        &f.action,
        "text",
        &None,
    ));
    body.push_str(&field("subject", "Объект (напр. ipra:12)", &f.subject, "text", &None));
    body.push_str(&field("from", "Дата с", &f.from, "date", &from_error));
    body.push_str(&field("to", "по", &f.to, "date", &to_error));
    body.push_str(r#"<button type="submit">Найти</button> <a href="/admin/audit">Сбросить</a></form>"#);
    body.push_str(r#"<form method="get" action="/admin/audit" class="actions"><input type="hidden" name="verify" value="1"><button type="submit" class="secondary" id="verify">Проверить целостность</button><span class="muted">пересчитывает хеш-цепочку журнала обмена</span></form>"#);
    if from_error.is_some() || to_error.is_some() {
        return Ok(page(Some(&user), "Журнал аудита", &body));
    }
    let found = search(&app.db, &f).await?;
    body.push_str(&format!(
        r#"<p>Найдено записей: <strong id="audit-total">{}</strong></p>"#,
        found.total
    ));
    body.push_str(r#"<div class="table-wrap"><table class="adm-audit"><thead><tr><th>Когда (UTC)</th><th>Кто</th><th>Действие</th><th>Объект</th><th class="hide-narrow">Подробности</th></tr></thead><tbody>"#);
    for e in &found.items {
        body.push_str(&format!(
            r#"<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class="hide-narrow">{}</td></tr>"#,
            dt(&e.at),
            esc(&e.actor),
            esc(&e.action),
            esc(&e.subject),
            opt(&e.detail)
        ));
    }
    body.push_str("</tbody></table></div>");
    let query = query_string(&f, 1);
    body.push_str(&format!(
        r#"<p class="actions">Выгрузить найденное (до {EXPORT_MAX} записей): <a class="button secondary" href="/admin/audit/export?{query}&amp;format=csv">CSV</a> <a class="button secondary" href="/admin/audit/export?{query}&amp;format=xlsx">XLSX</a></p>"#
    ));
    let pages = (found.total + PER_PAGE - 1) / PER_PAGE;
    if pages > 1 {
        body.push_str(r#"<nav class="pages" aria-label="Страницы">"#);
        if found.page > 1 {
            body.push_str(&format!(
                r#"<a href="/admin/audit?{}" rel="prev">← Назад</a>"#,
                query_string(&f, found.page - 1)
            ));
        }
        body.push_str(&format!("<span>Страница {} из {pages}</span>", found.page));
        if found.page < pages {
            body.push_str(&format!(
                r#"<a href="/admin/audit?{}" rel="next">Вперёд →</a>"#,
                query_string(&f, found.page + 1)
            ));
        }
        body.push_str("</nav>");
    }
    Ok(page(Some(&user), "Журнал аудита", &body))
}

#[derive(Deserialize, Default)]
struct ExportFormat {
    format: Option<String>,
}

async fn export(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(f): Query<AuditFilter>,
    Query(fmt): Query<ExportFormat>,
) -> Result<axum::response::Response, PageError> {
    allow(&user, ADMIN_AUDIT)?;
    let format = crate::web::export::Format::parse(fmt.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| PageError::bad_request("Формат выгрузки: csv или xlsx".into()).for_user(&user))?;
    for (value, name) in [(&f.from, "Дата с"), (&f.to, "Дата по")] {
        check_day(value, name).map_err(|e| PageError::bad_request(e).for_user(&user))?;
    }
    let found = search_rows(&app.db, &f, EXPORT_MAX, 0).await?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "audit.export",
        "audit-log",
        Some(&format!("записей: {}", found.items.len())),
    )
    .await?;
    use crate::web::export::{Cell, Table};
    let table = Table {
        title: "Журнал аудита".into(),
        header: ["Когда (UTC)", "Кто", "Действие", "Объект", "Подробности"]
            .iter()
            .map(|h| h.to_string())
            .collect(),
        rows: found
            .items
            .into_iter()
            .map(|e| {
                vec![
                    Cell::from(dt(&e.at)),
                    Cell::from(e.actor),
                    Cell::from(e.action),
                    Cell::from(e.subject),
                    Cell::from(e.detail),
                ]
            })
            .collect(),
    };
    Ok(table.download(format, "audit-log"))
}
