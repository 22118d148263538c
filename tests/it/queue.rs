//! The task queue, through the API: scripts, logs, cap, concurrency tags, FIFO,
//! scheduling, expiry, cancel, timeout.

use crate::common;

use std::time::{Duration, Instant};

use common::server::alive;
use common::*;
use rocket::http::{Method, Status};
use rocket::local::blocking::Client;
use serde_json::{json, Value};

struct Deployer {
    app: TestApp,
    client: Client,
    key: String,
}

impl Deployer {
    fn new(cap: usize) -> Deployer {
        Deployer::with(|c| c.task_cap = cap)
    }

    fn with(adjust: impl FnOnce(&mut drydock::config::Config)) -> Deployer {
        let app = TestApp::with(|c| {
            c.cancel_grace_ms = 500;
            c.queue_poll_ms = 100;
            adjust(c);
        });
        let key = app.user_with_key("ops", &["System Administrator"]);
        let client = app.client();
        Deployer { app, client, key }
    }

    fn call(&self, method: Method, path: &str, body: Option<Value>) -> (Status, Value) {
        json_of(with_key(&self.client, method, path, &self.key, body))
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let (status, json) = self.call(Method::Post, path, Some(body));
        assert!(
            status == Status::Created || status == Status::Ok,
            "{path}: {status} {json}"
        );
        json
    }

    fn project(&self, name: &str, script: &str) -> String {
        self.post(
            "/api/projects",
            json!({"Name": name, "DeploymentScript": script}),
        )["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn environment(&self, name: &str) -> String {
        self.post("/api/environments", json!({"Name": name}))["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn release(&self, project: &str, version: &str) -> String {
        self.post(
            "/api/releases",
            json!({"ProjectId": project, "Version": version}),
        )["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// Queues a deployment and returns its task id.
    fn deploy(&self, release: &str, env: &str, extra: Value) -> String {
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

    fn task(&self, id: &str) -> Value {
        self.call(Method::Get, &format!("/api/tasks/{id}"), None).1
    }

    /// Waits until the task is completed (at most `secs`).
    fn wait(&self, id: &str, secs: u64) -> Value {
        wait_completed(&self.client, &self.key, id, secs)
    }

    fn wait_state(&self, id: &str, state: &str, secs: u64) -> Value {
        wait_state(&self.client, &self.key, id, state, secs)
    }

    fn raw(&self, id: &str) -> String {
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

fn iso_in(ms: i64) -> String {
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

/// Scripts append `start|end <tag> <nanoseconds>` to a shared file.
fn recording_script(file: &std::path::Path, sleep: &str) -> String {
    let f = file.display();
    format!(
        "echo \"start $DRYDOCK_PROJECT/$DRYDOCK_ENVIRONMENT $(date +%s%N)\" >> {f}\nsleep {sleep}\necho \"end $DRYDOCK_PROJECT/$DRYDOCK_ENVIRONMENT $(date +%s%N)\" >> {f}\n"
    )
}

struct Interval {
    tag: String,
    start: u128,
    end: u128,
}

fn intervals(file: &std::path::Path) -> Vec<Interval> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut open: Vec<(String, u128)> = Vec::new();
    let mut done = Vec::new();
    for line in text.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let (kind, tag, at) = (
            parts[0],
            parts[1].to_string(),
            parts[2].parse::<u128>().unwrap(),
        );
        if kind == "start" {
            open.push((tag, at));
        } else {
            let i = open.iter().position(|(t, _)| *t == tag).unwrap();
            let (tag, start) = open.remove(i);
            done.push(Interval {
                tag,
                start,
                end: at,
            });
        }
    }
    done
}

#[test]
fn the_cap_is_never_exceeded_and_a_tag_runs_one_task_at_a_time() {
    let d = Deployer::new(2);
    let file = d.app.shared_file("record.txt");
    let script = recording_script(&file, "0.3");
    let envs = [d.environment("A"), d.environment("B")];
    let mut tasks = Vec::new();
    for p in 0..3 {
        let project = d.project(&format!("P{p}"), &script);
        let release = d.release(&project, "1");
        for env in &envs {
            // Two deployments per project and environment: same tag.
            tasks.push(d.deploy(&release, env, json!({})));
            tasks.push(d.deploy(&release, env, json!({})));
        }
    }
    for t in &tasks {
        assert_eq!(d.wait(t, 60)["State"], "Success");
    }
    let runs = intervals(&file);
    assert_eq!(runs.len(), 12);
    let mut events: Vec<(u128, i32)> = runs
        .iter()
        .flat_map(|r| [(r.start, 1), (r.end, -1)])
        .collect();
    events.sort();
    let (mut now, mut max) = (0, 0);
    for (_, delta) in events {
        now += delta;
        max = max.max(now);
    }
    assert!(max <= 2, "{max} tasks ran at once with a cap of 2");
    assert_eq!(max, 2, "the cap was used");
    for a in &runs {
        for b in &runs {
            if !std::ptr::eq(a, b) && a.tag == b.tag {
                assert!(
                    a.end <= b.start || b.end <= a.start,
                    "two tasks of {} overlapped",
                    a.tag
                );
            }
        }
    }
}

#[test]
fn a_busy_tag_does_not_block_other_tags() {
    let d = Deployer::new(5);
    let file = d.app.shared_file("record.txt");
    let slow = d.project("Slow", &recording_script(&file, "1.5"));
    let fast = d.project("Fast", &recording_script(&file, "0"));
    let env = d.environment("Prod");
    let (slow_release, fast_release) = (d.release(&slow, "1"), d.release(&fast, "1"));
    let first = d.deploy(&slow_release, &env, json!({}));
    let second = d.deploy(&slow_release, &env, json!({})); // waits for the tag
    let other = d.deploy(&fast_release, &env, json!({})); // behind it in the queue, free tag
    assert_eq!(d.wait(&other, 30)["State"], "Success");
    assert_eq!(d.task(&second)["State"], "Queued", "same tag still waiting");
    d.wait(&first, 30);
    d.wait(&second, 30);
    let runs = intervals(&file);
    let fast_run = runs.iter().find(|r| r.tag.starts_with("Fast")).unwrap();
    let slow_end = runs
        .iter()
        .filter(|r| r.tag.starts_with("Slow"))
        .map(|r| r.end)
        .min()
        .unwrap();
    assert!(fast_run.end < slow_end);
}

#[test]
fn tasks_start_in_fifo_order() {
    let d = Deployer::new(1);
    let file = d.app.shared_file("record.txt");
    let script = recording_script(&file, "0.05");
    let env = d.environment("Prod");
    // A blocker holds the only slot while the others queue up.
    let blocker = d.project("Blocker", &recording_script(&file, "0.5"));
    d.deploy(&d.release(&blocker, "1"), &env, json!({}));
    let mut expected = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..6 {
        let project = d.project(&format!("F{i}"), &script);
        tasks.push(d.deploy(&d.release(&project, "1"), &env, json!({})));
        expected.push(format!("F{i}/Prod"));
    }
    for t in &tasks {
        d.wait(t, 30);
    }
    let order: Vec<String> = intervals(&file)
        .into_iter()
        .filter(|r| r.tag.starts_with('F'))
        .map(|r| r.tag)
        .collect();
    assert_eq!(order, expected);
}

#[test]
fn a_scheduled_task_does_not_start_before_its_queue_time() {
    let d = Deployer::new(5);
    let project = d.project("Later", "true");
    let env = d.environment("Prod");
    let release = d.release(&project, "1");
    let queue_time = iso_in(1500);
    let task_id = d.deploy(&release, &env, json!({"QueueTime": queue_time}));
    // Queued until its time: watched, not slept through.
    let watch_until = Instant::now() + Duration::from_millis(500);
    while Instant::now() < watch_until {
        assert_eq!(d.task(&task_id)["State"], "Queued");
        std::thread::sleep(Duration::from_millis(25));
    }
    let task = d.wait(&task_id, 30);
    assert_eq!(task["State"], "Success");
    let start = drydock::clock::parse_iso(task["StartTime"].as_str().unwrap()).unwrap();
    let queued = drydock::clock::parse_iso(task["QueueTime"].as_str().unwrap()).unwrap();
    assert!(
        start >= queued,
        "started {start} before its queue time {queued}"
    );
}

#[test]
fn a_task_not_started_by_its_expiry_times_out() {
    let d = Deployer::new(1);
    let blocker = d.project("Blocker", "sleep 3");
    let other = d.project("Other", "true");
    let env = d.environment("Prod");
    let blocking = d.deploy(&d.release(&blocker, "1"), &env, json!({}));
    d.wait_state(&blocking, "Executing", 10);
    let expiring = d.deploy(
        &d.release(&other, "1"),
        &env,
        json!({"QueueTimeExpiry": iso_in(800)}),
    );
    let task = d.wait(&expiring, 10);
    assert_eq!(task["State"], "TimedOut", "{task}");
    assert!(task["ErrorMessage"].as_str().unwrap().contains("expiry"));
    assert!(task["StartTime"].is_null());
    d.wait(&blocking, 10);
}

#[test]
fn cancelling_a_queued_task_is_immediate() {
    let d = Deployer::new(5);
    let project = d.project("Later", "true");
    let env = d.environment("Prod");
    let release = d.release(&project, "1");
    let task_id = d.deploy(&release, &env, json!({"QueueTime": iso_in(60_000)}));
    let (status, task) = d.call(Method::Post, &format!("/api/tasks/{task_id}/cancel"), None);
    assert_eq!(status, Status::Ok);
    assert_eq!(task["State"], "Canceled");
    assert_eq!(task["IsCompleted"], true);
    let (status, again) = d.call(Method::Post, &format!("/api/tasks/{task_id}/cancel"), None);
    assert_eq!(status, Status::Conflict, "{again}");
}

#[test]
fn cancelling_an_executing_task_stops_its_whole_process_group() {
    let d = Deployer::new(5);
    let pids = d.app.shared_file("pids");
    let script = format!(
        "sleep 300 &\necho $! >> {p}\n(trap '' TERM; sleep 300) &\necho $! >> {p}\necho $$ >> {p}\necho started\nwait\n",
        p = pids.display()
    );
    let project = d.project("Long", &script);
    let env = d.environment("Prod");
    let task_id = d.deploy(&d.release(&project, "1"), &env, json!({}));
    d.wait_state(&task_id, "Executing", 10);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&pids)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        < 3
    {
        assert!(
            Instant::now() < deadline,
            "the script did not start its children"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pids: Vec<String> = std::fs::read_to_string(&pids)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(pids.iter().all(|p| alive(p)));
    let (status, task) = d.call(Method::Post, &format!("/api/tasks/{task_id}/cancel"), None);
    assert_eq!(status, Status::Ok);
    assert!(
        task["State"] == "Cancelling" || task["State"] == "Canceled",
        "{task}"
    );
    let task = d.wait(&task_id, 15);
    assert_eq!(task["State"], "Canceled", "{task}");
    // Even the child that ignores SIGTERM is gone (SIGKILL after the grace period).
    for pid in &pids {
        assert!(!alive(pid), "process {pid} survived its task");
    }
}

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
