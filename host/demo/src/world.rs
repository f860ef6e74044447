//! The demo region: its territories and the executor organisations of every department there.
//! Organisations depend on the seed only through their registration numbers, so runs agree.

use crate::catalog::{Territory, DEPARTMENTS, STREETS, TERRITORIES};
use crate::checksum::{inn10_check_digit, ogrn_check_digit};
use crate::rng::{below, hash2, hash3};
use crate::DemoOrganisation;

/// An organisation with the address parts the 2022 form spells out attribute by attribute.
pub(crate) struct Org {
    pub(crate) public: DemoOrganisation,
    pub(crate) street: &'static str,
    pub(crate) house: u64,
    pub(crate) zip: u64,
    pub(crate) city: &'static str,
    pub(crate) guid: u128,
}

pub(crate) struct World {
    pub(crate) orgs: Vec<Org>,
}

/// Department indices into `DEPARTMENTS`.
pub(crate) const HEALTH: usize = 0;
pub(crate) const EMPLOYMENT: usize = 1;
pub(crate) const EDUCATION: usize = 2;
pub(crate) const SOCIAL: usize = 3;
pub(crate) const SPORT: usize = 4;
pub(crate) const TSR: usize = 5;

impl World {
    pub(crate) fn new(seed: u64) -> World {
        let mut orgs = Vec::with_capacity(TERRITORIES.len() * DEPARTMENTS.len());
        for (t, territory) in TERRITORIES.iter().enumerate() {
            for (d, department) in DEPARTMENTS.iter().enumerate() {
                let h = hash3(seed, 0x0_0261, (t * DEPARTMENTS.len() + d) as u64);
                let ordinal = (t * DEPARTMENTS.len() + d) as u64;
                // С ГГ КК ХХХХХХХ Ч: legal entity, registration year 2002–2019, subject 16 (Татарстан).
                let year = 2 + below(h, 18);
                let serial = below(hash2(h, 1), 100_000) * 100 + ordinal;
                let first12 = 100_000_000_000 + year * 1_000_000_000 + 16 * 10_000_000 + serial;
                let ogrn = format!("{first12}{}", ogrn_check_digit(first12));
                let office = 1600 + [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15][t % 12] as u64;
                let inn9 = office * 100_000 + below(hash2(h, 2), 100_000);
                let mut digits = [0u8; 9];
                let mut n = inn9;
                for slot in digits.iter_mut().rev() {
                    *slot = (n % 10) as u8;
                    n /= 10;
                }
                let inn = format!("{inn9:09}{}", inn10_check_digit(&digits));
                let street = STREETS[below(hash2(h, 3), STREETS.len() as u64) as usize];
                let house = 1 + below(hash2(h, 4), 150);
                let zip = u64::from(territory.zip) * 100 + below(hash2(h, 5), 100);
                let name = org_name(territory, d);
                let address = format!(
                    "{zip}, {}, г. {}, ул. {street}, д. {house}",
                    crate::catalog::REGION_NAME,
                    territory.city
                );
                orgs.push(Org {
                    public: DemoOrganisation {
                        ogrn,
                        inn,
                        name,
                        department: (*department).to_string(),
                        territory_code: territory.code.to_string(),
                        territory_name: territory.name.to_string(),
                        address,
                    },
                    street,
                    house,
                    zip,
                    city: territory.city,
                    guid: u128::from(hash2(h, 6)) << 64 | u128::from(hash2(h, 7)),
                });
            }
        }
        World { orgs }
    }

    pub(crate) fn org(&self, territory: usize, department: usize) -> &Org {
        &self.orgs[territory * DEPARTMENTS.len() + department]
    }
}

fn org_name(t: &Territory, department: usize) -> String {
    let g = t.genitive;
    match department {
        HEALTH => format!("ГАУЗ «Центральная больница {g}»"),
        EMPLOYMENT => format!("ГКУ «Центр занятости населения {g}»"),
        EDUCATION => format!("Управление образования Исполнительного комитета {g}"),
        SOCIAL => format!("ГАУСО «Комплексный центр социального обслуживания населения {g}»"),
        SPORT => format!("МБУ «Спортивная школа адаптивной физической культуры {g}»"),
        _ => format!(
            "Клиентская служба Отделения СФР по Республике Татарстан в городе {}",
            t.city
        ),
    }
}
