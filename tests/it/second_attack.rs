//! What the second outside attack found, each written as the attacker did it: one test
//! per finding, each failing when its fix is taken out.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::server::Server;
use common::with_key;

/// The HTTP/2 client preface and an empty SETTINGS frame: what an h2c client sends
/// first (and then answers pings for ever).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00";

/// Whether the server closed `stream` (end of stream or reset) before `deadline`.
fn closed_before(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream
            .set_read_timeout(Some(left.min(Duration::from_millis(200))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
}

/// Findings 6 and 7: connections that send nothing, and cleartext HTTP/2 connections,
/// held a node's every open file for ever (the HTTP/1-or-2 sniff ran before the head
/// deadline; HTTP/2 had none at all). Twice as many of them as the node may open files:
/// each is closed within the head deadline, and the node answers everyone else.
#[test]
fn silent_and_http2_connections_at_the_open_file_limit_are_closed_and_health_answers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("drydock.toml"), "keep_alive_secs = 1\n").unwrap();
    let files = 96;
    let server = Server::start_with_open_files(dir.path(), files, &[]);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], server.port));
    let mut held = Vec::new();
    for i in 0..2 * files {
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(2)) else {
            continue;
        };
        if i % 2 == 1 {
            let _ = stream.write_all(H2_PREFACE);
        }
        held.push((i % 2 == 1, stream));
    }
    assert!(held.len() as u32 > files, "only {} connected", held.len());
    let deadline = Instant::now() + Duration::from_secs(40);
    for (http2, stream) in &mut held {
        assert!(
            closed_before(stream, deadline),
            "a {} connection was never closed",
            if *http2 { "cleartext HTTP/2" } else { "silent" }
        );
    }
    let left = deadline.saturating_duration_since(Instant::now()).as_secs() + 1;
    common::poll_for(
        left,
        || format!("/api/health did not answer: {}", server.output()),
        || matches!(server.get("/api/health"), Some((200, _))).then_some(()),
    );

    // The header limits hold for a client that sends huge heads: refused, not kept.
    let mut huge = TcpStream::connect(address).unwrap();
    let mut head = b"GET /api/health HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..4096 {
        head.extend_from_slice(format!("X-Padding-{i}: {}\r\n", "a".repeat(1000)).as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let _ = huge.write_all(&head);
    let mut answer = Vec::new();
    let _ = huge.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        !answer.starts_with("HTTP/1.1 200"),
        "a 4 MiB head was read whole: {answer}"
    );
}

/// A sign-in as `username` with `password`, from client address `address` (the
/// `ip_header` a proxy would set), on a form fetched for it.
fn sign_in_from(port: u16, address: &str, username: &str, password: &str) -> u16 {
    let form = common::raw::login_form(port);
    let body = common::form(&[
        ("username", username),
        ("password", password),
        ("csrf_token", &form.1),
    ]);
    common::raw::send(
        port,
        "POST",
        "/login",
        &[
            ("Cookie", &form.0),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("X-Real-IP", address),
        ],
        &body,
    )
    .status
}

/// Finding 4: on PostgreSQL usernames match ignoring case, width and zero-width
/// characters, but the throttle counted each spelling apart: 20 wrong passwords for
/// `admin` were checked in one window, each spelling from addresses of its own. Every
/// spelling that names the account now counts against that account's one limit.
#[test]
fn spellings_of_one_username_racing_from_many_addresses_share_its_one_limit() {
    let dir = common::data_dir();
    dir.configure("ip_header = \"X-Real-IP\"\n");
    common::server::create_user(dir.path(), "dana", "Viewer", common::PASSWORD);
    let server = Server::start(dir.path());
    let spellings = [
        "dana",
        "DANA",
        "Dana",
        "d\u{200B}ana",
        "ｄａｎａ",
        "ＤＡＮＡ",
        "da\u{200D}na",
        "ｄana",
        "\u{FEFF}dana",
        "dａnａ",
    ];
    let db = common::raw::db(dir.path());
    let matching: Vec<&str> = spellings
        .iter()
        .copied()
        .filter(|s| db.one::<i64>("SELECT count(*) FROM users WHERE username = ?1", &[s]) == 1)
        .collect();
    if db.is_postgres() {
        assert_eq!(
            matching.len(),
            spellings.len(),
            "PostgreSQL matches every spelling"
        );
    }
    // Three wrong passwords per spelling, each from an address of its own, at once.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3 * matching.len()));
    let port = server.port;
    let attempts: Vec<_> = (0..3 * matching.len())
        .map(|i| {
            let spelling = matching[i / 3].to_string();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let address = format!("192.0.2.{}", i + 1);
                barrier.wait();
                sign_in_from(port, &address, &spelling, &format!("wrong guess {i}"))
            })
        })
        .collect();
    let statuses: Vec<u16> = attempts.into_iter().map(|t| t.join().unwrap()).collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(
        checked <= 5,
        "{checked} wrong passwords for one account were checked: {statuses:?}"
    );
    // The right password, through every spelling, from a fresh address: still refused
    // until the window passes.
    for (i, spelling) in matching.iter().enumerate() {
        let status = sign_in_from(
            port,
            &format!("198.51.100.{}", i + 1),
            spelling,
            common::PASSWORD,
        );
        assert_eq!(
            status,
            429,
            "'{}' signed in past the limit",
            spelling.escape_unicode()
        );
    }
}

/// The private memory (kB) of the PostgreSQL backends serving database `name`: their
/// processes' titles read `postgres: USER NAME ADDRESS STATE`.
fn backends_memory_kb(name: &str) -> (usize, u64) {
    let mut backends = 0;
    let mut kb = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let title = String::from_utf8_lossy(&cmdline);
        let ours = title
            .strip_prefix("postgres: ")
            .and_then(|t| t.split(' ').nth(1))
            .is_some_and(|db| db == name);
        if !ours {
            continue;
        }
        let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
        if let Some(anon) = status.lines().find_map(|l| l.strip_prefix("RssAnon:")) {
            backends += 1;
            kb += anon
                .trim()
                .trim_end_matches(" kB")
                .trim()
                .parse::<u64>()
                .unwrap_or(0);
        }
    }
    (backends, kb)
}

/// Finding 5: prepared statements were kept per SQL text for ever, and `/api/tasks`
/// built a text for every length of `states` (and of `ids`): 400 requests from a Viewer
/// added 153–170 MiB to PostgreSQL's backends. The same loop of distinct lists now
/// leaves their memory where it was.
#[test]
fn a_viewer_looping_over_distinct_task_filters_does_not_grow_postgresql_memory() {
    if common::pg::skip() {
        return;
    }
    let dir = common::data_dir_on(true);
    dir.configure("");
    let name = dir.postgres_name().unwrap().to_string();
    common::server::create_user(dir.path(), "vera", "Viewer", common::PASSWORD);
    let key = common::server::api_key(dir.path(), "vera");
    let server = Server::start(dir.path());
    let list = |query: String| {
        let (status, body) = server.api(&key, "GET", &format!("/api/tasks?{query}"), None);
        assert_eq!(status, 200, "{query}: {body}");
    };
    // Warm up: every connection of the pool has prepared the page's statements.
    for _ in 0..40 {
        list("states=Queued&take=1".into());
    }
    let (backends, before) = backends_memory_kb(&name);
    assert!(backends > 0, "no backend of {name} found");
    let states = [
        "Queued",
        "Executing",
        "Success",
        "Failed",
        "Canceled",
        "TimedOut",
    ];
    for n in 1..=300 {
        let repeated: Vec<&str> = (0..n).map(|i| states[i % states.len()]).collect();
        list(format!("states={}&take=1", repeated.join(",")));
        let ids: Vec<String> = (1..=n * 3).map(|i| format!("ServerTasks-{i}")).collect();
        list(format!("ids={}&take=1", ids.join(",")));
    }
    let (_, after) = backends_memory_kb(&name);
    let grown_mib = after.saturating_sub(before) / 1024;
    eprintln!(
        "PostgreSQL backends of {name}: {before} kB before, {after} kB after 600 distinct lists"
    );
    assert!(
        grown_mib < 24,
        "PostgreSQL's backends grew by {grown_mib} MiB ({before} kB to {after} kB)"
    );
}

/// Finding 3: the stored end of an "ends on date" freeze was wrong when its windows
/// were more than 366 days apart or its date far off, and the claim and creation left
/// such a freeze out as finished while the API called it Active: a Project Deployer got
/// 201. Generated far-apart recurrences are refused at creation while a window is on.
#[test]
fn freezes_with_far_apart_windows_or_far_off_ends_still_refuse_deployments() {
    use rocket::http::{Method, Status};
    use serde_json::json;
    let s = crate::freezes::Setup::new();
    let now = drydock::clock::now_ms();
    let (hour, day) = (3_600_000, 86_400_000);
    // (every how many days, how long before now the first window began, the end date).
    let cases = [
        (400, 400 * day, now + 380 * day),
        (500, 1_000 * day, now + 499 * day),
        (
            1,
            day,
            drydock::clock::parse_iso("5000-01-01T00:00:00Z").unwrap(),
        ),
        (3, 30 * day, now + 2 * day),
    ];
    for (i, (unit, ago, last)) in cases.into_iter().enumerate() {
        let start = now - ago - hour;
        let freeze = s.freeze(json!({
            "Name": format!("Sparse {i}"),
            "Start": crate::freezes::iso(start),
            "End": crate::freezes::iso(start + 2 * hour),
            "ProjectEnvironmentScope": {"Projects-1": ["Environments-1"]},
            "RecurringSchedule": {
                "Type": "Daily", "Unit": unit, "EndType": "OnDate",
                "EndOnDate": crate::freezes::iso(last),
            },
        }));
        assert_eq!(freeze["Status"], "Active", "{freeze}");
        let (status, body) = s.call(
            &s.deployer,
            Method::Post,
            "/api/deployments",
            Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
        );
        assert_eq!(status, Status::Conflict, "every {unit} days: {body}");
        let (status, _) = s.call(
            &s.manager,
            Method::Delete,
            &format!("/api/deploymentfreezes/{}", freeze["Id"].as_str().unwrap()),
            None,
        );
        assert_eq!(status, Status::NoContent);
    }
}

/// `n` more projects and environments in `s` (beyond its two of each); their ids.
fn many_projects_and_environments(
    s: &crate::freezes::Setup,
    n: usize,
) -> (Vec<String>, Vec<String>) {
    use rocket::http::{Method, Status};
    let mut made = (Vec::new(), Vec::new());
    for i in 0..n {
        for (path, body, ids) in [
            (
                "/api/projects",
                serde_json::json!({"Name": format!("P{i}"), "DeploymentScript": "true"}),
                &mut made.0,
            ),
            (
                "/api/environments",
                serde_json::json!({"Name": format!("E{i}")}),
                &mut made.1,
            ),
        ] {
            let (status, created) = s.call(&s.manager, Method::Post, path, Some(body));
            assert_eq!(status, Status::Created, "{created}");
            ids.push(created["Id"].as_str().unwrap().to_string());
        }
    }
    made
}

/// Finding 10: a user with no role got 403 from `/api/projects` and `/api/tasks` but
/// the timeline named projects, environments and scheduled deployments. It now shows
/// them only to those whose permissions show them elsewhere.
#[test]
fn a_user_with_no_role_sees_no_project_environment_or_deployment_on_the_timeline() {
    use rocket::http::{Method, Status};
    use serde_json::json;
    let s = crate::freezes::Setup::new();
    let roleless = s.app.user_with_key("rolf", &[]);
    let viewer = s.app.user_with_key("vera", &["Viewer"]);
    let now = drydock::clock::now_ms();
    let hour = 3_600_000;
    s.freeze(crate::freezes::shop_production(
        "Close",
        now + hour,
        now + 2 * hour,
    ));
    let (status, scheduled) = s.call(
        &s.manager,
        Method::Post,
        "/api/deployments",
        Some(
            json!({"ReleaseId": "Releases-2", "EnvironmentId": "Environments-2",
                    "QueueTime": crate::freezes::iso(now + 3 * hour)}),
        ),
    );
    assert_eq!(status, Status::Created, "{scheduled}");
    for path in ["/api/projects", "/api/environments", "/api/tasks"] {
        assert_eq!(
            s.call(&roleless, Method::Get, path, None).0,
            Status::Forbidden,
            "{path}"
        );
    }
    let (status, seen) = s.call(&roleless, Method::Get, "/api/timeline", None);
    assert_eq!(status, Status::Ok, "{seen}");
    let text = seen.to_string();
    for hidden in [
        "Shop",
        "Blog",
        "Production",
        "Staging",
        "Projects-",
        "Environments-",
        "ServerTasks-",
    ] {
        assert!(
            !text.contains(hidden),
            "a role-less user sees '{hidden}': {seen}"
        );
    }
    assert_eq!(seen["DeploymentFreezes"][0]["Name"], "Close", "{seen}");
    let rolf = s.app.session("rolf", common::PASSWORD);
    let page = rolf
        .client
        .get("/timeline")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(page.contains("Close"), "{page}");
    for hidden in ["Shop", "Blog", "Production", "Staging"] {
        assert!(
            !page.contains(hidden),
            "the page shows '{hidden}' to a role-less user"
        );
    }
    // A Viewer may see projects, environments and tasks: the timeline shows them.
    let (_, seen) = s.call(&viewer, Method::Get, "/api/timeline", None);
    assert_eq!(
        seen["DeploymentFreezes"][0]["Scope"][0]["ProjectName"], "Shop",
        "{seen}"
    );
    assert_eq!(
        seen["ScheduledDeployments"][0]["TaskId"], scheduled["TaskId"],
        "{seen}"
    );
}

/// Finding 8: one daily freeze of 366-day windows over 625 pairs made a Viewer's
/// timeline 29.6 MB (linear in pairs and freezes). A freeze covers at most 1,000 pairs,
/// one freeze's overlapping windows are listed as one, and a timeline of more than
/// 20,000 windows × pairs is a 400 asking for a shorter span.
#[test]
fn a_huge_freeze_scope_gives_a_bounded_timeline_or_a_clear_400() {
    use rocket::http::{Method, Status};
    use serde_json::json;
    let s = crate::freezes::Setup::new();
    let viewer = s.app.user_with_key("vera", &["Viewer"]);
    let (projects, environments) = many_projects_and_environments(&s, 32);
    let scope = |n: usize| -> serde_json::Value {
        projects[..n]
            .iter()
            .map(|p| (p.clone(), json!(environments[..n])))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let now = drydock::clock::now_ms();
    let (hour, day) = (3_600_000, 86_400_000);
    // 32 × 32 pairs: too many for one freeze, refused naming the field.
    let (status, refused) = s.call(
        &s.manager,
        Method::Post,
        "/api/deploymentfreezes",
        Some(json!({"Name": "Everything", "Start": crate::freezes::iso(now + hour),
                    "End": crate::freezes::iso(now + 2 * hour), "ProjectEnvironmentScope": scope(32)})),
    );
    assert_eq!(status, Status::BadRequest, "{refused}");
    assert!(
        refused["ErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("ProjectEnvironmentScope:"),
        "{refused}"
    );
    // The attacker's freeze: daily, each window 366 days, over 625 pairs.
    s.freeze(json!({
        "Name": "Year-long", "Start": crate::freezes::iso(now - day),
        "End": crate::freezes::iso(now + 365 * day), "ProjectEnvironmentScope": scope(25),
        "RecurringSchedule": {"Type": "Daily", "Unit": 1, "EndType": "Never"},
    }));
    let timeline = |query: &str| {
        let response = with_key(
            &s.client,
            Method::Get,
            &format!("/api/timeline{query}"),
            &viewer,
            None,
        );
        let status = response.status();
        let body = response.into_string().unwrap_or_default();
        (status, body)
    };
    let (status, body) = timeline(&format!(
        "?to={}",
        crate::freezes::iso(now + 62 * day).replace('+', "%2B")
    ));
    assert_eq!(status, Status::Ok, "{body}");
    assert!(
        body.len() < 1 << 20,
        "62 days of one freeze: {} bytes",
        body.len()
    );
    eprintln!(
        "timeline of 62 days, one 625-pair freeze of 366-day daily windows: {} bytes",
        body.len()
    );
    let listed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        listed["DeploymentFreezes"].as_array().unwrap().len(),
        1,
        "one window, merged"
    );
    // Daily hour-long windows over the same pairs: 62 days of them are too many.
    s.freeze(json!({
        "Name": "Nightly", "Start": crate::freezes::iso(now + hour),
        "End": crate::freezes::iso(now + 2 * hour), "ProjectEnvironmentScope": scope(25),
        "RecurringSchedule": {"Type": "Daily", "Unit": 1, "EndType": "Never"},
    }));
    let (status, body) = timeline(&format!(
        "?to={}",
        crate::freezes::iso(now + 62 * day).replace('+', "%2B")
    ));
    assert_eq!(
        status,
        Status::BadRequest,
        "{}",
        &body[..body.len().min(300)]
    );
    assert!(
        body.contains("to: the freezes have more than 20000"),
        "{body}"
    );
    let (status, body) = timeline("");
    assert_eq!(status, Status::Ok);
    assert!(body.len() < 4 << 20, "14 days: {} bytes", body.len());
}

/// `command` run as `nobody` (the tests run as root).
fn as_nobody(command: &[&str]) -> std::process::ExitStatus {
    std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .args(command)
        .status()
        .unwrap()
}

/// `mkdir path` as another local user (`nobody`, when the tests run as root), or, not
/// as root, a directory that others may write: what a squatter leaves.
fn squat(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if nix::unistd::Uid::effective().is_root() {
        let status = as_nobody(&["mkdir", "-m", "0777", path.to_str().unwrap()]);
        assert!(status.success(), "nobody could not make {}", path.display());
    } else {
        std::fs::create_dir(path).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
}

/// Finding 9: the default work directory had a predictable name under the system's
/// temporary directory and went on a clean stop, so any local user (or a detached
/// script, which knows it from its own working directory) could make it first, and the
/// node refused to start. Now its name is random, kept in the data directory, and a
/// squatted one is given up for a new one: the node starts and runs deployments.
#[test]
fn a_squatted_work_directory_does_not_stop_the_node_from_starting() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    let dir = common::data_dir();
    // What the old name would have been: made first by someone else.
    let digest = drydock::tokens::sha256_hex(&dir.path().to_string_lossy());
    let predictable = std::env::temp_dir().join(format!("drydock-work-{}", &digest[..12]));
    squat(&predictable);
    let key = common::server::api_key(dir.path(), "admin");
    let mut server = Server::start(dir.path());
    let recorded = drydock::files::recorded_work_dir(dir.path());
    assert_ne!(recorded, predictable);
    let deploy = |server: &Server, name: &str| {
        let task = deploy_script(server, &key, name, "pwd");
        server.wait_task(&key, &task, &["Success", "Failed"], 30)
    };
    assert_eq!(deploy(&server, "Before")["State"], "Success");
    // A clean stop removes the directory; someone who knows its name makes it first.
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    server.child.wait().unwrap();
    assert!(
        !recorded.exists(),
        "a clean stop leaves {}",
        recorded.display()
    );
    squat(&recorded);
    let server = Server::start(dir.path());
    let moved = drydock::files::recorded_work_dir(dir.path());
    assert_ne!(moved, recorded, "the node kept the squatted directory");
    assert!(
        server.output().contains("taking a new one"),
        "the node did not say so: {}",
        server.output()
    );
    let task = deploy(&server, "After");
    assert_eq!(task["State"], "Success", "{task}");
    let _ = std::fs::remove_dir(&predictable);
    let _ = std::fs::remove_dir(&recorded);
}

/// Makes a project running `script`, and deploys it: the task's id.
fn deploy_script(server: &Server, key: &str, name: &str, script: &str) -> String {
    use serde_json::json;
    let project = server.create(
        key,
        "/api/projects",
        json!({"Name": name, "DeploymentScript": script}),
    );
    let environment = server.create(
        key,
        "/api/environments",
        json!({"Name": format!("{name} env")}),
    );
    let release = server.create(
        key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    let id = server.create(
        key,
        "/api/deployments",
        json!({"ReleaseId": release, "EnvironmentId": environment}),
    );
    let (_, deployment) = server.api(key, "GET", &format!("/api/deployments/{id}"), None);
    deployment["TaskId"].as_str().unwrap().to_string()
}

/// Polls `path` until it holds a line, for at most `secs`.
fn wait_for_file(path: &std::path::Path, secs: u64) -> String {
    let written = || {
        std::fs::read_to_string(path)
            .ok()
            .filter(|t| t.ends_with('\n'))
    };
    common::poll_until(secs, "a file the script writes was never written", || {
        written().is_some()
    });
    written().unwrap_or_default()
}

/// Finding 2: cleanup after a script killed the process group of anything left in the
/// task's directory, and a script could move a process into another process group of
/// its session first: with nodes started from one shell, a second node and a root
/// `sleep` died with SIGKILL. A script (as `script_user`) now tries exactly that, then
/// kills its launcher so that cleanup runs; a root process of another group in the
/// server's session, and a root process working in the task's own directory, live on,
/// while what the script left is stopped.
#[test]
fn a_script_cannot_make_cleanup_kill_processes_outside_its_own() {
    use std::os::unix::process::CommandExt;
    if !crate::attacks_host::running_as_root() {
        return;
    }
    let dir = common::data_dir();
    let shared = common::shared_dir();
    let key = common::server::api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    // Another process group of the server's session, as a second node started from
    // the same shell would be.
    let mut victim = std::process::Command::new("sleep")
        .arg("300")
        .process_group(0)
        .spawn()
        .unwrap();
    let victim_group = victim.id();
    let report = shared.path().join("report");
    let ready = shared.path().join("ready");
    let task = deploy_script(
        &server,
        &key,
        "Mover",
        &format!(
            "perl -e '$| = 1; if (setpgrp(0, {victim_group})) {{ print \"joined\\n\" }} else {{ print \"refused: $!\\n\" }}; sleep 300' > {report} 2>&1 &\n\
             sleep 300 &\n\
             pwd > {ready}.tmp && mv {ready}.tmp {ready}\n\
             sleep 300\n",
            report = report.display(),
            ready = ready.display(),
        ),
    );
    let task_dir = wait_for_file(&ready, 30).trim().to_string();
    let moved = wait_for_file(&report, 30);
    assert!(
        moved.starts_with("refused"),
        "a script's process joined a group of the server's session: {moved}"
    );
    // A root process working in the task's own directory (an administrator looking).
    let mut onlooker = std::process::Command::new("sleep")
        .arg("300")
        .current_dir(&task_dir)
        .process_group(0)
        .spawn()
        .unwrap();
    // The script's processes, to see them stopped.
    let script_pids: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_link(e.path().join("cwd")).is_ok_and(|c| c.starts_with(&task_dir))
                && e.file_name().to_string_lossy() != onlooker.id().to_string()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(script_pids.len() >= 3, "{script_pids:?}");
    // Kill the launcher (the script user's, as the script could): cleanup runs.
    let launcher = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find(|e| {
            // This server's own (other tests' servers have theirs).
            let parent = std::fs::read_to_string(e.path().join("status"))
                .unwrap_or_default()
                .lines()
                .find_map(|l| l.strip_prefix("PPid:").map(|p| p.trim().to_string()));
            parent == Some(server.child.id().to_string())
                && std::fs::read(e.path().join("cmdline"))
                    .is_ok_and(|c| String::from_utf8_lossy(&c).contains("script-launcher"))
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("the script launcher");
    let status = as_nobody(&["kill", "-9", &launcher]);
    assert!(status.success());
    let ended = server.wait_task(&key, &task, &["Failed", "Success"], 60);
    assert_eq!(ended["State"], "Failed", "{ended}");
    common::poll_until(20, "the script's processes outlived its cleanup", || {
        !script_pids.iter().any(|p| common::server::alive(p))
    });
    assert!(
        common::server::alive(&victim_group.to_string()),
        "cleanup killed another process group"
    );
    assert!(
        common::server::alive(&onlooker.id().to_string()),
        "cleanup killed a root process in the task's directory"
    );
    let _ = victim.kill();
    let _ = victim.wait();
    let _ = onlooker.kill();
    let _ = onlooker.wait();
}

/// Finding 1: with `--database-url postgres://user:PASSWORD@...`, as the README had it,
/// the password stayed in the server's `/proc/<pid>/cmdline`: a Project Lead's script
/// read it, connected, and turned maintenance mode off; a `?password=` one went into
/// `pg_dump`'s arguments on every backup. Now such a command line is refused, the URL
/// comes from a 0600 file, and a script scanning every process's arguments and
/// environment while backups run finds the password nowhere.
#[test]
fn no_process_a_script_can_see_shows_the_database_password() {
    if common::pg::skip() || !crate::attacks_host::running_as_root() {
        return;
    }
    let dir = common::data_dir_on(true);
    let name = dir.postgres_name().unwrap().to_string();
    let server_url = std::env::var("DRYDOCK_TEST_POSTGRES").unwrap();
    let (scheme, rest) = server_url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    let host = host.rsplit_once('/').unwrap().0;
    let secret = "Hunter2Secret";
    let with_password = format!("{scheme}://{user}:{secret}@{host}/{name}");
    // On the command line: refused, saying what to do instead.
    let (code, _, err) = common::server::run_cli(
        dir.path(),
        &["--database-url", &with_password, "node", "list"],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--database-url-file"), "{err}");
    assert!(!err.contains(secret), "{err}");
    // From a file only drydock's user can read.
    std::fs::write(dir.path().join(drydock::config::CONFIG_FILE), "").unwrap();
    let file = dir.path().join("database-url");
    // The password as a parameter, which libpq also takes (and pg_dump was given).
    let as_parameter =
        format!("{scheme}://{user}@{host}/{name}?password={secret}&connect_timeout=10");
    std::fs::write(&file, format!("{as_parameter}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let flag = ["--database-url-file", file.to_str().unwrap()];
    let (code, _, err) =
        common::server::run_cli(dir.path(), &[&flag[..], &["node", "list"]].concat(), "");
    assert_ne!(code, 0, "a URL file others may read was accepted");
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out, err) = common::server::run_cli(
        dir.path(),
        &[
            &flag[..],
            &[
                "apikey",
                "create",
                "--username",
                "admin",
                "--purpose",
                "tests",
            ],
        ]
        .concat(),
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    let key = out.trim().lines().last().unwrap().to_string();
    let server = Server::start_with(dir.path(), &flag);
    // The script as the attacker wrote it: every process's arguments and environment
    // it can read, over and over, while backups (pg_dump) run.
    let shared = common::shared_dir();
    let s = shared.path().display();
    let script = format!(
        "end=$((SECONDS+60)); saw=0\n\
         while [ $SECONDS -lt $end ] && [ ! -e {s}/stop ]; do\n\
           if grep -a -q -e 'pg_dum[p]' /proc/[0-9]*/cmdline 2>/dev/null; then saw=1; touch {s}/saw; fi\n\
           for f in $(grep -a -l -e 'Hunter2Secre[t]' /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null); do\n\
             echo \"leak: $f\" >> {s}/leaks\n\
           done\n\
         done\n\
         echo \"done saw=$saw\" > {s}/report\n"
    );
    let task = deploy_script(&server, &key, "Snoop", &script);
    server.wait_task(&key, &task, &["Executing"], 30);
    // A backup asked for at every poll, until the script has seen pg_dump run.
    common::poll_until(45, "the script never saw pg_dump run", || {
        if shared.path().join("saw").exists() {
            return true;
        }
        let (status, body) = server.api(
            &key,
            "POST",
            "/api/tasks",
            Some(serde_json::json!({"Name": "Backup"})),
        );
        assert!(status == 201 || status == 409, "{status} {body}");
        false
    });
    // A few more backups while it looks.
    for _ in 0..3 {
        let (_, backup) = server.api(
            &key,
            "POST",
            "/api/tasks",
            Some(serde_json::json!({"Name": "Backup"})),
        );
        if let Some(id) = backup["Id"].as_str() {
            let done = server.wait_task(&key, id, &["Success", "Failed"], 60);
            assert_eq!(done["State"], "Success", "{done}");
        }
    }
    std::fs::write(shared.path().join("stop"), "").unwrap();
    let ended = server.wait_task(&key, &task, &["Success", "Failed"], 60);
    assert_eq!(ended["State"], "Success", "{ended}");
    let report = std::fs::read_to_string(shared.path().join("report")).unwrap_or_default();
    assert!(report.contains("saw=1"), "{report}");
    let leaks = std::fs::read_to_string(shared.path().join("leaks")).unwrap_or_default();
    assert!(leaks.is_empty(), "the password was readable: {leaks}");
    // And no message of the server's shows it.
    assert!(!server.output().contains(secret), "{}", server.output());
}
