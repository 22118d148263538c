//! Request bodies as Octopus's server takes them (issue 30): field names in any case,
//! through one mechanism for every route; a field given twice (in one case or two) is a
//! 400 naming it that changes nothing; an error body carries its message once.

use crate::common::*;
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

fn raw(client: &Client, key: &str, method: Method, path: &str, body: &str) -> (Status, Value) {
    json_of(
        client
            .req(method, path.to_string())
            .header(Header::new("X-Octopus-ApiKey", key.to_string()))
            .header(ContentType::JSON)
            .body(body)
            .dispatch(),
    )
}

#[test]
fn bodies_match_field_names_in_any_case_on_every_route() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let post = |path: &str, body: Value| raw(&client, &key, Method::Post, path, &body.to_string());
    let (status, env) = post(
        "/api/environments",
        json!({"name": "Staging", "SORTORDER": 3}),
    );
    assert_eq!(
        (status, env["SortOrder"].clone()),
        (Status::Created, json!(3)),
        "{env}"
    );
    let (status, project) = post(
        "/api/Spaces-1/projects",
        json!({"name": "Web", "deploymentScript": "echo hi", "projectGroupId": "ProjectGroups-1"}),
    );
    assert_eq!(status, Status::Created, "{project}");
    assert_eq!(project["DeploymentScript"], "echo hi");
    // The npm client's release and deployment, camelCased as it sends them.
    let (status, release) = post(
        "/api/releases",
        json!({"projectId": "Projects-1", "version": "1.0.0", "releaseNotes": "n"}),
    );
    assert_eq!(status, Status::Created, "{release}");
    assert_eq!(release["ReleaseNotes"], "n");
    let (status, deployment) = post(
        "/api/deployments",
        json!({"releaseId": "Releases-1", "environmentId": "Environments-1"}),
    );
    assert_eq!(status, Status::Created, "{deployment}");
    // The executions API, in a third spelling.
    let (status, made) = post(
        "/api/Spaces-1/releases/create/v1",
        json!({"SpaceID": "Spaces-1", "projectname": "Web", "RELEASEVERSION": "1.0.1"}),
    );
    assert_eq!(
        (status, made["ReleaseVersion"].clone()),
        (Status::Ok, json!("1.0.1")),
        "{made}"
    );
    let (status, queued) = post(
        "/api/Spaces-1/deployments/create/untenanted/v1",
        json!({"projectIdOrName": "Web", "releaseVersion": "1.0.1", "environmentNames": ["staging"]}),
    );
    assert_eq!(status, Status::Ok, "{queued}");
    assert_eq!(queued["DeploymentServerTasks"].as_array().unwrap().len(), 1);

    // Its end is an audit event of its own: counted once it has ended.
    let task = queued["DeploymentServerTasks"][0]["ServerTaskId"]
        .as_str()
        .unwrap();
    wait_completed(&client, &key, task, 30);

    // Twice, in two cases or in one: a 400 naming the field, and nothing changes.
    let running = ["task_log", "task_counts", "nodes"];
    let before = app.row_counts(&running);
    for (path, body, field) in [
        ("/api/projects", r#"{"Name":"A","name":"B"}"#, "Name"),
        (
            "/api/releases",
            r#"{"ProjectId":"Projects-1","projectid":"Projects-1","Version":"2"}"#,
            "ProjectId",
        ),
        (
            "/api/environments",
            r#"{"Name":"Dev","Name":"Dev2"}"#,
            "Name",
        ),
        (
            "/api/deployments/create/untenanted/v1",
            r#"{"ProjectName":"Web","ReleaseVersion":"1.0.1","EnvironmentNames":["Staging"],"environmentnames":[]}"#,
            "EnvironmentNames",
        ),
    ] {
        let (status, refused) = raw(&client, &key, Method::Post, path, body);
        assert_eq!(status, Status::BadRequest, "{path} {body}: {refused}");
        let message = refused["ErrorMessage"].as_str().unwrap();
        assert!(message.contains(field), "{path}: {message}");
        // The message once: not again in Errors.
        assert_eq!(refused["Errors"], json!([]), "{refused}");
    }
    assert_eq!(app.row_counts(&running), before);

    // Several problems: the message names the first, Errors lists each once.
    let (status, refused) = post(
        "/api/projects",
        json!({"Name": "", "ScriptTimeoutSeconds": 0}),
    );
    assert_eq!(status, Status::BadRequest);
    let errors = refused["Errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{refused}");
    assert!(
        refused["ErrorMessage"].as_str().unwrap().contains("1 more"),
        "{refused}"
    );
}

#[test]
fn routes_of_features_drydock_lacks_are_refused_naming_the_feature() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (status, _) = raw(
        &client,
        &key,
        Method::Post,
        "/api/projects",
        r#"{"Name":"Web"}"#,
    );
    assert_eq!(status, Status::Created);
    let before = app.row_counts(&[]);
    for (method, path, feature) in [
        (Method::Get, "/api/runbooks", "no runbooks"),
        (
            Method::Post,
            "/api/Spaces-1/runbook-runs/create/v1",
            "no runbooks",
        ),
        (
            Method::Get,
            "/api/projects/Projects-1/runbooks/Runbooks-1",
            "no runbooks",
        ),
        (
            Method::Get,
            "/api/Spaces-1/projects/Projects-1/refs%2Fheads%2Fmain/runbooks/v2",
            "no runbooks",
        ),
        (
            Method::Post,
            "/api/packages/raw?overwriteMode=FailIfExists",
            "no packages",
        ),
        (
            Method::Post,
            "/api/build-information",
            "no packages or build information",
        ),
        (Method::Get, "/api/feeds", "no feeds"),
        (
            Method::Post,
            "/api/deployments/create/tenanted/v1",
            "no tenants",
        ),
        (Method::Get, "/api/tenants/Tenants-1", "no tenants"),
        (
            Method::Get,
            "/api/projects/Projects-1/channels",
            "no channels",
        ),
        (
            Method::Delete,
            "/api/certificates/Certificates-1",
            "no certificates",
        ),
        (Method::Put, "/api/accounts/Accounts-1", "no accounts"),
        (Method::Get, "/api/machines?skip=0", "no machines"),
        (Method::Get, "/api/Spaces-1/workerpools/all", "no machines"),
    ] {
        let (status, refused) = raw(&client, &key, method, path, "{}");
        assert_eq!(status, Status::BadRequest, "{method} {path}: {refused}");
        let message = refused["ErrorMessage"].as_str().unwrap_or_default();
        assert!(
            message.starts_with(&format!("drydock has {feature}")),
            "{method} {path}: {message}"
        );
    }
    assert_eq!(app.row_counts(&[]), before);
    // A deployment asking for variables, machines or a tenant: refused naming the field.
    raw(
        &client,
        &key,
        Method::Post,
        "/api/environments",
        r#"{"Name":"Staging"}"#,
    );
    raw(
        &client,
        &key,
        Method::Post,
        "/api/releases",
        r#"{"ProjectId":"Projects-1","Version":"1.0.0"}"#,
    );
    let before = app.row_counts(&[]);
    for (extra, field) in [
        (
            r#""FormValues":{"Variables-1":"x"}"#,
            "FormValues.Variables-1",
        ),
        (
            r#""specificMachineIds":["Machines-1"]"#,
            "SpecificMachineIds",
        ),
        (r#""TenantId":"Tenants-1""#, "TenantId"),
    ] {
        let body =
            format!(r#"{{"ReleaseId":"Releases-1","EnvironmentId":"Environments-1",{extra}}}"#);
        let (status, refused) = raw(&client, &key, Method::Post, "/api/deployments", &body);
        assert_eq!(status, Status::BadRequest, "{body}: {refused}");
        assert!(
            refused["ErrorMessage"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{refused}"
        );
    }
    assert_eq!(app.row_counts(&[]), before);
    // A release's version taken: named with the project's name.
    let (status, taken) = raw(
        &client,
        &key,
        Method::Post,
        "/api/releases",
        r#"{"ProjectId":"Projects-1","Version":"1.0.0"}"#,
    );
    assert_eq!(status, Status::Conflict);
    assert_eq!(
        taken["ErrorMessage"],
        "Project Web already has a release '1.0.0'."
    );
    // The real routes beside them still answer.
    let (status, project) = raw(&client, &key, Method::Get, "/api/projects/Projects-1", "");
    assert_eq!(
        (status, project["Name"].clone()),
        (Status::Ok, json!("Web"))
    );
    let (status, _) = raw(
        &client,
        &key,
        Method::Get,
        "/api/projects/Projects-1/releases",
        "",
    );
    assert_eq!(status, Status::Ok);
}
