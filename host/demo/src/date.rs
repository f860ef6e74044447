//! Civil dates as day numbers, enough calendar arithmetic for generated documents.
//! Days count from 1970-01-01 (Howard Hinnant's algorithms), so adding days is plain integer addition.

/// A calendar date as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Date(pub(crate) i32);

/// Date that the FRI uses for "no end" (`СрокДействия` of documents without an end).
pub(crate) const FAR_FUTURE: &str = "9999-12-31";

impl Date {
    pub(crate) fn ymd(y: i32, m: u32, d: u32) -> Date {
        let y = if m <= 2 { y - 1 } else { y };
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = (y - era * 400) as u32;
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        Date(era * 146_097 + doe as i32 - 719_468)
    }

    pub(crate) fn parts(self) -> (i32, u32, u32) {
        let z = self.0 + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = (z - era * 146_097) as u32;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe as i32 + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = doy - (153 * mp + 2) / 5 + 1;
        let m = if mp < 10 { mp + 3 } else { mp - 9 };
        (if m <= 2 { y + 1 } else { y }, m, d)
    }

    pub(crate) fn add_days(self, days: i32) -> Date {
        Date(self.0 + days)
    }

    /// Same day `years` later (29 February becomes 28 February).
    pub(crate) fn add_years(self, years: i32) -> Date {
        let (y, m, d) = self.parts();
        let d = if m == 2 && d == 29 { 28 } else { d };
        Date::ymd(y + years, m, d)
    }

    /// Full years from `self` to `later`.
    pub(crate) fn years_until(self, later: Date) -> i32 {
        let (y0, m0, d0) = self.parts();
        let (y1, m1, d1) = later.parts();
        let mut years = y1 - y0;
        if (m1, d1) < (m0, d0) {
            years -= 1;
        }
        years
    }

    /// Full months from `self` to `later`.
    pub(crate) fn months_until(self, later: Date) -> i32 {
        let (y0, m0, d0) = self.parts();
        let (y1, m1, d1) = later.parts();
        let mut months = (y1 - y0) * 12 + m1 as i32 - m0 as i32;
        if d1 < d0 {
            months -= 1;
        }
        months
    }

    pub(crate) fn year(self) -> i32 {
        self.parts().0
    }

    /// `YYYY-MM-DD`.
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.parts();
        push_padded(out, y as u64, 4);
        out.push(b'-');
        push_padded(out, u64::from(m), 2);
        out.push(b'-');
        push_padded(out, u64::from(d), 2);
    }

    /// `DD.MM.YYYY`, the form Russian documents print.
    pub(crate) fn write_ru(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.parts();
        push_padded(out, u64::from(d), 2);
        out.push(b'.');
        push_padded(out, u64::from(m), 2);
        out.push(b'.');
        push_padded(out, y as u64, 4);
    }

    pub(crate) fn to_iso(self) -> String {
        let mut out = Vec::with_capacity(10);
        self.write(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }
}

/// A moment: a date plus seconds of the day, written as `xs:dateTime` without a zone as the FRI does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Moment {
    pub(crate) date: Date,
    pub(crate) seconds: u32,
}

impl Moment {
    pub(crate) fn write(self, out: &mut Vec<u8>) {
        self.date.write(out);
        out.push(b'T');
        push_padded(out, u64::from(self.seconds / 3600), 2);
        out.push(b':');
        push_padded(out, u64::from(self.seconds / 60 % 60), 2);
        out.push(b':');
        push_padded(out, u64::from(self.seconds % 60), 2);
    }

    /// A moment `seconds` later.
    pub(crate) fn plus_seconds(self, seconds: u32) -> Moment {
        let total = self.seconds + seconds;
        Moment {
            date: self.date.add_days((total / 86_400) as i32),
            seconds: total % 86_400,
        }
    }
}

/// Decimal number, left-padded with zeros to `width`.
pub(crate) fn push_padded(out: &mut Vec<u8>, mut value: u64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    let digits = buf.len() - i;
    for _ in digits..width {
        out.push(b'0');
    }
    out.extend_from_slice(&buf[i..]);
}

/// Decimal number without padding.
pub(crate) fn push_num(out: &mut Vec<u8>, value: u64) {
    push_padded(out, value, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_dates() {
        for d in [
            Date::ymd(1970, 1, 1),
            Date::ymd(2000, 2, 29),
            Date::ymd(2024, 12, 31),
            Date::ymd(1931, 3, 1),
        ] {
            let (y, m, dd) = d.parts();
            assert_eq!(Date::ymd(y, m, dd), d);
        }
        assert_eq!(Date::ymd(1970, 1, 1).0, 0);
        assert_eq!(Date::ymd(2024, 3, 1).to_iso(), "2024-03-01");
        assert_eq!(Date::ymd(2000, 2, 29).add_years(1).to_iso(), "2001-02-28");
    }

    #[test]
    fn counts_full_years_and_months() {
        let birth = Date::ymd(2010, 6, 15);
        assert_eq!(birth.years_until(Date::ymd(2024, 6, 14)), 13);
        assert_eq!(birth.years_until(Date::ymd(2024, 6, 15)), 14);
        assert_eq!(birth.months_until(Date::ymd(2010, 12, 14)), 5);
    }
}
