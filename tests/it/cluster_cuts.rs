//! More of issue 29's fault suite (see `cluster_faults`): nodes cut off at chosen
//! moments — while a script runs, midway through a deployer's change, while failing a
//! dead node's tasks, right after taking the claim lock.

use crate::cluster_faults::{
    holds_claim_lock, report, set_maintenance, Cluster, ANSWER_BOUND, OFFLINE_SECS, QUICK,
};
use crate::common;

use std::time::{Duration, Instant};

use common::server::{alive, api_key, drain};
use serde_json::json;

/// A node cut off (a black hole) while its script runs stops that script itself before
/// the others take the node for offline and fail its task; the others go on deploying
/// meanwhile; once the network heals the node comes back by itself.
#[test]
fn a_node_cut_off_stops_its_script_before_the_cluster_fails_its_task() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    let (one, two) = (&cluster.nodes[0], &cluster.nodes[1]);
    drain(one, &cluster.key, "node-2", true);
    drain(one, &cluster.key, "node-3", true);
    let (_, long) = cluster.deploy(0, QUICK);
    let long = long.expect("the long deployment acknowledged");
    common::poll_until(30, "the long script never began", || {
        cluster.record().0.contains_key(&long)
    });
    let pid = cluster.record().0[&long].clone();
    let (node,): (String,) = {
        let rows = db.rows("SELECT server_node FROM tasks WHERE id = ?1", &[&long]);
        (rows[0].get(0).unwrap(),)
    };
    assert_eq!(node, "node-1");
    drain(one, &cluster.key, "node-2", false);
    drain(one, &cluster.key, "node-3", false);

    cluster.proxies[0].black_hole();
    let cut = Instant::now();
    let (mut stopped_after, mut failed_after) = (None, None);
    let mut others = Vec::new();
    let deadline = cut + Duration::from_secs(30);
    while failed_after.is_none() {
        assert!(
            Instant::now() < deadline,
            "the cluster never failed the task"
        );
        if stopped_after.is_none() && !alive(&pid) {
            stopped_after = Some(cut.elapsed());
        }
        if cluster.state(&db, long).0 == "Failed" {
            failed_after = Some(cut.elapsed());
            assert!(
                !alive(&pid),
                "the task was failed while its script still ran"
            );
        }
        // The cut-off node answers in time, 503; the others deploy.
        let began = Instant::now();
        let health = one.get("/api/health").map_or(0, |(s, _)| s);
        assert!(
            began.elapsed() <= ANSWER_BOUND,
            "health took {:?}",
            began.elapsed()
        );
        assert!(health == 503 || health == 200, "health answered {health}");
        if others.len() < 10 {
            let (status, task) = cluster.deploy(1, others.len() % QUICK);
            assert_eq!(status, 201, "a live node refused a deployment");
            others.extend(task);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let stopped_after = stopped_after.unwrap_or(failed_after.unwrap());
    let failed_after = failed_after.unwrap();
    let (_, error) = cluster.state(&db, long);
    assert_eq!(error.as_deref(), Some("interrupted: server node offline"));
    assert!(
        failed_after >= Duration::from_secs(OFFLINE_SECS - 1),
        "failed {failed_after:?} after the cut: before the node could be offline"
    );
    common::poll_until(60, "the live nodes' deployments never ended", || {
        cluster.open(&db, &others).is_empty()
    });
    for id in &others {
        let rows = db.rows("SELECT state, server_node FROM tasks WHERE id = ?1", &[id]);
        let (state, node): (String, String) = (rows[0].get(0).unwrap(), rows[0].get(1).unwrap());
        assert_eq!(state, "Success", "ServerTasks-{id}");
        assert_ne!(node, "node-1", "the cut-off node started ServerTasks-{id}");
    }

    cluster.proxies[0].pass();
    let healed = Instant::now();
    common::poll_until(30, "the node never came back", || {
        matches!(one.get("/api/health"), Some((200, _)))
    });
    let back_after = healed.elapsed();
    // It deploys again; the task failed meanwhile keeps the cluster's verdict.
    drain(two, &cluster.key, "node-2", true);
    drain(two, &cluster.key, "node-3", true);
    let again = loop {
        let (status, task) = cluster.deploy(0, 0);
        assert!(status == 201 || status == 503, "{status}");
        if let Some(task) = task {
            break task;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(30),
            "never acknowledged"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    common::poll_until(30, "the healed node never ran its deployment", || {
        cluster.open(&db, &[again]).is_empty()
    });
    assert_eq!(cluster.state(&db, again).0, "Success");
    assert_eq!(
        cluster.state(&db, long).1.as_deref(),
        Some("interrupted: server node offline")
    );
    let (_, twice) = cluster.record();
    assert!(twice.is_empty(), "ran twice: {twice:?}");
    report(
        "cut-off",
        &format!(
            "node cut off: its script stopped {:.1} s after the cut, its task failed by the cluster {:.1} s after; \
             {} deployments through the others meanwhile; healthy again {:.1} s after the network healed\n",
            stopped_after.as_secs_f64(),
            failed_after.as_secs_f64(),
            others.len(),
            back_after.as_secs_f64()
        ),
    );
}

/// A node cut off in the middle of a non-administrator's change (after the change
/// share-locked the maintenance row): an administrator turning maintenance on through
/// another node waits only until the database ends the cut session (10 s idle in its
/// transaction), not until the network heals; the cut change never commits, its POST
/// answers 503, and once healed the node refuses the deployer as maintenance says.
#[test]
fn maintenance_turns_on_in_bounded_time_past_a_change_cut_off_midway() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    common::server::create_user(
        cluster.dir.path(),
        "dana",
        "Project Deployer",
        "a long enough password",
    );
    let dana = api_key(cluster.dir.path(), "dana");
    let db = common::db::Db::for_dir(cluster.dir.path());
    let tasks: i64 = db.one("SELECT COUNT(*) FROM tasks", &[]);
    cluster.proxies[0].cut_after("FROM maintenance WHERE id = 1 FOR SHARE");
    // Its connections were closed to arm the cut: it is back on new ones first.
    common::poll_until(15, "node 1 never reconnected", || {
        matches!(cluster.nodes[0].get("/api/health"), Some((200, _)))
    });
    let body = json!({"ReleaseId": cluster.releases[0], "EnvironmentId": cluster.env});
    let (cut_post, enabled_after) = std::thread::scope(|scope| {
        let post = scope
            .spawn(|| cluster.nodes[0].api(&dana, "POST", "/api/deployments", Some(body.clone())));
        let deadline = Instant::now() + Duration::from_secs(15);
        while cluster.proxies[0].cut_at().is_none() {
            if post.is_finished() {
                let (status, body) = post.join().unwrap();
                panic!("the change ended uncut: {status} {body}");
            }
            assert!(Instant::now() < deadline, "the change was never cut");
            std::thread::sleep(Duration::from_millis(20));
        }
        let cut = cluster.proxies[0].cut_at().unwrap();
        set_maintenance(
            &cluster.nodes[1],
            &cluster.key,
            true,
            Duration::from_secs(30),
        );
        let enabled_after = cut.elapsed();
        // Health and ping in time on every node, the cut one too.
        cluster.probe(&std::sync::Mutex::new(Vec::new()));
        (post.join().unwrap(), enabled_after)
    });
    // The cut session idles in its transaction: the database ends it after 10 s.
    assert!(
        enabled_after < Duration::from_secs(13),
        "maintenance took {enabled_after:?} after the cut"
    );
    assert_eq!(cut_post.0, 503, "the cut change: {}", cut_post.1);
    let after: i64 = db.one("SELECT COUNT(*) FROM tasks", &[]);
    assert_eq!(after, tasks, "the cut change committed");

    cluster.proxies[0].pass();
    let healed = Instant::now();
    let refused = loop {
        let (status, body) =
            cluster.nodes[0].api(&dana, "POST", "/api/deployments", Some(body.clone()));
        assert_eq!(status, 503, "{body}");
        if body["MaintenanceMessage"] == "Upgrading" {
            break body;
        }
        assert!(healed.elapsed() < Duration::from_secs(30), "{body}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(refused["MaintenanceMessage"], "Upgrading");
    let after: i64 = db.one("SELECT COUNT(*) FROM tasks", &[]);
    assert_eq!(after, tasks, "a deployer's change committed in maintenance");
    set_maintenance(
        &cluster.nodes[1],
        &cluster.key,
        false,
        Duration::from_secs(30),
    );
    report(
        "maintenance",
        &format!(
            "change cut off midway: maintenance on through another node {:.1} s after the cut; \
             the cut POST answered 503; the healed node refused the deployer {:.1} s after the heal\n",
            enabled_after.as_secs_f64(),
            healed.elapsed().as_secs_f64()
        ),
    );
}

/// A node cut off while it fails a dead node's tasks (after its statement reached the
/// database, holding their rows): the other live node fails them once the database
/// ends the cut session, within the offline threshold and that deadline; the dead
/// node's script was stopped, and the cut node comes back by itself.
#[test]
fn a_node_cut_off_while_it_fails_a_dead_nodes_tasks_does_not_keep_them_running() {
    let Some(mut cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    // Node 3 runs the long script, alone.
    drain(&cluster.nodes[0], &cluster.key, "node-1", true);
    drain(&cluster.nodes[0], &cluster.key, "node-2", true);
    let (_, long) = cluster.deploy(2, QUICK);
    let long = long.expect("acknowledged");
    common::poll_until(30, "the long script never began", || {
        cluster.record().0.contains_key(&long)
    });
    let pid = cluster.record().0[&long].clone();
    drain(&cluster.nodes[0], &cluster.key, "node-1", false);
    drain(&cluster.nodes[0], &cluster.key, "node-2", false);
    // Node 1 is cut right after it sends the statement that fails a silent node's tasks.
    cluster.proxies[0].cut_after("server_node || ''");
    let mut dead = cluster.nodes.remove(2);
    dead.child.kill().unwrap();
    dead.child.wait().unwrap();
    let killed = Instant::now();
    // Its orphaned script, on this one host, is the test's to stop: nodes on hosts of
    // their own cannot reach each other's processes.
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid.parse().unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    );
    common::poll_until(40, "the dead node's task was never failed", || {
        cluster.state(&db, long).0 == "Failed"
    });
    let failed_after = killed.elapsed();
    cluster.probe(&std::sync::Mutex::new(Vec::new()));
    let (_, error) = cluster.state(&db, long);
    assert_eq!(error.as_deref(), Some("interrupted: server node offline"));
    // Offline after 8 s, a heartbeat, and the cut session's 10 s if node 1 held the rows.
    let bound = Duration::from_secs(OFFLINE_SECS + 1 + 10 + 3);
    assert!(
        failed_after <= bound,
        "failed {failed_after:?} after the kill"
    );
    let cut = cluster.proxies[0].cut_at();
    cluster.proxies[0].pass();
    common::poll_until(30, "the cut node never came back", || {
        matches!(cluster.nodes[0].get("/api/health"), Some((200, _)))
    });
    report(
        "node-health",
        &format!(
            "node cut off while failing a dead node's tasks (cut {}): the task failed {:.1} s after the kill\n",
            if cut.is_some() { "fired" } else { "not reached: the other node got there first" },
            failed_after.as_secs_f64()
        ),
    );
}

/// Node 1 cut right after it took the queue's claim lock: first a stall (5 s, then its
/// transaction goes on), then a black hole (until the database ends its session, idle
/// in its transaction, after 10 s). Each time the other nodes claim again within the
/// stall or that deadline, every acknowledged deployment runs once, and node 1 comes
/// back by itself.
#[test]
fn a_node_cut_right_after_taking_the_claim_lock_holds_the_cluster_only_briefly() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = common::db::Db::for_dir(cluster.dir.path());
    let mut reports = Vec::new();
    let mut acknowledged = Vec::new();
    for (fault, cut_for, bound) in [
        ("stall", Duration::from_secs(5), Duration::from_secs(8)),
        (
            "black hole",
            Duration::from_secs(20),
            Duration::from_secs(14),
        ),
    ] {
        // Armed until the cut catches node 1 holding the lock (its round may find the
        // lock taken by another's and not hold it).
        let cut = (0..10)
            .find_map(|_| {
                cluster.proxies[0].cut_after("pg_try_advisory_xact_lock");
                common::poll_until(20, "node 1 never took the claim lock", || {
                    cluster.proxies[0].cut_at().is_some()
                });
                if holds_claim_lock(&db, "node-1") {
                    return cluster.proxies[0].cut_at();
                }
                cluster.proxies[0].pass();
                None
            })
            .expect("node 1 never held the claim lock when cut");
        let claimed_after = std::thread::scope(|scope| {
            // The network heals at `cut_for`, whatever the others do meanwhile.
            scope.spawn(|| {
                while cut.elapsed() < cut_for {
                    std::thread::sleep(Duration::from_millis(20));
                }
                cluster.proxies[0].pass();
            });
            // A deployment through node 2: started once the lock is free again.
            let (status, task) = cluster.deploy(1, 0);
            assert_eq!(status, 201);
            let task = task.unwrap();
            acknowledged.push(task);
            common::poll_until(
                bound.as_secs() + 5,
                "the cluster never claimed again",
                || cluster.record().0.contains_key(&task),
            );
            let claimed_after = cut.elapsed();
            cluster.probe(&std::sync::Mutex::new(Vec::new()));
            claimed_after
        });
        assert!(
            claimed_after <= bound,
            "{fault}: claimed {claimed_after:?} after the cut"
        );
        common::poll_until(30, "node 1 never came back", || {
            matches!(cluster.nodes[0].get("/api/health"), Some((200, _)))
        });
        reports.push(format!(
            "{fault} ({} s): the others claimed {:.1} s after the cut",
            cut_for.as_secs(),
            claimed_after.as_secs_f64()
        ));
    }
    // Node 1 claims again too.
    drain(&cluster.nodes[1], &cluster.key, "node-2", true);
    drain(&cluster.nodes[1], &cluster.key, "node-3", true);
    let (_, task) = cluster.deploy(0, 1);
    let task = task.unwrap();
    acknowledged.push(task);
    common::poll_until(30, "acknowledged deployments never ended", || {
        cluster.open(&db, &acknowledged).is_empty()
    });
    for id in &acknowledged {
        assert_eq!(cluster.state(&db, *id).0, "Success", "ServerTasks-{id}");
    }
    let (_, twice) = cluster.record();
    assert!(twice.is_empty(), "ran twice: {twice:?}");
    report(
        "claim-lock",
        &format!("claim lock holder cut off: {}\n", reports.join("; ")),
    );
}
