//! The register of social-service recipients (442-ФЗ «Об основах социального обслуживания граждан»): the
//! persons the social-protection department registered on import (`social_service_recipients`, filled by
//! its `social-service-recipient` follow-up), as the regional ministry keeps them — a list with filters
//! and keyset pages, one recipient, and what the `recipients-export` job sends to the social-services
//! system through a connector.
//!
//! Scope: a coordinator, an administrator and an auditor read the region; an executor organisation only
//! the recipients with social-protection measures assigned to it; every other role (a bureau, a user
//! without organisation) nothing. Lists are read through an index in their order (the day added with the
//! id, or the person's search name with its id, migration 0029), every filter bound, never filtered in
//! memory; totals are counted up to [`crate::paging::COUNT_CAP`], or to [`FEW`] when each recipient's
//! person, IPRA or organisation must be looked at.
//!
//! What changed of a recipient since a connector's last export is in the journal `recipient_changes`
//! (filled by triggers: a recipient added, a new IPRA or an IPRA's status, the person's names, territory or
//! death); each connector's cursor walks it. A package is queued, the cursor moved, the persons marked sent
//! and each person's read logged in one transaction.

use crate::auth::{Principal, Role};
use crate::db::{now, opt_text, Db, Engine};
use crate::paging::COUNT_CAP;
use crate::plans::Arg;
use crate::plugins::model;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

/// The job kind that sends the register through a connector.
pub const JOB_KIND: &str = "recipients-export";

/// Whose recipients a user reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole region.
    Region,
    /// The recipients with social-protection measures assigned to this organisation (OGRN).
    Organisation(String),
    /// None (fails closed).
    Nothing,
}

impl Scope {
    pub fn of(user: &Principal) -> Scope {
        match user.role {
            Role::Administrator | Role::Coordinator | Role::Auditor => Scope::Region,
            Role::Executor => match user.ogrn.as_deref().filter(|o| !o.trim().is_empty()) {
                Some(ogrn) => Scope::Organisation(ogrn.to_string()),
                None => Scope::Nothing,
            },
            Role::Bureau => Scope::Nothing,
        }
    }
}

/// The filter of the list; every field optional text, an empty form field being no filter.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RecipientFilter {
    /// Quick search: the beginning of the surname (or of «Фамилия Имя Отчество»), a SNILS, or the
    /// beginning of an IPRA number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// The person's territory (OKATO/OKTMO code as the register keeps it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub territory: Option<String>,
    /// Added on or after this day (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_from: Option<String>,
    /// Added on or before this day (YYYY-MM-DD).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_to: Option<String>,
    /// The state of the recipient's IPRA: `current`, `superseded` or `deceased`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `yes`: sent to the social-services system; `no`: not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent: Option<String>,
    /// `added` (the day added, newest first; the default) or `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The page after this position (the `next` of a page).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_page: Option<String>,
}

fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

impl RecipientFilter {
    /// What is wrong with the filter, in Russian, naming the field.
    pub fn check(&self) -> std::result::Result<(), String> {
        for (field, label, value) in [
            ("added_from", "добавлен с", &self.added_from),
            ("added_to", "добавлен по", &self.added_to),
        ] {
            if let Some(v) = non_empty(value) {
                if super::deadlines::parse_date(v).is_none() {
                    return Err(format!("«{field}» ({label}): «{v}» — не дата; укажите ГГГГ-ММ-ДД"));
                }
            }
        }
        if let Some(v) = non_empty(&self.state) {
            if !matches!(v, "current" | "superseded" | "deceased") {
                return Err(format!(
                    "«state» (состояние ИПРА): «{v}» — укажите current, superseded или deceased"
                ));
            }
        }
        if let Some(v) = non_empty(&self.sent) {
            if !matches!(v, "yes" | "no") {
                return Err(format!("«sent» (отправлен в АИС СОН): «{v}» — укажите yes или no"));
            }
        }
        if let Some(v) = non_empty(&self.sort) {
            if !matches!(v, "added" | "name") {
                return Err(format!("«sort» (порядок): «{v}» — укажите added или name"));
            }
        }
        if let Some(v) = non_empty(&self.per_page) {
            if !v.parse::<u32>().is_ok_and(|n| (1..=500).contains(&n)) {
                return Err(format!(
                    "«per_page» (строк на странице): «{v}» — целое число от 1 до 500"
                ));
            }
        }
        if let Some(v) = non_empty(&self.after) {
            if Position::parse(v).is_none() {
                return Err(format!("«after» (позиция страницы): «{v}» не разобрана"));
            }
        }
        Ok(())
    }

    pub fn by_name(&self) -> bool {
        non_empty(&self.sort) == Some("name")
    }

    pub fn per_page(&self) -> u32 {
        non_empty(&self.per_page)
            .and_then(|v| v.parse().ok())
            .unwrap_or(50)
            .clamp(1, 500)
    }

    /// The filter as query-string pairs (without the position), for links and the audit log.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for (key, value) in [
            ("q", &self.q),
            ("territory", &self.territory),
            ("added_from", &self.added_from),
            ("added_to", &self.added_to),
            ("state", &self.state),
            ("sent", &self.sent),
            ("sort", &self.sort),
            ("per_page", &self.per_page),
        ] {
            if let Some(v) = non_empty(value) {
                out.push((key, v.to_string()));
            }
        }
        out
    }
}

/// A page's position: the sort value and the id of its last row (`<id>:<value>`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Position {
    id: i64,
    value: String,
}

impl Position {
    fn parse(text: &str) -> Option<Position> {
        let (id, value) = text.split_once(':')?;
        Some(Position {
            id: id.parse().ok()?,
            value: value.to_string(),
        })
    }

    fn text(&self) -> String {
        format!("{}:{}", self.id, self.value)
    }
}

/// One recipient as the list and the card show it (SNILS whole: the views mask it where lists do).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Recipient {
    pub id: i64,
    pub person_id: i64,
    pub snils: String,
    pub surname: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birth_date: Option<String>,
    pub territory_code: Option<String>,
    pub death_date: Option<String>,
    /// The IPRA by which the person was registered.
    pub ipra_id: Option<i64>,
    pub ipra_number: Option<String>,
    /// `current`, `superseded` or `deceased`.
    pub state: String,
    pub added_at: String,
    /// Which department plugin registered the person.
    pub source: String,
    /// When the recipient last went to the social-services system, and in which document.
    pub sent_at: Option<String>,
    pub sent_document: Option<String>,
}

impl Recipient {
    pub fn full_name(&self) -> String {
        match self.patronymic.as_deref().filter(|p| !p.is_empty()) {
            Some(p) => format!("{} {} {p}", self.surname, self.given_name),
            None => format!("{} {}", self.surname, self.given_name),
        }
    }
}

/// The Russian name of a state.
pub fn state_label(state: &str) -> &'static str {
    match state {
        "current" => "ИПРА действует",
        "superseded" => "ИПРА заменена новой",
        "deceased" => "получатель умер",
        _ => "ИПРА закрыта",
    }
}

/// A page of the list.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct RecipientPage {
    pub items: Vec<Recipient>,
    /// Recipients the filter finds: exact when `total_exact`, else at least this many.
    pub total: i64,
    pub total_exact: bool,
    /// The position of the next page (`after=`), when there is one.
    pub next: Option<String>,
}

/// Values bound to a statement in order.
#[derive(Default)]
struct Binds(Vec<Arg>);

impl Binds {
    fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Arg::Text(v.into()));
        format!("${}", self.0.len())
    }

    fn int(&mut self, v: i64) -> String {
        self.0.push(Arg::Int(v));
        format!("${}", self.0.len())
    }

    /// A statement's `n`, recorded for the plans' check.
    async fn count(&self, db: &Db, sql: &str) -> Result<i64> {
        crate::plans::record(sql, self.0.clone());
        Ok(self.bind(sqlx::query(sql)).fetch_one(&db.pool).await?.try_get("n")?)
    }

    fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        for v in &self.0 {
            q = match v {
                Arg::Text(t) => q.bind(t.as_str()),
                Arg::Int(i) => q.bind(*i),
            };
        }
        q
    }
}

const COLUMNS: &str = "r.id, r.person_id, r.ipra_id, r.added_at, r.source, r.sent_at, r.sent_document, \
     p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, p.territory_code, p.death_date, p.search_name, \
     i.number AS ipra_number, i.status AS ipra_status";

/// A recipient's person (every recipient has one) and IPRA (at most one).
const PERSON_JOIN: &str = " JOIN persons p ON p.id = r.person_id";
const IPRA_JOIN: &str = " LEFT JOIN ipras i ON i.id = r.ipra_id";

/// The placeholders of the bounds of the names that begin with `name` (the search names compared).
fn name_bounds(b: &mut Binds, name: &str) -> (String, String) {
    (b.text(name), b.text(format!("{name}\u{10FFFF}")))
}

/// What a page of the list reads: the recipients (`hint`: SQLite's index for them) with their persons and IPRAs.
fn from(hint: &str) -> String {
    format!("social_service_recipients r{hint}{PERSON_JOIN}{IPRA_JOIN}")
}

/// What a count of the list reads: the recipients, and the persons and IPRAs only when a condition
/// names them. Every recipient has its person and at most one IPRA, so the joins change no count,
/// and counting the first ten thousand recipients without them costs a fifth of the time.
fn count_from(c: &[String]) -> String {
    let text = c.join(" ");
    let mut from = String::from("social_service_recipients r");
    if names(&text, "p") {
        from.push_str(PERSON_JOIN);
    }
    if names(&text, "i") {
        from.push_str(IPRA_JOIN);
    }
    from
}

/// The condition of the deceased (the state «умер»).
const DECEASED: &str = "p.death_date IS NOT NULL";

/// Whether a statement's text names a column of `alias` (`p.` and not `sp.`).
fn names(text: &str, alias: &str) -> bool {
    let pattern = format!("{alias}.");
    text.match_indices(&pattern)
        .any(|(at, _)| !text[..at].ends_with(|ch: char| ch.is_alphanumeric() || ch == '_'))
}

/// A page by name on SQLite that walks the names' index of the persons (`hint`: whether to name
/// it), each checked against the conditions of its recipient in a subquery, and joins the page's
/// recipients after. Joined in one statement, the planner, given statistics (an `ANALYZE`),
/// expects the walk to look up every person of the region among the recipients and first reads
/// every recipient into a Bloom filter, or reads them all and sorts them by name: 590 ms for an
/// organisation's first page at a million persons. The subquery's lookup by the person's key is
/// planned alone, and the page of fifty, with its `LIMIT` as a literal, is all the joins expect.
fn persons_first(c: &[String], limit: u32, hint: bool) -> String {
    // The deceased walk their own names' index (migration 0032): walking every person's, 2,500
    // persons were read for a page of fifty at 100,000 persons (21 ms warm), as many at a million.
    let index = if c.iter().any(|c| c == DECEASED) {
        "persons_deceased_name"
    } else {
        "persons_search_name_id"
    };
    let (own, theirs): (Vec<&String>, Vec<&String>) = c.iter().partition(|c| !names(c, "r") && !names(c, "i"));
    let mut inner: Vec<String> = own.into_iter().cloned().collect();
    inner.push(format!(
        "EXISTS (SELECT 1 FROM social_service_recipients r{} WHERE r.person_id = p.id{})",
        if theirs.iter().any(|c| names(c, "i")) {
            IPRA_JOIN
        } else {
            ""
        },
        theirs.iter().map(|c| format!(" AND {c}")).collect::<String>()
    ));
    format!(
        "SELECT {COLUMNS} FROM (SELECT p.id AS page_id FROM persons p{}{} ORDER BY p.search_name, p.id LIMIT {}) page \
         JOIN persons p ON p.id = page.page_id JOIN social_service_recipients r ON r.person_id = p.id{IPRA_JOIN} \
         ORDER BY p.search_name, p.id",
        if hint {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        },
        where_of(&inner),
        limit + 1
    )
}

/// The conditions of a statement that starts from the organisation's persons (`own`): the join in
/// place of the scope's condition, the first; and without the name's range on `persons` when those
/// persons are already its bearers (`named_at`), whose names their organisation's rows keep by
/// trigger (migration 0036). Given the range on `persons` as well, PostgreSQL, estimating a name's
/// beginning at one person, led from it and checked each of the 15,000 bearers of «Ива» against
/// the organisation: 99 ms for a count at a million persons.
fn join_own(c: &mut Vec<String>, named_at: Option<usize>) {
    c[0] = "r.person_id = own.person_id".into();
    if let Some(at) = named_at {
        c.remove(at);
    }
}

/// An organisation's scope: the persons of its social-protection measures, as a subquery (`ogrn`:
/// the placeholder of its OGRN). Triggers keep them by organisation as measures are written, moved and reassigned (migration
/// 0034, for the section [`super::social_services::SECTION`]): gathering them from the measures and each measure's IPRA took
/// 60-70 ms for a social-protection organisation at 100,000 persons, on every page and count.
fn own_persons(ogrn: &str) -> String {
    format!("SELECT sp.person_id FROM social_protection_persons sp WHERE sp.ogrn = {ogrn}")
}

/// A few: up to this many recipients (or persons) of an organisation, its page starts from its own
/// persons and sorts them (see [`Lead`]). And a count that looks at each recipient's person, IPRA or
/// organisation stops here ("more than"): counting the first ten thousand took 40-60 ms at a million
/// persons on PostgreSQL (a person and an IPRA looked up for each). The recipients alone (no
/// condition, the day added, sent) are counted up to [`COUNT_CAP`], through their own index.
const FEW: i64 = 1_000;

/// A name's beginning borne by this many persons is a broad one (see [`Lead::Walk`]). Reading them
/// from the name's index costs about a lookup each; walking the list's order about
/// `page × persons of the region / bearers` lookups, each dearer (the recipient's row and its
/// person): the two meet near seven thousand bearers at a million persons (at 100,000, near two).
const BROAD: i64 = 10_000;

/// Where a page of the list starts (for an export, decided on its first page and kept).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lead {
    /// The order's index, each recipient checked against the conditions until the page is full:
    /// quick while the recipients sought are not rare among all; or a quick search's own index.
    Order,
    /// The order's index although a name's beginning is sought, for a page by the day added: more
    /// than [`FEW`] recipients and [`BROAD`] persons have it. Reading them all from the name's index
    /// to sort them took 88 ms at a million persons on PostgreSQL («Ива»: 14,000 persons); one
    /// recipient in seventy has it, so the walk fills a page after some 3,600.
    /// And the names' index although a territory is sought, for a page by name, when more than
    /// [`FEW`] recipients live there: SQLite otherwise read the territory's 22,000 persons at a
    /// million and sorted their recipients (550 ms-1.7 s); one recipient in 45 lives there.
    Walk,
    /// The organisation's own persons (its range of `social_protection_persons`), their recipients sorted after.
    /// The order's walk would pass over nearly every recipient of the region to find a few: an
    /// executor whose organisation has no social-protection measure (a clinic) matched none of
    /// 40,000 recipients in 550 ms at 100,000 persons on PostgreSQL, whose estimate from the
    /// organisation's share of all measures expected hundreds.
    OwnPersons,
}

/// A filter and scope as conditions of a statement (values in `b`), an organisation's scope first.
struct Conditions {
    c: Vec<String>,
    /// Where a name's beginning is among `c`, with its bounds' placeholders (see [`Lead::Walk`]).
    name: Option<(usize, String, String, String)>,
    /// The placeholder of the organisation's OGRN, whose condition is the first of `c`.
    ogrn: Option<String>,
    /// The organisation has few persons (up to [`FEW`]; see [`Conditions::weigh`]), or few who bear
    /// the name sought (up to [`BROAD`]): its counts and pages start from them.
    own_few: bool,
    /// The organisation's persons are narrowed to those who bear the name sought (see [`Conditions::own`]).
    own_named: bool,
}

impl Conditions {
    fn of(filter: &RecipientFilter, scope: &Scope, b: &mut Binds) -> Conditions {
        let mut c = Vec::new();
        let mut name = None;
        let mut ogrn = None;
        if let Scope::Organisation(of) = scope {
            let placeholder = b.text(of.as_str());
            // Each recipient looked up in the organisation's range as the order's index is walked: a
            // list (`IN`) would be gathered whole first (SQLite reads all 10,681 persons of an
            // organisation at 100,000 and sorts their recipients for a page by name: 23 ms; the walk, 2 ms).
            c.push(format!(
                "EXISTS (SELECT 1 FROM social_protection_persons sp WHERE sp.ogrn = {placeholder} AND sp.person_id = r.person_id)"
            ));
            ogrn = Some(placeholder);
        }
        if let Some(v) = non_empty(&filter.q) {
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            if digits.len() == 11 && v.chars().all(|c| c.is_ascii_digit() || c == '-' || c == ' ') {
                c.push(format!("p.snils = {}", b.text(digits)));
            } else if !digits.is_empty() {
                // The beginning of an IPRA number of the person (any of them), whatever the case typed.
                let v = v.to_uppercase();
                c.push(format!(
                    "r.person_id IN (SELECT qi.person_id FROM ipras qi WHERE qi.number >= {} AND qi.number < {})",
                    b.text(v.clone()),
                    b.text(format!("{v}\u{10FFFF}"))
                ));
            } else {
                let v = v.split_whitespace().collect::<Vec<_>>().join(" ").to_uppercase();
                let (from, to) = name_bounds(b, &v);
                c.push(format!("p.search_name >= {from} AND p.search_name < {to}"));
                name = Some((c.len() - 1, from, to, v));
            }
        }
        if let Some(v) = non_empty(&filter.territory) {
            c.push(format!("p.territory_code = {}", b.text(v)));
        }
        if let Some(v) = non_empty(&filter.added_from) {
            c.push(format!("r.added_at >= {}", b.text(v)));
        }
        if let Some(next) = non_empty(&filter.added_to)
            .and_then(super::deadlines::parse_date)
            .and_then(|d| d.next_day())
        {
            c.push(format!("r.added_at < {}", b.text(super::deadlines::format_date(next))));
        }
        match non_empty(&filter.state) {
            Some("current") => c.push("i.status = 'active' AND p.death_date IS NULL".into()),
            Some("superseded") => c.push("i.status = 'superseded' AND p.death_date IS NULL".into()),
            Some("deceased") => c.push(DECEASED.into()),
            _ => {}
        }
        match non_empty(&filter.sent) {
            Some("yes") => c.push("r.sent_at IS NOT NULL".into()),
            Some("no") => c.push("r.sent_at IS NULL".into()),
            _ => {}
        }
        Conditions {
            c,
            name,
            ogrn,
            own_few: false,
            own_named: false,
        }
    }

    /// Whether an organisation has few persons, counted through its range alone: then its counts and
    /// pages start from them whatever the filter (a clinic without social-protection measures has
    /// none: a quick search through the name's index checked 14,000 persons «Ива…» against it, 20 ms
    /// at a million on SQLite, to find nothing).
    ///
    /// With a name's beginning sought, its bearers among the organisation's persons are one range of
    /// their names (migration 0036), counted first: up to [`BROAD`] of them, the counts and pages
    /// start from them. Reading every person of the region who bears the name to check each against
    /// the organisation took 24 ms for the count and 39 ms for the page at a million persons («Ива»:
    /// 14,000 persons, an organisation of 107,000; its bearers, about 1,500).
    async fn weigh(&mut self, db: &Db, scope: &Scope) -> Result<()> {
        if let (Scope::Organisation(ogrn), Some((.., name))) = (scope, &self.name) {
            let mut b = Binds::default();
            let of = b.text(ogrn.as_str());
            let (from, to) = name_bounds(&mut b, name);
            let sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM social_protection_persons sp \
                 WHERE sp.ogrn = {of} AND sp.search_name >= {from} AND sp.search_name < {to} LIMIT {}) t",
                BROAD + 1
            );
            if b.count(db, &sql).await? <= BROAD {
                self.own_named = true;
                self.own_few = true;
                return Ok(());
            }
        }
        if let Scope::Organisation(ogrn) = scope {
            let mut b = Binds::default();
            let sql = format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM social_protection_persons sp WHERE sp.ogrn = {} LIMIT {}) t",
                b.text(ogrn.as_str()),
                FEW + 1
            );
            self.own_few = b.count(db, &sql).await? <= FEW;
        }
        Ok(())
    }

    /// The organisation's persons as a subquery (see [`Lead::OwnPersons`]): those who bear the name
    /// sought, when they are the few to start from ([`Conditions::weigh`]).
    fn own(&self) -> Option<String> {
        let ogrn = self.ogrn.as_deref()?;
        Some(match (&self.name, self.own_named) {
            (Some((_, lo, hi, _)), true) => {
                format!(
                    "{} AND sp.search_name >= {lo} AND sp.search_name < {hi}",
                    own_persons(ogrn)
                )
            }
            _ => own_persons(ogrn),
        })
    }

    /// Where the name's range is among the conditions when the organisation's persons are already
    /// narrowed to its bearers ([`Conditions::own`]).
    fn named_at(&self) -> Option<usize> {
        self.name.as_ref().filter(|_| self.own_named).map(|(at, ..)| *at)
    }

    /// Whether a quick search (a name's, a SNILS's or a number's beginning) is among the conditions.
    fn quick(&self, filter: &RecipientFilter) -> bool {
        non_empty(&filter.q).is_some()
    }

    /// For the walk of [`Lead::Walk`]: the name's beginning and the organisation checked on each
    /// recipient by a lookup of its person that no planner turns into a join. PostgreSQL, given the
    /// joins, led from the name's index (reading all its persons to sort their recipients: 21 ms at
    /// 100,000 persons, 88 ms at a million), or, the index withheld, read every person of the region
    /// to hash them (43 ms at 100,000). Checked so, it walks the order's index and stops with the
    /// page: 3,367 recipients for «Ива», 10-20 ms at 100,000 persons. The lookup is by the person's
    /// key alone, the name compared in its result: with the name's bounds among its conditions,
    /// PostgreSQL may take the name's index for it, scanning the name's range once a recipient.
    fn checked_per_row(&mut self) {
        if let Some((at, lo, hi, _)) = &self.name {
            self.c[*at] = format!(
                "(SELECT pn.search_name >= {lo} AND pn.search_name < {hi} FROM persons pn WHERE pn.id = r.person_id)"
            );
        }
        if let Some(ogrn) = &self.ogrn {
            self.c[0] = format!(
                "(SELECT 1 FROM social_protection_persons sp WHERE sp.ogrn = {ogrn} AND sp.person_id = r.person_id) = 1"
            );
        }
    }

    /// The recipients of the conditions, up to the cap + 1 (see [`FEW`]), and the cap.
    ///
    /// An organisation's count starts from its own persons (its range of `social_protection_persons`,
    /// each one's recipient by the unique person index): a clinic without social-protection measures
    /// counts none at once, a large organisation stops at the cap. A quick search's count starts
    /// from the search's own index instead, each person checked against the organisation.
    async fn count(&self, db: &Db, filter: &RecipientFilter, b: &Binds) -> Result<(i64, i64)> {
        let from = count_from(&self.c);
        let cap = if self.ogrn.is_some() || from != count_from(&[]) {
            FEW
        } else {
            COUNT_CAP
        };
        let sql = match self.own().filter(|_| !self.quick(filter) || self.own_few) {
            Some(own) => {
                let mut c = self.c.clone();
                join_own(&mut c, self.named_at());
                format!(
                    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM ({own}) own CROSS JOIN {}{} LIMIT {}) t",
                    count_from(&c),
                    where_of(&c),
                    cap + 1
                )
            }
            None => format!(
                "SELECT COUNT(*) AS n FROM (SELECT 1 FROM {from}{} LIMIT {}) t",
                where_of(&self.c),
                cap + 1
            ),
        };
        Ok((b.count(db, &sql).await?, cap))
    }

    /// How the recipients are best read, from their count (`known`, or counted here).
    ///
    /// An organisation of few persons starts from them whatever the filter ([`Conditions::weigh`]).
    /// A quick search leads from its own index, each person found checked against the organisation's
    /// scope, as the count does: starting from all the organisation's persons instead reads thousands
    /// of them to keep a few, and PostgreSQL, estimating a name's beginning at one person, joined the
    /// two lists row by row (10,426 persons of a social-protection organisation by 1,438 named «ИВА…»:
    /// 2 s at 100,000). Unless the name is a broad one and the page is by the day added ([`Lead::Walk`]).
    async fn lead(&self, db: &Db, filter: &RecipientFilter, b: &Binds, known: Option<i64>) -> Result<Lead> {
        let count = |known: Option<i64>| async move {
            match known {
                Some(n) => Ok::<_, anyhow::Error>(n),
                None => Ok(self.count(db, filter, b).await?.0),
            }
        };
        if self.own_few {
            return Ok(Lead::OwnPersons);
        }
        if let Some((.., name)) = self.name.as_ref().filter(|_| !filter.by_name()) {
            let broad =
                count(known).await? > FEW && super::query::name_bearers(db, "persons", name, BROAD).await? >= BROAD;
            return Ok(if broad { Lead::Walk } else { Lead::Order });
        }
        if filter.by_name() && non_empty(&filter.territory).is_some() && !self.quick(filter) {
            return Ok(if count(known).await? > FEW {
                Lead::Walk
            } else {
                Lead::Order
            });
        }
        if self.ogrn.is_none() || self.quick(filter) {
            return Ok(Lead::Order);
        }
        Ok(if count(known).await? <= FEW {
            Lead::OwnPersons
        } else {
            Lead::Order
        })
    }
}

fn where_of(c: &[String]) -> String {
    if c.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", c.join(" AND "))
    }
}

fn recipient_from_row(row: &sqlx::any::AnyRow) -> Result<Recipient> {
    let death_date = opt_text(row, "death_date");
    let state = if death_date.is_some() {
        "deceased"
    } else {
        match opt_text(row, "ipra_status").as_deref() {
            Some("active") => "current",
            Some("superseded") => "superseded",
            _ => "closed",
        }
    };
    Ok(Recipient {
        id: row.try_get("id")?,
        person_id: row.try_get("person_id")?,
        snils: row.try_get("snils")?,
        surname: row.try_get("surname")?,
        given_name: row.try_get("given_name")?,
        patronymic: opt_text(row, "patronymic"),
        birth_date: opt_text(row, "birth_date"),
        territory_code: opt_text(row, "territory_code"),
        death_date,
        ipra_id: row.try_get::<Option<i64>, _>("ipra_id")?,
        ipra_number: opt_text(row, "ipra_number"),
        state: state.to_string(),
        added_at: row.try_get("added_at")?,
        source: row.try_get("source")?,
        sent_at: opt_text(row, "sent_at"),
        sent_document: opt_text(row, "sent_document"),
    })
}

/// One page of the register of recipients in the filter's order, after the filter's position.
pub async fn list(db: &Db, filter: &RecipientFilter, scope: &Scope) -> Result<RecipientPage> {
    if *scope == Scope::Nothing {
        return Ok(RecipientPage {
            items: Vec::new(),
            total: 0,
            total_exact: true,
            next: None,
        });
    }
    let limit = filter.per_page();
    let mut b = Binds::default();
    let mut conditions = Conditions::of(filter, scope, &mut b);
    conditions.weigh(db, scope).await?;
    let (total, cap) = conditions.count(db, filter, &b).await?;
    let (items, next) = if total == 0 {
        // Nothing to read: an organisation without social-protection measures.
        (Vec::new(), None)
    } else {
        let lead = conditions.lead(db, filter, &b, Some(total)).await?;
        page_after(db, filter, lead, &mut b, &mut conditions, limit).await?
    };
    Ok(RecipientPage {
        items,
        total: total.min(cap),
        total_exact: total <= cap,
        next,
    })
}

/// `limit` recipients after the filter's position (`after`), and the position of the next ones,
/// read as `lead` says.
async fn page_after(
    db: &Db,
    filter: &RecipientFilter,
    lead: Lead,
    b: &mut Binds,
    conditions: &mut Conditions,
    limit: u32,
) -> Result<(Vec<Recipient>, Option<String>)> {
    let by_name = filter.by_name();
    let walk = lead == Lead::Walk && !by_name;
    if walk {
        conditions.checked_per_row();
    }
    let quick = conditions.quick(filter);
    let own = conditions.own();
    let named_at = conditions.named_at();
    let c = &mut conditions.c;
    if let Some(pos) = non_empty(&filter.after).and_then(Position::parse) {
        let (value, id) = (b.text(pos.value), b.int(pos.id));
        c.push(if by_name {
            format!("(p.search_name, p.id) > ({value}, {id})")
        } else {
            format!("(r.added_at, r.id) < ({value}, {id})")
        });
    }
    let order = if by_name {
        "p.search_name, p.id"
    } else {
        "r.added_at DESC, r.id DESC"
    };
    if by_name && !quick && db.engine == Engine::Sqlite && lead != Lead::OwnPersons {
        // A territory of few recipients is read from its own index and sorted (see [`Lead::Walk`]).
        let hint = lead == Lead::Walk || non_empty(&filter.territory).is_none();
        let sql = persons_first(c, limit, hint);
        return read_page(db, &sql, b, limit, by_name).await;
    }
    // A quick search leads from its own index (a SNILS, a name's or a number's beginning: few rows,
    // sorted after), unless it is a broad name's; otherwise the order's index is walked, each
    // condition checked, until the page is full.
    let from = match (lead, own) {
        // The persons first (SQLite keeps the left of a CROSS JOIN outside), each one's recipient by
        // its unique person index. The join takes the place of the scope's condition, the first.
        (Lead::OwnPersons, Some(own)) => {
            join_own(c, named_at);
            format!("({own}) own CROSS JOIN {}", from(""))
        }
        _ => from(match (db.engine, by_name, non_empty(&filter.q)) {
            (Engine::Sqlite, false, None) => " INDEXED BY recipients_added",
            (Engine::Sqlite, false, Some(_)) if walk => " INDEXED BY recipients_added",
            _ => "",
        }),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM {from}{} ORDER BY {order} LIMIT {}",
        where_of(c),
        limit + 1
    );
    read_page(db, &sql, b, limit, by_name).await
}

/// The recipients of a page's statement (up to `limit`, one more read to know there are more) and
/// the position of the next page.
async fn read_page(
    db: &Db,
    sql: &str,
    b: &Binds,
    limit: u32,
    by_name: bool,
) -> Result<(Vec<Recipient>, Option<String>)> {
    crate::plans::record(sql, b.0.clone());
    let rows = b.bind(sqlx::query(sql)).fetch_all(&db.pool).await?;
    let more = rows.len() > limit as usize;
    let mut items = Vec::with_capacity(rows.len().min(limit as usize));
    let mut next = None;
    for row in rows.iter().take(limit as usize) {
        items.push(recipient_from_row(row)?);
        if more {
            next = Some(if by_name {
                Position {
                    id: row.try_get("person_id")?,
                    value: opt_text(row, "search_name").unwrap_or_default(),
                }
            } else {
                Position {
                    id: row.try_get("id")?,
                    value: row.try_get("added_at")?,
                }
            });
        }
    }
    Ok((items, next.map(|p| p.text())))
}

/// The next `limit` recipients of the filter after `after` (the export's pages), without a total;
/// `lead`: how the pages are read, decided by the first (None) and kept for the next.
pub async fn chunk(
    db: &Db,
    filter: &RecipientFilter,
    scope: &Scope,
    after: Option<&str>,
    limit: u32,
    lead: &mut Option<Lead>,
) -> Result<(Vec<Recipient>, Option<String>)> {
    if *scope == Scope::Nothing {
        return Ok((Vec::new(), None));
    }
    let mut filter = filter.clone();
    filter.after = after.map(str::to_string);
    let mut b = Binds::default();
    let mut conditions = Conditions::of(&filter, scope, &mut b);
    let lead = match *lead {
        Some(known) => known,
        None => {
            conditions.weigh(db, scope).await?;
            *lead.insert(conditions.lead(db, &filter, &b, None).await?)
        }
    };
    page_after(db, &filter, lead, &mut b, &mut conditions, limit).await
}

/// One recipient (by the register's recipient id), if the scope reaches it.
pub async fn get(db: &Db, id: i64, scope: &Scope) -> Result<Option<Recipient>> {
    if *scope == Scope::Nothing {
        return Ok(None);
    }
    let mut b = Binds::default();
    let mut c = Conditions::of(&RecipientFilter::default(), scope, &mut b).c;
    c.push(format!("r.id = {}", b.int(id)));
    let sql = format!("SELECT {COLUMNS} FROM {}{}", from(""), where_of(&c));
    crate::plans::record(&sql, b.0.clone());
    match b.bind(sqlx::query(&sql)).fetch_optional(&db.pool).await? {
        Some(row) => Ok(Some(recipient_from_row(&row)?)),
        None => Ok(None),
    }
}

/// Logs a read of recipients' personal data: `rows` persons shown to `actor` (the filter and the persons
/// in the detail).
pub async fn log_read(db: &Db, actor: &str, action: &str, filter: &RecipientFilter, persons: &[i64]) -> Result<()> {
    let query: serde_json::Map<String, serde_json::Value> = filter
        .pairs()
        .into_iter()
        .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
        .collect();
    let detail = serde_json::json!({
        "rows": persons.len(),
        "filter": query,
        "persons": persons,
    })
    .to_string();
    crate::audit::record(db, actor, action, "social-service-recipients", Some(&detail)).await
}

// --- The export to the social-services system ---------------------------------------------------------

/// How long a gap in PostgreSQL's numbering of the journal is waited for (a transaction that took a number
/// and has not committed yet); after that it is taken for a rolled-back one.
const GAP_PATIENCE_SECONDS: i64 = 600;

/// Where a connector's export stands in the journal; a connector that never exported starts at its
/// beginning (every recipient is sent once, as the register holds it).
pub async fn cursor(db: &Db, connector: &str) -> Result<i64> {
    Ok(
        sqlx::query("SELECT seq FROM recipient_export_cursors WHERE connector = $1")
            .bind(connector)
            .fetch_optional(&db.pool)
            .await?
            .map(|r| r.try_get::<i64, _>("seq"))
            .transpose()?
            .unwrap_or(0),
    )
}

/// The persons (recipients) changed past `from`, at most `batch` of them, and where the cursor goes once
/// they are sent.
pub async fn changed(db: &Db, from: i64, batch: i64) -> Result<(Vec<i64>, i64)> {
    let mut persons: Vec<i64> = Vec::new();
    let mut next = from;
    let mut after = from;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    'walk: while (persons.len() as i64) < batch {
        let rows = sqlx::query(&format!(
            "SELECT seq, person_id, at FROM recipient_changes WHERE seq > $1 ORDER BY seq LIMIT {batch}"
        ))
        .bind(after)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let seq: i64 = row.try_get("seq")?;
            let at: i64 = row.try_get("at")?;
            // SQLite writes one transaction at a time: a number it skipped was rolled back.
            if db.engine == Engine::Postgres && seq != next + 1 && now - at < GAP_PATIENCE_SECONDS {
                break 'walk;
            }
            after = seq;
            let person: i64 = row.try_get("person_id")?;
            if !persons.contains(&person) {
                if persons.len() as i64 == batch {
                    break 'walk;
                }
                persons.push(person);
            }
            next = seq;
        }
    }
    Ok((persons, next))
}

/// The persons as the connector's `recipients` step takes them: the register's names and the current IPRA
/// (the person's IPRA in force, else the one registered), with `ipra-number`, `ipra-document-id`, `added-at`
/// and, when the IPPSU draft of that IPRA is known, `ippsu-status`. Persons no longer recipients are left out.
pub async fn export_persons(db: &Db, persons: &[i64]) -> Result<Vec<(i64, model::Person)>> {
    let mut out = Vec::with_capacity(persons.len());
    for chunk in persons.chunks(500) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows = sqlx::query(&format!(
            "SELECT r.person_id, r.ipra_id, r.added_at, p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, \
             p.gender, p.territory_code, p.address FROM social_service_recipients r JOIN persons p ON p.id = r.person_id \
             WHERE r.person_id IN ({list}) ORDER BY r.person_id"
        ))
        .fetch_all(&db.pool)
        .await?;
        // Each person's IPRAs, the one in force (the newest received) first.
        let mut current: std::collections::HashMap<i64, (i64, String, String)> = Default::default();
        let mut in_force: std::collections::HashSet<i64> = Default::default();
        for row in sqlx::query(&format!(
            "SELECT id, person_id, number, document_id, status, received_at FROM ipras WHERE person_id IN ({list}) \
             ORDER BY person_id, received_at, id"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            let person: i64 = row.try_get("person_id")?;
            let active = row.try_get::<String, _>("status")? == "active";
            // The newest IPRA in force wins; another only while the person has none in force.
            if active || !in_force.contains(&person) {
                current.insert(
                    person,
                    (
                        row.try_get::<i64, _>("id")?,
                        row.try_get::<String, _>("number")?,
                        row.try_get::<String, _>("document_id")?,
                    ),
                );
            }
            if active {
                in_force.insert(person);
            }
        }
        let mut drafts: std::collections::HashMap<i64, String> = Default::default();
        let ipra_ids: Vec<String> = current.values().map(|c| c.0.to_string()).collect();
        if !ipra_ids.is_empty() {
            for row in sqlx::query(&format!(
                "SELECT ipra_id, status FROM follow_ups WHERE ipra_id IN ({}) AND kind = 'ippsu-draft' ORDER BY id",
                ipra_ids.join(",")
            ))
            .fetch_all(&db.pool)
            .await?
            {
                drafts.insert(row.try_get("ipra_id")?, row.try_get("status")?);
            }
        }
        for row in &rows {
            let person: i64 = row.try_get("person_id")?;
            let Some((ipra_id, number, document_id)) = current.get(&person).cloned() else {
                continue;
            };
            let attr = |code: &str, value: String| model::Attribute {
                code: code.into(),
                value,
            };
            let added: String = row.try_get("added_at")?;
            let mut extra = vec![
                attr("ipra-number", number),
                attr("ipra-document-id", document_id),
                attr("added-at", added.chars().take(10).collect()),
            ];
            if let Some(status) = drafts.get(&ipra_id) {
                extra.push(attr("ippsu-status", status.clone()));
            }
            out.push((
                person,
                model::Person {
                    snils: row.try_get("snils")?,
                    surname: row.try_get("surname")?,
                    given_name: row.try_get("given_name")?,
                    patronymic: opt_text(row, "patronymic"),
                    birth_date: opt_text(row, "birth_date"),
                    gender: opt_text(row, "gender"),
                    territory_code: opt_text(row, "territory_code"),
                    address: opt_text(row, "address"),
                    extra,
                },
            ));
        }
    }
    Ok(out)
}

/// A package written: its documents are queued in the connector's outbox, the cursor moves to `next`, its
/// persons are marked sent and each person's read is logged by `actor` — in one transaction, so that a
/// package is either queued with all that or not at all (a run after a crash writes it again, whole).
pub async fn record_package(
    db: &Db,
    connector: &str,
    next: i64,
    documents: &[model::Document],
    persons: &[i64],
    actor: &str,
) -> Result<()> {
    use crate::register::store::{chunks, multi_row_insert};
    let at = now();
    let mut tx = db.pool.begin().await?;
    let mut names = Vec::with_capacity(documents.len());
    for doc in documents {
        crate::exchange::queue_outgoing_in(&mut tx, connector, "recipients", &doc.name, &doc.bytes).await?;
        names.push(doc.name.clone());
    }
    let document = names.join(", ");
    sqlx::query(
        "INSERT INTO recipient_export_cursors (connector, seq, exported, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (connector) DO UPDATE SET seq = excluded.seq, \
         exported = recipient_export_cursors.exported + excluded.exported, updated_at = excluded.updated_at",
    )
    .bind(connector)
    .bind(next)
    .bind(persons.len() as i64)
    .bind(&at)
    .execute(&mut *tx)
    .await?;
    for chunk in persons.chunks(500) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        sqlx::query(&format!(
            "UPDATE social_service_recipients SET sent_at = $1, sent_document = $2 WHERE person_id IN ({list})"
        ))
        .bind(&at)
        .bind(&document)
        .execute(&mut *tx)
        .await?;
    }
    for range in chunks(persons.len(), 256) {
        let rows = &persons[range];
        let sql = multi_row_insert(
            &tx,
            "INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ",
            rows.len(),
            5,
        );
        let mut query = sqlx::query(&sql);
        for id in rows {
            query = query
                .bind(at.clone())
                .bind(actor.to_string())
                .bind("recipient.export")
                .bind(format!("person:{id}"))
                .bind(document.clone());
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The territories of the recipients' persons, for the filter's choice.
pub async fn territories(db: &Db) -> Result<Vec<String>> {
    super::query::person_territories(db).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_joins_only_the_tables_its_conditions_name() {
        let from = |c: &[&str]| count_from(&c.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(from(&[]), "social_service_recipients r");
        assert_eq!(
            from(&["r.added_at >= $1", "r.sent_at IS NULL"]),
            "social_service_recipients r"
        );
        assert_eq!(
            from(&["p.territory_code = $1"]),
            "social_service_recipients r JOIN persons p ON p.id = r.person_id"
        );
        assert_eq!(
            from(&["i.status = 'active' AND p.death_date IS NULL"]),
            "social_service_recipients r JOIN persons p ON p.id = r.person_id LEFT JOIN ipras i ON i.id = r.ipra_id"
        );
        // Another alias ending in the letter is not the table.
        assert_eq!(
            from(&["r.person_id IN (SELECT qi.person_id FROM ipras qi WHERE qi.number >= $1)"]),
            "social_service_recipients r"
        );
    }

    #[test]
    fn a_bad_filter_is_named_in_russian() {
        let bad = |f: RecipientFilter| f.check().unwrap_err();
        assert!(bad(RecipientFilter {
            added_from: Some("2025-02-30".into()),
            ..Default::default()
        })
        .contains("added_from"));
        assert!(bad(RecipientFilter {
            state: Some("alive".into()),
            ..Default::default()
        })
        .contains("state"));
        assert!(bad(RecipientFilter {
            after: Some("x".into()),
            ..Default::default()
        })
        .contains("after"));
        assert!(RecipientFilter {
            added_to: Some("2026-11-20".into()),
            sent: Some("no".into()),
            after: Some("12:2026-11-20T10:00:00+03:00".into()),
            ..Default::default()
        }
        .check()
        .is_ok());
    }

    #[test]
    fn positions_keep_values_with_colons() {
        let p = Position::parse("42:2026-11-20T10:00:00+03:00").unwrap();
        assert_eq!(p.id, 42);
        assert_eq!(p.value, "2026-11-20T10:00:00+03:00");
        assert_eq!(Position::parse(&p.text()), Some(p));
    }

    #[test]
    fn scopes_fail_closed() {
        let user = |role: Role, ogrn: Option<&str>| Principal {
            user_id: 1,
            login: "u".into(),
            full_name: "u".into(),
            role,
            ogrn: ogrn.map(str::to_string),
            organisations: Vec::new(),
            issuer: Some("Бюро".into()),
            csrf: None,
        };
        assert_eq!(Scope::of(&user(Role::Coordinator, None)), Scope::Region);
        assert_eq!(
            Scope::of(&user(Role::Executor, Some("1027700132195"))),
            Scope::Organisation("1027700132195".into())
        );
        assert_eq!(Scope::of(&user(Role::Executor, None)), Scope::Nothing);
        assert_eq!(Scope::of(&user(Role::Bureau, None)), Scope::Nothing);
    }
}
