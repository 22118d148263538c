//! What the task queue and `NodeHealth` both need to stop the processes a task's script
//! left behind when its node died.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

/// Stops what the scripts of tasks `ids` left running when their node died without
/// stopping them (SIGKILL, power): every process of `uid` (the script user's) that runs
/// the task's `deploy.sh`, works in its directory, or shares a session with one that
/// does gets SIGKILL, and the directories go. Only processes of `uid` are ever
/// signalled, each through a pidfd opened before its owner is read, so neither a
/// process of another user (one a script tried to pass off as its own by moving into
/// its process group) nor one that took a reused pid is touched. Rounds repeat while
/// they find something, for what forked meanwhile. Nodes share one host (the
/// cluster's limit), so any node can do this for another. Returns how many processes
/// were killed.
pub fn kill_leftovers(work_dir: &Path, ids: &[i64], uid: u32) -> usize {
    if ids.is_empty() {
        return 0;
    }
    let dirs: Vec<PathBuf> = ids
        .iter()
        .map(|id| work_dir.join(format!("ServerTasks-{id}")))
        .collect();
    // A task that ran as a user id of its own (`script_uids`) owns its directory: only
    // drydock hands a directory over, and no script can give one away. Every process
    // of that id is the task's.
    let mut killed = 0;
    let me = nix::unistd::Uid::effective().as_raw();
    for dir in &dirs {
        if let Ok(meta) = std::fs::symlink_metadata(dir) {
            use std::os::unix::fs::MetadataExt;
            let owner = meta.uid();
            if owner != uid && owner != 0 && owner != me {
                killed += kill_user(owner);
            }
        }
    }
    // nix, not rustix: in a PID namespace whose session leader is outside it (a
    // container's), the session reads as 0, which rustix's `Pid` cannot hold.
    let own_session = nix::unistd::getsid(None).map_or(0, |s| s.as_raw());
    let mut sessions = BTreeSet::new();
    killed += kill_matching(|process| {
        if process.uid != Some(uid) {
            return false;
        }
        let belongs = process.works_in(&dirs)
            || (sessions.contains(&process.session) && process.session != own_session);
        if belongs && process.session > 1 && process.session != own_session {
            sessions.insert(process.session);
        }
        belongs
    });
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    killed
}

/// SIGKILLs every process whose user is `uid` (a task's own user id, which nothing
/// else runs as). Returns how many were killed.
pub fn kill_user(uid: u32) -> usize {
    kill_matching(|process| process.uid == Some(uid))
}

/// SIGKILLs every process (but this one) that `belongs` picks, each through a pidfd
/// opened before the process is read, so that what is read is about that very process
/// and a reused pid is never signalled; in rounds while any is found, for what forked
/// meanwhile (at most 20). Returns how many were killed.
fn kill_matching(mut belongs: impl FnMut(&Process) -> bool) -> usize {
    let me = std::process::id() as i32;
    let mut killed = 0;
    for _ in 0..20 {
        let mut found = 0;
        for pid in pids() {
            if pid == me {
                continue;
            }
            let Some(raw) = Pid::from_raw(pid) else {
                continue;
            };
            // Opened first: whatever is read below is about this very process.
            let Ok(fd) = pidfd_open(raw, PidfdFlags::empty()) else {
                continue;
            };
            let Some(process) = Process::read(pid) else {
                continue;
            };
            if belongs(&process) && pidfd_send_signal(&fd, Signal::KILL).is_ok() {
                found += 1;
            }
        }
        killed += found;
        if found == 0 {
            break;
        }
    }
    killed
}

/// The ids of the processes running now.
fn pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// What `/proc/<pid>` says of a process.
struct Process {
    /// Its user, when its real and effective uids agree.
    uid: Option<u32>,
    session: i32,
    cmdline: String,
    cwd: Option<PathBuf>,
}

impl Process {
    fn read(pid: i32) -> Option<Process> {
        let path = PathBuf::from(format!("/proc/{pid}"));
        let status = std::fs::read_to_string(path.join("status")).ok()?;
        let uid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| {
                let ids: Vec<u32> = ids
                    .split_whitespace()
                    .filter_map(|i| i.parse().ok())
                    .collect();
                (ids.len() == 4 && ids.iter().all(|i| *i == ids[0])).then_some(ids[0])
            });
        // Fields after the command name: state, ppid, pgrp, session.
        let stat = std::fs::read_to_string(path.join("stat")).ok()?;
        let session = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.split(' ').nth(3))
            .and_then(|s| s.parse().ok())?;
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        Some(Process {
            uid,
            session,
            cmdline: String::from_utf8_lossy(&cmdline).replace('\0', " "),
            cwd: std::fs::read_link(path.join("cwd")).ok(),
        })
    }

    /// Whether it runs a task's `deploy.sh` or works in a task's directory.
    fn works_in(&self, dirs: &[PathBuf]) -> bool {
        dirs.iter().any(|dir| {
            let script = dir.join("deploy.sh");
            self.cmdline.contains(&*script.to_string_lossy())
                || self.cwd.as_ref().is_some_and(|c| {
                    // A removed directory reads back as "<path> (deleted)".
                    let c = c.to_string_lossy();
                    let c = c.trim_end_matches(" (deleted)");
                    Path::new(c).starts_with(dir)
                })
        })
    }
}
