//! What each kind of job does: FRI inbox import and outbox send, ZAGS death records and checks,
//! EGISSO facts upload, the deadline check, and any plugin's exchange step. Every kind honours
//! dry-run: everything but the final send or commit, with a report of what would have happened.

use super::Outcome;
use crate::app::App;
use crate::exchange::{self, Claimed};
use crate::plugins::answer;
use crate::plugins::runtime::wit;
use crate::register::{deadlines, execution};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use sqlx::Row;

pub async fn execute(app: &App, kind: &str, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    match kind {
        "inbox" => inbox(app, inbox_connector(config)?, dry_run, instance).await,
        // The names the first releases gave the FRI and ZAGS inboxes, kept for stores made by them.
        "fri-inbox" => inbox(app, "fri", dry_run, instance).await,
        "zags-inbox" => inbox(app, "zags", dry_run, instance).await,
        "fri-outbox" => fri_outbox(app, config, dry_run, instance).await,
        "zags-check" => zags_check(app, config, dry_run, instance).await,
        "egisso-upload" => egisso_upload(app, config, dry_run, instance).await,
        "deadline-check" => deadline_check(app).await,
        "plugin-step" => plugin_step(app, config, dry_run, instance).await,
        other => bail!("вид задания «{other}» неизвестен"),
    }
}

fn count(outcome: &mut Outcome, key: &str, n: u64) {
    let current = outcome.counts.get(key).and_then(Value::as_u64).unwrap_or(0);
    outcome.counts.insert(key.into(), json!(current + n));
}

/// The connector whose inbox an `inbox` job reads (`{"connector": "…"}`).
fn inbox_connector(config: &Value) -> Result<&str> {
    config
        .get("connector")
        .and_then(Value::as_str)
        .context("в настройках задания «inbox» нет connector")
}

/// Work items every instance processes between ticks: received messages of every connector whose
/// manifest declares an inbox.
pub async fn process_work(app: &App, instance: &str) -> Result<()> {
    let mut connectors: Vec<String> = super::declared_jobs(app)
        .into_iter()
        .filter(|(_, job)| job.kind == "inbox")
        .filter_map(|(_, job)| inbox_connector(&Value::Object(job.config)).ok().map(str::to_string))
        .collect();
    connectors.sort_unstable();
    connectors.dedup();
    for connector in connectors {
        let mut outcome = Outcome::default();
        process_inbox(app, &connector, instance, &mut outcome).await?;
    }
    Ok(())
}

async fn inbox(app: &App, connector: &str, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let scanned = exchange::scan_inbox(app, connector, "incoming", dry_run).await?;
    count(&mut outcome, "registered", scanned.registered);
    count(&mut outcome, "duplicates", scanned.duplicates);
    outcome.report.extend(scanned.would);
    if dry_run {
        // Validate what is waiting without storing anything.
        let waiting = exchange::messages(app, "received").await?;
        for m in waiting
            .iter()
            .filter(|m| m.connector == connector && m.direction == "in")
        {
            outcome
                .report
                .push(format!("обработать {} (сообщение {})", m.file_name, m.id));
        }
        return Ok(outcome);
    }
    process_inbox(app, connector, instance, &mut outcome).await?;
    Ok(outcome)
}

/// What processing one incoming message gave.
#[derive(Default)]
struct Processed {
    /// Lines for the job report.
    lines: Vec<String>,
    /// Records the connector refused, one line each: kept on the message for the operator.
    refused_records: Vec<String>,
    /// Why the connector refused the whole document: the message fails at once, since trying the
    /// same bytes again would be refused again.
    refused_document: Option<String>,
}

impl From<Vec<String>> for Processed {
    fn from(lines: Vec<String>) -> Processed {
        Processed {
            lines,
            ..Processed::default()
        }
    }
}

async fn process_inbox(app: &App, connector: &str, instance: &str, outcome: &mut Outcome) -> Result<()> {
    while let Some(message) = exchange::claim(app, connector, "in", "received", "processing", instance).await? {
        crate::crashpoint::here("inbox.claimed");
        if message.reclaimed {
            outcome.report.push(format!(
                "{}: взято снова после прерванной обработки (попытка {})",
                message.file_name, message.attempts
            ));
        }
        let result = match connector {
            "fri" => process_fri_message(app, &message).await.map(Processed::from),
            other => process_document(app, other, &message).await,
        };
        crate::crashpoint::here("inbox.applied");
        match result {
            Ok(Processed {
                refused_document: Some(why),
                ..
            }) => {
                // A refusal of the whole document is permanent: it fails at once.
                let error = format!("{}: {why}", message.file_name);
                let cause = anyhow::anyhow!(error.clone());
                exchange::finish(
                    app,
                    &message,
                    exchange::Finish::Failed(&cause, error.clone()),
                    "received",
                )
                .await?;
                exchange::keep_refusals(app, message.id, std::slice::from_ref(&why)).await?;
                count(outcome, "refused", 1);
                outcome.report.push(error);
            }
            Ok(processed) => {
                exchange::finish(app, &message, exchange::Finish::Done("processed"), "received").await?;
                exchange::keep_refusals(app, message.id, &processed.refused_records).await?;
                count(outcome, "processed", 1);
                count(outcome, "records_refused", processed.refused_records.len() as u64);
                outcome.report.extend(processed.lines);
                outcome.report.extend(
                    processed
                        .refused_records
                        .iter()
                        .map(|r| format!("{}: не принято: {r}", message.file_name)),
                );
            }
            Err(e) => {
                let error = format!("{}: {}", message.file_name, crate::db::storage::explain(&e));
                exchange::finish(app, &message, exchange::Finish::Failed(&e, error.clone()), "received").await?;
                count(outcome, "failed", 1);
                outcome.errors.push(error);
            }
        }
    }
    Ok(())
}

/// A receipt of FRI on a sent report (see README, «Квитанции ФРИ»).
fn parse_receipt(bytes: &[u8]) -> Option<(String, bool, Option<String>)> {
    let text = std::str::from_utf8(bytes).ok()?;
    if !text.contains("urn:ipra:fri-receipt:1.0") {
        return None;
    }
    let attr = |name: &str| -> Option<String> {
        let start = text.find(&format!("{name}=\""))? + name.len() + 2;
        let end = text[start..].find('"')? + start;
        Some(text[start..end].to_string())
    };
    let reason = text.find("<Reason>").and_then(|s| {
        let start = s + "<Reason>".len();
        text[start..]
            .find("</Reason>")
            .map(|e| text[start..start + e].to_string())
    });
    Some((attr("document")?, attr("status")? == "accepted", reason))
}

async fn process_fri_message(app: &App, message: &Claimed) -> Result<Vec<String>> {
    if let Some((document, accepted, reason)) = parse_receipt(&message.payload) {
        let report = sqlx::query(
            "SELECT id, status FROM reports WHERE document_name = $1 AND status IN ('sent', 'accepted', 'rejected')",
        )
        .bind(&document)
        .fetch_optional(&app.db.pool)
        .await?
        .with_context(|| format!("квитанция на неизвестный или не отправленный отчёт {document}"))?;
        let report_id: i64 = report.try_get("id")?;
        let status: String = report.try_get("status")?;
        if status != "sent" {
            // The same receipt again (delivered twice, or processed before an instance stopped).
            return Ok(vec![format!("отчёт {report_id}: квитанция уже учтена ({status})")]);
        }
        execution::record_answer(app, report_id, accepted, reason.as_deref(), "ФРИ").await?;
        return Ok(vec![format!(
            "отчёт {report_id}: {}",
            if accepted { "принят" } else { "отклонён" }
        )]);
    }
    let input = crate::register::import::InputFile::from_bytes(&message.file_name, message.payload.clone());
    let mut opts = crate::register::import::ImportOptions::new("inbox", false);
    opts.quarantine_dir = Some(app.quarantine_dir());
    let report = crate::register::import::run(&app.db, &app.plugins, &app.reference(), vec![input], &opts).await?;
    if let Some(r) = report.rejected.first() {
        bail!(
            "выписка отклонена: {} ({})",
            r.message,
            r.field.as_deref().unwrap_or("—")
        );
    }
    Ok(vec![format!(
        "{}: загружено {}, без изменений {}",
        message.file_name, report.imported, report.unchanged
    )])
}

/// Signed reports → outbox (document + detached signature) → sent.
async fn fri_outbox(app: &App, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let signed = execution::reports(app, "signed").await?;
    for report in &signed {
        if dry_run {
            outcome
                .report
                .push(format!("отправить отчёт {} ({})", report.id, report.document_name));
            continue;
        }
        let (name, document, signature) = execution::report_document(app, report.id)
            .await?
            .context("отчёт не найден")?;
        let Some(signature) = signature else {
            outcome
                .errors
                .push(format!("отчёт {} без подписи не отправляется", report.id));
            continue;
        };
        let message = exchange::queue_outgoing(
            app,
            "fri",
            "report",
            &name,
            &document,
            Some(&signature),
            Some(report.id),
        )
        .await?;
        // Sent before an instance stopped, the report not yet marked: mark it now.
        let status: String = sqlx::query("SELECT status FROM exchange_messages WHERE id = $1")
            .bind(message)
            .fetch_one(&app.db.pool)
            .await?
            .try_get("status")?;
        if status == "sent" {
            execution::mark_sent(app, report.id, instance).await?;
            outcome.report.push(format!(
                "отчёт {}: отправлен до остановки, отмечен отправленным",
                report.id
            ));
        }
    }
    count(&mut outcome, "queued", if dry_run { 0 } else { signed.len() as u64 });
    if !dry_run {
        send_outbox(app, "fri", config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn send_outbox(app: &App, connector: &str, config: &Value, instance: &str, outcome: &mut Outcome) -> Result<()> {
    let folders = exchange::folders(app, connector)?;
    let url = config.get("upload_url").and_then(Value::as_str).map(str::to_string);
    while let Some(message) = exchange::claim(app, connector, "out", "queued", "sending", instance).await? {
        if message.reclaimed {
            outcome.report.push(format!(
                "{}: отправляется снова после прерванной отправки (попытка {})",
                message.file_name, message.attempts
            ));
        }
        let delivered = exchange::deliver(&folders.outbox, url.as_deref(), &message);
        match delivered {
            Ok(()) => {
                crate::crashpoint::here("outbox.delivered");
                exchange::finish_sent(app, connector, &message).await?;
                crate::crashpoint::here("outbox.logged");
                if let Some(report_id) = message.report_id {
                    execution::mark_sent(app, report_id, instance).await?;
                }
                count(outcome, "sent", 1);
                outcome.report.push(format!("отправлено {}", message.file_name));
            }
            Err(e) => {
                let error = format!("{}: {}", message.file_name, crate::db::storage::explain(&e));
                exchange::finish(app, &message, exchange::Finish::Failed(&e, error.clone()), "queued").await?;
                count(outcome, "failed", 1);
                outcome.errors.push(error);
            }
        }
    }
    Ok(())
}

fn enabled_plugin(app: &App, id: &str) -> Result<std::sync::Arc<crate::plugins::LoadedPlugin>> {
    app.plugins
        .get(id)
        .filter(|p| app.plugins.is_enabled(p))
        .with_context(|| format!("плагин «{id}» не установлен или отключён"))
}

/// A refusal of the connector in one line: its message, and the field when the message does not say it.
fn refusal_line(error: &wit::PluginError) -> String {
    match error.field.as_deref().filter(|f| !error.message.contains(*f)) {
        Some(field) => format!("{} (поле «{field}», код {})", error.message, error.code),
        None => format!("{} (код {})", error.message, error.code),
    }
}

/// The media type of an incoming file, by its extension.
fn media_type(file_name: &str) -> &'static str {
    let lower = file_name.to_ascii_lowercase();
    if lower.ends_with(".xml") {
        "application/xml"
    } else if lower.ends_with(".csv") {
        "text/csv"
    } else if lower.ends_with(".json") {
        "application/json"
    } else {
        "application/octet-stream"
    }
}

/// One incoming document of a connector: its `import` hook reads it, and each record it gives is
/// applied by its kind through the register (a death record goes to the register of deaths, where a
/// doubtful one waits for a person); a record of a kind this path does not take is listed, not lost.
async fn process_document(app: &App, connector: &str, message: &Claimed) -> Result<Processed> {
    let plugin = enabled_plugin(app, connector)?;
    let input = wit::ImportInput::Document(crate::plugins::incoming_document(
        message.file_name.clone(),
        media_type(&message.file_name),
        message.payload.clone(),
    ));
    let output = match app
        .plugins
        .call_async(plugin, move |host, p| host.import(p, &input))
        .await
    {
        // The connector refused the document as a whole (its format, its version): typed, final.
        Ok(Err(refusal)) => {
            return Ok(Processed {
                refused_document: Some(refusal_line(&refusal)),
                ..Processed::default()
            })
        }
        other => answer(other)?,
    };
    let mut processed = Processed::default();
    for record in output.records {
        match record.outcome {
            Ok(wit::Normalized::Death(death)) => processed
                .lines
                .push(crate::register::deaths::receive(app, &death).await?),
            Ok(wit::Normalized::Skipped(text)) => processed.lines.push(text),
            Ok(_) => processed.lines.push(format!(
                "{}: запись этого вида из входящего сообщения не принимается (выписки ИПРА — через импорт)",
                record.locator
            )),
            Err(e) => {
                let line = refusal_line(&e);
                processed.refused_records.push(if line.starts_with(&record.locator) {
                    line
                } else {
                    format!("{}: {line}", record.locator)
                });
            }
        }
    }
    Ok(processed)
}

/// Plans requests to ZAGS for persons with an IPRA in force not checked in `recheck_days`.
async fn zags_check(app: &App, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let plugin = enabled_plugin(app, "zags")?;
    let recheck_days = config.get("recheck_days").and_then(Value::as_i64).unwrap_or(30);
    let limit = config
        .get("batch")
        .and_then(Value::as_i64)
        .unwrap_or(500)
        .clamp(1, 10_000);
    let threshold = (crate::clock::now() - time::Duration::days(recheck_days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender FROM persons p \
         JOIN ipras i ON i.person_id = p.id AND i.status = 'active' \
         WHERE p.death_date IS NULL AND (p.zags_checked_at IS NULL OR p.zags_checked_at < $1) ORDER BY p.snils LIMIT {limit}"
    ))
    .bind(&threshold)
    .fetch_all(&app.db.pool)
    .await?;
    let persons: Vec<wit::Person> = rows
        .iter()
        .map(|r| -> Result<wit::Person> {
            Ok(wit::Person {
                snils: r.try_get("snils")?,
                surname: r.try_get("surname")?,
                given_name: r.try_get("given_name")?,
                patronymic: crate::db::opt_text(r, "patronymic"),
                birth_date: crate::db::opt_text(r, "birth_date"),
                gender: crate::db::opt_text(r, "gender"),
                territory_code: None,
                address: None,
                extra: Vec::new(),
            })
        })
        .collect::<Result<_>>()?;
    count(&mut outcome, "persons", persons.len() as u64);
    if persons.is_empty() {
        return Ok(outcome);
    }
    let snils: Vec<String> = persons.iter().map(|p| p.snils.clone()).collect();
    let input = wit::ExecuteInput::Plan(wit::PlanInput {
        step: "zags-check".into(),
        persons,
        today: deadlines::format_date(deadlines::today()),
        extra: Vec::new(),
    });
    let planned = answer(
        app.plugins
            .call_async(plugin, move |host, p| host.execute(p, &input))
            .await,
    )?;
    outcome.errors.extend(
        planned
            .errors
            .iter()
            .map(|e| format!("{} ({})", e.message, e.record.clone().unwrap_or_default())),
    );
    for follow_up in &planned.follow_ups {
        let Some(doc) = &follow_up.document else { continue };
        if dry_run {
            outcome.report.push(format!("запросить ЗАГС: {}", doc.name));
            continue;
        }
        exchange::queue_outgoing(app, "zags", "request", &doc.name, &doc.bytes, None, None).await?;
    }
    count(&mut outcome, "requests", planned.follow_ups.len() as u64);
    if !dry_run {
        for s in &snils {
            sqlx::query("UPDATE persons SET zags_checked_at = $1 WHERE snils = $2")
                .bind(crate::db::now())
                .bind(s)
                .execute(&app.db.pool)
                .await?;
        }
        send_outbox(app, "zags", config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}

/// Facts of assignment for executed social-protection records with a mapped measure type.
async fn egisso_upload(app: &App, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let batch = crate::register::egisso::pending_facts(app).await?;
    count(&mut outcome, "facts", batch.facts.len() as u64);
    if batch.facts.is_empty() {
        return Ok(outcome);
    }
    let plugin = enabled_plugin(app, "egisso")?;
    let ids = batch.execution_ids.clone();
    let input = wit::ExportInput::Facts(batch.batch);
    let docs = match app
        .plugins
        .call_async(plugin, move |host, p| host.export(p, &input))
        .await
    {
        Ok(Ok(docs)) => docs,
        Ok(Err(e)) => {
            outcome.errors.push(format!(
                "{} (факт {}, поле {})",
                e.message,
                e.record.unwrap_or_default(),
                e.field.unwrap_or_default()
            ));
            return Ok(outcome);
        }
        Err(call) => bail!("{call}"),
    };
    if dry_run {
        outcome
            .report
            .extend(docs.iter().map(|d| format!("выгрузить в ЕГИССО {}", d.name)));
        return Ok(outcome);
    }
    for doc in &docs {
        let message = exchange::queue_outgoing(app, "egisso", "facts", &doc.name, &doc.bytes, None, None).await?;
        crate::register::egisso::mark_queued(app, &ids, message).await?;
    }
    send_outbox(app, "egisso", config, instance, &mut outcome).await?;
    Ok(outcome)
}

async fn deadline_check(app: &App) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let overdue = deadlines::check_overdue(&app.db, &app.facts, &deadlines::format_date(deadlines::today())).await?;
    count(&mut outcome, "overdue_measures", overdue.measures as u64);
    count(&mut outcome, "overdue_reports", overdue.reports as u64);
    for (section, n) in overdue.by_section {
        outcome.report.push(format!("{section}: просрочено {n}"));
    }
    Ok(outcome)
}

/// Any connector's exchange step: `{"plugin": "...", "step": "..."}`; its request documents are
/// queued in that connector's outbox and sent.
async fn plugin_step(app: &App, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let id = config
        .get("plugin")
        .and_then(Value::as_str)
        .context("в настройках задания нет plugin")?;
    let step = config
        .get("step")
        .and_then(Value::as_str)
        .context("в настройках задания нет step")?;
    let plugin = enabled_plugin(app, id)?;
    let input = wit::ExecuteInput::Plan(wit::PlanInput {
        step: step.into(),
        persons: Vec::new(),
        today: deadlines::format_date(deadlines::today()),
        extra: Vec::new(),
    });
    let planned = answer(
        app.plugins
            .call_async(plugin, move |host, p| host.execute(p, &input))
            .await,
    )?;
    for follow_up in &planned.follow_ups {
        let Some(doc) = &follow_up.document else { continue };
        if dry_run {
            outcome.report.push(format!("отправить {}", doc.name));
        } else {
            exchange::queue_outgoing(app, id, "request", &doc.name, &doc.bytes, None, None).await?;
        }
    }
    if !dry_run {
        send_outbox(app, id, config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}
