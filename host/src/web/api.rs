//! REST routes of the execution work under `/api/v1`: organisations, routing, measures, execution
//! records, reports, reference lists, deadlines, statistics. Thin: each calls the register.

use super::ApiError;
use crate::app::App;
use crate::register::directory::{self, Organisation};
use crate::register::execution::{self, Checked, ExecutionForm};
use crate::register::{deadlines, reference, stats};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Who acts through the API until users and sessions exist.
const API_ACTOR: &str = "api";

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/organisations", get(list_organisations).post(save_organisation))
        .route("/api/v1/routing/rules", get(list_rules).post(set_rule))
        .route("/api/v1/routing/preview", post(preview_rule))
        .route("/api/v1/measures/{id}/assign", post(assign_measure))
        .route("/api/v1/measures/{id}/history", get(measure_history))
        .route("/api/v1/ipras/{id}/executions", get(list_executions))
        .route("/api/v1/ipras/{id}/reports", post(assemble_report))
        .route("/api/v1/executions", post(create_execution))
        .route(
            "/api/v1/executions/{id}",
            get(get_execution).put(update_execution).delete(delete_execution),
        )
        .route("/api/v1/executions/{id}/ready", post(ready_execution))
        .route("/api/v1/executions/{id}/draft", post(draft_execution))
        .route("/api/v1/reports", get(list_reports))
        .route("/api/v1/reports/{id}", get(get_report))
        .route("/api/v1/reports/{id}/document", get(report_document))
        .route("/api/v1/reports/{id}/withdraw", post(withdraw_report))
        .route("/api/v1/reports/{id}/answer", post(answer_report))
        .route("/api/v1/reference", get(list_reference))
        .route("/api/v1/reference/{list}", get(get_reference).put(set_reference))
        .route("/api/v1/deadlines/overdue", get(overdue))
        .route("/api/v1/stats", get(statistics))
}

fn bad_request(message: String) -> ApiError {
    ApiError {
        status: StatusCode::BAD_REQUEST,
        code: "bad-request",
        message,
    }
}

/// Success is `{"ok":true,"result":…}`; a refusal with field errors is 422 `{"ok":false,"errors":[…]}`;
/// a step the lifecycle refuses (wrong status, unknown id) is 409 with the Russian message.
fn checked<T: serde::Serialize>(outcome: Checked<T>) -> Result<Response, ApiError> {
    match outcome.map_err(conflict)? {
        Ok(value) => Ok(Json(json!({"ok": true, "result": value})).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({"ok": false, "errors": errors})),
        )
            .into_response()),
    }
}

/// Lifecycle refusals (wrong status, unknown id) are user errors: 409 with the Russian message.
fn conflict(e: anyhow::Error) -> ApiError {
    ApiError {
        status: StatusCode::CONFLICT,
        code: "conflict",
        message: format!("{e:#}"),
    }
}

async fn list_organisations(State(app): State<App>) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(directory::list_organisations(&app.db).await?))
}

async fn save_organisation(State(app): State<App>, Json(org): Json<Organisation>) -> Result<Json<Value>, ApiError> {
    directory::upsert_organisation(&app.db, &org, API_ACTOR)
        .await
        .map_err(|e| bad_request(format!("{e:#}")))?;
    app.refresh_lookups().await?;
    Ok(Json(json!({"ok": true})))
}

async fn list_rules(State(app): State<App>) -> Result<Json<Vec<directory::RoutingRule>>, ApiError> {
    Ok(Json(directory::active_rules(&app.db).await?))
}

#[derive(Deserialize)]
struct RuleRequest {
    section: String,
    territory_code: Option<String>,
    ogrn: String,
}

async fn preview_rule(State(app): State<App>, Json(rule): Json<RuleRequest>) -> Result<Json<Value>, ApiError> {
    let moves = directory::preview_rule(&app.db, &rule.section, rule.territory_code.as_deref(), &rule.ogrn).await?;
    Ok(Json(json!({"reassigned": moves.len(), "measures": moves})))
}

async fn set_rule(State(app): State<App>, Json(rule): Json<RuleRequest>) -> Result<Json<Value>, ApiError> {
    let moves = directory::set_rule(
        &app.db,
        &rule.section,
        rule.territory_code.as_deref(),
        &rule.ogrn,
        API_ACTOR,
    )
    .await
    .map_err(conflict)?;
    app.refresh_lookups().await?;
    Ok(Json(json!({"reassigned": moves.len(), "measures": moves})))
}

#[derive(Deserialize)]
struct AssignRequest {
    ogrn: String,
    note: Option<String>,
}

async fn assign_measure(
    State(app): State<App>,
    Path(id): Path<i64>,
    Json(req): Json<AssignRequest>,
) -> Result<Json<Value>, ApiError> {
    directory::assign_by_hand(&app.db, id, &req.ogrn, API_ACTOR, req.note.as_deref())
        .await
        .map_err(conflict)?;
    Ok(Json(json!({"ok": true})))
}

async fn measure_history(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<directory::AssignmentEvent>>, ApiError> {
    Ok(Json(directory::assignment_history(&app.db, id).await?))
}

async fn list_executions(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<Vec<execution::ExecutionRecord>>, ApiError> {
    Ok(Json(execution::records_of_ipra(&app, id).await?))
}

async fn create_execution(State(app): State<App>, Json(form): Json<ExecutionForm>) -> Result<Json<Value>, ApiError> {
    let (id, warnings) = execution::save_draft(&app, None, &form, API_ACTOR)
        .await
        .map_err(conflict)?;
    Ok(Json(json!({"ok": true, "result": id, "warnings": warnings})))
}

async fn update_execution(
    State(app): State<App>,
    Path(id): Path<i64>,
    Json(form): Json<ExecutionForm>,
) -> Result<Json<Value>, ApiError> {
    let (id, warnings) = execution::save_draft(&app, Some(id), &form, API_ACTOR)
        .await
        .map_err(conflict)?;
    Ok(Json(json!({"ok": true, "result": id, "warnings": warnings})))
}

async fn get_execution(
    State(app): State<App>,
    Path(id): Path<i64>,
) -> Result<Json<execution::ExecutionRecord>, ApiError> {
    execution::record(&app, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Запись исполнения"))
}

async fn delete_execution(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    execution::delete_draft(&app, id, API_ACTOR).await.map_err(conflict)?;
    Ok(Json(json!({"ok": true})))
}

async fn ready_execution(State(app): State<App>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    checked(execution::mark_ready(&app, id, API_ACTOR).await)
}

async fn draft_execution(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    execution::back_to_draft(&app, id, API_ACTOR).await.map_err(conflict)?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
struct AssembleRequest {
    reporter_ogrn: String,
}

async fn assemble_report(
    State(app): State<App>,
    Path(id): Path<i64>,
    Json(req): Json<AssembleRequest>,
) -> Result<Response, ApiError> {
    checked(execution::assemble_report(&app, id, &req.reporter_ogrn, API_ACTOR).await)
}

#[derive(Deserialize)]
struct ReportQuery {
    status: Option<String>,
}

async fn list_reports(
    State(app): State<App>,
    Query(q): Query<ReportQuery>,
) -> Result<Json<Vec<execution::Report>>, ApiError> {
    Ok(Json(execution::reports(&app, q.status.as_deref()).await?))
}

async fn get_report(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<execution::Report>, ApiError> {
    execution::report(&app, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Отчёт"))
}

async fn report_document(State(app): State<App>, Path(id): Path<i64>) -> Result<Response, ApiError> {
    let (_, bytes, _) = execution::report_document(&app, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Отчёт"))?;
    let disposition = format!("attachment; filename=\"report-{id}.xml\"");
    Ok((
        [
            (header::CONTENT_TYPE, "application/xml".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

async fn withdraw_report(State(app): State<App>, Path(id): Path<i64>) -> Result<Json<Value>, ApiError> {
    execution::withdraw(&app, id, API_ACTOR).await.map_err(conflict)?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize)]
struct AnswerRequest {
    accepted: bool,
    reason: Option<String>,
}

async fn answer_report(
    State(app): State<App>,
    Path(id): Path<i64>,
    Json(req): Json<AnswerRequest>,
) -> Result<Json<Value>, ApiError> {
    execution::record_answer(&app, id, req.accepted, req.reason.as_deref(), API_ACTOR)
        .await
        .map_err(conflict)?;
    Ok(Json(json!({"ok": true})))
}

async fn list_reference(State(app): State<App>) -> Result<Json<Vec<reference::ListVersion>>, ApiError> {
    Ok(Json(reference::versions(&app.db, None).await?))
}

async fn get_reference(State(app): State<App>, Path(list): Path<String>) -> Json<Vec<reference::Entry>> {
    Json(app.reference().list(&list).to_vec())
}

#[derive(Deserialize)]
struct ReferenceUpdate {
    author: String,
    note: Option<String>,
    entries: Vec<reference::Entry>,
}

async fn set_reference(
    State(app): State<App>,
    Path(list): Path<String>,
    Json(req): Json<ReferenceUpdate>,
) -> Result<Json<Value>, ApiError> {
    let version = reference::set_list(&app.db, &list, &req.entries, &req.author, req.note.as_deref())
        .await
        .map_err(|e| bad_request(format!("{e:#}")))?;
    app.reload_reference().await?;
    Ok(Json(json!({"ok": true, "version": version})))
}

#[derive(Deserialize)]
struct TodayQuery {
    today: Option<String>,
}

async fn overdue(State(app): State<App>, Query(q): Query<TodayQuery>) -> Result<Json<deadlines::Overdue>, ApiError> {
    let today = q.today.unwrap_or_else(|| deadlines::format_date(deadlines::today()));
    Ok(Json(deadlines::check_overdue(&app.db, &today).await?))
}

async fn statistics(
    State(app): State<App>,
    Query(filter): Query<stats::StatsFilter>,
) -> Result<Json<stats::Statistics>, ApiError> {
    let today = deadlines::format_date(deadlines::today());
    let reasons: Vec<(String, String)> = app
        .reference()
        .list("non-execution-reasons")
        .iter()
        .map(|e| (e.code.clone(), e.name.clone()))
        .collect();
    Ok(Json(stats::compute(&app.db, &filter, &today, &reasons).await?))
}
