//! Read-only look-ups a plugin may ask the host for, behind a trait so the sandbox does not
//! depend on the register and tests can answer from memory.

use super::model::{Organisation, ReferenceEntry};

/// What the host answers to a plugin's look-ups. Implementations answer from memory: a call
/// into a plugin must never wait on the database.
pub trait Lookups: Send + Sync {
    fn organisation(&self, ogrn: &str) -> Option<Organisation>;
    fn route(&self, section: &str, territory_code: &str) -> Option<Organisation>;
    fn reference_list(&self, list_id: &str) -> Vec<ReferenceEntry>;
}

/// Answers nothing: for plugins that declared no look-ups, and for tests.
pub struct NoLookups;

impl Lookups for NoLookups {
    fn organisation(&self, _ogrn: &str) -> Option<Organisation> {
        None
    }
    fn route(&self, _section: &str, _territory_code: &str) -> Option<Organisation> {
        None
    }
    fn reference_list(&self, _list_id: &str) -> Vec<ReferenceEntry> {
        Vec::new()
    }
}
