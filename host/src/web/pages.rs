//! Server-rendered pages in Russian: the register of extracts with filters and paging, and the
//! extract card. Plain HTML forms; no script is needed to use them.

use super::ApiError;
use crate::app::App;
use crate::auth::web::{session_cookie, session_set_cookie};
use crate::auth::{LoginError, Principal};
use crate::register::query::{self, IpraFilter};
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Redirect, Response};

/// The user of a page: without a valid session the browser is sent to the login page.
pub struct PageUser(pub Principal);

impl FromRequestParts<App> for PageUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = session_cookie(&parts.headers);
        let principal = match token {
            Some(token) => crate::auth::session_principal(&app.db, &token).await.ok().flatten(),
            None => None,
        };
        principal
            .map(PageUser)
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// Escapes text for HTML element content and attribute values.
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

fn opt(text: &Option<String>) -> String {
    text.as_deref().map(esc).unwrap_or_else(|| "—".into())
}

fn layout(title: &str, body: &str) -> Html<String> {
    layout_for(None, title, body)
}

fn layout_for(user: Option<&Principal>, title: &str, body: &str) -> Html<String> {
    let account = user
        .map(|u| {
            format!(
                r#"<form class="account" method="post" action="/logout"><span>{} · {}</span><input type="hidden" name="csrf" value="{}"><button type="submit">Выйти</button></form>"#,
                esc(&u.full_name),
                u.role.label(),
                esc(u.csrf.as_deref().unwrap_or_default())
            )
        })
        .unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — ИПРА</title>
<style>
body{{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}}
header{{background:#0b3d6e;color:#fff;padding:.6rem 1rem}} header a{{color:#fff;text-decoration:none;font-weight:600}}
main{{padding:1rem;max-width:1300px;margin:auto}} table{{border-collapse:collapse;width:100%;background:#fff}}
th,td{{border:1px solid #ccd;padding:.35rem .5rem;text-align:left;vertical-align:top}} th{{background:#e8eef5}}
form.filters{{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin-bottom:1rem}}
form.filters label{{display:flex;flex-direction:column;font-size:.9rem}}
input,select,button{{font-size:1rem;padding:.3rem}} button{{background:#0b3d6e;color:#fff;border:0;border-radius:3px;padding:.4rem .9rem}}
.status-active{{color:#0a6b2d}} .status-superseded{{color:#8a5a00}} nav.pages a{{margin-right:.6rem}}
dl{{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}} dt{{font-weight:600}}
@media (max-width:700px){{table{{font-size:.85rem}} th:nth-child(n+5),td:nth-child(n+5){{display:none}}}}
header{{display:flex;justify-content:space-between;align-items:center}} form.account{{display:flex;gap:.6rem;align-items:center;margin:0}}
form.login{{max-width:22rem;display:flex;flex-direction:column;gap:.6rem}} form.login label{{display:flex;flex-direction:column}}
.error{{color:#a00000}}
</style></head>
<body><header><a href="/">Исполнение ИПРА — реестр выписок</a>{account}</header><main>{body}</main></body></html>"#
    ))
}

fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "действует",
        "superseded" => "заменена",
        "closed" => "закрыта",
        _ => "—",
    }
}

fn input(name: &str, label: &str, value: &Option<String>, kind: &str) -> String {
    format!(
        r#"<label for="f-{name}">{label}<input id="f-{name}" name="{name}" type="{kind}" value="{}"></label>"#,
        value.as_deref().map(esc).unwrap_or_default()
    )
}

/// The register of extracts (seed 002, «Реестр выписок из ИПРА»).
pub async fn register(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(filter): Query<IpraFilter>,
) -> Result<Html<String>, ApiError> {
    let page = query::list_ipras(&app.db, &filter, user.scope()).await?;
    let mut body = String::from("<h1>Реестр выписок из ИПРА</h1>");
    body.push_str(r#"<form class="filters" method="get" action="/">"#);
    body.push_str(&input("number", "Номер ИПРА", &filter.number, "text"));
    body.push_str(&input(
        "protocol_number",
        "Номер протокола",
        &filter.protocol_number,
        "text",
    ));
    body.push_str(&input("decision_from", "Дата решения с", &filter.decision_from, "date"));
    body.push_str(&input("decision_to", "по", &filter.decision_to, "date"));
    body.push_str(&input("snils", "СНИЛС", &filter.snils, "text"));
    body.push_str(&input("surname", "Фамилия", &filter.surname, "text"));
    body.push_str(r#"<button type="submit">Найти</button> <a href="/">Сбросить</a></form>"#);
    body.push_str(&format!("<p>Найдено: {}</p>", page.total));
    body.push_str(
        "<table><thead><tr><th>Номер ИПРА</th><th>Дата решения</th><th>Номер протокола</th><th>Дата протокола</th>\
         <th>Учреждение, сформировавшее ИПРА</th><th>СНИЛС</th><th>ФИО</th><th>Версия</th><th>Статус</th><th>Мероприятий</th></tr></thead><tbody>",
    );
    for item in &page.items {
        body.push_str(&format!(
            r#"<tr><td><a href="/ipras/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td class="status-{}">{}</td><td>{}</td></tr>"#,
            item.id,
            esc(&item.number),
            opt(&item.decision_date),
            esc(&item.protocol_number),
            esc(&item.protocol_date),
            opt(&item.issued_by),
            esc(&item.snils),
            esc(&item.full_name),
            if item.is_child { " (ребёнок)" } else { "" },
            esc(&item.document_version),
            esc(&item.status),
            status_label(&item.status),
            item.measures
        ));
    }
    body.push_str("</tbody></table>");
    let pages = (page.total as u64).div_ceil(u64::from(page.per_page)).max(1);
    if pages > 1 {
        let mut params = serde_urlencoded_filter(&filter);
        params.retain(|(k, _)| k != "page");
        let base: String = params.iter().map(|(k, v)| format!("{k}={}&", urlencode(v))).collect();
        body.push_str("<nav class=\"pages\">");
        if page.page > 1 {
            body.push_str(&format!(r#"<a href="/?{base}page={}">← назад</a>"#, page.page - 1));
        }
        body.push_str(&format!("страница {} из {pages}", page.page));
        if u64::from(page.page) < pages {
            body.push_str(&format!(r#" <a href="/?{base}page={}">вперёд →</a>"#, page.page + 1));
        }
        body.push_str("</nav>");
    }
    Ok(layout_for(Some(&user), "Реестр выписок", &body))
}

fn serde_urlencoded_filter(f: &IpraFilter) -> Vec<(String, String)> {
    [
        ("number", &f.number),
        ("protocol_number", &f.protocol_number),
        ("snils", &f.snils),
        ("surname", &f.surname),
        ("status", &f.status),
        ("decision_from", &f.decision_from),
        ("decision_to", &f.decision_to),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().filter(|v| !v.is_empty()).map(|v| (k.to_string(), v.clone())))
    .collect()
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The extract card (seed 002, «Карточка выписки из ИПРА»); every view is logged.
pub async fn card(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, ApiError> {
    let card = query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| ApiError::not_found("ИПРА"))?;
    crate::audit::record(&app.db, &user.actor(), "ipra.read", &format!("ipra:{id}"), None).await?;
    let p = &card.person;
    let mut body = format!("<h1>ИПРА № {}</h1>", esc(&card.number));
    body.push_str(&format!(
        "<h2>Сведения о выписке</h2><dl><dt>Номер протокола</dt><dd>{}</dd><dt>Дата протокола</dt><dd>{}</dd>\
         <dt>Дата вынесения решения</dt><dd>{}</dd><dt>Срок действия</dt><dd>{}</dd><dt>Учреждение МСЭ</dt><dd>{}</dd>\
         <dt>Версия документа</dt><dd>{}</dd><dt>Статус</dt><dd>{}</dd><dt>Получена</dt><dd>{}</dd>\
         <dt>Исходный документ</dt><dd><a href=\"/api/v1/ipras/{id}/source\">скачать XML</a> ({} байт, SHA-256 {})</dd></dl>",
        esc(&card.protocol_number),
        esc(&card.protocol_date),
        opt(&card.decision_date),
        opt(&card.valid_until),
        opt(&card.issued_by),
        esc(&card.document_version),
        status_label(&card.status),
        esc(&card.received_at),
        card.source_document.size_bytes,
        esc(&card.source_document.sha256),
    ));
    body.push_str(&format!(
        "<h2>Сведения об инвалиде{}</h2><dl><dt>СНИЛС</dt><dd>{}</dd><dt>ФИО</dt><dd>{} {} {}</dd><dt>Дата рождения</dt><dd>{}</dd><dt>Адрес</dt><dd>{}</dd></dl>",
        if card.is_child { " (ребёнке-инвалиде)" } else { "" },
        esc(&p.snils),
        esc(&p.surname),
        esc(&p.given_name),
        opt(&p.patronymic),
        opt(&p.birth_date),
        opt(&p.address),
    ));
    body.push_str("<h2>Мероприятия</h2><table><thead><tr><th>Раздел</th><th>Категория</th><th>Мероприятие</th><th>Срок</th><th>Исполнитель (ОГРН)</th><th>Назначено</th></tr></thead><tbody>");
    for m in &card.measures {
        let section = app
            .reference()
            .list("sections")
            .iter()
            .find(|s| s.code == m.section)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| "не определён".into());
        body.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} — {}</td><td>{} {}</td><td>{}</td></tr>",
            esc(&section),
            esc(&m.category_name),
            esc(&m.name),
            opt(&m.date_from),
            opt(&m.date_to),
            opt(&m.executor_name),
            opt(&m.executor_ogrn),
            m.assigned_ogrn
                .as_deref()
                .map(esc)
                .or_else(|| m.assignment_note.as_deref().map(esc))
                .unwrap_or_else(|| "очередь координатора".into()),
        ));
    }
    body.push_str("</tbody></table>");
    if card.history.len() > 1 {
        body.push_str("<h2>История ИПРА гражданина</h2><ul>");
        for h in &card.history {
            body.push_str(&format!(
                r#"<li><a href="/ipras/{}">№ {}</a>, протокол {} от {} — {}</li>"#,
                h.id,
                esc(&h.number),
                esc(&h.protocol_number),
                esc(&h.protocol_date),
                status_label(&h.status)
            ));
        }
        body.push_str("</ul>");
    }
    if !card.prior_reports.is_empty() {
        body.push_str("<h2>Ранее направленные отчёты об исполнении</h2><ul>");
        for r in &card.prior_reports {
            body.push_str(&format!(
                "<li>{} № {} от {} ({})</li>",
                esc(&r.document_version),
                opt(&r.number),
                opt(&r.report_date),
                opt(&r.source)
            ));
        }
        body.push_str("</ul>");
    }
    Ok(layout_for(Some(&user), &format!("ИПРА № {}", card.number), &body))
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
}

fn login_page(error: Option<&str>, login: &str) -> Html<String> {
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert">{}</p>"#, esc(e)))
        .unwrap_or_default();
    layout(
        "Вход",
        &format!(
            r#"<h1>Вход в систему</h1>{error}<form class="login" method="post" action="/login">
<label for="login">Логин<input id="login" name="login" autocomplete="username" required value="{}"></label>
<label for="password">Пароль<input id="password" name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Войти</button></form>"#,
            esc(login)
        ),
    )
}

pub async fn login_form() -> Html<String> {
    login_page(None, "")
}

pub async fn login_submit(State(app): State<App>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    let ip = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match crate::auth::login(&app.db, &form.login, &form.password, ip.as_deref()).await {
        Ok((session, _)) => {
            let cookie = session_set_cookie(&session.token, crate::auth::SESSION_HOURS * 3600);
            ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
        }
        Err(LoginError::Internal(e)) => ApiError::from(e).into_response(),
        Err(e) => (
            axum::http::StatusCode::UNAUTHORIZED,
            login_page(Some(&e.to_string()), &form.login),
        )
            .into_response(),
    }
}

#[derive(serde::Deserialize)]
pub struct LogoutForm {
    csrf: String,
}

pub async fn logout(
    State(app): State<App>,
    PageUser(user): PageUser,
    headers: HeaderMap,
    Form(form): Form<LogoutForm>,
) -> Response {
    if user.csrf.as_deref() != Some(form.csrf.as_str()) {
        return (
            axum::http::StatusCode::FORBIDDEN,
            "запрос отклонён: неверный токен CSRF",
        )
            .into_response();
    }
    if let Some(token) = session_cookie(&headers) {
        if let Err(e) = crate::auth::logout(&app.db, &token).await {
            return ApiError::from(e).into_response();
        }
    }
    (
        [(header::SET_COOKIE, session_set_cookie("", 0))],
        Redirect::to("/login"),
    )
        .into_response()
}
