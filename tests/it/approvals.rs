//! Approvals: a project's rules make its deployments to an environment wait, without
//! holding a task slot, until someone the rule allows approves (they run once) or
//! rejects them (`Canceled`); Octopus's interruptions API; four-eyes; who may decide.

use crate::common;

pub(crate) use crate::variables::{call, created};
use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

/// Sets `project`'s approval rules (a PUT of the project as read, with `rules`).
pub(crate) fn set_rules(client: &Client, key: &str, project: &str, rules: Value) -> Value {
    let (status, mut body) = call(
        client,
        key,
        Method::Get,
        &format!("/api/projects/{project}"),
        None,
    );
    assert_eq!(status, Status::Ok, "{body}");
    body["ApprovalRules"] = rules;
    let (status, saved) = call(
        client,
        key,
        Method::Put,
        &format!("/api/projects/{project}"),
        Some(body),
    );
    assert_eq!(status, Status::Ok, "{saved}");
    saved
}

/// The interruptions `regarding` a task (pending only, or all).
pub(crate) fn interruptions(client: &Client, key: &str, task: &str, pending: bool) -> Vec<Value> {
    let (status, page) = call(
        client,
        key,
        Method::Get,
        &format!("/api/interruptions?regarding={task}&pendingOnly={pending}"),
        None,
    );
    assert_eq!(status, Status::Ok, "{page}");
    assert_eq!(page["ItemType"], "Interruption");
    page["Items"].as_array().cloned().unwrap_or_default()
}

/// The one pending interruption of `task`.
pub(crate) fn pending_one(client: &Client, key: &str, task: &str) -> Value {
    let items = interruptions(client, key, task, true);
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].clone()
}

pub(crate) fn submit(
    client: &Client,
    key: &str,
    interruption: &Value,
    result: &str,
    notes: &str,
) -> (Status, Value) {
    call(
        client,
        key,
        Method::Post,
        &format!(
            "/api/interruptions/{}/submit",
            interruption["Id"].as_str().unwrap()
        ),
        Some(json!({"Notes": notes, "Result": result})),
    )
}

pub(crate) fn task(client: &Client, key: &str, id: &str) -> Value {
    call(client, key, Method::Get, &format!("/api/tasks/{id}"), None).1
}

/// A script that appends a line to `file`.
fn counting(file: &std::path::Path) -> String {
    format!("echo ran >> '{}'\n", file.display())
}

fn runs(file: &std::path::Path) -> usize {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .count()
}

#[test]
fn a_guarded_deployment_waits_without_a_slot_until_an_allowed_user_approves() {
    let app = TestApp::with(|c| c.task_cap = 2);
    let lead = app.user_with_key("lead", &["Project Lead"]);
    let lead2 = app.user_with_key("lead2", &["Project Lead"]);
    let deployer = app.user_with_key("deployer", &["Project Deployer"]);
    let viewer = app.user_with_key("viewer", &["Viewer"]);
    let client = app.client();
    let ran = app.shared_file("runs");
    let web = created(
        &client,
        &lead,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": counting(&ran)}),
    );
    let web_id = web["Id"].as_str().unwrap();
    let production = created(
        &client,
        &lead,
        "/api/environments",
        json!({"Name": "Production"}),
    );
    let staging = created(
        &client,
        &lead,
        "/api/environments",
        json!({"Name": "Staging"}),
    );
    let saved = set_rules(
        &client,
        &lead,
        web_id,
        json!([{"EnvironmentIds": [production["Id"]], "RoleNames": ["project lead"]}]),
    );
    let rule = &saved["ApprovalRules"][0];
    assert_eq!(rule["RoleNames"], json!(["Project Lead"]), "{saved}");
    assert_eq!(
        rule["NotByRequester"], true,
        "four-eyes is on by default: {saved}"
    );
    assert_eq!(rule["NoteRequired"], false);
    assert!(rule["Id"].as_str().unwrap().starts_with("ApprovalRules-"));
    let release = created(
        &client,
        &lead,
        "/api/releases",
        json!({"ProjectId": web_id, "Version": "1.0"}),
    );

    // Queued by the deployer, it waits: no slot, no process, HasPendingInterruptions.
    let waiting = deploy(&client, &deployer, &release["Id"], &production["Id"]);
    let t = task(&client, &deployer, &waiting);
    assert_eq!(
        (t["State"].as_str(), t["HasPendingInterruptions"].as_bool()),
        (Some("Queued"), Some(true)),
        "{t}"
    );
    // Meanwhile two other deployments run side by side: the full task cap of 2.
    let gate = app.shared_file("gate");
    let mut others = Vec::new();
    for name in ["A", "B"] {
        let script = format!("while [ ! -e '{}' ]; do sleep 0.02; done\n", gate.display());
        let p = created(
            &client,
            &lead,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
        let r = created(
            &client,
            &lead,
            "/api/releases",
            json!({"ProjectId": p["Id"], "Version": "1"}),
        );
        others.push(deploy(&client, &lead, &r["Id"], &staging["Id"]));
    }
    for other in &others {
        wait_state(&client, &lead, other, "Executing", 30);
    }
    std::fs::write(&gate, "").unwrap();
    for other in &others {
        assert_eq!(
            wait_completed(&client, &lead, other, 30)["State"],
            "Success"
        );
    }
    assert_eq!(task(&client, &lead, &waiting)["State"], "Queued");
    assert_eq!(runs(&ran), 0, "it ran before it was approved");

    // Octopus's interruption, as the deployer (who may not decide) sees it.
    let i = pending_one(&client, &deployer, &waiting);
    assert_eq!(i["TaskId"], waiting.as_str());
    assert_eq!(i["IsPending"], true);
    assert_eq!(i["CanTakeResponsibility"], false, "{i}");
    assert_eq!(i["HasResponsibility"], false);
    assert_eq!(i["ResponsibleUserId"], Value::Null);
    let names: Vec<&str> = i["Form"]["Elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Notes") && names.contains(&"Result"), "{i}");
    assert!(i["Created"].as_str().is_some() && i["Title"].as_str().unwrap().contains("Production"));

    // Refused for a viewer (no role) and for the deployer (who queued it, no role).
    for (key, why) in [(&viewer, "Project Lead"), (&deployer, "You queued")] {
        let (status, body) = submit(&client, key, &i, "Proceed", "");
        assert_eq!(status, Status::Forbidden, "{body}");
        assert!(
            body["ErrorMessage"].as_str().unwrap().contains(why),
            "{body}"
        );
    }
    assert!(pending_one(&client, &lead, &waiting)["IsPending"] == true);
    let as_lead = pending_one(&client, &lead, &waiting);
    assert_eq!(as_lead["CanTakeResponsibility"], true, "{as_lead}");
    // Taking responsibility, then approving: it runs, once.
    let (status, taken) = call(
        &client,
        &lead,
        Method::Put,
        &format!(
            "/api/interruptions/{}/responsible",
            i["Id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(status, Status::Ok, "{taken}");
    assert_eq!(taken["HasResponsibility"], true, "{taken}");
    let (status, decided) = submit(&client, &lead, &i, "Proceed", "looks good");
    assert_eq!(status, Status::Ok, "{decided}");
    assert_eq!(decided["IsPending"], false);
    assert_eq!(decided["Form"]["Values"]["Result"], "Proceed");
    assert_eq!(
        wait_completed(&client, &lead, &waiting, 30)["State"],
        "Success"
    );
    assert_eq!(runs(&ran), 1);
    assert!(interruptions(&client, &lead, &waiting, true).is_empty());
    let (status, again) = submit(&client, &lead2, &i, "Proceed", "");
    assert_eq!(status, Status::Conflict, "a second decision: {again}");

    // Four-eyes: the lead who queued it may not approve it; another lead may.
    let own = deploy(&client, &lead, &release["Id"], &production["Id"]);
    let i = pending_one(&client, &lead, &own);
    assert_eq!(i["CanTakeResponsibility"], false, "{i}");
    let (status, body) = submit(&client, &lead, &i, "Proceed", "");
    assert_eq!(status, Status::Forbidden, "{body}");
    assert!(
        body["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("You queued"),
        "{body}"
    );
    assert_eq!(task(&client, &lead, &own)["State"], "Queued");
    let (status, body) = submit(&client, &lead2, &i, "Proceed", "");
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(wait_completed(&client, &lead, &own, 30)["State"], "Success");
    assert_eq!(runs(&ran), 2);

    // Rejected: it ends Canceled with the note, and never runs.
    let rejected = deploy(&client, &deployer, &release["Id"], &production["Id"]);
    let i = pending_one(&client, &lead, &rejected);
    let (status, body) = submit(&client, &lead, &i, "Abort", "not during the sale");
    assert_eq!(status, Status::Ok, "{body}");
    let t = wait_completed(&client, &lead, &rejected, 10);
    assert_eq!(t["State"], "Canceled", "{t}");
    assert!(
        t["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("not during the sale"),
        "{t}"
    );
    assert_eq!(runs(&ran), 2);
    // A deployment to an environment no rule covers does not wait.
    let free = deploy(&client, &deployer, &release["Id"], &staging["Id"]);
    assert_eq!(
        wait_completed(&client, &lead, &free, 30)["State"],
        "Success"
    );
    assert_eq!(runs(&ran), 3);
}

/// A project with rule `rule` over a new environment `Production`; (project, release,
/// production) ids.
pub(crate) fn guarded(
    client: &Client,
    lead: &str,
    script: &str,
    rule: Value,
) -> (String, Value, Value) {
    let p = created(
        client,
        lead,
        "/api/projects",
        json!({"Name": "Guarded", "DeploymentScript": script}),
    );
    let id = p["Id"].as_str().unwrap().to_string();
    let prod = created(
        client,
        lead,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let mut rule = rule;
    rule["EnvironmentIds"] = json!([prod]);
    set_rules(client, lead, &id, json!([rule]));
    let release = created(
        client,
        lead,
        "/api/releases",
        json!({"ProjectId": id, "Version": "1"}),
    )["Id"]
        .clone();
    (id, release, prod)
}

#[test]
fn a_bad_rule_is_refused_naming_the_field_and_changes_nothing() {
    let app = TestApp::new();
    let lead = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, _, prod) = guarded(
        &client,
        &lead,
        "true",
        json!({"RoleNames": ["Project Lead"]}),
    );
    let (_, before) = call(
        &client,
        &lead,
        Method::Get,
        &format!("/api/projects/{project}"),
        None,
    );
    let counts = app.row_counts(&["api_keys"]);
    let cases = [
        (json!("Production"), "ApprovalRules"),
        (json!([7]), "ApprovalRules[0]"),
        (json!([{"RoleNames": []}]), "ApprovalRules[0].RoleNames"),
        (
            json!([{"RoleNames": ["Chief"]}]),
            "ApprovalRules[0].RoleNames[0]",
        ),
        (
            json!([{"RoleNames": "Project Lead"}]),
            "ApprovalRules[0].RoleNames",
        ),
        (
            json!([{"UserIds": ["Users-999"]}]),
            "ApprovalRules[0].UserIds[0]",
        ),
        (
            json!([{"UserIds": ["dana"]}]),
            "ApprovalRules[0].UserIds[0]",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "EnvironmentIds": ["Environments-999"]}]),
            "ApprovalRules[0].EnvironmentIds[0]",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "EnvironmentIds": ["prod\u{0}"]}]),
            "ApprovalRules[0].EnvironmentIds[0]",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "NotByRequester": "no"}]),
            "ApprovalRules[0].NotByRequester",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "NoteRequired": 1}]),
            "ApprovalRules[0].NoteRequired",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "Roles": ["Viewer"]}]),
            "ApprovalRules[0].Roles",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "Id": "ApprovalRules-999"}]),
            "ApprovalRules[0].Id",
        ),
        (
            json!([{"RoleNames": ["Viewer"], "Id": 3}]),
            "ApprovalRules[0].Id",
        ),
        (
            json!([{"RoleNames": ["Viewer"]}, {"RoleNames": ["Nobody"]}]),
            "ApprovalRules[1].RoleNames[0]",
        ),
        (
            json!((0..51)
                .map(|_| json!({"RoleNames": ["Viewer"]}))
                .collect::<Vec<_>>()),
            "ApprovalRules",
        ),
    ];
    for (rules, field) in cases {
        let mut body = before.clone();
        body["ApprovalRules"] = rules.clone();
        let (status, answer) = call(
            &client,
            &lead,
            Method::Put,
            &format!("/api/projects/{project}"),
            Some(body),
        );
        assert_eq!(status, Status::BadRequest, "{rules}: {answer}");
        let text = answer.to_string();
        assert!(
            text.contains(&format!("{field}:")),
            "{rules} should name {field}: {answer}"
        );
    }
    let (_, after) = call(
        &client,
        &lead,
        Method::Get,
        &format!("/api/projects/{project}"),
        None,
    );
    assert_eq!(after, before);
    assert_eq!(
        app.row_counts(&["api_keys"]),
        counts,
        "a refused rule changed something"
    );
    // Absent keeps the rules; an empty list removes them, audited.
    let mut body = before.clone();
    body.as_object_mut().unwrap().remove("ApprovalRules");
    let (status, kept) = call(
        &client,
        &lead,
        Method::Put,
        &format!("/api/projects/{project}"),
        Some(body),
    );
    assert_eq!(status, Status::Ok, "{kept}");
    assert_eq!(kept["ApprovalRules"], before["ApprovalRules"]);
    // Saving the rule back by its Id keeps its id; several rules keep their order.
    let id = before["ApprovalRules"][0]["Id"].clone();
    let saved = set_rules(
        &client,
        &lead,
        &project,
        json!([
            {"Id": id, "EnvironmentIds": [prod], "RoleNames": ["System Manager"], "NoteRequired": true},
            {"UserIds": ["Users-1"], "NotByRequester": false},
        ]),
    );
    assert_eq!(saved["ApprovalRules"][0]["Id"], id);
    assert_eq!(
        saved["ApprovalRules"][0]["RoleNames"],
        json!(["System Manager"])
    );
    assert_eq!(saved["ApprovalRules"][1]["UserIds"], json!(["Users-1"]));
    assert_eq!(saved["ApprovalRules"][1]["EnvironmentIds"], json!([]));
    let cleared = set_rules(&client, &lead, &project, json!([]));
    assert_eq!(cleared["ApprovalRules"], json!([]));
    let (_, events) = call(&client, &lead, Method::Get, "/api/events?take=20", None);
    assert!(
        events
            .to_string()
            .contains("Removed the approval rules of project Guarded"),
        "{events}"
    );
    // A deployer may not set rules at all.
    let deployer = app.user_with_key("deployer", &["Project Deployer"]);
    let (status, _) = call(
        &client,
        &deployer,
        Method::Put,
        &format!("/api/projects/{project}"),
        Some(before),
    );
    assert_eq!(status, Status::Forbidden);
}

/// Whatever writes to the database, a task waiting for an approval does not start: an
/// older node's claim (mid-upgrade, it knows nothing of approvals) updates no row.
#[test]
fn no_writer_can_start_a_waiting_deployment_not_even_an_older_nodes_claim() {
    let app = TestApp::new();
    let lead = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (_, release, prod) = guarded(
        &client,
        &lead,
        "true",
        json!({"RoleNames": ["Project Lead"]}),
    );
    let waiting = deploy(&client, &lead, &release, &prod);
    let id: i64 = waiting.trim_start_matches("ServerTasks-").parse().unwrap();
    let db = app.db();
    // drydock 0.x's claim statement, as an older node runs it.
    let taken = db.rows(
        "UPDATE tasks SET state = 'Executing', start_time = ?2, last_updated_time = ?2,
             server_node = 'old' WHERE id = ?1 AND state = 'Queued' RETURNING id",
        &[&id, &1_i64],
    );
    assert!(
        taken.is_empty(),
        "an older node's claim took a waiting deployment"
    );
    let state: String = db.one("SELECT state FROM tasks WHERE id = ?1", &[&id]);
    assert_eq!(state, "Queued");
    // Once approved, the same statement would take it (the mark, not the state, holds it).
    let i = pending_one(&client, &lead, &waiting);
    let other = app.user_with_key("other", &["System Administrator"]);
    let (status, body) = submit(&client, &other, &i, "Proceed", "");
    assert_eq!(status, Status::Ok, "{body}");
    assert_eq!(
        wait_completed(&client, &lead, &waiting, 30)["State"],
        "Success"
    );
}
