//! Constructors for [`PluginError`], the typed error every hook returns instead of trapping: a stable code,
//! a Russian message for users, and the record and field it concerns.
//!
//! ```
//! use ipra_plugin_sdk::bindings::ipra::plugin::types::PluginError;
//! let error = PluginError::new("snils-invalid", "СНИЛС содержит букву")
//!     .at_record("Документ 1 (IPRA_20190101)")
//!     .at_field("СНИЛС");
//! assert_eq!(error.record.as_deref(), Some("Документ 1 (IPRA_20190101)"));
//! assert_eq!(error.field.as_deref(), Some("СНИЛС"));
//! ```

use crate::bindings::ipra::plugin::types::PluginError;

impl PluginError {
    /// An error with a code and a Russian message, not yet tied to a record or field.
    ///
    /// ```
    /// use ipra_plugin_sdk::bindings::ipra::plugin::types::PluginError;
    /// let error = PluginError::new("xml-malformed", "документ не является корректным XML");
    /// assert_eq!((error.code.as_str(), error.record, error.field), ("xml-malformed", None, None));
    /// ```
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError {
            code: code.into(),
            message: message.into(),
            record: None,
            field: None,
        }
    }

    /// The same error, concerning `record` (e.g. `Документ 2 (IPRA_20190101), Запись 14`).
    ///
    /// ```
    /// use ipra_plugin_sdk::bindings::ipra::plugin::types::PluginError;
    /// assert_eq!(PluginError::new("c", "м").at_record("Документ 1").record.as_deref(), Some("Документ 1"));
    /// ```
    pub fn at_record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }

    /// The same error, concerning `field` (e.g. `СНИЛС`).
    ///
    /// ```
    /// use ipra_plugin_sdk::bindings::ipra::plugin::types::PluginError;
    /// assert_eq!(PluginError::new("c", "м").at_field("СНИЛС").field.as_deref(), Some("СНИЛС"));
    /// ```
    pub fn at_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

/// An error about one field of one record: the usual shape of a record-level problem.
///
/// ```
/// let error = ipra_plugin_sdk::error::field_error("missing-field", "не указан номер протокола МСЭ",
///     "Документ 1 (IPRA_20160101)", "Номер протокола МСЭ");
/// assert_eq!(error.field.as_deref(), Some("Номер протокола МСЭ"));
/// ```
pub fn field_error(code: &str, message: impl Into<String>, record: impl Into<String>, field: &str) -> PluginError {
    PluginError::new(code, message).at_record(record).at_field(field)
}

/// A required field is absent or empty (code `missing-field`); the message names the field.
///
/// ```
/// let error = ipra_plugin_sdk::error::missing_field("Документ 1", "СНИЛС");
/// assert_eq!(error.code, "missing-field");
/// assert_eq!(error.message, "не указано обязательное поле «СНИЛС»");
/// ```
pub fn missing_field(record: impl Into<String>, field: &str) -> PluginError {
    field_error(
        "missing-field",
        format!("не указано обязательное поле «{field}»"),
        record,
        field,
    )
}

/// An input or hook the plugin does not handle (code `not-supported`).
///
/// ```
/// assert_eq!(ipra_plugin_sdk::error::not_supported("экспорт пока не поддерживается").code, "not-supported");
/// ```
pub fn not_supported(message: impl Into<String>) -> PluginError {
    PluginError::new("not-supported", message)
}
