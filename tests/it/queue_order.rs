//! The order the task queue runs tasks in: the cap, concurrency tags, FIFO, scheduled
//! and expiring tasks, cancel.

use crate::common;

use super::queue::{iso_in, Deployer};

use common::server::alive;
use rocket::http::{Method, Status};
use serde_json::json;
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
    common::watch_for(500, || assert_eq!(d.task(&task_id)["State"], "Queued"));
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
    common::poll_until(10, "the script did not start its children", || {
        std::fs::read_to_string(&pids)
            .map(|s| s.lines().count())
            .unwrap_or(0)
            >= 3
    });
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
