//! Nodes that recover by themselves when the database fails under them (issue 29):
//! what a running task records is retried until it commits.

use crate::common;

use std::time::{Duration, Instant};

use common::server::{api_key, Server};
use serde_json::json;

/// Project `Web` running `script`, environment `Prod`, and release `1`: its id.
fn web_release(server: &Server, key: &str, script: &str) -> String {
    server.create(
        key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": script}),
    );
    server.create(key, "/api/environments", json!({"Name": "Prod"}));
    server.create(
        key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1"}),
    )
}

/// A script's end that could not be recorded (the disk under the database full) is
/// recorded once it can be: the task does not stay Executing for ever, and its log
/// keeps what the script printed meanwhile.
#[test]
fn a_task_whose_end_cannot_be_written_ends_once_the_database_can_be() {
    if !crate::attacks_host::running_as_root() {
        return;
    }
    let Some(small) = crate::attacks_host::SmallDisk::serve() else {
        return;
    };
    let (key, server) = (&small.key, &small.server);
    let shared = common::shared_dir();
    let go = shared.path().join("go");
    let script = format!(
        "echo started\nfor i in $(seq 600); do [ -e {} ] && break; sleep 0.1; done\necho finished while the disk was full\n",
        go.display()
    );
    let release = web_release(server, key, &script);
    let (status, deployment) = server.api(
        key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": "Environments-1"})),
    );
    assert_eq!(status, 201, "{deployment}");
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    server.wait_task(key, &task, &["Executing"], 30);

    // Fill the disk, until the database refuses a write.
    let (filler, _, _) = small.fill_until_refused();

    // The script ends now: its end cannot be written.
    std::fs::write(&go, "").unwrap();
    common::poll_until(20, "the end was never tried", || {
        let output = server.output();
        output.contains(&format!("could not record the log of {task}"))
            || output.contains(&format!("could not record the end of {task}"))
    });
    std::fs::remove_file(&filler).unwrap();
    let ended = server.wait_task(
        key,
        &task,
        &["Success", "Failed", "Canceled", "TimedOut"],
        30,
    );
    assert_eq!(ended["State"], "Success", "{ended}");
    let (_, log) = server.api(key, "GET", &format!("/api/tasks/{task}/raw"), None);
    let log = log.as_str().map_or_else(|| log.to_string(), str::to_string);
    assert!(log.contains("finished while the disk was full"), "{log}");
}

/// The suite's PostgreSQL database for `dir`, and the same database through `proxy`.
pub(crate) fn through(dir: &common::DataDir, proxy_port: Option<u16>) -> String {
    let url = common::db::config_for(dir.path())
        .database_url
        .expect("a PostgreSQL data directory");
    let Some(port) = proxy_port else {
        return url;
    };
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, rest) = rest.split_once('@').unwrap();
    let (_, path) = rest.split_once('/').unwrap();
    format!("{scheme}://{user}@127.0.0.1:{port}/{path}")
}

/// The PostgreSQL server's own address (host:port), from the suite's URL.
pub(crate) fn server_address() -> String {
    let url = std::env::var("DRYDOCK_TEST_POSTGRES").unwrap();
    let rest = url.split_once('@').unwrap().1;
    rest.split_once('/').unwrap().0.to_string()
}

/// `method path` on `port`: (status, body, how long the answer took).
fn timed(
    server: &Server,
    key: &str,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let (status, body) = server.api(key, method, path, body);
    (status, body, started.elapsed())
}

/// Cut off from its database (a black hole: nothing answers, nothing closes), a node
/// answers `/api/health` and the ping 503 within their bound, a change 503 (never 500)
/// within the connection deadlines, and works again by itself once the network heals.
#[test]
fn a_node_cut_off_from_postgresql_answers_503_in_time_and_recovers_by_itself() {
    if common::pg::skip() {
        return;
    }
    let dir = common::data_dir_on(true);
    let proxy = common::fault_proxy::FaultProxy::to(&server_address());
    dir.configure("");
    std::fs::write(
        dir.path().join(drydock::config::CONFIG_FILE),
        format!(
            "database_url = \"{}\"\nheartbeat_secs = 1\n",
            through(&dir, Some(proxy.port))
        ),
    )
    .unwrap();
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let first_release = web_release(&server, &key, "echo hi");
    let deploy = |version: &str| {
        let release = if version == "1" {
            first_release.clone()
        } else {
            server.create(
                &key,
                "/api/releases",
                json!({"ProjectId": "Projects-1", "Version": version}),
            )
        };
        server.api(
            &key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": "Environments-1"})),
        )
    };
    let (status, first) = deploy("1");
    assert_eq!(status, 201, "{first}");
    server.wait_task(&key, first["TaskId"].as_str().unwrap(), &["Success"], 30);

    proxy.black_hole();
    for path in ["/api/health", "/api/octopusservernodes/ping", "/api/health"] {
        let (status, body, took) = timed(&server, &key, "GET", path, None);
        assert_eq!(status, 503, "{path} while cut off: {body}");
        assert!(took < Duration::from_secs(6), "{path} took {took:?}");
    }
    let (status, body, took) = timed(
        &server,
        &key,
        "POST",
        "/api/environments",
        Some(json!({"Name": "While cut off"})),
    );
    assert_eq!(status, 503, "a change while cut off: {body}");
    assert!(took < Duration::from_secs(30), "the change took {took:?}");

    proxy.pass();
    let healed = Instant::now();
    let deadline = healed + Duration::from_secs(30);
    common::poll_until(30, "it never recovered", || {
        matches!(server.get("/api/health"), Some((200, _)))
    });
    let recovered = healed.elapsed();
    let left = deadline.saturating_duration_since(Instant::now()).as_secs() + 1;
    let (status, again) = common::poll_for(
        left,
        || "every deployment was refused 503".into(),
        || Some(deploy("2")).filter(|(status, _)| *status != 503),
    );
    assert_eq!(status, 201, "{again}");
    server.wait_task(&key, again["TaskId"].as_str().unwrap(), &["Success"], 30);
    eprintln!("cut off: health answered 503 within 6 s; healthy again {recovered:?} after the network healed");
}

/// A node cut off right after it took the queue's claim lock (its session in the
/// middle of a transaction, nothing answering): the server ends that session after
/// `idle_in_transaction_session_timeout`, so the other nodes claim again within
/// seconds, not when TCP gives up (hours).
#[test]
fn a_node_cut_off_holding_the_claim_lock_does_not_freeze_the_cluster() {
    if common::pg::skip() {
        return;
    }
    let dir = common::data_dir_on(true);
    dir.configure("heartbeat_secs = 1\n");
    let key = api_key(dir.path(), "admin");
    let server = Server::start(dir.path());
    let release = web_release(&server, &key, "echo hi");

    // Another node's session, as drydock opens one, through a link about to be cut:
    // it takes the claim lock (store::claim's key), and then nothing more is heard.
    let proxy = common::fault_proxy::FaultProxy::to(&server_address());
    let cut = drydock::store::sql::PgManager::new(&through(&dir, Some(proxy.port))).unwrap();
    let mut client = cut.connect_client().unwrap();
    // Not a `Transaction`, whose drop would send ROLLBACK into the black hole and wait.
    client
        .batch_execute("BEGIN; SELECT pg_advisory_xact_lock(110442825646081)")
        .unwrap();
    proxy.black_hole();
    let cut_at = Instant::now();
    // Meanwhile this node's heartbeat stays fresh: it is not written behind the lock,
    // so the others' NodeHealth never takes the live node for a dead one.
    let watcher = {
        let dir = dir.path().to_path_buf();
        std::thread::spawn(move || {
            let db = common::db::Db::for_dir(&dir);
            let mut stalest = 0;
            let until = Instant::now() + Duration::from_secs(8);
            while Instant::now() < until {
                let seen: i64 = db.one("SELECT MAX(last_seen) FROM nodes", &[]);
                stalest = stalest.max(drydock::clock::now_ms() - seen);
                std::thread::sleep(Duration::from_millis(200));
            }
            stalest
        })
    };

    let deadline = cut_at + Duration::from_secs(40);
    let (status, deployment) = loop {
        let (status, body) = server.api(
            &key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": "Environments-1"})),
        );
        assert_ne!(status, 500, "{body}");
        if status != 503 || Instant::now() > deadline {
            break (status, body);
        }
    };
    assert_eq!(status, 201, "{deployment}");
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    let left = deadline
        .saturating_duration_since(Instant::now())
        .as_secs()
        .max(1);
    server.wait_task(&key, &task, &["Success"], left);
    let stalest = watcher.join().unwrap();
    assert!(
        stalest < 4_000,
        "the live node's heartbeat went {stalest} ms stale behind the claim lock"
    );
    eprintln!(
        "claim lock holder cut off: the cluster claimed again {:?} after the cut; the live node's heartbeat was at most {stalest} ms old",
        cut_at.elapsed()
    );
    proxy.reset();
    drop(client);
}

/// A claim that committed though this node never learnt it had (its `COMMIT`'s answer
/// lost with the connection): the database says the task runs here, nothing runs it.
/// Two heartbeats later it is back in the queue, and runs once.
#[test]
fn a_claim_this_node_never_began_goes_back_to_the_queue_and_runs() {
    let app = common::TestApp::with(|c| c.heartbeat_secs = 1);
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let shared = common::shared_dir();
    let record = shared.path().join("ran");
    let (_, env, release) = common::project_env_release(
        &client,
        &key,
        &format!("echo \"$DRYDOCK_TASK_ID\" >> {}", record.display()),
    );
    // One that runs now names the node.
    let first = common::deploy(&client, &key, &release, &env);
    let first = common::wait_completed(&client, &key, &first, 20);
    let node = first["ServerNode"].as_str().unwrap().to_string();
    let (status, deployment) = common::json_of(common::with_key(
        &client,
        rocket::http::Method::Post,
        "/api/deployments",
        &key,
        Some(
            json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": "2099-01-01T00:00:00+00:00"}),
        ),
    ));
    assert_eq!(status, rocket::http::Status::Created, "{deployment}");
    let task = deployment["TaskId"].as_str().unwrap().to_string();
    let id: i64 = task.strip_prefix("ServerTasks-").unwrap().parse().unwrap();
    // Claimed for this node in the database, as that lost commit left it.
    let now = drydock::clock::now_ms();
    app.db().exec(
        "UPDATE tasks SET state = 'Executing', server_node = ?2, start_time = ?3, queue_time = ?3
         WHERE id = ?1",
        &[&id, &node, &now],
    );
    let done = common::wait_completed(&client, &key, &task, 20);
    assert_eq!(done["State"], "Success", "{done}");
    let ran = std::fs::read_to_string(&record).unwrap();
    let ran: Vec<&str> = ran.lines().collect();
    assert_eq!(
        ran,
        [first["Id"].as_str().unwrap(), task.as_str()],
        "each ran once"
    );
}
