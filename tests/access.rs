//! Who sees what, on every API route: without a session 401; an executor only its own
//! organisation's IPRAs and measures (others 404, others' actions 403); the auditor reads only;
//! coordinators manage, reference lists included; the auditor changes nothing.

mod common;

use common::{fri_samples, http, login, Backend, Env};

const PASSWORD: &str = "long enough password";

#[test]
fn each_role_sees_only_what_it_should() {
    let env = Env::new(Backend::Sqlite);
    let (orgs, stranger) = env.five_roles(PASSWORD);
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let server = env.serve(&[]);
    let addr = server.addr.as_str();

    // Without a session every API route but health, readiness, session and the OpenAPI document is 401.
    let doc = http(addr, "GET", "/api/v1/openapi.json", &[], None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        // A path item holds its operations and may hold shared `parameters` (not a method).
        let operations = methods
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| matches!(k.as_str(), "get" | "put" | "post" | "delete" | "patch"));
        for method in operations {
            let concrete = path.replace("{id}", &ipra.to_string()).replace("{list}", "sections");
            let status = http(addr, &method.to_uppercase(), &concrete, &[], Some("{}")).status;
            let public = matches!(
                path.as_str(),
                "/api/v1/health" | "/api/v1/ready" | "/api/v1/openapi.json"
            ) || (path == "/api/v1/session" && method == "post");
            if public {
                assert_ne!(status, 401, "{method} {path} is public");
            } else {
                assert_eq!(status, 401, "{method} {path} needs a session");
            }
        }
    }

    let session = |login_name: &str| login(addr, login_name, PASSWORD);
    let get = |s: &(String, String), path: &str| http(addr, "GET", path, &[("Cookie", s.0.as_str())], None);
    let send = |s: &(String, String), method: &str, path: &str, body: &str| {
        http(
            addr,
            method,
            path,
            &[("Cookie", s.0.as_str()), ("X-CSRF-Token", s.1.as_str())],
            Some(body),
        )
    };

    // An executor of another organisation sees nothing of this IPRA.
    let other = session("other");
    assert_eq!(get(&other, "/api/v1/ipras").json()["total"], 0);
    for path in [
        format!("/api/v1/ipras/{ipra}"),
        format!("/api/v1/ipras/{ipra}/source"),
        format!("/api/v1/ipras/{ipra}/executions"),
    ] {
        assert_eq!(get(&other, &path).status, 404, "{path}");
    }
    for path in [
        "/api/v1/stats",
        "/api/v1/routing/rules",
        "/api/v1/plugins",
        "/api/v1/deadlines/overdue",
    ] {
        assert_eq!(get(&other, path).status, 403, "{path}");
    }
    assert_eq!(get(&other, "/api/v1/reference/non-execution-reasons").status, 200);
    let page = http(
        addr,
        "GET",
        &format!("/ipras/{ipra}"),
        &[("Cookie", other.0.as_str())],
        None,
    );
    assert_eq!(page.status, 404, "pages follow the same scope");

    // The health executor sees the IPRA with its own measures only, and records only for them.
    let health = session("health");
    assert_eq!(get(&health, "/api/v1/ipras").json()["total"], 1);
    let card = get(&health, &format!("/api/v1/ipras/{ipra}")).json();
    let measures = card["measures"].as_array().unwrap();
    assert!(!measures.is_empty());
    assert!(
        measures.iter().all(|m| m["assigned_ogrn"] == orgs["health"].as_str()),
        "{measures:?}"
    );
    let own = measures[0]["id"].as_i64().unwrap();
    let foreign = env.scalar(&format!(
        "SELECT MIN(id) FROM measures WHERE ipra_id = {ipra} AND assigned_ogrn <> '{}'",
        orgs["health"]
    ));
    let form = |measure: i64, org: &str| {
        format!(
            r#"{{"ipra_id":{ipra},"measure_id":{measure},"section":"health","organisation":"{org}","result":"executed","measure_name":"Осмотр","executor_ogrn":"{org}","execution_date":"2021-06-01"}}"#
        )
    };
    let created = send(&health, "POST", "/api/v1/executions", &form(own, &orgs["health"]));
    assert_eq!(created.status, 200, "{}", created.body);
    assert_eq!(
        send(&health, "POST", "/api/v1/executions", &form(foreign, &orgs["health"])).status,
        403
    );
    assert_eq!(
        send(&health, "POST", "/api/v1/executions", &form(own, &stranger)).status,
        403
    );
    let record = created.json()["result"].as_i64().unwrap();
    assert_eq!(
        get(&other, &format!("/api/v1/executions/{record}")).status,
        404,
        "another executor cannot read it"
    );
    assert_eq!(
        send(
            &health,
            "POST",
            "/api/v1/routing/preview",
            r#"{"section":"health","ogrn":"1027700132195"}"#
        )
        .status,
        403
    );

    // The auditor reads everything and changes nothing.
    let audit = session("audit");
    assert_eq!(get(&audit, "/api/v1/ipras").json()["total"], 1);
    assert_eq!(get(&audit, "/api/v1/stats").status, 200);
    assert_eq!(get(&audit, &format!("/api/v1/executions/{record}")).status, 200);
    assert_eq!(
        send(&audit, "POST", &format!("/api/v1/executions/{record}/ready"), "{}").status,
        403
    );
    assert_eq!(
        send(&audit, "POST", "/api/v1/executions", &form(own, &orgs["health"])).status,
        403
    );

    // Coordinators manage routing and reports but not reference lists; administrators do.
    let coord = session("coord");
    assert_eq!(
        send(
            &coord,
            "POST",
            "/api/v1/routing/preview",
            &format!(r#"{{"section":"health","ogrn":"{}"}}"#, orgs["health"])
        )
        .status,
        200
    );
    let body = r#"{"entries":[{"code":"refused","name":"Отказ"}]}"#;
    // Coordinators keep the regional reference lists too (the administration pages' role matrix).
    assert_eq!(
        send(&coord, "PUT", "/api/v1/reference/non-execution-reasons", body).status,
        200
    );
    assert_eq!(
        send(&audit, "PUT", "/api/v1/reference/non-execution-reasons", body).status,
        403
    );
    let admin = session("admin");
    let changed = send(&admin, "PUT", "/api/v1/reference/non-execution-reasons", body);
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["version"], 3);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM reference_versions WHERE list_id = 'non-execution-reasons' AND author = 'administrator:admin'"), 1);
}

/// Every download and export, crawled as each role: each gets exactly what it may (an executor only
/// its own organisation's rows, never the whole extract), and every answer carries the security
/// headers and `Cache-Control: no-store`.
#[test]
fn every_download_answers_each_role_as_it_may() {
    let env = Env::new(Backend::Sqlite);
    let (orgs, _) = env.five_roles(PASSWORD);
    let (ipra, report) = env.reported_ipra("extract_4.xml", &orgs);
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let roles = ["admin", "coord", "audit", "health", "other"];
    let sessions: Vec<(String, String)> = roles.iter().map(|r| login(addr, r, PASSWORD)).collect();
    let routes = [
        format!("/api/v1/ipras/{ipra}/source"),
        "/api/v1/ipras/export?format=csv".to_string(),
        "/api/v1/ipras/export?format=xlsx".to_string(),
        "/executions/export?format=csv".to_string(),
        "/api/v1/stats/export?format=csv".to_string(),
        "/stats/export?format=xlsx".to_string(),
        "/api/v1/dashboard/overdue/export?format=csv".to_string(),
        "/dashboard/overdue/export?format=csv".to_string(),
        "/dashboard/workload/export?format=csv".to_string(),
        format!("/api/v1/reports/{report}/document"),
        format!("/api/v1/reports/{report}/pdf"),
        format!("/reports/{report}/print.pdf"),
        "/admin/audit/export?format=csv".to_string(),
        "/admin/organisations/export?format=csv".to_string(),
        "/admin/reference/sections/export".to_string(),
    ];
    // What each of admin, coordinator, auditor, the health executor and another executor gets.
    let expected: [[u16; 5]; 15] = [
        [200, 200, 200, 403, 404], // the extract as received: whole IPRA roles only
        [200, 200, 200, 200, 200], // the register, scoped
        [200, 200, 200, 200, 200],
        [200, 200, 200, 200, 200], // the register of executions, scoped
        [200, 200, 200, 403, 403], // statistics
        [200, 200, 200, 403, 403],
        [200, 200, 200, 403, 403], // the dashboard's lists
        [200, 200, 200, 403, 403],
        [200, 200, 200, 403, 403],
        [200, 200, 200, 404, 404], // the region's report: not an executor's
        [200, 200, 200, 404, 404],
        [200, 200, 200, 404, 404],
        [200, 403, 200, 403, 403], // the audit log: administrators and auditors
        [200, 200, 200, 403, 403], // the directory and the reference lists
        [200, 200, 200, 403, 403],
    ];
    for (route, want) in routes.iter().zip(expected) {
        for ((role, s), want) in roles.iter().zip(&sessions).zip(want) {
            let r = http(addr, "GET", route, &[("Cookie", s.0.as_str())], None);
            assert_eq!(
                r.status,
                want,
                "{role}: GET {route}: {}",
                r.body.chars().take(300).collect::<String>()
            );
            let head = r.headers.to_ascii_lowercase();
            for header in [
                "cache-control: no-store",
                "x-content-type-options: nosniff",
                "x-frame-options: deny",
                "referrer-policy: no-referrer",
                "content-security-policy: default-src 'self'",
            ] {
                assert!(head.contains(header), "{role}: GET {route} lacks {header}: {head}");
            }
        }
    }
    // An executor's exports hold its own organisation's rows only.
    let rows = |s: &(String, String), route: &str| {
        let body = http(addr, "GET", route, &[("Cookie", s.0.as_str())], None).body;
        body.lines().filter(|l| !l.trim().is_empty()).count()
    };
    let number = env.text("SELECT number FROM ipras");
    let (health, other) = (&sessions[3], &sessions[4]);
    let export = "/api/v1/ipras/export?format=csv";
    assert!(http(addr, "GET", export, &[("Cookie", health.0.as_str())], None)
        .body
        .contains(&number));
    assert!(!http(addr, "GET", export, &[("Cookie", other.0.as_str())], None)
        .body
        .contains(&number));
    assert_eq!(rows(other, export), 1, "the header only");
    assert_eq!(rows(other, "/executions/export?format=csv"), 1, "the header only");
}

/// Sessions and tokens end when they should: `DELETE /api/v1/session` with a bearer token revokes
/// that token; deactivating a user revokes its tokens for good (reactivation does not bring them
/// back); search text is never a pattern; over plain HTTP to another host the login page says why
/// a login would not stick instead of looping back.
#[test]
fn tokens_end_searches_are_literal_and_plain_http_is_named() {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    env.add_user("coord", "coordinator", None, PASSWORD);
    env.add_user("admin", "administrator", None, PASSWORD);
    let admin = env
        .run_ok(&["users", "token", "admin", "--label", "администратор"])
        .trim()
        .to_string();
    let token = env
        .run_ok(&["users", "token", "coord", "--label", "скрипт"])
        .trim()
        .to_string();
    let other = env
        .run_ok(&["users", "token", "coord", "--label", "второй"])
        .trim()
        .to_string();
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let bearer = |t: &str| format!("Bearer {t}");
    let with =
        |t: &str, method: &str, path: &str| http(addr, method, path, &[("Authorization", bearer(t).as_str())], None);
    assert_eq!(with(&token, "GET", "/api/v1/ipras").status, 200);
    let out = with(&token, "DELETE", "/api/v1/session");
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(with(&token, "GET", "/api/v1/ipras").status, 401, "the token is revoked");
    assert_eq!(
        with(&other, "GET", "/api/v1/ipras").status,
        200,
        "the user's other token is not"
    );

    let set_active = |active: bool| {
        let r = http(
            addr,
            "POST",
            "/api/v1/users/coord/active",
            &[("Authorization", bearer(&admin).as_str())],
            Some(&format!(r#"{{"active":{active}}}"#)),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    set_active(false);
    assert_eq!(with(&other, "GET", "/api/v1/ipras").status, 401);
    set_active(true);
    assert_eq!(
        with(&other, "GET", "/api/v1/ipras").status,
        401,
        "reactivation brings no old token back"
    );
    let fresh = env
        .run_ok(&["users", "token", "coord", "--label", "новый"])
        .trim()
        .to_string();

    // Wildcards of SQL's LIKE are text like any other.
    for q in ["%", "_", "%25", "\\"] {
        let found = with(&fresh, "GET", &format!("/api/v1/ipras?q={q}")).json();
        assert_eq!(found["total"], 0, "q={q}: {found}");
    }
    let found = with(&fresh, "GET", "/api/v1/organisations?q=%25&section=health");
    assert_eq!(found.status, 200, "{}", found.body);
    assert!(
        !found.body.contains(&orgs["health"]),
        "«%» is no pattern: {}",
        found.body
    );

    // Plain HTTP to a LAN name: the login page says why a login would not stick.
    let raw = |request: String| {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    let page = raw("GET /login HTTP/1.1\r\nHost: ipra.region.local:8080\r\nConnection: close\r\n\r\n".into());
    assert!(page.contains("незащищённому HTTP"), "{page}");
    let body = "login=coord&password=long+enough+password&next=%2F";
    let answer = raw(format!(
        "POST /login HTTP/1.1\r\nHost: ipra.region.local:8080\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ));
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        !answer.to_ascii_lowercase().contains("set-cookie: ipra_session="),
        "no session is opened"
    );
    // Behind a proxy that terminates TLS, or on this machine itself, nothing is said.
    let proxied = raw(
        "GET /login HTTP/1.1\r\nHost: ipra.region.local\r\nX-Forwarded-Proto: https\r\nConnection: close\r\n\r\n"
            .into(),
    );
    assert!(!proxied.contains("незащищённому HTTP"));
    assert!(!http(addr, "GET", "/login", &[], None)
        .body
        .contains("незащищённому HTTP"));
}
