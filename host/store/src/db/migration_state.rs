//! Whether the database's schema is the one this binary carries, for the readiness probe: the
//! migrations applied (`_sqlx_migrations`) against those embedded in the binary. The server
//! migrates on open, so a difference means something changed the database under it — a newer
//! version of the server migrated it further, a restore put an older schema back, a migration
//! failed half-way or was edited after it ran.

use super::Db;
use anyhow::Result;
use serde::Serialize;

/// The migrations of the binary and of the database, and how they differ.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MigrationState {
    /// Migrations this binary carries.
    pub known: usize,
    /// Migrations the database has applied.
    pub applied: usize,
    /// Carried by the binary, not applied.
    pub missing: Vec<i64>,
    /// Applied, unknown to the binary (a newer version migrated the database).
    pub unknown: Vec<i64>,
    /// Applied and marked unfinished.
    pub failed: Vec<i64>,
    /// Applied with another checksum than the binary's file.
    pub changed: Vec<i64>,
}

impl MigrationState {
    /// The applied migrations are exactly the binary's.
    pub fn is_current(&self) -> bool {
        self.missing.is_empty() && self.unknown.is_empty() && self.failed.is_empty() && self.changed.is_empty()
    }

    /// What is wrong, one Russian sentence per kind of difference.
    pub fn problems(&self) -> Vec<String> {
        let list = |versions: &[i64]| versions.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let mut out = Vec::new();
        if !self.unknown.is_empty() {
            out.push(format!(
                "в базе данных применены миграции, которых нет в этой версии сервера ({}): базу обновила более новая версия — обновите сервер или восстановите базу из резервной копии",
                list(&self.unknown)
            ));
        }
        if !self.missing.is_empty() {
            out.push(format!(
                "к базе данных не применены миграции {}: перезапустите сервер или выполните ipra migrate",
                list(&self.missing)
            ));
        }
        if !self.failed.is_empty() {
            out.push(format!(
                "миграции {} применены к базе данных не до конца: восстановите базу из резервной копии",
                list(&self.failed)
            ));
        }
        if !self.changed.is_empty() {
            out.push(format!(
                "миграции {} в базе данных отличаются от миграций этой версии сервера (другая контрольная сумма)",
                list(&self.changed)
            ));
        }
        out
    }
}

/// Compares the migrations applied to `db` with those the binary carries for its engine (the
/// upgrade check's own reading, [`super::upgrade::status`], summed up for the probe).
pub async fn migration_state(db: &Db) -> Result<MigrationState> {
    let status = super::upgrade::status(db).await?;
    let versions = |list: &[super::upgrade::Applied]| list.iter().map(|m| m.version).collect::<Vec<_>>();
    Ok(MigrationState {
        known: status.applied.len() + status.pending.len(),
        applied: status.applied.len() + status.unknown.len(),
        missing: status.pending.iter().map(|m| m.version).collect(),
        unknown: versions(&status.unknown),
        failed: status
            .applied
            .iter()
            .chain(&status.unknown)
            .filter(|m| !m.success)
            .map(|m| m.version)
            .collect(),
        changed: status.changed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_migration_from_the_future_is_told() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&super::super::default_url(dir.path())).await.unwrap();
        let state = migration_state(&db).await.unwrap();
        assert!(state.is_current(), "{state:?}");
        assert_eq!(state.known, state.applied);
        assert!(state.problems().is_empty());
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (99999, 'future', TRUE, X'00', 0)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        let state = migration_state(&db).await.unwrap();
        assert_eq!(state.unknown, vec![99999]);
        assert!(!state.is_current());
        assert!(state.problems()[0].contains("99999"), "{:?}", state.problems());
    }
}
