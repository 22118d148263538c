//! `GET /api`, `/api/health`, `/api/serverstatus`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use crate::app::App;
use crate::auth::Caller;

pub use crate::config::VERSION;

pub fn routes() -> Vec<Route> {
    rocket::routes![root, health, server_status, capabilities]
}

/// The Octopus API level drydock implements, reported as `Version` in `GET /api`:
/// 2022.3.5512 is the release that introduced the executions API
/// (`releases/create/v1`, `deployments/create/untenanted/v1`), the newest part of
/// Octopus's API drydock serves; Octopus's clients check `Version` against it before
/// they use that API. Claiming a later level would invite clients to call APIs
/// drydock does not have. drydock's own version is `DrydockVersion`.
pub const OCTOPUS_API_LEVEL: &str = "2022.3.5512";

/// The API's root document, as Octopus clients expect to find first.
#[rocket::get("/")]
fn root(app: &State<App>) -> Json<Value> {
    Json(json!({
        "Application": "drydock",
        "Version": OCTOPUS_API_LEVEL,
        "DrydockVersion": VERSION,
        "ApiVersion": "3.0.0",
        "InstallationId": app.installation_id,
        "Links": {
            "Self": "/api",
            "CurrentUser": "/api/users/me",
            "Users": "/api/users{/id}{?skip,take}",
            "Events": "/api/events{?skip,take}",
            "ServerStatus": "/api/serverstatus",
            "Health": "/api/health",
            "Spaces": "/api/spaces{/id}{?skip,take,ids,partialName}",
            "Tasks": "/api/tasks{/id}{?skip,take,ids,states,node,project}",
            "MaintenanceConfiguration": "/api/maintenanceconfiguration",
            "Projects": "/api/projects{/id}{?skip,take}",
            "Environments": "/api/environments{/id}{?skip,take}",
            "OctopusServerNodes": "/api/octopusservernodes{/id}",
            "Capabilities": "/api/capabilities",
            "ProjectGroups": "/api/projectgroups{/id}{?skip,take,ids,partialName}",
            "Lifecycles": "/api/lifecycles{/id}{?skip,take,ids,partialName}"
        }
    }))
}

/// 200 when the database answers and can be written, 503 with the reason otherwise.
/// Needs no sign-in (for load balancers). After a write failed because the database
/// could not be written (full disk, read-only), it tries one itself — this node's
/// heartbeat — so it reports recovery as soon as writes succeed again.
#[rocket::get("/health")]
async fn health(app: &State<App>) -> (Status, Json<Value>) {
    if let Some(why) = app.queue.outdated() {
        return (
            Status::ServiceUnavailable,
            Json(json!({"Status": "Outdated", "ErrorMessage": why})),
        );
    }
    let checked = async {
        let mut result = app.store.ping().await;
        if result.is_ok() && app.store.unwritable().is_some() {
            let node = app.config.node_name.clone();
            let now = crate::clock::now_ms();
            result = app
                .store
                .bookkeeping(move |tx| crate::store::nodes::heartbeat(tx, &node, now))
                .await;
        }
        result
    };
    let result = within_deadline(checked).await;
    match result {
        Ok(()) => (Status::Ok, Json(json!({"Status": "OK"}))),
        Err(e) => (
            Status::ServiceUnavailable,
            Json(json!({"Status": "Unavailable", "ErrorMessage": e.public_message()})),
        ),
    }
}

/// How long `/api/health` and the nodes' ping wait for the database before they answer
/// 503: a load balancer's check gets an answer in time, whatever the database does.
pub const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// `check`, or a 503's error if it takes longer than [`ANSWER_WITHIN`] (it goes on in
/// the background, bounded by the database's own deadlines).
pub async fn within_deadline<T>(
    check: impl std::future::Future<Output = crate::error::Result<T>>,
) -> crate::error::Result<T> {
    tokio::time::timeout(ANSWER_WITHIN, check)
        .await
        .unwrap_or_else(|_| {
            Err(crate::error::Error::Unavailable(format!(
                "The database did not answer within {} s.",
                ANSWER_WITHIN.as_secs()
            )))
        })
}

#[rocket::get("/serverstatus")]
async fn server_status(_caller: Caller, app: &State<App>) -> crate::error::Result<Json<Value>> {
    let on = app.store.read(crate::store::maintenance::is_on).await?;
    Ok(Json(json!({
        "Id": "serverstatus",
        "IsInMaintenanceMode": on,
        "Version": OCTOPUS_API_LEVEL,
        "DrydockVersion": VERSION,
        "Links": {"Self": "/api/serverstatus", "MaintenanceConfiguration": "/api/maintenanceconfiguration"}
    })))
}

/// Every request drydock answers, in Octopus's names, with the route that answers it
/// (method, path under `/api`): what `GET /api/capabilities` lists. A test checks that
/// each route is mounted, so the list cannot name what drydock does not answer.
pub const CAPABILITIES: &[(&str, &str, &str)] = &[
    ("GET", "/api/spaces", "GetSpacesRequest"),
    ("GET", "/api/spaces/all", "GetAllSpacesRequest"),
    ("GET", "/api/spaces/<id>", "GetSpaceByIdRequest"),
    ("GET", "/api/users/me", "GetCurrentUserRequest"),
    ("GET", "/api/projects", "GetProjectsRequest"),
    ("GET", "/api/projects/all", "GetAllProjectsRequest"),
    (
        "GET",
        "/api/projects/<id_or_slug>",
        "GetProjectByIdOrSlugRequest",
    ),
    ("POST", "/api/projects", "CreateProjectCommand"),
    ("PUT", "/api/projects/<id>", "ModifyProjectCommand"),
    ("DELETE", "/api/projects/<id>", "DeleteProjectCommand"),
    ("GET", "/api/environments", "GetEnvironmentsRequest"),
    ("GET", "/api/environments/all", "GetAllEnvironmentsRequest"),
    (
        "GET",
        "/api/environments/<id_or_slug>",
        "GetEnvironmentByIdOrSlugRequest",
    ),
    ("POST", "/api/environments", "CreateEnvironmentCommand"),
    ("PUT", "/api/environments/<id>", "ModifyEnvironmentCommand"),
    (
        "DELETE",
        "/api/environments/<id>",
        "DeleteEnvironmentCommand",
    ),
    (
        "GET",
        "/api/projects/<id>/releases",
        "GetReleasesForProjectRequest",
    ),
    (
        "GET",
        "/api/projects/<id>/releases/<version>",
        "GetReleaseByProjectAndVersionRequest",
    ),
    ("GET", "/api/releases/<id>", "GetReleaseByIdRequest"),
    ("POST", "/api/releases", "CreateReleaseCommand"),
    ("POST", "/api/releases/create/v1", "CreateReleaseCommandV1"),
    (
        "GET",
        "/api/deploymentprocesses/<id>",
        "GetDeploymentProcessByIdRequest",
    ),
    ("GET", "/api/variables/<id>", "GetVariableSetByIdRequest"),
    ("PUT", "/api/variables/<id>", "ModifyVariableSetCommand"),
    (
        "GET",
        "/api/libraryvariablesets",
        "GetLibraryVariableSetsRequest",
    ),
    (
        "POST",
        "/api/libraryvariablesets",
        "CreateLibraryVariableSetCommand",
    ),
    ("GET", "/api/dashboard", "GetDashboardRequest"),
    ("GET", "/api/deployments", "GetDeploymentsRequest"),
    ("GET", "/api/deployments/<id>", "GetDeploymentByIdRequest"),
    ("POST", "/api/deployments", "CreateDeploymentCommand"),
    (
        "POST",
        "/api/deployments/create/untenanted/v1",
        "CreateDeploymentUntenantedCommandV1",
    ),
    ("GET", "/api/tasks", "GetServerTasksRequest"),
    ("GET", "/api/tasks/<id>", "GetServerTaskByIdRequest"),
    (
        "GET",
        "/api/tasks/<id>/details",
        "GetServerTaskDetailsRequest",
    ),
    ("GET", "/api/tasks/<id>/raw", "GetServerTaskRawLogRequest"),
    ("POST", "/api/tasks/<id>/cancel", "CancelServerTaskCommand"),
    (
        "GET",
        "/api/maintenanceconfiguration",
        "GetMaintenanceConfigurationRequest",
    ),
    (
        "PUT",
        "/api/maintenanceconfiguration",
        "ModifyMaintenanceConfigurationCommand",
    ),
    (
        "GET",
        "/api/deploymentfreezes",
        "GetDeploymentFreezesRequest",
    ),
    (
        "POST",
        "/api/deploymentfreezes",
        "CreateDeploymentFreezeCommand",
    ),
    (
        "GET",
        "/api/octopusservernodes",
        "GetOctopusServerNodesRequest",
    ),
    (
        "GET",
        "/api/octopusservernodes/summary",
        "GetOctopusServerNodesSummaryRequest",
    ),
];

/// `GET /api/capabilities`: every request drydock answers, in Octopus's names (its
/// clients check for one before they use it).
#[rocket::get("/capabilities")]
fn capabilities(_caller: Caller) -> Json<Value> {
    let names: Vec<&str> = CAPABILITIES.iter().map(|(_, _, name)| *name).collect();
    Json(json!({ "Capabilities": names }))
}
