//! Statistics of execution of assigned measures and TSR (ИС «Исполнение ИПРА»): persons and measures received,
//! adults and children, rehabilitation and TSR, executed, not executed by reason, overdue — by
//! period, territory and department. Persons are counted distinct in every row.

use crate::db::Db;
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::Row;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatsFilter {
    /// Received from (inclusive), `YYYY-MM-DD`.
    pub from: Option<String>,
    /// Received to (inclusive), `YYYY-MM-DD`.
    pub to: Option<String>,
    pub territory: Option<String>,
    /// Section id (department).
    pub section: Option<String>,
    /// OGRN of the executor organisation the measures are assigned to.
    #[serde(default)]
    pub organisation: Option<String>,
}

/// One row of the table: distinct persons and measures.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Counts {
    pub persons: i64,
    pub measures: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReasonRow {
    pub code: String,
    pub name: String,
    pub persons: i64,
    pub measures: i64,
}

#[derive(Clone, Debug, Serialize)]
pub struct Statistics {
    pub filter: serde_json::Value,
    pub today: String,
    /// «Поступило выписок из ИПРА / в них мероприятий».
    pub received: Counts,
    pub extracts: i64,
    pub adults: Counts,
    pub children: Counts,
    pub rehabilitation: Counts,
    pub tsr: Counts,
    pub by_section: Vec<(String, Counts)>,
    pub executed: Counts,
    pub not_executed: Counts,
    pub not_executed_by_reason: Vec<ReasonRow>,
    pub open: Counts,
    pub overdue: Counts,
}

/// The statistics counted directly in the database: the definition the statistics index
/// (`facts.rs`) is checked against. A pass over every measure of the filter: slow at a region's size.
pub async fn direct(db: &Db, filter: &StatsFilter, today: &str, reasons: &[(String, String)]) -> Result<Statistics> {
    // Received date and territory select the IPRAs; the section selects measures.
    let mut where_ipra = vec!["1 = 1".to_string()];
    let mut binds: Vec<String> = Vec::new();
    let bind = |binds: &mut Vec<String>, value: String| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if let Some(from) = filter.from.as_deref().filter(|v| !v.is_empty()) {
        let p = bind(&mut binds, from.to_string());
        where_ipra.push(format!("substr(i.received_at, 1, 10) >= {p}"));
    }
    if let Some(to) = filter.to.as_deref().filter(|v| !v.is_empty()) {
        let p = bind(&mut binds, to.to_string());
        where_ipra.push(format!("substr(i.received_at, 1, 10) <= {p}"));
    }
    if let Some(t) = filter.territory.as_deref().filter(|v| !v.is_empty()) {
        let p = bind(&mut binds, t.to_string());
        where_ipra.push(format!("p.territory_code = {p}"));
    }
    let mut section_condition = match filter.section.as_deref().filter(|v| !v.is_empty()) {
        Some(s) => {
            let p = bind(&mut binds, s.to_string());
            format!("m.section = {p}")
        }
        None => "1 = 1".to_string(),
    };
    if let Some(o) = filter.organisation.as_deref().filter(|v| !v.is_empty()) {
        let p = bind(&mut binds, o.to_string());
        section_condition.push_str(&format!(" AND m.assigned_ogrn = {p}"));
    }
    let today_param = bind(&mut binds, today.to_string());
    let base = format!(
        "FROM ipras i JOIN persons p ON p.id = i.person_id LEFT JOIN measures m ON m.ipra_id = i.id AND {section_condition} \
         WHERE {}",
        where_ipra.join(" AND ")
    );
    let count = |condition: &str| {
        format!(
            "COUNT(DISTINCT CASE WHEN {condition} THEN i.person_id END) AS {{p}}, \
             COUNT(DISTINCT CASE WHEN {condition} THEN m.id END) AS {{m}}"
        )
    };
    let columns = [
        ("all", "1 = 1".to_string()),
        ("adult", "i.is_child = 0".to_string()),
        ("child", "i.is_child = 1".to_string()),
        // A measure without a section is neither rehabilitation nor TSR.
        ("rehab", "m.section <> 'tsr' AND m.section <> ''".to_string()),
        ("tsr", "m.section = 'tsr'".to_string()),
        ("done", "m.status = 'executed'".to_string()),
        ("failed", "m.status = 'not-executed'".to_string()),
        ("open", "m.status = 'open' AND i.status = 'active'".to_string()),
        (
            "late",
            format!("m.status = 'open' AND i.status = 'active' AND m.due_date < {today_param}"),
        ),
    ];
    let select: Vec<String> = columns
        .iter()
        .map(|(name, cond)| {
            count(cond)
                .replace("{p}", &format!("{name}_p"))
                .replace("{m}", &format!("{name}_m"))
        })
        .collect();
    let sql = format!("SELECT COUNT(DISTINCT i.id) AS extracts, {} {base}", select.join(", "));
    let mut q = sqlx::query(&sql);
    for b in &binds {
        q = q.bind(b);
    }
    let row = q.fetch_one(&db.pool).await?;
    let pair = |name: &str| -> Result<Counts> {
        Ok(Counts {
            persons: row.try_get(format!("{name}_p").as_str())?,
            measures: row.try_get(format!("{name}_m").as_str())?,
        })
    };
    let received = pair("all")?;

    let by_section_sql = format!(
        "SELECT m.section AS section, COUNT(DISTINCT i.person_id) AS persons, COUNT(DISTINCT m.id) AS measures {base} \
         AND m.id IS NOT NULL GROUP BY m.section ORDER BY m.section"
    );
    let mut q = sqlx::query(&by_section_sql);
    for b in &binds {
        q = q.bind(b);
    }
    let by_section = q
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("section")?,
                Counts {
                    persons: r.try_get("persons")?,
                    measures: r.try_get("measures")?,
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;

    // Reasons of the latest not-executed record of each measure not executed.
    let mut not_executed_by_reason = Vec::new();
    for (code, name) in reasons {
        let p = binds.len() + 1;
        let reason_sql = format!(
            "SELECT COUNT(DISTINCT i.person_id) AS persons, COUNT(DISTINCT m.id) AS measures {base} AND m.status = 'not-executed' \
             AND (SELECT e.reasons FROM execution_records e WHERE e.measure_id = m.id AND e.result = 'not-executed' \
             ORDER BY e.id DESC LIMIT 1) LIKE ${p}"
        );
        let mut q = sqlx::query(&reason_sql);
        for b in &binds {
            q = q.bind(b);
        }
        let r = q.bind(format!("%\"{code}\"%")).fetch_one(&db.pool).await?;
        not_executed_by_reason.push(ReasonRow {
            code: code.clone(),
            name: name.clone(),
            persons: r.try_get("persons")?,
            measures: r.try_get("measures")?,
        });
    }

    Ok(Statistics {
        filter: serde_json::json!({"from": filter.from, "to": filter.to, "territory": filter.territory, "section": filter.section, "organisation": filter.organisation}),
        today: today.to_string(),
        extracts: row.try_get("extracts")?,
        received,
        adults: pair("adult")?,
        children: pair("child")?,
        rehabilitation: pair("rehab")?,
        tsr: pair("tsr")?,
        by_section,
        executed: pair("done")?,
        not_executed: pair("failed")?,
        not_executed_by_reason,
        open: pair("open")?,
        overdue: pair("late")?,
    })
}
