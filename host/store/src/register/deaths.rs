//! Death records from ZAGS: matched to a person by SNILS, or by name and birth date only when
//! exactly one person fits; a match closes the person's open measures through the lifecycle.
//! Anything else (no SNILS and several or no candidates, cancellations, doubtful dates) waits for a
//! person to decide.

use crate::app::App;
use crate::db::{now, opt_text, Db};
use crate::plugins::model;
use anyhow::{Context, Result};
use serde::Serialize;
use sqlx::Row;

fn kind_name(kind: &model::DeathRecordKind) -> &'static str {
    match kind {
        model::DeathRecordKind::New => "new",
        model::DeathRecordKind::Correction => "correction",
        model::DeathRecordKind::Cancellation => "cancellation",
    }
}

/// Candidates by name and birth date (case-insensitive); SNILS first when the record has one.
async fn candidates(app: &App, death: &model::DeathRecord) -> Result<Vec<i64>> {
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

/// Whether `text` is a real date as ZAGS gives one: `YYYY-MM-DD`, or partial `YYYY-MM` / `YYYY`.
fn real_date(text: &str) -> bool {
    let number = |part: Option<&str>| {
        part.filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u16>().ok())
    };
    match text.len() {
        10 => crate::register::deadlines::parse_date(text).is_some(),
        7 => {
            number(text.get(..4)).is_some()
                && text.get(4..5) == Some("-")
                && matches!(number(text.get(5..)), Some(1..=12))
        }
        4 => number(Some(text)).is_some(),
        _ => false,
    }
}

/// Whether date `a` lies before date `b`, compared at the precision both know (`2021-02` is not
/// before `2021-02-15`: the day may be any of the month).
fn precedes(a: &str, b: &str) -> bool {
    let known = a.len().min(b.len());
    match (a.get(..known), b.get(..known)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

/// Why a death date cannot be recorded whoever confirms it: it is no date, or it is after today
/// (the installation's clock). `None` when it may be.
pub fn impossible(death_date: &str) -> Option<String> {
    if !real_date(death_date) {
        return Some(format!("дата смерти «{death_date}» не является датой"));
    }
    let today = crate::register::deadlines::format_date(crate::clock::today());
    precedes(&today, death_date).then(|| format!("дата смерти {death_date} позже сегодняшней даты {today}"))
}

/// What makes a record doubtful, in Russian, one reason each: the death date is impossible, before
/// the birth date (the record's, or the register's for the matched person), or after the act that
/// records it; and whatever the connector itself doubted (`doubt` attributes). Empty: it may be applied.
async fn doubts(app: &App, death: &model::DeathRecord, person: Option<i64>) -> Result<Vec<String>> {
    let mut doubts = Vec::new();
    if let Some(died) = death.death_date.as_deref() {
        if let Some(why) = impossible(died) {
            doubts.push(why);
        } else {
            let record_birth = death.birth_date.as_deref().filter(|b| real_date(b));
            if let Some(born) = record_birth.filter(|born| precedes(died, born)) {
                doubts.push(format!("дата смерти {died} раньше даты рождения {born} в записи ЗАГС"));
            }
            if let Some(id) = person {
                let born = sqlx::query("SELECT birth_date FROM persons WHERE id = $1")
                    .bind(id)
                    .fetch_one(&app.db.pool)
                    .await
                    .map(|r| opt_text(&r, "birth_date"))?;
                if let Some(born) = born.filter(|b| precedes(died, b) && Some(b.as_str()) != record_birth) {
                    doubts.push(format!(
                        "дата смерти {died} раньше даты рождения гражданина в реестре {born}"
                    ));
                }
            }
            match death.act_date.as_deref() {
                Some(act) if !real_date(act) => doubts.push(format!("дата записи акта «{act}» не является датой")),
                Some(act) if precedes(act, died) => {
                    doubts.push(format!("дата записи акта {act} раньше даты смерти {died}"))
                }
                _ => {}
            }
        }
    }
    for doubt in death.extra.iter().filter(|a| a.code == "doubt") {
        if !doubts.contains(&doubt.value) {
            doubts.push(doubt.value.clone());
        }
    }
    Ok(doubts)
}

/// A note naming what else is doubtful in a record that waits anyway.
fn and_doubts(note: &str, doubts: &[String]) -> String {
    if doubts.is_empty() {
        note.to_string()
    } else {
        format!("{note}; кроме того: {}", doubts.join("; "))
    }
}

/// Receives one record; returns a line for the job report.
/// Persons with an IPRA in force, alive as far as the register knows, not checked against the
/// registry of deaths in `recheck_days`: at most `limit`, by SNILS.
pub async fn persons_to_check(db: &Db, recheck_days: i64, limit: i64) -> Result<Vec<model::Person>> {
    let threshold = (crate::clock::now() - time::Duration::days(recheck_days))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let rows = sqlx::query(&format!(
        "SELECT DISTINCT p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender FROM persons p \
         JOIN ipras i ON i.person_id = p.id AND i.status = 'active' \
         WHERE p.death_date IS NULL AND (p.zags_checked_at IS NULL OR p.zags_checked_at < $1) ORDER BY p.snils LIMIT {}",
        limit.clamp(1, 10_000)
    ))
    .bind(&threshold)
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| -> Result<model::Person> {
            Ok(model::Person {
                snils: r.try_get("snils")?,
                surname: r.try_get("surname")?,
                given_name: r.try_get("given_name")?,
                patronymic: crate::db::opt_text(r, "patronymic"),
                birth_date: crate::db::opt_text(r, "birth_date"),
                gender: crate::db::opt_text(r, "gender"),
                territory_code: None,
                address: None,
                extra: Vec::new(),
            })
        })
        .collect()
}

/// Notes that these persons were just asked about.
pub async fn mark_checked(db: &Db, snils: &[String]) -> Result<()> {
    let at = crate::db::now();
    for s in snils {
        sqlx::query("UPDATE persons SET zags_checked_at = $1 WHERE snils = $2")
            .bind(&at)
            .bind(s)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

pub async fn receive(app: &App, death: &model::DeathRecord) -> Result<String> {
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
    let matched = match found.as_slice() {
        [id] => Some(*id),
        _ => None,
    };
    let doubts = match death.kind {
        model::DeathRecordKind::Cancellation => Vec::new(),
        _ => doubts(app, death, matched).await?,
    };
    let (status, person_id, note): (&str, Option<i64>, Option<String>) = match (&death.kind, matched) {
        (model::DeathRecordKind::Cancellation, Some(id)) => match revert(app, id).await? {
            true => (
                "cancelled",
                Some(id),
                Some("запись акта аннулирована: мероприятия открыты вновь".into()),
            ),
            // Reports with the death reason already went out: a person decides what to do.
            false => (
                "pending",
                Some(id),
                Some("аннулирование записи акта: по гражданину уже отправлены отчёты, проверьте их".into()),
            ),
        },
        (model::DeathRecordKind::Cancellation, None) => (
            "cancelled",
            None,
            Some("аннулирование записи акта, гражданин в реестре не найден".into()),
        ),
        (_, Some(id)) if death.death_date.is_none() => ("pending", Some(id), Some("дата смерти не указана".into())),
        (_, Some(id)) if doubts.is_empty() => ("applied", Some(id), None),
        // A doubtful record is never applied on its own: a person confirms or rejects it.
        (_, Some(id)) => (
            "pending",
            Some(id),
            Some(format!(
                "смерть не учтена, запись требует проверки: {}",
                doubts.join("; ")
            )),
        ),
        (_, None) if found.is_empty() => (
            "no-match",
            None,
            Some(and_doubts("гражданин в реестре не найден", &doubts)),
        ),
        (_, None) => (
            "pending",
            None,
            Some(and_doubts(
                "несколько граждан с такими ФИО и датой рождения: требуется решение",
                &doubts,
            )),
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
    .bind(note.as_deref())
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
    Ok(format!(
        "запись ЗАГС {}: {}",
        death.record_id,
        note.as_deref().unwrap_or(status)
    ))
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
    // The IPPSU corrected after the death is corrected again: the services go on.
    crate::register::social_services::plan_person_corrections(
        &mut tx,
        person_id,
        crate::register::social_services::DEATH_CANCELLED,
        &now(),
    )
    .await?;
    sqlx::query("UPDATE persons SET death_date = NULL, updated_at = $1 WHERE id = $2")
        .bind(now())
        .bind(person_id)
        .execute(&mut *tx)
        .await?;
    // The IPRAs' status changed back: the status export (`mart::changed`) sends them again.
    crate::register::mart::ipras_changed(
        &mut tx,
        person_id,
        "closed",
        "active",
        "аннулирование записи акта о смерти",
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}

async fn apply(app: &App, record: i64, actor: &str) -> Result<u64> {
    let row = sqlx::query(
        "SELECT d.death_date, d.act_number, d.record_id, d.kind, d.person_id, p.snils FROM death_records d JOIN persons p ON p.id = d.person_id WHERE d.id = $1",
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
    let kind: String = row.try_get("kind")?;
    let person_id: i64 = row.try_get("person_id")?;
    let closed = crate::register::execution::record_death(app, &snils, &death_date, &source, actor).await?;
    // A corrected death date changes nothing open; the status export still sends the IPRAs again (applying
    // once more after a stop sends them once more: harmless).
    if kind == "correction" {
        let mut conn = app.db.pool.acquire().await?;
        let note = format!("исправлена дата смерти: {death_date}");
        crate::register::mart::ipras_changed(&mut conn, person_id, "closed", "closed", &note).await?;
    }
    Ok(closed)
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
/// A death date that is no date or lies after today is refused whoever confirms it.
pub async fn decide(app: &App, id: i64, snils: Option<&str>, actor: &str) -> Result<u64> {
    let row = sqlx::query("SELECT status, death_date FROM death_records WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .context("запись ЗАГС не найдена")?;
    let status: String = row.try_get("status")?;
    if !matches!(status.as_str(), "pending" | "no-match") {
        return Err(crate::refusal::conflict(format!(
            "запись {id} в статусе «{status}»: решение уже принято"
        )));
    }
    if snils.is_some() {
        let death_date = opt_text(&row, "death_date")
            .with_context(|| format!("запись {id}: в записи нет даты смерти, подтвердить её нельзя — отклоните её"))?;
        if let Some(why) = impossible(&death_date) {
            return Err(crate::refusal::conflict(format!(
                "запись {id}: {why} — смерть не может быть учтена; отклоните запись или дождитесь исправления от ЗАГС"
            )));
        }
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

/// A person of the register who may be the one a death record names: same surname and given name,
/// and the same birth date when the record has one.
pub struct Candidate {
    pub id: i64,
    pub snils: String,
    pub full_name: String,
    pub birth_date: Option<String>,
    pub ipra: Option<i64>,
}

pub async fn namesakes(db: &Db, record: &DeathRecordView) -> Result<Vec<Candidate>> {
    let mut words = record.full_name.split_whitespace();
    let (Some(surname), Some(given)) = (words.next(), words.next()) else {
        return Ok(Vec::new());
    };
    // Namesakes by the beginning of the name (a range of the name's index), then the birth date.
    let prefix = format!("{} {}", surname.to_uppercase(), given.to_uppercase());
    let rows = sqlx::query(
        "SELECT p.id, p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, \
         (SELECT MAX(i.id) FROM ipras i WHERE i.person_id = p.id) AS ipra \
         FROM persons p WHERE p.search_name >= $1 AND p.search_name < $3 AND ($2 = '' OR p.birth_date = $2) \
         ORDER BY p.search_name, p.id LIMIT 20",
    )
    .bind(prefix.clone())
    .bind(record.birth_date.clone().unwrap_or_default())
    .bind(format!("{prefix}\u{10FFFF}"))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Candidate {
                id: r.try_get("id")?,
                snils: r.try_get("snils")?,
                full_name: format!(
                    "{} {} {}",
                    r.try_get::<String, _>("surname")?,
                    r.try_get::<String, _>("given_name")?,
                    crate::db::opt_text(r, "patronymic").unwrap_or_default()
                )
                .trim()
                .to_string(),
                birth_date: crate::db::opt_text(r, "birth_date"),
                ipra: r.try_get::<Option<i64>, _>("ipra").ok().flatten(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn death_dates_are_real_and_not_after_today() {
        for real in ["2021-02-26", "2021-02", "2021"] {
            assert!(real_date(real), "{real}");
        }
        for not in ["2021-02-30", "2021-13", "21", "26.02.2021", "2021-2-26", "дата"] {
            assert!(!real_date(not), "{not}");
        }
        assert_eq!(
            impossible("2021-02-30").as_deref(),
            Some("дата смерти «2021-02-30» не является датой")
        );
        let today = crate::clock::today();
        let tomorrow = crate::register::deadlines::format_date(today + time::Duration::days(1));
        assert!(impossible(&tomorrow).is_some_and(|why| why.contains("позже сегодняшней даты")));
        assert_eq!(impossible(&crate::register::deadlines::format_date(today)), None);
        let next_year = (today.year() + 1).to_string();
        assert!(
            impossible(&next_year).is_some(),
            "a year after this one is in the future"
        );
        assert_eq!(impossible(&today.year().to_string()), None, "this year may be today");
    }

    #[test]
    fn partial_dates_precede_only_where_both_are_known() {
        assert!(precedes("1950-01-01", "1957-05-15"));
        assert!(!precedes("1957", "1957-05-15"));
        assert!(!precedes("2021-02", "2021-02-26"));
        assert!(precedes("2021-02-25", "2021-02-26"));
    }
}
