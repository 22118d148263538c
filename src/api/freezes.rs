//! Deployment freezes in Octopus's shapes (`/api/deploymentfreezes`) and the
//! override (`POST /api/deployments/override`). Reading needs only being signed in;
//! every change needs `DeploymentFreezeAdminister` and goes through the change guard.

use std::collections::BTreeMap;

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::deployments::{created, deployment_input, DeploymentBody};
use super::{parse_id, Body};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self, Override};
use crate::error::{Error, Result};
use crate::freezes::{self, Freeze, FreezeBody, Status as FreezeStatus, NO_VALID_FREEZES};
use crate::http::SPACE_ID;

pub fn routes() -> Vec<Route> {
    rocket::routes![
        list,
        create,
        get,
        update,
        delete,
        override_deployment,
        timeline
    ]
}

/// A freeze as Octopus answers it, with drydock's fields beside Octopus's.
pub fn resource(f: &Freeze, now: i64) -> Value {
    let mut scope: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (p, e) in &f.row.scope {
        scope
            .entry(format!("Projects-{p}"))
            .or_default()
            .push(format!("Environments-{e}"));
    }
    let window = f
        .current_or_next(now)
        .map(|(start, end)| json!({"Start": clock::iso(start), "End": clock::iso(end)}));
    json!({
        "Id": f.id(),
        "Name": f.row.name,
        "Description": f.row.description,
        "Start": clock::iso(f.row.start_time),
        "End": clock::iso(f.row.end_time),
        "ProjectEnvironmentScope": scope,
        "TenantProjectEnvironmentScope": [],
        "RecurringSchedule": f.recurring,
        "TimeZone": f.row.time_zone,
        "OnStartInFreeze": f.on_start.as_str(),
        "Status": f.status(now).as_str(),
        "CurrentOrNextWindow": window,
        "ScheduleInWords": f.describe(),
        "SpaceId": SPACE_ID,
        "Links": {"Self": format!("/api/deploymentfreezes/{}", f.id())},
    })
}

/// `skip` or `take`: required, as Octopus has them here.
fn required_number(name: &str, value: Option<&str>) -> Result<usize> {
    let value = value.ok_or_else(|| Error::bad(name, "is required"))?;
    value.trim().parse::<usize>().map_err(|_| {
        Error::bad(
            name,
            format!("must be a non-negative integer, not '{value}'"),
        )
    })
}

/// `GET /api/deploymentfreezes?skip&take` → `{"DeploymentFreezes": [...], "Count": N}`,
/// Octopus's own wrapper; `Count` is how many match before paging.
#[rocket::get(
    "/deploymentfreezes?<skip>&<take>&<ids>&<projectIds>&<environmentIds>&<partialName>&<status>&<includeComplete>"
)]
#[allow(non_snake_case, clippy::too_many_arguments)]
async fn list(
    _caller: Allowed<need::SignedIn>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    projectIds: Option<&str>,
    environmentIds: Option<&str>,
    partialName: Option<&str>,
    status: Option<&str>,
    includeComplete: Option<&str>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let skip = required_number("skip", skip)?;
    let take = required_number("take", take)?.min(super::MAX_TAKE as usize);
    let ids = super::id_list("ids", "DeploymentFreezes", ids)?;
    let projects = super::id_list("projectIds", "Projects", projectIds)?;
    let environments = super::id_list("environmentIds", "Environments", environmentIds)?;
    let status = status
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            FreezeStatus::parse(s).ok_or_else(|| {
                Error::bad(
                    "status",
                    format!("'{s}' is not one of Active, Scheduled, Expired"),
                )
            })
        })
        .transpose()?;
    let include_complete = match includeComplete.map(str::trim) {
        None | Some("") => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Err(Error::bad(
                "includeComplete",
                format!("'{v}' is not true or false"),
            ))
        }
    };
    let partial = partialName.map(|p| p.trim().to_lowercase());
    let all = app.store.read(freezes::all).await?;
    let now = clock::now_ms();
    let matching: Vec<Value> = all
        .iter()
        .filter(|f| ids.as_ref().is_none_or(|ids| ids.contains(&f.row.id)))
        .filter(|f| {
            projects
                .as_ref()
                .is_none_or(|ps| f.row.scope.iter().any(|(p, _)| ps.contains(p)))
        })
        .filter(|f| {
            environments
                .as_ref()
                .is_none_or(|es| f.row.scope.iter().any(|(_, e)| es.contains(e)))
        })
        .filter(|f| {
            partial
                .as_ref()
                .is_none_or(|p| f.row.name.to_lowercase().contains(p))
        })
        .filter(|f| {
            let s = f.status(now);
            match status {
                Some(wanted) => s == wanted,
                None => include_complete || s != FreezeStatus::Expired,
            }
        })
        .map(|f| resource(f, now))
        .collect();
    let count = matching.len();
    let page: Vec<Value> = matching.into_iter().skip(skip).take(take).collect();
    Ok(Json(json!({"DeploymentFreezes": page, "Count": count})))
}

#[rocket::post("/deploymentfreezes", data = "<body>")]
async fn create(
    change: Change<need::DeploymentFreezeAdminister>,
    body: Body<FreezeBody>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let freeze = freezes::create(&app.store, &change.proof, body.into_inner()?).await?;
    Ok((Status::Created, Json(resource(&freeze, clock::now_ms()))))
}

#[rocket::get("/deploymentfreezes/<id>")]
async fn get(_caller: Allowed<need::SignedIn>, id: &str, app: &State<App>) -> Result<Json<Value>> {
    let id = parse_id("DeploymentFreezes", id)?;
    let freeze = app
        .store
        .read(move |c| freezes::find(c, id))
        .await?
        .ok_or_else(|| freezes::not_found(id))?;
    Ok(Json(resource(&freeze, clock::now_ms())))
}

#[rocket::put("/deploymentfreezes/<id>", data = "<body>")]
async fn update(
    change: Change<need::DeploymentFreezeAdminister>,
    id: &str,
    body: Body<FreezeBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("DeploymentFreezes", id)?;
    let freeze = freezes::update(&app.store, &change.proof, id, body.into_inner()?).await?;
    Ok(Json(resource(&freeze, clock::now_ms())))
}

#[rocket::delete("/deploymentfreezes/<id>")]
async fn delete(
    change: Change<need::DeploymentFreezeAdminister>,
    id: &str,
    app: &State<App>,
) -> Result<Status> {
    let id = parse_id("DeploymentFreezes", id)?;
    freezes::delete(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}

/// Octopus's override body.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct OverrideBody {
    create_deployment_command: DeploymentBody,
    #[serde(default)]
    freeze_ids: Vec<String>,
    #[serde(default)]
    reason: String,
}

/// `POST /api/deployments/override`: a deployment through the freezes it names, for
/// holders of `DeploymentFreezeAdminister` (and `DeploymentCreate`), with a reason.
#[rocket::post("/deployments/override", data = "<body>")]
async fn override_deployment(
    change: Change<need::DeploymentFreezeAdminister>,
    body: Body<OverrideBody>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let body = body.into_inner()?;
    if body.reason.trim().is_empty() {
        return Err(Error::bad("Reason", "is required to override a freeze"));
    }
    if body.reason.chars().count() > freezes::input::MAX_DESCRIPTION || body.reason.contains('\0') {
        return Err(Error::bad(
            "Reason",
            format!(
                "must be at most {} characters, without NUL",
                freezes::input::MAX_DESCRIPTION
            ),
        ));
    }
    let mut ids = Vec::new();
    for id in &body.freeze_ids {
        // An id that is not a freeze's cannot name one that blocks: Octopus's 400.
        match parse_id("DeploymentFreezes", id) {
            Ok(n) => ids.push(n),
            Err(_) => {
                return Err(Error::BadRequest(
                    NO_VALID_FREEZES.into(),
                    vec![NO_VALID_FREEZES.into()],
                ))
            }
        }
    }
    let input = deployment_input(body.create_deployment_command, app.master_key.clone())?;
    let expiry = input.queue_time_expiry;
    let overriding = Override {
        freezes: ids,
        reason: body.reason,
    };
    let queued = deploy::create_deployment_overriding(
        &app.store,
        &app.queue,
        &change.proof,
        input,
        overriding,
    )
    .await?;
    Ok(created(queued, expiry))
}

/// `GET /api/timeline?from&to` (drydock's own shape): maintenance windows, freeze
/// windows by project × environment, and scheduled deployments with what will become
/// of each, over `[from, to)` (default: the next 14 days).
#[rocket::get("/timeline?<from>&<to>")]
async fn timeline(
    caller: Allowed<need::SignedIn>,
    from: Option<String>,
    to: Option<String>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let from = super::deployments::time_field("from", from)?;
    let to = super::deployments::time_field("to", to)?;
    let now = clock::now_ms();
    let (from, to) = freezes::timeline::span(from, to, now)?;
    let visible = freezes::timeline::Visible {
        pairs: caller.can(Permission::ProjectView) && caller.can(Permission::EnvironmentView),
        deployments: caller.can(Permission::TaskView),
    };
    let t = app
        .store
        .read(move |c| freezes::timeline::timeline(c, from, to, now, visible))
        .await?;
    Ok(Json(timeline_resource(&t)))
}

pub fn timeline_resource(t: &freezes::timeline::Timeline) -> Value {
    use freezes::timeline::Outcome;
    let windows: Vec<Value> = t
        .maintenance
        .iter()
        .map(|w| {
            json!({
                "Id": format!("MaintenanceWindows-{}", w.id),
                "Start": clock::iso(w.start_at),
                "End": clock::iso(w.end_at),
                "Message": w.message,
                "Link": "/maintenance",
            })
        })
        .collect();
    let freeze_windows: Vec<Value> = t
        .freezes
        .iter()
        .map(|w| {
            let pairs: Vec<Value> = w
                .pairs
                .iter()
                .map(|(p, pn, e, en)| {
                    json!({
                        "ProjectId": format!("Projects-{p}"), "ProjectName": pn,
                        "EnvironmentId": format!("Environments-{e}"), "EnvironmentName": en,
                    })
                })
                .collect();
            json!({
                "DeploymentFreezeId": w.freeze.id(),
                "Name": w.freeze.row.name,
                "Start": clock::iso(w.start),
                "End": clock::iso(w.end),
                "OnStartInFreeze": w.freeze.on_start.as_str(),
                "Scope": pairs,
                "Link": format!("/freezes/{}", w.freeze.row.id),
            })
        })
        .collect();
    let deployments: Vec<Value> = t
        .deployments
        .iter()
        .map(|d| {
            let (until, at) = match d.outcome {
                Outcome::Held { until } => (Some(clock::iso(until)), None),
                Outcome::TimesOut { at } => (None, Some(clock::iso(at))),
                _ => (None, None),
            };
            json!({
                "TaskId": format!("ServerTasks-{}", d.task.id),
                "Description": d.task.description,
                "ProjectId": d.task.project_id.map(|p| format!("Projects-{p}")),
                "EnvironmentId": d.task.environment_id.map(|e| format!("Environments-{e}")),
                "QueueTime": clock::iso(d.task.queue_time),
                "Due": clock::iso(d.due),
                "QueueTimeExpiry": d.task.queue_time_expiry.map(clock::iso),
                "Outcome": d.outcome.as_str(),
                "Flagged": d.outcome.flagged(),
                "HeldUntil": until,
                "TimesOutAt": at,
                "DeploymentFreezeIds": d.freezes.iter().map(|(id, _)| format!("DeploymentFreezes-{id}")).collect::<Vec<_>>(),
                "DeploymentFreezeNames": d.freezes.iter().map(|(_, n)| n.clone()).collect::<Vec<_>>(),
                "Link": format!("/tasks/{}", d.task.id),
            })
        })
        .collect();
    json!({
        "From": clock::iso(t.from),
        "To": clock::iso(t.to),
        "MaintenanceWindows": windows,
        "DeploymentFreezes": freeze_windows,
        "ScheduledDeployments": deployments,
    })
}
