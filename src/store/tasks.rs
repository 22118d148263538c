//! The task queue and task logs.
//!
//! Tasks queued by people are inserted inside a change (`&ChangeTx`); the queue
//! processor's state transitions (claim, finish, expire, recover) are bookkeeping
//! (`&Transaction`), because the queue keeps running in maintenance mode.

use super::sql::{Conn, Row};
pub use super::task_log::{append_log, log, log_bytes, LogLine};
use super::BookTx;
use super::ChangeTx;
use crate::error::{Error, Result};

use crate::model::sql::{ACTIVE, COMPLETED, RUNNING};
pub use crate::model::{TaskKind, TaskState};
use const_format::concatcp;

pub(super) const Q_QUEUED: &str = TaskState::Queued.quoted();
pub(super) const Q_EXECUTING: &str = TaskState::Executing.quoted();
const Q_CANCELLING: &str = TaskState::Cancelling.quoted();
const Q_FAILED: &str = TaskState::Failed.quoted();
const Q_CANCELED: &str = TaskState::Canceled.quoted();
const Q_TIMED_OUT: &str = TaskState::TimedOut.quoted();

#[derive(Debug, Clone)]
pub struct Task {
    pub id: i64,
    pub name: TaskKind,
    pub description: String,
    pub state: TaskState,
    pub queue_time: i64,
    pub queue_time_expiry: Option<i64>,
    pub start_time: Option<i64>,
    pub completed_time: Option<i64>,
    pub last_updated_time: i64,
    pub server_node: Option<String>,
    pub error_message: Option<String>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub release_id: Option<i64>,
    pub concurrency_tag: Option<String>,
    pub arguments: String,
    pub is_system: bool,
    pub exit_code: Option<i64>,
    pub log_lines: i64,
    /// How many log lines came from stderr.
    pub error_lines: i64,
    /// Who asked for it to be canceled.
    pub canceled_by: Option<String>,
    /// Until when a deployment freeze held it back (`Hold`), if one did.
    pub held_until: Option<i64>,
    /// Who queued it ('' when a node before this record did) and how.
    pub queued_by: String,
    pub queued_via: String,
    /// Queued, but waiting for an approval before any node may claim it.
    pub awaiting_approval: bool,
}

impl Task {
    /// Queued and waiting for an approval (its interruptions pending).
    pub fn waits_for_approval(&self) -> bool {
        self.awaiting_approval && self.state == TaskState::Queued
    }
}

pub(super) const COLUMNS: &str = "id, name, description, state, queue_time, queue_time_expiry, start_time, \
     completed_time, last_updated_time, server_node, error_message, project_id, environment_id, \
     release_id, concurrency_tag, arguments, is_system, exit_code, log_lines, error_lines, canceled_by, \
     held_until, queued_by, queued_via, awaiting_approval";

pub(super) fn task(r: &Row) -> Result<Task> {
    Ok(Task {
        id: r.col("id")?,
        name: r.col("name")?,
        description: r.col("description")?,
        state: r.col("state")?,
        queue_time: r.col("queue_time")?,
        queue_time_expiry: r.col("queue_time_expiry")?,
        start_time: r.col("start_time")?,
        completed_time: r.col("completed_time")?,
        last_updated_time: r.col("last_updated_time")?,
        server_node: r.col("server_node")?,
        error_message: r.col("error_message")?,
        project_id: r.col("project_id")?,
        environment_id: r.col("environment_id")?,
        release_id: r.col("release_id")?,
        concurrency_tag: r.col("concurrency_tag")?,
        arguments: r.col("arguments")?,
        is_system: r.col("is_system")?,
        exit_code: r.col("exit_code")?,
        log_lines: r.col("log_lines")?,
        error_lines: r.col("error_lines")?,
        canceled_by: r.col("canceled_by")?,
        held_until: r.col("held_until")?,
        queued_by: r.col("queued_by")?,
        queued_via: r.col("queued_via")?,
        awaiting_approval: r.col("awaiting_approval")?,
    })
}

pub struct NewTask {
    pub name: TaskKind,
    pub description: String,
    pub queue_time: i64,
    pub queue_time_expiry: Option<i64>,
    pub project_id: Option<i64>,
    pub environment_id: Option<i64>,
    pub release_id: Option<i64>,
    pub concurrency_tag: Option<String>,
    pub arguments: String,
    pub is_system: bool,
    /// How it came to be queued; `None`: the way the change's caller signed in.
    pub queued_via: Option<&'static str>,
}

/// What a task queued by drydock's own timer records as how it came.
pub const SCHEDULE: &str = "Schedule";

/// How a caller who signed in `via` (`store::Identity::via`) is shown as having queued.
pub fn queued_via(via: &'static str) -> &'static str {
    match via {
        "Session cookie" => "Session",
        other => other,
    }
}

fn insert_row(conn: &Conn, t: &NewTask, now: i64, by: (&str, &str)) -> Result<i64> {
    super::notify::queue_changed(conn)?;
    conn.query_one(
        concatcp!("INSERT INTO tasks (name, description, state, queue_time, queue_time_expiry, last_updated_time,
             project_id, environment_id, release_id, concurrency_tag, arguments, is_system,
             queued_by, queued_via)
         VALUES (?1, ?2, ", Q_QUEUED, ", ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) RETURNING id"),
        &[
            &t.name,
            &t.description,
            &t.queue_time,
            &t.queue_time_expiry,
            &now,
            &t.project_id,
            &t.environment_id,
            &t.release_id,
            &t.concurrency_tag,
            &t.arguments,
            &t.is_system,
            &by.0,
            &by.1,
        ],
    )?
    .get(0)
}

/// Queues a task that drydock itself decided to run (the system-task timer, in
/// `system.rs`); not for use outside the store.
pub(super) fn insert_unchecked(tx: &BookTx, t: &NewTask, now: i64) -> Result<i64> {
    insert_row(tx, t, now, ("drydock", t.queued_via.unwrap_or(SCHEDULE)))
}

/// Queues a task as part of a change.
pub fn insert(tx: &ChangeTx, t: &NewTask) -> Result<i64> {
    let identity = tx.identity();
    let via = t.queued_via.unwrap_or(queued_via(identity.via));
    insert_row(tx, t, crate::clock::now_ms(), (&identity.username, via))
}

const FIND: &str = concatcp!("SELECT ", COLUMNS, " FROM tasks WHERE id = ?1");

pub fn find(conn: &Conn, id: i64) -> Result<Option<Task>> {
    conn.first(FIND, &[&id], task)
}

pub fn state_of(conn: &Conn, id: i64) -> Result<Option<TaskState>> {
    conn.first("SELECT state FROM tasks WHERE id = ?1", &[&id], |r| {
        r.get(0)
    })
}

/// A stamp that changes when tasks are queued or change state (`tasks`), or anything is
/// audited (every change is): what a page polls to know it is out of date. Reads of
/// primary keys and the counts table: cheap at any size.
pub fn change_stamp(conn: &Conn, tasks: bool) -> Result<String> {
    let row = conn.query_one(
        "SELECT (SELECT COALESCE(MAX(id), 0) FROM tasks), (SELECT COALESCE(MAX(id), 0) FROM events)",
        &[],
    )?;
    let (task, event): (i64, i64) = (row.get(0)?, row.get(1)?);
    if !tasks {
        return Ok(format!("{event}"));
    }
    let counts = counts(conn)?
        .iter()
        .map(|(state, n)| format!("{}{n}", &state.as_str()[..2]))
        .collect::<Vec<_>>()
        .join(".");
    Ok(format!("{task}.{event}.{counts}"))
}

/// How many tasks are in each state.
pub fn counts(conn: &Conn) -> Result<Vec<(TaskState, i64)>> {
    // One row per state on SQLite; on PostgreSQL changes in count, summed here.
    conn.all(
        "SELECT state, CAST(SUM(n) AS BIGINT) FROM task_counts GROUP BY state",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Folds PostgreSQL's rows of counts (one per state a statement changed) into one per
/// state; nothing on SQLite, whose triggers keep one row per state. Under the queue's
/// lock, so two nodes never fold at once; rows appended meanwhile by transactions
/// still open are left for the next time.
pub fn compact_counts(tx: &BookTx) -> Result<()> {
    if tx.is_postgres() {
        tx.batch(
            "WITH gone AS (DELETE FROM task_counts RETURNING state, n)
             INSERT INTO task_counts (state, n) SELECT state, SUM(n) FROM gone GROUP BY state",
        )?;
    }
    Ok(())
}

/// Ends queued tasks whose expiry has passed as `TimedOut`, one still waiting for an
/// approval saying so; returns their ids.
pub fn expire_overdue(tx: &BookTx, now: i64) -> Result<Vec<i64>> {
    tx.all(
        concatcp!(
            "UPDATE tasks INDEXED BY tasks_expiry
             SET state = ",
            Q_TIMED_OUT,
            ", completed_time = ?1, last_updated_time = ?1,
                 error_message = CASE WHEN awaiting_approval = 1
                     THEN 'The deployment was still waiting for an approval at its queue time expiry.'
                     ELSE 'The task was not started before its queue time expiry.' END
             WHERE state = ",
            Q_QUEUED,
            " AND queue_time_expiry IS NOT NULL AND queue_time_expiry < ?1
             RETURNING id"
        ),
        &[&now],
        |r| r.get(0),
    )
}

/// The earliest queue time (or end of a freeze's hold) still in the future, so the
/// processor can wake for it.
pub fn next_scheduled(conn: &Conn, now: i64) -> Result<Option<i64>> {
    let row = conn.query_one(
        concatcp!(
            "SELECT (SELECT MIN(queue_time) FROM tasks INDEXED BY tasks_claim WHERE state = ",
            Q_QUEUED,
            " AND awaiting_approval = 0 AND queue_time > ?1),
                    (SELECT MIN(held_until) FROM tasks INDEXED BY tasks_held WHERE state = ",
            Q_QUEUED,
            " AND held_until IS NOT NULL AND held_until > ?1)"
        ),
        &[&now],
    )?;
    let (queued, held): (Option<i64>, Option<i64>) = (row.get(0)?, row.get(1)?);
    Ok(queued.into_iter().chain(held).min())
}

/// What changes when another node queues a task, a task ends anywhere, or this node's
/// drain flag or cap is changed: the newest queued task, the number of completed tasks,
/// and the node's limits. Three index lookups; the queue compares it between rounds to
/// notice work from other processes without a write transaction.
pub type QueueSignature = (Option<i64>, i64, Option<(bool, i64)>);

pub fn queue_signature(conn: &Conn, node: &str) -> Result<QueueSignature> {
    let r = conn.query_one(
        concatcp!(
            "SELECT (SELECT MAX(id) FROM tasks WHERE state = ",
            Q_QUEUED,
            "),
                    (SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM task_counts
                      WHERE state IN ",
            COMPLETED,
            "),
                    (SELECT draining FROM nodes WHERE name = ?1),
                    (SELECT task_cap FROM nodes WHERE name = ?1)"
        ),
        &[&node],
    )?;
    let limits = match (r.get::<Option<bool>>(2)?, r.get::<Option<i64>>(3)?) {
        (Some(d), Some(c)) => Some((d, c)),
        _ => None,
    };
    Ok((r.get(0)?, r.get(1)?, limits))
}

/// How many tasks `node` is running (executing or cancelling).
pub fn running_on(conn: &Conn, node: &str) -> Result<i64> {
    // `server_node || ''`: walk the few running tasks, not every task the node ran.
    conn.query_one(
        concatcp!(
            "SELECT COUNT(*) FROM tasks WHERE state IN ",
            RUNNING,
            " AND server_node || '' = ?1"
        ),
        &[&node],
    )?
    .get(0)
}

const BUSY_NON_SYSTEM: &str = concatcp!(
    "SELECT ",
    COLUMNS,
    " FROM tasks WHERE state IN ",
    RUNNING,
    " AND is_system = 0
     UNION ALL
     SELECT ",
    COLUMNS,
    " FROM tasks WHERE state = ",
    Q_QUEUED,
    " AND awaiting_approval = 0 AND queue_time <= ?1 AND is_system = 0
       AND (held_until IS NULL OR held_until <= ?1)
     ORDER BY id LIMIT ?2"
);

/// Tasks that keep the server from being quiet: non-system tasks executing, or queued
/// with a queue time that has passed (not waiting for an approval: nothing starts
/// those until someone decides). At most `limit`, oldest first.
pub fn busy_non_system(conn: &Conn, now: i64, limit: i64) -> Result<Vec<Task>> {
    conn.all(BUSY_NON_SYSTEM, &[&now, &limit], task)
}

/// How many non-system tasks are executing, and how many are due (a task a freeze
/// holds past `now` is not, nor one waiting for an approval: nothing starts it before
/// the freeze ends or someone approves it).
pub fn busy_counts(conn: &Conn, now: i64) -> Result<(i64, i64)> {
    let executing = conn
        .query_one(
            concatcp!(
                "SELECT COUNT(*) FROM tasks WHERE state IN ",
                RUNNING,
                " AND is_system = 0"
            ),
            &[],
        )?
        .get(0)?;
    let due = conn
        .query_one(
            concatcp!(
                "SELECT COUNT(*) FROM tasks WHERE state = ",
                Q_QUEUED,
                " AND awaiting_approval = 0 AND queue_time <= ?1 AND is_system = 0
                  AND (held_until IS NULL OR held_until <= ?1)"
            ),
            &[&now],
        )?
        .get(0)?;
    Ok((executing, due))
}

/// How many queued tasks a freeze holds past `now`, and until when the first of them.
pub fn held(conn: &Conn, now: i64) -> Result<(i64, Option<i64>)> {
    let row = conn.query_one(
        concatcp!(
            "SELECT COUNT(*), MIN(held_until) FROM tasks WHERE state = ",
            Q_QUEUED,
            " AND held_until IS NOT NULL AND held_until > ?1"
        ),
        &[&now],
    )?;
    Ok((row.get(0)?, row.get(1)?))
}

const SCHEDULED_BETWEEN: &str = concatcp!(
    "SELECT ",
    COLUMNS,
    " FROM tasks WHERE state = ",
    Q_QUEUED,
    " AND is_system = 0
       AND queue_time >= ?1 AND queue_time < ?2 ORDER BY queue_time, id LIMIT ?3"
);

/// Deployments (not system tasks) queued to start in `[from, until)`, soonest first.
pub fn scheduled_between(conn: &Conn, from: i64, until: i64, limit: i64) -> Result<Vec<Task>> {
    conn.all(SCHEDULED_BETWEEN, &[&from, &until, &limit], task)
}

/// The running task (executing or cancelling) with this concurrency tag, if any.
pub fn running_with_tag(conn: &Conn, tag: &str) -> Result<Option<(i64, String)>> {
    conn.first(
        concatcp!(
            "SELECT id, description FROM tasks WHERE state IN ",
            RUNNING,
            " AND concurrency_tag = ?1 LIMIT 1"
        ),
        &[&tag],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// The first due queued task with `task`'s concurrency tag that the queue takes before
/// it (earlier queue time, or the same and a lower id).
pub fn due_ahead_with_tag(conn: &Conn, task: &Task, now: i64) -> Result<Option<(i64, String)>> {
    conn.first(
        concatcp!(
            "SELECT id, description FROM tasks WHERE state = ",
            Q_QUEUED,
            " AND awaiting_approval = 0 AND concurrency_tag = ?1 AND queue_time <= ?2
               AND (queue_time < ?3 OR (queue_time = ?3 AND id < ?4))
             ORDER BY queue_time, id LIMIT 1"
        ),
        &[&task.concurrency_tag, &now, &task.queue_time, &task.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Deployments (not system tasks) executing, queued whose time has come, and scheduled
/// for later.
pub fn queue_counts(conn: &Conn, now: i64) -> Result<(i64, i64, i64)> {
    let (executing, due) = busy_counts(conn, now)?;
    let scheduled = conn
        .query_one(
            concatcp!(
                "SELECT COUNT(*) FROM tasks WHERE state = ",
                Q_QUEUED,
                " AND queue_time > ?1 AND is_system = 0"
            ),
            &[&now],
        )?
        .get(0)?;
    Ok((executing, due, scheduled))
}

/// How many deployments wait for an approval, and since when the oldest of them.
pub fn awaiting(conn: &Conn) -> Result<(i64, Option<i64>)> {
    let row = conn.query_one(
        concatcp!(
            "SELECT COUNT(*), MIN(queue_time) FROM tasks INDEXED BY tasks_awaiting WHERE state = ",
            Q_QUEUED,
            " AND awaiting_approval = 1"
        ),
        &[],
    )?;
    Ok((row.get(0)?, row.get(1)?))
}

/// How many tasks of a project, or of an environment, are queued or running.
pub fn active_count(
    conn: &Conn,
    project_id: Option<i64>,
    environment_id: Option<i64>,
) -> Result<i64> {
    // The `+ 0` keep SQLite on the state index: few tasks are active, many are not.
    conn.query_one(
        concatcp!(
            "SELECT COUNT(*) FROM tasks WHERE state IN ",
            ACTIVE,
            "
             AND (CAST(?1 AS BIGINT) IS NULL OR project_id + 0 = ?1)
             AND (CAST(?2 AS BIGINT) IS NULL OR environment_id + 0 = ?2)"
        ),
        &[&project_id, &environment_id],
    )?
    .get(0)
}

/// Ends a running task in a final state; false when it was not running (ended
/// already).
pub fn finish(
    tx: &BookTx,
    id: i64,
    state: TaskState,
    error: Option<&str>,
    exit_code: Option<i64>,
    now: i64,
) -> Result<bool> {
    super::notify::queue_changed(tx)?;
    let changed = tx.execute(
        concatcp!(
            "UPDATE tasks SET state = ?2, error_message = ?3, exit_code = ?4, completed_time = ?5,
                 last_updated_time = ?5
             WHERE id = ?1 AND state IN ",
            RUNNING
        ),
        &[&id, &state, &error, &exit_code, &now],
    )?;
    Ok(changed == 1)
}

/// Gives back a task `node` claimed but did not start (it began to stop meanwhile):
/// queued again, as if never claimed.
pub fn release(tx: &BookTx, id: i64, node: &str, now: i64) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        concatcp!(
            "UPDATE tasks SET state = ",
            Q_QUEUED,
            ", start_time = NULL, server_node = NULL, last_updated_time = ?3
             WHERE id = ?1 AND state = ",
            Q_EXECUTING,
            " AND server_node = ?2"
        ),
        &[&id, &node, &now],
    )?;
    Ok(())
}

/// Fails every task `node` left running (it stopped without finishing them). Returns
/// their ids, so that what their scripts left behind can be stopped too.
pub fn fail_interrupted(tx: &BookTx, node: &str, message: &str, now: i64) -> Result<Vec<i64>> {
    tx.all(
        concatcp!(
            "UPDATE tasks SET state = ",
            Q_FAILED,
            ", error_message = ?2, completed_time = ?3, last_updated_time = ?3
             WHERE state IN ",
            RUNNING,
            " AND server_node || '' = ?1 RETURNING id"
        ),
        &[&node, &message, &now],
        |r| r.get(0),
    )
}

/// The ids of the tasks the database says `node` runs.
pub fn ids_running_on(conn: &Conn, node: &str) -> Result<Vec<i64>> {
    conn.all(
        concatcp!(
            "SELECT id FROM tasks WHERE state IN ",
            RUNNING,
            " AND server_node = ?1 ORDER BY id"
        ),
        &[&node],
        |r| r.get(0),
    )
}

/// Fails task `id` with `message` if it still runs on `node`. Whether it did.
pub fn fail_running(tx: &BookTx, id: i64, node: &str, message: &str, now: i64) -> Result<bool> {
    super::notify::queue_changed(tx)?;
    let changed = tx.execute(
        concatcp!(
            "UPDATE tasks SET state = ",
            Q_FAILED,
            ", error_message = ?3, completed_time = ?4, last_updated_time = ?4
             WHERE id = ?1 AND server_node = ?2 AND state IN ",
            RUNNING
        ),
        &[&id, &node, &message, &now],
    )?;
    Ok(changed > 0)
}

/// A stopping node cancels what it still runs once its grace period is over: its
/// `Executing` tasks become `Cancelling` (their runners then stop the scripts and record
/// them `Canceled`). Returns their ids.
pub fn cancel_for_shutdown(tx: &BookTx, node: &str, now: i64) -> Result<Vec<i64>> {
    tx.all(
        concatcp!(
            "UPDATE tasks SET state = ",
            Q_CANCELLING,
            ", last_updated_time = ?2
             WHERE state = ",
            Q_EXECUTING,
            " AND server_node || '' = ?1 RETURNING id"
        ),
        &[&node, &now],
        |r| r.get(0),
    )
}

pub enum Cancel {
    /// It was queued and is now `Canceled`.
    Canceled,
    /// It is executing and now `Cancelling`; its node stops it.
    Cancelling,
}

/// Asks for a task to stop.
pub fn request_cancel(tx: &ChangeTx, id: i64) -> Result<Cancel> {
    let now = crate::clock::now_ms();
    let state = state_of(tx, id)?
        .ok_or_else(|| Error::NotFound(format!("Task ServerTasks-{id} was not found.")))?;
    let by = tx.identity().username.as_str();
    match state {
        TaskState::Queued => {
            tx.execute(
                concatcp!(
                    "UPDATE tasks SET state = ",
                    Q_CANCELED,
                    ", completed_time = ?2, last_updated_time = ?2,
                     error_message = 'Canceled before it started.', canceled_by = ?3
                 WHERE id = ?1"
                ),
                &[&id, &now, &by],
            )?;
            Ok(Cancel::Canceled)
        }
        TaskState::Executing => {
            tx.execute(
                concatcp!(
                    "UPDATE tasks SET state = ",
                    Q_CANCELLING,
                    ", last_updated_time = ?2, canceled_by = ?3 WHERE id = ?1"
                ),
                &[&id, &now, &by],
            )?;
            Ok(Cancel::Cancelling)
        }
        TaskState::Cancelling => Ok(Cancel::Cancelling),
        done => Err(Error::Conflict(format!(
            "Task ServerTasks-{id} has already completed ({done}); there is nothing to cancel."
        ))),
    }
}

/// How long the latest earlier successful run of the same work took (a deployment of
/// the same project to the same environment, or the same system task), in ms: what a
/// running task's progress is estimated from.
pub fn previous_duration(conn: &Conn, task: &Task) -> Result<Option<i64>> {
    match task.project_id {
        Some(project) => conn.first(
            concatcp!(
                "SELECT completed_time - start_time FROM tasks
                 WHERE project_id = ?1 AND environment_id IS NOT DISTINCT FROM ?2 AND id < ?3
                   AND state = ",
                TaskState::Success.quoted(),
                " AND start_time IS NOT NULL AND completed_time IS NOT NULL
                 ORDER BY id DESC LIMIT 1"
            ),
            &[&project, &task.environment_id, &task.id],
            |r| r.get(0),
        ),
        None => conn.first(
            concatcp!(
                "SELECT completed_time - start_time FROM tasks
                 WHERE name = ?1 AND id < ?2 AND state = ",
                TaskState::Success.quoted(),
                " AND start_time IS NOT NULL AND completed_time IS NOT NULL
                   AND project_id IS NULL AND environment_id IS NULL
                 ORDER BY id DESC LIMIT 1"
            ),
            &[&task.name, &task.id],
            |r| r.get(0),
        ),
    }
}
