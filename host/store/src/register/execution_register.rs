//! The register of executions (руководство «ЛК исполнителя ИПРА» в ЕЦП, domain §5.6): one row per execution record — the IPRA, the
//! person, the section and the measure, the result and its date, the executor, the status (the
//! record's while it is a draft or ready, then its report's) and when the report was sent — with
//! filters, sorts and paging that an index answers at a region's size (no row is filtered in
//! memory), and the IPRAs still awaiting execution.

use super::query::{indexed_by, MaskedSnils};
use crate::db::rows::JsonText;
use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Row};

/// Filters, sort and position of the register of executions.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ExecutionFilter {
    /// The IPRA number or its beginning.
    pub number: Option<String>,
    /// The SNILS (digits; dashes and spaces are ignored) or its beginning.
    pub snils: Option<String>,
    /// The beginning of the surname.
    pub surname: Option<String>,
    pub given_name: Option<String>,
    pub patronymic: Option<String>,
    pub sent_from: Option<String>,
    pub sent_to: Option<String>,
    /// One of [`STATUSES`].
    pub status: Option<String>,
    pub section: Option<String>,
    /// `executed` or `not-executed`.
    pub result: Option<String>,
    /// One of [`SORTS`]; the default is the date of the last change, newest first.
    pub sort: Option<String>,
    pub dir: Option<String>,
    /// Position of the page's start (`next` of the previous page).
    pub after: Option<String>,
}

/// What a row's status may be: the record's (draft, ready) or its report's.
pub const STATUSES: &[(&str, &str)] = &[
    ("draft", "Черновик"),
    ("ready", "Готово к подписанию"),
    ("awaiting-signature", "Ожидание подписания"),
    ("signed", "Подписано"),
    ("sent", "Отправлено"),
    ("send-failed", "Ошибка отправки"),
    ("accepted", "Принято"),
    ("rejected", "Отклонено"),
    ("returned", "Возвращено на исправление"),
];

/// The sorts the register offers, each walking an index (see `order`).
pub const SORTS: &[&str] = &["date", "number", "surname", "status", "sent"];

pub fn status_label(status: &str) -> &'static str {
    STATUSES
        .iter()
        .find(|(c, _)| *c == status)
        .map(|(_, l)| *l)
        .unwrap_or("—")
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ExecutionRow {
    pub id: i64,
    pub ipra_id: i64,
    pub number: String,
    /// Masked: the whole SNILS is shown only on the card.
    #[sqlx(try_from = "MaskedSnils")]
    pub snils: String,
    /// The person's name, read for the page's rows after its `LIMIT` (`fill_names`).
    #[sqlx(skip)]
    pub surname: String,
    #[sqlx(skip)]
    pub given_name: String,
    #[sqlx(skip)]
    pub patronymic: Option<String>,
    pub section: String,
    #[sqlx(rename = "measure_name")]
    pub measure: String,
    pub result: String,
    pub execution_date: Option<String>,
    pub executor_ogrn: String,
    pub executor_name: Option<String>,
    #[sqlx(try_from = "JsonText<Vec<String>>")]
    pub reasons: Vec<String>,
    /// When the record last changed.
    #[sqlx(rename = "updated_at")]
    pub date: String,
    pub sent_at: Option<String>,
    #[sqlx(rename = "row_status")]
    pub status: String,
    #[sqlx(skip)]
    pub status_label: String,
    pub report_id: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExecutionPage {
    /// Rows the filter finds: exact up to [`COUNT_CAP`], else "more than" (`total_exact` false).
    pub total: i64,
    pub total_exact: bool,
    pub per_page: u32,
    pub items: Vec<ExecutionRow>,
    /// Position of the next page, when there is one.
    pub next: Option<String>,
}

/// Counted exactly up to this many rows; beyond, the page says "more than" (a count walks the
/// rows it counts: a thousand is a few milliseconds).
pub const COUNT_CAP: i64 = 1_000;

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

#[derive(Clone, Default)]
struct Binds(Vec<String>);

impl Binds {
    fn add(&mut self, v: impl Into<String>) -> String {
        self.0.push(v.into());
        format!("${}", self.0.len())
    }
}

fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The problems of a filter, each naming its field in Russian.
pub fn problems(f: &ExecutionFilter) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for (key, value, label) in [
        ("sent_from", &f.sent_from, "Дата отправки с"),
        ("sent_to", &f.sent_to, "Дата отправки по"),
    ] {
        if let Some(v) = given(value) {
            if super::deadlines::parse_date(v).is_none() {
                out.push((
                    key,
                    format!("«{label}»: дата «{v}» не распознана, нужна дата в виде ГГГГ-ММ-ДД"),
                ));
            }
        }
    }
    if let Some(v) = given(&f.status) {
        if !STATUSES.iter().any(|(c, _)| *c == v) {
            out.push(("status", format!("«Статус»: «{v}» неизвестен")));
        }
    }
    if let Some(v) = given(&f.sort) {
        if !SORTS.contains(&v) {
            out.push(("sort", format!("сортировка по «{v}» недоступна")));
        }
    }
    if let Some(v) = given(&f.dir) {
        if v != "asc" && v != "desc" {
            out.push(("dir", format!("направление «{v}» — ожидается asc или desc")));
        }
    }
    if let Some(v) = given(&f.result) {
        if v != "executed" && v != "not-executed" {
            out.push((
                "result",
                format!("«Результат»: «{v}» — ожидается executed или not-executed"),
            ));
        }
    }
    if given(&f.after).is_some_and(|a| decode(a).is_none()) {
        out.push(("after", "ссылка на страницу устарела: откройте первую страницу".into()));
    }
    out
}

/// A page start: the sort's values of the last row shown, and its record id.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Position {
    key: Vec<Option<String>>,
    id: i64,
}

fn encode(p: &Position) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(p).unwrap_or_default())
}

fn decode(text: &str) -> Option<Position> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// How a sort walks: the table driving the walk, its index (SQLite is told; PostgreSQL's planner
/// chooses with its statistics), and the ordering columns (all non-null), the record's id last.
struct Order {
    from: &'static str,
    columns: &'static [&'static str],
    index: &'static str,
}

fn order(sort: &str, scoped: bool) -> Order {
    match sort {
        "number" => Order {
            from: "ipras i INDEXED JOIN execution_records e ON e.ipra_id = i.id",
            columns: &["i.number", "i.id"],
            index: "ipras_sort_number",
        },
        "surname" => Order {
            from: "ipras i INDEXED JOIN execution_records e ON e.ipra_id = i.id",
            columns: &["i.search_name", "i.id"],
            index: "ipras_sort_name",
        },
        "status" => Order {
            from: "execution_records e INDEXED JOIN ipras i ON i.id = e.ipra_id",
            columns: &["e.status", "e.updated_at"],
            index: "execution_records_status_changed",
        },
        "sent" => Order {
            from: "reports r INDEXED JOIN execution_records e ON e.report_id = r.id JOIN ipras i ON i.id = e.ipra_id",
            columns: &["r.sent_at"],
            index: "reports_sent",
        },
        _ if scoped => Order {
            from: "execution_records e INDEXED JOIN ipras i ON i.id = e.ipra_id",
            columns: &["e.updated_at"],
            index: "execution_records_org_changed",
        },
        _ => Order {
            from: "execution_records e INDEXED JOIN ipras i ON i.id = e.ipra_id",
            columns: &["e.updated_at"],
            index: "execution_records_changed",
        },
    }
}

fn status_sql(e: &str) -> String {
    format!(
        "CASE WHEN {e}.status <> 'reported' AND {e}.returned_reason IS NOT NULL THEN 'returned' \
         WHEN {e}.status <> 'reported' THEN {e}.status \
         WHEN r.status = 'signed' AND EXISTS (SELECT 1 FROM exchange_messages x WHERE x.report_id = r.id AND x.status = 'failed') \
         THEN 'send-failed' ELSE COALESCE(r.status, 'draft') END"
    )
}

/// The conditions of a filter on the joined rows (`e` record, `i` IPRA, `r` report).
fn conditions(f: &ExecutionFilter, scope: Option<&str>, b: &mut Binds) -> Vec<String> {
    let mut c = Vec::new();
    if let Some(o) = scope {
        c.push(format!("e.organisation = {}", b.add(o)));
    }
    if let Some(v) = given(&f.number) {
        c.push(format!(
            "i.number >= {} AND i.number < {}",
            b.add(v),
            b.add(prefix_end(v))
        ));
    }
    if let Some(v) = given(&f.snils) {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        c.push(format!(
            "i.snils >= {} AND i.snils < {}",
            b.add(digits.clone()),
            b.add(prefix_end(&digits))
        ));
    }
    if let Some(v) = given(&f.surname) {
        let v = v.to_uppercase();
        c.push(format!(
            "i.search_name >= {} AND i.search_name < {}",
            b.add(v.clone()),
            b.add(prefix_end(&v))
        ));
    }
    for value in [&f.given_name, &f.patronymic] {
        if let Some(v) = given(value) {
            // A whole word of the name, after the surname.
            c.push(format!(
                "(' ' || i.search_name || ' ') LIKE {}",
                b.add(format!("% {} %", v.to_uppercase().replace(['%', '_'], "")))
            ));
        }
    }
    if let Some(v) = given(&f.section) {
        c.push(format!("e.section = {}", b.add(v)));
    }
    if let Some(v) = given(&f.result) {
        c.push(format!("e.result = {}", b.add(v)));
    }
    if let Some(v) = given(&f.sent_from) {
        c.push(format!("r.sent_at >= {}", b.add(v)));
    }
    if let Some(v) = given(&f.sent_to) {
        // Through the whole last day.
        c.push(format!("r.sent_at < {}", b.add(format!("{v}T99"))));
    }
    match given(&f.status) {
        Some(s @ ("draft" | "ready")) => c.push(format!("e.status = {}", b.add(s))),
        // Back from a withdrawn or rejected report, not yet in the next version.
        Some("returned") => c.push("e.status IN ('draft', 'ready') AND e.returned_reason IS NOT NULL".into()),
        Some("send-failed") => c.push(
            "e.status = 'reported' AND r.status = 'signed' AND EXISTS (SELECT 1 FROM exchange_messages x \
             WHERE x.report_id = r.id AND x.status = 'failed')"
                .into(),
        ),
        _ => {}
    }
    // The record's report looked up by key on each record the walk reads, not joined: with the
    // planner's statistics (a full `ANALYZE`), SQLite joined the reports through a Bloom filter
    // built from every report of the status first (867,488 accepted at a million persons:
    // 474 ms before the count's first row, 25 ms without statistics, 0.3 ms for the page so).
    if let Some(s) = report_status(f) {
        c.push(format!(
            "e.status = 'reported' AND (SELECT rs.status FROM reports rs WHERE rs.id = e.report_id) = {}",
            b.add(s)
        ));
    }
    c
}

/// Whether conditions name the report (`r`), which the page or its count must then join.
fn names_reports(conds: &[String]) -> bool {
    conds.iter().any(|c| c.contains("r."))
}

const REPORTS_JOIN: &str = " LEFT JOIN reports r ON r.id = e.report_id";

/// `from` with each record's report joined on the left, unless the order's lead joins them.
fn with_reports(from: &str, o: &Order) -> String {
    if o.from.contains("reports r") {
        from.to_string()
    } else {
        format!("{from}{REPORTS_JOIN}")
    }
}

/// The status a filter asks of the records' reports (every status but the record's own ones,
/// draft and ready, and those a record and its report make together).
fn report_status(f: &ExecutionFilter) -> Option<&str> {
    given(&f.status).filter(|s| !matches!(*s, "draft" | "ready" | "returned" | "send-failed"))
}

/// One page of the register of executions (an executor's `scope`: its own records).
pub async fn list(db: &Db, f: &ExecutionFilter, scope: Option<&str>, per_page: u32) -> Result<ExecutionPage> {
    let per_page = per_page.clamp(1, 500);
    let sort = given(&f.sort).filter(|s| SORTS.contains(s)).unwrap_or("date");
    let asc = match given(&f.dir) {
        Some("asc") => true,
        Some("desc") => false,
        _ => sort != "date" && sort != "sent",
    };
    let mut b = Binds::default();
    let mut conds = conditions(f, scope, &mut b);
    let mut o = order(sort, scope.is_some());
    if sort == "sent" {
        // Sorted by the sending date: what was sent.
        conds.push("r.sent_at IS NOT NULL".into());
    }
    // A selective filter leads instead of the sort (the rows it finds are few, then sorted); so
    // does a small organisation's own index when the sort walks the IPRAs.
    let joins_reports = o.columns[0].starts_with("r.");
    let lead = |index: &'static str, ipras_first: bool| Order {
        from: match (ipras_first, joins_reports) {
            (true, false) => "ipras i INDEXED JOIN execution_records e ON e.ipra_id = i.id",
            (true, true) => {
                "ipras i INDEXED JOIN execution_records e ON e.ipra_id = i.id JOIN reports r ON r.id = e.report_id"
            }
            (false, false) => "execution_records e INDEXED JOIN ipras i ON i.id = e.ipra_id",
            (false, true) => {
                "execution_records e INDEXED JOIN ipras i ON i.id = e.ipra_id JOIN reports r ON r.id = e.report_id"
            }
        },
        columns: o.columns,
        index,
    };
    // A surname that leads: the sort's order may be walked instead when it is a common one.
    let mut surname_leads = None;
    if given(&f.snils).is_some() {
        o = lead("ipras_snils", true);
    } else if given(&f.number).is_some() {
        o = lead("ipras_sort_number", true);
    } else if let Some(surname) = given(&f.surname).filter(|_| sort != "surname") {
        o = lead("ipras_sort_name", true);
        surname_leads = Some(surname.to_uppercase());
    } else if let (Some(org), true) = (scope, matches!(sort, "number" | "surname" | "sent")) {
        if organisation_records(db, org, 10_000).await? <= 10_000 {
            o = lead("execution_records_org_changed", false);
        }
    }
    let where_of = |conds: &[String]| {
        if conds.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conds.join(" AND "))
        }
    };
    // The statement's tables as the order leads (SQLite told its index; the reports only where the
    // lead joins them), and what a count reads.
    let tables = |o: &Order, conds: &[String]| {
        let hint = indexed_by(db, o.index);
        let from = o.from.replace(" INDEXED", &hint);
        // Counted on the records alone when the conditions are all theirs (every record has its
        // IPRA, and the report joined on the left adds no row; a report's status is looked up by
        // the record's own condition), so that the count reads no more than it must; with their
        // reports only when the conditions name the report but not the IPRA (a sending date: the
        // IPRA's row read for each of up to 20,000 records was a third of such a count's time at
        // a million persons).
        let of_ipras = conds.iter().any(|c| c.contains("i."));
        let records_lead = o.from.starts_with("execution_records e");
        let count_from = match (records_lead, of_ipras, names_reports(conds)) {
            (true, false, false) => format!("execution_records e{hint}"),
            (true, false, true) if !o.from.contains("reports r") => format!("execution_records e{hint}{REPORTS_JOIN}"),
            _ => with_reports(&from, o),
        };
        (from, count_from)
    };
    let (mut from, count_from) = tables(&o, &conds);
    // Counted up to the cap, by the same access; a report's status alone from the reports of that
    // status, each one's records and their own status read from `execution_records_report` alone
    // (led by the records, each record's report was looked up: 1,500 records read for «принято»,
    // 20,000 for «отклонено»).
    let count_sql = if report_status(f).is_some() && conds.len() == 1 {
        let (reports, records) = (
            indexed_by(db, "reports_status"),
            indexed_by(db, "execution_records_report"),
        );
        format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM reports r{reports} JOIN execution_records e{records} \
             ON e.report_id = r.id AND e.status = 'reported' WHERE r.status = $1 LIMIT {}) t",
            COUNT_CAP + 1
        )
    } else {
        format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {count_from}{} LIMIT {}) t",
            where_of(&conds),
            COUNT_CAP + 1
        )
    };
    crate::plans::record(&count_sql, crate::plans::texts(&b.0));
    let mut q = sqlx::query(&count_sql);
    for v in &b.0 {
        q = q.bind(v.as_str());
    }
    let n: i64 = q.fetch_one(&db.pool).await?.try_get("n")?;
    if let Some(surname) = surname_leads.filter(|_| n > COUNT_CAP) {
        if super::query::name_bearers(db, "ipras", &surname, BROAD).await? >= BROAD {
            // A common surname: the sort's index walked instead, the surname compared on each
            // record in its IPRA's lookup by key (see [`BROAD`]), which no planner turns into a
            // join (PostgreSQL would lead from the name's index again).
            o = order(sort, scope.is_some());
            // SQLite told to read the name from the IPRAs' index of names by key (migration 0039),
            // not from their rows; the walk's own index holds each record's IPRA.
            let names = indexed_by(db, "ipras_id_name");
            for c in conds.iter_mut().filter(|c| c.starts_with("i.search_name >= ")) {
                *c = format!(
                    "(SELECT {} FROM ipras si{names} WHERE si.id = e.ipra_id)",
                    c.replace("i.search_name", "si.search_name")
                );
            }
            from = tables(&o, &conds).0;
        }
    }

    let dir = if asc { "ASC" } else { "DESC" };
    let cmp = if asc { ">" } else { "<" };
    let mut keyed: Vec<String> = o.columns.iter().map(|c| c.to_string()).collect();
    keyed.push("e.id".into());
    if let Some(p) = given(&f.after).and_then(decode) {
        let mut rhs = Vec::new();
        for (col, v) in keyed
            .iter()
            .zip(p.key.iter().chain(std::iter::once(&Some(p.id.to_string()))))
        {
            let param = b.add(v.clone().unwrap_or_default());
            // Ids compare as numbers.
            rhs.push(if col.ends_with(".id") {
                format!("CAST({param} AS BIGINT)")
            } else {
                param
            });
        }
        conds.push(format!("({}) {cmp} ({})", keyed.join(", "), rhs.join(", ")));
    }
    let order_sql = keyed
        .iter()
        .map(|c| format!("{c} {dir}"))
        .collect::<Vec<_>>()
        .join(", ");
    let key_select = o
        .columns
        .iter()
        .enumerate()
        .map(|(n, c)| format!("CAST({c} AS TEXT) AS k{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    const ROW: &str = "id, ipra_id, number, snils, person_id, section, measure_name, result, execution_date, \
         executor_ogrn, executor_name, reasons, updated_at, report_id";
    let of = |alias: &str| {
        ROW.split(", ")
            .map(|c| match c {
                "number" | "snils" | "person_id" if alias == "e" => format!("i.{c}"),
                _ => format!("{alias}.{c}"),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let sql = if names_reports(&conds) || o.columns.iter().any(|c| c.starts_with("r.")) {
        format!(
            "SELECT {}, r.sent_at, {} AS row_status, {key_select} FROM {}{} ORDER BY {order_sql} LIMIT {}",
            of("e"),
            status_sql("e"),
            with_reports(&from, &o),
            where_of(&conds),
            per_page + 1
        )
    } else {
        // Nothing asks the report before the LIMIT: each row's report is looked up on the page's
        // rows only, not joined to every row the sort reads (a name's 5,784 records at a million
        // persons each looked up its report before the 26 newest were taken; PostgreSQL, warm,
        // 31 → 17.5 ms). The page's order is kept by its own columns (`o0`…), not their texts.
        let raw_keys: Vec<String> = o
            .columns
            .iter()
            .enumerate()
            .map(|(n, c)| format!("{c} AS o{n}"))
            .collect();
        let outer_order: Vec<String> = (0..o.columns.len())
            .map(|n| format!("pg.o{n} {dir}"))
            .chain(std::iter::once(format!("pg.id {dir}")))
            .collect();
        let keys: Vec<String> = (0..o.columns.len()).map(|n| format!("pg.k{n}")).collect();
        format!(
            "SELECT {}, r.sent_at, {} AS row_status, {} FROM (SELECT {}, e.status, e.returned_reason, {key_select}, {} \
             FROM {from}{} ORDER BY {order_sql} LIMIT {}) pg LEFT JOIN reports r ON r.id = pg.report_id ORDER BY {}",
            of("pg"),
            status_sql("pg"),
            keys.join(", "),
            of("e"),
            raw_keys.join(", "),
            where_of(&conds),
            per_page + 1,
            outer_order.join(", ")
        )
    };
    crate::plans::record(&sql, crate::plans::texts(&b.0));
    let mut q = sqlx::query(&sql);
    for v in &b.0 {
        q = q.bind(v.as_str());
    }
    let rows = q.fetch_all(&db.pool).await?;
    let more = rows.len() > per_page as usize;
    let mut items = Vec::new();
    let mut last: Option<Position> = None;
    for r in rows.iter().take(per_page as usize) {
        let mut row = ExecutionRow::from_row(r)?;
        row.status_label = status_label(&row.status).to_string();
        items.push(row);
        last = Some(Position {
            key: (0..o.columns.len()).map(|n| opt_text(r, &format!("k{n}"))).collect(),
            id: r.try_get("id")?,
        });
    }
    fill_names(db, &rows, &mut items).await?;
    Ok(ExecutionPage {
        total: n.min(COUNT_CAP),
        total_exact: n <= COUNT_CAP,
        per_page,
        items,
        next: if more { last.as_ref().map(encode) } else { None },
    })
}

/// A surname borne by this many IPRAs is a common one, whose records are not read from the name's
/// index and sorted but found by walking the sort's index. Measured at 100,000 persons on
/// PostgreSQL, reading a record from the name's index costs some 3 µs (ten records an IPRA) and
/// walking one some 12 µs (its row in the sort's order and its IPRA's lookup); the walk reads
/// `page × records of the region / the surname's records`. The two meet near 3,300 IPRAs at a
/// million persons (near a thousand at 100,000). «Смирнова» at 100,000: 866 IPRAs, 8,405 records,
/// 25 ms read from the name's index, 37 ms walked; ten times as many at a million.
const BROAD: i64 = 3_000;

/// Execution records of an organisation, counted up to `cap + 1`.
async fn organisation_records(db: &Db, ogrn: &str, cap: i64) -> Result<i64> {
    Ok(sqlx::query(&format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM execution_records WHERE organisation = $1 LIMIT {}) t",
        cap + 1
    ))
    .bind(ogrn)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?)
}

/// The persons' names of a page (after its LIMIT).
async fn fill_names(db: &Db, rows: &[sqlx::any::AnyRow], items: &mut [ExecutionRow]) -> Result<()> {
    let ids: Vec<String> = rows
        .iter()
        .take(items.len())
        .filter_map(|r| r.try_get::<i64, _>("person_id").ok())
        .map(|i| i.to_string())
        .collect();
    if ids.is_empty() {
        return Ok(());
    }
    let mut names = std::collections::HashMap::new();
    for r in sqlx::query(&format!(
        "SELECT id, surname, given_name, patronymic FROM persons WHERE id IN ({})",
        ids.join(",")
    ))
    .fetch_all(&db.pool)
    .await?
    {
        names.insert(
            r.try_get::<i64, _>("id")?,
            (
                r.try_get::<String, _>("surname")?,
                r.try_get::<String, _>("given_name")?,
                opt_text(&r, "patronymic"),
            ),
        );
    }
    for (item, row) in items.iter_mut().zip(rows) {
        if let Some((s, g, p)) = row.try_get::<i64, _>("person_id").ok().and_then(|id| names.get(&id)) {
            item.surname = s.clone();
            item.given_name = g.clone();
            item.patronymic = p.clone();
        }
    }
    Ok(())
}

/// An IPRA whose open measures (an executor's: its own) have no execution record yet.
#[derive(Clone, Debug, Serialize)]
pub struct PendingRow {
    pub ipra_id: i64,
    pub number: String,
    pub full_name: String,
    pub open_measures: i64,
    /// The nearest due date of those measures.
    pub due_date: Option<String>,
}

/// IPRAs awaiting execution, nearest due date first: up to `limit` of them, and whether there are
/// more. The open measures are walked by due date through an index (an organisation's own, for an
/// executor) until `limit` + 1 IPRAs are found.
pub async fn pending(
    db: &Db,
    scope: Option<&str>,
    number: Option<&str>,
    limit: usize,
) -> Result<(Vec<PendingRow>, bool)> {
    let want = limit + 1;
    let mut b = Binds::default();
    let mut conds = vec![
        "m.status = 'open'".to_string(),
        "NOT EXISTS (SELECT 1 FROM execution_records e WHERE e.measure_id = m.id)".to_string(),
    ];
    let index = match scope {
        Some(o) => {
            conds.push(format!("m.assigned_ogrn = {}", b.add(o)));
            "measures_org"
        }
        None => "measures_status",
    };
    if let Some(n) = number.map(str::trim).filter(|n| !n.is_empty()) {
        conds.push(format!(
            "m.ipra_id IN (SELECT id FROM ipras WHERE number >= {} AND number < {})",
            b.add(n),
            b.add(prefix_end(n))
        ));
    }
    let hint = indexed_by(db, index);
    let where_sql = conds.join(" AND ");
    // Open measures by due date through the index (dated first, then undated), grouped into IPRAs
    // as they come, a few pages' worth at a time, each chunk after the last one read. A chunk is
    // small, so the planner walks the index in its order and stops: asked for 500 at once,
    // PostgreSQL read every open measure of a clinic and sorted them (1,283 rows at 100,000
    // persons, 28 ms; ten times that at a million), for the 26 IPRAs of a page.
    let chunk = (want * 2).max(50);
    let mut found: Vec<PendingRow> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for dated in [true, false] {
        let mut after: Option<(Option<String>, i64)> = None;
        while found.len() < want {
            let mut b = b.clone();
            let mut keyset = String::new();
            if let Some((due, id)) = &after {
                // The measures after the last one read, in (due date, id) order.
                match due {
                    Some(d) if dated => {
                        let d = b.add(d.as_str());
                        keyset = format!(" AND m.due_date >= {d} AND (m.due_date > {d} OR m.id > {id})");
                    }
                    _ => keyset = format!(" AND m.id > {id}"),
                }
            }
            let sql = format!(
                "SELECT m.id, m.ipra_id, m.due_date FROM measures m{hint} WHERE {where_sql} AND m.due_date IS {}NULL{keyset} \
                 ORDER BY m.due_date, m.id LIMIT {chunk}",
                if dated { "NOT " } else { "" }
            );
            crate::plans::record(&sql, crate::plans::texts(&b.0));
            let mut q = sqlx::query(&sql);
            for v in &b.0 {
                q = q.bind(v.as_str());
            }
            let rows = q.fetch_all(&db.pool).await?;
            for r in &rows {
                let ipra: i64 = r.try_get("ipra_id")?;
                if seen.insert(ipra) && found.len() < want {
                    found.push(PendingRow {
                        ipra_id: ipra,
                        number: String::new(),
                        full_name: String::new(),
                        open_measures: 0,
                        due_date: opt_text(r, "due_date"),
                    });
                }
            }
            match rows.last() {
                Some(last) if rows.len() == chunk => {
                    after = Some((opt_text(last, "due_date"), last.try_get("id")?));
                }
                _ => break,
            }
        }
    }
    // The IPRAs' numbers, names and counts (after the LIMIT).
    found.truncate(want);
    if !found.is_empty() {
        let ids: Vec<String> = found.iter().map(|p| p.ipra_id.to_string()).collect();
        let own = scope
            .map(|o| format!(" AND m.assigned_ogrn = '{}'", o.replace('\'', "")))
            .unwrap_or_default();
        // Each IPRA's own measures through its own index (not an organisation's, for every row).
        let by_ipra = indexed_by(db, "measures_ipra_status");
        let sql = format!(
            "SELECT i.id, i.number, p.surname, p.given_name, p.patronymic, \
             (SELECT COUNT(*) FROM measures m{by_ipra} WHERE m.ipra_id = i.id AND m.status = 'open'{own} \
              AND NOT EXISTS (SELECT 1 FROM execution_records e WHERE e.measure_id = m.id)) AS n \
             FROM ipras i JOIN persons p ON p.id = i.person_id WHERE i.id IN ({})",
            ids.join(",")
        );
        for r in sqlx::query(&sql).fetch_all(&db.pool).await? {
            let id: i64 = r.try_get("id")?;
            if let Some(p) = found.iter_mut().find(|p| p.ipra_id == id) {
                p.number = r.try_get("number")?;
                p.full_name = [
                    Some(r.try_get::<String, _>("surname")?),
                    Some(r.try_get::<String, _>("given_name")?),
                    opt_text(&r, "patronymic"),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
                p.open_measures = r.try_get("n")?;
            }
        }
    }
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}
