//! Users and their API keys: `/api/users/me`, `/api/users`, `/api/users/{id}`,
//! `/api/users/{id}/apikeys`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::{Deserialize, Serialize};

use super::{paging, parse_id, Body, Collection};
use crate::access::permissions::{permissions_of, Permission};
use crate::accounts::{self, NewUserInput, UserUpdate};
use crate::app::App;
use crate::auth::{need, Allowed, Caller, Change};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::users::{self, User};

pub fn routes() -> Vec<Route> {
    rocket::routes![me, list, create, get, update, create_api_key]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserResource {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub is_active: bool,
    pub roles: Vec<&'static str>,
    pub permissions: Vec<&'static str>,
    pub links: serde_json::Value,
}

impl From<User> for UserResource {
    fn from(u: User) -> UserResource {
        let id = format!("Users-{}", u.id);
        UserResource {
            links: serde_json::json!({
                "Self": format!("/api/users/{id}"),
                "ApiKeys": format!("/api/users/{id}/apikeys"),
            }),
            id,
            permissions: permissions_of(&u.roles).names(),
            roles: u.roles.iter().map(|r| r.name()).collect(),
            username: u.username,
            display_name: u.display_name,
            is_active: u.is_active,
        }
    }
}

#[rocket::get("/users/me")]
fn me(caller: Caller) -> Json<UserResource> {
    Json(caller.user.into())
}

/// `GET /api/users`: by id, narrowed by `ids` and `partialName` (of the username).
#[rocket::get("/users?<skip>&<take>&<ids>&<partialName>")]
#[allow(non_snake_case)]
async fn list(
    _caller: Allowed<need::UserView>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    partialName: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<UserResource>>> {
    let (skip, take) = paging(skip, take)?;
    let filter = super::named("Users", ids, partialName)?;
    let (users, total) = app
        .store
        .read(move |c| users::list_named(c, &filter, skip, take))
        .await?;
    Ok(Collection::new(
        "User",
        users.into_iter().map(Into::into).collect(),
        total,
        take,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NewUserBody {
    username: String,
    display_name: Option<String>,
    password: String,
    #[serde(default)]
    roles: Vec<String>,
    is_active: Option<bool>,
}

#[rocket::post("/users", data = "<body>")]
async fn create(
    change: Change<need::UserEdit>,
    body: Body<NewUserBody>,
    app: &State<App>,
) -> Result<(Status, Json<UserResource>)> {
    let body = body.into_inner()?;
    let input = NewUserInput {
        username: body.username,
        display_name: body.display_name,
        password: body.password,
        roles: body.roles,
        is_active: body.is_active.unwrap_or(true),
    };
    let user = accounts::create_user(&app.store, &app.hasher, &change.proof, input).await?;
    Ok((Status::Created, Json(user.into())))
}

#[rocket::get("/users/<id>")]
async fn get(caller: Caller, id: &str, app: &State<App>) -> Result<Json<UserResource>> {
    let id = parse_id("Users", id)?;
    if caller.user.id != id && !caller.can(Permission::UserView) {
        return Err(Error::missing_permission(Permission::UserView));
    }
    let user = app.store.read(move |c| users::find(c, id)).await?;
    user.map(|u| Json(u.into()))
        .ok_or_else(|| Error::NotFound(format!("User Users-{id} was not found.")))
}

/// `PUT` takes the resource as `GET` returns it; `Id`, `Username`, `Permissions` and
/// `Links` are read-only and ignored. `Password` (write-only) resets the password.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateUserBody {
    display_name: Option<String>,
    is_active: Option<bool>,
    roles: Option<Vec<String>>,
    password: Option<String>,
}

#[rocket::put("/users/<id>", data = "<body>")]
async fn update(
    change: Change<need::UserEdit>,
    id: &str,
    body: Body<UpdateUserBody>,
    app: &State<App>,
) -> Result<Json<UserResource>> {
    let id = parse_id("Users", id)?;
    let body = body.into_inner()?;
    let update = UserUpdate {
        display_name: body.display_name,
        is_active: body.is_active,
        roles: body.roles,
        password: body.password,
    };
    let user = accounts::update_user(&app.store, &app.hasher, &change.proof, id, update).await?;
    Ok(Json(user.into()))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiKeyBody {
    purpose: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedApiKey {
    id: String,
    purpose: String,
    user_id: String,
    created: String,
    api_key: String,
}

/// Creates an API key for yourself (any signed-in user) or, as a System Administrator,
/// for another user. The key is returned this once.
#[rocket::post("/users/<id>/apikeys", data = "<body>")]
async fn create_api_key(
    change: Change<need::SignedIn>,
    id: &str,
    body: Body<ApiKeyBody>,
    app: &State<App>,
) -> Result<(Status, Json<CreatedApiKey>)> {
    let id = parse_id("Users", id)?;
    let body = body.into_inner()?;
    let (created, key) =
        accounts::create_api_key(&app.store, &change.proof, id, &body.purpose).await?;
    Ok((
        Status::Created,
        Json(CreatedApiKey {
            id: format!("ApiKeys-{}", created.id),
            purpose: created.purpose,
            user_id: format!("Users-{}", created.user_id),
            created: clock::iso(created.created_at),
            api_key: key,
        }),
    ))
}
