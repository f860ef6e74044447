//! Reads of the register for the API, the pages and the CLI: lists of IPRA with filters and
//! paging (SNILS masked), one IPRA with its measures and history, the source document.

use crate::db::rows::{Flag, JsonText};
use crate::db::{opt_text, Db};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Row};

/// Filters of the register of extracts (руководство «ЛК исполнителя ИПРА» в ЕЦП: basic and extended filters), the quick search, the
/// sort and the page. Every field is optional text so that an empty form field is simply "no filter".
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
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
    /// Only IPRAs of this target rehabilitation group (ЦРГ code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<String>,
    /// `1`: only IPRAs that say the child needs early help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_help: Option<String>,
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
    /// The page after this position (the `next` of a page): paging that costs the same however deep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// The page before this position (the `prev` of a page); `end`: the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
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
        Some(Raw::Text(t)) if t.trim().is_empty() => None,
        Some(Raw::Text(t)) => Some(t.trim().parse().map_err(|_| {
            serde::de::Error::custom(format!(
                "«{t}»: номер страницы и число строк на странице — целые неотрицательные числа"
            ))
        })?),
        None => None,
    })
}

/// The columns the register may be sorted by (see `sort_column` for the index each walks). Only
/// these ever choose an ORDER BY; what the user sends only chooses among them.
pub const SORTABLE: &[&str] = &[
    "kind",
    "number",
    "decision_date",
    "protocol_number",
    "protocol_date",
    "issued_by",
    "fio",
    "status",
    "territory",
    "measures",
    "overdue",
    "received",
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
            ("target_group", &self.target_group),
            ("early_help", &self.early_help),
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
            if !SORTABLE.contains(&v) {
                out.push(("sort", format!("сортировка по «{v}» недоступна")));
            }
        }
        for (key, value) in [("after", &self.after), ("before", &self.before)] {
            if let Some(v) = non_empty(value) {
                if !(key == "before" && v == END) && Position::decode(v).is_none() {
                    out.push((
                        key,
                        "ссылка на страницу реестра устарела или повреждена: откройте первую страницу".to_string(),
                    ));
                }
            }
        }
        if let Some(v) = non_empty(&self.dir) {
            if v != "asc" && v != "desc" {
                out.push(("dir", format!("направление сортировки «{v}»: ожидается asc или desc")));
            }
        }
        out
    }

    /// The filter without what the statistics index answers (kind, status, territory, section,
    /// organisation, overdue).
    fn without_facets(&self) -> IpraFilter {
        IpraFilter {
            kind: None,
            status: None,
            territory: None,
            section: None,
            overdue: None,
            assigned: None,
            ..self.clone()
        }
    }

    /// Whether only IPRAs that say the child needs early help are asked for.
    pub fn early_help_only(&self) -> bool {
        non_empty(&self.early_help).is_some_and(|v| v == "1" || v == "true" || v == "on")
    }

    /// Whether only IPRAs with overdue measures are asked for.
    pub fn overdue_only(&self) -> bool {
        non_empty(&self.overdue).is_some_and(|v| v == "1" || v == "true" || v == "on")
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct IpraListItem {
    pub id: i64,
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub decision_date: Option<String>,
    pub document_version: String,
    pub issued_by: Option<String>,
    pub status: String,
    #[sqlx(try_from = "Flag")]
    pub is_child: bool,
    /// Masked: only the last check digits are shown in lists.
    #[sqlx(try_from = "MaskedSnils")]
    pub snils: String,
    /// The search name (upper case) as read; the page's rows get the name as written afterwards.
    #[sqlx(rename = "search_name")]
    pub full_name: String,
    /// Measures of the IPRA (for an executor: those assigned to its organisation).
    #[sqlx(rename = "measures_count")]
    pub measures: i64,
    /// Of them, open and past their due date today (counted after the page's `LIMIT`).
    #[sqlx(skip)]
    pub overdue: i64,
    pub territory_code: Option<String>,
    pub received_at: String,
    /// Codes of its target rehabilitation groups (ЦРГ).
    #[sqlx(try_from = "GroupCodes")]
    pub target_groups: Vec<String>,
    /// The IPRA says the child needs early help.
    #[sqlx(try_from = "Flag")]
    pub early_help: bool,
    #[serde(skip)]
    pub person_id: i64,
}

crate::text_column!(
    /// A SNILS column read masked, as lists show it.
    MaskedSnils,
    String,
    mask_snils
);
crate::text_column!(
    /// A `;CODE;CODE;` column read as its codes.
    GroupCodes,
    Vec<String>,
    group_codes
);

/// The codes of an `ipras.target_groups` column (`;CODE;CODE;`).
pub fn group_codes(column: &str) -> Vec<String> {
    column
        .split(';')
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

#[derive(Clone, Debug, Serialize)]
pub struct IpraPage {
    /// How many IPRAs the filter finds: exact when `total_exact`, else estimated (shown as such).
    pub total: i64,
    pub total_exact: bool,
    /// The page number as the client counts it (positions do not know it).
    pub page: u32,
    pub per_page: u32,
    pub items: Vec<IpraListItem>,
    /// Position of the next page (`after=`), when there is one.
    pub next: Option<String>,
    /// Position of the previous page (`before=`), when there is one.
    pub prev: Option<String>,
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

/// A value bound to a query: the register's list binds text and numbers.
#[derive(Clone, Debug, PartialEq)]
enum Value {
    Text(String),
    Int(i64),
}

/// Bind values of a query being built, numbered `$1`, `$2`, … in the order they are added.
#[derive(Clone, Default)]
struct Binds(Vec<Value>);

impl Binds {
    fn add(&mut self, value: String) -> String {
        self.push(Value::Text(value))
    }

    fn push(&mut self, value: Value) -> String {
        self.0.push(value);
        format!("${}", self.0.len())
    }

    /// `sql` (a part of a statement written with these values) renumbered to use only the values it
    /// names, and those values.
    fn only_of(&self, sql: &str) -> (String, Binds) {
        let mut own = Binds::default();
        let mut renumbered: std::collections::HashMap<usize, String> = std::collections::HashMap::new();
        let mut out = String::with_capacity(sql.len());
        let mut rest = sql;
        while let Some(at) = rest.find('$') {
            out.push_str(&rest[..at]);
            let digits = rest[at + 1..].chars().take_while(char::is_ascii_digit).count();
            match rest[at + 1..at + 1 + digits]
                .parse::<usize>()
                .ok()
                .and_then(|n| Some((n, self.0.get(n.checked_sub(1)?)?)))
            {
                Some((n, value)) => {
                    let name = renumbered.entry(n).or_insert_with(|| own.push(value.clone()));
                    out.push_str(name);
                }
                None => out.push_str(&rest[at..at + 1 + digits]),
            }
            rest = &rest[at + 1 + digits..];
        }
        out.push_str(rest);
        (out, own)
    }

    /// Records `sql` with these values for a plan check (see `plans`), then binds them.
    fn bind_recorded<'q>(&'q self, sql: &'q str) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        crate::plans::record(
            sql,
            self.0.iter().map(|v| match v {
                Value::Text(t) => crate::plans::Arg::Text(t.clone()),
                Value::Int(i) => crate::plans::Arg::Int(*i),
            }),
        );
        self.bind(sqlx::query(sql))
    }

    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in &self.0 {
            q = match v {
                Value::Text(t) => q.bind(t.as_str()),
                Value::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

/// The upper end of a prefix range: every text that begins with `prefix` sorts below it (byte
/// order, which both engines use for these columns).
fn prefix_end(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// The rows of `table` (`persons` or `ipras`) whose search name begins with `prefix`, counted up to
/// `cap` through the name's index alone: how broad a name is, before a list decides whether to
/// lead from the name's index or to walk its own order with the name checked on each row.
pub(super) async fn name_bearers(db: &Db, table: &str, prefix: &str, cap: i64) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {table} WHERE search_name >= $1 AND search_name < $2 LIMIT {cap}) t"
    );
    let end = prefix_end(prefix);
    crate::plans::record(&sql, crate::plans::texts([&prefix.to_string(), &end]));
    Ok(sqlx::query(&sql)
        .bind(prefix)
        .bind(end)
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?)
}

/// How a condition can lead the list to its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lead {
    /// A few rows by an index (a number, a SNILS, a protocol): start from them.
    Identifier(&'static str),
    /// A few rows by one of two indexes (a SNILS or a number that looks like one): the planner
    /// takes both.
    Either,
    /// A range of an index (a name's beginning, a period) of unknown size: start from it when it is
    /// small.
    Range(&'static str),
    /// Answered by the statistics index (kind, status, territory, section, organisation, overdue).
    Facet,
}

#[derive(Clone, Debug)]
struct Condition {
    sql: String,
    lead: Lead,
}

/// The conditions of a filter, on the IPRA row alone (see migration 0011); values go to `binds`,
/// never into the SQL text.
fn conditions(
    filter: &IpraFilter,
    scope: Option<&str>,
    today: &str,
    engine: crate::db::Engine,
    b: &mut Binds,
) -> Vec<Condition> {
    let mut c = Vec::new();
    let mut push = |sql: String, lead: Lead| c.push(Condition { sql, lead });
    let by_ipra = measures_by_ipra(engine);
    let org_exists = |b: &mut Binds, alias: &str, ogrn: &str| {
        format!(
            "EXISTS (SELECT 1 FROM measures {alias}{by_ipra} WHERE {alias}.ipra_id = i.id AND {alias}.assigned_ogrn = {})",
            b.add(ogrn.to_string())
        )
    };
    if let Some(ogrn) = scope {
        push(org_exists(b, "sm", ogrn), Lead::Facet);
    }
    // A quick search without digits is the beginning of a name (see `name_prefixes`).
    if let Some(v) = non_empty(&filter.q).filter(|v| v.chars().any(|c| c.is_ascii_digit())) {
        let digits: String = v.chars().filter(char::is_ascii_digit).collect();
        if digits.len() == 11 && v.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ') {
            // A SNILS, or the beginning of an IPRA number that looks like one.
            push(
                format!(
                    "(i.snils = {} OR (i.number >= {} AND i.number < {}))",
                    b.add(digits),
                    b.add(v.to_string()),
                    b.add(prefix_end(v))
                ),
                Lead::Either,
            );
        } else {
            // The beginning of an IPRA number, whatever the case it is typed in (numbers carry
            // capital letters: «ИПРА-504-…», «МРН-20882/21»).
            let v = v.to_uppercase();
            push(
                format!(
                    "i.number >= {} AND i.number < {}",
                    b.add(v.clone()),
                    b.add(prefix_end(&v))
                ),
                Lead::Range("ipras_sort_number"),
            );
        }
    }
    match non_empty(&filter.kind) {
        Some("child") => push("i.is_child = 1".into(), Lead::Facet),
        Some("adult") => push("i.is_child = 0".into(), Lead::Facet),
        _ => {}
    }
    if let Some(v) = non_empty(&filter.number) {
        // The number or its beginning, in any case.
        let v = v.trim().to_uppercase();
        push(
            format!(
                "i.number >= {} AND i.number < {}",
                b.add(v.clone()),
                b.add(prefix_end(&v))
            ),
            Lead::Range("ipras_sort_number"),
        );
    }
    if let Some(v) = non_empty(&filter.protocol_number) {
        push(
            format!("i.protocol_number = {}", b.add(v.to_string())),
            Lead::Identifier("ipras_sort_protocol_number"),
        );
    }
    if let Some(v) = non_empty(&filter.protocol_date) {
        push(
            format!("i.protocol_date = {}", b.add(v.to_string())),
            Lead::Identifier("ipras_sort_protocol_date"),
        );
    }
    if let Some(v) = non_empty(&filter.issued_by) {
        // An institution's IPRAs (a bureau's whole register): a range of their index, read first when few.
        push(
            format!("i.issued_by = {}", b.add(v.to_string())),
            Lead::Range("ipras_sort_issued_by"),
        );
    }
    if let Some(v) = non_empty(&filter.snils) {
        push(
            format!("i.snils = {}", b.add(v.chars().filter(char::is_ascii_digit).collect())),
            Lead::Identifier("ipras_snils"),
        );
    }
    for name in name_prefixes(filter) {
        push(
            format!(
                "i.search_name >= {} AND i.search_name < {}",
                b.add(name.clone()),
                b.add(prefix_end(&name))
            ),
            name_lead(&name),
        );
    }
    if let Some(v) = non_empty(&filter.status) {
        push(format!("i.status = {}", b.add(v.to_string())), Lead::Facet);
    }
    if let Some(v) = non_empty(&filter.territory) {
        push(format!("i.territory_code = {}", b.add(v.to_string())), Lead::Facet);
    }
    if let Some(v) = non_empty(&filter.section) {
        push(
            format!(
                "EXISTS (SELECT 1 FROM measures fm{by_ipra} WHERE fm.ipra_id = i.id AND fm.section = {})",
                b.add(v.to_string())
            ),
            Lead::Facet,
        );
    }
    if filter.overdue_only() {
        let today = b.add(today.to_string());
        match scope {
            // An executor sees the IPRAs where its own measures are overdue.
            Some(ogrn) => push(
                format!(
                    "EXISTS (SELECT 1 FROM measures om{by_ipra} WHERE om.assigned_ogrn = {} AND om.ipra_id = i.id \
                     AND om.status = 'open' AND om.due_date < {today})",
                    b.add(ogrn.to_string())
                ),
                Lead::Facet,
            ),
            None => push(format!("i.open_due_min < {today}"), Lead::Facet),
        }
    }
    if let Some(v) = non_empty(&filter.assigned) {
        push(org_exists(b, "am", v), Lead::Facet);
    }
    if let Some(v) = non_empty(&filter.target_group) {
        push(
            format!("i.target_groups LIKE {}", b.add(format!("%;{v};%"))),
            Lead::Facet,
        );
    }
    if filter.early_help_only() {
        push("i.early_help = 1".into(), Lead::Facet);
    }
    let from = non_empty(&filter.decision_from).map(|v| b.add(v.to_string()));
    let to = non_empty(&filter.decision_to).map(|v| b.add(v.to_string()));
    match (from, to) {
        (Some(f), Some(t)) => push(
            format!("i.decision_date >= {f} AND i.decision_date <= {t}"),
            Lead::Range("ipras_sort_decision"),
        ),
        (Some(f), None) => push(format!("i.decision_date >= {f}"), Lead::Range("ipras_sort_decision")),
        (None, Some(t)) => push(format!("i.decision_date <= {t}"), Lead::Range("ipras_sort_decision")),
        (None, None) => {}
    }
    c
}

/// The facets of a filter, as the statistics index answers them.
fn facets(filter: &IpraFilter, scope: Option<&str>, today: &str) -> super::facts::Facets {
    let mut organisations: Vec<String> = scope.map(str::to_string).into_iter().collect();
    if let Some(v) = non_empty(&filter.assigned) {
        organisations.push(v.to_string());
    }
    super::facts::Facets {
        child: match non_empty(&filter.kind) {
            Some("child") => Some(true),
            Some("adult") => Some(false),
            _ => None,
        },
        status: non_empty(&filter.status).map(str::to_string),
        territory: non_empty(&filter.territory).map(str::to_string),
        section: non_empty(&filter.section).map(str::to_string),
        organisations,
        overdue: filter
            .overdue_only()
            .then(|| (today.to_string(), scope.map(str::to_string))),
        initial: name_prefixes(filter)
            .first()
            .map(|name| super::facts::initial_of(Some(name))),
        target_group: non_empty(&filter.target_group).map(str::to_string),
        early_help: filter.early_help_only(),
    }
}

/// How a name's beginning leads the list: one letter is a facet the statistics index answers (it
/// keeps every IPRA's first letter), a longer beginning a range of the name's index.
fn name_lead(name: &str) -> Lead {
    if name.chars().count() == 1 {
        Lead::Facet
    } else {
        Lead::Range("ipras_sort_name")
    }
}

/// The beginnings of the person's name a filter asks for, as the list compares them with the
/// search name: the quick search without digits, the surname, the full name.
fn name_prefixes(filter: &IpraFilter) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(v) = non_empty(&filter.q).filter(|v| !v.chars().any(|c| c.is_ascii_digit())) {
        out.push(v.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase());
    }
    if let Some(v) = non_empty(&filter.surname) {
        out.push(v.to_uppercase());
    }
    if let Some(v) = non_empty(&filter.fio) {
        out.push(v.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase());
    }
    out.retain(|n| !n.is_empty());
    out
}

/// A sortable column of the register: its SQL on the IPRA row, the index that holds it in order
/// with the id (migration 0011), and whether it may be empty (empty values come last either way).
#[derive(Clone, Copy, Debug)]
struct SortColumn {
    sql: &'static str,
    index: &'static str,
    nullable: bool,
    numeric: bool,
}

fn sort_column(key: &str) -> SortColumn {
    let (sql, index, nullable, numeric) = match key {
        "kind" => ("i.is_child", "ipras_sort_kind", false, true),
        "number" => ("i.number", "ipras_sort_number", false, false),
        "protocol_number" => ("i.protocol_number", "ipras_sort_protocol_number", false, false),
        "protocol_date" => ("i.protocol_date", "ipras_sort_protocol_date", false, false),
        "issued_by" => ("i.issued_by", "ipras_sort_issued_by", true, false),
        "fio" => ("i.search_name", "ipras_sort_name", false, false),
        "status" => ("i.status", "ipras_sort_status", false, false),
        "territory" => ("i.territory_code", "ipras_sort_territory", true, false),
        "measures" => ("i.measures_count", "ipras_sort_measures", false, true),
        // The earliest due date of the open measures: the longest overdue first.
        "overdue" => ("i.open_due_min", "ipras_sort_overdue", true, false),
        "received" => ("i.received_at", "ipras_sort_received", false, false),
        _ => ("i.decision_date", "ipras_sort_decision", true, false),
    };
    SortColumn {
        sql,
        index,
        nullable,
        numeric,
    }
}

/// The list's sort column and whether it ascends: the decision date, newest first, unless the
/// filter asks otherwise (a chosen column ascends unless `dir=desc`).
fn list_order(filter: &IpraFilter) -> (SortColumn, bool) {
    let key = non_empty(&filter.sort).or_else(|| name_search_sort(filter));
    let ascending = match non_empty(&filter.dir) {
        Some("asc") => true,
        Some("desc") => false,
        _ => key.is_some(),
    };
    (sort_column(key.unwrap_or("decision_date")), ascending)
}

/// The order of a search by name when no other is chosen: by name, as in a card index. The name's
/// beginning is then where the name's index starts, and a page is the next fifty entries of it
/// however common the surname (in the order of decision dates, ИВАНОВ among a million persons read
/// thousands of rows to fill a page: 41 ms on PostgreSQL).
pub fn name_search_sort(filter: &IpraFilter) -> Option<&'static str> {
    (non_empty(&filter.sort).is_none() && !name_prefixes(filter).is_empty()).then_some("fio")
}

/// Where a page starts in the list's order: the sort value (`None`: among the empty ones) and the
/// id of the row next to it. Opaque to clients (base64 of JSON).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Position {
    value: Option<serde_json::Value>,
    id: i64,
}

impl Position {
    fn encode(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    fn decode(text: &str) -> Option<Position> {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn bind(&self, b: &mut Binds, numeric: bool) -> Option<String> {
        let value = self.value.as_ref()?;
        Some(match (value, numeric) {
            (serde_json::Value::Number(n), _) => b.push(Value::Int(n.as_i64().unwrap_or(0))),
            (serde_json::Value::String(t), true) => b.push(Value::Int(t.parse().unwrap_or(0))),
            (v, _) => b.push(Value::Text(v.as_str().unwrap_or_default().to_string())),
        })
    }
}

/// The position after a row of the default order (decision date, newest first): where a list
/// continues past that row (`after=`).
pub fn position_after(id: i64, decision_date: Option<String>) -> String {
    Position {
        value: decision_date.map(serde_json::Value::from),
        id,
    }
    .encode()
}

/// The literal that ends a list: `before=end` asks for the last page.
pub const END: &str = "end";

/// How the list reaches its rows (chosen per request from the filter; see `plan`).
#[derive(Clone, Debug, PartialEq)]
enum Access {
    /// Walk the sort's index, checking every condition on each row, until the page is full: cheap
    /// when the filter keeps many rows.
    SortIndex,
    /// Start from a selective condition's index, then sort what it finds.
    Index(&'static str),
    /// Start from the ids the statistics index found for the facets, then sort them (the facets
    /// need no checking again).
    Ids(Vec<i64>),
    /// Let the database's planner choose (an OR of two indexed conditions).
    Planner,
    /// The few rows an OR of two indexed conditions finds (a SNILS, or a number that looks like
    /// one), read first without an order so that the database takes both indexes; every condition
    /// is still checked on them.
    Candidates(Vec<i64>),
    /// The first rows of the page's walk in the default order, which the statistics index chose
    /// among the facets' rows (see [`ordered_by_facts`]): the page is read from them.
    Ordered(Vec<i64>),
}

/// Rows a filter may find for the list to start from them and sort, instead of walking the sort's
/// index: each costs about one row read either way, and a walk reads `per_page / density` rows,
/// so starting from the filter's rows is cheaper while they are fewer than √(per_page × register).
fn small(per_page: u32, register: usize) -> usize {
    (((f64::from(per_page) + 1.0) * register as f64).sqrt() as usize).max(1_000)
}

/// The most rows the statistics index hands over as ids.
const SMALL: usize = 20_000;

/// What the planner learned: the access, and the total when it could be counted exactly.
struct Plan {
    access: Access,
    total: Option<i64>,
    /// A total estimated from the statistics index and the ranges' sizes (rows of the whole
    /// register assumed independent) when it is not exact.
    estimate: i64,
}

/// Counts the rows of one range condition, up to `cap + 1`, by its index.
async fn range_size(db: &Db, condition: &Condition, binds: &Binds, cap: usize) -> Result<usize> {
    let Lead::Range(index) = condition.lead else {
        return Ok(0);
    };
    let hint = indexed_by(db, index);
    // The condition alone, with only its own values (PostgreSQL refuses values a statement does not use).
    let (own_sql, own) = binds.only_of(&condition.sql);
    let sql = format!(
        "SELECT COUNT(*) AS n FROM (SELECT 1 FROM ipras i{hint} WHERE {own_sql} LIMIT {}) t",
        cap + 1
    );
    let n: i64 = own.bind_recorded(&sql).fetch_one(&db.pool).await?.try_get("n")?;
    Ok(n as usize)
}

/// SQLite's `INDEXED BY` for a chosen access (PostgreSQL's planner, which keeps statistics of
/// every column, chooses itself).
pub(super) fn indexed_by(db: &Db, index: &str) -> String {
    match db.engine {
        crate::db::Engine::Sqlite => format!(" INDEXED BY {index}"),
        crate::db::Engine::Postgres => String::new(),
    }
}

async fn plan(
    db: &Db,
    facts: Option<&super::facts::FactsIndex>,
    filter: &IpraFilter,
    facets: &super::facts::Facets,
    conds: &[Condition],
    binds: &Binds,
) -> Result<Plan> {
    if let Some(access) = conds.iter().find_map(|c| match c.lead {
        Lead::Identifier(index) => Some(Access::Index(index)),
        Lead::Either => Some(Access::Planner),
        _ => None,
    }) {
        let access = match (&access, conds.iter().find(|c| c.lead == Lead::Either)) {
            // With an order, SQLite walks the sort's index for the one row an OR finds (45 ms at
            // a million persons); without one it takes both indexes.
            (Access::Planner, Some(either)) => {
                let sql = format!("SELECT i.id FROM ipras i WHERE {} LIMIT {}", either.sql, SMALL + 1);
                let ids: Vec<i64> = binds
                    .bind_recorded(&sql)
                    .fetch_all(&db.pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<i64, _>("id"))
                    .collect::<std::result::Result<_, _>>()?;
                if ids.len() <= SMALL {
                    Access::Candidates(ids)
                } else {
                    access
                }
            }
            _ => access,
        };
        return Ok(Plan {
            access,
            total: None,
            estimate: 0,
        });
    }
    let facet_only = conds.iter().all(|c| c.lead == Lead::Facet);
    let has_facets = conds.iter().any(|c| c.lead == Lead::Facet);
    let matched = facts.and_then(|f| f.facet_match(facets, SMALL));
    let register = match &matched {
        Some(_) => facts.map(|f| f.size().ipras as i64).unwrap_or(0),
        None => 0,
    };
    // The smallest range, counted up to SMALL.
    let mut smallest: Option<(&'static str, usize)> = None;
    let mut ranges = Vec::new();
    for c in conds {
        if let Lead::Range(index) = c.lead {
            let n = range_size(db, c, binds, SMALL).await?;
            ranges.push(n);
            if smallest.is_none_or(|(_, m)| n < m) {
                smallest = Some((index, n));
            }
        }
    }
    // With a name's first letter among the facets, they counted it too; a longer beginning is a
    // range, counted on its own and assumed independent of the facets.
    let letter_is_facet = name_prefixes(filter).iter().any(|n| n.chars().count() == 1);
    let facet_count = matched
        .as_ref()
        .map(|m| if letter_is_facet { m.narrowed } else { m.count });
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let size = if register > 0 { register as usize } else { 1_000_000 };
    // Rows walked in the sort's order to fill a page, when the conditions are independent: the
    // page over the share of the register they keep. Together, a large facet and a large range
    // (an executor's IPRAs whose name starts with a letter) keep few rows: reading one of them
    // whole is then cheaper than the walk.
    let mut share = facet_count.map_or(1.0, |n| n as f64 / size as f64);
    for n in ranges {
        share *= (n as f64 / size as f64).min(1.0);
    }
    let walk = (f64::from(per_page) / share.max(1e-9)).min(size as f64) as usize;
    let threshold = small(per_page, size).max(walk.min(SMALL));
    let access = match (&matched, smallest) {
        (Some(m), range)
            if m.ids.is_some()
                && has_facets
                && m.narrowed <= threshold
                && range.is_none_or(|(_, n)| m.narrowed <= n) =>
        {
            Access::Ids(m.ids.clone().unwrap_or_default())
        }
        (_, Some((index, n))) if n <= threshold => Access::Index(index),
        _ => Access::SortIndex,
    };
    let total = match (&access, facet_only) {
        (_, true) => facet_count.map(|n| n as i64),
        // One range alone, counted whole: its count is the total.
        _ => match (conds, smallest) {
            ([only], Some((_, n))) if matches!(only.lead, Lead::Range(_)) && n <= SMALL => Some(n as i64),
            _ => None,
        },
    };
    let mut estimate = facet_count.map(|n| n as f64).unwrap_or(register as f64);
    if let (Some((_, n)), true) = (smallest, register > 0) {
        estimate *= (n as f64 / register as f64).min(1.0);
    }
    Ok(Plan {
        access,
        total,
        estimate: estimate.round() as i64,
    })
}

/// Rows of a page's walk the statistics index orders at most (a page two hundred deep).
const ORDERED_TAKE: usize = 20_000;

/// When the filter is only facets and the list is in the default order (the decision date): the
/// rows of the page's walk, chosen by the statistics index in one pass over its own IPRAs instead
/// of walking the database's index for the few that match (an executor's overdue IPRAs among a
/// million) or reading every matching row to sort them. `None` when the plan is not such a walk.
fn ordered_by_facts(
    facts: Option<&super::facts::FactsIndex>,
    filter: &IpraFilter,
    facets: &super::facts::Facets,
    conds: &[Condition],
    plan: &Plan,
    per_page: u32,
    page: u32,
) -> Option<Vec<i64>> {
    let facts = facts?;
    // Cheaper than a walk, and than reading every id handed over to sort them.
    let walked = matches!(plan.access, Access::SortIndex | Access::Ids(_));
    if !walked || conds.is_empty() || conds.iter().any(|c| c.lead != Lead::Facet) {
        return None;
    }
    let (sort, ascending) = list_order(filter);
    if sort.index != "ipras_sort_decision" {
        return None;
    }
    let (forward, position, offset) = match non_empty(&filter.before) {
        Some(END) => (false, None, 0),
        Some(before) => (false, Some(Position::decode(before)?), 0),
        None => match non_empty(&filter.after) {
            Some(after) => (true, Some(Position::decode(after)?), 0),
            None => (true, None, (page as usize - 1) * per_page as usize),
        },
    };
    let after = match position {
        None => None,
        Some(Position { value: None, id }) => Some((0, id)),
        Some(Position {
            value: Some(serde_json::Value::String(date)),
            id,
        }) => Some((super::facts::decided_of(Some(&date)).ok().filter(|d| *d > 0)?, id)),
        Some(_) => return None,
    };
    let take = offset + per_page as usize + 1;
    if take > ORDERED_TAKE {
        return None;
    }
    let order = super::facts::DecisionOrder { ascending, forward };
    facts.facet_page(facets, order, after, take)
}

/// One page of the register. `scope`: the OGRN of an executor, who sees only IPRAs with measures
/// assigned to it. `facts`: the statistics index, which answers the facet filters and counts.
///
/// Paging goes through the sort's index (see `Access`): `after`/`before` positions (the list's
/// `next`/`prev`) cost the same on every page; `page` alone skips rows and costs more the deeper.
pub async fn list_ipras(
    db: &Db,
    facts: Option<&super::facts::FactsIndex>,
    filter: &IpraFilter,
    scope: Option<&str>,
) -> Result<IpraPage> {
    let per_page = filter.per_page.unwrap_or(50).clamp(1, 500);
    let page = filter.page.unwrap_or(1).max(1);
    let today = crate::register::deadlines::format_date(crate::register::deadlines::today());
    let mut binds = Binds::default();
    let conds = conditions(filter, scope, &today, db.engine, &mut binds);
    let facets = facets(filter, scope, &today);
    let plan = plan(db, facts, filter, &facets, &conds, &binds).await?;
    let plan = match ordered_by_facts(facts, filter, &facets, &conds, &plan, per_page, page) {
        Some(ids) => Plan {
            access: Access::Ordered(ids),
            ..plan
        },
        None => plan,
    };
    // The ids the statistics index found satisfy the facets (and the executor's scope): only the
    // other conditions are checked on them.
    let (conds, binds) = if matches!(plan.access, Access::Ids(_) | Access::Ordered(_)) {
        let mut b = Binds::default();
        (conditions(&filter.without_facets(), None, &today, db.engine, &mut b), b)
    } else {
        (conds, binds)
    };
    let after = non_empty(&filter.after).and_then(Position::decode);
    let before = non_empty(&filter.before);
    let (rows, has_more) = if let Some(before) = before {
        let position = if before == END { None } else { Position::decode(before) };
        let (mut rows, more) = select_page(
            db,
            filter,
            &conds,
            &binds,
            &plan.access,
            Direction::Backward(position),
            per_page,
            0,
        )
        .await?;
        rows.reverse();
        (rows, more)
    } else {
        let offset = if after.is_some() {
            0
        } else {
            u64::from(page - 1) * u64::from(per_page)
        };
        select_page(
            db,
            filter,
            &conds,
            &binds,
            &plan.access,
            Direction::Forward(after.clone()),
            per_page,
            offset,
        )
        .await?
    };
    let total = match plan.total {
        Some(n) => Some(n),
        None => match &plan.access {
            Access::Index(_) | Access::Ids(_) | Access::Candidates(_) | Access::Planner => {
                Some(count_rows(db, &conds, &binds, &counted_by(filter, &plan.access)).await?)
            }
            // Only for facets, which the statistics index counts (never reached).
            Access::Ordered(_) => None,
            Access::SortIndex if conds.is_empty() => Some(count_rows(db, &conds, &binds, &plan.access).await?),
            Access::SortIndex => None,
        },
    };
    let key = |item: &(IpraListItem, Option<serde_json::Value>)| Position {
        value: item.1.clone(),
        id: item.0.id,
    };
    // Whether there are rows before this page and after it.
    let (earlier, later) = match (before.is_some(), after.is_some()) {
        (true, _) => (has_more, before != Some(END)),
        (false, true) => (true, has_more),
        (false, false) => (page > 1, has_more),
    };
    let next = later.then(|| rows.last().map(|r| key(r).encode())).flatten();
    let prev = earlier.then(|| rows.first().map(|r| key(r).encode())).flatten();
    let mut items: Vec<IpraListItem> = rows.into_iter().map(|(item, _)| item).collect();
    fill_counts(db, facts, &mut items, scope, &today).await?;
    Ok(IpraPage {
        total: total.unwrap_or(plan.estimate.max(items.len() as i64)),
        total_exact: total.is_some(),
        page,
        per_page,
        items,
        next,
        prev,
    })
}

/// Every IPRA the filter finds, in its sort order, `chunk` rows at a time from `after` (exports
/// stream the whole register this way).
pub async fn ipras_after(
    db: &Db,
    facts: Option<&super::facts::FactsIndex>,
    filter: &IpraFilter,
    scope: Option<&str>,
    after: Option<&str>,
    chunk: u32,
) -> Result<(Vec<IpraListItem>, Option<String>)> {
    let filter = IpraFilter {
        after: after.map(str::to_string),
        before: None,
        page: None,
        per_page: Some(chunk.clamp(1, 500)),
        ..filter.clone()
    };
    let page = list_ipras(db, facts, &filter, scope).await?;
    Ok((page.items, page.next))
}

#[derive(Clone, Debug)]
enum Direction {
    Forward(Option<Position>),
    Backward(Option<Position>),
}

const LIST_COLUMNS: &str = "i.id, i.number, i.protocol_number, i.protocol_date, i.decision_date, i.document_version, \
     i.issued_by, i.status, i.is_child, i.snils, i.received_at, i.search_name, i.territory_code, i.measures_count, i.target_groups, i.early_help, \
     i.open_due_min, i.person_id";

/// One page in the sort's order from a position; `offset` rows skipped first (`page` without a
/// position). Returns the rows with their sort values and whether more follow in that direction.
#[allow(clippy::too_many_arguments)]
async fn select_page(
    db: &Db,
    filter: &IpraFilter,
    conds: &[Condition],
    binds: &Binds,
    access: &Access,
    direction: Direction,
    per_page: u32,
    offset: u64,
) -> Result<(Vec<(IpraListItem, Option<serde_json::Value>)>, bool)> {
    let (sort, asc) = list_order(filter);
    let (forward, position) = match direction {
        Direction::Forward(p) => (true, p),
        Direction::Backward(p) => (false, p),
    };
    // The order walked: the list's order forward, its reverse backward.
    let walk_asc = asc == forward;
    // Segments in walking order: the filled values, then the empty ones (reversed backward).
    let mut segments: Vec<bool> = if sort.nullable { vec![false, true] } else { vec![false] };
    if !forward {
        segments.reverse();
    }
    // A position among the empty values starts there; a filled one starts in the filled segment.
    let start_segment = match &position {
        Some(p) if p.value.is_none() && sort.nullable => segments.iter().position(|s| *s).unwrap_or(0),
        Some(_) => segments.iter().position(|s| !*s).unwrap_or(0),
        None => 0,
    };
    let want = per_page as usize + 1;
    let mut out = Vec::new();
    let mut skip = offset;
    for (n, empty_segment) in segments.iter().enumerate().skip(start_segment) {
        let mut b = binds.clone();
        let mut where_sql: Vec<String> = conds.iter().map(|c| c.sql.clone()).collect();
        if sort.nullable {
            where_sql.push(format!(
                "{} IS {}NULL",
                sort.sql,
                if *empty_segment { "" } else { "NOT " }
            ));
        }
        let cmp = if walk_asc { ">" } else { "<" };
        if n == start_segment {
            if let Some(p) = &position {
                let id = b.push(Value::Int(p.id));
                match p.bind(&mut b, sort.numeric) {
                    Some(v) if !*empty_segment => where_sql.push(format!("({}, i.id) {cmp} ({v}, {id})", sort.sql)),
                    _ => where_sql.push(format!("i.id {cmp} {id}")),
                }
            }
        }
        if let Access::Ids(ids) | Access::Ordered(ids) | Access::Candidates(ids) = access {
            if ids.is_empty() {
                return Ok((Vec::new(), false));
            }
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            where_sql.push(format!("i.id IN ({})", list.join(",")));
        }
        let dir = if walk_asc { "ASC" } else { "DESC" };
        let order = if *empty_segment {
            format!("i.id {dir}")
        } else {
            format!("{} {dir}, i.id {dir}", sort.sql)
        };
        // An institution's own index serves both the sort's walk and the institution's rows.
        let hint = match access {
            Access::SortIndex => indexed_by(db, institution_order(filter, sort).unwrap_or(sort.index)),
            Access::Index(index @ "ipras_sort_issued_by") => {
                indexed_by(db, institution_order(filter, sort).unwrap_or(index))
            }
            Access::Index(index) => indexed_by(db, index),
            Access::Ids(_) | Access::Ordered(_) | Access::Candidates(_) | Access::Planner => String::new(),
        };
        let limit = want - out.len();
        let sql = format!(
            "SELECT {LIST_COLUMNS} FROM ipras i{hint}{} ORDER BY {order} LIMIT {limit} OFFSET {skip}",
            if where_sql.is_empty() {
                String::new()
            } else {
                format!(" WHERE {}", where_sql.join(" AND "))
            }
        );
        let rows = b.bind_recorded(&sql).fetch_all(&db.pool).await?;
        let got = rows.len();
        for row in &rows {
            out.push(list_item(row, sort)?);
        }
        if out.len() >= want {
            break;
        }
        if skip > 0 {
            // Rows skipped in this segment: count it to know how many remain to skip in the next.
            let skipped = if got > 0 {
                skip
            } else {
                let count_sql = format!(
                    "SELECT COUNT(*) AS n FROM ipras i{hint}{}",
                    if where_sql.is_empty() {
                        String::new()
                    } else {
                        format!(" WHERE {}", where_sql.join(" AND "))
                    }
                );
                let n: i64 = b
                    .bind(sqlx::query(&count_sql))
                    .fetch_one(&db.pool)
                    .await?
                    .try_get("n")?;
                (n as u64).min(skip)
            };
            skip -= skipped;
        }
    }
    let more = out.len() > per_page as usize;
    out.truncate(per_page as usize);
    Ok((out, more))
}

/// The index of one institution's IPRAs in the list's order (migration 0035), when the filter
/// names the institution (a bureau's register) and the list is in the order of decision dates or
/// names: a page then starts at the institution's first row in that order, instead of walking the
/// whole order's index past the other institutions' rows (a bureau holds a few per cent of the
/// register: ≈ 1,700 rows a page at 100,000 persons) or reading all of the institution's rows to
/// sort them.
fn institution_order(filter: &IpraFilter, sort: SortColumn) -> Option<&'static str> {
    non_empty(&filter.issued_by)?;
    match sort.index {
        "ipras_sort_decision" => Some("ipras_issuer_decision"),
        "ipras_sort_name" => Some("ipras_issuer_name"),
        _ => None,
    }
}

/// The access a count takes: an institution's IPRAs whose name begins so are one range of the
/// institution's names (migration 0035), not all of its rows looked up one by one for the name (a
/// bureau's quick search by a letter: 47 ms at 100,000 persons).
fn counted_by<'a>(filter: &IpraFilter, access: &'a Access) -> std::borrow::Cow<'a, Access> {
    match access {
        Access::Index("ipras_sort_issued_by") if !name_prefixes(filter).is_empty() => {
            std::borrow::Cow::Owned(Access::Index("ipras_issuer_name"))
        }
        other => std::borrow::Cow::Borrowed(other),
    }
}

/// The rows of the filter, counted by the planned access.
async fn count_rows(db: &Db, conds: &[Condition], binds: &Binds, access: &Access) -> Result<i64> {
    let mut where_sql: Vec<String> = conds.iter().map(|c| c.sql.clone()).collect();
    let hint = match access {
        Access::Index(index) => indexed_by(db, index),
        Access::Ids(ids) | Access::Ordered(ids) | Access::Candidates(ids) => {
            if ids.is_empty() {
                return Ok(0);
            }
            let list: Vec<String> = ids.iter().map(i64::to_string).collect();
            where_sql.push(format!("i.id IN ({})", list.join(",")));
            String::new()
        }
        Access::SortIndex | Access::Planner => String::new(),
    };
    let sql = format!(
        "SELECT COUNT(*) AS n FROM ipras i{hint}{}",
        if where_sql.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", where_sql.join(" AND "))
        }
    );
    Ok(binds.bind_recorded(&sql).fetch_one(&db.pool).await?.try_get("n")?)
}

fn list_item(row: &sqlx::any::AnyRow, sort: SortColumn) -> Result<(IpraListItem, Option<serde_json::Value>)> {
    let value = if sort.numeric {
        let column = sort.sql.trim_start_matches("i.");
        row.try_get::<Option<i64>, _>(column)?.map(serde_json::Value::from)
    } else {
        opt_text(row, sort.sql.trim_start_matches("i.")).map(serde_json::Value::from)
    };
    Ok((IpraListItem::from_row(row)?, value))
}

/// An IPRA's measures through its own index (SQLite, without statistics, would rather walk an
/// organisation's or a section's measures when the condition names one).
fn measures_by_ipra(engine: crate::db::Engine) -> &'static str {
    match engine {
        crate::db::Engine::Sqlite => " INDEXED BY measures_ipra_status",
        crate::db::Engine::Postgres => "",
    }
}

/// The measures of each IPRA of `ids` (an executor's own) and those open past their due date, read
/// from the database: what [`super::facts::FactsIndex::page_counts`] gives when the index is loaded.
async fn measure_counts(
    db: &Db,
    ids: &[i64],
    scope: Option<&str>,
    today: &str,
) -> Result<std::collections::HashMap<i64, (i64, i64)>> {
    let mut b = Binds::default();
    let today = b.add(today.to_string());
    let own = scope
        .map(|o| format!(" AND m.assigned_ogrn = {}", b.add(o.to_string())))
        .unwrap_or_default();
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    // By the IPRAs' own index: with fifty ids SQLite would rather walk all of the organisation's
    // measures (256 ms for an executor's page at a million persons).
    let sql = format!(
        "SELECT m.ipra_id, COUNT(*) AS n, SUM(CASE WHEN m.status = 'open' AND m.due_date < {today} THEN 1 ELSE 0 END) AS late \
         FROM measures m{} WHERE m.ipra_id IN ({}){own} GROUP BY m.ipra_id",
        measures_by_ipra(db.engine),
        list.join(",")
    );
    let mut counts = std::collections::HashMap::new();
    for r in b.bind_recorded(&sql).fetch_all(&db.pool).await? {
        counts.insert(
            r.try_get("ipra_id")?,
            (r.try_get("n")?, super::workload::sum(&r, "late")?),
        );
    }
    Ok(counts)
}

/// The counts of a page's rows (after its `LIMIT`): open measures past their due date, and for an
/// executor only its own measures; the person's name as written (lists carry the search name).
async fn fill_counts(
    db: &Db,
    facts: Option<&super::facts::FactsIndex>,
    items: &mut [IpraListItem],
    scope: Option<&str>,
    today: &str,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = items.iter().map(|i| i.id).collect();
    // The statistics index, brought up to the register before the page was read, holds every
    // measure: the counts of fifty IPRAs from it instead of their measures' rows (3–8 ms on
    // PostgreSQL at a million persons, most of a page's time).
    let counts = match facts.and_then(|f| f.page_counts(&ids, scope, today)) {
        Some(counts) => ids.iter().copied().zip(counts).collect(),
        None => measure_counts(db, &ids, scope, today).await?,
    };
    let persons: Vec<String> = items.iter().map(|i| i.person_id.to_string()).collect();
    let names_sql = format!(
        "SELECT id, surname, given_name, patronymic FROM persons WHERE id IN ({})",
        persons.join(",")
    );
    let mut names: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    crate::plans::record(&names_sql, []);
    for r in sqlx::query(&names_sql).fetch_all(&db.pool).await? {
        names.insert(
            r.try_get("id")?,
            full_name(
                &r.try_get::<String, _>("surname")?,
                &r.try_get::<String, _>("given_name")?,
                opt_text(&r, "patronymic").as_deref(),
            ),
        );
    }
    for item in items.iter_mut() {
        let (n, late) = counts.get(&item.id).copied().unwrap_or((0, 0));
        if scope.is_some() {
            item.measures = n;
        }
        item.overdue = late;
        if let Some(name) = names
            .remove(&item.person_id)
            .or_else(|| names.get(&item.person_id).cloned())
        {
            names.insert(item.person_id, name.clone());
            item.full_name = name;
        }
    }
    Ok(())
}

/// The distinct values of an indexed column of the IPRAs, in order, by one index seek per value
/// (a few dozen bureaus or territories among a million rows; `SELECT DISTINCT` would read the
/// whole index).
async fn distinct_ipra_values(db: &Db, column: &str) -> Result<Vec<String>> {
    let sql = format!(
        "WITH RECURSIVE d(v) AS (SELECT MIN({column}) FROM ipras \
         UNION ALL SELECT (SELECT MIN({column}) FROM ipras WHERE {column} > d.v) FROM d WHERE d.v IS NOT NULL) \
         SELECT v FROM d WHERE v IS NOT NULL"
    );
    crate::plans::record(&sql, []);
    sqlx::query(&sql)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<String, _>("v")?))
        .collect()
}

/// The MSE institutions that issued IPRAs of the register (for the filter's choice).
pub async fn issuing_institutions(db: &Db) -> Result<Vec<String>> {
    distinct_ipra_values(db, "issued_by").await
}

/// Territory codes of persons in the register (for the filter's choice, named from the reference list).
pub async fn person_territories(db: &Db) -> Result<Vec<String>> {
    distinct_ipra_values(db, "territory_code").await
}

/// The target rehabilitation groups the extracts have named, by code: (code, name as the first
/// extract gave it). A short table (one row a code), read whole.
pub async fn target_groups(db: &Db) -> Result<Vec<(String, String)>> {
    let rows = sqlx::query("SELECT code, name FROM target_groups ORDER BY code")
        .fetch_all(&db.pool)
        .await?;
    let mut groups: Vec<(String, String)> = rows
        .iter()
        .map(|r| Ok((r.try_get("code")?, r.try_get("name")?)))
        .collect::<Result<_>>()?;
    // «ЦРГ 2» before «ЦРГ 10»: numbers in their order.
    groups.sort_by_key(|(code, _)| {
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        (digits.parse::<u64>().unwrap_or(u64::MAX), code.clone())
    });
    Ok(groups)
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct MeasureView {
    pub id: i64,
    pub status: String,
    pub due_date: Option<String>,
    pub assignment_source: Option<String>,
    pub closed_reason: Option<String>,
    #[sqlx(rename = "measure_key")]
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
    #[sqlx(try_from = "JsonText<Vec<(String, String)>>")]
    pub extra: Vec<(String, String)>,
}

/// A `measures` row as the API shows it.
pub fn measure_from_row(m: &sqlx::any::AnyRow) -> Result<MeasureView> {
    Ok(MeasureView::from_row(m)?)
}

impl MeasureView {
    /// The measure as plugins see it.
    pub fn for_plugins(&self) -> crate::plugins::model::Measure {
        use crate::plugins::model;
        model::Measure {
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
                .map(|(code, value)| model::Attribute {
                    code: code.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct HistoryItem {
    pub id: i64,
    pub number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub status: String,
    pub superseded_by: Option<i64>,
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PriorReportView {
    pub document_id: String,
    pub document_version: String,
    pub number: Option<String>,
    pub report_date: Option<String>,
    pub source: Option<String>,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub entries: serde_json::Value,
}

/// The extract card: everything about one IPRA, with the person's data in full.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct IpraCard {
    #[sqlx(skip)]
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
    #[sqlx(try_from = "Flag")]
    pub is_child: bool,
    pub received_at: String,
    #[sqlx(try_from = "JsonText<serde_json::Value>")]
    pub extra: serde_json::Value,
    #[sqlx(flatten)]
    pub person: PersonView,
    #[sqlx(skip)]
    pub measures: Vec<MeasureView>,
    #[sqlx(skip)]
    pub history: Vec<HistoryItem>,
    #[sqlx(skip)]
    pub prior_reports: Vec<PriorReportView>,
    /// The IPPSU documents sent to the social-services system for this IPRA, with its answers (for an
    /// executor, only when it executes a social-protection measure of it).
    #[sqlx(skip)]
    pub ippsu_sends: Vec<super::social_services::IppsuSend>,
    /// The execution records (of the visible measures) made from the services it reported back.
    #[sqlx(skip)]
    pub reported_services: Vec<super::social_services::ReportedService>,
    #[sqlx(flatten)]
    pub source_document: SourceView,
}

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct PersonView {
    /// In full, formatted (`123-456-789 01`): the card is where a SNILS is shown whole.
    #[sqlx(try_from = "FormattedSnils")]
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

crate::text_column!(
    /// A SNILS column read formatted in full.
    FormattedSnils,
    String,
    format_snils
);

#[derive(Clone, Debug, Default, Serialize, sqlx::FromRow)]
pub struct SourceView {
    #[sqlx(rename = "source_document_id")]
    pub id: i64,
    pub file_name: String,
    pub sha256: String,
    pub size_bytes: i64,
}

/// The card of one IPRA; with a `scope` (an executor's OGRN) only when some of its measures are
/// assigned to that organisation, and with only those measures.
pub async fn ipra_card(db: &Db, id: i64, scope: Option<&str>) -> Result<Option<IpraCard>> {
    if let Some(ogrn) = scope {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM measures{} WHERE ipra_id = $1 AND assigned_ogrn = $2",
            measures_by_ipra(db.engine)
        );
        let visible: i64 = sqlx::query(&sql)
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
    let measures = sqlx::query(&format!(
        "SELECT * FROM measures{} WHERE ipra_id = $1 AND ($2 = '' OR assigned_ogrn = $2) ORDER BY id",
        measures_by_ipra(db.engine)
    ))
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
    .map(HistoryItem::from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let prior_reports = sqlx::query(
        "SELECT document_id, document_version, number, report_date, source, entries FROM prior_reports WHERE ipra_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(PriorReportView::from_row)
    .collect::<Result<Vec<_>, _>>()?;
    let ippsu_sends = if scope.is_none() || measures.iter().any(|m| m.section == super::social_services::SECTION) {
        super::social_services::ippsu_sends(db, id).await?
    } else {
        Vec::new()
    };
    let reported_services = super::social_services::reported_on_ipra(db, id)
        .await?
        .into_iter()
        .filter(|s| scope.is_none() || measures.iter().any(|m| Some(m.id) == s.measure_id))
        .collect();
    Ok(Some(IpraCard {
        id,
        measures,
        history,
        prior_reports,
        ippsu_sends,
        reported_services,
        ..IpraCard::from_row(&row)?
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

/// The largest measure id: a bound of the register's size that costs one index probe (whether the
/// statistics index loads in a moment).
pub async fn highest_measure_id(db: &Db) -> Result<i64> {
    let max: Option<i64> = sqlx::query("SELECT MAX(id) AS n FROM measures")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    Ok(max.unwrap_or(0))
}

/// The IPRA numbers of these ids (those that exist).
pub async fn ipra_numbers(db: &Db, ids: &[i64]) -> Result<Vec<(i64, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let rows = sqlx::query(&format!(
        "SELECT id, number FROM ipras WHERE id IN ({})",
        list.join(",")
    ))
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("number")?)))
        .collect()
}

/// The SNILS of a person of the register.
pub async fn person_snils(db: &Db, person_id: i64) -> Result<Option<String>> {
    Ok(sqlx::query("SELECT snils FROM persons WHERE id = $1")
        .bind(person_id)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<String, _>("snils"))
        .transpose()?)
}

/// Counts for the health endpoint and the page header.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
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
    Ok(RegisterCounts::from_row(&row)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_condition_keeps_only_its_own_values_renumbered() {
        let mut b = Binds::default();
        let first = b.add("2026-11-20".into());
        let issuer = b.add("Бюро № 5".into());
        let sql = format!("i.issued_by = {issuer} AND i.issued_by <> {issuer} || 'x'");
        let (own_sql, own) = b.only_of(&sql);
        assert_eq!(first, "$1");
        assert_eq!(own_sql, "i.issued_by = $1 AND i.issued_by <> $1 || 'x'");
        assert_eq!(own.0, vec![Value::Text("Бюро № 5".into())]);
    }

    #[test]
    fn a_search_by_name_lists_by_name_unless_another_order_is_chosen() {
        let order = |filter: IpraFilter| {
            let (column, ascending) = list_order(&filter);
            (column.index, ascending)
        };
        let by = |q: &str| IpraFilter {
            q: Some(q.into()),
            ..IpraFilter::default()
        };
        assert_eq!(order(IpraFilter::default()), ("ipras_sort_decision", false));
        assert_eq!(order(by("Иванов")), ("ipras_sort_name", true));
        assert_eq!(order(by("Иванов Иван")), ("ipras_sort_name", true));
        // A number or a SNILS is not a name.
        assert_eq!(order(by("ИПРА-504")), ("ipras_sort_decision", false));
        assert_eq!(order(by("112-233-445 95")), ("ipras_sort_decision", false));
        let surname = IpraFilter {
            surname: Some("Петр".into()),
            ..IpraFilter::default()
        };
        assert_eq!(order(surname), ("ipras_sort_name", true));
        let backwards = IpraFilter {
            dir: Some("desc".into()),
            ..by("Иванов")
        };
        assert_eq!(order(backwards), ("ipras_sort_name", false));
        let chosen = IpraFilter {
            sort: Some("number".into()),
            ..by("Иванов")
        };
        assert_eq!(order(chosen.clone()), ("ipras_sort_number", true));
        assert_eq!(name_search_sort(&chosen), None);
    }
}
