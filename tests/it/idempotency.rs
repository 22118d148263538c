//! `Idempotency-Key` on the requests that queue deployments (issue 29): a client that
//! retries after a lost answer or a 5xx gets what its first request queued, never a
//! second deployment.

use crate::common;

use common::{json_of, project_env_release, TestApp};
use rocket::http::{ContentType, Header, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

/// `POST path` with `body`, by API key, with `key` as its `Idempotency-Key` (or none).
fn post(
    client: &Client,
    api_key: &str,
    path: &str,
    body: &Value,
    key: Option<&str>,
) -> (Status, Value) {
    let mut request = client
        .post(path.to_string())
        .header(Header::new("X-Octopus-ApiKey", api_key.to_string()))
        .header(ContentType::JSON)
        .body(body.to_string());
    if let Some(key) = key {
        request = request.header(Header::new("Idempotency-Key", key.to_string()));
    }
    json_of(request.dispatch())
}

#[test]
fn a_retry_with_the_same_key_queues_nothing_more_and_answers_the_same() {
    let app = TestApp::new();
    let lead = app.user_with_key("lead", &["Project Deployer"]);
    let other = app.user_with_key("other", &["Project Deployer"]);
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (_, env, release) = project_env_release(&client, &admin, "echo ok");
    let later = "2099-01-01T00:00:00+00:00";
    let body = json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": later});
    let tasks = || app.count("tasks");

    let (status, first) = post(&client, &lead, "/api/deployments", &body, Some("retry-1"));
    assert_eq!(status, Status::Created, "{first}");
    let (status, again) = post(&client, &lead, "/api/deployments", &body, Some("retry-1"));
    assert_eq!(status, Status::Created, "{again}");
    assert_eq!(again["Id"], first["Id"]);
    assert_eq!(again["TaskId"], first["TaskId"]);
    assert_eq!(again["QueueTime"], first["QueueTime"]);
    assert_eq!(tasks(), 1, "a retry queued nothing more");

    // The same key with another request: refused, naming the header; nothing queued.
    let changed = json!({"ReleaseId": release, "EnvironmentId": env});
    let (status, refused) = post(
        &client,
        &lead,
        "/api/deployments",
        &changed,
        Some("retry-1"),
    );
    assert_eq!(status, Status::BadRequest, "{refused}");
    assert!(refused.to_string().contains("Idempotency-Key"), "{refused}");
    assert_eq!(tasks(), 1);
    // Keys are each user's own; without a key every request queues.
    let (status, theirs) = post(&client, &other, "/api/deployments", &body, Some("retry-1"));
    assert_eq!(status, Status::Created, "{theirs}");
    assert_ne!(theirs["TaskId"], first["TaskId"]);
    for _ in 0..2 {
        let (status, _) = post(&client, &lead, "/api/deployments", &body, None);
        assert_eq!(status, Status::Created);
    }
    assert_eq!(tasks(), 4);

    // Keys that are not keys: a 400 naming the header, nothing queued.
    for bad in ["", " ", "two words", "naïve", &"k".repeat(256)] {
        let (status, refused) = post(&client, &lead, "/api/deployments", &body, Some(bad));
        assert_eq!(status, Status::BadRequest, "{bad:?}: {refused}");
        assert!(refused.to_string().contains("Idempotency-Key"), "{refused}");
    }
    let twice = client
        .post("/api/deployments")
        .header(Header::new("X-Octopus-ApiKey", lead.clone()))
        .header(ContentType::JSON)
        .header(Header::new("Idempotency-Key", "a"))
        .header(Header::new("Idempotency-Key", "b"))
        .body(body.to_string())
        .dispatch();
    assert_eq!(twice.status(), Status::BadRequest);
    assert_eq!(tasks(), 4);

    // The executions API: the same list of deployments and tasks again.
    let command = json!({
        "SpaceId": "Spaces-1", "ProjectName": "P", "ReleaseVersion": "1",
        "EnvironmentNames": ["E"], "RunAt": later,
    });
    let path = "/api/Spaces-1/deployments/create/untenanted/v1";
    let (status, first) = post(&client, &lead, path, &command, Some("exec-1"));
    assert_eq!(status, Status::Ok, "{first}");
    let (status, again) = post(&client, &lead, path, &command, Some("exec-1"));
    assert_eq!(status, Status::Ok, "{again}");
    assert_eq!(again, first);
    assert_eq!(tasks(), 5);
}

/// Requests racing with one key, through different nodes of one database: one
/// deployment, and every answer names it.
#[test]
fn requests_racing_with_one_key_queue_one_deployment() {
    let app = TestApp::new();
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (_, env, release) = project_env_release(&client, &admin, "echo ok");
    let body = json!({
        "ReleaseId": release, "EnvironmentId": env, "QueueTime": "2099-01-01T00:00:00+00:00",
    });
    let ready = std::sync::Barrier::new(6);
    let answers: Vec<(Status, Value)> = std::thread::scope(|scope| {
        let racing: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    let client = app.client();
                    ready.wait();
                    post(&client, &admin, "/api/deployments", &body, Some("race"))
                })
            })
            .collect();
        racing.into_iter().map(|r| r.join().unwrap()).collect()
    });
    let first = &answers[0].1;
    for (status, answer) in &answers {
        assert_eq!(*status, Status::Created, "{answer}");
        assert_eq!(answer["TaskId"], first["TaskId"], "{answer}");
    }
    assert_eq!(app.count("tasks"), 1);
    assert_eq!(app.count("deployments"), 1);
}
