//! Two exchange jobs that send what the register holds through a connector's outbox:
//! - `request-outbox`: the requests departments raised (TSR clarification requests, follow-up kind in the
//!   job's `follow_up`) are written by the connector's `step` and queued with their printed forms; a request
//!   is `sent` once the transport delivered its document;
//! - `status-export`: the execution status of the IPRAs that changed since the last run, one document per
//!   issuing institution and batch, written by the connector's `step`; the cursor moves on after each batch
//!   is queued, and every IPRA sent is logged as a read of personal data.
//!
//! Both honour dry-run: what would be written is said, nothing is queued, sent or moved.

use super::jobs::{count, enabled_plugin, plugin_error, send_outbox};
use super::Outcome;
use crate::app::App;
use crate::exchange;
use crate::plugins::model;
use crate::register::{clarification, deadlines, mart};
use anyhow::{bail, Result};
use serde_json::Value;

fn setting<'a>(config: &'a Value, key: &str, default: &'a str) -> &'a str {
    config.get(key).and_then(Value::as_str).unwrap_or(default)
}

/// Raised requests → the connector's documents (+ printed form) → the outbox → sent.
pub async fn request_outbox(
    app: &App,
    connector: &str,
    config: &Value,
    dry_run: bool,
    instance: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let kind = setting(config, "follow_up", clarification::KIND);
    if kind != clarification::KIND {
        bail!(
            "поручения вида «{kind}» сервер отправлять не умеет (умеет «{}»)",
            clarification::KIND
        );
    }
    let step = setting(config, "step", clarification::KIND).to_string();
    let actor = app
        .plugins
        .get(connector)
        .map(|p| p.info.name.clone())
        .unwrap_or_else(|| connector.to_string());
    if !dry_run {
        // Delivered by a run that stopped before it could say so.
        count(
            &mut outcome,
            "sent_before",
            clarification::mark_delivered(app, &actor).await?,
        );
    }
    let waiting = clarification::outgoing(app, &step, 500).await?;
    count(&mut outcome, "requests", waiting.len() as u64);
    if !waiting.is_empty() {
        let plugin = enabled_plugin(app, connector)?;
        for request in waiting {
            let input = model::ExportInput::Requests(request.plan);
            let plugin = plugin.clone();
            let docs = match app
                .plugins
                .call_async(plugin, move |host, p| host.export(p, input))
                .await
            {
                Ok(Ok(docs)) => docs,
                Ok(Err(e)) => {
                    outcome.errors.push(format!(
                        "запрос на уточнение ТСР № {} не сформирован: {}",
                        request.id,
                        plugin_error(&e)
                    ));
                    continue;
                }
                Err(call) => {
                    outcome
                        .errors
                        .push(format!("запрос на уточнение ТСР № {}: {call}", request.id));
                    continue;
                }
            };
            let Some(document) = docs.first() else {
                outcome.errors.push(format!(
                    "запрос на уточнение ТСР № {}: коннектор не вернул документа",
                    request.id
                ));
                continue;
            };
            let pdf_name = match document.name.strip_suffix(".xml") {
                Some(stem) => format!("{stem}.pdf"),
                None => format!("{}.pdf", document.name),
            };
            if dry_run {
                outcome.report.push(format!(
                    "отправить запрос на уточнение ТСР № {} (ИПРА {}): {}{}",
                    request.id,
                    request.ipra_id,
                    document.name,
                    if request.printed.is_some() {
                        format!(" и печатную форму {pdf_name}")
                    } else {
                        String::new()
                    }
                ));
                continue;
            }
            // The printed form, the request and the mark that it is queued: one transaction, so that a run
            // stopped anywhere between them queues either all of it or nothing (the next run writes it again,
            // perhaps on another day: never a second document for the same request).
            let mut tx = app.db.pool.begin().await?;
            // The printed form first: the adapter finds it beside the request when the request arrives.
            if let Some(pdf) = &request.printed {
                exchange::queue_outgoing_in(&mut tx, connector, "request", &pdf_name, pdf).await?;
            }
            let message =
                exchange::queue_outgoing_in(&mut tx, connector, "request", &document.name, &document.bytes).await?;
            crate::crashpoint::here("mse.request.queued");
            if !clarification::mark_queued(&mut tx, request.id, request.revision, &document.name, message).await? {
                // Changed or withdrawn while it was being written: what was written is not sent.
                tx.rollback().await?;
                outcome.report.push(format!(
                    "запрос на уточнение ТСР № {} изменён или отозван во время отправки: не отправлен",
                    request.id
                ));
                continue;
            }
            tx.commit().await?;
            count(&mut outcome, "queued", 1);
            outcome.report.push(format!(
                "запрос на уточнение ТСР № {} (ИПРА {}): {}",
                request.id, request.ipra_id, document.name
            ));
        }
    }
    if !dry_run {
        send_outbox(app, connector, config, instance, &mut outcome).await?;
        count(
            &mut outcome,
            "delivered",
            clarification::mark_delivered(app, &actor).await?,
        );
    }
    Ok(outcome)
}

/// The execution status of changed IPRAs → one document per issuing institution and batch → sent.
pub async fn status_export(
    app: &App,
    connector: &str,
    config: &Value,
    dry_run: bool,
    instance: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let step = setting(config, "step", "execution-status").to_string();
    let batch = config
        .get("batch")
        .and_then(Value::as_i64)
        .unwrap_or(1000)
        .clamp(1, 10_000);
    // A run ends after this many IPRAs; the next run goes on from there.
    let most = config
        .get("max_per_run")
        .and_then(Value::as_i64)
        .unwrap_or(200_000)
        .max(batch);
    let plugin = enabled_plugin(app, connector)?;
    let actor = format!("exchange:{connector}");
    let today = deadlines::format_date(deadlines::today());
    let mut from = mart::cursor(&app.db, connector).await?;
    let mut exported = 0i64;
    loop {
        let (ids, next) = mart::changed(&app.db, &from, batch).await?;
        if ids.is_empty() {
            break;
        }
        let statuses = mart::statuses(&app.db, &ids).await?;
        // One document per institution (and per `batch` of its IPRAs); an IPRA without one has nobody to go to.
        let mut by_issuer: std::collections::BTreeMap<String, Vec<mart::IpraStatus>> = Default::default();
        for status in statuses {
            match status.issued_by.clone() {
                Some(issuer) => by_issuer.entry(issuer).or_default().push(status),
                None => count(&mut outcome, "without_issuer", 1),
            }
        }
        let mut sent: Vec<(i64, String)> = Vec::new();
        let mut documents = Vec::new();
        for (issuer, ipras) in by_issuer {
            for (n, part) in ipras.chunks(batch as usize).enumerate() {
                let package = format!(
                    "{connector}:{issuer}:{}:{}:{}:{n}",
                    from.ipra_received, from.ipra_id, from.event_id
                );
                let input = model::ExportInput::Requests(model::PlanInput {
                    step: step.clone(),
                    persons: part.iter().map(|s| s.person.clone()).collect(),
                    today: today.clone(),
                    extra: vec![
                        model::Attribute {
                            code: "package".into(),
                            value: package,
                        },
                        model::Attribute {
                            code: "issuer".into(),
                            value: issuer.clone(),
                        },
                    ],
                });
                let docs = match app
                    .plugins
                    .call_async(plugin.clone(), move |host, p| host.export(p, input))
                    .await
                {
                    Ok(Ok(docs)) => docs,
                    Ok(Err(e)) => {
                        // The cursor stays: the same IPRAs are tried again once the data or the plugin is mended.
                        outcome
                            .errors
                            .push(format!("выгрузка для «{issuer}» не сформирована: {}", plugin_error(&e)));
                        return Ok(outcome);
                    }
                    Err(call) => bail!("{call}"),
                };
                for doc in docs {
                    if dry_run {
                        outcome
                            .report
                            .push(format!("выгрузить {} ({} ИПРА, «{issuer}»)", doc.name, part.len()));
                    } else {
                        sent.extend(part.iter().map(|s| (s.id, doc.name.clone())));
                    }
                    documents.push((doc, part.len()));
                }
            }
        }
        exported += ids.len() as i64;
        count(&mut outcome, "ipras", ids.len() as u64);
        if dry_run {
            // Nothing moves: what follows the first batch is said as a count.
            count(&mut outcome, "documents", documents.len() as u64);
            break;
        }
        for (doc, ipras) in &documents {
            exchange::queue_outgoing(app, connector, "execution-status", &doc.name, &doc.bytes, None, None).await?;
            outcome
                .report
                .push(format!("выгрузка {} ({ipras} ИПРА) поставлена в очередь", doc.name));
        }
        count(&mut outcome, "documents", documents.len() as u64);
        mart::advance(&app.db, connector, &next, &sent, &actor).await?;
        from = next;
        if exported >= most {
            outcome
                .report
                .push(format!("выгружено {exported} ИПРА: остальное — в следующий запуск"));
            break;
        }
    }
    if !dry_run {
        send_outbox(app, connector, config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}
