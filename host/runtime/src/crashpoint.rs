//! Named points between the durable steps of a flow where crash tests kill the process.
//!
//! `IPRA_CRASH_AT=NAME` makes the process send itself SIGKILL when it reaches the point `NAME` —
//! a real kill at a known place, so that the tests prove recovery from each step rather than
//! from wherever a random kill happened to land. Unset (always, outside tests), a point is one
//! comparison against a value read once.

use std::sync::OnceLock;

fn target() -> Option<&'static str> {
    static TARGET: OnceLock<Option<String>> = OnceLock::new();
    TARGET
        .get_or_init(|| std::env::var("IPRA_CRASH_AT").ok().filter(|v| !v.is_empty()))
        .as_deref()
}

/// Kills this process here when `IPRA_CRASH_AT` names this point.
pub fn here(name: &str) {
    if target() == Some(name) {
        tracing::warn!(point = name, "IPRA_CRASH_AT: killing this process");
        // SAFETY: kill(2) on our own pid has no memory effects.
        unsafe {
            libc::kill(libc::getpid(), libc::SIGKILL);
        }
    }
}
