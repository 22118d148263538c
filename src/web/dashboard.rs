//! The dashboard: what is deployed where (projects × environments in promotion order),
//! the queue at a glance, deployments per day, and recent deployments.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::chart::{self, Chart};
use super::matrix::{matrix, MatrixRow};
use super::view::TaskRow;
use super::{render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::Result;
use crate::freezes;
use crate::store::deployments::{self, Cells};
use crate::store::projects::{self, Environment};
use crate::store::task_list;
use crate::store::tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![dashboard]
}

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    layout: Layout,
    can_view_tasks: bool,
    can_view_projects: bool,
    executing: i64,
    queued: i64,
    scheduled: i64,
    environments: Vec<Environment>,
    rows: Vec<MatrixRow>,
    more_projects: i64,
    chart: Chart,
    tasks: Vec<TaskRow>,
    show_system: bool,
}

/// At most this many projects in the matrix (the Projects page lists them all).
const MATRIX_PROJECTS: i64 = 50;

#[rocket::get("/?<system>")]
async fn dashboard(
    caller: Caller,
    system: Option<bool>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let can_view_tasks = caller.can(Permission::TaskView);
    let can_view_projects = caller.can(Permission::ProjectView)
        && caller.can(Permission::EnvironmentView)
        && can_view_tasks;
    let show_system = system.unwrap_or(false);
    let now = clock::now_ms();
    let since = now - chart::DAYS * 86_400_000;
    let (counts, recent, matrix_data, per_day) = app
        .store
        .read(move |c| {
            let counts = if can_view_tasks {
                tasks::queue_counts(c, now)?
            } else {
                (0, 0, 0)
            };
            let recent = if can_view_tasks {
                let filter = task_list::Filter {
                    system: (!show_system).then_some(false),
                    count_up_to: Some(0),
                    ..task_list::Filter::default()
                };
                task_list::list(c, &filter, 0, 10)?.0
            } else {
                Vec::new()
            };
            let (matrix, per_day) = if can_view_projects {
                let (projects, total) = projects::list(c, 0, MATRIX_PROJECTS)?;
                let (environments, _) = projects::list_environments(c, 0, 100)?;
                let latest = deployments::live(c, now, Cells::default())?;
                let per_day = deployments::completed_per_day(c, since, None)?;
                let frozen = freezes::read::frozen_pairs(c, now)?;
                (
                    Some((projects, total, environments, latest, frozen)),
                    per_day,
                )
            } else {
                (None, Vec::new())
            };
            Ok((counts, recent, matrix, per_day))
        })
        .await?;
    let (rows, environments, more_projects) = match matrix_data {
        Some((projects, total, environments, latest, frozen)) => {
            let shown = projects.len() as i64;
            let rows = matrix(projects, &environments, &latest, &frozen, now);
            (rows, environments, total - shown)
        }
        None => (Vec::new(), Vec::new(), 0),
    };
    render(&DashboardPage {
        layout: Layout::new("Dashboard", &caller, flash)
            .at("/")
            .refreshing(),
        can_view_tasks,
        can_view_projects,
        executing: counts.0,
        queued: counts.1,
        scheduled: counts.2,
        environments,
        rows,
        more_projects,
        chart: chart::deployments_per_day(&per_day, now),
        tasks: TaskRow::list(recent, now),
        show_system,
    })
}
