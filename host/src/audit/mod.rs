//! The audit log: every read of a person's card and every administrative change, append-only and
//! tamper-evident.
//!
//! An entry is written as one INSERT (the hot path of every card read stays one statement) and
//! sealed shortly after, in order, by the scheduler's leader ([`seal`]): it gets its place in the
//! chain (`seq`) and a hash over the entry before it and every field of its own. An edited entry
//! no longer matches its hash, a deleted one leaves a gap in `seq`, an inserted one has none.
//! What a hash chain alone cannot show — its last entries deleted, or the whole chain recomputed
//! after an edit — is caught against heads kept outside the database: every seal appends the new
//! head to an anchor file (`DATA_DIR/audit/anchors.log`, or an append-only place named by
//! `IPRA_AUDIT_ANCHOR_FILE`), and `ipra audit head` prints it for the operator to record.

use crate::db::{now, Db, Engine};
use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The hash before the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Entries sealed in one transaction.
const SEAL_BATCH: i64 = 5_000;
/// Entries read at a time by [`verify`].
const VERIFY_CHUNK: i64 = 10_000;

/// Appends one entry: who did what to which subject.
pub async fn record(db: &Db, actor: &str, action: &str, subject: &str, detail: Option<&str>) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")
        .bind(now())
        .bind(actor)
        .bind(action)
        .bind(subject)
        .bind(detail)
        .execute(&db.pool)
        .await?;
    Ok(())
}

/// The hash of an entry at place `seq` after `prev`: every field, with its boundaries and whether
/// the detail is absent or empty.
fn entry_hash(prev: &str, seq: i64, entry: &Entry) -> String {
    let mut h = Sha256::new();
    let seq = seq.to_string();
    let id = entry.id.to_string();
    for part in [prev, &seq, &id, &entry.at, &entry.actor, &entry.action, &entry.subject] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    match &entry.detail {
        Some(detail) => {
            h.update([1u8]);
            h.update(detail.as_bytes());
        }
        None => h.update([2u8]),
    }
    hex::encode(h.finalize())
}

struct Entry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: Option<String>,
}

fn entry(row: &sqlx::any::AnyRow) -> Result<Entry> {
    Ok(Entry {
        id: row.try_get("id")?,
        at: row.try_get("at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject: row.try_get("subject")?,
        detail: row.try_get("detail")?,
    })
}

/// The chain's head: the place and hash of its last sealed entry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
}

/// Where the heads are anchored: `IPRA_AUDIT_ANCHOR_FILE`, else `DATA_DIR/audit/anchors.log`.
pub fn anchor_file(data_dir: &Path) -> PathBuf {
    std::env::var_os("IPRA_AUDIT_ANCHOR_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| data_dir.join("audit").join("anchors.log"))
}

/// Seals the entries written since the last seal, a batch per transaction, and anchors the new
/// head; the number sealed. Sealers are serialised by the head's row, so two instances never
/// fork the chain; an entry committed late (a PostgreSQL id taken earlier) simply gets a later
/// place.
pub async fn seal(db: &Db, anchor: Option<&Path>) -> Result<u64> {
    let mut sealed = 0u64;
    loop {
        // Nothing to do is one index probe, no write.
        let pending = sqlx::query("SELECT id FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT 1")
            .fetch_optional(&db.pool)
            .await?
            .is_some();
        if !pending {
            return Ok(sealed);
        }
        let mut tx = db.pool.begin().await?;
        // A write first: the head's row lock (PostgreSQL) or the write lock (SQLite) is taken
        // before anything is read, so the head read is the one this seal extends.
        sqlx::query("UPDATE audit_seal SET sealed_at = $1 WHERE id = 1")
            .bind(now())
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query("SELECT seq, head_hash FROM audit_seal WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (mut seq, mut prev): (i64, String) = (head.try_get("seq")?, head.try_get("head_hash")?);
        let rows = sqlx::query(
            "SELECT id, at, actor, action, subject, detail FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT $1",
        )
        .bind(SEAL_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in &rows {
            let e = entry(row)?;
            seq += 1;
            prev = entry_hash(&prev, seq, &e);
            updates.push((e.id, seq, prev.clone()));
        }
        for chunk in updates.chunks(400) {
            let cast = |n: usize, t: &str| match db.engine {
                Engine::Postgres => format!("${n}::{t}"),
                Engine::Sqlite => format!("${n}"),
            };
            let values = (0..chunk.len())
                .map(|i| {
                    format!(
                        "({}, {}, {})",
                        cast(3 * i + 1, "bigint"),
                        cast(3 * i + 2, "bigint"),
                        cast(3 * i + 3, "text")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "WITH v (id, seq, hash) AS (VALUES {values}) \
                 UPDATE audit_log SET seq = v.seq, entry_hash = v.hash FROM v WHERE audit_log.id = v.id"
            );
            let mut q = sqlx::query(&sql);
            for (id, seq, hash) in chunk {
                q = q.bind(*id).bind(*seq).bind(hash.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query("UPDATE audit_seal SET seq = $1, head_hash = $2 WHERE id = 1")
            .bind(seq)
            .bind(&prev)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sealed += rows.len() as u64;
        if let Some(path) = anchor {
            write_anchor(path, &Head { seq, hash: prev })?;
        }
    }
}

/// Appends a head to the anchor file, flushed to disk.
fn write_anchor(path: &Path, head: &Head) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("каталог якорей журнала {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("файл якорей журнала аудита {}", path.display()))?;
    writeln!(file, "audit_log\t{}\t{}\t{}", head.seq, head.hash, now())?;
    file.sync_data()?;
    Ok(())
}

/// The heads recorded in the anchor file (absent file: none).
pub fn read_anchors(path: &Path) -> Result<Vec<Head>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("файл якорей журнала аудита {}", path.display())),
    };
    let mut heads = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["audit_log", seq, hash, ..] => heads.push(Head {
                seq: seq
                    .parse()
                    .with_context(|| format!("{}, строка {}: номер записи «{seq}»", path.display(), n + 1))?,
                hash: hash.to_string(),
            }),
            _ => continue,
        }
    }
    Ok(heads)
}

/// The head as the database holds it now.
pub async fn head(db: &Db) -> Result<Head> {
    let row = sqlx::query("SELECT seq, head_hash FROM audit_seal WHERE id = 1")
        .fetch_one(&db.pool)
        .await?;
    Ok(Head {
        seq: row.try_get("seq")?,
        hash: row.try_get("head_hash")?,
    })
}

/// What [`verify`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Verification {
    pub entries: u64,
    pub ok: bool,
    /// The place in the chain where it does not hold, with the reason.
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
    pub head: Head,
    /// Recorded heads checked against the chain (anchors and the operator's).
    pub heads_checked: u64,
}

/// Recomputes the chain from its first entry, a chunk at a time (flat memory at millions of
/// entries), and checks it against the stored head and every recorded head in `recorded`.
pub async fn verify(db: &Db, recorded: &[Head]) -> Result<Verification> {
    let stored = head(db).await?;
    let mut expected_at: std::collections::HashMap<i64, &str> =
        recorded.iter().map(|h| (h.seq, h.hash.as_str())).collect();
    let mut prev = GENESIS.to_string();
    let mut seq = 0i64;
    let mut checked = 0u64;
    let broken = |seq: i64, reason: String, entries: i64, checked: u64, head: &Head| Verification {
        entries: entries.max(0) as u64,
        ok: false,
        broken_at: Some(seq),
        reason: Some(reason),
        head: head.clone(),
        heads_checked: checked,
    };
    loop {
        let rows = sqlx::query(
            "SELECT id, at, actor, action, subject, detail, seq, entry_hash FROM audit_log \
             WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(seq)
        .bind(VERIFY_CHUNK)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let at: i64 = row.try_get("seq")?;
            let hash: String = row.try_get("entry_hash")?;
            if at != seq + 1 {
                return Ok(broken(
                    seq + 1,
                    format!("запись {} цепочки журнала аудита отсутствует: удалена", seq + 1),
                    seq,
                    checked,
                    &stored,
                ));
            }
            seq = at;
            let computed = entry_hash(&prev, seq, &entry(row)?);
            if computed != hash {
                return Ok(broken(
                    seq,
                    format!("запись {seq} журнала аудита не совпадает со своим хешем: изменена"),
                    seq,
                    checked,
                    &stored,
                ));
            }
            if let Some(recorded) = expected_at.remove(&seq) {
                checked += 1;
                if recorded != hash {
                    return Ok(broken(
                        seq,
                        format!(
                            "запись {seq} журнала аудита не та, что была записана в якорь: журнал пересчитан после изменения"
                        ),
                        seq,
                        checked,
                        &stored,
                    ));
                }
            }
            prev = hash;
        }
    }
    if let Some(lost) = expected_at.keys().min() {
        return Ok(broken(
            *lost,
            format!("в журнале аудита нет записи {lost}, записанной в якорь: последние записи удалены"),
            seq,
            checked,
            &stored,
        ));
    }
    if stored.seq != seq || stored.hash != prev {
        return Ok(broken(
            seq,
            format!(
                "голова журнала аудита ({}) не совпадает с последней записью цепочки ({seq}): последние записи удалены",
                stored.seq
            ),
            seq,
            checked,
            &stored,
        ));
    }
    Ok(Verification {
        entries: seq as u64,
        ok: true,
        broken_at: None,
        reason: None,
        head: stored,
        heads_checked: checked,
    })
}

/// Both logs checked: the exchange log and the audit log (sealed first, against its anchors and
/// `heads` recorded by hand). The exchange log's figures stay at the top level, as they were
/// before the audit log had a chain.
#[derive(Clone, Debug, Serialize)]
pub struct Logs {
    pub ok: bool,
    pub entries: u64,
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
    pub exchange_log: crate::exchange::log::Verification,
    pub audit_log: Verification,
}

pub async fn verify_logs(db: &Db, data_dir: &Path, heads: &[Head]) -> Result<Logs> {
    let anchors = anchor_file(data_dir);
    seal(db, Some(&anchors)).await?;
    let exchange_log = crate::exchange::log::verify(db).await?;
    let mut recorded = read_anchors(&anchors)?;
    recorded.extend(heads.iter().cloned());
    let audit_log = verify(db, &recorded).await?;
    Ok(Logs {
        ok: exchange_log.ok && audit_log.ok,
        entries: exchange_log.entries,
        broken_at: exchange_log.broken_at,
        reason: exchange_log.reason.clone().or_else(|| audit_log.reason.clone()),
        exchange_log,
        audit_log,
    })
}

/// A head written as the operator records it, `SEQ:HASH`.
pub fn parse_head(text: &str) -> Result<Head> {
    let (seq, hash) = text
        .split_once(':')
        .context("голова журнала записывается как НОМЕР:ХЕШ (её печатает «ipra audit head»)")?;
    Ok(Head {
        seq: seq.trim().parse().context("номер записи в голове журнала")?,
        hash: hash.trim().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            id: 7,
            at: "2026-11-20T10:00:00Z".into(),
            actor: "user:coord".into(),
            action: "ipra.read".into(),
            subject: "ipra:1".into(),
            detail: None,
        }
    }

    #[test]
    fn the_hash_covers_every_field_and_the_place() {
        let base = entry_hash(GENESIS, 1, &sample());
        assert_ne!(base, entry_hash(GENESIS, 2, &sample()));
        assert_ne!(base, entry_hash("1", 1, &sample()));
        for change in [
            |e: &mut Entry| e.id = 8,
            |e: &mut Entry| e.at.push('0'),
            |e: &mut Entry| e.actor.push('x'),
            |e: &mut Entry| e.action.push('x'),
            |e: &mut Entry| e.subject.push('x'),
            |e: &mut Entry| e.detail = Some(String::new()),
        ] {
            let mut e = sample();
            change(&mut e);
            assert_ne!(base, entry_hash(GENESIS, 1, &e));
        }
    }

    #[tokio::test]
    async fn the_chain_shows_edits_deletions_truncation_and_recomputation() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&crate::db::default_url(dir.path())).await.unwrap();
        let anchors = dir.path().join("anchors.log");
        for i in 0..12 {
            record(&db, "user:coord", "ipra.read", &format!("ipra:{i}"), None)
                .await
                .unwrap();
        }
        assert_eq!(seal(&db, Some(&anchors)).await.unwrap(), 12);
        assert_eq!(seal(&db, Some(&anchors)).await.unwrap(), 0, "nothing twice");
        record(&db, "user:admin", "user.add", "user:x", Some("роль"))
            .await
            .unwrap();
        seal(&db, Some(&anchors)).await.unwrap();
        let recorded = read_anchors(&anchors).unwrap();
        assert_eq!(recorded.len(), 2);
        let v = verify(&db, &recorded).await.unwrap();
        assert!(v.ok, "{v:?}");
        assert_eq!((v.entries, v.heads_checked, v.head.seq), (13, 2, 13));

        let run = |sql: &'static str| {
            let db = db.clone();
            async move { sqlx::query(sql).execute(&db.pool).await.unwrap() }
        };
        // An edit.
        run("UPDATE audit_log SET actor = 'user:other' WHERE seq = 5").await;
        let v = verify(&db, &recorded).await.unwrap();
        assert_eq!((v.ok, v.broken_at), (false, Some(5)), "{v:?}");
        assert!(v.reason.unwrap().contains("изменена"));
        run("UPDATE audit_log SET actor = 'user:coord' WHERE seq = 5").await;
        assert!(verify(&db, &recorded).await.unwrap().ok);

        // The whole chain recomputed after an edit: only the recorded heads show it.
        run("UPDATE audit_log SET subject = 'ipra:999' WHERE seq = 3").await;
        run("UPDATE audit_log SET seq = NULL, entry_hash = NULL").await;
        run("UPDATE audit_seal SET seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'").await;
        seal(&db, None).await.unwrap();
        assert!(verify(&db, &[]).await.unwrap().ok, "a chain recomputed holds by itself");
        let v = verify(&db, &recorded).await.unwrap();
        assert!(!v.ok && v.reason.unwrap().contains("пересчитан"));
        run("UPDATE audit_log SET subject = 'ipra:2' WHERE seq = 3").await;
        run("UPDATE audit_log SET seq = NULL, entry_hash = NULL").await;
        run("UPDATE audit_seal SET seq = 0, head_hash = '0000000000000000000000000000000000000000000000000000000000000000'").await;
        seal(&db, None).await.unwrap();
        assert!(
            verify(&db, &recorded).await.unwrap().ok,
            "the same entries make the same chain"
        );

        // An entry from the middle deleted.
        run("DELETE FROM audit_log WHERE seq = 7").await;
        let v = verify(&db, &recorded).await.unwrap();
        assert_eq!((v.ok, v.broken_at), (false, Some(7)), "{v:?}");
        assert!(v.reason.unwrap().contains("удалена"));

        // The last entries deleted (and the head moved back with them): the anchors remember.
        let db2_dir = tempfile::tempdir().unwrap();
        let db2 = Db::open(&crate::db::default_url(db2_dir.path())).await.unwrap();
        let anchors2 = db2_dir.path().join("anchors.log");
        for i in 0..5 {
            record(&db2, "user:coord", "ipra.read", &format!("ipra:{i}"), None)
                .await
                .unwrap();
        }
        seal(&db2, Some(&anchors2)).await.unwrap();
        let h3 = sqlx::query_scalar::<_, String>("SELECT entry_hash FROM audit_log WHERE seq = 3")
            .fetch_one(&db2.pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_log WHERE seq > 3")
            .execute(&db2.pool)
            .await
            .unwrap();
        let v = verify(&db2, &[]).await.unwrap();
        assert!(
            !v.ok && v.reason.unwrap().contains("голова"),
            "the stored head remembers"
        );
        sqlx::query("UPDATE audit_seal SET seq = 3, head_hash = $1")
            .bind(&h3)
            .execute(&db2.pool)
            .await
            .unwrap();
        assert!(verify(&db2, &[]).await.unwrap().ok);
        let v = verify(&db2, &read_anchors(&anchors2).unwrap()).await.unwrap();
        assert!(
            !v.ok && v.reason.unwrap().contains("последние записи удалены"),
            "the anchor remembers"
        );
        let recorded = parse_head(&format!("5:{}", read_anchors(&anchors2).unwrap()[0].hash)).unwrap();
        assert!(
            !verify(&db2, &[recorded]).await.unwrap().ok,
            "so does the operator's record"
        );
    }
}
