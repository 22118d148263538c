//! The built-in system tasks. They are queued by the queue processor's timer at their
//! intervals (`store::schedules::queue_due`, once for all processes) or on demand, run
//! through the same queue as deployments, and are safe to cancel at any point: each
//! works in small transactions and checks for cancellation between them.

mod backup;
pub mod node_health;
mod retention;
mod session_cleanup;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock;
use crate::error::{Error, Result};
use crate::model::TaskKind;
use crate::model::TaskState;
use crate::queue::jobs::{Ending, Job, SystemJobs};
use crate::store::{tasks, Store};

pub const RETENTION: &str = TaskKind::Retention.as_str();
pub const BACKUP: &str = TaskKind::Backup.as_str();
pub const SESSION_CLEANUP: &str = TaskKind::SessionCleanup.as_str();
pub const NODE_HEALTH: &str = TaskKind::NodeHealth.as_str();

/// Every built-in system task, by name.
pub const NAMES: [&str; 4] = [BACKUP, NODE_HEALTH, RETENTION, SESSION_CLEANUP];

pub fn is_system_task(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Looks a name up, ignoring case; unknown names get a 400 listing the valid ones.
pub fn by_name(field: &str, name: &str) -> Result<&'static str> {
    NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(name.trim()))
        .copied()
        .ok_or_else(|| {
            Error::bad(
                field,
                format!("'{name}' is not a system task; valid: {}", NAMES.join(", ")),
            )
        })
}

/// What the system tasks need from the configuration.
#[derive(Clone)]
pub struct Settings {
    pub data_dir: std::path::PathBuf,
    /// Where the database is (what `Backup` copies).
    pub database: crate::store::backup::Source,
    pub session_idle_ms: i64,
    pub session_absolute_ms: i64,
    pub login_window_ms: i64,
    pub retention_keep_per_kind: i64,
    pub retention_keep_days: i64,
    pub backup_keep: usize,
    /// Intervals set in the configuration file (applied at every start).
    pub intervals: Vec<(&'static str, Option<i64>)>,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            data_dir: config.data_dir.clone(),
            database: crate::store::backup::Source::of(config),
            session_idle_ms: config.session_idle_secs * 1000,
            session_absolute_ms: config.session_absolute_secs * 1000,
            login_window_ms: config.login_window_secs * 1000,
            retention_keep_per_kind: config.retention_keep_per_kind,
            retention_keep_days: config.retention_keep_days,
            backup_keep: config.backup_keep,
            intervals: vec![
                (RETENTION, config.retention_interval_secs),
                (BACKUP, config.backup_interval_secs),
                (SESSION_CLEANUP, config.session_cleanup_interval_secs),
                (NODE_HEALTH, config.node_health_interval_secs),
            ],
        }
    }
}

/// The built-in system tasks as the queue runs them ([`SystemJobs`]).
pub struct Jobs {
    pub settings: Settings,
}

impl Jobs {
    pub fn from_config(config: &crate::config::Config) -> Jobs {
        Jobs {
            settings: Settings::from_config(config),
        }
    }
}

impl SystemJobs for Jobs {
    fn intervals(&self) -> Vec<(&'static str, Option<i64>)> {
        self.settings.intervals.clone()
    }

    fn run(&self, name: &str, job: Job<'_>) -> Ending {
        run(name, &self.settings, job)
    }
}

/// What a running system task can use: the store, the settings, its log, and whether
/// it has been asked to stop.
pub struct Context<'a> {
    pub store: &'a Store,
    pub settings: &'a Settings,
    /// The running node's queue settings (its name, heartbeats, script user).
    pub queue: &'a crate::queue::Settings,
    pub task_id: i64,
    cancel: &'a AtomicBool,
    last_state_check: Mutex<Instant>,
}

/// A system task stopped because it was asked to.
pub struct Stopped;

impl<'a> Context<'a> {
    /// Whether the task must stop now: its node asked (cancel or shutdown), or its state
    /// became `Cancelling` (a cancel through another process), read at most twice a second.
    pub fn should_stop(&self) -> bool {
        if self.cancel.load(Ordering::SeqCst) {
            return true;
        }
        let due = match self.last_state_check.lock() {
            Ok(mut last) if last.elapsed() >= Duration::from_millis(500) => {
                *last = Instant::now();
                true
            }
            _ => false,
        };
        if due {
            let state = self.store.read_now(|c| tasks::state_of(c, self.task_id));
            if state.ok().flatten() == Some(TaskState::Cancelling) {
                self.cancel.store(true, Ordering::SeqCst);
                return true;
            }
        }
        false
    }

    /// Writes one line to the task's log at once.
    pub fn log(&self, line: impl Into<String>) {
        let line = (clock::now_ms(), "stdout", line.into());
        let id = self.task_id;
        if let Err(e) = self
            .store
            .bookkeeping_now(|tx| tasks::append_log(tx, id, &[line]))
        {
            eprintln!("drydock: writing the log of ServerTasks-{id}: {e}");
        }
    }
}

/// Runs the system task `name`.
fn run(name: &str, settings: &Settings, job: Job<'_>) -> Ending {
    let ctx = Context {
        store: job.store,
        settings,
        queue: job.queue,
        task_id: job.task_id,
        cancel: job.cancel,
        last_state_check: Mutex::new(Instant::now()),
    };
    let result = match name {
        RETENTION => retention::run(&ctx),
        BACKUP => backup::run(&ctx),
        SESSION_CLEANUP => session_cleanup::run(&ctx),
        NODE_HEALTH => node_health::run(&ctx),
        other => {
            return Ending::Failed(format!(
                "drydock does not know a system task named '{other}'"
            ))
        }
    };
    match result {
        Ok(Ok(())) => Ending::Done,
        Ok(Err(Stopped)) => {
            ctx.log("Stopped on request; the work done so far is complete and consistent.");
            Ending::Stopped
        }
        Err(e) => {
            ctx.log(format!("Failed: {}", e.public_message()));
            Ending::Failed(e.to_string())
        }
    }
}

/// The result of a system task's work: `Err` for a failure, `Ok(Err(Stopped))` when it
/// stopped on request between two transactions.
pub type Work = Result<std::result::Result<(), Stopped>>;

/// Queues system task `name` now ("Run now", `POST /api/tasks`), audited.
/// The caller wakes its queue afterwards.
pub async fn run_now(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: &str,
) -> Result<i64> {
    let name = by_name("Name", name)?;
    let id = store
        .change(admission, move |tx| {
            let id = crate::store::schedules::queue_now(tx, name)?;
            let related = [format!("ServerTasks-{id}")];
            crate::store::events::record(
                tx,
                "SystemTaskQueued",
                &format!("Queued {name} to run now"),
                &related,
            )?;
            Ok(id)
        })
        .await?;
    Ok(id)
}

/// Sets how often system task `name` runs (0 disables), audited.
pub async fn set_interval(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: &str,
    secs: i64,
) -> Result<()> {
    let name = by_name("Name", name)?;
    if !(0..=366 * 24 * 3600).contains(&secs) {
        return Err(Error::bad(
            "IntervalSeconds",
            "must be 0 (disabled) or at most a year of seconds",
        ));
    }
    store
        .change(admission, move |tx| {
            crate::store::schedules::set_interval(tx, name, secs)?;
            let message = if secs == 0 {
                format!("Disabled the {name} system task")
            } else {
                format!("Set the {name} system task to run every {secs} s")
            };
            crate::store::events::record(tx, "SystemTaskIntervalChanged", &message, &[])?;
            Ok(())
        })
        .await
}
