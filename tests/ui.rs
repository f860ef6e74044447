//! Pages end to end in a real browser (headless Chromium through `common::browser`): login and
//! logout, the way back to the page asked for, the menu each role sees, on SQLite and PostgreSQL.

mod common;

use common::browser::Browser;
use common::{fri_samples, Env, BACKENDS};

#[test]
fn logs_in_returns_to_the_page_asked_for_and_logs_out() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (code, _) = env.run_json(&[
            "import",
            fri_samples().join("extract_4.xml").to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(code, 0);
        env.add_user("coordinator", "coordinator", None, "correct horse battery");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let browser = Browser::start();

        // A page asked for without a session leads to the login form, and back after it.
        browser.goto(&format!("http://{addr}/ipras/1"));
        assert!(browser.url().contains("/login?next="), "{}", browser.url());
        browser.fill("#login", "coordinator");
        browser.fill("#password", "wrong password");
        browser.click("form.login button[type=submit]");
        browser.find("[role=alert]");
        let error = browser.text("[role=alert]").to_lowercase();
        assert!(error.contains("неверный логин или пароль"), "{error}");
        browser.screenshot(&format!("login-error-{}", backend.name()));
        browser.fill("#password", "correct horse battery");
        browser.click("form.login button[type=submit]");
        browser.find("form.account");
        assert!(browser.url().ends_with("/ipras/1"), "{}", browser.url());
        assert!(browser.text("h1").starts_with("ИПРА №"));
        browser.screenshot(&format!("card-{}", backend.name()));

        // The coordinator's menu.
        let menu = browser.text("nav.main");
        for entry in [
            "Реестр выписок",
            "Исполнение",
            "Статистика",
            "Контроль сроков",
            "Администрирование",
        ] {
            assert!(menu.contains(entry), "{entry} in {menu}");
        }

        browser.click("form.account button[type=submit]");
        browser.find("form.login");
        browser.goto(&format!("http://{addr}/"));
        assert!(browser.url().contains("/login"), "logged out: {}", browser.url());
    }
}

const PASSWORD: &str = "long enough password";

/// Tables whose row counts tell whether anything was changed.
const STATE_TABLES: &[&str] = &[
    "persons",
    "ipras",
    "measures",
    "plugin_settings",
    "reference_versions",
    "organisations",
    "routing_rules",
    "measure_assignments",
    "execution_records",
    "reports",
    "lifecycle_events",
    "follow_ups",
    "jobs",
    "job_runs",
    "exchange_messages",
    "signing_attempts",
    "death_records",
    "users",
    "api_tokens",
];

/// Every page a user can reach by following links, starting from the menu: crawled as the
/// administrator (who sees all), one address per path, without exports and the API.
fn crawl(addr: &str, cookie: &str) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    let mut queue: Vec<String> = ["/", "/executions", "/reports", "/dashboard", "/stats", "/admin"]
        .iter()
        .map(|p| p.to_string())
        .collect();
    let mut pages = Vec::new();
    while let Some(target) = queue.pop() {
        let path = target.split(['?', '#']).next().unwrap_or_default().to_string();
        if !seen.insert(path.clone()) || pages.len() >= 400 {
            continue;
        }
        let page = common::http(addr, "GET", &target, &[("Cookie", cookie)], None);
        assert!(page.status < 500, "{target}: {} {}", page.status, page.body);
        if page.status != 200 || !page.headers.to_lowercase().contains("text/html") {
            continue;
        }
        pages.push(target.clone());
        for part in page.body.split("href=\"").skip(1) {
            let link = part.split('"').next().unwrap_or_default().replace("&amp;", "&");
            let skip = !link.starts_with('/')
                || link.starts_with("//")
                || ["/api/", "/assets/", "/login", "/logout"]
                    .iter()
                    .any(|p| link.starts_with(p))
                || link.contains("format=")
                || link.ends_with(".pdf")
                || link.ends_with(".csv")
                || link.ends_with(".xlsx");
            if !skip {
                queue.push(link);
            }
        }
    }
    pages
}

/// Each role on every page and every API route: nothing of a person outside an executor's
/// organisation leaks anywhere; the auditor changes nothing; the menu shows only what opens.
#[test]
fn each_role_sees_only_what_it_should_on_every_page_and_route() {
    let env = Env::new(common::Backend::Sqlite);
    let (orgs, _) = env.five_roles(PASSWORD);
    let (ipra, report) = env.reported_ipra("extract_4.xml", &orgs);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let cookie = |login: &str| common::login(addr, login, PASSWORD);
    let admin = cookie("admin");
    let pages = crawl(addr, &admin.0);
    assert!(pages.len() >= 6, "{pages:?}");

    // What must never reach another organisation's executor: the person's name and SNILS.
    let person = env.ok(&["show", &ipra.to_string(), "--json"]);
    let surname = person["person"]["surname"].as_str().unwrap().to_string();
    let snils = person["person"]["snils"].as_str().unwrap().to_string();
    let formatted = format!("{}-{}-{}", &snils[0..3], &snils[3..6], &snils[6..9]);
    let leaks = |body: &str| body.contains(&surname) || body.contains(&snils) || body.contains(&formatted);

    let menu_of = |body: &str| -> Vec<String> {
        let Some(nav) = body.split("<nav class=\"main\"").nth(1) else {
            return Vec::new();
        };
        let nav = nav.split("</nav>").next().unwrap_or_default();
        nav.split("href=\"")
            .skip(1)
            .map(|p| p.split('"').next().unwrap_or_default().to_string())
            .collect()
    };
    for login in ["admin", "coord", "audit", "health", "other"] {
        let (session, _) = cookie(login);
        let home = common::http(addr, "GET", "/", &[("Cookie", session.as_str())], None);
        let menu = menu_of(&home.body);
        assert!(!menu.is_empty(), "{login} has a menu");
        for page in &pages {
            let got = common::http(addr, "GET", page, &[("Cookie", session.as_str())], None);
            assert!(got.status < 500, "{login} {page}: {} {}", got.status, got.body);
            assert!(matches!(got.status, 200 | 403 | 404), "{login} {page}: {}", got.status);
            // A part of the site missing from the role's menu does not open for it either.
            let top = ["/executions", "/reports", "/dashboard", "/stats", "/admin"]
                .iter()
                .find(|t| page.starts_with(*t));
            if let Some(top) = top.filter(|top| !menu.iter().any(|m| m == *top)) {
                assert_eq!(
                    got.status, 403,
                    "{login} does not see {top} in the menu but opens {page}"
                );
            }
            if login == "other" {
                assert!(!leaks(&got.body), "{login} sees the person on {page}");
            }
            if login == "audit" && got.status == 200 {
                // The auditor's pages offer nothing that changes anything: a posting form (logout and
                // the personal settings of the register aside) has no button to send it.
                for form in got.body.split("<form").skip(1) {
                    let head = form.split('>').next().unwrap_or_default().to_lowercase();
                    let inside = form.split("</form>").next().unwrap_or_default();
                    let personal = head.contains("action=\"/logout\"") || head.contains("action=\"/register/");
                    if head.contains("method=\"post\"") && !personal {
                        assert!(
                            !inside.contains("<button") && !inside.contains("type=\"submit\""),
                            "auditor can send a changing form on {page}: <form{head}>"
                        );
                    }
                }
            }
        }
    }

    // Every API route, with this IPRA's and report's ids. Whatever the auditor sends, the register's
    // tables stay as they were.
    let state = || -> Vec<i64> {
        STATE_TABLES
            .iter()
            .map(|t| env.scalar(&format!("SELECT COUNT(*) FROM {t}")))
            .collect()
    };
    let before = state();
    let doc = common::http(addr, "GET", "/api/v1/openapi.json", &[], None).json();
    let (other, _) = cookie("other");
    let (audit, audit_csrf) = cookie("audit");
    for (path, methods) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{id}", &ipra.to_string())
            .replace("{list}", "sections")
            .replace("{name}", "fri-inbox");
        let concrete = if path.starts_with("/api/v1/reports/") {
            concrete.replace(&format!("/{ipra}"), &format!("/{report}"))
        } else {
            concrete
        };
        for method in methods.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if method == "GET" {
                let got = common::http(addr, "GET", &concrete, &[("Cookie", other.as_str())], None);
                assert!(got.status < 500, "other GET {concrete}: {}", got.status);
                assert!(
                    !leaks(&got.body),
                    "another organisation's executor sees the person at GET {concrete}"
                );
                continue;
            }
            let personal = path == "/api/v1/session"
                || path.starts_with("/api/v1/saved-filters")
                || path.starts_with("/api/v1/settings/");
            if personal {
                continue;
            }
            let got = common::http(
                addr,
                &method,
                &concrete,
                &[("Cookie", audit.as_str()), ("X-CSRF-Token", audit_csrf.as_str())],
                Some("{}"),
            );
            // Refused by role, or for a body it could not even read: either way nothing changed.
            assert!(
                matches!(got.status, 400 | 403 | 404 | 405 | 422),
                "the auditor changes something: {method} {concrete} → {} {}",
                got.status,
                got.body
            );
        }
    }
    assert_eq!(
        state(),
        before,
        "the auditor's requests changed the register ({STATE_TABLES:?})"
    );
}
