//! Three nodes on PostgreSQL, each reaching the database through a fault proxy of its
//! own (`common::fault_proxy`), heartbeat 1 s, offline after 8 s (issue 29). After each
//! fault: every acknowledged deployment ends within a stated bound, none ran twice (by
//! the scripts' own records), nothing answered 500, health and ping answered within
//! their bound, and a script the cluster marked Failed did not keep running.

use crate::common;
use crate::db_faults::{server_address, through};

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::fault_proxy::FaultProxy;
use common::server::{alive, api_key, drain, Server};
use serde_json::json;

pub(crate) const OFFLINE_SECS: u64 = 8;
/// What `/api/health` and the ping may take, cut off or not (`api::status`'s 3 s and
/// this test's own slack).
pub(crate) const ANSWER_BOUND: Duration = Duration::from_millis(4500);
/// Projects with a quick script (one concurrency tag each, so they run side by side).
pub(crate) const QUICK: usize = 5;

pub(crate) struct Cluster {
    pub(crate) dir: common::DataDir,
    pub(crate) key: String,
    pub(crate) proxies: Vec<FaultProxy>,
    pub(crate) nodes: Vec<Server>,
    /// Where each script writes `<task id> <pid>` when it begins.
    record: PathBuf,
    _shared: tempfile::TempDir,
    /// Release ids: `QUICK` quick ones, then the long one.
    pub(crate) releases: Vec<String>,
    pub(crate) env: String,
}

impl Cluster {
    /// The cluster, in the suite's PostgreSQL pass (its SQLite pass would only run the
    /// same again).
    pub(crate) fn start() -> Option<Cluster> {
        if common::pg::skip() || !common::pg::suite_on_postgres() {
            return None;
        }
        let dir = common::data_dir_on(true);
        let settings = format!(
            "heartbeat_secs = 1\nnode_offline_secs = {OFFLINE_SECS}\nqueue_poll_ms = 200\n\
             cancel_grace_ms = 1000\ntask_cap = 3\n"
        );
        dir.configure(&settings);
        let key = api_key(dir.path(), "admin");
        let mut proxies = Vec::new();
        let mut nodes = Vec::new();
        for n in 1..=3 {
            let name = format!("node-{n}");
            let proxy = FaultProxy::to(&server_address());
            let own = dir.node_dir(&name);
            std::fs::write(
                own.join(drydock::config::CONFIG_FILE),
                format!(
                    "database_url = \"{}\"\n{}{settings}",
                    plain(&through(&dir, Some(proxy.port))),
                    dir.master_key_setting()
                ),
            )
            .unwrap();
            nodes.push(Server::node(&own, &name));
            proxies.push(proxy);
        }
        let shared = common::shared_dir();
        let record = shared.path().join("record");
        let begin = format!(
            "echo \"${{DRYDOCK_TASK_ID#ServerTasks-}} $$\" >> {}",
            record.display()
        );
        let a = &nodes[0];
        let env = a.create(&key, "/api/environments", json!({"Name": "Prod"}));
        let mut releases = Vec::new();
        for i in 0..=QUICK {
            let script = if i < QUICK {
                format!("{begin}\nsleep 0.2\necho done")
            } else {
                format!("{begin}\nsleep 120")
            };
            let project = a.create(
                &key,
                "/api/projects",
                json!({"Name": format!("P{i}"), "DeploymentScript": script}),
            );
            releases.push(a.create(
                &key,
                "/api/releases",
                json!({"ProjectId": project, "Version": "1"}),
            ));
        }
        Some(Cluster {
            dir,
            key,
            proxies,
            nodes,
            record,
            _shared: shared,
            releases,
            env,
        })
    }

    /// POSTs a deployment of release `r` through node `n`: the status, and the task id
    /// when acknowledged.
    pub(crate) fn deploy(&self, n: usize, r: usize) -> (u16, Option<i64>) {
        let (status, body) = self.nodes[n].api(
            &self.key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": self.releases[r], "EnvironmentId": self.env})),
        );
        let task = body["TaskId"]
            .as_str()
            .and_then(|t| t.strip_prefix("ServerTasks-"))
            .and_then(|t| t.parse().ok());
        (status, task.filter(|_| status == 201))
    }

    /// What the scripts recorded: pid by task id, and any task that began twice.
    pub(crate) fn record(&self) -> (BTreeMap<i64, String>, Vec<i64>) {
        let text = std::fs::read_to_string(&self.record).unwrap_or_default();
        let mut began = BTreeMap::new();
        let mut twice = Vec::new();
        for line in text.lines() {
            let Some((task, pid)) = line.split_once(' ') else {
                continue;
            };
            let task: i64 = task.parse().unwrap();
            if began.insert(task, pid.to_string()).is_some() {
                twice.push(task);
            }
        }
        (began, twice)
    }

    /// Tasks among `ids` not ended yet.
    pub(crate) fn open(&self, db: &common::db::Db, ids: &[i64]) -> Vec<i64> {
        let ended: Vec<i64> = db
            .rows(
                "SELECT id FROM tasks WHERE state IN ('Success', 'Failed', 'Canceled', 'TimedOut')",
                &[],
            )
            .iter()
            .map(|r| r.get(0).unwrap())
            .collect();
        ids.iter()
            .filter(|id| !ended.contains(id))
            .copied()
            .collect()
    }

    /// `(state, error)` of task `id`.
    pub(crate) fn state(&self, db: &common::db::Db, id: i64) -> (String, Option<String>) {
        let rows = db.rows(
            "SELECT state, error_message FROM tasks WHERE id = ?1",
            &[&id],
        );
        (rows[0].get(0).unwrap(), rows[0].get(1).unwrap())
    }

    /// Health and ping of every node, each answered within [`ANSWER_BOUND`] and never
    /// with a 500.
    pub(crate) fn probe(&self, statuses: &Mutex<Vec<u16>>) {
        for node in &self.nodes {
            for path in ["/api/health", "/api/octopusservernodes/ping"] {
                let began = Instant::now();
                let status = node.get(path).map_or(0, |(s, _)| s);
                let took = began.elapsed();
                assert!(took <= ANSWER_BOUND, "{path} took {took:?}");
                assert!(status != 0 && status != 500, "{path} answered {status}");
                statuses.lock().unwrap().push(status);
            }
        }
    }
}

/// Posts quick deployments round the nodes until `stop`: every status, and the
/// acknowledged task ids.
fn post_until(cluster: &Cluster, stop: &AtomicBool) -> (Vec<u16>, Vec<i64>) {
    let (mut statuses, mut acknowledged) = (Vec::new(), Vec::new());
    let mut i = 0;
    while !stop.load(Ordering::SeqCst) {
        let (status, task) = cluster.deploy(i % 3, i % QUICK);
        statuses.push(status);
        acknowledged.extend(task);
        i += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    (statuses, acknowledged)
}

/// Prints `text` and leaves it for scripts/test.sh to print at the end of the run.
pub(crate) fn report(fault: &str, text: &str) {
    print!("{text}");
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("report-cluster-faults-{fault}.txt")),
        text,
    );
}

/// `url` without TLS, so that the fault proxy can see which statement goes by (to cut
/// right after it).
pub(crate) fn plain(url: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}sslmode=disable")
}

/// `IsInMaintenanceMode` set to `on` through `server`, retried while it answers 503
/// (the database busy): how long it took.
pub(crate) fn set_maintenance(server: &Server, key: &str, on: bool, within: Duration) -> Duration {
    let began = Instant::now();
    loop {
        let (status, body) = server.api(
            key,
            "PUT",
            "/api/maintenanceconfiguration",
            Some(json!({"Id": "maintenance", "IsInMaintenanceMode": on, "Message": "Upgrading"})),
        );
        if status == 200 {
            return began.elapsed();
        }
        assert_eq!(status, 503, "{body}");
        assert!(
            began.elapsed() < within,
            "maintenance never turned on: {body}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Whether a session of node `name` holds an advisory lock (the claim lock).
pub(crate) fn holds_claim_lock(db: &common::db::Db, name: &str) -> bool {
    let held: i64 = db.one(
        "SELECT COUNT(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE ?1",
        &[&format!("%{name}%")],
    );
    held > 0
}

/// The database restarts under load (every node's connections closed, a second down),
/// then stops for 20 s and comes back. While it is down the nodes answer 503, never 500, in time;
/// the long script is stopped by its own node before anyone could take the node for
/// dead; once it is back every acknowledged deployment ends, none twice, and no live
/// node is declared offline for the heartbeats the stop cost everyone.
#[test]
fn a_database_restarted_and_stopped_for_20_s_under_load_is_recovered_from_by_every_node() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    let (_, long) = cluster.deploy(0, QUICK);
    let long = long.expect("the long deployment acknowledged");
    common::poll_until(30, "the long script never began", || {
        cluster.record().0.contains_key(&long)
    });
    let long_pid = cluster.record().0[&long].clone();

    let stop = AtomicBool::new(false);
    let probes = Mutex::new(Vec::new());
    let (statuses, acknowledged, stopped_after, first_201_after, healed) =
        std::thread::scope(|scope| {
            let poster = scope.spawn(|| post_until(&cluster, &stop));
            // Load first, a restart (every connection dropped, a second down), more
            // load, then the stop.
            std::thread::sleep(Duration::from_secs(2));
            for proxy in &cluster.proxies {
                proxy.down();
            }
            std::thread::sleep(Duration::from_secs(1));
            for proxy in &cluster.proxies {
                proxy.pass();
            }
            std::thread::sleep(Duration::from_secs(2));
            for proxy in &cluster.proxies {
                proxy.down();
            }
            let down = Instant::now();
            // While down: the long script stopped well before the 8 s after which the
            // cluster could fail its task (watched apart: a probe may take 3 s) ...
            let long_pid = &long_pid;
            let watcher = scope.spawn(move || {
                while down.elapsed() < Duration::from_secs(20) {
                    if !alive(long_pid) {
                        return Some(down.elapsed());
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                None
            });
            // ... and probes answered in time.
            while down.elapsed() < Duration::from_secs(20) {
                cluster.probe(&probes);
                std::thread::sleep(Duration::from_millis(250));
            }
            let stopped_after = watcher.join().unwrap();
            for proxy in &cluster.proxies {
                proxy.pass();
            }
            let healed = Instant::now();
            // Until a deployment is acknowledged again, then a little more load.
            let first_201_after = loop {
                let (status, _) = cluster.deploy(1, 0);
                assert_ne!(status, 500);
                if status == 201 || healed.elapsed() > Duration::from_secs(30) {
                    break healed.elapsed();
                }
                std::thread::sleep(Duration::from_millis(100));
            };
            std::thread::sleep(Duration::from_secs(2));
            stop.store(true, Ordering::SeqCst);
            let (statuses, acknowledged) = poster.join().unwrap();
            (
                statuses,
                acknowledged,
                stopped_after,
                first_201_after,
                healed,
            )
        });

    let errors: Vec<&u16> = statuses
        .iter()
        .filter(|s| **s >= 500 && **s != 503)
        .collect();
    assert!(errors.is_empty(), "answers other than 503: {errors:?}");
    assert!(statuses.contains(&503), "the stop was never seen");
    let stopped_after = stopped_after.expect("the long script ran on through the stop");
    assert!(
        stopped_after < Duration::from_secs(OFFLINE_SECS),
        "its node stopped the script only after {stopped_after:?}"
    );
    // Every acknowledged deployment ends (none left Queued or Executing).
    let bound = Duration::from_secs(60);
    let mut waiting = acknowledged.clone();
    waiting.push(long);
    common::poll_until(
        bound.as_secs(),
        "acknowledged deployments never ended",
        || cluster.open(&db, &waiting).is_empty(),
    );
    let all_ended = healed.elapsed();
    let (began, twice) = cluster.record();
    assert!(twice.is_empty(), "ran twice: {twice:?}");
    // The quick ones that did not run before the stop ran after it; a quick one
    // interrupted by it failed, saying why, and stopped.
    let mut failed = 0;
    for id in &acknowledged {
        let (state, error) = cluster.state(&db, *id);
        if state == "Failed" {
            failed += 1;
            eprintln!("failed by the stop: ServerTasks-{id}: {error:?}");
            assert!(
                !error
                    .as_deref()
                    .unwrap_or("")
                    .contains("server node offline"),
                "a live node was taken for dead: ServerTasks-{id}: {error:?}"
            );
            if let Some(pid) = began.get(id) {
                assert!(!alive(pid), "ServerTasks-{id} failed but its script runs");
            }
        } else {
            assert_eq!(state, "Success", "ServerTasks-{id}: {error:?}");
        }
    }
    let (state, error) = cluster.state(&db, long);
    assert_eq!(state, "Failed", "{error:?}");
    assert_eq!(
        error.as_deref(),
        Some(drydock::queue::runner::CUT_OFF),
        "the long task"
    );
    assert!(!alive(&long_pid));
    let probes = probes.into_inner().unwrap();
    let summary = format!(
        "database restart and 20 s stop: {} POSTs ({} acknowledged, {} answered 503, {failed} failed by the stop); \
         {} probes in time; long script stopped {:.1} s into the stop; \
         first deployment acknowledged {:.1} s after the database came back, \
         every acknowledged one ended {:.1} s after\n",
        statuses.len(),
        acknowledged.len(),
        statuses.iter().filter(|s| **s == 503).count(),
        probes.len(),
        stopped_after.as_secs_f64(),
        first_201_after.as_secs_f64(),
        all_ended.as_secs_f64(),
    );
    report("restart", &summary);
}

/// Every connection of every node reset again and again during a burst of deployment
/// POSTs, each sent with an `Idempotency-Key` and retried with it until acknowledged:
/// nothing answers 500, every request is acknowledged once with one deployment, and
/// every deployment runs once.
#[test]
fn connection_resets_during_a_burst_of_posts_deploy_each_request_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    const PER_NODE: usize = 30;
    let stop = AtomicBool::new(false);
    let began = Instant::now();
    let (answers, acknowledged, resets) = std::thread::scope(|scope| {
        let resetter = scope.spawn(|| {
            let mut resets = 0;
            while !stop.load(Ordering::SeqCst) {
                for proxy in &cluster.proxies {
                    proxy.reset();
                }
                resets += 1;
                std::thread::sleep(Duration::from_millis(150));
            }
            resets
        });
        let posters: Vec<_> = (0..3)
            .map(|n| {
                let cluster = &cluster;
                scope.spawn(move || {
                    let (mut answers, mut acknowledged) = (Vec::new(), Vec::new());
                    for i in 0..PER_NODE {
                        let key = format!("burst-{n}-{i}");
                        let body = json!({
                            "ReleaseId": cluster.releases[i % QUICK],
                            "EnvironmentId": cluster.env,
                        })
                        .to_string();
                        let first = Instant::now();
                        loop {
                            let answer = cluster.nodes[n].request(
                                "POST",
                                "/api/deployments",
                                &[
                                    ("X-Octopus-ApiKey", &cluster.key),
                                    ("Content-Type", "application/json"),
                                    ("Idempotency-Key", &key),
                                ],
                                &body,
                            );
                            // A connection the server closed is a retry too.
                            let (status, text) = answer.unwrap_or((0, String::new()));
                            answers.push(status);
                            if status == 201 {
                                let task: serde_json::Value = serde_json::from_str(&text).unwrap();
                                acknowledged
                                    .push((key, task["TaskId"].as_str().unwrap().to_string()));
                                break;
                            }
                            assert!(status == 503 || status == 0, "{key}: {status} {text}");
                            assert!(
                                first.elapsed() < Duration::from_secs(60),
                                "{key} never acknowledged"
                            );
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                    (answers, acknowledged)
                })
            })
            .collect();
        let mut answers = Vec::new();
        let mut acknowledged = Vec::new();
        for poster in posters {
            let (a, k) = poster.join().unwrap();
            answers.extend(a);
            acknowledged.extend(k);
        }
        stop.store(true, Ordering::SeqCst);
        (answers, acknowledged, resetter.join().unwrap())
    });
    let burst = began.elapsed();
    assert!(!answers.contains(&500), "a 500 among {answers:?}");
    assert_eq!(acknowledged.len(), 3 * PER_NODE);
    let tasks: Vec<i64> = acknowledged
        .iter()
        .map(|(_, t)| t.trim_start_matches("ServerTasks-").parse().unwrap())
        .collect();
    let distinct: std::collections::BTreeSet<i64> = tasks.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        tasks.len(),
        "two keys answered with one task"
    );
    // One deployment per request: none made by a retry whose first attempt committed.
    let queued: i64 = db.one("SELECT COUNT(*) FROM tasks WHERE name = 'Deploy'", &[]);
    assert_eq!(queued as usize, tasks.len(), "a retry deployed again");
    common::poll_until(60, "acknowledged deployments never ended", || {
        cluster.open(&db, &tasks).is_empty()
    });
    let (began_scripts, twice) = cluster.record();
    assert!(twice.is_empty(), "ran twice: {twice:?}");
    for id in &tasks {
        let (state, error) = cluster.state(&db, *id);
        assert_eq!(state, "Success", "ServerTasks-{id}: {error:?}");
        assert!(began_scripts.contains_key(id), "ServerTasks-{id} never ran");
    }
    let retried = answers.iter().filter(|s| **s != 201).count();
    report(
        "resets",
        &format!(
            "connection resets: {resets} rounds of resets over {:.1} s; {} POSTs for {} deployments \
             ({retried} answered 503 or lost and retried with their key); each deployed once, none 500\n",
            burst.as_secs_f64(),
            answers.len(),
            tasks.len()
        ),
    );
}

/// A claimed task whose first reads fail (every connection of its node reset right as
/// the runner reads the project) goes back to the queue and runs, once, rather than
/// failing.
#[test]
fn a_task_whose_first_reads_fail_goes_back_to_the_queue_and_runs_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    let one = &cluster.nodes[0];
    drain(one, &cluster.key, "node-2", true);
    drain(one, &cluster.key, "node-3", true);
    let soon = drydock::clock::iso(drydock::clock::now_ms() + 3000);
    let (status, body) = one.api(
        &cluster.key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": cluster.releases[0], "EnvironmentId": cluster.env, "QueueTime": soon})),
    );
    assert_eq!(status, 201, "{body}");
    let id: i64 = body["TaskId"]
        .as_str()
        .unwrap()
        .trim_start_matches("ServerTasks-")
        .parse()
        .unwrap();
    cluster.proxies[0].reset_after("FROM projects WHERE id = $1");
    common::poll_until(30, "the task never ended", || {
        cluster.open(&db, &[id]).is_empty()
    });
    assert!(
        cluster.proxies[0].cut_at().is_some(),
        "the runner's first read was never reset"
    );
    let (state, error) = cluster.state(&db, id);
    assert_eq!(state, "Success", "{error:?}");
    let (began, twice) = cluster.record();
    assert!(
        twice.is_empty() && began.contains_key(&id),
        "{began:?} {twice:?}"
    );
}
