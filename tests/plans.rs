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
        let findings = report["findings"].as_array().expect("findings");
        let contexts: Vec<&str> = findings.iter().filter_map(|f| f["context"].as_str()).collect();
        // A bureau's register walks the index of its own IPRAs in the list's order (by decision
        // date, by name), not the whole order's index past other bureaus' rows, nor all of its own
        // rows sorted (a page of the few ids the statistics index found is sorted as they are).
        for (order, index) in [
            ("ORDER BY i.decision_date", "ipras_issuer_decision"),
            ("ORDER BY i.search_name", "ipras_issuer_name"),
        ] {
            let pages: Vec<&serde_json::Value> = findings
                .iter()
                .filter(|f| {
                    let sql = f["sql"].as_str().unwrap_or_default();
                    sql.contains("i.issued_by = ") && sql.contains(order) && !sql.contains("i.id IN (")
                })
                .collect();
            assert!(
                !pages.is_empty(),
                "{}: a bureau's pages {order} checked",
                backend.name()
            );
            for f in pages {
                // PostgreSQL chooses for itself: at this size it may read a bureau's few rows from
                // either of its indexes and sort them (at a million, sorting a bureau's 30,000 rows
                // costs more than the walk); it never walks the whole order's index.
                let plan = f["plan"].to_string();
                let walks = match backend.name() {
                    "sqlite" => plan.contains(index) && !plan.contains("TEMP B-TREE"),
                    _ => plan.contains("ipras_issuer_") && !plan.contains("ipras_sort_"),
                };
                assert!(walks, "{}: {} walks {index}: {plan}", backend.name(), f["sql"]);
            }
        }
        // The audit log's counts of an action's or a period's entries read their index in its
        // order on PostgreSQL, which otherwise read the log from its start for a range that holds
        // most entries (its plans here are explained with sequential scans discouraged, so only
        // the statement shows it).
        for (range, order) in [
            ("(action >= ", " ORDER BY action LIMIT "),
            ("at >= ", " ORDER BY at LIMIT "),
        ] {
            let counts: Vec<&str> = findings
                .iter()
                .filter_map(|f| f["sql"].as_str())
                .filter(|sql| {
                    sql.starts_with("SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log") && sql.contains(range)
                })
                .collect();
            assert!(
                !counts.is_empty(),
                "{}: the audit log's counts of {range} checked",
                backend.name()
            );
            for sql in counts {
                assert_eq!(
                    sql.contains(order),
                    backend.name() == "postgres",
                    "{}: {sql}",
                    backend.name()
                );
            }
        }
        // The deceased recipients by name walk their own names' index (2% of the persons), not
        // every person's; the register of executions by a report's status alone counts from the
        // reports of the status, each one's records read from (report_id, status) alone.
        for (what, found, index) in [
            (
                "the deceased by name",
                &(|sql: &str| sql.contains("p.death_date IS NOT NULL") && sql.contains("ORDER BY p.search_name"))
                    as &dyn Fn(&str) -> bool,
                "persons_deceased_name",
            ),
            (
                "executions by a report's status",
                &|sql: &str| sql.starts_with("SELECT COUNT(*) AS n FROM (SELECT 1 FROM reports r"),
                "execution_records_report",
            ),
        ] {
            let checked: Vec<&serde_json::Value> = findings
                .iter()
                .filter(|f| found(f["sql"].as_str().unwrap_or_default()))
                .collect();
            assert!(!checked.is_empty(), "{}: {what} checked", backend.name());
            for f in checked.iter().filter(|_| backend.name() == "sqlite") {
                let plan = f["plan"].to_string();
                assert!(plan.contains(index), "{what}: {} walks {index}: {plan}", f["sql"]);
            }
        }
        // The audit log's pages, whole or of a period, walk its time index down in the page's
        // order (newest first by time): never the log's entries sorted, nor walked by number
        // past every later entry.
        let pages: Vec<&serde_json::Value> = findings
            .iter()
            .filter(|f| {
                let sql = f["sql"].as_str().unwrap_or_default();
                sql.starts_with("SELECT id, at, actor, action, subject, detail FROM audit_log")
                    && !sql.contains("action >=")
            })
            .collect();
        assert!(
            pages.iter().any(|f| f["sql"].as_str().unwrap().contains("at >= ")),
            "{}: a period's page of the audit log checked",
            backend.name()
        );
        for f in pages {
            let plan = f["plan"].to_string();
            let sorts = match backend.name() {
                "sqlite" => plan.contains("TEMP B-TREE"),
                _ => plan.contains("Sort"),
            };
            assert!(
                plan.contains("audit_log_at") && !sorts,
                "{}: {} walks audit_log_at: {plan}",
                backend.name(),
                f["sql"]
            );
        }
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

/// SQLite plans with statistics when an administrator has run `ANALYZE` (or `PRAGMA optimize`):
/// with those of a million persons, it joined an organisation's page of recipients by name
/// through a Bloom filter of every recipient, or read them all and sorted them (590 ms), and
/// counted the register of executions by report status through a filter of every report. The
/// scratch register planned with its statistics scaled to a region reads no large table whole
/// either, and the next check without them plans as a register never analysed.
#[test]
fn no_list_reads_a_large_table_whole_with_a_regions_statistics() {
    let env = Env::new(common::Backend::Sqlite);
    let (code, report) = env.run_json(&["bench", "plans", "--persons", "1500", "--region-statistics", "--json"]);
    let scans = report["full_scans"].as_array().expect("full_scans");
    assert!(
        scans.is_empty(),
        "full scans of large tables with a region's statistics:\n{}",
        serde_json::to_string_pretty(scans).unwrap()
    );
    assert_eq!(code, 0);
    assert!(report["statements"].as_u64().unwrap() >= 100, "{report}");
    let findings = report["findings"].as_array().expect("findings");
    // A page by name walks the persons' names and joins its page of recipients after (a territory
    // of few recipients, as at this size, is read from its own index instead and sorted).
    let by_name: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| {
            let sql = f["sql"].as_str().unwrap_or_default();
            sql.contains(") page JOIN persons p") && !sql.contains("p.territory_code = ")
        })
        .collect();
    assert!(!by_name.is_empty(), "a page of recipients by name checked");
    for f in by_name {
        let index = if f["sql"]
            .as_str()
            .unwrap_or_default()
            .contains("p.death_date IS NOT NULL")
        {
            "persons_deceased_name"
        } else {
            "persons_search_name_id"
        };
        assert!(f["plan"].to_string().contains(index), "{f}");
    }
    let (_, again) = env.run_json(&["bench", "plans", "--persons", "1500", "--json"]);
    assert_eq!(again["full_scans"].as_array().map(Vec::len), Some(0), "{again}");
}
