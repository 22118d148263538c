//! The maintenance flag and scheduled maintenance windows.

use super::sql::{Conn, Param, Row};
use super::ChangeTx;
pub use crate::model::WindowState;
use const_format::concatcp;

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

const MODE: &str =
    "SELECT is_on, message, modified_by, modified_on, window_id FROM maintenance WHERE id = 1";

pub fn get(conn: &Conn) -> Result<Mode> {
    read(conn, MODE)
}

/// The mode, as a change must decide by it: on PostgreSQL, whose transactions run side
/// by side (READ COMMITTED), the row is share-locked for the rest of the change, so the
/// transaction that turns the mode on ([`get_to_change`], then [`set`]) waits for every
/// change that saw it off to commit, and a change that begins meanwhile waits for it
/// and then sees it on. SQLite's write transaction already excludes every other one.
pub fn get_for_change(conn: &Conn) -> Result<Mode> {
    read(conn, conn.dialect(MODE, concatcp!(MODE, " FOR SHARE")))
}

/// The mode, locked to be changed by this transaction (PostgreSQL: `FOR UPDATE`; two
/// administrators switching it at once take turns).
pub fn get_to_change(tx: &ChangeTx) -> Result<Mode> {
    read(tx, tx.dialect(MODE, concatcp!(MODE, " FOR UPDATE")))
}

fn read(conn: &Conn, sql: &str) -> Result<Mode> {
    let row = conn.query_opt(sql, &[])?;
    let Some(r) = row else {
        return Ok(Mode::default());
    };
    Ok(Mode {
        is_on: r.get(0)?,
        message: r.get(1)?,
        modified_by: r.get(2)?,
        modified_on: r.get(3)?,
        window_id: r.get(4)?,
    })
}

pub fn is_on(conn: &Conn) -> Result<bool> {
    Ok(conn
        .query_opt("SELECT is_on FROM maintenance WHERE id = 1", &[])?
        .map(|r| r.get(0))
        .transpose()?
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
        "UPDATE maintenance SET is_on = ?1, message = ?2, modified_by = ?3, modified_on = ?4, window_id = ?5,
             safe_to_stop_at = CASE WHEN is_on = ?1 THEN safe_to_stop_at END
         WHERE id = 1",
        &[&on, &message, &by, &now, &window_id],
    )?;
    Ok(())
}

/// Whether "safe to stop" is still to be announced: maintenance mode is on and it has
/// not been since it was turned on. On PostgreSQL the row is then locked for the rest
/// of the transaction, so that of two nodes ending the last tasks at once, the second
/// sees the first's end and one announces.
pub fn safe_to_stop_due(conn: &Conn) -> Result<bool> {
    const DUE: &str = "SELECT CASE WHEN is_on = 1 AND safe_to_stop_at IS NULL THEN 1 ELSE 0 END
                       FROM maintenance WHERE id = 1";
    let due = |sql: &str| -> Result<bool> {
        let n: Option<i64> = conn.query_opt(sql, &[])?.map(|r| r.get(0)).transpose()?;
        Ok(n == Some(1))
    };
    if !due(DUE)? {
        return Ok(false);
    }
    if conn.is_postgres() {
        return due(concatcp!(DUE, " FOR UPDATE"));
    }
    Ok(true)
}

/// Records that "safe to stop" was announced.
pub fn mark_safe_to_stop(conn: &Conn, now: i64) -> Result<()> {
    conn.execute(
        "UPDATE maintenance SET safe_to_stop_at = ?1 WHERE id = 1",
        &[&now],
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

fn window(r: &Row) -> Result<Window> {
    Ok(Window {
        id: r.col("id")?,
        start_at: r.col("start_at")?,
        end_at: r.col("end_at")?,
        message: r.col("message")?,
        created_by: r.col("created_by")?,
        state: r.col("state")?,
    })
}

const WINDOW: &str =
    "SELECT id, start_at, end_at, message, created_by, state FROM maintenance_windows";

/// The first window `sql` (a [`WINDOW`] query) finds.
fn first_window(conn: &Conn, sql: &str, params: &[&dyn Param]) -> Result<Option<Window>> {
    conn.first(sql, params, window)
}

pub fn find_window(conn: &Conn, id: i64) -> Result<Option<Window>> {
    first_window(conn, &format!("{WINDOW} WHERE id = ?1"), &[&id])
}

/// Windows not yet over (scheduled or active), soonest first, then the last 20 others.
pub fn windows(conn: &Conn) -> Result<Vec<Window>> {
    let db = conn;
    let mut all = Vec::new();
    for sql in [
        format!("{WINDOW} WHERE state IN {OPEN} ORDER BY start_at"),
        format!("{WINDOW} WHERE state IN {CLOSED} ORDER BY id DESC LIMIT 20"),
    ] {
        for row in db.query(&sql, &[])? {
            all.push(window(&row)?);
        }
    }
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
    let row = tx.query_one(
        "INSERT INTO maintenance_windows (start_at, end_at, message, created_by, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id, start_at, end_at, message, created_by, state",
        &[&start_at, &end_at, &message, &by, &now],
    )?;
    window(&row)
}

pub fn set_window_state(tx: &ChangeTx, id: i64, state: WindowState) -> Result<()> {
    tx.execute(
        "UPDATE maintenance_windows SET state = ?2 WHERE id = ?1",
        &[&id, &state],
    )?;
    Ok(())
}

/// The scheduled window whose start has come, if any.
pub fn window_to_start(conn: &Conn, now: i64) -> Result<Option<Window>> {
    first_window(
        conn,
        &format!(
            "{WINDOW} WHERE state = {Q_SCHEDULED} AND start_at <= ?1 ORDER BY start_at LIMIT 1"
        ),
        &[&now],
    )
}

/// The active window whose end has come, if any.
pub fn window_to_end(conn: &Conn, now: i64) -> Result<Option<Window>> {
    first_window(
        conn,
        &format!("{WINDOW} WHERE state = {Q_ACTIVE} AND end_at <= ?1 ORDER BY end_at LIMIT 1"),
        &[&now],
    )
}

/// The next scheduled window, for the banner and `Retry-After`.
pub fn next_window(conn: &Conn) -> Result<Option<Window>> {
    first_window(
        conn,
        &format!("{WINDOW} WHERE state = {Q_SCHEDULED} ORDER BY start_at LIMIT 1"),
        &[],
    )
}

/// The earliest start of a scheduled window or end of an active one.
pub fn next_window_event(conn: &Conn) -> Result<Option<i64>> {
    conn.query_one(
        const_format::concatcp!(
            "SELECT MIN(CASE state WHEN ",
            Q_SCHEDULED,
            " THEN start_at ELSE end_at END)
                 FROM maintenance_windows WHERE state IN ",
            OPEN
        ),
        &[],
    )?
    .get(0)
}
