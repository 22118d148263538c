//! A task's page: its state, what it waits for, who queued it, and its log (wrapped,
//! numbered lines with anchors, found by text, downloadable), with the JSON
//! `static/task.js` polls for new lines.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::view::{badge, clock_duration, state_class, When};
use super::{page_id, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::{Error, Result};
use crate::freezes;
use crate::model::TaskState;
use crate::queue::waiting::Waiting;
use crate::store::projects;
use crate::store::tasks::{self, LogLine, Task};
use crate::store::Conn;

pub fn routes() -> Vec<Route> {
    rocket::routes![show, log]
}

/// The page shows at most this many log lines; the raw log has them all.
const PAGE_LOG_LINES: i64 = 5_000;

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
    /// The text the log is narrowed to ('' for all of it), and of how many lines.
    find: String,
    searched: usize,
    can_cancel: bool,
    can_redeploy: bool,
    /// An override's freezes and reason, for a deployment made through freezes.
    overridden: Option<String>,
    /// For a queued deployment a freeze will stop: what will happen to it.
    outlook: Option<String>,
    /// The variables a deployment used (names and where from, never values).
    variables: Vec<UsedRow>,
    /// Its approvals, pending or decided.
    approvals: Vec<ApprovalRow>,
}

/// One approval of a deployment, as its page shows it.
struct ApprovalRow {
    id: i64,
    rule: String,
    pending: bool,
    /// "Approved by lead: looks good", "Rejected by ..." once decided.
    decided: String,
    yours: bool,
    why_not: String,
    note_required: bool,
}

impl ApprovalRow {
    fn of(s: crate::approvals::inbox::Shown) -> ApprovalRow {
        let i = &s.interruption;
        let decided = match (&i.result, &i.submitted_by) {
            (Some(result), by) => {
                let verb = if result == "Proceed" {
                    "Approved"
                } else {
                    "Rejected"
                };
                let note = i.notes.as_deref().filter(|n| !n.is_empty());
                format!(
                    "{verb} by {}{}",
                    by.as_deref().unwrap_or("someone"),
                    note.map(|n| format!(": {n}")).unwrap_or_default()
                )
            }
            (None, _) if !i.is_pending() => "Not decided: the deployment no longer waits.".into(),
            (None, _) => String::new(),
        };
        ApprovalRow {
            id: i.id,
            pending: i.is_pending(),
            rule: s.rule,
            decided,
            yours: s.yours,
            why_not: s.why_not,
            note_required: s.note_required,
        }
    }
}

/// One variable a deployment used, as the task page lists it.
struct UsedRow {
    name: String,
    /// `project Billing`, `library variable set Shared`, `given at deployment`.
    from: String,
    scoped: bool,
    sensitive: bool,
}

#[rocket::get("/tasks/<id>?<find>")]
async fn show(
    caller: Allowed<need::TaskView>,
    id: &str,
    find: Option<&str>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("ServerTasks", id)?;
    let find: String = find
        .map(str::trim)
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    let now = clock::now_ms();
    let offline_ms = app.config.node_offline_secs * 1000;
    let actor = caller.actor();
    let (task, lines, waiting, subject, (overridden, outlook, variables, approvals)) = app
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
            let overridden = override_note(c, &task)?;
            let outlook =
                super::live::outlooks(c, std::slice::from_ref(&task), now)?.remove(&task.id);
            let variables = used_rows(c, task.id)?;
            let approvals = crate::approvals::inbox::of_task(c, &task, &actor)?;
            Ok((
                task,
                lines,
                waiting,
                subject,
                (overridden, outlook, variables, approvals),
            ))
        })
        .await?;
    let last_seq = lines.last().map_or(0, |l| l.seq);
    let shown_lines = lines.len();
    let lines: Vec<LogLine> = if find.is_empty() {
        lines
    } else {
        let wanted = find.to_lowercase();
        lines
            .into_iter()
            .filter(|l| l.line.to_lowercase().contains(&wanted))
            .collect()
    };
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
        find,
        searched: shown_lines,
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
        outlook,
        variables,
        approvals: approvals.into_iter().map(ApprovalRow::of).collect(),
    })
}

/// What task `id` used of the variables, named by where each came from.
fn used_rows(c: &Conn, id: i64) -> Result<Vec<UsedRow>> {
    let used = crate::variables::used_by(c, id)?;
    let mut names = std::collections::BTreeMap::new();
    used.into_iter()
        .map(|u| {
            let from = match crate::variables::owner_of(&format!("variableset-{}", u.from)) {
                Some(owner) => match names.get(&u.from) {
                    Some(name) => String::clone(name),
                    None => {
                        let name = crate::variables::owner_name(c, owner)
                            .unwrap_or_else(|_| format!("{} (deleted)", u.from));
                        names.insert(u.from.clone(), name.clone());
                        name
                    }
                },
                None => "given at deployment".to_string(),
            };
            Ok(UsedRow {
                name: u.name,
                from,
                scoped: u.scoped,
                sensitive: u.sensitive,
            })
        })
        .collect()
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
        .map(|l| json!({"Seq": l.seq, "Time": l.time, "Stream": l.stream, "Line": l.line}))
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

/// "Deployed through deployment freeze 'X' (DeploymentFreezes-1), overridden by mia
/// (Session): reason".
fn override_note(c: &Conn, task: &Task) -> Result<Option<String>> {
    let Some((named, reason)) = freezes::read::override_of(c, task.id)? else {
        return Ok(None);
    };
    let by = match super::view::queued_by(task) {
        by if by.is_empty() => by,
        by => format!(" by {by}"),
    };
    Ok(Some(format!(
        "Deployed through deployment freeze {named}, overridden{by}: {reason}"
    )))
}
