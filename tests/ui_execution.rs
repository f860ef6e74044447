//! Pages end to end: the execution form, the register of executions and the signing step in a real browser (headless Chromium
//! through `common::browser`), on SQLite and PostgreSQL.

mod common;

use common::browser::{screenshot_dir, Browser};
use common::{fri_samples, gost_key, http, login, Env, BACKENDS};
use std::io::{Read, Write};

/// A raw HTTP request whose answer is kept as bytes (a PDF, a workbook), with an optional
/// form-encoded body: (status, head, body).
fn raw(addr: &str, method: &str, path: &str, cookie: Option<&str>, form: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(cookie) = cookie {
        request.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if let Some(body) = form {
        request.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).expect("read");
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&bytes[..split]).into_owned();
    let mut body = bytes[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut rest = &body[..];
        while let Some(line) = rest.windows(2).position(|w| w == b"\r\n") {
            let size = usize::from_str_radix(String::from_utf8_lossy(&rest[..line]).trim(), 16).unwrap_or(0);
            if size == 0 || rest.len() < line + 2 + size {
                break;
            }
            out.extend_from_slice(&rest[line + 2..line + 2 + size]);
            rest = &rest[(line + 4 + size).min(rest.len())..];
        }
        body = out;
    }
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head, body)
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of a PDF through poppler's `pdftotext` (tests/run.sh installs poppler-utils).
fn pdf_text(pdf: &[u8], name: &str) -> String {
    let path = screenshot_dir().join(format!("{name}.pdf"));
    std::fs::write(&path, pdf).expect("write pdf");
    let out = std::process::Command::new("pdftotext")
        .args(["-layout", path.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (poppler-utils) is not installed: tests/run.sh installs it");
    assert!(
        out.status.success(),
        "pdftotext: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Setup {
    env: Env,
    orgs: std::collections::BTreeMap<&'static str, String>,
    ipra: i64,
    measure: i64,
    section: &'static str,
    date: String,
    surname: String,
}

/// A directory, one imported extract, users of each role and the region's signing key.
fn setup(backend: common::Backend) -> Setup {
    let env = Env::new(backend);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let m = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "social-protection" || m["section"] == "health")
        .expect("a measure")
        .clone();
    let section = if m["section"] == "health" {
        "health"
    } else {
        "social-protection"
    };
    let card = env.ok(&["show", &ipra.to_string(), "--json"]);
    let date = card["decision_date"].as_str().unwrap().to_string();
    let surname = card["person"]["surname"].as_str().unwrap().to_string();
    env.add_user("executor", "executor", Some(&orgs[section]), "executor password 1");
    // An executor of an organisation with no measures of this IPRA.
    let stranger = common::ogrn(102_770_013_250);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &stranger,
        "--name",
        "Посторонняя организация",
        "--department",
        "sport",
    ]);
    env.add_user("stranger", "executor", Some(&stranger), "stranger password 1");
    env.add_user("coordinator", "coordinator", None, "coordinator password 1");
    env.add_user("auditor", "auditor", None, "auditor password 1");
    let (key, cert) = gost_key(env.dir.path(), "minsoc");
    std::fs::write(
        env.data_dir().join("signing.toml"),
        format!(
            "[organisations.\"{}\"]\nprovider = \"gost\"\nkey = \"{}\"\ncertificate = \"{}\"\n",
            orgs["region"],
            key.display(),
            cert.display()
        ),
    )
    .unwrap();
    Setup {
        measure: m["id"].as_i64().unwrap(),
        env,
        orgs,
        ipra,
        section,
        date,
        surname,
    }
}

/// Waits (up to 10 s) until a script's condition holds: after a click that loads a page, so
/// that nothing is read from the page being left.
fn wait_for(browser: &Browser, what: &str, condition: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.script(&format!(
        "try {{ return !!({condition}); }} catch (e) {{ return false; }}"
    )) != true
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: {condition} at {}",
            browser.url()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// The index of the form row of a measure (`r{index}.measure`).
fn row_of(browser: &Browser, measure: i64) -> String {
    let name = browser.script(&format!(
        "return document.querySelector('input[name$=\".measure\"][value=\"{measure}\"]').name"
    ));
    let name = name.as_str().expect("the measure's row").to_string();
    name.trim_start_matches('r').split('.').next().unwrap().to_string()
}

#[test]
fn executor_fills_the_form_coordinator_signs_the_printed_report() {
    for backend in BACKENDS {
        let s = setup(backend);
        let b = backend.name();
        let server = s.env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();

        // The executor opens the IPRA's form: measures grouped by the six sections.
        browser.login(addr, "executor", "executor password 1");
        browser.goto(&format!("http://{addr}/executions"));
        assert!(browser.text("table.ex-pending").contains(&s.surname));
        browser.click(&format!("table.ex-pending a[href=\"/ipras/{}/execution\"]", s.ipra));
        browser.find("form.ex-form");
        assert!(browser.text("h1").starts_with("Исполнение ИПРА №"));
        // Enter in any field saves the draft (the form's default button), not a row's «Найти»; the
        // buttons stay in view while the long form scrolls.
        assert_eq!(
            browser.script("return document.querySelector('form.ex-form button[type=submit]').value"),
            "save"
        );
        assert_eq!(
            browser.script("return getComputedStyle(document.querySelector('.ex-actions')).position"),
            "sticky"
        );
        for section in [
            "Охрана здоровья",
            "Содействие занятости населения",
            "Образование",
            "Социальная защита населения",
            "Физическая культура и спорт",
            "Обеспечение ТСР",
        ] {
            assert!(browser.source().contains(section), "{section}");
        }
        let i = row_of(&browser, s.measure);
        assert_eq!(
            browser.script(&format!("return document.getElementById('r{i}-executor_ogrn').value")),
            s.orgs[s.section].as_str()
        );

        // «Найти» with the script: the name comes from the organisations API.
        browser.script(&format!(
            "document.getElementById('r{i}-executor_name').value = ''; return 1"
        ));
        browser.click(&format!("button[data-ex-lookup=\"{i}\"]"));
        browser.find(&format!("#row-{i} .ex-lookup-msg"));
        assert_eq!(
            browser.script(&format!("return document.getElementById('r{i}-executor_name').value")),
            format!("Исполнитель {}", s.section).as_str()
        );

        // «Не выполнено» without a reason: the plugin's message is next to the reasons; nothing is saved.
        browser.select(&format!("#r{i}-result"), "not-executed");
        // The comment applies only to «Выполнено»: the script hides it now.
        assert_eq!(
            browser.script(&format!(
                "return document.querySelector('#row-{i} .ex-comment').classList.contains('ex-hidden')"
            )),
            true
        );
        browser.script(&format!(
            "document.getElementById('r{i}-date').value = '{}'; return 1",
            s.date
        ));
        browser.fill(&format!("#r{i}-clarification"), "Гражданин не явился по приглашению");
        browser.click("button[value=ready]");
        browser.find(&format!("#r{i}-reason-error"));
        let message = browser.text(&format!("#r{i}-reason-error"));
        assert!(message.contains("причину неисполнения"), "{message}");
        assert_eq!(
            browser.script(&format!(
                "return document.getElementById('r{i}-reason-error').getAttribute('role')"
            )),
            "alert"
        );
        // What was typed stays.
        assert_eq!(
            browser.script(&format!("return document.getElementById('r{i}-clarification').value")),
            "Гражданин не явился по приглашению"
        );
        assert_eq!(
            s.env.scalar("SELECT COUNT(*) FROM execution_records"),
            0,
            "nothing half-written"
        );
        browser.screenshot(&format!("execution-form-error-{b}"));

        // Fixed: a reason chosen; saved as a draft, then marked ready.
        browser.click(&format!("#r{i}-reason-0"));
        browser.click(".ex-actions button[value=save]");
        wait_for(
            &browser,
            "draft saved",
            "document.querySelector('.notice') && document.querySelector('.notice').textContent.indexOf('Черновик сохранён') >= 0",
        );
        assert!(
            browser.text(".notice").contains("Черновик сохранён"),
            "{}",
            browser.text(".notice")
        );
        assert_eq!(
            s.env
                .scalar("SELECT COUNT(*) FROM execution_records WHERE status = 'draft'"),
            1
        );
        browser.click("button[value=ready]");
        wait_for(
            &browser,
            "marked ready",
            "location.search.indexOf('done=ready') >= 0 && document.querySelector('.notice')",
        );
        assert!(
            browser.text(".notice").contains("Готово к подписанию"),
            "{}",
            browser.text(".notice")
        );
        assert_eq!(
            s.env
                .scalar("SELECT COUNT(*) FROM execution_records WHERE status = 'ready'"),
            1
        );
        browser.screenshot(&format!("execution-form-ready-{b}"));

        // The register of executions shows it, filtered; the executor logs out.
        browser.goto(&format!("http://{addr}/executions?status=ready"));
        assert!(browser.text("table.ex-register tbody").contains(&s.surname));
        assert!(browser.text("table.ex-register tbody").contains("Готово к подписанию"));
        browser.click("form.account button[type=submit]");
        browser.find("form.login");

        // The coordinator assembles the report of the region and opens it.
        browser.login(addr, "coordinator", "coordinator password 1");
        browser.goto(&format!("http://{addr}/ipras/{}/execution", s.ipra));
        browser.select("#ex-reporter", &s.orgs["region"]);
        browser.click("form.ex-assemble button[type=submit]");
        browser.find(".ex-report-status");
        assert_eq!(browser.text(".ex-report-status"), "Ожидание подписания");
        assert!(browser.has("object.ex-pdf[type=\"application/pdf\"]"));
        let report = s.env.scalar("SELECT MAX(id) FROM reports");
        assert!(
            browser.url().contains(&format!("/reports/{report}")),
            "{}",
            browser.url()
        );
        browser.screenshot(&format!("report-before-signing-{b}"));

        // The printed form is a PDF with the report's text, before signing.
        let cookie = browser
            .script("return document.cookie")
            .as_str()
            .unwrap_or_default()
            .to_string();
        let (cookie, _) = if cookie.is_empty() {
            login(addr, "coordinator", "coordinator password 1")
        } else {
            (cookie, String::new())
        };
        let (status, head, pdf) = raw(
            addr,
            "GET",
            &format!("/reports/{report}/print.pdf"),
            Some(&cookie),
            None,
        );
        assert_eq!(status, 200, "{head}");
        assert!(head.to_ascii_lowercase().contains("application/pdf"));
        assert!(pdf.starts_with(b"%PDF-"));
        let text = pdf_text(&pdf, &format!("report-{b}"));
        for expected in [
            "Отчёт об исполнении ИПРА",
            s.surname.as_str(),
            "Социальная защита населения",
            "Не выполнено",
            "Гражданин не явился по приглашению",
            "Министерство социальной политики",
        ] {
            if expected == "Социальная защита населения" && s.section != "social-protection" {
                continue;
            }
            assert!(text.contains(expected), "{expected} in {text}");
        }

        // Signed with the region's GOST key: «Подписано» and who signed.
        browser.click("form[action$=\"/sign\"] button[type=submit]");
        browser.accept_alert();
        browser.find(".ex-signer");
        assert_eq!(browser.text(".ex-report-status"), "Подписано");
        assert!(
            browser.text(".ex-signer").contains("minsoc"),
            "{}",
            browser.text(".ex-signer")
        );
        browser.screenshot(&format!("report-signed-{b}"));
        let signed = raw(
            addr,
            "GET",
            &format!("/reports/{report}/print.pdf"),
            Some(&cookie),
            None,
        )
        .2;
        assert!(pdf_text(&signed, &format!("report-signed-{b}")).contains("Подписант"));

        // The reports list and the register with its filters and exports.
        browser.goto(&format!("http://{addr}/reports"));
        assert!(browser.text("table.ex-reports tbody").contains("Подписано"));
        browser.screenshot(&format!("reports-{b}"));
        browser.goto(&format!("http://{addr}/executions"));
        browser.fill("#x-surname", &s.surname.to_lowercase());
        browser.select("#x-status", "signed");
        browser.click("form.filters button[type=submit]");
        wait_for(
            &browser,
            "filtered",
            "location.search.indexOf('status=signed') >= 0 && document.querySelector('table.ex-register tbody a')",
        );
        assert!(browser.text("table.ex-register tbody").contains("Подписано"));
        assert!(!browser.text("table.ex-register tbody").contains("Черновик"));
        browser.screenshot(&format!("executions-{b}"));
        browser.select("#x-status", "accepted");
        browser.click("form.filters button[type=submit]");
        wait_for(
            &browser,
            "filtered to nothing",
            "location.search.indexOf('status=accepted') >= 0 && document.querySelector('td.muted')",
        );
        assert!(browser.text("table.ex-register tbody").contains("Ничего не найдено"));
        let (status, head, csv) = raw(
            addr,
            "GET",
            &format!("/executions/export?surname={}&format=csv", encode(&s.surname)),
            Some(&cookie),
            None,
        );
        assert_eq!(status, 200, "{head}");
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with('\u{feff}'), "BOM for Russian Excel");
        assert!(csv.contains("Номер ИПРА;СНИЛС;Фамилия"), "{csv}");
        assert!(csv.contains("Подписано"));
        let (status, _, xlsx) = raw(addr, "GET", "/executions/export?format=xlsx", Some(&cookie), None);
        assert_eq!(status, 200);
        assert!(xlsx.starts_with(b"PK"), "an XLSX workbook");
        // The read-only view by section, with the reason.
        browser.goto(&format!("http://{addr}/executions/{}", s.ipra));
        assert!(browser.source().contains("Отказ инвалида") || browser.text("main").contains("Отказ инвалида"));

        // At phone width the register and the form stay usable.
        let phone = Browser::start_sized(390, 844);
        phone.login(addr, "coordinator", "coordinator password 1");
        phone.goto(&format!("http://{addr}/executions"));
        phone.find("table.ex-register");
        phone.screenshot(&format!("executions-phone-{b}"));
        phone.goto(&format!("http://{addr}/ipras/{}/execution", s.ipra));
        phone.find("form.ex-form");
        let overflow = phone.script("return document.documentElement.scrollWidth <= window.innerWidth + 1");
        assert_eq!(overflow, true, "no horizontal scrolling of the page at 390 px");
        phone.screenshot(&format!("execution-form-phone-{b}"));
        phone.goto(&format!("http://{addr}/reports/{report}"));
        phone.find(".ex-report-status");
        phone.screenshot(&format!("report-phone-{b}"));
    }
}

#[test]
fn lookup_without_script_and_read_only_auditor() {
    let s = setup(common::Backend::Sqlite);
    let server = s.env.serve(&[]);
    let addr = server.addr.as_str();
    let browser = Browser::start();
    browser.login(addr, "executor", "executor password 1");
    browser.goto(&format!("http://{addr}/ipras/{}/execution", s.ipra));
    let i = row_of(&browser, s.measure);
    // The «Найти» button without the script's handler is a plain submit: the server looks it up.
    browser.script(&format!(
        "var b = document.querySelector('[data-ex-lookup=\"{i}\"]'); var c = b.cloneNode(true); \
         c.removeAttribute('data-ex-lookup'); b.replaceWith(c); \
         document.getElementById('r{i}-executor_name').value = ''; \
         document.getElementById('r{i}-executor_ogrn').value = '1234567890123'; return 1"
    ));
    browser.fill(&format!("#r{i}-clarification"), "набрано до поиска");
    browser.click(&format!("button[value=\"lookup:{i}\"]"));
    browser.find(&format!("#r{i}-executor_ogrn-error"));
    assert!(browser
        .text(&format!("#r{i}-executor_ogrn-error"))
        .contains("не найдена"));
    assert_eq!(
        browser.script(&format!("return document.getElementById('r{i}-clarification').value")),
        "набрано до поиска"
    );
    browser.script(&format!(
        "var b = document.querySelector('button[value=\"lookup:{i}\"]'); var c = b.cloneNode(true); \
         c.removeAttribute('data-ex-lookup'); b.replaceWith(c); \
         document.getElementById('r{i}-executor_ogrn').value = '{}'; return 1",
        s.orgs[s.section]
    ));
    browser.click(&format!("button[value=\"lookup:{i}\"]"));
    browser.find(&format!("#row-{i} .notice"));
    assert_eq!(
        browser.script(&format!("return document.getElementById('r{i}-executor_name').value")),
        format!("Исполнитель {}", s.section).as_str()
    );
    // Adding a measure row within a section.
    browser.click("button[value=\"add:sport\"]");
    browser.find("#section-sport .ex-row");
    browser.click("form.account button[type=submit]");
    browser.find("form.login");

    // The auditor reads the form, disabled, without buttons.
    browser.login(addr, "auditor", "auditor password 1");
    browser.goto(&format!("http://{addr}/ipras/{}/execution", s.ipra));
    browser.find("fieldset.ex-all[disabled]");
    assert!(!browser.has("button[value=save]"));
    browser.screenshot("execution-form-auditor");

    // «Настройка столбцов таблицы» of the register: a column switched off stays off across sorting.
    browser.goto(&format!("http://{addr}/executions"));
    assert!(browser.text("table.ex-register thead").contains("СНИЛС"));
    browser.click("details.ex-columns summary");
    browser.click("#x-c-snils");
    browser.click("form.filters button[type=submit]");
    wait_for(&browser, "columns set", "location.search.indexOf('columns=1') >= 0");
    assert!(!browser.text("table.ex-register thead").contains("СНИЛС"));
    assert!(browser.text("table.ex-register thead").contains("Фамилия"));
    browser.click("table.ex-register thead th:nth-child(2) a");
    wait_for(&browser, "sorted", "location.search.indexOf('sort=') >= 0");
    assert!(!browser.text("table.ex-register thead").contains("СНИЛС"));
}

#[test]
fn api_and_page_routes_check_who_asks() {
    for backend in BACKENDS {
        let s = setup(backend);
        // An executed measure recorded by the CLI and a report of the region awaiting signature.
        let (ipra, report) = (s.ipra, assembled(&s));
        let server = s.env.serve(&[]);
        let addr = server.addr.as_str();
        let pdf = format!("/api/v1/reports/{report}/pdf");

        // Without a session: 401 on the API, the login page for pages.
        assert_eq!(http(addr, "GET", &pdf, &[], None).status, 401);
        assert_eq!(http(addr, "GET", "/api/v1/execution-register", &[], None).status, 401);
        let page = http(addr, "GET", &format!("/reports/{report}"), &[], None);
        assert!(
            page.status == 303 || page.status == 302 || page.status == 307,
            "{}",
            page.status
        );

        // The coordinator and the auditor read the PDF; an executor of another organisation gets 404.
        for (user, password) in [
            ("coordinator", "coordinator password 1"),
            ("auditor", "auditor password 1"),
        ] {
            let (cookie, _) = login(addr, user, password);
            let (status, head, body) = raw(addr, "GET", &pdf, Some(&cookie), None);
            assert_eq!(status, 200, "{user}: {head}");
            assert!(body.starts_with(b"%PDF-"));
        }
        let (stranger, stranger_csrf) = login(addr, "stranger", "stranger password 1");
        assert_eq!(raw(addr, "GET", &pdf, Some(&stranger), None).0, 404);
        assert_eq!(
            raw(addr, "GET", &format!("/reports/{report}"), Some(&stranger), None).0,
            404
        );
        assert_eq!(
            raw(addr, "GET", &format!("/ipras/{ipra}/execution"), Some(&stranger), None).0,
            404
        );
        let register = http(
            addr,
            "GET",
            "/api/v1/execution-register",
            &[("Cookie", &stranger)],
            None,
        );
        assert_eq!(register.status, 200);
        assert_eq!(
            register.json()["total"],
            0,
            "another organisation's executions are not seen"
        );
        let (status, _, _) = raw(
            addr,
            "POST",
            &format!("/reports/{report}/sign"),
            Some(&stranger),
            Some(&format!("csrf={stranger_csrf}")),
        );
        assert_eq!(status, 404);

        // The executor sees its own row in the register, masked SNILS; the export works through the API.
        let (executor, executor_csrf) = login(addr, "executor", "executor password 1");
        let register = http(
            addr,
            "GET",
            "/api/v1/execution-register",
            &[("Cookie", &executor)],
            None,
        )
        .json();
        assert_eq!(register["total"], 1, "{register}");
        assert!(
            register["items"][0]["snils"].as_str().unwrap().contains("***"),
            "{register}"
        );
        assert_eq!(register["items"][0]["status"], "awaiting-signature");
        assert_eq!(register["pending_total"], 0, "its one measure is recorded: {register}");
        // Filtered by a status: the executor's own counted on the records and their reports alone;
        // the region's by a report's status alone, from the reports of the status.
        let by_status = |cookie: &str, cases: &[(&str, usize)]| {
            for (status, total) in cases {
                let filtered = http(
                    addr,
                    "GET",
                    &format!("/api/v1/execution-register?status={status}"),
                    &[("Cookie", cookie)],
                    None,
                )
                .json();
                assert_eq!(filtered["total"], *total, "{status}: {filtered}");
                assert_eq!(
                    filtered["items"].as_array().map(Vec::len),
                    Some(*total),
                    "{status}: {filtered}"
                );
            }
        };
        by_status(&executor, &[("awaiting-signature", 1), ("accepted", 0), ("draft", 0)]);
        let (coordinator, _) = login(addr, "coordinator", "coordinator password 1");
        let coordinator_view = http(
            addr,
            "GET",
            "/api/v1/execution-register",
            &[("Cookie", &coordinator)],
            None,
        )
        .json();
        assert_eq!(
            coordinator_view["pending_total"], 1,
            "other sections' measures await: {coordinator_view}"
        );
        by_status(
            &coordinator,
            &[("awaiting-signature", 1), ("accepted", 0), ("ready", 0)],
        );
        let (status, _, csv) = raw(
            addr,
            "GET",
            "/api/v1/execution-register?format=csv",
            Some(&executor),
            None,
        );
        assert_eq!(status, 200);
        assert!(String::from_utf8_lossy(&csv).contains("Ожидание подписания"));
        assert_eq!(
            http(
                addr,
                "GET",
                "/api/v1/execution-register?format=pdf",
                &[("Cookie", &executor)],
                None
            )
            .status,
            400
        );
        // An executor reports only for its own organisation.
        let (status, _, _) = raw(
            addr,
            "POST",
            &format!("/ipras/{ipra}/report"),
            Some(&executor),
            Some(&format!("csrf={executor_csrf}&reporter={}", s.orgs["region"])),
        );
        assert_eq!(status, 403);
        // The executor is not the reporter (the region is): its report pages are 404, answers 403.
        assert_eq!(raw(addr, "GET", &pdf, Some(&executor), None).0, 404);
        let (status, _, _) = raw(
            addr,
            "POST",
            &format!("/reports/{report}/answer"),
            Some(&executor),
            Some(&format!("csrf={executor_csrf}&accepted=yes")),
        );
        assert_eq!(status, 403);

        // The auditor may not write: the form, signing and assembling are refused (403).
        let (auditor, auditor_csrf) = login(addr, "auditor", "auditor password 1");
        for (path, body) in [
            (format!("/reports/{report}/sign"), format!("csrf={auditor_csrf}")),
            (format!("/reports/{report}/withdraw"), format!("csrf={auditor_csrf}")),
            (
                format!("/ipras/{ipra}/execution"),
                format!("csrf={auditor_csrf}&action=save&r0.section=health&r0.result=executed"),
            ),
            (
                format!("/ipras/{ipra}/report"),
                format!("csrf={auditor_csrf}&reporter={}", s.orgs["region"]),
            ),
        ] {
            let (status, _, _) = raw(addr, "POST", &path, Some(&auditor), Some(&body));
            assert_eq!(status, 403, "{path}");
        }
        // A form posted without the session's CSRF token is refused.
        let (coordinator, _) = login(addr, "coordinator", "coordinator password 1");
        let (status, _, _) = raw(
            addr,
            "POST",
            &format!("/reports/{report}/sign"),
            Some(&coordinator),
            Some("csrf=forged"),
        );
        assert_eq!(status, 403);
        // Bad form input gets a Russian message, nothing written.
        let (coordinator, coordinator_csrf) = login(addr, "coordinator", "coordinator password 1");
        let (status, _, body) = raw(
            addr,
            "POST",
            &format!("/ipras/{ipra}/execution"),
            Some(&coordinator),
            Some(&format!(
                "csrf={coordinator_csrf}&action=save&r0.section=health&r0.result=maybe"
            )),
        );
        assert_eq!(status, 400);
        assert!(String::from_utf8_lossy(&body).contains("Статус/Результат"));
        // The coordinator withdraws the report through the page: its record is ready again.
        let (status, head, _) = raw(
            addr,
            "POST",
            &format!("/reports/{report}/withdraw"),
            Some(&coordinator),
            Some(&format!("csrf={coordinator_csrf}")),
        );
        assert_eq!(status, 303, "{head}");
        assert_eq!(
            s.env
                .scalar("SELECT COUNT(*) FROM execution_records WHERE status = 'ready'"),
            1
        );
    }
}

/// A report of the region assembled through the CLI from one ready record; returns its id.
fn assembled(s: &Setup) -> i64 {
    s.env.ok(&[
        "executions",
        "add",
        "--ipra",
        &s.ipra.to_string(),
        "--measure",
        &s.measure.to_string(),
        "--section",
        s.section,
        "--org",
        &s.orgs[s.section],
        "--executor",
        &s.orgs[s.section],
        "--name",
        "Мероприятие",
        "--result",
        "executed",
        "--date",
        &s.date,
        "--ready",
        "--json",
    ]);
    let assembled = s.env.ok(&[
        "reports",
        "assemble",
        "--ipra",
        &s.ipra.to_string(),
        "--reporter",
        &s.orgs["region"],
        "--json",
    ]);
    assembled["result"].as_i64().unwrap()
}

/// A detached GOST signature of `data` by `key`/`cert`, as Base64 of DER (what CryptoPro saves).
fn detached_signature(
    dir: &std::path::Path,
    data: &std::path::Path,
    key: &std::path::Path,
    cert: &std::path::Path,
) -> String {
    let sig = dir.join("upload.sig");
    let run = |args: Vec<&std::ffi::OsStr>| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let os = |s: &'static str| std::ffi::OsStr::new(s);
    run(vec![
        os("cms"),
        os("-sign"),
        os("-engine"),
        os("gost"),
        os("-binary"),
        os("-outform"),
        os("DER"),
        os("-md"),
        os("md_gost12_256"),
        os("-signer"),
        cert.as_os_str(),
        os("-inkey"),
        key.as_os_str(),
        os("-in"),
        data.as_os_str(),
        os("-out"),
        sig.as_os_str(),
    ]);
    run(vec![os("base64"), os("-A"), os("-in"), sig.as_os_str()])
        .trim()
        .to_string()
}

#[test]
fn uploaded_signature_is_verified_then_sent_and_answered() {
    let s = setup(common::Backend::Sqlite);
    std::fs::write(
        s.env.data_dir().join("signing.toml"),
        format!("[organisations.\"{}\"]\nprovider = \"upload\"\n", s.orgs["region"]),
    )
    .unwrap();
    let report = assembled(&s);
    let doc = s.env.dir.path().join("report.xml");
    s.env.run_ok(&[
        "reports",
        "document",
        &report.to_string(),
        "--out",
        doc.to_str().unwrap(),
    ]);
    let (key, cert) = gost_key(s.env.dir.path(), "signer");
    let other = s.env.dir.path().join("other.xml");
    std::fs::write(&other, b"<other/>").unwrap();
    let wrong = detached_signature(s.env.dir.path(), &other, &key, &cert);
    let good = detached_signature(s.env.dir.path(), &doc, &key, &cert);

    let server = s.env.serve(&[]);
    let addr = server.addr.as_str();
    let browser = Browser::start();
    browser.login(addr, "coordinator", "coordinator password 1");
    browser.goto(&format!("http://{addr}/reports/{report}"));
    // A signature of other data is refused with the reason; the report still awaits signature.
    browser.script(&format!(
        "document.getElementById('ex-sig-text').value = '{wrong}'; return 1"
    ));
    browser.click("form.ex-upload button[type=submit]");
    wait_for(&browser, "refused", "document.querySelector('p.alert[role=alert]')");
    assert!(
        browser.text("p.alert").contains("не принята"),
        "{}",
        browser.text("p.alert")
    );
    assert_eq!(browser.text(".ex-report-status"), "Ожидание подписания");
    // The right one is verified: signer and certificate validity are shown.
    browser.script(&format!(
        "document.getElementById('ex-sig-text').value = '{good}'; return 1"
    ));
    browser.click("form.ex-upload button[type=submit]");
    browser.find(".ex-signer");
    assert_eq!(browser.text(".ex-report-status"), "Подписано");
    assert!(browser.text(".ex-signer").contains("signer"));
    assert!(browser.text(".ex-signature").contains("Сертификат действует"));
    browser.screenshot("report-uploaded-signature");

    // Sent by the exchange job; the coordinator records FRI's answer: a rejection needs its reason.
    s.env.ok(&["jobs", "run", "fri-outbox", "--json"]);
    browser.goto(&format!("http://{addr}/reports/{report}"));
    assert_eq!(browser.text(".ex-report-status"), "Отправлено");
    browser.click("#ex-rej");
    browser.click("form[action$=\"/answer\"] button[type=submit]");
    wait_for(
        &browser,
        "reason asked",
        "document.querySelector('p.alert[role=alert]')",
    );
    assert!(
        browser.text("p.alert").contains("причину отклонения"),
        "{}",
        browser.text("p.alert")
    );
    browser.click("#ex-rej");
    browser.fill("#ex-reason", "Не указана дата исполнения");
    browser.click("form[action$=\"/answer\"] button[type=submit]");
    wait_for(&browser, "answered", "location.search.indexOf('done=answered') >= 0");
    assert_eq!(browser.text(".ex-report-status"), "Отклонено");
    assert!(browser.text("main").contains("Не указана дата исполнения"));
    // Its records are back for correction, saying why, and the register of executions finds them.
    browser.goto(&format!("http://{addr}/executions?status=returned"));
    let returned = browser.text("table.ex-register tbody");
    assert!(returned.contains(&s.surname), "{returned}");
    assert!(returned.contains("Возвращено на исправление"), "{returned}");
}

/// The IPRAs awaiting execution that a direct SQL walk finds: open measures without an execution
/// record, dated ones by (due date, id), then undated ones by id, each IPRA where it first appears;
/// the first `n` of them and whether there are more (`own`: an organisation's measures only).
fn pending_by_sql(env: &Env, own: Option<&str>, n: usize) -> (Vec<i64>, bool) {
    let scope = own.map(|o| format!(" AND m.assigned_ogrn = '{o}'")).unwrap_or_default();
    let base = format!(
        "SELECT m.ipra_id FROM measures m WHERE m.status = 'open' AND NOT EXISTS \
         (SELECT 1 FROM execution_records e WHERE e.measure_id = m.id){scope}"
    );
    let mut order = env.ids(&format!("{base} AND m.due_date IS NOT NULL ORDER BY m.due_date, m.id"));
    order.extend(env.ids(&format!("{base} AND m.due_date IS NULL ORDER BY m.id")));
    let mut seen = std::collections::HashSet::new();
    order.retain(|i| seen.insert(*i));
    let more = order.len() > n;
    order.truncate(n);
    (order, more)
}

#[test]
fn ipras_awaiting_execution_are_walked_in_due_order_across_chunks() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "60", "--seed", "3"]);
        env.add_user("pending-coordinator", "coordinator", None, "coordinator password 1");
        let org = env.text(
            "SELECT assigned_ogrn FROM measures WHERE status = 'open' AND assigned_ogrn IS NOT NULL \
             GROUP BY assigned_ogrn ORDER BY COUNT(*) DESC, assigned_ogrn LIMIT 1",
        );
        env.add_user("pending-executor", "executor", Some(&org), "executor password 1");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let coordinator = login(addr, "pending-coordinator", "coordinator password 1").0;
        let executor = login(addr, "pending-executor", "executor password 1").0;
        let listed = |cookie: &str| {
            let page = http(addr, "GET", "/api/v1/execution-register", &[("Cookie", cookie)], None).json();
            let ids: Vec<i64> = page["pending"]
                .as_array()
                .unwrap_or_else(|| panic!("{page}"))
                .iter()
                .map(|p| p["ipra_id"].as_i64().unwrap())
                .collect();
            (ids, page["pending_more"].as_bool().unwrap())
        };
        // Ties of the due date among measures of the same IPRAs (ids of an IPRA's measures are
        // consecutive), so that a page's 25 IPRAs lie beyond the walk's first chunk: the newest
        // IPRAs' measures first, then the others' (with smaller ids) a day later; then only undated
        // measures, walked by id alone.
        for spread in [
            "CASE WHEN ipra_id > (SELECT MAX(id) - 8 FROM ipras) THEN '2027-03-01' ELSE '2027-03-02' END",
            "NULL",
        ] {
            env.execute(&format!(
                "UPDATE measures SET due_date = {spread} WHERE status = 'open'"
            ));
            let (region, more) = pending_by_sql(&env, None, 25);
            assert_eq!(region.len(), 25, "{backend:?}: the demo has IPRAs enough");
            assert_eq!(listed(&coordinator), (region, more), "{backend:?}, {spread}");
            let (own, own_more) = pending_by_sql(&env, Some(&org), 25);
            assert!(!own.is_empty());
            assert_eq!(listed(&executor), (own, own_more), "{backend:?}, {spread}, executor");
        }
    }
}

/// A common surname (more records than a count looks at, 1,000, and 3,000 IPRAs bearing it): the
/// register of executions walks its order's index with the surname compared on each record, instead
/// of reading and sorting all the surname's records from the name's index. Every page against a
/// direct walk, by the date changed and by number, on both engines; and a surname of as many records
/// but fewer IPRAs, still read from its index.
#[test]
fn a_common_surname_is_found_by_walking_the_registers_order() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "200", "--seed", "5"]);
        // A record for each measure, changed on days spread over a month; two IPRAs in three renamed.
        env.execute(
            "INSERT INTO execution_records (ipra_id, measure_id, section, organisation, status, result, measure_name, \
             executor_ogrn, reasons, created_at, created_by, updated_at) \
             SELECT m.ipra_id, m.id, m.section, '1027700000000', 'draft', 'executed', 'Мероприятие', '1027700000000', \
             '', '2026-11-01T10:00:00Z', 'test', '2026-11-' || CAST(10 + m.id % 20 AS TEXT) || 'T10:00:00Z' FROM measures m",
        );
        env.execute("UPDATE ipras SET search_name = 'ШИРОКОВА ' || search_name WHERE id % 3 <> 0");
        // Closed IPRAs of earlier years bearing a name of the same beginning, without records:
        // «Широков…» is borne by 3,133 IPRAs, «Широкова…» by 133.
        env.execute(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 3000) \
             INSERT INTO ipras (person_id, snils, number, protocol_number, protocol_date, is_child, document_version, \
             document_id, extract_id, status, source_document_id, extra, received_at, search_name) \
             SELECT i.person_id, i.snils, i.number || '-' || CAST(x AS TEXT), i.protocol_number, i.protocol_date, \
             i.is_child, i.document_version, i.document_id, i.extract_id, 'closed', i.source_document_id, i.extra, \
             i.received_at, 'ШИРОКОВЫ АРХИВ ' || CAST(x AS TEXT) FROM n CROSS JOIN ipras i \
             WHERE i.id = (SELECT MIN(id) FROM ipras)",
        );
        let named = "FROM execution_records e JOIN ipras i ON i.id = e.ipra_id WHERE i.search_name LIKE 'ШИРОКОВ%'";
        assert!(
            env.scalar(&format!("SELECT COUNT(*) {named}")) > 1000,
            "{backend:?}: a common surname"
        );
        env.add_user("walk-coordinator", "coordinator", None, "coordinator password 1");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let cookie = login(addr, "walk-coordinator", "coordinator password 1").0;
        for (surname, sort, order) in [
            ("ШИРОКОВ", "date", "e.updated_at DESC, e.id DESC"),
            ("ШИРОКОВ", "number", "i.number ASC, i.id ASC, e.id ASC"),
            ("ШИРОКОВА", "date", "e.updated_at DESC, e.id DESC"),
        ] {
            let named = named.replace("ШИРОКОВ%", &format!("{surname}%"));
            let mut found = Vec::new();
            let mut after = String::new();
            let mut first = None;
            for _ in 0..100 {
                let path = format!(
                    "/api/v1/execution-register?surname={}&sort={sort}{after}",
                    common::urlencode(&surname.to_lowercase())
                );
                let response = http(addr, "GET", &path, &[("Cookie", cookie.as_str())], None);
                assert_eq!(response.status, 200, "{path}: {}", response.body);
                let page = response.json();
                first.get_or_insert((page["total"].as_i64(), page["total_exact"].as_bool()));
                found.extend(
                    page["items"]
                        .as_array()
                        .unwrap_or_else(|| panic!("{path}: {page}"))
                        .iter()
                        .map(|i| i["id"].as_i64().unwrap()),
                );
                match page["next"].as_str() {
                    Some(next) => after = format!("&after={}", common::urlencode(next)),
                    None => break,
                }
            }
            let expected = env.ids(&format!("SELECT e.id {named} ORDER BY {order}"));
            assert!(expected.len() > 1000, "{backend:?}, {surname}: more than a thousand");
            assert_eq!(first, Some((Some(1000), Some(false))), "{backend:?}, {surname}");
            assert_eq!(found, expected, "{backend:?}, {surname}, by {sort}");
        }
    }
}
