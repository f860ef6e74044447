//! The coordinator's control of deadlines and workload: what is open, overdue or due soon, the
//! workload of each organisation, section and territory, the list of overdue measures and the
//! queue of measures no organisation executes yet. Also the breakdowns the statistics charts draw
//! (by section and status, by territory, by month), under the same filter as `stats::compute`.

use super::deadlines::{format_date, parse_date};
use super::stats::StatsFilter;
use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Row};
use time::Duration;

/// An open measure still has to be done: open, of an IPRA in force.
const OPEN: &str = "m.status = 'open' AND i.status = 'active'";

/// How many days ahead the dashboard's "due soon" looks.
pub const SOON_DAYS: i64 = 7;

/// The counts on the dashboard's cards.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Cards {
    pub today: String,
    /// Open measures of IPRAs in force.
    pub open: i64,
    /// Of them past their due date.
    pub overdue: i64,
    /// Of them due today or within the next `soon_days` days.
    pub due_soon: i64,
    pub soon_days: i64,
    /// Open measures no organisation is assigned to: the coordinator's queue.
    pub unassigned: i64,
    pub reports_awaiting_signature: i64,
    pub failed_messages: i64,
    /// ZAGS death records waiting for a person's decision.
    pub pending_deaths: i64,
    /// TSR clarification requests not closed (waiting to be sent, or sent and waiting for ИС МСЭ's answer),
    /// and of them those not sent within their two working days.
    pub tsr_clarifications_open: i64,
    pub tsr_clarifications_overdue: i64,
}

async fn count(db: &Db, sql: &str, binds: &[&str]) -> Result<i64> {
    crate::plans::record(sql, binds.iter().map(|b| crate::plans::Arg::Text(b.to_string())));
    let mut q = sqlx::query(sql);
    for b in binds {
        q = q.bind(*b);
    }
    Ok(q.fetch_one(&db.pool).await?.try_get("n")?)
}

/// The cards as of `today`: the measure counts from the statistics index, the rest from their
/// (small, indexed) tables.
pub async fn cards(db: &Db, figures: &super::facts::DashboardFigures, today: &str, soon_days: i64) -> Result<Cards> {
    let mut cards = other_cards(db, today).await?;
    cards.open = figures.open;
    cards.overdue = figures.overdue;
    cards.due_soon = figures.due_soon;
    cards.soon_days = soon_days;
    cards.unassigned = figures.unassigned;
    Ok(cards)
}

/// The cards counted directly in the database (the definition the statistics index is checked
/// against).
pub async fn cards_direct(db: &Db, today: &str, soon_days: i64) -> Result<Cards> {
    let soon = parse_date(today)
        .map(|d| format_date(d + Duration::days(soon_days)))
        .unwrap_or_else(|| today.to_string());
    let from_measures = "SELECT COUNT(*) AS n FROM measures m JOIN ipras i ON i.id = m.ipra_id WHERE";
    let mut cards = other_cards(db, today).await?;
    cards.open = count(db, &format!("{from_measures} {OPEN}"), &[]).await?;
    cards.overdue = count(
        db,
        &format!("{from_measures} {OPEN} AND m.due_date IS NOT NULL AND m.due_date < $1"),
        &[today],
    )
    .await?;
    cards.due_soon = count(
        db,
        &format!("{from_measures} {OPEN} AND m.due_date >= $1 AND m.due_date <= $2"),
        &[today, &soon],
    )
    .await?;
    cards.soon_days = soon_days;
    cards.unassigned = count(db, &format!("{from_measures} {OPEN} AND m.assigned_ogrn IS NULL"), &[]).await?;
    Ok(cards)
}

/// The cards that do not count measures.
async fn other_cards(db: &Db, today: &str) -> Result<Cards> {
    Ok(Cards {
        today: today.to_string(),
        reports_awaiting_signature: count(
            db,
            "SELECT COUNT(*) AS n FROM reports WHERE status = 'awaiting-signature'",
            &[],
        )
        .await?,
        failed_messages: count(
            db,
            "SELECT COUNT(*) AS n FROM exchange_messages WHERE status = 'failed'",
            &[],
        )
        .await?,
        pending_deaths: count(
            db,
            "SELECT COUNT(*) AS n FROM death_records WHERE status IN ('pending', 'no-match')",
            &[],
        )
        .await?,
        tsr_clarifications_open: count(
            db,
            "SELECT COUNT(*) AS n FROM follow_ups WHERE kind = 'tsr-clarification' AND status IN ('open', 'sent')",
            &[],
        )
        .await?,
        tsr_clarifications_overdue: count(
            db,
            "SELECT COUNT(*) AS n FROM follow_ups WHERE kind = 'tsr-clarification' AND status = 'open' \
             AND due_date IS NOT NULL AND due_date < $1",
            &[today],
        )
        .await?,
        ..Cards::default()
    })
}

/// How a workload table groups the measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grouping {
    Organisation,
    Section,
    Territory,
}

/// One line of a workload table: measures assigned, in work, executed, not executed, overdue.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct WorkloadRow {
    /// OGRN, section id or territory code; None: not assigned / territory unknown.
    pub key: Option<String>,
    /// The organisation's name (for the organisation table).
    pub name: Option<String>,
    pub assigned: i64,
    pub in_work: i64,
    pub executed: i64,
    pub not_executed: i64,
    pub overdue: i64,
    pub oldest_overdue: Option<String>,
}

/// Measures of IPRAs not superseded, grouped; closed measures (death, supersession) are not work.
/// Counted directly in the database: the definition the statistics index is checked against.
pub async fn workload_direct(db: &Db, today: &str, grouping: Grouping) -> Result<Vec<WorkloadRow>> {
    let (key, join, name) = match grouping {
        Grouping::Organisation => (
            "m.assigned_ogrn",
            "LEFT JOIN organisations o ON o.ogrn = m.assigned_ogrn",
            "MAX(o.name)",
        ),
        Grouping::Section => ("m.section", "", "NULL"),
        Grouping::Territory => ("p.territory_code", "", "NULL"),
    };
    let late = format!("{OPEN} AND m.due_date IS NOT NULL AND m.due_date < $1");
    let sql = format!(
        "SELECT {key} AS k, {name} AS name, COUNT(*) AS assigned, \
         SUM(CASE WHEN {OPEN} THEN 1 ELSE 0 END) AS in_work, \
         SUM(CASE WHEN m.status = 'executed' THEN 1 ELSE 0 END) AS executed, \
         SUM(CASE WHEN m.status = 'not-executed' THEN 1 ELSE 0 END) AS not_executed, \
         SUM(CASE WHEN {late} THEN 1 ELSE 0 END) AS overdue, \
         MIN(CASE WHEN {late} THEN m.due_date END) AS oldest \
         FROM measures m JOIN ipras i ON i.id = m.ipra_id JOIN persons p ON p.id = i.person_id {join} \
         WHERE m.status <> 'closed' AND i.status <> 'superseded' GROUP BY {key} ORDER BY {key}"
    );
    sqlx::query(&sql)
        .bind(today)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(WorkloadRow {
                key: opt_text(r, "k"),
                name: opt_text(r, "name"),
                assigned: r.try_get("assigned")?,
                in_work: sum(r, "in_work")?,
                executed: sum(r, "executed")?,
                not_executed: sum(r, "not_executed")?,
                overdue: sum(r, "overdue")?,
                oldest_overdue: opt_text(r, "oldest"),
            })
        })
        .collect()
}

/// SUM over integers: BIGINT on SQLite, NUMERIC on PostgreSQL (read as text there by `Any`), NULL
/// over no rows.
pub fn sum(row: &sqlx::any::AnyRow, column: &str) -> Result<i64> {
    if let Ok(v) = row.try_get::<Option<i64>, _>(column) {
        return Ok(v.unwrap_or(0));
    }
    if let Ok(v) = row.try_get::<Option<f64>, _>(column) {
        return Ok(v.unwrap_or(0.0) as i64);
    }
    let text: Option<String> = row.try_get(column)?;
    Ok(text.and_then(|t| t.parse().ok()).unwrap_or(0))
}

/// Filters, order and page of the overdue list (and of the unassigned queue).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    pub section: Option<String>,
    /// OGRN of the organisation the measures are assigned to.
    pub org: Option<String>,
    pub territory: Option<String>,
    /// `due` (oldest first, default), `-due`, `number`, `section`, `org`, `name`.
    pub sort: Option<String>,
    pub page: Option<u32>,
    pub per_page: Option<u32>,
}

impl ListQuery {
    pub fn page(&self) -> u32 {
        self.page.unwrap_or(1).max(1)
    }

    /// The list's order: one of [`SORTS`], the due date by default.
    pub fn sort_key(&self) -> &str {
        self.sort.as_deref().filter(|s| SORTS.contains(s)).unwrap_or("due")
    }

    pub fn per_page(&self) -> u32 {
        self.per_page.unwrap_or(25).clamp(1, 500)
    }
}

/// The orders a list accepts, for links and checks.
pub const SORTS: &[&str] = &["due", "-due", "number", "-number", "section", "org", "name"];

/// One measure in the overdue list or the queue; SNILS masked.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MeasureLine {
    #[sqlx(rename = "id")]
    pub measure_id: i64,
    pub ipra_id: i64,
    #[sqlx(rename = "number")]
    pub ipra_number: String,
    #[sqlx(try_from = "super::query::MaskedSnils")]
    pub snils: String,
    /// Names of the page's persons and organisations are read after its `LIMIT`.
    #[sqlx(skip)]
    pub full_name: String,
    pub territory_code: Option<String>,
    pub section: String,
    #[sqlx(rename = "name")]
    pub measure: String,
    #[sqlx(rename = "assigned_ogrn")]
    pub ogrn: Option<String>,
    #[sqlx(skip)]
    pub organisation: Option<String>,
    pub due_date: Option<String>,
    /// Calendar days past the due date (overdue list); 0 otherwise.
    #[sqlx(skip)]
    pub days_overdue: i64,
    pub received_at: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct MeasurePage {
    pub today: String,
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<MeasureLine>,
}

/// Which measures a list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Overdue,
    Unassigned,
}

/// Pages of a work list reach at most this many rows deep (past it: narrow the filter; exports
/// page by position and have no such limit).
pub const DEEPEST: u64 = 10_000;

/// How a list's order walks: the tables (with `INDEXED` where SQLite is told the index) and the
/// ordering columns, the measure's id last.
fn walk(sort: &str, which: Which, q: &ListQuery) -> (&'static str, &'static str, Vec<&'static str>, bool) {
    // (from, index, order columns, descending)
    match sort {
        "-due" | "due" => {
            let index = if which == Which::Unassigned || q.org.is_some() {
                "measures_org"
            } else if q.section.is_some() {
                "measures_status_section"
            } else {
                "measures_status"
            };
            (
                "measures m INDEXED JOIN ipras i ON i.id = m.ipra_id",
                index,
                vec!["m.due_date"],
                sort == "-due",
            )
        }
        "number" | "-number" => (
            "ipras i INDEXED JOIN measures m ON m.ipra_id = i.id",
            "ipras_sort_number",
            vec!["i.number", "i.id"],
            sort == "-number",
        ),
        "name" => (
            "ipras i INDEXED JOIN measures m ON m.ipra_id = i.id",
            "ipras_sort_name",
            vec!["i.search_name", "i.id"],
            false,
        ),
        "section" => (
            "measures m INDEXED JOIN ipras i ON i.id = m.ipra_id",
            "measures_status_section",
            vec!["m.section", "m.due_date"],
            false,
        ),
        // By the organisation's name: the directory in name order, each one's measures by due date.
        _ => (
            "organisations o INDEXED JOIN measures m ON m.assigned_ogrn = o.ogrn JOIN ipras i ON i.id = m.ipra_id",
            "organisations_name",
            vec!["o.name", "o.id", "m.due_date"],
            false,
        ),
    }
}

/// A page of the overdue list or the queue (`all`: every row, for exports — streamed by the
/// caller through [`measures_after`] instead when large).
pub async fn measures(
    db: &Db,
    facts: Option<&super::facts::FactsIndex>,
    today: &str,
    which: Which,
    q: &ListQuery,
    all: bool,
) -> Result<MeasurePage> {
    let (page, per_page) = (q.page(), q.per_page());
    let offset = if all {
        0
    } else {
        u64::from(page - 1) * u64::from(per_page)
    };
    let limit = if all { DEEPEST as u32 } else { per_page };
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    // Counted by the statistics index when it knows the answer; else the list counts itself.
    let known = facts.and_then(|f| {
        f.open_count(
            today,
            which == Which::Overdue,
            given(&q.section).as_deref(),
            given(&q.org).as_deref(),
            given(&q.territory).as_deref(),
        )
    });
    let (items, total, _) = measures_from(db, today, which, q, offset.min(DEEPEST), limit, None, known).await?;
    Ok(MeasurePage {
        today: today.to_string(),
        total,
        page,
        per_page,
        items,
    })
}

/// Rows after the position `after` (the third value of the previous call), `limit` of them: exports
/// page through a list of any length this way.
pub async fn measures_after(
    db: &Db,
    today: &str,
    which: Which,
    q: &ListQuery,
    after: Option<&str>,
    limit: u32,
) -> Result<(Vec<MeasureLine>, Option<String>)> {
    let (items, _, next) = measures_from(db, today, which, q, 0, limit, after, Some(0)).await?;
    Ok((items, next))
}

#[allow(clippy::too_many_arguments)]
async fn measures_from(
    db: &Db,
    today: &str,
    which: Which,
    q: &ListQuery,
    offset: u64,
    limit: u32,
    after: Option<&str>,
    known_total: Option<i64>,
) -> Result<(Vec<MeasureLine>, i64, Option<String>)> {
    let sort = q.sort_key();
    let (from, index, order_cols, desc) = walk(sort, which, q);
    let mut conditions = vec!["m.status = 'open'".to_string(), "i.status = 'active'".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let mut add = |conditions: &mut Vec<String>, sql: &str, value: &str| {
        binds.push(value.to_string());
        conditions.push(sql.replace('?', &format!("${}", binds.len())));
    };
    if which == Which::Unassigned {
        conditions.push("m.assigned_ogrn IS NULL".into());
    }
    if which == Which::Overdue {
        add(&mut conditions, "m.due_date IS NOT NULL AND m.due_date < ?", today);
        if from.starts_with("ipras") {
            // IPRAs without an overdue measure are passed over on their own row.
            add(&mut conditions, "i.open_due_min < ?", today);
        }
    }
    if let Some(s) = q.section.as_deref().filter(|v| !v.is_empty()) {
        add(&mut conditions, "m.section = ?", s);
    }
    if let Some(o) = q.org.as_deref().filter(|v| !v.is_empty()) {
        add(&mut conditions, "m.assigned_ogrn = ?", o);
    }
    if let Some(t) = q.territory.as_deref().filter(|v| !v.is_empty()) {
        add(&mut conditions, "i.territory_code = ?", t);
    }
    let hint = super::query::indexed_by(db, index);
    let measure_index = if from.starts_with("ipras") {
        super::query::indexed_by(db, "measures_ipra_status")
    } else {
        String::new()
    };
    let from = from
        .replacen(" INDEXED", &hint, 1)
        .replace("JOIN measures m ON", &format!("JOIN measures m{measure_index} ON"));
    let where_of = |c: &[String]| format!(" WHERE {}", c.join(" AND "));
    let count_sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {from}{} LIMIT {}) t",
        where_of(&conditions),
        DEEPEST + 1
    );
    let total: i64 = match known_total {
        Some(n) => n,
        None => {
            crate::plans::record(&count_sql, crate::plans::texts(&binds));
            let mut count = sqlx::query(&count_sql);
            for b in &binds {
                count = count.bind(b.as_str());
            }
            count.fetch_one(&db.pool).await?.try_get("n")?
        }
    };
    let mut keyed: Vec<&str> = order_cols.clone();
    keyed.push("m.id");
    let dir = if desc { "DESC" } else { "ASC" };
    let mut conds = conditions.clone();
    let mut page_binds = binds.clone();
    if let Some(position) = after.and_then(decode_position) {
        let mut rhs = Vec::new();
        for (col, value) in keyed.iter().zip(position.iter()) {
            page_binds.push(value.clone());
            let p = format!("${}", page_binds.len());
            rhs.push(if col.ends_with(".id") {
                format!("CAST({p} AS BIGINT)")
            } else {
                p
            });
        }
        conds.push(format!(
            "({}) {} ({})",
            keyed.join(", "),
            if desc { "<" } else { ">" },
            rhs.join(", ")
        ));
    }
    let order = keyed
        .iter()
        .map(|c| format!("{c} {dir}"))
        .collect::<Vec<_>>()
        .join(", ");
    let keys = keyed
        .iter()
        .enumerate()
        .map(|(n, c)| format!("CAST({c} AS TEXT) AS k{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "SELECT m.id, m.ipra_id, i.number, i.snils, i.received_at, i.person_id, i.territory_code, m.section, m.name, \
         m.assigned_ogrn, m.due_date, {keys} FROM {from}{} ORDER BY {order} LIMIT {} OFFSET {offset}",
        where_of(&conds),
        limit + 1
    );
    crate::plans::record(&sql, crate::plans::texts(&page_binds));
    let mut select = sqlx::query(&sql);
    for b in &page_binds {
        select = select.bind(b.as_str());
    }
    let rows = select.fetch_all(&db.pool).await?;
    let more = rows.len() > limit as usize;
    let today_date = parse_date(today);
    let mut items = Vec::new();
    let mut last = None;
    for r in rows.iter().take(limit as usize) {
        let mut line = MeasureLine::from_row(r)?;
        line.days_overdue = match (which, today_date, line.due_date.as_deref().and_then(parse_date)) {
            (Which::Overdue, Some(t), Some(d)) => (t - d).whole_days().max(0),
            _ => 0,
        };
        items.push(line);
        last = Some(
            (0..keyed.len())
                .map(|n| opt_text(r, &format!("k{n}")).unwrap_or_default())
                .collect::<Vec<_>>(),
        );
    }
    // Names of the persons and organisations of this page (after its LIMIT).
    let persons: Vec<String> = rows
        .iter()
        .take(items.len())
        .filter_map(|r| r.try_get::<i64, _>("person_id").ok())
        .map(|i| i.to_string())
        .collect();
    if !persons.is_empty() {
        let mut names = std::collections::HashMap::new();
        for r in sqlx::query(&format!(
            "SELECT id, surname, given_name, patronymic FROM persons WHERE id IN ({})",
            persons.join(",")
        ))
        .fetch_all(&db.pool)
        .await?
        {
            let name = [
                r.try_get::<String, _>("surname")?,
                r.try_get::<String, _>("given_name")?,
                opt_text(&r, "patronymic").unwrap_or_default(),
            ]
            .join(" ")
            .trim()
            .to_string();
            names.insert(r.try_get::<i64, _>("id")?, name);
        }
        for (item, r) in items.iter_mut().zip(&rows) {
            if let Some(n) = r.try_get::<i64, _>("person_id").ok().and_then(|id| names.get(&id)) {
                item.full_name = n.clone();
            }
        }
        let orgs: Vec<String> = items
            .iter()
            .filter_map(|i| i.ogrn.as_deref())
            .map(|o| format!("'{}'", o.replace('\'', "")))
            .collect();
        if !orgs.is_empty() {
            let mut org_names = std::collections::HashMap::new();
            for r in sqlx::query(&format!(
                "SELECT ogrn, name FROM organisations WHERE ogrn IN ({})",
                orgs.join(",")
            ))
            .fetch_all(&db.pool)
            .await?
            {
                org_names.insert(r.try_get::<String, _>("ogrn")?, r.try_get::<String, _>("name")?);
            }
            for item in items.iter_mut() {
                item.organisation = item.ogrn.as_ref().and_then(|o| org_names.get(o).cloned());
            }
        }
    }
    let next = if more { last.map(|l| encode_position(&l)) } else { None };
    Ok((items, total, next))
}

fn encode_position(values: &[String]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(values).unwrap_or_default())
}

fn decode_position(text: &str) -> Option<Vec<String>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The territory codes persons of the register have, for the filters next to the reference list.
pub async fn territory_codes(db: &Db) -> Result<Vec<String>> {
    super::query::person_territories(db).await
}

/// The IPRA/measure conditions of a statistics filter, as `stats::compute` applies them.
fn stats_where(filter: &StatsFilter, binds: &mut Vec<String>) -> (String, String) {
    let mut ipra = vec!["1 = 1".to_string()];
    let mut measure = vec!["1 = 1".to_string()];
    let mut add = |list: &mut Vec<String>, sql: &str, value: &str| {
        binds.push(value.to_string());
        list.push(sql.replace('?', &format!("${}", binds.len())));
    };
    let given = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
    if let Some(v) = given(&filter.from) {
        add(&mut ipra, "substr(i.received_at, 1, 10) >= ?", &v);
    }
    if let Some(v) = given(&filter.to) {
        add(&mut ipra, "substr(i.received_at, 1, 10) <= ?", &v);
    }
    if let Some(v) = given(&filter.territory) {
        add(&mut ipra, "p.territory_code = ?", &v);
    }
    if let Some(v) = given(&filter.section) {
        add(&mut measure, "m.section = ?", &v);
    }
    if let Some(v) = given(&filter.organisation) {
        add(&mut measure, "m.assigned_ogrn = ?", &v);
    }
    (ipra.join(" AND "), measure.join(" AND "))
}

/// Measures of one section by state: executed, not executed, in work on time, overdue.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SectionStatus {
    pub section: String,
    pub executed: i64,
    pub not_executed: i64,
    pub in_work: i64,
    pub overdue: i64,
}

/// Persons and measures received, by territory (None: not determined) or by month (`YYYY-MM`).
#[derive(Clone, Debug, Serialize, PartialEq, sqlx::FromRow)]
pub struct Breakdown {
    #[sqlx(rename = "k")]
    pub key: Option<String>,
    pub extracts: i64,
    pub persons: i64,
    pub measures: i64,
}

/// What the statistics charts draw, under the statistics filter.
#[derive(Clone, Debug, Serialize)]
pub struct ChartData {
    pub by_section: Vec<SectionStatus>,
    pub by_territory: Vec<Breakdown>,
    pub monthly: Vec<Breakdown>,
    /// Extracts, persons and measures by target rehabilitation group (the key is the ЦРГ code; an
    /// IPRA of several groups counts in each).
    pub by_target_group: Vec<Breakdown>,
    /// Extracts, persons and measures of the IPRAs that say the child needs early help (no key).
    pub early_help: Breakdown,
}

/// Target groups in the order of their numbers («ЦРГ 2» before «ЦРГ 10»), then by code.
pub fn sort_target_groups(rows: &mut [Breakdown]) {
    rows.sort_by_key(|r| {
        let code = r.key.clone().unwrap_or_default();
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), code)
    });
}

/// The charts' breakdowns counted directly in the database (the definition the statistics index is
/// checked against).
pub async fn chart_data_direct(db: &Db, filter: &StatsFilter, today: &str) -> Result<ChartData> {
    let mut binds = Vec::new();
    let (ipra, measure) = stats_where(filter, &mut binds);
    binds.push(today.to_string());
    let today_p = format!("${}", binds.len());
    let base = format!(
        "FROM ipras i JOIN persons p ON p.id = i.person_id LEFT JOIN measures m ON m.ipra_id = i.id AND {measure} WHERE {ipra}"
    );
    let open = OPEN;
    let sql = format!(
        "SELECT m.section AS section, \
         SUM(CASE WHEN m.status = 'executed' THEN 1 ELSE 0 END) AS executed, \
         SUM(CASE WHEN m.status = 'not-executed' THEN 1 ELSE 0 END) AS not_executed, \
         SUM(CASE WHEN {open} AND (m.due_date IS NULL OR m.due_date >= {today_p}) THEN 1 ELSE 0 END) AS in_work, \
         SUM(CASE WHEN {open} AND m.due_date < {today_p} THEN 1 ELSE 0 END) AS overdue \
         {base} AND m.id IS NOT NULL GROUP BY m.section ORDER BY m.section"
    );
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b);
    }
    let by_section = q
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(SectionStatus {
                section: r.try_get("section")?,
                executed: sum(r, "executed")?,
                not_executed: sum(r, "not_executed")?,
                in_work: sum(r, "in_work")?,
                overdue: sum(r, "overdue")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The two breakdowns do not use today's date: without it the last parameter is not sent.
    let breakdown_binds = &binds[..binds.len() - 1];
    let breakdown = |key: &'static str| {
        format!(
            "SELECT {key} AS k, COUNT(DISTINCT i.id) AS extracts, COUNT(DISTINCT i.person_id) AS persons, \
             COUNT(DISTINCT m.id) AS measures {base} GROUP BY {key} ORDER BY {key}"
        )
    };
    let mut out = Vec::new();
    for key in ["p.territory_code", "substr(i.received_at, 1, 7)"] {
        let sql = breakdown(key);
        let mut q = sqlx::query(&sql);
        for b in breakdown_binds {
            q = q.bind(b);
        }
        out.push(
            q.fetch_all(&db.pool)
                .await?
                .iter()
                .map(Breakdown::from_row)
                .collect::<Result<Vec<_>, _>>()?,
        );
    }
    let monthly = out.pop().unwrap_or_default();
    let by_territory = out.pop().unwrap_or_default();
    // An IPRA of several groups counts in each: the codes the extracts named, matched in its column.
    let read = |r: &sqlx::any::AnyRow| -> Result<Breakdown> { Ok(Breakdown::from_row(r)?) };
    let sql = format!(
        "SELECT g.code AS k, COUNT(DISTINCT i.id) AS extracts, COUNT(DISTINCT i.person_id) AS persons, \
         COUNT(DISTINCT m.id) AS measures FROM target_groups g JOIN ipras i ON i.target_groups LIKE '%;' || g.code || ';%' \
         JOIN persons p ON p.id = i.person_id LEFT JOIN measures m ON m.ipra_id = i.id AND {measure} WHERE {ipra} GROUP BY g.code"
    );
    let mut q = sqlx::query(&sql);
    for b in breakdown_binds {
        q = q.bind(b);
    }
    let mut by_target_group = q
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(read)
        .collect::<Result<Vec<_>>>()?;
    sort_target_groups(&mut by_target_group);
    let sql = format!(
        "SELECT NULL AS k, COUNT(DISTINCT i.id) AS extracts, COUNT(DISTINCT i.person_id) AS persons, \
         COUNT(DISTINCT m.id) AS measures {base} AND i.early_help = 1"
    );
    let mut q = sqlx::query(&sql);
    for b in breakdown_binds {
        q = q.bind(b);
    }
    let early_help = read(&q.fetch_one(&db.pool).await?)?;
    Ok(ChartData {
        by_section,
        by_territory,
        monthly: fill_months(monthly),
        by_target_group,
        early_help,
    })
}

/// Months without extracts between the first and the last are shown as zeros, not skipped.
pub fn fill_months(rows: Vec<Breakdown>) -> Vec<Breakdown> {
    let parse = |k: &str| -> Option<(i32, u32)> {
        let (y, m) = k.split_once('-')?;
        Some((y.parse().ok()?, m.parse().ok()?))
    };
    let keys: Vec<(i32, u32)> = rows.iter().filter_map(|r| r.key.as_deref().and_then(parse)).collect();
    let (Some(first), Some(last)) = (keys.first().copied(), keys.last().copied()) else {
        return rows;
    };
    if keys.len() != rows.len() || (last.0 - first.0) * 12 + last.1 as i32 - first.1 as i32 > 240 {
        return rows;
    }
    let mut out = Vec::new();
    let (mut y, mut m) = first;
    while (y, m) <= last {
        let key = format!("{y:04}-{m:02}");
        out.push(
            rows.iter()
                .find(|r| r.key.as_deref() == Some(key.as_str()))
                .cloned()
                .unwrap_or(Breakdown {
                    key: Some(key),
                    extracts: 0,
                    persons: 0,
                    measures: 0,
                }),
        );
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// The section of the measure while it is still in the queue (open, of an IPRA in force, with no
/// executor); none when it is not.
pub async fn queued_section(db: &Db, measure_id: i64) -> Result<Option<String>> {
    let row = sqlx::query(
        "SELECT m.section FROM measures m JOIN ipras i ON i.id = m.ipra_id WHERE m.id = $1 \
         AND m.status = 'open' AND i.status = 'active' AND m.assigned_ogrn IS NULL",
    )
    .bind(measure_id)
    .fetch_optional(&db.pool)
    .await?;
    Ok(match row {
        Some(row) => Some(row.try_get("section")?),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(key: &str, n: i64) -> Breakdown {
        Breakdown {
            key: Some(key.into()),
            extracts: n,
            persons: n,
            measures: n,
        }
    }

    #[test]
    fn months_without_extracts_are_zeros() {
        let filled = fill_months(vec![month("2025-11", 2), month("2026-02", 1)]);
        let keys: Vec<_> = filled.iter().map(|b| b.key.clone().unwrap()).collect();
        assert_eq!(keys, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(filled[1].extracts, 0);
        assert_eq!(filled[3].extracts, 1);
        assert!(fill_months(vec![]).is_empty());
    }

    #[test]
    fn unknown_sort_falls_back_to_due_date() {
        let q = ListQuery {
            sort: Some("; DROP TABLE measures".into()),
            ..ListQuery::default()
        };
        assert_eq!(q.sort_key(), "due");
        assert_eq!(q.per_page(), 25);
        let q = ListQuery {
            page: Some(0),
            per_page: Some(10_000),
            ..ListQuery::default()
        };
        assert_eq!((q.page(), q.per_page()), (1, 500));
    }
}
