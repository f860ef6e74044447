//! The installation's clock and time zone.
//!
//! Time is stored in UTC; what a person calls "today" — deadlines, overdue marks, received dates,
//! the dates an executor may enter, job schedules — is the date in the region's time zone
//! (`--time-zone` / `IPRA_TIME_ZONE`, an IANA name; default Europe/Moscow), and pages show times
//! in it. An executor in Vladivostok entering today's date at nine in the morning enters a date
//! that is still yesterday in UTC.
//!
//! For tests and demonstrations the clock can be moved: `--today` / `IPRA_TODAY` fixes the date
//! (the real time of day on that date in the region), `IPRA_NOW` fixes the starting instant (an
//! RFC 3339 time; the clock runs on from it). Everything that stamps a time or asks for today's
//! date reads this clock, so nothing depends on the calendar day a test happens to run. Only checks
//! against another party's clock (an identity provider's token lifetimes) read the real one.

use anyhow::{bail, Context, Result};
use chrono::{Offset, TimeZone};
use std::sync::OnceLock;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// The time zone when none is configured.
pub const DEFAULT_ZONE: &str = "Europe/Moscow";

/// Time added to the real clock (zero unless moved).
static SHIFT: OnceLock<Duration> = OnceLock::new();
/// The region's time zone.
static ZONE: OnceLock<chrono_tz::Tz> = OnceLock::new();

/// Reads an IANA time zone name, with a Russian refusal naming the setting.
pub fn parse_zone(name: &str) -> Result<chrono_tz::Tz> {
    name.trim().parse::<chrono_tz::Tz>().map_err(|_| {
        anyhow::anyhow!(
            "часовой пояс «{name}» неизвестен (time_zone, --time-zone, IPRA_TIME_ZONE); нужно имя из базы часовых поясов IANA, \
             например Europe/Moscow, Asia/Yekaterinburg, Asia/Vladivostok"
        )
    })
}

/// Sets the region's time zone for this process (`None`: Europe/Moscow). Called once at start,
/// before the clock is moved; a second call with another zone is refused.
pub fn set_zone(name: Option<&str>) -> Result<()> {
    let zone = parse_zone(name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(DEFAULT_ZONE))?;
    if ZONE.get_or_init(|| zone) != &zone {
        bail!("часовой пояс уже задан для этого процесса");
    }
    Ok(())
}

/// The region's time zone.
pub fn zone() -> chrono_tz::Tz {
    *ZONE.get_or_init(|| DEFAULT_ZONE.parse().expect("the default zone is known"))
}

/// The zone's offset from UTC at a moment.
fn offset_at(at: OffsetDateTime) -> UtcOffset {
    let seconds = chrono::DateTime::from_timestamp(at.unix_timestamp(), 0)
        .map(|t| zone().offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc())
        .unwrap_or(0);
    UtcOffset::from_whole_seconds(seconds).unwrap_or(UtcOffset::UTC)
}

/// A moment as the region's clocks show it.
pub fn local(at: OffsetDateTime) -> OffsetDateTime {
    at.to_offset(offset_at(at))
}

/// A stored time (RFC 3339) as the region's clocks show it; `None` when the text is no time.
pub fn local_stamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .ok()
        .map(local)
}

/// Moves the clock for this process: `today` (`YYYY-MM-DD`, the date in the region) or `now` (an
/// RFC 3339 instant) — neither keeps the real clock. Called once at start, after [`set_zone`]; a
/// second call that would move it elsewhere is refused.
pub fn fix(today: Option<&str>, now: Option<&str>) -> Result<()> {
    let real = OffsetDateTime::now_utc();
    let shift = match (
        today.map(str::trim).filter(|d| !d.is_empty()),
        now.map(str::trim).filter(|d| !d.is_empty()),
    ) {
        (_, Some(text)) => {
            let at =
                OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).with_context(|| {
                    format!("IPRA_NOW: время «{text}» не распознано, нужно время RFC 3339 (2026-11-20T08:30:00+10:00)")
                })?;
            at - real
        }
        (Some(text), None) => {
            let Some(date) = crate::register::deadlines::parse_date(text).filter(|_| text.len() == 10) else {
                bail!("«--today» / IPRA_TODAY: дата «{text}» не распознана, нужна дата в виде ГГГГ-ММ-ДД");
            };
            Duration::days((date - local(real).date()).whole_days())
        }
        (None, None) => Duration::ZERO,
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

/// Today's date in the region.
pub fn today() -> Date {
    local(now()).date()
}

/// The current moment in the region, for the `cron` schedules (which are read in the region's time).
pub fn now_zoned() -> chrono::DateTime<chrono_tz::Tz> {
    let now = now();
    chrono::DateTime::from_timestamp(now.unix_timestamp(), now.nanosecond())
        .unwrap_or_else(chrono::Utc::now)
        .with_timezone(&zone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_date_or_zone_is_refused_with_the_setting_named() {
        let e = fix(Some("2026-02-30"), None).unwrap_err().to_string();
        assert!(e.contains("--today") && e.contains("2026-02-30"), "{e}");
        let e = fix(Some("20.11.2026"), None).unwrap_err().to_string();
        assert!(e.contains("ГГГГ-ММ-ДД"), "{e}");
        let e = fix(None, Some("вчера")).unwrap_err().to_string();
        assert!(e.contains("IPRA_NOW"), "{e}");
        let e = parse_zone("Europe/Moskva").unwrap_err().to_string();
        assert!(e.contains("IPRA_TIME_ZONE") && e.contains("Europe/Moskva"), "{e}");
    }

    #[test]
    fn the_regions_clocks_are_read_from_the_zone() {
        let at = OffsetDateTime::parse("2026-11-19T22:30:00Z", &time::format_description::well_known::Rfc3339).unwrap();
        // The default zone in unit tests: Moscow, UTC+3 all year.
        assert_eq!(local(at).date().to_string(), "2026-11-20");
        assert_eq!(local(at).hour(), 1);
        assert_eq!(local_stamp("2026-11-20T08:00:00Z").unwrap().hour(), 11);
        assert!(local_stamp("2026-11-20").is_none());
        let vladivostok = parse_zone("Asia/Vladivostok").unwrap();
        let offset = vladivostok
            .offset_from_utc_datetime(
                &chrono::DateTime::from_timestamp(at.unix_timestamp(), 0)
                    .unwrap()
                    .naive_utc(),
            )
            .fix()
            .local_minus_utc();
        assert_eq!(offset, 10 * 3600);
    }
}
