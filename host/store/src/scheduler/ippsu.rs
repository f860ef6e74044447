//! The `ippsu-outbox` job: the IPPSU drafts the social-protection department builds on import
//! (`ippsu-draft` follow-ups) go out through the job's connector (its `step`), created once per IPRA and
//! corrected when a superseding IPRA arrives or the executor of a social-protection measure changes.
//!
//! Every send is a row of `ippsu_sends` (migration 0028), in three crash-safe steps:
//! 1. planned (`pending`): a create for each open follow-up not yet planned (one row per follow-up, by a
//!    unique index), a correction for each IPRA whose measure was reassigned since the job's cursor in the
//!    history of assignments (moved in the same transaction);
//! 2. queued: the connector's document is queued in the exchange in the same transaction that marks the
//!    send `queued` — a kill between them leaves neither, so a send never becomes two documents;
//! 3. sent once the transport delivered its message; the system's answer (`register::social_services`)
//!    marks it accepted or rejected.
//!
//! A correction after the recipient's death is planned by the death itself, in its transaction
//! (`register::social_services::plan_death_corrections`), and goes out here although the IPRA is closed.
//!
//! A dry run says what would be sent and changes nothing.

use super::jobs::{count, enabled_plugin, plugin_error, send_outbox};
use super::Outcome;
use crate::app::App;
use crate::db::{now, opt_text};
use crate::exchange;
use crate::plugins::model;
use crate::register::social_services::{IPPSU_DRAFT, SECTION};
use crate::register::{deadlines, execution};
use anyhow::{Context, Result};
use serde_json::Value;
use sqlx::Row;

/// What a correction after a superseding IPRA says, and after a reassigned measure.
const NEW_IPRA: &str = "поступила новая ИПРА";
const NEW_EXECUTOR: &str = "изменён исполнитель мероприятия";

/// Sends whose IPPSU АИС СОН holds (or will): a later change of the IPRA is a correction of it.
const OUT: &str = "('queued', 'sent', 'accepted', 'rejected')";

fn attr(code: &str, value: impl Into<String>) -> model::Attribute {
    model::Attribute {
        code: code.into(),
        value: value.into(),
    }
}

/// A send to plan: a create from a follow-up, or a correction.
struct Plan {
    follow_up_id: i64,
    ipra_id: i64,
    action: &'static str,
    previous_ipra_id: Option<i64>,
    reason: Option<&'static str>,
    /// The IPRA was superseded before its IPPSU went out: nothing is sent for it.
    superseded: bool,
}

pub async fn ippsu_outbox(
    app: &App,
    connector: &str,
    config: &Value,
    dry_run: bool,
    instance: &str,
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    let step = config
        .get("step")
        .and_then(Value::as_str)
        .context("в настройках задания нет step (шаг коннектора, формирующий проект ИППСУ)")?
        .to_string();
    let batch = config
        .get("batch")
        .and_then(Value::as_i64)
        .unwrap_or(500)
        .clamp(1, 10_000);
    let plugin = enabled_plugin(app, connector)?;
    if !dry_run {
        // Delivered by a run that stopped before it could say so.
        count(&mut outcome, "sent_before", mark_delivered(app, connector).await?);
    }

    // 1. Plans: creates from new follow-ups, corrections after reassigned measures.
    let plans = new_follow_ups(app, connector, batch).await?;
    let (changed, cursor) = changed_ipras(app, connector, batch).await?;
    if dry_run {
        for plan in &plans {
            let number = ipra_number(app, plan.ipra_id).await?;
            outcome.report.push(if plan.superseded {
                format!("проект ИППСУ по ИПРА № {number} не отправлять: ИПРА заменена новой")
            } else if plan.action == "create" {
                format!("отправить проект ИППСУ по ИПРА № {number}")
            } else {
                format!("отправить исправление проекта ИППСУ по ИПРА № {number}: {NEW_IPRA}")
            });
        }
        for plan in &changed {
            let number = ipra_number(app, plan.ipra_id).await?;
            outcome.report.push(format!(
                "отправить исправление проекта ИППСУ по ИПРА № {number}: {NEW_EXECUTOR}"
            ));
        }
        let pending = pending_sends(app, connector, batch).await?;
        for (_, ipra_id) in &pending {
            let number = ipra_number(app, *ipra_id).await?;
            outcome
                .report
                .push(format!("отправить ожидающий проект ИППСУ по ИПРА № {number}"));
        }
        count(&mut outcome, "planned", (plans.len() + changed.len()) as u64);
        count(&mut outcome, "pending", pending.len() as u64);
        return Ok(outcome);
    }
    let mut planned = 0u64;
    for plan in &plans {
        planned += insert_plan(app, connector, plan, None).await?;
    }
    if let Some(cursor) = cursor {
        planned += plan_changes(app, connector, &changed, cursor).await?;
    }
    count(&mut outcome, "planned", planned);

    // 2. Queued: each pending send's document with its mark, in one transaction.
    let today = deadlines::format_date(deadlines::today());
    for (send_id, ipra_id) in pending_sends(app, connector, batch).await? {
        // An IPRA replaced before its IPPSU went out: the new IPRA's draft goes instead. An IPRA closed
        // by the recipient's death sends only the correction that says so (planned with the death).
        let row = sqlx::query(
            "SELECT i.status, s.action FROM ippsu_sends s JOIN ipras i ON i.id = s.ipra_id WHERE s.id = $1",
        )
        .bind(send_id)
        .fetch_one(&app.db.pool)
        .await?;
        let status: String = row.try_get("status")?;
        let action: String = row.try_get("action")?;
        if status != "active" && !(status == "closed" && action == "correct") {
            sqlx::query("UPDATE ippsu_sends SET status = 'superseded' WHERE id = $1 AND status = 'pending'")
                .bind(send_id)
                .execute(&app.db.pool)
                .await?;
            outcome.report.push(format!(
                "проект ИППСУ по ИПРА {ipra_id} не отправлен: ИПРА заменена новой"
            ));
            continue;
        }
        let input = match plan_input(app, send_id, &step, &today).await? {
            Ok(input) => model::ExportInput::Requests(input),
            Err(why) => {
                outcome.errors.push(why);
                continue;
            }
        };
        let docs = match app
            .plugins
            .call_async(plugin.clone(), move |host, p| host.export(p, input))
            .await
        {
            Ok(Ok(docs)) => docs,
            Ok(Err(e)) => {
                outcome.errors.push(format!(
                    "проект ИППСУ по ИПРА {ipra_id} (отправка {send_id}) не сформирован: {}",
                    plugin_error(&e)
                ));
                continue;
            }
            Err(call) => {
                outcome
                    .errors
                    .push(format!("проект ИППСУ по ИПРА {ipra_id} (отправка {send_id}): {call}"));
                continue;
            }
        };
        let Some(document) = docs.into_iter().next() else {
            outcome.errors.push(format!(
                "проект ИППСУ по ИПРА {ipra_id} (отправка {send_id}): коннектор не вернул документа"
            ));
            continue;
        };
        let mut tx = app.db.pool.begin().await?;
        let message = exchange::queue_outgoing_in(&mut tx, connector, "ippsu", &document.name, &document.bytes).await?;
        let marked = sqlx::query(
            "UPDATE ippsu_sends SET status = 'queued', document_name = $1, message_id = $2, queued_at = $3 \
             WHERE id = $4 AND status = 'pending'",
        )
        .bind(&document.name)
        .bind(message)
        .bind(now())
        .bind(send_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked != 1 {
            // Queued by another instance meanwhile: this document is not kept.
            tx.rollback().await?;
            continue;
        }
        crate::crashpoint::here("ippsu.marking");
        tx.commit().await?;
        crate::crashpoint::here("ippsu.queued");
        // The person's data went into the document: a read of personal data.
        crate::audit::record(
            &app.db,
            &format!("exchange:{connector}"),
            "ippsu.queued",
            &format!("ipra:{ipra_id}"),
            Some(&document.name),
        )
        .await?;
        count(&mut outcome, "queued", 1);
        outcome.report.push(format!(
            "проект ИППСУ {} (ИПРА {ipra_id}) поставлен в очередь",
            document.name
        ));
    }

    // 3. Sent.
    send_outbox(app, connector, config, instance, &mut outcome).await?;
    count(&mut outcome, "delivered", mark_delivered(app, connector).await?);
    Ok(outcome)
}

/// A setting of the jobs of `kind` serving `connector`, as they run (an administrator's settings over
/// the declared ones): the first such job that has it. The connector's inbox job carries, for one,
/// what the services it brings become (`results`).
pub(crate) async fn connector_setting(app: &App, connector: &str, kind: &str, key: &str) -> Result<Option<Value>> {
    let rows = sqlx::query("SELECT name, config FROM jobs WHERE kind = $1 ORDER BY name")
        .bind(kind)
        .fetch_all(&app.db.pool)
        .await?;
    for row in rows {
        let stored = serde_json::from_str(&row.try_get::<String, _>("config")?).unwrap_or(Value::Null);
        let settings = super::with_declared_settings(app, &row.try_get::<String, _>("name")?, stored);
        if settings.get("connector").and_then(Value::as_str) == Some(connector) {
            if let Some(value) = settings.get(key) {
                return Ok(Some(value.clone()));
            }
        }
    }
    Ok(None)
}

async fn ipra_number(app: &App, ipra_id: i64) -> Result<String> {
    Ok(sqlx::query("SELECT number FROM ipras WHERE id = $1")
        .bind(ipra_id)
        .fetch_one(&app.db.pool)
        .await?
        .try_get("number")?)
}

/// Open `ippsu-draft` follow-ups no send was planned from, oldest first: a create, or a correction
/// when an IPRA this one superseded had its IPPSU sent.
async fn new_follow_ups(app: &App, connector: &str, batch: i64) -> Result<Vec<Plan>> {
    let rows = sqlx::query(&format!(
        "SELECT f.id, f.ipra_id, i.status FROM follow_ups f JOIN ipras i ON i.id = f.ipra_id \
         WHERE f.kind = $1 AND f.status = 'open' \
         AND NOT EXISTS (SELECT 1 FROM ippsu_sends s WHERE s.follow_up_id = f.id AND s.action = 'create') \
         ORDER BY f.id LIMIT {batch}"
    ))
    .bind(IPPSU_DRAFT)
    .fetch_all(&app.db.pool)
    .await?;
    let mut plans = Vec::with_capacity(rows.len());
    for row in rows {
        let ipra_id: i64 = row.try_get("ipra_id")?;
        let superseded = row.try_get::<String, _>("status")? != "active";
        let previous = if superseded {
            None
        } else {
            previous_sent(app, connector, ipra_id).await?
        };
        plans.push(Plan {
            follow_up_id: row.try_get("id")?,
            ipra_id,
            action: if previous.is_some() { "correct" } else { "create" },
            previous_ipra_id: previous,
            reason: previous.map(|_| NEW_IPRA),
            superseded,
        });
    }
    Ok(plans)
}

/// The latest IPRA this one superseded (directly or through IPRAs never sent) whose IPPSU went out.
async fn previous_sent(app: &App, connector: &str, ipra_id: i64) -> Result<Option<i64>> {
    let mut current = ipra_id;
    for _ in 0..32 {
        let Some(row) = sqlx::query("SELECT id FROM ipras WHERE superseded_by = $1 ORDER BY id DESC LIMIT 1")
            .bind(current)
            .fetch_optional(&app.db.pool)
            .await?
        else {
            return Ok(None);
        };
        let previous: i64 = row.try_get("id")?;
        let sent = sqlx::query(&format!(
            "SELECT id FROM ippsu_sends WHERE ipra_id = $1 AND connector = $2 AND status IN {OUT} LIMIT 1"
        ))
        .bind(previous)
        .bind(connector)
        .fetch_optional(&app.db.pool)
        .await?;
        if sent.is_some() {
            return Ok(Some(previous));
        }
        current = previous;
    }
    Ok(None)
}

/// Plans one send, with the follow-up closed when its IPRA was superseded before it went out; a
/// create planned already (another instance) is left as it is. Returns the sends planned.
async fn insert_plan(app: &App, connector: &str, plan: &Plan, conn: Option<&mut sqlx::AnyConnection>) -> Result<u64> {
    let sql = "INSERT INTO ippsu_sends (connector, follow_up_id, ipra_id, action, previous_ipra_id, reason, status, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING";
    let query = sqlx::query(sql)
        .bind(connector)
        .bind(plan.follow_up_id)
        .bind(plan.ipra_id)
        .bind(plan.action)
        .bind(plan.previous_ipra_id)
        .bind(plan.reason)
        .bind(if plan.superseded { "superseded" } else { "pending" })
        .bind(now());
    match conn {
        Some(conn) => Ok(query.execute(&mut *conn).await?.rows_affected()),
        None if plan.superseded => {
            let mut tx = app.db.pool.begin().await?;
            query.execute(&mut *tx).await?;
            sqlx::query("UPDATE follow_ups SET status = 'closed' WHERE id = $1 AND status = 'open'")
                .bind(plan.follow_up_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(0)
        }
        None => Ok(query.execute(&app.db.pool).await?.rows_affected()),
    }
}

/// Where the connector's outbox stands in the history of assignments: the last id read, and the ids
/// below it not seen yet with when they were first missed (a transaction that took an id may commit
/// after a later one on PostgreSQL; a gap is given up after [`GAP_PATIENCE`] seconds).
struct Cursor {
    id: i64,
    gaps: Vec<(i64, i64)>,
}

const GAP_PATIENCE: i64 = 600;
const MAX_GAPS: usize = 1000;

/// IPRAs whose social-protection measure was reassigned past the connector's cursor in the history
/// of assignments, with an IPPSU out and no correction waiting; and where the cursor moves to.
/// The first run starts from the history's end: what changed before was in the IPPSU sent since.
async fn changed_ipras(app: &App, connector: &str, batch: i64) -> Result<(Vec<Plan>, Option<Cursor>)> {
    let stored = sqlx::query("SELECT assignment_id, gaps FROM ippsu_change_cursors WHERE connector = $1")
        .bind(connector)
        .fetch_optional(&app.db.pool)
        .await?;
    let Some(stored) = stored else {
        let end: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) AS n FROM measure_assignments")
            .fetch_one(&app.db.pool)
            .await?
            .try_get("n")?;
        return Ok((
            Vec::new(),
            Some(Cursor {
                id: end,
                gaps: Vec::new(),
            }),
        ));
    };
    let mut cursor = Cursor {
        id: stored.try_get("assignment_id")?,
        gaps: serde_json::from_str(&stored.try_get::<String, _>("gaps")?).unwrap_or_default(),
    };
    let mut sql = String::from(
        "SELECT a.id, m.ipra_id, m.section FROM measure_assignments a JOIN measures m ON m.id = a.measure_id WHERE a.id > $1",
    );
    if !cursor.gaps.is_empty() {
        let list: Vec<String> = cursor.gaps.iter().map(|(id, _)| id.to_string()).collect();
        sql.push_str(&format!(" OR a.id IN ({})", list.join(", ")));
    }
    sql.push_str(&format!(" ORDER BY a.id LIMIT {batch}"));
    let rows = sqlx::query(&sql).bind(cursor.id).fetch_all(&app.db.pool).await?;
    let at = crate::clock::now().unix_timestamp();
    let before = (cursor.id, cursor.gaps.len());
    let mut ipras: Vec<i64> = Vec::new();
    for row in &rows {
        let id: i64 = row.try_get("id")?;
        if id <= cursor.id {
            cursor.gaps.retain(|(gap, _)| *gap != id);
        } else {
            cursor.gaps.extend((cursor.id + 1..id).map(|missing| (missing, at)));
            cursor.id = id;
        }
        let ipra_id: i64 = row.try_get("ipra_id")?;
        if row.try_get::<String, _>("section")? == SECTION && !ipras.contains(&ipra_id) {
            ipras.push(ipra_id);
        }
    }
    cursor.gaps.retain(|(_, since)| at - since < GAP_PATIENCE);
    if cursor.gaps.len() > MAX_GAPS {
        cursor.gaps.drain(..cursor.gaps.len() - MAX_GAPS);
    }
    let mut plans: Vec<Plan> = Vec::new();
    for ipra_id in ipras {
        // The IPPSU out for this IPRA (its follow-up), unless a correction already waits.
        let sent = sqlx::query(&format!(
            "SELECT follow_up_id FROM ippsu_sends WHERE ipra_id = $1 AND connector = $2 AND status IN {OUT} \
             ORDER BY id DESC LIMIT 1"
        ))
        .bind(ipra_id)
        .bind(connector)
        .fetch_optional(&app.db.pool)
        .await?;
        let Some(sent) = sent else { continue };
        let waiting = sqlx::query(
            "SELECT id FROM ippsu_sends WHERE ipra_id = $1 AND connector = $2 AND status = 'pending' LIMIT 1",
        )
        .bind(ipra_id)
        .bind(connector)
        .fetch_optional(&app.db.pool)
        .await?;
        if waiting.is_some() {
            continue;
        }
        plans.push(Plan {
            follow_up_id: sent.try_get("follow_up_id")?,
            ipra_id,
            action: "correct",
            previous_ipra_id: None,
            reason: Some(NEW_EXECUTOR),
            superseded: false,
        });
    }
    let moved = (cursor.id, cursor.gaps.len()) != before;
    Ok((plans, moved.then_some(cursor)))
}

/// Plans the corrections after reassignments and moves the cursor, in one transaction.
async fn plan_changes(app: &App, connector: &str, plans: &[Plan], cursor: Cursor) -> Result<u64> {
    let mut tx = app.db.pool.begin().await?;
    let mut planned = 0;
    for plan in plans {
        planned += insert_plan(app, connector, plan, Some(&mut tx)).await?;
    }
    sqlx::query(
        "INSERT INTO ippsu_change_cursors (connector, assignment_id, gaps, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connector) DO UPDATE SET assignment_id = excluded.assignment_id, gaps = excluded.gaps, \
         updated_at = excluded.updated_at",
    )
    .bind(connector)
    .bind(cursor.id)
    .bind(serde_json::to_string(&cursor.gaps)?)
    .bind(now())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(planned)
}

/// The connector's sends waiting to be queued, oldest first: (send, IPRA).
async fn pending_sends(app: &App, connector: &str, batch: i64) -> Result<Vec<(i64, i64)>> {
    sqlx::query(&format!(
        "SELECT id, ipra_id FROM ippsu_sends WHERE connector = $1 AND status = 'pending' ORDER BY id LIMIT {batch}"
    ))
    .bind(connector)
    .fetch_all(&app.db.pool)
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, r.try_get("ipra_id")?)))
    .collect()
}

/// What the connector's step gets for one send: the recipient as the register has them now, the
/// follow-up's attributes (each service's provider the measure's executor now), the send's own.
async fn plan_input(
    app: &App,
    send_id: i64,
    step: &str,
    today: &str,
) -> Result<std::result::Result<model::PlanInput, String>> {
    let send = sqlx::query(
        "SELECT s.ipra_id, s.action, s.reason, s.previous_ipra_id, f.attributes, p.document_id AS previous_document_id \
         FROM ippsu_sends s JOIN follow_ups f ON f.id = s.follow_up_id LEFT JOIN ipras p ON p.id = s.previous_ipra_id \
         WHERE s.id = $1",
    )
    .bind(send_id)
    .fetch_one(&app.db.pool)
    .await?;
    let ipra_id: i64 = send.try_get("ipra_id")?;
    let mut conn = app.db.pool.acquire().await?;
    let Some(ipra) = execution::load_ipra(&mut conn, ipra_id).await? else {
        return Ok(Err(format!("отправка {send_id}: ИПРА {ipra_id} не найдена")));
    };
    let executors: Vec<(String, Option<String>)> =
        sqlx::query("SELECT measure_key, assigned_ogrn FROM measures WHERE ipra_id = $1 AND section = $2")
            .bind(ipra_id)
            .bind(SECTION)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("measure_key")?, opt_text(r, "assigned_ogrn"))))
            .collect::<Result<_>>()?;
    let stored: Vec<(String, String)> =
        serde_json::from_str(&send.try_get::<String, _>("attributes")?).unwrap_or_default();
    let mut extra: Vec<model::Attribute> = Vec::with_capacity(stored.len() + 10);
    for (code, value) in &stored {
        extra.push(attr(code, value.clone()));
    }
    // Each service's provider: the organisation its measure is assigned to now.
    let keys: Vec<(String, String)> = extra
        .iter()
        .filter_map(|a| {
            let index = a.code.strip_prefix("service.")?.strip_suffix(".key")?;
            Some((index.to_string(), a.value.clone()))
        })
        .collect();
    for (index, key) in keys {
        let Some((_, Some(ogrn))) = executors.iter().find(|(k, _)| *k == key) else {
            continue;
        };
        let code = format!("service.{index}.provider-ogrn");
        match extra.iter_mut().find(|a| a.code == code) {
            Some(a) => a.value = ogrn.clone(),
            None => extra.push(attr(&code, ogrn.clone())),
        }
    }
    let action: String = send.try_get("action")?;
    extra.push(attr("message-id", format!("{ipra_id}-{send_id}")));
    extra.push(attr("action", action));
    if let Some(previous) = opt_text(&send, "previous_document_id") {
        extra.push(attr("previous-ipra-document-id", previous));
    }
    if let Some(reason) = opt_text(&send, "reason") {
        extra.push(attr("reason", reason));
    }
    extra.push(attr("ipra-protocol-number", ipra.protocol_number.clone()));
    extra.push(attr("ipra-protocol-date", ipra.protocol_date.clone()));
    for (code, value) in [
        ("ipra-decision-date", &ipra.decision_date),
        ("ipra-valid-until", &ipra.valid_until),
        ("ipra-issued-by", &ipra.issued_by),
    ] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            extra.push(attr(code, value));
        }
    }
    Ok(Ok(model::PlanInput {
        step: step.to_string(),
        persons: vec![ipra.person],
        today: today.to_string(),
        extra,
    }))
}

/// Queued sends whose message the transport delivered → `sent` (and the follow-up with them).
async fn mark_delivered(app: &App, connector: &str) -> Result<u64> {
    let delivered = sqlx::query(
        "SELECT s.id, s.follow_up_id, m.updated_at FROM ippsu_sends s JOIN exchange_messages m ON m.id = s.message_id \
         WHERE s.connector = $1 AND s.status = 'queued' AND m.status = 'sent' ORDER BY s.id",
    )
    .bind(connector)
    .fetch_all(&app.db.pool)
    .await?;
    for row in &delivered {
        let mut tx = app.db.pool.begin().await?;
        sqlx::query("UPDATE ippsu_sends SET status = 'sent', sent_at = $1 WHERE id = $2 AND status = 'queued'")
            .bind(row.try_get::<String, _>("updated_at")?)
            .bind(row.try_get::<i64, _>("id")?)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE follow_ups SET status = 'sent' WHERE id = $1 AND status = 'open'")
            .bind(row.try_get::<i64, _>("follow_up_id")?)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(delivered.len() as u64)
}
