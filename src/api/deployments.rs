//! Deployments: `POST`/`GET /api/deployments`, `GET /api/deployments/{id}`, and the
//! deployment body's reading that the freeze override and the executions API share.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self, DeploymentInput};
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::deployments::{self, Deployment};

pub fn routes() -> Vec<Route> {
    rocket::routes![create_deployment, list_deployments, get_deployment]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentResource {
    id: String,
    release_id: String,
    environment_id: String,
    task_id: String,
    created: String,
    /// The username of who queued it (Octopus's `DeployedBy`).
    deployed_by: String,
    /// How: `Session`, `API key`, `Executions API`, `Command line` (drydock's).
    deployed_via: String,
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
            deployed_by: d.deployed_by,
            deployed_via: d.deployed_via,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct DeploymentBody {
    release_id: String,
    environment_id: String,
    queue_time: Option<String>,
    queue_time_expiry: Option<String>,
    /// Prompted variable values, by the variable's name or id.
    #[serde(default)]
    form_values: serde_json::Map<String, Value>,
    /// Machines to deploy to: drydock has none; an empty list is fine.
    #[serde(default)]
    specific_machine_ids: Vec<String>,
    #[serde(default)]
    excluded_machine_ids: Vec<String>,
    tenant_id: Option<String>,
}

/// What a deployment body asks for that drydock does not have, refused naming it rather
/// than ignored.
fn refuse_missing(body: &DeploymentBody) -> Result<()> {
    if !body.specific_machine_ids.is_empty() || !body.excluded_machine_ids.is_empty() {
        return Err(Error::bad(
            "SpecificMachineIds",
            "drydock has no machines: the script runs on a drydock node",
        ));
    }
    if body
        .tenant_id
        .as_deref()
        .is_some_and(|t| !t.trim().is_empty())
    {
        return Err(Error::bad(
            "TenantId",
            "drydock has no tenants: deploy untenanted",
        ));
    }
    Ok(())
}

pub(super) fn time_field(field: &str, value: Option<String>) -> Result<Option<i64>> {
    crate::validate::optional_time(field, value.as_deref())
}

/// `FormValues` as text values by name or id (a value that is not text is a 400).
fn form_values(
    values: serde_json::Map<String, Value>,
) -> Result<std::collections::BTreeMap<String, String>> {
    values
        .into_iter()
        .map(|(name, value)| match value {
            Value::String(text) => Ok((name, text)),
            Value::Number(n) => Ok((name, n.to_string())),
            Value::Bool(b) => Ok((name, b.to_string())),
            _ => Err(Error::bad(
                &format!("FormValues.{}", crate::error::shown(&name)),
                "must be a text value",
            )),
        })
        .collect()
}

/// Octopus's `DeploymentResource` body, checked; prompted values sealed with `key`.
pub(super) fn deployment_input(
    body: DeploymentBody,
    key: std::sync::Arc<crate::secrets::MasterKey>,
) -> Result<DeploymentInput> {
    refuse_missing(&body)?;
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
    let queue_time = time_field("QueueTime", body.queue_time)?;
    let queue_time_expiry = time_field("QueueTimeExpiry", body.queue_time_expiry)?;
    Ok(DeploymentInput {
        release_id,
        environment_id,
        queue_time,
        queue_time_expiry,
        prompted: crate::variables::Prompted {
            field: "FormValues",
            values: form_values(body.form_values)?,
            key: Some(key),
        },
    })
}

/// The 201 answer to a deployment just queued. The task's times come back from the
/// change itself: no second read.
pub(super) fn created(queued: deploy::Queued, expiry: Option<i64>) -> (Status, Json<Value>) {
    let mut resource =
        serde_json::to_value(DeploymentResource::from(queued.deployment)).unwrap_or_default();
    resource["QueueTime"] = json!(clock::iso(queued.queue_time));
    resource["QueueTimeExpiry"] = json!(expiry.map(clock::iso));
    (Status::Created, Json(resource))
}

#[rocket::post("/deployments", data = "<body>")]
async fn create_deployment(
    change: Change<need::DeploymentCreate>,
    body: Body<DeploymentBody>,
    key: super::IdempotencyKey,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let key = key.0?;
    let input = deployment_input(body.into_inner()?, app.master_key.clone())?;
    let expiry = input.queue_time_expiry;
    let queued =
        deploy::create_deployment_once(&app.store, &app.queue, &change.proof, input, key).await?;
    Ok(created(queued, expiry))
}

/// `GET /api/deployments`: Octopus's paged list, newest first, narrowed by `ids`,
/// `projects`, `environments` (comma-joined ids) and `taskState` (states of their tasks).
#[rocket::get("/deployments?<ids>&<projects>&<environments>&<taskState>&<skip>&<take>")]
#[allow(non_snake_case, clippy::too_many_arguments)]
async fn list_deployments(
    _caller: Allowed<need::TaskView>,
    ids: Option<&str>,
    projects: Option<&str>,
    environments: Option<&str>,
    taskState: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<DeploymentResource>>> {
    let (skip, take) = paging(skip, take)?;
    let task_states = taskState
        .filter(|s| !s.trim().is_empty())
        .map(|states| {
            states
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    TaskState::parse(s).ok_or_else(|| {
                        Error::bad(
                            "taskState",
                            format!(
                                "'{s}' is not a task state; valid: {}",
                                TaskState::ALL
                                    .iter()
                                    .map(|s| s.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                    })
                })
                .collect::<Result<Vec<_>>>()
        })
        .transpose()?;
    let filter = deployments::Filter {
        ids: super::id_list("ids", "Deployments", ids)?,
        projects: super::id_list("projects", "Projects", projects)?,
        environments: super::id_list("environments", "Environments", environments)?,
        task_states,
    };
    let (items, total) = app
        .store
        .read(move |c| deployments::list(c, &filter, skip, take))
        .await?;
    Ok(Collection::new(
        "Deployment",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
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
