//! The variables pages: a project's Variables tab and the library sets, through real
//! HTTP forms: add, edit (a sensitive value kept when left empty), delete, refusals
//! that keep what was typed but a sensitive value, a stale page refused, who may edit,
//! maintenance mode; the task page's list of what a deployment used; the release
//! page's "variables changed" and its update.

use crate::common;
use crate::variables::{call, created, log_of, put_variables};

use common::*;
use rocket::http::{Method, Status};
use serde_json::json;

const SECRET: &str = "page-S3CRET-4411";

fn page(session: &Session, path: &str) -> String {
    let response = session.client.get(path.to_string()).dispatch();
    assert_eq!(response.status(), Status::Ok, "{path}");
    response.into_string().unwrap_or_default()
}

fn version_of(html: &str) -> String {
    hidden_value(html, "version").expect("the page's version")
}

#[test]
fn the_variables_tab_adds_edits_and_deletes_and_never_shows_a_sensitive_value() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, _) = project_env_release(&client, &key, "echo \"db=#{Db} token=#{Token}\"");
    drop(client);
    let lead = app.session("lead", PASSWORD);
    let path = "/projects/1/variables";
    let html = page(&lead, path);
    assert!(html.contains("No variables yet"), "{html}");
    let v = version_of(&html);
    let env_id = env
        .as_str()
        .unwrap()
        .trim_start_matches("Environments-")
        .to_string();
    // Add: a plain one scoped to the environment, then a sensitive one.
    let response = lead.post_form(
        path,
        &[
            ("version", &v),
            ("variable", ""),
            ("name", "Db"),
            ("value", "db.prod"),
            ("environments", &env_id),
            ("description", "the database"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let v = version_of(&page(&lead, path));
    let response = lead.post_form(
        path,
        &[
            ("version", &v),
            ("variable", ""),
            ("name", "Token"),
            ("sensitive", "true"),
            ("secret_password", SECRET),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let html = page(&lead, path);
    assert!(
        html.contains("db.prod") && html.contains("Sensitive"),
        "{html}"
    );
    assert!(!html.contains(SECRET), "{html}");
    // Edit the sensitive one, its value left empty: kept; its edit form shows none.
    let (_, set) = call(
        &lead_client(&app),
        &key,
        Method::Get,
        &format!("/api/variables/variableset-{}", project.as_str().unwrap()),
        None,
    );
    let token_id = set["Variables"][1]["Id"].as_str().unwrap().to_string();
    let edit = page(&lead, &format!("{path}?edit={token_id}"));
    assert!(
        edit.contains("Leave empty to keep") && !edit.contains(SECRET),
        "{edit}"
    );
    let response = lead.post_form(
        path,
        &[
            ("version", &version_of(&edit)),
            ("variable", &token_id),
            ("name", "Token"),
            ("sensitive", "true"),
            ("secret_password", ""),
            ("description", "API token"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let client = app.client();
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    let task = deploy(&client, &key, &release, &env);
    wait_completed(&client, &key, &task, 30);
    let log = log_of(&client, &key, &task);
    assert!(log.contains("db=db.prod token=********"), "{log}");
    // The task page lists what it used: names and where from, never a value.
    let task_page = page(
        &lead,
        &format!("/tasks/{}", task.trim_start_matches("ServerTasks-")),
    );
    assert!(
        task_page.contains("Variables used (2)") && task_page.contains("project P"),
        "{task_page}"
    );
    assert!(!task_page.contains(SECRET), "{task_page}");

    // A refusal keeps what was typed, but never a sensitive value.
    let v = version_of(&page(&lead, path));
    let response = lead.post_form(
        path,
        &[
            ("version", &v),
            ("variable", ""),
            ("name", "Octopus.Bad"),
            ("value", "kept text"),
            ("sensitive", "true"),
            ("secret_password", "typed-S3CRET"),
        ],
    );
    assert_eq!(response.status(), Status::BadRequest);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("Octopus.Bad") && html.contains("Name"),
        "{html}"
    );
    assert!(!html.contains("typed-S3CRET"), "{html}");
    // A page read before someone else's change is refused, saying so.
    let response = lead.post_form(
        path,
        &[
            ("version", "1"),
            ("variable", ""),
            ("name", "Late"),
            ("value", "x"),
        ],
    );
    assert_eq!(response.status(), Status::BadRequest);
    let html = response.into_string().unwrap();
    assert!(html.contains("changed by someone else"), "{html}");
    // Delete.
    let response = lead.post_form(
        &format!("{path}/delete"),
        &[("version", &v), ("variable", &token_id)],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let html = page(&lead, path);
    assert!(!html.contains(">Token<"), "{html}");
}

fn lead_client(app: &TestApp) -> rocket::local::blocking::Client {
    app.client()
}

#[test]
fn viewers_read_without_forms_and_maintenance_refuses_a_lead_without_echoing_a_secret() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("boss", &["System Administrator"]);
    app.user_with_key("viewer", &["Viewer"]);
    app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    project_env_release(&client, &admin_key, "true");
    let viewer = app.session("viewer", PASSWORD);
    let html = page(&viewer, "/projects/1/variables");
    assert!(
        !html.contains("save-variable"),
        "no form for a viewer: {html}"
    );
    let response = viewer.post_form(
        "/projects/1/variables",
        &[("version", "0"), ("name", "X"), ("value", "y")],
    );
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    let html = page(&viewer, "/library");
    assert!(!html.contains("create-library-set"), "{html}");

    let (status, _) = call(
        &client,
        &admin_key,
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok);
    let lead = app.session("lead", PASSWORD);
    let response = lead.post_form(
        "/projects/1/variables",
        &[
            ("version", "0"),
            ("variable", ""),
            ("name", "Token"),
            ("sensitive", "true"),
            ("secret_password", SECRET),
        ],
    );
    assert_eq!(response.status(), Status::ServiceUnavailable);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("Token"),
        "the refused page keeps what was typed: {html}"
    );
    assert!(!html.contains(SECRET), "{html}");
    let (_, set) = call(
        &client,
        &admin_key,
        Method::Get,
        "/api/variables/variableset-Projects-1",
        None,
    );
    assert_eq!(set["Version"], 0, "nothing changed");
}

#[test]
fn library_sets_are_made_and_edited_on_their_page_and_a_release_says_when_variables_changed() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, release) = project_env_release(&client, &key, "echo v=#{V}");
    let lead = app.session("lead", PASSWORD);
    let response = lead.post_form("/library", &[("name", "Shared"), ("description", "creds")]);
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let html = page(&lead, "/library");
    assert!(html.contains("Shared"), "{html}");
    let set = page(&lead, "/library/1/variables");
    assert!(set.contains("No project includes this set"), "{set}");
    let response = lead.post_form(
        "/library/1/variables",
        &[
            ("version", &version_of(&set)),
            ("variable", ""),
            ("name", "V"),
            ("value", "from-library"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let response = lead.post_form("/library", &[("name", "shared")]);
    assert_eq!(response.status(), Status::BadRequest, "a taken name");
    drop(response);

    // Release 1 was created before: the project now includes the set.
    let mut body = call(
        &client,
        &key,
        Method::Get,
        &format!("/api/projects/{}", project.as_str().unwrap()),
        None,
    )
    .1;
    body["IncludedLibraryVariableSetIds"] = json!(["LibraryVariableSets-1"]);
    let (status, _) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/projects/{}", project.as_str().unwrap()),
        Some(body),
    );
    assert_eq!(status, Status::Ok);
    let release_page = page(
        &lead,
        &format!(
            "/releases/{}",
            release.as_str().unwrap().trim_start_matches("Releases-")
        ),
    );
    assert!(
        release_page.contains("Project variables changed since"),
        "{release_page}"
    );
    let response = lead.post_form(
        &format!(
            "/releases/{}/snapshot-variables",
            release.as_str().unwrap().trim_start_matches("Releases-")
        ),
        &[],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let release_page = page(
        &lead,
        &format!(
            "/releases/{}",
            release.as_str().unwrap().trim_start_matches("Releases-")
        ),
    );
    assert!(
        !release_page.contains("Project variables changed since"),
        "{release_page}"
    );
    let task = deploy(&client, &key, &release, &env);
    wait_completed(&client, &key, &task, 30);
    assert!(log_of(&client, &key, &task).contains("v=from-library"));
    let set = page(&lead, "/library/1/variables");
    assert!(set.contains("Included by P"), "{set}");
    put_variables(
        &client,
        &key,
        "variableset-LibraryVariableSets-1",
        json!([]),
    );
}

#[test]
fn the_deploy_form_asks_for_prompted_values_and_a_redeploy_gives_them_again() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, _env, _) =
        project_env_release(&client, &key, "echo \"reason=#{Reason} pin=#{Pin}\"");
    let answer = put_variables(
        &client,
        &key,
        &format!("variableset-{}", project.as_str().unwrap()),
        json!([
            {"Name": "Reason", "Value": "routine", "Prompt": {"Label": "Why deploy?", "Required": true}},
            {"Name": "Pin", "Type": "Sensitive", "Prompt": {"Label": "Release PIN", "Required": true}},
        ]),
    );
    let reason = answer["Variables"][0]["Id"].as_str().unwrap().to_string();
    let pin = answer["Variables"][1]["Id"].as_str().unwrap().to_string();
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    let number = release
        .as_str()
        .unwrap()
        .trim_start_matches("Releases-")
        .to_string();
    let lead = app.session("lead", PASSWORD);
    let html = page(&lead, &format!("/releases/{number}"));
    assert!(
        html.contains("Why deploy?") && html.contains("Release PIN"),
        "{html}"
    );
    assert!(
        html.contains(&format!("name=\"secret_password[{pin}]\""))
            && html.contains("type=\"password\""),
        "{html}"
    );
    let tasks = app.count("tasks");
    let reason_field = format!("prompted[{reason}]");
    let pin_field = format!("secret_password[{pin}]");
    // The environment asks first: the confirmation keeps the typed values but asks
    // for the sensitive one again rather than carry it.
    let response = lead.post_form(
        &format!("/releases/{number}/deploy"),
        &[
            ("environment", "1"),
            ("when", "now"),
            (&reason_field, "hotfix 12"),
            (&pin_field, "4711-S3CRET"),
        ],
    );
    assert_eq!(response.status(), Status::Ok);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("confirm-form") && html.contains("hotfix 12"),
        "{html}"
    );
    assert!(
        html.contains(&format!("name=\"{pin_field}\"")) && !html.contains("4711-S3CRET"),
        "{html}"
    );
    let response = lead.post_form(
        &format!("/releases/{number}/deploy"),
        &[
            ("environment", "1"),
            ("when", "now"),
            ("confirmed", "yes"),
            (&reason_field, "hotfix 12"),
        ],
    );
    // The required PIN left out: refused, what was typed kept, nothing queued.
    assert_eq!(response.status(), Status::BadRequest);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("Pin") && html.contains("required") && html.contains("hotfix 12"),
        "{html}"
    );
    assert_eq!(app.count("tasks"), tasks);
    let response = lead.post_form(
        &format!("/releases/{number}/deploy"),
        &[
            ("environment", "1"),
            ("when", "now"),
            ("confirmed", "yes"),
            (&reason_field, "hotfix 12"),
            (&pin_field, "4711-S3CRET"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    let task = response
        .headers()
        .get_one("Location")
        .unwrap()
        .trim_start_matches("/tasks/")
        .to_string();
    drop(response);
    let task = format!("ServerTasks-{task}");
    wait_completed(&client, &key, &task, 30);
    let log = log_of(&client, &key, &task);
    assert!(log.contains("reason=hotfix 12 pin=********"), "{log}");
    // Redeploying gives the same values again.
    let response = lead.post_form(
        &format!(
            "/tasks/{}/redeploy",
            task.trim_start_matches("ServerTasks-")
        ),
        &[("confirmed", "yes")],
    );
    assert_eq!(response.status(), Status::SeeOther);
    let again = response
        .headers()
        .get_one("Location")
        .unwrap()
        .trim_start_matches("/tasks/")
        .to_string();
    drop(response);
    let again = format!("ServerTasks-{again}");
    wait_completed(&client, &key, &again, 30);
    assert!(log_of(&client, &key, &again).contains("reason=hotfix 12 pin=********"));
    let task_page = page(
        &lead,
        &format!("/tasks/{}", again.trim_start_matches("ServerTasks-")),
    );
    assert!(
        task_page.contains("given at deployment") && !task_page.contains("4711-S3CRET"),
        "{task_page}"
    );
}
