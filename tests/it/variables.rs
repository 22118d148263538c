//! Variables: project and library sets in Octopus's shapes, resolution by scope,
//! prompted values, substitution and `get_octopusvariable` in real scripts, snapshots,
//! and what refuses bad input.

use crate::common;

use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

pub(crate) fn call(
    client: &Client,
    key: &str,
    m: Method,
    p: &str,
    b: Option<Value>,
) -> (Status, Value) {
    json_of(with_key(client, m, p, key, b))
}

pub(crate) fn created(client: &Client, key: &str, path: &str, body: Value) -> Value {
    let (status, json) = call(client, key, Method::Post, path, Some(body));
    assert_eq!(status, Status::Created, "{path}: {json}");
    json
}

/// The task's raw log.
pub(crate) fn log_of(client: &Client, key: &str, task: &str) -> String {
    with_key(
        client,
        Method::Get,
        &format!("/api/tasks/{task}/raw"),
        key,
        None,
    )
    .into_string()
    .unwrap_or_default()
}

/// Replaces `set`'s variables (reading its version first); the answer.
pub(crate) fn put_variables(client: &Client, key: &str, set: &str, variables: Value) -> Value {
    let (status, read) = call(
        client,
        key,
        Method::Get,
        &format!("/api/variables/{set}"),
        None,
    );
    assert_eq!(status, Status::Ok, "{read}");
    let (status, body) = call(
        client,
        key,
        Method::Put,
        &format!("/api/variables/{set}"),
        Some(json!({"Version": read["Version"], "Variables": variables})),
    );
    assert_eq!(status, Status::Ok, "{body}");
    body
}

/// Deploys `release` to `env`, waits for the end and returns (state, log).
pub(crate) fn run(client: &Client, key: &str, release: &Value, env: &Value) -> (String, String) {
    let task = deploy(client, key, release, env);
    let done = wait_completed(client, key, &task, 30);
    (
        done["State"].as_str().unwrap_or_default().to_string(),
        log_of(client, key, &task),
    )
}

const SCRIPT: &str = r#"echo "db=#{Db} shared=#{Shared} unknown=#{Nope} literal=##{Db}"
echo "get=$(get_octopusvariable "db") missing=[$(get_octopusvariable "Nope")]"
echo "release=$(get_octopusvariable "Octopus.Release.Number") env=#{Octopus.Environment.Name}"
echo "project=#{Octopus.Project.Name} task=$(get_octopusvariable Octopus.Task.Id)"
echo "deployment=#{Octopus.Deployment.Id}"
bash -c 'echo "child stdin: $(cat | wc -c) env: ${__drydock_variables:-none}"'
"#;

#[test]
fn values_resolve_by_scope_and_reach_the_script_substituted_and_by_function() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let project = created(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Billing", "DeploymentScript": SCRIPT}),
    );
    let staging = created(
        &client,
        &key,
        "/api/environments",
        json!({"Name": "Staging"}),
    )["Id"]
        .clone();
    let production = created(
        &client,
        &key,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let library = created(
        &client,
        &key,
        "/api/libraryvariablesets",
        json!({"Name": "Shared credentials"}),
    );
    assert_eq!(library["ContentType"], "Variables");
    put_variables(
        &client,
        &key,
        library["VariableSetId"].as_str().unwrap(),
        json!([
            {"Name": "Shared", "Value": "from-library"},
            {"Name": "Db", "Value": "library-any"},
            {"Name": "Db", "Value": "library-prod", "Scope": {"Environment": [production]}},
        ]),
    );
    let set = project["VariableSetId"].as_str().unwrap().to_string();
    let answer = put_variables(
        &client,
        &key,
        &set,
        json!([
            {"Name": "Db", "Value": "project-any"},
            {"Name": "Db", "Value": "project-prod", "Scope": {"Environment": [production]}},
        ]),
    );
    assert_eq!(answer["Version"], 1);
    assert_eq!(answer["OwnerId"], project["Id"]);
    assert_eq!(
        answer["Variables"][1]["Scope"]["Environment"],
        json!([production])
    );
    assert_eq!(answer["Variables"][0]["Type"], "String");
    // The project includes the library set.
    let mut body = project.clone();
    body["IncludedLibraryVariableSetIds"] = json!([library["Id"]]);
    let (status, updated) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/projects/{}", project["Id"].as_str().unwrap()),
        Some(body),
    );
    assert_eq!(status, Status::Ok, "{updated}");
    assert_eq!(
        updated["IncludedLibraryVariableSetIds"],
        json!([library["Id"]])
    );
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project["Id"], "Version": "1.2.3"}),
    )["Id"]
        .clone();

    let (state, log) = run(&client, &key, &release, &production);
    assert_eq!(state, "Success", "{log}");
    assert!(
        log.contains("db=project-prod shared=from-library unknown=#{Nope} literal=#{Db}"),
        "{log}"
    );
    assert!(log.contains("get=project-prod missing=[]"), "{log}");
    assert!(log.contains("release=1.2.3 env=Production"), "{log}");
    assert!(log.contains("project=Billing task=ServerTasks-"), "{log}");
    assert!(log.contains("deployment=Deployments-"), "{log}");
    // What the script starts inherits neither the values nor their input.
    assert!(log.contains("child stdin: 0 env: none"), "{log}");
    let (state, log) = run(&client, &key, &release, &staging);
    assert_eq!(state, "Success", "{log}");
    assert!(log.contains("db=project-any shared=from-library"), "{log}");
}

#[test]
fn a_stale_version_is_a_409_and_bad_variables_are_400s_that_change_nothing() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, _env, _) = project_env_release(&client, &key, "true");
    let set = format!("variableset-{}", project.as_str().unwrap());
    let path = format!("/api/variables/{set}");
    let put = |version: i64, variables: Value| {
        call(
            &client,
            &key,
            Method::Put,
            &path,
            Some(json!({"Version": version, "Variables": variables})),
        )
    };
    let (status, first) = put(0, json!([{"Name": "A", "Value": "1"}]));
    assert_eq!(status, Status::Ok, "{first}");
    let (status, stale) = put(0, json!([{"Name": "A", "Value": "2"}]));
    assert_eq!(status, Status::Conflict, "{stale}");
    assert!(stale.to_string().contains("Version"), "{stale}");
    let (status, missing) = call(
        &client,
        &key,
        Method::Put,
        &path,
        Some(json!({"Variables": []})),
    );
    assert_eq!(status, Status::BadRequest, "{missing}");
    assert!(missing.to_string().contains("Version"), "{missing}");
    let huge = "x".repeat(64 * 1024 + 1);
    for (variables, names) in [
        (json!([{"Name": "", "Value": "v"}]), "Variables[0].Name"),
        (
            json!([{"Name": "a\u{7}b", "Value": "v"}]),
            "Variables[0].Name",
        ),
        (
            json!([{"Name": "Octopus.Release.Number", "Value": "v"}]),
            "Variables[0].Name",
        ),
        (
            json!([{"Name": "has}brace", "Value": "v"}]),
            "Variables[0].Name",
        ),
        (
            json!([{"Name": "Big", "Value": huge}]),
            "Variables[0].Value",
        ),
        (
            json!([{"Name": "Nul", "Value": "a\u{0}b"}]),
            "Variables[0].Value",
        ),
        (
            json!([{"Name": "Cert", "Value": "v", "Type": "Certificate"}]),
            "Variables[0].Type",
        ),
        (
            json!([{"Name": "M", "Value": "v", "Scope": {"Machine": ["Machines-1"]}}]),
            "Variables[0].Scope.Machine",
        ),
        (
            json!([{"Name": "E", "Value": "v", "Scope": {"Environment": ["Environments-99"]}}]),
            "Variables[0].Scope.Environment",
        ),
        (
            json!([{"Name": "E", "Value": "v", "Scope": {"Environment": ["Production"]}}]),
            "Variables[0].Scope.Environment",
        ),
        (
            json!([{"Name": "D", "Value": "1"}, {"Name": "d", "Value": "2"}]),
            "Variables[1].Scope",
        ),
        (
            json!([{"Id": "../x", "Name": "I", "Value": "1"}]),
            "Variables[0].Id",
        ),
        (
            json!([{"Name": "T", "Type": "String", "IsSensitive": true}]),
            "Variables[0].Type",
        ),
    ] {
        let (status, body) = put(1, variables.clone());
        assert_eq!(status, Status::BadRequest, "{variables}: {body}");
        assert!(body.to_string().contains(names), "{names}: {body}");
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"Name": format!("V{i}"), "Value": "v"}))
        .collect();
    let (status, body) = put(1, json!(too_many));
    assert_eq!(status, Status::BadRequest, "{body}");
    let (_, now) = call(&client, &key, Method::Get, &path, None);
    assert_eq!(now["Version"], 1, "nothing changed: {now}");
    assert_eq!(now["Variables"].as_array().unwrap().len(), 1);
    // Not a variable set at all.
    let (status, _) = call(
        &client,
        &key,
        Method::Get,
        "/api/variables/variableset-Projects-999",
        None,
    );
    assert_eq!(status, Status::NotFound);
    let (status, _) = call(
        &client,
        &key,
        Method::Get,
        "/api/variables/Projects-1",
        None,
    );
    assert_eq!(status, Status::NotFound);
}

#[test]
fn prompted_values_come_from_the_api_and_the_executions_api_and_are_checked() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let script = r#"echo "reason=#{Reason} ticket=$(get_octopusvariable Ticket)""#;
    let (project, env, _) = project_env_release(&client, &key, script);
    let set = format!("variableset-{}", project.as_str().unwrap());
    let answer = put_variables(
        &client,
        &key,
        &set,
        json!([
            {"Name": "Reason", "Value": "", "Prompt": {"Label": "Why?", "Required": true}},
            {"Name": "Ticket", "Value": "none", "Prompt": {"Label": "Ticket"}},
            {"Name": "Plain", "Value": "p"},
        ]),
    );
    let reason_id = answer["Variables"][0]["Id"].as_str().unwrap().to_string();
    assert_eq!(answer["Variables"][0]["Prompt"]["Required"], true);
    let release = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    let tasks_before = app.count("tasks");
    for (form, named) in [
        (json!({}), "FormValues.Reason"),
        (json!({"Reason": "  "}), "FormValues.Reason"),
        (json!({"Reason": "x", "Plain": "y"}), "FormValues.Plain"),
        (json!({"Reason": "x", "Nope": "y"}), "FormValues.Nope"),
        (json!({"Reason": {"nested": 1}}), "FormValues.Reason"),
    ] {
        let (status, body) = call(
            &client,
            &key,
            Method::Post,
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env, "FormValues": form})),
        );
        assert_eq!(status, Status::BadRequest, "{form}: {body}");
        assert!(body.to_string().contains(named), "{named}: {body}");
    }
    assert_eq!(app.count("tasks"), tasks_before, "nothing was queued");
    // By name, or by the variable's id as Octopus's FormValues name them.
    for form in [
        json!({"Reason": "hotfix"}),
        json!({reason_id.clone(): "hotfix"}),
    ] {
        let (status, d) = call(
            &client,
            &key,
            Method::Post,
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env, "FormValues": form})),
        );
        assert_eq!(status, Status::Created, "{d}");
        let task = d["TaskId"].as_str().unwrap();
        let done = wait_completed(&client, &key, task, 30);
        let log = log_of(&client, &key, task);
        assert_eq!(done["State"], "Success", "{log}");
        assert!(log.contains("reason=hotfix ticket=none"), "{log}");
    }
    // The executions API's Variables.
    let command = |variables: Value| {
        call(
            &client,
            &key,
            Method::Post,
            "/api/Spaces-1/deployments/create/untenanted/v1",
            Some(json!({
                "ProjectName": "P", "ReleaseVersion": "2", "EnvironmentNames": ["E"], "Variables": variables,
            })),
        )
    };
    let (status, body) = command(json!({"Ticket": "T-1"}));
    assert_eq!(status, Status::BadRequest, "{body}");
    assert!(body.to_string().contains("Variables.Reason"), "{body}");
    let (status, body) = command(json!({"Reason": "pipeline", "Ticket": "T-2"}));
    assert_eq!(status, Status::Ok, "{body}");
    let task = body["DeploymentServerTasks"][0]["ServerTaskId"]
        .as_str()
        .unwrap();
    wait_completed(&client, &key, task, 30);
    let log = log_of(&client, &key, task);
    assert!(log.contains("reason=pipeline ticket=T-2"), "{log}");
}

#[test]
fn a_release_keeps_the_variables_it_was_created_with() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, env, old_release) = project_env_release(&client, &key, "echo value=#{V}");
    let set = format!("variableset-{}", project.as_str().unwrap());
    // Release 1 was made before any variable: its snapshot is empty.
    put_variables(
        &client,
        &key,
        &set,
        json!([{"Name": "V", "Value": "first"}]),
    );
    let first = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "2"}),
    )["Id"]
        .clone();
    put_variables(
        &client,
        &key,
        &set,
        json!([{"Name": "V", "Value": "second"}]),
    );
    let second = created(
        &client,
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "3"}),
    )["Id"]
        .clone();
    assert!(run(&client, &key, &first, &env).1.contains("value=first"));
    assert!(run(&client, &key, &second, &env).1.contains("value=second"));
    assert!(run(&client, &key, &old_release, &env)
        .1
        .contains("value=#{V}"));
    // Updated on request (Octopus's "update variables"), audited...
    let path = format!(
        "/api/releases/{}/snapshot-variables",
        first.as_str().unwrap()
    );
    let (status, body) = call(&client, &key, Method::Post, &path, None);
    assert_eq!(status, Status::Ok, "{body}");
    assert!(run(&client, &key, &first, &env).1.contains("value=second"));
    let (_, events) = call(&client, &key, Method::Get, "/api/events?take=100", None);
    assert!(
        events
            .to_string()
            .contains("Updated the variable snapshot of release 2"),
        "{events}"
    );
    // ...and by the executions API's UpdateVariableSnapshot.
    put_variables(
        &client,
        &key,
        &set,
        json!([{"Name": "V", "Value": "third"}]),
    );
    let (status, body) = call(
        &client,
        &key,
        Method::Post,
        "/api/Spaces-1/deployments/create/untenanted/v1",
        Some(json!({
            "ProjectName": "P", "ReleaseVersion": "2", "EnvironmentNames": ["E"], "UpdateVariableSnapshot": true,
        })),
    );
    assert_eq!(status, Status::Ok, "{body}");
    let task = body["DeploymentServerTasks"][0]["ServerTaskId"]
        .as_str()
        .unwrap();
    wait_completed(&client, &key, task, 30);
    assert!(log_of(&client, &key, task).contains("value=third"));
}

#[test]
fn library_sets_are_managed_and_one_a_project_includes_cannot_be_deleted() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let set = created(
        &client,
        &key,
        "/api/libraryvariablesets",
        json!({"Name": "Creds", "Description": "d"}),
    );
    let id = set["Id"].as_str().unwrap().to_string();
    let (status, _) = call(
        &client,
        &key,
        Method::Post,
        "/api/libraryvariablesets",
        Some(json!({"Name": "creds"})),
    );
    assert_eq!(status, Status::Conflict, "names are unique without case");
    let (status, body) = call(
        &client,
        &key,
        Method::Post,
        "/api/libraryvariablesets",
        Some(json!({"Name": "M", "ContentType": "ScriptModule"})),
    );
    assert_eq!(status, Status::BadRequest, "{body}");
    let (_, list) = call(
        &client,
        &key,
        Method::Get,
        "/api/Spaces-1/libraryvariablesets?partialName=cre",
        None,
    );
    assert_eq!(list["TotalResults"], 1, "{list}");
    assert_eq!(list["Items"][0]["Id"], id.as_str());
    let (status, renamed) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/libraryvariablesets/{id}"),
        Some(json!({"Name": "Credentials"})),
    );
    assert_eq!(status, Status::Ok, "{renamed}");
    assert_eq!(renamed["Name"], "Credentials");
    let project = created(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Uses", "IncludedLibraryVariableSetIds": [id]}),
    );
    assert_eq!(project["IncludedLibraryVariableSetIds"], json!([id]));
    for bad in [
        json!(["LibraryVariableSets-99"]),
        json!(["nope"]),
        json!([id, id]),
    ] {
        let (status, body) = call(
            &client,
            &key,
            Method::Post,
            "/api/projects",
            Some(json!({"Name": "Bad", "IncludedLibraryVariableSetIds": bad})),
        );
        assert_eq!(status, Status::BadRequest, "{body}");
        assert!(
            body.to_string().contains("IncludedLibraryVariableSetIds"),
            "{body}"
        );
    }
    let (status, body) = call(
        &client,
        &key,
        Method::Delete,
        &format!("/api/libraryvariablesets/{id}"),
        None,
    );
    assert_eq!(status, Status::Conflict, "{body}");
    assert!(body.to_string().contains("Uses"), "{body}");
    let mut body = project.clone();
    body["IncludedLibraryVariableSetIds"] = json!([]);
    let (status, _) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/projects/{}", project["Id"].as_str().unwrap()),
        Some(body),
    );
    assert_eq!(status, Status::Ok);
    let (status, _) = call(
        &client,
        &key,
        Method::Delete,
        &format!("/api/libraryvariablesets/{id}"),
        None,
    );
    assert_eq!(status, Status::NoContent);
    let (status, _) = call(
        &client,
        &key,
        Method::Get,
        &format!("/api/variables/variableset-{id}"),
        None,
    );
    assert_eq!(status, Status::NotFound);
}

#[test]
fn who_may_read_and_edit_variables_and_maintenance_refuses_non_administrators() {
    let app = TestApp::new();
    let admin = app.user_with_key("boss", &["System Administrator"]);
    let lead = app.user_with_key("lead", &["Project Lead"]);
    let viewer = app.user_with_key("viewer", &["Viewer"]);
    let deployer = app.user_with_key("deployer", &["Project Deployer"]);
    let client = app.client();
    let (project, _, _) = project_env_release(&client, &lead, "true");
    let path = format!("/api/variables/variableset-{}", project.as_str().unwrap());
    let library = created(
        &client,
        &lead,
        "/api/libraryvariablesets",
        json!({"Name": "L"}),
    );
    let library_path = format!(
        "/api/variables/{}",
        library["VariableSetId"].as_str().unwrap()
    );
    let body = json!({"Version": 0, "Variables": [{"Name": "A", "Value": "1"}]});
    for key in [&viewer, &deployer] {
        let (status, _) = call(&client, key, Method::Get, &path, None);
        assert_eq!(status, Status::Ok);
        let (status, _) = call(&client, key, Method::Get, &library_path, None);
        assert_eq!(status, Status::Ok);
        for p in [&path, &library_path] {
            let (status, answer) = call(&client, key, Method::Put, p, Some(body.clone()));
            assert_eq!(status, Status::Forbidden, "{answer}");
        }
        let (status, _) = call(
            &client,
            key,
            Method::Post,
            "/api/libraryvariablesets",
            Some(json!({"Name": "X"})),
        );
        assert_eq!(status, Status::Forbidden);
    }
    let (status, _) = call(
        &client,
        &admin,
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok);
    let (status, refused) = call(&client, &lead, Method::Put, &path, Some(body.clone()));
    assert_eq!(status, Status::ServiceUnavailable, "{refused}");
    let (status, refused) = call(
        &client,
        &lead,
        Method::Post,
        "/api/libraryvariablesets",
        Some(json!({"Name": "X"})),
    );
    assert_eq!(status, Status::ServiceUnavailable, "{refused}");
    let (_, read) = call(&client, &lead, Method::Get, &path, None);
    assert_eq!(read["Version"], 0, "nothing changed");
    let (status, done) = call(&client, &admin, Method::Put, &path, Some(body));
    assert_eq!(status, Status::Ok, "administrators may: {done}");
}

/// Two edits racing from the same version: exactly one is written, the other is a
/// 409, every round (the version guard is the database's conditional write, not only
/// the check before it).
#[test]
fn edits_racing_from_one_version_write_exactly_one() {
    let app = TestApp::new();
    let key = app.user_with_key("lead", &["Project Lead"]);
    let client = app.client();
    let (project, _, _) = project_env_release(&client, &key, "true");
    let path = format!("/api/variables/variableset-{}", project.as_str().unwrap());
    for round in 0..10i64 {
        let barrier = std::sync::Barrier::new(2);
        let statuses: Vec<Status> = std::thread::scope(|s| {
            let racers: Vec<_> = (0..2)
                .map(|who| {
                    let (app, barrier, path, key) = (&app, &barrier, &path, &key);
                    s.spawn(move || {
                        let c = app.client();
                        barrier.wait();
                        let body = json!({"Version": round,
                            "Variables": [{"Name": "Who", "Value": format!("{who}")}]});
                        call(&c, key, Method::Put, path, Some(body)).0
                    })
                })
                .collect();
            racers.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let mut sorted = statuses.clone();
        sorted.sort_by_key(|s| s.code);
        assert_eq!(sorted, vec![Status::Ok, Status::Conflict], "round {round}");
        let (_, set) = call(&client, &key, Method::Get, &path, None);
        assert_eq!(set["Version"], round + 1, "{set}");
    }
}
