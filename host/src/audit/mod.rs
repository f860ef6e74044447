//! The audit log: every read of a person's card and every administrative change, append-only.

use crate::db::{now, Db};
use anyhow::Result;

/// Appends one entry: who did what to which subject.
pub async fn record(db: &Db, actor: &str, action: &str, subject: &str, detail: Option<&str>) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .execute(&db.pool)
        .await?;
    Ok(())
}
