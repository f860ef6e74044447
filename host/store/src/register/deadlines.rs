//! Due dates counted in working days of the versioned working-day calendar, from the deadline
//! rules reference list; overdue measures are flagged by `check_overdue`.

use super::reference::ReferenceSnapshot;
use crate::db::Db;
use anyhow::Result;
use std::collections::HashMap;
use time::{Date, Duration, Month, Weekday};

/// The calendar: listed holidays and transferred working days; weekends otherwise non-working.
pub struct Calendar {
    days: HashMap<Date, bool>,
}

pub fn parse_date(text: &str) -> Option<Date> {
    let text = text.get(..10)?;
    let mut parts = text.split('-');
    let year: i32 = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

pub fn format_date(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

pub fn today() -> Date {
    crate::clock::today()
}

impl Calendar {
    pub fn from_reference(reference: &ReferenceSnapshot) -> Calendar {
        let days = reference
            .list("working-calendar")
            .iter()
            .filter_map(|e| parse_date(&e.code).map(|d| (d, e.name == "workday")))
            .collect();
        Calendar { days }
    }

    pub fn is_working_day(&self, date: Date) -> bool {
        match self.days.get(&date) {
            Some(working) => *working,
            None => !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday),
        }
    }

    /// The date `days` working days after `from` (the start day itself is not counted).
    pub fn add_working_days(&self, from: Date, days: u32) -> Date {
        let mut date = from;
        let mut left = days;
        while left > 0 {
            date += Duration::days(1);
            if self.is_working_day(date) {
                left -= 1;
            }
        }
        date
    }
}

/// A rule of the `deadline-rules` list: how many working days, and whether the IPRA's end caps it.
pub fn rule_days(reference: &ReferenceSnapshot, rule: &str) -> Option<(u32, bool)> {
    let entry = reference.list("deadline-rules").iter().find(|e| e.code == rule)?;
    let days = entry.extra.iter().find(|(k, _)| k == "working-days")?.1.parse().ok()?;
    let capped = entry.extra.iter().any(|(k, v)| k == "cap" && v == "ipra-valid-until");
    Some((days, capped))
}

/// The due date of a rule counted from `start`, capped by the IPRA's end of validity when the rule says so.
pub fn due_date(reference: &ReferenceSnapshot, rule: &str, start: &str, valid_until: Option<&str>) -> Option<String> {
    let (days, capped) = rule_days(reference, rule)?;
    let start = parse_date(start)?;
    let mut due = Calendar::from_reference(reference).add_working_days(start, days);
    if capped {
        if let Some(end) = valid_until.and_then(parse_date) {
            due = due.min(end);
        }
    }
    Some(format_date(due))
}

/// Counts of what is overdue today: open measures and unsent reports past their due date.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Overdue {
    pub today: String,
    pub measures: i64,
    pub reports: i64,
    /// Follow-ups with a deadline (TSR clarification requests) still open after it.
    pub follow_ups: i64,
    pub by_section: Vec<(String, i64)>,
}

/// Overdue measures (by section, from the statistics index), reports and follow-ups as of `today`.
pub async fn check_overdue(db: &Db, facts: &std::sync::Arc<super::facts::FactsIndex>, today: &str) -> Result<Overdue> {
    use sqlx::Row;
    let figures = super::facts::dashboard(facts, db, today, 0).await?;
    let mut overdue = Overdue {
        today: today.to_string(),
        ..Overdue::default()
    };
    for row in figures.by_section.iter().filter(|r| r.overdue > 0) {
        overdue.measures += row.overdue;
        overdue
            .by_section
            .push((row.key.clone().unwrap_or_default(), row.overdue));
    }
    overdue.reports = sqlx::query(
        "SELECT COUNT(*) AS n FROM reports WHERE status IN ('awaiting-signature', 'signed') AND due_date IS NOT NULL AND due_date < $1",
    )
    .bind(today)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
    overdue.follow_ups = sqlx::query(
        "SELECT COUNT(*) AS n FROM follow_ups WHERE status = 'open' AND due_date IS NOT NULL AND due_date < $1",
    )
    .bind(today)
    .fetch_one(&db.pool)
    .await?
    .try_get("n")?;
    Ok(overdue)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::reference::{parse_csv, Entry};

    fn reference() -> ReferenceSnapshot {
        let lists: HashMap<String, Vec<Entry>> = [
            (
                "working-calendar",
                include_str!("../../../../reference/working-calendar.csv"),
            ),
            (
                "deadline-rules",
                include_str!("../../../../reference/deadline-rules.csv"),
            ),
        ]
        .into_iter()
        .map(|(id, text)| (id.to_string(), parse_csv(id, text).unwrap()))
        .collect();
        ReferenceSnapshot::from_lists(lists)
    }

    #[test]
    fn two_working_days_skip_weekends_and_holidays() {
        let r = reference();
        // Friday 2026-11-20 + 2 working days = Tuesday 2026-11-24.
        assert_eq!(
            due_date(&r, "tsr-clarification", "2026-11-20", None).as_deref(),
            Some("2026-11-24")
        );
        // Tuesday 2026-11-03 + 2: Wednesday 4 November is a holiday → Friday 2026-11-06.
        assert_eq!(
            due_date(&r, "tsr-clarification", "2026-11-03", None).as_deref(),
            Some("2026-11-06")
        );
        // Across the New Year holidays: 2025-12-30 + 2 → 12 and 13 January 2026.
        assert_eq!(
            due_date(&r, "tsr-clarification", "2025-12-30", None).as_deref(),
            Some("2026-01-13")
        );
        // A transferred working Saturday counts: 2025-10-31 (Fri) + 1 → 2025-11-01 (Sat, working).
        let cal = Calendar::from_reference(&r);
        assert_eq!(
            format_date(cal.add_working_days(parse_date("2025-10-31").unwrap(), 1)),
            "2025-11-01"
        );
    }

    #[test]
    fn measure_deadline_is_capped_by_the_ipra_end() {
        let r = reference();
        let uncapped = due_date(&r, "measure-execution", "2026-01-12", None).unwrap();
        assert!(uncapped.as_str() > "2026-02-01");
        assert_eq!(
            due_date(&r, "measure-execution", "2026-01-12", Some("2026-01-20")).as_deref(),
            Some("2026-01-20")
        );
    }
}
