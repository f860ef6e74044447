//! Calendar dates as exchanged formats write them (`2021-11-24`, `2018-11-01+04:00`, `2021-11-24T09:34:06`,
//! `24.11.2021`) and the arithmetic the register needs: ordering, adding days, weekdays, ages.
//!
//! A date with a time or a zone keeps the calendar date as written: the zone says where the date was
//! written, it does not move the date.
//!
//! ```
//! use ipra_plugin_sdk::date::Date;
//! let d = Date::parse("2018-11-01+04:00").unwrap();
//! assert_eq!(d.to_string(), "2018-11-01");
//! assert_eq!(d.add_days(30).to_string(), "2018-12-01");
//! ```

use std::fmt;
use thiserror::Error;

/// A day of the proleptic Gregorian calendar, years 1..=9999. Ordering is chronological.
///
/// ```
/// use ipra_plugin_sdk::date::Date;
/// assert!(Date::parse("2020-12-31").unwrap() < Date::parse("01.01.2021").unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Day of the week.
///
/// ```
/// use ipra_plugin_sdk::date::{Date, Weekday};
/// assert_eq!(Date::parse("2024-02-12").unwrap().weekday(), Weekday::Monday);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Weekday {
    /// Понедельник.
    Monday,
    /// Вторник.
    Tuesday,
    /// Среда.
    Wednesday,
    /// Четверг.
    Thursday,
    /// Пятница.
    Friday,
    /// Суббота.
    Saturday,
    /// Воскресенье.
    Sunday,
}

impl Weekday {
    /// Saturday or Sunday.
    ///
    /// ```
    /// assert!(ipra_plugin_sdk::date::Weekday::Sunday.is_weekend());
    /// ```
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Saturday | Weekday::Sunday)
    }
}

/// Why a text is not a date; `Display` is the Russian message (it quotes the text).
///
/// ```
/// let error = ipra_plugin_sdk::date::Date::parse("2021-02-30").unwrap_err();
/// assert_eq!(error.to_string(), "«2021-02-30» — несуществующая дата");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DateError {
    /// Nothing given.
    #[error("дата не указана")]
    Empty,
    /// Not one of the accepted forms.
    #[error("«{0}» — не дата (ожидается ГГГГ-ММ-ДД или ДД.ММ.ГГГГ)")]
    Format(String),
    /// Well-formed, but no such day (month 13, 30 February, year 0).
    #[error("«{0}» — несуществующая дата")]
    Range(String),
}

impl DateError {
    /// Stable machine code: `missing-field` or `date-invalid`.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::date::Date::parse("вчера").unwrap_err().code(), "date-invalid");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            DateError::Empty => "missing-field",
            DateError::Format(_) | DateError::Range(_) => "date-invalid",
        }
    }
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

fn digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fraction`.
fn is_time(bytes: &[u8]) -> bool {
    let (main, fraction) = match bytes.iter().position(|&b| b == b'.') {
        Some(dot) => (&bytes[..dot], Some(&bytes[dot + 1..])),
        None => (bytes, None),
    };
    if fraction.is_some_and(|f| digits(f).is_none()) {
        return false;
    }
    let parts: Vec<&[u8]> = main.split(|&b| b == b':').collect();
    let limits: &[u32] = &[23, 59, 60];
    (2..=3).contains(&parts.len())
        && parts
            .iter()
            .zip(limits)
            .all(|(part, &max)| part.len() == 2 && digits(part).is_some_and(|v| v <= max))
}

/// `Z`, `+hh:mm` or `-hh:mm`.
fn is_zone(bytes: &[u8]) -> bool {
    match bytes {
        [] | [b'Z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            digits(&[*h1, *h2]).is_some_and(|h| h <= 14) && digits(&[*m1, *m2]).is_some_and(|m| m <= 59)
        }
        _ => false,
    }
}

impl Date {
    /// The date `year-month-day`, when it exists.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// assert!(Date::new(2024, 2, 29).is_some());
    /// assert!(Date::new(2023, 2, 29).is_none());
    /// ```
    pub fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        ((1..=9999).contains(&year) && day >= 1 && day <= days_in_month(year, month)).then_some(Date {
            year,
            month,
            day,
        })
    }

    /// Parses `YYYY-MM-DD` with an optional time (`T09:34:06`, also after a space) and an optional zone
    /// (`Z`, `+04:00`), or `DD.MM.YYYY`. Surrounding whitespace is ignored.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// for text in ["2021-11-24", "2021-11-24T09:34:06", "2021-11-24T09:34:06.5+03:00", "2021-11-24Z",
    ///              "2021-11-24 09:34", "24.11.2021"] {
    ///     assert_eq!(Date::parse(text).unwrap().to_string(), "2021-11-24", "{text}");
    /// }
    /// assert_eq!(Date::parse("2021-11-24T25:00").unwrap_err().code(), "date-invalid");
    /// ```
    pub fn parse(text: &str) -> Result<Date, DateError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(DateError::Empty);
        }
        let bytes = trimmed.as_bytes();
        let format_error = || DateError::Format(trimmed.to_string());
        let (year, month, day) = if bytes.len() >= 10 && bytes[4] == b'-' && bytes[7] == b'-' {
            let rest = &bytes[10..];
            let valid_rest = match rest.first() {
                None => true,
                Some(b'T' | b' ') => {
                    let time_and_zone = &rest[1..];
                    let zone_at = time_and_zone
                        .iter()
                        .position(|&b| matches!(b, b'Z' | b'+' | b'-'))
                        .unwrap_or(time_and_zone.len());
                    is_time(&time_and_zone[..zone_at]) && is_zone(&time_and_zone[zone_at..])
                }
                Some(_) => is_zone(rest),
            };
            if !valid_rest {
                return Err(format_error());
            }
            (digits(&bytes[0..4]), digits(&bytes[5..7]), digits(&bytes[8..10]))
        } else if bytes.len() == 10 && bytes[2] == b'.' && bytes[5] == b'.' {
            (digits(&bytes[6..10]), digits(&bytes[3..5]), digits(&bytes[0..2]))
        } else {
            return Err(format_error());
        };
        match (year, month, day) {
            (Some(y), Some(m), Some(d)) => {
                // Each part has at most four digits, so the narrowing casts cannot truncate.
                Date::new(y as u16, m as u8, d as u8).ok_or_else(|| DateError::Range(trimmed.to_string()))
            }
            _ => Err(format_error()),
        }
    }

    /// The year.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::date::Date::parse("2021-11-24").unwrap().year(), 2021);
    /// ```
    pub fn year(self) -> u16 {
        self.year
    }

    /// The month, 1..=12.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::date::Date::parse("2021-11-24").unwrap().month(), 11);
    /// ```
    pub fn month(self) -> u8 {
        self.month
    }

    /// The day of the month, 1..=31.
    ///
    /// ```
    /// assert_eq!(ipra_plugin_sdk::date::Date::parse("2021-11-24").unwrap().day(), 24);
    /// ```
    pub fn day(self) -> u8 {
        self.day
    }

    /// Days since 1970-01-01 (negative before it).
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// assert_eq!(Date::parse("1970-01-02").unwrap().days_since_epoch(), 1);
    /// assert_eq!(Date::parse("1969-12-31").unwrap().days_since_epoch(), -1);
    /// ```
    pub fn days_since_epoch(self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01, when it lies within years 1..=9999.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// assert_eq!(Date::from_days_since_epoch(0).unwrap().to_string(), "1970-01-01");
    /// assert!(Date::from_days_since_epoch(i64::MAX / 2).is_none());
    /// ```
    pub fn from_days_since_epoch(days: i64) -> Option<Date> {
        // Howard Hinnant's civil_from_days; the bound keeps the arithmetic far from overflow.
        if !(-719_162..=2_932_896).contains(&days) {
            return None;
        }
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        Date::new(u16::try_from(year).ok()?, month as u8, day as u8)
    }

    /// The date `days` later (earlier when negative), saturating at the ends of years 1..=9999.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// assert_eq!(Date::parse("2024-02-28").unwrap().add_days(1).to_string(), "2024-02-29");
    /// assert_eq!(Date::parse("2024-03-01").unwrap().add_days(-1).to_string(), "2024-02-29");
    /// assert_eq!(Date::parse("9999-12-31").unwrap().add_days(1).to_string(), "9999-12-31");
    /// ```
    pub fn add_days(self, days: i64) -> Date {
        let target = self.days_since_epoch().saturating_add(days);
        Date::from_days_since_epoch(target).unwrap_or(if days < 0 {
            Date {
                year: 1,
                month: 1,
                day: 1,
            }
        } else {
            Date {
                year: 9999,
                month: 12,
                day: 31,
            }
        })
    }

    /// Days from `self` to `other` (negative when `other` is earlier).
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// let a = Date::parse("2024-01-01").unwrap();
    /// assert_eq!(a.days_until(Date::parse("2025-01-01").unwrap()), 366);
    /// ```
    pub fn days_until(self, other: Date) -> i64 {
        other.days_since_epoch() - self.days_since_epoch()
    }

    /// Day of the week.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::{Date, Weekday};
    /// assert_eq!(Date::parse("1970-01-01").unwrap().weekday(), Weekday::Thursday);
    /// ```
    pub fn weekday(self) -> Weekday {
        const DAYS: [Weekday; 7] = [
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
        ];
        DAYS[self.days_since_epoch().rem_euclid(7) as usize]
    }

    /// Age in full years on `at` of a person born on `self` (0 when `at` is before the birth date). A person
    /// born on 29 February turns a year older on 1 March of common years.
    ///
    /// ```
    /// use ipra_plugin_sdk::date::Date;
    /// let born = Date::parse("2006-02-10").unwrap();
    /// assert_eq!(born.age_on(Date::parse("2024-02-09").unwrap()), 17);
    /// assert_eq!(born.age_on(Date::parse("2024-02-10").unwrap()), 18);
    /// ```
    pub fn age_on(self, at: Date) -> u16 {
        if at <= self {
            return 0;
        }
        let years = at.year - self.year;
        if (at.month, at.day) < (self.month, self.day) {
            years - 1
        } else {
            years
        }
    }
}

impl fmt::Display for Date {
    /// `YYYY-MM-DD`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Dates are written for every measure of every extract: ten digits and dashes put in
        // place directly, not through the integer formatting machinery. Every constructor keeps the
        // year within 1..=9999, so four digits always hold it.
        let digit = |n: u16| b'0' + (n % 10) as u8;
        let (y, m, d) = (self.year, u16::from(self.month), u16::from(self.day));
        let text = [
            digit(y / 1000),
            digit(y / 100),
            digit(y / 10),
            digit(y),
            b'-',
            digit(m / 10),
            digit(m),
            b'-',
            digit(d / 10),
            digit(d),
        ];
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

/// Parses any accepted form and returns the ISO `YYYY-MM-DD` text: the shape dates cross the plugin
/// interface in.
///
/// ```
/// assert_eq!(ipra_plugin_sdk::date::to_iso("01.02.2024").unwrap(), "2024-02-01");
/// assert_eq!(ipra_plugin_sdk::date::to_iso("2021-11-24T09:34:06").unwrap(), "2021-11-24");
/// ```
pub fn to_iso(text: &str) -> Result<String, DateError> {
    Date::parse(text).map(|d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_iso_with_leading_zeros() {
        for (y, m, d) in [
            (1, 1, 1),
            (9, 9, 9),
            (99, 10, 31),
            (999, 12, 1),
            (1000, 2, 28),
            (2024, 2, 29),
            (9999, 12, 31),
        ] {
            let date = Date::new(y, m, d).unwrap();
            assert_eq!(date.to_string(), format!("{y:04}-{m:02}-{d:02}"));
        }
    }

    #[test]
    fn round_trip_over_four_centuries() {
        let start = Date::parse("1900-01-01").unwrap().days_since_epoch();
        let mut previous: Option<Date> = None;
        for days in start..start + 146_097 {
            let date = Date::from_days_since_epoch(days).unwrap();
            assert_eq!(date.days_since_epoch(), days);
            if let Some(p) = previous {
                assert!(p < date);
                assert_eq!(p.add_days(1), date);
            }
            previous = Some(date);
        }
    }

    #[test]
    fn rejects_what_is_not_a_date() {
        for text in [
            "2021-13-01",
            "2021-00-10",
            "0000-01-01",
            "2021-1-1",
            "21.11.21",
            "2021-11-24T",
            "2021-11-24T09",
            "2021-11-24T09:60",
            "2021-11-24+4:00",
            "2021-11-24garbage",
            "String",
        ] {
            assert!(Date::parse(text).is_err(), "{text}");
        }
        assert_eq!(Date::parse("  "), Err(DateError::Empty));
        assert_eq!(Date::parse("9999-12-31").unwrap().to_string(), "9999-12-31");
    }

    #[test]
    fn leap_day_birthdays() {
        let born = Date::parse("2008-02-29").unwrap();
        assert_eq!(born.age_on(Date::parse("2026-02-28").unwrap()), 17);
        assert_eq!(born.age_on(Date::parse("2026-03-01").unwrap()), 18);
        assert_eq!(born.age_on(Date::parse("2000-01-01").unwrap()), 0);
    }
}
