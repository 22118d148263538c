//! Server nodes: drain and task cap, changed by administrators (Nodes API, command line)
//! and read by each node's queue every round. No HTTP in here.

use crate::error::{Error, Result};
use crate::model::NodeStatus;
use crate::store::nodes::{self, NameHolder, Node, Owner};
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
pub fn status(node: &Node, now: i64, offline_ms: i64) -> NodeStatus {
    if node.stopped_at.is_some() {
        NodeStatus::Stopped
    } else if is_offline(node, now, offline_ms) {
        NodeStatus::Offline
    } else if node.draining {
        NodeStatus::Draining
    } else {
        NodeStatus::Running
    }
}

/// This process, as the holder of its node's name.
pub fn this_process() -> Owner {
    let pid = std::process::id() as i64;
    Owner {
        host: host_identity(),
        pid,
        start: process_start(pid).unwrap_or(0),
    }
}

/// The host name and the kernel's boot id: a process recorded under another boot (the
/// host restarted) or another host is judged by its heartbeat instead of its pid.
fn host_identity() -> String {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{}/{}",
        read("/proc/sys/kernel/hostname"),
        read("/proc/sys/kernel/random/boot_id")
    )
}

/// When process `pid` started (clock ticks since boot), if it runs (a zombie does not).
fn process_start(pid: i64) -> Option<i64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After "pid (comm) ": state is field 3, starttime field 22.
    let rest: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
    if matches!(rest.first(), Some(&"Z") | Some(&"X")) {
        return None;
    }
    rest.get(19)?.parse().ok()
}

/// Whether a node name's holder is still alive, so that another process must not take
/// the name: on this host (and boot), whether its process still runs; elsewhere (or for
/// a row that does not say), whether its heartbeat is fresher than `offline_ms`. A node
/// that stopped on purpose holds nothing; this process does not conflict with itself.
pub fn holder_is_live(holder: &NameHolder, me: &Owner, now: i64, offline_ms: i64) -> bool {
    if holder.stopped {
        return false;
    }
    match &holder.owner {
        Some(owner) if owner == me => false,
        Some(owner) if owner.host == me.host => process_start(owner.pid) == Some(owner.start),
        _ => now - holder.last_seen < offline_ms,
    }
}

/// The refusal for a node that would start under a live node's name.
pub fn name_taken(name: &str, holder: &NameHolder, me: &Owner) -> Error {
    let which = match &holder.owner {
        Some(owner) if owner.host == me.host => format!("process {} on this host", owner.pid),
        _ => "a node whose heartbeat is recent".to_string(),
    };
    Error::Conflict(format!(
        "another live node is already named '{name}' ({which}); nodes sharing a data directory need \
         their own names: start this one with --node-name NAME (or DRYDOCK_NODE_NAME, or \
         node_name in drydock.toml)"
    ))
}

fn not_found(name: &str) -> Error {
    Error::NotFound(format!("No server node is named '{name}'."))
}

/// Drains a node (it finishes what it runs and claims nothing new) or ends its drain.
pub async fn set_draining(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: &str,
    draining: bool,
) -> Result<Node> {
    let name = name.to_string();
    store
        .change(admission, move |tx| {
            let node = nodes::find_node(tx, &name)?.ok_or_else(|| not_found(&name))?;
            if node.draining != draining {
                nodes::set_draining(tx, &name, draining)?;
                let (category, text) = if draining {
                    ("NodeDrained", format!("Drained node {name}"))
                } else {
                    ("NodeUndrained", format!("Ended the drain of node {name}"))
                };
                events::record(tx, category, &text, &[node_id(&name)])?;
            }
            nodes::find_node(tx, &name)?.ok_or_else(|| not_found(&name))
        })
        .await
}

/// Sets how many tasks a node runs at once (until it restarts with its configured cap).
pub async fn set_task_cap(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: &str,
    cap: i64,
) -> Result<Node> {
    if !(1..=MAX_TASK_CAP).contains(&cap) {
        return Err(Error::bad(
            "MaxConcurrentTasks",
            format!("must be between 1 and {MAX_TASK_CAP}"),
        ));
    }
    let name = name.to_string();
    store
        .change(admission, move |tx| {
            let node = nodes::find_node(tx, &name)?.ok_or_else(|| not_found(&name))?;
            if node.task_cap != cap {
                nodes::set_task_cap(tx, &name, cap)?;
                let text = format!("Set the task cap of node {name} to {cap}");
                events::record(tx, "NodeTaskCapChanged", &text, &[node_id(&name)])?;
            }
            nodes::find_node(tx, &name)?.ok_or_else(|| not_found(&name))
        })
        .await
}
