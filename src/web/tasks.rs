//! Tasks: the list (filter by state, paginated), Cancel and Redeploy; a task's own page
//! is `task_page.rs`.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::confirm::{self, Ask};
use super::forms::FormResult;
use super::view::TaskRow;
use super::{done, page_id, refused, render, Layout};
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::deploy::{self, DeploymentInput};
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::task_list;
use crate::store::tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, cancel, redeploy]
}

const PAGE_SIZE: i64 = 50;
/// Scheduled tasks shown above the list (the rest behind the Scheduled filter).
const SCHEDULED_SHOWN: i64 = 10;
/// The pager counts matching tasks up to this many ("of 1000+" beyond; counting 10,000
/// took 5 ms a page with 20,000 tasks).
const COUNT_UP_TO: i64 = 1_000;

/// One choice of a filter's `<select>`.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

fn choices(options: Vec<(String, String)>, selected: &str) -> Vec<Choice> {
    options
        .into_iter()
        .map(|(value, label)| Choice {
            selected: value == selected,
            value,
            label,
        })
        .collect()
}

/// A link of the pager: a page number, or a gap.
pub struct PageLink {
    pub number: i64,
    pub href: String,
    pub current: bool,
    pub gap: bool,
}

/// The tasks list's filters, all in the URL: `project`, `environment` (numbers),
/// `state` (a task state or `Scheduled`), `kind` (`deployments` by default, `system`,
/// `all`), `q` (words in the description) and `page`.
#[derive(Default, Clone)]
pub struct TaskQuery {
    pub project: Option<i64>,
    pub environment: Option<i64>,
    pub state: String,
    pub kind: String,
    pub q: String,
}

impl TaskQuery {
    /// The query string for these filters and `page` (1 is left out).
    pub fn href(&self, page: i64) -> String {
        let mut parts = Vec::new();
        if let Some(p) = self.project {
            parts.push(format!("project={p}"));
        }
        if let Some(e) = self.environment {
            parts.push(format!("environment={e}"));
        }
        if !self.state.is_empty() {
            parts.push(format!("state={}", self.state));
        }
        if !self.kind.is_empty() && self.kind != "deployments" {
            parts.push(format!("kind={}", self.kind));
        }
        if !self.q.is_empty() {
            parts.push(format!("q={}", urlencoding_lite(&self.q)));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() {
            "/tasks".to_string()
        } else {
            format!("/tasks?{}", parts.join("&"))
        }
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
fn urlencoding_lite(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
struct TasksPage {
    layout: Layout,
    tasks: Vec<TaskRow>,
    scheduled: Vec<TaskRow>,
    more_scheduled: i64,
    projects: Vec<Choice>,
    environments: Vec<Choice>,
    states: Vec<Choice>,
    kinds: Vec<Choice>,
    query: TaskQuery,
    filtered: bool,
    total: i64,
    /// The total is a lower bound: counting stopped at [`COUNT_UP_TO`].
    at_least: bool,
    first: i64,
    last: i64,
    pages: Vec<PageLink>,
    prev: Option<String>,
    next: Option<String>,
}

/// Numbers for `project`/`environment`: a bad one is a 400 naming the parameter.
/// A filter's id: a number, or `prefix`'s Octopus id (`Projects-3`, without case).
fn id_of(name: &str, prefix: &str, value: Option<&str>) -> Result<Option<i64>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    super::id_number(prefix, v).map(Some).ok_or_else(|| {
        let shown = crate::error::shown(v);
        Error::bad(name, format!("'{shown}' is not a number or a {prefix} id"))
    })
}

fn number(name: &str, value: Option<&str>) -> Result<Option<i64>> {
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let n = v.parse::<i64>().ok().filter(|n| *n > 0);
    n.map(Some).ok_or_else(|| {
        Error::bad(
            name,
            format!("'{}' is not a number", crate::error::shown(v)),
        )
    })
}

fn pager(query: &TaskQuery, page: i64, pages: i64) -> Vec<PageLink> {
    let mut links = Vec::new();
    let mut last_shown = 0;
    for n in 1..=pages {
        let near = (n - page).abs() <= 2 || n == 1 || n == pages;
        if !near {
            continue;
        }
        if n > last_shown + 1 {
            links.push(PageLink {
                number: 0,
                href: String::new(),
                current: false,
                gap: true,
            });
        }
        links.push(PageLink {
            number: n,
            href: query.href(n),
            current: n == page,
            gap: false,
        });
        last_shown = n;
    }
    links
}

#[rocket::get("/tasks?<project>&<environment>&<state>&<kind>&<q>&<page>")]
#[allow(clippy::too_many_arguments)]
async fn list(
    caller: Allowed<need::TaskView>,
    project: Option<&str>,
    environment: Option<&str>,
    state: Option<&str>,
    kind: Option<&str>,
    q: Option<&str>,
    page: Option<&str>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let state = state.map(str::trim).unwrap_or_default();
    let (states, scheduled_only) = match state {
        "" => (Vec::new(), false),
        "Scheduled" => (Vec::new(), true),
        other => (task_list::parse_states(Some(other))?, false),
    };
    let kind = match kind.map(str::trim).unwrap_or("deployments") {
        "" | "deployments" => "deployments",
        "system" => "system",
        "all" => "all",
        other => {
            return Err(Error::bad(
                "kind",
                format!("'{other}' is not one of deployments, system, all"),
            ))
        }
    };
    let page = number("page", page)?.unwrap_or(1);
    let query = TaskQuery {
        project: id_of("project", "Projects", project)?,
        environment: id_of("environment", "Environments", environment)?,
        state: state.to_string(),
        kind: kind.to_string(),
        q: q.map(str::trim)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect(),
    };
    let filter = task_list::Filter {
        states: states.clone(),
        project_id: query.project,
        environment_id: query.environment,
        system: match kind {
            "deployments" => Some(false),
            "system" => Some(true),
            _ => None,
        },
        text: Some(query.q.clone()).filter(|q| !q.is_empty()),
        count_up_to: Some(COUNT_UP_TO),
        scheduled: Some(if scheduled_only {
            task_list::Scheduled::Only { at: now }
        } else {
            task_list::Scheduled::Excluded { at: now }
        }),
        ..task_list::Filter::default()
    };
    // Scheduled tasks are listed apart, above, unless a state is chosen.
    let apart = state.is_empty().then(|| task_list::Filter {
        scheduled: Some(task_list::Scheduled::Only { at: now }),
        ..filter.clone()
    });
    let skip = (page - 1).saturating_mul(PAGE_SIZE);
    let (items, total, (scheduled, outlooks), scheduled_total, projects, environments) = app
        .store
        .read(move |c| {
            let (items, total) = task_list::list(c, &filter, skip, PAGE_SIZE)?;
            let (scheduled, scheduled_total) = match &apart {
                Some(f) => task_list::list(c, f, 0, SCHEDULED_SHOWN)?,
                None => (Vec::new(), 0),
            };
            let (projects, _) = crate::store::projects::list(c, 0, 1000)?;
            let (environments, _) = crate::store::projects::list_environments(c, 0, 1000)?;
            let mut outlooks = super::live::outlooks(c, &items, now)?;
            outlooks.extend(super::live::outlooks(c, &scheduled, now)?);
            Ok((
                items,
                total,
                (scheduled, outlooks),
                scheduled_total,
                projects,
                environments,
            ))
        })
        .await?;
    let shown = items.len() as i64;
    let mut pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    if total >= COUNT_UP_TO {
        // Counting stopped: there may be more pages than counted.
        pages = pages.max(page + 1);
    }
    let mut state_options = vec![(String::new(), "Any state".to_string())];
    state_options.push(("Scheduled".into(), "Scheduled (later)".into()));
    state_options.extend(
        TaskState::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), s.as_str().to_string())),
    );
    let mut project_options = vec![(String::new(), "Any project".to_string())];
    project_options.extend(projects.into_iter().map(|p| (p.id.to_string(), p.name)));
    let mut env_options = vec![(String::new(), "Any environment".to_string())];
    env_options.extend(environments.into_iter().map(|e| (e.id.to_string(), e.name)));
    let kind_options = vec![
        ("deployments".to_string(), "Deployments".to_string()),
        ("system".to_string(), "System tasks".to_string()),
        ("all".to_string(), "Both".to_string()),
    ];
    render(&TasksPage {
        layout: Layout::new("Tasks", &caller, flash)
            .at("/tasks")
            .refreshing(),
        tasks: TaskRow::list_with(items, now, &outlooks),
        more_scheduled: scheduled_total - scheduled.len() as i64,
        scheduled: TaskRow::list_with(scheduled, now, &outlooks),
        projects: choices(
            project_options,
            &query.project.map(|p| p.to_string()).unwrap_or_default(),
        ),
        environments: choices(
            env_options,
            &query.environment.map(|e| e.to_string()).unwrap_or_default(),
        ),
        states: choices(state_options, &query.state),
        kinds: choices(kind_options, &query.kind),
        filtered: query.href(1) != "/tasks",
        at_least: total >= COUNT_UP_TO,
        total,
        first: if shown == 0 { 0 } else { skip + 1 },
        last: skip + shown,
        pages: pager(&query, page, pages),
        prev: (page > 1).then(|| query.href(page - 1)),
        next: (page < pages).then(|| query.href(page + 1)),
        query,
    })
}

/// The Redeploy button's form: its CSRF token, and `confirmed=yes` once the preview of
/// a redeploy to an environment that asks first was seen.
#[derive(rocket::form::FromForm)]
pub struct RedeployForm {
    pub csrf_token: Option<String>,
    pub confirmed: Option<String>,
}

/// Redeploy: the same release to the same environment, as a new deployment now (after a
/// preview, for an environment that asks first).
#[rocket::post("/tasks/<id>/redeploy", data = "<change>")]
async fn redeploy(
    change: FormChange<need::DeploymentCreate, RedeployForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("ServerTasks", id)?;
    let back = format!("/tasks/{id}");
    // A redeployment gives the prompted values the deployment was given again.
    let key = app.master_key.clone();
    let opened = key.clone();
    let (deployment, given) = app
        .store
        .read(move |c| {
            Ok((
                crate::store::deployments::find_by_task(c, id)?,
                crate::variables::given_values(c, &opened, id)?,
            ))
        })
        .await?;
    let Some(deployment) = deployment else {
        return FormResult::done(refused(
            back,
            &Error::bad(
                "task",
                "is not a deployment; only deployments can be redeployed",
            ),
        ));
    };
    let ask = Ask {
        verb: "Redeploy",
        release_id: deployment.release_id,
        environment_id: deployment.environment_id,
        at: None,
        action: format!("/tasks/{id}/redeploy"),
        fields: Vec::new(),
        back: back.clone(),
        note: String::new(),
        secrets: Vec::new(),
    };
    if let Some(page) =
        confirm::preview(app, &change.caller, change.form.confirmed.as_deref(), ask).await?
    {
        return FormResult::ask(page);
    }
    let input = DeploymentInput {
        release_id: deployment.release_id,
        environment_id: deployment.environment_id,
        queue_time: None,
        queue_time_expiry: None,
        prompted: crate::variables::Prompted {
            field: "Prompted",
            values: given,
            key: Some(key),
        },
    };
    FormResult::done(
        match deploy::create_deployment(&app.store, &app.queue, &change.proof, input).await {
            Ok(queued) => done(
                format!("/tasks/{}", queued.task_id),
                format!("Redeploying: a new deployment of the same release to the same environment (from ServerTasks-{id})."),
            ),
            Err(e) => refused(back, &e),
        },
    )
}

#[rocket::post("/tasks/<id>/cancel", data = "<change>")]
async fn cancel(
    change: FormChange<need::TaskCancel, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("ServerTasks", id)?;
    let back = format!("/tasks/{id}");
    Ok(
        match deploy::cancel_task(&app.store, &app.queue, &change.proof, id).await {
            Ok(tasks::Cancel::Canceled) => done(back, "The task has been canceled."),
            Ok(tasks::Cancel::Cancelling) => done(back, "The task is being canceled."),
            Err(e) => refused(back, &e),
        },
    )
}
