//! A node's view of its own tasks against the database's, at each heartbeat.

use super::{tasks, Inner};
use crate::error::Result;

/// At a heartbeat: a task the database says this node runs, which this node does not
/// run, at two heartbeats in a row (a task claimed is registered as running a moment
/// after its claim commits), is failed as interrupted, saying why: nothing else would
/// ever end it.
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
    for id in missing.intersection(&lost) {
        let message = format!(
            "interrupted: node {node} was no longer running it (its end could not be recorded)"
        );
        if tasks::fail_running(tx, *id, node, &message, now)? {
            eprintln!("drydock: ServerTasks-{id} was recorded as running here but was not: failed");
        }
    }
    *lost = missing.difference(&lost).copied().collect();
    Ok(())
}
