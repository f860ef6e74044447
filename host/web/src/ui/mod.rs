//! The server-rendered Russian pages. Every page is plain HTML with forms that work without a
//! script; `assets/ipra.js` only adds conveniences (confirmations, column toggles, charts' tooltips).
//!
//! This module holds what all pages share: who the user is ([`PageUser`]), the layout with the
//! navigation each role may see ([`NAV`]), HTML escaping, CSRF checks of form posts and the HTML
//! error page. Each area of the interface is a submodule with its own `routes()`.

pub mod admin;
pub mod dashboard;
pub mod dates;
pub mod egisso;
pub mod execution;
pub mod organisation;
pub mod register;
pub mod session;
pub mod stats;

use super::ApiError;
use crate::app::App;
use crate::auth::web::session_cookie;
use crate::auth::{Principal, Role};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

pub use crate::register::query::mask_snils;

/// All pages and the static assets.
pub fn routes() -> Router<App> {
    Router::new()
        .route("/assets/ipra.css", get(css))
        .route("/assets/ipra.js", get(js))
        .merge(session::routes())
        .merge(register::routes())
        .merge(execution::routes())
        .merge(dashboard::routes())
        .merge(stats::routes())
        .merge(admin::routes())
        .merge(egisso::routes())
        .merge(organisation::routes())
}

const CSS: &str = include_str!("../assets/ipra.css");
const JS: &str = include_str!("../assets/ipra.js");

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The user of a page: without a valid session the browser is sent to the login page, which
/// brings it back here after login.
pub struct PageUser(pub Principal);

impl FromRequestParts<App> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = session_cookie(&parts.headers);
        let principal = match token {
            Some(token) => crate::auth::session_principal(&app.db, &token).await.ok().flatten(),
            None => None,
        };
        principal.map(PageUser).ok_or_else(|| {
            let next = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            Redirect::to(&format!("/login?next={}", urlencode(next))).into_response()
        })
    }
}

/// One entry of the main menu: its address, its name and the roles that see it. A page checks
/// the same list with [`require_page`], so the menu never shows what the page would refuse.
pub struct NavItem {
    pub path: &'static str,
    pub label: &'static str,
    pub roles: &'static [Role],
}

const ALL: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Executor, Role::Auditor];
const OVERSIGHT: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];
/// The register of extracts: every role; a bureau sees the IPRAs its institution issued.
const REGISTER_READERS: &[Role] = &[
    Role::Administrator,
    Role::Coordinator,
    Role::Executor,
    Role::Auditor,
    Role::Bureau,
];

pub const NAV: &[NavItem] = &[
    NavItem {
        path: "/",
        label: "Реестр выписок",
        roles: REGISTER_READERS,
    },
    NavItem {
        path: "/recipients",
        label: "Получатели соцуслуг",
        roles: ALL,
    },
    NavItem {
        path: "/executions",
        label: "Исполнение",
        roles: ALL,
    },
    NavItem {
        path: "/reports",
        label: "Отчёты и подпись",
        roles: ALL,
    },
    NavItem {
        path: "/dashboard",
        label: "Контроль сроков",
        roles: OVERSIGHT,
    },
    NavItem {
        path: "/stats",
        label: "Статистика",
        roles: OVERSIGHT,
    },
    NavItem {
        path: "/import",
        label: "Загрузка выписок",
        roles: &[Role::Administrator, Role::Coordinator],
    },
    NavItem {
        path: "/admin",
        label: "Администрирование",
        roles: OVERSIGHT,
    },
    NavItem {
        path: "/organisation",
        label: "Профиль организации",
        roles: &[Role::Executor],
    },
];

/// Refuses a page to a role that does not see it (403 as an HTML page).
pub fn require_page(user: &Principal, roles: &[Role]) -> Result<(), PageError> {
    if roles.contains(&user.role) {
        Ok(())
    } else {
        Err(PageError::forbidden())
    }
}

/// Refuses a state-changing form to the read-only auditor.
pub fn require_page_write(user: &Principal) -> Result<(), PageError> {
    if user.can_write() {
        Ok(())
    } else {
        Err(PageError::forbidden())
    }
}

/// Checks the CSRF token a form posted against the session's.
pub fn check_csrf(user: &Principal, sent: &str) -> Result<(), PageError> {
    if !sent.is_empty() && user.csrf.as_deref() == Some(sent) {
        Ok(())
    } else {
        Err(PageError {
            status: StatusCode::FORBIDDEN,
            message: "Запрос отклонён: форма устарела или отправлена не с этой страницы (неверный токен CSRF). \
                      Обновите страницу и повторите."
                .into(),
            user: None,
        })
    }
}

/// The hidden CSRF field every form that changes something carries.
pub fn csrf_field(user: &Principal) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(user.csrf.as_deref().unwrap_or_default())
    )
}

/// An error shown as an HTML page (pages never answer JSON).
pub struct PageError {
    pub status: StatusCode,
    pub message: String,
    /// Who sees the page, for the menu; None shows it without one.
    pub user: Option<Box<Principal>>,
}

impl PageError {
    pub fn not_found(what: &str) -> PageError {
        PageError {
            status: StatusCode::NOT_FOUND,
            message: crate::not_found_or_hidden_text(what),
            user: None,
        }
    }

    pub fn forbidden() -> PageError {
        PageError {
            status: StatusCode::FORBIDDEN,
            message: "Недостаточно прав для этой страницы.".into(),
            user: None,
        }
    }

    pub fn bad_request(message: String) -> PageError {
        PageError {
            status: StatusCode::BAD_REQUEST,
            message,
            user: None,
        }
    }

    /// Shows the error with the user's menu.
    pub fn for_user(mut self, user: &Principal) -> PageError {
        self.user = Some(Box::new(user.clone()));
        self
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        PageError {
            status: e.status,
            message: e.message,
            user: None,
        }
    }
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> PageError {
        ApiError::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = match self.status {
            StatusCode::NOT_FOUND => "Не найдено",
            StatusCode::FORBIDDEN => "Доступ запрещён",
            StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "Ошибка в запросе",
            _ => "Ошибка",
        };
        let body = format!(
            r#"<h1>{title}</h1><p class="error" role="alert">{}</p><p><a href="/">К реестру выписок</a></p>"#,
            esc(&self.message)
        );
        (self.status, page(self.user.as_deref(), title, &body)).into_response()
    }
}

/// Escapes text for HTML element content and attribute values.
/// The links of a list paged newest first by a keyset position: back to the first page, and on
/// past `next`. `params` is the page's own query, each pair ending in `&` (or empty).
pub fn keyset_pages(path: &str, params: &str, next: impl std::fmt::Display) -> String {
    format!(
        r#"<nav class="pages" aria-label="Страницы"><a href="{path}?{params}" rel="first">« первая</a> <a href="{path}?{params}before={next}" rel="next">дальше →</a></nav>"#
    )
}

/// A count with its thousands apart, as Russian text writes them: `1 100 000` (no-break spaces).
pub fn group_digits(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() * 2);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{a0}');
        }
        out.push(c);
    }
    out
}

pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// An optional value escaped, or a dash.
pub fn opt(text: &Option<String>) -> String {
    text.as_deref().map(esc).unwrap_or_else(|| "—".into())
}

pub use crate::paging::urlencode;

/// A whole page: header with the user's menu, then `body`. `user` None is the login page.
pub fn page(user: Option<&Principal>, title: &str, body: &str) -> Html<String> {
    let (nav, account) = match user {
        Some(u) => {
            let mut nav = String::from(r#"<nav class="main" aria-label="Разделы"><ul>"#);
            for item in NAV.iter().filter(|i| i.roles.contains(&u.role)) {
                nav.push_str(&format!(r#"<li><a href="{}">{}</a></li>"#, item.path, item.label));
            }
            nav.push_str("</ul></nav>");
            let org = u
                .ogrn
                .as_deref()
                .map(|o| format!(" · ОГРН {}", esc(o)))
                .unwrap_or_default();
            // A user of several organisations sees which it acts for and can switch.
            let org = if u.organisations.len() > 1 {
                format!(r#"{org} <a class="switch-org" href="/organisation/choose">Сменить организацию</a>"#)
            } else {
                org
            };
            let account = format!(
                r#"<form class="account" method="post" action="/logout"><span>{} · {}{org}</span>{}<button type="submit">Выйти</button></form>"#,
                esc(&u.full_name),
                u.role.label(),
                csrf_field(u),
            );
            (nav, account)
        }
        None => (String::new(), String::new()),
    };
    let csrf = user.and_then(|u| u.csrf.as_deref()).map(esc).unwrap_or_default();
    Html(format!(
        r##"<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="csrf-token" content="{csrf}">
<title>{} — ИПРА</title><link rel="stylesheet" href="/assets/ipra.css"><script src="/assets/ipra.js" defer></script></head>
<body><a class="skip" href="#content">Перейти к содержанию</a>
<header><a class="brand" href="/">Исполнение ИПРА</a>{nav}{account}</header>
<main id="content">{body}</main></body></html>"##,
        esc(title)
    ))
}
