//! Maintenance mode: the flag, who may change it, the refusal that the change
//! guard and the store's `admit` give non-administrators while it is on, "quiet", and
//! scheduled windows. No HTTP in here.

use crate::store::Conn;

use crate::clock;
use crate::error::{Error, Refusal, Result};
use crate::store::maintenance::{self, Mode, Window, WindowState};
use crate::store::tasks::{self, Task};
use crate::store::{events, Admit, Store};
use crate::validate;

pub const MAX_MESSAGE: usize = 1000;

/// The refusal for a non-administrator's change, if maintenance mode is on. Called by
/// the change guard and again inside every change transaction.
pub fn refusal(conn: &Conn) -> Result<Option<Error>> {
    refusal_of(conn, maintenance::get(conn)?)
}

/// [`refusal`] inside a change's transaction, deciding by the mode as the change must
/// ([`maintenance::get_for_change`]: on PostgreSQL the mode cannot be turned on until
/// this change commits).
pub fn refusal_in_change(conn: &Conn) -> Result<Option<Error>> {
    refusal_of(conn, maintenance::get_for_change(conn)?)
}

fn refusal_of(conn: &Conn, mode: Mode) -> Result<Option<Error>> {
    if !mode.is_on {
        return Ok(None);
    }
    let retry_after_secs = match mode.window_id {
        Some(id) => maintenance::find_window(conn, id)?
            .map(|w| ((w.end_at - clock::now_ms()) / 1000).max(1)),
        None => None,
    };
    Ok(Some(Error::Maintenance(Box::new(Refusal {
        message: mode.message,
        retry_after_secs,
    }))))
}

fn check_message(message: &Option<String>) -> Result<()> {
    match message {
        Some(m) => validate::text("Message", m, MAX_MESSAGE, false),
        None => Ok(()),
    }
}

/// A window's `Start` and `End` as the API sends them (ISO 8601 with offsets): every
/// problem of the two at once.
pub fn window_times(start: &str, end: &str) -> Result<(i64, i64)> {
    match (
        validate::iso_time("Start", start),
        validate::iso_time("End", end),
    ) {
        (Ok(start), Ok(end)) => Ok((start, end)),
        (start, end) => {
            Error::all([start.err(), end.err()].into_iter().flatten().collect())?;
            Err(Error::internal("a time was refused without a reason"))
        }
    }
}

/// Turns maintenance mode on or off (administrators only), audited. `message`: `None`
/// keeps the current message; `Some(None)` clears it.
pub async fn set_mode(
    store: &Store,
    admission: &impl Admit,
    on: bool,
    message: Option<Option<String>>,
) -> Result<Mode> {
    let message = message.map(|m| m.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()));
    if let Some(m) = &message {
        check_message(m)?;
    }
    store
        .change(admission, move |tx| {
            // Decided with the caller as they are inside the transaction.
            if !tx.identity().administrator {
                return Err(Error::missing_permission("AdministerSystem"));
            }
            let current = maintenance::get_to_change(tx)?;
            let message = message.unwrap_or(current.message.clone());
            if current.is_on == on && current.message == message {
                return Ok(current);
            }
            let now = clock::now_ms();
            let by = tx.identity().username.clone();
            // Turned on by hand: no window's end turns it off.
            let window = if on && current.is_on {
                current.window_id
            } else {
                None
            };
            maintenance::set(tx, on, message.as_deref(), &by, window, now)?;
            if on != current.is_on {
                record(tx, on, message.as_deref())?;
            }
            if on {
                // Quiet already: safe to stop at once.
                announce_if_quiet(tx, now)?;
            }
            maintenance::get(tx)
        })
        .await
}

fn record(tx: &crate::store::ChangeTx, on: bool, message: Option<&str>) -> Result<()> {
    let (category, verb) = if on {
        ("MaintenanceModeEnabled", "Enabled")
    } else {
        ("MaintenanceModeDisabled", "Disabled")
    };
    let text = match message {
        Some(m) if on => format!("{verb} maintenance mode: {m}"),
        _ => format!("{verb} maintenance mode"),
    };
    events::record(tx, category, &text, &["maintenance".to_string()])?;
    Ok(())
}

/// Announces "safe to stop" (`MaintenanceSafeToStop`, an audit event with its webhook
/// deliveries) once per time maintenance mode is turned on: in the transaction of the
/// change or task end that made the server quiet. Whether it is announced.
pub fn announce_if_quiet(conn: &Conn, now: i64) -> Result<bool> {
    if !maintenance::safe_to_stop_due(conn)? {
        return Ok(false);
    }
    let (executing, due) = tasks::busy_counts(conn, now)?;
    if executing > 0 || due > 0 {
        return Ok(false);
    }
    events::record_system(
        conn,
        events::SystemEvent::MaintenanceSafeToStop,
        "Safe to stop: maintenance mode is on and no deployment is executing or due",
        &["maintenance".to_string()],
    )?;
    maintenance::mark_safe_to_stop(conn, now)?;
    Ok(true)
}

/// What `GET /api/maintenanceconfiguration/status` and the quiet panel show.
pub struct Status {
    pub mode: Mode,
    pub is_quiet: bool,
    pub executing: i64,
    pub queued: i64,
    /// Queued deployments a freeze holds: they do not start before it ends, so they do
    /// not keep the server from being quiet.
    pub held: i64,
    /// When the first of them is let go.
    pub held_until: Option<i64>,
    pub tasks: Vec<Task>,
    /// The first [`HELD_LISTED`] of the held deployments, soonest let go first.
    pub held_tasks: Vec<Held>,
    /// Deployments waiting for an approval: nothing starts them before someone decides,
    /// so they do not keep the server from being quiet either.
    pub awaiting: i64,
    /// The queue time of the oldest of them.
    pub awaiting_since: Option<i64>,
}

/// A deployment a freeze holds, and why: "held by deployment freeze 'Quarter close'
/// (DeploymentFreezes-1)".
pub struct Held {
    pub task: Task,
    pub why: String,
}

/// How many held deployments the status lists (all are counted).
pub const HELD_LISTED: i64 = 100;

fn held_tasks(conn: &Conn, now: i64) -> Result<Vec<Held>> {
    let held = crate::store::freezes::held_tasks(conn, now, HELD_LISTED)?;
    if held.is_empty() {
        return Ok(Vec::new());
    }
    let freezes = crate::freezes::all(conn)?;
    Ok(held
        .into_iter()
        .map(|task| {
            let pair = task.project_id.zip(task.environment_id);
            let named: Vec<String> = freezes
                .iter()
                .filter(|f| pair.is_some_and(|(p, e)| f.covers(p, e)))
                .filter(|f| f.window_at(now).is_some())
                .map(|f| format!("'{}' ({})", f.row.name, f.id()))
                .collect();
            let why = if named.is_empty() {
                "held by a deployment freeze (since ended or deleted; it starts soon)".to_string()
            } else {
                format!("held by deployment freeze {}", named.join(", "))
            };
            Held { task, why }
        })
        .collect())
}

/// The server is quiet when maintenance mode is on and no non-system task is executing
/// or due. System tasks do not count: they are safe to cancel at any point; nor do
/// deployments a freeze holds (nothing starts them before it ends) or that wait for an
/// approval (nothing starts them before someone approves).
pub fn status(conn: &Conn) -> Result<Status> {
    let now = clock::now_ms();
    let mode = maintenance::get(conn)?;
    let (executing, queued) = tasks::busy_counts(conn, now)?;
    let tasks = tasks::busy_non_system(conn, now, 100)?;
    let (held, held_until) = tasks::held(conn, now)?;
    let (awaiting, awaiting_since) = tasks::awaiting(conn)?;
    Ok(Status {
        awaiting,
        awaiting_since,
        held,
        held_until,
        is_quiet: mode.is_on && executing == 0 && queued == 0,
        held_tasks: held_tasks(conn, now)?,
        mode,
        executing,
        queued,
        tasks,
    })
}

pub async fn create_window(
    store: &Store,
    admission: &impl Admit,
    start_at: i64,
    end_at: i64,
    message: Option<String>,
) -> Result<Window> {
    let message = message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    check_message(&message)?;
    validate::window(start_at, end_at)?;
    validate::not_past("End", end_at, clock::now_ms())?;
    store
        .change(admission, move |tx| {
            let by = tx.identity().username.clone();
            let window = maintenance::create_window(
                tx,
                start_at,
                end_at,
                message.as_deref(),
                &by,
                clock::now_ms(),
            )?;
            let text = format!(
                "Scheduled maintenance from {} to {}",
                clock::display(start_at),
                clock::display(end_at)
            );
            events::record(
                tx,
                "MaintenanceWindowScheduled",
                &text,
                &[format!("MaintenanceWindows-{}", window.id)],
            )?;
            Ok(window)
        })
        .await
}

/// Cancels a window that has not started.
pub async fn cancel_window(store: &Store, admission: &impl Admit, id: i64) -> Result<()> {
    store
        .change(admission, move |tx| {
            let window = maintenance::find_window(tx, id)?.ok_or_else(|| {
                Error::NotFound(format!(
                    "Maintenance window MaintenanceWindows-{id} was not found."
                ))
            })?;
            if window.state != WindowState::Scheduled {
                return Err(Error::Conflict(format!(
                    "The window is {}; only a window that has not started can be cancelled.",
                    window.state
                )));
            }
            maintenance::set_window_state(tx, id, WindowState::Canceled)?;
            events::record(
                tx,
                "MaintenanceWindowCanceled",
                &format!(
                    "Canceled the maintenance window from {}",
                    clock::display(window.start_at)
                ),
                &[format!("MaintenanceWindows-{id}")],
            )?;
            Ok(())
        })
        .await
}

/// Enters and leaves scheduled windows; run by every node's queue round (each step
/// re-checks inside its own change transaction, so nodes do not repeat one another).
/// Whether a scheduled window's start or an active one's end has come: the queue asks
/// in its round, and calls [`tick`] only then.
pub fn window_due(conn: &Conn, now: i64) -> Result<bool> {
    Ok(maintenance::window_to_start(conn, now)?.is_some()
        || maintenance::window_to_end(conn, now)?.is_some())
}

pub fn tick(store: &Store, schedule: &impl Admit) -> Result<()> {
    let now = clock::now_ms();
    let (start, end) = store.read_now(|c| {
        Ok((
            maintenance::window_to_start(c, now)?,
            maintenance::window_to_end(c, now)?,
        ))
    })?;
    if let Some(window) = end {
        store.change_now(schedule, |tx| {
            let Some(w) =
                maintenance::find_window(tx, window.id)?.filter(|w| w.state == WindowState::Active)
            else {
                return Ok(());
            };
            maintenance::set_window_state(tx, w.id, WindowState::Completed)?;
            let mode = maintenance::get_to_change(tx)?;
            if mode.is_on && mode.window_id == Some(w.id) {
                maintenance::set(tx, false, mode.message.as_deref(), "schedule", None, now)?;
                record(tx, false, None)?;
            }
            Ok(())
        })?;
    }
    if let Some(window) = start {
        store.change_now(schedule, |tx| {
            let Some(w) = maintenance::find_window(tx, window.id)?
                .filter(|w| w.state == WindowState::Scheduled)
            else {
                return Ok(());
            };
            if w.end_at <= now {
                // Its whole window passed while no node was running.
                maintenance::set_window_state(tx, w.id, WindowState::Completed)?;
                return Ok(());
            }
            maintenance::set_window_state(tx, w.id, WindowState::Active)?;
            events::record(
                tx,
                "MaintenanceWindowStarted",
                &format!(
                    "The maintenance window until {} started",
                    clock::display(w.end_at)
                ),
                &[format!("MaintenanceWindows-{}", w.id), "maintenance".into()],
            )?;
            let mode = maintenance::get_to_change(tx)?;
            if !mode.is_on {
                maintenance::set(tx, true, w.message.as_deref(), "schedule", Some(w.id), now)?;
                record(tx, true, w.message.as_deref())?;
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// The earliest start or end of a window still to come, for the queue round's sleep.
pub fn next_event(conn: &Conn) -> Result<Option<i64>> {
    maintenance::next_window_event(conn)
}

/// What the banner on every page shows: the mode, and an upcoming window.
#[derive(Debug, Clone, Default)]
pub struct Banner {
    pub on: bool,
    pub message: Option<String>,
    pub by: Option<String>,
    pub since: Option<i64>,
    /// The next scheduled window: start and message.
    pub upcoming: Option<(i64, Option<String>)>,
    /// While on because of a window: when the window ends it.
    pub ends: Option<i64>,
}

pub fn banner(conn: &Conn) -> Result<Banner> {
    let mode = maintenance::get(conn)?;
    let upcoming = maintenance::next_window(conn)?.map(|w| (w.start_at, w.message));
    let ends = match (mode.is_on, mode.window_id) {
        (true, Some(id)) => maintenance::find_window(conn, id)?.map(|w| w.end_at),
        _ => None,
    };
    Ok(Banner {
        ends,
        on: mode.is_on,
        message: mode.message,
        by: mode.modified_by,
        since: mode.modified_on,
        upcoming,
    })
}
