//! Spaces as Octopus's clients use them: the one `Default` space, resolved by name,
//! and every route also served under `/api/Spaces-1/`.

use crate::common::*;
use rocket::http::{Method, Status};
use serde_json::json;

#[test]
fn the_default_space_is_found_as_octopus_clients_look_for_it() {
    let app = TestApp::new();
    let key = app.user_with_key("viewer", &["Viewer"]);
    let client = app.client();
    let get = |path: &str| json_of(with_key(&client, Method::Get, path, &key, None));

    // What the official client asks first.
    let (status, page) = get("/api/spaces?partialName=Default&skip=0&take=2147483647");
    assert_eq!(status, Status::Ok, "{page}");
    assert_eq!(page["ItemType"], "Space");
    assert_eq!(page["TotalResults"], 1);
    assert_eq!(page["ItemsPerPage"], 1000, "take is capped");
    let space = &page["Items"][0];
    assert_eq!(space["Id"], "Spaces-1");
    assert_eq!(space["Name"], "Default");
    assert_eq!(space["Slug"], "default");
    assert_eq!(space["IsDefault"], true);
    assert_eq!(space["TaskQueueStopped"], false);

    assert_eq!(get("/api/spaces?partialName=efau").1["TotalResults"], 1);
    assert_eq!(get("/api/spaces?partialName=Other").1["TotalResults"], 0);
    assert_eq!(get("/api/spaces?ids=Spaces-1").1["TotalResults"], 1);
    assert_eq!(get("/api/spaces?ids=Spaces-2").1["TotalResults"], 0);
    assert_eq!(get("/api/spaces?skip=1").1["Items"], json!([]));
    let (status, body) = get("/api/spaces?take=-1");
    assert_eq!(status, Status::BadRequest);
    assert!(
        body["ErrorMessage"].as_str().unwrap().contains("take"),
        "{body}"
    );

    let (status, all) = get("/api/spaces/all");
    assert_eq!(status, Status::Ok);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(get("/api/spaces/Spaces-1").1["Name"], "Default");
    let (status, body) = get("/api/spaces/Spaces-2");
    assert_eq!(status, Status::NotFound);
    assert!(
        body["ErrorMessage"].as_str().unwrap().contains("Spaces-2"),
        "{body}"
    );

    // Anonymous callers get nothing.
    let (status, _) = json_of(client.get("/api/spaces").dispatch());
    assert_eq!(status, Status::Unauthorized);
}

#[test]
fn every_route_is_served_under_the_space_prefix_and_another_space_is_404() {
    let app = TestApp::new();
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let lead = app.user_with_key("dana", &["Project Lead"]);
    let client = app.client();
    let call = |key: &str, method: Method, path: &str, body: Option<serde_json::Value>| {
        json_of(with_key(&client, method, path, key, body))
    };

    let (status, env) = call(
        &admin,
        Method::Post,
        "/api/Spaces-1/environments",
        Some(json!({"Name": "Production"})),
    );
    assert_eq!(status, Status::Created, "{env}");
    // The same resource under both prefixes; its links work under both.
    let plain = call(
        &admin,
        Method::Get,
        "/api/environments/Environments-1",
        None,
    )
    .1;
    let prefixed = call(
        &admin,
        Method::Get,
        "/api/Spaces-1/environments/Environments-1",
        None,
    )
    .1;
    assert_eq!(plain, prefixed);
    let link = plain["Links"]["Self"].as_str().unwrap();
    assert_eq!(call(&admin, Method::Get, link, None).0, Status::Ok);
    let (status, list) = call(
        &admin,
        Method::Get,
        "/api/Spaces-1/environments?skip=0&take=5",
        None,
    );
    assert_eq!(status, Status::Ok);
    assert_eq!(list["TotalResults"], 1);
    let (status, root) = call(&admin, Method::Get, "/api/Spaces-1", None);
    assert_eq!(status, Status::Ok);
    assert_eq!(root["Application"], "drydock");

    // Another space: 404 naming it, for reads and changes alike, and nothing changes.
    for (method, path) in [
        (Method::Get, "/api/Spaces-2/environments"),
        (Method::Post, "/api/Spaces-7/environments"),
        (Method::Get, "/api/Spaces-22"),
    ] {
        let (status, body) = call(&admin, method, path, Some(json!({"Name": "Elsewhere"})));
        assert_eq!(status, Status::NotFound, "{path}: {body}");
        let space = path.split('/').nth(2).unwrap();
        assert!(
            body["ErrorMessage"].as_str().unwrap().contains(space),
            "{path}: {body}"
        );
    }
    assert_eq!(app.count("environments"), 1);

    // The change guard and maintenance mode hold under the prefix too.
    let (status, _) = call(
        &admin,
        Method::Put,
        "/api/Spaces-1/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok);
    let (status, body) = call(
        &lead,
        Method::Post,
        "/api/Spaces-1/environments",
        Some(json!({"Name": "Sneaky"})),
    );
    assert_eq!(status, Status::ServiceUnavailable, "{body}");
    let (status, _) = json_of(
        client
            .post("/api/Spaces-1/environments")
            .header(rocket::http::ContentType::JSON)
            .body(json!({"Name": "Anonymous"}).to_string())
            .dispatch(),
    );
    assert_eq!(status, Status::Unauthorized);
    assert_eq!(app.count("environments"), 1);
}

#[test]
fn projects_and_environments_are_listed_whole_under_all() {
    let app = TestApp::new();
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let viewer = app.user_with_key("vera", &["Viewer"]);
    let nobody = app.user_with_key("nemo", &[]);
    let client = app.client();
    let call = |key: &str, method: Method, path: &str, body: Option<serde_json::Value>| {
        json_of(with_key(&client, method, path, key, body))
    };
    for i in 0..35 {
        let (status, body) = call(
            &admin,
            Method::Post,
            "/api/environments",
            Some(json!({"Name": format!("Env {i:02}")})),
        );
        assert_eq!(status, Status::Created, "{body}");
    }
    let (status, body) = call(
        &admin,
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "Web", "DeploymentScript": "true"})),
    );
    assert_eq!(status, Status::Created, "{body}");
    for prefix in ["/api", "/api/Spaces-1"] {
        // More than a page (30) of environments, all of them, as a plain list.
        let (status, all) = call(
            &viewer,
            Method::Get,
            &format!("{prefix}/environments/all"),
            None,
        );
        assert_eq!(status, Status::Ok, "{all}");
        assert_eq!(all.as_array().unwrap().len(), 35);
        assert!(all[0]["Id"].as_str().unwrap().starts_with("Environments-"));
        let (status, all) = call(
            &viewer,
            Method::Get,
            &format!("{prefix}/projects/all"),
            None,
        );
        assert_eq!(status, Status::Ok, "{all}");
        assert_eq!(all[0]["Name"], "Web");
    }
    // The same permissions as the paged lists.
    for path in ["/api/projects/all", "/api/environments/all"] {
        let (status, body) = call(&nobody, Method::Get, path, None);
        assert_eq!(status, Status::Forbidden, "{path}: {body}");
    }
    // A project or environment named by id still is one.
    assert_eq!(
        call(&viewer, Method::Get, "/api/projects/Projects-1", None).0,
        Status::Ok
    );
}

#[test]
fn the_api_root_names_drydock_a_stable_installation_and_its_links() {
    let app = TestApp::new();
    let root = |client: &rocket::local::blocking::Client| json_of(client.get("/api").dispatch()).1;
    let first = root(&app.client());
    // Another process on the same data directory: the same installation.
    let again = root(&app.client());
    assert_eq!(first["InstallationId"], again["InstallationId"]);
    let id = first["InstallationId"].as_str().unwrap();
    let groups: Vec<usize> = id.split('-').map(str::len).collect();
    assert_eq!(groups, vec![8, 4, 4, 4, 12], "GUID-shaped: {id}");
    let secret: String = if app.config.database_url.is_none() {
        std::fs::read_to_string(app.data_dir().join("secret.key")).unwrap()
    } else {
        app.db().one(
            "SELECT value FROM cluster_settings WHERE name = 'secret_key'",
            &[],
        )
    };
    assert!(
        !secret.contains(&id.replace('-', "")[..16]),
        "derived one-way from the key"
    );
    let other = TestApp::new();
    assert_ne!(
        root(&other.client())["InstallationId"],
        first["InstallationId"]
    );
    assert_eq!(first["DrydockVersion"], env!("CARGO_PKG_VERSION"));
    // The Octopus API level: at least what Octopus's clients need for the executions API.
    let level: Vec<u64> = first["Version"]
        .as_str()
        .unwrap()
        .split('.')
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(level >= vec![2022, 3, 5512], "{first}");
    assert_eq!(first["ApiVersion"], "3.0.0");
    for link in [
        "Spaces",
        "Tasks",
        "MaintenanceConfiguration",
        "ServerStatus",
        "CurrentUser",
        "Capabilities",
    ] {
        assert!(first["Links"][link].is_string(), "no {link} link: {first}");
    }
}
