//! The cluster's nodes (`nodes` table): registration and the name's holder, heartbeats,
//! stops, drains and task caps, and which nodes have gone silent.

use super::sql::{Conn, Row};
use super::BookTx;
use super::ChangeTx;
use crate::error::Result;
use crate::model::sql::RUNNING;
use const_format::concatcp;

/// The process that holds a node's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// Host name and boot id: the same host, and the same boot of it.
    pub host: String,
    pub pid: i64,
    /// The process's start time in clock ticks since boot (tells a reused pid apart).
    pub start: i64,
}

/// A node's name as its current holder left it: whether it stopped on purpose, when it
/// last beat, and which process holds it (unknown for rows older than migration 6).
pub struct NameHolder {
    pub stopped: bool,
    pub last_seen: i64,
    pub owner: Option<Owner>,
}

pub fn name_holder(conn: &Conn, node: &str) -> Result<Option<NameHolder>> {
    let row = conn.query_opt(
        "SELECT stopped_at IS NOT NULL, last_seen, owner_host, owner_pid, owner_start
         FROM nodes WHERE name = ?1",
        &[&node],
    )?;
    row.map(|r| {
        let owner = match (r.get(2)?, r.get(3)?, r.get(4)?) {
            (Some(host), Some(pid), Some(start)) => Some(Owner { host, pid, start }),
            _ => None,
        };
        Ok(NameHolder {
            stopped: r.get(0)?,
            last_seen: r.get(1)?,
            owner,
        })
    })
    .transpose()
}

/// Registers this node as it starts: its version, its configured task cap and its start
/// time. A drain set earlier stays.
pub fn register(
    tx: &BookTx,
    node: &str,
    (version, schema_level): (&str, i64),
    task_cap: i64,
    started_at: i64,
    owner: &Owner,
) -> Result<()> {
    tx.execute(
        "INSERT INTO nodes (name, version, task_cap, started_at, last_seen, owner_host, owner_pid,
                            owner_start, schema_level)
         VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (name) DO UPDATE
           SET version = ?2, task_cap = ?3, started_at = ?4, last_seen = ?4, stopped_at = NULL,
               owner_host = ?5, owner_pid = ?6, owner_start = ?7, schema_level = ?8",
        &[
            &node,
            &version,
            &task_cap,
            &started_at,
            &owner.host,
            &owner.pid,
            &owner.start,
            &schema_level,
        ],
    )?;
    Ok(())
}

/// Records that this node stopped on purpose, with nothing left running.
pub fn mark_stopped(tx: &BookTx, node: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE nodes SET stopped_at = ?2, last_seen = ?2 WHERE name = ?1",
        &[&node, &now],
    )?;
    Ok(())
}

/// Records this node's heartbeat.
pub fn heartbeat(tx: &BookTx, node: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE nodes SET last_seen = ?2 WHERE name = ?1",
        &[&node, &now],
    )?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub version: String,
    pub task_cap: i64,
    pub started_at: i64,
    pub last_seen: i64,
    pub draining: bool,
    pub running: i64,
    /// When the node stopped on purpose; `None` while it runs (or after a crash).
    pub stopped_at: Option<i64>,
    /// The newest migration its binary knows (`None`: a binary from before levels).
    pub schema_level: Option<i64>,
}

const NODE: &str = concatcp!(
    "SELECT name, version, task_cap, started_at, last_seen, draining,
     (SELECT COUNT(*) FROM tasks WHERE state IN ",
    RUNNING,
    " AND server_node || '' = nodes.name) AS running,
     stopped_at, schema_level
     FROM nodes"
);

fn node(r: &Row) -> Result<Node> {
    Ok(Node {
        name: r.col("name")?,
        version: r.col("version")?,
        task_cap: r.col("task_cap")?,
        started_at: r.col("started_at")?,
        last_seen: r.col("last_seen")?,
        draining: r.col("draining")?,
        running: r.col("running")?,
        stopped_at: r.col("stopped_at")?,
        schema_level: r.col("schema_level")?,
    })
}

pub fn nodes(conn: &Conn) -> Result<Vec<Node>> {
    conn.query(&format!("{NODE} ORDER BY name"), &[])?
        .iter()
        .map(node)
        .collect()
}

pub fn find_node(conn: &Conn, name: &str) -> Result<Option<Node>> {
    conn.query_opt(&format!("{NODE} WHERE name = ?1"), &[&name])?
        .map(|r| node(&r))
        .transpose()
}

/// This node's drain flag and task cap, as the queue reads them each round.
pub fn node_limits(conn: &Conn, name: &str) -> Result<Option<(bool, i64)>> {
    conn.query_opt(
        "SELECT draining, task_cap FROM nodes WHERE name = ?1",
        &[&name],
    )?
    .map(|r| Ok((r.get(0)?, r.get(1)?)))
    .transpose()
}

pub fn set_draining(tx: &ChangeTx, name: &str, draining: bool) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        "UPDATE nodes SET draining = ?2 WHERE name = ?1",
        &[&name, &draining],
    )?;
    Ok(())
}

pub fn set_task_cap(tx: &ChangeTx, name: &str, cap: i64) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        "UPDATE nodes SET task_cap = ?2 WHERE name = ?1",
        &[&name, &cap],
    )?;
    Ok(())
}

/// Nodes not heard from since `before`, other than `except`.
pub fn silent_nodes(conn: &Conn, before: i64, except: &str) -> Result<Vec<String>> {
    conn.query(
        "SELECT name FROM nodes WHERE last_seen < ?1 AND name <> ?2",
        &[&before, &except],
    )?
    .iter()
    .map(|r| r.get(0))
    .collect()
}
