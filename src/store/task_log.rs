//! Task logs: the lines a task's script or system task wrote, in order, appended by the
//! node that runs it (bookkeeping: it keeps going in maintenance mode). Re-exported by
//! `tasks`, whose rows count the lines (`log_lines`, `error_lines`).

use rusqlite::{params, Connection};

use super::BookTx;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct LogLine {
    pub seq: i64,
    pub at: i64,
    pub stream: String,
    pub line: String,
}

/// The bytes of a task's log lines (without line ends) and how many lines there are.
pub fn log_bytes(conn: &Connection, id: i64) -> Result<(i64, i64)> {
    Ok(conn
        .prepare_cached(
            "SELECT COALESCE(SUM(LENGTH(CAST(line AS BLOB))), 0), COUNT(*) FROM task_log WHERE task_id = ?1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Appends lines to a task's log in one statement batch.
pub fn append_log(tx: &BookTx, id: i64, lines: &[(i64, &str, String)]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let errors = lines.iter().filter(|l| l.1 == "stderr").count() as i64;
    let first: i64 = tx
        .prepare_cached(
            "UPDATE tasks SET log_lines = log_lines + ?2, error_lines = error_lines + ?3
             WHERE id = ?1 RETURNING log_lines",
        )?
        .query_row(params![id, lines.len() as i64, errors], |r| r.get(0))?;
    let mut seq = first - lines.len() as i64;
    let mut insert = tx.prepare_cached(
        "INSERT INTO task_log (task_id, seq, at, stream, line) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (at, stream, line) in lines {
        seq += 1;
        insert.execute(params![id, seq, at, stream, line])?;
    }
    Ok(())
}

/// Log lines after `after` (a sequence number), at most `limit`.
pub fn log(conn: &Connection, id: i64, after: i64, limit: i64) -> Result<Vec<LogLine>> {
    let lines = conn
        .prepare_cached(
            "SELECT seq, at, stream, line FROM task_log WHERE task_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![id, after, limit], |r| {
            Ok(LogLine {
                seq: r.get(0)?,
                at: r.get(1)?,
                stream: r.get(2)?,
                line: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(lines)
}
