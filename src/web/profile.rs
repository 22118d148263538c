//! The profile page: change your password, create and revoke your API keys.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, Field, FormErrors, FormResult};
use super::{done, page_id, refused, render, Layout};
use crate::accounts;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Caller, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::api_keys;

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
    password_errors: FormErrors,
    key_purpose: String,
    key_errors: FormErrors,
    username: String,
    display_name: String,
    roles: Vec<&'static str>,
    permissions: Vec<&'static str>,
    keys: Vec<KeyRow>,
}

const PASSWORD_FIELDS: &[Field] = &[
    field("CurrentPassword", "current_password", "Current password"),
    field("NewPassword", "new_password", "New password"),
    field(
        "ConfirmPassword",
        "confirm_password",
        "Confirm new password",
    ),
];

const KEY_FIELDS: &[Field] = &[field("Purpose", "purpose", "Purpose")];

async fn profile_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    password_errors: FormErrors,
    (key_purpose, key_errors): (String, FormErrors),
) -> Result<RawHtml<String>> {
    let user_id = caller.user.id;
    let keys = app
        .store
        .read(move |c| api_keys::list_for_user(c, user_id))
        .await?;
    render(&ProfilePage {
        layout: Layout::new("Profile", caller, flash).at("/profile"),
        password_errors,
        key_purpose,
        key_errors,
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

#[rocket::get("/profile")]
async fn profile(
    caller: Caller,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    profile_page(
        app,
        &caller,
        flash,
        FormErrors::none(),
        (String::new(), FormErrors::none()),
    )
    .await
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
) -> Result<FormResult> {
    let form = change.form;
    let back = "/profile".to_string();
    let again = |e: &Error| {
        let errors = FormErrors::from_error(e, PASSWORD_FIELDS);
        profile_page(
            app,
            &change.caller,
            None,
            errors,
            (String::new(), FormErrors::none()),
        )
    };
    if let Err(problems) = accounts::check_new_password(&form.new_password, &form.confirm_password)
    {
        return FormResult::again(again(&problems).await);
    }
    let keep = change.caller.session.as_ref().map(|s| s.token_hash.clone());
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
        Ok(()) => FormResult::done(done(
            back,
            "Your password has been changed; your other sessions were signed out.",
        )),
        // Too many wrong current passwords: 429 with Retry-After, not the form.
        Err(e @ Error::TooManyRequests { .. }) => Err(e),
        Err(e) => FormResult::again(again(&e).await),
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
    Again(FormResult),
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
        Err(e) => {
            let errors = FormErrors::from_error(&e, KEY_FIELDS);
            let typed = change.form.purpose.clone();
            let page = profile_page(
                app,
                &change.caller,
                None,
                FormErrors::none(),
                (typed, errors),
            );
            Ok(KeyResponse::Again(FormResult::again(page.await)?))
        }
    }
}

#[rocket::post("/profile/apikeys/<id>/revoke", data = "<change>")]
async fn revoke_key(
    change: FormChange<need::SignedIn, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("ApiKeys", id)?;
    let user_id = change.caller.user.id;
    Ok(
        match accounts::revoke_api_key(&app.store, &change.proof, user_id, id).await {
            Ok(()) => done("/profile".into(), "The API key has been revoked."),
            Err(e) => refused("/profile".into(), &e),
        },
    )
}
