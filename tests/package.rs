//! The packages: the Debian package built from the binary by packaging/deb/build.sh, installed into
//! a clean Debian root made by debootstrap and started there as its systemd unit would start it;
//! the unit's hardening; the container image's definition (packaging/oci/Containerfile) agreeing
//! with the package, and its health check run against a real server.
//!
//! The install test needs root (chroot, mounts) and a Debian mirror (the machine's own APT source,
//! or IPRA_DEBIAN_MIRROR). It fails, saying why, when it cannot make the root; IPRA_SKIP_PACKAGE_TEST=1
//! skips it knowingly. The pristine root is kept as a tarball in target/package-test/, so a rerun
//! does not download it again.

mod common;

use common::packaging::{self, unit_values};
use common::{http, workspace_root, Backend, Env};
use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_ipra");

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The version the binary reports (`ipra 0.2.0` → `0.2.0`).
fn binary_version() -> String {
    let out = run(Command::new(BINARY).arg("--version"));
    stdout(&out)
        .split_whitespace()
        .nth(1)
        .expect("ipra --version prints a version")
        .to_string()
}

/// packaging/deb/build.sh on the debug binary (fast compression: the test throws it away).
fn build_deb(outdir: &Path) -> PathBuf {
    let out = run(Command::new("bash")
        .arg(workspace_root().join("packaging/deb/build.sh"))
        .arg(BINARY)
        .arg(outdir)
        .env("IPRA_DEB_COMPRESSION", "gzip")
        .env("IPRA_DEB_LEVEL", "1"));
    let deb = PathBuf::from(stdout(&out).trim());
    assert!(deb.is_file(), "build.sh printed {deb:?}");
    deb
}

fn unit_source() -> BTreeMap<String, Vec<(String, String)>> {
    packaging::unit(&std::fs::read_to_string(workspace_root().join("packaging/deb/ipra.service")).unwrap())
}

fn config_source() -> toml::Value {
    toml::from_str(&std::fs::read_to_string(workspace_root().join("packaging/ipra.toml")).unwrap())
        .expect("packaging/ipra.toml is TOML")
}

/// `30s`, `1min`, `90` (seconds) → a duration.
fn systemd_seconds(value: &str) -> u64 {
    if let Some(n) = value.strip_suffix("min") {
        n.trim().parse::<u64>().unwrap() * 60
    } else {
        value.trim_end_matches('s').trim().parse().unwrap()
    }
}

/// The package: version of the binary, Depends of what it links, the configuration a conffile
/// readable only by root and the service's group, the unit and the binary in place.
#[test]
fn the_debian_package_is_built_from_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let field = |name: &str| {
        stdout(&run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(name)))
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "ipra");
    assert_eq!(field("Version"), format!("{}-1", binary_version()));
    let depends = field("Depends");
    assert!(depends.contains("libc6 (>= "), "{depends}");
    assert!(depends.contains("adduser"), "{depends}");
    let recommends = field("Recommends");
    for signing in ["openssl", "libengine-gost-openssl"] {
        assert!(recommends.contains(signing), "{recommends}");
    }
    let conffiles = run(Command::new("dpkg-deb").arg("--info").arg(&deb).arg("conffiles"));
    assert_eq!(stdout(&conffiles).trim(), "/etc/ipra/ipra.toml");
    let contents = stdout(&run(Command::new("dpkg-deb").arg("-c").arg(&deb)));
    let entry = |path: &str| {
        contents
            .lines()
            .find(|l| l.ends_with(path))
            .unwrap_or_else(|| panic!("{path} not in the package:\n{contents}"))
            .to_string()
    };
    assert!(entry("./usr/bin/ipra").starts_with("-rwxr-xr-x root/root"));
    assert!(entry("./etc/ipra/ipra.toml").starts_with("-rw-r----- root/root"));
    assert!(entry("./lib/systemd/system/ipra.service").starts_with("-rw-r--r-- root/root"));
    entry("./usr/share/doc/ipra/copyright");
    entry("./usr/share/doc/ipra/changelog.Debian.gz");
}

/// The unit is hardened as the issue asks, and agrees with the configuration it starts with.
#[test]
fn the_unit_is_hardened() {
    let unit = unit_source();
    let one = |key: &str| {
        let values = unit_values(&unit, "Service", key);
        assert_eq!(values.len(), 1, "[Service] {key}: {values:?}");
        values[0].clone()
    };
    for (key, value) in [
        ("User", "ipra"),
        ("Group", "ipra"),
        ("StateDirectory", "ipra"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("NoNewPrivileges", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
        ("CapabilityBoundingSet", ""),
        ("SystemCallFilter", "@system-service"),
        ("Restart", "on-failure"),
        ("StandardError", "journal"),
        ("ExecStartPre", "/usr/bin/ipra --config /etc/ipra/ipra.toml migrate"),
        ("ExecStart", "/usr/bin/ipra --config /etc/ipra/ipra.toml serve"),
    ] {
        assert_eq!(one(key), value, "[Service] {key}");
    }
    // wasmtime maps the plugins' compiled code executable: MemoryDenyWriteExecute would stop them.
    assert!(unit_values(&unit, "Service", "MemoryDenyWriteExecute").is_empty());
    assert!(one("LimitNOFILE").parse::<u64>().unwrap() >= 4096);

    let config = config_source();
    let data_dir = config["data_dir"].as_str().unwrap();
    assert_eq!(
        data_dir, "/var/lib/ipra",
        "the data directory is the unit's StateDirectory"
    );
    assert_eq!(one("ReadWritePaths"), data_dir);
    assert_eq!(one("WorkingDirectory"), data_dir);
    let exchange = config["exchange"]["root"].as_str().unwrap();
    assert!(
        exchange.starts_with(data_dir),
        "the exchange root {exchange} is writable under ProtectSystem=strict"
    );
    let grace_ms = config["server"]["shutdown_grace_ms"].as_integer().unwrap() as u64;
    assert!(
        systemd_seconds(&one("TimeoutStopSec")) * 1000 > grace_ms,
        "systemd waits longer than the server's grace before it kills"
    );
    assert!(
        config["database"].as_str().unwrap().contains(data_dir),
        "the default SQLite file is in the data directory"
    );
    // The binary takes the file as it is shipped.
    run(Command::new(BINARY)
        .arg("--config")
        .arg(workspace_root().join("packaging/ipra.toml"))
        .args(["config", "check"])
        .env_remove("IPRA_DATA_DIR")
        .env_remove("IPRA_DATABASE_URL"));
}

/// The image and the package are one installation: the same binary and configuration paths, the
/// same configuration file, a non-root user, the data directory a volume; its health check works
/// with what the image has (bash), against a real server.
#[test]
fn the_container_image_agrees_with_the_package() {
    let stage = packaging::final_stage();
    let all = packaging::containerfile();
    let has = |keyword: &str| stage.iter().filter(|i| i.keyword == keyword).collect::<Vec<_>>();

    // Build: the toolchain of the workspace, with the plugins' target.
    let rust_version = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("rust-version = ")
                .map(|v| v.trim_matches('"').to_string())
        })
        .expect("rust-version in Cargo.toml");
    let build_from = &all.iter().find(|i| i.keyword == "FROM").unwrap().rest;
    assert!(
        build_from.contains(&format!("rust:{rust_version}")),
        "the build stage uses Rust {rust_version}: {build_from}"
    );
    let last_from = all.iter().rposition(|i| i.keyword == "FROM").unwrap();
    let build_runs: Vec<&str> = all[..last_from]
        .iter()
        .filter(|i| i.keyword == "RUN")
        .map(|i| i.rest.as_str())
        .collect();
    assert!(build_runs.iter().any(|r| r.contains("rustup target add wasm32-wasip2")));
    assert!(build_runs.iter().any(|r| r.contains("cargo build --release")));

    // Runtime: a user that is not root.
    let user = &has("USER").last().expect("a USER").rest;
    let name = user.split(':').next().unwrap();
    assert!(name != "root" && name != "0", "USER {user}");
    // The same paths as the package.
    let unit = unit_source();
    let exec_start: Vec<String> = unit_values(&unit, "Service", "ExecStart")[0]
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let entrypoint = packaging::exec_form(&stage, "ENTRYPOINT");
    assert_eq!(
        entrypoint,
        exec_start[..exec_start.len() - 1],
        "ENTRYPOINT is the unit's ExecStart"
    );
    assert_eq!(packaging::exec_form(&stage, "CMD"), ["serve"]);
    assert!(
        packaging::copies(&stage)
            .iter()
            .any(|(options, _, to)| to == "/usr/bin/ipra" && options.iter().any(|o| o == "--from=build")),
        "the binary is /usr/bin/ipra, built in the build stage"
    );
    assert_eq!(
        packaging::copied_from_context(&stage, "/etc/ipra/ipra.toml"),
        Some(workspace_root().join("packaging/ipra.toml")),
        "the image's configuration is the package's"
    );
    let config = config_source();
    let data_dir = config["data_dir"].as_str().unwrap();
    assert!(
        packaging::exec_form(&stage, "VOLUME").iter().any(|v| v == data_dir),
        "the data directory {data_dir} is a volume"
    );
    let environment = packaging::environment(&stage);
    assert_eq!(
        environment.get("IPRA_CONFIG").map(String::as_str),
        Some("/etc/ipra/ipra.toml")
    );
    let listen = environment
        .get("IPRA_SERVER_LISTEN")
        .expect("the image listens beyond loopback");
    let port = listen.rsplit(':').next().unwrap();
    assert!(
        has("EXPOSE")
            .iter()
            .any(|e| e.rest.split_whitespace().any(|p| p == port)),
        "EXPOSE {port}"
    );
    let ignore = std::fs::read_to_string(workspace_root().join(".dockerignore")).expect(".dockerignore");
    for excluded in ["target", ".git"] {
        assert!(
            ignore.lines().any(|l| l.trim() == excluded),
            ".dockerignore leaves out {excluded}"
        );
    }

    // The health check, as the image runs it: bash alone, against a real server, then a dead one.
    let healthcheck = &has("HEALTHCHECK").last().expect("a HEALTHCHECK").rest;
    assert!(healthcheck.contains("/api/v1/health"), "{healthcheck}");
    let command: Vec<String> = serde_json::from_str(
        healthcheck
            .split_once("CMD ")
            .map(|(_, c)| c)
            .unwrap_or_else(|| panic!("HEALTHCHECK … CMD [...]: {healthcheck}")),
    )
    .expect("the exec form");
    let env = Env::new(Backend::Sqlite);
    let server = env.serve(&[]);
    let check = |addr: &str| {
        Command::new(&command[0])
            .args(&command[1..])
            .env("IPRA_SERVER_LISTEN", addr)
            .stdin(Stdio::null())
            .output()
            .expect("the health check runs")
    };
    let alive = check(&server.addr);
    assert!(alive.status.success(), "healthy server: {alive:?}");
    let addr = server.addr.clone();
    drop(server);
    let dead = check(&addr);
    assert!(!dead.status.success(), "a stopped server is unhealthy");
}

// --- the install test ---------------------------------------------------------------------------

/// The Debian release of the root: this machine's (the binary's glibc is this machine's).
fn codename() -> String {
    let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let value = |key: &str| {
        release.lines().find_map(|l| {
            l.strip_prefix(&format!("{key}="))
                .map(|v| v.trim_matches('"').to_string())
        })
    };
    match (value("ID").as_deref(), value("VERSION_CODENAME")) {
        (Some("debian"), Some(codename)) if !codename.is_empty() => codename,
        _ => "bookworm".into(),
    }
}

/// The Debian mirror: IPRA_DEBIAN_MIRROR, else the machine's APT source of `codename` (deb822
/// `.sources` files and one-line `.list` files), else deb.debian.org.
fn debian_mirror(codename: &str) -> String {
    if let Ok(mirror) = std::env::var("IPRA_DEBIAN_MIRROR") {
        return mirror;
    }
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(entries) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        match file.extension().and_then(|e| e.to_str()) {
            Some("sources") => {
                for stanza in text.split("\n\n") {
                    let field = |name: &str| {
                        stanza.lines().find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            (k.trim().eq_ignore_ascii_case(name)).then(|| v.trim().to_string())
                        })
                    };
                    let enabled = field("Enabled").is_none_or(|v| v != "no");
                    let deb = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
                    let suite = field("Suites").is_some_and(|s| s.split_whitespace().any(|s| s == codename));
                    if let (true, true, true, Some(uris)) = (enabled, deb, suite, field("URIs")) {
                        if let Some(uri) = uris.split_whitespace().next() {
                            return uri.trim_end_matches('/').to_string();
                        }
                    }
                }
            }
            _ if file.to_string_lossy().ends_with(".list") => {
                for line in text.lines().map(str::trim) {
                    let Some(rest) = line.strip_prefix("deb ") else {
                        continue;
                    };
                    // `deb [options] URI SUITE COMPONENTS…`; the options may hold spaces.
                    let rest = match rest.trim_start().strip_prefix('[') {
                        Some(options) => options.split_once(']').map_or("", |(_, r)| r),
                        None => rest,
                    };
                    let words: Vec<&str> = rest.split_whitespace().collect();
                    if words.len() >= 2 && words[1] == codename {
                        return words[0].trim_end_matches('/').to_string();
                    }
                }
            }
            _ => {}
        }
    }
    "http://deb.debian.org/debian".into()
}

/// Where the pristine roots and the test roots live.
fn package_test_dir() -> PathBuf {
    let dir = workspace_root().join("target/package-test");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Mount points at or under `path`.
fn mounts_under(path: &Path) -> Vec<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split_whitespace().nth(4))
        .map(|p| PathBuf::from(p.replace("\\040", " ")))
        .filter(|p| p.starts_with(path))
        .collect()
}

/// A pristine Debian root as a tarball: made by debootstrap on first use, kept for reruns.
fn pristine_root(codename: &str) -> PathBuf {
    let dir = package_test_dir();
    let tarball = dir.join(format!("{codename}-minbase-systemd.tar"));
    if tarball.is_file() {
        return tarball;
    }
    let debootstrap = ["/usr/sbin/debootstrap", "/usr/bin/debootstrap"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("debootstrap is installed (Debian package debootstrap; tests/run.sh installs it)");
    let mirror = debian_mirror(codename);
    let target = dir.join(format!("debootstrap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&target);
    let started = Instant::now();
    // systemd too: the root is a Debian server, whose systemd-analyze checks the installed unit.
    let out = Command::new(debootstrap)
        .args(["--variant=minbase", "--include=systemd", codename])
        .arg(&target)
        .arg(&mirror)
        .output()
        .expect("debootstrap runs");
    if !out.status.success() {
        let log = std::fs::read_to_string(target.join("debootstrap/debootstrap.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(15).collect();
        if mounts_under(&target).is_empty() {
            let _ = std::fs::remove_dir_all(&target);
        }
        panic!(
            "debootstrap could not make a clean Debian {codename} root from {mirror} ({}):\n{}{}\n{}\n\
             The package test installs the .deb into such a root: give it a reachable mirror \
             (IPRA_DEBIAN_MIRROR=URL) or skip it knowingly with IPRA_SKIP_PACKAGE_TEST=1.",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    eprintln!(
        "debootstrap {codename} from {mirror}: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    run(Command::new("chroot").arg(&target).args(["apt-get", "clean"]));
    let partial = dir.join(format!("{codename}.tar.{}", std::process::id()));
    run(Command::new("tar")
        .args(["--numeric-owner", "-C"])
        .arg(&target)
        .args(["-cf"])
        .arg(&partial)
        .arg("."));
    std::fs::rename(&partial, &tarball).unwrap();
    if mounts_under(&target).is_empty() {
        std::fs::remove_dir_all(&target).unwrap();
    }
    tarball
}

/// A Debian root of this test, with /proc (and /dev when it has no device nodes) mounted;
/// unmounted and removed when dropped — never removed while anything is still mounted in it.
struct Root {
    path: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Root {
    fn new(tarball: &Path) -> Root {
        let path = package_test_dir().join(format!("root-{}", std::process::id()));
        if path.exists() {
            assert!(mounts_under(&path).is_empty(), "{} still has mounts", path.display());
            std::fs::remove_dir_all(&path).unwrap();
        }
        std::fs::create_dir_all(&path).unwrap();
        let mut root = Root {
            path,
            mounts: Vec::new(),
        };
        run(Command::new("tar")
            .args(["--numeric-owner", "-C"])
            .arg(&root.path)
            .arg("-xf")
            .arg(tarball));
        let proc = root.path.join("proc");
        run(Command::new("mount").args(["-t", "proc", "proc"]).arg(&proc));
        root.mounts.push(proc);
        let null = std::fs::metadata(root.path.join("dev/null"));
        if !null.is_ok_and(|m| m.file_type().is_char_device()) {
            let dev = root.path.join("dev");
            run(Command::new("mount").args(["--bind", "/dev"]).arg(&dev));
            root.mounts.push(dev);
        }
        root
    }

    /// A command run inside the root as root, with a plain environment.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.path)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        run(&mut self.command(args))
    }

    fn file(&self, path: &str) -> PathBuf {
        self.path.join(path.trim_start_matches('/'))
    }
}

impl Drop for Root {
    fn drop(&mut self) {
        for mount in self.mounts.iter().rev() {
            let ok = Command::new("umount").arg(mount).status().is_ok_and(|s| s.success());
            if !ok {
                let _ = Command::new("umount").arg("-l").arg(mount).status();
            }
        }
        let left = mounts_under(&self.path);
        if left.is_empty() {
            let _ = std::fs::remove_dir_all(&self.path);
        } else {
            eprintln!("{} kept: still mounted {left:?}", self.path.display());
        }
    }
}

/// A process started in the root, killed when dropped.
struct Started(std::process::Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A user of the root: (uid, gid, home, shell).
fn passwd(root: &Root, user: &str) -> Option<(u32, u32, String, String)> {
    let text = std::fs::read_to_string(root.file("/etc/passwd")).unwrap();
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 7 && f[0] == user).then(|| (f[2].parse().unwrap(), f[3].parse().unwrap(), f[5].into(), f[6].into()))
    })
}

fn group_id(root: &Root, group: &str) -> Option<u32> {
    let text = std::fs::read_to_string(root.file("/etc/group")).unwrap();
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() >= 3 && f[0] == group).then(|| f[2].parse().unwrap())
    })
}

fn wait_for_status(addr: &str, path: &str, child: &mut std::process::Child, log: &Path, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        if std::net::TcpStream::connect(addr).is_ok() {
            let response = http(addr, "GET", path, &[], None);
            if response.status == 200 {
                return;
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the service exited ({status}) before {path} answered 200:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{path} did not answer 200 within {within:?}:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The package in a clean Debian root: installed with its dependencies, its user and data
/// directory made, its unit verified by the root's systemd, the service started as the unit starts
/// it (migrate, then serve, as the user ipra) and answering, stopped cleanly by SIGTERM; removing
/// and purging it keep the register.
#[test]
fn the_debian_package_installs_and_serves_in_a_clean_root() {
    if std::env::var_os("IPRA_SKIP_PACKAGE_TEST").is_some() {
        eprintln!("skipped: IPRA_SKIP_PACKAGE_TEST is set");
        return;
    }
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "the package test installs into a chroot and needs root (or set IPRA_SKIP_PACKAGE_TEST=1)"
    );
    let total = Instant::now();
    let work = tempfile::tempdir_in(package_test_dir()).unwrap();
    let deb = build_deb(work.path());
    let codename = codename();
    let tarball = pristine_root(&codename);
    let root = Root::new(&tarball);
    std::fs::copy(&deb, root.file("/tmp/ipra.deb")).unwrap();

    // Install: dpkg, and APT for dependencies the root lacks.
    let install = root.command(&["dpkg", "-i", "/tmp/ipra.deb"]).output().unwrap();
    let mut said = stdout(&install) + &String::from_utf8_lossy(&install.stderr);
    if !install.status.success() {
        eprintln!("dpkg -i left dependencies to APT:\n{said}");
        root.run(&["apt-get", "update", "-qq"]);
        let fixed = root.run(&["apt-get", "install", "-f", "-y", "-qq", "--no-install-recommends"]);
        said += &stdout(&fixed);
    }
    let status = root.run(&["dpkg-query", "-W", "-f", "${Status}", "ipra"]);
    assert_eq!(stdout(&status), "install ok installed");
    assert!(
        said.contains("systemctl enable --now ipra"),
        "postinst tells what to do next: {said}"
    );

    // The user, its directory, the configuration's owner.
    let (uid, gid, home, shell) = passwd(&root, "ipra").expect("the user ipra");
    assert!(uid < 1000, "a system user: uid {uid}");
    assert_eq!(Some(gid), group_id(&root, "ipra"), "its own group");
    assert_eq!(home, "/var/lib/ipra");
    assert!(shell.ends_with("nologin"), "{shell}");
    let data = std::fs::metadata(root.file("/var/lib/ipra")).unwrap();
    assert_eq!((data.uid(), data.gid(), data.mode() & 0o7777), (uid, gid, 0o750));
    let config = std::fs::metadata(root.file("/etc/ipra/ipra.toml")).unwrap();
    assert_eq!((config.uid(), config.gid(), config.mode() & 0o7777), (0, gid, 0o640));

    // The unit, as shipped, verified by the root's own systemd; not enabled by the installation.
    let unit_text = std::fs::read_to_string(root.file("/lib/systemd/system/ipra.service")).unwrap();
    assert_eq!(
        unit_text,
        std::fs::read_to_string(workspace_root().join("packaging/deb/ipra.service")).unwrap()
    );
    assert!(!root
        .file("/etc/systemd/system/multi-user.target.wants/ipra.service")
        .exists());
    if root.file("/usr/bin/systemd-analyze").exists() {
        let verify = root
            .command(&["systemd-analyze", "verify", "/lib/systemd/system/ipra.service"])
            .output()
            .unwrap();
        assert!(
            verify.status.success() && verify.stdout.is_empty() && verify.stderr.is_empty(),
            "systemd-analyze verify: {}{}",
            stdout(&verify),
            String::from_utf8_lossy(&verify.stderr)
        );
        let security = root
            .command(&[
                "systemd-analyze",
                "security",
                "--offline=true",
                "/lib/systemd/system/ipra.service",
            ])
            .output()
            .unwrap();
        let text = stdout(&security);
        let exposure: f64 = text
            .lines()
            .find_map(|l| l.split("Overall exposure level for ipra.service:").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("systemd-analyze security: {text}"));
        eprintln!("systemd-analyze security: exposure {exposure}");
        assert!(
            exposure <= 2.0,
            "the unit's exposure level {exposure} (OK is below 2.0):\n{text}"
        );
    } else {
        eprintln!("systemd-analyze is not in the root: the unit is not verified");
    }

    // The service's user reads the configuration and finds nothing wrong in it.
    root.run(&[
        "chroot",
        &format!("--userspec={uid}:{gid}"),
        "/",
        "/usr/bin/ipra",
        "--config",
        "/etc/ipra/ipra.toml",
        "config",
        "check",
    ]);

    // Started as the unit starts it: its user, its environment, its working directory, its
    // ExecStartPre and ExecStart lines; the address on a free loopback port (IPRA_SERVER_LISTEN).
    let unit = packaging::unit(&unit_text);
    let service = |key: &str| unit_values(&unit, "Service", key);
    assert_eq!(
        (service("User"), service("Group")),
        (vec!["ipra".into()], vec!["ipra".into()])
    );
    let addr = common::free_addr();
    let mut environment: Vec<String> = vec![
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
        format!("HOME={home}"),
        "USER=ipra".into(),
        "LOGNAME=ipra".into(),
        format!("SHELL={shell}"),
    ];
    for assignments in service("Environment") {
        environment.extend(assignments.split_whitespace().map(str::to_string));
    }
    environment.push(format!("IPRA_SERVER_LISTEN={addr}"));
    let workdir = service("WorkingDirectory").pop().unwrap_or_else(|| "/".into());
    let as_unit = |line: &str| {
        assert!(!line.contains(['"', '\'', '$']), "a plain command line: {line}");
        // env_clear: the unit's environment is the one below, not the test's (hence chroot's full path).
        let mut cmd = Command::new("/usr/sbin/chroot");
        cmd.arg(format!("--userspec={uid}:{gid}"))
            .arg(format!("--groups={gid}"))
            .arg(&root.path)
            .args(["/usr/bin/env", "-i", "-C", &workdir])
            .args(&environment)
            .args(line.trim_start_matches(['-', '@', '+', '!', ':']).split_whitespace())
            .env_clear()
            .stdin(Stdio::null());
        cmd
    };
    for pre in service("ExecStartPre") {
        run(&mut as_unit(&pre));
    }
    let log = work.path().join("service.log");
    let started = Instant::now();
    let mut server = Started(
        as_unit(&service("ExecStart")[0])
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(work.path().join("service.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_status(&addr, "/api/v1/health", &mut server.0, &log, Duration::from_secs(180));
    eprintln!("the service answered in {:.1} s", started.elapsed().as_secs_f64());
    wait_for_status(&addr, "/api/v1/ready", &mut server.0, &log, Duration::from_secs(60));
    let health = http(&addr, "GET", "/api/v1/health", &[], None).json();
    assert_eq!(health["database"], "sqlite", "{health}");
    assert_eq!(health["version"], binary_version().as_str(), "{health}");
    let register = std::fs::metadata(root.file("/var/lib/ipra/ipra.sqlite")).expect("the register in /var/lib/ipra");
    assert_eq!(
        (register.uid(), register.gid()),
        (uid, gid),
        "written by the service's user"
    );

    // SIGTERM, as systemctl stop sends it: a clean exit within TimeoutStopSec.
    let stop_within = Duration::from_secs(systemd_seconds(&service("TimeoutStopSec")[0]));
    unsafe {
        libc::kill(server.0.id() as i32, libc::SIGTERM);
    }
    let stopping = Instant::now();
    let exit = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            stopping.elapsed() < stop_within,
            "the service did not stop within {stop_within:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "SIGTERM ends the service cleanly: {exit}");
    drop(server);

    // Removal keeps the register and the configuration; purge removes the user, not the register.
    root.run(&["dpkg", "-r", "ipra"]);
    assert!(!root.file("/usr/bin/ipra").exists());
    assert!(
        root.file("/var/lib/ipra/ipra.sqlite").is_file(),
        "dpkg -r keeps the register"
    );
    assert!(
        root.file("/etc/ipra/ipra.toml").is_file(),
        "dpkg -r keeps the configuration"
    );
    let purge = root.run(&["dpkg", "--purge", "ipra"]);
    let said = stdout(&purge) + &String::from_utf8_lossy(&purge.stderr);
    assert!(passwd(&root, "ipra").is_none(), "purge removes the user");
    assert!(group_id(&root, "ipra").is_none(), "purge removes the group");
    assert!(
        root.file("/var/lib/ipra/ipra.sqlite").is_file(),
        "purge keeps the register"
    );
    assert!(
        said.contains("/var/lib/ipra"),
        "purge says where the register stays: {said}"
    );
    assert!(
        !root.file("/etc/ipra/ipra.toml").exists(),
        "purge removes the configuration"
    );
    drop(root);
    eprintln!("package test: {:.1} s", total.elapsed().as_secs_f64());
}
