//! A cluster of real `drydock serve` processes on one data directory: work shared
//! exactly once within each node's cap, drain, a node killed with SIGKILL, maintenance
//! seen by every node, and the graceful stop of SIGTERM.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::server::{alive, api_key, create_user, drain, run_cli, Server};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

const CAP: usize = 3;
const OFFLINE_SECS: u64 = 3;
const NODE_HEALTH_SECS: u64 = 1;

/// A data directory for a cluster with short timings, and an administrator's API key.
fn cluster_dir(extra: &str) -> (common::DataDir, String) {
    let dir = common::data_dir();
    let default = |key: &str, line: String| {
        if extra.contains(key) {
            String::new()
        } else {
            line
        }
    };
    let poll = default("queue_poll_ms", "queue_poll_ms = 200\n".into());
    let health = default(
        "node_health_interval_secs",
        format!("node_health_interval_secs = {NODE_HEALTH_SECS}\n"),
    );
    dir.configure(format!(
        "task_cap = {CAP}\n{poll}heartbeat_secs = 1\n\
             node_offline_secs = {OFFLINE_SECS}\n{health}\
             cancel_grace_ms = 1000\n{extra}"
    ));
    let key = api_key(dir.path(), "admin");
    (dir, key)
}

/// `n` projects (one concurrency tag each, so they can run side by side) with a release,
/// and one environment. Returns (release ids, environment id).
fn releases(server: &Server, key: &str, n: usize, script: &str) -> (Vec<String>, String) {
    let env = server.create(key, "/api/environments", json!({"Name": "Prod"}));
    let releases = (0..n)
        .map(|i| {
            let project = server.create(
                key,
                "/api/projects",
                json!({"Name": format!("P{i}"), "DeploymentScript": script}),
            );
            server.create(
                key,
                "/api/releases",
                json!({"ProjectId": project, "Version": "1"}),
            )
        })
        .collect();
    (releases, env)
}

fn deploy(server: &Server, key: &str, release: &str, env: &str) -> String {
    let (status, d) = server.api(
        key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{d}");
    d["TaskId"].as_str().unwrap().to_string()
}

fn task(server: &Server, key: &str, id: &str) -> Value {
    server.api(key, "GET", &format!("/api/tasks/{id}"), None).1
}

/// The largest number of `[start, end)` intervals open at once.
fn max_overlap(intervals: &[(u128, u128)]) -> usize {
    let mut edges: Vec<(u128, i32)> = intervals
        .iter()
        .flat_map(|&(s, e)| [(s, 1), (e, -1)])
        .collect();
    // At equal times an end comes before a start: back-to-back is not overlap.
    edges.sort();
    let (mut open, mut most) = (0i32, 0i32);
    for (_, d) in edges {
        open += d;
        most = most.max(open);
    }
    most as usize
}

#[test]
fn three_nodes_run_300_deployments_each_exactly_once_within_their_caps() {
    let (dir, key) = cluster_dir("");
    let shared = common::shared_dir();
    let file = shared.path().join("ran.txt");
    let script = format!(
        "echo \"$DRYDOCK_TASK_ID start $(date +%s%N)\" >> {f}\nsleep 0.05\necho \"$DRYDOCK_TASK_ID end $(date +%s%N)\" >> {f}\n",
        f = file.display()
    );
    let nodes = [
        Server::node(&dir.node_dir("node-a"), "node-a"),
        Server::node(&dir.node_dir("node-b"), "node-b"),
        Server::node(&dir.node_dir("node-c"), "node-c"),
    ];
    let (releases, env) = releases(&nodes[0], &key, 30, &script);
    // Everything is queued through node A: B and C only see it through the database.
    let tasks: Vec<String> = (0..300)
        .map(|i| deploy(&nodes[0], &key, &releases[i % releases.len()], &env))
        .collect();
    let mut node_of = HashMap::new();
    for t in &tasks {
        let done = nodes[0].wait_task(&key, t, &["Success", "Failed", "TimedOut", "Canceled"], 120);
        assert_eq!(done["State"], "Success", "{done}");
        node_of.insert(t.clone(), done["ServerNode"].as_str().unwrap().to_string());
    }

    let text = std::fs::read_to_string(&file).unwrap();
    let mut starts: BTreeMap<String, u128> = BTreeMap::new();
    let mut per_node: HashMap<String, Vec<(u128, u128)>> = HashMap::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let (id, kind, at) = (parts[0], parts[1], parts[2].parse::<u128>().unwrap());
        if kind == "start" {
            assert!(
                starts.insert(id.to_string(), at).is_none(),
                "{id} started twice"
            );
        } else {
            let start = starts[id];
            per_node
                .entry(node_of[id].clone())
                .or_default()
                .push((start, at));
        }
    }
    let mut ran: Vec<&String> = starts.keys().collect();
    ran.sort();
    let mut expected: Vec<&String> = tasks.iter().collect();
    expected.sort();
    assert_eq!(ran, expected, "every task ran exactly once");
    for name in ["node-a", "node-b", "node-c"] {
        let intervals = per_node.get(name).cloned().unwrap_or_default();
        assert!(!intervals.is_empty(), "{name} did no work: {per_node:?}");
        let most = max_overlap(&intervals);
        assert!(most <= CAP, "{name} ran {most} scripts at once (cap {CAP})");
    }
}

#[test]
fn work_queued_on_one_node_is_picked_up_by_another_well_within_the_poll_interval() {
    // A poll of 5 s and no frequent system task: only the queue's pickup check (every
    // 100 ms) can explain a start within a second.
    let (dir, key) = cluster_dir("queue_poll_ms = 5000\nnode_health_interval_secs = 600\n");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let _b = Server::node(&dir.node_dir("node-b"), "node-b");
    let (releases, env) = releases(&a, &key, 1, "true");
    drain(&a, &key, "node-a", true);
    let db = common::db::Db::for_dir(dir.path());
    for _ in 0..5 {
        let id = deploy(&a, &key, &releases[0], &env);
        let done = a.wait_task(&key, &id, &["Success", "Failed"], 20);
        assert_eq!(done["ServerNode"], "node-b", "{done}");
        let n: i64 = id.trim_start_matches("ServerTasks-").parse().unwrap();
        let waited: i64 = db.one(
            "SELECT start_time - queue_time FROM tasks WHERE id = ?1",
            &[&n],
        );
        assert!(waited < 1000, "{id} waited {waited} ms for another node");
    }
}

#[test]
fn a_drained_node_finishes_its_task_starts_nothing_new_and_its_ping_answers_418() {
    let (dir, key) = cluster_dir("");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    let (releases, env) = releases(&a, &key, 6, "sleep 1.5");
    // Drain A so that B takes the first task, then let A work again.
    drain(&a, &key, "node-a", true);
    let on_b = deploy(&b, &key, &releases[0], &env);
    assert_eq!(
        b.wait_task(&key, &on_b, &["Executing"], 20)["ServerNode"],
        "node-b"
    );
    drain(&a, &key, "node-a", false);
    // Drain B through A: B's ping answers 418 and it starts nothing new.
    drain(&a, &key, "node-b", true);
    let (status, ping) = b.api(&key, "GET", "/api/octopusservernodes/ping", None);
    assert_eq!(status, 418, "{ping}");
    assert_eq!(ping["Name"], "node-b");
    assert_eq!(b.get("/api/octopusservernodes/ping").unwrap().0, 418);
    assert_eq!(a.get("/api/octopusservernodes/ping").unwrap().0, 200);
    let later: Vec<String> = releases[1..]
        .iter()
        .map(|r| deploy(&b, &key, r, &env))
        .collect();
    // B finishes what it had.
    let done = b.wait_task(&key, &on_b, &["Success", "Failed"], 20);
    assert_eq!(done["State"], "Success", "{done}");
    for t in &later {
        let done = a.wait_task(&key, t, &["Success", "Failed"], 30);
        assert_eq!(done["State"], "Success", "{done}");
        assert_eq!(done["ServerNode"], "node-a", "a draining node took {t}");
    }
    // Undrain: 200 again, and B takes work.
    drain(&a, &key, "node-b", false);
    assert_eq!(b.get("/api/octopusservernodes/ping").unwrap().0, 200);
    drain(&a, &key, "node-a", true);
    let again = deploy(&a, &key, &releases[0], &env);
    let done = b.wait_task(&key, &again, &["Success", "Failed"], 20);
    assert_eq!(done["ServerNode"], "node-b", "{done}");
}

#[test]
fn a_node_killed_with_sigkill_has_its_tasks_failed_by_another_node_and_nothing_queued_is_lost() {
    let (dir, key) = cluster_dir("");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let mut b = Server::node(&dir.node_dir("node-b"), "node-b");
    let c = Server::node(&dir.node_dir("node-c"), "node-c");
    // Release 1 of each project runs for five minutes, release 2 at once.
    let shared = common::shared_dir();
    let pids = shared.path().join("long.pids");
    let script = format!(
        "if [ \"$DRYDOCK_RELEASE\" = 1 ]; then echo $$ >> {}; echo begun; sleep 300; else echo ok; fi",
        pids.display()
    );
    let (releases, env) = releases(&a, &key, 2, &script);
    let (_, first) = a.api(&key, "GET", &format!("/api/releases/{}", releases[0]), None);
    let quick = a.create(
        &key,
        "/api/releases",
        json!({"ProjectId": first["ProjectId"], "Version": "2"}),
    );
    // Only B may claim while the long tasks are queued.
    drain(&a, &key, "node-a", true);
    drain(&a, &key, "node-c", true);
    let long: Vec<String> = releases[..2]
        .iter()
        .map(|r| deploy(&b, &key, r, &env))
        .collect();
    for t in &long {
        assert_eq!(
            b.wait_task(&key, t, &["Executing"], 20)["ServerNode"],
            "node-b"
        );
    }
    // Queued behind the first long task's concurrency tag: it waits for B's task to end.
    let behind = deploy(&a, &key, &quick, &env);
    drain(&a, &key, "node-a", false);
    drain(&a, &key, "node-c", false);

    // Executing is recorded at the claim, before the script runs: both scripts begun.
    common::poll_until(20, "the long scripts never began", || {
        std::fs::read_to_string(&pids).is_ok_and(|p| p.lines().count() == 2)
    });
    b.child.kill().unwrap();
    b.child.wait().unwrap();
    let killed = Instant::now();
    // The other nodes go on meanwhile.
    let other_env = a.create(&key, "/api/environments", json!({"Name": "Test"}));
    let quick_tasks: Vec<String> = (0..4)
        .map(|_| deploy(&a, &key, &quick, &other_env))
        .collect();
    for t in &quick_tasks {
        let done = a.wait_task(&key, t, &["Success", "Failed"], 20);
        assert_eq!(done["State"], "Success", "{done}");
        assert_ne!(done["ServerNode"], "node-b");
    }
    for t in &long {
        let done = a.wait_task(&key, t, &["Failed", "Success", "Canceled"], 30);
        assert_eq!(done["State"], "Failed", "{done}");
        assert_eq!(done["ErrorMessage"], "interrupted: server node offline");
    }
    let took = killed.elapsed();
    // The node's last heartbeat was at most at the kill; two seconds of slack for the
    // system task's own queueing and this test's polling.
    let bound = Duration::from_secs(OFFLINE_SECS + NODE_HEALTH_SECS + 2);
    assert!(
        took <= bound,
        "failed after {took:?}, more than {bound:?} after the kill"
    );
    let (_, nodes) = a.api(&key, "GET", "/api/octopusservernodes", None);
    let b_node = nodes["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["Name"] == "node-b")
        .unwrap()
        .clone();
    assert_eq!(b_node["IsOffline"], true, "{b_node}");
    // Nothing queued was lost: the task waiting behind the dead node's tag runs now.
    let done = c.wait_task(&key, &behind, &["Success", "Failed"], 30);
    assert_eq!(done["State"], "Success", "{done}");
    let scripts: Vec<String> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(scripts.len(), 2);
    // On one host another node stops what the dead node's scripts left running. Nodes
    // on hosts of their own (PostgreSQL) cannot reach each other's processes: the node
    // stops them itself when it comes back.
    let _back = (dir.node_dir("node-b") != dir.path()).then(|| {
        assert!(
            scripts.iter().all(|p| alive(p)),
            "nothing stops them from afar"
        );
        Server::node(&dir.node_dir("node-b"), "node-b")
    });
    common::poll_until(
        10,
        &format!("orphaned scripts still run: {scripts:?}"),
        || !scripts.iter().any(|p| alive(p)),
    );
}

#[test]
fn maintenance_enabled_through_one_node_refuses_a_deployer_on_another() {
    let (dir, key) = cluster_dir("");
    create_user(
        dir.path(),
        "dana",
        "Project Deployer",
        "a long enough password",
    );
    let dana = api_key(dir.path(), "dana");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    let (releases, env) = releases(&a, &key, 1, "true");
    deploy(&b, &dana, &releases[0], &env);

    let (status, body) = a.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"Id": "maintenance", "IsInMaintenanceMode": true, "Message": "Upgrading"})),
    );
    assert_eq!(status, 200, "{body}");
    // The very next request on B is refused, and its shape is Octopus's.
    let (status, refused) = b.api(
        &dana,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": releases[0], "EnvironmentId": env})),
    );
    assert_eq!(status, 503, "{refused}");
    assert_eq!(refused["MaintenanceMessage"], "Upgrading", "{refused}");
    let (_, status_b) = b.api(&dana, "GET", "/api/serverstatus", None);
    assert_eq!(status_b["IsInMaintenanceMode"], true);
    // An administrator on B still deploys.
    deploy(&b, &key, &releases[0], &env);
    // Disabled through B, the deployer is accepted on A at once.
    let (status, _) = b.api(
        &key,
        "PUT",
        "/api/maintenanceconfiguration",
        Some(json!({"IsInMaintenanceMode": false})),
    );
    assert_eq!(status, 200);
    deploy(&a, &dana, &releases[0], &env);
}

#[test]
fn sigterm_waits_for_running_tasks_cancels_the_rest_within_the_grace_period_and_marks_the_node_stopped(
) {
    let grace = 2;
    let (dir, key) = cluster_dir(&format!("shutdown_grace_secs = {grace}\n"));
    let shared = common::shared_dir();
    let pid_file = shared.path().join("long.pid");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let short_release = {
        let p = a.create(
            &key,
            "/api/projects",
            json!({"Name": "Short", "DeploymentScript": "sleep 1; echo finished"}),
        );
        a.create(
            &key,
            "/api/releases",
            json!({"ProjectId": p, "Version": "1"}),
        )
    };
    let long_release = {
        let script = format!("echo $$ > {}; sleep 300", pid_file.display());
        let p = a.create(
            &key,
            "/api/projects",
            json!({"Name": "Long", "DeploymentScript": script}),
        );
        a.create(
            &key,
            "/api/releases",
            json!({"ProjectId": p, "Version": "1"}),
        )
    };
    let env = a.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let short = deploy(&a, &key, &short_release, &env);
    let long = deploy(&a, &key, &long_release, &env);
    a.wait_task(&key, &short, &["Executing"], 20);
    a.wait_task(&key, &long, &["Executing"], 20);
    // Read until whole: the shell creates the file before it writes the number.
    let script_pid: i32 = common::poll_for(
        20,
        || "the long script wrote its pid".to_string(),
        || {
            std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|t| t.trim().parse().ok())
        },
    );

    let mut a = a;
    kill(Pid::from_raw(a.child.id() as i32), Signal::SIGTERM).unwrap();
    let sent = Instant::now();
    let status = a.wait_exit(grace + 10);
    let took = sent.elapsed();
    assert!(status.success(), "exit {status:?}: {}", a.output());
    // The grace period, then up to cancel_grace_ms (1 s) for the script to die, plus slack.
    assert!(
        took < Duration::from_secs(grace + 3),
        "took {took:?}: {}",
        a.output()
    );
    assert!(took >= Duration::from_secs(grace), "did not wait: {took:?}");
    assert!(
        kill(Pid::from_raw(script_pid), None).is_err(),
        "the cancelled script outlived its node"
    );

    // Read the outcome through another node.
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    // Nothing of node-a's is left running (node-b may already run its own NodeHealth).
    let (_, executing) = b.api(
        &key,
        "GET",
        "/api/tasks?states=Executing,Cancelling&node=node-a",
        None,
    );
    assert_eq!(executing["TotalResults"], 0, "{executing}");
    let short = task(&b, &key, &short);
    assert_eq!(short["State"], "Success", "{short}");
    let long_task = task(&b, &key, &long);
    assert_eq!(long_task["State"], "Canceled", "{long_task}");
    let (_, raw) = b.api(&key, "GET", &format!("/api/tasks/{long}/raw"), None);
    assert!(
        raw.as_str().unwrap().contains("grace period"),
        "the log says why: {raw}"
    );
    let (code, out, err) = run_cli(dir.path(), &["node", "list"], "");
    assert_eq!(code, 0, "{err}");
    let line = out.lines().find(|l| l.starts_with("node-a")).unwrap();
    assert!(line.contains("Stopped"), "{out}");
    assert!(a.output().contains("node node-a stopped"), "{}", a.output());
}

#[test]
fn sigterm_on_an_idle_node_exits_at_once() {
    let (dir, _key) = cluster_dir("shutdown_grace_secs = 30\n");
    let mut a = Server::node(&dir.node_dir("node-a"), "node-a");
    kill(Pid::from_raw(a.child.id() as i32), Signal::SIGTERM).unwrap();
    let sent = Instant::now();
    a.wait_exit(10);
    assert!(
        sent.elapsed() < Duration::from_secs(3),
        "an idle node took {:?}",
        sent.elapsed()
    );
}

#[test]
fn a_second_sigterm_cancels_at_once_instead_of_waiting_out_the_grace_period() {
    let (dir, key) = cluster_dir("shutdown_grace_secs = 60\n");
    let mut a = Server::node(&dir.node_dir("node-a"), "node-a");
    let (releases, env) = releases(&a, &key, 1, "sleep 300");
    let long = deploy(&a, &key, &releases[0], &env);
    a.wait_task(&key, &long, &["Executing"], 20);
    let pid = Pid::from_raw(a.child.id() as i32);
    kill(pid, Signal::SIGTERM).unwrap();
    common::poll_for(
        10,
        || a.output(),
        || a.output().contains("is stopping").then_some(()),
    );
    kill(pid, Signal::SIGTERM).unwrap();
    let status = a.wait_exit(10);
    assert!(status.success(), "{}", a.output());
    assert!(a.output().contains("second signal"), "{}", a.output());
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    let t = task(&b, &key, &long);
    assert_eq!(t["State"], "Canceled", "{t}");
}

/// Behind a load balancer without stickiness: the sign-in form comes from one node and
/// is posted to another, and the session works through every node. On PostgreSQL the
/// nodes have data directories of their own (as on separate hosts): the cookie key they
/// share is the cluster's, kept in the database.
#[test]
fn a_session_made_through_one_node_works_through_another() {
    use common::raw::{login_form, post_login, send};
    let (dir, _) = cluster_dir("");
    create_user(
        dir.path(),
        "dana",
        "Project Deployer",
        "a long enough password",
    );
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    let form = login_form(a.port);
    let signed = post_login(b.port, &form, "dana", "a long enough password", "");
    assert_eq!(signed.status, 303, "{}{}", signed.head, signed.body);
    let token = signed.cookie("drydock_session").expect("a session cookie");
    let cookie = format!("drydock_session={token}");
    for server in [&a, &b] {
        let me = send(
            server.port,
            "GET",
            "/api/users/me",
            &[("Cookie", &cookie)],
            "",
        );
        assert_eq!(me.status, 200, "{}", me.body);
        assert!(me.body.contains("\"dana\""), "{}", me.body);
    }
    // A form read through B is accepted through A (its CSRF token is the session's).
    let profile = send(b.port, "GET", "/profile", &[("Cookie", &cookie)], "");
    let csrf = common::hidden_value(&profile.body, "csrf_token").expect("a CSRF token");
    let signed_out = send(
        a.port,
        "POST",
        "/logout",
        &[
            ("Cookie", &cookie),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        &format!("csrf_token={csrf}"),
    );
    assert_eq!(
        signed_out.status, 303,
        "{}{}",
        signed_out.head, signed_out.body
    );
    let me = send(b.port, "GET", "/api/users/me", &[("Cookie", &cookie)], "");
    assert_eq!(me.status, 401, "signed out through A, refused through B");
}
