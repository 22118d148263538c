//! Runs one claimed task to its end.
//!
//! A `Deploy` task runs the project's script under `bash` in a fresh working directory,
//! as the leader of its own process group. Its stdout and stderr lines go to the task
//! log as they come, written in batches (every 100 ms or 500 lines). On cancel, timeout
//! or node shutdown the whole group gets SIGTERM, then SIGKILL after the grace period;
//! when the script ends, whatever it left in its group is killed too, so no child
//! process outlives its task.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::Settings;
use crate::clock;
use crate::error::{Error, Result};
use crate::model::{TaskKind, TaskState};
use crate::store::tasks::{self, Task};
use crate::store::{projects, BookTx, Store};
use crate::system_tasks;

const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The longest the supervisor waits for an event before it looks at cancel and timeout.
const TICK: Duration = Duration::from_millis(50);
const FLUSH_LINES: usize = 500;
/// The most log lines kept waiting while the database cannot be written.
const MAX_PENDING_LINES: usize = 100_000;
/// How often the task's state is read back, to see a cancel made by another process.
const STATE_EVERY: Duration = Duration::from_millis(500);
/// A longer line is cut (and says so).
const MAX_LINE: usize = 16 * 1024;

/// How a task ended.
struct Outcome {
    state: TaskState,
    error: Option<String>,
    exit_code: Option<i64>,
}

impl Outcome {
    fn failed(error: String) -> Outcome {
        Outcome {
            state: TaskState::Failed,
            error: Some(error),
            exit_code: None,
        }
    }
}

/// Runs `task` to its end and records it; `then`, in the same transaction as that
/// record, may claim this thread's next task, which is returned.
pub fn run(
    store: &Store,
    settings: &Settings,
    task: Task,
    cancel: &AtomicBool,
    then: impl FnOnce(&BookTx) -> Result<Vec<Task>>,
) -> Vec<Task> {
    let id = task.id;
    let outcome = match task.name {
        TaskKind::Deploy => deploy(store, settings, &task, cancel)
            .unwrap_or_else(|e| Outcome::failed(e.to_string())),
        system if task.is_system => {
            match system_tasks::run(system.as_str(), store, &settings.system, id, cancel) {
                system_tasks::Ending::Done => Outcome {
                    state: TaskState::Success,
                    error: None,
                    exit_code: None,
                },
                system_tasks::Ending::Stopped => stopped_outcome(store, id, None),
                system_tasks::Ending::Failed(e) => Outcome::failed(e),
            }
        }
        other => Outcome::failed(format!(
            "drydock does not know how to run a task named '{other}'"
        )),
    };
    // The end is recorded whatever the database does meanwhile (a restart, a lost
    // connection): recording it is idempotent, so it is retried until it commits. Only
    // the first attempt also claims this thread's next task.
    let ended_at = clock::now_ms();
    let mut then = Some(then);
    until_committed(&format!("the end of ServerTasks-{id}"), || {
        store.bookkeeping_now(|tx| {
            tasks::lock_queue(tx)?;
            tasks::finish(
                tx,
                id,
                outcome.state,
                outcome.error.as_deref(),
                outcome.exit_code,
                ended_at,
            )?;
            let Some(then) = then.take() else {
                return Ok(Vec::new());
            };
            // A failed claim does not undo the record of the end.
            Ok(tx.partial(|| then(tx)).unwrap_or_else(|e| {
                eprintln!("drydock: claiming after ServerTasks-{id}: {e}");
                Vec::new()
            }))
        })
    })
}

/// The longest wait between two attempts of [`until_committed`].
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

/// Runs `attempt` until it succeeds, waiting longer after each failure (from 100 ms
/// up to [`RETRY_AT_MOST`]), saying once that `what` waits for the database and once
/// that it got through: for records that must not be lost to a database that is
/// restarting or unreachable for a while.
fn until_committed<T>(what: &str, mut attempt: impl FnMut() -> Result<T>) -> T {
    let mut wait = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match attempt() {
            Ok(done) => {
                if failures > 0 {
                    eprintln!("drydock: recorded {what} after {failures} failed attempt(s)");
                }
                return done;
            }
            Err(e) => {
                if failures == 0 {
                    eprintln!("drydock: could not record {what} yet, retrying: {e}");
                }
                failures += 1;
                std::thread::sleep(wait);
                wait = (wait * 2).min(RETRY_AT_MOST);
            }
        }
    }
}

fn deploy(store: &Store, settings: &Settings, task: &Task, cancel: &AtomicBool) -> Result<Outcome> {
    let (project_id, env_id, release_id) =
        match (task.project_id, task.environment_id, task.release_id) {
            (Some(p), Some(e), Some(r)) => (p, e, r),
            _ => {
                return Ok(Outcome::failed(
                    "the task names no project, environment or release".into(),
                ))
            }
        };
    let found = store.read_now(|c| {
        Ok((
            projects::find(c, project_id)?,
            projects::find_environment(c, env_id)?,
            projects::find_release(c, release_id)?,
        ))
    })?;
    let (Some(project), Some(env), Some(release)) = found else {
        return Ok(Outcome::failed(
            "the project, environment or release was deleted before the task started".into(),
        ));
    };
    let script_user = match &settings.script_user {
        Ok(user) => user,
        Err(e) => return Ok(Outcome::failed(e.clone())),
    };
    let dir = settings.work_dir.join(format!("ServerTasks-{}", task.id));
    let io = |path: &std::path::Path, e: std::io::Error| {
        Error::Internal(format!("{}: {e}", path.display()))
    };
    let make = |dir: &std::path::Path| {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir)
    };
    match make(&dir) {
        Ok(()) => {}
        // Left by a node that died while the task ran.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_dir_all(&dir);
            make(&dir).map_err(|e| io(&dir, e))?;
        }
        // A stopping node on the same data directory removed the (empty) work
        // directory meanwhile: made again, with its checks, then the task's own.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            super::scripts::prepare_work_dir(&settings.work_dir).map_err(Error::Internal)?;
            make(&dir).map_err(|e| io(&dir, e))?;
        }
        Err(e) => return Err(io(&dir, e)),
    }
    let script = dir.join("deploy.sh");
    script_user
        .place_script(&settings.work_dir, &project.deployment_script, &script)
        .map_err(|e| io(&script, e))?;
    script_user.hand_over(&dir).map_err(|e| io(&dir, e))?;
    let vars = [
        ("DRYDOCK_PROJECT", project.name.clone()),
        ("DRYDOCK_RELEASE", release.version.clone()),
        ("DRYDOCK_ENVIRONMENT", env.name.clone()),
        ("DRYDOCK_TASK_ID", format!("ServerTasks-{}", task.id)),
    ];
    let timeout = Duration::from_secs(project.script_timeout_secs.max(1) as u64);
    let outcome = match start_script(settings, script_user, task.id, &script, &dir, &vars) {
        Ok(started) => supervise(store, settings, task.id, started, timeout, cancel),
        Err(e) => Ok(Outcome::failed(e)),
    };
    // Most scripts leave nothing but their deploy.sh: two calls, not a walk.
    let _ = std::fs::remove_file(&script);
    if std::fs::remove_dir(&dir).is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

/// Why the script is being stopped.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Cancel,
    Timeout,
}

/// Starts `bash script` in `dir` as the script user: through the node's launcher when
/// it has one that can run, else as a child of this process (through `setpriv` as root).
fn start_script(
    settings: &Settings,
    script_user: &super::scripts::ScriptUser,
    id: i64,
    script: &std::path::Path,
    dir: &std::path::Path,
    vars: &[(&str, String)],
) -> std::result::Result<Script, String> {
    if let Some(launcher) = &settings.launcher {
        let bash = super::scripts::program("bash");
        let env = script_user.environment(vars);
        match launcher.spawn(bash, script, dir, env, settings.script_nice) {
            Ok(launched) => return Ok(Script::Launched(launched)),
            Err(super::launcher::NotStarted::Failed(e)) => {
                // The launcher may have started it before it stopped answering.
                crate::process::kill_leftovers(&settings.work_dir, &[id], script_user.uid());
                return Err(e);
            }
            Err(super::launcher::NotStarted::Unavailable) => {}
        }
    }
    let mut command = script_user.command(script, dir, vars);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::scripts::spawn_at(settings.script_nice, command)
        .map(Script::Child)
        .map_err(|e| format!("could not start bash: {e}"))
}

/// A started script: a child of this process, or one the launcher started.
enum Script {
    Child(Child),
    Launched(super::launcher::Launched),
}

impl Script {
    /// Signals the script's process group. False when that is no longer possible.
    fn signal(&self, group: Pid, signal: Signal) -> bool {
        match self {
            Script::Child(_) => killpg(group, signal).is_ok(),
            Script::Launched(launched) => launched.signal(signal),
        }
    }
}

fn supervise(
    store: &Store,
    settings: &Settings,
    id: i64,
    mut script: Script,
    timeout: Duration,
    cancel: &AtomicBool,
) -> Result<Outcome> {
    // The runner's own thread watches the script's two pipes and its exit (a pidfd of
    // its child, or the channel the launcher reports on) with one poll: no thread per
    // pipe, none to wait.
    let (group, exit, pipes) = match &mut script {
        Script::Child(child) => {
            let group = Pid::from_raw(child.id() as i32);
            let exit = match rustix::process::pidfd_open(
                rustix::process::Pid::from_child(child),
                rustix::process::PidfdFlags::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = child.wait();
                    return Err(Error::Internal(format!(
                        "watching the script's process: {e}"
                    )));
                }
            };
            let pipes = [
                child.stdout.take().map(|p| Pipe::new(p.into(), "stdout")),
                child.stderr.take().map(|p| Pipe::new(p.into(), "stderr")),
            ];
            (group, exit, pipes)
        }
        Script::Launched(launched) => {
            // Its channel: readable when the launcher reports the end, or is gone.
            let exit = launched
                .channel
                .try_clone()
                .map_err(|e| Error::Internal(format!("watching the script's process: {e}")))?;
            let pipes = [
                launched.stdout.take().map(|p| Pipe::new(p, "stdout")),
                launched.stderr.take().map(|p| Pipe::new(p, "stderr")),
            ];
            (Pid::from_raw(0), exit, pipes)
        }
    };
    let mut pipes = pipes;

    let started = Instant::now();
    let mut log = LogBatch::new(store, id);
    let mut stop: Option<(Stop, Instant)> = None;
    let mut last_state_check = Instant::now();
    let status = loop {
        if watch(&mut pipes, Some(&exit), TICK, &mut log)? {
            let status = match &mut script {
                // Nothing the script started outlives it: its group is killed before
                // the script is reaped, while its number cannot belong to others (the
                // launcher does the same for the scripts it starts).
                Script::Child(child) => {
                    let _ = killpg(group, Signal::SIGKILL);
                    child
                        .wait()
                        .map_err(|e| Error::Internal(format!("waiting for bash: {e}")))
                }
                Script::Launched(launched) => launched.status().map_err(|e| {
                    // Its launcher died: what the script left is found by its
                    // working directory, as after a crash.
                    if let Ok(user) = &settings.script_user {
                        crate::process::kill_leftovers(&settings.work_dir, &[id], user.uid());
                    }
                    Error::Internal(e)
                }),
            };
            match status {
                Ok(status) => break status,
                Err(e) => {
                    drain_pipes(&mut pipes, &mut log)?;
                    return Err(e);
                }
            }
        }
        log.flush_if_due();
        match stop {
            None => {
                let mut cancelled = cancel.load(Ordering::SeqCst);
                if !cancelled && last_state_check.elapsed() >= STATE_EVERY {
                    last_state_check = Instant::now();
                    // A read that fails (the database restarting) is asked again at the
                    // next check; the script runs on meanwhile.
                    cancelled = match store.read_now(|c| tasks::state_of(c, id)) {
                        Ok(state) => stop_for(state),
                        Err(_) => false,
                    };
                }
                let why = if cancelled {
                    Some(Stop::Cancel)
                } else if started.elapsed() >= timeout {
                    Some(Stop::Timeout)
                } else {
                    None
                };
                if let Some(why) = why {
                    script.signal(group, Signal::SIGTERM);
                    stop = Some((why, Instant::now()));
                }
            }
            Some((_, since)) => {
                if since.elapsed() >= settings.cancel_grace {
                    script.signal(group, Signal::SIGKILL);
                }
            }
        }
    };
    drain_pipes(&mut pipes, &mut log)?;
    Ok(outcome_of(store, id, status, stop.map(|s| s.0), timeout))
}

/// Whether a script whose task is in `state` must stop: it is being cancelled, or it
/// is no longer running at all (another node failed it as its node's, or it is gone).
fn stop_for(state: Option<TaskState>) -> bool {
    !matches!(state, Some(TaskState::Executing))
}

/// Takes what is left in the pipes (a process that left the group and kept them open
/// gets two seconds), and writes the log.
fn drain_pipes(pipes: &mut [Option<Pipe>; 2], log: &mut LogBatch) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while pipes.iter().any(Option::is_some) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        watch(pipes, None, left.min(TICK), log)?;
    }
    for pipe in pipes.iter_mut().flatten() {
        pipe.finish(log);
    }
    let id = log.id;
    until_committed(&format!("the log of ServerTasks-{id}"), || log.flush());
    Ok(())
}

/// Waits up to `wait` for output on the open pipes (or for the exit, when `exit` is
/// given), takes what came, and closes the pipes that ended. True when the script
/// exited.
fn watch(
    pipes: &mut [Option<Pipe>; 2],
    exit: Option<&OwnedFd>,
    wait: Duration,
    log: &mut LogBatch,
) -> Result<bool> {
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    let mut fds: Vec<PollFd> = pipes
        .iter()
        .flatten()
        .map(|p| PollFd::new(p.fd.as_fd(), PollFlags::POLLIN))
        .chain(exit.map(|fd| PollFd::new(fd.as_fd(), PollFlags::POLLIN)))
        .collect();
    if fds.is_empty() {
        return Ok(false);
    }
    match poll(&mut fds, PollTimeout::from(ms)) {
        Ok(_) | Err(Errno::EINTR) => {}
        Err(e) => return Err(Error::Internal(format!("watching the script: {e}"))),
    }
    let ready: Vec<bool> = fds
        .iter()
        .map(|f| f.revents().is_some_and(|r| !r.is_empty()))
        .collect();
    drop(fds);
    let mut at = 0;
    for slot in pipes.iter_mut() {
        let Some(pipe) = slot else { continue };
        let is_ready = ready[at];
        at += 1;
        if is_ready && !pipe.read(log) {
            pipe.finish(log);
            *slot = None;
        }
    }
    Ok(exit.is_some() && ready.get(at) == Some(&true))
}

/// One of the script's output pipes, cut into lines as its bytes come.
struct Pipe {
    fd: OwnedFd,
    stream: &'static str,
    pending: Vec<u8>,
}

impl Pipe {
    fn new(fd: OwnedFd, stream: &'static str) -> Pipe {
        Pipe {
            fd,
            stream,
            pending: Vec::new(),
        }
    }

    /// Reads what is there (one read: poll said it would not block) and logs each
    /// whole line. False at the pipe's end.
    fn read(&mut self, log: &mut LogBatch) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let n = match nix::unistd::read(&self.fd, &mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        self.pending.extend_from_slice(&chunk[..n]);
        let now = clock::now_ms();
        let mut from = 0;
        loop {
            let rest = &self.pending[from..];
            match rest.iter().take(MAX_LINE).position(|&b| b == b'\n') {
                Some(at) => {
                    log.push((now, self.stream, line_of(&rest[..at], false)));
                    from += at + 1;
                }
                None if rest.len() >= MAX_LINE => {
                    log.push((now, self.stream, line_of(&rest[..MAX_LINE], true)));
                    from += MAX_LINE;
                }
                None => break,
            }
        }
        self.pending.drain(..from);
        true
    }

    /// Logs a last line the script did not end with a newline.
    fn finish(&mut self, log: &mut LogBatch) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            log.push((clock::now_ms(), self.stream, line_of(&rest, false)));
        }
    }
}

fn line_of(bytes: &[u8], cut: bool) -> String {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    let mut line = String::from_utf8_lossy(&bytes[..end]).into_owned();
    if cut {
        line.push_str(" [line cut at 16 KiB]");
    }
    line
}

/// A task stopped on request: cancelled by someone (it is `Cancelling`), or stopped
/// because this node is shutting down.
fn stopped_outcome(store: &Store, id: i64, code: Option<i64>) -> Outcome {
    let cancelled =
        store.read_now(|c| tasks::state_of(c, id)).ok().flatten() == Some(TaskState::Cancelling);
    if cancelled {
        Outcome {
            state: TaskState::Canceled,
            error: Some("Canceled while it was running.".into()),
            exit_code: code,
        }
    } else {
        Outcome {
            state: TaskState::Failed,
            error: Some("interrupted: server node stopped".into()),
            exit_code: code,
        }
    }
}

fn outcome_of(
    store: &Store,
    id: i64,
    status: ExitStatus,
    stop: Option<Stop>,
    timeout: Duration,
) -> Outcome {
    let code = status.code().map(i64::from);
    match stop {
        Some(Stop::Timeout) => Outcome {
            state: TaskState::TimedOut,
            error: Some(format!(
                "The script ran longer than its timeout of {} s and was stopped.",
                timeout.as_secs()
            )),
            exit_code: code,
        },
        Some(Stop::Cancel) => stopped_outcome(store, id, code),
        None => match (code, status.signal()) {
            (Some(0), _) => Outcome {
                state: TaskState::Success,
                error: None,
                exit_code: Some(0),
            },
            (Some(n), _) => Outcome {
                state: TaskState::Failed,
                error: Some(format!("The script exited with status {n}.")),
                exit_code: Some(n),
            },
            (None, signal) => Outcome::failed(format!(
                "The script was killed by signal {}.",
                signal.unwrap_or_default()
            )),
        },
    }
}

type Line = (i64, &'static str, String);

/// Lines waiting to be written, flushed in one transaction per batch.
struct LogBatch<'a> {
    store: &'a Store,
    id: i64,
    lines: Vec<Line>,
    /// Lines not kept since the last write (more than [`MAX_PENDING_LINES`] waited).
    dropped: u64,
    since: Instant,
}

impl<'a> LogBatch<'a> {
    fn new(store: &'a Store, id: i64) -> Self {
        LogBatch {
            store,
            id,
            lines: Vec::new(),
            dropped: 0,
            since: Instant::now(),
        }
    }

    /// Keeps `line` for the next write; past [`MAX_PENDING_LINES`] waiting (the
    /// database unreachable for long) lines are counted, not kept.
    fn push(&mut self, line: Line) {
        if self.lines.len() < MAX_PENDING_LINES {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    /// Writes the batch when it is full or old enough.
    fn flush_if_due(&mut self) {
        if self.lines.len() >= FLUSH_LINES || self.since.elapsed() >= FLUSH_EVERY {
            if let Err(e) = self.flush() {
                eprintln!("drydock: writing the log of ServerTasks-{}: {e}", self.id);
            }
        }
    }

    /// Writes the waiting lines; when that fails they wait for the next write.
    fn flush(&mut self) -> Result<()> {
        self.since = Instant::now();
        if self.dropped > 0 {
            let at = self.lines.last().map_or_else(clock::now_ms, |l| l.0);
            let note = format!(
                "[drydock: {} line(s) of output were not kept while the database could not be written]",
                self.dropped
            );
            self.lines.push((at, "stderr", note));
            self.dropped = 0;
        }
        if self.lines.is_empty() {
            return Ok(());
        }
        let id = self.id;
        let lines = &self.lines;
        self.store
            .bookkeeping_now(|tx| tasks::append_log(tx, id, lines))?;
        self.lines.clear();
        Ok(())
    }
}
