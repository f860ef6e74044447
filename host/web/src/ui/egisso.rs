//! «ЕГИССО» in the administration: the mapping of local measure types to EGISSO measures (LMSZ),
//! categories of recipients and OSZ codes, with suggestions from the loaded reference lists (NSI); the
//! facts of assignment sent, filtered by status, with EGISSO's reason of a rejection and «Отправить
//! повторно» once the execution or the mapping is corrected; the packages and where they stand. And
//! the same under `/api/v1/egisso/…`.
//!
//! A change of a mapping that touches facts EGISSO already holds is shown first — how many facts the
//! next upload corrects or cancels — and saved only once the person confirms; the API tells the same
//! (`GET /api/v1/egisso/mappings/{code}/effect`, and the answer of the change).
//!
//! Roles: administrators and coordinators change mappings and send facts again; the auditor reads.

use crate::app::App;
use crate::auth::web::{require, require_write, Authenticated};
use crate::auth::{Principal, Role};
use crate::register::egisso::{self, FactView, MappingEffect, Nsi};
use crate::ui::admin::{
    allow, allow_write, button_form, dt, dt_opt, field, field_opt, input, Fields, MANAGERS, VIEWERS,
};
use crate::ui::{esc, mask_snils, opt, page, urlencode, PageError, PageUser};
use crate::ApiError;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/egisso", get(overview))
        .route("/admin/egisso/mappings", post(save_mapping))
        .route("/admin/egisso/mappings/delete", post(delete_mapping))
        .route("/admin/egisso/facts", get(facts))
        .route("/admin/egisso/facts/{id}/resend", post(resend))
        .route("/api/v1/egisso/mappings", get(api_mappings))
        .route(
            "/api/v1/egisso/mappings/{code}",
            put(api_set_mapping).delete(api_delete_mapping),
        )
        .route("/api/v1/egisso/mappings/{code}/effect", get(api_mapping_effect))
        .route("/api/v1/egisso/facts", get(api_facts))
        .route("/api/v1/egisso/facts/{id}", get(api_fact))
        .route("/api/v1/egisso/facts/{id}/resend", post(api_resend))
        .route("/api/v1/egisso/packages", get(api_packages))
}

/// Facts a page shows.
const PER_PAGE: u32 = 50;
/// Packages the overview shows.
const PACKAGES_SHOWN: u32 = 20;

fn notice(done: Option<&str>) -> String {
    notice_with(done, &MappingEffect::default())
}

/// The notice of a step done; after a change of a mapping, what the next upload corrects.
fn notice_with(done: Option<&str>, effect: &MappingEffect) -> String {
    let text = match done.unwrap_or_default() {
        "mapping-saved" => "Сопоставление сохранено: исполнения этого вида выгружаются с очередной выгрузкой.",
        "mapping-deleted" => "Сопоставление удалено: исполнения этого вида больше не выгружаются.",
        "fact-resend" => "Факт будет отправлен повторно с очередной выгрузкой (задание «ЕГИССО: выгрузка фактов»).",
        _ => return String::new(),
    };
    let effect = if effect.is_empty() {
        String::new()
    } else {
        format!(
            " С очередной выгрузкой {}.",
            effect.describe().replacen("будет ", "", 1)
        )
    };
    format!(r#"<p class="notice" role="status">{text}{effect}</p>"#)
}

/// The redirect after a change of a mapping, with what it does to the facts sent.
fn done_with(done: &str, effect: &MappingEffect) -> String {
    format!(
        "/admin/egisso?done={done}&corrections={}&cancellations={}",
        effect.corrections, effect.cancellations
    )
}

/// Before a change of a mapping that corrects or cancels facts EGISSO holds: how many, and the same
/// form again with «Подтвердить».
fn confirmation(
    user: &Principal,
    action: &str,
    fields: &[(&str, &str)],
    what: &str,
    effect: &MappingEffect,
) -> Html<String> {
    let mut body = format!(
        r#"<h1>ЕГИССО: подтвердите изменение сопоставления</h1><section class="adm-egisso-confirm" id="mapping-confirm"><p>{}.</p><p class="effect">{}. Исправления (или аннулирование) уйдут в ЕГИССО с очередной выгрузкой; на странице фактов у них будет указана причина «изменено сопоставление мер».</p>"#,
        esc(what),
        esc(&capitalised(&effect.describe())),
    );
    body.push_str(&format!(
        r#"<p>Исправляется: <strong id="effect-corrections">{}</strong>, аннулируется: <strong id="effect-cancellations">{}</strong>.</p>"#,
        effect.corrections, effect.cancellations
    ));
    body.push_str(&format!(
        r#"<form method="post" action="{action}" class="adm-form" id="confirm-form">{}"#,
        crate::ui::csrf_field(user)
    ));
    for (name, value) in fields {
        body.push_str(&format!(
            r#"<input type="hidden" name="{name}" value="{}">"#,
            esc(value)
        ));
    }
    body.push_str(r#"<input type="hidden" name="confirm" value="1"><div class="actions"><button type="submit">Подтвердить</button> <a href="/admin/egisso#mappings">Отмена</a></div></form></section>"#);
    page(Some(user), "ЕГИССО: подтверждение", &body)
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A datalist of (value, label) suggestions.
fn datalist(id: &str, options: impl IntoIterator<Item = (String, String)>) -> String {
    let mut out = format!(r#"<datalist id="{id}">"#);
    for (value, label) in options {
        out.push_str(&format!(
            r#"<option value="{}" label="{}"></option>"#,
            esc(&value),
            esc(&label)
        ));
    }
    out.push_str("</datalist>");
    out
}

/// The name of a code in a list, when the list has it.
fn name_in<'a>(entries: &'a [crate::register::reference::Entry], code: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e.code.eq_ignore_ascii_case(code))
        .map(|e| e.name.as_str())
}

/// What the mapping form shows: typed values and the error of one field.
#[derive(Default)]
struct MappingForm {
    local_code: String,
    lmsz_id: String,
    category_id: String,
    osz_code: String,
    error: Option<(String, String)>,
}

#[derive(Deserialize, Default)]
struct OverviewQuery {
    done: Option<String>,
    /// After a change of a mapping: the facts the next upload corrects and cancels.
    corrections: Option<i64>,
    cancellations: Option<i64>,
    /// A mapping to edit: the form is filled with it.
    edit: Option<String>,
}

async fn overview(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<OverviewQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let mut form = MappingForm::default();
    if let Some(code) = q.edit.as_deref() {
        if let Some(m) = egisso::mappings(&app).await?.into_iter().find(|m| m.local_code == code) {
            form = MappingForm {
                local_code: m.local_code,
                lmsz_id: m.lmsz_id,
                category_id: m.category_id.unwrap_or_default(),
                osz_code: m.osz_code.unwrap_or_default(),
                error: None,
            };
        }
    }
    let effect = MappingEffect {
        corrections: q.corrections.unwrap_or_default().max(0),
        cancellations: q.cancellations.unwrap_or_default().max(0),
    };
    render_overview(&app, &user, q.done.as_deref(), &effect, &form).await
}

async fn render_overview(
    app: &App,
    user: &Principal,
    done: Option<&str>,
    effect: &MappingEffect,
    form: &MappingForm,
) -> Result<Html<String>, PageError> {
    let mappings = egisso::mappings(app).await?;
    let nsi = egisso::nsi(app).await?;
    let counts = egisso::counts(&app.db).await?;
    let packages = egisso::packages(&app.db, PACKAGES_SHOWN).await?;
    let can = user.can_write() && MANAGERS.contains(&user.role);
    let categories = app.reference().code_names("measure-categories");
    let mut body = String::from("<h1>ЕГИССО</h1>");
    body.push_str(&notice_with(done, effect));
    if !user.can_write() {
        body.push_str(r#"<p class="notice">Режим просмотра: у роли «Аудитор» нет права изменять настройки.</p>"#);
    }

    // The facts by status, each a link to its list.
    body.push_str(r#"<h2>Факты назначения</h2><ul class="fact-counts">"#);
    for (status, n) in &counts {
        body.push_str(&format!(
            r#"<li><a href="/admin/egisso/facts?status={status}">{}: <span class="count" id="count-{status}">{}{}</span></a></li>"#,
            esc(egisso::status_label(status)),
            if *n > crate::paging::COUNT_CAP { "более " } else { "" },
            crate::ui::group_digits((*n).min(crate::paging::COUNT_CAP) as u64)
        ));
    }
    body.push_str(r#"</ul><p><a href="/admin/egisso/facts">Все факты →</a></p>"#);

    // The mapping table.
    body.push_str(r#"<h2 id="mappings">Сопоставление видов мероприятий с мерами ЕГИССО</h2>"#);
    body.push_str(
        r#"<p>Исполненное мероприятие социальной защиты выгружается в ЕГИССО, когда его вид (код категории мероприятия ИПРА, или «код категории:код мероприятия») сопоставлен локальной мере социальной защиты (ЛМСЗ) и категории получателей ЕГИССО.</p>"#,
    );
    if mappings.is_empty() {
        body.push_str(r#"<p class="muted">Сопоставлений нет: факты не выгружаются.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table class="adm-egisso-mappings"><thead><tr><th>Вид мероприятия</th><th>Мера ЕГИССО (ЛМСЗ)</th><th>Категория получателей</th><th>Код ОСЗ</th><th class="hide-narrow">Изменено</th>"#);
        if can {
            body.push_str("<th>Действия</th>");
        }
        body.push_str("</tr></thead><tbody>");
        for m in &mappings {
            let local_name = categories
                .iter()
                .find(|(c, _)| *c == m.local_code)
                .map(|(_, n)| format!(r#"<br><span class="muted">{}</span>"#, esc(n)))
                .unwrap_or_default();
            let named = |entries: &[crate::register::reference::Entry], code: &str| match name_in(entries, code) {
                Some(name) => format!(r#"{}<br><span class="muted">{}</span>"#, esc(name), esc(code)),
                None => esc(code),
            };
            body.push_str(&format!(
                r#"<tr id="mapping-{}"><td>{}{local_name}</td><td>{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{} · {}</td>"#,
                esc(&m.local_code.replace(['.', ':'], "-")),
                esc(&m.local_code),
                named(&nsi.lmsz, &m.lmsz_id),
                m.category_id
                    .as_deref()
                    .map(|c| named(&nsi.categories, c))
                    .unwrap_or_else(|| "—".into()),
                opt(&m.osz_code),
                dt(&m.updated_at),
                esc(&m.updated_by),
            ));
            if can {
                body.push_str(&format!(
                    r#"<td><a href="/admin/egisso?edit={}#mapping-form">Изменить</a> <form method="post" action="/admin/egisso/mappings/delete" class="adm-inline">{}<input type="hidden" name="local_code" value="{}"><button type="submit" class="secondary" data-confirm="Удалить сопоставление? Исполнения этого вида перестанут выгружаться, а переданные факты будут аннулированы.">Удалить</button></form></td>"#,
                    urlencode(&m.local_code),
                    crate::ui::csrf_field(user),
                    esc(&m.local_code)
                ));
            }
            body.push_str("</tr>");
        }
        body.push_str("</tbody></table></div>");
    }
    if can {
        body.push_str(&mapping_form(user, form, &nsi, &categories));
    }
    body.push_str(&nsi_section(&nsi));

    // The packages.
    body.push_str(r#"<h2 id="packages">Пакеты</h2>"#);
    if packages.is_empty() {
        body.push_str(r#"<p class="muted">Пакеты ещё не отправлялись.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table class="adm-egisso-packages"><thead><tr><th>Файл</th><th>Фактов</th><th>Статус</th><th>Записей в протоколе</th><th>Отправлен в очередь</th><th>Ответ</th><th>Примечание</th></tr></thead><tbody>"#);
        for p in &packages {
            body.push_str(&format!(
                r#"<tr id="package-{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                p.id,
                esc(&p.document_name),
                p.facts,
                esc(egisso::package_status_label(&p.status)),
                match (p.record_num, p.record_success) {
                    (Some(all), Some(good)) => format!("{all}, успешно {good}"),
                    (Some(all), None) => all.to_string(),
                    _ => "—".into(),
                },
                dt(&p.created_at),
                dt_opt(&p.answered_at),
                opt(&p.note),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str(r#"<p class="muted">Протоколы ЕГИССО принимает задание «ЕГИССО: приём протоколов» из входящих коннектора; не принятые протоколы — на странице <a href="/admin/messages?status=failed">«Сообщения обмена»</a> с причиной.</p>"#);
    Ok(page(Some(user), "ЕГИССО", &body))
}

fn mapping_form(user: &Principal, form: &MappingForm, nsi: &Nsi, categories: &[(String, String)]) -> String {
    let error = |name: &str| form.error.as_ref().filter(|(f, _)| f == name).map(|(_, m)| m.as_str());
    let mut osz: Vec<(String, String)> = nsi
        .lmsz
        .iter()
        .flat_map(|e| {
            e.extra
                .iter()
                .filter(|(k, _)| k == "oszCode")
                .map(|(_, v)| (v.clone(), e.name.clone()))
        })
        .collect();
    osz.sort();
    osz.dedup_by(|a, b| a.0 == b.0);
    let mut out = String::from(
        r#"<form method="post" action="/admin/egisso/mappings" class="adm-form adm-egisso-form" id="mapping-form"><h3>Добавить или изменить сопоставление</h3>"#,
    );
    out.push_str(&crate::ui::csrf_field(user));
    out.push_str(&input(
        "local_code",
        "Вид мероприятия (код категории ИПРА)",
        &form.local_code,
        error("local_code"),
        r#"list="map-local" required"#,
    ));
    out.push_str(&input(
        "lmsz_id",
        "Мера ЕГИССО (идентификатор ЛМСЗ)",
        &form.lmsz_id,
        error("lmsz_id"),
        r#"list="map-lmsz" required"#,
    ));
    out.push_str(&input(
        "category_id",
        "Категория получателей (идентификатор)",
        &form.category_id,
        error("category_id"),
        r#"list="map-categories""#,
    ));
    out.push_str(&input(
        "osz_code",
        "Код ОСЗ (NNNN.NNNNNN; пусто — из настроек коннектора)",
        &form.osz_code,
        error("osz_code"),
        r#"list="map-osz""#,
    ));
    out.push_str(&datalist("map-local", categories.iter().cloned()));
    out.push_str(&datalist(
        "map-lmsz",
        nsi.lmsz.iter().map(|e| (e.code.clone(), e.name.clone())),
    ));
    out.push_str(&datalist(
        "map-categories",
        nsi.categories.iter().map(|e| (e.code.clone(), e.name.clone())),
    ));
    out.push_str(&datalist("map-osz", osz));
    if let Some((f, m)) = &form.error {
        if !matches!(f.as_str(), "local_code" | "lmsz_id" | "category_id" | "osz_code") {
            out.push_str(&crate::ui::admin::alert(m));
        }
    }
    out.push_str(r#"<div class="actions"><button type="submit">Сохранить</button></div></form>"#);
    out
}

/// Which reference lists of EGISSO are loaded, and their measures for reading.
fn nsi_section(nsi: &Nsi) -> String {
    let mut out = String::from(r#"<h2 id="nsi">Справочники ЕГИССО (НСИ)</h2>"#);
    let list = |title: &str, id: &Option<String>, entries: &[crate::register::reference::Entry]| match id {
        Some(id) => format!(
            r#"<p>{title}: <a href="/admin/reference/{}">{}</a>, записей: {}.</p>"#,
            urlencode(id),
            esc(id),
            entries.len()
        ),
        None => format!(r#"<p class="muted">{title}: не загружен.</p>"#),
    };
    out.push_str(&list("Локальные меры (ЛМСЗ)", &nsi.lmsz_list, &nsi.lmsz));
    out.push_str(&list("Категории получателей", &nsi.categories_list, &nsi.categories));
    out.push_str(
        r#"<p class="muted">Справочники загружаются через коннектор ЕГИССО из файлов CSV или XML (<code>ipra import --connector egisso lmsz@2024-01.csv</code>); подсказки формы берутся из них, а сопоставление с мерой, которой нет в загруженном справочнике, не принимается.</p>"#,
    );
    out
}

async fn save_mapping(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let form = MappingForm {
        local_code: field(&fields, "local_code").to_string(),
        lmsz_id: field(&fields, "lmsz_id").to_string(),
        category_id: field(&fields, "category_id").to_string(),
        osz_code: field(&fields, "osz_code").to_string(),
        error: None,
    };
    let category_id = field_opt(&fields, "category_id");
    let osz_code = field_opt(&fields, "osz_code");
    // A change that corrects facts EGISSO holds waits for the person's confirmation.
    let saved = if field(&fields, "confirm") == "1" {
        Ok(None)
    } else {
        egisso::mapping_effect(
            &app,
            &form.local_code,
            Some(&form.lmsz_id),
            category_id.as_deref(),
            osz_code.as_deref(),
        )
        .await
        .map(|effect| (!effect.is_empty()).then_some(effect))
    };
    let saved = match saved {
        Ok(Some(effect)) => {
            let html = confirmation(
                &user,
                "/admin/egisso/mappings",
                &[
                    ("local_code", &form.local_code),
                    ("lmsz_id", &form.lmsz_id),
                    ("category_id", &form.category_id),
                    ("osz_code", &form.osz_code),
                ],
                &format!(
                    "Вид мероприятия «{}» будет сопоставлен мере ЕГИССО {}",
                    form.local_code.trim(),
                    form.lmsz_id.trim()
                ),
                &effect,
            );
            return Ok(html.into_response());
        }
        Ok(None) => {
            egisso::set_mapping(
                &app,
                &form.local_code,
                &form.lmsz_id,
                category_id.as_deref(),
                osz_code.as_deref(),
                &user.actor(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match saved {
        Ok(effect) => Ok(Redirect::to(&done_with("mapping-saved", &effect)).into_response()),
        Err(e) => {
            let (field, message) = match crate::refusal::Refusal::of(&e) {
                Some(crate::refusal::Refusal::Invalid { field, message }) => (field.clone(), message.clone()),
                Some(refusal) => (String::new(), refusal.to_string()),
                None => return Err(e.into()),
            };
            let form = MappingForm {
                error: Some((field, message)),
                ..form
            };
            let html = render_overview(&app, &user, None, &MappingEffect::default(), &form).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
        }
    }
}

async fn delete_mapping(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let local_code = field(&fields, "local_code");
    if field(&fields, "confirm") != "1" {
        let effect = egisso::mapping_effect(&app, local_code, None, None, None)
            .await
            .map_err(|e| PageError::from(e).for_user(&user))?;
        if !effect.is_empty() {
            let html = confirmation(
                &user,
                "/admin/egisso/mappings/delete",
                &[("local_code", local_code)],
                &format!("Сопоставление вида мероприятия «{local_code}» будет удалено"),
                &effect,
            );
            return Ok(html.into_response());
        }
    }
    let effect = egisso::delete_mapping(&app, local_code, &user.actor())
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    Ok(Redirect::to(&done_with("mapping-deleted", &effect)).into_response())
}

#[derive(Deserialize, Default)]
struct FactsQuery {
    status: Option<String>,
    done: Option<String>,
    /// The page below this fact number.
    before: Option<i64>,
}

async fn facts(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<FactsQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let status = q
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    if let Some(s) = status.as_deref() {
        if !egisso::STATUSES.contains(&s) {
            return Err(PageError::bad_request(format!("Статус факта «{s}» не известен.")).for_user(&user));
        }
    }
    let found = egisso::facts_page(&app.db, status.as_deref(), q.before, PER_PAGE).await?;
    let mut body = String::from(r#"<h1>Факты назначения ЕГИССО</h1><p><a href="/admin/egisso">← ЕГИССО</a></p>"#);
    body.push_str(&notice(q.done.as_deref()));
    body.push_str(r#"<form class="filters" method="get" action="/admin/egisso/facts"><label for="f-status">Статус<select id="f-status" name="status" data-autosubmit><option value="">все</option>"#);
    for s in egisso::STATUSES {
        body.push_str(&format!(
            r#"<option value="{s}"{}>{}</option>"#,
            if status.as_deref() == Some(s) { " selected" } else { "" },
            egisso::status_label(s)
        ));
    }
    body.push_str(r#"</select></label><button type="submit">Показать</button></form>"#);
    if status.as_deref() == Some("rejected") {
        body.push_str(r#"<p>ЕГИССО отклонило эти факты. Исправьте исполнение, данные гражданина или <a href="/admin/egisso#mappings">сопоставление</a> по причине, которую назвало ЕГИССО, и нажмите «Отправить повторно»: факт уйдёт с очередной выгрузкой под тем же идентификатором.</p>"#);
    }
    body.push_str(&format!(
        "<p>Фактов: {}{}</p>",
        if found.total_exact { "" } else { "более " },
        crate::ui::group_digits(found.total as u64)
    ));
    if found.items.is_empty() {
        body.push_str(r#"<p class="muted">Фактов с таким статусом нет.</p>"#);
    } else {
        body.push_str(&facts_table(&user, &found.items, status.as_deref()));
    }
    if let Some(next) = found.next {
        let status_param = status
            .as_deref()
            .map(|s| format!("status={}&", urlencode(s)))
            .unwrap_or_default();
        body.push_str(&crate::ui::keyset_pages("/admin/egisso/facts", &status_param, next));
    }
    Ok(page(Some(&user), "Факты назначения ЕГИССО", &body))
}

fn facts_table(user: &Principal, facts: &[FactView], status: Option<&str>) -> String {
    let back = status.map(|s| format!("?status={}", urlencode(s))).unwrap_or_default();
    let can = user.can_write() && MANAGERS.contains(&user.role);
    let mut out = String::from(
        r#"<div class="table-wrap"><table class="adm-egisso-facts"><thead><tr><th>№</th><th>Гражданин</th><th>Мероприятие</th><th>Действие</th><th>Статус</th><th>Причина / замечания ЕГИССО</th><th class="hide-narrow">Пакет</th><th class="hide-narrow">Обновлено</th><th>Действия</th></tr></thead><tbody>"#,
    );
    for f in facts {
        let reason = match (&f.reason, &f.rule_code) {
            (Some(r), Some(code)) if !r.contains(&format!("[{code}]")) => {
                format!("{} <span class=\"muted\">(правило {})</span>", esc(r), esc(code))
            }
            (Some(r), _) => esc(r),
            (None, _) => "—".into(),
        };
        // Why the fact is (or is to be) corrected: the change a trigger or a mapping marked.
        let why = f
            .change_reason
            .as_deref()
            .filter(|_| f.changed || f.operation != "fact")
            .map(|r| {
                format!(
                    r#"<br><span class="muted change-reason">{}</span>"#,
                    esc(egisso::change_reason_label(r))
                )
            })
            .unwrap_or_default();
        let changed = if f.changed {
            r#"<br><span class="muted">изменилось после отправки: уйдёт с очередной выгрузкой</span>"#
        } else {
            ""
        };
        let action = if can && f.status == "rejected" {
            button_form(
                user,
                &format!("/admin/egisso/facts/{}/resend{back}", f.id),
                "Отправить повторно",
                "",
                Some("Отправить факт повторно? Сначала исправьте то, что назвало ЕГИССО."),
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            r#"<tr id="fact-{id}" class="status-{status}"><td>{id}</td><td>{name}<br><span class="muted">СНИЛС {snils} · <a href="/ipras/{ipra}">ИПРА {number}</a></span></td><td>{measure}<br><span class="muted">исполнено {date}</span></td><td class="operation">{op}{why}</td><td class="status">{label}{changed}</td><td class="reason">{reason}</td><td class="hide-narrow">{package}</td><td class="hide-narrow">{updated}</td><td>{action}</td></tr>"#,
            id = f.id,
            status = esc(&f.status),
            name = esc(&f.full_name),
            snils = esc(&mask_snils(&f.snils)),
            ipra = f.ipra_id,
            number = esc(&f.ipra_number),
            measure = esc(&f.measure_name),
            date = dt_opt(&f.execution_date),
            op = esc(egisso::operation_label(&f.operation)),
            label = esc(egisso::status_label(&f.status)),
            package = opt(&f.document_name),
            updated = dt(f.updated_at.as_deref().unwrap_or(&f.created_at)),
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

async fn resend(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<FactsQuery>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    egisso::resend(&app, id, &user.actor())
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    let status = q
        .status
        .as_deref()
        .filter(|s| egisso::STATUSES.contains(s))
        .map(|s| format!("status={s}&"))
        .unwrap_or_default();
    Ok(Redirect::to(&format!("/admin/egisso/facts?{status}done=fact-resend")).into_response())
}

// The API.

const OVERSEERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];
const API_MANAGERS: &[Role] = &[Role::Administrator, Role::Coordinator];

async fn api_mappings(State(app): State<App>, Authenticated(user): Authenticated) -> Result<Json<Value>, ApiError> {
    require(&user, OVERSEERS)?;
    let mappings = egisso::mappings(&app).await?;
    let nsi = egisso::nsi(&app).await?;
    Ok(Json(json!({
        "mappings": mappings,
        "nsi": {"lmsz_list": nsi.lmsz_list, "lmsz": nsi.lmsz.len(), "categories_list": nsi.categories_list, "categories": nsi.categories.len()},
    })))
}

/// A mapping of a local measure type: the EGISSO measure (LMSZ), the category of recipients and the
/// OSZ code (NNNN.NNNNNN; empty: the connector's `osz-code`).
#[derive(Deserialize, schemars::JsonSchema)]
pub struct MappingRequest {
    pub lmsz_id: String,
    #[serde(default)]
    pub category_id: Option<String>,
    #[serde(default)]
    pub osz_code: Option<String>,
}

async fn api_set_mapping(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(code): Path<String>,
    Json(req): Json<MappingRequest>,
) -> Result<Json<Value>, ApiError> {
    require(&user, API_MANAGERS)?;
    require_write(&user)?;
    let effect = egisso::set_mapping(
        &app,
        &code,
        &req.lmsz_id,
        req.category_id.as_deref(),
        req.osz_code.as_deref(),
        &user.actor(),
    )
    .await?;
    Ok(Json(
        json!({"ok": true, "corrections": effect.corrections, "cancellations": effect.cancellations}),
    ))
}

#[derive(Deserialize)]
struct EffectQuery {
    /// The measure the mapping is to have; none: the mapping is to be deleted.
    lmsz_id: Option<String>,
    category_id: Option<String>,
    osz_code: Option<String>,
}

/// What a change of the mapping would do to the facts EGISSO holds, before it is made.
async fn api_mapping_effect(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(code): Path<String>,
    Query(q): Query<EffectQuery>,
) -> Result<Json<Value>, ApiError> {
    require(&user, OVERSEERS)?;
    let lmsz = q.lmsz_id.as_deref().map(str::trim).filter(|l| !l.is_empty());
    let effect = egisso::mapping_effect(&app, &code, lmsz, q.category_id.as_deref(), q.osz_code.as_deref()).await?;
    Ok(Json(json!({
        "corrections": effect.corrections,
        "cancellations": effect.cancellations,
        "description": effect.describe(),
    })))
}

async fn api_delete_mapping(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(code): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require(&user, API_MANAGERS)?;
    require_write(&user)?;
    let effect = egisso::delete_mapping(&app, &code, &user.actor()).await?;
    Ok(Json(
        json!({"ok": true, "corrections": effect.corrections, "cancellations": effect.cancellations}),
    ))
}

#[derive(Deserialize)]
struct FactsApiQuery {
    status: Option<String>,
    /// The page below this id (the `next` of the previous page).
    before: Option<i64>,
    /// Rows per page (default 100, at most 1000).
    limit: Option<u32>,
}

async fn api_facts(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<FactsApiQuery>,
) -> Result<Json<crate::paging::Page<FactView>>, ApiError> {
    require(&user, OVERSEERS)?;
    let status = q.status.as_deref().map(str::trim).filter(|s| !s.is_empty());
    Ok(Json(
        egisso::facts_page(&app.db, status, q.before, q.limit.unwrap_or(100)).await?,
    ))
}

async fn api_fact(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<FactView>, ApiError> {
    require(&user, OVERSEERS)?;
    egisso::fact(&app.db, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("Факт ЕГИССО"))
}

async fn api_resend(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    require(&user, API_MANAGERS)?;
    require_write(&user)?;
    egisso::resend(&app, id, &user.actor()).await?;
    Ok(Json(json!({"ok": true})))
}

async fn api_packages(
    State(app): State<App>,
    Authenticated(user): Authenticated,
) -> Result<Json<Vec<egisso::PackageView>>, ApiError> {
    require(&user, OVERSEERS)?;
    Ok(Json(egisso::packages(&app.db, 100).await?))
}
