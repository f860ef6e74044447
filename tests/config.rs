//! One configuration file, `ipra.toml`: the real binary started from it, the environment and the
//! flags over it, every problem named by its key, secrets masked, the older `signing.toml` still
//! read with a warning, and the signing and exchange sections carrying a report to the outbox.

mod common;

use common::{gost_key, http, Backend, Env};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Stdio;

fn write(env: &Env, name: &str, text: &str) -> PathBuf {
    let path = env.dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `ipra --config FILE serve …`: the address the server printed, and the child.
fn serve(env: &Env, config: &Path, vars: &[(&str, &str)], args: &[&str]) -> (common::Server, String) {
    let mut cmd = env.ipra();
    cmd.arg("--config").arg(config).arg("serve").args(args);
    for (name, value) in vars {
        cmd.env(name, value);
    }
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("ipra serve");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (
        common::Server {
            child,
            addr: addr.clone(),
        },
        addr,
    )
}

#[test]
fn the_server_runs_from_the_file_and_the_environment_and_flags_win() {
    let env = Env::new(Backend::Sqlite);
    let first = common::free_addr();
    let config = write(
        &env,
        "ipra.toml",
        &format!(
            "data_dir = \"{}\"\ntime_zone = \"Asia/Yekaterinburg\"\n\n[server]\nlisten = \"{first}\"\n\
             instance = \"primary\"\nscheduler = false\nstatement_timeout_ms = 5000\n\n[log]\nlevel = \"warn\"\n",
            env.data_dir().display()
        ),
    );
    let check = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
    assert!(text(&check.stdout).contains("настройки в порядке"));

    // The file's address and instance name.
    let (server, addr) = serve(&env, &config, &[], &[]);
    assert_eq!(addr, first);
    let health = http(&addr, "GET", "/api/v1/health", &[], None).json();
    assert!(health["instance"].as_str().unwrap().starts_with("primary@"), "{health}");
    assert_eq!(health["scheduler_leader"], false, "scheduler = false: {health}");
    drop(server);

    // The environment wins over the file; a flag wins over both.
    let second = common::free_addr();
    let (server, addr) = serve(&env, &config, &[("IPRA_SERVER_LISTEN", &second)], &[]);
    assert_eq!(addr, second);
    drop(server);
    let third = common::free_addr();
    let (server, addr) = serve(&env, &config, &[("IPRA_SERVER_LISTEN", &second)], &["--listen", &third]);
    assert_eq!(addr, third);
    drop(server);

    // What is in force, and where each override came from.
    let show = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .env("IPRA_SERVER_LISTEN", &second)
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown = text(&show.stdout);
    assert!(show.status.success(), "{shown}{}", text(&show.stderr));
    assert!(shown.contains(&format!("listen = \"{second}\"")), "{shown}");
    assert!(
        shown.contains("server.listen — из переменной окружения IPRA_SERVER_LISTEN"),
        "{shown}"
    );
    assert!(shown.contains("time_zone = \"Asia/Yekaterinburg\""), "{shown}");
    assert!(
        shown.contains("shutdown_grace_ms = 10000"),
        "the defaults in force: {shown}"
    );
}

#[test]
fn every_problem_is_named_by_its_key_and_stops_the_server() {
    let env = Env::new(Backend::Sqlite);
    // A syntax problem: the line and the key with its table.
    let config = write(
        &env,
        "typo.toml",
        "[server]\nlisten = \"127.0.0.1:0\"\nlisten_port = 8080\n",
    );
    let out = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .args(["config", "check"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = text(&out.stderr);
    assert!(
        said.contains("строка 3: неизвестный ключ «server.listen_port» (допустимы: listen,"),
        "{said}"
    );

    // Values: every one listed at once by `config check`, each with its key.
    let config = write(
        &env,
        "values.toml",
        "time_zone = \"Europe/Moskva\"\ndatabase = \"mysql://ipra@db/ipra\"\n[server]\nlisten = \"everywhere\"\n\
         [log]\nformat = \"xml\"\n[plugins]\nmemory_mib = 0\n\
         [signing.organisations.1027700000001]\nprovider = \"gost\"\nkey = \"/nonexistent/key.pem\"\ncertificate = \"/nonexistent/cert.pem\"\n\
         [oidc]\nissuer = \"http://sso.example.ru\"\nclient_id = \"ipra\"\nredirect_uri = \"https://ipra.example.ru/login/oidc/callback\"\n",
    );
    let (code, report) = env.run_json(&["--config", config.to_str().unwrap(), "config", "check", "--json"]);
    assert_eq!(code, 1, "{report}");
    let keys: Vec<&str> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    for key in [
        "time_zone",
        "database",
        "server.listen",
        "log.format",
        "plugins.memory_mib",
        "signing.organisations.1027700000001.key",
        "signing.organisations.1027700000001.certificate",
        "oidc",
    ] {
        assert!(keys.contains(&key), "{key} missing from {report}");
    }
    // The server does not start on them, and says why in Russian.
    let out = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .args(["serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = text(&out.stderr);
    assert!(said.contains("не приняты"), "{said}");
    assert!(said.contains("server.listen: «everywhere» — не адрес"), "{said}");

    // A value of the environment that does not parse names the variable and its key.
    let out = env
        .ipra()
        .env("IPRA_SERVER_TICK_MS", "often")
        .args(["deadlines"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out.stderr)
            .contains("IPRA_SERVER_TICK_MS=«often»: ожидается целое положительное число (ключ server.tick_ms)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn secrets_are_masked_and_the_database_may_come_from_a_variable() {
    let env = Env::new(Backend::Sqlite);
    let config = write(
        &env,
        "ipra.toml",
        "database = \"postgres://ipra:s3cr3t-pw@db.example.ru/ipra\"\n[oidc]\nissuer = \"https://sso.example.ru\"\n\
         client_id = \"ipra\"\nclient_secret = \"hunter2-client\"\nredirect_uri = \"https://ipra.example.ru/login/oidc/callback\"\n",
    );
    let out = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(out.status.success(), "{shown}{}", text(&out.stderr));
    assert!(
        !shown.contains("s3cr3t-pw") && !shown.contains("hunter2-client"),
        "{shown}"
    );
    assert!(shown.contains("client_secret = \"***\""), "{shown}");

    // database_env keeps the password out of the file; an unset variable is a problem named.
    let config = write(&env, "env.toml", "database_env = \"IPRA_TEST_DB_URL\"\n");
    let (code, report) = env.run_json(&["--config", config.to_str().unwrap(), "config", "check", "--json"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["problems"][0]["key"], "database_env", "{report}");
    let out = env
        .ipra()
        .arg("--config")
        .arg(&config)
        .env("IPRA_TEST_DB_URL", "postgres://ipra:other-pw@db.example.ru/ipra")
        .args(["config", "show"])
        .output()
        .unwrap();
    let shown = text(&out.stdout);
    assert!(
        shown.contains("database = \"postgres://ipra:***@db.example.ru/ipra\""),
        "{shown}"
    );
}

/// The signing section and the exchange root of the file carry a signed report to the outbox the
/// file names; the older signing.toml is still read, with a warning.
fn signing_and_exchange_from_the_file(backend: Backend) {
    let env = Env::new(backend);
    let orgs = env.directory();
    let (_, report) = env.reported_ipra("extract_4.xml", &orgs);
    let (key, cert) = gost_key(env.dir.path(), "minsoc");
    let exchange_root = env.dir.path().join("shared-exchange");
    let config = write(
        &env,
        "ipra.toml",
        &format!(
            "[exchange]\nroot = \"{}\"\n\n[signing.organisations.\"{}\"]\nprovider = \"gost\"\nkey = \"{}\"\ncertificate = \"{}\"\n",
            exchange_root.display(),
            orgs["region"],
            key.display(),
            cert.display()
        ),
    );
    let with_config = |args: &[&str]| {
        let out = env.ipra().arg("--config").arg(&config).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    };
    with_config(&["sign", "report", &report.to_string(), "--json"]);
    with_config(&["jobs", "run", "fri-outbox", "--json"]);
    let sent: Vec<String> = std::fs::read_dir(exchange_root.join("fri/outbox"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        sent.len(),
        2,
        "document and signature in the file's exchange root: {sent:?}"
    );
    assert!(
        !env.data_dir().join("exchange/fri/outbox").exists()
            || std::fs::read_dir(env.data_dir().join("exchange/fri/outbox"))
                .unwrap()
                .next()
                .is_none(),
        "nothing in the default folder"
    );

    // The older file of the data directory: read as before, with a warning naming the new place.
    env.write_signing_config(&orgs["region"], &key, &cert);
    let second = env.reported_ipra("extract-20211124093406.xml", &orgs).1;
    let out = env.run(&["sign", "report", &second.to_string(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr)
            .contains("signing.toml устарел: он ещё читается, но перенесите его содержимое в раздел [signing]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn signing_and_exchange_from_the_file_sqlite() {
    signing_and_exchange_from_the_file(Backend::Sqlite);
}

#[test]
fn signing_and_exchange_from_the_file_postgres() {
    signing_and_exchange_from_the_file(Backend::Postgres);
}
