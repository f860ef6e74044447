//! Writes of the register: source documents, persons, IPRA with supersession, measures and the
//! execution reports already sent. Every function runs inside the caller's transaction.

use crate::plugins::runtime::wit;
use anyhow::Result;
use sqlx::{AnyConnection, Row};

/// A measure ready to be stored: section mapped, claim of a department applied.
#[derive(Clone, Debug)]
pub struct PreparedMeasure {
    pub measure: wit::Measure,
    /// The measure's other attributes as stored (`extra`), serialised by the parse workers.
    pub extra_json: String,
    pub claimed_by: Option<String>,
    pub assigned_ogrn: Option<String>,
    /// `extract` (the extract named a known executor), `rule` (routing), or none (coordinator's queue).
    pub assignment_source: Option<&'static str>,
    pub note: Option<String>,
    pub due_date: Option<String>,
}

/// What storing one IPRA did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpraOutcome {
    /// Newly stored; `superseded` is the IPRA it replaced, if any.
    Imported { id: i64, superseded: Option<i64> },
    /// Newly stored, but a newer IPRA of the person was already in force (out-of-order arrival).
    ImportedAsSuperseded { id: i64, by: i64 },
    /// The same IPRA (number, protocol number, protocol date, SNILS) is already in the register.
    Unchanged { id: i64 },
}

pub struct SourceDocument<'a> {
    pub sha256: &'a str,
    pub file_name: &'a str,
    pub media_type: &'a str,
    pub size_bytes: i64,
    pub compressed: &'a [u8],
    pub connector: &'a str,
    pub received_at: &'a str,
}

/// Stores a source document and returns its id, or `None` when a document with the same SHA-256 is
/// already stored (then nothing is written).
pub async fn insert_source(conn: &mut AnyConnection, doc: &SourceDocument<'_>) -> Result<Option<i64>> {
    sqlx::query(
        "INSERT INTO source_documents (sha256, file_name, media_type, size_bytes, compression, content, connector, received_at) \
         VALUES ($1, $2, $3, $4, 'zstd', $5, $6, $7) ON CONFLICT (sha256) DO NOTHING RETURNING id",
    )
    .bind(doc.sha256)
    .bind(doc.file_name)
    .bind(doc.media_type)
    .bind(doc.size_bytes)
    .bind(doc.compressed)
    .bind(doc.connector)
    .bind(doc.received_at)
    .fetch_optional(&mut *conn)
    .await?
    .map(|row| row.try_get("id"))
    .transpose()
    .map_err(Into::into)
}

/// The order in which IPRAs of one person follow each other: protocol date, then decision date,
/// then number. A later key supersedes an earlier one.
fn succession_key(protocol_date: &str, decision_date: Option<&str>, number: &str) -> (String, String, String) {
    (
        protocol_date.to_string(),
        decision_date.unwrap_or_default().to_string(),
        number.to_string(),
    )
}

/// «SURNAME NAME PATRONYMIC» in upper case, for search (see migration 0005).
pub fn search_name(person: &wit::Person) -> String {
    format!(
        "{} {} {}",
        person.surname,
        person.given_name,
        person.patronymic.as_deref().unwrap_or_default()
    )
    .trim()
    .to_uppercase()
}

/// Attributes as the register stores them: a JSON array of `[code, value]` pairs.
pub fn extra_json(extra: &[wit::Attribute]) -> String {
    let pairs: Vec<(&str, &str)> = extra.iter().map(|a| (a.code.as_str(), a.value.as_str())).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

pub async fn store_ipra(
    conn: &mut AnyConnection,
    ipra: &wit::IpraExtract,
    measures: &[PreparedMeasure],
    source_id: i64,
    received_at: &str,
) -> Result<IpraOutcome> {
    let person = &ipra.person;
    // One look-up: the same IPRA already stored, the person, and the person's IPRA in force.
    let found = sqlx::query(
        "SELECT (SELECT id FROM ipras WHERE number = $1 AND protocol_number = $2 AND protocol_date = $3 AND snils = $4) AS same_id, \
         p.id AS person_id, p.search_name AS person_search_name, p.territory_code AS person_territory, \
         a.id AS active_id, a.protocol_date, a.decision_date, a.number \
         FROM (SELECT 1 AS one) o LEFT JOIN persons p ON p.snils = $4 \
         LEFT JOIN ipras a ON a.person_id = p.id AND a.status = 'active'",
    )
    .bind(&ipra.number)
    .bind(&ipra.protocol_number)
    .bind(&ipra.protocol_date)
    .bind(&person.snils)
    .fetch_one(&mut *conn)
    .await?;
    if let Some(id) = found.try_get::<Option<i64>, _>("same_id")? {
        return Ok(IpraOutcome::Unchanged { id });
    }

    let (person_id, new_person) = match found.try_get::<Option<i64>, _>("person_id")? {
        Some(id) => (id, false),
        None => {
            let id: i64 = sqlx::query(
                "INSERT INTO persons (snils, surname, given_name, patronymic, birth_date, gender, territory_code, address, created_at, updated_at, search_name) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) RETURNING id",
            )
            .bind(&person.snils)
            .bind(&person.surname)
            .bind(&person.given_name)
            .bind(person.patronymic.as_deref())
            .bind(person.birth_date.as_deref())
            .bind(person.gender.as_deref())
            .bind(person.territory_code.as_deref())
            .bind(person.address.as_deref())
            .bind(received_at)
            .bind(search_name(person))
            .fetch_one(&mut *conn)
            .await?
            .try_get("id")?;
            (id, true)
        }
    };

    let active = match found.try_get::<Option<i64>, _>("active_id")? {
        Some(id) => Some((
            id,
            succession_key(
                &found.try_get::<String, _>("protocol_date")?,
                crate::db::opt_text(&found, "decision_date").as_deref(),
                &found.try_get::<String, _>("number")?,
            ),
        )),
        None => None,
    };
    let new_key = succession_key(&ipra.protocol_date, ipra.decision_date.as_deref(), &ipra.number);
    let newer_in_force = match &active {
        Some((id, key)) => (*key > new_key).then_some(*id),
        None => None,
    };
    let (status, superseded_by) = match newer_in_force {
        Some(by) => ("superseded", Some(by)),
        None => ("active", None),
    };

    // The list's columns kept on the row (migration 0011): an IPRA stored as already replaced opens
    // no work, so it has no open due date.
    let open_due_min = match superseded_by {
        Some(_) => None,
        None => measures.iter().filter_map(|m| m.due_date.as_deref()).min(),
    };
    // Lists show the person as the IPRA in force has them: an IPRA already replaced takes the
    // person's current name and territory, not those of its own (older) extract.
    let (list_name, list_territory) = match superseded_by {
        Some(_) => (
            crate::db::opt_text(&found, "person_search_name").unwrap_or_else(|| search_name(person)),
            crate::db::opt_text(&found, "person_territory"),
        ),
        None => (search_name(person), person.territory_code.clone()),
    };
    let id: i64 = sqlx::query(
        "INSERT INTO ipras (person_id, snils, number, protocol_number, protocol_date, decision_date, valid_until, issued_by, \
         is_child, document_version, document_id, extract_id, status, superseded_by, source_document_id, extra, received_at, \
         search_name, territory_code, measures_count, open_due_min) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id",
    )
    .bind(person_id)
    .bind(&person.snils)
    .bind(&ipra.number)
    .bind(&ipra.protocol_number)
    .bind(&ipra.protocol_date)
    .bind(ipra.decision_date.as_deref())
    .bind(ipra.valid_until.as_deref())
    .bind(ipra.issued_by.as_deref())
    .bind(i64::from(ipra.is_child))
    .bind(&ipra.document_version)
    .bind(&ipra.document_id)
    .bind(&ipra.extract_id)
    .bind(status)
    .bind(superseded_by)
    .bind(source_id)
    .bind(extra_json(&ipra.extra))
    .bind(received_at)
    .bind(list_name)
    .bind(list_territory)
    .bind(measures.len() as i64)
    .bind(open_due_min)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;

    // An IPRA already replaced by a newer one opens no work.
    insert_measures(
        conn,
        id,
        measures,
        if superseded_by.is_some() { "closed" } else { "open" },
    )
    .await?;

    if let Some(by) = superseded_by {
        return Ok(IpraOutcome::ImportedAsSuperseded { id, by });
    }
    let mut superseded = None;
    if let Some((old, _)) = active {
        sqlx::query("UPDATE ipras SET status = 'superseded', superseded_by = $1 WHERE id = $2")
            .bind(id)
            .bind(old)
            .execute(&mut *conn)
            .await?;
        superseded = Some(old);
    }
    if !new_person {
        // The IPRA in force carries the person's current data.
        sqlx::query(
            "UPDATE persons SET surname = $1, given_name = $2, patronymic = $3, birth_date = $4, gender = $5, \
             territory_code = $6, address = $7, updated_at = $8, search_name = $10 WHERE id = $9",
        )
        .bind(&person.surname)
        .bind(&person.given_name)
        .bind(person.patronymic.as_deref())
        .bind(person.birth_date.as_deref())
        .bind(person.gender.as_deref())
        .bind(person.territory_code.as_deref())
        .bind(person.address.as_deref())
        .bind(received_at)
        .bind(person_id)
        .bind(search_name(person))
        .execute(&mut *conn)
        .await?;
    }
    Ok(IpraOutcome::Imported { id, superseded })
}

/// `head` (an `INSERT … VALUES `) followed by `rows` groups of `columns` parameters, each bound in
/// order. SQLite looks a named parameter (`$n`) up by a linear scan of the statement's names, which
/// makes binding a wide multi-row INSERT quadratic; its anonymous `?` parameters bind in order for
/// free. PostgreSQL takes only `$n`.
pub fn multi_row_insert(conn: &AnyConnection, head: &str, rows: usize, columns: usize) -> String {
    let numbered = conn.backend_name() != "SQLite";
    let mut sql = String::with_capacity(head.len() + rows * columns * 5);
    sql.push_str(head);
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push('(');
        for col in 0..columns {
            if col > 0 {
                sql.push(',');
            }
            if numbered {
                sql.push_str(&format!("${}", row * columns + col + 1));
            } else {
                sql.push('?');
            }
        }
        sql.push(')');
    }
    sql
}

/// Rows per multi-row INSERT: few statement shapes for the statement cache, few round trips.
const MEASURE_CHUNK: usize = 16;
const MEASURE_COLUMNS: usize = 20;

async fn insert_measures(
    conn: &mut AnyConnection,
    ipra_id: i64,
    measures: &[PreparedMeasure],
    status: &str,
) -> Result<()> {
    for chunk in measures.chunks(MEASURE_CHUNK) {
        let sql = multi_row_insert(
            conn,
            "INSERT INTO measures (ipra_id, measure_key, section, category_code, category_name, code, name, guid, \
             executor_ogrn, executor_name, date_from, date_to, quantity, extra, claimed_by, assigned_ogrn, assignment_note, assignment_source, due_date, status) VALUES ",
            chunk.len(),
            MEASURE_COLUMNS,
        );
        let mut query = sqlx::query(&sql);
        for p in chunk {
            let m = &p.measure;
            query = query
                .bind(ipra_id)
                .bind(&m.key)
                .bind(&m.section)
                .bind(&m.category_code)
                .bind(&m.category_name)
                .bind(m.code.as_deref())
                .bind(&m.name)
                .bind(m.guid.as_deref())
                .bind(m.executor_ogrn.as_deref())
                .bind(m.executor_name.as_deref())
                .bind(m.date_from.as_deref())
                .bind(m.date_to.as_deref())
                .bind(m.quantity.as_deref())
                .bind(p.extra_json.as_str())
                .bind(p.claimed_by.as_deref())
                .bind(p.assigned_ogrn.as_deref())
                .bind(p.note.as_deref())
                .bind(p.assignment_source)
                .bind(p.due_date.as_deref())
                .bind(status);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Stores an execution report already sent by others, linked to its IPRA when the register has it.
pub async fn store_prior_report(conn: &mut AnyConnection, report: &wit::PriorReport, source_id: i64) -> Result<bool> {
    let by_parent: Option<i64> = match &report.parent_document_id {
        Some(parent) => sqlx::query("SELECT id FROM ipras WHERE document_id = $1 AND snils = $2")
            .bind(parent)
            .bind(&report.snils)
            .fetch_optional(&mut *conn)
            .await?
            .map(|row| row.try_get("id"))
            .transpose()?,
        None => None,
    };
    // Real extracts often leave `РодительскийДокумент` empty: a report carried in an extract then
    // belongs to the IPRA of the same person in that extract.
    let ipra_id = match by_parent {
        Some(id) => Some(id),
        None => {
            sqlx::query("SELECT id FROM ipras WHERE source_document_id = $1 AND snils = $2 ORDER BY id DESC LIMIT 1")
                .bind(source_id)
                .bind(&report.snils)
                .fetch_optional(&mut *conn)
                .await?
                .map(|row| row.try_get("id"))
                .transpose()?
        }
    };
    let entries: Vec<serde_json::Value> = report
        .entries
        .iter()
        .map(|m| {
            serde_json::json!({
                "key": m.key, "category": m.category_code, "name": m.name, "code": m.code,
                "executor_ogrn": m.executor_ogrn, "executor_name": m.executor_name,
                "date": m.date_from, "extra": m.extra.iter().map(|a| (a.code.clone(), a.value.clone())).collect::<Vec<_>>(),
            })
        })
        .collect();
    let inserted = sqlx::query(
        "INSERT INTO prior_reports (ipra_id, snils, document_id, document_version, parent_document_id, number, report_date, source, entries, source_document_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (document_id, snils) DO NOTHING",
    )
    .bind(ipra_id)
    .bind(&report.snils)
    .bind(&report.document_id)
    .bind(&report.document_version)
    .bind(report.parent_document_id.as_deref())
    .bind(report.number.as_deref())
    .bind(report.date.as_deref())
    .bind(report.source.as_deref())
    .bind(serde_json::Value::Array(entries).to_string())
    .bind(source_id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

/// Keeps the follow-ups of the departments for one IPRA in one statement, as [`store_follow_up`]
/// would one by one (the first `social-service-recipient` one adds the person to the register of
/// social-service recipients; later ones would change nothing).
pub async fn store_follow_ups(
    conn: &mut AnyConnection,
    ipra_id: i64,
    follow_ups: &[(String, wit::FollowUp)],
    at: &str,
) -> Result<()> {
    if follow_ups.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO follow_ups (ipra_id, plugin_id, kind, title, due_date, attributes, document_name, document, status, created_at) VALUES ",
    );
    for i in 0..follow_ups.len() {
        if i > 0 {
            sql.push(',');
        }
        // `$1` and `$2` (IPRA and time) are shared by every row.
        let p = 3 + i * 7;
        sql.push_str(&format!(
            "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'open', $2)",
            p,
            p + 1,
            p + 2,
            p + 3,
            p + 4,
            p + 5,
            p + 6
        ));
    }
    let mut query = sqlx::query(&sql).bind(ipra_id).bind(at);
    for (plugin_id, follow_up) in follow_ups {
        query = query
            .bind(plugin_id.as_str())
            .bind(follow_up.kind.as_str())
            .bind(follow_up.title.as_str())
            .bind(follow_up.due_date.as_deref())
            .bind(extra_json(&follow_up.attributes))
            .bind(follow_up.document.as_ref().map(|d| d.name.as_str()))
            .bind(follow_up.document.as_ref().map(|d| d.bytes.as_slice()));
    }
    query.execute(&mut *conn).await?;
    if let Some((plugin_id, _)) = follow_ups.iter().find(|(_, f)| f.kind == "social-service-recipient") {
        sqlx::query(
            "INSERT INTO social_service_recipients (person_id, ipra_id, added_at, source) \
             SELECT person_id, id, $1, $2 FROM ipras WHERE id = $3 ON CONFLICT (person_id) DO NOTHING",
        )
        .bind(at)
        .bind(plugin_id.as_str())
        .bind(ipra_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Keeps a department plugin's follow-up; a `social-service-recipient` follow-up also adds the
/// person to the register of social-service recipients.
pub async fn store_follow_up(
    conn: &mut AnyConnection,
    ipra_id: i64,
    plugin_id: &str,
    follow_up: &wit::FollowUp,
    at: &str,
) -> Result<i64> {
    let id: i64 = sqlx::query(
        "INSERT INTO follow_ups (ipra_id, plugin_id, kind, title, due_date, attributes, document_name, document, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9) RETURNING id",
    )
    .bind(ipra_id)
    .bind(plugin_id)
    .bind(&follow_up.kind)
    .bind(&follow_up.title)
    .bind(follow_up.due_date.as_deref())
    .bind(extra_json(&follow_up.attributes))
    .bind(follow_up.document.as_ref().map(|d| d.name.clone()))
    .bind(follow_up.document.as_ref().map(|d| d.bytes.clone()))
    .bind(at)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    if follow_up.kind == "social-service-recipient" {
        sqlx::query(
            "INSERT INTO social_service_recipients (person_id, ipra_id, added_at, source) \
             SELECT person_id, id, $1, $2 FROM ipras WHERE id = $3 ON CONFLICT (person_id) DO NOTHING",
        )
        .bind(at)
        .bind(plugin_id)
        .bind(ipra_id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(id)
}
