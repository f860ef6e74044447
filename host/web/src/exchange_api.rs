//! REST routes of the exchanges under `/api/v1`: scheduled jobs, the signing queue, exchange
//! messages, ZAGS death records, follow-ups and the audit chain (TSR clarification requests: `ui::register::tsr`).

use super::ApiError;
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::web::{forbidden, require, require_write};
use crate::auth::{Principal, Role};
use crate::register::{deaths, execution};
use crate::scheduler::instance_name;
use crate::{exchange, scheduler};
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

const ADMINS: &[Role] = &[Role::Administrator];
const OVERSEERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];
const MANAGERS: &[Role] = &[Role::Administrator, Role::Coordinator];

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/jobs", get(list_jobs))
        .route("/api/v1/jobs/{name}/run", post(run_job))
        .route("/api/v1/jobs/{name}/dry-run", post(dry_run_job))
        .route("/api/v1/jobs/{name}/history", get(job_history))
        .route("/api/v1/job-runs/{id}/retry", post(retry_run))
        .route("/api/v1/job-runs/{id}/discard", post(discard_run))
        .route("/api/v1/reports/{id}/sign", post(sign_report))
        .route("/api/v1/reports/{id}/signature", post(upload_signature))
        .route("/api/v1/exchange/messages", get(list_messages))
        .route("/api/v1/exchange/messages/{id}/retry", post(retry_message))
        .route("/api/v1/exchange/messages/{id}/stop", post(stop_message))
        .route("/api/v1/exchange/deaths", get(list_deaths))
        .route("/api/v1/exchange/deaths/{id}/decide", post(decide_death))
        .route("/api/v1/follow-ups", get(list_follow_ups))
        .route("/api/v1/audit/verify", get(audit_verify))
}

async fn list_jobs(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<scheduler::Job>>, ApiError> {
    require(&user, OVERSEERS)?;
    scheduler::seed_jobs(&app).await?;
    Ok(Json(scheduler::list_jobs(&app).await?))
}

/// Coordinators and administrators start runs (the administration pages do the same); each is audit-logged.
async fn start(app: &App, user: &Principal, name: &str, dry_run: bool) -> Result<Json<scheduler::RunView>, ApiError> {
    super::ui::admin::api::start_job(app, user, name, dry_run).await
}

async fn run_job(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<scheduler::RunView>, ApiError> {
    start(&app, &user, &name, false).await
}

async fn dry_run_job(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<scheduler::RunView>, ApiError> {
    start(&app, &user, &name, true).await
}

async fn job_history(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(name): Path<String>,
) -> Result<Json<Vec<scheduler::RunView>>, ApiError> {
    require(&user, OVERSEERS)?;
    Ok(Json(scheduler::history(&app, &name, 100).await?))
}

async fn retry_run(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require(&user, ADMINS)?;
    let run = scheduler::decide(&app, id, true, &user.actor(), &instance_name())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "run": run})))
}

async fn discard_run(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require(&user, ADMINS)?;
    scheduler::decide(&app, id, false, &user.actor(), &instance_name())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

/// Reports are signed by their reporting organisation: an executor only its own.
async fn own_report(app: &App, user: &Principal, id: i64) -> Result<(), ApiError> {
    require_write(user)?;
    let report = execution::report(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Отчёт"))?;
    match user.scope() {
        Some(ogrn) if ogrn != report.reporter_ogrn => Err(ApiError::not_found("Отчёт")),
        None if user.role == Role::Executor => Err(forbidden()),
        _ => Ok(()),
    }
}

async fn sign_report(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    own_report(&app, &user, id).await?;
    let verified = crate::signing::sign_report(&app, id, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "signer": verified})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SignatureUpload {
    /// The detached signature: base64 of DER, or PEM.
    signature: String,
}

async fn upload_signature(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(upload): Json<SignatureUpload>,
) -> Result<Json<Value>, ApiError> {
    own_report(&app, &user, id).await?;
    let verified = crate::signing::upload_signature(&app, id, upload.signature.as_bytes(), &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "signer": verified})))
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
    /// The page below this id (the `next` of the previous page).
    before: Option<i64>,
    /// Rows per page (default 100, at most 1000).
    limit: Option<u32>,
}

async fn list_messages(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<StatusQuery>,
) -> Result<Json<crate::paging::Page<exchange::MessageView>>, ApiError> {
    require(&user, OVERSEERS)?;
    Ok(Json(
        exchange::messages_page(&app.db, q.status.as_deref(), q.before, q.limit.unwrap_or(100)).await?,
    ))
}

async fn retry_message(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    exchange::set_retry(&app, id, true, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn stop_message(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require(&user, ADMINS)?;
    exchange::set_retry(&app, id, false, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn list_deaths(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<StatusQuery>,
) -> Result<Json<crate::paging::Page<deaths::DeathRecordView>>, ApiError> {
    require(&user, OVERSEERS)?;
    let statuses: Vec<&str> = q.status.as_deref().filter(|s| !s.is_empty()).into_iter().collect();
    Ok(Json(
        deaths::page(&app.db, &statuses, q.before, q.limit.unwrap_or(100)).await?,
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct DeathDecision {
    /// Apply the record to the person with this SNILS; none rejects it.
    snils: Option<String>,
}

async fn decide_death(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(decision): Json<DeathDecision>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    let closed = deaths::decide(&app, id, decision.snils.as_deref(), &user.actor())
        .await
        .map_err(ApiError::refused)?;
    let detail = if decision.snils.is_some() {
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
    Ok(Json(json!({"ok": true, "closed_measures": closed})))
}

#[derive(Deserialize)]
struct FollowUpQuery {
    ipra: Option<i64>,
    kind: Option<String>,
}

async fn list_follow_ups(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<FollowUpQuery>,
) -> Result<Json<Vec<execution::FollowUpView>>, ApiError> {
    if user.scope().is_some() {
        // An executor sees the follow-ups of an IPRA it works on, one IPRA at a time.
        let ipra = q.ipra.ok_or_else(forbidden)?;
        crate::register::query::ipra_card(&app.db, ipra, user.scope())
            .await?
            .ok_or_else(|| ApiError::not_found("ИПРА"))?;
    }
    Ok(Json(execution::follow_ups(&app, q.ipra, q.kind.as_deref()).await?))
}

/// Both logs: the exchange log and the audit log (its pending entries sealed first), against the
/// anchored heads.
async fn audit_verify(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<crate::audit::Logs>, ApiError> {
    require(&user, &[Role::Administrator, Role::Auditor])?;
    Ok(Json(crate::audit::verify_logs(&app.db, &app.data_dir, &[]).await?))
}
