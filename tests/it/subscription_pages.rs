//! Configuration ➜ Subscriptions: create with the form (refusals under their fields,
//! nothing saved), send a test event and see it delivered, a failing receiver's
//! deliveries shown failed with the error, disable and enable, the secret never shown
//! back, who may see and change them, and maintenance mode.

use crate::approvals::call;
use crate::common;

use common::receiver::{Answer, Receiver};
use common::*;
use rocket::http::{Method, Status};
use serde_json::json;

fn page(session: &Session, path: &str) -> (Status, String) {
    let r = session.client.get(path.to_string()).dispatch();
    (r.status(), r.into_string().unwrap_or_default())
}

fn location(r: &rocket::local::blocking::LocalResponse<'_>) -> String {
    r.headers()
        .get_one("Location")
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_lead_creates_tests_and_disables_a_subscription_and_reads_its_delivery_log() {
    let app = TestApp::with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 20;
        c.webhook_retry_for_secs = 1;
    });
    let key = app.user_with_key("lee", &["Project Lead"]);
    app.user_with_key("val", &["Viewer"]);
    let client = app.client();
    project_env_release(&client, &key, "true");
    let lee = app.session("lee", PASSWORD);
    let receiver = Receiver::start();

    // A bad URL and a bad header: both named under their fields, nothing saved.
    let before = app.count("subscriptions");
    let refused = lee.post_form(
        "/configuration/subscriptions",
        &[
            ("name", "Ops <hook>"),
            ("uri", "ftp://example.com/x"),
            ("format", "Slack"),
            ("timeout", "5"),
            ("header_key", "X-Drydock-Event"),
            ("groups", "Maintenance"),
        ],
    );
    assert_eq!(refused.status(), Status::BadRequest);
    let html = refused.into_string().unwrap();
    assert!(html.contains("id=\"uri-error\""), "{html}");
    assert!(html.contains("Webhook URL"), "{html}");
    assert!(html.contains("id=\"header_key-error\""), "{html}");
    assert!(html.contains("value=\"Ops &#60;hook&#62;\""), "{html}");
    assert!(html.contains("id=\"group-Maintenance\" checked"), "{html}");
    assert_eq!(app.count("subscriptions"), before);

    // Right: created with a secret, which is never shown back.
    let created = lee.post_form(
        "/configuration/subscriptions",
        &[
            ("name", "Ops hook"),
            ("uri", &receiver.url("/ops")),
            ("format", "Octopus"),
            ("timeout", "5"),
            ("secret", "pages-S3CRET"),
            ("groups", "Maintenance"),
            ("projects", "Projects-1"),
        ],
    );
    assert_eq!(created.status(), Status::SeeOther);
    let at = location(&created);
    let (status, html) = page(&lee, &at);
    assert_eq!(status, Status::Ok);
    assert!(!html.contains("pages-S3CRET"), "the secret shown back");
    assert!(
        html.contains("A secret is set and is never shown"),
        "{html}"
    );
    assert!(html.contains("id=\"project-1\" checked"), "{html}");
    assert!(html.contains("Nothing has been sent yet"), "{html}");
    let (_, list) = page(&lee, "/configuration/subscriptions");
    assert!(
        list.contains("Ops hook") && list.contains("Maintenance of"),
        "{list}"
    );

    // Send a test event: it arrives signed and the log says Delivered with its answer.
    let sent = lee.post_form(&format!("{at}/test"), &[]);
    assert_eq!(sent.status(), Status::SeeOther);
    let got = receiver.wait_for(20, "the test event", |g| !g.is_empty());
    let signature = format!(
        "sha256={}",
        drydock::notify::hmac::sha256_hex(b"pages-S3CRET", &got[0].body)
    );
    assert_eq!(
        got[0].header("X-Drydock-Signature-256"),
        Some(signature.as_str())
    );
    poll_until(20, "the log to say delivered", || {
        let (_, html) = page(&lee, &at);
        html.contains("SubscriptionTested")
            && html.contains(">Delivered<")
            && html.contains("HTTP 200")
    });

    // A receiver that fails: retried for a second, then shown Failed with the error.
    receiver.answer(Answer::Status(500));
    lee.post_form(&format!("{at}/test"), &[]);
    poll_until(30, "the failed delivery on the page", || {
        let (_, html) = page(&lee, &at);
        html.contains(">Failed<") && html.contains("HTTP 500")
    });
    let (_, list) = page(&lee, "/configuration/subscriptions");
    assert!(list.contains("1 of the last 50 failed"), "{list}");

    // Disabled, then enabled again; both audited.
    let off = lee.post_form(&format!("{at}/enable"), &[("disabled", "true")]);
    assert_eq!(off.status(), Status::SeeOther);
    let (_, html) = page(&lee, &at);
    assert!(
        html.contains(">Disabled<") && html.contains(">Enable<"),
        "{html}"
    );
    lee.post_form(&format!("{at}/enable"), &[("disabled", "false")]);
    let (_, html) = page(&lee, &at);
    assert!(html.contains(">Disable<"), "{html}");
    let events: i64 = app.db().one(
        "SELECT COUNT(*) FROM events WHERE category IN ('SubscriptionDisabled', 'SubscriptionEnabled')",
        &[],
    );
    assert_eq!(events, 2);

    // Saved from the edit form with the secret left blank: the secret is kept.
    let saved = lee.post_form(
        &at,
        &[
            ("name", "Ops hook"),
            ("uri", &receiver.url("/ops2")),
            ("format", "Slack"),
            ("timeout", "5"),
            ("groups", "Maintenance"),
            ("disabled", "false"),
        ],
    );
    assert_eq!(saved.status(), Status::SeeOther);
    let (_, sub) = call(
        &client,
        &key,
        Method::Get,
        &format!(
            "/api/subscriptions/{}",
            at.rsplit('/')
                .next()
                .map(|n| format!("Subscriptions-{n}"))
                .unwrap()
        ),
        None,
    );
    let s = &sub["EventNotificationSubscription"];
    assert_eq!(
        (
            s["HasWebhookSecret"].clone(),
            s["PayloadFormat"].clone(),
            s["WebhookURI"].clone()
        ),
        (json!(true), json!("Slack"), json!(receiver.url("/ops2"))),
        "{sub}"
    );

    // A viewer sees neither the page nor the menu entry; a viewer cannot post.
    let val = app.session("val", PASSWORD);
    let (status, _) = page(&val, "/configuration/subscriptions");
    assert_eq!(status, Status::Forbidden);
    let (_, home) = page(&val, "/");
    assert!(
        !home.contains("/configuration/subscriptions"),
        "menu shown to a viewer"
    );
    let refused = val.post_form(&format!("{at}/test"), &[]);
    assert_eq!(refused.status(), Status::Forbidden);

    // Deleted: gone with its log.
    let gone = lee.post_form(&format!("{at}/delete"), &[]);
    assert_eq!(gone.status(), Status::SeeOther);
    assert_eq!(app.count("subscriptions"), before);
    assert_eq!(app.count("deliveries"), 0);
}

#[test]
fn in_maintenance_mode_a_lead_cannot_change_a_subscription_and_an_administrator_can() {
    let app = TestApp::with(|c| c.webhook_allow_private = true);
    app.user_with_key("lee", &["Project Lead"]);
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let receiver = Receiver::start();
    let lee = app.session("lee", PASSWORD);
    let (status, m) = call(
        &client,
        &admin_key,
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok, "{m}");
    let uri = receiver.url("/stop");
    let fields = [
        ("name", "Safe to stop"),
        ("uri", uri.as_str()),
        ("categories", "MaintenanceSafeToStop"),
    ];
    let refused = lee.post_form("/configuration/subscriptions", &fields);
    assert_eq!(refused.status(), Status::ServiceUnavailable);
    assert_eq!(app.count("subscriptions"), 0);
    let (_, html) = page(&lee, "/configuration/subscriptions/new");
    assert!(html.contains("disabled"), "the form is not shown frozen");
    let ops = app.admin();
    let done = ops.post_form("/configuration/subscriptions", &fields);
    assert_eq!(done.status(), Status::SeeOther);
    assert_eq!(app.count("subscriptions"), 1);
}
