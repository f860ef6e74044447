//! Death records from ZAGS: matched to a person by SNILS, or by name and birth date only when
//! exactly one person fits; a match closes the person's open measures through the lifecycle.
//! Anything else (no SNILS and several or no candidates, cancellations) waits for a person to decide.

use crate::app::App;
use crate::db::{now, opt_text};
use crate::plugins::runtime::wit;
use anyhow::{bail, Context, Result};
use serde::Serialize;
use sqlx::Row;

fn kind_name(kind: &wit::DeathRecordKind) -> &'static str {
    match kind {
        wit::DeathRecordKind::New => "new",
        wit::DeathRecordKind::Correction => "correction",
        wit::DeathRecordKind::Cancellation => "cancellation",
    }
}

/// Candidates by name and birth date (case-insensitive); SNILS first when the record has one.
async fn candidates(app: &App, death: &wit::DeathRecord) -> Result<Vec<i64>> {
    if let Some(snils) = death.snils.as_deref().filter(|s| !s.is_empty()) {
        let ids = sqlx::query("SELECT id FROM persons WHERE snils = $1")
            .bind(snils)
            .fetch_all(&app.db.pool)
            .await?
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<std::result::Result<Vec<i64>, _>>()?;
        return Ok(ids);
    }
    let Some(birth) = death.birth_date.as_deref().filter(|b| b.len() >= 10) else {
        return Ok(Vec::new());
    };
    // Names compare in Rust: SQLite's UPPER() folds only ASCII letters.
    let wanted = |text: Option<&str>| text.unwrap_or_default().trim().to_uppercase();
    let rows = sqlx::query("SELECT id, surname, given_name, patronymic FROM persons WHERE birth_date = $1")
        .bind(&birth[..10])
        .fetch_all(&app.db.pool)
        .await?;
    let mut ids = Vec::new();
    for r in rows {
        let same = wanted(Some(&r.try_get::<String, _>("surname")?)) == wanted(Some(&death.surname))
            && wanted(Some(&r.try_get::<String, _>("given_name")?)) == wanted(Some(&death.given_name))
            && wanted(opt_text(&r, "patronymic").as_deref()) == wanted(death.patronymic.as_deref());
        if same {
            ids.push(r.try_get("id")?);
        }
    }
    Ok(ids)
}

/// Receives one record; returns a line for the job report.
pub async fn receive(app: &App, death: &wit::DeathRecord) -> Result<String> {
    let kind = kind_name(&death.kind);
    let existing = sqlx::query("SELECT id, status FROM death_records WHERE record_id = $1 AND kind = $2")
        .bind(&death.record_id)
        .bind(kind)
        .fetch_optional(&app.db.pool)
        .await?;
    if let Some(existing) = existing {
        // Applying closes only what is still open: a record received before an instance stopped
        // midway is applied whole now, one applied already changes nothing.
        if existing.try_get::<String, _>("status")? == "applied" {
            apply(app, existing.try_get("id")?, "ЗАГС").await?;
        }
        return Ok(format!("запись ЗАГС {} уже получена", death.record_id));
    }
    let found = candidates(app, death).await?;
    let (status, person_id, note) = match (&death.kind, found.as_slice()) {
        (wit::DeathRecordKind::Cancellation, [id]) => match revert(app, *id).await? {
            true => (
                "cancelled",
                Some(*id),
                Some("запись акта аннулирована: мероприятия открыты вновь"),
            ),
            // Reports with the death reason already went out: a person decides what to do.
            false => (
                "pending",
                Some(*id),
                Some("аннулирование записи акта: по гражданину уже отправлены отчёты, проверьте их"),
            ),
        },
        (wit::DeathRecordKind::Cancellation, _) => (
            "cancelled",
            None,
            Some("аннулирование записи акта, гражданин в реестре не найден"),
        ),
        (_, [id]) if death.death_date.is_some() => ("applied", Some(*id), None),
        (_, [id]) => ("pending", Some(*id), Some("дата смерти не указана")),
        (_, []) => ("no-match", None, Some("гражданин в реестре не найден")),
        (_, _) => (
            "pending",
            None,
            Some("несколько граждан с такими ФИО и датой рождения: требуется решение"),
        ),
    };
    let id: i64 = sqlx::query(
        "INSERT INTO death_records (record_id, kind, snils, surname, given_name, patronymic, birth_date, death_date, act_number, \
         act_date, registry_office, status, person_id, received_at, note) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
    )
    .bind(&death.record_id)
    .bind(kind)
    .bind(death.snils.as_deref())
    .bind(&death.surname)
    .bind(&death.given_name)
    .bind(death.patronymic.as_deref())
    .bind(death.birth_date.as_deref())
    .bind(death.death_date.as_deref())
    .bind(death.act_number.as_deref())
    .bind(death.act_date.as_deref())
    .bind(death.registry_office.as_deref())
    .bind(status)
    .bind(person_id)
    .bind(now())
    .bind(note)
    .fetch_one(&app.db.pool)
    .await?
    .try_get("id")?;
    if status == "applied" {
        crate::crashpoint::here("zags.recorded");
        apply(app, id, "ЗАГС").await?;
        return Ok(format!(
            "запись ЗАГС {}: смерть учтена, мероприятия закрыты",
            death.record_id
        ));
    }
    Ok(format!("запись ЗАГС {}: {}", death.record_id, note.unwrap_or(status)))
}

/// Undoes a death that a cancelled record had caused, when nothing of it was reported yet.
async fn revert(app: &App, person_id: i64) -> Result<bool> {
    let reported: i64 = sqlx::query(
        "SELECT COUNT(*) AS n FROM execution_records e JOIN ipras i ON i.id = e.ipra_id \
         WHERE i.person_id = $1 AND e.created_by = 'ЗАГС' AND e.status = 'reported'",
    )
    .bind(person_id)
    .fetch_one(&app.db.pool)
    .await?
    .try_get("n")?;
    if reported > 0 {
        return Ok(false);
    }
    let mut tx = app.db.pool.begin().await?;
    sqlx::query(
        "UPDATE measures SET status = 'open', closed_reason = NULL WHERE id IN (SELECT e.measure_id FROM execution_records e \
         JOIN ipras i ON i.id = e.ipra_id WHERE i.person_id = $1 AND e.created_by = 'ЗАГС')",
    )
    .bind(person_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM execution_records WHERE created_by = 'ЗАГС' AND ipra_id IN (SELECT id FROM ipras WHERE person_id = $1)")
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE ipras SET status = 'active' WHERE person_id = $1 AND status = 'closed' AND superseded_by IS NULL \
         AND id = (SELECT MAX(id) FROM ipras WHERE person_id = $1 AND superseded_by IS NULL)",
    )
    .bind(person_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE persons SET death_date = NULL, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(true)
}

async fn apply(app: &App, record: i64, actor: &str) -> Result<u64> {
    let row = sqlx::query(
        "SELECT d.death_date, d.act_number, d.record_id, p.snils FROM death_records d JOIN persons p ON p.id = d.person_id WHERE d.id = $1",
    )
    .bind(record)
    .fetch_one(&app.db.pool)
    .await?;
    let death_date = opt_text(&row, "death_date").context("в записи нет даты смерти")?;
    let source = format!(
        "запись акта о смерти {}",
        opt_text(&row, "act_number").unwrap_or_else(|| row.try_get("record_id").unwrap_or_default())
    );
    let snils: String = row.try_get("snils")?;
    crate::register::execution::record_death(app, &snils, &death_date, &source, actor).await
}

#[derive(Clone, Debug, Serialize)]
pub struct DeathRecordView {
    pub id: i64,
    pub record_id: String,
    pub kind: String,
    pub snils: Option<String>,
    pub full_name: String,
    pub birth_date: Option<String>,
    pub death_date: Option<String>,
    pub status: String,
    pub person_id: Option<i64>,
    pub note: Option<String>,
}

fn record_from_row(r: &sqlx::any::AnyRow) -> Result<DeathRecordView> {
    Ok(DeathRecordView {
        id: r.try_get("id")?,
        record_id: r.try_get("record_id")?,
        kind: r.try_get("kind")?,
        snils: opt_text(r, "snils"),
        full_name: format!(
            "{} {} {}",
            r.try_get::<String, _>("surname")?,
            r.try_get::<String, _>("given_name")?,
            opt_text(r, "patronymic").unwrap_or_default()
        )
        .trim()
        .to_string(),
        birth_date: opt_text(r, "birth_date"),
        death_date: opt_text(r, "death_date"),
        status: r.try_get("status")?,
        person_id: r.try_get("person_id").ok().flatten(),
        note: opt_text(r, "note"),
    })
}

/// The statuses of records that wait for a person's decision.
pub const WAITING: &[&str] = &["pending", "no-match"];

/// A page of ZAGS records, newest first: in one of `statuses` (all when empty), below `before`.
pub async fn page(
    db: &crate::db::Db,
    statuses: &[&str],
    before: Option<i64>,
    limit: u32,
) -> Result<crate::paging::Page<DeathRecordView>> {
    let mut q = crate::paging::PageQuery {
        table: "death_records",
        columns: "*",
        conditions: Vec::new(),
        binds: Vec::new(),
        index: None,
    };
    if !statuses.is_empty() {
        let mut list = Vec::new();
        for s in statuses {
            q.binds.push(s.to_string());
            list.push(format!("${}", q.binds.len()));
        }
        q.conditions.push(format!("status IN ({})", list.join(", ")));
        q.index = Some("death_records_status");
    }
    let page = crate::paging::newest_first(db, &q, before, limit).await?;
    let items = page.items.iter().map(record_from_row).collect::<Result<Vec<_>>>()?;
    Ok(page.map_items(items))
}

/// A person's decision on a pending record: apply it to the person with this SNILS, or reject it.
pub async fn decide(app: &App, id: i64, snils: Option<&str>, actor: &str) -> Result<u64> {
    let status: String = sqlx::query("SELECT status FROM death_records WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .context("запись ЗАГС не найдена")?
        .try_get("status")?;
    if !matches!(status.as_str(), "pending" | "no-match") {
        bail!("запись {id} в статусе «{status}»: решение уже принято");
    }
    match snils {
        None => {
            sqlx::query("UPDATE death_records SET status = 'rejected', decided_by = $1 WHERE id = $2")
                .bind(actor)
                .bind(id)
                .execute(&app.db.pool)
                .await?;
            Ok(0)
        }
        Some(snils) => {
            let digits: String = snils.chars().filter(char::is_ascii_digit).collect();
            let person: i64 = sqlx::query("SELECT id FROM persons WHERE snils = $1")
                .bind(&digits)
                .fetch_optional(&app.db.pool)
                .await?
                .context("гражданин с таким СНИЛС не найден")?
                .try_get("id")?;
            sqlx::query("UPDATE death_records SET status = 'applied', person_id = $1, decided_by = $2 WHERE id = $3")
                .bind(person)
                .bind(actor)
                .bind(id)
                .execute(&app.db.pool)
                .await?;
            apply(app, id, actor).await
        }
    }
}
