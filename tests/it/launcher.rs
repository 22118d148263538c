//! The script launcher (`queue::launcher`): as root, one process of drydock's binary,
//! running as `script_user`, starts every script; a launcher that dies fails only the
//! tasks it was running (and stops what they left), and the next task gets a new one.
//! Real binary, real processes.

use crate::common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::server::{api_key, Server};
use common::*;
use serde_json::json;

/// A copy of drydock's binary in a fresh directory with `mode`, as an installation
/// would have it (`/usr/local/bin` is 0755); deleted with the directory, which the
/// launcher does not mind (it runs the server's own file).
fn installed_binary(mode: u32) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("drydock");
    std::fs::copy(server::binary(), &program).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    (dir, program)
}

/// Processes whose command line contains `needle`, with their parent pids.
fn processes(needle: &str) -> Vec<(i32, i32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmdline)
            .replace('\0', " ")
            .contains(needle)
        {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        let ppid = status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        found.push((pid, ppid));
    }
    found
}

struct Deployments<'a> {
    server: &'a Server,
    key: String,
    env: String,
}

impl<'a> Deployments<'a> {
    /// An administrator's key and a Production environment on `server`.
    fn on(server: &'a Server, data: &Path) -> Deployments<'a> {
        let key = api_key(data, "admin");
        let env = server.create(&key, "/api/environments", json!({"Name": "Production"}));
        Deployments { server, key, env }
    }

    fn run(&self, name: &str, script: &str) -> String {
        let project = self.server.create(
            &self.key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
        let release = self.server.create(
            &self.key,
            "/api/releases",
            json!({"ProjectId": project, "Version": "1"}),
        );
        let (status, body) = self.server.api(
            &self.key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": self.env})),
        );
        assert_eq!(status, 201, "{body}");
        body["TaskId"].as_str().unwrap().to_string()
    }

    fn log(&self, task: &str) -> String {
        let (_, raw) = self
            .server
            .api(&self.key, "GET", &format!("/api/tasks/{task}/raw"), None);
        raw.as_str().unwrap_or_default().to_string()
    }
}

fn start(program: &Path, data: &Path) -> Server {
    Server::start_program(program, data, &[], &[])
}

const WHO: &str =
    "echo \"nice=$(nice) user=$(id -un) parent=$(tr '\\0' ' ' < /proc/$PPID/cmdline)\"";

#[test]
fn as_root_one_launcher_starts_the_scripts_and_its_death_fails_only_its_tasks() {
    let data = data_dir();
    let (bin, program) = installed_binary(0o755);
    let server = start(&program, data.path());
    // As an upgrade would: the file on disk goes away under the running server.
    drop(bin);
    assert!(!program.exists());
    let d = Deployments::on(&server, data.path());
    let who = d.run("Who", WHO);
    let task = server.wait_task(&d.key, &who, &["Success", "Failed"], 30);
    assert_eq!(task["State"], "Success", "{task}");
    let log = d.log(&who);
    // Scripts run at `script_nice` (10 unless set), whoever starts them.
    assert!(log.contains("nice=10 "), "{log}");
    if !nix::unistd::Uid::effective().is_root() {
        // Not root: scripts run as drydock's own user, started by the server itself.
        assert!(!log.contains("script-launcher"), "{log}");
        return;
    }
    // The launcher is the server's own running file (by /proc/<pid>/exe).
    let expected = format!(
        "user=nobody parent=/proc/{}/exe script-launcher",
        server.child.id()
    );
    assert!(log.contains(&expected), "{expected:?} not in {log}");
    let server_pid = server.child.id() as i32;
    let launchers: Vec<i32> = processes("script-launcher")
        .into_iter()
        .filter(|(_, ppid)| *ppid == server_pid)
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(launchers.len(), 1, "one launcher per node");

    // A script that outlives its launcher: the task fails, its process is stopped.
    let sleeper = d.run("Sleeper", "echo started; exec sleep 31.7");
    server.wait_task(&d.key, &sleeper, &["Executing"], 30);
    poll_until(10, "the sleeper's script to run", || {
        !processes("sleep 31.7").is_empty()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(launchers[0]),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let task = server.wait_task(&d.key, &sleeper, &["Success", "Failed", "Canceled"], 30);
    assert_eq!(task["State"], "Failed", "{task}");
    assert!(
        task["ErrorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("script launcher stopped"),
        "{task}"
    );
    poll_until(10, "the orphaned script to be stopped", || {
        processes("sleep 31.7").is_empty()
    });

    // The next task starts a new launcher.
    let again = d.run("Who again", WHO);
    let task = server.wait_task(&d.key, &again, &["Success", "Failed"], 30);
    assert_eq!(task["State"], "Success", "{task}");
    assert!(d.log(&again).contains(&expected));
    let now: Vec<i32> = processes("script-launcher")
        .into_iter()
        .filter(|(_, ppid)| *ppid == server_pid)
        .map(|(pid, _)| pid)
        .collect();
    assert_eq!(now.len(), 1);
    assert_ne!(now[0], launchers[0]);
}

#[test]
fn a_cancel_stops_the_whole_group_of_a_launched_script() {
    let data = data_dir();
    let server = Server::start(data.path());
    let d = Deployments::on(&server, data.path());
    // A child in the background and one in the foreground, both in the script's group.
    let task = d.run("Long", "sleep 41.3 & sleep 41.3; wait");
    server.wait_task(&d.key, &task, &["Executing"], 30);
    poll_until(10, "both sleeps to run", || {
        processes("sleep 41.3").len() >= 2
    });
    let (status, body) = d
        .server
        .api(&d.key, "POST", &format!("/api/tasks/{task}/cancel"), None);
    assert!(status == 200 || status == 202, "{status} {body}");
    let done = server.wait_task(&d.key, &task, &["Canceled", "Failed", "Success"], 30);
    assert_eq!(done["State"], "Canceled", "{done}");
    poll_until(10, "the script's whole group to be stopped", || {
        processes("sleep 41.3").is_empty()
    });
}
