//! The dashboard: what is deployed where (projects × environments in promotion order),
//! the queue at a glance, deployments per day, and recent deployments.

use std::collections::HashMap;

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::chart::{self, Chart};
use super::live::Cell;
use super::view::TaskRow;
use super::{render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::Result;
use crate::store::deployments::{self, Cells, Live};
use crate::store::projects::{self, Environment, Project};
use crate::store::tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![dashboard]
}

pub struct MatrixRow {
    pub project: Project,
    pub cells: Vec<Option<Cell>>,
    /// Per environment: why a deployment freeze blocks the cell now, or empty.
    pub frozen: Vec<String>,
}

impl MatrixRow {
    /// Why the cell in column `i` is frozen, or "".
    pub fn frozen_at(&self, i: &usize) -> &str {
        self.frozen.get(*i).map_or("", String::as_str)
    }
}

/// Rows of projects, a column per environment: what is live in each cell.
pub fn matrix(
    projects: Vec<Project>,
    environments: &[Environment],
    latest: &[Live],
    frozen: &HashMap<(i64, i64), String>,
    now: i64,
) -> Vec<MatrixRow> {
    let by_cell: HashMap<(i64, i64), &Live> = latest.iter().map(|l| (l.cell(), l)).collect();
    projects
        .into_iter()
        .map(|project| {
            let cells = environments
                .iter()
                .map(|e| by_cell.get(&(project.id, e.id)).map(|l| Cell::new(l, now)))
                .collect();
            let frozen = environments
                .iter()
                .map(|e| frozen.get(&(project.id, e.id)).cloned().unwrap_or_default())
                .collect();
            MatrixRow {
                project,
                cells,
                frozen,
            }
        })
        .collect()
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
                let filter = tasks::Filter {
                    system: (!show_system).then_some(false),
                    count_up_to: Some(0),
                    ..tasks::Filter::default()
                };
                tasks::list(c, &filter, 0, 10)?.0
            } else {
                Vec::new()
            };
            let (matrix, per_day) = if can_view_projects {
                let (projects, total) = projects::list(c, 0, MATRIX_PROJECTS)?;
                let (environments, _) = projects::list_environments(c, 0, 100)?;
                let latest = deployments::live(c, now, Cells::default())?;
                let per_day = deployments::completed_per_day(c, since, None)?;
                let frozen = super::overrides::frozen_pairs(c, now)?;
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
