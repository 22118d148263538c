//! Tasks: `/api/tasks` (list, one, cancel, its log raw and in detail, a system task
//! run now).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self};
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::task_list;
use crate::store::tasks::{self, Task};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, get, cancel, raw, details, create]
}

/// Octopus's task resource.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskResource {
    id: String,
    name: crate::model::TaskKind,
    description: String,
    state: TaskState,
    queue_time: String,
    queue_time_expiry: Option<String>,
    start_time: Option<String>,
    completed_time: Option<String>,
    last_updated_time: String,
    server_node: Option<String>,
    error_message: Option<String>,
    is_completed: bool,
    finished_successfully: bool,
    project_id: Option<String>,
    environment_id: Option<String>,
    concurrency_tag: Option<String>,
    arguments: Value,
    is_system_task: bool,
    /// From start to completion (or now), in words as Octopus gives it; `None` before
    /// the task starts.
    duration: Option<String>,
    /// The task failed or wrote to stderr.
    has_warnings_or_errors: bool,
    /// drydock has no task re-run; a deployment is redeployed by queuing it again.
    can_rerun: bool,
    /// Waiting for an approval (drydock has no manual intervention steps or guided
    /// failure: its interruptions are approvals before a deployment starts).
    has_pending_interruptions: bool,
    has_been_picked_up_by_processor: bool,
    /// Who queued it (`drydock` for its own timer) and how (drydock's).
    queued_by: String,
    queued_via: String,
    links: Value,
}

/// A duration in words, one unit, as Octopus's task resources give it.
pub fn human_duration(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    let (n, unit) = match secs {
        0 => return "less than a second".to_string(),
        s if s < 60 => (s, "second"),
        s if s < 3600 => (s / 60, "minute"),
        s if s < 86_400 => (s / 3600, "hour"),
        s => (s / 86_400, "day"),
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

impl From<Task> for TaskResource {
    fn from(t: Task) -> Self {
        let id = format!("ServerTasks-{}", t.id);
        TaskResource {
            links: json!({
                "Self": format!("/api/tasks/{id}"),
                "Raw": format!("/api/tasks/{id}/raw"),
                "Cancel": format!("/api/tasks/{id}/cancel"),
                "Details": format!("/api/tasks/{id}/details"),
                "Web": format!("/tasks/{}", t.id),
            }),
            id,
            duration: t.start_time.map(|start| {
                human_duration(t.completed_time.unwrap_or_else(clock::now_ms) - start)
            }),
            has_warnings_or_errors: t.error_lines > 0
                || matches!(t.state, TaskState::Failed | TaskState::TimedOut),
            can_rerun: false,
            has_pending_interruptions: t.waits_for_approval(),
            // A node claimed it (claiming sets the start time); a task that expired or
            // was cancelled in the queue never was.
            has_been_picked_up_by_processor: t.start_time.is_some(),
            is_completed: t.state.is_completed(),
            finished_successfully: t.state == TaskState::Success,
            name: t.name,
            description: t.description,
            state: t.state,
            queue_time: clock::iso(t.queue_time),
            queue_time_expiry: t.queue_time_expiry.map(clock::iso),
            start_time: t.start_time.map(clock::iso),
            completed_time: t.completed_time.map(clock::iso),
            last_updated_time: clock::iso(t.last_updated_time),
            server_node: t.server_node,
            error_message: t.error_message,
            project_id: t.project_id.map(|p| format!("Projects-{p}")),
            environment_id: t.environment_id.map(|e| format!("Environments-{e}")),
            concurrency_tag: t.concurrency_tag,
            arguments: serde_json::from_str(&t.arguments).unwrap_or_else(|_| json!({})),
            is_system_task: t.is_system,
            queued_by: t.queued_by,
            queued_via: t.queued_via,
        }
    }
}

#[rocket::get("/tasks?<ids>&<states>&<node>&<project>&<skip>&<take>")]
#[allow(clippy::too_many_arguments)]
async fn list(
    _caller: Allowed<need::TaskView>,
    ids: Option<&str>,
    states: Option<&str>,
    node: Option<&str>,
    project: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<TaskResource>>> {
    let (skip, take) = paging(skip, take)?;
    let filter = task_list::Filter {
        ids: super::id_list("ids", "ServerTasks", ids)?.unwrap_or_default(),
        states: task_list::parse_states(states)?,
        node: node.filter(|n| !n.is_empty()).map(str::to_string),
        project_id: project
            .filter(|p| !p.is_empty())
            .map(|p| {
                parse_id("Projects", p)
                    .map_err(|_| Error::bad("project", format!("'{p}' is not a project id")))
            })
            .transpose()?,
        ..task_list::Filter::default()
    };
    let (items, total) = app
        .store
        .read(move |c| task_list::list(c, &filter, skip, take))
        .await?;
    Ok(Collection::new(
        "Task",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

#[rocket::get("/tasks/<id>")]
async fn get(
    _caller: Allowed<need::TaskView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<TaskResource>> {
    let id = parse_id("ServerTasks", id)?;
    app.store
        .read(move |c| tasks::find(c, id))
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))
}

#[rocket::post("/tasks/<id>/cancel")]
async fn cancel(
    change: Change<need::TaskCancel>,
    id: &str,
    app: &State<App>,
) -> Result<Json<TaskResource>> {
    let id = parse_id("ServerTasks", id)?;
    deploy::cancel_task(&app.store, &app.queue, &change.proof, id).await?;
    app.store
        .read(move |c| tasks::find(c, id))
        .await?
        .map(|t| Json(t.into()))
        .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))
}

/// The task's log as plain text, one line per line.
#[rocket::get("/tasks/<id>/raw")]
async fn raw(_caller: Allowed<need::TaskView>, id: &str, app: &State<App>) -> Result<String> {
    let id = parse_id("ServerTasks", id)?;
    let lines = app
        .store
        .read(move |c| {
            tasks::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
            tasks::log(c, id, 0, i64::MAX)
        })
        .await?;
    let mut text = String::new();
    for l in &lines {
        raw_line(&mut text, l);
    }
    Ok(text)
}

fn raw_line(text: &mut String, l: &tasks::LogLine) {
    text.push_str(&clock::iso(l.at));
    text.push_str(if l.stream == "stderr" {
        " ERR  "
    } else {
        " INFO "
    });
    text.push_str(&l.line);
    text.push('\n');
}

/// Octopus's activity status of a task in a given state.
fn activity_status(task: &Task) -> &'static str {
    match task.state {
        TaskState::Queued => "Pending",
        TaskState::Executing | TaskState::Cancelling => "Running",
        TaskState::Success if task.error_lines > 0 => "SuccessWithWarning",
        TaskState::Success => "Success",
        TaskState::Failed | TaskState::TimedOut => "Failed",
        TaskState::Canceled => "Canceled",
    }
}

/// `GET /api/tasks/{id}/details?tail=N` → `{Task, Progress, PhysicalLogSize,
/// ActivityLogs}`. The log is one activity (the task) with one child (its script, or
/// the system task's work) holding a log element per line: stdout as `Info`, stderr as
/// `Error`, and the task's error message as a last `Fatal` element. `tail` keeps the
/// last N lines (Octopus's parameter); `verbose` is accepted. Progress of a running
/// task is estimated from the latest earlier successful run of the same work.
#[rocket::get("/tasks/<id>/details?<tail>&<verbose>")]
async fn details(
    _caller: Allowed<need::TaskView>,
    id: &str,
    tail: Option<&str>,
    verbose: Option<&str>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let _ = verbose;
    let id = parse_id("ServerTasks", id)?;
    let tail = tail
        .filter(|t| !t.trim().is_empty())
        .map(|t| {
            t.trim()
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    Error::bad("tail", format!("must be a non-negative integer, not '{t}'"))
                })
        })
        .transpose()?;
    let (task, lines, previous, (log_bytes, log_count)) = app
        .store
        .read(move |c| {
            let task = tasks::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
            let after = tail.map_or(0, |n| (task.log_lines - n).max(0));
            let lines = tasks::log(c, id, after, i64::MAX)?;
            let previous = match task.state {
                TaskState::Executing | TaskState::Cancelling => tasks::previous_duration(c, &task)?,
                _ => None,
            };
            Ok((task, lines, previous, tasks::log_bytes(c, id)?))
        })
        .await?;
    let now = clock::now_ms();
    let (percentage, remaining) = match (task.state, task.start_time, previous) {
        (state, _, _) if state.is_completed() => (100, String::new()),
        (TaskState::Executing | TaskState::Cancelling, Some(start), Some(took)) if took > 0 => {
            let elapsed = now - start;
            let percentage = (elapsed * 100 / took).clamp(0, 99);
            let remaining = if elapsed < took {
                human_duration(took - elapsed)
            } else {
                String::new()
            };
            (percentage, remaining)
        }
        _ => (0, String::new()),
    };
    // The size of `/raw`: each line with its time, stream and line end.
    let per_line = (clock::iso(0).len() + " INFO ".len() + 1) as i64;
    let physical = log_bytes + log_count * per_line;
    let mut elements: Vec<Value> = Vec::with_capacity(lines.len() + 1);
    for l in &lines {
        elements.push(json!({
            "Category": if l.stream == "stderr" { "Error" } else { "Info" },
            "OccurredAt": clock::iso(l.at),
            "MessageText": l.line,
        }));
    }
    if let Some(message) = &task.error_message {
        elements.push(json!({
            "Category": "Fatal",
            "OccurredAt": clock::iso(task.completed_time.unwrap_or(task.last_updated_time)),
            "MessageText": message,
        }));
    }
    let task_id = format!("ServerTasks-{}", task.id);
    let status = activity_status(&task);
    let started = task.start_time.map(clock::iso);
    let ended = task.completed_time.map(clock::iso);
    let step = json!({
        "Id": format!("{task_id}_1"),
        "Name": if task.project_id.is_some() { "Run deploy.sh".to_string() } else { task.name.to_string() },
        "Started": started,
        "Ended": ended,
        "Status": status,
        "Children": [],
        "ShowAtSummaryLevel": true,
        "LogElements": elements,
        "ProgressPercentage": percentage,
        "ProgressMessage": "",
    });
    let root = json!({
        "Id": task_id,
        "Name": task.description,
        "Started": started,
        "Ended": ended,
        "Status": status,
        "Children": [step],
        "ShowAtSummaryLevel": true,
        "LogElements": [],
        "ProgressPercentage": percentage,
        "ProgressMessage": "",
    });
    Ok(Json(json!({
        "Task": TaskResource::from(task),
        "Progress": {"ProgressPercentage": percentage, "EstimatedTimeRemaining": remaining},
        "PhysicalLogSize": physical,
        "ActivityLogs": [root],
        "Links": {"Self": format!("/api/tasks/{task_id}/details")},
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaskBody {
    name: String,
}

/// Runs a system task now: `{"Name": "Backup"}`.
#[rocket::post("/tasks", data = "<body>")]
async fn create(
    change: Change<need::TaskCreate>,
    body: Body<TaskBody>,
    app: &State<App>,
) -> Result<(Status, Json<TaskResource>)> {
    let body = body.into_inner()?;
    let id = crate::system_tasks::run_now(&app.store, &change.proof, &body.name).await?;
    app.queue.wake();
    let task = app
        .store
        .read(move |c| tasks::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
    Ok((Status::Created, Json(task.into())))
}
