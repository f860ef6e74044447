//! Fuzzing the readers of what comes from outside: the SDK's XML and ZIP readers and the FRI, ZAGS
//! and EGISSO connectors. [`targets`] are the functions under test; [`mutate`] makes hostile
//! variants of real documents (the public samples in `../shared/formats/`); the `ipra-fuzz`
//! binary runs them against a clock and keeps every input that panics or runs too long.

pub mod mutate;
pub mod targets;
