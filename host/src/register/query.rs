//! Reads of the register for the API, the pages and the CLI: lists of IPRA with filters and
//! paging (SNILS masked), one IPRA with its measures and history, the source document.

use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Filters of the register of extracts (seed 002: basic and extended filters).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct IpraFilter {
    pub number: Option<String>,
    pub protocol_number: Option<String>,
    pub snils: Option<String>,
    pub surname: Option<String>,
    pub status: Option<String>,
    pub decision_from: Option<String>,
    pub decision_to: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

#[derive(Clone, Debug, Serialize)]
pub struct IpraListItem {
    pub id: i64,
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub decision_date: Option<String>,
    pub document_version: String,
    pub issued_by: Option<String>,
    pub status: String,
    pub is_child: bool,
    /// Masked: only the last check digits are shown in lists.
    pub snils: String,
    pub full_name: String,
    pub measures: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct IpraPage {
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<IpraListItem>,
}

/// `NNN-NNN-NNN NN` with the first nine digits hidden except the last three.
pub fn mask_snils(snils: &str) -> String {
    if snils.len() == 11 && snils.is_ascii() {
        format!("***-***-{} {}", &snils[6..9], &snils[9..])
    } else {
        "***".into()
    }
}

pub fn format_snils(snils: &str) -> String {
    if snils.len() == 11 && snils.is_ascii() {
        format!("{}-{}-{} {}", &snils[0..3], &snils[3..6], &snils[6..9], &snils[9..])
    } else {
        snils.to_string()
    }
}

fn full_name(surname: &str, given: &str, patronymic: Option<&str>) -> String {
    match patronymic.filter(|p| !p.is_empty()) {
        Some(p) => format!("{surname} {given} {p}"),
        None => format!("{surname} {given}"),
    }
}

/// `scope`: the OGRN of an executor, who sees only IPRAs with measures assigned to it.
pub async fn list_ipras(db: &Db, filter: &IpraFilter, scope: Option<&str>) -> Result<IpraPage> {
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let page = filter.page.unwrap_or(1).max(1);
    let mut conditions = Vec::new();
    let mut binds: Vec<String> = Vec::new();
    let mut add = |sql: &str, value: String| {
        binds.push(value);
        conditions.push(sql.replace('?', &format!("${}", binds.len())));
    };
    if let Some(ogrn) = scope {
        add(
            "EXISTS (SELECT 1 FROM measures sm WHERE sm.ipra_id = i.id AND sm.assigned_ogrn = ?)",
            ogrn.to_string(),
        );
    }
    if let Some(v) = filter.number.as_deref().filter(|v| !v.is_empty()) {
        add("i.number = ?", v.to_string());
    }
    if let Some(v) = filter.protocol_number.as_deref().filter(|v| !v.is_empty()) {
        add("i.protocol_number = ?", v.to_string());
    }
    if let Some(v) = filter.snils.as_deref().filter(|v| !v.is_empty()) {
        add("i.snils = ?", v.chars().filter(char::is_ascii_digit).collect());
    }
    if let Some(v) = filter.surname.as_deref().filter(|v| !v.is_empty()) {
        add("p.search_name LIKE ?", format!("{}%", v.trim().to_uppercase()));
    }
    if let Some(v) = filter.status.as_deref().filter(|v| !v.is_empty()) {
        add("i.status = ?", v.to_string());
    }
    if let Some(v) = filter.decision_from.as_deref().filter(|v| !v.is_empty()) {
        add("i.decision_date >= ?", v.to_string());
    }
    if let Some(v) = filter.decision_to.as_deref().filter(|v| !v.is_empty()) {
        add("i.decision_date <= ?", v.to_string());
    }
    let where_sql = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };

    let count_sql = format!("SELECT COUNT(*) AS n FROM ipras i JOIN persons p ON p.id = i.person_id {where_sql}");
    let mut count = sqlx::query(&count_sql);
    for b in &binds {
        count = count.bind(b);
    }
    let total: i64 = count.fetch_one(&db.pool).await?.try_get("n")?;

    let list_sql = format!(
        "SELECT i.id, i.number, i.protocol_number, i.protocol_date, i.decision_date, i.document_version, i.issued_by, \
         i.status, i.is_child, i.snils, p.surname, p.given_name, p.patronymic, \
         (SELECT COUNT(*) FROM measures m WHERE m.ipra_id = i.id) AS measures \
         FROM ipras i JOIN persons p ON p.id = i.person_id {where_sql} \
         ORDER BY i.decision_date DESC, i.id DESC LIMIT {per_page} OFFSET {}",
        (page - 1) * per_page
    );
    let mut list = sqlx::query(&list_sql);
    for b in &binds {
        list = list.bind(b);
    }
    let items = list
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| -> Result<IpraListItem> {
            Ok(IpraListItem {
                id: row.try_get("id")?,
                number: row.try_get("number")?,
                protocol_number: row.try_get("protocol_number")?,
                protocol_date: row.try_get("protocol_date")?,
                decision_date: opt_text(row, "decision_date"),
                document_version: row.try_get("document_version")?,
                issued_by: opt_text(row, "issued_by"),
                status: row.try_get("status")?,
                is_child: row.try_get::<i64, _>("is_child")? != 0,
                snils: mask_snils(&row.try_get::<String, _>("snils")?),
                full_name: full_name(
                    &row.try_get::<String, _>("surname")?,
                    &row.try_get::<String, _>("given_name")?,
                    opt_text(row, "patronymic").as_deref(),
                ),
                measures: row.try_get("measures")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(IpraPage {
        total,
        page,
        per_page,
        items,
    })
}

#[derive(Clone, Debug, Serialize)]
pub struct MeasureView {
    pub id: i64,
    pub status: String,
    pub due_date: Option<String>,
    pub assignment_source: Option<String>,
    pub closed_reason: Option<String>,
    pub key: String,
    pub section: String,
    pub category_code: String,
    pub category_name: String,
    pub code: Option<String>,
    pub name: String,
    pub guid: Option<String>,
    pub executor_ogrn: Option<String>,
    pub executor_name: Option<String>,
    pub date_from: Option<String>,
    pub date_to: Option<String>,
    pub quantity: Option<String>,
    pub claimed_by: Option<String>,
    pub assigned_ogrn: Option<String>,
    pub assignment_note: Option<String>,
    pub extra: Vec<(String, String)>,
}

/// A `measures` row as the API shows it.
pub fn measure_from_row(m: &sqlx::any::AnyRow) -> Result<MeasureView> {
    Ok(MeasureView {
        id: m.try_get("id")?,
        status: m.try_get("status")?,
        due_date: opt_text(m, "due_date"),
        assignment_source: opt_text(m, "assignment_source"),
        closed_reason: opt_text(m, "closed_reason"),
        key: m.try_get("measure_key")?,
        section: m.try_get("section")?,
        category_code: m.try_get("category_code")?,
        category_name: m.try_get("category_name")?,
        code: opt_text(m, "code"),
        name: m.try_get("name")?,
        guid: opt_text(m, "guid"),
        executor_ogrn: opt_text(m, "executor_ogrn"),
        executor_name: opt_text(m, "executor_name"),
        date_from: opt_text(m, "date_from"),
        date_to: opt_text(m, "date_to"),
        quantity: opt_text(m, "quantity"),
        claimed_by: opt_text(m, "claimed_by"),
        assigned_ogrn: opt_text(m, "assigned_ogrn"),
        assignment_note: opt_text(m, "assignment_note"),
        extra: serde_json::from_str(&m.try_get::<String, _>("extra")?).unwrap_or_default(),
    })
}

impl MeasureView {
    /// The measure as plugins see it.
    pub fn to_wit(&self) -> crate::plugins::runtime::wit::Measure {
        use crate::plugins::runtime::wit;
        wit::Measure {
            key: self.key.clone(),
            section: self.section.clone(),
            category_code: self.category_code.clone(),
            category_name: self.category_name.clone(),
            code: self.code.clone(),
            name: self.name.clone(),
            guid: self.guid.clone(),
            executor_ogrn: self.executor_ogrn.clone(),
            executor_name: self.executor_name.clone(),
            date_from: self.date_from.clone(),
            date_to: self.date_to.clone(),
            quantity: self.quantity.clone(),
            extra: self
                .extra
                .iter()
                .map(|(code, value)| wit::Attribute {
                    code: code.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct HistoryItem {
    pub id: i64,
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub status: String,
    pub superseded_by: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PriorReportView {
    pub document_id: String,
    pub document_version: String,
    pub number: Option<String>,
    pub report_date: Option<String>,
    pub source: Option<String>,
    pub entries: serde_json::Value,
}

/// The extract card: everything about one IPRA, with the person's data in full.
#[derive(Clone, Debug, Serialize)]
pub struct IpraCard {
    pub id: i64,
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub decision_date: Option<String>,
    pub valid_until: Option<String>,
    pub issued_by: Option<String>,
    pub document_version: String,
    pub document_id: String,
    pub extract_id: String,
    pub status: String,
    pub superseded_by: Option<i64>,
    pub is_child: bool,
    pub received_at: String,
    pub extra: serde_json::Value,
    pub person: PersonView,
    pub measures: Vec<MeasureView>,
    pub history: Vec<HistoryItem>,
    pub prior_reports: Vec<PriorReportView>,
    pub source_document: SourceView,
}

#[derive(Clone, Debug, Serialize)]
pub struct PersonView {
    pub snils: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: Option<String>,
    pub gender: Option<String>,
    pub territory_code: Option<String>,
    pub address: Option<String>,
    pub death_date: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SourceView {
    pub id: i64,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// The card of one IPRA; with a `scope` (an executor's OGRN) only when some of its measures are
/// assigned to that organisation, and with only those measures.
pub async fn ipra_card(db: &Db, id: i64, scope: Option<&str>) -> Result<Option<IpraCard>> {
    if let Some(ogrn) = scope {
        let visible: i64 = sqlx::query("SELECT COUNT(*) AS n FROM measures WHERE ipra_id = $1 AND assigned_ogrn = $2")
            .bind(id)
            .bind(ogrn)
            .fetch_one(&db.pool)
            .await?
            .try_get("n")?;
        if visible == 0 {
            return Ok(None);
        }
    }
    let Some(row) = sqlx::query(
        "SELECT i.*, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender, p.territory_code, p.address, p.death_date, \
         s.file_name, s.sha256, s.size_bytes \
         FROM ipras i JOIN persons p ON p.id = i.person_id JOIN source_documents s ON s.id = i.source_document_id WHERE i.id = $1",
    )
    .bind(id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let person_id: i64 = row.try_get("person_id")?;
    let measures =
        sqlx::query("SELECT * FROM measures WHERE ipra_id = $1 AND ($2 = '' OR assigned_ogrn = $2) ORDER BY id")
            .bind(id)
            .bind(scope.unwrap_or(""))
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(measure_from_row)
            .collect::<Result<Vec<_>>>()?;
    let history = sqlx::query(
        "SELECT id, number, protocol_number, protocol_date, status, superseded_by FROM ipras WHERE person_id = $1 ORDER BY protocol_date, id",
    )
    .bind(person_id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|h| -> Result<HistoryItem> {
        Ok(HistoryItem {
            id: h.try_get("id")?,
            number: h.try_get("number")?,
            protocol_number: h.try_get("protocol_number")?,
            protocol_date: h.try_get("protocol_date")?,
            status: h.try_get("status")?,
            superseded_by: h.try_get("superseded_by").ok().flatten(),
        })
    })
    .collect::<Result<Vec<_>>>()?;
    let prior_reports = sqlx::query(
        "SELECT document_id, document_version, number, report_date, source, entries FROM prior_reports WHERE ipra_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(|r| -> Result<PriorReportView> {
        Ok(PriorReportView {
            document_id: r.try_get("document_id")?,
            document_version: r.try_get("document_version")?,
            number: opt_text(r, "number"),
            report_date: opt_text(r, "report_date"),
            source: opt_text(r, "source"),
            entries: serde_json::from_str(&r.try_get::<String, _>("entries")?).unwrap_or_default(),
        })
    })
    .collect::<Result<Vec<_>>>()?;
    Ok(Some(IpraCard {
        id,
        number: row.try_get("number")?,
        protocol_number: row.try_get("protocol_number")?,
        protocol_date: row.try_get("protocol_date")?,
        decision_date: opt_text(&row, "decision_date"),
        valid_until: opt_text(&row, "valid_until"),
        issued_by: opt_text(&row, "issued_by"),
        document_version: row.try_get("document_version")?,
        document_id: row.try_get("document_id")?,
        extract_id: row.try_get("extract_id")?,
        status: row.try_get("status")?,
        superseded_by: row.try_get("superseded_by").ok().flatten(),
        is_child: row.try_get::<i64, _>("is_child")? != 0,
        received_at: row.try_get("received_at")?,
        extra: serde_json::from_str(&row.try_get::<String, _>("extra")?).unwrap_or_default(),
        person: PersonView {
            snils: format_snils(&row.try_get::<String, _>("snils")?),
            surname: row.try_get("surname")?,
            given_name: row.try_get("given_name")?,
            patronymic: opt_text(&row, "patronymic"),
            birth_date: opt_text(&row, "birth_date"),
            gender: opt_text(&row, "gender"),
            territory_code: opt_text(&row, "territory_code"),
            address: opt_text(&row, "address"),
            death_date: opt_text(&row, "death_date"),
        },
        measures,
        history,
        prior_reports,
        source_document: SourceView {
            id: row.try_get("source_document_id")?,
            file_name: row.try_get("file_name")?,
            sha256: row.try_get("sha256")?,
            size_bytes: row.try_get("size_bytes")?,
        },
    }))
}

/// The original bytes of a source document (decompressed) and its file name.
pub async fn source_document(db: &Db, ipra_id: i64) -> Result<Option<(String, Vec<u8>)>> {
    let Some(row) = sqlx::query(
        "SELECT s.file_name, s.content FROM source_documents s JOIN ipras i ON i.source_document_id = s.id WHERE i.id = $1",
    )
    .bind(ipra_id)
    .fetch_optional(&db.pool)
    .await?
    else {
        return Ok(None);
    };
    let content: Vec<u8> = row.try_get("content")?;
    let bytes = zstd::stream::decode_all(content.as_slice())?;
    Ok(Some((row.try_get("file_name")?, bytes)))
}

/// Counts for the health endpoint and the page header.
#[derive(Clone, Debug, Serialize)]
pub struct RegisterCounts {
    pub persons: i64,
    pub ipras: i64,
    pub active_ipras: i64,
    pub measures: i64,
}

pub async fn counts(db: &Db) -> Result<RegisterCounts> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM persons) AS persons, (SELECT COUNT(*) FROM ipras) AS ipras, \
         (SELECT COUNT(*) FROM ipras WHERE status = 'active') AS active_ipras, (SELECT COUNT(*) FROM measures) AS measures",
    )
    .fetch_one(&db.pool)
    .await?;
    Ok(RegisterCounts {
        persons: row.try_get("persons")?,
        ipras: row.try_get("ipras")?,
        active_ipras: row.try_get("active_ipras")?,
        measures: row.try_get("measures")?,
    })
}
