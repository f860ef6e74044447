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
    /// The server's processor time (user and system, all threads) over the measured load, per
    /// request: what a request costs whatever else the machine is doing meanwhile.
    pub cpu_ms_per_request: f64,
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

/// The processor time a process has used so far (user and system, ms).
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command's closing parenthesis: state is the 3rd field, utime the 14th.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (per_second > 0.0).then(|| ticks * 1000.0 / per_second)
}

fn rss_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The load: how many clients, for how long, and where every request is written.
#[derive(Clone, Copy)]
pub struct Load<'a> {
    pub clients: usize,
    /// Seconds of load before the measured ones: a server just started reads its database from
    /// the disk and fills its caches, and its first second is many times slower than the rest.
    pub warmup: u64,
    pub seconds: u64,
    pub trace: Option<&'a std::path::Path>,
}

/// One request of the load: its route, when it started (ms from the load's start), how long it
/// took (ms), the status (0: no answer).
struct Sample {
    route: usize,
    at: f64,
    ms: f64,
    status: u16,
}

/// Starts `ipra serve` on the bench's store, loads it, stops it.
pub async fn run(
    app: &App,
    database: Option<&str>,
    routes: &[Route],
    cookies: &super::Cookies,
    load: &Load<'_>,
) -> Result<LoadReport> {
    let Load {
        clients,
        warmup,
        seconds,
        trace,
    } = *load;
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
    eprintln!("Нагрузка: {clients} соединений, {warmup} с разогрева, затем {seconds} с измерения…");

    let started = Instant::now();
    let measured_from = started + Duration::from_secs(warmup);
    let deadline = measured_from + Duration::from_secs(seconds);
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
    let cpu_at_start = tokio::spawn(async move {
        tokio::time::sleep_until(measured_from.into()).await;
        cpu_ms(pid)
    });
    let mut tasks = Vec::new();
    for c in 0..clients {
        let requests = requests.clone();
        let addr = addr.clone();
        tasks.push(tokio::spawn(async move {
            let mut samples: Vec<Sample> = Vec::new();
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
                let at = (t - started).as_secs_f64() * 1000.0;
                let answer =
                    tokio::time::timeout(Duration::from_secs(60), connection.get(&addr, path, Some(cookie))).await;
                let status = match answer {
                    Ok(Ok((status, _, close))) => {
                        if close {
                            conn = None;
                        }
                        status
                    }
                    _ => {
                        conn = None;
                        0
                    }
                };
                samples.push(Sample {
                    route: *route,
                    at,
                    ms: t.elapsed().as_secs_f64() * 1000.0,
                    status,
                });
            }
            samples
        }));
    }
    let mut all: Vec<Sample> = Vec::new();
    for t in tasks {
        all.extend(t.await?);
    }
    let measured_secs = measured_from.elapsed().as_secs_f64();
    let cpu = match (cpu_at_start.await.ok().flatten(), cpu_ms(pid)) {
        (Some(start), Some(end)) => end - start,
        _ => 0.0,
    };
    sampler.await.ok();
    let hwm = rss_mib(pid, "VmHWM:").unwrap_or(0.0);
    let peak_rss = peak.lock().map(|p| *p).unwrap_or(0.0).max(hwm);
    // SIGTERM: the server shuts down gracefully.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(pid as i32, libc::SIGTERM);
    }
    let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;

    if let Some(path) = trace {
        all.sort_by(|a, b| a.at.total_cmp(&b.at));
        let mut lines = String::from("route\tstart_ms\tms\tstatus\n");
        for s in &all {
            lines.push_str(&format!(
                "{}\t{:.1}\t{:.1}\t{}\n",
                routes[s.route].name, s.at, s.ms, s.status
            ));
        }
        std::fs::write(path, lines).with_context(|| format!("запись {}", path.display()))?;
    }
    // The figures are of the requests started after the warm-up.
    let warmup_ms = (warmup * 1000) as f64;
    all.retain(|s| s.at >= warmup_ms);
    let mut by_route: BTreeMap<String, LoadFigures> = BTreeMap::new();
    for (i, r) in routes.iter().enumerate() {
        let mut times: Vec<f64> = all.iter().filter(|s| s.route == i).map(|s| s.ms).collect();
        let errors = all.iter().filter(|s| s.route == i && s.status != 200).count();
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
        requests_per_s: all.len() as f64 / measured_secs.max(0.001),
        cpu_ms_per_request: cpu / all.len().max(1) as f64,
        routes: by_route,
    })
}
