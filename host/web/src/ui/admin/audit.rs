//! «Журнал аудита»: who did what to which object, filtered by actor, action, object and dates,
//! paged; «Проверить целостность» recomputes the hash chain of the exchange log.

use super::{allow, dt, ADMIN_AUDIT};
use crate::app::App;
use crate::audit::Logs;
use crate::ui::{esc, opt, page, urlencode, PageError, PageUser};
use anyhow::Result;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/audit", get(show))
        .route("/admin/audit/export", get(export))
}

pub use crate::audit::search::{check_day, search, search_rows, text, AuditFilter};

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
        crate::ui::group_digits(found.total as u64)
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
    let format = crate::export::Format::parse(fmt.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| PageError::bad_request("Формат выгрузки: csv или xlsx".into()).for_user(&user))?;
    for (value, name) in [(&f.from, "Дата с"), (&f.to, "Дата по")] {
        check_day(value, name).map_err(|e| PageError::bad_request(e).for_user(&user))?;
    }
    use crate::export::Cell;
    let header = ["Когда (UTC)", "Кто", "Действие", "Объект", "Подробности"]
        .iter()
        .map(|h| h.to_string())
        .collect();
    let actor = user.actor();
    // Everything the filter finds, newest first, streamed a thousand entries at a time.
    Ok(crate::export_stream::download(
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
