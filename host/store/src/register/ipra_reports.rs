//! The execution reports assembled for one IPRA, as the extract card lists them (newest first).

use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::Serialize;
use sqlx::Row;

#[derive(Clone, Debug, Serialize)]
pub struct ReportLine {
    pub id: i64,
    pub status: String,
    pub reporter_ogrn: String,
    pub reporter_name: String,
    pub created_at: String,
    pub due_date: Option<String>,
    pub sent_at: Option<String>,
    pub rejection_reason: Option<String>,
}

/// Reports of an IPRA; with a `scope` (an executor's OGRN) only those its organisation reported.
pub async fn of_ipra(db: &Db, ipra_id: i64, scope: Option<&str>) -> Result<Vec<ReportLine>> {
    sqlx::query(
        "SELECT id, status, reporter_ogrn, reporter_name, created_at, due_date, sent_at, rejection_reason \
         FROM reports WHERE ipra_id = $1 AND ($2 = '' OR reporter_ogrn = $2) ORDER BY id DESC",
    )
    .bind(ipra_id)
    .bind(scope.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| {
        Ok(ReportLine {
            id: r.try_get("id")?,
            status: r.try_get("status")?,
            reporter_ogrn: r.try_get("reporter_ogrn")?,
            reporter_name: r.try_get("reporter_name")?,
            created_at: r.try_get("created_at")?,
            due_date: opt_text(r, "due_date"),
            sent_at: opt_text(r, "sent_at"),
            rejection_reason: opt_text(r, "rejection_reason"),
        })
    })
    .collect()
}
