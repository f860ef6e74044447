//! Several instances as deploy/compose.yaml lays them out, started as local processes on loopback
//! from the files themselves: the compose file's services (their commands and environment, over
//! the image's ENTRYPOINT and ENV of packaging/oci/Containerfile and the configuration file it
//! copies), its volumes as folders of the test (one data directory, one exchange folder for all),
//! the test's own PostgreSQL for its `postgres` service, and nginx with deploy/nginx.conf, its
//! upstream servers replaced by the instances' loopback addresses. Then the failover of the
//! reliability issue runs against that layout (tests/common/failover.rs, shared with
//! tests/exchange.rs): requests through nginx answer from every instance; one instance leads the
//! scheduler; the leader is killed with SIGKILL while documents wait in the inbox; nginx passes
//! over the dead one; another instance leads; every document is applied exactly once.

mod common;

use common::{failover, packaging, workspace_root, Backend, Env};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A service of deploy/compose.yaml, merge keys applied.
#[derive(Debug)]
struct Service {
    name: String,
    image: String,
    dockerfile: Option<String>,
    command: Vec<String>,
    environment: BTreeMap<String, String>,
    /// (source, container path): a named volume or a path relative to deploy/.
    volumes: Vec<(String, String)>,
    ports: Vec<String>,
    depends_on: Vec<String>,
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Sequence(items)) => items.iter().map(scalar).collect(),
        Some(Value::Mapping(m)) => m.keys().map(scalar).collect(),
        Some(other) => panic!("not a list: {other:?}"),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => panic!("not a scalar: {other:?}"),
    }
}

/// `${NAME:-default}` and `${NAME}` as compose interpolates them (from this process's environment).
fn interpolate(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${…}") + start;
        let inner = &rest[start + 2..end];
        let (name, default) = inner.split_once(":-").unwrap_or((inner, ""));
        out.push_str(&std::env::var(name).unwrap_or_else(|_| default.to_string()));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn read_compose() -> BTreeMap<String, Service> {
    let text = std::fs::read_to_string(workspace_root().join("deploy/compose.yaml")).expect("deploy/compose.yaml");
    let mut document: Value = serde_norway::from_str(&text).expect("deploy/compose.yaml is YAML");
    document.apply_merge().expect("the merge keys of deploy/compose.yaml");
    let services = document["services"].as_mapping().expect("services");
    services
        .iter()
        .map(|(name, s)| {
            let name = scalar(name);
            let environment = match s.get("environment") {
                None => BTreeMap::new(),
                Some(Value::Mapping(m)) => m.iter().map(|(k, v)| (scalar(k), interpolate(&scalar(v)))).collect(),
                Some(Value::Sequence(items)) => items
                    .iter()
                    .map(|i| {
                        let pair = scalar(i);
                        let (k, v) = pair.split_once('=').expect("K=V");
                        (k.to_string(), interpolate(v))
                    })
                    .collect(),
                Some(other) => panic!("{name}: environment {other:?}"),
            };
            let volumes = strings(s.get("volumes"))
                .into_iter()
                .map(|v| {
                    let mut parts = v.split(':');
                    let source = parts.next().unwrap().to_string();
                    let target = parts.next().unwrap_or_else(|| panic!("{name}: volume {v}")).to_string();
                    (source, target)
                })
                .collect();
            let service = Service {
                image: s.get("image").map(scalar).unwrap_or_default(),
                dockerfile: s.get("build").and_then(|b| b.get("dockerfile")).map(scalar),
                command: strings(s.get("command")),
                environment,
                volumes,
                ports: strings(s.get("ports")),
                depends_on: strings(s.get("depends_on")),
                name: name.clone(),
            };
            (name, service)
        })
        .collect()
}

/// The `upstream` servers of deploy/nginx.conf: (host, port, the rest of the line).
fn nginx_upstreams(conf: &str) -> Vec<(String, u16, String)> {
    let mut servers = Vec::new();
    let mut inside = false;
    for line in conf.lines().map(str::trim) {
        if line.starts_with("upstream ") && line.ends_with('{') {
            inside = true;
        } else if inside && line == "}" {
            inside = false;
        } else if inside {
            if let Some(rest) = line.strip_prefix("server ") {
                let (address, params) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                let address = address.trim_end_matches(';');
                let (host, port) = address.rsplit_once(':').expect("server HOST:PORT");
                servers.push((host.to_string(), port.parse().unwrap(), params.to_string()));
            }
        }
    }
    servers
}

fn port_of(listen: &str) -> u16 {
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

/// Where the layout's volumes are on this machine: container path → folder of the test.
struct Mounts(Vec<(String, PathBuf)>);

impl Mounts {
    /// The machine's path of a container path, by the longest mount it is under.
    fn map(&self, path: &str) -> Option<PathBuf> {
        self.0
            .iter()
            .filter(|(at, _)| path == at || path.starts_with(&format!("{at}/")))
            .max_by_key(|(at, _)| at.len())
            .map(|(at, host)| {
                let rest = path[at.len()..].trim_start_matches('/');
                if rest.is_empty() {
                    host.clone()
                } else {
                    host.join(rest)
                }
            })
    }

    /// A text (a configuration file) with every container path under a mount replaced.
    fn rewrite(&self, text: &str) -> String {
        let mut mounts: Vec<&(String, PathBuf)> = self.0.iter().collect();
        mounts.sort_by_key(|(at, _)| std::cmp::Reverse(at.len()));
        // Placeholders first, so that a replaced path is not replaced again by a shorter mount.
        let mut out = text.to_string();
        for (i, (at, _)) in mounts.iter().enumerate() {
            out = out.replace(at.as_str(), &format!("\u{1}{i}\u{1}"));
        }
        for (i, (_, host)) in mounts.iter().enumerate() {
            out = out.replace(&format!("\u{1}{i}\u{1}"), &host.display().to_string());
        }
        out
    }
}

/// A process of the layout, its log kept and shown when the test fails.
struct Logs(Vec<(String, PathBuf)>);

impl Drop for Logs {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for (name, path) in &self.0 {
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(30).collect();
                eprintln!(
                    "--- {name} ({}):\n{}",
                    path.display(),
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
        }
    }
}

/// nginx started in the foreground; stopped with SIGTERM (its workers with it) when dropped.
struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        unsafe {
            libc::kill(self.0.id() as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn nginx_binary() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .expect("nginx is installed (Debian package nginx; tests/run.sh installs it)")
}

/// deploy/nginx.conf for this machine: the upstream servers at the instances' loopback addresses,
/// listening on `listen`, its files in `dir`.
fn local_nginx_conf(conf: &str, upstreams: &BTreeMap<String, String>, listen: &str, dir: &Path) -> String {
    let mut out = format!("pid {0}/nginx.pid;\nerror_log {0}/error.log warn;\n", dir.display());
    if unsafe { libc::geteuid() } == 0 {
        // The test's folders are the root user's own.
        out.push_str("user root;\n");
    }
    for line in conf.lines() {
        let trimmed = line.trim();
        if ["pid ", "error_log ", "access_log ", "user "]
            .iter()
            .any(|d| trimmed.starts_with(d))
        {
            continue;
        }
        if let Some(rest) = trimmed.strip_prefix("server ").filter(|r| !r.starts_with('{')) {
            let address = rest.split_whitespace().next().unwrap().trim_end_matches(';');
            let host = address.rsplit_once(':').unwrap().0;
            let local = &upstreams[host];
            out.push_str(&line.replacen(address, local, 1));
        } else if let Some(port) = trimmed.strip_prefix("listen ") {
            out.push_str(&line.replacen(port.trim_end_matches(';'), listen, 1));
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if trimmed == "http {" {
            out.push_str(&format!("    access_log {0}/access.log;\n", dir.display()));
            for temp in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
                out.push_str(&format!("    {temp}_temp_path {}/{temp};\n", dir.display()));
            }
        }
    }
    out
}

#[test]
fn instances_of_the_compose_layout_fail_over_behind_nginx() {
    let compose = read_compose();
    let deploy = workspace_root().join("deploy");
    let is_ipra = |s: &Service| s.dockerfile.as_deref() == Some("packaging/oci/Containerfile");
    let kind = |s: &Service| {
        if is_ipra(s) {
            s.command.first().cloned().expect("an ipra service names its command")
        } else if s.image.starts_with("postgres") {
            "postgres".into()
        } else if s.image.starts_with("nginx") {
            "nginx".into()
        } else {
            panic!(
                "service {} of deploy/compose.yaml is unknown to this test: {s:?}",
                s.name
            )
        }
    };
    let serving: Vec<&Service> = compose
        .values()
        .filter(|s| is_ipra(s) && s.command == ["serve"])
        .collect();
    assert!(
        (2..=3).contains(&serving.len()),
        "two or three instances: {:?}",
        serving.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let postgres = compose
        .values()
        .find(|s| kind(s) == "postgres")
        .expect("a postgres service");

    // The image the ipra services run: its entrypoint, environment and configuration file.
    let stage = packaging::final_stage();
    let entrypoint = packaging::exec_form(&stage, "ENTRYPOINT");
    let image_environment = packaging::environment(&stage);
    assert_eq!(entrypoint[0], "/usr/bin/ipra", "the image's entrypoint is the binary");

    // One database, one data directory, one exchange folder for every instance.
    let env = Env::new(Backend::Postgres);
    let shared: BTreeSet<(String, String, String)> = serving
        .iter()
        .map(|s| {
            let var = |k: &str| s.environment.get(k).cloned().unwrap_or_default();
            (
                var("IPRA_DATABASE_URL"),
                var("IPRA_DATA_DIR"),
                var("IPRA_EXCHANGE_ROOT"),
            )
        })
        .collect();
    assert_eq!(
        shared.len(),
        1,
        "the instances share one database and folders: {shared:?}"
    );
    let (database_url, data_dir, exchange_root) = shared.into_iter().next().unwrap();
    let database_host = database_url
        .split_once('@')
        .and_then(|(_, rest)| rest.split([':', '/']).next())
        .expect("postgres://USER:PASSWORD@HOST…");
    assert_eq!(
        database_host, postgres.name,
        "the instances use the compose's PostgreSQL"
    );
    assert!(!exchange_root.is_empty(), "the exchange root is set for all");

    // Volumes: the one mounted at the data directory is the test's data directory (the CLI of
    // the checks uses it too), the others folders of the test; a volume mounted inside another
    // is linked there, as the mount shows it inside the container.
    let mut mounts = Vec::new();
    for (source, target) in serving.iter().flat_map(|s| s.volumes.iter()) {
        if mounts.iter().any(|(at, _): &(String, PathBuf)| at == target) {
            continue;
        }
        assert!(
            !source.starts_with('.') && !source.starts_with('/'),
            "named volumes: {source}"
        );
        let host = if *target == data_dir {
            env.data_dir()
        } else {
            env.dir.path().join("volumes").join(source)
        };
        std::fs::create_dir_all(&host).unwrap();
        mounts.push((target.clone(), host));
    }
    for (at, host) in &mounts {
        for (outer, outer_host) in &mounts {
            if at != outer && at.starts_with(&format!("{outer}/")) {
                let link = outer_host.join(at[outer.len()..].trim_start_matches('/'));
                std::fs::create_dir_all(link.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(host, &link).unwrap();
            }
        }
    }
    let mounts = Mounts(mounts);
    assert!(
        mounts.map(&data_dir).is_some(),
        "the data directory {data_dir} is a volume"
    );
    let exchange = mounts
        .map(&exchange_root)
        .unwrap_or_else(|| panic!("the exchange root {exchange_root} is a shared volume"));

    // The image's files, as the instances see them: the binary, the configuration file.
    let config_in_image = image_environment.get("IPRA_CONFIG").expect("IPRA_CONFIG in the image");
    let config_source = packaging::copied_from_context(&stage, config_in_image)
        .unwrap_or_else(|| panic!("{config_in_image} is copied into the image"));
    let config = env.dir.path().join("ipra.toml");
    std::fs::write(
        &config,
        mounts.rewrite(&std::fs::read_to_string(&config_source).unwrap()),
    )
    .unwrap();
    let image_file = |path: &str| -> Option<String> {
        if path == "/usr/bin/ipra" {
            Some(env!("CARGO_BIN_EXE_ipra").to_string())
        } else if path == config_in_image {
            Some(config.display().to_string())
        } else {
            mounts.map(path).map(|p| p.display().to_string())
        }
    };

    let logs_dir = env.dir.path().join("logs");
    std::fs::create_dir_all(&logs_dir).unwrap();
    let mut logs = Logs(Vec::new());
    let ipra_command = |service: &Service, listen: Option<&str>, log: &Path| {
        let argv: Vec<String> = entrypoint.iter().chain(service.command.iter()).cloned().collect();
        let mut cmd = Command::new(image_file(&argv[0]).unwrap());
        for arg in &argv[1..] {
            cmd.arg(if arg.starts_with('/') {
                image_file(arg).unwrap_or_else(|| panic!("{arg}: a path of the container outside its volumes"))
            } else {
                arg.clone()
            });
        }
        for (name, _) in std::env::vars().filter(|(k, _)| k.starts_with("IPRA_")) {
            cmd.env_remove(name);
        }
        let environment = image_environment.iter().chain(service.environment.iter());
        for (name, value) in environment {
            let value = if name == "IPRA_DATABASE_URL" {
                env.database.clone().unwrap()
            } else if let (Some(listen), "IPRA_SERVER_LISTEN") = (listen, name.as_str()) {
                listen.to_string()
            } else if value.starts_with('/') {
                image_file(value).unwrap_or_else(|| panic!("{name}={value}: a path outside the volumes"))
            } else {
                value.clone()
            };
            cmd.env(name, value);
        }
        // The harness's own: the compiled plugins of the test run, a fast tick, a short claim
        // lease (a killed instance's documents are taken again sooner), the tests' date.
        cmd.env("IPRA_PLUGIN_CACHE", workspace_root().join("target/test-plugin-cache"))
            .env("IPRA_SERVER_TICK_MS", "100")
            .env("IPRA_EXCHANGE_LEASE_SECONDS", "3")
            .env("IPRA_TODAY", common::TODAY)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(log).unwrap())
            .stderr(std::fs::File::create(log.with_extension("err")).unwrap());
        cmd
    };

    // Start in the order of depends_on: PostgreSQL (the test's), the one-shot migration, the
    // instances, nginx.
    let mut order: Vec<&Service> = Vec::new();
    while order.len() < compose.len() {
        let before = order.len();
        for service in compose.values() {
            if !order.iter().any(|s| s.name == service.name)
                && service.depends_on.iter().all(|d| order.iter().any(|s| &s.name == d))
            {
                order.push(service);
            }
        }
        assert!(order.len() > before, "depends_on has a cycle");
    }
    let demo = env.dir.path().join("demo");
    env.run_ok(&["demo", "--count", "24", "--seed", "11", "--out", demo.to_str().unwrap()]);
    let mut instances = Vec::new();
    let mut names: Vec<(String, Option<String>)> = Vec::new();
    let mut upstreams = BTreeMap::new();
    let mut nginx = None;
    let mut front = String::new();
    let nginx_conf_text = std::fs::read_to_string(deploy.join("nginx.conf")).unwrap();
    for service in order {
        match kind(service).as_str() {
            "postgres" => {}
            "migrate" => {
                let log = logs_dir.join(format!("{}.log", service.name));
                logs.0.push((service.name.clone(), log.with_extension("err")));
                let status = ipra_command(service, None, &log).status().unwrap();
                assert!(status.success(), "{}: {status}", service.name);
                // Of the jobs only the FRI inbox runs, every second; a user to log in through nginx.
                env.only_job_every_second(Some("fri-inbox"));
                env.add_user("coordinator", "coordinator", None, "correct horse battery");
            }
            "serve" => {
                let listen = service
                    .environment
                    .get("IPRA_SERVER_LISTEN")
                    .or(image_environment.get("IPRA_SERVER_LISTEN"))
                    .expect("IPRA_SERVER_LISTEN");
                let addr = common::free_addr();
                upstreams.insert(service.name.clone(), (port_of(listen), addr.clone()));
                let log = logs_dir.join(format!("{}.log", service.name));
                logs.0.push((service.name.clone(), log.with_extension("err")));
                let child = ipra_command(service, Some(&addr), &log).spawn().unwrap();
                instances.push(failover::Instance { addr, child });
                names.push((
                    service.name.clone(),
                    service.environment.get("IPRA_SERVER_INSTANCE").cloned(),
                ));
            }
            "nginx" => {
                // Its configuration is deploy/nginx.conf; its upstreams are exactly the instances.
                let (source, _) = service
                    .volumes
                    .iter()
                    .find(|(_, target)| target == "/etc/nginx/nginx.conf")
                    .expect("nginx.conf mounted");
                assert_eq!(
                    deploy.join(source).canonicalize().unwrap(),
                    deploy.join("nginx.conf").canonicalize().unwrap()
                );
                let listed = nginx_upstreams(&nginx_conf_text);
                let hosts: BTreeSet<&String> = listed.iter().map(|(h, _, _)| h).collect();
                let serving_names: BTreeSet<&String> = serving.iter().map(|s| &s.name).collect();
                assert_eq!(
                    hosts, serving_names,
                    "nginx passes requests to every instance, and only to them"
                );
                for (host, port, params) in &listed {
                    assert_eq!(
                        *port, upstreams[host].0,
                        "{host}: nginx and the instance agree on the port"
                    );
                    assert!(
                        params.contains("max_fails"),
                        "{host}: a failed instance is left alone: {params}"
                    );
                }
                let published = service.ports.first().expect("nginx publishes one address");
                let inner = published.rsplit(':').next().unwrap();
                assert!(
                    nginx_conf_text.contains(&format!("listen {inner};")),
                    "nginx listens on the published port {inner}"
                );
                let dir = env.dir.path().join("nginx");
                std::fs::create_dir_all(&dir).unwrap();
                front = common::free_addr();
                let local: BTreeMap<String, String> = upstreams
                    .iter()
                    .map(|(h, (_, addr))| (h.clone(), addr.clone()))
                    .collect();
                std::fs::write(
                    dir.join("nginx.conf"),
                    local_nginx_conf(&nginx_conf_text, &local, &front, &dir),
                )
                .unwrap();
                let nginx_command = || {
                    let mut cmd = Command::new(nginx_binary());
                    cmd.arg("-p")
                        .arg(&dir)
                        .arg("-c")
                        .arg(dir.join("nginx.conf"))
                        .arg("-e")
                        .arg(dir.join("error.log"))
                        .args(["-g", "daemon off;"])
                        .stdin(Stdio::null());
                    cmd
                };
                let test = nginx_command().arg("-t").output().unwrap();
                assert!(
                    test.status.success(),
                    "nginx -t: {}",
                    String::from_utf8_lossy(&test.stderr)
                );
                logs.0.push(("nginx".into(), dir.join("error.log")));
                nginx = Some(Nginx(nginx_command().stdout(Stdio::null()).spawn().unwrap()));
                let deadline = Instant::now() + Duration::from_secs(20);
                while std::net::TcpStream::connect(&front).is_err() {
                    assert!(Instant::now() < deadline, "nginx did not listen on {front}");
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            other => panic!("service {}: command {other} is unknown to this test", service.name),
        }
    }
    assert!(nginx.is_some(), "nginx in front");

    // Every instance is up, under the name the compose file gives it.
    let deadline = Instant::now() + Duration::from_secs(240);
    for (instance, (service, name)) in instances.iter().zip(names.iter()) {
        let health = loop {
            if let Some(health) = failover::health(&instance.addr) {
                break health;
            }
            assert!(Instant::now() < deadline, "{service} did not answer");
            std::thread::sleep(Duration::from_millis(200));
        };
        if let Some(name) = name {
            // `name@host:pid`: the compose's name, the process still known by its id.
            let said = health["instance"].as_str().unwrap_or_default();
            assert!(said.starts_with(&format!("{name}@")), "{service}: {said}");
        }
        assert_eq!(health["database"], "postgres", "{service}: {health}");
    }
    let ready = common::http(&front, "GET", "/api/v1/ready", &[], None);
    assert_eq!(ready.status, 200, "ready through nginx: {}", ready.body);
    // A session opened through nginx holds on whichever instance serves the next request.
    let (cookie, _) = common::login(&front, "coordinator", "correct horse battery");
    for i in 0..3 * instances.len() {
        let page = common::http(&front, "GET", "/api/v1/ipras", &[("Cookie", &cookie)], None);
        assert_eq!(
            page.status, 200,
            "request {i} of the session through nginx: {}",
            page.body
        );
    }

    let mut documents: Vec<PathBuf> = std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()).collect();
    documents.sort();
    let mut layout = failover::Layout {
        env: &env,
        instances,
        inbox: exchange.join("fri/inbox"),
        front: Some(front.clone()),
    };
    let takeover = failover::leader_failover(
        &mut layout,
        &failover::Plan {
            documents: &documents,
            at_kill: 4,
            after: 4,
        },
    );
    eprintln!(
        "{} instances behind nginx: leadership taken over in {} ms",
        serving.len(),
        takeover.as_millis()
    );
    drop(nginx);
    // The logs' hash chains hold across the instances that wrote them.
    let verified = env.ok(&["audit", "verify", "--json"]);
    assert_eq!(verified["ok"], true, "{verified}");
    drop(logs);
}
