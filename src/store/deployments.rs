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
    /// The username of who queued it ('' when an older node did), from its task.
    pub deployed_by: String,
    /// How they did: `Session`, `API key`, `Executions API`, `Command line`.
    pub deployed_via: String,
}

fn deployment(r: &Row) -> Result<Deployment> {
    Ok(Deployment {
        id: r.col("id")?,
        release_id: r.col("release_id")?,
        environment_id: r.col("environment_id")?,
        task_id: r.col("task_id")?,
        created_at: r.col("created_at")?,
        deployed_by: r.col("deployed_by")?,
        deployed_via: r.col("deployed_via")?,
    })
}

const SELECT: &str = "SELECT d.id, d.release_id, d.environment_id, d.task_id, d.created_at,
        t.queued_by AS deployed_by, t.queued_via AS deployed_via
     FROM deployments d JOIN tasks t ON t.id = d.task_id";

/// Records a deployment run by task `task_id` (queued in the same change).
pub fn create(
    tx: &ChangeTx,
    release_id: i64,
    environment_id: i64,
    task_id: i64,
) -> Result<Deployment> {
    let id: i64 = tx
        .query_one(
            "INSERT INTO deployments (release_id, environment_id, task_id, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING id",
            &[
                &release_id,
                &environment_id,
                &task_id,
                &crate::clock::now_ms(),
            ],
        )?
        .get(0)?;
    find(tx, id)?.ok_or_else(|| crate::error::Error::internal(format!("Deployments-{id} vanished")))
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Deployment>> {
    conn.query_opt(&format!("{SELECT} WHERE d.id = ?1"), &[&id])?
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
                "SELECT d.id, d.release_id, d.environment_id, d.task_id, d.created_at, \
                 t.queued_by AS deployed_by, t.queued_via AS deployed_via {from}{} \
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
    conn.query_opt(&format!("{SELECT} WHERE d.task_id = ?1"), &[&task_id])?
        .map(|r| deployment(&r))
        .transpose()
}

/// One deployment of a project to an environment as the pages' cells and
/// `/api/dashboard` show it.
#[derive(Debug, Clone)]
pub struct Latest {
    pub project_id: i64,
    pub environment_id: i64,
    pub deployment_id: i64,
    pub release_id: i64,
    pub version: String,
    pub task: i64,
    pub state: TaskState,
    pub queue_time: i64,
    pub start_time: Option<i64>,
    pub completed_time: Option<i64>,
    pub held_until: Option<i64>,
    pub error_message: Option<String>,
    /// Whether its script wrote to stderr (Octopus's `HasWarningsOrErrors`).
    pub has_warnings: bool,
    pub created_at: i64,
    pub deployed_by: String,
    pub deployed_via: String,
    /// Queued and waiting for an approval.
    pub awaiting: bool,
}

/// What is live in one project × environment and what is on its way there: `latest` is
/// the latest deployment whose time has come (Octopus's `IsCurrent` item: a deployment
/// scheduled for later does not count yet); `live` the last that succeeded there, which
/// is `latest` itself when that succeeded (Octopus's `IsPrevious` item otherwise).
#[derive(Debug, Clone)]
pub struct Live {
    pub latest: Latest,
    pub live: Option<Latest>,
}

impl Live {
    pub fn cell(&self) -> (i64, i64) {
        (self.latest.project_id, self.latest.environment_id)
    }

    /// The last successful deployment, when it is not the latest one.
    pub fn previous(&self) -> Option<&Latest> {
        self.live
            .as_ref()
            .filter(|l| l.deployment_id != self.latest.deployment_id)
    }
}

/// Which cells [`live`] answers for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cells {
    pub project: Option<i64>,
    pub environment: Option<i64>,
    /// Only deployments of this release count (the release page: where is it).
    pub release: Option<i64>,
}

/// Per project × environment that `cells` names and that has a deployment: what is live
/// there and the latest attempt, the one rule every page and `/api/dashboard` use.
pub fn live(conn: &Conn, now: i64, cells: Cells) -> Result<Vec<Live>> {
    let params: [&dyn Param; 4] = [&now, &cells.project, &cells.environment, &cells.release];
    let latest = conn.query(
        concatcp!(
            LIVE_SELECT,
            " WHERE d.id IN (
                 SELECT MAX(d2.id) FROM deployments d2
                 JOIN releases r2 ON r2.id = d2.release_id
                 JOIN tasks t2 ON t2.id = d2.task_id
                 WHERE ",
            NARROWED,
            " AND (t2.state != ",
            TaskState::Queued.quoted(),
            " OR t2.queue_time <= ?1)
                 GROUP BY r2.project_id, d2.environment_id)"
        ),
        &params,
    )?;
    let succeeded = conn.query(
        concatcp!(
            LIVE_SELECT,
            " WHERE d.id IN (
                 SELECT id FROM (
                     SELECT d2.id, ROW_NUMBER() OVER (
                         PARTITION BY r2.project_id, d2.environment_id
                         ORDER BY t2.completed_time DESC, d2.id DESC) AS n
                     FROM deployments d2
                     JOIN releases r2 ON r2.id = d2.release_id
                     JOIN tasks t2 ON t2.id = d2.task_id
                     WHERE ",
            NARROWED,
            " AND t2.state = ",
            TaskState::Success.quoted(),
            " AND t2.completed_time <= ?1) ranked WHERE n = 1)"
        ),
        &params,
    )?;
    let mut live: std::collections::HashMap<(i64, i64), Latest> = succeeded
        .iter()
        .map(latest_row)
        .map(|l| l.map(|l| ((l.project_id, l.environment_id), l)))
        .collect::<Result<_>>()?;
    let mut cells = latest
        .iter()
        .map(|r| {
            let latest = latest_row(r)?;
            let live = live.remove(&(latest.project_id, latest.environment_id));
            Ok(Live { latest, live })
        })
        .collect::<Result<Vec<_>>>()?;
    cells.sort_by_key(Live::cell);
    Ok(cells)
}

const LIVE_SELECT: &str = "SELECT r.project_id, d.environment_id, d.id AS deployment_id,
        r.id AS release_id, r.version, t.id AS task, t.state, t.queue_time, t.start_time,
        t.completed_time, t.held_until, t.error_message, t.error_lines, d.created_at,
        t.queued_by AS deployed_by, t.queued_via AS deployed_via, t.awaiting_approval
     FROM deployments d
     JOIN releases r ON r.id = d.release_id
     JOIN tasks t ON t.id = d.task_id";

const NARROWED: &str = "(CAST(?2 AS BIGINT) IS NULL OR r2.project_id = CAST(?2 AS BIGINT))
       AND (CAST(?3 AS BIGINT) IS NULL OR d2.environment_id = CAST(?3 AS BIGINT))
       AND (CAST(?4 AS BIGINT) IS NULL OR d2.release_id = CAST(?4 AS BIGINT))";

fn latest_row(r: &Row) -> Result<Latest> {
    Ok(Latest {
        project_id: r.col("project_id")?,
        environment_id: r.col("environment_id")?,
        deployment_id: r.col("deployment_id")?,
        release_id: r.col("release_id")?,
        version: r.col("version")?,
        task: r.col("task")?,
        state: r.col("state")?,
        queue_time: r.col("queue_time")?,
        start_time: r.col("start_time")?,
        completed_time: r.col("completed_time")?,
        held_until: r.col("held_until")?,
        error_message: r.col("error_message")?,
        has_warnings: r.col::<i64>("error_lines")? > 0,
        created_at: r.col("created_at")?,
        deployed_by: r.col("deployed_by")?,
        deployed_via: r.col("deployed_via")?,
        awaiting: r.col::<bool>("awaiting_approval")?
            && r.col::<TaskState>("state")? == TaskState::Queued,
    })
}

/// Deployments completed since `since`, per UTC day (days since the epoch) and final
/// state; of one project if given.
pub fn completed_per_day(
    conn: &Conn,
    since: i64,
    project_id: Option<i64>,
) -> Result<Vec<(i64, TaskState, i64)>> {
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
