//! «Журнал аудита»: who did what to which object, filtered by actor, action, object and dates,
//! paged; «Проверить целостность» recomputes the hash chain of the exchange log.

use super::{allow, dt, ADMIN_AUDIT};
use crate::app::App;
use crate::audit::Logs;
use crate::db::{opt_text, Db};
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
    /// The page number as the reader counts it.
    pub page: Option<i64>,
    /// The page below this entry number (the `next` of the previous page).
    pub before: Option<i64>,
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
    /// Entries the filter finds: exact when `total_exact`, else at least this many.
    pub total: i64,
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
    pub items: Vec<AuditEntry>,
    /// The entry number to continue below (`before=`), when more follow.
    pub next: Option<i64>,
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

/// The entries matching a filter, newest first, a page of [`PER_PAGE`] below `before`.
pub async fn search(db: &Db, f: &AuditFilter) -> Result<AuditPage> {
    search_rows(db, f, PER_PAGE, f.before).await
}

/// Entries counted exactly up to this many.
const COUNT_CAP: i64 = 10_000;

/// A prefix of an indexed text column as a range condition; `column` is the index's first column.
fn prefix_range(column: &str, prefix: &str, binds: &mut Vec<String>) -> String {
    binds.push(prefix.to_string());
    let lo = binds.len();
    binds.push(format!("{prefix}\u{10FFFF}"));
    format!("({column} >= ${lo} AND {column} < ${})", lo + 1)
}

/// The filter's conditions, each with the index that can lead to its rows, and the binds.
/// A condition of the filter and the index that can lead to its rows.
type Condition = (String, Option<&'static str>);

fn conditions(f: &AuditFilter) -> Result<(Vec<Condition>, Vec<String>)> {
    let from = check_day(&f.from, "Дата с").map_err(anyhow::Error::msg)?;
    let to = check_day(&f.to, "Дата по").map_err(anyhow::Error::msg)?;
    let mut binds = Vec::new();
    let mut c = Vec::new();
    let actor = text(&f.actor);
    if !actor.is_empty() {
        // The beginning of the actor, or of the login after any role («ivanov» finds
        // «coordinator:ivanov»).
        let mut any = vec![prefix_range("actor", &actor, &mut binds)];
        if !actor.contains(':') {
            for role in ["administrator", "coordinator", "executor", "auditor", "cli", "user"] {
                any.push(prefix_range("actor", &format!("{role}:{actor}"), &mut binds));
            }
        }
        c.push((format!("({})", any.join(" OR ")), Some("audit_log_actor")));
    }
    let action = text(&f.action);
    if !action.is_empty() {
        c.push((prefix_range("action", &action, &mut binds), Some("audit_log_action")));
    }
    let subject = text(&f.subject);
    if !subject.is_empty() {
        c.push((prefix_range("subject", &subject, &mut binds), Some("audit_log_subject")));
    }
    // `at` is RFC 3339 UTC text, so day bounds compare as text.
    if !from.is_empty() {
        binds.push(from);
        c.push((format!("at >= ${}", binds.len()), Some("audit_log_at")));
    }
    if !to.is_empty() {
        binds.push(format!("{to}T99"));
        c.push((format!("at < ${}", binds.len()), Some("audit_log_at")));
    }
    Ok((c, binds))
}

/// Entries newest first: led by the filter's most selective index when it finds few rows (then
/// sorted), else by walking the log from the newest entry back, checking the filter on each.
async fn search_rows(db: &Db, f: &AuditFilter, limit: i64, before: Option<i64>) -> Result<AuditPage> {
    let (conds, binds) = conditions(f)?;
    let sqlite = db.engine == crate::db::Engine::Sqlite;
    let where_of = |extra: Option<String>| {
        let mut all: Vec<String> = conds.iter().map(|(c, _)| c.clone()).collect();
        all.extend(extra);
        if all.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", all.join(" AND "))
        }
    };
    // Each index's share of the filter, counted up to the cap: the smallest leads.
    let mut lead: Option<(&'static str, i64)> = None;
    for index in conds.iter().filter_map(|(_, i)| *i) {
        let own: Vec<String> = conds
            .iter()
            .filter(|(_, i)| *i == Some(index))
            .map(|(c, _)| c.clone())
            .collect();
        let hint = if sqlite {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint} WHERE {} LIMIT {}) t",
            own.join(" AND "),
            COUNT_CAP + 1
        );
        crate::plans::record(&sql, crate::plans::texts(&binds));
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let n: i64 = q.fetch_one(&db.pool).await?.try_get("n")?;
        if lead.is_none_or(|(_, m)| n < m) {
            lead = Some((index, n));
        }
    }
    // A few rows: led by their index; else the log walked in its own order (SQLite's table,
    // newest first, checking the filter on each row).
    let hint = match lead {
        Some((index, n)) if n <= COUNT_CAP && sqlite => format!(" INDEXED BY {index}"),
        _ if sqlite => " NOT INDEXED".to_string(),
        _ => String::new(),
    };
    let single = conds
        .iter()
        .filter_map(|(_, i)| *i)
        .collect::<std::collections::HashSet<_>>()
        .len()
        == 1;
    let total = match lead {
        Some((_, n)) if single => n,
        // Every index finds more than the cap: so does the filter, as far as the page says.
        Some((_, n)) if n > COUNT_CAP => n,
        _ => {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint}{} LIMIT {}) t",
                where_of(None),
                COUNT_CAP + 1
            );
            crate::plans::record(&sql, crate::plans::texts(&binds));
            let mut q = sqlx::query(&sql);
            for b in &binds {
                q = q.bind(b.as_str());
            }
            q.fetch_one(&db.pool).await?.try_get("n")?
        }
    };
    let sql = format!(
        "SELECT id, at, actor, action, subject, detail FROM audit_log{hint}{} ORDER BY id DESC LIMIT {}",
        where_of(before.map(|b| format!("id < {b}"))),
        limit.clamp(1, 1000) + 1
    );
    crate::plans::record(&sql, crate::plans::texts(&binds));
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b.as_str());
    }
    let rows = q.fetch_all(&db.pool).await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
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
        total: total.min(COUNT_CAP),
        total_exact: total <= COUNT_CAP,
        page: f.page.unwrap_or(1).max(1),
        per_page: limit,
        next: if more { items.last().map(|e| e.id) } else { None },
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

fn verification_html(v: &Logs) -> String {
    let (x, a) = (&v.exchange_log, &v.audit_log);
    if v.ok {
        format!(
            r#"<p class="notice adm-verify" role="status">Целостность подтверждена: цепочка из {} записей журнала обмена (документов сверено с журналом: {}) и цепочка из {} записей журнала аудита не нарушены (сверено с записанными головами: {}). Головы журналов для записи вне сервера: аудит <code>{}:{}</code>, обмен <code>exchange:{}:{}</code>.</p>"#,
            x.entries,
            x.documents_checked,
            a.entries,
            a.heads_checked + x.heads_checked,
            a.head.seq,
            esc(&a.head.hash),
            x.head.seq,
            esc(&x.head.hash)
        )
    } else if !x.ok {
        format!(
            r#"<p class="alert adm-verify" role="alert">Целостность журнала обмена нарушена: запись № {} — {}. Записей проверено: {}.</p>"#,
            x.broken_at.map(|b| b.to_string()).unwrap_or_else(|| "—".into()),
            opt(&x.reason),
            x.entries
        )
    } else {
        format!(
            r#"<p class="alert adm-verify" role="alert">Целостность журнала аудита нарушена: запись № {} — {}. Записей проверено: {}.</p>"#,
            a.broken_at.map(|b| b.to_string()).unwrap_or_else(|| "—".into()),
            opt(&a.reason),
            a.entries
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
        let v = crate::audit::verify_logs(&app.db, &app.data_dir, &[]).await?;
        crate::audit::record(
            &app.db,
            &user.actor(),
            "audit.verify",
            "logs",
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
    body.push_str(r#"<form method="get" action="/admin/audit" class="actions"><input type="hidden" name="verify" value="1"><button type="submit" class="secondary" id="verify">Проверить целостность</button><span class="muted">пересчитывает хеш-цепочки журнала обмена и журнала аудита</span></form>"#);
    if from_error.is_some() || to_error.is_some() {
        return Ok(page(Some(&user), "Журнал аудита", &body));
    }
    let found = search(&app.db, &f).await?;
    body.push_str(&format!(
        r#"<p>Найдено записей: <strong id="audit-total" data-exact="{}">{}{}</strong></p>"#,
        found.total_exact,
        if found.total_exact { "" } else { "более " },
        crate::web::ui::group_digits(found.total as u64)
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
        r#"<p class="actions">Выгрузить всё найденное: <a class="button secondary" href="/admin/audit/export?{query}&amp;format=csv">CSV</a> <a class="button secondary" href="/admin/audit/export?{query}&amp;format=xlsx">XLSX</a></p>"#
    ));
    if found.page > 1 || found.next.is_some() {
        body.push_str(r#"<nav class="pages" aria-label="Страницы">"#);
        if found.page > 1 {
            body.push_str(&format!(
                r#"<a href="/admin/audit?{}" rel="first">« Первая</a>"#,
                query_string(&f, 1)
            ));
        }
        body.push_str(&format!("<span>Страница {}</span>", found.page));
        if let Some(next) = found.next {
            body.push_str(&format!(
                r#"<a href="/admin/audit?{}&amp;before={next}" rel="next">Вперёд →</a>"#,
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
    use crate::web::export::Cell;
    let header = ["Когда (UTC)", "Кто", "Действие", "Объект", "Подробности"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let actor = user.actor();
    // Everything the filter finds, newest first, streamed a thousand entries at a time.
    Ok(crate::web::export_stream::download(
        format,
        "Журнал аудита",
        header,
        "audit-log",
        move |mut sink| async move {
            let result = async {
                let mut before = None;
                loop {
                    let found = search_rows(&app.db, &f, 1000, before).await?;
                    let rows: Vec<Vec<Cell>> = found
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
                        .collect();
                    sink.send(&rows).await?;
                    match found.next {
                        Some(n) => before = Some(n),
                        None => break,
                    }
                }
                anyhow::Ok(())
            }
            .await;
            let logged = crate::audit::record(
                &app.db,
                &actor,
                "audit.export",
                "audit-log",
                Some(&format!("записей: {}", sink.rows)),
            )
            .await;
            (sink, result.and(logged))
        },
    ))
}
