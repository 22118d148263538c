//! The task queue, through the API: scripts, their environment, logs, exit codes and
//! timeouts. The order tasks run in is `queue_order`; lists and the rest of the task
//! API are `queue_api`. `Deployer` is their shared harness.

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

pub(super) struct Deployer {
    pub(super) app: TestApp,
    pub(super) client: Client,
    pub(super) key: String,
}

impl Deployer {
    pub(super) fn new(cap: usize) -> Deployer {
        Deployer::with(|c| c.task_cap = cap)
    }

    pub(super) fn with(adjust: impl FnOnce(&mut drydock::config::Config)) -> Deployer {
        let app = TestApp::with(|c| {
            c.cancel_grace_ms = 500;
            c.queue_poll_ms = 100;
            adjust(c);
        });
        let key = app.user_with_key("ops", &["System Administrator"]);
        let client = app.client();
        Deployer { app, client, key }
    }

    pub(super) fn call(&self, method: Method, path: &str, body: Option<Value>) -> (Status, Value) {
        json_of(with_key(&self.client, method, path, &self.key, body))
    }

    pub(super) fn post(&self, path: &str, body: Value) -> Value {
        let (status, json) = self.call(Method::Post, path, Some(body));
        assert!(
            status == Status::Created || status == Status::Ok,
            "{path}: {status} {json}"
        );
        json
    }

    pub(super) fn project(&self, name: &str, script: &str) -> String {
        self.post(
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        )["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(super) fn environment(&self, name: &str) -> String {
        self.post("/api/environments", json!({"Name": name}))["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(super) fn release(&self, project: &str, version: &str) -> String {
        self.post(
            "/api/releases",
            json!({"ProjectId": project, "Version": version}),
        )["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Queues a deployment and returns its task id.
    pub(super) fn deploy(&self, release: &str, env: &str, extra: Value) -> String {
        let mut body = json!({"ReleaseId": release, "EnvironmentId": env});
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                body[k] = v;
            }
        }
        self.post("/api/deployments", body)["TaskId"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub(super) fn task(&self, id: &str) -> Value {
        self.call(Method::Get, &format!("/api/tasks/{id}"), None).1
    }

    /// Waits until the task is completed (at most `secs`).
    pub(super) fn wait(&self, id: &str, secs: u64) -> Value {
        wait_completed(&self.client, &self.key, id, secs)
    }

    pub(super) fn wait_state(&self, id: &str, state: &str, secs: u64) -> Value {
        wait_state(&self.client, &self.key, id, state, secs)
    }

    pub(super) fn raw(&self, id: &str) -> String {
        let response = with_key(
            &self.client,
            Method::Get,
            &format!("/api/tasks/{id}/raw"),
            &self.key,
            None,
        );
        response.into_string().unwrap()
    }
}

pub(super) fn iso_in(ms: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::milliseconds(ms);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn a_deployment_runs_its_script_with_the_environment_and_logs_every_line_in_order() {
    let d = Deployer::new(5);
    let script = "echo \"project=$DRYDOCK_PROJECT release=$DRYDOCK_RELEASE env=$DRYDOCK_ENVIRONMENT task=$DRYDOCK_TASK_ID\"\n\
                  for i in $(seq 1 300); do echo \"line $i\"; done\n\
                  echo 'to stderr' >&2\n\
                  pwd";
    let project = d.project("Web", script);
    let env = d.environment("Production");
    let release = d.release(&project, "1.2.3");
    let task_id = d.deploy(&release, &env, json!({}));
    let task = d.wait(&task_id, 30);
    assert_eq!(task["State"], "Success", "{task}");
    assert_eq!(task["FinishedSuccessfully"], true);
    assert_eq!(task["Name"], "Deploy");
    assert_eq!(task["ConcurrencyTag"], format!("{project}/{env}"));
    assert!(task["StartTime"].is_string() && task["CompletedTime"].is_string());
    let raw = d.raw(&task_id);
    assert!(
        raw.contains(&format!(
            "project=Web release=1.2.3 env=Production task={task_id}"
        )),
        "{raw}"
    );
    let numbers: Vec<u32> = raw
        .lines()
        .filter_map(|l| l.split("line ").nth(1))
        .map(|n| n.trim().parse().unwrap())
        .collect();
    assert_eq!(numbers, (1..=300).collect::<Vec<_>>());
    assert!(raw.lines().any(|l| l.contains(" ERR  to stderr")), "{raw}");
    // A fresh working directory, removed afterwards.
    let workdir = raw
        .lines()
        .find(|l| l.contains("/ServerTasks-"))
        .and_then(|l| l.split("INFO ").nth(1))
        .unwrap()
        .trim()
        .to_string();
    assert!(workdir.ends_with(&task_id), "{workdir}");
    assert!(!std::path::Path::new(&workdir).exists());
}

#[test]
fn output_is_cut_into_lines_however_the_script_writes_it() {
    let d = Deployer::new(5);
    // A CRLF line, a line longer than 16 KiB, bytes that are not UTF-8, a line written
    // in pieces, a last line without a newline on each stream; then the script closes
    // both pipes and goes on running: its exit is still seen.
    let script = "printf 'crlf\\r\\n'\n\
                  head -c 20000 /dev/zero | tr '\\0' x; echo\n\
                  printf 'bad \\377 byte\\n'\n\
                  printf 'in '; sleep 0.1; printf 'pieces\\n'\n\
                  printf 'no newline on stderr' >&2\n\
                  printf 'no newline'\n\
                  exec >&- 2>&-\n\
                  sleep 0.3; exit 4";
    let project = d.project("Lines", script);
    let env = d.environment("Production");
    let release = d.release(&project, "1");
    let task_id = d.deploy(&release, &env, json!({}));
    let task = d.wait(&task_id, 30);
    assert_eq!(task["State"], "Failed", "{task}");
    assert!(
        task["ErrorMessage"].as_str().unwrap().contains("status 4"),
        "{task}"
    );
    let raw = d.raw(&task_id);
    let texts: Vec<&str> = raw
        .lines()
        .filter_map(|l| l.split_once("INFO ").or_else(|| l.split_once("ERR  ")))
        .map(|(_, text)| text)
        .collect();
    let cut = format!("{} [line cut at 16 KiB]", "x".repeat(16 * 1024));
    let rest = "x".repeat(20000 - 16 * 1024);
    for expected in [
        "crlf",
        cut.as_str(),
        rest.as_str(),
        "bad \u{fffd} byte",
        "in pieces",
        "no newline",
        "no newline on stderr",
    ] {
        assert!(
            texts.contains(&expected),
            "no line {:?} in {:?}",
            &expected[..expected.len().min(40)],
            texts
                .iter()
                .map(|t| &t[..t.len().min(40)])
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn scripts_run_at_script_nice_from_a_read_only_copy_of_their_project_script() {
    let d = Deployer::with(|c| c.script_nice = 7);
    // The script tries to change its own file: refused, so the next task (which
    // shares the kept copy) runs it as written.
    let script = "echo \"nice=$(nice)\"\n\
                  echo 'echo tampered' >> \"$0\" 2>/dev/null && echo changed-itself\n\
                  true";
    let project = d.project("Web", script);
    let env = d.environment("Prod");
    for version in ["1", "2"] {
        let id = d.deploy(&d.release(&project, version), &env, json!({}));
        let task = d.wait(&id, 30);
        assert_eq!(task["State"], "Success", "{task}");
        let raw = d.raw(&id);
        assert!(raw.contains("nice=7"), "{raw}");
        assert!(
            !raw.contains("changed-itself") && !raw.contains("tampered"),
            "{raw}"
        );
    }
    // A changed script runs as changed.
    let (status, body) = d.call(
        Method::Put,
        &format!("/api/projects/{project}"),
        Some(json!({"Name": "Web", "DeploymentScript": "echo second version"})),
    );
    assert_eq!(status, Status::Ok, "{body}");
    let id = d.deploy(&d.release(&project, "3"), &env, json!({}));
    assert_eq!(d.wait(&id, 30)["State"], "Success");
    assert!(d.raw(&id).contains("second version"));
}

#[test]
fn what_a_script_leaves_in_its_directory_goes_with_it_and_nothing_outside() {
    let d = Deployer::new(5);
    let outside = tempfile::tempdir().unwrap();
    let keep = outside.path().join("keep");
    std::fs::write(&keep, "kept").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(outside.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    // Files, a tree, a link out of the directory, and its own deploy.sh removed.
    let script = format!(
        "mkdir -p build/a/b && echo x > build/a/b/file && echo y > top\n\
         ln -s {} out && rm -f deploy.sh && pwd",
        outside.path().display()
    );
    let project = d.project("Leaves", &script);
    let env = d.environment("Prod");
    let id = d.deploy(&d.release(&project, "1"), &env, json!({}));
    assert_eq!(d.wait(&id, 30)["State"], "Success");
    let raw = d.raw(&id);
    let workdir = raw
        .lines()
        .find_map(|l| {
            l.split("INFO ")
                .nth(1)
                .filter(|w| w.contains("/ServerTasks-"))
        })
        .unwrap()
        .trim()
        .to_string();
    assert!(!std::path::Path::new(&workdir).exists(), "{workdir}");
    assert_eq!(std::fs::read_to_string(&keep).unwrap(), "kept");
}

#[test]
fn a_non_zero_exit_fails_with_the_status() {
    let d = Deployer::new(5);
    let project = d.project("Api", "echo about to fail; exit 3");
    let env = d.environment("Test");
    let release = d.release(&project, "1");
    let task = d.wait(&d.deploy(&release, &env, json!({})), 30);
    assert_eq!(task["State"], "Failed");
    assert!(
        task["ErrorMessage"].as_str().unwrap().contains("status 3"),
        "{task}"
    );
}

#[test]
fn a_script_past_its_timeout_is_stopped_as_timed_out() {
    let d = Deployer::new(5);
    let (_, project) = d.call(
        Method::Post,
        "/api/projects",
        Some(json!({"Name": "Slow", "DeploymentScript": "sleep 60", "ScriptTimeoutSeconds": 1})),
    );
    let project = project["Id"].as_str().unwrap().to_string();
    let env = d.environment("Test");
    let release = d.release(&project, "1");
    let started = Instant::now();
    let task = d.wait(&d.deploy(&release, &env, json!({})), 20);
    assert_eq!(task["State"], "TimedOut", "{task}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(task["ErrorMessage"].as_str().unwrap().contains("timeout"));
}
