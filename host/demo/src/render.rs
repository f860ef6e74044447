//! Renders a planned extract: copies template text and writes each slot's value.
//! One growing byte buffer, no DOM and no per-attribute allocation on the common paths.

use crate::catalog::{self, Section, TsrKind, GROUPS, REASONS, TERRITORIES};
use crate::date::{push_num, push_padded, Date, Moment, FAR_FUTURE};
use crate::plan::{Plan, Version};
use crate::rng::{below, hash3, Rng};
use crate::template::{templates, DocTemplate, Named, Piece, Repeat, Slot};
use crate::world::{Org, World, EDUCATION, EMPLOYMENT, HEALTH, SOCIAL, SPORT, TSR};

/// One measure or TSR item, resolved once per record so that its attributes agree.
struct Measure<'w> {
    section: Section,
    kind: &'static catalog::MeasureKind,
    tsr: Option<&'static TsrKind>,
    budget: u8,
    quantity: u64,
    guid: u128,
    from: Date,
    to: Option<Date>,
    org: &'w Org,
}

/// Which record is being written.
struct Rec<'w> {
    index: u32,
    resoc: u32,
    measure: Option<Measure<'w>>,
}

pub(crate) struct Renderer<'a> {
    plan: &'a Plan,
    world: &'a World,
    rng: Rng,
    out: Vec<u8>,
}

const TAG_MEASURE: u64 = 0x4D45_4153;
const TAG_RESOC: u64 = 0x5245_534F;

impl<'a> Renderer<'a> {
    pub(crate) fn new(plan: &'a Plan, world: &'a World, capacity: usize) -> Renderer<'a> {
        Renderer {
            plan,
            world,
            rng: Rng::new(plan.seed ^ 0x5245_4E44),
            out: Vec::with_capacity(capacity),
        }
    }

    pub(crate) fn render(mut self) -> Vec<u8> {
        let t = templates();
        let none = Rec {
            index: 0,
            resoc: 0,
            measure: None,
        };
        self.pieces(&t.envelope.head, &none);
        let (ipra, act) = match self.plan.version {
            Version::V20160101 => (&t.ipra_20160101, &t.act_20190401),
            Version::V20170812 => (&t.ipra_20170812, &t.act_20190401),
            Version::V20190101 => (&t.ipra_20190101, &t.act_20190401),
            Version::V20221024 => (&t.ipra_20221024, &t.act_20220919),
        };
        debug_assert_eq!(ipra.version, self.plan.version.code());
        self.document(ipra, 0);
        if self.plan.act {
            self.document(act, 0);
        }
        for r in 0..self.plan.resoc {
            self.document(&t.resoc_20180416, r);
        }
        self.pieces(&t.envelope.tail, &none);
        self.out
    }

    fn document(&mut self, doc: &DocTemplate, resoc: u32) {
        let head = Rec {
            index: 0,
            resoc,
            measure: None,
        };
        self.pieces(&doc.head, &head);
        for record in &doc.records {
            let n = self.plan.counts.of(record.repeat, resoc, self.plan.seed);
            for index in 0..n {
                let rec = Rec {
                    index,
                    resoc,
                    measure: self.measure(record.repeat, index),
                };
                self.pieces(&record.pieces, &rec);
            }
        }
        self.pieces(&doc.tail, &head);
    }

    fn pieces(&mut self, pieces: &[Piece], rec: &Rec<'_>) {
        for piece in pieces {
            match piece {
                Piece::Text(text) => self.out.extend_from_slice(text.as_bytes()),
                Piece::Slot(slot) => self.slot(slot, rec),
            }
        }
    }

    /// Resolves the measure a record stands for; `None` for records that are not measures.
    fn measure(&self, repeat: Repeat, index: u32) -> Option<Measure<'a>> {
        let c = &self.plan.counts;
        let (section, ordinal, tsr_list, budget) = match repeat {
            Repeat::Med => (Section::Health, index, None, 0),
            Repeat::Prof => (Section::Employment, index, None, 0),
            Repeat::Social => (Section::Social, index, None, 0),
            Repeat::Psychoped => (Section::Education, index, None, 0),
            Repeat::Sport => (Section::Sport, index, None, 0),
            Repeat::Services | Repeat::TsrServices => (Section::Tsr, 100 + index, None, 1),
            Repeat::TsrFed | Repeat::TsrParams | Repeat::TsrLocal => {
                (Section::Tsr, 200 + index, Some(catalog::TSR_FEDERAL), 1)
            }
            Repeat::TsrReg => (Section::Tsr, 300 + index, Some(catalog::TSR_REGIONAL), 2),
            Repeat::TsrOwn => (Section::Tsr, 400 + index, Some(catalog::TSR_FEDERAL), 3),
            Repeat::Msk => (Section::Tsr, 500 + index, Some(catalog::TSR_MSK), 3),
            Repeat::Rehab => {
                // The 2022 form lists all measures in one category, ordered by event type.
                let order = [
                    (Section::Health, c.med),
                    (Section::Education, c.psychoped),
                    (Section::Employment, c.prof),
                    (Section::Social, c.social),
                    (Section::Sport, c.sport),
                ];
                let mut k = index;
                let mut found = (Section::Health, 0);
                for (section, n) in order {
                    if k < n {
                        found = (section, k);
                        break;
                    }
                    k -= n;
                }
                (found.0, found.1, None, 0)
            }
            Repeat::TsrItems => {
                if index < c.tsr_fed {
                    (Section::Tsr, 200 + index, Some(catalog::TSR_FEDERAL), 1)
                } else if index < c.tsr_fed + c.tsr_reg {
                    (Section::Tsr, 300 + index - c.tsr_fed, Some(catalog::TSR_REGIONAL), 2)
                } else {
                    (
                        Section::Tsr,
                        400 + index - c.tsr_fed - c.tsr_reg,
                        Some(catalog::TSR_FEDERAL),
                        3,
                    )
                }
            }
            _ => return None,
        };
        let h = hash3(self.plan.seed ^ TAG_MEASURE, section as u64, u64::from(ordinal));
        let kinds = section.measures();
        let kind = &kinds[below(h, kinds.len() as u64) as usize];
        let tsr = tsr_list.map(|list: &'static [TsrKind]| &list[below(h.rotate_left(17), list.len() as u64) as usize]);
        let quantity = tsr.map_or(1, |t| {
            if t.max_quantity > 100 {
                360 * (1 + below(h.rotate_left(7), 3))
            } else {
                1 + below(h.rotate_left(7), t.max_quantity)
            }
        });
        let issue = self.plan.ipra.issue;
        let from = issue.add_days(below(h.rotate_left(29), 60) as i32);
        let to = if below(h.rotate_left(41), 5) == 0 {
            None
        } else {
            let until = from.add_days(180 + below(h.rotate_left(53), 540) as i32);
            Some(match self.plan.ipra.dis_end {
                Some(end) if end > from => until.min(end),
                _ => until,
            })
        };
        let territory = self.plan.person.territory;
        let department = match section {
            Section::Health => HEALTH,
            Section::Employment => EMPLOYMENT,
            Section::Education => EDUCATION,
            Section::Social => SOCIAL,
            Section::Sport => SPORT,
            // Regional-budget TSR is the region's social protection, federal TSR the Social Fund.
            Section::Tsr if budget == 2 => SOCIAL,
            Section::Tsr => TSR,
        };
        let guid = u128::from(h) << 64 | u128::from(hash3(h, 0x4755_4944, 1));
        Some(Measure {
            section,
            kind,
            tsr,
            budget,
            quantity,
            guid,
            from,
            to,
            org: self.world.org(territory, department),
        })
    }

    fn text(&mut self, s: &str) {
        // Values come from fixed lists, but stay safe if one ever gains markup characters.
        if s.bytes().any(|b| matches!(b, b'<' | b'&' | b'>')) {
            for ch in s.chars() {
                match ch {
                    '<' => self.out.extend_from_slice(b"&lt;"),
                    '>' => self.out.extend_from_slice(b"&gt;"),
                    '&' => self.out.extend_from_slice(b"&amp;"),
                    c => {
                        let mut buf = [0u8; 4];
                        self.out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
        } else {
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    fn date(&mut self, d: Date) {
        d.write(&mut self.out);
    }

    fn moment(&mut self, m: Moment) {
        m.write(&mut self.out);
    }

    fn num(&mut self, n: u64) {
        push_num(&mut self.out, n);
    }

    fn boolean(&mut self, b: bool) {
        self.out.extend_from_slice(if b { b"true" } else { b"false" });
    }

    fn uuid(&mut self, v: u128) {
        // Shape of a version-4 UUID, as the FRI's identifiers have.
        let v = (v & !(0xF << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62);
        let hex = |out: &mut Vec<u8>, value: u128, digits: u32| {
            for i in (0..digits).rev() {
                out.push(b"0123456789abcdef"[((value >> (i * 4)) & 0xF) as usize]);
            }
        };
        hex(&mut self.out, v >> 96, 8);
        self.out.push(b'-');
        hex(&mut self.out, v >> 80, 4);
        self.out.push(b'-');
        hex(&mut self.out, v >> 64, 4);
        self.out.push(b'-');
        hex(&mut self.out, v >> 48, 4);
        self.out.push(b'-');
        hex(&mut self.out, v, 12);
    }

    fn hex32(&mut self, v: u128, upper: bool) {
        let digits: &[u8; 16] = if upper {
            b"0123456789ABCDEF"
        } else {
            b"0123456789abcdef"
        };
        for i in (0..32).rev() {
            self.out.push(digits[((v >> (i * 4)) & 0xF) as usize]);
        }
    }

    fn random128(&mut self) -> u128 {
        u128::from(self.rng.next_u64()) << 64 | u128::from(self.rng.next_u64())
    }

    fn snils(&mut self, s: &[u8; 11]) {
        for (i, d) in s.iter().enumerate() {
            if i == 3 || i == 6 {
                self.out.push(b'-');
            } else if i == 9 {
                self.out.push(b' ');
            }
            self.out.push(b'0' + d);
        }
    }

    fn end_date(&mut self) {
        match self.plan.ipra.dis_end {
            Some(d) => self.date(d),
            None => self.text(FAR_FUTURE),
        }
    }

    fn resoc_moment(&self, resoc: u32) -> Moment {
        let h = hash3(self.plan.seed ^ TAG_RESOC, u64::from(resoc), 0);
        let date = self
            .plan
            .ipra
            .issue
            .add_days(30 + below(h, 300) as i32 + resoc as i32 * 7);
        Moment {
            date,
            seconds: 28_800 + below(h.rotate_left(13), 32_000) as u32,
        }
    }

    fn resoc_number(&mut self, resoc: u32) {
        let m = self.resoc_moment(resoc);
        let (y, mo, d) = m.date.parts();
        push_padded(&mut self.out, y as u64, 4);
        push_padded(&mut self.out, u64::from(mo), 2);
        push_padded(&mut self.out, u64::from(d), 2);
        push_padded(&mut self.out, u64::from(m.seconds / 3600), 2);
        push_padded(&mut self.out, u64::from(m.seconds / 60 % 60), 2);
        push_padded(&mut self.out, u64::from(m.seconds % 60), 2);
    }

    fn resoc_contract(&self, resoc: u32) -> (u64, Date) {
        let h = hash3(self.plan.seed ^ TAG_RESOC, u64::from(resoc), 1);
        let date = self.resoc_moment(resoc).date.add_days(-(10 + below(h, 90) as i32));
        (1 + below(h.rotate_left(9), 899), date)
    }

    fn contract_number(&mut self, resoc: u32) {
        let (n, date) = self.resoc_contract(resoc);
        push_padded(&mut self.out, n, 3);
        self.out.extend_from_slice(b"-");
        push_padded(&mut self.out, 10 + u64::from(resoc), 2);
        self.out.push(b'/');
        push_padded(&mut self.out, (date.year() % 100) as u64, 2);
    }

    fn slot(&mut self, slot: &Slot, rec: &Rec<'_>) {
        match slot {
            Slot::Pick(options) => {
                let i = self.rng.below(options.len() as u64) as usize;
                self.text(options[i]);
            }
            Slot::Int(lo, hi) => {
                let n = self.rng.range(*lo, *hi);
                self.num(n);
            }
            Slot::Named(named) => self.named(*named, rec),
        }
    }

    fn named(&mut self, named: Named, rec: &Rec<'_>) {
        let plan = self.plan;
        let p = &plan.person;
        let ipra = &plan.ipra;
        let territory = &TERRITORIES[p.territory];
        let id_is_passport = ipra.age_years >= 14;
        match named {
            // Extract and person
            Named::ExtractId => {
                let v = self.random128();
                self.uuid(v)
            }
            Named::ExtractTime => self.moment(ipra.extract_time),
            Named::Snils => self.snils(&p.snils),
            Named::LastName => self.text(p.last),
            Named::FirstName => self.text(p.first),
            Named::MiddleName => self.text(p.middle),
            Named::BirthDate => self.date(p.birth),
            Named::Gender => self.text(if p.female { "F" } else { "M" }),
            Named::PersonRegistered => self.moment(p.registered.min(ipra.registered)),
            Named::AgeYears => self.num(ipra.age_years.max(0) as u64),
            Named::AgeMonths => self.num(if ipra.child {
                (ipra.age_months % 12).max(0) as u64
            } else {
                0
            }),
            Named::Age => {
                let age = if ipra.age_years == 0 {
                    ipra.age_months
                } else {
                    ipra.age_years
                };
                self.num(age.max(0) as u64)
            }
            Named::BirthPlace => self.text(p.birth_place),
            Named::Email => {
                self.text("ipra.");
                self.num(p.index as u64 % 100_000);
                self.text("@mail.ru");
            }
            Named::Phone => self.num(p.phone),
            Named::Weight => {
                let w = if ipra.child {
                    4 + 3 * ipra.age_years as u64
                } else {
                    55 + (p.guid_seed % 45)
                };
                self.num(w)
            }
            Named::Height => {
                let h = if ipra.child {
                    55 + 6 * ipra.age_years as u64
                } else {
                    155 + (p.guid_seed >> 8) % 35
                };
                self.num(h)
            }
            Named::Occupation => self.text(catalog::OCCUPATIONS[p.occupation].0),
            Named::Qualification => self.text(catalog::OCCUPATIONS[p.occupation].1),
            Named::EmployerName => self.text(catalog::EMPLOYERS[p.employer]),
            Named::EmployerAddress => {
                self.text("г. ");
                self.text(territory.city);
                self.text(", ул. ");
                self.text(catalog::STREETS[p.employer * 3 % catalog::STREETS.len()]);
            }
            Named::EmployerOgrn | Named::GuardianOgrn => {
                let org = if named == Named::GuardianOgrn {
                    SOCIAL
                } else {
                    EMPLOYMENT
                };
                let ogrn = &self.world.org(p.territory, org).public.ogrn;
                self.out.extend_from_slice(ogrn.as_bytes());
            }
            // Identity document: passport from 14, birth certificate before.
            Named::IdCode => self.num(if id_is_passport { 14 } else { 3 }),
            Named::IdTypeName => self.text(if id_is_passport {
                "Паспорт гражданина Российской Федерации"
            } else {
                "Свидетельство о рождении, выданное в Российской Федерации"
            }),
            Named::IdDocName => self.text(if id_is_passport {
                "Паспорт"
            } else {
                "Свидетельство о рождении"
            }),
            Named::IdSeries => {
                if id_is_passport {
                    push_padded(&mut self.out, p.id_series, 4)
                } else {
                    self.text("IV-КБ")
                }
            }
            Named::IdNumber => push_padded(&mut self.out, p.id_number, 6),
            Named::IdIssueDate => {
                let d = if id_is_passport {
                    p.birth
                        .add_years(if ipra.age_years >= 45 {
                            45
                        } else if ipra.age_years >= 20 {
                            20
                        } else {
                            14
                        })
                        .add_days(10 + (p.guid_seed % 60) as i32)
                } else {
                    p.birth.add_days(5 + (p.guid_seed % 20) as i32)
                };
                self.date(d)
            }
            Named::IdIssuer => {
                if id_is_passport {
                    self.text("МВД по Республике Татарстан")
                } else {
                    self.text("Отдел ЗАГС Исполнительного комитета ");
                    self.text(territory.genitive)
                }
            }
            Named::IdDept => {
                self.text("160-0");
                push_padded(&mut self.out, 10 + p.territory as u64 * 3, 2)
            }
            Named::IdActNumber => {
                if id_is_passport {
                    self.text("-")
                } else {
                    push_padded(&mut self.out, p.id_number % 100_000, 5)
                }
            }
            // Address of the person: the territory is what routing reads.
            Named::AddrDistrict => self.text(territory.short),
            Named::AddrAreaType => self.text(territory.area_type),
            Named::AddrCity => self.text(territory.city),
            Named::AddrStreet => self.text(p.street),
            Named::AddrStreetFull => {
                self.text("улица ");
                self.text(p.street)
            }
            Named::AddrHouse => self.num(p.house),
            Named::AddrFlat => self.num(p.flat),
            Named::AddrCorpus => self.text(if p.house.is_multiple_of(7) { "1" } else { "нет" }),
            Named::AddrZip => self.num(p.zip),
            Named::AddrString => {
                self.num(p.zip);
                self.text(", ");
                self.text(catalog::REGION_NAME);
                self.text(", ");
                self.text(territory.name);
                self.text(", г. ");
                self.text(territory.city);
                self.text(", ул. ");
                self.text(p.street);
                self.text(", д. ");
                self.num(p.house);
                self.text(", кв. ");
                self.num(p.flat);
            }
            Named::AddrHouseGuid => self.uuid(u128::from(p.guid_seed) << 64 | u128::from(hash3(p.guid_seed, 1, 1))),
            Named::AddrStreetGuid => {
                self.uuid(u128::from(hash3(p.guid_seed, 2, 2)) << 64 | u128::from(hash3(p.guid_seed, 3, 3)))
            }
            Named::AddrDistrictGuid | Named::AddrCityGuid => {
                let tag = if named == Named::AddrCityGuid { 1 } else { 0 };
                let h = hash3(0x4649_4153, p.territory as u64, tag);
                self.uuid(u128::from(h) << 64 | u128::from(hash3(h, 0, 0)))
            }
            // IPRA
            Named::IpraDocId => self.uuid(ipra.doc_id),
            Named::IpraKey => self.hex32(ipra.key, true),
            Named::IpraNumber => self.text(&ipra.number),
            Named::IpraSeq => self.num(ipra.seq),
            Named::IpraRegistered => self.moment(ipra.registered),
            Named::ProtocolNumber => self.text(&ipra.protocol_number),
            Named::ProtocolDate | Named::DecisionDate | Named::DevelopDate => self.date(ipra.protocol),
            Named::ExamDate => self.date(ipra.exam),
            Named::IssueDate => self.date(ipra.issue),
            Named::EndDate | Named::DisEndDate => self.end_date(),
            Named::DisStartDate => self.date(ipra.dis_start),
            Named::EndClass => self.text(ipra.end_class),
            Named::IsChild => self.boolean(ipra.child),
            Named::IsFirst => self.boolean(ipra.is_first),
            Named::HasRep => self.boolean(plan.counts.rep > 0),
            Named::GroupId => self.num(u64::from(GROUPS[ipra.group].0)),
            Named::GroupName => self.text(GROUPS[ipra.group].1),
            Named::ReasonId => self.num(u64::from(REASONS[ipra.reason].0)),
            Named::ReasonName => self.text(REASONS[ipra.reason].1),
            Named::PrognozId => self.num(ipra.prognoz as u64 + 1),
            Named::PrognozValue => self.text(catalog::PROGNOZ[ipra.prognoz]),
            Named::PotentialId => self.num(ipra.potential as u64 + 1),
            Named::PotentialValue => self.text(catalog::POTENTIAL[ipra.potential]),
            Named::LocationCode => self.num(ipra.location as u64 + 1),
            Named::LocationName => self.text(catalog::LOCATIONS[ipra.location]),
            Named::AdjNumber => match &plan.prior {
                Some(prior) => self.text(&prior.number),
                None => self.text("-"),
            },
            Named::AdjDate => match &plan.prior {
                Some(prior) => self.date(prior.issue),
                None => self.date(ipra.issue),
            },
            Named::AdjGuid => match &plan.prior {
                Some(prior) => self.uuid(prior.doc_id),
                None => self.text("-"),
            },
            // A correcting IPRA is submitted as a correction, as in the real sample that names its predecessor.
            Named::SubmissionType => self.text(if plan.prior.is_some() { "КОРР" } else { "ПЕРВ" }),
            Named::FarFuture => self.text(FAR_FUTURE),
            // MSE bureau and its staff
            Named::BuroNumber => self.num(ipra.buro),
            Named::BuroId => {
                if plan.version == Version::V20221024 {
                    self.text("016-");
                    push_padded(&mut self.out, ipra.buro, 9)
                } else {
                    self.num(ipra.buro)
                }
            }
            Named::BuroShort => {
                self.text("Бюро № ");
                self.num(ipra.buro);
            }
            Named::BuroFull | Named::BuroOrg => {
                self.text("Бюро медико-социальной экспертизы № ");
                self.num(ipra.buro);
                self.text(" - филиал ФКУ \"ГБ МСЭ по Республике Татарстан (Татарстан)\" Минтруда России");
            }
            Named::BuroAddress => {
                let org = self.world.org(p.territory, HEALTH);
                self.num(org.zip);
                self.text(", Татарстан Респ, ");
                self.text(org.city);
                self.text(" г, ");
                self.text(catalog::STREETS[(org.house as usize + 5) % catalog::STREETS.len()]);
                self.text(" ул, д. ");
                self.num(1 + org.house % 40);
            }
            Named::ChiefLast
            | Named::ChiefFirst
            | Named::ChiefMiddle
            | Named::ChiefLastUpper
            | Named::ChiefFirstUpper
            | Named::ChiefMiddleUpper => {
                let (last, first, middle) = catalog::OFFICIALS[ipra.buro as usize % catalog::OFFICIALS.len()];
                let v = match named {
                    Named::ChiefLast | Named::ChiefLastUpper => last,
                    Named::ChiefFirst | Named::ChiefFirstUpper => first,
                    _ => middle,
                };
                if matches!(
                    named,
                    Named::ChiefLastUpper | Named::ChiefFirstUpper | Named::ChiefMiddleUpper
                ) {
                    let upper = v.to_uppercase();
                    self.text(&upper)
                } else {
                    self.text(v)
                }
            }
            Named::SignerLast | Named::SignerFirst | Named::SignerMiddle => {
                let (last, first, middle) = catalog::OFFICIALS[(ipra.buro as usize + 4) % catalog::OFFICIALS.len()];
                self.text(match named {
                    Named::SignerLast => last,
                    Named::SignerFirst => first,
                    _ => middle,
                })
            }
            // Organisation that sent the person to MSE, and the Social Fund office
            Named::MedOrgName => {
                let name = &self.world.org(p.territory, HEALTH).public.name;
                self.text(name)
            }
            Named::MedOrgOgrn => {
                let ogrn = &self.world.org(p.territory, HEALTH).public.ogrn;
                self.out.extend_from_slice(ogrn.as_bytes())
            }
            Named::MedOrgAddress => {
                let address = &self.world.org(p.territory, HEALTH).public.address;
                self.text(address)
            }
            Named::MedOrgCity => self.text(territory.city),
            Named::MedOrgStreet => self.text(self.world.org(p.territory, HEALTH).street),
            Named::MedOrgHouse => self.num(self.world.org(p.territory, HEALTH).house),
            Named::MedOrgGuid => self.uuid(self.world.org(p.territory, HEALTH).guid),
            Named::SfrName => {
                let name = &self.world.org(p.territory, TSR).public.name;
                self.text(name)
            }
            Named::SfrOgrn => {
                let ogrn = &self.world.org(p.territory, TSR).public.ogrn;
                self.out.extend_from_slice(ogrn.as_bytes())
            }
            Named::SfrCity => self.text(territory.city),
            Named::SfrStreet => self.text(self.world.org(p.territory, TSR).street),
            Named::SfrHouse => self.num(self.world.org(p.territory, TSR).house),
            Named::SfrGuid => self.uuid(self.world.org(p.territory, TSR).guid),
            // Legal representative
            Named::RepLast => self.text(p.rep_last()),
            Named::RepFirst => self.text(p.rep_first),
            Named::RepMiddle => self.text(p.rep_middle),
            Named::RepBirthDate => self.date(p.rep_birth),
            Named::RepAge => self.num(p.rep_birth.years_until(ipra.protocol).max(18) as u64),
            Named::RepSnils => self.snils(&p.rep_snils),
            Named::RepEmail => {
                self.text("predst.");
                self.num(p.index as u64 % 100_000);
                self.text("@mail.ru");
            }
            Named::RepKind => self.text(if ipra.child { "Родитель" } else { "Опекун" }),
            Named::RepKindDoc => self.text(if ipra.child {
                "Свидетельство о рождении ребенка"
            } else {
                "Решение об установлении опеки"
            }),
            Named::RepDocNumber => push_padded(&mut self.out, (p.id_number * 7 + 13) % 1_000_000, 6),
            Named::RepDocSeries => push_padded(&mut self.out, p.id_series + 1, 4),
            Named::RepDocDate => self.date(p.rep_birth.add_years(20).add_days(30)),
            Named::RepDocIssuer => self.text("МВД по Республике Татарстан"),
            Named::RepAuthDate => self.date(if ipra.child {
                p.birth.add_days(20)
            } else {
                ipra.protocol.add_days(-200)
            }),
            Named::RepAuthIssuer => {
                self.text(if ipra.child {
                    "Отдел ЗАГС Исполнительного комитета "
                } else {
                    "Орган опеки и попечительства Исполнительного комитета "
                });
                self.text(territory.genitive)
            }
            Named::RepAuthNumber => push_padded(&mut self.out, p.id_number % 10_000, 4),
            // Act of examination and certificate
            Named::ActDocId => self.uuid(ipra.act_doc_id),
            Named::ActKey => self.hex32(ipra.act_key, true),
            Named::ActNumber => self.text(&ipra.act_number),
            Named::ActDate => self.date(ipra.exam),
            Named::ActRegistered => self.moment(ipra.registered.plus_seconds(120)),
            Named::CertSeries => self.text(&ipra.cert_series),
            Named::CertNumber => self.num(ipra.cert_number),
            // Measures and TSR
            Named::EvGuid | Named::TsrParamGuid => match &rec.measure {
                Some(m) => self.uuid(m.guid),
                None => {
                    let v = self.random128();
                    self.uuid(v)
                }
            },
            Named::EvGroupId => self.num(rec.measure.as_ref().map_or(0, |m| u64::from(m.kind.group_id))),
            Named::EvGroupName | Named::EvSubtypeName => {
                let name = rec.measure.as_ref().map_or("", |m| m.kind.name);
                self.text(name)
            }
            Named::EvSubtypeCode => self.num(rec.measure.as_ref().map_or(0, |m| u64::from(m.kind.group_id))),
            Named::EvTypeCode => self.num(rec.measure.as_ref().map_or(0, |m| u64::from(m.section.event_type().0))),
            Named::EvTypeName => {
                let name = rec.measure.as_ref().map_or("", |m| m.section.event_type().1);
                self.text(name)
            }
            Named::EvExecutorName => {
                let name = rec.measure.as_ref().map_or("", |m| m.org.public.name.as_str());
                self.text(name)
            }
            Named::EvExecutorOgrn => {
                let ogrn = rec.measure.as_ref().map_or("", |m| m.org.public.ogrn.as_str());
                self.text(ogrn)
            }
            Named::EvFrom => self.date(rec.measure.as_ref().map_or(ipra.issue, |m| m.from)),
            Named::EvTo => match rec.measure.as_ref() {
                Some(Measure { to: Some(to), .. }) => self.date(*to),
                Some(m) => self.date(m.from.add_years(3)),
                None => self.end_date(),
            },
            Named::EvToClass => match rec.measure.as_ref() {
                Some(Measure { to: Some(to), .. }) => {
                    self.text("до ");
                    to.write_ru(&mut self.out)
                }
                _ => self.text("бессрочно"),
            },
            Named::EvIndefinitely => self.boolean(rec.measure.as_ref().is_some_and(|m| m.to.is_none())),
            Named::ExBuilding => self.text("нет"),
            Named::ExStreet => self.text(rec.measure.as_ref().map_or("", |m| m.org.street)),
            Named::ExHouse => self.num(rec.measure.as_ref().map_or(1, |m| m.org.house)),
            Named::ExZip => self.num(rec.measure.as_ref().map_or(0, |m| m.org.zip)),
            Named::ExCity => self.text(rec.measure.as_ref().map_or(territory.city, |m| m.org.city)),
            Named::ExDistrict => self.text(territory.short),
            Named::ExAreaType => self.text(territory.area_type),
            Named::ExHouseGuid => self.uuid(rec.measure.as_ref().map_or(0, |m| m.org.guid)),
            Named::TsrCode => self.text(rec.measure.as_ref().and_then(|m| m.tsr).map_or("", |t| t.code)),
            Named::TsrName => {
                let name = rec.measure.as_ref().and_then(|m| m.tsr).map_or("", |t| t.name);
                self.text(name)
            }
            Named::TsrUnitName => self.text(rec.measure.as_ref().and_then(|m| m.tsr).map_or("шт", |t| t.unit)),
            Named::TsrUnitId => self.num(1),
            Named::TsrQuantity => self.num(rec.measure.as_ref().map_or(1, |m| m.quantity)),
            Named::TsrProsthesis => {
                self.boolean(rec.measure.as_ref().and_then(|m| m.tsr).is_some_and(|t| t.prosthesis))
            }
            Named::TsrBudgetCode => self.num(rec.measure.as_ref().map_or(1, |m| u64::from(m.budget))),
            Named::TsrBudgetName => self.text(match rec.measure.as_ref().map_or(1, |m| m.budget) {
                2 => "ТСР и услуги за счет средств бюджета субъекта РФ",
                3 => "ТСР и услуги за счет собственных средств инвалида либо средств других лиц и организаций",
                _ => "ТСР и услуги за счет средств федерального бюджета",
            }),
            Named::TsrFirstIpra => match &plan.prior {
                Some(prior) => self.text(&prior.number),
                None => self.text(&ipra.number),
            },
            // Records with a small fixed code list, chosen by the record's position
            Named::HelpId => self.num(help_kind(plan, rec.index) as u64 + 1),
            Named::HelpValue => self.text(catalog::HELP_KINDS[help_kind(plan, rec.index)]),
            Named::HousingCode => self.num(u64::from(rec.index) % catalog::HOUSING.len() as u64 + 1),
            Named::HousingName => self.text(catalog::HOUSING[rec.index as usize % catalog::HOUSING.len()]),
            Named::LifeCatCode => self.num(life_category(plan, rec.index) as u64 + 1),
            Named::LifeCatName => self.text(catalog::LIFE_CATEGORIES[life_category(plan, rec.index)]),
            Named::LifeDegreeCode => self.num(life_degree(plan, rec.index) as u64 + 1),
            Named::LifeDegreeName => self.text(catalog::DEGREES[life_degree(plan, rec.index)]),
            // Execution reports (RESOC) of social protection
            Named::ResocDocId => {
                let h = hash3(plan.seed ^ TAG_RESOC, u64::from(rec.resoc), 2);
                self.uuid(u128::from(h) << 64 | u128::from(hash3(h, 3, 3)))
            }
            Named::ResocKey => {
                self.resoc_number(rec.resoc);
                let d = self.resoc_moment(rec.resoc).date;
                let (y, m, dd) = d.parts();
                push_padded(&mut self.out, y as u64, 4);
                push_padded(&mut self.out, u64::from(m), 2);
                push_padded(&mut self.out, u64::from(dd), 2);
            }
            Named::ResocNumber => self.resoc_number(rec.resoc),
            Named::ResocDate | Named::ResocExecDate => {
                let d = self.resoc_moment(rec.resoc).date;
                self.date(d)
            }
            Named::ResocRegistered => {
                let m = self.resoc_moment(rec.resoc);
                self.moment(m)
            }
            Named::ResocExecutor => {
                let name = &self.world.org(p.territory, SOCIAL).public.name;
                self.text(name)
            }
            Named::ResocContractDate => {
                let (_, d) = self.resoc_contract(rec.resoc);
                self.date(d)
            }
            Named::ResocContractNumber => self.contract_number(rec.resoc),
            Named::ResocContractName => {
                let (_, d) = self.resoc_contract(rec.resoc);
                self.text("Государственный контракт № ");
                self.contract_number(rec.resoc);
                self.text(" от ");
                d.write_ru(&mut self.out);
            }
            // Free identifiers
            Named::Uuid => {
                let v = self.random128();
                self.uuid(v)
            }
            Named::Hex32 => {
                let v = self.random128();
                self.hex32(v, true)
            }
            Named::Hex32Lower => {
                let v = self.random128();
                self.hex32(v, false)
            }
        }
    }
}

fn help_kind(plan: &Plan, index: u32) -> usize {
    (below(plan.seed ^ 0x4845_4C50, catalog::HELP_KINDS.len() as u64) as usize + index as usize)
        % catalog::HELP_KINDS.len()
}

fn life_category(plan: &Plan, index: u32) -> usize {
    (below(plan.seed ^ 0x4C49_4645, catalog::LIFE_CATEGORIES.len() as u64) as usize + index as usize)
        % catalog::LIFE_CATEGORIES.len()
}

fn life_degree(plan: &Plan, index: u32) -> usize {
    below(
        hash3(plan.seed, 0x4445_4752, u64::from(index)),
        catalog::DEGREES.len() as u64,
    ) as usize
}
