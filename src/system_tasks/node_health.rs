//! The `NodeHealth` system task: on demand or on its timer, records this node's
//! heartbeat and fails the tasks of offline nodes as every heartbeat does
//! ([`crate::queue::offline`]), saying what it did in its log.

use std::time::Duration;

use super::{Context, Stopped, Work};
use crate::clock;
use crate::queue::offline::{fail_silent_nodes, stop_leftovers};
use crate::store::nodes;

pub fn run(ctx: &Context) -> Work {
    let now = clock::now_ms();
    let s = ctx.queue;
    ctx.store
        .bookkeeping_now(|tx| nodes::heartbeat(tx, &s.node, now))?;
    let offline = Duration::from_millis(s.node_offline_ms.max(0) as u64);
    if !s.in_touch.unbroken_for(offline) {
        ctx.log(format!(
            "Heartbeat of {} recorded. No node was declared offline: this node has not yet \
             been in touch with the database for {} s without a break.",
            s.node,
            offline.as_secs()
        ));
        return Ok(Ok(()));
    }
    if ctx.should_stop() {
        return Ok(Err(Stopped));
    }
    let failed = ctx
        .store
        .bookkeeping_now(|tx| fail_silent_nodes(tx, &s.node, now, s.node_offline_ms))?;
    for (node, ids) in failed {
        let killed = stop_leftovers(s, &ids);
        ctx.log(format!(
            "Node {node} is offline: failed {} task(s) it left running and stopped {killed} leftover process(es) of their scripts.",
            ids.len()
        ));
    }
    ctx.log(format!("Heartbeat of {} recorded.", s.node));
    Ok(Ok(()))
}
