//! Approvals on a real install (the binary on a port): waiting deployments through
//! maintenance mode, the safe-to-stop signal, `kill -9`, and two nodes, where each
//! runs exactly once after its approval.

use crate::common;

use common::server::{api_key, create_user, Server};
use common::{data_dir, poll_until, PASSWORD};
use serde_json::{json, Value};

fn pending(server: &Server, key: &str) -> Vec<Value> {
    let (status, page) = server.api(
        key,
        "GET",
        "/api/interruptions?pendingOnly=true&take=100",
        None,
    );
    assert_eq!(status, 200, "{page}");
    page["Items"].as_array().cloned().unwrap_or_default()
}

fn submit(server: &Server, key: &str, i: &Value, result: &str) -> (u16, Value) {
    server.api(
        key,
        "POST",
        &format!("/api/interruptions/{}/submit", i["Id"].as_str().unwrap()),
        Some(json!({"Result": result, "Notes": "checked"})),
    )
}

fn maintenance(server: &Server, key: &str, on: bool) {
    let (status, body) = server.api(
        key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": on})),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn waiting_deployments_outlast_maintenance_and_kill_9_and_run_once_on_two_nodes() {
    let data = data_dir();
    create_user(data.path(), "lead", "Project Lead", PASSWORD);
    create_user(data.path(), "deployer", "Project Deployer", PASSWORD);
    let admin = api_key(data.path(), "admin");
    let lead = api_key(data.path(), "lead");
    let deployer = api_key(data.path(), "deployer");
    let shared = common::shared_dir();
    let runs = shared.path().join("runs");
    let mut one = Server::node(data.path(), "one");
    let script = format!("echo '#{{Octopus.Task.Id}}' >> '{}'\n", runs.display());
    let project = one.create(
        &lead,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": script}),
    );
    let prod = one.create(&lead, "/api/environments", json!({"Name": "Production"}));
    let (_, mut body) = one.api(&lead, "GET", &format!("/api/projects/{project}"), None);
    body["ApprovalRules"] = json!([{"EnvironmentIds": [prod], "RoleNames": ["Project Lead"]}]);
    let (status, saved) = one.api(
        &lead,
        "PUT",
        &format!("/api/projects/{project}"),
        Some(body),
    );
    assert_eq!(status, 200, "{saved}");
    let release = one.create(
        &lead,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    let tasks: Vec<String> = (0..4)
        .map(|_| {
            let (status, d) = one.api(
                &deployer,
                "POST",
                "/api/deployments",
                Some(json!({"ReleaseId": release, "EnvironmentId": prod})),
            );
            assert_eq!(status, 201, "{d}");
            d["TaskId"].as_str().unwrap().to_string()
        })
        .collect();

    // Maintenance on: a lead's approval is refused as any change is; the server is
    // quiet with four deployments waiting, which it counts as waiting, not due.
    maintenance(&one, &admin, true);
    let waiting = pending(&one, &lead);
    assert_eq!(waiting.len(), 4);
    let (status, body) = submit(&one, &lead, &waiting[0], "Proceed");
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("maintenance mode"), "{body}");
    let (_, quiet) = one.api(&admin, "GET", "/api/maintenanceconfiguration/status", None);
    assert_eq!(quiet["IsQuiet"], true, "{quiet}");
    assert_eq!(quiet["AwaitingApprovalCount"], 4, "{quiet}");
    assert_eq!(quiet["QueuedTaskCount"], 0, "{quiet}");
    // An administrator may approve in maintenance: that one runs (the queue drains).
    let by_admin = waiting
        .iter()
        .find(|i| i["TaskId"] == tasks[0].as_str())
        .unwrap();
    let (status, body) = submit(&one, &admin, by_admin, "Proceed");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        one.wait_task(&admin, &tasks[0], &["Success"], 30)["State"],
        "Success"
    );

    // kill -9, and back with a second node: still waiting, still approvable.
    one.child.kill().unwrap();
    one.wait_exit(10);
    let one = Server::node(data.path(), "one");
    let two = Server::node(data.path(), "two");
    for t in &tasks[1..] {
        let (_, task) = two.api(&lead, "GET", &format!("/api/tasks/{t}"), None);
        assert_eq!(task["State"], "Queued", "{task}");
        assert_eq!(task["HasPendingInterruptions"], true, "{task}");
    }
    let (status, body) = submit(&two, &lead, &pending(&two, &lead)[0], "Proceed");
    assert_eq!(
        status, 503,
        "still in maintenance after the restart: {body}"
    );
    maintenance(&two, &admin, false);
    let left = pending(&two, &lead);
    assert_eq!(left.len(), 3);
    for (n, i) in left.iter().enumerate() {
        let node = if n % 2 == 0 { &one } else { &two };
        let (status, body) = submit(node, &lead, i, "Proceed");
        assert_eq!(status, 200, "{body}");
    }
    for t in &tasks {
        assert_eq!(
            two.wait_task(&lead, t, &["Success", "Failed"], 30)["State"],
            "Success"
        );
    }
    // Each ran exactly once, whichever node claimed it.
    poll_until(10, "four runs recorded", || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
            >= 4
    });
    let text = std::fs::read_to_string(&runs).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let mut expected: Vec<&str> = tasks.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(lines, expected, "each deployment ran once");
    assert!(pending(&two, &lead).is_empty());
}
