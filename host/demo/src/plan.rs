//! What one generated extract contains: person, IPRA dates and numbers, how many records of each kind.
//! Everything is derived from (seed, index) alone, so any extract can be produced without its predecessors.

use crate::catalog::{self, TERRITORIES};
use crate::checksum::snils_control;
use crate::date::{Date, Moment};
use crate::rng::{below, hash2, hash3, Rng};
use crate::template::Repeat;
use crate::DemoOptions;

/// IPRA document version of an extract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    V20160101,
    V20170812,
    V20190101,
    V20221024,
}

impl Version {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Version::V20160101 => "IPRA_20160101",
            Version::V20170812 => "IPRA_20170812",
            Version::V20190101 => "IPRA_20190101",
            Version::V20221024 => "IPRA_20221024",
        }
    }

    /// The form in force on a protocol date.
    fn for_date(date: Date) -> Version {
        if date < Date::ymd(2017, 8, 12) {
            Version::V20160101
        } else if date < Date::ymd(2019, 1, 1) {
            Version::V20170812
        } else if date < Date::ymd(2023, 1, 1) {
            Version::V20190101
        } else {
            Version::V20221024
        }
    }
}

// Tags that keep the independent random streams of one extract apart.
const TAG_PERSON: u64 = 0x5045_5253;
const TAG_CHILD: u64 = 0x4348_494C;
const TAG_PROTOCOL: u64 = 0x5052_4F54;
const TAG_CANDIDATE: u64 = 0x4341_4E44;
const TAG_TARGET: u64 = 0x5441_5247;
const TAG_IPRA: u64 = 0x4950_5241;
const TAG_SNILS: u64 = 0x534E_494C;

/// How far back a superseding extract may look for the IPRA it replaces.
const SUPERSEDE_WINDOW: u64 = 64;

/// Latest protocol date generated for a superseding IPRA.
fn last_protocol() -> Date {
    Date::ymd(2025, 12, 15)
}

pub(crate) struct Person {
    pub(crate) index: usize,
    pub(crate) snils: [u8; 11],
    pub(crate) female: bool,
    pub(crate) last: &'static str,
    pub(crate) first: &'static str,
    pub(crate) middle: &'static str,
    pub(crate) birth: Date,
    pub(crate) territory: usize,
    pub(crate) street: &'static str,
    pub(crate) house: u64,
    pub(crate) flat: u64,
    pub(crate) zip: u64,
    pub(crate) guid_seed: u64,
    pub(crate) phone: u64,
    pub(crate) birth_place: &'static str,
    pub(crate) occupation: usize,
    pub(crate) employer: usize,
    pub(crate) registered: Moment,
    pub(crate) rep_female: bool,
    pub(crate) rep_first: &'static str,
    pub(crate) rep_middle: &'static str,
    pub(crate) rep_birth: Date,
    pub(crate) rep_snils: [u8; 11],
    pub(crate) id_series: u64,
    pub(crate) id_number: u64,
}

impl Person {
    pub(crate) fn territory(&self) -> &'static catalog::Territory {
        &TERRITORIES[self.territory]
    }

    pub(crate) fn snils_digits(&self) -> String {
        self.snils.iter().map(|d| char::from(b'0' + d)).collect()
    }

    pub(crate) fn rep_last(&self) -> &'static str {
        surname_pair(self.last)
            .map(|(m, f)| if self.rep_female { f } else { m })
            .unwrap_or(self.last)
    }
}

fn surname_pair(form: &str) -> Option<(&'static str, &'static str)> {
    catalog::SURNAMES
        .iter()
        .copied()
        .find(|(m, f)| *m == form || *f == form)
}

/// The earlier IPRA a superseding one replaces.
pub(crate) struct Prior {
    pub(crate) index: usize,
    pub(crate) number: String,
    pub(crate) issue: Date,
    pub(crate) doc_id: u128,
}

pub(crate) struct Ipra {
    pub(crate) seq: u64,
    pub(crate) number: String,
    pub(crate) protocol_number: String,
    pub(crate) protocol: Date,
    pub(crate) exam: Date,
    pub(crate) issue: Date,
    pub(crate) registered: Moment,
    pub(crate) extract_time: Moment,
    pub(crate) child: bool,
    pub(crate) age_years: i32,
    pub(crate) age_months: i32,
    pub(crate) group: usize,
    pub(crate) reason: usize,
    pub(crate) is_first: bool,
    pub(crate) dis_start: Date,
    /// `None`: disability established without an end date.
    pub(crate) dis_end: Option<Date>,
    pub(crate) end_class: &'static str,
    pub(crate) prognoz: usize,
    pub(crate) potential: usize,
    pub(crate) location: usize,
    pub(crate) doc_id: u128,
    pub(crate) key: u128,
    pub(crate) act_doc_id: u128,
    pub(crate) act_key: u128,
    pub(crate) act_number: String,
    pub(crate) cert_series: String,
    pub(crate) cert_number: u64,
    pub(crate) buro: u64,
}

/// How many records of each repeatable kind the extract carries.
#[derive(Default)]
pub(crate) struct Counts {
    pub(crate) phones: u32,
    pub(crate) med: u32,
    pub(crate) prof: u32,
    pub(crate) social: u32,
    pub(crate) psychoped: u32,
    pub(crate) sport: u32,
    pub(crate) services: u32,
    pub(crate) tsr_fed: u32,
    pub(crate) tsr_reg: u32,
    pub(crate) tsr_own: u32,
    pub(crate) tsr_local: u32,
    pub(crate) msk: u32,
    pub(crate) help: u32,
    pub(crate) rep: u32,
    pub(crate) working_age: u32,
    pub(crate) prof_cond: u32,
    pub(crate) stage_loss: u32,
    pub(crate) life: u32,
    pub(crate) housing: u32,
    pub(crate) wp_rec: u32,
    pub(crate) tsr_services: u32,
}

impl Counts {
    pub(crate) fn of(&self, repeat: Repeat, resoc: u32, seed: u64) -> u32 {
        match repeat {
            Repeat::Once => 1,
            Repeat::Never => 0,
            Repeat::Phones => self.phones,
            Repeat::Med => self.med,
            Repeat::Prof => self.prof,
            Repeat::Social => self.social,
            Repeat::Psychoped => self.psychoped,
            Repeat::Sport => self.sport,
            Repeat::Services => self.services,
            Repeat::TsrFed => self.tsr_fed,
            Repeat::Msk => self.msk,
            Repeat::TsrReg => self.tsr_reg,
            Repeat::TsrOwn => self.tsr_own,
            Repeat::TsrLocal => self.tsr_local,
            Repeat::Help => self.help,
            Repeat::Rep => self.rep,
            Repeat::WorkingAge => self.working_age,
            Repeat::ProfCond => self.prof_cond,
            Repeat::StageLoss => self.stage_loss,
            Repeat::Life => self.life,
            Repeat::Housing => self.housing,
            Repeat::WpRec => self.wp_rec,
            Repeat::Rehab => self.med + self.psychoped + self.prof + self.social + self.sport,
            Repeat::TsrItems => self.tsr_fed + self.tsr_reg + self.tsr_own,
            Repeat::TsrParams => self.tsr_fed,
            Repeat::TsrServices => self.tsr_services,
            // Each execution report carries one or both of its categories.
            Repeat::ResocEnv => u32::from(below(hash2(seed, u64::from(resoc)), 3) != 2),
            Repeat::ResocPsy => {
                if below(hash2(seed, u64::from(resoc)), 3) == 2 {
                    1
                } else {
                    below(hash3(seed, u64::from(resoc), 1), 2) as u32
                }
            }
        }
    }
}

pub(crate) struct Plan {
    pub(crate) seed: u64,
    pub(crate) version: Version,
    pub(crate) person: Person,
    pub(crate) ipra: Ipra,
    pub(crate) counts: Counts,
    pub(crate) act: bool,
    pub(crate) resoc: u32,
    pub(crate) prior: Option<Prior>,
}

/// Whether extract `i` wants to supersede an earlier one (before conflicts are resolved).
fn is_candidate(opts: &DemoOptions, i: usize) -> bool {
    // Some candidates lose (their target is taken or is itself a candidate); aim a little high.
    let per_mille = u64::from(opts.supersede_percent.min(50)) * 118 / 10;
    i > 0 && below(hash2(opts.seed ^ TAG_CANDIDATE, i as u64), 1000) < per_mille
}

fn target_of(opts: &DemoOptions, i: usize) -> usize {
    let span = SUPERSEDE_WINDOW.min(i as u64).max(1);
    i - 1 - below(hash2(opts.seed ^ TAG_TARGET, i as u64), span) as usize
}

/// The index of the extract that extract `i` supersedes, if any. The target is always an original
/// (not itself superseding) and is claimed by at most one later extract: the first candidate wins.
pub(crate) fn supersedes(opts: &DemoOptions, i: usize) -> Option<usize> {
    if !is_candidate(opts, i) {
        return None;
    }
    let j = target_of(opts, i);
    if is_candidate(opts, j) {
        return None;
    }
    let earlier_claim = (j + 1..i).any(|k| is_candidate(opts, k) && target_of(opts, k) == j);
    (!earlier_claim).then_some(j)
}

/// Protocol date of an original (non-superseding) extract.
fn original_protocol(opts: &DemoOptions, i: usize) -> Date {
    let mut rng = Rng::new(hash2(opts.seed ^ TAG_PROTOCOL, i as u64));
    // Mostly the 2019 and 2022 forms, as in a register that is a few years old.
    let eras = [
        (Date::ymd(2016, 3, 1), Date::ymd(2017, 8, 11)),
        (Date::ymd(2017, 8, 12), Date::ymd(2018, 12, 31)),
        (Date::ymd(2019, 1, 1), Date::ymd(2022, 12, 31)),
        (Date::ymd(2023, 1, 1), Date::ymd(2025, 6, 30)),
    ];
    let (from, to) = eras[rng.weighted(&[4, 6, 45, 45])];
    from.add_days(rng.below((to.0 - from.0 + 1) as u64) as i32)
}

fn person_is_child(opts: &DemoOptions, p: usize) -> bool {
    below(hash2(opts.seed ^ TAG_CHILD, p as u64), 100) < u64::from(opts.child_percent.min(100))
}

/// SNILS of person `p`: a keyed permutation of the index onto 001-002-000…999-999-999 (so two
/// persons of one run never share a number and neighbours do not look alike), then the control number.
pub(crate) fn snils_of(seed: u64, p: u64) -> [u8; 11] {
    const LOW: u64 = 1_002_000;
    const SPAN: u64 = 1_000_000_000 - LOW;
    // A 4-round Feistel network permutes 30-bit numbers; cycle-walking keeps it inside SPAN.
    let key = hash2(seed ^ TAG_SNILS, 0);
    let permute = |x: u64| {
        let (mut left, mut right) = (x >> 15, x & 0x7FFF);
        for round in 0..4 {
            let f = hash3(key, round, right) & 0x7FFF;
            (left, right) = (right, left ^ f);
        }
        left << 15 | right
    };
    let mut n = p % SPAN;
    loop {
        n = permute(n);
        if n < SPAN {
            break;
        }
    }
    let mut out = [0u8; 11];
    let mut rest = LOW + n;
    for slot in out[..9].iter_mut().rev() {
        *slot = (rest % 10) as u8;
        rest /= 10;
    }
    let mut nine = [0u8; 9];
    nine.copy_from_slice(&out[..9]);
    let control = snils_control(&nine);
    out[9] = control / 10;
    out[10] = control % 10;
    out
}

fn make_person(opts: &DemoOptions, p: usize, first_protocol: Date, child: bool) -> Person {
    let mut rng = Rng::new(hash2(opts.seed ^ TAG_PERSON, p as u64));
    let female = rng.percent(52);
    let (male_last, female_last) = *rng.pick(catalog::SURNAMES);
    let (male_middle, female_middle) = *rng.pick(catalog::PATRONYMICS);
    let first = if female {
        *rng.pick(catalog::FEMALE_NAMES)
    } else {
        *rng.pick(catalog::MALE_NAMES)
    };
    // Age at the first protocol: children 0–17; adults weighted towards older ages, as in real registers.
    let age = if child {
        rng.below(18) as i32
    } else {
        (18 + (rng.below(40) + rng.below(40)) as i32).min(90)
    };
    let birth = first_protocol.add_years(-(age + 1)).add_days(1 + rng.below(364) as i32);
    let territory = rng.weighted(&catalog::TERRITORY_WEIGHTS);
    let rep_female = rng.percent(80);
    let rep_first = if rep_female {
        *rng.pick(catalog::FEMALE_NAMES)
    } else {
        *rng.pick(catalog::MALE_NAMES)
    };
    let (rm, rf) = *rng.pick(catalog::PATRONYMICS);
    let rep_birth = birth
        .add_years(-(20 + rng.below(20) as i32))
        .add_days(rng.below(365) as i32);
    Person {
        index: p,
        snils: snils_of(opts.seed, p as u64),
        female,
        last: if female { female_last } else { male_last },
        first,
        middle: if female { female_middle } else { male_middle },
        birth,
        territory,
        street: rng.pick::<&str>(catalog::STREETS),
        house: 1 + rng.below(120),
        flat: 1 + rng.below(180),
        zip: u64::from(TERRITORIES[territory].zip) * 100 + rng.below(100),
        guid_seed: rng.next_u64(),
        phone: 89_000_000_000 + rng.below(1_000_000_000),
        birth_place: rng.pick::<&str>(catalog::BIRTH_PLACES),
        occupation: rng.below(catalog::OCCUPATIONS.len() as u64) as usize,
        employer: rng.below(catalog::EMPLOYERS.len() as u64) as usize,
        registered: Moment {
            date: first_protocol.add_days(2 + rng.below(10) as i32),
            seconds: rng.below(86_400) as u32,
        },
        rep_female,
        rep_first,
        rep_middle: if rep_female { rf } else { rm },
        rep_birth,
        rep_snils: snils_of(opts.seed ^ 0x5245_5052, p as u64),
        id_series: 9200 + rng.below(100),
        id_number: 100_000 + rng.below(900_000),
    }
}

impl Plan {
    pub(crate) fn new(opts: &DemoOptions, index: usize) -> Plan {
        let seed = hash2(opts.seed ^ TAG_IPRA, index as u64);
        let prior_index = supersedes(opts, index);
        let person_index = prior_index.unwrap_or(index);
        let first_protocol = original_protocol(opts, person_index);
        let person = make_person(opts, person_index, first_protocol, person_is_child(opts, person_index));
        let mut rng = Rng::new(seed);
        let (protocol, prior) = match prior_index {
            Some(j) => {
                let span = (last_protocol().0 - first_protocol.0 - 30).clamp(1, 870) as u64;
                let protocol = first_protocol.add_days(30 + rng.below(span) as i32);
                // The prior IPRA's number and dates are re-derived, not remembered: O(1) memory.
                let prior_plan = Plan::new(opts, j);
                let prior = Prior {
                    index: j,
                    number: prior_plan.ipra.number,
                    issue: prior_plan.ipra.issue,
                    doc_id: prior_plan.ipra.doc_id,
                };
                (protocol, Some(prior))
            }
            None => (first_protocol, None),
        };
        let version = Version::for_date(protocol);
        let ipra = make_ipra(&mut rng, index, &person, protocol, prior.is_some(), version);
        let counts = make_counts(&mut rng, &ipra, version);
        let act = rng.percent(u64::from(opts.act_percent.min(100)));
        let resoc = if rng.percent(u64::from(opts.execution_report_percent.min(100))) {
            1 + rng.below(2) as u32
        } else {
            0
        };
        Plan {
            seed,
            version,
            person,
            ipra,
            counts,
            act,
            resoc,
            prior,
        }
    }
}

fn make_ipra(
    rng: &mut Rng,
    index: usize,
    person: &Person,
    protocol: Date,
    superseding: bool,
    version: Version,
) -> Ipra {
    let seq = index as u64 + 1;
    let age_years = person.birth.years_until(protocol);
    let child = age_years < 18;
    let buro = 1 + person.territory as u64 * 3 + rng.below(3);
    let year = protocol.year();
    let (number, protocol_number) = if version == Version::V20221024 {
        (
            format!("ИПРА-{:03}-{seq:09}", 500 + buro),
            format!("ППМСЭ-{:03}-{seq:09}", 400 + buro),
        )
    } else {
        (format!("{seq}.{buro}.16/{year}"), format!("П.{seq}.{buro}.16/{year}"))
    };
    let exam = protocol.add_days(-(rng.below(4) as i32));
    let issue = protocol.add_days(rng.below(15) as i32);
    let registered = Moment {
        date: issue.add_days(1 + rng.below(20) as i32),
        seconds: 28_800 + rng.below(36_000) as u32,
    };
    let extract_time = registered.plus_seconds(600 + rng.below(30 * 86_400) as u32);
    let group = if child { 3 } else { rng.weighted(&[15, 45, 40]) };
    let reason = if child { 5 } else { rng.weighted(&[70, 12, 6, 4, 8]) };
    let is_first = !superseding && rng.percent(40);
    let dis_start = if is_first {
        protocol
    } else {
        protocol
            .add_days(-(365 * (1 + rng.below(8) as i32)))
            .max(person.birth.add_days(30))
    };
    let (dis_end, end_class) = if child {
        (Some(person.birth.add_years(18)), "до достижения возраста 18 лет")
    } else {
        match rng.weighted(&[45, 25, 30]) {
            0 => (Some(protocol.add_years(1)), "на 1 год"),
            1 => (Some(protocol.add_years(2)), "на 2 года"),
            _ => (None, "бессрочно"),
        }
    };
    let key = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
    Ipra {
        seq,
        number,
        protocol_number,
        protocol,
        exam,
        issue,
        registered,
        extract_time,
        child,
        age_years,
        age_months: person.birth.months_until(protocol),
        group,
        reason,
        is_first,
        dis_start,
        dis_end,
        end_class,
        prognoz: rng.weighted(&[30, 40, 20, 10]),
        potential: rng.weighted(&[25, 50, 25]),
        location: usize::from(rng.percent(4)),
        doc_id: u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()),
        key,
        act_doc_id: u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()),
        act_key: u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()),
        act_number: format!("{}.{buro}.16/{year}", 1000 + seq),
        cert_series: format!("МСЭ-{year}"),
        cert_number: 1_000_000 + rng.below(9_000_000),
        buro,
    }
}

fn make_counts(rng: &mut Rng, ipra: &Ipra, version: Version) -> Counts {
    let working_age = ipra.age_years >= 14;
    let mut c = Counts {
        phones: u32::from(rng.percent(80)),
        med: 1 + rng.below(3) as u32,
        prof: if working_age && rng.percent(70) {
            1 + rng.below(2) as u32
        } else {
            0
        },
        social: 1 + rng.below(3) as u32,
        psychoped: if ipra.child {
            1 + rng.below(2) as u32
        } else {
            u32::from(rng.percent(25))
        },
        sport: rng.below(3) as u32,
        services: u32::from(rng.percent(20)),
        tsr_fed: rng.weighted(&[25, 25, 25, 15, 10]) as u32,
        tsr_reg: u32::from(rng.percent(30)),
        tsr_own: u32::from(rng.percent(10)),
        tsr_local: 0,
        msk: if ipra.child { u32::from(rng.percent(30)) } else { 0 },
        help: rng.below(4) as u32,
        rep: u32::from(ipra.child || rng.percent(8)),
        working_age: u32::from(working_age),
        prof_cond: if working_age { 1 + rng.below(2) as u32 } else { 0 },
        stage_loss: u32::from(rng.percent(20)),
        life: 1 + rng.below(4) as u32,
        housing: rng.below(3) as u32,
        wp_rec: if working_age { u32::from(rng.percent(40)) } else { 0 },
        tsr_services: 0,
    };
    if version == Version::V20160101 {
        c.tsr_local = u32::from(rng.percent(20));
    }
    if c.tsr_fed > 0 {
        c.tsr_services = u32::from(rng.percent(30));
    }
    // The 2022 form spends more bytes per measure (executor addresses); keep its sizes in line.
    if version == Version::V20221024 {
        c.med = c.med.min(2);
        c.social = c.social.min(2);
    }
    c
}
