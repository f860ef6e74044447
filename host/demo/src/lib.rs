//! Deterministic, streaming generator of realistic FRI IPRA extracts (`fri:ВыпискаФРИ`, schema v1.5).
//! For demo data and for benchmarks that need hundreds of thousands of extracts.
//!
//! Every document is rendered from templates derived from the public FRI samples
//! (`../shared/formats/fri/samples/yuryzje/`): the same element order, record categories and
//! attribute codes per document version (`IPRA_20160101`, `IPRA_20170812`, `IPRA_20190101`,
//! `IPRA_20221024`, plus `ACT_*` and `RESOC_20180416` documents some extracts carry). Values are
//! generated: valid SNILS and OGRN check digits, adults and children, all measure sections, TSR
//! items with classifier codes, persons living in the territories of [`territories`], and IPRAs
//! that supersede earlier ones in the same stream.
//!
//! ```
//! let opts = ipra_demo::DemoOptions { count: 3, seed: 7, ..Default::default() };
//! let extracts: Vec<_> = ipra_demo::extracts(&opts).collect();
//! assert_eq!(extracts.len(), 3);
//! assert!(extracts[0].xml.starts_with(b"<?xml"));
//! assert_eq!(extracts[0].snils.len(), 11);
//! ```

mod catalog;
pub mod checksum;
mod date;
mod plan;
mod render;
mod rng;
mod template;
mod world;

use std::sync::Arc;

/// What to generate. Same options, byte-identical output.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DemoOptions {
    /// Number of extracts.
    pub count: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Share of persons who are children at their first IPRA, in percent.
    pub child_percent: u8,
    /// Share of extracts that carry a newer IPRA superseding one earlier in the stream, in percent.
    pub supersede_percent: u8,
    /// Share of extracts that also carry the act of examination (`ACT_*`), in percent.
    pub act_percent: u8,
    /// Share of extracts that also carry execution reports (`RESOC_20180416`), in percent.
    pub execution_report_percent: u8,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            count: 100,
            seed: 1,
            child_percent: 16,
            supersede_percent: 10,
            act_percent: 35,
            execution_report_percent: 10,
        }
    }
}

/// One generated extract file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoExtract {
    /// File name, unique in the run; names sort in stream order.
    pub file_name: String,
    /// The extract, UTF-8 XML.
    pub xml: Vec<u8>,
    /// SNILS of the person, 11 digits without separators.
    pub snils: String,
    /// This extract's IPRA replaces one of the same person that came earlier in the stream.
    pub supersedes_earlier: bool,
    /// Position in the stream, from 0.
    pub index: usize,
    /// Position of the extract whose IPRA this one supersedes.
    pub supersedes_index: Option<usize>,
    /// IPRA document version, e.g. `IPRA_20221024`.
    pub version: &'static str,
    /// IPRA number.
    pub ipra_number: String,
    /// MSE protocol number.
    pub protocol_number: String,
    /// MSE protocol date, `YYYY-MM-DD`.
    pub protocol_date: String,
    /// Whether the IPRA is a child's (person under 18 at the protocol date).
    pub is_child: bool,
    /// Code of the person's territory (one of [`territories`]).
    pub territory_code: String,
}

/// An executor organisation of the demo region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoOrganisation {
    /// 13 digits, valid check digit.
    pub ogrn: String,
    /// 10 digits, valid check digit.
    pub inn: String,
    pub name: String,
    /// `health`, `employment`, `education`, `social-protection`, `sport` or `tsr`.
    pub department: String,
    pub territory_code: String,
    pub territory_name: String,
    /// Postal address on one line.
    pub address: String,
}

/// The lazy stream of extracts: O(1) memory in `count`; `nth` jumps without rendering.
pub struct Extracts {
    opts: DemoOptions,
    world: Arc<world::World>,
    next: usize,
}

impl Iterator for Extracts {
    type Item = DemoExtract;

    fn next(&mut self) -> Option<DemoExtract> {
        if self.next >= self.opts.count {
            return None;
        }
        let extract = build(&self.opts, &self.world, self.next);
        self.next += 1;
        Some(extract)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.opts.count.saturating_sub(self.next);
        (left, Some(left))
    }

    fn nth(&mut self, n: usize) -> Option<DemoExtract> {
        self.next = self.next.saturating_add(n);
        self.next()
    }
}

impl ExactSizeIterator for Extracts {}

/// The extracts of `opts`, generated one at a time.
pub fn extracts(opts: &DemoOptions) -> Extracts {
    Extracts {
        opts: opts.clone(),
        world: Arc::new(world::World::new(opts.seed)),
        next: 0,
    }
}

/// Extract number `index` of the stream of `opts` (also beyond `opts.count`), without the others.
pub fn extract_at(opts: &DemoOptions, index: usize) -> DemoExtract {
    build(opts, &world::World::new(opts.seed), index)
}

/// What identifies an extract's IPRA, without rendering the extract: cheap, for checks over large runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DemoIdentity {
    pub index: usize,
    /// 11 digits.
    pub snils: String,
    pub ipra_number: String,
    pub protocol_number: String,
    /// `YYYY-MM-DD`.
    pub protocol_date: String,
    pub supersedes_index: Option<usize>,
}

/// The identities of the extracts of `opts`, in stream order; the same values the XML carries.
pub fn identities(opts: &DemoOptions) -> impl Iterator<Item = DemoIdentity> + '_ {
    (0..opts.count).map(move |index| {
        let plan = plan::Plan::new(opts, index);
        DemoIdentity {
            index,
            snils: plan.person.snils_digits(),
            ipra_number: plan.ipra.number,
            protocol_number: plan.ipra.protocol_number,
            protocol_date: plan.ipra.protocol.to_iso(),
            supersedes_index: plan.prior.map(|p| p.index),
        }
    })
}

/// Executors for every department in every demo territory; the extracts of the same seed name them.
pub fn organisations(seed: u64) -> Vec<DemoOrganisation> {
    world::World::new(seed).orgs.into_iter().map(|o| o.public).collect()
}

/// The demo territories (municipal districts and city districts of Республика Татарстан) as
/// (OKTMO code, name). Extract addresses carry the short name in `District`, `DistrictName` and `AreaName`.
pub fn territories() -> Vec<(String, String)> {
    catalog::TERRITORIES
        .iter()
        .map(|t| (t.code.to_string(), t.name.to_string()))
        .collect()
}

/// The demo region's name pools, upper case as the FRI writes names: surnames and patronymics as
/// (male, female) pairs. For generators of persons without extracts (the register benchmark).
pub struct NamePools {
    pub surnames: &'static [(&'static str, &'static str)],
    pub male: &'static [&'static str],
    pub female: &'static [&'static str],
    pub patronymics: &'static [(&'static str, &'static str)],
}

pub fn name_pools() -> NamePools {
    NamePools {
        surnames: catalog::SURNAMES,
        male: catalog::MALE_NAMES,
        female: catalog::FEMALE_NAMES,
        patronymics: catalog::PATRONYMICS,
    }
}

/// The territory code for the district name an extract's address carries (`District`,
/// `DistrictName` or `AreaName`), e.g. `Бугульминский` → `92617000`.
pub fn territory_code_for_district(district: &str) -> Option<&'static str> {
    catalog::TERRITORIES
        .iter()
        .find(|t| t.short == district || t.name == district)
        .map(|t| t.code)
}

/// Rendered sizes vary from about 60 to 350 KB; reserving the mean avoids most regrowth.
const TYPICAL_SIZE: usize = 192 * 1024;

fn build(opts: &DemoOptions, world: &world::World, index: usize) -> DemoExtract {
    let plan = plan::Plan::new(opts, index);
    let xml = render::Renderer::new(&plan, world, TYPICAL_SIZE).render();
    let snils = plan.person.snils_digits();
    let version = plan.version.code();
    DemoExtract {
        file_name: format!("{index:08}_{snils}_{version}.xml"),
        xml,
        snils,
        supersedes_earlier: plan.prior.is_some(),
        index,
        supersedes_index: plan.prior.as_ref().map(|p| p.index),
        version,
        ipra_number: plan.ipra.number.clone(),
        protocol_number: plan.ipra.protocol_number.clone(),
        protocol_date: plan.ipra.protocol.to_iso(),
        is_child: plan.ipra.child,
        territory_code: plan.person.territory().code.to_string(),
    }
}
