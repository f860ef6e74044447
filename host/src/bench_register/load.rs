//! The HTTP half of `ipra bench register`: a real `ipra serve` started as a child process on
//! loopback, and a load generator of our own keeping `clients` HTTP/1.1 connections open, each
//! sending the routes' requests one after another for a while; per-route p99 and the server's
//! peak resident memory.

use super::Route;
use crate::app::App;
use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct LoadFigures {
    pub p99_ms: f64,
    pub requests: usize,
    pub errors: usize,
}

pub struct LoadReport {
    pub peak_rss_mib: f64,
    pub requests_per_s: f64,
    pub routes: BTreeMap<String, LoadFigures>,
}

/// One keep-alive connection.
struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    async fn open(addr: &str) -> Result<Connection> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            reader: BufReader::new(stream),
        })
    }

    /// Sends a GET and reads the whole response; returns the status and the body.
    async fn get(&mut self, addr: &str, path: &str, cookie: Option<&str>) -> Result<(u16, Vec<u8>, bool)> {
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\n");
        if let Some(c) = cookie {
            request.push_str(&format!("Cookie: {c}\r\n"));
        }
        request.push_str("\r\n");
        self.reader.get_mut().write_all(request.as_bytes()).await?;
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            bail!("соединение закрыто сервером");
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .context("строка статуса")?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            line.clear();
            self.reader.read_line(&mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                line.clear();
                self.reader.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
                if size == 0 {
                    line.clear();
                    self.reader.read_line(&mut line).await?;
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                self.reader.read_exact(&mut body[start..]).await?;
                line.clear();
                self.reader.read_line(&mut line).await?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            self.reader.read_exact(&mut body).await?;
        } else {
            self.reader.read_to_end(&mut body).await?;
            close = true;
        }
        Ok((status, body, close))
    }
}

/// One request on a fresh connection (readiness checks).
pub async fn get_once(addr: &str, path: &str, cookie: Option<&str>) -> Result<(u16, String)> {
    let mut c = Connection::open(addr).await?;
    let (status, body, _) = c.get(addr, path, cookie).await?;
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn rss_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Starts `ipra serve` on the bench's store, loads it, stops it.
pub async fn run(
    app: &App,
    database: Option<&str>,
    routes: &[Route],
    cookies: &super::Cookies,
    clients: usize,
    seconds: u64,
) -> Result<LoadReport> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let addr = format!("127.0.0.1:{port}");
    let exe = std::env::current_exe()?;
    let mut cmd = tokio::process::Command::new(exe);
    cmd.arg("--data-dir")
        .arg(&app.data_dir)
        .args(["serve", "--listen", &addr, "--no-scheduler"])
        .env(
            "IPRA_TODAY",
            crate::register::deadlines::format_date(crate::clock::today()),
        )
        .env("IPRA_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .kill_on_drop(true);
    match database {
        Some(url) => cmd.env("IPRA_DATABASE_URL", url),
        None => cmd.env_remove("IPRA_DATABASE_URL"),
    };
    let mut child = cmd.spawn().context("запуск ipra serve")?;
    let pid = child.id().context("pid")?;
    eprintln!("ipra serve (pid {pid}) на {addr}: загрузка индекса статистики…");
    super::wait_ready(&addr, Duration::from_secs(1800)).await?;
    eprintln!("Нагрузка: {clients} соединений, {seconds} с…");

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let peak = std::sync::Arc::new(std::sync::Mutex::new(0.0f64));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while Instant::now() < deadline {
                if let Some(rss) = rss_mib(pid, "VmRSS:") {
                    let mut p = peak.lock().unwrap_or_else(|e| e.into_inner());
                    *p = p.max(rss);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    // The clients sweep the requests of all routes together, each taking every `clients`-th from
    // its own starting point: in any stretch of the run every route is asked, however slow the
    // server (clients walking the list from scattered starting points left routes unasked).
    let requests: Vec<(usize, String, String)> = routes
        .iter()
        .enumerate()
        .flat_map(|(i, r)| {
            r.paths
                .iter()
                .map(move |p| (i, p.clone(), cookies.of(r.user).to_string()))
        })
        .collect();
    let requests = std::sync::Arc::new(requests);
    let mut tasks = Vec::new();
    for c in 0..clients {
        let requests = requests.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples: Vec<(usize, f64, u16)> = Vec::new();
            let mut conn: Option<Connection> = None;
            let mut k = c;
            while Instant::now() < deadline {
                let (route, path, cookie) = &requests[k % requests.len()];
                k += clients;
                if conn.is_none() {
                    conn = Connection::open(&addr).await.ok();
                }
                let Some(connection) = conn.as_mut() else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let t = Instant::now();
                match tokio::time::timeout(Duration::from_secs(60), connection.get(&addr, path, Some(cookie))).await {
                    Ok(Ok((status, _, close))) => {
                        samples.push((*route, t.elapsed().as_secs_f64() * 1000.0, status));
                        if close {
                            conn = None;
                        }
                    }
                    _ => {
                        samples.push((*route, t.elapsed().as_secs_f64() * 1000.0, 0));
                        conn = None;
                    }
                }
            }
            samples
        }));
    }
    let started = Instant::now();
    let mut all: Vec<(usize, f64, u16)> = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampler.await.ok();
    let hwm = rss_mib(pid, "VmHWM:").unwrap_or(0.0);
    let peak_rss = peak.lock().map(|p| *p).unwrap_or(0.0).max(hwm);
    // SIGTERM: the server shuts down gracefully.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;

    let mut by_route: BTreeMap<String, LoadFigures> = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let mut times: Vec<f64> = all.iter().filter(|s| s.0 == i).map(|s| s.1).collect();
        let errors = all.iter().filter(|s| s.0 == i && s.2 != 200).count();
        times.sort_by(f64::total_cmp);
        by_route.insert(
            r.name.clone(),
            LoadFigures {
                p99_ms: super::percentile(&times, 99.0),
                requests: times.len(),
                errors,
            },
        );
    }
    Ok(LoadReport {
        peak_rss_mib: peak_rss,
        requests_per_s: all.len() as f64 / elapsed.max(0.001),
        routes: by_route,
    })
}
