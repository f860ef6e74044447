//! What an operator watches, end to end on SQLite and PostgreSQL: `/metrics` in the Prometheus text
//! format (parsed here: every sample of a family with HELP and TYPE, histograms cumulative up to
//! +Inf equal to their count), its figures following what was done — requests by route template,
//! an import through the exchange, job runs from the command line and the API — and never a SNILS
//! or a name, though both were asked in a query string; the JSON log, one object per line;
//! `/api/v1/ready` and a migration the binary does not know.

mod common;

use common::{fri_samples, http, login, urlencode, Backend, Env, Server, BACKENDS};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;

const PASSWORD: &str = "correct horse battery";

/// One sample of the text format.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// The samples of a scrape, after checking the format: each family's HELP and TYPE once and before
/// its samples, a family's samples together, every sample of a declared family (a histogram's
/// `_bucket`, `_sum`, `_count`), label values well quoted, and every histogram's buckets
/// cumulative, ending at +Inf with its count.
fn parse(text: &str) -> Vec<Sample> {
    let mut kinds: BTreeMap<String, String> = BTreeMap::new();
    let mut helps: BTreeSet<String> = BTreeSet::new();
    let mut finished: BTreeSet<String> = BTreeSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    let mut enter = |family: &str, current: &mut Option<String>, line: &str| {
        if current.as_deref() != Some(family) {
            if let Some(previous) = current.take() {
                finished.insert(previous);
            }
            assert!(!finished.contains(family), "family {family} is split: {line}");
            *current = Some(family.to_string());
        }
    };
    for line in text.lines() {
        assert!(!line.trim().is_empty(), "an empty line in the scrape");
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!help.trim().is_empty(), "HELP of {name} is empty");
            enter(name, &mut current, line);
            assert!(helps.insert(name.to_string()), "HELP of {name} twice");
            assert!(!kinds.contains_key(name), "HELP of {name} after its TYPE");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            enter(name, &mut current, line);
            assert!(
                ["counter", "gauge", "histogram"].contains(&kind),
                "TYPE of {name}: {kind}"
            );
            assert!(helps.contains(name), "TYPE of {name} without its HELP");
            assert!(
                kinds.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE of {name} twice"
            );
            continue;
        }
        assert!(
            !line.starts_with('#'),
            "a comment that is neither HELP nor TYPE: {line}"
        );
        let sample = sample(line);
        let family = if kinds.contains_key(&sample.name) {
            sample.name.clone()
        } else {
            ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| {
                    let base = sample.name.strip_suffix(suffix)?;
                    (kinds.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_string())
                })
                .unwrap_or_else(|| panic!("a sample of no declared family: {line}"))
        };
        assert_eq!(
            current.as_deref(),
            Some(family.as_str()),
            "a sample away from its family: {line}"
        );
        if kinds[&family] == "counter" {
            assert!(family.ends_with("_total"), "counter {family} not named …_total");
        }
        assert!(
            kinds[&family] != "histogram" || sample.name != family,
            "a histogram's sample without its suffix: {line}"
        );
        samples.push(sample);
    }
    check_histograms(&kinds, &samples);
    samples
}

/// `name{a="x",b="y"} value`, with the escapes of the format.
fn sample(line: &str) -> Sample {
    let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("no value: {line}"));
    let name = &line[..name_end];
    assert!(
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
            && !name.starts_with(|c: char| c.is_ascii_digit()),
        "metric name {name:?}"
    );
    let mut labels = BTreeMap::new();
    let mut rest = &line[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        loop {
            let (start, _) = *chars.peek().unwrap_or_else(|| panic!("unclosed labels: {line}"));
            if inner[start..].starts_with('}') {
                rest = &inner[start + 1..];
                break;
            }
            let eq = inner[start..]
                .find('=')
                .unwrap_or_else(|| panic!("label without =: {line}"))
                + start;
            let label = &inner[start..eq];
            assert!(
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "label name {label:?}: {line}"
            );
            assert_eq!(&inner[eq + 1..eq + 2], "\"", "label value unquoted: {line}");
            while chars.peek().is_some_and(|(i, _)| *i <= eq + 1) {
                chars.next();
            }
            let mut value = String::new();
            loop {
                let (_, c) = chars.next().unwrap_or_else(|| panic!("unterminated value: {line}"));
                match c {
                    '"' => break,
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('\\') => value.push('\\'),
                        Some('"') => value.push('"'),
                        Some('n') => value.push('\n'),
                        other => panic!("bad escape {other:?}: {line}"),
                    },
                    '\n' => panic!("raw line feed: {line}"),
                    c => value.push(c),
                }
            }
            assert!(labels.insert(label.to_string(), value).is_none(), "label twice: {line}");
            if chars.peek().is_some_and(|(_, c)| *c == ',') {
                chars.next();
            }
        }
    }
    let value = rest.trim();
    assert!(rest.starts_with(' '), "no space before the value: {line}");
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().unwrap_or_else(|_| panic!("value {v:?}: {line}")),
    };
    Sample {
        name: name.to_string(),
        labels,
        value,
    }
}

/// One histogram series: its buckets (bound, cumulative count), `_sum` and `_count`.
type Series = (Vec<(f64, f64)>, Option<f64>, Option<f64>);

fn check_histograms(kinds: &BTreeMap<String, String>, samples: &[Sample]) {
    for (family, _) in kinds.iter().filter(|(_, k)| *k == "histogram") {
        // By the labels other than `le`.
        let mut series: BTreeMap<Vec<(String, String)>, Series> = BTreeMap::new();
        for s in samples.iter().filter(|s| s.name.starts_with(family.as_str())) {
            let mut labels: Vec<(String, String)> = s.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            labels.retain(|(k, _)| k != "le");
            let entry = series.entry(labels).or_default();
            if s.name == format!("{family}_bucket") {
                let le = &s.labels.get("le").unwrap_or_else(|| panic!("bucket without le: {s:?}"));
                let bound = if le.as_str() == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or_else(|_| panic!("le {le:?}"))
                };
                entry.0.push((bound, s.value));
            } else if s.name == format!("{family}_count") {
                entry.2 = Some(s.value);
            } else if s.name == format!("{family}_sum") {
                entry.1 = Some(s.value);
            }
        }
        for (labels, (buckets, sum, count)) in series {
            let count = count.unwrap_or_else(|| panic!("{family} {labels:?}: no _count"));
            assert!(sum.is_some(), "{family} {labels:?}: no _sum");
            assert!(!buckets.is_empty(), "{family} {labels:?}: no buckets");
            for pair in buckets.windows(2) {
                assert!(pair[0].0 < pair[1].0, "{family} {labels:?}: bounds out of order");
                assert!(pair[0].1 <= pair[1].1, "{family} {labels:?}: buckets not cumulative");
            }
            let last = buckets.last().unwrap();
            assert_eq!(last.0, f64::INFINITY, "{family} {labels:?}: no +Inf bucket");
            assert_eq!(last.1, count, "{family} {labels:?}: +Inf differs from _count");
        }
    }
}

/// The value of the sample `name` whose labels include `labels`, if there is one.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn must(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    value(samples, name, labels).unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
}

/// `ipra serve` with its log as JSON lines into `log` (and a line per HTTP request).
fn serve_json(env: &Env, log: &Path) -> Server {
    use std::io::BufRead;
    let mut child = env
        .ipra()
        .env("IPRA_LOG_FORMAT", "json")
        .env("IPRA_LOG", "warn,ipra=info,ipra::http=debug")
        .args(["serve", "--listen", "127.0.0.1:0", "--no-scheduler"])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("ipra serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| {
            panic!(
                "no address in {line:?}; log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_string();
    Server { child, addr }
}

#[test]
fn metrics_logs_and_readiness_tell_what_was_done_and_nothing_personal() {
    for backend in BACKENDS {
        watched(backend);
    }
}

fn watched(backend: Backend) {
    let env = Env::new(backend);
    let engine = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    // An import and a job run from the command line: other processes, seen through the database.
    let (code, imported) = env.run_json(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{imported}");
    env.ok(&["jobs", "run", "deadline-check", "--json"]);
    env.add_user("coordinator", "coordinator", None, PASSWORD);

    // A wrong log format stops the binary with the setting named.
    let wrong = env
        .ipra()
        .env("IPRA_LOG_FORMAT", "xml")
        .arg("migrate")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(!wrong.status.success(), "{said}");
    assert!(
        said.contains("xml") && (said.contains("IPRA_LOG_FORMAT") || said.contains("log.format")),
        "{said}"
    );

    let log = env.dir.path().join("serve.log");
    let server = serve_json(&env, &log);
    let addr = server.addr.as_str();

    // A page, the API with a SNILS and a surname in the query string, a card, an unknown address.
    assert_eq!(http(addr, "GET", "/login", &[], None).status, 200);
    let (cookie, csrf) = login(addr, "coordinator", PASSWORD);
    let auth = [("Cookie", cookie.as_str())];
    let snils = "120-334-215 87";
    let found = http(
        addr,
        "GET",
        &format!("/api/v1/ipras?snils={}", urlencode(snils)),
        &auth,
        None,
    );
    assert_eq!(found.status, 200, "{}", found.body);
    let id = found.json()["items"][0]["id"].as_i64().expect("the IPRA by its SNILS");
    let card = http(addr, "GET", &format!("/api/v1/ipras/{id}"), &auth, None);
    assert_eq!(card.status, 200);
    let surname = card.json()["person"]["surname"].as_str().unwrap().to_string();
    let query = format!(
        "/api/v1/ipras?snils={}&surname={}",
        urlencode(snils),
        urlencode(&surname)
    );
    let listed = http(addr, "GET", &query, &auth, None);
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.json()["total"], 1, "{}", listed.body);
    let unknown = format!("/no/such/{}?snils={}", urlencode(&surname), urlencode(snils));
    assert_eq!(http(addr, "GET", &unknown, &auth, None).status, 404);

    // An import in the server: a good extract and one refused (its SNILS does not check) delivered
    // to the FRI inbox, taken by the job started through the API; and the deadline check again.
    let inbox = env.data_dir().join("exchange/fri/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for name in ["11350102278_IPRA_2019.xml", "extract_1.xml"] {
        std::fs::copy(fri_samples().join(name), inbox.join(name)).unwrap();
    }
    let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
    for job in ["fri-inbox", "deadline-check"] {
        let run = http(addr, "POST", &format!("/api/v1/jobs/{job}/run"), &with_csrf, None);
        assert_eq!(run.status, 200, "{job}: {}", run.body);
        assert_eq!(run.json()["status"], "succeeded", "{job}: {}", run.body);
    }

    let scrape = http(addr, "GET", "/metrics", &[], None);
    assert_eq!(scrape.status, 200);
    assert!(
        scrape.headers.contains("text/plain; version=0.0.4"),
        "{}",
        scrape.headers
    );
    let text = scrape.body;
    for personal in [
        snils.to_string(),
        "120-334-215".to_string(),
        "12033421587".to_string(),
        urlencode(snils),
        surname.clone(),
        urlencode(&surname),
        surname.to_uppercase(),
    ] {
        assert!(!text.contains(&personal), "{personal:?} in /metrics:\n{text}");
    }
    assert!(!text.contains("/no/such"), "an address as asked in /metrics:\n{text}");
    let m = parse(&text);

    // Requests by route template and status; the unknown address as `other`.
    let ipras = [("method", "GET"), ("route", "/api/v1/ipras"), ("status", "200")];
    assert_eq!(must(&m, "ipra_http_requests_total", &ipras), 2.0, "{text}");
    assert_eq!(
        must(
            &m,
            "ipra_http_requests_total",
            &[("route", "/api/v1/ipras/{id}"), ("status", "200")]
        ),
        1.0
    );
    assert_eq!(
        must(&m, "ipra_http_requests_total", &[("route", "other"), ("status", "404")]),
        1.0
    );
    assert_eq!(
        must(
            &m,
            "ipra_http_requests_total",
            &[("method", "POST"), ("route", "/api/v1/jobs/{name}/run")]
        ),
        2.0
    );
    assert_eq!(
        must(
            &m,
            "ipra_http_request_duration_seconds_count",
            &[("route", "/api/v1/ipras")]
        ),
        2.0
    );
    assert_eq!(must(&m, "ipra_http_requests_in_flight", &[]), 1.0, "the scrape itself");

    // Imports of this process: two files, one extract stored, one refused.
    assert_eq!(
        must(&m, "ipra_import_runs_total", &[("result", "finished")]),
        2.0,
        "{text}"
    );
    assert_eq!(must(&m, "ipra_import_runs_total", &[("result", "failed")]), 0.0);
    assert_eq!(must(&m, "ipra_import_files_total", &[]), 2.0);
    assert_eq!(must(&m, "ipra_import_records_total", &[("outcome", "imported")]), 1.0);
    assert!(must(&m, "ipra_import_rejections_total", &[]) >= 1.0, "{text}");
    assert_eq!(must(&m, "ipra_import_rejected_files_total", &[]), 1.0);
    // And as the database keeps them: the command line's run too.
    assert_eq!(must(&m, "ipra_import_runs_24h", &[]), 3.0, "{text}");
    assert_eq!(must(&m, "ipra_import_records_24h", &[]), 2.0);
    assert!(must(&m, "ipra_import_rejections_24h", &[]) >= 1.0);
    assert!(must(&m, "ipra_import_last_finished_timestamp_seconds", &[]) > 0.0);
    assert_eq!(must(&m, "ipra_import_runs_running", &[]), 0.0);

    // Jobs: this process's runs, and the database's (the command line's run too).
    for job in ["fri-inbox", "deadline-check"] {
        let job_label = [("job", job), ("outcome", "succeeded")];
        assert_eq!(must(&m, "ipra_job_runs_total", &job_label), 1.0, "{job}");
        assert_eq!(must(&m, "ipra_job_run_duration_seconds_count", &[("job", job)]), 1.0);
        assert_eq!(must(&m, "ipra_job_last_run_success", &[("job", job)]), 1.0);
        assert!(must(&m, "ipra_job_last_success_timestamp_seconds", &[("job", job)]) > 0.0);
        assert!(must(&m, "ipra_job_last_run_duration_seconds", &[("job", job)]) >= 0.0);
        assert_eq!(must(&m, "ipra_job_failed_runs", &[("job", job)]), 0.0);
        assert_eq!(must(&m, "ipra_job_enabled", &[("job", job)]), 1.0);
        assert_eq!(must(&m, "ipra_job_running", &[("job", job)]), 0.0);
    }
    let recent = [("job", "deadline-check"), ("status", "succeeded")];
    assert_eq!(must(&m, "ipra_job_recent_runs", &recent), 2.0, "{text}");

    // The exchange: the refused document waits for an administrator; nothing else waits.
    let fri_in = [("connector", "fri"), ("direction", "in")];
    assert_eq!(
        must(
            &m,
            "ipra_exchange_messages",
            &[fri_in[0], fri_in[1], ("status", "failed")]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(must(&m, "ipra_exchange_lag_seconds", &fri_in), 0.0);
    assert_eq!(
        must(
            &m,
            "ipra_exchange_lag_seconds",
            &[("connector", "fri"), ("direction", "out")]
        ),
        0.0
    );
    for state in ["awaiting-signature", "signed-not-sent"] {
        assert_eq!(must(&m, "ipra_signing_queue_reports", &[("state", state)]), 0.0);
        assert_eq!(must(&m, "ipra_signing_queue_oldest_seconds", &[("state", state)]), 0.0);
    }

    // Plugins, pools, storage, build.
    assert!(
        must(
            &m,
            "ipra_plugin_calls_total",
            &[("plugin", "fri"), ("hook", "import"), ("outcome", "ok")]
        ) >= 1.0
    );
    assert_eq!(must(&m, "ipra_plugins_refused", &[]), 0.0);
    for pool in ["requests", "background"] {
        assert!(must(&m, "ipra_db_pool_connections", &[("pool", pool)]) >= 1.0, "{pool}");
        assert!(must(&m, "ipra_db_pool_max_connections", &[("pool", pool)]) >= 1.0);
        assert!(value(&m, "ipra_db_pool_idle_connections", &[("pool", pool)]).is_some());
    }
    assert_eq!(must(&m, "ipra_database_info", &[("engine", engine)]), 1.0);
    assert_eq!(
        must(&m, "ipra_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    assert_eq!(must(&m, "ipra_storage_status", &[("status", "ok")]), 1.0);
    assert_eq!(must(&m, "ipra_metrics_database_up", &[]), 1.0);
    assert_eq!(must(&m, "ipra_ready", &[]), 1.0);
    assert_eq!(must(&m, "ipra_migrations_current", &[]), 1.0);

    // Ready: the database answers, the migrations are the binary's, the plugins in service.
    let ready = http(addr, "GET", "/api/v1/ready", &[], None);
    assert_eq!(ready.status, 200, "{}", ready.body);
    let body = ready.json();
    assert_eq!(body["ready"], true);
    assert_eq!(body["migrations"]["current"], true, "{body}");
    assert_eq!(body["migrations"]["known"], body["migrations"]["applied"], "{body}");
    assert_eq!(body["plugins"]["refused"], 0);

    // A migration from a newer release appears under the running server: not ready, said in Russian.
    let future = match backend {
        Backend::Sqlite => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from the future', TRUE, X'00', 0)"
        }
        Backend::Postgres => {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'from the future', TRUE, '\\x00'::bytea, 0)"
        }
    };
    env.execute(future);
    let ready = http(addr, "GET", "/api/v1/ready", &[], None);
    assert_eq!(ready.status, 503, "{}", ready.body);
    let body = ready.json();
    assert_eq!(body["ready"], false);
    assert_eq!(body["migrations"]["current"], false);
    assert_eq!(body["migrations"]["unknown"], serde_json::json!([99999]));
    let problem = body["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("99999") && problem.contains("миграции") && problem.contains("более новая версия"),
        "{problem}"
    );
    // `/metrics` says so too once its figures of the database are read again (every 5 s at most).
    let started = std::time::Instant::now();
    loop {
        let m = parse(&http(addr, "GET", "/metrics", &[], None).body);
        if must(&m, "ipra_ready", &[]) == 0.0 {
            assert_eq!(must(&m, "ipra_migrations_current", &[]), 0.0);
            break;
        }
        assert!(started.elapsed().as_secs() < 30, "/metrics still says ready");
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    env.execute("DELETE FROM _sqlx_migrations WHERE version = 99999");
    assert_eq!(http(addr, "GET", "/api/v1/ready", &[], None).status, 200);
    // Health stays liveness.
    assert_eq!(http(addr, "GET", "/api/v1/health", &[], None).status, 200);

    // The log: every line one JSON object with its level and message; a line per request by its
    // route template; no SNILS, no name.
    drop(server);
    let log = std::fs::read_to_string(&log).unwrap();
    let mut requests = 0;
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let entry: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}\n{log}"));
        assert!(entry["level"].is_string(), "{line}");
        assert!(entry["message"].is_string(), "{line}");
        assert!(entry["timestamp"].is_string() && entry["target"].is_string(), "{line}");
        if entry["target"] == "ipra::http" && entry["fields"]["route"] == "/api/v1/ipras" {
            assert_eq!(entry["fields"]["status"], 200, "{line}");
            assert!(entry["fields"]["duration_ms"].is_number(), "{line}");
            requests += 1;
        }
    }
    assert_eq!(requests, 2, "a line per request to /api/v1/ipras:\n{log}");
    for personal in [snils, "120-334-215", "12033421587", surname.as_str(), "/no/such"] {
        assert!(!log.contains(personal), "{personal:?} in the log:\n{log}");
    }
}

/// Every statement a scrape sends the database, explained by the engine itself (PostgreSQL with
/// sequential scans discouraged, so that one left has no index to take): none reads a large table
/// whole — the jobs (tens of rows) and a walk of the import runs newest first stopped at the first
/// finished one aside.
#[test]
fn the_scrape_reads_the_database_by_its_indexes() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["migrate"]);
        env.ok(&["jobs", "run", "deadline-check", "--json"]);
        let url = env
            .database
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", env.data_dir().join("ipra.sqlite").display()));
        let findings = common::block_on(async move {
            let db = ipra_store::db::Db::open(&url).await.unwrap();
            let now = ipra_store::clock::now();
            let (figures, recorded) =
                ipra_store::plans::recording("metrics", ipra_store::metrics::collect(&db, now)).await;
            figures.unwrap();
            ipra_store::plans::check(&db, &recorded).await.unwrap()
        });
        assert!(findings.len() >= 10, "{backend:?}: {} statements", findings.len());
        for f in &findings {
            let walk = f.sql.contains("ORDER BY id DESC LIMIT 1");
            for line in &f.plan {
                let scanned = match backend {
                    Backend::Sqlite => line
                        .trim()
                        .strip_prefix("SCAN ")
                        .filter(|rest| !rest.ends_with("USING COVERING INDEX import_runs_running"))
                        .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string()),
                    Backend::Postgres => line
                        .split("Seq Scan on ")
                        .nth(1)
                        .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string()),
                };
                let Some(table) = scanned else { continue };
                let allowed = table == "jobs" || (walk && table == "import_runs" && backend == Backend::Sqlite);
                assert!(allowed, "{backend:?}: {}\n{}", f.sql, f.plan.join("\n"));
            }
        }
    }
}
