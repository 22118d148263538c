//! Server nodes: drain and task cap, changed by administrators (Nodes API, command line)
//! and read by each node's queue every round. No HTTP in here.

use crate::auth::Proof;
use crate::error::{Error, Result};
use crate::store::system::{self, Node};
use crate::store::{events, Store};

pub const MAX_TASK_CAP: i64 = 1000;

/// Octopus's id for a node.
pub fn node_id(name: &str) -> String {
    format!("OctopusServerNodes-{name}")
}

/// A node is offline when it stopped, or has not been heard from within the threshold.
pub fn is_offline(node: &Node, now: i64, offline_ms: i64) -> bool {
    node.stopped_at.is_some() || now - node.last_seen > offline_ms
}

/// What the Nodes page and `drydock node list` show: `Stopped` (on purpose), `Offline`
/// (silent for longer than the threshold), `Draining` or `Running`.
pub fn status(node: &Node, now: i64, offline_ms: i64) -> &'static str {
    if node.stopped_at.is_some() {
        "Stopped"
    } else if is_offline(node, now, offline_ms) {
        "Offline"
    } else if node.draining {
        "Draining"
    } else {
        "Running"
    }
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("No server node is named '{name}'."))
}

/// Drains a node (it finishes what it runs and claims nothing new) or ends its drain.
pub async fn set_draining(
    store: &Store,
    proof: &Proof,
    name: &str,
    draining: bool,
) -> Result<Node> {
    let name = name.to_string();
    store
        .change(proof, move |tx| {
            let node = system::find_node(tx, &name)?.ok_or_else(|| not_found(&name))?;
            if node.draining != draining {
                system::set_draining(tx, &name, draining)?;
                let (category, text) = if draining {
                    ("NodeDrained", format!("Drained node {name}"))
                } else {
                    ("NodeUndrained", format!("Ended the drain of node {name}"))
                };
                events::record(tx, category, &text, &[node_id(&name)])?;
            }
            system::find_node(tx, &name)?.ok_or_else(|| not_found(&name))
        })
        .await
}

/// Sets how many tasks a node runs at once (until it restarts with its configured cap).
pub async fn set_task_cap(store: &Store, proof: &Proof, name: &str, cap: i64) -> Result<Node> {
    if !(1..=MAX_TASK_CAP).contains(&cap) {
        return Err(Error::bad(
            "MaxConcurrentTasks",
            format!("must be between 1 and {MAX_TASK_CAP}"),
        ));
    }
    let name = name.to_string();
    store
        .change(proof, move |tx| {
            let node = system::find_node(tx, &name)?.ok_or_else(|| not_found(&name))?;
            if node.task_cap != cap {
                system::set_task_cap(tx, &name, cap)?;
                let text = format!("Set the task cap of node {name} to {cap}");
                events::record(tx, "NodeTaskCapChanged", &text, &[node_id(&name)])?;
            }
            system::find_node(tx, &name)?.ok_or_else(|| not_found(&name))
        })
        .await
}
