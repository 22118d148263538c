//! The API key cache (`auth::key_cache`): a key's caller is remembered only while
//! nothing was committed since, so a revoked key, a deactivated user or a changed role
//! is refused on the very next request — whichever node or process made the change.

use crate::common;

use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::json;

fn hits(client: &Client) -> u64 {
    client
        .rocket()
        .state::<drydock::auth::key_cache::KeyCache>()
        .expect("the key cache")
        .hits()
}

fn status(client: &Client, path: &str, key: &str) -> Status {
    with_key(client, Method::Get, path, key, None).status()
}

/// Asks until an answer comes from the cache (background writes — heartbeats, the
/// system-task timer — may make a first entry stale), so the refusals that follow are
/// known to be refusals of a cached caller. On PostgreSQL, which has no cheap "anything
/// committed since?" to ask (`Store::data_version`), nothing is cached: every request
/// reads its key, and the refusals that follow hold all the more.
fn warm(client: &Client, path: &str, key: &str) {
    let before = hits(client);
    let app = client.rocket().state::<drydock::App>().expect("app state");
    if app.store.is_postgres() {
        assert_eq!(status(client, path, key), Status::Ok);
        assert_eq!(status(client, path, key), Status::Ok);
        assert_eq!(hits(client), before, "nothing is answered from a cache");
        return;
    }
    poll_until(10, "an answer from the key cache", || {
        assert_eq!(status(client, path, key), Status::Ok);
        hits(client) > before
    });
}

fn user_id(app: &TestApp, username: &str) -> String {
    let id: i64 = app
        .db()
        .one("SELECT id FROM users WHERE username = ?1", &[&username]);
    format!("Users-{id}")
}

#[test]
fn a_key_is_answered_from_the_cache_while_nothing_changes() {
    let app = TestApp::new();
    let key = app.user_with_key("poller", &["Viewer"]);
    let node = app.client();
    warm(&node, "/api/users/me", &key);
    let before = hits(&node);
    let (s, me) = json_of(with_key(&node, Method::Get, "/api/users/me", &key, None));
    assert_eq!(s, Status::Ok);
    assert_eq!(me["Username"], "poller");
    // A wrong key of the right shape is never remembered.
    let wrong = format!("API-{}", "Z".repeat(32));
    assert_eq!(status(&node, "/api/users/me", &wrong), Status::Unauthorized);
    assert_eq!(status(&node, "/api/users/me", &wrong), Status::Unauthorized);
    assert!(hits(&node) >= before, "hits went backwards");
}

#[test]
fn a_key_revoked_by_another_node_or_process_is_refused_at_once() {
    let app = TestApp::new();
    let key = app.user_with_key("bot", &["Viewer"]);
    let node = app.client();
    warm(&node, "/api/users/me", &key);
    // Another process on the same database file (the command line, another node).
    let removed = app.db().exec(
        "DELETE FROM api_keys WHERE user_id = (SELECT id FROM users WHERE username = 'bot')",
        &[],
    );
    assert_eq!(removed, 1);
    assert_eq!(status(&node, "/api/users/me", &key), Status::Unauthorized);

    // Revoked through another node's profile page.
    let dana_key = app.user_with_key("dana", &["Viewer"]);
    warm(&node, "/api/users/me", &dana_key);
    let dana = app.session("dana", PASSWORD);
    let key_id: i64 = app.db().one(
        "SELECT k.id FROM api_keys k JOIN users u ON u.id = k.user_id WHERE u.username = 'dana'",
        &[],
    );
    let revoke = dana.post_form(&format!("/profile/apikeys/{key_id}/revoke"), &[]);
    assert_eq!(revoke.status(), Status::SeeOther);
    drop(revoke);
    assert_eq!(
        status(&node, "/api/users/me", &dana_key),
        Status::Unauthorized
    );
}

#[test]
fn a_deactivated_user_is_refused_at_once() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("boss", &["System Administrator"]);
    let key = app.user_with_key("leaver", &["Viewer"]);
    let node = app.client();
    warm(&node, "/api/users/me", &key);
    let other_node = app.client();
    let path = format!("/api/users/{}", user_id(&app, "leaver"));
    let (s, body) = json_of(with_key(
        &other_node,
        Method::Put,
        &path,
        &admin_key,
        Some(json!({"IsActive": false})),
    ));
    assert_eq!(s, Status::Ok, "{body}");
    assert_eq!(status(&node, "/api/users/me", &key), Status::Unauthorized);

    // And the same through this node itself.
    let (s, _) = json_of(with_key(
        &other_node,
        Method::Put,
        &path,
        &admin_key,
        Some(json!({"IsActive": true})),
    ));
    assert_eq!(s, Status::Ok);
    warm(&node, "/api/users/me", &key);
    let (s, _) = json_of(with_key(
        &node,
        Method::Put,
        &path,
        &admin_key,
        Some(json!({"IsActive": false})),
    ));
    assert_eq!(s, Status::Ok);
    assert_eq!(status(&node, "/api/users/me", &key), Status::Unauthorized);
}

#[test]
fn a_changed_role_takes_effect_on_the_next_request() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("boss", &["System Administrator"]);
    let key = app.user_with_key("manager", &["System Manager"]);
    let node = app.client();
    warm(&node, "/api/users", &key);
    let other_node = app.client();
    let (s, body) = json_of(with_key(
        &other_node,
        Method::Put,
        &format!("/api/users/{}", user_id(&app, "manager")),
        &admin_key,
        Some(json!({"Roles": ["Project Lead"]})),
    ));
    assert_eq!(s, Status::Ok, "{body}");
    // Project Lead may read the audit log but not the users.
    assert_eq!(status(&node, "/api/users", &key), Status::Forbidden);
    assert_eq!(status(&node, "/api/events", &key), Status::Ok);
    let (s, me) = json_of(with_key(&node, Method::Get, "/api/users/me", &key, None));
    assert_eq!(s, Status::Ok);
    assert_eq!(me["Roles"], json!(["Project Lead"]), "{me}");
}
