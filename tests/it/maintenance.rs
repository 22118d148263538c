//! Maintenance mode.

use crate::common;

use common::server::{api_key, create_user, run_cli, Server};
use common::*;
use rocket::http::{ContentType, Header, Method, Status};
use serde_json::{json, Value};

fn enable(app: &TestApp, key: &str, on: bool) -> Value {
    let client = app.client();
    let (status, body) = json_of(with_key(
        &client,
        Method::Put,
        "/api/maintenanceconfiguration",
        key,
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": on})),
    ));
    assert_eq!(status, Status::Ok, "{body}");
    body
}

#[test]
fn octopus_upgrade_script_request_works_unchanged_and_is_audited() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (status, before) = json_of(with_key(
        &client,
        Method::Get,
        "/api/maintenanceconfiguration",
        &key,
        None,
    ));
    assert_eq!(status, Status::Ok);
    assert_eq!(before["IsInMaintenanceMode"], false);
    let body = enable(&app, &key, true);
    assert_eq!(body["Id"], "maintenance");
    assert_eq!(body["IsInMaintenanceMode"], true);
    assert_eq!(body["LastModifiedBy"], "ops");
    assert!(body["LastModifiedOn"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(body["Links"]["Self"], "/api/maintenanceconfiguration");
    let (_, server) = json_of(with_key(
        &client,
        Method::Get,
        "/api/serverstatus",
        &key,
        None,
    ));
    assert_eq!(server["IsInMaintenanceMode"], true);
    // Any signed-in user can read it; only administrators change it.
    let viewer = app.user_with_key("viewer", &["Viewer"]);
    let (status, read) = json_of(with_key(
        &client,
        Method::Get,
        "/api/maintenanceconfiguration",
        &viewer,
        None,
    ));
    assert_eq!(
        (status, read["IsInMaintenanceMode"].clone()),
        (Status::Ok, json!(true))
    );
    let manager = app.user_with_key("manager", &["System Manager"]);
    let response = with_key(
        &client,
        Method::Put,
        "/api/maintenanceconfiguration",
        &manager,
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": false})),
    );
    assert_eq!(response.status(), Status::Forbidden);
    drop(response);
    enable(&app, &key, false);
    let (_, events) = json_of(with_key(
        &client,
        Method::Get,
        "/api/events?take=100",
        &key,
        None,
    ));
    let items = events["Items"].as_array().unwrap();
    let enabled = items
        .iter()
        .find(|e| e["Category"] == "MaintenanceModeEnabled")
        .unwrap();
    assert_eq!(enabled["Username"], "ops");
    assert_eq!(enabled["IdentityEstablishedWith"], "API key");
    assert!(items
        .iter()
        .any(|e| e["Category"] == "MaintenanceModeDisabled"));
}

/// Every mounted route that is not GET/HEAD: with maintenance on, a System Manager (every
/// permission but AdministerSystem) is refused with 503 and nothing changes; a System
/// Administrator is not refused by maintenance.
#[test]
fn every_mutating_route_refuses_non_administrators_in_maintenance() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    app.user_with_key("manager", &["System Manager"]);
    let manager = app.session("manager", PASSWORD);
    let admin = app.admin();
    enable(&app, &admin_key, true);
    // Every API route both as /api/... and as /api/Spaces-1/....
    let routes: Vec<(Method, String)> = mutating_routes(&admin.client);
    // Signing in and out keeps working in maintenance mode (tested below).
    let exempt = [(Method::Post, "/login"), (Method::Post, "/logout")];
    let before = app.row_counts(&["sessions"]);
    let (mut checked, mut refused) = (0, 0);
    for (method, pattern) in &routes {
        if exempt.iter().any(|(m, p)| m == method && p == pattern) {
            continue;
        }
        let path = concrete(pattern, 2);
        let form = format!("csrf_token={}&name=x&username=x", manager.csrf);
        let answer = manager
            .client
            .req(*method, path.clone())
            .header(ContentType::Form)
            .header(Header::new("X-CSRF-Token", manager.csrf.clone()))
            .body(form)
            .dispatch();
        let status = answer.status();
        let retry = answer.headers().get_one("Retry-After").map(str::to_string);
        let body = answer.into_string().unwrap_or_default();
        if status == Status::Forbidden {
            // Routes only an administrator may use refuse the manager before maintenance.
            assert!(body.contains("AdministerSystem"), "{method} {path}: {body}");
        } else {
            assert_eq!(
                status,
                Status::ServiceUnavailable,
                "{method} {path}: {body}"
            );
            assert!(body.contains("maintenance mode"), "{method} {path}: {body}");
            assert!(retry.is_none(), "no scheduled end is known");
            refused += 1;
        }
        checked += 1;
        assert_eq!(
            app.row_counts(&["sessions"]),
            before,
            "{method} {path} changed the database"
        );
    }
    assert_eq!(checked, routes.len() - exempt.len());
    assert!(
        checked >= 55 && refused >= 40,
        "{checked} routes, {refused} refused for maintenance"
    );
    // An administrator is not refused by maintenance (whatever else the route says).
    for (method, pattern) in &routes {
        if exempt.iter().any(|(m, p)| m == method && p == pattern) {
            continue;
        }
        let path = pattern.replace("<id>", "999").replace("<name>", "Nothing");
        let status = admin
            .client
            .req(*method, path.clone())
            .header(ContentType::JSON)
            .header(Header::new("X-CSRF-Token", admin.csrf.clone()))
            .body("{}")
            .dispatch()
            .status();
        assert_ne!(
            status,
            Status::ServiceUnavailable,
            "admin refused: {method} {path}"
        );
    }
}

#[test]
fn api_refusals_are_octopus_shaped_and_forms_keep_what_was_typed() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let manager_key = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let response = with_key(
        &client,
        Method::Put,
        "/api/maintenanceconfiguration",
        &admin_key,
        Some(
            json!({"Id": "maintenance", "IsInMaintenanceMode": true, "Message": "Upgrading to 2.0"}),
        ),
    );
    assert_eq!(response.status(), Status::Ok);
    drop(response);
    let (status, body) = json_of(with_key(
        &client,
        Method::Post,
        "/api/environments",
        &manager_key,
        Some(json!({"Name": "Staging"})),
    ));
    assert_eq!(status, Status::ServiceUnavailable);
    assert_eq!(
        body,
        json!({
            "ErrorMessage": "The server is in maintenance mode. Changes are disabled for non-administrators.",
            "Errors": [],
            "MaintenanceMessage": "Upgrading to 2.0"
        })
    );
    let manager = app.session("manager", PASSWORD);
    let response = manager.post_form(
        "/projects",
        &[
            ("name", "Typed name"),
            ("description", "kept"),
            ("deployment_script", "echo one\necho two"),
        ],
    );
    assert_eq!(response.status(), Status::ServiceUnavailable);
    let html = response.into_string().unwrap();
    assert!(html.contains("Upgrading to 2.0"));
    assert!(
        html.contains("Project Typed name was not created."),
        "what was not done, in words: {html}"
    );
    assert!(html.contains("value=\"Typed name\""), "{html}");
    assert!(html.contains("echo one\necho two"), "{html}");
    // The form's own labels, and its submit disabled while the mode is on.
    assert!(html.contains("Deployment script (bash)") && html.contains("Script timeout (seconds)"));
    assert!(html.contains("id=\"kept-submit\" disabled"), "{html}");
    assert_eq!(app.count("projects"), 0);
    let refused = manager
        .client
        .rocket()
        .state::<drydock::App>()
        .unwrap()
        .metrics
        .refusals();
    assert_eq!(refused, 1, "refusals are counted");
    // Reads, sign-in and sign-out still work.
    assert_eq!(
        manager.client.get("/projects").dispatch().status(),
        Status::Ok
    );
    let fresh = app.client();
    assert_eq!(
        login(&fresh, "manager", PASSWORD).status(),
        Status::SeeOther
    );
    assert_eq!(manager.post_form("/logout", &[]).status(), Status::SeeOther);
}

#[test]
fn the_queue_keeps_running_in_maintenance() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let call =
        |m: Method, p: &str, b: Option<Value>| json_of(with_key(&client, m, p, &admin_key, b));
    let (_, env, release) = project_env_release(&client, &admin_key, "sleep 0.5; echo ran");
    let running = Value::from(deploy(&client, &admin_key, &release, &env));
    let later = drydock::clock::iso(drydock::clock::now_ms() + 1200);
    let scheduled = call(
        Method::Post,
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": later})),
    )
    .1["TaskId"]
        .clone();
    enable(&app, &admin_key, true);
    let (_, busy) = call(Method::Get, "/api/maintenanceconfiguration/status", None);
    assert_eq!(busy["IsQuiet"], false, "{busy}");
    assert_eq!(
        busy["ExecutingTaskCount"].as_i64().unwrap() + busy["QueuedTaskCount"].as_i64().unwrap(),
        1
    );
    for task in [running, scheduled] {
        let t = wait_completed(&client, &admin_key, task.as_str().unwrap(), 30);
        assert_eq!(t["State"], "Success", "{t}");
    }
    // Quiet now: nothing executing or due.
    let (_, status) = call(Method::Get, "/api/maintenanceconfiguration/status", None);
    assert_eq!(status["IsInMaintenanceMode"], true);
    assert_eq!(status["IsQuiet"], true, "{status}");
    // A system task can still run.
    let (status, task) = call(
        Method::Post,
        "/api/tasks",
        Some(json!({"Name": "SessionCleanup"})),
    );
    assert_eq!(status, Status::Created, "{task}");
}

#[test]
fn scheduled_windows_turn_maintenance_on_and_off_with_retry_after() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let manager_key = app.user_with_key("manager", &["System Manager"]);
    let client = app.client();
    let now = drydock::clock::now_ms();
    let (status, window) = json_of(with_key(
        &client,
        Method::Post,
        "/api/maintenancewindows",
        &admin_key,
        Some(
            json!({"Start": drydock::clock::iso(now + 500), "End": drydock::clock::iso(now + 3000), "Message": "Patching"}),
        ),
    ));
    assert_eq!(status, Status::Created, "{window}");
    let retry = poll_for(
        10,
        || "the window never started".into(),
        || {
            let response = with_key(
                &client,
                Method::Post,
                "/api/environments",
                &manager_key,
                Some(json!({"Name": "X"})),
            );
            (response.status() == Status::ServiceUnavailable).then(|| {
                response
                    .headers()
                    .get_one("Retry-After")
                    .unwrap()
                    .parse::<i64>()
                    .unwrap()
            })
        },
    );
    assert!((1..=3).contains(&retry), "{retry}");
    poll_until(10, "the window never ended", || {
        !(json_of(with_key(
            &client,
            Method::Get,
            "/api/maintenanceconfiguration",
            &admin_key,
            None,
        ))
        .1["IsInMaintenanceMode"]
            == true)
    });
    let (_, events) = json_of(with_key(
        &client,
        Method::Get,
        "/api/events?take=100",
        &admin_key,
        None,
    ));
    let by_schedule: Vec<&Value> = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["IdentityEstablishedWith"] == "Schedule")
        .map(|e| &e["Category"])
        .collect();
    assert_eq!(
        by_schedule,
        [
            "MaintenanceModeDisabled",
            "MaintenanceModeEnabled",
            "MaintenanceWindowStarted"
        ],
        "entered and left by schedule: {events}"
    );

    // A window cancelled before it starts does nothing; one that has started cannot be.
    let (_, w) = json_of(with_key(
        &client,
        Method::Post,
        "/api/maintenancewindows",
        &admin_key,
        Some(
            json!({"Start": drydock::clock::iso(now + 3_600_000), "End": drydock::clock::iso(now + 7_200_000)}),
        ),
    ));
    let id = w["Id"].as_str().unwrap();
    assert_eq!(
        with_key(
            &client,
            Method::Delete,
            &format!("/api/maintenancewindows/{id}"),
            &admin_key,
            None
        )
        .status(),
        Status::NoContent
    );
    let first = window["Id"].as_str().unwrap();
    assert_eq!(
        with_key(
            &client,
            Method::Delete,
            &format!("/api/maintenancewindows/{first}"),
            &admin_key,
            None
        )
        .status(),
        Status::Conflict
    );
    let (status, bad) = json_of(with_key(
        &client,
        Method::Post,
        "/api/maintenancewindows",
        &admin_key,
        Some(
            json!({"Start": drydock::clock::iso(now + 5000), "End": drydock::clock::iso(now + 1000)}),
        ),
    ));
    assert_eq!(status, Status::BadRequest);
    assert!(bad["ErrorMessage"].as_str().unwrap().starts_with("End"));
}

#[test]
fn a_window_does_not_end_maintenance_that_an_administrator_turned_on() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    enable(&app, &admin_key, true);
    let now = drydock::clock::now_ms();
    with_key(
        &client,
        Method::Post,
        "/api/maintenancewindows",
        &admin_key,
        Some(
            json!({"Start": drydock::clock::iso(now + 200), "End": drydock::clock::iso(now + 800)}),
        ),
    );
    // Wait (against a deadline) for the window to end, then the mode is still on.
    poll_until(20, "the window never ended", || {
        let (_, windows) = json_of(with_key(
            &client,
            Method::Get,
            "/api/maintenancewindows",
            &admin_key,
            None,
        ));
        windows["Items"][0]["State"] == "Completed"
    });
    let (_, mode) = json_of(with_key(
        &client,
        Method::Get,
        "/api/maintenanceconfiguration",
        &admin_key,
        None,
    ));
    assert_eq!(mode["IsInMaintenanceMode"], true);
}

#[test]
fn the_command_line_enables_waits_for_quiet_and_disables() {
    let app = TestApp::with(|c| c.queue_poll_ms = 100);
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let call =
        |m: Method, p: &str, b: Option<Value>| json_of(with_key(&client, m, p, &admin_key, b));
    let (_, env, release) = project_env_release(&client, &admin_key, "sleep 2");
    let (status, deployment) = call(
        Method::Post,
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, Status::Created, "{deployment}");
    let dir = app.data_dir();
    let (code, out, err) = run_cli(
        dir,
        &[
            "maintenance",
            "enable",
            "--message",
            "Back soon",
            "--wait",
            "--timeout",
            "0",
        ],
        "",
    );
    assert_eq!(code, 3, "{out}{err}");
    assert!(
        out.contains("not quiet") && out.contains("timed out"),
        "{out}"
    );
    let (code, out, _) = run_cli(dir, &["maintenance", "status"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("maintenance mode on") && out.contains("Back soon"),
        "{out}"
    );
    let (code, out, err) = run_cli(
        dir,
        &["maintenance", "enable", "--wait", "--timeout", "30"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines().last().unwrap().contains("quiet: safe to stop"),
        "{out}"
    );
    let (code, _, _) = run_cli(dir, &["maintenance", "disable"], "");
    assert_eq!(code, 0);
    let (_, events) = call(Method::Get, "/api/events?take=100", None);
    let cli: Vec<&Value> = events["Items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["Category"]
                .as_str()
                .unwrap()
                .starts_with("MaintenanceMode")
        })
        .collect();
    assert_eq!(
        cli.len(),
        2,
        "enabled once (the second enable changed nothing) and disabled once"
    );
    assert!(cli
        .iter()
        .all(|e| e["IdentityEstablishedWith"] == "Command line"));
}

/// The real binary on a port: 32 non-administrator writers queue deployments as fast as
/// they can while an administrator enables maintenance. No writer's change may commit
/// after the enabling one (audit event ids grow in commit order). Five rounds.
#[test]
fn no_non_administrator_change_commits_after_maintenance_is_enabled() {
    let dir = data_dir();
    let admin = api_key(dir.path(), "admin");
    create_user(dir.path(), "writer", "System Manager", PASSWORD);
    let writer = api_key(dir.path(), "writer");
    let server = Server::start(dir.path());
    let send = |key: &str, method: &str, path: &str, body: &Value| {
        server
            .request(
                method,
                path,
                &[
                    ("X-Octopus-ApiKey", key),
                    ("Content-Type", "application/json"),
                ],
                &body.to_string(),
            )
            .map(|(status, text)| {
                (
                    status,
                    serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
                )
            })
    };
    let id = |v: &Value| v["Id"].as_str().unwrap().to_string();
    let project = id(&send(
        &admin,
        "POST",
        "/api/projects",
        &json!({"Name": "P", "DeploymentScript": "true"}),
    )
    .unwrap()
    .1);
    let env = id(
        &send(&admin, "POST", "/api/environments", &json!({"Name": "E"}))
            .unwrap()
            .1,
    );
    let release = id(&send(
        &admin,
        "POST",
        "/api/releases",
        &json!({"ProjectId": project, "Version": "1"}),
    )
    .unwrap()
    .1);
    let deployment = json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": "2099-01-01T00:00:00+00:00"});
    for round in 0..5 {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let seen = std::sync::atomic::AtomicUsize::new(0);
        let (accepted, refused) = std::thread::scope(|scope| {
            let writers: Vec<_> = (0..32)
                .map(|_| {
                    scope.spawn(|| {
                        let (mut ok, mut no) = (0, 0);
                        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                            match send(&writer, "POST", "/api/deployments", &deployment) {
                                Some((201, _)) => ok += 1,
                                Some((503, _)) => no += 1,
                                other => panic!("unexpected answer {other:?}"),
                            }
                            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        (ok, no)
                    })
                })
                .collect();
            // The writers are under way (answers are coming back) before the mode
            // turns on, and keep writing until a good many answers came after it.
            let answers_reach = |n: usize| {
                poll_until(30, "the writers stalled", || {
                    seen.load(std::sync::atomic::Ordering::SeqCst) >= n
                })
            };
            answers_reach(64);
            let (status, _) = send(
                &admin,
                "PUT",
                "/api/maintenanceconfiguration",
                &json!({"Id": "maintenance", "IsInMaintenanceMode": true}),
            )
            .unwrap();
            assert_eq!(status, 200);
            answers_reach(seen.load(std::sync::atomic::Ordering::SeqCst) + 64);
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            writers
                .into_iter()
                .map(|w| w.join().unwrap())
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
        });
        assert!(
            accepted > 0 && refused > 0,
            "round {round}: {accepted} accepted, {refused} refused"
        );
        let db = db::Db::for_dir(dir.path());
        let enabled: i64 = db.one(
            "SELECT MAX(id) FROM events WHERE category = 'MaintenanceModeEnabled'",
            &[],
        );
        let late: i64 = db.one(
            "SELECT COUNT(*) FROM events WHERE username = 'writer' AND category = 'DeploymentQueued' AND id > ?1",
            &[&enabled],
        );
        assert_eq!(
            late, 0,
            "round {round}: {late} changes committed after maintenance was enabled"
        );
        let queued: i64 = db.one(
            "SELECT COUNT(*) FROM events WHERE username = 'writer' AND category = 'DeploymentQueued'",
            &[],
        );
        assert!(queued >= accepted, "every 201 is in the audit log");
        let (status, _) = send(
            &admin,
            "PUT",
            "/api/maintenanceconfiguration",
            &json!({"Id": "maintenance", "IsInMaintenanceMode": false}),
        )
        .unwrap();
        assert_eq!(status, 200);
    }
}

#[test]
fn every_page_shows_the_banner_and_upcoming_windows_and_freezes_buttons_for_non_administrators() {
    let app = TestApp::new();
    let admin_key = app.user_with_key("ops", &["System Administrator"]);
    app.user_with_key("dana", &["Project Deployer"]);
    let client = app.client();
    let start = drydock::clock::now_ms() + 3_600_000;
    let (status, _) = json_of(with_key(
        &client,
        Method::Post,
        "/api/maintenancewindows",
        &admin_key,
        Some(
            json!({"Start": drydock::clock::iso(start), "End": drydock::clock::iso(start + 600_000), "Message": "Database move"}),
        ),
    ));
    assert_eq!(status, Status::Created);
    let dana = app.session("dana", PASSWORD);
    let html = dana.client.get("/").dispatch().into_string().unwrap();
    assert!(
        html.contains("Maintenance is scheduled to start at") && html.contains("Database move"),
        "{html}"
    );
    assert!(!html.contains("id=\"maintenance-banner\""));

    let response = with_key(
        &client,
        Method::Put,
        "/api/maintenanceconfiguration",
        &admin_key,
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true, "Message": "Back at noon"})),
    );
    assert_eq!(response.status(), Status::Ok);
    drop(response);
    let admin = app.admin();
    for path in ["/", "/profile", "/projects", "/tasks", "/no-such-page"] {
        let html = dana.client.get(path).dispatch().into_string().unwrap();
        assert!(
            html.contains("id=\"maintenance-banner\"") && html.contains("Back at noon"),
            "{path}: {html}"
        );
        assert!(html.contains("enabled by ops"), "{path}");
        assert!(
            !html.contains("id=\"maintenance-upcoming\""),
            "one banner at a time: {path}"
        );
    }
    let anonymous = app.client();
    let html = anonymous.get("/login").dispatch().into_string().unwrap();
    assert!(
        html.contains("Back at noon"),
        "the sign-in page shows it too"
    );
    // Change buttons: disabled with the reason for the deployer, not for the administrator.
    let mine = dana
        .client
        .get("/profile")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(mine.contains(
        "disabled title=\"Maintenance mode: changes are disabled for non-administrators\""
    ));
    let theirs = admin
        .client
        .get("/profile")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(theirs.contains("id=\"maintenance-banner\"") && !theirs.contains("disabled title="));
}
