//! The query plans of every page and list (`ipra bench plans`): on a small register of the shape
//! of a region, no statement the register's pages, lists, queues and statistics run reads a large
//! table whole — on SQLite (`EXPLAIN QUERY PLAN`) and on PostgreSQL (`EXPLAIN` with sequential scans
//! discouraged, so that one that remains has no index to take). What would take minutes at a
//! million persons is caught here at a few thousand.

mod common;

use common::{Env, BACKENDS};

#[test]
fn no_list_reads_a_large_table_whole() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        let (code, report) = env.run_json(&["bench", "plans", "--persons", "1500", "--json"]);
        let scans = report["full_scans"].as_array().expect("full_scans");
        assert!(
            scans.is_empty(),
            "{}: full scans of large tables:\n{}",
            backend.name(),
            serde_json::to_string_pretty(scans).unwrap()
        );
        assert_eq!(code, 0);
        // Every route ran, and each ran its statements.
        assert!(report["routes"].as_u64().unwrap() >= 45, "{report}");
        assert!(report["statements"].as_u64().unwrap() >= 100, "{report}");
        let contexts: Vec<&str> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|f| f["context"].as_str())
            .collect();
        for route in [
            "ipras sort=fio",
            "ipras q=surname",
            "ipras (executor)",
            "execution-register",
            "reports",
            "dashboard overdue",
            "unassigned queue",
            "audit log",
            "exchange messages",
            "zags decisions",
            "recipients /api/v1/social-service-recipients?sort=name",
            "recipients (executor)",
            "recipients (social protection)",
            "tsr requests",
        ] {
            assert!(
                contexts.iter().any(|c| c.starts_with(route)),
                "{route} checked: {contexts:?}"
            );
        }
    }
}
