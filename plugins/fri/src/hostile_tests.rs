//! Hostile documents: each is refused with a Russian reason naming what is wrong, without a panic
//! and without anything half-read taken as an IPRA.

use crate::import_document;
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Document, ImportOutput, Normalized, PluginError};

fn sample() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/formats/fri/samples/yuryzje/extract_4.xml"
    );
    std::fs::read_to_string(path).expect("the public FRI sample beside the workspace")
}

fn import(bytes: Vec<u8>) -> Result<ImportOutput, PluginError> {
    import_document(&Document {
        name: "hostile.xml".into(),
        media_type: "application/xml".into(),
        bytes,
    })
}

/// The reasons a document gave: its own refusal, or every record's.
fn refusals(result: &Result<ImportOutput, PluginError>) -> Vec<String> {
    match result {
        Err(e) => vec![format!("{} ({})", e.message, e.field.clone().unwrap_or_default())],
        Ok(out) => out
            .records
            .iter()
            .filter_map(|r| {
                r.outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("{} ({})", e.message, e.field.clone().unwrap_or_default()))
            })
            .collect(),
    }
}

fn ipras(result: &Result<ImportOutput, PluginError>) -> usize {
    result
        .as_ref()
        .map(|out| {
            out.records
                .iter()
                .filter(|r| matches!(r.outcome, Ok(Normalized::Ipra(_))))
                .count()
        })
        .unwrap_or(0)
}

fn cyrillic(text: &str) -> bool {
    text.chars()
        .any(|c| ('а'..='я').contains(&c.to_lowercase().next().unwrap_or(c)))
}

#[test]
fn the_sample_itself_is_read() {
    assert_eq!(ipras(&import(sample().into_bytes())), 1);
}

#[test]
fn hostile_extracts_are_refused_with_a_russian_reason() {
    let s = sample();
    let declaration_end = s.find("?>").map(|i| i + 2).unwrap_or(0);
    let with_dtd = format!(
        "{}<!DOCTYPE a [<!ENTITY e \"eeee\"><!ENTITY f \"&e;&e;&e;&e;\">]>{}",
        &s[..declaration_end],
        &s[declaration_end..]
    );
    let deep = format!(
        "{}{}{}",
        &s[..declaration_end],
        "<a>".repeat(50_000),
        "</a>".repeat(50_000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("DTD and entities", with_dtd.into_bytes()),
        (
            "external entity",
            s.replacen("?>", "?><!DOCTYPE a SYSTEM \"file:///etc/passwd\">", 1)
                .into_bytes(),
        ),
        (
            "foreign namespace",
            s.replace("http://fri.pfr.ru", "http://example.com/fri").into_bytes(),
        ),
        (
            "no namespace",
            s.replace(" xmlns:fri=\"http://fri.pfr.ru\"", "").into_bytes(),
        ),
        (
            "bad SNILS checksum",
            s.replacen("<fri:СНИЛС>", "<fri:СНИЛС>9", 1).into_bytes(),
        ),
        ("impossible birth date", {
            let at = s.find("<fri:ДатаРождения>").unwrap() + "<fri:ДатаРождения>".len();
            format!("{}2021-02-30{}", &s[..at], &s[at + 10..]).into_bytes()
        }),
        ("deeply nested", deep.into_bytes()),
        ("cut in the middle", s.as_bytes()[..s.len() / 2].to_vec()),
        (
            "windows-1251 declared on UTF-8",
            s.replacen(
                "<?xml version=\"1.0\"?>",
                "<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
                1,
            )
            .into_bytes(),
        ),
        ("UTF-16 byte order mark", [&[0xFF, 0xFE][..], s.as_bytes()].concat()),
        ("not XML at all", vec![0u8; 4096]),
        (
            "an extract with no document",
            b"<?xml version=\"1.0\"?><fri:\xd0\x92\xd1\x8b\xd0\xbf\xd0\xb8\xd1\x81\xd0\xba\xd0\xb0\xd0\xa4\xd0\xa0\xd0\x98 xmlns:fri=\"http://fri.pfr.ru\"/>".to_vec(),
        ),
        ("deeply nested inside the extract", {
            let at = s.find("<fri:ВсеДокументы>").unwrap() + "<fri:ВсеДокументы>".len();
            format!("{}{}{}{}", &s[..at], "<fri:Документ>".repeat(100_000), "</fri:Документ>".repeat(100_000), &s[at..]).into_bytes()
        }),
        ("an extract of unknown elements only", {
            let start = s.find("<fri:ВсеДокументы>").unwrap();
            let end = s.rfind("</fri:ВсеДокументы>").unwrap() + "</fri:ВсеДокументы>".len();
            format!("{}<fri:Что><fri:То><fri:Ещё/></fri:То></fri:Что>{}", &s[..start], &s[end..]).into_bytes()
        }),
    ];
    for (what, bytes) in cases {
        let result = import(bytes);
        let reasons = refusals(&result);
        let taken = ipras(&result);
        assert_eq!(taken, 0, "{what}: nothing half-read is taken as an IPRA");
        assert!(!reasons.is_empty(), "{what}: the refusal is said");
        assert!(
            reasons.iter().all(|r| cyrillic(r)),
            "{what}: reasons in Russian: {reasons:?}"
        );
    }
}
