//! «Организации и маршрутизация»: the directory of executor organisations with their profile
//! (domain §5.7) and the routing rules (section × territory → organisation), each change of a rule
//! previewed — which measures would move — before it is saved.

use super::{
    alert, allow, allow_write, button_form, done_notice, dt, field, field_opt, input, select, Fields, MANAGERS, VIEWERS,
};
use crate::app::App;
use crate::auth::Principal;
use crate::db::Db;
use crate::register::directory::{self, Organisation};
use crate::ui::{csrf_field, esc, opt, page, urlencode, PageError, PageUser};
use anyhow::Result;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::{Deserialize, Serialize};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/organisations", get(list).post(add))
        .route("/admin/organisations/export", get(export))
        .route("/admin/organisations/{ogrn}", get(edit_form).post(edit))
        .route("/admin/routing", get(rules).post(save_rule))
        .route("/admin/routing/preview", post(preview))
        .route("/admin/routing/{id}/delete", post(delete_rule))
}

/// An organisation with the profile fields the directory keeps beside it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Profile {
    /// Taken from the address in `PUT /api/v1/organisations/{ogrn}`.
    #[serde(default)]
    pub ogrn: String,
    pub name: String,
    #[serde(default)]
    pub inn: Option<String>,
    pub department: String,
    #[serde(default)]
    pub territory_code: Option<String>,
    #[serde(default)]
    pub executor_type: Option<String>,
    /// The organisation's id in the regional health information system (ГИС ЕЦП).
    #[serde(default)]
    pub gis_ecp_id: Option<String>,
    #[serde(default)]
    pub contact_name: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

pub async fn profiles(db: &Db) -> Result<Vec<Profile>> {
    let orgs = directory::list_organisations(db).await?;
    let mut extra = directory::profile_fields(db).await?;
    let mut out = Vec::new();
    for o in orgs {
        let (gis_ecp_id, contact_name) = extra.remove(&o.ogrn).unwrap_or_default();
        out.push(Profile {
            gis_ecp_id,
            contact_name,
            ogrn: o.ogrn,
            name: o.name,
            inn: o.inn,
            department: o.department,
            territory_code: o.territory_code,
            executor_type: o.executor_type,
            phone: o.phone,
            email: o.email,
            active: o.active,
        });
    }
    Ok(out)
}

pub async fn profile(db: &Db, ogrn: &str) -> Result<Option<Profile>> {
    Ok(profiles(db).await?.into_iter().find(|p| p.ogrn == ogrn))
}

/// Checks an INN: 10 digits (organisation) or 12 (individual entrepreneur) with their check digits.
pub fn check_inn(inn: &str) -> bool {
    let d: Vec<u32> = inn.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != inn.len() {
        return false;
    }
    let check = |weights: &[u32], digits: &[u32]| -> u32 {
        weights.iter().zip(digits).map(|(w, x)| w * x).sum::<u32>() % 11 % 10
    };
    match d.len() {
        10 => check(&[2, 4, 10, 3, 5, 9, 4, 6, 8], &d) == d[9],
        12 => {
            check(&[7, 2, 4, 10, 3, 5, 9, 4, 6, 8], &d) == d[10]
                && check(&[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8], &d) == d[11]
        }
        _ => false,
    }
}

/// Every field error of a profile, named for the form; empty when it may be saved.
pub fn validate(p: &Profile, sections: &[(String, String)]) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if p.ogrn.is_empty() {
        errors.push(("ogrn", "ОГРН: не указан".to_string()));
    } else if let Err(e) = directory::check_ogrn(&p.ogrn) {
        errors.push(("ogrn", e));
    }
    if p.name.trim().is_empty() {
        errors.push(("name", "Наименование: не указано".into()));
    }
    if !sections.iter().any(|(code, _)| *code == p.department) {
        errors.push(("department", "Раздел: выберите раздел ИПРА из списка".into()));
    }
    if let Some(inn) = &p.inn {
        if !check_inn(inn) {
            errors.push((
                "inn",
                format!("ИНН «{inn}» неверен: 10 или 12 цифр с верными контрольными"),
            ));
        }
    }
    if let Some(email) = &p.email {
        let ok = email
            .split_once('@')
            .is_some_and(|(user, host)| !user.is_empty() && host.contains('.') && !email.contains(' '));
        if !ok {
            errors.push(("email", format!("Электронная почта «{email}» неверна")));
        }
    }
    if let Some(phone) = &p.phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !(5..=15).contains(&digits) || phone.chars().any(|c| !(c.is_ascii_digit() || " +-()".contains(c))) {
            errors.push((
                "phone",
                format!("Телефон «{phone}» неверен: цифры, пробелы, «+», «-», скобки"),
            ));
        }
    }
    errors
}

/// Saves a checked profile: the directory row, then its profile columns.
pub async fn save(app: &App, p: &Profile, actor: &str) -> Result<()> {
    let org = Organisation {
        ogrn: p.ogrn.clone(),
        inn: p.inn.clone(),
        name: p.name.trim().to_string(),
        department: p.department.clone(),
        territory_code: p.territory_code.clone(),
        executor_type: p.executor_type.clone(),
        phone: p.phone.clone(),
        email: p.email.clone(),
        active: p.active,
    };
    directory::upsert_organisation(&app.db, &org, actor).await?;
    directory::set_profile_fields(&app.db, &p.ogrn, p.gis_ecp_id.as_deref(), p.contact_name.as_deref()).await?;
    app.refresh_lookups().await
}

pub fn sections(app: &App) -> Vec<(String, String)> {
    app.reference().code_names("sections")
}

pub fn territories(app: &App) -> Vec<(String, String)> {
    app.reference()
        .list("territories")
        .iter()
        .map(|e| (e.code.clone(), format!("{} ({})", e.name, e.code)))
        .collect()
}

fn label_of(list: &[(String, String)], code: &str) -> String {
    list.iter()
        .find(|(c, _)| c == code)
        .map(|(_, n)| n.clone())
        .unwrap_or_else(|| code.to_string())
}

fn profile_from_fields(fields: &Fields) -> Profile {
    Profile {
        ogrn: field(fields, "ogrn").chars().filter(|c| !c.is_whitespace()).collect(),
        name: field(fields, "name").to_string(),
        inn: field_opt(fields, "inn"),
        department: field(fields, "department").to_string(),
        territory_code: field_opt(fields, "territory_code"),
        executor_type: field_opt(fields, "executor_type"),
        gis_ecp_id: field_opt(fields, "gis_ecp_id"),
        contact_name: field_opt(fields, "contact_name"),
        phone: field_opt(fields, "phone"),
        email: field_opt(fields, "email"),
        active: field(fields, "active") == "1",
    }
}

fn profile_form(app: &App, user: &Principal, p: &Profile, errors: &[(&'static str, String)], adding: bool) -> String {
    let err = |name: &str| errors.iter().find(|(k, _)| *k == name).map(|(_, e)| e.as_str());
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    let action = if adding {
        "/admin/organisations".to_string()
    } else {
        format!("/admin/organisations/{}", urlencode(&p.ogrn))
    };
    let mut out = format!(
        r#"<form method="post" action="{action}" class="stack adm-org-form" novalidate>{}"#,
        csrf_field(user)
    );
    if !errors.is_empty() {
        out.push_str(&alert("Организация не сохранена: исправьте отмеченные поля."));
    }
    out.push_str("<fieldset><legend>Организация</legend>");
    if adding {
        out.push_str(&input(
            "ogrn",
            "ОГРН",
            &p.ogrn,
            err("ogrn"),
            r#"required inputmode="numeric" maxlength="15""#,
        ));
    } else {
        out.push_str(&format!(
            r#"<input type="hidden" name="ogrn" value="{0}"><p>ОГРН: <strong>{0}</strong></p>"#,
            esc(&p.ogrn)
        ));
    }
    out.push_str(&input("name", "Наименование", &p.name, err("name"), "required"));
    out.push_str(&input(
        "inn",
        "ИНН",
        &s(&p.inn),
        err("inn"),
        r#"inputmode="numeric" maxlength="12""#,
    ));
    let mut sections = vec![(String::new(), "— выберите —".to_string())];
    sections.extend(self::sections(app));
    out.push_str(&select(
        "department",
        "Раздел ИПРА (ведомство)",
        &sections,
        &p.department,
        err("department"),
    ));
    let mut territories = vec![(String::new(), "весь регион".to_string())];
    territories.extend(self::territories(app));
    out.push_str(&select(
        "territory_code",
        "Территория",
        &territories,
        p.territory_code.as_deref().unwrap_or_default(),
        None,
    ));
    out.push_str(&input(
        "executor_type",
        "Тип исполнителя",
        &s(&p.executor_type),
        None,
        "",
    ));
    out.push_str(&input(
        "gis_ecp_id",
        "Идентификатор в ГИС ЕЦП",
        &s(&p.gis_ecp_id),
        None,
        "",
    ));
    out.push_str("</fieldset><fieldset><legend>Контакты</legend>");
    out.push_str(&input(
        "contact_name",
        "Контактное лицо (ФИО)",
        &s(&p.contact_name),
        None,
        "",
    ));
    out.push_str(&input("phone", "Телефон", &s(&p.phone), err("phone"), r#"type="tel""#));
    out.push_str(&input(
        "email",
        "Электронная почта",
        &s(&p.email),
        err("email"),
        r#"type="email""#,
    ));
    out.push_str(&format!(
        r#"<label for="f-active" class="adm-check"><input type="checkbox" id="f-active" name="active" value="1"{}> Действует (получает мероприятия)</label>"#,
        if p.active { " checked" } else { "" }
    ));
    out.push_str(&format!(
        r#"</fieldset><div class="actions"><button type="submit">{}</button></div></form>"#,
        if adding {
            "Добавить организацию"
        } else {
            "Сохранить"
        }
    ));
    out
}

#[derive(Deserialize, Default)]
struct Done {
    done: Option<String>,
}

#[derive(Deserialize, Default)]
struct ListQuery {
    done: Option<String>,
    section: Option<String>,
    format: Option<String>,
}

async fn list(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    list_page(
        &app,
        &user,
        q.done.as_deref(),
        None,
        q.section.as_deref().unwrap_or_default(),
    )
    .await
}

/// The directory (or one section of it) as CSV or XLSX.
async fn export(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Response, PageError> {
    use crate::export::{Cell, Format, Table};
    allow(&user, VIEWERS)?;
    let format = Format::parse(q.format.as_deref().unwrap_or("csv"))
        .ok_or_else(|| PageError::bad_request("Формат выгрузки: csv или xlsx".into()).for_user(&user))?;
    let section = q.section.unwrap_or_default();
    let sections = sections(&app);
    let rows = profiles(&app.db)
        .await?
        .into_iter()
        .filter(|o| section.is_empty() || o.department == section)
        .map(|o| {
            vec![
                Cell::from(o.name),
                Cell::from(o.ogrn),
                Cell::from(o.inn),
                Cell::from(label_of(&sections, &o.department)),
                Cell::from(o.territory_code),
                Cell::from(o.executor_type),
                Cell::from(o.gis_ecp_id),
                Cell::from(o.contact_name),
                Cell::from(o.phone),
                Cell::from(o.email),
                Cell::from(if o.active { "да" } else { "нет" }),
            ]
        })
        .collect();
    let header = [
        "Наименование",
        "ОГРН",
        "ИНН",
        "Раздел",
        "Территория",
        "Тип исполнителя",
        "ГИС ЕЦП",
        "Контактное лицо",
        "Телефон",
        "Эл. почта",
        "Действует",
    ];
    let table = Table {
        title: "Организации-исполнители".into(),
        header: header.iter().map(|h| h.to_string()).collect(),
        rows,
    };
    Ok(table.download(format, "organisations"))
}

async fn list_page(
    app: &App,
    user: &Principal,
    done: Option<&str>,
    form: Option<(Profile, Vec<(&'static str, String)>)>,
    section: &str,
) -> Result<Html<String>, PageError> {
    let orgs: Vec<Profile> = profiles(&app.db)
        .await?
        .into_iter()
        .filter(|o| section.is_empty() || o.department == section)
        .collect();
    let sections = sections(app);
    let mut body = String::from(
        r#"<h1>Организации-исполнители</h1><p><a href="/admin/routing">Правила маршрутизации мероприятий →</a></p>"#,
    );
    body.push_str(&done_notice(done));
    let mut choices = vec![(String::new(), "все разделы".to_string())];
    choices.extend(sections.clone());
    body.push_str(r#"<form class="filters" method="get" action="/admin/organisations">"#);
    body.push_str(
        &select("section", "Раздел", &choices, section, None).replace("<select ", "<select data-autosubmit "),
    );
    body.push_str(&format!(
        r#"<button type="submit">Показать</button><a class="button secondary" href="/admin/organisations/export?section={0}&amp;format=csv">CSV</a><a class="button secondary" href="/admin/organisations/export?section={0}&amp;format=xlsx">XLSX</a></form>"#,
        urlencode(section)
    ));
    body.push_str(
        r#"<div class="table-wrap"><table class="adm-orgs"><thead><tr><th>Наименование</th><th>ОГРН</th><th class="hide-narrow">ИНН</th><th>Раздел</th><th class="hide-narrow">Территория</th><th class="hide-narrow">Тип</th><th class="hide-narrow">ГИС ЕЦП</th><th class="hide-narrow">Контакт</th><th>Действует</th></tr></thead><tbody>"#,
    );
    for o in &orgs {
        let contact = [o.contact_name.clone(), o.phone.clone(), o.email.clone()]
            .into_iter()
            .flatten()
            .map(|c| esc(&c))
            .collect::<Vec<_>>()
            .join("<br>");
        body.push_str(&format!(
            r#"<tr id="org-{og}"><td><a href="/admin/organisations/{og}">{}</a></td><td>{og}</td><td class="hide-narrow">{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td>{}</td></tr>"#,
            esc(&o.name),
            opt(&o.inn),
            esc(&label_of(&sections, &o.department)),
            o.territory_code.as_deref().map(esc).unwrap_or_else(|| "весь регион".into()),
            opt(&o.executor_type),
            opt(&o.gis_ecp_id),
            if contact.is_empty() { "—".into() } else { contact },
            if o.active { "да" } else { "<span class=\"warn\">нет</span>" },
            og = esc(&o.ogrn),
        ));
    }
    body.push_str("</tbody></table></div>");
    if orgs.is_empty() {
        body.push_str(r#"<p class="muted">Справочник пуст.</p>"#);
    }
    if user.can_write() && MANAGERS.contains(&user.role) {
        body.push_str(r#"<h2 id="add">Новая организация</h2>"#);
        let (p, errors) = form.unwrap_or_else(|| {
            (
                Profile {
                    active: true,
                    ..Profile::default()
                },
                Vec::new(),
            )
        });
        body.push_str(&profile_form(app, user, &p, &errors, true));
    }
    Ok(page(Some(user), "Организации-исполнители", &body))
}

async fn add(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let p = profile_from_fields(&fields);
    let mut errors = validate(&p, &sections(&app));
    if errors.is_empty() && profile(&app.db, &p.ogrn).await?.is_some() {
        errors.push((
            "ogrn",
            format!(
                "ОГРН {}: организация уже есть в справочнике — измените её карточку",
                p.ogrn
            ),
        ));
    }
    if errors.is_empty() {
        save(&app, &p, &user.actor()).await?;
        return Ok(Redirect::to("/admin/organisations?done=org-saved").into_response());
    }
    let html = list_page(&app, &user, None, Some((p, errors)), "").await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response())
}

async fn edit_form(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(ogrn): Path<String>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let p = profile(&app.db, &ogrn)
        .await?
        .ok_or_else(|| PageError::not_found("Организация").for_user(&user))?;
    Ok(edit_page(&app, &user, &p, &[]))
}

fn edit_page(app: &App, user: &Principal, p: &Profile, errors: &[(&'static str, String)]) -> Html<String> {
    let title = format!("Организация «{}»", p.name);
    let mut body = format!(
        r#"<p><a href="/admin/organisations">← Все организации</a></p><h1>{}</h1>"#,
        esc(&title)
    );
    if user.can_write() && MANAGERS.contains(&user.role) {
        body.push_str(&profile_form(app, user, p, errors, false));
    } else {
        body.push_str(&format!(
            "<dl><dt>ОГРН</dt><dd>{}</dd><dt>ИНН</dt><dd>{}</dd><dt>Раздел</dt><dd>{}</dd><dt>Территория</dt><dd>{}</dd><dt>Тип</dt><dd>{}</dd><dt>ГИС ЕЦП</dt><dd>{}</dd><dt>Контактное лицо</dt><dd>{}</dd><dt>Телефон</dt><dd>{}</dd><dt>Эл. почта</dt><dd>{}</dd><dt>Действует</dt><dd>{}</dd></dl>",
            esc(&p.ogrn),
            opt(&p.inn),
            esc(&label_of(&sections(app), &p.department)),
            opt(&p.territory_code),
            opt(&p.executor_type),
            opt(&p.gis_ecp_id),
            opt(&p.contact_name),
            opt(&p.phone),
            opt(&p.email),
            if p.active { "да" } else { "нет" }
        ));
    }
    page(Some(user), &title, &body)
}

async fn edit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(ogrn): Path<String>,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    if profile(&app.db, &ogrn).await?.is_none() {
        return Err(PageError::not_found("Организация").for_user(&user));
    }
    let mut p = profile_from_fields(&fields);
    p.ogrn = ogrn;
    let errors = validate(&p, &sections(&app));
    if errors.is_empty() {
        save(&app, &p, &user.actor()).await?;
        return Ok(Redirect::to("/admin/organisations?done=org-saved").into_response());
    }
    Ok((StatusCode::UNPROCESSABLE_ENTITY, edit_page(&app, &user, &p, &errors)).into_response())
}

// ---- Routing rules ----

pub use directory::retire_rule;

struct RuleForm {
    section: String,
    territory: Option<String>,
    ogrn: String,
}

fn rule_from_fields(fields: &Fields) -> RuleForm {
    RuleForm {
        section: field(fields, "section").to_string(),
        territory: field_opt(fields, "territory_code"),
        ogrn: field(fields, "ogrn").to_string(),
    }
}

/// The field errors of a rule before preview or save.
async fn rule_errors(app: &App, rule: &RuleForm) -> Result<Vec<(&'static str, String)>> {
    let mut errors = Vec::new();
    if !sections(app).iter().any(|(c, _)| *c == rule.section) {
        errors.push(("section", "Раздел: выберите раздел из списка".to_string()));
    }
    match directory::organisation(&app.db, &rule.ogrn).await? {
        None => errors.push(("ogrn", "Исполнитель: выберите организацию из справочника".into())),
        Some(org) if org.department != rule.section && errors.is_empty() => errors.push((
            "ogrn",
            format!(
                "Исполнитель: организация исполняет раздел «{}», а не выбранный",
                label_of(&sections(app), &org.department)
            ),
        )),
        Some(org) if !org.active => errors.push(("ogrn", "Исполнитель: организация не действует".into())),
        _ => {}
    }
    Ok(errors)
}

async fn rules(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<Done>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    rules_page(&app, &user, q.done.as_deref(), None, &[], None).await
}

async fn rules_page(
    app: &App,
    user: &Principal,
    done: Option<&str>,
    form: Option<&RuleForm>,
    errors: &[(&'static str, String)],
    preview: Option<String>,
) -> Result<Html<String>, PageError> {
    let rules = directory::active_rules(&app.db).await?;
    let orgs = directory::list_organisations(&app.db).await?;
    let sections = sections(app);
    let org_name = |ogrn: &str| {
        orgs.iter()
            .find(|o| o.ogrn == ogrn)
            .map(|o| o.name.clone())
            .unwrap_or_else(|| ogrn.to_string())
    };
    let mut body =
        String::from(r#"<p><a href="/admin/organisations">← Организации</a></p><h1>Маршрутизация мероприятий</h1>"#);
    body.push_str(&done_notice(done));
    body.push_str(r#"<p class="muted">Правило назначает исполнителя раздела на территории; правило без территории действует во всём регионе.</p>"#);
    if let Some(p) = preview {
        body.push_str(&p);
    }
    let can = user.can_write() && MANAGERS.contains(&user.role);
    body.push_str(r#"<div class="table-wrap"><table class="adm-rules"><thead><tr><th>Раздел</th><th>Территория</th><th>Исполнитель</th><th class="hide-narrow">Установлено</th>"#);
    if can {
        body.push_str("<th>Действие</th>");
    }
    body.push_str("</tr></thead><tbody>");
    for r in &rules {
        body.push_str(&format!(
            r#"<tr id="rule-{}"><td>{}</td><td>{}</td><td>{} <span class="muted">{}</span></td><td class="hide-narrow">{} · {}</td>"#,
            r.id,
            esc(&label_of(&sections, &r.section)),
            r.territory_code
                .as_deref()
                .map(|t| esc(&label_of(&territories(app), t)))
                .unwrap_or_else(|| "весь регион".into()),
            esc(&org_name(&r.ogrn)),
            esc(&r.ogrn),
            dt(&r.created_at),
            esc(&r.created_by),
        ));
        if can {
            body.push_str(&format!(
                "<td>{}</td>",
                button_form(
                    user,
                    &format!("/admin/routing/{}/delete", r.id),
                    "Удалить",
                    "secondary",
                    Some("Удалить правило? Назначенные мероприятия останутся у исполнителя.")
                )
            ));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");
    if can {
        let err = |name: &str| errors.iter().find(|(k, _)| *k == name).map(|(_, e)| e.as_str());
        body.push_str(r#"<h2 id="rule-form">Новое правило</h2>"#);
        body.push_str(&format!(
            r#"<form method="post" action="/admin/routing/preview" class="filters adm-rule-form">{}"#,
            csrf_field(user)
        ));
        let mut s = vec![(String::new(), "— раздел —".to_string())];
        s.extend(sections.clone());
        body.push_str(&select(
            "section",
            "Раздел",
            &s,
            form.map(|f| f.section.as_str()).unwrap_or_default(),
            err("section"),
        ));
        let mut t = vec![(String::new(), "весь регион".to_string())];
        t.extend(territories(app));
        body.push_str(&select(
            "territory_code",
            "Территория",
            &t,
            form.and_then(|f| f.territory.as_deref()).unwrap_or_default(),
            None,
        ));
        let mut o = vec![(String::new(), "— организация —".to_string())];
        o.extend(orgs.iter().filter(|o| o.active).map(|o| {
            (
                o.ogrn.clone(),
                format!("{} ({}, {})", o.name, label_of(&sections, &o.department), o.ogrn),
            )
        }));
        body.push_str(&select(
            "ogrn",
            "Исполнитель",
            &o,
            form.map(|f| f.ogrn.as_str()).unwrap_or_default(),
            err("ogrn"),
        ));
        body.push_str(r#"<button type="submit">Предпросмотр</button></form>"#);
    }
    Ok(page(Some(user), "Маршрутизация мероприятий", &body))
}

async fn preview(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let rule = rule_from_fields(&fields);
    let errors = rule_errors(&app, &rule).await?;
    if !errors.is_empty() {
        let html = rules_page(&app, &user, None, Some(&rule), &errors, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    let moves = directory::preview_rule(&app.db, &rule.section, rule.territory.as_deref(), &rule.ogrn).await?;
    let orgs = directory::list_organisations(&app.db).await?;
    let org_name = |ogrn: &Option<String>| match ogrn {
        Some(o) => orgs
            .iter()
            .find(|x| x.ogrn == *o)
            .map(|x| format!("{} <span class=\"muted\">{}</span>", esc(&x.name), esc(o)))
            .unwrap_or_else(|| esc(o)),
        None => "не назначено".into(),
    };
    let territories = territories(&app);
    let mut p = String::from(r#"<section class="adm-preview notice" aria-live="polite"><h2>Предпросмотр правила</h2>"#);
    if moves.is_empty() {
        p.push_str("<p>Правило не переназначит ни одного открытого мероприятия.</p>");
    } else {
        p.push_str(&format!(
            r#"<p>Будет переназначено мероприятий: <strong class="adm-moves">{}</strong>.</p><div class="table-wrap"><table><thead><tr><th>ИПРА</th><th>Мероприятие</th><th>Территория</th><th>Было</th><th>Станет</th></tr></thead><tbody>"#,
            moves.len()
        ));
        for m in moves.iter().take(200) {
            p.push_str(&format!(
                r#"<tr><td><a href="/ipras/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
                m.ipra_id,
                esc(&m.ipra_number),
                esc(&m.measure_name),
                m.territory_code
                    .as_deref()
                    .map(|t| esc(&label_of(&territories, t)))
                    .unwrap_or_else(|| "—".into()),
                org_name(&m.from_ogrn),
                org_name(&Some(m.to_ogrn.clone()))
            ));
        }
        p.push_str("</tbody></table></div>");
        if moves.len() > 200 {
            p.push_str(&format!(
                "<p class=\"muted\">Показаны первые 200 из {}.</p>",
                moves.len()
            ));
        }
    }
    p.push_str(&format!(
        r#"<form method="post" action="/admin/routing" class="actions">{}<input type="hidden" name="section" value="{}"><input type="hidden" name="territory_code" value="{}"><input type="hidden" name="ogrn" value="{}"><button type="submit" id="rule-save">Сохранить правило</button><a href="/admin/routing">Отмена</a></form></section>"#,
        csrf_field(&user),
        esc(&rule.section),
        esc(rule.territory.as_deref().unwrap_or_default()),
        esc(&rule.ogrn)
    ));
    Ok(rules_page(&app, &user, None, Some(&rule), &[], Some(p))
        .await?
        .into_response())
}

async fn save_rule(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let rule = rule_from_fields(&fields);
    let errors = rule_errors(&app, &rule).await?;
    if !errors.is_empty() {
        let html = rules_page(&app, &user, None, Some(&rule), &errors, None).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    directory::set_rule(
        &app.db,
        &rule.section,
        rule.territory.as_deref(),
        &rule.ogrn,
        &user.actor(),
    )
    .await?;
    app.refresh_lookups().await?;
    Ok(Redirect::to("/admin/routing?done=rule-saved").into_response())
}

async fn delete_rule(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(fields): Form<Fields>,
) -> Result<Redirect, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    if !retire_rule(&app.db, id, &user.actor()).await? {
        return Err(PageError::not_found("Правило").for_user(&user));
    }
    app.refresh_lookups().await?;
    Ok(Redirect::to("/admin/routing?done=rule-deleted"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inn_check_digits() {
        assert!(check_inn("7707083893"));
        assert!(!check_inn("7707083894"));
        assert!(check_inn("500100732259"));
        assert!(!check_inn("50010073225"));
        assert!(!check_inn("77070838a3"));
    }

    #[test]
    fn profile_errors_name_the_field() {
        let sections = vec![("health".to_string(), "Здравоохранение".to_string())];
        let bad = Profile {
            ogrn: "1027700132196".into(),
            name: " ".into(),
            department: "sport".into(),
            email: Some("nope".into()),
            ..Profile::default()
        };
        let fields: Vec<&str> = validate(&bad, &sections).iter().map(|(f, _)| *f).collect();
        assert!(
            fields.contains(&"ogrn")
                && fields.contains(&"name")
                && fields.contains(&"department")
                && fields.contains(&"email"),
            "{fields:?}"
        );
    }
}
