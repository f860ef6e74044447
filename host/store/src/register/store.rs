//! Writes of the register: source documents, persons, IPRA with supersession, measures and the
//! execution reports already sent. Every function runs inside the caller's transaction.

use crate::plugins::model;
use anyhow::{Context, Result};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A measure ready to be stored: section mapped, claim of a department applied.
#[derive(Clone, Debug)]
pub struct PreparedMeasure {
    pub measure: model::Measure,
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

/// Stores source documents as [`insert_source`] would one by one, a few statements for all: the id
/// of each, or `None` when its SHA-256 is already stored (or comes earlier in `docs`).
pub async fn insert_sources(conn: &mut AnyConnection, docs: &[SourceDocument<'_>]) -> Result<Vec<Option<i64>>> {
    let mut ids: HashMap<String, i64> = HashMap::new();
    // Rows of ≈ 12 KB each: a group's documents in one statement of ≈ 800 KB.
    for range in chunks(docs.len(), 64) {
        let mut sql = Sql::new(conn);
        sql.push(
            "INSERT INTO source_documents (sha256, file_name, media_type, size_bytes, compression, content, connector, received_at) VALUES ",
        );
        sql.rows(range.len(), 8);
        sql.push(" ON CONFLICT (sha256) DO NOTHING RETURNING id, sha256");
        let mut query = sqlx::query(sql.text());
        for doc in &docs[range] {
            query = query
                .bind(doc.sha256)
                .bind(doc.file_name)
                .bind(doc.media_type)
                .bind(doc.size_bytes)
                .bind("zstd")
                .bind(doc.compressed)
                .bind(doc.connector)
                .bind(doc.received_at);
        }
        for row in query.fetch_all(&mut *conn).await? {
            ids.insert(row.try_get("sha256")?, row.try_get("id")?);
        }
    }
    // The first document of a SHA-256 has the id; a later one of the same content was not stored.
    Ok(docs.iter().map(|doc| ids.remove(doc.sha256)).collect())
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
pub fn search_name(person: &model::Person) -> String {
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
pub fn extra_json(extra: &[model::Attribute]) -> String {
    let pairs: Vec<(&str, &str)> = extra.iter().map(|a| (a.code.as_str(), a.value.as_str())).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

/// The look-up of one IPRA: the same IPRA already stored, the person, and the person's IPRA in force.
/// `FROM` is completed by the caller: one IPRA (`store_ipra`) or a list of them (`store_ipras`).
const FOUND_COLUMNS: &str =
    "(SELECT id FROM ipras s WHERE s.number = v.number AND s.protocol_number = v.protocol_number \
     AND s.protocol_date = v.protocol_date AND s.snils = v.snils) AS same_id, \
     p.id AS person_id, p.search_name AS person_search_name, p.territory_code AS person_territory, \
     a.id AS active_id, a.protocol_date, a.decision_date, a.number";
const FOUND_JOINS: &str =
    "LEFT JOIN persons p ON p.snils = v.snils LEFT JOIN ipras a ON a.person_id = p.id AND a.status = 'active'";

/// What the register holds about an IPRA about to be stored.
struct Found {
    same_id: Option<i64>,
    person: Option<FoundPerson>,
    /// The person's IPRA in force and its place in the succession.
    active: Option<(i64, (String, String, String))>,
}

struct FoundPerson {
    id: i64,
    search_name: Option<String>,
    territory: Option<String>,
}

impl Found {
    fn from_row(row: &AnyRow) -> Result<Found> {
        let person = row.try_get::<Option<i64>, _>("person_id")?.map(|id| FoundPerson {
            id,
            search_name: crate::db::opt_text(row, "person_search_name"),
            territory: crate::db::opt_text(row, "person_territory"),
        });
        let active = match row.try_get::<Option<i64>, _>("active_id")? {
            Some(id) => Some((
                id,
                succession_key(
                    &row.try_get::<String, _>("protocol_date")?,
                    crate::db::opt_text(row, "decision_date").as_deref(),
                    &row.try_get::<String, _>("number")?,
                ),
            )),
            None => None,
        };
        Ok(Found {
            same_id: row.try_get::<Option<i64>, _>("same_id")?,
            person,
            active,
        })
    }
}

/// Where a new IPRA goes in its person's succession, and the list's columns its row carries.
struct Placement {
    status: &'static str,
    /// The newer IPRA already in force (an older IPRA arriving late).
    superseded_by: Option<i64>,
    /// The IPRA in force that this one replaces.
    supersedes: Option<i64>,
    list_name: String,
    list_territory: Option<String>,
    open_due_min: Option<String>,
}

fn place(ipra: &model::IpraExtract, measures: &[PreparedMeasure], found: &Found) -> Placement {
    let person = &ipra.person;
    let new_key = succession_key(&ipra.protocol_date, ipra.decision_date.as_deref(), &ipra.number);
    let newer_in_force = match &found.active {
        Some((id, key)) => (*key > new_key).then_some(*id),
        None => None,
    };
    // The list's columns kept on the row (migration 0011): an IPRA stored as already replaced opens
    // no work, so it has no open due date. Lists show the person as the IPRA in force has them: an
    // IPRA already replaced takes the person's current name and territory, not those of its own
    // (older) extract.
    match newer_in_force {
        Some(by) => Placement {
            status: "superseded",
            superseded_by: Some(by),
            supersedes: None,
            list_name: found
                .person
                .as_ref()
                .and_then(|p| p.search_name.clone())
                .unwrap_or_else(|| search_name(person)),
            list_territory: found.person.as_ref().and_then(|p| p.territory.clone()),
            open_due_min: None,
        },
        None => Placement {
            status: "active",
            superseded_by: None,
            supersedes: found.active.as_ref().map(|(id, _)| *id),
            list_name: search_name(person),
            list_territory: person.territory_code.clone(),
            open_due_min: measures
                .iter()
                .filter_map(|m| m.due_date.as_deref())
                .min()
                .map(str::to_string),
        },
    }
}

impl Placement {
    fn outcome(&self, id: i64) -> IpraOutcome {
        match self.superseded_by {
            Some(by) => IpraOutcome::ImportedAsSuperseded { id, by },
            None => IpraOutcome::Imported {
                id,
                superseded: self.supersedes,
            },
        }
    }

    /// The status its measures are stored with: an IPRA already replaced by a newer one opens no work.
    fn measure_status(&self) -> &'static str {
        if self.superseded_by.is_some() {
            "closed"
        } else {
            "open"
        }
    }
}

const PERSON_COLUMNS: usize = 11;
const PERSON_INSERT: &str = "INSERT INTO persons (snils, surname, given_name, patronymic, birth_date, gender, \
     territory_code, address, created_at, updated_at, search_name) VALUES ";

fn bind_person<'q>(query: AnyQuery<'q>, person: &'q model::Person, at: &'q str) -> AnyQuery<'q> {
    bind_person_data(query.bind(&person.snils), person)
        .bind(at)
        .bind(at)
        .bind(search_name(person))
}

/// A person's data as an IPRA gives it, from the surname to the address (inserts and updates).
fn bind_person_data<'q>(query: AnyQuery<'q>, person: &'q model::Person) -> AnyQuery<'q> {
    query
        .bind(&person.surname)
        .bind(&person.given_name)
        .bind(person.patronymic.as_deref())
        .bind(person.birth_date.as_deref())
        .bind(person.gender.as_deref())
        .bind(person.territory_code.as_deref())
        .bind(person.address.as_deref())
}

const IPRA_COLUMNS: usize = 23;
const IPRA_INSERT: &str =
    "INSERT INTO ipras (person_id, snils, number, protocol_number, protocol_date, decision_date, \
     valid_until, issued_by, is_child, document_version, document_id, extract_id, status, superseded_by, \
     source_document_id, extra, received_at, search_name, territory_code, measures_count, open_due_min, \
     target_groups, early_help) VALUES ";

/// The attribute of an IPRA's `extra` naming one of its target rehabilitation groups (the FRI
/// connector writes `ЦРГ:CODE` = name), and the one saying the child needs early help.
pub const TARGET_GROUP: &str = "ЦРГ:";
pub const EARLY_HELP: &str = "РанняяПомощь";

/// The IPRA's target rehabilitation groups as (code, name), in the extract's order.
pub fn target_groups(ipra: &model::IpraExtract) -> Vec<(&str, &str)> {
    ipra.extra
        .iter()
        .filter_map(|a| Some((a.code.strip_prefix(TARGET_GROUP)?, a.value.as_str())))
        .filter(|(code, _)| !code.is_empty() && !code.contains(';'))
        .collect()
}

/// The codes as the `ipras.target_groups` column holds them: `;CODE;CODE;`, or empty.
fn target_group_column(ipra: &model::IpraExtract) -> String {
    let codes: Vec<&str> = target_groups(ipra).into_iter().map(|(code, _)| code).collect();
    if codes.is_empty() {
        String::new()
    } else {
        format!(";{};", codes.join(";"))
    }
}

fn early_help(ipra: &model::IpraExtract) -> bool {
    ipra.extra.iter().any(|a| a.code == EARLY_HELP && a.value == "true")
}

/// Keeps the name the extracts give each target group code, the first time it is met (the
/// register's choice list and the statistics' rows read them).
async fn remember_target_groups(conn: &mut AnyConnection, ipras: &[&model::IpraExtract], at: &str) -> Result<()> {
    let mut seen: Vec<(&str, &str)> = Vec::new();
    for ipra in ipras {
        for group in target_groups(ipra) {
            if !seen.iter().any(|(code, _)| *code == group.0) {
                seen.push(group);
            }
        }
    }
    for (code, name) in seen {
        sqlx::query(
            "INSERT INTO target_groups (code, name, first_seen) VALUES ($1, $2, $3) ON CONFLICT (code) DO NOTHING",
        )
        .bind(code)
        .bind(name)
        .bind(at)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn bind_ipra<'q>(
    query: AnyQuery<'q>,
    ipra: &'q model::IpraExtract,
    measures: usize,
    person_id: i64,
    placement: &'q Placement,
    source_id: i64,
    received_at: &'q str,
) -> AnyQuery<'q> {
    query
        .bind(person_id)
        .bind(&ipra.person.snils)
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
        .bind(placement.status)
        .bind(placement.superseded_by)
        .bind(source_id)
        .bind(extra_json(&ipra.extra))
        .bind(received_at)
        .bind(placement.list_name.as_str())
        .bind(placement.list_territory.as_deref())
        .bind(measures as i64)
        .bind(placement.open_due_min.as_deref())
        .bind(target_group_column(ipra))
        .bind(i64::from(early_help(ipra)))
}

const PERSON_UPDATE_COLUMNS: usize = 10;

/// Gives existing persons the data of their new IPRA in force, one statement for `rows`.
async fn update_persons(conn: &mut AnyConnection, rows: &[(i64, &model::Person)], at: &str) -> Result<()> {
    for range in chunks(rows.len(), ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push(
            "WITH v (id, surname, given_name, patronymic, birth_date, gender, territory_code, address, updated_at, search_name) AS (VALUES ",
        );
        sql.rows(range.len(), PERSON_UPDATE_COLUMNS);
        sql.push(
            ") UPDATE persons SET surname = v.surname, given_name = v.given_name, patronymic = v.patronymic, \
             birth_date = v.birth_date, gender = v.gender, territory_code = v.territory_code, address = v.address, \
             updated_at = v.updated_at, search_name = v.search_name FROM v WHERE persons.id = v.id",
        );
        let mut query = sqlx::query(sql.text());
        for (id, person) in &rows[range] {
            query = bind_person_data(query.bind(*id), person)
                .bind(at)
                .bind(search_name(person));
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks the IPRAs in force that new ones replace: `(old, new)` pairs. TSR clarification requests on the
/// old ones close, linked to the new IPRA (the corrected one, порядок ФБ МСЭ для ИС МСЭ в ЕЦП).
async fn supersede(conn: &mut AnyConnection, pairs: &[(i64, i64)]) -> Result<()> {
    for range in chunks(pairs.len(), ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push("WITH v (id, by_id) AS (VALUES ");
        sql.rows(range.len(), 2);
        sql.push(") UPDATE ipras SET status = 'superseded', superseded_by = v.by_id FROM v WHERE ipras.id = v.id");
        let mut query = sqlx::query(sql.text());
        for (old, new) in &pairs[range] {
            query = query.bind(*old).bind(*new);
        }
        query.execute(&mut *conn).await?;
    }
    if !pairs.is_empty() {
        super::clarification::link_corrected(conn, pairs, &crate::db::now()).await?;
    }
    Ok(())
}

pub async fn store_ipra(
    conn: &mut AnyConnection,
    ipra: &model::IpraExtract,
    measures: &[PreparedMeasure],
    source_id: i64,
    received_at: &str,
) -> Result<IpraOutcome> {
    let person = &ipra.person;
    // One look-up: the same IPRA already stored, the person, and the person's IPRA in force.
    let row = sqlx::query(&format!(
        "SELECT {FOUND_COLUMNS} FROM (SELECT $1 AS number, $2 AS protocol_number, $3 AS protocol_date, $4 AS snils) v {FOUND_JOINS}"
    ))
    .bind(&ipra.number)
    .bind(&ipra.protocol_number)
    .bind(&ipra.protocol_date)
    .bind(&person.snils)
    .fetch_one(&mut *conn)
    .await?;
    let found = Found::from_row(&row)?;
    if let Some(id) = found.same_id {
        return Ok(IpraOutcome::Unchanged { id });
    }
    let placement = place(ipra, measures, &found);

    let person_id = match &found.person {
        Some(p) => p.id,
        None => {
            let sql = format!("{PERSON_INSERT}($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id");
            bind_person(sqlx::query(&sql), person, received_at)
                .fetch_one(&mut *conn)
                .await?
                .try_get("id")?
        }
    };
    let placeholders: Vec<String> = (1..=IPRA_COLUMNS).map(|n| format!("${n}")).collect();
    let sql = format!("{IPRA_INSERT}({}) RETURNING id", placeholders.join(", "));
    remember_target_groups(conn, &[ipra], received_at).await?;
    let id: i64 = bind_ipra(
        sqlx::query(&sql),
        ipra,
        measures.len(),
        person_id,
        &placement,
        source_id,
        received_at,
    )
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    insert_measures(conn, &[(id, measures, placement.measure_status())]).await?;
    if placement.superseded_by.is_none() {
        if let Some(old) = placement.supersedes {
            supersede(conn, &[(old, id)]).await?;
        }
        if found.person.is_some() {
            // The IPRA in force carries the person's current data.
            update_persons(conn, &[(person_id, person)], received_at).await?;
        }
    }
    Ok(placement.outcome(id))
}

/// An IPRA of a group stored together by [`store_ipras`].
pub struct GroupIpra<'a> {
    pub ipra: &'a model::IpraExtract,
    pub measures: &'a [PreparedMeasure],
    pub source_id: i64,
}

/// Stores the IPRAs of a group of files as [`store_ipra`] would one by one, in a few statements per
/// table (each is a round trip to PostgreSQL). No two IPRAs of `items` may be of the same person
/// (SNILS): each is placed against the register as it was before the group.
pub async fn store_ipras(
    conn: &mut AnyConnection,
    items: &[GroupIpra<'_>],
    received_at: &str,
) -> Result<Vec<IpraOutcome>> {
    // One look-up for the group.
    let mut found: Vec<Option<Found>> = items.iter().map(|_| None).collect();
    for range in chunks(items.len(), ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push("WITH v (k, number, protocol_number, protocol_date, snils) AS (VALUES ");
        sql.rows(range.len(), 5);
        sql.push(&format!(") SELECT v.k, {FOUND_COLUMNS} FROM v {FOUND_JOINS}"));
        let mut query = sqlx::query(sql.text());
        for k in range.clone() {
            let ipra = items[k].ipra;
            query = query
                .bind(k as i64)
                .bind(&ipra.number)
                .bind(&ipra.protocol_number)
                .bind(&ipra.protocol_date)
                .bind(&ipra.person.snils);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let k: i64 = row.try_get("k")?;
            let slot = usize::try_from(k)
                .ok()
                .and_then(|k| found.get_mut(k))
                .context("a look-up row of no IPRA of the group")?;
            // A person has one IPRA in force; should there be more, the first counts, as in `store_ipra`.
            if slot.is_none() {
                *slot = Some(Found::from_row(&row)?);
            }
        }
    }
    let found: Vec<Found> = found
        .into_iter()
        .map(|f| f.context("an IPRA of the group has no look-up row"))
        .collect::<Result<_>>()?;

    // New persons, then the IPRAs, their measures, what they supersede and their persons' data.
    let new: Vec<usize> = (0..items.len()).filter(|&k| found[k].same_id.is_none()).collect();
    let placements: Vec<Placement> = new
        .iter()
        .map(|&k| place(items[k].ipra, items[k].measures, &found[k]))
        .collect();
    let mut person_ids: HashMap<&str, i64> = new
        .iter()
        .filter_map(|&k| {
            found[k]
                .person
                .as_ref()
                .map(|p| (items[k].ipra.person.snils.as_str(), p.id))
        })
        .collect();
    let new_persons: Vec<&model::Person> = new
        .iter()
        .filter(|&&k| found[k].person.is_none())
        .map(|&k| &items[k].ipra.person)
        .collect();
    for range in chunks(new_persons.len(), ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push(PERSON_INSERT);
        sql.rows(range.len(), PERSON_COLUMNS);
        sql.push(" RETURNING id, snils");
        let mut query = sqlx::query(sql.text());
        for person in &new_persons[range] {
            query = bind_person(query, person, received_at);
        }
        for row in query.fetch_all(&mut *conn).await? {
            let snils: String = row.try_get("snils")?;
            let id: i64 = row.try_get("id")?;
            if let Some(person) = new_persons.iter().find(|p| p.snils == snils) {
                person_ids.insert(person.snils.as_str(), id);
            }
        }
    }
    let new_ipras: Vec<&model::IpraExtract> = new.iter().map(|&k| items[k].ipra).collect();
    remember_target_groups(conn, &new_ipras, received_at).await?;
    let mut ipra_ids: HashMap<String, i64> = HashMap::new();
    for range in chunks(new.len(), IPRA_ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push(IPRA_INSERT);
        sql.rows(range.len(), IPRA_COLUMNS);
        sql.push(" RETURNING id, snils");
        let mut query = sqlx::query(sql.text());
        for n in range {
            let item = &items[new[n]];
            let person_id = *person_ids
                .get(item.ipra.person.snils.as_str())
                .context("the person of an IPRA of the group was not stored")?;
            query = bind_ipra(
                query,
                item.ipra,
                item.measures.len(),
                person_id,
                &placements[n],
                item.source_id,
                received_at,
            );
        }
        for row in query.fetch_all(&mut *conn).await? {
            ipra_ids.insert(row.try_get("snils")?, row.try_get("id")?);
        }
    }
    let id_of = |k: usize| -> Result<i64> {
        ipra_ids
            .get(&items[k].ipra.person.snils)
            .copied()
            .context("an IPRA of the group was not stored")
    };
    let mut measures = Vec::with_capacity(new.len());
    let mut superseded = Vec::new();
    let mut persons_in_force = Vec::new();
    for (n, &k) in new.iter().enumerate() {
        let id = id_of(k)?;
        let placement = &placements[n];
        measures.push((id, items[k].measures, placement.measure_status()));
        if placement.superseded_by.is_none() {
            if let Some(old) = placement.supersedes {
                superseded.push((old, id));
            }
            if let Some(person) = &found[k].person {
                persons_in_force.push((person.id, &items[k].ipra.person));
            }
        }
    }
    insert_measures(conn, &measures).await?;
    supersede(conn, &superseded).await?;
    update_persons(conn, &persons_in_force, received_at).await?;

    let mut placed = new.iter().zip(&placements);
    let mut outcomes = Vec::with_capacity(items.len());
    for (k, found) in found.iter().enumerate() {
        outcomes.push(match found.same_id {
            Some(id) => IpraOutcome::Unchanged { id },
            None => {
                let (_, placement) = placed.next().context("an IPRA of the group was not placed")?;
                placement.outcome(id_of(k)?)
            }
        });
    }
    Ok(outcomes)
}

/// Rows per multi-row statement of the group writes: chunks are powers of two up to this, so that each
/// statement has few shapes for the statement cache. A group's measures (≈ 700) take three or four
/// statements; every other table of a group, one.
pub const ROWS_PER_STATEMENT: usize = 256;
/// IPRA rows are wide (23 columns): a group's IPRAs in one statement.
const IPRA_ROWS_PER_STATEMENT: usize = 64;

/// Splits `len` rows into chunks of `max` rows, then of decreasing powers of two: few statement shapes.
pub fn chunks(len: usize, max: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let mut start = 0;
    std::iter::from_fn(move || {
        let left = len - start;
        if left == 0 {
            return None;
        }
        let size = if left >= max { max } else { 1 << left.ilog2() };
        let range = start..start + size;
        start += size;
        Some(range)
    })
}

/// A statement with its placeholders numbered as it is written: `$n` for PostgreSQL, `?` for SQLite,
/// which looks a named parameter up by a linear scan of the statement's names (binding a wide
/// multi-row statement would be quadratic) while its anonymous `?` bind in order for free.
pub struct Sql {
    text: String,
    numbered: bool,
    params: usize,
}

impl Sql {
    pub fn new(conn: &AnyConnection) -> Sql {
        Sql {
            text: String::with_capacity(1024),
            numbered: conn.backend_name() != "SQLite",
            params: 0,
        }
    }

    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    /// The next placeholder.
    pub fn param(&mut self) {
        self.params += 1;
        if self.numbered {
            self.text.push('$');
            self.text.push_str(&self.params.to_string());
        } else {
            self.text.push('?');
        }
    }

    /// `n` placeholders separated by commas, for an `IN (…)` list.
    pub fn list(&mut self, n: usize) {
        for i in 0..n {
            if i > 0 {
                self.text.push(',');
            }
            self.param();
        }
    }

    /// `rows` groups of `columns` placeholders: `(…), (…)`.
    pub fn rows(&mut self, rows: usize, columns: usize) {
        for row in 0..rows {
            if row > 0 {
                self.text.push(',');
            }
            self.text.push('(');
            for col in 0..columns {
                if col > 0 {
                    self.text.push(',');
                }
                self.param();
            }
            self.text.push(')');
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `head` (an `INSERT … VALUES `) followed by `rows` groups of `columns` parameters, each bound in
/// order (see [`Sql`]).
pub fn multi_row_insert(conn: &AnyConnection, head: &str, rows: usize, columns: usize) -> String {
    let mut sql = Sql::new(conn);
    sql.push(head);
    sql.rows(rows, columns);
    sql.text
}

const MEASURE_COLUMNS: usize = 20;

/// Inserts the measures of IPRAs: `(IPRA id, its measures, their status)`.
async fn insert_measures(conn: &mut AnyConnection, ipras: &[(i64, &[PreparedMeasure], &str)]) -> Result<()> {
    let rows: Vec<(i64, &PreparedMeasure, &str)> = ipras
        .iter()
        .flat_map(|&(id, measures, status)| measures.iter().map(move |m| (id, m, status)))
        .collect();
    for range in chunks(rows.len(), ROWS_PER_STATEMENT) {
        let sql = multi_row_insert(
            conn,
            "INSERT INTO measures (ipra_id, measure_key, section, category_code, category_name, code, name, guid, \
             executor_ogrn, executor_name, date_from, date_to, quantity, extra, claimed_by, assigned_ogrn, assignment_note, assignment_source, due_date, status) VALUES ",
            range.len(),
            MEASURE_COLUMNS,
        );
        let mut query = sqlx::query(&sql);
        for &(ipra_id, p, status) in &rows[range] {
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
pub async fn store_prior_report(conn: &mut AnyConnection, report: &model::PriorReport, source_id: i64) -> Result<()> {
    store_prior_reports(conn, &[(report, source_id)]).await
}

const PRIOR_REPORT_COLUMNS: usize = 10;

/// [`store_prior_report`] for reports of different persons (SNILS), each with its source document, in
/// a few statements for all.
pub async fn store_prior_reports(conn: &mut AnyConnection, reports: &[(&model::PriorReport, i64)]) -> Result<()> {
    for range in chunks(reports.len(), ROWS_PER_STATEMENT) {
        let reports = &reports[range];
        // The IPRA a report belongs to: the one its parent document names; real extracts often leave
        // `РодительскийДокумент` empty, and a report carried in an extract then belongs to the IPRA of
        // the same person in that extract.
        let mut sql = Sql::new(conn);
        sql.push("WITH v (k, parent, snils, source_id) AS (VALUES ");
        sql.rows(reports.len(), 4);
        sql.push(
            ") SELECT v.k, \
             (SELECT i.id FROM ipras i WHERE i.document_id = v.parent AND i.snils = v.snils LIMIT 1) AS by_parent, \
             (SELECT i.id FROM ipras i WHERE i.source_document_id = v.source_id AND i.snils = v.snils ORDER BY i.id DESC LIMIT 1) AS by_source \
             FROM v",
        );
        let mut query = sqlx::query(sql.text());
        for (k, (report, source_id)) in reports.iter().enumerate() {
            query = query
                .bind(k as i64)
                .bind(report.parent_document_id.as_deref())
                .bind(&report.snils)
                .bind(*source_id);
        }
        let mut ipras: Vec<Option<i64>> = vec![None; reports.len()];
        for row in query.fetch_all(&mut *conn).await? {
            let k: i64 = row.try_get("k")?;
            let id = row
                .try_get::<Option<i64>, _>("by_parent")?
                .or(row.try_get::<Option<i64>, _>("by_source")?);
            if let Some(slot) = usize::try_from(k).ok().and_then(|k| ipras.get_mut(k)) {
                *slot = id;
            }
        }
        let sql = multi_row_insert(
            conn,
            "INSERT INTO prior_reports (ipra_id, snils, document_id, document_version, parent_document_id, number, report_date, source, entries, source_document_id) VALUES ",
            reports.len(),
            PRIOR_REPORT_COLUMNS,
        ) + " ON CONFLICT (document_id, snils) DO NOTHING";
        let mut query = sqlx::query(&sql);
        for ((report, source_id), ipra_id) in reports.iter().zip(ipras) {
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
            query = query
                .bind(ipra_id)
                .bind(&report.snils)
                .bind(&report.document_id)
                .bind(&report.document_version)
                .bind(report.parent_document_id.as_deref())
                .bind(report.number.as_deref())
                .bind(report.date.as_deref())
                .bind(report.source.as_deref())
                .bind(serde_json::Value::Array(entries).to_string())
                .bind(*source_id);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Keeps the follow-ups of the departments for one IPRA, as [`store_follow_up`] would one by one.
pub async fn store_follow_ups(
    conn: &mut AnyConnection,
    ipra_id: i64,
    follow_ups: &[(String, model::FollowUp)],
    at: &str,
) -> Result<()> {
    store_follow_ups_of(conn, &[(ipra_id, follow_ups)], at).await
}

const FOLLOW_UP_COLUMNS: usize = 9;

/// Keeps the follow-ups of the departments for IPRAs, as [`store_follow_up`] would one by one, in a
/// few statements for all (the first `social-service-recipient` follow-up of an IPRA adds the person
/// to the register of social-service recipients; later ones would change nothing).
pub async fn store_follow_ups_of(
    conn: &mut AnyConnection,
    ipras: &[(i64, &[(String, model::FollowUp)])],
    at: &str,
) -> Result<()> {
    let rows: Vec<(i64, &str, &model::FollowUp)> = ipras
        .iter()
        .flat_map(|&(id, follow_ups)| follow_ups.iter().map(move |(plugin, f)| (id, plugin.as_str(), f)))
        .collect();
    for range in chunks(rows.len(), ROWS_PER_STATEMENT) {
        let sql = multi_row_insert(
            conn,
            "INSERT INTO follow_ups (ipra_id, plugin_id, kind, title, due_date, attributes, document_name, document, created_at) VALUES ",
            range.len(),
            FOLLOW_UP_COLUMNS,
        );
        let mut query = sqlx::query(&sql);
        for &(ipra_id, plugin_id, follow_up) in &rows[range] {
            query = query
                .bind(ipra_id)
                .bind(plugin_id)
                .bind(follow_up.kind.as_str())
                .bind(follow_up.title.as_str())
                .bind(follow_up.due_date.as_deref())
                .bind(extra_json(&follow_up.attributes))
                .bind(follow_up.document.as_ref().map(|d| d.name.as_str()))
                .bind(follow_up.document.as_ref().map(|d| d.bytes.as_slice()))
                .bind(at);
        }
        query.execute(&mut *conn).await?;
    }
    let recipients: Vec<(i64, &str)> = ipras
        .iter()
        .filter_map(|&(id, follow_ups)| {
            follow_ups
                .iter()
                .find(|(_, f)| f.kind == "social-service-recipient")
                .map(|(plugin, _)| (id, plugin.as_str()))
        })
        .collect();
    for range in chunks(recipients.len(), ROWS_PER_STATEMENT) {
        let mut sql = Sql::new(conn);
        sql.push("WITH v (ipra_id, source) AS (VALUES ");
        sql.rows(range.len(), 2);
        sql.push(
            ") INSERT INTO social_service_recipients (person_id, ipra_id, added_at, source) SELECT i.person_id, i.id, ",
        );
        sql.param();
        // `WHERE true`: SQLite reads an `ON` after a join as the join's condition otherwise.
        sql.push(", v.source FROM v JOIN ipras i ON i.id = v.ipra_id WHERE true ON CONFLICT (person_id) DO NOTHING");
        let mut query = sqlx::query(sql.text());
        for &(id, plugin) in &recipients[range] {
            query = query.bind(id).bind(plugin);
        }
        query.bind(at).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Keeps a department plugin's follow-up; a `social-service-recipient` follow-up also adds the
/// person to the register of social-service recipients.
pub async fn store_follow_up(
    conn: &mut AnyConnection,
    ipra_id: i64,
    plugin_id: &str,
    follow_up: &model::FollowUp,
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
