//! SNILS (insurance number of an individual account): normalisation to 11 digits, the official checksum
//! and the `NNN-NNN-NNN NN` form FRI documents use.
//!
//! The checksum: each of the first nine digits is multiplied by its weight (9 for the first digit down to 1
//! for the ninth) and the products are summed. A sum below 100 is the control number itself; 100 and 101
//! give `00`; a larger sum is reduced modulo 101 (a remainder of 100 again gives `00`). Numbers up to
//! `001-001-998` were issued before the checksum existed and are not checked.
//!
//! ```
//! use ipra_plugin_sdk::snils;
//! assert_eq!(snils::validate("120-334-215 87").unwrap(), "12033421587");
//! assert_eq!(snils::format("12033421587").unwrap(), "120-334-215 87");
//! assert_eq!(snils::validate("12А0-334-215 87").unwrap_err().code(), "snils-invalid");
//! ```

use thiserror::Error;

/// Why a text is not a valid SNILS. [`code`](SnilsError::code) is the stable machine code for a
/// `plugin-error`; `Display` is the Russian message for users.
///
/// ```
/// use ipra_plugin_sdk::snils::{validate, SnilsError};
/// assert!(matches!(validate("120-334-215 88"), Err(SnilsError::Checksum { .. })));
/// assert_eq!(validate("").unwrap_err().code(), "missing-field");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SnilsError {
    /// Nothing but separators.
    #[error("СНИЛС не указан")]
    Empty,
    /// A Cyrillic or Latin letter that looks like a digit or was typed instead of one.
    #[error("СНИЛС содержит букву «{character}» (позиция {position}) вместо цифры")]
    Letter {
        /// The offending character.
        character: char,
        /// Its position among the characters of the input, from 1.
        position: usize,
    },
    /// Any other character that is neither a digit nor a separator (space, dash).
    #[error("СНИЛС содержит недопустимый символ «{character}» (позиция {position})")]
    Character {
        /// The offending character.
        character: char,
        /// Its position among the characters of the input, from 1.
        position: usize,
    },
    /// Not 11 digits.
    #[error("СНИЛС должен состоять из 11 цифр, а указано {digits}")]
    Length {
        /// How many digits the input has.
        digits: usize,
    },
    /// The control number does not match the first nine digits.
    #[error("контрольное число СНИЛС {found} не совпадает с вычисленным {expected}")]
    Checksum {
        /// The control number computed from the first nine digits.
        expected: String,
        /// The last two digits as given.
        found: String,
    },
}

impl SnilsError {
    /// Stable machine code: `missing-field`, `snils-invalid` (characters, length) or `snils-checksum`.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::snils::validate("1").unwrap_err().code(), "snils-invalid");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            SnilsError::Empty => "missing-field",
            SnilsError::Letter { .. } | SnilsError::Character { .. } | SnilsError::Length { .. } => "snils-invalid",
            SnilsError::Checksum { .. } => "snils-checksum",
        }
    }
}

/// Reduces a SNILS as written (`NNN-NNN-NNN NN`, `NNNNNNNNNNN`, any spaces and dashes) to its 11 digits,
/// without checking the control number.
///
/// ```
/// use ipra_plugin_sdk::snils::normalize;
/// assert_eq!(normalize(" 120 334 215-87 ").unwrap(), "12033421587");
/// assert_eq!(normalize("12O-334-215 87").unwrap_err().to_string(),
///     "СНИЛС содержит букву «O» (позиция 3) вместо цифры");
/// ```
pub fn normalize(input: &str) -> Result<String, SnilsError> {
    let mut digits = String::with_capacity(11);
    for (index, character) in input.chars().enumerate() {
        match character {
            '0'..='9' => digits.push(character),
            // Separators as people and systems write them, including the no-break space.
            ' ' | '-' | '\t' | '\u{a0}' | '\u{2010}' | '\u{2011}' | '\u{2013}' => {}
            c if c.is_alphabetic() => {
                return Err(SnilsError::Letter {
                    character: c,
                    position: index + 1,
                })
            }
            c => {
                return Err(SnilsError::Character {
                    character: c,
                    position: index + 1,
                })
            }
        }
    }
    match digits.len() {
        0 => Err(SnilsError::Empty),
        11 => Ok(digits),
        n => Err(SnilsError::Length { digits: n }),
    }
}

/// The control number (0..=99) of the first nine digits, or `None` when `first_nine` is not nine ASCII digits.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::snils::control_number("120334215"), Some(87));
/// assert_eq!(ipra_plugin_sdk::snils::control_number("12033421"), None);
/// ```
pub fn control_number(first_nine: &str) -> Option<u32> {
    let bytes = first_nine.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sum: u32 = bytes
        .iter()
        .zip((1..=9u32).rev())
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    Some(match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => match sum % 101 {
            100 => 0,
            rest => rest,
        },
    })
}

/// Whether the number was issued before the checksum existed (`001-001-998` and below): such numbers are
/// accepted without the check. `digits` are the 11 digits of [`normalize`].
///
/// ```
/// assert!(ipra_plugin_sdk::snils::is_checksum_exempt("00100199800"));
/// assert!(!ipra_plugin_sdk::snils::is_checksum_exempt("00100199900"));
/// ```
pub fn is_checksum_exempt(digits: &str) -> bool {
    digits.get(..9).is_some_and(|number| number <= "001001998")
}

/// Normalises and checks a SNILS: the 11 digits when valid.
///
/// ```
/// use ipra_plugin_sdk::snils::validate;
/// assert_eq!(validate("000-000-600 01").unwrap(), "00000060001"); // exempt from the check
/// assert_eq!(validate("120-334-215 88").unwrap_err().code(), "snils-checksum");
/// ```
pub fn validate(input: &str) -> Result<String, SnilsError> {
    let digits = normalize(input)?;
    if is_checksum_exempt(&digits) {
        return Ok(digits);
    }
    let expected = control_number(&digits[..9]).unwrap_or_default();
    let found = &digits[9..];
    if format!("{expected:02}") != found {
        return Err(SnilsError::Checksum {
            expected: format!("{expected:02}"),
            found: found.to_string(),
        });
    }
    Ok(digits)
}

/// Formats a SNILS as `NNN-NNN-NNN NN` (the form of FRI documents); the input is normalised first, the
/// checksum is not checked.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::snils::format("120 334 215 87").unwrap(), "120-334-215 87");
/// ```
pub fn format(input: &str) -> Result<String, SnilsError> {
    let d = normalize(input)?;
    Ok(format!("{}-{}-{} {}", &d[0..3], &d[3..6], &d[6..9], &d[9..11]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_numbers_follow_the_official_rule() {
        // Sum below 100, exactly 100 and 101, and above 101 with a remainder of 100.
        assert_eq!(control_number("112233445"), Some(95));
        assert_eq!(validate("112-233-445 95").unwrap(), "11223344595");
        // Every branch of the rule, over a range of real numbers.
        let mut seen = [false; 4];
        for n in (1_001_999u32..999_999_999).step_by(7919) {
            let s = format!("{n:09}");
            let sum: u32 = s
                .bytes()
                .zip((1..=9u32).rev())
                .map(|(d, w)| u32::from(d - b'0') * w)
                .sum();
            let control = control_number(&s).unwrap();
            match sum {
                100 | 101 => {
                    assert_eq!(control, 0);
                    seen[0] = true;
                }
                s if s > 101 && s % 101 == 100 => {
                    assert_eq!(control, 0);
                    seen[1] = true;
                }
                s if s > 101 => {
                    assert_eq!(control, s % 101);
                    seen[2] = true;
                }
                s => {
                    assert_eq!(control, s);
                    seen[3] = true;
                }
            }
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn look_alike_letters_and_lengths_are_typed_errors() {
        // The dirty sample extract_1.xml: a Cyrillic А among the digits.
        assert_eq!(
            normalize("12А0-334-215 87"),
            Err(SnilsError::Letter {
                character: 'А',
                position: 3
            })
        );
        assert_eq!(normalize("120-334-215 8"), Err(SnilsError::Length { digits: 10 }));
        assert_eq!(
            normalize("120/334"),
            Err(SnilsError::Character {
                character: '/',
                position: 4
            })
        );
        assert_eq!(normalize(" - "), Err(SnilsError::Empty));
        assert_eq!(validate("12033421587").unwrap(), "12033421587");
    }

    #[test]
    fn exemption_boundary() {
        assert!(validate("001-001-998 99").is_ok());
        assert_eq!(validate("001-001-999 99").unwrap_err().code(), "snils-checksum");
    }
}
