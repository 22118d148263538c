//! Approvals raced: two approvers at once (one decision), approvals of a deployment's
//! two rules at once (released once, runs once), and an approval whose body is still
//! arriving while its caller is demoted, its rule tightened or maintenance turned on
//! (nothing committed by a caller without the right).

use crate::approvals::{created, pending_one, set_rules, submit};
use crate::common;

use common::raw::{hold_past_the_guards, sign_in};
use common::server::{api_key, create_user, Server};
use common::*;
use rocket::http::Status;
use serde_json::{json, Value};

#[test]
fn two_approvers_at_once_make_one_decision_and_two_rules_release_it_once() {
    let app = TestApp::with(|c| c.task_cap = 4);
    let lead = app.user_with_key("lead", &["Project Lead"]);
    let approvers: Vec<String> = ["a1", "a2"]
        .iter()
        .map(|u| app.user_with_key(u, &["System Manager"]))
        .collect();
    let client = app.client();
    let ran = app.shared_file("runs");
    let script = format!("echo '#{{Octopus.Task.Id}}' >> '{}'\n", ran.display());
    let p = created(
        &client,
        &lead,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": script}),
    );
    let project = p["Id"].as_str().unwrap().to_string();
    let env = created(
        &client,
        &lead,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let release = created(
        &client,
        &lead,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    )["Id"]
        .clone();
    set_rules(
        &client,
        &lead,
        &project,
        json!([{"RoleNames": ["System Manager"]}]),
    );
    let mut clients: Vec<_> = (0..2).map(|_| app.client()).collect();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let task = deploy(&client, &lead, &release, &env);
        let i = pending_one(&client, &lead, &task);
        let barrier = std::sync::Barrier::new(2);
        let answers: Vec<(Status, rocket::local::blocking::Client)> = std::thread::scope(|scope| {
            let handles: Vec<_> = std::mem::take(&mut clients)
                .into_iter()
                .enumerate()
                .map(|(n, c)| {
                    let (key, i, barrier) = (&approvers[n], &i, &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        (submit(&c, key, i, "Proceed", "mine").0, c)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let statuses: Vec<Status> = answers.iter().map(|(s, _)| *s).collect();
        clients = answers.into_iter().map(|(_, c)| c).collect();
        let mut sorted = statuses.clone();
        sorted.sort_by_key(|s| s.code);
        assert_eq!(
            sorted,
            vec![Status::Ok, Status::Conflict],
            "{task}: {statuses:?}"
        );
        tasks.push(task);
    }
    // Two rules on one deployment, decided at the same moment by different people.
    set_rules(
        &client,
        &lead,
        &project,
        json!([{"RoleNames": ["System Manager"]}, {"RoleNames": ["System Manager"]}]),
    );
    for _ in 0..4 {
        let task = deploy(&client, &lead, &release, &env);
        let both = crate::approvals::interruptions(&client, &lead, &task, true);
        assert_eq!(both.len(), 2);
        let barrier = std::sync::Barrier::new(2);
        clients = std::thread::scope(|scope| {
            let handles: Vec<_> = std::mem::take(&mut clients)
                .into_iter()
                .enumerate()
                .map(|(n, c)| {
                    let (key, i, barrier) = (&approvers[n], &both[n], &barrier);
                    scope.spawn(move || {
                        barrier.wait();
                        let (status, body) = submit(&c, key, i, "Proceed", "");
                        assert_eq!(status, Status::Ok, "{body}");
                        c
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        tasks.push(task);
    }
    for t in &tasks {
        assert_eq!(
            wait_completed(&client, &lead, t, 30)["State"],
            "Success",
            "{t}"
        );
    }
    poll_until(10, "every run recorded", || {
        std::fs::read_to_string(&ran)
            .unwrap_or_default()
            .lines()
            .count()
            >= tasks.len()
    });
    let text = std::fs::read_to_string(&ran).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.sort();
    let mut expected: Vec<&str> = tasks.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(lines, expected, "each deployment ran exactly once");
    let db = app.db();
    let approvals: i64 = db.one(
        "SELECT COUNT(*) FROM events WHERE category = 'DeploymentApproved'",
        &[],
    );
    assert_eq!(
        approvals,
        6 + 4 * 2,
        "one audited decision per interruption"
    );
}

/// A server where `lead` (Project Lead, signed in) could approve a deployment queued by
/// `deployer`; (server, admin key, lead's id, project id, the interruption).
fn one_waiting(dir: &DataDir) -> (Server, String, String, String, Value) {
    dir.configure("body_timeout_secs = 60\n");
    create_user(dir.path(), "lead", "Project Lead", PASSWORD);
    create_user(dir.path(), "deployer", "Project Deployer", PASSWORD);
    let admin = api_key(dir.path(), "admin");
    let deployer = api_key(dir.path(), "deployer");
    let server = Server::start(dir.path());
    let (env, project, release) = crate::approvals_cluster::gated(
        &server,
        &admin,
        ("Web", "true"),
        json!({"RoleNames": ["Project Lead"]}),
        "1",
    );
    let (status, d) = server.api(
        &deployer,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{d}");
    let (_, page) = server.api(&admin, "GET", "/api/interruptions?pendingOnly=true", None);
    let i = page["Items"][0].clone();
    let (_, users) = server.api(&admin, "GET", "/api/users", None);
    let lead = users["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["Username"] == "lead")
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    (server, admin, lead, project, i)
}

#[test]
fn an_approval_arriving_after_its_caller_was_demoted_or_its_rule_tightened_commits_nothing() {
    let dir = data_dir();
    let (server, admin, lead, project, i) = one_waiting(&dir);
    let path = format!("/api/interruptions/{}/submit", i["Id"].as_str().unwrap());
    let body = json!({"Result": "Proceed", "Notes": "fine"});
    let browsers: Vec<_> = (0..3)
        .map(|_| sign_in(server.port, "lead", PASSWORD))
        .collect();
    let still_pending = |what: &str| {
        let (_, now) = server.api(
            &admin,
            "GET",
            &format!("/api/interruptions/{}", i["Id"].as_str().unwrap()),
            None,
        );
        assert_eq!(now["IsPending"], true, "{what} committed: {now}");
        let (_, task) = server.api(
            &admin,
            "GET",
            &format!("/api/tasks/{}", i["TaskId"].as_str().unwrap()),
            None,
        );
        assert_eq!(task["State"], "Queued", "{what}: {task}");
    };

    // The rule tightened (to System Managers) while the body arrives: refused.
    let held = hold_past_the_guards(&server, dir.path(), &browsers[0], "POST", &path, &body);
    let (_, mut p) = server.api(&admin, "GET", &format!("/api/projects/{project}"), None);
    let rule_id = p["ApprovalRules"][0]["Id"].clone();
    p["ApprovalRules"] = json!([{"Id": rule_id, "RoleNames": ["System Manager"]}]);
    let (status, saved) = server.api(
        &admin,
        "PUT",
        &format!("/api/projects/{project}"),
        Some(p.clone()),
    );
    assert_eq!(status, 200, "{saved}");
    let answer = held.finish();
    assert_eq!(answer.status, 403, "{}{}", answer.head, answer.body);
    assert!(answer.body.contains("System Manager"), "{}", answer.body);
    still_pending("an approval under a tightened rule");
    p["ApprovalRules"] = json!([{"Id": rule_id, "RoleNames": ["Project Lead"]}]);
    let (status, _) = server.api(&admin, "PUT", &format!("/api/projects/{project}"), Some(p));
    assert_eq!(status, 200);

    // Maintenance turned on while the body arrives: refused as any change is.
    let held = hold_past_the_guards(&server, dir.path(), &browsers[1], "POST", &path, &body);
    let mode = |on: bool| {
        let (status, b) = server.api(
            &admin,
            "PUT",
            "/api/maintenanceconfiguration",
            Some(json!({"Id": "maintenance", "IsInMaintenanceMode": on})),
        );
        assert_eq!(status, 200, "{b}");
    };
    mode(true);
    let answer = held.finish();
    assert_eq!(answer.status, 503, "{}{}", answer.head, answer.body);
    still_pending("an approval in maintenance");
    mode(false);

    // The caller demoted to Viewer while the body arrives: refused.
    let held = hold_past_the_guards(&server, dir.path(), &browsers[2], "POST", &path, &body);
    let (status, b) = server.api(
        &admin,
        "PUT",
        &format!("/api/users/{lead}"),
        Some(json!({"Roles": ["Viewer"]})),
    );
    assert_eq!(status, 200, "{b}");
    let answer = held.finish();
    assert_eq!(answer.status, 403, "{}{}", answer.head, answer.body);
    still_pending("an approval by a demoted caller");

    // Given the role back, the same approval goes through.
    let (status, _) = server.api(
        &admin,
        "PUT",
        &format!("/api/users/{lead}"),
        Some(json!({"Roles": ["Project Lead"]})),
    );
    assert_eq!(status, 200);
    let browser = sign_in(server.port, "lead", PASSWORD);
    let held = hold_past_the_guards(&server, dir.path(), &browser, "POST", &path, &body);
    let answer = held.finish();
    assert_eq!(answer.status, 200, "{}{}", answer.head, answer.body);
    let task = server.wait_task(&admin, i["TaskId"].as_str().unwrap(), &["Success"], 30);
    assert_eq!(task["State"], "Success");
}
