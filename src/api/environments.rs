//! `/api/environments`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::deploy::{self, EnvironmentInput};
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, all, create, get, update, sort_order, delete]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentResource {
    id: String,
    name: String,
    slug: String,
    description: String,
    sort_order: i64,
    space_id: &'static str,
    use_guided_failure: bool,
    allow_dynamic_infrastructure: bool,
    links: Value,
}

impl From<Environment> for EnvironmentResource {
    fn from(e: Environment) -> Self {
        let id = format!("Environments-{}", e.id);
        EnvironmentResource {
            links: json!({"Self": format!("/api/environments/{id}")}),
            id,
            name: e.name,
            slug: e.slug,
            description: e.description,
            sort_order: e.sort_order,
            space_id: crate::http::SPACE_ID,
            use_guided_failure: false,
            allow_dynamic_infrastructure: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EnvironmentBody {
    name: String,
    /// Set to change the slug; without it (or blank) a new environment's comes from
    /// its name and an edited one keeps its own.
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Promotion order: lower first. Without it, a new environment goes last and an
    /// edited one stays where it is.
    sort_order: Option<i64>,
}

impl From<EnvironmentBody> for EnvironmentInput {
    fn from(b: EnvironmentBody) -> Self {
        EnvironmentInput {
            name: b.name,
            slug: super::given(b.slug),
            description: b.description.unwrap_or_default(),
            sort_order: b.sort_order,
            needs_confirmation: None,
        }
    }
}

#[rocket::get("/environments?<skip>&<take>&<ids>&<partialName>")]
#[allow(non_snake_case)]
async fn list(
    _caller: Allowed<need::EnvironmentView>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    partialName: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<EnvironmentResource>>> {
    let (skip, take) = paging(skip, take)?;
    let filter = super::named("Environments", ids, partialName)?;
    let (items, total) = app
        .store
        .read(move |c| projects::list_environments_named(c, &filter, skip, take))
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
    let input = body.into_inner()?.into();
    let env = deploy::create_environment(&app.store, &change.proof, input).await?;
    Ok((Status::Created, Json(env.into())))
}

/// `GET /api/environments/{idOrSlug}`: by id (`Environments-2`) or slug (`staging`,
/// without case).
#[rocket::get("/environments/<id_or_slug>")]
async fn get(
    _caller: Allowed<need::EnvironmentView>,
    id_or_slug: &str,
    app: &State<App>,
) -> Result<Json<EnvironmentResource>> {
    let wanted = id_or_slug.to_string();
    let found = match super::id_or_slug("Environments", id_or_slug)? {
        Ok(id) => {
            app.store
                .read(move |c| projects::find_environment(c, id))
                .await?
        }
        Err(slug) => {
            app.store
                .read(move |c| projects::find_environment_by_slug(c, &slug))
                .await?
        }
    };
    found.map(|e| Json(e.into())).ok_or_else(|| {
        Error::NotFound(format!(
            "No environment has the id or slug '{}'.",
            crate::error::shown(&wanted)
        ))
    })
}

#[rocket::put("/environments/<id>", data = "<body>")]
async fn update(
    change: Change<need::EnvironmentEdit>,
    id: &str,
    body: Body<EnvironmentBody>,
    app: &State<App>,
) -> Result<Json<EnvironmentResource>> {
    let id = parse_id("Environments", id)?;
    let input = body.into_inner()?.into();
    let env = deploy::update_environment(&app.store, &change.proof, id, input).await?;
    Ok(Json(env.into()))
}

/// `PUT /api/environments/sortorder` `["Environments-3", "Environments-1", ...]`: every
/// environment, once each, in promotion order (what Octopus's client sends). Returns
/// them in their new order.
#[rocket::put("/environments/sortorder", data = "<body>")]
async fn sort_order(
    change: Change<need::EnvironmentEdit>,
    body: Body<Vec<String>>,
    app: &State<App>,
) -> Result<Json<Vec<EnvironmentResource>>> {
    let ids = body
        .into_inner()?
        .iter()
        .map(|id| {
            parse_id("Environments", id)
                .map_err(|_| Error::bad("body", format!("'{id}' is not an environment id")))
        })
        .collect::<Result<Vec<i64>>>()?;
    let ordered = deploy::reorder_environments(&app.store, &change.proof, ids).await?;
    Ok(Json(ordered.into_iter().map(Into::into).collect()))
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
