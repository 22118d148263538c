//! One search box (in the header of every page): an id as the API, the command line and
//! CI logs print it (`ServerTasks-208`, `Projects-3`, `Releases-12`) goes straight to
//! its page; anything else lists the projects, environments, releases and tasks whose
//! name, version or description contains it, as far as the caller may see them.

use askama::Template;
use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{Route, State};

use super::view::{TaskRow, When};
use super::{render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::Result;
use crate::store::filter::Named;
use crate::store::projects::{self, Environment, Project, ReleaseFilter};
use crate::store::task_list;
use crate::store::tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![search]
}

/// At most this many of each kind.
const EACH: i64 = 20;
/// The longest text searched for.
const MAX_QUERY: usize = 200;

/// A release found, with its project's name.
pub struct FoundRelease {
    pub id: i64,
    pub project: String,
    pub version: String,
    pub created: When,
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    layout: Layout,
    query: String,
    projects: Vec<Project>,
    environments: Vec<Environment>,
    releases: Vec<FoundRelease>,
    tasks: Vec<TaskRow>,
}

impl SearchPage {
    fn nothing(&self) -> bool {
        self.projects.is_empty()
            && self.environments.is_empty()
            && self.releases.is_empty()
            && self.tasks.is_empty()
    }
}

/// Where an id names a page: `ServerTasks-208` → `/tasks/208`.
fn page_of(query: &str) -> Option<String> {
    if !query.contains('-') {
        return None;
    }
    [
        ("ServerTasks", "tasks"),
        ("Projects", "projects"),
        ("Releases", "releases"),
        ("Environments", "environments"),
    ]
    .iter()
    .find_map(|(kind, page)| super::id_number(kind, query).map(|n| format!("/{page}/{n}")))
}

#[allow(clippy::large_enum_variant)]
#[derive(rocket::Responder)]
enum Answer {
    Page(RawHtml<String>),
    Go(Redirect),
}

#[rocket::get("/search?<q>")]
async fn search(caller: Caller, q: Option<&str>, app: &State<App>) -> Result<Answer> {
    let query: String = q
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(MAX_QUERY)
        .collect();
    if let Some(page) = page_of(&query) {
        return Ok(Answer::Go(Redirect::to(page)));
    }
    let see_projects = caller.can(Permission::ProjectView);
    let see_environments = caller.can(Permission::EnvironmentView);
    let see_tasks = caller.can(Permission::TaskView);
    let now = clock::now_ms();
    let text = query.clone();
    let (projects, environments, releases, found) = app
        .store
        .read(move |c| {
            if text.is_empty() {
                return Ok(Default::default());
            }
            let named = Named {
                ids: None,
                partial_name: Some(text.clone()),
            };
            let projects = if see_projects {
                projects::list_named(c, &named, 0, EACH)?.0
            } else {
                Vec::new()
            };
            let environments = if see_environments {
                projects::list_environments_named(c, &named, 0, EACH)?.0
            } else {
                Vec::new()
            };
            let mut releases = Vec::new();
            if see_projects {
                let filter = ReleaseFilter {
                    project: None,
                    version: Some(text.clone()),
                    ids: None,
                };
                for r in projects::search_releases(c, &filter, 0, EACH)?.0 {
                    let project = projects::find(c, r.project_id)?.map(|p| p.name);
                    releases.push((r, project.unwrap_or_default()));
                }
            }
            let found = if see_tasks {
                let filter = task_list::Filter {
                    text: Some(text.clone()),
                    count_up_to: Some(0),
                    ..task_list::Filter::default()
                };
                let mut found = task_list::list(c, &filter, 0, EACH)?.0;
                // A bare number is a task's too.
                if let Some(task) = text.parse::<i64>().ok().map(|n| tasks::find(c, n)) {
                    if let Some(task) = task? {
                        found.retain(|t| t.id != task.id);
                        found.insert(0, task);
                    }
                }
                found
            } else {
                Vec::new()
            };
            Ok((projects, environments, releases, found))
        })
        .await?;
    let releases = releases
        .into_iter()
        .map(|(r, project)| FoundRelease {
            id: r.id,
            project,
            version: r.version,
            created: When::at(r.created_at, now),
        })
        .collect();
    render(&SearchPage {
        layout: Layout::new(&format!("Search: {query}"), &caller, None),
        query,
        projects,
        environments,
        releases,
        tasks: TaskRow::list(found, now),
    })
    .map(Answer::Page)
}

#[cfg(test)]
mod tests {
    use super::page_of;

    #[test]
    fn ids_go_to_their_pages() {
        assert_eq!(page_of("ServerTasks-208").as_deref(), Some("/tasks/208"));
        assert_eq!(page_of("projects-3").as_deref(), Some("/projects/3"));
        assert_eq!(page_of("Releases-0"), None);
        assert_eq!(page_of("web-app"), None);
        assert_eq!(page_of("2026.12-1"), None);
    }
}
