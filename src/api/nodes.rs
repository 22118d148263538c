//! Server nodes in Octopus's shapes: `/api/octopusservernodes`, and the load balancer's
//! `/api/octopusservernodes/ping` (200 online and not draining, 418 draining).

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::tasks::TaskResource;
use super::Body;
use crate::app::App;
use crate::auth::{need, Allowed, Caller, Change};
use crate::clock;
use crate::cluster;
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::nodes::{self, Node};
use crate::store::task_list;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, ping, summary, get, details, update]
}

pub fn resource(node: &Node, offline_ms: i64) -> Value {
    json!({
        "Id": cluster::node_id(&node.name),
        "Name": node.name,
        "IsInMaintenanceMode": node.draining,
        "MaxConcurrentTasks": node.task_cap,
        "LastSeen": clock::iso(node.last_seen),
        "IsOffline": cluster::is_offline(node, clock::now_ms(), offline_ms),
        "RunningTaskCount": node.running,
        "Version": node.version,
        "SchemaLevel": node.schema_level,
        "Links": {"Self": format!("/api/octopusservernodes/{}", cluster::node_id(&node.name))}
    })
}

fn offline_ms(app: &App) -> i64 {
    app.config.node_offline_secs * 1000
}

#[rocket::get("/octopusservernodes")]
async fn list(_caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    let nodes = app.store.read(nodes::nodes).await?;
    let items: Vec<Value> = nodes.iter().map(|n| resource(n, offline_ms(app))).collect();
    let total = items.len();
    Ok(Json(json!({
        "ItemType": "OctopusServerNode",
        "TotalResults": total,
        "ItemsPerPage": total,
        "NumberOfPages": 1,
        "LastPageNumber": 0,
        "Items": items,
    })))
}

/// No sign-in: load balancers ask it. 418 while this node is draining.
#[rocket::get("/octopusservernodes/ping")]
async fn ping(app: &State<App>) -> Result<(Status, Json<Value>)> {
    let name = app.config.node_name.clone();
    let read = app.store.read(move |c| nodes::find_node(c, &name));
    let node = super::status::within_deadline(read)
        .await?
        .ok_or_else(|| Error::Unavailable("This node has not registered yet.".into()))?;
    let status = if node.draining {
        Status::ImATeapot
    } else {
        Status::Ok
    };
    Ok((status, Json(resource(&node, offline_ms(app)))))
}

/// `GET /api/octopusservernodes/summary`: every node in short, and the cluster-wide
/// maintenance flag, as Octopus's cluster summary has them.
#[rocket::get("/octopusservernodes/summary")]
async fn summary(_caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    let (nodes, on) = app
        .store
        .read(|c| Ok((nodes::nodes(c)?, crate::store::maintenance::is_on(c)?)))
        .await?;
    let now = clock::now_ms();
    let items: Vec<Value> = nodes
        .iter()
        .map(|n| {
            json!({
                "Id": cluster::node_id(&n.name),
                "Name": n.name,
                "MaxConcurrentTasks": n.task_cap,
                "RunningTaskCount": n.running,
                "IsOffline": cluster::is_offline(n, now, offline_ms(app)),
                "IsInMaintenanceMode": n.draining,
                "LastSeen": clock::iso(n.last_seen),
                "Version": n.version,
                "SchemaLevel": n.schema_level,
            })
        })
        .collect();
    Ok(Json(json!({
        "Nodes": items,
        "IsInMaintenanceMode": on,
        "Links": {"Self": "/api/octopusservernodes/summary"},
    })))
}

/// `GET /api/octopusservernodes/{id}/details`: the node and the tasks it is running.
#[rocket::get("/octopusservernodes/<id>/details")]
async fn details(
    _caller: Allowed<need::TaskView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let name = name_of(id)?;
    let lookup = name.clone();
    let (node, running) = app
        .store
        .read(move |c| {
            let node = nodes::find_node(c, &lookup)?;
            let filter = task_list::Filter {
                ids: Vec::new(),
                states: vec![TaskState::Executing, TaskState::Cancelling],
                node: Some(lookup),
                project_id: None,
                ..task_list::Filter::default()
            };
            let (running, _) = task_list::list(c, &filter, 0, i64::MAX)?;
            Ok((node, running))
        })
        .await?;
    let node = node.ok_or_else(|| Error::NotFound(format!("No server node is named '{name}'.")))?;
    let running: Vec<TaskResource> = running.into_iter().map(Into::into).collect();
    let node_id = cluster::node_id(&node.name);
    Ok(Json(json!({
        "Id": node_id,
        "Name": node.name,
        "Node": resource(&node, offline_ms(app)),
        "RunningTasks": running,
        "Links": {"Self": format!("/api/octopusservernodes/{node_id}/details")},
    })))
}

fn name_of(id: &str) -> Result<String> {
    id.strip_prefix("OctopusServerNodes-")
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            Error::NotFound(format!("No OctopusServerNodes resource has the id '{id}'."))
        })
}

#[rocket::get("/octopusservernodes/<id>")]
async fn get(_caller: Caller, id: &str, app: &State<App>) -> Result<Json<Value>> {
    let name = name_of(id)?;
    let lookup = name.clone();
    let node = app
        .store
        .read(move |c| nodes::find_node(c, &lookup))
        .await?
        .ok_or_else(|| Error::NotFound(format!("No server node is named '{name}'.")))?;
    Ok(Json(resource(&node, offline_ms(app))))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeBody {
    is_in_maintenance_mode: Option<bool>,
    max_concurrent_tasks: Option<i64>,
}

/// `{"IsInMaintenanceMode": <drain>, "MaxConcurrentTasks": <cap>}`: Octopus calls a
/// node's drain flag `IsInMaintenanceMode`.
#[rocket::put("/octopusservernodes/<id>", data = "<body>")]
async fn update(
    change: Change<need::AdministerSystem>,
    id: &str,
    body: Body<NodeBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let name = name_of(id)?;
    let body = body.into_inner()?;
    let mut node = None;
    if let Some(cap) = body.max_concurrent_tasks {
        node = Some(cluster::set_task_cap(&app.store, &change.proof, &name, cap).await?);
    }
    if let Some(draining) = body.is_in_maintenance_mode {
        node = Some(cluster::set_draining(&app.store, &change.proof, &name, draining).await?);
    }
    app.queue.wake();
    let node = match node {
        Some(n) => n,
        None => {
            let lookup = name.clone();
            app.store
                .read(move |c| nodes::find_node(c, &lookup))
                .await?
                .ok_or_else(|| Error::NotFound(format!("No server node is named '{name}'.")))?
        }
    };
    Ok(Json(resource(&node, offline_ms(app))))
}
