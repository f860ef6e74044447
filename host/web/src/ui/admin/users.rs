//! «Пользователи и роли»: accounts with their role and organisation, last login, activation (a
//! deactivated user's sessions end at once), password reset with a strength check, API tokens
//! issued (shown once) and revoked.

use super::{
    alert, allow, allow_write, button_form, done_notice, dt, dt_opt, field, field_opt, input, select, Fields, ADMIN,
    ADMIN_AUDIT,
};
use crate::app::App;
use crate::auth::{self, Principal, Role, UserDetails};
use crate::register::directory;
use crate::ui::{csrf_field, esc, opt, page, urlencode, PageError, PageUser};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/users", get(list).post(add))
        .route("/admin/users/{login}", get(show).post(edit))
        .route("/admin/users/{login}/password", post(password))
        .route("/admin/users/{login}/active", post(active))
        .route("/admin/users/{login}/tokens", post(issue))
        .route("/admin/users/{login}/tokens/{id}/revoke", post(revoke))
}

const ROLES: &[Role] = &[
    Role::Administrator,
    Role::Coordinator,
    Role::Executor,
    Role::Auditor,
    Role::Bureau,
];

fn role_label(role: &str) -> &'static str {
    Role::parse(role).map(|r| r.label()).unwrap_or("—")
}

/// The roles to choose from; a bureau's (with its institution) only where the form asks for the institution
/// or the user is one already.
fn role_options(with_bureau: bool) -> Vec<(String, String)> {
    ROLES
        .iter()
        .filter(|r| with_bureau || **r != Role::Bureau)
        .map(|r| (r.as_str().to_string(), r.label().to_string()))
        .collect()
}

async fn org_options(app: &App) -> Result<Vec<(String, String)>, PageError> {
    let mut out = vec![(String::new(), "— нет (не исполнитель) —".to_string())];
    out.extend(
        directory::list_organisations(&app.db)
            .await?
            .into_iter()
            .map(|o| (o.ogrn.clone(), format!("{} ({})", o.name, o.ogrn))),
    );
    Ok(out)
}

/// A new user's fields, checked all at once so the form shows every error next to its field.
pub struct NewUser {
    pub login: String,
    pub full_name: String,
    pub role: String,
    pub ogrn: Option<String>,
    /// An MSE bureau's institution, as IPRAs name it (role `bureau`).
    pub issuer: Option<String>,
    pub password: String,
}

pub async fn check_new_user(app: &App, u: &NewUser) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    let login_ok = !u.login.is_empty()
        && u.login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if !login_ok {
        errors.push((
            "login",
            "Логин: строчные латинские буквы, цифры, «.», «_», «-»".to_string(),
        ));
    } else if auth::user_by_login(&app.db, &u.login).await?.is_some() {
        errors.push(("login", format!("Логин: «{}» уже занят", u.login)));
    }
    if u.full_name.trim().is_empty() {
        errors.push(("full_name", "ФИО: не указано".into()));
    }
    match Role::parse(&u.role) {
        Err(_) => errors.push(("role", "Роль: выберите роль из списка".into())),
        Ok(Role::Executor) => match &u.ogrn {
            None => errors.push(("ogrn", "Организация: исполнителю нужна организация".into())),
            Some(ogrn) if directory::organisation(&app.db, ogrn).await?.is_none() => {
                errors.push(("ogrn", format!("Организация: ОГРН {ogrn} не найден в справочнике")))
            }
            _ => {}
        },
        Ok(Role::Bureau) if u.issuer.as_deref().is_none_or(|i| i.trim().is_empty()) => errors.push((
            "issuer",
            "Учреждение МСЭ: бюро МСЭ нужно учреждение, сформировавшее ИПРА".into(),
        )),
        Ok(_) => {}
    }
    if let Err(e) = auth::password_strength(&u.password, &u.login) {
        errors.push(("password", e));
    }
    Ok(errors)
}

#[derive(serde::Deserialize, Default)]
struct Done {
    done: Option<String>,
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<Done>,
) -> Result<Html<String>, PageError> {
    allow(&user, ADMIN_AUDIT)?;
    list_page(&app, &user, q.done.as_deref(), None).await
}

async fn list_page(
    app: &App,
    user: &Principal,
    done: Option<&str>,
    form: Option<(NewUser, Vec<(&'static str, String)>)>,
) -> Result<Html<String>, PageError> {
    let users = auth::user_details(&app.db).await?;
    let mut body = String::from("<h1>Пользователи и роли</h1>");
    body.push_str(&done_notice(done));
    body.push_str(r#"<div class="table-wrap"><table class="adm-users"><thead><tr><th>Логин</th><th>ФИО</th><th>Роль</th><th>Организация</th><th>Активен</th><th class="hide-narrow">Последний вход</th><th class="hide-narrow">Токенов API</th></tr></thead><tbody>"#);
    for u in &users {
        body.push_str(&format!(
            r#"<tr id="user-{l}"><td><a href="/admin/users/{lu}">{l}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td></tr>"#,
            esc(&u.full_name),
            role_label(&u.role),
            opt(&u.ogrn),
            if u.active { "да" } else { "<span class=\"bad\">отключён</span>" },
            dt_opt(&u.last_login),
            u.tokens,
            l = esc(&u.login),
            lu = urlencode(&u.login),
        ));
    }
    body.push_str("</tbody></table></div>");
    if user.can_write() && ADMIN.contains(&user.role) {
        let (u, errors) = form.unwrap_or((
            NewUser {
                login: String::new(),
                full_name: String::new(),
                role: "executor".into(),
                ogrn: None,
                issuer: None,
                password: String::new(),
            },
            Vec::new(),
        ));
        let err = |name: &str| errors.iter().find(|(k, _)| *k == name).map(|(_, e)| e.as_str());
        body.push_str(r#"<h2 id="add">Новый пользователь</h2>"#);
        body.push_str(&format!(
            r#"<form method="post" action="/admin/users" class="stack adm-user-form" novalidate>{}"#,
            csrf_field(user)
        ));
        if !errors.is_empty() {
            body.push_str(&alert("Пользователь не добавлен: исправьте отмеченные поля."));
        }
        body.push_str(&input(
            "login",
            "Логин",
            &u.login,
            err("login"),
            r#"required autocomplete="off""#,
        ));
        body.push_str(&input("full_name", "ФИО", &u.full_name, err("full_name"), "required"));
        body.push_str(&select("role", "Роль", &role_options(true), &u.role, err("role")));
        body.push_str(&select(
            "ogrn",
            "Организация (для исполнителя)",
            &org_options(app).await?,
            u.ogrn.as_deref().unwrap_or_default(),
            err("ogrn"),
        ));
        body.push_str(&input(
            "issuer",
            "Учреждение МСЭ, сформировавшее ИПРА (для бюро МСЭ)",
            u.issuer.as_deref().unwrap_or_default(),
            err("issuer"),
            r#"list="issuers" autocomplete="off""#,
        ));
        body.push_str(r#"<datalist id="issuers">"#);
        for issuer in crate::register::query::issuing_institutions(&app.db).await? {
            body.push_str(&format!(r#"<option value="{}">"#, esc(&issuer)));
        }
        body.push_str("</datalist>");
        body.push_str(&input(
            "password",
            "Начальный пароль (не короче 10 символов, три вида символов, или фраза от 16)",
            "",
            err("password"),
            r#"type="password" required autocomplete="new-password""#,
        ));
        body.push_str(r#"<div class="actions"><button type="submit">Добавить пользователя</button></div></form>"#);
    }
    Ok(page(Some(user), "Пользователи и роли", &body))
}

async fn add(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    let u = NewUser {
        login: field(&fields, "login").to_string(),
        full_name: field(&fields, "full_name").to_string(),
        role: field(&fields, "role").to_string(),
        ogrn: field_opt(&fields, "ogrn"),
        issuer: field_opt(&fields, "issuer"),
        password: fields
            .iter()
            .find(|(k, _)| k == "password")
            .map(|(_, v)| v.clone())
            .unwrap_or_default(),
    };
    let errors = check_new_user(&app, &u).await?;
    if errors.is_empty() {
        let role = Role::parse(&u.role)?;
        if role == Role::Bureau {
            // Read-only, scoped to the IPRAs its institution issued.
            auth::add_bureau_user(
                &app.db,
                &u.login,
                u.full_name.trim(),
                u.issuer.as_deref().unwrap_or_default(),
                &u.password,
                &user.actor(),
            )
            .await?;
            return Ok(Redirect::to(&format!("/admin/users/{}?done=user-added", urlencode(&u.login))).into_response());
        }
        let ogrn = if role == Role::Executor {
            u.ogrn.as_deref()
        } else {
            None
        };
        auth::add_user(
            &app.db,
            &u.login,
            u.full_name.trim(),
            role,
            ogrn,
            &u.password,
            &user.actor(),
        )
        .await?;
        return Ok(Redirect::to(&format!("/admin/users/{}?done=user-added", urlencode(&u.login))).into_response());
    }
    let html = list_page(&app, &user, None, Some((u, errors))).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

async fn find(app: &App, user: &Principal, login: &str) -> Result<UserDetails, PageError> {
    auth::user_by_login(&app.db, login)
        .await?
        .ok_or_else(|| PageError::not_found("Пользователь").for_user(user))
}

async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(login): Path<String>,
    Query(q): Query<Done>,
) -> Result<Html<String>, PageError> {
    allow(&user, ADMIN_AUDIT)?;
    user_page(&app, &user, &login, q.done.as_deref(), &[], None).await
}

async fn user_page(
    app: &App,
    user: &Principal,
    login: &str,
    done: Option<&str>,
    errors: &[(&'static str, String)],
    new_token: Option<String>,
) -> Result<Html<String>, PageError> {
    let u = find(app, user, login).await?;
    let tokens = auth::list_tokens(&app.db, login).await?;
    let others = auth::other_organisations(&app.db, login).await?;
    let err = |name: &str| errors.iter().find(|(k, _)| *k == name).map(|(_, e)| e.as_str());
    let title = format!("Пользователь {}", u.login);
    let mut body = format!(
        r#"<p><a href="/admin/users">← Все пользователи</a></p><h1>{}</h1>"#,
        esc(&title)
    );
    body.push_str(&done_notice(done));
    if let Some(token) = new_token {
        body.push_str(&format!(
            r#"<div class="notice adm-token" role="status"><p><strong>Новый токен API</strong> — скопируйте его сейчас: он показывается один раз и нигде не хранится.</p><p><code id="new-token">{}</code></p></div>"#,
            esc(&token)
        ));
    }
    body.push_str(&format!(
        "<dl><dt>ФИО</dt><dd>{}</dd><dt>Роль</dt><dd>{}</dd><dt>Организация</dt><dd>{}</dd><dt>Активен</dt><dd>{}</dd><dt>Создан</dt><dd>{}</dd><dt>Последний вход</dt><dd>{}</dd></dl>",
        esc(&u.full_name),
        role_label(&u.role),
        opt(&u.ogrn),
        if u.active { "да" } else { "нет — вход и токены не действуют" },
        dt(&u.created_at),
        dt_opt(&u.last_login)
    ));
    let can = user.can_write() && ADMIN.contains(&user.role);
    let lu = urlencode(&u.login);
    if can {
        body.push_str(&format!(r#"<h2>Роль и организация</h2><form method="post" action="/admin/users/{lu}" class="stack adm-role-form">{}"#, csrf_field(user)));
        if errors.iter().any(|(k, _)| *k != "password") {
            body.push_str(&alert("Изменения не сохранены: исправьте отмеченные поля."));
        }
        body.push_str(&input("full_name", "ФИО", &u.full_name, err("full_name"), "required"));
        body.push_str(&select(
            "role",
            "Роль",
            &role_options(u.role == Role::Bureau.as_str()),
            &u.role,
            err("role"),
        ));
        body.push_str(&select(
            "ogrn",
            "Организация (для исполнителя)",
            &org_options(app).await?,
            u.ogrn.as_deref().unwrap_or_default(),
            err("ogrn"),
        ));
        body.push_str(&input(
            "other_ogrns",
            "Другие организации исполнителя (ОГРН через пробел или запятую): при входе пользователь выберет, от имени какой работать",
            &others.join(" "),
            err("other_ogrns"),
            r#"autocomplete="off""#,
        ));
        body.push_str(r#"<div class="actions"><button type="submit">Сохранить роль</button></div></form>"#);

        body.push_str(&format!(r#"<h2>Сброс пароля</h2><form method="post" action="/admin/users/{lu}/password" class="stack adm-password-form" novalidate>{}"#, csrf_field(user)));
        body.push_str(&input(
            "password",
            "Новый пароль",
            "",
            err("password"),
            r#"type="password" required autocomplete="new-password""#,
        ));
        body.push_str(r#"<p class="muted">Открытые сеансы пользователя завершатся.</p><div class="actions"><button type="submit">Задать пароль</button></div></form>"#);

        body.push_str("<h2>Доступ</h2>");
        if u.login == user.login {
            body.push_str(r#"<p class="muted">Свою учётную запись отключить нельзя.</p>"#);
        } else if u.active {
            body.push_str(&format!(
                r#"<form method="post" action="/admin/users/{lu}/active" class="adm-inline">{}<input type="hidden" name="active" value="0"><button type="submit" class="danger" id="deactivate" data-confirm="Отключить пользователя? Его сеансы завершатся.">Отключить</button></form>"#,
                csrf_field(user)
            ));
        } else {
            body.push_str(&format!(
                r#"<form method="post" action="/admin/users/{lu}/active" class="adm-inline">{}<input type="hidden" name="active" value="1"><button type="submit" id="activate">Включить</button></form>"#,
                csrf_field(user)
            ));
        }
    }
    body.push_str("<h2>Токены API</h2>");
    if tokens.is_empty() {
        body.push_str(r#"<p class="muted">Токенов нет.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table class="adm-tokens"><thead><tr><th>Назначение</th><th>Выпущен</th><th>Состояние</th>"#);
        if can {
            body.push_str("<th>Действие</th>");
        }
        body.push_str("</tr></thead><tbody>");
        for t in &tokens {
            body.push_str(&format!(
                r#"<tr id="token-{}"><td>{}</td><td>{}</td><td>{}</td>"#,
                esc(&t.id),
                esc(&t.label),
                dt(&t.created_at),
                t.revoked_at
                    .as_deref()
                    .map(|r| format!("отозван {}", dt(r)))
                    .unwrap_or_else(|| "действует".into())
            ));
            if can {
                let action = if t.revoked_at.is_none() {
                    button_form(
                        user,
                        &format!("/admin/users/{lu}/tokens/{}/revoke", esc(&t.id)),
                        "Отозвать",
                        "secondary",
                        None,
                    )
                } else {
                    "—".into()
                };
                body.push_str(&format!("<td>{action}</td>"));
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
    }
    if can && u.active {
        body.push_str(&format!(
            r#"<form method="post" action="/admin/users/{lu}/tokens" class="filters adm-token-form">{}"#,
            csrf_field(user)
        ));
        body.push_str(&input(
            "label",
            "Назначение токена",
            "",
            err("label"),
            r#"required placeholder="например, интеграция с МИС""#,
        ));
        body.push_str(r#"<button type="submit">Выпустить токен</button></form>"#);
    }
    Ok(page(Some(user), &title, &body))
}

async fn edit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(login): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    find(&app, &user, &login).await?;
    let mut errors = Vec::new();
    let role = match Role::parse(field(&fields, "role")) {
        Ok(r) => Some(r),
        Err(_) => {
            errors.push(("role", "Роль: выберите роль из списка".to_string()));
            None
        }
    };
    if login == user.login && role.is_some_and(|r| r != Role::Administrator) {
        errors.push(("role", "Роль: свою роль администратора снять нельзя".into()));
    }
    if let (Some(role), true) = (role, errors.is_empty()) {
        let ogrn = field_opt(&fields, "ogrn");
        match auth::update_user(
            &app.db,
            &login,
            field(&fields, "full_name"),
            role,
            ogrn.as_deref(),
            &user.actor(),
        )
        .await
        {
            Ok(()) => {
                let others: Vec<String> = field(&fields, "other_ogrns")
                    .split([',', ' ', ';', '\n'])
                    .map(str::trim)
                    .filter(|o| !o.is_empty() && Some(*o) != ogrn.as_deref())
                    .map(str::to_string)
                    .collect();
                match auth::set_user_organisations(&app.db, &login, &others, &user.actor()).await {
                    Ok(()) => {
                        return Ok(
                            Redirect::to(&format!("/admin/users/{}?done=user-saved", urlencode(&login)))
                                .into_response(),
                        )
                    }
                    Err(e) => errors.push(("other_ogrns", format!("{e:#}"))),
                }
            }
            Err(e) => {
                let message = format!("{e:#}");
                let name = if message.starts_with("ФИО") {
                    "full_name"
                } else {
                    "ogrn"
                };
                errors.push((name, message));
            }
        }
    }
    let html = user_page(&app, &user, &login, None, &errors, None).await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

async fn password(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(login): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    find(&app, &user, &login).await?;
    let password = fields
        .iter()
        .find(|(k, _)| k == "password")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if let Err(e) = auth::password_strength(password, &login) {
        let html = user_page(&app, &user, &login, None, &[("password", e)], None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    auth::set_password(&app.db, &login, password, &user.actor()).await?;
    Ok(Redirect::to(&format!("/admin/users/{}?done=user-password", urlencode(&login))).into_response())
}

async fn active(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(login): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    find(&app, &user, &login).await?;
    let on = field(&fields, "active") == "1";
    if !on && login == user.login {
        return Err(PageError::bad_request("Свою учётную запись отключить нельзя.".into()).for_user(&user));
    }
    auth::set_user_active(&app.db, &login, on, &user.actor()).await?;
    let done = if on { "user-activated" } else { "user-deactivated" };
    Ok(Redirect::to(&format!("/admin/users/{}?done={done}", urlencode(&login))))
}

async fn issue(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(login): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    find(&app, &user, &login).await?;
    let label = field(&fields, "label");
    if label.is_empty() {
        let html = user_page(
            &app,
            &user,
            &login,
            None,
            &[("label", "Назначение токена: не указано".into())],
            None,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    let token = auth::issue_token(&app.db, &login, label, &user.actor()).await?;
    // Shown once, in this answer; the page is not cached.
    let html = user_page(&app, &user, &login, None, &[], Some(token)).await?;
    Ok(([(axum::http::header::CACHE_CONTROL, "no-store")], html).into_response())
}

async fn revoke(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path((login, id)): Path<(String, String)>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    allow_write(&user, ADMIN, &fields)?;
    auth::revoke_token(&app.db, &login, &id, &user.actor())
        .await
        .map_err(|e| PageError::bad_request(format!("{e:#}")).for_user(&user))?;
    Ok(Redirect::to(&format!(
        "/admin/users/{}?done=token-revoked",
        urlencode(&login)
    )))
}
