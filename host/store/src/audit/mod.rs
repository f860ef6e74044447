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

pub mod search;

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

#[derive(sqlx::FromRow)]
struct Entry {
    id: i64,
    at: String,
    actor: String,
    action: String,
    subject: String,
    detail: Option<String>,
}

fn entry(row: &sqlx::any::AnyRow) -> Result<Entry> {
    Ok(sqlx::FromRow::from_row(row)?)
}

/// A hash-chained log: its table (with `id`, `seq`, `entry_hash`), the row holding its head, the
/// fields its hash covers and how, and its name in messages.
pub struct Chain {
    /// The table, also the chain's label in the anchor file.
    pub table: &'static str,
    pub head_table: &'static str,
    /// The columns [`Chain::hash`] reads, `id` among them.
    pub columns: &'static str,
    pub hash: fn(&str, i64, &sqlx::any::AnyRow) -> Result<String>,
    /// «журнала аудита»: the genitive used in messages.
    pub of: &'static str,
}

/// The general audit log: reads of personal data and administrative actions.
pub const AUDIT_LOG: Chain = Chain {
    table: "audit_log",
    head_table: "audit_seal",
    columns: "id, at, actor, action, subject, detail",
    hash: |prev, seq, row| Ok(entry_hash(prev, seq, &entry(row)?)),
    of: "журнала аудита",
};

/// The chain's head: the place and hash of its last sealed entry.
#[derive(Clone, Debug, PartialEq, Serialize, sqlx::FromRow)]
pub struct Head {
    pub seq: i64,
    #[sqlx(rename = "head_hash")]
    pub hash: String,
}

/// Where the heads are anchored: `audit.anchor_file` (`IPRA_AUDIT_ANCHOR_FILE`), else
/// `DATA_DIR/audit/anchors.log`.
pub fn anchor_file(data_dir: &Path) -> PathBuf {
    crate::config::current()
        .config
        .audit
        .anchor_file
        .clone()
        .unwrap_or_else(|| data_dir.join("audit").join("anchors.log"))
}

/// Seals what both logs took in since the last seal (see [`seal_chain`]); the number sealed.
pub async fn seal(db: &Db, anchor: Option<&Path>) -> Result<u64> {
    Ok(seal_chain(db, &AUDIT_LOG, anchor).await? + seal_chain(db, &crate::exchange::log::CHAIN, anchor).await?)
}

/// Seals the entries of a chain written since its last seal, a batch per transaction, and anchors
/// the new head; the number sealed. Sealers are serialised by the head's row, so two instances
/// never fork the chain; an entry committed late (a PostgreSQL id taken earlier) simply gets a
/// later place.
pub async fn seal_chain(db: &Db, chain: &Chain, anchor: Option<&Path>) -> Result<u64> {
    let Chain { table, head_table, .. } = chain;
    let mut sealed = 0u64;
    loop {
        // Nothing to do is one index probe, no write.
        let pending = sqlx::query(&format!("SELECT id FROM {table} WHERE seq IS NULL ORDER BY id LIMIT 1"))
            .fetch_optional(&db.pool)
            .await?
            .is_some();
        if !pending {
            return Ok(sealed);
        }
        let mut tx = db.pool.begin().await?;
        // A write first: the head's row lock (PostgreSQL) or the write lock (SQLite) is taken
        // before anything is read, so the head read is the one this seal extends.
        sqlx::query(&format!("UPDATE {head_table} SET sealed_at = $1 WHERE id = 1"))
            .bind(now())
            .execute(&mut *tx)
            .await?;
        let head = sqlx::query(&format!("SELECT seq, head_hash FROM {head_table} WHERE id = 1"))
            .fetch_one(&mut *tx)
            .await?;
        let (mut seq, mut prev): (i64, String) = (head.try_get("seq")?, head.try_get("head_hash")?);
        let rows = sqlx::query(&format!(
            "SELECT {} FROM {table} WHERE seq IS NULL ORDER BY id LIMIT $1",
            chain.columns
        ))
        .bind(SEAL_BATCH)
        .fetch_all(&mut *tx)
        .await?;
        let mut updates = Vec::with_capacity(rows.len());
        for row in &rows {
            seq += 1;
            prev = (chain.hash)(&prev, seq, row)?;
            updates.push((row.try_get::<i64, _>("id")?, seq, prev.clone()));
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
                 UPDATE {table} SET seq = v.seq, entry_hash = v.hash FROM v WHERE {table}.id = v.id"
            );
            let mut q = sqlx::query(&sql);
            for (id, seq, hash) in chunk {
                q = q.bind(*id).bind(*seq).bind(hash.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        sqlx::query(&format!(
            "UPDATE {head_table} SET seq = $1, head_hash = $2 WHERE id = 1"
        ))
        .bind(seq)
        .bind(&prev)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        sealed += rows.len() as u64;
        if let Some(path) = anchor {
            write_anchor(path, table, &Head { seq, hash: prev })?;
        }
    }
}

/// Appends a head to the anchor file, flushed to disk.
fn write_anchor(path: &Path, label: &str, head: &Head) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("каталог якорей журнала {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("файл якорей журналов {}", path.display()))?;
    writeln!(file, "{label}\t{}\t{}\t{}", head.seq, head.hash, now())?;
    file.sync_data()?;
    Ok(())
}

/// The heads of the audit log recorded in the anchor file (absent file: none).
#[cfg(test)]
pub fn read_anchors(path: &Path) -> Result<Vec<Head>> {
    read_chain_anchors(path, AUDIT_LOG.table)
}

/// The heads of one chain recorded in the anchor file (absent file: none).
pub fn read_chain_anchors(path: &Path, label: &str) -> Result<Vec<Head>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("файл якорей журналов {}", path.display())),
    };
    let mut heads = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            [name, seq, hash, ..] if *name == label => heads.push(Head {
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

/// The audit log's head as the database holds it now.
pub async fn head(db: &Db) -> Result<Head> {
    chain_head(db, &AUDIT_LOG).await
}

/// A chain's head as the database holds it now.
pub async fn chain_head(db: &Db, chain: &Chain) -> Result<Head> {
    let row = sqlx::query(&format!("SELECT seq, head_hash FROM {} WHERE id = 1", chain.head_table))
        .fetch_one(&db.pool)
        .await?;
    Ok(sqlx::FromRow::from_row(&row)?)
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
    /// Stored documents checked against the log (the exchange log).
    pub documents_checked: u64,
}

impl Verification {
    /// The chain holds up to `seq` and breaks there.
    pub fn broken(seq: i64, reason: String, entries: i64, checked: u64, head: &Head) -> Verification {
        Verification {
            entries: entries.max(0) as u64,
            ok: false,
            broken_at: Some(seq),
            reason: Some(reason),
            head: head.clone(),
            heads_checked: checked,
            documents_checked: 0,
        }
    }
}

/// Recomputes the audit log's chain (see [`verify_chain`]).
#[cfg(test)]
pub async fn verify(db: &Db, recorded: &[Head]) -> Result<Verification> {
    verify_chain(db, &AUDIT_LOG, recorded).await
}

/// Recomputes a chain from its first entry, a chunk at a time (flat memory at millions of
/// entries), and checks it against the stored head and every recorded head in `recorded`.
pub async fn verify_chain(db: &Db, chain: &Chain, recorded: &[Head]) -> Result<Verification> {
    let of = chain.of;
    let stored = chain_head(db, chain).await?;
    // Every head recorded at a place, older ones too: a chain recomputed and sealed again leaves a
    // second, different head at the same place in the anchor file.
    let mut expected_at: std::collections::HashMap<i64, Vec<&str>> = std::collections::HashMap::new();
    for h in recorded {
        expected_at.entry(h.seq).or_default().push(h.hash.as_str());
    }
    let mut prev = GENESIS.to_string();
    let mut seq = 0i64;
    let mut checked = 0u64;
    let broken = Verification::broken;
    loop {
        let rows = sqlx::query(&format!(
            "SELECT {}, seq, entry_hash FROM {} WHERE seq > $1 ORDER BY seq LIMIT $2",
            chain.columns, chain.table
        ))
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
                    format!("запись {} цепочки {of} отсутствует: удалена", seq + 1),
                    seq,
                    checked,
                    &stored,
                ));
            }
            seq = at;
            let computed = (chain.hash)(&prev, seq, row)?;
            if computed != hash {
                return Ok(broken(
                    seq,
                    format!("запись {seq} {of} не совпадает со своим хешем: изменена"),
                    seq,
                    checked,
                    &stored,
                ));
            }
            if let Some(recorded) = expected_at.remove(&seq) {
                checked += recorded.len() as u64;
                if recorded.iter().any(|r| *r != hash) {
                    return Ok(broken(
                        seq,
                        format!(
                            "запись {seq} {of} не та, что была записана в якорь: журнал пересчитан после изменения"
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
            format!(
                "в {} нет записи {lost}, записанной в якорь: последние записи удалены",
                in_log(of)
            ),
            seq,
            checked,
            &stored,
        ));
    }
    if stored.seq != seq || stored.hash != prev {
        return Ok(broken(
            seq,
            format!(
                "голова {of} ({}) не совпадает с последней записью цепочки ({seq}): последние записи удалены",
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
        documents_checked: 0,
    })
}

/// «журнала аудита» → «журнале аудита».
fn in_log(of: &str) -> String {
    of.replacen("журнала", "журнале", 1)
}

/// Both logs checked: the exchange log and the audit log (sealed first, against their anchors
/// and the heads recorded by hand). The exchange log's figures stay at the top level, as they
/// were before the audit log had a chain.
#[derive(Clone, Debug, Serialize)]
pub struct Logs {
    pub ok: bool,
    pub entries: u64,
    pub broken_at: Option<i64>,
    pub reason: Option<String>,
    pub exchange_log: Verification,
    pub audit_log: Verification,
}

/// A head the operator recorded, for one of the chains.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedHead {
    pub chain: &'static str,
    pub head: Head,
}

pub async fn verify_logs(db: &Db, data_dir: &Path, heads: &[RecordedHead]) -> Result<Logs> {
    let anchors = anchor_file(data_dir);
    seal(db, Some(&anchors)).await?;
    let recorded = |chain: &Chain| -> Result<Vec<Head>> {
        let mut recorded = read_chain_anchors(&anchors, chain.table)?;
        recorded.extend(heads.iter().filter(|h| h.chain == chain.table).map(|h| h.head.clone()));
        Ok(recorded)
    };
    let exchange = &crate::exchange::log::CHAIN;
    let mut exchange_log = verify_chain(db, exchange, &recorded(exchange)?).await?;
    if exchange_log.ok {
        exchange_log = crate::exchange::log::verify_documents(db, exchange_log).await?;
    }
    let audit_log = verify_chain(db, &AUDIT_LOG, &recorded(&AUDIT_LOG)?).await?;
    Ok(Logs {
        ok: exchange_log.ok && audit_log.ok,
        entries: exchange_log.entries,
        broken_at: exchange_log.broken_at,
        reason: exchange_log.reason.clone().or_else(|| audit_log.reason.clone()),
        exchange_log,
        audit_log,
    })
}

/// A head written as the operator records it: `SEQ:HASH` for the audit log, `exchange:SEQ:HASH`
/// (or `exchange_log:…`) for the exchange log.
pub fn parse_head(text: &str) -> Result<RecordedHead> {
    let text = text.trim();
    let (chain, rest) = match text.split_once(':') {
        Some(("exchange" | "exchange_log", rest)) => (crate::exchange::log::CHAIN.table, rest),
        Some(("audit" | "audit_log", rest)) => (AUDIT_LOG.table, rest),
        _ => (AUDIT_LOG.table, text),
    };
    let (seq, hash) = rest
        .split_once(':')
        .context("голова журнала записывается как НОМЕР:ХЕШ или exchange:НОМЕР:ХЕШ (её печатает «ipra audit head»)")?;
    Ok(RecordedHead {
        chain,
        head: Head {
            seq: seq.trim().parse().context("номер записи в голове журнала")?,
            hash: hash.trim().to_string(),
        },
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
        let recorded = parse_head(&format!("5:{}", read_anchors(&anchors2).unwrap()[0].hash))
            .unwrap()
            .head;
        assert!(
            !verify(&db2, &[recorded]).await.unwrap().ok,
            "so does the operator's record"
        );
    }
}
