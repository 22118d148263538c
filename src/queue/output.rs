//! A running script's output, and the database work its task needs while it runs,
//! kept off the thread that supervises the script.
//!
//! The runner reads the script's pipes and cuts them into lines ([`Pipe`]) into the
//! task's [`Log`]; it makes no database call until the script has ended, so a database
//! that hangs (a cut network) never keeps it from stopping the script on a cancel, a
//! timeout or a cut-off node (`queue::heartbeat`). One thread per node ([`write_and_watch`])
//! writes every running task's waiting lines (every 100 ms) and reads their states back
//! (every 500 ms): a task cancelled through another node, or failed by the cluster,
//! tells its runner to stop. Lines wait, bounded, while the database cannot be written.

use std::collections::BTreeMap;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::until_committed;
use super::Inner;
use crate::clock;
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::{tasks, Store};
use crate::variables::resolve::Masker;

/// How often waiting lines are written.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// The most log lines kept waiting while the database cannot be written.
const MAX_PENDING_LINES: usize = 100_000;
/// How often the running tasks' states are read back, to see a cancel made by another
/// process.
const STATE_EVERY: Duration = Duration::from_millis(500);
/// A longer line is cut (and says so).
const MAX_LINE: usize = 16 * 1024;
/// How much of the last stderr line a failure's summary quotes, in characters.
const ERROR_LINE: usize = 300;

type Line = (i64, &'static str, String);

/// A task's lines waiting to be written.
pub(super) struct Log {
    id: i64,
    /// The task's sensitive values, masked in every line before it is kept.
    masker: Masker,
    pending: Mutex<Pending>,
    /// Held while lines are written: the runner's last write waits for the writer
    /// thread's, so lines keep their order.
    writing: Mutex<()>,
    /// Whether the last write failed (said once per run of failures).
    failing: AtomicBool,
}

#[derive(Default)]
struct Pending {
    lines: Vec<Line>,
    /// Lines not kept since the last write (more than [`MAX_PENDING_LINES`] waited).
    dropped: u64,
    /// The last non-blank line the script wrote to stderr, for a failure's summary.
    last_error: Option<String>,
}

impl Log {
    fn new(id: i64, masker: Masker) -> Log {
        Log {
            id,
            masker,
            pending: Mutex::new(Pending::default()),
            writing: Mutex::new(()),
            failing: AtomicBool::new(false),
        }
    }

    /// The last non-blank line the script wrote to stderr, cut to [`ERROR_LINE`].
    pub(super) fn last_error(&self) -> Option<String> {
        self.pending().last_error.clone()
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Keeps `line` for the next write; past [`MAX_PENDING_LINES`] waiting (the
    /// database unreachable for long) lines are counted, not kept.
    pub(super) fn push(&self, mut line: Line) {
        if !self.masker.is_empty() {
            if let std::borrow::Cow::Owned(masked) = self.masker.mask(&line.2) {
                line.2 = masked;
            }
        }
        let mut pending = self.pending();
        if line.1 == "stderr" && !line.2.trim().is_empty() {
            pending.last_error = Some(line.2.trim().chars().take(ERROR_LINE).collect());
        }
        if pending.lines.len() < MAX_PENDING_LINES {
            pending.lines.push(line);
        } else {
            pending.dropped += 1;
        }
    }

    fn waiting(&self) -> bool {
        let pending = self.pending();
        !pending.lines.is_empty() || pending.dropped > 0
    }

    /// Writes the waiting lines in one transaction; when that fails they wait for the
    /// next write, ahead of newer ones.
    pub(super) fn flush(&self, store: &Store) -> Result<()> {
        let _writing = self
            .writing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut lines = {
            let mut pending = self.pending();
            let mut lines = std::mem::take(&mut pending.lines);
            if pending.dropped > 0 {
                let at = lines.last().map_or_else(clock::now_ms, |l| l.0);
                lines.push((
                    at,
                    "stderr",
                    format!(
                        "[drydock: {} line(s) of output were not kept while the database could not be written]",
                        pending.dropped
                    ),
                ));
                pending.dropped = 0;
            }
            lines
        };
        if lines.is_empty() {
            return Ok(());
        }
        let id = self.id;
        match store.bookkeeping_now(|tx| tasks::append_log(tx, id, &lines)) {
            Ok(()) => {
                if self.failing.swap(false, Ordering::SeqCst) {
                    eprintln!("drydock: the log of ServerTasks-{id} is written again");
                }
                Ok(())
            }
            Err(e) => {
                if !self.failing.swap(true, Ordering::SeqCst) {
                    eprintln!("drydock: could not write the log of ServerTasks-{id} yet: {e}");
                }
                let mut pending = self.pending();
                lines.append(&mut pending.lines);
                if lines.len() > MAX_PENDING_LINES {
                    pending.dropped += (lines.len() - MAX_PENDING_LINES) as u64;
                    lines.truncate(MAX_PENDING_LINES);
                }
                pending.lines = lines;
                Err(e)
            }
        }
    }
}

/// A task whose script runs on this node: its log, and whether its state says stop.
pub(super) struct Running {
    pub(super) log: Log,
    pub(super) told_to_stop: AtomicBool,
}

/// The tasks whose scripts run on this node (shared by the settings' clones).
#[derive(Default)]
pub struct Outputs {
    tasks: Mutex<BTreeMap<i64, Arc<Running>>>,
}

impl Outputs {
    fn tasks(&self) -> std::sync::MutexGuard<'_, BTreeMap<i64, Arc<Running>>> {
        self.tasks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers task `id`'s script as running; it is unregistered when the returned
    /// guard goes.
    pub(super) fn register(&self, id: i64, masker: Masker) -> Registered<'_> {
        let running = Arc::new(Running {
            log: Log::new(id, masker),
            told_to_stop: AtomicBool::new(false),
        });
        self.tasks().insert(id, Arc::clone(&running));
        Registered {
            outputs: self,
            id,
            running,
        }
    }

    fn snapshot(&self) -> Vec<(i64, Arc<Running>)> {
        self.tasks()
            .iter()
            .map(|(id, r)| (*id, Arc::clone(r)))
            .collect()
    }
}

/// A registered running script (see [`Outputs::register`]).
pub(super) struct Registered<'a> {
    outputs: &'a Outputs,
    id: i64,
    pub(super) running: Arc<Running>,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.outputs.tasks().remove(&self.id);
    }
}

/// Whether a script whose task is in `state` must stop: it is being cancelled, or it
/// is no longer running at all (another node failed it as its node's, or it is gone).
pub(super) fn stop_for(state: Option<TaskState>) -> bool {
    !matches!(state, Some(TaskState::Executing))
}

/// Starts the node's output thread ([`write_and_watch`]).
pub(super) fn start(inner: &Arc<Inner>, store: &Store, settings: &super::Settings) -> Result<()> {
    let (weak, store, outputs) = (
        Arc::downgrade(inner),
        store.clone(),
        Arc::clone(&settings.outputs),
    );
    std::thread::Builder::new()
        .name("drydock-output".into())
        .spawn(move || write_and_watch(weak, store, outputs))
        .map(|_| ())
        .map_err(|e| Error::internal_from("starting the output thread", e))
}

/// The node's output thread: writes every running task's waiting lines and reads their
/// states back, until the queue is gone or stopped with nothing running.
pub(super) fn write_and_watch(weak: Weak<Inner>, store: Store, outputs: Arc<Outputs>) {
    let mut last_states = Instant::now();
    loop {
        match weak.upgrade() {
            None => return,
            Some(inner) => {
                let idle = inner.running.lock().map_or(true, |r| r.is_empty());
                if inner.stopping.load(Ordering::SeqCst) && idle {
                    return;
                }
            }
        }
        let running = outputs.snapshot();
        for (_, task) in &running {
            if task.log.waiting() {
                // A failure is said once; the lines wait for the next round.
                let _ = task.log.flush(&store);
            }
        }
        if !running.is_empty() && last_states.elapsed() >= STATE_EVERY {
            last_states = Instant::now();
            // A read that fails (the database restarting) is asked again next time;
            // the scripts run on meanwhile.
            let states = store.read_now(|c| {
                running
                    .iter()
                    .map(|(id, _)| tasks::state_of(c, *id))
                    .collect::<Result<Vec<_>>>()
            });
            if let Ok(states) = states {
                for ((_, task), state) in running.iter().zip(states) {
                    if stop_for(state) {
                        task.told_to_stop.store(true, Ordering::SeqCst);
                    }
                }
            }
        }
        std::thread::sleep(FLUSH_EVERY);
    }
}

/// One of the script's output pipes, cut into lines as its bytes come.
pub(super) struct Pipe {
    fd: OwnedFd,
    stream: &'static str,
    pending: Vec<u8>,
}

impl Pipe {
    pub(super) fn new(fd: OwnedFd, stream: &'static str) -> Pipe {
        Pipe {
            fd,
            stream,
            pending: Vec::new(),
        }
    }

    /// Reads what is there (one read: poll said it would not block) and logs each
    /// whole line. False at the pipe's end.
    fn read(&mut self, log: &Log) -> bool {
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
    pub(super) fn finish(&mut self, log: &Log) {
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

/// Takes what is left in the pipes (a process that left the group and kept them open
/// gets two seconds), and writes the log.
pub(super) fn drain_pipes(store: &Store, pipes: &mut [Option<Pipe>; 2], log: &Log) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(2);
    while pipes.iter().any(Option::is_some) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        watch(pipes, None, left.min(super::TICK), log)?;
    }
    for pipe in pipes.iter_mut().flatten() {
        pipe.finish(log);
    }
    let id = log.id;
    until_committed(&format!("the log of ServerTasks-{id}"), || log.flush(store));
    Ok(())
}

/// Waits up to `wait` for output on the open pipes (or for the exit, when `exit` is
/// given), takes what came, and closes the pipes that ended. True when the script
/// exited.
pub(super) fn watch(
    pipes: &mut [Option<Pipe>; 2],
    exit: Option<&OwnedFd>,
    wait: Duration,
    log: &Log,
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
        Err(e) => return Err(Error::internal_from("watching the script", e)),
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
