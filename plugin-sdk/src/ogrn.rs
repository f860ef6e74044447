//! OGRN (primary state registration number of a legal entity, 13 digits) and OGRNIP (of an individual
//! entrepreneur, 15 digits): the control-digit rules of the registers.
//!
//! OGRN: the first 12 digits as a number modulo 11, then modulo 10, is the 13th digit. OGRNIP: the first 14
//! digits modulo 13, then modulo 10, is the 15th digit.
//!
//! ```
//! use ipra_plugin_sdk::ogrn::{validate, OgrnKind};
//! assert_eq!(validate("1027700132195"), Ok(OgrnKind::Ogrn));
//! assert_eq!(validate("304500116000157"), Ok(OgrnKind::Ogrnip));
//! assert_eq!(validate("29346299").unwrap_err().code(), "ogrn-invalid");
//! ```

use thiserror::Error;

/// Which register a valid number belongs to.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::ogrn::validate("1027700132195").unwrap(), ipra_plugin_sdk::ogrn::OgrnKind::Ogrn);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OgrnKind {
    /// 13 digits: a legal entity.
    Ogrn,
    /// 15 digits: an individual entrepreneur.
    Ogrnip,
}

/// Why a text is not a valid OGRN/OGRNIP; `Display` is the Russian message.
///
/// ```
/// use ipra_plugin_sdk::ogrn::{validate, OgrnError};
/// assert_eq!(validate("1027700132196"), Err(OgrnError::Checksum));
/// assert_eq!(validate(""), Err(OgrnError::Empty));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OgrnError {
    /// Nothing given.
    #[error("ОГРН не указан")]
    Empty,
    /// A character other than a digit.
    #[error("ОГРН содержит недопустимый символ «{character}» (позиция {position})")]
    Character {
        /// The offending character.
        character: char,
        /// Its position among the characters, from 1.
        position: usize,
    },
    /// Neither 13 (OGRN) nor 15 (OGRNIP) digits.
    #[error("ОГРН должен состоять из 13 цифр (ОГРНИП — из 15), а указано {digits}")]
    Length {
        /// How many characters were given.
        digits: usize,
    },
    /// The control digit does not match.
    #[error("контрольная цифра ОГРН не совпадает")]
    Checksum,
}

impl OgrnError {
    /// Stable machine code: `missing-field`, `ogrn-invalid` or `ogrn-checksum`.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::ogrn::validate("1027700132196").unwrap_err().code(), "ogrn-checksum");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            OgrnError::Empty => "missing-field",
            OgrnError::Character { .. } | OgrnError::Length { .. } => "ogrn-invalid",
            OgrnError::Checksum => "ogrn-checksum",
        }
    }
}

/// Checks an OGRN or OGRNIP given as bare digits (surrounding whitespace is ignored).
///
/// ```
/// use ipra_plugin_sdk::ogrn::validate;
/// assert!(validate(" 1027700132195 ").is_ok());
/// assert_eq!(validate("102770013219A").unwrap_err().code(), "ogrn-invalid");
/// ```
pub fn validate(input: &str) -> Result<OgrnKind, OgrnError> {
    let text = input.trim();
    if text.is_empty() {
        return Err(OgrnError::Empty);
    }
    if let Some((index, character)) = text.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(OgrnError::Character {
            character,
            position: index + 1,
        });
    }
    let (kind, modulus) = match text.len() {
        13 => (OgrnKind::Ogrn, 11),
        15 => (OgrnKind::Ogrnip, 13),
        n => return Err(OgrnError::Length { digits: n }),
    };
    let (body, control) = text.split_at(text.len() - 1);
    // 14 digits fit in a u64; the text is all ASCII digits here.
    let number = body.bytes().fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
    let expected = (number % modulus) % 10;
    if control.as_bytes()[0] - b'0' != expected as u8 {
        return Err(OgrnError::Checksum);
    }
    Ok(kind)
}

/// Whether `input` is a valid OGRN or OGRNIP.
///
/// ```
/// assert!(ipra_plugin_sdk::ogrn::is_valid("1117746358608"));
/// assert!(!ipra_plugin_sdk::ogrn::is_valid("71000000000"));
/// ```
pub fn is_valid(input: &str) -> bool {
    validate(input).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_of_the_samples() {
        // SentOrgOgrn and MedOrgOgrn of the public FRI samples.
        assert!(is_valid("1117746358608"));
        assert!(is_valid("1065321026792"));
        assert!(is_valid("5077746887312"));
        // ExecutorOGRN of the IPRA_20221024 sample: 7 and 8 digits.
        assert_eq!(validate("2384729"), Err(OgrnError::Length { digits: 7 }));
        assert_eq!(validate("29346299"), Err(OgrnError::Length { digits: 8 }));
        assert_eq!(validate("304500116000158"), Err(OgrnError::Checksum));
    }
}
