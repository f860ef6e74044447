//! The audit log as people search it: by actor, action, object and days, newest first, a page at
//! a time, led by the filter's most selective index (pages, API and export all read it here).
//!
//! Newest first is by time (`at`, then the entry's number): the log is written as things happen,
//! so a period's entries are one range of `audit_log_at (at, id)` wherever the period lies. A page
//! walks that index down from the period's end (or the previous page's last entry) and stops at
//! the page, where walking the log by entry number from the newest would pass every later entry
//! first (a month two years back at a million persons: 0.2–1 s on SQLite).

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
    /// The page after this entry, newest first (the `next` of the previous page).
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

/// A condition of the filter: its SQL with `?` for each of its values, and the index that can
/// lead to its rows. Statements take different sets of conditions, so each numbers its own
/// parameters (PostgreSQL refuses values a statement does not use).
struct Condition {
    sql: String,
    values: Vec<String>,
    index: Option<&'static str>,
}

/// A prefix of an indexed text column as a range condition; `column` is the index's first column.
fn prefix_range(column: &str, prefix: &str, values: &mut Vec<String>) -> String {
    values.push(prefix.to_string());
    values.push(format!("{prefix}\u{10FFFF}"));
    format!("({column} >= ? AND {column} < ?)")
}

/// The conditions as one `AND`, with the parameters numbered from `$1`, and their values.
fn joined<'a>(conds: impl IntoIterator<Item = &'a Condition>) -> (String, Vec<String>) {
    let mut parts = Vec::new();
    let mut values: Vec<String> = Vec::new();
    for c in conds {
        let mut sql = String::with_capacity(c.sql.len() + 8);
        let mut own = c.values.iter();
        for piece in c.sql.split_inclusive('?') {
            match piece.strip_suffix('?') {
                Some(before) => {
                    values.push(own.next().cloned().unwrap_or_default());
                    sql.push_str(before);
                    sql.push_str(&format!("${}", values.len()));
                }
                None => sql.push_str(piece),
            }
        }
        parts.push(sql);
    }
    (parts.join(" AND "), values)
}

/// The filter as conditions, each with the index that can lead to its rows; a malformed date is
/// refused with a Russian message naming its field.
fn conditions(f: &AuditFilter) -> Result<Vec<Condition>> {
    let from = check_day(&f.from, "Дата с").map_err(anyhow::Error::msg)?;
    let to = check_day(&f.to, "Дата по").map_err(anyhow::Error::msg)?;
    let mut c = Vec::new();
    let actor = text(&f.actor);
    if !actor.is_empty() {
        // The beginning of the actor, or of the login after any role («ivanov» finds
        // «coordinator:ivanov»).
        let mut values = Vec::new();
        let mut any = vec![prefix_range("actor", &actor, &mut values)];
        if !actor.contains(':') {
            for role in ["administrator", "coordinator", "executor", "auditor", "cli", "user"] {
                any.push(prefix_range("actor", &format!("{role}:{actor}"), &mut values));
            }
        }
        c.push(Condition {
            sql: format!("({})", any.join(" OR ")),
            values,
            index: Some("audit_log_actor"),
        });
    }
    for (column, index, prefix) in [
        ("action", "audit_log_action", text(&f.action)),
        ("subject", "audit_log_subject", text(&f.subject)),
    ] {
        if !prefix.is_empty() {
            let mut values = Vec::new();
            c.push(Condition {
                sql: prefix_range(column, &prefix, &mut values),
                values,
                index: Some(index),
            });
        }
    }
    // `at` is RFC 3339 UTC text, so day bounds compare as text.
    if !from.is_empty() {
        c.push(Condition {
            sql: "at >= ?".into(),
            values: vec![from],
            index: Some("audit_log_at"),
        });
    }
    if !to.is_empty() {
        c.push(Condition {
            sql: "at < ?".into(),
            values: vec![format!("{to}T99")],
            index: Some("audit_log_at"),
        });
    }
    Ok(c)
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
/// sorted), else by walking the log's time index down from the newest entry (or the period's
/// end), checking the filter on each.
pub async fn search_rows(db: &Db, f: &AuditFilter, limit: i64, before: Option<i64>) -> Result<AuditPage> {
    let conds = conditions(f)?;
    let sqlite = db.engine == crate::db::Engine::Sqlite;
    let where_of = |conds: &[&Condition]| -> (String, Vec<String>) {
        match joined(conds.iter().copied()) {
            (sql, values) if sql.is_empty() => (sql, values),
            (sql, values) => (format!(" WHERE {sql}"), values),
        }
    };
    // Each index's share of the filter, counted up to the cap: the smallest leads.
    let mut lead: Option<(&'static str, i64)> = None;
    let mut indexes: Vec<&'static str> = Vec::new();
    for index in conds.iter().filter_map(|c| c.index) {
        if !indexes.contains(&index) {
            indexes.push(index);
        }
    }
    for index in &indexes {
        let (own, values) = joined(conds.iter().filter(|c| c.index == Some(index)));
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
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint} WHERE {own}{order} LIMIT {}) t",
            COUNT_CAP + 1
        );
        let n = count(db, &sql, &values).await?;
        if lead.is_none_or(|(_, m)| n < m) {
            lead = Some((index, n));
        }
    }
    // A few rows: led by their index; else the log walked down its time index, newest first,
    // checking the filter on each row.
    let hint = match lead {
        Some((index, n)) if n <= COUNT_CAP && sqlite => format!(" INDEXED BY {index}"),
        _ if sqlite => " INDEXED BY audit_log_at".to_string(),
        _ => String::new(),
    };
    let all: Vec<&Condition> = conds.iter().collect();
    let total = match lead {
        Some((_, n)) if indexes.len() == 1 => n,
        // Every index finds more than the cap: so does the filter, as far as the page says.
        Some((_, n)) if n > COUNT_CAP => n,
        _ => {
            let (filter, values) = where_of(&all);
            let sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM audit_log{hint}{filter} LIMIT {}) t",
                COUNT_CAP + 1
            );
            count(db, &sql, &values).await?
        }
    };
    // The previous page's last entry: the page goes on below its time (then below its number
    // among entries of the same time). An entry no longer there continues by number alone.
    let after = match before {
        Some(id) => Some(
            match sqlx::query_scalar::<_, String>("SELECT at FROM audit_log WHERE id = $1")
                .bind(id)
                .fetch_optional(&db.pool)
                .await?
            {
                Some(at) => Condition {
                    sql: format!("at <= ? AND (at < ? OR id < {id})"),
                    values: vec![at.clone(), at],
                    index: None,
                },
                None => Condition {
                    sql: format!("id < {id}"),
                    values: Vec::new(),
                    index: None,
                },
            },
        ),
        None => None,
    };
    let (filter, values) = where_of(&all.iter().copied().chain(after.as_ref()).collect::<Vec<_>>());
    let sql = format!(
        "SELECT id, at, actor, action, subject, detail FROM audit_log{hint}{filter} ORDER BY at DESC, id DESC LIMIT {}",
        limit.clamp(1, 1000) + 1
    );
    crate::plans::record(&sql, crate::plans::texts(&values));
    let mut q = sqlx::query(&sql);
    for b in &values {
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

/// A count statement's `n`, recorded for `ipra bench plans`.
async fn count(db: &Db, sql: &str, values: &[String]) -> Result<i64> {
    crate::plans::record(sql, crate::plans::texts(values));
    let mut q = sqlx::query(sql);
    for b in values {
        q = q.bind(b.as_str());
    }
    Ok(q.fetch_one(&db.pool).await?.try_get("n")?)
}
