//! Approvals: a project's rules say which of its deployments need someone's approval
//! (`rules.rs`); a deployment they cover is queued waiting (`require`, called inside the
//! change that queues it), with one interruption per rule, and no node may claim it
//! until every one is decided `Proceed` ([`submit`]); `Abort` ends it `Canceled`.
//!
//! Deciding is a change like any other: the change guard admits it (in maintenance
//! mode only administrators), and inside its transaction the caller's roles and the
//! rule are read as they are then, so a caller demoted, or a rule tightened, while the
//! request was on its way is judged as things are at commit.

pub mod inbox;
pub mod rules;

use crate::access::{proof_of, Actor};
use crate::clock;
use crate::error::{Error, Result};
use crate::model::TaskState;
use crate::store::approvals::{self, Decision, Interruption, Rule};
use crate::store::projects::{Environment, Project, Release};
use crate::store::{events, tasks, users, Admit, ChangeTx, Conn, Store};

/// The most a decision's note may hold.
pub const MAX_NOTES: usize = 4_000;

/// Raises the approvals `project`'s rules ask of a deployment to `env`, inside the
/// change that queues its task: the task waits (no node claims it) until each is
/// decided. Returns how many were raised.
pub fn require(
    tx: &ChangeTx,
    (project, release, env): (&Project, &Release, &Environment),
    task: i64,
) -> Result<usize> {
    let covering: Vec<Rule> = approvals::rules_of(tx, project.id)?
        .into_iter()
        .filter(|r| r.covers(env.id))
        .collect();
    if covering.is_empty() {
        return Ok(0);
    }
    let now = clock::now_ms();
    let requester = tx.identity().user_id;
    let title = format!(
        "Approve deploying {} release {} to {}",
        project.name, release.version, env.name
    );
    let mut described = Vec::new();
    for rule in &covering {
        approvals::raise(tx, task, rule, &title, requester, now)?;
        let (envs, people) = rules::names(tx, rule)?;
        described.push(format!(
            "ApprovalRules-{} ({})",
            rule.id,
            rules::describe(rule, &envs, &people)
        ));
    }
    approvals::set_awaiting(tx, task, true)?;
    events::record(
        tx,
        "ApprovalRequested",
        &format!(
            "Deploy {} release {} to {} waits for approval under {}",
            project.name,
            release.version,
            env.name,
            described.join("; ")
        ),
        &[
            format!("ServerTasks-{task}"),
            format!("Projects-{}", project.id),
            format!("Environments-{}", env.id),
        ],
    )?;
    Ok(covering.len())
}

/// How a caller meets a rule: as an administrator, as named, or by a role.
#[derive(Debug, Clone, PartialEq)]
pub enum Meets {
    Administrator,
    Named,
    Role(String),
}

impl std::fmt::Display for Meets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Meets::Administrator => f.write_str("as a System Administrator"),
            Meets::Named => f.write_str("as a user the rule names"),
            Meets::Role(r) => write!(f, "as a {r}"),
        }
    }
}

/// Whether `actor` may decide on an approval under `rule` for a deployment queued by
/// `requester`: the refusal says why not. Reads the actor's roles as `conn` has them
/// (inside a change: as they are at commit). A System Administrator meets every rule;
/// nobody meets `NotByRequester` for a deployment they queued themselves.
pub fn judge(conn: &Conn, rule: &Rule, actor: &Actor, requester: Option<i64>) -> Result<Meets> {
    if rule.not_by_requester && actor.user_id.is_some() && actor.user_id == requester {
        return Err(Error::Forbidden(format!(
            "You queued this deployment, and its approval rule (ApprovalRules-{}) needs \
             someone else to decide on it.",
            rule.id
        )));
    }
    if actor.is_admin() {
        return Ok(Meets::Administrator);
    }
    if let Some(uid) = actor.user_id {
        if rule.user_ids.contains(&uid) {
            return Ok(Meets::Named);
        }
        if let Some(user) = users::find(conn, uid)? {
            if let Some(role) = user
                .roles
                .iter()
                .find(|r| rule.role_names.iter().any(|n| n == r.name()))
            {
                return Ok(Meets::Role(role.name().to_string()));
            }
        }
    }
    let (_, people) = rules::names(conn, rule)?;
    let mut who: Vec<String> = rule.role_names.iter().map(|r| format!("a {r}")).collect();
    who.extend(people);
    Err(Error::Forbidden(format!(
        "Deciding on this deployment needs {} (approval rule ApprovalRules-{}).",
        who.join(" or "),
        rule.id
    )))
}

/// The rule an interruption is judged by: as it is now, or as it was when the
/// deployment was queued if it has been deleted since.
fn rule_now(tx: &ChangeTx, i: &Interruption) -> Result<Rule> {
    Ok(match i.rule_id {
        Some(id) => approvals::rule_for_change(tx, id)?.unwrap_or_else(|| i.rule.clone()),
        None => i.rule.clone(),
    })
}

/// A decision: let the deployment go, or end it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Proceed,
    Abort,
}

impl Outcome {
    pub fn parse(text: &str) -> Result<Outcome> {
        match text.trim() {
            t if t.eq_ignore_ascii_case("Proceed") => Ok(Outcome::Proceed),
            t if t.eq_ignore_ascii_case("Abort") => Ok(Outcome::Abort),
            other => Err(Error::bad(
                "Result",
                format!(
                    "'{}' is not a result; it is Proceed or Abort",
                    crate::error::shown(other)
                ),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Proceed => "Proceed",
            Outcome::Abort => "Abort",
        }
    }
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("Interruption Interruptions-{id} was not found."))
}

/// Decides interruption `id` as `outcome`, with `notes`, by the admitted caller: one
/// change that checks the rule as it is now, records the decision if nobody made one
/// first, and lets the deployment join the queue (in its place: its queue time is
/// unchanged) once nothing is left undecided, or ends it `Canceled`. Audited.
pub async fn submit(
    store: &Store,
    admission: &impl Admit,
    id: i64,
    outcome: Outcome,
    notes: String,
) -> Result<Interruption> {
    crate::validate::text("Notes", &notes, MAX_NOTES, false)?;
    store
        .change(admission, move |tx| {
            approvals::lock_task_of(tx, id)?.ok_or_else(|| not_found(id))?;
            let i = approvals::find(tx, id)?.ok_or_else(|| not_found(id))?;
            still_open(tx, &i)?;
            let rule = rule_now(tx, &i)?;
            let actor = proof_of(tx)?.actor().clone();
            let meets = judge(tx, &rule, &actor, i.requested_by)?;
            let notes = notes.trim();
            if rule.note_required && notes.is_empty() {
                return Err(Error::bad(
                    "Notes",
                    format!(
                        "approval rule ApprovalRules-{} needs a note with the decision",
                        rule.id
                    ),
                ));
            }
            let now = clock::now_ms();
            let by = tx.identity().username.clone();
            let decision = Decision {
                result: outcome.as_str(),
                notes,
                by: &by,
                by_user: actor.user_id,
                at: now,
            };
            if !approvals::decide(tx, id, &decision)? {
                return Err(Error::Conflict(format!(
                    "Interruptions-{id} was decided already."
                )));
            }
            let task = i.task_id;
            let ended = match outcome {
                Outcome::Abort => {
                    let why = match notes {
                        "" => format!("Rejected by {by}."),
                        n => format!("Rejected by {by}: {n}"),
                    };
                    approvals::reject(tx, task, &why, &by, now)?;
                    "rejected"
                }
                Outcome::Proceed if approvals::undecided(tx, task)? == 0 => {
                    approvals::set_awaiting(tx, task, false)?;
                    "approved"
                }
                Outcome::Proceed => "approved (more approvals are still needed)",
            };
            let note = match notes {
                "" => String::new(),
                n => format!(": {n}"),
            };
            events::record(
                tx,
                if outcome == Outcome::Proceed {
                    "DeploymentApproved"
                } else {
                    "DeploymentRejected"
                },
                &format!(
                    "{} ServerTasks-{task} {ended}, {meets} under ApprovalRules-{}{note}",
                    i.title, rule.id
                ),
                &[
                    format!("ServerTasks-{task}"),
                    format!("Interruptions-{id}"),
                    format!("ApprovalRules-{}", rule.id),
                ],
            )?;
            approvals::find(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

/// Refuses a decision on an interruption decided already, or whose deployment no
/// longer waits (canceled, expired).
fn still_open(conn: &Conn, i: &Interruption) -> Result<()> {
    if let Some(result) = &i.result {
        return Err(Error::Conflict(format!(
            "Interruptions-{} was decided already: {result} by {}.",
            i.id,
            i.submitted_by.as_deref().unwrap_or("someone")
        )));
    }
    if i.task_state != TaskState::Queued {
        let task = tasks::find(conn, i.task_id)?;
        let why = task
            .and_then(|t| t.error_message)
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        return Err(Error::Conflict(format!(
            "ServerTasks-{} is {}{why}: there is nothing left to decide.",
            i.task_id, i.task_state
        )));
    }
    Ok(())
}

/// The admitted caller takes responsibility for interruption `id` (Octopus's "assign
/// to me"): only someone who could decide on it.
pub async fn take_responsibility(
    store: &Store,
    admission: &impl Admit,
    id: i64,
) -> Result<Interruption> {
    store
        .change(admission, move |tx| {
            approvals::lock_task_of(tx, id)?.ok_or_else(|| not_found(id))?;
            let i = approvals::find(tx, id)?.ok_or_else(|| not_found(id))?;
            still_open(tx, &i)?;
            let rule = rule_now(tx, &i)?;
            let actor = proof_of(tx)?.actor().clone();
            judge(tx, &rule, &actor, i.requested_by)?;
            approvals::set_responsible(tx, id, actor.user_id)?;
            events::record(
                tx,
                "InterruptionResponsibilityTaken",
                &format!(
                    "Took responsibility for {} (ServerTasks-{})",
                    i.title, i.task_id
                ),
                &[
                    format!("Interruptions-{id}"),
                    format!("ServerTasks-{}", i.task_id),
                ],
            )?;
            approvals::find(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

/// Whether `actor` could decide on `i` now (`CanTakeResponsibility`): read outside a
/// change, so only a hint; the decision itself is judged again inside its change.
pub fn could_decide(conn: &Conn, i: &Interruption, actor: &Actor) -> Result<bool> {
    if !i.is_pending() {
        return Ok(false);
    }
    let rule = match i.rule_id {
        Some(id) => approvals::find_rule(conn, id)?.unwrap_or_else(|| i.rule.clone()),
        None => i.rule.clone(),
    };
    Ok(judge(conn, &rule, actor, i.requested_by).is_ok())
}
