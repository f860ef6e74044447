//! «Сверка с ЗАГС»: death records that matched no person unambiguously (namesakes without SNILS) or
//! whose dates are doubtful wait for a person's decision: apply to the person with a given SNILS, or
//! reject. Below them, what the ZAGS connector refused: documents of an unknown format and bad records.

use super::{alert, allow, allow_write, done_notice, dt_opt, field, Fields, MANAGERS, VIEWERS};
use crate::app::App;
use crate::register::deaths;
use crate::ui::{csrf_field, esc, mask_snils, opt, page, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/deaths", get(list))
        .route("/admin/deaths/{id}", post(decide))
}

#[derive(serde::Deserialize, Default)]
struct ListQuery {
    done: Option<String>,
    all: Option<String>,
    /// The page below this record number.
    before: Option<i64>,
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    render(&app, &user, q.done.as_deref(), q.all.is_some(), q.before, None, "").await
}

fn status_label(status: &str) -> &str {
    match status {
        "applied" => "применено",
        "pending" => "ждёт решения",
        "no-match" => "ждёт решения (нет совпадений)",
        "rejected" => "отклонено",
        "cancelled" => "аннулировано ЗАГС",
        other => other,
    }
}

async fn render(
    app: &App,
    user: &crate::auth::Principal,
    done: Option<&str>,
    all: bool,
    before: Option<i64>,
    problem: Option<(i64, String)>,
    typed_snils: &str,
) -> Result<Html<String>, PageError> {
    let statuses = if all { &[][..] } else { deaths::WAITING };
    let found = deaths::page(&app.db, statuses, before, 50).await?;
    let records = &found.items;
    let mut body = String::from("<h1>Сверка с ЗАГС</h1>");
    body.push_str(&done_notice(done));
    body.push_str(&format!(
        r#"<p>{} <a href="/admin/deaths{}">{}</a></p>"#,
        if all {
            "Все сведения о смерти."
        } else {
            "Сведения о смерти, ожидающие решения."
        },
        if all { "" } else { "?all=1" },
        if all {
            "Только ожидающие решения"
        } else {
            "Показать все"
        }
    ));
    if records.is_empty() {
        body.push_str(r#"<p class="muted">Нет сведений, ожидающих решения.</p>"#);
    }
    let can = user.can_write() && MANAGERS.contains(&user.role);
    body.push_str(r#"<div class="table-wrap"><table class="adm-deaths"><thead><tr><th>№ записи акта</th><th>ФИО</th><th>Дата рождения</th><th>Дата смерти</th><th>СНИЛС в сведениях</th><th>Статус</th><th class="hide-narrow">Примечание</th>"#);
    if can {
        body.push_str("<th>Решение</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for r in records {
        body.push_str(&format!(
            r#"<tr id="death-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td>"#,
            r.id,
            esc(&r.record_id),
            esc(&r.full_name),
            dt_opt(&r.birth_date),
            dt_opt(&r.death_date),
            r.snils.as_deref().map(|s| esc(&mask_snils(s))).unwrap_or_else(|| "нет".into()),
            esc(status_label(&r.status)),
            opt(&r.note),
        ));
        if can {
            if matches!(r.status.as_str(), "pending" | "no-match") {
                let error = problem
                    .as_ref()
                    .filter(|(id, _)| *id == r.id)
                    .map(|(_, e)| {
                        format!(
                            r#"<span class="field-error" id="e-snils-{}" role="alert">{}</span>"#,
                            r.id,
                            esc(e)
                        )
                    })
                    .unwrap_or_default();
                let mut people = String::new();
                for c in deaths::namesakes(&app.db, r).await? {
                    people.push_str(&format!(
                        r#"<li>{} · {} · СНИЛС {}{} <button type="submit" name="person" value="{}" class="secondary">Это он(а)</button></li>"#,
                        esc(&c.full_name),
                        dt_opt(&c.birth_date),
                        esc(&mask_snils(&c.snils)),
                        c.ipra
                            .map(|i| format!(r#" · <a href="/ipras/{i}">карточка ИПРА</a>"#))
                            .unwrap_or_default(),
                        c.id
                    ));
                }
                let people = if people.is_empty() {
                    r#"<p class="muted">В реестре нет граждан с такими ФИО и датой рождения.</p>"#.to_string()
                } else {
                    format!(
                        r#"<p>Или выберите из граждан реестра с такими ФИО:</p><ul class="adm-candidates">{people}</ul>"#
                    )
                };
                let typed = problem
                    .as_ref()
                    .filter(|(id, _)| *id == r.id)
                    .map(|_| esc(typed_snils))
                    .unwrap_or_default();
                body.push_str(&format!(
                    r#"<td><form method="post" action="/admin/deaths/{id}" class="adm-death-form">{csrf}<input type="hidden" name="decision" value="apply"><label for="snils-{id}">СНИЛС гражданина</label><input id="snils-{id}" name="snils" inputmode="numeric" placeholder="000-000-000 00" value="{typed}"{aria}>{error}<div class="actions"><button type="submit" name="decision" value="apply">Подтвердить смерть</button><button type="submit" name="decision" value="reject" class="secondary">Отклонить</button></div>{people}</form></td>"#,
                    id = r.id,
                    csrf = csrf_field(user),
                    aria = if error.is_empty() { String::new() } else { format!(r#" aria-invalid="true" aria-describedby="e-snils-{}""#, r.id) },
                ));
            } else {
                body.push_str("<td>—</td>");
            }
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    if let Some(next) = found.next {
        let all_param = if all { "all=1&" } else { "" };
        body.push_str(&crate::ui::keyset_pages("/admin/deaths", all_param, next));
    }
    if let Some((0, message)) = &problem {
        body.push_str(&alert(message));
    }
    body.push_str(&refusals(app).await?);
    Ok(page(Some(user), "Сверка с ЗАГС", &body))
}

/// How many of the newest messages with refusals the page shows.
const REFUSED_SHOWN: u32 = 20;

/// What the ZAGS connector refused: whole documents and single records, each with its reason, so
/// a death the registry reported is never lost in a job's report.
async fn refusals(app: &App) -> anyhow::Result<String> {
    let connectors: Vec<String> = app
        .plugins
        .connectors_reading("death-record")
        .iter()
        .map(|p| p.id().to_string())
        .collect();
    let messages = crate::exchange::refused(&app.db, &connectors, REFUSED_SHOWN).await?;
    let mut out = String::from(r#"<h2 id="refused">Не принятые сведения ЗАГС</h2>"#);
    if messages.is_empty() {
        out.push_str(r#"<p class="muted">Коннектор ЗАГС ничего не отклонял.</p>"#);
        return Ok(out);
    }
    out.push_str(r#"<p>Документы и записи, которые коннектор ЗАГС не принял: смерть по ним не учтена. Проверьте причину и запросите у ЗАГС исправленные сведения.</p>"#);
    out.push_str(r#"<div class="table-wrap"><table class="adm-refused"><thead><tr><th>Сообщение</th><th>Файл</th><th>Получено</th><th>Статус</th><th>Что не принято</th></tr></thead><tbody>"#);
    for m in &messages {
        let lines: String = m
            .refusals
            .as_deref()
            .unwrap_or_default()
            .lines()
            .map(|l| format!("<li>{}</li>", esc(l)))
            .collect();
        out.push_str(&format!(
            r#"<tr id="refused-{id}"><td><a href="/admin/messages#message-{id}">№ {id}</a></td><td>{}</td><td>{}</td><td>{}</td><td><ul>{lines}</ul></td></tr>"#,
            esc(&m.file_name),
            super::dt(&m.created_at),
            esc(super::messages::status_label(&m.status)),
            id = m.id,
        ));
    }
    out.push_str("</tbody></table></div>");
    Ok(out)
}

async fn decide(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    // The last `decision` posted is the button pressed (the hidden one comes first).
    let decision = fields
        .iter()
        .rev()
        .find(|(k, _)| k == "decision")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let typed = field(&fields, "snils").to_string();
    let person = field(&fields, "person").parse::<i64>().ok();
    let apply = decision == "apply" || person.is_some();
    let snils = match person {
        Some(person) => crate::register::query::person_snils(&app.db, person)
            .await?
            .ok_or_else(|| PageError::not_found("Гражданин").for_user(&user))?,
        None => typed.clone(),
    };
    if apply && snils.chars().filter(char::is_ascii_digit).count() != 11 {
        let html = render(
            &app,
            &user,
            None,
            false,
            None,
            Some((id, "СНИЛС: нужно 11 цифр".into())),
            &typed,
        )
        .await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    let choice = apply.then_some(snils.as_str());
    match deaths::decide(&app, id, choice, &user.actor()).await {
        Ok(_) => {
            let detail = if apply {
                "применено"
            } else {
                "отклонено"
            };
            crate::audit::record(
                &app.db,
                &user.actor(),
                "death.decide",
                &format!("death:{id}"),
                Some(detail),
            )
            .await?;
            let done = if apply { "death-applied" } else { "death-rejected" };
            Ok(Redirect::to(&format!("/admin/deaths?done={done}")).into_response())
        }
        Err(e) => {
            let html = render(&app, &user, None, false, None, Some((id, format!("{e:#}"))), &typed).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}
