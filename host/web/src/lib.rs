//! `ipra-web`, HTTP: the REST API under `/api/v1` and the server-rendered Russian pages. Handlers
//! are thin: they check who asks (`Principal`), call the register (crate `ipra-store`), and convert
//! errors once, through `ApiError`. This crate does not depend on sqlx: every read and write of the
//! register is a function of the store.

mod api;
pub mod chart;
mod exchange_api;
pub mod export;
pub mod export_stream;
mod interactive;
mod metrics;
mod openapi;
pub mod ui;

// The store's modules, under the names the handlers have always used.
use crate::auth::web::Authenticated;
use ipra_store::{app, audit, clock, db, exchange, paging, plugins, refusal, register, scheduler, signing};

/// Users, sessions and tokens: the store's, and how a request carries them (`web`).
pub mod auth {
    pub use ipra_store::auth::*;
    pub mod web;
}

use crate::app::App;
use crate::auth::web as auth_web;
use crate::auth::Role;
use crate::register::query::{self, IpraFilter};
use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// An error answered as problem details (RFC 9457, `application/problem+json`): `type`, `title`,
/// `status`, `detail` (the Russian message), `code`, and where they apply `field` (the request field
/// that does not hold), `errors` (each field with its message) and `error_id` (an internal error, as
/// the log knows it). The earlier shape `{"error": {"code", "message"}}` is kept beside them for
/// clients written against it.
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    /// Kept apart so that a `Result<_, ApiError>` stays small.
    detail: Option<Box<Detail>>,
}

/// What some refusals add: the field, every field with its message, an internal error's id.
#[derive(Default)]
struct Detail {
    field: Option<String>,
    errors: Option<serde_json::Value>,
    error_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: String) -> ApiError {
        ApiError {
            status,
            code,
            message,
            detail: None,
        }
    }

    /// The Russian message (pages show it on their error page).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 404 `not-found`: «{what} не найдено».
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", not_found_text(what))
    }

    /// The same error naming the request field it concerns.
    fn with_field(self, field: Option<String>) -> ApiError {
        ApiError {
            detail: Some(Box::new(Detail {
                field,
                ..Detail::default()
            })),
            ..self
        }
    }

    /// 400 `bad-request` naming the request field that does not parse.
    pub fn bad_field(field: Option<String>, message: String) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message).with_field(field)
    }

    /// 400 for a filter whose fields do not parse: the first field named, every message joined.
    pub fn bad_filter(problems: Vec<(&'static str, String)>) -> ApiError {
        let field = problems.first().map(|(f, _)| f.to_string());
        ApiError::bad_field(
            field,
            problems.into_iter().map(|(_, m)| m).collect::<Vec<_>>().join(" "),
        )
    }

    /// 422 `invalid` with the fields that do not hold: `[{"field", "message"}, …]`.
    pub fn invalid_fields(errors: serde_json::Value) -> ApiError {
        let first = errors.get(0);
        let field = first.and_then(|e| e["field"].as_str()).map(str::to_string);
        let message = first
            .and_then(|e| e["message"].as_str())
            .map(|m| format!("Запрос не принят: {m}"))
            .unwrap_or_else(|| "Запрос не принят: проверьте поля.".to_string());
        ApiError {
            detail: Some(Box::new(Detail {
                field,
                errors: Some(errors),
                error_id: None,
            })),
            ..ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
        }
    }

    /// What a person asked for was refused: a typed refusal answers as its kind; an error of the
    /// database or the file system is internal (its text goes to the log only); any other message
    /// was written for the person and answers 409 as it is.
    pub fn refused(e: anyhow::Error) -> ApiError {
        ApiError::refused_as(e, StatusCode::CONFLICT, "conflict")
    }

    /// As [`ApiError::refused`], with `status` and `code` for a message written for the person.
    pub fn refused_as(e: anyhow::Error, status: StatusCode, code: &'static str) -> ApiError {
        if crate::refusal::Refusal::of(&e).is_some() || crate::refusal::is_internal(&e) {
            return ApiError::from(e);
        }
        ApiError::new(status, code, format!("{e:#}"))
    }

    fn internal(e: &anyhow::Error) -> ApiError {
        let mut bytes = [0u8; 4];
        let _ = getrandom::getrandom(&mut bytes);
        let id = hex::encode(bytes);
        tracing::error!(error_id = %id, "request failed: {e:#}");
        ApiError {
            detail: Some(Box::new(Detail {
                error_id: Some(id.clone()),
                ..Detail::default()
            })),
            ..ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                format!("Внутренняя ошибка сервера. Сообщите администратору код ошибки {id}: по нему он найдёт её в журнале."),
            )
        }
    }
}

/// The ending of a short participle or adjective agreeing with the noun that names a thing: «а»
/// (feminine), «о» (neuter), «ы» (plural), «» (masculine, also for unknown nouns).
fn agreement(what: &str) -> &'static str {
    match what.split_whitespace().next().unwrap_or(what) {
        "ИПРА" | "Запись" | "Организация" | "Выписка" | "Карточка" | "Страница" | "Программа" => {
            "а"
        }
        "Правило" | "Задание" | "Мероприятие" | "Сообщение" | "Исполнение" => {
            "о"
        }
        "Документы" | "Сведения" => "ы",
        _ => "",
    }
}

/// «Отчёт не найден», «Запись исполнения не найдена», «Правило не найдено».
pub fn not_found_text(what: &str) -> String {
    format!("{what} не найден{}", agreement(what))
}

/// «Отчёт не найден или недоступен вашей организации.»
pub fn not_found_or_hidden_text(what: &str) -> String {
    let ending = agreement(what);
    let hidden = if ending.is_empty() {
        "недоступен".to_string()
    } else {
        format!("недоступн{ending}")
    };
    format!("{what} не найден{ending} или {hidden} вашей организации.")
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        use crate::refusal::Refusal;
        if let Some(refusal) = Refusal::of(&e) {
            let message = format!("{e:#}");
            return match refusal {
                Refusal::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not-found", message),
                Refusal::Conflict(_) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
                Refusal::Invalid { field, message: text } => {
                    ApiError::invalid_fields(json!([{"field": field, "message": text}]))
                }
            };
        }
        if crate::db::interactive::is_stopped_statement(&e) {
            tracing::warn!("statement stopped: {e:#}");
            crate::db::interactive::note_timeout();
            let timeout = crate::db::interactive::current_timeout();
            return interactive::too_slow(interactive::too_slow_message(timeout));
        }
        if crate::db::storage::is_full(&e) {
            tracing::error!("request failed: {}", crate::db::storage::explain(&e));
            return ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "disk-full",
                crate::db::storage::FULL_MESSAGE.into(),
            );
        }
        if crate::db::storage::is_unreachable(&e) {
            tracing::error!("request failed, the database is out of reach: {e:#}");
            return ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database-unavailable",
                crate::db::storage::UNREACHABLE_MESSAGE.into(),
            );
        }
        ApiError::internal(&e)
    }
}

/// The short Russian title of a status (`title` of the problem details).
fn status_title(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Неверный запрос",
        401 => "Требуется вход",
        403 => "Недостаточно прав",
        404 => "Не найдено",
        405 => "Метод не поддерживается",
        409 => "Конфликт состояния",
        413 => "Запрос слишком велик",
        415 => "Неверный тип содержимого",
        422 => "Данные не прошли проверку",
        429 => "Слишком много запросов",
        500 => "Внутренняя ошибка сервера",
        503 => "Сервис временно недоступен",
        507 => "Нет места для записи",
        _ => "Ошибка",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:ipra:problem:{}", self.code),
            "title": status_title(self.status),
            "status": self.status.as_u16(),
            "detail": self.message,
            "code": self.code,
            "error": {"code": self.code, "message": self.message},
        });
        let detail = self.detail.map(|d| *d).unwrap_or_default();
        if let Some(field) = detail.field {
            body["field"] = json!(field);
            body["error"]["field"] = json!(field);
        }
        if let Some(errors) = detail.errors {
            body["ok"] = json!(false);
            body["errors"] = errors;
        }
        if let Some(id) = detail.error_id {
            body["error_id"] = json!(id);
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// This server process: its name in job runs and whether it leads the scheduler.
#[derive(Clone)]
pub struct Instance {
    pub name: String,
    pub leader: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub fn router(app: App, instance: Instance) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/api/v1/ready", get(ready))
        .route("/api/v1/openapi.json", get(openapi))
        .route(
            "/api/v1/session",
            get(auth_web::current).post(auth_web::login).delete(auth_web::logout),
        )
        .route("/api/v1/ipras", get(list_ipras))
        .route("/api/v1/ipras/{id}", get(get_ipra))
        .route("/api/v1/ipras/{id}/source", get(get_source))
        .route("/api/v1/plugins", get(list_plugins))
        .route("/metrics", get(metrics::handler))
        .route("/api/v1/admin/diagnostics/slow-query", get(interactive::slow_query_api))
        .route("/admin/diagnostics/slow-query", get(interactive::slow_query_page))
        .merge(api::routes())
        .merge(exchange_api::routes())
        .merge(ui::routes())
        .layer(axum::middleware::from_fn(russian_refusals))
        .layer(axum::middleware::from_fn(refuse_nul))
        .layer(axum::middleware::map_response(security_headers))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(axum::Extension(instance))
        .with_state(app)
}

/// The framework's own refusals — an unknown address, a number that is not one (`/ipras/abc`), a
/// body that does not parse — come as English plain text: they are said in Russian, as JSON on the
/// API and as a page elsewhere, with the detail kept for the developer.
async fn russian_refusals(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    let plain = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    if !plain || !(status.is_client_error()) {
        return response;
    }
    // A body or query that does not parse is a bad request (400) naming its field; 422 is kept for
    // a request that parses and breaks a rule of the register.
    let (status, code, message) = match status {
        StatusCode::NOT_FOUND => (status, "not-found", "Страница не найдена: проверьте адрес."),
        StatusCode::BAD_REQUEST => (
            status,
            "bad-request",
            "Адрес или параметры запроса не распознаны (номер записи в адресе — целое число).",
        ),
        StatusCode::METHOD_NOT_ALLOWED => (status, "method-not-allowed", "Этот адрес не принимает такой запрос."),
        StatusCode::PAYLOAD_TOO_LARGE => (status, "too-large", "Запрос слишком велик."),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            status,
            "bad-content-type",
            "Неверный тип содержимого запроса: ожидается application/json.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => (
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Содержимое запроса не распознано: проверьте поля.",
        ),
        _ => return response,
    };
    let bytes = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap_or_default();
    let detail = String::from_utf8_lossy(&bytes).trim().to_string();
    let field = refused_field(&detail);
    let message = match (&field, status) {
        (_, StatusCode::NOT_FOUND) => message.to_string(),
        (Some(field), _) => format!("{message} Поле «{field}» ({detail})."),
        (None, _) if detail.is_empty() => message.to_string(),
        (None, _) => format!("{message} ({detail})"),
    };
    if api {
        ApiError::new(status, code, message).with_field(field).into_response()
    } else {
        ui::PageError {
            status,
            message,
            user: None,
        }
        .into_response()
    }
}

/// Text never holds the character of code 0: PostgreSQL cannot store it, and no person types it. A
/// request that carries one — in the address, a form or a JSON body — is refused (422) before any
/// handler reads it, the same on both engines.
async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    const LIMIT: usize = 16 * 1024 * 1024;
    let in_address = request
        .uri()
        .path_and_query()
        .is_some_and(|pq| has_escaped_nul(pq.as_str().as_bytes(), "%00"));
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let escape = if content_type.starts_with("application/json") {
        Some("\\u0000")
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        Some("%00")
    } else {
        None
    };
    let api = request.uri().path().starts_with("/api/");
    let refuse = |api: bool| {
        let message = "Текст запроса содержит символ с кодом 0: такой символ не допускается.".to_string();
        if api {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message).into_response()
        } else {
            ui::PageError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message,
                user: None,
            }
            .into_response()
        }
    };
    if in_address {
        return refuse(api);
    }
    let Some(escape) = escape else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, LIMIT).await else {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Запрос слишком велик.".into(),
        )
        .into_response();
    };
    if bytes.contains(&0) || has_escaped_nul(&bytes, escape) {
        return refuse(api);
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Whether `bytes` hold `escape` (`%00`, `\u0000`) in any case of its hex digits (read in place: a
/// body is not copied to be searched).
fn has_escaped_nul(bytes: &[u8], escape: &str) -> bool {
    bytes
        .windows(escape.len())
        .any(|window| window.eq_ignore_ascii_case(escape.as_bytes()))
}

/// The field a framework refusal names: serde's «missing field `login`», «unknown variant … for
/// `role`» are quoted in backticks; a query's «year: invalid digit» starts with it.
fn refused_field(detail: &str) -> Option<String> {
    let text = detail
        .split_once("target type: ")
        .or_else(|| detail.split_once("query string: "))
        .map(|(_, rest)| rest)?;
    if let Some(rest) = text
        .strip_prefix("missing field `")
        .or_else(|| text.split_once("field `").map(|(_, r)| r))
    {
        return rest.split('`').next().map(str::to_string);
    }
    let head = text.split(':').next()?.trim();
    let named = !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '[' || c == ']');
    named.then(|| head.to_string())
}

/// What every answer tells the browser: scripts, styles, images and fonts from this server only,
/// never inside a frame, no guessing of content types, no referrer leaving the site; and nothing
/// kept in a cache unless the answer says otherwise (pages and downloads carry SNILS and health
/// measures — only the static assets are cacheable).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: header::HeaderName, value: &'static str| {
        headers.insert(name, header::HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    if !headers.contains_key(header::CACHE_CONTROL) {
        set(headers, header::CACHE_CONTROL, "no-store");
    }
    response
}

/// Serves until Ctrl-C or SIGTERM, then stops taking requests and lets those under way finish for
/// `grace` at most: a download of a whole register or a statement without a time-out must not
/// keep a stopping server for minutes (whatever the background work was doing is safe to
/// abandon: every durable step of it survives a kill). A second signal ends it at once. Requests
/// use a pool of their own, where each statement is limited to `statement_timeout` and stopped
/// when its client goes away (`interactive`); background work started beside the server keeps
/// `app`'s pool.
pub async fn serve(
    app: App,
    listen: &str,
    instance: Instance,
    statement_timeout: Option<std::time::Duration>,
    concurrent_requests: Option<usize>,
    grace: std::time::Duration,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("не удалось занять адрес {listen}"))?;
    let addr = listener.local_addr()?;
    let (db, rules) = app.db.interactive(statement_timeout).await?;
    let mut requests = app.clone();
    requests.db = db;
    metrics::set_background_pool(&app.db);
    tracing::info!(%addr, database = app.db.engine.name(), "serving");
    // The statistics index: loaded before the first request when the register is small, else in
    // the background while the server already answers (lists do without it meanwhile).
    // Then the region's statistics without a filter, what coordinators open first, are computed
    // once in the background: at a million persons the pass is ≈ 100 ms of a core, and the first
    // coordinator otherwise waited for it among everyone's requests.
    if crate::register::query::highest_measure_id(&app.db).await? < 1_000_000 {
        app.facts.refresh(&app.db).await?;
        tokio::spawn(ui::stats::warm(app.clone()));
    } else {
        let loading = app.clone();
        tokio::spawn(async move {
            match loading.facts.refresh(&loading.db).await {
                Ok(()) => ui::stats::warm(loading).await,
                Err(e) => tracing::error!("statistics index: {e:#}"),
            }
        });
    }
    println!("Сервер ИПРА слушает http://{addr}/ (база: {})", app.db.engine.name());
    // Reading requests take turns: as many at once as the settings say (two a core by default),
    // never more than the request pool has connections; one waits for its turn no longer than a
    // statement may run.
    let pool_max = requests.db.pool.options().get_max_connections() as usize;
    let turns = concurrent_requests
        .unwrap_or_else(ipra_store::config::default_concurrent_requests)
        .min(pool_max);
    tracing::info!(turns, "requests that read are served {turns} at a time");
    let rules = interactive::Rules {
        interactive: rules,
        turns: std::sync::Arc::new(interactive::Turns::new(turns, statement_timeout)),
    };
    let service = router(requests, instance).layer(axum::middleware::from_fn_with_state(rules, interactive::watch));
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::warn!(
            grace_ms = grace.as_millis() as u64,
            "получен сигнал остановки: новые запросы не принимаются, начатые завершаются"
        );
        signalled.notify_one();
    });
    let deadline = async {
        stopping.notified().await;
        tokio::select! {
            _ = tokio::time::sleep(grace) => tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "остановка: запросы, не завершившиеся за отведённое время, прерваны"
            ),
            _ = shutdown_signal() => tracing::warn!("повторный сигнал остановки: запросы прерваны"),
        }
    };
    tokio::select! {
        served = server => served?,
        _ = deadline => {}
    }
    tracing::info!("сервер остановлен");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Public: whether this instance can serve now, for a load balancer or an orchestrator's readiness
/// probe — the database answers within two seconds, the disks have room to write, the database's
/// migrations are the ones this binary carries (no more, no fewer, none changed or half-applied),
/// and the plugins are in service (none refused, every one an administrator enabled loaded). 503
/// with the problems named in Russian when not.
async fn ready(State(app): State<App>) -> Response {
    let (problems, body) = readiness(&app).await;
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// The checks of [`ready`]: the problems found (none: ready), and the body it answers.
pub(crate) async fn readiness(app: &App) -> (Vec<String>, serde_json::Value) {
    const LIMIT: std::time::Duration = std::time::Duration::from_secs(2);
    let mut problems = Vec::new();
    let probe = tokio::time::timeout(LIMIT, app.db.ping()).await;
    let reachable = match probe {
        Ok(Ok(_)) => true,
        Ok(Err(e)) => {
            problems.push(format!("база данных недоступна: {e}"));
            false
        }
        Err(_) => {
            problems.push("база данных не ответила за 2 с".to_string());
            false
        }
    };
    let storage = crate::db::storage::state();
    if storage.status == "full" {
        problems.extend(storage.problem.clone());
    }
    // Migrations and the plugins an administrator enabled: asked only of a database that answers.
    let (migrations, enabled) = if reachable {
        let asked = tokio::time::timeout(LIMIT, async {
            let migrations = crate::db::migration_state::migration_state(&app.db).await?;
            let enabled = ipra_store::metrics::enabled_plugins(&app.db).await?;
            anyhow::Ok((migrations, enabled))
        })
        .await;
        match asked {
            Ok(Ok((migrations, enabled))) => (Some(migrations), enabled),
            Ok(Err(e)) => {
                problems.push(format!("не удалось проверить миграции и плагины: {e:#}"));
                (None, Vec::new())
            }
            Err(_) => {
                problems.push("проверка миграций и плагинов не уложилась в 2 с".to_string());
                (None, Vec::new())
            }
        }
    } else {
        (None, Vec::new())
    };
    if let Some(migrations) = &migrations {
        problems.extend(migrations.problems());
    }
    let refused = app.plugins.refused();
    for r in &refused {
        problems.push(format!(
            "плагин «{}» не загружен: {}",
            r.id.as_deref().unwrap_or(&r.path),
            r.reason
        ));
    }
    let loaded = app.plugins.all();
    // A plugin removed on purpose is kept for rollback and may stay enabled in the settings: only
    // one neither in service nor kept is missing.
    let plugins_dir = app.plugins_dir();
    let missing: Vec<&String> = enabled
        .iter()
        .filter(|id| !loaded.iter().any(|p| p.id() == id.as_str()))
        .filter(|id| crate::plugins::install::previous_version(&plugins_dir, id).is_none())
        .filter(|id| !refused.iter().any(|r| r.id.as_ref() == Some(*id)))
        .collect();
    for id in &missing {
        problems.push(format!(
            "плагин «{id}» включён, но не загружен (его нет среди установленных): установите его снова или отключите (ipra plugins disable {id})"
        ));
    }
    let body = json!({
        "ready": problems.is_empty(),
        "database": app.db.engine.name(),
        "storage": storage,
        "migrations": migrations.as_ref().map(|m| json!({
            "current": m.is_current(),
            "known": m.known,
            "applied": m.applied,
            "missing": m.missing,
            "unknown": m.unknown,
            "failed": m.failed,
            "changed": m.changed,
        })),
        "plugins": {
            "loaded": loaded.len(),
            "refused": refused.len(),
            "missing": missing,
        },
        "problems": problems,
    });
    (problems, body)
}

/// Public: whether the server is up, and nothing about persons.
async fn health(
    State(app): State<App>,
    axum::Extension(instance): axum::Extension<Instance>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // Counted by the statistics index (a count over the tables takes seconds at a region's size);
    // while it loads, the counts are not known yet. Liveness: the process answers even when its
    // database does not, and says so.
    let (ready, database_problem) = match app.facts.refresh_if_loaded(&app.db).await {
        Ok(ready) => (ready, None),
        Err(e) if crate::db::storage::is_unreachable(&e) => (false, Some(crate::db::storage::UNREACHABLE_MESSAGE)),
        Err(e) => return Err(e.into()),
    };
    let counts = ready.then(|| app.facts.counts());
    let storage = crate::db::storage::state();
    Ok(Json(json!({
        "status": if storage.status == "ok" && database_problem.is_none() { "ok" } else { "degraded" },
        "database_problem": database_problem,
        "storage": storage,
        "instance": instance.name,
        "scheduler_leader": instance.leader.load(std::sync::atomic::Ordering::SeqCst),
        "version": env!("CARGO_PKG_VERSION"),
        "database": app.db.engine.name(),
        "plugins": app.plugins.all().len(),
        "statistics_index": if ready { "ready" } else { "loading" },
        "register": counts,
    })))
}

async fn list_ipras(
    State(app): State<App>,
    Authenticated(principal): Authenticated,
    Query(mut filter): Query<IpraFilter>,
) -> Result<Json<query::IpraPage>, ApiError> {
    filter
        .check()
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad-request", m))?;
    app.facts.refresh_if_loaded(&app.db).await?;
    // A bureau reads its institution's IPRAs, and its reads are logged.
    let scope = ui::register::bureau::register_scope(&principal, &mut filter);
    let page = query::list_ipras(&app.db, Some(app.facts.as_ref()), &filter, scope).await?;
    ui::register::bureau::log_list(&app, &principal, &filter, page.items.len()).await?;
    Ok(Json(page))
}

/// The extract card: a read of personal data, so it is logged. Outside the caller's scope it is 404.
async fn get_ipra(
    State(app): State<App>,
    Authenticated(principal): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<query::IpraCard>, ApiError> {
    let card = ui::register::bureau::card(&app, &principal, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ИПРА"))?;
    crate::audit::record(&app.db, &principal.actor(), "ipra.read", &format!("ipra:{id}"), None).await?;
    Ok(Json(card))
}

/// The extract as received: every department's measures, so only for the roles that see the whole
/// IPRA — an executor sees its own measures on the card, not the extract.
async fn get_source(
    State(app): State<App>,
    Authenticated(principal): Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    // Outside the executor's scope the IPRA does not exist for it (404, as everywhere).
    if query::ipra_card(&app.db, id, principal.scope()).await?.is_none() {
        return Err(ApiError::not_found("Документ"));
    }
    if principal.scope().is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "выписка целиком содержит мероприятия всех ведомств: исполнителю доступны только мероприятия своей организации в карточке".into(),
        ));
    }
    let (name, bytes) = query::source_document(&app.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Документ"))?;
    crate::audit::record(
        &app.db,
        &principal.actor(),
        "ipra.source.download",
        &format!("ipra:{id}"),
        Some(&name),
    )
    .await?;
    let disposition = format!("attachment; filename=\"ipra-{id}.xml\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

async fn list_plugins(
    State(app): State<App>,
    Authenticated(principal): Authenticated,
) -> Result<Json<serde_json::Value>, ApiError> {
    auth_web::require(&principal, &[Role::Administrator, Role::Coordinator, Role::Auditor])?;
    Ok(Json(json!(app.plugins.summaries())))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi::document()).into_response()
}

#[cfg(test)]
mod tests {
    /// Every route the router serves under /api/v1 (in any source file of `web/`) is in the
    /// OpenAPI document, and the reverse.
    #[test]
    fn openapi_lists_every_route() {
        let doc: serde_json::Value = serde_json::from_str(super::openapi::document()).unwrap();
        let documented: std::collections::BTreeSet<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        let mut served = std::collections::BTreeSet::new();
        let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                if path.extension().is_none_or(|e| e != "rs") {
                    continue;
                }
                let source = std::fs::read_to_string(&path).unwrap();
                for part in source.split(".route(").skip(1) {
                    let Some(rest) = part.trim_start().strip_prefix('"') else {
                        continue;
                    };
                    let route = rest.split('"').next().unwrap_or_default();
                    if route.starts_with("/api/") {
                        served.insert(route.to_string());
                    }
                }
            }
        }
        assert_eq!(documented, served);
    }
}
