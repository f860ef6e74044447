//! Dates and times as the pages show them: day first (`ДД.ММ.ГГГГ`), and stored times (UTC,
//! RFC 3339) in the region's time zone — a record made at 23:30 UTC is the next day in Moscow.

use time::Date;

fn day_of(date: Date) -> String {
    format!("{:02}.{:02}.{:04}", date.day(), u8::from(date.month()), date.year())
}

/// A stored time or a date (`ГГГГ-ММ-ДД…`) as `ДД.ММ.ГГГГ`: a time is the region's date of that
/// moment. `None` when the text is neither.
pub fn day(text: &str) -> Option<String> {
    if let Some(at) = crate::clock::local_stamp(text) {
        return Some(day_of(at.date()));
    }
    let b = text.as_bytes();
    if b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && text.is_char_boundary(10) {
        let (y, m, d) = (&text[0..4], &text[5..7], &text[8..10]);
        if [y, m, d].iter().all(|p| p.bytes().all(|c| c.is_ascii_digit())) {
            return Some(format!("{d}.{m}.{y}"));
        }
    }
    None
}

/// A stored time as `ДД.ММ.ГГГГ ЧЧ:ММ` on the region's clocks. `None` when the text is no time.
pub fn day_time(text: &str) -> Option<String> {
    crate::clock::local_stamp(text).map(|at| format!("{} {:02}:{:02}", day_of(at.date()), at.hour(), at.minute()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_on_the_regions_clocks_and_dates_day_first() {
        // Unit tests run in the default zone, Moscow (UTC+3).
        assert_eq!(day("2026-11-20T22:30:00Z").as_deref(), Some("21.11.2026"));
        assert_eq!(day_time("2026-11-20T22:30:00Z").as_deref(), Some("21.11.2026 01:30"));
        assert_eq!(day("2026-11-20").as_deref(), Some("20.11.2026"));
        assert_eq!(day("2026-11").as_deref(), None);
        assert_eq!(day("abcd-ef-gh").as_deref(), None);
        assert_eq!(day_time("2026-11-20"), None);
    }
}
