//! `ipra-bench-native`: the native baselines of `ipra bench import`, in a process of their own so
//! that the server depends on no plugin crate. The bench starts it beside itself and asks, one line
//! per extract on standard input:
//!
//! - `both PATH` → `QUICK_XML_NS FRI_NS BYTES`: quick-xml reading every record of the file into
//!   memory (the baseline), then the FRI connector's parser compiled natively reading and
//!   normalising every record, each timed once;
//! - `parser PATH` → `FRI_NS`: the FRI parser alone, for the WASM-vs-native sample.
//!
//! The file is read before the clock starts. A file either parser refuses answers `error MESSAGE`.

use std::io::{BufRead, Write};
use std::time::Instant;

type Result<T> = std::result::Result<T, String>;

fn main() {
    let stdin = std::io::stdin().lock();
    let mut out = std::io::stdout().lock();
    for line in stdin.lines() {
        let Ok(line) = line else { break };
        let answer = answer(&line).unwrap_or_else(|e| format!("error {}", e.replace('\n', " ")));
        if writeln!(out, "{answer}").and_then(|()| out.flush()).is_err() {
            break;
        }
    }
}

/// The FRI parser reading and normalising every record of the document once.
fn time_parse(document: &ipra_plugin_fri::NativeDocument) -> std::time::Duration {
    let start = Instant::now();
    std::hint::black_box(document.parse());
    start.elapsed()
}

fn answer(line: &str) -> Result<String> {
    let (command, path) = line.split_once(' ').ok_or("ожидается «both ПУТЬ» или «parser ПУТЬ»")?;
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let name = std::path::Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let len = bytes.len();
    let document = ipra_plugin_fri::NativeDocument::new(&name, bytes);
    match command {
        "both" => {
            let start = Instant::now();
            let records = quick_xml_records(document.bytes())?;
            let quick = start.elapsed();
            // Every element read, to be sure nothing was skipped.
            let elements: usize = records
                .iter()
                .map(|r| r.iter().filter(|n| !n.name.is_empty()).count())
                .sum();
            std::hint::black_box(elements);
            drop(records);
            let fri = time_parse(&document);
            Ok(format!("{} {} {len}", quick.as_nanos(), fri.as_nanos()))
        }
        "parser" => Ok(time_parse(&document).as_nanos().to_string()),
        other => Err(format!("неизвестная команда «{other}»")),
    }
}

/// One element of a record as the baseline reads it: name, attributes and text, all owned.
#[derive(Default)]
struct Node {
    name: String,
    attributes: Vec<(String, String)>,
    text: String,
}

/// Reads one element (name and attributes) into the record it belongs to: elements at the root and
/// just under it start a record, deeper ones join the current one.
fn read_element(records: &mut Vec<Vec<Node>>, depth: usize, start: &quick_xml::events::BytesStart) -> Result<()> {
    let mut node = Node {
        name: start.name().as_ref().to_string(),
        ..Node::default()
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        node.attributes.push((
            attribute.key.as_ref().to_string(),
            attribute
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| e.to_string())?
                .into_owned(),
        ));
    }
    if depth <= 1 {
        records.push(Vec::new());
    }
    if let Some(record) = records.last_mut() {
        record.push(node);
    }
    Ok(())
}

/// The native baseline: quick-xml reading every record (every element under the root, with
/// its attributes and unescaped text) of one document into memory. Returns the elements read.
fn quick_xml_records(bytes: &[u8]) -> Result<Vec<Vec<Node>>> {
    use quick_xml::events::Event;
    let text = ipra_plugin_sdk::xml::decode_document(bytes).map_err(|e| format!("{e}"))?;
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut records: Vec<Vec<Node>> = Vec::new();
    let mut depth = 0usize;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(start) => {
                read_element(&mut records, depth, &start)?;
                depth += 1;
            }
            Event::Empty(start) => read_element(&mut records, depth, &start)?,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Text(t) => {
                // Indentation between elements is no part of a record.
                if t.as_ref().bytes().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                if let Some(node) = records.last_mut().and_then(|r| r.last_mut()) {
                    node.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(node) = records.last_mut().and_then(|r| r.last_mut()) {
                    if r.is_char_ref() {
                        node.text.extend(r.resolve_char_ref().map_err(|e| e.to_string())?);
                    } else {
                        let name = r.xml10_content();
                        match quick_xml::escape::resolve_xml_entity(&name) {
                            Some(value) => node.text.push_str(value),
                            None => return Err(format!("неизвестная сущность «&{name};»")),
                        }
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(records)
}
