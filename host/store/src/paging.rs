//! Pages of the work lists that show the newest first (reports, exchange messages, ZAGS records,
//! the audit log): rows taken through an index in id order, the next page starting below the last
//! id shown, so that every page costs the same however deep; totals counted up to a cap.

use crate::db::Db;
use anyhow::Result;
use serde::Serialize;
use sqlx::Row;

/// Rows counted exactly up to this many; beyond, a list says "more than".
pub const COUNT_CAP: i64 = 10_000;

/// One page of rows, newest first.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows the filter finds: exact when `total_exact`, else at least this many.
    pub total: i64,
    pub total_exact: bool,
    /// The id to continue below (`before=`), when more rows follow.
    pub next: Option<i64>,
}

impl<T> Page<T> {
    /// The same page carrying other items (the rows read into views).
    pub fn map_items<U>(&self, items: Vec<U>) -> Page<U> {
        Page {
            items,
            total: self.total,
            total_exact: self.total_exact,
            next: self.next,
        }
    }
}

/// The query of a page: `table` (with an alias-free `id`), the SQL conditions with `$n` placeholders
/// bound to `binds` in order, and SQLite's index to walk (PostgreSQL's planner chooses).
pub struct PageQuery<'a> {
    pub table: &'a str,
    pub columns: &'a str,
    pub conditions: Vec<String>,
    pub binds: Vec<String>,
    pub index: Option<&'a str>,
}

impl PageQuery<'_> {
    /// Adds a condition; `?` stands for the value.
    pub fn filter(&mut self, sql: &str, value: impl Into<String>) {
        self.binds.push(value.into());
        self.conditions
            .push(sql.replace('?', &format!("${}", self.binds.len())));
    }
}

/// The page of rows with ids below `before` (the first page without), `limit` of them.
pub async fn newest_first(
    db: &Db,
    q: &PageQuery<'_>,
    before: Option<i64>,
    limit: u32,
) -> Result<Page<sqlx::any::AnyRow>> {
    let limit = limit.clamp(1, 1000);
    let hint = match (db.engine, q.index) {
        (crate::db::Engine::Sqlite, Some(index)) => format!(" INDEXED BY {index}"),
        _ => String::new(),
    };
    let mut conditions = q.conditions.clone();
    let where_of = |c: &[String]| {
        if c.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", c.join(" AND "))
        }
    };
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {}{hint}{} LIMIT {}) t",
        q.table,
        where_of(&conditions),
        COUNT_CAP + 1
    );
    crate::plans::record(&count_sql, crate::plans::texts(&q.binds));
    let mut count = sqlx::query(&count_sql);
    for b in &q.binds {
        count = count.bind(b.as_str());
    }
    let total: i64 = count.fetch_one(&db.pool).await?.try_get("n")?;
    if let Some(id) = before {
        conditions.push(format!("id < {id}"));
    }
    let sql = format!(
        "SELECT {} FROM {}{hint}{} ORDER BY id DESC LIMIT {}",
        q.columns,
        q.table,
        where_of(&conditions),
        limit + 1
    );
    crate::plans::record(&sql, crate::plans::texts(&q.binds));
    let mut select = sqlx::query(&sql);
    for b in &q.binds {
        select = select.bind(b.as_str());
    }
    let mut rows = select.fetch_all(&db.pool).await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|r| r.try_get::<i64, _>("id")).transpose()?
    } else {
        None
    };
    Ok(Page {
        items: rows,
        total: total.min(COUNT_CAP),
        total_exact: total <= COUNT_CAP,
        next,
    })
}

/// Percent-encodes a query-string value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
