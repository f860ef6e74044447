//! TSR clarification requests to the MSE institution (порядок ФБ МСЭ для ИС МСЭ в ЕЦП; ПП РФ № 2121 п. 4(1), приказ № 545н п. 7):
//! raised with the citizen's consent from the card or the execution form, kept with their printed form, sent
//! through the connector that writes requests (the `request-outbox` job), closed by ИС МСЭ's answer or by the
//! corrected IPRA, which is linked to them; the TSR measures go on on the new IPRA.
//!
//! Lifecycle (`tsr_clarifications.status`): `raised` (waits for the outbox; its follow-up is `open` and counts
//! against the two working days) → `sent` (the follow-up `sent`) → `answered` / `rejected` (ИС МСЭ's answer) or
//! `superseded` (a newer IPRA of the person arrived first); the follow-up is then `closed`. Until the outbox
//! queues it, a raised request may be changed (its `revision` counts the changes: the outbox queues the revision
//! it wrote or nothing) or withdrawn (`withdrawn`). The TSR items of the open requests are claimed in
//! `tsr_clarification_measures`, one open request per item (a partial unique index), however many
//! submissions race.

use crate::app::App;
use crate::db::{now, opt_text};
use crate::plugins::model;
use crate::register::execution::{Checked, FieldError};
use anyhow::Result;
use serde::Serialize;
use sqlx::{AnyConnection, FromRow, Row};

/// The follow-up kind of a TSR clarification request (the TSR department's).
pub const KIND: &str = "tsr-clarification";
/// The section whose measures a request clarifies.
pub const SECTION: &str = "tsr";

/// Who consented to the request: the citizen or the person representing them.
pub const CONSENT_BY: [(&str, &str); 2] = [("citizen", "гражданин"), ("representative", "законный представитель")];

/// A request as the card, the execution form, the API or the command line raise it.
#[derive(Clone, Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct Raise {
    /// The TSR measures of the IPRA to clarify.
    pub measure_ids: Vec<i64>,
    /// OGRN of the authorised body that sends the request (СФР's territorial body or the regional body).
    pub sender_ogrn: String,
    /// The citizen (or the representative) consented; without it nothing is raised.
    pub consent: bool,
    /// `citizen` (default) or `representative`.
    #[serde(default)]
    pub consent_by: Option<String>,
    /// When the person presented the programme (`YYYY-MM-DD`); default: the day the IPRA was imported, in
    /// the region's time zone.
    #[serde(default)]
    pub received: Option<String>,
    /// What in the type, name or parameters of the TSR does not match the indications.
    pub reason: String,
}

/// One TSR item of a request.
#[derive(Clone, Debug, Serialize)]
pub struct Item {
    pub key: String,
    pub code: Option<String>,
    pub name: String,
    pub quantity: Option<String>,
    pub reason: String,
}

/// What the printed form of a request shows (порядок ФБ МСЭ для ИС МСЭ в ЕЦП: the PDF of the request the MSE bureau files).
#[derive(Clone, Debug, Serialize)]
pub struct Printed {
    pub id: i64,
    pub created: String,
    pub sender_ogrn: String,
    pub sender_name: String,
    pub issued_by: Option<String>,
    pub ipra_number: String,
    pub protocol_number: String,
    pub protocol_date: String,
    pub decision_date: Option<String>,
    pub is_child: bool,
    pub snils: String,
    pub full_name: String,
    pub birth_date: Option<String>,
    pub received: String,
    pub due_date: String,
    pub consent_by: String,
    pub reason: String,
    pub items: Vec<Item>,
    pub created_by: String,
}

/// Renders the printed form (the web side's PDF writer; the store has none).
pub type Printer<'a> = &'a (dyn Fn(&Printed) -> Vec<u8> + Send + Sync);

/// A request as the card, the API and the command line show it.
#[derive(Clone, Debug, Serialize, FromRow)]
pub struct Clarification {
    pub id: i64,
    pub follow_up_id: i64,
    pub ipra_id: i64,
    pub sender_ogrn: String,
    pub consent_by: String,
    pub consent_at: String,
    pub received_date: String,
    pub reason: String,
    pub due_date: String,
    pub status: String,
    pub document_name: Option<String>,
    pub sent_at: Option<String>,
    pub answered_at: Option<String>,
    pub answer: Option<String>,
    pub corrected_ipra_id: Option<i64>,
    pub corrected_ipra_number: Option<String>,
    pub closed_at: Option<String>,
    pub created_at: String,
    pub created_by: String,
    /// The territory of the IPRA (the list's filter).
    pub territory_code: Option<String>,
    /// The day the request was raised, in the region's time zone.
    pub raised_on: Option<String>,
    /// The number of the IPRA the request is about.
    pub ipra_number: String,
    /// The TSR items, as the follow-up keeps them.
    #[sqlx(skip)]
    pub items: Vec<Item>,
    /// The follow-up's attributes as stored (the items are read from them).
    #[serde(skip)]
    pub attributes: String,
}

const COLUMNS: &str = "c.id, c.follow_up_id, c.ipra_id, c.sender_ogrn, c.consent_by, c.consent_at, c.received_date, \
     c.reason, c.due_date, c.status, c.document_name, c.sent_at, c.answered_at, c.answer, c.corrected_ipra_id, \
     n.number AS corrected_ipra_number, c.closed_at, c.created_at, c.created_by, c.territory_code, c.raised_on, \
     i.number AS ipra_number, f.attributes";
const FROM: &str = "tsr_clarifications c JOIN follow_ups f ON f.id = c.follow_up_id JOIN ipras i ON i.id = c.ipra_id \
     LEFT JOIN ipras n ON n.id = c.corrected_ipra_id";

/// What the pages call a status.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "raised" => "сформирован, ждёт отправки",
        "sent" => "отправлен в ИС МСЭ, ждёт ответа",
        "answered" => "ответ получен",
        "rejected" => "ИС МСЭ отказала",
        "superseded" => "закрыт: поступила новая ИПРА",
        "withdrawn" => "отозван до отправки",
        _ => "—",
    }
}

/// What the pages call who consented.
pub fn consent_label(by: &str) -> &'static str {
    CONSENT_BY
        .iter()
        .find(|(code, _)| *code == by)
        .map(|(_, label)| *label)
        .unwrap_or("—")
}

fn pairs(json: &str) -> Vec<(String, String)> {
    serde_json::from_str(json).unwrap_or_default()
}

fn items_of(attributes: &[(String, String)]) -> Vec<Item> {
    let get = |code: &str| attributes.iter().find(|(c, _)| c == code).map(|(_, v)| v.clone());
    let count: usize = get("items").and_then(|n| n.parse().ok()).unwrap_or(0);
    (1..=count)
        .map(|i| Item {
            key: get(&format!("item.{i}.key")).unwrap_or_default(),
            code: get(&format!("item.{i}.code")),
            name: get(&format!("item.{i}.name")).unwrap_or_default(),
            quantity: get(&format!("item.{i}.quantity")),
            reason: get(&format!("item.{i}.reason")).unwrap_or_default(),
        })
        .collect()
}

fn from_row(row: &sqlx::any::AnyRow) -> Result<Clarification> {
    let mut c = Clarification::from_row(row)?;
    c.items = items_of(&pairs(&c.attributes));
    Ok(c)
}

fn refused(code: &str, message: String, field: &str) -> FieldError {
    FieldError {
        code: code.into(),
        message,
        record: None,
        field: Some(field.into()),
    }
}

/// The day an IPRA was received, in the region's time zone (its `received_at` as stored): the default of a
/// request's received date.
pub fn received_day(received_at: &str) -> String {
    crate::clock::local_stamp(received_at)
        .map(|t| crate::register::deadlines::format_date(t.date()))
        .unwrap_or_else(|| received_at.get(..10).unwrap_or(received_at).to_string())
}

/// A request checked by the TSR department plugin and ready to keep: what raising and changing share.
struct Prepared {
    ipra: model::IpraExtract,
    territory: Option<String>,
    received: String,
    consent_by: String,
    due: String,
    follow_up: model::FollowUp,
    items: Vec<Item>,
    measure_ids: Vec<i64>,
    sender_name: String,
    today: String,
}

/// Checks a request on an IPRA through the TSR department plugin: consent, reason, the received date and the
/// items, and counts the deadline (two working days by default). `own` is the request being changed, whose
/// items are not counted as asked by another.
async fn prepare(app: &App, ipra_id: i64, request: &Raise, own: Option<i64>) -> Checked<Prepared> {
    // Read before a connection is held here: many submissions at once must not each hold one while waiting
    // for another from the pool.
    let open: Vec<Clarification> = of_ipra(&app.db, ipra_id)
        .await?
        .into_iter()
        .filter(|c| matches!(c.status.as_str(), "raised" | "sent") && Some(c.id) != own)
        .collect();
    let mut conn = app.db.pool.acquire().await?;
    let Some(ipra) = crate::register::execution::load_ipra(&mut conn, ipra_id).await? else {
        return Err(crate::refusal::not_found(format!("ИПРА {ipra_id} не найдена")));
    };
    let row = sqlx::query("SELECT received_at, status, territory_code FROM ipras WHERE id = $1")
        .bind(ipra_id)
        .fetch_one(&mut *conn)
        .await?;
    let status: String = row.try_get("status")?;
    if status != "active" {
        return Ok(Err(vec![refused(
            "ipra-not-active",
            format!(
                "ИПРА № {} {}: запрос на уточнение ТСР направляют по действующей ИПРА",
                ipra.number,
                if status == "superseded" {
                    "заменена новой"
                } else {
                    "закрыта"
                }
            ),
            "ИПРА",
        )]));
    }
    let received = match request.received.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        None => received_day(&row.try_get::<String, _>("received_at")?),
        Some(date) => match crate::register::deadlines::parse_date(date).filter(|_| date.len() == 10) {
            Some(d) => crate::register::deadlines::format_date(d),
            None => {
                return Ok(Err(vec![refused(
                    "date-format",
                    format!("Дата «{date}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
                    "Дата получения ИПРА",
                )]));
            }
        },
    };
    let consent_by = request.consent_by.as_deref().map(str::trim).unwrap_or("citizen");
    let consent_by = if consent_by.is_empty() { "citizen" } else { consent_by };
    if !CONSENT_BY.iter().any(|(code, _)| *code == consent_by) {
        return Ok(Err(vec![refused(
            "consent-by-unknown",
            format!(
                "Кто дал согласие — «{consent_by}»: ожидается citizen (гражданин) или representative (представитель)"
            ),
            "Согласие гражданина",
        )]));
    }
    let mut measure_ids = request.measure_ids.clone();
    measure_ids.sort_unstable();
    measure_ids.dedup();
    let mut entries = Vec::new();
    let mut quantities = Vec::new();
    for id in &measure_ids {
        let found =
            sqlx::query("SELECT measure_key, quantity FROM measures WHERE id = $1 AND ipra_id = $2 AND section = $3")
                .bind(id)
                .bind(ipra_id)
                .bind(SECTION)
                .fetch_optional(&mut *conn)
                .await?;
        let Some(found) = found else {
            return Ok(Err(vec![refused(
                "measure-unknown",
                format!("мероприятие {id} не является ТСР этой ИПРА"),
                "Мероприятие ИПРА",
            )]));
        };
        let key: String = found.try_get("measure_key")?;
        // A request on a TSR item already being clarified would ask twice.
        if let Some(open) = open.iter().find(|c| c.items.iter().any(|i| i.key == key)) {
            return Err(crate::refusal::conflict(format!(
                "по этому ТСР уже есть запрос на уточнение № {}, ещё не закрытый ({})",
                open.id,
                status_label(&open.status)
            )));
        }
        quantities.push((key.clone(), opt_text(&found, "quantity")));
        let item = ipra.measures.iter().find(|m| m.key == key);
        let attr = |code: &str, value: &str| model::Attribute {
            code: code.into(),
            value: value.into(),
        };
        entries.push(model::ExecutionEntry {
            measure_key: Some(key.clone()),
            section: SECTION.into(),
            status: model::ExecutionStatus::NotExecuted,
            measure_name: item.map(|m| m.name.clone()).unwrap_or_default(),
            executor_ogrn: request.sender_ogrn.trim().into(),
            executor_name: None,
            clarification: Some(request.reason.clone()),
            execution_date: None,
            reasons: Vec::new(),
            comment: None,
            extra: vec![
                attr("action", KIND),
                attr("consent", if request.consent { "true" } else { "false" }),
                attr("reason", request.reason.trim()),
                attr("received", &received),
            ],
        });
    }
    drop(conn);
    if entries.is_empty() {
        return Ok(Err(vec![refused(
            "missing-field",
            "укажите ТСР, которые нужно уточнить".into(),
            "Мероприятие ИПРА",
        )]));
    }
    let plugin = match crate::register::execution::department_of(app, SECTION) {
        Ok(p) => p,
        Err(e) => return Ok(Err(vec![e])),
    };
    let today = crate::register::deadlines::format_date(crate::register::deadlines::today());
    let input = model::ExecuteInput::Execution(model::ExecutionInput {
        ipra: ipra.clone(),
        entries,
        today: today.clone(),
    });
    let output = match app
        .plugins
        .call_async(plugin, move |host, p| host.execute(p, input))
        .await
    {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => return Ok(Err(vec![FieldError::from(&e)])),
        Err(call) => {
            return Ok(Err(vec![FieldError {
                code: call.code().into(),
                message: call.to_string(),
                record: None,
                field: None,
            }]));
        }
    };
    if !output.errors.is_empty() {
        return Ok(Err(output.errors.iter().map(FieldError::from).collect()));
    }
    let Some(follow_up) = output.follow_ups.iter().find(|f| f.kind == KIND).cloned() else {
        return Ok(Err(vec![refused(
            "no-request",
            "ведомство ТСР не сформировало запрос".into(),
            "Мероприятие ИПРА",
        )]));
    };
    let due = follow_up.due_date.clone().unwrap_or_default();
    let attributes: Vec<(String, String)> = follow_up
        .attributes
        .iter()
        .map(|a| (a.code.clone(), a.value.clone()))
        .collect();
    let mut items = items_of(&attributes);
    for item in &mut items {
        item.quantity = quantities
            .iter()
            .find(|(key, _)| *key == item.key)
            .and_then(|(_, q)| q.clone());
    }
    let sender_name = crate::register::directory::organisation(&app.db, request.sender_ogrn.trim())
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(Ok(Prepared {
        territory: opt_text(&row, "territory_code"),
        ipra,
        received,
        consent_by: consent_by.into(),
        due,
        follow_up,
        items,
        measure_ids,
        sender_name,
        today,
    }))
}

impl Prepared {
    /// The printed form of request `id` as prepared.
    fn printed(&self, id: i64, request: &Raise, actor: &str, print: Printer<'_>) -> Vec<u8> {
        let person = &self.ipra.person;
        print(&Printed {
            id,
            created: self.today.clone(),
            sender_ogrn: request.sender_ogrn.trim().into(),
            sender_name: self.sender_name.clone(),
            issued_by: self.ipra.issued_by.clone(),
            ipra_number: self.ipra.number.clone(),
            protocol_number: self.ipra.protocol_number.clone(),
            protocol_date: self.ipra.protocol_date.clone(),
            decision_date: self.ipra.decision_date.clone(),
            is_child: self.ipra.is_child,
            snils: person.snils.clone(),
            full_name: [
                Some(person.surname.as_str()),
                Some(person.given_name.as_str()),
                person.patronymic.as_deref(),
            ]
            .into_iter()
            .flatten()
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
            birth_date: person.birth_date.clone(),
            received: self.received.clone(),
            due_date: self.due.clone(),
            consent_by: self.consent_by.clone(),
            reason: request.reason.trim().into(),
            items: self.items.clone(),
            created_by: actor.into(),
        })
    }
}

/// Claims the TSR items of request `id` in the caller's transaction: `false` when another open request
/// holds one of them already (two submissions of the same request at once: the second finds the first's
/// claim through the partial unique index, on SQLite and PostgreSQL alike).
async fn claim_items(conn: &mut AnyConnection, id: i64, ipra_id: i64, measure_ids: &[i64]) -> Result<bool> {
    let mut claimed = 0;
    for measure in measure_ids {
        claimed += sqlx::query(
            "INSERT INTO tsr_clarification_measures (request_id, ipra_id, measure_id, is_open) VALUES ($1, $2, $3, 1) \
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(ipra_id)
        .bind(measure)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(claimed == measure_ids.len() as u64)
}

/// Why a claim failed: the open request that holds one of the items.
async fn claimed_by(app: &App, measure_ids: &[i64]) -> Result<anyhow::Error> {
    let mut holder = None;
    for measure in measure_ids {
        holder = sqlx::query(
            "SELECT c.id, c.status FROM tsr_clarification_measures t JOIN tsr_clarifications c ON c.id = t.request_id \
             WHERE t.measure_id = $1 AND t.is_open = 1",
        )
        .bind(measure)
        .fetch_optional(&app.db.pool)
        .await?;
        if holder.is_some() {
            break;
        }
    }
    Ok(crate::refusal::conflict(match holder {
        Some(row) => format!(
            "по этому ТСР уже есть запрос на уточнение № {}, ещё не закрытый ({}): повторная отправка той же формы не создаёт второй запрос",
            row.try_get::<i64, _>("id")?,
            status_label(&row.try_get::<String, _>("status")?)
        ),
        None => "по этому ТСР уже есть запрос на уточнение, ещё не закрытый".into(),
    }))
}

/// Raises a request: the TSR department plugin checks consent, reason, the received date and the items and
/// counts the deadline (two working days by default); the request, its follow-up, the claim of its items and
/// its printed form are kept in one transaction. Returns the new request's id, or why it is refused.
pub async fn raise(app: &App, ipra_id: i64, request: &Raise, print: Printer<'_>, actor: &str) -> Checked<i64> {
    let prepared = match prepare(app, ipra_id, request, None).await? {
        Ok(p) => p,
        Err(errors) => return Ok(Err(errors)),
    };
    let at = now();
    let mut tx = app.db.pool.begin().await?;
    let follow_up_id =
        crate::register::store::store_follow_up(&mut tx, ipra_id, SECTION, &prepared.follow_up, &at).await?;
    let id: i64 = sqlx::query(
        "INSERT INTO tsr_clarifications (follow_up_id, ipra_id, sender_ogrn, consent_by, consent_at, received_date, reason, \
         due_date, status, created_at, created_by, territory_code, raised_on) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'raised', $5, $9, $10, $11) RETURNING id",
    )
    .bind(follow_up_id)
    .bind(ipra_id)
    .bind(request.sender_ogrn.trim())
    .bind(&prepared.consent_by)
    .bind(&at)
    .bind(&prepared.received)
    .bind(request.reason.trim())
    .bind(&prepared.due)
    .bind(actor)
    .bind(prepared.territory.as_deref())
    .bind(&prepared.today)
    .fetch_one(&mut *tx)
    .await?
    .try_get("id")?;
    if !claim_items(&mut tx, id, ipra_id, &prepared.measure_ids).await? {
        tx.rollback().await?;
        return Err(claimed_by(app, &prepared.measure_ids).await?);
    }
    sqlx::query("UPDATE tsr_clarifications SET printed = $1 WHERE id = $2")
        .bind(prepared.printed(id, request, actor, print))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let detail = serde_json::json!({
        "request": id,
        "consent_by": prepared.consent_by,
        "received": prepared.received,
        "due": prepared.due,
        "reason": request.reason.trim(),
    })
    .to_string();
    crate::audit::record(
        &app.db,
        actor,
        "tsr.clarification",
        &format!("ipra:{ipra_id}"),
        Some(&detail),
    )
    .await?;
    Ok(Ok(id))
}

/// Why a request can no longer be changed or withdrawn, or `None` while it may.
fn settled(c: &Clarification, queued: bool) -> Option<String> {
    match c.status.as_str() {
        "raised" if !queued => None,
        "raised" => Some(format!(
            "запрос на уточнение ТСР № {} уже поставлен в очередь отправки в ИС МСЭ: изменить или отозвать его нельзя",
            c.id
        )),
        "withdrawn" => Some(format!("запрос на уточнение ТСР № {} отозван", c.id)),
        _ => Some(format!(
            "запрос на уточнение ТСР № {} уже отправлен в ИС МСЭ ({}): изменить или отозвать его нельзя",
            c.id,
            status_label(&c.status)
        )),
    }
}

async fn changeable(app: &App, id: i64) -> Result<(Clarification, i64)> {
    let Some(current) = get(&app.db, id).await? else {
        return Err(crate::refusal::not_found(format!(
            "запрос на уточнение ТСР № {id} не найден"
        )));
    };
    let row = sqlx::query("SELECT message_id, revision FROM tsr_clarifications WHERE id = $1")
        .bind(id)
        .fetch_one(&app.db.pool)
        .await?;
    let queued = row.try_get::<Option<i64>, _>("message_id")?.is_some();
    if let Some(why) = settled(&current, queued) {
        return Err(crate::refusal::conflict(why));
    }
    Ok((current, row.try_get("revision")?))
}

/// Changes a raised request that is not yet queued: its items, sender, consent, received date and reason, as
/// raising takes them. The TSR department checks it again (the due date follows the received date), its
/// printed form is made anew, and the change is audited with what it was and what it became. Refused in
/// Russian once the outbox queued it.
pub async fn amend(app: &App, id: i64, request: &Raise, print: Printer<'_>, actor: &str) -> Checked<()> {
    let (current, revision) = changeable(app, id).await?;
    let prepared = match prepare(app, current.ipra_id, request, Some(id)).await? {
        Ok(p) => p,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut tx = app.db.pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE tsr_clarifications SET sender_ogrn = $1, consent_by = $2, consent_at = $3, received_date = $4, reason = $5, \
         due_date = $6, printed = $7, revision = revision + 1 \
         WHERE id = $8 AND status = 'raised' AND message_id IS NULL AND revision = $9",
    )
    .bind(request.sender_ogrn.trim())
    .bind(&prepared.consent_by)
    .bind(now())
    .bind(&prepared.received)
    .bind(request.reason.trim())
    .bind(&prepared.due)
    .bind(prepared.printed(id, request, actor, print))
    .bind(id)
    .bind(revision)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        tx.rollback().await?;
        let (now_is, _) = changeable(app, id).await?;
        return Err(crate::refusal::conflict(format!(
            "запрос на уточнение ТСР № {} изменили одновременно с вами ({}): откройте его заново",
            now_is.id,
            status_label(&now_is.status)
        )));
    }
    sqlx::query("UPDATE follow_ups SET due_date = $1, attributes = $2, title = $3 WHERE id = $4")
        .bind(prepared.follow_up.due_date.as_deref())
        .bind(crate::register::store::extra_json(&prepared.follow_up.attributes))
        .bind(&prepared.follow_up.title)
        .bind(current.follow_up_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM tsr_clarification_measures WHERE request_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    if !claim_items(&mut tx, id, current.ipra_id, &prepared.measure_ids).await? {
        tx.rollback().await?;
        return Err(claimed_by(app, &prepared.measure_ids).await?);
    }
    tx.commit().await?;
    let detail = serde_json::json!({
        "request": id,
        "before": {
            "items": current.items.iter().map(|i| i.key.clone()).collect::<Vec<_>>(),
            "sender_ogrn": current.sender_ogrn,
            "consent_by": current.consent_by,
            "received": current.received_date,
            "due": current.due_date,
            "reason": current.reason,
        },
        "after": {
            "items": prepared.items.iter().map(|i| i.key.clone()).collect::<Vec<_>>(),
            "sender_ogrn": request.sender_ogrn.trim(),
            "consent_by": prepared.consent_by,
            "received": prepared.received,
            "due": prepared.due,
            "reason": request.reason.trim(),
        },
    })
    .to_string();
    crate::audit::record(
        &app.db,
        actor,
        "tsr.clarification.edit",
        &format!("ipra:{}", current.ipra_id),
        Some(&detail),
    )
    .await?;
    Ok(Ok(()))
}

/// Withdraws a raised request that is not yet queued («отозвать»): it closes as `withdrawn` with its
/// follow-up, its items free for another request; audited with the reason given. Refused in Russian once
/// the outbox queued it.
pub async fn withdraw(app: &App, id: i64, why: &str, actor: &str) -> Result<()> {
    let why = why.trim();
    if why.is_empty() {
        return Err(crate::refusal::invalid(
            "reason",
            "укажите, почему запрос отзывается".to_string(),
        ));
    }
    let (current, revision) = changeable(app, id).await?;
    let at = now();
    let mut tx = app.db.pool.begin().await?;
    let changed = sqlx::query(
        "UPDATE tsr_clarifications SET status = 'withdrawn', closed_at = $1, answer = $2, revision = revision + 1 \
         WHERE id = $3 AND status = 'raised' AND message_id IS NULL AND revision = $4",
    )
    .bind(&at)
    .bind(format!("отозван: {why}"))
    .bind(id)
    .bind(revision)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if changed != 1 {
        tx.rollback().await?;
        changeable(app, id).await?;
        return Err(crate::refusal::conflict(format!(
            "запрос на уточнение ТСР № {id} изменили одновременно с вами: откройте его заново"
        )));
    }
    sqlx::query("UPDATE follow_ups SET status = 'closed' WHERE id = $1")
        .bind(current.follow_up_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("UPDATE tsr_clarification_measures SET is_open = 0 WHERE request_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    crate::audit::record(
        &app.db,
        actor,
        "tsr.clarification.withdraw",
        &format!("ipra:{}", current.ipra_id),
        Some(&serde_json::json!({"request": id, "reason": why}).to_string()),
    )
    .await?;
    Ok(())
}

/// The requests of an IPRA, oldest first.
pub async fn of_ipra(db: &crate::db::Db, ipra_id: i64) -> Result<Vec<Clarification>> {
    let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE c.ipra_id = $1 ORDER BY c.id");
    // Every card reads it: its plan is checked with the card's (`ipra bench plans`).
    crate::plans::record(&sql, [crate::plans::Arg::Int(ipra_id)]);
    sqlx::query(&sql)
        .bind(ipra_id)
        .fetch_all(&db.pool)
        .await?
        .iter()
        .map(from_row)
        .collect()
}

/// The status filters of the list of requests: value, label.
pub const LIST_STATUSES: [(&str, &str); 4] = [
    ("open", "не закрыт (ждёт отправки или ответа)"),
    ("sent", "отправлен, ждёт ответа ИС МСЭ"),
    ("answered", "ответ получен"),
    ("closed", "закрыт"),
];

/// What the list of requests is filtered by (the page's and the API's query).
#[derive(Clone, Debug, Default, serde::Deserialize, schemars::JsonSchema)]
pub struct ListFilter {
    /// `open` (not closed), `sent`, `answered` (answered or refused by ИС МСЭ), `closed` (answered, refused,
    /// closed by a new IPRA or withdrawn).
    #[serde(default)]
    pub status: Option<String>,
    /// Only those not sent within their two working days.
    #[serde(default)]
    pub overdue: Option<bool>,
    /// The IPRA's territory code.
    #[serde(default)]
    pub territory: Option<String>,
    /// Raised on or after this day (`YYYY-MM-DD`, the region's time zone).
    #[serde(default)]
    pub from: Option<String>,
    /// Raised on or before this day.
    #[serde(default)]
    pub to: Option<String>,
    /// The page below this request number.
    #[serde(default)]
    pub before: Option<i64>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// A page of every request, newest first, through an index of the filter (keyset by id); `sender` scopes it
/// to the requests an organisation sends (an executor's).
pub async fn page(
    db: &crate::db::Db,
    filter: &ListFilter,
    sender: Option<&str>,
    limit: u32,
) -> Result<crate::paging::Page<Clarification>> {
    let mut q = crate::paging::PageQuery {
        table: "tsr_clarifications",
        columns: "id",
        conditions: Vec::new(),
        binds: Vec::new(),
        index: None,
    };
    let mut hint = None;
    if let Some(ogrn) = sender {
        q.filter("sender_ogrn = ?", ogrn);
        hint.get_or_insert("tsr_clarifications_sender");
    }
    if let Some(t) = given(&filter.territory) {
        q.filter("territory_code = ?", t);
        hint.get_or_insert("tsr_clarifications_territory");
    }
    if let Some(status) = given(&filter.status) {
        let list = match status {
            "open" => "'raised', 'sent'",
            "sent" => "'sent'",
            "answered" => "'answered', 'rejected'",
            "closed" => "'answered', 'rejected', 'superseded', 'withdrawn'",
            other => {
                return Err(crate::refusal::invalid(
                    "status",
                    format!("состояние запроса «{other}» не известно (open, sent, answered, closed)"),
                ))
            }
        };
        q.conditions.push(format!("status IN ({list})"));
        hint.get_or_insert("tsr_clarifications_status");
    }
    if filter.overdue == Some(true) {
        let today = crate::register::deadlines::format_date(crate::register::deadlines::today());
        q.conditions.push("status = 'raised'".into());
        q.filter("due_date < ?", today);
        hint.get_or_insert("tsr_clarifications_status");
    }
    for (field, value, op) in [("from", &filter.from, ">="), ("to", &filter.to, "<=")] {
        if let Some(day) = given(value) {
            let Some(d) = crate::register::deadlines::parse_date(day).filter(|_| day.len() == 10) else {
                return Err(crate::refusal::invalid(
                    field,
                    format!("дата «{day}» не распознана: укажите её в виде ГГГГ-ММ-ДД"),
                ));
            };
            q.filter(&format!("raised_on {op} ?"), crate::register::deadlines::format_date(d));
            hint.get_or_insert("tsr_clarifications_raised");
        }
    }
    q.index = hint;
    let page = crate::paging::newest_first(db, &q, filter.before, limit).await?;
    let ids: Vec<i64> = page
        .items
        .iter()
        .map(|r| r.try_get::<i64, _>("id"))
        .collect::<Result<_, _>>()?;
    let mut items = if ids.is_empty() {
        Vec::new()
    } else {
        let list: Vec<String> = ids.iter().map(i64::to_string).collect();
        let sql = format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id IN ({})", list.join(", "));
        crate::plans::record(&sql, Vec::new());
        sqlx::query(&sql)
            .fetch_all(&db.pool)
            .await?
            .iter()
            .map(from_row)
            .collect::<Result<Vec<_>>>()?
    };
    items.sort_by_key(|c| std::cmp::Reverse(c.id));
    Ok(page.map_items(items))
}

/// Whether the outbox has queued the request (its documents are on their way: it can no longer change).
pub async fn queued(db: &crate::db::Db, id: i64) -> Result<bool> {
    Ok(sqlx::query("SELECT message_id FROM tsr_clarifications WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .map(|r| r.try_get::<Option<i64>, _>("message_id"))
        .transpose()?
        .flatten()
        .is_some())
}

/// One request.
pub async fn get(db: &crate::db::Db, id: i64) -> Result<Option<Clarification>> {
    sqlx::query(&format!("SELECT {COLUMNS} FROM {FROM} WHERE c.id = $1"))
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// The printed form of a request as it was raised (PDF), with the IPRA it is about.
pub async fn printed(db: &crate::db::Db, id: i64) -> Result<Option<(i64, Vec<u8>)>> {
    let Some(row) = sqlx::query("SELECT ipra_id, printed FROM tsr_clarifications WHERE id = $1")
        .bind(id)
        .fetch_optional(&db.pool)
        .await?
    else {
        return Ok(None);
    };
    let bytes: Option<Vec<u8>> = row.try_get("printed")?;
    match bytes {
        Some(b) => Ok(Some((row.try_get("ipra_id")?, b))),
        None => Ok(None),
    }
}

/// ИС МСЭ's answer on a request the connector sent, by the sent document's name: the request closes
/// (`answered`, or `rejected` when ИС МСЭ refused) with the answer's words. `None` when no request was
/// sent under that name. The same answer again changes nothing.
pub async fn receive_answer(app: &App, answer: &model::Receipt, actor: &str) -> Result<Option<String>> {
    let Some(row) = sqlx::query("SELECT id, status, answer FROM tsr_clarifications WHERE document_name = $1")
        .bind(&answer.document_name)
        .fetch_optional(&app.db.pool)
        .await?
    else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    let status: String = row.try_get("status")?;
    let words = answer
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .unwrap_or(if answer.accepted {
            "ответ без пояснений"
        } else {
            "отказ без пояснений"
        })
        .to_string();
    let at = now();
    match status.as_str() {
        "raised" => Err(crate::refusal::conflict(format!(
            "ответ на запрос на уточнение ТСР № {id}, который ещё не отправлен ({})",
            answer.document_name
        ))),
        "answered" | "rejected" => Ok(Some(format!("запрос на уточнение ТСР № {id}: ответ уже учтён"))),
        "superseded" => {
            // Closed by the new IPRA first; the answer is kept with it.
            if opt_text(&row, "answer").is_none() {
                sqlx::query("UPDATE tsr_clarifications SET answer = $1, answered_at = $2 WHERE id = $3")
                    .bind(&words)
                    .bind(&at)
                    .bind(id)
                    .execute(&app.db.pool)
                    .await?;
            }
            Ok(Some(format!(
                "запрос на уточнение ТСР № {id}: закрыт раньше поступлением новой ИПРА, ответ записан: {words}"
            )))
        }
        _ => {
            let to = if answer.accepted { "answered" } else { "rejected" };
            let mut tx = app.db.pool.begin().await?;
            let changed = sqlx::query(
                "UPDATE tsr_clarifications SET status = $1, answer = $2, answered_at = $3, closed_at = $3 \
                 WHERE id = $4 AND status = 'sent'",
            )
            .bind(to)
            .bind(&words)
            .bind(&at)
            .bind(id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query(
                "UPDATE follow_ups SET status = 'closed' WHERE id = (SELECT follow_up_id FROM tsr_clarifications WHERE id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE tsr_clarification_measures SET is_open = 0 WHERE request_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            if changed == 1 {
                crate::audit::record(
                    &app.db,
                    actor,
                    "tsr.clarification.answer",
                    &format!("tsr-clarification:{id}"),
                    Some(&words),
                )
                .await?;
            }
            Ok(Some(format!(
                "запрос на уточнение ТСР № {id}: {} — {words}",
                if answer.accepted {
                    "ответ ИС МСЭ"
                } else {
                    "отказ ИС МСЭ"
                }
            )))
        }
    }
}

/// The corrected IPRAs arrived: the requests on the IPRAs they replace are closed (`superseded`, unless
/// already answered) and linked to the new IPRA, with their follow-ups. `(old, new)` pairs; called in the
/// transaction that stores the new IPRAs.
pub async fn link_corrected(conn: &mut AnyConnection, pairs: &[(i64, i64)], at: &str) -> Result<()> {
    use crate::register::store::{chunks, Sql, ROWS_PER_STATEMENT};
    for range in chunks(pairs.len(), ROWS_PER_STATEMENT) {
        let pairs = &pairs[range];
        let mut sql = Sql::new(conn);
        sql.push("WITH v (old_id, new_id) AS (VALUES ");
        sql.rows(pairs.len(), 2);
        sql.push(
            ") UPDATE tsr_clarifications SET corrected_ipra_id = v.new_id, \
             status = CASE WHEN tsr_clarifications.status IN ('raised', 'sent') THEN 'superseded' ELSE tsr_clarifications.status END, \
             closed_at = COALESCE(tsr_clarifications.closed_at, ",
        );
        sql.param();
        sql.push(
            ") FROM v WHERE tsr_clarifications.ipra_id = v.old_id AND tsr_clarifications.corrected_ipra_id IS NULL",
        );
        let mut query = sqlx::query(sql.text());
        for (old, new) in pairs {
            query = query.bind(*old).bind(*new);
        }
        query.bind(at).execute(&mut *conn).await?;
        let mut sql = Sql::new(conn);
        sql.push("UPDATE follow_ups SET status = 'closed' WHERE kind = 'tsr-clarification' AND status IN ('open', 'sent') AND ipra_id IN (");
        sql.list(pairs.len());
        sql.push(")");
        let mut query = sqlx::query(sql.text());
        for (old, _) in pairs {
            query = query.bind(*old);
        }
        query.execute(&mut *conn).await?;
        // The items of the replaced IPRA's requests are free: its requests are all closed now.
        let mut sql = Sql::new(conn);
        sql.push("UPDATE tsr_clarification_measures SET is_open = 0 WHERE is_open = 1 AND ipra_id IN (");
        sql.list(pairs.len());
        sql.push(")");
        let mut query = sqlx::query(sql.text());
        for (old, _) in pairs {
            query = query.bind(*old);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A raised request made ready for its connector: what the `tsr-clarification` step of the plan needs.
pub struct Outgoing {
    pub id: i64,
    /// The revision written: the request is queued only if it is still this one.
    pub revision: i64,
    pub ipra_id: i64,
    pub plan: model::PlanInput,
    pub printed: Option<Vec<u8>>,
}

/// The raised requests not yet handed to the outbox, oldest first, as plans for the connector's `step`.
pub async fn outgoing(app: &App, step: &str, limit: i64) -> Result<Vec<Outgoing>> {
    let rows = sqlx::query(&format!(
        "SELECT c.id, c.ipra_id, c.sender_ogrn, c.consent_by, c.consent_at, c.received_date, c.reason, c.due_date, \
         c.printed, c.revision, f.attributes FROM tsr_clarifications c JOIN follow_ups f ON f.id = c.follow_up_id \
         WHERE c.status = 'raised' AND c.message_id IS NULL ORDER BY c.id LIMIT {}",
        limit.clamp(1, 10_000)
    ))
    .fetch_all(&app.db.pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    let mut conn = app.db.pool.acquire().await?;
    for row in rows {
        let id: i64 = row.try_get("id")?;
        let ipra_id: i64 = row.try_get("ipra_id")?;
        let Some(ipra) = crate::register::execution::load_ipra(&mut conn, ipra_id).await? else {
            continue;
        };
        let sender: String = row.try_get("sender_ogrn")?;
        let sender_name = crate::register::directory::organisation(&app.db, &sender)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        let consent_at: String = row.try_get("consent_at")?;
        let attr = |code: &str, value: &str| model::Attribute {
            code: code.into(),
            value: value.into(),
        };
        let mut extra = vec![
            attr("request-id", &id.to_string()),
            attr("ipra-number", &ipra.number),
            attr("ipra-document-id", &ipra.document_id),
            attr("ipra-extract-id", &ipra.extract_id),
            attr("protocol-number", &ipra.protocol_number),
            attr("protocol-date", &ipra.protocol_date),
            attr("is-child", if ipra.is_child { "true" } else { "false" }),
            attr("sender-ogrn", &sender),
            attr("sender-name", &sender_name),
            attr("received", &row.try_get::<String, _>("received_date")?),
            attr("due-date", &row.try_get::<String, _>("due_date")?),
            attr("consent", "true"),
            attr("consent-by", &row.try_get::<String, _>("consent_by")?),
            attr("consent-date", &received_day(&consent_at)),
            attr("reason", &row.try_get::<String, _>("reason")?),
        ];
        if let Some(d) = &ipra.decision_date {
            extra.push(attr("decision-date", d));
        }
        if let Some(by) = &ipra.issued_by {
            extra.push(attr("issued-by", by));
        }
        let printed: Option<Vec<u8>> = row.try_get("printed")?;
        if printed.is_some() {
            extra.push(attr("printed-form", "true"));
        }
        let attributes = pairs(&row.try_get::<String, _>("attributes")?);
        let items = items_of(&attributes);
        extra.push(attr("items", &items.len().to_string()));
        for (i, item) in items.iter().enumerate() {
            let n = i + 1;
            extra.push(attr(&format!("item.{n}.key"), &item.key));
            if let Some(code) = &item.code {
                extra.push(attr(&format!("item.{n}.code"), code));
            }
            extra.push(attr(&format!("item.{n}.name"), &item.name));
            if let Some(q) = ipra
                .measures
                .iter()
                .find(|m| m.key == item.key)
                .and_then(|m| m.quantity.clone())
            {
                extra.push(attr(&format!("item.{n}.quantity"), &q));
            }
            extra.push(attr(&format!("item.{n}.reason"), &item.reason));
        }
        out.push(Outgoing {
            id,
            revision: row.try_get("revision")?,
            ipra_id,
            plan: model::PlanInput {
                step: step.into(),
                persons: vec![ipra.person.clone()],
                today: crate::register::deadlines::format_date(crate::register::deadlines::today()),
                extra,
            },
            printed,
        });
    }
    Ok(out)
}

/// A request handed to the outbox, in the transaction that queued its documents: its document's name (answers
/// find it by this) and message. `false` when it was changed or withdrawn since it was written (the caller
/// rolls back: nothing is queued, the next run writes it anew).
pub async fn mark_queued(
    conn: &mut AnyConnection,
    id: i64,
    revision: i64,
    document_name: &str,
    message_id: i64,
) -> Result<bool> {
    Ok(sqlx::query(
        "UPDATE tsr_clarifications SET document_name = $1, message_id = $2 \
         WHERE id = $3 AND status = 'raised' AND message_id IS NULL AND revision = $4",
    )
    .bind(document_name)
    .bind(message_id)
    .bind(id)
    .bind(revision)
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1)
}

/// The requests whose message the transport delivered become `sent` (their follow-ups too). Returns how many.
pub async fn mark_delivered(app: &App, actor: &str) -> Result<u64> {
    let delivered = sqlx::query(
        "SELECT c.id, c.ipra_id, m.updated_at FROM tsr_clarifications c JOIN exchange_messages m ON m.id = c.message_id \
         WHERE c.status = 'raised' AND m.status = 'sent' ORDER BY c.id",
    )
    .fetch_all(&app.db.pool)
    .await?;
    for row in &delivered {
        let id: i64 = row.try_get("id")?;
        let sent_at: String = row.try_get("updated_at")?;
        let mut tx = app.db.pool.begin().await?;
        sqlx::query("UPDATE tsr_clarifications SET status = 'sent', sent_at = $1 WHERE id = $2 AND status = 'raised'")
            .bind(&sent_at)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE follow_ups SET status = 'sent' WHERE status = 'open' AND id = (SELECT follow_up_id FROM tsr_clarifications WHERE id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        crate::audit::record(
            &app.db,
            actor,
            "tsr.clarification.sent",
            &format!("ipra:{}", row.try_get::<i64, _>("ipra_id")?),
            Some(&format!("запрос {id}")),
        )
        .await?;
    }
    Ok(delivered.len() as u64)
}
