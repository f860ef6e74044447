//! Pages end to end: the register of extracts and the extract card in a real browser (headless Chromium
//! through `common::browser`), on SQLite and PostgreSQL; and the API routes behind them.

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, Env, BACKENDS};
use serde_json::Value;

const PASSWORD: &str = "correct horse battery";

/// A register with real FRI samples (one person's IPRA in three successive versions among them, one
/// IPRA with an execution recorded and a report) and generated extracts enough for two pages; a
/// coordinator, an auditor and a health executor. Returns the IPRA with the execution too.
fn register_env(backend: common::Backend) -> (Env, std::collections::BTreeMap<&'static str, String>, i64) {
    let env = Env::new(backend);
    let orgs = env.directory();
    for sample in [
        "11350102278_IPRA_2016.xml",
        "11350102278_IPRA_2019.xml",
        "11350102278_IPRA_20221024.xml",
    ] {
        let (code, out) = env.run_json(&["import", fri_samples().join(sample).to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{sample}: {out}");
    }
    let (reported, _) = env.reported_ipra("extract_4.xml", &orgs);
    env.run_ok(&["demo", "--count", "30"]);
    env.add_user("coord", "coordinator", None, PASSWORD);
    env.add_user("audit", "auditor", None, PASSWORD);
    env.add_user("health", "executor", Some(&orgs["health"]), PASSWORD);
    (env, orgs, reported)
}

/// The raw bytes of a GET (the harness's `http` reads text; an XLSX is binary).
fn get_bytes(addr: &str, path: &str, cookie: &str) -> (u16, String, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head") + 4;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = raw[split..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
            let n = usize::from_str_radix(String::from_utf8_lossy(&rest[..eol]).trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.extend_from_slice(&rest[eol + 2..eol + 2 + n]);
            rest = &rest[eol + 2 + n + 2..];
        }
        body = out;
    }
    (status, head, body)
}

fn total(browser: &Browser) -> i64 {
    browser
        .script("return document.querySelector('#reg-total').dataset.total;")
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("total in {}", browser.text("#reg-total")))
}

/// The texts of one column of the register table, by its key.
fn column(browser: &Browser, key: &str) -> Vec<String> {
    let script = format!(
        "return Array.from(document.querySelectorAll('#reg-table tbody td[data-col=\"{key}\"]')).map(td => td.textContent.trim());"
    );
    browser
        .script(&script)
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

fn header_keys(browser: &Browser) -> Vec<String> {
    browser
        .script("return Array.from(document.querySelectorAll('#reg-table thead th')).map(th => th.dataset.col);")
        .as_array()
        .expect("array")
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect()
}

/// `ДД.ММ.ГГГГ` → `ГГГГ-ММ-ДД`, to compare dates in order.
fn iso(date: &str) -> String {
    let parts: Vec<&str> = date.split('.').collect();
    match parts.as_slice() {
        [d, m, y] => format!("{y}-{m}-{d}"),
        _ => date.to_string(),
    }
}

fn api(addr: &str, cookie: &str, path: &str) -> Value {
    let r = http(addr, "GET", path, &[("Cookie", cookie)], None);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.json()
}

#[test]
fn coordinator_filters_sorts_pages_configures_saves_exports_and_opens_cards() {
    for backend in BACKENDS {
        let (env, _, reported) = register_env(backend);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let (cookie, _) = login(addr, "coord", PASSWORD);
        let all = env.scalar("SELECT COUNT(*) FROM ipras");
        assert!(all > 30, "{all} IPRAs");

        let browser = Browser::start();
        browser.login(addr, "coord", PASSWORD);
        browser.goto(&format!("http://{addr}/"));
        browser.find("#reg-table");
        assert_eq!(total(&browser), all);
        // All columns of the seed are on by default.
        let headers = header_keys(&browser);
        for key in [
            "kind",
            "decision_date",
            "protocol_number",
            "protocol_date",
            "issued_by",
            "snils",
            "fio",
        ] {
            assert!(headers.contains(&key.to_string()), "{key} in {headers:?}");
        }
        // 20 rows a page, masked SNILS, dates as ДД.ММ.ГГГГ.
        assert_eq!(column(&browser, "number").len(), 20);
        assert!(column(&browser, "snils").iter().all(|s| s.starts_with("***-***-")));
        assert!(column(&browser, "protocol_date")
            .iter()
            .all(|d| d.len() == 10 && &d[2..3] == "." && &d[5..6] == "."));
        browser.screenshot(&format!("register-{}", backend.name()));
        // At 1366×768 a screen holds 15 rows or more (a bureau's long name does not stretch a row to
        // eight lines) and every column, «Просрочено» too, is within the window without scrolling sideways.
        let layout = browser.script(
            "const rows = [...document.querySelectorAll('#reg-table tbody tr')];              const heights = rows.map(r => r.getBoundingClientRect().height);              const cells = [...document.querySelectorAll('#reg-table thead th')];              return { tallest: Math.max(...heights),                       fifteen: heights.slice(0, 15).reduce((a, b) => a + b, 0),                       viewport: window.innerHeight, width: document.documentElement.clientWidth,                       right: Math.max(...cells.map(c => c.getBoundingClientRect().right)),                       overdue: cells.filter(c => c.dataset.col == 'overdue').map(c => c.getBoundingClientRect().right), \
                      cut: [...document.querySelectorAll('#reg-table tbody td')] \
                          .filter(td => ['number', 'decision_date', 'protocol_date', 'received', 'snils', 'status', 'measures', 'overdue'].includes(td.dataset.col)) \
                          .filter(td => td.scrollWidth > td.clientWidth).map(td => td.dataset.col + ': ' + td.textContent).slice(0, 5) };",
        );
        println!("layout at 1366×768: {layout}");
        let number = |k: &str| layout[k].as_f64().unwrap();
        assert!(
            number("fifteen") <= number("viewport"),
            "15 rows fit a screen: {layout}"
        );
        assert!(
            number("right") <= number("width"),
            "no column beyond the window: {layout}"
        );
        assert_eq!(
            layout["overdue"].as_array().map(Vec::len),
            Some(1),
            "«Просрочено» is a column: {layout}"
        );
        assert_eq!(
            layout["cut"],
            serde_json::json!([]),
            "numbers, dates and SNILS are never cut: {layout}"
        );

        // Paging: the second page holds the rest.
        assert!(browser.text("#reg-page").contains(&format!("из {}", (all + 19) / 20)));
        browser.click("#reg-next");
        browser.find("#reg-prev");
        assert!(browser.url().contains("page=2"), "{}", browser.url());
        assert_eq!(column(&browser, "number").len() as i64, (all - 20).min(20));
        // A page past the end shows the last one.
        browser.goto(&format!("http://{addr}/?page=99"));
        assert!(browser
            .text("#reg-page")
            .starts_with(&format!("страница {}", (all + 19) / 20)));
        assert!(!column(&browser, "number").is_empty());
        // Per-page choice.
        browser.goto(&format!("http://{addr}/?per_page=50"));
        assert_eq!(column(&browser, "number").len() as i64, all.min(50));

        // Quick filter by surname: every row found has it.
        browser.goto(&format!("http://{addr}/"));
        let fio = column(&browser, "fio")[0].clone();
        let surname = fio.split_whitespace().next().unwrap().to_string();
        browser.fill("#f-q", &surname);
        browser.submit("#reg-find");
        browser.find("#reg-total");
        let found = total(&browser);
        assert!(found >= 1 && found < all, "{surname}: {found}");
        assert!(column(&browser, "fio").iter().all(|f| f.starts_with(&surname)));
        // … and by IPRA number.
        let number = api(addr, &cookie, "/api/v1/ipras?per_page=1")["items"][0]["number"]
            .as_str()
            .unwrap()
            .to_string();
        browser.fill("#f-q", &number);
        browser.submit("#reg-find");
        browser.find("#reg-total");
        assert!(column(&browser, "number").contains(&number));

        // Extended filter: children's extracts decided in a period; the same count as the API's.
        browser.goto(&format!("http://{addr}/"));
        browser.click("#reg-advanced summary");
        browser.select("#f-kind", "child");
        browser.click("#reg-apply");
        browser.wait_url("kind=child");
        browser.find("#reg-total");
        let children = total(&browser);
        assert_eq!(children, env.scalar("SELECT COUNT(*) FROM ipras WHERE is_child = 1"));
        assert!(children > 0);
        assert!(column(&browser, "kind").iter().all(|k| k.contains("ребёнок")));
        assert_eq!(
            api(addr, &cookie, "/api/v1/ipras?kind=child")["total"].as_i64(),
            Some(children)
        );
        browser.screenshot(&format!("register-filter-{}", backend.name()));
        // A bad date is refused next to its field, in Russian, and nothing is listed.
        browser.goto(&format!("http://{addr}/?decision_from=2024-13-45"));
        let error = browser.text("#e-decision_from");
        assert!(error.contains("Дата вынесения решения с"), "{error}");
        assert!(!browser.has("#reg-table"));

        // Sorting by a header, both ways; stable and empty values last.
        browser.goto(&format!("http://{addr}/?per_page=100"));
        browser.click("th[data-col=decision_date] a");
        browser.find("th[data-col=decision_date][aria-sort=ascending]");
        let dates: Vec<String> = column(&browser, "decision_date").iter().map(|d| iso(d)).collect();
        let filled: Vec<&String> = dates.iter().filter(|d| !d.is_empty()).collect();
        assert!(filled.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
        browser.click("th[data-col=decision_date] a");
        browser.find("th[data-col=decision_date][aria-sort=descending]");
        let dates: Vec<String> = column(&browser, "decision_date").iter().map(|d| iso(d)).collect();
        let filled: Vec<&String> = dates.iter().filter(|d| !d.is_empty()).collect();
        assert!(filled.windows(2).all(|w| w[0] >= w[1]), "{dates:?}");
        assert!(
            browser.url().contains("sort=decision_date&dir=desc"),
            "{}",
            browser.url()
        );
        // Numbers sort as numbers.
        browser.click("th[data-col=measures] a");
        browser.find("th[data-col=measures][aria-sort=ascending]");
        let counts: Vec<i64> = column(&browser, "measures")
            .iter()
            .map(|n| n.parse().unwrap())
            .collect();
        assert!(counts.windows(2).all(|w| w[0] <= w[1]), "{counts:?}");

        // Columns: hide one, move FIO first; it persists across a reload and shows in the API.
        browser.goto(&format!("http://{addr}/"));
        browser.click("#reg-columns summary");
        browser.click("#col-protocol_number");
        browser.fill("#pos-fio", "1");
        browser.fill("#pos-kind", "2");
        browser.click("#reg-save-columns");
        browser.find("#reg-table");
        browser.goto(&format!("http://{addr}/"));
        let headers = header_keys(&browser);
        assert_eq!(headers[0], "fio", "{headers:?}");
        assert!(!headers.contains(&"protocol_number".to_string()), "{headers:?}");
        let saved = api(addr, &cookie, "/api/v1/settings/register-columns");
        assert_eq!(saved["columns"][0], "fio");
        assert_eq!(saved["columns"].as_array().unwrap().len(), 12);

        // Saved filter: save children sorted by number, apply it from the list, delete it.
        browser.goto(&format!("http://{addr}/?kind=child&sort=number&dir=asc"));
        browser.fill("#f-saved-name", "Дети по номеру");
        browser.click("#reg-save-filter");
        browser.find("a.reg-apply-saved");
        browser.goto(&format!("http://{addr}/"));
        assert_eq!(total(&browser), all);
        browser.click("a.reg-apply-saved");
        browser.find("th[data-col=number][aria-sort=ascending]");
        assert_eq!(total(&browser), children);
        assert!(browser.url().contains("kind=child"), "{}", browser.url());
        let listed = api(addr, &cookie, "/api/v1/saved-filters");
        assert_eq!(listed[0]["name"], "Дети по номеру");
        browser.screenshot(&format!("register-saved-{}", backend.name()));
        browser.click("button.reg-delete-saved");
        browser.accept_alert();
        browser.find("#reg-table");
        assert!(!browser.has("a.reg-apply-saved"));
        assert_eq!(api(addr, &cookie, "/api/v1/saved-filters").as_array().unwrap().len(), 0);

        // The card of a person whose IPRA was replaced by a newer one: sections, full SNILS,
        // the history of versions with links both ways.
        let old = api(addr, &cookie, "/api/v1/ipras?status=superseded&per_page=1")["items"][0]["id"]
            .as_i64()
            .expect("the demo register has a superseded IPRA");
        let current = api(addr, &cookie, &format!("/api/v1/ipras/{old}"))["superseded_by"]
            .as_i64()
            .expect("superseded by");
        let snils = api(addr, &cookie, &format!("/api/v1/ipras/{current}"))["person"]["snils"]
            .as_str()
            .unwrap()
            .to_string();
        let reads = env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.read'");
        browser.goto(&format!("http://{addr}/"));
        browser.fill("#f-q", &snils);
        browser.submit("#reg-find");
        browser.find("#reg-total");
        assert!(total(&browser) >= 2, "both versions found by SNILS {snils}");
        browser.click(&format!("#reg-table tr[data-id=\"{current}\"] td[data-col=number] a"));
        browser.find("#reg-snils");
        assert!(browser.text("h1").starts_with("ИПРА №"));
        assert_eq!(browser.text("#reg-snils"), snils);
        assert!(browser.has("section.reg-section"), "measures by section");
        let history = browser.text("#reg-history");
        assert!(history.contains("эта выписка"), "{history}");
        assert!(browser.has(&format!("#reg-history a[href=\"/ipras/{old}\"]")));
        assert!(browser.has("a#reg-source[href$=\"/source\"]"));
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.read'"),
            reads + 1
        );
        browser.screenshot(&format!("card-register-{}", backend.name()));
        // The older version says it was replaced and links to the new one.
        browser.goto(&format!("http://{addr}/ipras/{old}"));
        browser.find("#reg-history");
        assert!(browser.text("main").contains("заменена"));
        assert!(browser.has(&format!("p.alert a[href=\"/ipras/{current}\"]")));
        assert!(!browser.has("#reg-add-execution"), "no execution on a replaced IPRA");

        // A card with an execution recorded: the «Исполнение ИПРА» table links to it.
        browser.goto(&format!("http://{addr}/ipras/{reported}"));
        browser.find("table#reg-executions a[href^=\"/executions/\"]");
        assert!(browser.has("#reg-add-execution"));
        // The report assembled for it is listed with its status.
        assert!(browser.text("table#reg-reports").contains("Ожидание подписания"));
        assert!(browser.has("table#reg-reports a[href^=\"/reports/\"]"));
        // The measure's latest result links to its execution record.
        assert!(browser.has("section.reg-section td a[href^=\"/executions/\"]"));

        // Export CSV and XLSX of the current filter and sort: all pages, SNILS masked, logged.
        let exports = env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.export'");
        let (status, head, csv) = get_bytes(addr, "/api/v1/ipras/export?format=csv&sort=number&dir=asc", &cookie);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("text/csv"), "{head}");
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with('\u{feff}'));
        let lines: Vec<&str> = csv.trim_end().split("\r\n").collect();
        assert!(lines[0].starts_with("\u{feff}ФИО инвалида;Тип выписки"), "{}", lines[0]);
        assert_eq!(lines.len() as i64, env.scalar("SELECT COUNT(*) FROM ipras") + 1);
        let digits: String = snils.chars().filter(char::is_ascii_digit).collect();
        assert!(
            !csv.contains(&digits) && !csv.contains(&snils),
            "SNILS masked in the export"
        );
        assert!(csv.contains(&format!("***-***-{}", &snils[8..])), "{snils}");
        let (status, head, xlsx) = get_bytes(addr, "/api/v1/ipras/export?format=xlsx&kind=child", &cookie);
        assert_eq!(status, 200, "{head}");
        assert!(head.contains("spreadsheetml"), "{head}");
        let sheet =
            ipra_plugin_sdk::archive::extract(&xlsx, &ipra_plugin_sdk::archive::ArchiveLimits::default(), |name| {
                name == "xl/worksheets/sheet1.xml"
            })
            .expect("a valid workbook")
            .pop()
            .map(|e| String::from_utf8(e.bytes).unwrap())
            .expect("the sheet");
        assert_eq!(sheet.matches("<row ").count() as i64, children + 1);
        assert!(sheet.contains("ребёнок-инвалид") && sheet.contains("***-***-"));
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.export'"),
            exports + 2
        );
        // The page's export links carry the current filter.
        browser.goto(&format!("http://{addr}/?kind=child&sort=number&dir=asc"));
        let href = browser
            .script("return document.querySelector('#reg-export-xlsx').getAttribute('href');")
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            href.contains("format=xlsx") && href.contains("kind=child") && href.contains("sort=number"),
            "{href}"
        );

        // The phone-width layout: the table scrolls, minor columns are hidden.
        let phone = Browser::start_sized(390, 844);
        phone.login(addr, "coord", PASSWORD);
        phone.goto(&format!("http://{addr}/"));
        phone.find("#reg-table");
        let hidden = phone
            .script("return getComputedStyle(document.querySelector('#reg-table th[data-col=issued_by]')).display;");
        assert_eq!(hidden, "none");
        phone.screenshot(&format!("register-phone-{}", backend.name()));
        let overflow =
            phone.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth;");
        assert_eq!(overflow, 0, "the page scrolls sideways (only the table should)");
        phone.goto(&format!("http://{addr}/ipras/{current}"));
        phone.find("#reg-snils");
        phone.screenshot(&format!("card-phone-{}", backend.name()));
    }
}

#[test]
fn an_executor_sees_only_its_organisations_extracts() {
    for backend in BACKENDS {
        let (env, orgs, _) = register_env(backend);
        let health = &orgs["health"];
        let own = env.scalar(&format!(
            "SELECT COUNT(*) FROM ipras i WHERE EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}')"
        ));
        assert!(own > 0, "the health executor has measures");
        let other = env.scalar(&format!(
            "SELECT MIN(id) FROM ipras i WHERE NOT EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}')"
        ));
        let server = env.serve(&[]);
        let addr = server.addr.as_str();

        let browser = Browser::start();
        browser.login(addr, "health", PASSWORD);
        browser.goto(&format!("http://{addr}/"));
        browser.find("#reg-table");
        assert_eq!(total(&browser), own);
        // No organisation filter for an executor.
        assert!(!browser.has("#f-assigned"));
        browser.click("#reg-table tbody tr a");
        browser.find("#reg-snils");
        // Only its own measures on the card.
        let sections = browser
            .script("return Array.from(document.querySelectorAll('section.reg-section')).map(s => s.dataset.section);");
        assert_eq!(sections, serde_json::json!(["health"]));
        browser.goto(&format!("http://{addr}/ipras/{other}"));
        assert!(browser.text("h1").contains("Не найдено"), "{}", browser.text("main"));
        browser.screenshot(&format!("register-executor-404-{}", backend.name()));

        let (cookie, _) = login(addr, "health", PASSWORD);
        assert_eq!(
            http(
                addr,
                "GET",
                &format!("/api/v1/ipras/{other}"),
                &[("Cookie", &cookie)],
                None
            )
            .status,
            404
        );
        // Its export holds only its extracts.
        let (status, _, csv) = get_bytes(addr, "/api/v1/ipras/export?format=csv", &cookie);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8(csv).unwrap().trim_end().split("\r\n").count() as i64,
            own + 1
        );
        // Quick search does not reach outside the organisation.
        let outsider = env.scalar(&format!("SELECT person_id FROM ipras WHERE id = {other}"));
        let (_, person) = env.run_json(&["show", &other.to_string(), "--json"]);
        let snils = person["person"]["snils"].as_str().unwrap().to_string();
        let outside = api(addr, &cookie, &format!("/api/v1/ipras?q={}", snils.replace(' ', "%20")));
        let visible = env.scalar(&format!(
            "SELECT COUNT(*) FROM ipras i WHERE i.person_id = {outsider} AND EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}')"
        ));
        assert_eq!(outside["total"].as_i64(), Some(visible), "{outside}");
        // By a name's first letter: exactly its own IPRAs of that letter (the statistics index
        // hands them over by the letter it keeps of every IPRA, the list checks the name).
        let letter = env.text(&format!(
            "SELECT substr(MIN(i.search_name), 1, 1) FROM ipras i WHERE EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}')"
        ));
        let expected = env.scalar(&format!(
            "SELECT COUNT(*) FROM ipras i WHERE i.search_name >= '{letter}' AND i.search_name < '{letter}\u{10FFFF}' \
             AND EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}')"
        ));
        let found = api(
            addr,
            &cookie,
            &format!(
                "/api/v1/ipras?per_page=500&q={}",
                letter.bytes().map(|b| format!("%{b:02X}")).collect::<String>()
            ),
        );
        let names: Vec<String> = found["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["full_name"].as_str().unwrap_or_default().to_uppercase())
            .collect();
        assert_eq!(names.len() as i64, expected, "{letter}: {found}");
        assert!(names.iter().all(|n| n.starts_with(&letter)), "{names:?}");
        // Its register in the default order, page after page forward and back, is the database's
        // order of its IPRAs (the statistics index chooses each page's rows).
        let expected = env.ids(&format!(
            "SELECT i.id FROM ipras i WHERE EXISTS (SELECT 1 FROM measures m WHERE m.ipra_id = i.id AND m.assigned_ogrn = '{health}') \
             ORDER BY CASE WHEN i.decision_date IS NULL THEN 1 ELSE 0 END, i.decision_date DESC, i.id DESC"
        ));
        let walk = |first: &str, link: &str| {
            let mut seen: Vec<i64> = Vec::new();
            let mut path = first.to_string();
            loop {
                let page = api(addr, &cookie, &path);
                let mut ids: Vec<i64> = page["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_i64().unwrap())
                    .collect();
                if link == "prev" {
                    ids.reverse();
                }
                seen.extend(ids);
                match page[link].as_str() {
                    Some(p) => {
                        path = format!(
                            "/api/v1/ipras?per_page=7&{}={p}",
                            if link == "next" { "after" } else { "before" }
                        )
                    }
                    None => break,
                }
            }
            seen
        };
        assert_eq!(walk("/api/v1/ipras?per_page=7", "next"), expected);
        let mut backward = walk("/api/v1/ipras?per_page=7&before=end", "prev");
        backward.reverse();
        assert_eq!(backward, expected);
        let third = api(addr, &cookie, "/api/v1/ipras?per_page=7&page=3");
        let third: Vec<i64> = third["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_i64().unwrap())
            .collect();
        assert_eq!(third, expected.iter().skip(14).take(7).copied().collect::<Vec<_>>());
    }
}

#[test]
fn api_routes_check_session_csrf_and_ownership() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "5"]);
        env.add_user("coord", "coordinator", None, PASSWORD);
        env.add_user("audit", "auditor", None, PASSWORD);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();

        // 401 without a session.
        for path in [
            "/api/v1/saved-filters",
            "/api/v1/settings/register-columns",
            "/api/v1/ipras/export?format=csv",
            "/api/v1/ipras?q=x",
        ] {
            assert_eq!(http(addr, "GET", path, &[], None).status, 401, "{path}");
        }
        assert_eq!(
            http(
                addr,
                "POST",
                "/api/v1/saved-filters",
                &[],
                Some(r#"{"name":"x","query":""}"#)
            )
            .status,
            401
        );

        let (cookie, csrf) = login(addr, "coord", PASSWORD);
        let with = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
        let cookie_only = [("Cookie", cookie.as_str())];
        // 403 without the CSRF header on a change from a browser session.
        let body = r#"{"name":"Просроченные","query":"overdue=1&sort=overdue&dir=desc"}"#;
        assert_eq!(
            http(addr, "POST", "/api/v1/saved-filters", &cookie_only, Some(body)).status,
            403
        );
        assert_eq!(
            http(
                addr,
                "PUT",
                "/api/v1/settings/register-columns",
                &cookie_only,
                Some(r#"{"columns":["fio"]}"#)
            )
            .status,
            403
        );
        let created = http(addr, "POST", "/api/v1/saved-filters", &with, Some(body));
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.json()["id"].as_i64().unwrap();
        assert_eq!(created.json()["query"], "overdue=1&sort=overdue&dir=desc");
        // The same name replaces; a filter object works too.
        let replaced = http(
            addr,
            "POST",
            "/api/v1/saved-filters",
            &with,
            Some(r#"{"name":"Просроченные","filter":{"overdue":"1","kind":"adult"}}"#),
        );
        assert_eq!(replaced.status, 201, "{}", replaced.body);
        let list = api(addr, &cookie, "/api/v1/saved-filters");
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["query"], "kind=adult&overdue=1");
        let id = list[0]["id"].as_i64().unwrap_or(id);
        // Bad input: 422 naming the field.
        for bad in [
            r#"{"name":"","query":""}"#,
            r#"{"name":"x","query":"sort=password"}"#,
            r#"{"name":"x","query":"decision_to=вчера"}"#,
        ] {
            let r = http(addr, "POST", "/api/v1/saved-filters", &with, Some(bad));
            assert_eq!(r.status, 422, "{bad}: {}", r.body);
        }
        // Someone else's filter is 404 to delete; the owner's own works once.
        let (other_cookie, other_csrf) = login(addr, "audit", PASSWORD);
        let other = [("Cookie", other_cookie.as_str()), ("X-CSRF-Token", other_csrf.as_str())];
        assert_eq!(
            api(addr, &other_cookie, "/api/v1/saved-filters")
                .as_array()
                .unwrap()
                .len(),
            0
        );
        let path = format!("/api/v1/saved-filters/{id}");
        assert_eq!(http(addr, "DELETE", &path, &other, None).status, 404);
        assert_eq!(http(addr, "DELETE", &path, &with, None).status, 200);
        assert_eq!(http(addr, "DELETE", &path, &with, None).status, 404);

        // Column settings: default all, checked on save, per user.
        let columns = api(addr, &cookie, "/api/v1/settings/register-columns");
        assert_eq!(columns["columns"].as_array().unwrap().len(), 13);
        for bad in [
            r#"{"columns":[]}"#,
            r#"{"columns":["fio","fio"]}"#,
            r#"{"columns":["password"]}"#,
        ] {
            let r = http(addr, "PUT", "/api/v1/settings/register-columns", &with, Some(bad));
            assert_eq!(r.status, 422, "{bad}: {}", r.body);
        }
        let put = http(
            addr,
            "PUT",
            "/api/v1/settings/register-columns",
            &with,
            Some(r#"{"columns":["number","fio","overdue"]}"#),
        );
        assert_eq!(put.status, 200, "{}", put.body);
        assert_eq!(
            api(addr, &cookie, "/api/v1/settings/register-columns")["columns"],
            serde_json::json!(["number", "fio", "overdue"])
        );
        assert_eq!(
            api(addr, &other_cookie, "/api/v1/settings/register-columns")["columns"]
                .as_array()
                .unwrap()
                .len(),
            13
        );
        // The export takes the user's columns, or those asked for; bad parameters are 400.
        let (_, _, csv) = get_bytes(addr, "/api/v1/ipras/export?format=csv", &cookie);
        assert!(String::from_utf8(csv)
            .unwrap()
            .starts_with("\u{feff}Номер ИПРА;ФИО инвалида;Просрочено\r\n"));
        let (_, _, csv) = get_bytes(addr, "/api/v1/ipras/export?format=csv&columns=snils", &cookie);
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.trim_end().split("\r\n").count(), 6);
        assert!(csv.lines().skip(1).all(|l| l.starts_with("***-***-")), "{csv}");
        for bad in [
            "/api/v1/ipras/export",
            "/api/v1/ipras/export?format=pdf",
            "/api/v1/ipras/export?format=csv&columns=password",
            "/api/v1/ipras/export?format=csv&sort=snils",
            "/api/v1/ipras?sort=1;DROP TABLE ipras",
            "/api/v1/ipras?dir=sideways",
            "/api/v1/ipras?protocol_date=01.02.2024",
        ] {
            let path = bad.replace(' ', "%20");
            let r = http(addr, "GET", &path, &cookie_only, None);
            assert_eq!(r.status, 400, "{bad}: {}", r.body);
            assert!(r.json()["error"]["message"].as_str().is_some());
        }
        // Sorting and quick search through the API.
        let sorted = api(addr, &cookie, "/api/v1/ipras?sort=number&dir=asc&per_page=100");
        let numbers: Vec<String> = sorted["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["number"].as_str().unwrap().to_string())
            .collect();
        let first = &numbers[0];
        let quick = api(addr, &cookie, &format!("/api/v1/ipras?q={}", common_urlencode(first)));
        assert!(quick["items"].as_array().unwrap().iter().any(|i| &i["number"] == first));
        assert_eq!(env.scalar("SELECT COUNT(*) FROM ipras"), 5);

        // The page forms check the CSRF token: a forged post changes nothing.
        let forged = post_form(addr, &cookie, "/register/columns", "col=fio&csrf=forged");
        assert_eq!(forged, 403);
        let good = post_form(
            addr,
            &cookie,
            "/register/columns",
            &format!("col=fio&col=number&pos_number=1&csrf={csrf}"),
        );
        assert_eq!(good, 303);
        assert_eq!(
            api(addr, &cookie, "/api/v1/settings/register-columns")["columns"],
            serde_json::json!(["number", "fio"])
        );
        assert_eq!(
            post_form(addr, &cookie, "/register/filters", "name=x&query=&csrf=forged"),
            403
        );
        assert_eq!(
            post_form(addr, &cookie, "/register/filters", &format!("name=&query=&csrf={csrf}")),
            400
        );

        // The read-only auditor sees the register and the card, without «Добавить исполнение».
        let page = http(addr, "GET", "/", &[("Cookie", other_cookie.as_str())], None);
        assert_eq!(page.status, 200);
        assert!(page.body.contains("id=\"reg-table\""));
        let card = http(
            addr,
            "GET",
            &format!("/ipras/{}", sorted["items"][0]["id"]),
            &[("Cookie", other_cookie.as_str())],
            None,
        );
        assert_eq!(card.status, 200);
        assert!(card.body.contains("id=\"reg-snils\"") && !card.body.contains("reg-add-execution"));
    }
}

/// Posts an HTML form (urlencoded) with a session cookie; returns the status.
fn post_form(addr: &str, cookie: &str, path: &str, body: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    String::from_utf8_lossy(&raw)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn common_urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
