//! What Octopus clients ask a project for beyond its fields: its deployment process
//! (`deploymentprocess-Projects-1`) and its variable set (`variableset-Projects-1`).
//!
//! A drydock project's deployment is its bash script, so its process is Octopus's one
//! "Run a Script" step whose script body is that script. It is read-only here: the
//! script is edited on the project (`PUT /api/projects/{id}` with `DeploymentScript`),
//! and a `PUT` of the process is a 400 saying so. The variable set is served by
//! `api::variables`.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::{parse_id, Body};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::error::{Error, Result};
use crate::http::SPACE_ID;
use crate::store::projects::{self, Project};

pub fn routes() -> Vec<Route> {
    rocket::routes![
        process,
        process_camel,
        project_process,
        project_process_camel,
        edit_process,
        edit_process_camel,
    ]
}

/// A project's process id.
pub fn process_id(project: i64) -> String {
    format!("deploymentprocess-Projects-{project}")
}

/// A project's variable set id.
pub fn variable_set_id(project: i64) -> String {
    format!("variableset-Projects-{project}")
}

/// The project an id with `prefix` (`deploymentprocess-`, any case) belongs to.
fn owner(prefix: &str, id: &str) -> Result<i64> {
    let rest = id
        .get(..prefix.len())
        .filter(|head| head.eq_ignore_ascii_case(prefix))
        .map(|_| &id[prefix.len()..]);
    rest.and_then(|project| parse_id("Projects", project).ok())
        .ok_or_else(|| {
            Error::NotFound(format!(
                "No {prefix}... resource has the id '{}'; they are named {prefix}Projects-N.",
                crate::error::shown(id)
            ))
        })
}

async fn project(app: &App, id: i64) -> Result<Project> {
    app.store
        .read(move |c| projects::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))
}

fn process_resource(p: &Project) -> Value {
    let step_id = format!("00000000-0000-0000-0000-{:012x}", p.id);
    json!({
        "Id": process_id(p.id),
        "ProjectId": format!("Projects-{}", p.id),
        "SpaceId": SPACE_ID,
        "Version": 1,
        "LastSnapshotId": null,
        "Steps": [{
            "Id": step_id,
            "Name": "Run a Script",
            "PackageRequirement": "LetOctopusDecide",
            "Condition": "Success",
            "StartTrigger": "StartAfterPrevious",
            "Properties": {},
            "Actions": [{
                "Id": step_id,
                "Name": "Run a Script",
                "ActionType": "Octopus.Script",
                "IsDisabled": false,
                "IsRequired": true,
                "CanBeUsedForProjectVersioning": false,
                "WorkerPoolId": null,
                "Environments": [],
                "ExcludedEnvironments": [],
                "Channels": [],
                "TenantTags": [],
                "Packages": [],
                "Properties": {
                    "Octopus.Action.RunOnServer": "true",
                    "Octopus.Action.Script.ScriptSource": "Inline",
                    "Octopus.Action.Script.Syntax": "Bash",
                    "Octopus.Action.Script.ScriptBody": p.deployment_script,
                },
                "Links": {},
            }],
        }],
        "Links": {
            "Self": format!("/api/deploymentprocesses/{}", process_id(p.id)),
            "Project": format!("/api/projects/Projects-{}", p.id),
        },
    })
}

async fn process_of(app: &App, id: &str) -> Result<Json<Value>> {
    let owner = owner("deploymentprocess-", id)?;
    Ok(Json(process_resource(&project(app, owner).await?)))
}

#[rocket::get("/deploymentprocesses/<id>")]
async fn process(
    _c: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    process_of(app, id).await
}

/// Octopus's route is matched without case; its clients spell it both ways.
#[rocket::get("/deploymentProcesses/<id>")]
async fn process_camel(
    _c: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    process_of(app, id).await
}

#[rocket::get("/projects/<id>/deploymentprocesses")]
async fn project_process(
    _c: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Projects", id)?;
    Ok(Json(process_resource(&project(app, id).await?)))
}

#[rocket::get("/projects/<id>/deploymentProcesses")]
async fn project_process_camel(
    _c: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Projects", id)?;
    Ok(Json(process_resource(&project(app, id).await?)))
}

fn read_only(id: &str) -> Error {
    Error::bad(
        "DeploymentProcess",
        format!(
            "'{}' is read-only in drydock: its one step runs the project's script; change it \
             with PUT /api/projects/{{id}} and a DeploymentScript",
            crate::error::shown(id)
        ),
    )
}

/// A PUT of a process: refused (read-only), after the change guard like every change.
#[rocket::put("/deploymentprocesses/<id>", data = "<_body>")]
async fn edit_process(
    change: Change<need::ProjectEdit>,
    id: &str,
    _body: Body<Value>,
    app: &State<App>,
) -> Result<Json<Value>> {
    app.store.change(&change.proof, |_| Ok(())).await?;
    Err(read_only(id))
}

#[rocket::put("/deploymentProcesses/<id>", data = "<_body>")]
async fn edit_process_camel(
    change: Change<need::ProjectEdit>,
    id: &str,
    _body: Body<Value>,
    app: &State<App>,
) -> Result<Json<Value>> {
    app.store.change(&change.proof, |_| Ok(())).await?;
    Err(read_only(id))
}
