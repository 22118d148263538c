//! Approvals and the queue: waiting deployments on a real install (the binary on a
//! port) through maintenance mode, the safe-to-stop signal, `kill -9`, and two nodes,
//! where each runs exactly once after its approval; freezes and expiry at approval;
//! Octopus's `await-task-action` waiting through an approval.

use crate::common;

use crate::approvals::{call, interruptions, pending_one, set_rules, task};
use crate::octopus_actions::run;
use common::server::{api_key, create_user, run_cli, Server};
use common::*;
use rocket::http::{Method, Status};
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

fn decide(server: &Server, key: &str, i: &Value, result: &str) -> (u16, Value) {
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
    let shared = shared_dir();
    let runs = shared.path().join("runs");
    let mut one = Server::node(data.path(), "one");
    let script = format!("echo '#{{Octopus.Task.Id}}' >> '{}'\n", runs.display());
    let (prod, _, release) = gated(
        &one,
        &lead,
        ("Web", &script),
        json!({"RoleNames": ["Project Lead"]}),
        "1",
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
    let (status, body) = decide(&one, &lead, &waiting[0], "Proceed");
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
    let (status, body) = decide(&one, &admin, by_admin, "Proceed");
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
    let (status, body) = decide(&two, &lead, &pending(&two, &lead)[0], "Proceed");
    assert_eq!(
        status, 503,
        "still in maintenance after the restart: {body}"
    );
    maintenance(&two, &admin, false);
    let left = pending(&two, &lead);
    assert_eq!(left.len(), 3);
    for (n, i) in left.iter().enumerate() {
        let node = if n % 2 == 0 { &one } else { &two };
        let (status, body) = decide(node, &lead, i, "Proceed");
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

/// Approved while a freeze is on, a deployment is judged by it as any queued one is
/// when it would start: `Fail` fails it naming the freeze, `Hold` starts it when the
/// freeze ends. One whose expiry passes while it waits ends `TimedOut`, saying so, and
/// an approval after that is refused.
#[test]
fn a_freeze_judges_an_approved_deployment_and_an_expired_one_cannot_be_approved() {
    use crate::freezes::{iso, shop_production, Setup};
    let s = Setup::new();
    let client = &s.client;
    for project in ["Projects-1", "Projects-2"] {
        set_rules(
            client,
            &s.manager,
            project,
            json!([{"RoleNames": ["System Manager"]}]),
        );
    }
    let failing = deploy(
        client,
        &s.deployer,
        &json!("Releases-1"),
        &json!("Environments-1"),
    );
    let held = deploy(
        client,
        &s.deployer,
        &json!("Releases-2"),
        &json!("Environments-2"),
    );
    let now = drydock::clock::now_ms();
    let (status, d) = call(
        client,
        &s.deployer,
        Method::Post,
        "/api/deployments",
        Some(
            json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-2",
                    "QueueTimeExpiry": iso(now + 400)}),
        ),
    );
    assert_eq!(status, Status::Created, "{d}");
    let expiring = d["TaskId"].as_str().unwrap().to_string();
    let start = drydock::clock::now_ms() + 200;
    s.freeze(shop_production("Fail window", start, start + 3_000));
    s.freeze(json!({
        "Name": "Hold window", "Start": iso(start), "End": iso(start + 1_500),
        "ProjectEnvironmentScope": {"Projects-2": ["Environments-2"]},
        "OnStartInFreeze": "Hold",
    }));

    let timed_out = wait_completed(client, &s.manager, &expiring, 20);
    assert_eq!(timed_out["State"], "TimedOut", "{timed_out}");
    let why = timed_out["ErrorMessage"].as_str().unwrap();
    assert!(why.contains("waiting for an approval"), "{why}");
    let late = interruptions(client, &s.manager, &expiring, false);
    assert_eq!(
        (late.len(), late[0]["IsPending"].as_bool()),
        (1, Some(false))
    );
    let (status, body) = crate::approvals::submit(client, &s.manager, &late[0], "Proceed", "");
    assert_eq!(status, Status::Conflict, "{body}");
    assert!(body.to_string().contains("TimedOut"), "{body}");

    poll_until(10, "the freezes to begin", || {
        drydock::clock::now_ms() > start + 50
    });
    for task in [&failing, &held] {
        let i = pending_one(client, &s.manager, task);
        let (status, body) = crate::approvals::submit(client, &s.manager, &i, "Proceed", "");
        assert_eq!(status, Status::Ok, "{body}");
    }
    let failed = wait_completed(client, &s.manager, &failing, 20);
    assert_eq!(failed["State"], "Failed", "{failed}");
    assert!(
        failed["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("Fail window"),
        "{failed}"
    );
    // Held until the freeze ends, then it runs.
    let t = task(client, &s.manager, &held);
    assert_eq!(
        (t["State"].as_str(), t["HasPendingInterruptions"].as_bool()),
        (Some("Queued"), Some(false)),
        "{t}"
    );
    let ran = wait_completed(client, &s.manager, &held, 20);
    assert_eq!(ran["State"], "Success", "{ran}");
    assert!(drydock::clock::now_ms() >= start + 1_500);
}

/// Octopus's `await-task-action`, unchanged, keeps waiting while a deployment waits for
/// its approval, then reports the outcome: success once approved, failure once rejected.
#[test]
fn the_official_await_action_waits_through_an_approval_and_reports_the_outcome() {
    let dir = data_dir();
    create_user(dir.path(), "deployer", "Project Deployer", PASSWORD);
    let admin = api_key(dir.path(), "admin");
    let deployer = api_key(dir.path(), "deployer");
    let server = Server::start(dir.path());
    gated(
        &server,
        &admin,
        ("Gated", "echo deployed"),
        json!({"RoleNames": ["System Manager"]}),
        "0.1",
    );
    let created = run(
        "create-release-action",
        &server,
        &deployer,
        &[("project", "Gated")],
    );
    assert!(created.ok, "{}", created.log);
    let release = created.outputs["release_number"].clone();
    for (result, succeeds) in [("Proceed", true), ("Abort", false)] {
        let deployed = run(
            "deploy-release-action",
            &server,
            &deployer,
            &[
                ("project", "Gated"),
                ("release_number", &release),
                ("environments", "Production"),
            ],
        );
        assert!(deployed.ok, "{}", deployed.log);
        let tasks: Value = serde_json::from_str(&deployed.outputs["server_tasks"]).unwrap();
        let id = tasks[0]["serverTaskId"].as_str().unwrap().to_string();
        std::thread::scope(|scope| {
            let awaiting = scope.spawn(|| {
                run(
                    "await-task-action",
                    &server,
                    &deployer,
                    &[("server_task_id", &id), ("polling_interval", "1")],
                )
            });
            // It keeps waiting while the deployment does.
            watch_for(1_500, || {
                assert!(
                    !awaiting.is_finished(),
                    "await-task-action gave up while {id} waited"
                )
            });
            let waiting = pending(&server, &admin);
            let i = waiting.iter().find(|i| i["TaskId"] == id.as_str()).unwrap();
            let (status, body) = decide(&server, &admin, i, result);
            assert_eq!(status, 200, "{body}");
            let awaited = awaiting.join().unwrap();
            assert_eq!(awaited.ok, succeeds, "{result}: {}", awaited.log);
        });
        let (_, task) = server.api(&admin, "GET", &format!("/api/tasks/{id}"), None);
        let state = if succeeds { "Success" } else { "Canceled" };
        assert_eq!(task["State"], state, "{task}");
    }
}

/// `drydock approvals list|approve|reject` decide as the command line's operator (an
/// administrator, in maintenance mode too), audited as such; a rule's note is needed
/// there too, and a bad id is refused naming it.
#[test]
fn the_command_line_lists_approves_and_rejects_as_its_operator() {
    let dir = data_dir();
    create_user(dir.path(), "deployer", "Project Deployer", PASSWORD);
    let admin = api_key(dir.path(), "admin");
    let deployer = api_key(dir.path(), "deployer");
    let server = Server::start(dir.path());
    let (env, _, release) = gated(
        &server,
        &admin,
        ("Shop", "true"),
        json!({"RoleNames": ["Project Lead"], "NoteRequired": true}),
        "3.1",
    );
    let queue = || {
        let (status, d) = server.api(
            &deployer,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env})),
        );
        assert_eq!(status, 201, "{d}");
        d["TaskId"].as_str().unwrap().to_string()
    };
    let (first, second) = (queue(), queue());
    let cli = |args: &[&str]| run_cli(dir.path(), args, "");

    let (code, out, err) = cli(&["approvals", "list"]);
    assert_eq!(code, 0, "{err}");
    for t in [&first, &second] {
        assert!(out.contains(t.as_str()), "{out}");
    }
    assert!(
        out.contains("Deploy Shop release 3.1 to Production") && out.contains("queued by deployer"),
        "{out}"
    );
    assert!(
        out.contains("approved by a Project Lead, not the person who queued it, with a note"),
        "{out}"
    );

    let (code, out, err) = cli(&["approvals", "approve", "ServerTasks-x9"]);
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("neither an interruption"), "{err}");
    let (code, _, err) = cli(&["approvals", "approve", &first]);
    assert_ne!(code, 0);
    assert!(err.contains("needs a note"), "{err}");
    // In maintenance mode the operator still decides (an administrator).
    let (code, _, err) = cli(&["maintenance", "enable"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = cli(&["approvals", "approve", &first, "--note", "from the shell"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("approved"), "{out}");
    assert_eq!(
        server.wait_task(&admin, &first, &["Success", "Failed"], 30)["State"],
        "Success"
    );
    let id = interruptions_of(&server, &admin, &second);
    let (code, out, err) = cli(&["approvals", "reject", &id, "--note", "not this one"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rejected"), "{out}");
    let (_, t) = server.api(&admin, "GET", &format!("/api/tasks/{second}"), None);
    assert_eq!(t["State"], "Canceled", "{t}");
    let (code, out, _) = cli(&["approvals", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains("no deployment waits"), "{out}");
    let (_, events) = server.api(&admin, "GET", "/api/events?take=20", None);
    let approved = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Category"] == "DeploymentApproved")
        .cloned()
        .unwrap_or_default();
    assert!(
        approved["Username"]
            .as_str()
            .unwrap_or_default()
            .starts_with("command line ("),
        "{approved}"
    );
    assert!(
        approved["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("from the shell"),
        "{approved}"
    );
}

/// The id of `task`'s one interruption.
fn interruptions_of(server: &Server, key: &str, task: &str) -> String {
    let (_, page) = server.api(
        key,
        "GET",
        &format!("/api/interruptions?regarding={task}"),
        None,
    );
    page["Items"][0]["Id"].as_str().unwrap().to_string()
}

/// On `server`, as `key`: environment Production, project `name` running `script` with
/// the one approval rule `rule` (over Production unless it names environments), and its
/// release `version`; (environment, project, release) ids.
pub(crate) fn gated(
    server: &Server,
    key: &str,
    (name, script): (&str, &str),
    mut rule: Value,
    version: &str,
) -> (String, String, String) {
    let env = server.create(key, "/api/environments", json!({"Name": "Production"}));
    let project = server.create(
        key,
        "/api/projects",
        json!({"Name": name, "DeploymentScript": script}),
    );
    if rule.get("EnvironmentIds").is_none() {
        rule["EnvironmentIds"] = json!([env]);
    }
    let (_, mut body) = server.api(key, "GET", &format!("/api/projects/{project}"), None);
    body["ApprovalRules"] = json!([rule]);
    let (status, saved) = server.api(key, "PUT", &format!("/api/projects/{project}"), Some(body));
    assert_eq!(status, 200, "{saved}");
    let release = server.create(
        key,
        "/api/releases",
        json!({"ProjectId": project, "Version": version}),
    );
    (env, project, release)
}
