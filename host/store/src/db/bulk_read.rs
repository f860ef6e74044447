//! Whole-table reads at a region's size: every row of a query handed to a callback as text
//! columns, without a driver's per-row hand-off between threads — SQLite's own API on a read-only
//! connection of this thread, PostgreSQL's `COPY … TO STDOUT`. The statistics index loads the
//! register this way (eleven million measures).

use super::{Db, Engine};
use anyhow::{bail, Context, Result};

/// What takes the rows of a bulk read.
pub trait RowSink {
    /// One row's columns as text (`None`: NULL).
    fn row(&mut self, columns: &[Option<&str>]);
}

/// Runs `sql` and gives `row` each row, then gives `row` back. SQLite reads on a blocking thread.
pub async fn for_each_row<F>(db: &Db, sql: &str, row: F) -> Result<F>
where
    F: RowSink + Send + 'static,
{
    match db.engine {
        Engine::Sqlite => {
            let path = sqlite_path(&db.url);
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || sqlite_rows(&path, &sql, row)).await?
        }
        Engine::Postgres => postgres_rows(&db.url, sql, row).await,
    }
}

fn sqlite_path(url: &str) -> String {
    url.trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_string()
}

fn sqlite_rows<F: RowSink>(path: &str, sql: &str, mut row: F) -> Result<F> {
    use libsqlite3_sys as ffi;
    use std::ffi::{CStr, CString};
    let c_path = CString::new(path).context("путь к базе")?;
    let c_sql = CString::new(sql).context("запрос")?;
    let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
    // SAFETY: plain calls of SQLite's C API on a connection owned by this function; every handle is
    // finalized/closed before returning, and column pointers are read before the next step.
    unsafe {
        let flags = ffi::SQLITE_OPEN_READONLY | ffi::SQLITE_OPEN_NOMUTEX;
        if ffi::sqlite3_open_v2(c_path.as_ptr(), &mut db, flags, std::ptr::null()) != ffi::SQLITE_OK {
            let message = if db.is_null() {
                "нет памяти".to_string()
            } else {
                CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned()
            };
            ffi::sqlite3_close(db);
            bail!("чтение базы {path}: {message}");
        }
        ffi::sqlite3_busy_timeout(db, 30_000);
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        if ffi::sqlite3_prepare_v2(db, c_sql.as_ptr(), -1, &mut stmt, std::ptr::null_mut()) != ffi::SQLITE_OK {
            let message = CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned();
            ffi::sqlite3_close(db);
            bail!("чтение базы: {message}");
        }
        let columns = ffi::sqlite3_column_count(stmt).max(0) as usize;
        let mut values: Vec<Option<&str>> = Vec::with_capacity(columns);
        let result = loop {
            match ffi::sqlite3_step(stmt) {
                ffi::SQLITE_ROW => {
                    values.clear();
                    for i in 0..columns {
                        let text = ffi::sqlite3_column_text(stmt, i as i32);
                        if text.is_null() {
                            values.push(None);
                        } else {
                            let len = ffi::sqlite3_column_bytes(stmt, i as i32).max(0) as usize;
                            let bytes = std::slice::from_raw_parts(text, len);
                            values.push(std::str::from_utf8(bytes).ok());
                        }
                    }
                    row.row(&values);
                }
                ffi::SQLITE_DONE => break Ok(()),
                _ => {
                    let message = CStr::from_ptr(ffi::sqlite3_errmsg(db)).to_string_lossy().into_owned();
                    break Err(anyhow::anyhow!("чтение базы: {message}"));
                }
            }
        };
        ffi::sqlite3_finalize(stmt);
        ffi::sqlite3_close(db);
        result.map(|_| row)
    }
}

async fn postgres_rows<F: RowSink>(url: &str, sql: &str, mut row: F) -> Result<F> {
    use futures_util::TryStreamExt;
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let mut stream = conn.copy_out_raw(&format!("COPY ({sql}) TO STDOUT")).await?;
    let mut pending: Vec<u8> = Vec::new();
    let mut line_values: Vec<String> = Vec::new();
    let mut handle = |line: &[u8], row: &mut F| {
        line_values.clear();
        for field in line.split(|b| *b == b'\t') {
            line_values.push(unescape(field));
        }
        let values: Vec<Option<&str>> = line_values
            .iter()
            .map(|v| if v == "\\N" { None } else { Some(v.as_str()) })
            .collect();
        row.row(&values);
    };
    while let Some(chunk) = stream.try_next().await? {
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|b| *b == b'\n') {
            handle(&pending[start..start + end], &mut row);
            start += end + 1;
        }
        pending.drain(..start);
    }
    if !pending.is_empty() {
        handle(&pending, &mut row);
    }
    drop(stream);
    conn.close().await.ok();
    Ok(row)
}

/// A field of COPY's text format: `\N` stays as the NULL marker; `\\`, `\t`, `\n`, `\r` unescaped.
fn unescape(field: &[u8]) -> String {
    if field == b"\\N" || !field.contains(&b'\\') {
        return String::from_utf8_lossy(field).into_owned();
    }
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 1 < field.len() {
            out.push(match field[i + 1] {
                b't' => b'\t',
                b'n' => b'\n',
                b'r' => b'\r',
                other => other,
            });
            i += 2;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_fields_are_unescaped() {
        assert_eq!(unescape(b"plain"), "plain");
        assert_eq!(unescape(b"\\N"), "\\N");
        assert_eq!(unescape(b"a\\tb\\\\c"), "a\tb\\c");
        assert_eq!(
            sqlite_path("sqlite:///tmp/x/ipra.sqlite?mode=rwc"),
            "/tmp/x/ipra.sqlite"
        );
    }
}
