//! Why a queued task has not started yet, in words a task page can show: an approval
//! not yet given, its scheduled time, the task holding its project and environment, a task ahead of it for the same
//! pair, every node draining or stopped, or every node at its task cap. Read-only; the
//! claim rules it explains are `store::claim::claim`'s.

use crate::store::Conn;

use crate::cluster;
use crate::error::Result;
use crate::model::TaskState;
use crate::store::nodes;
use crate::store::tasks::{self, Task};

#[derive(Debug, Clone, PartialEq)]
pub enum Waiting {
    /// Its approvals are not all given: no node claims it until they are.
    Approval,
    /// Queued for later: it joins the queue at `starts`, and gives up at `expires`.
    Scheduled { starts: i64, expires: Option<i64> },
    /// A deployment freeze (`OnStartInFreeze: Hold`) keeps it until `until`.
    Frozen { until: i64 },
    /// Another task of the same project and environment is running.
    HeldBy { task: i64, description: String },
    /// An earlier task of the same project and environment is queued ahead of it.
    Behind { task: i64, description: String },
    /// No node is running: nothing claims tasks.
    NoNode,
    /// Every running node is draining: none claims new tasks.
    AllDraining { nodes: usize },
    /// Every node that claims tasks is at its task cap.
    AtCap { running: i64, cap: i64 },
    /// Nothing holds it: the next queue round starts it.
    Starting,
}

impl Waiting {
    /// The explanation as a sentence; task ids are the caller's to link.
    pub fn describe(&self) -> String {
        match self {
            Waiting::Approval => {
                "Waiting for approval: no node starts it until it is approved.".into()
            }
            Waiting::Scheduled { .. } => "It is scheduled for later.".into(),
            Waiting::Frozen { until } => format!(
                "Held by a deployment freeze until {}: it starts when the freeze ends (its log names the freeze).",
                crate::clock::display(*until)
            ),
            Waiting::HeldBy { task, description } => format!(
                "Waiting for ServerTasks-{task} ({description}) to finish: one task per project and environment runs at a time."
            ),
            Waiting::Behind { task, description } => format!(
                "Queued behind ServerTasks-{task} ({description}) for the same project and environment."
            ),
            Waiting::NoNode => "No server node is running to start it.".into(),
            Waiting::AllDraining { nodes } => format!(
                "Every running node ({nodes}) is draining: none starts new tasks until one is undrained."
            ),
            Waiting::AtCap { running, cap } => format!(
                "Every node is at its task cap ({running} running of {cap}): it starts when a slot frees."
            ),
            Waiting::Starting => "Nothing holds it: it starts within moments.".into(),
        }
    }

    /// The task it waits for, if it waits for one.
    pub fn task(&self) -> Option<i64> {
        match self {
            Waiting::HeldBy { task, .. } | Waiting::Behind { task, .. } => Some(*task),
            _ => None,
        }
    }
}

/// What a queued task waits for, as of `now`; `None` if it is not queued.
pub fn waiting_for(conn: &Conn, task: &Task, now: i64, offline_ms: i64) -> Result<Option<Waiting>> {
    if task.state != TaskState::Queued {
        return Ok(None);
    }
    if task.awaiting_approval {
        return Ok(Some(Waiting::Approval));
    }
    if task.queue_time > now {
        return Ok(Some(Waiting::Scheduled {
            starts: task.queue_time,
            expires: task.queue_time_expiry,
        }));
    }
    if let Some(until) = task.held_until.filter(|u| *u > now) {
        return Ok(Some(Waiting::Frozen { until }));
    }
    if let Some(tag) = &task.concurrency_tag {
        if let Some((id, description)) = tasks::running_with_tag(conn, tag)? {
            return Ok(Some(Waiting::HeldBy {
                task: id,
                description,
            }));
        }
        if let Some((id, description)) = tasks::due_ahead_with_tag(conn, task, now)? {
            return Ok(Some(Waiting::Behind {
                task: id,
                description,
            }));
        }
    }
    let nodes = nodes::nodes(conn)?;
    let live: Vec<&nodes::Node> = nodes
        .iter()
        .filter(|n| !cluster::is_offline(n, now, offline_ms))
        .collect();
    if live.is_empty() {
        return Ok(Some(Waiting::NoNode));
    }
    let claiming: Vec<&&nodes::Node> = live.iter().filter(|n| !n.draining).collect();
    if claiming.is_empty() {
        return Ok(Some(Waiting::AllDraining { nodes: live.len() }));
    }
    let running: i64 = claiming.iter().map(|n| n.running).sum();
    let cap: i64 = claiming.iter().map(|n| n.task_cap).sum();
    if claiming.iter().all(|n| n.running >= n.task_cap) {
        return Ok(Some(Waiting::AtCap { running, cap }));
    }
    Ok(Some(Waiting::Starting))
}
