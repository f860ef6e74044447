//! `ipra serve` end to end over loopback HTTP: health, login and sessions, the first API and the
//! register pages, on SQLite and PostgreSQL.

mod common;

use common::{fri_samples, http, login, Backend, Env, BACKENDS};

#[test]
fn serves_health_api_and_register_page() {
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

        let health = http(addr, "GET", "/api/v1/health", &[], None);
        assert_eq!(health.status, 200);
        let health = health.json();
        assert_eq!(health["status"], "ok");
        assert_eq!(health["register"]["ipras"], 1);
        assert_eq!(
            health["database"],
            if backend == Backend::Sqlite {
                "sqlite"
            } else {
                "postgres"
            }
        );

        // Without a session: 401 for the API, the login page for pages.
        assert_eq!(http(addr, "GET", "/api/v1/ipras", &[], None).status, 401);
        let page = http(addr, "GET", "/", &[], None);
        assert_eq!(page.status, 303);
        assert!(page.headers.to_lowercase().contains("location: /login"));
        let wrong = http(
            addr,
            "POST",
            "/api/v1/session",
            &[],
            Some(r#"{"login":"coordinator","password":"wrong password"}"#),
        );
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("неверный логин или пароль"));

        let (cookie, csrf) = login(addr, "coordinator", "correct horse battery");
        let auth = [("Cookie", cookie.as_str())];
        let list = http(addr, "GET", "/api/v1/ipras?per_page=10", &auth, None);
        assert_eq!(list.status, 200);
        let page = list.json();
        assert_eq!(page["total"], 1);
        let item = &page["items"][0];
        assert!(
            item["snils"].as_str().unwrap().starts_with("***-***-"),
            "SNILS masked in lists: {item}"
        );
        let id = item["id"].as_i64().unwrap();

        let card = http(addr, "GET", &format!("/api/v1/ipras/{id}"), &auth, None);
        assert_eq!(card.status, 200);
        let card = card.json();
        assert_eq!(card["person"]["snils"], "120-334-215 87");
        assert!(card["measures"].as_array().unwrap().len() > 1);
        assert_eq!(
            env.scalar(
                "SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.read' AND actor = 'coordinator:coordinator'"
            ),
            1,
            "card reads are logged with who read them"
        );

        let source = http(addr, "GET", &format!("/api/v1/ipras/{id}/source"), &auth, None);
        assert_eq!(source.status, 200);
        assert!(source.body.contains("ВыпискаФРИ"));
        assert_eq!(http(addr, "GET", "/api/v1/ipras/999999", &auth, None).status, 404);

        // A state-changing call with the cookie alone (no CSRF token) is refused.
        let body = r#"{"section":"health","ogrn":"1027700132195"}"#;
        assert_eq!(
            http(addr, "POST", "/api/v1/routing/preview", &auth, Some(body)).status,
            403
        );
        let with_csrf = [("Cookie", cookie.as_str()), ("X-CSRF-Token", csrf.as_str())];
        assert_eq!(
            http(addr, "POST", "/api/v1/routing/preview", &with_csrf, Some(body)).status,
            200
        );

        let html = http(addr, "GET", "/?surname=%D0%9F%D0%9E%D0%93", &auth, None);
        assert_eq!(html.status, 200);
        assert!(
            html.body.contains("Реестр выписок из ИПРА") && html.body.contains("ПОГОДИНА"),
            "{}",
            html.body
        );
        assert!(http(addr, "GET", "/?surname=NOBODY", &auth, None)
            .body
            .contains("Найдено: 0"));
        let card_page = http(addr, "GET", &format!("/ipras/{id}"), &auth, None);
        assert_eq!(card_page.status, 200);
        assert!(card_page.body.contains("Мероприятия"));

        // Logging out ends the session.
        assert_eq!(http(addr, "DELETE", "/api/v1/session", &with_csrf, None).status, 200);
        assert_eq!(http(addr, "GET", "/api/v1/ipras", &auth, None).status, 401);
    }
}

/// Repeated wrong passwords lock the login for a while, even with the right password afterwards.
#[test]
fn login_is_throttled() {
    let env = Env::new(Backend::Sqlite);
    env.add_user("admin", "administrator", None, "a long admin password");
    let server = env.serve(&[]);
    for _ in 0..5 {
        let r = http(
            &server.addr,
            "POST",
            "/api/v1/session",
            &[],
            Some(r#"{"login":"admin","password":"nope nope nope"}"#),
        );
        assert_eq!(r.status, 401);
    }
    let r = http(
        &server.addr,
        "POST",
        "/api/v1/session",
        &[],
        Some(r#"{"login":"admin","password":"a long admin password"}"#),
    );
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("слишком много"));
}

/// What a person reads when something is not there or not understood is Russian and grammatical;
/// the card shows the person's gender and each measure's period as the extract gives them.
#[test]
fn refusals_and_the_card_read_as_russian() {
    let env = Env::new(Backend::Sqlite);
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    env.add_user("coord", "coordinator", None, "long enough password");
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let (cookie, _) = login(addr, "coord", "long enough password");
    let get = |path: &str| http(addr, "GET", path, &[("Cookie", cookie.as_str())], None);

    let page = get("/ipras/abc");
    assert_eq!(page.status, 400);
    assert!(
        page.body.contains("целое число") && page.body.contains("<html"),
        "{}",
        page.body
    );
    let page = get("/no/such/page");
    assert_eq!(page.status, 404);
    assert!(page.body.contains("Страница не найдена"), "{}", page.body);
    let api = get("/api/v1/ipras/abc");
    assert_eq!(api.status, 400);
    assert_eq!(api.json()["error"]["code"], "bad-request", "{}", api.body);
    let api = get("/api/v1/no-such-route");
    assert_eq!(api.status, 404);
    assert!(api.json()["error"]["message"].as_str().unwrap().contains("не найдена"));
    let report = get("/api/v1/reports/999/document");
    assert_eq!(report.status, 404);
    assert_eq!(report.json()["error"]["message"], "Отчёт не найден", "{}", report.body);
    // Every refusal of the API is problem details (RFC 9457) with the Russian message and the field.
    assert!(
        report
            .headers
            .to_lowercase()
            .contains("content-type: application/problem+json"),
        "{}",
        report.headers
    );
    assert_eq!(report.json()["status"], 404);
    assert_eq!(report.json()["detail"], "Отчёт не найден");
    let missing = http(addr, "POST", "/api/v1/session", &[], Some(r#"{"login":"coord"}"#));
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert_eq!(missing.json()["field"], "password", "{}", missing.body);
    assert!(missing.json()["detail"].as_str().unwrap().contains("Поле «password»"));
    // The character of code 0 is refused before the database sees it (PostgreSQL cannot store it).
    let nul = http(addr, "GET", "/api/v1/ipras?q=%00", &[("Cookie", cookie.as_str())], None);
    assert_eq!(nul.status, 422, "{}", nul.body);
    let nul = http(
        addr,
        "POST",
        "/api/v1/session",
        &[],
        Some(r#"{"login":"coord\u0000","password":"x"}"#),
    );
    assert_eq!(nul.status, 422, "{}", nul.body);
    let page = get("/reports/999");
    assert!(
        page.body.contains("Отчёт не найден или недоступен вашей организации"),
        "{}",
        page.body
    );

    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let card = get(&format!("/ipras/{ipra}")).body;
    assert!(card.contains("<dt>Пол</dt><dd>женский</dd>"), "the extract says F");
    assert!(!card.contains("— — —"), "a period without dates is said as such");

    // An IPRA number is found by its beginning, in any case; a SNILS typed wrong is said to be wrong.
    let number = env.text("SELECT number FROM ipras");
    let start: String = number.chars().take(5).collect::<String>().to_lowercase();
    for path in [
        format!("/api/v1/ipras?q={}", common::urlencode(&start)),
        format!("/api/v1/ipras?number={}", common::urlencode(&start)),
    ] {
        assert_eq!(get(&path).json()["total"], 1, "{path}");
    }
    let page = get("/?q=120-334-215+88").body;
    assert!(page.contains("контрольное число должно быть"), "{page}");
}

/// The first README command gives a demo whose whole cycle runs: `serve --demo` configures a
/// demonstration GOST key, so a report assembled in the demo is signed.
#[test]
fn the_demo_signs_its_reports() {
    use std::io::BufRead;
    let env = Env::new(Backend::Sqlite);
    let mut child = env
        .ipra()
        .args([
            "serve",
            "--demo",
            "--demo-count",
            "4",
            "--listen",
            "127.0.0.1:0",
            "--no-scheduler",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("http://") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(said.contains("Подписание в демо"), "{said}");
    assert!(env.data_dir().join("signing.toml").exists());

    let ipra = env.scalar("SELECT MIN(ipra_id) FROM measures WHERE status = 'open' AND assigned_ogrn IS NOT NULL");
    let m = env
        .ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"])
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["assigned_ogrn"].is_string() && m["status"] == "open")
        .unwrap()
        .clone();
    let org = m["assigned_ogrn"].as_str().unwrap().to_string();
    let date = env.ok(&["show", &ipra.to_string(), "--json"])["decision_date"]
        .as_str()
        .unwrap()
        .to_string();
    env.add_execution(ipra, &m, &org, &["--result", "executed", "--date", &date, "--ready"]);
    let report = env.ok(&[
        "reports",
        "assemble",
        "--ipra",
        &ipra.to_string(),
        "--reporter",
        "1021602830370",
        "--json",
    ]);
    let id = report["result"].as_i64().unwrap_or_else(|| panic!("{report}"));
    let signed = env.ok(&["sign", "report", &id.to_string(), "--json"]);
    assert!(
        signed["subject"].as_str().unwrap().contains("Демонстрационная подпись"),
        "{signed}"
    );
}
