//! Reports of execution and the signing step (руководство «ЛК исполнителя ИПРА» в ЕЦП, «Подписание», domain §5.7–5.8): the list,
//! assembling a report from the ready records of an IPRA, the report page with its printed form
//! (a PDF shown before signing), signing with the organisation's configured key, uploading a
//! detached signature made elsewhere, withdrawal and the recipient's answer.

use super::pdf::Document;
use super::{reason_names, ru_date, ru_datetime, section_names};
use crate::app::App;
use crate::auth::web::Authenticated;
use crate::auth::{Principal, Role};
use crate::register::execution::{self, Report};
use crate::register::query;
use crate::ui::{check_csrf, csrf_field, esc, opt, page, require_page_write, PageError, PageUser};
use crate::ApiError;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;

/// The report if the user may see it (an executor: its own organisation's reports only).
async fn visible_report(app: &App, user: &Principal, id: i64) -> anyhow::Result<Option<Report>> {
    Ok(execution::report(app, id)
        .await?
        .filter(|r| user.scope().is_none_or(|o| r.reporter_ogrn == o)))
}

/// Who may sign, upload a signature or withdraw: as the API (`own_report`): writers, an
/// executor only for its organisation, never an executor without one.
fn may_sign(user: &Principal, report: &Report) -> bool {
    user.can_write()
        && match user.scope() {
            Some(o) => o == report.reporter_ogrn,
            None => user.role != Role::Executor,
        }
}

fn is_manager(user: &Principal) -> bool {
    matches!(user.role, Role::Administrator | Role::Coordinator)
}

/// The printed form of a report: what the recipient sees, as a PDF.
pub async fn printed_report(app: &App, report: &Report) -> anyhow::Result<Vec<u8>> {
    let card = query::ipra_card(&app.db, report.ipra_id, None)
        .await?
        .ok_or_else(|| anyhow::anyhow!("ИПРА {} не найдена", report.ipra_id))?;
    let records: Vec<_> = execution::records_of_ipra(app, report.ipra_id)
        .await?
        .into_iter()
        .filter(|r| r.report_id == Some(report.id))
        .collect();
    let reasons = reason_names(app);
    let p = &card.person;
    let mut doc = Document::new(&format!("Отчёт об исполнении ИПРА № {}", card.number));
    doc.text("Отчёт об исполнении ИПРА", 16.0, 0.0, 2.0);
    doc.text(
        &format!(
            "индивидуальной программы реабилитации или абилитации {}",
            if card.is_child {
                "ребёнка-инвалида"
            } else {
                "инвалида"
            }
        ),
        10.0,
        0.0,
        8.0,
    );
    doc.field("Номер ИПРА", &card.number, 10.0);
    doc.field(
        "Протокол МСЭ",
        &format!("№ {} от {}", card.protocol_number, ru_date(&card.protocol_date)),
        10.0,
    );
    if let Some(d) = &card.decision_date {
        doc.field("Дата решения", &ru_date(d), 10.0);
    }
    if let Some(by) = &card.issued_by {
        doc.field("Учреждение МСЭ", by, 10.0);
    }
    let fio = [
        Some(p.surname.as_str()),
        Some(p.given_name.as_str()),
        p.patronymic.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    doc.field("Гражданин", &fio, 10.0);
    doc.field("СНИЛС", &query::format_snils(&p.snils), 10.0);
    if let Some(b) = &p.birth_date {
        doc.field("Дата рождения", &ru_date(b), 10.0);
    }
    doc.field(
        "Отчитывающаяся организация",
        &format!("{} (ОГРН {})", report.reporter_name, report.reporter_ogrn),
        10.0,
    );
    doc.field(
        "Номер отчёта",
        &format!("{} ({})", report.id, report.document_name),
        10.0,
    );
    doc.field("Дата отчёта", &ru_date(&report.created_at), 10.0);
    if let Some(corrected) = report.corrects_report_id {
        doc.field(
            "Версия отчёта",
            &format!("{} — исправляет отчёт № {corrected}", report.version),
            10.0,
        );
    }
    doc.rule(6.0);
    if records.is_empty() {
        doc.text(
            "Записи исполнения отчёта возвращены на исправление (отчёт отозван или отклонён); отправленный документ хранится в отчёте.",
            10.0,
            0.0,
            6.0,
        );
    }
    for (code, name) in section_names(app) {
        let in_section: Vec<_> = records.iter().filter(|r| r.form.section == code).collect();
        if in_section.is_empty() {
            continue;
        }
        doc.keep(60.0);
        doc.text(&name, 12.5, 0.0, 4.0);
        for (n, r) in in_section.iter().enumerate() {
            let f = &r.form;
            doc.keep(50.0);
            doc.text(&format!("{}. {}", n + 1, f.measure_name), 10.0, 8.0, 1.0);
            let mut lines = vec![format!("Результат: {}", super::form::result_label(&f.result))];
            if let Some(c) = &f.clarification {
                lines.push(format!("Уточнение мероприятия: {c}"));
            }
            lines.push(format!(
                "Исполнитель: {}ОГРН {}",
                f.executor_name.as_deref().map(|n| format!("{n}, ")).unwrap_or_default(),
                f.executor_ogrn
            ));
            lines.push(format!(
                "Дата: {}",
                f.execution_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into())
            ));
            if !f.reasons.is_empty() {
                lines.push(format!(
                    "Причины неисполнения: {}",
                    super::form::reason_list(&f.reasons, &reasons)
                ));
            }
            if let Some(c) = &f.comment {
                lines.push(format!("Комментарий: {c}"));
            }
            for line in lines {
                doc.text(&line, 9.5, 22.0, 0.0);
            }
            doc.space(5.0);
        }
        doc.space(4.0);
    }
    doc.rule(10.0);
    doc.keep(70.0);
    match &report.signer {
        Some(signer) => {
            doc.text(
                &format!(
                    "Подписано усиленной квалифицированной электронной подписью {}",
                    report.signed_at.as_deref().map(ru_datetime).unwrap_or_default()
                ),
                10.0,
                0.0,
                2.0,
            );
            doc.text(&format!("Подписант: {signer}"), 9.5, 0.0, 2.0);
        }
        None => {
            doc.text(
                "Руководитель (уполномоченное лицо) ____________________ / ______________________ /",
                10.0,
                0.0,
                4.0,
            );
            doc.text(
                "Отчёт подписывается электронной подписью; до подписания форма приведена для проверки.",
                8.5,
                0.0,
                0.0,
            );
        }
    }
    Ok(doc.finish())
}

fn pdf_response(id: i64, bytes: Vec<u8>, download: bool) -> Response {
    let disposition = format!(
        "{}; filename=\"report-{id}.pdf\"",
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

#[derive(Deserialize)]
pub struct PrintQuery {
    download: Option<String>,
}

/// GET `/reports/{id}/print.pdf`: the printed form (inline; `?download=1` to save it).
pub async fn print_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<PrintQuery>,
) -> Result<Response, PageError> {
    let report = visible_report(&app, &user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Отчёт").for_user(&user))?;
    let bytes = printed_report(&app, &report).await?;
    crate::audit::record(&app.db, &user.actor(), "report.print", &format!("report:{id}"), None).await?;
    Ok(pdf_response(id, bytes, q.download.is_some()))
}

/// GET `/api/v1/reports/{id}/pdf`.
pub async fn print_api(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let report = visible_report(&app, &user, id)
        .await?
        .ok_or_else(|| ApiError::not_found("Отчёт"))?;
    let bytes = printed_report(&app, &report).await?;
    crate::audit::record(&app.db, &user.actor(), "report.print", &format!("report:{id}"), None).await?;
    Ok(pdf_response(id, bytes, true))
}

/// The «Сформировать отчёт» form of an IPRA page, when something is ready.
pub async fn assemble_form(app: &App, user: &Principal, ipra_id: i64) -> anyhow::Result<String> {
    let ready = execution::records_of_ipra(app, ipra_id)
        .await?
        .iter()
        .filter(|r| r.status == "ready" && user.scope().is_none_or(|o| r.form.organisation == o))
        .count();
    let mut html = String::from("<h2>Отчёт об исполнении</h2>");
    if ready == 0 {
        html.push_str(r#"<p class="muted">Отчёт формируется из мероприятий, отмеченных «Готово к подписанию»; таких пока нет.</p>"#);
        return Ok(html);
    }
    if user.role == Role::Executor && user.scope().is_none() {
        return Ok(html);
    }
    html.push_str(&format!(
        r#"<form method="post" action="/ipras/{ipra_id}/report" class="stack ex-assemble">{}<p>Готово к подписанию: {ready}.</p>"#,
        csrf_field(user)
    ));
    match user.scope() {
        Some(ogrn) => html.push_str(&format!(
            r#"<input type="hidden" name="reporter" value="{}">"#,
            esc(ogrn)
        )),
        None => {
            let mut orgs = crate::register::directory::list_organisations(&app.db).await?;
            orgs.sort_by_key(|o| (o.department != "region", o.name.clone()));
            html.push_str(r#"<label for="ex-reporter">Отчитывающаяся организация</label><select id="ex-reporter" name="reporter">"#);
            for o in orgs {
                html.push_str(&format!(
                    r#"<option value="{}">{} (ОГРН {})</option>"#,
                    esc(&o.ogrn),
                    esc(&o.name),
                    esc(&o.ogrn)
                ));
            }
            html.push_str("</select>");
        }
    }
    html.push_str(r#"<div class="actions"><button type="submit">Сформировать отчёт</button></div></form>"#);
    Ok(html)
}

#[derive(Deserialize)]
pub struct AssembleForm {
    csrf: String,
    reporter: String,
}

fn refused(user: &Principal, messages: Vec<String>) -> PageError {
    PageError {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message: messages.join("; "),
        user: None,
    }
    .for_user(user)
}

/// POST `/ipras/{id}/report`: assembles the report of the ready records.
pub async fn assemble(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<AssembleForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    require_page_write(&user).map_err(|e| e.for_user(&user))?;
    query::ipra_card(&app.db, id, user.scope())
        .await?
        .ok_or_else(|| PageError::not_found("ИПРА").for_user(&user))?;
    if user.scope().is_some_and(|o| o != form.reporter) {
        return Err(PageError::forbidden().for_user(&user));
    }
    match execution::assemble_report(&app, id, &form.reporter, user.scope(), &user.actor())
        .await
        .map_err(|e| refused(&user, vec![format!("{e:#}")]))?
    {
        Ok(report) => Ok(Redirect::to(&format!("/reports/{report}?done=assembled")).into_response()),
        Err(errors) => Err(refused(
            &user,
            errors
                .into_iter()
                .map(|e| format!("Отчёт не сформирован: {}", e.message))
                .collect(),
        )),
    }
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    ipra: Option<i64>,
    /// The page below this report number.
    before: Option<i64>,
}

const REPORT_STATUSES: &[&str] = &[
    "awaiting-signature",
    "signed",
    "sent",
    "accepted",
    "rejected",
    "withdrawn",
];

/// GET `/reports`.
pub async fn list_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<ListQuery>,
) -> Result<Html<String>, PageError> {
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    let filter = execution::ReportFilter {
        status: status.map(str::to_string),
        ipra: q.ipra,
        reporter: user.scope().map(str::to_string),
    };
    let found = execution::reports_page(&app.db, &filter, q.before, 50).await?;
    let reports: Vec<Report> = found.items.clone();
    // The IPRA numbers of this page's reports (after its LIMIT).
    let ids: Vec<i64> = reports.iter().map(|r| r.ipra_id).collect();
    let numbers: std::collections::BTreeMap<i64, String> = crate::register::query::ipra_numbers(&app.db, &ids)
        .await?
        .into_iter()
        .collect();
    let mut body = String::from("<h1>Отчёты об исполнении и подпись</h1>");
    body.push_str(r#"<form class="filters" method="get" action="/reports"><label for="r-status">Статус<select id="r-status" name="status" data-autosubmit><option value="">все</option>"#);
    for s in REPORT_STATUSES {
        body.push_str(&format!(
            r#"<option value="{s}"{}>{}</option>"#,
            if status == Some(s) { " selected" } else { "" },
            execution::status_label(s)
        ));
    }
    body.push_str("</select></label>");
    if let Some(ipra) = q.ipra {
        body.push_str(&format!(r#"<input type="hidden" name="ipra" value="{ipra}">"#));
    }
    body.push_str(r#"<button type="submit">Показать</button> <a href="/reports">Сбросить</a></form>"#);
    body.push_str(&format!(
        "<p>Отчётов: {}{}</p>",
        if found.total_exact { "" } else { "более " },
        crate::ui::group_digits(found.total as u64)
    ));
    body.push_str(r#"<div class="table-wrap"><table class="ex-reports"><thead><tr><th>№</th><th>ИПРА</th><th class="hide-narrow">Организация</th><th>Статус</th><th>Сформирован</th><th class="hide-narrow">Срок</th><th class="hide-narrow">Подписан</th><th class="hide-narrow">Отправлен</th></tr></thead><tbody>"#);
    if reports.is_empty() {
        body.push_str(r#"<tr><td colspan="8" class="muted">Отчётов нет.</td></tr>"#);
    }
    for r in &reports {
        body.push_str(&format!(
            r#"<tr><td><a href="/reports/{}">{}</a>{}</td><td><a href="/executions/{}">{}</a></td><td class="hide-narrow">{}</td><td class="ex-rs-{}">{}</td><td>{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td><td class="hide-narrow">{}</td></tr>"#,
            r.id,
            r.id,
            if r.version > 1 {
                format!(r#" <span class="muted ex-version">версия {}</span>"#, r.version)
            } else {
                String::new()
            },
            r.ipra_id,
            esc(numbers.get(&r.ipra_id).map(String::as_str).unwrap_or("—")),
            esc(&r.reporter_name),
            esc(&r.status),
            execution::status_label(&r.status),
            ru_date(&r.created_at),
            r.due_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
            r.signed_at.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
            r.sent_at.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
        ));
    }
    body.push_str("</tbody></table></div>");
    if let Some(next) = found.next {
        let mut params = String::new();
        if let Some(s) = status {
            params.push_str(&format!("status={}&", crate::ui::urlencode(s)));
        }
        if let Some(i) = q.ipra {
            params.push_str(&format!("ipra={i}&"));
        }
        body.push_str(&crate::ui::keyset_pages("/reports", &params, next));
    }
    Ok(page(Some(&user), "Отчёты и подпись", &body))
}

#[derive(Deserialize)]
pub struct ShowQuery {
    done: Option<String>,
}

/// GET `/reports/{id}`.
pub async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Query(q): Query<ShowQuery>,
) -> Result<Html<String>, PageError> {
    let notice = match q.done.as_deref() {
        Some("assembled") => Some("Отчёт сформирован и ожидает подписания. Проверьте печатную форму и подпишите."),
        Some("signed") => Some("Отчёт подписан; подпись проверена. Он будет отправлен в ФРИ очередным обменом."),
        Some("withdrawn") => Some("Отчёт возвращён на доработку: его записи снова в статусе «Готово»."),
        Some("answered") => Some("Ответ получателя записан."),
        _ => None,
    };
    render(&app, &user, id, notice.map(str::to_string), None).await
}

async fn render(
    app: &App,
    user: &Principal,
    id: i64,
    notice: Option<String>,
    alert: Option<String>,
) -> Result<Html<String>, PageError> {
    let report = visible_report(app, user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Отчёт").for_user(user))?;
    let number: Option<String> = crate::register::query::ipra_numbers(&app.db, &[report.ipra_id])
        .await?
        .into_iter()
        .next()
        .map(|(_, number)| number);
    let mut body = format!(
        r#"<h1>Отчёт № {id} об исполнении ИПРА № {}</h1>"#,
        esc(number.as_deref().unwrap_or("—"))
    );
    if let Some(corrected) = report.corrects_report_id {
        body.push_str(&format!(
            r#"<p class="notice ex-version" id="report-version">Версия {} отчёта: исправляет <a href="/reports/{corrected}">отчёт № {corrected}</a>, возвращённый на доработку или отклонённый.</p>"#,
            report.version
        ));
    }
    if let Some(n) = notice {
        body.push_str(&format!(r#"<p class="notice" role="status">{}</p>"#, esc(&n)));
    }
    if let Some(a) = alert {
        body.push_str(&format!(r#"<p class="alert" role="alert">{}</p>"#, esc(&a)));
    }
    body.push_str(&format!(
        r#"<dl class="ex-head"><dt>Статус</dt><dd class="ex-report-status">{}</dd><dt>ИПРА</dt><dd><a href="/executions/{}">исполнение</a> · <a href="/ipras/{}/execution">форма</a></dd><dt>Отчитывающаяся организация</dt><dd>{} (ОГРН {})</dd><dt>Сформирован</dt><dd>{}</dd><dt>Срок отправки</dt><dd>{}</dd><dt>Подписан</dt><dd>{}</dd><dt>Отправлен</dt><dd>{}</dd><dt>Ответ получателя</dt><dd>{}</dd><dt>Документ</dt><dd><a href="/api/v1/reports/{id}/document">{}</a> (SHA-256 <code>{}</code>)</dd></dl>"#,
        execution::status_label(&report.status),
        report.ipra_id,
        report.ipra_id,
        esc(&report.reporter_name),
        esc(&report.reporter_ogrn),
        ru_datetime(&report.created_at),
        report.due_date.as_deref().map(ru_date).unwrap_or_else(|| "—".into()),
        report.signed_at.as_deref().map(ru_datetime).unwrap_or_else(|| "—".into()),
        report.sent_at.as_deref().map(ru_datetime).unwrap_or_else(|| "—".into()),
        match (report.status.as_str(), &report.answered_at) {
            ("accepted", Some(at)) => format!("принят {}", ru_datetime(at)),
            ("rejected", Some(at)) =>
                format!("отклонён {}: {}", ru_datetime(at), opt(&report.rejection_reason)),
            _ => "—".into(),
        },
        esc(&report.document_name),
        esc(&report.document_sha256),
    ));
    // The verification result of the signature.
    let info: Option<String> = execution::signature_info(&app.db, id).await?;
    if let Some(info) = info.and_then(|i| serde_json::from_str::<serde_json::Value>(&i).ok()) {
        let s = |k: &str| esc(info[k].as_str().unwrap_or("—"));
        body.push_str(&format!(
            r#"<section class="ex-signature"><h2>Подпись проверена</h2><dl><dt>Подписант</dt><dd class="ex-signer">{}</dd><dt>Издатель сертификата</dt><dd>{}</dd><dt>Серийный номер</dt><dd>{}</dd><dt>Сертификат действует</dt><dd>с {} по {}</dd></dl></section>"#,
            s("subject"),
            s("issuer"),
            s("serial"),
            s("not_before"),
            s("not_after")
        ));
    }
    body.push_str(&format!(
        r#"<h2>Печатная форма</h2><p>Так отчёт увидит получатель. <a href="/reports/{id}/print.pdf?download=1" download>Скачать PDF</a> · <a href="/reports/{id}/print.pdf" target="_blank" rel="noopener">Открыть в новой вкладке</a></p><object class="ex-pdf" data="/reports/{id}/print.pdf" type="application/pdf" aria-label="Печатная форма отчёта"><p>Браузер не показывает PDF на странице: <a href="/reports/{id}/print.pdf">откройте печатную форму</a>.</p></object>"#
    ));
    let csrf = csrf_field(user);
    if report.status == "awaiting-signature" && may_sign(user, &report) {
        body.push_str(&format!(
            r#"<h2>Подписание</h2><div class="ex-sign"><form method="post" action="/reports/{id}/sign" class="stack">{csrf}<p>Подпись ключом организации, настроенным на сервере (ГОСТ Р 34.10-2012).</p><div class="actions"><button type="submit" data-confirm="Подписать отчёт № {id}?">Подписать</button></div></form>
<form method="post" action="/reports/{id}/signature" class="stack ex-upload">{csrf}<label for="ex-sig-file">Файл открепленной подписи (.sig, .p7s), сделанной, например, в КриптоПро</label><input id="ex-sig-file" type="file" accept=".sig,.p7s,.pem" data-ex-sigfile="ex-sig-text"><label for="ex-sig-text">Подпись (PEM или Base64; без скрипта вставьте содержимое файла)</label><textarea id="ex-sig-text" name="signature" rows="4" required></textarea><div class="actions"><button type="submit">Загрузить подпись</button></div></form>
<form method="post" action="/reports/{id}/withdraw">{csrf}<div class="actions"><button type="submit" data-confirm="Вернуть отчёт на доработку? Его записи снова станут «Готово».">Вернуть на доработку</button></div></form></div>"#
        ));
    }
    if report.status == "sent" && is_manager(user) {
        body.push_str(&format!(
            r#"<h2>Ответ получателя</h2><form method="post" action="/reports/{id}/answer" class="stack">{csrf}<fieldset><legend>Результат</legend><div class="ex-check"><input type="radio" id="ex-acc" name="accepted" value="yes" checked><label for="ex-acc">Принят</label></div><div class="ex-check"><input type="radio" id="ex-rej" name="accepted" value="no"><label for="ex-rej">Отклонён</label></div></fieldset><label for="ex-reason">Причина отклонения</label><input id="ex-reason" name="reason" type="text"><div class="actions"><button type="submit">Записать ответ</button></div></form>"#
        ));
    }
    // Sending and signing history.
    let messages = execution::deliveries(&app.db, id).await?;
    if !messages.is_empty() {
        body.push_str("<h2>Отправка</h2><ul>");
        for m in messages {
            let status = m.status.as_str();
            body.push_str(&format!(
                "<li>{} — {}, попыток {}{}</li>",
                ru_datetime(&m.updated_at),
                match status {
                    "failed" => "ошибка отправки",
                    "sent" | "done" => "отправлено",
                    "pending" => "в очереди",
                    _ => "в обработке",
                },
                m.attempts,
                m.last_error
                    .as_deref()
                    .map(|e| format!(": {}", esc(e)))
                    .unwrap_or_default()
            ));
        }
        body.push_str("</ul>");
    }
    let attempts = crate::signing::attempts(app, Some(id)).await?;
    if !attempts.is_empty() {
        body.push_str(r#"<h2>Попытки подписания</h2><div class="table-wrap"><table><thead><tr><th>Когда</th><th>Способ</th><th>Итог</th><th>Подробности</th><th>Кто</th></tr></thead><tbody>"#);
        for a in attempts {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                ru_datetime(&a.at),
                esc(&a.provider),
                if a.status == "signed" {
                    "подписано"
                } else {
                    "ошибка"
                },
                esc(&a.detail),
                esc(&a.actor)
            ));
        }
        body.push_str("</tbody></table></div>");
    }
    Ok(page(Some(user), &format!("Отчёт № {id}"), &body))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

async fn signable(app: &App, user: &Principal, id: i64, csrf: &str) -> Result<Report, PageError> {
    check_csrf(user, csrf).map_err(|e| e.for_user(user))?;
    require_page_write(user).map_err(|e| e.for_user(user))?;
    let report = visible_report(app, user, id)
        .await?
        .ok_or_else(|| PageError::not_found("Отчёт").for_user(user))?;
    if !may_sign(user, &report) {
        return Err(PageError::forbidden().for_user(user));
    }
    Ok(report)
}

async fn failed(app: &App, user: &Principal, id: i64, e: anyhow::Error) -> Result<Response, PageError> {
    let html = render(app, user, id, None, Some(format!("{e:#}"))).await?;
    Ok((StatusCode::CONFLICT, html).into_response())
}

/// POST `/reports/{id}/sign`.
pub async fn sign(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signable(&app, &user, id, &form.csrf).await?;
    match crate::signing::sign_report(&app, id, &user.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/reports/{id}?done=signed")).into_response()),
        Err(e) => failed(&app, &user, id, e).await,
    }
}

#[derive(Deserialize)]
pub struct UploadForm {
    csrf: String,
    signature: String,
}

/// POST `/reports/{id}/signature`: a detached signature made elsewhere, verified before it is kept.
pub async fn upload(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<UploadForm>,
) -> Result<Response, PageError> {
    signable(&app, &user, id, &form.csrf).await?;
    if form.signature.trim().is_empty() {
        let html = render(
            &app,
            &user,
            id,
            None,
            Some("Подпись: выберите файл подписи или вставьте её содержимое.".into()),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    }
    match crate::signing::upload_signature(&app, id, form.signature.trim().as_bytes(), &user.actor()).await {
        Ok(_) => Ok(Redirect::to(&format!("/reports/{id}?done=signed")).into_response()),
        Err(e) => failed(&app, &user, id, e).await,
    }
}

/// POST `/reports/{id}/withdraw`.
pub async fn withdraw(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signable(&app, &user, id, &form.csrf).await?;
    match execution::withdraw(&app, id, &user.actor()).await {
        Ok(()) => Ok(Redirect::to(&format!("/reports/{id}?done=withdrawn")).into_response()),
        Err(e) => failed(&app, &user, id, e).await,
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    csrf: String,
    accepted: String,
    reason: Option<String>,
}

/// POST `/reports/{id}/answer`: the recipient's answer, recorded by a coordinator.
pub async fn answer(
    State(app): State<App>,
    PageUser(user): PageUser,
    Path(id): Path<i64>,
    Form(form): Form<AnswerForm>,
) -> Result<Response, PageError> {
    check_csrf(&user, &form.csrf).map_err(|e| e.for_user(&user))?;
    if !is_manager(&user) {
        return Err(PageError::forbidden().for_user(&user));
    }
    let accepted = form.accepted == "yes";
    match execution::record_answer(&app, id, accepted, form.reason.as_deref(), &user.actor()).await {
        Ok(()) => Ok(Redirect::to(&format!("/reports/{id}?done=answered")).into_response()),
        Err(e) => failed(&app, &user, id, e).await,
    }
}
