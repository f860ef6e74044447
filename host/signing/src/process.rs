//! Running a program without a shell, with a time limit and both output streams captured.
//! A program that overruns is killed together with everything it started (its own process group).

use std::ffi::OsString;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How a finished program ended.
pub(crate) struct Finished {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Why a program did not finish.
pub(crate) enum RunError {
    /// It could not be started at all (not found, not executable).
    NotStarted(std::io::Error),
    /// It ran past the limit and was killed.
    TimedOut,
    /// Waiting for it failed.
    Wait(std::io::Error),
}

/// Runs `program args…` in `dir` with stdin closed, returns when it exits or kills it after `limit`.
pub(crate) fn run(program: &OsString, args: &[OsString], dir: &Path, limit: Duration) -> Result<Finished, RunError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Own process group, so that on timeout the tool's helpers die with it and release our pipes.
        command.process_group(0);
    }
    let mut child = command.spawn().map_err(RunError::NotStarted)?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let status = wait_with_limit(&mut child, limit)?;
    let collect = |reader: Option<thread::JoinHandle<Vec<u8>>>| reader.and_then(|r| r.join().ok()).unwrap_or_default();
    Ok(Finished {
        status,
        stdout: collect(stdout),
        stderr: collect(stderr),
    })
}

fn drain<R: Read + Send + 'static>(mut stream: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buffer = Vec::new();
        // A read error only shortens the captured text; the exit status still decides.
        let _ = stream.read_to_end(&mut buffer);
        buffer
    })
}

fn wait_with_limit(child: &mut Child, limit: Duration) -> Result<ExitStatus, RunError> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(2);
    loop {
        if let Some(status) = child.try_wait().map_err(RunError::Wait)? {
            return Ok(status);
        }
        if Instant::now() >= deadline {
            kill_group(child);
            // Reap it; the status of a killed process is of no interest.
            let _ = child.wait();
            return Err(RunError::TimedOut);
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

#[cfg(unix)]
fn kill_group(child: &mut Child) {
    match libc::pid_t::try_from(child.id()) {
        // SAFETY: kill(2) with a negative pid signals the process group we created for this child;
        // it touches no memory of ours.
        Ok(pid) if pid > 0 => unsafe {
            libc::kill(-pid, libc::SIGKILL);
        },
        _ => {
            let _ = child.kill();
        }
    }
}

#[cfg(not(unix))]
fn kill_group(child: &mut Child) {
    let _ = child.kill();
}

/// The last meaningful part of what a program printed to stderr, for an error message.
pub(crate) fn stderr_text(stderr: &[u8]) -> String {
    const LIMIT: usize = 2000;
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.chars().count() <= LIMIT {
        return text.to_string();
    }
    let tail: String = text
        .chars()
        .rev()
        .take(LIMIT)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("…{tail}")
}

/// Exit status as a short Russian phrase.
pub(crate) fn status_text(status: &ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("код {code}"),
        None => "прервана сигналом".to_string(),
    }
}
