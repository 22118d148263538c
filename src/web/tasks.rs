//! Tasks: the list (filter by state, paginated), a task's page with its live log and
//! Cancel button, and the JSON the page polls for new log lines.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::view::{state_class, TaskRow};
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::deploy;
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::tasks::{self, LogLine, Task};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![list, show, log, cancel]
}

const PAGE_SIZE: i64 = 50;
/// The page shows at most this many log lines; the raw log has them all.
const PAGE_LOG_LINES: i64 = 5_000;

pub struct StateFilter {
    pub name: &'static str,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "tasks/list.html")]
struct TasksPage {
    layout: Layout,
    tasks: Vec<TaskRow>,
    filters: Vec<StateFilter>,
    state: String,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

#[rocket::get("/tasks?<state>&<skip>")]
async fn list(
    caller: Allowed<need::TaskView>,
    state: Option<&str>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    let states = crate::store::tasks::parse_states(state)?;
    let state = states
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",");
    let filter = tasks::Filter {
        states,
        ..tasks::Filter::default()
    };
    let (items, total) = app
        .store
        .read(move |c| tasks::list(c, &filter, skip, PAGE_SIZE))
        .await?;
    render(&TasksPage {
        layout: Layout::new("Tasks", &caller, flash).at("/tasks"),
        tasks: TaskRow::list(items, crate::clock::now_ms()),
        filters: TaskState::ALL
            .iter()
            .map(|s| StateFilter {
                name: s.as_str(),
                active: state == s.as_str(),
            })
            .collect(),
        state,
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
    })
}

pub struct LogRow {
    pub time: String,
    pub stream: String,
    pub line: String,
}

impl From<LogLine> for LogRow {
    fn from(l: LogLine) -> LogRow {
        LogRow {
            time: clock::display(l.at)
                .get(11..19)
                .unwrap_or_default()
                .to_string(),
            stream: l.stream,
            line: l.line,
        }
    }
}

#[derive(Template)]
#[template(path = "tasks/show.html")]
struct TaskPage {
    layout: Layout,
    task: Task,
    state_class: &'static str,
    completed: bool,
    queued: String,
    started: String,
    finished: String,
    log: Vec<LogRow>,
    last_seq: i64,
    truncated: bool,
    can_cancel: bool,
}

async fn find_task(app: &App, id: i64) -> Result<Task> {
    app.store
        .read(move |c| tasks::find(c, id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))
}

#[rocket::get("/tasks/<id>")]
async fn show(
    caller: Allowed<need::TaskView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id(id)?;
    let task = find_task(app, id).await?;
    let lines = app
        .store
        .read(move |c| tasks::log(c, id, 0, PAGE_LOG_LINES))
        .await?;
    let last_seq = lines.last().map_or(0, |l| l.seq);
    let completed = task.state.is_completed();
    render(&TaskPage {
        layout: Layout::new(&format!("ServerTasks-{id}"), &caller, flash).at("/tasks"),
        state_class: state_class(task.state),
        queued: clock::display(task.queue_time),
        started: task.start_time.map(clock::display).unwrap_or_default(),
        finished: task.completed_time.map(clock::display).unwrap_or_default(),
        truncated: task.log_lines > last_seq,
        log: lines.into_iter().map(LogRow::from).collect(),
        last_seq,
        can_cancel: !completed && caller.can(Permission::TaskCancel),
        completed,
        task,
    })
}

/// New log lines after `after`, and the task's state: what `static/task.js` polls.
#[rocket::get("/tasks/<id>/log?<after>")]
async fn log(
    _caller: Allowed<need::TaskView>,
    id: &str,
    after: Option<i64>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = page_id(id)?;
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
    let id = page_id(id)?;
    let back = format!("/tasks/{id}");
    Ok(
        match deploy::cancel_task(&app.store, &app.queue, &change.proof, id).await {
            Ok(tasks::Cancel::Canceled) => done(back, "The task has been canceled."),
            Ok(tasks::Cancel::Cancelling) => done(back, "The task is being canceled."),
            Err(e) => refused(back, &e),
        },
    )
}
