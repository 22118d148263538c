//! The crash loop: the real binary under a mixed load (deployments posted through the
//! API, scripts running, a Backup system task running), killed with SIGKILL at a random
//! moment, started again; 20 rounds. After each kill the database passes
//! `integrity_check` and holds every deployment whose POST was answered 201, with its
//! task; after each start no task is left `Executing` from before; at the end the queue
//! runs everything still queued.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use common::server::{api_key, request, Server};
use serde_json::{json, Value};

const ROUNDS: usize = 20;

/// A small deterministic generator, seeded from the clock (the seed is printed, so a
/// failing run can be replayed by setting CRASH_LOOP_SEED).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn post_deployment(port: u16, key: &str, release: &str, env: &str) -> Option<(String, String)> {
    let body = json!({"ReleaseId": release, "EnvironmentId": env}).to_string();
    let (status, text) = request(port, "POST", "/api/deployments", &api_headers(key), &body)?;
    if status != 201 {
        return None;
    }
    let d: Value = serde_json::from_str(&text).ok()?;
    Some((
        d["Id"].as_str()?.to_string(),
        d["TaskId"].as_str()?.to_string(),
    ))
}

fn api_headers(key: &str) -> [(&str, &str); 2] {
    [
        ("X-Octopus-ApiKey", key),
        ("Content-Type", "application/json"),
    ]
}

fn id_of(resource_id: &str) -> i64 {
    resource_id.rsplit('-').next().unwrap().parse().unwrap()
}

#[test]
fn twenty_sigkill_rounds_under_load_lose_no_acknowledged_deployment() {
    let dir = common::data_dir();
    dir.configure("task_cap = 5\nqueue_poll_ms = 100\nnode_name = \"crashy\"\nbackup_keep = 2\nlog_level = \"off\"\n");
    let key = api_key(dir.path(), "admin");
    let seed = std::env::var("CRASH_LOOP_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    println!("crash loop seed {seed}");
    let mut rng = Lcg(seed);

    let (releases, env) = {
        let server = Server::node(dir.path(), "crashy");
        let env = server.create(&key, "/api/environments", json!({"Name": "Prod"}));
        let releases: Vec<String> = (0..6)
            .map(|i| {
                let script = format!("echo start {i}; sleep 0.0{}; echo done", 2 + i);
                let p = server.create(
                    &key,
                    "/api/projects",
                    json!({"Name": format!("C{i}"), "DeploymentScript": script}),
                );
                server.create(
                    &key,
                    "/api/releases",
                    json!({"ProjectId": p, "Version": "1"}),
                )
            })
            .collect();
        (releases, env)
    };

    let acknowledged: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());
    for round in 0..ROUNDS {
        let mut server = Server::node(dir.path(), "crashy");
        let started = Instant::now();
        // What the last kill left running is failed as the node comes up.
        loop {
            let (_, running) = server.api(
                &key,
                "GET",
                "/api/tasks?states=Executing,Cancelling&take=100",
                None,
            );
            let db = common::db::Db::for_dir(dir.path());
            let stale: i64 = db.one(
                "SELECT COUNT(*) FROM tasks WHERE state IN ('Executing', 'Cancelling')
                     AND start_time < (SELECT started_at FROM nodes WHERE name = 'crashy')",
                &[],
            );
            if stale == 0 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "round {round}: tasks left Executing after the restart: {running}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let (status, backup) =
            server.api(&key, "POST", "/api/tasks", Some(json!({"Name": "Backup"})));
        assert_eq!(status, 201, "{backup}");

        let stop = AtomicBool::new(false);
        let port = server.port;
        let kill_after = Duration::from_millis(200 + rng.below(1000));
        std::thread::scope(|s| {
            for worker in 0..3 {
                let (stop, acknowledged, releases, env, key) =
                    (&stop, &acknowledged, &releases, &env, &key);
                s.spawn(move || {
                    let mut i = worker;
                    while !stop.load(Ordering::SeqCst) {
                        if let Some(ids) =
                            post_deployment(port, key, &releases[i % releases.len()], env)
                        {
                            acknowledged.lock().unwrap().push(ids);
                        }
                        i += 3;
                        // About 60 deployments a second in all: more than the scripts
                        // keep up with during a round, few enough to drain at the end.
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            std::thread::sleep(kill_after);
            // A system task at the moment of the kill, most rounds: a backup is queued
            // just before it (and another ran at the start of the round).
            let backup = json!({"Name": "Backup"}).to_string();
            request(port, "POST", "/api/tasks", &api_headers(&key), &backup);
            std::thread::sleep(Duration::from_millis(rng.below(30)));
            server.child.kill().unwrap();
            server.child.wait().unwrap();
            stop.store(true, Ordering::SeqCst);
        });

        let db = common::db::Db::for_dir(dir.path());
        if !db.is_postgres() {
            let check: String = db.one("PRAGMA integrity_check", &[]);
            assert_eq!(check, "ok", "round {round}");
        }
        let acknowledged = acknowledged.lock().unwrap();
        let lost: Vec<&(String, String)> = acknowledged
            .iter()
            .filter(|(d, t)| {
                db.one::<i64>(
                    "SELECT COUNT(*) FROM deployments d JOIN tasks t ON t.id = d.task_id
                     WHERE d.id = ?1 AND t.id = ?2",
                    &[&id_of(d), &id_of(t)],
                ) != 1
            })
            .collect();
        assert!(
            lost.is_empty(),
            "round {round}: acknowledged but lost: {lost:?}"
        );
    }

    // Once more, and let the queue run what is left.
    let server = Server::node(dir.path(), "crashy");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, open) = server.api(
            &key,
            "GET",
            "/api/tasks?states=Queued,Executing,Cancelling&take=0",
            None,
        );
        if open["TotalResults"] == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the queue did not drain: {open}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let ran: i64 = common::db::Db::for_dir(dir.path()).one(
        "SELECT COUNT(*) FROM tasks WHERE name = 'Deploy' AND state = 'Success'",
        &[],
    );
    let acknowledged = acknowledged.lock().unwrap().len();
    let report = format!(
        "crash loop: {ROUNDS} rounds (seed {seed}), {acknowledged} deployments acknowledged, 0 lost, {ran} ran to success"
    );
    println!("{report}");
    // scripts/test.sh prints the reports at the end of the run.
    let _ = std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(
            if common::pg::suite_on_postgres() {
                "report-crash-loop-postgres.txt"
            } else {
                "report-crash-loop.txt"
            },
        ),
        format!("{report}\n"),
    );
    assert!(acknowledged > ROUNDS, "the load was real: {acknowledged}");
    assert!(ran > 0);
}
