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
use crate::deploy::{self, EnvironmentInput};
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};
use crate::App;

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
        layout: Layout::new("Environments", &caller, flash).at("/environments"),
        environments,
        can_create: caller.can(Permission::EnvironmentCreate),
        can_edit: caller.can(Permission::EnvironmentEdit),
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
    let input = EnvironmentInput {
        name: form.name,
        description: form.description,
        sort_order: None,
    };
    match deploy::create_environment(&app.store, &change.proof, input).await {
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
        layout: Layout::new(&format!("Environment {}", environment.name), &caller, flash)
            .at("/environments"),
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
    let input = EnvironmentInput {
        name: form.name,
        description: form.description,
        sort_order: None,
    };
    Ok(
        match deploy::update_environment(&app.store, &change.proof, id, input).await {
            Ok(env) => done(back, format!("Saved environment {}.", env.name)),
            Err(e) => refused(back, &e),
        },
    )
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
    let id = page_id(id)?;
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
    let id = page_id(id)?;
    Ok(
        match deploy::delete_environment(&app.store, &change.proof, id).await {
            Ok(()) => done("/environments".into(), "The environment has been deleted."),
            Err(e) => refused(format!("/environments/{id}"), &e),
        },
    )
}
