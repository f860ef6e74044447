//! The API contract holds for a client nobody here wrote: Schemathesis (from PyPI; `tests/run.sh`
//! installs it) reads `/api/v1/openapi.json` of a running server with demo data and sends what the
//! document allows and what it forbids, as an administrator and as an executor, on SQLite and on
//! PostgreSQL. It fails on any server error, any status, content type or body the document does
//! not declare, a schema-valid body refused as unreadable, a schema-violating request taken, and a
//! request taken without (or with wrong) credentials. The run is bounded (`--max-examples`) and
//! seeded, so that it is the same run each time; `IPRA_CONTRACT_EXAMPLES` makes it longer.

mod common;

use common::{workspace_root, Env, BACKENDS};
use std::process::Command;

/// The Schemathesis command (as a module of the Python that has it), or a clear failure saying
/// how to get it.
fn schemathesis() -> Command {
    let found = Command::new("python3")
        .args(["-m", "schemathesis.cli", "--version"])
        .output();
    match found {
        Ok(out) if out.status.success() => {
            let mut command = Command::new("python3");
            command.args(["-m", "schemathesis.cli"]);
            command
        }
        _ => panic!(
            "Schemathesis is not installed: `python3 -m pip install schemathesis==4.32.5` (tests/run.sh installs it)"
        ),
    }
}

fn token(env: &Env, login: &str) -> String {
    let out = env.run(&["users", "token", login]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .expect("a token")
        .trim()
        .to_string()
}

#[test]
fn schemathesis_finds_no_conformance_failure() {
    let examples = std::env::var("IPRA_CONTRACT_EXAMPLES").unwrap_or_else(|_| "15".into());
    let config = workspace_root().join("tests/contract/schemathesis.toml");
    for backend in BACKENDS {
        let env = Env::new(backend);
        let out = env.run(&["demo", "--count", "30"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let server = env.serve(&[]);
        let schema = format!("http://{}/api/v1/openapi.json", server.addr);
        // The executor first: the administrator's run may deactivate users the document names.
        for (login, seed) in [("executor", "2"), ("admin", "1")] {
            let token = token(&env, login);
            let work = tempfile::tempdir().expect("temp dir");
            let out = schemathesis()
                .current_dir(work.path())
                .env("IPRA_TOKEN", &token)
                .env("NO_COLOR", "1")
                .arg("--config-file")
                .arg(&config)
                .args(["run", &schema])
                // Ending the session would revoke the token the run goes on with; the diagnostics
                // route holds a connection for as long as it is asked to.
                .args(["--exclude-name", "DELETE /api/v1/session"])
                .args(["--exclude-path", "/api/v1/admin/diagnostics/slow-query"])
                .args(["--phases", "examples,coverage,fuzzing"])
                .args(["--max-examples", &examples, "--seed", seed, "-w", "1"])
                .args(["--generation-database", "none", "--no-color"])
                .output()
                .expect("schemathesis runs");
            let report = String::from_utf8_lossy(&out.stdout);
            let tail: String = report
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n");
            eprintln!("{} as {login}:\n{tail}", backend.name());
            assert!(
                out.status.success(),
                "Schemathesis found failures on {} as {login}:\n{report}\n{}",
                backend.name(),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(report.contains("passed"), "{report}");
        }
    }
}
