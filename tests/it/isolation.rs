//! Isolation of concurrent deployments, written as an attacker would: while a script of
//! one project holds a sensitive value (substituted into its script, exported to a
//! child, written to its directory), a script of another project running at the same
//! time tries every place a process of another user could read it from, and to kill
//! it. With `script_uids` it finds nothing; without, as one shared `script_user`, it
//! does (which is what `script_uids` is for, and what shows the probe would see a leak).

use crate::common;

use common::server::{api_key, Server};
use common::*;
use serde_json::json;

const SECRET: &str = "iso-S3CRET-7781-value";

/// The victim: holds the value every way a script might, until the attacker is done.
fn victim(shared: &std::path::Path) -> String {
    format!(
        r#"T="$(get_octopusvariable Token)"
export LEAK="$T"
echo "$T" > secret.txt
sleep 120 &
(cd /; exec setsid sleep 301 >/dev/null 2>&1 &)
touch {ready}
for i in $(seq 600); do [ -e {done} ] && break; sleep 0.1; done
echo "victim still has #{{Token}}"
kill %1
[ -e {done} ] && echo "victim outlived the attack"
"#,
        ready = shared.join("ready").display(),
        done = shared.join("done").display(),
    )
}

/// The attacker: every process's environment, command line and open files, every file
/// under the work directory, then a kill of the victim's processes.
fn attacker(shared: &std::path::Path, work: &str) -> String {
    format!(
        r#"for i in $(seq 600); do [ -e {ready} ] && break; sleep 0.1; done
tried=0
for p in /proc/[0-9]*; do
  [ "$p" = "/proc/$$" ] && continue
  for f in environ cmdline; do
    tr '\0' '\n' < "$p/$f" 2>/dev/null | grep -a 'S3CRET' && echo "LEAK in $p/$f"
  done
  for fd in "$p"/fd/*; do
    timeout 2 head -c 65536 "$fd" 2>/dev/null | grep -a 'S3CRET' && echo "LEAK in $fd"
  done
  tried=$((tried+1))
done
for f in {work}/ServerTasks-*/* {work}/ServerTasks-*/.* {work}/.scripts/*; do
  [ -f "$f" ] && grep -a 'S3CRET' "$f" 2>/dev/null && echo "LEAK in $f"
done
for p in $(pgrep -f 'sleep 120'); do kill -9 "$p" 2>/dev/null && echo "KILLED $p"; done
echo "tried $tried processes"
touch {done}
"#,
        ready = shared.join("ready").display(),
        done = shared.join("done").display(),
    )
}

/// Runs the victim and the attacker at once on a node configured with `settings`;
/// (victim's log, attacker's log).
fn attack(settings: &str) -> (String, String) {
    let data = data_dir();
    data.configure(format!("task_cap = 4\n{settings}"));
    let key = api_key(data.path(), "admin");
    let server = Server::start(data.path());
    let work = std::fs::read_to_string(data.path().join("work-dir")).unwrap();
    let shared = shared_dir();
    let env = server.create(&key, "/api/environments", json!({"Name": "Production"}));
    let mut tasks = Vec::new();
    for (name, script) in [
        ("Victim", victim(shared.path())),
        ("Attacker", attacker(shared.path(), work.trim())),
    ] {
        let project = server.create(
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
        if name == "Victim" {
            let (status, body) = server.api(
                &key,
                "PUT",
                &format!("/api/variables/variableset-{project}"),
                Some(json!({"Version": 0, "Variables": [
                    {"Name": "Token", "Value": SECRET, "Type": "Sensitive"}
                ]})),
            );
            assert_eq!(status, 200, "{body}");
        }
        let release = server.create(
            &key,
            "/api/releases",
            json!({"ProjectId": project, "Version": "1"}),
        );
        let (status, body) = server.api(
            &key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env})),
        );
        assert_eq!(status, 201, "{body}");
        tasks.push(body["TaskId"].as_str().unwrap().to_string());
    }
    let logs: Vec<String> = tasks
        .iter()
        .map(|task| {
            server.wait_task(&key, task, &["Success", "Failed", "Canceled"], 90);
            let (_, raw) = server.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
            raw.as_str().unwrap_or_default().to_string()
        })
        .collect();
    (logs[0].clone(), logs[1].clone())
}

#[test]
fn a_concurrent_script_of_another_project_cannot_read_or_kill_a_deployments_secrets() {
    if !nix::unistd::Uid::effective().is_root() {
        assert!(
            std::env::var("CI").is_err(),
            "CI runs as root: this test must run there"
        );
        eprintln!("skipping: only root can give scripts users of their own");
        return;
    }
    let (victim, attacker) = attack("script_uids = \"2000000000-2000000999\"\n");
    assert!(attacker.contains("tried "), "the attack ran: {attacker}");
    assert!(!attacker.contains("LEAK"), "{attacker}");
    assert!(!attacker.contains("KILLED"), "{attacker}");
    assert!(!attacker.contains("S3CRET"), "{attacker}");
    assert!(victim.contains("victim outlived the attack"), "{victim}");
    assert!(victim.contains("victim still has ********"), "{victim}");
    // What escaped the script's group and directory went with its user id.
    poll_until(
        10,
        "the escaped process to be stopped with its task",
        || escaped().is_empty(),
    );

    // The same attack on scripts that share one user finds the value: the probe sees
    // a leak where there is one.
    let (_, shared_user) = attack("");
    assert!(shared_user.contains("LEAK in"), "{shared_user}");
    // (One user for every script cannot tell whose an escaped process is.)
    for pid in escaped() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

/// The processes running `sleep 301` (the victim's escaped one).
fn escaped() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x00301\x00")
        })
        .collect()
}
