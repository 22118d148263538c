//! System tasks: scheduling, once across processes, run now, retention, backup, cancel.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

fn call(
    client: &Client,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (Status, Value) {
    json_of(with_key(client, method, path, key, body))
}

/// Queues system task `name` now through the API; returns its id.
fn run_now(client: &Client, key: &str, name: &str) -> String {
    let (status, task) = call(
        client,
        key,
        Method::Post,
        "/api/tasks",
        Some(json!({"Name": name})),
    );
    assert_eq!(status, Status::Created, "{task}");
    task["Id"].as_str().expect("Id").to_string()
}

/// Inserts `n` completed `Deploy` tasks that completed `age_days` ago, each with two
/// log lines, straight into the database.
fn insert_completed(app: &TestApp, n: usize, age_days: i64) {
    let db = app.db();
    db.conn().batch("BEGIN").unwrap();
    let at = drydock::clock::now_ms() - age_days * 24 * 3600 * 1000;
    // Many rows per statement: a round trip per row would take minutes on PostgreSQL.
    let mut left = n;
    while left > 0 {
        let chunk = left.min(500);
        left -= chunk;
        let rows =
            vec!["('Deploy', 'old', 'Success', ?1, ?1, ?1, ?1, 'gone', 2)"; chunk].join(", ");
        let ids: Vec<i64> = db
            .rows(
                &format!(
                    "INSERT INTO tasks (name, description, state, queue_time, start_time,
                         completed_time, last_updated_time, server_node, log_lines)
                     VALUES {rows} RETURNING id"
                ),
                &[&at],
            )
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        let lines: Vec<String> = ids
            .iter()
            .flat_map(|id| [1, 2].map(|seq| format!("({id}, {seq}, ?1, 'stdout', 'old line')")))
            .collect();
        db.exec(
            &format!(
                "INSERT INTO task_log (task_id, seq, at, stream, line) VALUES {}",
                lines.join(", ")
            ),
            &[&at],
        );
    }
    db.conn().batch("COMMIT").unwrap();
}

fn consistent(app: &TestApp) {
    let db = app.db();
    if !db.is_postgres() {
        let check: String = db.one("PRAGMA integrity_check", &[]);
        assert_eq!(check, "ok");
        let fk: i64 = db.one("SELECT COUNT(*) FROM pragma_foreign_key_check", &[]);
        assert_eq!(fk, 0);
    }
    let orphans: i64 = db.one(
        "SELECT COUNT(*) FROM task_log l WHERE NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = l.task_id)",
        &[],
    );
    assert_eq!(orphans, 0, "log lines without their task");
    let counted: i64 = db.one("SELECT CAST(SUM(n) AS BIGINT) FROM task_counts", &[]);
    let actual: i64 = db.one("SELECT COUNT(*) FROM tasks", &[]);
    assert_eq!(counted, actual, "task_counts agrees with the tasks");
}

#[test]
fn system_tasks_are_queued_at_their_interval_and_run_as_system_tasks() {
    let app = TestApp::with(|c| {
        c.queue_poll_ms = 100;
        c.session_cleanup_interval_secs = Some(1);
    });
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    // Runs keep coming at the interval: wait (against a deadline) for three, then check
    // their spacing from the times they were queued.
    let runs = wait_for_runs(&client, &key, "SessionCleanup", "Success", 3);
    let mut times: Vec<i64> = runs
        .iter()
        .map(|t| drydock::clock::parse_iso(t["QueueTime"].as_str().unwrap()).unwrap())
        .collect();
    times.sort();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= 900,
            "two runs {} ms apart",
            pair[1] - pair[0]
        );
    }
    assert!(runs
        .iter()
        .all(|t| t["IsSystemTask"] == true && t["ConcurrencyTag"] == "System/SessionCleanup"));
    let id = runs[0]["Id"].as_str().unwrap();
    let raw = with_key(
        &client,
        Method::Get,
        &format!("/api/tasks/{id}/raw"),
        &key,
        None,
    )
    .into_string()
    .unwrap();
    assert!(raw.contains("expired session"), "{raw}");
}

#[test]
fn two_processes_on_one_database_queue_each_run_once() {
    let app = TestApp::with(|c| {
        c.queue_poll_ms = 50;
        c.node_health_interval_secs = Some(1);
    });
    let key = app.user_with_key("ops", &["System Administrator"]);
    let (a, b) = (app.client(), app.client());
    // Both processes' timers run; wait (against a deadline) for four runs in all.
    let mut times: Vec<i64> = wait_for_runs(&a, &key, "NodeHealth", "", 4)
        .iter()
        .map(|t| drydock::clock::parse_iso(t["QueueTime"].as_str().unwrap()).unwrap())
        .collect();
    drop(b);
    times.sort();
    // Each interval's run was queued once, by one of the two: never two close together.
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= 900,
            "two runs {} ms apart",
            pair[1] - pair[0]
        );
    }
}

#[test]
fn run_now_through_the_api_and_unknown_names() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (status, task) = call(
        &client,
        &key,
        Method::Post,
        "/api/tasks",
        Some(json!({"Name": "Backup"})),
    );
    assert_eq!(status, Status::Created, "{task}");
    assert_eq!(task["IsSystemTask"], true);
    let task = wait_completed(&client, &key, task["Id"].as_str().unwrap(), 30);
    assert_eq!(task["State"], "Success", "{task}");
    let backups: Vec<_> = std::fs::read_dir(app.data_dir().join("backups"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(backups.len(), 1);
    let copy = db::restore(&app.config, &backups[0].path());
    let users: i64 = copy.db.one("SELECT COUNT(*) FROM users", &[]);
    assert_eq!(users, app.count("users"));

    let (status, body) = call(
        &client,
        &key,
        Method::Post,
        "/api/tasks",
        Some(json!({"Name": "Defragment"})),
    );
    assert_eq!(status, Status::BadRequest);
    let message = body["ErrorMessage"].as_str().unwrap();
    assert!(
        message.contains("Backup, NodeHealth, Retention, SessionCleanup"),
        "{message}"
    );
    // A deployer may not.
    let deployer = app.user_with_key("dana", &["Project Deployer"]);
    let (status, _) = call(
        &client,
        &deployer,
        Method::Post,
        "/api/tasks",
        Some(json!({"Name": "Backup"})),
    );
    assert_eq!(status, Status::Forbidden);
}

#[test]
fn backup_keeps_the_newest_n() {
    let app = TestApp::with(|c| c.backup_keep = 2);
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    for _ in 0..3 {
        let task = run_now(&client, &key, "Backup");
        assert_eq!(wait_completed(&client, &key, &task, 30)["State"], "Success");
    }
    let mut names: Vec<String> = std::fs::read_dir(app.data_dir().join("backups"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    let suffix = drydock::store::backup::Source::of(&app.config).suffix();
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("drydock-") && n.ends_with(suffix)),
        "{names:?}"
    );
}

#[test]
fn retention_keeps_incomplete_tasks_and_the_newest_per_kind() {
    let app = TestApp::with(|c| {
        c.retention_keep_per_kind = 100;
        c.retention_keep_days = 30;
    });
    let key = app.user_with_key("ops", &["System Administrator"]);
    insert_completed(&app, 1_000, 60); // old
    insert_completed(&app, 50, 1); // young: kept whatever their rank
                                   // Old but incomplete: always kept.
    app.db().exec(
        "INSERT INTO tasks (name, description, state, queue_time, last_updated_time)
         VALUES ('Deploy', 'waiting', 'Queued', ?1, ?1)",
        &[&(drydock::clock::now_ms() + 86_400_000)],
    );
    let client = app.client();
    let task = run_now(&client, &key, "Retention");
    let task = wait_completed(&client, &key, &task, 60);
    assert_eq!(task["State"], "Success", "{task}");
    let db = app.db();
    let count = |sql: &str| -> i64 { db.one(sql, &[]) };
    assert_eq!(
        count("SELECT COUNT(*) FROM tasks WHERE state = 'Queued'"),
        1
    );
    // The 50 young ones, and 50 more old ones to make the newest 100 (plus the
    // Retention task itself, of another kind).
    assert_eq!(
        count("SELECT COUNT(*) FROM tasks WHERE name = 'Deploy' AND state = 'Success'"),
        100
    );
    // The run is audited: it deleted product history.
    let (_, events) = call(&client, &key, Method::Get, "/api/events?take=10", None);
    let event = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["Category"] == "RetentionDeletedTasks")
        .unwrap_or_else(|| panic!("no RetentionDeletedTasks event: {events}"));
    assert!(
        event["Message"]
            .as_str()
            .unwrap()
            .contains("Deleted 950 task(s)"),
        "{event}"
    );
    consistent(&app);
}

#[test]
fn cancelling_retention_midway_leaves_the_database_consistent() {
    let app = TestApp::with(|c| {
        c.retention_keep_per_kind = 1;
        c.retention_keep_days = 0;
    });
    let key = app.user_with_key("ops", &["System Administrator"]);
    insert_completed(&app, 60_000, 60);
    let before = app.count("tasks");
    let client = app.client();
    let task = run_now(&client, &key, "Retention");
    let id = task;
    // Let it delete a few batches, then cancel.
    poll_until(30, "retention made no progress", || {
        app.count("tasks") <= before - 2_000
    });
    let (status, _) = call(
        &client,
        &key,
        Method::Post,
        &format!("/api/tasks/{id}/cancel"),
        None,
    );
    assert_eq!(status, Status::Ok);
    let task = wait_completed(&client, &key, &id, 30);
    assert_eq!(task["State"], "Canceled", "{task}");
    let after = app.count("tasks");
    assert!(
        after < before && after > 2,
        "it stopped midway: {before} -> {after}"
    );
    // Whole batches: every task left has both its log lines; none went without them.
    let broken: i64 = app.db().one(
        "SELECT COUNT(*) FROM tasks t WHERE description = 'old'
         AND (SELECT COUNT(*) FROM task_log WHERE task_id = t.id) <> 2",
        &[],
    );
    assert_eq!(broken, 0);
    consistent(&app);
}

#[test]
fn a_cancelled_backup_leaves_no_partial_file() {
    let app = TestApp::new();
    insert_completed(&app, 150_000, 1);
    let before = (app.count("tasks"), app.count("task_log"));
    let out = app.data_dir().join("backups").join("stopped.db");
    let started = Instant::now();
    let source = drydock::store::backup::Source::of(&app.config);
    let finished = drydock::store::backup::backup(&source, &out, &|| {
        started.elapsed() > Duration::from_millis(20)
    })
    .unwrap();
    assert!(
        !finished,
        "the backup was not stopped (it took {:?})",
        started.elapsed()
    );
    assert!(!out.exists());
    assert_eq!((app.count("tasks"), app.count("task_log")), before);
    consistent(&app);
}

#[test]
fn a_backup_taken_while_deployments_are_queued_holds_every_task_committed_before_it() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    insert_completed(&app, 20_000, 1);
    let client = app.client();
    let project = call(
        &client,
        &key,
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "P", "DeploymentScript": "true"})),
    )
    .1["Id"]
        .clone();
    let env = call(
        &client,
        &key,
        Method::Post,
        "/api/environments",
        Some(json!({"Name": "E"})),
    )
    .1["Id"]
        .clone();
    let release = call(
        &client,
        &key,
        Method::Post,
        "/api/releases",
        Some(json!({"ProjectId": project, "Version": "1"})),
    )
    .1["Id"]
        .clone();
    let stop = std::sync::atomic::AtomicBool::new(false);
    let out = app.data_dir().join("copy.db");
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let client = app.client();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body = json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": "2099-01-01T00:00:00+00:00"});
                let (status, _) = call(&client, &key, Method::Post, "/api/deployments", Some(body));
                assert_eq!(status, Status::Created);
                n += 1;
            }
            n
        });
        // The writer is under way: wait (against a deadline) for its first deployments.
        let max_task = || -> i64 { app.db().one("SELECT COALESCE(MAX(id), 0) FROM tasks", &[]) };
        poll_until(20, "the writer never got going", || max_task() >= 5);
        let committed = max_task();
        let (code, _, err) = server::run_cli(
            app.data_dir(),
            &["backup", "--out", out.to_str().unwrap()],
            "",
        );
        assert_eq!(code, 0, "{err}");
        // ... and still writing after the backup.
        let after_backup = max_task();
        poll_until(20, "the writer stopped", || max_task() >= after_backup + 5);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let queued = writer.join().unwrap();
        assert!(queued > 5, "deployments kept coming: {queued}");
        let copy = db::restore(&app.config, &out);
        let present: i64 = copy
            .db
            .one("SELECT COUNT(*) FROM tasks WHERE id <= ?1", &[&committed]);
        let original: i64 = app
            .db()
            .one("SELECT COUNT(*) FROM tasks WHERE id <= ?1", &[&committed]);
        assert_eq!(
            present, original,
            "every task committed before the backup began is in it"
        );
    });
}

/// A node silent for longer than `node_offline_secs` has its tasks failed, by the
/// heartbeats of a node in touch with the database for that long (every node checks);
/// `NodeHealth` records this node's heartbeat and says what it did.
#[test]
fn node_health_records_a_heartbeat_and_fails_the_tasks_of_silent_nodes() {
    let app = TestApp::with(|c| {
        c.node_offline_secs = 3;
        c.heartbeat_secs = 1;
    });
    let key = app.user_with_key("ops", &["System Administrator"]);
    let long_ago = drydock::clock::now_ms() - 120_000;
    let db = app.db();
    db.exec(
        "INSERT INTO nodes (name, version, task_cap, started_at, last_seen) VALUES ('lost', '0', 5, ?1, ?1)",
        &[&long_ago],
    );
    let orphan: i64 = db.one(
        "INSERT INTO tasks (name, description, state, queue_time, start_time, last_updated_time, server_node)
         VALUES ('Deploy', 'orphan', 'Executing', ?1, ?1, ?1, 'lost') RETURNING id",
        &[&long_ago],
    );
    let client = app.client();
    let orphan_state = || {
        let (_, orphan) = call(
            &client,
            &key,
            Method::Get,
            &format!("/api/tasks/ServerTasks-{orphan}"),
            None,
        );
        orphan
    };
    // Three seconds in touch, and a heartbeat or two: failed.
    poll_until(15, "the silent node's task was never failed", || {
        orphan_state()["State"] == "Failed"
    });
    assert_eq!(
        orphan_state()["ErrorMessage"],
        "interrupted: server node offline"
    );
    let task = run_now(&client, &key, "NodeHealth");
    let task = wait_completed(&client, &key, &task, 30);
    assert_eq!(task["State"], "Success", "{task}");
    let seen: i64 = db.one(
        "SELECT last_seen FROM nodes WHERE name = ?1",
        &[&task["ServerNode"].as_str().unwrap()],
    );
    assert!(seen > long_ago);
}

#[test]
fn the_system_tasks_page_shows_the_schedule_and_administrators_change_intervals() {
    let app = TestApp::new();
    let admin = app.admin();
    let html = admin
        .client
        .get("/configuration/system-tasks")
        .dispatch()
        .into_string()
        .unwrap();
    for name in ["Retention", "Backup", "SessionCleanup", "NodeHealth"] {
        assert!(
            html.contains(&format!("id=\"system-{name}\"")),
            "{name} missing"
        );
    }
    assert!(
        html.contains("value=\"14400\""),
        "Retention's default interval"
    );
    let response = admin.post_form(
        "/configuration/system-tasks/Backup/interval",
        &[("interval_secs", "0")],
    );
    assert_eq!(response.status(), Status::SeeOther);
    drop(response);
    let html = admin
        .client
        .get("/configuration/system-tasks")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(html.contains("Saved the interval of Backup."));
    let interval: i64 = app.db().one(
        "SELECT interval_secs FROM system_tasks WHERE name = 'Backup'",
        &[],
    );
    assert_eq!(interval, 0);
    // Bad input is refused and changes nothing; a System Manager may run tasks but not
    // change their schedule.
    let refused = admin.post_form(
        "/configuration/system-tasks/Backup/interval",
        &[("interval_secs", "soon")],
    );
    assert_eq!(refused.status(), Status::BadRequest);
    let html = refused.into_string().unwrap();
    assert!(
        html.contains("Interval (seconds): &#39;soon&#39; is not a number of seconds"),
        "{html}"
    );
    app.user_with_key("manager", &["System Manager"]);
    let manager = app.session("manager", PASSWORD);
    let response = manager.post_form(
        "/configuration/system-tasks/Retention/interval",
        &[("interval_secs", "1")],
    );
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    let response = manager.post_form("/configuration/system-tasks/SessionCleanup/run", &[]);
    assert_eq!(response.status(), Status::SeeOther);
}

/// Polls (for at most 20 s) until at least `n` tasks named `name` (in `state`, or any
/// when empty) are listed; returns them.
fn wait_for_runs(client: &Client, key: &str, name: &str, state: &str, n: usize) -> Vec<Value> {
    let path = if state.is_empty() {
        "/api/tasks?take=100".to_string()
    } else {
        format!("/api/tasks?states={state}&take=100")
    };
    poll_for(
        20,
        || format!("fewer than {n} {name} runs"),
        || {
            let (_, page) = call(client, key, Method::Get, &path, None);
            let runs: Vec<Value> = page["Items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["Name"] == name)
                .cloned()
                .collect();
            (runs.len() >= n).then_some(runs)
        },
    )
}
