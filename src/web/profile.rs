//! The profile page: change your password, create and revoke your API keys.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::{done, page_id, refused, render, Layout};
use crate::accounts;
use crate::auth::guards::NoFields;
use crate::auth::{need, Caller, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::api_keys;
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![profile, change_password, create_key, revoke_key]
}

pub struct KeyRow {
    pub id: i64,
    pub purpose: String,
    pub created: super::view::When,
}

#[derive(Template)]
#[template(path = "profile/profile.html")]
struct ProfilePage {
    layout: Layout,
    username: String,
    display_name: String,
    roles: Vec<&'static str>,
    permissions: Vec<&'static str>,
    keys: Vec<KeyRow>,
}

#[rocket::get("/profile")]
async fn profile(
    caller: Caller,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let user_id = caller.user.id;
    let keys = app
        .store
        .read(move |c| api_keys::list_for_user(c, user_id))
        .await?;
    render(&ProfilePage {
        layout: Layout::new("Profile", &caller, flash).at("/profile"),
        username: caller.user.username.clone(),
        display_name: caller.user.display_name.clone(),
        roles: caller.user.roles.iter().map(|r| r.name()).collect(),
        permissions: caller.permissions.names(),
        keys: keys
            .into_iter()
            .map(|k| KeyRow {
                id: k.id,
                purpose: k.purpose,
                created: super::view::When::at(k.created_at, clock::now_ms()),
            })
            .collect(),
    })
}

#[derive(FromForm)]
pub struct PasswordForm {
    current_password: String,
    new_password: String,
    confirm_password: String,
}

#[rocket::post("/profile/password", data = "<change>")]
async fn change_password(
    change: FormChange<need::SignedIn, PasswordForm>,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let form = change.form;
    let back = "/profile".to_string();
    if form.new_password != form.confirm_password {
        return Ok(refused(
            back,
            &Error::bad("ConfirmPassword", "does not match the new password"),
        ));
    }
    let keep = change.caller.session.map(|s| s.token_hash);
    let result = accounts::change_own_password(
        &app.store,
        &app.hasher,
        &app.config,
        &change.proof,
        form.current_password,
        form.new_password,
        keep,
    )
    .await;
    match result {
        Ok(()) => Ok(done(
            back,
            "Your password has been changed; your other sessions were signed out.",
        )),
        // Too many wrong current passwords: 429 with Retry-After, not a flash.
        Err(e @ Error::TooManyRequests { .. }) => Err(e),
        Err(e) => Ok(refused(back, &e)),
    }
}

#[derive(FromForm)]
pub struct KeyForm {
    purpose: String,
}

#[derive(Template)]
#[template(path = "profile/new_key.html")]
struct NewKeyPage {
    layout: Layout,
    purpose: String,
    key: String,
}

#[derive(rocket::Responder)]
enum KeyResponse {
    Page(RawHtml<String>),
    Back(Box<Flash<Redirect>>),
}

/// Shows the new key on the response page itself (once), never in a cookie or URL.
#[rocket::post("/profile/apikeys", data = "<change>")]
async fn create_key(
    change: FormChange<need::SignedIn, KeyForm>,
    app: &State<App>,
) -> Result<KeyResponse> {
    let user_id = change.caller.user.id;
    match accounts::create_api_key(&app.store, &change.proof, user_id, &change.form.purpose).await {
        Ok((created, key)) => Ok(KeyResponse::Page(render(&NewKeyPage {
            layout: Layout::new("New API key", &change.caller, None).at("/profile"),
            purpose: created.purpose,
            key,
        })?)),
        Err(e) => Ok(KeyResponse::Back(Box::new(refused("/profile".into(), &e)))),
    }
}

#[rocket::post("/profile/apikeys/<id>/revoke", data = "<change>")]
async fn revoke_key(
    change: FormChange<need::SignedIn, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    let user_id = change.caller.user.id;
    Ok(
        match accounts::revoke_api_key(&app.store, &change.proof, user_id, id).await {
            Ok(()) => done("/profile".into(), "The API key has been revoked."),
            Err(e) => refused("/profile".into(), &e),
        },
    )
}
