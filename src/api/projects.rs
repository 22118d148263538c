//! Projects and their releases: `/api/projects`, `/api/releases`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::deploy::{self, ProjectInput};
use crate::error::{Error, Result};
use crate::http::SPACE_ID;
use crate::store::projects::{self, Project, Release, ReleaseFilter};
use crate::store::{approvals, variables};

pub fn routes() -> Vec<Route> {
    rocket::routes![
        list,
        all,
        create,
        get,
        update,
        delete,
        list_releases,
        project_releases,
        project_release,
        create_release,
        get_release,
        snapshot_variables,
        project_groups,
        project_groups_all,
        project_group,
        lifecycles,
        lifecycles_all,
        lifecycle
    ]
}

/// drydock's one project group: every project is in it.
pub const PROJECT_GROUP_ID: &str = "ProjectGroups-1";
/// drydock's one lifecycle: any release may be deployed to any environment.
pub const LIFECYCLE_ID: &str = "Lifecycles-1";

fn project_group_resource() -> Value {
    json!({
        "Id": PROJECT_GROUP_ID,
        "Name": "Default Project Group",
        "Slug": "default-project-group",
        "Description": "drydock has one project group; every project is in it.",
        "EnvironmentIds": [],
        "RetentionPolicyId": null,
        "SpaceId": SPACE_ID,
        "Links": {
            "Self": format!("/api/projectgroups/{PROJECT_GROUP_ID}"),
            "Projects": "/api/projects{?skip,take}",
        },
    })
}

fn lifecycle_resource() -> Value {
    json!({
        "Id": LIFECYCLE_ID,
        "Name": "Default Lifecycle",
        "Slug": "default-lifecycle",
        "Description": "drydock has one lifecycle: any release may be deployed to any environment, in any order.",
        "Phases": [],
        "ReleaseRetentionPolicy": {"Unit": "Items", "QuantityToKeep": 0, "ShouldKeepForever": true},
        "TentacleRetentionPolicy": {"Unit": "Items", "QuantityToKeep": 0, "ShouldKeepForever": true},
        "SpaceId": SPACE_ID,
        "Links": {"Self": format!("/api/lifecycles/{LIFECYCLE_ID}")},
    })
}

#[rocket::get("/projectgroups?<partialName>&<ids>&<skip>&<take>")]
#[allow(non_snake_case)]
fn project_groups(
    _caller: Allowed<need::ProjectView>,
    partialName: Option<&str>,
    ids: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
) -> Result<Json<Collection<Value>>> {
    super::one_resource_collection(
        "ProjectGroup",
        project_group_resource(),
        (PROJECT_GROUP_ID, "Default Project Group"),
        (partialName, ids, skip, take),
    )
}

#[rocket::get("/projectgroups/all")]
fn project_groups_all(_caller: Allowed<need::ProjectView>) -> Json<Vec<Value>> {
    Json(vec![project_group_resource()])
}

#[rocket::get("/projectgroups/<id>", rank = 2)]
fn project_group(_caller: Allowed<need::ProjectView>, id: &str) -> Result<Json<Value>> {
    if id == PROJECT_GROUP_ID {
        Ok(Json(project_group_resource()))
    } else {
        Err(Error::NotFound(format!(
            "Project group {id} was not found; drydock has one, {PROJECT_GROUP_ID}."
        )))
    }
}

#[rocket::get("/lifecycles?<partialName>&<ids>&<skip>&<take>")]
#[allow(non_snake_case)]
fn lifecycles(
    _caller: Allowed<need::ProjectView>,
    partialName: Option<&str>,
    ids: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
) -> Result<Json<Collection<Value>>> {
    super::one_resource_collection(
        "Lifecycle",
        lifecycle_resource(),
        (LIFECYCLE_ID, "Default Lifecycle"),
        (partialName, ids, skip, take),
    )
}

#[rocket::get("/lifecycles/all")]
fn lifecycles_all(_caller: Allowed<need::ProjectView>) -> Json<Vec<Value>> {
    Json(vec![lifecycle_resource()])
}

#[rocket::get("/lifecycles/<id>", rank = 2)]
fn lifecycle(_caller: Allowed<need::ProjectView>, id: &str) -> Result<Json<Value>> {
    if id == LIFECYCLE_ID {
        Ok(Json(lifecycle_resource()))
    } else {
        Err(Error::NotFound(format!(
            "Lifecycle {id} was not found; drydock has one, {LIFECYCLE_ID}."
        )))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectResource {
    id: String,
    name: String,
    slug: String,
    description: String,
    deployment_script: String,
    script_timeout_seconds: i64,
    project_group_id: &'static str,
    lifecycle_id: &'static str,
    deployment_process_id: String,
    variable_set_id: String,
    included_library_variable_set_ids: Vec<String>,
    /// drydock's: who must approve the project's deployments, per environment.
    approval_rules: Vec<Value>,
    space_id: &'static str,
    is_disabled: bool,
    links: Value,
}

/// What a project resource shows besides the project's own row, for every project or
/// just one: the library sets each includes (project, set), and the approval rules.
struct Extras {
    included: Vec<(i64, i64)>,
    rules: Vec<approvals::Rule>,
}

impl Extras {
    fn all(c: &crate::store::Conn) -> Result<Extras> {
        Ok(Extras {
            included: variables::included_all(c)?,
            rules: approvals::all_rules(c)?,
        })
    }

    fn of(c: &crate::store::Conn, project: i64) -> Result<Extras> {
        Ok(Extras {
            included: variables::included(c, project)?
                .into_iter()
                .map(|set| (project, set))
                .collect(),
            rules: approvals::rules_of(c, project)?,
        })
    }
}

/// A rule as the project resource shows it.
fn rule_resource(r: &approvals::Rule) -> Value {
    json!({
        "Id": format!("ApprovalRules-{}", r.id),
        "EnvironmentIds": r.environment_ids.iter().map(|e| format!("Environments-{e}")).collect::<Vec<_>>(),
        "RoleNames": r.role_names,
        "UserIds": r.user_ids.iter().map(|u| format!("Users-{u}")).collect::<Vec<_>>(),
        "NotByRequester": r.not_by_requester,
        "NoteRequired": r.note_required,
    })
}

impl ProjectResource {
    /// `p` as Octopus answers it, with what `extras` (every project's, or just its
    /// own) has for it.
    fn of(p: Project, extras: &Extras) -> Self {
        let sets = extras
            .included
            .iter()
            .filter(|(project, _)| *project == p.id)
            .map(|(_, set)| format!("LibraryVariableSets-{set}"))
            .collect();
        let id = format!("Projects-{}", p.id);
        ProjectResource {
            links: json!({
                "Self": format!("/api/projects/{id}"),
                "Releases": format!("/api/projects/{id}/releases{{?skip,take,searchByVersion}}"),
                "DeploymentProcess": format!("/api/deploymentprocesses/{}", super::processes::process_id(p.id)),
                "Variables": format!("/api/variables/{}", super::processes::variable_set_id(p.id)),
            }),
            deployment_process_id: super::processes::process_id(p.id),
            variable_set_id: super::processes::variable_set_id(p.id),
            included_library_variable_set_ids: sets,
            approval_rules: extras
                .rules
                .iter()
                .filter(|r| r.project_id == p.id)
                .map(rule_resource)
                .collect(),
            id,
            slug: p.slug,
            name: p.name,
            description: p.description,
            deployment_script: p.deployment_script,
            script_timeout_seconds: p.script_timeout_secs,
            project_group_id: PROJECT_GROUP_ID,
            lifecycle_id: LIFECYCLE_ID,
            space_id: SPACE_ID,
            is_disabled: false,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProjectBody {
    name: String,
    /// Set to change the slug; without it (or blank) a new project's comes from its
    /// name and an edited one keeps its own.
    slug: Option<String>,
    #[serde(default)]
    description: Option<String>,
    /// Optional: a project created without one has an empty script (its deployments
    /// do nothing); an update without one keeps the script.
    deployment_script: Option<String>,
    script_timeout_seconds: Option<i64>,
    /// Accepted so that Octopus-shaped bodies work; drydock has one of each.
    project_group_id: Option<String>,
    lifecycle_id: Option<String>,
    /// The library variable sets the project includes, in order; absent: kept.
    included_library_variable_set_ids: Option<Vec<String>>,
    /// drydock's approval rules, in order; absent or null: kept.
    approval_rules: Option<Value>,
}

impl ProjectBody {
    fn into_input(self) -> Result<ProjectInput> {
        check_one("ProjectGroupId", self.project_group_id, PROJECT_GROUP_ID)?;
        check_one("LifecycleId", self.lifecycle_id, LIFECYCLE_ID)?;
        let approval_rules = self
            .approval_rules
            .as_ref()
            .map(crate::approvals::rules::parse)
            .transpose()?;
        Ok(ProjectInput {
            approval_rules,
            name: self.name,
            slug: super::given(self.slug),
            description: self.description.unwrap_or_default(),
            deployment_script: self.deployment_script,
            script_timeout_secs: self.script_timeout_seconds,
            included_library_sets: self
                .included_library_variable_set_ids
                .map(|ids| {
                    ids.iter()
                        .map(|id| {
                            parse_id("LibraryVariableSets", id.trim()).map_err(|_| {
                                Error::bad(
                                    "IncludedLibraryVariableSetIds",
                                    format!(
                                        "'{}' is not a library variable set id",
                                        crate::error::shown(id)
                                    ),
                                )
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                })
                .transpose()?,
        })
    }
}

/// drydock has one project group and one lifecycle: a body may name it, or nothing.
fn check_one(field: &str, given: Option<String>, ours: &str) -> Result<()> {
    match given.as_deref().map(str::trim) {
        None | Some("") => Ok(()),
        Some(id) if id == ours => Ok(()),
        Some(other) => Err(Error::bad(
            field,
            format!("'{other}' does not exist; drydock has one, {ours}"),
        )),
    }
}

#[rocket::get("/projects?<skip>&<take>&<ids>&<partialName>")]
#[allow(non_snake_case)]
async fn list(
    _caller: Allowed<need::ProjectView>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    partialName: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<ProjectResource>>> {
    let (skip, take) = paging(skip, take)?;
    let filter = super::named("Projects", ids, partialName)?;
    let (items, total, included) = app
        .store
        .read(move |c| {
            let (items, total) = projects::list_named(c, &filter, skip, take)?;
            Ok((items, total, Extras::all(c)?))
        })
        .await?;
    Ok(Collection::new(
        "Project",
        items
            .into_iter()
            .map(|p| ProjectResource::of(p, &included))
            .collect(),
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
    let (items, included) = app
        .store
        .read(move |c| Ok((projects::list(c, 0, i64::MAX)?.0, Extras::all(c)?)))
        .await?;
    Ok(Json(
        items
            .into_iter()
            .map(|p| ProjectResource::of(p, &included))
            .collect(),
    ))
}

#[rocket::post("/projects", data = "<body>")]
async fn create(
    change: Change<need::ProjectCreate>,
    body: Body<ProjectBody>,
    app: &State<App>,
) -> Result<(Status, Json<ProjectResource>)> {
    let input = body.into_inner()?.into_input()?;
    let project = deploy::create_project(&app.store, &change.proof, input).await?;
    Ok((Status::Created, Json(resource(app, project).await?)))
}

/// `GET /api/projects/{idOrSlug}`: by id (`Projects-1`) or slug (`web-app`, without
/// case).
#[rocket::get("/projects/<id_or_slug>")]
async fn get(
    _caller: Allowed<need::ProjectView>,
    id_or_slug: &str,
    app: &State<App>,
) -> Result<Json<ProjectResource>> {
    let wanted = id_or_slug.to_string();
    let found = match super::id_or_slug("Projects", id_or_slug)? {
        Ok(id) => app.store.read(move |c| projects::find(c, id)).await?,
        Err(slug) => {
            app.store
                .read(move |c| projects::find_by_slug(c, &slug))
                .await?
        }
    };
    let project = found.ok_or_else(|| {
        Error::NotFound(format!(
            "No project has the id or slug '{}'.",
            crate::error::shown(&wanted)
        ))
    })?;
    Ok(Json(resource(app, project).await?))
}

/// `p` as Octopus answers it, with the library sets it includes and its rules.
async fn resource(app: &App, p: Project) -> Result<ProjectResource> {
    let id = p.id;
    let extras = app.store.read(move |c| Extras::of(c, id)).await?;
    Ok(ProjectResource::of(p, &extras))
}

#[rocket::put("/projects/<id>", data = "<body>")]
async fn update(
    change: Change<need::ProjectEdit>,
    id: &str,
    body: Body<ProjectBody>,
    app: &State<App>,
) -> Result<Json<ProjectResource>> {
    let id = parse_id("Projects", id)?;
    let input = body.into_inner()?.into_input()?;
    let project = deploy::update_project(&app.store, &change.proof, id, input).await?;
    Ok(Json(resource(app, project).await?))
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
            links: json!({
                "Self": format!("/api/releases/{id}"),
                "Project": format!("/api/projects/Projects-{}", r.project_id),
            }),
            id,
            project_id: format!("Projects-{}", r.project_id),
            version: r.version,
            release_notes: r.notes,
            assembled: clock::iso(r.created_at),
        }
    }
}

/// `GET /api/releases?project&searchByVersion&skip&take`: releases, newest first, of
/// one project or of all, whose version contains `searchByVersion`.
#[rocket::get("/releases?<project>&<ids>&<skip>&<take>&<searchByVersion>")]
#[allow(non_snake_case)]
async fn list_releases(
    _caller: Allowed<need::ProjectView>,
    project: Option<&str>,
    ids: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    searchByVersion: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<ReleaseResource>>> {
    let (skip, take) = paging(skip, take)?;
    let project = project
        .map(|p| {
            parse_id("Projects", p)
                .map_err(|_| Error::bad("project", format!("'{p}' is not a project id")))
        })
        .transpose()?;
    let filter = ReleaseFilter {
        project,
        version: version_search(searchByVersion),
        ids: super::id_list("ids", "Releases", ids)?,
    };
    let (items, total) = app
        .store
        .read(move |c| projects::search_releases(c, &filter, skip, take))
        .await?;
    Ok(Collection::new(
        "Release",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

/// `searchByVersion`: part of a version, or nothing when blank.
fn version_search(given: Option<&str>) -> Option<String> {
    given
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// `GET /api/projects/{id}/releases?skip&take&searchByVersion`: the project's releases,
/// newest first, as Octopus's clients list them.
#[rocket::get("/projects/<id>/releases?<ids>&<skip>&<take>&<searchByVersion>")]
#[allow(non_snake_case)]
async fn project_releases(
    _caller: Allowed<need::ProjectView>,
    id: &str,
    ids: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    searchByVersion: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<ReleaseResource>>> {
    let id = parse_id("Projects", id)?;
    let (skip, take) = paging(skip, take)?;
    let filter = ReleaseFilter {
        project: Some(id),
        version: version_search(searchByVersion),
        ids: super::id_list("ids", "Releases", ids)?,
    };
    let (items, total) = app
        .store
        .read(move |c| {
            projects::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))?;
            projects::search_releases(c, &filter, skip, take)
        })
        .await?;
    Ok(Collection::new(
        "Release",
        items.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

/// `GET /api/projects/{id}/releases/{version}`: the project's release of that version.
#[rocket::get("/projects/<id>/releases/<version>")]
async fn project_release(
    _caller: Allowed<need::ProjectView>,
    id: &str,
    version: &str,
    app: &State<App>,
) -> Result<Json<ReleaseResource>> {
    let id = parse_id("Projects", id)?;
    let version = version.trim().to_string();
    app.store
        .read(move |c| {
            let project = projects::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))?;
            projects::find_release_by_version(c, id, &version)?.ok_or_else(|| {
                Error::NotFound(format!(
                    "Project {} has no release '{version}'.",
                    project.name
                ))
            })
        })
        .await
        .map(|r| Json(r.into()))
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

/// `POST /api/releases/{id}/snapshot-variables`: the release takes its project's
/// variables as they are now (Octopus's "update variables"), audited.
#[rocket::post("/releases/<id>/snapshot-variables")]
async fn snapshot_variables(
    change: Change<need::ReleaseCreate>,
    id: &str,
    app: &State<App>,
) -> Result<Json<ReleaseResource>> {
    let id = parse_id("Releases", id)?;
    let release = crate::variables::update_snapshot(&app.store, &change.proof, id).await?;
    Ok(Json(release.into()))
}
