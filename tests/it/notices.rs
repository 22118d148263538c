//! What drydock tells by watching the clock (`drydock::queue::notices`): a maintenance
//! window coming up and starting, a drain overdue, freeze windows starting and ending
//! for the pairs they cover, nodes offline and outdated, a deployment stuck past its
//! timeout. The watch is called at chosen times (as every node's heartbeat calls it at
//! its own), several at once, and each event reaches a real receiver once, signed.

use crate::approvals::{call, created};
use crate::common;
use crate::webhooks::subscribe;

use common::receiver::{Received, Receiver};
use common::*;
use drydock::queue::notices::{watch, Watch};
use rocket::http::{Method, Status};
use serde_json::json;

const MINUTE: i64 = 60_000;

fn rules(offline_ms: Option<i64>) -> Watch {
    Watch {
        node: "watcher".into(),
        window_notice_ms: 60 * MINUTE,
        drain_overdue_ms: 30 * MINUTE,
        stuck_margin_ms: MINUTE,
        offline_ms,
    }
}

fn category(r: &Received) -> String {
    r.json()["Payload"]["Event"]["Category"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn related(r: &Received) -> Vec<String> {
    r.json()["Payload"]["Event"]["RelatedDocumentIds"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// How many audit events of `category` there are.
fn told(app: &TestApp, category: &str) -> i64 {
    app.db().one(
        "SELECT COUNT(*) FROM events WHERE category = ?1",
        &[&category],
    )
}

#[test]
fn clock_watched_events_are_told_once_each_to_the_subscriptions_they_match() {
    let app = TestApp::with(|c| {
        c.webhook_allow_private = true;
        c.webhook_retry_base_ms = 50;
    });
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let gate = app.shared_file("gate");
    let shop = created(
        &client,
        &admin,
        "/api/projects",
        json!({"Name": "Shop", "DeploymentScript":
            format!("while [ ! -e '{}' ]; do sleep 0.02; done\n", gate.display())}),
    );
    let blog = created(
        &client,
        &admin,
        "/api/projects",
        json!({"Name": "Blog", "DeploymentScript": "true"}),
    );
    let prod = created(
        &client,
        &admin,
        "/api/environments",
        json!({"Name": "Production"}),
    )["Id"]
        .clone();
    let all = Receiver::start();
    let shop_freezes = Receiver::start();
    subscribe(
        &client,
        &admin,
        "Operations",
        &all.url("/ops"),
        json!({"Filter": {"EventGroups": ["Maintenance", "Freeze", "Node", "Task"]},
               "WebhookSecret": "watch-secret"}),
    );
    subscribe(
        &client,
        &admin,
        "Shop freezes",
        &shop_freezes.url("/shop"),
        json!({"Filter": {"Projects": [shop["Id"]], "EventGroups": ["Freeze"]}}),
    );
    let store = app.store();
    let now = drydock::clock::now_ms();

    // Two freezes an hour from now, over Shop and over Blog in Production; four nodes
    // watch the moment the windows open at once, and each start is told once.
    let hour = 60 * MINUTE;
    for (name, project) in [("Shop freeze", &shop), ("Blog freeze", &blog)] {
        let (status, f) = call(
            &client,
            &admin,
            Method::Post,
            "/api/deploymentfreezes",
            Some(json!({
                "Name": name,
                "Start": drydock::clock::iso(now + hour),
                "End": drydock::clock::iso(now + 2 * hour),
                "ProjectEnvironmentScope": {project["Id"].as_str().unwrap(): [prod]},
            })),
        );
        assert_eq!(status, Status::Created, "{f}");
    }
    let opened = now + hour + 1_000;
    let counts: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| watch(&store, &rules(None), opened).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(counts.iter().sum::<usize>(), 2, "told {counts:?}");
    assert_eq!(told(&app, "DeploymentFreezeStarted"), 2);
    assert_eq!(watch(&store, &rules(None), opened + 1_000).unwrap(), 0);
    // The end of each is told once, after it.
    watch(&store, &rules(None), now + 2 * hour + 1_000).unwrap();
    watch(&store, &rules(None), now + 2 * hour + 2_000).unwrap();
    assert_eq!(told(&app, "DeploymentFreezeEnded"), 2);

    // A window two hours off: announced an hour before it starts, once.
    let (status, w) = call(
        &client,
        &admin,
        Method::Post,
        "/api/maintenancewindows",
        Some(json!({"Start": drydock::clock::iso(now + 2 * hour),
                    "End": drydock::clock::iso(now + 3 * hour), "Message": "patching"})),
    );
    assert_eq!(status, Status::Created, "{w}");
    watch(&store, &rules(None), now + 50 * MINUTE).unwrap();
    assert_eq!(told(&app, "MaintenanceWindowAnnounced"), 0, "too early");
    watch(&store, &rules(None), now + 61 * MINUTE).unwrap();
    watch(&store, &rules(None), now + 62 * MINUTE).unwrap();
    assert_eq!(told(&app, "MaintenanceWindowAnnounced"), 1);

    // A node silent for ten minutes, told once; a live node on a binary the schema
    // moved past, told once.
    let db = app.db();
    db.exec(
        "INSERT INTO nodes (name, version, task_cap, started_at, last_seen, schema_level)
         VALUES ('ghost', '0.1.0', 5, ?1, ?1, 21), ('elder', '0.0.9', 5, ?2, ?2, 12)",
        &[&(now - 10 * MINUTE), &now],
    );
    // (At about now: the test's own nodes are not silent.)
    watch(&store, &rules(Some(MINUTE)), now + 1_000).unwrap();
    watch(&store, &rules(Some(MINUTE)), now + 2_000).unwrap();
    assert_eq!(told(&app, "NodeOffline"), 1);
    assert_eq!(told(&app, "NodeOutdated"), 1);
    db.exec("DELETE FROM nodes WHERE name IN ('ghost', 'elder')", &[]);

    // A deployment running: once maintenance has been on for the drain's allowance it
    // is overdue; past its timeout and the margin, stuck. Each told once.
    let release = created(
        &client,
        &admin,
        "/api/releases",
        json!({"ProjectId": shop["Id"], "Version": "1"}),
    );
    let task = deploy(&client, &admin, &release["Id"], &prod);
    let id: i64 = task.trim_start_matches("ServerTasks-").parse().unwrap();
    poll_until(20, "the deployment to start", || {
        db.one::<String>("SELECT state FROM tasks WHERE id = ?1", &[&id]) == "Executing"
    });
    let (status, m) = call(
        &client,
        &admin,
        Method::Put,
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(status, Status::Ok, "{m}");
    let on: i64 = db.one("SELECT modified_on FROM maintenance WHERE id = 1", &[]);
    watch(&store, &rules(None), on + 29 * MINUTE).unwrap();
    assert_eq!(told(&app, "MaintenanceDrainOverdue"), 0, "too early");
    let started: i64 = db.one("SELECT start_time FROM tasks WHERE id = ?1", &[&id]);
    let past = started.max(on) + 3_600_000 + 2 * MINUTE;
    watch(&store, &rules(None), past).unwrap();
    watch(&store, &rules(None), past + 1_000).unwrap();
    assert_eq!(told(&app, "MaintenanceDrainOverdue"), 1);
    assert_eq!(told(&app, "TaskStuck"), 1);
    std::fs::write(&gate, "").unwrap();

    // Every one reached the operations receiver once, signed; the Shop subscription got
    // Shop's freeze start and end and nothing of Blog's.
    let wanted = [
        "DeploymentFreezeStarted",
        "DeploymentFreezeEnded",
        "MaintenanceWindowAnnounced",
        "NodeOffline",
        "NodeOutdated",
        "MaintenanceModeEnabled",
        "MaintenanceDrainOverdue",
        "TaskStuck",
        "MaintenanceSafeToStop",
    ];
    let got = all.wait_for(30, "every notice", |g| {
        wanted.iter().all(|w| g.iter().any(|r| category(r) == *w))
    });
    for r in &got {
        let signature = format!(
            "sha256={}",
            drydock::notify::hmac::sha256_hex(b"watch-secret", &r.body)
        );
        assert_eq!(
            r.header("X-Drydock-Signature-256"),
            Some(signature.as_str())
        );
    }
    let mut categories: Vec<String> = got.iter().map(category).collect();
    categories.sort();
    let mut expected: Vec<String> = wanted.iter().map(|w| w.to_string()).collect();
    expected.extend([
        "DeploymentFreezeStarted".into(),
        "DeploymentFreezeEnded".into(),
    ]);
    expected.extend(["MaintenanceWindowScheduled".into()]);
    expected.sort();
    assert_eq!(categories, expected, "told more or less than once");
    let stuck = got.iter().find(|r| category(r) == "TaskStuck").unwrap();
    assert!(related(stuck).contains(&task), "{:?}", related(stuck));
    let shop_got = shop_freezes.wait_for(10, "Shop's freeze", |g| g.len() >= 2);
    let shop_id = shop["Id"].as_str().unwrap().to_string();
    let mut shop_categories: Vec<String> = shop_got.iter().map(category).collect();
    shop_categories.sort();
    assert_eq!(
        shop_categories,
        ["DeploymentFreezeEnded", "DeploymentFreezeStarted"]
    );
    assert!(shop_got.iter().all(|r| related(r).contains(&shop_id)));
    assert_eq!(
        shop_got.len(),
        2,
        "Blog's freeze reached Shop's subscription"
    );
}

/// A window whose start comes is told as started, in the transaction that turns
/// maintenance mode on.
#[test]
fn a_window_starting_is_told_with_maintenance_going_on() {
    let app = TestApp::with(|c| c.webhook_allow_private = true);
    let admin = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let receiver = Receiver::start();
    subscribe(
        &client,
        &admin,
        "Maintenance",
        &receiver.url("/m"),
        json!({"Filter": {"EventGroups": ["Maintenance"]}}),
    );
    let now = drydock::clock::now_ms();
    let (status, w) = call(
        &client,
        &admin,
        Method::Post,
        "/api/maintenancewindows",
        Some(json!({"Start": drydock::clock::iso(now + 1_500),
                    "End": drydock::clock::iso(now + 60 * MINUTE)})),
    );
    assert_eq!(status, Status::Created, "{w}");
    let got = receiver.wait_for(30, "the window's start", |g| {
        g.iter().any(|r| category(r) == "MaintenanceWindowStarted")
    });
    let started = got
        .iter()
        .find(|r| category(r) == "MaintenanceWindowStarted")
        .unwrap();
    assert!(related(started).contains(&w["Id"].as_str().unwrap().to_string()));
    receiver.wait_for(10, "maintenance going on", |g| {
        g.iter().any(|r| category(r) == "MaintenanceModeEnabled")
    });
}
