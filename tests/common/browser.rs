//! A real browser for the page tests: Debian's headless Chromium driven through chromedriver's
//! WebDriver protocol over loopback, with no client library (the requests are plain JSON).
//!
//! ```ignore
//! let browser = Browser::start();
//! browser.goto(&format!("http://{addr}/login"));
//! browser.fill("#login", "coordinator");
//! browser.click("button[type=submit]");
//! browser.screenshot("register");
//! ```

use super::workspace_root;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// Where screenshots go: `target/screenshots/<name>.png` of the workspace.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
        .join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium (1366×768, new profile).
    pub fn start() -> Browser {
        Browser::start_sized(1366, 768)
    }

    /// The same at another window size (a phone: 390×844).
    pub fn start_sized(width: u32, height: u32) -> Browser {
        let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .expect(
                "Debian chromium is not installed: tests/run.sh installs it (apt-get install chromium chromium-driver)",
            );
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian chromium-driver) is not installed");
        let addr = format!("127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect(&addr).is_ok() {
                let status = request(&addr, "GET", "/status", None);
                if status.status == 200 && status.json()["value"]["ready"] == true {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "chromedriver did not start on {addr}");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile folder");
        let args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let created = request(&addr, "POST", "/session", Some(&caps.to_string()));
        assert_eq!(created.status, 200, "WebDriver session: {}", created.body);
        let session = created.json()["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        Browser {
            driver,
            addr,
            session,
            _profile: profile,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("/session/{}{path}", self.session);
        let body = body.map(|b| b.to_string());
        let body = match (method, body) {
            ("POST", None) => Some("{}".to_string()),
            (_, b) => b,
        };
        let response = request(&self.addr, method, &url, body.as_deref());
        let value = response.json();
        assert_eq!(response.status, 200, "WebDriver {method} {path}: {}", response.body);
        value["value"].clone()
    }

    fn try_find(&self, css: &str) -> Option<String> {
        let url = format!("/session/{}/element", self.session);
        let body = json!({"using": "css selector", "value": css}).to_string();
        let response = request(&self.addr, "POST", &url, Some(&body));
        if response.status != 200 {
            return None;
        }
        let value = response.json()["value"].clone();
        value.as_object()?.values().next()?.as_str().map(str::to_string)
    }

    /// Logs in through the login form of the server at `addr` and waits for the first page.
    pub fn login(&self, addr: &str, login: &str, password: &str) {
        self.goto(&format!("http://{addr}/login"));
        self.fill("#login", login);
        self.fill("#password", password);
        self.click("form.login button[type=submit]");
        self.find("form.account");
    }

    /// Opens a URL and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    /// Waits (up to 10 s) until the address contains `part`: after a click that submits a form,
    /// so that the next read is of the new page and not of the one being left.
    pub fn wait_url(&self, part: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.url().contains(part) {
            assert!(
                Instant::now() < deadline,
                "the address never contained {part}: {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The element matching `css`, waiting up to 10 s for it to appear.
    pub fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(id) = self.try_find(css) {
                return id;
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on {}: {}",
                self.url(),
                self.text("body")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether an element matching `css` is on the page now.
    pub fn has(&self, css: &str) -> bool {
        self.try_find(css).is_some()
    }

    pub fn click(&self, css: &str) {
        let id = self.find(css);
        // The page's script attaches its handlers (confirmations, look-ups) once the document is
        // loaded: click only then, as a person would.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.script("return document.readyState") != "complete" && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // A person brings what they click to the middle of the screen: nothing sticky (the
        // execution form's button bar) covers it there.
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({
                "script": "var e = arguments[0]; if (e && e.scrollIntoView) e.scrollIntoView({block: 'center', inline: 'nearest'}); return 1",
                "args": [{ "element-6066-11e4-a52e-4f735466cecc": id, "ELEMENT": id }],
            })),
        );
        self.call("POST", &format!("/element/{id}/click"), None);
    }

    /// Clicks a button that submits a form with new values and waits until the browser is on the
    /// page it leads to (its address differs from this one's), so the next read is of that page.
    pub fn submit(&self, css: &str) {
        let before = self.url();
        self.click(css);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.url() == before {
            assert!(Instant::now() < deadline, "{css} did not lead away from {before}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Clears a field and types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.call("POST", &format!("/element/{id}/clear"), None);
        self.call("POST", &format!("/element/{id}/value"), Some(json!({ "text": text })));
    }

    /// Attaches files to an `<input type="file" multiple>` (chromedriver takes their paths, one a line).
    pub fn attach(&self, css: &str, files: &[&std::path::Path]) {
        let id = self.find(css);
        let text: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text.join("\n") })),
        );
    }

    /// Chooses an option of a `<select>` by its value.
    pub fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        match self.try_find(css) {
            Some(id) => self
                .call("GET", &format!("/element/{id}/text"), None)
                .as_str()
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        }
    }

    /// The page's HTML as the browser has it now.
    pub fn source(&self) -> String {
        self.call("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Runs a script in the page and returns its result.
    pub fn script(&self, script: &str) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": []})))
    }

    /// Answers a `window.confirm` with OK, waiting up to 5 s for it to open. The confirmations are
    /// the script's (progressive enhancement): if none opens, the form was sent without one.
    pub fn accept_alert(&self) {
        let url = format!("/session/{}/alert/accept", self.session);
        let deadline = Instant::now() + Duration::from_secs(5);
        while request(&self.addr, "POST", &url, Some("{}")).status != 200 {
            if Instant::now() > deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a PNG of the window as `target/screenshots/<name>.png` and returns its path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.call("GET", "/screenshot", None);
        let png = base64_decode(data.as_str().expect("base64 screenshot"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let url = format!("/session/{}", self.session);
        let _ = std::panic::catch_unwind(|| request(&self.addr, "DELETE", &url, None));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A WebDriver answer: status and JSON body.
struct Answer {
    status: u16,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("WebDriver answer is not JSON ({e}): {}", self.body))
    }
}

/// One WebDriver request. chromedriver keeps connections open, so the answer is read by its
/// Content-Length rather than to the end of the stream.
fn request(addr: &str, method: &str, path: &str, body: Option<&str>) -> Answer {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect to chromedriver");
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .expect("read timeout");
    let body = body.unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).expect("send");
    stream.write_all(body.as_bytes()).expect("send");
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).expect("status line");
    let status = line.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut length = None;
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let mut raw = Vec::new();
    match length {
        Some(n) => {
            raw.resize(n, 0);
            reader.read_exact(&mut raw).expect("body");
        }
        None => {
            reader.read_to_end(&mut raw).expect("body");
        }
    }
    Answer {
        status,
        body: String::from_utf8_lossy(&raw).into_owned(),
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
