//! Tasks: the list (filter by state, paginated), a task's page with its live log and
//! Cancel button, and the JSON the page polls for new log lines.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::view::{badge, clock_duration, state_class, TaskRow, When};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::deploy::{self, DeploymentInput};
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::queue::waiting::Waiting;
use crate::store::projects;
use crate::store::tasks::{self, LogLine, Task};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show, log, cancel, redeploy]
}

const PAGE_SIZE: i64 = 50;
/// The page shows at most this many log lines; the raw log has them all.
const PAGE_LOG_LINES: i64 = 5_000;
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
    let number = match v.split_once('-') {
        Some((p, n)) if p.eq_ignore_ascii_case(prefix) => n,
        _ => v,
    };
    number
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Some)
        .ok_or_else(|| {
            Error::bad(
                name,
                format!(
                    "'{}' is not a number or a {prefix} id",
                    crate::error::shown(v)
                ),
            )
        })
}

fn number(name: &str, value: Option<&str>) -> Result<Option<i64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                Error::bad(
                    name,
                    format!("'{}' is not a number", crate::error::shown(v)),
                )
            }),
    }
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
        other => (tasks::parse_states(Some(other))?, false),
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
    let filter = tasks::Filter {
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
            tasks::Scheduled::Only { at: now }
        } else {
            tasks::Scheduled::Excluded { at: now }
        }),
        ..tasks::Filter::default()
    };
    // Scheduled tasks are listed apart, above, unless a state is chosen.
    let apart = state.is_empty().then(|| tasks::Filter {
        scheduled: Some(tasks::Scheduled::Only { at: now }),
        ..filter.clone()
    });
    let skip = (page - 1).saturating_mul(PAGE_SIZE);
    let (items, total, scheduled, scheduled_total, projects, environments) = app
        .store
        .read(move |c| {
            let (items, total) = tasks::list(c, &filter, skip, PAGE_SIZE)?;
            let (scheduled, scheduled_total) = match &apart {
                Some(f) => tasks::list(c, f, 0, SCHEDULED_SHOWN)?,
                None => (Vec::new(), 0),
            };
            let (projects, _) = crate::store::projects::list(c, 0, 1000)?;
            let (environments, _) = crate::store::projects::list_environments(c, 0, 1000)?;
            Ok((
                items,
                total,
                scheduled,
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
        layout: Layout::new("Tasks", &caller, flash).at("/tasks"),
        tasks: TaskRow::list(items, now),
        more_scheduled: scheduled_total - scheduled.len() as i64,
        scheduled: TaskRow::list(scheduled, now),
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

pub struct LogRow {
    pub seq: i64,
    /// The first stderr line shown: the page's "jump to the first error" target.
    pub first_error: bool,
    pub time: String,
    pub stream: String,
    pub line: String,
}

impl From<LogLine> for LogRow {
    fn from(l: LogLine) -> LogRow {
        LogRow {
            first_error: false,
            seq: l.seq,
            time: clock::display(l.at)
                .get(11..19)
                .unwrap_or_default()
                .to_string(),
            stream: l.stream,
            line: l.line,
        }
    }
}

/// What a task page links to: the project, release and environment a deployment is of.
pub struct Subject {
    pub project: Option<(i64, String)>,
    pub release: Option<(i64, String)>,
    pub environment: Option<(i64, String)>,
}

/// Why a queued task waits, as the page shows it.
pub struct WaitView {
    pub sentence: String,
    pub task: Option<i64>,
    pub starts: Option<When>,
    pub expires: Option<When>,
}

#[derive(Template)]
#[template(path = "tasks/show.html")]
struct TaskPage {
    layout: Layout,
    task: Task,
    state: &'static str,
    state_class: &'static str,
    completed: bool,
    running: bool,
    queued: When,
    started: Option<When>,
    finished: Option<When>,
    /// While queued: when it gives up if not started.
    expires: Option<When>,
    /// Start to end, or to now while running.
    duration: String,
    running_since: String,
    waiting: Option<WaitView>,
    subject: Subject,
    log: Vec<LogRow>,
    first_error: Option<i64>,
    last_seq: i64,
    truncated: bool,
    can_cancel: bool,
    can_redeploy: bool,
    /// An override's freezes and reason, for a deployment made through freezes.
    overridden: Option<String>,
}

#[rocket::get("/tasks/<id>")]
async fn show(
    caller: Allowed<need::TaskView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("ServerTasks", id)?;
    let now = clock::now_ms();
    let offline_ms = app.config.node_offline_secs * 1000;
    let (task, lines, waiting, subject, overridden) = app
        .store
        .read(move |c| {
            let task = tasks::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
            let lines = tasks::log(c, id, 0, PAGE_LOG_LINES)?;
            let waiting = crate::queue::waiting::waiting_for(c, &task, now, offline_ms)?;
            let project = task
                .project_id
                .map(|p| projects::find(c, p))
                .transpose()?
                .flatten()
                .map(|p| (p.id, p.name));
            let release = task
                .release_id
                .map(|r| projects::find_release(c, r))
                .transpose()?
                .flatten()
                .map(|r| (r.id, r.version));
            let environment = task
                .environment_id
                .map(|e| projects::find_environment(c, e))
                .transpose()?
                .flatten()
                .map(|e| (e.id, e.name));
            let subject = Subject {
                project,
                release,
                environment,
            };
            let overridden = super::overrides::override_note(c, id)?;
            Ok((task, lines, waiting, subject, overridden))
        })
        .await?;
    let last_seq = lines.last().map_or(0, |l| l.seq);
    let first_error = lines.iter().find(|l| l.stream == "stderr").map(|l| l.seq);
    let completed = task.state.is_completed();
    let running = matches!(task.state, TaskState::Executing | TaskState::Cancelling);
    let badge = badge(&task, now);
    let waiting = waiting.map(|w| {
        let (starts, expires) = match &w {
            Waiting::Scheduled { starts, expires } => (
                Some(When::at(*starts, now)),
                expires.map(|e| When::at(e, now)),
            ),
            _ => (None, None),
        };
        WaitView {
            sentence: w.describe(),
            task: w.task(),
            starts,
            expires,
        }
    });
    let can_redeploy = completed
        && !task.is_system
        && subject.release.is_some()
        && subject.environment.is_some()
        && caller.can(Permission::DeploymentCreate);
    render(&TaskPage {
        layout: Layout::new(&format!("ServerTasks-{id}"), &caller, flash).at("/tasks"),
        state: badge.label,
        state_class: badge.class,
        queued: When::at(task.queue_time, now),
        started: task.start_time.map(|s| When::at(s, now)),
        finished: task.completed_time.map(|s| When::at(s, now)),
        expires: task
            .queue_time_expiry
            .filter(|_| task.state == TaskState::Queued)
            .map(|e| When::at(e, now)),
        duration: task
            .start_time
            .map(|s| clock_duration(task.completed_time.unwrap_or(now) - s))
            .unwrap_or_default(),
        running_since: task
            .start_time
            .filter(|_| running)
            .map(clock::iso)
            .unwrap_or_default(),
        waiting,
        subject,
        truncated: task.log_lines > last_seq,
        log: lines
            .into_iter()
            .map(|l| {
                let mut row = LogRow::from(l);
                row.first_error = Some(row.seq) == first_error;
                row
            })
            .collect(),
        first_error,
        last_seq,
        can_cancel: !completed && caller.can(Permission::TaskCancel),
        can_redeploy,
        completed,
        running,
        task,
        overridden,
    })
}

/// Redeploy: the same release to the same environment, as a new deployment now.
#[rocket::post("/tasks/<id>/redeploy", data = "<change>")]
async fn redeploy(
    change: FormChange<need::DeploymentCreate, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("ServerTasks", id)?;
    let back = format!("/tasks/{id}");
    let deployment = app
        .store
        .read(move |c| crate::store::deployments::find_by_task(c, id))
        .await?;
    let Some(deployment) = deployment else {
        return Ok(refused(
            back,
            &Error::bad(
                "task",
                "is not a deployment; only deployments can be redeployed",
            ),
        ));
    };
    let input = DeploymentInput {
        release_id: deployment.release_id,
        environment_id: deployment.environment_id,
        queue_time: None,
        queue_time_expiry: None,
    };
    Ok(
        match deploy::create_deployment(&app.store, &app.queue, &change.proof, input).await {
            Ok(queued) => done(
                format!("/tasks/{}", queued.task_id),
                format!("Redeploying: a new deployment of the same release to the same environment (from ServerTasks-{id})."),
            ),
            Err(e) => refused(back, &e),
        },
    )
}

/// New log lines after `after`, and the task's state: what `static/task.js` polls.
#[rocket::get("/tasks/<id>/log?<after>")]
async fn log(
    _caller: Allowed<need::TaskView>,
    id: &str,
    after: Option<i64>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = page_id("ServerTasks", id)?;
    let after = after.unwrap_or(0).max(0);
    let (task, lines) = app
        .store
        .read(move |c| {
            let task = tasks::find(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
            Ok((task, tasks::log(c, id, after, 1000)?))
        })
        .await?;
    let last = lines.last().map_or(after, |l| l.seq);
    let rows: Vec<Value> = lines
        .into_iter()
        .map(LogRow::from)
        .map(|l| json!({"Time": l.time, "Stream": l.stream, "Line": l.line}))
        .collect();
    Ok(Json(json!({
        "State": task.state,
        "StateClass": state_class(task.state),
        "IsCompleted": task.state.is_completed(),
        "ErrorMessage": task.error_message,
        "Last": last,
        "Lines": rows,
    })))
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
