//! The `recipients-export` job: the register of social-service recipients sent through a connector's
//! outbox — the recipients added or changed since the connector's cursor (`register::recipients`), in
//! packages of `batch` persons written by the connector's `step` (`recipients`), each package queued with
//! its cursor move, its persons marked sent and each person's read logged in one transaction, then the
//! outbox sent. A dry run says what would go and moves nothing.

use super::jobs::{count, enabled_plugin, plugin_error, send_outbox};
use super::Outcome;
use crate::app::App;
use crate::plugins::model;
use crate::register::{deadlines, recipients};
use anyhow::{bail, Result};
use serde_json::Value;

/// Changed recipients → packages of the connector's step → the outbox → sent.
pub async fn recipients_export(
    app: &App,
    connector: &str,
    config: &Value,
    dry_run: bool,
    instance: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let step = config
        .get("step")
        .and_then(Value::as_str)
        .unwrap_or("recipients")
        .to_string();
    let batch = config
        .get("batch")
        .and_then(Value::as_i64)
        .unwrap_or(1000)
        .clamp(1, 10_000);
    // A run ends after this many persons; the next run goes on from there.
    let most = config
        .get("max_per_run")
        .and_then(Value::as_i64)
        .unwrap_or(200_000)
        .max(batch);
    let region = config.get("region").and_then(Value::as_str).map(str::to_string);
    let plugin = enabled_plugin(app, connector)?;
    let actor = format!("exchange:{connector}");
    let today = deadlines::format_date(deadlines::today());
    let mut from = recipients::cursor(&app.db, connector).await?;
    let mut exported = 0i64;
    let mut done: std::collections::HashSet<i64> = Default::default();
    loop {
        let (persons, next) = recipients::changed(&app.db, from, batch).await?;
        if persons.is_empty() {
            break;
        }
        // A person changed twice since the cursor goes once a run, as the register holds it now.
        let persons: Vec<i64> = persons.into_iter().filter(|p| done.insert(*p)).collect();
        let people = recipients::export_persons(&app.db, &persons).await?;
        if people.is_empty() {
            // Changes of persons no longer in the register: nothing to write, the cursor passes them.
            if dry_run {
                break;
            }
            recipients::record_package(&app.db, connector, next, &[], &[], &actor).await?;
            from = next;
            continue;
        }
        // The package is named by the stretch of the journal it covers: the same stretch, the same name.
        let package = format!("{}-{next}", from + 1);
        let mut extra = vec![model::Attribute {
            code: "package".into(),
            value: package.clone(),
        }];
        if let Some(region) = &region {
            extra.push(model::Attribute {
                code: "region".into(),
                value: region.clone(),
            });
        }
        let sent: Vec<i64> = people.iter().map(|(id, _)| *id).collect();
        let input = model::ExportInput::Requests(model::PlanInput {
            step: step.clone(),
            persons: people.into_iter().map(|(_, p)| p).collect(),
            today: today.clone(),
            extra,
        });
        let docs = match app
            .plugins
            .call_async(plugin.clone(), move |host, p| host.export(p, input))
            .await
        {
            Ok(Ok(docs)) => docs,
            Ok(Err(e)) => {
                // The cursor stays: the same recipients are tried again once the data or the plugin is mended.
                outcome.errors.push(format!(
                    "пакет регистра получателей {package} не сформирован: {}",
                    plugin_error(&e)
                ));
                return Ok(outcome);
            }
            Err(call) => bail!("{call}"),
        };
        if docs.is_empty() && !sent.is_empty() {
            outcome.errors.push(format!(
                "пакет регистра получателей {package}: коннектор не вернул документа"
            ));
            return Ok(outcome);
        }
        count(&mut outcome, "recipients", sent.len() as u64);
        count(&mut outcome, "documents", docs.len() as u64);
        if dry_run {
            for doc in &docs {
                outcome
                    .report
                    .push(format!("выгрузить {} ({} получателей)", doc.name, sent.len()));
            }
            // Nothing moves: what follows the first package is not looked at.
            break;
        }
        crate::crashpoint::here("recipients.written");
        recipients::record_package(&app.db, connector, next, &docs, &sent, &actor).await?;
        crate::crashpoint::here("recipients.queued");
        for doc in &docs {
            outcome.report.push(format!(
                "регистр получателей {} ({} получателей) поставлен в очередь",
                doc.name,
                sent.len()
            ));
        }
        exported += sent.len() as i64;
        from = next;
        if exported >= most {
            outcome.report.push(format!(
                "выгружено {exported} получателей: остальные — в следующий запуск"
            ));
            break;
        }
    }
    if !dry_run {
        send_outbox(app, connector, config, instance, &mut outcome).await?;
    }
    Ok(outcome)
}
