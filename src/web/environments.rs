//! Environments: list, create, edit, delete.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, Field, FormErrors, FormResult};
use super::live::Cell;
use super::view::TaskRow;
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::deploy::{self, EnvironmentInput};
use crate::error::{Error, Result};
use crate::store::deployments::{self, Cells};
use crate::store::projects::{self, Environment};
use crate::store::task_list;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, create, show, edit, move_environment, delete]
}

#[derive(Template)]
#[template(path = "environments/list.html")]
struct EnvironmentsPage {
    layout: Layout,
    environments: Vec<Environment>,
    can_create: bool,
    can_edit: bool,
    form: EnvironmentForm,
    errors: FormErrors,
}

async fn environments_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    form: EnvironmentForm,
    errors: FormErrors,
) -> Result<RawHtml<String>> {
    let (environments, _) = app
        .store
        .read(|c| projects::list_environments(c, 0, 1000))
        .await?;
    render(&EnvironmentsPage {
        layout: Layout::new("Environments", caller, flash).at("/environments"),
        environments,
        can_create: caller.can(Permission::EnvironmentCreate),
        can_edit: caller.can(Permission::EnvironmentEdit),
        form,
        errors,
    })
}

#[rocket::get("/environments")]
async fn list(
    caller: Allowed<need::EnvironmentView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    environments_page(
        app,
        &caller,
        flash,
        EnvironmentForm::blank(),
        FormErrors::none(),
    )
    .await
}

#[derive(FromForm, Clone, Default)]
pub struct EnvironmentForm {
    name: String,
    description: String,
    /// Whether deploying here asks first: `default`, `always` or `never`; absent on
    /// the create form (the default).
    confirmation: Option<String>,
}

impl EnvironmentForm {
    /// What the confirmation choice sets (`None`: unchanged), or a 400 naming it.
    fn needs_confirmation(&self) -> Result<Option<Option<bool>>> {
        match self.confirmation.as_deref().map(str::trim) {
            None => Ok(None),
            Some("default") => Ok(Some(None)),
            Some("always") => Ok(Some(Some(true))),
            Some("never") => Ok(Some(Some(false))),
            Some(other) => Err(Error::bad(
                "NeedsConfirmation",
                format!(
                    "'{}' is not one of default, always, never",
                    crate::error::shown(other)
                ),
            )),
        }
    }

    fn chosen(&self) -> &str {
        self.confirmation.as_deref().unwrap_or("default")
    }

    fn blank() -> EnvironmentForm {
        <EnvironmentForm as Default>::default()
    }
}

#[rocket::post("/environments", data = "<change>")]
async fn create(
    change: FormChange<need::EnvironmentCreate, EnvironmentForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.clone();
    let form = change.form;
    let input = EnvironmentInput {
        needs_confirmation: None,
        name: form.name,
        slug: None,
        description: form.description,
        sort_order: None,
    };
    match deploy::create_environment(&app.store, &change.proof, input).await {
        Ok(env) => FormResult::done(done(
            "/environments".into(),
            format!("Created environment {}.", env.name),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, ENVIRONMENT_FIELDS);
            FormResult::again(environments_page(app, &change.caller, None, typed, errors).await)
        }
    }
}

const ENVIRONMENT_FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field(
        "NeedsConfirmation",
        "confirmation",
        "Ask before deploying here",
    ),
    field("Description", "description", "Description"),
];

/// A project's latest deployment to this environment.
pub struct DeployedRow {
    pub project: (i64, String),
    pub cell: Option<Cell>,
}

#[derive(Template)]
#[template(path = "environments/show.html")]
struct EnvironmentPage {
    layout: Layout,
    environment: Environment,
    deployed: Vec<DeployedRow>,
    tasks: Vec<TaskRow>,
    can_edit: bool,
    /// Whether it is last in promotion order, and whether deploying here asks first.
    last_in_order: bool,
    asks: bool,
    form: EnvironmentForm,
    errors: FormErrors,
}

async fn environment_page(
    app: &App,
    caller: &Caller,
    id: i64,
    flash: Option<FlashMessage<'_>>,
    typed: Option<(EnvironmentForm, FormErrors)>,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let (environment, projects, latest, recent, (last_in_order, asks)) = app
        .store
        .read(move |c| {
            let environment = projects::find_environment(c, id)?.ok_or_else(|| {
                Error::NotFound(format!("Environment Environments-{id} was not found."))
            })?;
            let confirmation = (
                projects::last_environment(c)? == Some(id),
                deploy::needs_confirmation(c, &environment)?,
            );
            let (projects, _) = projects::list(c, 0, 500)?;
            let cells = Cells {
                environment: Some(id),
                ..Cells::default()
            };
            let latest = deployments::live(c, now, cells)?;
            let filter = task_list::Filter {
                environment_id: Some(id),
                count_up_to: Some(0),
                ..task_list::Filter::default()
            };
            let (recent, _) = task_list::list(c, &filter, 0, 10)?;
            Ok((environment, projects, latest, recent, confirmation))
        })
        .await?;
    let see_tasks = caller.can(Permission::TaskView);
    let deployed = projects
        .into_iter()
        .map(|p| DeployedRow {
            cell: latest
                .iter()
                .find(|l| l.latest.project_id == p.id)
                .filter(|_| see_tasks)
                .map(|l| Cell::new(l, now)),
            project: (p.id, p.name),
        })
        .collect();
    let (form, errors) = typed.unwrap_or_else(|| {
        (
            EnvironmentForm {
                name: environment.name.clone(),
                description: environment.description.clone(),
                confirmation: Some(
                    match environment.needs_confirmation {
                        None => "default",
                        Some(true) => "always",
                        Some(false) => "never",
                    }
                    .to_string(),
                ),
            },
            FormErrors::none(),
        )
    });
    render(&EnvironmentPage {
        layout: Layout::new(&format!("Environment {}", environment.name), caller, flash)
            .at("/environments")
            .refreshing(),
        environment,
        last_in_order,
        asks,
        deployed,
        tasks: if see_tasks {
            TaskRow::list(recent, now)
        } else {
            Vec::new()
        },
        can_edit: caller.can(Permission::EnvironmentEdit),
        form,
        errors,
    })
}

#[rocket::get("/environments/<id>")]
async fn show(
    caller: Allowed<need::EnvironmentView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Environments", id)?;
    environment_page(app, &caller, id, flash, None).await
}

#[rocket::post("/environments/<id>", data = "<change>")]
async fn edit(
    change: FormChange<need::EnvironmentEdit, EnvironmentForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Environments", id)?;
    let typed = change.form.clone();
    let form = change.form;
    let input = match form.needs_confirmation() {
        Ok(needs_confirmation) => Ok(EnvironmentInput {
            needs_confirmation,
            name: form.name,
            slug: None,
            description: form.description,
            sort_order: None,
        }),
        Err(e) => Err(e),
    };
    let result = match input {
        Ok(input) => deploy::update_environment(&app.store, &change.proof, id, input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(env) => FormResult::done(done(
            format!("/environments/{id}"),
            format!("Saved environment {}.", env.name),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, ENVIRONMENT_FIELDS);
            FormResult::again(
                environment_page(app, &change.caller, id, None, Some((typed, errors))).await,
            )
        }
    }
}

#[derive(FromForm)]
pub struct MoveForm {
    /// `earlier` or `later` in promotion order.
    direction: String,
}

#[rocket::post("/environments/<id>/move", data = "<change>")]
async fn move_environment(
    change: FormChange<need::EnvironmentEdit, MoveForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Environments", id)?;
    let earlier = match change.form.direction.as_str() {
        "earlier" => true,
        "later" => false,
        other => {
            return Ok(refused(
                "/environments".into(),
                &Error::bad("direction", format!("'{other}' is not earlier or later")),
            ))
        }
    };
    Ok(
        match deploy::move_environment(&app.store, &change.proof, id, earlier).await {
            Ok(order) => {
                let names: Vec<&str> = order.iter().map(|e| e.name.as_str()).collect();
                done(
                    "/environments".into(),
                    format!("Promotion order: {}.", names.join(" → ")),
                )
            }
            Err(e) => refused("/environments".into(), &e),
        },
    )
}

#[rocket::post("/environments/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::EnvironmentEdit, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Environments", id)?;
    Ok(
        match deploy::delete_environment(&app.store, &change.proof, id).await {
            Ok(()) => done("/environments".into(), "The environment has been deleted."),
            Err(e) => refused(format!("/environments/{id}"), &e),
        },
    )
}
