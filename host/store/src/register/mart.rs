//! The regional data mart for MSE (ИС «Исполнение ИПРА»: «формирование данных для региональной витрины … доступ МСЭ к
//! данным витрины»): the execution status of each IPRA for the bureau that issued it. The bureaus read it on
//! the pages and the API (role `bureau`, scoped by issuer) and receive it through the exchange: the
//! `status-export` job sends, after each run, what changed since the one before.
//!
//! What changed is found through two cursors per connector, each walking an index in order: IPRAs by
//! `(received_at, id)` (`ipras_sort_received`; the IPRAs a new one replaced go with it) and the lifecycle events
//! of execution records and reports by id (a record made ready, a report sent — when its results count —,
//! accepted or rejected, a death's records), and of IPRAs themselves (`ipra:N`: a cancelled death that opened
//! them again, a corrected death date). The first run walks every IPRA of the register, a batch at a time;
//! after that only what moved. Each IPRA exported is a read of personal data and is logged.

use crate::db::{now, opt_text, Db};
use crate::plugins::model;
use anyhow::Result;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap};

/// Where a connector's export stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    pub ipra_received: String,
    pub ipra_id: i64,
    /// The last lifecycle event (of execution records and reports) taken.
    pub event_id: i64,
}

/// The cursor of a connector's export; a connector that never exported starts at the register's
/// beginning for IPRAs (every IPRA is sent once, as it stands) and at the end of the events.
pub async fn cursor(db: &Db, connector: &str) -> Result<Cursor> {
    if let Some(row) = sqlx::query("SELECT * FROM status_export_cursors WHERE connector = $1")
        .bind(connector)
        .fetch_optional(&db.pool)
        .await?
    {
        return Ok(Cursor {
            ipra_received: row.try_get("ipra_received")?,
            ipra_id: row.try_get("ipra_id")?,
            event_id: row.try_get("event_id")?,
        });
    }
    let last: Option<i64> = sqlx::query("SELECT MAX(id) AS n FROM lifecycle_events")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    Ok(Cursor {
        event_id: last.unwrap_or(0),
        ..Cursor::default()
    })
}

/// Says that the status of a person's IPRAs changed without an execution record or report saying it (a
/// cancelled death opened them again, a corrected death date): a lifecycle event `ipra:N` per IPRA not
/// replaced by another, in the caller's transaction, which the next status export finds.
pub async fn ipras_changed(
    conn: &mut sqlx::AnyConnection,
    person_id: i64,
    from: &str,
    to: &str,
    note: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO lifecycle_events (subject, from_status, to_status, at, actor, note) \
         SELECT 'ipra:' || CAST(id AS TEXT), $1, $2, $3, 'ЗАГС', $4 FROM ipras WHERE person_id = $5 AND superseded_by IS NULL",
    )
    .bind(from)
    .bind(to)
    .bind(now())
    .bind(note)
    .bind(person_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The IPRAs of the execution records and reports events name (`execution:N`, `report:N`), and those named
/// themselves (`ipra:N`).
async fn ipras_of_subjects(db: &Db, subjects: &[String]) -> Result<Vec<i64>> {
    let mut out: Vec<i64> = subjects
        .iter()
        .filter_map(|s| s.strip_prefix("ipra:")?.parse::<i64>().ok())
        .collect();
    for (prefix, table) in [("execution:", "execution_records"), ("report:", "reports")] {
        let ids: Vec<String> = subjects
            .iter()
            .filter_map(|s| s.strip_prefix(prefix)?.parse::<i64>().ok())
            .map(|id| id.to_string())
            .collect();
        for chunk in ids.chunks(500) {
            for row in sqlx::query(&format!(
                "SELECT ipra_id FROM {table} WHERE id IN ({})",
                chunk.join(",")
            ))
            .fetch_all(&db.pool)
            .await?
            {
                out.push(row.try_get("ipra_id")?);
            }
        }
    }
    Ok(out)
}

/// The IPRAs whose status changed past `from` (at most `batch` of each stream), and where the cursor goes
/// once they are exported.
pub async fn changed(db: &Db, from: &Cursor, batch: i64) -> Result<(Vec<i64>, Cursor)> {
    let mut next = from.clone();
    let mut ids = Vec::new();
    let rows = sqlx::query(&format!(
        "SELECT id, received_at FROM ipras WHERE (received_at, id) > ($1, $2) ORDER BY received_at, id LIMIT {batch}"
    ))
    .bind(&from.ipra_received)
    .bind(from.ipra_id)
    .fetch_all(&db.pool)
    .await?;
    let mut new_ipras = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        new_ipras.push(id);
        next.ipra_received = row.try_get("received_at")?;
        next.ipra_id = id;
    }
    ids.extend(&new_ipras);
    // The IPRAs the new ones replaced changed their status with them.
    for chunk in new_ipras.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        for row in sqlx::query(&format!(
            "SELECT id FROM ipras WHERE superseded_by IN ({})",
            list.join(",")
        ))
        .fetch_all(&db.pool)
        .await?
        {
            ids.push(row.try_get("id")?);
        }
    }
    let rows = sqlx::query(&format!(
        "SELECT id, subject FROM lifecycle_events WHERE id > $1 ORDER BY id LIMIT {batch}"
    ))
    .bind(from.event_id)
    .fetch_all(&db.pool)
    .await?;
    let mut subjects = Vec::with_capacity(rows.len());
    for row in &rows {
        subjects.push(row.try_get::<String, _>("subject")?);
        next.event_id = row.try_get("id")?;
    }
    ids.extend(ipras_of_subjects(db, &subjects).await?);
    ids.sort_unstable();
    ids.dedup();
    Ok((ids, next))
}

/// One IPRA as the export carries it.
#[derive(Clone, Debug)]
pub struct IpraStatus {
    pub id: i64,
    pub issued_by: Option<String>,
    /// The person with the IPRA and its measures in `extra` (the connector's `execution-status` step).
    pub person: model::Person,
}

/// The status of these IPRAs: each with its measures and the latest result of each.
pub async fn statuses(db: &Db, ids: &[i64]) -> Result<Vec<IpraStatus>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let list = list.join(",");
        let ipras = sqlx::query(&format!(
            "SELECT i.id, i.number, i.document_id, i.protocol_number, i.protocol_date, i.decision_date, i.valid_until, \
             i.issued_by, i.status, i.snils, s.number AS superseded_number \
             FROM ipras i LEFT JOIN ipras s ON s.id = i.superseded_by WHERE i.id IN ({list}) ORDER BY i.id"
        ))
        .fetch_all(&db.pool)
        .await?;
        let mut measures: BTreeMap<i64, Vec<sqlx::any::AnyRow>> = BTreeMap::new();
        for row in sqlx::query(&format!(
            "SELECT id, ipra_id, measure_key, section, code, name, assigned_ogrn, due_date, status, closed_reason \
             FROM measures WHERE ipra_id IN ({list}) ORDER BY ipra_id, id"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            measures.entry(row.try_get("ipra_id")?).or_default().push(row);
        }
        // The latest record of each measure (records come in id order: the last one wins).
        let mut latest: HashMap<i64, (Option<String>, String)> = HashMap::new();
        for row in sqlx::query(&format!(
            "SELECT measure_id, execution_date, reasons FROM execution_records \
             WHERE ipra_id IN ({list}) AND measure_id IS NOT NULL ORDER BY ipra_id, id"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            latest.insert(
                row.try_get("measure_id")?,
                (
                    opt_text(&row, "execution_date"),
                    opt_text(&row, "reasons").unwrap_or_default(),
                ),
            );
        }
        for row in &ipras {
            let id: i64 = row.try_get("id")?;
            let attr = |code: &str, value: &str| model::Attribute {
                code: code.into(),
                value: value.into(),
            };
            let mut extra = vec![
                attr("ipra-number", &row.try_get::<String, _>("number")?),
                attr("ipra-document-id", &row.try_get::<String, _>("document_id")?),
                attr("protocol-number", &row.try_get::<String, _>("protocol_number")?),
                attr("protocol-date", &row.try_get::<String, _>("protocol_date")?),
                attr("status", &row.try_get::<String, _>("status")?),
            ];
            for (code, column) in [
                ("decision-date", "decision_date"),
                ("valid-until", "valid_until"),
                ("superseded-by", "superseded_number"),
            ] {
                if let Some(v) = opt_text(row, column) {
                    extra.push(attr(code, &v));
                }
            }
            let own = measures.get(&id).map(Vec::as_slice).unwrap_or_default();
            extra.push(attr("measures", &own.len().to_string()));
            for (i, m) in own.iter().enumerate() {
                let at = |field: &str| format!("measure.{}.{field}", i + 1);
                let status: String = m.try_get("status")?;
                extra.push(attr(&at("key"), &m.try_get::<String, _>("measure_key")?));
                extra.push(attr(&at("section"), &m.try_get::<String, _>("section")?));
                extra.push(attr(&at("name"), &m.try_get::<String, _>("name")?));
                extra.push(attr(&at("status"), &status));
                for (code, column) in [
                    ("code", "code"),
                    ("executor-ogrn", "assigned_ogrn"),
                    ("due-date", "due_date"),
                    ("closed-reason", "closed_reason"),
                ] {
                    if let Some(v) = opt_text(m, column) {
                        extra.push(attr(&at(code), &v));
                    }
                }
                // A result reported: when it was executed, or why not.
                if matches!(status.as_str(), "executed" | "not-executed") {
                    if let Some((date, reasons)) = latest.get(&m.try_get::<i64, _>("id")?) {
                        if let Some(date) = date {
                            extra.push(attr(&at("execution-date"), date));
                        }
                        let codes: Vec<String> = serde_json::from_str(reasons).unwrap_or_default();
                        if status == "not-executed" && !codes.is_empty() {
                            extra.push(attr(&at("reasons"), &codes.join(",")));
                        }
                    }
                }
            }
            out.push(IpraStatus {
                id,
                issued_by: opt_text(row, "issued_by").filter(|i| !i.trim().is_empty()),
                person: model::Person {
                    snils: row.try_get("snils")?,
                    surname: String::new(),
                    given_name: String::new(),
                    patronymic: None,
                    birth_date: None,
                    gender: None,
                    territory_code: None,
                    address: None,
                    extra,
                },
            });
        }
    }
    Ok(out)
}

/// After a run: the cursor moves on and every IPRA sent is logged as read by `actor` (one audit entry each,
/// naming the document), in one transaction.
pub async fn advance(db: &Db, connector: &str, next: &Cursor, sent: &[(i64, String)], actor: &str) -> Result<()> {
    use crate::register::store::{chunks, multi_row_insert};
    let at = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "INSERT INTO status_export_cursors (connector, ipra_received, ipra_id, event_id, exported, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connector) DO UPDATE SET ipra_received = excluded.ipra_received, \
         ipra_id = excluded.ipra_id, event_id = excluded.event_id, \
         exported = status_export_cursors.exported + excluded.exported, updated_at = excluded.updated_at",
    )
    .bind(connector)
    .bind(&next.ipra_received)
    .bind(next.ipra_id)
    .bind(next.event_id)
    .bind(sent.len() as i64)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    for range in chunks(sent.len(), 256) {
        let rows = &sent[range];
        let sql = multi_row_insert(
            &tx,
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ",
            rows.len(),
            5,
        );
        let mut query = sqlx::query(&sql);
        for (id, document) in rows {
            query = query
                .bind(at.clone())
                .bind(actor.to_string())
                .bind("ipra.status-export")
                .bind(format!("ipra:{id}"))
                .bind(document.clone());
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
