//! The approvals pages through real HTTP forms: a project's rules page (add, refuse a
//! rule nobody could meet, delete), the Approvals inbox (waiting for you, for others),
//! Approve and Reject from it and from the task page, and "Awaiting approval" on the
//! dashboard, the task list and the timeline.

use crate::approvals::{call, created, interruptions};
use crate::common;

use common::*;
use rocket::http::{Method, Status};
use serde_json::json;

fn page(session: &Session, path: &str) -> String {
    let response = session.client.get(path.to_string()).dispatch();
    assert_eq!(response.status(), Status::Ok, "{path}");
    response.into_string().unwrap_or_default()
}

/// The flash a form's redirect lands on.
fn posted(session: &Session, path: &str, fields: &[(&str, &str)]) -> (Status, String) {
    let response = session.post_form(path, fields);
    let status = response.status();
    let to = response.headers().get_one("Location").map(str::to_string);
    let body = response.into_string().unwrap_or_default();
    match to {
        Some(to) if status == Status::SeeOther => (status, page(session, &to)),
        _ => (status, body),
    }
}

#[test]
fn rules_are_set_on_the_project_page_and_decisions_made_from_the_inbox_and_the_task_page() {
    let app = TestApp::new();
    let lead_key = app.user_with_key("lead", &["Project Lead"]);
    let deployer_key = app.user_with_key("deployer", &["Project Deployer"]);
    let client = app.client();
    let p = created(
        &client,
        &lead_key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "true"}),
    );
    let project = p["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("Projects-")
        .to_string();
    let prod = created(
        &client,
        &lead_key,
        "/api/environments",
        json!({"Name": "Production"}),
    );
    let prod_n = prod["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("Environments-")
        .to_string();
    let release = created(
        &client,
        &lead_key,
        "/api/releases",
        json!({"ProjectId": p["Id"], "Version": "2.0"}),
    )["Id"]
        .clone();
    let lead = app.session("lead", PASSWORD);
    let deployer = app.session("deployer", PASSWORD);
    let rules_path = format!("/projects/{project}/approvals");

    // A rule nobody could meet is refused on the form, naming the field, saving nothing.
    let (status, html) = posted(
        &lead,
        &rules_path,
        &[("environments", &prod_n), ("not_by_requester", "true")],
    );
    assert_eq!(status, Status::BadRequest, "{html}");
    assert!(html.contains("roles-error"), "{html}");
    assert!(html.contains("No rules"), "{html}");
    // A real one: Production, Project Lead, four-eyes.
    let (status, html) = posted(
        &lead,
        &rules_path,
        &[
            ("environments", &prod_n),
            ("roles", "Project Lead"),
            ("not_by_requester", "true"),
            ("note_required", "true"),
        ],
    );
    assert_eq!(status, Status::SeeOther, "{html}");
    assert!(html.contains("Added an approval rule to Shop"), "{html}");
    assert!(
        html.contains(
            "Production: approved by a Project Lead, not the person who queued it, with a note"
        ),
        "{html}"
    );
    // A deployer sees the rules but no forms.
    let seen = page(&deployer, &rules_path);
    assert!(
        seen.contains("approved by a Project Lead") && !seen.contains("add-rule"),
        "{seen}"
    );

    // Queued by the deployer: waiting, on the dashboard, the task list and the inbox.
    let waiting = deploy(&client, &deployer_key, &release, &prod["Id"]);
    let n = waiting.trim_start_matches("ServerTasks-");
    assert!(
        page(&lead, "/").contains("Awaiting approval"),
        "the dashboard cell"
    );
    assert!(
        page(&lead, "/tasks").contains("Awaiting approval"),
        "the task list"
    );
    let inbox = page(&lead, "/approvals");
    let yours = inbox.split("Waiting for others").next().unwrap();
    assert!(yours.contains(&format!("ServerTasks-{n}")), "{inbox}");
    assert!(yours.contains("queued by deployer"), "{inbox}");
    let theirs = page(&deployer, "/approvals");
    let others = theirs.split("Waiting for others").nth(1).unwrap();
    assert!(
        others.contains(&format!("ServerTasks-{n}")) && others.contains("You queued"),
        "{theirs}"
    );
    let task_page = page(&lead, &format!("/tasks/{n}"));
    assert!(
        task_page.contains("Waiting for approval") && task_page.contains("approve-"),
        "{task_page}"
    );
    assert!(!page(&deployer, &format!("/tasks/{n}")).contains("approve-"));

    // Approving without the note the rule asks for is refused; with it, it runs.
    let id = form_id(&client, &lead_key, &waiting);
    let (_, html) = posted(
        &lead,
        &format!("/approvals/{id}"),
        &[
            ("decision", "Proceed"),
            ("notes", " "),
            ("back", "approvals"),
        ],
    );
    assert!(html.contains("needs a note"), "{html}");
    assert_eq!(interruptions(&client, &lead_key, &waiting, true).len(), 1);
    let (status, html) = posted(
        &lead,
        &format!("/approvals/{id}"),
        &[
            ("decision", "Proceed"),
            ("notes", "release train 12"),
            ("back", "task"),
        ],
    );
    assert_eq!(status, Status::SeeOther);
    assert!(html.contains("Approved"), "{html}");
    assert_eq!(
        wait_completed(&client, &lead_key, &waiting, 30)["State"],
        "Success"
    );
    assert!(page(&lead, &format!("/tasks/{n}")).contains("Approved by lead: release train 12"));

    // Rejected from the inbox: Canceled.
    let second = deploy(&client, &deployer_key, &release, &prod["Id"]);
    let id = form_id(&client, &lead_key, &second);
    let (_, html) = posted(
        &lead,
        &format!("/approvals/{id}"),
        &[
            ("decision", "Abort"),
            ("notes", "wrong build"),
            ("back", "approvals"),
        ],
    );
    assert!(html.contains("Rejected"), "{html}");
    assert_eq!(
        call(
            &client,
            &lead_key,
            Method::Get,
            &format!("/api/tasks/{second}"),
            None
        )
        .1["State"],
        "Canceled"
    );
    assert!(page(&lead, "/approvals").contains("Nothing waits for you"));

    // A scheduled one shows on the timeline as awaiting approval.
    let later = drydock::clock::iso(drydock::clock::now_ms() + 3_600_000);
    let (status, d) = call(
        &client,
        &deployer_key,
        Method::Post,
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": prod["Id"], "QueueTime": later})),
    );
    assert_eq!(status, Status::Created, "{d}");
    let timeline = page(&lead, "/timeline");
    assert!(
        timeline.contains("Awaiting approval") && timeline.contains("not before it is approved"),
        "{timeline}"
    );
    assert!(
        page(&lead, "/approvals").contains("once approved"),
        "the inbox says when it would start"
    );

    // Deleting the rule: deployments queued after it do not wait.
    let rule = call(
        &client,
        &lead_key,
        Method::Get,
        &format!("/api/projects/{}", p["Id"].as_str().unwrap()),
        None,
    )
    .1["ApprovalRules"][0]["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("ApprovalRules-")
        .to_string();
    let (_, html) = posted(&lead, &format!("{rules_path}/{rule}/delete"), &[]);
    assert!(html.contains("No rules"), "{html}");
    let free = deploy(&client, &deployer_key, &release, &prod["Id"]);
    assert_eq!(
        wait_completed(&client, &lead_key, &free, 30)["State"],
        "Success"
    );
}

/// The number the decision form posts to: `task`'s pending interruption's.
fn form_id(client: &rocket::local::blocking::Client, key: &str, task: &str) -> String {
    let i = &interruptions(client, key, task, true)[0];
    i["Id"]
        .as_str()
        .unwrap()
        .trim_start_matches("Interruptions-")
        .to_string()
}
