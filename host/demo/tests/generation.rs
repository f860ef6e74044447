//! Properties of the generated stream: valid identifiers, sizes, determinism, supersession, coverage.
//! Sizes and coverage are measured over a few thousand extracts; identities over 50 000.

use std::collections::{HashMap, HashSet};

use ipra_demo::checksum::{inn10_is_valid, ogrn_is_valid, snils_is_valid};
use ipra_demo::{
    extract_at, extracts, identities, organisations, territories, territory_code_for_district, DemoExtract, DemoOptions,
};

fn opts(count: usize) -> DemoOptions {
    DemoOptions {
        count,
        seed: 42,
        ..Default::default()
    }
}

fn xml(e: &DemoExtract) -> &str {
    std::str::from_utf8(&e.xml).expect("UTF-8")
}

/// Values of attribute `code` in document order.
fn attribute_values<'a>(xml: &'a str, code: &str) -> Vec<&'a str> {
    let needle = format!("<fri:Код>{code}</fri:Код>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        if let Some(v) = rest.find("<fri:Значение>") {
            let value = &rest[v + "<fri:Значение>".len()..];
            let end = value.find("</fri:Значение>").unwrap_or(0);
            out.push(&value[..end]);
        }
    }
    out
}

fn element<'a>(xml: &'a str, name: &str) -> &'a str {
    let open = format!("<fri:{name}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..].find('<').map(|i| start + i).unwrap_or(start);
    &xml[start..end]
}

#[test]
fn identifiers_carry_valid_check_digits() {
    for org in organisations(42) {
        assert!(ogrn_is_valid(&org.ogrn), "{org:?}");
        assert!(inn10_is_valid(&org.inn), "{org:?}");
    }
    let orgs = organisations(42);
    assert_eq!(orgs.len(), territories().len() * 6);
    assert_eq!(orgs.iter().map(|o| &o.ogrn).collect::<HashSet<_>>().len(), orgs.len());
    for e in extracts(&opts(400)) {
        assert!(snils_is_valid(&e.snils), "{}", e.snils);
        let text = xml(&e);
        let formatted = element(text, "СНИЛС");
        assert_eq!(formatted.replace(['-', ' '], ""), e.snils);
        for code in [
            "ExecutorOGRN",
            "MedOrgOgrn",
            "SentOrgOgrn",
            "SFROgrn",
            "ОrganizationOGRN",
            "RepresentativeOrgOgrn",
        ] {
            for ogrn in attribute_values(text, code) {
                assert!(ogrn_is_valid(ogrn), "{code} {ogrn} in {}", e.file_name);
            }
        }
        for code in ["RepresentativeSNILS", "RepresentOfficialSNILS", "SNILS"] {
            for snils in attribute_values(text, code) {
                assert!(snils_is_valid(&snils.replace(['-', ' '], "")), "{code} {snils}");
            }
        }
    }
}

#[test]
fn sizes_follow_the_real_samples() {
    let mut sizes: Vec<usize> = extracts(&opts(2_000)).map(|e| e.xml.len()).collect();
    sizes.sort_unstable();
    let mean = sizes.iter().sum::<usize>() / sizes.len();
    let in_real_range = sizes.iter().filter(|&&s| (85_000..=350_000).contains(&s)).count();
    println!(
        "mean {mean} min {} median {} max {}",
        sizes[0],
        sizes[sizes.len() / 2],
        sizes[sizes.len() - 1]
    );
    assert!((135_000..=165_000).contains(&mean), "mean size {mean}");
    assert!(
        in_real_range * 100 / sizes.len() >= 85,
        "{in_real_range} of {} within 85–350 KB",
        sizes.len()
    );
    assert!(sizes[sizes.len() - 1] < 400_000);
}

#[test]
fn same_options_give_identical_bytes() {
    let a: Vec<DemoExtract> = extracts(&opts(150)).collect();
    let b: Vec<DemoExtract> = extracts(&opts(150)).collect();
    assert_eq!(a, b);
    assert_eq!(extract_at(&opts(150), 137), a[137]);
    assert_eq!(extracts(&opts(150)).nth(99).as_ref(), Some(&a[99]));
    let other = extracts(&DemoOptions { seed: 43, ..opts(150) }).next();
    assert_ne!(other.as_ref().map(|e| &e.xml), Some(&a[0].xml));
}

#[test]
fn superseding_extracts_follow_what_they_supersede() {
    let all: Vec<DemoExtract> = extracts(&opts(3_000)).collect();
    let mut claimed = HashSet::new();
    let mut superseding = 0;
    for e in &all {
        let Some(j) = e.supersedes_index else {
            assert!(!e.supersedes_earlier);
            continue;
        };
        superseding += 1;
        assert!(e.supersedes_earlier);
        assert!(j < e.index, "supersedes a later extract");
        assert!(claimed.insert(j), "extract {j} superseded twice");
        let earlier = &all[j];
        assert!(!earlier.supersedes_earlier, "chains are not generated");
        assert_eq!(earlier.snils, e.snils, "same person");
        assert_ne!(earlier.ipra_number, e.ipra_number);
        assert!(
            earlier.protocol_date < e.protocol_date,
            "{} !< {}",
            earlier.protocol_date,
            e.protocol_date
        );
        // The newer IPRA names the one it corrects (2019 form: AdjustableNumber).
        if e.version == "IPRA_20190101" {
            assert_eq!(
                attribute_values(xml(e), "AdjustableNumber"),
                vec![earlier.ipra_number.as_str()]
            );
        }
    }
    let share = superseding * 100 / all.len();
    assert!((7..=13).contains(&share), "{superseding} superseding of {}", all.len());
}

#[test]
fn identities_never_repeat_in_a_large_run() {
    let mut seen = HashSet::new();
    let mut persons: HashMap<String, usize> = HashMap::new();
    let mut n = 0;
    for id in identities(&opts(50_000)) {
        let key = (
            id.ipra_number.clone(),
            id.protocol_number.clone(),
            id.protocol_date.clone(),
            id.snils.clone(),
        );
        assert!(seen.insert(key), "identity repeated at {}", id.index);
        // A SNILS belongs to one person: it recurs only for a superseding IPRA of that person.
        let owner = id.supersedes_index.unwrap_or(id.index);
        assert_eq!(
            *persons.entry(id.snils).or_insert(owner),
            owner,
            "SNILS reused at {}",
            id.index
        );
        n += 1;
    }
    assert_eq!(n, 50_000);
    // The rendered XML carries the same identity.
    let e = extract_at(&opts(50_000), 31_337);
    let id = identities(&opts(31_338)).last().expect("identity");
    assert_eq!(
        (e.ipra_number.as_str(), e.snils.as_str()),
        (id.ipra_number.as_str(), id.snils.as_str())
    );
    assert!(xml(&e).contains(&format!("<fri:Номер>{}</fri:Номер>", id.ipra_number)));
}

#[test]
fn stream_covers_versions_sections_and_extra_documents() {
    let all: Vec<DemoExtract> = extracts(&opts(3_000)).collect();
    let mut versions: HashMap<&str, usize> = HashMap::new();
    let mut categories = HashSet::new();
    let mut tsr_codes = HashSet::new();
    let mut budgets = HashSet::new();
    let mut event_types = HashSet::new();
    let (mut children, mut acts, mut reports) = (0, 0, 0);
    let codes: HashSet<String> = territories().into_iter().map(|(code, _)| code).collect();
    for e in &all {
        let text = xml(e);
        *versions.entry(e.version).or_default() += 1;
        children += usize::from(e.is_child);
        assert!(codes.contains(&e.territory_code));
        // The person's district in the address leads back to the territory code.
        let district = attribute_values(
            text,
            if e.version == "IPRA_20221024" {
                "DistrictName"
            } else {
                "District"
            },
        )[0];
        assert_eq!(
            territory_code_for_district(district),
            Some(e.territory_code.as_str()),
            "{district}"
        );
        assert_eq!(
            attribute_values(text, "IsChild")
                .first()
                .map(|v| *v == "true")
                .unwrap_or(e.is_child),
            e.is_child
        );
        for part in text.split("<fri:Категория>").skip(1) {
            categories.insert(element(part, "Код").to_string());
        }
        tsr_codes.extend(attribute_values(text, "Code").into_iter().map(str::to_string));
        budgets.extend(attribute_values(text, "BudgetCode").into_iter().map(str::to_string));
        event_types.extend(attribute_values(text, "EventTypeCode").into_iter().map(str::to_string));
        acts += usize::from(text.contains("<fri:Код>ACT</fri:Код>"));
        if text.contains("RESOC_20180416") {
            reports += 1;
            let ipra_key = element(text, "Ключ");
            assert!(text.contains(&format!(
                "<fri:РодительскийДокумент>{ipra_key}</fri:РодительскийДокумент>"
            )));
        }
    }
    let main =
        versions.get("IPRA_20190101").copied().unwrap_or(0) + versions.get("IPRA_20221024").copied().unwrap_or(0);
    assert_eq!(versions.len(), 4, "{versions:?}");
    assert!(main * 100 / all.len() >= 80, "{versions:?}");
    let child_share = children * 100 / all.len();
    assert!((10..=22).contains(&child_share), "{children} children");
    for category in [
        "MSE.IPRA.MED.EVENT",
        "MSE.IPRA.PROF.EVENT",
        "MSE.IPRA.PSYCHOPED.EVENT",
        "MSE.IPRA.SOCIAL.EVENT",
        "MSE.IPRA.PHYSIOTHERAPY.EVENT",
        "MSE.IPRA.TSR.FEDERAL.ITEM",
        "MSE.IPRA.TSR.REGIONAL.ITEM",
        "MSE.IPRA.TSR.MSK",
        "MSE.IPRA.REHAB",
        "GENERAL.ADDRESS",
        "IPRAEXEC.REHAB.SOCIOENV",
        "IPRAEXEC.REHAB.SOCIOPSYCHOLOG",
    ] {
        assert!(categories.contains(category), "{category} missing");
    }
    assert!(tsr_codes.contains("7-02-01"));
    assert!(budgets.contains("1") && budgets.contains("2") && budgets.contains("3"));
    for t in ["1", "2", "3", "4", "5"] {
        assert!(event_types.contains(t), "EventTypeCode {t}");
    }
    assert!(
        acts > all.len() / 5 && reports > all.len() / 20,
        "{acts} acts, {reports} reports"
    );
}

/// Generation speed on one core; run with
/// `cargo test --release -p ipra-demo --test generation -- --ignored --nocapture`.
#[test]
#[ignore]
fn generation_speed() {
    let o = DemoOptions {
        count: 5_000,
        seed: 9,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let mut bytes = 0usize;
    for e in extracts(&o) {
        bytes += e.xml.len();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} extracts, {:.1} MB in {:.2} s: {:.0} MB/s, {:.0} extracts/s",
        o.count,
        bytes as f64 / 1e6,
        secs,
        bytes as f64 / 1e6 / secs,
        o.count as f64 / secs
    );
}
