//! The execution reports assembled for one IPRA, as the extract card lists them (newest first).

use crate::db::Db;
use anyhow::Result;
use serde::Serialize;
use sqlx::FromRow;

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
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
    .map(ReportLine::from_row)
    .collect::<Result<_, _>>()
    .map_err(Into::into)
}
