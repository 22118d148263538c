//! The maintenance flag and scheduled maintenance windows.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::ChangeTx;
pub use crate::model::WindowState;

const Q_SCHEDULED: &str = WindowState::Scheduled.quoted();
const Q_ACTIVE: &str = WindowState::Active.quoted();
/// Not over: scheduled or active.
const OPEN: &str = const_format::concatcp!("(", Q_SCHEDULED, ", ", Q_ACTIVE, ")");
/// Over: completed or canceled.
const CLOSED: &str = const_format::concatcp!(
    "(",
    WindowState::Completed.quoted(),
    ", ",
    WindowState::Canceled.quoted(),
    ")"
);
use crate::error::Result;

/// The maintenance flag as it stands.
#[derive(Debug, Clone, Default)]
pub struct Mode {
    pub is_on: bool,
    pub message: Option<String>,
    pub modified_by: Option<String>,
    pub modified_on: Option<i64>,
    /// The window that turned it on, if a schedule did.
    pub window_id: Option<i64>,
}

pub fn get(conn: &Connection) -> Result<Mode> {
    Ok(conn
        .prepare_cached("SELECT is_on, message, modified_by, modified_on, window_id FROM maintenance WHERE id = 1")?
        .query_row([], |r| {
            Ok(Mode {
                is_on: r.get(0)?,
                message: r.get(1)?,
                modified_by: r.get(2)?,
                modified_on: r.get(3)?,
                window_id: r.get(4)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

pub fn is_on(conn: &Connection) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT is_on FROM maintenance WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?
        .unwrap_or(false))
}

/// Sets the flag (and its message), recording who and when.
pub fn set(
    tx: &ChangeTx,
    on: bool,
    message: Option<&str>,
    by: &str,
    window_id: Option<i64>,
    now: i64,
) -> Result<()> {
    tx.execute(
        "UPDATE maintenance SET is_on = ?1, message = ?2, modified_by = ?3, modified_on = ?4, window_id = ?5
         WHERE id = 1",
        params![on, message, by, now, window_id],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Window {
    pub id: i64,
    pub start_at: i64,
    pub end_at: i64,
    pub message: Option<String>,
    pub created_by: String,
    pub state: WindowState,
}

fn window(r: &Row) -> rusqlite::Result<Window> {
    Ok(Window {
        id: r.get(0)?,
        start_at: r.get(1)?,
        end_at: r.get(2)?,
        message: r.get(3)?,
        created_by: r.get(4)?,
        state: r.get(5)?,
    })
}

const WINDOW: &str =
    "SELECT id, start_at, end_at, message, created_by, state FROM maintenance_windows";

pub fn find_window(conn: &Connection, id: i64) -> Result<Option<Window>> {
    Ok(conn
        .prepare_cached(&format!("{WINDOW} WHERE id = ?1"))?
        .query_row([id], window)
        .optional()?)
}

/// Windows not yet over (scheduled or active), soonest first, then the last 20 others.
pub fn windows(conn: &Connection) -> Result<Vec<Window>> {
    let mut all: Vec<Window> = conn
        .prepare_cached(&format!("{WINDOW} WHERE state IN {OPEN} ORDER BY start_at"))?
        .query_map([], window)?
        .collect::<rusqlite::Result<_>>()?;
    let past: Vec<Window> = conn
        .prepare_cached(&format!(
            "{WINDOW} WHERE state IN {CLOSED} ORDER BY id DESC LIMIT 20"
        ))?
        .query_map([], window)?
        .collect::<rusqlite::Result<_>>()?;
    all.extend(past);
    Ok(all)
}

pub fn create_window(
    tx: &ChangeTx,
    start_at: i64,
    end_at: i64,
    message: Option<&str>,
    by: &str,
    now: i64,
) -> Result<Window> {
    tx.execute(
        "INSERT INTO maintenance_windows (start_at, end_at, message, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![start_at, end_at, message, by, now],
    )?;
    Ok(find_window(tx, tx.last_insert_rowid())?.ok_or(rusqlite::Error::QueryReturnedNoRows)?)
}

pub fn set_window_state(tx: &ChangeTx, id: i64, state: WindowState) -> Result<()> {
    tx.execute(
        "UPDATE maintenance_windows SET state = ?2 WHERE id = ?1",
        params![id, state],
    )?;
    Ok(())
}

/// The scheduled window whose start has come, if any.
pub fn window_to_start(conn: &Connection, now: i64) -> Result<Option<Window>> {
    Ok(conn
        .prepare_cached(&format!(
            "{WINDOW} WHERE state = {Q_SCHEDULED} AND start_at <= ?1 ORDER BY start_at LIMIT 1"
        ))?
        .query_row([now], window)
        .optional()?)
}

/// The active window whose end has come, if any.
pub fn window_to_end(conn: &Connection, now: i64) -> Result<Option<Window>> {
    Ok(conn
        .prepare_cached(&format!(
            "{WINDOW} WHERE state = {Q_ACTIVE} AND end_at <= ?1 ORDER BY end_at LIMIT 1"
        ))?
        .query_row([now], window)
        .optional()?)
}

/// The next scheduled window, for the banner and `Retry-After`.
pub fn next_window(conn: &Connection) -> Result<Option<Window>> {
    Ok(conn
        .prepare_cached(&format!(
            "{WINDOW} WHERE state = {Q_SCHEDULED} ORDER BY start_at LIMIT 1"
        ))?
        .query_row([], window)
        .optional()?)
}

/// The earliest start of a scheduled window or end of an active one.
pub fn next_window_event(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(const_format::concatcp!(
            "SELECT MIN(CASE state WHEN ",
            Q_SCHEDULED,
            " THEN start_at ELSE end_at END)
             FROM maintenance_windows WHERE state IN ",
            OPEN
        ))?
        .query_row([], |r| r.get(0))?)
}
