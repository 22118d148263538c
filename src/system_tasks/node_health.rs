//! `NodeHealth`: records this node's heartbeat, and fails the tasks of nodes that have
//! been silent for longer than the offline threshold.

use super::{Context, Stopped, Work};
use crate::clock;
use crate::store::{system, tasks};

pub const OFFLINE_MESSAGE: &str = "interrupted: server node offline";

pub fn run(ctx: &Context) -> Work {
    let now = clock::now_ms();
    let s = ctx.settings;
    ctx.store
        .bookkeeping_now(|tx| system::heartbeat(tx, &s.node, now))?;
    let silent = ctx
        .store
        .read_now(|c| system::silent_nodes(c, now - s.node_offline_ms, &s.node))?;
    for node in silent {
        if ctx.should_stop() {
            return Ok(Err(Stopped));
        }
        let failed = ctx
            .store
            .bookkeeping_now(|tx| tasks::fail_interrupted(tx, &node, OFFLINE_MESSAGE, now))?;
        if !failed.is_empty() {
            // Nodes share one host: what the dead node's scripts left running is here.
            let killed = s.script_uid.map_or(0, |uid| {
                crate::process::kill_leftovers(&s.work_dir, &failed, uid)
            });
            ctx.log(format!(
                "Node {node} is offline: failed {} task(s) it left running and stopped {killed} leftover process(es) of their scripts.",
                failed.len()
            ));
        }
    }
    ctx.log(format!("Heartbeat of {} recorded.", s.node));
    Ok(Ok(()))
}
