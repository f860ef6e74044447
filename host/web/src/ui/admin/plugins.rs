//! «Модули»: the plugins of the installation with their identity and checksum; the administrator
//! enables and disables them (the choice is persisted and applies at once).

use super::{allow, allow_write, button_form, done_notice, Fields, ADMIN, ADMIN_AUDIT};
use crate::app::App;
use crate::auth::Principal;
use crate::ui::{esc, page, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, Redirect};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/plugins", get(list))
        .route("/admin/plugins/{id}/enable", post(enable))
        .route("/admin/plugins/{id}/disable", post(disable))
}

#[derive(serde::Deserialize, Default)]
pub struct Done {
    pub done: Option<String>,
}

pub fn kind_label(kind: &str) -> &str {
    match kind {
        "department" => "ведомство",
        "connector" => "внешняя система",
        "format" => "формат документов",
        other => other,
    }
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<Done>,
) -> Result<Html<String>, PageError> {
    allow(&user, ADMIN_AUDIT)?;
    let mut body = String::from("<h1>Модули</h1>");
    body.push_str(&done_notice(q.done.as_deref()));
    body.push_str(
        r#"<p class="muted">Встроенные модули включены по умолчанию; установленные — выключены, пока администратор их не включит.</p>"#,
    );
    body.push_str(
        r#"<div class="table-wrap"><table class="adm-plugins"><thead><tr><th>Идентификатор</th><th>Наименование</th><th>Версия</th><th>Вид</th><th class="hide-narrow">Интерфейс</th><th class="hide-narrow">Документы</th><th class="hide-narrow">Поставщик</th><th class="hide-narrow">SHA-256</th><th>Источник</th><th>Состояние</th>"#,
    );
    let can = user.can_write() && ADMIN.contains(&user.role);
    if can {
        body.push_str("<th>Действие</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for p in app.plugins.summaries() {
        let origin = if p.origin == "builtin" {
            "встроенный"
        } else {
            "установленный"
        };
        let state = if p.enabled {
            r#"<span class="ok">включён</span>"#
        } else {
            r#"<span class="bad">выключен</span>"#
        };
        body.push_str(&format!(
            r#"<tr id="plugin-{id}"><td><code>{id}</code></td><td>{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{} (собран для {})</td><td class="hide-narrow">{documents}</td><td class="hide-narrow">{}</td><td class="hide-narrow"><code class="adm-hash">{}</code></td><td>{origin}</td><td class="state">{state}</td>"#,
            esc(&p.name),
            esc(&p.version),
            esc(kind_label(&p.kind)),
            esc(&p.api),
            esc(&p.interface),
            esc(&p.vendor),
            esc(&p.sha256),
            id = esc(&p.id),
            documents = esc(&documents(&p.reads, &p.writes)),
        ));
        if can {
            let action = if p.enabled {
                button_form(
                    &user,
                    &format!("/admin/plugins/{}/disable", esc(&p.id)),
                    "Выключить",
                    "secondary",
                    None,
                )
            } else {
                button_form(
                    &user,
                    &format!("/admin/plugins/{}/enable", esc(&p.id)),
                    "Включить",
                    "",
                    None,
                )
            };
            body.push_str(&format!("<td>{action}</td>"));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    Ok(page(Some(&user), "Модули", &body))
}

/// Enables or disables a plugin for the administrator (shared by the page and the API).
pub async fn set_enabled(app: &App, user: &Principal, id: &str, enabled: bool) -> anyhow::Result<()> {
    app.set_plugin_enabled(id, enabled).await?;
    let action = if enabled { "plugin.enable" } else { "plugin.disable" };
    crate::audit::record(&app.db, &user.actor(), action, &format!("plugin:{id}"), None).await
}

async fn change(app: App, user: Principal, id: String, fields: Fields, enabled: bool) -> Result<Redirect, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    if app.plugins.get(&id).is_none() {
        return Err(PageError::not_found("Модуль").for_user(&user));
    }
    set_enabled(&app, &user, &id, enabled).await?;
    let done = if enabled { "plugin-enabled" } else { "plugin-disabled" };
    Ok(Redirect::to(&format!("/admin/plugins?done={done}")))
}

async fn enable(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    change(app, user, id, fields, true).await
}

async fn disable(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    change(app, user, id, fields, false).await
}

/// What a connector's manifest says it reads and writes, in words.
fn documents(reads: &[String], writes: &[String]) -> String {
    let list = |kinds: &[String]| {
        kinds
            .iter()
            .map(|k| crate::plugins::manifest::document_kind_label(k))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (reads.is_empty(), writes.is_empty()) {
        (true, true) => "—".into(),
        (false, true) => format!("читает: {}", list(reads)),
        (true, false) => format!("готовит: {}", list(writes)),
        (false, false) => format!("читает: {}; готовит: {}", list(reads), list(writes)),
    }
}
