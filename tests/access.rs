//! Who sees what, on every API route: without a session 401; an executor only its own
//! organisation's IPRAs and measures (others 404, others' actions 403); the auditor reads only;
//! coordinators manage, reference lists included; the auditor changes nothing.

mod common;

use common::{fri_samples, http, login, ogrn, Backend, Env};

const PASSWORD: &str = "long enough password";

#[test]
fn each_role_sees_only_what_it_should() {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    let stranger = ogrn(102_770_013_277);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &stranger,
        "--name",
        "Другая больница",
        "--department",
        "health",
    ]);
    env.ok(&[
        "import",
        fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    for (login, role, ogrn) in [
        ("admin", "administrator", None),
        ("coord", "coordinator", None),
        ("audit", "auditor", None),
        ("health", "executor", Some(orgs["health"].as_str())),
        ("other", "executor", Some(stranger.as_str())),
    ] {
        env.add_user(login, role, ogrn, PASSWORD);
    }
    let server = env.serve(&[]);
    let addr = server.addr.as_str();

    // Without a session every API route but health, readiness, session and the OpenAPI document is 401.
    let doc = http(addr, "GET", "/api/v1/openapi.json", &[], None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    for (path, methods) in doc["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
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
