//! `ipra serve` end to end: health, the first API and the register page over loopback HTTP.

mod common;

use common::{fri_samples, Backend, Env, BACKENDS};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &Env) -> Server {
    let mut child = env
        .ipra()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, addr }
}

/// A plain HTTP/1.1 GET over loopback; returns status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn json_body(body: &str) -> serde_json::Value {
    // Bodies may be chunked: take the JSON between the outer braces.
    let start = body.find(['{', '[']).unwrap();
    let end = body.rfind(['}', ']']).unwrap();
    serde_json::from_str(&body[start..=end]).unwrap()
}

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
        let server = start(&env);

        let (status, body) = get(&server.addr, "/api/v1/health");
        assert_eq!(status, 200);
        let health = json_body(&body);
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

        let (status, body) = get(&server.addr, "/api/v1/ipras?per_page=10");
        assert_eq!(status, 200);
        let page = json_body(&body);
        assert_eq!(page["total"], 1);
        let item = &page["items"][0];
        assert!(
            item["snils"].as_str().unwrap().starts_with("***-***-"),
            "SNILS masked in lists: {item}"
        );
        let id = item["id"].as_i64().unwrap();

        let (status, body) = get(&server.addr, &format!("/api/v1/ipras/{id}"));
        assert_eq!(status, 200);
        let card = json_body(&body);
        assert_eq!(card["person"]["snils"], "120-334-215 87");
        assert!(card["measures"].as_array().unwrap().len() > 1);
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'ipra.read'"),
            1,
            "card reads are logged"
        );

        let (status, body) = get(&server.addr, &format!("/api/v1/ipras/{id}/source"));
        assert_eq!(status, 200);
        assert!(body.contains("ВыпискаФРИ"));

        let (status, _) = get(&server.addr, "/api/v1/ipras/999999");
        assert_eq!(status, 404);

        let (status, html) = get(&server.addr, "/?surname=%D0%9F%D0%9E%D0%93");
        assert_eq!(status, 200);
        assert!(
            html.contains("Реестр выписок из ИПРА") && html.contains("ПОГОДИНА"),
            "{html}"
        );
        let (_, html) = get(&server.addr, "/?surname=NOBODY");
        assert!(html.contains("Найдено: 0"));
        let (status, html) = get(&server.addr, &format!("/ipras/{id}"));
        assert_eq!(status, 200);
        assert!(html.contains("Мероприятия"));
    }
}
