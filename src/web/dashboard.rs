//! The dashboard: who you are, the queue at a glance, recent tasks.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::projects::TaskRow;
use super::{render, Layout};
use crate::access::permissions::Permission;
use crate::auth::Caller;
use crate::error::Result;
use crate::model::TaskState;
use crate::store::tasks;
use crate::App;

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
    can_view_tasks: bool,
    executing: i64,
    queued: i64,
    tasks: Vec<TaskRow>,
}

#[rocket::get("/")]
async fn dashboard(
    caller: Caller,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let can_view_tasks = caller.can(Permission::TaskView);
    let (counts, recent) = if can_view_tasks {
        app.store
            .read(|c| {
                Ok((
                    tasks::counts(c)?,
                    tasks::list(c, &tasks::Filter::default(), 0, 10)?.0,
                ))
            })
            .await?
    } else {
        (Vec::new(), Vec::new())
    };
    let count = |state: TaskState| {
        counts
            .iter()
            .filter(|(s, _)| *s == state)
            .map(|(_, n)| n)
            .sum::<i64>()
    };
    render(&DashboardPage {
        layout: Layout::new("Dashboard", &caller, flash),
        display_name: caller.user.display_name.clone(),
        username: caller.user.username.clone(),
        roles: caller.user.roles.iter().map(|r| r.name()).collect(),
        permissions: caller.permissions.names(),
        can_view_tasks,
        executing: count(TaskState::Executing) + count(TaskState::Cancelling),
        queued: count(TaskState::Queued),
        tasks: recent.into_iter().map(TaskRow::from).collect(),
    })
}
