//! The exchange with a social-services system (in a region, АИС СОН), on the register's side:
//! - the services it reports back for a person's IPRA (provided / refused / not provided, a connector
//!   that reads `execution-result`) become execution records of the matching social-protection
//!   measures — drafts for the executor to confirm, or ready records when the connector's setting
//!   `results` says `ready` — each service once (`social_service_results`, migration 0028); a record
//!   that cannot be matched for sure changes nothing and is refused with the field that does not hold;
//! - the IPPSU drafts sent to it (`ippsu_sends`, written by the scheduler's `ippsu-outbox`) and its
//!   answers on them (a connector that writes `ippsu`), shown on the IPRA card.
//!
//! - the recipient's death: in the transaction that records it (before the IPRAs close), each IPRA in
//!   force whose IPPSU a connector holds gets a correction planned (`pending`), with the reason
//!   «получатель социальных услуг умер …»; a death ZAGS cancels later (the IPRA in force again) plans
//!   another, «запись акта о смерти получателя аннулирована …». Why a correction rather than nothing: АИС СОН keeps the
//!   IPPSU and the providers' contracts, and the provision of social services ends with the recipient's
//!   death; the exchange has no action of its own for closing an IPPSU, and a correction naming the
//!   death and its date is what lets АИС СОН end all services of that IPPSU on that day (rather than
//!   providers learning it otherwise while the services go on being planned). An IPRA whose IPPSU never
//!   went out gets none: its pending create is not sent (the IPRA is closed).
//!
//! Nothing here knows a connector by name: it is the one the document came through.

use crate::app::App;
use crate::db::{now, opt_text, Db};
use crate::plugins::model;
use crate::refusal;
use crate::register::execution::{self, ExecutionForm};
use anyhow::Result;
use serde::Serialize;
use sqlx::Row;

/// The section whose measures the services report on.
pub const SECTION: &str = "social-protection";

/// The follow-up of the social-protection department that an IPPSU is sent from.
pub const IPPSU_DRAFT: &str = "ippsu-draft";

fn attribute<'a>(extra: &'a [model::Attribute], code: &str) -> Option<&'a str> {
    extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// The connector's name as people read it (its manifest's), for the records it creates.
pub fn actor_of(app: &App, connector: &str) -> String {
    app.plugins
        .get(connector)
        .map(|p| p.info.name.clone())
        .unwrap_or_else(|| connector.to_string())
}

/// Whether the services a connector reports become ready records at once, rather than drafts for
/// the executor to confirm: its setting `results` is `ready` — the administrator's, in the settings of
/// the connector's inbox job, else the default its manifest declares (`[config]`).
pub async fn results_ready(app: &App, connector: &str) -> Result<bool> {
    let chosen = crate::scheduler::ippsu::connector_setting(app, connector, "inbox", "results").await?;
    let value = match chosen {
        Some(value) => value.as_str().map(str::to_string),
        None => app
            .plugins
            .get(connector)
            .and_then(|p| p.manifest.config.get("results").cloned()),
    };
    Ok(value.is_some_and(|v| v.trim() == "ready"))
}

/// One service ready to be written: its measure and the record it becomes.
struct Planned {
    key: String,
    measure_id: i64,
    service_result: String,
    form: ExecutionForm,
}

/// A refusal naming the field of the record that does not hold.
fn refused(field: &str, message: String) -> anyhow::Error {
    refusal::invalid(field, message)
}

/// Applies one recipient's reported services; returns a line for the job report. Every service is
/// checked before anything is written, and all are written in one transaction or none: a record
/// the register cannot match for sure is refused whole with the reason.
pub async fn receive(
    app: &App,
    connector: &str,
    file: &str,
    locator: &str,
    report: &model::PriorReport,
) -> Result<String> {
    let done: Vec<String> =
        sqlx::query("SELECT measure_key FROM social_service_results WHERE connector = $1 AND document_id = $2")
            .bind(connector)
            .bind(&report.document_id)
            .fetch_all(&app.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("measure_key"))
            .collect::<std::result::Result<_, _>>()?;
    if !report.entries.is_empty() && report.entries.iter().all(|e| done.contains(&e.key)) {
        return Ok(format!(
            "{file}: {locator}: сведения {} учтены ранее, ничего не изменено",
            report.document_id
        ));
    }
    let planned = plan(app, report).await?;
    let ready = results_ready(app, connector).await?;
    let actor = actor_of(app, connector);
    // The department plugin's checks, as for a record entered by hand; a record that does not pass
    // stays a draft for the executor, whatever the setting.
    let mut checked = Vec::with_capacity(planned.len());
    for p in planned.into_iter().filter(|p| !done.contains(&p.key)) {
        let errors = execution::validate(app, &p.form).await?;
        checked.push((p, errors));
    }
    let at = now();
    let mut tx = app.db.pool.begin().await?;
    let mut lines = Vec::new();
    for (p, errors) in &checked {
        let id = execution::insert_draft(&mut tx, &p.form, &actor).await?;
        let claimed = sqlx::query(
            "INSERT INTO social_service_results (connector, document_id, measure_key, ipra_id, measure_id, execution_record_id, \
             service_result, file_name, applied_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (connector, document_id, measure_key) DO NOTHING",
        )
        .bind(connector)
        .bind(&report.document_id)
        .bind(&p.key)
        .bind(p.form.ipra_id)
        .bind(p.measure_id)
        .bind(id)
        .bind(&p.service_result)
        .bind(file)
        .bind(&at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed == 0 {
            // Applied by another run meanwhile: nothing of this one is kept.
            tx.rollback().await?;
            return Ok(format!(
                "{file}: {locator}: сведения {} учтены другим запуском, ничего не изменено",
                report.document_id
            ));
        }
        let status = if ready && errors.is_empty() {
            execution::ready_in(&mut tx, id, &actor, Some("по сведениям об оказанных услугах")).await?;
            "готова к отчёту"
        } else if errors.is_empty() {
            "черновик для подтверждения исполнителем"
        } else {
            "черновик: исполнителю нужно исправить"
        };
        lines.push(format!("мероприятие {} → запись исполнения {id} ({status})", p.key));
    }
    tx.commit().await?;
    Ok(format!("{file}: {locator}: {}", lines.join("; ")))
}

/// What the correction after the recipient's death says (the date as people write it).
pub fn death_reason(death_date: &str) -> String {
    let shown = match death_date.split('-').collect::<Vec<_>>().as_slice() {
        [y, m, d] => format!("{d}.{m}.{y}"),
        _ => death_date.to_string(),
    };
    format!("получатель социальных услуг умер {shown}: предоставление социальных услуг прекращается")
}

/// The corrections a death plans: the latest IPPSU out of each IPRA in force of the person, per connector.
const DEATH_CORRECTIONS_SQL: &str =
    "INSERT INTO ippsu_sends (connector, follow_up_id, ipra_id, action, reason, status, created_at) \
     SELECT s.connector, s.follow_up_id, s.ipra_id, 'correct', $1, 'pending', $2 \
     FROM ipras i JOIN ippsu_sends s ON s.ipra_id = i.id \
     WHERE i.person_id = $3 AND i.status = 'active' AND s.id = (SELECT MAX(l.id) FROM ippsu_sends l \
     WHERE l.ipra_id = s.ipra_id AND l.connector = s.connector AND l.status IN ('queued', 'sent', 'accepted', 'rejected'))";

/// What the correction says when ZAGS cancelled the act of death that had closed the IPRA.
pub const DEATH_CANCELLED: &str =
    "запись акта о смерти получателя аннулирована: предоставление социальных услуг продолжается";

/// In the transaction that records a person's death (before the IPRAs in force close), or that undoes
/// a cancelled one (after the IPRA is in force again): for each IPRA in force of the person whose IPPSU
/// a connector holds (queued, sent, answered), a correction planned `pending` with `reason` — the
/// `ippsu-outbox` sends a death's even though the IPRA is closed by then. Per person, through the
/// indexes of `ipras (person_id)` and `ippsu_sends (ipra_id)`. Returns the corrections planned.
pub async fn plan_person_corrections(
    conn: &mut sqlx::AnyConnection,
    person_id: i64,
    reason: &str,
    at: &str,
) -> Result<u64> {
    Ok(sqlx::query(DEATH_CORRECTIONS_SQL)
        .bind(reason)
        .bind(at)
        .bind(person_id)
        .execute(&mut *conn)
        .await?
        .rows_affected())
}

/// The statements the register runs outside any page for this exchange, for the plan check
/// (`ipra bench plans`): the corrections a death plans.
pub fn selection_statements() -> Vec<crate::plans::Recorded> {
    use crate::plans::{Arg, Recorded};
    vec![Recorded {
        context: "IPPSU: correction after a death".into(),
        sql: DEATH_CORRECTIONS_SQL.into(),
        args: vec![
            Arg::Text(death_reason("2026-11-20")),
            Arg::Text("2026-11-20T00:00:00Z".into()),
            Arg::Int(1),
        ],
    }]
}

/// Matches a recipient's services with the register: the IPRA (or the IPRA that superseded it), the
/// person, each measure; the execution record each becomes. Any doubt refuses the record.
async fn plan(app: &App, report: &model::PriorReport) -> Result<Vec<Planned>> {
    let Some(document_id) = report.parent_document_id.as_deref().filter(|d| !d.trim().is_empty()) else {
        return Err(refused(
            "IpraDocumentId",
            "не указан идентификатор документа ИПРА: сведения не с чем сверить".into(),
        ));
    };
    let first = sqlx::query("SELECT id, snils FROM ipras WHERE document_id = $1 ORDER BY id DESC LIMIT 1")
        .bind(document_id)
        .fetch_optional(&app.db.pool)
        .await?;
    let Some(first) = first else {
        return Err(refused(
            "IpraDocumentId",
            format!("ИПРА с идентификатором документа «{document_id}» в реестре ИС «Исполнение ИПРА» не найдена"),
        ));
    };
    if digits(&first.try_get::<String, _>("snils")?) != digits(&report.snils) {
        return Err(refused(
            "Snils",
            format!(
                "СНИЛС {} не совпадает со СНИЛС гражданина, которому выдана ИПРА «{document_id}»",
                report.snils
            ),
        ));
    }
    // The IPRA in force: the one given, or the one that superseded it (its measures carry the same keys).
    let mut ipra_id: i64 = first.try_get("id")?;
    let mut row;
    let mut hops = 0;
    loop {
        row = sqlx::query(
            "SELECT i.id, i.number, i.status, i.superseded_by, p.death_date FROM ipras i JOIN persons p ON p.id = i.person_id \
             WHERE i.id = $1",
        )
        .bind(ipra_id)
        .fetch_one(&app.db.pool)
        .await?;
        match row.try_get::<Option<i64>, _>("superseded_by")? {
            Some(next) if row.try_get::<String, _>("status")? == "superseded" && hops < 32 => {
                ipra_id = next;
                hops += 1;
            }
            _ => break,
        }
    }
    let number: String = row.try_get("number")?;
    if let Some(died) = opt_text(&row, "death_date") {
        return Err(refused(
            "Snils",
            format!(
                "гражданин со СНИЛС {} умер ({died}): исполнение не записывается",
                report.snils
            ),
        ));
    }
    if row.try_get::<String, _>("status")? != "active" {
        return Err(refused(
            "IpraDocumentId",
            format!("ИПРА № {number} закрыта: исполнение по ней не записывается"),
        ));
    }
    if report.entries.is_empty() {
        return Err(refused("Service", "в сведениях нет ни одной услуги".into()));
    }
    let organisations = super::directory::directory(&app.db).await?;
    let mut planned = Vec::with_capacity(report.entries.len());
    for entry in &report.entries {
        let key = entry.key.trim();
        let field = |name: &str| format!("Service[@key=\"{key}\"]/{name}");
        let measure = sqlx::query(
            "SELECT id, section, status, name, assigned_ogrn FROM measures WHERE ipra_id = $1 AND measure_key = $2",
        )
        .bind(ipra_id)
        .bind(key)
        .fetch_optional(&app.db.pool)
        .await?;
        let Some(measure) = measure else {
            return Err(refused(
                &field("@key"),
                format!("в ИПРА № {number} нет мероприятия с ключом «{key}»"),
            ));
        };
        let measure_id: i64 = measure.try_get("id")?;
        let section: String = measure.try_get("section")?;
        if section != SECTION {
            return Err(refused(
                &field("@key"),
                format!(
                    "мероприятие «{key}» ИПРА № {number} относится не к социальной защите (раздел «{section}»): \
                     услуги АИС СОН его не исполняют"
                ),
            ));
        }
        let status: String = measure.try_get("status")?;
        if status != "open" {
            return Err(refused(
                &field("@key"),
                format!("мероприятие «{key}» ИПРА № {number} уже закрыто (статус «{status}»)"),
            ));
        }
        // A record already made (by hand, or from an earlier report) is the executor's to change: the
        // report waits for a person rather than making a second one.
        let existing =
            sqlx::query("SELECT id, status FROM execution_records WHERE measure_id = $1 ORDER BY id LIMIT 1")
                .bind(measure_id)
                .fetch_optional(&app.db.pool)
                .await?;
        if let Some(existing) = existing {
            return Err(refused(
                &field("@key"),
                format!(
                    "по мероприятию «{key}» ИПРА № {number} уже есть запись исполнения № {} в статусе «{}»: \
                     сведения не записаны, исполнитель решает сам",
                    existing.try_get::<i64, _>("id")?,
                    execution::status_label(&existing.try_get::<String, _>("status")?)
                ),
            ));
        }
        let provider = entry.executor_ogrn.as_deref().map(str::trim).unwrap_or_default();
        let Some(organisation) = organisations
            .iter()
            .find(|o| o.ogrn == provider && o.department == SECTION)
        else {
            return Err(refused(
                &field("ProviderOgrn"),
                format!(
                    "поставщик социальных услуг с ОГРН «{provider}» не найден среди организаций социальной защиты \
                     справочника: добавьте его или исправьте сведения"
                ),
            ));
        };
        let result = attribute(&entry.extra, "result").unwrap_or_default();
        let reason = attribute(&entry.extra, "reason").map(str::to_string);
        let (outcome, reasons, execution_date) = match result {
            "provided" => (
                "executed",
                Vec::new(),
                entry.date_to.clone().or_else(|| entry.date_from.clone()),
            ),
            "refused" => ("not-executed", vec!["refused".to_string()], None),
            "not-provided" => ("not-executed", vec!["other".to_string()], None),
            other => {
                return Err(refused(
                    &field("Result"),
                    format!("результат «{other}» неизвестен: ожидается provided, refused или not-provided"),
                ))
            }
        };
        if outcome == "not-executed" && reason.is_none() {
            return Err(refused(
                &field("Reason"),
                "не указана причина, по которой услуга не оказана".into(),
            ));
        }
        let name = if entry.name.trim().is_empty() {
            measure.try_get::<String, _>("name")?
        } else {
            entry.name.trim().to_string()
        };
        planned.push(Planned {
            key: key.to_string(),
            measure_id,
            service_result: result.to_string(),
            form: ExecutionForm {
                ipra_id,
                measure_id: Some(measure_id),
                section: SECTION.to_string(),
                // The organisation the measure is assigned to confirms it; else the provider.
                organisation: opt_text(&measure, "assigned_ogrn").unwrap_or_else(|| organisation.ogrn.clone()),
                result: outcome.to_string(),
                measure_name: name,
                executor_ogrn: organisation.ogrn.clone(),
                executor_name: entry.executor_name.clone().or_else(|| Some(organisation.name.clone())),
                clarification: if outcome == "not-executed" { reason } else { None },
                execution_date,
                reasons,
                comment: None,
            },
        });
    }
    Ok(planned)
}

/// The execution records of an IPRA that came from a social-services system, by record id: the
/// document of the report and the service's result as it was reported.
#[derive(Clone, Debug, Serialize)]
pub struct ReportedService {
    pub execution_record_id: i64,
    /// The measure the record executes (an executor's card shows only its own).
    pub measure_id: Option<i64>,
    pub document_id: String,
    pub measure_key: String,
    pub service_result: String,
    pub file_name: String,
    pub applied_at: String,
}

/// What the card shows of the records the services reported back became (by the record's IPRA:
/// a record carried over to a superseding IPRA is found by its own id).
pub async fn reported_services(db: &Db, record_ids: &[i64]) -> Result<Vec<ReportedService>> {
    let mut found = Vec::new();
    for chunk in record_ids.chunks(200) {
        let marks = (1..=chunk.len())
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT execution_record_id, measure_id, document_id, measure_key, service_result, file_name, applied_at \
             FROM social_service_results WHERE execution_record_id IN ({marks}) ORDER BY id"
        );
        crate::plans::record(&sql, chunk.iter().map(|id| crate::plans::Arg::Int(*id)));
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind(*id);
        }
        for row in query.fetch_all(&db.pool).await? {
            found.push(reported_from_row(&row)?);
        }
    }
    Ok(found)
}

fn reported_from_row(row: &sqlx::any::AnyRow) -> Result<ReportedService> {
    Ok(ReportedService {
        execution_record_id: row.try_get("execution_record_id")?,
        measure_id: row.try_get("measure_id")?,
        document_id: row.try_get("document_id")?,
        measure_key: row.try_get("measure_key")?,
        service_result: row.try_get("service_result")?,
        file_name: row.try_get("file_name")?,
        applied_at: row.try_get("applied_at")?,
    })
}

/// The execution records of an IPRA (its own, and those carried over to it from the IPRA it
/// superseded) that came from a social-services system: what the card's API marks them with.
pub async fn reported_on_ipra(db: &Db, ipra_id: i64) -> Result<Vec<ReportedService>> {
    let sql =
        "SELECT r.execution_record_id, e.measure_id, r.document_id, r.measure_key, r.service_result, r.file_name, \
               r.applied_at FROM execution_records e JOIN social_service_results r ON r.execution_record_id = e.id \
               WHERE e.ipra_id = $1 ORDER BY e.id LIMIT 1000";
    crate::plans::record(sql, [crate::plans::Arg::Int(ipra_id)]);
    let rows = sqlx::query(sql).bind(ipra_id).fetch_all(&db.pool).await?;
    rows.iter().map(reported_from_row).collect()
}

/// What a reported service's result is called on the card.
pub fn service_result_label(result: &str) -> &'static str {
    match result {
        "provided" => "услуга оказана",
        "refused" => "отказ от услуги",
        "not-provided" => "услуга не оказана",
        _ => "результат неизвестен",
    }
}

/// One IPPSU sent (or to be sent) for an IPRA, as the card shows it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct IppsuSend {
    pub id: i64,
    pub action: String,
    pub reason: Option<String>,
    pub previous_ipra_id: Option<i64>,
    pub status: String,
    pub document_name: Option<String>,
    pub ippsu_number: Option<String>,
    pub answer_reason: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub answered_at: Option<String>,
}

/// The IPPSU sends of an IPRA, oldest first.
pub async fn ippsu_sends(db: &Db, ipra_id: i64) -> Result<Vec<IppsuSend>> {
    let sql =
        "SELECT id, action, reason, previous_ipra_id, status, document_name, ippsu_number, answer_reason, created_at, \
               sent_at, answered_at FROM ippsu_sends WHERE ipra_id = $1 ORDER BY id LIMIT 200";
    crate::plans::record(sql, [crate::plans::Arg::Int(ipra_id)]);
    let rows = sqlx::query(sql).bind(ipra_id).fetch_all(&db.pool).await?;
    Ok(rows
        .iter()
        .map(<IppsuSend as sqlx::FromRow<_>>::from_row)
        .collect::<std::result::Result<_, _>>()?)
}

/// What a send's status is called on the card.
pub fn ippsu_status_label(status: &str) -> &'static str {
    match status {
        "pending" => "ожидает отправки",
        "queued" => "в очереди на отправку",
        "sent" => "отправлен, ответа нет",
        "accepted" => "принят",
        "rejected" => "отклонён",
        "superseded" => "не отправлен: поступила новая ИПРА",
        _ => "состояние неизвестно",
    }
}

/// Whether `document_name` is an IPPSU this connector sent.
pub async fn is_ippsu_document(db: &Db, connector: &str, document_name: &str) -> Result<bool> {
    Ok(
        sqlx::query("SELECT id FROM ippsu_sends WHERE document_name = $1 AND connector = $2")
            .bind(document_name)
            .bind(connector)
            .fetch_optional(&db.pool)
            .await?
            .is_some(),
    )
}

/// The system's answer on a sent IPPSU: accepted with its number, or rejected with the reason. The
/// same answer again changes nothing; an answer on a document never sent is refused.
pub async fn receive_answer(app: &App, connector: &str, answer: &model::Receipt) -> Result<String> {
    let name = answer.document_name.trim();
    let row = sqlx::query("SELECT id, ipra_id, status, ippsu_number, answer_reason FROM ippsu_sends WHERE document_name = $1 AND connector = $2")
        .bind(name)
        .bind(connector)
        .fetch_optional(&app.db.pool)
        .await?;
    let Some(row) = row else {
        return Err(refusal::invalid(
            "DocumentName",
            format!("ответ на проект ИППСУ «{name}», который не отправлялся: ответ не учтён"),
        ));
    };
    let id: i64 = row.try_get("id")?;
    let ipra_id: i64 = row.try_get("ipra_id")?;
    let status: String = row.try_get("status")?;
    let number = attribute(&answer.extra, "ippsu-number").map(str::to_string);
    let reason = answer.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    let wanted = if answer.accepted { "accepted" } else { "rejected" };
    if status == wanted
        && opt_text(&row, "ippsu_number") == number
        && opt_text(&row, "answer_reason").as_deref() == reason
    {
        return Ok(format!("ответ на проект ИППСУ {name} учтён ранее, ничего не изменено"));
    }
    if !matches!(status.as_str(), "queued" | "sent" | "accepted" | "rejected") {
        return Err(refusal::conflict(format!(
            "ответ на проект ИППСУ «{name}», который ещё не отправлен (состояние «{}»): ответ не учтён",
            ippsu_status_label(&status)
        )));
    }
    if !answer.accepted && reason.is_none() {
        return Err(refusal::invalid(
            "Reason",
            format!("отказ в приёме проекта ИППСУ «{name}» без причины: ответ не учтён"),
        ));
    }
    let at = now();
    sqlx::query(
        "UPDATE ippsu_sends SET status = $1, ippsu_number = $2, answer_reason = $3, answered_at = $4, \
         sent_at = COALESCE(sent_at, $4) WHERE id = $5",
    )
    .bind(wanted)
    .bind(number.as_deref())
    .bind(if answer.accepted { None } else { reason })
    .bind(&at)
    .bind(id)
    .execute(&app.db.pool)
    .await?;
    crate::audit::record(
        &app.db,
        &actor_of(app, connector),
        if answer.accepted {
            "ippsu.accepted"
        } else {
            "ippsu.rejected"
        },
        &format!("ipra:{ipra_id}"),
        Some(name),
    )
    .await?;
    Ok(if answer.accepted {
        format!(
            "проект ИППСУ {name} принят{}",
            number.map(|n| format!(", ИППСУ № {n}")).unwrap_or_default()
        )
    } else {
        format!("проект ИППСУ {name} отклонён: {}", reason.unwrap_or_default())
    })
}
