//! Configuration ➜ Maintenance: the switch and its message, scheduled windows, and the
//! live "quiet" panel that says when it is safe to stop.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::form_time;
use super::forms::{field, Field, FormErrors, FormResult};
use super::view::{clock_duration, state_class, When};
use super::{done, page_id, refused, render, Layout};
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::deploy;
use crate::error::{Error, Result};
use crate::maintenance;
use crate::model::{TaskState, WindowState};
use crate::store::maintenance::{self as store, Window};
use crate::store::tasks;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, set_mode, cancel_all, create_window, cancel_window]
}

const BACK: &str = "/configuration/maintenance";

pub struct BusyTask {
    pub id: i64,
    pub description: String,
    pub state: String,
    pub state_class: &'static str,
    pub node: String,
    /// While executing: its start, for the elapsed time.
    pub since: Option<String>,
    pub elapsed: String,
}

/// A scheduled deployment that will start inside a window, or while the mode is on.
pub struct Overlap {
    pub task: i64,
    pub description: String,
    pub starts: When,
    /// "during the window from …" or "while maintenance mode is on".
    pub during: String,
}

pub struct WindowRow {
    pub id: i64,
    pub start: String,
    pub end: String,
    pub message: String,
    pub state: String,
}

impl From<Window> for WindowRow {
    fn from(w: Window) -> WindowRow {
        WindowRow {
            id: w.id,
            start: clock::display(w.start_at),
            end: clock::display(w.end_at),
            message: w.message.unwrap_or_default(),
            state: w.state.to_string(),
        }
    }
}

#[derive(Template)]
#[template(path = "config/maintenance.html")]
struct MaintenancePage {
    layout: Layout,
    on: bool,
    message: String,
    by: String,
    since: String,
    quiet: bool,
    executing: i64,
    queued: i64,
    held: i64,
    held_until: String,
    /// Each held deployment: id, description, why, until (absolute and relative).
    held_tasks: Vec<(i64, String, String, When)>,
    /// How many deployments wait for an approval.
    awaiting: i64,
    tasks: Vec<BusyTask>,
    windows: Vec<WindowRow>,
    overlaps: Vec<Overlap>,
    window_form: WindowForm,
    window_errors: FormErrors,
}

const WINDOW_FIELDS: &[Field] = &[
    field("Start", "start", "Start"),
    field("End", "end", "End"),
    field("Message", "message", "Message"),
];

/// How far ahead scheduled deployments are checked against the mode being on.
const LOOK_AHEAD_MS: i64 = 7 * 86_400_000;

#[rocket::get("/configuration/maintenance")]
async fn page(
    caller: Allowed<need::AdministerSystem>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    maintenance_page(
        app,
        &caller,
        flash,
        <WindowForm as Default>::default(),
        FormErrors::none(),
    )
    .await
}

async fn maintenance_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    window_form: WindowForm,
    window_errors: FormErrors,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let (status, windows, overlaps) = app
        .store
        .read(move |c| {
            let status = maintenance::status(c)?;
            let windows = store::windows(c)?;
            let mut overlaps = Vec::new();
            for w in windows.iter().filter(|w| {
                matches!(w.state, WindowState::Scheduled | WindowState::Active) && w.end_at > now
            }) {
                let during = format!(
                    "during the window {} – {}",
                    clock::display(w.start_at),
                    clock::display(w.end_at)
                );
                for t in tasks::scheduled_between(c, w.start_at.max(now), w.end_at, 50)? {
                    overlaps.push((t, during.clone()));
                }
            }
            if status.mode.is_on && status.mode.window_id.is_none() {
                for t in tasks::scheduled_between(c, now, now + LOOK_AHEAD_MS, 50)? {
                    if !overlaps.iter().any(|(o, _)| o.id == t.id) {
                        overlaps.push((
                            t,
                            "while maintenance mode is on, unless it is turned off first".into(),
                        ));
                    }
                }
            }
            Ok((status, windows, overlaps))
        })
        .await?;
    render(&MaintenancePage {
        layout: Layout::new("Maintenance", caller, flash).at("/configuration/maintenance"),
        window_form,
        window_errors,
        on: status.mode.is_on,
        message: status.mode.message.clone().unwrap_or_default(),
        by: status.mode.modified_by.clone().unwrap_or_default(),
        since: status
            .mode
            .modified_on
            .map(clock::display)
            .unwrap_or_default(),
        quiet: status.is_quiet,
        executing: status.executing,
        queued: status.queued,
        held: status.held,
        awaiting: status.awaiting,
        held_until: status.held_until.map(clock::display).unwrap_or_default(),
        held_tasks: status
            .held_tasks
            .into_iter()
            .map(|h| {
                let until = When::at(h.task.held_until.unwrap_or(now), now);
                (h.task.id, h.task.description, h.why, until)
            })
            .collect(),
        tasks: status
            .tasks
            .into_iter()
            .map(|t| {
                let running = matches!(t.state, TaskState::Executing | TaskState::Cancelling);
                BusyTask {
                    id: t.id,
                    state_class: state_class(t.state),
                    description: t.description,
                    state: t.state.to_string(),
                    node: t.server_node.unwrap_or_default(),
                    since: t.start_time.filter(|_| running).map(clock::iso),
                    elapsed: t
                        .start_time
                        .filter(|_| running)
                        .map(|s| clock_duration(now - s))
                        .unwrap_or_default(),
                }
            })
            .collect(),
        windows: windows.into_iter().map(WindowRow::from).collect(),
        overlaps: overlaps
            .into_iter()
            .map(|(t, during)| Overlap {
                task: t.id,
                starts: When::at(t.queue_time, now),
                description: t.description,
                during,
            })
            .collect(),
    })
}

/// Cancel all remaining: every deployment executing or due, for a quiet server sooner.
#[rocket::post("/configuration/maintenance/cancel-all", data = "<change>")]
async fn cancel_all(
    change: FormChange<need::AdministerSystem, NoFields>,
    app: &State<App>,
) -> Flash<Redirect> {
    match deploy::cancel_all_busy(&app.store, &app.queue, &change.proof).await {
        Ok(0) => done(BACK.into(), "Nothing was left to cancel."),
        Ok(n) => done(BACK.into(), format!("Asked {n} remaining tasks to stop.")),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[derive(FromForm)]
pub struct ModeForm {
    enabled: bool,
    message: String,
}

#[rocket::post("/configuration/maintenance", data = "<change>")]
async fn set_mode(
    change: FormChange<need::AdministerSystem, ModeForm>,
    app: &State<App>,
) -> Flash<Redirect> {
    let form = change.form;
    let was_on = app
        .store
        .read(crate::store::maintenance::is_on)
        .await
        .unwrap_or(false);
    match maintenance::set_mode(
        &app.store,
        &change.proof,
        form.enabled,
        Some(Some(form.message)),
    )
    .await
    {
        Ok(mode) if mode.is_on && was_on => done(BACK.into(), "The message has been updated."),
        Ok(mode) if mode.is_on => done(BACK.into(), "Maintenance mode is on."),
        Ok(_) => done(BACK.into(), "Maintenance mode is off."),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[derive(FromForm, Clone, Default)]
pub struct WindowForm {
    start: String,
    end: String,
    message: String,
}

#[rocket::post("/configuration/maintenance/windows", data = "<change>")]
async fn create_window(
    change: FormChange<need::AdministerSystem, WindowForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.clone();
    let result = async {
        let form = change.form;
        let start = form_time("Start", Some(form.start))
            .and_then(|s| s.ok_or_else(|| Error::bad("Start", "is required")));
        let end = form_time("End", Some(form.end))
            .and_then(|e| e.ok_or_else(|| Error::bad("End", "is required")));
        let (start, end) = match (start, end) {
            (Ok(start), Ok(end)) => (start, end),
            (start, end) => {
                Error::all([start.err(), end.err()].into_iter().flatten().collect())?;
                return Err(Error::internal("a time was refused without a reason"));
            }
        };
        let window =
            maintenance::create_window(&app.store, &change.proof, start, end, Some(form.message))
                .await?;
        app.queue.wake();
        Ok::<_, Error>(window)
    }
    .await;
    match result {
        Ok(w) => FormResult::done(done(
            BACK.into(),
            format!("Scheduled maintenance from {}.", clock::display(w.start_at)),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, WINDOW_FIELDS);
            FormResult::again(maintenance_page(app, &change.caller, None, typed, errors).await)
        }
    }
}

#[rocket::post("/configuration/maintenance/windows/<id>/cancel", data = "<change>")]
async fn cancel_window(
    change: FormChange<need::AdministerSystem, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("MaintenanceWindows", id)?;
    Ok(
        match maintenance::cancel_window(&app.store, &change.proof, id).await {
            Ok(()) => done(BACK.into(), "The window has been cancelled."),
            Err(e) => refused(BACK.into(), &e),
        },
    )
}
