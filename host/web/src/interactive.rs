//! The interactive rules at the HTTP edge: every request runs inside the database's interactive
//! scope (statement time-out; statements stopped when hyper drops the request because its client
//! went away), a request cut off by the time-out answers 503 with what to do, and jobs started by
//! hand run as the background work they are. Also the administrators' check of the set-up.

use super::ui::{self, PageError, PageUser};
use super::{metrics, ApiError};
use crate::app::App;
use crate::auth::web as auth_web;
use crate::auth::web::Authenticated;
use crate::auth::Role;
use crate::db::interactive::{self, Interactive};
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the middleware needs: the database's interactive rules and the turns of reading requests.
#[derive(Clone)]
pub struct Rules {
    pub interactive: Arc<Interactive>,
    pub turns: Arc<Turns>,
}

/// Turns of the requests that read: at most `limit` are served at once, the others wait in the
/// order they came (a fair queue).
///
/// Why: on a machine of few cores, 32 users' pages served all at once share the cores, so every
/// page takes as long as the slowest of those beside it, and a page of several statements queues
/// for the pool's connections once per statement behind everyone else's. Served in turns, a page
/// waits once, in line, and then runs its statements one after another on a free core: the wait
/// is the same for every page, and a quick page stays quick. Writes (a saved execution, a login,
/// an import started by hand) do not take turns, so a page can never hold them up; neither do the
/// health checks, the metrics and the static files.
pub struct Turns {
    /// None: no turns, every request is served at once.
    semaphore: Option<tokio::sync::Semaphore>,
    /// The longest a request waits for its turn before it is answered 503 (None: no limit).
    wait_limit: Option<Duration>,
}

/// A request's turn, given back when it is dropped.
pub struct Turn<'a> {
    _permit: Option<tokio::sync::SemaphorePermit<'a>>,
}

impl Turns {
    /// `limit` 0: no turns, every request is served at once.
    pub fn new(limit: usize, wait_limit: Option<Duration>) -> Turns {
        Turns {
            semaphore: (limit > 0).then(|| tokio::sync::Semaphore::new(limit)),
            wait_limit,
        }
    }

    /// Waits for a turn; Err when the wait ran past the limit (the server is overloaded).
    pub async fn take(&self) -> Result<Turn<'_>, Duration> {
        let Some(semaphore) = &self.semaphore else {
            return Ok(Turn { _permit: None });
        };
        if let Ok(permit) = semaphore.try_acquire() {
            return Ok(Turn { _permit: Some(permit) });
        }
        let _waiting = metrics::Waiting::enter();
        let started = Instant::now();
        let acquire = semaphore.acquire();
        let acquired = match self.wait_limit {
            Some(limit) => tokio::time::timeout(limit, acquire).await.map_err(|_| limit),
            None => Ok(acquire.await),
        };
        metrics::waited(started.elapsed());
        let permit = acquired?.expect("the turns' semaphore is never closed");
        Ok(Turn { _permit: Some(permit) })
    }
}

/// Requests that wait for a turn: those that read the register (GET, HEAD), but not the health
/// checks, the metrics and the static files, which answer at once whatever the load.
fn takes_turn(method: &Method, path: &str) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && !path.starts_with("/assets/")
        && !matches!(path, "/api/v1/health" | "/api/v1/ready" | "/metrics")
}

/// The middleware every request passes (see `web::serve`).
pub async fn watch(State(rules): State<Rules>, request: Request, next: Next) -> Response {
    let _turn = if takes_turn(request.method(), request.uri().path()) {
        match rules.turns.take().await {
            Ok(turn) => Some(turn),
            Err(waited) => return busy(request.uri().path().starts_with("/api/"), waited),
        }
    } else {
        None
    };
    let rules = &rules.interactive;
    if runs_job(request.method(), request.uri().path()) {
        // A job started by hand is the scheduler's work: no statement time-out, and it runs to
        // its end even if the browser that started it is closed.
        return match tokio::spawn(next.run(request)).await {
            Ok(response) => response,
            Err(e) => ApiError::from(anyhow::anyhow!("job run started by hand: {e}")).into_response(),
        };
    }
    let api = request.uri().path().starts_with("/api/");
    let (response, timed_out) = rules.scope(next.run(request)).await;
    if !timed_out || response.status() == StatusCode::SERVICE_UNAVAILABLE {
        return response;
    }
    // Whatever else the handler made of the stopped statement, the answer says what happened.
    unavailable(api, "query-timeout", too_slow_message(rules.timeout()))
}

/// 503 with `message`: the problem `code` from the API, the error page elsewhere.
fn unavailable(api: bool, code: &'static str, message: String) -> Response {
    if api {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message).into_response()
    } else {
        PageError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message,
            user: None,
        }
        .into_response()
    }
}

/// 503 `busy`: the request waited for its turn past the limit.
fn busy(api: bool, waited: Duration) -> Response {
    let message = format!(
        "Сервер занят: запрос ждал своей очереди дольше {} и не был выполнен. Повторите его через \
         минуту; если так бывает часто, сообщите администратору.",
        duration_text(waited)
    );
    let mut response = unavailable(api, "busy", message);
    response.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from_static("60"),
    );
    response
}

/// Routes that run background work inside the request: a scheduler job's run, dry-run and retry,
/// from the API and from the administration pages, and an upload of extract files (an import,
/// which goes on to its end even if the browser that sent the files is closed).
fn runs_job(method: &Method, path: &str) -> bool {
    if method != Method::POST {
        return false;
    }
    if path.trim_end_matches('/') == "/import" {
        return true;
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["admin", rest @ ..] => rest,
        _ => return false,
    };
    matches!(rest, ["jobs", _, "run" | "dry-run"] | ["job-runs", _, "retry"])
}

/// 503 `query-timeout`: the statement ran past the time-out.
pub fn too_slow(message: String) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "query-timeout", message)
}

pub fn too_slow_message(timeout: Option<Duration>) -> String {
    let limit = match timeout {
        Some(t) => format!("дольше {}", duration_text(t)),
        None => "слишком долго".to_string(),
    };
    format!(
        "Запрос к базе данных выполнялся {limit} и был остановлен, чтобы не задерживать работу других \
         пользователей. Сузьте отбор (фильтр, период, территорию или организацию) и повторите запрос."
    )
}

/// «15 с», «1,5 с», «500 мс».
fn duration_text(t: Duration) -> String {
    let ms = t.as_millis();
    if ms < 1000 {
        format!("{ms} мс")
    } else if ms.is_multiple_of(1000) {
        format!("{} с", ms / 1000)
    } else {
        format!("{},{} с", ms / 1000, (ms % 1000) / 100)
    }
}

#[derive(Deserialize)]
pub struct SlowQuery {
    seconds: Option<String>,
}

impl SlowQuery {
    /// 1–600 seconds, 20 by default.
    fn seconds(&self) -> Result<u32, String> {
        match self.seconds.as_deref() {
            None | Some("") => Ok(20),
            Some(text) => text
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|s| (1..=600).contains(s))
                .ok_or_else(|| format!("seconds: ожидается целое число секунд от 1 до 600, получено «{text}»")),
        }
    }
}

/// `GET /api/v1/admin/diagnostics/slow-query?seconds=N`: a statement that runs N seconds under
/// the interactive rules, so an administrator sees the time-out (503) and the cancel at work.
pub async fn slow_query_api(
    State(app): State<App>,
    Authenticated(principal): Authenticated,
    Query(query): Query<SlowQuery>,
) -> Result<Json<Value>, ApiError> {
    auth_web::require(&principal, &[Role::Administrator])?;
    let seconds = query
        .seconds()
        .map_err(|m| ApiError::new(StatusCode::BAD_REQUEST, "bad-request", m))?;
    let started = Instant::now();
    let workers = interactive::slow_query(&app.db, seconds).await?;
    Ok(Json(json!({
        "seconds": seconds,
        "finished": true,
        "elapsed_ms": started.elapsed().as_millis() as u64,
        "statement_timeout_ms": interactive::current_timeout().map(|t| t.as_millis() as u64),
        "parallel_workers_per_gather": workers.map(|w| w.parallel_workers_per_gather),
        "jit": workers.map(|w| w.jit),
    })))
}

/// `GET /admin/diagnostics/slow-query?seconds=N`: the same check as a page.
pub async fn slow_query_page(
    State(app): State<App>,
    PageUser(user): PageUser,
    Query(query): Query<SlowQuery>,
) -> Result<Html<String>, PageError> {
    ui::require_page(&user, &[Role::Administrator]).map_err(|e| e.for_user(&user))?;
    let seconds = query.seconds().map_err(|m| PageError::bad_request(m).for_user(&user))?;
    let started = Instant::now();
    let workers = interactive::slow_query(&app.db, seconds)
        .await
        .map_err(|e| PageError::from(e).for_user(&user))?;
    let limit = match interactive::current_timeout() {
        Some(t) => format!("предел времени запроса — {}", duration_text(t)),
        None => "предел времени запроса не задан".to_string(),
    };
    let parallel = match workers.map(|w| (w.parallel_workers_per_gather, w.jit)) {
        Some((0, false)) => "<p>Запросы страниц выполняются PostgreSQL без параллельных процессов и без компиляции (JIT): страница читает немного строк по индексу, а запуск процессов и компиляция дороже самого чтения. Фоновые задания ими пользуются.</p>".to_string(),
        Some((n, jit)) => format!(
            "<p>Запросу страницы PostgreSQL разрешено параллельных процессов: {n}; компиляция (JIT) {}.</p>",
            if jit { "включена" } else { "выключена" }
        ),
        None => String::new(),
    };
    let body = format!(
        r#"<h1>Проверка предела времени запроса</h1><p role="status">Запрос на {seconds} с выполнен за {} ({limit}).</p>{parallel}"#,
        duration_text(started.elapsed())
    );
    Ok(ui::page(Some(&user), "Проверка предела времени запроса", &body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_runs_are_recognised() {
        assert!(runs_job(&Method::POST, "/api/v1/jobs/fri-inbox/run"));
        assert!(runs_job(&Method::POST, "/api/v1/jobs/fri-inbox/dry-run"));
        assert!(runs_job(&Method::POST, "/api/v1/job-runs/12/retry"));
        assert!(runs_job(&Method::POST, "/admin/jobs/fri-inbox/run"));
        assert!(runs_job(&Method::POST, "/admin/job-runs/3/retry"));
        assert!(runs_job(&Method::POST, "/import"), "an upload imports to its end");
        assert!(!runs_job(&Method::GET, "/import"));
        assert!(!runs_job(&Method::GET, "/api/v1/jobs/fri-inbox/run"));
        assert!(!runs_job(&Method::POST, "/api/v1/job-runs/3/discard"));
        assert!(!runs_job(&Method::POST, "/api/v1/reports/3/withdraw"));
    }

    #[test]
    fn pages_take_turns_and_checks_writes_and_files_do_not() {
        assert!(takes_turn(&Method::GET, "/api/v1/ipras"));
        assert!(takes_turn(&Method::GET, "/ipras/5"));
        assert!(takes_turn(&Method::HEAD, "/"));
        assert!(!takes_turn(&Method::POST, "/api/v1/session"));
        assert!(!takes_turn(&Method::PUT, "/api/v1/executions/3"));
        assert!(!takes_turn(&Method::GET, "/api/v1/health"));
        assert!(!takes_turn(&Method::GET, "/api/v1/ready"));
        assert!(!takes_turn(&Method::GET, "/metrics"));
        assert!(!takes_turn(&Method::GET, "/assets/ipra.css"));
    }

    #[tokio::test]
    async fn a_turn_is_waited_for_in_order_and_no_longer_than_the_limit() {
        let turns = Turns::new(1, Some(Duration::from_millis(100)));
        let first = turns.take().await.expect("a free turn");
        let refused = turns.take().await.err().expect("no turn within the limit");
        assert_eq!(refused, Duration::from_millis(100));
        drop(first);
        let again = turns.take().await.expect("the turn came back");
        drop(again);

        // Without a limit a waiter gets the turn when it is given back; 0: no turns at all.
        let turns = Arc::new(Turns::new(1, None));
        let held = turns.take().await.expect("a free turn");
        let waiter = {
            let turns = turns.clone();
            tokio::spawn(async move { turns.take().await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        assert!(waiter.await.expect("waiter"));
        let unlimited = Turns::new(0, Some(Duration::from_millis(1)));
        let _a = unlimited.take().await.expect("no turns");
        let _b = unlimited.take().await.expect("no turns");
    }

    #[test]
    fn limits_read_in_russian() {
        assert_eq!(duration_text(Duration::from_secs(15)), "15 с");
        assert_eq!(duration_text(Duration::from_millis(1500)), "1,5 с");
        assert_eq!(duration_text(Duration::from_millis(500)), "500 мс");
        assert!(too_slow_message(Some(Duration::from_secs(15))).contains("дольше 15 с"));
    }
}
