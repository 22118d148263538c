//! Freezes applied to deployments: when one is created (refused while a freeze is on,
//! unless overridden) and when one is claimed to start (failed, or held until the
//! freeze ends, unless its override names every freeze then on).

use super::{in_force, Freeze, OnStart, Window};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::freezes as rows;
use crate::store::tasks::{self, Task};
use crate::store::{BookTx, ChangeTx, Conn};

/// An override: the freezes (their numbers) a deployment may pass, and why.
#[derive(Clone, Debug)]
pub struct Override {
    pub freezes: Vec<i64>,
    pub reason: String,
}

/// Octopus's words for an override that names no freeze blocking the deployment.
pub const NO_VALID_FREEZES: &str = "Unable to override freezes, no valid freezes were specified.";

/// What a creation check found: the freezes an override let the deployment through.
pub struct CreationCheck {
    pub overridden: Vec<Freeze>,
}

fn names(freezes: &[(Freeze, Window)]) -> String {
    freezes
        .iter()
        .map(|(f, (_, end))| {
            format!(
                "'{}' until {} ({})",
                f.row.name,
                clock::display(*end),
                f.id()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses a deployment of `project` to `environment` created now, due at `due`, while
/// a freeze is on over them that is still on at `due`, naming the freezes and when they
/// end (one scheduled for after the freeze ends is let through: what a freeze does at
/// its start is the claim's to decide); with an override, only the freezes it names
/// may be on, and it must name no other.
pub fn check_creation(
    tx: &ChangeTx,
    (project, environment): (i64, i64),
    where_: &str,
    due: i64,
    overriding: Option<&Override>,
) -> Result<CreationCheck> {
    let now = clock::now_ms();
    let mut on = in_force(tx, project, environment, now)?;
    on.retain(|(_, (_, end))| *end > due.max(now));
    let Some(o) = overriding else {
        if on.is_empty() {
            return Ok(CreationCheck {
                overridden: Vec::new(),
            });
        }
        let last_end = on.iter().map(|(_, (_, end))| *end).max().unwrap_or(now);
        return Err(Error::Conflict(format!(
            "Deployments to {where_} are blocked by deployment freeze{} {}. Schedule it for after {}, or override the freeze.",
            if on.len() == 1 { "" } else { "s" },
            names(&on),
            clock::display(last_end)
        )));
    };
    if o.reason.trim().is_empty() {
        return Err(Error::bad("Reason", "is required to override a freeze"));
    }
    let blocking = |id: &i64| on.iter().any(|(f, _)| f.row.id == *id);
    if o.freezes.is_empty() || !o.freezes.iter().all(blocking) {
        return Err(Error::BadRequest(
            NO_VALID_FREEZES.into(),
            vec![NO_VALID_FREEZES.into()],
        ));
    }
    let rest: Vec<(Freeze, Window)> = on
        .iter()
        .filter(|(f, _)| !o.freezes.contains(&f.row.id))
        .cloned()
        .collect();
    if !rest.is_empty() {
        return Err(Error::Conflict(format!(
            "Deployments to {where_} are also blocked by deployment freeze{} {}, which the override does not name.",
            if rest.len() == 1 { "" } else { "s" },
            names(&rest)
        )));
    }
    Ok(CreationCheck {
        overridden: on.into_iter().map(|(f, _)| f).collect(),
    })
}

/// What the queue does with a deployment a freeze covers at its start.
enum Verdict {
    Start(Vec<String>),
    Fail(String),
    Hold(i64, String),
}

/// What the freezes on over a deployment's project and environment at `at` make of it:
/// the one rule that the claim applies (`gate`) and the timeline foresees.
pub(super) enum Judgement {
    /// No freeze is on: it starts.
    Free,
    /// Freezes are on, every one passed by its override (with its reason).
    Overridden(Vec<(Freeze, Window)>, String),
    /// `Fail` freezes are on that its override does not pass.
    Fails(Vec<(Freeze, Window)>),
    /// Only `Hold` freezes are on that it does not pass: it waits until the last ends.
    Held(Vec<(Freeze, Window)>, i64),
}

pub(super) fn judge(conn: &Conn, task: &Task, at: i64) -> Result<Judgement> {
    let (Some(project), Some(environment)) = (task.project_id, task.environment_id) else {
        return Ok(Judgement::Free);
    };
    let on = in_force(conn, project, environment, at)?;
    if on.is_empty() {
        return Ok(Judgement::Free);
    }
    let passed = rows::override_of_task(conn, task.id)?;
    let (through, blocking): (Vec<_>, Vec<_>) = on.into_iter().partition(|(f, _)| {
        passed
            .as_ref()
            .is_some_and(|(ids, _)| ids.contains(&f.row.id))
    });
    if blocking.is_empty() {
        let reason = passed.map(|(_, r)| r).unwrap_or_default();
        return Ok(Judgement::Overridden(through, reason));
    }
    if blocking.iter().any(|(f, _)| f.on_start == OnStart::Fail) {
        let failing = blocking
            .into_iter()
            .filter(|(f, _)| f.on_start == OnStart::Fail)
            .collect();
        return Ok(Judgement::Fails(failing));
    }
    let until = blocking
        .iter()
        .map(|(_, (_, end))| *end)
        .max()
        .unwrap_or(at);
    Ok(Judgement::Held(blocking, until))
}

fn verdict(conn: &Conn, task: &Task, now: i64) -> Result<Verdict> {
    Ok(match judge(conn, task, now)? {
        Judgement::Free => Verdict::Start(Vec::new()),
        Judgement::Overridden(through, reason) => Verdict::Start(
            through
                .iter()
                .map(|(f, _)| {
                    format!(
                        "Deployment freeze '{}' ({}) is on; started by override: {reason}",
                        f.row.name,
                        f.id()
                    )
                })
                .collect(),
        ),
        Judgement::Fails(failing) => {
            let (f, (_, end)) = &failing[0];
            Verdict::Fail(format!(
                "Deployment freeze '{}' ({}) is on until {}: the deployment was not started.",
                f.row.name,
                f.id(),
                clock::iso(*end)
            ))
        }
        Judgement::Held(blocking, until) => Verdict::Hold(
            until,
            format!(
                "Held by deployment freeze {}: it starts when the freeze ends, unless its queue time expiry passes first.",
                names(&blocking)
            ),
        ),
    })
}

/// Applies the freezes to tasks just claimed (in the claim's transaction): returns
/// those that may start; a deployment under a `Fail` freeze is failed with a log line
/// naming it, one under `Hold` freezes only is queued again until they end.
pub fn gate(tx: &BookTx, claimed: Vec<Task>, now: i64) -> Result<Vec<Task>> {
    let deployments = claimed
        .iter()
        .any(|t| !t.is_system && t.project_id.is_some());
    if !deployments || !rows::any(tx)? {
        return Ok(claimed);
    }
    let mut starting = Vec::with_capacity(claimed.len());
    for task in claimed {
        if task.is_system {
            starting.push(task);
            continue;
        }
        match verdict(tx, &task, now)? {
            Verdict::Start(lines) => {
                let lines: Vec<(i64, &str, String)> =
                    lines.into_iter().map(|l| (now, "stdout", l)).collect();
                tasks::append_log(tx, task.id, &lines)?;
                starting.push(task);
            }
            Verdict::Fail(message) => {
                tasks::append_log(tx, task.id, &[(now, "stderr", message.clone())])?;
                tasks::finish(
                    tx,
                    task.id,
                    tasks::TaskState::Failed,
                    Some(&message),
                    None,
                    now,
                )?;
            }
            Verdict::Hold(until, message) => {
                tasks::append_log(tx, task.id, &[(now, "stdout", message)])?;
                rows::hold(tx, task.id, until, now)?;
            }
        }
    }
    Ok(starting)
}
