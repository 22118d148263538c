//! `GET /metrics`: who may read it, and that its numbers follow what happens.

use crate::common;

use std::net::SocketAddr;

use common::*;
use rocket::http::{Header, Method, Status};
use rocket::local::blocking::Client;
use serde_json::json;

const LOOPBACK: &str = "127.0.0.1:50000";
const REMOTE: &str = "203.0.113.9:50000";

fn scrape(client: &Client, from: &str, token: Option<&str>) -> (Status, String, String) {
    let mut req = client
        .get("/metrics")
        .remote(from.parse::<SocketAddr>().unwrap());
    if let Some(t) = token {
        req = req.header(Header::new("Authorization", format!("Bearer {t}")));
    }
    let res = req.dispatch();
    let status = res.status();
    let content_type = res
        .headers()
        .get_one("Content-Type")
        .unwrap_or_default()
        .to_string();
    (status, content_type, res.into_string().unwrap_or_default())
}

/// The value of the sample whose line starts with `series` (name and labels).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_are_readable_from_loopback_or_with_the_token_only() {
    let app = TestApp::with(|c| c.metrics_token = "s3cret-token-for-scrapers".into());
    let client = app.client();
    let (status, content_type, body) = scrape(&client, LOOPBACK, None);
    assert_eq!(status, Status::Ok);
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    assert!(body.ends_with("# EOF\n"), "{body}");
    let (status, _, body) = scrape(&client, REMOTE, None);
    assert_eq!(status, Status::Forbidden);
    assert!(
        body.contains("metrics_token"),
        "the refusal says how: {body}"
    );
    assert_eq!(
        scrape(&client, REMOTE, Some("wrong-token-of-same-length")).0,
        Status::Forbidden
    );
    assert_eq!(
        scrape(&client, REMOTE, Some("s3cret-token-for-scrapers")).0,
        Status::Ok
    );
    // Without a configured token, nothing but loopback reads them.
    let open = TestApp::new();
    let client = open.client();
    assert_eq!(scrape(&client, REMOTE, Some("")).0, Status::Forbidden);
}

#[test]
fn metrics_follow_tasks_requests_and_maintenance() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let key = app.user_with_key("ops", &["System Administrator"]);
    let deployer = app.user_with_key("dana", &["Project Deployer"]);
    let client = app.client();
    let node = client
        .rocket()
        .state::<drydock::App>()
        .unwrap()
        .config
        .node_name
        .clone();
    let (_, env, release) = project_env_release(&client, &key, "sleep 0.3");
    let body = json!({"ReleaseId": release, "EnvironmentId": env});
    let task = deploy(&client, &key, &release, &env);

    // While it runs: one executing task on this node.
    let text = poll_for(
        20,
        || "never executing".into(),
        || {
            let (_, _, text) = scrape(&client, LOOPBACK, None);
            let executing = format!("drydock_executing_tasks{{node=\"{node}\"}}");
            (sample(&text, &executing) == Some(1.0)).then_some(text)
        },
    );
    assert_eq!(
        sample(&text, "drydock_tasks{state=\"Executing\"}"),
        Some(1.0),
        "{text}"
    );
    wait_state(&client, &key, &task, "Success", 20);
    let (_, _, text) = scrape(&client, LOOPBACK, None);
    assert_eq!(
        sample(
            &text,
            "drydock_task_duration_seconds_count{kind=\"Deploy\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let took = sample(&text, "drydock_task_duration_seconds_sum{kind=\"Deploy\"}").unwrap();
    assert!((0.3..5.0).contains(&took), "{took}");
    assert!(sample(&text, "drydock_queue_to_start_seconds_count").unwrap() >= 1.0);
    assert_eq!(sample(&text, "drydock_tasks{state=\"Success\"}"), Some(1.0));
    assert_eq!(
        sample(
            &text,
            "drydock_http_requests_total{method=\"POST\",route=\"/api/deployments\",status=\"201\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        text.contains("route=\"/api/tasks/<id>\""),
        "routes are templates, not ids"
    );
    assert_eq!(sample(&text, "drydock_maintenance_mode"), Some(0.0));

    // Maintenance: the flag, and a refused change counted.
    let (status, _) = json_of(with_key(
        &client,
        Method::Put,
        "/api/maintenanceconfiguration",
        &key,
        Some(json!({"IsInMaintenanceMode": true})),
    ));
    assert_eq!(status, Status::Ok);
    let (status, _) = json_of(with_key(
        &client,
        Method::Post,
        "/api/deployments",
        &deployer,
        Some(body),
    ));
    assert_eq!(status, Status::ServiceUnavailable);
    let (_, _, text) = scrape(&client, LOOPBACK, None);
    assert_eq!(sample(&text, "drydock_maintenance_mode"), Some(1.0));
    assert_eq!(
        sample(&text, "drydock_maintenance_refused_changes_total"),
        Some(1.0),
        "{text}"
    );
    assert!(sample(&text, "drydock_sqlite_write_transactions_total").unwrap() > 0.0);
}
