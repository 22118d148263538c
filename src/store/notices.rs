//! Notices: which clock-watched events have been told (`migrations/0021_notices.sql`).
//! A node tells one only if its insert of the notice's key lands; the losers of a race
//! (another node, the same clock) insert nothing and tell nothing.

use super::sql::Conn;
use super::BookTx;
use crate::error::Result;
use crate::model::sql::RUNNING;
use const_format::concatcp;

/// Whether the notice `key` was told already.
pub fn told(conn: &Conn, key: &str) -> Result<bool> {
    conn.query_one(
        "SELECT EXISTS(SELECT 1 FROM notices WHERE key = ?1)",
        &[&key],
    )?
    .get(0)
}

/// Of `keys`, those not told yet (one query).
pub fn untold(conn: &Conn, keys: Vec<String>) -> Result<Vec<String>> {
    if keys.is_empty() {
        return Ok(keys);
    }
    let list = serde_json::to_string(&keys).unwrap_or_default();
    let told: Vec<String> = conn
        .query(
            if conn.is_postgres() {
                "SELECT key FROM notices WHERE key IN
                   (SELECT jsonb_array_elements_text(CAST(?1 AS TEXT)::jsonb))"
            } else {
                "SELECT key FROM notices WHERE key IN (SELECT value FROM json_each(?1))"
            },
            &[&list],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect::<Result<_>>()?;
    Ok(keys.into_iter().filter(|k| !told.contains(k)).collect())
}

/// Claims the telling of `key` (with the end of the window it tells of, if any):
/// whether this transaction is the one to tell it.
pub fn claim(tx: &BookTx, key: &str, ends_at: Option<i64>, now: i64) -> Result<bool> {
    let inserted = tx.execute(
        "INSERT INTO notices (key, created_at, ends_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO NOTHING",
        &[&key, &now, &ends_at],
    )?;
    Ok(inserted == 1)
}

/// The windows told of as begun (keys starting `prefix`) whose end is not yet told,
/// with their ends: `(key, ends_at)`.
pub fn begun(conn: &Conn, prefix: &str) -> Result<Vec<(String, i64)>> {
    let pattern = format!("{prefix}%");
    conn.query(
        "SELECT key, ends_at FROM notices
         WHERE ends_at IS NOT NULL AND key LIKE ?1
           AND NOT EXISTS (SELECT 1 FROM notices e WHERE e.key = 'ended:' || notices.key)
         ORDER BY ends_at",
        &[&pattern],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .collect()
}

/// A deployment still running `margin_ms` past its project's script timeout.
#[derive(Debug, Clone)]
pub struct Stuck {
    pub task_id: i64,
    pub description: String,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub server_node: Option<String>,
    pub start_time: i64,
    pub timeout_secs: i64,
}

/// The deployments executing (or being canceled) `margin_ms` past their timeout.
pub fn stuck_tasks(conn: &Conn, now: i64, margin_ms: i64) -> Result<Vec<Stuck>> {
    conn.query(
        concatcp!(
            "SELECT t.id, t.description, t.project_id, t.environment_id, t.server_node,
                    t.start_time, p.script_timeout_secs
             FROM tasks t JOIN projects p ON p.id = t.project_id
             WHERE t.state IN ",
            RUNNING,
            " AND t.is_system = 0 AND t.start_time IS NOT NULL
               AND t.start_time + p.script_timeout_secs * 1000 + ?2 < ?1
             ORDER BY t.id LIMIT 100"
        ),
        &[&now, &margin_ms],
    )?
    .iter()
    .map(|r| {
        Ok(Stuck {
            task_id: r.get(0)?,
            description: r.get(1)?,
            project_id: r.get(2)?,
            environment_id: r.get(3)?,
            server_node: r.get(4)?,
            start_time: r.get(5)?,
            timeout_secs: r.get(6)?,
        })
    })
    .collect()
}
