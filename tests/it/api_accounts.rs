//! The API and pages around accounts: who may make administrators, the audit log,
//! markup in names, the users page, API keys on the profile page.

use crate::common;

use common::*;
use rocket::http::{Method, Status};
use serde_json::json;
#[test]
fn only_administrators_make_or_change_administrators() {
    let app = TestApp::new();
    let manager = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let (status, json) = json_of(with_key(
        &client,
        Method::Post,
        "/api/users",
        &manager,
        Some(
            json!({"Username": "sneaky", "Password": PASSWORD, "Roles": ["System Administrator"]}),
        ),
    ));
    assert_eq!(status, Status::Forbidden, "{json}");
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/users/Users-2",
        &manager,
        Some(json!({"Roles": ["System Administrator"]})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot promote itself");
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/users/Users-1",
        &manager,
        Some(json!({"IsActive": false})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot touch the admin");
    let (status, _) = json_of(with_key(
        &client,
        Method::Post,
        "/api/users/Users-1/apikeys",
        &manager,
        Some(json!({"Purpose": "steal"})),
    ));
    assert_eq!(status, Status::Forbidden, "cannot mint keys for others");

    // The last administrator cannot be removed.
    let admin = app.admin();
    let (status, json) = admin.send_json(
        Method::Put,
        "/api/users/Users-1",
        json!({"IsActive": false}),
    );
    assert_eq!(status, Status::Conflict, "{json}");
    let (status, _) = admin.send_json(
        Method::Put,
        "/api/users/Users-1",
        json!({"Roles": ["Viewer"]}),
    );
    assert_eq!(status, Status::Conflict);
    assert_eq!(
        app.count("user_roles WHERE role = 'System Administrator'"),
        1
    );
}

#[test]
fn changes_and_logins_are_audited_and_listed_newest_first() {
    let app = TestApp::new();
    let client = app.client();
    assert_eq!(
        login(&client, "admin", "wrong password!!").status(),
        Status::Unauthorized
    );
    let key = app.user_with_key("dana", &["Viewer"]);
    let admin = app.admin();
    admin.send_json(
        Method::Put,
        "/api/users/Users-2",
        json!({"Roles": ["Project Deployer"], "Password": "another long password"}),
    );
    let (status, page) = admin.get_json("/api/events?take=100");
    assert_eq!(status, Status::Ok);
    assert_eq!(page["ItemType"], "Event");
    let items = page["Items"].as_array().unwrap();
    assert_eq!(page["TotalResults"].as_i64().unwrap() as usize, items.len());
    let categories: Vec<&str> = items
        .iter()
        .map(|e| e["Category"].as_str().unwrap())
        .collect();
    for expected in [
        "UserCreated",
        "LoginFailed",
        "LoginSucceeded",
        "ApiKeyCreated",
        "UserRolesChanged",
        "UserPasswordChanged",
    ] {
        assert!(
            categories.contains(&expected),
            "{expected} missing from {categories:?}"
        );
    }
    let ids: Vec<i64> = items
        .iter()
        .map(|e| {
            e["Id"]
                .as_str()
                .unwrap()
                .trim_start_matches("Events-")
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    let created = items
        .iter()
        .find(|e| e["Category"] == "UserCreated" && e["Message"].as_str().unwrap().contains("dana"))
        .unwrap();
    assert_eq!(created["Username"], "admin");
    assert_eq!(created["IdentityEstablishedWith"], "Session cookie");
    assert_eq!(created["RelatedDocumentIds"], json!(["Users-2"]));
    assert!(created["Occurred"].as_str().unwrap().ends_with("+00:00"));
    // Paging.
    let (_, first) = admin.get_json("/api/events?skip=0&take=2");
    assert_eq!(first["Items"].as_array().unwrap().len(), 2);
    assert_eq!(first["ItemsPerPage"], 2);
    assert!(first["NumberOfPages"].as_i64().unwrap() >= 4);
    // Viewers cannot read it; the page shows escaped messages.
    let viewer = with_key(&client, Method::Get, "/api/events", &key, None);
    assert_eq!(viewer.status(), Status::Forbidden);
    let html = admin
        .client
        .get("/configuration/audit")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("UserRolesChanged"));
}

#[test]
fn markup_in_names_is_escaped_on_pages() {
    let app = TestApp::new();
    let admin = app.admin();
    let (status, _) = admin.post_json(
        "/api/users",
        json!({"Username": "xss", "DisplayName": "<script>alert(1)</script>", "Password": PASSWORD}),
    );
    assert_eq!(status, Status::Created);
    let html = admin
        .client
        .get("/configuration/users")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(!html.contains("<script>alert(1)</script>"));
    assert!(
        html.contains("&#60;script&#62;") || html.contains("&lt;script&gt;"),
        "{html}"
    );
}

#[test]
fn users_page_creates_and_edits_users_with_flash_messages() {
    let app = TestApp::new();
    let admin = app.admin();
    let response = admin.post_form(
        "/configuration/users",
        &[
            ("username", "erin"),
            ("display_name", "Erin"),
            ("password", PASSWORD),
            ("roles", "Project Lead"),
            ("roles", "Viewer"),
        ],
    );
    assert_eq!(response.status(), Status::SeeOther);
    let location = response.headers().get_one("Location").unwrap().to_string();
    drop(response);
    let html = admin
        .client
        .get(location.clone())
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("Created user erin."), "{html}");
    assert!(html.contains("value=\"Project Lead\" checked"));

    // Deactivate and change roles.
    let response = admin.post_form(
        &location,
        &[("display_name", "Erin E."), ("roles", "Viewer")],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let (_, user) = admin.get_json("/api/users/Users-2");
    assert_eq!(user["IsActive"], false);
    assert_eq!(user["Roles"], json!(["Viewer"]));
    assert_eq!(user["DisplayName"], "Erin E.");

    // Bad input comes back as the form again (400) with the problem under its field and
    // what was typed, and changes nothing.
    let response = admin.post_form(
        "/configuration/users",
        &[
            ("username", "x"),
            ("display_name", ""),
            ("password", "short"),
        ],
    );
    assert_eq!(response.status(), Status::BadRequest);
    let html = response.into_string().unwrap();
    assert!(
        html.contains("Password must be at least 12 characters"),
        "{html}"
    );
    assert!(html.contains("value=\"x\""), "{html}");
    assert!(
        html.contains("aria-describedby=\"password-error\""),
        "{html}"
    );
    assert_eq!(app.count("users"), 2);
}

#[test]
fn profile_creates_shows_once_and_revokes_api_keys() {
    let app = TestApp::new();
    app.user_with_key("dana", &["Viewer"]);
    let dana = app.session("dana", PASSWORD);
    let response = dana.post_form("/profile/apikeys", &[("purpose", "deploy bot")]);
    assert_eq!(response.status(), Status::Ok);
    let html = response.into_string().unwrap();
    let start = html.find("API-").unwrap();
    let key = html[start..start + 36].to_string();
    let client = app.client();
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Ok
    );
    let profile = dana
        .client
        .get("/profile")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(profile.contains("deploy bot") && !profile.contains(&key));
    let id: i64 = app
        .db()
        .one("SELECT id FROM api_keys WHERE purpose = 'deploy bot'", &[]);
    // Someone else cannot revoke it.
    let admin = app.admin();
    let other = admin.post_form(&format!("/profile/apikeys/{id}/revoke"), &[]);
    assert_eq!(other.status(), Status::SeeOther);
    drop(other);
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Ok
    );
    let revoke = dana.post_form(&format!("/profile/apikeys/{id}/revoke"), &[]);
    assert_eq!(revoke.status(), Status::SeeOther);
    drop(revoke);
    assert_eq!(
        with_key(&client, Method::Get, "/api/users/me", &key, None).status(),
        Status::Unauthorized
    );
}
