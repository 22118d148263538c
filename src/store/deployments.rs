//! Deployments: a release sent to an environment, run by a task.

use super::sql::{Conn, Param, Row};
use super::ChangeTx;
use crate::error::Result;
use crate::model::TaskState;
use const_format::concatcp;

#[derive(Debug, Clone)]
pub struct Deployment {
    pub id: i64,
    pub release_id: i64,
    pub environment_id: i64,
    pub task_id: i64,
    pub created_at: i64,
}

fn deployment(r: &Row) -> Result<Deployment> {
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
    let row = tx.query_one(
        "INSERT INTO deployments (release_id, environment_id, task_id, created_at)
         VALUES (?1, ?2, ?3, ?4) RETURNING id, release_id, environment_id, task_id, created_at",
        &[
            &release_id,
            &environment_id,
            &task_id,
            &crate::clock::now_ms(),
        ],
    )?;
    deployment(&row)
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Deployment>> {
    conn.query_opt(&format!("{SELECT} WHERE id = ?1"), &[&id])?
        .map(|r| deployment(&r))
        .transpose()
}

/// What a list of deployments is narrowed to (Octopus's `GET /api/deployments`).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub ids: Option<Vec<i64>>,
    pub projects: Option<Vec<i64>>,
    pub environments: Option<Vec<i64>>,
    pub task_states: Option<Vec<TaskState>>,
}

/// One page of the deployments `filter` names, newest first, and how many it names.
pub fn list(conn: &Conn, filter: &Filter, skip: i64, take: i64) -> Result<(Vec<Deployment>, i64)> {
    let mut clause = super::filter::Clause::default();
    if let Some(ids) = &filter.ids {
        clause.ids("d.id", ids);
    }
    if let Some(projects) = &filter.projects {
        clause.ids("r.project_id", projects);
    }
    if let Some(environments) = &filter.environments {
        clause.ids("d.environment_id", environments);
    }
    if let Some(states) = &filter.task_states {
        let mut states = states.clone();
        states.sort_by_key(|s| s.as_str());
        states.dedup();
        clause.any_of("t.state", states.iter().map(|s| s.value()).collect());
    }
    let from = "FROM deployments d JOIN releases r ON r.id = d.release_id \
                JOIN tasks t ON t.id = d.task_id";
    let items = conn
        .query(
            &format!(
                "SELECT d.id, d.release_id, d.environment_id, d.task_id, d.created_at {from}{} \
                 ORDER BY d.id DESC LIMIT ? OFFSET ?",
                clause.sql()
            ),
            &super::filter::params(&clause.paged(skip, take)),
        )?
        .iter()
        .map(deployment)
        .collect::<Result<Vec<_>>>()?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) {from}{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((items, total))
}

pub fn find_by_task(conn: &Conn, task_id: i64) -> Result<Option<Deployment>> {
    conn.query_opt(&format!("{SELECT} WHERE task_id = ?1"), &[&task_id])?
        .map(|r| deployment(&r))
        .transpose()
}

/// The latest deployment of a project to an environment, for the dashboard's matrix.
#[derive(Debug, Clone)]
pub struct Latest {
    pub project_id: i64,
    pub environment_id: i64,
    pub release_id: i64,
    pub version: String,
    pub task: i64,
    pub state: crate::model::TaskState,
    pub queue_time: i64,
    pub start_time: Option<i64>,
    pub completed_time: Option<i64>,
}

/// Per project and environment, the latest deployment whose time has come (one
/// scheduled for later does not hide what is deployed now). `project_id` narrows it to
/// one project, `release_id` to one release.
pub fn latest_per_environment(
    conn: &Conn,
    now: i64,
    project_id: Option<i64>,
) -> Result<Vec<Latest>> {
    latest_matching(conn, now, project_id, None)
}

/// Per environment, the latest deployment of one release whose time has come.
pub fn latest_of_release(conn: &Conn, now: i64, release_id: i64) -> Result<Vec<Latest>> {
    latest_matching(conn, now, None, Some(release_id))
}

fn latest_matching(
    conn: &Conn,
    now: i64,
    project_id: Option<i64>,
    release_id: Option<i64>,
) -> Result<Vec<Latest>> {
    let rows = conn.query(
        concatcp!(
            "SELECT r.project_id, d.environment_id, r.id, r.version, t.id, t.state, t.queue_time,
                    t.start_time, t.completed_time
             FROM deployments d
             JOIN releases r ON r.id = d.release_id
             JOIN tasks t ON t.id = d.task_id
             WHERE d.id IN (
                 SELECT MAX(d2.id) FROM deployments d2
                 JOIN releases r2 ON r2.id = d2.release_id
                 JOIN tasks t2 ON t2.id = d2.task_id
                 WHERE (CAST(?2 AS BIGINT) IS NULL OR r2.project_id = CAST(?2 AS BIGINT))
                   AND (CAST(?3 AS BIGINT) IS NULL OR d2.release_id = CAST(?3 AS BIGINT))
                   AND (t2.state != ",
            TaskState::Queued.quoted(),
            " OR t2.queue_time <= ?1)
                 GROUP BY r2.project_id, d2.environment_id)"
        ),
        &[&now, &project_id, &release_id],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Latest {
                project_id: r.get(0)?,
                environment_id: r.get(1)?,
                release_id: r.get(2)?,
                version: r.get(3)?,
                task: r.get(4)?,
                state: r.get(5)?,
                queue_time: r.get(6)?,
                start_time: r.get(7)?,
                completed_time: r.get(8)?,
            })
        })
        .collect()
}

/// Deployments completed since `since`, per UTC day (days since the epoch) and final
/// state; of one project if given.
pub fn completed_per_day(
    conn: &Conn,
    since: i64,
    project_id: Option<i64>,
) -> Result<Vec<(i64, crate::model::TaskState, i64)>> {
    conn.query(
        concatcp!(
            "SELECT completed_time / 86400000 AS day, state, COUNT(*) FROM tasks
                 WHERE name = ",
            crate::model::TaskKind::Deploy.quoted(),
            " AND completed_time >= ?1
                   AND (CAST(?2 AS BIGINT) IS NULL OR project_id = CAST(?2 AS BIGINT))
                 GROUP BY day, state ORDER BY day"
        ),
        &[&since, &project_id],
    )?
    .iter()
    .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
    .collect()
}
