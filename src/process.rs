//! Process groups: what the task queue and `NodeHealth` both need to stop the
//! processes a task's script left behind when its node died.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// Stops what the scripts of tasks `ids` left running when their node died without
/// stopping them (SIGKILL, power): every process group with a member that runs the
/// task's `deploy.sh` or works in its directory gets SIGKILL, and the directories go.
/// Nodes share one host (the cluster's limit), so any node can do this for another.
/// Returns how many process groups were killed.
pub fn kill_leftovers(work_dir: &std::path::Path, ids: &[i64]) -> usize {
    if ids.is_empty() {
        return 0;
    }
    let dirs: Vec<std::path::PathBuf> = ids
        .iter()
        .map(|id| work_dir.join(format!("ServerTasks-{id}")))
        .collect();
    let own_group = nix::unistd::getpgrp();
    let mut groups = std::collections::BTreeSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return 0;
    };
    for entry in procs.flatten() {
        let path = entry.path();
        let is_pid = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()));
        if !is_pid {
            continue;
        }
        let cmdline = std::fs::read(path.join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cwd = std::fs::read_link(path.join("cwd")).ok();
        let belongs = dirs.iter().any(|dir| {
            let script = dir.join("deploy.sh");
            cmdline.contains(&*script.to_string_lossy())
                || cwd.as_ref().is_some_and(|c| {
                    // A removed directory reads back as "<path> (deleted)".
                    let c = c.to_string_lossy();
                    let c = c.trim_end_matches(" (deleted)");
                    std::path::Path::new(c).starts_with(dir)
                })
        });
        if !belongs {
            continue;
        }
        // Fields after the command name: state, ppid, pgrp.
        let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let pgrp = stat
            .rsplit(") ")
            .next()
            .and_then(|rest| rest.split(' ').nth(2))
            .and_then(|g| g.parse::<i32>().ok());
        if let Some(pgrp) = pgrp.filter(|&g| g > 1 && g != own_group.as_raw()) {
            groups.insert(pgrp);
        }
    }
    for group in &groups {
        let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
    }
    for dir in dirs {
        let _ = std::fs::remove_dir_all(dir);
    }
    groups.len()
}
