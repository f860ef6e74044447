//! `ipra bench register`: a register of a region's size (synthetic, written through the register's
//! bulk path, see `fill`), then every page and API list measured twice in one run — in process
//! (the router called directly: p50/p95/p99 over repeated calls with varied filters and pages) and
//! over HTTP against a running `ipra serve` with 32 clients keeping real connections (`load`) —
//! plus the server's peak RSS, the statistics index's load time and the database's size.

mod load;

use crate::synthetic as fill;
use fill::{count_register, fill_executor, samples, social_executor, Samples};

use crate::app::App;
use anyhow::{bail, Result};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tower::ServiceExt;

pub struct Options {
    pub persons: u64,
    pub seed: u64,
    /// Calls per route in process.
    pub samples: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// How long the HTTP load runs unmeasured first, then measured.
    pub http_warmup: u64,
    pub http_seconds: u64,
    /// Skip the HTTP part (in process only).
    pub no_http: bool,
    pub json: bool,
    /// The database URL the bench runs on (the HTTP server is started on the same).
    pub database: Option<String>,
    /// Only the routes whose name contains this (a profile of one route).
    pub only: Option<String>,
    /// Where every HTTP request of the load is written (route, start, time, status).
    pub trace: Option<std::path::PathBuf>,
}

#[derive(Debug, Default, Serialize)]
pub struct RouteFigures {
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub http_p99_ms: Option<f64>,
    pub http_requests: usize,
    /// Responses other than 200 seen over HTTP (time-outs, errors).
    pub http_errors: usize,
}

#[derive(Debug, Default, Serialize)]
pub struct RegisterBench {
    pub persons: i64,
    pub ipras: i64,
    pub measures: i64,
    pub executions: i64,
    pub organisations: i64,
    pub database: &'static str,
    pub db_mib: f64,
    pub fill_seconds: Option<f64>,
    pub index_load_ms: f64,
    pub serve_rss_mib: Option<f64>,
    pub http_clients: usize,
    pub http_requests_per_s: Option<f64>,
    /// The server's processor time per request over the HTTP load (ms, all threads).
    pub serve_cpu_ms_per_request: Option<f64>,
    pub routes: BTreeMap<String, RouteFigures>,
}

/// A route measured: its name in the figures and the concrete requests it cycles through.
pub struct Route {
    pub name: String,
    pub paths: Vec<String>,
    pub user: User,
}

/// Who asks: the regional coordinator, an executor (scoped to a clinic), an executor of a
/// social-protection organisation, an administrator, an MSE bureau (scoped to the IPRAs its
/// institution issued).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    Coordinator,
    Executor,
    SocialExecutor,
    Administrator,
    Bureau,
}

fn route(name: &str, paths: Vec<String>) -> Route {
    Route {
        name: name.to_string(),
        paths,
        user: User::Coordinator,
    }
}

fn as_user(mut r: Route, user: User) -> Route {
    r.user = user;
    r
}

/// The session cookies of the bench's users.
pub struct Cookies {
    pub coordinator: String,
    pub executor: String,
    pub social_executor: String,
    pub administrator: String,
    pub bureau: String,
}

impl Cookies {
    pub fn of(&self, user: User) -> &str {
        match user {
            User::Coordinator => &self.coordinator,
            User::Executor => &self.executor,
            User::SocialExecutor => &self.social_executor,
            User::Administrator => &self.administrator,
            User::Bureau => &self.bureau,
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

const COORDINATOR: (&str, &str) = ("bench-coordinator", "нагрузочный тест координатора");
const EXECUTOR: (&str, &str) = ("bench-executor", "нагрузочный тест исполнителя");
const SOCIAL_EXECUTOR: (&str, &str) = ("bench-social-executor", "нагрузочный тест соцзащиты");
const ADMINISTRATOR: (&str, &str) = ("bench-administrator", "нагрузочный тест администратора");
const BUREAU: (&str, &str) = ("bench-bureau", "нагрузочный тест бюро МСЭ");

/// Logins of the bench's users (created once), as session cookies.
async fn sessions(app: &App) -> Result<Cookies> {
    use crate::auth::{self, Role};
    let executor_ogrn = fill_executor(app).await?;
    let social_ogrn = social_executor(app).await?;
    let users = auth::list_users(&app.db).await?;
    for (login, password, role, ogrn) in [
        (COORDINATOR.0, COORDINATOR.1, Role::Coordinator, None),
        (EXECUTOR.0, EXECUTOR.1, Role::Executor, Some(executor_ogrn.as_str())),
        (
            SOCIAL_EXECUTOR.0,
            SOCIAL_EXECUTOR.1,
            Role::Executor,
            Some(social_ogrn.as_str()),
        ),
        (ADMINISTRATOR.0, ADMINISTRATOR.1, Role::Administrator, None),
    ] {
        if !users.iter().any(|u| u.login == login) {
            auth::add_user(&app.db, login, login, role, ogrn, password, "bench").await?;
        }
    }
    if !users.iter().any(|u| u.login == BUREAU.0) {
        // The bureau of the register's first institution.
        let issuer = crate::register::query::issuing_institutions(&app.db)
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| "бюро МСЭ".into());
        auth::add_bureau_user(&app.db, BUREAU.0, BUREAU.0, &issuer, BUREAU.1, "bench").await?;
    }
    let mut cookies = Vec::new();
    for (login, password) in [COORDINATOR, EXECUTOR, SOCIAL_EXECUTOR, ADMINISTRATOR, BUREAU] {
        let (session, _) = auth::login(&app.db, login, password, None)
            .await
            .map_err(|e| anyhow::anyhow!("вход {login}: {e}"))?;
        cookies.push(format!("{}={}", crate::web::auth::web::SESSION_COOKIE, session.token));
    }
    Ok(Cookies {
        coordinator: cookies.remove(0),
        executor: cookies.remove(0),
        social_executor: cookies.remove(0),
        administrator: cookies.remove(0),
        bureau: cookies.remove(0),
    })
}

fn enc(v: &str) -> String {
    ipra_store::paging::urlencode(v)
}

/// Every page and list the issue names, each with varied filters and pages.
fn routes(s: &Samples) -> Vec<Route> {
    let mut r = Vec::new();
    let list = |q: &str| format!("/api/v1/ipras?{q}");
    r.push(route("ipras", vec![list(""), list("per_page=50")]));
    for sort in crate::register::query::SORTABLE {
        r.push(route(
            &format!("ipras sort={sort}"),
            vec![
                list(&format!("sort={sort}&dir=asc")),
                list(&format!("sort={sort}&dir=desc")),
            ],
        ));
    }
    r.push(route(
        "ipras territory",
        s.territories
            .iter()
            .take(10)
            .map(|t| list(&format!("territory={t}")))
            .collect(),
    ));
    r.push(route(
        "ipras kind+status",
        vec![
            list("kind=child"),
            list("status=closed"),
            list("status=superseded&kind=adult"),
        ],
    ));
    r.push(route(
        "ipras section",
        ["health", "education", "tsr", "sport"]
            .iter()
            .map(|x| list(&format!("section={x}")))
            .collect(),
    ));
    r.push(route(
        "ipras target group, early help",
        vec![
            list(&format!("target_group={}", enc("ЦРГ 3"))),
            list(&format!("target_group={}", enc("ЦРГ 12"))),
            list("early_help=1"),
            list(&format!("target_group={}&kind=child", enc("ЦРГ 2"))),
        ],
    ));
    r.push(route(
        "ipras overdue",
        vec![list("overdue=1"), list("overdue=1&sort=overdue")],
    ));
    r.push(route(
        "ipras assigned",
        vec![
            list(&format!("assigned={}", s.organisation)),
            list(&format!("assigned={}", s.big_organisation)),
        ],
    ));
    r.push(route(
        "ipras combined",
        s.territories
            .iter()
            .take(5)
            .map(|t| list(&format!("territory={t}&kind=child&status=closed&section=health")))
            .collect(),
    ));
    r.push(route(
        "ipras issued_by+decision",
        vec![
            list(&format!("issued_by={}", enc(&s.issued_by))),
            list("decision_from=2024-01-01&decision_to=2024-01-31"),
            list("decision_from=2021-06-01"),
        ],
    ));
    r.push(route(
        "ipras q=surname",
        s.surnames.iter().map(|x| list(&format!("q={}", enc(x)))).collect(),
    ));
    r.push(route(
        "ipras q=full name",
        s.full_names.iter().map(|x| list(&format!("q={}", enc(x)))).collect(),
    ));
    r.push(route(
        "ipras q=snils",
        s.snils.iter().map(|x| list(&format!("q={x}"))).collect(),
    ));
    r.push(route(
        "ipras q=number",
        s.numbers.iter().map(|x| list(&format!("q={}", enc(x)))).collect(),
    ));
    r.push(route(
        "ipras exact fields",
        s.protocol_numbers
            .iter()
            .map(|x| list(&format!("protocol_number={}", enc(x))))
            .chain(s.protocol_dates.iter().map(|x| list(&format!("protocol_date={x}"))))
            .chain(s.snils.iter().map(|x| list(&format!("snils={x}"))))
            .collect(),
    ));
    r.push(route(
        "ipras deep page",
        s.deep
            .iter()
            .map(|c| list(&format!("after={c}")))
            .chain([list("before=end")])
            .collect(),
    ));
    r.push(route(
        "ipras page=200",
        vec![list("page=200"), list("page=100&sort=number")],
    ));
    r.push(as_user(
        route(
            "ipras (executor)",
            vec![list(""), list("overdue=1"), list("sort=fio"), list("q=А")],
        ),
        User::Executor,
    ));
    r.push(as_user(
        route(
            "ipras (bureau)",
            vec![list(""), list("sort=fio"), list("q=А"), list("overdue=1")],
        ),
        User::Bureau,
    ));
    r.push(route(
        "ipra card",
        s.ipra_ids.iter().map(|id| format!("/api/v1/ipras/{id}")).collect(),
    ));
    r.push(route(
        "execution-register",
        vec![
            "/api/v1/execution-register".into(),
            "/api/v1/execution-register?status=accepted".into(),
            format!("/api/v1/execution-register?surname={}", enc(&s.surnames[0])),
        ],
    ));
    r.push(as_user(
        route(
            "execution-register (executor)",
            vec!["/api/v1/execution-register".into()],
        ),
        User::Executor,
    ));
    r.push(route(
        "reports",
        vec!["/api/v1/reports".into(), "/api/v1/reports?status=accepted".into()],
    ));
    r.push(route(
        "stats",
        vec![
            "/api/v1/stats".into(),
            "/api/v1/stats?from=2024-01-01&to=2024-12-31".into(),
            format!("/api/v1/stats?territory={}", s.territories[1]),
            "/api/v1/stats?section=tsr".into(),
            format!("/api/v1/stats?organisation={}", s.organisation),
        ],
    ));
    r.push(route("stats charts", vec!["/api/v1/stats/charts".into()]));
    r.push(route("dashboard", vec!["/api/v1/dashboard".into()]));
    r.push(route(
        "dashboard overdue",
        vec![
            "/api/v1/dashboard/overdue".into(),
            "/api/v1/dashboard/overdue?section=health".into(),
            format!("/api/v1/dashboard/overdue?org={}", s.organisation),
            format!("/api/v1/dashboard/overdue?territory={}", s.territories[2]),
            "/api/v1/dashboard/overdue?sort=-due&page=40".into(),
        ],
    ));
    r.push(route("unassigned queue", vec!["/api/v1/dashboard/unassigned".into()]));
    r.push(route("deadlines", vec!["/api/v1/deadlines/overdue".into()]));
    r.push(as_user(
        route(
            "audit log",
            vec![
                "/api/v1/audit/log".into(),
                "/api/v1/audit/log?action=ipra.read".into(),
                "/api/v1/audit/log?from=2024-03-01&to=2024-03-31".into(),
            ],
        ),
        User::Administrator,
    ));
    r.push(route(
        "exchange messages",
        vec![
            "/api/v1/exchange/messages".into(),
            "/api/v1/exchange/messages?status=failed".into(),
        ],
    ));
    r.push(route("zags decisions", vec!["/api/v1/exchange/deaths".into()]));
    r.push(route(
        "egisso facts",
        vec![
            "/api/v1/egisso/facts".into(),
            "/api/v1/egisso/facts?status=rejected".into(),
        ],
    ));
    r.push(route(
        "page /",
        vec!["/".into(), format!("/?territory={}&sort=fio", s.territories[0])],
    ));
    r.push(route(
        "page card",
        s.ipra_ids.iter().take(5).map(|id| format!("/ipras/{id}")).collect(),
    ));
    r.push(route(
        "tsr requests",
        vec![
            "/api/v1/tsr-clarifications".into(),
            "/api/v1/tsr-clarifications?status=open".into(),
            "/api/v1/tsr-clarifications?overdue=true".into(),
            format!("/api/v1/tsr-clarifications?territory={}", s.territories[0]),
            "/api/v1/tsr-clarifications?from=2024-03-01&to=2024-03-31".into(),
            "/tsr-clarifications?status=closed".into(),
        ],
    ));
    r.push(as_user(
        route(
            "tsr requests (executor)",
            vec!["/api/v1/tsr-clarifications?status=sent".into()],
        ),
        User::Executor,
    ));
    let recipients = |q: &str| format!("/api/v1/social-service-recipients?{q}");
    r.push(route(
        "recipients",
        vec![
            recipients(""),
            recipients("sort=name"),
            recipients(&format!("q={}", enc("Ива"))),
            recipients(&format!("q={}", enc("112-233-445 95"))),
            recipients(&format!("q={}", enc("ИПРА-1"))),
            recipients(&format!("territory={}&sort=name", s.territories[0])),
            recipients("added_from=2024-01-01&added_to=2024-03-31"),
            recipients("state=current&sent=no"),
            recipients("state=deceased&sort=name"),
            recipients(&format!("after={}", enc("100:2024-03-01T10:00:00+03:00"))),
            recipients(&format!("sort=name&after={}", enc("100:ИВАНОВ"))),
        ],
    ));
    r.push(as_user(
        route(
            "recipients (executor)",
            vec![
                recipients(""),
                recipients("sort=name"),
                recipients(&format!("q={}", enc("Ива"))),
            ],
        ),
        User::Executor,
    ));
    r.push(as_user(
        route(
            "recipients (social protection)",
            vec![
                recipients(""),
                recipients("sort=name"),
                recipients(&format!("q={}", enc("Ива"))),
            ],
        ),
        User::SocialExecutor,
    ));
    r.push(route("page recipients", vec!["/recipients".into()]));
    r.push(route("page stats", vec!["/stats".into()]));
    r.push(route("page dashboard", vec!["/dashboard".into()]));
    r.push(route("page executions", vec!["/executions".into()]));
    r.push(route("page reports", vec!["/reports".into()]));
    r.push(as_user(
        route("page audit", vec!["/admin/audit".into()]),
        User::Administrator,
    ));
    r.push(route("page messages", vec!["/admin/messages".into()]));
    r.push(route("page deaths", vec!["/admin/deaths".into()]));
    r.push(route(
        "page egisso",
        vec!["/admin/egisso".into(), "/admin/egisso/facts?status=rejected".into()],
    ));
    r
}

/// Fills an empty scratch register with the shape (nothing when it is already filled by the bench).
async fn ensure_filled(app: &App, opts: &Options) -> Result<Option<f64>> {
    let shape = fill::Shape::new(opts.persons, opts.seed);
    let region = fill::Region::new(&shape);
    let empty = fill::register_is_empty(app).await?;
    let made_by_bench = crate::auth::list_users(&app.db)
        .await?
        .iter()
        .any(|u| u.login == COORDINATOR.0);
    if !empty && !made_by_bench {
        bail!("в этой базе уже есть реестр, созданный не нагрузочным тестом: укажите пустую базу (--database)");
    }
    if !empty {
        if !opts.json {
            eprintln!("Реестр уже заполнен: измеряется то, что в нём есть (новый каталог данных — новое заполнение).");
        }
        // A register filled before the audit log had a chain: sealed once here, not by the
        // server's leader in the middle of the measurements.
        crate::audit::seal(&app.db, Some(&crate::audit::anchor_file(&app.data_dir))).await?;
        return Ok(None);
    }
    eprintln!(
        "Заполнение реестра: {} человек, {} организаций, {} территорий…",
        opts.persons,
        region.organisation_count(),
        region.territories.len()
    );
    let started = Instant::now();
    region.store(app).await?;
    let total = opts.persons;
    fill::fill(app, &shape, &region, &|w| {
        if w.persons % 50_000 == 0 || w.persons == total {
            eprintln!(
                "  {} человек, {} ИПРА, {} мероприятий, {} записей исполнения — {:.0} с",
                w.persons,
                w.ipras,
                w.measures,
                w.executions,
                started.elapsed().as_secs_f64()
            );
        }
    })
    .await?;
    // The audit trail the fill wrote joins the chain, as the server's leader would seal it.
    crate::audit::seal(&app.db, Some(&crate::audit::anchor_file(&app.data_dir))).await?;
    Ok(Some(started.elapsed().as_secs_f64()))
}

/// What `ipra bench plans` found: every statement the pages and lists ran, and its plan.
#[derive(Debug, Serialize)]
pub struct PlansReport {
    pub database: &'static str,
    pub routes: usize,
    pub statements: usize,
    pub full_scans: Vec<crate::plans::Finding>,
    pub findings: Vec<crate::plans::Finding>,
}

/// Every route of the bench called once in process while its statements are recorded, then each
/// statement explained: the plan check a demo-size register can run (see `plans`).
///
/// With `region_statistics`, SQLite plans with the statistics of a region of a million persons
/// ([`crate::plans::region_statistics`]); without, as a register never analysed.
pub async fn plans(app: &App, opts: &Options, region_statistics: bool) -> Result<PlansReport> {
    ensure_filled(app, opts).await?;
    let factor = (1_000_000 / opts.persons.max(1)).max(1);
    crate::plans::region_statistics(&app.db, region_statistics.then_some(factor)).await?;
    app.facts.refresh(&app.db).await?;
    let cookies = sessions(app).await?;
    let samples = samples(app).await?;
    let routes = routes(&samples);
    let router = crate::web::router(
        app.clone(),
        crate::web::Instance {
            name: "plans".into(),
            leader: Default::default(),
        },
    );
    let mut recorded = Vec::new();
    for r in &routes {
        for path in &r.paths {
            let request = Request::get(path.as_str())
                .header("Cookie", cookies.of(r.user))
                .body(Body::empty())?;
            let (response, statements) = crate::plans::recording(&format!("{} {path}", r.name), async {
                let response = router.clone().oneshot(request).await?;
                let status = response.status();
                let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
                anyhow::Ok((status, body))
            })
            .await;
            let (status, body) = response?;
            if status != StatusCode::OK {
                bail!(
                    "{path}: {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
            }
            recorded.extend(statements);
        }
    }
    // And the statements by which scheduled jobs select their work (the facts upload's).
    recorded.extend(crate::register::egisso::selection_statements(app.db.engine));
    recorded.extend(crate::register::social_services::selection_statements());
    let findings = crate::plans::check(&app.db, &recorded).await?;
    Ok(PlansReport {
        database: app.db.engine.name(),
        routes: routes.len(),
        statements: findings.len(),
        full_scans: findings.iter().filter(|f| !f.full_scans.is_empty()).cloned().collect(),
        findings,
    })
}

pub async fn run(app: &App, opts: &Options) -> Result<RegisterBench> {
    let mut out = RegisterBench {
        database: app.db.engine.name(),
        http_clients: opts.clients,
        ..RegisterBench::default()
    };
    out.fill_seconds = ensure_filled(app, opts).await?;
    let counts = count_register(app).await?;
    out.persons = counts.persons;
    out.ipras = counts.ipras;
    out.measures = counts.measures;
    out.executions = counts.executions;
    out.organisations = counts.organisations;
    out.db_mib = fill::database_mib(app).await?;

    let started = Instant::now();
    app.facts.refresh(&app.db).await?;
    out.index_load_ms = started.elapsed().as_secs_f64() * 1000.0;
    let cookies = sessions(app).await?;
    let samples = samples(app).await?;
    let mut routes = routes(&samples);
    if let Some(only) = &opts.only {
        routes.retain(|r| r.name.contains(only.as_str()));
    }

    // In process: the router called directly, one request at a time, on the pool `ipra serve`
    // gives requests (its connections' settings), with no statement time-out.
    let (request_db, _rules) = app.db.interactive(None).await?;
    let mut requests = app.clone();
    requests.db = request_db;
    let router = crate::web::router(
        requests,
        crate::web::Instance {
            name: "bench".into(),
            leader: Default::default(),
        },
    );
    eprintln!(
        "Измерение в процессе: {} маршрутов по {} вызовов…",
        routes.len(),
        opts.samples
    );
    for r in &routes {
        let cookie = cookies.of(r.user);
        let mut times = Vec::with_capacity(opts.samples);
        for i in 0..opts.samples + 2 {
            let path = &r.paths[i % r.paths.len()];
            let request = Request::get(path.as_str())
                .header("Cookie", cookie)
                .body(Body::empty())?;
            let t = Instant::now();
            let response = router.clone().oneshot(request).await?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if status != StatusCode::OK {
                bail!(
                    "{path}: {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                );
            }
            if i >= 2 {
                times.push(ms);
            }
        }
        times.sort_by(f64::total_cmp);
        let figures = RouteFigures {
            p50_ms: percentile(&times, 50.0),
            p95_ms: percentile(&times, 95.0),
            p99_ms: percentile(&times, 99.0),
            ..RouteFigures::default()
        };
        if !opts.json {
            eprintln!(
                "  {:<34} p50 {:>8.1} ms  p95 {:>8.1} ms  p99 {:>8.1} ms",
                r.name, figures.p50_ms, figures.p95_ms, figures.p99_ms
            );
        }
        out.routes.insert(r.name.clone(), figures);
    }

    if !opts.no_http {
        let load = load::Load {
            clients: opts.clients,
            warmup: opts.http_warmup,
            seconds: opts.http_seconds,
            trace: opts.trace.as_deref(),
        };
        let report = load::run(app, opts.database.as_deref(), &routes, &cookies, &load).await?;
        out.serve_rss_mib = Some(report.peak_rss_mib);
        out.http_requests_per_s = Some(report.requests_per_s);
        out.serve_cpu_ms_per_request = Some(report.cpu_ms_per_request);
        for (name, figures) in report.routes {
            if let Some(f) = out.routes.get_mut(&name) {
                f.http_p99_ms = (figures.requests > 0).then_some(figures.p99_ms);
                f.http_requests = figures.requests;
                f.http_errors = figures.errors;
            }
        }
    }
    Ok(out)
}

/// Prints the figures as a table.
pub fn print(b: &RegisterBench) {
    println!(
        "Реестр: {} человек, {} ИПРА, {} мероприятий, {} записей исполнения, {} организаций; база {} — {:.0} МиБ",
        b.persons, b.ipras, b.measures, b.executions, b.organisations, b.database, b.db_mib
    );
    if let Some(s) = b.fill_seconds {
        println!("Заполнение: {s:.0} с");
    }
    println!("Индекс статистики загружен за {:.0} мс", b.index_load_ms);
    if let Some(rss) = b.serve_rss_mib {
        println!(
            "ipra serve под нагрузкой {} клиентов: пик RSS {rss:.0} МиБ, {:.0} запросов/с, {:.1} мс процессора на запрос",
            b.http_clients,
            b.http_requests_per_s.unwrap_or(0.0),
            b.serve_cpu_ms_per_request.unwrap_or(0.0)
        );
    }
    println!(
        "{:<34} {:>9} {:>9} {:>9} {:>12} {:>7}",
        "маршрут", "p50 мс", "p95 мс", "p99 мс", "HTTP p99 мс", "ошибок"
    );
    for (name, f) in &b.routes {
        println!(
            "{:<34} {:>9.1} {:>9.1} {:>9.1} {:>12} {:>7}",
            name,
            f.p50_ms,
            f.p95_ms,
            f.p99_ms,
            f.http_p99_ms.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into()),
            f.http_errors
        );
    }
}

/// Waits for a child's health endpoint to report the statistics index ready.
pub(crate) async fn wait_ready(addr: &str, limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok((status, body)) = load::get_once(addr, "/api/v1/health", None).await {
            if status == 200 && body.contains("\"statistics_index\":\"ready\"") {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("ipra serve не ответил готовностью за {} с", limit.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
