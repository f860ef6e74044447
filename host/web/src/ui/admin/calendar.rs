//! «Производственный календарь»: a year's months from the `working-calendar` reference list, with
//! holidays and transferred working days marked; toggling a day saves a new version of the list.

use super::{allow, allow_write, done_notice, field, Fields, MANAGERS, VIEWERS};
use crate::app::App;
use crate::auth::Principal;
use crate::register::reference::Entry;
use crate::ui::{csrf_field, page, PageError, PageUser};
use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use time::{Date, Month, Weekday};

pub const LIST: &str = "working-calendar";

pub fn routes() -> Router<App> {
    Router::new().route("/admin/calendar", get(show).post(toggle))
}

/// What a day is: a weekday or weekend by default, or marked in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DayKind {
    Working,
    Weekend,
    Holiday,
    Workday,
}

impl DayKind {
    pub fn is_working(self) -> bool {
        matches!(self, DayKind::Working | DayKind::Workday)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Day {
    pub date: String,
    pub kind: DayKind,
    pub working: bool,
}

pub fn parse_date(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

fn iso(date: Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

fn weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

pub fn kind_of(entries: &[Entry], date: Date) -> DayKind {
    let code = iso(date);
    match entries.iter().find(|e| e.code == code).map(|e| e.name.as_str()) {
        Some("holiday") => DayKind::Holiday,
        Some("workday") => DayKind::Workday,
        _ if weekend(date) => DayKind::Weekend,
        _ => DayKind::Working,
    }
}

/// Every day of a year with its kind.
pub fn year_days(entries: &[Entry], year: i32) -> Vec<Day> {
    let mut out = Vec::new();
    let Ok(mut date) = Date::from_calendar_date(year, Month::January, 1) else {
        return out;
    };
    while date.year() == year {
        let kind = kind_of(entries, date);
        out.push(Day {
            date: iso(date),
            kind,
            working: kind.is_working(),
        });
        match date.next_day() {
            Some(next) => date = next,
            None => break,
        }
    }
    out
}

/// The list with one day set to `kind` (`holiday`, `workday`, or `default` to remove the mark).
pub fn with_day(entries: &[Entry], date: Date, kind: &str) -> Result<Vec<Entry>, String> {
    let code = iso(date);
    let mut out: Vec<Entry> = entries.iter().filter(|e| e.code != code).cloned().collect();
    match kind {
        "holiday" | "workday" => {
            let kept = entries.iter().find(|e| e.code == code);
            out.push(Entry {
                code,
                name: kind.to_string(),
                parent: kept.and_then(|e| e.parent.clone()),
                extra: kept.map(|e| e.extra.clone()).unwrap_or_default(),
            });
            out.sort_by(|a, b| a.code.cmp(&b.code));
        }
        "default" => {}
        other => return Err(format!("Вид дня «{other}» неизвестен: holiday, workday или default")),
    }
    Ok(out)
}

/// A click on a day: a weekday becomes a holiday and back; a weekend day becomes a working day and back.
pub fn toggled(kind: DayKind) -> &'static str {
    match kind {
        DayKind::Working => "holiday",
        DayKind::Weekend => "workday",
        DayKind::Holiday | DayKind::Workday => "default",
    }
}

fn kind_words(kind: &str) -> &'static str {
    match kind {
        "holiday" => "нерабочий праздничный день",
        "workday" => "рабочий день (перенос)",
        _ => "обычный режим недели",
    }
}

/// Sets a day and saves the list as a new version (the page and the API).
pub async fn set_day(app: &App, user: &Principal, date: Date, kind: &str) -> anyhow::Result<Result<i64, String>> {
    let entries = app.reference().list(LIST).to_vec();
    let updated = match with_day(&entries, date, kind) {
        Ok(u) => u,
        Err(e) => return Ok(Err(e)),
    };
    let note = format!(
        "{:02}.{:02}.{}: {}",
        date.day(),
        u8::from(date.month()),
        date.year(),
        kind_words(kind)
    );
    let version = super::reference::save_version(app, LIST, &updated, &user.actor(), &note).await?;
    Ok(Ok(version))
}

#[derive(serde::Deserialize, Default)]
struct YearQuery {
    year: Option<String>,
    done: Option<String>,
}

fn this_year() -> i32 {
    crate::clock::today().year()
}

fn year_of(text: Option<&str>) -> i32 {
    text.and_then(|y| y.parse::<i32>().ok())
        .filter(|y| (2000..=2100).contains(y))
        .unwrap_or_else(this_year)
}

const MONTHS: [&str; 12] = [
    "Январь",
    "Февраль",
    "Март",
    "Апрель",
    "Май",
    "Июнь",
    "Июль",
    "Август",
    "Сентябрь",
    "Октябрь",
    "Ноябрь",
    "Декабрь",
];

async fn show(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<YearQuery>,
) -> Result<Html<String>, PageError> {
    allow(&user, VIEWERS)?;
    let year = year_of(q.year.as_deref());
    let snapshot = app.reference();
    let entries = snapshot.list(LIST);
    let days = year_days(entries, year);
    let working = days.iter().filter(|d| d.working).count();
    let can = user.can_write() && MANAGERS.contains(&user.role);
    let mut body = format!("<h1>Производственный календарь на {year} год</h1>");
    body.push_str(&done_notice(q.done.as_deref()));
    body.push_str(&format!(
        r#"<nav class="pages adm-years" aria-label="Годы"><a href="/admin/calendar?year={}">← {}</a><form method="get" action="/admin/calendar" class="adm-inline"><label for="f-year">Год</label> <input id="f-year" name="year" type="number" min="2000" max="2100" value="{year}"> <button type="submit" class="secondary">Показать</button></form><a href="/admin/calendar?year={}">{} →</a></nav>"#,
        year - 1,
        year - 1,
        year + 1,
        year + 1
    ));
    body.push_str(&format!(
        r#"<p>Рабочих дней: <strong id="working-days">{working}</strong>. <span class="adm-cal-legend"><span class="adm-day holiday">праздник</span> <span class="adm-day workday">рабочий перенос</span> <span class="adm-day weekend">выходной</span></span></p>"#
    ));
    if can {
        body.push_str(r#"<p class="muted">Нажмите на день, чтобы переключить его: будний день станет праздничным, выходной — рабочим, отмеченный — обычным. Каждое изменение сохраняется новой версией справочника.</p>"#);
        body.push_str(&format!(r#"<form method="post" action="/admin/calendar" class="adm-calendar">{}<input type="hidden" name="year" value="{year}">"#, csrf_field(&user)));
    } else {
        body.push_str(r#"<div class="adm-calendar">"#);
    }
    for (m, name) in MONTHS.iter().enumerate() {
        let month_days: Vec<&Day> = days
            .iter()
            .filter(|d| d.date.get(5..7) == Some(&format!("{:02}", m + 1)))
            .collect();
        body.push_str(&format!(
            r#"<table class="adm-month"><caption>{name}</caption><thead><tr><th abbr="понедельник">Пн</th><th abbr="вторник">Вт</th><th abbr="среда">Ср</th><th abbr="четверг">Чт</th><th abbr="пятница">Пт</th><th abbr="суббота">Сб</th><th abbr="воскресенье">Вс</th></tr></thead><tbody><tr>"#
        ));
        let first = month_days.first().and_then(|d| parse_date(&d.date));
        let offset = first.map(|d| d.weekday().number_days_from_monday()).unwrap_or(0);
        for _ in 0..offset {
            body.push_str("<td></td>");
        }
        let mut col = offset;
        for d in &month_days {
            if col == 7 {
                body.push_str("</tr><tr>");
                col = 0;
            }
            let class = match d.kind {
                DayKind::Working => "working",
                DayKind::Weekend => "weekend",
                DayKind::Holiday => "holiday",
                DayKind::Workday => "workday",
            };
            let number = d.date.get(8..10).unwrap_or_default().trim_start_matches('0');
            let words = match d.kind {
                DayKind::Working => "рабочий",
                DayKind::Weekend => "выходной",
                DayKind::Holiday => "праздничный",
                DayKind::Workday => "рабочий (перенос)",
            };
            let label = format!("{number} {}, {words}", name.to_lowercase());
            if can {
                body.push_str(&format!(
                    r#"<td class="adm-day {class}"><button type="submit" name="date" value="{}" data-date="{}" aria-label="{label}" title="{label}">{number}</button></td>"#,
                    d.date, d.date
                ));
            } else {
                body.push_str(&format!(
                    r#"<td class="adm-day {class}" data-date="{}" title="{label}">{number}</td>"#,
                    d.date
                ));
            }
            col += 1;
        }
        for _ in col..7 {
            body.push_str("<td></td>");
        }
        body.push_str("</tr></tbody></table>");
    }
    body.push_str(if can { "</form>" } else { "</div>" });
    Ok(page(Some(&user), "Производственный календарь", &body))
}

async fn toggle(
    State(app): State<App>,
    PageUser(user): PageUser,
    Form(fields): Form<Fields>,
) -> Result<Response, PageError> {
    allow_write(&user, MANAGERS, &fields)?;
    let date = parse_date(field(&fields, "date"))
        .ok_or_else(|| PageError::bad_request("Дата: нужен день в виде ГГГГ-ММ-ДД".into()).for_user(&user))?;
    let kind = toggled(kind_of(app.reference().list(LIST), date));
    set_day(&app, &user, date, kind)
        .await?
        .map_err(|e| PageError::bad_request(e).for_user(&user))?;
    Ok(Redirect::to(&format!("/admin/calendar?year={}&done=calendar-saved", date.year())).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: &str, name: &str) -> Entry {
        Entry {
            code: code.into(),
            name: name.into(),
            parent: None,
            extra: Vec::new(),
        }
    }

    #[test]
    fn days_follow_the_list_and_the_week() {
        let entries = vec![entry("2025-01-01", "holiday"), entry("2025-11-01", "workday")];
        let d = |s| parse_date(s).unwrap();
        assert_eq!(kind_of(&entries, d("2025-01-01")), DayKind::Holiday);
        assert_eq!(kind_of(&entries, d("2025-11-01")), DayKind::Workday);
        assert_eq!(kind_of(&entries, d("2025-11-02")), DayKind::Weekend);
        assert_eq!(kind_of(&entries, d("2025-11-05")), DayKind::Working);
        assert_eq!(year_days(&entries, 2025).len(), 365);
        assert_eq!(year_days(&[], 2024).len(), 366);
    }

    #[test]
    fn toggling_round_trips() {
        let d = parse_date("2026-03-10").unwrap();
        let once = with_day(&[], d, toggled(kind_of(&[], d))).unwrap();
        assert_eq!(kind_of(&once, d), DayKind::Holiday);
        let twice = with_day(&once, d, toggled(kind_of(&once, d))).unwrap();
        assert!(twice.is_empty());
        let sat = parse_date("2026-03-14").unwrap();
        assert_eq!(
            kind_of(&with_day(&[], sat, toggled(DayKind::Weekend)).unwrap(), sat),
            DayKind::Workday
        );
        assert!(with_day(&[], d, "nonsense").is_err());
    }
}
