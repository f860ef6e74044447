//! Login and logout pages. After login the browser goes back to the page that sent it here.

use super::{check_csrf, esc, page, PageError, PageUser};
use crate::app::App;
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
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

fn login_page(error: Option<&str>, login: &str, next: &str) -> Html<String> {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    page(
        None,
        "Вход",
        &format!(
            r#"<h1>Вход в систему</h1>{error}<form class="login" method="post" action="/login">
<label for="login">Логин<input id="login" name="login" autocomplete="username" required value="{}"></label>
<label for="password">Пароль<input id="password" name="password" type="password" autocomplete="current-password" required></label>
<input type="hidden" name="next" value="{}">
<button type="submit">Войти</button></form>"#,
            esc(login),
            esc(safe_next(next)),
        ),
    )
}

pub async fn login_form(Query(next): Query<Next>) -> Html<String> {
    login_page(None, "", &next.next)
}

pub async fn login_submit(State(app): State<App>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(',').next().unwrap_or(v).trim().to_string());
    match crate::auth::login(&app.db, &form.login, &form.password, ip.as_deref()).await {
        Ok((session, _)) => {
            let cookie = session_set_cookie(&session.token, crate::auth::SESSION_HOURS * 3600);
            ([(header::SET_COOKIE, cookie)], Redirect::to(safe_next(&form.next))).into_response()
        }
        Err(LoginError::Internal(e)) => PageError::from(e).into_response(),
        Err(e) => {
            let status = match e {
                LoginError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                _ => StatusCode::UNAUTHORIZED,
            };
            (status, login_page(Some(&e.to_string()), &form.login, &form.next)).into_response()
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
