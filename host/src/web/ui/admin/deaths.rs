//! «Сверка с ЗАГС»: death records that matched no person unambiguously (namesakes without SNILS)
//! wait for a person's decision: apply to the person with a given SNILS, or reject.

use super::{alert, allow, allow_write, done_notice, dt_opt, field, Fields, MANAGERS, VIEWERS};
use crate::app::App;
use crate::register::deaths;
use crate::web::ui::{csrf_field, esc, mask_snils, opt, page, PageError, PageUser};
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
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    render(&app, &user, q.done.as_deref(), q.all.is_some(), None).await
}

fn status_label(status: &str) -> &str {
    match status {
        "applied" => "применено",
        "pending" => "ждёт решения (несколько совпадений)",
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
    problem: Option<(i64, String)>,
) -> Result<Html<String>, PageError> {
    let records: Vec<deaths::DeathRecordView> = deaths::list(app, None)
        .await?
        .into_iter()
        .filter(|r| all || matches!(r.status.as_str(), "pending" | "no-match"))
        .collect();
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
    for r in &records {
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
                body.push_str(&format!(
                    r#"<td><form method="post" action="/admin/deaths/{id}" class="adm-death-form">{csrf}<label for="snils-{id}">СНИЛС гражданина</label><input id="snils-{id}" name="snils" inputmode="numeric" placeholder="000-000-000 00"{aria}>{error}<div class="actions"><button type="submit" name="decision" value="apply">Подтвердить смерть</button><button type="submit" name="decision" value="reject" class="secondary">Отклонить</button></div></form></td>"#,
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
    if let Some((0, message)) = &problem {
        body.push_str(&alert(message));
    }
    Ok(page(Some(user), "Сверка с ЗАГС", &body))
}

async fn decide(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let apply = field(&fields, "decision") == "apply";
    let snils = field(&fields, "snils");
    if apply && snils.chars().filter(char::is_ascii_digit).count() != 11 {
        let html = render(&app, &user, None, false, Some((id, "СНИЛС: нужно 11 цифр".into()))).await?;
        return Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    let choice = apply.then_some(snils);
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
            let html = render(&app, &user, None, false, Some((id, format!("СНИЛС: {e:#}")))).await?;
            Ok((axum::http::StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}
