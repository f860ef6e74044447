//! Dates as the registry writes them: `xs:date` (maybe with a time-zone suffix) reduced to ISO `YYYY-MM-DD`,
//! and partial dates (unknown day or month) reduced to what is known, `YYYY-MM` or `YYYY`.

use ipra_plugin_sdk::date::Date;

/// `YYYY-MM-DD` of an `xs:date` such as `2020-05-20` or `2020-05-20+03:00`; `None` when it is no real date.
pub fn calendar(raw: &str) -> Option<String> {
    Date::parse(raw).ok().map(|d| d.to_string())
}

/// A partial date: the year (an `xs:gYear`, maybe with a zone) and the month and day when known.
/// `Err` names what is wrong in Russian.
pub fn partial(year: &str, month: Option<&str>, day: Option<&str>) -> Result<String, String> {
    let digits: String = year.trim().chars().take_while(|c| c.is_ascii_digit()).collect();
    let year_number: u32 = match digits.parse() {
        Ok(y) if digits.len() == 4 && y > 0 => y,
        _ => return Err(format!("год «{}» не распознан", year.trim())),
    };
    let Some(month) = month else {
        return Ok(digits);
    };
    let month_number: u32 = match month.trim().parse() {
        Ok(m) if (1..=12).contains(&m) => m,
        _ => return Err(format!("месяц «{}» не распознан", month.trim())),
    };
    let Some(day) = day else {
        return Ok(format!("{digits}-{month_number:02}"));
    };
    match day.trim().parse::<u32>() {
        Ok(d)
            if u16::try_from(year_number)
                .ok()
                .and_then(|y| Date::new(y, month_number as u8, u8::try_from(d).ok()?))
                .is_some() =>
        {
            Ok(format!("{digits}-{month_number:02}-{d:02}"))
        }
        _ => Err(format!("день «{}» не распознан", day.trim())),
    }
}

/// Whether date `a` lies before date `b`, each full or partial (`YYYY-MM-DD`, `YYYY-MM`, `YYYY`), compared at
/// the precision both know: `2021-02` is not before `2021-02-15`, since the day may be any of the month.
pub fn precedes(a: &str, b: &str) -> bool {
    let known = a.len().min(b.len());
    match (a.get(..known), b.get(..known)) {
        (Some(a), Some(b)) => a < b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_calendar_and_partial_dates() {
        assert_eq!(calendar("2020-05-20+03:00").as_deref(), Some("2020-05-20"));
        assert_eq!(calendar("2020-02-30"), None);
        assert_eq!(calendar("2020-5-20"), None);
        assert_eq!(calendar("2020-05-20+3"), None);
        assert_eq!(partial("2021", Some("2"), None).as_deref(), Ok("2021-02"));
        assert_eq!(partial("2004+03:00", None, Some("5")).as_deref(), Ok("2004"));
        assert_eq!(
            partial("2021", Some("2"), Some("29")),
            Err("день «29» не распознан".to_string())
        );
        assert!(partial("21", None, None).is_err());
    }

    #[test]
    fn partial_dates_precede_only_where_both_are_known() {
        assert!(precedes("1950-01-01", "1954-02-15"));
        assert!(precedes("1953", "1954-02-15"));
        assert!(!precedes("1954", "1954-02-15"), "the same year may be later");
        assert!(!precedes("2021-02", "2021-02-15"));
        assert!(precedes("2021-01", "2021-02-15"));
        assert!(!precedes("2021-02-26", "2021-02-26"));
    }
}
