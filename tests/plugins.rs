//! Plugins end to end: listing and enablement that persists, manifests refused with a clear
//! message, and a sandbox in which a looping, hoarding or trapping plugin fails only its own call.

mod common;

use common::{Backend, Env};
use ipra_store::plugins::package;
use std::path::{Path, PathBuf};

/// The scheduler's job `name` (`ipra jobs list`), which must be there.
fn job(env: &Env, name: &str) -> serde_json::Value {
    let jobs = env.ok(&["jobs", "list", "--json"]);
    jobs.as_array()
        .unwrap_or_else(|| panic!("a list: {jobs}"))
        .iter()
        .find(|j| j["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("job {name} is started: {jobs}"))
}

/// Installs the misbehaving test plugin (built by build.rs, never embedded) into the data directory.
fn install_misbehave(env: &Env, tamper: impl Fn(String) -> String) -> PathBuf {
    install_test_plugin(env, "misbehave", tamper)
}

/// Installs a test plugin of `tests/plugins/` (built by build.rs, never embedded) as a vendor's
/// plugin is installed: its folder in the data directory.
fn install_test_plugin(env: &Env, id: &str, tamper: impl Fn(String) -> String) -> PathBuf {
    let staged = Path::new(env!("IPRA_TEST_PLUGIN_DIR"));
    let folder = env.data_dir().join("plugins").join(id);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(staged.join(format!("{id}.wasm")), folder.join(format!("{id}.wasm"))).unwrap();
    let manifest = std::fs::read_to_string(staged.join(format!("{id}.toml"))).unwrap();
    std::fs::write(folder.join("plugin.toml"), tamper(manifest)).unwrap();
    folder
}

#[test]
fn list_enable_disable_persist() {
    let env = Env::new(Backend::Sqlite);
    let (code, list) = env.run_json(&["plugins", "list", "--json"]);
    assert_eq!(code, 0);
    let fri = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "fri")
        .expect("fri listed");
    for key in ["id", "version", "kind", "api", "enabled"] {
        assert!(!fri[key].is_null(), "{key} in {fri}");
    }
    assert_eq!(fri["kind"], "connector");
    assert_eq!(fri["enabled"], true);

    assert!(env.run(&["plugins", "disable", "fri"]).status.success());
    let (_, list) = env.run_json(&["plugins", "list", "--json"]);
    assert_eq!(
        list.as_array().unwrap().iter().find(|p| p["id"] == "fri").unwrap()["enabled"],
        false
    );
    let out = env.run(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("отключён"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert!(env.run(&["plugins", "enable", "fri"]).status.success());
    let (code, _) = env.run_json(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
    let out = env.run(&["plugins", "enable", "no-such-plugin"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("не найден"));
}

#[test]
fn sandbox_contains_loops_hoarding_and_traps() {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| m);
    let (_, list) = env.run_json(&["plugins", "list", "--json"]);
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "misbehave")
        .expect("installed plugin listed");
    assert_eq!(entry["enabled"], false, "installed plugins wait for an administrator");
    assert!(env.run(&["plugins", "enable", "misbehave"]).status.success());

    let inbox = env.dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    for name in ["alloc", "loop", "ok", "stack", "trap"] {
        std::fs::write(inbox.join(name), b"x").unwrap();
    }
    let (code, report) = env.run_json(&["import", "--connector", "misbehave", inbox.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1);
    let code_of = |name: &str| {
        report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .map(|r| r["code"].as_str().unwrap().to_string())
    };
    assert_eq!(code_of("loop").as_deref(), Some("plugin-timeout"), "{report}");
    assert_eq!(code_of("alloc").as_deref(), Some("plugin-memory-limit"), "{report}");
    assert_eq!(code_of("trap").as_deref(), Some("plugin-trap"), "{report}");
    assert_eq!(code_of("stack").as_deref(), Some("plugin-trap"), "{report}");
    assert_eq!(code_of("ok"), None, "the good file went through: {report}");
    assert_eq!(report["files"], 5);

    // The real connector still works in the same installation afterwards.
    let (code, _) = env.run_json(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0);
}

#[test]
fn manifests_that_do_not_match_are_refused_with_a_reason() {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| {
        let (head, _) = m.split_once("sha256").unwrap();
        format!("{head}sha256 = \"{}\"\n", "0".repeat(64))
    });
    let out = env.run(&["plugins", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ОТКЛОНЁН misbehave"), "{text}");
    assert!(text.contains("SHA-256"), "{text}");
    let (_, list) = env.run_json(&["plugins", "list", "--json"]);
    assert!(list.as_array().unwrap().iter().all(|p| p["id"] != "misbehave"));

    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| m.replace("api = \"^1.0\"", "api = \"^2.0\""));
    let out = env.run(&["plugins", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("требует API ^2.0"), "{text}");
}

/// While the server runs, a scheduled step of a plugin that loops, hoards or traps fails only its
/// own run (recorded with the reason) and the server goes on answering.
#[test]
fn the_server_goes_on_serving_when_a_plugin_misbehaves() {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| m);
    assert!(env.run(&["plugins", "enable", "misbehave"]).status.success());
    env.only_job_every_second(None);
    for step in ["loop", "alloc", "trap"] {
        env.run_ok(&[
            "jobs",
            "add",
            &format!("bad-{step}"),
            "--kind",
            "plugin-step",
            "--schedule",
            "* * * * * *",
            "--settings",
            &format!("{{\"plugin\": \"misbehave\", \"step\": \"{step}\"}}"),
        ]);
    }
    let server = env
        .ipra()
        .args(["serve", "--listen", "127.0.0.1:0", "--tick-ms", "200"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = common::Server {
        addr: String::new(),
        child: server,
    };
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    server.addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        assert_eq!(
            common::http(&server.addr, "GET", "/api/v1/health", &[], None).status,
            200,
            "still serving"
        );
        let failed = env.scalar(
            "SELECT COUNT(DISTINCT job) FROM job_runs WHERE job LIKE 'bad-%' AND status IN ('retrying', 'failed')",
        );
        if failed == 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the misbehaving runs were not recorded"
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    drop(server);
    // The newest run may have been cut short by stopping the server; the failed ones say why.
    for (job, reason) in [
        ("bad-loop", "лимит времени"),
        ("bad-alloc", "лимит памяти"),
        ("bad-trap", "аварийно"),
    ] {
        let history = env.ok(&["jobs", "history", job, "--json"]);
        let found = history
            .as_array()
            .unwrap()
            .iter()
            .any(|run| run["errors"].to_string().contains(reason));
        assert!(found, "{job}: {history}");
    }
}

/// The scheduler knows a connector's jobs from its manifest only: an installed plugin that declares
/// a job gets it (with its label) once enabled, and a disabled connector's jobs are not started.
#[test]
fn jobs_come_from_the_manifests_of_enabled_plugins() {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| {
        format!(
            "{m}\n[[jobs]]\nname = \"vendor-report\"\nkind = \"plugin-step\"\nschedule = \"15 4 * * *\"\nlabel = \"Поставщик: выгрузка\"\nconfig = {{ plugin = \"misbehave\", step = \"report\" }}\n"
        )
    });
    assert!(env.run(&["plugins", "disable", "zags"]).status.success());
    let (code, jobs) = env.run_json(&["jobs", "list", "--json"]);
    assert_eq!(code, 0, "{jobs}");
    let names: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"fri-inbox") && names.contains(&"egisso-upload"),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("zags")),
        "a disabled connector's jobs: {names:?}"
    );
    assert!(
        !names.contains(&"vendor-report"),
        "not before the plugin is enabled: {names:?}"
    );
    let inbox = job(&env, "fri-inbox");
    assert_eq!(inbox["label"], "ФРИ: приём выписок и квитанций");
    assert_eq!(
        (inbox["kind"].as_str(), inbox["config"]["connector"].as_str()),
        (Some("inbox"), Some("fri"))
    );
    let outbox = job(&env, "fri-outbox");
    assert_eq!(
        (outbox["kind"].as_str(), outbox["config"]["connector"].as_str()),
        (Some("report-outbox"), Some("fri"))
    );

    assert!(env.run(&["plugins", "enable", "misbehave"]).status.success());
    let vendor = job(&env, "vendor-report");
    assert_eq!(vendor["kind"], "plugin-step");
    assert_eq!(vendor["schedule"], "15 4 * * *");
    assert_eq!(vendor["config"]["step"], "report");
}

/// A connector the host has never seen (`tests/plugins/death-notices`: a region's death notices as
/// CSV) is installed into the data directory and enabled; its manifest's inbox job is started, a
/// document dropped into its inbox is read by it, and the death it reports reaches the register —
/// the person's measures close — with no host code naming it. A line it refuses is kept on the
/// message. On SQLite and PostgreSQL.
#[test]
fn a_connector_the_host_never_saw_reaches_the_register() {
    for backend in common::BACKENDS {
        let env = Env::new(backend);
        install_test_plugin(&env, "death-notices", |m| m);
        notices_reach_the_register(&env);
    }
    // The host's code names no such connector: everything it knows of it came from the manifest.
    let root = common::workspace_root();
    let mut dirs: Vec<_> = common::HOST_SOURCE_DIRS.iter().map(|d| root.join(d)).collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                assert!(!text.contains("death-notices"), "{}", path.display());
            }
        }
    }
}

/// With the death-notices connector installed: it is enabled, its declared inbox job runs, a notice
/// closes the person's measures and the line it refuses stays on the message.
fn notices_reach_the_register(env: &Env) {
    env.ok(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let snils = env.text("SELECT snils FROM persons");
    let surname = env.text("SELECT surname FROM persons");
    let given = env.text("SELECT given_name FROM persons");
    let patronymic = env.text("SELECT COALESCE(patronymic, '') FROM persons");
    let birth = env.text("SELECT birth_date FROM persons");
    assert!(env.run(&["plugins", "enable", "death-notices"]).status.success());
    assert_eq!(job(env, "death-notices-inbox")["label"], "Извещения о смерти: приём");

    let inbox = env.data_dir().join("exchange/death-notices/inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(
        inbox.join("notices-2026-11.csv"),
        format!(
            "record_id;snils;surname;given_name;patronymic;birth_date;death_date\n\
             N-1;{snils};{surname};{given};{patronymic};{birth};2021-02-26\n\
             N-2;неполная строка\n"
        ),
    )
    .unwrap();
    let run = env.ok(&["jobs", "run", "death-notices-inbox", "--json"]);
    assert_eq!(run["counts"]["processed"], 1, "{run}");
    assert_eq!(env.death_statuses(), vec!["applied"]);
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM persons WHERE death_date = '2021-02-26'"),
        1
    );
    assert_eq!(env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'open'"), 0);
    let refused = env.text("SELECT refusals FROM exchange_messages WHERE connector = 'death-notices'");
    assert!(refused.contains("Строка 3"), "{refused}");
}

/// A component built against interface 1.0.0 (kept compiled under tests/fixtures: never rebuilt)
/// loads on this 1.1 host and works unchanged; the plugins list says which interface each
/// component was built for.
#[test]
fn a_plugin_built_for_interface_1_0_works_on_this_host() {
    for backend in common::BACKENDS {
        let env = Env::new(backend);
        let fixture = common::workspace_root().join("tests/fixtures/plugins/death-notices-1.0");
        let folder = env.data_dir().join("plugins/death-notices");
        std::fs::create_dir_all(&folder).unwrap();
        for file in ["plugin.toml", "plugin.wasm"] {
            std::fs::copy(fixture.join(file), folder.join(file)).unwrap();
        }
        let (_, list) = env.run_json(&["plugins", "list", "--json"]);
        let interface = |id: &str| {
            list.as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == id)
                .unwrap_or_else(|| panic!("{id} in {list}"))["interface"]
                .clone()
        };
        assert_eq!(interface("death-notices"), "1.0.0");
        assert_eq!(interface("fri"), "1.1.0");
        notices_reach_the_register(&env);
    }
}

/// A component that asks for a newer interface minor than this host serves is refused, saying which.
#[test]
fn a_plugin_built_for_a_newer_interface_is_refused_naming_it() {
    let env = Env::new(Backend::Sqlite);
    let fixture = common::workspace_root().join("tests/fixtures/plugins/death-notices-1.0");
    let folder = env.data_dir().join("plugins/death-notices");
    std::fs::create_dir_all(&folder).unwrap();
    // The same component, its interface renamed 1.9.0 in place (same length, so it stays valid).
    let wasm = std::fs::read(fixture.join("plugin.wasm")).unwrap();
    let (from, to) = (b"ipra:plugin/types@1.0.0", b"ipra:plugin/types@1.9.0");
    let mut patched = wasm.clone();
    let mut at = 0;
    while let Some(i) = patched[at..].windows(from.len()).position(|w| w == from) {
        patched[at + i..at + i + to.len()].copy_from_slice(to);
        at += i + to.len();
    }
    assert_ne!(patched, wasm);
    std::fs::write(folder.join("plugin.wasm"), &patched).unwrap();
    let sha = hex_sha256(&patched);
    let manifest = std::fs::read_to_string(fixture.join("plugin.toml")).unwrap();
    let manifest = manifest
        .lines()
        .map(|l| {
            if l.starts_with("sha256") {
                format!("sha256 = \"{sha}\"")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(folder.join("plugin.toml"), manifest).unwrap();
    let out = env.run(&["plugins", "list"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("собран для интерфейса 1.9.0") && text.contains("предоставляет 1.1.0"),
        "{text}"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

/// One way in: the same death notices given to `ipra import` with the connector named go through
/// the pipeline the inbox uses — recorded, read by the connector, applied by the register.
#[test]
fn a_command_line_import_takes_the_same_way_in() {
    let env = Env::new(Backend::Sqlite);
    install_test_plugin(&env, "death-notices", |m| m);
    assert!(env.run(&["plugins", "enable", "death-notices"]).status.success());
    env.ok(&[
        "import",
        common::fri_samples().join("extract_4.xml").to_str().unwrap(),
        "--json",
    ]);
    let snils = env.text("SELECT snils FROM persons");
    let file = env.data_dir().join("notices.csv");
    std::fs::write(
        &file,
        format!("record_id;snils;surname;given_name;patronymic;birth_date;death_date\nN-9;{snils};Х;Х;;;2021-02-26\n"),
    )
    .unwrap();
    let report = env.ok(&[
        "import",
        file.to_str().unwrap(),
        "--connector",
        "death-notices",
        "--json",
    ]);
    assert_eq!(report["rejected"], serde_json::json!([]), "{report}");
    assert_eq!(report["applied"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(env.death_statuses(), vec!["applied"]);
    assert_eq!(env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'open'"), 0);
    // The document was recorded like any other that came in.
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM source_documents WHERE file_name = 'notices.csv'"),
        1
    );
}

/// An inbox of files for the misbehaving connector, in this order: each file's name is its misdeed.
fn inbox_of(env: &Env, names: &[&str]) -> PathBuf {
    let inbox = env.dir.path().join("inbox");
    for (i, name) in names.iter().enumerate() {
        let folder = inbox.join(format!("{i}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(name), b"x").unwrap();
    }
    inbox
}

fn listed(env: &Env, id: &str) -> serde_json::Value {
    let (_, list) = env.run_json(&["plugins", "list", "--json"]);
    list.as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("{id} listed: {list}"))
}

/// A manifest's `[limits]` are what its calls get, within the installation's bounds: a plugin
/// asking for less memory and time is stopped sooner, one asking for more than the installation
/// allows gets the installation's maximum.
#[test]
fn limits_in_the_manifest_are_granted_within_the_installations_bounds() {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| format!("{m}\n[limits]\nmemory_mib = 16\ntime_ms = 300\n"));
    env.run_ok(&["plugins", "enable", "misbehave"]);
    let entry = listed(&env, "misbehave");
    assert_eq!(
        (entry["memory_mib"].as_u64(), entry["time_ms"].as_u64()),
        (Some(16), Some(300))
    );
    assert_eq!(entry["on_failure"], "quarantine-document", "a connector's default");
    let inbox = inbox_of(&env, &["alloc", "loop"]);
    let (_, report) = env.run_json(&["import", "--connector", "misbehave", inbox.to_str().unwrap(), "--json"]);
    let message = |name: &str| {
        report["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["file"].as_str().unwrap().ends_with(name))
            .map(|r| r["message"].as_str().unwrap().to_string())
            .unwrap_or_else(|| panic!("{name} refused: {report}"))
    };
    assert!(message("alloc").contains("16 МиБ"), "{report}");
    assert!(message("loop").contains("300 мс"), "{report}");

    // The installation's bound wins over the manifest.
    let out = env
        .ipra()
        .args(["plugins", "list", "--json"])
        .env("IPRA_PLUGIN_MAX_TIME_MS", "100")
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let entry = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "misbehave")
        .unwrap();
    assert_eq!(entry["time_ms"], 100, "{entry}");
    let out = env
        .ipra()
        .args(["plugins", "list"])
        .env("IPRA_PLUGIN_MAX_TIME_MS", "много")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("IPRA_PLUGIN_MAX_TIME_MS"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `on_failure = "stop-job"`: the run stops at the document whose call failed (it is refused and
/// quarantined like any other); the documents after it are named as not processed, none stored.
#[test]
fn a_connector_whose_policy_stops_the_job_stops_at_the_failing_document() {
    for (misdeed, code) in [
        ("trap", "plugin-trap"),
        ("loop", "plugin-timeout"),
        ("alloc", "plugin-memory-limit"),
    ] {
        stops_at(misdeed, code);
    }
}

fn stops_at(misdeed: &str, failure: &str) {
    let env = Env::new(Backend::Sqlite);
    install_misbehave(&env, |m| {
        format!("{m}\n[limits]\non_failure = \"stop-job\"\ntime_ms = 300\nmemory_mib = 32\n")
    });
    env.run_ok(&["plugins", "enable", "misbehave"]);
    assert_eq!(listed(&env, "misbehave")["on_failure"], "stop-job");
    let inbox = inbox_of(&env, &["ok", misdeed, "ok", "ok"]);
    let (code, report) = env.run_json(&["import", "--connector", "misbehave", inbox.to_str().unwrap(), "--json"]);
    assert_eq!(code, 1, "{report}");
    let rejected = report["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 1, "{report}");
    assert_eq!(rejected[0]["code"], failure, "{report}");
    let stopped = report["stopped"]
        .as_str()
        .unwrap_or_else(|| panic!("stopped: {report}"));
    assert!(
        stopped.contains("misbehave") && stopped.contains("stop-job"),
        "{stopped}"
    );
    let not_processed: Vec<&str> = report["not_processed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(not_processed.len(), 2, "{report}");
    assert!(
        not_processed[0].ends_with("2/ok") && not_processed[1].ends_with("3/ok"),
        "{report}"
    );
    assert_eq!(report["files"], 2, "the first file and the failing one: {report}");
    assert_eq!(
        env.text("SELECT error FROM import_runs ORDER BY id DESC LIMIT 1"),
        stopped,
        "the run says why it stopped"
    );
    let quarantined = std::fs::read_dir(env.data_dir().join("quarantine")).map_or(0, |d| d.count());
    assert!(quarantined > 0, "the failing document waits in quarantine");
}

/// A department that fails while claiming an IPRA: by default (`skip-record`) the IPRA is stored
/// and the measures wait in the coordinator's queue; `quarantine-document` refuses the file;
/// `stop-job` refuses it and stops the run.
#[test]
fn a_departments_failure_follows_its_policy() {
    let sample = common::fri_samples().join("extract_4.xml");
    let department = |policy: Option<&'static str>, misdeed: &'static str| {
        move |m: String| {
            let policy = policy.map(|p| format!("on_failure = \"{p}\"\n")).unwrap_or_default();
            format!(
                "{}\n[limits]\n{policy}time_ms = 300\nmemory_mib = 32\n\n[config]\nkind = \"department\"\nmisdeed = \"{misdeed}\"\nsections = \"health,employment,education,social-protection,sport,tsr\"\n",
                m.replace("kind = \"connector\"", "kind = \"department\"")
            )
        }
    };
    let cases = [
        (None, "skip-record"),
        (Some("quarantine-document"), "quarantine-document"),
        (Some("stop-job"), "stop-job"),
    ];
    for ((policy, expected), misdeed) in cases
        .into_iter()
        .flat_map(|case| ["trap", "loop", "alloc"].map(|misdeed| (case, misdeed)))
    {
        let env = Env::new(Backend::Sqlite);
        install_misbehave(&env, department(policy, misdeed));
        env.run_ok(&["plugins", "enable", "misbehave"]);
        assert_eq!(listed(&env, "misbehave")["on_failure"], expected);
        let (code, report) = env.run_json(&[
            "import",
            sample.to_str().unwrap(),
            common::fri_samples()
                .join("11350102278_IPRA_2016.xml")
                .to_str()
                .unwrap(),
            "--json",
        ]);
        let ipras = env.scalar("SELECT COUNT(*) FROM ipras");
        match expected {
            "skip-record" => {
                assert_eq!(code, 0, "{report}");
                assert_eq!(ipras, 2, "{report}");
                let warned = report["warnings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w["code"].as_str().is_some_and(|c| c.starts_with("plugin-")));
                assert!(warned, "the failure is noted: {report}");
            }
            "quarantine-document" => {
                assert_eq!(code, 1, "{report}");
                assert_eq!(ipras, 0, "{report}");
                assert_eq!(report["rejected"].as_array().unwrap().len(), 2, "{report}");
                assert!(report["stopped"].is_null(), "{report}");
            }
            _ => {
                assert_eq!(code, 1, "{report}");
                assert_eq!(ipras, 0, "{report}");
                assert_eq!(report["rejected"].as_array().unwrap().len(), 1, "{report}");
                assert!(report["stopped"].as_str().unwrap().contains("misbehave"), "{report}");
                assert_eq!(report["not_processed"].as_array().unwrap().len(), 1, "{report}");
            }
        }
    }
}

/// The manifest of the misbehaving test plugin at `version` with `tables` (TOML tables) added,
/// completed for a package, and its component.
fn misbehave_manifest(version: &str, tables: &str) -> (String, Vec<u8>) {
    let staged = Path::new(env!("IPRA_TEST_PLUGIN_DIR"));
    let wasm = std::fs::read(staged.join("misbehave.wasm")).unwrap();
    let manifest = std::fs::read_to_string(staged.join("misbehave.toml")).unwrap();
    let head: Vec<&str> = manifest.lines().filter(|l| !l.starts_with("version =")).collect();
    let manifest = format!("{}\nversion = \"{version}\"\n\n{tables}\n", head.join("\n"));
    (package::complete_manifest(&manifest, &wasm), wasm)
}

/// A package (`.ipra-plugin`) of the misbehaving test plugin: what `ipra plugin package` writes.
fn misbehave_package(env: &Env, version: &str, tables: &str) -> PathBuf {
    let (manifest, wasm) = misbehave_manifest(version, tables);
    write_package(env, version, &package::write(&manifest, &wasm, None, None))
}

fn write_package(env: &Env, name: &str, bytes: &[u8]) -> PathBuf {
    let path = env.dir.path().join(format!("misbehave-{name}.ipra-plugin"));
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The policy of the installation's configuration (`[plugins] require_signature`,
/// `IPRA_PLUGIN_REQUIRE_SIGNATURE`) wins over the trust file's own.
#[test]
fn the_configuration_decides_whether_a_signature_is_required() {
    let env = Env::new(Backend::Sqlite);
    std::fs::create_dir_all(env.data_dir()).unwrap();
    let unsigned = misbehave_package(&env, "1.0.0", "");
    let install = |require: &str| {
        env.ipra()
            .env("IPRA_PLUGIN_REQUIRE_SIGNATURE", require)
            .args(["plugins", "install", unsigned.to_str().unwrap()])
            .output()
            .unwrap()
    };
    // The trust file requires nothing; the configuration does.
    let out = install("true");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("не подписан"));
    // The trust file requires a signature; the configuration says it is not needed.
    std::fs::write(env.data_dir().join("plugin-trust.toml"), "require_signature = true\n").unwrap();
    let out = install("false");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Where the installation requires a vendor's signature, a package passes only with a signature
/// (Ed25519 or GOST R 34.10-2012) that a key it trusts confirms; each refusal names what failed.
#[test]
fn a_signature_is_required_where_the_installation_says_so() {
    let env = Env::new(Backend::Sqlite);
    let (key, public) = package::generate_ed25519().unwrap();
    let (stranger, _) = package::generate_ed25519().unwrap();
    let (gost_key, gost_cert) = common::gost_key(env.dir.path(), "vendor");
    std::fs::create_dir_all(env.data_dir()).unwrap();
    std::fs::write(
        env.data_dir().join("plugin-trust.toml"),
        format!(
            "require_signature = true\n[[ed25519]]\nvendor = \"ООО «Вендор»\"\nkey = \"{public}\"\n[[gost]]\nvendor = \"ГБУ «Центр»\"\ncertificate = \"{}\"\n",
            gost_cert.display()
        ),
    )
    .unwrap();
    let refused = |path: &Path| {
        let out = env.run(&["plugins", "install", path.to_str().unwrap()]);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let unsigned = misbehave_package(&env, "1.0.0", "");
    assert!(refused(&unsigned).contains("не подписан"));
    let (manifest, wasm) = misbehave_manifest("1.0.0", "");
    let by_stranger = package::sign_ed25519(&manifest, &stranger).unwrap();
    let strange = write_package(
        &env,
        "stranger",
        &package::write(&manifest, &wasm, Some(&by_stranger), None),
    );
    assert!(refused(&strange).contains("не подтверждается"));
    // Signed, then the component swapped: the manifest's hash no longer holds.
    let signature = package::sign_ed25519(&manifest, &key).unwrap();
    let swapped = write_package(
        &env,
        "swapped",
        &package::write(&manifest, b"\0asm", Some(&signature), None),
    );
    assert!(refused(&swapped).contains("SHA-256"));
    assert!(env
        .texts("SELECT action FROM audit_log WHERE subject = 'plugin:misbehave'")
        .is_empty());

    let signed = write_package(
        &env,
        "signed",
        &package::write(&manifest, &wasm, Some(&signature), None),
    );
    let out = env.run_ok(&["plugins", "install", signed.to_str().unwrap()]);
    assert!(out.contains("подпись поставщика «ООО «Вендор»» проверена"), "{out}");

    // GOST: a detached CMS signature of the manifest, as `openssl cms -sign` makes it.
    let (manifest, wasm) = misbehave_manifest("1.1.0", "");
    let manifest_path = env.dir.path().join("manifest.toml");
    std::fs::write(&manifest_path, &manifest).unwrap();
    let p7s = env.dir.path().join("plugin.p7s");
    common::gost_sign(&manifest_path, &gost_key, &gost_cert, &p7s);
    let gost = std::fs::read(&p7s).unwrap();
    let upgrade = write_package(&env, "gost", &package::write(&manifest, &wasm, None, Some(&gost)));
    let out = env.run_ok(&["plugins", "upgrade", upgrade.to_str().unwrap()]);
    assert!(out.contains("1.1.0") && out.contains("«ГБУ «Центр»»"), "{out}");
    let (other, _) = misbehave_manifest("1.2.0", "");
    let mismatched = write_package(&env, "gost-other", &package::write(&other, &wasm, None, Some(&gost)));
    let out = env.run(&["plugins", "upgrade", mismatched.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ГОСТ"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        env.texts("SELECT action FROM audit_log WHERE subject = 'plugin:misbehave' ORDER BY id"),
        ["plugin.install", "plugin.upgrade"]
    );
}

/// An upgrade from the command line lands on a running server without a restart; a call running
/// when it lands finishes, on the version it started with; a rollback lands the same way; every
/// change is in the audit log with who made it.
#[test]
fn an_upgrade_lands_on_a_running_server_without_failing_calls_in_flight() {
    let env = Env::new(Backend::Sqlite);
    env.add_user("admin", "administrator", None, "пароль-администратора-1");
    let token = env
        .run_ok(&["users", "token", "admin", "--label", "тест"])
        .trim()
        .to_string();
    let tables = "[limits]\ntime_ms = 60000\n\n[config]\nspin = \"3000000000\"";
    let v1 = misbehave_package(&env, "1.0.0", tables);
    let out = env.run_ok(&["plugins", "install", v1.to_str().unwrap(), "--enable"]);
    assert!(out.contains("установлен") && out.contains("1.0.0"), "{out}");
    // The same package again is refused, naming the way forward.
    let again = env.run(&["plugins", "install", v1.to_str().unwrap()]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("уже установлен"));
    env.run_ok(&[
        "jobs",
        "add",
        "slow-step",
        "--kind",
        "plugin-step",
        "--schedule",
        "0 0 1 1 *",
        "--settings",
        "{\"plugin\": \"misbehave\", \"step\": \"slow\"}",
    ]);
    let server = env.serve(&[]);
    let bearer = format!("Bearer {token}");
    let addr = server.addr.clone();
    let auth = bearer.clone();
    let call = std::thread::spawn(move || {
        common::http(
            &addr,
            "POST",
            "/api/v1/jobs/slow-step/run",
            &[("Authorization", auth.as_str())],
            None,
        )
    });
    let running = std::time::Instant::now();
    while env.scalar("SELECT COUNT(*) FROM job_runs WHERE job = 'slow-step' AND status = 'running'") == 0 {
        assert!(running.elapsed().as_secs() < 60, "the slow call did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let version_served = || {
        let list = common::http(
            &server.addr,
            "GET",
            "/api/v1/plugins",
            &[("Authorization", bearer.as_str())],
            None,
        )
        .json();
        list.as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "misbehave")
            .map(|p| p["version"].as_str().unwrap().to_string())
    };
    let wait_for = |version: &str| {
        let since = std::time::Instant::now();
        while version_served().as_deref() != Some(version) {
            assert!(since.elapsed().as_secs() < 30, "the server does not serve {version}");
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let v2 = misbehave_package(&env, "1.0.1", tables);
    let out = env.run_ok(&["plugins", "upgrade", v2.to_str().unwrap()]);
    assert!(out.contains("1.0.1") && out.contains("вместо 1.0.0"), "{out}");
    wait_for("1.0.1");
    let answer = call.join().unwrap();
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.json()["status"],
        "succeeded",
        "the call in flight finished: {}",
        answer.body
    );
    // Not newer: refused; rollback puts 1.0.0 back on the running server.
    let older = env.run(&["plugins", "upgrade", v1.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&older.stderr).contains("не новее"));
    env.run_ok(&["plugins", "rollback", "misbehave"]);
    wait_for("1.0.0");
    env.run_ok(&["plugins", "remove", "misbehave"]);
    let since = std::time::Instant::now();
    while version_served().is_some() {
        assert!(
            since.elapsed().as_secs() < 30,
            "the server still serves the removed plugin"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(
        env.texts("SELECT action FROM audit_log WHERE subject = 'plugin:misbehave' ORDER BY id"),
        [
            "plugin.install",
            "plugin.enable",
            "plugin.upgrade",
            "plugin.rollback",
            "plugin.remove"
        ]
    );
}

/// An upgrade killed (SIGKILL) at each step of putting the new version in place leaves the old
/// version or the new one whole: the next start finishes a change whose files were all written and
/// drops one that was still being written.
#[test]
fn an_upgrade_killed_at_any_step_leaves_one_whole_version() {
    use std::os::unix::process::ExitStatusExt;
    for (point, expected, kept) in [
        ("plugin.staging", "1.0.0", None),
        ("plugin.staged", "1.0.1", Some("1.0.0")),
        ("plugin.set-aside", "1.0.1", Some("1.0.0")),
    ] {
        let env = Env::new(Backend::Sqlite);
        let v1 = misbehave_package(&env, "1.0.0", "");
        env.run_ok(&["plugins", "install", v1.to_str().unwrap()]);
        let v2 = misbehave_package(&env, "1.0.1", "");
        let out = env
            .ipra()
            .args(["plugins", "upgrade", v2.to_str().unwrap()])
            .env("IPRA_CRASH_AT", point)
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(9), "{point}: killed there");
        let entry = listed(&env, "misbehave");
        assert_eq!(entry["version"], expected, "{point}: {entry}");
        assert_eq!(entry["previous_version"].as_str(), kept, "{point}: {entry}");
        let staging = env.data_dir().join("plugins").join(".staging");
        assert!(
            std::fs::read_dir(&staging).map_or(true, |mut d| d.next().is_none()),
            "{point}: nothing left half-done"
        );
        // And the plugin works: a document goes through it.
        env.run_ok(&["plugins", "enable", "misbehave"]);
        let inbox = inbox_of(&env, &["ok"]);
        let (code, report) = env.run_json(&["import", "--connector", "misbehave", inbox.to_str().unwrap(), "--json"]);
        assert_eq!(code, 0, "{point}: {report}");
    }
}
