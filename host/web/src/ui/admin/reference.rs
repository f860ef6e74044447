//! «Справочники»: every versioned reference list with its current entries and version history
//! (who, when, why); editing rows (add, change, remove) saves a new version with a note; export.

use super::{alert, allow, allow_write, done_notice, dt, field, Fields, MANAGERS, VIEWERS};
use crate::app::App;
use crate::auth::Principal;
use crate::export::{Cell, Format, Table};
use crate::register::reference::{self, Entry};
use crate::ui::{csrf_field, esc, opt, page, urlencode, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/reference", get(lists))
        .route("/admin/reference/{list}", get(show).post(save))
        .route("/admin/reference/{list}/export", get(export))
}

pub fn list_label(list: &str) -> &str {
    match list {
        "sections" => "Разделы ИПРА",
        "measure-categories" => "Категории мероприятий",
        "execution-results" => "Результаты исполнения",
        "non-execution-reasons" => "Причины неисполнения",
        "working-calendar" => "Производственный календарь",
        "deadline-rules" => "Правила сроков",
        "tsr-classes" => "Классы ТСР",
        "measure-types" => "Виды мероприятий",
        "territories" => "Территории",
        other => other,
    }
}

async fn lists(State(app): State<App>, PageUser(user): PageUser) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let versions = reference::versions(&app.db, None).await?;
    let mut current: Vec<&reference::ListVersion> = Vec::new();
    for v in &versions {
        match current.iter_mut().find(|c| c.list_id == v.list_id) {
            Some(c) if c.version < v.version => *c = v,
            Some(_) => {}
            None => current.push(v),
        }
    }
    let mut body = String::from("<h1>Справочники</h1>");
    body.push_str(r#"<p class="muted">Каждое изменение сохраняется новой версией; прежние версии остаются с датой, автором и основанием.</p>"#);
    body.push_str(r#"<div class="table-wrap"><table class="adm-lists"><thead><tr><th>Справочник</th><th>Идентификатор</th><th>Версия</th><th>Записей</th><th class="hide-narrow">Изменён</th><th class="hide-narrow">Автор</th><th class="hide-narrow">Основание</th></tr></thead><tbody>"#);
    for v in current {
        body.push_str(&format!(
            r#"<tr id="list-{id}"><td><a href="/admin/reference/{u}">{}</a></td><td><code>{id}</code></td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td></tr>"#,
            esc(list_label(&v.list_id)),
            v.version,
            v.entries,
            dt(&v.loaded_at),
            esc(&v.author),
            opt(&v.note),
            id = esc(&v.list_id),
            u = urlencode(&v.list_id),
        ));
    }
    body.push_str("</tbody></table></div>");
    Ok(page(Some(&user), "Справочники", &body))
}

fn extra_text(extra: &[(String, String)]) -> String {
    extra
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn parse_extra(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// One row of the edit form: its fields as posted, whether it is removed, and its errors.
#[derive(Default, Clone)]
struct Row {
    code: String,
    name: String,
    parent: String,
    extra: String,
    remove: bool,
    error: Option<String>,
}

/// Rows of a posted form (`code_N`, `name_N`, `parent_N`, `extra_N`, `remove_N`), in order.
fn rows_from_fields(fields: &Fields) -> Vec<Row> {
    let mut rows: Vec<(usize, Row)> = Vec::new();
    for (key, value) in fields {
        let Some((name, n)) = key.rsplit_once('_') else {
            continue;
        };
        let Ok(n) = n.parse::<usize>() else { continue };
        let at = match rows.iter().position(|(i, _)| *i == n) {
            Some(at) => at,
            None => {
                rows.push((n, Row::default()));
                rows.len() - 1
            }
        };
        let row = &mut rows[at].1;
        let value = value.trim().to_string();
        match name {
            "code" => row.code = value,
            "name" => row.name = value,
            "parent" => row.parent = value,
            "extra" => row.extra = value,
            "remove" => row.remove = value == "1",
            _ => {}
        }
    }
    rows.sort_by_key(|(i, _)| *i);
    rows.into_iter().map(|(_, r)| r).collect()
}

/// The entries of the kept rows, or the rows with their errors marked.
fn check_rows(rows: &mut [Row]) -> Option<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut ok = true;
    let mut seen = std::collections::HashSet::new();
    for row in rows.iter_mut() {
        let blank = row.code.is_empty() && row.name.is_empty() && row.parent.is_empty() && row.extra.is_empty();
        if row.remove || blank {
            continue;
        }
        if row.code.is_empty() {
            row.error = Some("Код: не указан".into());
        } else if row.name.is_empty() {
            row.error = Some("Наименование: не указано".into());
        } else if !seen.insert(row.code.clone()) {
            row.error = Some(format!("Код «{}» повторяется", row.code));
        }
        if row.error.is_some() {
            ok = false;
            continue;
        }
        entries.push(Entry {
            code: row.code.clone(),
            name: row.name.clone(),
            parent: Some(row.parent.clone()).filter(|p| !p.is_empty()),
            extra: parse_extra(&row.extra),
        });
    }
    ok.then_some(entries)
}

#[derive(serde::Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(list): Path<String>,
    Query(q): Query<Done>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    list_page(&app, &user, &list, q.done.as_deref(), None, None).await
}

async fn list_page(
    app: &App,
    user: &Principal,
    list: &str,
    done: Option<&str>,
    rows: Option<Vec<Row>>,
    problem: Option<(String, String)>,
) -> Result<Html<String>, PageError> {
    let versions = reference::versions(&app.db, Some(list)).await?;
    if versions.is_empty() {
        return Err(PageError::not_found("Справочник").for_user(user));
    }
    let snapshot = app.reference();
    let entries = snapshot.list(list);
    let title = format!("Справочник «{}»", list_label(list));
    let u = urlencode(list);
    let mut body = format!(
        r#"<p><a href="/admin/reference">← Все справочники</a></p><h1>{}</h1>"#,
        esc(&title)
    );
    body.push_str(&done_notice(done));
    if list == "working-calendar" {
        body.push_str(
            r#"<p>Удобнее править по месяцам: <a href="/admin/calendar">производственный календарь</a>.</p>"#,
        );
    }
    body.push_str(&format!(
        r#"<p class="actions">Выгрузить текущую версию: <a class="button secondary" href="/admin/reference/{u}/export?format=csv">CSV</a> <a class="button secondary" href="/admin/reference/{u}/export?format=xlsx">XLSX</a></p>"#
    ));
    let can = user.can_write() && MANAGERS.contains(&user.role);
    if can {
        let mut rows = rows.unwrap_or_else(|| {
            entries
                .iter()
                .map(|e| Row {
                    code: e.code.clone(),
                    name: e.name.clone(),
                    parent: e.parent.clone().unwrap_or_default(),
                    extra: extra_text(&e.extra),
                    ..Row::default()
                })
                .collect()
        });
        rows.extend(std::iter::repeat_n(Row::default(), 3));
        body.push_str(&format!(r#"<h2>Записи (текущая версия)</h2><form method="post" action="/admin/reference/{u}" class="adm-ref-form">{}"#, csrf_field(user)));
        if let Some((_, message)) = problem.as_ref().filter(|(f, _)| f == "rows") {
            body.push_str(&alert(message));
        }
        body.push_str(r#"<div class="table-wrap"><table class="adm-entries"><thead><tr><th>Код</th><th>Наименование</th><th>Родитель</th><th class="hide-narrow">Доп. реквизиты (ключ=значение, …)</th><th>Удалить</th></tr></thead><tbody>"#);
        for (i, r) in rows.iter().enumerate() {
            let n = i + 1;
            let (aria, message) = match &r.error {
                Some(e) => (
                    format!(r#" aria-invalid="true" aria-describedby="e-row-{i}""#),
                    format!(
                        r#"<span class="field-error" id="e-row-{i}" role="alert">{}</span>"#,
                        esc(e)
                    ),
                ),
                None => (String::new(), String::new()),
            };
            body.push_str(&format!(
                r#"<tr><td><label class="visually-hidden" for="code_{i}">Код, строка {n}</label><input id="code_{i}" name="code_{i}" value="{}" size="12"{aria}>{message}</td><td><label class="visually-hidden" for="name_{i}">Наименование, строка {n}</label><input id="name_{i}" name="name_{i}" value="{}" size="40"></td><td><label class="visually-hidden" for="parent_{i}">Родитель, строка {n}</label><input id="parent_{i}" name="parent_{i}" value="{}" size="8"></td><td class="hide-narrow"><label class="visually-hidden" for="extra_{i}">Доп. реквизиты, строка {n}</label><input id="extra_{i}" name="extra_{i}" value="{}" size="24"></td><td><label for="remove_{i}"><input type="checkbox" id="remove_{i}" name="remove_{i}" value="1"{}><span class="visually-hidden"> удалить строку {n}</span></label></td></tr>"#,
                esc(&r.code),
                esc(&r.name),
                esc(&r.parent),
                esc(&r.extra),
                if r.remove { " checked" } else { "" },
            ));
        }
        body.push_str("</tbody></table></div>");
        let (aria, message) = match problem.as_ref().filter(|(f, _)| f == "note") {
            Some((_, e)) => (
                r#" aria-invalid="true" aria-describedby="e-note""#.to_string(),
                format!(
                    r#"<span class="field-error" id="e-note" role="alert">{}</span>"#,
                    esc(e)
                ),
            ),
            None => (String::new(), String::new()),
        };
        body.push_str(&format!(
            r#"<p class="muted">Пустые строки не сохраняются; чтобы добавить больше строк, сохраните и откройте снова.</p><div class="stack"><label for="f-note">Основание изменения (попадёт в историю версий)<input id="f-note" name="note" required{aria}>{message}</label></div><div class="actions"><button type="submit">Сохранить новую версию</button></div></form>"#
        ));
    } else {
        body.push_str(r#"<h2>Записи (текущая версия)</h2><div class="table-wrap"><table class="adm-entries"><thead><tr><th>Код</th><th>Наименование</th><th>Родитель</th><th>Доп. реквизиты</th></tr></thead><tbody>"#);
        for e in entries {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.code),
                esc(&e.name),
                opt(&e.parent),
                esc(&extra_text(&e.extra))
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(r#"<h2>История версий</h2><div class="table-wrap"><table class="adm-versions"><thead><tr><th>Версия</th><th>Дата</th><th>Автор</th><th>Основание</th><th>Записей</th></tr></thead><tbody>"#);
    for v in versions.iter().rev() {
        body.push_str(&format!(
            r#"<tr id="version-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            v.version,
            v.version,
            dt(&v.loaded_at),
            esc(&v.author),
            opt(&v.note),
            v.entries
        ));
    }
    body.push_str("</tbody></table></div>");
    Ok(page(Some(user), &title, &body))
}

/// Saves a list as its next version and reloads the lists everyone reads (page, API, calendar).
pub async fn save_version(app: &App, list: &str, entries: &[Entry], actor: &str, note: &str) -> anyhow::Result<i64> {
    let version = reference::set_list(&app.db, list, entries, actor, Some(note)).await?;
    app.reload_reference().await?;
    Ok(version)
}

async fn save(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(list): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    if reference::versions(&app.db, Some(&list)).await?.is_empty() {
        return Err(PageError::not_found("Справочник").for_user(&user));
    }
    let mut rows = rows_from_fields(&fields);
    let note = field(&fields, "note").to_string();
    let checked = check_rows(&mut rows);
    let problem = match (&checked, note.is_empty()) {
        (None, _) => Some((
            "rows".to_string(),
            "Справочник не сохранён: исправьте отмеченные строки.".to_string(),
        )),
        (Some(entries), _) if entries.is_empty() => Some((
            "rows".into(),
            "Справочник не сохранён: в нём не осталось записей.".into(),
        )),
        (_, true) => Some(("note".into(), "Основание изменения: не указано".into())),
        _ => None,
    };
    if let (Some(entries), None) = (&checked, &problem) {
        save_version(&app, &list, entries, &user.actor(), &note).await?;
        return Ok(
            Redirect::to(&format!("/admin/reference/{}?done=reference-saved", urlencode(&list))).into_response(),
        );
    }
    rows.retain(|r| !(r.code.is_empty() && r.name.is_empty() && r.parent.is_empty() && r.extra.is_empty()));
    let html = list_page(&app, &user, &list, None, Some(rows), problem).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

#[derive(serde::Deserialize, Default)]
struct ExportQuery {
    format: Option<String>,
}

async fn export(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(list): Path<String>,
    Query(q): Query<ExportQuery>,
) -> Result<Response, PageError> {
    allow(&user, VIEWERS)?;
    let format = Format::parse(q.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| PageError::bad_request("Формат выгрузки: csv или xlsx".into()).for_user(&user))?;
    let versions = reference::versions(&app.db, Some(&list)).await?;
    let Some(current) = versions.last() else {
        return Err(PageError::not_found("Справочник").for_user(&user));
    };
    let snapshot = app.reference();
    let table = Table {
        title: format!("{} (версия {})", list_label(&list), current.version),
        header: vec![
            "Код".into(),
            "Наименование".into(),
            "Родитель".into(),
            "Доп. реквизиты".into(),
        ],
        rows: snapshot
            .list(&list)
            .iter()
            .map(|e| {
                vec![
                    Cell::from(e.code.as_str()),
                    Cell::from(e.name.as_str()),
                    Cell::from(e.parent.clone()),
                    Cell::from(extra_text(&e.extra)),
                ]
            })
            .collect(),
    };
    Ok(table.download(format, &format!("reference-{list}-v{}", current.version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_read_in_order_and_checked() {
        let fields: Fields = [
            ("csrf", "x"),
            ("code_1", "b"),
            ("name_1", "Второй"),
            ("code_0", "a"),
            ("name_0", "Первый"),
            ("extra_0", "days=10, kind=x"),
            ("code_2", "c"),
            ("name_2", "Третий"),
            ("remove_2", "1"),
            ("code_3", ""),
            ("name_3", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut rows = rows_from_fields(&fields);
        let entries = check_rows(&mut rows).unwrap();
        assert_eq!(entries.iter().map(|e| e.code.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(
            entries[0].extra,
            vec![("days".into(), "10".into()), ("kind".into(), "x".into())]
        );

        let mut dup = vec![
            Row {
                code: "a".into(),
                name: "x".into(),
                ..Row::default()
            },
            Row {
                code: "a".into(),
                name: "y".into(),
                ..Row::default()
            },
            Row {
                code: "".into(),
                name: "z".into(),
                ..Row::default()
            },
        ];
        assert!(check_rows(&mut dup).is_none());
        assert!(dup[1].error.as_deref().unwrap().contains("повторяется"));
        assert!(dup[2].error.as_deref().unwrap().starts_with("Код"));
    }
}
