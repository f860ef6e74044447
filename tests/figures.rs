//! The statistics and the dashboard of a running server — counted from its statistics index, which
//! follows the register through the change journal — equal the direct counts in the database
//! after every kind of change made by another process: imports with supersessions, executions and
//! reports, reassignment by hand, a new routing rule, a death. On SQLite and PostgreSQL.

mod common;

use common::{http, login, Backend, Env, BACKENDS};
use serde_json::Value;

/// The server's figures in the shape of `ipra stats --figures --json`.
fn served(addr: &str, cookie: &str) -> Value {
    let get = |path: &str| {
        let r = http(addr, "GET", path, &[("Cookie", cookie)], None);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    };
    let statistics = get("/api/v1/stats");
    let charts = get("/api/v1/stats/charts");
    let dashboard = get("/api/v1/dashboard");
    let sorted = |v: &Value, key: &str| {
        let mut rows = v.as_array().cloned().unwrap_or_default();
        rows.sort_by(|a, b| a[key].to_string().cmp(&b[key].to_string()));
        Value::Array(rows)
    };
    let mut organisations = dashboard["by_organisation"].clone();
    for row in organisations.as_array_mut().unwrap() {
        row["name"] = Value::Null;
    }
    serde_json::json!({
        "statistics": statistics,
        "charts": {
            "by_section": sorted(&charts["by_section"], "section"),
            "by_territory": sorted(&charts["by_territory"], "key"),
            "monthly": charts["monthly"],
            "by_target_group": charts["by_target_group"],
            "early_help": charts["early_help"],
        },
        "dashboard": {
            "cards": dashboard["cards"],
            "by_organisation": sorted(&organisations, "key"),
            "by_section": sorted(&dashboard["by_section"], "key"),
            "by_territory": sorted(&dashboard["by_territory"], "key"),
        },
    })
}

fn direct(env: &Env) -> Value {
    let mut v = env.ok(&["stats", "--figures", "--direct", "--json"]);
    for (group, key) in [("by_section", "section"), ("by_territory", "key")] {
        let mut rows = v["charts"][group].as_array().cloned().unwrap_or_default();
        rows.sort_by(|a, b| a[key].to_string().cmp(&b[key].to_string()));
        v["charts"][group] = Value::Array(rows);
    }
    for group in ["by_organisation", "by_section", "by_territory"] {
        let mut rows = v["dashboard"][group].as_array().cloned().unwrap_or_default();
        rows.sort_by(|a, b| a["key"].to_string().cmp(&b["key"].to_string()));
        v["dashboard"][group] = Value::Array(rows);
    }
    v
}

/// The server agrees with the direct count, figure by figure.
fn assert_same(step: &str, env: &Env, addr: &str, cookie: &str) {
    let served = served(addr, cookie);
    let direct = direct(env);
    for part in ["statistics", "charts", "dashboard"] {
        assert_eq!(
            served[part], direct[part],
            "{step}: the server's {part} differ from the direct count"
        );
    }
    assert_list_counts(step, env, addr, cookie, None);
}

/// The register's list (whose counts of each row come from the statistics index) shows, for every
/// IPRA, the measures (an executor's own) and the open ones past their due date that the database
/// counts.
fn assert_list_counts(step: &str, env: &Env, addr: &str, cookie: &str, executor: Option<&str>) {
    let own = executor
        .map(|o| format!(" AND m.assigned_ogrn = '{o}'"))
        .unwrap_or_default();
    let direct: std::collections::BTreeMap<i64, (i64, i64)> = env
        .texts(&format!(
            "SELECT CAST(m.ipra_id AS TEXT) || ':' || CAST(COUNT(*) AS TEXT) || ':' || \
             CAST(SUM(CASE WHEN m.status = 'open' AND m.due_date < '{}' THEN 1 ELSE 0 END) AS TEXT) \
             FROM measures m WHERE 1 = 1{own} GROUP BY m.ipra_id",
            common::TODAY
        ))
        .iter()
        .map(|row| {
            let v: Vec<i64> = row.split(':').map(|n| n.parse().unwrap()).collect();
            (v[0], (v[1], v[2]))
        })
        .collect();
    let r = http(addr, "GET", "/api/v1/ipras?per_page=500", &[("Cookie", cookie)], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let items = r.json()["items"].as_array().cloned().unwrap();
    assert!(!items.is_empty(), "{step}: the list is empty");
    for item in &items {
        let id = item["id"].as_i64().unwrap();
        let (n, late) = direct.get(&id).copied().unwrap_or((0, 0));
        assert_eq!(item["overdue"], late, "{step}: overdue measures of IPRA {id}");
        if executor.is_some() {
            assert_eq!(item["measures"], n, "{step}: the executor's measures of IPRA {id}");
        }
    }
    if executor.is_none() {
        assert!(
            items.iter().any(|i| i["overdue"].as_i64().unwrap() > 0),
            "{step}: some IPRA has overdue measures"
        );
    }
}

fn open_measures(env: &Env, ipra: i64) -> Vec<Value> {
    env.ok(&["measures", "list", "--ipra", &ipra.to_string(), "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["status"] == "open" && m["assigned_ogrn"].is_string())
        .cloned()
        .collect()
}

#[test]
fn the_statistics_index_follows_every_change_exactly() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "24"]);
        // An IPRA of two target rehabilitation groups that says the child needs early help.
        let groups = common::extract_with_target_groups(&env.data_dir());
        env.run_ok(&["import", groups.to_str().unwrap()]);
        env.add_user("t-coordinator", "coordinator", None, "coordinator password");
        let server = env.serve(&[]);
        let addr = server.addr.as_str();
        let (cookie, _) = login(addr, "t-coordinator", "coordinator password");
        assert_same("after the first import", &env, addr, &cookie);
        assert!(
            env.ok(&["stats", "--verify", "--json"])["ok"].as_bool().unwrap(),
            "a fresh index agrees too"
        );

        // More extracts, among them IPRAs that supersede earlier ones.
        env.run_ok(&["demo", "--count", "60"]);
        let superseded = env.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'superseded'");
        assert!(superseded > 0, "the demo data supersede some IPRAs");
        assert_same("after imports with supersessions", &env, addr, &cookie);

        // Executions: executed and not executed (with a reason), then reported.
        let region = "1021602830370";
        for (ipra, result) in [(3i64, "executed"), (4, "not-executed"), (5, "executed")] {
            let Some(m) = open_measures(&env, ipra).into_iter().next() else {
                continue;
            };
            let card = env.ok(&["show", &ipra.to_string(), "--json"]);
            let date = card["decision_date"].as_str().unwrap_or("2026-01-15").to_string();
            let ipra_s = ipra.to_string();
            let org = m["assigned_ogrn"].as_str().unwrap().to_string();
            let mut more = vec!["--result", result, "--ready"];
            if result == "executed" {
                more.extend(["--date", &date]);
            } else {
                more.extend(["--reason", "refused"]);
            }
            env.add_execution(ipra, &m, &org, &more);
            env.ok(&["reports", "assemble", "--ipra", &ipra_s, "--reporter", region, "--json"]);
        }
        assert_same("after reports assembled, not yet sent", &env, addr, &cookie);
        env.sign_and_send(region);
        assert!(env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'executed'") > 0);
        assert!(env.scalar("SELECT COUNT(*) FROM measures WHERE status = 'not-executed'") > 0);
        assert_same("after executions and reports", &env, addr, &cookie);

        // A measure given to another organisation by hand, and a new routing rule.
        let m = open_measures(&env, 6).into_iter().next().expect("an open measure");
        let other = env
            .ok(&["orgs", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["department"] == m["section"] && o["ogrn"] != m["assigned_ogrn"])
            .map(|o| o["ogrn"].as_str().unwrap().to_string())
            .expect("another organisation of the section");
        env.run_ok(&["measures", "assign", &m["id"].to_string(), "--ogrn", &other]);
        assert_same("after a reassignment", &env, addr, &cookie);
        // The organisation's own view counts only its measures.
        env.add_user("t-executor", "executor", Some(&other), "executor password");
        let (executor, _) = login(addr, "t-executor", "executor password");
        assert_list_counts("an executor after a reassignment", &env, addr, &executor, Some(&other));

        // A death closes the person's open measures and their IPRA.
        let snils = env.ok(&["show", "7", "--json"])["person"]["snils"]
            .as_str()
            .unwrap()
            .to_string();
        env.run_ok(&["death", &snils, "--date", "2026-11-01"]);
        assert!(env.scalar("SELECT COUNT(*) FROM ipras WHERE status = 'closed'") > 0);
        assert_same("after a death", &env, addr, &cookie);

        // Filters of the statistics: each agrees as well (through the CLI's own index).
        for filter in [
            vec!["--section", "tsr"],
            vec!["--from", "2026-01-01", "--to", "2026-12-31"],
            vec!["--org", other.as_str()],
        ] {
            let mut args = vec!["stats", "--verify", "--json"];
            args.extend(filter.iter());
            let report = env.ok(&args);
            assert!(report["ok"].as_bool().unwrap(), "{filter:?}: {report}");
        }
        if backend == Backend::Postgres {
            // The journal is read by sequence number; PostgreSQL hands them out before commit.
            assert!(env.scalar("SELECT COUNT(*) FROM register_changes") > 0);
        }
        drop(server);
    }
}

/// The statistics' definitions, on both engines and both ways (index and direct): a measure
/// without a section is not counted as rehabilitation; a measure not executed counts under the
/// reasons of its latest record only; the text of `ipra stats` shows the rows by section.
#[test]
fn statistics_count_sections_and_the_latest_reasons() {
    for backend in BACKENDS {
        let env = Env::new(backend);
        env.run_ok(&["demo", "--count", "8"]);
        let before = env.ok(&["stats", "--json"]);
        let rehab = before["rehabilitation"]["measures"].as_i64().unwrap();

        // A measure of an older form that has no section.
        let m = open_measures(&env, 2)
            .into_iter()
            .find(|m| m["section"] != "tsr")
            .expect("an open rehabilitation measure");
        env.execute(&format!("UPDATE measures SET section = '' WHERE id = {}", m["id"]));
        let after = env.ok(&["stats", "--json"]);
        assert_eq!(
            after["rehabilitation"]["measures"].as_i64().unwrap(),
            rehab - 1,
            "a measure without a section is not rehabilitation: {after}"
        );
        assert_eq!(
            env.ok(&["stats", "--direct", "--json"])["rehabilitation"],
            after["rehabilitation"],
            "counted directly the same"
        );

        // Two not-executed records of one measure: the latest one's reason counts.
        let m = open_measures(&env, 3).into_iter().next().expect("an open measure");
        let org = m["assigned_ogrn"].as_str().unwrap().to_string();
        let (ipra, id) = ("3".to_string(), m["id"].to_string());
        let record = |reason: &str, ready: bool| {
            let mut more = vec!["--result", "not-executed", "--reason", reason];
            if ready {
                more.push("--ready");
            }
            env.add_execution(3, &m, &org, &more);
        };
        record("refused", false);
        record("unreachable", true);
        // The result counts once the report is sent.
        env.ok(&[
            "reports",
            "assemble",
            "--ipra",
            &ipra,
            "--reporter",
            "1021602830370",
            "--json",
        ]);
        env.sign_and_send("1021602830370");
        let reasons = |stats: &serde_json::Value| -> Vec<(String, i64)> {
            stats["not_executed_by_reason"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["measures"].as_i64().unwrap() > 0)
                .map(|r| (r["code"].as_str().unwrap().to_string(), r["measures"].as_i64().unwrap()))
                .collect()
        };
        let counted = env.ok(&["stats", "--json"]);
        assert_eq!(
            env.scalar(&format!(
                "SELECT COUNT(*) FROM execution_records WHERE measure_id = {id}"
            )),
            2
        );
        assert_eq!(
            reasons(&counted),
            vec![("unreachable".to_string(), 1)],
            "the latest record's reason only: {counted}"
        );
        assert_eq!(reasons(&env.ok(&["stats", "--direct", "--json"])), reasons(&counted));
        assert!(env.ok(&["stats", "--verify", "--json"])["ok"].as_bool().unwrap());

        let text = env.run_ok(&["stats"]);
        for row in ["раздел «Охрана здоровья»", "раздел «Обеспечение ТСР»", "без раздела"]
        {
            assert!(text.contains(row), "{row} in the text of ipra stats: {text}");
        }
    }
}
