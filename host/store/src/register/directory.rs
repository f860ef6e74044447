//! The directory of executor organisations (by OGRN) and the routing rules that assign measures
//! to them by section and territory, with a preview of a rule change and manual reassignment.

use super::reference::{Entry, ReferenceSnapshot};
use crate::db::rows::Flag;
use crate::db::{now, opt_text, Db};
use crate::plugins::lookups::Lookups;
use crate::plugins::model::{self, Organisation as PluginOrganisation};
use anyhow::Result;
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, Row};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, schemars::JsonSchema, sqlx::FromRow)]
pub struct Organisation {
    pub ogrn: String,
    #[serde(default)]
    pub inn: Option<String>,
    pub name: String,
    /// Section id the organisation executes (`health`, …, `tsr`).
    pub department: String,
    #[serde(default)]
    pub territory_code: Option<String>,
    #[serde(default)]
    pub executor_type: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default = "yes")]
    #[sqlx(try_from = "Flag")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

/// Checks an OGRN (13 digits, mod 11) or OGRNIP (15 digits, mod 13); the message is for users.
pub fn check_ogrn(ogrn: &str) -> Result<(), String> {
    ipra_plugin_sdk::ogrn::validate(ogrn)
        .map(|_| ())
        .map_err(|e| format!("ОГРН «{ogrn}» неверен: {e}"))
}

pub async fn upsert_organisation(db: &Db, org: &Organisation, actor: &str) -> Result<()> {
    if let Err(message) = check_ogrn(&org.ogrn) {
        return Err(crate::refusal::invalid("ogrn", message));
    }
    if org.name.trim().is_empty() {
        return Err(crate::refusal::invalid(
            "name",
            format!("организация {}: не указано наименование", org.ogrn),
        ));
    }
    let at = now();
    sqlx::query(
        "INSERT INTO organisations (ogrn, inn, name, department, territory_code, executor_type, phone, email, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) \
         ON CONFLICT (ogrn) DO UPDATE SET inn = excluded.inn, name = excluded.name, department = excluded.department, \
         territory_code = excluded.territory_code, executor_type = excluded.executor_type, phone = excluded.phone, \
         email = excluded.email, active = excluded.active, updated_at = excluded.updated_at",
    )
    .bind(&org.ogrn)
    .bind(org.inn.as_deref())
    .bind(&org.name)
    .bind(&org.department)
    .bind(org.territory_code.as_deref())
    .bind(org.executor_type.as_deref())
    .bind(org.phone.as_deref())
    .bind(org.email.as_deref())
    .bind(i64::from(org.active))
    .bind(&at)
    .execute(&db.pool)
    .await?;
    crate::audit::record(
        db,
        actor,
        "organisation.save",
        &format!("organisation:{}", org.ogrn),
        Some(&org.name),
    )
    .await
}

/// An organisation as its own users see and keep it («Профиль организации» of the executor's cabinet): what the
/// ministry's directory decides, shown, and the contacts the organisation maintains itself.
#[derive(Clone, Debug, Serialize)]
pub struct Profile {
    pub organisation: Organisation,
    pub gis_ecp_id: Option<String>,
    pub contact_name: Option<String>,
}

pub async fn profile(db: &Db, ogrn: &str) -> Result<Option<Profile>> {
    let row = sqlx::query("SELECT * FROM organisations WHERE ogrn = $1")
        .bind(ogrn)
        .fetch_optional(&db.pool)
        .await?;
    row.map(|r| {
        Ok(Profile {
            organisation: organisation_from_row(&r)?,
            gis_ecp_id: opt_text(&r, "gis_ecp_id"),
            contact_name: opt_text(&r, "contact_name"),
        })
    })
    .transpose()
}

/// The contacts an organisation keeps itself: the responsible person, phone and e-mail. Each
/// problem names its field; nothing is saved while there is one.
pub async fn update_contacts(
    db: &Db,
    ogrn: &str,
    contact_name: &str,
    phone: &str,
    email: &str,
    actor: &str,
) -> Result<std::result::Result<(), Vec<(&'static str, String)>>> {
    let (contact_name, phone, email) = (contact_name.trim(), phone.trim(), email.trim());
    let mut problems = Vec::new();
    if contact_name.chars().count() > 200 {
        problems.push((
            "contact_name",
            "«ФИО ответственного»: не длиннее 200 знаков".to_string(),
        ));
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if !phone.is_empty()
        && (!phone.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) || !(5..=15).contains(&digits))
    {
        problems.push((
            "phone",
            format!("«Телефон»: «{phone}» — не номер телефона (цифры, пробелы, «+», «-», скобки; от 5 до 15 цифр)"),
        ));
    }
    let looks_like_email = email.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
    });
    if !email.is_empty() && (!looks_like_email || email.contains(char::is_whitespace)) {
        problems.push((
            "email",
            format!("«Электронная почта»: «{email}» — не адрес электронной почты"),
        ));
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let some = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
    let changed = sqlx::query(
        "UPDATE organisations SET contact_name = $1, phone = $2, email = $3, updated_at = $4 WHERE ogrn = $5",
    )
    .bind(some(contact_name))
    .bind(some(phone))
    .bind(some(email))
    .bind(now())
    .bind(ogrn)
    .execute(&db.pool)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::invalid(
            "ogrn",
            format!("организация с ОГРН {ogrn} не найдена в справочнике исполнителей"),
        ));
    }
    crate::audit::record(
        db,
        actor,
        "organisation.profile",
        &format!("organisation:{ogrn}"),
        Some(&format!("{contact_name}; {phone}; {email}")),
    )
    .await?;
    Ok(Ok(()))
}

fn organisation_from_row(row: &sqlx::any::AnyRow) -> Result<Organisation> {
    Ok(Organisation::from_row(row)?)
}

/// The profile columns kept beside each organisation of the directory: OGRN → (its id in ГИС ЕЦП,
/// the person responsible).
pub async fn profile_fields(db: &Db) -> Result<std::collections::HashMap<String, (Option<String>, Option<String>)>> {
    let rows = sqlx::query("SELECT ogrn, gis_ecp_id, contact_name FROM organisations")
        .fetch_all(&db.pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("ogrn")?,
                (opt_text(r, "gis_ecp_id"), opt_text(r, "contact_name")),
            ))
        })
        .collect()
}

/// Sets the profile columns of an organisation (the administrator's form).
pub async fn set_profile_fields(
    db: &Db,
    ogrn: &str,
    gis_ecp_id: Option<&str>,
    contact_name: Option<&str>,
) -> Result<()> {
    sqlx::query("UPDATE organisations SET gis_ecp_id = $1, contact_name = $2, updated_at = $3 WHERE ogrn = $4")
        .bind(gis_ecp_id)
        .bind(contact_name)
        .bind(now())
        .bind(ogrn)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// Retires a rule (measures already assigned stay with their organisation).
pub async fn retire_rule(db: &Db, id: i64, actor: &str) -> Result<bool> {
    let changed =
        sqlx::query("UPDATE routing_rules SET retired_at = $1, retired_by = $2 WHERE id = $3 AND retired_at IS NULL")
            .bind(now())
            .bind(actor)
            .bind(id)
            .execute(&db.pool)
            .await?
            .rows_affected();
    if changed == 1 {
        crate::audit::record(db, actor, "routing.delete", &format!("rule:{id}"), None).await?;
    }
    Ok(changed == 1)
}

pub async fn list_organisations(db: &Db) -> Result<Vec<Organisation>> {
    Ok(directory(db).await?.as_ref().clone())
}

/// The directory as last read, by database, with the `directory_version` it was read at.
type DirectoryCopy = (String, i64, Arc<Vec<Organisation>>);
static DIRECTORY: std::sync::Mutex<Vec<DirectoryCopy>> = std::sync::Mutex::new(Vec::new());

/// Every organisation, by department, territory and name: the copy in memory while the
/// directory's version (raised by a trigger on every change, by any process) is the one it was
/// read at, else read again.
pub async fn directory(db: &Db) -> Result<Arc<Vec<Organisation>>> {
    let version: i64 = sqlx::query("SELECT n FROM directory_version WHERE id = 1")
        .fetch_one(&db.pool)
        .await?
        .try_get("n")?;
    let copies = || DIRECTORY.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, _, list)) = copies().iter().find(|(url, v, _)| *url == db.url && *v == version) {
        return Ok(list.clone());
    }
    // Read in one transaction with the version, so that the copy is of the version it carries.
    let mut tx = db.pool.begin().await?;
    let version: i64 = sqlx::query("SELECT n FROM directory_version WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get("n")?;
    let list = Arc::new(
        sqlx::query("SELECT * FROM organisations ORDER BY department, territory_code, name")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(organisation_from_row)
            .collect::<Result<Vec<_>>>()?,
    );
    tx.commit().await?;
    let mut copies = copies();
    copies.retain(|(url, _, _)| *url != db.url);
    copies.push((db.url.clone(), version, list.clone()));
    Ok(list)
}

/// Organisations of `list` a person looking for `text` means: those whose OGRN begins with it or
/// whose name holds it (letter case and «ё» aside), within `section` when given, the active ones
/// first, at most `limit`. The directory is a region's couple of thousand entries held in memory
/// (see [`directory`]), so this is a search of a reference list, not of the register.
pub fn find_organisations<'a>(
    list: &'a [Organisation],
    text: &str,
    section: Option<&str>,
    limit: usize,
) -> Vec<&'a Organisation> {
    let needle = fold(text.trim());
    let mut found: Vec<&Organisation> = list
        .iter()
        .filter(|o| section.is_none_or(|s| o.department == s))
        .filter(|o| needle.is_empty() || o.ogrn.starts_with(&needle) || fold(&o.name).contains(&needle))
        .collect();
    found.sort_by_key(|o| !o.active);
    found.truncate(limit);
    found
}

/// The one organisation `text` names — an OGRN of the directory, or words of exactly one
/// active organisation's name (within `section` when given) — or a Russian message saying why not.
pub fn resolve_organisation(list: &[Organisation], text: &str, section: Option<&str>) -> Result<String, String> {
    let text = text.trim();
    if let Some(o) = list
        .iter()
        .find(|o| o.ogrn == text && section.is_none_or(|s| o.department == s))
    {
        return Ok(o.ogrn.clone());
    }
    let found: Vec<&Organisation> = find_organisations(list, text, section, 6)
        .into_iter()
        .filter(|o| o.active)
        .collect();
    match found.as_slice() {
        [one] => Ok(one.ogrn.clone()),
        [] => Err(format!(
            "организации «{text}» нет в справочнике исполнителей{}",
            in_section(section)
        )),
        [a, b, ..] => Err(format!(
            "под «{text}» подходит несколько организаций{} ({}, {}{}): уточните название или укажите ОГРН",
            in_section(section),
            a.name,
            b.name,
            if found.len() > 2 { ", …" } else { "" }
        )),
    }
}

fn in_section(section: Option<&str>) -> &'static str {
    if section.is_some() {
        " этого раздела"
    } else {
        ""
    }
}

/// Lower case with «ё» as «е»: how a person types a name they remember.
fn fold(s: &str) -> String {
    s.to_lowercase().replace('ё', "е")
}

/// OGRN → name of every organisation of the directory (a few thousand in a region).
pub async fn organisation_names(db: &Db) -> Result<std::collections::HashMap<String, String>> {
    Ok(directory(db)
        .await?
        .iter()
        .map(|o| (o.ogrn.clone(), o.name.clone()))
        .collect())
}

pub async fn organisation(db: &Db, ogrn: &str) -> Result<Option<Organisation>> {
    sqlx::query("SELECT * FROM organisations WHERE ogrn = $1")
        .bind(ogrn)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(organisation_from_row)
        .transpose()
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct RoutingRule {
    pub id: i64,
    pub section: String,
    pub territory_code: Option<String>,
    pub ogrn: String,
    pub created_at: String,
    pub created_by: String,
}

pub async fn active_rules(db: &Db) -> Result<Vec<RoutingRule>> {
    sqlx::query("SELECT * FROM routing_rules WHERE retired_at IS NULL ORDER BY section, territory_code")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(RoutingRule::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// One measure a rule change would move.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Reassignment {
    #[sqlx(rename = "id")]
    pub measure_id: i64,
    pub ipra_id: i64,
    #[sqlx(rename = "number")]
    pub ipra_number: String,
    #[sqlx(rename = "name")]
    pub measure_name: String,
    pub territory_code: Option<String>,
    #[sqlx(rename = "assigned_ogrn")]
    pub from_ogrn: Option<String>,
    /// The organisation the rule would give it to (not a column: the rule's).
    #[sqlx(skip)]
    pub to_ogrn: String,
}

/// Open measures of the section in the territory (or, for a region-wide rule, in territories
/// without a rule of their own) whose executor came from a rule or is still missing.
/// Measures assigned by the extract itself or by hand are never moved by a rule.
pub async fn preview_rule(db: &Db, section: &str, territory: Option<&str>, ogrn: &str) -> Result<Vec<Reassignment>> {
    let territory_condition = match territory {
        Some(_) => "p.territory_code = $2",
        None => "($2 = '' AND (p.territory_code IS NULL OR p.territory_code NOT IN \
                 (SELECT r.territory_code FROM routing_rules r WHERE r.section = $1 AND r.retired_at IS NULL AND r.territory_code IS NOT NULL)))",
    };
    let sql = format!(
        "SELECT m.id, m.ipra_id, i.number, m.name, p.territory_code, m.assigned_ogrn FROM measures m \
         JOIN ipras i ON i.id = m.ipra_id JOIN persons p ON p.id = i.person_id \
         WHERE m.section = $1 AND m.status = 'open' AND i.status = 'active' \
         AND (m.assignment_source IS NULL OR m.assignment_source = 'rule') \
         AND (m.assigned_ogrn IS NULL OR m.assigned_ogrn <> $3) AND {territory_condition} ORDER BY m.id"
    );
    sqlx::query(&sql)
        .bind(section)
        .bind(territory.unwrap_or(""))
        .bind(ogrn)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|row| {
            Ok(Reassignment {
                to_ogrn: ogrn.to_string(),
                ..Reassignment::from_row(row)?
            })
        })
        .collect()
}

/// Replaces the rule of a section in a territory and reassigns what the preview shows.
pub async fn set_rule(
    db: &Db,
    section: &str,
    territory: Option<&str>,
    ogrn: &str,
    actor: &str,
) -> Result<Vec<Reassignment>> {
    let Some(org) = organisation(db, ogrn).await? else {
        return Err(crate::refusal::invalid(
            "ogrn",
            format!("организация с ОГРН {ogrn} не найдена в справочнике исполнителей"),
        ));
    };
    if org.department != section {
        return Err(crate::refusal::conflict(format!(
            "организация {ogrn} исполняет раздел «{}», а не «{section}»",
            org.department
        )));
    }
    let moves = preview_rule(db, section, territory, ogrn).await?;
    let at = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query(
        "UPDATE routing_rules SET retired_at = $1, retired_by = $2 WHERE section = $3 AND retired_at IS NULL \
         AND COALESCE(territory_code, '') = $4",
    )
    .bind(&at)
    .bind(actor)
    .bind(section)
    .bind(territory.unwrap_or(""))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO routing_rules (section, territory_code, ogrn, created_at, created_by) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(section)
    .bind(territory)
    .bind(ogrn)
    .bind(&at)
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    for m in &moves {
        reassign(
            &mut tx,
            m.measure_id,
            Some(ogrn),
            "rule",
            actor,
            Some("изменение правила маршрутизации"),
            &at,
        )
        .await?;
    }
    tx.commit().await?;
    let subject = format!("routing:{section}:{}", territory.unwrap_or("*"));
    crate::audit::record(
        db,
        actor,
        "routing.set",
        &subject,
        Some(&format!("{ogrn}; перемещено {}", moves.len())),
    )
    .await?;
    Ok(moves)
}

/// Records the current assignment in the history first if it has none, then the new one.
async fn reassign(
    conn: &mut sqlx::AnyConnection,
    measure_id: i64,
    ogrn: Option<&str>,
    source: &str,
    actor: &str,
    note: Option<&str>,
    at: &str,
) -> Result<()> {
    let has_history: i64 = sqlx::query("SELECT COUNT(*) AS n FROM measure_assignments WHERE measure_id = $1")
        .bind(measure_id)
        .fetch_one(&mut *conn)
        .await?
        .try_get("n")?;
    if has_history == 0 {
        sqlx::query(
            "INSERT INTO measure_assignments (measure_id, ogrn, source, assigned_at, assigned_by, note) \
             SELECT m.id, m.assigned_ogrn, COALESCE(m.assignment_source, 'none'), i.received_at, 'импорт', m.assignment_note \
             FROM measures m JOIN ipras i ON i.id = m.ipra_id WHERE m.id = $1",
        )
        .bind(measure_id)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query("UPDATE measures SET assigned_ogrn = $1, assignment_source = $2, assignment_note = $3 WHERE id = $4")
        .bind(ogrn)
        .bind(source)
        .bind(note)
        .bind(measure_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO measure_assignments (measure_id, ogrn, source, assigned_at, assigned_by, note) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(measure_id)
        .bind(ogrn)
        .bind(source)
        .bind(at)
        .bind(actor)
        .bind(note)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A coordinator's reassignment by hand; kept in the measure's history.
///
/// A measure whose section the category map did not give (a type of an older form the map does not
/// list) gets its section here too: `section` when the coordinator chose one, else the section of the
/// chosen organisation. A measure that has a section keeps it: the organisation must execute it.
pub async fn assign_by_hand(
    db: &Db,
    measure_id: i64,
    ogrn: &str,
    section: Option<&str>,
    actor: &str,
    note: Option<&str>,
) -> Result<()> {
    let Some(org) = organisation(db, ogrn).await? else {
        return Err(crate::refusal::invalid(
            "ogrn",
            format!("организация с ОГРН {ogrn} не найдена в справочнике исполнителей"),
        ));
    };
    let row = sqlx::query("SELECT section, status FROM measures WHERE id = $1")
        .bind(measure_id)
        .fetch_optional(&db.pool)
        .await?;
    let Some(row) = row else {
        return Err(crate::refusal::not_found(format!(
            "мероприятие {measure_id} не найдено"
        )));
    };
    let current: String = row.try_get("section")?;
    let chosen = section.map(str::trim).filter(|s| !s.is_empty());
    let new_section = current
        .is_empty()
        .then(|| chosen.unwrap_or(&org.department).to_string());
    if let (false, Some(chosen)) = (current.is_empty(), chosen) {
        if chosen != current {
            return Err(crate::refusal::conflict(format!(
                "раздел мероприятия уже определён («{current}»); выбирается только раздел мероприятия без раздела"
            )));
        }
    }
    let section = new_section.as_deref().unwrap_or(&current);
    if org.department != section {
        return Err(crate::refusal::conflict(format!(
            "организация {ogrn} исполняет раздел «{}», а мероприятие относится к разделу «{section}»",
            org.department
        )));
    }
    let at = now();
    let mut tx = db.pool.begin().await?;
    if let Some(section) = &new_section {
        // Only while it has none: a second coordinator's choice does not overwrite the first.
        let set = sqlx::query("UPDATE measures SET section = $1 WHERE id = $2 AND section = ''")
            .bind(section)
            .bind(measure_id)
            .execute(&mut *tx)
            .await?;
        if set.rows_affected() == 0 {
            return Err(crate::refusal::conflict(format!(
                "раздел мероприятия {measure_id} уже выбран другим пользователем; обновите страницу"
            )));
        }
    }
    reassign(&mut tx, measure_id, Some(ogrn), "manual", actor, note, &at).await?;
    tx.commit().await?;
    if let Some(section) = &new_section {
        crate::audit::record(
            db,
            actor,
            "measure.section",
            &format!("measure:{measure_id}"),
            Some(section),
        )
        .await?;
    }
    crate::audit::record(
        db,
        actor,
        "measure.assign",
        &format!("measure:{measure_id}"),
        Some(ogrn),
    )
    .await
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct AssignmentEvent {
    pub ogrn: Option<String>,
    pub source: String,
    pub assigned_at: String,
    pub assigned_by: String,
    pub note: Option<String>,
}

pub async fn assignment_history(db: &Db, measure_id: i64) -> Result<Vec<AssignmentEvent>> {
    sqlx::query("SELECT * FROM measure_assignments WHERE measure_id = $1 ORDER BY id")
        .bind(measure_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(AssignmentEvent::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// What plugins may look up, in memory: reference lists, the directory and the routing rules.
pub struct RegisterLookups {
    pub reference: Arc<ReferenceSnapshot>,
    organisations: HashMap<String, Organisation>,
    routes: HashMap<(String, String), String>,
}

impl RegisterLookups {
    pub async fn load(db: &Db, reference: Arc<ReferenceSnapshot>) -> Result<RegisterLookups> {
        let organisations = list_organisations(db)
            .await?
            .into_iter()
            .filter(|o| o.active)
            .map(|o| (o.ogrn.clone(), o))
            .collect();
        let routes = active_rules(db)
            .await?
            .into_iter()
            .map(|r| ((r.section, r.territory_code.unwrap_or_default()), r.ogrn))
            .collect();
        Ok(RegisterLookups {
            reference,
            organisations,
            routes,
        })
    }

    fn for_plugins(org: &Organisation) -> PluginOrganisation {
        PluginOrganisation {
            ogrn: org.ogrn.clone(),
            name: org.name.clone(),
            department: Some(org.department.clone()),
            territory_code: org.territory_code.clone(),
        }
    }
}

impl Lookups for RegisterLookups {
    fn organisation(&self, ogrn: &str) -> Option<PluginOrganisation> {
        self.organisations.get(ogrn).map(Self::for_plugins)
    }

    /// The territory's own rule first, then the region-wide rule of the section.
    fn route(&self, section: &str, territory_code: &str) -> Option<PluginOrganisation> {
        let ogrn = self
            .routes
            .get(&(section.to_string(), territory_code.to_string()))
            .or_else(|| self.routes.get(&(section.to_string(), String::new())))?;
        self.organisations.get(ogrn).map(Self::for_plugins)
    }

    fn reference_list(&self, list_id: &str) -> Vec<model::ReferenceEntry> {
        self.reference.list(list_id).iter().map(Entry::for_plugins).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clinic(ogrn: &str, name: &str) -> Organisation {
        Organisation {
            ogrn: ogrn.into(),
            inn: None,
            name: name.into(),
            department: "health".into(),
            territory_code: None,
            executor_type: None,
            phone: None,
            email: None,
            active: true,
        }
    }

    #[test]
    fn an_organisation_is_found_by_ogrn_or_words_of_its_name() {
        let mut school = clinic("1027700000017", "Школа-интернат «Солнышко»");
        school.department = "education".into();
        let mut closed = clinic("1021600000751", "Поликлиника Заречного района");
        closed.active = false;
        let list = vec![
            clinic("1021600000740", "Поликлиника № 1 г. Казани"),
            clinic("1021600000762", "Городская поликлиника № 2"),
            closed,
            school,
        ];
        let names = |found: Vec<&Organisation>| found.iter().map(|o| o.ogrn.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(find_organisations(&list, "102160000074", None, 10)),
            ["1021600000740"]
        );
        // Case and «ё» aside; the active ones first.
        assert_eq!(
            names(find_organisations(&list, "ПОЛИКЛИНИКА", Some("health"), 10)),
            ["1021600000740", "1021600000762", "1021600000751"]
        );
        assert!(find_organisations(&list, "солнышко", Some("health"), 10).is_empty());
        assert_eq!(find_organisations(&list, "", None, 2).len(), 2);

        assert_eq!(
            resolve_organisation(&list, "1027700000017", None).unwrap(),
            "1027700000017"
        );
        assert_eq!(
            resolve_organisation(&list, " солнышко ", None).unwrap(),
            "1027700000017"
        );
        assert_eq!(
            resolve_organisation(&list, "№ 2", Some("health")).unwrap(),
            "1021600000762"
        );
        // A closed organisation is not chosen by its name; several matches are a question back.
        assert!(resolve_organisation(&list, "Заречного", None)
            .unwrap_err()
            .contains("нет в справочнике"));
        let several = resolve_organisation(&list, "поликлиника", Some("health")).unwrap_err();
        assert!(several.contains("несколько организаций этого раздела"), "{several}");
        assert!(resolve_organisation(&list, "1027700000017", Some("health")).is_err());
    }

    #[tokio::test]
    async fn the_directory_in_memory_follows_every_change() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::db::default_url(dir.path())).await.unwrap();
        assert!(directory(&db).await.unwrap().is_empty());
        upsert_organisation(&db, &clinic("1021600000740", "Поликлиника № 1"), "test")
            .await
            .unwrap();
        assert_eq!(directory(&db).await.unwrap()[0].name, "Поликлиника № 1");
        // A change by another process (here: a statement of its own) is seen as well.
        sqlx::query("UPDATE organisations SET name = 'Поликлиника № 2' WHERE ogrn = '1021600000740'")
            .execute(&db.pool)
            .await
            .unwrap();
        assert_eq!(
            organisation_names(&db).await.unwrap()["1021600000740"],
            "Поликлиника № 2"
        );
        let first = directory(&db).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &directory(&db).await.unwrap()),
            "unchanged: the same copy"
        );
    }
}
