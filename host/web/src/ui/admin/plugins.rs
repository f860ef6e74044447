//! «Модули»: the plugins of the installation with their identity, checksum and granted limits; the
//! administrator enables and disables them (the choice is persisted and applies at once), installs
//! and upgrades a package uploaded here, removes an installed plugin and rolls one back to the
//! version kept. Below the table, the figures of the plugins' calls since the server started.
//!
//! Page and API (`api.rs`) share one function per action: [`install`], [`remove`], [`rollback`],
//! [`figures`].

use super::{alert, allow, allow_write, button_form, done_notice, Fields, ADMIN, ADMIN_AUDIT};
use crate::app::App;
use crate::auth::Principal;
use crate::plugins::install::{Change, Mode};
use crate::ui::{esc, page, PageError, PageUser};
use axum::extract::{DefaultBodyLimit, Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

/// The largest package taken (page and API); packages are from about 100 KB to a few MB.
pub const PACKAGE_LIMIT_BYTES: usize = 64 * 1024 * 1024;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/plugins", get(list))
        .route(
            "/admin/plugins/upload",
            post(upload).layer(DefaultBodyLimit::max(PACKAGE_LIMIT_BYTES + 1024 * 1024)),
        )
        .route("/admin/plugins/{id}/enable", post(enable))
        .route("/admin/plugins/{id}/disable", post(disable))
        .route("/admin/plugins/{id}/remove", post(remove_submit))
        .route("/admin/plugins/{id}/rollback", post(rollback_submit))
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
    Ok(render(&app, &user, q.done.as_deref(), None))
}

/// The page, with the notice of a change just made or the refusal of one.
fn render(app: &App, user: &Principal, done: Option<&str>, refusal: Option<&str>) -> Html<String> {
    let mut body = String::from("<h1>Модули</h1>");
    body.push_str(&done_notice(done));
    if let Some(message) = refusal {
        body.push_str(&alert(message));
    }
    body.push_str(
        r#"<p class="muted">Встроенные модули включены по умолчанию; установленные — выключены, пока администратор их не включит.</p>"#,
    );
    body.push_str(
        r#"<div class="table-wrap"><table class="adm-plugins"><thead><tr><th>Идентификатор</th><th>Наименование</th><th>Версия</th><th>Вид</th><th class="hide-narrow">Интерфейс</th><th class="hide-narrow">Документы</th><th class="hide-narrow">Поставщик</th><th class="hide-narrow">SHA-256</th><th class="hide-narrow">Ограничения вызова</th><th>Предыдущая версия</th><th>Источник</th><th>Состояние</th>"#,
    );
    let can = user.can_write() && ADMIN.contains(&user.role);
    if can {
        body.push_str("<th>Действие</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for p in app.plugins.summaries() {
        let installed = p.origin != "builtin";
        let origin = if installed {
            "установленный"
        } else {
            "встроенный"
        };
        let state = if p.enabled {
            r#"<span class="ok">включён</span>"#
        } else {
            r#"<span class="bad">выключен</span>"#
        };
        body.push_str(&format!(
            r#"<tr id="plugin-{id}"><td><code>{id}</code></td><td>{}</td><td class="version">{}</td><td>{}</td><td class="hide-narrow">{} (собран для {})</td><td class="hide-narrow">{documents}</td><td class="hide-narrow">{}</td><td class="hide-narrow"><code class="adm-hash" title="{sha}">{}…</code></td><td class="hide-narrow limits"><span class="memory">{}&nbsp;МиБ</span>, <span class="time">{}&nbsp;мс</span>; при сбое: <span class="on-failure">{}</span></td><td class="previous">{previous}</td><td>{origin}</td><td class="state">{state}</td>"#,
            esc(&p.name),
            esc(&p.version),
            esc(kind_label(&p.kind)),
            esc(&p.api),
            esc(&p.interface),
            esc(&p.vendor),
            esc(p.sha256.get(..16).unwrap_or(&p.sha256)),
            p.memory_mib,
            p.time_ms,
            esc(p.on_failure.label()),
            id = esc(&p.id),
            sha = esc(&p.sha256),
            documents = esc(&documents(&p.reads, &p.writes)),
            previous = p.previous_version.as_deref().map(esc).unwrap_or_else(|| "—".into()),
        ));
        if can {
            let id = esc(&p.id);
            let mut actions = if p.enabled {
                button_form(
                    user,
                    &format!("/admin/plugins/{id}/disable"),
                    "Выключить",
                    "secondary",
                    None,
                )
            } else {
                button_form(user, &format!("/admin/plugins/{id}/enable"), "Включить", "", None)
            };
            if let Some(previous) = &p.previous_version {
                actions.push_str(&button_form(
                    user,
                    &format!("/admin/plugins/{id}/rollback"),
                    &format!("Откатить к версии {}", esc(previous)),
                    "secondary",
                    Some(&format!(
                        "Вернуть модуль «{}» к версии {previous}? Версия {} будет сохранена для обратного отката.",
                        p.id, p.version
                    )),
                ));
            }
            if installed {
                actions.push_str(&button_form(
                    user,
                    &format!("/admin/plugins/{id}/remove"),
                    "Удалить",
                    "danger",
                    Some(&format!(
                        "Удалить модуль «{}» версии {}? Его версия сохранится для отката.",
                        p.id, p.version
                    )),
                ));
            }
            body.push_str(&format!("<td>{actions}</td>"));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    if can {
        body.push_str(&format!(
            r#"<h2>Установка и обновление</h2><form class="filters upload" id="plugin-upload" method="post" action="/admin/plugins/upload" enctype="multipart/form-data">{}<label for="package">Пакет модуля (.ipra-plugin, не больше {} МБ)<input id="package" name="package" type="file" accept=".ipra-plugin,application/zip" required></label><label for="f-enable" class="adm-check"><input type="checkbox" id="f-enable" name="enable" value="1"> Включить сразу после установки</label><div class="actions"><button type="submit" name="mode" value="install" id="install">Установить</button><button type="submit" name="mode" value="upgrade" class="secondary" id="upgrade">Обновить</button></div></form><p class="muted">Пакет проверяется до установки: диапазон версий интерфейса, контрольная сумма SHA-256 компонента и, если установка этого требует, подпись поставщика. Обновление принимает только более новую версию; заменённая версия сохраняется для отката.</p>"#,
            crate::ui::csrf_field(user),
            PACKAGE_LIMIT_BYTES / (1024 * 1024),
        ));
    }
    body.push_str(&figures_table(app));
    page(Some(user), "Модули", &body)
}

/// «Вызовы модулей»: each plugin's hooks with their calls, refusals, failures and times.
fn figures_table(app: &App) -> String {
    let rows = figures(app);
    let mut out = String::from(r#"<h2 id="figures">Вызовы модулей</h2>"#);
    if rows.is_empty() {
        out.push_str(r#"<p class="muted">С запуска сервера модули не вызывались.</p>"#);
        return out;
    }
    out.push_str(
        r#"<p class="muted">С запуска сервера; время — верхняя граница интервала гистограммы, в который попадает вызов.</p><div class="table-wrap"><table class="adm-figures"><thead><tr><th>Модуль</th><th>Вызов</th><th class="num">Вызовов</th><th class="num">Отказов модуля</th><th class="num">Сбоев</th><th class="num">p50, мс</th><th class="num">p99, мс</th></tr></thead><tbody>"#,
    );
    let ms = |v: Option<f64>, calls: u64| match v {
        Some(v) => format_ms(v),
        None if calls > 0 => format!("&gt; {}", format_ms(LAST_BOUND_MS)),
        None => "—".into(),
    };
    for r in &rows {
        out.push_str(&format!(
            r#"<tr id="figures-{}-{}"><td><code>{}</code></td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(&r.plugin),
            r.hook,
            esc(&r.plugin),
            r.hook,
            r.calls,
            r.refusals,
            r.failures,
            ms(r.p50_ms, r.calls),
            ms(r.p99_ms, r.calls),
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

/// Milliseconds as the page shows them: no trailing zeros, a decimal comma.
fn format_ms(ms: f64) -> String {
    let text = format!("{ms:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.replace('.', ",")
}

/// The last bound of the histogram, in ms: a quantile above it is not known more closely.
const LAST_BOUND_MS: f64 = 10_000.0;

/// The figures of one plugin's hook (`GET /api/v1/plugins/figures`).
#[derive(Clone, Debug, Serialize)]
pub struct HookRow {
    pub plugin: String,
    pub hook: &'static str,
    pub calls: u64,
    /// Calls the plugin answered with its typed error.
    pub refusals: u64,
    /// Calls the sandbox stopped (trap, time or memory limit).
    pub failures: u64,
    /// Time of all calls together.
    pub total_ms: f64,
    /// The median and the 99th percentile as the upper bound of their histogram bucket; `null`
    /// before any call or above the last bound (10 s).
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

fn to_ms(seconds: f64) -> f64 {
    (seconds * 1_000_000.0).round() / 1_000.0
}

/// Every plugin's hooks called since the server started, in id and hook order.
pub fn figures(app: &App) -> Vec<HookRow> {
    let quantile = |f: &crate::plugins::stats::HookFigures, q: f64| f.quantile(q).filter(|s| s.is_finite()).map(to_ms);
    app.plugins
        .figures()
        .snapshot()
        .into_iter()
        .map(|(plugin, hook, f)| HookRow {
            hook: hook.as_str(),
            calls: f.calls,
            refusals: f.refusals,
            failures: f.failures,
            total_ms: to_ms(f.seconds),
            p50_ms: quantile(&f, 0.5),
            p99_ms: quantile(&f, 0.99),
            plugin,
        })
        .collect()
}

/// Installs (or upgrades) a package for the administrator, enabling it when asked (shared by the
/// page and the API). The change and who made it are in the audit log.
pub async fn install(app: &App, user: &Principal, bytes: Vec<u8>, mode: Mode, enable: bool) -> anyhow::Result<Change> {
    let change = app.install_plugin(bytes, mode, &user.actor()).await?;
    if enable && app.plugins.get(&change.id).is_some() {
        app.set_plugin_enabled(&change.id, true, &user.actor()).await?;
    }
    Ok(change)
}

/// Whether `id` names a plugin in service or one whose previous version is kept.
pub fn known(app: &App, id: &str) -> bool {
    app.plugins.get(id).is_some() || kept_version(app, id).is_some()
}

/// The version of `id` kept for rollback.
pub fn kept_version(app: &App, id: &str) -> Option<String> {
    crate::plugins::install::previous_version(&app.plugins_dir(), id)
}

/// Takes an installed plugin out of service (its version is kept for rollback).
pub async fn remove(app: &App, user: &Principal, id: &str) -> anyhow::Result<Change> {
    app.remove_plugin(id, &user.actor()).await
}

/// Puts the kept previous version of a plugin back.
pub async fn rollback(app: &App, user: &Principal, id: &str) -> anyhow::Result<Change> {
    app.rollback_plugin(id, &user.actor()).await
}

/// A refusal of a change shown on the page (422), or an internal error's page (500 with its id).
fn refused(app: &App, user: &Principal, e: anyhow::Error, status: StatusCode) -> Result<Response, PageError> {
    if crate::refusal::is_internal(&e) || crate::refusal::Refusal::of(&e).is_some() {
        return Err(PageError::from(e).for_user(user));
    }
    Ok((status, render(app, user, None, Some(&capitalised(&said(&e))))).into_response())
}

/// A refusal's message: its causes joined by «: », each said once (an error that names its source
/// in its own text is not followed by that source again).
pub fn said(e: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
}

/// The message with its first letter capital, as a sentence on the page.
fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The upload form: the CSRF token, the package, «включить» and the button pressed (install or
/// upgrade). Nothing is changed before the token is checked.
async fn upload(
    State(app): State<App>,
    PageUser(user): PageUser,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    allow(&user, ADMIN)?;
    let mut fields: Fields = Vec::new();
    let mut package: Option<Vec<u8>> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return upload_broken(&app, &user, e),
        };
        let name = field.name().unwrap_or_default().to_string();
        if name == "package" {
            let mut bytes = Vec::new();
            let mut field = field;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                    Ok(None) => break,
                    Err(e) => return upload_broken(&app, &user, e),
                }
            }
            package = Some(bytes);
        } else {
            match field.text().await {
                Ok(text) => fields.push((name, text)),
                Err(e) => return upload_broken(&app, &user, e),
            }
        }
    }
    allow_write(&user, ADMIN, &fields)?;
    let mode = match super::field(&fields, "mode") {
        "upgrade" => Mode::Upgrade,
        _ => Mode::Install,
    };
    let enable = super::field(&fields, "enable") == "1" && mode == Mode::Install;
    let Some(bytes) = package.filter(|b| !b.is_empty()) else {
        let message = "Выберите файл пакета модуля (.ipra-plugin).";
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&app, &user, None, Some(message)),
        )
            .into_response());
    };
    match install(&app, &user, bytes, mode, enable).await {
        Ok(change) => {
            let done = match (mode, enable) {
                (Mode::Upgrade, _) => "plugin-upgraded",
                (Mode::Install, true) => "plugin-installed-enabled",
                (Mode::Install, false) => "plugin-installed",
            };
            Ok(Redirect::to(&format!("/admin/plugins?done={done}#plugin-{}", change.id)).into_response())
        }
        Err(e) => {
            let what = if mode == Mode::Upgrade {
                "Обновление не выполнено"
            } else {
                "Пакет не установлен"
            };
            refused(&app, &user, e.context(what), StatusCode::UNPROCESSABLE_ENTITY)
        }
    }
}

/// A multipart body cut short or too large: said on the page.
fn upload_broken(
    app: &App,
    user: &Principal,
    e: axum::extract::multipart::MultipartError,
) -> Result<Response, PageError> {
    let status = e.status();
    let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!(
            "Пакет больше {} МБ: такой пакет модулем не бывает.",
            PACKAGE_LIMIT_BYTES / (1024 * 1024)
        )
    } else {
        format!("Загрузка прервана или повреждена: {e}. Повторите загрузку.")
    };
    Ok((status, render(app, user, None, Some(&message))).into_response())
}

/// Enables or disables a plugin for the administrator (shared by the page and the API).
pub async fn set_enabled(app: &App, user: &Principal, id: &str, enabled: bool) -> anyhow::Result<()> {
    app.set_plugin_enabled(id, enabled, &user.actor()).await
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

async fn remove_submit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    if !known(&app, &id) {
        return Err(PageError::not_found("Модуль").for_user(&user));
    }
    match remove(&app, &user, &id).await {
        Ok(_) => Ok(Redirect::to("/admin/plugins?done=plugin-removed").into_response()),
        Err(e) => refused(&app, &user, e.context("Модуль не удалён"), StatusCode::CONFLICT),
    }
}

async fn rollback_submit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    if !known(&app, &id) {
        return Err(PageError::not_found("Модуль").for_user(&user));
    }
    match rollback(&app, &user, &id).await {
        Ok(change) => {
            Ok(Redirect::to(&format!("/admin/plugins?done=plugin-rolled-back#plugin-{}", change.id)).into_response())
        }
        Err(e) => refused(&app, &user, e.context("Откат не выполнен"), StatusCode::CONFLICT),
    }
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

#[cfg(test)]
mod tests {
    #[test]
    fn milliseconds_are_shown_russian_style() {
        assert_eq!(super::format_ms(0.05), "0,05");
        assert_eq!(super::format_ms(2.5), "2,5");
        assert_eq!(super::format_ms(10.0), "10");
        assert_eq!(super::to_ms(0.000_05), 0.05);
        assert_eq!(super::capitalised("пакет"), "Пакет");
        let inner = anyhow::anyhow!("сумма не совпадает");
        let e = inner
            .context("манифест: сумма не совпадает")
            .context("пакет не установлен");
        assert_eq!(super::said(&e), "пакет не установлен: манифест: сумма не совпадает");
    }
}
