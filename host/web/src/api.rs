//! REST routes of the execution work under `/api/v1`: organisations, routing, measures, execution
//! records, reports, reference lists, deadlines, statistics. Thin: each calls the register.

use super::ApiError;
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::web::{forbidden, require, require_write};
use crate::auth::{Principal, Role};
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

const MANAGERS: &[Role] = &[Role::Administrator, Role::Coordinator];
const OVERSEERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];

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

/// A refused change whose message names what is wrong with the request: 400 with the text, unless
/// it is a typed refusal (its own status) or an internal error (an id, never the database's text).
fn bad_change(e: anyhow::Error) -> ApiError {
    ApiError::refused_as(e, StatusCode::BAD_REQUEST, "bad-request")
}

/// Success is `{"ok":true,"result":…}`; a refusal with field errors is 422 `{"ok":false,"errors":[…]}`;
/// a step the lifecycle refuses (wrong status, unknown id) is 409 with the Russian message.
fn checked<T: serde::Serialize>(outcome: Checked<T>) -> Result<Response, ApiError> {
    match outcome.map_err(ApiError::refused)? {
        Ok(value) => Ok(Json(json!({"ok": true, "result": value})).into_response()),
        Err(errors) => Err(ApiError::invalid_fields(json!(errors))),
    }
}

/// `q` (words of a name or the beginning of an OGRN) and `section` narrow the directory to what a
/// person looks for, at most `limit` (20 by default, 100 at most): the suggestions of the pages'
/// organisation fields. Without them: the whole directory.
#[derive(Deserialize)]
struct OrganisationSearch {
    q: Option<String>,
    section: Option<String>,
    limit: Option<i64>,
}

async fn list_organisations(
    State(app): State<App>,
    Authenticated(_user): Authenticated,
    Query(search): Query<OrganisationSearch>,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    let section = search.section.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.q.is_none() && section.is_none() && search.limit.is_none() {
        return Ok(Json(directory::list_organisations(&app.db).await?));
    }
    let list = directory::directory(&app.db).await?;
    let found = directory::find_organisations(
        &list,
        search.q.as_deref().unwrap_or_default(),
        section,
        search.limit.unwrap_or(20).clamp(1, 100) as usize,
    );
    Ok(Json(found.into_iter().cloned().collect()))
}

async fn save_organisation(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(org): Json<Organisation>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    directory::upsert_organisation(&app.db, &org, &user.actor())
        .await
        .map_err(bad_change)?;
    app.refresh_lookups().await?;
    Ok(Json(json!({"ok": true})))
}

async fn list_rules(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<directory::RoutingRule>>, ApiError> {
    require(&user, OVERSEERS)?;
    Ok(Json(directory::active_rules(&app.db).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct RuleRequest {
    section: String,
    territory_code: Option<String>,
    ogrn: String,
}

async fn preview_rule(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(rule): Json<RuleRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    let moves = directory::preview_rule(&app.db, &rule.section, rule.territory_code.as_deref(), &rule.ogrn).await?;
    Ok(Json(json!({"reassigned": moves.len(), "measures": moves})))
}

async fn set_rule(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(rule): Json<RuleRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    let moves = directory::set_rule(
        &app.db,
        &rule.section,
        rule.territory_code.as_deref(),
        &rule.ogrn,
        &user.actor(),
    )
    .await
    .map_err(ApiError::refused)?;
    app.refresh_lookups().await?;
    Ok(Json(json!({"reassigned": moves.len(), "measures": moves})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AssignRequest {
    ogrn: String,
    /// The section of a measure that has none (an older form's type the category map does not list).
    #[serde(default)]
    section: Option<String>,
    note: Option<String>,
}

async fn assign_measure(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<AssignRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    directory::assign_by_hand(
        &app.db,
        id,
        &req.ogrn,
        req.section.as_deref(),
        &user.actor(),
        req.note.as_deref(),
    )
    .await
    .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn measure_history(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Vec<directory::AssignmentEvent>>, ApiError> {
    require(&user, OVERSEERS)?;
    Ok(Json(directory::assignment_history(&app.db, id).await?))
}

/// An executor works only on the IPRAs and measures of its own organisation.
async fn check_ipra_scope(app: &App, user: &Principal, ipra_id: i64) -> Result<(), ApiError> {
    if user.scope().is_some()
        && crate::register::query::ipra_card(&app.db, ipra_id, user.scope())
            .await?
            .is_none()
    {
        return Err(ApiError::not_found("ИПРА"));
    }
    Ok(())
}

async fn check_form_scope(app: &App, user: &Principal, form: &ExecutionForm) -> Result<(), ApiError> {
    require_write(user)?;
    let Some(ogrn) = user.scope() else { return Ok(()) };
    check_ipra_scope(app, user, form.ipra_id).await?;
    if form.organisation != ogrn {
        return Err(forbidden());
    }
    if let Some(measure) = form.measure_id {
        let card = crate::register::query::ipra_card(&app.db, form.ipra_id, Some(ogrn)).await?;
        if !card.is_some_and(|c| c.measures.iter().any(|m| m.id == measure)) {
            return Err(forbidden());
        }
    }
    Ok(())
}

async fn record_in_scope(app: &App, user: &Principal, id: i64) -> Result<execution::ExecutionRecord, ApiError> {
    let record = execution::record(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Запись исполнения"))?;
    if user.scope().is_some_and(|ogrn| record.form.organisation != ogrn) {
        return Err(ApiError::not_found("Запись исполнения"));
    }
    Ok(record)
}

async fn list_executions(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Vec<execution::ExecutionRecord>>, ApiError> {
    check_ipra_scope(&app, &user, id).await?;
    let records = execution::records_of_ipra(&app, id).await?;
    Ok(Json(
        records
            .into_iter()
            .filter(|r| user.scope().is_none_or(|o| r.form.organisation == o))
            .collect(),
    ))
}

async fn create_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(form): Json<ExecutionForm>,
) -> Result<Json<Value>, ApiError> {
    check_form_scope(&app, &user, &form).await?;
    let (id, warnings) = execution::save_draft(&app, None, &form, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "result": id, "warnings": warnings})))
}

async fn update_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(form): Json<ExecutionForm>,
) -> Result<Json<Value>, ApiError> {
    record_in_scope(&app, &user, id).await?;
    check_form_scope(&app, &user, &form).await?;
    let (id, warnings) = execution::save_draft(&app, Some(id), &form, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "result": id, "warnings": warnings})))
}

async fn get_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<execution::ExecutionRecord>, ApiError> {
    Ok(Json(record_in_scope(&app, &user, id).await?))
}

async fn delete_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require_write(&user)?;
    record_in_scope(&app, &user, id).await?;
    execution::delete_draft(&app, id, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn ready_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    require_write(&user)?;
    record_in_scope(&app, &user, id).await?;
    checked(execution::mark_ready(&app, id, &user.actor()).await)
}

async fn draft_execution(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require_write(&user)?;
    record_in_scope(&app, &user, id).await?;
    execution::back_to_draft(&app, id, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AssembleRequest {
    reporter_ogrn: String,
}

/// A coordinator assembles the report of all departments; an executor, the report of its own
/// organisation's records.
async fn assemble_report(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<AssembleRequest>,
) -> Result<Response, ApiError> {
    require_write(&user)?;
    check_ipra_scope(&app, &user, id).await?;
    if user.scope().is_some_and(|o| o != req.reporter_ogrn) {
        return Err(forbidden());
    }
    checked(execution::assemble_report(&app, id, &req.reporter_ogrn, user.scope(), &user.actor()).await)
}

#[derive(Deserialize)]
struct ReportQuery {
    status: Option<String>,
    ipra: Option<i64>,
    /// The page below this report number (the `next` of the previous page).
    before: Option<i64>,
    /// Rows per page (default 100, at most 1000).
    limit: Option<u32>,
}

async fn list_reports(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<ReportQuery>,
) -> Result<Json<crate::paging::Page<execution::Report>>, ApiError> {
    let filter = execution::ReportFilter {
        status: q.status,
        ipra: q.ipra,
        reporter: user.scope().map(str::to_string),
    };
    Ok(Json(
        execution::reports_page(&app.db, &filter, q.before, q.limit.unwrap_or(100)).await?,
    ))
}

async fn report_in_scope(app: &App, user: &Principal, id: i64) -> Result<execution::Report, ApiError> {
    let report = execution::report(app, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Отчёт"))?;
    if user.scope().is_some_and(|o| report.reporter_ogrn != o) {
        return Err(ApiError::not_found("Отчёт"));
    }
    Ok(report)
}

async fn get_report(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<execution::Report>, ApiError> {
    Ok(Json(report_in_scope(&app, &user, id).await?))
}

async fn report_document(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    report_in_scope(&app, &user, id).await?;
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

async fn withdraw_report(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require_write(&user)?;
    report_in_scope(&app, &user, id).await?;
    execution::withdraw(&app, id, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct AnswerRequest {
    accepted: bool,
    reason: Option<String>,
}

async fn answer_report(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<AnswerRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    execution::record_answer(&app, id, req.accepted, req.reason.as_deref(), &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true})))
}

async fn list_reference(
    State(app): State<App>,
    Authenticated(_user): Authenticated,
) -> Result<Json<Vec<reference::ListVersion>>, ApiError> {
    Ok(Json(reference::versions(&app.db, None).await?))
}

async fn get_reference(
    State(app): State<App>,
    Authenticated(_user): Authenticated,
    Path(list): Path<String>,
) -> Json<Vec<reference::Entry>> {
    Json(app.reference().list(&list).to_vec())
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ReferenceUpdate {
    note: Option<String>,
    entries: Vec<reference::Entry>,
}

async fn set_reference(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(list): Path<String>,
    Json(req): Json<ReferenceUpdate>,
) -> Result<Json<Value>, ApiError> {
    require(&user, MANAGERS)?;
    let version = reference::set_list(&app.db, &list, &req.entries, &user.actor(), req.note.as_deref())
        .await
        .map_err(bad_change)?;
    app.reload_reference().await?;
    Ok(Json(json!({"ok": true, "version": version})))
}

#[derive(Deserialize)]
struct TodayQuery {
    today: Option<String>,
}

async fn overdue(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<TodayQuery>,
) -> Result<Json<deadlines::Overdue>, ApiError> {
    require(&user, OVERSEERS)?;
    let today = q.today.unwrap_or_else(|| deadlines::format_date(deadlines::today()));
    Ok(Json(deadlines::check_overdue(&app.db, &app.facts, &today).await?))
}

async fn statistics(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<crate::ui::stats::StatsQuery>,
) -> Result<Json<stats::Statistics>, ApiError> {
    require(&user, OVERSEERS)?;
    let filter = q.filter().map_err(ApiError::bad_filter)?;
    let today = deadlines::format_date(deadlines::today());
    let reasons: Vec<(String, String)> = app.reference().code_names("non-execution-reasons");
    let (statistics, _) = crate::register::facts::statistics(&app.facts, &app.db, &filter, &today, &reasons).await?;
    Ok(Json(statistics))
}
