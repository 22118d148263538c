//! Deployment freezes as stored: the first window, the recurrence as JSON, the zone,
//! what a due deployment does (`on_start`) and the project × environment pairs. What
//! the windows are is the domain's (`crate::freezes`).

use super::sql::{Conn, Row};
use super::{BookTx, ChangeTx};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Freeze {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub start_time: i64,
    pub end_time: i64,
    pub recurrence: Option<String>,
    pub time_zone: Option<String>,
    pub utc_offset_minutes: i64,
    pub on_start: String,
    pub until_time: Option<i64>,
    pub created_at: i64,
    pub modified_at: i64,
    /// (project id, environment id), ordered.
    pub scope: Vec<(i64, i64)>,
}

/// What a create or an update writes.
pub struct FreezeFields {
    pub name: String,
    pub description: String,
    pub start_time: i64,
    pub end_time: i64,
    pub recurrence: Option<String>,
    pub time_zone: Option<String>,
    pub utc_offset_minutes: i64,
    pub on_start: String,
    pub until_time: Option<i64>,
    pub scope: Vec<(i64, i64)>,
}

const FREEZE: &str = "SELECT id, name, description, start_time, end_time, recurrence, time_zone,
        utc_offset_minutes, on_start, until_time, created_at, modified_at
     FROM deployment_freezes";

fn freeze(r: &Row) -> Result<Freeze> {
    Ok(Freeze {
        id: r.col("id")?,
        name: r.col("name")?,
        description: r.col("description")?,
        start_time: r.col("start_time")?,
        end_time: r.col("end_time")?,
        recurrence: r.col("recurrence")?,
        time_zone: r.col("time_zone")?,
        utc_offset_minutes: r.col("utc_offset_minutes")?,
        on_start: r.col("on_start")?,
        until_time: r.col("until_time")?,
        created_at: r.col("created_at")?,
        modified_at: r.col("modified_at")?,
        scope: Vec::new(),
    })
}

/// Fills in the pairs of `freezes` (one query for all of them).
fn with_scopes(conn: &Conn, mut freezes: Vec<Freeze>) -> Result<Vec<Freeze>> {
    if freezes.is_empty() {
        return Ok(freezes);
    }
    let pairs: Vec<(i64, i64, i64)> = conn.all(
        "SELECT freeze_id, project_id, environment_id FROM deployment_freeze_scope
         ORDER BY freeze_id, project_id, environment_id",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    for f in &mut freezes {
        f.scope = pairs
            .iter()
            .filter(|(id, ..)| *id == f.id)
            .map(|(_, p, e)| (*p, *e))
            .collect();
    }
    Ok(freezes)
}

/// Every freeze, by name.
pub fn all(conn: &Conn) -> Result<Vec<Freeze>> {
    let freezes = conn.all(&format!("{FREEZE} ORDER BY name"), &[], freeze)?;
    with_scopes(conn, freezes)
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Freeze>> {
    let Some(found) = conn.first(&format!("{FREEZE} WHERE id = ?1"), &[&id], freeze)? else {
        return Ok(None);
    };
    Ok(with_scopes(conn, vec![found])?.pop())
}

/// The freezes over `project` × `environment` that may be in force at `at` (begun):
/// the caller asks their schedules. The stored `until_time` is not trusted to leave
/// finished ones out: enforcement rests on the schedule alone.
pub fn over_pair(conn: &Conn, project: i64, environment: i64, at: i64) -> Result<Vec<Freeze>> {
    let freezes = conn.all(
        &format!(
            "{FREEZE} WHERE start_time <= ?3
               AND id IN (SELECT freeze_id FROM deployment_freeze_scope
                          WHERE project_id = ?1 AND environment_id = ?2)
             ORDER BY id"
        ),
        &[&project, &environment, &at],
        freeze,
    )?;
    with_scopes(conn, freezes)
}

/// Whether any freeze exists at all: the queue skips its check when none does.
pub fn any(conn: &Conn) -> Result<bool> {
    conn.query_one("SELECT EXISTS(SELECT 1 FROM deployment_freezes)", &[])?
        .get(0)
}

fn write_scope(tx: &ChangeTx, id: i64, scope: &[(i64, i64)]) -> Result<()> {
    tx.execute(
        "DELETE FROM deployment_freeze_scope WHERE freeze_id = ?1",
        &[&id],
    )?;
    for (project, environment) in scope {
        tx.execute(
            "INSERT INTO deployment_freeze_scope (freeze_id, project_id, environment_id)
             VALUES (?1, ?2, ?3)",
            &[&id, project, environment],
        )?;
    }
    Ok(())
}

pub fn create(tx: &ChangeTx, f: &FreezeFields, now: i64) -> Result<i64> {
    let id: i64 = tx
        .query_one_unique(
            "INSERT INTO deployment_freezes (name, description, start_time, end_time, recurrence,
                 time_zone, utc_offset_minutes, on_start, until_time, created_at, modified_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) RETURNING id",
            &[
                &f.name,
                &f.description,
                &f.start_time,
                &f.end_time,
                &f.recurrence,
                &f.time_zone,
                &f.utc_offset_minutes,
                &f.on_start,
                &f.until_time,
                &now,
            ],
            || format!("A deployment freeze named '{}' already exists.", f.name),
        )?
        .get(0)?;
    write_scope(tx, id, &f.scope)?;
    Ok(id)
}

pub fn update(tx: &ChangeTx, id: i64, f: &FreezeFields, now: i64) -> Result<()> {
    tx.execute_unique(
        "UPDATE deployment_freezes SET name = ?2, description = ?3, start_time = ?4,
             end_time = ?5, recurrence = ?6, time_zone = ?7, utc_offset_minutes = ?8,
             on_start = ?9, until_time = ?10, modified_at = ?11
         WHERE id = ?1",
        &[
            &id,
            &f.name,
            &f.description,
            &f.start_time,
            &f.end_time,
            &f.recurrence,
            &f.time_zone,
            &f.utc_offset_minutes,
            &f.on_start,
            &f.until_time,
            &now,
        ],
        || format!("A deployment freeze named '{}' already exists.", f.name),
    )?;
    write_scope(tx, id, &f.scope)
}

pub fn delete(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM deployment_freezes WHERE id = ?1", &[&id])?;
    Ok(())
}

/// Lets every task a freeze holds go at once (the freeze changed or went): the next
/// claim asks the freezes again, and holds it anew if one still covers it.
pub fn release_held(tx: &ChangeTx, now: i64) -> Result<u64> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        "UPDATE tasks SET held_until = ?1 WHERE held_until > ?1",
        &[&now],
    )
}

/// Keeps a task just claimed from starting until `until`: queued again, unchanged
/// but for the hold.
pub fn hold(tx: &BookTx, task: i64, until: i64, now: i64) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(HOLD, &[&task, &until, &now])?;
    Ok(())
}

const HOLD: &str = const_format::concatcp!(
    "UPDATE tasks SET state = ",
    crate::model::TaskState::Queued.quoted(),
    ", start_time = NULL, server_node = NULL, held_until = ?2, last_updated_time = ?3
     WHERE id = ?1"
);

/// Queued deployments a freeze holds past `now`, soonest free first.
pub fn held_tasks(conn: &Conn, now: i64, limit: i64) -> Result<Vec<super::tasks::Task>> {
    conn.all(
        &format!(
            "SELECT {} FROM tasks INDEXED BY tasks_held
             WHERE held_until IS NOT NULL AND held_until > ?1 AND state = {}
             ORDER BY held_until, id LIMIT ?2",
            super::tasks::COLUMNS,
            crate::model::TaskState::Queued.quoted()
        ),
        &[&now, &limit],
        super::tasks::task,
    )
}

/// The override a deployment was created with: the freezes it names and the reason.
pub fn override_of_task(conn: &Conn, task: i64) -> Result<Option<(Vec<i64>, String)>> {
    let found: Option<(Option<String>, Option<String>)> = conn.first(
        "SELECT override_freezes, override_reason FROM deployments WHERE task_id = ?1",
        &[&task],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match found {
        Some((Some(ids), Some(reason))) => Some((
            ids.split(',')
                .filter_map(|i| i.trim().parse().ok())
                .collect(),
            reason,
        )),
        _ => None,
    })
}

/// Records an override on the deployment of `task`.
pub fn record_override(tx: &ChangeTx, task: i64, freezes: &[i64], reason: &str) -> Result<()> {
    let ids = freezes
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    tx.execute(
        "UPDATE deployments SET override_freezes = ?2, override_reason = ?3 WHERE task_id = ?1",
        &[&task, &ids, &reason],
    )?;
    Ok(())
}
