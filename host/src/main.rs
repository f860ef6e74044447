//! `ipra`: the IPRA execution server of a region — command line, HTTP server, plugin host.
//! Every operator task is a subcommand; `serve` runs the web UI and API.

mod bench;
mod bench_register;
mod builtin;
mod cli;
mod demo;
mod logging;

// The crates this binary puts together, under the module names the code has always used.
use ipra_store::{app, audit, auth, clock, db, exchange, plans, plugins, register, scheduler, signing, synthetic};
use ipra_web as web;

use anyhow::{Context, Result};
use app::App;
use clap::{Parser, Subcommand};
use register::import::ImportReport;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "ipra",
    version,
    about = "Сервер исполнения ИПРА: региональный реестр, плагины ведомств и обмены"
)]
struct Cli {
    /// The configuration file (default: /etc/ipra/ipra.toml when it exists). Flags win over the
    /// environment (IPRA_…), which wins over the file.
    #[arg(long, global = true, env = "IPRA_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (database, installed plugins, quarantine, cache); `data_dir`, IPRA_DATA_DIR;
    /// default ./ipra-data.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://USER:PASSWORD@HOST/DB (default: SQLite in the data
    /// directory); `database`, IPRA_DATABASE_URL.
    #[arg(long, global = true)]
    database: Option<String>,
    /// Who acts, for the audit log and the histories (default: cli:$USER).
    #[arg(long, global = true, env = "IPRA_ACTOR")]
    actor: Option<String>,
    /// Take this date (YYYY-MM-DD) as today: deadlines, overdue marks, received dates and schedules
    /// follow it, at the real time of day. For tests and demonstrations; default: the real date.
    #[arg(long, global = true, env = "IPRA_TODAY")]
    today: Option<String>,
    /// The region's time zone (an IANA name; default Europe/Moscow): what "today" is, when
    /// schedules fire, how pages show times. Stored times stay UTC. `time_zone`, IPRA_TIME_ZONE.
    #[arg(long = "time-zone", global = true)]
    time_zone: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web UI and API.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080); `server.listen`, IPRA_SERVER_LISTEN.
        #[arg(long)]
        listen: Option<String>,
        /// Load demo extracts first when the register is empty.
        #[arg(long)]
        demo: bool,
        /// How many demo extracts to load with --demo.
        #[arg(long, default_value_t = 300)]
        demo_count: usize,
        /// Do not run the scheduler and the exchange workers in this instance (`server.scheduler = false`).
        #[arg(long)]
        no_scheduler: bool,
        /// How often the scheduler and the workers look for work, in milliseconds (default 1000;
        /// `server.tick_ms`).
        #[arg(long)]
        tick_ms: Option<u64>,
        /// The longest a statement of a web request may run, in milliseconds (0: no limit; default
        /// 15000); background work is not limited. `server.statement_timeout_ms`.
        #[arg(long)]
        statement_timeout_ms: Option<u64>,
        /// On SIGTERM or Ctrl-C: how long requests under way (a download, a long page) may take
        /// to finish before they are cut off and the server exits, in milliseconds (default 10000;
        /// `server.shutdown_grace_ms`). A second signal exits at once.
        #[arg(long)]
        shutdown_grace_ms: Option<u64>,
        /// Requests that read (pages, lists, the card) served at once; the others wait their
        /// turn in the order they came (default: two a core, at most the request pool's 4
        /// connections on SQLite and 8 on PostgreSQL; 0: no turns). `server.concurrent_requests`.
        #[arg(long)]
        concurrent_requests: Option<u64>,
    },
    /// Import extracts (files, folders, ZIP) through the FRI connector.
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Validate and report without writing anything.
        #[arg(long)]
        dry_run: bool,
        /// Print one JSON object instead of a summary.
        #[arg(long)]
        json: bool,
        /// Connector plugin that reads the files (by default the one whose manifest reads IPRA
        /// extracts).
        #[arg(long)]
        connector: Option<String>,
    },
    /// Plugins of this installation.
    Plugins {
        #[command(subcommand)]
        action: PluginAction,
    },
    /// Набор разработчика плагинов: создать, собрать пакет.
    Plugin {
        #[command(subcommand)]
        action: cli::kit::KitAction,
    },
    /// Generate realistic demo extracts in the real FRI format and load them (or write them out).
    Demo {
        #[arg(long, default_value_t = 300)]
        count: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Write the files to this folder instead of loading them.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Benchmarks that print figures and ratios measured side by side.
    Bench {
        #[command(subcommand)]
        what: BenchWhat,
    },
    /// Apply database migrations and exit (a store of a newer release is refused, unchanged);
    /// --status shows the migrations applied and pending and the releases that opened the store.
    Migrate(cli::ops::MigrateArgs),
    /// The extract card of one IPRA (a read of personal data: logged).
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Directory of executor organisations.
    Orgs {
        #[command(subcommand)]
        command: cli::OrgsCommand,
    },
    /// Routing rules: section and territory → executor.
    Routing {
        #[command(subcommand)]
        command: cli::RoutingCommand,
    },
    /// Measures of IPRAs: list, reassign by hand, history.
    Measures {
        #[command(subcommand)]
        command: cli::MeasuresCommand,
    },
    /// Execution records: draft → ready.
    Executions {
        #[command(subcommand)]
        command: cli::ExecutionsCommand,
    },
    /// Follow-ups of department plugins; TSR clarification requests.
    FollowUps {
        #[command(subcommand)]
        command: cli::FollowUpsCommand,
    },
    /// Execution reports: assemble → awaiting signature → signed → sent → accepted / rejected.
    Reports {
        #[command(subcommand)]
        command: cli::ReportsCommand,
    },
    /// Versioned reference lists.
    Reference {
        #[command(subcommand)]
        command: cli::ReferenceCommand,
    },
    /// Overdue measures and reports (as of `--today D` when given).
    Deadlines {
        #[arg(long)]
        json: bool,
    },
    /// Statistics of execution by period, territory and department.
    Stats {
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        territory: Option<String>,
        #[arg(long)]
        section: Option<String>,
        /// OGRN of the executor organisation.
        #[arg(long)]
        org: Option<String>,
        /// Count directly in the database instead of the statistics index (slow at a region's size).
        #[arg(long, conflicts_with = "verify")]
        direct: bool,
        /// Count both ways and compare every figure, the dashboard's too: exit 1 on any difference.
        #[arg(long, conflicts_with = "figures")]
        verify: bool,
        /// Print every figure of the statistics, charts and dashboard (with --direct: counted directly).
        #[arg(long)]
        figures: bool,
        #[arg(long)]
        json: bool,
    },
    /// Scheduled jobs: list, run, dry-run, history, retry or discard failed runs, change schedules.
    Jobs {
        #[command(subcommand)]
        command: cli::exchange::JobsCommand,
    },
    /// The signing queue: sign reports, upload detached signatures, attempts.
    Sign {
        #[command(subcommand)]
        command: cli::exchange::SignCommand,
    },
    /// Exchange messages, ZAGS death records, EGISSO mappings.
    Exchange {
        #[command(subcommand)]
        command: cli::exchange::ExchangeCommand,
    },
    /// Users and their roles: add, change a password, list, issue an API token.
    Users {
        #[command(subcommand)]
        command: cli::exchange::UsersCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The configuration: check it, show what is in force.
    Config {
        #[command(subcommand)]
        command: cli::config::ConfigCommand,
    },
    /// Back up the database (a consistent snapshot, taken while the server runs) and the data
    /// directory's files to a new folder, with an inventory of SHA-256 sums; keys only with --with-keys.
    Backup(cli::ops::BackupArgs),
    /// Restore a backup into an empty data directory (and an empty database on PostgreSQL),
    /// checking every file against the inventory first.
    Restore(cli::ops::RestoreArgs),
    /// Record a confirmed death: closes the person's open measures.
    Death {
        snils: String,
        #[arg(long)]
        date: String,
        #[arg(long, default_value = "ручной ввод")]
        source: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chains of the exchange log and the audit log, against the heads anchored
    /// outside the database and any recorded by hand.
    Verify {
        /// A head recorded earlier (`ipra audit head`): SEQ:HASH for the audit log,
        /// exchange:SEQ:HASH for the exchange log; may be repeated.
        #[arg(long = "head")]
        heads: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Print the heads of the audit and exchange logs for the operator to record outside the installation.
    Head {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PluginAction {
    /// List plugins with version, kind, API range and whether they are enabled.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Enable a plugin for this installation.
    Enable { id: String },
    /// Disable a plugin for this installation.
    Disable { id: String },
    /// Install a plugin package (.ipra-plugin): its API range, hash and, where the installation
    /// requires it, vendor signature are checked; it starts disabled unless --enable is given.
    Install {
        file: PathBuf,
        /// Enable it for this installation at once.
        #[arg(long)]
        enable: bool,
    },
    /// Upgrade an installed plugin to a newer version of its package; the version replaced is kept
    /// for rollback. A running server takes the new version without a restart.
    Upgrade { file: PathBuf },
    /// Take an installed plugin out of service (kept for rollback; a built-in one of the same id serves again).
    Remove { id: String },
    /// Put back the version an upgrade or removal replaced.
    Rollback { id: String },
    /// Calls, refusals, failures and time per hook of each plugin, as this process counted them.
    Figures {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchWhat {
    /// The query plans of every page and list on a scratch register: a full scan of a large
    /// table is reported (exit 1). Fills the register first like `bench register`.
    Plans {
        #[arg(long, default_value_t = 3_000)]
        persons: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// SQLite: plan with the statistics of a region of a million persons (`ANALYZE` of the
        /// scratch register, its figures scaled), as a database an administrator analysed would.
        #[arg(long)]
        region_statistics: bool,
        #[arg(long)]
        json: bool,
    },
    /// A register of a region's size, then every page and list in process and over HTTP.
    Register {
        /// Persons of the synthetic register (about 1.1 IPRAs and 11 measures each).
        #[arg(long, default_value_t = 100_000)]
        persons: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Calls per route in process.
        #[arg(long, default_value_t = 40)]
        samples: usize,
        /// Concurrent HTTP clients.
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds of HTTP load before the measured ones (a server just started fills its caches).
        #[arg(long, default_value_t = 5)]
        warmup: u64,
        /// Seconds of measured HTTP load.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
        /// Measure in process only.
        #[arg(long)]
        no_http: bool,
        /// Only the routes whose name contains this.
        #[arg(long)]
        only: Option<String>,
        /// Writes every HTTP request of the load to this file, one line each: the route, when
        /// it started (ms from the load's start), how long it took (ms), the status.
        #[arg(long)]
        trace: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// End-to-end import against native parse-only, WASM vs native parse, call overhead, peak RSS.
    Import {
        #[arg(long, default_value_t = 2000)]
        count: usize,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
}

impl Cli {
    /// The global flags that override the configuration.
    fn flags(&self) -> cli::config::Flags {
        cli::config::Flags {
            config: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database: self.database.clone(),
            time_zone: self.time_zone.clone(),
        }
    }
}

fn main() {
    // Like any Unix tool, end quietly when the reader of our output goes away (`ipra … | head`).
    // SAFETY: called first, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // glibc gives every thread that allocates under contention an arena of its own (up to eight
    // per core) and keeps what each freed: the server's request and blocking threads would hold
    // hundreds of MiB of freed memory between them. Two arenas serve two cores' worth of threads.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called before any thread exists; mallopt only tunes the allocator.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
    let cli = Cli::parse();
    // The configuration first: the log's level and format are in it.
    let checking = matches!(cli.command, Command::Config { .. });
    let settings = match cli::config::resolve(&cli.flags(), checking) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("ошибка: {e:#}");
            std::process::exit(2);
        }
    };
    // A bench fills its register with long statements on purpose: sqlx's warnings of slow
    // statements (each with the whole statement) would bury its figures.
    let default_log = match cli.command {
        Command::Bench { .. } => "warn,ipra=info,sqlx::query=error",
        _ => "warn,ipra=info",
    };
    let level = settings.config.log.level.as_deref().unwrap_or(default_log);
    // Text or JSON lines: `[log] format`, IPRA_LOG_FORMAT (`ipra config check` names a wrong one itself).
    let log_format = match logging::Format::parse(settings.config.log.format.as_deref()) {
        Ok(format) => format,
        Err(_) if checking => logging::Format::Text,
        Err(e) => {
            eprintln!("ошибка: {e}");
            std::process::exit(2);
        }
    };
    logging::init(level, log_format);
    if !checking {
        cli::config::warn_legacy(&settings);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ошибка: не удалось запустить среду выполнения: {e}");
            std::process::exit(2);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            let message = format!("ошибка: {}", db::storage::explain(&e));
            match log_format {
                // A log collector reads stderr as JSON lines: the last one too.
                logging::Format::Json => tracing::error!(target: "ipra", "{message}"),
                logging::Format::Text => eprintln!("{message}"),
            }
            std::process::exit(2);
        }
    }
}

async fn run(cli: Cli) -> Result<i32> {
    let settings = ipra_store::config::current();
    let data_dir = settings.data_dir();
    let database = settings.database();
    // `ipra config check` reports a bad zone among the other problems.
    let zone = clock::set_zone(settings.config.time_zone.as_deref());
    if !matches!(cli.command, Command::Config { .. }) {
        zone?;
    }
    clock::fix(cli.today.as_deref(), std::env::var("IPRA_NOW").ok().as_deref())?;
    let open = || App::open(&data_dir, database.as_deref(), builtin::BUILTIN_PLUGINS);
    let actor = cli
        .actor
        .clone()
        .unwrap_or_else(|| format!("cli:{}", std::env::var("USER").unwrap_or_else(|_| "operator".into())));
    match cli.command {
        Command::Serve {
            listen,
            demo,
            demo_count,
            no_scheduler,
            tick_ms,
            statement_timeout_ms,
            shutdown_grace_ms,
            concurrent_requests,
        } => {
            let app = open().await?;
            scheduler::seed_jobs(&app).await?;
            if demo {
                demo::load_if_empty(&app, demo_count).await?;
            }
            tokio::spawn(follow_plugin_changes(app.clone()));
            let leader = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let instance = scheduler::instance_name();
            let server = &settings.config.server;
            if !no_scheduler && server.scheduler.unwrap_or(true) {
                let tick_ms = tick_ms.or(server.tick_ms).unwrap_or(1000);
                let tick = std::time::Duration::from_millis(tick_ms.max(50));
                tokio::spawn(scheduler::run_loop(app.clone(), instance.clone(), tick, leader.clone()));
            }
            let statement_timeout_ms = statement_timeout_ms.or(server.statement_timeout_ms).unwrap_or(15_000);
            let statement_timeout =
                (statement_timeout_ms > 0).then(|| std::time::Duration::from_millis(statement_timeout_ms));
            let listen = listen
                .or_else(|| server.listen.clone())
                .unwrap_or_else(|| "127.0.0.1:8080".into());
            let shutdown_grace_ms = shutdown_grace_ms.or(server.shutdown_grace_ms).unwrap_or(10_000);
            web::serve(
                app,
                &listen,
                web::Instance { name: instance, leader },
                statement_timeout,
                concurrent_requests.or(server.concurrent_requests).map(|n| n as usize),
                std::time::Duration::from_millis(shutdown_grace_ms),
            )
            .await?;
            Ok(0)
        }
        Command::Import {
            paths,
            dry_run,
            json,
            connector,
        } => {
            let app = open().await?;
            let report = import_paths(&app, &paths, dry_run, "cli", connector.as_deref(), !json).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                print_report(&report);
            }
            Ok(if report.rejected.is_empty() { 0 } else { 1 })
        }
        Command::Plugins { action } => {
            let app = open().await?;
            match action {
                PluginAction::List { json } => print_plugins(&app, json)?,
                PluginAction::Enable { id } => {
                    app.set_plugin_enabled(&id, true, &actor).await?;
                    println!("плагин «{id}» включён");
                }
                PluginAction::Disable { id } => {
                    app.set_plugin_enabled(&id, false, &actor).await?;
                    println!("плагин «{id}» отключён");
                }
                PluginAction::Install { file, enable } => {
                    let change = install_file(&app, &file, plugins::install::Mode::Install, &actor).await?;
                    print_change("установлен", &change);
                    if enable {
                        app.set_plugin_enabled(&change.id, true, &actor).await?;
                        println!("плагин «{}» включён", change.id);
                    } else {
                        println!(
                            "плагин отключён, пока его не включат: ipra plugins enable {}",
                            change.id
                        );
                    }
                }
                PluginAction::Upgrade { file } => {
                    let change = install_file(&app, &file, plugins::install::Mode::Upgrade, &actor).await?;
                    print_change("обновлён", &change);
                }
                PluginAction::Remove { id } => {
                    let change = app.remove_plugin(&id, &actor).await?;
                    print_change("удалён", &change);
                }
                PluginAction::Rollback { id } => {
                    let change = app.rollback_plugin(&id, &actor).await?;
                    print_change("возвращён к прежней версии", &change);
                }
                PluginAction::Figures { json } => print_figures(&app, json)?,
            }
            Ok(0)
        }
        Command::Plugin { action } => cli::kit::run(action).map(|()| 0),
        Command::Demo { count, seed, out } => {
            match out {
                Some(dir) => {
                    let written = demo::write_files(&dir, count, seed)?;
                    println!("записано {written} выписок в {}", dir.display());
                }
                None => {
                    let app = open().await?;
                    let report = demo::load(&app, count, seed).await?;
                    print_report(&report);
                    demo::create_users(&app, seed).await?;
                }
            }
            Ok(0)
        }
        Command::Bench {
            what: BenchWhat::Import { count, json, seed },
        } => {
            let app = open().await?;
            bench::import(&app, count, seed, json).await?;
            Ok(0)
        }
        Command::Bench {
            what:
                BenchWhat::Register {
                    persons,
                    seed,
                    samples,
                    clients,
                    warmup,
                    seconds,
                    no_http,
                    only,
                    trace,
                    json,
                },
        } => {
            // A scratch register of its own: a folder of the data directory named by its shape (a
            // rerun measures it again without filling), or the scratch database given.
            let dir = data_dir.join("bench").join(format!("register-{persons}-{seed}"));
            let app = App::open(&dir, database.as_deref(), builtin::BUILTIN_PLUGINS).await?;
            let opts = bench_register::Options {
                persons,
                seed,
                samples,
                clients,
                http_warmup: warmup,
                http_seconds: seconds,
                no_http,
                json,
                database: database.clone(),
                only,
                trace,
            };
            let figures = bench_register::run(&app, &opts).await?;
            if json {
                println!("{}", serde_json::to_string(&figures)?);
            } else {
                bench_register::print(&figures);
            }
            Ok(0)
        }
        Command::Bench {
            what:
                BenchWhat::Plans {
                    persons,
                    seed,
                    region_statistics,
                    json,
                },
        } => {
            let dir = data_dir.join("bench").join(format!("register-{persons}-{seed}"));
            let app = App::open(&dir, database.as_deref(), builtin::BUILTIN_PLUGINS).await?;
            let opts = bench_register::Options {
                persons,
                seed,
                samples: 1,
                clients: 0,
                http_warmup: 0,
                http_seconds: 0,
                no_http: true,
                json,
                database: database.clone(),
                only: None,
                trace: None,
            };
            let report = bench_register::plans(&app, &opts, region_statistics).await?;
            if json {
                println!("{}", serde_json::to_string(&report)?);
            } else {
                println!(
                    "{} маршрутов, {} запросов ({}); полных просмотров больших таблиц: {}",
                    report.routes,
                    report.statements,
                    report.database,
                    report.full_scans.len()
                );
                for f in &report.full_scans {
                    println!(
                        "\n{} — {}\n  {}\n  {}",
                        f.context,
                        f.full_scans.join(", "),
                        f.sql,
                        f.plan.join("\n  ")
                    );
                }
            }
            Ok(if report.full_scans.is_empty() { 0 } else { 1 })
        }
        Command::Migrate(args) => cli::ops::migrate(args, &data_dir, database.as_deref(), open).await,
        Command::Show { id, json } => cli::show(&open().await?, id, json, &actor).await,
        Command::Orgs { command } => cli::orgs(&open().await?, command, &actor).await,
        Command::Routing { command } => cli::routing(&open().await?, command, &actor).await,
        Command::Measures { command } => cli::measures(&open().await?, command, &actor).await,
        Command::Executions { command } => cli::executions(&open().await?, command, &actor).await,
        Command::FollowUps { command } => cli::follow_ups(&open().await?, command, &actor).await,
        Command::Reports { command } => cli::reports(&open().await?, command, &actor).await,
        Command::Reference { command } => cli::reference_lists(&open().await?, command, &actor).await,
        Command::Deadlines { json } => cli::overdue(&open().await?, json).await,
        Command::Stats {
            from,
            to,
            territory,
            section,
            org,
            direct,
            verify,
            figures,
            json,
        } => {
            let filter = register::stats::StatsFilter {
                from,
                to,
                territory,
                section,
                organisation: org,
            };
            let mode = match (direct, verify, figures) {
                (_, true, _) => cli::StatsMode::Verify,
                (direct, _, true) => cli::StatsMode::Figures(direct),
                (true, _, _) => cli::StatsMode::Direct,
                _ => cli::StatsMode::Index,
            };
            cli::statistics(&open().await?, filter, mode, json).await
        }
        Command::Jobs { command } => cli::exchange::jobs(&open().await?, command, &actor).await,
        Command::Sign { command } => cli::exchange::sign(&open().await?, command, &actor).await,
        Command::Exchange { command } => cli::exchange::exchange_command(&open().await?, command, &actor).await,
        Command::Users { command } => cli::exchange::users(&open().await?, command, &actor).await,
        Command::Audit {
            command: AuditCommand::Verify { heads, json },
        } => cli::audit::verify(&open().await?, &heads, json).await,
        Command::Audit {
            command: AuditCommand::Head { json },
        } => cli::audit::head(&open().await?, json).await,
        Command::Config { command } => cli::config::run(command, &settings, database.as_deref(), &data_dir).await,
        Command::Backup(args) => cli::ops::backup(args, &data_dir, database.as_deref()).await,
        Command::Restore(args) => cli::ops::restore(args, &data_dir, database.as_deref()).await,
        Command::Death { snils, date, source } => cli::death(&open().await?, &snils, &date, &source, &actor).await,
    }
}

/// Imports files and folders from the command line, with a progress bar on a terminal.
pub async fn import_paths(
    app: &App,
    paths: &[PathBuf],
    dry_run: bool,
    origin: &str,
    connector: Option<&str>,
    show_progress: bool,
) -> Result<ImportReport> {
    let bar = std::sync::Mutex::new(None);
    let progress = |total: usize| -> Option<exchange::files::Progress> {
        if !show_progress || !std::io::stderr().is_terminal() || total <= 20 {
            return None;
        }
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} выписок, {per_sec}, осталось {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        *bar.lock().unwrap_or_else(|e| e.into_inner()) = Some(b.clone());
        Some(Arc::new(move |done| b.set_position(done)))
    };
    let report = exchange::files::import_paths(app, paths, dry_run, origin, connector, &progress).await;
    if let Some(b) = bar.into_inner().unwrap_or_else(|e| e.into_inner()) {
        b.finish_and_clear();
    }
    report
}

fn print_report(report: &ImportReport) {
    let mode = if report.dry_run {
        " (проверка без записи)"
    } else {
        ""
    };
    println!(
        "Файлов: {}{mode}. Загружено ИПРА: {}, без изменений: {}, заменено более новыми: {}, отклонено: {}.",
        report.files,
        report.imported,
        report.unchanged,
        report.superseded,
        report.rejected.len()
    );
    for r in &report.rejected {
        println!(
            "  отклонено: {} | запись: {} | поле: {} | {} ({})",
            r.file,
            r.record.as_deref().unwrap_or("—"),
            r.field.as_deref().unwrap_or("—"),
            r.message,
            r.code
        );
    }
    if !report.rejected.is_empty() && !report.dry_run {
        println!("Отклонённые файлы не загружены и скопированы в каталог карантина вместе с причинами.");
    }
    for w in &report.warnings {
        println!(
            "  предупреждение: {} | запись: {} | {}",
            w.file,
            w.record.as_deref().unwrap_or("—"),
            w.message
        );
    }
    if let Some(why) = &report.stopped {
        println!("{why}.");
        println!(
            "Не обработано файлов: {} (ничего из них не сохранено):",
            report.not_processed.len()
        );
        for name in &report.not_processed {
            println!("  {name}");
        }
    }
}

/// A running server takes plugins installed, upgraded, removed or rolled back from the command
/// line on its data directory within two seconds, without a restart.
async fn follow_plugin_changes(app: App) {
    let mut seen = plugins::install::generation(&app.plugins_dir());
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        match app.follow_plugin_changes(&mut seen).await {
            Ok(true) => tracing::info!("installed plugins changed; the new set is in effect"),
            Ok(false) => {}
            Err(e) => tracing::error!("could not take the changed plugins: {e:#}"),
        }
    }
}

/// Installs or upgrades from a package file; a refusal names the file.
async fn install_file(
    app: &App,
    file: &std::path::Path,
    mode: plugins::install::Mode,
    actor: &str,
) -> Result<plugins::install::Change> {
    let bytes = std::fs::read(file).with_context(|| format!("{} не читается", file.display()))?;
    app.install_plugin(bytes, mode, actor)
        .await
        .with_context(|| format!("{}: пакет не установлен", file.display()))
}

fn print_change(what: &str, change: &plugins::install::Change) {
    println!(
        "плагин «{}» {what}: версия {}{}{}",
        change.id,
        change.version.as_deref().unwrap_or("— (больше не действует)"),
        change
            .replaced
            .as_deref()
            .map(|v| format!(", вместо {v}"))
            .unwrap_or_default(),
        change
            .signed_by
            .as_deref()
            .map(|v| format!(", подпись поставщика «{v}» проверена"))
            .unwrap_or_default()
    );
}

fn print_figures(app: &App, json: bool) -> Result<()> {
    let figures = app.plugins.figures().snapshot();
    if json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<9} {:>8} {:>8} {:>8} {:>10} {:>10}",
        "ПЛАГИН", "ХУК", "ВЫЗОВЫ", "ОТКАЗЫ", "СБОИ", "p50, мс", "p99, мс"
    );
    let ms = |q: Option<f64>| q.map_or("—".to_string(), |s| format!("≤{}", s * 1000.0));
    for (plugin, hook, f) in figures {
        println!(
            "{:<20} {:<9} {:>8} {:>8} {:>8} {:>10} {:>10}",
            plugin,
            hook.as_str(),
            f.calls,
            f.refusals,
            f.failures,
            ms(f.quantile(0.5)),
            ms(f.quantile(0.99))
        );
    }
    Ok(())
}

fn print_plugins(app: &App, json: bool) -> Result<()> {
    let summaries = app.plugins.summaries();
    if json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
        return Ok(());
    }
    println!(
        "{:<20} {:<9} {:<10} {:<7} {:<10} {:<9} НАИМЕНОВАНИЕ",
        "ID", "ВЕРСИЯ", "ВИД", "API", "ИНТЕРФЕЙС", "ВКЛЮЧЁН"
    );
    for p in &summaries {
        println!(
            "{:<20} {:<9} {:<10} {:<7} {:<10} {:<9} {}",
            p.id,
            p.version,
            p.kind,
            p.api,
            p.interface,
            if p.enabled { "да" } else { "нет" },
            p.name
        );
    }
    for r in app.plugins.refused() {
        println!("ОТКЛОНЁН {} ({}): {}", r.id.as_deref().unwrap_or("?"), r.path, r.reason);
    }
    Ok(())
}
