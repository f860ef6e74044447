//! The audit log as people search it: by actor, action, object and days, newest first, a page at
//! a time, led by the filter's most selective index (pages, API and export all read it here).

use crate::db::Db;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Row};

pub const PER_PAGE: i64 = 50;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct AuditFilter {
    /// Part of the actor, e.g. `ivanov` or `administrator:`.
    pub actor: Option<String>,
    /// The start of the action, e.g. `user.` or `ipra.read`.
    pub action: Option<String>,
    /// Part of the object, e.g. `ipra:12`.
    pub subject: Option<String>,
    /// First day, ГГГГ-ММ-ДД.
    pub from: Option<String>,
    /// Last day, ГГГГ-ММ-ДД.
    pub to: Option<String>,
    /// The page number as the reader counts it.
    pub page: Option<i64>,
    /// The page below this entry number (the `next` of the previous page).
    pub before: Option<i64>,
    /// Show the result of the chain check.
    pub verify: Option<String>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditPage {
    /// Entries the filter finds: exact when `total_exact`, else at least this many.
    pub total: i64,
    pub total_exact: bool,
    pub page: i64,
    pub per_page: i64,
    pub items: Vec<AuditEntry>,
    /// The entry number to continue below (`before=`), when more follow.
    pub next: Option<i64>,
}

pub fn text(v: &Option<String>) -> String {
    v.as_deref().map(str::trim).unwrap_or_default().to_string()
}

/// A day as ГГГГ-ММ-ДД, or a Russian message naming the field.
pub fn check_day(value: &Option<String>, field: &str) -> Result<String, String> {
    let v = text(value);
    if v.is_empty() || (v.len() == 10 && crate::register::deadlines::parse_date(&v).is_some()) {
        Ok(v)
    } else {
        Err(format!("{field}: нужна дата в виде ДД.ММ.ГГГГ"))
    }
}

/// The entries matching a filter, newest first, a page of [`PER_PAGE`] below `before`.
pub async fn search(db: &Db, f: &AuditFilter) -> Result<AuditPage> {
    search_rows(db, f, PER_PAGE, f.before).await
}

/// Entries counted exactly up to this many.
const COUNT_CAP: i64 = 10_000;

/// A prefix of an indexed text column as a range condition; `column` is the index's first column.
fn prefix_range(column: &str, prefix: &str, binds: &mut Vec<String>) -> String {
    binds.push(prefix.to_string());
    let lo = binds.len();
    binds.push(format!("{prefix}\u{10FFFF}"));
    format!("({column} >= ${lo} AND {column} < ${})", lo + 1)
}

/// The filter's conditions, each with the index that can lead to its rows, and the binds.
/// A condition of the filter and the index that can lead to its rows.
type Condition = (String, Option<&'static str>);

fn conditions(f: &AuditFilter) -> Result<(Vec<Condition>, Vec<String>)> {
    let from = check_day(&f.from, "Дата с").map_err(anyhow::Error::msg)?;
    let to = check_day(&f.to, "Дата по").map_err(anyhow::Error::msg)?;
    let mut binds = Vec::new();
    let mut c = Vec::new();
    let actor = text(&f.actor);
    if !actor.is_empty() {
        // The beginning of the actor, or of the login after any role («ivanov» finds
        // «coordinator:ivanov»).
        let mut any = vec![prefix_range("actor", &actor, &mut binds)];
        if !actor.contains(':') {
            for role in ["administrator", "coordinator", "executor", "auditor", "cli", "user"] {
                any.push(prefix_range("actor", &format!("{role}:{actor}"), &mut binds));
            }
        }
        c.push((format!("({})", any.join(" OR ")), Some("audit_log_actor")));
    }
    let action = text(&f.action);
    if !action.is_empty() {
        c.push((prefix_range("action", &action, &mut binds), Some("audit_log_action")));
    }
    let subject = text(&f.subject);
    if !subject.is_empty() {
        c.push((prefix_range("subject", &subject, &mut binds), Some("audit_log_subject")));
    }
    // `at` is RFC 3339 UTC text, so day bounds compare as text.
    if !from.is_empty() {
        binds.push(from);
        c.push((format!("at >= ${}", binds.len()), Some("audit_log_at")));
    }
    if !to.is_empty() {
        binds.push(format!("{to}T99"));
        c.push((format!("at < ${}", binds.len()), Some("audit_log_at")));
    }
    Ok((c, binds))
}

/// The column whose order an index's own conditions are one range of (not the actor's: a login's
/// roles are several ranges).
fn index_order(index: &str) -> Option<&'static str> {
    match index {
        "audit_log_action" => Some("action"),
        "audit_log_subject" => Some("subject"),
        "audit_log_at" => Some("at"),
        _ => None,
    }
}

/// Entries newest first: led by the filter's most selective index when it finds few rows (then
/// sorted), else by walking the log from the newest entry back, checking the filter on each.
pub async fn search_rows(db: &Db, f: &AuditFilter, limit: i64, before: Option<i64>) -> Result<AuditPage> {
    let (conds, binds) = conditions(f)?;
    let sqlite = db.engine == crate::db::Engine::Sqlite;
    let where_of = |extra: Option<String>| {
        let mut all: Vec<String> = conds.iter().map(|(c, _)| c.clone()).collect();
        all.extend(extra);
        if all.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", all.join(" AND "))
        }
    };
    // Each index's share of the filter, counted up to the cap: the smallest leads.
    let mut lead: Option<(&'static str, i64)> = None;
    for index in conds.iter().filter_map(|(_, i)| *i) {
        let own: Vec<String> = conds
            .iter()
            .filter(|(_, i)| *i == Some(index))
            .map(|(c, _)| c.clone())
            .collect();
        // SQLite is told the index; PostgreSQL is asked for the index's order, which it reads
        // from the index alone and stops at the cap. Unordered, it chose to read the table from
        // its start for a range that holds most entries (an action that is nearly every entry:
        // 72 ms for 14,000 rows of a million persons' log, 4 ms from the index). An actor's
        // several ranges (its roles) are not one range of the index: left to the planner.
        let (hint, order) = match (sqlite, index_order(index)) {
            (true, _) => (format!(" INDEXED BY {index}"), String::new()),
            (false, Some(column)) => (String::new(), format!(" ORDER BY {column}")),
            (false, None) => (String::new(), String::new()),
        };
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint} WHERE {}{order} LIMIT {}) t",
            own.join(" AND "),
            COUNT_CAP + 1
        );
        crate::plans::record(&sql, crate::plans::texts(&binds));
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        let n: i64 = q.fetch_one(&db.pool).await?.try_get("n")?;
        if lead.is_none_or(|(_, m)| n < m) {
            lead = Some((index, n));
        }
    }
    // A few rows: led by their index; else the log walked in its own order (SQLite's table,
    // newest first, checking the filter on each row).
    let hint = match lead {
        Some((index, n)) if n <= COUNT_CAP && sqlite => format!(" INDEXED BY {index}"),
        _ if sqlite => " NOT INDEXED".to_string(),
        _ => String::new(),
    };
    let single = conds
        .iter()
        .filter_map(|(_, i)| *i)
        .collect::<std::collections::HashSet<_>>()
        .len()
        == 1;
    let total = match lead {
        Some((_, n)) if single => n,
        // Every index finds more than the cap: so does the filter, as far as the page says.
        Some((_, n)) if n > COUNT_CAP => n,
        _ => {
            let sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint}{} LIMIT {}) t",
                where_of(None),
                COUNT_CAP + 1
            );
            crate::plans::record(&sql, crate::plans::texts(&binds));
            let mut q = sqlx::query(&sql);
            for b in &binds {
                q = q.bind(b.as_str());
            }
            q.fetch_one(&db.pool).await?.try_get("n")?
        }
    };
    let sql = format!(
        "SELECT id, at, actor, action, subject, detail FROM audit_log{hint}{} ORDER BY id DESC LIMIT {}",
        where_of(before.map(|b| format!("id < {b}"))),
        limit.clamp(1, 1000) + 1
    );
    crate::plans::record(&sql, crate::plans::texts(&binds));
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b.as_str());
    }
    let rows = q.fetch_all(&db.pool).await?;
    let more = rows.len() as i64 > limit;
    let items = rows
        .iter()
        .take(limit as usize)
        .map(AuditEntry::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditPage {
        total: total.min(COUNT_CAP),
        total_exact: total <= COUNT_CAP,
        page: f.page.unwrap_or(1).max(1),
        per_page: limit,
        next: if more { items.last().map(|e| e.id) } else { None },
        items,
    })
}
