//! Configuration ➜ System tasks: each built-in task with its interval, last run, next
//! run, and "Run now".

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, FormResult, RowError};
use super::view::state_class;
use super::{done, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::schedules;
use crate::system_tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, run_now, interval]
}

const BACK: &str = "/configuration/system-tasks";

pub struct Row {
    pub name: String,
    pub interval_secs: i64,
    pub next_run: String,
    pub last_id: Option<i64>,
    pub last_state: String,
    pub last_class: &'static str,
    pub last_duration: String,
}

#[derive(Template)]
#[template(path = "config/system_tasks.html")]
struct SystemTasksPage {
    layout: Layout,
    rows: Vec<Row>,
    can_run: bool,
    can_edit: bool,
    /// A refused interval, shown in its row.
    refused: Option<RowError>,
}

fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) => format!("{:.1} s", (e - s) as f64 / 1000.0),
        (Some(_), None) => "running".into(),
        _ => String::new(),
    }
}

#[rocket::get("/configuration/system-tasks")]
async fn page(
    caller: Allowed<need::TaskView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    system_tasks_page(app, &caller, flash, None).await
}

async fn system_tasks_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    refused: Option<RowError>,
) -> Result<RawHtml<String>> {
    let schedules = app.store.read(schedules::schedules).await?;
    let rows = schedules
        .into_iter()
        .map(|s| Row {
            next_run: if s.interval_secs == 0 {
                "disabled".into()
            } else {
                format!(
                    "{} ({})",
                    super::view::relative(s.next_run_at, clock::now_ms()),
                    clock::display(s.next_run_at)
                )
            },
            last_id: s.last_task.as_ref().map(|t| t.id),
            last_state: s
                .last_task
                .as_ref()
                .map(|t| t.state.to_string())
                .unwrap_or_default(),
            last_class: s
                .last_task
                .as_ref()
                .map_or("quiet", |t| state_class(t.state)),
            last_duration: s
                .last_task
                .as_ref()
                .map(|t| duration(t.start_time, t.completed_time))
                .unwrap_or_default(),
            name: s.name,
            interval_secs: s.interval_secs,
        })
        .collect();
    render(&SystemTasksPage {
        layout: Layout::new("System tasks", caller, flash).at("/configuration/system-tasks"),
        refused,
        rows,
        can_run: caller.can(Permission::TaskCreate),
        can_edit: caller.can(Permission::AdministerSystem),
    })
}

#[rocket::post("/configuration/system-tasks/<name>/run", data = "<change>")]
async fn run_now(
    change: FormChange<need::TaskCreate, NoFields>,
    name: &str,
    app: &State<App>,
) -> Flash<Redirect> {
    match system_tasks::run_now(&app.store, &change.proof, name)
        .await
        .inspect(|_| app.queue.wake())
    {
        Ok(id) => done(BACK.into(), format!("Queued {name} as ServerTasks-{id}.")),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[derive(FromForm)]
pub struct IntervalForm {
    interval_secs: String,
}

#[rocket::post("/configuration/system-tasks/<name>/interval", data = "<change>")]
async fn interval(
    change: FormChange<need::AdministerSystem, IntervalForm>,
    name: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.interval_secs.clone();
    let result = async {
        let text = change.form.interval_secs.trim().to_string();
        let secs = text.parse::<i64>().map_err(|_| {
            Error::bad(
                "IntervalSeconds",
                format!("'{text}' is not a number of seconds"),
            )
        })?;
        system_tasks::set_interval(&app.store, &change.proof, name, secs).await
    }
    .await;
    match result {
        Ok(()) => FormResult::done(done(BACK.into(), format!("Saved the interval of {name}."))),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let field = field("IntervalSeconds", "interval_secs", "Interval (seconds)");
            let row = RowError::new(name, &typed, &e, field);
            FormResult::again(system_tasks_page(app, &change.caller, None, Some(row)).await)
        }
    }
}
