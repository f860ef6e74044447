//! The query plans of the register's lists, checked: `ipra plans check` runs every list, queue and
//! statistics read with representative filters, records each statement with its values as the
//! code issues it, and asks the database how it would run it (SQLite's `EXPLAIN QUERY PLAN`,
//! PostgreSQL's `EXPLAIN` with sequential scans discouraged, so that a plan that still scans has
//! no index to take). A full scan of a large table fails the check: a demo-size register then
//! catches what would take minutes at a region's size.

use crate::db::{Db, Engine};
use anyhow::Result;
use serde::Serialize;
use sqlx::Row;
use std::cell::RefCell;

/// A value bound to a recorded statement.
#[derive(Clone, Debug, Serialize)]
pub enum Arg {
    Text(String),
    Int(i64),
}

/// A statement as the code issued it.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// What ran it (a list and its filter).
    pub context: String,
    pub sql: String,
    pub args: Vec<Arg>,
}

tokio::task_local! {
    static RECORDER: RefCell<(String, Vec<Recorded>)>;
}

/// Records a statement when a check is under way (a no-op otherwise: one task-local look-up).
pub fn record(sql: &str, args: impl IntoIterator<Item = Arg>) {
    let _ = RECORDER.try_with(|r| {
        let mut r = r.borrow_mut();
        let context = r.0.clone();
        r.1.push(Recorded {
            context,
            sql: sql.to_string(),
            args: args.into_iter().collect(),
        });
    });
}

/// Text binds as recorded arguments.
pub fn texts<'a>(values: impl IntoIterator<Item = &'a String>) -> Vec<Arg> {
    values.into_iter().map(|v| Arg::Text(v.clone())).collect()
}

/// Runs `f` recording its statements under `context`.
pub async fn recording<F: std::future::Future>(context: &str, f: F) -> (F::Output, Vec<Recorded>) {
    RECORDER
        .scope(RefCell::new((context.to_string(), Vec::new())), async move {
            let out = f.await;
            let recorded = RECORDER.with(|r| std::mem::take(&mut r.borrow_mut().1));
            (out, recorded)
        })
        .await
}

/// The large tables of a region's register: a full scan of any of them is a finding.
pub const LARGE: &[&str] = &[
    "persons",
    "ipras",
    "measures",
    "execution_records",
    "reports",
    "exchange_messages",
    "audit_log",
    "follow_ups",
    "tsr_clarifications",
    "source_documents",
    "measure_assignments",
    "lifecycle_events",
    "egisso_facts",
    "egisso_pending",
    "social_service_recipients",
    "social_protection_persons",
    "ippsu_sends",
    "social_service_results",
];

/// What the check found of one statement.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub context: String,
    pub sql: String,
    pub plan: Vec<String>,
    /// Large tables the plan reads whole (or searches by another column than the rows it names).
    pub full_scans: Vec<String>,
}

/// The plan of a recorded statement, one line per step.
pub async fn explain(db: &Db, r: &Recorded) -> Result<Vec<String>> {
    let mut conn = db.pool.acquire().await?;
    let sql = match db.engine {
        Engine::Sqlite => format!("EXPLAIN QUERY PLAN {}", r.sql),
        Engine::Postgres => {
            // A scan left when scans are made dear has no index to take instead.
            sqlx::query("SET enable_seqscan = off").execute(&mut *conn).await?;
            format!("EXPLAIN {}", r.sql)
        }
    };
    let mut q = sqlx::query(&sql);
    for a in &r.args {
        q = match a {
            Arg::Text(t) => q.bind(t.as_str()),
            Arg::Int(i) => q.bind(*i),
        };
    }
    let rows = q.fetch_all(&mut *conn).await?;
    if db.engine == Engine::Postgres {
        sqlx::query("RESET enable_seqscan").execute(&mut *conn).await?;
    }
    rows.iter()
        .map(|row| {
            Ok(match db.engine {
                Engine::Sqlite => row.try_get::<String, _>("detail")?,
                Engine::Postgres => row.try_get::<String, _>(0)?,
            })
        })
        .collect()
}

/// The large tables a plan reads whole. A walk of a table in its own order (its primary key,
/// newest first) stopped by the page's LIMIT is a designed access, not a full scan: SQLite shows it
/// as `SCAN table` of a statement that orders by `id` (or not at all) and has a LIMIT.
pub fn full_scans(engine: Engine, sql: &str, plan: &[String]) -> Vec<String> {
    let bounded_walk = sql.contains(" LIMIT ") && (sql.contains("ORDER BY id") || !sql.contains("ORDER BY"));
    let mut out = Vec::new();
    for line in plan {
        let table = match engine {
            Engine::Sqlite => line
                .trim()
                .strip_prefix("SCAN ")
                .filter(|rest| !rest.contains(" USING "))
                .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string()),
            Engine::Postgres => line
                .split("Seq Scan on ")
                .nth(1)
                .map(|rest| rest.split_whitespace().next().unwrap_or_default().to_string()),
        };
        let Some(table) = table.or_else(|| sideways_search(engine, sql, line)) else {
            continue;
        };
        // SQLite names the alias; map the common ones back.
        let resolved = resolve_alias(sql, &table);
        if LARGE.contains(&resolved.as_str()) && !(bounded_walk && engine == Engine::Sqlite) {
            out.push(resolved);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A statement that names its rows by a list of IPRA ids (a page's counts, a card's measures) but
/// whose plan searches a large table by another column — all of an organisation's or a section's
/// measures, then keeps those of the list: as costly as a scan at a region's size (SQLite, without
/// statistics, prefers an equality on any indexed column to an `IN` list of fifty).
fn sideways_search(engine: Engine, sql: &str, line: &str) -> Option<String> {
    if engine != Engine::Sqlite || !(sql.contains("ipra_id IN (") || sql.contains("ipra_id = $")) {
        return None;
    }
    let rest = line.trim().strip_prefix("SEARCH ")?;
    let table = rest.split_whitespace().next()?;
    let constraint = rest.split_once(" (")?.1;
    (resolve_alias(sql, table) == "measures" && !constraint.starts_with("ipra_id")).then(|| table.to_string())
}

/// The table an alias of `sql` stands for (`FROM ipras i` → `i` is `ipras`).
fn resolve_alias(sql: &str, name: &str) -> String {
    if LARGE.contains(&name) {
        return name.to_string();
    }
    let words: Vec<&str> = sql.split_whitespace().collect();
    for w in words.windows(2) {
        if w[1] == name && LARGE.contains(&w[0]) {
            return w[0].to_string();
        }
    }
    name.to_string()
}

/// Explains every recorded statement and returns what each plan does.
pub async fn check(db: &Db, recorded: &[Recorded]) -> Result<Vec<Finding>> {
    let mut out = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in recorded {
        if !seen.insert(r.sql.clone()) {
            continue;
        }
        let plan = explain(db, r).await?;
        out.push(Finding {
            context: r.context.clone(),
            sql: r.sql.clone(),
            full_scans: full_scans(db.engine, &r.sql, &plan),
            plan,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_scans_are_told_from_index_walks() {
        let sql = "SELECT i.id FROM ipras i WHERE i.status = $1 ORDER BY i.id";
        assert_eq!(
            full_scans(Engine::Sqlite, sql, &["SCAN i".into()]),
            vec!["ipras".to_string()]
        );
        assert!(full_scans(Engine::Sqlite, sql, &["SCAN i USING INDEX ipras_sort_status".into()]).is_empty());
        assert!(full_scans(
            Engine::Sqlite,
            sql,
            &["SEARCH i USING INTEGER PRIMARY KEY (rowid=?)".into()]
        )
        .is_empty());
        assert_eq!(
            full_scans(
                Engine::Postgres,
                sql,
                &["  ->  Seq Scan on measures m  (cost=0.00..1.00 rows=1 width=8)".into()]
            ),
            vec!["measures".to_string()]
        );
        let log = "SELECT id FROM audit_log NOT INDEXED WHERE action = $1 ORDER BY id DESC LIMIT 51";
        assert!(full_scans(Engine::Sqlite, log, &["SCAN audit_log".into()]).is_empty());
        let counts = "SELECT m.ipra_id, COUNT(*) AS n FROM measures m WHERE m.ipra_id IN (1,2) AND m.assigned_ogrn = $1 GROUP BY m.ipra_id";
        assert_eq!(
            full_scans(
                Engine::Sqlite,
                counts,
                &["SEARCH m USING INDEX measures_org (assigned_ogrn=?)".into()]
            ),
            vec!["measures".to_string()]
        );
        assert!(full_scans(
            Engine::Sqlite,
            counts,
            &["SEARCH m USING INDEX measures_ipra_status (ipra_id=?)".into()]
        )
        .is_empty());
        let unbounded = "SELECT COUNT(*) FROM measures m WHERE m.status = $1";
        assert_eq!(
            full_scans(Engine::Sqlite, unbounded, &["SCAN m".into()]),
            vec!["measures".to_string()]
        );
    }
}
