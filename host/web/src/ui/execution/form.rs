//! The execution form of one IPRA (руководство «ЛК исполнителя ИПРА» в ЕЦП, «Форма исполнения ИПРА»): the measures grouped by
//! the six sections, one row per measure (and extra rows the executor adds), saved as drafts,
//! validated by the department plugins (their messages shown next to the fields) and marked
//! ready for signing. Without a script every button is a form submit; the OGRN look-up too.

use super::{reason_names, ru_date, section_names};
use crate::app::App;
use crate::auth::Principal;
use crate::register::execution::{self, ExecutionForm, ExecutionRecord, FieldError};
use crate::register::query::{self, IpraCard, MeasureView};
use crate::ui::{check_csrf, csrf_field, esc, mask_snils, opt, page, require_page_write, PageError, PageUser};
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use std::collections::BTreeMap;

/// One row of the form as typed (or as loaded from a saved record).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Row {
    pub record_id: Option<i64>,
    pub measure_id: Option<i64>,
    pub section: String,
    pub result: String,
    pub measure_name: String,
    pub executor_ogrn: String,
    pub executor_name: String,
    pub clarification: String,
    pub date: String,
    pub reasons: Vec<String>,
    pub comment: String,
    /// Saved status of the record (draft, ready, reported); rows not yet saved have none.
    pub status: Option<String>,
    /// Why a saved record came back for correction (its report withdrawn or rejected).
    pub returned: Option<String>,
}

impl Row {
    fn from_record(r: &ExecutionRecord) -> Row {
        Row {
            record_id: Some(r.id),
            measure_id: r.form.measure_id,
            section: r.form.section.clone(),
            result: r.form.result.clone(),
            measure_name: r.form.measure_name.clone(),
            executor_ogrn: r.form.executor_ogrn.clone(),
            executor_name: r.form.executor_name.clone().unwrap_or_default(),
            clarification: r.form.clarification.clone().unwrap_or_default(),
            date: r.form.execution_date.clone().unwrap_or_default(),
            reasons: r.form.reasons.clone(),
            comment: r.form.comment.clone().unwrap_or_default(),
            status: Some(r.status.clone()),
            returned: r.returned_reason.clone(),
        }
    }

    fn editable(&self) -> bool {
        matches!(self.status.as_deref(), None | Some("draft"))
    }

    /// Whether the user filled anything that must be saved (a result is the minimum).
    fn filled(&self) -> bool {
        !self.result.is_empty()
    }

    fn to_form(&self, ipra_id: i64, organisation: &str) -> ExecutionForm {
        let text = |s: &str| Some(s.trim().to_string()).filter(|s| !s.is_empty());
        ExecutionForm {
            ipra_id,
            measure_id: self.measure_id,
            section: self.section.clone(),
            organisation: organisation.to_string(),
            result: self.result.clone(),
            measure_name: self.measure_name.trim().to_string(),
            executor_ogrn: self.executor_ogrn.trim().to_string(),
            executor_name: text(&self.executor_name),
            clarification: text(&self.clarification),
            execution_date: text(&self.date),
            reasons: self.reasons.clone(),
            comment: text(&self.comment),
        }
    }
}

/// Reads the posted rows: fields are named `r{index}.{field}`; reasons repeat.
pub fn parse_rows(pairs: &[(String, String)]) -> Result<Vec<Row>, String> {
    let mut rows: BTreeMap<usize, Row> = BTreeMap::new();
    for (key, value) in pairs {
        let Some((index, field)) = key.strip_prefix('r').and_then(|k| k.split_once('.')) else {
            continue;
        };
        let index: usize = index.parse().map_err(|_| format!("поле формы «{key}» не распознано"))?;
        if index > 2000 {
            return Err("слишком много строк в форме".into());
        }
        let row = rows.entry(index).or_default();
        let number = |v: &str| -> Result<Option<i64>, String> {
            if v.is_empty() {
                Ok(None)
            } else {
                v.parse().map(Some).map_err(|_| format!("поле формы «{key}» не число"))
            }
        };
        match field {
            "record" => row.record_id = number(value)?,
            "measure" => row.measure_id = number(value)?,
            "section" => row.section = value.clone(),
            "result" => row.result = value.clone(),
            "measure_name" => row.measure_name = value.clone(),
            "executor_ogrn" => row.executor_ogrn = value.clone(),
            "executor_name" => row.executor_name = value.clone(),
            "clarification" => row.clarification = value.clone(),
            "date" => row.date = value.clone(),
            "reason" => row.reasons.push(value.clone()),
            "comment" => row.comment = value.clone(),
            _ => {}
        }
    }
    for row in rows.values_mut() {
        if !matches!(row.result.as_str(), "" | "executed" | "not-executed") {
            return Err(format!(
                "Статус/Результат «{}» неизвестен: выберите «Выполнено» или «Не выполнено»",
                row.result
            ));
        }
    }
    Ok(rows.into_values().collect())
}

/// The form field a plugin's error names (by the field labels of the SDK), or None for the row.
pub fn field_key(field: Option<&str>) -> Option<&'static str> {
    match field? {
        "Наименование мероприятия" => Some("measure_name"),
        "ОГРН исполнителя" => Some("executor_ogrn"),
        "Наименование исполнителя" => Some("executor_name"),
        "Дата" | "Дата исполнения" => Some("date"),
        "Причины неисполнения" => Some("reason"),
        "Комментарий" => Some("comment"),
        "Уточнение мероприятия" => Some("clarification"),
        "Результат исполнения" | "Статус" => Some("result"),
        _ => None,
    }
}

/// What the page shows for a row besides its values: its errors and notes.
#[derive(Default)]
struct RowState {
    errors: Vec<FieldError>,
    note: Option<String>,
}

/// Everything the form page needs.
struct FormPage<'a> {
    card: &'a IpraCard,
    rows: Vec<Row>,
    states: BTreeMap<usize, RowState>,
    notice: Option<String>,
    alert: Option<String>,
    /// What the TSR clarification form said (its redirect back here).
    tsr: crate::ui::register::tsr::Outcome,
}

/// The organisation a row is recorded for: the executor's own, or the measure's assignee.
fn organisation_of(user: &Principal, card: &IpraCard, row: &Row) -> String {
    if let Some(ogrn) = user.scope() {
        return ogrn.to_string();
    }
    row.measure_id
        .and_then(|id| card.measures.iter().find(|m| m.id == id))
        .and_then(|m| m.assigned_ogrn.clone())
        .unwrap_or_else(|| row.executor_ogrn.trim().to_string())
}

/// The rows the form starts with: the saved records in the user's scope, and an empty row for
/// every measure of the card without a record.
async fn initial_rows(app: &App, user: &Principal, card: &IpraCard) -> anyhow::Result<Vec<Row>> {
    let records = execution::records_of_ipra(app, card.id).await?;
    let mut rows: Vec<Row> = records
        .iter()
        .filter(|r| user.scope().is_none_or(|o| r.form.organisation == o))
        .map(Row::from_record)
        .collect();
    let mut names: BTreeMap<String, Option<String>> = BTreeMap::new();
    for m in &card.measures {
        // A measure with a record — in work, or in a report not yet answered — gets no second row.
        if rows.iter().any(|r| r.measure_id == Some(m.id)) {
            continue;
        }
        let ogrn = user.scope().map(str::to_string).or_else(|| m.assigned_ogrn.clone());
        let name = match &ogrn {
            Some(o) => match names.get(o) {
                Some(n) => n.clone(),
                None => {
                    let n = crate::register::directory::organisation(&app.db, o)
                        .await?
                        .map(|x| x.name);
                    names.insert(o.clone(), n.clone());
                    n
                }
            },
            None => None,
        };
        rows.push(measure_row(m, ogrn.unwrap_or_default(), name.unwrap_or_default()));
    }
    Ok(rows)
}

fn measure_row(m: &MeasureView, ogrn: String, name: String) -> Row {
    Row {
        measure_id: Some(m.id),
        section: m.section.clone(),
        measure_name: m.name.clone(),
        executor_ogrn: ogrn,
        executor_name: name,
        ..Row::default()
    }
}

async fn load_card(app: &App, user: &Principal, id: i64) -> Result<IpraCard, PageError> {
    query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(user))
}

#[derive(serde::Deserialize)]
pub struct Done {
    done: Option<String>,
}

/// GET `/ipras/{id}/execution`.
pub async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(done): Query<Done>,
    Query(tsr): Query<crate::ui::register::tsr::Outcome>,
) -> Result<Html<String>, PageError> {
    let card = load_card(&app, &user, id).await?;
    let rows = initial_rows(&app, &user, &card).await?;
    let form = FormPage {
        card: &card,
        rows,
        states: BTreeMap::new(),
        notice: (done.done.as_deref() == Some("ready"))
            .then(|| "Мероприятия отмечены «Готово к подписанию»: из них можно сформировать отчёт.".to_string()),
        alert: None,
        tsr,
    };
    render(&app, &user, form).await
}

/// POST `/ipras/{id}/execution`: the button pressed is `action`.
pub async fn submit(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    check_csrf(&user, &field("csrf")).map_err(|e| e.for_user(&user))?;
    require_page_write(&user).map_err(|e| e.for_user(&user))?;
    let card = load_card(&app, &user, id).await?;
    let action = field("action");
    let mut rows = parse_rows(&pairs).map_err(|m| PageError::bad_request(m).for_user(&user))?;
    // Rows must be of this IPRA and, for an executor, of its own measures and records.
    for row in &rows {
        if let Some(m) = row.measure_id {
            if !card.measures.iter().any(|x| x.id == m) {
                return Err(PageError::not_found("Мероприятие").for_user(&user));
            }
        }
        if let Some(r) = row.record_id {
            let record = execution::record(&app, r).await?;
            if !record
                .is_some_and(|rec| rec.form.ipra_id == id && user.scope().is_none_or(|o| rec.form.organisation == o))
            {
                return Err(PageError::not_found("Запись исполнения").for_user(&user));
            }
        }
    }
    // Saved statuses come from the register, not from the form.
    for row in rows.iter_mut() {
        let saved = match row.record_id {
            Some(r) => execution::record(&app, r).await?,
            None => None,
        };
        row.status = saved.as_ref().map(|rec| rec.status.clone());
        row.returned = saved.and_then(|rec| rec.returned_reason);
    }
    let mut form = FormPage {
        card: &card,
        rows: Vec::new(),
        states: BTreeMap::new(),
        notice: None,
        alert: None,
        tsr: Default::default(),
    };
    let actor = user.actor();
    match action.split_once(':').unwrap_or((action.as_str(), "")) {
        ("lookup", index) => {
            let index: usize = index
                .parse()
                .map_err(|_| PageError::bad_request("неизвестная строка".into()))?;
            if let Some(row) = rows.get_mut(index) {
                let ogrn = row.executor_ogrn.trim().to_string();
                match crate::register::directory::organisation(&app.db, &ogrn).await? {
                    Some(org) if !ogrn.is_empty() => {
                        row.executor_name = org.name;
                        form.states.entry(index).or_default().note =
                            Some("Наименование исполнителя найдено по ОГРН.".into());
                    }
                    _ => form.states.entry(index).or_default().errors.push(FieldError {
                        code: "ogrn-unknown".into(),
                        message: format!("организация с ОГРН «{ogrn}» не найдена в справочнике организаций"),
                        record: None,
                        field: Some("ОГРН исполнителя".into()),
                    }),
                }
            }
            form.rows = rows;
        }
        ("add", section) => {
            if !section_names(&app).iter().any(|(code, _)| code == section) {
                return Err(PageError::bad_request(format!("раздел «{section}» неизвестен")).for_user(&user));
            }
            let ogrn = user.scope().map(str::to_string).unwrap_or_default();
            let name = match user.scope() {
                Some(o) => crate::register::directory::organisation(&app.db, o)
                    .await?
                    .map(|x| x.name)
                    .unwrap_or_default(),
                None => String::new(),
            };
            rows.push(Row {
                section: section.to_string(),
                executor_ogrn: ogrn,
                executor_name: name,
                ..Row::default()
            });
            form.rows = rows;
            form.notice = Some("Добавлена строка мероприятия: заполните её и сохраните.".into());
        }
        ("back", record) => {
            let record: i64 = record
                .parse()
                .map_err(|_| PageError::bad_request("неизвестная запись".into()))?;
            if !rows.iter().any(|r| r.record_id == Some(record)) {
                return Err(PageError::not_found("Запись исполнения").for_user(&user));
            }
            if let Err(e) = execution::back_to_draft(&app, record, &actor).await {
                form.alert = Some(format!("{e:#}"));
            } else {
                form.notice = Some("Запись возвращена в черновик: её снова можно изменить.".into());
            }
            form.rows = initial_rows(&app, &user, &card).await?;
        }
        ("reset", _) => {
            let mut deleted = 0;
            for row in rows.iter().filter(|r| r.status.as_deref() == Some("draft")) {
                if let Some(record) = row.record_id {
                    execution::delete_draft(&app, record, &actor).await?;
                    deleted += 1;
                }
            }
            crate::audit::record(&app.db, &actor, "execution.reset", &format!("ipra:{id}"), None).await?;
            form.rows = initial_rows(&app, &user, &card).await?;
            form.notice = Some(format!(
                "Черновики удалены ({deleted}); форма заполняется заново по мероприятиям ИПРА."
            ));
        }
        ("save", _) | ("ready", _) => {
            let ready = action == "ready";
            // Validate every filled editable row first: nothing is half-written.
            let mut failed = false;
            for (i, row) in rows.iter().enumerate() {
                if !row.editable() || !row.filled() {
                    continue;
                }
                let organisation = organisation_of(&user, &card, row);
                let errors = execution::validate(&app, &row.to_form(id, &organisation)).await?;
                if !errors.is_empty() {
                    failed = true;
                    form.states.entry(i).or_default().errors = errors;
                }
            }
            if !rows.iter().any(|r| r.editable() && r.filled()) {
                form.alert = Some(
                    "Нет заполненных мероприятий: выберите «Статус/Результат» хотя бы у одного мероприятия.".into(),
                );
                form.rows = rows;
            } else if failed && ready {
                form.alert =
                    Some("Не все мероприятия заполнены верно: исправьте отмеченные поля. Ничего не сохранено.".into());
                form.rows = rows;
            } else {
                let mut saved = 0;
                for (i, row) in rows.iter_mut().enumerate() {
                    if !row.editable() || !row.filled() {
                        continue;
                    }
                    let organisation = organisation_of(&user, &card, row);
                    let draft = row.to_form(id, &organisation);
                    let (record, _) = execution::save_draft(&app, row.record_id, &draft, &actor)
                        .await
                        .map_err(|e| PageError::bad_request(format!("{e:#}")).for_user(&user))?;
                    row.record_id = Some(record);
                    row.status = Some("draft".into());
                    if ready {
                        match execution::mark_ready(&app, record, &actor).await? {
                            Ok(()) => row.status = Some("ready".into()),
                            Err(errors) => form.states.entry(i).or_default().errors = errors,
                        }
                    }
                    saved += 1;
                }
                form.notice = Some(if ready {
                    format!("Сохранено и отмечено «Готово к подписанию»: {saved}.")
                } else if failed {
                    format!(
                        "Черновик сохранён ({saved}), но есть замечания: исправьте отмеченные поля до отметки «Готово к подписанию»."
                    )
                } else {
                    format!("Черновик сохранён: {saved}.")
                });
                if ready && form.states.values().all(|s| s.errors.is_empty()) {
                    return Ok(Redirect::to(&format!("/ipras/{id}/execution?done=ready")).into_response());
                }
                form.rows = rows;
            }
        }
        _ => return Err(PageError::bad_request(format!("действие «{action}» неизвестно")).for_user(&user)),
    }
    let status = if form.states.values().any(|s| !s.errors.is_empty()) || form.alert.is_some() {
        axum::http::StatusCode::UNPROCESSABLE_ENTITY
    } else {
        axum::http::StatusCode::OK
    };
    Ok((status, render(&app, &user, form).await?).into_response())
}

fn field_errors(state: Option<&RowState>, key: Option<&str>, id: &str) -> String {
    let Some(state) = state else { return String::new() };
    state
        .errors
        .iter()
        .filter(|e| field_key(e.field.as_deref()) == key)
        .map(|e| {
            format!(
                r#"<p class="field-error" role="alert" id="{id}-error">{}</p>"#,
                esc(&capitalise(&e.message))
            )
        })
        .collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn has_error(state: Option<&RowState>, key: &str) -> bool {
    state.is_some_and(|s| s.errors.iter().any(|e| field_key(e.field.as_deref()) == Some(key)))
}

fn text_input(i: usize, key: &str, label: &str, value: &str, kind: &str, state: Option<&RowState>) -> String {
    let id = format!("r{i}-{key}");
    let invalid = if has_error(state, key) {
        format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
    } else {
        String::new()
    };
    format!(
        r#"<div class="ex-field ex-{key}"><label for="{id}">{label}</label><input id="{id}" name="r{i}.{key}" type="{kind}" value="{}"{invalid}>{}</div>"#,
        esc(value),
        field_errors(state, Some(key), &id)
    )
}

async fn render(app: &App, user: &Principal, form: FormPage<'_>) -> Result<Html<String>, PageError> {
    let card = form.card;
    let p = &card.person;
    let writable = user.can_write();
    let mut body = format!(
        r#"<h1>Исполнение ИПРА № {}</h1><dl class="ex-head"><dt>Номер протокола</dt><dd>{} от {}</dd><dt>Дата решения</dt><dd>{}</dd><dt>Срок действия</dt><dd>{}</dd><dt>Гражданин</dt><dd>{} {} {}{}</dd><dt>СНИЛС</dt><dd>{} (<a href="/ipras/{}">карточка выписки</a>)</dd></dl>"#,
        esc(&card.number),
        esc(&card.protocol_number),
        ru_date(&card.protocol_date),
        card.decision_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
        card.valid_until.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
        esc(&p.surname),
        esc(&p.given_name),
        opt(&p.patronymic),
        if card.is_child {
            " (ребёнок-инвалид)"
        } else {
            ""
        },
        mask_snils(&super::digits(&p.snils)),
        card.id,
    );
    if let Some(notice) = &form.notice {
        body.push_str(&format!(r#"<p class="notice" role="status">{}</p>"#, esc(notice)));
    }
    if let Some(alert) = &form.alert {
        body.push_str(&format!(r#"<p class="alert" role="alert">{}</p>"#, esc(alert)));
    }
    if form.states.values().any(|s| !s.errors.is_empty()) && form.alert.is_none() {
        body.push_str(
            r#"<p class="alert" role="alert">Есть замечания ведомств к заполнению: они показаны у полей.</p>"#,
        );
    }
    if !writable {
        body.push_str(r#"<p class="notice">Только просмотр: роль «Аудитор» не изменяет исполнение.</p>"#);
    }
    // The read-only view is no form at all: nothing on it can be sent.
    if writable {
        body.push_str(&format!(
            // The first submit button is what Enter in any field does: save the draft (not the
            // first «Найти» of the form, which Enter used to run).
            r#"<form method="post" action="/ipras/{}/execution" class="ex-form" novalidate>{}<button type="submit" name="action" value="save" class="visually-hidden" id="ex-enter-saves" tabindex="-1" aria-hidden="true">Сохранить как черновик</button><fieldset class="ex-all"><legend class="visually-hidden">Мероприятия</legend>"#,
            card.id,
            csrf_field(user),
        ));
    } else {
        body.push_str(r#"<div class="ex-form"><fieldset class="ex-all" disabled><legend class="visually-hidden">Мероприятия</legend>"#);
    }
    let reasons = reason_names(app);
    for (code, name) in section_names(app) {
        let indices: Vec<usize> = (0..form.rows.len()).filter(|&i| form.rows[i].section == code).collect();
        body.push_str(&format!(
            r#"<fieldset class="ex-section" id="section-{code}"><legend>{}</legend>"#,
            esc(&name)
        ));
        if indices.is_empty() {
            body.push_str(r#"<p class="muted">Мероприятий этого раздела для вас нет.</p>"#);
        }
        for &i in &indices {
            body.push_str(&row_html(i, &form.rows[i], form.states.get(&i), card, &reasons));
        }
        if writable {
            body.push_str(&format!(
                r#"<button type="submit" name="action" value="add:{code}" class="ex-add">Добавить мероприятие в раздел «{}»</button>"#,
                esc(&name)
            ));
        }
        if code == crate::register::clarification::SECTION && !indices.is_empty() {
            body.push_str(
                r##"<p><a href="#tsr-clarification" id="ex-tsr-clarification">Запрос на уточнение ТСР в бюро МСЭ</a> — форма ниже, под мероприятиями.</p>"##,
            );
        }
        body.push_str("</fieldset>");
    }
    body.push_str("</fieldset>");
    if writable {
        body.push_str(
            r#"<div class="actions ex-actions"><button type="submit" name="action" value="save">Сохранить как черновик</button> <button type="submit" name="action" value="ready">Готово к подписанию</button> <button type="submit" name="action" value="reset" data-confirm="Удалить все черновики этой ИПРА и начать заново?">Удалить черновик и начать заново</button></div>"#,
        );
    }
    body.push_str(if writable { "</form>" } else { "</div>" });
    // The TSR clarification request is a form of its own (forms do not nest).
    body.push_str(
        &crate::ui::register::tsr::section_html(
            app,
            user,
            card,
            &format!("/ipras/{}/execution", card.id),
            form.tsr.notice().as_deref(),
            form.tsr.alert().as_deref(),
        )
        .await?,
    );
    body.push_str(&history_html(app, user, card.id).await?);
    Ok(page(Some(user), &format!("Исполнение ИПРА № {}", card.number), &body))
}

fn row_html(i: usize, row: &Row, state: Option<&RowState>, card: &IpraCard, reasons: &[(String, String)]) -> String {
    let measure = row.measure_id.and_then(|id| card.measures.iter().find(|m| m.id == id));
    let title = match measure {
        Some(m) => format!(
            "{}{}",
            esc(&m.name),
            match (&m.date_from, &m.date_to) {
                (Some(a), Some(b)) => format!(" (срок {} — {})", ru_date(a), ru_date(b)),
                (None, Some(b)) => format!(" (срок до {})", ru_date(b)),
                _ => String::new(),
            }
        ),
        None => "Дополнительное мероприятие раздела".into(),
    };
    let status = match row.status.as_deref() {
        Some(s) => format!(
            r#" <span class="ex-status ex-status-{s}">{}</span>"#,
            execution::status_label(s)
        ),
        None => r#" <span class="ex-status">не заполнено</span>"#.into(),
    };
    let mut html = format!(
        r#"<div class="ex-row" id="row-{i}"><h3>{title}{status}</h3><input type="hidden" name="r{i}.section" value="{}">"#,
        esc(&row.section)
    );
    if let Some(m) = row.measure_id {
        html.push_str(&format!(r#"<input type="hidden" name="r{i}.measure" value="{m}">"#));
    }
    if let Some(r) = row.record_id {
        html.push_str(&format!(r#"<input type="hidden" name="r{i}.record" value="{r}">"#));
    }
    if let Some(note) = state.and_then(|s| s.note.as_deref()) {
        html.push_str(&format!(r#"<p class="notice" role="status">{}</p>"#, esc(note)));
    }
    if let (Some(why), Some("draft" | "ready")) = (&row.returned, row.status.as_deref()) {
        html.push_str(&format!(
            r#"<p class="alert ex-returned" role="status">Запись возвращена на исправление: {}. Исправьте её и отметьте готовой — она войдёт в следующую версию отчёта.</p>"#,
            esc(why)
        ));
    }
    html.push_str(&field_errors(state, None, &format!("r{i}")));
    if !row.editable() {
        // Ready or reported: shown, not edited (a ready record can go back to draft).
        html.push_str(&format!(
            "<dl class=\"ex-readonly\"><dt>Статус/Результат</dt><dd>{}</dd><dt>Наименование мероприятия</dt><dd>{}</dd>{}<dt>Исполнитель</dt><dd>{} (ОГРН {})</dd><dt>Дата</dt><dd>{}</dd>{}{}</dl>",
            result_label(&row.result),
            esc(&row.measure_name),
            if row.clarification.is_empty() {
                String::new()
            } else {
                format!("<dt>Уточнение мероприятия</dt><dd>{}</dd>", esc(&row.clarification))
            },
            esc(&row.executor_name),
            esc(&row.executor_ogrn),
            if row.date.is_empty() { "—".into() } else { ru_date(&row.date) },
            if row.reasons.is_empty() {
                String::new()
            } else {
                format!("<dt>Причины неисполнения</dt><dd>{}</dd>", esc(&reason_list(&row.reasons, reasons)))
            },
            if row.comment.is_empty() {
                String::new()
            } else {
                format!("<dt>Комментарий</dt><dd>{}</dd>", esc(&row.comment))
            },
        ));
        if row.status.as_deref() == Some("ready") {
            if let Some(r) = row.record_id {
                html.push_str(&format!(
                    r#"<button type="submit" name="action" value="back:{r}" class="ex-back">Вернуть в черновик</button>"#
                ));
            }
        }
        html.push_str("</div>");
        return html;
    }
    let id = format!("r{i}-result");
    let invalid = if has_error(state, "result") {
        format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
    } else {
        String::new()
    };
    let option = |value: &str, label: &str| {
        format!(
            r#"<option value="{value}"{}>{label}</option>"#,
            if row.result == value { " selected" } else { "" }
        )
    };
    html.push_str(&format!(
        r#"<div class="ex-grid"><div class="ex-field ex-result"><label for="{id}">Статус/Результат</label><select id="{id}" name="r{i}.result" data-ex-result{invalid}>{}{}{}</select>{}</div>"#,
        option("", "— не заполнено —"),
        option("executed", "Выполнено"),
        option("not-executed", "Не выполнено"),
        field_errors(state, Some("result"), &id),
    ));
    html.push_str(&text_input(
        i,
        "measure_name",
        "Наименование мероприятия",
        &row.measure_name,
        "text",
        state,
    ));
    let ogrn_id = format!("r{i}-executor_ogrn");
    html.push_str(&format!(
        r#"<div class="ex-field ex-executor_ogrn"><label for="{ogrn_id}">ОГРН исполнителя</label><span class="ex-lookup"><input id="{ogrn_id}" name="r{i}.executor_ogrn" type="text" inputmode="numeric" value="{}"{}><button type="submit" name="action" value="lookup:{i}" data-ex-lookup="{i}">Найти</button></span>{}</div>"#,
        esc(&row.executor_ogrn),
        if has_error(state, "executor_ogrn") {
            format!(r#" aria-invalid="true" aria-describedby="{ogrn_id}-error""#)
        } else {
            String::new()
        },
        field_errors(state, Some("executor_ogrn"), &ogrn_id),
    ));
    html.push_str(&text_input(
        i,
        "executor_name",
        "Наименование исполнителя",
        &row.executor_name,
        "text",
        state,
    ));
    html.push_str(&text_input(
        i,
        "clarification",
        "Уточнение мероприятия",
        &row.clarification,
        "text",
        state,
    ));
    html.push_str(&text_input(i, "date", "Дата", &row.date, "date", state));
    html.push_str("</div>");
    // Reasons: only for «Не выполнено»; the script hides what does not apply.
    html.push_str(&format!(
        r#"<fieldset class="ex-reasons" data-ex-when="not-executed"{}><legend>Причины неисполнения <span class="muted">(при «Не выполнено», одна или несколько)</span></legend>"#,
        if has_error(state, "reason") {
            format!(r#" aria-describedby="r{i}-reason-error""#)
        } else {
            String::new()
        }
    ));
    for (n, (code, name)) in reasons.iter().enumerate() {
        html.push_str(&format!(
            r#"<div class="ex-check"><input type="checkbox" id="r{i}-reason-{n}" name="r{i}.reason" value="{}"{}><label for="r{i}-reason-{n}">{}</label></div>"#,
            esc(code),
            if row.reasons.contains(code) { " checked" } else { "" },
            esc(name)
        ));
    }
    html.push_str(&field_errors(state, Some("reason"), &format!("r{i}-reason")));
    html.push_str("</fieldset>");
    let comment_id = format!("r{i}-comment");
    html.push_str(&format!(
        r#"<div class="ex-field ex-comment" data-ex-when="executed"><label for="{comment_id}">Комментарий <span class="muted">(при «Выполнено»)</span></label><textarea id="{comment_id}" name="r{i}.comment" rows="2"{}>{}</textarea>{}</div>"#,
        if has_error(state, "comment") {
            format!(r#" aria-invalid="true" aria-describedby="{comment_id}-error""#)
        } else {
            String::new()
        },
        esc(&row.comment),
        field_errors(state, Some("comment"), &comment_id),
    ));
    html.push_str("</div>");
    html
}

pub fn result_label(result: &str) -> &'static str {
    match result {
        "executed" => "Выполнено",
        "not-executed" => "Не выполнено",
        _ => "—",
    }
}

pub fn reason_list(codes: &[String], reasons: &[(String, String)]) -> String {
    codes
        .iter()
        .map(|c| {
            reasons
                .iter()
                .find(|(code, _)| code == c)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| c.clone())
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Previous versions: the reports of this IPRA and the status history of its records.
async fn history_html(app: &App, user: &Principal, ipra_id: i64) -> anyhow::Result<String> {
    let mut html = String::new();
    let filter = execution::ReportFilter {
        ipra: Some(ipra_id),
        reporter: user.scope().map(str::to_string),
        ..Default::default()
    };
    let reports = execution::reports_page(&app.db, &filter, None, 1000).await?.items;
    html.push_str("<h2>Отчёты по этой ИПРА</h2>");
    if reports.is_empty() {
        html.push_str(r#"<p class="muted">Отчётов ещё нет.</p>"#);
    } else {
        html.push_str("<ul>");
        for r in &reports {
            html.push_str(&format!(
                r#"<li><a href="/reports/{}">Отчёт № {}</a> от {} — {} ({})</li>"#,
                r.id,
                r.id,
                ru_date(&r.created_at),
                execution::status_label(&r.status),
                esc(&r.reporter_name)
            ));
        }
        html.push_str("</ul>");
    }
    if user.can_write() {
        html.push_str(&super::reports::assemble_form(app, user, ipra_id).await?);
    }
    let events = super::record_history(app, user, ipra_id).await?;
    if !events.is_empty() {
        html.push_str(r#"<h2>Предыдущие версии записей</h2><div class="table-wrap"><table><thead><tr><th>Запись</th><th>Мероприятие</th><th>Было</th><th>Стало</th><th>Когда</th><th>Кто</th></tr></thead><tbody>"#);
        for e in events {
            html.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                e.record,
                esc(&e.measure),
                e.from.as_deref().map(execution::status_label).unwrap_or("—"),
                if e.to == "deleted" {
                    "удалена"
                } else {
                    execution::status_label(&e.to)
                },
                super::ru_datetime(&e.at),
                esc(&e.actor)
            ));
        }
        html.push_str("</tbody></table></div>");
    }
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn rows_are_read_by_index_with_repeated_reasons() {
        let rows = parse_rows(&pairs(&[
            ("csrf", "x"),
            ("r1.section", "health"),
            ("r1.result", "not-executed"),
            ("r1.reason", "refused"),
            ("r1.reason", "unreachable"),
            ("r0.section", "tsr"),
            ("r0.record", "7"),
            ("r0.measure", ""),
            ("action", "save"),
        ]))
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].section, "tsr");
        assert_eq!(rows[0].record_id, Some(7));
        assert_eq!(rows[0].measure_id, None);
        assert_eq!(rows[1].reasons, vec!["refused", "unreachable"]);
    }

    #[test]
    fn bad_rows_are_refused_with_a_russian_message() {
        assert!(parse_rows(&pairs(&[("rX.result", "executed")])).is_err());
        let e = parse_rows(&pairs(&[("r0.result", "maybe")])).unwrap_err();
        assert!(e.contains("Статус/Результат"), "{e}");
        assert!(parse_rows(&pairs(&[("r0.measure", "abc")])).is_err());
    }

    #[test]
    fn plugin_fields_map_to_form_fields() {
        assert_eq!(field_key(Some("Причины неисполнения")), Some("reason"));
        assert_eq!(field_key(Some("Комментарий")), Some("comment"));
        assert_eq!(field_key(Some("ОГРН исполнителя")), Some("executor_ogrn"));
        assert_eq!(field_key(Some("Раздел")), None);
        assert_eq!(field_key(None), None);
    }

    #[test]
    fn a_row_becomes_a_form_with_trimmed_optional_fields() {
        let row = Row {
            section: "health".into(),
            result: "executed".into(),
            measure_name: " Осмотр ".into(),
            executor_ogrn: "1027700132007".into(),
            comment: "  ".into(),
            date: "2026-01-02".into(),
            ..Row::default()
        };
        let form = row.to_form(5, "1027700132007");
        assert_eq!(form.measure_name, "Осмотр");
        assert_eq!(form.comment, None);
        assert_eq!(form.execution_date.as_deref(), Some("2026-01-02"));
        assert!(row.filled() && row.editable());
    }
}
