//! Server-rendered pages in Russian: the register of extracts with filters and paging, and the
//! extract card. Plain HTML forms; no script is needed to use them.

use super::{esc, mask_snils, opt, page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::register::query::{self, IpraFilter};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use axum::routing::get;
use axum::Router;

pub fn routes() -> Router<App> {
    Router::new().route("/", get(register)).route("/ipras/{id}", get(card))
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
) -> Result<Html<String>, PageError> {
    let found = query::list_ipras(&app.db, &filter, user.scope()).await?;
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
    body.push_str(&format!("<p>Найдено: {}</p>", found.total));
    body.push_str(
        "<table><thead><tr><th>Номер ИПРА</th><th>Дата решения</th><th>Номер протокола</th><th>Дата протокола</th>\
         <th>Учреждение, сформировавшее ИПРА</th><th>СНИЛС</th><th>ФИО</th><th>Версия</th><th>Статус</th><th>Мероприятий</th></tr></thead><tbody>",
    );
    for item in &found.items {
        body.push_str(&format!(
            r#"<tr><td><a href="/ipras/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}{}</td><td>{}</td><td class="status-{}">{}</td><td>{}</td></tr>"#,
            item.id,
            esc(&item.number),
            opt(&item.decision_date),
            esc(&item.protocol_number),
            esc(&item.protocol_date),
            opt(&item.issued_by),
            mask_snils(&item.snils),
            esc(&item.full_name),
            if item.is_child { " (ребёнок)" } else { "" },
            esc(&item.document_version),
            esc(&item.status),
            status_label(&item.status),
            item.measures
        ));
    }
    body.push_str("</tbody></table>");
    let pages = (found.total as u64).div_ceil(u64::from(found.per_page)).max(1);
    if pages > 1 {
        let mut params = serde_urlencoded_filter(&filter);
        params.retain(|(k, _)| k != "page");
        let base: String = params.iter().map(|(k, v)| format!("{k}={}&", urlencode(v))).collect();
        body.push_str("<nav class=\"pages\">");
        if found.page > 1 {
            body.push_str(&format!(r#"<a href="/?{base}page={}">← назад</a>"#, found.page - 1));
        }
        body.push_str(&format!("страница {} из {pages}", found.page));
        if u64::from(found.page) < pages {
            body.push_str(&format!(r#" <a href="/?{base}page={}">вперёд →</a>"#, found.page + 1));
        }
        body.push_str("</nav>");
    }
    Ok(page(Some(&user), "Реестр выписок", &body))
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

/// The extract card (seed 002, «Карточка выписки из ИПРА»); every view is logged.
pub async fn card(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
) -> Result<Html<String>, PageError> {
    let card = query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(&user))?;
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
    Ok(page(Some(&user), &format!("ИПРА № {}", card.number), &body))
}
