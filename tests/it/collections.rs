//! Octopus's collection filters (issue 30): every list answers exactly the items asked
//! for — `ids` in any order, an id that names nothing simply absent; `partialName`
//! without case — in the paged shape, under `/api/Spaces-1/` too.

use crate::common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

fn get(client: &Client, key: &str, path: &str) -> (Status, Value) {
    json_of(with_key(client, Method::Get, path, key, None))
}

fn create(client: &Client, key: &str, path: &str, body: Value) -> String {
    let (status, made) = json_of(with_key(client, Method::Post, path, key, Some(body)));
    assert_eq!(status, Status::Created, "{path}: {made}");
    made["Id"].as_str().unwrap().to_string()
}

/// The `Id`s of a collection's items, in order, and its `TotalResults`.
fn ids_of(collection: &Value) -> (Vec<String>, i64) {
    let ids = collection["Items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a collection: {collection}"))
        .iter()
        .map(|i| i["Id"].as_str().unwrap().to_string())
        .collect();
    (ids, collection["TotalResults"].as_i64().unwrap())
}

#[test]
fn environments_and_projects_answer_exactly_the_ids_and_names_asked_for() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    for name in ["Production", "Staging", "QA west", "Dev"] {
        create(&client, &key, "/api/environments", json!({"Name": name}));
    }
    for name in ["Web shop", "Billing", "Web API"] {
        create(
            &client,
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": "true"}),
        );
    }
    for prefix in ["/api", "/api/Spaces-1"] {
        let list = |query: &str| {
            let (status, collection) = get(&client, &key, &format!("{prefix}/{query}"));
            assert_eq!(status, Status::Ok, "{query}: {collection}");
            ids_of(&collection)
        };
        // In promotion order whatever order they are asked in; one that names nothing
        // is absent.
        assert_eq!(
            list("environments?ids=Environments-3,Environments-1,Environments-99"),
            (vec!["Environments-1".into(), "Environments-3".into()], 2)
        );
        assert_eq!(
            list("environments?ids=Environments-2&take=1"),
            (vec!["Environments-2".into()], 1)
        );
        assert_eq!(
            list("environments?partialName=qa%20WEST"),
            (vec!["Environments-3".into()], 1)
        );
        assert_eq!(list("environments?partialName=nothing"), (vec![], 0));
        // Both at once, and paged.
        assert_eq!(
            list("environments?ids=Environments-1,Environments-2,Environments-3&partialName=A&skip=1&take=1"),
            (vec!["Environments-3".into()], 2)
        );
        // Projects by name.
        assert_eq!(
            list("projects?partialName=web"),
            (vec!["Projects-3".into(), "Projects-1".into()], 2)
        );
        assert_eq!(
            list("projects?ids=Projects-2"),
            (vec!["Projects-2".into()], 1)
        );
    }
    // An id of something else: a 400 naming the parameter.
    for path in [
        "/api/environments?ids=Projects-1",
        "/api/projects?ids=web",
        "/api/environments?ids=Environments-x",
    ] {
        let (status, refused) = get(&client, &key, path);
        assert_eq!(status, Status::BadRequest, "{path}: {refused}");
        assert!(refused.to_string().contains("ids"), "{refused}");
    }
    let many = (1..=1001)
        .map(|i| format!("Environments-{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let (status, _) = get(&client, &key, &format!("/api/environments?ids={many}"));
    assert_eq!(status, Status::BadRequest);
}

#[test]
fn deployments_are_listed_by_ids_projects_environments_and_task_state() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let prod = create(&client, &key, "/api/environments", json!({"Name": "Prod"}));
    let test = create(&client, &key, "/api/environments", json!({"Name": "Test"}));
    let mut releases = Vec::new();
    for (name, script) in [("Ok", "true"), ("Broken", "exit 3")] {
        let project = create(
            &client,
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
        releases.push(create(
            &client,
            &key,
            "/api/releases",
            json!({"ProjectId": project, "Version": "1"}),
        ));
    }
    // Deployments-1..4: Ok→Prod, Ok→Test, Broken→Prod, Broken→Test.
    let mut tasks = Vec::new();
    for release in &releases {
        for env in [&prod, &test] {
            tasks.push(deploy(&client, &key, &json!(release), &json!(env)));
        }
    }
    for task in &tasks {
        wait_completed(&client, &key, task, 30);
    }
    for prefix in ["/api", "/api/Spaces-1"] {
        let list = |query: &str| {
            let (status, collection) = get(&client, &key, &format!("{prefix}/{query}"));
            assert_eq!(status, Status::Ok, "{query}: {collection}");
            ids_of(&collection)
        };
        let ids =
            |ns: &[i64]| -> Vec<String> { ns.iter().map(|n| format!("Deployments-{n}")).collect() };
        assert_eq!(list("deployments"), (ids(&[4, 3, 2, 1]), 4));
        // What deploy-release-action asks for right after queuing.
        assert_eq!(list("deployments?take=1&ids=Deployments-1"), (ids(&[1]), 1));
        assert_eq!(
            list("deployments?ids=Deployments-1,Deployments-3,Deployments-9"),
            (ids(&[3, 1]), 2)
        );
        assert_eq!(list("deployments?projects=Projects-2"), (ids(&[4, 3]), 2));
        assert_eq!(
            list(&format!("deployments?environments={test}")),
            (ids(&[4, 2]), 2)
        );
        assert_eq!(list("deployments?taskState=Failed"), (ids(&[4, 3]), 2));
        assert_eq!(
            list(&format!(
                "deployments?taskState=success,Failed&environments={prod}&projects=Projects-1"
            )),
            (ids(&[1]), 1)
        );
        assert_eq!(list("deployments?skip=1&take=2"), (ids(&[3, 2]), 4));
        let (status, first) = get(
            &client,
            &key,
            &format!("{prefix}/deployments?ids=Deployments-2"),
        );
        assert_eq!(status, Status::Ok);
        assert_eq!(first["Items"][0]["EnvironmentId"], json!(test));
        assert_eq!(first["Items"][0]["TaskId"], json!(tasks[1]));
    }
    for (path, field) in [
        ("/api/deployments?taskState=Sleeping", "taskState"),
        ("/api/deployments?projects=Environments-1", "projects"),
        ("/api/deployments?ids=ServerTasks-1", "ids"),
    ] {
        let (status, refused) = get(&client, &key, path);
        assert_eq!(status, Status::BadRequest, "{path}: {refused}");
        assert!(refused.to_string().contains(field), "{refused}");
    }
}

#[test]
fn releases_are_found_by_version_and_searched_by_part_of_it() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let web = create(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "true"}),
    );
    let api = create(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Api", "DeploymentScript": "true"}),
    );
    let mut made = Vec::new();
    for (project, version) in [
        (&web, "1.0.1"),
        (&web, "1.1.0"),
        (&api, "1.0.1"),
        (&web, "2.0.0-rc 1"),
    ] {
        made.push(create(
            &client,
            &key,
            "/api/releases",
            json!({"ProjectId": project, "Version": version}),
        ));
    }
    for prefix in ["/api", "/api/Spaces-1"] {
        // By version, exactly: the project's own, not another project's of that version.
        let (status, release) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{web}/releases/1.0.1"),
        );
        assert_eq!(status, Status::Ok, "{release}");
        assert_eq!(release["Id"], json!(made[0]));
        let (status, release) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{api}/releases/1.0.1"),
        );
        assert_eq!(status, Status::Ok, "{release}");
        assert_eq!(release["Id"], json!(made[2]));
        let (status, release) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{web}/releases/2.0.0-rc%201"),
        );
        assert_eq!(status, Status::Ok, "{release}");
        assert_eq!(release["Id"], json!(made[3]));
        let (status, missing) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{web}/releases/9.9"),
        );
        assert_eq!(status, Status::NotFound, "{missing}");
        assert!(
            missing.to_string().contains("Web has no release '9.9'"),
            "{missing}"
        );
        // Searched, newest first, of one project or of all.
        let (_, found) = get(
            &client,
            &key,
            &format!("{prefix}/releases?searchByVersion=1.0.1"),
        );
        assert_eq!(ids_of(&found), (vec![made[2].clone(), made[0].clone()], 2));
        let (_, found) = get(
            &client,
            &key,
            &format!("{prefix}/releases?searchByVersion=1.&project={web}"),
        );
        assert_eq!(ids_of(&found), (vec![made[1].clone(), made[0].clone()], 2));
        let (_, found) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{web}/releases?searchByVersion=rc"),
        );
        assert_eq!(ids_of(&found), (vec![made[3].clone()], 1));
        // By ids, in any order, one that names nothing absent; within a project, only
        // its own; and without case, the search.
        let (_, found) = get(
            &client,
            &key,
            &format!("{prefix}/releases?ids={},{},Releases-99", made[0], made[2]),
        );
        assert_eq!(ids_of(&found), (vec![made[2].clone(), made[0].clone()], 2));
        let (_, found) = get(
            &client,
            &key,
            &format!(
                "{prefix}/projects/{web}/releases?ids={},{}",
                made[2], made[1]
            ),
        );
        assert_eq!(ids_of(&found), (vec![made[1].clone()], 1));
        let (_, found) = get(
            &client,
            &key,
            &format!("{prefix}/projects/{web}/releases?searchByVersion=RC"),
        );
        assert_eq!(ids_of(&found), (vec![made[3].clone()], 1));
        let (status, refused) = get(&client, &key, &format!("{prefix}/releases?ids=Projects-1"));
        assert_eq!(status, Status::BadRequest, "{refused}");
    }
    let (status, _) = get(&client, &key, "/api/projects/Projects-9/releases/1.0.1");
    assert_eq!(status, Status::NotFound);
}

#[test]
fn users_and_events_answer_exactly_the_ids_and_names_asked_for() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    app.user_with_key("deployer-anna", &["Project Deployer"]);
    app.user_with_key("viewer-bob", &["Viewer"]);
    let client = app.client();
    for name in ["Staging", "Production"] {
        create(&client, &key, "/api/environments", json!({"Name": name}));
    }
    let users_named = |query: &str| {
        let (status, found) = get(&client, &key, &format!("/api/Spaces-1/users?{query}"));
        assert_eq!(status, Status::Ok, "{query}: {found}");
        let names: Vec<String> = found["Items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["Username"].as_str().unwrap().to_string())
            .collect();
        (names, found["TotalResults"].as_i64().unwrap())
    };
    assert_eq!(
        users_named("partialName=ANNA"),
        (vec!["deployer-anna".into()], 1)
    );
    let (names, total) = users_named("ids=Users-3,Users-1,Users-99");
    assert_eq!((names.len(), total), (2, 2), "{names:?}");
    assert_eq!(names[0], "admin");
    assert_eq!(users_named("ids=Users-3&partialName=bob").1, 0);
    let (status, _) = get(&client, &key, "/api/users?ids=Projects-1");
    assert_eq!(status, Status::BadRequest);

    let (_, all) = get(&client, &key, "/api/events");
    let (every, _) = ids_of(&all);
    assert!(every.len() >= 2, "{all}");
    let (first, last) = (every[every.len() - 1].clone(), every[0].clone());
    let (_, picked) = get(
        &client,
        &key,
        &format!("/api/events?ids={first},{last},Events-999"),
    );
    assert_eq!(ids_of(&picked), (vec![last, first], 2));
}
