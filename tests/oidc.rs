//! Login through an OpenID Connect identity provider, end to end: a provider run by the test on
//! loopback (discovery, authorize, token, JWKS; ID tokens signed RS256 by a key OpenSSL makes),
//! the real `ipra serve`, and a real browser, on SQLite and PostgreSQL.

mod common;

use common::browser::Browser;
use common::{http, Env, BACKENDS};
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// Who the provider says logs in, and whether it spoils the next signature.
#[derive(Clone)]
struct Person {
    sub: String,
    username: String,
    tamper: bool,
}

struct Provider {
    issuer: String,
    person: Arc<Mutex<Person>>,
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().expect("openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

fn query_params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), percent_decode(v)))
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &str) {
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body.as_bytes());
}

impl Provider {
    /// Starts the provider on a free loopback port with a fresh 2048-bit RSA key.
    fn start(dir: &Path) -> Provider {
        let key: PathBuf = dir.join("idp-key.pem");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            key.to_str().unwrap(),
        ]);
        let modulus = String::from_utf8(openssl(&["rsa", "-in", key.to_str().unwrap(), "-noout", "-modulus"])).unwrap();
        let n = b64url(&unhex(modulus.trim().trim_start_matches("Modulus=")));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let person = Arc::new(Mutex::new(Person {
            sub: "sub-1".into(),
            username: "nobody".into(),
            tamper: false,
        }));
        let codes: Arc<Mutex<HashMap<String, (String, String)>>> = Arc::default();
        let (iss, who, dir) = (issuer.clone(), person.clone(), dir.to_path_buf());
        std::thread::spawn(move || {
            for (count, stream) in listener.incoming().enumerate() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let mut length = 0;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':') {
                        if name.eq_ignore_ascii_case("content-length") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                match path {
                    "/.well-known/openid-configuration" => {
                        let doc = json!({
                            "issuer": iss,
                            "authorization_endpoint": format!("{iss}/authorize"),
                            "token_endpoint": format!("{iss}/token"),
                            "jwks_uri": format!("{iss}/jwks"),
                        });
                        respond(
                            &mut stream,
                            "200 OK",
                            &[("Content-Type", "application/json")],
                            &doc.to_string(),
                        );
                    }
                    "/jwks" => {
                        let doc = json!({"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"}]});
                        respond(
                            &mut stream,
                            "200 OK",
                            &[("Content-Type", "application/json")],
                            &doc.to_string(),
                        );
                    }
                    "/authorize" => {
                        // The person "logs in" at the provider at once and is sent back.
                        let q = query_params(query);
                        assert_eq!(q["response_type"], "code");
                        assert_eq!(q["code_challenge_method"], "S256");
                        let code = format!("code-{count}");
                        codes
                            .lock()
                            .unwrap()
                            .insert(code.clone(), (q["nonce"].clone(), q["code_challenge"].clone()));
                        let location = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
                        respond(&mut stream, "302 Found", &[("Location", &location)], "");
                    }
                    "/token" => {
                        let form = query_params(&String::from_utf8_lossy(&body));
                        let Some((nonce, challenge)) = codes.lock().unwrap().remove(&form["code"]) else {
                            respond(&mut stream, "400 Bad Request", &[], r#"{"error":"invalid_grant"}"#);
                            continue;
                        };
                        if b64url(&sha256(form["code_verifier"].as_bytes())) != challenge
                            || form["client_id"] != "ipra"
                            || form.get("client_secret").map(String::as_str) != Some("s3cret")
                        {
                            respond(&mut stream, "400 Bad Request", &[], r#"{"error":"invalid_grant"}"#);
                            continue;
                        }
                        let person = who.lock().unwrap().clone();
                        let now = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .unwrap()
                            .as_secs();
                        let header = b64url(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
                        let claims = json!({
                            "iss": iss, "aud": "ipra", "sub": person.sub, "preferred_username": person.username,
                            "nonce": nonce, "iat": now, "exp": now + 300,
                        });
                        let payload = b64url(claims.to_string().as_bytes());
                        let signed = dir.join(format!("jwt-{count}"));
                        std::fs::write(&signed, format!("{header}.{payload}")).unwrap();
                        let mut signature = openssl(&[
                            "dgst",
                            "-sha256",
                            "-sign",
                            key.to_str().unwrap(),
                            signed.to_str().unwrap(),
                        ]);
                        if person.tamper {
                            signature[10] ^= 0xff;
                        }
                        let token = format!("{header}.{payload}.{}", b64url(&signature));
                        let answer = json!({"access_token": "a", "token_type": "Bearer", "id_token": token});
                        respond(
                            &mut stream,
                            "200 OK",
                            &[("Content-Type", "application/json")],
                            &answer.to_string(),
                        );
                    }
                    _ => respond(&mut stream, "404 Not Found", &[], ""),
                }
            }
        });
        Provider { issuer, person }
    }

    fn logs_in(&self, sub: &str, username: &str, tamper: bool) {
        *self.person.lock().unwrap() = Person {
            sub: sub.into(),
            username: username.into(),
            tamper,
        };
    }
}

fn configure(env: &Env, provider: &Provider, addr: &str) {
    std::fs::write(
        env.data_dir().join("oidc.toml"),
        format!(
            "issuer = \"{}\"\nclient_id = \"ipra\"\nclient_secret = \"s3cret\"\nredirect_uri = \"http://{addr}/login/oidc/callback\"\nbutton = \"Войти через ЕСИА региона\"\nlogin_claim = \"preferred_username\"\n",
            provider.issuer
        ),
    )
    .unwrap();
}

#[test]
fn logs_in_through_the_identity_provider_as_the_bound_local_account() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let orgs = env.directory();
        env.add_user("ivanova", "executor", Some(&orgs["health"]), "correct horse battery");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let provider = Provider::start(env.dir.path());
        configure(&env, &provider, addr);
        let browser = Browser::start();

        // The local account with that login is bound to the provider's subject on first login.
        provider.logs_in("sub-ivanova", "ivanova", false);
        browser.goto(&format!("http://{addr}/login?next=/%3Fsurname%3D%D0%98"));
        assert_eq!(browser.text("p.oidc a"), "Войти через ЕСИА региона");
        browser.screenshot(&format!("oidc-login-{}", backend.name()));
        browser.click("p.oidc a");
        browser.find("form.account");
        assert!(browser.text("form.account").contains("ivanova"));
        assert!(browser.url().contains("/?surname="), "{}", browser.url());
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM users WHERE login = 'ivanova' AND oidc_subject = 'sub-ivanova'"),
            1
        );
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'session.login.oidc'"),
            1
        );
        browser.click("form.account button[type=submit]");
        browser.find("form.login");

        // Later the subject alone decides, whatever login the provider now reports.
        provider.logs_in("sub-ivanova", "renamed", false);
        browser.click("p.oidc a");
        browser.find("form.account");
        assert!(browser.text("form.account").contains("ivanova"));
        browser.click("form.account button[type=submit]");
        browser.find("form.login");

        // An identity without a local account is refused, and so is a forged signature.
        provider.logs_in("sub-stranger", "stranger", false);
        browser.click("p.oidc a");
        browser.find("[role=alert]");
        assert!(browser.text("[role=alert]").contains("нет активного пользователя"));
        browser.screenshot(&format!("oidc-refused-{}", backend.name()));
        provider.logs_in("sub-ivanova", "ivanova", true);
        browser.click("p.oidc a");
        browser.find("[role=alert]");
        assert!(
            browser.text("[role=alert]").contains("подпись id_token"),
            "{}",
            browser.text("[role=alert]")
        );
        assert!(!browser.has("form.account"));
    }
}

#[test]
fn a_callback_is_used_once_and_only_for_a_login_begun_here() {
    let env = Env::new(common::Backend::Sqlite);
    env.add_user("ivanova", "coordinator", None, "correct horse battery");
    let server = env.serve(&[]);
    let addr = server.addr.as_str();

    // Without oidc.toml there is no provider button and no OIDC route.
    assert!(!http(addr, "GET", "/login", &[], None).body.contains("/login/oidc"));
    assert_eq!(http(addr, "GET", "/login/oidc", &[], None).status, 404);

    let provider = Provider::start(env.dir.path());
    configure(&env, &provider, addr);
    provider.logs_in("sub-ivanova", "ivanova", false);
    let begin = http(addr, "GET", "/login/oidc?next=/stats", &[], None);
    assert_eq!(begin.status, 303, "{}", begin.body);
    let location = begin
        .headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("location:")
                .then(|| l[9..].trim().to_string())
        })
        .expect("redirect to the provider");
    assert!(
        location.starts_with(&format!("{}/authorize?", provider.issuer)),
        "{location}"
    );
    let at_provider = http(
        &provider.issuer["http://".len()..],
        "GET",
        &location[provider.issuer.len()..],
        &[],
        None,
    );
    let back = at_provider
        .headers
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("location:")
                .then(|| l[9..].trim().to_string())
        })
        .expect("redirect back");
    let callback = &back[format!("http://{addr}").len()..];
    let done = http(addr, "GET", callback, &[], None);
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains(r#"content="0;url=/stats""#), "{}", done.body);
    assert!(done
        .cookie()
        .is_some_and(|c| c.starts_with("ipra_session=") && c.len() > 20));

    // The same state again, or a state never issued, opens nothing.
    let replay = http(addr, "GET", callback, &[], None);
    assert_eq!(replay.status, 403);
    assert!(replay.body.contains("неизвестный state"));
    let forged = http(addr, "GET", "/login/oidc/callback?code=x&state=made-up", &[], None);
    assert_eq!(forged.status, 403);
    // The provider's own refusal is shown as such.
    let denied = http(
        addr,
        "GET",
        "/login/oidc/callback?error=access_denied&error_description=no",
        &[],
        None,
    );
    assert_eq!(denied.status, 403);
    assert!(denied.body.contains("access_denied"));
}
