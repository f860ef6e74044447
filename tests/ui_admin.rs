//! Pages end to end: the administration pages in a real browser (headless Chromium through
//! `common::browser`), on SQLite and PostgreSQL, and their API routes with each role's rights.

mod common;

use common::browser::Browser;
use common::{fri_samples, http, login, ogrn, Backend, Env, BACKENDS};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// Waits until the browser's address contains `part` (a form post redirected there) and the page has loaded.
fn wait_url(browser: &Browser, part: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !browser.url().contains(part) {
        assert!(Instant::now() < deadline, "expected {part} in {}", browser.url());
        std::thread::sleep(Duration::from_millis(100));
    }
    while browser.script("return document.readyState").as_str() != Some("complete") {
        assert!(Instant::now() < deadline, "{part} did not finish loading");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory, one imported extract and a user of every role.
fn prepared(backend: Backend) -> (Env, std::collections::BTreeMap<&'static str, String>) {
    let env = Env::new(backend);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    env.add_user("admin", "administrator", None, PASSWORD);
    env.add_user("coord", "coordinator", None, PASSWORD);
    env.add_user("audit", "auditor", None, PASSWORD);
    env.add_user("exec", "executor", Some(&orgs["health"]), PASSWORD);
    (env, orgs)
}

/// An OGRN whose check digit is wrong.
fn bad_ogrn(base: u64) -> String {
    let good = ogrn(base);
    format!("{}{}", &good[..12], (good.as_bytes()[12] - b'0' + 1) % 10)
}

fn shot(browser: &Browser, name: &str, backend: Backend) {
    browser.screenshot(&format!("admin-{name}-{}", backend.name()));
}

#[test]
fn administrator_works_through_every_page() {
    for backend in BACKENDS {
        let (env, _orgs) = prepared(backend);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let b = Browser::start();
        b.login(addr, "admin", PASSWORD);
        let go = |path: &str| b.goto(&format!("http://{addr}{path}"));

        go("/admin");
        for label in [
            "Модули",
            "Задания",
            "Пользователи и роли",
            "Журнал аудита",
            "Производственный календарь",
        ] {
            assert!(b.text("main").contains(label), "{label} on the index");
        }
        shot(&b, "index", backend);

        // Plugins: disable, then enable again.
        go("/admin/plugins");
        b.click(r#"form[action="/admin/plugins/fri/disable"] button"#);
        wait_url(&b, "done=plugin-disabled");
        assert!(b.text("#plugin-fri .state").contains("выключен"));
        shot(&b, "plugins", backend);
        b.click(r#"form[action="/admin/plugins/fri/enable"] button"#);
        wait_url(&b, "done=plugin-enabled");
        assert!(b.text("#plugin-fri .state").contains("включён"));
        assert_eq!(
            env.scalar("SELECT enabled FROM plugin_settings WHERE plugin_id = 'fri'"),
            1
        );

        // Jobs: a dry run shows what would change, a run; both in the history; a bad cron is refused.
        go("/admin/jobs");
        b.click(r#"#job-deadline-check a"#);
        wait_url(&b, "/admin/jobs/deadline-check");
        b.click(r#"form[action="/admin/jobs/deadline-check/dry-run"] button"#);
        wait_url(&b, "run=");
        assert!(
            b.text(".adm-run-result h2").starts_with("Пробный запуск"),
            "{}",
            b.text("main")
        );
        b.click(r#"form[action="/admin/jobs/deadline-check/run"] button"#);
        b.find(".adm-runs tbody tr:nth-child(2)");
        let history = b.text(".adm-runs");
        assert!(history.contains("пробный") && history.contains("рабочий"), "{history}");
        assert!(b.text(".adm-run-result h2").starts_with("Результат запуска"));
        shot(&b, "job", backend);
        b.fill("#f-schedule", "каждый день");
        b.click(".adm-job-form button[type=submit]");
        b.find("#e-schedule");
        let error = b.text("#e-schedule");
        assert!(error.starts_with("Расписание"), "{error}");
        b.fill("#f-schedule", "0 7 * * 1-5");
        b.click(".adm-job-form button[type=submit]");
        wait_url(&b, "done=job-saved");
        assert!(b.text("dl").contains("0 7 * * 1-5"));

        // Organisations: a bad OGRN is named next to its field; a good one is saved.
        go("/admin/organisations");
        let good = ogrn(102_770_013_250);
        let bad = bad_ogrn(102_770_013_250);
        b.fill("#f-ogrn", &bad);
        b.fill("#f-name", "ГБУЗ Городская поликлиника № 2");
        b.select("#f-department", "health");
        b.fill("#f-inn", "7707083893");
        b.fill("#f-email", "pol2@example.ru");
        b.click(".adm-org-form button[type=submit]");
        b.find("#e-ogrn");
        let error = b.text("#e-ogrn");
        assert!(error.contains("ОГРН") && error.contains(&bad), "{error}");
        shot(&b, "org-error", backend);
        b.fill("#f-ogrn", &good);
        b.click(".adm-org-form button[type=submit]");
        wait_url(&b, "done=org-saved");
        assert!(b.text(&format!("#org-{good}")).contains("Городская поликлиника № 2"));
        shot(&b, "organisations", backend);

        // Routing: preview a rule, then save it.
        go("/admin/routing");
        b.select("#f-section", "health");
        b.select("#f-ogrn", &good);
        b.click(".adm-rule-form button[type=submit]");
        b.find(".adm-preview");
        let preview = b.text(".adm-preview");
        assert!(preview.contains("Предпросмотр"), "{preview}");
        shot(&b, "routing-preview", backend);
        b.click("#rule-save");
        wait_url(&b, "done=rule-saved");
        assert!(b.text(".adm-rules").contains(&good));
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM routing_rules WHERE ogrn = '{good}' AND retired_at IS NULL"
            )),
            1
        );

        // Users: add, change the role, deactivate — its session stops working.
        go("/admin/users");
        b.fill("#f-login", "petrova");
        b.fill("#f-full_name", "Петрова Анна Сергеевна");
        b.select("#f-role", "coordinator");
        b.fill("#f-password", "short");
        b.click(".adm-user-form button[type=submit]");
        b.find("#e-password");
        assert!(b.text("#e-password").starts_with("Пароль"), "{}", b.text("main"));
        b.fill("#f-password", "Secure-Pass-2026");
        b.click(".adm-user-form button[type=submit]");
        wait_url(&b, "/admin/users/petrova?done=user-added");
        b.select("#f-role", "auditor");
        b.click(".adm-role-form button[type=submit]");
        wait_url(&b, "done=user-saved");
        assert!(b.text("dl").contains("Аудитор"));
        let (cookie, _) = login(addr, "petrova", "Secure-Pass-2026");
        let session = |c: &str| http(addr, "GET", "/api/v1/session", &[("Cookie", c)], None).status;
        assert_eq!(session(&cookie), 200);
        b.click("#deactivate");
        b.accept_alert();
        wait_url(&b, "done=user-deactivated");
        shot(&b, "user", backend);
        assert_eq!(session(&cookie), 401, "a deactivated user's session ends");

        // Reference list: an edit is a new version with its note in the history.
        go("/admin/reference/non-execution-reasons");
        b.fill("#name_0", "Письменный отказ от мероприятия");
        b.fill("#f-note", "уточнена формулировка");
        b.click(".adm-ref-form button[type=submit]");
        wait_url(&b, "done=reference-saved");
        assert!(
            b.text("#version-2").contains("уточнена формулировка"),
            "{}",
            b.text(".adm-versions")
        );
        assert_eq!(
            b.script("return document.getElementById('name_0').value").as_str(),
            Some("Письменный отказ от мероприятия")
        );
        shot(&b, "reference", backend);
        let (admin_cookie, admin_csrf) = login(addr, "admin", PASSWORD);
        let csv = http(
            addr,
            "GET",
            "/admin/reference/non-execution-reasons/export?format=csv",
            &[("Cookie", &admin_cookie)],
            None,
        );
        assert_eq!(csv.status, 200);
        assert!(csv.body.contains("Письменный отказ от мероприятия"));
        let orgs_csv = http(
            addr,
            "GET",
            "/admin/organisations/export?section=health&format=csv",
            &[("Cookie", &admin_cookie)],
            None,
        );
        assert_eq!(orgs_csv.status, 200);
        assert!(orgs_csv.body.contains(&good) && orgs_csv.body.contains("7707083893"));
        assert!(!orgs_csv.body.contains("Исполнитель sport"), "only the health section");

        // Calendar: a weekday becomes a holiday (a new version of the list).
        go("/admin/calendar?year=2026");
        let before = b.text("#working-days");
        b.click(r#"button[data-date="2026-03-10"]"#);
        wait_url(&b, "done=calendar-saved");
        b.find(r#"td.holiday button[data-date="2026-03-10"]"#);
        let after = b.text("#working-days");
        assert_eq!(after.parse::<i64>().unwrap() + 1, before.parse::<i64>().unwrap());
        shot(&b, "calendar", backend);
        let days = http(
            addr,
            "GET",
            "/api/v1/calendar?year=2026",
            &[("Cookie", &admin_cookie)],
            None,
        )
        .json();
        let day = days["days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["date"] == "2026-03-10")
            .unwrap()
            .clone();
        assert_eq!(day["kind"], "holiday");

        // Audit log: filter, then verify the chain.
        go("/admin/audit");
        b.fill("#f-actor", "admin");
        b.fill("#f-action", "user.");
        b.click(".adm-audit-filter button[type=submit]");
        wait_url(&b, "action=user.");
        let log = b.text(".adm-audit");
        assert!(log.contains("user.deactivate") && log.contains("user.add"), "{log}");
        assert!(!log.contains("plugin.disable"));
        b.click("#verify");
        b.find(".adm-verify");
        assert!(
            b.text(".adm-verify").contains("Целостность подтверждена"),
            "{}",
            b.text(".adm-verify")
        );
        shot(&b, "audit", backend);
        let api_log = http(
            addr,
            "GET",
            "/api/v1/audit/log?action=reference.",
            &[("Cookie", &admin_cookie)],
            None,
        )
        .json();
        assert!(api_log["total"].as_i64().unwrap() >= 1);
        let csv = http(
            addr,
            "GET",
            "/admin/audit/export?action=user.&format=csv",
            &[("Cookie", &admin_cookie)],
            None,
        );
        assert_eq!(csv.status, 200);
        assert!(csv.body.contains("user.deactivate") && !csv.body.contains("plugin.disable"));

        // ZAGS: a namesake without SNILS waits for a decision; a bad SNILS is named, then it is rejected.
        env.execute(
            "INSERT INTO death_records (record_id, kind, surname, given_name, patronymic, birth_date, death_date, status, received_at) \
             VALUES ('170-2026-00042', 'death', 'Иванов', 'Иван', 'Иванович', '1950-02-03', '2026-10-01', 'pending', '2026-10-05T09:00:00Z')",
        );
        let death = env.scalar("SELECT MAX(id) FROM death_records");
        go("/admin/deaths");
        assert!(b.text(&format!("#death-{death}")).contains("Иванов Иван Иванович"));
        b.fill(&format!("#snils-{death}"), "123");
        b.click(&format!(r#"#death-{death} button[value="apply"]"#));
        b.find(&format!("#e-snils-{death}"));
        let error = b.text(&format!("#e-snils-{death}"));
        assert!(error.starts_with("СНИЛС"), "{error}");
        shot(&b, "deaths", backend);
        b.click(&format!(r#"#death-{death} button[value="reject"]"#));
        wait_url(&b, "done=death-rejected");
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM death_records WHERE id = {death} AND status = 'rejected'"
            )),
            1
        );
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'death.decide'"),
            1
        );
        // A record naming a person of the register: the page offers that person, and confirming applies it.
        env.execute(
            "INSERT INTO death_records (record_id, kind, surname, given_name, patronymic, birth_date, death_date, status, received_at) \
             SELECT '170-2026-00043', 'death', surname, given_name, patronymic, birth_date, '2026-10-02', 'pending', '2026-10-05T09:00:00Z' \
             FROM persons WHERE id = (SELECT MIN(id) FROM persons)",
        );
        let death = env.scalar("SELECT MAX(id) FROM death_records");
        go("/admin/deaths");
        b.click(&format!(r#"#death-{death} button[name="person"]"#));
        wait_url(&b, "done=death-applied");
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM death_records WHERE id = {death} AND status = 'applied'"
            )),
            1
        );
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM persons WHERE death_date = '2026-10-02'"),
            1
        );

        for (path, name) in [("/admin/messages", "messages"), ("/admin/jobs", "jobs")] {
            go(path);
            b.find("h1");
            shot(&b, name, backend);
        }
        // The API does the same as the pages: the admin re-activates the user with the session's CSRF token.
        let reactivated = http(
            addr,
            "POST",
            "/api/v1/users/petrova/active",
            &[("Cookie", &admin_cookie), ("X-CSRF-Token", &admin_csrf)],
            Some(r#"{"active":true}"#),
        );
        assert_eq!(reactivated.status, 200, "{}", reactivated.body);
        drop(b);

        // At phone width the pages fit: tables scroll inside their wrapper, never the page.
        let phone = Browser::start_sized(390, 844);
        phone.login(addr, "admin", PASSWORD);
        for (path, name) in [
            ("/admin", "index"),
            ("/admin/jobs", "jobs"),
            ("/admin/calendar?year=2026", "calendar"),
            ("/admin/users", "users"),
        ] {
            phone.goto(&format!("http://{addr}{path}"));
            phone.find("h1");
            let overflow =
                phone.script("return document.documentElement.scrollWidth - document.documentElement.clientWidth");
            assert!(
                overflow.as_i64().unwrap_or(0) <= 1,
                "{path} is wider than the phone: {overflow}"
            );
            shot(&phone, &format!("phone-{name}"), backend);
        }
    }
}

/// Each role sees its pages; the API refuses the rest: 401 without a session, 403 for a role that may not.
#[test]
fn roles_see_their_pages_and_the_api_refuses_the_rest() {
    for backend in BACKENDS {
        let (env, orgs) = prepared(backend);
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let call = |method: &str, path: &str, who: Option<&(String, String)>, body: Option<&str>| {
            let mut headers = Vec::new();
            if let Some((cookie, csrf)) = who {
                headers.push(("Cookie", cookie.as_str()));
                headers.push(("X-CSRF-Token", csrf.as_str()));
            }
            http(addr, method, path, &headers, body)
        };
        let admin = login(addr, "admin", PASSWORD);
        let coord = login(addr, "coord", PASSWORD);
        let audit = login(addr, "audit", PASSWORD);
        let exec = login(addr, "exec", PASSWORD);

        // Without a session: 401 on reads and writes.
        for (method, path) in [
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/audit/log"),
            ("GET", "/api/v1/calendar"),
            ("POST", "/api/v1/plugins/fri/disable"),
        ] {
            assert_eq!(call(method, path, None, None).status, 401, "{method} {path}");
        }
        // The auditor reads everything but changes nothing.
        assert_eq!(call("GET", "/api/v1/users", Some(&audit), None).status, 200);
        assert_eq!(call("GET", "/api/v1/audit/log", Some(&audit), None).status, 200);
        let day = r#"{"kind":"holiday"}"#;
        let org = r#"{"name":"Центр занятости","department":"employment","active":true}"#.to_string();
        let new_org = ogrn(102_770_013_260);
        for (method, path, body) in [
            ("POST", "/api/v1/plugins/fri/disable".to_string(), None),
            (
                "POST",
                "/api/v1/users".to_string(),
                Some(r#"{"login":"x","full_name":"X","role":"auditor","password":"Secure-Pass-2026"}"#),
            ),
            ("PUT", "/api/v1/calendar/days/2026-03-11".to_string(), Some(day)),
            ("PUT", format!("/api/v1/organisations/{new_org}"), Some(org.as_str())),
            ("POST", "/api/v1/jobs/deadline-check/run".to_string(), None),
            (
                "PUT",
                "/api/v1/jobs/deadline-check".to_string(),
                Some(r#"{"enabled":false}"#),
            ),
        ] {
            let r = call(method, &path, Some(&audit), body);
            assert_eq!(r.status, 403, "auditor {method} {path}: {}", r.body);
        }
        // The coordinator: calendar, organisations, job runs — not users, plugins or the audit log.
        assert_eq!(
            call("PUT", "/api/v1/calendar/days/2026-03-11", Some(&coord), Some(day)).status,
            200
        );
        let saved = call(
            "PUT",
            &format!("/api/v1/organisations/{new_org}"),
            Some(&coord),
            Some(&org),
        );
        assert_eq!(saved.status, 201, "{}", saved.body);
        assert_eq!(
            call("POST", "/api/v1/jobs/deadline-check/dry-run", Some(&coord), None).status,
            200
        );
        assert_eq!(call("GET", "/api/v1/users", Some(&coord), None).status, 403);
        assert_eq!(call("GET", "/api/v1/audit/log", Some(&coord), None).status, 403);
        assert_eq!(
            call("POST", "/api/v1/plugins/fri/disable", Some(&coord), None).status,
            403
        );
        // The executor: nothing of the administration.
        assert_eq!(call("GET", "/api/v1/calendar", Some(&exec), None).status, 403);
        assert_eq!(call("GET", "/api/v1/users", Some(&exec), None).status, 403);
        assert_eq!(
            call("PUT", "/api/v1/calendar/days/2026-03-12", Some(&exec), Some(day)).status,
            403
        );
        // A session's write without its CSRF token is refused.
        let no_csrf = http(
            addr,
            "POST",
            "/api/v1/plugins/fri/disable",
            &[("Cookie", &admin.0)],
            None,
        );
        assert_eq!(no_csrf.status, 403);
        // The administrator: field errors are 422 naming the field; unknown objects 404.
        let weak = call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(r#"{"login":"sidorov","full_name":"Сидоров","role":"executor","password":"password1"}"#),
        );
        assert_eq!(weak.status, 422, "{}", weak.body);
        let fields: Vec<String> = weak.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        assert!(
            fields.contains(&"password".to_string()) && fields.contains(&"ogrn".to_string()),
            "{fields:?}"
        );
        assert_eq!(call("GET", "/api/v1/users/nobody", Some(&admin), None).status, 404);
        assert_eq!(
            call("POST", "/api/v1/plugins/nope/enable", Some(&admin), None).status,
            404
        );
        assert_eq!(
            call("DELETE", "/api/v1/routing/rules/999999", Some(&admin), None).status,
            404
        );
        let bad_cron = call(
            "POST",
            "/api/v1/jobs",
            Some(&admin),
            Some(r#"{"name":"extra","kind":"deadline-check","schedule":"когда-нибудь"}"#),
        );
        assert_eq!(bad_cron.status, 422, "{}", bad_cron.body);
        let added = call(
            "POST",
            "/api/v1/jobs",
            Some(&admin),
            Some(r#"{"name":"extra","kind":"deadline-check","schedule":"0 8 * * *"}"#),
        );
        assert_eq!(added.status, 201, "{}", added.body);
        let refused = call(
            "PUT",
            &format!("/api/v1/organisations/{}", bad_ogrn(102_770_013_261)),
            Some(&admin),
            Some(&org),
        );
        assert_eq!(refused.status, 422, "{}", refused.body);
        // A user added through the API gets a token that works once issued and stops when revoked.
        let made = call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(&format!(
                r#"{{"login":"sidorov","full_name":"Сидоров","role":"executor","ogrn":"{}","password":"Secure-Pass-2026"}}"#,
                orgs["health"]
            )),
        );
        assert_eq!(made.status, 201, "{}", made.body);
        let issued = call(
            "POST",
            "/api/v1/users/sidorov/tokens",
            Some(&admin),
            Some(r#"{"label":"МИС"}"#),
        );
        assert_eq!(issued.status, 201, "{}", issued.body);
        let token = issued.json()["token"].as_str().unwrap().to_string();
        let bearer = format!("Bearer {token}");
        assert_eq!(
            http(addr, "GET", "/api/v1/session", &[("Authorization", &bearer)], None).status,
            200
        );
        let tokens = call("GET", "/api/v1/users/sidorov/tokens", Some(&admin), None).json();
        let id = tokens[0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            call(
                "POST",
                &format!("/api/v1/users/sidorov/tokens/{id}/revoke"),
                Some(&admin),
                None
            )
            .status,
            200
        );
        assert_eq!(
            http(addr, "GET", "/api/v1/session", &[("Authorization", &bearer)], None).status,
            401
        );
        // Every change above is in the audit log.
        assert!(env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'token.revoke'") == 1);
        assert!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'job.dry-run' AND actor = 'coordinator:coord'")
                == 1
        );
        assert!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'reference.set' AND actor = 'coordinator:coord'")
                == 1
        );

        if backend != Backend::Sqlite {
            continue;
        }
        // In the browser: the coordinator's index and a refused page; the auditor's pages have no forms;
        // the executor has no administration at all.
        let b = Browser::start();
        b.login(addr, "coord", PASSWORD);
        b.goto(&format!("http://{addr}/admin"));
        let index = b.text("main");
        assert!(
            index.contains("Организации и маршрутизация") && index.contains("Задания"),
            "{index}"
        );
        assert!(
            !index.contains("Пользователи и роли") && !index.contains("Журнал аудита"),
            "{index}"
        );
        b.goto(&format!("http://{addr}/admin/users"));
        assert_eq!(b.text("h1"), "Доступ запрещён");
        b.goto(&format!("http://{addr}/admin/jobs/deadline-check"));
        assert!(
            b.has(r#"form[action="/admin/jobs/deadline-check/run"]"#),
            "the coordinator runs jobs"
        );
        assert!(!b.has(".adm-job-form"), "but does not edit them");
        shot(&b, "coordinator-index", backend);
        drop(b);

        let b = Browser::start();
        b.login(addr, "audit", PASSWORD);
        for path in [
            "/admin/users",
            "/admin/organisations",
            "/admin/reference/sections",
            "/admin/calendar",
            "/admin/plugins",
            "/admin/jobs/deadline-check",
        ] {
            b.goto(&format!("http://{addr}{path}"));
            b.find("h1");
            assert!(!b.has("main form[method=post]"), "no forms for the auditor on {path}");
        }
        shot(&b, "auditor-plugins", backend);
        drop(b);

        let b = Browser::start();
        b.login(addr, "exec", PASSWORD);
        assert!(!b.text("nav.main").contains("Администрирование"));
        b.goto(&format!("http://{addr}/admin"));
        assert_eq!(b.text("h1"), "Доступ запрещён");
        b.goto(&format!("http://{addr}/admin/calendar"));
        assert_eq!(b.text("h1"), "Доступ запрещён");
    }
}
