//! Command-line operations on the register for coordinators and administrators: organisations,
//! routing, measures, execution records, reports, reference lists, deadlines, statistics.
//! Every command has a `--json` form so the whole path can be scripted and tested.

use super::print_json;
use crate::app::App;
use crate::register::directory::{self, Organisation};
use crate::register::execution::{self, Checked, ExecutionForm, FieldError};
use crate::register::{clarification, deadlines, facts, reference, stats, workload};
use anyhow::{bail, Context, Result};
use clap::Subcommand;
use serde::Serialize;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum OrgsCommand {
    /// Executor organisations of the directory.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Add or update an organisation.
    Add {
        #[arg(long)]
        ogrn: String,
        #[arg(long)]
        name: String,
        /// Section it executes: health, employment, education, social-protection, sport, tsr (or region).
        #[arg(long)]
        department: String,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        inn: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum RoutingCommand {
    /// Rules in force.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show which open measures a rule would reassign, without changing anything.
    Preview {
        #[arg(long)]
        section: String,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        ogrn: String,
        #[arg(long)]
        json: bool,
    },
    /// Replace the rule of a section in a territory (or region-wide) and reassign accordingly.
    Set {
        #[arg(long)]
        section: String,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        ogrn: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum MeasuresCommand {
    /// Measures of an IPRA with section, executor, status and due date.
    List {
        #[arg(long)]
        ipra: i64,
        #[arg(long)]
        json: bool,
    },
    /// Reassign a measure by hand (kept in its history).
    Assign {
        id: i64,
        #[arg(long)]
        ogrn: String,
        /// Section of a measure that has none (default: the organisation's section).
        #[arg(long)]
        section: Option<String>,
        #[arg(long)]
        note: Option<String>,
    },
    /// Assignment history of a measure.
    History {
        id: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args)]
pub struct ExecutionArgs {
    #[arg(long)]
    ipra: i64,
    /// The IPRA measure it reports on (omit for an extra measure of the section).
    #[arg(long)]
    measure: Option<i64>,
    #[arg(long)]
    section: String,
    /// OGRN of the organisation recording it.
    #[arg(long)]
    org: String,
    /// executed or not-executed.
    #[arg(long)]
    result: String,
    /// Measure name.
    #[arg(long)]
    name: String,
    /// OGRN of the executor that carried it out.
    #[arg(long)]
    executor: String,
    #[arg(long)]
    executor_name: Option<String>,
    #[arg(long)]
    clarification: Option<String>,
    #[arg(long)]
    date: Option<String>,
    /// Non-execution reason code (repeat for several).
    #[arg(long = "reason")]
    reasons: Vec<String>,
    #[arg(long)]
    comment: Option<String>,
}

impl ExecutionArgs {
    fn form(self) -> ExecutionForm {
        ExecutionForm {
            ipra_id: self.ipra,
            measure_id: self.measure,
            section: self.section,
            organisation: self.org,
            result: self.result,
            measure_name: self.name,
            executor_ogrn: self.executor,
            executor_name: self.executor_name,
            clarification: self.clarification,
            execution_date: self.date,
            reasons: self.reasons,
            comment: self.comment,
        }
    }
}

#[derive(Subcommand)]
pub enum ExecutionsCommand {
    /// Save an execution record as a draft (validation messages come back as warnings).
    Add {
        #[command(flatten)]
        args: ExecutionArgs,
        /// Mark it ready at once (refused with field errors when invalid).
        #[arg(long)]
        ready: bool,
        #[arg(long)]
        json: bool,
    },
    /// Replace a draft's fields.
    Update {
        id: i64,
        #[command(flatten)]
        args: ExecutionArgs,
        #[arg(long)]
        json: bool,
    },
    /// Draft → ready (validated by the department plugin).
    Ready {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Ready → draft.
    Draft { id: i64 },
    /// Delete a draft.
    Delete { id: i64 },
    /// Execution records of an IPRA.
    List {
        #[arg(long)]
        ipra: i64,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum FollowUpsCommand {
    /// What department plugins asked to keep: IPPSU drafts, TSR clarification requests, …
    List {
        #[arg(long)]
        ipra: Option<i64>,
        #[arg(long)]
        kind: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Request a clarification of TSR items from the MSE institution, with the citizen's consent; the
    /// connector's outbox job sends it to ИС МСЭ with its printed form.
    TsrClarify {
        #[arg(long)]
        ipra: i64,
        #[command(flatten)]
        request: TsrRequestArgs,
        #[arg(long)]
        json: bool,
    },
    /// TSR clarification requests of an IPRA with their state (raised, sent, answered, rejected, superseded).
    TsrRequests {
        #[arg(long)]
        ipra: i64,
        #[arg(long)]
        json: bool,
    },
    /// Change a TSR clarification request not yet queued (its items, sender, consent, received date and
    /// reason, as `tsr-clarify` takes them); refused once the outbox queued it.
    TsrRequestEdit {
        /// The request (its number in `tsr-requests`).
        id: i64,
        #[command(flatten)]
        request: TsrRequestArgs,
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a TSR clarification request not yet queued, saying why; refused once the outbox queued it.
    TsrRequestWithdraw {
        id: i64,
        #[arg(long)]
        reason: String,
        #[arg(long)]
        json: bool,
    },
}

/// What a TSR clarification request says, as `tsr-clarify` raises it and `tsr-request-edit` changes it.
#[derive(clap::Args)]
pub struct TsrRequestArgs {
    /// TSR measures to clarify (repeat).
    #[arg(long = "measure", required = true)]
    measures: Vec<i64>,
    /// OGRN of the authorised body that sends the request.
    #[arg(long)]
    org: String,
    /// The citizen (or representative) consented.
    #[arg(long)]
    consent: bool,
    /// Who consented: citizen (default) or representative.
    #[arg(long = "consent-by")]
    consent_by: Option<String>,
    /// When the person presented the programme (YYYY-MM-DD); default: the day the IPRA was imported.
    #[arg(long)]
    received: Option<String>,
    #[arg(long)]
    reason: String,
}

impl TsrRequestArgs {
    fn into_raise(self) -> clarification::Raise {
        clarification::Raise {
            measure_ids: self.measures,
            sender_ogrn: self.org,
            consent: self.consent,
            consent_by: self.consent_by,
            received: self.received,
            reason: self.reason,
        }
    }
}

#[derive(Subcommand)]
pub enum ReportsCommand {
    /// Assemble the report of an IPRA from the ready records of all departments.
    Assemble {
        #[arg(long)]
        ipra: i64,
        /// OGRN of the organisation that sends the report.
        #[arg(long)]
        reporter: String,
        #[arg(long)]
        json: bool,
    },
    /// Reports, optionally by status.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Write the report document (the FRI package) to a file.
    Document {
        id: i64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Return a report awaiting signature for corrections.
    Withdraw { id: i64 },
    /// Record FRI's answer: accepted, or rejected with the reason received.
    Answer {
        id: i64,
        #[arg(long, conflicts_with = "rejected")]
        accepted: bool,
        #[arg(long)]
        rejected: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum ReferenceCommand {
    /// Lists and their versions.
    List {
        #[arg(long)]
        json: bool,
    },
    /// The current entries of a list.
    Show {
        list: String,
        #[arg(long)]
        json: bool,
    },
    /// Load a new version of a list from a `code;name;parent;extra` file.
    Set {
        list: String,
        file: PathBuf,
        #[arg(long)]
        note: Option<String>,
    },
}

fn print_errors(errors: &[FieldError]) {
    for e in errors {
        eprintln!(
            "  {}{}: {} ({})",
            e.record.as_deref().map(|r| format!("{r}, ")).unwrap_or_default(),
            e.field.as_deref().unwrap_or("—"),
            e.message,
            e.code
        );
    }
}

/// Prints a refusal: JSON `{"ok":false,"errors":[…]}` or lines on stderr; exit code 1.
/// A refusal of the register (a request already queued, a field that does not hold) as the field errors
/// the command prints; any other error stays an error.
fn refusal_to_errors<T>(outcome: Checked<T>) -> Checked<T> {
    outcome.or_else(|e| match ipra_store::refusal::Refusal::of(&e) {
        Some(refusal) => {
            let (code, field) = match refusal {
                ipra_store::refusal::Refusal::NotFound(_) => ("not-found", None),
                ipra_store::refusal::Refusal::Conflict(_) => ("conflict", None),
                ipra_store::refusal::Refusal::Invalid { field, .. } => ("invalid", Some(field.clone())),
            };
            Ok(Err(vec![FieldError {
                code: code.into(),
                message: refusal.message().to_string(),
                record: None,
                field,
            }]))
        }
        None => Err(e),
    })
}

fn refused(errors: &[FieldError], json: bool) -> Result<i32> {
    if json {
        print_json(&serde_json::json!({"ok": false, "errors": errors}))?;
    } else {
        eprintln!("отказано:");
        print_errors(errors);
    }
    Ok(1)
}

pub async fn orgs(app: &App, command: OrgsCommand, actor: &str) -> Result<i32> {
    match command {
        OrgsCommand::List { json } => {
            let orgs = directory::list_organisations(&app.db).await?;
            if json {
                print_json(&orgs)?;
            } else {
                for o in orgs {
                    println!(
                        "{} {:<18} {:<10} {}",
                        o.ogrn,
                        o.department,
                        o.territory_code.unwrap_or_default(),
                        o.name
                    );
                }
            }
        }
        OrgsCommand::Add {
            ogrn,
            name,
            department,
            territory,
            inn,
            phone,
            email,
        } => {
            let org = Organisation {
                ogrn,
                inn,
                name,
                department,
                territory_code: territory,
                executor_type: None,
                phone,
                email,
                active: true,
            };
            directory::upsert_organisation(&app.db, &org, actor).await?;
            println!("организация {} сохранена", org.ogrn);
        }
    }
    Ok(0)
}

pub async fn routing(app: &App, command: RoutingCommand, actor: &str) -> Result<i32> {
    match command {
        RoutingCommand::List { json } => {
            let rules = directory::active_rules(&app.db).await?;
            if json {
                print_json(&rules)?;
            } else {
                for r in rules {
                    println!(
                        "{:<18} {:<10} → {}",
                        r.section,
                        r.territory_code.unwrap_or_else(|| "весь регион".into()),
                        r.ogrn
                    );
                }
            }
        }
        RoutingCommand::Preview {
            section,
            territory,
            ogrn,
            json,
        } => {
            let moves = directory::preview_rule(&app.db, &section, territory.as_deref(), &ogrn).await?;
            if json {
                print_json(&moves)?;
            } else {
                println!("Правило переназначит мероприятий: {}", moves.len());
                for m in moves {
                    println!(
                        "  мероприятие {} (ИПРА № {}): {} → {}",
                        m.measure_id,
                        m.ipra_number,
                        m.from_ogrn.unwrap_or_else(|| "не назначено".into()),
                        m.to_ogrn
                    );
                }
            }
        }
        RoutingCommand::Set {
            section,
            territory,
            ogrn,
            json,
        } => {
            let moves = directory::set_rule(&app.db, &section, territory.as_deref(), &ogrn, actor).await?;
            if json {
                print_json(&serde_json::json!({"reassigned": moves.len(), "measures": moves}))?;
            } else {
                println!("правило сохранено; переназначено мероприятий: {}", moves.len());
            }
        }
    }
    Ok(0)
}

pub async fn measures(app: &App, command: MeasuresCommand, actor: &str) -> Result<i32> {
    match command {
        MeasuresCommand::List { ipra, json } => {
            let card = crate::register::query::ipra_card(&app.db, ipra, None)
                .await?
                .context("ИПРА не найдена")?;
            crate::audit::record(&app.db, actor, "ipra.read", &format!("ipra:{ipra}"), Some("measures")).await?;
            if json {
                print_json(&card.measures)?;
            } else {
                for m in card.measures {
                    println!(
                        "{:>6} {:<18} {:<13} {:<11} {:<14} {}",
                        m.id,
                        m.section,
                        m.status,
                        m.due_date.unwrap_or_default(),
                        m.assigned_ogrn.unwrap_or_else(|| "—".into()),
                        m.name
                    );
                }
            }
        }
        MeasuresCommand::Assign {
            id,
            ogrn,
            section,
            note,
        } => {
            directory::assign_by_hand(&app.db, id, &ogrn, section.as_deref(), actor, note.as_deref()).await?;
            println!("мероприятие {id} назначено {ogrn}");
        }
        MeasuresCommand::History { id, json } => {
            let history = directory::assignment_history(&app.db, id).await?;
            if json {
                print_json(&history)?;
            } else {
                for h in history {
                    println!(
                        "{} {} {} {}",
                        h.assigned_at,
                        h.ogrn.unwrap_or_else(|| "—".into()),
                        h.source,
                        h.assigned_by
                    );
                }
            }
        }
    }
    Ok(0)
}

async fn finish<T: Serialize>(outcome: Checked<T>, json: bool, ok: impl FnOnce(&T)) -> Result<i32> {
    match outcome? {
        Ok(value) => {
            if json {
                print_json(&serde_json::json!({"ok": true, "result": value}))?;
            } else {
                ok(&value);
            }
            Ok(0)
        }
        Err(errors) => refused(&errors, json),
    }
}

pub async fn executions(app: &App, command: ExecutionsCommand, actor: &str) -> Result<i32> {
    match command {
        ExecutionsCommand::Add { args, ready, json } => {
            let (id, warnings) = execution::save_draft(app, None, &args.form(), actor).await?;
            if ready {
                return finish(
                    execution::mark_ready(app, id, actor).await.map(|r| r.map(|()| id)),
                    json,
                    |id| {
                        println!("запись {id} сохранена и готова");
                    },
                )
                .await;
            }
            if json {
                print_json(&serde_json::json!({"ok": true, "result": id, "warnings": warnings}))?;
            } else {
                println!("черновик {id} сохранён");
                print_errors(&warnings);
            }
            Ok(0)
        }
        ExecutionsCommand::Update { id, args, json } => {
            let (id, warnings) = execution::save_draft(app, Some(id), &args.form(), actor).await?;
            if json {
                print_json(&serde_json::json!({"ok": true, "result": id, "warnings": warnings}))?;
            } else {
                println!("черновик {id} сохранён");
                print_errors(&warnings);
            }
            Ok(0)
        }
        ExecutionsCommand::Ready { id, json } => {
            finish(execution::mark_ready(app, id, actor).await, json, |_| {
                println!("запись {id} готова")
            })
            .await
        }
        ExecutionsCommand::Draft { id } => {
            execution::back_to_draft(app, id, actor).await?;
            println!("запись {id} возвращена в черновик");
            Ok(0)
        }
        ExecutionsCommand::Delete { id } => {
            execution::delete_draft(app, id, actor).await?;
            println!("черновик {id} удалён");
            Ok(0)
        }
        ExecutionsCommand::List { ipra, json } => {
            let records = execution::records_of_ipra(app, ipra).await?;
            if json {
                print_json(&records)?;
            } else {
                for r in records {
                    println!(
                        "{:>6} {:<9} {:<18} {:<13} {}",
                        r.id, r.status, r.form.section, r.form.result, r.form.measure_name
                    );
                }
            }
            Ok(0)
        }
    }
}

pub async fn reports(app: &App, command: ReportsCommand, actor: &str) -> Result<i32> {
    match command {
        ReportsCommand::Assemble { ipra, reporter, json } => {
            finish(
                execution::assemble_report(app, ipra, &reporter, None, actor).await,
                json,
                |id| {
                    println!("отчёт {id} сформирован и ожидает подписания");
                },
            )
            .await
        }
        ReportsCommand::List { status, json } => {
            let filter = execution::ReportFilter {
                status,
                ..Default::default()
            };
            let reports = execution::reports_page(&app.db, &filter, None, 1000).await?.items;
            if json {
                print_json(&reports)?;
            } else {
                for r in reports {
                    println!(
                        "{:>6} ИПРА {:<6} {:<20} {}",
                        r.id,
                        r.ipra_id,
                        execution::status_label(&r.status),
                        r.created_at
                    );
                }
            }
            Ok(0)
        }
        ReportsCommand::Document { id, out } => {
            let (name, bytes, _) = execution::report_document(app, id).await?.context("отчёт не найден")?;
            std::fs::write(&out, bytes).with_context(|| format!("запись {}", out.display()))?;
            println!("документ {name} записан в {}", out.display());
            Ok(0)
        }
        ReportsCommand::Withdraw { id } => {
            execution::withdraw(app, id, actor).await?;
            println!("отчёт {id} возвращён на доработку");
            Ok(0)
        }
        ReportsCommand::Answer { id, accepted, rejected } => {
            if !accepted && rejected.is_none() {
                bail!("укажите --accepted или --rejected ПРИЧИНА");
            }
            execution::record_answer(app, id, accepted, rejected.as_deref(), actor).await?;
            println!("ответ по отчёту {id} записан");
            Ok(0)
        }
    }
}

pub async fn reference_lists(app: &App, command: ReferenceCommand, actor: &str) -> Result<i32> {
    match command {
        ReferenceCommand::List { json } => {
            let versions = reference::versions(&app.db, None).await?;
            if json {
                print_json(&versions)?;
            } else {
                for v in versions {
                    println!(
                        "{:<24} версия {:<3} {} {} ({} записей)",
                        v.list_id, v.version, v.loaded_at, v.author, v.entries
                    );
                }
            }
        }
        ReferenceCommand::Show { list, json } => {
            let snapshot = app.reference();
            let entries = snapshot.list(&list);
            if json {
                print_json(&entries)?;
            } else {
                for e in entries {
                    println!("{:<24} {}", e.code, e.name);
                }
            }
        }
        ReferenceCommand::Set { list, file, note } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("чтение {}", file.display()))?;
            let entries = reference::parse_csv(&list, &text)?;
            let version = reference::set_list(&app.db, &list, &entries, actor, note.as_deref()).await?;
            println!(
                "справочник {list}: загружена версия {version} ({} записей)",
                entries.len()
            );
        }
    }
    Ok(0)
}

pub async fn overdue(app: &App, json: bool) -> Result<i32> {
    let today = deadlines::format_date(deadlines::today());
    let overdue = deadlines::check_overdue(&app.db, &app.facts, &today).await?;
    if json {
        print_json(&overdue)?;
    } else {
        println!(
            "На {}: просрочено мероприятий {}, отчётов {}",
            overdue.today, overdue.measures, overdue.reports
        );
        for (section, n) in &overdue.by_section {
            println!("  {section}: {n}");
        }
    }
    Ok(0)
}

/// How `ipra stats` counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsMode {
    /// From the statistics index (as the server does).
    Index,
    /// Directly in the database (the definition; slow at a region's size).
    Direct,
    /// Both, and every figure compared, with the dashboard's: exit 1 on any difference.
    Verify,
    /// Every figure of the statistics, charts and dashboard as JSON (`true`: counted directly).
    Figures(bool),
}

pub async fn statistics(app: &App, filter: stats::StatsFilter, mode: StatsMode, json: bool) -> Result<i32> {
    let today = deadlines::format_date(deadlines::today());
    let reasons: Vec<(String, String)> = app.reference().code_names("non-execution-reasons");
    if mode == StatsMode::Verify {
        return verify_figures(app, &filter, &today, &reasons).await;
    }
    if let StatsMode::Figures(direct) = mode {
        print_json(&figures(app, &filter, &today, &reasons, direct).await?)?;
        return Ok(0);
    }
    let (s, charts) = match mode {
        StatsMode::Direct => (
            stats::direct(&app.db, &filter, &today, &reasons).await?,
            workload::chart_data_direct(&app.db, &filter, &today).await?,
        ),
        _ => facts::statistics(&app.facts, &app.db, &filter, &today, &reasons).await?,
    };
    if json {
        println!("{}", serde_json::to_string(&s)?);
        return Ok(0);
    }
    println!("{:<70} {:>8} {:>12}", "Показатель", "Человек", "Мероприятий");
    let rows = [
        ("Поступило выписок из ИПРА / в них мероприятий, из них", &s.received),
        ("  на инвалидов в возрасте 18 лет и старше", &s.adults),
        ("  на детей-инвалидов", &s.children),
        ("Реабилитационные мероприятия", &s.rehabilitation),
        ("Технические средства реабилитации (ТСР)", &s.tsr),
        ("МЕРОПРИЯТИЕ ВЫПОЛНЕНО", &s.executed),
        ("МЕРОПРИЯТИЕ НЕ ВЫПОЛНЕНО, в том числе по причинам:", &s.not_executed),
    ];
    let sections: Vec<(String, String)> = app.reference().code_names("sections");
    for (label, c) in rows {
        println!("{label:<70} {:>8} {:>12}", c.persons, c.measures);
        if label.starts_with("Технические средства") {
            // The rows by department, in the order of the sections list; measures without one last.
            let mut by_section: Vec<&(String, stats::Counts)> = s.by_section.iter().collect();
            by_section.sort_by_key(|(code, _)| sections.iter().position(|(c, _)| c == code).unwrap_or(usize::MAX));
            for (code, c) in by_section {
                let name = if code.is_empty() {
                    "без раздела (не учитываются как реабилитация)".to_string()
                } else {
                    sections
                        .iter()
                        .find(|(c, _)| c == code)
                        .map(|(_, n)| n.clone())
                        .unwrap_or_else(|| code.clone())
                };
                let label = format!("  раздел «{}»", name.chars().take(60).collect::<String>());
                println!("{label:<70} {:>8} {:>12}", c.persons, c.measures);
            }
        }
    }
    for r in &s.not_executed_by_reason {
        println!(
            "  {:<68} {:>8} {:>12}",
            r.name.chars().take(66).collect::<String>(),
            r.persons,
            r.measures
        );
    }
    println!("{:<70} {:>8} {:>12}", "В работе", s.open.persons, s.open.measures);
    println!(
        "{:<70} {:>8} {:>12}",
        "Просрочено", s.overdue.persons, s.overdue.measures
    );
    // Target rehabilitation groups and early help: extracts, persons, measures.
    println!();
    println!(
        "{:<58} {:>11} {:>8} {:>12}",
        "Целевая реабилитационная группа", "Выписок", "Человек", "Мероприятий"
    );
    let groups = crate::register::query::target_groups(&app.db).await?;
    for r in &charts.by_target_group {
        let code = r.key.clone().unwrap_or_default();
        let label = match groups.iter().find(|(c, _)| *c == code) {
            Some((_, name)) if *name != code => format!("{code} — {name}"),
            _ => code,
        };
        let label: String = label.chars().take(58).collect();
        println!("{label:<58} {:>11} {:>8} {:>12}", r.extracts, r.persons, r.measures);
    }
    let e = &charts.early_help;
    println!(
        "{:<58} {:>11} {:>8} {:>12}",
        "Нуждаются в ранней помощи", e.extracts, e.persons, e.measures
    );
    Ok(0)
}

/// Every figure as the server shows it (the statistics index) or as counted directly: the
/// statistics, the charts, the dashboard's cards and workload tables (organisations by OGRN).
async fn figures(
    app: &App,
    filter: &stats::StatsFilter,
    today: &str,
    reasons: &[(String, String)],
    direct: bool,
) -> Result<serde_json::Value> {
    let soon = workload::SOON_DAYS;
    let (statistics, mut charts, cards, groups) = if direct {
        let statistics = stats::direct(&app.db, filter, today, reasons).await?;
        let charts = workload::chart_data_direct(&app.db, filter, today).await?;
        let cards = workload::cards_direct(&app.db, today, soon).await?;
        let mut groups = Vec::new();
        for grouping in [
            workload::Grouping::Organisation,
            workload::Grouping::Section,
            workload::Grouping::Territory,
        ] {
            let mut rows = workload::workload_direct(&app.db, today, grouping).await?;
            rows.iter_mut().for_each(|r| r.name = None);
            groups.push(rows);
        }
        (statistics, charts, cards, groups)
    } else {
        let (statistics, charts) = facts::statistics(&app.facts, &app.db, filter, today, reasons).await?;
        let d = facts::dashboard(&app.facts, &app.db, today, soon).await?;
        let cards = workload::cards(&app.db, &d, today, soon).await?;
        (
            statistics,
            charts,
            cards,
            vec![d.by_organisation, d.by_section, d.by_territory],
        )
    };
    // NULL sorts first in SQLite and last in PostgreSQL: one order for both.
    charts.by_territory.sort_by(|a, b| a.key.cmp(&b.key));
    charts.by_section.sort_by(|a, b| a.section.cmp(&b.section));
    let mut groups = groups;
    groups.iter_mut().for_each(|g| g.sort_by(|a, b| a.key.cmp(&b.key)));
    Ok(serde_json::json!({
        "statistics": statistics,
        "charts": charts,
        "dashboard": {
            "cards": cards,
            "by_organisation": groups[0],
            "by_section": groups[1],
            "by_territory": groups[2],
        },
    }))
}

/// Compares every figure of the statistics index with its direct count: the statistics and charts
/// of `filter` and the whole dashboard. Prints what differs; exit code 1 when anything does.
async fn verify_figures(
    app: &App,
    filter: &stats::StatsFilter,
    today: &str,
    reasons: &[(String, String)],
) -> Result<i32> {
    let (indexed, charts) = facts::statistics(&app.facts, &app.db, filter, today, reasons).await?;
    let direct = stats::direct(&app.db, filter, today, reasons).await?;
    let mut direct_charts = workload::chart_data_direct(&app.db, filter, today).await?;
    // NULL sorts first in SQLite and last in PostgreSQL: compare in one order.
    direct_charts.by_territory.sort_by(|a, b| a.key.cmp(&b.key));
    direct_charts.by_section.sort_by(|a, b| a.section.cmp(&b.section));
    let dashboard = facts::dashboard(&app.facts, &app.db, today, 7).await?;
    let mut differences = Vec::new();
    compare(
        "statistics",
        &serde_json::to_value(&indexed)?,
        &serde_json::to_value(&direct)?,
        &mut differences,
    );
    compare(
        "charts",
        &serde_json::to_value(&charts)?,
        &serde_json::to_value(&direct_charts)?,
        &mut differences,
    );
    let cards = workload::cards(&app.db, &dashboard, today, 7).await?;
    let direct_cards = workload::cards_direct(&app.db, today, 7).await?;
    compare(
        "cards",
        &serde_json::to_value(&cards)?,
        &serde_json::to_value(&direct_cards)?,
        &mut differences,
    );
    for (name, grouping, rows) in [
        (
            "by_organisation",
            workload::Grouping::Organisation,
            &dashboard.by_organisation,
        ),
        ("by_section", workload::Grouping::Section, &dashboard.by_section),
        ("by_territory", workload::Grouping::Territory, &dashboard.by_territory),
    ] {
        let mut direct = workload::workload_direct(&app.db, today, grouping).await?;
        direct.iter_mut().for_each(|r| r.name = None);
        direct.sort_by(|a, b| a.key.cmp(&b.key));
        compare(
            name,
            &serde_json::to_value(rows)?,
            &serde_json::to_value(&direct)?,
            &mut differences,
        );
    }
    let ok = differences.is_empty();
    print_json(&serde_json::json!({"ok": ok, "today": today, "differences": differences}))?;
    Ok(if ok { 0 } else { 1 })
}

/// Every path where two JSON values differ, with both values.
fn compare(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                compare(
                    &format!("{path}.{key}"),
                    x.get(key).unwrap_or(&Value::Null),
                    y.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                compare(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ if a != b => out.push(serde_json::json!({"path": path, "index": a, "direct": b})),
        _ => {}
    }
}

pub async fn death(app: &App, snils: &str, date: &str, source: &str, actor: &str) -> Result<i32> {
    let digits: String = snils.chars().filter(char::is_ascii_digit).collect();
    let closed = execution::record_death(app, &digits, date, source, actor).await?;
    println!("смерть гражданина записана; закрыто мероприятий: {closed}");
    Ok(0)
}

pub async fn show(app: &App, id: i64, json: bool, actor: &str) -> Result<i32> {
    let card = crate::register::query::ipra_card(&app.db, id, None)
        .await?
        .context("ИПРА не найдена")?;
    crate::audit::record(&app.db, actor, "ipra.read", &format!("ipra:{id}"), None).await?;
    if json {
        return print_json(&card).map(|()| 0);
    }
    let p = &card.person;
    println!(
        "ИПРА № {} (протокол {} от {}), {}",
        card.number, card.protocol_number, card.protocol_date, card.document_version
    );
    println!(
        "Статус: {}; решение {}; срок до {}",
        card.status,
        card.decision_date.as_deref().unwrap_or("—"),
        card.valid_until.as_deref().unwrap_or("—")
    );
    println!(
        "{} {} {} · СНИЛС {} · {}",
        p.surname,
        p.given_name,
        p.patronymic.as_deref().unwrap_or(""),
        p.snils,
        p.birth_date.as_deref().unwrap_or("—")
    );
    println!(
        "Мероприятий: {}; версий ИПРА: {}; ранее направленных отчётов: {}",
        card.measures.len(),
        card.history.len(),
        card.prior_reports.len()
    );
    Ok(0)
}

pub async fn follow_ups(app: &App, command: FollowUpsCommand, actor: &str) -> Result<i32> {
    match command {
        FollowUpsCommand::List { ipra, kind, json } => {
            let items = execution::follow_ups(app, ipra, kind.as_deref()).await?;
            if json {
                print_json(&items)?;
            } else {
                for f in items {
                    println!(
                        "{:>6} ИПРА {:<6} {:<26} {:<10} {}",
                        f.id,
                        f.ipra_id,
                        f.kind,
                        f.due_date.unwrap_or_default(),
                        f.title
                    );
                }
            }
            Ok(0)
        }
        FollowUpsCommand::TsrClarify { ipra, request, json } => {
            let request = request.into_raise();
            let outcome =
                clarification::raise(app, ipra, &request, &crate::web::ui::register::tsr::printed_form, actor)
                    .await
                    .map(|r| r.map(|id| vec![id]));
            finish(outcome, json, |ids| {
                println!("запрос на уточнение ТСР сформирован: {ids:?}; его отправит задание коннектора ИС МСЭ")
            })
            .await
        }
        FollowUpsCommand::TsrRequestEdit { id, request, json } => {
            let request = request.into_raise();
            let outcome = clarification::amend(app, id, &request, &crate::web::ui::register::tsr::printed_form, actor)
                .await
                .map(|r| r.map(|()| id));
            finish(refusal_to_errors(outcome), json, |id| {
                println!("запрос на уточнение ТСР № {id} изменён")
            })
            .await
        }
        FollowUpsCommand::TsrRequestWithdraw { id, reason, json } => {
            let outcome = clarification::withdraw(app, id, &reason, actor).await.map(|()| Ok(id));
            finish(refusal_to_errors(outcome), json, |id| {
                println!("запрос на уточнение ТСР № {id} отозван")
            })
            .await
        }
        FollowUpsCommand::TsrRequests { ipra, json } => {
            let requests = clarification::of_ipra(&app.db, ipra).await?;
            if json {
                print_json(&requests)?;
            } else {
                for c in requests {
                    println!(
                        "{:>6} {:<11} срок {} получена {} {}{}",
                        c.id,
                        c.status,
                        c.due_date,
                        c.received_date,
                        clarification::status_label(&c.status),
                        c.corrected_ipra_id
                            .map(|n| format!(", новая ИПРА {n}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(0)
        }
    }
}
