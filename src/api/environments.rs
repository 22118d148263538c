//! `/api/environments`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::auth::{need, Allowed, Change};
use crate::deploy;
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, all, create, get, update, delete]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentResource {
    id: String,
    name: String,
    description: String,
    links: Value,
}

impl From<Environment> for EnvironmentResource {
    fn from(e: Environment) -> Self {
        let id = format!("Environments-{}", e.id);
        EnvironmentResource {
            links: json!({"Self": format!("/api/environments/{id}")}),
            id,
            name: e.name,
            description: e.description,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentBody {
    name: String,
    #[serde(default)]
    description: String,
}

#[rocket::get("/environments?<skip>&<take>")]
async fn list(
    _caller: Allowed<need::EnvironmentView>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<EnvironmentResource>>> {
    let (skip, take) = paging(skip, take)?;
    let (items, total) = app
        .store
        .read(move |c| projects::list_environments(c, skip, take))
        .await?;
    Ok(Collection::new(
        "Environment",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

/// `GET /api/environments/all`: every environment, as a plain list (as Octopus has it).
#[rocket::get("/environments/all")]
async fn all(
    _caller: Allowed<need::EnvironmentView>,
    app: &State<App>,
) -> Result<Json<Vec<EnvironmentResource>>> {
    let (items, _) = app
        .store
        .read(move |c| projects::list_environments(c, 0, i64::MAX))
        .await?;
    Ok(Json(items.into_iter().map(Into::into).collect()))
}

#[rocket::post("/environments", data = "<body>")]
async fn create(
    change: Change<need::EnvironmentCreate>,
    body: Body<EnvironmentBody>,
    app: &State<App>,
) -> Result<(Status, Json<EnvironmentResource>)> {
    let body = body.into_inner()?;
    let env =
        deploy::create_environment(&app.store, &change.proof, body.name, body.description).await?;
    Ok((Status::Created, Json(env.into())))
}

#[rocket::get("/environments/<id>")]
async fn get(
    _caller: Allowed<need::EnvironmentView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<EnvironmentResource>> {
    let id = parse_id("Environments", id)?;
    app.store
        .read(move |c| projects::find_environment(c, id))
        .await?
        .map(|e| Json(e.into()))
        .ok_or_else(|| Error::NotFound(format!("Environment Environments-{id} was not found.")))
}

#[rocket::put("/environments/<id>", data = "<body>")]
async fn update(
    change: Change<need::EnvironmentEdit>,
    id: &str,
    body: Body<EnvironmentBody>,
    app: &State<App>,
) -> Result<Json<EnvironmentResource>> {
    let id = parse_id("Environments", id)?;
    let body = body.into_inner()?;
    let env =
        deploy::update_environment(&app.store, &change.proof, id, body.name, body.description)
            .await?;
    Ok(Json(env.into()))
}

/// Octopus has no separate delete permission for environments: `EnvironmentEdit`.
#[rocket::delete("/environments/<id>")]
async fn delete(
    change: Change<need::EnvironmentEdit>,
    id: &str,
    app: &State<App>,
) -> Result<Status> {
    let id = parse_id("Environments", id)?;
    deploy::delete_environment(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}
