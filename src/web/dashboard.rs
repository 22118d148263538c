//! The dashboard: who you are and what you may do. (The queue issue adds the queue.)

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::Route;

use super::{render, Layout};
use crate::auth::Caller;
use crate::error::Result;

pub fn routes() -> Vec<Route> {
    rocket::routes![dashboard]
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    display_name: String,
    username: String,
    roles: Vec<&'static str>,
    permissions: Vec<&'static str>,
}

#[rocket::get("/")]
fn dashboard(caller: Caller, flash: Option<FlashMessage<'_>>) -> Result<RawHtml<String>> {
    render(&DashboardPage {
        layout: Layout::new("Dashboard", &caller, flash),
        display_name: caller.user.display_name.clone(),
        username: caller.user.username.clone(),
        roles: caller.user.roles.iter().map(|r| r.name()).collect(),
        permissions: caller.permissions.names(),
    })
}
