//! The queue's own audit events, recorded in the transaction that makes them true (and
//! so raising their webhook deliveries as any event does): a deployment started, and
//! how it ended. System tasks are not announced.

use crate::error::Result;
use crate::model::{TaskKind, TaskState};
use crate::store::events::{self, SystemEvent};
use crate::store::tasks::Task;
use crate::store::Conn;

/// What an event about `task` is related to: the task, its project, environment and
/// release.
fn related(task: &Task) -> Vec<String> {
    let mut ids = vec![format!("ServerTasks-{}", task.id)];
    ids.extend(task.project_id.map(|p| format!("Projects-{p}")));
    ids.extend(task.environment_id.map(|e| format!("Environments-{e}")));
    ids.extend(task.release_id.map(|r| format!("Releases-{r}")));
    ids
}

/// `task` started on `node`.
pub fn started(conn: &Conn, task: &Task, node: &str) -> Result<()> {
    if task.name != TaskKind::Deploy {
        return Ok(());
    }
    events::record_system(
        conn,
        SystemEvent::DeploymentStarted,
        &format!("{} started on {node}", task.description),
        &related(task),
    )?;
    Ok(())
}

/// `task` ended in `state` (with `error`, if it failed).
pub fn ended(conn: &Conn, task: &Task, state: TaskState, error: Option<&str>) -> Result<()> {
    if task.name != TaskKind::Deploy {
        return Ok(());
    }
    let (what, verb) = match state {
        TaskState::Success => (SystemEvent::DeploymentSucceeded, "succeeded"),
        TaskState::Failed => (SystemEvent::DeploymentFailed, "failed"),
        TaskState::TimedOut => (SystemEvent::DeploymentTimedOut, "timed out"),
        TaskState::Canceled => (SystemEvent::DeploymentCanceled, "was canceled"),
        _ => return Ok(()),
    };
    let message = match error.filter(|e| !e.is_empty()) {
        Some(e) => format!("{} {verb}: {e}", task.description),
        None => format!("{} {verb}", task.description),
    };
    events::record_system(conn, what, &message, &related(task))?;
    Ok(())
}
