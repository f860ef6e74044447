//! The executor's own pages (the executor's cabinet of ИС «Исполнение ИПРА»): the
//! organisation's profile, the choice of the organisation a user of several acts for (at login and
//! whenever they switch), and the upload of extract files by a coordinator or administrator through
//! the same pipeline as `ipra import`, with the result of each file.

use super::{check_csrf, csrf_field, esc, opt, page, require_page, PageError, PageUser};
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::register::directory;
use axum::extract::{DefaultBodyLimit, Multipart, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The largest upload of extract files at once; larger batches go through the exchange inbox or
/// `ipra import`.
pub const UPLOAD_LIMIT_BYTES: usize = 512 * 1024 * 1024;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/organisation", get(profile_page).post(profile_save))
        .route("/organisation/choose", get(choose_page).post(choose_submit))
        .route(
            "/import",
            get(upload_page)
                .post(upload_submit)
                .layer(DefaultBodyLimit::max(UPLOAD_LIMIT_BYTES + 1024 * 1024)),
        )
}

const UPLOADERS: &[Role] = &[Role::Administrator, Role::Coordinator];

/// Where a user of several organisations goes after login: the choice, then `next`.
pub fn after_login(user: &Principal, next: &str) -> String {
    if user.role == Role::Executor && user.organisations.len() > 1 {
        format!("/organisation/choose?next={}", super::urlencode(next))
    } else {
        next.to_string()
    }
}

// ---- Profile ----

#[derive(Deserialize, Default)]
struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

async fn profile_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<SavedQuery>,
) -> Result<Html<String>, PageError> {
    render_profile(&app, &user, None, &[], q.saved.is_some()).await
}

#[derive(Deserialize)]
struct SavedQuery {
    saved: Option<String>,
}

async fn render_profile(
    app: &App,
    user: &Principal,
    typed: Option<&ProfileForm>,
    problems: &[(&str, String)],
    saved: bool,
) -> Result<Html<String>, PageError> {
    require_page(user, &[Role::Executor]).map_err(|e| e.for_user(user))?;
    let fail = |e: anyhow::Error| PageError::from(e).for_user(user);
    let Some(ogrn) = user.scope() else {
        return Err(PageError::forbidden().for_user(user));
    };
    let Some(p) = directory::profile(&app.db, ogrn).await.map_err(fail)? else {
        return Err(PageError::not_found("Организация").for_user(user));
    };
    let o = &p.organisation;
    let section = app
        .reference()
        .code_names("sections")
        .into_iter()
        .find(|(c, _)| *c == o.department)
        .map(|(_, n)| n)
        .unwrap_or_else(|| o.department.clone());
    let title = "Профиль организации";
    let mut body = format!("<h1>{title}</h1>");
    if saved {
        body.push_str(r#"<p class="notice" role="status">Контактные данные организации сохранены.</p>"#);
    }
    if !problems.is_empty() {
        body.push_str(r#"<p class="alert" role="alert">Данные не сохранены: исправьте отмеченные поля.</p>"#);
    }
    body.push_str(&format!(
        r#"<dl class="org-profile" id="org-profile"><dt>Наименование</dt><dd>{}</dd><dt>ИНН / ОГРН</dt><dd>{} / {}</dd>
<dt>Тип исполнителя</dt><dd>{}</dd><dt>Идентификатор ГИС ЕЦП</dt><dd>{}</dd><dt>Раздел исполнения</dt><dd>{}</dd><dt>Территория</dt><dd>{}</dd></dl>
<p class="muted">Наименование, ОГРН, тип и раздел ведёт региональный оператор в справочнике организаций-исполнителей. Организация сама ведёт контактные данные:</p>"#,
        esc(&o.name),
        opt(&o.inn),
        esc(&o.ogrn),
        opt(&o.executor_type),
        opt(&p.gis_ecp_id),
        esc(&section),
        opt(&o.territory_code),
    ));
    let value = |typed_value: Option<&String>, stored: &Option<String>| {
        esc(typed_value
            .map(String::as_str)
            .unwrap_or(stored.as_deref().unwrap_or_default()))
    };
    let field = |id: &str, label: &str, kind: &str, value: String| {
        let problem = problems.iter().find(|(f, _)| *f == id);
        let (aria, message) = match problem {
            Some((_, m)) => (
                format!(r#" aria-invalid="true" aria-describedby="{id}-error""#),
                format!(
                    r#"<span class="field-error" id="{id}-error" role="alert">{}</span>"#,
                    esc(m)
                ),
            ),
            None => (String::new(), String::new()),
        };
        format!(
            r#"<label for="{id}">{label}<input id="{id}" name="{id}" type="{kind}" value="{value}" maxlength="200"{aria}></label>{message}"#
        )
    };
    body.push_str(&format!(
        r#"<form class="filters org-contacts" method="post" action="/organisation" novalidate>{}{}{}{}<div class="actions"><button type="submit">Сохранить</button></div></form>"#,
        csrf_field(user),
        field(
            "contact_name",
            "ФИО ответственного",
            "text",
            value(typed.map(|t| &t.contact_name), &p.contact_name)
        ),
        field("phone", "Телефон", "tel", value(typed.map(|t| &t.phone), &o.phone)),
        field("email", "Электронная почта", "email", value(typed.map(|t| &t.email), &o.email)),
    ));
    Ok(page(Some(user), title, &body))
}

async fn profile_save(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(form): Form<ProfileForm>,
) -> Result<Response, PageError> {
    require_page(&user, &[Role::Executor]).map_err(|e| e.for_user(&user))?;
    check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    let Some(ogrn) = user.scope() else {
        return Err(PageError::forbidden().for_user(&user));
    };
    match directory::update_contacts(
        &app.db,
        ogrn,
        &form.contact_name,
        &form.phone,
        &form.email,
        &user.actor(),
    )
    .await
    .map_err(|e| PageError::from(e).for_user(&user))?
    {
        Ok(()) => Ok(Redirect::to("/organisation?saved=1").into_response()),
        Err(problems) => {
            let html = render_profile(&app, &user, Some(&form), &problems, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}

// ---- Choice of the organisation ----

#[derive(Deserialize, Default)]
struct NextQuery {
    #[serde(default)]
    next: String,
}

async fn choose_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<NextQuery>,
) -> Result<Html<String>, PageError> {
    if user.organisations.len() < 2 {
        return Err(PageError::not_found("Выбор организации").for_user(&user));
    }
    let organisations = directory::directory(&app.db)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    let title = "Выбор организации";
    let mut body = format!(
        r#"<h1>{title}</h1><p>Вы работаете в нескольких организациях-исполнителях. Выберите, от имени какой организации работать: реестр, исполнение и отчёты покажут только её мероприятия. Сменить организацию можно в любой момент — ссылка «Сменить организацию» вверху страницы.</p><ul class="org-choice" id="org-choice">"#
    );
    for ogrn in &user.organisations {
        let name = organisations
            .iter()
            .find(|o| o.ogrn == *ogrn)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| "организация не найдена в справочнике".into());
        let current = user.ogrn.as_deref() == Some(ogrn.as_str());
        body.push_str(&format!(
            r#"<li><form method="post" action="/organisation/choose">{csrf}<input type="hidden" name="ogrn" value="{o}"><input type="hidden" name="next" value="{next}"><button type="submit" data-ogrn="{o}">{name}</button> <span class="muted">ОГРН {o}{cur}</span></form></li>"#,
            csrf = csrf_field(&user),
            o = esc(ogrn),
            next = esc(&q.next),
            name = esc(&name),
            cur = if current { " · сейчас выбрана" } else { "" },
        ));
    }
    body.push_str("</ul>");
    Ok(page(Some(&user), title, &body))
}

#[derive(Deserialize)]
struct ChooseForm {
    #[serde(default)]
    csrf: String,
    ogrn: String,
    #[serde(default)]
    next: String,
}

async fn choose_submit(
    State(app): State<App>,
    PageUser(user): PageUser,
    headers: HeaderMap,
    Form(form): Form<ChooseForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    let Some(token) = crate::auth::web::session_cookie(&headers) else {
        return Err(PageError::forbidden().for_user(&user));
    };
    if !user.organisations.contains(&form.ogrn) {
        return Err(PageError::forbidden().for_user(&user));
    }
    crate::auth::choose_organisation(&app.db, &token, &user, &form.ogrn)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    let next = super::session::safe_next(&form.next);
    Ok(Redirect::to(next).into_response())
}

// ---- Upload of extract files ----

async fn upload_page(PageUser(user): PageUser) -> Result<Html<String>, PageError> {
    require_page(&user, UPLOADERS).map_err(|e| e.for_user(&user))?;
    Ok(upload_html(&user, None, None))
}

fn upload_form(user: &Principal) -> String {
    format!(
        r#"<form class="filters upload" method="post" action="/import" enctype="multipart/form-data">{}<label for="files">Файлы выписок (XML или ZIP, можно несколько)<input id="files" name="files" type="file" multiple accept=".xml,.zip,application/xml,text/xml,application/zip" required></label><div class="actions"><button type="submit" id="upload-submit">Загрузить</button></div></form>
<p class="muted">Файлы проходят тот же путь, что и <code>ipra import</code>: коннектор ФРИ читает их, сохраняется всё верное, отклонённое с указанием файла, записи и поля попадает в карантин. Не более {} МБ за раз; большие партии загружайте через папку обмена или командой <code>ipra import</code>.</p>"#,
        csrf_field(user),
        UPLOAD_LIMIT_BYTES / (1024 * 1024)
    )
}

fn upload_html(user: &Principal, result: Option<&str>, alert: Option<&str>) -> Html<String> {
    let title = "Загрузка выписок";
    let mut body = format!("<h1>{title}</h1>");
    if let Some(a) = alert {
        body.push_str(&format!(r#"<p class="alert" role="alert">{}</p>"#, esc(a)));
    }
    if let Some(r) = result {
        body.push_str(r);
    }
    body.push_str(&upload_form(user));
    page(Some(user), title, &body)
}

/// The uploaded files, written to a folder of their own under the data directory as they arrive
/// (never held whole in memory); the folder goes when the import is done.
struct UploadDir(PathBuf);

impl Drop for UploadDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A file name of the upload as it may be written: the last part of the name, without separators.
fn upload_name(name: &str, n: usize) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let clean: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | ':'))
        .collect();
    if clean.is_empty() || clean == "." || clean == ".." {
        format!("файл-{n}.xml")
    } else {
        clean
    }
}

async fn upload_submit(
    State(app): State<App>,
    PageUser(user): PageUser,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    use tokio::io::AsyncWriteExt;
    require_page(&user, UPLOADERS).map_err(|e| e.for_user(&user))?;
    let fail = |e: anyhow::Error| PageError::from(e).for_user(&user);
    let token = crate::auth::random_token().map_err(fail)?;
    let dir = UploadDir(app.data_dir.join("uploads").join(token));
    tokio::fs::create_dir_all(&dir.0).await.map_err(|e| fail(e.into()))?;
    let mut csrf = String::new();
    let mut names: Vec<String> = Vec::new();
    let mut total = 0usize;
    let refuse = |status: StatusCode, message: String| -> Result<Response, PageError> {
        Ok((status, upload_html(&user, None, Some(&message))).into_response())
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => {
                let status = e.status();
                let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    format!(
                        "Загрузка больше {} МБ: разделите файлы на части или загрузите их через папку обмена (ipra import).",
                        UPLOAD_LIMIT_BYTES / (1024 * 1024)
                    )
                } else {
                    format!("Загрузка прервана или повреждена: {e}. Повторите загрузку.")
                };
                return refuse(status, message);
            }
        };
        match field.name() {
            Some("csrf") => {
                csrf = field.text().await.unwrap_or_default();
                continue;
            }
            Some("files") => {}
            _ => continue,
        }
        // The CSRF token comes first in the form: nothing is written for a request without it.
        check_csrf(&user, &csrf).map_err(|e| e.for_user(&user))?;
        let original = field.file_name().unwrap_or_default().to_string();
        if original.is_empty() {
            continue;
        }
        let mut name = upload_name(&original, names.len() + 1);
        if names.contains(&name) {
            name = format!("{}-{name}", names.len() + 1);
        }
        let path = dir.0.join(&name);
        let mut file = tokio::fs::File::create(&path).await.map_err(|e| fail(e.into()))?;
        let mut field = field;
        loop {
            match field.chunk().await {
                Ok(Some(bytes)) => {
                    total += bytes.len();
                    if total > UPLOAD_LIMIT_BYTES {
                        return refuse(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "Загрузка больше {} МБ: разделите файлы на части или загрузите их через папку обмена (ipra import).",
                                UPLOAD_LIMIT_BYTES / (1024 * 1024)
                            ),
                        );
                    }
                    file.write_all(&bytes).await.map_err(|e| fail(e.into()))?;
                }
                Ok(None) => break,
                Err(e) => {
                    return refuse(
                        e.status(),
                        format!("Загрузка файла «{name}» прервана: {e}. Повторите загрузку."),
                    )
                }
            }
        }
        file.flush().await.map_err(|e| fail(e.into()))?;
        names.push(name);
    }
    check_csrf(&user, &csrf).map_err(|e| e.for_user(&user))?;
    if names.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Не выбрано ни одного файла.".into());
    }
    let report =
        crate::exchange::files::import_paths(&app, std::slice::from_ref(&dir.0), false, "upload", None, &|_| None)
            .await
            .map_err(fail)?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "import.upload",
        &format!("import-run:{}", report.run_id.unwrap_or_default()),
        Some(&names.join(", ")),
    )
    .await
    .map_err(fail)?;
    let result = result_html(&app, &dir.0, &names, &report).await.map_err(fail)?;
    let status = if report.rejected.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, upload_html(&user, Some(&result), None)).into_response())
}

/// The result of each uploaded file: what was stored, unchanged or rejected, with the reasons.
async fn result_html(
    app: &App,
    dir: &Path,
    names: &[String],
    report: &crate::register::import::ImportReport,
) -> anyhow::Result<String> {
    let prefix = format!("{}/", dir.display());
    let short = |file: &str| file.strip_prefix(&prefix).unwrap_or(file).to_string();
    // Outcomes by file, as the run recorded them.
    let mut by_file: std::collections::BTreeMap<String, (i64, i64, i64)> = std::collections::BTreeMap::new();
    if let Some(run) = report.run_id {
        for (file, outcome, n) in crate::register::import::outcomes_by_file(&app.db, run).await? {
            let entry = by_file.entry(short(&file)).or_default();
            match outcome.as_str() {
                "imported" | "imported-superseded" => entry.0 += n,
                "unchanged" => entry.1 += n,
                _ => entry.2 += n,
            }
        }
    }
    let mut out = format!(
        r#"<section class="upload-result" id="upload-result" aria-label="Результат загрузки"><h2>Результат загрузки</h2><p id="upload-totals">Файлов: {}. Загружено ИПРА: {}, из них заменили прежние: {}. Без изменений: {}. Отклонено: {}.</p>
<div class="table-wrap"><table id="upload-files"><thead><tr><th scope="col">Файл</th><th scope="col">Результат</th><th scope="col">Подробности</th></tr></thead><tbody>"#,
        names.len(),
        report.imported,
        report.superseded,
        report.unchanged,
        report.rejected.len()
    );
    for name in names {
        let rejections: Vec<&crate::register::import::Rejection> = report
            .rejected
            .iter()
            .filter(|r| short(&r.file) == *name || short(&r.file).starts_with(&format!("{name}/")))
            .collect();
        let (imported, unchanged, _) = by_file
            .iter()
            .filter(|(f, _)| *f == name || f.starts_with(&format!("{name}/")))
            .fold((0, 0, 0), |a, (_, b)| (a.0 + b.0, a.1 + b.1, a.2 + b.2));
        let outcome = if !rejections.is_empty() && imported == 0 && unchanged == 0 {
            "отклонён".to_string()
        } else if !rejections.is_empty() {
            format!("загружено ИПРА: {imported}, часть записей отклонена")
        } else if imported > 0 {
            format!("загружено ИПРА: {imported}")
        } else if unchanged > 0 {
            "уже загружен ранее, без изменений".to_string()
        } else {
            "ИПРА в файле нет".to_string()
        };
        let details: Vec<String> = rejections
            .iter()
            .map(|r| {
                let place = [r.record.as_deref(), r.field.as_deref()]
                    .iter()
                    .flatten()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", поле ");
                if place.is_empty() {
                    esc(&r.message)
                } else {
                    format!("{}: {}", esc(&place), esc(&r.message))
                }
            })
            .collect();
        let class = if rejections.is_empty() {
            "upload-ok"
        } else {
            "upload-rejected"
        };
        out.push_str(&format!(
            r#"<tr class="{class}" data-file="{n}"><td>{n}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&outcome),
            if details.is_empty() {
                "—".to_string()
            } else {
                details.join("<br>")
            },
            n = esc(name),
        ));
    }
    out.push_str("</tbody></table></div>");
    if let Some(run) = report.run_id {
        out.push_str(&format!(
            r#"<p class="muted">Запуск загрузки № {run} записан в журнал загрузок; отклонённые файлы — в карантине каталога данных.</p>"#
        ));
    }
    out.push_str("</section>");
    Ok(out)
}
