//! Pages end to end: statistics and the coordinator's dashboard in a real browser (headless
//! Chromium through `common::browser`), on SQLite and PostgreSQL, and their API routes with the
//! authorisation each role has.

mod common;

use common::browser::Browser;
use common::{block_on, fri_samples, http, login, Backend, Env, BACKENDS};
use serde_json::Value;

/// The demo region's regional body (`ipra demo` creates it).
const REGION: &str = "1021602830370";

/// Runs one SQL statement on the environment's database (moving time for the test: received dates).
fn execute(env: &Env, sql: &str) {
    let url = env
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", env.data_dir().join("ipra.sqlite").display()));
    block_on(async move {
        sqlx::any::install_default_drivers();
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .expect("connect");
        sqlx::query(sql).execute(&mut conn).await.expect("statement");
    })
}

struct Setup {
    env: Env,
    /// An executor organisation of the demo region (health).
    executor_ogrn: String,
}

/// The demo region (territories, executors by district, 20 extracts), two real FRI samples whose
/// persons have no district (their measures wait in the coordinator's queue), one executed and one
/// not executed measure reported and sent, two extracts received in an earlier month, and one user per role.
fn setup(backend: Backend) -> Setup {
    let env = Env::new(backend);
    env.run_ok(&["demo", "--count", "20"]);
    for sample in ["extract_4.xml", "mse.ipra.rehab.xml"] {
        env.ok(&["import", fri_samples().join(sample).to_str().unwrap(), "--json"]);
    }
    // One measure executed, one not executed (reason «refused»), in two IPRAs, both reported.
    let mut executor_ogrn = String::new();
    for (ipra, result) in [(1, "executed"), (2, "not-executed")] {
        let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
        let m = measures
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["assigned_ogrn"].is_string() && m["status"] == "open")
            .expect("an assigned measure")
            .clone();
        let org = m["assigned_ogrn"].as_str().unwrap().to_string();
        if m["section"] == "health" || executor_ogrn.is_empty() {
            executor_ogrn = org.clone();
        }
        let card = env.ok(&["show", &ipra.to_string(), "--json"]);
        let date = card["decision_date"].as_str().unwrap().to_string();
        let ipra_s = ipra.to_string();
        let mut more = vec!["--result", result, "--ready"];
        if result == "executed" {
            more.extend(["--date", &date]);
        } else {
            more.extend(["--reason", "refused"]);
        }
        env.add_execution(ipra, &m, &org, &more);
        env.ok(&["reports", "assemble", "--ipra", &ipra_s, "--reporter", REGION, "--json"]);
    }
    // Sent, so that their results count.
    env.sign_and_send(REGION);
    execute(
        &env,
        "UPDATE ipras SET received_at = '2026-09-15T09:00:00Z' WHERE id IN (3, 4)",
    );
    env.add_user("t-coordinator", "coordinator", None, "coordinator password");
    env.add_user("t-auditor", "auditor", None, "auditor password");
    env.add_user("t-executor", "executor", Some(&executor_ogrn), "executor password");
    Setup { env, executor_ogrn }
}

fn get_json(addr: &str, cookie: &str, path: &str) -> Value {
    let r = http(addr, "GET", path, &[("Cookie", cookie)], None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

/// The statistics table as the page shows it: indicator → (persons, measures).
fn table_rows(browser: &Browser) -> Vec<(String, String, String)> {
    let rows = browser.script(
        "return [...document.querySelectorAll('#stats-table tbody tr')].map(r => \
         [r.querySelector('th').textContent, ...[...r.querySelectorAll('td')].map(c => c.textContent)])",
    );
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r[0].as_str().unwrap().to_string(),
                r[1].as_str().unwrap().to_string(),
                r[2].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn row<'a>(rows: &'a [(String, String, String)], label: &str) -> &'a (String, String, String) {
    rows.iter()
        .find(|r| r.0.starts_with(label))
        .unwrap_or_else(|| panic!("row {label} in {rows:?}"))
}

fn pair(v: &Value) -> (String, String) {
    (v["persons"].to_string(), v["measures"].to_string())
}

fn assert_table_matches(browser: &Browser, cli: &Value) {
    let rows = table_rows(browser);
    for (label, key) in [
        ("Поступило выписок", "received"),
        ("на инвалидов в возрасте 18 лет", "adults"),
        ("на детей-инвалидов", "children"),
        ("реабилитационные мероприятия", "rehabilitation"),
        ("технические средства реабилитации", "tsr"),
        ("МЕРОПРИЯТИЕ ВЫПОЛНЕНО", "executed"),
        ("МЕРОПРИЯТИЕ НЕ ВЫПОЛНЕНО", "not_executed"),
        ("В РАБОТЕ", "open"),
        ("из них с истёкшим сроком", "overdue"),
    ] {
        let r = row(&rows, label);
        assert_eq!((r.1.clone(), r.2.clone()), pair(&cli[key]), "{label}: {cli}");
    }
    for reason in cli["not_executed_by_reason"].as_array().unwrap() {
        let r = row(&rows, reason["name"].as_str().unwrap());
        assert_eq!((r.1.clone(), r.2.clone()), pair(reason), "{reason}");
    }
}

/// Waits until the browser has gone to an address containing `needle` (after a form's submit).
fn wait_url(browser: &Browser, needle: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !browser.url().contains(needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "{} has no {needle}",
            browser.url()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn bars(browser: &Browser, chart: &str) -> i64 {
    browser
        .script(&format!(
            "return document.querySelectorAll('#{chart} svg rect.bar').length"
        ))
        .as_i64()
        .unwrap()
}

#[test]
fn coordinator_reads_statistics_and_controls_deadlines_in_a_browser() {
    for backend in BACKENDS {
        let Setup { env, executor_ogrn } = setup(backend);
        let name = backend.name();
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let (cookie, _) = login(addr, "t-coordinator", "coordinator password");
        let browser = Browser::start();
        browser.login(addr, "t-coordinator", "coordinator password");

        // Statistics without a filter: the same numbers as `ipra stats --json`.
        browser.goto(&format!("http://{addr}/stats"));
        browser.find("#stats-table");
        assert!(browser.text("h1").contains("Статистика исполнения"));
        let all = env.ok(&["stats", "--json"]);
        assert_table_matches(&browser, &all);
        assert_eq!(all["executed"]["measures"], 1, "{all}");
        assert_eq!(all["not_executed"]["measures"], 1, "{all}");
        // Charts: SVG images with as many bars as the data has.
        let charts = get_json(addr, &cookie, "/api/v1/stats/charts");
        let parts: i64 = charts["by_section"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                ["executed", "not_executed", "in_work", "overdue"]
                    .iter()
                    .filter(|k| s[**k].as_i64().unwrap() > 0)
                    .count() as i64
            })
            .sum();
        assert!(parts > 0);
        assert_eq!(bars(&browser, "chart-sections"), parts);
        let territories = charts["by_territory"].as_array().unwrap().len() as i64;
        assert!(territories >= 2, "{charts}");
        assert_eq!(bars(&browser, "chart-territories"), territories);
        assert_eq!(
            bars(&browser, "chart-reasons"),
            all["not_executed_by_reason"].as_array().unwrap().len() as i64
        );
        let months = charts["monthly"].as_array().unwrap();
        // September and November 2026, with October between them as a zero.
        assert_eq!(months.len(), 3, "{charts}");
        assert_eq!(bars(&browser, "chart-months"), 3);
        assert_eq!(
            browser.script("return document.querySelectorAll('svg[role=img] > title').length"),
            4
        );
        browser.screenshot(&format!("oversight-stats-{name}"));
        browser.script("document.getElementById('chart-sections').scrollIntoView(); return 0");
        browser.screenshot(&format!("oversight-charts-{name}"));

        // A territory chosen in the form: compared with the CLI under the same filter.
        let territory = charts["by_territory"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|t| t["key"].as_str())
            .unwrap()
            .to_string();
        browser.select("#territory", &territory);
        browser.click("form.filters button[type=submit]");
        wait_url(&browser, &format!("territory={territory}"));
        browser.find("#stats-table");
        assert!(
            browser.url().contains(&format!("territory={territory}")),
            "{} (chose {territory})",
            browser.url()
        );
        assert_table_matches(&browser, &env.ok(&["stats", "--territory", &territory, "--json"]));

        // A section, then a period: September holds the two extracts moved there.
        browser.goto(&format!("http://{addr}/stats"));
        browser.select("#section", "tsr");
        browser.click("form.filters button[type=submit]");
        wait_url(&browser, "section=tsr");
        browser.find("#stats-table");
        assert_table_matches(&browser, &env.ok(&["stats", "--section", "tsr", "--json"]));
        browser.goto(&format!("http://{addr}/stats?from=2026-09-01&to=2026-09-30"));
        browser.find("#stats-table");
        let september = env.ok(&["stats", "--from", "2026-09-01", "--to", "2026-09-30", "--json"]);
        assert_eq!(september["extracts"], 2, "{september}");
        assert_table_matches(&browser, &september);
        assert_eq!(
            browser.script("return document.getElementById('from').value"),
            "2026-09-01"
        );
        // The executor organisation's filter, compared with the CLI's --org.
        browser.goto(&format!("http://{addr}/stats?org={executor_ogrn}"));
        browser.find("#stats-table");
        assert_table_matches(&browser, &env.ok(&["stats", "--org", &executor_ogrn, "--json"]));

        // A wrong date is named next to its field, and no numbers are shown.
        browser.goto(&format!("http://{addr}/stats?from=2026-02-30"));
        let error = browser.text("#from-error");
        assert!(error.contains("Поступили с"), "{error}");
        assert!(!browser.has("#stats-table"));
        assert_eq!(
            browser.script("return document.getElementById('from').getAttribute('aria-invalid')"),
            "true"
        );

        // Exports of the table: CSV for Russian Excel and a real XLSX workbook.
        let csv = http(
            addr,
            "GET",
            "/stats/export?format=csv&data=table",
            &[("Cookie", &cookie)],
            None,
        );
        assert_eq!(csv.status, 200, "{}", csv.body);
        assert!(csv.body.starts_with('\u{feff}'), "BOM");
        let first = format!(
            "Поступило выписок из ИПРА / в них мероприятий, из них:;{};{}",
            all["received"]["persons"], all["received"]["measures"]
        );
        assert!(csv.body.contains(&first), "{first} in {}", csv.body);
        assert!(csv.headers.to_lowercase().contains("attachment"));
        let xlsx = http(
            addr,
            "GET",
            "/api/v1/stats/export?format=xlsx&data=territories",
            &[("Cookie", &cookie)],
            None,
        );
        assert_eq!(xlsx.status, 200);
        assert!(xlsx.headers.contains("spreadsheetml"), "{}", xlsx.headers);
        assert!(xlsx.body.starts_with("PK"), "a zip");

        // The dashboard: overdue as the deadline check counts it.
        let overdue = get_json(addr, &cookie, "/api/v1/deadlines/overdue");
        let overdue_n = overdue["measures"].as_i64().unwrap();
        assert!(overdue_n > 0, "the demo has overdue measures: {overdue}");
        browser.goto(&format!("http://{addr}/dashboard"));
        browser.find("#card-overdue");
        assert_eq!(browser.text("#card-overdue .value"), overdue_n.to_string());
        // What a coordinator acts on comes first: the overdue list and the queue before the workload.
        let order = browser.script(
            "var ids = ['overdue', 'queue', 'workload'].map(function (id) { return document.getElementById(id); }); \
             return ids[0].compareDocumentPosition(ids[1]) === 4 && ids[1].compareDocumentPosition(ids[2]) === 4",
        );
        assert_eq!(order, true, "overdue, queue, then workload");
        let overdue_rows = browser
            .script("return document.querySelectorAll('#overdue-table tbody tr[data-measure]').length")
            .as_i64()
            .unwrap();
        assert_eq!(overdue_rows, overdue_n.min(25));
        let dashboard = get_json(addr, &cookie, "/api/v1/dashboard");
        let by_org_overdue: i64 = dashboard["by_organisation"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["overdue"].as_i64().unwrap())
            .sum();
        assert_eq!(by_org_overdue, overdue_n);
        // The table by organisation: those most behind first, a page at a time; the whole of it a
        // download with every organisation of the API's figures.
        let org_rows = browser
            .script("return Array.from(document.querySelectorAll('#by-organisation tbody tr')).map(r => r.cells[5].innerText.trim())")
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().parse::<i64>().unwrap())
            .collect::<Vec<_>>();
        let organisations = dashboard["by_organisation"].as_array().unwrap().len();
        assert_eq!(org_rows.len(), organisations.min(25));
        let keyed = &org_rows[usize::from(dashboard["by_organisation"][0]["key"].is_null())..];
        assert!(
            keyed.windows(2).all(|w| w[0] >= w[1]),
            "most overdue first: {org_rows:?}"
        );
        let workload_csv = http(
            addr,
            "GET",
            "/dashboard/workload/export?format=csv",
            &[("Cookie", &cookie)],
            None,
        );
        assert_eq!(workload_csv.status, 200);
        assert_eq!(
            workload_csv.body.trim_end().split("\r\n").count(),
            organisations + 1,
            "{}",
            workload_csv.body
        );
        browser.screenshot(&format!("oversight-dashboard-{name}"));

        // Sorting by due date descending puts the latest due date first.
        browser.click("#overdue-table th[aria-sort] a");
        wait_url(&browser, "sort=-due");
        browser.find("#overdue-table th[aria-sort=descending]");
        assert!(browser.url().contains("sort=-due"), "{}", browser.url());
        let api_desc = get_json(addr, &cookie, "/api/v1/dashboard/overdue?sort=-due");
        let first_id = browser.script("return document.querySelector('#overdue-table tbody tr').dataset.measure");
        assert_eq!(
            first_id.as_str().unwrap(),
            api_desc["items"][0]["measure_id"].to_string()
        );

        // Export of the overdue list: every overdue measure, SNILS masked.
        let csv = http(
            addr,
            "GET",
            "/dashboard/overdue/export?format=csv",
            &[("Cookie", &cookie)],
            None,
        );
        assert_eq!(csv.status, 200);
        let lines: Vec<&str> = csv.body.trim_end().split("\r\n").collect();
        assert_eq!(lines.len() as i64, overdue_n + 1, "{}", csv.body);
        assert!(lines[1].contains("***-***-"), "{}", lines[1]);

        // The queue: nothing chosen is refused next to the field; then a measure is assigned.
        let queue = get_json(addr, &cookie, "/api/v1/dashboard/unassigned");
        let queued = queue["total"].as_i64().unwrap();
        assert!(queued > 0, "{queue}");
        browser.goto(&format!("http://{addr}/dashboard#queue"));
        assert_eq!(browser.text("#card-unassigned .value"), queued.to_string());
        let measure = browser
            .script("return [...document.querySelectorAll('#queue-table tbody tr[data-measure]')].find(r => r.querySelector('select[name=ogrn] option[value]:not([value=\"\"])') && !r.querySelector('select[name=section]')).dataset.measure")
            .as_str()
            .unwrap()
            .to_string();
        let row_css = format!("#queue-table tr[data-measure=\"{measure}\"]");
        browser.click(&format!("{row_css} button[type=submit]"));
        browser.find(&format!("#assign-{measure}-error"));
        let error = browser.text(&format!("#assign-{measure}-error"));
        assert!(error.contains("Организация"), "{error}");
        let ogrn = browser
            .script(&format!(
                "return document.querySelector('#assign-{measure} option:not([value=\"\"])').value"
            ))
            .as_str()
            .unwrap()
            .to_string();
        browser.select(&format!("#assign-{measure}"), &ogrn);
        browser.fill(&format!("#note-{measure}"), "район не определён");
        browser.click(&format!("{row_css} button[type=submit]"));
        wait_url(&browser, "assigned=");
        browser.find(".notice");
        assert!(!browser.has(&row_css), "measure {measure} left the queue");
        assert_eq!(browser.text("#card-unassigned .value"), (queued - 1).to_string());
        let history = get_json(addr, &cookie, &format!("/api/v1/measures/{measure}/history"));
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["ogrn"], ogrn.as_str(), "{history}");
        assert_eq!(last["source"], "manual");
        assert_eq!(last["assigned_by"], "coordinator:t-coordinator");
        browser.screenshot(&format!("oversight-queue-{name}"));
        // The queue's own filter: only the section chosen.
        browser.select("#q-section", "health");
        browser.click("#queue + form button[type=submit], form[aria-label='Отбор очереди'] button[type=submit]");
        wait_url(&browser, "qsection=health");
        browser.find("#queue-table");
        let health = get_json(addr, &cookie, "/api/v1/dashboard/unassigned?section=health");
        let sections = browser.script(
            "return [...document.querySelectorAll('#queue-table tbody tr[data-measure] td:nth-child(5)')].map(c => c.textContent)",
        );
        let sections = sections.as_array().unwrap();
        assert_eq!(sections.len() as i64, health["total"].as_i64().unwrap().min(20));
        assert!(sections.iter().all(|s| s == "Охрана здоровья"), "{sections:?}");

        // The auditor sees the dashboard and the queue, without forms to assign.
        let auditor = Browser::start();
        auditor.login(addr, "t-auditor", "auditor password");
        auditor.goto(&format!("http://{addr}/dashboard"));
        auditor.find("#queue-table");
        assert!(!auditor.has("form.ov-assign"));
        assert!(auditor.text("main").contains("Только просмотр"));
        auditor.goto(&format!("http://{addr}/stats"));
        auditor.find("#stats-table");

        // The executor sees neither page nor their menu entries.
        let executor = Browser::start();
        executor.login(addr, "t-executor", "executor password");
        let menu = executor.text("nav.main");
        assert!(
            !menu.contains("Статистика") && !menu.contains("Контроль сроков"),
            "{menu}"
        );
        for page in ["/stats", "/dashboard"] {
            executor.goto(&format!("http://{addr}{page}"));
            assert!(executor.text("h1").contains("Доступ запрещён"), "{page}");
        }

        // On a phone: the pages' content fits the width (wide tables scroll inside their frame).
        // (The shared header is the layout's, not these pages'.)
        let phone = Browser::start_sized(390, 844);
        phone.login(addr, "t-coordinator", "coordinator password");
        for (page, shot) in [("/stats", "stats"), ("/dashboard", "dashboard")] {
            phone.goto(&format!("http://{addr}{page}"));
            phone.find("main h1");
            let overflow = phone
                .script(
                    "const m = document.querySelector('main').getBoundingClientRect().right; \
                     return [...document.querySelectorAll('main *')].filter(e => !e.closest('.table-wrap, .chart') && e.getBoundingClientRect().right > m + 1)\
                     .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right - m))",
                );
            assert_eq!(overflow, serde_json::json!([]), "{page} overflows its frame on a phone");
            phone.screenshot(&format!("oversight-{shot}-phone-{name}"));
        }
    }
}

/// Waits until `script` returns true in the page (a fetch the page's script makes).
fn wait_until(browser: &Browser, script: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.script(script) != Value::Bool(true) {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for: {script}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// A region's directory holds a couple of thousand organisations: the dashboard and statistics do
/// not carry it as choices but take an OGRN or words of a name, with suggestions fetched as one
/// types, and the server understands a name typed without the script. (The directory is read in
/// memory, the same on both engines: one engine here.)
#[test]
fn a_large_directory_is_searched_as_one_types_not_listed() {
    let Setup { env, .. } = setup(Backend::Sqlite);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let (cookie, csrf) = login(addr, "t-coordinator", "coordinator password");
    let queue = get_json(addr, &cookie, "/api/v1/dashboard/unassigned");
    let queued = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"].as_str().is_some_and(|s| !s.is_empty()))
        .expect("a queued measure of a section")
        .clone();
    let measure = queued["measure_id"].to_string();
    let section = queued["section"].as_str().unwrap().to_string();
    let mut ogrns = Vec::new();
    for k in 1..=45u64 {
        let ogrn = common::ogrn(102_770_020_000 + k);
        let body =
            format!(r#"{{"name":"Организация для проверки поиска № {k}","department":"{section}","active":true}}"#);
        let r = http(
            addr,
            "PUT",
            &format!("/api/v1/organisations/{ogrn}"),
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            Some(&body),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        ogrns.push(ogrn);
    }
    let seventeen = ogrns[16].clone();
    // The API's suggestions: by words of the name or the beginning of an OGRN, within a section.
    let found = get_json(
        addr,
        &cookie,
        &format!("/api/v1/organisations?q=ПОИСКА%20№%2017&section={section}"),
    );
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["ogrn"], seventeen.as_str());
    let found = get_json(addr, &cookie, "/api/v1/organisations?q=проверки&limit=5");
    assert_eq!(found.as_array().unwrap().len(), 5, "{found}");
    let found = get_json(
        addr,
        &cookie,
        "/api/v1/organisations?q=проверки&section=no-such-section",
    );
    assert_eq!(found, serde_json::json!([]));

    let browser = Browser::start();
    browser.login(addr, "t-coordinator", "coordinator password");
    browser.goto(&format!("http://{addr}/dashboard#queue"));
    let field = format!("#assign-{measure}");
    browser.find(&format!("{field}[data-org-suggest=\"{section}\"]"));
    browser.find("#f-org[data-org-suggest]");
    // None of the added organisations is on the page until asked for.
    let listed = browser
        .script(&format!(
            "return [...document.querySelectorAll('option')].filter(o => o.value.startsWith('{}')).length",
            &seventeen[..8]
        ))
        .as_i64()
        .unwrap();
    assert_eq!(listed, 0, "the page carries the directory");
    // Typing words of a name brings its organisation into the field's suggestions.
    browser.fill(&field, "поиска № 17");
    wait_until(
        &browser,
        &format!("return [...document.querySelectorAll('{field}-list option')].some(o => o.value === '{seventeen}')"),
    );
    // Sent as typed (no suggestion taken), the words name one organisation of the section.
    browser.click(&format!(
        "#queue-table tr[data-measure=\"{measure}\"] button[type=submit]"
    ));
    wait_url(&browser, "assigned=");
    let history = get_json(addr, &cookie, &format!("/api/v1/measures/{measure}/history"));
    assert_eq!(
        history.as_array().unwrap().last().unwrap()["ogrn"],
        seventeen.as_str(),
        "{history}"
    );

    // The overdue list's filter: a name typed is the organisation it names; several are a question.
    browser.goto(&format!(
        "http://{addr}/dashboard?org=%D0%BF%D0%BE%D0%B8%D1%81%D0%BA%D0%B0%20%E2%84%96%2017#overdue"
    ));
    assert_eq!(
        browser.script("return document.getElementById('f-org').value"),
        Value::from(seventeen.clone())
    );
    assert!(browser.text("#f-org + datalist + .org-chosen").contains("№ 17"));
    browser.fill("#f-org", "для проверки поиска");
    browser.click("form[aria-label='Отбор просроченных'] button[type=submit]");
    browser.find("#f-org-error");
    assert!(
        browser.text("#f-org-error").contains("несколько организаций"),
        "{}",
        browser.text("#f-org-error")
    );
    // Statistics: the same field and the same reading.
    browser.goto(&format!("http://{addr}/stats?org={seventeen}"));
    browser.find("#stats-table");
    assert!(browser.text("#org + datalist + .org-chosen").contains("№ 17"));
    browser.goto(&format!(
        "http://{addr}/stats?org=%D0%BD%D0%B5%D1%82%20%D1%82%D0%B0%D0%BA%D0%BE%D0%B9"
    ));
    assert!(
        browser.text("#org-error").contains("нет в справочнике"),
        "{}",
        browser.text("#org-error")
    );
    assert!(!browser.has("#stats-table"));
}

#[test]
fn oversight_api_answers_by_role() {
    let Setup { env, .. } = setup(Backend::Sqlite);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let reads = [
        "/api/v1/stats?organisation=1027700132003",
        "/api/v1/stats/charts",
        "/api/v1/stats/export?format=csv",
        "/api/v1/dashboard",
        "/api/v1/dashboard/overdue",
        "/api/v1/dashboard/overdue/export?format=xlsx",
        "/api/v1/dashboard/unassigned",
    ];
    let (coordinator, csrf) = login(addr, "t-coordinator", "coordinator password");
    let (auditor, auditor_csrf) = login(addr, "t-auditor", "auditor password");
    let (executor, _) = login(addr, "t-executor", "executor password");
    for path in reads {
        assert_eq!(http(addr, "GET", path, &[], None).status, 401, "{path}");
        let refused = http(addr, "GET", path, &[("Cookie", &executor)], None);
        assert_eq!(refused.status, 403, "{path}");
        assert_eq!(refused.json()["error"]["code"], "forbidden");
        assert_eq!(
            http(addr, "GET", path, &[("Cookie", &auditor)], None).status,
            200,
            "{path}"
        );
        assert_eq!(
            http(addr, "GET", path, &[("Cookie", &coordinator)], None).status,
            200,
            "{path}"
        );
    }
    // Wrong input: 400 with the field named in Russian.
    let bad = http(
        addr,
        "GET",
        "/api/v1/stats/charts?to=31.12.2026",
        &[("Cookie", &coordinator)],
        None,
    );
    assert_eq!(bad.status, 400);
    assert!(bad.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Поступили по"));
    let bad = http(
        addr,
        "GET",
        "/api/v1/stats/export?format=pdf",
        &[("Cookie", &coordinator)],
        None,
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        http(
            addr,
            "GET",
            "/api/v1/dashboard/overdue/export",
            &[("Cookie", &coordinator)],
            None
        )
        .status,
        400
    );

    // The page export for the executor is the HTML refusal, not a file.
    let refused = http(addr, "GET", "/stats/export?format=csv", &[("Cookie", &executor)], None);
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("Доступ запрещён"));

    // Paging and order of the overdue list.
    let page = http(
        addr,
        "GET",
        "/api/v1/dashboard/overdue?per_page=2&page=2&sort=-due",
        &[("Cookie", &coordinator)],
        None,
    )
    .json();
    assert_eq!(page["per_page"], 2);
    assert_eq!(page["page"], 2);
    assert!(page["items"].as_array().unwrap().len() <= 2);
    assert!(page["items"][0]["snils"].as_str().unwrap().starts_with("***"));

    // Assigning: the auditor is refused (API and form), the coordinator assigns through the API.
    let queue = http(
        addr,
        "GET",
        "/api/v1/dashboard/unassigned",
        &[("Cookie", &coordinator)],
        None,
    )
    .json();
    let orgs = http(addr, "GET", "/api/v1/organisations", &[("Cookie", &coordinator)], None).json();
    let (id, ogrn) = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|item| {
            let org = orgs.as_array()?.iter().find(|o| o["department"] == item["section"])?;
            Some((item["measure_id"].as_i64()?, org["ogrn"].as_str()?.to_string()))
        })
        .expect("a queued measure of a section with an organisation");
    let body = format!("{{\"ogrn\":\"{ogrn}\"}}");
    let path = format!("/api/v1/measures/{id}/assign");
    let refused = http(
        addr,
        "POST",
        &path,
        &[("Cookie", &auditor), ("X-CSRF-Token", &auditor_csrf)],
        Some(&body),
    );
    assert_eq!(refused.status, 403);
    let form = format!("csrf={auditor_csrf}&measure_id={id}&ogrn={ogrn}");
    let refused = form_post(addr, "/dashboard/assign", &auditor, &form);
    assert_eq!(refused.status, 403);
    // A form without the session's CSRF token is refused.
    let refused = form_post(
        addr,
        "/dashboard/assign",
        &coordinator,
        &format!("csrf=x&measure_id={id}&ogrn={ogrn}"),
    );
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("CSRF"));
    let done = http(
        addr,
        "POST",
        &path,
        &[("Cookie", &coordinator), ("X-CSRF-Token", &csrf)],
        Some(&body),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    let after = http(
        addr,
        "GET",
        "/api/v1/dashboard/unassigned",
        &[("Cookie", &coordinator)],
        None,
    )
    .json();
    assert_eq!(after["total"].as_i64().unwrap(), queue["total"].as_i64().unwrap() - 1);
    // Assigning from the form what is no longer in the queue says so next to the field.
    let again = form_post(
        addr,
        "/dashboard/assign",
        &coordinator,
        &format!("csrf={csrf}&measure_id={id}&ogrn={ogrn}"),
    );
    assert_eq!(again.status, 422);
    assert!(again.body.contains("уже не в очереди"), "{}", again.body);
}

/// A form post as a browser sends it.
fn form_post(addr: &str, path: &str, cookie: &str, body: &str) -> common::Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw.as_str(), ""));
    common::Response {
        status: head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0),
        headers: head.to_string(),
        body: body.to_string(),
    }
}
