//! Reads of the register for the API, the pages and the CLI: lists of IPRA with filters and
//! paging (SNILS masked), one IPRA with its measures and history, the source document.

use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// Filters of the register of extracts (seed 002: basic and extended filters), the quick search, the
/// sort and the page. Every field is optional text so that an empty form field is simply "no filter".
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct IpraFilter {
    /// Quick search: IPRA number (or its beginning), SNILS, or the beginning of the surname/FIO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// `adult` or `child`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_date: Option<String>,
    /// The MSE institution that issued the IPRA (exact name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snils: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    /// The beginning of «Фамилия Имя Отчество».
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// Only IPRAs with measures of this section.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// `1`: only IPRAs with open measures past their due date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue: Option<String>,
    /// Only IPRAs with measures assigned to this organisation (OGRN).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_to: Option<String>,
    /// A column of [`SORTABLE`]; the default is the decision date, newest first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// `asc` or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<String>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "number_or_empty"
    )]
    pub page: Option<u32>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "number_or_empty"
    )]
    pub per_page: Option<u32>,
}

/// A page number from a query string: an empty or non-numeric value is "not given".
fn number_or_empty<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Number(u32),
        Text(String),
    }
    Ok(match Option::<Raw>::deserialize(d)? {
        Some(Raw::Number(n)) => Some(n),
        Some(Raw::Text(t)) => t.trim().parse().ok(),
        None => None,
    })
}

/// The columns the register may be sorted by, and the SQL each stands for. Only these fragments
/// ever reach the SQL text; what the user sends only chooses among them.
pub const SORTABLE: &[(&str, &str)] = &[
    ("kind", "i.is_child"),
    ("number", "i.number"),
    ("decision_date", "i.decision_date"),
    ("protocol_number", "i.protocol_number"),
    ("protocol_date", "i.protocol_date"),
    ("issued_by", "i.issued_by"),
    ("fio", "p.search_name"),
    ("status", "i.status"),
    ("territory", "p.territory_code"),
    ("measures", "measures"),
    ("overdue", "overdue"),
    ("received", "i.received_at"),
];

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl IpraFilter {
    /// The filter and sort as query-string pairs (no page), in a stable order: links, saved filters.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        [
            ("q", &self.q),
            ("kind", &self.kind),
            ("number", &self.number),
            ("protocol_number", &self.protocol_number),
            ("protocol_date", &self.protocol_date),
            ("issued_by", &self.issued_by),
            ("snils", &self.snils),
            ("surname", &self.surname),
            ("fio", &self.fio),
            ("status", &self.status),
            ("territory", &self.territory),
            ("section", &self.section),
            ("overdue", &self.overdue),
            ("assigned", &self.assigned),
            ("decision_from", &self.decision_from),
            ("decision_to", &self.decision_to),
            ("sort", &self.sort),
            ("dir", &self.dir),
        ]
        .into_iter()
        .filter_map(|(k, v)| non_empty(v).map(|v| (k, v.to_string())))
        .collect()
    }

    /// Whether any filter (not sort or page) is set.
    pub fn is_filtered(&self) -> bool {
        self.pairs().iter().any(|(k, _)| *k != "sort" && *k != "dir")
    }

    /// The first problem with the filter's values, in Russian naming the field.
    pub fn check(&self) -> std::result::Result<(), String> {
        match self.problems().into_iter().next() {
            Some((_, message)) => Err(message),
            None => Ok(()),
        }
    }

    /// Every problem with the filter's values: the parameter it concerns and a Russian message
    /// naming the field (pages show each next to its field).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (key, field, label) in [
            ("decision_from", &self.decision_from, "Дата вынесения решения с"),
            ("decision_to", &self.decision_to, "Дата вынесения решения по"),
            ("protocol_date", &self.protocol_date, "Дата протокола"),
        ] {
            if let Some(v) = non_empty(field) {
                if crate::register::deadlines::parse_date(v).is_none() {
                    out.push((
                        key,
                        format!("«{label}»: дата «{v}» не распознана, нужна дата в виде ГГГГ-ММ-ДД"),
                    ));
                }
            }
        }
        if let (Some(from), Some(to)) = (non_empty(&self.decision_from), non_empty(&self.decision_to)) {
            if out.is_empty() && from > to {
                out.push((
                    "decision_to",
                    "«Дата вынесения решения по» раньше, чем «с»: период пуст".to_string(),
                ));
            }
        }
        if let Some(v) = non_empty(&self.kind) {
            if v != "adult" && v != "child" {
                out.push(("kind", format!("«Тип выписки»: «{v}» — ожидается adult или child")));
            }
        }
        if let Some(v) = non_empty(&self.status) {
            if !["active", "superseded", "closed"].contains(&v) {
                out.push((
                    "status",
                    format!("«Статус»: «{v}» — ожидается active, superseded или closed"),
                ));
            }
        }
        if let Some(v) = non_empty(&self.snils) {
            let digits = v.chars().filter(char::is_ascii_digit).count();
            if digits == 0 || v.chars().any(|c| !(c.is_ascii_digit() || c == '-' || c == ' ')) {
                out.push((
                    "snils",
                    format!("«СНИЛС»: «{v}» — допустимы только цифры, дефисы и пробелы"),
                ));
            }
        }
        if let Some(v) = non_empty(&self.sort) {
            if !SORTABLE.iter().any(|(k, _)| *k == v) {
                out.push(("sort", format!("сортировка по «{v}» недоступна")));
            }
        }
        if let Some(v) = non_empty(&self.dir) {
            if v != "asc" && v != "desc" {
                out.push(("dir", format!("направление сортировки «{v}»: ожидается asc или desc")));
            }
        }
        out
    }

    /// The ORDER BY clause: a whitelisted column, empty values last, ties broken by id.
    fn order_by(&self) -> String {
        let column = non_empty(&self.sort)
            .and_then(|s| SORTABLE.iter().find(|(k, _)| *k == s))
            .map(|(_, sql)| *sql);
        let desc = match non_empty(&self.dir) {
            Some("asc") => false,
            Some("desc") => true,
            _ => column.is_none(),
        };
        let dir = if desc { "DESC" } else { "ASC" };
        match column {
            Some(c @ ("measures" | "overdue")) => format!("{c} {dir}, i.id {dir}"),
            Some(c) => format!("({c} IS NULL), {c} {dir}, i.id {dir}"),
            None => format!("(i.decision_date IS NULL), i.decision_date {dir}, i.id {dir}"),
        }
    }
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
    /// Measures of the IPRA (for an executor: those assigned to its organisation).
    pub measures: i64,
    /// Of them, open and past their due date today.
    pub overdue: i64,
    pub territory_code: Option<String>,
    pub received_at: String,
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

/// Bind values of a query being built, numbered `$1`, `$2`, … in the order they are added.
#[derive(Default)]
struct Binds(Vec<String>);

impl Binds {
    fn add(&mut self, value: String) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }
}

/// The WHERE conditions of a filter; values go to `binds`, never into the SQL text.
fn conditions(filter: &IpraFilter, scope: Option<&str>, today: &str, b: &mut Binds) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(ogrn) = scope {
        c.push(format!(
            "EXISTS (SELECT 1 FROM measures sm WHERE sm.ipra_id = i.id AND sm.assigned_ogrn = {})",
            b.add(ogrn.to_string())
        ));
    }
    if let Some(v) = non_empty(&filter.q) {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        let mut any = vec![
            format!("i.number = {}", b.add(v.to_string())),
            format!("i.number LIKE {}", b.add(format!("{}%", like_escape(v)))),
            format!(
                "p.search_name LIKE {}",
                b.add(format!("{}%", like_escape(&v.to_uppercase())))
            ),
        ];
        if digits.len() == 11 && v.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ') {
            any.push(format!("i.snils = {}", b.add(digits)));
        }
        c.push(format!("({})", any.join(" OR ")));
    }
    match non_empty(&filter.kind) {
        Some("child") => c.push("i.is_child = 1".into()),
        Some("adult") => c.push("i.is_child = 0".into()),
        _ => {}
    }
    if let Some(v) = non_empty(&filter.number) {
        c.push(format!("i.number = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.protocol_number) {
        c.push(format!("i.protocol_number = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.protocol_date) {
        c.push(format!("i.protocol_date = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.issued_by) {
        c.push(format!("i.issued_by = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.snils) {
        c.push(format!(
            "i.snils = {}",
            b.add(v.chars().filter(char::is_ascii_digit).collect())
        ));
    }
    if let Some(v) = non_empty(&filter.surname) {
        c.push(format!(
            "p.search_name LIKE {}",
            b.add(format!("{}%", like_escape(&v.to_uppercase())))
        ));
    }
    if let Some(v) = non_empty(&filter.fio) {
        let words: Vec<&str> = v.split_whitespace().collect();
        c.push(format!(
            "p.search_name LIKE {}",
            b.add(format!("{}%", like_escape(&words.join(" ").to_uppercase())))
        ));
    }
    if let Some(v) = non_empty(&filter.status) {
        c.push(format!("i.status = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.territory) {
        c.push(format!("p.territory_code = {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.section) {
        c.push(format!(
            "EXISTS (SELECT 1 FROM measures fm WHERE fm.ipra_id = i.id AND fm.section = {})",
            b.add(v.to_string())
        ));
    }
    if non_empty(&filter.overdue).is_some_and(|v| v == "1" || v == "true" || v == "on") {
        let today = b.add(today.to_string());
        let own = scope
            .map(|o| format!(" AND om.assigned_ogrn = {}", b.add(o.to_string())))
            .unwrap_or_default();
        c.push(format!(
            "EXISTS (SELECT 1 FROM measures om WHERE om.ipra_id = i.id AND om.status = 'open' \
             AND om.due_date IS NOT NULL AND om.due_date < {today}{own})"
        ));
    }
    if let Some(v) = non_empty(&filter.assigned) {
        c.push(format!(
            "EXISTS (SELECT 1 FROM measures am WHERE am.ipra_id = i.id AND am.assigned_ogrn = {})",
            b.add(v.to_string())
        ));
    }
    if let Some(v) = non_empty(&filter.decision_from) {
        c.push(format!("i.decision_date >= {}", b.add(v.to_string())));
    }
    if let Some(v) = non_empty(&filter.decision_to) {
        c.push(format!("i.decision_date <= {}", b.add(v.to_string())));
    }
    c
}

/// `%`, `_` and `\` of user text match themselves in a LIKE pattern (with `ESCAPE` not portable
/// across both engines' defaults, they are simply dropped: nobody searches names by them).
fn like_escape(text: &str) -> String {
    text.chars().filter(|c| !matches!(c, '%' | '_' | '\\')).collect()
}

/// One page of the register. `scope`: the OGRN of an executor, who sees only IPRAs with measures
/// assigned to it.
pub async fn list_ipras(db: &Db, filter: &IpraFilter, scope: Option<&str>) -> Result<IpraPage> {
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let page = filter.page.unwrap_or(1).max(1);
    let today = crate::register::deadlines::format_date(crate::register::deadlines::today());

    let mut b = Binds::default();
    let where_sql = where_clause(&conditions(filter, scope, &today, &mut b));
    let count_sql = format!("SELECT COUNT(*) AS n FROM ipras i JOIN persons p ON p.id = i.person_id {where_sql}");
    let mut count = sqlx::query(&count_sql);
    for v in &b.0 {
        count = count.bind(v);
    }
    let total: i64 = count.fetch_one(&db.pool).await?.try_get("n")?;
    let items = select_items(db, filter, scope, &today, Some((page, per_page))).await?;
    Ok(IpraPage {
        total,
        page,
        per_page,
        items,
    })
}

/// Every IPRA the filter finds, in its sort order, up to `limit` rows (exports).
pub async fn all_ipras(db: &Db, filter: &IpraFilter, scope: Option<&str>, limit: u32) -> Result<Vec<IpraListItem>> {
    let today = crate::register::deadlines::format_date(crate::register::deadlines::today());
    select_items(db, filter, scope, &today, Some((1, limit))).await
}

fn where_clause(conditions: &[String]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

async fn select_items(
    db: &Db,
    filter: &IpraFilter,
    scope: Option<&str>,
    today: &str,
    window: Option<(u32, u32)>,
) -> Result<Vec<IpraListItem>> {
    let mut b = Binds::default();
    // Counts of an executor's row cover only its own measures.
    let own = |b: &mut Binds, alias: &str| {
        scope
            .map(|o| format!(" AND {alias}.assigned_ogrn = {}", b.add(o.to_string())))
            .unwrap_or_default()
    };
    let own_measures = own(&mut b, "m");
    let today_bind = b.add(today.to_string());
    let own_overdue = own(&mut b, "o");
    let where_sql = where_clause(&conditions(filter, scope, today, &mut b));
    let limit = window
        .map(|(page, per_page)| format!(" LIMIT {per_page} OFFSET {}", u64::from(page - 1) * u64::from(per_page)))
        .unwrap_or_default();
    let list_sql = format!(
        "SELECT i.id, i.number, i.protocol_number, i.protocol_date, i.decision_date, i.document_version, i.issued_by, \
         i.status, i.is_child, i.snils, i.received_at, p.surname, p.given_name, p.patronymic, p.territory_code, \
         (SELECT COUNT(*) FROM measures m WHERE m.ipra_id = i.id{own_measures}) AS measures, \
         (SELECT COUNT(*) FROM measures o WHERE o.ipra_id = i.id AND o.status = 'open' AND o.due_date IS NOT NULL \
          AND o.due_date < {today_bind}{own_overdue}) AS overdue \
         FROM ipras i JOIN persons p ON p.id = i.person_id {where_sql} ORDER BY {}{limit}",
        filter.order_by()
    );
    let mut list = sqlx::query(&list_sql);
    for v in &b.0 {
        list = list.bind(v);
    }
    list.fetch_all(&db.pool)
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
                overdue: row.try_get("overdue")?,
                territory_code: opt_text(row, "territory_code"),
                received_at: row.try_get("received_at")?,
            })
        })
        .collect()
}

/// The MSE institutions that issued IPRAs of the register (for the filter's choice).
pub async fn issuing_institutions(db: &Db) -> Result<Vec<String>> {
    sqlx::query("SELECT DISTINCT issued_by FROM ipras WHERE issued_by IS NOT NULL ORDER BY issued_by")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>("issued_by")?))
        .collect()
}

/// Territory codes of persons in the register (for the filter's choice, named from the reference list).
pub async fn person_territories(db: &Db) -> Result<Vec<String>> {
    sqlx::query("SELECT DISTINCT territory_code FROM persons WHERE territory_code IS NOT NULL ORDER BY territory_code")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>("territory_code")?))
        .collect()
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
