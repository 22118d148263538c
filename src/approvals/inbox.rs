//! What the pages show of approvals: each interruption with its deployment, the rule in
//! words as it is now, and whether the viewer could decide on it (a hint for the page;
//! the decision itself is judged again inside its change).

use super::{judge, rules};
use crate::access::Actor;
use crate::error::Result;
use crate::store::approvals::{self, Interruption, Rule};
use crate::store::tasks::{self, Task};
use crate::store::Conn;

/// The Approvals page lists at most this many.
pub const LISTED: i64 = 500;

/// One approval, as a page shows it.
pub struct Shown {
    pub interruption: Interruption,
    pub task: Task,
    /// "Production: approved by a Project Lead, not the person who queued it".
    pub rule: String,
    pub note_required: bool,
    /// The viewer could decide on it now (pending, and the rule allows them).
    pub yours: bool,
    /// Why not, when it is pending but not theirs: "you queued it", "needs a Project Lead".
    pub why_not: String,
}

fn rule_now(conn: &Conn, i: &Interruption) -> Result<Rule> {
    Ok(match i.rule_id {
        Some(id) => approvals::find_rule(conn, id)?.unwrap_or_else(|| i.rule.clone()),
        None => i.rule.clone(),
    })
}

fn shown(conn: &Conn, i: Interruption, task: Task, actor: &Actor) -> Result<Shown> {
    let rule = rule_now(conn, &i)?;
    let (envs, people) = rules::names(conn, &rule)?;
    let (yours, why_not) = if i.is_pending() {
        match judge(conn, &rule, actor, i.requested_by) {
            Ok(_) => (true, String::new()),
            Err(e) => (false, e.public_message()),
        }
    } else {
        (false, String::new())
    };
    Ok(Shown {
        rule: rules::describe(&rule, &envs, &people),
        note_required: rule.note_required,
        interruption: i,
        task,
        yours,
        why_not,
    })
}

/// Every pending approval, oldest first, for `actor`.
pub fn pending(conn: &Conn, actor: &Actor) -> Result<Vec<Shown>> {
    let mut out = Vec::new();
    for i in approvals::pending(conn, LISTED)? {
        if let Some(task) = tasks::find(conn, i.task_id)? {
            out.push(shown(conn, i, task, actor)?);
        }
    }
    Ok(out)
}

/// A task's approvals, pending or decided, in the order they were raised.
pub fn of_task(conn: &Conn, task: &Task, actor: &Actor) -> Result<Vec<Shown>> {
    approvals::of_task(conn, task.id)?
        .into_iter()
        .map(|i| shown(conn, i, task.clone(), actor))
        .collect()
}
