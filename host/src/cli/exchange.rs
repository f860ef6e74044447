//! Command-line operations of the exchanges: scheduled jobs (list, run, dry-run, history, retry),
//! the signing queue, inbox/outbox messages, ZAGS death records, EGISSO mappings, the audit chain.

use super::print_json;
use crate::app::App;
use crate::exchange;
use crate::register::{deaths, egisso};
use crate::scheduler;
use anyhow::{Context, Result};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Jobs with schedule, state, next and last run.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run a job now.
    Run {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Run a job without the final send or commit, reporting what would happen.
    DryRun {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Runs of a job (newest first).
    History {
        name: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Runs that failed for good.
    Failed {
        #[arg(long)]
        json: bool,
    },
    /// Run a failed run's job again now.
    Retry { run: i64 },
    /// Discard a failed run.
    Discard { run: i64 },
    /// Add a job (e.g. a `plugin-step` of a vendor's connector: --settings '{"plugin":"x","step":"y"}').
    Add {
        name: String,
        #[arg(long)]
        kind: String,
        #[arg(long)]
        schedule: String,
        /// The job's settings, a JSON object (`--config` names the installation's file).
        #[arg(long, default_value = "{}")]
        settings: String,
    },
    /// Change a job: schedule (cron, 5 fields), enabled, settings (JSON object).
    Set {
        name: String,
        #[arg(long)]
        schedule: Option<String>,
        #[arg(long)]
        enabled: Option<bool>,
        /// The job's settings, a JSON object.
        #[arg(long)]
        settings: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum SignCommand {
    /// Sign a report with the provider configured for its reporting organisation.
    Report {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Attach a detached signature (DER or PEM) made by the signer's own tool, after verifying it.
    Upload {
        id: i64,
        #[arg(long)]
        signature: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Signing attempts, with the reasons of failures.
    Attempts {
        #[arg(long)]
        report: Option<i64>,
        #[arg(long)]
        json: bool,
    },
    /// Check that OpenSSL with the GOST engine is usable on this server.
    Check,
}

#[derive(Subcommand)]
pub enum ExchangeCommand {
    /// Exchange messages, optionally by status (received, processed, queued, sent, failed, stopped).
    List {
        #[arg(long)]
        status: Option<String>,
        /// Messages numbered below this (the next page).
        #[arg(long)]
        before: Option<i64>,
        /// How many, newest first.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// One message in full: its status, last error and what the connector refused in it.
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Put a failed or stopped message back in line.
    Retry { id: i64 },
    /// Stop retrying a message.
    Stop { id: i64 },
    /// Death records from ZAGS, optionally by status (pending, no-match, applied, …).
    Deaths {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Decide a pending death record: apply it to the person with this SNILS, or reject it.
    DecideDeath {
        id: i64,
        #[arg(long, conflicts_with = "reject")]
        snils: Option<String>,
        #[arg(long)]
        reject: bool,
    },
    /// Facts of assignment sent to EGISSO, newest first, optionally by status (queued, sent,
    /// accepted, rejected, cancelled), with EGISSO's reason of a rejection.
    EgissoFacts {
        #[arg(long)]
        status: Option<String>,
        /// The page below this fact id.
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Send a rejected EGISSO fact again once its execution or mapping is corrected.
    EgissoResend { id: i64 },
    /// Map a local measure type to an EGISSO measure (LMSZ), or list the mappings.
    EgissoMap {
        local_code: Option<String>,
        #[arg(long)]
        lmsz: Option<String>,
        #[arg(long)]
        category: Option<String>,
        #[arg(long)]
        osz: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is read from the first line of standard input.
    Add {
        login: String,
        #[arg(long)]
        name: String,
        /// administrator, coordinator, executor, auditor or bureau (an MSE bureau: reads the IPRAs its
        /// institution issued).
        #[arg(long)]
        role: String,
        /// The organisation an executor acts for.
        #[arg(long)]
        ogrn: Option<String>,
        /// The institution a bureau reads the IPRAs of, as IPRAs name it («Учреждение, сформировавшее ИПРА»).
        #[arg(long)]
        issuer: Option<String>,
    },
    /// Set a new password (read from standard input); ends the user's sessions.
    Passwd { login: String },
    /// Users with roles and organisations.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Issue an API token (shown once) for scripts: `Authorization: Bearer TOKEN`.
    Token {
        login: String,
        #[arg(long, default_value = "скрипт")]
        label: String,
    },
    /// The other organisations an executor works for (replaces the list; none: only its own). At
    /// login such a user chooses the organisation to act for, and can switch.
    Organisations { login: String, ogrn: Vec<String> },
}

fn read_password() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("чтение пароля со стандартного ввода")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn users(app: &App, command: UsersCommand, actor: &str) -> Result<i32> {
    match command {
        UsersCommand::Organisations { login, ogrn } => {
            crate::auth::set_user_organisations(&app.db, &login, &ogrn, actor).await?;
            if ogrn.is_empty() {
                println!("у пользователя {login} только своя организация");
            } else {
                println!(
                    "пользователь {login} работает также в организациях: {}",
                    ogrn.join(", ")
                );
            }
        }
        UsersCommand::Add {
            login,
            name,
            role,
            ogrn,
            issuer,
        } => {
            let role = crate::auth::Role::parse(&role)?;
            let password = read_password()?;
            match (role, issuer.as_deref()) {
                (crate::auth::Role::Bureau, Some(issuer)) => {
                    crate::auth::add_bureau_user(&app.db, &login, &name, issuer, &password, actor).await?;
                }
                _ => {
                    crate::auth::add_user(&app.db, &login, &name, role, ogrn.as_deref(), &password, actor).await?;
                }
            }
            println!("пользователь {login} ({}) добавлен", role.label());
        }
        UsersCommand::Passwd { login } => {
            let password = read_password()?;
            crate::auth::set_password(&app.db, &login, &password, actor).await?;
            println!("пароль пользователя {login} изменён");
        }
        UsersCommand::List { json } => {
            let users = crate::auth::list_users(&app.db).await?;
            if json {
                print_json(&users)?;
            } else {
                for u in users {
                    println!(
                        "{:<16} {:<14} {:<14} {} {}",
                        u.login,
                        u.role,
                        u.ogrn.unwrap_or_default(),
                        if u.active { "" } else { "(отключён)" },
                        u.full_name
                    );
                }
            }
        }
        UsersCommand::Token { login, label } => {
            let token = crate::auth::issue_token(&app.db, &login, &label, actor).await?;
            println!("{token}");
        }
    }
    Ok(0)
}

fn print_run(run: &scheduler::RunView, json: bool) -> Result<i32> {
    if json {
        print_json(run)?;
    } else {
        println!(
            "запуск {} задания {}: {}{} (попытка {})",
            run.id,
            run.job,
            run.status,
            if run.dry_run {
                ", проверка без записи"
            } else {
                ""
            },
            run.attempt
        );
        println!("  счётчики: {}", run.counts);
        if let Some(report) = run.report.as_deref().filter(|r| !r.is_empty()) {
            for line in report.lines() {
                println!("  {line}");
            }
        }
        for e in run.errors.as_array().into_iter().flatten() {
            println!("  ошибка: {}", e.as_str().unwrap_or_default());
        }
    }
    Ok(if matches!(run.status.as_str(), "succeeded") {
        0
    } else {
        1
    })
}

pub async fn jobs(app: &App, command: JobsCommand, actor: &str) -> Result<i32> {
    scheduler::seed_jobs(app).await?;
    let instance = scheduler::instance_name();
    match command {
        JobsCommand::List { json } => {
            let jobs = scheduler::list_jobs(app).await?;
            if json {
                print_json(&jobs)?;
            } else {
                for j in jobs {
                    println!(
                        "{:<16} {:<14} {:<5} следующий: {:<25} последний: {}",
                        j.name,
                        j.schedule,
                        if j.enabled { "вкл" } else { "выкл" },
                        j.next_run.unwrap_or_default(),
                        j.last_run
                            .map(|r| format!("{} {}", r.started_at, r.status))
                            .unwrap_or_else(|| "—".into())
                    );
                }
            }
            Ok(0)
        }
        JobsCommand::Run { name, json } => print_run(
            &scheduler::run_job(app, &name, "вручную", false, 1, &instance).await?,
            json,
        ),
        JobsCommand::DryRun { name, json } => print_run(
            &scheduler::run_job(app, &name, "вручную", true, 1, &instance).await?,
            json,
        ),
        JobsCommand::History { name, limit, json } => {
            let runs = scheduler::history(app, &name, limit).await?;
            if json {
                print_json(&runs)?;
            } else {
                for r in runs {
                    println!(
                        "{:>6} {} {:<10} {} {}",
                        r.id, r.started_at, r.status, r.trigger, r.counts
                    );
                }
            }
            Ok(0)
        }
        JobsCommand::Failed { json } => {
            let runs = scheduler::failed_runs(app).await?;
            if json {
                print_json(&runs)?;
            } else {
                for r in runs {
                    println!("{:>6} {} {} {}", r.id, r.job, r.started_at, r.errors);
                }
            }
            Ok(0)
        }
        JobsCommand::Retry { run } => match scheduler::decide(app, run, true, actor, &instance).await? {
            Some(new_run) => print_run(&new_run, false),
            None => Ok(0),
        },
        JobsCommand::Discard { run } => {
            scheduler::decide(app, run, false, actor, &instance).await?;
            println!("запуск {run} отменён");
            Ok(0)
        }
        JobsCommand::Add {
            name,
            kind,
            schedule,
            settings,
        } => {
            scheduler::add_job(app, &name, &kind, &schedule, &settings, actor).await?;
            println!("задание {name} добавлено");
            Ok(0)
        }
        JobsCommand::Set {
            name,
            schedule,
            enabled,
            settings,
        } => {
            scheduler::configure(app, &name, schedule.as_deref(), enabled, settings.as_deref(), actor).await?;
            println!("задание {name} изменено");
            Ok(0)
        }
    }
}

pub async fn sign(app: &App, command: SignCommand, actor: &str) -> Result<i32> {
    match command {
        SignCommand::Report { id, json } => {
            let verified = crate::signing::sign_report(app, id, actor).await?;
            if json {
                print_json(&verified)?;
            } else {
                println!(
                    "отчёт {id} подписан: {} (действителен до {})",
                    verified.subject, verified.not_after
                );
            }
        }
        SignCommand::Upload { id, signature, json } => {
            let bytes = std::fs::read(&signature).with_context(|| format!("чтение {}", signature.display()))?;
            let verified = crate::signing::upload_signature(app, id, &bytes, actor).await?;
            if json {
                print_json(&verified)?;
            } else {
                println!("подпись отчёта {id} проверена и принята: {}", verified.subject);
            }
        }
        SignCommand::Attempts { report, json } => {
            let attempts = crate::signing::attempts(app, report).await?;
            if json {
                print_json(&attempts)?;
            } else {
                for a in attempts {
                    println!(
                        "{} отчёт {} {} {} {}",
                        a.at, a.report_id, a.provider, a.status, a.detail
                    );
                }
            }
        }
        SignCommand::Check => {
            let version = tokio::task::spawn_blocking(ipra_signing::check_engine).await??;
            println!("OpenSSL с движком GOST доступен: {version}");
        }
    }
    Ok(0)
}

pub async fn exchange_command(app: &App, command: ExchangeCommand, actor: &str) -> Result<i32> {
    match command {
        ExchangeCommand::List {
            status,
            before,
            limit,
            json,
        } => {
            // A page of the newest, printed in the order they came.
            let mut messages = exchange::messages_page(&app.db, status.as_deref(), before, limit)
                .await?
                .items;
            messages.reverse();
            if json {
                print_json(&messages)?;
            } else {
                for m in messages {
                    println!(
                        "{:>6} {:<7} {:<3} {:<10} {:<30} попыток {} {}",
                        m.id,
                        m.connector,
                        m.direction,
                        m.status,
                        m.file_name,
                        m.attempts,
                        m.last_error.unwrap_or_default()
                    );
                    // A processed message may still have records the connector refused.
                    if let Some(refusals) = m.refusals.filter(|_| m.status != "failed") {
                        for line in refusals.lines() {
                            println!("{:>6} не принято: {line}", "");
                        }
                    }
                }
            }
        }
        ExchangeCommand::Show { id, json } => {
            let m = exchange::message(&app.db, id)
                .await?
                .with_context(|| format!("сообщение {id} не найдено"))?;
            if json {
                print_json(&m)?;
            } else {
                println!("Сообщение {}: {} {} {}", m.id, m.connector, m.direction, m.kind);
                println!("Файл: {}", m.file_name);
                println!("SHA-256: {}", m.sha256);
                println!("Статус: {} (попыток {})", m.status, m.attempts);
                println!("Получено: {}, обновлено: {}", m.created_at, m.updated_at);
                if let Some(error) = &m.last_error {
                    println!("Ошибка: {error}");
                }
                match &m.refusals {
                    Some(refusals) => {
                        println!("Не принято коннектором:");
                        for line in refusals.lines() {
                            println!("  {line}");
                        }
                    }
                    None => println!("Не принятых записей нет"),
                }
            }
        }
        ExchangeCommand::Retry { id } => {
            exchange::set_retry(app, id, true, actor).await?;
            println!("сообщение {id} возвращено в очередь");
        }
        ExchangeCommand::Stop { id } => {
            exchange::set_retry(app, id, false, actor).await?;
            println!("повторы сообщения {id} остановлены");
        }
        ExchangeCommand::Deaths { status, json } => {
            let statuses: Vec<&str> = status.as_deref().into_iter().collect();
            // The newest thousand, printed in the order they came.
            let mut records = deaths::page(&app.db, &statuses, None, 1000).await?.items;
            records.reverse();
            if json {
                print_json(&records)?;
            } else {
                for r in records {
                    println!(
                        "{:>6} {:<10} {} {} {}",
                        r.id,
                        r.status,
                        r.full_name,
                        r.death_date.unwrap_or_default(),
                        r.note.unwrap_or_default()
                    );
                }
            }
        }
        ExchangeCommand::DecideDeath { id, snils, reject } => {
            if !reject && snils.is_none() {
                anyhow::bail!("укажите --snils СНИЛС или --reject");
            }
            let closed = deaths::decide(app, id, snils.as_deref(), actor).await?;
            println!("решение по записи {id} принято; закрыто мероприятий: {closed}");
        }
        ExchangeCommand::EgissoFacts {
            status,
            before,
            limit,
            json,
        } => {
            let page = egisso::facts_page(&app.db, status.as_deref(), before, limit).await?;
            if json {
                print_json(&page.items)?;
            } else {
                for f in &page.items {
                    println!(
                        "{:>6} {:<10} {:<14} {} {}{}",
                        f.id,
                        f.status,
                        f.operation,
                        f.full_name,
                        f.measure_name,
                        f.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default()
                    );
                }
                if let Some(next) = page.next {
                    println!("дальше: --before {next}");
                }
            }
        }
        ExchangeCommand::EgissoResend { id } => {
            egisso::resend(app, id, actor).await?;
            println!("факт ЕГИССО {id} будет отправлен повторно при следующей выгрузке (задание egisso-upload)");
        }
        ExchangeCommand::EgissoMap {
            local_code,
            lmsz,
            category,
            osz,
            json,
        } => match (local_code, lmsz) {
            (Some(code), Some(lmsz)) => {
                let effect = egisso::set_mapping(app, &code, &lmsz, category.as_deref(), osz.as_deref(), actor).await?;
                println!(
                    "вид мероприятия {code} сопоставлен мере ЕГИССО {lmsz}: {}",
                    effect.describe()
                );
            }
            (None, None) => {
                let mappings = egisso::mappings(app).await?;
                if json {
                    print_json(&mappings)?;
                } else {
                    for m in mappings {
                        println!(
                            "{:<30} → {} {}",
                            m.local_code,
                            m.lmsz_id,
                            m.category_id.unwrap_or_default()
                        );
                    }
                }
            }
            _ => anyhow::bail!("укажите вид мероприятия и --lmsz вместе"),
        },
    }
    Ok(0)
}
