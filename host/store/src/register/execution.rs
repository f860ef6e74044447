//! The execution lifecycle, enforced here and not only by screens: execution records (draft →
//! ready), the report of an IPRA assembled from all departments (awaiting signature → signed →
//! sent → accepted / rejected), carry-over to a superseding IPRA, and closing on a person's death.

use crate::app::App;
use crate::db::rows::JsonText;
use crate::db::{now, opt_text};
use crate::plugins::model;
use crate::plugins::LoadedPlugin;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, FromRow, Row};
use std::sync::Arc;

/// A field-level problem found by a department plugin or by the lifecycle rules.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct FieldError {
    pub code: String,
    pub message: String,
    pub record: Option<String>,
    pub field: Option<String>,
}

impl From<&model::PluginError> for FieldError {
    fn from(e: &model::PluginError) -> FieldError {
        FieldError {
            code: e.code.clone(),
            message: e.message.clone(),
            record: e.record.clone(),
            field: e.field.clone(),
        }
    }
}

fn field_error(code: &str, message: String, field: Option<&str>) -> FieldError {
    FieldError {
        code: code.into(),
        message,
        record: None,
        field: field.map(str::to_string),
    }
}

/// What a lifecycle step returns: done, or refused with reasons the user can act on.
pub type Checked<T> = Result<std::result::Result<T, Vec<FieldError>>>;

/// An execution record as entered in the form (руководство «ЛК исполнителя ИПРА» в ЕЦП) or through the API/CLI.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema, sqlx::FromRow)]
pub struct ExecutionForm {
    pub ipra_id: i64,
    /// The IPRA measure it reports on; none for an extra measure of the section.
    #[serde(default)]
    pub measure_id: Option<i64>,
    pub section: String,
    /// OGRN of the organisation that records it.
    pub organisation: String,
    /// `executed` or `not-executed`.
    pub result: String,
    pub measure_name: String,
    pub executor_ogrn: String,
    #[serde(default)]
    pub executor_name: Option<String>,
    #[serde(default)]
    pub clarification: Option<String>,
    #[serde(default)]
    pub execution_date: Option<String>,
    #[serde(default)]
    #[sqlx(try_from = "JsonText<Vec<String>>")]
    pub reasons: Vec<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ExecutionRecord {
    pub id: i64,
    pub status: String,
    pub measure_key: Option<String>,
    pub report_id: Option<i64>,
    pub carried_from: Option<i64>,
    /// Why the record came back for correction: the FRI's rejection reason, or its report was
    /// withdrawn before signing. Cleared when it goes into a report again.
    pub returned_reason: Option<String>,
    /// The report it came back from.
    pub returned_from_report_id: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    #[serde(flatten)]
    #[sqlx(flatten)]
    pub form: ExecutionForm,
}

/// One step of a record's lifecycle: from which status to which, when and by whom.
#[derive(sqlx::FromRow)]
pub struct RecordStep {
    #[sqlx(rename = "from_status")]
    pub from: Option<String>,
    #[sqlx(rename = "to_status")]
    pub to: String,
    pub at: String,
    pub actor: String,
}

/// The steps of an execution record, oldest first.
pub async fn record_steps(db: &crate::db::Db, record_id: i64) -> Result<Vec<RecordStep>> {
    let rows =
        sqlx::query("SELECT from_status, to_status, at, actor FROM lifecycle_events WHERE subject = $1 ORDER BY id")
            .bind(format!("execution:{record_id}"))
            .fetch_all(&db.pool)
            .await?;
    Ok(rows.iter().map(RecordStep::from_row).collect::<Result<_, _>>()?)
}

/// What the exchange did with a report's package: each message's status, attempts, last error and
/// time of the last change.
#[derive(sqlx::FromRow)]
pub struct Delivery {
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

pub async fn deliveries(db: &crate::db::Db, report_id: i64) -> Result<Vec<Delivery>> {
    let rows = sqlx::query(
        "SELECT status, attempts, last_error, updated_at FROM exchange_messages WHERE report_id = $1 ORDER BY id",
    )
    .bind(report_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows.iter().map(Delivery::from_row).collect::<Result<_, _>>()?)
}

/// The verified signer of a signed report, as the signing check recorded it (JSON).
pub async fn signature_info(db: &crate::db::Db, report_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT signature_info FROM reports WHERE id = $1")
        .bind(report_id)
        .fetch_optional(&db.pool)
        .await?
        .and_then(|r| opt_text(&r, "signature_info")))
}

/// The IPRA of the register as plugins see it (the normalized extract).
pub async fn load_ipra(conn: &mut AnyConnection, ipra_id: i64) -> Result<Option<model::IpraExtract>> {
    let Some(row) = sqlx::query(
        "SELECT i.*, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender, p.territory_code, p.address \
         FROM ipras i JOIN persons p ON p.id = i.person_id WHERE i.id = $1",
    )
    .bind(ipra_id)
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(None);
    };
    let measures = sqlx::query("SELECT * FROM measures WHERE ipra_id = $1 ORDER BY id")
        .bind(ipra_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|m| crate::register::query::measure_from_row(m).map(|view| view.for_plugins()))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(model::IpraExtract {
        extract_id: row.try_get("extract_id")?,
        document_id: row.try_get("document_id")?,
        document_version: row.try_get("document_version")?,
        number: row.try_get("number")?,
        protocol_number: row.try_get("protocol_number")?,
        protocol_date: row.try_get("protocol_date")?,
        decision_date: opt_text(&row, "decision_date"),
        valid_until: opt_text(&row, "valid_until"),
        issued_by: opt_text(&row, "issued_by"),
        is_child: row.try_get::<i64, _>("is_child")? != 0,
        person: model::Person {
            snils: row.try_get("snils")?,
            surname: row.try_get("surname")?,
            given_name: row.try_get("given_name")?,
            patronymic: opt_text(&row, "patronymic"),
            birth_date: opt_text(&row, "birth_date"),
            gender: opt_text(&row, "gender"),
            territory_code: opt_text(&row, "territory_code"),
            address: opt_text(&row, "address"),
            extra: Vec::new(),
        },
        measures,
        extra: attributes(&row.try_get::<String, _>("extra")?),
    }))
}

fn attributes(json: &str) -> Vec<model::Attribute> {
    serde_json::from_str::<Vec<(String, String)>>(json)
        .unwrap_or_default()
        .into_iter()
        .map(|(code, value)| model::Attribute { code, value })
        .collect()
}

/// The enabled department plugin of a section.
pub fn department_of(app: &App, section: &str) -> std::result::Result<Arc<LoadedPlugin>, FieldError> {
    app.plugins
        .enabled_departments()
        .into_iter()
        .find(|p| p.info.sections.iter().any(|s| s == section))
        .ok_or_else(|| {
            field_error(
                "section-not-served",
                format!("раздел «{section}» не обслуживается: плагин ведомства не установлен или отключён"),
                Some("Раздел"),
            )
        })
}

fn entry_of(form: &ExecutionForm, measure_key: Option<String>) -> model::ExecutionEntry {
    model::ExecutionEntry {
        measure_key,
        section: form.section.clone(),
        status: if form.result == "executed" {
            model::ExecutionStatus::Executed
        } else {
            model::ExecutionStatus::NotExecuted
        },
        measure_name: form.measure_name.clone(),
        executor_ogrn: form.executor_ogrn.clone(),
        executor_name: form.executor_name.clone(),
        clarification: form.clarification.clone(),
        execution_date: form.execution_date.clone(),
        reasons: form.reasons.clone(),
        comment: form.comment.clone(),
        extra: Vec::new(),
    }
}

async fn measure_key(
    conn: &mut AnyConnection,
    form: &ExecutionForm,
) -> Result<std::result::Result<Option<String>, FieldError>> {
    let Some(measure_id) = form.measure_id else {
        return Ok(Ok(None));
    };
    let row = sqlx::query("SELECT measure_key, ipra_id, section FROM measures WHERE id = $1")
        .bind(measure_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(match row {
        Some(row) if row.try_get::<i64, _>("ipra_id")? == form.ipra_id => Ok(Some(row.try_get("measure_key")?)),
        _ => Err(field_error(
            "measure-unknown",
            format!("мероприятие {measure_id} не относится к этой ИПРА"),
            Some("Мероприятие ИПРА"),
        )),
    })
}

/// Validates a form through the department plugin of its section (and the lifecycle's own rules).
pub async fn validate(app: &App, form: &ExecutionForm) -> Result<Vec<FieldError>> {
    let mut conn = app.db.pool.acquire().await?;
    let Some(ipra) = load_ipra(&mut conn, form.ipra_id).await? else {
        return Ok(vec![field_error(
            "ipra-unknown",
            format!("ИПРА {} не найдена", form.ipra_id),
            None,
        )]);
    };
    let mut errors = Vec::new();
    if !matches!(form.result.as_str(), "executed" | "not-executed") {
        errors.push(field_error(
            "result-unknown",
            format!(
                "результат «{}» неизвестен: ожидается executed или not-executed",
                form.result
            ),
            Some("Результат исполнения"),
        ));
        return Ok(errors);
    }
    let key = match measure_key(&mut conn, form).await? {
        Ok(key) => key,
        Err(e) => return Ok(vec![e]),
    };
    let plugin = match department_of(app, &form.section) {
        Ok(p) => p,
        Err(e) => return Ok(vec![e]),
    };
    let input = model::ExecuteInput::Execution(model::ExecutionInput {
        ipra,
        entries: vec![entry_of(form, key)],
        today: crate::register::deadlines::format_date(crate::register::deadlines::today()),
    });
    match app
        .plugins
        .call_async(plugin, move |host, p| host.execute(p, input))
        .await
    {
        Ok(Ok(output)) => errors.extend(output.errors.iter().map(FieldError::from)),
        Ok(Err(e)) => errors.push(FieldError::from(&e)),
        Err(call) => errors.push(field_error(call.code(), call.to_string(), None)),
    }
    Ok(errors)
}

async fn record_event(
    conn: &mut AnyConnection,
    subject: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
    note: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO lifecycle_events (subject, from_status, to_status, at, actor, note) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(subject)
        .bind(from)
        .bind(to)
        .bind(now())
        .bind(actor)
        .bind(note)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Saves a draft (a draft may be incomplete: the errors come back as warnings).
pub async fn save_draft(
    app: &App,
    id: Option<i64>,
    form: &ExecutionForm,
    actor: &str,
) -> Result<(i64, Vec<FieldError>)> {
    let warnings = validate(app, form).await?;
    let at = now();
    let reasons = serde_json::to_string(&form.reasons)?;
    let mut tx = app.db.pool.begin().await?;
    let id = match id {
        Some(id) => {
            let status: Option<String> = sqlx::query("SELECT status FROM execution_records WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("status"))
                .transpose()?;
            match status.as_deref() {
                Some("draft") => {}
                Some(other) => {
                    return Err(crate::refusal::conflict(format!(
                        "запись {id} в статусе «{other}»: изменять можно только черновик"
                    )))
                }
                None => return Err(crate::refusal::not_found(format!("запись исполнения {id} не найдена"))),
            }
            sqlx::query(
                "UPDATE execution_records SET measure_id = $1, section = $2, organisation = $3, result = $4, measure_name = $5, \
                 executor_ogrn = $6, executor_name = $7, clarification = $8, execution_date = $9, reasons = $10, comment = $11, \
                 updated_at = $12 WHERE id = $13",
            )
            .bind(form.measure_id)
            .bind(&form.section)
            .bind(&form.organisation)
            .bind(&form.result)
            .bind(&form.measure_name)
            .bind(&form.executor_ogrn)
            .bind(form.executor_name.as_deref())
            .bind(form.clarification.as_deref())
            .bind(form.execution_date.as_deref())
            .bind(&reasons)
            .bind(form.comment.as_deref())
            .bind(&at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            id
        }
        None => insert_draft(&mut tx, form, actor).await?,
    };
    tx.commit().await?;
    Ok((id, warnings))
}

/// Inserts a new draft in the caller's transaction, with its first lifecycle step; the caller has
/// validated it (a draft may be incomplete).
pub async fn insert_draft(conn: &mut AnyConnection, form: &ExecutionForm, actor: &str) -> Result<i64> {
    let at = now();
    let reasons = serde_json::to_string(&form.reasons)?;
    if !matches!(form.result.as_str(), "executed" | "not-executed") {
        return Err(crate::refusal::invalid(
            "result",
            format!(
                "результат «{}» неизвестен: ожидается executed или not-executed",
                form.result
            ),
        ));
    }
    let id: i64 = sqlx::query(
        "INSERT INTO execution_records (ipra_id, measure_id, section, organisation, status, result, measure_name, executor_ogrn, \
         executor_name, clarification, execution_date, reasons, comment, created_at, created_by, updated_at) \
         VALUES ($1, $2, $3, $4, 'draft', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $13) RETURNING id",
    )
    .bind(form.ipra_id)
    .bind(form.measure_id)
    .bind(&form.section)
    .bind(&form.organisation)
    .bind(&form.result)
    .bind(&form.measure_name)
    .bind(&form.executor_ogrn)
    .bind(form.executor_name.as_deref())
    .bind(form.clarification.as_deref())
    .bind(form.execution_date.as_deref())
    .bind(&reasons)
    .bind(form.comment.as_deref())
    .bind(&at)
    .bind(actor)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    record_event(&mut *conn, &format!("execution:{id}"), None, "draft", actor, None).await?;
    Ok(id)
}

/// Draft → ready in the caller's transaction, for a record the department plugin found valid.
pub async fn ready_in(conn: &mut AnyConnection, id: i64, actor: &str, note: Option<&str>) -> Result<()> {
    let changed = sqlx::query(
        "UPDATE execution_records SET status = 'ready', updated_at = $1 WHERE id = $2 AND status = 'draft'",
    )
    .bind(now())
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::conflict(format!(
            "запись {id} изменена другим пользователем"
        )));
    }
    record_event(
        &mut *conn,
        &format!("execution:{id}"),
        Some("draft"),
        "ready",
        actor,
        note,
    )
    .await
}

pub async fn record(app: &App, id: i64) -> Result<Option<ExecutionRecord>> {
    let row = sqlx::query(
        "SELECT e.*, m.measure_key FROM execution_records e LEFT JOIN measures m ON m.id = e.measure_id WHERE e.id = $1",
    )
    .bind(id)
    .fetch_optional(&app.db.pool)
    .await?;
    row.as_ref().map(record_from_row).transpose()
}

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<ExecutionRecord> {
    Ok(ExecutionRecord::from_row(row)?)
}

pub async fn records_of_ipra(app: &App, ipra_id: i64) -> Result<Vec<ExecutionRecord>> {
    sqlx::query(
        "SELECT e.*, m.measure_key FROM execution_records e LEFT JOIN measures m ON m.id = e.measure_id WHERE e.ipra_id = $1 ORDER BY e.id",
    )
    .bind(ipra_id)
    .fetch_all(&app.db.pool)
    .await?
    .iter()
    .map(record_from_row)
    .collect()
}

/// Draft → ready: only a record the department plugin finds valid.
pub async fn mark_ready(app: &App, id: i64, actor: &str) -> Checked<()> {
    let Some(current) = record(app, id).await? else {
        return Err(crate::refusal::not_found(format!("запись исполнения {id} не найдена")));
    };
    if current.status != "draft" {
        return Err(crate::refusal::conflict(format!(
            "запись {id} в статусе «{}»: готовой можно отметить только черновик",
            current.status
        )));
    }
    let errors = validate(app, &current.form).await?;
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let mut tx = app.db.pool.begin().await?;
    ready_in(&mut tx, id, actor, None).await?;
    tx.commit().await?;
    Ok(Ok(()))
}

/// Ready → draft, for corrections before the report is assembled.
pub async fn back_to_draft(app: &App, id: i64, actor: &str) -> Result<()> {
    let mut tx = app.db.pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE execution_records SET status = 'draft', updated_at = $1 WHERE id = $2 AND status = 'ready'",
    )
    .bind(now())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::conflict(format!(
            "запись {id} не в статусе «готово»: вернуть в черновик нельзя"
        )));
    }
    record_event(&mut tx, &format!("execution:{id}"), Some("ready"), "draft", actor, None).await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_draft(app: &App, id: i64, actor: &str) -> Result<()> {
    let mut tx = app.db.pool.begin().await?;
    let changed = sqlx::query("DELETE FROM execution_records WHERE id = $1 AND status = 'draft'")
        .bind(id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::conflict(format!(
            "удалить можно только черновик; запись {id} не черновик или не найдена"
        )));
    }
    record_event(
        &mut tx,
        &format!("execution:{id}"),
        Some("draft"),
        "deleted",
        actor,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Report {
    pub id: i64,
    pub ipra_id: i64,
    pub status: String,
    pub reporter_ogrn: String,
    pub reporter_name: String,
    pub document_name: String,
    pub document_sha256: String,
    pub signer: Option<String>,
    pub created_at: String,
    pub due_date: Option<String>,
    pub signed_at: Option<String>,
    pub sent_at: Option<String>,
    pub answered_at: Option<String>,
    pub rejection_reason: Option<String>,
    /// 1 for the first report of an IPRA by its reporter; the next for one that corrects a withdrawn
    /// or rejected report.
    pub version: i64,
    /// The withdrawn or rejected report this one corrects.
    pub corrects_report_id: Option<i64>,
}

fn report_from_row(row: &sqlx::any::AnyRow) -> Result<Report> {
    Ok(Report::from_row(row)?)
}

pub async fn report(app: &App, id: i64) -> Result<Option<Report>> {
    sqlx::query("SELECT * FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .as_ref()
        .map(report_from_row)
        .transpose()
}

/// The columns of a report without its document and signature.
const REPORT_COLUMNS: &str = "id, ipra_id, status, reporter_ogrn, reporter_name, document_name, document_sha256, \
     signer, created_at, due_date, signed_at, sent_at, answered_at, rejection_reason, version, corrects_report_id";

/// Every report in `status`, oldest first (a job's work: the signed ones waiting to be sent).
pub async fn reports(app: &App, status: &str) -> Result<Vec<Report>> {
    sqlx::query(&format!(
        "SELECT {REPORT_COLUMNS} FROM reports WHERE status = $1 ORDER BY id"
    ))
    .bind(status)
    .fetch_all(&app.db.pool)
    .await?
    .iter()
    .map(report_from_row)
    .collect()
}

/// Which reports a list shows.
#[derive(Clone, Debug, Default)]
pub struct ReportFilter {
    pub status: Option<String>,
    pub ipra: Option<i64>,
    /// An executor's organisation: only the reports it made.
    pub reporter: Option<String>,
}

/// A page of reports, newest first, below the id `before`.
pub async fn reports_page(
    db: &crate::db::Db,
    f: &ReportFilter,
    before: Option<i64>,
    limit: u32,
) -> Result<crate::paging::Page<Report>> {
    let mut q = crate::paging::PageQuery {
        table: "reports",
        columns: REPORT_COLUMNS,
        conditions: Vec::new(),
        binds: Vec::new(),
        index: None,
    };
    if let Some(ipra) = f.ipra {
        q.conditions.push(format!("ipra_id = {ipra}"));
        q.index = Some("reports_ipra");
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        q.filter("status = ?", s);
        q.index = q.index.or(Some("reports_status"));
    }
    if let Some(o) = f.reporter.as_deref() {
        q.filter("reporter_ogrn = ?", o);
        if f.ipra.is_none() {
            q.index = Some("reports_reporter");
        }
    }
    let page = crate::paging::newest_first(db, &q, before, limit).await?;
    let items = page.items.iter().map(report_from_row).collect::<Result<Vec<_>>>()?;
    Ok(page.map_items(items))
}

/// The report's document (the FRI package) and its detached signature, if signed.
pub async fn report_document(app: &App, id: i64) -> Result<Option<(String, Vec<u8>, Option<Vec<u8>>)>> {
    let row = sqlx::query("SELECT document_name, document, signature FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?;
    row.map(|r| -> Result<_> {
        Ok((
            r.try_get("document_name")?,
            r.try_get("document")?,
            r.try_get::<Option<Vec<u8>>, _>("signature").ok().flatten(),
        ))
    })
    .transpose()
}

/// Assembles the report of an IPRA from the ready records of all departments: each department
/// renders its section, the FRI connector renders the package; the report then awaits signature.
///
/// With `only_organisation` (an executor reporting for itself) the report holds only that
/// organisation's records.
pub async fn assemble_report(
    app: &App,
    ipra_id: i64,
    reporter_ogrn: &str,
    only_organisation: Option<&str>,
    actor: &str,
) -> Checked<i64> {
    let Some(reporter) = crate::register::directory::organisation(&app.db, reporter_ogrn).await? else {
        return Ok(Err(vec![field_error(
            "reporter-unknown",
            format!("организация-отправитель с ОГРН {reporter_ogrn} не найдена в справочнике"),
            Some("ОГРН"),
        )]));
    };
    let mut conn = app.db.pool.acquire().await?;
    let Some(ipra) = load_ipra(&mut conn, ipra_id).await? else {
        return Err(crate::refusal::not_found(format!("ИПРА {ipra_id} не найдена")));
    };
    drop(conn);
    let open_report: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM reports WHERE ipra_id = $1 AND reporter_ogrn = $2 AND status IN ('awaiting-signature', 'signed')",
    )
    .bind(ipra_id)
    .bind(reporter_ogrn)
    .fetch_one(&app.db.pool)
    .await?
    .try_get("n")?;
    if open_report > 0 {
        return Ok(Err(vec![field_error(
            "report-pending",
            "по этой ИПРА уже есть отчёт, ожидающий подписания или отправки".into(),
            None,
        )]));
    }
    let records: Vec<ExecutionRecord> = records_of_ipra(app, ipra_id)
        .await?
        .into_iter()
        .filter(|r| r.status == "ready" && only_organisation.is_none_or(|o| r.form.organisation == o))
        .collect();
    if records.is_empty() {
        return Ok(Err(vec![field_error(
            "nothing-ready",
            "нет записей исполнения в статусе «готово»: сохраните мероприятия и отметьте их готовыми".into(),
            None,
        )]));
    }
    let entries: Vec<model::ExecutionEntry> = records
        .iter()
        .map(|r| entry_of(&r.form, r.measure_key.clone()))
        .collect();
    let created = now();
    let report_key = format!(
        "{}-{}",
        ipra.document_id,
        Sha256::digest(created.as_bytes())[0..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let mut input = model::ReportInput {
        report_id: report_key,
        ipra: ipra.clone(),
        entries,
        reporter_ogrn: reporter.ogrn.clone(),
        reporter_name: reporter.name.clone(),
        created: created.clone(),
        sections: Vec::new(),
    };
    let mut sections: Vec<String> = records.iter().map(|r| r.form.section.clone()).collect();
    sections.sort();
    sections.dedup();
    let mut errors = Vec::new();
    for section in &sections {
        let plugin = match department_of(app, section) {
            Ok(p) => p,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let mut section_input = input.clone();
        section_input.entries.retain(|e| &e.section == section);
        let section_export = model::ExportInput::ReportSection(section_input);
        match app
            .plugins
            .call_async(plugin, move |host, p| host.export(p, section_export))
            .await
        {
            Ok(Ok(docs)) => input.sections.extend(docs),
            Ok(Err(e)) => errors.push(FieldError::from(&e)),
            Err(call) => errors.push(field_error(call.code(), call.to_string(), None)),
        }
    }
    if !errors.is_empty() {
        return Ok(Err(errors));
    }
    let connector = app.plugins.connector_writing("execution-report")?;
    let package = model::ExportInput::ReportPackage(input);
    let document = match app
        .plugins
        .call_async(connector, move |host, p| host.export(p, package))
        .await
    {
        Ok(Ok(mut docs)) if !docs.is_empty() => docs.remove(0),
        Ok(Ok(_)) => bail!("коннектор ФРИ не сформировал пакет отчёта"),
        Ok(Err(e)) => return Ok(Err(vec![FieldError::from(&e)])),
        Err(call) => return Ok(Err(vec![field_error(call.code(), call.to_string(), None)])),
    };
    let sha = hex::encode(Sha256::digest(&document.bytes));
    let received: String = sqlx::query("SELECT received_at FROM ipras WHERE id = $1")
        .bind(ipra_id)
        .fetch_one(&app.db.pool)
        .await?
        .try_get("received_at")?;
    let due = crate::register::deadlines::due_date(&app.reference(), "report", &received, None);
    let mut tx = app.db.pool.begin().await?;
    // A report assembled after one of the same IPRA and reporter came back (withdrawn or rejected)
    // is its next version and names it.
    let corrected = sqlx::query(
        "SELECT r.id, r.version FROM reports r WHERE r.ipra_id = $1 AND r.reporter_ogrn = $2 \
         AND r.status IN ('withdrawn', 'rejected') \
         AND NOT EXISTS (SELECT 1 FROM reports c WHERE c.corrects_report_id = r.id) ORDER BY r.id DESC LIMIT 1",
    )
    .bind(ipra_id)
    .bind(&reporter.ogrn)
    .fetch_optional(&mut *tx)
    .await?;
    let (version, corrects) = match &corrected {
        Some(row) => (
            row.try_get::<i64, _>("version")? + 1,
            Some(row.try_get::<i64, _>("id")?),
        ),
        None => (1, None),
    };
    let report_id: i64 = sqlx::query(
        "INSERT INTO reports (ipra_id, status, reporter_ogrn, reporter_name, document_name, document, document_sha256, created_at, created_by, due_date, \
         version, corrects_report_id) VALUES ($1, 'awaiting-signature', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
    )
    .bind(ipra_id)
    .bind(&reporter.ogrn)
    .bind(&reporter.name)
    .bind(&document.name)
    .bind(&document.bytes)
    .bind(&sha)
    .bind(&created)
    .bind(actor)
    .bind(due.as_deref())
    .bind(version)
    .bind(corrects)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    for r in &records {
        let changed = sqlx::query(
            "UPDATE execution_records SET status = 'reported', report_id = $1, updated_at = $2, returned_reason = NULL \
             WHERE id = $3 AND status = 'ready'",
        )
        .bind(report_id)
        .bind(&created)
        .bind(r.id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed != 1 {
            return Err(crate::refusal::conflict(format!(
                "запись исполнения {} изменена во время формирования отчёта; повторите",
                r.id
            )));
        }
        // The measure's result is what is sent: it changes when the report is (see `mark_sent`).
    }
    record_event(
        &mut tx,
        &format!("report:{report_id}"),
        None,
        "awaiting-signature",
        actor,
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(Ok(report_id))
}

/// A step of a report's lifecycle: the statuses it may start from, where it goes, the column that
/// records when, and a note for the history.
struct Step<'a> {
    from: &'a [&'a str],
    to: &'a str,
    stamp: &'a str,
    note: Option<&'a str>,
    /// What else changes with the report, in the same transaction.
    then: Then<'a>,
}

/// What a report's step changes besides the report.
#[derive(Clone, Copy)]
enum Then<'a> {
    Nothing,
    /// Sent: the measures take the results of its records.
    ApplyResults,
    /// Withdrawn or rejected: its records come back for correction with the reason, and measures
    /// that took their results (a rejected report was sent) are open again.
    Reopen {
        reason: &'a str,
    },
}

/// Moves a report from one status to the next, refusing any other transition.
async fn transition(app: &App, id: i64, step: Step<'_>, actor: &str) -> Result<()> {
    let Step {
        from,
        to,
        stamp: set,
        note,
        then,
    } = step;
    let Some(current) = report(app, id).await? else {
        return Err(crate::refusal::not_found(format!("отчёт {id} не найден")));
    };
    if !from.contains(&current.status.as_str()) {
        return Err(crate::refusal::conflict(format!(
            "отчёт {id} в статусе «{}»: переход в «{to}» возможен только из {}",
            status_label(&current.status),
            from.iter()
                .map(|s| format!("«{}»", status_label(s)))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let mut tx = app.db.pool.begin().await?;
    let sql = format!("UPDATE reports SET status = $1, {set} = $2 WHERE id = $3 AND status = $4");
    let changed = sqlx::query(&sql)
        .bind(to)
        .bind(now())
        .bind(id)
        .bind(&current.status)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::conflict(format!(
            "отчёт {id} изменён другим пользователем; повторите"
        )));
    }
    match then {
        Then::Nothing => {}
        Then::ApplyResults => {
            // Each measure takes the result of its record in the report (the latest, should there be two).
            sqlx::query(
                "UPDATE measures SET status = (SELECT e.result FROM execution_records e WHERE e.report_id = $1 \
                 AND e.measure_id = measures.id ORDER BY e.id DESC LIMIT 1) \
                 WHERE id IN (SELECT e.measure_id FROM execution_records e WHERE e.report_id = $1 AND e.measure_id IS NOT NULL) \
                 AND status <> 'closed'",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        Then::Reopen { reason } => {
            if current.status == "sent" {
                sqlx::query(
                    "UPDATE measures SET status = 'open' WHERE id IN (SELECT e.measure_id FROM execution_records e \
                     WHERE e.report_id = $1 AND e.measure_id IS NOT NULL) AND status IN ('executed', 'not-executed')",
                )
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(
                "UPDATE execution_records SET status = 'ready', report_id = NULL, returned_reason = $1, \
                 returned_from_report_id = $2, updated_at = $3 WHERE report_id = $2",
            )
            .bind(reason)
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await?;
        }
    }
    record_event(&mut tx, &format!("report:{id}"), Some(&current.status), to, actor, note).await?;
    tx.commit().await?;
    Ok(())
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "awaiting-signature" => "Ожидание подписания",
        "signed" => "Подписано",
        "sent" => "Отправлено",
        "accepted" => "Принято",
        "rejected" => "Отклонено",
        "withdrawn" => "Возвращено на доработку",
        "draft" => "Черновик",
        "ready" => "Готово",
        "reported" => "В отчёте",
        _ => "—",
    }
}

/// Stores a verified detached signature: the report becomes signed.
pub async fn attach_signature(app: &App, id: i64, signature: &[u8], signer: &str, actor: &str) -> Result<()> {
    transition(
        app,
        id,
        Step {
            from: &["awaiting-signature"],
            to: "signed",
            stamp: "signed_at",
            note: Some(signer),
            then: Then::Nothing,
        },
        actor,
    )
    .await?;
    sqlx::query("UPDATE reports SET signature = $1, signer = $2 WHERE id = $3")
        .bind(signature)
        .bind(signer)
        .bind(id)
        .execute(&app.db.pool)
        .await?;
    Ok(())
}

/// Awaiting signature → withdrawn: its records go back to ready for corrections, saying so; the
/// report assembled next is its next version.
pub async fn withdraw(app: &App, id: i64, actor: &str) -> Result<()> {
    transition(
        app,
        id,
        Step {
            from: &["awaiting-signature"],
            to: "withdrawn",
            stamp: "answered_at",
            note: None,
            then: Then::Reopen {
                reason: "отчёт возвращён на доработку до подписания",
            },
        },
        actor,
    )
    .await
}

/// Signed → sent. Nothing unsigned is ever sent: the transition refuses any other status.
pub async fn mark_sent(app: &App, id: i64, actor: &str) -> Result<()> {
    let has_signature: bool = sqlx::query("SELECT signature FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .and_then(|r| r.try_get::<Option<Vec<u8>>, _>("signature").ok().flatten())
        .is_some();
    if !has_signature {
        return Err(crate::refusal::conflict(format!(
            "отчёт {id} не подписан: неподписанный отчёт не отправляется"
        )));
    }
    transition(
        app,
        id,
        Step {
            from: &["signed"],
            to: "sent",
            stamp: "sent_at",
            note: None,
            then: Then::ApplyResults,
        },
        actor,
    )
    .await
}

/// Sent → accepted or rejected (with the reason received).
pub async fn record_answer(app: &App, id: i64, accepted: bool, reason: Option<&str>, actor: &str) -> Result<()> {
    if accepted {
        transition(
            app,
            id,
            Step {
                from: &["sent"],
                to: "accepted",
                stamp: "answered_at",
                note: None,
                then: Then::Nothing,
            },
            actor,
        )
        .await
    } else {
        let reason = reason
            .filter(|r| !r.trim().is_empty())
            .context("укажите причину отклонения")?;
        // Its records come back for correction with the FRI's reason; the measures are open again
        // until the corrected version is sent.
        let returned = format!("отчёт отклонён ФРИ: {}", reason.trim());
        transition(
            app,
            id,
            Step {
                from: &["sent"],
                to: "rejected",
                stamp: "answered_at",
                note: Some(reason),
                then: Then::Reopen { reason: &returned },
            },
            actor,
        )
        .await?;
        sqlx::query("UPDATE reports SET rejection_reason = $1 WHERE id = $2")
            .bind(reason)
            .bind(id)
            .execute(&app.db.pool)
            .await?;
        Ok(())
    }
}

/// An external system's answer on a report it was sent (a receipt its connector read): the report
/// sent under that document name is accepted or rejected. The same answer again changes nothing; an
/// answer on a report never sent is refused (not found), naming the document.
pub async fn receive_answer(app: &App, answer: &model::Receipt, actor: &str) -> Result<String> {
    let report = sqlx::query(
        "SELECT id, status FROM reports WHERE document_name = $1 AND status IN ('sent', 'accepted', 'rejected')",
    )
    .bind(&answer.document_name)
    .fetch_optional(&app.db.pool)
    .await?;
    let Some(report) = report else {
        // Not a report: perhaps an answer on a request the region sent (a TSR clarification).
        if let Some(line) = super::clarification::receive_answer(app, answer, actor).await? {
            return Ok(line);
        }
        return Err(crate::refusal::not_found(format!(
            "квитанция на неизвестный или не отправленный документ {}",
            answer.document_name
        )));
    };
    let report_id: i64 = report.try_get("id")?;
    let status: String = report.try_get("status")?;
    if status != "sent" {
        // The same receipt again (delivered twice, or processed before an instance stopped).
        return Ok(format!("отчёт {report_id}: квитанция уже учтена ({status})"));
    }
    let reason = answer
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or("причина в квитанции не указана");
    record_answer(app, report_id, answer.accepted, Some(reason), actor).await?;
    Ok(format!(
        "отчёт {report_id}: {}",
        if answer.accepted {
            "принят"
        } else {
            "отклонён"
        }
    ))
}

/// A superseding IPRA carries over the executed measures that match (same section, category,
/// code and name); its other measures stay open; the old IPRA's open measures are closed.
pub async fn carry_over(conn: &mut AnyConnection, old_ipra: i64, new_ipra: i64) -> Result<u64> {
    carry_over_all(conn, &[(old_ipra, new_ipra)]).await
}

/// [`carry_over`] for `(old, new)` pairs of IPRAs of different persons, in a few statements for all
/// (each is a round trip to PostgreSQL).
pub async fn carry_over_all(conn: &mut AnyConnection, pairs: &[(i64, i64)]) -> Result<u64> {
    use crate::register::store::{chunks, Sql, ROWS_PER_STATEMENT};
    let at = now();
    let mut carried = 0;
    for range in chunks(pairs.len(), ROWS_PER_STATEMENT) {
        let pairs = &pairs[range];
        // `CROSS JOIN` keeps SQLite's join order: the pairs, the old IPRA's executed measures, then the
        // new IPRA's open ones, each through `measures_ipra_status`. Left to choose, SQLite (without
        // statistics) walked `measures_section` for every new measure — every measure of the section
        // in the register, 47 ms per superseding IPRA at 2,000 IPRAs and growing with the register.
        // PostgreSQL plans a `CROSS JOIN` with its conditions like any inner join.
        let mut sql = Sql::new(conn);
        sql.push("WITH v (old_ipra, new_ipra) AS (VALUES ");
        sql.rows(pairs.len(), 2);
        sql.push(
            ") SELECT n.id AS new_measure, e.id AS record \
             FROM v CROSS JOIN measures o CROSS JOIN measures n CROSS JOIN execution_records e \
             WHERE o.ipra_id = v.old_ipra AND o.status = 'executed' AND n.ipra_id = v.new_ipra AND n.status = 'open' \
               AND o.section = n.section AND o.category_code = n.category_code \
               AND COALESCE(o.code, '') = COALESCE(n.code, '') AND o.name = n.name \
               AND e.measure_id = o.id AND e.result = 'executed' AND e.status = 'reported'",
        );
        let mut query = sqlx::query(sql.text());
        for (old, new) in pairs {
            query = query.bind(*old).bind(*new);
        }
        let matches = query.fetch_all(&mut *conn).await?;
        for row in matches {
            let new_measure: i64 = row.try_get("new_measure")?;
            let record: i64 = row.try_get("record")?;
            sqlx::query(
                "INSERT INTO execution_records (ipra_id, measure_id, section, organisation, status, result, measure_name, executor_ogrn, \
                 executor_name, clarification, execution_date, reasons, comment, carried_from, created_at, created_by, updated_at) \
                 SELECT m.ipra_id, m.id, e.section, e.organisation, 'ready', e.result, e.measure_name, e.executor_ogrn, e.executor_name, \
                 e.clarification, e.execution_date, e.reasons, e.comment, e.id, $1, 'перенос', $1 \
                 FROM execution_records e CROSS JOIN measures m WHERE e.id = $2 AND m.id = $3",
            )
            .bind(&at)
            .bind(record)
            .bind(new_measure)
            .execute(&mut *conn)
            .await?;
            sqlx::query("UPDATE measures SET status = 'executed' WHERE id = $1")
                .bind(new_measure)
                .execute(&mut *conn)
                .await?;
            carried += 1;
        }
        move_unreported(conn, pairs, &at).await?;
        let mut sql = Sql::new(conn);
        sql.push("UPDATE measures SET status = 'closed', closed_reason = 'superseded' WHERE status = 'open' AND ipra_id IN (");
        sql.list(pairs.len());
        sql.push(")");
        let mut query = sqlx::query(sql.text());
        for (old, _) in pairs {
            query = query.bind(*old);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(carried)
}

/// Draft and ready records of superseded IPRAs follow their measures to the new IPRAs (same section,
/// category, code and name; records of an extra measure follow the IPRA); those whose measure the new
/// IPRA does not have stay on the old one. Each organisation concerned is told, in a notice, what
/// moved where and what stayed.
async fn move_unreported(conn: &mut AnyConnection, pairs: &[(i64, i64)], at: &str) -> Result<()> {
    use crate::register::store::Sql;
    use std::collections::{BTreeMap, HashSet};
    let mut sql = Sql::new(conn);
    sql.push("WITH v (old_ipra, new_ipra) AS (VALUES ");
    sql.rows(pairs.len(), 2);
    sql.push(
        ") SELECT v.old_ipra, v.new_ipra, e.id AS record, e.organisation, e.status, e.measure_id, n.id AS new_measure \
         FROM v CROSS JOIN execution_records e LEFT JOIN measures o ON o.id = e.measure_id \
         LEFT JOIN measures n ON n.ipra_id = v.new_ipra AND n.status = 'open' AND n.section = o.section \
           AND n.category_code = o.category_code AND COALESCE(n.code, '') = COALESCE(o.code, '') AND n.name = o.name \
         WHERE e.ipra_id = v.old_ipra AND e.status IN ('draft', 'ready') ORDER BY e.id, n.id",
    );
    let mut query = sqlx::query(sql.text());
    for (old, new) in pairs {
        query = query.bind(*old).bind(*new);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(());
    }
    /// A draft or ready record of an old IPRA, with the new IPRA's measures that match its own.
    struct Candidate {
        old: i64,
        new: i64,
        organisation: String,
        status: String,
        measure: Option<i64>,
        options: Vec<i64>,
    }
    let mut candidates: BTreeMap<i64, Candidate> = BTreeMap::new();
    for r in &rows {
        let record: i64 = r.try_get("record")?;
        let candidate = match candidates.entry(record) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => e.insert(Candidate {
                old: r.try_get("old_ipra")?,
                new: r.try_get("new_ipra")?,
                organisation: r.try_get("organisation")?,
                status: r.try_get("status")?,
                measure: r.try_get("measure_id").ok().flatten(),
                options: Vec::new(),
            }),
        };
        if let Some(n) = r.try_get::<Option<i64>, _>("new_measure").ok().flatten() {
            candidate.options.push(n);
        }
    }
    // Each record once, to the first matching measure no other record of the pass took; a record of
    // an extra measure follows the IPRA.
    let mut taken: HashSet<i64> = HashSet::new();
    let mut moves: Vec<(i64, &Candidate, Option<i64>)> = Vec::new();
    // (organisation, old, new) → (moved, stayed)
    let mut told: BTreeMap<(String, i64, i64), (u64, u64)> = BTreeMap::new();
    for (record, c) in &candidates {
        let target = match c.measure {
            None => Some(None),
            Some(_) => c.options.iter().find(|n| !taken.contains(n)).map(|n| Some(*n)),
        };
        let tally = told.entry((c.organisation.clone(), c.old, c.new)).or_insert((0, 0));
        match target {
            Some(new_measure) => {
                if let Some(n) = new_measure {
                    taken.insert(n);
                }
                moves.push((*record, c, new_measure));
                tally.0 += 1;
            }
            None => tally.1 += 1,
        }
    }
    let numbers: BTreeMap<i64, String> = {
        let mut ids: Vec<String> = pairs.iter().flat_map(|(o, n)| [o.to_string(), n.to_string()]).collect();
        ids.dedup();
        sqlx::query(&format!("SELECT id, number FROM ipras WHERE id IN ({})", ids.join(",")))
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("number")?)))
            .collect::<Result<_>>()?
    };
    let number = |id: i64| numbers.get(&id).cloned().unwrap_or_else(|| id.to_string());
    for (record, c, measure) in &moves {
        sqlx::query("UPDATE execution_records SET ipra_id = $1, measure_id = $2, updated_at = $3 WHERE id = $4")
            .bind(c.new)
            .bind(*measure)
            .bind(at)
            .bind(*record)
            .execute(&mut *conn)
            .await?;
        let note = format!("перенесена с ИПРА № {} на ИПРА № {}", number(c.old), number(c.new));
        record_event(
            conn,
            &format!("execution:{record}"),
            Some(&c.status),
            &c.status,
            "перенос",
            Some(&note),
        )
        .await?;
    }
    for ((organisation, old, new), (moved, stayed)) in told {
        let mut text = format!(
            "Пришла новая ИПРА № {} взамен ИПРА № {}: ваши черновики и готовые записи исполнения перенесены в новую ИПРА — {moved}.",
            number(new),
            number(old)
        );
        if stayed > 0 {
            text.push_str(&format!(
                " Не перенесены (в новой ИПРА нет такого мероприятия) — {stayed}: они остались в заменённой ИПРА № {}, проверьте их.",
                number(old)
            ));
        }
        sqlx::query(
            "INSERT INTO notices (organisation, at, kind, ipra_id, text) VALUES ($1, $2, 'carry-over', $3, $4)",
        )
        .bind(&organisation)
        .bind(at)
        .bind(new)
        .bind(&text)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// What an organisation's users have not yet marked read, newest first (at most `limit`).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Notice {
    pub id: i64,
    pub at: String,
    pub kind: String,
    pub ipra_id: Option<i64>,
    pub text: String,
}

pub async fn unread_notices(db: &crate::db::Db, organisation: &str, limit: i64) -> Result<Vec<Notice>> {
    sqlx::query(
        "SELECT id, at, kind, ipra_id, text FROM notices WHERE organisation = $1 AND read_at IS NULL ORDER BY id DESC LIMIT $2",
    )
    .bind(organisation)
    .bind(limit)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(Notice::from_row)
    .collect::<Result<_, _>>()
    .map_err(Into::into)
}

/// Marks a notice of `organisation` read; false when it has no such notice.
pub async fn mark_notice_read(db: &crate::db::Db, organisation: &str, id: i64, actor: &str) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE notices SET read_at = $1, read_by = $2 WHERE id = $3 AND organisation = $4 AND read_at IS NULL",
    )
    .bind(now())
    .bind(actor)
    .bind(id)
    .bind(organisation)
    .execute(&db.pool)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

/// A confirmed death: the person is marked deceased, open measures of IPRAs in force are closed as
/// not executed with the reason of the `non-execution-reasons` list marked `death=true`, and the
/// IPRAs are closed. Returns the number of measures closed. Used by the ZAGS connector's records.
/// A date that is no date, or after today, is refused: a living person's measures stay open.
pub async fn record_death(app: &App, snils: &str, death_date: &str, source: &str, actor: &str) -> Result<u64> {
    if let Some(why) = crate::register::deaths::impossible(death_date) {
        bail!("{why}: смерть не записана");
    }
    let reason = app
        .reference()
        .list("non-execution-reasons")
        .iter()
        .find(|e| e.extra.iter().any(|(k, v)| k == "death" && v == "true"))
        .map(|e| e.code.clone())
        .context("в справочнике причин неисполнения нет причины со свойством death=true")?;
    let mut tx = app.db.pool.begin().await?;
    let Some(person) = sqlx::query("SELECT id FROM persons WHERE snils = $1")
        .bind(snils)
        .fetch_optional(&mut *tx)
        .await?
    else {
        return Err(crate::refusal::not_found(format!(
            "гражданин со СНИЛС {snils} не найден в реестре"
        )));
    };
    let person_id: i64 = person.try_get("id")?;
    let at = now();
    sqlx::query("UPDATE persons SET death_date = $1, updated_at = $2 WHERE id = $3")
        .bind(death_date)
        .bind(&at)
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    let open = sqlx::query(
        "SELECT m.id, m.ipra_id, m.section, m.name, m.assigned_ogrn FROM measures m JOIN ipras i ON i.id = m.ipra_id \
         WHERE i.person_id = $1 AND i.status = 'active' AND m.status = 'open'",
    )
    .bind(person_id)
    .fetch_all(&mut *tx)
    .await?;
    let reasons = serde_json::to_string(&[reason.as_str()])?;
    for row in &open {
        let ogrn = opt_text(row, "assigned_ogrn").unwrap_or_default();
        let measure_id: i64 = row.try_get("id")?;
        let id: i64 = sqlx::query(
            "INSERT INTO execution_records (ipra_id, measure_id, section, organisation, status, result, measure_name, executor_ogrn, \
             clarification, execution_date, reasons, created_at, created_by, updated_at) \
             VALUES ($1, $2, $3, $4, 'ready', 'not-executed', $5, $4, $6, NULL, $7, $8, $9, $8) RETURNING id",
        )
        .bind(row.try_get::<i64, _>("ipra_id")?)
        .bind(measure_id)
        .bind(row.try_get::<String, _>("section")?)
        .bind(&ogrn)
        .bind(row.try_get::<String, _>("name")?)
        .bind(format!("смерть гражданина {death_date} ({source})"))
        .bind(&reasons)
        .bind(&at)
        .bind(actor)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        record_event(&mut tx, &format!("execution:{id}"), None, "ready", actor, Some(source)).await?;
        sqlx::query("UPDATE measures SET status = 'not-executed', closed_reason = $1 WHERE id = $2")
            .bind(&reason)
            .bind(measure_id)
            .execute(&mut *tx)
            .await?;
    }
    // The IPPSU a social-services system holds is corrected: its services end with the death.
    let ippsu_reason = crate::register::social_services::death_reason(death_date);
    crate::register::social_services::plan_person_corrections(&mut tx, person_id, &ippsu_reason, &at).await?;
    sqlx::query("UPDATE ipras SET status = 'closed' WHERE person_id = $1 AND status = 'active'")
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::audit::record(
        &app.db,
        actor,
        "person.death",
        &format!("snils:{snils}"),
        Some(death_date),
    )
    .await?;
    Ok(open.len() as u64)
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct FollowUpView {
    pub id: i64,
    pub ipra_id: i64,
    pub plugin_id: String,
    pub kind: String,
    pub title: String,
    pub due_date: Option<String>,
    pub status: String,
    pub document_name: Option<String>,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub attributes: serde_json::Value,
    pub created_at: String,
}

/// Follow-ups of departments (IPPSU drafts, TSR clarification requests, …), by IPRA or kind.
pub async fn follow_ups(app: &App, ipra_id: Option<i64>, kind: Option<&str>) -> Result<Vec<FollowUpView>> {
    sqlx::query("SELECT * FROM follow_ups WHERE ($1 = 0 OR ipra_id = $1) AND ($2 = '' OR kind = $2) ORDER BY id")
        .bind(ipra_id.unwrap_or(0))
        .bind(kind.unwrap_or(""))
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(FollowUpView::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}
