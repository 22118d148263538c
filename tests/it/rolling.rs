//! Rolling upgrades (issue 19): the real binary is the older node; a newer one is this
//! library opened with the shipped migrations and one more that the test supplies
//! (`Migrations::with`), compatible or not. On the suite's backend (both in CI).

use crate::common;

use common::db::{config_for, Db};
use common::server::{api_key, Server};
use drydock::store::migrate::{Migration, Migrations, Starting};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::json;

/// Migration 15 as a newer drydock would ship it: a probe table, and (incompatible) a
/// new column older nodes would not fill in.
fn newer(compatible: bool) -> Migrations {
    let (sqlite, postgres) = if compatible {
        (
            "CREATE TABLE rolling_probe (id INTEGER PRIMARY KEY);",
            "CREATE TABLE rolling_probe (id BIGINT PRIMARY KEY);",
        )
    } else {
        (
            "CREATE TABLE rolling_probe (id INTEGER PRIMARY KEY);
             ALTER TABLE tasks ADD COLUMN rolling_flag INTEGER NOT NULL DEFAULT 0;",
            "CREATE TABLE rolling_probe (id BIGINT PRIMARY KEY);
             ALTER TABLE tasks ADD COLUMN rolling_flag BIGINT NOT NULL DEFAULT 0;",
        )
    };
    let shipped = Migrations::shipped();
    let version = shipped.newest() + 1;
    shipped.with(Migration {
        version,
        name: "rolling_probe".into(),
        sqlite: sqlite.into(),
        postgres: Some(postgres.into()),
        compatible,
    })
}

fn schema(db: &Db) -> i64 {
    db.one("SELECT MAX(version) FROM schema_migrations", &[])
}

/// SIGTERM, then wait (bounded) for a clean exit.
fn stop(server: &mut Server) {
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    let status = server.wait_exit(30);
    assert!(status.success(), "{status:?}: {}", server.output());
}

#[test]
fn an_incompatible_migration_waits_until_every_older_node_has_stopped() {
    let data = common::data_dir();
    let dir = data.node_dir("old");
    let mut old = Server::node(&dir, "old");
    let db = Db::for_dir(data.path());
    let before = schema(&db);
    let tables = db.tables();

    let mut config = config_for(data.path());
    config.node_name = "new".into();
    let refused = drydock::App::open_with(config.clone(), newer(false))
        .err()
        .expect("the newer node started beside an older one");
    let message = refused.to_string();
    for says in [
        "old (drydock ",
        "rolling_probe",
        "maintenance enable --wait",
        "stop every node",
        "Nothing was changed",
    ] {
        assert!(message.contains(says), "{says} in: {message}");
    }
    assert_eq!(
        (schema(&db), db.tables()),
        (before, tables),
        "it changed the database"
    );
    // The older node never noticed.
    assert!(matches!(old.get("/api/health"), Some((200, _))));

    // Once it has stopped, the newer node starts and migrates.
    stop(&mut old);
    let opened = drydock::App::open_with(config, newer(false)).unwrap_or_else(|e| {
        // Said with what the old node wrote, to tell a stop it failed to record.
        panic!(
            "start after the stop: {e}\nthe old node said:\n{}",
            old.output()
        )
    });
    assert_eq!(schema(&db), before + 1);
    assert!(db.tables().contains(&"rolling_probe".to_string()));
    assert_eq!(opened.app.schema_level, before + 1);
}

#[test]
fn a_compatible_migration_runs_beside_the_older_node_and_both_work() {
    let data = common::data_dir();
    let dir = data.node_dir("old");
    let key = api_key(&dir, "admin");
    let old = Server::node(&dir, "old");
    old.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo ok"}),
    );
    old.create(&key, "/api/environments", json!({"Name": "Production"}));
    old.create(
        &key,
        "/api/releases",
        json!({"ProjectId": "Projects-1", "Version": "1.0"}),
    );
    let db = Db::for_dir(data.path());
    let before = schema(&db);

    // The newer node, in this process, on the same database.
    let mut config = config_for(data.path());
    config.node_name = "new".into();
    config.log_level = "off".into();
    let opened = drydock::App::open_with(config, newer(true)).expect("a compatible start");
    assert_eq!(schema(&db), before + 1);
    let new =
        rocket::local::blocking::Client::tracked(drydock::rocket(opened.app).unwrap()).unwrap();

    // Each node runs a deployment while the other drains: both work.
    let drain = |node: &str, on: bool| {
        let (status, body) = old.api(
            &key,
            "PUT",
            &format!("/api/octopusservernodes/OctopusServerNodes-{node}"),
            Some(json!({"IsInMaintenanceMode": on, "MaxConcurrentTasks": 5})),
        );
        assert_eq!(status, 200, "{body}");
    };
    let deploy_through_new = || {
        let response = new
            .post("/api/deployments")
            .header(rocket::http::Header::new("X-Octopus-ApiKey", key.clone()))
            .header(rocket::http::ContentType::JSON)
            .body(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"}).to_string())
            .dispatch();
        assert_eq!(response.status(), rocket::http::Status::Created);
        let body: serde_json::Value =
            serde_json::from_str(&response.into_string().unwrap()).unwrap();
        body["TaskId"].as_str().unwrap().to_string()
    };
    drain("new", true);
    let on_old = deploy_through_new();
    let t = old.wait_task(&key, &on_old, &["Success", "Failed"], 30);
    assert_eq!(
        (t["State"].as_str(), t["ServerNode"].as_str()),
        (Some("Success"), Some("old")),
        "{t}"
    );
    drain("new", false);
    drain("old", true);
    let (status, d) = old.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": "Releases-1", "EnvironmentId": "Environments-1"})),
    );
    assert_eq!(status, 201, "{d}");
    let on_new = d["TaskId"].as_str().unwrap().to_string();
    let t = old.wait_task(&key, &on_new, &["Success", "Failed"], 30);
    assert_eq!(
        (t["State"].as_str(), t["ServerNode"].as_str()),
        (Some("Success"), Some("new")),
        "{t}"
    );
    // Each node records its version and schema level; the older one is still live.
    let (_, nodes) = old.api(&key, "GET", "/api/octopusservernodes", None);
    let level = |name: &str| {
        nodes["Items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["Name"] == name)
            .map(|n| n["SchemaLevel"].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (level("old"), level("new")),
        (json!(before), json!(before + 1)),
        "{nodes}"
    );
    assert!(matches!(old.get("/api/health"), Some((200, _))));
    // The Nodes page flags the mixed cluster for administrators.
    let password = std::fs::read_to_string(dir.join("initial-admin-password")).unwrap();
    assert_eq!(
        common::login(&new, "admin", password.trim()).status(),
        rocket::http::Status::SeeOther
    );
    let page = new
        .get("/configuration/nodes")
        .dispatch()
        .into_string()
        .unwrap();
    assert!(page.contains("id=\"mixed-versions\""), "{page}");
    assert!(
        page.contains(&format!(
            "old runs {} (schema {before})",
            drydock::config::VERSION
        )),
        "{page}"
    );
}

/// An older node that finds the schema moved past it, incompatibly (its heartbeat was
/// late, so the newer node did not count it as running), claims nothing more, says so
/// in `/api/health`, and stops cleanly.
#[test]
fn an_older_node_that_finds_the_schema_moved_past_it_stops_claiming_and_says_so() {
    let data = common::data_dir();
    let dir = data.node_dir("old");
    std::fs::write(
        dir.join(drydock::config::CONFIG_FILE),
        format!(
            "{}heartbeat_secs = 1\n",
            std::fs::read_to_string(dir.join(drydock::config::CONFIG_FILE)).unwrap_or_default()
        ),
    )
    .unwrap();
    let key = api_key(&dir, "admin");
    let mut old = Server::node(&dir, "old");
    // The slow task runs until the test lets it end (at most 60 s), however slow the
    // machine is to notice the schema.
    let shared = common::shared_dir();
    let go = shared.path().join("go");
    let slow_script = format!(
        "for i in $(seq 600); do [ -e {} ] && break; sleep 0.1; done; echo slow",
        go.display()
    );
    for (name, script) in [("Slow", slow_script.as_str()), ("Fast", "echo fast")] {
        old.create(
            &key,
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        );
    }
    old.create(&key, "/api/environments", json!({"Name": "Production"}));
    let deploy = |project: &str| {
        let (status, r) = old.api(
            &key,
            "POST",
            "/api/releases",
            Some(json!({"ProjectId": project, "Version": "1.0"})),
        );
        assert_eq!(status, 201, "{r}");
        let (status, d) = old.api(
            &key,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": r["Id"], "EnvironmentId": "Environments-1"})),
        );
        assert_eq!(status, 201, "{d}");
        d["TaskId"].as_str().unwrap().to_string()
    };
    // A task running on it while the schema moves.
    let slow = deploy("Projects-1");
    old.wait_task(&key, &slow, &["Executing"], 20);
    // Migrated under it, as by a node that found its heartbeat too old.
    let config = config_for(data.path());
    let starting = Starting {
        node: Some("new"),
        offline_ms: 0,
        now: drydock::clock::now_ms(),
    };
    match &config.database_url {
        Some(url) => {
            let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
            drydock::store::migrate::apply_postgres_set(&mut client, &newer(false), &starting)
                .unwrap();
        }
        None => {
            let mut conn = rusqlite::Connection::open(config.db_path()).unwrap();
            drydock::store::migrate::apply_set(&mut conn, &newer(false), &starting).unwrap();
        }
    }
    let said = common::poll_for(
        20,
        || format!("it never noticed: {}", old.output()),
        || match old.get("/api/health") {
            Some((503, body)) if body.contains("Outdated") => Some(body),
            None => panic!("it stopped before saying why: {}", old.output()),
            _ => None,
        },
    );
    assert!(said.contains("past this node"), "{said}");
    // It claims nothing more: a deployment queued now stays queued, while its running
    // task finishes.
    let fast = deploy("Projects-2");
    std::fs::write(&go, "").unwrap();
    // It stops by itself once that task has ended, cleanly, and is recorded as stopped.
    let status = old.wait_exit(30);
    assert!(status.success(), "{status:?}: {}", old.output());
    assert!(old.output().contains("past this node"), "{}", old.output());
    let db = Db::for_dir(data.path());
    let stopped: Option<i64> = db.one("SELECT stopped_at FROM nodes WHERE name = 'old'", &[]);
    assert!(stopped.is_some(), "not recorded as stopped");
    let slow: String = db.one("SELECT state FROM tasks WHERE id = ?1", &[&id_of(&slow)]);
    assert_eq!(slow, "Success", "the running task was not let finish");
    let (state, node): (String, Option<String>) = (
        db.one("SELECT state FROM tasks WHERE id = ?1", &[&id_of(&fast)]),
        db.one(
            "SELECT server_node FROM tasks WHERE id = ?1",
            &[&id_of(&fast)],
        ),
    );
    assert_eq!(
        (state.as_str(), node),
        ("Queued", None),
        "it claimed after it knew"
    );
}

fn id_of(task: &str) -> i64 {
    task.trim_start_matches("ServerTasks-").parse().unwrap()
}

/// `drydock database pending` says which kind a release is, and changes nothing.
#[test]
fn database_pending_tells_a_rolling_release_from_a_maintenance_window_one() {
    let data = common::data_dir();
    let (code, out, err) = common::server::run_cli(data.path(), &["database", "pending"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("A new database"), "{out}");
    // Made by this binary: nothing pending, so a rolling upgrade is possible.
    let _ = api_key(data.path(), "admin");
    let db = Db::for_dir(data.path());
    let before = schema(&db);
    let (code, out, err) = common::server::run_cli(data.path(), &["database", "pending"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Rolling upgrade possible"), "{out}");
    assert_eq!(before, 21, "a newer migration: take it back here too");
    // A database behind by compatible migrations only (21 to 14 taken back), as this
    // binary would find one from an earlier release: a rolling upgrade.
    for (version, name) in [
        (21, "0021_notices"),
        (20, "0020_webhooks"),
        (19, "0019_approvals"),
        (18, "0018_variables"),
        (17, "0017_deployment_facts"),
        (16, "0016_slugs"),
        (15, "0015_idempotency_keys"),
        (14, "0014_schema_levels"),
    ] {
        db.exec(
            "DELETE FROM schema_migrations WHERE version = ?1",
            &[&version],
        );
        let (code, out, _) = common::server::run_cli(data.path(), &["database", "pending"], "");
        assert_eq!(code, 0);
        assert!(out.contains(&format!("{name}  compatible")), "{out}");
        assert!(out.contains("Rolling upgrade possible"), "{out}");
    }
    // One incompatible migration among them (13): not a rolling upgrade.
    db.exec("DELETE FROM schema_migrations WHERE version = ?1", &[&13]);
    let (_, out, _) = common::server::run_cli(data.path(), &["database", "pending"], "");
    assert!(
        out.contains("0013_deployment_freezes  incompatible"),
        "{out}"
    );
    assert!(out.contains("Not a rolling upgrade"), "{out}");
    assert!(out.contains("maintenance enable --wait"), "{out}");
}
