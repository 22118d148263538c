//! What a system job is, to the queue: a named piece of work it runs through the same
//! queue as deployments, without knowing what any of them does. `system_tasks`
//! implements [`SystemJobs`]; the server hands it to the queue's settings at start
//! (`App::queue_settings`), so the queue names no system task.

use std::sync::atomic::AtomicBool;

use super::Settings;
use crate::store::Store;

/// The system jobs a node can run.
pub trait SystemJobs: Send + Sync {
    /// Every job by name, with the interval set for it in the configuration (seconds;
    /// `None`: keep the one stored), applied at each start.
    fn intervals(&self) -> Vec<(&'static str, Option<i64>)>;

    /// Runs job `name` as its task to its end; it stops between two transactions once
    /// `job.cancel` is set.
    fn run(&self, name: &str, job: Job<'_>) -> Ending;
}

/// What a running job gets from the queue.
pub struct Job<'a> {
    pub store: &'a Store,
    /// This node's queue settings (its name, its heartbeats, who scripts run as).
    pub queue: &'a Settings,
    pub task_id: i64,
    pub cancel: &'a AtomicBool,
}

/// How a system job ended.
pub enum Ending {
    Done,
    Stopped,
    Failed(String),
}
