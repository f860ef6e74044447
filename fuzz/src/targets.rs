//! The fuzz targets: each takes any bytes and must neither panic nor run away, whatever the bytes.
//! They are plain functions, so that `cargo fuzz` (libFuzzer, on a nightly toolchain) can wrap them
//! as well: `fuzz_target!(|data: &[u8]| ipra_fuzz::targets::fri(data));`.

use ipra_plugin_sdk::archive::{extract_xml, ArchiveLimits};
use ipra_plugin_sdk::bindings::ipra::plugin::types::{Document, ImportInput};

fn document(name: &str, media_type: &str, bytes: &[u8]) -> Document {
    Document {
        name: name.to_string(),
        media_type: media_type.to_string(),
        bytes: bytes.to_vec(),
    }
}

/// The SDK's XML reader, whole documents into trees.
pub fn xml(data: &[u8]) {
    let _ = ipra_plugin_sdk::xml::tree::parse(data);
}

/// The SDK's ZIP reader, with the limits the connectors use.
pub fn zip(data: &[u8]) {
    let _ = extract_xml(data, &ArchiveLimits::default());
}

/// The FRI connector's import of an extract (XML or ZIP).
pub fn fri(data: &[u8]) {
    let media_type = if ipra_plugin_sdk::archive::is_zip(data) {
        "application/zip"
    } else {
        "application/xml"
    };
    let _ = ipra_plugin_fri::import_document(&document("fuzz.xml", media_type, data));
}

/// The ZAGS connector's import of death records (`FATALRequest`, `FATALINFResponse`).
pub fn zags(data: &[u8]) {
    let _ = ipra_plugin_zags::import::import_document(&document("fuzz.xml", "application/xml", data));
}

/// The EGISSO connector's import (classifiers, answers).
pub fn egisso(data: &[u8]) {
    let _ = ipra_plugin_egisso::import(ImportInput::Document(document("fuzz.xml", "application/xml", data)));
}

/// The MSE connector's import (ИС МСЭ's answers on TSR clarification requests).
pub fn mse(data: &[u8]) {
    let _ = ipra_plugin_mse::import(ImportInput::Document(document("fuzz.xml", "application/xml", data)));
}

/// The АИС СОН connector's import (services reported back, answers on IPPSU).
pub fn aisson(data: &[u8]) {
    let _ = ipra_plugin_aisson::import_document(&document("fuzz.xml", "application/xml", data));
}

/// A fuzz target.
pub type Target = fn(&[u8]);

/// Every target by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("xml", xml),
    ("zip", zip),
    ("fri", fri),
    ("zags", zags),
    ("egisso", egisso),
    ("mse", mse),
    ("aisson", aisson),
];
