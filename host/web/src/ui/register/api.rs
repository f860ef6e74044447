//! REST routes of the register page, so that everything it does is also possible through the API
//! with the same authorisation: the export of the register (current filter and sort, all pages),
//! saved filters and the column settings of the caller. `/api/v1/ipras` itself (in `web/mod.rs`)
//! takes the same filter, quick search and sort.

use super::cell_text;
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::export::{Cell, Format};
use crate::register::preferences;
use crate::register::query::{self, IpraFilter};
use crate::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/api/v1/ipras/export", get(export))
        .route("/api/v1/saved-filters", get(list_filters).post(create_filter))
        .route("/api/v1/saved-filters/{id}", delete(delete_filter))
        .route("/api/v1/settings/register-columns", get(get_columns).put(put_columns))
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "bad-request", message)
}

#[derive(Deserialize)]
struct ExportParams {
    format: Option<String>,
    /// Column keys separated by commas; default: the caller's columns of the register.
    columns: Option<String>,
}

/// The register as CSV or XLSX: the filter and sort of the query, every page, the caller's
/// columns (SNILS masked, an executor's scope applied), streamed as it is read. Logged as
/// `ipra.export` with the number of rows sent.
async fn export(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(params): Query<ExportParams>,
    Query(mut filter): Query<IpraFilter>,
) -> Result<Response, ApiError> {
    let scope = super::bureau::register_scope(&user, &mut filter).map(str::to_string);
    let format = params
        .format
        .as_deref()
        .and_then(Format::parse)
        .ok_or_else(|| bad_request("«format»: укажите csv или xlsx".into()))?;
    filter.check().map_err(bad_request)?;
    let columns: Vec<String> = match params.columns.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(list) => {
            let chosen: Vec<String> = list.split(',').map(|c| c.trim().to_string()).collect();
            preferences::check_columns(&chosen).map_err(bad_request)?;
            chosen
        }
        None => preferences::columns(&app.db, user.user_id).await?,
    };
    app.facts.refresh_if_loaded(&app.db).await?;
    let header: Vec<String> = columns
        .iter()
        .map(|c| preferences::column_label(c).unwrap_or_default().to_string())
        .collect();
    let stem = format!(
        "reestr-vypisok-{}",
        crate::register::deadlines::format_date(crate::register::deadlines::today())
    );
    let actor = user.actor();
    let format_name = if format == Format::Csv { "csv" } else { "xlsx" };
    // Every page of the filter in its order, 500 rows at a time, straight to the client.
    Ok(crate::export_stream::download(
        format,
        "Реестр выписок из ИПРА",
        header,
        &stem,
        move |mut sink| async move {
            let result = async {
                let mut after: Option<String> = None;
                loop {
                    let (chunk, next) = query::ipras_after(
                        &app.db,
                        Some(app.facts.as_ref()),
                        &filter,
                        scope.as_deref(),
                        after.as_deref(),
                        500,
                    )
                    .await?;
                    let rows: Vec<Vec<Cell>> = chunk
                        .iter()
                        .map(|item| {
                            columns
                                .iter()
                                .map(|c| match c.as_str() {
                                    "measures" => Cell::from(item.measures),
                                    "overdue" => Cell::from(item.overdue),
                                    _ => Cell::from(cell_text(&app, item, c)),
                                })
                                .collect()
                        })
                        .collect();
                    sink.send(&rows).await?;
                    match next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                anyhow::Ok(())
            }
            .await;
            let detail = json!({
                "count": sink.rows,
                "format": format_name,
                "filter": preferences::filter_query(&filter),
                "columns": columns,
                "complete": result.is_ok(),
            })
            .to_string();
            let logged = crate::audit::record(&app.db, &actor, "ipra.export", "register", Some(&detail)).await;
            (sink, result.and(logged))
        },
    ))
}

async fn list_filters(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<preferences::SavedFilter>>, ApiError> {
    Ok(Json(preferences::saved_filters(&app.db, user.user_id).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct NewFilter {
    name: String,
    /// The filter and sort as a query string of `/api/v1/ipras` (e.g. `q=Иванов&sort=number&dir=asc`).
    #[serde(default)]
    query: Option<String>,
    /// Or the same as an object of parameters.
    #[serde(default)]
    filter: Option<IpraFilter>,
}

/// Saves a filter of the caller under a name (a filter of the same name is replaced).
async fn create_filter(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(req): Json<NewFilter>,
) -> Result<(StatusCode, Json<preferences::SavedFilter>), ApiError> {
    let query = match (req.query, req.filter) {
        (Some(q), _) => q,
        (None, Some(f)) => preferences::filter_query(&f),
        (None, None) => String::new(),
    };
    match preferences::save_filter(&app.db, user.user_id, &req.name, &query).await? {
        Ok(saved) => Ok((StatusCode::CREATED, Json(saved))),
        Err(message) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)),
    }
}

/// Deletes a saved filter of the caller; another user's filter is 404.
async fn delete_filter(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    if !preferences::delete_filter(&app.db, user.user_id, id).await? {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Сохранённый фильтр не найден".into(),
        ));
    }
    Ok(Json(json!({"ok": true})))
}

fn columns_json(columns: Vec<String>) -> Json<Value> {
    let available: Vec<Value> = preferences::COLUMNS
        .iter()
        .map(|(key, label)| json!({"key": key, "label": label}))
        .collect();
    Json(json!({"columns": columns, "available": available}))
}

async fn get_columns(State(app): State<App>, Authenticated(user): Authenticated) -> Result<Json<Value>, ApiError> {
    Ok(columns_json(preferences::columns(&app.db, user.user_id).await?))
}

#[derive(Deserialize, schemars::JsonSchema)]
pub struct ColumnsRequest {
    columns: Vec<String>,
}

/// Saves the caller's columns of the register, in order.
async fn put_columns(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Json(req): Json<ColumnsRequest>,
) -> Result<Json<Value>, ApiError> {
    if let Err(message) = preferences::set_columns(&app.db, user.user_id, &req.columns).await? {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message));
    }
    Ok(columns_json(req.columns))
}
