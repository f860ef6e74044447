//! The audit log's order end to end, on SQLite and PostgreSQL: newest first by time, then by entry
//! number, page after page through the API and whole through the export, whether a page is led by
//! the time index (the filter finds more than the counted cap) or by a filter's own index (few
//! entries, sorted). The entries are written with times that tie and with a few entries written
//! late (a time earlier than their number's neighbours), so an order by number alone, or a page
//! boundary inside a tie, would show.

mod common;

use common::{http, login, Env, BACKENDS};
use std::collections::HashMap;

const PASSWORD: &str = "correct horse battery";
const ENTRIES: usize = 11_000;

/// The time of the test's entry `i`: a minute apart from 2021-01-01, three entries a minute, and
/// every 97th entry a day earlier than its neighbours.
fn at_of(i: usize) -> String {
    let mut minutes = (i / 3) as i64;
    if i.is_multiple_of(97) {
        minutes -= 24 * 60;
    }
    let day = 1 + minutes.div_euclid(24 * 60);
    let of_day = minutes.rem_euclid(24 * 60);
    // Day 0 is the last day of 2020.
    let date = if day == 0 {
        "2020-12-31".to_string()
    } else {
        format!("2021-01-{day:02}")
    };
    format!("{date}T{:02}:{:02}:00Z", of_day / 60, of_day % 60)
}

#[test]
fn pages_and_export_are_newest_first_by_time_then_number() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.add_user("admin", "administrator", None, PASSWORD);
        for chunk in (0..ENTRIES).collect::<Vec<_>>().chunks(500) {
            let values: Vec<String> = chunk
                .iter()
                .map(|i| {
                    let action = if i.is_multiple_of(10) { "test.rare" } else { "test.read" };
                    format!("('{}', 'user:tester', '{action}', 'test:{i}')", at_of(*i))
                })
                .collect();
            env.execute(&format!(
                "INSERT INTO audit_log (at, actor, action, subject) VALUES {}",
                values.join(", ")
            ));
        }
        // (at, id) of every test entry, by subject.
        let rows = env
            .texts("SELECT subject || '|' || at || '|' || CAST(id AS TEXT) FROM audit_log WHERE action LIKE 'test.%'");
        assert_eq!(rows.len(), ENTRIES, "{backend:?}");
        let entries: HashMap<String, (String, i64)> = rows
            .iter()
            .map(|r| {
                let mut parts = r.split('|');
                let subject = parts.next().unwrap().to_string();
                let at = parts.next().unwrap().to_string();
                (subject, (at, parts.next().unwrap().parse().unwrap()))
            })
            .collect();
        // What a filter should list: its entries newest first by time, then by number.
        let expected = |keep: &dyn Fn(usize) -> bool| -> Vec<i64> {
            let mut chosen: Vec<(String, i64)> = (0..ENTRIES)
                .filter(|i| keep(*i))
                .map(|i| entries[&format!("test:{i}")].clone())
                .collect();
            chosen.sort_by(|a, b| b.cmp(a));
            chosen.into_iter().map(|(_, id)| id).collect()
        };

        let server = env.serve(&[]);
        let addr = server.addr.clone();
        let (cookie, _) = login(&addr, "admin", PASSWORD);
        let auth = [("Cookie", cookie.as_str())];
        // Follows `next` from the first page for `pages` pages (all when None).
        let walk = |query: &str, pages: Option<usize>| -> (Vec<i64>, serde_json::Value) {
            let mut ids = Vec::new();
            let mut before: Option<i64> = None;
            let mut first = serde_json::Value::Null;
            for page in 0.. {
                if pages.is_some_and(|n| page == n) {
                    break;
                }
                let path = match before {
                    Some(b) => format!("/api/v1/audit/log?{query}&before={b}"),
                    None => format!("/api/v1/audit/log?{query}"),
                };
                let response = http(&addr, "GET", &path, &auth, None);
                assert_eq!(response.status, 200, "{backend:?} {path}: {}", response.body);
                let body = response.json();
                ids.extend(
                    body["items"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| e["id"].as_i64().unwrap()),
                );
                if page == 0 {
                    first = body.clone();
                }
                match body["next"].as_i64() {
                    Some(n) => before = Some(n),
                    None => break,
                }
            }
            (ids, first)
        };

        // More entries than the counted cap: the log's time index walked down.
        let all = expected(&|_| true);
        let (ids, first) = walk("action=test.", Some(4));
        assert_eq!(ids, all[..200], "{backend:?}: action=test.");
        assert_eq!(first["total"], 10_000, "{backend:?}");
        assert_eq!(first["total_exact"], false, "{backend:?}");

        // A period of more than the cap, far back: its end first.
        let (ids, _) = walk("from=2021-01-01&to=2021-01-08", Some(3));
        assert_eq!(ids, all[..150], "{backend:?}: a week of 2021");

        // A period of a day (fewer than the cap, led by its own range) with the common action:
        // every page to the end, the entries written late among them in their time's place.
        let in_day = |i: usize| at_of(i).starts_with("2021-01-02");
        let day = expected(&|i| in_day(i) && i % 10 != 0);
        let (ids, first) = walk("action=test.read&from=2021-01-02&to=2021-01-02", None);
        assert_eq!(ids, day, "{backend:?}: a day of test.read");
        assert_eq!(first["total"], day.len(), "{backend:?}");
        assert!(
            (0..ENTRIES).any(|i| i.is_multiple_of(97) && in_day(i) && i % 10 != 0),
            "the day holds an entry written late"
        );

        // The rare action (1,100 entries, led by its own index and sorted), every page.
        let rare = expected(&|i| i.is_multiple_of(10));
        let (ids, first) = walk("action=test.rare", None);
        assert_eq!(ids, rare, "{backend:?}: test.rare");
        assert_eq!(first["total"], rare.len(), "{backend:?}");
        assert_eq!(first["total_exact"], true, "{backend:?}");

        // The export: everything the filter finds, a thousand entries a turn, in the same order.
        let two_days = expected(&|i| {
            let at = at_of(i);
            at.starts_with("2021-01-02") || at.starts_with("2021-01-03")
        });
        let csv = http(
            &addr,
            "GET",
            "/admin/audit/export?action=test.&from=2021-01-02&to=2021-01-03&format=csv",
            &auth,
            None,
        );
        assert_eq!(csv.status, 200, "{backend:?}: {}", csv.body);
        let by_subject: HashMap<&str, i64> = entries.iter().map(|(s, (_, id))| (s.as_str(), *id)).collect();
        let exported: Vec<i64> = csv
            .body
            .lines()
            .filter_map(|line| {
                line.split([',', ';'])
                    .find_map(|cell| by_subject.get(cell.trim_matches('"')))
            })
            .copied()
            .collect();
        assert!(two_days.len() > 2_000, "the export takes more than two turns");
        assert_eq!(exported, two_days, "{backend:?}: export of two days");
    }
}
