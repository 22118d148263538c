//! Octopus's executions API (2022.3+), what its clients and GitHub Actions use to
//! create releases and deploy them by name: `POST /api/{space}/releases/create/v1` and
//! `POST /api/{space}/deployments/create/untenanted/v1`. Same permissions, change guard
//! and maintenance refusal as `POST /api/releases` and `POST /api/deployments`.
//!
//! Fields Octopus defines that drydock has nothing for (packages, channels, git refs,
//! guided failure, machine filters, ...) are accepted and ignored,
//! so a client's full command works; docs/octopus-tooling.md lists them.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::Body;
use crate::app::App;
use crate::auth::{need, Change};
use crate::deploy::{self, DeploymentsCommand, ReleaseCommand};
use crate::error::Result;
use crate::http::{space_not_found, SPACE_ID};

pub fn routes() -> Vec<Route> {
    rocket::routes![create_release, create_deployments]
}

/// The space a command names in its body (`spaceId`, `spaceIdOrName`), if any: the
/// client sends the space's id, and older ones its name. Another space is a 404
/// naming it, as under another space's path.
fn check_space(space_id: &Option<String>, space_id_or_name: &Option<String>) -> Result<()> {
    for named in [space_id, space_id_or_name].into_iter().flatten() {
        let named = named.trim();
        let ours = named.is_empty() || named == SPACE_ID || named.eq_ignore_ascii_case("Default");
        if !ours {
            return Err(space_not_found(named));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateReleaseV1 {
    #[serde(alias = "ProjectIdOrName")]
    project_name: String,
    release_version: Option<String>,
    release_notes: Option<String>,
    #[serde(default)]
    ignore_if_already_exists: bool,
    #[serde(rename = "spaceId")]
    space_id: Option<String>,
    #[serde(rename = "spaceIdOrName")]
    space_id_or_name: Option<String>,
}

/// `POST /api/releases/create/v1` → `{ReleaseId, ReleaseVersion}`. Without a
/// `ReleaseVersion`, the next one after the project's latest (see
/// [`deploy::next_version`]).
#[rocket::post("/releases/create/v1", data = "<body>")]
async fn create_release(
    change: Change<need::ReleaseCreate>,
    body: Body<CreateReleaseV1>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let body = body.into_inner()?;
    check_space(&body.space_id, &body.space_id_or_name)?;
    let command = ReleaseCommand {
        project: body.project_name,
        version: body.release_version,
        notes: body.release_notes.unwrap_or_default(),
        ignore_if_exists: body.ignore_if_already_exists,
    };
    let (release, _) = deploy::create_release_command(&app.store, &change.proof, command).await?;
    Ok(Json(json!({
        "ReleaseId": format!("Releases-{}", release.id),
        "ReleaseVersion": release.version,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeploymentUntenantedV1 {
    #[serde(alias = "ProjectIdOrName")]
    project_name: String,
    release_version: String,
    #[serde(alias = "EnvironmentIdsOrNames")]
    environment_names: Vec<String>,
    run_at: Option<String>,
    no_run_after: Option<String>,
    /// Prompted variable values by name (`deploy-release-action`'s `variables`).
    #[serde(default)]
    variables: std::collections::BTreeMap<String, String>,
    /// Take the release's variable snapshot again before deploying.
    #[serde(default)]
    update_variable_snapshot: bool,
    #[serde(rename = "spaceId")]
    space_id: Option<String>,
    #[serde(rename = "spaceIdOrName")]
    space_id_or_name: Option<String>,
}

/// `POST /api/deployments/create/untenanted/v1` →
/// `{DeploymentServerTasks: [{DeploymentId, ServerTaskId}]}`, one per environment, in
/// the order named; all are queued or none.
#[rocket::post("/deployments/create/untenanted/v1", data = "<body>")]
async fn create_deployments(
    change: Change<need::DeploymentCreate>,
    body: Body<CreateDeploymentUntenantedV1>,
    key: super::IdempotencyKey,
    app: &State<App>,
) -> Result<Json<Value>> {
    let key = key.0?;
    let body = body.into_inner()?;
    check_space(&body.space_id, &body.space_id_or_name)?;
    let command = DeploymentsCommand {
        project: body.project_name,
        release_version: body.release_version,
        environments: body.environment_names,
        queue_time: super::deployments::time_field("RunAt", body.run_at)?,
        queue_time_expiry: super::deployments::time_field("NoRunAfter", body.no_run_after)?,
        prompted: crate::variables::Prompted {
            field: "Variables",
            values: body.variables,
            key: Some(app.master_key.clone()),
        },
        update_snapshot: body.update_variable_snapshot,
    };
    let created =
        deploy::create_deployments_command(&app.store, &app.queue, &change.proof, command, key)
            .await?;
    let tasks: Vec<Value> = created
        .into_iter()
        .map(|(deployment, task_id)| {
            json!({
                "DeploymentId": format!("Deployments-{}", deployment.id),
                "ServerTaskId": format!("ServerTasks-{task_id}"),
            })
        })
        .collect();
    Ok(Json(json!({ "DeploymentServerTasks": tasks })))
}
