//! The bulk deletions of the `Retention` system task, in small batches: completed tasks
//! with their logs and deployments.

use super::sql::Conn;
use super::BookTx;
use crate::error::Result;
use crate::model::sql::COMPLETED;
use const_format::concatcp;

/// The oldest deletable task of `kind`, if any: completed, older than `cutoff`, and not
/// among the newest `keep` completed tasks of its kind. Returns the id bound below which
/// tasks of this kind may go, scanning newest first.
pub fn retention_bound(conn: &Conn, kind: &str, keep: i64) -> Result<Option<i64>> {
    conn.query_opt(
        concatcp!(
            "SELECT id FROM tasks INDEXED BY tasks_by_name
                 WHERE name = ?1 AND state IN ",
            COMPLETED,
            "
                 ORDER BY id DESC LIMIT 1 OFFSET ?2"
        ),
        &[&kind, &(keep.max(1) - 1)],
    )?
    .map(|r| r.get(0))
    .transpose()
}

/// Deletes up to `batch` completed tasks of `kind` with ids below `bound` that completed
/// before `cutoff`, with their logs and deployments. Returns how many went.
pub fn delete_retained_batch(
    tx: &BookTx,
    kind: &str,
    bound: i64,
    cutoff: i64,
    batch: i64,
) -> Result<usize> {
    let db = tx;
    let ids: Vec<i64> = db
        .query(
            concatcp!(
                "SELECT id FROM tasks INDEXED BY tasks_by_name
                 WHERE name = ?1 AND id < ?2 AND state IN ",
                COMPLETED,
                "
                   AND completed_time < ?3
                 ORDER BY id LIMIT ?4"
            ),
            &[&kind, &bound, &cutoff, &batch],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    for id in &ids {
        db.execute("DELETE FROM task_log WHERE task_id = ?1", &[id])?;
        db.execute("DELETE FROM deployments WHERE task_id = ?1", &[id])?;
        db.execute("DELETE FROM tasks WHERE id = ?1", &[id])?;
    }
    Ok(ids.len())
}
