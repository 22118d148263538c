//! A node's view of its own tasks against the database's, at each heartbeat; and what
//! becomes of a task whose runner failed inside drydock.

use super::{tasks, Inner};
use crate::clock;
use crate::error::Result;

/// At a heartbeat: a task the database says this node runs, which this node does not
/// run, at two heartbeats in a row (a task claimed is registered as running a moment
/// after its claim commits), is ended, saying why: nothing else would ever end it. One
/// this node never began (a claim that committed though its commit seemed to fail, as
/// when the connection drops at `COMMIT`) goes back to the queue; one whose runner
/// failed inside drydock is failed as interrupted.
pub(super) fn reconcile(
    inner: &Inner,
    tx: &crate::store::BookTx,
    node: &str,
    now: i64,
) -> Result<()> {
    let running: std::collections::BTreeSet<i64> = match inner.running.lock() {
        Ok(running) => running.keys().copied().collect(),
        Err(_) => return Ok(()),
    };
    let missing: std::collections::BTreeSet<i64> = tasks::ids_running_on(tx, node)?
        .into_iter()
        .filter(|id| !running.contains(id))
        .collect();
    let Ok(mut lost) = inner.lost.lock() else {
        return Ok(());
    };
    let abandoned = inner
        .abandoned
        .lock()
        .map(|a| a.clone())
        .unwrap_or_default();
    for id in missing.intersection(&lost) {
        if abandoned.contains(id) {
            let message = format!(
                "interrupted: node {node} was no longer running it (its end could not be recorded)"
            );
            if tasks::fail_running(tx, *id, node, &message, now)? {
                eprintln!(
                    "drydock: ServerTasks-{id} was recorded as running here but was not: failed"
                );
            }
        } else {
            tasks::release(tx, *id, node, now)?;
            // One cancelled meanwhile (`Cancelling`, not given back) ends canceled.
            tasks::finish(
                tx,
                *id,
                crate::model::TaskState::Canceled,
                Some("Canceled before it began."),
                None,
                now,
            )?;
            eprintln!(
                "drydock: ServerTasks-{id} was recorded as claimed here but never began: back in the queue"
            );
        }
    }
    *lost = missing.difference(&lost).copied().collect();
    Ok(())
}

/// A task whose runner failed inside drydock (a bug: the panic's message is on
/// standard error) is failed saying so, and what its script left is stopped, instead of
/// staying `Executing` with nothing running it. Should the end not commit, the next
/// heartbeats' reconciliation fails it, as it is no longer registered as running.
pub(super) fn abandon(
    inner: &Inner,
    store: &crate::store::Store,
    settings: &super::Settings,
    id: i64,
    panic: &(dyn std::any::Any + Send),
) {
    let why = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "an internal error".into());
    if let Ok(mut abandoned) = inner.abandoned.lock() {
        abandoned.insert(id);
    }
    let message = format!("drydock failed internally while running it: {why}");
    let failed = store.bookkeeping_now(|tx| {
        tasks::fail_running(tx, id, &settings.node, &message, clock::now_ms())
    });
    if let Err(e) = failed {
        eprintln!("drydock: recording the failure of ServerTasks-{id}: {e}");
    }
    if let Ok(user) = &settings.script_user {
        crate::process::kill_leftovers(&settings.work_dir, &[id], user.uid());
    }
}
