//! The statistics index: what statistics, charts and the dashboard count — every IPRA's received
//! day, territory, kind and status, every measure's section, status, executor, due date and reasons
//! of non-execution — held in memory in eight bytes a measure, and kept in step with the register.
//!
//! Why in memory: the statistics count distinct persons under any period, territory, section and
//! organisation, and the dashboard counts overdue measures as of today; neither adds up from
//! pre-counted cells, and a direct count over eleven million measures takes the database tens of
//! seconds. Here one pass over the compact arrays answers any filter exactly in milliseconds.
//!
//! How it stays exact: the database is the only truth. Triggers (migration 0011) journal in
//! `register_changes` every IPRA whose figures may have changed, in the transaction that changed
//! it; [`FactsIndex::refresh`] reads the journal past its cursor and reloads those IPRAs, so writes
//! of other processes (the CLI, other instances on PostgreSQL) are seen as soon as they commit.
//! Tests compare every figure with the direct counts of `stats.rs` and `workload.rs`.

use super::stats::{Counts, ReasonRow, Statistics, StatsFilter};
use super::workload::{Breakdown, ChartData, Grouping, SectionStatus, WorkloadRow};
use crate::db::{opt_text, Db, Engine};
use anyhow::Result;
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Days since 2000-01-01, counting from 1 (0: no date). Dates before 2000 count as day 1.
pub type Day = u16;

const EPOCH_JULIAN: i32 = 2_451_545; // 2000-01-01

/// The day of an ISO date (`YYYY-MM-DD…`), or 0 when there is none or it cannot be read.
pub fn day_of(text: Option<&str>) -> Day {
    let Some(date) = text.and_then(super::deadlines::parse_date) else {
        return 0;
    };
    (date.to_julian_day() - EPOCH_JULIAN + 1).clamp(1, i32::from(u16::MAX)) as Day
}

/// The ISO date of a day.
pub fn date_of(day: Day) -> String {
    match time::Date::from_julian_day(i32::from(day) - 1 + EPOCH_JULIAN) {
        Ok(d) => super::deadlines::format_date(d),
        Err(_) => String::new(),
    }
}

/// Codes of one kind (territories, organisations, sections, reasons) as small numbers; 0 is "none".
#[derive(Default)]
struct Dict {
    ids: HashMap<String, u16>,
    codes: Vec<String>,
}

impl Dict {
    fn id(&mut self, code: Option<&str>) -> u16 {
        match code.filter(|c| !c.is_empty()) {
            Some(code) => self.id_of(code),
            None => 0,
        }
    }

    /// The id of a code, the empty one included (a measure without a section has section "").
    fn id_of(&mut self, code: &str) -> u16 {
        if let Some(id) = self.ids.get(code) {
            return *id;
        }
        if self.codes.is_empty() {
            self.codes.push(String::new());
        }
        let id = u16::try_from(self.codes.len()).unwrap_or(u16::MAX);
        self.codes.push(code.to_string());
        self.ids.insert(code.to_string(), id);
        id
    }

    fn get(&self, code: &str) -> Option<u16> {
        self.ids.get(code).copied()
    }

    fn code(&self, id: u16) -> Option<&str> {
        (id != 0)
            .then(|| self.codes.get(usize::from(id)).map(String::as_str))
            .flatten()
    }

    fn len(&self) -> usize {
        self.codes.len().max(1)
    }
}

const OPEN: u8 = 0;
const EXECUTED: u8 = 1;
const NOT_EXECUTED: u8 = 2;
const CLOSED: u8 = 3;
const OTHER: u8 = 4;

fn measure_status(text: &str) -> u8 {
    match text {
        "open" => OPEN,
        "executed" => EXECUTED,
        "not-executed" => NOT_EXECUTED,
        "closed" => CLOSED,
        _ => OTHER,
    }
}

/// One measure: eight bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct MeasureFact {
    org: u16,
    due: Day,
    /// The set of non-execution reasons of its not-executed records (an id of `Index::reason_sets`).
    reasons: u16,
    section: u8,
    status: u8,
}

const CHILD: u8 = 1;
const ACTIVE: u8 = 2;
const SUPERSEDED: u8 = 4;
/// The person has other IPRAs in the register: counted distinct through a set.
const MULTI: u8 = 8;
const LIVE: u8 = 16;
/// The IPRA says the child needs early help.
const EARLY: u8 = 32;
/// Target group codes the index tells apart (bits 1..=63 of [`IpraFact::groups`]).
const GROUP_BITS: u16 = 63;

#[derive(Clone, Copy, Debug, Default)]
struct IpraFact {
    id: u32,
    person: u32,
    first: u32,
    day: Day,
    /// Months since January 2000 of the received day, for the monthly chart.
    month: u16,
    territory: u16,
    len: u16,
    /// The first letter of the person's name as the register searches it (see [`initial_of`]).
    initial: u16,
    /// The decision's day (0: none), the register's default order.
    decided: Day,
    flags: u8,
    /// Its target rehabilitation groups: bit `n` for the code of id `n` of `Index::groups`.
    groups: u64,
    /// With [`MULTI`]: its person's number among the persons with several IPRAs (see
    /// [`MultiPerson`]), where a statistics pass gathers what it counts of them.
    mult: u32,
}

// The ordinal sits in what was padding: an IPRA stays forty bytes.
const _: () = assert!(std::mem::size_of::<IpraFact>() == 40);

/// A person with several IPRAs in the index: their slots and a number of their own, from 0, dense
/// (a number set free is given again), so that a pass keeps what it counts of them in an array.
struct MultiPerson {
    ordinal: u32,
    slots: Vec<u32>,
}

/// The day of a decision date when it stands for the date exactly as the register orders it (an
/// ISO date from 2000 on); `Err` otherwise (the index then leaves that order to the database).
pub(crate) fn decided_of(text: Option<&str>) -> Result<Day, ()> {
    match text {
        None | Some("") => Ok(0),
        Some(t) => {
            let day = day_of(Some(t));
            if day > 1 && day < Day::MAX && date_of(day) == t {
                Ok(day)
            } else {
                Err(())
            }
        }
    }
}

/// The first letter of a search name, as a code (0: none; letters beyond the first plane share
/// one code, which only makes their facet wider).
pub fn initial_of(name: Option<&str>) -> u16 {
    name.and_then(|n| n.chars().next())
        .map(|c| u16::try_from(u32::from(c)).unwrap_or(u16::MAX))
        .unwrap_or(0)
}

/// Months since January 2000 of a day.
fn month_of(day: Day) -> u16 {
    if day == 0 {
        return 0;
    }
    match time::Date::from_julian_day(i32::from(day) - 1 + EPOCH_JULIAN) {
        Ok(d) => ((d.year() - 2000).max(0) * 12 + i32::from(u8::from(d.month())) - 1) as u16,
        Err(_) => 0,
    }
}

/// What the dashboard counts of one group (an organisation, a section, a territory, or all) — kept
/// up to date as IPRAs change, so that the dashboard reads it without a pass over the measures.
#[derive(Clone, Debug, Default)]
struct Load {
    /// Measures not closed of IPRAs not superseded.
    assigned: i64,
    /// Open measures of IPRAs in force.
    in_work: i64,
    executed: i64,
    not_executed: i64,
    /// In work without a due date.
    in_work_undated: i64,
    /// In work by due date: overdue ones are those before today.
    in_work_by_due: BTreeMap<Day, i64>,
    /// [`Load::overdue`] as of the day it was last asked for, until the load changes.
    overdue_memo: OverdueMemo,
}

/// The overdue count and oldest due date of a load as of one day, kept until the load changes: the
/// dashboard asks it of every organisation, section and territory on every request, and at a
/// million persons each is a walk over up to thousands of due dates (1,900 organisations: ≈ 30 ms a
/// dashboard). Packed in one word, so that a reader under the index's read lock may keep it: the
/// day asked for (never 0: a real day), the oldest due date (0: none) and the count. 0: nothing kept.
#[derive(Debug, Default)]
struct OverdueMemo(AtomicU64);

impl Clone for OverdueMemo {
    fn clone(&self) -> Self {
        OverdueMemo(AtomicU64::new(self.0.load(Relaxed)))
    }
}

impl OverdueMemo {
    fn get(&self, today: Day) -> Option<(i64, Option<Day>)> {
        let word = self.0.load(Relaxed);
        if word == 0 || word as Day != today {
            return None;
        }
        let oldest = (word >> 16) as Day;
        Some(((word >> 32) as i64, (oldest != 0).then_some(oldest)))
    }

    fn keep(&self, today: Day, (count, oldest): (i64, Option<Day>)) {
        if let (true, Ok(count)) = (today != 0, u32::try_from(count)) {
            let word = u64::from(today) | u64::from(oldest.unwrap_or(0)) << 16 | u64::from(count) << 32;
            self.0.store(word, Relaxed);
        }
    }

    fn forget(&mut self) {
        *self.0.get_mut() = 0;
    }
}

impl Load {
    fn add(&mut self, m: &MeasureFact, active: bool, sign: i64) {
        self.overdue_memo.forget();
        self.assigned += sign;
        match m.status {
            OPEN if active => {
                self.in_work += sign;
                if m.due == 0 {
                    self.in_work_undated += sign;
                } else {
                    let n = self.in_work_by_due.entry(m.due).or_insert(0);
                    *n += sign;
                    if *n == 0 {
                        self.in_work_by_due.remove(&m.due);
                    }
                }
            }
            EXECUTED => self.executed += sign,
            NOT_EXECUTED => self.not_executed += sign,
            _ => {}
        }
    }

    fn overdue(&self, today: Day) -> (i64, Option<Day>) {
        if let Some(kept) = self.overdue_memo.get(today) {
            return kept;
        }
        let mut n = 0;
        for (_, count) in self.in_work_by_due.range(..today) {
            n += count;
        }
        let figures = (n, self.in_work_by_due.range(..today).next().map(|(d, _)| *d));
        self.overdue_memo.keep(today, figures);
        figures
    }
}

/// The dashboard's groups.
#[derive(Default)]
struct Loads {
    all: Load,
    unassigned: Load,
    by_org: Vec<Load>,
    by_section: Vec<Load>,
    by_territory: Vec<Load>,
}

fn load_at(loads: &mut Vec<Load>, id: u16) -> &mut Load {
    let i = usize::from(id);
    if loads.len() <= i {
        loads.resize(i + 1, Load::default());
    }
    &mut loads[i]
}

/// An IPRA as read from the database, before it is put into the index.
struct LoadedIpra {
    id: i64,
    person: u32,
    day: Day,
    territory: Option<String>,
    initial: u16,
    decided: Result<Day, ()>,
    flags: u8,
    /// `ipras.target_groups`: `;CODE;CODE;`.
    groups: String,
    measures: Vec<(i64, LoadedMeasure)>,
}

struct LoadedMeasure {
    section: String,
    status: u8,
    org: Option<String>,
    due: Day,
    reasons: Vec<String>,
}

#[derive(Default)]
struct Index {
    /// Whether the first load has finished (an empty index answers nothing until then).
    loaded: bool,
    territories: Dict,
    orgs: Dict,
    sections: Dict,
    reasons: Dict,
    /// Codes of target rehabilitation groups.
    groups: Dict,
    reason_sets: Vec<u128>,
    reason_set_ids: HashMap<u128, u16>,
    ipras: Vec<IpraFact>,
    /// IPRA id → slot + 1 (0: not in the index).
    slots: Vec<u32>,
    measures: Vec<MeasureFact>,
    /// Measures left behind when an IPRA's measures grew (compacted when they pile up).
    wasted: usize,
    /// Person id → the live slots of persons with more than one IPRA; `single` holds the others.
    multi: HashMap<u32, MultiPerson>,
    single: HashMap<u32, u32>,
    /// The numbers given to persons of `multi` so far, and those set free since.
    ordinals: u32,
    free_ordinals: Vec<u32>,
    loads: Loads,
    /// A decision date the index cannot order as the register does was met (see [`decided_of`]).
    decisions_unordered: bool,
}

impl Index {
    fn slot(&self, id: i64) -> Option<usize> {
        let i = usize::try_from(id).ok()?;
        match self.slots.get(i).copied().unwrap_or(0) {
            0 => None,
            s => Some(s as usize - 1),
        }
    }

    /// The bits of a `;CODE;CODE;` column (codes past the 63rd the index meets are not told apart).
    fn group_bits(&mut self, column: Option<&str>) -> u64 {
        let mut bits = 0u64;
        for code in column.unwrap_or_default().split(';').filter(|c| !c.is_empty()) {
            let id = self.groups.id_of(code);
            if (1..=GROUP_BITS).contains(&id) {
                bits |= 1u64 << id;
            }
        }
        bits
    }

    fn reason_set(&mut self, codes: &[String]) -> u16 {
        let mut mask = 0u128;
        for code in codes {
            let bit = self.reasons.id(Some(code));
            if (1..=127).contains(&bit) {
                mask |= 1 << bit;
            }
        }
        if mask == 0 {
            return 0;
        }
        if let Some(id) = self.reason_set_ids.get(&mask) {
            return *id;
        }
        if self.reason_sets.is_empty() {
            self.reason_sets.push(0);
        }
        let id = u16::try_from(self.reason_sets.len()).unwrap_or(u16::MAX);
        self.reason_sets.push(mask);
        self.reason_set_ids.insert(mask, id);
        id
    }

    /// Adds (`sign` 1) or takes away (-1) what one IPRA's measures give the dashboard's groups.
    fn count_load(&mut self, slot: usize, sign: i64) {
        let ipra = self.ipras[slot];
        if ipra.flags & LIVE == 0 || ipra.flags & SUPERSEDED != 0 {
            return;
        }
        let active = ipra.flags & ACTIVE != 0;
        let start = ipra.first as usize;
        for i in start..start + usize::from(ipra.len) {
            let m = self.measures[i];
            if m.status == CLOSED {
                continue;
            }
            let loads = &mut self.loads;
            loads.all.add(&m, active, sign);
            if m.org == 0 {
                loads.unassigned.add(&m, active, sign);
            }
            load_at(&mut loads.by_org, m.org).add(&m, active, sign);
            load_at(&mut loads.by_section, u16::from(m.section)).add(&m, active, sign);
            load_at(&mut loads.by_territory, ipra.territory).add(&m, active, sign);
        }
    }

    fn forget_person(&mut self, person: u32, slot: u32) {
        if self.single.get(&person) == Some(&slot) {
            self.single.remove(&person);
            return;
        }
        if let Some(multi) = self.multi.get_mut(&person) {
            multi.slots.retain(|s| *s != slot);
            if multi.slots.len() == 1 {
                let (last, ordinal) = (multi.slots[0], multi.ordinal);
                self.multi.remove(&person);
                self.free_ordinals.push(ordinal);
                self.single.insert(person, last);
                self.ipras[last as usize].flags &= !MULTI;
            }
        }
    }

    fn add_person(&mut self, person: u32, slot: u32) {
        if let Some(multi) = self.multi.get_mut(&person) {
            multi.slots.push(slot);
            let ipra = &mut self.ipras[slot as usize];
            ipra.flags |= MULTI;
            ipra.mult = multi.ordinal;
            return;
        }
        match self.single.remove(&person) {
            Some(other) if other != slot => {
                let ordinal = match self.free_ordinals.pop() {
                    Some(ordinal) => ordinal,
                    None => {
                        self.ordinals += 1;
                        self.ordinals - 1
                    }
                };
                for s in [other, slot] {
                    let ipra = &mut self.ipras[s as usize];
                    ipra.flags |= MULTI;
                    ipra.mult = ordinal;
                }
                self.multi.insert(
                    person,
                    MultiPerson {
                        ordinal,
                        slots: vec![other, slot],
                    },
                );
            }
            _ => {
                self.ipras[slot as usize].flags &= !MULTI;
                self.single.insert(person, slot);
            }
        }
    }

    /// Puts one IPRA (as read now) in place of what the index held for it; `None`: it is gone.
    fn apply(&mut self, id: i64, loaded: Option<LoadedIpra>) {
        let existing = self.slot(id);
        if let Some(slot) = existing {
            self.count_load(slot, -1);
            let old = self.ipras[slot];
            if old.flags & LIVE != 0 {
                self.forget_person(old.person, slot as u32);
            }
        }
        let Some(loaded) = loaded else {
            if let Some(slot) = existing {
                let old = &mut self.ipras[slot];
                self.wasted += usize::from(old.len);
                *old = IpraFact::default();
            }
            return;
        };
        let facts: Vec<MeasureFact> = loaded
            .measures
            .iter()
            .map(|(_, m)| MeasureFact {
                org: self.orgs.id(m.org.as_deref()),
                due: m.due,
                reasons: 0,
                section: u8::try_from(self.sections.id_of(&m.section)).unwrap_or(u8::MAX),
                status: m.status,
            })
            .collect();
        let reasons: Vec<u16> = loaded
            .measures
            .iter()
            .map(|(_, m)| self.reason_set(&m.reasons))
            .collect();
        let territory = self.territories.id(loaded.territory.as_deref());
        let groups = self.group_bits(Some(&loaded.groups));
        let len = u16::try_from(facts.len()).unwrap_or(u16::MAX);
        let slot = match existing {
            Some(slot) => slot,
            None => {
                let slot = self.ipras.len();
                self.ipras.push(IpraFact::default());
                let i = usize::try_from(loaded.id).unwrap_or(0);
                if self.slots.len() <= i {
                    self.slots.resize(i + 1, 0);
                }
                self.slots[i] = slot as u32 + 1;
                slot
            }
        };
        let old = self.ipras[slot];
        let first = if existing.is_some() && old.len == len && old.len > 0 {
            old.first as usize
        } else {
            self.wasted += usize::from(old.len);
            self.measures.len()
        };
        if first == self.measures.len() {
            self.measures.resize(first + usize::from(len), MeasureFact::default());
        }
        for (i, (fact, reasons)) in facts.iter().zip(reasons).take(usize::from(len)).enumerate() {
            self.measures[first + i] = MeasureFact { reasons, ..*fact };
        }
        self.ipras[slot] = IpraFact {
            id: u32::try_from(loaded.id).unwrap_or(u32::MAX),
            person: loaded.person,
            first: first as u32,
            day: loaded.day,
            month: month_of(loaded.day),
            territory,
            len,
            initial: loaded.initial,
            decided: loaded.decided.unwrap_or(0),
            flags: (loaded.flags & (CHILD | ACTIVE | SUPERSEDED | EARLY)) | LIVE,
            groups,
            mult: 0,
        };
        self.decisions_unordered |= loaded.decided.is_err();
        self.add_person(loaded.person, slot as u32);
        self.count_load(slot, 1);
    }

    /// A new IPRA without measures yet (the bulk load appends them).
    #[allow(clippy::too_many_arguments)]
    fn insert_bare(
        &mut self,
        id: i64,
        person: u32,
        day: Day,
        territory: u16,
        initial: u16,
        decided: Result<Day, ()>,
        flags: u8,
        groups: u64,
    ) {
        self.decisions_unordered |= decided.is_err();
        let slot = self.ipras.len();
        self.ipras.push(IpraFact {
            id: u32::try_from(id).unwrap_or(u32::MAX),
            person,
            first: 0,
            day,
            month: month_of(day),
            territory,
            len: 0,
            initial,
            decided: decided.unwrap_or(0),
            flags: (flags & (CHILD | ACTIVE | SUPERSEDED | EARLY)) | LIVE,
            groups,
            mult: 0,
        });
        let i = usize::try_from(id).unwrap_or(0);
        if self.slots.len() <= i {
            self.slots.resize(i + 1, 0);
        }
        self.slots[i] = slot as u32 + 1;
        self.add_person(person, slot as u32);
    }

    /// Appends a measure to an IPRA's range: in place at the end of the array when its measures
    /// come together (as the register stores them), else by moving the range to the end.
    fn append_measure(&mut self, slot: usize, fact: MeasureFact) {
        let ipra = self.ipras[slot];
        let end = ipra.first as usize + usize::from(ipra.len);
        if ipra.len > 0 && end != self.measures.len() {
            let range = ipra.first as usize..end;
            let moved: Vec<MeasureFact> = self.measures[range].to_vec();
            self.ipras[slot].first = self.measures.len() as u32;
            self.measures.extend(moved);
            self.wasted += usize::from(ipra.len);
        } else if ipra.len == 0 {
            self.ipras[slot].first = self.measures.len() as u32;
        }
        self.measures.push(fact);
        self.ipras[slot].len = ipra.len.saturating_add(1);
    }

    /// Rewrites the measures without the ranges left behind, once they are a quarter of the array.
    fn compact_if_wasteful(&mut self) {
        if self.wasted * 4 < self.measures.len() || self.wasted < 1024 {
            return;
        }
        let mut fresh = Vec::with_capacity(self.measures.len() - self.wasted);
        for ipra in self.ipras.iter_mut().filter(|i| i.flags & LIVE != 0) {
            let start = ipra.first as usize;
            let range = start..start + usize::from(ipra.len);
            ipra.first = fresh.len() as u32;
            fresh.extend_from_slice(&self.measures[range]);
        }
        self.measures = fresh;
        self.wasted = 0;
    }

    fn measures_of(&self, ipra: &IpraFact) -> &[MeasureFact] {
        let start = ipra.first as usize;
        &self.measures[start..start + usize::from(ipra.len)]
    }
}

/// Where the index stands in the journal.
#[derive(Default)]
struct Cursor {
    loaded: bool,
    /// The last refresh that completed had begun after this many requests for one (see
    /// [`FactsIndex::refresh`]).
    served: u64,
    seq: i64,
    /// Journal numbers below `seq` not seen yet (PostgreSQL hands out numbers before commit), with
    /// when they were first missed; given up after [`GAP_PATIENCE`].
    gaps: BTreeMap<i64, Instant>,
}

const GAP_PATIENCE: Duration = Duration::from_secs(300);
/// Journal entries read per pass.
const JOURNAL_CHUNK: i64 = 20_000;
/// Beyond this backlog a full reload is cheaper than reloading IPRA by IPRA.
const RELOAD_BACKLOG: usize = 200_000;

/// The statistics index shared by the server's requests (see the module's documentation).
pub struct FactsIndex {
    index: RwLock<Index>,
    cursor: tokio::sync::Mutex<Cursor>,
    loaded: std::sync::atomic::AtomicBool,
    /// Requests for a refresh so far, numbered.
    requested: std::sync::atomic::AtomicU64,
    /// Bumped whenever the index changes: figures computed at one version hold until the next.
    version: std::sync::atomic::AtomicU64,
    /// Statistics by filter: coordinators of a region open the same few over and over, and a pass
    /// over a million persons' measures takes about 100 ms of two cores.
    statistics_kept: Memo<Arc<(Statistics, ChartData)>>,
    /// Facet matches by facets (the register's list asks one per page).
    matches_kept: Memo<FacetMatch>,
    /// The register's size.
    size_kept: Memo<IndexSize>,
    /// The IPRAs in the register's default order, by version (see [`FactsIndex::decision_walk`]).
    walk_kept: std::sync::Mutex<WalkKept>,
}

/// The default order's permutation of the index, with the version it is of, and the version
/// last seen changing and when (a walk is built only for a version that has held a moment).
#[derive(Default)]
struct WalkKept {
    walk: Option<(u64, Arc<DecisionWalk>)>,
    seen: Option<(u64, Instant)>,
}

/// Positions of the index's IPRAs in the register's default order: those with a decision date by
/// (day, id), then those without by id. Every walk of a facet list (forward or backward, either
/// direction of the list) is one of four readings of it, each in increasing rank.
struct DecisionWalk {
    positions: Vec<u32>,
    /// How many have a decision date (they come first).
    dated: usize,
}

/// How long a new version of the index must hold before its walk is built (≈ 100 ms at a
/// million IPRAs): under a stream of imports the pages pass over the index instead.
const WALK_SETTLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Figures computed over the index, kept by key with the version they were computed at, and
/// forgotten when the index changes (see [`FactsIndex::kept`]). A figure is a cell filled once:
/// requests asking for the same figure at the same time wait for one computation instead of each
/// making its own (at a million persons a statistics pass is ≈ 100 ms of a core, and 32 clients
/// opening the statistics after an import made 32 passes on two cores).
type Cell<T> = Arc<std::sync::OnceLock<T>>;

struct Memo<T>(std::sync::Mutex<Vec<(u64, String, Cell<T>)>>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo(std::sync::Mutex::new(Vec::new()))
    }
}

impl<T> Memo<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, String, Cell<T>)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cell of `key` at `version`, made (empty) when there is none.
    fn cell(&self, version: u64, key: String) -> Cell<T> {
        let mut kept = self.lock();
        if let Some((_, _, cell)) = kept.iter().find(|(v, k, _)| *v == version && *k == key) {
            return cell.clone();
        }
        if kept.len() >= MEMO_SIZE {
            kept.remove(0);
        }
        let cell = Cell::default();
        kept.push((version, key, cell.clone()));
        cell
    }
}

/// How many figures of one kind are kept.
const MEMO_SIZE: usize = 64;

impl Default for FactsIndex {
    fn default() -> Self {
        FactsIndex {
            index: RwLock::new(Index::default()),
            cursor: tokio::sync::Mutex::new(Cursor::default()),
            loaded: std::sync::atomic::AtomicBool::new(false),
            requested: std::sync::atomic::AtomicU64::new(0),
            version: std::sync::atomic::AtomicU64::new(0),
            statistics_kept: Memo::default(),
            matches_kept: Memo::default(),
            size_kept: Memo::default(),
            walk_kept: std::sync::Mutex::default(),
        }
    }
}

impl FactsIndex {
    /// Reads the index (a computation over it holds the read lock; changes wait for it).
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Index> {
        self.index.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Index> {
        self.index.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Catches up with the journal when the first load has been done, and does nothing otherwise
    /// (requests that can do without the index never wait for its first load).
    pub async fn refresh_if_loaded(&self, db: &Db) -> Result<bool> {
        if !self.loaded.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(false);
        }
        self.refresh(db).await?;
        Ok(true)
    }

    /// Brings the index up to the register: the first call loads everything, later ones apply
    /// what the journal lists since (one indexed query when nothing changed), so every read sees
    /// every change committed before it, by any process.
    ///
    /// Concurrent requests share a refresh: one that began after a request was made has read the
    /// journal after it, so it serves that request too (under load, one pass over the journal
    /// serves every request waiting, instead of each taking its turn).
    pub async fn refresh(&self, db: &Db) -> Result<()> {
        use std::sync::atomic::Ordering::SeqCst;
        let ticket = self.requested.fetch_add(1, SeqCst) + 1;
        let mut cursor = self.cursor.lock().await;
        if cursor.loaded && cursor.served >= ticket {
            return Ok(());
        }
        let upto = self.requested.load(SeqCst);
        if !cursor.loaded {
            self.load_all(db, &mut cursor).await?;
        } else {
            self.follow_journal(db, &mut cursor).await?;
        }
        cursor.served = upto;
        Ok(())
    }

    async fn load_all(&self, db: &Db, cursor: &mut Cursor) -> Result<()> {
        // The journal's end first: what changes while we read is applied again afterwards.
        let seq: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM register_changes")
            .fetch_one(&db.pool)
            .await?
            .try_get("n")?;
        let started = Instant::now();
        let mut index = bulk_load(db).await?;
        index.loaded = true;
        tracing::info!(
            ipras = index.ipras.len(),
            measures = index.measures.len(),
            ms = started.elapsed().as_millis() as u64,
            "statistics index loaded"
        );
        *cursor = Cursor {
            loaded: true,
            served: cursor.served,
            seq,
            gaps: BTreeMap::new(),
        };
        self.publish(index);
        // The load's growing vectors and the rows read were freed, but glibc keeps freed memory in
        // its arenas: give it back, or the server carries the load's peak for good (at a million
        // persons the process peaks at 300 MiB during the load and holds 235 MiB after it).
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free memory of the allocator's arenas to the system.
        unsafe {
            libc::malloc_trim(0);
        }
        self.loaded.store(true, std::sync::atomic::Ordering::Release);
        // What changed during the load.
        self.follow_journal(db, cursor).await
    }

    fn publish(&self, index: Index) {
        let mut current = self.write();
        *current = index;
        self.changed();
    }

    /// Marks figures computed so far as stale (called with the index changed, before its write
    /// lock is released, so that no figure of the old index is kept under the new version).
    fn changed(&self) {
        self.version.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.statistics_kept.lock().clear();
        self.matches_kept.lock().clear();
        self.size_kept.lock().clear();
    }

    /// A figure of `memo` by `key`, computed over the index when none of its current version is
    /// kept, once however many ask for it together. The cell is taken under the index's read
    /// lock, and the index changes only under its write lock (see [`FactsIndex::changed`]), so a
    /// figure kept is of the version it carries.
    fn kept<T: Clone>(&self, memo: &Memo<T>, key: String, compute: impl FnOnce(&Index) -> T) -> T {
        use std::sync::atomic::Ordering::SeqCst;
        let version = self.version.load(SeqCst);
        let ready = memo
            .lock()
            .iter()
            .find(|(v, k, _)| *v == version && *k == key)
            .and_then(|(_, _, cell)| cell.get().cloned());
        if let Some(figure) = ready {
            return figure;
        }
        let ix = self.read();
        let cell = memo.cell(self.version.load(SeqCst), key);
        cell.get_or_init(|| compute(&ix)).clone()
    }

    async fn follow_journal(&self, db: &Db, cursor: &mut Cursor) -> Result<()> {
        let oldest: Option<i64> = sqlx::query("SELECT MIN(seq) AS n FROM register_changes")
            .fetch_one(&db.pool)
            .await?
            .try_get("n")
            .ok()
            .flatten();
        if oldest.is_some_and(|o| o > cursor.seq + 1) && cursor.seq > 0 {
            // The journal was pruned past us: start again from the register itself.
            cursor.loaded = false;
            return Box::pin(self.load_all(db, cursor)).await;
        }
        let mut changed: Vec<i64> = Vec::new();
        let mut seen = HashSet::new();
        loop {
            let mut sql = String::from("SELECT seq, ipra_id FROM register_changes WHERE seq > $1");
            let gaps: Vec<i64> = cursor.gaps.keys().copied().take(500).collect();
            if !gaps.is_empty() {
                let list: Vec<String> = gaps.iter().map(i64::to_string).collect();
                sql.push_str(&format!(" OR seq IN ({})", list.join(",")));
            }
            sql.push_str(" ORDER BY seq LIMIT $2");
            let rows = sqlx::query(&sql)
                .bind(cursor.seq)
                .bind(JOURNAL_CHUNK)
                .fetch_all(&db.pool)
                .await?;
            let mut top = cursor.seq;
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                let ipra: i64 = r.try_get("ipra_id")?;
                if cursor.gaps.remove(&seq).is_none() && seq > top {
                    if db.engine == Engine::Postgres {
                        for missing in top + 1..seq {
                            cursor.gaps.insert(missing, Instant::now());
                        }
                    }
                    top = seq;
                }
                if seen.insert(ipra) {
                    changed.push(ipra);
                }
            }
            cursor.seq = top;
            if changed.len() > RELOAD_BACKLOG {
                cursor.loaded = false;
                return Box::pin(self.load_all(db, cursor)).await;
            }
            if (rows.len() as i64) < JOURNAL_CHUNK {
                break;
            }
        }
        cursor.gaps.retain(|_, since| since.elapsed() < GAP_PATIENCE);
        if changed.is_empty() {
            return Ok(());
        }
        let mut loaded: Vec<LoadedIpra> = Vec::with_capacity(changed.len());
        for chunk in changed.chunks(500) {
            loaded.extend(read_ids(db, chunk).await?);
        }
        let mut by_id: HashMap<i64, LoadedIpra> = loaded.into_iter().map(|l| (l.id, l)).collect();
        let mut index = self.write();
        for id in changed {
            index.apply(id, by_id.remove(&id));
        }
        index.compact_if_wasteful();
        self.changed();
        Ok(())
    }
}

/// The IPRAs of a bulk load, read into the index.
struct IpraRows(Index);

impl crate::db::bulk_read::RowSink for IpraRows {
    fn row(&mut self, r: &[Option<&str>]) {
        let (Some(id), Some(person)) = (
            r[0].and_then(|v| v.parse::<i64>().ok()),
            r[1].and_then(|v| v.parse::<i64>().ok()),
        ) else {
            return;
        };
        let mut flags = 0;
        if r[4].is_some_and(|v| v != "0") {
            flags |= CHILD;
        }
        match r[5] {
            Some("active") => flags |= ACTIVE,
            Some("superseded") => flags |= SUPERSEDED,
            _ => {}
        }
        if r[9].is_some_and(|v| v != "0") {
            flags |= EARLY;
        }
        let ix = &mut self.0;
        let territory = ix.territories.id(r[3]);
        let groups = ix.group_bits(r[8]);
        ix.insert_bare(
            id,
            u32::try_from(person).unwrap_or(u32::MAX),
            day_of(r[2]),
            territory,
            initial_of(r[6]),
            decided_of(r[7]),
            flags,
            groups,
        );
    }
}

/// The measures of a bulk load, appended to their IPRAs.
struct MeasureRows(Index);

impl crate::db::bulk_read::RowSink for MeasureRows {
    fn row(&mut self, r: &[Option<&str>]) {
        let ix = &mut self.0;
        let Some(slot) = r[0].and_then(|v| v.parse::<i64>().ok()).and_then(|id| ix.slot(id)) else {
            return;
        };
        let status = measure_status(r[2].unwrap_or_default());
        let reasons = match r[5] {
            Some(lists) => {
                let lists: Vec<Vec<String>> = serde_json::from_str(&format!("[{lists}]")).unwrap_or_default();
                let codes: Vec<String> = lists.into_iter().flatten().collect();
                ix.reason_set(&codes)
            }
            None => 0,
        };
        let fact = MeasureFact {
            org: ix.orgs.id(r[3]),
            due: day_of(r[4]),
            reasons,
            section: u8::try_from(ix.sections.id_of(r[1].unwrap_or_default())).unwrap_or(u8::MAX),
            status,
        };
        ix.append_measure(slot, fact);
    }
}

/// Reads the whole register into a new index: one ordered pass over the IPRAs and one over the
/// measures (with the reasons of the not executed), read in bulk (see `db::bulk_read`).
async fn bulk_load(db: &Db) -> Result<Index> {
    use crate::db::bulk_read::for_each_row;
    let IpraRows(index) = for_each_row(
        db,
        "SELECT id, person_id, received_at, territory_code, is_child, status, substr(search_name, 1, 1), decision_date, \
         target_groups, early_help FROM ipras ORDER BY id",
        IpraRows(Index::default()),
    )
    .await?;
    let sql = "SELECT m.ipra_id, m.section, m.status, m.assigned_ogrn, m.due_date, \
         CASE WHEN m.status = 'not-executed' THEN (SELECT e.reasons FROM execution_records e \
         WHERE e.measure_id = m.id AND e.result = 'not-executed' ORDER BY e.id DESC LIMIT 1) END \
         FROM measures m ORDER BY m.id";
    let MeasureRows(mut index) = for_each_row(db, sql, MeasureRows(index)).await?;
    index.compact_if_wasteful();
    for slot in 0..index.ipras.len() {
        index.count_load(slot, 1);
    }
    Ok(index)
}

async fn read_ids(db: &Db, ids: &[i64]) -> Result<Vec<LoadedIpra>> {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    read_where(db, &format!("IN ({})", list.join(","))).await
}

/// Reads IPRAs whose id satisfies `condition` (an `IN (…)` list of numbers).
async fn read_where(db: &Db, condition: &str) -> Result<Vec<LoadedIpra>> {
    let fetch = |sql: String| async move { sqlx::query(&sql).fetch_all(&db.pool).await };
    let ipras = fetch(format!(
        "SELECT id, person_id, received_at, territory_code, is_child, status, substr(search_name, 1, 1) AS initial, \
         decision_date, target_groups, early_help FROM ipras WHERE id {condition} ORDER BY id"
    ))
    .await?;
    let mut out: Vec<LoadedIpra> = Vec::with_capacity(ipras.len());
    let mut at: HashMap<i64, usize> = HashMap::with_capacity(ipras.len());
    for r in &ipras {
        let id: i64 = r.try_get("id")?;
        let status: String = r.try_get("status")?;
        let mut flags = 0;
        if r.try_get::<i64, _>("is_child")? != 0 {
            flags |= CHILD;
        }
        match status.as_str() {
            "active" => flags |= ACTIVE,
            "superseded" => flags |= SUPERSEDED,
            _ => {}
        }
        if r.try_get::<i64, _>("early_help")? != 0 {
            flags |= EARLY;
        }
        at.insert(id, out.len());
        out.push(LoadedIpra {
            id,
            person: u32::try_from(r.try_get::<i64, _>("person_id")?).unwrap_or(u32::MAX),
            day: day_of(Some(&r.try_get::<String, _>("received_at")?)),
            territory: opt_text(r, "territory_code"),
            initial: initial_of(opt_text(r, "initial").as_deref()),
            decided: decided_of(opt_text(r, "decision_date").as_deref()),
            flags,
            groups: r.try_get("target_groups")?,
            measures: Vec::new(),
        });
    }
    let mut measure_at: HashMap<i64, (usize, usize)> = HashMap::new();
    for r in fetch(format!(
        "SELECT id, ipra_id, section, status, assigned_ogrn, due_date FROM measures WHERE ipra_id {condition} ORDER BY ipra_id, id"
    ))
    .await?
    {
        let ipra: i64 = r.try_get("ipra_id")?;
        let Some(i) = at.get(&ipra).copied() else {
            continue;
        };
        let id: i64 = r.try_get("id")?;
        measure_at.insert(id, (i, out[i].measures.len()));
        out[i].measures.push((
            id,
            LoadedMeasure {
                section: r.try_get("section")?,
                status: measure_status(&r.try_get::<String, _>("status")?),
                org: opt_text(&r, "assigned_ogrn"),
                due: day_of(opt_text(&r, "due_date").as_deref()),
                reasons: Vec::new(),
            },
        ));
    }
    for r in fetch(format!(
        "SELECT measure_id, reasons FROM execution_records WHERE ipra_id {condition} AND result = 'not-executed' \
         AND measure_id IS NOT NULL ORDER BY id"
    ))
    .await?
    {
        let measure: i64 = r.try_get("measure_id")?;
        let Some((i, j)) = measure_at.get(&measure).copied() else {
            continue;
        };
        // The latest record of the measure gives its reasons (read in order: the last one wins).
        let codes: Vec<String> = serde_json::from_str(&r.try_get::<String, _>("reasons")?).unwrap_or_default();
        out[i].measures[j].1.reasons = codes;
    }
    Ok(out)
}

// Bits of what one IPRA gives a statistics row (persons are counted distinct by these).
const F_ALL: u32 = 0;
const F_ADULT: u32 = 1;
const F_CHILD: u32 = 2;
const F_REHAB: u32 = 3;
const F_TSR: u32 = 4;
const F_DONE: u32 = 5;
const F_FAILED: u32 = 6;
const F_OPEN: u32 = 7;
const F_LATE: u32 = 8;
const F_SECTION: u32 = 9;
const SECTIONS: u32 = 32;
const F_REASON: u32 = F_SECTION + SECTIONS;
const REASONS: u32 = 128 - F_REASON;

/// A measure's state as the statistics see it: section, status, whether its IPRA is in force and
/// whether it is past its due date, and the IPRA's kind — an index into a small table of bits.
fn state_key(section: u8, status: u8, active: bool, late: bool, child: bool) -> usize {
    ((usize::from(section) * 5 + usize::from(status.min(OTHER))) * 2 + usize::from(active)) * 4
        + usize::from(late) * 2
        + usize::from(child)
}

/// The bits a measure's state sets. A measure without a section (`none`: the section id 0 or that of
/// the empty code) is neither rehabilitation nor TSR.
fn state_bits(
    section: u8,
    status: u8,
    active: bool,
    late: bool,
    child: bool,
    tsr: Option<u8>,
    none: Option<u8>,
) -> u128 {
    let mut bits = 1u128 << F_ALL | 1u128 << if child { F_CHILD } else { F_ADULT };
    if Some(section) == tsr {
        bits |= 1u128 << F_TSR;
    } else if section != 0 && Some(section) != none {
        bits |= 1u128 << F_REHAB;
    }
    if u32::from(section) < SECTIONS {
        bits |= 1u128 << (F_SECTION + u32::from(section));
    }
    match status {
        EXECUTED => bits |= 1 << F_DONE,
        NOT_EXECUTED => bits |= 1 << F_FAILED,
        OPEN if active => {
            bits |= 1 << F_OPEN;
            if late {
                bits |= 1 << F_LATE;
            }
        }
        _ => {}
    }
    bits
}

fn add_bits(counts: &mut [i64; 128], bits: u128, n: i64) {
    let mut b = bits;
    while b != 0 {
        let i = b.trailing_zeros();
        counts[i as usize] += n;
        b &= b - 1;
    }
}

/// How many distinct territories (and months) of one person a pass keeps in place; a person with
/// more in the pass is counted from their slots instead ([`Tally::settle_persons`]).
const KEPT: usize = 3;

/// What a pass gathers of one person with several IPRAs, at the person's ordinal
/// ([`MultiPerson`]): the bits of the IPRAs it takes ORed, and the breakdowns' keys they fall in,
/// so that the person counts once in each. An array of these, not sets keyed by person: at a
/// million persons one in ten has two IPRAs, and hashing them cost a pass as much as its measures.
#[derive(Clone, Copy, Default)]
struct PersonAcc {
    /// 0: none of the person's IPRAs taken (a taken IPRA always sets [`F_ALL`]).
    bits: u128,
    groups: u64,
    person: u32,
    territories: Kept,
    months: Kept,
    early: bool,
    /// More distinct territories or months than kept.
    overflow: bool,
}

impl PersonAcc {
    fn take(&mut self, ipra: &IpraFact, bits: u128) {
        self.bits |= bits;
        self.groups |= ipra.groups;
        self.person = ipra.person;
        self.early |= ipra.flags & EARLY != 0;
        self.overflow |= !self.territories.keep(ipra.territory);
        self.overflow |= !self.months.keep(ipra.month);
    }

    fn merge(&mut self, other: &PersonAcc) {
        if other.bits == 0 {
            return;
        }
        self.bits |= other.bits;
        self.groups |= other.groups;
        self.person = other.person;
        self.early |= other.early;
        self.overflow |= other.overflow;
        for t in other.territories.keys() {
            self.overflow |= !self.territories.keep(*t);
        }
        for m in other.months.keys() {
            self.overflow |= !self.months.keep(*m);
        }
    }
}

/// Up to [`KEPT`] distinct keys (territories or months) of one person in a pass.
#[derive(Clone, Copy, Default)]
struct Kept {
    keys: [u16; KEPT],
    n: u8,
}

impl Kept {
    /// Adds `key` unless it is there; false when there is no room for it.
    fn keep(&mut self, key: u16) -> bool {
        let len = usize::from(self.n);
        if self.keys[..len].contains(&key) {
            return true;
        }
        if len == KEPT {
            return false;
        }
        self.keys[len] = key;
        self.n += 1;
        true
    }

    fn keys(&self) -> &[u16] {
        &self.keys[..usize::from(self.n)]
    }
}

/// Months since January 2000 a day can fall in ([`month_of`] of the last [`Day`]), so that a pass
/// sizes its monthly counts without first reading every IPRA for the latest month.
const MONTHS: usize = 12 * 180;

/// The dashboard's counts: the cards over measures and the three workload tables.
#[derive(Clone, Debug, Default)]
pub struct DashboardFigures {
    pub open: i64,
    pub overdue: i64,
    pub due_soon: i64,
    pub unassigned: i64,
    pub by_organisation: Vec<WorkloadRow>,
    pub by_section: Vec<WorkloadRow>,
    pub by_territory: Vec<WorkloadRow>,
}

/// The register's size as the index counts it.
#[derive(Clone, Copy, Debug, Default)]
pub struct IndexSize {
    pub ipras: usize,
    pub measures: usize,
}

impl FactsIndex {
    /// The register's counts as the health endpoint shows them.
    pub fn counts(&self) -> super::query::RegisterCounts {
        let ix = self.read();
        let live = ix.ipras.iter().filter(|i| i.flags & LIVE != 0);
        let (mut ipras, mut active) = (0i64, 0i64);
        for i in live {
            ipras += 1;
            active += i64::from(i.flags & ACTIVE != 0);
        }
        super::query::RegisterCounts {
            persons: (ix.single.len() + ix.multi.len()) as i64,
            ipras,
            active_ipras: active,
            measures: (ix.measures.len() - ix.wasted) as i64,
        }
    }

    /// The register's size (counted once per state of the index).
    pub fn size(&self) -> IndexSize {
        self.kept(&self.size_kept, String::new(), |ix| IndexSize {
            ipras: ix.ipras.iter().filter(|i| i.flags & LIVE != 0).count(),
            measures: ix.measures.len() - ix.wasted,
        })
    }

    /// The statistics table (ИС «Исполнение ИПРА») and the charts under one filter, in one pass, computed
    /// once per filter while the register does not change.
    pub fn statistics(
        &self,
        filter: &StatsFilter,
        today: &str,
        reasons: &[(String, String)],
    ) -> Arc<(Statistics, ChartData)> {
        let key = format!("{filter:?}|{today}|{reasons:?}");
        self.kept(&self.statistics_kept, key, |ix| {
            Arc::new(compute_statistics(ix, filter, today, reasons))
        })
    }
}

/// What a pass over (part of) the register counts; two halves add up (see [`compute_statistics`]).
struct Tally {
    /// Measures by [`state_key`].
    state_count: Vec<i64>,
    reason_count: Vec<i64>,
    section_late: Vec<i64>,
    /// Persons by bit; those with several IPRAs once settled ([`Tally::settle_persons`]).
    persons: [i64; 128],
    /// Persons with several IPRAs, by ordinal, until settled.
    multi: Vec<PersonAcc>,
    extracts: i64,
    by_territory: Vec<(i64, i64)>,
    by_month: Vec<(i64, i64)>,
    /// Distinct persons by territory, by month, by target group id, and of early help.
    territory_persons: Vec<i64>,
    month_persons: Vec<i64>,
    /// Extracts and measures by target group id.
    by_group: Vec<(i64, i64)>,
    group_persons: Vec<i64>,
    early: (i64, i64),
    early_persons: i64,
}

impl Tally {
    /// `multi`: how many ordinals of persons with several IPRAs the pass may meet.
    fn new(ix: &Index, multi: usize) -> Tally {
        Tally {
            state_count: vec![0; ix.sections.len().max(1) * 5 * 2 * 4],
            reason_count: vec![0; ix.reason_sets.len().max(1)],
            section_late: vec![0; ix.sections.len()],
            persons: [0; 128],
            multi: vec![PersonAcc::default(); multi],
            extracts: 0,
            by_territory: vec![(0, 0); ix.territories.len() + 1],
            by_month: vec![(0, 0); MONTHS],
            territory_persons: vec![0; ix.territories.len() + 1],
            month_persons: vec![0; MONTHS],
            by_group: vec![(0, 0); usize::from(GROUP_BITS) + 1],
            group_persons: vec![0; usize::from(GROUP_BITS) + 1],
            early: (0, 0),
            early_persons: 0,
        }
    }

    fn add(&mut self, other: Tally) {
        let sum = |a: &mut Vec<i64>, b: &[i64]| a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        sum(&mut self.state_count, &other.state_count);
        sum(&mut self.reason_count, &other.reason_count);
        sum(&mut self.section_late, &other.section_late);
        self.persons.iter_mut().zip(other.persons).for_each(|(x, y)| *x += y);
        for (a, b) in self.multi.iter_mut().zip(&other.multi) {
            a.merge(b);
        }
        self.extracts += other.extracts;
        let pairs = |a: &mut Vec<(i64, i64)>, b: &[(i64, i64)]| {
            a.iter_mut().zip(b).for_each(|(x, y)| {
                x.0 += y.0;
                x.1 += y.1;
            })
        };
        pairs(&mut self.by_territory, &other.by_territory);
        pairs(&mut self.by_month, &other.by_month);
        pairs(&mut self.by_group, &other.by_group);
        sum(&mut self.territory_persons, &other.territory_persons);
        sum(&mut self.month_persons, &other.month_persons);
        sum(&mut self.group_persons, &other.group_persons);
        self.early.0 += other.early.0;
        self.early.1 += other.early.1;
        self.early_persons += other.early_persons;
    }

    /// Counts a person of a single IPRA in the breakdowns.
    fn count_person(&mut self, ipra: &IpraFact, bits: u128) {
        add_bits(&mut self.persons, bits, 1);
        self.territory_persons[usize::from(ipra.territory)] += 1;
        self.month_persons[usize::from(ipra.month)] += 1;
        self.count_groups(ipra.groups);
        self.early_persons += i64::from(ipra.flags & EARLY != 0);
    }

    fn count_groups(&mut self, groups: u64) {
        let mut groups = groups;
        while groups != 0 {
            self.group_persons[groups.trailing_zeros() as usize] += 1;
            groups &= groups - 1;
        }
    }

    /// Counts the persons with several IPRAs the pass took, once each. One whose IPRAs fell in
    /// more territories or months than a [`PersonAcc`] keeps is counted from their slots.
    fn settle_persons(&mut self, ix: &Index, scope: &Scope) {
        for acc in std::mem::take(&mut self.multi) {
            if acc.bits == 0 {
                continue;
            }
            add_bits(&mut self.persons, acc.bits, 1);
            self.count_groups(acc.groups);
            self.early_persons += i64::from(acc.early);
            if !acc.overflow {
                for t in acc.territories.keys() {
                    self.territory_persons[usize::from(*t)] += 1;
                }
                for m in acc.months.keys() {
                    self.month_persons[usize::from(*m)] += 1;
                }
                continue;
            }
            let slots = ix.multi.get(&acc.person).map_or(&[][..], |m| &m.slots[..]);
            let taken: Vec<&IpraFact> = slots
                .iter()
                .map(|s| &ix.ipras[*s as usize])
                .filter(|ipra| scope.takes(ipra))
                .collect();
            let mut territories: Vec<u16> = taken.iter().map(|i| i.territory).collect();
            let mut months: Vec<u16> = taken.iter().map(|i| i.month).collect();
            for (keys, counts) in [
                (&mut territories, &mut self.territory_persons),
                (&mut months, &mut self.month_persons),
            ] {
                keys.sort_unstable();
                keys.dedup();
                for key in keys.iter() {
                    counts[usize::from(*key)] += 1;
                }
            }
        }
    }
}

/// A statistics filter as the index's numbers.
struct Scope {
    from: Day,
    to: Day,
    territory: Option<u16>,
    section: Option<u8>,
    org: Option<u16>,
    /// A code the index has never seen: nothing matches.
    nothing: bool,
    today: Day,
}

impl Scope {
    fn of(ix: &Index, filter: &StatsFilter, today: &str) -> Scope {
        let given = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let territory = given(&filter.territory).map(|t| ix.territories.get(&t));
        let section = given(&filter.section).map(|s| ix.sections.get(&s).map(|v| v as u8));
        let org = given(&filter.organisation).map(|o| ix.orgs.get(&o));
        Scope {
            from: given(&filter.from).map(|d| day_of(Some(&d))).unwrap_or(0),
            to: given(&filter.to).map(|d| day_of(Some(&d))).unwrap_or(Day::MAX),
            nothing: matches!(territory, Some(None)) || matches!(section, Some(None)) || matches!(org, Some(None)),
            territory: territory.flatten(),
            section: section.flatten(),
            org: org.flatten(),
            today: day_of(Some(today)),
        }
    }

    fn takes(&self, ipra: &IpraFact) -> bool {
        !self.nothing
            && ipra.flags & LIVE != 0
            && ipra.day >= self.from
            && ipra.day <= self.to
            && self.territory.is_none_or(|t| ipra.territory == t)
    }
}

/// The bits of every state (see [`state_key`]) and of every set of reasons.
struct Tables {
    state: Vec<u128>,
    reasons: Vec<u128>,
}

impl Tables {
    fn of(ix: &Index) -> Tables {
        let tsr = ix.sections.get("tsr").map(|v| v as u8);
        let none = ix.sections.get("").map(|v| v as u8);
        let mut state = vec![0u128; ix.sections.len().max(1) * 5 * 2 * 4];
        for s in 0..ix.sections.len().min(256) {
            for status in 0..5u8 {
                for active in [false, true] {
                    for late in [false, true] {
                        for child in [false, true] {
                            state[state_key(s as u8, status, active, late, child)] =
                                state_bits(s as u8, status, active, late, child, tsr, none);
                        }
                    }
                }
            }
        }
        let reasons = ix
            .reason_sets
            .iter()
            .map(|mask| {
                let mut bits = 0u128;
                let mut m = *mask;
                while m != 0 {
                    let b = m.trailing_zeros();
                    if b >= 1 && b - 1 < REASONS {
                        bits |= 1u128 << (F_REASON + b - 1);
                    }
                    m &= m - 1;
                }
                bits
            })
            .collect();
        Tables { state, reasons }
    }
}

/// Counts the IPRAs of `slots`: every measure of each in the scope, with a small per-IPRA set of
/// the states seen (the bits are taken once per state, not once per measure).
fn scan(ix: &Index, scope: &Scope, tables: &Tables, slots: std::ops::Range<usize>) -> Tally {
    let mut t = Tally::new(ix, ix.ordinals as usize);
    // The states of one IPRA are `state_key`s of its own kind and status: those of its sections.
    for ipra in &ix.ipras[slots] {
        if !scope.takes(ipra) {
            continue;
        }
        t.extracts += 1;
        let child = ipra.flags & CHILD != 0;
        let active = ipra.flags & ACTIVE != 0;
        let mut seen = [0u128; 3];
        let mut reason_bits = 0u128;
        let mut scoped = 0i64;
        for m in ix.measures_of(ipra) {
            if scope.section.is_some_and(|s| m.section != s) || scope.org.is_some_and(|o| m.org != o) {
                continue;
            }
            scoped += 1;
            let late = m.status == OPEN && m.due != 0 && m.due < scope.today;
            // The IPRA fixes kind and force; section·10 + status·2 + late numbers its own states.
            let own = usize::from(m.section) * 10 + usize::from(m.status.min(OTHER)) * 2 + usize::from(late);
            if let Some(word) = seen.get_mut(own / 128) {
                *word |= 1u128 << (own % 128);
            }
            t.state_count[state_key(m.section, m.status, active, late, child)] += 1;
            if m.status == NOT_EXECUTED && m.reasons != 0 {
                t.reason_count[usize::from(m.reasons)] += 1;
                reason_bits |= tables.reasons[usize::from(m.reasons)];
            }
        }
        let mut bits = 1u128 << F_ALL | 1u128 << if child { F_CHILD } else { F_ADULT } | reason_bits;
        for (half, word) in seen.iter().enumerate() {
            let mut w = *word;
            while w != 0 {
                let own = half * 128 + w.trailing_zeros() as usize;
                let (section, status, late) = ((own / 10) as u8, ((own % 10) / 2) as u8, own % 2 == 1);
                bits |= tables.state[state_key(section, status, active, late, child)];
                w &= w - 1;
            }
        }
        match t.multi.get_mut(ipra.mult as usize) {
            Some(acc) if ipra.flags & MULTI != 0 => acc.take(ipra, bits),
            _ => t.count_person(ipra, bits),
        }
        let tt = &mut t.by_territory[usize::from(ipra.territory)];
        tt.0 += 1;
        tt.1 += scoped;
        let mo = &mut t.by_month[usize::from(ipra.month)];
        mo.0 += 1;
        mo.1 += scoped;
        let mut groups = ipra.groups;
        while groups != 0 {
            let g = &mut t.by_group[groups.trailing_zeros() as usize];
            g.0 += 1;
            g.1 += scoped;
            groups &= groups - 1;
        }
        if ipra.flags & EARLY != 0 {
            t.early.0 += 1;
            t.early.1 += scoped;
        }
    }
    // Open measures of IPRAs in force past their due date, by section.
    for s in 0..ix.sections.len() {
        for child in [false, true] {
            t.section_late[s] += t.state_count[state_key(s as u8, OPEN, true, true, child)];
        }
    }
    t
}

/// The statistics pass: the register's IPRAs in two halves, one on each core, then added up.
fn compute_statistics(
    ix: &Index,
    filter: &StatsFilter,
    today: &str,
    reasons: &[(String, String)],
) -> (Statistics, ChartData) {
    let scope = Scope::of(ix, filter, today);
    let tables = Tables::of(ix);
    let n = ix.ipras.len();
    let mut tally = if n < 50_000 {
        scan(ix, &scope, &tables, 0..n)
    } else {
        let half = n / 2;
        let (mut first, second) = std::thread::scope(|s| {
            let other = s.spawn(|| scan(ix, &scope, &tables, half..n));
            let first = scan(ix, &scope, &tables, 0..half);
            (first, other.join())
        });
        match second {
            Ok(t) => first.add(t),
            Err(_) => first.add(scan(ix, &scope, &tables, n / 2..n)),
        }
        first
    };
    tally.settle_persons(ix, &scope);
    finish(ix, filter, today, reasons, &tables, tally)
}

/// The statistics and charts from a pass's counts.
fn finish(
    ix: &Index,
    filter: &StatsFilter,
    today: &str,
    reasons: &[(String, String)],
    tables: &Tables,
    tally: Tally,
) -> (Statistics, ChartData) {
    {
        let state_table = &tables.state;
        let reason_bits = &tables.reasons;
        let Tally {
            state_count,
            reason_count,
            section_late,
            persons,
            multi: _,
            extracts,
            by_territory,
            by_month,
            territory_persons,
            month_persons,
            by_group,
            group_persons,
            early,
            early_persons,
        } = tally;
        // Measures by bit, from the counts by state and by reason set.
        let mut measures = [0i64; 128];
        for (key, n) in state_count.iter().enumerate() {
            if *n > 0 {
                add_bits(&mut measures, state_table[key], *n);
            }
        }
        for (set, n) in reason_count.iter().enumerate() {
            if *n > 0 {
                add_bits(&mut measures, reason_bits[set], *n);
            }
        }
        let pair = |bit: u32| Counts {
            persons: persons[bit as usize],
            measures: measures[bit as usize],
        };
        let mut by_section: Vec<(String, Counts)> = Vec::new();
        let mut section_status: Vec<SectionStatus> = Vec::new();
        for (s, late) in section_late
            .iter()
            .enumerate()
            .take(ix.sections.len().min(SECTIONS as usize))
            .skip(1)
        {
            let bit = F_SECTION + s as u32;
            if measures[bit as usize] == 0 {
                continue;
            }
            let code = ix.sections.code(s as u16).unwrap_or_default().to_string();
            by_section.push((code.clone(), pair(bit)));
            let mut st = SectionStatus {
                section: code,
                executed: 0,
                not_executed: 0,
                in_work: 0,
                overdue: *late,
            };
            for (key, n) in state_count.iter().enumerate() {
                let status = (key / 8) % 5;
                if key / 40 != s || *n == 0 {
                    continue;
                }
                let active = (key / 4) % 2 == 1;
                let late = (key / 2) % 2 == 1;
                match status as u8 {
                    EXECUTED => st.executed += n,
                    NOT_EXECUTED => st.not_executed += n,
                    OPEN if active && !late => st.in_work += n,
                    _ => {}
                }
            }
            section_status.push(st);
        }
        by_section.sort_by(|a, b| a.0.cmp(&b.0));
        section_status.sort_by(|a, b| a.section.cmp(&b.section));
        let not_executed_by_reason = reasons
            .iter()
            .map(|(code, name)| {
                let counts = ix
                    .reasons
                    .get(code)
                    .filter(|b| (1..=REASONS as u16).contains(b))
                    .map(|b| pair(F_REASON + u32::from(b) - 1))
                    .unwrap_or_default();
                ReasonRow {
                    code: code.clone(),
                    name: name.clone(),
                    persons: counts.persons,
                    measures: counts.measures,
                }
            })
            .collect();
        let statistics = Statistics {
            filter: serde_json::json!({"from": filter.from, "to": filter.to, "territory": filter.territory, "section": filter.section, "organisation": filter.organisation}),
            today: today.to_string(),
            extracts,
            received: pair(F_ALL),
            adults: pair(F_ADULT),
            children: pair(F_CHILD),
            rehabilitation: pair(F_REHAB),
            tsr: pair(F_TSR),
            by_section,
            executed: pair(F_DONE),
            not_executed: pair(F_FAILED),
            not_executed_by_reason,
            open: pair(F_OPEN),
            overdue: pair(F_LATE),
        };
        let mut territories: Vec<Breakdown> = by_territory
            .iter()
            .enumerate()
            .filter(|(_, (extracts, _))| *extracts > 0)
            .map(|(t, (extracts, measures))| Breakdown {
                key: ix.territories.code(t as u16).map(str::to_string),
                extracts: *extracts,
                persons: territory_persons[t],
                measures: *measures,
            })
            .collect();
        territories.sort_by(|a, b| a.key.cmp(&b.key));
        let monthly = by_month
            .iter()
            .enumerate()
            .filter(|(_, (extracts, _))| *extracts > 0)
            .map(|(m, (extracts, measures))| Breakdown {
                key: Some(format!("{:04}-{:02}", 2000 + m / 12, m % 12 + 1)),
                extracts: *extracts,
                persons: month_persons[m],
                measures: *measures,
            })
            .collect();
        let mut by_target_group: Vec<Breakdown> = by_group
            .iter()
            .enumerate()
            .filter(|(_, (extracts, _))| *extracts > 0)
            .map(|(g, (extracts, measures))| Breakdown {
                key: ix.groups.code(g as u16).map(str::to_string),
                extracts: *extracts,
                persons: group_persons[g],
                measures: *measures,
            })
            .collect();
        super::workload::sort_target_groups(&mut by_target_group);
        let charts = ChartData {
            by_section: section_status,
            by_territory: territories,
            monthly: super::workload::fill_months(monthly),
            by_target_group,
            early_help: Breakdown {
                key: None,
                extracts: early.0,
                persons: early_persons,
                measures: early.1,
            },
        };
        (statistics, charts)
    }
}

impl FactsIndex {
    /// The dashboard's counts as of `today`; `soon_days`: how far ahead "due soon" looks.
    pub fn dashboard(&self, today: &str, soon_days: i64) -> DashboardFigures {
        let ix = self.read();
        let today_day = day_of(Some(today));
        let soon_day = today_day.saturating_add(u16::try_from(soon_days.max(0)).unwrap_or(0));
        let all = &ix.loads.all;
        let due_soon: i64 = all.in_work_by_due.range(today_day..=soon_day).map(|(_, n)| n).sum();
        let rows = |loads: &[Load], code: &dyn Fn(u16) -> Option<String>| -> Vec<WorkloadRow> {
            let mut rows: Vec<WorkloadRow> = loads
                .iter()
                .enumerate()
                .filter(|(_, l)| l.assigned > 0)
                .map(|(id, l)| {
                    let (overdue, oldest) = l.overdue(today_day);
                    WorkloadRow {
                        key: code(id as u16),
                        name: None,
                        assigned: l.assigned,
                        in_work: l.in_work,
                        executed: l.executed,
                        not_executed: l.not_executed,
                        overdue,
                        oldest_overdue: oldest.map(date_of),
                    }
                })
                .collect();
            rows.sort_by(|a, b| a.key.cmp(&b.key));
            rows
        };
        DashboardFigures {
            open: all.in_work,
            overdue: all.overdue(today_day).0,
            due_soon,
            unassigned: ix.loads.unassigned.in_work,
            by_organisation: rows(&ix.loads.by_org, &|id| ix.orgs.code(id).map(str::to_string)),
            by_section: rows(&ix.loads.by_section, &|id| ix.sections.code(id).map(str::to_string)),
            by_territory: rows(&ix.loads.by_territory, &|id| {
                ix.territories.code(id).map(str::to_string)
            }),
        }
    }

    /// How many open measures of IPRAs in force a work list holds (overdue as of `today`, or not
    /// assigned), when it is filtered by at most one of section, organisation and territory —
    /// else `None` (the list counts itself). `None` too until the index is loaded.
    pub fn open_count(
        &self,
        today: &str,
        overdue: bool,
        section: Option<&str>,
        org: Option<&str>,
        territory: Option<&str>,
    ) -> Option<i64> {
        let ix = self.read();
        if !ix.loaded {
            return None;
        }
        let today = day_of(Some(today));
        let load = match (section, org, territory) {
            (None, None, None) if overdue => Some(Some(&ix.loads.all)),
            (None, None, None) => Some(Some(&ix.loads.unassigned)),
            (Some(s), None, None) if overdue => ix.sections.get(s).map(|id| ix.loads.by_section.get(usize::from(id))),
            (None, Some(o), None) if overdue => ix.orgs.get(o).map(|id| ix.loads.by_org.get(usize::from(id))),
            (None, None, Some(t)) if overdue => ix
                .territories
                .get(t)
                .map(|id| ix.loads.by_territory.get(usize::from(id))),
            _ => return None,
        };
        Some(match load {
            // A code the index has never seen: nothing of it is open.
            None | Some(None) => 0,
            Some(Some(l)) if overdue => l.overdue(today).0,
            Some(Some(l)) => l.in_work,
        })
    }

    /// Workload of one grouping (see [`Self::dashboard`]).
    pub fn workload(&self, today: &str, grouping: Grouping) -> Vec<WorkloadRow> {
        let d = self.dashboard(today, 0);
        match grouping {
            Grouping::Organisation => d.by_organisation,
            Grouping::Section => d.by_section,
            Grouping::Territory => d.by_territory,
        }
    }
}

/// Journal entries kept: several full imports of a large region.
pub const JOURNAL_KEEP: i64 = 5_000_000;

/// Removes journal entries but the latest `keep`; returns how many went.
pub async fn prune_journal(db: &Db, keep: i64) -> Result<u64> {
    let max: i64 = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS n FROM register_changes")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    if max <= keep {
        return Ok(0);
    }
    let oldest: i64 = sqlx::query("SELECT COALESCE(MIN(seq), 0) AS n FROM register_changes")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    // In chunks, each its own short transaction: a backlog of millions (a bulk fill, a first start
    // after a long import) deleted in one statement would hold SQLite's write lock for seconds.
    let (mut from, upto, mut removed) = (oldest, max - keep, 0u64);
    while from <= upto {
        let to = (from + PRUNE_CHUNK - 1).min(upto);
        removed += sqlx::query("DELETE FROM register_changes WHERE seq >= $1 AND seq <= $2")
            .bind(from)
            .bind(to)
            .execute(&db.pool)
            .await?
            .rows_affected();
        from = to + 1;
        tokio::task::yield_now().await;
    }
    Ok(removed)
}

/// Journal entries removed per statement by [`prune_journal`].
const PRUNE_CHUNK: i64 = 50_000;

/// The statistics and charts of a filter, as of `today`, with the index brought up to the register
/// first (the pass runs off the request threads).
pub async fn statistics(
    facts: &Arc<FactsIndex>,
    db: &Db,
    filter: &StatsFilter,
    today: &str,
    reasons: &[(String, String)],
) -> Result<(Statistics, ChartData)> {
    facts.refresh(db).await?;
    let (facts, filter, today, reasons) = (facts.clone(), filter.clone(), today.to_string(), reasons.to_vec());
    let figures = tokio::task::spawn_blocking(move || facts.statistics(&filter, &today, &reasons)).await?;
    Ok(Arc::unwrap_or_clone(figures))
}

/// The dashboard's counts as of `today`, with the index brought up to the register first.
pub async fn dashboard(facts: &Arc<FactsIndex>, db: &Db, today: &str, soon_days: i64) -> Result<DashboardFigures> {
    facts.refresh(db).await?;
    Ok(facts.dashboard(today, soon_days))
}

/// The register's filters the statistics index can answer (see `query::list_ipras`): kind, status,
/// territory, section, organisations the measures are assigned to, and overdue measures.
#[derive(Clone, Debug, Default)]
pub struct Facets {
    pub child: Option<bool>,
    /// `active`, `superseded` or `closed`.
    pub status: Option<String>,
    pub territory: Option<String>,
    pub section: Option<String>,
    /// Every one of these organisations must have measures of the IPRA assigned to it.
    pub organisations: Vec<String>,
    /// Only IPRAs with open measures past their due date as of this day (of the organisation, when
    /// given: an executor sees its own).
    pub overdue: Option<(String, Option<String>)>,
    /// Only IPRAs whose person's search name begins with this letter ([`initial_of`]): the facet of
    /// a name's beginning, which the list still checks whole.
    pub initial: Option<u16>,
    /// Only IPRAs of this target rehabilitation group (code).
    pub target_group: Option<String>,
    /// Only IPRAs that say the child needs early help.
    pub early_help: bool,
}

/// How many IPRAs the facets find, and their ids when there are at most `limit`.
#[derive(Clone, Debug)]
pub struct FacetMatch {
    /// IPRAs matching the facets but the name's first letter (a range the list counts itself).
    pub count: usize,
    /// Of them, those whose name begins with the letter (all of them without one).
    pub narrowed: usize,
    /// The ids of the narrowed ones, when there are at most `limit`.
    pub ids: Option<Vec<i64>>,
}

/// The facets of a request resolved against one state of the index: a test of one IPRA.
struct Matcher<'a> {
    facets: &'a Facets,
    territory: Option<u16>,
    section: Option<u8>,
    orgs: Vec<u16>,
    overdue: Option<Day>,
    overdue_org: Option<u16>,
    status: Option<u8>,
    group: u64,
}

impl<'a> Matcher<'a> {
    /// `None` when a facet names what the index has never seen: nothing matches.
    fn new(ix: &Index, facets: &'a Facets) -> Option<Matcher<'a>> {
        let territory = match facets.territory.as_deref() {
            Some(t) => Some(ix.territories.get(t)?),
            None => None,
        };
        let section = match facets.section.as_deref() {
            Some(s) => Some(ix.sections.get(s)? as u8),
            None => None,
        };
        let orgs = facets
            .organisations
            .iter()
            .map(|o| ix.orgs.get(o))
            .collect::<Option<Vec<u16>>>()?;
        let (overdue, overdue_org) = match &facets.overdue {
            Some((today, org)) => {
                let org = match org.as_deref() {
                    Some(o) => Some(ix.orgs.get(o)?),
                    None => None,
                };
                (Some(day_of(Some(today))), org)
            }
            None => (None, None),
        };
        let status = facets.status.as_deref().map(|s| match s {
            "active" => ACTIVE,
            "superseded" => SUPERSEDED,
            _ => 0,
        });
        let group = match facets.target_group.as_deref() {
            Some(code) => match ix.groups.get(code) {
                Some(id) if (1..=GROUP_BITS).contains(&id) => 1u64 << id,
                _ => return None,
            },
            None => 0,
        };
        Some(Matcher {
            facets,
            territory,
            section,
            orgs,
            overdue,
            overdue_org,
            status,
            group,
        })
    }

    /// Whether a live IPRA matches every facet but the name's first letter.
    fn matches(&self, ix: &Index, ipra: &IpraFact) -> bool {
        if self.facets.child.is_some_and(|c| (ipra.flags & CHILD != 0) != c)
            || self.territory.is_some_and(|t| ipra.territory != t)
            || self.status.is_some_and(|s| ipra.flags & (ACTIVE | SUPERSEDED) != s)
            || (self.group != 0 && ipra.groups & self.group == 0)
            || (self.facets.early_help && ipra.flags & EARLY == 0)
        {
            return false;
        }
        if self.section.is_some() || !self.orgs.is_empty() || self.overdue.is_some() {
            let measures = ix.measures_of(ipra);
            if self.section.is_some_and(|s| !measures.iter().any(|m| m.section == s)) {
                return false;
            }
            if !self.orgs.iter().all(|o| measures.iter().any(|m| m.org == *o)) {
                return false;
            }
            if let Some(today) = self.overdue {
                let late = measures.iter().any(|m| {
                    m.status == OPEN && m.due != 0 && m.due < today && self.overdue_org.is_none_or(|o| m.org == o)
                });
                if !late {
                    return false;
                }
            }
        }
        true
    }

    fn has_initial(&self, ipra: &IpraFact) -> bool {
        self.facets.initial.is_none_or(|c| ipra.initial == c)
    }
}

/// A place in the register's default order (the decision date, newest first, then the id;
/// IPRAs without a decision date last), as the list pages through it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DecisionOrder {
    /// The list's order is ascending (`dir=asc`).
    pub ascending: bool,
    /// The list is walked forward (a next page) or backward (`before=`).
    pub forward: bool,
}

impl DecisionOrder {
    /// A row's rank in the walk: smaller is met first. Filled dates come before empty ones in the
    /// list's order either way (and after them walking backward); empty ones go by id.
    fn rank(self, decided: Day, id: i64) -> (u8, i64, i64) {
        let walk_ascending = self.ascending == self.forward;
        let segment = u8::from((decided == 0) == self.forward);
        let day = i64::from(decided);
        if walk_ascending {
            (segment, day, id)
        } else {
            (segment, -day, -id)
        }
    }
}

impl FactsIndex {
    /// For each IPRA of `ids`, its measures (only those assigned to `org` when given) and how many
    /// of them are open past their due date on `today`: the counts a page of the register shows,
    /// without reading the page's measures from the database. `None` until the index is loaded or
    /// when an IPRA of `ids` is not in it.
    pub fn page_counts(&self, ids: &[i64], org: Option<&str>, today: &str) -> Option<Vec<(i64, i64)>> {
        let ix = self.read();
        if !ix.loaded {
            return None;
        }
        let today = day_of(Some(today));
        // An organisation the index has never met has no measures of these IPRAs.
        let org = org.map(|code| ix.orgs.get(code));
        ids.iter()
            .map(|&id| {
                let ipra = ix.ipras[ix.slot(id)?];
                let (mut n, mut late) = (0, 0);
                for m in ix.measures_of(&ipra) {
                    if org.is_some_and(|o| o != Some(m.org)) {
                        continue;
                    }
                    n += 1;
                    late += i64::from(m.status == OPEN && m.due != 0 && m.due < today);
                }
                Some((n, late))
            })
            .collect()
    }

    /// The IPRAs matching `facets`, counted exactly; `None` until the index has been loaded.
    /// Kept per facets until the index changes (a list asks once per page).
    pub fn facet_match(&self, facets: &Facets, limit: usize) -> Option<FacetMatch> {
        if !self.loaded.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        Some(self.kept(&self.matches_kept, format!("{facets:?}|{limit}"), |ix| {
            match_facets(ix, facets, limit)
        }))
    }

    /// The first `take` IPRAs matching `facets` in the default order walked as `order` says,
    /// after the position `after` (its decision day, 0 for none, and id), in walking order:
    /// a page of a long facet list without walking the database's index. `None` until the index
    /// is loaded, or when a decision date was met that the index cannot order as the register does.
    pub fn facet_page(
        &self,
        facets: &Facets,
        order: DecisionOrder,
        after: Option<(Day, i64)>,
        take: usize,
    ) -> Option<Vec<i64>> {
        let ix = self.read();
        if !ix.loaded || ix.decisions_unordered {
            return None;
        }
        let Some(matcher) = Matcher::new(&ix, facets) else {
            return Some(Vec::new());
        };
        let after = after.map(|(day, id)| order.rank(day, id));
        Some(match self.decision_walk(&ix) {
            Some(walk) => walk.page(&ix, &matcher, order, after, take),
            None => page_by_pass(&ix, &matcher, order, after, take),
        })
    }

    /// The default order's permutation of the index as it is now, when one is kept or the
    /// version has held for [`WALK_SETTLE`] (then built: a sort of the IPRAs); `ix` is the index
    /// read under the version checked.
    fn decision_walk(&self, ix: &Index) -> Option<Arc<DecisionWalk>> {
        let version = self.version.load(std::sync::atomic::Ordering::SeqCst);
        let mut kept = self.walk_kept.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((v, walk)) = &kept.walk {
            if *v == version {
                return Some(walk.clone());
            }
        }
        match kept.seen {
            Some((v, since)) if v == version && since.elapsed() >= WALK_SETTLE => {}
            Some((v, _)) if v == version => return None,
            _ => {
                kept.seen = Some((version, Instant::now()));
                return None;
            }
        }
        let walk = Arc::new(DecisionWalk::of(ix));
        kept.walk = Some((version, walk.clone()));
        Some(walk)
    }
}

/// A facet page by one pass over the whole index, keeping the `take` smallest ranks after `after`.
fn page_by_pass(
    ix: &Index,
    matcher: &Matcher<'_>,
    order: DecisionOrder,
    after: Option<(u8, i64, i64)>,
    take: usize,
) -> Vec<i64> {
    // The `take` smallest ranks met so far, the largest of them on top.
    let mut best: std::collections::BinaryHeap<((u8, i64, i64), u32)> =
        std::collections::BinaryHeap::with_capacity(take.min(1024) + 1);
    for ipra in ix.ipras.iter() {
        if ipra.flags & LIVE == 0 {
            continue;
        }
        let rank = order.rank(ipra.decided, i64::from(ipra.id));
        if after.is_some_and(|a| rank <= a) || (best.len() >= take && best.peek().is_some_and(|(top, _)| rank >= *top))
        {
            continue;
        }
        if !matcher.has_initial(ipra) || !matcher.matches(ix, ipra) {
            continue;
        }
        best.push((rank, ipra.id));
        if best.len() > take {
            best.pop();
        }
    }
    best.into_sorted_vec()
        .into_iter()
        .map(|(_, id)| i64::from(id))
        .collect()
}

impl DecisionWalk {
    fn of(ix: &Index) -> DecisionWalk {
        let mut positions: Vec<u32> = (0..ix.ipras.len() as u32).collect();
        positions.sort_unstable_by_key(|&p| {
            let ipra = &ix.ipras[p as usize];
            (ipra.decided == 0, ipra.decided, ipra.id)
        });
        let dated = positions.partition_point(|&p| ix.ipras[p as usize].decided != 0);
        DecisionWalk { positions, dated }
    }

    /// The walk `order` makes: its two segments, each read forward or backward, in increasing
    /// rank (see [`DecisionOrder::rank`]).
    fn segments(&self, order: DecisionOrder) -> [(&[u32], bool); 2] {
        let (dated, undated) = self.positions.split_at(self.dated);
        let walk_ascending = order.ascending == order.forward;
        let reversed = !walk_ascending;
        if order.forward {
            [(dated, reversed), (undated, reversed)]
        } else {
            [(undated, reversed), (dated, reversed)]
        }
    }

    /// The first `take` IPRAs matching after `after`, reading only from the position after it
    /// until enough are found: a page costs what the matches before it take, not the register.
    fn page(
        &self,
        ix: &Index,
        matcher: &Matcher<'_>,
        order: DecisionOrder,
        after: Option<(u8, i64, i64)>,
        take: usize,
    ) -> Vec<i64> {
        let rank = |p: u32| {
            let ipra = &ix.ipras[p as usize];
            order.rank(ipra.decided, i64::from(ipra.id))
        };
        let mut found = Vec::with_capacity(take.min(1024));
        for (segment, reversed) in self.segments(order) {
            // Ranks increase along the walk: the first position past `after` is found by halving.
            let at = |i: usize| {
                if reversed {
                    segment[segment.len() - 1 - i]
                } else {
                    segment[i]
                }
            };
            let mut start = 0;
            if let Some(a) = after {
                let (mut lo, mut hi) = (0, segment.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if rank(at(mid)) <= a {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                start = lo;
            }
            for i in start..segment.len() {
                if found.len() >= take {
                    return found;
                }
                let ipra = &ix.ipras[at(i) as usize];
                if ipra.flags & LIVE != 0 && matcher.has_initial(ipra) && matcher.matches(ix, ipra) {
                    found.push(i64::from(ipra.id));
                }
            }
        }
        found
    }
}

/// The IPRAs matching `facets` in one pass over the index (see [`FactsIndex::facet_match`]).
fn match_facets(ix: &Index, facets: &Facets, limit: usize) -> FacetMatch {
    let Some(matcher) = Matcher::new(ix, facets) else {
        return FacetMatch {
            count: 0,
            narrowed: 0,
            ids: Some(Vec::new()),
        };
    };
    let (mut count, mut narrowed) = (0usize, 0usize);
    let mut ids = Vec::new();
    for ipra in ix.ipras.iter() {
        if ipra.flags & LIVE == 0 || !matcher.matches(ix, ipra) {
            continue;
        }
        count += 1;
        if !matcher.has_initial(ipra) {
            continue;
        }
        narrowed += 1;
        if narrowed <= limit {
            ids.push(i64::from(ipra.id));
        }
    }
    FacetMatch {
        count,
        narrowed,
        ids: (narrowed <= limit).then_some(ids),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loads_overdue_figures_are_kept_for_the_day_until_it_changes() {
        let measure = |due: Day| MeasureFact {
            org: 1,
            due,
            reasons: 0,
            section: 1,
            status: OPEN,
        };
        let mut load = Load::default();
        load.add(&measure(100), true, 1);
        load.add(&measure(120), true, 1);
        assert_eq!(load.overdue(110), (1, Some(100)));
        assert_eq!(load.overdue(110), (1, Some(100)), "as kept");
        assert_eq!(load.overdue(130), (2, Some(100)), "another day");
        load.add(&measure(90), true, 1);
        assert_eq!(load.overdue(130), (3, Some(90)), "a change forgets what was kept");
        load.add(&measure(90), true, -1);
        load.add(&measure(100), true, -1);
        assert_eq!(load.overdue(130), (1, Some(120)));
        assert_eq!(load.overdue(50), (0, None));
        assert_eq!(load.clone().overdue(50), (0, None), "a copy keeps it too");
    }

    /// A register of random IPRAs: persons with one or two, measures of every section and
    /// status, due dates around the days the statistics are asked for, reasons, organisations.
    fn random_index(seed: u64) -> Index {
        let mut state = seed;
        let mut next = move |n: u64| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) % n.max(1)
        };
        let mut ix = Index {
            loaded: true,
            ..Index::default()
        };
        let sections = [
            "health",
            "employment",
            "education",
            "social-protection",
            "sport",
            "tsr",
            "",
        ];
        let reasons = ["refused", "moved", "other"];
        // More than one core's share, so that both halves and their sum are exercised.
        for id in 1..=60_000i64 {
            // Persons of one or two IPRAs; and five of about 120 each, in more territories and
            // months than a pass keeps in place for a person (`KEPT`).
            let person = if id % 97 == 0 {
                200_000 + (id % 5) as u32
            } else {
                (id as u32).div_ceil(2) + (next(3) as u32) * 40_000
            };
            let day = 9_000 + next(400) as Day;
            let territory = ix.territories.id(Some(
                ["a", "b", "c", "d", "e"][next(if id % 97 == 0 { 5 } else { 3 }) as usize],
            ));
            let flags = [ACTIVE, ACTIVE, SUPERSEDED, 0][next(4) as usize]
                | if next(5) == 0 { CHILD } else { 0 }
                | if next(7) == 0 { EARLY } else { 0 };
            // Target groups: none for most, one or two for some.
            let mut groups = 0u64;
            for _ in 0..[0, 0, 1, 2][next(4) as usize] {
                groups |= 1 << ix.groups.id(Some(["g1", "g2", "g3"][next(3) as usize]));
            }
            ix.insert_bare(id, person, day, territory, 0, Ok(day), flags, groups);
            let slot = ix.slot(id).unwrap();
            for _ in 0..next(12) {
                let status = [OPEN, OPEN, EXECUTED, NOT_EXECUTED, CLOSED][next(5) as usize];
                let codes: Vec<String> = (0..next(3)).map(|_| reasons[next(3) as usize].to_string()).collect();
                let reasons = if status == NOT_EXECUTED {
                    ix.reason_set(&codes)
                } else {
                    0
                };
                let fact = MeasureFact {
                    org: ix.orgs.id(Some(["o1", "o2", "o3", ""][next(4) as usize])),
                    due: if next(6) == 0 { 0 } else { 9_100 + next(300) as Day },
                    reasons,
                    section: ix.sections.id_of(sections[next(7) as usize]) as u8,
                    status,
                };
                ix.append_measure(slot, fact);
            }
        }
        for slot in 0..ix.ipras.len() {
            ix.count_load(slot, 1);
        }
        ix
    }

    /// The plainest pass: every measure's state and bits one by one, on one core, every person
    /// counted through sets of their own.
    fn reference(
        ix: &Index,
        filter: &StatsFilter,
        today: &str,
        reasons: &[(String, String)],
    ) -> (Statistics, ChartData) {
        let scope = Scope::of(ix, filter, today);
        let tables = Tables::of(ix);
        let mut t = Tally::new(ix, 0);
        // Each person's bits, and the distinct (key, person) pairs of each breakdown.
        let mut persons: HashMap<u32, u128> = HashMap::new();
        let mut territory_persons = HashSet::new();
        let mut month_persons = HashSet::new();
        let mut group_persons = HashSet::new();
        let mut early_persons = HashSet::new();
        for ipra in &ix.ipras {
            if !scope.takes(ipra) {
                continue;
            }
            t.extracts += 1;
            let (child, active) = (ipra.flags & CHILD != 0, ipra.flags & ACTIVE != 0);
            let mut bits = 1u128 << F_ALL | 1u128 << if child { F_CHILD } else { F_ADULT };
            let mut scoped = 0;
            for m in ix.measures_of(ipra) {
                if scope.section.is_some_and(|s| m.section != s) || scope.org.is_some_and(|o| m.org != o) {
                    continue;
                }
                scoped += 1;
                let late = m.status == OPEN && m.due != 0 && m.due < scope.today;
                let key = state_key(m.section, m.status, active, late, child);
                t.state_count[key] += 1;
                bits |= tables.state[key];
                if m.status == NOT_EXECUTED && m.reasons != 0 {
                    t.reason_count[usize::from(m.reasons)] += 1;
                    bits |= tables.reasons[usize::from(m.reasons)];
                }
                if m.status == OPEN && active && late {
                    t.section_late[usize::from(m.section)] += 1;
                }
            }
            *persons.entry(ipra.person).or_insert(0) |= bits;
            t.by_territory[usize::from(ipra.territory)].0 += 1;
            t.by_territory[usize::from(ipra.territory)].1 += scoped;
            territory_persons.insert((ipra.territory, ipra.person));
            t.by_month[usize::from(ipra.month)].0 += 1;
            t.by_month[usize::from(ipra.month)].1 += scoped;
            month_persons.insert((ipra.month, ipra.person));
            for g in 0..64u16 {
                if ipra.groups & 1 << g != 0 {
                    t.by_group[usize::from(g)].0 += 1;
                    t.by_group[usize::from(g)].1 += scoped;
                    group_persons.insert((g, ipra.person));
                }
            }
            if ipra.flags & EARLY != 0 {
                t.early.0 += 1;
                t.early.1 += scoped;
                early_persons.insert((0u16, ipra.person));
            }
        }
        for bits in persons.values() {
            add_bits(&mut t.persons, *bits, 1);
        }
        for (pairs, counts) in [
            (territory_persons, &mut t.territory_persons),
            (month_persons, &mut t.month_persons),
            (group_persons, &mut t.group_persons),
        ] {
            for (key, _) in pairs {
                counts[usize::from(key)] += 1;
            }
        }
        t.early_persons = early_persons.len() as i64;
        finish(ix, filter, today, reasons, &tables, t)
    }

    /// A facet page read along the default order's permutation is the page one pass over the
    /// whole index finds: every facet, every walk, every position, dates and no dates.
    #[test]
    fn a_facet_page_along_the_order_is_the_page_of_a_whole_pass() {
        let mut ix = random_index(11);
        for (n, ipra) in ix.ipras.iter_mut().enumerate() {
            // Some IPRAs without a decision, many sharing a day.
            if n % 7 == 0 {
                ipra.decided = 0;
            } else {
                ipra.decided = 9_000 + (ipra.decided % 40);
            }
        }
        let walk = DecisionWalk::of(&ix);
        let facet_sets = [
            Facets::default(),
            Facets {
                section: Some("health".into()),
                ..Facets::default()
            },
            Facets {
                organisations: vec!["o2".into()],
                status: Some("active".into()),
                ..Facets::default()
            },
            Facets {
                overdue: Some(("2025-06-01".into(), Some("o1".into()))),
                territory: Some("b".into()),
                ..Facets::default()
            },
        ];
        for facets in &facet_sets {
            let matcher = Matcher::new(&ix, facets).expect("facets the index knows");
            for (ascending, forward) in [(true, true), (true, false), (false, true), (false, false)] {
                let order = DecisionOrder { ascending, forward };
                let all = page_by_pass(&ix, &matcher, order, None, usize::MAX);
                assert_eq!(
                    walk.page(&ix, &matcher, order, None, usize::MAX),
                    all,
                    "{facets:?} {order:?}"
                );
                for take in [1, 10, 50] {
                    for start in [0, 1, all.len() / 3, all.len() / 2, all.len().saturating_sub(3)] {
                        let after = (start > 0).then(|| {
                            let ipra = &ix.ipras[ix.slot(all[start - 1]).unwrap()];
                            order.rank(ipra.decided, i64::from(ipra.id))
                        });
                        assert_eq!(
                            walk.page(&ix, &matcher, order, after, take),
                            page_by_pass(&ix, &matcher, order, after, take),
                            "{facets:?} {order:?} take {take} after position {start}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn the_two_core_pass_equals_the_plainest_one() {
        let reasons: Vec<(String, String)> = ["refused", "moved", "other", "never"]
            .iter()
            .map(|c| (c.to_string(), c.to_uppercase()))
            .collect();
        for seed in 1..4 {
            let ix = random_index(seed);
            for today in [9_050, 9_150, 9_250, 9_500] {
                let today = date_of(today);
                for filter in [
                    StatsFilter::default(),
                    StatsFilter {
                        section: Some("tsr".into()),
                        ..Default::default()
                    },
                    StatsFilter {
                        section: Some(String::new()),
                        territory: Some("b".into()),
                        ..Default::default()
                    },
                    StatsFilter {
                        from: Some(date_of(9_100)),
                        to: Some(date_of(9_300)),
                        ..Default::default()
                    },
                    StatsFilter {
                        organisation: Some("o2".into()),
                        ..Default::default()
                    },
                ] {
                    let fast = compute_statistics(&ix, &filter, &today, &reasons);
                    let slow = reference(&ix, &filter, &today, &reasons);
                    assert_eq!(
                        serde_json::to_value(&fast.0).unwrap(),
                        serde_json::to_value(&slow.0).unwrap(),
                        "seed {seed}, {today}, {filter:?}"
                    );
                    assert_eq!(
                        serde_json::to_value(&fast.1).unwrap(),
                        serde_json::to_value(&slow.1).unwrap(),
                        "charts: seed {seed}, {today}, {filter:?}"
                    );
                }
            }
        }
    }

    /// IPRAs moved from person to person (a correction of the person's identity does so): persons
    /// gain and lose their second IPRA, their numbers are set free and given again, and a pass
    /// still counts every person once.
    #[test]
    fn the_pass_counts_persons_right_as_their_ipras_move_between_them() {
        let mut ix = random_index(5);
        let mut state = 99u64;
        for round in 0..4 {
            for _ in 0..3_000 {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let slot = (state >> 33) as usize % ix.ipras.len();
                let old = ix.ipras[slot].person;
                // Onto a person of one IPRA, of two, a new one, or one of the many.
                let new = match (state >> 20) % 4 {
                    0 => old + 1,
                    1 => 1 + (state >> 40) as u32 % 30_000,
                    2 => 300_000 + (state >> 40) as u32 % 50_000,
                    _ => 200_000 + (state >> 40) as u32 % 5,
                };
                ix.forget_person(old, slot as u32);
                ix.ipras[slot].person = new;
                ix.add_person(new, slot as u32);
            }
            let numbered: HashSet<u32> = ix.multi.values().map(|m| m.ordinal).collect();
            assert_eq!(numbered.len(), ix.multi.len(), "round {round}: one number a person");
            for m in ix.multi.values() {
                assert!(m.ordinal < ix.ordinals);
                for s in &m.slots {
                    let ipra = &ix.ipras[*s as usize];
                    assert!(ipra.flags & MULTI != 0 && ipra.mult == m.ordinal, "round {round}");
                }
            }
            for filter in [
                StatsFilter::default(),
                StatsFilter {
                    territory: Some("d".into()),
                    ..Default::default()
                },
                StatsFilter {
                    from: Some(date_of(9_100)),
                    to: Some(date_of(9_300)),
                    ..Default::default()
                },
            ] {
                let today = date_of(9_200);
                let fast = compute_statistics(&ix, &filter, &today, &[]);
                let slow = reference(&ix, &filter, &today, &[]);
                assert_eq!(
                    serde_json::to_value(&fast).unwrap(),
                    serde_json::to_value(&slow).unwrap(),
                    "round {round}, {filter:?}"
                );
            }
        }
    }

    #[tokio::test]
    async fn the_journal_is_pruned_in_chunks_down_to_what_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::db::default_url(dir.path())).await.unwrap();
        let entries = 2 * PRUNE_CHUNK + 123;
        sqlx::query(
            "WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < $1) \
             INSERT INTO register_changes (ipra_id) SELECT k FROM n",
        )
        .bind(entries)
        .execute(&db.pool)
        .await
        .unwrap();
        let count = |sql: &'static str| {
            let db = &db;
            async move {
                sqlx::query(sql)
                    .fetch_one(&db.pool)
                    .await
                    .unwrap()
                    .try_get::<i64, _>("n")
                    .unwrap()
            }
        };
        let max = count("SELECT MAX(seq) AS n FROM register_changes").await;
        assert_eq!(prune_journal(&db, 1_000).await.unwrap(), (entries - 1_000) as u64);
        assert_eq!(count("SELECT COUNT(*) AS n FROM register_changes").await, 1_000);
        assert_eq!(count("SELECT MIN(seq) AS n FROM register_changes").await, max - 999);
        assert_eq!(prune_journal(&db, 1_000).await.unwrap(), 0);
    }

    #[test]
    fn a_figure_asked_for_together_is_computed_once() {
        let facts = Arc::new(FactsIndex::default());
        let passes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let start = Arc::new(std::sync::Barrier::new(8));
        let askers: Vec<_> = (0..8)
            .map(|_| {
                let (facts, passes, start) = (facts.clone(), passes.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    facts.kept(&facts.size_kept, String::new(), |ix| {
                        passes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        std::thread::sleep(Duration::from_millis(50));
                        IndexSize {
                            ipras: ix.ipras.len(),
                            measures: ix.measures.len(),
                        }
                    })
                })
            })
            .collect();
        for asker in askers {
            asker.join().unwrap();
        }
        assert_eq!(passes.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A change of the index forgets the figure: the next question computes it again.
        facts.publish(Index::default());
        facts.kept(&facts.size_kept, String::new(), |ix| {
            passes.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            IndexSize {
                ipras: ix.ipras.len(),
                measures: 0,
            }
        });
        assert_eq!(passes.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[test]
    fn days_round_trip_through_dates() {
        for text in ["2000-01-01", "2026-11-20", "2099-12-31"] {
            assert_eq!(date_of(day_of(Some(text))), text);
        }
        assert_eq!(day_of(None), 0);
        assert_eq!(day_of(Some("вчера")), 0);
        assert_eq!(day_of(Some("1999-05-01")), 1);
    }
}
