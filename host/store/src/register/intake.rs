//! One way in for every incoming document, whatever brought it — `ipra import`, an upload on the
//! organisation page, an exchange inbox: the import pipeline records the document, hands it to the
//! connector that reads it and stores what the register keeps as part of the document (IPRA
//! extracts, prior execution reports, reference lists, all or nothing per document); then each
//! record an external system sends on its own (a death, an answer on a sent report) is applied here,
//! one by one, through the register's functions.
//!
//! Which connector reads a document is the caller's to say: the inbox it came through, or the
//! connector chosen for a command or an upload. Nothing here knows any connector by name.

use super::import::{self, ImportOptions, ImportReport, InputFile, Received, Rejection};
use crate::app::App;
use anyhow::Result;

/// Imports `files` through `opts.connector` and applies what they carry.
pub async fn run(app: &App, files: Vec<InputFile>, opts: &ImportOptions) -> Result<ImportReport> {
    let mut report = import::run(&app.db, &app.plugins, &app.reference(), files, opts).await?;
    apply_received(app, &opts.connector, &mut report).await?;
    Ok(report)
}

/// Applies the received records of a run in their order; a dry run only says what it would do.
/// A record the register refuses (an answer on a report never sent) is named among the run's
/// rejections; the others are applied.
async fn apply_received(app: &App, connector: &str, report: &mut ImportReport) -> Result<()> {
    let actor = app
        .plugins
        .get(connector)
        .map(|p| p.info.name.clone())
        .unwrap_or_else(|| connector.to_string());
    for received in std::mem::take(&mut report.received) {
        if report.dry_run {
            report.applied.push(format!(
                "{}: {}: {}",
                received.file,
                received.locator,
                match &received.record {
                    Received::Death(_) => "сведения о смерти будут сверены с регистром",
                    Received::Receipt(_) => "квитанция будет учтена",
                    Received::Executions(_) => "оказанные услуги будут сверены с ИПРА и записаны как исполнение",
                }
            ));
            continue;
        }
        let applied = match &received.record {
            Received::Death(death) => super::deaths::receive(app, death).await,
            Received::Receipt(answer) => receive_answer(app, connector, answer, &actor).await,
            Received::Executions(services) => {
                super::social_services::receive(app, connector, &received.file, &received.locator, services).await
            }
        };
        match applied {
            Ok(line) => report.applied.push(line),
            Err(e) => match crate::refusal::Refusal::of(&e) {
                Some(refusal) => report.rejected.push(Rejection {
                    file: received.file.clone(),
                    record: Some(received.locator.clone()),
                    field: match refusal {
                        crate::refusal::Refusal::Invalid { field, .. } => Some(field.clone()),
                        _ => None,
                    },
                    code: "refused".into(),
                    message: refusal.to_string(),
                }),
                None => return Err(e),
            },
        }
    }
    Ok(())
}

/// An answer on a sent document: on an IPPSU when the connector writes IPPSU (and, if it also writes
/// facts or execution reports, an IPPSU of that name was sent); on a package of facts when the
/// connector writes facts (and, if it also writes execution reports, a package of that name was
/// sent), else on an execution report.
async fn receive_answer(
    app: &App,
    connector: &str,
    answer: &crate::plugins::model::Receipt,
    actor: &str,
) -> Result<String> {
    let writes = |kind: &str| {
        app.plugins
            .get(connector)
            .is_some_and(|p| p.manifest.writes.iter().any(|k| k == kind))
    };
    if writes("ippsu")
        && ((!writes("facts") && !writes("execution-report"))
            || super::social_services::is_ippsu_document(&app.db, connector, &answer.document_name).await?)
    {
        return super::social_services::receive_answer(app, connector, answer).await;
    }
    if writes("facts")
        && (!writes("execution-report") || super::egisso::is_package(&app.db, &answer.document_name).await?)
    {
        return super::egisso::receive_answer(app, connector, answer).await;
    }
    super::execution::receive_answer(app, answer, actor).await
}
