//! The extract card (руководство «ЛК исполнителя ИПРА» в ЕЦП, «Карточка выписки из ИПРА»): the extract, the citizen in full, the
//! measures by section with their executors, due dates and latest results, the executions and
//! drafts of this extract, the versions of the person's IPRA and the reports carried with it.
//! Every view is a read of personal data and is logged.

use super::{kind_label, ru_date, ru_opt_date, section_name, status_label, territory_name};
use crate::app::App;
use crate::register::deadlines;
use crate::register::execution::{self, ExecutionRecord};
use crate::register::query::MeasureView;
use crate::ui::{esc, opt, page, PageError, PageUser};
use axum::extract::{Path, Query, State};
use axum::response::Html;
use std::collections::HashMap;

/// Whole years between two ISO dates (age at the decision).
pub fn age_at(birth: &str, at: &str) -> Option<i32> {
    let (b, a) = (deadlines::parse_date(birth)?, deadlines::parse_date(at)?);
    let mut years = a.year() - b.year();
    if (a.month() as u8, a.day()) < (b.month() as u8, b.day()) {
        years -= 1;
    }
    (years >= 0).then_some(years)
}

fn result_label(result: &str) -> &'static str {
    match result {
        "executed" => "Выполнено",
        "not-executed" => "Не выполнено",
        _ => "—",
    }
}

fn measure_status(status: &str) -> &'static str {
    match status {
        "open" => "назначено, в работе",
        "executed" => "выполнено",
        "not-executed" => "не выполнено",
        "closed" => "закрыто",
        _ => "—",
    }
}

pub async fn card(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(outcome): Query<super::tsr::Outcome>,
) -> Result<Html<String>, PageError> {
    // A bureau sees the whole IPRA its institution issued; an executor its own measures.
    let card = super::bureau::card(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(&user))?;
    let scope = super::bureau::card_scope(&user);
    crate::audit::record(&app.db, &user.actor(), "ipra.read", &format!("ipra:{id}"), None).await?;
    let records: Vec<ExecutionRecord> = execution::records_of_ipra(&app, id)
        .await?
        .into_iter()
        .filter(|r| scope.is_none_or(|o| r.form.organisation == o))
        .collect();
    let reports = crate::register::ipra_reports::of_ipra(&app.db, id, scope).await?;
    let orgs: HashMap<String, String> = crate::register::directory::organisation_names(&app.db).await?;
    let org_name = |ogrn: &str| {
        orgs.get(ogrn)
            .map(|n| format!("{} (ОГРН {})", esc(n), esc(ogrn)))
            .unwrap_or_else(|| format!("ОГРН {}", esc(ogrn)))
    };
    let today = deadlines::format_date(deadlines::today());
    let p = &card.person;

    let mut body = format!(
        r#"<p class="muted"><a href="/">← Реестр выписок</a></p><h1>ИПРА № {}</h1><p class="muted">Карточка выписки из ИПРА</p>"#,
        esc(&card.number)
    );
    body.push_str(r#"<div class="actions reg-card-actions">"#);
    if user.can_write() && card.status == "active" {
        body.push_str(&format!(
            r#"<a class="button" id="reg-add-execution" href="/ipras/{id}/execution">Добавить исполнение</a>"#
        ));
    }
    // The extract as received holds every department's measures: for those who see the whole IPRA
    // and work on it.
    if user.scope().is_none() {
        body.push_str(&format!(
            r#"<a class="button secondary" id="reg-source" href="/api/v1/ipras/{id}/source" download>Скачать выписку (XML)</a>"#
        ));
    }
    body.push_str(&format!(
        r#"<a class="button secondary" href="/api/v1/ipras/{id}">Выписка в JSON</a></div>"#
    ));
    if card.status == "superseded" {
        if let Some(next) = card.superseded_by {
            body.push_str(&format!(
                r#"<p class="alert" role="status">Эта выписка заменена новой ИПРА: <a href="/ipras/{next}">открыть действующую</a>.</p>"#
            ));
        }
    }

    body.push_str(&format!(
        r#"<h2>Сведения о выписке</h2><dl class="reg-extract"><dt>Тип выписки</dt><dd>{}</dd><dt>Номер ИПРА</dt><dd>{}</dd>
<dt>Дата вынесения решения</dt><dd>{}</dd><dt>Номер протокола</dt><dd>{}</dd><dt>Дата протокола</dt><dd>{}</dd>
<dt>Учреждение, сформировавшее ИПРА</dt><dd>{}</dd><dt>Версия документа</dt><dd>{}</dd><dt>Статус</dt><dd class="status-{}">{}</dd>
<dt>Срок действия</dt><dd>{}</dd><dt>Получена</dt><dd>{}</dd>
<dt>Целевая реабилитационная группа</dt><dd id="reg-target-groups">{}</dd><dt>Ранняя помощь</dt><dd id="reg-early-help">{}</dd>
<dt>Исходный документ</dt><dd>{} ({} байт, SHA-256 <code class="reg-hash">{}</code>)</dd></dl>"#,
        esc(&kind_label(card.is_child, &card.document_version)),
        esc(&card.number),
        ru_opt_date(&card.decision_date),
        esc(&card.protocol_number),
        esc(&ru_date(&card.protocol_date)),
        opt(&card.issued_by),
        esc(&card.document_version),
        esc(&card.status),
        status_label(&card.status),
        card.valid_until
            .as_deref()
            .map(|d| format!("до {}", esc(&ru_date(d))))
            .unwrap_or_else(|| "бессрочно / не указан".into()),
        esc(&ru_date(&card.received_at)),
        target_groups_html(&card.extra),
        if extra_value(&card.extra, crate::register::store::EARLY_HELP).as_deref() == Some("true") {
            "нуждается в ранней помощи"
        } else {
            "не указана"
        },
        esc(&card.source_document.file_name),
        card.source_document.size_bytes,
        esc(&card.source_document.sha256),
    ));

    let age = match (&p.birth_date, &card.decision_date) {
        (Some(b), Some(d)) => age_at(b, d).map(|a| a.to_string()),
        _ => None,
    };
    body.push_str(&format!(
        r#"<h2>Сведения об инвалиде (ребёнке-инвалиде)</h2><dl class="reg-person"><dt>СНИЛС</dt><dd id="reg-snils">{}</dd><dt>ФИО</dt><dd>{} {} {}</dd>
<dt>Дата рождения</dt><dd>{}</dd><dt>Возраст на дату решения</dt><dd>{}</dd><dt>Пол</dt><dd>{}</dd>
<dt>Территория</dt><dd>{}</dd><dt>Адрес</dt><dd>{}</dd>{}</dl>"#,
        esc(&p.snils),
        esc(&p.surname),
        esc(&p.given_name),
        p.patronymic.as_deref().map(esc).unwrap_or_default(),
        ru_opt_date(&p.birth_date),
        age.map(|a| format!("{a} (полных лет)")).unwrap_or_else(|| "—".into()),
        gender_label(p.gender.as_deref()),
        p.territory_code
            .as_deref()
            .map(|t| esc(&territory_name(&app, t)))
            .unwrap_or_else(|| "—".into()),
        opt(&p.address),
        p.death_date
            .as_deref()
            .map(|d| format!(r#"<dt>Дата смерти</dt><dd class="bad">{}</dd>"#, esc(&ru_date(d))))
            .unwrap_or_default(),
    ));

    // Measures by section, in the order of the sections list.
    let latest: HashMap<i64, &ExecutionRecord> =
        records
            .iter()
            .filter_map(|r| r.form.measure_id.map(|m| (m, r)))
            .fold(HashMap::new(), |mut acc, (m, r)| {
                acc.insert(m, r); // records come in id order: the last one wins
                acc
            });
    let mut order: Vec<String> = app
        .reference()
        .list("sections")
        .iter()
        .map(|e| e.code.clone())
        .collect();
    for m in &card.measures {
        if !order.contains(&m.section) {
            order.push(m.section.clone());
        }
    }
    body.push_str(&format!(
        r#"<h2>Мероприятия по разделам</h2><p class="muted">Всего мероприятий: {}{}</p>"#,
        card.measures.len(),
        if scope.is_some() {
            " (только назначенные вашей организации)"
        } else {
            ""
        }
    ));
    // The TSR clarification block follows the TSR section (or the sections, when the user sees no TSR).
    let tsr_block = super::tsr::section_html(
        &app,
        &user,
        &card,
        &format!("/ipras/{id}"),
        outcome.notice().as_deref(),
        outcome.alert().as_deref(),
    )
    .await?;
    let mut tsr_shown = false;
    for section in &order {
        let measures: Vec<&MeasureView> = card.measures.iter().filter(|m| &m.section == section).collect();
        if measures.is_empty() {
            continue;
        }
        body.push_str(&format!(
            r#"<section class="reg-section" data-section="{}"><h3>{} <span class="muted">({})</span></h3><div class="table-wrap"><table><thead><tr>
<th scope="col">Категория</th><th scope="col">Мероприятие</th><th scope="col" class="hide-narrow">Период</th><th scope="col" class="hide-narrow">Исполнитель по выписке</th>
<th scope="col">Назначено</th><th scope="col">Срок исполнения</th><th scope="col">Результат</th></tr></thead><tbody>"#,
            esc(section),
            esc(&section_name(&app, section)),
            measures.len()
        ));
        for m in measures {
            let overdue = m.status == "open" && m.due_date.as_deref().is_some_and(|d| d < today.as_str());
            let result = match latest.get(&m.id) {
                Some(r) => format!(
                    r#"<a href="/executions/{}">{}</a>, {}{}"#,
                    r.id,
                    result_label(&r.form.result),
                    execution::status_label(&r.status).to_lowercase(),
                    r.form
                        .execution_date
                        .as_deref()
                        .map(|d| format!(", {}", esc(&ru_date(d))))
                        .unwrap_or_default()
                ),
                None => measure_status(&m.status).to_string(),
            };
            body.push_str(&format!(
                r#"<tr{}><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td>{}</td><td>{}{}</td><td>{}</td></tr>"#,
                if overdue { r#" class="reg-overdue""# } else { "" },
                esc(&m.category_name),
                esc(&m.name),
                period(&m.date_from, &m.date_to),
                match (&m.executor_name, &m.executor_ogrn) {
                    (Some(n), Some(o)) => format!("{} (ОГРН {})", esc(n), esc(o)),
                    (Some(n), None) => esc(n),
                    (None, Some(o)) => format!("ОГРН {}", esc(o)),
                    (None, None) => "—".into(),
                },
                m.assigned_ogrn
                    .as_deref()
                    .map(org_name)
                    .unwrap_or_else(|| r#"<span class="warn">очередь координатора</span>"#.into()),
                ru_opt_date(&m.due_date),
                if overdue {
                    r#" <strong class="bad reg-overdue-mark">просрочено</strong>"#
                } else {
                    ""
                },
                result,
            ));
        }
        body.push_str("</tbody></table></div></section>");
        if section == crate::register::clarification::SECTION {
            body.push_str(&tsr_block);
            tsr_shown = true;
        }
    }
    if !tsr_shown {
        body.push_str(&tsr_block);
    }
    if card.measures.is_empty() {
        body.push_str(r#"<p class="muted">Мероприятий нет.</p>"#);
    }

    // Records made from the services a social-services system reported back.
    let record_ids: Vec<i64> = records.iter().map(|r| r.id).collect();
    let reported: HashMap<i64, crate::register::social_services::ReportedService> =
        crate::register::social_services::reported_services(&app.db, &record_ids)
            .await?
            .into_iter()
            .map(|s| (s.execution_record_id, s))
            .collect();
    let (drafts, done): (Vec<&ExecutionRecord>, Vec<&ExecutionRecord>) =
        records.iter().partition(|r| r.status == "draft");
    for (title, id_attr, list, empty) in [
        ("Исполнение ИПРА", "reg-executions", &done, "Исполнений пока нет."),
        ("Черновики", "reg-drafts", &drafts, "Черновиков нет."),
    ] {
        body.push_str(&format!(r#"<h2 id="{id_attr}-h">{title}</h2>"#));
        if list.is_empty() {
            body.push_str(&format!(r#"<p class="muted" id="{id_attr}">{empty}</p>"#));
            continue;
        }
        body.push_str(&format!(
            r#"<div class="table-wrap"><table id="{id_attr}"><thead><tr><th scope="col">№</th><th scope="col">Раздел</th><th scope="col">Мероприятие</th><th scope="col">Результат</th>
<th scope="col" class="hide-narrow">Дата исполнения</th><th scope="col" class="hide-narrow">Организация</th><th scope="col">Статус</th><th scope="col" class="hide-narrow">Изменено</th></tr></thead><tbody>"#
        ));
        for r in list {
            body.push_str(&format!(
                r#"<tr><td><a href="/executions/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td>{}</td><td class="hide-narrow">{}</td></tr>"#,
                r.id,
                r.id,
                esc(&section_name(&app, &r.form.section)),
                match reported.get(&r.id) {
                    Some(s) => format!(
                        r#"{}<br><span class="muted reg-reported">по сведениям об оказанных услугах ({}): {}</span>"#,
                        esc(&r.form.measure_name),
                        esc(&s.document_id),
                        crate::register::social_services::service_result_label(&s.service_result)
                    ),
                    None => esc(&r.form.measure_name),
                },
                result_label(&r.form.result),
                ru_opt_date(&r.form.execution_date),
                org_name(&r.form.organisation),
                execution::status_label(&r.status),
                esc(&ru_date(&r.updated_at)),
            ));
        }
        body.push_str("</tbody></table></div>");
    }

    body.push_str(r#"<h2 id="reg-reports-h">Отчёты об исполнении</h2>"#);
    if reports.is_empty() {
        body.push_str(r#"<p class="muted" id="reg-reports">Отчётов по этой выписке ещё не формировали.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table id="reg-reports"><thead><tr><th scope="col">№</th><th scope="col">Статус</th><th scope="col" class="hide-narrow">Отчитывается</th><th scope="col">Сформирован</th><th scope="col">Срок</th><th scope="col" class="hide-narrow">Отправлен</th></tr></thead><tbody>"#);
        for r in &reports {
            body.push_str(&format!(
                r#"<tr><td><a href="/reports/{}">{}</a></td><td>{}{}</td><td class="hide-narrow">{}</td><td>{}</td><td>{}</td><td class="hide-narrow">{}</td></tr>"#,
                r.id,
                r.id,
                execution::status_label(&r.status),
                r.rejection_reason
                    .as_deref()
                    .map(|reason| format!(r#"<br><span class="bad">{}</span>"#, esc(reason)))
                    .unwrap_or_default(),
                org_name(&r.reporter_ogrn),
                esc(&ru_date(&r.created_at)),
                ru_opt_date(&r.due_date),
                ru_opt_date(&r.sent_at),
            ));
        }
        body.push_str("</tbody></table></div>");
    }

    // As the card's API gives them: an executor without a social-protection measure here and a bureau
    // see none.
    let ippsu = &card.ippsu_sends;
    if !ippsu.is_empty() {
        body.push_str(r#"<h2 id="reg-ippsu-h">Проекты ИППСУ</h2><div class="table-wrap"><table id="reg-ippsu"><thead><tr><th scope="col">Действие</th><th scope="col">Состояние</th><th scope="col" class="hide-narrow">Документ</th><th scope="col" class="hide-narrow">Отправлен</th><th scope="col">Ответ</th></tr></thead><tbody>"#);
        for s in ippsu {
            let action = match (s.action.as_str(), s.reason.as_deref()) {
                ("create", _) => "создание".to_string(),
                (_, Some(reason)) => format!("исправление: {}", esc(reason)),
                _ => "исправление".to_string(),
            };
            let answer = match s.status.as_str() {
                "accepted" => format!(
                    "принят{}",
                    s.ippsu_number
                        .as_deref()
                        .map(|n| format!(", ИППСУ № {}", esc(n)))
                        .unwrap_or_default()
                ),
                "rejected" => format!(
                    r#"<span class="bad">отклонён: {}</span>"#,
                    esc(s.answer_reason.as_deref().unwrap_or_default())
                ),
                _ => "—".to_string(),
            };
            body.push_str(&format!(
                r#"<tr data-status="{}"><td>{action}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td>{answer}</td></tr>"#,
                esc(&s.status),
                crate::register::social_services::ippsu_status_label(&s.status),
                esc(s.document_name.as_deref().unwrap_or("—")),
                ru_opt_date(&s.sent_at),
            ));
        }
        body.push_str("</tbody></table></div>");
    }

    body.push_str(r#"<h2>История ИПРА гражданина</h2>"#);
    if card.history.len() <= 1 {
        body.push_str(r#"<p class="muted" id="reg-history">Других выписок по этому гражданину нет.</p>"#);
    } else {
        body.push_str(r#"<ol class="reg-history" id="reg-history">"#);
        for h in &card.history {
            let this = h.id == card.id;
            let replaced = h
                .superseded_by
                .map(|n| format!(r#", заменена <a href="/ipras/{n}">выпиской {n}</a>"#))
                .unwrap_or_default();
            let name = format!(
                "№ {}, протокол {} от {}",
                esc(&h.number),
                esc(&h.protocol_number),
                esc(&ru_date(&h.protocol_date))
            );
            body.push_str(&format!(
                r#"<li>{} — <span class="status-{}">{}</span>{replaced}</li>"#,
                if this {
                    format!(r#"<strong aria-current="page">{name} (эта выписка)</strong>"#)
                } else {
                    format!(r#"<a href="/ipras/{}">{name}</a>"#, h.id)
                },
                esc(&h.status),
                status_label(&h.status),
            ));
        }
        body.push_str("</ol>");
    }

    body.push_str(r#"<h2>Ранее направленные отчёты об исполнении</h2>"#);
    if card.prior_reports.is_empty() {
        body.push_str(r#"<p class="muted">В выписке нет сведений о ранее направленных отчётах.</p>"#);
    } else {
        body.push_str(r#"<div class="table-wrap"><table id="reg-prior"><thead><tr><th scope="col">Документ</th><th scope="col">Номер</th><th scope="col">Дата</th><th scope="col">Источник</th><th scope="col">Записей</th></tr></thead><tbody>"#);
        for r in &card.prior_reports {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&r.document_version),
                opt(&r.number),
                ru_opt_date(&r.report_date),
                opt(&r.source),
                r.entries.as_array().map(Vec::len).unwrap_or(0),
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(Some(&user), &format!("ИПРА № {}", card.number), &body))
}

/// A measure's period: «с 01.02.2026 по 30.06.2026», an open end said as such, «не указан» when
/// the extract gives none.
fn period(from: &Option<String>, to: &Option<String>) -> String {
    match (from.as_deref(), to.as_deref()) {
        (Some(f), Some(t)) => format!("{} — {}", esc(&ru_date(f)), esc(&ru_date(t))),
        (Some(f), None) => format!("с {}", esc(&ru_date(f))),
        (None, Some(t)) => format!("по {}", esc(&ru_date(t))),
        (None, None) => r#"<span class="muted">не указан</span>"#.to_string(),
    }
}

/// «Пол» as the extract gives it: `M`/`F` in FRI extracts, `1`/`2` in older forms, words elsewhere.
fn gender_label(gender: Option<&str>) -> &'static str {
    match gender.map(|g| g.trim().to_lowercase()).as_deref() {
        Some("1" | "m" | "male" | "м" | "муж" | "мужской") => "мужской",
        Some("2" | "f" | "female" | "ж" | "жен" | "женский") => "женский",
        _ => "—",
    }
}

/// The IPRA's `extra` as stored: `[[code, value], …]`.
fn extra_pairs(extra: &serde_json::Value) -> impl Iterator<Item = (&str, &str)> {
    extra
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|pair| Some((pair.get(0)?.as_str()?, pair.get(1)?.as_str()?)))
}

fn extra_value(extra: &serde_json::Value, code: &str) -> Option<String> {
    extra_pairs(extra).find(|(c, _)| *c == code).map(|(_, v)| v.to_string())
}

/// «ЦРГ 3 — name; ЦРГ 7 — name», or that the extract names none (forms before 2024 have no such field).
fn target_groups_html(extra: &serde_json::Value) -> String {
    let groups: Vec<String> = extra_pairs(extra)
        .filter_map(|(code, name)| {
            let code = code.strip_prefix(crate::register::store::TARGET_GROUP)?;
            Some(if name.is_empty() || name == code {
                esc(code)
            } else {
                format!("{} — {}", esc(code), esc(name))
            })
        })
        .collect();
    if groups.is_empty() {
        "не указана в выписке".to_string()
    } else {
        groups.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        assert_eq!(age_at("2010-05-20", "2024-05-19"), Some(13));
        assert_eq!(age_at("2010-05-20", "2024-05-20"), Some(14));
        assert_eq!(age_at("1980-01-01", "2024-12-31"), Some(44));
        assert_eq!(age_at("нет", "2024-12-31"), None);
    }
}

#[cfg(test)]
mod gender_tests {
    use super::gender_label;

    #[test]
    fn every_spelling_of_the_gender_is_shown() {
        assert_eq!(gender_label(Some("F")), "женский");
        assert_eq!(gender_label(Some("M")), "мужской");
        assert_eq!(gender_label(Some("Ж")), "женский");
        assert_eq!(gender_label(Some("2")), "женский");
        assert_eq!(gender_label(None), "—");
        assert_eq!(gender_label(Some("?")), "—");
    }
}
