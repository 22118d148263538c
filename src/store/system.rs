//! System tasks' schedule, node heartbeats, and the bulk work of the built-in system
//! tasks (retention, session cleanup), each in small transactions.

use super::sql::{Conn, Row};
use super::tasks::{self, NewTask};
use super::BookTx;
use super::ChangeTx;
use crate::error::Result;
use crate::model::sql::{COMPLETED, RUNNING};
use crate::model::TaskKind;
use const_format::concatcp;

#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub interval_secs: i64,
    pub next_run_at: i64,
    pub last_task: Option<tasks::Task>,
}

pub fn schedules(conn: &Conn) -> Result<Vec<Schedule>> {
    let rows: Vec<(String, i64, i64, Option<i64>)> = conn
        .query(
            "SELECT name, interval_secs, next_run_at, last_task_id FROM system_tasks ORDER BY name",
            &[],
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .collect::<Result<_>>()?;
    rows.into_iter()
        .map(|(name, interval_secs, next_run_at, last)| {
            let last_task = match last {
                Some(id) => tasks::find(conn, id)?,
                None => None,
            };
            Ok(Schedule {
                name,
                interval_secs,
                next_run_at,
                last_task,
            })
        })
        .collect()
}

fn system_task(name: TaskKind, now: i64) -> NewTask {
    NewTask {
        name,
        description: format!("{name} (system task)"),
        queue_time: now,
        queue_time_expiry: None,
        project_id: None,
        environment_id: None,
        release_id: None,
        // One run of each system task at a time.
        concurrency_tag: Some(format!("System/{name}")),
        arguments: "{}".into(),
        is_system: true,
        queued_via: None,
    }
}

/// Gives never-scheduled tasks their first run one interval from now, and applies
/// intervals set in the configuration file.
pub fn prepare(tx: &BookTx, configured: &[(&str, Option<i64>)], now: i64) -> Result<()> {
    let db = tx;
    for (name, interval) in configured {
        if let Some(secs) = interval {
            db.execute(
                "UPDATE system_tasks SET interval_secs = ?2,
                     next_run_at = CASE WHEN interval_secs <> ?2 THEN ?3 + CAST(?2 AS BIGINT) * 1000 ELSE next_run_at END
                 WHERE name = ?1",
                &[name, secs, &now],
            )?;
        }
    }
    db.execute(
        "UPDATE system_tasks SET next_run_at = ?1 + interval_secs * 1000 WHERE next_run_at = 0",
        &[&now],
    )?;
    Ok(())
}

/// Queues every system task that is due, once for all processes: the conditional update
/// of `next_run_at` succeeds in one transaction only. Returns the tasks queued.
pub fn queue_due(tx: &BookTx, now: i64) -> Result<Vec<(TaskKind, i64)>> {
    let db = tx;
    let due: Vec<(TaskKind, i64)> = db
        .query(
            "SELECT name, interval_secs FROM system_tasks WHERE interval_secs > 0 AND next_run_at <= ?1",
            &[&now],
        )?
        .iter()
        .map(|r| Ok((r.get(0)?, r.get(1)?)))
        .collect::<Result<_>>()?;
    let mut queued = Vec::new();
    for (name, interval) in due {
        let won = db.execute(
            "UPDATE system_tasks SET next_run_at = ?2 + interval_secs * 1000
             WHERE name = ?1 AND interval_secs > 0 AND next_run_at <= ?2",
            &[&name, &now],
        )?;
        if won == 1 && interval > 0 {
            let task = NewTask {
                queued_via: Some(tasks::SCHEDULE),
                ..system_task(name, now)
            };
            let id = tasks::insert_unchecked(tx, &task, now)?;
            db.execute(
                "UPDATE system_tasks SET last_task_id = ?2 WHERE name = ?1",
                &[&name, &id],
            )?;
            queued.push((name, id));
        }
    }
    Ok(queued)
}

/// The earliest next run of an enabled system task.
pub fn next_due(conn: &Conn) -> Result<Option<i64>> {
    conn.query_one(
        "SELECT MIN(next_run_at) FROM system_tasks WHERE interval_secs > 0",
        &[],
    )?
    .get(0)
}

/// Queues a system task now, as a change ("Run now", `POST /api/tasks`).
pub fn queue_now(tx: &ChangeTx, name: &str) -> Result<i64> {
    let now = crate::clock::now_ms();
    let kind = TaskKind::parse(name)
        .filter(|k| *k != TaskKind::Deploy)
        .ok_or_else(|| {
            crate::error::Error::bad("Name", format!("'{name}' is not a system task"))
        })?;
    let id = tasks::insert(tx, &system_task(kind, now))?;
    tx.execute(
        "UPDATE system_tasks SET last_task_id = ?2 WHERE name = ?1",
        &[&name, &id],
    )?;
    Ok(id)
}

pub fn set_interval(tx: &ChangeTx, name: &str, secs: i64) -> Result<bool> {
    let now = crate::clock::now_ms();
    Ok(tx.execute(
        "UPDATE system_tasks SET interval_secs = ?2, next_run_at = ?3 + CAST(?2 AS BIGINT) * 1000 WHERE name = ?1",
        &[&name, &secs, &now],
    )? == 1)
}

/// Registers this node as it starts: its version, its configured task cap and its start
/// time. A drain set earlier stays.
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
    " AND server_node || '' = nodes.name),
     stopped_at, schema_level
     FROM nodes"
);

fn node(r: &Row) -> Result<Node> {
    Ok(Node {
        name: r.get(0)?,
        version: r.get(1)?,
        task_cap: r.get(2)?,
        started_at: r.get(3)?,
        last_seen: r.get(4)?,
        draining: r.get(5)?,
        running: r.get(6)?,
        stopped_at: r.get(7)?,
        schema_level: r.get(8)?,
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

/// The cluster's value of `name`: the one stored, or `fresh` stored now by the first
/// node that asks (nodes starting together agree on one).
pub fn shared_setting(tx: &BookTx, name: &str, fresh: &str) -> Result<String> {
    tx.execute(
        "INSERT INTO cluster_settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        &[&name, &fresh],
    )?;
    tx.query_one(
        "SELECT value FROM cluster_settings WHERE name = ?1",
        &[&name],
    )?
    .get(0)
}
