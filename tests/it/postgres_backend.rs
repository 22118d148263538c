//! PostgreSQL, the second backend: its schema and migrations, on a real server
//! (`common::pg`), one fresh database per test.

use crate::common;
use sha2::Digest;

use common::pg::{skip, Database};
use drydock::store::migrate;

/// The migrations recorded, in order.
fn versions(client: &mut postgres::Client) -> Vec<i64> {
    client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Every migration SQLite has, as PostgreSQL records them.
fn all_versions() -> Vec<i64> {
    let mut conn = rusqlite::Connection::open_in_memory().unwrap();
    migrate::apply(&mut conn).unwrap();
    let mut versions = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap();
    let found = versions
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    found
}

#[test]
fn migrations_apply_once_in_one_transaction_and_record_every_version() {
    if skip() {
        return;
    }
    let db = Database::fresh();
    let mut client = db.client();
    let expected = all_versions();
    assert_eq!(
        migrate::apply_postgres(&mut client).unwrap(),
        expected.len()
    );
    assert_eq!(versions(&mut client), expected);
    assert_eq!(migrate::apply_postgres(&mut client).unwrap(), 0);
    assert_eq!(versions(&mut client), expected);
    // The rows the schema starts with.
    let states: i64 = client
        .query_one("SELECT COUNT(DISTINCT state) FROM task_counts", &[])
        .unwrap()
        .get(0);
    let maintenance: i64 = client
        .query_one("SELECT is_on FROM maintenance WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!((states, maintenance), (7, 0));
}

#[test]
fn nodes_starting_together_migrate_once() {
    if skip() {
        return;
    }
    let db = Database::fresh();
    let url = db.url.clone();
    let applied: Vec<usize> = std::thread::scope(|s| {
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                s.spawn(move || {
                    let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
                    migrate::apply_postgres(&mut client).unwrap()
                })
            })
            .collect();
        starts.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let expected = all_versions();
    let mut sorted = applied.clone();
    sorted.sort();
    assert_eq!(sorted, vec![0, 0, 0, expected.len()], "{applied:?}");
    assert_eq!(versions(&mut db.client()), expected);
}

#[test]
fn a_database_newer_than_the_binary_is_refused_and_left_as_it_was() {
    if skip() {
        return;
    }
    let db = Database::fresh();
    let mut client = db.client();
    migrate::apply_postgres(&mut client).unwrap();
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
            &[],
        )
        .unwrap();
    let before = versions(&mut client);
    let refused = migrate::apply_postgres(&mut client)
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("schema version 999, newer than this drydock knows"),
        "{refused}"
    );
    assert_eq!(versions(&mut client), before);

    // A database drydock did not make (tables at an older version than any it makes).
    let other = Database::fresh();
    let mut client = other.client();
    client
        .batch_execute(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                                             applied_at BIGINT NOT NULL);
             INSERT INTO schema_migrations VALUES (3, 'elsewhere', 0);",
        )
        .unwrap();
    let refused = migrate::apply_postgres(&mut client)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("it was not made by drydock"), "{refused}");
    let tables: i64 = client
        .query_one(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 1, "nothing but what was there");
}

#[test]
fn both_backends_have_the_same_tables_and_columns_in_the_same_order() {
    if skip() {
        return;
    }
    let sqlite = &mut rusqlite::Connection::open_in_memory().unwrap();
    migrate::apply(sqlite).unwrap();
    let tables: Vec<String> = sqlite
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table'
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let db = Database::fresh();
    let mut client = db.client();
    migrate::apply_postgres(&mut client).unwrap();
    let pg_tables: Vec<String> = client
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(pg_tables, tables);
    for table in &tables {
        // (name, not null — a key column always is —, has a default) in column order.
        let columns: Vec<(String, bool, bool)> = sqlite
            .prepare(&format!("SELECT name, \"notnull\" OR pk > 0, dflt_value IS NOT NULL FROM pragma_table_info('{table}')"))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        let pg_columns: Vec<(String, bool, bool)> = client
            .query(
                "SELECT column_name::TEXT, is_nullable = 'NO',
                        column_default IS NOT NULL AND is_identity = 'NO'
                 FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                &[table],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        assert_eq!(pg_columns, columns, "table {table}");
    }
}

#[test]
fn task_counts_follow_every_task_change_as_on_sqlite() {
    if skip() {
        return;
    }
    let db = Database::fresh();
    let mut client = db.client();
    migrate::apply_postgres(&mut client).unwrap();
    let counts = |client: &mut postgres::Client| -> Vec<(String, i64)> {
        client
            .query(
                "SELECT state, CAST(SUM(n) AS BIGINT) FROM task_counts GROUP BY state
                 HAVING SUM(n) <> 0 ORDER BY state",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect()
    };
    client
        .batch_execute(
            "INSERT INTO tasks (name, description, state, queue_time, last_updated_time)
             VALUES ('Deploy', 'a', 'Queued', 1, 1), ('Deploy', 'b', 'Queued', 1, 1);",
        )
        .unwrap();
    assert_eq!(counts(&mut client), vec![("Queued".into(), 2)]);
    client
        .batch_execute(
            "UPDATE tasks SET state = 'Executing' WHERE description = 'a';
             UPDATE tasks SET last_updated_time = 2 WHERE description = 'b';",
        )
        .unwrap();
    assert_eq!(
        counts(&mut client),
        vec![("Executing".into(), 1), ("Queued".into(), 1)]
    );
    client
        .batch_execute("DELETE FROM tasks WHERE description = 'b'")
        .unwrap();
    assert_eq!(counts(&mut client), vec![("Executing".into(), 1)]);
    // The queue's round folds the changes into one row per state, the sums unchanged.
    let mut config = drydock::config::Config::for_tests(std::path::Path::new("/nonexistent"));
    config.database_url = Some(db.url.clone());
    let store = drydock::store::Store::open(&config).unwrap();
    store
        .bookkeeping_now(drydock::store::tasks::compact_counts)
        .unwrap();
    assert_eq!(counts(&mut client), vec![("Executing".into(), 1)]);
    let rows: i64 = client
        .query_one("SELECT COUNT(*) FROM task_counts", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 7, "one row per state");
    // Names unique regardless of case, as SQLite's COLLATE NOCASE.
    client
        .batch_execute(
            "INSERT INTO projects (name, deployment_script, created_at) VALUES ('Web', 'true', 0)",
        )
        .unwrap();
    let again = client.batch_execute(
        "INSERT INTO projects (name, deployment_script, created_at) VALUES ('WEB', 'true', 0)",
    );
    assert!(again.is_err(), "a name differing only in case is refused");
    let found: i64 = client
        .query_one("SELECT COUNT(*) FROM projects WHERE name = 'wEb'", &[])
        .unwrap()
        .get(0);
    assert_eq!(found, 1);
    // SQLite's instr, byte-wise even on a column compared without case.
    let row = client
        .query_one(
            "SELECT instr(name, 'eb'), instr(name, 'EB') FROM projects",
            &[],
        )
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (2, 0));
}

#[test]
fn one_sql_text_reads_and_writes_the_same_values_on_both_backends() {
    use drydock::store::sql::{Conn, PgConn, Row, Value};
    if skip() {
        return;
    }
    let db = Database::fresh();
    let mut client = db.client();
    migrate::apply_postgres(&mut client).unwrap();
    let pg = std::cell::RefCell::new(PgConn::new(client));
    let mut sqlite = rusqlite::Connection::open_in_memory().unwrap();
    migrate::apply(&mut sqlite).unwrap();
    let run = |db: &Conn| -> Vec<Row> {
        let id: i64 = db
            .query_one(
                "INSERT INTO tasks (name, description, state, queue_time, last_updated_time,
                                    concurrency_tag, is_system)
                 VALUES (?1, ?2, 'Queued', ?3, ?3, ?4, ?5) RETURNING id",
                &[
                    &"Deploy",
                    &"it's \"quoted\" ?1",
                    &1_795_000_000_000i64,
                    &None::<String>,
                    &true,
                ],
            )
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(
            db.execute(
                "UPDATE tasks SET state = ?2, exit_code = ?3 WHERE id = ?1",
                &[&id, &"Failed", &-1i64],
            )
            .unwrap(),
            1
        );
        db.query(
            "SELECT id, name, description, state, queue_time, concurrency_tag, is_system,
                    exit_code, EXISTS(SELECT 1 FROM tasks WHERE id = ?1), COUNT(*) OVER ()
             FROM tasks WHERE id = ?1 AND description LIKE '%?1'",
            &[&id],
        )
        .unwrap()
    };
    let on_sqlite = run(&Conn::Sqlite(&sqlite));
    let on_postgres = run(&Conn::Postgres(&pg));
    assert_eq!(on_postgres, on_sqlite);
    // SQLite's index hint, which PostgreSQL does without.
    let hinted = "SELECT COUNT(*) FROM tasks INDEXED BY tasks_by_state WHERE state = ?1";
    let count = |db: &Conn| {
        db.query_one(hinted, &[&"Failed"])
            .unwrap()
            .get::<i64>(0)
            .unwrap()
    };
    assert_eq!(
        (count(&Conn::Sqlite(&sqlite)), count(&Conn::Postgres(&pg))),
        (1, 1)
    );
    assert_eq!(on_sqlite.len(), 1);
    assert_eq!(
        on_sqlite[0].values[2],
        Value::Text("it's \"quoted\" ?1".into())
    );
    assert!(on_sqlite[0].get::<bool>(6).unwrap() && on_sqlite[0].get::<bool>(8).unwrap());
    // A PostgreSQL type the store does not read is named, not misread.
    let refused = Conn::Postgres(&pg)
        .query_one("SELECT SUM(n) FROM task_counts", &[])
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("numeric") && refused.contains("cast it"),
        "{refused}"
    );
    let cast = Conn::Postgres(&pg)
        .query_one("SELECT CAST(SUM(n) AS BIGINT) FROM task_counts", &[])
        .unwrap();
    assert_eq!(cast.get::<i64>(0).unwrap(), 1);
}

/// Nodes on separate hosts: work queued through node A (drained) starts on node B
/// within milliseconds, because the transaction that queued it notifies every node
/// (`LISTEN`/`NOTIFY`). The poll and the signature check are 10 s here: only the
/// notification can explain a start within 100 ms.
#[test]
fn work_queued_on_one_node_starts_on_another_within_100_ms_by_notify() {
    use common::server::{api_key, Server};
    use serde_json::json;
    if skip() {
        return;
    }
    let dir = common::data_dir_on(true);
    dir.configure(
        "queue_poll_ms = 10000\npickup_check_ms = 10000\nnode_health_interval_secs = 600\n\
         heartbeat_secs = 5\n",
    );
    let key = api_key(dir.path(), "admin");
    let a = Server::node(&dir.node_dir("node-a"), "node-a");
    let b = Server::node(&dir.node_dir("node-b"), "node-b");
    let (status, body) = a.api(
        &key,
        "PUT",
        "/api/octopusservernodes/OctopusServerNodes-node-a",
        Some(json!({"IsInMaintenanceMode": true})),
    );
    assert_eq!(status, 200, "{body}");
    let env = a.create(&key, "/api/environments", json!({"Name": "Prod"}));
    let project = a.create(
        &key,
        "/api/projects",
        json!({"Name": "P", "DeploymentScript": "true"}),
    );
    let release = a.create(
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1"}),
    );
    let db = common::db::Db::for_dir(dir.path());
    let mut waits: Vec<i64> = (0..100)
        .map(|_| {
            let (status, d) = a.api(
                &key,
                "POST",
                "/api/deployments",
                Some(json!({"ReleaseId": release, "EnvironmentId": env})),
            );
            assert_eq!(status, 201, "{d}");
            let id = d["TaskId"].as_str().unwrap().to_string();
            let done = a.wait_task(&key, &id, &["Success", "Failed"], 20);
            assert_eq!(done["State"], "Success", "{done}");
            assert_eq!(done["ServerNode"], "node-b", "{done}");
            let n: i64 = id.trim_start_matches("ServerTasks-").parse().unwrap();
            db.one(
                "SELECT start_time - queue_time FROM tasks WHERE id = ?1",
                &[&n],
            )
        })
        .collect();
    waits.sort();
    let (p50, p99) = (waits[49], waits[98]);
    println!("pickup from another node by NOTIFY: p50 {p50} ms, p99 {p99} ms");
    assert!(p99 < 100, "p99 {p99} ms (p50 {p50} ms): {waits:?}");
    drop(b);
}

/// `drydock database copy`: a populated SQLite install (users, keys, sessions, projects,
/// environments, releases, deployments and their tasks with logs, events, maintenance
/// windows, the system-task schedule, nodes) moved into PostgreSQL reads the same
/// through the API, with the same API key and the same installation id.
#[test]
fn database_copy_moves_a_sqlite_install_and_every_resource_reads_the_same() {
    use common::server::{api_key, create_user, run_cli, Server};
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use serde_json::{json, Value};
    if skip() {
        return;
    }
    let dir = common::data_dir_on(false);
    let key = api_key(dir.path(), "admin");
    create_user(
        dir.path(),
        "dana",
        "Project Deployer",
        "a long enough password",
    );
    let dana = api_key(dir.path(), "dana");
    let mut server = Server::start(dir.path());
    let env = server.create(&key, "/api/environments", json!({"Name": "Prod"}));
    server.create(&key, "/api/environments", json!({"Name": "Test"}));
    let project = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Web", "DeploymentScript": "echo hello; echo oops >&2"}),
    );
    let release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": project, "Version": "1.0.0"}),
    );
    for _ in 0..3 {
        let (status, d) = server.api(
            &dana,
            "POST",
            "/api/deployments",
            Some(json!({"ReleaseId": release, "EnvironmentId": env})),
        );
        assert_eq!(status, 201, "{d}");
        server.wait_task(
            &key,
            d["TaskId"].as_str().unwrap(),
            &["Success", "Failed"],
            20,
        );
    }
    let (status, _) = server.api(
        &dana,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": "2099-01-01T00:00:00+00:00"})),
    );
    assert_eq!(status, 201);
    let (status, window) = server.api(
        &key,
        "POST",
        "/api/maintenancewindows",
        Some(json!({"Start": "2099-01-01T00:00:00+00:00", "End": "2099-01-01T01:00:00+00:00", "Message": "Upgrade"})),
    );
    assert!(status == 201 || status == 200, "{status} {window}");
    // Variables: a library set, a project including it, a sensitive value, a release
    // that snapshots them.
    let library = server.create(&key, "/api/libraryvariablesets", json!({"Name": "Shared"}));
    let vars = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Vars", "IncludedLibraryVariableSetIds": [library],
               "DeploymentScript": "echo \"shared=#{Shared} token=$(printf %s '#{Token}' | sha256sum | cut -c1-8)\""}),
    );
    for (set, variables) in [
        (
            format!("variableset-{library}"),
            json!([{"Name": "Shared", "Value": "from-library"}]),
        ),
        (
            format!("variableset-{vars}"),
            json!([{"Name": "Token", "Value": "copied-S3CRET", "Type": "Sensitive"}]),
        ),
    ] {
        let (status, body) = server.api(
            &key,
            "PUT",
            &format!("/api/variables/{set}"),
            Some(json!({"Version": 0, "Variables": variables})),
        );
        assert_eq!(status, 200, "{body}");
    }
    let vars_release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": vars, "Version": "1"}),
    );
    // Approvals: a rule, and a deployment waiting under it (ServerTasks-5).
    let gated = server.create(
        &key,
        "/api/projects",
        json!({"Name": "Gated", "DeploymentScript": "true"}),
    );
    let (_, mut body) = server.api(&key, "GET", &format!("/api/projects/{gated}"), None);
    body["ApprovalRules"] = json!([{"EnvironmentIds": [env], "RoleNames": ["System Manager"]}]);
    let (status, body) = server.api(&key, "PUT", &format!("/api/projects/{gated}"), Some(body));
    assert_eq!(status, 200, "{body}");
    let gated_release = server.create(
        &key,
        "/api/releases",
        json!({"ProjectId": gated, "Version": "1"}),
    );
    let (status, waiting) = server.api(
        &dana,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": gated_release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{waiting}");
    assert_eq!(waiting["TaskId"], "ServerTasks-5");
    let browser = common::raw::sign_in(server.port, "dana", "a long enough password");
    let paths = [
        "/api/interruptions?take=100",
        "/api/tasks/ServerTasks-5",
        "/api",
        "/api/users?take=100",
        "/api/users/me",
        "/api/projects/all",
        "/api/environments/all",
        "/api/releases?take=100",
        "/api/deployments/Deployments-1",
        "/api/tasks?take=100",
        "/api/tasks/ServerTasks-1/details",
        "/api/events?take=100",
        "/api/maintenancewindows",
        "/api/maintenanceconfiguration",
        "/api/variables/variableset-Projects-2",
        "/api/libraryvariablesets/all",
        "/api/variables/variableset-LibraryVariableSets-1",
    ];
    let read = |server: &Server| -> Vec<(String, Value)> {
        paths
            .iter()
            .map(|p| {
                let (status, body) = server.api(&key, "GET", p, None);
                assert_eq!(status, 200, "{p}: {body}");
                (p.to_string(), body)
            })
            .collect()
    };
    let before = read(&server);
    // Stopped on purpose (SIGTERM), as the copy requires.
    kill(Pid::from_raw(server.child.id() as i32), Signal::SIGTERM).unwrap();
    server.child.wait().unwrap();

    let target = Database::fresh();
    let (code, out, err) = run_cli(dir.path(), &["database", "copy", "--to", &target.url], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("every table's row count matches"), "{out}");
    assert!(
        out.contains("task_log") && out.contains("database_url"),
        "{out}"
    );
    // A second copy into the same database is refused and changes nothing.
    let (code, _, err) = run_cli(dir.path(), &["database", "copy", "--to", &target.url], "");
    assert_ne!(code, 0);
    assert!(err.contains("not empty"), "{err}");

    std::fs::write(
        dir.path().join(drydock::config::CONFIG_FILE),
        format!("database_url = \"{}\"\n", target.url),
    )
    .unwrap();
    std::fs::remove_file(dir.path().join("secret.key")).unwrap();
    let moved = Server::start(dir.path());
    let after = read(&moved);
    for ((path, was), (_, now)) in before.iter().zip(&after) {
        assert_eq!(was, now, "{path} reads differently after the copy");
    }
    // The session made on SQLite goes on working; new writes get fresh ids.
    let me = common::raw::send(
        moved.port,
        "GET",
        "/api/users/me",
        &[("Cookie", &browser.cookie)],
        "",
    );
    assert_eq!(me.status, 200, "{}", me.body);
    let (status, d) = moved.api(
        &dana,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{d}");
    assert_eq!(d["TaskId"], "ServerTasks-6", "{d}");
    let done = moved.wait_task(
        &key,
        d["TaskId"].as_str().unwrap(),
        &["Success", "Failed"],
        20,
    );
    assert_eq!(done["State"], "Success", "{done}");
    // The deployment still waits on PostgreSQL, and runs once approved there.
    let (_, task) = moved.api(&key, "GET", "/api/tasks/ServerTasks-5", None);
    assert_eq!(
        (
            task["State"].as_str(),
            task["HasPendingInterruptions"].as_bool()
        ),
        (Some("Queued"), Some(true)),
        "{task}"
    );
    let (_, page) = moved.api(
        &key,
        "GET",
        "/api/interruptions?regarding=ServerTasks-5&pendingOnly=true",
        None,
    );
    let (status, body) = moved.api(
        &key,
        "POST",
        &format!(
            "/api/interruptions/{}/submit",
            page["Items"][0]["Id"].as_str().unwrap()
        ),
        Some(json!({"Result": "Proceed"})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        moved.wait_task(&key, "ServerTasks-5", &["Success", "Failed"], 20)["State"],
        "Success"
    );
    // The sensitive value opens on PostgreSQL with the data directory's master key.
    let (status, d) = moved.api(
        &key,
        "POST",
        "/api/deployments",
        Some(json!({"ReleaseId": vars_release, "EnvironmentId": env})),
    );
    assert_eq!(status, 201, "{d}");
    let task = d["TaskId"].as_str().unwrap().to_string();
    let done = moved.wait_task(&key, &task, &["Success", "Failed"], 20);
    assert_eq!(done["State"], "Success", "{done}");
    let (_, log) = moved.api(&key, "GET", &format!("/api/tasks/{task}/raw"), None);
    let sha = &hex::encode(sha2::Sha256::digest(b"copied-S3CRET"))[..8];
    assert!(
        log.to_string()
            .contains(&format!("shared=from-library token={sha}")),
        "{log}"
    );
}

/// A `database_url` drydock cannot use is refused at start, naming the problem.
#[test]
fn an_unusable_database_url_is_refused_naming_the_problem() {
    use common::server::run_cli;
    let dir = tempfile::tempdir().unwrap();
    for (url, says) in [
        ("mysql://u@h/db", "must be a PostgreSQL URL"),
        (
            "postgres://drydock@127.0.0.1:1/db?sslmode=on",
            "sslmode=on is not one of",
        ),
        (
            "postgres://drydock@127.0.0.1:1/db?sslmode=verify-full&sslrootcert=/no/ca.crt",
            "sslrootcert /no/ca.crt cannot be read",
        ),
        (
            "postgres://drydock@127.0.0.1:1/db?sslcert=/me.crt",
            "client certificates are not supported",
        ),
        (
            "postgres://drydock@127.0.0.1:1/db",
            "cannot connect to PostgreSQL",
        ),
    ] {
        let (code, out, err) = run_cli(dir.path(), &["--database-url", url, "node", "list"], "");
        assert_ne!(code, 0, "{url}: {out}");
        assert!(err.contains(says), "{url}: {err}");
    }
}
