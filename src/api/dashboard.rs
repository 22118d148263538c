//! `GET /api/dashboard` in Octopus's shape: the projects, environments and, per project ×
//! environment, the latest deployment whose time has come (`Items`, `IsCurrent`) and,
//! when that one did not succeed, the last that did (`PreviousItems`, `IsPrevious`).
//! The pages' cells use the same rule (`store::deployments::live`).

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::projects::PROJECT_GROUP_ID;
use crate::app::App;
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::deployments::{self, Cells, Latest};
use crate::store::projects;

pub fn routes() -> Vec<Route> {
    rocket::routes![dashboard]
}

/// At most this many projects and environments (the whole of a realistic server).
const AT_MOST: i64 = 1_000;

#[rocket::get("/dashboard?<projectId>")]
#[allow(non_snake_case)]
async fn dashboard(
    _caller: Allowed<need::TaskView>,
    projectId: Option<&str>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let project = match super::id_list("projectId", "Projects", projectId)?.as_deref() {
        None => None,
        Some([one]) => Some(*one),
        Some(_) => return Err(Error::bad("projectId", "must name one project")),
    };
    let now = clock::now_ms();
    let (projects, environments, cells) = app
        .store
        .read(move |c| {
            let (mut projects, _) = projects::list(c, 0, AT_MOST)?;
            projects.retain(|p| project.is_none_or(|id| p.id == id));
            let (environments, _) = projects::list_environments(c, 0, AT_MOST)?;
            let cells = Cells {
                project,
                ..Cells::default()
            };
            Ok((projects, environments, deployments::live(c, now, cells)?))
        })
        .await?;
    let environment_ids: Vec<String> = environments
        .iter()
        .map(|e| format!("Environments-{}", e.id))
        .collect();
    let items: Vec<Value> = cells.iter().map(|l| item(&l.latest, true, now)).collect();
    let previous: Vec<Value> = cells
        .iter()
        .filter_map(|l| l.previous())
        .map(|p| item(p, false, now))
        .collect();
    Ok(Json(json!({
        "Projects": projects.iter().map(|p| json!({
            "Id": format!("Projects-{}", p.id),
            "Name": p.name,
            "Slug": p.slug,
            "ProjectGroupId": PROJECT_GROUP_ID,
            "EnvironmentIds": environment_ids,
            "TenantedDeploymentMode": "Untenanted",
            "CanPerformUntenantedDeployment": true,
            "IsDisabled": false,
            "Links": {"Self": format!("/api/projects/Projects-{}", p.id)},
        })).collect::<Vec<_>>(),
        "ProjectGroups": [{
            "Id": PROJECT_GROUP_ID,
            "Name": "Default Project Group",
            "EnvironmentIds": environment_ids,
            "Links": {"Self": format!("/api/projectgroups/{PROJECT_GROUP_ID}")},
        }],
        "Environments": environments.iter().map(|e| json!({
            "Id": format!("Environments-{}", e.id),
            "Name": e.name,
            "Links": {"Self": format!("/api/environments/Environments-{}", e.id)},
        })).collect::<Vec<_>>(),
        "Tenants": [],
        "Items": items,
        "PreviousItems": previous,
        "IsFiltered": project.is_some(),
        "Links": {"Self": "/api/dashboard"},
    })))
}

/// One `DashboardItemResource`: `current` for the latest deployment of its cell
/// (`IsCurrent`), otherwise the last successful one before it (`IsPrevious`).
fn item(d: &Latest, current: bool, now: i64) -> Value {
    let id = format!("Deployments-{}", d.deployment_id);
    json!({
        "Id": id,
        "ProjectId": format!("Projects-{}", d.project_id),
        "EnvironmentId": format!("Environments-{}", d.environment_id),
        "ReleaseId": format!("Releases-{}", d.release_id),
        "DeploymentId": id,
        "TaskId": format!("ServerTasks-{}", d.task),
        "TenantId": null,
        "ChannelId": null,
        "ReleaseVersion": d.version,
        "Created": clock::iso(d.created_at),
        "QueueTime": clock::iso(d.queue_time),
        "StartTime": d.start_time.map(clock::iso),
        "CompletedTime": d.completed_time.map(clock::iso),
        "State": d.state,
        "HasPendingInterruptions": d.awaiting,
        "HasWarningsOrErrors": d.has_warnings
            || matches!(d.state, TaskState::Failed | TaskState::TimedOut),
        "ErrorMessage": d.error_message.clone().unwrap_or_default(),
        "Duration": d.start_time.map(|s| super::tasks::human_duration(d.completed_time.unwrap_or(now) - s)),
        "IsCurrent": current,
        "IsPrevious": !current,
        "IsCompleted": d.state.is_completed(),
        "Links": {
            "Self": format!("/api/deployments/{id}"),
            "Task": format!("/api/tasks/ServerTasks-{}", d.task),
            "Release": format!("/api/releases/Releases-{}", d.release_id),
        },
    })
}
