//! Slugs (issue 30): every project and environment has one, unique, from its name, kept
//! on rename unless set; `GET /api/projects/{idOrSlug}` and
//! `GET /api/environments/{idOrSlug}` find it by either, the slug without case.

use crate::common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

fn send(
    client: &Client,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (Status, Value) {
    json_of(with_key(client, method, path, key, body))
}

fn project(client: &Client, key: &str, body: Value) -> Value {
    let (status, made) = send(client, key, Method::Post, "/api/projects", Some(body));
    assert_eq!(status, Status::Created, "{made}");
    made
}

#[test]
fn projects_get_unique_slugs_kept_on_rename_and_found_by_them() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let web = project(&client, &key, json!({"Name": "Web App (EU)"}));
    assert_eq!(web["Slug"], "web-app-eu");
    // Another name with the same slug gets the next free one; odd characters fold.
    let again = project(&client, &key, json!({"Name": "web app: EU!"}));
    assert_eq!(again["Slug"], "web-app-eu-2");
    let odd = project(&client, &key, json!({"Name": "Äpfel & Birnen 🍐"}));
    assert_eq!(odd["Slug"], "äpfel-birnen");
    let none = project(&client, &key, json!({"Name": "!!!"}));
    assert_eq!(none["Slug"], "project");

    for path in [
        "/api/projects/web-app-eu",
        "/api/projects/WEB-APP-EU",
        "/api/Spaces-1/projects/web-app-eu",
        "/api/projects/Projects-1",
    ] {
        let (status, found) = send(&client, &key, Method::Get, path, None);
        assert_eq!(status, Status::Ok, "{path}: {found}");
        assert_eq!(found["Id"], "Projects-1", "{path}");
    }
    let (status, found) = send(
        &client,
        &key,
        Method::Get,
        "/api/projects/%C3%A4pfel-birnen",
        None,
    );
    assert_eq!(
        (status, found["Id"].clone()),
        (Status::Ok, json!("Projects-3"))
    );
    let (status, missing) = send(
        &client,
        &key,
        Method::Get,
        "/api/projects/no-such%27thing",
        None,
    );
    assert_eq!(status, Status::NotFound);
    assert!(
        missing["ErrorMessage"]
            .as_str()
            .unwrap()
            .contains("no-such'thing"),
        "{missing}"
    );

    // A rename keeps the slug; setting one changes it.
    let (status, renamed) = send(
        &client,
        &key,
        Method::Put,
        "/api/projects/Projects-1",
        Some(json!({"Name": "Storefront"})),
    );
    assert_eq!(
        (status, renamed["Slug"].clone()),
        (Status::Ok, json!("web-app-eu"))
    );
    let (status, set) = send(
        &client,
        &key,
        Method::Put,
        "/api/projects/Projects-1",
        Some(json!({"Name": "Storefront", "Slug": "storefront"})),
    );
    assert_eq!(
        (status, set["Slug"].clone()),
        (Status::Ok, json!("storefront"))
    );
    let (status, _) = send(&client, &key, Method::Get, "/api/projects/web-app-eu", None);
    assert_eq!(status, Status::NotFound, "the old slug is free again");
    // Sending its own slug back (GET, then PUT the resource) is no conflict.
    let (status, _) = send(
        &client,
        &key,
        Method::Put,
        "/api/projects/Projects-1",
        Some(json!({"Name": "Storefront", "Slug": "storefront"})),
    );
    assert_eq!(status, Status::Ok);

    // Taken and malformed slugs are refused, naming Slug, and change nothing.
    let before = app.row_counts(&[]);
    let (status, taken) = send(
        &client,
        &key,
        Method::Put,
        "/api/projects/Projects-2",
        Some(json!({"Name": "web app: EU!", "Slug": "storefront"})),
    );
    assert_eq!(status, Status::Conflict, "{taken}");
    assert!(
        taken["ErrorMessage"].as_str().unwrap().contains("Slug"),
        "{taken}"
    );
    for bad in ["Web", "web app", "web--app", "-web", "a/b", "x\u{0}y"] {
        let (status, refused) = send(
            &client,
            &key,
            Method::Post,
            "/api/projects",
            Some(json!({"Name": format!("New {}", bad.escape_debug()), "Slug": bad})),
        );
        assert_eq!(status, Status::BadRequest, "{bad:?}: {refused}");
        assert!(
            refused["ErrorMessage"]
                .as_str()
                .unwrap()
                .starts_with("Slug:"),
            "{refused}"
        );
    }
    let (status, _) = send(
        &client,
        &key,
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "Other", "Slug": "storefront"})),
    );
    assert_eq!(status, Status::Conflict);
    assert_eq!(app.row_counts(&[]), before);
}

#[test]
fn environments_have_slugs_and_rows_from_before_slugs_answer_with_their_names() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    for name in ["Production", "QA West"] {
        let (status, made) = send(
            &client,
            &key,
            Method::Post,
            "/api/environments",
            Some(json!({"Name": name})),
        );
        assert_eq!(status, Status::Created, "{made}");
    }
    let (status, qa) = send(
        &client,
        &key,
        Method::Get,
        "/api/environments/qa-west",
        None,
    );
    assert_eq!(
        (status, qa["Id"].clone()),
        (Status::Ok, json!("Environments-2"))
    );
    assert_eq!(qa["Slug"], "qa-west");
    let (status, listed) = send(&client, &key, Method::Get, "/api/environments", None);
    assert_eq!(status, Status::Ok);
    assert_eq!(listed["Items"][0]["Slug"], "production");

    // A row an older node wrote has no slug stored: it answers with its name's, is
    // found by it, and keeps it when renamed.
    project(&client, &key, json!({"Name": "Legacy Site"}));
    let db = app.db();
    db.exec("UPDATE projects SET slug = NULL", &[]);
    db.exec("UPDATE environments SET slug = NULL WHERE id = 1", &[]);
    let (status, legacy) = send(
        &client,
        &key,
        Method::Get,
        "/api/projects/legacy-site",
        None,
    );
    assert_eq!(
        (status, legacy["Slug"].clone()),
        (Status::Ok, json!("legacy-site"))
    );
    let (status, prod) = send(
        &client,
        &key,
        Method::Get,
        "/api/environments/production",
        None,
    );
    assert_eq!(
        (status, prod["Id"].clone()),
        (Status::Ok, json!("Environments-1"))
    );
    // A new project named alike does not take the slug the old row answers with.
    let twin = project(&client, &key, json!({"Name": "Legacy-Site"}));
    assert_eq!(twin["Slug"], "legacy-site-2");
    let (status, renamed) = send(
        &client,
        &key,
        Method::Put,
        "/api/projects/Projects-1",
        Some(json!({"Name": "Old Site"})),
    );
    assert_eq!(
        (status, renamed["Slug"].clone()),
        (Status::Ok, json!("legacy-site"))
    );
    let stored: Option<String> = db.one("SELECT slug FROM projects WHERE id = 1", &[]);
    assert_eq!(stored.as_deref(), Some("legacy-site"));
}
