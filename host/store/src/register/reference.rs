//! Versioned reference lists (sections, measure categories, reasons, …): shipped as files in
//! `reference/`, loaded once per database as version 1, then read from memory.

use crate::db::{now, Db};
use crate::plugins::model;
use anyhow::{Context, Result};
use sqlx::{FromRow, Row};
use std::collections::HashMap;

/// The lists shipped with the product, compiled in so that the binary is self-contained.
const SHIPPED: &[(&str, &str)] = &[
    ("sections", include_str!("../../../../reference/sections.csv")),
    (
        "measure-categories",
        include_str!("../../../../reference/measure-categories.csv"),
    ),
    (
        "execution-results",
        include_str!("../../../../reference/execution-results.csv"),
    ),
    (
        "non-execution-reasons",
        include_str!("../../../../reference/non-execution-reasons.csv"),
    ),
    (
        "working-calendar",
        include_str!("../../../../reference/working-calendar.csv"),
    ),
    (
        "deadline-rules",
        include_str!("../../../../reference/deadline-rules.csv"),
    ),
    ("tsr-classes", include_str!("../../../../reference/tsr-classes.csv")),
    ("measure-types", include_str!("../../../../reference/measure-types.csv")),
    ("territories", include_str!("../../../../reference/territories.csv")),
];

/// One entry of a reference list.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Entry {
    pub code: String,
    pub name: String,
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    #[schemars(with = "Vec<[String; 2]>")]
    pub extra: Vec<(String, String)>,
}

impl Entry {
    pub fn for_plugins(&self) -> model::ReferenceEntry {
        model::ReferenceEntry {
            code: self.code.clone(),
            name: self.name.clone(),
            parent: self.parent.clone(),
            extra: self
                .extra
                .iter()
                .map(|(code, value)| model::Attribute {
                    code: code.clone(),
                    value: value.clone(),
                })
                .collect(),
        }
    }
}

/// Parses the `code;name;parent;extra` format of the shipped files.
pub fn parse_csv(list_id: &str, text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.splitn(4, ';').collect();
        let (code, name) = match (cols.first(), cols.get(1)) {
            (Some(code), Some(name)) if !code.trim().is_empty() => (code.trim(), name.trim()),
            _ => {
                return Err(crate::refusal::invalid(
                    "entries",
                    format!("справочник {list_id}, строка {}: нужны код и наименование", n + 1),
                ))
            }
        };
        let parent = cols
            .get(2)
            .map(|p| p.trim())
            .filter(|p| !p.is_empty())
            .map(str::to_string);
        let extra = cols
            .get(3)
            .map(|e| {
                e.split(',')
                    .filter_map(|pair| pair.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        entries.push(Entry {
            code: code.to_string(),
            name: name.to_string(),
            parent,
            extra,
        });
    }
    Ok(entries)
}

/// Loads every shipped list that the database does not have yet, as version 1.
pub async fn seed_shipped(db: &Db) -> Result<()> {
    for (list_id, text) in SHIPPED {
        let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM reference_versions WHERE list_id = $1")
            .bind(*list_id)
            .fetch_one(&db.pool)
            .await?
            .try_get("n")?;
        if existing > 0 {
            continue;
        }
        let entries = parse_csv(list_id, text)?;
        let mut tx = db.pool.begin().await?;
        let version_id: i64 = sqlx::query(
            "INSERT INTO reference_versions (list_id, version, loaded_at, author, note) \
             VALUES ($1, 1, $2, 'поставка', 'загружено из файла поставки') RETURNING id",
        )
        .bind(*list_id)
        .bind(now())
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        for entry in &entries {
            let extra = serde_json::to_string(&entry.extra)?;
            sqlx::query(
                "INSERT INTO reference_entries (version_id, code, name, parent, extra) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(version_id)
            .bind(&entry.code)
            .bind(&entry.name)
            .bind(entry.parent.as_deref())
            .bind(extra)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit()
            .await
            .with_context(|| format!("загрузка справочника {list_id}"))?;
    }
    Ok(())
}

/// One version of a list: when, who and why.
#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow)]
pub struct ListVersion {
    pub list_id: String,
    pub version: i64,
    pub loaded_at: String,
    pub author: String,
    pub note: Option<String>,
    pub entries: i64,
}

pub async fn versions(db: &Db, list_id: Option<&str>) -> Result<Vec<ListVersion>> {
    sqlx::query(
        "SELECT v.list_id, v.version, v.loaded_at, v.author, v.note, \
         (SELECT COUNT(*) FROM reference_entries e WHERE e.version_id = v.id) AS entries \
         FROM reference_versions v WHERE ($1 = '' OR v.list_id = $1) ORDER BY v.list_id, v.version",
    )
    .bind(list_id.unwrap_or(""))
    .fetch_all(&db.pool)
    .await?
    .iter()
    .map(ListVersion::from_row)
    .collect::<Result<_, _>>()
    .map_err(Into::into)
}

/// Stores `entries` as the next version of a list (an administrator's edit): the earlier
/// versions stay, with their dates and authors.
pub async fn set_list(db: &Db, list_id: &str, entries: &[Entry], author: &str, note: Option<&str>) -> Result<i64> {
    let mut tx = db.pool.begin().await?;
    let version = insert_version(&mut tx, list_id, entries, author, note).await?;
    tx.commit().await?;
    let subject = format!("reference:{list_id}");
    crate::audit::record(
        db,
        author,
        "reference.set",
        &subject,
        Some(&format!("версия {version}")),
    )
    .await?;
    Ok(version)
}

/// Checks a list and adds it as the next version inside the caller's transaction.
pub async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    list_id: &str,
    entries: &[Entry],
    author: &str,
    note: Option<&str>,
) -> Result<i64> {
    let valid_id = !list_id.is_empty()
        && list_id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid_id {
        return Err(crate::refusal::invalid(
            "list",
            format!("идентификатор справочника «{list_id}» недопустим"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (n, e) in entries.iter().enumerate() {
        if e.code.trim().is_empty() || e.name.trim().is_empty() {
            return Err(crate::refusal::invalid(
                "entries",
                format!("справочник {list_id}, запись {}: нужны код и наименование", n + 1),
            ));
        }
        if !seen.insert(e.code.as_str()) {
            return Err(crate::refusal::invalid(
                "entries",
                format!("справочник {list_id}: код «{}» повторяется", e.code),
            ));
        }
    }
    let version: i64 =
        sqlx::query("SELECT COALESCE(MAX(version), 0) + 1 AS v FROM reference_versions WHERE list_id = $1")
            .bind(list_id)
            .fetch_one(&mut *conn)
            .await?
            .try_get("v")?;
    let version_id: i64 = sqlx::query(
        "INSERT INTO reference_versions (list_id, version, loaded_at, author, note) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(list_id)
    .bind(version)
    .bind(now())
    .bind(author)
    .bind(note)
    .fetch_one(&mut *conn)
    .await?
    .try_get("id")?;
    for entry in entries {
        sqlx::query(
            "INSERT INTO reference_entries (version_id, code, name, parent, extra) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version_id)
        .bind(&entry.code)
        .bind(&entry.name)
        .bind(entry.parent.as_deref())
        .bind(serde_json::to_string(&entry.extra)?)
        .execute(&mut *conn)
        .await?;
    }
    Ok(version)
}

/// The current version of every list, in memory: what plugins and the import read.
#[derive(Default)]
pub struct ReferenceSnapshot {
    lists: HashMap<String, Vec<Entry>>,
    categories: HashMap<String, String>,
    /// `(category, normalised name)` → section, from the typed rows (`CATEGORY:…`) of the category
    /// map: how a measure of an older form is found by the name of its type when its code is unknown.
    category_names: HashMap<(String, String), String>,
}

/// What a measure record tells of its type, to find its section (see [`ReferenceSnapshot::measure_section`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct MeasureType<'a> {
    /// `EventTypeCode` of the 2022 form.
    pub event_type: Option<&'a str>,
    /// `GroupTypeId` of the 2016, 2017 and 2019 forms.
    pub group_id: Option<&'a str>,
    /// `GroupTypeName` (older forms), `EventTypeName` (2022 form) and the record's category name.
    pub names: [Option<&'a str>; 3],
}

/// A type's name as compared with the category map: case, «ё», spacing, closing punctuation and the
/// «… или абилитация» tail the forms add or leave out do not matter.
pub fn normalise_type_name(name: &str) -> String {
    let lower = name.to_lowercase().replace('ё', "е");
    let words: Vec<&str> = lower.split_whitespace().collect();
    let mut text = words.join(" ");
    for tail in [" или абилитация", " и абилитация", " или абилитации", " и абилитации"]
    {
        if let Some(stripped) = text.strip_suffix(tail) {
            text = stripped.to_string();
        }
    }
    text.trim_end_matches(['.', ';', ',', ' ']).to_string()
}

impl ReferenceSnapshot {
    pub async fn load(db: &Db) -> Result<ReferenceSnapshot> {
        let rows = sqlx::query(
            "SELECT v.list_id, e.code, e.name, e.parent, e.extra FROM reference_entries e \
             JOIN reference_versions v ON v.id = e.version_id \
             WHERE v.version = (SELECT MAX(v2.version) FROM reference_versions v2 WHERE v2.list_id = v.list_id) \
             ORDER BY v.list_id, e.id",
        )
        .fetch_all(&db.pool)
        .await?;
        let mut lists: HashMap<String, Vec<Entry>> = HashMap::new();
        for row in rows {
            let extra: String = row.try_get("extra")?;
            lists.entry(row.try_get("list_id")?).or_default().push(Entry {
                code: row.try_get("code")?,
                name: row.try_get("name")?,
                parent: crate::db::opt_text(&row, "parent"),
                extra: serde_json::from_str(&extra).unwrap_or_default(),
            });
        }
        Ok(ReferenceSnapshot::from_lists(lists))
    }

    pub fn from_lists(lists: HashMap<String, Vec<Entry>>) -> ReferenceSnapshot {
        let categories = lists
            .get("measure-categories")
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e.parent.clone().map(|section| (e.code.clone(), section)))
                    .collect()
            })
            .unwrap_or_default();
        let category_names = lists
            .get("measure-categories")
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| {
                        let (category, _) = e.code.split_once(':')?;
                        let section = e.parent.clone()?;
                        Some(((category.to_string(), normalise_type_name(&e.name)), section))
                    })
                    .collect()
            })
            .unwrap_or_default();
        ReferenceSnapshot {
            lists,
            categories,
            category_names,
        }
    }

    /// The territory code of what an extract names: a code of the `territories` list, or an entry's
    /// `fias` GUID, name or `alias` (extracts carry a district's FIAS GUID or a short name such as
    /// «Альметьевский»); names compare case-insensitively. The first candidate that resolves wins.
    pub fn territory_code(&self, candidates: &[&str]) -> Option<String> {
        let territories = self.list("territories");
        candidates
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .find_map(|candidate| {
                let wanted = candidate.to_lowercase();
                territories
                    .iter()
                    .find(|t| {
                        t.code == candidate
                            || t.name.to_lowercase() == wanted
                            || t.extra
                                .iter()
                                .any(|(k, v)| (k == "fias" || k == "alias") && v.to_lowercase() == wanted)
                    })
                    .map(|t| t.code.clone())
            })
    }

    pub fn list(&self, list_id: &str) -> &[Entry] {
        self.lists.get(list_id).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The (code, name) pairs of a list, in its order: what a select, a table's labels or a report's
    /// rows show.
    pub fn code_names(&self, list_id: &str) -> Vec<(String, String)> {
        self.list(list_id)
            .iter()
            .map(|e| (e.code.clone(), e.name.clone()))
            .collect()
    }

    /// The section of a measure category: `CODE:subtype`, then the exact code, then the code with
    /// trailing `.SEGMENT`s dropped (`MSE.IPRA.TSR.FEDERAL.ITEM` → `MSE.IPRA.TSR`).
    pub fn section_of(&self, category_code: &str, subtype: Option<&str>) -> Option<&str> {
        self.measure_section(
            category_code,
            MeasureType {
                event_type: subtype,
                ..MeasureType::default()
            },
        )
    }

    /// The section of a measure: its category with the type its form gives it — `CODE:EventTypeCode`
    /// (2022 form), `CODE:group:GroupTypeId` (2016, 2017 and 2019 forms), then a typed row of the
    /// category whose name is the type's name — then the category alone, exact and then with trailing
    /// `.SEGMENT`s dropped (`MSE.IPRA.TSR.FEDERAL.ITEM` → `MSE.IPRA.TSR`). None when the map does not
    /// say: the measure waits in the queue for a coordinator to choose its section.
    pub fn measure_section(&self, category_code: &str, kind: MeasureType<'_>) -> Option<&str> {
        let typed = [
            kind.event_type.map(|t| format!("{category_code}:{}", t.trim())),
            kind.group_id.map(|g| format!("{category_code}:group:{}", g.trim())),
        ];
        for key in typed.iter().flatten() {
            if let Some(section) = self.categories.get(key) {
                return Some(section);
            }
        }
        for name in kind.names.iter().flatten() {
            let wanted = (category_code.to_string(), normalise_type_name(name));
            if let Some(section) = self.category_names.get(&wanted) {
                return Some(section);
            }
        }
        let mut code = category_code;
        loop {
            if let Some(section) = self.categories.get(code) {
                return Some(section);
            }
            code = &code[..code.rfind('.')?];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> ReferenceSnapshot {
        let lists = SHIPPED
            .iter()
            .map(|(id, text)| (id.to_string(), parse_csv(id, text).unwrap()))
            .collect();
        ReferenceSnapshot::from_lists(lists)
    }

    #[test]
    fn shipped_lists_parse() {
        let snap = shipped();
        assert_eq!(snap.list("sections").len(), 6);
        assert!(snap.list("working-calendar").len() > 20);
        assert_eq!(snap.list("deadline-rules").len(), 3);
        assert!(
            snap.list("territories").is_empty(),
            "the region loads its own districts"
        );
        assert!(snap.list("non-execution-reasons").iter().any(|e| e.code == "died"));
    }

    #[test]
    fn older_forms_find_their_section_by_type_id_then_by_type_name() {
        let snap = shipped();
        let rehab = |group_id: Option<&'static str>, name: Option<&'static str>| MeasureType {
            event_type: None,
            group_id,
            names: [name, None, Some("Мероприятия реабилитации")],
        };
        // By the id the samples show, whatever the name says.
        assert_eq!(
            snap.measure_section("MSE.IPRA.REHAB", rehab(Some("12"), Some("иное"))),
            Some("social-protection")
        );
        assert_eq!(
            snap.measure_section("MSE.IPRA.REHAB", rehab(Some("34"), None)),
            Some("health")
        );
        // By the name when the id is not listed: case, «ё», spacing and the «или абилитация» tail aside.
        assert_eq!(
            snap.measure_section(
                "MSE.IPRA.REHAB",
                rehab(Some("977"), Some("  ПРОФЕССИОНАЛЬНАЯ   ориентация "))
            ),
            Some("employment")
        );
        assert_eq!(
            snap.measure_section(
                "MSE.IPRA.REHAB",
                rehab(None, Some("Социально-средовая реабилитация или абилитация"))
            ),
            Some("social-protection")
        );
        // A type the map does not know has no section: it waits for a coordinator.
        assert_eq!(
            snap.measure_section("MSE.IPRA.REHAB", rehab(Some("977"), Some("Новый вид"))),
            None
        );
        // The 2022 form's event type comes first.
        let typed = MeasureType {
            event_type: Some("3"),
            group_id: Some("34"),
            names: [None, None, None],
        };
        assert_eq!(snap.measure_section("MSE.IPRA.REHAB", typed), Some("employment"));
        // Every typed row names a section of the sections list.
        let sections: Vec<&str> = snap.list("sections").iter().map(|e| e.code.as_str()).collect();
        for e in snap.list("measure-categories") {
            assert!(sections.contains(&e.parent.as_deref().unwrap_or_default()), "{e:?}");
        }
    }

    #[test]
    fn maps_categories_to_sections() {
        let snap = shipped();
        assert_eq!(snap.section_of("MSE.IPRA.MED.EVENT", None), Some("health"));
        assert_eq!(snap.section_of("MSE.IPRA.TSR.FEDERAL.ITEM", None), Some("tsr"));
        assert_eq!(
            snap.section_of("MSE.IPRA.PROF.RECOMMLABORCONDITIONS", None),
            Some("employment")
        );
        assert_eq!(snap.section_of("MSE.IPRA.REHAB", Some("3")), Some("employment"));
        assert_eq!(snap.section_of("MSE.IPRA.REHAB", Some("99")), None);
        assert_eq!(snap.section_of("MSE.IPRA.GENERAL", None), None);
        assert_eq!(snap.section_of("MSE.IPRA.HELPITEM", None), Some("social-protection"));
    }
}
