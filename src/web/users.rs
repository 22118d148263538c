//! Configuration ➜ Users & roles: list, create, edit roles, deactivate.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, Field, FormErrors, FormResult};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::{Permission, Role};
use crate::accounts::{self, NewUserInput, UserUpdate};
use crate::app::App;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::error::{Error, Result};
use crate::store::users::{self, User};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, create, show, edit]
}

const PAGE_SIZE: i64 = 50;

pub struct RoleChoice {
    pub name: &'static str,
    pub checked: bool,
}

fn role_choices(held: &[Role]) -> Vec<RoleChoice> {
    Role::ALL
        .iter()
        .map(|r| RoleChoice {
            name: r.name(),
            checked: held.contains(r),
        })
        .collect()
}

pub fn role_names(user: &User) -> String {
    let names: Vec<&str> = user.roles.iter().map(|r| r.name()).collect();
    names.join(", ")
}

#[derive(Template)]
#[template(path = "config/users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<User>,
    can_edit: bool,
    roles: Vec<RoleChoice>,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
    form: NewUserForm,
    errors: FormErrors,
}

const USER_FIELDS: &[Field] = &[
    field("Username", "username", "Username"),
    field("DisplayName", "display_name", "Display name"),
    field("Password", "password", "Password"),
    field("Roles", "roles", "Roles"),
];

async fn users_page(
    app: &App,
    caller: &Caller,
    skip: i64,
    flash: Option<FlashMessage<'_>>,
    form: NewUserForm,
    errors: FormErrors,
) -> Result<RawHtml<String>> {
    let (users, total) = app
        .store
        .read(move |c| users::list(c, skip, PAGE_SIZE))
        .await?;
    let held: Vec<Role> = form.roles.iter().filter_map(|r| Role::by_name(r)).collect();
    render(&UsersPage {
        layout: Layout::new("Users & roles", caller, flash).at("/configuration/users"),
        users,
        can_edit: caller.can(Permission::UserEdit),
        roles: role_choices(&held),
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
        form,
        errors,
    })
}

#[rocket::get("/configuration/users?<skip>")]
async fn list(
    caller: Allowed<need::UserView>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    let blank = NewUserForm {
        roles: vec![Role::Viewer.name().to_string()],
        ..<NewUserForm as Default>::default()
    };
    users_page(app, &caller, skip, flash, blank, FormErrors::none()).await
}

#[derive(FromForm, Clone, Default)]
pub struct NewUserForm {
    username: String,
    display_name: String,
    /// Never shown again.
    password: String,
    roles: Vec<String>,
}

#[rocket::post("/configuration/users", data = "<change>")]
async fn create(
    change: FormChange<need::UserEdit, NewUserForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let mut typed = change.form.clone();
    typed.password.clear();
    let form = change.form;
    let input = NewUserInput {
        username: form.username,
        display_name: Some(form.display_name),
        password: form.password,
        roles: form.roles,
        is_active: true,
    };
    match accounts::create_user(&app.store, &app.hasher, &change.proof, input).await {
        Ok(user) => FormResult::done(done(
            format!("/configuration/users/{}", user.id),
            format!("Created user {}.", user.username),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, USER_FIELDS);
            FormResult::again(users_page(app, &change.caller, 0, None, typed, errors).await)
        }
    }
}

#[derive(Template)]
#[template(path = "config/user.html")]
struct UserPage {
    layout: Layout,
    user: User,
    can_edit: bool,
    roles: Vec<RoleChoice>,
}

#[rocket::get("/configuration/users/<id>")]
async fn show(
    caller: Allowed<need::UserView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Users", id)?;
    let user = app
        .store
        .read(move |c| users::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("User Users-{id} was not found.")))?;
    render(&UserPage {
        layout: Layout::new(&format!("User {}", user.username), &caller, flash)
            .at("/configuration/users"),
        roles: role_choices(&user.roles),
        user,
        can_edit: caller.can(Permission::UserEdit),
    })
}

#[derive(FromForm)]
pub struct EditUserForm {
    display_name: String,
    roles: Vec<String>,
    is_active: bool,
    new_password: Option<String>,
}

#[rocket::post("/configuration/users/<id>", data = "<change>")]
async fn edit(
    change: FormChange<need::UserEdit, EditUserForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Users", id)?;
    let form = change.form;
    let update = UserUpdate {
        display_name: Some(form.display_name),
        is_active: Some(form.is_active),
        roles: Some(form.roles),
        password: form.new_password.filter(|p| !p.is_empty()),
    };
    let back = format!("/configuration/users/{id}");
    Ok(
        match accounts::update_user(&app.store, &app.hasher, &change.proof, id, update).await {
            Ok(user) => done(back, format!("Saved user {}.", user.username)),
            Err(e) => refused(back, &e),
        },
    )
}
