//! The task API around the queue: bad input, lists and paging, two processes on one
//! database, deletion with active tasks, working directories, counted pages, claims
//! given back.

use crate::common;

use super::queue::{iso_in, Deployer};

use common::*;
use rocket::http::{Method, Status};
use serde_json::json;
#[test]
fn bad_deployment_input_gets_400_naming_the_field() {
    let d = Deployer::new(5);
    let project = d.project("Web", "true");
    let env = d.environment("Prod");
    let release = d.release(&project, "1");
    let cases = [
        (
            json!({"ReleaseId": "Releases-999", "EnvironmentId": env}),
            "ReleaseId",
        ),
        (
            json!({"ReleaseId": release, "EnvironmentId": "Environments-999"}),
            "EnvironmentId",
        ),
        (
            json!({"ReleaseId": "nonsense", "EnvironmentId": env}),
            "ReleaseId",
        ),
        (
            json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": "tomorrow"}),
            "QueueTime",
        ),
        (
            json!({"ReleaseId": release, "EnvironmentId": env, "QueueTime": iso_in(60_000), "QueueTimeExpiry": iso_in(30_000)}),
            "QueueTimeExpiry",
        ),
        (json!({"EnvironmentId": env}), "ReleaseId"),
    ];
    let before = d.app.count("tasks");
    for (body, field) in cases {
        let (status, json) = d.call(Method::Post, "/api/deployments", Some(body.clone()));
        assert_eq!(status, Status::BadRequest, "{body}: {json}");
        assert!(
            json["ErrorMessage"].as_str().unwrap().contains(field),
            "{body}: {json}"
        );
    }
    assert_eq!(d.app.count("tasks"), before);
    let (status, json) = d.call(
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "x", "DeploymentScript": "echo a\u{0}b"})),
    );
    assert_eq!(status, Status::BadRequest);
    assert!(json["ErrorMessage"]
        .as_str()
        .unwrap()
        .contains("DeploymentScript"));
    let (status, _) = d.call(
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "web", "DeploymentScript": "true"})),
    );
    assert_eq!(status, Status::Conflict, "names are unique, ignoring case");
    let (status, _) = d.call(
        Method::Post,
        "/api/releases",
        Some(json!({"ProjectId": project, "Version": "1"})),
    );
    assert_eq!(status, Status::Conflict, "versions are unique per project");
    let (status, json) = d.call(Method::Get, "/api/tasks?states=Running", None);
    assert_eq!(status, Status::BadRequest);
    assert!(json["ErrorMessage"].as_str().unwrap().contains("states"));
}

#[test]
fn task_lists_filter_by_state_and_project_with_octopus_paging() {
    let d = Deployer::new(5);
    let env = d.environment("Prod");
    let ok = d.project("Ok", "true");
    let bad = d.project("Bad", "exit 1");
    let mut all = Vec::new();
    for i in 0..3 {
        all.push(d.deploy(&d.release(&ok, &i.to_string()), &env, json!({})));
        all.push(d.deploy(&d.release(&bad, &i.to_string()), &env, json!({})));
    }
    for t in &all {
        d.wait(t, 30);
    }
    let (_, page) = d.call(Method::Get, "/api/tasks?states=Failed&take=2", None);
    assert_eq!(page["TotalResults"], 3);
    assert_eq!(page["ItemsPerPage"], 2);
    assert_eq!(page["NumberOfPages"], 2);
    assert_eq!(page["Items"].as_array().unwrap().len(), 2);
    let (_, page) = d.call(Method::Get, &format!("/api/tasks?project={ok}"), None);
    assert_eq!(page["TotalResults"], 3);
    assert!(page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["State"] == "Success"));
    let (_, page) = d.call(Method::Get, "/api/tasks?states=Success,Failed", None);
    assert_eq!(page["TotalResults"], 6);
    let ids: Vec<&str> = page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Id"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| {
        std::cmp::Reverse(
            id.trim_start_matches("ServerTasks-")
                .parse::<i64>()
                .unwrap(),
        )
    });
    assert_eq!(ids, sorted, "newest first");

    // Octopus's task waiter asks for its own tasks by id: it gets those and no others.
    let wanted = format!("{},{}", all[1], all[4]);
    let (_, page) = d.call(Method::Get, &format!("/api/tasks?ids={wanted}"), None);
    assert_eq!(page["TotalResults"], 2, "{page}");
    let mut got: Vec<&str> = page["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["Id"].as_str().unwrap())
        .collect();
    got.sort();
    let mut expected = vec![all[1].as_str(), all[4].as_str()];
    expected.sort();
    assert_eq!(got, expected);
    let (_, page) = d.call(
        Method::Get,
        &format!("/api/tasks?ids={}&states=Success", all[1]),
        None,
    );
    assert_eq!(page["TotalResults"], 0, "ids and states together: {page}");
    let (_, page) = d.call(Method::Get, "/api/tasks?ids=ServerTasks-99999", None);
    assert_eq!(page["TotalResults"], 0);
    for bad in ["Projects-1", "ServerTasks-x", "1"] {
        let (status, json) = d.call(Method::Get, &format!("/api/tasks?ids={bad}"), None);
        assert_eq!(status, Status::BadRequest, "{bad}: {json}");
        assert!(
            json["ErrorMessage"].as_str().unwrap().contains("ids"),
            "{json}"
        );
    }
}

#[test]
fn two_processes_on_one_database_never_run_a_task_twice() {
    let d = Deployer::new(3);
    // A second server (its own queue processor and node name) on the same database.
    let other = d.app.client();
    let file = d.app.shared_file("ran.txt");
    let script = format!("echo $DRYDOCK_TASK_ID >> {}\nsleep 0.02", file.display());
    let env = d.environment("Prod");
    let mut releases = Vec::new();
    for p in 0..6 {
        let project = d.project(&format!("Twice{p}"), &script);
        releases.push(d.release(&project, "1"));
    }
    let mut tasks = Vec::new();
    for i in 0..60 {
        tasks.push(d.deploy(&releases[i % releases.len()], &env, json!({})));
    }
    for t in &tasks {
        assert_eq!(d.wait(t, 60)["State"], "Success");
    }
    let text = std::fs::read_to_string(&file).unwrap();
    let mut ran: Vec<&str> = text.lines().collect();
    ran.sort();
    let mut expected: Vec<&str> = tasks.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(ran, expected, "every task ran exactly once");
    drop(other);
}

#[test]
fn projects_and_environments_with_active_tasks_cannot_be_deleted_and_tasks_outlive_them() {
    let d = Deployer::new(5);
    let project = d.project("Doomed", "true");
    let env = d.environment("Doomed env");
    let release = d.release(&project, "1");
    let task_id = d.deploy(&release, &env, json!({"QueueTime": iso_in(60_000)}));
    let (status, json) = d.call(Method::Delete, &format!("/api/projects/{project}"), None);
    assert_eq!(status, Status::Conflict, "{json}");
    let (status, _) = d.call(Method::Delete, &format!("/api/environments/{env}"), None);
    assert_eq!(status, Status::Conflict);
    d.call(Method::Post, &format!("/api/tasks/{task_id}/cancel"), None);
    let (status, _) = d.call(Method::Delete, &format!("/api/projects/{project}"), None);
    assert_eq!(status, Status::NoContent);
    let (status, _) = d.call(Method::Delete, &format!("/api/environments/{env}"), None);
    assert_eq!(status, Status::NoContent);
    assert_eq!(
        d.call(Method::Get, &format!("/api/projects/{project}"), None)
            .0,
        Status::NotFound
    );
    assert_eq!(
        d.call(Method::Get, &format!("/api/releases/{release}"), None)
            .0,
        Status::NotFound
    );
    let task = d.task(&task_id);
    assert_eq!(task["State"], "Canceled");
    assert_eq!(
        task["ProjectId"],
        project.as_str(),
        "the task is kept as history"
    );
}

#[test]
fn a_work_directory_removed_by_another_node_is_made_again_for_the_next_task() {
    let d = Deployer::new(5);
    let project = d.project("Web", "pwd");
    let env = d.environment("Prod");
    let first = d.wait(&d.deploy(&d.release(&project, "1"), &env, json!({})), 30);
    assert_eq!(first["State"], "Success", "{first}");
    // What a node on the same data directory does when it stops with nothing running.
    let work_dir = drydock::files::recorded_work_dir(&d.app.config.data_dir);
    drydock::queue::scripts::leave_work_dir(&work_dir);
    assert!(!work_dir.exists());
    let second = d.wait(&d.deploy(&d.release(&project, "2"), &env, json!({})), 30);
    assert_eq!(second["State"], "Success", "{second}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&work_dir).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o711);
}

#[test]
fn a_page_can_count_its_matches_only_up_to_a_cap() {
    let app = TestApp::new();
    let key = app.user_with_key("ops", &["System Administrator"]);
    let client = app.client();
    let (_, env, release) = project_env_release(&client, &key, "true");
    for _ in 0..5 {
        deploy(&client, &key, &release, &env);
    }
    let store = app.store();
    let filter = |cap| drydock::store::task_list::Filter {
        system: Some(false),
        count_up_to: cap,
        ..Default::default()
    };
    let list = |cap| {
        store
            .read_now(|c| drydock::store::task_list::list(c, &filter(cap), 0, 2))
            .unwrap()
    };
    let (items, exact) = list(None);
    assert_eq!((items.len(), exact), (2, 5));
    let (_, capped) = list(Some(3));
    assert_eq!(capped, 3, "counting stops at the cap");
    let (items, none) = list(Some(0));
    assert_eq!((items.len(), none), (2, 0), "the page without a count");
}

#[test]
fn a_claim_given_back_is_queued_again_and_only_by_the_node_that_holds_it() {
    use drydock::store::{tasks, Store};
    // No node runs here: the claims are made by hand, as two nodes' runners would.
    let app = TestApp::new();
    let store = Store::open(&app.config).unwrap();
    let db = app.db();
    let id: i64 = db.one(
        "INSERT INTO tasks (name, description, state, queue_time, last_updated_time)
         VALUES ('Deploy', 'given back', 'Queued', 1, 1) RETURNING id",
        &[],
    );
    let row = |db: &db::Db| -> (String, Option<i64>, Option<String>) {
        let r = &db.rows(
            "SELECT state, start_time, server_node FROM tasks WHERE id = ?1",
            &[&id],
        )[0];
        (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap())
    };
    let claimed = store
        .bookkeeping_now(|tx| drydock::store::claim::claim(tx, "node-a", 2, 1))
        .unwrap();
    assert_eq!(claimed.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
    // Another node cannot give back what it does not hold.
    store
        .bookkeeping_now(|tx| tasks::release(tx, id, "node-b", 3))
        .unwrap();
    assert_eq!(
        row(&db),
        ("Executing".into(), Some(2), Some("node-a".into()))
    );
    store
        .bookkeeping_now(|tx| tasks::release(tx, id, "node-a", 3))
        .unwrap();
    assert_eq!(row(&db), ("Queued".into(), None, None));
    let again = store
        .bookkeeping_now(|tx| drydock::store::claim::claim(tx, "node-b", 4, 1))
        .unwrap();
    assert_eq!(again.iter().map(|t| t.id).collect::<Vec<_>>(), vec![id]);
    assert_eq!(
        row(&db),
        ("Executing".into(), Some(4), Some("node-b".into()))
    );
}
