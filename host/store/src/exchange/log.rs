//! The append-only exchange log: every exchanged document with its SHA-256, written in the same
//! transaction as its message (one INSERT) and sealed shortly after into a hash chain like the
//! audit log ([`crate::audit::seal`]): each entry's hash covers the entry before it, its place and
//! every field of its own. `ipra audit verify` recomputes the chain, checks it against the heads
//! anchored outside the database, and checks every stored document against the hash the log
//! holds for it, and that every document received or sent has its entry.

use crate::audit::{Chain, Verification};
use crate::db::{now, Db};
use anyhow::Result;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// Messages listed at a time by [`verify_documents`]; their documents are read one by one.
const DOCUMENT_CHUNK: i64 = 1_000;

/// The exchange log as a chain.
pub const CHAIN: Chain = Chain {
    table: "exchange_log",
    head_table: "exchange_seal",
    columns: "id, at, connector, direction, message_id, file_name, sha256",
    hash: |prev, seq, row| {
        let message = row.try_get::<Option<i64>, _>("message_id")?.map(|m| m.to_string());
        Ok(entry_hash(
            prev,
            seq,
            &[
                Some(row.try_get::<i64, _>("id")?.to_string()),
                Some(row.try_get("at")?),
                Some(row.try_get("connector")?),
                Some(row.try_get("direction")?),
                message,
                Some(row.try_get("file_name")?),
                Some(row.try_get("sha256")?),
            ],
        ))
    },
    of: "журнала обмена",
};

/// The hash of an entry at place `seq` after `prev`: every field with its boundary, an absent
/// field distinct from an empty one.
fn entry_hash(prev: &str, seq: i64, fields: &[Option<String>]) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update([0u8]);
    h.update(seq.to_string().as_bytes());
    h.update([0u8]);
    for field in fields {
        match field {
            Some(text) => {
                h.update([1u8]);
                h.update(text.as_bytes());
                h.update([0u8]);
            }
            None => h.update([2u8]),
        }
    }
    hex::encode(h.finalize())
}

/// Appends an entry inside the caller's transaction (the one that records or finishes the
/// message), so a message and its entry are committed together or not at all.
pub async fn append<'c, E>(
    executor: E,
    connector: &str,
    direction: &str,
    message_id: Option<i64>,
    file_name: &str,
    sha256: &str,
) -> Result<()>
where
    E: sqlx::Executor<'c, Database = sqlx::Any>,
{
    sqlx::query(
        "INSERT INTO exchange_log (at, connector, direction, message_id, file_name, sha256) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now())
    .bind(connector)
    .bind(direction)
    .bind(message_id)
    .bind(file_name)
    .bind(sha256)
    .execute(executor)
    .await?;
    Ok(())
}

/// Checks the stored documents against the log: a document replaced after it was logged no longer
/// hashes to the log's SHA-256, and a message received or sent without its entry is named.
/// Called after the chain itself held.
pub async fn verify_documents(db: &Db, mut chain: Verification) -> Result<Verification> {
    let mut after = 0i64;
    loop {
        let rows = sqlx::query(
            "SELECT m.id, m.direction, m.status, m.sha256, \
             (SELECT MIN(l.sha256) FROM exchange_log l WHERE l.message_id = m.id) AS logged, \
             (SELECT MIN(l.seq) FROM exchange_log l WHERE l.message_id = m.id) AS logged_at \
             FROM exchange_messages m WHERE m.id > $1 ORDER BY m.id LIMIT $2",
        )
        .bind(after)
        .bind(DOCUMENT_CHUNK)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            return Ok(chain);
        }
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            after = id;
            let direction: String = row.try_get("direction")?;
            let status: String = row.try_get("status")?;
            let stored: String = row.try_get("sha256")?;
            let payload: Vec<u8> = sqlx::query("SELECT payload FROM exchange_messages WHERE id = $1")
                .bind(id)
                .fetch_one(&db.pool)
                .await?
                .try_get("payload")?;
            let logged: Option<String> = row.try_get("logged")?;
            let logged_at: Option<i64> = row.try_get("logged_at")?;
            let actual = hex::encode(Sha256::digest(&payload));
            // An outgoing message is logged when it is sent; one still waiting has no entry yet.
            let must_be_logged = direction == "in" || status == "sent";
            let problem = match logged {
                Some(logged) if logged != actual || stored != actual => Some(format!(
                    "документ сообщения {id} не совпадает с хешем в журнале обмена: документ заменён после записи"
                )),
                None if must_be_logged => Some(format!("у сообщения {id} нет записи в журнале обмена: запись удалена")),
                _ if stored != actual => Some(format!(
                    "документ сообщения {id} не совпадает со своим хешем: документ заменён"
                )),
                _ => None,
            };
            if let Some(problem) = problem {
                let mut broken = Verification::broken(
                    logged_at.unwrap_or(chain.head.seq),
                    problem,
                    chain.entries as i64,
                    chain.heads_checked,
                    &chain.head,
                );
                broken.documents_checked = chain.documents_checked;
                return Ok(broken);
            }
            chain.documents_checked += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_field_its_boundaries_and_absence() {
        let hash = |seq: i64, fields: &[Option<&str>]| {
            entry_hash(
                "0",
                seq,
                &fields.iter().map(|f| f.map(str::to_string)).collect::<Vec<_>>(),
            )
        };
        let entry = [
            Some("1"),
            Some("t"),
            Some("fri"),
            Some("in"),
            Some("7"),
            Some("a"),
            Some("00"),
        ];
        let base = hash(1, &entry);
        assert_ne!(base, hash(2, &entry), "the place");
        for i in 0..entry.len() {
            let mut changed = entry;
            changed[i] = Some("x");
            assert_ne!(base, hash(1, &changed), "field {i}");
            changed[i] = None;
            assert_ne!(base, hash(1, &changed), "field {i} absent");
        }
        assert_ne!(hash(1, &[Some("ab"), Some("c")]), hash(1, &[Some("a"), Some("bc")]));
        assert_ne!(hash(1, &[Some("")]), hash(1, &[None]));
    }
}
