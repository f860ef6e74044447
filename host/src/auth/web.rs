//! Authentication at the HTTP edge: the `Principal` extractor (session cookie or bearer token,
//! CSRF header on state-changing API calls), role checks, and the session endpoints.

use super::{LoginError, Principal, Role};
use crate::app::App;
use crate::web::ApiError;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

pub const SESSION_COOKIE: &str = "ipra_session";

/// The session token of a request's cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == SESSION_COOKIE).then(|| value.to_string())
        })
}

/// `Set-Cookie` for a session: HttpOnly, SameSite=Strict, Secure unless the installation runs on plain
/// HTTP in a closed network (`IPRA_COOKIE_SECURE=false`).
pub fn session_set_cookie(token: &str, max_age: i64) -> String {
    let secure = std::env::var("IPRA_COOKIE_SECURE")
        .map(|v| v != "false")
        .unwrap_or(true);
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{}",
        if secure { "; Secure" } else { "" }
    )
}

fn unauthenticated() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
        "требуется вход в систему".into(),
    )
}

pub fn forbidden() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "недостаточно прав для этого действия".into(),
    )
}

/// Refuses unless the principal has one of `roles`.
pub fn require(principal: &Principal, roles: &[Role]) -> Result<(), ApiError> {
    if roles.contains(&principal.role) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Anyone but the read-only auditor.
pub fn require_write(principal: &Principal) -> Result<(), ApiError> {
    if principal.can_write() {
        Ok(())
    } else {
        Err(forbidden())
    }
}

impl FromRequestParts<App> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(bearer) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return super::token_principal(&app.db, bearer.trim())
                .await?
                .ok_or_else(unauthenticated);
        }
        let token = session_cookie(&parts.headers).ok_or_else(unauthenticated)?;
        let principal = super::session_principal(&app.db, &token)
            .await?
            .ok_or_else(unauthenticated)?;
        // A browser sends the cookie by itself; a state-changing API call must also prove it comes
        // from our pages, by the CSRF token they were given.
        let unsafe_method = !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if unsafe_method && parts.uri.path().starts_with("/api/") {
            let sent = parts.headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
            if sent.is_none() || sent != principal.csrf.as_deref() {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf",
                    "запрос отклонён: нет или неверен токен CSRF".into(),
                ));
            }
        }
        Ok(principal)
    }
}

#[derive(Deserialize)]
pub struct Credentials {
    pub login: String,
    pub password: String,
}

fn client_ip(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or(v).trim().to_string())
}

/// `POST /api/v1/session`: logs in; the cookie carries the session, the body the CSRF token.
pub async fn login(
    State(app): State<App>,
    headers: HeaderMap,
    Json(creds): Json<Credentials>,
) -> Result<Response, ApiError> {
    match super::login(&app.db, &creds.login, &creds.password, client_ip(&headers).as_deref()).await {
        Ok((session, principal)) => {
            let cookie = session_set_cookie(&session.token, super::SESSION_HOURS * 3600);
            Ok((
                [(header::SET_COOKIE, cookie)],
                Json(json!({"csrf_token": session.csrf, "user": principal})),
            )
                .into_response())
        }
        Err(LoginError::Invalid) => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-credentials",
            LoginError::Invalid.to_string(),
        )),
        Err(e @ LoginError::Throttled(_)) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "throttled", e.to_string()))
        }
        Err(LoginError::Internal(e)) => Err(e.into()),
    }
}

/// `GET /api/v1/session`: who is logged in, and the CSRF token for state-changing calls.
pub async fn current(principal: Principal) -> Json<serde_json::Value> {
    Json(json!({"user": principal, "csrf_token": principal.csrf}))
}

/// `DELETE /api/v1/session`: logs out.
pub async fn logout(State(app): State<App>, headers: HeaderMap, _principal: Principal) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers) {
        super::logout(&app.db, &token).await?;
    }
    Ok((
        [(header::SET_COOKIE, session_set_cookie("", 0))],
        Json(json!({"ok": true})),
    )
        .into_response())
}
