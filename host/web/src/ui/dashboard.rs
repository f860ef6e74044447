//! «Контроль сроков»: the coordinator's dashboard. Cards with what needs attention (open,
//! overdue and soon due measures, the unassigned queue, reports awaiting signature, failed
//! exchange messages, ZAGS records awaiting a decision, TSR clarification requests), the workload
//! by organisation, section and territory, the sortable paged list of overdue measures with its
//! export, and the queue of measures without an executor, assigned here by a coordinator or an
//! administrator (the auditor sees it read-only). API: `/api/v1/dashboard`,
//! `/api/v1/dashboard/overdue`, `/api/v1/dashboard/overdue/export`, `/api/v1/dashboard/unassigned`;
//! assignment is `/api/v1/measures/{id}/assign`.

use super::stats::{ru_date, Names, OrganisationField, OVERSEERS};
use super::{check_csrf, csrf_field, esc, page, require_page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::web::require;
use crate::auth::web::Authenticated;
use crate::auth::{Principal, Role};
use crate::export::{Cell, Format, Table};
use crate::register::deadlines;
use crate::register::directory;
use crate::register::facts;
use crate::register::workload::{self, ListQuery, MeasureLine, MeasurePage, Which, WorkloadRow};
use crate::ApiError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Who assigns measures by hand.
const MANAGERS: &[Role] = &[Role::Administrator, Role::Coordinator];
/// «Due soon»: within this many calendar days.
use workload::SOON_DAYS;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/dashboard", get(dashboard_page))
        .route("/dashboard/assign", post(assign_form))
        .route("/dashboard/overdue/export", get(export_page))
        .route("/dashboard/workload/export", get(workload_export_page))
        .route("/api/v1/dashboard", get(api_dashboard))
        .route("/api/v1/dashboard/overdue", get(api_overdue))
        .route("/api/v1/dashboard/overdue/export", get(api_export))
        .route("/api/v1/dashboard/unassigned", get(api_unassigned))
}

fn today() -> String {
    deadlines::format_date(deadlines::today())
}

/// The page's query: the overdue list's filter, order and page, the queue's page, and the
/// measure just assigned (for the notice).
/// Numbers are read leniently: a page number that is not one is the first page.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct DashboardQuery {
    pub section: Option<String>,
    pub org: Option<String>,
    pub territory: Option<String>,
    pub sort: Option<String>,
    pub page: Option<String>,
    pub per_page: Option<String>,
    pub qpage: Option<String>,
    /// The page of the workload table by organisation.
    pub opage: Option<String>,
    /// The queue's own filter.
    pub qsection: Option<String>,
    pub qterritory: Option<String>,
    pub assigned: Option<String>,
    pub format: Option<String>,
}

fn number<T: std::str::FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().and_then(|v| v.trim().parse().ok())
}

impl DashboardQuery {
    /// The API refuses an order it does not know and a page that is not a number (the pages fall
    /// back to the defaults).
    fn check(&self) -> Result<(), ApiError> {
        for (field, value) in [("page", &self.page), ("per_page", &self.per_page)] {
            let text = value.as_deref().map(str::trim).unwrap_or_default();
            if !text.is_empty() && text.parse::<u32>().is_err() {
                return Err(ApiError::bad_field(
                    Some(field.into()),
                    format!("«{text}»: номер страницы и число строк на странице — целые неотрицательные числа."),
                ));
            }
        }
        match self.sort.as_deref().map(str::trim) {
            Some(s) if !s.is_empty() && !workload::SORTS.contains(&s) => Err(ApiError::bad_field(
                Some("sort".into()),
                format!("Порядок «{s}» не известен: due, -due, number, -number, section, org или name."),
            )),
            _ => Ok(()),
        }
    }

    fn list(&self) -> ListQuery {
        clean(&ListQuery {
            section: self.section.clone(),
            org: self.org.clone(),
            territory: self.territory.clone(),
            sort: self.sort.clone(),
            page: number(&self.page),
            per_page: number(&self.per_page),
        })
    }
}

/// Empty filters are not given; an unknown order is the default one.
fn clean(q: &ListQuery) -> ListQuery {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(String::from);
    ListQuery {
        section: given(&q.section),
        org: given(&q.org),
        territory: given(&q.territory),
        sort: given(&q.sort).filter(|s| workload::SORTS.contains(&s.as_str())),
        page: q.page,
        per_page: q.per_page,
    }
}

fn list_query_string(q: &ListQuery, sort: Option<&str>, page: Option<u32>) -> String {
    let mut parts = Vec::new();
    for (k, v) in [("section", &q.section), ("org", &q.org), ("territory", &q.territory)] {
        if let Some(v) = v {
            parts.push(format!("{k}={}", urlencode(v)));
        }
    }
    if let Some(s) = sort.or(q.sort.as_deref()) {
        parts.push(format!("sort={}", urlencode(s)));
    }
    if let Some(p) = page {
        parts.push(format!("page={p}"));
    }
    if let Some(n) = q.per_page {
        parts.push(format!("per_page={n}"));
    }
    parts.join("&")
}

/// All the dashboard's data, for the page and the API.
pub struct Dashboard {
    pub cards: workload::Cards,
    pub by_organisation: Vec<WorkloadRow>,
    pub by_section: Vec<WorkloadRow>,
    pub by_territory: Vec<WorkloadRow>,
}

async fn load(app: &App, today: &str) -> anyhow::Result<Dashboard> {
    let mut figures = facts::dashboard(&app.facts, &app.db, today, SOON_DAYS).await?;
    let by_organisation = named(app, std::mem::take(&mut figures.by_organisation)).await?;
    Ok(Dashboard {
        cards: workload::cards(&app.db, &figures, today, SOON_DAYS).await?,
        by_organisation,
        by_section: figures.by_section,
        by_territory: figures.by_territory,
    })
}

/// Workload rows by organisation with the organisations' names.
async fn named(app: &App, mut rows: Vec<WorkloadRow>) -> anyhow::Result<Vec<WorkloadRow>> {
    let names = directory::organisation_names(&app.db).await?;
    for row in &mut rows {
        row.name = row.key.as_ref().and_then(|k| names.get(k).cloned());
    }
    Ok(rows)
}

/// Rows of the workload table by organisation on one page.
const ORG_ROWS: usize = 25;

/// The workload rows most behind first: the measures without an executor, then by overdue
/// measures, then by measures in work.
fn by_lag(mut rows: Vec<WorkloadRow>) -> Vec<WorkloadRow> {
    rows.sort_by(|a, b| {
        (
            a.key.is_some(),
            std::cmp::Reverse(a.overdue),
            std::cmp::Reverse(a.in_work),
            &a.key,
        )
            .cmp(&(
                b.key.is_some(),
                std::cmp::Reverse(b.overdue),
                std::cmp::Reverse(b.in_work),
                &b.key,
            ))
    });
    rows
}

/// Where the workload table by organisation stands, its pages and its download.
fn org_pager(page: usize, pages: usize, rows: usize) -> String {
    let mut out = format!(
        r#"<nav class="pages" aria-label="Страницы нагрузки по организациям"><span>Организаций: {rows}; сначала — с наибольшей просрочкой.</span>"#
    );
    if page > 1 {
        out.push_str(&format!(
            r##"<a href="/dashboard?opage={}#by-organisation" rel="prev">← Предыдущие</a>"##,
            page - 1
        ));
    }
    if pages > 1 {
        out.push_str(&format!("<span>Страница {page} из {pages}</span>"));
    }
    if page < pages {
        out.push_str(&format!(
            r##"<a href="/dashboard?opage={}#by-organisation" rel="next">Следующие →</a>"##,
            page + 1
        ));
    }
    out.push_str(r#"<span>Выгрузить всю таблицу: <a href="/dashboard/workload/export?format=csv" download>CSV</a> · <a href="/dashboard/workload/export?format=xlsx" download>XLSX</a></span></nav>"#);
    out
}

fn card(id: &str, label: &str, value: i64, href: Option<&str>, class: &str, note: &str) -> String {
    let value_html = match href {
        Some(h) => format!(r#"<a href="{}">{value}</a>"#, esc(h)),
        None => value.to_string(),
    };
    format!(
        r#"<div class="card ov-card {class}" id="card-{id}"><div class="value">{value_html}</div><div>{}</div>{}</div>"#,
        esc(label),
        if note.is_empty() {
            String::new()
        } else {
            format!(r#"<div class="muted">{}</div>"#, esc(note))
        }
    )
}

fn cards_html(c: &workload::Cards) -> String {
    let late = if c.overdue > 0 { "ov-alarm" } else { "" };
    [
        card("open", "Мероприятий в работе", c.open, None, "", ""),
        card(
            "overdue",
            "Просрочено",
            c.overdue,
            Some("#overdue"),
            late,
            "срок исполнения истёк",
        ),
        card(
            "soon",
            "Срок в ближайшие 7 дней",
            c.due_soon,
            None,
            "",
            &format!("до {}", ru_date(&soon_date(&c.today, c.soon_days))),
        ),
        card(
            "unassigned",
            "Без исполнителя",
            c.unassigned,
            Some("#queue"),
            if c.unassigned > 0 { "ov-warn" } else { "" },
            "очередь координатора",
        ),
        card(
            "signature",
            "Отчётов ждут подписи",
            c.reports_awaiting_signature,
            Some("/reports?status=awaiting-signature"),
            "",
            "",
        ),
        card(
            "messages",
            "Ошибок обмена",
            c.failed_messages,
            None,
            if c.failed_messages > 0 { "ov-warn" } else { "" },
            "сообщения со статусом «ошибка»",
        ),
        card("deaths", "Сведений ЗАГС ждут решения", c.pending_deaths, None, "", ""),
        card(
            "tsr",
            "Запросов на уточнение ТСР в бюро МСЭ",
            c.tsr_clarifications_open,
            Some("/tsr-clarifications?status=open"),
            if c.tsr_clarifications_overdue > 0 {
                "ov-alarm"
            } else {
                ""
            },
            &format!(
                "не закрыты (ждут отправки или ответа ИС МСЭ); не отправлено за 2 рабочих дня: {}",
                c.tsr_clarifications_overdue
            ),
        ),
    ]
    .concat()
}

fn soon_date(today: &str, days: i64) -> String {
    deadlines::parse_date(today)
        .map(|d| deadlines::format_date(d + time::Duration::days(days)))
        .unwrap_or_default()
}

/// A workload table; `link` makes the key's filter of the overdue list.
fn workload_table(
    id: &str,
    caption: &str,
    first: &str,
    rows: &[WorkloadRow],
    label: impl Fn(&WorkloadRow) -> String,
    filter: &str,
) -> String {
    let mut out = format!(
        r#"<div class="table-wrap"><table class="ov-workload" id="{id}"><caption>{}</caption><thead><tr><th scope="col">{}</th><th scope="col" class="num">Назначено</th><th scope="col" class="num">В работе</th><th scope="col" class="num">Выполнено</th><th scope="col" class="num hide-narrow">Не выполнено</th><th scope="col" class="num">Просрочено</th><th scope="col" class="hide-narrow">Самый ранний просроченный срок</th></tr></thead><tbody>"#,
        esc(caption),
        esc(first)
    );
    if rows.is_empty() {
        out.push_str(r#"<tr><td colspan="7" class="muted">Мероприятий нет.</td></tr>"#);
    }
    for r in rows {
        let overdue = match (&r.key, r.overdue) {
            (Some(key), n) if n > 0 => format!(
                r##"<a href="/dashboard?{filter}={}#overdue" title="Показать просроченные">{n}</a>"##,
                esc(&urlencode(key))
            ),
            (_, n) => n.to_string(),
        };
        out.push_str(&format!(
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num hide-narrow">{}</td><td class="num{}">{overdue}</td><td class="hide-narrow">{}</td></tr>"#,
            label(r),
            r.assigned,
            r.in_work,
            r.executed,
            r.not_executed,
            if r.overdue > 0 { " bad" } else { "" },
            r.oldest_overdue.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
        ));
    }
    out.push_str("</tbody></table></div>");
    out
}

fn sort_header(q: &ListQuery, key: &str, label: &str, class: &str) -> String {
    let current = q.sort.as_deref().unwrap_or("due");
    let (next, aria) = if current == key {
        let flipped = key
            .strip_prefix('-')
            .map(str::to_string)
            .unwrap_or_else(|| format!("-{key}"));
        let next = if workload::SORTS.contains(&flipped.as_str()) {
            flipped
        } else {
            key.to_string()
        };
        (next, r#" aria-sort="ascending""#)
    } else if current.strip_prefix('-') == Some(key) {
        (key.to_string(), r#" aria-sort="descending""#)
    } else {
        (key.to_string(), "")
    };
    let qs = list_query_string(q, Some(&next), None);
    format!(
        r##"<th scope="col" class="{class}"{aria}><a href="/dashboard?{}#overdue">{}</a></th>"##,
        esc(&qs),
        esc(label)
    )
}

fn overdue_html(page_data: &MeasurePage, q: &ListQuery, names: &Names, org_problem: Option<&str>) -> String {
    let qs = list_query_string(q, None, None);
    let sep = if qs.is_empty() { "" } else { "&" };
    let (org_error, org_invalid) = match org_problem {
        Some(message) => (
            format!(
                r#"<span class="field-error" id="f-org-error" role="alert">{}</span>"#,
                esc(message)
            ),
            r#" aria-invalid="true" aria-describedby="f-org-error""#,
        ),
        None => (String::new(), ""),
    };
    let mut out = format!(
        r#"<h2 id="overdue">Просроченные мероприятия <span class="muted">({total})</span></h2>
<form class="filters ov-filters" method="get" action="/dashboard#overdue" aria-label="Отбор просроченных">
<label for="f-section">Раздел<select id="f-section" name="section">{sections}</select></label>
<label for="f-org">Организация{orgs}{org_error}</label>
<label for="f-territory">Территория<select id="f-territory" name="territory">{territories}</select></label>
<input type="hidden" name="sort" value="{sort}">
<div class="actions"><button type="submit">Показать</button> <a class="button secondary" href="/dashboard#overdue">Сбросить</a></div>
</form>
<p class="ov-export">Выгрузить список: <a href="/dashboard/overdue/export?format=csv{sep}{qse}" download>CSV</a> · <a href="/dashboard/overdue/export?format=xlsx{sep}{qse}" download>XLSX</a></p>"#,
        total = page_data.total,
        sections = Names::options("Все разделы", &names.sections, q.section.as_deref()),
        orgs = OrganisationField {
            id: "f-org",
            name: "org",
            candidates: &names.organisation_items(),
            all: Some("Все организации"),
            value: q.org.as_deref(),
            section: None,
            attrs: org_invalid,
        }
        .html(),
        territories = Names::options("Все территории", &names.territories, q.territory.as_deref()),
        sort = esc(q.sort.as_deref().unwrap_or("due")),
        qse = esc(&qs),
    );
    out.push_str(r#"<div class="table-wrap"><table class="ov-overdue" id="overdue-table"><thead><tr>"#);
    out.push_str(&sort_header(q, "number", "ИПРА №", ""));
    out.push_str(r#"<th scope="col" class="hide-narrow">СНИЛС</th>"#);
    out.push_str(&sort_header(q, "name", "ФИО", ""));
    out.push_str(&sort_header(q, "section", "Раздел", "hide-narrow"));
    out.push_str(r#"<th scope="col">Мероприятие</th>"#);
    out.push_str(&sort_header(q, "org", "Исполнитель", "hide-narrow"));
    out.push_str(&sort_header(q, "due", "Срок", ""));
    out.push_str(r#"<th scope="col" class="num">Дней просрочки</th></tr></thead><tbody>"#);
    if page_data.items.is_empty() {
        out.push_str(r#"<tr><td colspan="8" class="muted">Просроченных мероприятий нет.</td></tr>"#);
    }
    for m in &page_data.items {
        out.push_str(&format!(
            r#"<tr data-measure="{}"><td><a href="/ipras/{}">{}</a></td><td class="hide-narrow ov-nowrap">{}</td><td>{}</td><td class="hide-narrow">{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="ov-nowrap">{}</td><td class="num bad">{}</td></tr>"#,
            m.measure_id,
            m.ipra_id,
            esc(&m.ipra_number),
            esc(&m.snils),
            esc(&m.full_name),
            esc(&names.section(&m.section)),
            esc(&m.measure),
            esc(&m.organisation.clone().unwrap_or_else(|| names.organisation(m.ogrn.as_deref()))),
            m.due_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
            m.days_overdue
        ));
    }
    out.push_str("</tbody></table></div>");
    out.push_str(&pager(page_data, |p| {
        format!("/dashboard?{}#overdue", list_query_string(q, None, Some(p)))
    }));
    out
}

fn pager(p: &MeasurePage, link: impl Fn(u32) -> String) -> String {
    let pages = ((p.total.max(0) as u64).div_ceil(p.per_page as u64)).max(1) as u32;
    if pages <= 1 {
        return String::new();
    }
    let mut out = String::from(r#"<nav class="pages" aria-label="Страницы">"#);
    if p.page > 1 {
        out.push_str(&format!(
            r#"<a href="{}" rel="prev">← Предыдущая</a>"#,
            esc(&link(p.page - 1))
        ));
    }
    out.push_str(&format!("<span>Страница {} из {pages}</span>", p.page));
    if p.page < pages {
        out.push_str(&format!(
            r#"<a href="{}" rel="next">Следующая →</a>"#,
            esc(&link(p.page + 1))
        ));
    }
    out.push_str("</nav>");
    out
}

/// A problem with an assignment: the measure and the message shown next to its field.
type AssignProblem = (i64, String);

fn queue_html(
    user: &Principal,
    queue: &MeasurePage,
    filter: &ListQuery,
    names: &Names,
    organisations: &[directory::Organisation],
    problem: Option<&AssignProblem>,
) -> String {
    let can_assign = MANAGERS.contains(&user.role);
    let mut out = format!(
        r#"<h2 id="queue">Очередь без исполнителя <span class="muted">({total})</span></h2>
<form class="filters ov-filters" method="get" action="/dashboard#queue" aria-label="Отбор очереди">
<label for="q-section">Раздел<select id="q-section" name="qsection">{sections}</select></label>
<label for="q-territory">Территория<select id="q-territory" name="qterritory">{territories}</select></label>
<div class="actions"><button type="submit">Показать</button> <a class="button secondary" href="/dashboard#queue">Сбросить</a></div>
</form>"#,
        total = queue.total,
        sections = Names::options("Все разделы", &names.sections, filter.section.as_deref()),
        territories = Names::options("Все территории", &names.territories, filter.territory.as_deref()),
    );
    if !can_assign {
        out.push_str(
            r#"<p class="muted">Только просмотр: назначать исполнителей могут координатор и администратор.</p>"#,
        );
    } else {
        out.push_str(r#"<p class="muted">Мероприятия, для которых правила маршрутизации не нашли исполнителя. Выберите организацию раздела и нажмите «Назначить».</p>"#);
    }
    out.push_str(r#"<div class="table-wrap"><table class="ov-queue" id="queue-table"><thead><tr><th scope="col">ИПРА №</th><th scope="col" class="hide-narrow">СНИЛС</th><th scope="col">ФИО</th><th scope="col" class="hide-narrow">Территория</th><th scope="col">Раздел</th><th scope="col">Мероприятие</th><th scope="col" class="hide-narrow">Поступила</th>"#);
    if can_assign {
        out.push_str(r#"<th scope="col">Назначить исполнителя</th>"#);
    }
    out.push_str("</tr></thead><tbody>");
    if queue.items.is_empty() {
        out.push_str(
            r#"<tr><td colspan="8" class="muted">Очередь пуста: у всех мероприятий есть исполнитель.</td></tr>"#,
        );
    }
    for m in &queue.items {
        out.push_str(&format!(
            r#"<tr data-measure="{}"><td><a href="/ipras/{}">{}</a></td><td class="hide-narrow ov-nowrap">{}</td><td>{}</td><td class="hide-narrow">{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td>"#,
            m.measure_id,
            m.ipra_id,
            esc(&m.ipra_number),
            esc(&m.snils),
            esc(&m.full_name),
            esc(&names.territory(m.territory_code.as_deref())),
            esc(&names.section(&m.section)),
            esc(&m.measure),
            ru_date(&m.received_at),
        ));
        if can_assign {
            out.push_str(&assign_form_html(user, m, &names.sections, organisations, problem));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    let mut keep = String::new();
    for (k, v) in [("qsection", &filter.section), ("qterritory", &filter.territory)] {
        if let Some(v) = v {
            keep.push_str(&format!("&{k}={}", urlencode(v)));
        }
    }
    out.push_str(&pager(queue, |p| format!("/dashboard?qpage={p}{keep}#queue")));
    out
}

/// The active organisations a measure of `section` can be assigned to.
fn section_organisations<'a>(
    organisations: &'a [directory::Organisation],
    section: &str,
) -> Vec<&'a directory::Organisation> {
    organisations
        .iter()
        .filter(|o| o.department == section && o.active)
        .collect()
}

/// The «Организация» field of a measure's assignment form: a choice of `candidates`, or a field with
/// suggestions (of `section`'s organisations) when they are many.
fn organisation_field(id: i64, candidates: &[&directory::Organisation], section: Option<&str>, attrs: &str) -> String {
    let items: Vec<(String, String)> = candidates
        .iter()
        .map(|o| (o.ogrn.clone(), format!("{} (ОГРН {})", o.name, o.ogrn)))
        .collect();
    OrganisationField {
        id: &format!("assign-{id}"),
        name: "ogrn",
        candidates: &items,
        all: None,
        value: None,
        section,
        attrs,
    }
    .html()
}

/// The form for a measure whose type the category map does not list: the coordinator chooses its
/// section and an organisation of that section together.
fn no_section_form_html(
    user: &Principal,
    id: i64,
    sections: &[(String, String)],
    organisations: &[directory::Organisation],
    error: &str,
    invalid: &str,
) -> String {
    let mut options = String::from(r#"<option value="">— выберите —</option>"#);
    for (code, name) in sections {
        options.push_str(&format!(r#"<option value="{}">{}</option>"#, esc(code), esc(name)));
    }
    let active: Vec<&directory::Organisation> = organisations.iter().filter(|o| o.active).collect();
    let field = organisation_field(id, &active, None, invalid);
    format!(
        r#"<td><form class="ov-assign" method="post" action="/dashboard/assign">{csrf}<input type="hidden" name="measure_id" value="{id}">
<p class="muted">Раздел не определён справочником категорий: выберите раздел и организацию этого раздела.</p>
<label for="section-{id}">Раздел</label><select id="section-{id}" name="section">{options}</select>
<label for="assign-{id}">Организация</label>{field}{error}
<label for="note-{id}">Основание</label><input id="note-{id}" name="note" maxlength="500">
<button type="submit">Назначить</button></form></td>"#,
        csrf = csrf_field(user),
    )
}

fn assign_form_html(
    user: &Principal,
    m: &MeasureLine,
    sections: &[(String, String)],
    organisations: &[directory::Organisation],
    problem: Option<&AssignProblem>,
) -> String {
    let id = m.measure_id;
    let candidates = section_organisations(organisations, &m.section);
    let (error, invalid) = match problem {
        Some((pid, message)) if *pid == id => (
            format!(
                r#"<span class="field-error" id="assign-{id}-error" role="alert">{}</span>"#,
                esc(message)
            ),
            format!(r#" aria-invalid="true" aria-describedby="assign-{id}-error""#),
        ),
        _ => (String::new(), String::new()),
    };
    if m.section.is_empty() {
        return no_section_form_html(user, id, sections, organisations, &error, &invalid);
    }
    if candidates.is_empty() {
        return r#"<td><span class="muted">В справочнике исполнителей нет действующих организаций этого раздела.</span></td>"#
            .to_string();
    }
    // A short list is a choice; a long one (hundreds of clinics of a region) a field that takes an
    // OGRN or words of a name, with suggestions of the section's organisations as one types.
    let field = organisation_field(id, &candidates, Some(&m.section), &invalid);
    format!(
        r#"<td><form class="ov-assign" method="post" action="/dashboard/assign">{csrf}<input type="hidden" name="measure_id" value="{id}">
<label for="assign-{id}">Организация</label>{field}{error}
<label for="note-{id}">Основание</label><input id="note-{id}" name="note" maxlength="500">
<button type="submit">Назначить</button></form></td>"#,
        csrf = csrf_field(user),
    )
}

async fn render(
    app: &App,
    user: &Principal,
    q: &DashboardQuery,
    problem: Option<AssignProblem>,
) -> Result<(StatusCode, Html<String>), PageError> {
    let fail = |e: anyhow::Error| PageError::from(e).for_user(user);
    let today = today();
    let names = Names::load(app).await.map_err(fail)?;
    let data = load(app, &today).await.map_err(fail)?;
    let mut list = q.list();
    // Words of a name typed in the organisation field filter by the one organisation they name;
    // words that name none or several are said beside the field, and the list is not narrowed.
    let org_problem = match names.resolve_organisation("f-org", list.org.take()) {
        Ok(org) => {
            list.org = org;
            None
        }
        Err((_, message)) => Some(format!("{message} Список показан без отбора по организации.")),
    };
    let overdue = workload::measures(&app.db, Some(app.facts.as_ref()), &today, Which::Overdue, &list, false)
        .await
        .map_err(fail)?;
    let queue_query = clean(&ListQuery {
        section: q.qsection.clone(),
        territory: q.qterritory.clone(),
        page: number(&q.qpage),
        per_page: Some(20),
        sort: Some("due".into()),
        ..ListQuery::default()
    });
    let queue = workload::measures(
        &app.db,
        Some(app.facts.as_ref()),
        &today,
        Which::Unassigned,
        &queue_query,
        false,
    )
    .await
    .map_err(fail)?;
    let organisations = directory::directory(&app.db).await.map_err(fail)?;

    let title = "Контроль сроков и нагрузки";
    let mut body = format!(
        r#"<h1>{title}</h1><p class="muted">На {}. Просроченным считается открытое мероприятие действующей ИПРА, срок которого истёк.</p>"#,
        ru_date(&today)
    );
    if let Some(id) = number::<i64>(&q.assigned) {
        body.push_str(&format!(
            r#"<p class="notice" role="status">Мероприятию {id} назначен исполнитель; оно ушло из очереди.</p>"#
        ));
    }
    if let Some((_, message)) = &problem {
        body.push_str(&format!(
            r##"<p class="alert" role="alert">Исполнитель не назначен: {} <a href="#queue">К очереди</a></p>"##,
            esc(message)
        ));
    }
    body.push_str(&format!(
        r#"<section class="cards" aria-label="Сводка">{}</section>"#,
        cards_html(&data.cards)
    ));
    // What a coordinator acts on comes first — the overdue measures, the queue without an
    // executor — and the workload tables after them; a contents line leads to each.
    body.push_str(
        r##"<nav class="actions dash-contents" aria-label="Разделы страницы"><a href="#overdue">Просроченные мероприятия</a> <a href="#queue">Очередь без исполнителя</a> <a href="#workload">Нагрузка</a></nav>"##,
    );
    body.push_str(&overdue_html(&overdue, &list, &names, org_problem.as_deref()));
    body.push_str(&queue_html(
        user,
        &queue,
        &queue_query,
        &names,
        &organisations,
        problem.as_ref(),
    ));
    body.push_str(r#"<h2 id="workload">Нагрузка</h2>"#);
    // A region has a couple of thousand organisations: the table shows those most behind, a page
    // at a time, and the whole of it is a download.
    let organisations_by_lag = by_lag(data.by_organisation);
    let org_pages = organisations_by_lag.len().div_ceil(ORG_ROWS).max(1);
    let org_page = number::<usize>(&q.opage).unwrap_or(1).clamp(1, org_pages);
    let shown = &organisations_by_lag[(org_page - 1) * ORG_ROWS..(org_page * ORG_ROWS).min(organisations_by_lag.len())];
    body.push_str(&workload_table(
        "by-organisation",
        "По организациям-исполнителям",
        "Организация",
        shown,
        |r| match &r.key {
            Some(ogrn) => format!(
                r#"<a href="/stats?org={}">{}</a><br><span class="muted">ОГРН {}</span>"#,
                esc(&urlencode(ogrn)),
                esc(&r.name.clone().unwrap_or_else(|| names.organisation(Some(ogrn)))),
                esc(ogrn)
            ),
            None => r##"<a href="#queue">Не назначено</a>"##.to_string(),
        },
        "org",
    ));
    body.push_str(&org_pager(org_page, org_pages, organisations_by_lag.len()));
    body.push_str(&workload_table(
        "by-section",
        "По разделам",
        "Раздел",
        &data.by_section,
        |r| esc(&names.section(r.key.as_deref().unwrap_or_default())),
        "section",
    ));
    body.push_str(&workload_table(
        "by-territory",
        "По территориям",
        "Территория",
        &data.by_territory,
        |r| esc(&names.territory(r.key.as_deref())),
        "territory",
    ));
    let status = if problem.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, page(Some(user), title, &body)))
}

async fn dashboard_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, PageError> {
    require_page(&user, OVERSEERS).map_err(|e| e.for_user(&user))?;
    Ok(render(&app, &user, &q, None).await?.into_response())
}

#[derive(Deserialize)]
struct AssignForm {
    #[serde(default)]
    csrf: String,
    measure_id: String,
    #[serde(default)]
    ogrn: String,
    /// Chosen only for a measure without a section.
    #[serde(default)]
    section: String,
    #[serde(default)]
    note: String,
}

async fn assign_form(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(form): Form<AssignForm>,
) -> Result<Response, PageError> {
    require_page(&user, MANAGERS).map_err(|e| e.for_user(&user))?;
    check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    let Ok(measure_id) = form.measure_id.trim().parse::<i64>() else {
        return Err(PageError::bad_request("Не указано мероприятие.".into()).for_user(&user));
    };
    let fail = |e: anyhow::Error| PageError::from(e).for_user(&user);
    let typed = form.ogrn.trim();
    let problem = if typed.is_empty() {
        Some("поле «Организация»: выберите организацию-исполнителя.".to_string())
    } else {
        match workload::queued_section(&app.db, measure_id).await.map_err(fail)? {
            None => Some(format!(
                "мероприятие {measure_id} уже не в очереди (исполнитель назначен или мероприятие закрыто)."
            )),
            Some(section) => {
                // A measure without a section takes the one chosen beside the organisation.
                let chosen = form.section.trim();
                let section = if section.is_empty() {
                    chosen.to_string()
                } else {
                    section
                };
                // An OGRN, or words of one organisation's name typed where the field takes text.
                let organisations = directory::directory(&app.db).await.map_err(fail)?;
                let within = Some(section.as_str()).filter(|s| !s.is_empty());
                match directory::resolve_organisation(&organisations, typed, within) {
                    Err(e) => Some(format!("поле «Организация»: {e}.")),
                    Ok(ogrn) => {
                        let note = Some(form.note.trim()).filter(|n| !n.is_empty());
                        directory::assign_by_hand(&app.db, measure_id, &ogrn, within, &user.actor(), note)
                            .await
                            .err()
                            .map(|e| format!("поле «Организация»: {e:#}."))
                    }
                }
            }
        }
    };
    match problem {
        None => Ok(Redirect::to(&format!("/dashboard?assigned={measure_id}#queue")).into_response()),
        Some(message) => Ok(
            render(&app, &user, &DashboardQuery::default(), Some((measure_id, message)))
                .await?
                .into_response(),
        ),
    }
}

const OVERDUE_HEADER: [&str; 10] = [
    "ИПРА №",
    "СНИЛС",
    "ФИО",
    "Территория",
    "Раздел",
    "Мероприятие",
    "ОГРН исполнителя",
    "Исполнитель",
    "Срок",
    "Дней просрочки",
];

fn overdue_row(m: &MeasureLine, names: &Names) -> Vec<Cell> {
    vec![
        m.ipra_number.clone().into(),
        m.snils.clone().into(),
        m.full_name.clone().into(),
        names.territory(m.territory_code.as_deref()).into(),
        names.section(&m.section).into(),
        m.measure.clone().into(),
        m.ogrn.clone().into(),
        m.organisation.clone().into(),
        m.due_date.as_deref().map(ru_date).into(),
        Cell::from(m.days_overdue),
    ]
}

/// Every overdue measure of the filter in its order, streamed as the list is walked.
async fn export_file(app: &App, q: &DashboardQuery) -> Result<Response, ApiError> {
    let format = q.format.as_deref().and_then(Format::parse).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Параметр «format»: укажите csv или xlsx.".into(),
        )
    })?;
    let today = today();
    let names = Names::load(app).await?;
    let list = q.list();
    let app = app.clone();
    // The export's SNILS are masked, as in the list; the download is still a read of personal data.
    Ok(crate::export_stream::download(
        format,
        &format!("Просроченные мероприятия на {}", ru_date(&today)),
        OVERDUE_HEADER.map(String::from).to_vec(),
        &format!("prosrocheno-{today}"),
        move |mut sink| async move {
            let result = async {
                let mut after: Option<String> = None;
                loop {
                    let (items, next) =
                        workload::measures_after(&app.db, &today, Which::Overdue, &list, after.as_deref(), 500).await?;
                    let rows: Vec<Vec<Cell>> = items.iter().map(|m| overdue_row(m, &names)).collect();
                    sink.send(&rows).await?;
                    match next {
                        Some(n) => after = Some(n),
                        None => break,
                    }
                }
                anyhow::Ok(())
            }
            .await;
            (sink, result)
        },
    ))
}

async fn export_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, PageError> {
    require_page(&user, OVERSEERS).map_err(|e| e.for_user(&user))?;
    crate::audit::record(
        &app.db,
        &user.actor(),
        "overdue.export",
        "dashboard",
        q.format.as_deref(),
    )
    .await
    .map_err(|e| PageError::from(e).for_user(&user))?;
    export_file(&app, &q)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))
}

/// The workload by organisation, every organisation, as a spreadsheet.
async fn workload_export_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<DashboardQuery>,
) -> Result<Response, PageError> {
    require_page(&user, OVERSEERS).map_err(|e| e.for_user(&user))?;
    let fail = |e: anyhow::Error| PageError::from(e).for_user(&user);
    let Some(format) = q.format.as_deref().and_then(Format::parse) else {
        return Err(PageError::bad_request("Параметр «format»: укажите csv или xlsx.".into()).for_user(&user));
    };
    let today = today();
    let figures = facts::dashboard(&app.facts, &app.db, &today, SOON_DAYS)
        .await
        .map_err(fail)?;
    let rows = by_lag(named(&app, figures.by_organisation).await.map_err(fail)?)
        .into_iter()
        .map(|r| {
            vec![
                Cell::from(r.key.clone().unwrap_or_default()),
                Cell::from(match &r.key {
                    Some(_) => r.name.clone().unwrap_or_default(),
                    None => "Не назначено".to_string(),
                }),
                Cell::from(r.assigned),
                Cell::from(r.in_work),
                Cell::from(r.executed),
                Cell::from(r.not_executed),
                Cell::from(r.overdue),
                Cell::from(r.oldest_overdue.as_deref().map(ru_date)),
            ]
        })
        .collect();
    let table = Table {
        title: format!("Нагрузка по организациям на {}", ru_date(&today)),
        header: [
            "ОГРН",
            "Организация",
            "Назначено",
            "В работе",
            "Выполнено",
            "Не выполнено",
            "Просрочено",
            "Самый ранний просроченный срок",
        ]
        .map(String::from)
        .to_vec(),
        rows,
    };
    Ok(table.download(format, &format!("nagruzka-{today}")))
}

async fn api_dashboard(State(app): State<App>, Authenticated(user): Authenticated) -> Result<Json<Value>, ApiError> {
    require(&user, OVERSEERS)?;
    let today = today();
    let d = load(&app, &today).await?;
    Ok(Json(json!({
        "today": today,
        "cards": d.cards,
        "by_organisation": d.by_organisation,
        "by_section": d.by_section,
        "by_territory": d.by_territory,
    })))
}

async fn api_overdue(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<DashboardQuery>,
) -> Result<Json<MeasurePage>, ApiError> {
    api_measures(&app, &user, &q, Which::Overdue).await
}

async fn api_unassigned(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<DashboardQuery>,
) -> Result<Json<MeasurePage>, ApiError> {
    api_measures(&app, &user, &q, Which::Unassigned).await
}

/// One of the dashboard's lists of measures, with the statistics index brought up to the register.
async fn api_measures(
    app: &App,
    user: &Principal,
    q: &DashboardQuery,
    which: Which,
) -> Result<Json<MeasurePage>, ApiError> {
    require(user, OVERSEERS)?;
    q.check()?;
    app.facts.refresh_if_loaded(&app.db).await?;
    Ok(Json(
        workload::measures(&app.db, Some(app.facts.as_ref()), &today(), which, &q.list(), false).await?,
    ))
}

async fn api_export(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<DashboardQuery>,
) -> Response {
    if let Err(e) = require(&user, OVERSEERS).and_then(|()| q.check()) {
        return e.into_response();
    }
    if let Err(e) = crate::audit::record(
        &app.db,
        &user.actor(),
        "overdue.export",
        "dashboard",
        q.format.as_deref(),
    )
    .await
    {
        return ApiError::from(e).into_response();
    }
    export_file(&app, &q).await.unwrap_or_else(IntoResponse::into_response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_links_flip_the_current_order() {
        let q = ListQuery {
            section: Some("tsr".into()),
            sort: Some("due".into()),
            ..ListQuery::default()
        };
        let due = sort_header(&q, "due", "Срок", "");
        assert!(
            due.contains("sort=-due") && due.contains(r#"aria-sort="ascending""#),
            "{due}"
        );
        assert!(due.contains("section=tsr"));
        let number = sort_header(&q, "number", "ИПРА №", "");
        assert!(
            number.contains("sort=number") && !number.contains("aria-sort"),
            "{number}"
        );
        // "name" has no descending order: it stays ascending.
        let q = ListQuery {
            sort: Some("name".into()),
            ..ListQuery::default()
        };
        assert!(sort_header(&q, "name", "ФИО", "").contains("sort=name"));
    }

    #[test]
    fn unknown_sort_and_empty_filters_are_dropped() {
        let q = clean(&ListQuery {
            section: Some(" ".into()),
            sort: Some("evil".into()),
            org: Some("1027700132003".into()),
            ..ListQuery::default()
        });
        assert_eq!(q.section, None);
        assert_eq!(q.sort, None);
        assert_eq!(list_query_string(&q, None, Some(2)), "org=1027700132003&page=2");
    }
}
