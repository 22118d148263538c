//! Deployments: a release sent to an environment, run by a task.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::ChangeTx;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: i64,
    pub release_id: i64,
    pub environment_id: i64,
    pub task_id: i64,
    pub created_at: i64,
}

fn deployment(r: &Row) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get(0)?,
        release_id: r.get(1)?,
        environment_id: r.get(2)?,
        task_id: r.get(3)?,
        created_at: r.get(4)?,
    })
}

const SELECT: &str = "SELECT id, release_id, environment_id, task_id, created_at FROM deployments";

pub fn create(
    tx: &ChangeTx,
    release_id: i64,
    environment_id: i64,
    task_id: i64,
) -> Result<Deployment> {
    let now = crate::clock::now_ms();
    tx.prepare_cached(
        "INSERT INTO deployments (release_id, environment_id, task_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![release_id, environment_id, task_id, now])?;
    Ok(Deployment {
        id: tx.last_insert_rowid(),
        release_id,
        environment_id,
        task_id,
        created_at: now,
    })
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<Deployment>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE id = ?1"))?
        .query_row([id], deployment)
        .optional()?)
}

pub fn find_by_task(conn: &Connection, task_id: i64) -> Result<Option<Deployment>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE task_id = ?1"))?
        .query_row([task_id], deployment)
        .optional()?)
}
