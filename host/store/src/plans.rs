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
    if db.engine == Engine::Sqlite && analysed(&mut conn).await? {
        // The planner's statistics as they stand now (see [`region_statistics`]): a connection
        // reads them when it first reads the schema, and keeps them.
        sqlx::query("ANALYZE sqlite_schema").execute(&mut *conn).await?;
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
        // A Bloom filter is built whole before the first row, whatever the LIMIT.
        let bloom = bloom_filter(engine, line);
        let bounded = bounded_walk && engine == Engine::Sqlite && bloom.is_none();
        let Some(table) = table.or(bloom).or_else(|| sideways_search(engine, sql, line)) else {
            continue;
        };
        // SQLite names the alias; map the common ones back.
        let resolved = resolve_alias(sql, &table);
        if LARGE.contains(&resolved.as_str()) && !bounded {
            out.push(resolved);
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A Bloom filter of SQLite over a table (`BLOOM FILTER ON r (person_id=?)`): built before the
/// statement's first row from every row of the table, so a page that would stop after fifty reads
/// it whole. SQLite builds one when its statistics expect the loop outside to look the table up
/// more often than it has rows (a walk of a million persons for a few recipients).
fn bloom_filter(engine: Engine, line: &str) -> Option<String> {
    if engine != Engine::Sqlite {
        return None;
    }
    let rest = line.trim().strip_prefix("BLOOM FILTER ON ")?;
    Some(rest.split_whitespace().next()?.to_string())
}

/// The planner's statistics of a region (SQLite): `ANALYZE` of the scratch register, then each
/// large table's figures as a region `factor` times its size would have them. Its row counts are
/// scaled; so are the rows per value of a column of few values (a territory, a status, a section:
/// as many values in a region as here), while a column of many (a person, a name, an IPRA) keeps
/// its rows per value. A database an administrator analysed plans so, and a plan that reads a
/// table whole to serve a page (a sort, a Bloom filter) is found at a few thousand persons.
/// Without a `factor`, the statistics are removed: the register plans as one never analysed.
pub async fn region_statistics(db: &Db, factor: Option<u64>) -> Result<usize> {
    if db.engine != Engine::Sqlite {
        return Ok(0);
    }
    let mut conn = db.pool.acquire().await?;
    let Some(factor) = factor else {
        if analysed(&mut conn).await? {
            sqlx::query("DELETE FROM sqlite_stat1").execute(&mut *conn).await?;
            sqlx::query("ANALYZE sqlite_schema").execute(&mut *conn).await?;
        }
        return Ok(0);
    };
    sqlx::query("ANALYZE main").execute(&mut *conn).await?;
    let rows = sqlx::query("SELECT tbl, idx, stat FROM sqlite_stat1")
        .fetch_all(&mut *conn)
        .await?;
    let mut scaled = 0;
    for row in rows {
        let (tbl, idx, stat): (String, Option<String>, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        if !LARGE.contains(&tbl.as_str()) {
            continue;
        }
        sqlx::query("UPDATE sqlite_stat1 SET stat = $1 WHERE tbl = $2 AND idx IS $3")
            .bind(scale_stat(&stat, factor))
            .bind(&tbl)
            .bind(&idx)
            .execute(&mut *conn)
            .await?;
        scaled += 1;
    }
    sqlx::query("ANALYZE sqlite_schema").execute(&mut *conn).await?;
    Ok(scaled)
}

/// Whether the SQLite database has the planner's statistics table (an `ANALYZE` ran).
async fn analysed(conn: &mut sqlx::pool::PoolConnection<sqlx::Any>) -> Result<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'")
        .fetch_one(&mut **conn)
        .await?;
    Ok(n > 0)
}

/// Fewer values than this in a column of the scratch register: a column of few values (see [`region_statistics`]).
const FEW_VALUES: u64 = 200;

/// One `sqlite_stat1` figure (`rows rows-per-value… [flags]`) as a register `factor` times larger has it.
fn scale_stat(stat: &str, factor: u64) -> String {
    let mut words = stat.split(' ');
    let Some(rows) = words.next().and_then(|w| w.parse::<u64>().ok()) else {
        return stat.to_string();
    };
    let mut out = vec![(rows * factor).to_string()];
    for w in words {
        out.push(match w.parse::<u64>() {
            Ok(per_value) if per_value > 0 && rows / per_value < FEW_VALUES => (per_value * factor).to_string(),
            _ => w.to_string(),
        });
    }
    out.join(" ")
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
        let page = "SELECT r.id FROM persons p JOIN social_service_recipients r ON r.person_id = p.id LIMIT 51";
        assert_eq!(
            full_scans(
                Engine::Sqlite,
                page,
                &[
                    "SCAN p USING INDEX persons_search_name_id".into(),
                    "BLOOM FILTER ON r (person_id=?)".into(),
                    "SEARCH r USING INDEX recipients_person (person_id=?)".into()
                ]
            ),
            vec!["social_service_recipients".to_string()]
        );
        let unbounded = "SELECT COUNT(*) FROM measures m WHERE m.status = $1";
        assert_eq!(
            full_scans(Engine::Sqlite, unbounded, &["SCAN m".into()]),
            vec!["measures".to_string()]
        );
    }

    #[test]
    fn statistics_scale_to_a_region() {
        // 3,000 persons in 40 territories (75 each), one row per person's key.
        assert_eq!(scale_stat("3000 75 1", 300), "900000 22500 1");
        assert_eq!(scale_stat("3000 1 1 unordered", 10), "30000 1 1 unordered");
        assert_eq!(scale_stat("3000", 10), "30000");
        assert_eq!(scale_stat("sz=12", 10), "sz=12");
    }
}
