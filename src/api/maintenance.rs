//! Maintenance mode in Octopus's shapes: `/api/maintenanceconfiguration` (and its
//! `/status`), and scheduled windows at `/api/maintenancewindows`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{parse_id, Body};
use crate::app::App;
use crate::auth::{need, Caller, Change};
use crate::clock;
use crate::error::{Error, Result};
use crate::maintenance;
use crate::store::maintenance::{self as store, Mode, Window};

pub fn routes() -> Vec<Route> {
    rocket::routes![
        get_config,
        put_config,
        status,
        list_windows,
        create_window,
        delete_window
    ]
}

pub fn resource(mode: &Mode) -> Value {
    json!({
        "Id": "maintenance",
        "IsInMaintenanceMode": mode.is_on,
        "Message": mode.message,
        "LastModifiedBy": mode.modified_by,
        "LastModifiedOn": mode.modified_on.map(clock::iso),
        "Links": {"Self": "/api/maintenanceconfiguration"}
    })
}

/// Readable by any signed-in user.
#[rocket::get("/maintenanceconfiguration")]
async fn get_config(_caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    let mode = app.store.read(store::get).await?;
    Ok(Json(resource(&mode)))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConfigBody {
    #[serde(default)]
    id: Option<String>,
    is_in_maintenance_mode: bool,
    /// Absent: keep the message; null: clear it.
    #[serde(default, deserialize_with = "present")]
    message: Option<Option<String>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Octopus's upgrade script sends `{"Id": "maintenance", "IsInMaintenanceMode": true}`.
#[rocket::put("/maintenanceconfiguration", data = "<body>")]
async fn put_config(
    change: Change<need::AdministerSystem>,
    body: Body<ConfigBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let body = body.into_inner()?;
    if let Some(id) = body.id.as_deref() {
        if id != "maintenance" {
            return Err(Error::bad(
                "Id",
                format!("must be 'maintenance', not '{id}'"),
            ));
        }
    }
    let mode = maintenance::set_mode(
        &app.store,
        &change.proof,
        body.is_in_maintenance_mode,
        body.message,
    )
    .await?;
    Ok(Json(resource(&mode)))
}

/// Whether it is safe to stop: `IsQuiet` when maintenance mode is on and no non-system
/// task is executing or due.
#[rocket::get("/maintenanceconfiguration/status")]
async fn status(_caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    let status = app.store.read(maintenance::status).await?;
    Ok(Json(status_json(&status)))
}

pub fn status_json(status: &maintenance::Status) -> Value {
    json!({
        "IsInMaintenanceMode": status.mode.is_on,
        "IsQuiet": status.is_quiet,
        "ExecutingTaskCount": status.executing,
        "QueuedTaskCount": status.queued,
        "HeldTaskCount": status.held,
        "HeldUntil": status.held_until.map(clock::iso),
        "AwaitingApprovalCount": status.awaiting,
        "AwaitingApprovalSince": status.awaiting_since.map(clock::iso),
        "HeldTasks": status.held_tasks.iter().map(|h| json!({
            "Id": format!("ServerTasks-{}", h.task.id),
            "Description": h.task.description,
            "HeldUntil": h.task.held_until.map(clock::iso),
            "Reason": h.why,
        })).collect::<Vec<_>>(),
        "Tasks": status.tasks.iter().map(|t| json!({
            "Id": format!("ServerTasks-{}", t.id),
            "Name": t.name,
            "Description": t.description,
            "State": t.state,
            "ServerNode": t.server_node,
            "StartTime": t.start_time.map(clock::iso),
        })).collect::<Vec<_>>(),
    })
}

fn window_json(w: &Window) -> Value {
    json!({
        "Id": format!("MaintenanceWindows-{}", w.id),
        "Start": clock::iso(w.start_at),
        "End": clock::iso(w.end_at),
        "Message": w.message,
        "State": w.state,
        "CreatedBy": w.created_by,
    })
}

#[rocket::get("/maintenancewindows")]
async fn list_windows(_caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    let windows = app.store.read(store::windows).await?;
    let items: Vec<Value> = windows.iter().map(window_json).collect();
    let total = items.len();
    Ok(Json(json!({
        "ItemType": "MaintenanceWindow",
        "TotalResults": total,
        "ItemsPerPage": total,
        "NumberOfPages": 1,
        "LastPageNumber": 0,
        "Items": items,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WindowBody {
    start: String,
    end: String,
    message: Option<String>,
}

#[rocket::post("/maintenancewindows", data = "<body>")]
async fn create_window(
    change: Change<need::AdministerSystem>,
    body: Body<WindowBody>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let body = body.into_inner()?;
    let (start, end) = maintenance::window_times(&body.start, &body.end)?;
    let window =
        maintenance::create_window(&app.store, &change.proof, start, end, body.message).await?;
    app.queue.wake();
    Ok((Status::Created, Json(window_json(&window))))
}

#[rocket::delete("/maintenancewindows/<id>")]
async fn delete_window(
    change: Change<need::AdministerSystem>,
    id: &str,
    app: &State<App>,
) -> Result<Status> {
    let id = parse_id("MaintenanceWindows", id)?;
    maintenance::cancel_window(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}
