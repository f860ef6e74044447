//! SQLite's side of interactive work: stopping a statement that runs on sqlx's worker thread,
//! which dropping the future that waits for it does not do.
//!
//! The `Any` driver hides the native connection, so every connection this process opens gets,
//! through `sqlite3_auto_extension`, a small state of its own and the SQL function
//! `ipra_request(id)` that holds it. The interactive pool calls the function on each acquisition
//! (see `interactive`); its first call installs the connection's progress handler, statement
//! trace and busy handler. A statement starts its clock at the trace's first event for it; the
//! progress handler (every [`PROGRESS_STEPS`] VM steps) and the busy handler stop it when its
//! request was dropped or its time-out has passed. Background connections never call the
//! function and run with no handler at all.

use super::interactive::RequestQueries;
use super::SQLITE_BUSY_LIMIT;
use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant};

/// VM steps between two looks at the request: a few microseconds of work, so a stop is prompt
/// and the look (a lock and a clock read) costs nothing measurable.
const PROGRESS_STEPS: c_int = 1000;

/// The requests being served, by id, for `ipra_request` to find.
static REQUESTS: LazyLock<Mutex<HashMap<u64, Weak<RequestQueries>>>> = LazyLock::new(Default::default);

pub(super) fn register(request: &Arc<RequestQueries>) {
    lock(&REQUESTS).insert(request.id(), Arc::downgrade(request));
}

pub(super) fn unregister(id: u64) {
    lock(&REQUESTS).remove(&id);
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Registers the extension for every connection opened from now on (once per process).
pub fn install() -> Result<(), String> {
    static INSTALLED: OnceLock<c_int> = OnceLock::new();
    let rc = *INSTALLED.get_or_init(|| {
        // SQLite counts every allocation under one process-wide mutex unless told not to; under
        // the load of 32 clients, waits and wakes of pthread mutexes (SQLite's are the process's
        // only ones) were 8 % of a million-person server's samples. Nothing here reads those
        // counts. Only possible
        // before SQLite initialises, which the auto extension below does; later it is refused
        // harmlessly (SQLITE_MISUSE).
        // SAFETY: a configuration call with its documented integer argument.
        unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
        // SAFETY: `init` has the signature SQLite calls auto extensions with.
        unsafe { ffi::sqlite3_auto_extension(Some(init)) }
    });
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("sqlite3_auto_extension: код {rc}"))
    }
}

/// Milliseconds since the Unix epoch, as `ipra_clock_ms()` answers.
pub(super) fn clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// One connection's state. Only SQLite calls on this connection touch it (sqlx's worker thread);
/// the mutex keeps that sound without relying on it.
struct ConnectionWatch {
    db: *mut ffi::sqlite3,
    state: Mutex<WatchState>,
}

#[derive(Default)]
struct WatchState {
    installed: bool,
    /// The request the connection serves since its last acquisition.
    request: Option<Arc<RequestQueries>>,
    statement: Option<Statement>,
    busy_since: Option<Instant>,
    /// A statement was stopped inside a transaction: sqlx's idea of the transaction may no
    /// longer match SQLite's, so the pool closes the connection at its next acquisition.
    retire: bool,
}

struct Statement {
    handle: usize,
    started: Instant,
    /// Transaction control and the mark itself are never stopped.
    exempt: bool,
}

impl WatchState {
    /// Whether the running statement is to stop: its request was dropped or its time ran out.
    fn should_stop(&self) -> bool {
        let (Some(request), Some(statement)) = (&self.request, &self.statement) else {
            return false;
        };
        if statement.exempt {
            return false;
        }
        if request.is_cancelled() {
            return true;
        }
        match request.timeout() {
            Some(timeout) if statement.started.elapsed() >= timeout => {
                request.note_timeout();
                true
            }
            _ => false,
        }
    }
}

/// The auto extension: runs inside `sqlite3_open_v2` of every new connection.
unsafe extern "C" fn init(
    db: *mut ffi::sqlite3,
    _error: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    let watch = Box::into_raw(Box::new(ConnectionWatch {
        db,
        state: Mutex::default(),
    }));
    let flags = ffi::SQLITE_UTF8 | ffi::SQLITE_DIRECTONLY;
    // SQLite owns `watch` from here: `drop_watch` frees it when the connection closes (or at
    // once if the function cannot be created).
    let rc = ffi::sqlite3_create_function_v2(
        db,
        c"ipra_request".as_ptr(),
        1,
        flags,
        watch.cast(),
        Some(mark),
        None,
        None,
        Some(drop_watch),
    );
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    let rc = ffi::sqlite3_create_function_v2(
        db,
        c"ipra_clock_ms".as_ptr(),
        0,
        flags,
        std::ptr::null_mut(),
        Some(clock),
        None,
        None,
        None,
    );
    if rc != ffi::SQLITE_OK {
        return rc;
    }
    ffi::sqlite3_create_function_v2(
        db,
        c"ipra_autocommit".as_ptr(),
        0,
        flags,
        std::ptr::null_mut(),
        Some(autocommit),
        None,
        None,
        None,
    )
}

/// `ipra_autocommit()`: 1 when the connection holds no transaction (see `Db::clean_release`).
unsafe extern "C" fn autocommit(context: *mut ffi::sqlite3_context, _argc: c_int, _argv: *mut *mut ffi::sqlite3_value) {
    let db = ffi::sqlite3_context_db_handle(context);
    ffi::sqlite3_result_int(context, ffi::sqlite3_get_autocommit(db));
}

unsafe extern "C" fn drop_watch(watch: *mut c_void) {
    drop(Box::from_raw(watch.cast::<ConnectionWatch>()));
}

unsafe fn watch<'a>(pointer: *mut c_void) -> &'a ConnectionWatch {
    &*(pointer as *const ConnectionWatch)
}

/// `ipra_request(id)`: the connection now serves request `id` (0: none). Answers 1 when the
/// connection should be retired instead.
unsafe extern "C" fn mark(context: *mut ffi::sqlite3_context, _argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    let watch = watch(ffi::sqlite3_user_data(context));
    let id = ffi::sqlite3_value_int64(*argv) as u64;
    let request = if id == 0 {
        None
    } else {
        lock(&REQUESTS).get(&id).and_then(Weak::upgrade)
    };
    let mut state = lock(&watch.state);
    if !state.installed {
        let arg = (watch as *const ConnectionWatch).cast_mut().cast::<c_void>();
        ffi::sqlite3_progress_handler(watch.db, PROGRESS_STEPS, Some(progress), arg);
        ffi::sqlite3_trace_v2(
            watch.db,
            (ffi::SQLITE_TRACE_STMT | ffi::SQLITE_TRACE_PROFILE) as c_uint,
            Some(trace),
            arg,
        );
        ffi::sqlite3_busy_handler(watch.db, Some(busy), arg);
        state.installed = true;
    }
    state.request = request;
    ffi::sqlite3_result_int64(context, i64::from(state.retire));
}

unsafe extern "C" fn clock(context: *mut ffi::sqlite3_context, _argc: c_int, _argv: *mut *mut ffi::sqlite3_value) {
    ffi::sqlite3_result_int64(context, clock_ms());
}

/// A statement starts (`SQLITE_TRACE_STMT`, also at each trigger it fires, with the same handle)
/// or ends (`SQLITE_TRACE_PROFILE`, at its last step or reset).
unsafe extern "C" fn trace(event: c_uint, pointer: *mut c_void, statement: *mut c_void, sql: *mut c_void) -> c_int {
    let watch = watch(pointer);
    let mut state = lock(&watch.state);
    let handle = statement as usize;
    let current = state.statement.as_ref().map(|s| s.handle);
    if event == ffi::SQLITE_TRACE_STMT as c_uint {
        if state.request.is_none() {
            state.statement = None;
        } else if current != Some(handle) {
            state.statement = Some(Statement {
                handle,
                started: Instant::now(),
                exempt: is_exempt(sql as *const c_char),
            });
        }
    } else if event == ffi::SQLITE_TRACE_PROFILE as c_uint && current == Some(handle) {
        state.statement = None;
    }
    0
}

/// Transaction control (a rollback must never be stopped half-way) and the mark itself.
unsafe fn is_exempt(sql: *const c_char) -> bool {
    if sql.is_null() {
        return true;
    }
    // The statement's first 24 bytes at most, leading blanks skipped, in upper case.
    let mut head = [0u8; 24];
    let mut len = 0;
    let mut i = 0;
    while len < head.len() {
        let byte = *sql.add(i) as u8;
        if byte == 0 {
            break;
        }
        i += 1;
        if len == 0 && byte.is_ascii_whitespace() {
            continue;
        }
        head[len] = byte.to_ascii_uppercase();
        len += 1;
    }
    let head = &head[..len];
    [
        "BEGIN",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SELECT IPRA_REQUEST(",
    ]
    .iter()
    .any(|word| head.starts_with(word.as_bytes()))
}

unsafe extern "C" fn progress(pointer: *mut c_void) -> c_int {
    let watch = watch(pointer);
    let mut state = lock(&watch.state);
    if !state.should_stop() {
        return 0;
    }
    if ffi::sqlite3_get_autocommit(watch.db) == 0 {
        state.retire = true;
    }
    1
}

/// Waits for another writer like `busy_timeout` does (up to [`SQLITE_BUSY_LIMIT`]), but gives up
/// as soon as the statement's request is dropped or out of time.
unsafe extern "C" fn busy(pointer: *mut c_void, count: c_int) -> c_int {
    const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];
    let watch = watch(pointer);
    let mut state = lock(&watch.state);
    if count == 0 || state.busy_since.is_none() {
        state.busy_since = Some(Instant::now());
    }
    let waited = state.busy_since.map_or(Duration::ZERO, |t| t.elapsed());
    if waited >= SQLITE_BUSY_LIMIT || state.should_stop() {
        return 0;
    }
    drop(state);
    let delay = DELAYS_MS[(count.max(0) as usize).min(DELAYS_MS.len() - 1)];
    std::thread::sleep(Duration::from_millis(delay).min(SQLITE_BUSY_LIMIT - waited));
    1
}
