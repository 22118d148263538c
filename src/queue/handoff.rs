//! Handing a claimed task to a runner thread: registered as running here first, then
//! run; the thread, once the task ends, claims its next one itself in the transaction
//! that records the end, and runs it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{free_slots, reconcile, runner, Inner, Queue, Settings};
use crate::clock;
use crate::error::Result;
use crate::model::TaskState;
use crate::store::{tasks, Store};

/// Registers a claimed task as running here and hands it to a runner thread. The
/// thread, once the task ends, claims its next task itself in the transaction that
/// records the end (while this node is not stopping or draining and is under its cap),
/// and runs it: a busy queue then costs no round and no hand-off per task.
pub(super) fn start(
    inner: &Arc<Inner>,
    store: &Store,
    settings: &Settings,
    task: tasks::Task,
    now: i64,
) -> Result<()> {
    let id = task.id;
    let flag = running(inner, &task);
    let (task_store, task_settings) = (store.clone(), settings.clone());
    let queue = Queue {
        inner: Arc::clone(inner),
    };
    let spawned = inner.runners.run(Box::new(move || {
        let mut current = Some((task, flag));
        while let Some((task, flag)) = current.take() {
            let (id, kind, began) = (task.id, task.name, std::time::Instant::now());
            let node = task_settings.node.clone();
            let (cap, follower) = (task_settings.task_cap, Arc::clone(&queue.inner));
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                runner::run(&task_store, &task_settings, task, &flag, |tx| {
                    let stale = follower
                        .outdated
                        .lock()
                        .map(|o| o.is_some())
                        .unwrap_or(true);
                    if follower.stopping.load(Ordering::SeqCst) || stale {
                        return Ok(Vec::new());
                    }
                    let slots = free_slots(tx, &node, cap)?.min(1);
                    let now = clock::now_ms();
                    crate::freezes::gate(
                        tx,
                        crate::store::claim::claim(tx, &node, now, slots)?,
                        now,
                    )
                })
            }));
            let next = ran.unwrap_or_else(|panic| {
                reconcile::abandon(
                    &queue.inner,
                    &task_store,
                    &task_settings,
                    id,
                    panic.as_ref(),
                );
                Vec::new()
            });
            queue
                .inner
                .metrics
                .observe_task(kind.as_str(), began.elapsed().as_secs_f64());
            if let Ok(mut running) = queue.inner.running.lock() {
                running.remove(&id);
            }
            if let Some(next) = next.into_iter().next() {
                let flag = running(&queue.inner, &next);
                // A stop that began after the claim: give the task back unstarted
                // (registered first, so a graceful stop either waits for it or is seen
                // here).
                if queue.inner.stopping.load(Ordering::SeqCst) {
                    let (next_id, node) = (next.id, task_settings.node.clone());
                    let released = task_store
                        .bookkeeping_now(|tx| tasks::release(tx, next_id, &node, clock::now_ms()));
                    if let Err(e) = released {
                        eprintln!("drydock: giving back ServerTasks-{next_id}: {e}");
                    }
                    if let Ok(mut running) = queue.inner.running.lock() {
                        running.remove(&next_id);
                    }
                } else {
                    current = Some((next, flag));
                }
            }
        }
        queue.wake();
    }));
    if let Err(e) = spawned {
        // Not started: should this record fail, the reconciliation gives it back.
        if let Ok(mut running) = inner.running.lock() {
            running.remove(&id);
        }
        let message = format!("could not start a thread for the task: {e}");
        store.bookkeeping_now(|tx| {
            tasks::finish(tx, id, TaskState::Failed, Some(&message), None, now)
        })?;
    }
    Ok(())
}

/// Records a claimed task as running on this node, with its cancel flag.
pub(super) fn running(inner: &Inner, task: &tasks::Task) -> Arc<AtomicBool> {
    let waited = task.start_time.unwrap_or(task.queue_time) - task.queue_time;
    inner.metrics.observe_queue_to_start(waited as f64 / 1000.0);
    let flag = Arc::new(AtomicBool::new(false));
    if let Ok(mut running) = inner.running.lock() {
        running.insert(task.id, Arc::clone(&flag));
    }
    flag
}
