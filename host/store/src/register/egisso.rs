//! Facts of assignment for EGISSO: executed social-protection measures whose local measure type an
//! administrator mapped to an EGISSO measure (LMSZ), each uploaded once.

use crate::app::App;
use crate::db::{now, opt_text};
use crate::plugins::model;
use anyhow::Result;
use serde::Serialize;
use sqlx::{FromRow, Row};

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Mapping {
    pub local_code: String,
    pub lmsz_id: String,
    pub category_id: Option<String>,
    pub osz_code: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
}

/// Maps a local measure type (`category_code` of a measure, or `category_code:code`) to EGISSO.
pub async fn set_mapping(
    app: &App,
    local_code: &str,
    lmsz_id: &str,
    category_id: Option<&str>,
    osz_code: Option<&str>,
    actor: &str,
) -> Result<()> {
    if local_code.trim().is_empty() || lmsz_id.trim().is_empty() {
        return Err(crate::refusal::invalid(
            "lmsz_id",
            "укажите местный вид мероприятия и идентификатор меры ЕГИССО (LMSZ)",
        ));
    }
    sqlx::query(
        "INSERT INTO egisso_mappings (local_code, lmsz_id, category_id, osz_code, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (local_code) DO UPDATE SET lmsz_id = excluded.lmsz_id, category_id = excluded.category_id, \
         osz_code = excluded.osz_code, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(local_code)
    .bind(lmsz_id)
    .bind(category_id)
    .bind(osz_code)
    .bind(now())
    .bind(actor)
    .execute(&app.db.pool)
    .await?;
    crate::audit::record(
        &app.db,
        actor,
        "egisso.mapping",
        &format!("egisso:{local_code}"),
        Some(lmsz_id),
    )
    .await
}

pub async fn mappings(app: &App) -> Result<Vec<Mapping>> {
    sqlx::query("SELECT * FROM egisso_mappings ORDER BY local_code")
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(Mapping::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

pub struct PendingFacts {
    pub batch: model::FactBatch,
    pub facts: Vec<String>,
    pub execution_ids: Vec<i64>,
}

/// Executed social-protection records with a mapping and no fact uploaded yet. EGISSO requires the
/// receiver's birth date and gender: records of persons without them wait until the register has them.
pub async fn pending_facts(app: &App) -> Result<PendingFacts> {
    let rows = sqlx::query(
        "SELECT e.id, e.execution_date, e.measure_name, i.decision_date, i.valid_until, i.number, \
         p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender, mp.lmsz_id, mp.category_id, mp.osz_code, m.category_code \
         FROM execution_records e JOIN measures m ON m.id = e.measure_id JOIN ipras i ON i.id = e.ipra_id \
         JOIN persons p ON p.id = i.person_id \
         JOIN egisso_mappings mp ON mp.local_code = m.category_code OR mp.local_code = m.category_code || ':' || COALESCE(m.code, '') \
         WHERE e.section = 'social-protection' AND e.result = 'executed' AND e.status = 'reported' \
         AND p.birth_date IS NOT NULL AND p.gender IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM egisso_facts f WHERE f.execution_id = e.id) ORDER BY e.id LIMIT 1000",
    )
    .fetch_all(&app.db.pool)
    .await?;
    let mut facts = Vec::new();
    let mut ids = Vec::new();
    let mut wit_facts = Vec::new();
    for r in &rows {
        let id: i64 = r.try_get("id")?;
        if ids.contains(&id) {
            continue;
        }
        ids.push(id);
        let attr = |code: &str, value: Option<String>| {
            value.map(|value| model::Attribute {
                code: code.into(),
                value,
            })
        };
        let extra: Vec<model::Attribute> = [
            attr("lmszId", Some(r.try_get("lmsz_id")?)),
            attr("categoryId", opt_text(r, "category_id")),
            attr("oszCode", opt_text(r, "osz_code")),
            attr("measureName", Some(r.try_get("measure_name")?)),
            attr("ipraNumber", Some(r.try_get("number")?)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let fact_id = format!("ipra-execution-{id}");
        facts.push(fact_id.clone());
        wit_facts.push(model::Fact {
            fact_id,
            person: model::Person {
                snils: r.try_get("snils")?,
                surname: r.try_get("surname")?,
                given_name: r.try_get("given_name")?,
                patronymic: opt_text(r, "patronymic"),
                birth_date: opt_text(r, "birth_date"),
                gender: opt_text(r, "gender"),
                territory_code: None,
                address: None,
                extra: Vec::new(),
            },
            measure_code: r.try_get("category_code")?,
            decision_date: opt_text(r, "decision_date")
                .or_else(|| opt_text(r, "execution_date"))
                .unwrap_or_default(),
            start_date: opt_text(r, "execution_date"),
            end_date: opt_text(r, "valid_until"),
            extra,
        });
    }
    let package_id = format!("ipra-egisso-{}", now().replace([':', '-'], ""));
    Ok(PendingFacts {
        batch: model::FactBatch {
            package_id,
            facts: wit_facts,
            extra: Vec::new(),
        },
        facts,
        execution_ids: ids,
    })
}

pub async fn mark_queued(app: &App, execution_ids: &[i64], message_id: i64) -> Result<()> {
    for id in execution_ids {
        sqlx::query(
            "INSERT INTO egisso_facts (execution_id, message_id, status, created_at) VALUES ($1, $2, 'queued', $3) \
             ON CONFLICT (execution_id) DO NOTHING",
        )
        .bind(id)
        .bind(message_id)
        .bind(now())
        .execute(&app.db.pool)
        .await?;
    }
    Ok(())
}
