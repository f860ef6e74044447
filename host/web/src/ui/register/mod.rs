//! The register of extracts (руководство «ЛК исполнителя ИПРА» в ЕЦП, «Реестр выписок из ИПРА») and the extract card, plus the
//! API routes they need (export, saved filters, column settings: [`api`]). Plain HTML forms: the
//! quick search, the extended filter, sorting by column headers, paging, the column settings and
//! saved filters all work without a script.

pub mod api;
pub mod bureau;
pub mod card;
pub mod recipients;
pub mod tsr;

use super::{check_csrf, csrf_field, esc, group_digits, mask_snils, page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::{Principal, Role};
use crate::register::preferences::{self, COLUMNS};
use crate::register::query::{self, IpraFilter, IpraListItem, SORTABLE};
use axum::extract::{Form, Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(register))
        .route("/ipras/{id}", get(card::card))
        .route("/register/columns", post(save_columns))
        .route("/register/filters", post(save_filter))
        .route("/register/filters/{id}/delete", post(delete_filter))
        .merge(api::routes())
        .merge(tsr::routes())
        .merge(recipients::routes())
}

/// Rows per page the page offers; the default is the first.
pub const PER_PAGE: [u32; 3] = [20, 50, 100];

pub fn status_label(status: &str) -> &'static str {
    match status {
        "active" => "действует",
        "superseded" => "заменена",
        "closed" => "закрыта",
        _ => "—",
    }
}

/// `ГГГГ-ММ-ДД…` as `ДД.ММ.ГГГГ`; other text unchanged.
pub fn ru_date(text: &str) -> String {
    crate::ui::dates::day(text).unwrap_or_else(|| text.to_string())
}

pub fn ru_opt_date(text: &Option<String>) -> String {
    text.as_deref().map(|t| esc(&ru_date(t))).unwrap_or_else(|| "—".into())
}

/// Why a searched SNILS cannot be anyone's, when it cannot: eleven digits (with the usual dashes
/// and spaces) whose control number does not match — so that «Найдено: 0» is not left to explain
/// a typing error.
fn snils_mistake(text: &str) -> Option<String> {
    let text = text.trim();
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 11 || !text.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ') {
        return None;
    }
    match ipra_plugin_sdk::snils::validate(&digits) {
        Err(ipra_plugin_sdk::snils::SnilsError::Checksum { expected, found }) => Some(format!(
            "СНИЛС «{text}» неверен: контрольное число должно быть {expected}, а не {found}. Проверьте цифры."
        )),
        _ => None,
    }
}

/// «Тип выписки»: adult or child extract, with the document version.
pub fn kind_label(is_child: bool, version: &str) -> String {
    let kind = if is_child {
        "ребёнок-инвалид"
    } else {
        "взрослый"
    };
    format!("{kind}, версия {version}")
}

/// The name of a territory code from the `territories` reference list (the code when unknown).
pub fn territory_name(app: &App, code: &str) -> String {
    app.reference()
        .list("territories")
        .iter()
        .find(|e| e.code == code)
        .map(|e| e.name.clone())
        .unwrap_or_else(|| code.to_string())
}

pub fn section_name(app: &App, code: &str) -> String {
    app.reference()
        .list("sections")
        .iter()
        .find(|e| e.code == code)
        .map(|e| e.name.clone())
        .unwrap_or_else(|| code.to_string())
}

/// The text of one cell of a register row (as shown and as exported); SNILS is already masked.
pub fn cell_text(app: &App, item: &IpraListItem, column: &str) -> String {
    match column {
        "kind" => kind_label(item.is_child, &item.document_version),
        "number" => item.number.clone(),
        "decision_date" => item.decision_date.as_deref().map(ru_date).unwrap_or_default(),
        "protocol_number" => item.protocol_number.clone(),
        "protocol_date" => ru_date(&item.protocol_date),
        "issued_by" => item.issued_by.clone().unwrap_or_default(),
        // Lists carry SNILS masked already; masking again guards the pages and exports should
        // the list query ever change.
        "snils" if item.snils.starts_with('*') => item.snils.clone(),
        "snils" => mask_snils(&item.snils),
        "fio" => item.full_name.clone(),
        "status" => status_label(&item.status).to_string(),
        "territory" => item
            .territory_code
            .as_deref()
            .map(|c| territory_name(app, c))
            .unwrap_or_default(),
        "measures" => item.measures.to_string(),
        "overdue" => item.overdue.to_string(),
        "received" => ru_date(&item.received_at),
        "target_groups" => item.target_groups.join(", "),
        "early_help" => if item.early_help { "нуждается" } else { "" }.to_string(),
        _ => String::new(),
    }
}

/// A column's header as the table shows it: its label with soft hyphens where a long word would not
/// fit its narrow column (the settings and the exports use the plain label).
fn header_label(column: &str) -> String {
    let label = preferences::column_label(column).unwrap_or_default();
    let breaks = [
        ("вынесения", "выне\u{ad}сения"),
        ("сформировавшее", "сформи\u{ad}ровавшее"),
        ("Учреждение", "Учреж\u{ad}дение"),
        ("Мероприятий", "Меро\u{ad}приятий"),
        ("Просрочено", "Просро\u{ad}чено"),
        ("Территория", "Терри\u{ad}тория"),
        ("протокола", "прото\u{ad}кола"),
        ("выписки", "вы\u{ad}писки"),
    ];
    breaks.iter().fold(label.to_string(), |text, (word, hyphenated)| {
        text.replace(word, hyphenated)
    })
}

/// Columns hidden on a phone-width screen (still in the column settings and exports).
fn minor(column: &str) -> bool {
    matches!(
        column,
        "kind" | "protocol_number" | "protocol_date" | "issued_by" | "territory" | "received" | "measures" | "snils"
    )
}

/// Query string of the filter with some parameters replaced (links of headers and pages).
fn link(filter: &IpraFilter, per_page: u32, replace: &[(&str, String)]) -> String {
    let mut pairs: Vec<(&str, String)> = filter
        .pairs()
        .into_iter()
        .filter(|(k, _)| !replace.iter().any(|(r, _)| r == k))
        .collect();
    pairs.push(("per_page", per_page.to_string()));
    pairs.extend(replace.iter().filter(|(_, v)| !v.is_empty()).cloned());
    let query: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    format!("/?{}", query.join("&"))
}

fn may_filter_by_organisation(user: &Principal) -> bool {
    !matches!(user.role, Role::Executor | Role::Bureau)
}

/// The register of extracts.
pub async fn register(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(mut filter): Query<IpraFilter>,
) -> Result<Html<String>, PageError> {
    let per_page = filter.per_page.filter(|n| PER_PAGE.contains(n)).unwrap_or(PER_PAGE[0]);
    filter.per_page = Some(per_page);
    if !may_filter_by_organisation(&user) {
        filter.assigned = None;
    }
    // A bureau reads its institution's IPRAs only.
    let scope = bureau::register_scope(&user, &mut filter);
    let problems = filter.problems();
    let columns = preferences::columns(&app.db, user.user_id).await?;
    let saved = preferences::saved_filters(&app.db, user.user_id).await?;

    let mut body = String::from(r#"<h1>Реестр выписок из ИПРА</h1>"#);
    body.push_str(&filter_form(&app, &user, &filter, per_page, &problems).await?);

    if !problems.is_empty() {
        body.push_str(
            r#"<p class="alert" role="alert" id="reg-problems">Фильтр не применён: исправьте отмеченные поля.</p>"#,
        );
        body.push_str(&saved_filters_block(&user, &filter, &saved, false));
        body.push_str(&columns_block(&user, &filter, &columns));
        return Ok(page(Some(&user), "Реестр выписок", &body));
    }

    app.facts.refresh_if_loaded(&app.db).await?;
    let mut found = query::list_ipras(&app.db, Some(app.facts.as_ref()), &filter, scope).await?;
    let pages = (found.total as u64).div_ceil(u64::from(found.per_page)).max(1);
    if u64::from(found.page) > pages && found.items.is_empty() && found.total_exact {
        // A page past the end (the register shrank, or a hand-typed link): show the last one.
        filter.page = u32::try_from(pages).ok();
        found = query::list_ipras(&app.db, Some(app.facts.as_ref()), &filter, scope).await?;
    }
    bureau::log_list(&app, &user, &filter, found.items.len()).await?;
    let export = filter
        .pairs()
        .iter()
        .map(|(k, v)| format!("&{k}={}", urlencode(v)))
        .collect::<String>();
    // Rows shown: counted from the page number, or back from the end on the last page.
    let at_end = filter.before.as_deref() == Some(query::END);
    let shown_from = if at_end && found.total_exact {
        (found.total - found.items.len() as i64).max(0) as u64
    } else {
        (u64::from(found.page) - 1) * u64::from(found.per_page)
    };
    let about = if found.total_exact { "" } else { "около " };
    body.push_str(&format!(
        r#"<div class="actions reg-summary"><p id="reg-total" role="status" data-total="{0}" data-exact="{exact}">Найдено: {about}{total}{1}</p>
<a class="button secondary" id="reg-export-csv" href="/api/v1/ipras/export?format=csv{export}" download>Выгрузить в CSV</a>
<a class="button secondary" id="reg-export-xlsx" href="/api/v1/ipras/export?format=xlsx{export}" download>Выгрузить в XLSX</a></div>"#,
        found.total,
        if found.items.is_empty() {
            String::new()
        } else {
            format!(
                " · показаны {}–{}",
                group_digits(shown_from + 1),
                group_digits(shown_from + found.items.len() as u64)
            )
        },
        exact = found.total_exact,
        total = group_digits(found.total.max(0) as u64),
    ));
    if found.total == 0 {
        if let Some(why) = [filter.q.as_deref(), filter.snils.as_deref()]
            .into_iter()
            .flatten()
            .find_map(snils_mistake)
        {
            body.push_str(&format!(
                r#"<p class="alert" role="alert" id="reg-snils-mistake">{}</p>"#,
                esc(&why)
            ));
        }
    }

    // The table: sortable headers are links toggling the direction.
    // A search by name is listed by name unless another order is chosen (see `name_search_sort`).
    let current_sort = filter
        .sort
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| query::name_search_sort(&filter).map(str::to_string));
    let current_dir = filter.dir.clone().unwrap_or_else(|| "asc".into());
    body.push_str(r#"<div class="table-wrap"><table class="reg-table" id="reg-table"><caption class="visually-hidden">Выписки из ИПРА</caption><thead><tr>"#);
    for c in &columns {
        let label = header_label(c);
        let class = if minor(c) { r#" class="hide-narrow""# } else { "" };
        if SORTABLE.contains(&c.as_str()) {
            let active = current_sort.as_deref() == Some(c.as_str());
            let next_dir = if active && current_dir == "asc" { "desc" } else { "asc" };
            let (aria, mark) = match (active, current_dir.as_str()) {
                (true, "desc") => (r#" aria-sort="descending""#, " ▼"),
                (true, _) => (r#" aria-sort="ascending""#, " ▲"),
                _ => ("", ""),
            };
            let href = link(
                &filter,
                per_page,
                &[
                    ("sort", c.clone()),
                    ("dir", next_dir.to_string()),
                    ("page", String::new()),
                    ("after", String::new()),
                    ("before", String::new()),
                ],
            );
            body.push_str(&format!(
                r#"<th scope="col"{class}{aria} data-col="{c}"><a href="{}" title="Сортировать">{label}{mark}</a></th>"#,
                esc(&href)
            ));
        } else {
            body.push_str(&format!(r#"<th scope="col"{class} data-col="{c}">{label}</th>"#));
        }
    }
    body.push_str("</tr></thead><tbody>");
    if found.items.is_empty() {
        body.push_str(&format!(
            r#"<tr><td colspan="{}" class="muted">{}</td></tr>"#,
            columns.len(),
            if filter.is_filtered() {
                "По этому фильтру выписок нет. Измените условия или сбросьте фильтр."
            } else {
                "В реестре пока нет выписок."
            }
        ));
    }
    for item in &found.items {
        body.push_str(&format!(r#"<tr data-id="{}">"#, item.id));
        for c in &columns {
            let class = if minor(c) { r#" class="hide-narrow""# } else { "" };
            let text = esc(&cell_text(&app, item, c));
            let cell = match c.as_str() {
                "number" => format!(r#"<a href="/ipras/{}">{text}</a>"#, item.id),
                "fio" if !columns.iter().any(|c| c == "number") => {
                    format!(r#"<a href="/ipras/{}">{text}</a>"#, item.id)
                }
                "status" => format!(r#"<span class="status-{}">{text}</span>"#, esc(&item.status)),
                "overdue" if item.overdue > 0 => format!(r#"<strong class="bad">{text}</strong>"#),
                _ => text.clone(),
            };
            // A cell cut to its column's width keeps its whole text in the title.
            let title = match c.as_str() {
                "kind" | "number" | "protocol_number" | "issued_by" | "fio" | "territory" => {
                    format!(r#" title="{text}""#)
                }
                _ => String::new(),
            };
            body.push_str(&format!("<td{class}{title} data-col=\"{c}\">{cell}</td>"));
        }
        body.push_str("</tr>");
    }
    body.push_str("</tbody></table></div>");

    // Paging by positions: the next page starts after this one's last row, in the sort's index, so
    // every page costs the same however deep (the page number only counts for the reader).
    body.push_str(r#"<nav class="pages reg-pages" aria-label="Страницы">"#);
    let page_no = if at_end && found.total_exact {
        pages
    } else {
        u64::from(found.page)
    };
    let to = |pairs: &[(&str, String)]| {
        let mut all = vec![
            ("page", String::new()),
            ("after", String::new()),
            ("before", String::new()),
        ];
        for (k, v) in pairs {
            all.retain(|(key, _)| key != k);
            all.push((k, v.clone()));
        }
        link(&filter, per_page, &all)
    };
    if let Some(prev) = &found.prev {
        body.push_str(&format!(
            r#"<a href="{}" rel="first">« первая</a><a href="{}" rel="prev" id="reg-prev">← назад</a>"#,
            esc(&to(&[])),
            esc(&to(&[
                ("before", prev.clone()),
                ("page", page_no.saturating_sub(1).max(1).to_string())
            ]))
        ));
    }
    body.push_str(&format!(
        r#"<span id="reg-page">страница {} из {}{}</span>"#,
        group_digits(page_no),
        if found.total_exact { "" } else { "≈" },
        group_digits(pages)
    ));
    if let Some(next) = &found.next {
        let mut last = vec![("before", query::END.to_string())];
        if found.total_exact {
            last.push(("page", pages.to_string()));
        }
        body.push_str(&format!(
            r#"<a href="{}" rel="next" id="reg-next">вперёд →</a><a href="{}" rel="last">последняя »</a>"#,
            esc(&to(&[("after", next.clone()), ("page", (page_no + 1).to_string())])),
            esc(&to(&last))
        ));
    }
    body.push_str("</nav>");

    body.push_str(&saved_filters_block(&user, &filter, &saved, true));
    body.push_str(&columns_block(&user, &filter, &columns));
    Ok(page(Some(&user), "Реестр выписок", &body))
}

fn field_error(problems: &[(&str, String)], key: &str) -> String {
    problems
        .iter()
        .filter(|(k, _)| *k == key)
        .map(|(_, m)| {
            format!(
                r#"<span class="field-error" role="alert" id="e-{key}">{}</span>"#,
                esc(m)
            )
        })
        .collect()
}

fn described(problems: &[(&str, String)], key: &str) -> String {
    if problems.iter().any(|(k, _)| *k == key) {
        format!(r#" aria-invalid="true" aria-describedby="e-{key}""#)
    } else {
        String::new()
    }
}

fn text_input(name: &str, label: &str, value: &Option<String>, kind: &str, problems: &[(&str, String)]) -> String {
    format!(
        r#"<label for="f-{name}">{label}<input id="f-{name}" name="{name}" type="{kind}" value="{}"{}>{}</label>"#,
        value.as_deref().map(esc).unwrap_or_default(),
        described(problems, name),
        field_error(problems, name),
    )
}

fn select(name: &str, label: &str, value: &Option<String>, options: &[(String, String)]) -> String {
    let mut out = format!(
        r#"<label for="f-{name}">{label}<select id="f-{name}" name="{name}"><option value="">— любой —</option>"#
    );
    for (code, text) in options {
        let selected = if value.as_deref() == Some(code.as_str()) {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            r#"<option value="{}"{selected}>{}</option>"#,
            esc(code),
            esc(text)
        ));
    }
    out.push_str("</select></label>");
    out
}

/// The filter form: the quick search box, and the extended filter in a disclosure that is open
/// whenever one of its fields is set.
async fn filter_form(
    app: &App,
    user: &Principal,
    filter: &IpraFilter,
    per_page: u32,
    problems: &[(&str, String)],
) -> Result<String, PageError> {
    let mut f = String::from(r#"<form class="filters reg-filters" method="get" action="/" id="reg-filter">"#);
    f.push_str(&format!(
        r#"<label for="f-q" class="reg-quick">Быстрый поиск: номер ИПРА, СНИЛС или ФИО<input id="f-q" name="q" type="search" value="{}" placeholder="например, Иванов или 123-456-789 01"></label>"#,
        filter.q.as_deref().map(esc).unwrap_or_default()
    ));
    f.push_str(r#"<button type="submit" id="reg-find">Найти</button><a href="/" id="reg-reset">Сбросить</a>"#);
    let advanced_set = filter.pairs().iter().any(|(k, _)| !matches!(*k, "q" | "sort" | "dir")) || !problems.is_empty();
    f.push_str(&format!(
        r#"<details class="reg-advanced" id="reg-advanced"{}><summary>Расширенный фильтр</summary><div class="reg-fields">"#,
        if advanced_set { " open" } else { "" }
    ));
    f.push_str(&select(
        "kind",
        "Тип выписки",
        &filter.kind,
        &[
            ("adult".into(), "взрослый".into()),
            ("child".into(), "ребёнок-инвалид".into()),
        ],
    ));
    f.push_str(&text_input(
        "decision_from",
        "Дата решения с",
        &filter.decision_from,
        "date",
        problems,
    ));
    f.push_str(&text_input(
        "decision_to",
        "Дата решения по",
        &filter.decision_to,
        "date",
        problems,
    ));
    f.push_str(&text_input("number", "Номер ИПРА", &filter.number, "text", problems));
    f.push_str(&text_input(
        "protocol_number",
        "Номер протокола",
        &filter.protocol_number,
        "text",
        problems,
    ));
    f.push_str(&text_input(
        "protocol_date",
        "Дата протокола",
        &filter.protocol_date,
        "date",
        problems,
    ));
    let institutions: Vec<(String, String)> = query::issuing_institutions(&app.db)
        .await?
        .into_iter()
        .map(|i| (i.clone(), i))
        .collect();
    f.push_str(&select(
        "issued_by",
        "Учреждение, сформировавшее ИПРА",
        &filter.issued_by,
        &institutions,
    ));
    f.push_str(&text_input("snils", "СНИЛС инвалида", &filter.snils, "text", problems));
    f.push_str(&text_input(
        "fio",
        "ФИО инвалида (начало)",
        &filter.fio,
        "text",
        problems,
    ));
    f.push_str(&select(
        "status",
        "Статус",
        &filter.status,
        &[
            ("active".into(), "действует".into()),
            ("superseded".into(), "заменена".into()),
            ("closed".into(), "закрыта".into()),
        ],
    ));
    let territories: Vec<(String, String)> = query::person_territories(&app.db)
        .await?
        .into_iter()
        .map(|c| (c.clone(), territory_name(app, &c)))
        .collect();
    f.push_str(&select("territory", "Территория", &filter.territory, &territories));
    let sections: Vec<(String, String)> = app.reference().code_names("sections");
    f.push_str(&select(
        "section",
        "Есть мероприятия раздела",
        &filter.section,
        &sections,
    ));
    if may_filter_by_organisation(user) {
        let orgs: Vec<(String, String)> = crate::register::directory::list_organisations(&app.db)
            .await?
            .into_iter()
            .filter(|o| o.department != "region")
            .map(|o| (o.ogrn.clone(), format!("{} ({})", o.name, o.ogrn)))
            .collect();
        f.push_str(&select("assigned", "Назначено организации", &filter.assigned, &orgs));
    }
    let groups: Vec<(String, String)> = query::target_groups(&app.db)
        .await?
        .into_iter()
        .map(|(code, name)| (code.clone(), format!("{code} — {name}")))
        .collect();
    if !groups.is_empty() || filter.target_group.is_some() {
        f.push_str(&select(
            "target_group",
            "Целевая реабилитационная группа",
            &filter.target_group,
            &groups,
        ));
    }
    f.push_str(&format!(
        r#"<label for="f-early_help" class="reg-check"><input id="f-early_help" name="early_help" type="checkbox" value="1"{}> Нуждается в ранней помощи</label>"#,
        if filter.early_help_only() { " checked" } else { "" }
    ));
    f.push_str(&format!(
        r#"<label for="f-overdue" class="reg-check"><input id="f-overdue" name="overdue" type="checkbox" value="1"{}> Есть просроченные мероприятия</label>"#,
        if filter.overdue.as_deref().is_some_and(|v| !v.is_empty()) {
            " checked"
        } else {
            ""
        }
    ));
    f.push_str(&format!(
        r#"<label for="f-per_page">Строк на странице<select id="f-per_page" name="per_page" data-autosubmit>{}</select></label>"#,
        PER_PAGE
            .iter()
            .map(|n| format!(
                r#"<option value="{n}"{}>{n}</option>"#,
                if *n == per_page { " selected" } else { "" }
            ))
            .collect::<String>()
    ));
    f.push_str(r#"<button type="submit" id="reg-apply">Применить фильтр</button></div></details>"#);
    for key in ["sort", "dir"] {
        if let Some((_, v)) = filter.pairs().into_iter().find(|(k, _)| *k == key) {
            f.push_str(&format!(r#"<input type="hidden" name="{key}" value="{}">"#, esc(&v)));
        }
    }
    for key in ["sort", "dir"] {
        f.push_str(&field_error(problems, key));
    }
    f.push_str("</form>");
    Ok(f)
}

/// Saved filters: apply (a link), delete (a form), save the current one under a name.
fn saved_filters_block(
    user: &Principal,
    filter: &IpraFilter,
    saved: &[preferences::SavedFilter],
    can_save: bool,
) -> String {
    let mut out = String::from(
        r#"<section class="reg-saved" id="reg-saved" aria-labelledby="reg-saved-h"><h2 id="reg-saved-h">Сохранённые фильтры</h2>"#,
    );
    if saved.is_empty() {
        out.push_str(r#"<p class="muted">Сохранённых фильтров нет. Настройте фильтр и сортировку и сохраните их под названием.</p>"#);
    } else {
        out.push_str("<ul>");
        for s in saved {
            out.push_str(&format!(
                r#"<li><a href="/?{}" class="reg-apply-saved">{}</a> <form method="post" action="/register/filters/{}/delete" class="inline">{}<button type="submit" class="secondary reg-delete-saved" data-confirm="Удалить сохранённый фильтр «{}»?" aria-label="Удалить фильтр «{}»">Удалить</button></form></li>"#,
                esc(&s.query),
                esc(&s.name),
                s.id,
                csrf_field(user),
                esc(&s.name),
                esc(&s.name),
            ));
        }
        out.push_str("</ul>");
    }
    if can_save {
        out.push_str(&format!(
            r#"<form method="post" action="/register/filters" class="filters reg-save">{}<input type="hidden" name="query" value="{}"><label for="f-saved-name">Название фильтра<input id="f-saved-name" name="name" maxlength="100" required></label><button type="submit" id="reg-save-filter">Сохранить текущий фильтр</button></form>"#,
            csrf_field(user),
            esc(&preferences::filter_query(filter)),
        ));
    }
    out.push_str("</section>");
    out
}

/// «Настройка столбцов таблицы»: a checkbox and a position for every column.
fn columns_block(user: &Principal, filter: &IpraFilter, columns: &[String]) -> String {
    let mut out = String::from(
        r#"<details class="reg-columns" id="reg-columns"><summary>Настройка столбцов таблицы</summary><form method="post" action="/register/columns">"#,
    );
    out.push_str(&csrf_field(user));
    out.push_str(&format!(
        r#"<input type="hidden" name="back" value="{}">"#,
        esc(&preferences::filter_query(filter))
    ));
    out.push_str(
        r#"<table><thead><tr><th scope="col">Показывать</th><th scope="col">Порядок</th></tr></thead><tbody>"#,
    );
    // Chosen columns first in their order, then the others.
    let mut all: Vec<&str> = columns.iter().map(String::as_str).collect();
    all.extend(
        COLUMNS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !columns.iter().any(|c| c == k)),
    );
    for (n, key) in all.iter().enumerate() {
        let label = preferences::column_label(key).unwrap_or_default();
        let on = columns.iter().any(|c| c == key);
        out.push_str(&format!(
            r#"<tr><td><label for="col-{key}"><input type="checkbox" id="col-{key}" name="col" value="{key}"{}> {label}</label></td><td><label for="pos-{key}" class="visually-hidden">Порядок столбца «{label}»</label><input type="number" id="pos-{key}" name="pos_{key}" value="{}" min="1" max="{}" class="reg-pos"></td></tr>"#,
            if on { " checked" } else { "" },
            n + 1,
            COLUMNS.len(),
        ));
    }
    out.push_str(
        r#"</tbody></table><div class="actions"><button type="submit" id="reg-save-columns">Сохранить столбцы</button><button type="submit" name="reset" value="1" class="secondary">Все столбцы по умолчанию</button></div></form></details>"#,
    );
    out
}

/// The form of the column settings: `col` repeated, `pos_<key>` per column, `reset`, `back`.
async fn save_columns(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let value = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    check_csrf(&user, &value("csrf").unwrap_or_default())?;
    let columns = if value("reset").is_some() {
        preferences::default_columns()
    } else {
        let mut chosen: Vec<(i64, usize, String)> = fields
            .iter()
            .filter(|(k, _)| k == "col")
            .enumerate()
            .map(|(n, (_, key))| {
                let pos = value(&format!("pos_{key}"))
                    .and_then(|p| p.trim().parse::<i64>().ok())
                    .unwrap_or(i64::MAX);
                (pos, n, key.clone())
            })
            .collect();
        chosen.sort();
        chosen.into_iter().map(|(_, _, k)| k).collect()
    };
    if let Err(message) = preferences::set_columns(&app.db, user.user_id, &columns).await? {
        return Err(PageError::bad_request(message).for_user(&user));
    }
    let back = value("back").unwrap_or_default();
    Ok(Redirect::to(&format!("/?{}", back_query(&back))).into_response())
}

/// A query string to return to, only if it is a valid register filter (no open redirects).
fn back_query(back: &str) -> String {
    preferences::parse_query(back)
        .map(|f| preferences::filter_query(&f))
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct SaveFilterForm {
    csrf: String,
    name: String,
    query: String,
}

async fn save_filter(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(form): Form<SaveFilterForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf)?;
    match preferences::save_filter(&app.db, user.user_id, &form.name, &form.query).await? {
        Ok(saved) => Ok(Redirect::to(&format!("/?{}", saved.query)).into_response()),
        Err(message) => Err(PageError::bad_request(message).for_user(&user)),
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn delete_filter(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf)?;
    if !preferences::delete_filter(&app.db, user.user_id, id).await? {
        return Err(PageError::not_found("Сохранённый фильтр").for_user(&user));
    }
    Ok(Redirect::to("/").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_shown_russian_style() {
        assert_eq!(ru_date("2024-03-07"), "07.03.2024");
        assert_eq!(ru_date("2026-11-23T12:00:00Z"), "23.11.2026");
        assert_eq!(ru_date("не дата"), "не дата");
    }

    #[test]
    fn header_links_keep_the_filter_and_replace_the_sort() {
        let filter = IpraFilter {
            q: Some("Петров".into()),
            sort: Some("number".into()),
            dir: Some("asc".into()),
            ..IpraFilter::default()
        };
        let href = link(&filter, 50, &[("sort", "fio".into()), ("dir", "desc".into())]);
        assert!(href.starts_with("/?q=%D0%9F"), "{href}");
        assert!(
            href.contains("sort=fio&dir=desc") || href.ends_with("dir=desc"),
            "{href}"
        );
        assert!(!href.contains("sort=number"), "{href}");
        assert!(href.contains("per_page=50"), "{href}");
    }

    #[test]
    fn only_register_filters_are_returned_to() {
        assert_eq!(back_query("sort=number&dir=asc"), "sort=number&dir=asc");
        assert_eq!(back_query("sort=password"), "");
    }
}
