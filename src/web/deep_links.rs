//! Octopus's portal links, `/app#/{space}/tasks/ServerTasks-5` and the like (what
//! `await-task-action` prints, and what teams moving off Octopus have bookmarked), land
//! on drydock's own page for that thing. The fragment never reaches the server, so
//! `/app` is a tiny page whose script (`static/deep_links.js`) sends the fragment to
//! `/app/go?to=...`, which answers with a redirect; without JavaScript the page lists
//! drydock's pages instead. The most specific id in the path wins: a task, then a
//! deployment (its task), a release, a project (by id or slug), an environment.

use rocket::response::content::RawHtml;
use rocket::response::Redirect;
use rocket::{Route, State};

use crate::app::App;
use crate::auth::{need, Allowed};
use crate::error::{shown, Error, Result};
use crate::store::{deployments, projects};

pub fn routes() -> Vec<Route> {
    rocket::routes![app_page, go]
}

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>drydock</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/app.css">
<script src="/static/deep_links.js" defer></script></head>
<body><main class="page"><h1>drydock</h1>
<p>This is an Octopus portal link. drydock's pages:</p>
<ul>
<li><a href="/">Dashboard</a></li>
<li><a href="/projects">Projects</a></li>
<li><a href="/tasks">Tasks</a></li>
<li><a href="/environments">Environments</a></li>
<li><a href="/timeline">Timeline</a></li>
</ul></main></body></html>"#;

/// `GET /app`: the page that maps the fragment (and lists the pages without script).
#[rocket::get("/app")]
fn app_page() -> RawHtml<&'static str> {
    RawHtml(PAGE)
}

/// The number of `segment` if it is `prefix-N`.
fn numbered(segment: &str, prefix: &str) -> Option<i64> {
    segment
        .strip_prefix(prefix)?
        .strip_prefix('-')?
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

/// `GET /app/go?to=/Spaces-1/tasks/ServerTasks-5`: a redirect to drydock's page for
/// the most specific thing the portal path names; a path naming nothing drydock has is
/// a 404 saying so.
#[rocket::get("/app/go?<to>")]
async fn go(
    _caller: Allowed<need::SignedIn>,
    to: Option<&str>,
    app: &State<App>,
) -> Result<Redirect> {
    let to = to.unwrap_or_default().to_string();
    let segments: Vec<&str> = to
        .trim_start_matches('#')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let find = |prefix: &str| segments.iter().find_map(|s| numbered(s, prefix));
    if let Some(task) = find("ServerTasks") {
        return Ok(Redirect::to(format!("/tasks/{task}")));
    }
    if let Some(deployment) = find("Deployments") {
        let found = app
            .store
            .read(move |c| deployments::find(c, deployment))
            .await?;
        if let Some(d) = found {
            return Ok(Redirect::to(format!("/tasks/{}", d.task_id)));
        }
    }
    if let Some(release) = find("Releases") {
        return Ok(Redirect::to(format!("/releases/{release}")));
    }
    if let Some(project) = find("Projects") {
        return Ok(Redirect::to(format!("/projects/{project}")));
    }
    if let Some(at) = segments
        .iter()
        .position(|s| s.eq_ignore_ascii_case("projects"))
    {
        if let Some(slug) = segments.get(at + 1).map(|s| s.to_lowercase()) {
            let found = app
                .store
                .read(move |c| projects::find_by_slug(c, &slug))
                .await?;
            if let Some(p) = found {
                return Ok(Redirect::to(format!("/projects/{}", p.id)));
            }
        }
    }
    if find("Environments").is_some() {
        return Ok(Redirect::to("/environments"));
    }
    if segments.iter().any(|s| s.eq_ignore_ascii_case("tasks")) {
        return Ok(Redirect::to("/tasks"));
    }
    Err(Error::NotFound(format!(
        "drydock has no page for the Octopus portal path '{}'.",
        shown(&to)
    )))
}
