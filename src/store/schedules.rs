//! The system tasks' schedule (`system_tasks` table): intervals, what is due, "run
//! now"; a due one is queued once whatever the number of processes.

use super::sql::Conn;
use super::tasks::{self, NewTask};
use super::BookTx;
use super::ChangeTx;
use crate::error::Result;
use crate::model::TaskKind;

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
