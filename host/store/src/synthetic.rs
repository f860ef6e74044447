//! A synthetic register of a region's shape, written through the register's bulk path: persons,
//! IPRAs (some superseded), measures with their routing, statuses and due dates, execution records,
//! reports, exchange messages, the audit trail, ZAGS records and follow-ups — deterministic by seed.
//!
//! Rows carry what the register's own writes give them (the list's columns of an IPRA as
//! `store::store_ipra` computes them, the journal rows of the triggers), so the lists, the
//! statistics index and the dashboard see what they would after real imports and real work. No
//! extract XML is kept (one small source document per batch stands for them), so a million
//! persons fit on this machine's disk.

use crate::app::App;
use crate::db::Engine;
use crate::register::directory::{self, Organisation};
use crate::register::reference::{self, Entry};
use anyhow::{bail, Context, Result};
use sqlx::{AnyConnection, Row};
use time::{Date, Duration};

/// OGRN of the demo and benchmark regional body that assembles and sends the reports.
pub const DEMO_REGION_OGRN: &str = "1021602830370";

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    #[allow(clippy::should_implement_trait)] // an endless stream of numbers, not an iterator
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: f64) -> bool {
        ((self.next() % 1_000_000) as f64) < percent * 10_000.0
    }

    /// An index drawn by weights.
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        let mut pick = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if pick < u64::from(*w) {
                return i;
            }
            pick -= u64::from(*w);
        }
        weights.len() - 1
    }
}

/// What the generated region looks like.
pub struct Shape {
    pub persons: u64,
    pub seed: u64,
    pub territories: usize,
    /// Persons with a superseded IPRA before the one in force, in percent.
    pub superseded_percent: f64,
    pub deceased_percent: f64,
    pub child_percent: f64,
}

impl Shape {
    pub fn new(persons: u64, seed: u64) -> Shape {
        Shape {
            persons,
            seed,
            territories: 45,
            superseded_percent: 10.0,
            deceased_percent: 2.0,
            child_percent: 15.0,
        }
    }
}

const SECTIONS: [&str; 6] = ["health", "employment", "education", "social-protection", "sport", "tsr"];
/// How often a measure belongs to each section, for an adult and for a child.
const SECTION_WEIGHTS_ADULT: [u32; 6] = [30, 12, 3, 27, 8, 20];
const SECTION_WEIGHTS_CHILD: [u32; 6] = [30, 1, 22, 20, 9, 18];
/// Organisations of each section in a territory (TSR also has one for the whole region).
const ORGS_PER_TERRITORY: [usize; 6] = [22, 2, 8, 5, 3, 2];

const CATEGORIES: [(&str, &str, &[&str]); 6] = [
    (
        "MSE.IPRA.MED",
        "Мероприятия медицинской реабилитации или абилитации",
        &[
            "Медицинская реабилитация",
            "Реконструктивная хирургия",
            "Протезирование и ортезирование",
            "Санаторно-курортное лечение",
        ],
    ),
    (
        "MSE.IPRA.PROF",
        "Мероприятия профессиональной реабилитации или абилитации",
        &[
            "Профессиональная ориентация",
            "Содействие в трудоустройстве",
            "Производственная адаптация",
        ],
    ),
    (
        "MSE.IPRA.PSYCHOPED",
        "Мероприятия психолого-педагогической реабилитации или абилитации",
        &[
            "Психолого-педагогическая помощь",
            "Получение образования",
            "Социально-педагогическая реабилитация",
        ],
    ),
    (
        "MSE.IPRA.SOCIAL",
        "Мероприятия социальной реабилитации или абилитации",
        &[
            "Социально-средовая реабилитация",
            "Социально-психологическая реабилитация",
            "Социокультурная реабилитация",
            "Социально-бытовая адаптация",
        ],
    ),
    (
        "MSE.IPRA.PHYSIOTHERAPY",
        "Физкультурно-оздоровительные мероприятия, занятия спортом",
        &["Занятия физической культурой", "Адаптивная физическая культура"],
    ),
    (
        "MSE.IPRA.TSR",
        "Технические средства реабилитации и услуги",
        &[
            "Кресло-коляска с ручным приводом",
            "Трость опорная",
            "Слуховой аппарат",
            "Абсорбирующее белье",
            "Ортопедическая обувь",
        ],
    ),
];

const SURNAME_ROOTS: &[&str] = &[
    "АБРАМ",
    "АВДЕ",
    "АГАФОН",
    "АКСЕН",
    "АНИСИМ",
    "АНТОН",
    "АРТЕМ",
    "БАРАН",
    "БЕЛЯК",
    "БОГДАН",
    "БОЛОТ",
    "БЫК",
    "ВАСИН",
    "ВЕТР",
    "ВИНОГРАД",
    "ВЛАС",
    "ГАВРИЛ",
    "ГЕРАСИМ",
    "ГОЛУБ",
    "ГОРБУН",
    "ГУСЕВ",
    "ДАНИЛ",
    "ДЕМЕНТЬ",
    "ДЕНИС",
    "ЕВДОКИМ",
    "ЕЛИСЕ",
    "ЕРМАК",
    "ЕФИМ",
    "ЖДАН",
    "ЖУК",
    "ЗВЕР",
    "ЗИМИН",
    "ЗУБ",
    "ИГНАТ",
    "ИЛЬИН",
    "КАЛИН",
    "КАРП",
    "КИРИЛЛ",
    "КЛИМ",
    "КОМАР",
    "КОНДРАТ",
    "КОРНИЛ",
    "КУДРЯВЦ",
    "ЛАВРЕНТЬ",
    "ЛАПИН",
    "ЛЕОНТЬ",
    "ЛУКИН",
    "МАЛЫШ",
    "МАРТЫН",
    "МАТВЕ",
    "МЕДВЕД",
    "МЕЛЬНИК",
    "МИРОН",
    "НАЗАР",
    "НЕСТЕР",
    "ОСИП",
    "ОСТАП",
    "ПАНКРАТ",
    "ПЕСТ",
    "ПОЛЯК",
    "ПРОХОР",
    "РОДИОН",
    "РУСАК",
    "САВЕЛЬ",
    "САМОЙЛ",
    "СЕЛИВАН",
    "СИДОР",
    "СОРОК",
    "СТРЕЛЬЦ",
    "ТАРАС",
    "ТИМОФЕ",
    "ТИХОН",
    "ТРОФИМ",
    "УСТИН",
    "ФАДЕ",
    "ФИЛАТ",
    "ФОМИН",
    "ФРОЛ",
    "ХАРИТОН",
    "ЦВЕТК",
    "ЧЕРН",
    "ШЕСТАК",
    "ЩЕРБАК",
    "ЮДИН",
    "ЯКУШ",
    "ЯШИН",
    "АЙДАР",
    "БУЛАТ",
    "ГАЗИЗ",
    "ДАМИР",
    "ИЛЬДАР",
    "КАМИЛ",
    "МАРАТ",
    "РАМИЛ",
    "РУСТАМ",
    "ТИМУР",
    "ФАРИТ",
    "ШАМИЛ",
];
const SURNAME_ENDINGS: &[(&str, &str)] = &[
    ("ОВ", "ОВА"),
    ("ЕВ", "ЕВА"),
    ("ИН", "ИНА"),
    ("ОВСКИЙ", "ОВСКАЯ"),
    ("ЕНКОВ", "ЕНКОВА"),
    ("ЯНОВ", "ЯНОВА"),
];

/// A person's surname: the demo region's common ones for about 40 % (the largest 1.5 % each), a
/// long tail of rarer ones for the rest, as real registers have.
fn surname(rng: &mut Rng, female: bool) -> String {
    let pools = ipra_demo::name_pools();
    if rng.chance(40.0) {
        // Zipf-like over the common surnames.
        let n = pools.surnames.len() as u64;
        let i = ((rng.below(n * n) as f64).sqrt() as u64).min(n - 1);
        let (m, f) = pools.surnames[(n - 1 - i) as usize];
        return if female { f } else { m }.to_string();
    }
    let root = SURNAME_ROOTS[rng.below(SURNAME_ROOTS.len() as u64) as usize];
    let (m, f) = SURNAME_ENDINGS[rng.below(SURNAME_ENDINGS.len() as u64) as usize];
    format!("{root}{}", if female { f } else { m })
}

fn snils(p: u64) -> String {
    // A keyed spread over 002-000-000 … 999-999-999, unique per person.
    let nine = 2_000_000 + (p.wrapping_mul(7_919) % 997_000_000);
    let digits: Vec<u8> = format!("{nine:09}").bytes().map(|b| b - b'0').collect();
    let mut arr = [0u8; 9];
    arr.copy_from_slice(&digits);
    format!("{nine:09}{:02}", ipra_demo::checksum::snils_control(&arr))
}

fn ogrn(n: u64) -> String {
    let first12 = 102_160_000_000 + n * 37;
    format!("{first12}{}", ipra_demo::checksum::ogrn_check_digit(first12))
}

fn iso(d: Date) -> String {
    crate::register::deadlines::format_date(d)
}

/// The region: its territories, and its executors by section and territory.
pub struct Region {
    pub territories: Vec<(String, String)>,
    territory_weights: Vec<u32>,
    /// `orgs[territory][section]`: OGRNs.
    orgs: Vec<Vec<Vec<String>>>,
    pub region_tsr: String,
    pub reporter: String,
    bureaus: Vec<String>,
}

impl Region {
    pub fn new(shape: &Shape) -> Region {
        let mut rng = Rng::new(shape.seed ^ 0x5245_4749);
        let demo = ipra_demo::territories();
        let mut territories = Vec::new();
        for i in 0..shape.territories {
            match demo.get(i) {
                Some(t) => territories.push(t.clone()),
                None => territories.push((
                    format!("94{:03}000", 600 + i),
                    format!("Муниципальный район № {}", i + 1),
                )),
            }
        }
        // The capital is large, then a long tail.
        let territory_weights = (0..shape.territories)
            .map(|i| {
                if i == 0 {
                    2_400
                } else {
                    (3_000 / (i as u32 + 2)).max(40)
                }
            })
            .collect();
        let mut n = 0;
        let mut orgs = Vec::new();
        for _ in 0..shape.territories {
            let mut by_section = Vec::new();
            for count in ORGS_PER_TERRITORY {
                let mut list = Vec::new();
                for _ in 0..count {
                    n += 1;
                    list.push(ogrn(n + rng.below(3)));
                }
                by_section.push(list);
            }
            orgs.push(by_section);
        }
        Region {
            territories,
            territory_weights,
            orgs,
            region_tsr: ogrn(900_001),
            reporter: DEMO_REGION_OGRN.to_string(),
            bureaus: (1..=36)
                .map(|b| format!("Бюро № {b} — филиал ФКУ «ГБ МСЭ по Республике Татарстан» Минтруда России"))
                .collect(),
        }
    }

    pub fn organisation_count(&self) -> usize {
        self.orgs
            .iter()
            .map(|t| t.iter().map(Vec::len).sum::<usize>())
            .sum::<usize>()
            + 1
    }

    /// An executor of `section` in territory `t` (a person's own clinic, school …), or `None`.
    fn executor(&self, rng: &mut Rng, t: usize, section: usize) -> Option<String> {
        if rng.chance(2.0) {
            return None;
        }
        if section == 5 && rng.chance(50.0) {
            return Some(self.region_tsr.clone());
        }
        let list = &self.orgs[t][section];
        Some(list[rng.below(list.len() as u64) as usize].clone())
    }

    /// Writes the territories, the organisations and the routing rules through the directory.
    pub async fn store(&self, app: &App) -> Result<()> {
        let entries: Vec<Entry> = self
            .territories
            .iter()
            .map(|(code, name)| Entry {
                code: code.clone(),
                name: name.clone(),
                parent: None,
                extra: Vec::new(),
            })
            .collect();
        reference::set_list(
            &app.db,
            "territories",
            &entries,
            "bench",
            Some("территории нагрузочного теста"),
        )
        .await?;
        app.reload_reference().await?;
        // The target groups the filled IPRAs name, known by their codes only (as a region's first
        // extracts of the newer forms would name them).
        for n in 1..=13 {
            sqlx::query(
                "INSERT INTO target_groups (code, name, first_seen) VALUES ($1, $1, $2) ON CONFLICT (code) DO NOTHING",
            )
            .bind(format!("ЦРГ {n}"))
            .bind(crate::db::now())
            .execute(&app.db.pool)
            .await?;
        }
        let actor = "bench";
        let org = |ogrn: &str, name: String, department: &str, territory: Option<&str>| Organisation {
            ogrn: ogrn.to_string(),
            inn: None,
            name,
            department: department.to_string(),
            territory_code: territory.map(str::to_string),
            executor_type: None,
            phone: None,
            email: None,
            active: true,
        };
        directory::upsert_organisation(
            &app.db,
            &org(
                &self.reporter,
                "Министерство труда, занятости и социальной защиты".into(),
                "region",
                None,
            ),
            actor,
        )
        .await?;
        directory::upsert_organisation(
            &app.db,
            &org(
                &self.region_tsr,
                "Отделение СФР по Республике Татарстан".into(),
                "tsr",
                None,
            ),
            actor,
        )
        .await?;
        directory::set_rule(&app.db, "tsr", None, &self.region_tsr, actor).await?;
        for (t, by_section) in self.orgs.iter().enumerate() {
            let (code, name) = &self.territories[t];
            for (s, list) in by_section.iter().enumerate() {
                for (k, ogrn) in list.iter().enumerate() {
                    let title = format!("Исполнитель «{}» № {} ({name})", SECTIONS[s], k + 1);
                    directory::upsert_organisation(&app.db, &org(ogrn, title, SECTIONS[s], Some(code)), actor).await?;
                }
                directory::set_rule(&app.db, SECTIONS[s], Some(code), &list[0], actor).await?;
            }
        }
        app.refresh_lookups().await
    }
}

/// Counters of what has been written, and the next id of every table.
#[derive(Default, Debug, Clone, serde::Serialize)]
pub struct Written {
    pub persons: u64,
    pub ipras: u64,
    pub measures: u64,
    pub executions: u64,
    pub reports: u64,
    pub messages: u64,
    pub audit: u64,
    pub follow_ups: u64,
    pub deaths: u64,
    pub sources: u64,
    pub recipients: u64,
}

/// Rows of one batch, column values in table order.
#[derive(Default)]
struct Batch {
    sources: Vec<Vec<Val>>,
    persons: Vec<Vec<Val>>,
    ipras: Vec<Vec<Val>>,
    measures: Vec<Vec<Val>>,
    executions: Vec<Vec<Val>>,
    reports: Vec<Vec<Val>>,
    messages: Vec<Vec<Val>>,
    audit: Vec<Vec<Val>>,
    follow_ups: Vec<Vec<Val>>,
    deaths: Vec<Vec<Val>>,
    recipients: Vec<Vec<Val>>,
}

#[derive(Clone, Debug)]
enum Val {
    Int(i64),
    Text(String),
    Null,
    /// NULL in an integer column (PostgreSQL types a bound NULL).
    NullInt,
    Bytes(Vec<u8>),
}

fn t(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

fn o(s: Option<String>) -> Val {
    s.map(Val::Text).unwrap_or(Val::Null)
}

const PERSON_COLUMNS: &str =
    "id, snils, surname, given_name, patronymic, birth_date, gender, territory_code, address, \
     death_date, created_at, updated_at, search_name";
const SOURCE_COLUMNS: &str =
    "id, sha256, file_name, media_type, size_bytes, compression, content, connector, received_at";
const IPRA_COLUMNS: &str = "id, person_id, snils, number, protocol_number, protocol_date, decision_date, valid_until, \
     issued_by, is_child, document_version, document_id, extract_id, status, superseded_by, source_document_id, extra, \
     received_at, search_name, territory_code, measures_count, open_due_min, target_groups, early_help";
const MEASURE_COLUMNS: &str = "id, ipra_id, measure_key, section, category_code, category_name, code, name, guid, \
     executor_ogrn, executor_name, date_from, date_to, quantity, extra, claimed_by, assigned_ogrn, assignment_note, \
     assignment_source, due_date, status, closed_reason";
const EXECUTION_COLUMNS: &str = "id, ipra_id, measure_id, section, organisation, status, result, measure_name, \
     executor_ogrn, executor_name, clarification, execution_date, reasons, comment, report_id, carried_from, created_at, \
     created_by, updated_at";
const REPORT_COLUMNS: &str = "id, ipra_id, status, reporter_ogrn, reporter_name, document_name, document, \
     document_sha256, created_at, created_by, due_date, signed_at, sent_at, answered_at, rejection_reason";
const MESSAGE_COLUMNS: &str =
    "id, connector, direction, kind, file_name, sha256, payload, status, attempts, last_error, \
     report_id, created_at, updated_at";
const AUDIT_COLUMNS: &str = "id, at, actor, action, subject, detail";
const RECIPIENT_COLUMNS: &str = "id, person_id, ipra_id, added_at, source";
const FOLLOW_UP_COLUMNS: &str =
    "id, ipra_id, plugin_id, kind, title, due_date, attributes, document_name, status, created_at";
const DEATH_COLUMNS: &str = "id, record_id, kind, snils, surname, given_name, patronymic, birth_date, death_date, \
     act_number, registry_office, status, person_id, received_at";

/// Writes persons `from..to` of the shape, one transaction.
pub struct Filler<'a> {
    pub shape: &'a Shape,
    pub region: &'a Region,
    pub today: Date,
    pub written: Written,
    calendar_start: Date,
    /// The connector the extracts came through and the reports went out by (the one whose
    /// manifest reads IPRA extracts).
    connector: String,
}

impl<'a> Filler<'a> {
    pub fn new(shape: &'a Shape, region: &'a Region, today: Date, connector: &str) -> Filler<'a> {
        Filler {
            shape,
            region,
            today,
            written: Written::default(),
            calendar_start: today - Duration::days(6 * 365),
            connector: connector.to_string(),
        }
    }

    fn person(&mut self, p: u64, batch: &mut Batch) {
        let mut rng = Rng::new(self.shape.seed.wrapping_mul(1_000_003) ^ p);
        let pools = ipra_demo::name_pools();
        let female = rng.chance(52.0);
        let territory = rng.weighted(&self.region.territory_weights);
        let child = rng.chance(self.shape.child_percent);
        let age_days = if child {
            365 + rng.below(16 * 365) as i64
        } else {
            19 * 365 + rng.below(70 * 365) as i64
        };
        let birth = self.today - Duration::days(age_days);
        let surname = surname(&mut rng, female);
        let given = if female {
            pools.female[rng.below(pools.female.len() as u64) as usize]
        } else {
            pools.male[rng.below(pools.male.len() as u64) as usize]
        };
        let (pm, pf) = pools.patronymics[rng.below(pools.patronymics.len() as u64) as usize];
        let patronymic = if female { pf } else { pm };
        let search_name = format!("{surname} {given} {patronymic}");
        let snils = snils(p);
        let (territory_code, territory_name) = &self.region.territories[territory];
        let deceased = rng.chance(self.shape.deceased_percent);
        let person_id = self.written.persons as i64 + 1;
        // IPRAs: an older one superseded by the one in force for some persons.
        let count = if rng.chance(self.shape.superseded_percent) {
            2
        } else {
            1
        };
        let span = (self.today - self.calendar_start).whole_days() - 30;
        let mut received: Vec<Date> = (0..count)
            .map(|_| self.calendar_start + Duration::days(rng.below(span as u64) as i64))
            .collect();
        received.sort();
        if count == 2 && (received[1] - received[0]).whole_days() < 60 {
            received[0] -= Duration::days(120);
        }
        let death = deceased.then(|| {
            let last = *received.last().unwrap_or(&self.today);
            let room = (self.today - last).whole_days().max(2);
            last + Duration::days(1 + rng.below(room as u64 - 1) as i64)
        });
        batch.persons.push(vec![
            Val::Int(person_id),
            t(snils.clone()),
            t(surname.clone()),
            t(given),
            t(patronymic),
            t(iso(birth)),
            t(if female { "female" } else { "male" }),
            t(territory_code.clone()),
            t(format!("{territory_name}, ул. Центральная, д. {}", 1 + rng.below(120))),
            o(death.map(iso)),
            t(format!("{}T09:00:00Z", iso(received[0]))),
            t(format!("{}T09:00:00Z", iso(*received.last().unwrap_or(&received[0])))),
            t(search_name.clone()),
        ]);
        self.written.persons += 1;
        let mut ids = Vec::new();
        for _ in &received {
            self.written.ipras += 1;
            ids.push(self.written.ipras as i64);
        }
        for (k, day) in received.iter().enumerate() {
            let id = ids[k];
            let in_force = k + 1 == count;
            let status = match (in_force, death.is_some()) {
                (false, _) => "superseded",
                (true, true) => "closed",
                (true, false) => "active",
            };
            let superseded_by = (!in_force).then(|| ids[k + 1]);
            self.ipra(
                &mut rng,
                batch,
                IpraSeed {
                    id,
                    person_id,
                    snils: &snils,
                    search_name: &search_name,
                    territory,
                    received: *day,
                    birth,
                    status,
                    superseded_by,
                },
            );
        }
        if let Some(death) = death {
            self.written.deaths += 1;
            let d = self.written.deaths as i64;
            batch.deaths.push(vec![
                Val::Int(d),
                t(format!("170-{}-{d:06}", death.year())),
                t("death"),
                t(snils.clone()),
                t(surname),
                t(given),
                t(patronymic),
                t(iso(birth)),
                t(iso(death)),
                t(format!("1702{d:08}")),
                t("Управление ЗАГС Кабинета Министров Республики Татарстан"),
                t("applied"),
                Val::Int(person_id),
                t(format!("{}T10:00:00Z", iso(death + Duration::days(3)))),
            ]);
        }
        // The audit trail: cards read and lists exported, a few per person. The log is written
        // as things happen: its times rise with its entries (working hours of the calendar's
        // days, spread over the persons in the order they are written).
        let days = (self.today - self.calendar_start).whole_days().max(1) as u64;
        for k in 0..2 {
            self.written.audit += 1;
            let second = (p * days * 36_000 / self.shape.persons.max(1) + k) as i64;
            let at = self.calendar_start + Duration::days(second / 36_000);
            let of_day = second % 36_000;
            batch.audit.push(vec![
                Val::Int(self.written.audit as i64),
                t(format!(
                    "{}T{:02}:{:02}:{:02}Z",
                    iso(at),
                    8 + of_day / 3600,
                    of_day % 3600 / 60,
                    of_day % 60
                )),
                t(format!("user:executor-{}", rng.below(400))),
                t("ipra.read"),
                t(format!("ipra:{}", ids[0])),
                Val::Null,
            ]);
        }
    }

    fn ipra(&mut self, rng: &mut Rng, batch: &mut Batch, s: IpraSeed<'_>) {
        let protocol = s.received - Duration::days(3 + rng.below(20) as i64);
        let decision = (!rng.chance(2.0)).then_some(protocol);
        let child = (protocol - s.birth).whole_days() < 18 * 365;
        let valid_until = if child {
            s.birth + Duration::days(18 * 365)
        } else if rng.chance(40.0) {
            protocol + Duration::days(365 * (1 + rng.below(2) as i64))
        } else {
            protocol + Duration::days(365 * 30)
        };
        let bureau = rng.below(self.region.bureaus.len() as u64) as usize;
        let year = protocol.year();
        let number = format!("{}.{}.16/{year}", 100 + s.id, bureau + 1);
        let protocol_number = format!("{}.{}.16/{year}", 1000 + s.id, bureau + 1);
        let version = if year >= 2023 { "IPRA_20221024" } else { "IPRA_20190101" };
        let active = s.status == "active";
        // Measures: about ten, by section.
        let n = 3 + rng.below(8) + rng.below(8) + rng.below(6);
        let weights = if child {
            &SECTION_WEIGHTS_CHILD
        } else {
            &SECTION_WEIGHTS_ADULT
        };
        let due = s.received + Duration::days(42);
        let due = due.min(valid_until);
        let age = (self.today - s.received).whole_days();
        // The share of measures with a result grows with the IPRA's age.
        let done_percent = ((age as f64 / 365.0) * 70.0).min(92.0);
        let mut open_due_min: Option<Date> = None;
        let mut measures_count = 0i64;
        let mut reported_any = false;
        let report_id = self.written.reports + 1;
        for k in 0..n {
            let section = rng.weighted(weights);
            let (cat_code, cat_name, names) = CATEGORIES[section];
            let name = names[rng.below(names.len() as u64) as usize];
            let org = self.region.executor(rng, s.territory, section);
            let (status, closed_reason, result) = match s.status {
                "superseded" => {
                    if rng.chance(45.0) {
                        ("executed", None, Some("executed"))
                    } else {
                        ("closed", Some("superseded"), None)
                    }
                }
                "closed" => {
                    if rng.chance(30.0) {
                        ("executed", None, Some("executed"))
                    } else {
                        ("not-executed", Some("died"), Some("not-executed"))
                    }
                }
                _ => {
                    if org.is_some() && rng.chance(done_percent) {
                        if rng.chance(88.0) {
                            ("executed", None, Some("executed"))
                        } else {
                            ("not-executed", None, Some("not-executed"))
                        }
                    } else {
                        ("open", None, None)
                    }
                }
            };
            self.written.measures += 1;
            measures_count += 1;
            let mid = self.written.measures as i64;
            if status == "open" {
                open_due_min = Some(open_due_min.map_or(due, |d| d.min(due)));
            }
            batch.measures.push(vec![
                Val::Int(mid),
                Val::Int(s.id),
                t(format!("{cat_code}#{k}")),
                t(SECTIONS[section]),
                t(cat_code),
                t(cat_name),
                o(Some((1 + k % 9).to_string())),
                t(name),
                o(Some(format!("{:08x}-0000-4000-8000-{mid:012x}", s.id))),
                Val::Null,
                Val::Null,
                o(Some(iso(s.received))),
                o(Some(iso(valid_until))),
                Val::Null,
                t("[]"),
                t(SECTIONS[section]),
                o(org.clone()),
                Val::Null,
                o(org.as_ref().map(|_| "rule".to_string())),
                o(Some(iso(due))),
                t(status),
                o(closed_reason.map(str::to_string)),
            ]);
            // What the executor recorded.
            let record = match result {
                Some(result) => Some((
                    result,
                    if active && rng.chance(20.0) {
                        "ready"
                    } else {
                        "reported"
                    },
                )),
                None if active && org.is_some() && rng.chance(5.0) => Some(("executed", "draft")),
                None => None,
            };
            if let (Some((result, rstatus)), Some(ogrn)) = (record, org.as_ref().or(Some(&self.region.region_tsr))) {
                self.written.executions += 1;
                let reported = rstatus == "reported";
                reported_any |= reported;
                let date = s.received + Duration::days(10 + rng.below((age.max(11) - 10) as u64) as i64);
                let date = date.min(self.today);
                let reasons = match (result, closed_reason) {
                    ("not-executed", Some("died")) => "[\"died\"]".to_string(),
                    ("not-executed", _) => {
                        let codes = ["refused", "not-applied", "unreachable", "moved", "other"];
                        format!("[\"{}\"]", codes[rng.weighted(&[40, 30, 15, 10, 5])])
                    }
                    _ => "[]".to_string(),
                };
                batch.executions.push(vec![
                    Val::Int(self.written.executions as i64),
                    Val::Int(s.id),
                    Val::Int(mid),
                    t(SECTIONS[section]),
                    t(ogrn.clone()),
                    t(rstatus),
                    t(result),
                    t(name),
                    t(ogrn.clone()),
                    Val::Null,
                    Val::Null,
                    o((result == "executed").then(|| iso(date))),
                    t(reasons),
                    Val::Null,
                    if reported {
                        Val::Int(report_id as i64)
                    } else {
                        Val::NullInt
                    },
                    Val::NullInt,
                    t(format!("{}T12:00:00Z", iso(date))),
                    t(format!("user:executor-{}", rng.below(400))),
                    t(format!("{}T12:00:00Z", iso(date))),
                ]);
            }
        }
        if reported_any {
            self.written.reports += 1;
            let sent = s.received + Duration::days(60.min(age.max(1)));
            let status = ["accepted", "sent", "rejected", "awaiting-signature"][rng.weighted(&[80, 10, 5, 5])];
            let document_name = format!("{}-report-{:08}.xml", self.connector, report_id);
            batch.reports.push(vec![
                Val::Int(report_id as i64),
                Val::Int(s.id),
                t(status),
                t(self.region.reporter.clone()),
                t("Министерство труда, занятости и социальной защиты"),
                t(document_name.clone()),
                Val::Bytes(format!("<report ipra=\"{}\"/>", s.id).into_bytes()),
                t(format!("{report_id:064x}")),
                t(format!("{}T15:00:00Z", iso(sent))),
                t("user:coordinator"),
                o(Some(iso(sent + Duration::days(10)))),
                o((status != "awaiting-signature").then(|| format!("{}T16:00:00Z", iso(sent)))),
                o((status != "awaiting-signature").then(|| format!("{}T17:00:00Z", iso(sent)))),
                o(matches!(status, "accepted" | "rejected")
                    .then(|| format!("{}T09:00:00Z", iso(sent + Duration::days(2))))),
                o((status == "rejected").then(|| "Не заполнены сведения об исполнителе".to_string())),
            ]);
            if status != "awaiting-signature" {
                self.written.messages += 1;
                let m = self.written.messages as i64;
                batch.messages.push(vec![
                    Val::Int(m),
                    t(self.connector.as_str()),
                    t("out"),
                    t("report"),
                    t(document_name),
                    t(format!("{m:064x}")),
                    Val::Bytes(Vec::new()),
                    t("sent"),
                    Val::Int(1),
                    Val::Null,
                    Val::Int(report_id as i64),
                    t(format!("{}T16:00:00Z", iso(sent))),
                    t(format!("{}T16:00:00Z", iso(sent))),
                ]);
            }
        }
        // The extract as it came in.
        self.written.messages += 1;
        let m = self.written.messages as i64;
        batch.messages.push(vec![
            Val::Int(m),
            t(self.connector.as_str()),
            t("in"),
            t("extract"),
            t(format!("extract_{}.xml", s.id)),
            t(format!("{m:064x}")),
            Val::Bytes(Vec::new()),
            t(if rng.chance(0.2) { "failed" } else { "processed" }),
            Val::Int(1),
            Val::Null,
            Val::NullInt,
            t(format!("{}T08:00:00Z", iso(s.received))),
            t(format!("{}T08:00:00Z", iso(s.received))),
        ]);
        if active && rng.chance(45.0) {
            self.written.follow_ups += 1;
            batch.follow_ups.push(vec![
                Val::Int(self.written.follow_ups as i64),
                Val::Int(s.id),
                t("social-protection"),
                t("ippsu-draft"),
                t("Проект ИППСУ"),
                Val::Null,
                t("[]"),
                Val::Null,
                t("open"),
                t(format!("{}T08:00:00Z", iso(s.received))),
            ]);
        }
        if active && rng.chance(0.3) {
            self.written.follow_ups += 1;
            batch.follow_ups.push(vec![
                Val::Int(self.written.follow_ups as i64),
                Val::Int(s.id),
                t("tsr"),
                t("tsr-clarification"),
                t("Запрос на уточнение ТСР"),
                o(Some(iso(s.received + Duration::days(3)))),
                t("[]"),
                Val::Null,
                t("open"),
                t(format!("{}T08:00:00Z", iso(s.received))),
            ]);
        }
        // Four persons in ten are recipients of social services, registered by their IPRA in force
        // (the one a death closed among them): without drawing from the generator, so the rest of
        // the region is as before.
        if s.status != "superseded" && s.person_id % 10 < 4 {
            self.written.recipients += 1;
            batch.recipients.push(vec![
                Val::Int(self.written.recipients as i64),
                Val::Int(s.person_id),
                Val::Int(s.id),
                t(format!("{}T08:00:00Z", iso(s.received))),
                t("social-protection"),
            ]);
        }
        let source = self.written.sources as i64;
        // IPRAs of the forms since 2024 name one or two target rehabilitation groups; a few children
        // need early help.
        let newer = s.received.year() >= 2024;
        let groups = if newer && rng.chance(80.0) {
            let first = 1 + rng.below(if child { 9 } else { 13 });
            let mut codes = vec![format!("ЦРГ {first}")];
            if rng.chance(20.0) {
                codes.push(format!("ЦРГ {}", 1 + (first + rng.below(5)) % 13));
            }
            codes.dedup();
            format!(";{};", codes.join(";"))
        } else {
            String::new()
        };
        let early_help = newer && child && rng.chance(6.0);
        batch.ipras.push(vec![
            Val::Int(s.id),
            Val::Int(s.person_id),
            t(s.snils),
            t(number),
            t(protocol_number),
            t(iso(protocol)),
            o(decision.map(iso)),
            o(Some(iso(valid_until))),
            t(self.region.bureaus[bureau].clone()),
            Val::Int(i64::from(child)),
            t(version),
            t(format!("doc-{}", s.id)),
            t(format!("extract-{}", s.id)),
            t(s.status),
            s.superseded_by.map(Val::Int).unwrap_or(Val::NullInt),
            Val::Int(source),
            t("[]"),
            t(format!("{}T08:00:00Z", iso(s.received))),
            t(s.search_name),
            t(self.region.territories[s.territory].0.clone()),
            Val::Int(measures_count),
            o(if s.status == "superseded" {
                None
            } else {
                open_due_min.map(iso)
            }),
            t(groups),
            Val::Int(i64::from(early_help)),
        ]);
    }
}

struct IpraSeed<'s> {
    id: i64,
    person_id: i64,
    snils: &'s str,
    search_name: &'s str,
    territory: usize,
    received: Date,
    birth: Date,
    status: &'static str,
    superseded_by: Option<i64>,
}

/// Persons written per transaction.
const BATCH: u64 = 2_000;

/// Fills the register with `shape.persons` persons and everything around them.
pub async fn fill(app: &App, shape: &Shape, region: &Region, progress: &dyn Fn(&Written)) -> Result<Written> {
    let connector = app.plugins.connector_reading("ipra-extract")?;
    let mut filler = Filler::new(shape, region, crate::clock::today(), connector.id());
    let mut conn = app.db.pool.acquire().await?;
    // Ids continue after what the register holds already (the directory's audit entries …).
    let next = |table: &'static str| {
        let sql = format!("SELECT COALESCE(MAX(id), 0) AS n FROM {table}");
        async move {
            anyhow::Ok(
                sqlx::query(&sql)
                    .fetch_one(&app.db.pool)
                    .await?
                    .try_get::<i64, _>("n")? as u64,
            )
        }
    };
    filler.written = Written {
        persons: next("persons").await?,
        ipras: next("ipras").await?,
        measures: next("measures").await?,
        executions: next("execution_records").await?,
        reports: next("reports").await?,
        messages: next("exchange_messages").await?,
        audit: next("audit_log").await?,
        follow_ups: next("follow_ups").await?,
        deaths: next("death_records").await?,
        sources: next("source_documents").await?,
        recipients: next("social_service_recipients").await?,
    };
    let mut p = 0;
    while p < shape.persons {
        let to = (p + BATCH).min(shape.persons);
        let mut batch = Batch::default();
        filler.written.sources += 1;
        let source = filler.written.sources as i64;
        batch.sources.push(vec![
            Val::Int(source),
            t(format!("{source:064x}")),
            t(format!("bench-batch-{source}.xml")),
            t("application/xml"),
            Val::Int(0),
            t("zstd"),
            Val::Bytes(zstd::stream::encode_all(&b"<bench/>"[..], 1)?),
            t(filler.connector.as_str()),
            t(format!("{}T08:00:00Z", iso(filler.today))),
        ]);
        for person in p..to {
            filler.person(person, &mut batch);
        }
        // An IPRA replaced names the one in force: that one goes in first.
        batch.ipras.sort_by_key(|row| matches!(row[14], Val::Int(_)));
        write_batch(&mut conn, app.db.engine, &batch).await?;
        p = to;
        progress(&filler.written);
    }
    if app.db.engine == Engine::Postgres {
        // Ids were given explicitly: the sequences continue after them.
        for table in [
            "persons",
            "source_documents",
            "ipras",
            "measures",
            "execution_records",
            "reports",
            "exchange_messages",
            "audit_log",
            "follow_ups",
            "death_records",
            "social_service_recipients",
        ] {
            sqlx::query(&format!(
                "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 1))"
            ))
            .execute(&mut *conn)
            .await?;
        }
        // As autovacuum leaves a region's database: statistics for the planner, and the visibility map
        // set, so that a count over an index reads the index only (a common surname's 16,000 rows:
        // 15 ms with the heap fetches of a fresh fill, 5 ms without).
        sqlx::query("VACUUM ANALYZE").execute(&mut *conn).await?;
    }
    Ok(filler.written)
}

async fn write_batch(conn: &mut AnyConnection, engine: Engine, batch: &Batch) -> Result<()> {
    // sqlx's own transaction, so that the connection's count of open transactions (which the pool
    // reads when the connection comes back: `db::clean_release`) knows of it.
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let conn = &mut *tx;
    insert(conn, engine, "source_documents", SOURCE_COLUMNS, &batch.sources).await?;
    insert(conn, engine, "persons", PERSON_COLUMNS, &batch.persons).await?;
    insert(conn, engine, "ipras", IPRA_COLUMNS, &batch.ipras).await?;
    insert(conn, engine, "measures", MEASURE_COLUMNS, &batch.measures).await?;
    insert(conn, engine, "reports", REPORT_COLUMNS, &batch.reports).await?;
    insert(conn, engine, "execution_records", EXECUTION_COLUMNS, &batch.executions).await?;
    insert(conn, engine, "exchange_messages", MESSAGE_COLUMNS, &batch.messages).await?;
    insert(conn, engine, "audit_log", AUDIT_COLUMNS, &batch.audit).await?;
    insert(conn, engine, "follow_ups", FOLLOW_UP_COLUMNS, &batch.follow_ups).await?;
    insert(conn, engine, "death_records", DEATH_COLUMNS, &batch.deaths).await?;
    insert(
        conn,
        engine,
        "social_service_recipients",
        RECIPIENT_COLUMNS,
        &batch.recipients,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Multi-row INSERTs of `rows` (ids given: PostgreSQL is told to take them).
async fn insert(conn: &mut AnyConnection, engine: Engine, table: &str, columns: &str, rows: &[Vec<Val>]) -> Result<()> {
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let width = first.len();
    let per_statement = (30_000 / width).max(1);
    let overriding = if engine == Engine::Postgres {
        " OVERRIDING SYSTEM VALUE"
    } else {
        ""
    };
    for chunk in rows.chunks(per_statement) {
        let head = format!("INSERT INTO {table} ({columns}){overriding} VALUES ");
        let sql = crate::register::store::multi_row_insert(conn, &head, chunk.len(), width);
        let mut q = sqlx::query(&sql);
        for row in chunk {
            for v in row {
                q = match v {
                    Val::Int(i) => q.bind(*i),
                    Val::Text(s) => q.bind(s.as_str()),
                    Val::Null => q.bind(Option::<String>::None),
                    Val::NullInt => q.bind(Option::<i64>::None),
                    Val::Bytes(b) => q.bind(b.as_slice()),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// The size of the database in MiB (the SQLite file with its WAL, or PostgreSQL's database).
pub async fn database_mib(app: &App) -> Result<f64> {
    Ok(match app.db.engine {
        Engine::Postgres => {
            let n: i64 = sqlx::query("SELECT pg_database_size(current_database()) AS n")
                .fetch_one(&app.db.pool)
                .await?
                .try_get("n")?;
            n as f64 / 1_048_576.0
        }
        Engine::Sqlite => {
            let mut total = 0u64;
            for suffix in ["", "-wal"] {
                let path = app.data_dir.join(format!("ipra.sqlite{suffix}"));
                total += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            }
            total as f64 / 1_048_576.0
        }
    })
}

/// Values of the register to build requests from: a territory, an organisation, names, numbers.
pub struct Samples {
    pub territories: Vec<String>,
    pub organisation: String,
    pub big_organisation: String,
    pub snils: Vec<String>,
    pub numbers: Vec<String>,
    pub protocol_numbers: Vec<String>,
    pub protocol_dates: Vec<String>,
    pub issued_by: String,
    pub ipra_ids: Vec<i64>,
    pub surnames: Vec<String>,
    pub full_names: Vec<String>,
    pub deep: Vec<String>,
}

pub async fn samples(app: &App) -> Result<Samples> {
    use sqlx::Row;
    let db = &app.db;
    let total: i64 = sqlx::query("SELECT MAX(id) AS n FROM ipras")
        .fetch_one(&db.pool)
        .await?
        .try_get::<Option<i64>, _>("n")?
        .unwrap_or(0);
    if total == 0 {
        bail!("реестр пуст");
    }
    let mut ids = Vec::new();
    let mut rows = Vec::new();
    for k in 1..=20i64 {
        let id = (total * k / 21).max(1);
        if let Some(r) = sqlx::query(
            "SELECT id, snils, number, protocol_number, protocol_date, search_name, issued_by FROM ipras WHERE id >= $1 ORDER BY id LIMIT 1",
        )
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        {
            ids.push(r.try_get::<i64, _>("id")?);
            rows.push(r);
        }
    }
    let text = |r: &sqlx::any::AnyRow, c: &str| crate::db::opt_text(r, c).unwrap_or_default();
    let org = |sql: &'static str| async move {
        sqlx::query(sql)
            .fetch_optional(&db.pool)
            .await
            .map(|r| r.and_then(|r| crate::db::opt_text(&r, "ogrn")).unwrap_or_default())
    };
    // An ordinary executor (a clinic of a district) and the largest (the region's TSR office).
    let organisation = org("SELECT ogrn FROM organisations WHERE department = 'health' AND territory_code IS NOT NULL ORDER BY id LIMIT 1 OFFSET 3").await?;
    let big_organisation =
        org("SELECT ogrn FROM organisations WHERE department = 'tsr' AND territory_code IS NULL ORDER BY id LIMIT 1")
            .await?;
    let territories = app
        .reference()
        .list("territories")
        .iter()
        .map(|e| e.code.clone())
        .collect::<Vec<_>>();
    // Positions deep in the default order: the decision dates of rows a quarter, half and three
    // quarters down the register.
    let mut deep = Vec::new();
    for frac in [4, 2] {
        let r = sqlx::query(&format!(
            "SELECT id, decision_date FROM ipras WHERE decision_date IS NOT NULL ORDER BY decision_date DESC, id DESC LIMIT 1 OFFSET {}",
            total / frac
        ))
        .fetch_optional(&db.pool)
        .await?;
        if let Some(r) = r {
            deep.push(crate::register::query::position_after(
                r.try_get::<i64, _>("id")?,
                crate::db::opt_text(&r, "decision_date"),
            ));
        }
    }
    Ok(Samples {
        territories,
        organisation,
        big_organisation,
        snils: rows.iter().map(|r| text(r, "snils")).collect(),
        numbers: rows.iter().map(|r| text(r, "number")).collect(),
        protocol_numbers: rows.iter().map(|r| text(r, "protocol_number")).collect(),
        protocol_dates: rows.iter().map(|r| text(r, "protocol_date")).collect(),
        issued_by: rows.first().map(|r| text(r, "issued_by")).unwrap_or_default(),
        ipra_ids: ids,
        surnames: rows
            .iter()
            .map(|r| text(r, "search_name").split(' ').next().unwrap_or_default().to_string())
            .collect(),
        full_names: rows.iter().map(|r| text(r, "search_name")).collect(),
        deep,
    })
}

/// The organisation the bench's executor works for: an ordinary district clinic.
pub async fn fill_executor(app: &App) -> Result<String> {
    first_organisation(app, "health")
        .await?
        .context("в справочнике нет организаций здравоохранения")
}

/// The social-protection organisation a bench's second executor works for (the register of
/// social-service recipients shows an executor those of its own measures).
pub async fn social_executor(app: &App) -> Result<String> {
    first_organisation(app, "social-protection")
        .await?
        .context("в справочнике нет организаций социальной защиты")
}

async fn first_organisation(app: &App, department: &str) -> Result<Option<String>> {
    use sqlx::Row;
    let row = sqlx::query(
        "SELECT ogrn FROM organisations WHERE department = $1 AND territory_code IS NOT NULL ORDER BY id LIMIT 1",
    )
    .bind(department)
    .fetch_optional(&app.db.pool)
    .await?;
    Ok(row.map(|r| r.try_get("ogrn")).transpose()?)
}

/// The register's size by the largest ids.
pub async fn count_register(app: &App) -> Result<Counts> {
    use sqlx::Row;
    // Ids are dense in a bench's register: the largest id is the count, without a scan.
    let max = |table: &'static str| async move {
        sqlx::query(&format!("SELECT COALESCE(MAX(id), 0) AS n FROM {table}"))
            .fetch_one(&app.db.pool)
            .await
            .and_then(|r| r.try_get::<i64, _>("n"))
    };
    Ok(Counts {
        persons: max("persons").await?,
        ipras: max("ipras").await?,
        measures: max("measures").await?,
        executions: max("execution_records").await?,
        organisations: max("organisations").await?,
    })
}

/// How many rows of each kind a bench's register holds.
pub struct Counts {
    pub persons: i64,
    pub ipras: i64,
    pub measures: i64,
    pub executions: i64,
    pub organisations: i64,
}

/// Whether the register holds no IPRA yet.
pub async fn register_is_empty(app: &App) -> Result<bool> {
    Ok(sqlx::query("SELECT id FROM ipras LIMIT 1")
        .fetch_optional(&app.db.pool)
        .await?
        .is_none())
}
