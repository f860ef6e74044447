//! The API routes the administration pages need beyond the existing ones, with the same checks as
//! the pages: users and tokens, plugins (enablement; packages installed, upgraded, removed and
//! rolled back; the figures of their calls), job creation and change, the working-day
//! calendar, the audit log, an organisation's profile and the removal of a routing rule.
//! Field errors answer 422 `{"ok": false, "errors": [{"field", "message"}]}`.

use super::{calendar, jobs, organisations, plugins, users, ADMIN, ADMIN_AUDIT, MANAGERS};
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::web::{require, require_write};
use crate::auth::{self, Principal, Role};
use crate::plugins::install::{Change, Mode};
use crate::scheduler;
use crate::ApiError;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/users", get(list_users).post(add_user))
        .route("/api/v1/users/{login}", get(get_user).put(update_user))
        .route("/api/v1/users/{login}/password", post(set_password))
        .route("/api/v1/users/{login}/active", post(set_active))
        .route("/api/v1/users/{login}/tokens", get(list_tokens).post(issue_token))
        .route("/api/v1/users/{login}/tokens/{id}/revoke", post(revoke_token))
        .route("/api/v1/plugins/{id}/enable", post(enable_plugin))
        .route("/api/v1/plugins/{id}/disable", post(disable_plugin))
        .route(
            "/api/v1/plugins/install",
            post(install_plugin).layer(DefaultBodyLimit::max(plugins::PACKAGE_LIMIT_BYTES)),
        )
        .route(
            "/api/v1/plugins/upgrade",
            post(upgrade_plugin).layer(DefaultBodyLimit::max(plugins::PACKAGE_LIMIT_BYTES)),
        )
        .route("/api/v1/plugins/figures", get(plugin_figures))
        .route("/api/v1/plugins/{id}", delete(remove_plugin))
        .route("/api/v1/plugins/{id}/rollback", post(rollback_plugin))
        .route("/api/v1/jobs", post(add_job))
        .route("/api/v1/jobs/{name}", put(configure_job))
        .route("/api/v1/calendar", get(get_calendar))
        .route("/api/v1/calendar/days/{date}", put(set_day))
        .route("/api/v1/audit/log", get(audit_log))
        .route(
            "/api/v1/organisations/{ogrn}",
            get(get_organisation).put(put_organisation),
        )
        .route("/api/v1/routing/rules/{id}", delete(delete_rule))
}

fn write(user: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    require(user, roles)?;
    require_write(user)
}

fn invalid(errors: Vec<(&'static str, String)>) -> Response {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|(field, message)| json!({"field": field, "message": message}))
        .collect();
    ApiError::invalid_fields(json!(errors)).into_response()
}

async fn list_users(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<auth::UserDetails>>, ApiError> {
    require(&user, ADMIN_AUDIT)?;
    Ok(Json(auth::user_details(&app.db).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct NewUserRequest {
    login: String,
    full_name: String,
    role: String,
    #[serde(default)]
    ogrn: Option<String>,
    /// An MSE bureau's (role `bureau`) institution, as IPRAs name it («Учреждение, сформировавшее ИПРА»).
    #[serde(default)]
    issuer: Option<String>,
    password: String,
}

async fn add_user(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(req): Json<NewUserRequest>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    let new = users::NewUser {
        login: req.login.trim().to_string(),
        full_name: req.full_name.trim().to_string(),
        role: req.role,
        ogrn: req.ogrn.filter(|o| !o.trim().is_empty()),
        issuer: req.issuer.clone(),
        password: req.password,
    };
    let errors = users::check_new_user(&app, &new).await?;
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    let role = Role::parse(&new.role).map_err(ApiError::refused)?;
    if role == Role::Bureau {
        let Some(issuer) = req.issuer.as_deref().map(str::trim).filter(|i| !i.is_empty()) else {
            return Ok(invalid(vec![(
                "issuer",
                "Учреждение: бюро МСЭ нужно учреждение, выдающее ИПРА".to_string(),
            )]));
        };
        auth::add_bureau_user(
            &app.db,
            &new.login,
            &new.full_name,
            issuer,
            &new.password,
            &user.actor(),
        )
        .await
        .map_err(ApiError::refused)?;
        return Ok((StatusCode::CREATED, Json(json!({"ok": true, "login": new.login}))).into_response());
    }
    let ogrn = if role == Role::Executor {
        new.ogrn.as_deref()
    } else {
        None
    };
    auth::add_user(
        &app.db,
        &new.login,
        &new.full_name,
        role,
        ogrn,
        &new.password,
        &user.actor(),
    )
    .await
    .map_err(ApiError::refused)?;
    Ok((StatusCode::CREATED, Json(json!({"ok": true, "login": new.login}))).into_response())
}

async fn get_user(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require(&user, ADMIN_AUDIT)?;
    let details = auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    let tokens = auth::list_tokens(&app.db, &login).await?;
    Ok(Json(json!({"user": details, "tokens": tokens})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct UserUpdate {
    full_name: String,
    role: String,
    #[serde(default)]
    ogrn: Option<String>,
}

async fn update_user(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
    Json(req): Json<UserUpdate>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    let Ok(role) = Role::parse(&req.role) else {
        return Ok(invalid(vec![(
            "role",
            "Роль: administrator, coordinator, executor или auditor".into(),
        )]));
    };
    if login == user.login && role != Role::Administrator {
        return Ok(invalid(vec![(
            "role",
            "Роль: свою роль администратора снять нельзя".into(),
        )]));
    }
    if let Err(e) = auth::update_user(
        &app.db,
        &login,
        &req.full_name,
        role,
        req.ogrn.as_deref(),
        &user.actor(),
    )
    .await
    {
        let message = format!("{e:#}");
        let field = if message.starts_with("ФИО") {
            "full_name"
        } else {
            "ogrn"
        };
        return Ok(invalid(vec![(field, message)]));
    }
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct PasswordRequest {
    password: String,
}

async fn set_password(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
    Json(req): Json<PasswordRequest>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    if let Err(e) = auth::password_strength(&req.password, &login) {
        return Ok(invalid(vec![("password", e)]));
    }
    auth::set_password(&app.db, &login, &req.password, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ActiveRequest {
    active: bool,
}

async fn set_active(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
    Json(req): Json<ActiveRequest>,
) -> Result<Json<Value>, ApiError> {
    write(&user, ADMIN)?;
    auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    if !req.active && login == user.login {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            "свою учётную запись отключить нельзя".into(),
        ));
    }
    auth::set_user_active(&app.db, &login, req.active, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn list_tokens(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
) -> Result<Json<Vec<auth::TokenInfo>>, ApiError> {
    require(&user, ADMIN_AUDIT)?;
    auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    Ok(Json(auth::list_tokens(&app.db, &login).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct TokenRequest {
    label: String,
}

async fn issue_token(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(login): Path<String>,
    Json(req): Json<TokenRequest>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    auth::user_by_login(&app.db, &login)
        .await?
        .ok_or_else(|| ApiError::not_found("Пользователь"))?;
    if req.label.trim().is_empty() {
        return Ok(invalid(vec![("label", "Назначение токена: не указано".into())]));
    }
    let token = auth::issue_token(&app.db, &login, req.label.trim(), &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok((StatusCode::CREATED, Json(json!({"ok": true, "token": token}))).into_response())
}

async fn revoke_token(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path((login, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    write(&user, ADMIN)?;
    auth::revoke_token(&app.db, &login, &id, &user.actor())
        .await
        .map_err(|e| ApiError::new(StatusCode::NOT_FOUND, "not-found", format!("{e:#}")))?;
    Ok(Json(json!({"ok": true})))
}

async fn plugin_switch(app: &App, user: &Principal, id: &str, enabled: bool) -> Result<Json<Value>, ApiError> {
    write(user, ADMIN)?;
    if app.plugins.get(id).is_none() {
        return Err(ApiError::not_found("Модуль"));
    }
    plugins::set_enabled(app, user, id, enabled).await?;
    Ok(Json(json!({"ok": true, "enabled": enabled})))
}

async fn enable_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    plugin_switch(&app, &user, &id, true).await
}

async fn disable_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    plugin_switch(&app, &user, &id, false).await
}

/// `?enable=true` enables the plugin just installed.
#[derive(Deserialize)]
struct InstallQuery {
    #[serde(default)]
    enable: bool,
}

/// A package is sent as its bytes: `application/octet-stream` (or `application/zip`), or with no
/// type at all.
fn package_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match content_type.as_deref() {
        None | Some("application/octet-stream" | "application/zip" | "application/x-zip-compressed") => Ok(()),
        Some(_) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad-content-type",
            "Неверный тип содержимого запроса: пакет модуля передаётся как application/octet-stream.".into(),
        )),
    }
}

/// A package the installation refuses — not a package, API range, SHA-256, signature, a version
/// not newer, already installed or not installed — is 422 with the message naming what failed.
fn refused_package(e: anyhow::Error) -> ApiError {
    if crate::refusal::Refusal::of(&e).is_some() || crate::refusal::is_internal(&e) {
        return ApiError::from(e);
    }
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "package-refused", plugins::said(&e))
}

async fn install_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(query): Query<InstallQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    package_body(&headers)?;
    let change = plugins::install(&app, &user, body.to_vec(), Mode::Install, query.enable)
        .await
        .map_err(refused_package)?;
    Ok((StatusCode::CREATED, Json(change)).into_response())
}

async fn upgrade_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Change>, ApiError> {
    write(&user, ADMIN)?;
    package_body(&headers)?;
    let change = plugins::install(&app, &user, body.to_vec(), Mode::Upgrade, false)
        .await
        .map_err(refused_package)?;
    Ok(Json(change))
}

/// Removes an installed plugin (its version kept for rollback): 404 for an id not in service, 409
/// for a built-in plugin (it is disabled, not removed).
async fn remove_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Change>, ApiError> {
    write(&user, ADMIN)?;
    if app.plugins.get(&id).is_none() {
        return Err(ApiError::not_found("Модуль"));
    }
    Ok(Json(
        plugins::remove(&app, &user, &id).await.map_err(ApiError::refused)?,
    ))
}

/// Puts the kept previous version back: 404 for an id neither in service nor kept, 409 when no
/// previous version is kept.
async fn rollback_plugin(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<Change>, ApiError> {
    write(&user, ADMIN)?;
    if !plugins::known(&app, &id) {
        return Err(ApiError::not_found("Модуль"));
    }
    Ok(Json(
        plugins::rollback(&app, &user, &id).await.map_err(ApiError::refused)?,
    ))
}

/// The figures of every plugin's hooks since the server started (the page's «Вызовы модулей»).
async fn plugin_figures(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<plugins::HookRow>>, ApiError> {
    require(&user, ADMIN_AUDIT)?;
    Ok(Json(plugins::figures(&app)))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct NewJob {
    name: String,
    kind: String,
    schedule: String,
    #[serde(default)]
    config: Option<Value>,
}

async fn add_job(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(req): Json<NewJob>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    let config = req.config.unwrap_or_else(|| json!({})).to_string();
    let mut errors = Vec::new();
    if let Err(e) = scheduler::parse_schedule(&req.schedule) {
        errors.push(("schedule", format!("Расписание: {e:#}")));
    }
    let kinds: Vec<String> = scheduler::kinds(&app).into_iter().map(|(k, _)| k).collect();
    if !kinds.contains(&req.kind) {
        errors.push(("kind", format!("Вид: один из {}", kinds.join(", "))));
    }
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    if let Err(e) = scheduler::add_job(&app, &req.name, &req.kind, &req.schedule, &config, &user.actor()).await {
        return Ok(invalid(vec![("name", format!("{e:#}"))]));
    }
    Ok((StatusCode::CREATED, Json(json!({"ok": true}))).into_response())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct JobChange {
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    config: Option<Value>,
}

async fn configure_job(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(name): Path<String>,
    Json(req): Json<JobChange>,
) -> Result<Response, ApiError> {
    write(&user, ADMIN)?;
    scheduler::seed_jobs(&app).await?;
    if !scheduler::list_jobs(&app).await?.iter().any(|j| j.name == name) {
        return Err(ApiError::not_found("Задание"));
    }
    if let Some(Err(e)) = req.schedule.as_deref().map(scheduler::parse_schedule) {
        return Ok(invalid(vec![("schedule", format!("Расписание: {e:#}"))]));
    }
    if req.config.as_ref().is_some_and(|c| !c.is_object()) {
        return Ok(invalid(vec![("config", "Настройки: нужен объект JSON".into())]));
    }
    let config = req.config.map(|c| c.to_string());
    scheduler::configure(
        &app,
        &name,
        req.schedule.as_deref(),
        req.enabled,
        config.as_deref(),
        &user.actor(),
    )
    .await
    .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})).into_response())
}

#[derive(Deserialize)]
struct YearQuery {
    year: Option<i32>,
}

async fn get_calendar(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<YearQuery>,
) -> Result<Json<Value>, ApiError> {
    require(&user, super::VIEWERS)?;
    let year = q.year.unwrap_or_else(|| crate::clock::today().year());
    if !(2000..=2100).contains(&year) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "год: от 2000 до 2100".into(),
        ));
    }
    let snapshot = app.reference();
    let days = calendar::year_days(snapshot.list(calendar::LIST), year);
    let working = days.iter().filter(|d| d.working).count();
    Ok(Json(json!({"year": year, "working_days": working, "days": days})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DayRequest {
    /// `holiday`, `workday`, or `default` (the weekday/weekend rule).
    kind: String,
}

async fn set_day(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(date): Path<String>,
    Json(req): Json<DayRequest>,
) -> Result<Response, ApiError> {
    write(&user, MANAGERS)?;
    let Some(day) = calendar::parse_date(&date) else {
        return Ok(invalid(vec![("date", "Дата: нужен день в виде ГГГГ-ММ-ДД".into())]));
    };
    match calendar::set_day(&app, &user, day, &req.kind).await? {
        Ok(version) => Ok(Json(json!({"ok": true, "version": version})).into_response()),
        Err(e) => Ok(invalid(vec![("kind", e)])),
    }
}

async fn audit_log(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(filter): Query<super::audit::AuditFilter>,
) -> Result<Response, ApiError> {
    require(&user, ADMIN_AUDIT)?;
    let mut errors = Vec::new();
    if let Err(e) = super::audit::check_day(&filter.from, "Дата с") {
        errors.push(("from", e));
    }
    if let Err(e) = super::audit::check_day(&filter.to, "Дата по") {
        errors.push(("to", e));
    }
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    Ok(Json(super::audit::search(&app.db, &filter).await?).into_response())
}

async fn get_organisation(
    State(app): State<App>,
    Authenticated(_user): Authenticated,
    Path(ogrn): Path<String>,
) -> Result<Json<organisations::Profile>, ApiError> {
    Ok(Json(
        organisations::profile(&app.db, &ogrn)
            .await?
            .ok_or_else(|| ApiError::not_found("Организация"))?,
    ))
}

async fn put_organisation(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(ogrn): Path<String>,
    Json(mut profile): Json<organisations::Profile>,
) -> Result<Response, ApiError> {
    write(&user, MANAGERS)?;
    profile.ogrn = ogrn;
    let errors = organisations::validate(&profile, &organisations::sections(&app));
    if !errors.is_empty() {
        return Ok(invalid(errors));
    }
    let created = organisations::profile(&app.db, &profile.ogrn).await?.is_none();
    organisations::save(&app, &profile, &user.actor()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({"ok": true}))).into_response())
}

async fn delete_rule(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    write(&user, MANAGERS)?;
    if !organisations::retire_rule(&app.db, id, &user.actor()).await? {
        return Err(ApiError::not_found("Правило"));
    }
    app.refresh_lookups().await?;
    Ok(Json(json!({"ok": true})))
}

/// A job run started through the API (the existing `/api/v1/jobs/{name}/run` routes use it).
pub async fn start_job(
    app: &App,
    user: &Principal,
    name: &str,
    dry_run: bool,
) -> Result<Json<scheduler::RunView>, ApiError> {
    write(user, MANAGERS)?;
    Ok(Json(
        jobs::start(app, user, name, dry_run).await.map_err(ApiError::refused)?,
    ))
}
