//! The script launcher: when drydock runs as root, one long-lived process of drydock's
//! own binary (`drydock script-launcher`), started once through `setpriv` as
//! `script_user` with no capabilities and `no_new_privs`, starts every script. Each
//! task then costs one `exec` (bash) instead of two (`setpriv`, then bash), and the
//! script is spawned by a small process rather than by the large multi-threaded server.
//!
//! The server and the launcher talk over a Unix `SOCK_SEQPACKET` pair (the launcher's
//! standard input). The server sends `Spawn` with three descriptors attached
//! (`SCM_RIGHTS`): the write ends of the script's stdout and stderr pipes, and one end
//! of a `SOCK_SEQPACKET` pair of the script's own, its channel; and `Signal` (cancel,
//! timeout, shutdown). The launcher answers on the script's channel: `Started`, or
//! `Refused` when bash could not start, then `Exited` with the wait status once it has
//! killed whatever the script left in its process group. The task's runner reads its
//! channel itself (polled with the script's pipes): no thread of the server relays
//! what the launcher says, and a launcher that dies closes every channel at once.
//!
//! Trust runs one way. The launcher has exactly the powers of a script (same user, same
//! restrictions), so a script may kill or take it over; the server therefore never
//! signals a process it names — signals go through the launcher, which can reach only
//! that user's processes — and treats its messages as untrusted input. When the launcher
//! dies, the tasks it was running fail ("the script launcher stopped"), what they left
//! is stopped by their working directory as after a crash (`process::kill_leftovers`),
//! and the next task starts a new launcher. When the launcher cannot start at all
//! (e.g. `script_user` may not execute drydock's binary), the node says so once and
//! starts each script through `setpriv` as before.

use std::collections::HashMap;
use std::io::{IoSlice, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustix::net::{
    recvmsg, sendmsg, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer,
    SendAncillaryMessage, SendFlags,
};
use serde::{Deserialize, Serialize};

/// A task's error when its launcher died under it.
pub const LOST: &str = "the script launcher stopped while the script ran; what the script \
                        left running was stopped";

/// The largest message either side sends (a spawn request: paths and variables).
const MAX_MESSAGE: usize = 256 * 1024;
/// How long a spawn may take before the server gives up on the launcher.
const START_WITHIN: Duration = Duration::from_secs(10);
/// How long the launcher may take to report a script's end once its channel is
/// readable (it is readable because the report came, or because the launcher is gone).
const REPORT_WITHIN: Duration = Duration::from_secs(5);
/// Descriptors a spawn request carries: stdin (when given), stdout, stderr, the
/// script's channel.
const SPAWN_FDS: usize = 4;

static PROGRAM: OnceLock<PathBuf> = OnceLock::new();

/// Names drydock's own binary, which can run as the launcher (`drydock serve` does, at
/// start). Without it — a library embedding the server, the tests — scripts start
/// through `setpriv` one by one.
pub fn use_program(path: PathBuf) {
    let _ = PROGRAM.set(path);
}

#[derive(Serialize, Deserialize)]
enum ToLauncher {
    Spawn {
        id: u64,
        program: PathBuf,
        script: PathBuf,
        dir: PathBuf,
        env: Vec<(String, String)>,
        /// The niceness to run it at.
        nice: i32,
    },
    Signal {
        id: u64,
        signal: i32,
    },
}

/// What the launcher says on a script's channel.
#[derive(Serialize, Deserialize)]
enum FromLauncher {
    Started,
    Refused { error: String },
    Exited { status: i32 },
}

/// One running launcher process.
struct Link {
    socket: OwnedFd,
    alive: AtomicBool,
}

/// The server's side: starts the launcher when first needed, and again after it died.
pub struct Launcher {
    program: PathBuf,
    uid: u32,
    gid: u32,
    link: Mutex<Option<Arc<Link>>>,
    next_id: AtomicU64,
    /// Set once a launcher started a script: from then on a dead launcher is restarted;
    /// before, a launcher that dies is taken as one that cannot run here.
    proven: AtomicBool,
    unusable: AtomicBool,
}

/// Why a script did not start through the launcher.
pub enum NotStarted {
    /// The launcher cannot run here (said once, with why): start the script another way.
    Unavailable,
    /// The launcher tried: the task fails with this.
    Failed(String),
}

/// A script the launcher started.
pub struct Launched {
    id: u64,
    link: Arc<Link>,
    /// The script's channel: readable once the launcher reported the script's end, or
    /// once the launcher is gone.
    pub channel: OwnedFd,
    pub stdout: Option<OwnedFd>,
    pub stderr: Option<OwnedFd>,
}

impl Launched {
    /// Sends `signal` to the script's process group (through the launcher). False when
    /// the launcher is gone.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> bool {
        let message = ToLauncher::Signal {
            id: self.id,
            signal: signal as i32,
        };
        self.link.alive.load(Ordering::SeqCst) && send(&self.link.socket, &message, &[]).is_ok()
    }

    /// The script's exit status, once its channel is readable: the launcher reports
    /// it after stopping what the script left in its group. An error when the launcher
    /// is gone instead.
    pub fn status(&mut self) -> Result<ExitStatus, String> {
        match hear(&self.channel, REPORT_WITHIN) {
            Some(FromLauncher::Exited { status }) => Ok(ExitStatus::from_raw(status)),
            _ => Err(LOST.into()),
        }
    }
}

impl Launcher {
    /// The launcher that starts `user`'s scripts, when drydock runs as root (scripts
    /// switch to another user) and knows its own binary.
    pub fn for_user(user: &super::scripts::ScriptUser) -> Option<Launcher> {
        match user {
            super::scripts::ScriptUser::Switched { uid, gid, .. } => Launcher::new(*uid, *gid),
            super::scripts::ScriptUser::Same { .. } => None,
        }
    }

    /// A launcher for scripts of `uid`:`gid`, when drydock's binary is known.
    pub fn new(uid: u32, gid: u32) -> Option<Launcher> {
        Some(Launcher::with_program(PROGRAM.get()?.clone(), uid, gid))
    }

    /// A launcher run from `program` (`new` uses drydock's own running file).
    fn with_program(program: PathBuf, uid: u32, gid: u32) -> Launcher {
        Launcher {
            program,
            uid,
            gid,
            link: Mutex::new(None),
            next_id: AtomicU64::new(1),
            proven: AtomicBool::new(false),
            unusable: AtomicBool::new(false),
        }
    }

    /// Starts `bash script` in `dir` with exactly `env`, as the launcher's user, in a
    /// process group of its own, its output into the given pipes.
    pub fn spawn(
        &self,
        bash: &Path,
        script: &Path,
        dir: &Path,
        env: Vec<(String, String)>,
        nice: i32,
        stdin: Option<&OwnedFd>,
    ) -> Result<Launched, NotStarted> {
        if self.unusable.load(Ordering::SeqCst) {
            return Err(NotStarted::Unavailable);
        }
        let link = self.link().map_err(|e| self.give_up(e))?;
        let internal = |e: std::io::Error| NotStarted::Failed(format!("starting the script: {e}"));
        let (out_r, out_w) = pipe().map_err(internal)?;
        let (err_r, err_w) = pipe().map_err(internal)?;
        let (channel, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| internal(e.into()))?;
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let request = ToLauncher::Spawn {
            id,
            program: bash.to_path_buf(),
            script: script.to_path_buf(),
            dir: dir.to_path_buf(),
            env,
            nice,
        };
        // The script's standard input, when it has one, goes first: a launcher takes
        // the last three as its pipes and channel.
        let mut fds = Vec::with_capacity(SPAWN_FDS);
        fds.extend(stdin.map(|fd| fd.as_fd()));
        fds.extend([out_w.as_fd(), err_w.as_fd(), theirs.as_fd()]);
        let sent = send(&link.socket, &request, &fds);
        // Only the launcher holds the other end of the channel now, and only the
        // script the write ends of its pipes: the channel ends with the launcher, the
        // pipes when the script (and what it left) ends.
        drop((out_w, err_w, theirs));
        if let Err(e) = sent {
            link.alive.store(false, Ordering::SeqCst);
            return Err(self.lost(format!("the script launcher is gone: {e}")));
        }
        match hear(&channel, START_WITHIN) {
            Some(FromLauncher::Started) => {
                self.proven.store(true, Ordering::SeqCst);
                Ok(Launched {
                    id,
                    link,
                    channel,
                    stdout: Some(out_r),
                    stderr: Some(err_r),
                })
            }
            Some(FromLauncher::Refused { error }) => Err(NotStarted::Failed(error)),
            Some(FromLauncher::Exited { .. }) | None => {
                link.alive.store(false, Ordering::SeqCst);
                let _ = rustix::net::shutdown(&link.socket, rustix::net::Shutdown::Both);
                Err(self.lost("the script launcher stopped".into()))
            }
        }
    }

    /// A launcher that died before ever starting a script cannot run here.
    fn lost(&self, why: String) -> NotStarted {
        if self.proven.load(Ordering::SeqCst) {
            NotStarted::Failed(why)
        } else {
            self.give_up(why)
        }
    }

    fn give_up(&self, why: String) -> NotStarted {
        if !self.unusable.swap(true, Ordering::SeqCst) {
            eprintln!(
                "drydock: warning: the script launcher cannot run ({why}); deployment scripts \
                 start through setpriv one at a time instead (slower; see ARCHITECTURE.md)"
            );
        }
        NotStarted::Unavailable
    }

    /// The live launcher, started if there is none.
    fn link(&self) -> Result<Arc<Link>, String> {
        let mut slot = self
            .link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(link) = slot.as_ref().filter(|l| l.alive.load(Ordering::SeqCst)) {
            return Ok(Arc::clone(link));
        }
        let (ours, theirs) = rustix::net::socketpair(
            rustix::net::AddressFamily::UNIX,
            rustix::net::SocketType::SEQPACKET,
            rustix::net::SocketFlags::CLOEXEC,
            None,
        )
        .map_err(|e| format!("socketpair: {e}"))?;
        let child = Command::new(super::scripts::program("setpriv"))
            .arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .args(super::scripts::SETPRIV_FLAGS)
            .arg(&self.program)
            .arg("script-launcher")
            .current_dir("/")
            .env_clear()
            .env("PATH", super::scripts::PATH)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.program.display()))?;
        let link = Arc::new(Link {
            socket: ours,
            alive: AtomicBool::new(true),
        });
        let watched = Arc::clone(&link);
        std::thread::Builder::new()
            .name("drydock-launcher".into())
            .spawn(move || reap(watched, child))
            .map_err(|e| format!("starting a thread: {e}"))?;
        *slot = Some(Arc::clone(&link));
        Ok(link)
    }
}

impl Drop for Launcher {
    fn drop(&mut self) {
        // The launcher ends when its socket does (the scripts it started were stopped
        // by their runners already).
        if let Ok(Some(link)) = self.link.lock().map(|mut l| l.take()) {
            let _ = rustix::net::shutdown(&link.socket, rustix::net::Shutdown::Both);
        }
    }
}

/// Waits for one launcher process to end, and marks it gone (its scripts' channels
/// have said so already, by closing).
fn reap(link: Arc<Link>, mut child: Child) {
    let _ = child.wait();
    link.alive.store(false, Ordering::SeqCst);
    let _ = rustix::net::shutdown(&link.socket, rustix::net::Shutdown::Both);
}

/// The next message on a script's channel, waiting at most `within`; `None` when the
/// launcher closed it (it is gone), said something unreadable, or took too long.
fn hear(channel: &OwnedFd, within: Duration) -> Option<FromLauncher> {
    let ms = u16::try_from(within.as_millis()).unwrap_or(u16::MAX);
    let mut ready = [nix::poll::PollFd::new(
        channel.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    loop {
        match nix::poll::poll(&mut ready, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => return None,
            Ok(_) => break,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
    let mut buf = [0u8; 4096];
    let (length, _) = receive(channel, &mut buf)?;
    serde_json::from_slice(&buf[..length]).ok()
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)
}

fn send<T: Serialize>(
    socket: &OwnedFd,
    message: &T,
    fds: &[std::os::fd::BorrowedFd<'_>],
) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(std::io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(std::io::Error::other("the request is too large"));
    }
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(SPAWN_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(std::io::Error::other("too many descriptors"));
    }
    loop {
        match sendmsg(
            socket,
            &[IoSlice::new(&bytes)],
            &mut control,
            SendFlags::NOSIGNAL,
        ) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// One message, into `buf` (allocated once by the caller, [`MAX_MESSAGE`] long), and
/// the descriptors that came with it: the message's length and them; `None` at the
/// socket's end.
fn receive(socket: &OwnedFd, buf: &mut [u8]) -> Option<(usize, Vec<OwnedFd>)> {
    let mut space = [MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(SPAWN_FDS))];
    loop {
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let got = recvmsg(
            socket,
            &mut [IoSliceMut::new(buf)],
            &mut control,
            RecvFlags::CMSG_CLOEXEC,
        );
        match got {
            Ok(m) if m.bytes == 0 => return None,
            Ok(m) => {
                let mut fds = Vec::new();
                for message in control.drain() {
                    if let RecvAncillaryMessage::ScmRights(received) = message {
                        fds.extend(received);
                    }
                }
                return Some((m.bytes.min(buf.len()), fds));
            }
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// `drydock script-launcher`: the launcher's own side, reading requests from the
/// socket on its standard input until the server closes it.
pub fn serve() -> std::process::ExitCode {
    let socket = match std::io::stdin().as_fd().try_clone_to_owned() {
        Ok(socket) => Arc::new(socket),
        Err(e) => {
            eprintln!("drydock script-launcher: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let groups: Arc<Mutex<HashMap<u64, i32>>> = Arc::default();
    let mut buf = vec![0u8; MAX_MESSAGE];
    // The launcher takes the scripts' niceness itself: a script inherits it from the
    // start (a niceness once raised cannot be lowered again, nor need it be).
    let mut nice_now = rustix::process::getpriority_process(None).unwrap_or(0);
    while let Some((length, mut fds)) = receive(&socket, &mut buf) {
        match serde_json::from_slice::<ToLauncher>(&buf[..length]) {
            Ok(ToLauncher::Spawn {
                id,
                program,
                script,
                dir,
                env,
                nice,
            }) => {
                if nice != nice_now && rustix::process::setpriority_process(None, nice).is_ok() {
                    nice_now = nice;
                }
                // Without its channel a request cannot be answered: the server
                // gives up on it (and on this launcher) after START_WITHIN.
                let (Some(channel), Some(stderr), Some(stdout)) = (fds.pop(), fds.pop(), fds.pop())
                else {
                    continue;
                };
                let stdin = fds.pop();
                start(
                    &groups,
                    id,
                    (&program, &script, &dir),
                    env,
                    [stdin, Some(stdout), Some(stderr)],
                    channel,
                );
            }
            Ok(ToLauncher::Signal { id, signal }) => {
                let group = groups.lock().ok().and_then(|g| g.get(&id).copied());
                if let (Some(group), Ok(signal)) =
                    (group, nix::sys::signal::Signal::try_from(signal))
                {
                    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(group), signal);
                }
            }
            Err(_) => {}
        }
    }
    std::process::ExitCode::SUCCESS
}

/// Starts one script and answers on its channel: `Started` (or `Refused`), then from
/// a thread of its own that waits for it, `Exited`.
fn start(
    groups: &Arc<Mutex<HashMap<u64, i32>>>,
    id: u64,
    (program, script, dir): (&Path, &Path, &Path),
    env: Vec<(String, String)>,
    [stdin, stdout, stderr]: [Option<OwnedFd>; 3],
    channel: OwnedFd,
) {
    let [setsid, wait, program] = super::scripts::in_own_session(program);
    let io = |fd: Option<OwnedFd>| fd.map_or_else(Stdio::null, Stdio::from);
    let spawned = Command::new(setsid)
        .arg(wait)
        .arg(program)
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .envs(env)
        .stdin(io(stdin))
        .stdout(io(stdout))
        .stderr(io(stderr))
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let error = format!("could not start bash: {e}");
            let _ = send(&channel, &FromLauncher::Refused { error }, &[]);
            return;
        }
    };
    let pid = child.id() as i32;
    if let Ok(mut groups) = groups.lock() {
        groups.insert(id, pid);
    }
    let _ = send(&channel, &FromLauncher::Started, &[]);
    let groups = Arc::clone(groups);
    let kill_group = move || {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    };
    let waiter = std::thread::Builder::new().spawn(move || {
        // Nothing the script started outlives it: its group is killed while the script
        // is still unreaped, so that its number cannot have gone to a group of others.
        let _ = rustix::process::waitid(
            rustix::process::WaitId::Pid(rustix::process::Pid::from_child(&child)),
            rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
        );
        kill_group();
        let status = child.wait().map_or(-1, |s| s.into_raw());
        if let Ok(mut groups) = groups.lock() {
            groups.remove(&id);
        }
        let _ = send(&channel, &FromLauncher::Exited { status }, &[]);
    });
    if waiter.is_err() {
        // Its channel went with the thread that could not start: the server takes the
        // task as lost and stops what is left of it.
        kill_group();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_launcher_that_cannot_start_is_given_up_once_and_scripts_start_another_way() {
        // A "launcher" that exits at once, as one that may not run here would.
        let launcher = Launcher::with_program("/bin/false".into(), 65534, 65534);
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("deploy.sh");
        for attempt in 0..2 {
            let started = launcher.spawn(
                Path::new("/bin/bash"),
                &script,
                dir.path(),
                vec![],
                10,
                None,
            );
            assert!(
                matches!(started, Err(NotStarted::Unavailable)),
                "attempt {attempt}: the runner must start the script itself"
            );
        }
        assert!(launcher.unusable.load(Ordering::SeqCst));
        assert!(!launcher.proven.load(Ordering::SeqCst));
    }
}
