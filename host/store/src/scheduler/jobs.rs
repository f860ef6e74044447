//! What each kind of job does. The kinds are the host's and generic; which connector a job serves
//! is in its settings (`{"connector": "…"}`), as the connector's manifest declares the job:
//! - `inbox`: documents arriving in a connector's inbox go the one way in (`register::intake`);
//! - `report-outbox`: signed execution reports are packaged by the connector and sent;
//! - `person-check`: persons with an IPRA in force not checked lately are planned into request
//!   documents by the connector's step (`step`) and sent;
//! - `facts-upload`: facts of assignment ready for upload are exported by the connector and sent;
//! - `request-outbox`: requests departments raised (TSR clarifications) are written by the connector
//!   and sent with their printed forms (`outgoing`);
//! - `status-export`: the execution status of IPRAs changed since the last run is written by the
//!   connector, one document per issuing institution, and sent (`outgoing`);
//! - `ippsu-outbox`: the IPPSU drafts of the social-protection department are written by the
//!   connector, created once per IPRA and corrected on a superseding IPRA or a reassigned measure,
//!   and sent (`ippsu`);
//! - `recipients-export`: the register of social-service recipients changed since the last run is
//!   written by the connector in packages and sent (`recipients`);
//! - `plugin-step`: any step a plugin plans on its own;
//! - `deadline-check`: the host's own check of deadlines.
//!
//! Every kind honours dry-run: everything but the final send or commit, with a report of what
//! would have happened.

use super::Outcome;
use crate::app::App;
use crate::exchange::{self, Claimed};
use crate::plugins::answer;
use crate::plugins::model;
use crate::register::import::{ImportOptions, InputFile, Rejection};
use crate::register::intake;
use crate::register::{deadlines, execution};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

pub async fn execute(app: &App, kind: &str, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    match kind {
        "inbox" => inbox(app, connector_of(config)?, dry_run, instance).await,
        "report-outbox" => report_outbox(app, connector_of(config)?, config, dry_run, instance).await,
        "person-check" => person_check(app, connector_of(config)?, config, dry_run, instance).await,
        "facts-upload" => facts_upload(app, connector_of(config)?, config, dry_run, instance).await,
        "request-outbox" => {
            super::outgoing::request_outbox(app, connector_of(config)?, config, dry_run, instance).await
        }
        "status-export" => super::outgoing::status_export(app, connector_of(config)?, config, dry_run, instance).await,
        "ippsu-outbox" => super::ippsu::ippsu_outbox(app, connector_of(config)?, config, dry_run, instance).await,
        "recipients-export" => {
            super::recipients::recipients_export(app, connector_of(config)?, config, dry_run, instance).await
        }
        "deadline-check" => deadline_check(app).await,
        "plugin-step" => plugin_step(app, config, dry_run, instance).await,
        other => bail!("вид задания «{other}» неизвестен"),
    }
}

/// A connector's refusal as a run's error line: the record and the field it names, in Russian.
pub(super) fn plugin_error(e: &model::PluginError) -> String {
    let mut text = e.message.clone();
    if let Some(record) = e.record.as_deref().filter(|r| !e.message.contains(*r)) {
        text = format!("{record}: {text}");
    }
    if let Some(field) = e.field.as_deref() {
        text.push_str(&format!(" (поле «{field}», код {})", e.code));
    }
    text
}

pub(super) fn count(outcome: &mut Outcome, key: &str, n: u64) {
    let current = outcome.counts.get(key).and_then(Value::as_u64).unwrap_or(0);
    outcome.counts.insert(key.into(), json!(current + n));
}

/// The connector a job serves (`{"connector": "…"}`).
fn connector_of(config: &Value) -> Result<&str> {
    config
        .get("connector")
        .and_then(Value::as_str)
        .context("в настройках задания нет connector (коннектор, которому оно служит)")
}

/// Work items every instance processes between ticks: received messages of every connector whose
/// manifest declares an inbox.
pub async fn process_work(app: &App, instance: &str) -> Result<()> {
    let mut connectors: Vec<String> = super::declared_jobs(app)
        .into_iter()
        .filter(|(_, job)| job.kind == "inbox")
        .filter_map(|(_, job)| connector_of(&Value::Object(job.config)).ok().map(str::to_string))
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
    /// Why the job stops here: a plugin whose policy is `stop-job` failed on this message. The
    /// messages after it wait, untouched, for the next run.
    stop: Option<String>,
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
        let result = process_message(app, connector, &message).await;
        crate::crashpoint::here("inbox.applied");
        let stop = result.as_ref().ok().and_then(|p| p.stop.clone());
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
        if let Some(why) = stop {
            // The plugin's policy stops the job: the messages after this one wait for the next run.
            outcome.errors.push(why);
            break;
        }
    }
    Ok(())
}

/// One incoming message through the one way in: its connector reads it, the register keeps or
/// applies what it holds. A document refused as a whole fails at once (the same bytes would be
/// refused again); refused records of a document whose other records were applied stay on it.
async fn process_message(app: &App, connector: &str, message: &Claimed) -> Result<Processed> {
    let input = InputFile::from_bytes(&message.file_name, message.payload.clone());
    let mut opts = ImportOptions::new("inbox", false);
    opts.connector = connector.to_string();
    opts.quarantine = Some(exchange::files::QuarantineFolder::shared(app.quarantine_dir()));
    let report = intake::run(app, vec![input], &opts).await?;
    let refusals: Vec<String> = report.rejected.iter().map(refusal_line).collect();
    let mut processed = Processed {
        stop: report.stopped.clone(),
        ..Processed::default()
    };
    if report.rejected_files > 0 {
        processed.refused_document = Some(refusals.join("; "));
        return Ok(processed);
    }
    processed.refused_records = refusals;
    if report.imported + report.unchanged > 0 {
        processed.lines.push(format!(
            "{}: загружено {}, без изменений {}",
            message.file_name, report.imported, report.unchanged
        ));
    }
    processed.lines.extend(report.applied);
    Ok(processed)
}

/// A refusal in one line: where, what, and the field when the message does not say it.
fn refusal_line(r: &Rejection) -> String {
    let place = match r.record.as_deref() {
        Some(record) if !r.message.starts_with(record) => format!("{record}: "),
        _ => String::new(),
    };
    match r.field.as_deref().filter(|f| !r.message.contains(*f)) {
        Some(field) => format!("{place}{} (поле «{field}», код {})", r.message, r.code),
        None => format!("{place}{} (код {})", r.message, r.code),
    }
}

/// Signed reports → the connector's outbox (document + detached signature) → sent.
async fn report_outbox(app: &App, connector: &str, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
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
            connector,
            "report",
            &name,
            &document,
            Some(&signature),
            Some(report.id),
        )
        .await?;
        // Sent before an instance stopped, the report not yet marked: mark it now.
        let sent = exchange::message(&app.db, message)
            .await?
            .is_some_and(|m| m.status == "sent");
        if sent {
            execution::mark_sent(app, report.id, instance).await?;
            outcome.report.push(format!(
                "отчёт {}: отправлен до остановки, отмечен отправленным",
                report.id
            ));
        }
    }
    count(&mut outcome, "queued", if dry_run { 0 } else { signed.len() as u64 });
    if !dry_run {
        send_outbox(app, connector, config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}

pub(super) async fn send_outbox(
    app: &App,
    connector: &str,
    config: &Value,
    instance: &str,
    outcome: &mut Outcome,
) -> Result<()> {
    let folders = exchange::folders(app, connector)?;
    // The administrator's file fixes the address for every instance; else the job's own setting.
    let url = crate::config::current()
        .upload_url(connector)
        .or_else(|| config.get("upload_url").and_then(Value::as_str).map(str::to_string));
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

pub(super) fn enabled_plugin(app: &App, id: &str) -> Result<std::sync::Arc<crate::plugins::LoadedPlugin>> {
    app.plugins
        .get(id)
        .filter(|p| app.plugins.is_enabled(p))
        .with_context(|| format!("плагин «{id}» не установлен или отключён"))
}

/// Plans requests of the connector's `step` for persons with an IPRA in force not checked in
/// `recheck_days` (a civil registry's check of deaths, for one).
async fn person_check(app: &App, connector: &str, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let plugin = enabled_plugin(app, connector)?;
    let step = config
        .get("step")
        .and_then(Value::as_str)
        .context("в настройках задания нет step (шаг коннектора)")?
        .to_string();
    let recheck_days = config.get("recheck_days").and_then(Value::as_i64).unwrap_or(30);
    let limit = config
        .get("batch")
        .and_then(Value::as_i64)
        .unwrap_or(500)
        .clamp(1, 10_000);
    let persons = crate::register::deaths::persons_to_check(&app.db, recheck_days, limit).await?;
    count(&mut outcome, "persons", persons.len() as u64);
    if persons.is_empty() {
        return Ok(outcome);
    }
    let snils: Vec<String> = persons.iter().map(|p| p.snils.clone()).collect();
    let input = model::ExecuteInput::Plan(model::PlanInput {
        step,
        persons,
        today: deadlines::format_date(deadlines::today()),
        extra: Vec::new(),
    });
    let planned = answer(
        app.plugins
            .call_async(plugin, move |host, p| host.execute(p, input))
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
            outcome.report.push(format!("отправить запрос {}", doc.name));
            continue;
        }
        exchange::queue_outgoing(app, connector, "request", &doc.name, &doc.bytes, None, None).await?;
    }
    count(&mut outcome, "requests", planned.follow_ups.len() as u64);
    if !dry_run {
        crate::register::deaths::mark_checked(&app.db, &snils).await?;
        send_outbox(app, connector, config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}

/// Facts of assignment for executed social-protection records with a mapped measure type, and the
/// changes of facts EGISSO holds (corrections, terminations on a death, invalidations), exported by the
/// connector in one package, queued with the facts' state in one transaction, and sent. Dry: the
/// package is written and checked, nothing is stored or sent.
async fn facts_upload(app: &App, connector: &str, config: &Value, dry_run: bool, instance: &str) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let plugin = enabled_plugin(app, connector)?;
    if !dry_run {
        // Packages delivered before an instance stopped, their facts not yet marked.
        crate::register::egisso::reconcile_sent(app).await?;
    }
    let upload = crate::register::egisso::upload(app, &plugin, connector, dry_run).await?;
    count(&mut outcome, "facts", upload.facts);
    for (key, n) in [
        ("corrections", upload.corrections),
        ("terminations", upload.terminations),
        ("invalidations", upload.invalidations),
        ("refused", upload.refused),
        ("settled", upload.settled),
    ] {
        if n > 0 {
            count(&mut outcome, key, n);
        }
    }
    outcome.report.extend(upload.lines);
    if !dry_run {
        send_outbox(app, connector, config, instance, &mut outcome).await?;
        crate::register::egisso::reconcile_sent(app).await?;
    }
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
    let input = model::ExecuteInput::Plan(model::PlanInput {
        step: step.into(),
        persons: Vec::new(),
        today: deadlines::format_date(deadlines::today()),
        extra: Vec::new(),
    });
    let planned = answer(
        app.plugins
            .call_async(plugin, move |host, p| host.execute(p, input))
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
