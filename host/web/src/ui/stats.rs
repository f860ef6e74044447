//! «Статистика исполнения назначенных мероприятий/ТСР» (ИС «Исполнение ИПРА»): the table of persons and
//! measures under a filter (period of receipt, territory, section, executor organisation), charts
//! drawn on the server as SVG, and exports of the table and of each chart's data to CSV and XLSX.
//! The same data is served by the API: `/api/v1/stats`, `/api/v1/stats/charts`, `/api/v1/stats/export`.

use super::{esc, page, require_page, urlencode, PageError, PageUser};
use crate::app::App;
use crate::auth::web::require;
use crate::auth::web::Authenticated;
use crate::auth::{Principal, Role};
use crate::chart::{self, Series};
use crate::export::{Cell, Format, Table};
use crate::register::deadlines::{self, parse_date};
use crate::register::facts;
use crate::register::stats::{self, Statistics, StatsFilter};
use crate::register::workload::{self, Breakdown, ChartData};
use crate::ApiError;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

/// Who sees the statistics: everyone but executors.
pub const OVERSEERS: &[Role] = &[Role::Administrator, Role::Coordinator, Role::Auditor];

pub fn routes() -> Router<App> {
    Router::new()
        .route("/stats", get(stats_page))
        .route("/stats/export", get(export_page))
        .route("/api/v1/stats/charts", get(api_charts))
        .route("/api/v1/stats/export", get(api_export))
}

/// The filter as a page or the API receives it, plus the export's format and data set.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatsQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub territory: Option<String>,
    pub section: Option<String>,
    pub org: Option<String>,
    /// Also accepted under the register's own name.
    pub organisation: Option<String>,
    pub format: Option<String>,
    /// `table` (default), `sections`, `territories`, `months`, `reasons`.
    pub data: Option<String>,
}

/// A problem with one filter field: the field's id and the message.
pub type FieldProblem = (&'static str, String);

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl StatsQuery {
    /// The register's filter, or the fields that are wrong (named in Russian).
    pub fn filter(&self) -> Result<StatsFilter, Vec<FieldProblem>> {
        let mut problems = Vec::new();
        let from = given(&self.from);
        let to = given(&self.to);
        for (id, label, value) in [("from", "«Поступили с»", &from), ("to", "«Поступили по»", &to)]
        {
            if let Some(v) = value {
                if v.len() != 10 || parse_date(v).is_none() {
                    problems.push((
                        id,
                        format!("Поле {label}: дата «{v}» не распознана, укажите её как ДД.ММ.ГГГГ."),
                    ));
                }
            }
        }
        if let (Some(f), Some(t)) = (&from, &to) {
            if problems.is_empty() && f > t {
                problems.push(("to", "Поле «Поступили по»: дата раньше даты «Поступили с».".to_string()));
            }
        }
        if problems.is_empty() {
            Ok(StatsFilter {
                from,
                to,
                territory: given(&self.territory),
                section: given(&self.section),
                organisation: given(&self.org).or_else(|| given(&self.organisation)),
            })
        } else {
            Err(problems)
        }
    }

    /// The filter's part of a query string, for links (exports, dashboard).
    pub fn query_string(filter: &StatsFilter) -> String {
        [
            ("from", &filter.from),
            ("to", &filter.to),
            ("territory", &filter.territory),
            ("section", &filter.section),
            ("org", &filter.organisation),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| format!("{k}={}", urlencode(v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Organisations beyond which a field takes an OGRN or words of a name, with suggestions, instead
/// of offering a choice among all of them (a region has a couple of thousand: 150 KB a page).
pub const ORGANISATION_CHOICES: usize = 40;

/// A field that chooses an organisation among `candidates` (OGRN, label): a choice when they are
/// few, else a text field for an OGRN or words of a name whose suggestions `ipra.js` fetches from
/// `/api/v1/organisations` (within `section`) as one types; without the script an OGRN or an
/// unambiguous name is still understood by the server. `all` is the label of «no filter».
pub struct OrganisationField<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub candidates: &'a [(String, String)],
    pub all: Option<&'a str>,
    pub value: Option<&'a str>,
    pub section: Option<&'a str>,
    /// Extra attributes of the control (`aria-invalid`, …), with a leading space.
    pub attrs: &'a str,
}

impl OrganisationField<'_> {
    pub fn html(&self) -> String {
        let id = esc(self.id);
        let name = esc(self.name);
        let attrs = self.attrs;
        if self.candidates.len() <= ORGANISATION_CHOICES {
            let options = match self.all {
                Some(all) => Names::options(all, self.candidates, self.value),
                None => {
                    let mut options = String::from(r#"<option value="">— выберите —</option>"#);
                    for (code, label) in self.candidates {
                        let sel = if Some(code.as_str()) == self.value {
                            " selected"
                        } else {
                            ""
                        };
                        options.push_str(&format!(
                            r#"<option value="{}"{sel}>{}</option>"#,
                            esc(code),
                            esc(label)
                        ));
                    }
                    options
                }
            };
            return format!(r#"<select id="{id}" name="{name}"{attrs}>{options}</select>"#);
        }
        let value = self.value.unwrap_or_default();
        let chosen = self.candidates.iter().find(|(code, _)| code == value);
        let placeholder = match self.all {
            Some(all) => format!("{all}: ОГРН или слова названия"),
            None => "ОГРН или слова названия".to_string(),
        };
        format!(
            r#"<input id="{id}" name="{name}" value="{value}" list="{id}-list" autocomplete="off" placeholder="{placeholder}" data-org-suggest="{section}"{attrs}><datalist id="{id}-list">{option}</datalist>{shown}"#,
            value = esc(value),
            placeholder = esc(&placeholder),
            section = esc(self.section.unwrap_or_default()),
            option = chosen
                .map(|(code, label)| format!(r#"<option value="{}">{}</option>"#, esc(code), esc(label)))
                .unwrap_or_default(),
            shown = chosen
                .map(|(_, label)| format!(r#"<span class="muted org-chosen">{}</span>"#, esc(label)))
                .unwrap_or_default(),
        )
    }
}

/// `2026-11-23…` → `23.11.2026`; anything else as it is.
pub fn ru_date(iso: &str) -> String {
    crate::ui::dates::day(iso).unwrap_or_else(|| iso.to_string())
}

/// Names the pages show for codes: sections, territories, organisations.
pub struct Names {
    pub sections: Vec<(String, String)>,
    pub territories: Vec<(String, String)>,
    pub organisations: Vec<crate::register::directory::Organisation>,
    /// Target rehabilitation groups the extracts named: (code, name).
    pub target_groups: Vec<(String, String)>,
}

impl Names {
    pub async fn load(app: &App) -> anyhow::Result<Names> {
        let reference = app.reference();
        let sections = reference.code_names("sections");
        let mut territories: Vec<(String, String)> = reference.code_names("territories");
        for code in workload::territory_codes(&app.db).await? {
            if !territories.iter().any(|(c, _)| *c == code) {
                territories.push((code.clone(), code));
            }
        }
        let organisations = crate::register::directory::list_organisations(&app.db)
            .await?
            .into_iter()
            .filter(|o| o.department != "region")
            .collect();
        Ok(Names {
            sections,
            territories,
            organisations,
            target_groups: crate::register::query::target_groups(&app.db).await?,
        })
    }

    /// «ЦРГ code — name» as the extracts named the group.
    pub fn target_group(&self, code: Option<&str>) -> String {
        let code = code.unwrap_or_default();
        match self.target_groups.iter().find(|(c, _)| c == code) {
            Some((_, name)) if name != code => format!("{code} — {name}"),
            _ => code.to_string(),
        }
    }

    pub fn section(&self, code: &str) -> String {
        if code.is_empty() {
            return "Раздел не определён".into();
        }
        self.sections
            .iter()
            .find(|(c, _)| c == code)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| code.to_string())
    }

    pub fn territory(&self, code: Option<&str>) -> String {
        match code {
            None => "Территория не определена".into(),
            Some(code) => self
                .territories
                .iter()
                .find(|(c, _)| c == code)
                .map(|(_, n)| n.clone())
                .unwrap_or_else(|| code.to_string()),
        }
    }

    pub fn organisation(&self, ogrn: Option<&str>) -> String {
        match ogrn {
            None => "Не назначено".into(),
            Some(ogrn) => self
                .organisations
                .iter()
                .find(|o| o.ogrn == ogrn)
                .map(|o| o.name.clone())
                .unwrap_or_else(|| format!("ОГРН {ogrn}")),
        }
    }

    /// `<option>`s of a select, the first one «all», `selected` marked.
    pub fn options(all: &str, items: &[(String, String)], selected: Option<&str>) -> String {
        let mut out = format!(r#"<option value="">{}</option>"#, esc(all));
        for (code, name) in items {
            let sel = if Some(code.as_str()) == selected {
                " selected"
            } else {
                ""
            };
            out.push_str(&format!(r#"<option value="{}"{sel}>{}</option>"#, esc(code), esc(name)));
        }
        out
    }

    /// The one organisation the filter's `org` names (an OGRN, or words of one name typed where
    /// the field takes text), or the problem to show beside field `id`.
    pub fn resolve_organisation(&self, id: &'static str, org: Option<String>) -> Result<Option<String>, FieldProblem> {
        match org.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(text) => crate::register::directory::resolve_organisation(&self.organisations, text, None)
                .map(Some)
                .map_err(|e| (id, format!("Поле «Организация»: {e}."))),
        }
    }

    pub fn organisation_items(&self) -> Vec<(String, String)> {
        self.organisations
            .iter()
            .map(|o| (o.ogrn.clone(), format!("{} ({})", o.name, self.section(&o.department))))
            .collect()
    }
}

fn reasons(app: &App) -> Vec<(String, String)> {
    app.reference().code_names("non-execution-reasons")
}

fn today() -> String {
    deadlines::format_date(deadlines::today())
}

/// One row of the statistics table: indicator, its indent level, persons and measures (None: «x»).
pub struct Line {
    pub label: String,
    pub level: u8,
    pub counts: Option<(i64, i64)>,
    pub class: &'static str,
}

/// The table of ИС «Исполнение ИПРА» from the computed statistics.
pub fn lines(s: &Statistics, names: &Names) -> Vec<Line> {
    let line = |label: &str, level: u8, c: &stats::Counts, class: &'static str| Line {
        label: label.to_string(),
        level,
        counts: Some((c.persons, c.measures)),
        class,
    };
    let mut out = vec![
        line(
            "Поступило выписок из ИПРА / в них мероприятий, из них:",
            0,
            &s.received,
            "ov-total",
        ),
        line("на инвалидов в возрасте 18 лет и старше", 1, &s.adults, ""),
        line("на детей-инвалидов", 1, &s.children, ""),
        Line {
            label: "Из поступивших выписок назначено МСЭ мероприятий:".into(),
            level: 0,
            counts: None,
            class: "ov-head",
        },
        line("реабилитационные мероприятия", 1, &s.rehabilitation, ""),
        line("технические средства реабилитации (ТСР)", 1, &s.tsr, ""),
        Line {
            label: "в том числе по разделам:".into(),
            level: 1,
            counts: None,
            class: "ov-head",
        },
    ];
    for (section, counts) in &s.by_section {
        out.push(line(&names.section(section), 2, counts, ""));
    }
    out.push(line("МЕРОПРИЯТИЕ ВЫПОЛНЕНО", 0, &s.executed, "ov-total"));
    out.push(line(
        "МЕРОПРИЯТИЕ НЕ ВЫПОЛНЕНО, в том числе по причинам:",
        0,
        &s.not_executed,
        "ov-total",
    ));
    for r in &s.not_executed_by_reason {
        out.push(Line {
            label: r.name.clone(),
            level: 1,
            counts: Some((r.persons, r.measures)),
            class: "",
        });
    }
    out.push(line("В РАБОТЕ (результат ещё не внесён)", 0, &s.open, "ov-total"));
    out.push(line("из них с истёкшим сроком исполнения", 1, &s.overdue, "ov-late"));
    out
}

/// The exported data sets.
pub fn export_table(data: &str, s: &Statistics, c: &ChartData, names: &Names) -> Option<Table> {
    let number = |n: i64| Cell::from(n);
    let table = match data {
        "table" => Table {
            title: "Статистика исполнения назначенных мероприятий ТСР".into(),
            header: vec!["Показатель".into(), "Человек".into(), "Мероприятий".into()],
            rows: lines(s, names)
                .into_iter()
                .map(|l| {
                    let label = format!("{}{}", "  ".repeat(l.level as usize), l.label);
                    match l.counts {
                        Some((p, m)) => vec![label.into(), number(p), number(m)],
                        None => vec![label.into(), "x".into(), "x".into()],
                    }
                })
                .collect(),
        },
        "sections" => Table {
            title: "Мероприятия по разделам".into(),
            header: ["Раздел", "Выполнено", "Не выполнено", "В работе", "Просрочено"]
                .map(String::from)
                .to_vec(),
            rows: c
                .by_section
                .iter()
                .map(|r| {
                    vec![
                        names.section(&r.section).into(),
                        number(r.executed),
                        number(r.not_executed),
                        number(r.in_work),
                        number(r.overdue),
                    ]
                })
                .collect(),
        },
        "territories" | "months" => {
            let (title, first, rows) = if data == "territories" {
                ("Поступило по территориям", "Территория", &c.by_territory)
            } else {
                ("Поступило по месяцам", "Месяц", &c.monthly)
            };
            Table {
                title: title.into(),
                header: [first, "Выписок", "Человек", "Мероприятий"].map(String::from).to_vec(),
                rows: rows
                    .iter()
                    .map(|r| {
                        let key = if data == "territories" {
                            names.territory(r.key.as_deref())
                        } else {
                            r.key.clone().unwrap_or_default()
                        };
                        vec![key.into(), number(r.extracts), number(r.persons), number(r.measures)]
                    })
                    .collect(),
            }
        }
        "groups" => {
            let mut rows: Vec<Vec<Cell>> = c
                .by_target_group
                .iter()
                .map(|r| {
                    vec![
                        names.target_group(r.key.as_deref()).into(),
                        number(r.extracts),
                        number(r.persons),
                        number(r.measures),
                    ]
                })
                .collect();
            let e = &c.early_help;
            rows.push(vec![
                EARLY_HELP_ROW.into(),
                number(e.extracts),
                number(e.persons),
                number(e.measures),
            ]);
            Table {
                title: "Целевые реабилитационные группы и ранняя помощь".into(),
                header: ["Группа", "Выписок", "Человек", "Мероприятий"]
                    .map(String::from)
                    .to_vec(),
                rows,
            }
        }
        "reasons" => Table {
            title: "Причины невыполнения".into(),
            header: ["Код", "Причина", "Человек", "Мероприятий"].map(String::from).to_vec(),
            rows: s
                .not_executed_by_reason
                .iter()
                .map(|r| {
                    vec![
                        r.code.clone().into(),
                        r.name.clone().into(),
                        number(r.persons),
                        number(r.measures),
                    ]
                })
                .collect(),
        },
        _ => return None,
    };
    Some(table)
}

const DATA_SETS: &[&str] = &["table", "sections", "territories", "months", "reasons", "groups"];

const EARLY_HELP_ROW: &str = "Нуждаются в ранней помощи (дети 0–3 лет и их семьи)";

async fn compute(app: &App, filter: &StatsFilter) -> anyhow::Result<(Statistics, ChartData)> {
    facts::statistics(&app.facts, &app.db, filter, &today(), &reasons(app)).await
}

/// Computes the statistics without a filter (kept by the index until it next changes), as the page
/// and the API first ask for them.
pub async fn warm(app: App) {
    let started = std::time::Instant::now();
    match compute(&app, &StatsFilter::default()).await {
        Ok(_) => tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            "statistics without a filter computed"
        ),
        Err(e) => tracing::warn!("statistics without a filter: {e:#}"),
    }
}

fn field_error(problems: &[FieldProblem], id: &str) -> String {
    problems
        .iter()
        .filter(|(f, _)| *f == id)
        .map(|(_, m)| {
            format!(
                r#"<span class="field-error" id="{id}-error" role="alert">{}</span>"#,
                esc(m)
            )
        })
        .collect()
}

fn described(problems: &[FieldProblem], id: &str) -> String {
    if problems.iter().any(|(f, _)| *f == id) {
        format!(r#" aria-invalid="true" aria-describedby="{id}-error""#)
    } else {
        String::new()
    }
}

fn filter_form(q: &StatsQuery, problems: &[FieldProblem], names: &Names) -> String {
    let v = |o: &Option<String>| esc(o.as_deref().unwrap_or_default().trim());
    format!(
        r#"<form class="filters ov-filters" method="get" action="/stats" aria-label="Условия отбора">
<label for="from">Поступили с<input type="date" id="from" name="from" value="{from}"{fd}>{fe}</label>
<label for="to">Поступили по<input type="date" id="to" name="to" value="{to}"{td}>{te}</label>
<label for="territory">Территория<select id="territory" name="territory">{territories}</select></label>
<label for="section">Раздел (ведомство)<select id="section" name="section">{sections}</select></label>
<label for="org">Организация-исполнитель{orgs}{oe}</label>
<div class="actions"><button type="submit">Показать</button> <a class="button secondary" href="/stats">Сбросить</a></div>
</form>"#,
        from = v(&q.from),
        to = v(&q.to),
        fd = described(problems, "from"),
        td = described(problems, "to"),
        fe = field_error(problems, "from"),
        te = field_error(problems, "to"),
        territories = Names::options("Все территории", &names.territories, given(&q.territory).as_deref()),
        sections = Names::options("Все разделы", &names.sections, given(&q.section).as_deref()),
        orgs = OrganisationField {
            id: "org",
            name: "org",
            candidates: &names.organisation_items(),
            all: Some("Все организации"),
            value: given(&q.org).or_else(|| given(&q.organisation)).as_deref(),
            section: None,
            attrs: &described(problems, "org"),
        }
        .html(),
        oe = field_error(problems, "org"),
    )
}

fn describe_filter(f: &StatsFilter, names: &Names) -> String {
    let mut parts = Vec::new();
    match (&f.from, &f.to) {
        (Some(a), Some(b)) => parts.push(format!("поступили с {} по {}", ru_date(a), ru_date(b))),
        (Some(a), None) => parts.push(format!("поступили с {}", ru_date(a))),
        (None, Some(b)) => parts.push(format!("поступили по {}", ru_date(b))),
        (None, None) => parts.push("за всё время".into()),
    }
    if let Some(t) = &f.territory {
        parts.push(format!("территория: {}", names.territory(Some(t))));
    }
    if let Some(s) = &f.section {
        parts.push(format!("раздел: {}", names.section(s)));
    }
    if let Some(o) = &f.organisation {
        parts.push(format!("исполнитель: {}", names.organisation(Some(o))));
    }
    parts.join("; ")
}

fn export_links(filter: &StatsFilter, data: &str, what: &str) -> String {
    let qs = StatsQuery::query_string(filter);
    let sep = if qs.is_empty() { "" } else { "&" };
    format!(
        r#"<p class="ov-export">Выгрузить {what}: <a href="/stats/export?format=csv&amp;data={data}{sep}{q}" download>CSV</a> · <a href="/stats/export?format=xlsx&amp;data={data}{sep}{q}" download>XLSX</a></p>"#,
        q = esc(&qs)
    )
}

async fn stats_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<StatsQuery>,
) -> Result<Html<String>, PageError> {
    require_page(&user, OVERSEERS).map_err(|e| e.for_user(&user))?;
    let names = Names::load(&app)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    let title = "Статистика исполнения назначенных мероприятий/ТСР";
    let mut body = format!("<h1>{title}</h1>");
    let filter = match q.filter().and_then(|mut filter| {
        filter.organisation = names
            .resolve_organisation("org", filter.organisation.take())
            .map_err(|p| vec![p])?;
        Ok(filter)
    }) {
        Ok(filter) => filter,
        Err(problems) => {
            body.push_str(&filter_form(&q, &problems, &names));
            body.push_str(r#"<p class="alert" role="alert">Исправьте условия отбора: статистика не построена.</p>"#);
            return Ok(page(Some(&user), title, &body));
        }
    };
    // Words of a name typed in the field are shown as the organisation they named.
    let shown = StatsQuery {
        org: filter.organisation.clone(),
        organisation: None,
        ..q.clone()
    };
    body.push_str(&filter_form(&shown, &[], &names));
    let (s, c) = compute(&app, &filter)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    body.push_str(&format!(
        r#"<p class="muted ov-caption">Условия: {}. Выписок: {}. Данные на {}. Человек в каждой строке считаются без повторов.</p>"#,
        esc(&describe_filter(&filter, &names)),
        s.extracts,
        ru_date(&s.today)
    ));
    body.push_str(
        r#"<div class="table-wrap"><table class="ov-stats" id="stats-table"><caption>Исполнение мероприятий и обеспечение ТСР</caption><thead><tr><th scope="col">Показатель</th><th scope="col" class="num">Человек</th><th scope="col" class="num">Мероприятий</th></tr></thead><tbody>"#,
    );
    for l in lines(&s, &names) {
        let (p, m) = match l.counts {
            Some((p, m)) => (p.to_string(), m.to_string()),
            None => ("x".into(), "x".into()),
        };
        body.push_str(&format!(
            r#"<tr class="ov-l{} {}"><th scope="row">{}</th><td class="num">{p}</td><td class="num">{m}</td></tr>"#,
            l.level,
            l.class,
            esc(&l.label)
        ));
    }
    body.push_str("</tbody></table></div>");
    body.push_str(&export_links(&filter, "table", "таблицу"));
    body.push_str(&target_groups_html(&c, &names));
    body.push_str(&export_links(&filter, "groups", "таблицу"));

    body.push_str(r#"<h2>Диаграммы</h2><div class="ov-charts">"#);
    let series = [
        Series {
            name: "выполнено",
            class: "ov-done",
        },
        Series {
            name: "не выполнено",
            class: "ov-failed",
        },
        Series {
            name: "в работе",
            class: "ov-open",
        },
        Series {
            name: "просрочено",
            class: "ov-late",
        },
    ];
    let rows: Vec<(String, Vec<i64>)> = c
        .by_section
        .iter()
        .map(|r| {
            (
                names.section(&r.section),
                vec![r.executed, r.not_executed, r.in_work, r.overdue],
            )
        })
        .collect();
    body.push_str(&chart::stacked(
        "chart-sections",
        "Мероприятия по разделам: выполнено, не выполнено, в работе, просрочено",
        &series,
        &rows,
    ));
    body.push_str(&export_links(&filter, "sections", "данные"));
    let rows: Vec<(String, i64)> = c
        .by_territory
        .iter()
        .map(|r| (names.territory(r.key.as_deref()), r.persons))
        .collect();
    body.push_str(&chart::bars(
        "chart-territories",
        "Человек по территориям",
        "Человек",
        &rows,
    ));
    body.push_str(&export_links(&filter, "territories", "данные"));
    let rows: Vec<(String, i64)> = s
        .not_executed_by_reason
        .iter()
        .map(|r| (r.name.clone(), r.measures))
        .collect();
    body.push_str(&chart::bars(
        "chart-reasons",
        "Невыполненные мероприятия по причинам",
        "Мероприятий",
        &rows,
    ));
    body.push_str(&export_links(&filter, "reasons", "данные"));
    let rows: Vec<(String, i64)> = c
        .monthly
        .iter()
        .map(|r| (r.key.clone().unwrap_or_default(), r.extracts))
        .collect();
    body.push_str(&chart::columns(
        "chart-months",
        "Поступление выписок по месяцам",
        "Выписок",
        &rows,
    ));
    body.push_str(&export_links(&filter, "months", "данные"));
    body.push_str("</div>");
    Ok(page(Some(&user), title, &body))
}

/// The export's format and data set, or what is wrong with them.
fn export_choice(q: &StatsQuery) -> Result<(Format, String), String> {
    let format = q
        .format
        .as_deref()
        .and_then(Format::parse)
        .ok_or_else(|| "Параметр «format»: укажите csv или xlsx.".to_string())?;
    let data = q.data.clone().unwrap_or_else(|| "table".into());
    if !DATA_SETS.contains(&data.as_str()) {
        return Err(format!(
            "Параметр «data»: «{data}» не известен; возможны {}.",
            DATA_SETS.join(", ")
        ));
    }
    Ok((format, data))
}

async fn export_file(app: &App, q: &StatsQuery) -> Result<Response, ApiError> {
    let (format, data) = export_choice(q).map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad-request", m))?;
    let filter = q.filter().map_err(ApiError::bad_filter)?;
    let names = Names::load(app).await?;
    let (s, c) = compute(app, &filter).await?;
    let table = export_table(&data, &s, &c, &names).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "неизвестный набор данных".into(),
        )
    })?;
    Ok(table.download(format, &format!("statistika-{data}-{}", s.today)))
}

async fn export_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(q): Query<StatsQuery>,
) -> Result<Response, PageError> {
    require_page(&user, OVERSEERS).map_err(|e| e.for_user(&user))?;
    export_file(&app, &q)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))
}

fn api_guard(user: &Principal) -> Result<(), ApiError> {
    require(user, OVERSEERS)
}

async fn api_charts(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
    api_guard(&user)?;
    let filter = q.filter().map_err(ApiError::bad_filter)?;
    let today = today();
    let (s, c) = facts::statistics(&app.facts, &app.db, &filter, &today, &reasons(&app)).await?;
    Ok(Json(json!({
        "today": today,
        "by_section": c.by_section,
        "by_territory": c.by_territory,
        "monthly": c.monthly,
        "by_reason": s.not_executed_by_reason,
        "by_target_group": c.by_target_group,
        "early_help": c.early_help,
    })))
}

async fn api_export(
    State(app): State<App>,
    Authenticated(user): Authenticated,
    Query(q): Query<StatsQuery>,
) -> Response {
    match api_guard(&user) {
        Ok(()) => export_file(&app, &q).await.unwrap_or_else(IntoResponse::into_response),
        Err(e) => e.into_response(),
    }
}

/// The IPRAs of the filter by target rehabilitation group, and those that say the child needs early
/// help: what the extracts carry since the forms name them (older IPRAs count in neither).
fn target_groups_html(c: &ChartData, names: &Names) -> String {
    let mut out = String::from(
        r#"<h2 id="target-groups">Целевые реабилитационные группы и ранняя помощь</h2><div class="table-wrap"><table class="ov-stats" id="groups-table"><caption class="visually-hidden">Выписки по целевым реабилитационным группам</caption><thead><tr><th scope="col">Группа</th><th scope="col" class="num">Выписок</th><th scope="col" class="num">Человек</th><th scope="col" class="num">Мероприятий</th></tr></thead><tbody>"#,
    );
    if c.by_target_group.is_empty() {
        out.push_str(r#"<tr><td colspan="4" class="muted">В выписках этого отбора целевые реабилитационные группы не указаны.</td></tr>"#);
    }
    let row = |label: &str, r: &Breakdown| {
        format!(
            r#"<tr><th scope="row">{}</th><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
            esc(label),
            r.extracts,
            r.persons,
            r.measures
        )
    };
    for r in &c.by_target_group {
        out.push_str(&row(&names.target_group(r.key.as_deref()), r));
    }
    out.push_str(&row(EARLY_HELP_ROW, &c.early_help).replace("<tr>", r#"<tr id="early-help-row">"#));
    out.push_str("</tbody></table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_checks_dates_and_their_order() {
        let q = StatsQuery {
            from: Some("2026-13-01".into()),
            to: Some(" ".into()),
            ..StatsQuery::default()
        };
        let problems = q.filter().unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].0, "from");
        assert!(problems[0].1.contains("Поступили с"), "{}", problems[0].1);
        let q = StatsQuery {
            from: Some("2026-02-01".into()),
            to: Some("2026-01-01".into()),
            ..StatsQuery::default()
        };
        assert_eq!(q.filter().unwrap_err()[0].0, "to");
        let q = StatsQuery {
            from: Some("2026-01-01".into()),
            section: Some("".into()),
            organisation: Some("1027700132003".into()),
            ..StatsQuery::default()
        };
        let f = q.filter().unwrap();
        assert_eq!(f.section, None);
        assert_eq!(f.organisation.as_deref(), Some("1027700132003"));
        assert_eq!(StatsQuery::query_string(&f), "from=2026-01-01&org=1027700132003");
    }

    #[test]
    fn dates_are_shown_day_first() {
        assert_eq!(ru_date("2026-11-23"), "23.11.2026");
        assert_eq!(ru_date("2026-11-23T10:00:00Z"), "23.11.2026");
        assert_eq!(ru_date("не дата"), "не дата");
    }

    #[test]
    fn export_needs_a_known_format_and_data_set() {
        let mut q = StatsQuery::default();
        assert!(export_choice(&q).unwrap_err().contains("format"));
        q.format = Some("xlsx".into());
        assert_eq!(export_choice(&q).unwrap(), (Format::Xlsx, "table".to_string()));
        q.data = Some("секреты".into());
        assert!(export_choice(&q).unwrap_err().contains("data"));
    }
}
