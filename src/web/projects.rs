//! Projects and their releases (a release's page and the Deploy form: `releases.rs`).

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::chart::{self, Chart};
use super::forms::{field, Field, FormErrors, FormResult};
use super::live::Cell;
use super::matrix::{matrix, MatrixRow};
use super::view::{TaskRow, When};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::deploy::{self, ProjectInput};
use crate::error::{Error, Result};
use crate::store::deployments::{self, Cells};
use crate::store::projects::{self, Environment, Project, Release};
use crate::store::task_list;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, create, show, edit, delete, create_release]
}

const PAGE_SIZE: i64 = 50;

/// The project form's fields, as errors name them and as people read them.
const PROJECT_FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field("Description", "description", "Description"),
    field("DeploymentScript", "deployment_script", "Deployment script"),
    field(
        "ScriptTimeoutSeconds",
        "script_timeout_secs",
        "Script timeout (seconds)",
    ),
];

const RELEASE_FIELDS: &[Field] = &[
    field("Version", "version", "Version"),
    field("ReleaseNotes", "notes", "Release notes"),
];

/// What the project form shows: a project's values, or what was typed.
#[derive(FromForm, Clone, Default)]
pub struct ProjectForm {
    name: String,
    description: String,
    deployment_script: String,
    script_timeout_secs: Option<String>,
}

impl ProjectForm {
    fn blank() -> ProjectForm {
        ProjectForm {
            deployment_script:
                "echo \"Deploying $DRYDOCK_PROJECT $DRYDOCK_RELEASE to $DRYDOCK_ENVIRONMENT\""
                    .into(),
            script_timeout_secs: Some(deploy::DEFAULT_SCRIPT_TIMEOUT_SECS.to_string()),
            ..<ProjectForm as Default>::default()
        }
    }

    fn of(p: &Project) -> ProjectForm {
        ProjectForm {
            name: p.name.clone(),
            description: p.description.clone(),
            deployment_script: p.deployment_script.clone(),
            script_timeout_secs: Some(p.script_timeout_secs.to_string()),
        }
    }

    fn timeout(&self) -> &str {
        self.script_timeout_secs.as_deref().unwrap_or_default()
    }

    /// The project as typed; a timeout that is not a number is reported together with
    /// every other problem of the form.
    fn input(self) -> Result<ProjectInput> {
        let timeout = match self.script_timeout_secs.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => t.parse::<i64>().map(Some).map_err(|_| {
                Error::bad(
                    "ScriptTimeoutSeconds",
                    format!("'{t}' is not a number of seconds"),
                )
            }),
        };
        let input = ProjectInput {
            name: self.name,
            slug: None,
            description: self.description,
            deployment_script: Some(self.deployment_script.replace("\r\n", "\n")),
            script_timeout_secs: timeout.as_ref().ok().copied().flatten(),
            included_library_sets: None,
            approval_rules: None,
        };
        if let Err(problem) = timeout {
            let mut problems = deploy::project_problems(&input);
            problems.push(problem);
            Error::all(problems)?;
        }
        Ok(input)
    }
}

#[derive(Template)]
#[template(path = "projects/list.html")]
struct ProjectsPage {
    layout: Layout,
    rows: Vec<MatrixRow>,
    environments: Vec<Environment>,
    can_create: bool,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
    form: ProjectForm,
    errors: FormErrors,
}

async fn projects_page(
    app: &App,
    caller: &Caller,
    skip: i64,
    flash: Option<FlashMessage<'_>>,
    form: ProjectForm,
    errors: FormErrors,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let (projects, total, environments, latest, frozen) = app
        .store
        .read(move |c| {
            let (projects, total) = projects::list(c, skip, PAGE_SIZE)?;
            let (environments, _) = projects::list_environments(c, 0, 100)?;
            let latest = deployments::live(c, now, Cells::default())?;
            let frozen = crate::freezes::read::frozen_pairs(c, now)?;
            Ok((projects, total, environments, latest, frozen))
        })
        .await?;
    let see_tasks = caller.can(Permission::TaskView);
    let latest = if see_tasks { latest } else { Vec::new() };
    render(&ProjectsPage {
        layout: Layout::new("Projects", caller, flash)
            .at("/projects")
            .refreshing(),
        rows: matrix(projects, &environments, &latest, &frozen, now),
        environments,
        can_create: caller.can(Permission::ProjectCreate),
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
        form,
        errors,
    })
}

#[rocket::get("/projects?<skip>")]
async fn list(
    caller: Allowed<need::ProjectView>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    projects_page(
        app,
        &caller,
        skip,
        flash,
        ProjectForm::blank(),
        FormErrors::none(),
    )
    .await
}

#[rocket::post("/projects", data = "<change>")]
async fn create(
    change: FormChange<need::ProjectCreate, ProjectForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.clone();
    let result = async {
        let input = change.form.input()?;
        deploy::create_project(&app.store, &change.proof, input).await
    }
    .await;
    match result {
        Ok(p) => FormResult::done(done(
            format!("/projects/{}", p.id),
            format!("Created project {}.", p.name),
        )),
        Err(e) => FormResult::again(
            projects_page(
                app,
                &change.caller,
                0,
                None,
                typed,
                FormErrors::from_error(&e, PROJECT_FIELDS),
            )
            .await,
        ),
    }
}

/// A release in the project's list: when and by whom, and where it is deployed now.
pub struct ReleaseRow {
    pub release: Release,
    pub created: When,
    /// Environment, badge class, and what it is there ("live", or the attempt's state).
    pub deployed_to: Vec<(String, &'static str, &'static str)>,
}

#[derive(FromForm, Clone, Default)]
pub struct ReleaseForm {
    version: String,
    notes: String,
}

#[derive(Template)]
#[template(path = "projects/show.html")]
struct ProjectPage {
    layout: Layout,
    project: Project,
    /// Per environment in promotion order: what is live there (`None`: nothing yet).
    live: Vec<(Environment, Option<Cell>)>,
    releases: Vec<ReleaseRow>,
    tasks: Vec<TaskRow>,
    chart: Chart,
    can_edit: bool,
    can_delete: bool,
    can_release: bool,
    form: ProjectForm,
    errors: FormErrors,
    release_form: ReleaseForm,
    release_errors: FormErrors,
}

/// The project page; `edit` and `release` are the forms as typed after a refusal.
async fn project_page(
    app: &App,
    caller: &Caller,
    id: i64,
    flash: Option<FlashMessage<'_>>,
    edit: Option<(ProjectForm, FormErrors)>,
    release: Option<(ReleaseForm, FormErrors)>,
) -> Result<RawHtml<String>> {
    let project = super::find_project(app, id).await?;
    let now = clock::now_ms();
    let since = now - chart::DAYS * 86_400_000;
    let (releases, recent, latest, environments, per_day) = app
        .store
        .read(move |c| {
            let (releases, _) = projects::list_releases(c, Some(id), 0, 50)?;
            let filter = task_list::Filter {
                project_id: Some(id),
                ..task_list::Filter::default()
            };
            let (recent, _) = task_list::list(c, &filter, 0, 10)?;
            let cells = Cells {
                project: Some(id),
                ..Cells::default()
            };
            let latest = deployments::live(c, now, cells)?;
            let (environments, _) = projects::list_environments(c, 0, 100)?;
            let per_day = deployments::completed_per_day(c, since, Some(id))?;
            Ok((releases, recent, latest, environments, per_day))
        })
        .await?;
    let see_tasks = caller.can(Permission::TaskView);
    let live: Vec<(Environment, Option<Cell>)> = environments
        .into_iter()
        .map(|e| {
            let cell = latest
                .iter()
                .find(|l| l.latest.environment_id == e.id)
                .filter(|_| see_tasks)
                .map(|l| Cell::new(l, now));
            (e, cell)
        })
        .collect();
    let releases = releases
        .into_iter()
        .map(|release| {
            let deployed_to = live
                .iter()
                .filter_map(|(e, cell)| {
                    let cell = cell.as_ref()?;
                    if cell.is_live(release.id) {
                        Some((e.name.clone(), "good", "live"))
                    } else if cell.is_pending(release.id) {
                        let pending = cell.pending.as_ref()?;
                        Some((e.name.clone(), pending.class, pending.label))
                    } else {
                        None
                    }
                })
                .collect();
            ReleaseRow {
                created: When::at(release.created_at, now),
                deployed_to,
                release,
            }
        })
        .collect();
    let (form, errors) = edit.unwrap_or_else(|| (ProjectForm::of(&project), FormErrors::none()));
    let (release_form, release_errors) =
        release.unwrap_or_else(|| (<ReleaseForm as Default>::default(), FormErrors::none()));
    render(&ProjectPage {
        layout: Layout::new(&format!("Project {}", project.name), caller, flash)
            .at("/projects")
            .refreshing(),
        project,
        live,
        releases,
        tasks: if see_tasks {
            TaskRow::list(recent, now)
        } else {
            Vec::new()
        },
        chart: chart::deployments_per_day(if see_tasks { &per_day } else { &[] }, now),
        can_edit: caller.can(Permission::ProjectEdit),
        can_delete: caller.can(Permission::ProjectDelete),
        can_release: caller.can(Permission::ReleaseCreate),
        form,
        errors,
        release_form,
        release_errors,
    })
}

#[rocket::get("/projects/<id>")]
async fn show(
    caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Projects", id)?;
    project_page(app, &caller, id, flash, None, None).await
}

#[rocket::post("/projects/<id>", data = "<change>")]
async fn edit(
    change: FormChange<need::ProjectEdit, ProjectForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Projects", id)?;
    let typed = change.form.clone();
    let result = async {
        let input = change.form.input()?;
        deploy::update_project(&app.store, &change.proof, id, input).await
    }
    .await;
    match result {
        Ok(p) => FormResult::done(done(
            format!("/projects/{id}"),
            format!("Saved project {}.", p.name),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, PROJECT_FIELDS);
            FormResult::again(
                project_page(app, &change.caller, id, None, Some((typed, errors)), None).await,
            )
        }
    }
}

#[rocket::post("/projects/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::ProjectDelete, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Projects", id)?;
    Ok(
        match deploy::delete_project(&app.store, &change.proof, id).await {
            Ok(()) => done("/projects".into(), "The project has been deleted."),
            Err(e) => refused(format!("/projects/{id}"), &e),
        },
    )
}

#[rocket::post("/projects/<id>/releases", data = "<change>")]
async fn create_release(
    change: FormChange<need::ReleaseCreate, ReleaseForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Projects", id)?;
    let typed = change.form.clone();
    let form = change.form;
    match deploy::create_release(&app.store, &change.proof, id, form.version, form.notes).await {
        Ok(r) => FormResult::done(done(
            format!("/releases/{}", r.id),
            format!("Created release {}.", r.version),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, RELEASE_FIELDS);
            FormResult::again(
                project_page(app, &change.caller, id, None, None, Some((typed, errors))).await,
            )
        }
    }
}
