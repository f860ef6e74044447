//! Login and logout pages. After login the browser goes back to the page that sent it here.

use super::{check_csrf, esc, page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::oidc::{self, OidcConfig};
use crate::auth::web::{session_cookie, session_set_cookie};
use crate::auth::LoginError;
use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/login", get(login_form).post(login_submit))
        .route("/logout", post(logout))
        .route("/login/oidc", get(oidc_begin))
        .route("/login/oidc/callback", get(oidc_callback))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(serde::Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// Only a path of this site is followed after login (never another host).
pub fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_page(app: &App, headers: &HeaderMap, error: Option<&str>, login: &str, next: &str) -> Html<String> {
    let error = error
        .or_else(|| crate::auth::web::login_would_not_stick(headers))
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    // The identity provider's button, when the region has one (a broken oidc.toml is logged and
    // leaves passwords working).
    let provider = match OidcConfig::load(&app.data_dir) {
        Ok(Some(config)) => format!(
            r#"<p class="oidc"><a class="button" href="/login/oidc?next={}">{}</a></p><p class="muted">или по логину и паролю:</p>"#,
            urlencode(safe_next(next)),
            esc(&config.button)
        ),
        Ok(None) => String::new(),
        Err(e) => {
            tracing::error!("oidc.toml: {e:#}");
            String::new()
        }
    };
    page(
        None,
        "Вход",
        &format!(
            r#"<h1>Вход в систему</h1>{error}{provider}<form class="login" method="post" action="/login">
<label for="login">Логин<input id="login" name="login" autocomplete="username" required value="{}"></label>
<label for="password">Пароль<input id="password" name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{}">
<button type="submit">Войти</button></form>"#,
            esc(login),
            esc(safe_next(next)),
        ),
    )
}

pub async fn login_form(State(app): State<App>, headers: HeaderMap, Query(next): Query<Next>) -> Html<String> {
    login_page(&app, &headers, None, "", &next.next)
}

pub async fn login_submit(State(app): State<App>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or(v).trim().to_string());
    if let Some(why) = crate::auth::web::login_would_not_stick(&headers) {
        // The browser would drop the cookie: say so instead of looping back to the form.
        return (
            StatusCode::BAD_REQUEST,
            login_page(&app, &headers, Some(why), &form.login, &form.next),
        )
            .into_response();
    }
    match crate::auth::login(&app.db, &form.login, &form.password, ip.as_deref()).await {
        Ok((session, user)) => {
            let cookie = session_set_cookie(&session.token, crate::auth::SESSION_HOURS * 3600);
            // A user of several organisations chooses the one to act for first.
            let next = super::organisation::after_login(&user, safe_next(&form.next));
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(LoginError::Internal(e)) => PageError::from(e).into_response(),
        Err(e) => {
            let status = match e {
                LoginError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            (
                status,
                login_page(&app, &headers, Some(&e.to_string()), &form.login, &form.next),
            )
                .into_response()
        }
    }
}

#[derive(serde::Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub async fn logout(
    State(app): State<App>,
    PageUser(user): PageUser,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf)?;
    if let Some(token) = session_cookie(&headers) {
        crate::auth::logout(&app.db, &token).await?;
    }
    Ok((
        [(header::SET_COOKIE, session_set_cookie("", 0))],
        Redirect::to("/login"),
    )
        .into_response())
}

fn oidc_config(app: &App) -> Result<OidcConfig, PageError> {
    OidcConfig::load(&app.data_dir)?
        .ok_or_else(|| PageError::not_found("Вход через поставщика удостоверений (не настроен)"))
}

/// `GET /login/oidc`: leaves for the identity provider.
pub async fn oidc_begin(
    State(app): State<App>,
    headers: HeaderMap,
    Query(next): Query<Next>,
) -> Result<Response, PageError> {
    let config = oidc_config(&app)?;
    match oidc::begin(&app.db, &config, safe_next(&next.next)).await {
        Ok(url) => Ok(Redirect::to(&url).into_response()),
        Err(e) => {
            tracing::warn!("oidc begin: {e:#}");
            Ok((
                StatusCode::BAD_GATEWAY,
                login_page(
                    &app,
                    &headers,
                    Some(&format!("Поставщик удостоверений недоступен: {e}")),
                    "",
                    &next.next,
                ),
            )
                .into_response())
        }
    }
}

#[derive(serde::Deserialize)]
pub struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `GET /login/oidc/callback`: the provider sends the browser back with a code; a session opens
/// for the local account of that identity.
pub async fn oidc_callback(
    State(app): State<App>,
    headers: HeaderMap,
    Query(answer): Query<Callback>,
) -> Result<Response, PageError> {
    let config = oidc_config(&app)?;
    let refused = |message: String| {
        tracing::warn!("oidc login refused: {message}");
        (
            StatusCode::FORBIDDEN,
            login_page(&app, &headers, Some(&message), "", "/"),
        )
            .into_response()
    };
    if let Some(error) = answer.error {
        let detail = answer.error_description.unwrap_or_default();
        return Ok(refused(format!(
            "Поставщик удостоверений отказал во входе: {error} {detail}"
        )));
    }
    let (identity, next) = match oidc::finish(&app.db, &config, &answer.state, &answer.code).await {
        Ok(done) => done,
        Err(e) => return Ok(refused(format!("Вход не выполнен: {e}"))),
    };
    let row = match oidc::local_account(&app.db, &config, &identity).await {
        Ok(row) => row,
        Err(e) => return Ok(refused(format!("Вход не выполнен: {e}"))),
    };
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or(v).trim().to_string());
    let (session, user) = crate::auth::start_session(&app.db, &row, ip.as_deref(), "session.login.oidc").await?;
    let cookie = session_set_cookie(&session.token, crate::auth::SESSION_HOURS * 3600);
    let next = super::organisation::after_login(&user, safe_next(&next));
    // The browser arrives here from the provider's site, so a redirect would still count as
    // cross-site and the SameSite=Strict cookie would not go with it; a page of ours that moves
    // on by itself makes the next request same-site.
    let next = esc(&next);
    let body = format!(
        r#"<!doctype html><html lang="ru"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url={next}">
<title>Вход выполнен — ИПРА</title></head><body><p>Вход выполнен. <a href="{next}">Продолжить</a></p></body></html>"#
    );
    Ok(([(header::SET_COOKIE, cookie)], Html(body)).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn follows_only_local_paths() {
        assert_eq!(super::safe_next("/ipras/3?x=1"), "/ipras/3?x=1");
        assert_eq!(super::safe_next("//evil.example/"), "/");
        assert_eq!(super::safe_next("https://evil.example/"), "/");
        assert_eq!(super::safe_next("/\\evil"), "/");
        assert_eq!(super::safe_next(""), "/");
    }
}
