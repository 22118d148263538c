//! Notifications: Octopus's subscriptions through the API, deliveries to a real HTTP
//! receiver on 127.0.0.1 (signed, filtered, in Octopus's payload or Slack's), a
//! receiver that is down and then up, and what is refused (private addresses, bad
//! fields, redirects; a huge answer is not read).

use crate::approvals::{call, created, set_rules};
use crate::common;

use common::receiver::{Answer, Received, Receiver};
use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

/// An app that may send to 127.0.0.1 and retries within 50 ms.
fn app() -> TestApp {
    TestApp::with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 50;
    })
}

pub(crate) fn subscribe(client: &Client, key: &str, name: &str, uri: &str, extra: Value) -> Value {
    let mut sub = json!({"WebhookURI": uri, "WebhookTimeout": "00:00:02"});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        sub[k] = v;
    }
    created(
        client,
        key,
        "/api/subscriptions",
        json!({"Name": name, "Type": "Event", "EventNotificationSubscription": sub}),
    )
}

fn deliveries(client: &Client, key: &str, sub: &Value) -> Vec<Value> {
    let (status, page) = call(
        client,
        key,
        Method::Get,
        &format!(
            "/api/subscriptions/{}/deliveries",
            sub["Id"].as_str().unwrap()
        ),
        None,
    );
    assert_eq!(status, Status::Ok, "{page}");
    page["Items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn matching_events_arrive_signed_in_octopus_and_slack_shapes_and_no_others() {
    let app = app();
    let key = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let shop = created(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript": "true"}),
    );
    let blog = created(
        &client,
        &key,
        "/api/projects",
        json!({"Name": "Blog", "DeploymentScript": "true"}),
    );
    let prod = created(
        &client,
        &key,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let staging = created(
        &client,
        &key,
        "/api/environments",
        json!({"Name": "Staging"}),
    )["Id"]
        .clone();
    let release = |p: &Value| {
        created(
            &client,
            &key,
            "/api/releases",
            json!({"ProjectId": p["Id"], "Version": "1"}),
        )["Id"]
            .clone()
    };
    let (shop_1, blog_1) = (release(&shop), release(&blog));
    let a = Receiver::start();
    let b = Receiver::start();
    let octopus = subscribe(
        &client,
        &key,
        "Shop in Production",
        &a.url("/hook"),
        json!({
            "Filter": {"Projects": [shop["Id"]], "Environments": [prod], "EventCategories": ["DeploymentQueued"]},
            "WebhookSecret": "top-S3CRET-key", "WebhookHeaderKey": "X-Team", "WebhookHeaderValue": "ops",
        }),
    );
    let sub = &octopus["EventNotificationSubscription"];
    assert_eq!(
        (
            sub["WebhookSecret"].clone(),
            sub["HasWebhookSecret"].clone()
        ),
        (Value::Null, json!(true)),
        "{octopus}"
    );
    assert_eq!(sub["WebhookTimeout"], "00:00:02");
    let slack = subscribe(
        &client,
        &key,
        "Approvals to Slack",
        &b.url("/slack"),
        json!({"Filter": {"EventGroups": ["Approval"]}, "PayloadFormat": "Slack"}),
    );
    assert_eq!(
        slack["EventNotificationSubscription"]["HasWebhookSecret"],
        false
    );

    let task = deploy(&client, &key, &shop_1, &prod);
    deploy(&client, &key, &shop_1, &staging);
    deploy(&client, &key, &blog_1, &prod);
    set_rules(
        &client,
        &key,
        blog["Id"].as_str().unwrap(),
        json!([{"RoleNames": ["Project Lead"]}]),
    );
    let waiting = deploy(&client, &key, &blog_1, &prod);

    // Exactly one delivery was raised for the first subscription, and it arrives signed.
    let got = a.wait_for(20, "the Shop deployment", |g| !g.is_empty());
    let raised = deliveries(&client, &key, &octopus);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let r = &got[0];
    assert_eq!(r.path, "/hook");
    let signature = format!(
        "sha256={}",
        drydock::notify::hmac::sha256_hex(b"top-S3CRET-key", &r.body)
    );
    assert_eq!(
        r.header("X-Drydock-Signature-256"),
        Some(signature.as_str())
    );
    assert_eq!(r.header("X-Team"), Some("ops"));
    assert_eq!(r.header("X-Drydock-Delivery"), raised[0]["Id"].as_str());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let body = r.json();
    assert_eq!(body["EventType"], "SubscriptionPayload");
    let event = &body["Payload"]["Event"];
    assert_eq!(event["Category"], "DeploymentQueued", "{body}");
    assert!(
        event["RelatedDocumentIds"]
            .as_array()
            .unwrap()
            .contains(&json!(task)),
        "{body}"
    );
    assert_eq!(
        body["Payload"]["Subscription"]["Name"],
        "Shop in Production"
    );
    assert!(body["Payload"]["ServerUri"]
        .as_str()
        .unwrap()
        .starts_with("http://"));
    assert!(
        body["Timestamp"].as_str().is_some()
            && body["Payload"]["BatchProcessingDate"].as_str().is_some()
    );
    // The Slack one gets the approval request only, as text with a link to the task.
    let got = b.wait_for(20, "the approval request", |g| !g.is_empty());
    let text = got[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let n = waiting.trim_start_matches("ServerTasks-");
    assert!(
        text.contains("waits for approval")
            && text.contains(&format!("/tasks/{n}|ApprovalRequested>")),
        "{text}"
    );
    assert_eq!(deliveries(&client, &key, &slack).len(), 1);
    poll_until(10, "both recorded as delivered", || {
        [&octopus, &slack].iter().all(|s| {
            deliveries(&client, &key, s)
                .iter()
                .all(|d| d["State"] == "Delivered")
        })
    });
    // The secret is sealed at rest, never in the clear.
    let db = app.db();
    let stored: String = db.one(
        "SELECT secret FROM subscriptions WHERE name = 'Shop in Production'",
        &[],
    );
    assert!(
        stored.starts_with("v1:") && !stored.contains("S3CRET"),
        "{stored}"
    );
    let (_, read) = call(
        &client,
        &key,
        Method::Get,
        &format!("/api/subscriptions/{}", octopus["Id"].as_str().unwrap()),
        None,
    );
    assert!(!read.to_string().contains("S3CRET"), "{read}");
    // Sent back without a secret, it keeps the one it has.
    let (status, kept) = call(
        &client,
        &key,
        Method::Put,
        &format!("/api/subscriptions/{}", octopus["Id"].as_str().unwrap()),
        Some(read),
    );
    assert_eq!(status, Status::Ok, "{kept}");
    assert_eq!(
        kept["EventNotificationSubscription"]["HasWebhookSecret"],
        true
    );
}

#[test]
fn a_receiver_down_then_up_gets_every_event_once_after_retries() {
    let app = app();
    let key = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let port = Receiver::free_port();
    let sub = subscribe(
        &client,
        &key,
        "Environments",
        &format!("http://127.0.0.1:{port}/in"),
        json!({"Filter": {"EventCategories": ["EnvironmentCreated"]}}),
    );
    for n in 0..5 {
        created(
            &client,
            &key,
            "/api/environments",
            json!({"Name": format!("Env {n}")}),
        );
    }
    poll_until(20, "every delivery tried and failed more than once", || {
        let d = deliveries(&client, &key, &sub);
        d.len() == 5
            && d.iter()
                .all(|d| d["Attempts"].as_i64().unwrap_or(0) >= 2 && d["State"] == "Pending")
    });
    let failed = deliveries(&client, &key, &sub);
    assert!(
        failed[0]["LastError"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{failed:?}"
    );
    // Up: every event arrives, each delivery once.
    let receiver = Receiver::start_on(port);
    let got = receiver.wait_for(30, "five deliveries", |g| g.len() >= 5);
    poll_until(10, "all delivered", || {
        deliveries(&client, &key, &sub)
            .iter()
            .all(|d| d["State"] == "Delivered")
    });
    let mut ids: Vec<&str> = got
        .iter()
        .filter_map(|r| r.header("X-Drydock-Delivery"))
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5, "each delivery arrived: {ids:?}");
    let names: Vec<String> = got
        .iter()
        .map(|r| {
            r.json()["Payload"]["Event"]["Message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    for n in 0..5 {
        assert!(
            names.iter().any(|m| m.contains(&format!("Env {n}"))),
            "{names:?}"
        );
    }
    // The metrics count the attempts by result, and nothing is left waiting.
    let metrics = client
        .get("/metrics")
        .remote("127.0.0.1:50000".parse().unwrap())
        .dispatch()
        .into_string()
        .unwrap_or_default();
    let sample = |series: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(-1.0)
    };
    assert_eq!(
        sample("drydock_webhook_deliveries_total{result=\"delivered\"}"),
        5.0,
        "{metrics}"
    );
    assert!(
        sample("drydock_webhook_deliveries_total{result=\"retry\"}") >= 5.0,
        "{metrics}"
    );
    assert_eq!(
        sample("drydock_webhook_pending_deliveries "),
        0.0,
        "{metrics}"
    );
}

#[test]
fn private_addresses_bad_fields_and_redirects_are_refused_and_big_answers_not_read() {
    // Without webhook_allow_private, loopback is refused when saved.
    let strict = TestApp::new();
    let key = strict.user_with_key("manager", &["System Manager"]);
    let client = strict.client();
    for uri in [
        "http://127.0.0.1:9/x",
        "http://[::1]:9/x",
        "http://169.254.169.254/latest",
        "http://10.0.0.1/",
    ] {
        let (status, body) = call(
            &client,
            &key,
            Method::Post,
            "/api/subscriptions",
            Some(json!({
            "Name": "Inside", "EventNotificationSubscription": {"WebhookURI": uri}})),
        );
        assert_eq!(status, Status::BadRequest, "{uri}: {body}");
        assert!(
            body.to_string().contains("webhook_allow_private"),
            "{uri}: {body}"
        );
    }
    let counts = strict.row_counts(&["api_keys"]);
    let bad = [
        (
            json!({"EventNotificationSubscription": {"WebhookURI": "https://example.com/"}}),
            "Name",
        ),
        (json!({"Name": "x"}), "EventNotificationSubscription"),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "ftp://example.com/"}}),
            "WebhookURI",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://u:p@example.com/"}}),
            "WebhookURI",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "WebhookTimeout": "00:05:00"}}),
            "WebhookTimeout",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "WebhookHeaderKey": "X-Drydock-Signature-256", "WebhookHeaderValue": "forged"}}),
            "WebhookHeaderKey",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "WebhookHeaderKey": "X-A", "WebhookHeaderValue": "a\r\nInjected: 1"}}),
            "WebhookHeaderValue",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "Filter": {"EventGroups": ["Everything"]}}}),
            "EventGroups[0]",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "Filter": {"Projects": "Projects-1"}}}),
            "Filter.Projects",
        ),
        (
            json!({"Name": "x", "EventNotificationSubscription": {"WebhookURI": "https://example.com/", "PayloadFormat": "Teams"}}),
            "PayloadFormat",
        ),
        (
            json!({"Name": "x", "Type": "Alert", "EventNotificationSubscription": {"WebhookURI": "https://example.com/"}}),
            "Type",
        ),
    ];
    for (body, field) in bad {
        let (status, answer) = call(
            &client,
            &key,
            Method::Post,
            "/api/subscriptions",
            Some(body.clone()),
        );
        assert_eq!(status, Status::BadRequest, "{body}: {answer}");
        assert!(
            answer.to_string().contains(field),
            "{body} should name {field}: {answer}"
        );
    }
    assert_eq!(
        strict.row_counts(&["api_keys"]),
        counts,
        "a refused subscription changed something"
    );
    // A deployer may not see or make subscriptions.
    let deployer = strict.user_with_key("deployer", &["Project Deployer"]);
    let (status, _) = call(&client, &deployer, Method::Get, "/api/subscriptions", None);
    assert_eq!(status, Status::Forbidden);

    // With it allowed: a redirect is not followed, a huge answer is not read to its end.
    let app = app();
    let key = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let target = Receiver::start();
    let redirecting = Receiver::start();
    redirecting.answer(Answer::Redirect(target.url("/stolen")));
    let sub = subscribe(
        &client,
        &key,
        "Redirected",
        &redirecting.url("/r"),
        json!({}),
    );
    let (status, test) = call(
        &client,
        &key,
        Method::Post,
        &format!("/api/subscriptions/{}/test", sub["Id"].as_str().unwrap()),
        None,
    );
    assert_eq!(status, Status::Ok, "{test}");
    poll_until(20, "the redirect recorded", || {
        deliveries(&client, &key, &sub)
            .iter()
            .any(|d| d["LastStatusCode"] == 302)
    });
    let d = deliveries(&client, &key, &sub);
    assert!(
        d.iter().any(|d| d["LastError"]
            .as_str()
            .unwrap_or_default()
            .contains("redirects are not followed")),
        "{d:?}"
    );
    assert!(target.got().is_empty(), "the redirect was followed");
    let big = Receiver::start();
    big.answer(Answer::Big(200 * 1024 * 1024));
    let sub = subscribe(&client, &key, "Big", &big.url("/b"), json!({}));
    call(
        &client,
        &key,
        Method::Post,
        &format!("/api/subscriptions/{}/test", sub["Id"].as_str().unwrap()),
        None,
    );
    poll_until(20, "the big answer's delivery recorded", || {
        deliveries(&client, &key, &sub)
            .iter()
            .any(|d| d["State"] == "Delivered" && d["Attempts"] == 1)
    });
    // (An unfiltered subscription is told of its own creation too.)
    let got = big.wait_for(20, "the test event", |g| {
        g.iter()
            .any(|r| r.json()["Payload"]["Event"]["Category"] == "SubscriptionTested")
    });
    assert!(got.iter().all(|r| r.path == "/b"), "{got:?}");
}

fn categories(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| {
            r.json()["Payload"]["Event"]["Category"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

/// Deployments are told as they start and end; "safe to stop" is told once, when the
/// last deployment ends after maintenance mode was turned on (or at once, turned on
/// quiet), and never while the mode is off.
#[test]
fn deployments_and_safe_to_stop_are_told_once_and_not_while_the_mode_is_off() {
    let app = app();
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let gate = app.shared_file("gate");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.02; done\n", gate.display());
    let slow = created(
        &client,
        &admin,
        "/api/projects",
        json!({"Name": "Slow", "DeploymentScript": script}),
    );
    let bad = created(
        &client,
        &admin,
        "/api/projects",
        json!({"Name": "Bad", "DeploymentScript": "exit 3"}),
    );
    let env = created(
        &client,
        &admin,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let release = |p: &Value| {
        created(
            &client,
            &admin,
            "/api/releases",
            json!({"ProjectId": p["Id"], "Version": "1"}),
        )["Id"]
            .clone()
    };
    let (slow_1, bad_1) = (release(&slow), release(&bad));
    let r = Receiver::start();
    subscribe(
        &client,
        &admin,
        "Ops",
        &r.url("/ops"),
        json!({"Filter": {"EventGroups": ["Deployment", "Maintenance"]}}),
    );
    let told = |category: &str| {
        categories(&r.got())
            .iter()
            .filter(|c| *c == category)
            .count()
    };
    let db = app.db();
    let safe_events = || -> i64 {
        db.one(
            "SELECT COUNT(*) FROM events WHERE category = 'MaintenanceSafeToStop'",
            &[],
        )
    };

    let failing = deploy(&client, &admin, &bad_1, &env);
    assert_eq!(
        wait_completed(&client, &admin, &failing, 30)["State"],
        "Failed"
    );
    let running = deploy(&client, &admin, &slow_1, &env);
    wait_state(&client, &admin, &running, "Executing", 30);
    let mode = |on: bool| {
        let (status, body) = call(
            &client,
            &admin,
            Method::Put,
            "/api/maintenanceconfiguration",
            Some(json!({"Id": "maintenance", "IsInMaintenanceMode": on})),
        );
        assert_eq!(status, Status::Ok, "{body}");
    };
    mode(true);
    watch_for(300, || {
        assert_eq!(safe_events(), 0, "safe to stop while a deployment runs")
    });
    std::fs::write(&gate, "").unwrap();
    assert_eq!(
        wait_completed(&client, &admin, &running, 30)["State"],
        "Success"
    );
    poll_until(10, "safe to stop recorded", || safe_events() == 1);
    let got = r.wait_for(20, "safe to stop", |g| {
        categories(g).iter().any(|c| c == "MaintenanceSafeToStop")
    });
    let safe = got
        .iter()
        .find(|x| x.json()["Payload"]["Event"]["Category"] == "MaintenanceSafeToStop")
        .unwrap();
    assert!(safe.json()["Payload"]["Event"]["Message"]
        .as_str()
        .unwrap()
        .contains("Safe to stop"));
    // Off: a deployment runs to its end, and nothing says safe to stop.
    mode(false);
    let again = deploy(&client, &admin, &slow_1, &env);
    assert_eq!(
        wait_completed(&client, &admin, &again, 30)["State"],
        "Success"
    );
    watch_for(300, || {
        assert_eq!(safe_events(), 1, "safe to stop while the mode is off")
    });
    // On again, quiet already: told at once, once.
    mode(true);
    assert_eq!(safe_events(), 2);
    r.wait_for(20, "everything", |g| {
        let c = categories(g);
        c.iter().filter(|c| *c == "MaintenanceSafeToStop").count() == 2
            && c.iter().filter(|c| *c == "DeploymentSucceeded").count() == 2
    });
    assert_eq!(told("DeploymentFailed"), 1);
    assert_eq!(told("DeploymentStarted"), 3);
    assert_eq!(told("DeploymentQueued"), 3);
    assert_eq!(told("MaintenanceModeEnabled"), 2);
    let failed = r
        .got()
        .into_iter()
        .find(|x| x.json()["Payload"]["Event"]["Category"] == "DeploymentFailed")
        .unwrap();
    let message = failed.json()["Payload"]["Event"]["Message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("Deploy Bad release 1 to Production failed")
            && message.contains("status 3"),
        "{message}"
    );
}

/// A node killed with `kill -9` while it sends leaves its lease to run out; another
/// node then sends the same delivery (the receiver sees its id twice: at least once).
#[test]
fn a_delivery_whose_node_dies_mid_send_is_sent_by_another() {
    use common::server::{api_key, Server};
    let dir = data_dir();
    dir.configure("webhook_allow_private = true\nwebhook_retry_base_ms = 50\n");
    let key = api_key(dir.path(), "admin");
    let mut one = Server::node(dir.path(), "one");
    let r = Receiver::start();
    r.answer(Answer::Hang);
    let (status, sub) = one.api(
        &key,
        "POST",
        "/api/subscriptions",
        Some(json!({
        "Name": "Hanging", "EventNotificationSubscription": {
            "WebhookURI": r.url("/h"), "WebhookTimeout": "00:00:10",
            "Filter": {"EventCategories": ["EnvironmentCreated"]}}})),
    );
    assert_eq!(status, 201, "{sub}");
    one.create(&key, "/api/environments", json!({"Name": "Production"}));
    r.wait_for(20, "the first try", |g| g.len() == 1);
    one.child.kill().unwrap();
    one.wait_exit(10);
    r.answer(Answer::Status(200));
    let two = Server::node(dir.path(), "two");
    let got = r.wait_for(40, "the second try, from the other node", |g| g.len() >= 2);
    assert_eq!(
        got[0].header("X-Drydock-Delivery"),
        got[1].header("X-Drydock-Delivery")
    );
    let id = sub["Id"].as_str().unwrap();
    poll_until(10, "recorded as delivered by two", || {
        let (_, page) = two.api(
            &key,
            "GET",
            &format!("/api/subscriptions/{id}/deliveries"),
            None,
        );
        let d = &page["Items"][0];
        d["State"] == "Delivered" && d["SentBy"] == "two" && d["Attempts"] == 2
    });
}

/// A node that does not allow private addresses refuses to connect to one when it
/// sends, whoever saved the subscription: the addresses are checked as each connection
/// is made.
#[test]
fn a_node_without_webhook_allow_private_does_not_send_to_loopback() {
    let app = app();
    let key = app.user_with_key("manager", &["System Manager"]);
    let r = Receiver::start();
    let sub = {
        let allowed = app.client();
        subscribe(
            &allowed,
            &key,
            "Loopback",
            &r.url("/in"),
            json!({"Filter": {"EventCategories": ["EnvironmentCreated"]}}),
        )
    };
    let strict = app.client_with(|c| c.webhook_allow_private = false);
    created(
        &strict,
        &key,
        "/api/environments",
        json!({"Name": "Production"}),
    );
    poll_until(20, "the refusal recorded", || {
        deliveries(&strict, &key, &sub).iter().any(|d| {
            d["LastError"]
                .as_str()
                .is_some_and(|e| e.contains("webhook_allow_private"))
        })
    });
    assert!(r.got().is_empty(), "sent to loopback: {:?}", r.got());
}
