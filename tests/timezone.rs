//! The region's time zone: "today" is the date on the region's clocks, not in UTC. An executor in
//! Vladivostok (UTC+10) entering today's date at half past nine in the morning — still yesterday
//! in UTC — is not refused as "in the future"; just after midnight in Moscow (21:30 UTC) today is
//! already the next day for execution dates, received dates and overdue marks.

mod common;

use common::{fri_samples, Backend, Env};

/// `ipra ARGS` at the moment `now` (RFC 3339) in the time zone `zone`.
fn at(env: &Env, zone: &str, now: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let out = env
        .ipra()
        .env("IPRA_TIME_ZONE", zone)
        .env("IPRA_NOW", now)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(text.trim()).unwrap_or(serde_json::Value::Null);
    (out.status.code().unwrap_or(-1), value)
}

/// An IPRA imported at `now` in `zone`, and a measure of a department with its organisation.
fn imported(zone: &str, now: &str) -> (Env, Vec<String>) {
    let env = Env::new(Backend::Sqlite);
    let orgs = env.directory();
    let (code, report) = at(
        &env,
        zone,
        now,
        &[
            "import",
            fri_samples().join("extract_4.xml").to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code, 0, "{report}");
    let ipra = env.scalar("SELECT MAX(id) FROM ipras");
    let measures = env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"]);
    let m = measures
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["section"] == "health")
        .expect("a health measure")
        .clone();
    let mut args = common::execution_args(ipra, &m, &orgs["health"]);
    args.extend(
        [
            "--result",
            "executed",
            "--comment",
            "выполнено",
            "--ready",
            "--json",
            "--date",
        ]
        .map(String::from),
    );
    (env, args)
}

fn execute_on(env: &Env, args: &[String], zone: &str, now: &str, date: &str) -> (i32, serde_json::Value) {
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.push(date);
    at(env, zone, now, &args)
}

#[test]
fn a_morning_in_vladivostok_is_today_there() {
    // 09:30 on 20 November in Vladivostok; 23:30 on 19 November in UTC.
    let now = "2026-11-19T23:30:00Z";
    let (env, args) = imported("Asia/Vladivostok", now);
    assert!(
        env.text("SELECT received_at FROM ipras").starts_with("2026-11-20"),
        "received on the region's date: {}",
        env.text("SELECT received_at FROM ipras")
    );
    // Read in UTC, the same moment makes the region's today a date in the future.
    let (code, refused) = execute_on(&env, &args, "UTC", now, "2026-11-20");
    assert_ne!(code, 0, "in UTC 20 November is still to come: {refused}");
    let (code, done) = execute_on(&env, &args, "Asia/Vladivostok", now, "2026-11-20");
    assert_eq!(code, 0, "today in Vladivostok is accepted: {done}");
    let (code, _) = execute_on(&env, &args, "Asia/Vladivostok", now, "2026-11-21");
    assert_ne!(code, 0, "tomorrow in Vladivostok is still refused");
}

#[test]
fn just_after_midnight_in_moscow_is_the_next_day() {
    // 00:30 on 21 November in Moscow; 21:30 on 20 November in UTC.
    let now = "2026-11-20T21:30:00Z";
    let (env, args) = imported("Europe/Moscow", now);
    assert!(env.text("SELECT received_at FROM ipras").starts_with("2026-11-21"));
    let (code, done) = execute_on(&env, &args, "Europe/Moscow", now, "2026-11-21");
    assert_eq!(code, 0, "{done}");
    // What is overdue is counted on the region's date too.
    let (_, today_utc) = at(&env, "UTC", now, &["deadlines", "--json"]);
    let (_, today_moscow) = at(&env, "Europe/Moscow", now, &["deadlines", "--json"]);
    assert_eq!(today_utc["today"], "2026-11-20", "{today_utc}");
    assert_eq!(today_moscow["today"], "2026-11-21", "{today_moscow}");
    // A zone that does not exist is refused with the setting named.
    let out = env
        .ipra()
        .env("IPRA_TIME_ZONE", "Europe/Moskva")
        .args(["deadlines"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("IPRA_TIME_ZONE"));
}
