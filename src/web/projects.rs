//! Projects, their releases, and the Deploy form.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::view::TaskRow;
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::deploy::{self, DeploymentInput, ProjectInput};
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment, Project, Release};
use crate::store::tasks;
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![
        list,
        create,
        show,
        edit,
        delete,
        create_release,
        release,
        deploy_release
    ]
}

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "projects/list.html")]
struct ProjectsPage {
    layout: Layout,
    projects: Vec<Project>,
    can_create: bool,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

#[rocket::get("/projects?<skip>")]
async fn list(
    caller: Allowed<need::ProjectView>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    let (projects, total) = app
        .store
        .read(move |c| projects::list(c, skip, PAGE_SIZE))
        .await?;
    render(&ProjectsPage {
        layout: Layout::new("Projects", &caller, flash).at("/projects"),
        projects,
        can_create: caller.can(Permission::ProjectCreate),
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
    })
}

#[derive(FromForm)]
pub struct ProjectForm {
    name: String,
    description: String,
    deployment_script: String,
    script_timeout_secs: Option<String>,
}

impl ProjectForm {
    fn input(self) -> Result<ProjectInput> {
        let timeout = match self.script_timeout_secs.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => Some(t.parse::<i64>().map_err(|_| {
                Error::bad(
                    "ScriptTimeoutSeconds",
                    format!("'{t}' is not a number of seconds"),
                )
            })?),
        };
        Ok(ProjectInput {
            name: self.name,
            description: self.description,
            deployment_script: Some(self.deployment_script.replace("\r\n", "\n")),
            script_timeout_secs: timeout,
        })
    }
}

#[rocket::post("/projects", data = "<change>")]
async fn create(
    change: FormChange<need::ProjectCreate, ProjectForm>,
    app: &State<App>,
) -> Flash<Redirect> {
    let result = async {
        let input = change.form.input()?;
        deploy::create_project(&app.store, &change.proof, input).await
    }
    .await;
    match result {
        Ok(p) => done(
            format!("/projects/{}", p.id),
            format!("Created project {}.", p.name),
        ),
        Err(e) => refused("/projects".into(), &e),
    }
}

#[derive(Template)]
#[template(path = "projects/show.html")]
struct ProjectPage {
    layout: Layout,
    project: Project,
    releases: Vec<Release>,
    tasks: Vec<TaskRow>,
    can_edit: bool,
    can_delete: bool,
    can_release: bool,
}

async fn find_project(app: &App, id: i64) -> Result<Project> {
    app.store
        .read(move |c| projects::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Project Projects-{id} was not found.")))
}

#[rocket::get("/projects/<id>")]
async fn show(
    caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id(id)?;
    let project = find_project(app, id).await?;
    let (releases, recent) = app
        .store
        .read(move |c| {
            let (releases, _) = projects::list_releases(c, Some(id), 0, 50)?;
            let filter = tasks::Filter {
                project_id: Some(id),
                ..tasks::Filter::default()
            };
            let (recent, _) = tasks::list(c, &filter, 0, 10)?;
            Ok((releases, recent))
        })
        .await?;
    render(&ProjectPage {
        layout: Layout::new(&format!("Project {}", project.name), &caller, flash).at("/projects"),
        project,
        releases,
        tasks: if caller.can(Permission::TaskView) {
            TaskRow::list(recent, crate::clock::now_ms())
        } else {
            Vec::new()
        },
        can_edit: caller.can(Permission::ProjectEdit),
        can_delete: caller.can(Permission::ProjectDelete),
        can_release: caller.can(Permission::ReleaseCreate),
    })
}

#[rocket::post("/projects/<id>", data = "<change>")]
async fn edit(
    change: FormChange<need::ProjectEdit, ProjectForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    let back = format!("/projects/{id}");
    let result = async {
        let input = change.form.input()?;
        deploy::update_project(&app.store, &change.proof, id, input).await
    }
    .await;
    Ok(match result {
        Ok(p) => done(back, format!("Saved project {}.", p.name)),
        Err(e) => refused(back, &e),
    })
}

#[rocket::post("/projects/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::ProjectDelete, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    Ok(
        match deploy::delete_project(&app.store, &change.proof, id).await {
            Ok(()) => done("/projects".into(), "The project has been deleted."),
            Err(e) => refused(format!("/projects/{id}"), &e),
        },
    )
}

#[derive(FromForm)]
pub struct ReleaseForm {
    version: String,
    notes: String,
}

#[rocket::post("/projects/<id>/releases", data = "<change>")]
async fn create_release(
    change: FormChange<need::ReleaseCreate, ReleaseForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    let form = change.form;
    Ok(
        match deploy::create_release(&app.store, &change.proof, id, form.version, form.notes).await
        {
            Ok(r) => done(
                format!("/releases/{}", r.id),
                format!("Created release {}.", r.version),
            ),
            Err(e) => refused(format!("/projects/{id}"), &e),
        },
    )
}

#[derive(Template)]
#[template(path = "projects/release.html")]
struct ReleasePage {
    layout: Layout,
    project: Project,
    release: Release,
    environments: Vec<Environment>,
    can_deploy: bool,
}

#[rocket::get("/releases/<id>")]
async fn release(
    caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id(id)?;
    let release = app
        .store
        .read(move |c| projects::find_release(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Release Releases-{id} was not found.")))?;
    let project = find_project(app, release.project_id).await?;
    let (environments, _) = app
        .store
        .read(|c| projects::list_environments(c, 0, 1000))
        .await?;
    render(&ReleasePage {
        layout: Layout::new(
            &format!("{} {}", project.name, release.version),
            &caller,
            flash,
        )
        .at("/projects"),
        project,
        release,
        environments,
        can_deploy: caller.can(Permission::DeploymentCreate),
    })
}

#[derive(FromForm)]
pub struct DeployForm {
    environment: String,
    when: String,
    queue_time: Option<String>,
    queue_time_expiry: Option<String>,
}

/// A `datetime-local` value (`2026-11-26T15:04`, read as UTC) or a full ISO 8601 time.
pub fn form_time(field: &str, value: Option<String>) -> Result<Option<i64>> {
    let Some(value) = value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    let full = match value.len() {
        16 => format!("{value}:00+00:00"),
        19 => format!("{value}+00:00"),
        _ => value.clone(),
    };
    clock::parse_iso(&full)
        .map(Some)
        .ok_or_else(|| Error::bad(field, format!("'{value}' is not a date and time")))
}

impl DeployForm {
    fn input(self, release_id: i64) -> Result<DeploymentInput> {
        let environment_id = page_id(&self.environment)
            .map_err(|_| Error::bad("EnvironmentId", "choose an environment"))?;
        let later = self.when == "later";
        let queue_time = if later {
            Some(
                form_time("QueueTime", self.queue_time)?
                    .ok_or_else(|| Error::bad("QueueTime", "is required for a later deployment"))?,
            )
        } else {
            None
        };
        Ok(DeploymentInput {
            release_id,
            environment_id,
            queue_time,
            queue_time_expiry: if later {
                form_time("QueueTimeExpiry", self.queue_time_expiry)?
            } else {
                None
            },
        })
    }
}

#[rocket::post("/releases/<id>/deploy", data = "<change>")]
async fn deploy_release(
    change: FormChange<need::DeploymentCreate, DeployForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    let result = async {
        let input = change.form.input(id)?;
        deploy::create_deployment(&app.store, &app.queue, &change.proof, input).await
    }
    .await;
    Ok(match result {
        Ok((_, task_id)) => done(
            format!("/tasks/{task_id}"),
            "The deployment has been queued.",
        ),
        Err(e) => refused(format!("/releases/{id}"), &e),
    })
}
