//! The failover of the scheduler leader among `ipra serve` instances on one PostgreSQL, shared by
//! tests/exchange.rs (two instances started by hand) and tests/instances.rs (the layout of
//! deploy/compose.yaml behind nginx): exactly one instance leads; the leader is killed with
//! SIGKILL; another takes the lead; every inbox document — those delivered before, at and after
//! the kill — is applied exactly once; runs of one job never overlap.

use super::{http, Env};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

/// A running `ipra serve` (or any process of a layout), killed when dropped.
pub struct Instance {
    pub addr: String,
    pub child: Child,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the failover is run on.
pub struct Layout<'a> {
    /// The database the instances share (for the checks).
    pub env: &'a Env,
    pub instances: Vec<Instance>,
    /// The FRI inbox as the instances see it (their shared exchange folder).
    pub inbox: PathBuf,
    /// The one address in front of the instances (nginx), if any: it must answer throughout, from
    /// every instance before the kill and from the survivors after it.
    pub front: Option<String>,
}

/// How the documents are delivered around the kill.
pub struct Plan<'a> {
    pub documents: &'a [PathBuf],
    /// Delivered just before the leader is killed: still queued (or being processed by the dying
    /// leader) when it dies.
    pub at_kill: usize,
    /// Delivered once another instance leads.
    pub after: usize,
}

/// The health document of a server, or None while it does not accept connections.
pub fn health(addr: &str) -> Option<serde_json::Value> {
    std::net::TcpStream::connect(addr).ok()?;
    let response = http(addr, "GET", "/api/v1/health", &[], None);
    (response.status == 200).then(|| response.json())
}

/// Copies each file into the inbox as a writer of the shared folder does: a `.part` renamed when complete.
pub fn deliver(inbox: &Path, paths: &[PathBuf]) {
    std::fs::create_dir_all(inbox).unwrap();
    for path in paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let part = inbox.join(format!("{name}.part"));
        std::fs::copy(path, &part).unwrap();
        std::fs::rename(&part, inbox.join(&name)).unwrap();
    }
}

fn processed_all(env: &Env, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(240);
    while env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'") < n as i64 {
        assert!(
            Instant::now() < deadline,
            "inbox not processed in time: {} of {n}",
            env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE status = 'processed'")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The names of the instances that answered `requests` health requests through the front.
fn answered_through(front: &str, requests: usize) -> std::collections::BTreeSet<String> {
    (0..requests)
        .map(|i| {
            let response = http(front, "GET", "/api/v1/health", &[], None);
            assert_eq!(
                response.status, 200,
                "request {i} through the front {front}: {}",
                response.body
            );
            response.json()["instance"].as_str().unwrap_or_default().to_string()
        })
        .collect()
}

/// Runs the failover; returns how long the takeover took.
pub fn leader_failover(layout: &mut Layout, plan: &Plan) -> Duration {
    let env = layout.env;
    let addrs: Vec<String> = layout.instances.iter().map(|i| i.addr.clone()).collect();
    // Generous: in a loaded test run the servers may first compile every plugin (no cache yet).
    let deadline = Instant::now() + Duration::from_secs(240);
    let names: Vec<String> = loop {
        std::thread::sleep(Duration::from_millis(300));
        let healths: Vec<serde_json::Value> = addrs.iter().filter_map(|a| health(a)).collect();
        let leaders = healths.iter().filter(|h| h["scheduler_leader"] == true).count();
        if healths.len() == addrs.len() && leaders == 1 {
            break healths
                .iter()
                .map(|h| h["instance"].as_str().unwrap_or_default().to_string())
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "servers did not come up with one leader: {healths:?}"
        );
    };
    if let Some(front) = &layout.front {
        let answered = answered_through(front, 4 * addrs.len());
        let all: std::collections::BTreeSet<String> = names.iter().cloned().collect();
        assert_eq!(answered, all, "the front passes requests to every instance");
    }

    let documents = plan.documents;
    let before = documents.len() - plan.at_kill - plan.after;
    let (before, rest) = documents.split_at(before);
    let (at_kill, after) = rest.split_at(plan.at_kill);
    deliver(&layout.inbox, before);
    processed_all(env, before.len());

    // The leader is killed: the others lead within a bounded time and take the work on.
    let leader = addrs
        .iter()
        .position(|a| health(a).is_some_and(|h| h["scheduler_leader"] == true))
        .expect("a leader");
    deliver(&layout.inbox, at_kill);
    let killed = layout.instances.remove(leader);
    drop(killed);
    let failover = Instant::now();
    if let Some(front) = &layout.front {
        let answered = answered_through(front, 4 * addrs.len());
        assert!(
            !answered.contains(&names[leader]),
            "the killed instance {} answered through the front: {answered:?}",
            names[leader]
        );
    }
    let survivors: Vec<String> = layout.instances.iter().map(|i| i.addr.clone()).collect();
    loop {
        let leaders = survivors
            .iter()
            .filter(|a| health(a).is_some_and(|h| h["scheduler_leader"] == true))
            .count();
        if leaders == 1 {
            break;
        }
        assert!(leaders == 0, "{leaders} leaders among the survivors");
        assert!(
            failover.elapsed() < Duration::from_secs(30),
            "no instance took the lead after the leader was killed"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let takeover = failover.elapsed();
    eprintln!(
        "leadership of {} taken over in {} ms",
        names[leader],
        takeover.as_millis()
    );
    deliver(&layout.inbox, after);
    processed_all(env, documents.len());
    layout.instances.clear();

    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM exchange_messages"),
        documents.len() as i64,
        "one message per document"
    );
    if plan.at_kill == 0 {
        // Nothing was under way when the leader died: no document was even taken twice.
        assert_eq!(
            env.scalar("SELECT COUNT(*) FROM exchange_messages WHERE attempts <> 1"),
            0,
            "no message taken twice"
        );
    }
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE origin = 'inbox' AND status = 'finished'"),
        documents.len() as i64,
        "each document applied by exactly one finished import"
    );
    // A run the killed leader had under way is closed as interrupted once it is known to be dead
    // (its name carries its `host:pid`, whatever the configuration named it); none is left running.
    assert_eq!(
        env.scalar("SELECT COUNT(*) FROM import_runs WHERE status = 'running'"),
        0,
        "no import left running"
    );
    assert_eq!(
        env.scalar(
            "SELECT COUNT(*) FROM job_runs a JOIN job_runs b ON a.job = b.job AND a.id < b.id \
             WHERE b.started_at < a.finished_at"
        ),
        0,
        "runs of one job never overlap"
    );
    assert!(env.scalar("SELECT COUNT(*) FROM ipras") > 0);
    takeover
}
