//! Deployments and tasks: `/api/deployments`, `/api/tasks`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self, DeploymentInput};
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::deployments::{self, Deployment};
use crate::store::tasks::{self, Task};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![
        create_deployment,
        get_deployment,
        list,
        get,
        cancel,
        raw,
        create
    ]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentResource {
    id: String,
    release_id: String,
    environment_id: String,
    task_id: String,
    created: String,
    links: Value,
}

impl From<Deployment> for DeploymentResource {
    fn from(d: Deployment) -> Self {
        let id = format!("Deployments-{}", d.id);
        let task = format!("ServerTasks-{}", d.task_id);
        DeploymentResource {
            links: json!({"Self": format!("/api/deployments/{id}"), "Task": format!("/api/tasks/{task}")}),
            id,
            release_id: format!("Releases-{}", d.release_id),
            environment_id: format!("Environments-{}", d.environment_id),
            task_id: task,
            created: clock::iso(d.created_at),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentBody {
    release_id: String,
    environment_id: String,
    queue_time: Option<String>,
    queue_time_expiry: Option<String>,
}

fn time_field(field: &str, value: Option<String>) -> Result<Option<i64>> {
    value
        .filter(|v| !v.trim().is_empty())
        .map(|v| {
            clock::parse_iso(&v).ok_or_else(|| {
                Error::bad(
                    field,
                    format!(
                        "'{v}' is not an ISO 8601 time with offset, e.g. 2026-11-26T15:04:05+00:00"
                    ),
                )
            })
        })
        .transpose()
}

#[rocket::post("/deployments", data = "<body>")]
async fn create_deployment(
    change: Change<need::DeploymentCreate>,
    body: Body<DeploymentBody>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let body = body.into_inner()?;
    let release_id = parse_id("Releases", &body.release_id).map_err(|_| {
        Error::bad(
            "ReleaseId",
            format!("'{}' is not a release id", body.release_id),
        )
    })?;
    let environment_id = parse_id("Environments", &body.environment_id).map_err(|_| {
        Error::bad(
            "EnvironmentId",
            format!("'{}' is not an environment id", body.environment_id),
        )
    })?;
    let input = DeploymentInput {
        release_id,
        environment_id,
        queue_time: time_field("QueueTime", body.queue_time)?,
        queue_time_expiry: time_field("QueueTimeExpiry", body.queue_time_expiry)?,
    };
    let (deployment, _) =
        deploy::create_deployment(&app.store, &app.queue, &change.proof, input).await?;
    let task_id = deployment.task_id;
    let task = app.store.read(move |c| tasks::find(c, task_id)).await?;
    let mut resource =
        serde_json::to_value(DeploymentResource::from(deployment)).unwrap_or_default();
    if let Some(task) = task {
        resource["QueueTime"] = json!(clock::iso(task.queue_time));
        resource["QueueTimeExpiry"] = json!(task.queue_time_expiry.map(clock::iso));
    }
    Ok((Status::Created, Json(resource)))
}

#[rocket::get("/deployments/<id>")]
async fn get_deployment(
    _caller: Allowed<need::TaskView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<DeploymentResource>> {
    let id = parse_id("Deployments", id)?;
    app.store
        .read(move |c| deployments::find(c, id))
        .await?
        .map(|d| Json(d.into()))
        .ok_or_else(|| Error::NotFound(format!("Deployment Deployments-{id} was not found.")))
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
    links: Value,
}

impl From<Task> for TaskResource {
    fn from(t: Task) -> Self {
        let id = format!("ServerTasks-{}", t.id);
        TaskResource {
            links: json!({
                "Self": format!("/api/tasks/{id}"),
                "Raw": format!("/api/tasks/{id}/raw"),
                "Cancel": format!("/api/tasks/{id}/cancel"),
                "Web": format!("/tasks/{}", t.id),
            }),
            id,
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
    let filter = tasks::Filter {
        ids: parse_task_ids(ids)?,
        states: tasks::parse_states(states)?,
        node: node.filter(|n| !n.is_empty()).map(str::to_string),
        project_id: project
            .filter(|p| !p.is_empty())
            .map(|p| {
                parse_id("Projects", p)
                    .map_err(|_| Error::bad("project", format!("'{p}' is not a project id")))
            })
            .transpose()?,
    };
    let (items, total) = app
        .store
        .read(move |c| tasks::list(c, &filter, skip, take))
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
    for l in lines {
        text.push_str(&clock::iso(l.at));
        text.push_str(if l.stream == "stderr" {
            " ERR  "
        } else {
            " INFO "
        });
        text.push_str(&l.line);
        text.push('\n');
    }
    Ok(text)
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

/// At most this many ids in one `ids` filter.
const MAX_IDS: usize = 1000;

/// Parses Octopus's `ids=ServerTasks-1,ServerTasks-2` (what its task waiter sends).
fn parse_task_ids(ids: Option<&str>) -> Result<Vec<i64>> {
    let Some(ids) = ids.filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let parsed: Vec<i64> = ids
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(|id| {
            parse_id("ServerTasks", id)
                .map_err(|_| Error::bad("ids", format!("'{id}' is not a task id (ServerTasks-N)")))
        })
        .collect::<Result<_>>()?;
    if parsed.len() > MAX_IDS {
        return Err(Error::bad("ids", format!("at most {MAX_IDS} ids at once")));
    }
    Ok(parsed)
}
