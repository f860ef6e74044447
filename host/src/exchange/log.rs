//! The append-only exchange log: each entry holds a document's SHA-256 and the hash of the entry
//! before it, so that any change, deletion or insertion breaks the chain `ipra audit verify` checks.

use crate::db::{now, Db};
use anyhow::Result;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn entry_hash(prev: &str, at: &str, connector: &str, direction: &str, file_name: &str, sha256: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, at, connector, direction, file_name, sha256] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// Appends an entry. `prev_hash` is unique, so two writers racing on the same tail cannot fork
/// the chain: the loser retries on the new tail.
pub async fn append(
    db: &Db,
    connector: &str,
    direction: &str,
    message_id: Option<i64>,
    file_name: &str,
    sha256: &str,
) -> Result<()> {
    let mut last_error = None;
    for _ in 0..20 {
        let prev: String = sqlx::query("SELECT entry_hash FROM exchange_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&db.pool)
            .await?
            .map(|r| r.try_get("entry_hash"))
            .transpose()?
            .unwrap_or_else(|| GENESIS.to_string());
        let at = now();
        let hash = entry_hash(&prev, &at, connector, direction, file_name, sha256);
        let result = sqlx::query(
            "INSERT INTO exchange_log (at, connector, direction, message_id, file_name, sha256, prev_hash, entry_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&at)
        .bind(connector)
        .bind(direction)
        .bind(message_id)
        .bind(file_name)
        .bind(sha256)
        .bind(&prev)
        .bind(&hash)
        .execute(&db.pool)
        .await;
        match result {
            Ok(_) => return Ok(()),
            Err(e) => last_error = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    Err(last_error
        .map(Into::into)
        .unwrap_or_else(|| anyhow::anyhow!("журнал обмена занят")))
}

#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub ok: bool,
    /// The first entry whose hash or link does not hold, with the reason.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
}

/// Recomputes the chain from the first entry.
pub async fn verify(db: &Db) -> Result<Verification> {
    let rows = sqlx::query("SELECT * FROM exchange_log ORDER BY id")
        .fetch_all(&db.pool)
        .await?;
    let mut prev = GENESIS.to_string();
    let mut entries = 0;
    for row in rows {
        entries += 1;
        let id: i64 = row.try_get("id")?;
        let stored_prev: String = row.try_get("prev_hash")?;
        let stored: String = row.try_get("entry_hash")?;
        let expected = entry_hash(
            &stored_prev,
            &row.try_get::<String, _>("at")?,
            &row.try_get::<String, _>("connector")?,
            &row.try_get::<String, _>("direction")?,
            &row.try_get::<String, _>("file_name")?,
            &row.try_get::<String, _>("sha256")?,
        );
        let reason = if stored_prev != prev {
            Some("ссылка на предыдущую запись не совпадает: запись удалена, вставлена или переставлена")
        } else if stored != expected {
            Some("хеш записи не совпадает с её содержимым: запись изменена")
        } else {
            None
        };
        if let Some(reason) = reason {
            return Ok(Verification {
                entries,
                ok: false,
                broken_at: Some(id),
                reason: Some(reason.into()),
            });
        }
        prev = stored;
    }
    Ok(Verification {
        entries,
        ok: true,
        broken_at: None,
        reason: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_covers_every_field() {
        let base = entry_hash(GENESIS, "t", "fri", "in", "a.xml", "00");
        assert_ne!(base, entry_hash(GENESIS, "t", "fri", "in", "a.xml", "01"));
        assert_ne!(base, entry_hash(GENESIS, "t", "fri", "out", "a.xml", "00"));
        // Field boundaries matter: "ab"+"c" differs from "a"+"bc".
        assert_ne!(
            entry_hash(GENESIS, "t", "ab", "c", "f", "s"),
            entry_hash(GENESIS, "t", "a", "bc", "f", "s")
        );
    }
}
