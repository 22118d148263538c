//! Configuration ➜ Maintenance: the switch and its message, scheduled windows, and the
//! live "quiet" panel that says when it is safe to stop.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::projects::form_time;
use super::view::state_class;
use super::{done, page_id, refused, render, Layout};
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::maintenance;
use crate::store::maintenance::{self as store, Window};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, set_mode, create_window, cancel_window]
}

const BACK: &str = "/configuration/maintenance";

pub struct BusyTask {
    pub id: i64,
    pub description: String,
    pub state: String,
    pub state_class: &'static str,
    pub node: String,
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
    tasks: Vec<BusyTask>,
    windows: Vec<WindowRow>,
}

#[rocket::get("/configuration/maintenance")]
async fn page(
    caller: Allowed<need::AdministerSystem>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let (status, windows) = app
        .store
        .read(|c| Ok((maintenance::status(c)?, store::windows(c)?)))
        .await?;
    render(&MaintenancePage {
        layout: Layout::new("Maintenance", &caller, flash).at("/configuration/maintenance"),
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
        tasks: status
            .tasks
            .into_iter()
            .map(|t| BusyTask {
                id: t.id,
                state_class: state_class(t.state),
                description: t.description,
                state: t.state.to_string(),
                node: t.server_node.unwrap_or_default(),
            })
            .collect(),
        windows: windows.into_iter().map(WindowRow::from).collect(),
    })
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
    match maintenance::set_mode(
        &app.store,
        &change.proof,
        form.enabled,
        Some(Some(form.message)),
    )
    .await
    {
        Ok(mode) if mode.is_on => done(BACK.into(), "Maintenance mode is on."),
        Ok(_) => done(BACK.into(), "Maintenance mode is off."),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[derive(FromForm)]
pub struct WindowForm {
    start: String,
    end: String,
    message: String,
}

#[rocket::post("/configuration/maintenance/windows", data = "<change>")]
async fn create_window(
    change: FormChange<need::AdministerSystem, WindowForm>,
    app: &State<App>,
) -> Flash<Redirect> {
    let result = async {
        let form = change.form;
        let start = form_time("Start", Some(form.start))?
            .ok_or_else(|| Error::bad("Start", "is required"))?;
        let end =
            form_time("End", Some(form.end))?.ok_or_else(|| Error::bad("End", "is required"))?;
        let window =
            maintenance::create_window(&app.store, &change.proof, start, end, Some(form.message))
                .await?;
        app.queue.wake();
        Ok::<_, Error>(window)
    }
    .await;
    match result {
        Ok(w) => done(
            BACK.into(),
            format!("Scheduled maintenance from {}.", clock::display(w.start_at)),
        ),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[rocket::post("/configuration/maintenance/windows/<id>/cancel", data = "<change>")]
async fn cancel_window(
    change: FormChange<need::AdministerSystem, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id(id)?;
    Ok(
        match maintenance::cancel_window(&app.store, &change.proof, id).await {
            Ok(()) => done(BACK.into(), "The window has been cancelled."),
            Err(e) => refused(BACK.into(), &e),
        },
    )
}
