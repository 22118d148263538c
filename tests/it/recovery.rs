//! The real binary killed with SIGKILL during a task, then started again.

use crate::common;

use common::server::{alive, api_key, Server};
use serde_json::json;

#[test]
fn a_task_interrupted_by_kill_9_fails_on_restart_and_queued_tasks_still_run() {
    let dir = common::data_dir();
    // The node's task cap is 1, so the second deployment stays queued behind the first.
    dir.configure("task_cap = 1\nnode_name = \"node-a\"\n");
    let key = api_key(dir.path(), "admin");

    let mut server = Server::start(dir.path());
    let shared = common::shared_dir();
    let pid_file = shared.path().join("long.pids");
    let long = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Long", "DeploymentScript": format!(
            "echo $$ > {pids}; sleep 300 & echo $! >> {pids}; echo begun; wait",
            pids = pid_file.display()
        )}),
    );
    let short = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Short", "DeploymentScript": "echo done"}),
    );
    let env = server.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let long_release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": long, "Version": "1"}),
    );
    let short_release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": short, "Version": "1"}),
    );
    let (_, running) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": long_release, "EnvironmentId": env})),
    );
    let running = running["TaskId"].as_str().unwrap().to_string();
    server.wait_task(&key, &running, &["Executing"], 20);
    // Its first log line is written (logs are flushed every 100 ms).
    common::poll_until(10, "the log line never arrived", || {
        server
            .request(
                "GET",
                &format!("/api/tasks/{running}/raw"),
                &[("X-Octopus-ApiKey", &key)],
                "",
            )
            .is_some_and(|(_, raw)| raw.contains("begun"))
    });
    let (_, queued) = server.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": short_release, "EnvironmentId": env})),
    );
    let queued = queued["TaskId"].as_str().unwrap().to_string();
    assert_eq!(
        server
            .api(&key, "GET", &format!("/api/tasks/{queued}"), None)
            .1["State"],
        "Queued"
    );

    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    drop(server);
    let pids: Vec<String> = std::fs::read_to_string(&pid_file)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(pids.len(), 2);
    assert!(
        pids.iter().all(|p| alive(p)),
        "the script outlives a SIGKILLed node"
    );

    let server = Server::start(dir.path());
    let interrupted = server.wait_task(&key, &running, &["Failed"], 20);
    assert_eq!(
        interrupted["ErrorMessage"],
        "interrupted: server node stopped"
    );
    // The restarted node stopped what the dead one's script left running.
    common::poll_until(
        10,
        &format!("the orphaned script still runs: {pids:?}"),
        || !(pids.iter().any(|p| alive(p))),
    );
    let done = server.wait_task(&key, &queued, &["Success", "Failed"], 30);
    assert_eq!(done["State"], "Success", "{done}");
    let (status, raw) = server
        .request(
            "GET",
            &format!("/api/tasks/{queued}/raw"),
            &[("X-Octopus-ApiKey", &key)],
            "",
        )
        .unwrap();
    assert_eq!(status, 200);
    assert!(raw.contains("done"), "{raw}");
    // The interrupted script's own log survived the crash.
    let (_, raw) = server
        .request(
            "GET",
            &format!("/api/tasks/{running}/raw"),
            &[("X-Octopus-ApiKey", &key)],
            "",
        )
        .unwrap();
    assert!(raw.contains("begun"), "{raw}");
}
