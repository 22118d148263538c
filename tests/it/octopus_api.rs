//! What Octopus's clients call beyond the basic resources, in Octopus's shapes: the
//! executions API, task details, capabilities, Octopus-shaped projects, project groups,
//! lifecycles and the nodes' summary and details. Bad input is a 400 naming the field
//! and changes nothing; another space is a 404 naming it; maintenance refuses.

use crate::common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

struct Api<'a> {
    client: &'a Client,
    key: String,
}

impl Api<'_> {
    fn call(&self, method: Method, path: &str, body: Option<Value>) -> (Status, Value) {
        json_of(with_key(self.client, method, path, &self.key, body))
    }

    fn post(&self, path: &str, body: Value) -> (Status, Value) {
        self.call(Method::Post, path, Some(body))
    }

    fn get(&self, path: &str) -> (Status, Value) {
        self.call(Method::Get, path, None)
    }
}

fn iso_in(ms: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ms);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn releases_are_created_by_project_name_with_the_next_version() {
    let app = TestApp::new();
    let client = app.client();
    let api = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let (status, project) = api.post(
        "/api/projects",
        json!({"Name": "Web", "ProjectGroupId": "ProjectGroups-1", "LifecycleId": "Lifecycles-1"}),
    );
    assert_eq!(status, Status::Created, "{project}");
    assert_eq!(project["DeploymentScript"], "", "no script: an empty one");
    assert_eq!(project["ProjectGroupId"], "ProjectGroups-1");
    assert_eq!(project["LifecycleId"], "Lifecycles-1");
    assert_eq!(project["Slug"], "web");

    // The first release without a version, then the next ones; extra fields Octopus
    // sends are ignored; the space may be named by id or name.
    let create = |body: Value| api.post("/api/Spaces-1/releases/create/v1", body);
    let (status, first) = create(json!({
        "spaceId": "Spaces-1", "spaceIdOrName": "Default", "spaceName": "Default",
        "ProjectName": "web", "PackageVersion": "3.2.1", "Packages": ["a:1"],
        "ChannelName": "Beta", "GitRef": "refs/heads/main", "CustomFields": {"a": "b"}
    }));
    assert_eq!(status, Status::Ok, "{first}");
    assert_eq!(first["ReleaseVersion"], "0.0.1");
    let (_, given) =
        create(json!({"ProjectName": "Web", "ReleaseVersion": "1.4.9", "ReleaseNotes": "n"}));
    assert_eq!(given["ReleaseVersion"], "1.4.9");
    let (_, next) = create(json!({"ProjectName": project["Id"]}));
    assert_eq!(
        next["ReleaseVersion"], "1.4.10",
        "by id too; the last number + 1"
    );
    let (status, release) = api.get(&format!(
        "/api/releases/{}",
        next["ReleaseId"].as_str().unwrap()
    ));
    assert_eq!(status, Status::Ok);
    assert_eq!(release["ProjectId"], project["Id"]);

    // The same version again: a conflict, unless asked to return the existing one.
    let (status, _) = create(json!({"ProjectName": "Web", "ReleaseVersion": "1.4.9"}));
    assert_eq!(status, Status::Conflict);
    let (status, existing) = create(
        json!({"ProjectName": "Web", "ReleaseVersion": "1.4.9", "IgnoreIfAlreadyExists": true}),
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(existing["ReleaseId"], given["ReleaseId"]);

    // The project's releases as the client lists them.
    let id = project["Id"].as_str().unwrap();
    let (status, page) = api.get(&format!(
        "/api/Spaces-1/projects/{id}/releases?skip=0&take=2&searchByVersion=1.4"
    ));
    assert_eq!(status, Status::Ok, "{page}");
    assert_eq!(page["TotalResults"], 2);
    assert_eq!(page["Items"][0]["Version"], "1.4.10", "newest first");
    let (status, _) = api.get("/api/projects/Projects-99/releases");
    assert_eq!(status, Status::NotFound);

    // Wrong or missing fields: 400 naming the field, nothing created.
    let before = app.count("releases");
    for (body, field) in [
        (json!({"ProjectName": "Nope"}), "ProjectName"),
        (json!({"ReleaseVersion": "2"}), "ProjectName"),
        (json!({"ProjectName": ""}), "ProjectName"),
        (json!({"ProjectName": 7}), "ProjectName: invalid type"),
        (
            json!({"ProjectName": "Web", "ReleaseVersion": "x".repeat(101)}),
            "ReleaseVersion",
        ),
        (
            json!({"ProjectName": "Web", "ReleaseVersion": "1\n2"}),
            "ReleaseVersion",
        ),
        (
            json!({"ProjectName": "Web", "IgnoreIfAlreadyExists": "yes"}),
            "IgnoreIfAlreadyExists",
        ),
    ] {
        let (status, error) = create(body.clone());
        assert_eq!(status, Status::BadRequest, "{body}: {error}");
        let message = error["ErrorMessage"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    // A project whose latest version has no number to increment.
    api.post(
        "/api/releases",
        json!({"ProjectId": project["Id"], "Version": "latest"}),
    );
    let before_latest = app.count("releases");
    let (status, error) = create(json!({"ProjectName": "Web"}));
    assert_eq!(status, Status::BadRequest, "{error}");
    assert!(error["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("ReleaseVersion"));
    assert_eq!(app.count("releases"), before_latest);
    assert_eq!(before + 1, before_latest, "only the plain POST created one");

    // Another space, in the path or the body: 404 naming it.
    let (status, error) = api.post(
        "/api/Spaces-2/releases/create/v1",
        json!({"ProjectName": "Web"}),
    );
    assert_eq!(status, Status::NotFound);
    assert!(error["ErrorMessage"].as_str().unwrap().contains("Spaces-2"));
    let (status, error) = create(json!({"ProjectName": "Web", "spaceIdOrName": "Marketing"}));
    assert_eq!(status, Status::NotFound, "{error}");
    assert!(error["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("Marketing"));
    assert_eq!(app.count("releases"), before_latest);
}

#[test]
fn deployments_to_several_environments_are_queued_all_or_none() {
    let app = TestApp::new();
    let client = app.client();
    let api = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let script = "echo out; echo err >&2";
    let (project, _, _) = project_env_release(&client, &api.key, script);
    let (_, prod) = api.post("/api/environments", json!({"Name": "Production"}));
    let deploy = |body: Value| api.post("/api/Spaces-1/deployments/create/untenanted/v1", body);

    let before = app.count("tasks");
    for (body, field) in [
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E", "Nowhere"]}),
            "EnvironmentNames",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": []}),
            "EnvironmentNames",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E", "e"]}),
            "EnvironmentNames",
        ),
        (
            json!({"ProjectName": "P", "EnvironmentNames": ["E"]}),
            "ReleaseVersion",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "9", "EnvironmentNames": ["E"]}),
            "ReleaseVersion",
        ),
        (
            json!({"ProjectName": "Q", "ReleaseVersion": "1", "EnvironmentNames": ["E"]}),
            "ProjectName",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": "E"}),
            "EnvironmentNames: invalid type",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E", 2]}),
            "EnvironmentNames[1]: invalid type",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E"], "RunAt": "soon"}),
            "RunAt",
        ),
        (
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E"],
                   "RunAt": iso_in(60_000), "NoRunAfter": iso_in(30_000)}),
            "NoRunAfter",
        ),
    ] {
        let (status, error) = deploy(body.clone());
        assert_eq!(status, Status::BadRequest, "{body}: {error}");
        let message = error["ErrorMessage"].as_str().unwrap();
        assert!(message.contains(field), "{body}: {message}");
    }
    assert_eq!(
        app.count("tasks"),
        before,
        "a refused command queued nothing"
    );
    assert_eq!(app.count("deployments"), 0);

    // By name and by id, with the fields Octopus's client adds; one task each, in order.
    let (status, created) = deploy(json!({
        "spaceId": "Spaces-1", "spaceIdOrName": "Spaces-1",
        "ProjectName": project, "ReleaseVersion": "1",
        "EnvironmentNames": ["e", prod["Id"]],
        "ForcePackageDownload": false, "UseGuidedFailure": false, "Variables": {},
        "SpecificMachineNames": [], "SkipStepNames": []
    }));
    assert_eq!(status, Status::Ok, "{created}");
    let tasks = created["DeploymentServerTasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 2, "{created}");
    let (_, second) = api.get(&format!(
        "/api/deployments/{}",
        tasks[1]["DeploymentId"].as_str().unwrap()
    ));
    assert_eq!(second["EnvironmentId"], prod["Id"]);
    assert_eq!(second["TaskId"], tasks[1]["ServerTaskId"]);
    for t in tasks {
        let task = wait_completed(&client, &api.key, t["ServerTaskId"].as_str().unwrap(), 30);
        assert_eq!(task["State"], "Success", "{task}");
    }

    // RunAt and NoRunAfter are the task's queue time and expiry.
    let (run_at, no_run_after) = (iso_in(3_600_000), iso_in(7_200_000));
    let (status, later) = deploy(json!({
        "ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["Production"],
        "RunAt": run_at, "NoRunAfter": no_run_after
    }));
    assert_eq!(status, Status::Ok, "{later}");
    let id = later["DeploymentServerTasks"][0]["ServerTaskId"]
        .as_str()
        .unwrap()
        .to_string();
    let (_, task) = api.get(&format!("/api/tasks/{id}"));
    assert_eq!(task["State"], "Queued");
    let queued = time::OffsetDateTime::parse(
        task["QueueTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let asked =
        time::OffsetDateTime::parse(&run_at, &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(
        (queued - asked).abs() < time::Duration::milliseconds(2),
        "{task}"
    );
    assert!(task["QueueTimeExpiry"].is_string());
    assert_eq!(task["HasBeenPickedUpByProcessor"], false);
    assert_eq!(task["Duration"], Value::Null, "not started");
}

#[test]
fn task_details_give_the_log_as_activity_elements_and_honest_flags() {
    let app = TestApp::new();
    let client = app.client();
    let api = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let (_, env, release) =
        project_env_release(&client, &api.key, "echo one\necho two >&2\necho three");
    let noisy = deploy(&client, &api.key, &release, &env);
    let task = wait_completed(&client, &api.key, &noisy, 30);
    assert_eq!(task["State"], "Success");
    assert_eq!(task["HasWarningsOrErrors"], true, "it wrote to stderr");
    assert_eq!(task["CanRerun"], false);
    assert_eq!(task["HasPendingInterruptions"], false);
    assert_eq!(task["HasBeenPickedUpByProcessor"], true);
    assert!(task["Duration"].is_string(), "{task}");

    let (status, details) = api.get(&format!("/api/Spaces-1/tasks/{noisy}/details"));
    assert_eq!(status, Status::Ok, "{details}");
    assert_eq!(details["Task"]["Id"], noisy.as_str());
    assert_eq!(details["Progress"]["ProgressPercentage"], 100);
    let root = &details["ActivityLogs"][0];
    assert_eq!(root["Status"], "SuccessWithWarning");
    let elements = root["Children"][0]["LogElements"].as_array().unwrap();
    let seen: Vec<(&str, &str)> = elements
        .iter()
        .map(|e| {
            (
                e["Category"].as_str().unwrap(),
                e["MessageText"].as_str().unwrap(),
            )
        })
        .collect();
    // stdout and stderr are two pipes: their lines keep their order within each.
    let of = |category: &str| -> Vec<&str> {
        seen.iter()
            .filter(|(c, _)| *c == category)
            .map(|(_, m)| *m)
            .collect()
    };
    assert_eq!(of("Info"), vec!["one", "three"], "{seen:?}");
    assert_eq!(of("Error"), vec!["two"], "{seen:?}");
    assert_eq!(seen.len(), 3);
    assert!(elements.iter().all(|e| e["OccurredAt"].is_string()));
    let raw = with_key(
        &client,
        Method::Get,
        &format!("/api/tasks/{noisy}/raw"),
        &api.key,
        None,
    )
    .into_string()
    .unwrap();
    assert_eq!(details["PhysicalLogSize"], raw.len(), "the size of /raw");

    // tail keeps the last lines; the size stays the whole log's.
    let (_, tail) = api.get(&format!("/api/tasks/{noisy}/details?tail=1&verbose=true"));
    let last = &tail["ActivityLogs"][0]["Children"][0]["LogElements"];
    assert_eq!(last.as_array().unwrap().len(), 1, "{tail}");
    assert_eq!(last[0]["MessageText"], seen[2].1);
    assert_eq!(tail["PhysicalLogSize"], raw.len());
    let (status, error) = api.get(&format!("/api/tasks/{noisy}/details?tail=-1"));
    assert_eq!(status, Status::BadRequest);
    assert!(error["ErrorMessage"].as_str().unwrap().contains("tail"));
    let (status, _) = api.get("/api/tasks/ServerTasks-999/details");
    assert_eq!(status, Status::NotFound);

    // A quiet success has no warnings; a failure has, with its error as a Fatal element.
    let (_, quiet_project) = api.post(
        "/api/projects",
        json!({"Name": "Quiet", "DeploymentScript": "echo fine"}),
    );
    let (_, quiet_release) = api.post(
        "/api/releases",
        json!({"ProjectId": quiet_project["Id"], "Version": "1"}),
    );
    let quiet = deploy(&client, &api.key, &quiet_release["Id"], &env);
    let quiet = wait_completed(&client, &api.key, &quiet, 30);
    assert_eq!(quiet["HasWarningsOrErrors"], false, "{quiet}");
    let (_, failing_project) = api.post(
        "/api/projects",
        json!({"Name": "Failing", "DeploymentScript": "exit 3"}),
    );
    let (_, failing_release) = api.post(
        "/api/releases",
        json!({"ProjectId": failing_project["Id"], "Version": "1"}),
    );
    let failed = deploy(&client, &api.key, &failing_release["Id"], &env);
    let task = wait_completed(&client, &api.key, &failed, 30);
    assert_eq!(task["State"], "Failed");
    assert_eq!(task["HasWarningsOrErrors"], true);
    let (_, details) = api.get(&format!("/api/tasks/{failed}/details"));
    let root = &details["ActivityLogs"][0];
    assert_eq!(root["Status"], "Failed");
    let elements = root["Children"][0]["LogElements"].as_array().unwrap();
    let fatal = elements.last().unwrap();
    assert_eq!(fatal["Category"], "Fatal");
    assert!(fatal["MessageText"].as_str().unwrap().contains('3'));
}

#[test]
fn capabilities_projects_groups_lifecycles_and_nodes_in_octopus_shapes() {
    let app = TestApp::new();
    let client = app.client();
    let api = Api {
        client: &client,
        key: app.user_with_key("viewer", &["Viewer"]),
    };
    let admin = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let (status, caps) = api.get("/api/capabilities");
    assert_eq!(status, Status::Ok);
    let caps: Vec<&str> = caps["Capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(caps.contains(&"CreateReleaseCommandV1"), "{caps:?}");
    assert!(caps.contains(&"CreateDeploymentUntenantedCommandV1"));
    assert!(!caps.contains(&"CreateDeploymentTenantedCommandV1"));
    assert!(caps.contains(&"GetAllSpacesRequest"));
    // Each names a route that is mounted: nothing drydock does not answer.
    let mounted: Vec<(String, String)> = client
        .rocket()
        .routes()
        .map(|r| (r.method.as_str().to_string(), r.uri.path().to_string()))
        .collect();
    for (method, path, name) in drydock::api::status::CAPABILITIES {
        assert!(
            mounted.contains(&(method.to_string(), path.to_string())),
            "{name}: {method} {path} is not a mounted route"
        );
    }
    assert_eq!(caps.len(), drydock::api::status::CAPABILITIES.len());
    let (status, _) = json_of(client.get("/api/capabilities").dispatch());
    assert_eq!(status, Status::Unauthorized);

    // One project group and one lifecycle, with the paged list's filters.
    for (path, id) in [
        ("/api/Spaces-1/projectgroups", "ProjectGroups-1"),
        ("/api/lifecycles", "Lifecycles-1"),
    ] {
        let (status, page) = api.get(&format!("{path}?skip=0&take=2147483647"));
        assert_eq!(status, Status::Ok, "{page}");
        assert_eq!(page["TotalResults"], 1);
        assert_eq!(page["Items"][0]["Id"], id);
        assert_eq!(
            api.get(&format!("{path}?partialName=zzz")).1["TotalResults"],
            0
        );
        assert_eq!(api.get(&format!("{path}?ids={id}")).1["TotalResults"], 1);
        assert_eq!(api.get(&format!("{path}?skip=1")).1["Items"], json!([]));
        assert_eq!(api.get(&format!("{path}/all")).1[0]["Id"], id);
        assert_eq!(api.get(&format!("{path}/{id}")).1["Id"], id);
        let (status, error) = api.get(&format!("{path}/{id}9"));
        assert_eq!(status, Status::NotFound, "{error}");
    }

    // Another group or lifecycle is a 400 naming the field; an update without a script
    // keeps it.
    for (body, field) in [
        (
            json!({"Name": "W", "ProjectGroupId": "ProjectGroups-7"}),
            "ProjectGroupId",
        ),
        (
            json!({"Name": "W", "LifecycleId": "Lifecycles-2"}),
            "LifecycleId",
        ),
    ] {
        let (status, error) = admin.post("/api/projects", body);
        assert_eq!(status, Status::BadRequest, "{error}");
        assert!(error["ErrorMessage"].as_str().unwrap().contains(field));
    }
    assert_eq!(app.count("projects"), 0);
    let (_, project) = admin.post(
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo keep"}),
    );
    let id = project["Id"].as_str().unwrap();
    let (status, updated) = admin.call(
        Method::Put,
        &format!("/api/Spaces-1/projects/{id}"),
        Some(json!({"Name": "Web site", "Description": "d"})),
    );
    assert_eq!(status, Status::Ok, "{updated}");
    assert_eq!(updated["DeploymentScript"], "echo keep");
    // A rename keeps the slug (links people have keep working).
    assert_eq!(updated["Slug"], "web");

    // Nodes: the summary and one node's running tasks.
    let (status, summary) = api.get("/api/octopusservernodes/summary");
    assert_eq!(status, Status::Ok, "{summary}");
    assert_eq!(summary["IsInMaintenanceMode"], false);
    let node = &summary["Nodes"][0];
    for field in [
        "Id",
        "Name",
        "MaxConcurrentTasks",
        "RunningTaskCount",
        "IsOffline",
        "IsInMaintenanceMode",
    ] {
        assert!(!node[field].is_null(), "{field}: {summary}");
    }
    let node_id = node["Id"].as_str().unwrap();
    let (status, details) = api.get(&format!(
        "/api/Spaces-1/octopusservernodes/{node_id}/details"
    ));
    assert_eq!(status, Status::Ok, "{details}");
    assert_eq!(details["RunningTasks"], json!([]));
    let (status, _) = api.get("/api/octopusservernodes/OctopusServerNodes-nobody/details");
    assert_eq!(status, Status::NotFound);
}

#[test]
fn the_executions_api_is_refused_in_maintenance_for_non_administrators() {
    let app = TestApp::new();
    let client = app.client();
    let admin = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let deployer = Api {
        client: &client,
        key: app.user_with_key("dana", &["Project Deployer"]),
    };
    project_env_release(&client, &admin.key, "true");
    let (status, _) = admin.call(
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok);
    let before = app.row_counts(&["sessions"]);
    for prefix in ["/api", "/api/Spaces-1"] {
        let (status, error) = deployer.post(
            &format!("{prefix}/releases/create/v1"),
            json!({"ProjectName": "P", "ReleaseVersion": "2"}),
        );
        assert_eq!(status, Status::ServiceUnavailable, "{prefix}: {error}");
        assert!(error["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("maintenance mode"));
        let (status, _) = deployer.post(
            &format!("{prefix}/deployments/create/untenanted/v1"),
            json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E"]}),
        );
        assert_eq!(status, Status::ServiceUnavailable, "{prefix}");
    }
    assert_eq!(app.row_counts(&["sessions"]), before, "nothing changed");
    // An administrator is not refused.
    let (status, created) = admin.post(
        "/api/Spaces-1/deployments/create/untenanted/v1",
        json!({"ProjectName": "P", "ReleaseVersion": "1", "EnvironmentNames": ["E"]}),
    );
    assert_eq!(status, Status::Ok, "{created}");
}

#[test]
fn environments_keep_a_promotion_order_octopus_clients_can_set() {
    let app = TestApp::new();
    let client = app.client();
    let admin = Api {
        client: &client,
        key: app.user_with_key("ops", &["System Administrator"]),
    };
    let ids: Vec<String> = ["Development", "Staging", "Production"]
        .iter()
        .map(|name| {
            let (status, env) = admin.post("/api/environments", json!({"Name": name}));
            assert_eq!(status, Status::Created, "{env}");
            env["Id"].as_str().unwrap().to_string()
        })
        .collect();
    let names = |page: &Value| -> Vec<String> {
        page["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["Name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, page) = admin.get("/api/environments");
    assert_eq!(
        names(&page),
        ["Development", "Staging", "Production"],
        "creation order, not alphabetical"
    );
    assert_eq!(page["Items"][2]["SortOrder"], 3);

    // Octopus's client sends every id in the new order.
    let (status, ordered) = admin.call(
        Method::Put,
        "/api/Spaces-1/environments/sortorder",
        Some(json!([ids[2], ids[0], ids[1]])),
    );
    assert_eq!(status, Status::Ok, "{ordered}");
    let (_, page) = admin.get("/api/environments");
    assert_eq!(names(&page), ["Production", "Development", "Staging"]);

    // Not every environment, one twice, or not an id: 400, nothing changes.
    for body in [
        json!([ids[0], ids[1]]),
        json!([ids[0], ids[0], ids[1]]),
        json!([ids[0], ids[1], ids[2], "Environments-99"]),
        json!(["Production", ids[0], ids[1]]),
        json!({"Ids": ids}),
    ] {
        let (status, error) = admin.call(
            Method::Put,
            "/api/environments/sortorder",
            Some(body.clone()),
        );
        assert_eq!(status, Status::BadRequest, "{body}: {error}");
    }
    let (_, page) = admin.get("/api/environments");
    assert_eq!(names(&page), ["Production", "Development", "Staging"]);

    // SortOrder on create and update.
    let (_, qa) = admin.post("/api/environments", json!({"Name": "QA", "SortOrder": 0}));
    assert_eq!(qa["SortOrder"], 0);
    let (_, page) = admin.get("/api/environments");
    assert_eq!(names(&page)[0], "QA");
    let (status, error) = admin.post("/api/environments", json!({"Name": "X", "SortOrder": -1}));
    assert_eq!(status, Status::BadRequest);
    assert!(error["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("SortOrder"));
    // A viewer cannot reorder.
    let viewer = Api {
        client: &client,
        key: app.user_with_key("viewer", &["Viewer"]),
    };
    let (status, _) = viewer.call(
        Method::Put,
        "/api/environments/sortorder",
        Some(json!([ids[0], ids[1], ids[2]])),
    );
    assert_eq!(status, Status::Forbidden);
}
