//! Plugins administered over the API of a running server: a package installed, refused (a
//! component that does not match its SHA-256, an API range the host does not serve), upgraded,
//! rolled back and removed — each in effect at once, without a restart, and in the audit log; an
//! executor refused; a package installed from the command line on the same data directory taken by
//! the running server; the figures of the calls and `/metrics`.

mod common;
mod plugin_package;

use common::{Backend, Env, BACKENDS};
use plugin_package::{package, ID};
use std::time::{Duration, Instant};

const PASSWORD: &str = "correct horse battery";

/// An HTTP/1.1 request with a binary body (the common helper sends text as JSON).
fn send(addr: &str, method: &str, path: &str, token: &str, body: Option<&[u8]>) -> common::Response {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n")
            .into_bytes();
    if let Some(body) = body {
        request.extend(
            format!(
                "Content-Type: application/octet-stream\r\nContent-Length: {}\r\n",
                body.len()
            )
            .bytes(),
        );
    }
    request.extend(b"\r\n");
    if let Some(body) = body {
        request.extend(body);
    }
    stream.write_all(&request).expect("send");
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

fn token(env: &Env, login: &str) -> String {
    env.run_ok(&["users", "token", login])
        .lines()
        .last()
        .expect("a token")
        .trim()
        .to_string()
}

/// The plugin `id` as the running server lists it, if it does.
fn listed(addr: &str, token: &str, id: &str) -> Option<serde_json::Value> {
    let list = send(addr, "GET", "/api/v1/plugins", token, None);
    assert_eq!(list.status, 200, "{}", list.body);
    list.json()
        .as_array()
        .expect("a list")
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
}

fn audit_actions(env: &Env) -> Vec<String> {
    env.texts(&format!(
        "SELECT action FROM audit_log WHERE subject = 'plugin:{ID}' ORDER BY id"
    ))
}

#[test]
fn packages_are_installed_upgraded_rolled_back_and_removed_over_the_api() {
    for backend in BACKENDS {
        administered_over_the_api(backend);
    }
}

fn administered_over_the_api(backend: Backend) {
    let env = Env::new(backend);
    env.add_user("admin", "administrator", None, PASSWORD);
    let org = common::ogrn(102_770_013_201);
    env.run_ok(&[
        "orgs",
        "add",
        "--ogrn",
        &org,
        "--name",
        "Исполнитель",
        "--department",
        "health",
    ]);
    env.add_user("exec", "executor", Some(&org), PASSWORD);
    let admin = token(&env, "admin");
    let exec = token(&env, "exec");
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    assert!(listed(addr, &admin, ID).is_none(), "the host has never seen it");

    // Install: listed at once, disabled until enabled, in the audit log with who did it.
    let first = package("1.0.0", |m| m);
    let installed = send(addr, "POST", "/api/v1/plugins/install", &admin, Some(&first));
    assert_eq!(installed.status, 201, "{}", installed.body);
    let change = installed.json();
    assert_eq!(change["id"], ID);
    assert_eq!(change["version"], "1.0.0");
    assert!(change["replaced"].is_null(), "{change}");
    let row = listed(addr, &admin, ID).expect("listed without a restart");
    assert_eq!(row["version"], "1.0.0");
    assert_eq!(row["enabled"], false, "an installed plugin waits to be enabled");
    assert_ne!(row["origin"], "builtin", "{row}");
    assert_eq!(audit_actions(&env), vec!["plugin.install"]);
    assert_eq!(
        env.text(&format!(
            "SELECT actor FROM audit_log WHERE subject = 'plugin:{ID}' ORDER BY id LIMIT 1"
        )),
        "administrator:admin"
    );

    // Installing it again is refused: an upgrade is the way to a new version.
    let again = send(addr, "POST", "/api/v1/plugins/install", &admin, Some(&first));
    assert_eq!(again.status, 422, "{}", again.body);
    assert!(
        again.json()["detail"].as_str().unwrap().contains("уже установлен"),
        "{}",
        again.body
    );

    // A component that does not match its manifest's SHA-256: refused, nothing changed.
    let tampered = package("1.2.0", |m| {
        let sha = m
            .lines()
            .find_map(|l| l.strip_prefix("sha256 = \""))
            .map(|s| s.trim_end_matches('"').to_string())
            .expect("sha256 in the manifest");
        m.replace(&sha, &"0".repeat(64))
    });
    let refused = send(addr, "POST", "/api/v1/plugins/upgrade", &admin, Some(&tampered));
    assert_eq!(refused.status, 422, "{}", refused.body);
    let problem = refused.json();
    assert!(problem["detail"].as_str().unwrap().contains("SHA-256"), "{problem}");
    assert_eq!(
        problem["detail"].as_str().unwrap().matches("SHA-256").count(),
        1,
        "said once: {problem}"
    );
    assert!(
        refused.headers.contains("application/problem+json"),
        "{}",
        refused.headers
    );
    assert_eq!(listed(addr, &admin, ID).unwrap()["version"], "1.0.0");

    // An API range the host does not serve: refused, naming the version asked for.
    let future = package("2.0.0", |m| m.replace("api = \"^1.0\"", "api = \"^1.9\""));
    let refused = send(addr, "POST", "/api/v1/plugins/upgrade", &admin, Some(&future));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.json()["detail"].as_str().unwrap().contains("^1.9"),
        "{}",
        refused.body
    );
    assert_eq!(listed(addr, &admin, ID).unwrap()["version"], "1.0.0");

    // Not an archive at all.
    let refused = send(addr, "POST", "/api/v1/plugins/install", &admin, Some(b"not a package"));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(audit_actions(&env), vec!["plugin.install"], "refusals change nothing");

    // Upgrade: the new version in effect without a restart, the old one kept.
    let upgraded = send(
        addr,
        "POST",
        "/api/v1/plugins/upgrade",
        &admin,
        Some(&package("1.1.0", |m| m)),
    );
    assert_eq!(upgraded.status, 200, "{}", upgraded.body);
    assert_eq!(upgraded.json()["version"], "1.1.0");
    assert_eq!(upgraded.json()["replaced"], "1.0.0");
    let row = listed(addr, &admin, ID).unwrap();
    assert_eq!(row["version"], "1.1.0");
    assert_eq!(row["previous_version"], "1.0.0");
    // Only forward.
    let older = send(addr, "POST", "/api/v1/plugins/upgrade", &admin, Some(&first));
    assert_eq!(older.status, 422, "{}", older.body);
    assert!(
        older.json()["detail"].as_str().unwrap().contains("не новее"),
        "{}",
        older.body
    );

    // Rollback: the old version back, the newer one kept in its place.
    let back = send(addr, "POST", &format!("/api/v1/plugins/{ID}/rollback"), &admin, None);
    assert_eq!(back.status, 200, "{}", back.body);
    assert_eq!(back.json()["version"], "1.0.0");
    let row = listed(addr, &admin, ID).unwrap();
    assert_eq!(row["version"], "1.0.0");
    assert_eq!(row["previous_version"], "1.1.0");

    // The executor may do none of it.
    for (method, path, body) in [
        ("POST", "/api/v1/plugins/install".to_string(), Some(first.as_slice())),
        ("POST", "/api/v1/plugins/upgrade".to_string(), Some(first.as_slice())),
        ("DELETE", format!("/api/v1/plugins/{ID}"), None),
        ("POST", format!("/api/v1/plugins/{ID}/rollback"), None),
        ("GET", "/api/v1/plugins/figures".to_string(), None),
    ] {
        let response = send(addr, method, &path, &exec, body);
        assert_eq!(response.status, 403, "{method} {path}: {}", response.body);
    }
    // Without a token: 401.
    let anonymous = common::http(addr, "DELETE", &format!("/api/v1/plugins/{ID}"), &[], None);
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    // Remove: gone at once; a rollback brings the version kept back.
    let removed = send(addr, "DELETE", &format!("/api/v1/plugins/{ID}"), &admin, None);
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert!(removed.json()["version"].is_null(), "no built-in takes its place");
    assert_eq!(removed.json()["replaced"], "1.0.0");
    assert!(listed(addr, &admin, ID).is_none(), "removed without a restart");
    let gone = send(addr, "DELETE", &format!("/api/v1/plugins/{ID}"), &admin, None);
    assert_eq!(gone.status, 404, "{}", gone.body);
    let restored = send(addr, "POST", &format!("/api/v1/plugins/{ID}/rollback"), &admin, None);
    assert_eq!(restored.status, 200, "{}", restored.body);
    assert_eq!(listed(addr, &admin, ID).expect("back").get("version").unwrap(), "1.0.0");
    assert_eq!(
        audit_actions(&env),
        vec![
            "plugin.install",
            "plugin.upgrade",
            "plugin.rollback",
            "plugin.remove",
            "plugin.rollback"
        ]
    );

    // Unknown ids, a built-in plugin, a plugin with nothing kept.
    let unknown = send(addr, "POST", "/api/v1/plugins/no-such/rollback", &admin, None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let unknown = send(addr, "DELETE", "/api/v1/plugins/no-such", &admin, None);
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    let builtin = send(addr, "DELETE", "/api/v1/plugins/fri", &admin, None);
    assert_eq!(builtin.status, 409, "{}", builtin.body);
    assert!(
        builtin.json()["detail"].as_str().unwrap().contains("встроен"),
        "{}",
        builtin.body
    );
    let nothing_kept = send(addr, "POST", "/api/v1/plugins/fri/rollback", &admin, None);
    assert_eq!(nothing_kept.status, 409, "{}", nothing_kept.body);

    // `?enable=true` enables it with the install.
    assert_eq!(
        send(addr, "DELETE", &format!("/api/v1/plugins/{ID}"), &admin, None).status,
        200
    );
    let enabled = send(
        addr,
        "POST",
        "/api/v1/plugins/install?enable=true",
        &admin,
        Some(&package("1.3.0", |m| m)),
    );
    assert_eq!(enabled.status, 201, "{}", enabled.body);
    assert_eq!(listed(addr, &admin, ID).unwrap()["enabled"], true);

    // The command line on the same data directory: the running server takes the change within
    // seconds (it looks every two).
    assert_eq!(
        send(addr, "DELETE", &format!("/api/v1/plugins/{ID}"), &admin, None).status,
        200
    );
    let file = env.dir.path().join(format!("{ID}-1.4.0.ipra-plugin"));
    std::fs::write(&file, package("1.4.0", |m| m)).unwrap();
    env.run_ok(&["plugins", "install", file.to_str().unwrap()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(row) = listed(addr, &admin, ID) {
            assert_eq!(row["version"], "1.4.0");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never took the plugin the command line installed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The figures of the calls (none of this plugin yet: nothing called it) and `/metrics`.
    let figures = send(addr, "GET", "/api/v1/plugins/figures", &admin, None);
    assert_eq!(figures.status, 200, "{}", figures.body);
    assert!(figures.json().is_array(), "{}", figures.body);
    let metrics = common::http(addr, "GET", "/metrics", &[], None);
    assert_eq!(metrics.status, 200, "{}", metrics.body);
    assert!(
        metrics.headers.contains("text/plain; version=0.0.4"),
        "{}",
        metrics.headers
    );
    assert!(
        metrics.body.contains("# TYPE ipra_plugin_calls_total counter"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("ipra_plugins_loaded "), "{}", metrics.body);
    assert!(metrics.body.contains("ipra_plugins_refused 0"), "{}", metrics.body);
}

/// The figures count the calls the server made: an extract imported through the page is read by
/// the FRI connector, and its `import` hook is counted, with p50 and p99 in milliseconds, on the
/// API and in `/metrics`.
#[test]
fn figures_count_the_calls_of_the_running_server() {
    let env = Env::new(Backend::Sqlite);
    env.add_user("admin", "administrator", None, PASSWORD);
    let admin = token(&env, "admin");
    let server = env.serve(&[]);
    let addr = server.addr.as_str();
    let before = send(addr, "GET", "/api/v1/plugins/figures", &admin, None).json();
    assert_eq!(before, serde_json::json!([]), "no call yet");
    // An upload through the import page (multipart, with the session's CSRF token).
    let (cookie, csrf) = common::login(addr, "admin", PASSWORD);
    let extract = std::fs::read(common::fri_samples().join("extract_4.xml")).unwrap();
    let boundary = "----ipra-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"extract_4.xml\"\r\nContent-Type: application/xml\r\n\r\n"
    )
    .into_bytes();
    body.extend(&extract);
    body.extend(format!("\r\n--{boundary}--\r\n").bytes());
    let upload = raw_post(
        addr,
        "/import",
        &cookie,
        &format!("multipart/form-data; boundary={boundary}"),
        &body,
    );
    // 200, or 422 when the register refuses a record: the connector was called either way.
    assert!(
        upload.starts_with("HTTP/1.1 200") || upload.starts_with("HTTP/1.1 422"),
        "{upload}"
    );
    let figures = send(addr, "GET", "/api/v1/plugins/figures", &admin, None).json();
    let import = figures
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["plugin"] == "fri" && f["hook"] == "import")
        .unwrap_or_else(|| panic!("the FRI connector's import is counted: {figures}"))
        .clone();
    assert!(import["calls"].as_u64().unwrap() >= 1, "{import}");
    assert!(import["p50_ms"].as_f64().unwrap() > 0.0, "{import}");
    assert!(
        import["p99_ms"].as_f64().unwrap() >= import["p50_ms"].as_f64().unwrap(),
        "{import}"
    );
    let metrics = common::http(addr, "GET", "/metrics", &[], None).body;
    assert!(
        metrics.contains("ipra_plugin_calls_total{plugin=\"fri\",hook=\"import\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("ipra_plugin_call_duration_seconds_bucket{plugin=\"fri\",hook=\"import\",le=\"+Inf\"}"));
}

/// A POST with a body of `content_type`, with the session cookie; the raw answer.
fn raw_post(addr: &str, path: &str, cookie: &str, content_type: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend(body);
    stream.write_all(&request).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    String::from_utf8_lossy(&raw).into_owned()
}
