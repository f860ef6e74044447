//! Authentication at the HTTP edge: the `Principal` extractor (session cookie or bearer token,
//! CSRF header on state-changing API calls), role checks, and the session endpoints.

use super::{LoginError, Principal, Role};
use crate::app::App;
use crate::ApiError;
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

/// Whether the session cookie is `Secure` (sent back by browsers over HTTPS only, and over plain
/// HTTP to this machine itself): yes unless the installation runs on plain HTTP in a closed network
/// (`server.cookie_secure = false`, `IPRA_COOKIE_SECURE=false`). Behind a reverse proxy that
/// terminates TLS it stays `true` and the proxy says so with `X-Forwarded-Proto: https`.
pub fn cookie_secure() -> bool {
    ipra_store::config::current().cookie_secure()
}

/// Why a browser would not keep a login made through this request, when it would not: the cookie
/// is `Secure`, the page came over plain HTTP (no proxy said `https`) and not from this machine
/// itself — so the right password would silently bring the login form back.
pub fn login_would_not_stick(headers: &HeaderMap) -> Option<&'static str> {
    if !cookie_secure() {
        return None;
    }
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    if text("x-forwarded-proto").split(',').next().map(str::trim) == Some("https")
        || text("forwarded").contains("proto=https")
    {
        return None;
    }
    let host = text("host");
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default().to_string(),
        None => host.split(':').next().unwrap_or_default().to_string(),
    };
    let loopback = name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(
        "Страница открыта по незащищённому HTTP, а cookie сеанса браузер возвращает только по HTTPS: вход не сохранится. \
         Откройте сервер по HTTPS — TLS на обратном прокси, который передаёт заголовок X-Forwarded-Proto: https, — \
         или, только в закрытой сети, запустите сервер с IPRA_COOKIE_SECURE=false.",
    )
}
pub fn session_set_cookie(token: &str, max_age: i64) -> String {
    let secure = cookie_secure();
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

/// The user a request comes from (a bearer token, or a session cookie with its CSRF token on a
/// state-changing API call); a handler takes `Authenticated(user): Authenticated`.
pub struct Authenticated(pub Principal);

impl FromRequestParts<App> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        if let Some(bearer) = bearer(&parts.headers) {
            return super::token_principal(&app.db, bearer)
                .await?
                .map(Authenticated)
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
        Ok(Authenticated(principal))
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
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
pub async fn current(Authenticated(principal): Authenticated) -> Json<serde_json::Value> {
    Json(json!({"user": principal, "csrf_token": principal.csrf}))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// `DELETE /api/v1/session`: logs out — ends the session of the cookie, or revokes the API token
/// the request came with (a program's own logout; an administrator revokes others' tokens).
pub async fn logout(
    State(app): State<App>,
    headers: HeaderMap,
    Authenticated(principal): Authenticated,
) -> Result<Response, ApiError> {
    if let Some(token) = bearer(&headers) {
        super::revoke_presented_token(&app.db, token, &principal.actor()).await?;
        return Ok(Json(json!({"ok": true, "revoked": "token"})).into_response());
    }
    if let Some(token) = session_cookie(&headers) {
        super::logout(&app.db, &token).await?;
    }
    Ok((
        [(header::SET_COOKIE, session_set_cookie("", 0))],
        Json(json!({"ok": true})),
    )
        .into_response())
}
