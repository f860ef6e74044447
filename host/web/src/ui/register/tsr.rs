//! «Запрос на уточнение ТСР в бюро МСЭ» (порядок ФБ МСЭ для ИС МСЭ в ЕЦП): the block of the card's TSR section and of the execution
//! form that raises a request with the citizen's consent and shows the requests of the IPRA with their state,
//! the printed form of a request (PDF, as it goes to ИС МСЭ beside the XML), a request's page where one not yet
//! queued is changed or withdrawn, the list of every request (`/tsr-clarifications`: the coordinator's, an
//! executor's of its organisation) and the API twins.

use crate::app::App;
use crate::auth::web::{forbidden, require_write, Authenticated};
use crate::auth::Principal;
use crate::register::clarification::{self, Clarification, Printed, Raise};
use crate::register::execution::FieldError;
use crate::register::query::IpraCard;
use crate::ui::execution::pdf::Document;
use crate::ui::execution::{ru_date, ru_datetime};
use crate::ui::{check_csrf, csrf_field, esc, page, require_page_write, urlencode, PageError, PageUser};
use crate::ApiError;
use axum::extract::{Form, Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/ipras/{id}/tsr-clarification", axum::routing::post(raise_page))
        .route("/tsr-clarifications", get(all_page))
        .route("/tsr-clarifications/{id}", get(request_page).post(amend_page))
        .route("/tsr-clarifications/{id}/withdraw", axum::routing::post(withdraw_page))
        .route("/tsr-clarifications/{id}/print.pdf", get(print_page))
        .route("/api/v1/tsr-clarifications", get(all_api))
        .route("/api/v1/tsr-clarifications/{id}", get(one_api).put(amend_api))
        .route(
            "/api/v1/tsr-clarifications/{id}/withdraw",
            axum::routing::post(withdraw_api),
        )
        .route("/api/v1/ipras/{id}/tsr-clarifications", get(list_api).post(raise_api))
        .route("/api/v1/tsr-clarifications/{id}/pdf", get(print_api))
}

/// The printed form of a request (порядок ФБ МСЭ для ИС МСЭ в ЕЦП: the PDF file of the request the bureau files under «Документы»).
pub fn printed_form(p: &Printed) -> Vec<u8> {
    let mut doc = Document::new(&format!("Запрос на уточнение ТСР № {}", p.id));
    doc.text("Запрос на уточнение технического средства реабилитации", 15.0, 0.0, 1.0);
    doc.text(
        &format!(
            "в индивидуальной программе реабилитации или абилитации {}",
            if p.is_child {
                "ребёнка-инвалида"
            } else {
                "инвалида"
            }
        ),
        11.0,
        0.0,
        2.0,
    );
    doc.text(
        "(пункт 4(1) Правил обеспечения инвалидов техническими средствами реабилитации, постановление Правительства \
         Российской Федерации от 23.11.2022 № 2121; пункт 7 Порядка, утв. приказом Минтруда России от 26.06.2023 № 545н)",
        8.0,
        0.0,
        8.0,
    );
    doc.field("Номер запроса", &p.id.to_string(), 10.0);
    doc.field("Дата формирования", &ru_date(&p.created), 10.0);
    doc.field(
        "Кому",
        &format!(
            "{} (структурное подразделение, в котором проводилась МСЭ)",
            p.issued_by.as_deref().unwrap_or("федеральное учреждение МСЭ")
        ),
        10.0,
    );
    doc.field(
        "От кого",
        &format!(
            "{} (ОГРН {})",
            if p.sender_name.is_empty() {
                "—"
            } else {
                &p.sender_name
            },
            p.sender_ogrn
        ),
        10.0,
    );
    doc.rule(4.0);
    doc.field("Номер ИПРА", &p.ipra_number, 10.0);
    doc.field(
        "Протокол МСЭ",
        &format!("№ {} от {}", p.protocol_number, ru_date(&p.protocol_date)),
        10.0,
    );
    if let Some(d) = &p.decision_date {
        doc.field("Дата решения", &ru_date(d), 10.0);
    }
    doc.field("Гражданин", &p.full_name, 10.0);
    doc.field("СНИЛС", &crate::register::query::format_snils(&p.snils), 10.0);
    if let Some(b) = &p.birth_date {
        doc.field("Дата рождения", &ru_date(b), 10.0);
    }
    doc.field("Программа получена (представлена)", &ru_date(&p.received), 10.0);
    doc.field("Срок направления запроса", &ru_date(&p.due_date), 10.0);
    doc.field(
        "Согласие",
        &format!(
            "получено: {} (согласие на направление запроса в учреждение МСЭ)",
            clarification::consent_label(&p.consent_by)
        ),
        10.0,
    );
    doc.rule(4.0);
    doc.text("Технические средства реабилитации, требующие уточнения", 11.0, 0.0, 4.0);
    for (i, item) in p.items.iter().enumerate() {
        let mut line = format!("{}. {}", i + 1, item.name);
        if let Some(code) = &item.code {
            line.push_str(&format!(" (код {code})"));
        }
        if let Some(q) = &item.quantity {
            line.push_str(&format!(", количество {q}"));
        }
        doc.text(&line, 10.0, 0.0, 1.0);
        doc.text(
            &format!("Что не соответствует показаниям: {}", item.reason),
            9.0,
            14.0,
            4.0,
        );
    }
    doc.space(8.0);
    doc.field("Сформировал", &p.created_by, 9.0);
    doc.finish()
}

fn field_messages(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|e| match &e.field {
            Some(f) if !e.message.contains(f.as_str()) => format!("{f}: {}", e.message),
            _ => e.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether the user may raise a request on this IPRA (the card they see is already scoped).
fn may_raise(user: &Principal, card: &IpraCard) -> bool {
    user.can_write() && card.status == "active" && card.measures.iter().any(|m| m.section == clarification::SECTION)
}

/// The block «Запрос на уточнение ТСР в бюро МСЭ»: the requests of the IPRA with their state and printed forms,
/// and (for those who may) the form to raise one. `back` is the page the form returns to.
pub async fn section_html(
    app: &App,
    user: &Principal,
    card: &IpraCard,
    back: &str,
    notice: Option<&str>,
    alert: Option<&str>,
) -> anyhow::Result<String> {
    let tsr: Vec<_> = card
        .measures
        .iter()
        .filter(|m| m.section == clarification::SECTION)
        .collect();
    let requests = clarification::of_ipra(&app.db, card.id).await?;
    if tsr.is_empty() && requests.is_empty() {
        return Ok(String::new());
    }
    let mut html = String::from(
        r#"<section class="reg-tsr" id="tsr-clarification"><h3>Запрос на уточнение ТСР в бюро МСЭ</h3>
<p class="muted">Если вид, наименование или параметры ТСР не соответствуют перечню показаний, уполномоченный орган в течение 2 рабочих дней со дня получения программы (представления её гражданином) направляет с согласия гражданина запрос в учреждение МСЭ (ПП РФ № 2121, п. 4(1)).</p>"#,
    );
    if let Some(notice) = notice {
        html.push_str(&format!(
            r#"<p class="notice" role="status" id="tsr-notice">{}</p>"#,
            esc(notice)
        ));
    }
    if let Some(alert) = alert {
        html.push_str(&format!(
            r#"<p class="alert" role="alert" id="tsr-alert">{}</p>"#,
            esc(alert)
        ));
    }
    html.push_str(&requests_table(&requests));
    if may_raise(user, card) {
        // An item already being clarified is not asked about twice.
        let asked: Vec<&str> = requests
            .iter()
            .filter(|c| matches!(c.status.as_str(), "raised" | "sent"))
            .flat_map(|c| c.items.iter().map(|i| i.key.as_str()))
            .collect();
        let free: Vec<_> = tsr
            .iter()
            .copied()
            .filter(|m| m.status == "open" && !asked.contains(&m.key.as_str()))
            .collect();
        if free.is_empty() {
            html.push_str(
                r#"<p class="muted" id="tsr-none">Все ТСР этой ИПРА, которые ещё в работе, уже в открытых запросах.</p>"#,
            );
        } else {
            html.push_str(&raise_form(app, user, card, &free, back).await?);
        }
    }
    html.push_str("</section>");
    Ok(html)
}

fn requests_table(requests: &[Clarification]) -> String {
    if requests.is_empty() {
        return r#"<p class="muted" id="tsr-requests">Запросов по этой ИПРА не было.</p>"#.to_string();
    }
    let mut html = String::from(
        r#"<div class="table-wrap"><table id="tsr-requests"><thead><tr><th scope="col">№</th><th scope="col">ТСР</th><th scope="col">Программа получена</th><th scope="col">Срок отправки</th><th scope="col">Состояние</th><th scope="col" class="hide-narrow">Ответ</th><th scope="col">Печатная форма</th></tr></thead><tbody>"#,
    );
    for c in requests {
        let items: Vec<String> = c.items.iter().map(|i| esc(&i.name)).collect();
        let mut state = format!(
            r#"<span class="tsr-status-{}">{}</span>"#,
            esc(&c.status),
            clarification::status_label(&c.status)
        );
        if let Some(sent) = &c.sent_at {
            state.push_str(&format!("<br>отправлен {}", ru_datetime(sent)));
        }
        if let Some(new) = c.corrected_ipra_id {
            state.push_str(&format!(
                r#"<br>новая ИПРА: <a href="/ipras/{new}" class="tsr-corrected">№ {}</a>"#,
                esc(c.corrected_ipra_number.as_deref().unwrap_or("—"))
            ));
        }
        html.push_str(&format!(
            r#"<tr data-id="{id}"><td><a href="/tsr-clarifications/{id}" class="tsr-open">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{state}</td><td class="hide-narrow">{}</td><td><a href="/tsr-clarifications/{id}/print.pdf">PDF</a></td></tr>"#,
            items.join("; "),
            ru_date(&c.received_date),
            ru_date(&c.due_date),
            c.answer.as_deref().map(esc).unwrap_or_else(|| "—".into()),
            id = c.id,
        ));
    }
    html.push_str("</tbody></table></div>");
    html
}

async fn raise_form(
    app: &App,
    user: &Principal,
    card: &IpraCard,
    tsr: &[&crate::register::query::MeasureView],
    back: &str,
) -> anyhow::Result<String> {
    let default_received = clarification::received_day(&card.received_at);
    let mut html = format!(
        r#"<form method="post" action="/ipras/{}/tsr-clarification" class="stack tsr-form" id="tsr-form">{}<input type="hidden" name="back" value="{}"><fieldset><legend>ТСР, которые нужно уточнить</legend>"#,
        card.id,
        csrf_field(user),
        esc(back),
    );
    let only = tsr.len() == 1;
    for m in tsr {
        html.push_str(&format!(
            r#"<label class="adm-check" for="tsr-m-{id}"><input type="checkbox" id="tsr-m-{id}" name="measure" value="{id}"{}> {}{}</label>"#,
            if only { " checked" } else { "" },
            esc(&m.name),
            m.code.as_deref().map(|c| format!(" ({})", esc(c))).unwrap_or_default(),
            id = m.id,
        ));
    }
    html.push_str("</fieldset>");
    match user.scope() {
        Some(ogrn) => html.push_str(&format!(r#"<input type="hidden" name="sender" value="{}">"#, esc(ogrn))),
        None => {
            let assigned = tsr.iter().find_map(|m| m.assigned_ogrn.clone()).unwrap_or_default();
            let orgs = crate::register::directory::list_organisations(&app.db).await?;
            html.push_str(r#"<label for="tsr-sender">Уполномоченный орган, направляющий запрос</label><select id="tsr-sender" name="sender">"#);
            for o in orgs
                .iter()
                .filter(|o| o.department == clarification::SECTION || o.ogrn == assigned)
            {
                html.push_str(&format!(
                    r#"<option value="{}"{}>{} (ОГРН {})</option>"#,
                    esc(&o.ogrn),
                    if o.ogrn == assigned { " selected" } else { "" },
                    esc(&o.name),
                    esc(&o.ogrn)
                ));
            }
            html.push_str("</select>");
        }
    }
    html.push_str(&format!(
        r#"<label for="tsr-received">Дата получения (представления гражданином) программы</label><input type="date" id="tsr-received" name="received" value="{}" required>
<label for="tsr-reason">Что в виде, наименовании или параметрах ТСР не соответствует показаниям</label><textarea id="tsr-reason" name="reason" rows="3" required></textarea>
<fieldset><legend>Согласие</legend><label class="adm-check" for="tsr-consent"><input type="checkbox" id="tsr-consent" name="consent" value="true"> Гражданин (его представитель) согласен на направление запроса в учреждение МСЭ</label>
<label for="tsr-consent-by">Согласие дал</label><select id="tsr-consent-by" name="consent_by">{}</select></fieldset>
<button type="submit" id="tsr-raise">Сформировать запрос в бюро МСЭ</button></form>"#,
        esc(&default_received),
        clarification::CONSENT_BY
            .iter()
            .map(|(code, label)| format!(r#"<option value="{code}">{label}</option>"#))
            .collect::<String>(),
    ));
    Ok(html)
}

/// Where a form returns to: a page of this IPRA, never another site.
fn safe_back(back: &str, id: i64) -> String {
    let card = format!("/ipras/{id}");
    if back == card || back == format!("{card}/execution") {
        back.to_string()
    } else {
        card
    }
}

/// POST `/ipras/{id}/tsr-clarification`: raises the request, back to the page it came from with the outcome.
async fn raise_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| crate::ui::admin::field(&pairs, name).to_string();
    check_csrf(&user, &field("csrf")).map_err(|e| e.for_user(&user))?;
    require_page_write(&user).map_err(|e| e.for_user(&user))?;
    let card = crate::register::query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(&user))?;
    let back = safe_back(&field("back"), id);
    let mut measure_ids = Vec::new();
    for (k, v) in &pairs {
        if k == "measure" {
            let m: i64 = v
                .parse()
                .map_err(|_| PageError::bad_request(format!("мероприятие «{v}» не распознано")).for_user(&user))?;
            if !card.measures.iter().any(|x| x.id == m) {
                return Err(PageError::not_found("Мероприятие").for_user(&user));
            }
            measure_ids.push(m);
        }
    }
    let sender = field("sender");
    if user.scope().is_some_and(|o| o != sender) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let request = Raise {
        measure_ids,
        sender_ogrn: sender,
        consent: field("consent") == "true",
        consent_by: Some(field("consent_by")),
        received: Some(field("received")),
        reason: field("reason"),
    };
    let outcome = clarification::raise(&app, id, &request, &printed_form, &user.actor()).await;
    let query = match outcome {
        Ok(Ok(new)) => format!("tsr_raised={new}"),
        Ok(Err(errors)) => format!("tsr_error={}", urlencode(&field_messages(&errors))),
        Err(e) => match crate::refusal::Refusal::of(&e) {
            Some(refusal) => format!("tsr_error={}", urlencode(&refusal.to_string())),
            None => return Err(e.into()),
        },
    };
    Ok(Redirect::to(&format!("{back}?{query}#tsr-clarification")).into_response())
}

/// What a page that shows the block was told by the form's redirect.
#[derive(Deserialize, Default)]
pub struct Outcome {
    pub tsr_raised: Option<i64>,
    pub tsr_error: Option<String>,
}

impl Outcome {
    pub fn notice(&self) -> Option<String> {
        self.tsr_raised.map(|id| {
            format!(
                "Запрос на уточнение ТСР № {id} сформирован: он будет отправлен в ИС МСЭ с печатной формой заданием обмена «ИС МСЭ»."
            )
        })
    }

    pub fn alert(&self) -> Option<String> {
        self.tsr_error
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| format!("Запрос не сформирован: {e}"))
    }
}

/// The request if the user sees its IPRA (an executor within its scope, a bureau its institution's).
async fn visible(app: &App, user: &Principal, id: i64) -> anyhow::Result<Option<(Clarification, Vec<u8>)>> {
    let Some(request) = clarification::get(&app.db, id).await? else {
        return Ok(None);
    };
    if super::bureau::card(app, user, request.ipra_id).await?.is_none() {
        return Ok(None);
    }
    Ok(clarification::printed(&app.db, id)
        .await?
        .map(|(_, pdf)| (request, pdf)))
}

fn pdf(id: i64, bytes: Vec<u8>, download: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"tsr-clarification-{id}.pdf\"",
        if download { "attachment" } else { "inline" }
    );
    (
        [
            (header::CONTENT_TYPE, "application/pdf".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        bytes,
    )
        .into_response()
}

async fn print_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Result<Response, PageError> {
    let (request, bytes) = visible(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Запрос").for_user(&user))?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "tsr.clarification.print",
        &format!("ipra:{}", request.ipra_id),
        Some(&format!("запрос {id}")),
    )
    .await?;
    Ok(pdf(id, bytes, false))
}

/// GET `/api/v1/tsr-clarifications/{id}/pdf`.
async fn print_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let (request, bytes) = visible(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Запрос"))?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "tsr.clarification.print",
        &format!("ipra:{}", request.ipra_id),
        Some(&format!("запрос {id}")),
    )
    .await?;
    Ok(pdf(id, bytes, true))
}

/// GET `/api/v1/ipras/{id}/tsr-clarifications`: the requests of an IPRA the caller sees, with their state.
async fn list_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Vec<Clarification>>, ApiError> {
    super::bureau::card(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("ИПРА"))?;
    Ok(Json(clarification::of_ipra(&app.db, id).await?))
}

/// POST `/api/v1/ipras/{id}/tsr-clarifications`: raises a request (see [`Raise`]); an executor sends in its
/// own name and on an IPRA it works on.
async fn raise_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<Raise>,
) -> Result<Response, ApiError> {
    require_write(&user)?;
    if let Some(ogrn) = user.scope() {
        if ogrn != req.sender_ogrn.trim() {
            return Err(forbidden());
        }
        crate::register::query::ipra_card(&app.db, id, Some(ogrn))
            .await?
            .ok_or_else(|| ApiError::not_found("ИПРА"))?;
    }
    let outcome = clarification::raise(&app, id, &req, &printed_form, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(match outcome {
        Ok(new) => Json(json!({"ok": true, "result": [new]})).into_response(),
        Err(errors) => ApiError::invalid_fields(json!(errors)).into_response(),
    })
}

/// Requests per page of the list.
const PER_PAGE: u32 = 50;

/// Who reads the list of every request: everyone but a bureau (an executor its organisation's, as sender).
fn may_list(user: &Principal) -> bool {
    user.issuer_scope().is_none()
}

fn filter_params(f: &clarification::ListFilter) -> String {
    let mut out = String::new();
    for (name, value) in [
        ("status", &f.status),
        ("territory", &f.territory),
        ("from", &f.from),
        ("to", &f.to),
    ] {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            out.push_str(&format!("{name}={}&", urlencode(v)));
        }
    }
    if f.overdue == Some(true) {
        out.push_str("overdue=true&");
    }
    out
}

/// The list's filter from the query string (an empty `overdue` of the form's checkbox is "no").
#[derive(Deserialize, Default)]
struct ListQuery {
    status: Option<String>,
    overdue: Option<String>,
    territory: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
}

/// What `overdue` is not: anything but yes or no.
const OVERDUE_INVALID: &str = "«overdue»: ожидается true или false";

impl ListQuery {
    fn filter(self) -> Result<clarification::ListFilter, &'static str> {
        let overdue = match self.overdue.as_deref().map(str::trim) {
            None | Some("") => None,
            Some("true" | "1" | "on") => Some(true),
            Some("false" | "0" | "off") => Some(false),
            Some(_) => return Err(OVERDUE_INVALID),
        };
        Ok(clarification::ListFilter {
            status: self.status,
            overdue,
            territory: self.territory,
            from: self.from,
            to: self.to,
            before: self.before,
        })
    }
}

/// A page of the list read: its rows name IPRAs (personal data), so it is logged with the filter.
async fn log_list(app: &App, user: &Principal, filter: &clarification::ListFilter, ids: &[i64]) -> anyhow::Result<()> {
    crate::audit::record(
        &app.db,
        &user.actor(),
        "tsr.clarification.list",
        "tsr-clarifications",
        Some(&json!({"filter": filter_params(filter), "requests": ids}).to_string()),
    )
    .await
}

/// GET `/tsr-clarifications`: every TSR clarification request, newest first, filtered by state, overdue,
/// territory and the days raised; keyset pages.
async fn all_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    if !may_list(&user) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let filter = q
        .filter()
        .map_err(|message| PageError::bad_request(message.to_string()).for_user(&user))?;
    let found = match clarification::page(&app.db, &filter, user.scope(), PER_PAGE).await {
        Ok(found) => found,
        Err(e) => match crate::refusal::Refusal::of(&e) {
            Some(refusal) => return Err(PageError::bad_request(refusal.to_string()).for_user(&user)),
            None => return Err(e.into()),
        },
    };
    let ids: Vec<i64> = found.items.iter().map(|c| c.id).collect();
    log_list(&app, &user, &filter, &ids).await?;
    let value = |v: &Option<String>| esc(v.as_deref().unwrap_or_default());
    let mut body = String::from(
        r#"<h1>Запросы на уточнение ТСР в бюро МСЭ</h1><p class="muted">Запросы уполномоченного органа в учреждение МСЭ (ПП РФ № 2121, п. 4(1)): отправляются в течение 2 рабочих дней со дня получения программы; закрываются ответом ИС МСЭ или новой ИПРА.</p>"#,
    );
    body.push_str(r#"<form class="filters" method="get" action="/tsr-clarifications" id="tsr-filters"><label for="f-status">Состояние<select id="f-status" name="status"><option value="">все</option>"#);
    for (code, label) in clarification::LIST_STATUSES {
        body.push_str(&format!(
            r#"<option value="{code}"{}>{label}</option>"#,
            if filter.status.as_deref() == Some(code) {
                " selected"
            } else {
                ""
            }
        ));
    }
    body.push_str(&format!(
        r#"</select></label><label class="adm-check" for="f-overdue"><input type="checkbox" id="f-overdue" name="overdue" value="true"{}> не отправлены за 2 рабочих дня</label>
<label for="f-territory">Территория (код)<input id="f-territory" name="territory" value="{}"></label>
<label for="f-from">Сформирован с<input type="date" id="f-from" name="from" value="{}"></label>
<label for="f-to">по<input type="date" id="f-to" name="to" value="{}"></label>
<button type="submit" id="f-apply">Показать</button></form>"#,
        if filter.overdue == Some(true) { " checked" } else { "" },
        value(&filter.territory),
        value(&filter.from),
        value(&filter.to),
    ));
    body.push_str(&format!(
        r#"<p id="tsr-total">Запросов: {}{}</p>"#,
        if found.total_exact { "" } else { "более " },
        crate::ui::group_digits(found.total as u64)
    ));
    if found.items.is_empty() {
        body.push_str(r#"<p class="muted" id="tsr-empty">Запросов с такими условиями нет.</p>"#);
    } else {
        let today = crate::register::deadlines::format_date(crate::register::deadlines::today());
        body.push_str(r#"<div class="table-wrap"><table id="tsr-all"><thead><tr><th scope="col">№</th><th scope="col">ИПРА</th><th scope="col">ТСР</th><th scope="col">Сформирован</th><th scope="col">Срок отправки</th><th scope="col">Состояние</th><th scope="col" class="hide-narrow">Территория</th></tr></thead><tbody>"#);
        for c in &found.items {
            let late = c.status == "raised" && c.due_date.as_str() < today.as_str();
            body.push_str(&format!(
                r#"<tr data-id="{id}"{}><td><a href="/tsr-clarifications/{id}">{id}</a></td><td><a href="/ipras/{ipra}">№ {}</a></td><td>{}</td><td>{}</td><td>{}{}</td><td><span class="tsr-status-{}">{}</span></td><td class="hide-narrow">{}</td></tr>"#,
                if late { r#" class="ov-alarm""# } else { "" },
                esc(&c.ipra_number),
                c.items.iter().map(|i| esc(&i.name)).collect::<Vec<_>>().join("; "),
                c.raised_on.as_deref().map(ru_date).unwrap_or_else(|| ru_datetime(&c.created_at)),
                ru_date(&c.due_date),
                if late { " — просрочен" } else { "" },
                esc(&c.status),
                clarification::status_label(&c.status),
                c.territory_code.as_deref().map(esc).unwrap_or_else(|| "—".into()),
                id = c.id,
                ipra = c.ipra_id,
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    if let Some(next) = found.next {
        body.push_str(&crate::ui::keyset_pages(
            "/tsr-clarifications",
            &filter_params(&filter),
            next,
        ));
    }
    Ok(page(Some(&user), "Запросы на уточнение ТСР", &body))
}

/// GET `/api/v1/tsr-clarifications`: the list (query as the page's), newest first, keyset-paged by `before`.
async fn all_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<ListQuery>,
) -> Result<Json<crate::paging::Page<Clarification>>, ApiError> {
    if !may_list(&user) {
        return Err(forbidden());
    }
    let filter = q
        .filter()
        .map_err(|message| ApiError::bad_field(Some("overdue".into()), message.to_string()))?;
    let found = clarification::page(&app.db, &filter, user.scope(), PER_PAGE)
        .await
        .map_err(|e| match crate::refusal::Refusal::of(&e) {
            // A filter that does not parse is a bad request, naming its field.
            Some(crate::refusal::Refusal::Invalid { field, message }) => {
                ApiError::bad_field(Some(field.clone()), message.clone())
            }
            _ => ApiError::from(e),
        })?;
    let ids: Vec<i64> = found.items.iter().map(|c| c.id).collect();
    log_list(&app, &user, &filter, &ids).await?;
    Ok(Json(found))
}

/// A request the user sees (through its IPRA), for reading or changing.
async fn request_of(app: &App, user: &Principal, id: i64) -> anyhow::Result<Option<(Clarification, IpraCard)>> {
    let Some(request) = clarification::get(&app.db, id).await? else {
        return Ok(None);
    };
    Ok(super::bureau::card(app, user, request.ipra_id)
        .await?
        .map(|card| (request, card)))
}

/// Whether the request may still be changed or withdrawn by this user: raised, not queued, and theirs to send.
async fn may_change(app: &App, user: &Principal, c: &Clarification) -> anyhow::Result<bool> {
    if !user.can_write() || c.status != "raised" || user.scope().is_some_and(|o| o != c.sender_ogrn) {
        return Ok(false);
    }
    Ok(!clarification::queued(&app.db, c.id).await?)
}

#[derive(Deserialize, Default)]
struct RequestQuery {
    done: Option<String>,
    error: Option<String>,
}

/// GET `/tsr-clarifications/{id}`: a request with its state; while not queued, the form that changes it and
/// the one that withdraws it.
async fn request_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<RequestQuery>,
) -> Result<Html<String>, PageError> {
    let (c, card) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Запрос").for_user(&user))?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "tsr.clarification.read",
        &format!("ipra:{}", c.ipra_id),
        Some(&format!("запрос {id}")),
    )
    .await?;
    let mut body = format!(
        r#"<h1>Запрос на уточнение ТСР № {id}</h1><p><a href="/ipras/{ipra}#tsr-clarification">← ИПРА № {}</a> · <a href="/tsr-clarifications">все запросы</a> · <a href="/tsr-clarifications/{id}/print.pdf">печатная форма (PDF)</a></p>"#,
        esc(&c.ipra_number),
        ipra = c.ipra_id,
    );
    match q.done.as_deref() {
        Some("saved") => body.push_str(r#"<p class="notice" role="status" id="tsr-notice">Запрос изменён: печатная форма сформирована заново.</p>"#),
        Some("withdrawn") => body.push_str(r#"<p class="notice" role="status" id="tsr-notice">Запрос отозван: он не будет отправлен в ИС МСЭ.</p>"#),
        _ => {}
    }
    if let Some(e) = q.error.as_deref().filter(|e| !e.trim().is_empty()) {
        body.push_str(&format!(
            r#"<p class="alert" role="alert" id="tsr-alert">{}</p>"#,
            esc(e)
        ));
    }
    body.push_str(&format!(
        r#"<dl class="tsr-request" id="tsr-request"><dt>Состояние</dt><dd id="tsr-state">{}</dd><dt>ТСР</dt><dd>{}</dd><dt>Программа получена</dt><dd id="tsr-received-shown">{}</dd><dt>Срок отправки</dt><dd id="tsr-due">{}</dd><dt>Согласие дал</dt><dd>{}</dd><dt>Причина</dt><dd>{}</dd><dt>Ответ</dt><dd>{}</dd></dl>"#,
        clarification::status_label(&c.status),
        c.items.iter().map(|i| esc(&i.name)).collect::<Vec<_>>().join("; "),
        ru_date(&c.received_date),
        ru_date(&c.due_date),
        clarification::consent_label(&c.consent_by),
        esc(&c.reason),
        c.answer.as_deref().map(esc).unwrap_or_else(|| "—".into()),
    ));
    if may_change(&app, &user, &c).await? {
        body.push_str(&amend_form(&app, &user, &card, &c).await?);
        body.push_str(&format!(
            r#"<form method="post" action="/tsr-clarifications/{id}/withdraw" class="stack" id="tsr-withdraw-form">{}<label for="tsr-withdraw-reason">Почему запрос отзывается</label><textarea id="tsr-withdraw-reason" name="reason" rows="2" required></textarea><button type="submit" id="tsr-withdraw" class="danger">Отозвать запрос</button></form>"#,
            csrf_field(&user)
        ));
    } else if c.status == "raised" {
        body.push_str(r#"<p class="muted" id="tsr-locked">Запрос поставлен в очередь отправки в ИС МСЭ: изменить или отозвать его уже нельзя.</p>"#);
    }
    Ok(page(Some(&user), &format!("Запрос на уточнение ТСР № {id}"), &body))
}

async fn amend_form(app: &App, user: &Principal, card: &IpraCard, c: &Clarification) -> anyhow::Result<String> {
    let others = clarification::of_ipra(&app.db, card.id).await?;
    let asked: Vec<&str> = others
        .iter()
        .filter(|o| o.id != c.id && matches!(o.status.as_str(), "raised" | "sent"))
        .flat_map(|o| o.items.iter().map(|i| i.key.as_str()))
        .collect();
    let mine: Vec<&str> = c.items.iter().map(|i| i.key.as_str()).collect();
    let mut html = format!(
        r#"<h2>Изменить запрос</h2><form method="post" action="/tsr-clarifications/{}" class="stack tsr-form" id="tsr-edit-form">{}<fieldset><legend>ТСР, которые нужно уточнить</legend>"#,
        c.id,
        csrf_field(user),
    );
    for m in card
        .measures
        .iter()
        .filter(|m| m.section == clarification::SECTION && !asked.contains(&m.key.as_str()))
        .filter(|m| m.status == "open" || mine.contains(&m.key.as_str()))
    {
        html.push_str(&format!(
            r#"<label class="adm-check" for="tsr-m-{id}"><input type="checkbox" id="tsr-m-{id}" name="measure" value="{id}"{}> {}</label>"#,
            if mine.contains(&m.key.as_str()) { " checked" } else { "" },
            esc(&m.name),
            id = m.id,
        ));
    }
    html.push_str(&format!(
        r#"</fieldset><input type="hidden" name="sender" value="{}">
<label for="tsr-received">Дата получения (представления гражданином) программы</label><input type="date" id="tsr-received" name="received" value="{}" required>
<label for="tsr-reason">Что в виде, наименовании или параметрах ТСР не соответствует показаниям</label><textarea id="tsr-reason" name="reason" rows="3" required>{}</textarea>
<fieldset><legend>Согласие</legend><label class="adm-check" for="tsr-consent"><input type="checkbox" id="tsr-consent" name="consent" value="true" checked> Гражданин (его представитель) согласен на направление запроса в учреждение МСЭ</label>
<label for="tsr-consent-by">Согласие дал</label><select id="tsr-consent-by" name="consent_by">{}</select></fieldset>
<button type="submit" id="tsr-save">Сохранить изменения</button></form>"#,
        esc(&c.sender_ogrn),
        esc(&c.received_date),
        esc(&c.reason),
        clarification::CONSENT_BY
            .iter()
            .map(|(code, label)| format!(
                r#"<option value="{code}"{}>{label}</option>"#,
                if *code == c.consent_by { " selected" } else { "" }
            ))
            .collect::<String>(),
    ));
    Ok(html)
}

fn outcome_query(outcome: anyhow::Result<Result<(), Vec<FieldError>>>, done: &str) -> Result<String, PageError> {
    Ok(match outcome {
        Ok(Ok(())) => format!("done={done}"),
        Ok(Err(errors)) => format!("error={}", urlencode(&field_messages(&errors))),
        Err(e) => match crate::refusal::Refusal::of(&e) {
            Some(refusal) => format!("error={}", urlencode(&refusal.to_string())),
            None => return Err(e.into()),
        },
    })
}

/// POST `/tsr-clarifications/{id}`: the request changed from its page.
async fn amend_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| crate::ui::admin::field(&pairs, name).to_string();
    check_csrf(&user, &field("csrf")).map_err(|e| e.for_user(&user))?;
    require_page_write(&user).map_err(|e| e.for_user(&user))?;
    let (c, card) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Запрос").for_user(&user))?;
    let mut measure_ids = Vec::new();
    for (k, v) in &pairs {
        if k == "measure" {
            let m: i64 = v
                .parse()
                .map_err(|_| PageError::bad_request(format!("мероприятие «{v}» не распознано")).for_user(&user))?;
            if !card.measures.iter().any(|x| x.id == m) {
                return Err(PageError::not_found("Мероприятие").for_user(&user));
            }
            measure_ids.push(m);
        }
    }
    let sender = field("sender");
    if user.scope().is_some_and(|o| o != sender || o != c.sender_ogrn) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let request = Raise {
        measure_ids,
        sender_ogrn: sender,
        consent: field("consent") == "true",
        consent_by: Some(field("consent_by")),
        received: Some(field("received")),
        reason: field("reason"),
    };
    let outcome = clarification::amend(&app, id, &request, &printed_form, &user.actor()).await;
    let query = outcome_query(outcome, "saved")?;
    Ok(Redirect::to(&format!("/tsr-clarifications/{id}?{query}")).into_response())
}

/// POST `/tsr-clarifications/{id}/withdraw`: «Отозвать запрос».
async fn withdraw_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| crate::ui::admin::field(&pairs, name).to_string();
    check_csrf(&user, &field("csrf")).map_err(|e| e.for_user(&user))?;
    require_page_write(&user).map_err(|e| e.for_user(&user))?;
    let (c, _) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Запрос").for_user(&user))?;
    if user.scope().is_some_and(|o| o != c.sender_ogrn) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let outcome = clarification::withdraw(&app, id, &field("reason"), &user.actor())
        .await
        .map(Ok);
    let query = outcome_query(outcome, "withdrawn")?;
    Ok(Redirect::to(&format!("/tsr-clarifications/{id}?{query}")).into_response())
}

/// GET `/api/v1/tsr-clarifications/{id}`: one request the caller sees.
async fn one_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Json<Clarification>, ApiError> {
    let (c, _) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Запрос"))?;
    Ok(Json(c))
}

/// PUT `/api/v1/tsr-clarifications/{id}`: changes a request not yet queued (the body as raising takes it).
async fn amend_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<Raise>,
) -> Result<Response, ApiError> {
    require_write(&user)?;
    let (c, _) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Запрос"))?;
    if user
        .scope()
        .is_some_and(|o| o != req.sender_ogrn.trim() || o != c.sender_ogrn)
    {
        return Err(forbidden());
    }
    let outcome = clarification::amend(&app, id, &req, &printed_form, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(match outcome {
        Ok(()) => Json(json!({"ok": true, "result": [id]})).into_response(),
        Err(errors) => ApiError::invalid_fields(json!(errors)).into_response(),
    })
}

/// Why a request is withdrawn.
#[derive(Deserialize, schemars::JsonSchema)]
pub struct Withdraw {
    pub reason: String,
}

/// POST `/api/v1/tsr-clarifications/{id}/withdraw`: withdraws a request not yet queued.
async fn withdraw_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
    Json(req): Json<Withdraw>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_write(&user)?;
    let (c, _) = request_of(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Запрос"))?;
    if user.scope().is_some_and(|o| o != c.sender_ogrn) {
        return Err(forbidden());
    }
    clarification::withdraw(&app, id, &req.reason, &user.actor())
        .await
        .map_err(ApiError::refused)?;
    Ok(Json(json!({"ok": true, "result": [id]})))
}
