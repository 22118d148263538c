//! Server nodes: drain, task cap, ping, and the command line.

use crate::common;

use common::server::run_cli;
use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

fn node_name(client: &Client) -> String {
    client
        .rocket()
        .state::<drydock::App>()
        .unwrap()
        .config
        .node_name
        .clone()
}

#[test]
fn a_drained_node_finishes_what_it_runs_starts_nothing_new_and_answers_418() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let node = node_name(&client);
    let call = |m: Method, p: &str, b: Option<Value>| json_of(with_key(&client, m, p, &key, b));
    let (_, env, release) = project_env_release(&client, &key, "sleep 1");
    let env2 = call(
        Method::Post,
        "/api/environments",
        Some(json!({"Name": "E2"})),
    )
    .1["Id"]
        .clone();
    let running = deploy(&client, &key, &release, &env);
    wait_state(&client, &key, &running, "Executing", 20);

    let (status, body) = call(
        Method::Put,
        &format!("/api/octopusservernodes/OctopusServerNodes-{node}"),
        Some(json!({"IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(body["IsInMaintenanceMode"], true);
    let ping = client.get("/api/octopusservernodes/ping").dispatch();
    assert_eq!(ping.status(), Status::ImATeapot);
    let (_, ping) = json_of(ping);
    assert_eq!(ping["Name"], node.as_str());
    assert_eq!(ping["IsInMaintenanceMode"], true);

    let waiting = deploy(&client, &key, &release, &env2);
    wait_state(&client, &key, &running, "Success", 20);
    // A draining node starts nothing new: the task stays queued through several queue
    // rounds (polled, not slept through).
    watch_for(600, || {
        let (_, t) = call(Method::Get, &format!("/api/tasks/{waiting}"), None);
        assert_eq!(t["State"], "Queued", "a draining node starts nothing new");
    });

    call(
        Method::Put,
        &format!("/api/octopusservernodes/OctopusServerNodes-{node}"),
        Some(json!({"IsInMaintenanceMode": false})),
    );
    assert_eq!(
        client
            .get("/api/octopusservernodes/ping")
            .dispatch()
            .status(),
        Status::Ok
    );
    wait_state(&client, &key, &waiting, "Success", 20);
    let (_, events) = call(Method::Get, "/api/events?take=50", None);
    let categories: Vec<&str> = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Category"].as_str().unwrap())
        .collect();
    assert!(categories.contains(&"NodeDrained") && categories.contains(&"NodeUndrained"));
}

#[test]
fn nodes_are_listed_and_their_task_cap_is_validated() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let node = node_name(&client);
    let (status, list) = json_of(with_key(
        &client,
        Method::Get,
        "/api/octopusservernodes",
        &key,
        None,
    ));
    assert_eq!(status, Status::Ok);
    let me = list["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["Name"] == node.as_str())
        .unwrap()
        .clone();
    for field in [
        "Id",
        "Name",
        "IsInMaintenanceMode",
        "MaxConcurrentTasks",
        "LastSeen",
        "IsOffline",
        "RunningTaskCount",
        "Version",
    ] {
        assert!(me.get(field).is_some(), "{field} missing from {me}");
    }
    assert_eq!(me["IsOffline"], false);
    assert_eq!(me["MaxConcurrentTasks"], 5);
    let path = format!("/api/octopusservernodes/OctopusServerNodes-{node}");
    let (status, body) = json_of(with_key(
        &client,
        Method::Put,
        &path,
        &key,
        Some(json!({"MaxConcurrentTasks": 2})),
    ));
    assert_eq!(
        (status, body["MaxConcurrentTasks"].clone()),
        (Status::Ok, json!(2))
    );
    let (status, body) = json_of(with_key(
        &client,
        Method::Put,
        &path,
        &key,
        Some(json!({"MaxConcurrentTasks": 0})),
    ));
    assert_eq!(status, Status::BadRequest);
    assert!(body["ErrorMessage"]
        .as_str()
        .unwrap()
        .starts_with("MaxConcurrentTasks"));
    let (status, _) = json_of(with_key(
        &client,
        Method::Get,
        "/api/octopusservernodes/OctopusServerNodes-nobody",
        &key,
        None,
    ));
    assert_eq!(status, Status::NotFound);
    // Only administrators change nodes.
    let manager = app.user_with_key("manager", &["System Manager"]);
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        &path,
        &manager,
        Some(json!({"IsInMaintenanceMode": true})),
    ));
    assert_eq!(status, Status::Forbidden);
}

#[test]
fn the_command_line_lists_drains_and_sets_the_task_cap() {
    let app = TestApp::new();
    let client = app.client();
    let node = node_name(&client);
    let dir = app.data_dir();
    let (code, out, err) = run_cli(dir, &["node", "list"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&node) && out.contains("Running"), "{out}");
    let (code, out, _) = run_cli(dir, &["node", "drain", &node], "");
    assert_eq!(code, 0);
    assert!(out.contains("draining"), "{out}");
    let (_, out, _) = run_cli(dir, &["node", "list"], "");
    assert!(out.contains("Draining"), "{out}");
    assert_eq!(
        client
            .get("/api/octopusservernodes/ping")
            .dispatch()
            .status(),
        Status::ImATeapot
    );
    let (code, out, _) = run_cli(dir, &["node", "task-cap", &node, "3"], "");
    assert_eq!(code, 0);
    assert!(out.contains("task cap 3"), "{out}");
    let (code, _, _) = run_cli(dir, &["node", "undrain", &node], "");
    assert_eq!(code, 0);
    assert_eq!(
        client
            .get("/api/octopusservernodes/ping")
            .dispatch()
            .status(),
        Status::Ok
    );
    let (code, _, err) = run_cli(dir, &["node", "drain", "no-such-node"], "");
    assert_eq!(code, 1);
    assert!(err.contains("no-such-node"), "{err}");
}

#[test]
fn the_nodes_page_shows_nodes_and_administrators_drain_and_set_caps() {
    let app = TestApp::new();
    let admin = app.admin();
    let node = node_name(&admin.client);
    let html = admin
        .client
        .get("/configuration/nodes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        html.contains(&format!("id=\"node-{node}\"")) && html.contains("(this node)"),
        "{html}"
    );
    let response = admin.post_form(
        &format!("/configuration/nodes/{node}/drain"),
        &[("draining", "true")],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let html = admin
        .client
        .get("/configuration/nodes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        html.contains("is draining") && html.contains("Draining"),
        "{html}"
    );
    assert_eq!(
        admin
            .client
            .get("/api/octopusservernodes/ping")
            .dispatch()
            .status(),
        Status::ImATeapot
    );
    let refused = admin.post_form(
        &format!("/configuration/nodes/{node}/task-cap"),
        &[("task_cap", "many")],
    );
    assert_eq!(refused.status(), Status::BadRequest);
    let html = refused.into_string().unwrap();
    assert!(
        html.contains("Task cap: &#39;many&#39; is not a number"),
        "{html}"
    );
    admin.post_form(
        &format!("/configuration/nodes/{node}/task-cap"),
        &[("task_cap", "7")],
    );
    let cap: i64 = app
        .db()
        .one("SELECT task_cap FROM nodes WHERE name = ?1", &[&node]);
    assert_eq!(cap, 7);
    // A viewer sees the page without the controls.
    app.user_with_key("viewer", &["Viewer"]);
    let viewer = app.session("viewer", PASSWORD);
    let html = viewer
        .client
        .get("/configuration/nodes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(
        html.contains(&node) && !html.contains("task-cap\""),
        "{html}"
    );
}
