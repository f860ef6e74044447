//! The interactive rules of `ipra serve` end to end, on SQLite and PostgreSQL: a request whose
//! statement runs past the statement time-out is cut off with a Russian 503 while the server
//! keeps serving others, and a client that goes away has its statement stopped at once. The slow
//! statement is the administrators' diagnostic route (`/api/v1/admin/diagnostics/slow-query`).

mod common;

use common::{http, login, Backend, Env, BACKENDS};
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

fn env_with_users(backend: Backend) -> Env {
    let env = Env::new(backend);
    env.add_user("admin", "administrator", None, PASSWORD);
    env.add_user("coordinator", "coordinator", None, PASSWORD);
    env
}

/// Sends a GET and leaves the answer unread: the caller drops the stream to go away.
fn start_get(addr: &str, path: &str, cookie: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n"
    )
    .expect("send");
    stream
}

/// PostgreSQL backends of this database running the diagnostic's `pg_sleep` now.
fn sleeping_backends(env: &Env) -> i64 {
    env.scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' \
         AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()",
    )
}

#[test]
fn a_slow_statement_is_cut_off_while_others_are_served() {
    for backend in BACKENDS {
        let env = env_with_users(backend);
        let server = env.serve(&["--statement-timeout-ms", "4000"]);
        let addr = server.addr.clone();
        let (cookie, _) = login(&addr, "admin", PASSWORD);
        let auth = [("Cookie", cookie.as_str())];

        // Only administrators may run the check.
        let (coordinator, _) = login(&addr, "coordinator", PASSWORD);
        let refused = http(
            &addr,
            "GET",
            "/api/v1/admin/diagnostics/slow-query?seconds=1",
            &[("Cookie", coordinator.as_str())],
            None,
        );
        assert_eq!(refused.status, 403, "{}", refused.body);
        let bad = http(
            &addr,
            "GET",
            "/api/v1/admin/diagnostics/slow-query?seconds=0",
            &auth,
            None,
        );
        assert_eq!(bad.status, 400, "{}", bad.body);

        // A statement of a minute, under a 4 s time-out.
        let started = Instant::now();
        let slow = {
            let (addr, cookie) = (addr.clone(), cookie.clone());
            std::thread::spawn(move || {
                let response = http(
                    &addr,
                    "GET",
                    "/api/v1/admin/diagnostics/slow-query?seconds=60",
                    &[("Cookie", cookie.as_str())],
                    None,
                );
                (response, started.elapsed())
            })
        };
        std::thread::sleep(Duration::from_millis(500));
        for _ in 0..3 {
            let reports = http(&addr, "GET", "/api/v1/reports", &auth, None);
            assert_eq!(reports.status, 200, "{backend:?}: {}", reports.body);
            assert_eq!(http(&addr, "GET", "/api/v1/health", &[], None).status, 200);
        }
        assert!(
            !slow.is_finished(),
            "{backend:?}: the other requests were answered while the slow one still ran"
        );

        let (response, took) = slow.join().expect("slow request");
        assert_eq!(response.status, 503, "{backend:?}: {}", response.body);
        let error = &response.json()["error"];
        assert_eq!(error["code"], "query-timeout", "{backend:?}: {error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("дольше 4 с") && message.contains("Сузьте отбор"),
            "{backend:?}: {message}"
        );
        assert!(
            took < Duration::from_secs(30),
            "{backend:?}: stopped well before the statement's minute, took {took:?}"
        );

        // The connections went back healthy: everything works on, the check itself included.
        for _ in 0..6 {
            assert_eq!(http(&addr, "GET", "/api/v1/reports", &auth, None).status, 200);
        }
        let quick = http(
            &addr,
            "GET",
            "/api/v1/admin/diagnostics/slow-query?seconds=1",
            &auth,
            None,
        );
        assert_eq!(quick.status, 200, "{backend:?}: {}", quick.body);
        assert_eq!(quick.json()["finished"], true);
        assert_eq!(quick.json()["statement_timeout_ms"], 4000);
        // A request's PostgreSQL connection starts no parallel workers and compiles no statement
        // (a page's index walk is cheaper than either); SQLite has neither to speak of.
        let (workers, jit) = (&quick.json()["parallel_workers_per_gather"], &quick.json()["jit"]);
        match backend {
            Backend::Postgres => assert!(workers == 0 && jit == false, "{}", quick.body),
            Backend::Sqlite => assert!(workers.is_null() && jit.is_null(), "{}", quick.body),
        }

        // A page answers with the HTML error page.
        let page = http(&addr, "GET", "/admin/diagnostics/slow-query?seconds=60", &auth, None);
        assert_eq!(page.status, 503, "{backend:?}: {}", page.body);
        assert!(
            page.body.contains("<html") && page.body.contains("дольше 4 с") && page.body.contains("Сузьте отбор"),
            "{backend:?}: {}",
            page.body
        );
    }
}

#[test]
fn a_client_that_goes_away_has_its_statement_stopped() {
    for backend in BACKENDS {
        let env = env_with_users(backend);
        // No time-out at all: only the client's leaving can stop the statements. As many turns
        // as the pool has connections, so that the slow requests all reach the database.
        let server = env.serve(&["--statement-timeout-ms", "0", "--concurrent-requests", "8"]);
        let addr = server.addr.clone();
        let (cookie, _) = login(&addr, "admin", PASSWORD);

        // More slow requests than the web pool has connections (4 on SQLite, 8 on PostgreSQL):
        // while they run, nothing else that needs the database can be served.
        let clients: Vec<TcpStream> = (0..8)
            .map(|_| start_get(&addr, "/api/v1/admin/diagnostics/slow-query?seconds=120", &cookie))
            .collect();
        if backend == Backend::Postgres {
            let deadline = Instant::now() + Duration::from_secs(30);
            while sleeping_backends(&env) < 8 {
                assert!(Instant::now() < deadline, "the slow statements did not start");
                std::thread::sleep(Duration::from_millis(100));
            }
        } else {
            std::thread::sleep(Duration::from_secs(2));
        }

        let gone = Instant::now();
        drop(clients);
        if backend == Backend::Postgres {
            // pg_stat_activity shows no statement left running within moments.
            let deadline = gone + Duration::from_secs(10);
            while sleeping_backends(&env) > 0 {
                assert!(
                    Instant::now() < deadline,
                    "statements still run 10 s after their clients left"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }

        // The next request needs a connection of the pool: it is served at once, where before
        // it waited for the pool's 30 s and failed while the statements ran their two minutes.
        let auth = [("Cookie", cookie.as_str())];
        let reports = http(&addr, "GET", "/api/v1/reports", &auth, None);
        let took = gone.elapsed();
        assert_eq!(reports.status, 200, "{backend:?}: {}", reports.body);
        assert!(
            took < Duration::from_secs(25),
            "{backend:?}: the connections came free only after {took:?}"
        );
        for _ in 0..8 {
            assert_eq!(http(&addr, "GET", "/api/v1/reports", &auth, None).status, 200);
        }
        let quick = http(
            &addr,
            "GET",
            "/api/v1/admin/diagnostics/slow-query?seconds=1",
            &auth,
            None,
        );
        assert_eq!(quick.status, 200, "{backend:?}: {}", quick.body);
    }
}

/// A figure of the server's `/metrics` without labels.
fn metric(addr: &str, name: &str) -> f64 {
    let scrape = http(addr, "GET", "/metrics", &[], None);
    assert_eq!(scrape.status, 200, "{}", scrape.body);
    scrape
        .body
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{}", scrape.body))
}

/// Polls `/metrics` until `name` reads `value`.
fn wait_for_metric(addr: &str, name: &str, value: f64, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while metric(addr, name) != value {
        assert!(Instant::now() < deadline, "{what}: {name} never read {value}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn requests_that_read_take_turns_and_writes_do_not_wait() {
    for backend in BACKENDS {
        let env = env_with_users(backend);
        // One turn: a page that reads waits while another is served.
        let server = env.serve(&["--statement-timeout-ms", "20000", "--concurrent-requests", "1"]);
        let addr = server.addr.clone();
        let (cookie, _) = login(&addr, "admin", PASSWORD);
        let auth = [("Cookie", cookie.as_str())];
        assert_eq!(metric(&addr, "ipra_http_requests_waiting"), 0.0);

        let get_in_thread = |path: &'static str| {
            let (addr, cookie) = (addr.clone(), cookie.clone());
            std::thread::spawn(move || http(&addr, "GET", path, &[("Cookie", cookie.as_str())], None))
        };
        let slow = get_in_thread("/api/v1/admin/diagnostics/slow-query?seconds=3");
        std::thread::sleep(Duration::from_millis(300));
        let reports = get_in_thread("/api/v1/reports");
        wait_for_metric(&addr, "ipra_http_requests_waiting", 1.0, &format!("{backend:?}"));

        // Meanwhile what does not read the register is answered at once: the health check, the
        // static files, a login (a write).
        assert_eq!(http(&addr, "GET", "/api/v1/health", &[], None).status, 200);
        assert_eq!(http(&addr, "GET", "/assets/ipra.css", &[], None).status, 200);
        let (second, _) = login(&addr, "admin", PASSWORD);
        assert!(!second.is_empty());
        assert!(
            !slow.is_finished() && !reports.is_finished(),
            "{backend:?}: the page waits for its turn while the slow one runs"
        );
        let slow = slow.join().expect("slow request");
        assert_eq!(slow.status, 200, "{backend:?}: {}", slow.body);
        let reports = reports.join().expect("reports");
        assert_eq!(reports.status, 200, "{backend:?}: {}", reports.body);
        assert_eq!(metric(&addr, "ipra_http_requests_waiting"), 0.0);
        assert!(metric(&addr, "ipra_http_turn_waits_total") >= 1.0);

        // A request whose client goes away while it waits leaves the line: the turn is not
        // given to nobody, and the next page is served as soon as the slow one is gone.
        let holder = start_get(&addr, "/api/v1/admin/diagnostics/slow-query?seconds=120", &cookie);
        std::thread::sleep(Duration::from_millis(300));
        let waiter = start_get(&addr, "/api/v1/reports", &cookie);
        wait_for_metric(&addr, "ipra_http_requests_waiting", 1.0, &format!("{backend:?}"));
        drop(waiter);
        wait_for_metric(&addr, "ipra_http_requests_waiting", 0.0, &format!("{backend:?}"));
        drop(holder);
        let reports = http(&addr, "GET", "/api/v1/reports", &auth, None);
        assert_eq!(reports.status, 200, "{backend:?}: {}", reports.body);
    }
}

/// Waits for the server to exit after a signal; its exit status, or a failure after `bound`.
fn exited_within(server: &mut common::Server, bound: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the server still runs {bound:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn terminate(server: &common::Server) {
    // SAFETY: a signal to the child process this test started.
    unsafe {
        libc::kill(server.child.id() as i32, libc::SIGTERM);
    }
}

#[test]
fn a_stopping_server_does_not_wait_for_a_long_request() {
    for backend in BACKENDS {
        let env = env_with_users(backend);
        // A request of two minutes with no statement time-out: SIGTERM gives it a second.
        let mut server = env.serve(&["--statement-timeout-ms", "0", "--shutdown-grace-ms", "1000"]);
        let (cookie, _) = login(&server.addr, "admin", PASSWORD);
        let _slow = start_get(
            &server.addr,
            "/api/v1/admin/diagnostics/slow-query?seconds=120",
            &cookie,
        );
        std::thread::sleep(Duration::from_secs(1));
        terminate(&server);
        let status = exited_within(&mut server, Duration::from_secs(60));
        assert!(status.success(), "{backend:?}: {status:?}");
        assert!(
            TcpStream::connect(&server.addr).is_err(),
            "{backend:?}: the stopped server still takes connections"
        );

        // A long grace, and a second signal: the operator's «now» is obeyed at once.
        let mut server = env.serve(&["--statement-timeout-ms", "0", "--shutdown-grace-ms", "600000"]);
        let (cookie, _) = login(&server.addr, "admin", PASSWORD);
        let _slow = start_get(
            &server.addr,
            "/api/v1/admin/diagnostics/slow-query?seconds=120",
            &cookie,
        );
        std::thread::sleep(Duration::from_secs(1));
        terminate(&server);
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            server.child.try_wait().expect("wait").is_none(),
            "{backend:?}: the request under way was given its grace"
        );
        terminate(&server);
        let status = exited_within(&mut server, Duration::from_secs(60));
        assert!(status.success(), "{backend:?}: {status:?}");
    }
}
