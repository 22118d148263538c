//! Task logs: the lines a task's script or system task wrote, in order, appended by the
//! node that runs it (bookkeeping: it keeps going in maintenance mode). Re-exported by
//! `tasks`, whose rows count the lines (`log_lines`, `error_lines`).

use super::sql::Conn;
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
pub fn log_bytes(conn: &Conn, id: i64) -> Result<(i64, i64)> {
    let row = conn.query_one(
        "SELECT CAST(COALESCE(SUM(octet_length(line)), 0) AS BIGINT), COUNT(*)
         FROM task_log WHERE task_id = ?1",
        &[&id],
    )?;
    Ok((row.get(0)?, row.get(1)?))
}

/// Appends lines to a task's log in one statement batch.
pub fn append_log(tx: &BookTx, id: i64, lines: &[(i64, &str, String)]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let errors = lines.iter().filter(|l| l.1 == "stderr").count() as i64;
    let db = tx;
    let first: i64 = db
        .query_one(
            "UPDATE tasks SET log_lines = log_lines + ?2, error_lines = error_lines + ?3
             WHERE id = ?1 RETURNING log_lines",
            &[&id, &(lines.len() as i64), &errors],
        )?
        .get(0)?;
    let mut seq = first - lines.len() as i64;
    for (at, stream, line) in lines {
        seq += 1;
        db.execute(
            "INSERT INTO task_log (task_id, seq, at, stream, line) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[&id, &seq, at, stream, line],
        )?;
    }
    Ok(())
}

/// Log lines after `after` (a sequence number), at most `limit`.
pub fn log(conn: &Conn, id: i64, after: i64, limit: i64) -> Result<Vec<LogLine>> {
    conn
        .query(
            "SELECT seq, at, stream, line FROM task_log WHERE task_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            &[&id, &after, &limit],
        )?
        .iter()
        .map(|r| {
            Ok(LogLine {
                seq: r.col("seq")?,
                at: r.col("at")?,
                stream: r.col("stream")?,
                line: r.col("line")?,
            })
        })
        .collect()
}
