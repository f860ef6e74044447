//! Facts of assignment for EGISSO: executed social-protection measures whose local measure type an
//! administrator mapped to an EGISSO measure (LMSZ), their upload, EGISSO's answers and their changes.
//!
//! A fact's life (`egisso_facts`, migration 0026): `queued` (waiting for the next upload, or in a package
//! not yet delivered) → `sent` → `accepted` | `rejected` (EGISSO's reason and rule code kept); a rejected
//! fact stays so until a person corrects the execution or the mapping and sends it again
//! ([`resend`]), under the same fact uuid. A fact EGISSO holds follows its execution: triggers count
//! every change of the execution record and of the person's death, and the next upload compares the
//! fact with what EGISSO holds (`sent_state`) and sends a correction (`alterationBasedOnPreviousErrors`),
//! a termination on the death date (`terminationBasedOnEndOfRight`) or, when the execution was withdrawn,
//! an invalidation (`errorsInvalidation`, the fact then `cancelled`); each change has an event uuid of its
//! own, by which EGISSO's protocol names it back.
//!
//! What an upload reads is what changed, never the register (migration 0031): triggers put every
//! execution that may need a first fact in `egisso_pending` (reported executed social-protection
//! records, and those of a person whose birth date or gender came), and count up `changed` on the facts
//! whose execution, death, identity (name, SNILS, birth date, gender) or mapping changed; one not yet
//! mapped is parked under its category until a mapping of it wakes it. A run reads at most
//! [`MAX_PER_PACKAGE`] rows of each of three index walks — `egisso_pending_ready`, the facts waiting
//! (`egisso_facts_status`) and the facts changed (`egisso_facts_changed`) — and then its rows by their
//! keys: O(k log n) for k changes in a register of n records, nothing in proportion to the four million
//! execution records of a region (the statements are checked by `ipra bench plans`, see
//! [`selection_statements`]). A pending row leaves only in the transaction that stores its fact or finds
//! it needs none, and only if nothing touched it since it was read; a fact whose upload failed or was
//! refused stays pending, rejected or changed until a person or the next run settles it.
//!
//! A changed mapping ([`set_mapping`], [`delete_mapping`]) marks the facts sent under it
//! (`mapping_code`), found through `egisso_facts_mapping`: the next upload corrects them (or cancels
//! them when the measure is no longer mapped), and [`mapping_effect`] says beforehand how many.
//!
//! Durable steps: a package, its outgoing message and the state of each fact in it are written in one
//! transaction ([`upload`]); delivery is the exchange's (claim, lease, retries); a package delivered
//! before its facts were marked is put right by [`reconcile_sent`] or by its answer. Answers
//! ([`receive_answer`]) are idempotent: the same protocol again changes nothing, one that contradicts
//! what was already recorded is refused and waits for a person.

use crate::app::App;
use crate::db::{now, opt_text, Db, Engine};
use crate::plugins::model;
use crate::plugins::LoadedPlugin;
use crate::register::reference::Entry;
use anyhow::{bail, Context, Result};
use ipra_plugin_sdk::uuid;
use serde::Serialize;
use sqlx::{FromRow, Row};
use std::collections::HashMap;
use std::sync::Arc;

/// `tPackage/elements` holds at most this many elements of a kind; a package here holds at most this many in all.
pub const MAX_PER_PACKAGE: usize = 1000;

/// The statuses of a fact, in the order of its life.
pub const STATUSES: [&str; 5] = ["queued", "sent", "accepted", "rejected", "cancelled"];

/// What people read for a status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "queued" => "ожидает отправки",
        "sent" => "отправлен",
        "accepted" => "принят",
        "rejected" => "отклонён",
        "cancelled" => "аннулирован",
        _ => "—",
    }
}

/// What people read for an operation.
pub fn operation_label(operation: &str) -> &'static str {
    match operation {
        "fact" => "назначение",
        "correction" => "исправление",
        "termination" => "прекращение (смерть)",
        "invalidation" => "аннулирование",
        _ => "—",
    }
}

/// What people read for the reason of a change of a fact EGISSO holds.
pub fn change_reason_label(reason: &str) -> &'static str {
    match reason {
        "mapping" => "изменено сопоставление мер",
        "identity" => "изменены данные гражданина (ФИО, СНИЛС, дата рождения или пол)",
        "execution" => "изменено исполнение",
        "death" => "сведения о смерти",
        _ => "—",
    }
}

#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Mapping {
    pub local_code: String,
    pub lmsz_id: String,
    pub category_id: Option<String>,
    pub osz_code: Option<String>,
    pub updated_at: String,
    pub updated_by: String,
}

/// `egisso:UUID`.
fn is_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `egisso:tParticipantCode`: `[A-HJ-NP-Z0-9]{4}\.\d{6}`.
fn is_participant_code(code: &str) -> bool {
    let b = code.as_bytes();
    b.len() == 11
        && b[..4]
            .iter()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_uppercase() && *c != b'I' && *c != b'O'))
        && b[4] == b'.'
        && b[5..].iter().all(u8::is_ascii_digit)
}

/// What a mapping sends for a measure: the EGISSO measure (LMSZ), the category of recipients, the OSZ code.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Target {
    lmsz_id: String,
    category_id: Option<String>,
    osz_code: Option<String>,
}

impl Target {
    fn of(m: &Mapping) -> Target {
        Target {
            lmsz_id: m.lmsz_id.clone(),
            category_id: m.category_id.clone(),
            osz_code: m.osz_code.clone(),
        }
    }
}

/// A local measure type and its target, checked as EGISSO writes them; when a list of LMSZ (or of
/// categories) is loaded, the measure (or category) must be one of it.
async fn checked_target(
    app: &App,
    local_code: &str,
    lmsz_id: &str,
    category_id: Option<&str>,
    osz_code: Option<&str>,
) -> Result<Target> {
    let (local_code, lmsz_id) = (local_code.trim(), lmsz_id.trim().to_lowercase());
    let category_id = category_id
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_lowercase);
    let osz_code = osz_code.map(str::trim).filter(|c| !c.is_empty());
    if local_code.is_empty() {
        return Err(crate::refusal::invalid(
            "local_code",
            "укажите местный вид мероприятия (код категории мероприятия ИПРА)",
        ));
    }
    if lmsz_id.is_empty() {
        return Err(crate::refusal::invalid(
            "lmsz_id",
            "укажите идентификатор меры ЕГИССО (LMSZ)",
        ));
    }
    if !is_uuid(&lmsz_id) {
        return Err(crate::refusal::invalid(
            "lmsz_id",
            format!("идентификатор меры ЕГИССО «{lmsz_id}» должен быть UUID (например, 5f1d3b8e-4c1a-4b7e-9d7a-2f6e8c9a1b23)"),
        ));
    }
    if let Some(category) = &category_id {
        if !is_uuid(category) {
            return Err(crate::refusal::invalid(
                "category_id",
                format!("идентификатор категории получателей «{category}» должен быть UUID"),
            ));
        }
    }
    if let Some(osz) = osz_code {
        if !is_participant_code(osz) {
            return Err(crate::refusal::invalid(
                "osz_code",
                format!("код ОСЗ «{osz}» должен иметь вид NNNN.NNNNNN"),
            ));
        }
    }
    let loaded = nsi(app).await?;
    let known = |entries: &[Entry], code: &str| entries.iter().any(|e| e.code.eq_ignore_ascii_case(code));
    if !loaded.lmsz.is_empty() && !known(&loaded.lmsz, &lmsz_id) {
        return Err(crate::refusal::invalid(
            "lmsz_id",
            format!(
                "мера {lmsz_id} не найдена в загруженном справочнике ЛМСЗ ({}): загрузите его новую версию или выберите меру из него",
                loaded.lmsz_list.as_deref().unwrap_or_default()
            ),
        ));
    }
    if let Some(category) = &category_id {
        if !loaded.categories.is_empty() && !known(&loaded.categories, category) {
            return Err(crate::refusal::invalid(
                "category_id",
                format!(
                    "категория {category} не найдена в загруженном справочнике категорий ({})",
                    loaded.categories_list.as_deref().unwrap_or_default()
                ),
            ));
        }
    }
    Ok(Target {
        lmsz_id,
        category_id,
        osz_code: osz_code.map(str::to_string),
    })
}

/// What a change of a mapping does to the facts EGISSO holds (accepted, or sent and not answered yet):
/// how many the next upload corrects (sent again under the new measure) and cancels (no mapping left).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MappingEffect {
    pub corrections: i64,
    pub cancellations: i64,
}

impl MappingEffect {
    /// What people read before they confirm.
    pub fn describe(&self) -> String {
        match (self.corrections, self.cancellations) {
            (0, 0) => "фактов, уже переданных в ЕГИССО, изменение не затрагивает".into(),
            (n, 0) => format!("будет исправлено фактов, уже переданных в ЕГИССО: {n} (изменено сопоставление мер)"),
            (0, n) => format!("будет аннулировано фактов, уже переданных в ЕГИССО: {n} (мера больше не сопоставлена)"),
            (n, m) => format!(
                "будет исправлено фактов, уже переданных в ЕГИССО: {n}, аннулировано: {m} (изменено сопоставление мер)"
            ),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.corrections == 0 && self.cancellations == 0
    }
}

/// Facts EGISSO holds or is being sent (what a change of their mapping corrects).
const HELD: &str = "status IN ('accepted', 'sent') AND operation <> 'invalidation'";

/// The facts sent under one mapping (`mapping_code`), and of them only those of one measure code when
/// a mapping of that exact type takes them over from its category's.
#[derive(Clone, Debug)]
struct Group {
    mapping_code: String,
    measure_code: Option<String>,
    old: Option<Target>,
    new: Option<Target>,
}

impl Group {
    fn count_sql(&self) -> String {
        match self.measure_code {
            None => format!("SELECT COUNT(*) AS n FROM egisso_facts WHERE mapping_code = $1 AND {HELD}"),
            Some(_) => format!(
                "SELECT COUNT(*) AS n FROM egisso_facts f JOIN execution_records e ON e.id = f.execution_id \
                 JOIN measures m ON m.id = e.measure_id WHERE f.mapping_code = $1 AND COALESCE(m.code, '') = $2 AND f.{}",
                HELD.replace(" AND operation", " AND f.operation")
            ),
        }
    }

    fn mark_sql(&self) -> &'static str {
        match self.measure_code {
            None => "UPDATE egisso_facts SET changed = changed + 1, change_reason = 'mapping' WHERE mapping_code = $1",
            Some(_) => {
                "UPDATE egisso_facts SET changed = changed + 1, change_reason = 'mapping' WHERE id IN \
                 (SELECT f.id FROM egisso_facts f JOIN execution_records e ON e.id = f.execution_id \
                 JOIN measures m ON m.id = e.measure_id WHERE f.mapping_code = $1 AND COALESCE(m.code, '') = $2)"
            }
        }
    }

    fn args(&self) -> Vec<crate::plans::Arg> {
        let mut args = vec![crate::plans::Arg::Text(self.mapping_code.clone())];
        args.extend(self.measure_code.clone().map(crate::plans::Arg::Text));
        args
    }
}

/// The groups of facts a change of the mapping `local_code` to `new` (`None`: deleted) moves.
fn groups(current: &HashMap<String, Mapping>, local_code: &str, new: Option<&Target>) -> Vec<Group> {
    let specific = local_code.split_once(':');
    let category = specific.and_then(|(category, _)| current.get(category)).map(Target::of);
    let mut out = vec![Group {
        mapping_code: local_code.to_string(),
        measure_code: None,
        old: current.get(local_code).map(Target::of),
        // Deleted, the facts of an exact type fall back to their category's mapping.
        new: new.cloned().or_else(|| category.clone()),
    }];
    if let (Some((category_code, code)), Some(new), Some(old)) = (specific, new, category) {
        out.push(Group {
            mapping_code: category_code.to_string(),
            measure_code: Some(code.to_string()),
            old: Some(old),
            new: Some(new.clone()),
        });
    }
    out
}

async fn current_mappings(conn: &mut sqlx::AnyConnection) -> Result<HashMap<String, Mapping>> {
    sqlx::query("SELECT * FROM egisso_mappings")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Mapping::from_row(r).map(|m| (m.local_code.clone(), m)))
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// What the groups' change does, counted through `egisso_facts_mapping`.
async fn effect_of(conn: &mut sqlx::AnyConnection, groups: &[Group]) -> Result<MappingEffect> {
    let mut out = MappingEffect::default();
    for g in groups.iter().filter(|g| g.old != g.new) {
        let sql = g.count_sql();
        let mut q = sqlx::query(&sql).bind(&g.mapping_code);
        if let Some(code) = &g.measure_code {
            q = q.bind(code);
        }
        let n: i64 = q.fetch_one(&mut *conn).await?.try_get("n")?;
        match g.new {
            Some(_) => out.corrections += n,
            None => out.cancellations += n,
        }
    }
    Ok(out)
}

/// The facts the groups' change moves are marked changed (the next upload corrects or cancels them),
/// and the executions parked for want of a mapping of the category are woken.
async fn apply_groups(conn: &mut sqlx::AnyConnection, local_code: &str, groups: &[Group]) -> Result<()> {
    for g in groups.iter().filter(|g| g.old != g.new) {
        let mut q = sqlx::query(g.mark_sql()).bind(&g.mapping_code);
        if let Some(code) = &g.measure_code {
            q = q.bind(code);
        }
        q.execute(&mut *conn).await?;
    }
    let category = local_code.split(':').next().unwrap_or(local_code);
    sqlx::query(UNPARK_SQL).bind(category).execute(&mut *conn).await?;
    Ok(())
}

const UNPARK_SQL: &str = "UPDATE egisso_pending SET parked = NULL WHERE parked = $1";

/// What mapping `local_code` to the given measure (`lmsz_id` `None`: deleting the mapping) would do to
/// the facts already sent, before a person confirms. The values are checked as [`set_mapping`] checks them.
pub async fn mapping_effect(
    app: &App,
    local_code: &str,
    lmsz_id: Option<&str>,
    category_id: Option<&str>,
    osz_code: Option<&str>,
) -> Result<MappingEffect> {
    let target = match lmsz_id {
        Some(lmsz) => Some(checked_target(app, local_code, lmsz, category_id, osz_code).await?),
        None => None,
    };
    let mut conn = app.db.pool.acquire().await?;
    let current = current_mappings(&mut conn).await?;
    let local_code = local_code.trim();
    if target.is_none() && !current.contains_key(local_code) {
        return Err(crate::refusal::not_found(format!(
            "сопоставление вида мероприятия «{local_code}» не найдено"
        )));
    }
    effect_of(&mut conn, &groups(&current, local_code, target.as_ref())).await
}

/// Maps a local measure type (`category_code` of a measure, or `category_code:code`) to EGISSO (the
/// values checked by [`checked_target`]). The facts already sent under the mapping it replaces are marked
/// changed in the same transaction, so that the next upload corrects them; returns how many.
pub async fn set_mapping(
    app: &App,
    local_code: &str,
    lmsz_id: &str,
    category_id: Option<&str>,
    osz_code: Option<&str>,
    actor: &str,
) -> Result<MappingEffect> {
    let target = checked_target(app, local_code, lmsz_id, category_id, osz_code).await?;
    let local_code = local_code.trim();
    let mut tx = app.db.pool.begin().await?;
    let current = current_mappings(&mut tx).await?;
    let groups = groups(&current, local_code, Some(&target));
    let effect = effect_of(&mut tx, &groups).await?;
    sqlx::query(
        "INSERT INTO egisso_mappings (local_code, lmsz_id, category_id, osz_code, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (local_code) DO UPDATE SET lmsz_id = excluded.lmsz_id, category_id = excluded.category_id, \
         osz_code = excluded.osz_code, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
    )
    .bind(local_code)
    .bind(&target.lmsz_id)
    .bind(target.category_id.as_deref())
    .bind(target.osz_code.as_deref())
    .bind(now())
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    apply_groups(&mut tx, local_code, &groups).await?;
    tx.commit().await?;
    crate::audit::record(
        &app.db,
        actor,
        "egisso.mapping",
        &format!("egisso:{local_code}"),
        Some(&format!(
            "{}; исправляется фактов: {}, аннулируется: {}",
            target.lmsz_id, effect.corrections, effect.cancellations
        )),
    )
    .await?;
    Ok(effect)
}

/// Removes the mapping of a local measure type: its executions are no longer uploaded, and the facts
/// already sent under it are cancelled by the next upload (or corrected, when the mapping of their
/// category covers them); returns how many.
pub async fn delete_mapping(app: &App, local_code: &str, actor: &str) -> Result<MappingEffect> {
    let mut tx = app.db.pool.begin().await?;
    let current = current_mappings(&mut tx).await?;
    let groups = groups(&current, local_code, None);
    let effect = effect_of(&mut tx, &groups).await?;
    let removed = sqlx::query("DELETE FROM egisso_mappings WHERE local_code = $1")
        .bind(local_code)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(crate::refusal::not_found(format!(
            "сопоставление вида мероприятия «{local_code}» не найдено"
        )));
    }
    apply_groups(&mut tx, local_code, &groups).await?;
    tx.commit().await?;
    crate::audit::record(
        &app.db,
        actor,
        "egisso.mapping.delete",
        &format!("egisso:{local_code}"),
        Some(&format!(
            "исправляется фактов: {}, аннулируется: {}",
            effect.corrections, effect.cancellations
        )),
    )
    .await?;
    Ok(effect)
}

/// Every mapping (a table of the region's measure types: tens of rows).
pub async fn mappings(app: &App) -> Result<Vec<Mapping>> {
    sqlx::query("SELECT * FROM egisso_mappings ORDER BY local_code")
        .fetch_all(&app.db.pool)
        .await?
        .iter()
        .map(Mapping::from_row)
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

/// The EGISSO reference lists loaded through the connector (`egisso-…`): the local measures (LMSZ) and
/// the categories of recipients, the suggestions of the mapping editor.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Nsi {
    pub lmsz: Vec<Entry>,
    pub lmsz_list: Option<String>,
    pub categories: Vec<Entry>,
    pub categories_list: Option<String>,
}

/// The current LMSZ and category lists: the lists the connector that writes facts delivered
/// (`<connector>-…`) whose id says `lmsz`, or `categor`.
pub async fn nsi(app: &App) -> Result<Nsi> {
    let Ok(connector) = app.plugins.connector_writing("facts") else {
        return Ok(Nsi::default());
    };
    let prefix = format!("{}-", connector.id());
    let mut ids: Vec<String> = crate::register::reference::versions(&app.db, None)
        .await?
        .into_iter()
        .map(|v| v.list_id)
        .filter(|id| id.starts_with(&prefix))
        .collect();
    ids.dedup();
    let reference = app.reference();
    let mut out = Nsi::default();
    for id in ids {
        let entries = reference.list(&id).to_vec();
        if id.contains("lmsz") && out.lmsz_list.is_none() {
            out.lmsz = entries;
            out.lmsz_list = Some(id);
        } else if id.contains("categor") && out.categories_list.is_none() {
            out.categories = entries;
            out.categories_list = Some(id);
        }
    }
    Ok(out)
}

/// A fact as the lists show it.
#[derive(Clone, Debug, Serialize)]
pub struct FactView {
    pub id: i64,
    pub execution_id: i64,
    pub status: String,
    pub operation: String,
    pub fact_uuid: Option<String>,
    pub event_uuid: Option<String>,
    /// The data file it went in last.
    pub document_name: Option<String>,
    /// EGISSO's reason of a rejection (or the warnings of an acceptance).
    pub reason: Option<String>,
    pub rule_code: Option<String>,
    /// The execution or the death changed since: the next upload looks at it.
    pub changed: bool,
    /// Why it was last marked changed (`execution`, `death`, `identity`, `mapping`): what its last
    /// correction (or the one under way) is about; see [`change_reason_label`].
    pub change_reason: Option<String>,
    pub ipra_id: i64,
    pub ipra_number: String,
    pub snils: String,
    pub full_name: String,
    pub measure_name: String,
    pub execution_date: Option<String>,
    pub created_at: String,
    pub updated_at: Option<String>,
    pub answered_at: Option<String>,
}

const VIEW_SQL: &str = "SELECT f.id, f.execution_id, f.status, f.operation, f.fact_uuid, f.event_uuid, f.error, f.rule_code, \
     f.changed, f.change_reason, f.created_at, f.updated_at, f.answered_at, pk.document_name, e.measure_name, e.execution_date, \
     i.id AS ipra_id, i.number AS ipra_number, p.snils, p.surname, p.given_name, p.patronymic \
     FROM egisso_facts f LEFT JOIN egisso_packages pk ON pk.id = f.package_ref \
     JOIN execution_records e ON e.id = f.execution_id JOIN ipras i ON i.id = e.ipra_id JOIN persons p ON p.id = i.person_id";

fn view_of(r: &sqlx::any::AnyRow) -> Result<FactView> {
    let name = [
        Some(r.try_get::<String, _>("surname")?),
        Some(r.try_get::<String, _>("given_name")?),
        opt_text(r, "patronymic"),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    Ok(FactView {
        id: r.try_get("id")?,
        execution_id: r.try_get("execution_id")?,
        status: r.try_get("status")?,
        operation: r.try_get("operation")?,
        fact_uuid: opt_text(r, "fact_uuid"),
        event_uuid: opt_text(r, "event_uuid"),
        document_name: opt_text(r, "document_name"),
        reason: opt_text(r, "error"),
        rule_code: opt_text(r, "rule_code"),
        changed: r.try_get::<i64, _>("changed")? > 0,
        change_reason: opt_text(r, "change_reason"),
        ipra_id: r.try_get("ipra_id")?,
        ipra_number: r.try_get("ipra_number")?,
        snils: r.try_get("snils")?,
        full_name: name,
        measure_name: r.try_get("measure_name")?,
        execution_date: opt_text(r, "execution_date"),
        created_at: r.try_get("created_at")?,
        updated_at: opt_text(r, "updated_at"),
        answered_at: opt_text(r, "answered_at"),
    })
}

/// A page of facts, newest first (`status`: only those), below the id `before`: the ids through the
/// index of the status, then the page's rows by their keys.
pub async fn facts_page(
    db: &Db,
    status: Option<&str>,
    before: Option<i64>,
    limit: u32,
) -> Result<crate::paging::Page<FactView>> {
    let mut q = crate::paging::PageQuery {
        table: "egisso_facts",
        columns: "id",
        conditions: Vec::new(),
        binds: Vec::new(),
        index: None,
    };
    if let Some(s) = status.filter(|s| !s.is_empty()) {
        if !STATUSES.contains(&s) {
            return Err(crate::refusal::invalid(
                "status",
                format!("статус факта «{s}» не известен (queued, sent, accepted, rejected, cancelled)"),
            ));
        }
        q.filter("status = ?", s);
        q.index = Some("egisso_facts_status");
    }
    let page = crate::paging::newest_first(db, &q, before, limit).await?;
    let ids: Vec<i64> = page
        .items
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<_, _>>()?;
    let mut items = views(db, &ids).await?;
    items.sort_by_key(|f| std::cmp::Reverse(f.id));
    Ok(page.map_items(items))
}

async fn views(db: &Db, ids: &[i64]) -> Result<Vec<FactView>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!("{VIEW_SQL} WHERE f.id IN ({})", list.join(", "));
    crate::plans::record(&sql, Vec::new());
    sqlx::query(&sql)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(view_of)
        .collect()
}

/// One fact, or `None`.
pub async fn fact(db: &Db, id: i64) -> Result<Option<FactView>> {
    Ok(views(db, &[id]).await?.into_iter().next())
}

/// Facts by status, each counted up to [`crate::paging::COUNT_CAP`] (through the status index).
pub async fn counts(db: &Db) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for status in STATUSES {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM (SELECT 1 FROM egisso_facts WHERE status = $1 LIMIT {}) t",
            crate::paging::COUNT_CAP + 1
        );
        crate::plans::record(&sql, [crate::plans::Arg::Text(status.into())]);
        let n: i64 = sqlx::query(&sql).bind(status).fetch_one(&db.pool).await?.try_get("n")?;
        out.push((status.to_string(), n));
    }
    Ok(out)
}

/// A person corrected what EGISSO refused (the execution, the mapping, the person's data) and sends the
/// fact again: it waits for the next upload, which reads the corrected data; a new fact keeps its uuid.
pub async fn resend(app: &App, id: i64, actor: &str) -> Result<()> {
    let row = sqlx::query("SELECT status, operation FROM egisso_facts WHERE id = $1")
        .bind(id)
        .fetch_optional(&app.db.pool)
        .await?
        .ok_or_else(|| crate::refusal::not_found(format!("факт ЕГИССО {id} не найден")))?;
    let status: String = row.try_get("status")?;
    if status != "rejected" {
        return Err(crate::refusal::conflict(format!(
            "факт ЕГИССО {id} {}: повторно отправляется только отклонённый факт",
            status_label(&status)
        )));
    }
    let changed = sqlx::query(
        "UPDATE egisso_facts SET status = 'queued', package_ref = NULL, updated_at = $1 WHERE id = $2 AND status = 'rejected'",
    )
    .bind(now())
    .bind(id)
    .execute(&app.db.pool)
    .await?
    .rows_affected();
    if changed != 1 {
        return Err(crate::refusal::conflict(format!(
            "факт ЕГИССО {id} изменился: обновите страницу"
        )));
    }
    crate::audit::record(
        &app.db,
        actor,
        "egisso.resend",
        &format!("assignment-fact:{id}"),
        Some(row.try_get::<String, _>("operation")?.as_str()),
    )
    .await
}

// The upload.

/// What a fact becomes in a package.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Fact,
    Correction,
    Termination,
    Invalidation,
}

impl Operation {
    fn code(self) -> &'static str {
        match self {
            Operation::Fact => "fact",
            Operation::Correction => "correction",
            Operation::Termination => "termination",
            Operation::Invalidation => "invalidation",
        }
    }

    fn of(code: &str) -> Operation {
        match code {
            "correction" => Operation::Correction,
            "termination" => Operation::Termination,
            "invalidation" => Operation::Invalidation,
            _ => Operation::Fact,
        }
    }
}

/// The uuid of a fact: the first one of an execution is named as the connector always named it.
fn fact_uuid_of(execution_id: i64, generation: i64) -> String {
    match generation {
        0 => uuid::v5(&format!("urn:ipra:egisso:fact:ipra-execution-{execution_id}")),
        n => uuid::v5(&format!("urn:ipra:egisso:fact:ipra-execution-{execution_id}:{n}")),
    }
}

fn event_uuid_of(fact_uuid: &str, seq: i64) -> String {
    uuid::v5(&format!("urn:ipra:egisso:event:{fact_uuid}:{seq}"))
}

/// Everything a fact is made of: its execution, IPRA, person and the mapping of its measure type.
#[derive(Clone, Debug)]
struct Source {
    execution_id: i64,
    /// When the execution record last changed: a new fact is stored as changed if it changed again
    /// before the package was committed.
    updated_at: String,
    /// Reported as executed: a fact of assignment.
    eligible: bool,
    section: String,
    execution_date: Option<String>,
    measure_name: String,
    category_code: Option<String>,
    decision_date: Option<String>,
    valid_until: Option<String>,
    ipra_number: String,
    person: model::Person,
    /// A full date of death (`YYYY-MM-DD`).
    death_date: Option<String>,
    mapping: Option<Mapping>,
}

impl Source {
    /// EGISSO is to hold a fact of it: executed and its measure type mapped.
    fn counts(&self) -> bool {
        self.eligible && self.mapping.is_some()
    }

    /// The person as EGISSO identifies the recipient: SNILS, name, birth date, gender.
    fn identity(&self) -> String {
        let p = &self.person;
        format!(
            "{}|{}|{}|{}|{}|{}",
            p.snils,
            p.surname,
            p.given_name,
            p.patronymic.as_deref().unwrap_or_default(),
            p.birth_date.as_deref().unwrap_or_default(),
            p.gender.as_deref().unwrap_or_default()
        )
    }

    fn decision(&self) -> String {
        self.decision_date
            .clone()
            .or_else(|| self.execution_date.clone())
            .unwrap_or_default()
    }

    /// The end of the assignment: the IPRA's term, or the death when it came first.
    fn end(&self) -> Option<String> {
        match (&self.valid_until, &self.death_date) {
            (Some(until), Some(death)) if death < until => Some(death.clone()),
            (None, Some(death)) => Some(death.clone()),
            (until, _) => until.clone(),
        }
    }

    /// What EGISSO is to hold of the fact: compared with `sent_state` to find what changed.
    fn base_state(&self) -> String {
        let m = self.mapping.as_ref();
        format!(
            "{}|{}|{}|{}|{}|{}",
            self.decision(),
            self.execution_date.as_deref().unwrap_or_default(),
            self.valid_until.as_deref().unwrap_or_default(),
            m.map(|m| m.lmsz_id.as_str()).unwrap_or_default(),
            m.and_then(|m| m.category_id.as_deref()).unwrap_or_default(),
            m.and_then(|m| m.osz_code.as_deref()).unwrap_or_default(),
        )
    }

    /// What EGISSO holds: the assignment, the recipient (`who:`) and the death that ended it (`died:`).
    fn state(&self) -> String {
        let held = format!("{}|who:{}", self.base_state(), self.identity());
        match &self.death_date {
            Some(death) => format!("{held}|died:{death}"),
            None => held,
        }
    }

    fn fact(&self, op: Operation, fact_uuid: &str, event_uuid: &str) -> model::Fact {
        let attr = |code: &str, value: String| model::Attribute {
            code: code.into(),
            value,
        };
        let mut extra = vec![
            attr("operation", op.code().into()),
            attr("uuid", fact_uuid.into()),
            attr("measureName", self.measure_name.clone()),
            attr("ipraNumber", self.ipra_number.clone()),
        ];
        if op != Operation::Fact {
            extra.push(attr("eventUuid", event_uuid.into()));
        }
        if let Some(m) = &self.mapping {
            extra.push(attr("lmszId", m.lmsz_id.clone()));
            extra.extend(m.category_id.clone().map(|c| attr("categoryId", c)));
            extra.extend(m.osz_code.clone().map(|c| attr("oszCode", c)));
        }
        model::Fact {
            fact_id: format!("ipra-execution-{}", self.execution_id),
            person: self.person.clone(),
            measure_code: self.category_code.clone().unwrap_or_default(),
            decision_date: self.decision(),
            start_date: self.execution_date.clone(),
            end_date: match op {
                Operation::Termination => self.death_date.clone(),
                _ => self.end(),
            },
            extra,
        }
    }
}

/// The sources of the executions `ids`, by execution id.
async fn sources(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Source>> {
    let mut out = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mappings: HashMap<String, Mapping> = sqlx::query("SELECT * FROM egisso_mappings")
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Mapping::from_row(r).map(|m| (m.local_code.clone(), m)))
        .collect::<Result<_, _>>()?;
    for chunk in ids.chunks(500) {
        let list: Vec<String> = chunk.iter().map(i64::to_string).collect();
        let sql = format!(
            "SELECT e.id, e.status, e.result, e.section, e.execution_date, e.measure_name, e.updated_at, i.decision_date, i.valid_until, i.number, \
             p.snils, p.surname, p.given_name, p.patronymic, p.birth_date, p.gender, p.death_date, m.category_code, m.code \
             FROM execution_records e JOIN ipras i ON i.id = e.ipra_id JOIN persons p ON p.id = i.person_id \
             LEFT JOIN measures m ON m.id = e.measure_id WHERE e.id IN ({})",
            list.join(", ")
        );
        for r in sqlx::query(&sql).fetch_all(&db.pool).await? {
            let id: i64 = r.try_get("id")?;
            let category = opt_text(&r, "category_code");
            let code = opt_text(&r, "code");
            // The mapping of the exact type (`category:code`) before that of its category.
            let mapping = category.as_ref().and_then(|c| {
                mappings
                    .get(&format!("{c}:{}", code.as_deref().unwrap_or_default()))
                    .or_else(|| mappings.get(c))
                    .cloned()
            });
            let status: String = r.try_get("status")?;
            let result: String = r.try_get("result")?;
            out.insert(
                id,
                Source {
                    execution_id: id,
                    updated_at: r.try_get("updated_at")?,
                    eligible: status == "reported" && result == "executed",
                    section: r.try_get("section")?,
                    execution_date: opt_text(&r, "execution_date"),
                    measure_name: r.try_get("measure_name")?,
                    category_code: category,
                    decision_date: opt_text(&r, "decision_date"),
                    valid_until: opt_text(&r, "valid_until"),
                    ipra_number: r.try_get("number")?,
                    person: model::Person {
                        snils: r.try_get("snils")?,
                        surname: r.try_get("surname")?,
                        given_name: r.try_get("given_name")?,
                        patronymic: opt_text(&r, "patronymic"),
                        birth_date: opt_text(&r, "birth_date"),
                        gender: opt_text(&r, "gender"),
                        territory_code: None,
                        address: None,
                        extra: Vec::new(),
                    },
                    death_date: opt_text(&r, "death_date").filter(|d| d.len() == 10),
                    mapping,
                },
            );
        }
    }
    Ok(out)
}

/// A fact row as the upload reads it.
#[derive(Clone, Debug)]
struct FactRow {
    id: i64,
    execution_id: i64,
    status: String,
    operation: Operation,
    fact_uuid: Option<String>,
    generation: i64,
    event_seq: i64,
    sent_state: Option<String>,
    changed: i64,
    queued_unbuilt: bool,
    change_reason: Option<String>,
}

fn fact_row(r: &sqlx::any::AnyRow) -> Result<FactRow> {
    let status: String = r.try_get("status")?;
    let package: Option<i64> = r.try_get("package_ref").ok().flatten();
    Ok(FactRow {
        id: r.try_get("id")?,
        execution_id: r.try_get("execution_id")?,
        queued_unbuilt: status == "queued" && package.is_none(),
        status,
        operation: Operation::of(&r.try_get::<String, _>("operation")?),
        fact_uuid: opt_text(r, "fact_uuid"),
        generation: r.try_get("generation")?,
        event_seq: r.try_get("event_seq")?,
        sent_state: opt_text(r, "sent_state"),
        changed: r.try_get("changed")?,
        change_reason: opt_text(r, "change_reason"),
    })
}

/// What to send for a fact EGISSO holds (`held`: what it holds, `None` when not known), or nothing.
/// `identity_changed`: the person's identity changed since — what tells it when EGISSO's state was
/// recorded before the identity was kept in it.
fn change_for(source: &Source, held: Option<&str>, identity_changed: bool) -> Option<Operation> {
    if !source.counts() {
        return Some(Operation::Invalidation);
    }
    let Some(held) = held else {
        // Sent by an earlier release, what EGISSO holds is not known: the fact is sent whole again.
        return Some(Operation::Correction);
    };
    let (held_rest, held_death) = match held.split_once("|died:") {
        Some((rest, death)) => (rest, Some(death)),
        None => (held, None),
    };
    let (held_base, held_who) = match held_rest.split_once("|who:") {
        Some((base, who)) => (base, Some(who)),
        None => (held_rest, None),
    };
    if held_base != source.base_state() {
        return Some(Operation::Correction);
    }
    let identity_differs = match held_who {
        Some(who) => who != source.identity(),
        None => identity_changed,
    };
    if identity_differs {
        return Some(Operation::Correction);
    }
    match (held_death, source.death_date.as_deref()) {
        (None, Some(_)) => Some(Operation::Termination),
        (Some(a), Some(b)) if a != b => Some(Operation::Correction),
        (Some(_), None) => Some(Operation::Correction),
        _ => None,
    }
}

/// What the upload does with a fact.
#[derive(Clone, Debug)]
enum Action {
    /// Into the package.
    Send {
        op: Operation,
        /// The execution record's `updated_at` the fact was made from.
        read_at: String,
        fact_uuid: String,
        generation: i64,
        event_uuid: String,
        event_seq: i64,
        state: String,
        fact: Box<model::Fact>,
    },
    /// Nothing to send: the fact takes this status (or keeps its own), its changes are seen.
    Settle {
        status: Option<&'static str>,
        reason: Option<String>,
        rule_code: Option<String>,
    },
}

#[derive(Clone, Debug)]
struct Item {
    /// `None`: a new fact of the execution.
    row: Option<FactRow>,
    execution_id: i64,
    /// A new fact's row in `egisso_pending` (its `touched`), removed when the fact is stored.
    touched: Option<i64>,
    /// The mapping its measure falls under now (kept on the fact: a change of it finds the fact).
    mapping_code: Option<String>,
    action: Action,
}

impl Item {
    fn describe(&self) -> String {
        let who = match &self.row {
            Some(row) => format!("факт {} (исполнение {})", row.id, self.execution_id),
            None => format!("новый факт исполнения {}", self.execution_id),
        };
        match &self.action {
            Action::Send { op, .. } => format!("{who}: {}", operation_label(op.code())),
            Action::Settle {
                status: Some(status),
                reason,
                ..
            } => format!(
                "{who}: {}{}",
                status_label(status),
                reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default()
            ),
            Action::Settle { status: None, .. } => format!("{who}: отправлять нечего"),
        }
    }
}

fn send(row: Option<&FactRow>, source: &Source, op: Operation) -> Action {
    let generation = row.map_or(0, |r| r.generation);
    let fact_uuid = row
        .and_then(|r| r.fact_uuid.clone())
        .unwrap_or_else(|| fact_uuid_of(source.execution_id, generation));
    let (event_uuid, event_seq) = match op {
        Operation::Fact => (fact_uuid.clone(), row.map_or(0, |r| r.event_seq)),
        _ => {
            let seq = row.map_or(0, |r| r.event_seq) + 1;
            (event_uuid_of(&fact_uuid, seq), seq)
        }
    };
    Action::Send {
        op,
        read_at: source.updated_at.clone(),
        fact: Box::new(source.fact(op, &fact_uuid, &event_uuid)),
        fact_uuid,
        generation,
        event_uuid,
        event_seq,
        state: match op {
            Operation::Invalidation => String::new(),
            _ => source.state(),
        },
    }
}

fn settle(status: Option<&'static str>, reason: Option<&str>) -> Action {
    Action::Settle {
        status,
        reason: reason.map(str::to_string),
        rule_code: None,
    }
}

/// What the upload does with an existing fact, from what it is and what its execution is now.
fn decide(row: &FactRow, source: Option<&Source>) -> Action {
    let Some(source) = source else {
        return settle(
            Some("cancelled"),
            Some("исполнение удалено из реестра: факт не передаётся"),
        );
    };
    let in_egisso = match row.status.as_str() {
        "accepted" => row.operation != Operation::Invalidation,
        "rejected" => row.operation != Operation::Fact,
        "queued" => row.operation != Operation::Fact,
        _ => false,
    };
    if row.status == "cancelled" {
        // An invalidated fact whose execution counts again: a new fact, with a new uuid.
        return if source.counts() {
            let renewed = FactRow {
                fact_uuid: None,
                generation: row.generation + 1,
                event_seq: 0,
                ..row.clone()
            };
            send(Some(&renewed), source, Operation::Fact)
        } else {
            settle(None, None)
        };
    }
    if !in_egisso {
        return match (row.queued_unbuilt, source.counts()) {
            (true, true) => send(Some(row), source, Operation::Fact),
            (true, false) if !source.eligible => settle(
                Some("cancelled"),
                Some("исполнение отозвано до приёма факта ЕГИССО: факт не передаётся"),
            ),
            (true, false) => settle(
                Some("cancelled"),
                Some("вид мероприятия больше не сопоставлен мере ЕГИССО: факт не передаётся"),
            ),
            // A rejected new fact waits for a person to correct it (its execution may be back for
            // correction meanwhile) and send it again, under the same uuid.
            (false, _) => settle(None, None),
        };
    }
    match change_for(
        source,
        row.sent_state.as_deref(),
        row.change_reason.as_deref() == Some("identity"),
    ) {
        Some(op) => {
            if row.status == "rejected" && !row.queued_unbuilt {
                // A rejected change waits for a person; a new change of the execution is sent with it then.
                settle(None, None)
            } else {
                send(Some(row), source, op)
            }
        }
        None => settle(row.queued_unbuilt.then_some("accepted"), None),
    }
}

/// The executions that may need a first fact, in order (`egisso_pending_ready`). Named on SQLite:
/// with the planner's statistics (an `ANALYZE`) of a register whose pending rows wait unparked,
/// it walked the table itself, past every parked row before the first it wants.
fn pending_sql(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => {
            "SELECT execution_id, touched FROM egisso_pending INDEXED BY egisso_pending_ready \
             WHERE parked IS NULL ORDER BY execution_id LIMIT 1000"
        }
        Engine::Postgres => {
            "SELECT execution_id, touched FROM egisso_pending WHERE parked IS NULL ORDER BY execution_id LIMIT 1000"
        }
    }
}
const FACT_COLUMNS: &str =
    "id, execution_id, status, operation, fact_uuid, generation, event_seq, sent_state, changed, package_ref, change_reason";

/// Facts waiting for the upload: sent again by a person, or queued by an earlier release.
fn waiting_sql() -> String {
    format!(
        "SELECT {FACT_COLUMNS} FROM egisso_facts WHERE status = 'queued' AND package_ref IS NULL ORDER BY id LIMIT {MAX_PER_PACKAGE}"
    )
}

/// Facts whose execution, person or mapping changed. Facts under way (in a package not answered yet)
/// keep their changes for after the answer.
fn changed_sql() -> String {
    format!(
        "SELECT {FACT_COLUMNS} FROM egisso_facts WHERE changed > 0 AND status IN ('accepted', 'rejected', 'cancelled') \
         ORDER BY id LIMIT {MAX_PER_PACKAGE}"
    )
}

/// Of the executions `ids`, those with a fact already.
fn with_facts_sql(ids: &[i64]) -> String {
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    format!(
        "SELECT execution_id FROM egisso_facts WHERE execution_id IN ({})",
        list.join(", ")
    )
}

/// The statements that select an upload's work, with representative values: `ipra bench plans`
/// explains them with the pages' statements, so that one reading a large table whole fails the check.
pub fn selection_statements(engine: Engine) -> Vec<crate::plans::Recorded> {
    use crate::plans::{Arg, Recorded};
    let at = |sql: String, args: Vec<Arg>| Recorded {
        context: "facts upload: selection".into(),
        sql,
        args,
    };
    let category = "MSE.IPRA.SOCIAL.EVENT".to_string();
    let exact = Group {
        mapping_code: category.clone(),
        measure_code: Some("1".into()),
        old: None,
        new: None,
    };
    let whole = Group {
        measure_code: None,
        ..exact.clone()
    };
    vec![
        at(pending_sql(engine).into(), Vec::new()),
        at(waiting_sql(), Vec::new()),
        at(changed_sql(), Vec::new()),
        at(with_facts_sql(&[1, 2]), Vec::new()),
        at(whole.count_sql(), whole.args()),
        at(exact.count_sql(), exact.args()),
        at(whole.mark_sql().into(), whole.args()),
        at(exact.mark_sql().into(), exact.args()),
        at(UNPARK_SQL.into(), vec![Arg::Text(category)]),
    ]
}

/// What the upload does with an execution waiting in `egisso_pending` that gets no fact now.
#[derive(Clone, Debug)]
struct Pending {
    execution_id: i64,
    touched: i64,
    /// Kept, under this category, until a mapping of it; `None`: it leaves (a fact, or nothing to send
    /// until it changes again, which puts it back).
    park: Option<String>,
}

/// What the next upload does: the facts, and the pending executions that get none.
#[derive(Clone, Debug, Default)]
struct Plan {
    items: Vec<Item>,
    pending: Vec<Pending>,
}

/// The facts the next upload looks at: executions pending a first fact, facts waiting for the upload
/// (sent again, or a change), facts whose execution, person or mapping changed (each bounded by
/// [`MAX_PER_PACKAGE`], each read through its index: see the module's header).
async fn plan(app: &App) -> Result<Plan> {
    let db = &app.db;
    let pending: Vec<(i64, i64)> = sqlx::query(pending_sql(db.engine))
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("execution_id")?, r.try_get("touched")?)))
        .collect::<Result<_>>()?;
    let mut with_facts = std::collections::HashSet::new();
    if !pending.is_empty() {
        let ids: Vec<i64> = pending.iter().map(|p| p.0).collect();
        for r in sqlx::query(&with_facts_sql(&ids)).fetch_all(&db.pool).await? {
            with_facts.insert(r.try_get::<i64, _>("execution_id")?);
        }
    }
    let waiting = sqlx::query(&waiting_sql()).fetch_all(&db.pool).await?;
    let changed = sqlx::query(&changed_sql()).fetch_all(&db.pool).await?;
    let mut rows: Vec<FactRow> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for r in waiting.iter().chain(changed.iter()) {
        let row = fact_row(r)?;
        if seen.insert(row.id) {
            rows.push(row);
        }
    }
    let mut ids: Vec<i64> = pending.iter().map(|p| p.0).collect();
    ids.extend(rows.iter().map(|r| r.execution_id));
    ids.sort_unstable();
    ids.dedup();
    let sources = sources(db, &ids).await?;
    let mut out = Plan::default();
    for (id, touched) in pending {
        let source = sources.get(&id).filter(|_| !with_facts.contains(&id));
        let ready = source.filter(|s| {
            s.eligible && s.section == "social-protection" && s.person.birth_date.is_some() && s.person.gender.is_some()
        });
        match ready {
            Some(source) if source.mapping.is_some() => out.items.push(Item {
                row: None,
                execution_id: id,
                touched: Some(touched),
                mapping_code: source.mapping.as_ref().map(|m| m.local_code.clone()),
                action: send(None, source, Operation::Fact),
            }),
            ready => out.pending.push(Pending {
                execution_id: id,
                touched,
                park: ready.and_then(|s| s.category_code.clone()),
            }),
        }
    }
    for row in rows {
        let source = sources.get(&row.execution_id);
        let action = decide(&row, source);
        out.items.push(Item {
            execution_id: row.execution_id,
            row: Some(row),
            touched: None,
            mapping_code: source.and_then(|s| s.mapping.as_ref()).map(|m| m.local_code.clone()),
            action,
        });
    }
    // At most one package a run: what is left goes in the next (pending executions stay pending).
    let mut sends = 0;
    out.items.retain(|i| match i.action {
        Action::Send { .. } => {
            sends += 1;
            sends <= MAX_PER_PACKAGE
        }
        Action::Settle { .. } => true,
    });
    Ok(out)
}

/// What an upload did (or, dry, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Upload {
    /// Facts in the package.
    pub facts: u64,
    /// Of them: corrections, terminations, invalidations.
    pub corrections: u64,
    pub terminations: u64,
    pub invalidations: u64,
    /// Facts the connector refused (rejected here with its reason, not sent).
    pub refused: u64,
    /// Facts settled without sending (nothing changed for EGISSO, cancelled before they were accepted).
    pub settled: u64,
    /// The package's data file, when there is one.
    pub document: Option<String>,
    /// The outgoing message, when queued.
    pub message_id: Option<i64>,
    pub lines: Vec<String>,
}

fn random_package_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("нет источника случайных чисел: {e}"))?;
    Ok(uuid::v5(&format!("urn:ipra:egisso:package:{}", hex::encode(bytes))))
}

/// Plans the next package, has the connector write it (a fact it refuses is rejected here with its
/// reason and left out, the rest go on), and — unless dry — queues it with the state of every fact in
/// one transaction. Delivery is the caller's (the exchange's outbox).
pub async fn upload(app: &App, plugin: &Arc<LoadedPlugin>, connector: &str, dry_run: bool) -> Result<Upload> {
    let Plan { mut items, pending } = plan(app).await?;
    let mut out = Upload::default();
    let package_id = random_package_id()?;
    let mut documents = Vec::new();
    // Each refusal of the connector names a fact; it is taken out and the rest written again.
    for _ in 0..=MAX_PER_PACKAGE {
        let facts: Vec<model::Fact> = items
            .iter()
            .filter_map(|i| match &i.action {
                Action::Send { fact, .. } => Some((**fact).clone()),
                Action::Settle { .. } => None,
            })
            .collect();
        if facts.is_empty() {
            break;
        }
        let input = model::ExportInput::Facts(model::FactBatch {
            package_id: package_id.clone(),
            facts,
            extra: Vec::new(),
        });
        match app
            .plugins
            .call_async(plugin.clone(), move |host, p| host.export(p, input))
            .await
        {
            Ok(Ok(docs)) => {
                documents = docs;
                break;
            }
            Ok(Err(e)) => {
                let named = e.record.as_deref().and_then(|record| {
                    items
                        .iter()
                        .position(|i| matches!(&i.action, Action::Send { fact, .. } if fact.fact_id == record))
                });
                let Some(at) = named else {
                    bail!("коннектор ЕГИССО не выгрузил факты: {} ({})", e.message, e.code);
                };
                // The message of the first refusal counts the others: each is named when its turn comes.
                let reason = e.message.split("; ещё фактов с ошибками").next().unwrap_or(&e.message);
                items[at].action = Action::Settle {
                    status: Some("rejected"),
                    reason: Some(format!(
                        "не выгружен: {reason}{}",
                        e.field.as_deref().map(|f| format!(" (поле {f})")).unwrap_or_default()
                    )),
                    rule_code: Some(e.code.clone()),
                };
                out.refused += 1;
            }
            Err(call) => bail!("{call}"),
        }
    }
    if documents.len() > 1 {
        bail!(
            "коннектор ЕГИССО разбил {} фактов на {} пакетов: ожидается один",
            MAX_PER_PACKAGE,
            documents.len()
        );
    }
    for item in &items {
        match &item.action {
            Action::Send { op, .. } => {
                out.facts += 1;
                match op {
                    Operation::Correction => out.corrections += 1,
                    Operation::Termination => out.terminations += 1,
                    Operation::Invalidation => out.invalidations += 1,
                    Operation::Fact => {}
                }
            }
            Action::Settle { status, .. } => {
                if status.is_some_and(|s| s != "rejected") {
                    out.settled += 1;
                }
            }
        }
        let visible = match &item.action {
            Action::Send { .. } => dry_run,
            Action::Settle { status, .. } => status.is_some(),
        };
        if visible {
            out.lines.push(item.describe());
        }
    }
    out.document = documents.first().map(|d| d.name.clone());
    if dry_run {
        if let Some(name) = &out.document {
            out.lines.insert(0, format!("выгрузить {name} (фактов: {})", out.facts));
        }
        return Ok(out);
    }
    out.message_id = store_upload(app, connector, &package_id, documents.first(), &items, &pending).await?;
    if let Some(name) = &out.document {
        out.lines
            .insert(0, format!("в очереди на отправку {name} (фактов: {})", out.facts));
    }
    Ok(out)
}

/// The package, its message, every fact's new state and what leaves `egisso_pending`, in one transaction.
async fn store_upload(
    app: &App,
    connector: &str,
    package_id: &str,
    document: Option<&model::Document>,
    items: &[Item],
    pending: &[Pending],
) -> Result<Option<i64>> {
    let at = now();
    let mut tx = app.db.pool.begin().await?;
    let mut package = None;
    if let Some(doc) = document {
        let sends = items.iter().filter(|i| matches!(i.action, Action::Send { .. })).count() as i64;
        let id: i64 = sqlx::query(
            "INSERT INTO egisso_packages (connector, document_name, package_uuid, status, facts, created_at) \
             VALUES ($1, $2, $3, 'queued', $4, $5) RETURNING id",
        )
        .bind(connector)
        .bind(&doc.name)
        .bind(package_id)
        .bind(sends)
        .bind(&at)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        let message = crate::exchange::queue_outgoing_in(&mut tx, connector, "facts", &doc.name, &doc.bytes).await?;
        sqlx::query("UPDATE egisso_packages SET message_id = $1 WHERE id = $2")
            .bind(message)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        package = Some((id, message));
    }
    for item in items {
        // A change that came in while the package was written stays counted for the next upload.
        let seen = item.row.as_ref().map_or(0, |r| r.changed);
        match (&item.action, &item.row) {
            (Action::Send { .. }, _) if package.is_none() => bail!("факты без пакета: коннектор не вернул документ"),
            (
                Action::Send {
                    op,
                    read_at,
                    fact_uuid,
                    generation,
                    event_uuid,
                    event_seq,
                    state,
                    ..
                },
                row,
            ) => {
                let (package_ref, message) = package.expect("checked above");
                match row {
                    None => {
                        // A change of the execution after it was read is not lost: the fact starts changed.
                        sqlx::query(
                            "INSERT INTO egisso_facts (execution_id, message_id, status, created_at, fact_uuid, generation, operation, \
                             event_uuid, event_seq, package_ref, pending_state, updated_at, changed, mapping_code) \
                             VALUES ($1, $2, 'queued', $3, $4, $5, $6, $7, $8, $9, $10, $3, \
                             CASE WHEN (SELECT e.updated_at FROM execution_records e WHERE e.id = $1) = $11 THEN 0 ELSE 1 END, $12)",
                        )
                        .bind(item.execution_id)
                        .bind(message)
                        .bind(&at)
                        .bind(fact_uuid)
                        .bind(generation)
                        .bind(op.code())
                        .bind(event_uuid)
                        .bind(event_seq)
                        .bind(package_ref)
                        .bind(state)
                        .bind(read_at)
                        .bind(item.mapping_code.as_deref())
                        .execute(&mut *tx)
                        .await?;
                    }
                    Some(row) => {
                        sqlx::query(
                            "UPDATE egisso_facts SET status = 'queued', message_id = $1, fact_uuid = $2, generation = $3, operation = $4, \
                             event_uuid = $5, event_seq = $6, package_ref = $7, pending_state = $8, error = NULL, rule_code = NULL, \
                             changed = CASE WHEN changed = $9 THEN 0 ELSE changed END, updated_at = $10, \
                             mapping_code = COALESCE($12, mapping_code), change_reason = CASE WHEN $4 = 'fact' THEN NULL ELSE change_reason END \
                             WHERE id = $11",
                        )
                        .bind(message)
                        .bind(fact_uuid)
                        .bind(generation)
                        .bind(op.code())
                        .bind(event_uuid)
                        .bind(event_seq)
                        .bind(package_ref)
                        .bind(state)
                        .bind(seen)
                        .bind(&at)
                        .bind(row.id)
                        .bind(item.mapping_code.as_deref())
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            (
                Action::Settle {
                    status,
                    reason,
                    rule_code,
                },
                None,
            ) => {
                // A new fact the connector refused: kept rejected with the reason, for a person.
                let status = status.unwrap_or("rejected");
                sqlx::query(
                    "INSERT INTO egisso_facts (execution_id, status, error, rule_code, created_at, fact_uuid, generation, operation, \
                     event_uuid, updated_at, mapping_code) VALUES ($1, $2, $3, $4, $5, $6, 0, 'fact', $6, $5, $7)",
                )
                .bind(item.execution_id)
                .bind(status)
                .bind(reason.as_deref())
                .bind(rule_code.as_deref())
                .bind(&at)
                .bind(fact_uuid_of(item.execution_id, 0))
                .bind(item.mapping_code.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            (
                Action::Settle {
                    status,
                    reason,
                    rule_code,
                },
                Some(row),
            ) => {
                sqlx::query(
                    "UPDATE egisso_facts SET status = COALESCE($1, status), error = COALESCE($2, error), \
                     rule_code = COALESCE($3, rule_code), package_ref = CASE WHEN $1 IS NULL THEN package_ref ELSE NULL END, \
                     changed = CASE WHEN changed = $4 THEN 0 ELSE changed END, updated_at = $5, \
                     mapping_code = COALESCE($7, mapping_code) WHERE id = $6",
                )
                .bind(*status)
                .bind(reason.as_deref())
                .bind(rule_code.as_deref())
                .bind(seen)
                .bind(&at)
                .bind(row.id)
                .bind(item.mapping_code.as_deref())
                .execute(&mut *tx)
                .await?;
            }
        }
        if let Some(touched) = item.touched {
            leave_pending(&mut tx, item.execution_id, touched, None).await?;
        }
    }
    for p in pending {
        leave_pending(&mut tx, p.execution_id, p.touched, p.park.as_deref()).await?;
    }
    crate::crashpoint::here("egisso.queued");
    tx.commit().await?;
    Ok(package.map(|(_, message)| message))
}

/// An execution read from `egisso_pending` leaves it (or is parked under its category), unless a
/// change touched it since it was read: then the next upload reads it again.
async fn leave_pending(
    conn: &mut sqlx::AnyConnection,
    execution_id: i64,
    touched: i64,
    park: Option<&str>,
) -> Result<()> {
    let q = match park {
        Some(category) => {
            sqlx::query("UPDATE egisso_pending SET parked = $1 WHERE execution_id = $2 AND touched = $3").bind(category)
        }
        None => sqlx::query("DELETE FROM egisso_pending WHERE execution_id = $1 AND touched = $2"),
    };
    q.bind(execution_id).bind(touched).execute(&mut *conn).await?;
    Ok(())
}

/// Packages delivered whose facts are not marked yet (an instance stopped between the two): marked
/// sent now. Few packages wait at any time; each is looked at through the status index.
pub async fn reconcile_sent(app: &App) -> Result<u64> {
    let rows = sqlx::query(
        "SELECT p.id FROM egisso_packages p JOIN exchange_messages m ON m.id = p.message_id \
         WHERE p.status = 'queued' AND m.status = 'sent' ORDER BY p.id",
    )
    .fetch_all(&app.db.pool)
    .await?;
    let mut marked = 0;
    for row in rows {
        marked += mark_package_sent(&app.db, row.try_get("id")?).await?;
    }
    Ok(marked)
}

async fn mark_package_sent(db: &Db, package: i64) -> Result<u64> {
    let at = now();
    let mut tx = db.pool.begin().await?;
    sqlx::query("UPDATE egisso_packages SET status = 'sent' WHERE id = $1 AND status = 'queued'")
        .bind(package)
        .execute(&mut *tx)
        .await?;
    let n = sqlx::query(
        "UPDATE egisso_facts SET status = 'sent', updated_at = $1 WHERE package_ref = $2 AND status = 'queued'",
    )
    .bind(&at)
    .bind(package)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    tx.commit().await?;
    Ok(n)
}

// EGISSO's answers.

#[derive(Clone, Debug)]
struct Package {
    id: i64,
    connector: String,
    status: String,
    facts: i64,
}

/// The package sent under this document name, if any.
async fn package_named(db: &Db, name: &str) -> Result<Option<Package>> {
    sqlx::query("SELECT id, connector, status, facts FROM egisso_packages WHERE document_name = $1")
        .bind(name)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| {
            Ok(Package {
                id: r.try_get("id")?,
                connector: r.try_get("connector")?,
                status: r.try_get("status")?,
                facts: r.try_get("facts")?,
            })
        })
        .transpose()
}

/// Whether an answer is about a package of facts (rather than an execution report).
pub async fn is_package(db: &Db, document_name: &str) -> Result<bool> {
    Ok(package_named(db, document_name).await?.is_some())
}

/// Facts of a package sent by an earlier release have no uuid yet: they get the one the connector gave them.
async fn name_earlier_facts(db: &Db, package: i64) -> Result<()> {
    let rows = sqlx::query("SELECT id, execution_id FROM egisso_facts WHERE package_ref = $1 AND fact_uuid IS NULL")
        .bind(package)
        .fetch_all(&db.pool)
        .await?;
    for r in rows {
        let uuid = fact_uuid_of(r.try_get("execution_id")?, 0);
        sqlx::query("UPDATE egisso_facts SET fact_uuid = $1, event_uuid = COALESCE(event_uuid, $1) WHERE id = $2")
            .bind(&uuid)
            .bind(r.try_get::<i64, _>("id")?)
            .execute(&db.pool)
            .await?;
    }
    Ok(())
}

fn extra<'a>(answer: &'a model::Receipt, code: &str) -> Option<&'a str> {
    answer
        .extra
        .iter()
        .find(|a| a.code == code)
        .map(|a| a.value.trim())
        .filter(|v| !v.is_empty())
}

/// EGISSO's answer on a package (a receipt the connector read from its protocol): a record's answer
/// accepts or rejects that fact; the package's answer records where the package stands and, once it is
/// processed, accepts its facts no record named (or rejects them all when the message was refused).
/// The same answer again changes nothing; an answer on a package never sent, naming a fact the package
/// does not hold, or contradicting what was recorded, is refused and changes nothing.
pub async fn receive_answer(app: &App, connector: &str, answer: &model::Receipt) -> Result<String> {
    let name = &answer.document_name;
    let Some(package) = package_named(&app.db, name).await? else {
        return Err(crate::refusal::not_found(format!(
            "ответ ЕГИССО на пакет {name}, который не отправлялся: не учтён"
        )));
    };
    if package.connector != connector {
        return Err(crate::refusal::conflict(format!(
            "ответ на пакет {name} пришёл через коннектор «{connector}», а пакет отправлен через «{}»: не учтён",
            package.connector
        )));
    }
    if let Some(n) = extra(answer, "recordNum").and_then(|n| n.parse::<i64>().ok()) {
        if package.facts > 0 && n != package.facts {
            return Err(crate::refusal::conflict(format!(
                "в протоколе на пакет {name} записей {n}, а в пакете фактов {}: ответ требует проверки и не учтён",
                package.facts
            )));
        }
    }
    // An answer proves the delivery an instance may have stopped before recording.
    if package.status == "queued" {
        mark_package_sent(&app.db, package.id).await?;
    }
    name_earlier_facts(&app.db, package.id).await?;
    match extra(answer, "record") {
        Some(record) => record_answer(app, &package, name, &record.to_lowercase(), answer).await,
        None => package_answer(app, &package, name, answer).await,
    }
}

async fn record_answer(
    app: &App,
    package: &Package,
    name: &str,
    record: &str,
    answer: &model::Receipt,
) -> Result<String> {
    let row = sqlx::query(
        "SELECT id, status, operation, package_ref FROM egisso_facts WHERE event_uuid = $1 \
         ORDER BY CASE WHEN package_ref = $2 THEN 0 ELSE 1 END, id DESC LIMIT 1",
    )
    .bind(record)
    .bind(package.id)
    .fetch_optional(&app.db.pool)
    .await?;
    let Some(row) = row else {
        return Err(crate::refusal::not_found(format!(
            "в пакете {name} нет записи {record}: ответ на неё не учтён"
        )));
    };
    let id: i64 = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let operation: String = row.try_get("operation")?;
    let package_ref: Option<i64> = row.try_get("package_ref").ok().flatten();
    if package_ref != Some(package.id) {
        // The fact was sent again since: the answer on the earlier sending changes nothing now.
        return Ok(format!(
            "факт {id}: ответ на прежнюю отправку ({name}); факт с тех пор отправлен заново, ответ его не меняет"
        ));
    }
    let accepted_status = if operation == "invalidation" {
        "cancelled"
    } else {
        "accepted"
    };
    let reason = answer.reason.as_deref().map(str::trim).filter(|r| !r.is_empty());
    match (status.as_str(), answer.accepted) {
        ("queued" | "sent", true) => {
            sqlx::query(
                "UPDATE egisso_facts SET status = $1, error = $2, rule_code = NULL, answered_at = $3, updated_at = $3, \
                 sent_state = CASE WHEN operation = 'invalidation' THEN NULL ELSE pending_state END WHERE id = $4 AND status IN ('queued', 'sent')",
            )
            .bind(accepted_status)
            .bind(reason)
            .bind(now())
            .bind(id)
            .execute(&app.db.pool)
            .await?;
            Ok(format!(
                "факт {id} ({}): принят ЕГИССО{}",
                operation_label(&operation),
                reason.map(|r| format!(" — {r}")).unwrap_or_default()
            ))
        }
        ("queued" | "sent", false) => {
            let reason = reason.unwrap_or("ЕГИССО не указало причину");
            sqlx::query(
                "UPDATE egisso_facts SET status = 'rejected', error = $1, rule_code = $2, answered_at = $3, updated_at = $3 \
                 WHERE id = $4 AND status IN ('queued', 'sent')",
            )
            .bind(reason)
            .bind(extra(answer, "ruleCode"))
            .bind(now())
            .bind(id)
            .execute(&app.db.pool)
            .await?;
            Ok(format!(
                "факт {id} ({}): отклонён ЕГИССО — {reason}",
                operation_label(&operation)
            ))
        }
        (s, true) if s == accepted_status => Ok(format!("факт {id}: ответ уже учтён ({})", status_label(s))),
        ("rejected", false) => Ok(format!("факт {id}: ответ уже учтён (отклонён)")),
        (s, _) => Err(crate::refusal::conflict(format!(
            "ответ ЕГИССО о факте {id} ({}) противоречит учтённому ранее ({}): требуется проверка, ответ не учтён",
            if answer.accepted {
                "принят"
            } else {
                "отклонён"
            },
            status_label(s)
        ))),
    }
}

async fn package_answer(app: &App, package: &Package, name: &str, answer: &model::Receipt) -> Result<String> {
    let status = extra(answer, "packageStatus").unwrap_or(if answer.accepted { "3" } else { "refused" });
    let at = now();
    let number = |code: &str| extra(answer, code).and_then(|n| n.parse::<i64>().ok());
    match status {
        "1" | "2" => {
            let (to, said) = if status == "1" {
                ("received", "принят ЕГИССО")
            } else {
                ("processing", "обрабатывается ЕГИССО")
            };
            // A later answer that the package is still being processed does not undo a processed one.
            sqlx::query(
                "UPDATE egisso_packages SET status = $1, answered_at = $2 WHERE id = $3 AND status IN ('queued', 'sent', 'received', 'processing')",
            )
            .bind(to)
            .bind(&at)
            .bind(package.id)
            .execute(&app.db.pool)
            .await?;
            Ok(format!("пакет {name}: {said}"))
        }
        "3" => {
            let mut tx = app.db.pool.begin().await?;
            sqlx::query(
                "UPDATE egisso_packages SET status = 'processed', record_num = $1, record_success = $2, answered_at = $3 WHERE id = $4",
            )
            .bind(number("recordNum"))
            .bind(number("recordNumSuccess"))
            .bind(&at)
            .bind(package.id)
            .execute(&mut *tx)
            .await?;
            let accepted = sqlx::query(
                "UPDATE egisso_facts SET status = CASE WHEN operation = 'invalidation' THEN 'cancelled' ELSE 'accepted' END, \
                 sent_state = CASE WHEN operation = 'invalidation' THEN NULL ELSE pending_state END, \
                 answered_at = $1, updated_at = $1 WHERE package_ref = $2 AND status IN ('queued', 'sent')",
            )
            .bind(&at)
            .bind(package.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(format!(
                "пакет {name}: обработан ЕГИССО, принято фактов без замечаний: {accepted}"
            ))
        }
        "refused" => {
            let reason = answer
                .reason
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .unwrap_or("сообщение отклонено ЕГИССО");
            let mut tx = app.db.pool.begin().await?;
            sqlx::query("UPDATE egisso_packages SET status = 'refused', note = $1, answered_at = $2 WHERE id = $3")
                .bind(reason)
                .bind(&at)
                .bind(package.id)
                .execute(&mut *tx)
                .await?;
            let rejected = sqlx::query(
                "UPDATE egisso_facts SET status = 'rejected', error = $1, rule_code = NULL, answered_at = $2, updated_at = $2 \
                 WHERE package_ref = $3 AND status IN ('queued', 'sent')",
            )
            .bind(reason)
            .bind(&at)
            .bind(package.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            Ok(format!(
                "пакет {name}: отклонён ЕГИССО целиком ({reason}), фактов отклонено: {rejected}"
            ))
        }
        other => Err(crate::refusal::invalid(
            "packageStatus",
            format!("состояние пакета «{other}» в ответе не известно: ответ не учтён"),
        )),
    }
}

/// A package as the pages show it.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PackageView {
    pub id: i64,
    pub document_name: String,
    pub status: String,
    pub facts: i64,
    pub record_num: Option<i64>,
    pub record_success: Option<i64>,
    pub note: Option<String>,
    pub created_at: String,
    pub answered_at: Option<String>,
}

/// The newest packages (a few a day), newest first.
pub async fn packages(db: &Db, limit: u32) -> Result<Vec<PackageView>> {
    let sql = format!(
        "SELECT id, document_name, status, facts, record_num, record_success, note, created_at, answered_at \
         FROM egisso_packages ORDER BY id DESC LIMIT {}",
        limit.clamp(1, 1000)
    );
    crate::plans::record(&sql, Vec::new());
    sqlx::query(&sql)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(|r| PackageView::from_row(r).context("пакет ЕГИССО"))
        .collect()
}

/// What a package's status says.
pub fn package_status_label(status: &str) -> &'static str {
    match status {
        "queued" => "ожидает отправки",
        "sent" => "отправлен",
        "received" => "принят ЕГИССО",
        "processing" => "обрабатывается",
        "processed" => "обработан",
        "refused" => "отклонён целиком",
        _ => "—",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            execution_id: 7,
            updated_at: String::new(),
            eligible: true,
            section: "social-protection".into(),
            execution_date: Some("2024-03-05".into()),
            measure_name: "Социально-средовая реабилитация".into(),
            category_code: Some("MSE.IPRA.SOCIAL.EVENT".into()),
            decision_date: Some("2024-03-01".into()),
            valid_until: Some("2025-03-01".into()),
            ipra_number: "1".into(),
            person: model::Person {
                snils: "11223344595".into(),
                surname: "Тестов".into(),
                given_name: "Иван".into(),
                patronymic: None,
                birth_date: Some("1954-02-15".into()),
                gender: Some("M".into()),
                territory_code: None,
                address: None,
                extra: Vec::new(),
            },
            death_date: None,
            mapping: Some(Mapping {
                local_code: "MSE.IPRA.SOCIAL.EVENT".into(),
                lmsz_id: "5f1d3b8e-4c1a-4b7e-9d7a-2f6e8c9a1b23".into(),
                category_id: None,
                osz_code: None,
                updated_at: String::new(),
                updated_by: String::new(),
            }),
        }
    }

    #[test]
    fn a_change_is_what_egisso_holds_compared_with_the_execution() {
        let s = source();
        let held = s.state();
        assert_eq!(change_for(&s, Some(&held), false), None);
        assert_eq!(
            change_for(&s, None, false),
            Some(Operation::Correction),
            "not known: sent whole"
        );
        let moved = Source {
            execution_date: Some("2024-03-06".into()),
            ..s.clone()
        };
        assert_eq!(change_for(&moved, Some(&held), false), Some(Operation::Correction));
        let died = Source {
            death_date: Some("2024-06-10".into()),
            ..s.clone()
        };
        assert_eq!(change_for(&died, Some(&held), false), Some(Operation::Termination));
        assert_eq!(change_for(&died, Some(&died.state()), false), None);
        assert_eq!(
            change_for(&s, Some(&died.state()), false),
            Some(Operation::Correction),
            "the death undone"
        );
        let withdrawn = Source {
            eligible: false,
            ..s.clone()
        };
        assert_eq!(
            change_for(&withdrawn, Some(&held), false),
            Some(Operation::Invalidation)
        );
        let unmapped = Source {
            mapping: None,
            ..s.clone()
        };
        assert_eq!(change_for(&unmapped, Some(&held), false), Some(Operation::Invalidation));
        let remapped = Source {
            mapping: s.mapping.clone().map(|m| Mapping {
                lmsz_id: "6a2e4c9f-5d2b-4c8f-8e1b-3a7f9d0c2e34".into(),
                ..m
            }),
            ..s.clone()
        };
        assert_eq!(change_for(&remapped, Some(&held), false), Some(Operation::Correction));
    }

    #[test]
    fn a_changed_identity_is_corrected() {
        let s = source();
        let held = s.state();
        let renamed = Source {
            person: model::Person {
                surname: "Сергеева".into(),
                ..s.person.clone()
            },
            ..s.clone()
        };
        assert_eq!(change_for(&renamed, Some(&held), false), Some(Operation::Correction));
        let reborn = Source {
            person: model::Person {
                birth_date: Some("1954-02-16".into()),
                ..s.person.clone()
            },
            ..s.clone()
        };
        assert_eq!(change_for(&reborn, Some(&held), false), Some(Operation::Correction));
        // A state recorded before the identity was kept in it: the trigger's reason tells.
        let (old_state, _) = held.split_once("|who:").unwrap();
        assert_eq!(change_for(&renamed, Some(old_state), false), None);
        assert_eq!(change_for(&renamed, Some(old_state), true), Some(Operation::Correction));
        // Died and renamed: the identity is corrected with the death in the same fact.
        let died = Source {
            death_date: Some("2024-06-10".into()),
            ..s.clone()
        };
        assert_eq!(change_for(&died, Some(&died.state()), true), None);
    }

    #[test]
    fn the_end_of_an_assignment_is_the_death_when_it_came_first() {
        let s = source();
        assert_eq!(s.end().as_deref(), Some("2025-03-01"));
        let died = Source {
            death_date: Some("2024-06-10".into()),
            ..s.clone()
        };
        assert_eq!(died.end().as_deref(), Some("2024-06-10"));
        let fact = died.fact(Operation::Termination, "a", "b");
        assert_eq!(fact.end_date.as_deref(), Some("2024-06-10"));
        assert!(fact.extra.iter().any(|a| a.code == "eventUuid" && a.value == "b"));
    }

    #[test]
    fn uuids_keep_the_connectors_first_naming() {
        assert_eq!(
            fact_uuid_of(1, 0),
            uuid::v5("urn:ipra:egisso:fact:ipra-execution-1"),
            "facts sent by earlier releases keep their uuid"
        );
        assert_ne!(fact_uuid_of(1, 1), fact_uuid_of(1, 0));
        assert_ne!(event_uuid_of("x", 1), event_uuid_of("x", 2));
        assert!(is_participant_code("0040.000001") && !is_participant_code("40.1"));
    }
}
