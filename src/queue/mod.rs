//! The task queue processor of this node: one background thread that claims due tasks
//! into free slots and one thread per running task ([`runner`]).
//!
//! Dispatch is event-driven: queuing a task or finishing one wakes the processor at
//! once; work queued or ended by other processes is noticed by a cheap read every
//! `pickup_check_ms`; a slow poll (`queue_poll_ms`) catches expiries and the rest.
//! Claiming is one `BEGIN IMMEDIATE` transaction (`store::claim::claim`), so a task
//! never starts twice, whatever the processes.

mod announce;
mod handoff;
mod heartbeat;
pub mod jobs;
pub mod launcher;
mod listen;
pub mod notices;
pub mod offline;
mod outdated;
mod output;
pub mod pool;
mod reconcile;
pub mod runner;
pub mod scripts;
mod start;
pub mod task_users;
pub mod waiting;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock;
use crate::config::Config;
use crate::error::Result;
use crate::store::{claim, nodes, schedules, tasks, Store};

/// What the processor and the runners need from the configuration, and the system jobs
/// they run ([`jobs::SystemJobs`]).
#[derive(Clone)]
pub struct Settings {
    pub node: String,
    pub task_cap: usize,
    pub poll: Duration,
    pub pickup_check: Duration,
    pub heartbeat: Duration,
    pub cancel_grace: Duration,
    /// Where tasks get their working directories (outside the data directory).
    pub work_dir: PathBuf,
    /// Who scripts run as, or why no one can (an unknown or privileged `script_user`).
    pub script_user: std::result::Result<scripts::ScriptUser, String>,
    /// The niceness scripts run at.
    pub script_nice: i32,
    /// Starts the scripts when drydock runs as root (shared by the clones).
    pub launcher: Option<Arc<launcher::Launcher>>,
    pub started_at: i64,
    pub node_offline_ms: i64,
    /// This node's heartbeats as they commit (shared by the clones): no node is
    /// declared offline by one that was not itself in touch long enough.
    pub in_touch: Arc<offline::InTouch>,
    /// The system jobs this node runs.
    pub jobs: Arc<dyn jobs::SystemJobs>,
    /// The newest migration this node knows (recorded with its name; a schema moved
    /// past it incompatibly stops the node).
    pub schema_level: i64,
    /// Since when (epoch ms; 0: not) this node's heartbeats have not committed for long
    /// enough that the cluster is about to take it for offline: its runners stop the
    /// scripts that began before (one begun since was claimed: the database is back).
    pub cut_off: Arc<std::sync::atomic::AtomicI64>,
    /// The scripts running on this node, for the output thread.
    pub outputs: Arc<output::Outputs>,
    /// What opens the sensitive variables a deployment uses (none: a deployment that
    /// needs one fails saying so).
    pub master_key: Option<Arc<crate::secrets::MasterKey>>,
    /// How long before a maintenance window starts it is announced ([`notices`]).
    pub window_notice_ms: i64,
    /// How long maintenance mode may be on with deployments running before that is told.
    pub drain_overdue_ms: i64,
}

impl Settings {
    pub fn from_config(config: &Config, jobs: Arc<dyn jobs::SystemJobs>) -> Settings {
        let script_user = scripts::ScriptUser::resolve(&config.script_user, &config.script_uids);
        Settings {
            node: config.node_name.clone(),
            task_cap: config.task_cap,
            poll: Duration::from_millis(config.queue_poll_ms),
            pickup_check: Duration::from_millis(config.pickup_check_ms.max(1)),
            heartbeat: Duration::from_secs(config.heartbeat_secs),
            cancel_grace: Duration::from_millis(config.cancel_grace_ms),
            work_dir: config
                .work_dir
                .clone()
                .unwrap_or_else(|| crate::files::recorded_work_dir(&config.data_dir)),
            // One launcher runs every script as one user: tasks of their own user ids
            // start through setpriv, each from the server.
            launcher: script_user
                .as_ref()
                .ok()
                .filter(|user| !user.per_task())
                .and_then(launcher::Launcher::for_user)
                .map(Arc::new),
            script_user,
            script_nice: config.script_nice,
            started_at: clock::now_ms(),
            node_offline_ms: config.node_offline_secs * 1000,
            in_touch: Default::default(),
            jobs,
            schema_level: crate::store::migrate::Migrations::shipped().newest(),
            cut_off: Arc::new(std::sync::atomic::AtomicI64::new(0)),
            outputs: Default::default(),
            master_key: None,
            window_notice_ms: config.maintenance_window_notice_secs.max(0) * 1000,
            drain_overdue_ms: config.drain_overdue_secs.max(0) * 1000,
        }
    }

    /// These settings for a node that knows the migrations up to `level`.
    pub fn at_level(mut self, level: i64) -> Settings {
        self.schema_level = level;
        self
    }

    /// These settings with the key that opens sensitive variables.
    pub fn with_master_key(mut self, key: Arc<crate::secrets::MasterKey>) -> Settings {
        self.master_key = Some(key);
        self
    }
}

struct Inner {
    /// Set when there may be something to do; the processor sleeps on `bell`.
    pending: Mutex<bool>,
    bell: Condvar,
    stopping: AtomicBool,
    /// Tasks running on this node, with their cancel flags.
    running: Mutex<HashMap<i64, Arc<AtomicBool>>>,
    /// Tasks the database said at the last heartbeat this node runs, which it did not:
    /// failed if the next heartbeat finds them so again (see [`reconcile`]).
    lost: Mutex<std::collections::BTreeSet<i64>>,
    /// Tasks whose runner failed inside drydock (they may have begun): failed, never
    /// given back, by the reconciliation.
    abandoned: Mutex<std::collections::BTreeSet<i64>>,
    /// The processor thread, joined first on a graceful stop so that nothing is claimed
    /// after it.
    processor: Mutex<Option<JoinHandle<()>>>,
    /// The threads that run tasks.
    runners: Arc<pool::Runners>,
    last_heartbeat: Mutex<Option<std::time::Instant>>,
    metrics: crate::metrics::Shared,
    /// The tasks' working directory, removed (when empty) once the queue stops.
    work_dir: Mutex<Option<PathBuf>>,
    /// Why this node may not go on: the schema moved past what it knows, incompatibly.
    /// It claims nothing more, says so, and stops once its tasks have ended.
    outdated: Mutex<Option<String>>,
    /// Whether it has asked itself to stop (once).
    exiting: AtomicBool,
}

impl Inner {
    /// Whether this node's heartbeat is due (without taking it).
    fn heartbeat_would_be_due(&self, every: Duration) -> bool {
        self.last_heartbeat
            .lock()
            .map_or(true, |last| last.is_none_or(|at| at.elapsed() >= every))
    }

    /// True (and remembered) when this node last beat at least `every` ago.
    fn heartbeat_due(&self, every: Duration) -> bool {
        let Ok(mut last) = self.last_heartbeat.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < every) {
            return false;
        }
        *last = Some(std::time::Instant::now());
        true
    }
}

/// A handle on this node's queue. Cloning it is cheap.
#[derive(Clone)]
pub struct Queue {
    inner: Arc<Inner>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue::new(Default::default())
    }
}

impl Queue {
    pub fn new(metrics: crate::metrics::Shared) -> Queue {
        Queue {
            inner: Arc::new(Inner {
                pending: Mutex::new(true),
                bell: Condvar::new(),
                stopping: AtomicBool::new(false),
                running: Mutex::new(HashMap::new()),
                lost: Mutex::new(std::collections::BTreeSet::new()),
                abandoned: Mutex::new(std::collections::BTreeSet::new()),
                processor: Mutex::new(None),
                runners: Default::default(),
                last_heartbeat: Mutex::new(None),
                metrics,
                work_dir: Mutex::new(None),
                outdated: Mutex::new(None),
                exiting: AtomicBool::new(false),
            }),
        }
    }

    /// Wakes the processor: there may be a task to start.
    pub fn wake(&self) {
        ring(&self.inner);
    }

    /// Signals the runner of task `id`, if it runs on this node, to stop it now.
    /// (A task running elsewhere is stopped by its own node, which polls its state.)
    pub fn cancel(&self, id: i64) {
        if let Ok(running) = self.inner.running.lock() {
            if let Some(flag) = running.get(&id) {
                flag.store(true, Ordering::SeqCst);
            }
        }
        self.wake();
    }

    /// Why this node is stopping because the schema moved past it, if it is.
    pub fn outdated(&self) -> Option<String> {
        self.inner.outdated.lock().ok().and_then(|o| o.clone())
    }

    /// Starts the processor thread (after [`Queue::claim`]), and on PostgreSQL the
    /// thread that wakes it when another node changes the queue.
    pub fn start(&self, store: Store, settings: Settings) -> Result<()> {
        if store.is_postgres() {
            let weak = Arc::downgrade(&self.inner);
            let listening = store.clone();
            std::thread::Builder::new()
                .name("drydock-listen".into())
                .spawn(move || listen::listen(weak, listening))
                .map_err(|e| {
                    crate::error::Error::internal_from("starting the queue's listener", e)
                })?;
        }
        heartbeat::start_watchdog(&self.inner, &settings)?;
        output::start(&self.inner, &store, &settings)?;
        let weak = Arc::downgrade(&self.inner);
        let handle = std::thread::Builder::new()
            .name("drydock-queue".into())
            .spawn(move || process(weak, store, settings))
            .map_err(|e| crate::error::Error::internal_from("starting the queue processor", e))?;
        if let Ok(mut processor) = self.inner.processor.lock() {
            *processor = Some(handle);
        }
        Ok(())
    }

    /// How many tasks run on this node now.
    pub fn running_count(&self) -> usize {
        self.inner.running.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// The graceful stop of SIGTERM / Ctrl-C: claims nothing more, waits up to `grace`
    /// for the running tasks to end (beating the heartbeat meanwhile, so no other node
    /// takes this one for dead; `hurry` — a second signal — ends the wait), then cancels
    /// what is left (SIGTERM to its scripts,
    /// SIGKILL after `cancel_grace`), waits for the runners, and records the node as
    /// stopped. Returns how many tasks had to be cancelled.
    pub fn stop_gracefully(
        &self,
        store: &Store,
        settings: &Settings,
        grace: Duration,
        hurry: &AtomicBool,
    ) -> usize {
        let node = &settings.node;
        self.inner.stopping.store(true, Ordering::SeqCst);
        ring(&self.inner);
        self.join_processor();
        let deadline = std::time::Instant::now() + grace;
        let mut last_beat = std::time::Instant::now();
        let mut announced = false;
        while self.running_count() > 0
            && std::time::Instant::now() < deadline
            && !hurry.load(Ordering::SeqCst)
        {
            if !announced {
                println!(
                    "drydock: node {node} is stopping: waiting up to {} s for {} running task(s)",
                    grace.as_secs(),
                    self.running_count()
                );
                announced = true;
            }
            if last_beat.elapsed() >= settings.heartbeat {
                last_beat = std::time::Instant::now();
                let beat = store.bookkeeping_now(|tx| nodes::heartbeat(tx, node, clock::now_ms()));
                match beat {
                    Ok(()) => settings
                        .in_touch
                        .committed(last_beat, heartbeat::gap(settings)),
                    Err(e) => eprintln!("drydock: heartbeat while stopping: {e}"),
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut cancelled = 0;
        if self.running_count() > 0 {
            let now = clock::now_ms();
            let note = format!(
                "drydock: node {node} is stopping and the task did not end within the {} s grace period; canceling it",
                grace.as_secs()
            );
            let ids = store.bookkeeping_now(|tx| {
                let ids = tasks::cancel_for_shutdown(tx, node, now)?;
                for id in &ids {
                    tasks::append_log(tx, *id, &[(now, "stderr", note.clone())])?;
                }
                Ok(ids)
            });
            match ids {
                Ok(ids) => cancelled = ids.len(),
                Err(e) => eprintln!("drydock: cancelling the tasks of a stopping node: {e}"),
            }
            println!("drydock: node {node}: canceling {cancelled} task(s) still running");
        }
        self.shutdown();
        let stopped = store.bookkeeping_now(|tx| nodes::mark_stopped(tx, node, clock::now_ms()));
        if let Err(e) = stopped {
            eprintln!("drydock: recording that node {node} stopped: {e}");
        }
        cancelled
    }

    fn join_processor(&self) {
        let processor = self.inner.processor.lock().ok().and_then(|mut p| p.take());
        if let Some(handle) = processor {
            let _ = handle.join();
        }
    }

    /// Stops claiming, stops the scripts still running (SIGTERM, then SIGKILL after the
    /// grace period), and waits for the threads. Their tasks end `Failed` as interrupted.
    pub fn shutdown(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        if let Ok(running) = self.inner.running.lock() {
            for flag in running.values() {
                flag.store(true, Ordering::SeqCst);
            }
        }
        ring(&self.inner);
        self.join_processor();
        self.inner.runners.stop();
        if let Some(dir) = self.inner.work_dir.lock().ok().and_then(|mut d| d.take()) {
            scripts::leave_work_dir(&dir);
        }
    }
}

fn ring(inner: &Inner) {
    if let Ok(mut pending) = inner.pending.lock() {
        *pending = true;
        inner.bell.notify_all();
    }
}

/// The processor loop. It holds only a weak reference: when every `Queue` handle is
/// gone (the server was dropped), it ends.
///
/// Between rounds it sleeps until rung (a task queued or ended in this process), until
/// the next scheduled time or the poll interval, and every `pickup_check` it reads the
/// queue's signature: when another node queued a task, a task ended elsewhere, or this
/// node's limits changed, it runs a round at once.
fn process(weak: Weak<Inner>, store: Store, settings: Settings) {
    let signature = |store: &Store| {
        store
            .read_now(|c| tasks::queue_signature(c, &settings.node))
            .ok()
    };
    loop {
        let Some(inner) = weak.upgrade() else { return };
        if inner.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (sleep, seen) = match dispatch(&inner, &store, &settings) {
            Ok(round) => (round.sleep, Some(round.signature)),
            Err(e) => {
                eprintln!("drydock: queue processor: {e}");
                (settings.poll, None)
            }
        };
        outdated::exit_if_outdated(&inner);
        let deadline = std::time::Instant::now() + sleep;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            let Ok(mut pending) = inner.pending.lock() else {
                return;
            };
            if !*pending {
                let slice = left.min(settings.pickup_check);
                pending = match inner.bell.wait_timeout(pending, slice) {
                    Ok((guard, _)) => guard,
                    Err(_) => return,
                };
            }
            if *pending {
                *pending = false;
                break;
            }
            drop(pending);
            if inner.stopping.load(Ordering::SeqCst) || signature(&store) != seen {
                break;
            }
        }
    }
}

/// What a round leaves for the wait after it.
/// How soon a round that found the claim lock taken comes again.
const BUSY_AGAIN: Duration = Duration::from_millis(50);

struct Round {
    /// How long to sleep: until the next scheduled time, at most the poll interval.
    sleep: Duration,
    /// The queue's signature as the round left it: a later change is another
    /// process's work.
    signature: tasks::QueueSignature,
}

/// One round, in one write transaction: queue due system tasks, expire overdue
/// tasks, claim into free slots, and read when the next scheduled thing is due; then
/// start the runners (and start or end a maintenance window whose time has come).
fn dispatch(inner: &Arc<Inner>, store: &Store, settings: &Settings) -> Result<Round> {
    let now = clock::now_ms();
    let node = settings.node.clone();
    let cap = settings.task_cap;
    // Most wakes after a task's end find nothing to do: a read (no write lock, which
    // the next deployment's POST may be waiting for) says so, and the round ends there.
    if !inner.heartbeat_would_be_due(settings.heartbeat) {
        let quiet = store.read_now(|c| {
            let (due, expired) = claim::work_due(c, now)?;
            let system_due = schedules::next_due(c)?.is_some_and(|at| at <= now);
            if expired || system_due || crate::maintenance::window_due(c, now)? {
                return Ok(None);
            }
            if due && free_slots(c, &node, cap)? > 0 {
                return Ok(None);
            }
            Ok(Some(next_round(c, &node, now, settings)?))
        })?;
        if let Some(round) = quiet {
            return Ok(round);
        }
    }
    // The heartbeat in a short transaction of its own, not behind the claim lock: a
    // round waiting for that lock (held by a node cut off mid-round, until its session
    // ends) must not make this live node look silent to the others.
    if inner.heartbeat_due(settings.heartbeat) {
        heartbeat::beat(inner, store, settings, now)?;
    }
    let (claimed, round, windows_due) = store.bookkeeping_now(|tx| {
        // A round does not wait for another node's: while that one holds the claim
        // lock (for milliseconds, or until the session of a node cut off mid-round is
        // ended), this node's loop, and so its heartbeat, goes on, and it comes again
        // shortly.
        if !claim::try_lock_queue(tx)? {
            let mut round = next_round(tx, &node, now, settings)?;
            round.sleep = round.sleep.min(BUSY_AGAIN);
            return Ok((Vec::new(), round, false));
        }
        // Scheduled maintenance windows start and end on time, whichever node sees it
        // first (in their own change, after this transaction).
        let windows_due = crate::maintenance::window_due(tx, now)?;
        // The system-task timer: queue what is due (once, whatever the processes).
        schedules::queue_due(tx, now)?;
        for id in tasks::expire_overdue(tx, now)? {
            if let Some(t) = tasks::find(tx, id)? {
                announce::ended(tx, &t, t.state, t.error_message.as_deref())?;
            }
        }
        let stale = inner.outdated.lock().map(|o| o.is_some()).unwrap_or(true);
        let slots = if stale {
            0
        } else {
            free_slots(tx, &node, cap)?
        };
        let claimed = claim::claim(tx, &node, now, slots)?;
        let claimed = crate::freezes::gate(tx, claimed, now)?;
        for t in &claimed {
            announce::started(tx, t, &node)?;
        }
        // A round ends the quiet a cancel or an expiry brought as surely as a task's end.
        crate::maintenance::announce_if_quiet(tx, now)?;
        tasks::compact_counts(tx)?;
        Ok((claimed, next_round(tx, &node, now, settings)?, windows_due))
    })?;
    if windows_due {
        crate::maintenance::tick(store, &crate::access::Proof::schedule())?;
    }
    for task in claimed {
        handoff::start(inner, store, settings, task, now)?;
    }
    Ok(round)
}

/// How many more tasks this node may start now: its cap less what it runs, none while
/// it drains. The node's row holds its live drain flag and cap (changed from the Nodes
/// page, the API or the command line); `cap` is the configured one, for a node not
/// registered yet.
fn free_slots(conn: &crate::store::Conn, node: &str, cap: usize) -> Result<usize> {
    let cap = match nodes::node_limits(conn, node)? {
        Some((true, _)) => return Ok(0),
        Some((false, cap)) => cap.max(0) as usize,
        None => cap,
    };
    Ok(cap.saturating_sub(tasks::running_on(conn, node)? as usize))
}

/// When the next round is due (the next scheduled task, system task or window, at most
/// the poll interval away), and the queue's signature as this round leaves it.
fn next_round(
    conn: &crate::store::Conn,
    node: &str,
    now: i64,
    settings: &Settings,
) -> Result<Round> {
    let task = tasks::next_scheduled(conn, now)?;
    let system = schedules::next_due(conn)?;
    let window = crate::maintenance::next_event(conn)?;
    let next = task.into_iter().chain(system).chain(window).min();
    let until_next = next.map(|at| Duration::from_millis((at - clock::now_ms()).max(0) as u64));
    Ok(Round {
        sleep: until_next.map_or(settings.poll, |d| d.min(settings.poll)),
        signature: tasks::queue_signature(conn, node)?,
    })
}

/// The longest the supervisor waits for an event before it looks at cancel and timeout.
const TICK: Duration = Duration::from_millis(50);

/// The longest wait between two attempts of [`until_committed`].
const RETRY_AT_MOST: Duration = Duration::from_secs(5);

/// Runs `attempt` until it succeeds, waiting longer after each failure (from 100 ms
/// up to [`RETRY_AT_MOST`]), saying once that `what` waits for the database and once
/// that it got through: for records that must not be lost to a database that is
/// restarting or unreachable for a while.
fn until_committed<T>(what: &str, mut attempt: impl FnMut() -> Result<T>) -> T {
    let mut wait = Duration::from_millis(100);
    let mut failures = 0u32;
    loop {
        match attempt() {
            Ok(done) => {
                if failures > 0 {
                    eprintln!("drydock: recorded {what} after {failures} failed attempt(s)");
                }
                return done;
            }
            Err(e) => {
                if failures == 0 {
                    eprintln!("drydock: could not record {what} yet, retrying: {e}");
                }
                failures += 1;
                std::thread::sleep(wait);
                wait = (wait * 2).min(RETRY_AT_MOST);
            }
        }
    }
}
