//! Projects and their releases: `/api/projects`, `/api/releases`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self, ProjectInput};
use crate::error::{Error, Result};
use crate::store::projects::{self, Project, Release};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![
        list,
        all,
        create,
        get,
        update,
        delete,
        list_releases,
        create_release,
        get_release
    ]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectResource {
    id: String,
    name: String,
    description: String,
    deployment_script: String,
    script_timeout_seconds: i64,
    links: Value,
}

impl From<Project> for ProjectResource {
    fn from(p: Project) -> Self {
        let id = format!("Projects-{}", p.id);
        ProjectResource {
            links: json!({"Self": format!("/api/projects/{id}"), "Releases": format!("/api/releases?project={id}")}),
            id,
            name: p.name,
            description: p.description,
            deployment_script: p.deployment_script,
            script_timeout_seconds: p.script_timeout_secs,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectBody {
    name: String,
    #[serde(default)]
    description: String,
    deployment_script: String,
    script_timeout_seconds: Option<i64>,
}

impl From<ProjectBody> for ProjectInput {
    fn from(b: ProjectBody) -> Self {
        ProjectInput {
            name: b.name,
            description: b.description,
            deployment_script: b.deployment_script,
            script_timeout_secs: b.script_timeout_seconds,
        }
    }
}

#[rocket::get("/projects?<skip>&<take>")]
async fn list(
    _caller: Allowed<need::ProjectView>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<ProjectResource>>> {
    let (skip, take) = paging(skip, take)?;
    let (items, total) = app
        .store
        .read(move |c| projects::list(c, skip, take))
        .await?;
    Ok(Collection::new(
        "Project",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

/// `GET /api/projects/all`: every project, as a plain list (as Octopus has it).
#[rocket::get("/projects/all")]
async fn all(
    _caller: Allowed<need::ProjectView>,
    app: &State<App>,
) -> Result<Json<Vec<ProjectResource>>> {
    let (items, _) = app
        .store
        .read(move |c| projects::list(c, 0, i64::MAX))
        .await?;
    Ok(Json(items.into_iter().map(Into::into).collect()))
}

#[rocket::post("/projects", data = "<body>")]
async fn create(
    change: Change<need::ProjectCreate>,
    body: Body<ProjectBody>,
    app: &State<App>,
) -> Result<(Status, Json<ProjectResource>)> {
    let input = body.into_inner()?.into();
    let project = deploy::create_project(&app.store, &change.proof, input).await?;
    Ok((Status::Created, Json(project.into())))
}

#[rocket::get("/projects/<id>")]
async fn get(
    _caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<ProjectResource>> {
    let id = parse_id("Projects", id)?;
    app.store
        .read(move |c| projects::find(c, id))
        .await?
        .map(|p| Json(p.into()))
        .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))
}

#[rocket::put("/projects/<id>", data = "<body>")]
async fn update(
    change: Change<need::ProjectEdit>,
    id: &str,
    body: Body<ProjectBody>,
    app: &State<App>,
) -> Result<Json<ProjectResource>> {
    let id = parse_id("Projects", id)?;
    let input = body.into_inner()?.into();
    let project = deploy::update_project(&app.store, &change.proof, id, input).await?;
    Ok(Json(project.into()))
}

#[rocket::delete("/projects/<id>")]
async fn delete(change: Change<need::ProjectDelete>, id: &str, app: &State<App>) -> Result<Status> {
    let id = parse_id("Projects", id)?;
    deploy::delete_project(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseResource {
    id: String,
    project_id: String,
    version: String,
    release_notes: String,
    assembled: String,
    links: Value,
}

impl From<Release> for ReleaseResource {
    fn from(r: Release) -> Self {
        let id = format!("Releases-{}", r.id);
        ReleaseResource {
            links: json!({"Self": format!("/api/releases/{id}")}),
            id,
            project_id: format!("Projects-{}", r.project_id),
            version: r.version,
            release_notes: r.notes,
            assembled: clock::iso(r.created_at),
        }
    }
}

#[rocket::get("/releases?<project>&<skip>&<take>")]
async fn list_releases(
    _caller: Allowed<need::ProjectView>,
    project: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<ReleaseResource>>> {
    let (skip, take) = paging(skip, take)?;
    let project = project
        .map(|p| {
            parse_id("Projects", p)
                .map_err(|_| Error::bad("project", format!("'{p}' is not a project id")))
        })
        .transpose()?;
    let (items, total) = app
        .store
        .read(move |c| projects::list_releases(c, project, skip, take))
        .await?;
    Ok(Collection::new(
        "Release",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseBody {
    project_id: String,
    version: String,
    #[serde(default)]
    release_notes: String,
}

#[rocket::post("/releases", data = "<body>")]
async fn create_release(
    change: Change<need::ReleaseCreate>,
    body: Body<ReleaseBody>,
    app: &State<App>,
) -> Result<(Status, Json<ReleaseResource>)> {
    let body = body.into_inner()?;
    let project = parse_id("Projects", &body.project_id).map_err(|_| {
        Error::bad(
            "ProjectId",
            format!("'{}' is not a project id", body.project_id),
        )
    })?;
    let release = deploy::create_release(
        &app.store,
        &change.proof,
        project,
        body.version,
        body.release_notes,
    )
    .await?;
    Ok((Status::Created, Json(release.into())))
}

#[rocket::get("/releases/<id>")]
async fn get_release(
    _caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<ReleaseResource>> {
    let id = parse_id("Releases", id)?;
    app.store
        .read(move |c| projects::find_release(c, id))
        .await?
        .map(|r| Json(r.into()))
        .ok_or_else(|| Error::NotFound(format!("Release Releases-{id} was not found.")))
}
