//! A full disk told apart from every other failure: the Russian message that names it wherever an
//! error reaches a person (API, pages, CLI, job runs, import rejections), and the state the health
//! and readiness routes report, logged once when it starts and once when it ends.
//!
//! "Full" is either seen (free space on the disks of the data directory and the SQLite file below
//! [`LOW_WATER`]) or heard (a write refused for lack of space — SQLite's `SQLITE_FULL`, PostgreSQL's
//! `disk_full`, `ENOSPC` — in the last [`HEARD_FOR`], when the disk cannot be looked at: a
//! PostgreSQL server elsewhere). It ends by itself when space returns: nothing needs a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;

/// Free space below which writes are expected to fail.
pub const LOW_WATER: u64 = 16 * 1024 * 1024;
/// How long a refused write counts when the disk itself cannot be looked at, in seconds.
const HEARD_FOR: i64 = 60;

/// What a person is told: the cause and that nothing else is needed once space is freed.
pub const FULL_MESSAGE: &str = "На диске не осталось места: изменения не записаны. Освободите место на диске \
     базы данных и каталога данных — работа продолжится сама, перезапуск не нужен";

static HEARD_AT: AtomicI64 = AtomicI64::new(0);
static REPORTED: AtomicBool = AtomicBool::new(false);
static WATCHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Folders whose disks are watched (the data directory, the SQLite file's folder).
pub fn watch(path: &Path) {
    let mut watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner());
    if !watched.iter().any(|p| p == path) {
        watched.push(path.to_path_buf());
    }
}

/// Whether `e` (anywhere in its chain) is a write refused for lack of space.
pub fn is_full(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        if let Some(sqlx::Error::Database(db)) = cause.downcast_ref::<sqlx::Error>() {
            // SQLite's SQLITE_FULL (13, also extended codes ending in it) and PostgreSQL's class
            // 53 disk_full.
            let code = db.code().unwrap_or_default();
            if code == "13" || code == "53100" {
                return true;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::StorageFull || io.raw_os_error() == Some(libc::ENOSPC) {
                return true;
            }
        }
        let text = cause.to_string();
        text.contains("database or disk is full") || text.contains("No space left on device")
    })
}

/// The error as a person reads it: a full disk named first, in Russian, with the original after.
/// Also notes the full disk for the health routes.
/// What every surface says while the database cannot be reached.
pub const UNREACHABLE_MESSAGE: &str =
    "База данных недоступна: запрос не выполнен, ничего не изменено. Сервер переподключится сам, когда она вернётся; повторите позже.";

/// Whether a failure is the database out of reach: no connection to be had (refused, cut, timed
/// out in the pool), or PostgreSQL refusing connections (shutting down, starting, the database
/// closed to connections).
pub fn is_unreachable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| match cause.downcast_ref::<sqlx::Error>() {
        Some(sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed) => true,
        Some(sqlx::Error::Database(db)) => {
            let code = db.code().unwrap_or_default();
            // 08: connection exception; 57P01–57P03: shutdown, crash shutdown, cannot connect now;
            // 55000 with this text: the database closed to connections (ALLOW_CONNECTIONS false).
            code.starts_with("08")
                || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
                || (code == "55000" && db.message().contains("accepting connections"))
        }
        _ => false,
    })
}

pub fn explain(e: &anyhow::Error) -> String {
    if is_full(e) {
        heard();
        format!("{FULL_MESSAGE} ({e:#})")
    } else {
        format!("{e:#}")
    }
}

/// A write was refused for lack of space.
pub fn heard() {
    HEARD_AT.store(now(), Ordering::Relaxed);
    if !REPORTED.swap(true, Ordering::Relaxed) {
        tracing::error!("{FULL_MESSAGE}");
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Free bytes of the disk holding `path` (for the unprivileged: what a non-root writer gets).
pub fn free_bytes(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid C string and `stat` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    Some(stat.f_bavail as u64 * stat.f_frsize as u64)
}

/// The storage as the health and readiness routes report it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Storage {
    /// `ok`, `low` (less than [`LOW_WATER`] free: writes still go) or `full` (writes refused).
    pub status: &'static str,
    /// The least free space of the watched disks, in MiB (none when none can be looked at).
    pub free_mib: Option<u64>,
    /// What is wrong, for a person (none when all is well).
    pub problem: Option<String>,
}

/// Looks at the disks now; logs the end of a full disk once space has returned.
pub fn state() -> Storage {
    let watched = WATCHED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let free = watched.iter().filter_map(|p| free_bytes(p)).min();
    let heard_recently = now() - HEARD_AT.load(Ordering::Relaxed) < HEARD_FOR;
    // Nearly full is a warning; full is a refused write not yet followed by room, or no room at all.
    let (full, low) = match free {
        Some(free) => (
            free < LOW_WATER && (heard_recently || free < 1024 * 1024),
            free < LOW_WATER,
        ),
        None => (heard_recently, false),
    };
    if full {
        if !REPORTED.swap(true, Ordering::Relaxed) {
            tracing::error!("{FULL_MESSAGE}");
        }
    } else if REPORTED.swap(false, Ordering::Relaxed) {
        HEARD_AT.store(0, Ordering::Relaxed);
        tracing::warn!(
            free_mib = free.map(|f| f / (1024 * 1024)),
            "место на диске снова есть: запись возобновлена"
        );
    }
    let free_mib = free.map(|f| f / (1024 * 1024));
    Storage {
        status: if full {
            "full"
        } else if low {
            "low"
        } else {
            "ok"
        },
        free_mib,
        problem: if full {
            Some(FULL_MESSAGE.to_string())
        } else if low {
            Some(format!(
                "На диске базы данных или каталога данных осталось {} МиБ: скоро запись станет невозможной, освободите место",
                free_mib.unwrap_or(0)
            ))
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_disk_is_named_wherever_it_hides_in_the_chain() {
        let io = anyhow::Error::new(std::io::Error::from_raw_os_error(libc::ENOSPC)).context("запись файла");
        assert!(is_full(&io));
        assert!(explain(&io).starts_with("На диске не осталось места"));
        let text = anyhow::anyhow!("error returned from database: (code: 13) database or disk is full");
        assert!(is_full(&text.context("импорт")));
        let other = anyhow::anyhow!("FOREIGN KEY constraint failed");
        assert!(!is_full(&other));
        assert_eq!(explain(&other), "FOREIGN KEY constraint failed");
    }

    #[test]
    fn free_space_is_read_from_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
        assert_eq!(free_bytes(&dir.path().join("no-such-folder")), None);
    }
}
