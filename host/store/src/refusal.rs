//! Typed refusals: what the register (and auth, the scheduler, the exchange) says no to because of
//! what it was asked — an unknown record, a step the lifecycle does not allow now, a field that does
//! not hold. They travel inside `anyhow::Error` (so that `?` and `.context()` keep working) and are
//! found again by type, once, where an answer is made: the API answers 404 / 409 / 422 with the
//! field, a page shows the message, the CLI prints it. Anything that is not a refusal is an internal
//! error: logged with an id and shown only as that id, never as the text of a database error.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The thing asked for does not exist (or is not the caller's to see).
    NotFound(String),
    /// The thing exists, but the step is not allowed in its present state.
    Conflict(String),
    /// A field of the request does not hold: its name and the Russian message.
    Invalid { field: String, message: String },
}

impl Refusal {
    /// The refusal somewhere in an error's chain (under any contexts added on the way up).
    pub fn of(e: &anyhow::Error) -> Option<&Refusal> {
        e.chain().find_map(|cause| cause.downcast_ref::<Refusal>())
    }

    pub fn message(&self) -> &str {
        match self {
            Refusal::NotFound(m) | Refusal::Conflict(m) => m,
            Refusal::Invalid { message, .. } => message,
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Refusal {}

/// «… не найдено»: the thing asked for is not there.
pub fn not_found(message: impl Into<String>) -> anyhow::Error {
    Refusal::NotFound(message.into()).into()
}

/// A step the present state does not allow (a report already signed, a record already in a report).
pub fn conflict(message: impl Into<String>) -> anyhow::Error {
    Refusal::Conflict(message.into()).into()
}

/// A field that does not hold.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> anyhow::Error {
    Refusal::Invalid {
        field: field.into(),
        message: message.into(),
    }
    .into()
}

/// Whether an error came from the database or the file system rather than from a rule: its text
/// is for the log, never for the person who asked.
pub fn is_internal(e: &anyhow::Error) -> bool {
    e.chain()
        .any(|cause| cause.downcast_ref::<sqlx::Error>().is_some() || cause.downcast_ref::<std::io::Error>().is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn a_refusal_is_found_under_contexts() {
        let e: anyhow::Result<()> = Err(invalid("ogrn", "ОГРН: неверная контрольная цифра"));
        let e = e.context("организация").unwrap_err();
        assert_eq!(
            Refusal::of(&e),
            Some(&Refusal::Invalid {
                field: "ogrn".into(),
                message: "ОГРН: неверная контрольная цифра".into()
            })
        );
        assert!(!is_internal(&e));
        let plain = anyhow::anyhow!("что-то");
        assert_eq!(Refusal::of(&plain), None);
        let io: anyhow::Error = std::io::Error::other("disk").into();
        assert!(is_internal(&io.context("чтение")));
    }
}
