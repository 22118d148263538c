//! Environments: list, create, edit, delete.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::deploy;
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, create, show, edit, delete]
}

#[derive(Template)]
#[template(path = "environments/list.html")]
struct EnvironmentsPage {
    layout: Layout,
    environments: Vec<Environment>,
    can_create: bool,
}

#[rocket::get("/environments")]
async fn list(
    caller: Allowed<need::EnvironmentView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let (environments, _) = app
        .store
        .read(|c| projects::list_environments(c, 0, 1000))
        .await?;
    render(&EnvironmentsPage {
        layout: Layout::new("Environments", &caller, flash),
        environments,
        can_create: caller.can(Permission::EnvironmentCreate),
    })
}

#[derive(FromForm)]
pub struct EnvironmentForm {
    name: String,
    description: String,
}

#[rocket::post("/environments", data = "<change>")]
async fn create(
    change: FormChange<need::EnvironmentCreate, EnvironmentForm>,
    app: &State<App>,
) -> Flash<Redirect> {
    let form = change.form;
    match deploy::create_environment(&app.store, &change.proof, form.name, form.description).await {
        Ok(env) => done(
            "/environments".into(),
            format!("Created environment {}.", env.name),
        ),
        Err(e) => refused("/environments".into(), &e),
    }
}

#[derive(Template)]
#[template(path = "environments/show.html")]
struct EnvironmentPage {
    layout: Layout,
    environment: Environment,
    can_edit: bool,
}

#[rocket::get("/environments/<id>")]
async fn show(
    caller: Allowed<need::EnvironmentView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id(id)?;
    let environment = app
        .store
        .read(move |c| projects::find_environment(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Environment Environments-{id} was not found.")))?;
    render(&EnvironmentPage {
        layout: Layout::new(&format!("Environment {}", environment.name), &caller, flash),
        environment,
        can_edit: caller.can(Permission::EnvironmentEdit),
    })
}

#[rocket::post("/environments/<id>", data = "<change>")]
async fn edit(
    change: FormChange<need::EnvironmentEdit, EnvironmentForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    let form = change.form;
    let back = format!("/environments/{id}");
    Ok(
        match deploy::update_environment(&app.store, &change.proof, id, form.name, form.description)
            .await
        {
            Ok(env) => done(back, format!("Saved environment {}.", env.name)),
            Err(e) => refused(back, &e),
        },
    )
}

#[rocket::post("/environments/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::EnvironmentEdit, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    Ok(
        match deploy::delete_environment(&app.store, &change.proof, id).await {
            Ok(()) => done("/environments".into(), "The environment has been deleted."),
            Err(e) => refused(format!("/environments/{id}"), &e),
        },
    )
}
