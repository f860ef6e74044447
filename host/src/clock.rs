//! The installation's clock: real UTC time, or the real time of day on a fixed date when the
//! installation is told what "today" is (`--today` / `IPRA_TODAY`): tests and demonstrations.
//!
//! Everything that stamps a time or asks for today's date — deadlines, overdue marks, received
//! dates, job schedules, sessions — reads this clock, so a fixed "today" moves all of them together
//! and nothing depends on the calendar day a test happens to run. Only checks against another
//! party's clock (an identity provider's token lifetimes) read the real one.

use anyhow::{bail, Result};
use std::sync::OnceLock;
use time::{Date, Duration, OffsetDateTime};

/// Whole days added to the real clock (zero when no date is fixed).
static SHIFT: OnceLock<Duration> = OnceLock::new();

/// Fixes today's date for this process (`YYYY-MM-DD`); `None` keeps the real date. Called once at
/// start; a second call with another date is refused.
pub fn fix_today(date: Option<&str>) -> Result<()> {
    let shift = match date.map(str::trim).filter(|d| !d.is_empty()) {
        None => Duration::ZERO,
        Some(text) => {
            let Some(date) = crate::register::deadlines::parse_date(text).filter(|_| text.len() == 10) else {
                bail!("«--today» / IPRA_TODAY: дата «{text}» не распознана, нужна дата в виде ГГГГ-ММ-ДД");
            };
            Duration::days((date - OffsetDateTime::now_utc().date()).whole_days())
        }
    };
    if SHIFT.get_or_init(|| shift) != &shift {
        bail!("дата «сегодня» уже задана для этого процесса");
    }
    Ok(())
}

/// The current moment, UTC.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc() + SHIFT.get().copied().unwrap_or(Duration::ZERO)
}

/// Today's date.
pub fn today() -> Date {
    now().date()
}

/// The current moment for the `cron` schedules.
pub fn now_chrono() -> chrono::DateTime<chrono::Utc> {
    let now = now();
    chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond()).unwrap_or_else(chrono::Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_date_is_refused_with_the_flag_named() {
        let e = fix_today(Some("2026-02-30")).unwrap_err().to_string();
        assert!(e.contains("--today") && e.contains("2026-02-30"), "{e}");
        let e = fix_today(Some("20.11.2026")).unwrap_err().to_string();
        assert!(e.contains("ГГГГ-ММ-ДД"), "{e}");
    }
}
