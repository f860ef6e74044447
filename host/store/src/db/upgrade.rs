//! Upgrades of the store: migrations only ever go forward, and a store is checked before anything
//! in it changes.
//!
//! On open ([`migrate`]) the migrations the store holds (`_sqlx_migrations`) are compared with the
//! ones this binary carries. A migration this binary does not know means a newer release made the
//! store: it is refused before anything is written, naming that migration and the release that
//! last opened the store (table `ipra_releases`, migration 0024), since going back is not
//! supported. A migration applied with other contents than this binary's file is refused too.
//! Only then are the pending migrations applied and this release recorded as having opened the
//! store.

use super::{migrator, Db, Engine};
use anyhow::Result;
use serde::Serialize;
use sqlx::Row;

/// This release of ipra (the workspace's version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// A migration as the store records it.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub version: i64,
    pub description: String,
    pub installed_on: String,
    pub success: bool,
    #[serde(skip)]
    pub checksum: Vec<u8>,
}

/// A release of ipra that opened the store.
#[derive(Clone, Debug, Serialize)]
pub struct Release {
    pub version: String,
    pub first_opened_at: String,
    pub instance: String,
}

/// A migration this binary carries.
#[derive(Clone, Debug, Serialize)]
pub struct Known {
    pub version: i64,
    pub description: String,
}

/// What `ipra migrate --status` shows.
#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub engine: &'static str,
    pub ipra_version: &'static str,
    /// Applied and known to this binary.
    pub applied: Vec<Applied>,
    /// Known to this binary, not yet applied.
    pub pending: Vec<Known>,
    /// Applied by a newer release: this binary does not know them.
    pub unknown: Vec<Applied>,
    /// Applied with other contents than this binary's file.
    pub changed: Vec<i64>,
    pub releases: Vec<Release>,
}

/// «0007 «ui admin»»: a migration as messages name it.
fn named(version: i64, description: &str) -> String {
    format!("{version:04} «{description}»")
}

/// Every migration this binary carries for the engine.
pub fn known(engine: Engine) -> Vec<Known> {
    migrator(engine)
        .iter()
        .filter(|m| !m.migration_type.is_down_migration())
        .map(|m| Known {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect()
}

/// The highest migration this binary carries for the engine.
pub fn latest(engine: Engine) -> i64 {
    known(engine).iter().map(|m| m.version).max().unwrap_or(0)
}

async fn table_exists(db: &Db, table: &str) -> Result<bool> {
    let sql = match db.engine {
        Engine::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Engine::Postgres => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
        }
    };
    let n: i64 = sqlx::query_scalar(sql).bind(table).fetch_one(&db.pool).await?;
    Ok(n > 0)
}

/// The migrations the store records (none when it has no migrations table yet).
pub async fn applied(db: &Db) -> Result<Vec<Applied>> {
    if !table_exists(db, "_sqlx_migrations").await? {
        return Ok(Vec::new());
    }
    let rows = sqlx::query(
        "SELECT version, description, CAST(installed_on AS TEXT) AS installed_on, \
         CASE WHEN success THEN 1 ELSE 0 END AS success, checksum FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&db.pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Applied {
                version: row.try_get("version")?,
                description: row.try_get("description")?,
                installed_on: row.try_get("installed_on")?,
                success: row.try_get::<i64, _>("success")? != 0,
                checksum: row.try_get("checksum")?,
            })
        })
        .collect()
}

/// The releases that opened the store, the first first (none before migration 0024).
pub async fn releases(db: &Db) -> Result<Vec<Release>> {
    if !table_exists(db, "ipra_releases").await? {
        return Ok(Vec::new());
    }
    let rows =
        sqlx::query("SELECT version, first_opened_at, instance FROM ipra_releases ORDER BY first_opened_at, version")
            .fetch_all(&db.pool)
            .await?;
    rows.iter()
        .map(|row| {
            Ok(Release {
                version: row.try_get("version")?,
                first_opened_at: row.try_get("first_opened_at")?,
                instance: row.try_get("instance")?,
            })
        })
        .collect()
}

/// Where the store stands against this binary, without changing it.
pub async fn status(db: &Db) -> Result<Status> {
    let known = known(db.engine);
    let applied = applied(db).await?;
    let checksums: std::collections::HashMap<i64, &[u8]> = migrator(db.engine)
        .iter()
        .map(|m| (m.version, m.checksum.as_ref()))
        .collect();
    let changed = applied
        .iter()
        .filter(|a| checksums.get(&a.version).is_some_and(|c| *c != a.checksum.as_slice()))
        .map(|a| a.version)
        .collect();
    let (ours, unknown): (Vec<Applied>, Vec<Applied>) = applied
        .iter()
        .cloned()
        .partition(|a| checksums.contains_key(&a.version));
    let pending = known
        .into_iter()
        .filter(|k| !applied.iter().any(|a| a.version == k.version))
        .collect();
    Ok(Status {
        engine: db.engine.name(),
        ipra_version: VERSION,
        applied: ours,
        pending,
        unknown,
        changed,
        releases: releases(db).await?,
    })
}

/// The release that last opened the store, as a phrase: «ipra 0.3.0 (впервые открыла её …,
/// экземпляр …)», or that it is not known.
fn last_release(releases: &[Release]) -> String {
    match releases.last() {
        Some(r) => format!(
            "ipra {} (впервые открыла её {}, экземпляр {})",
            r.version, r.first_opened_at, r.instance
        ),
        None => "неизвестно (в базе нет таблицы версий ipra_releases)".into(),
    }
}

/// Refuses a store this binary must not migrate: one a newer release made (a migration this
/// binary does not know), one whose applied migration differs from this binary's file, one with a
/// migration left half-applied. Reads only.
pub async fn check(db: &Db) -> Result<()> {
    let status = status(db).await?;
    let dir = format!("migrations/{}", db.engine.name());
    if !status.unknown.is_empty() {
        let releases = status.releases;
        let names = status
            .unknown
            .iter()
            .map(|m| named(m.version, &m.description))
            .collect::<Vec<_>>()
            .join(", ");
        let newest = releases
            .iter()
            .rev()
            .find(|r| newer(&r.version, VERSION))
            .map(|r| r.version.clone());
        let install = match &newest {
            Some(v) => format!("установите ipra {v} или новее"),
            None => "установите ту версию ipra, которой база обновлена, или новее".into(),
        };
        anyhow::bail!(
            "база данных обновлена более новой версией ipra: в ней применена миграция {names}, которой эта версия \
             (ipra {VERSION}, знает миграции до {:04}) не знает. Последней базу открывала {}. Переход на более \
             старую версию не поддерживается: база не изменена. Что делать: {install} либо восстановите резервную \
             копию, сделанную до обновления (ipra restore КАТАЛОГ_КОПИИ)",
            latest(db.engine),
            last_release(&releases)
        );
    }
    if let Some(version) = status.changed.first() {
        let description = status
            .applied
            .iter()
            .find(|a| a.version == *version)
            .map(|a| a.description.clone())
            .unwrap_or_default();
        anyhow::bail!(
            "миграция {} применена к базе с другим содержимым, чем файл {dir}/{version:04}_*.sql этой версии \
             (ipra {VERSION}): контрольные суммы не совпадают. Применённую миграцию не меняют — изменения вносит \
             новая миграция; база не изменена. Так бывает, когда базу создала сборка не из выпуска или файл \
             миграции правили после выпуска: откройте базу той версией ipra, которой она создана, или \
             восстановите резервную копию",
            named(*version, &description)
        );
    }
    if let Some(dirty) = status.applied.iter().chain(&status.unknown).find(|a| !a.success) {
        anyhow::bail!(
            "миграция {} применена к базе не до конца (обновление прервалось): база не изменена. Восстановите \
             резервную копию, сделанную до обновления (ipra restore КАТАЛОГ_КОПИИ)",
            named(dirty.version, &dirty.description)
        );
    }
    Ok(())
}

/// sqlx's refusals of a migration, said in Russian (they come here only when the store changed
/// between [`check`] and the run: another process migrated it meanwhile).
fn explain(db: &Db, e: sqlx::migrate::MigrateError) -> anyhow::Error {
    use sqlx::migrate::MigrateError;
    let description = |version: i64| {
        migrator(db.engine)
            .iter()
            .find(|m| m.version == version)
            .map(|m| named(version, &m.description))
            .unwrap_or_else(|| format!("{version:04}"))
    };
    let text = match &e {
        MigrateError::VersionMissing(v) => format!(
            "в базе применена миграция {v:04}, которой эта версия (ipra {VERSION}) не знает: базу обновила более \
             новая версия ipra; переход на более старую версию не поддерживается, база не изменена"
        ),
        MigrateError::VersionMismatch(v) => format!(
            "миграция {} применена к базе с другим содержимым, чем у этой версии (ipra {VERSION}): контрольные \
             суммы не совпадают; база не изменена",
            description(*v)
        ),
        MigrateError::Dirty(v) => format!(
            "миграция {} применена к базе не до конца: база не изменена; восстановите резервную копию",
            description(*v)
        ),
        MigrateError::ExecuteMigration(inner, v) => format!(
            "миграция {} не применена: {inner}; её изменения отменены",
            description(*v)
        ),
        other => format!("миграции не применены: {other}"),
    };
    anyhow::Error::new(e).context(text)
}

/// Checks the store ([`check`]), applies the pending migrations and records this release.
pub async fn migrate(db: &Db) -> Result<()> {
    check(db).await?;
    migrator(db.engine).run(&db.pool).await.map_err(|e| explain(db, e))?;
    record_release(db).await
}

/// Records this release as having opened the store (once per release: later opens only read).
pub async fn record_release(db: &Db) -> Result<()> {
    let seen: Option<i64> = sqlx::query_scalar("SELECT 1 FROM ipra_releases WHERE version = $1")
        .bind(VERSION)
        .fetch_optional(&db.pool)
        .await?;
    if seen.is_none() {
        sqlx::query(
            "INSERT INTO ipra_releases (version, first_opened_at, instance) VALUES ($1, $2, $3) \
             ON CONFLICT (version) DO NOTHING",
        )
        .bind(VERSION)
        .bind(super::now())
        .bind(crate::scheduler::instance_name())
        .execute(&db.pool)
        .await?;
    }
    Ok(())
}

/// The numeric parts of a version (`0.10.2-rc1` → [0, 10, 2]).
fn parts(version: &str) -> Vec<u64> {
    version
        .split(['-', '+'])
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// Whether release `a` is newer than release `b`.
pub fn newer(a: &str, b: &str) -> bool {
    parts(a) > parts(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert!(newer("0.10.0", "0.9.3"));
        assert!(newer("1.0.0", "0.2.0"));
        assert!(!newer("0.2.0", "0.2.0"));
        assert!(!newer("0.1.9", "0.2.0"));
    }

    #[tokio::test]
    async fn a_store_of_a_newer_release_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let url = super::super::default_url(dir.path());
        let db = Db::open(&url).await.unwrap();
        let releases = releases(&db).await.unwrap();
        assert_eq!(releases.len(), 1);
        assert_eq!(releases[0].version, VERSION);
        sqlx::query(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9001, 'from the future', 1, X'00', 0)",
        )
        .execute(&db.pool)
        .await
        .unwrap();
        sqlx::query("INSERT INTO ipra_releases VALUES ('9.0.0', '2099-01-01T00:00:00Z', 'future:1')")
            .execute(&db.pool)
            .await
            .unwrap();
        let e = Db::open(&url).await.err().expect("refused").to_string();
        assert!(e.contains("9001 «from the future»"), "{e}");
        assert!(e.contains("ipra 9.0.0"), "{e}");
        assert!(e.contains(&format!("ipra {VERSION}")), "{e}");
        assert!(e.contains("не поддерживается"), "{e}");
    }
}
