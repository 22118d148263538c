//! Approvals as stored: a project's approval rules, and the interruptions a waiting
//! deployment must have decided (one per rule) before any node may claim it. What a
//! rule means, and who meets it, is the domain's (`crate::approvals`).

use serde::{Deserialize, Serialize};

use super::sql::{Conn, Row};
use super::ChangeTx;
use crate::error::{Error, Result};
use crate::model::TaskState;
use const_format::concatcp;

/// A project's rule: deployments to `environment_ids` (every environment when empty)
/// need the approval of someone holding one of `role_names` or named in `user_ids`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    pub project_id: i64,
    pub environment_ids: Vec<i64>,
    pub role_names: Vec<String>,
    pub user_ids: Vec<i64>,
    pub not_by_requester: bool,
    pub note_required: bool,
}

impl Rule {
    pub fn covers(&self, environment: i64) -> bool {
        self.environment_ids.is_empty() || self.environment_ids.contains(&environment)
    }
}

const RULE_COLUMNS: &str = "id, project_id, environment_ids, role_names, user_ids, \
     not_by_requester, note_required";

fn json_list<T: serde::de::DeserializeOwned>(text: &str) -> Result<Vec<T>> {
    serde_json::from_str(text).map_err(|e| Error::internal(format!("a stored rule: {e}")))
}

fn rule(r: &Row) -> Result<Rule> {
    Ok(Rule {
        id: r.col("id")?,
        project_id: r.col("project_id")?,
        environment_ids: json_list(&r.col::<String>("environment_ids")?)?,
        role_names: json_list(&r.col::<String>("role_names")?)?,
        user_ids: json_list(&r.col::<String>("user_ids")?)?,
        not_by_requester: r.col("not_by_requester")?,
        note_required: r.col("note_required")?,
    })
}

/// A project's rules, in order.
pub fn rules_of(conn: &Conn, project: i64) -> Result<Vec<Rule>> {
    conn.all(
        concatcp!(
            "SELECT ",
            RULE_COLUMNS,
            " FROM approval_rules WHERE project_id = ?1 ORDER BY position, id"
        ),
        &[&project],
        rule,
    )
}

/// Every project's rules, in each project's order.
pub fn all_rules(conn: &Conn) -> Result<Vec<Rule>> {
    conn.all(
        concatcp!(
            "SELECT ",
            RULE_COLUMNS,
            " FROM approval_rules ORDER BY project_id, position, id"
        ),
        &[],
        rule,
    )
}

pub fn find_rule(conn: &Conn, id: i64) -> Result<Option<Rule>> {
    conn.first(
        concatcp!(
            "SELECT ",
            RULE_COLUMNS,
            " FROM approval_rules WHERE id = ?1"
        ),
        &[&id],
        rule,
    )
}

/// One rule as it is now, read to decide on an approval (PostgreSQL: `FOR SHARE`, so
/// that a change to the rule waits for the decision, or the decision for the change).
pub fn rule_for_change(tx: &ChangeTx, id: i64) -> Result<Option<Rule>> {
    tx.first(
        tx.dialect(
            concatcp!(
                "SELECT ",
                RULE_COLUMNS,
                " FROM approval_rules WHERE id = ?1"
            ),
            concatcp!(
                "SELECT ",
                RULE_COLUMNS,
                " FROM approval_rules WHERE id = ?1 FOR SHARE"
            ),
        ),
        &[&id],
        rule,
    )
}

/// Replaces a project's rules with `rules` in order: a rule with the id of one of the
/// project's is changed in place (the deployments waiting under it are judged by it as
/// it is now), one without is added, and those not named are deleted.
pub fn set_rules(tx: &ChangeTx, project: i64, rules: &[Rule]) -> Result<()> {
    if tx.is_postgres() {
        tx.query(
            "SELECT id FROM approval_rules WHERE project_id = ?1 FOR UPDATE",
            &[&project],
        )?;
    }
    let kept: Vec<i64> = rules.iter().map(|r| r.id).filter(|id| *id > 0).collect();
    for existing in rules_of(tx, project)? {
        if !kept.contains(&existing.id) {
            tx.execute("DELETE FROM approval_rules WHERE id = ?1", &[&existing.id])?;
        }
    }
    for (position, r) in rules.iter().enumerate() {
        let position = position as i64;
        let fields = (
            text(&r.environment_ids),
            text(&r.role_names),
            text(&r.user_ids),
        );
        let changed = tx.execute(
            "UPDATE approval_rules SET position = ?3, environment_ids = ?4, role_names = ?5,
                 user_ids = ?6, not_by_requester = ?7, note_required = ?8
             WHERE id = ?1 AND project_id = ?2",
            &[
                &r.id,
                &project,
                &position,
                &fields.0,
                &fields.1,
                &fields.2,
                &r.not_by_requester,
                &r.note_required,
            ],
        )?;
        if changed == 0 {
            tx.execute(
                "INSERT INTO approval_rules (project_id, position, environment_ids, role_names,
                     user_ids, not_by_requester, note_required)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[
                    &project,
                    &position,
                    &fields.0,
                    &fields.1,
                    &fields.2,
                    &r.not_by_requester,
                    &r.note_required,
                ],
            )?;
        }
    }
    Ok(())
}

fn text<T: Serialize>(list: &[T]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

/// An approval a waiting deployment needs, as Octopus's interruption; with its task's
/// state, which decides whether it is still pending.
#[derive(Debug, Clone)]
pub struct Interruption {
    pub id: i64,
    pub task_id: i64,
    pub rule_id: Option<i64>,
    /// The rule as it was when the deployment was queued.
    pub rule: Rule,
    pub title: String,
    pub created_at: i64,
    /// Who queued the deployment (`None`: the command line or drydock itself).
    pub requested_by: Option<i64>,
    pub responsible_user_id: Option<i64>,
    /// `Proceed` or `Abort` once decided.
    pub result: Option<String>,
    pub notes: Option<String>,
    pub submitted_by: Option<String>,
    pub submitted_by_user: Option<i64>,
    pub submitted_at: Option<i64>,
    pub task_state: TaskState,
}

impl Interruption {
    /// Not yet decided, and its deployment still waits.
    pub fn is_pending(&self) -> bool {
        self.result.is_none() && self.task_state == TaskState::Queued
    }
}

const COLUMNS: &str = "i.id, i.task_id, i.rule_id, i.rule, i.title, i.created_at, \
     i.requested_by, i.responsible_user_id, i.result, i.notes, i.submitted_by, \
     i.submitted_by_user, i.submitted_at, t.state";

fn interruption(r: &Row) -> Result<Interruption> {
    let recorded: String = r.col("rule")?;
    Ok(Interruption {
        id: r.col("id")?,
        task_id: r.col("task_id")?,
        rule_id: r.col("rule_id")?,
        rule: serde_json::from_str(&recorded)
            .map_err(|e| Error::internal(format!("a stored interruption's rule: {e}")))?,
        title: r.col("title")?,
        created_at: r.col("created_at")?,
        requested_by: r.col("requested_by")?,
        responsible_user_id: r.col("responsible_user_id")?,
        result: r.col("result")?,
        notes: r.col("notes")?,
        submitted_by: r.col("submitted_by")?,
        submitted_by_user: r.col("submitted_by_user")?,
        submitted_at: r.col("submitted_at")?,
        task_state: r.col("state")?,
    })
}

/// Raises one interruption on `task` for `rule`.
pub fn raise(
    tx: &ChangeTx,
    task: i64,
    rule: &Rule,
    title: &str,
    requested_by: Option<i64>,
    now: i64,
) -> Result<i64> {
    let recorded = serde_json::to_string(rule).map_err(|e| Error::internal(e.to_string()))?;
    tx.query_one(
        "INSERT INTO interruptions (task_id, rule_id, rule, title, created_at, requested_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        &[&task, &rule.id, &recorded, &title, &now, &requested_by],
    )?
    .get(0)
}

/// Marks `task` as waiting for an approval, or lets it join the queue.
pub fn set_awaiting(tx: &ChangeTx, task: i64, awaiting: bool) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        "UPDATE tasks SET awaiting_approval = ?2 WHERE id = ?1",
        &[&task, &awaiting],
    )?;
    Ok(())
}

/// Which interruptions a list asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Those of this task only.
    pub task: Option<i64>,
    pub pending_only: bool,
}

const PENDING: &str = concatcp!(
    "i.result IS NULL AND t.state = ",
    TaskState::Queued.quoted()
);

/// A page of interruptions, newest first, and how many match in all.
pub fn list(conn: &Conn, f: &Filter, skip: i64, take: i64) -> Result<(Vec<Interruption>, i64)> {
    let mut clauses = vec!["(CAST(?1 AS BIGINT) IS NULL OR i.task_id = ?1)"];
    if f.pending_only {
        clauses.push(PENDING);
    }
    let clause = clauses.join(" AND ");
    let items = conn.all(
        &format!(
            "SELECT {COLUMNS} FROM interruptions i JOIN tasks t ON t.id = i.task_id
             WHERE {clause} ORDER BY i.id DESC LIMIT ?2 OFFSET ?3"
        ),
        &[&f.task, &take, &skip],
        interruption,
    )?;
    let total = conn
        .query_one(
            &format!(
                "SELECT COUNT(*) FROM interruptions i JOIN tasks t ON t.id = i.task_id
                 WHERE {clause}"
            ),
            &[&f.task],
        )?
        .get(0)?;
    Ok((items, total))
}

/// Every pending interruption, oldest first (at most `limit`): the Approvals page.
pub fn pending(conn: &Conn, limit: i64) -> Result<Vec<Interruption>> {
    conn.all(
        &format!(
            "SELECT {COLUMNS} FROM interruptions i INDEXED BY interruptions_pending
             JOIN tasks t ON t.id = i.task_id
             WHERE {PENDING} ORDER BY i.id LIMIT ?1"
        ),
        &[&limit],
        interruption,
    )
}

/// A task's interruptions, in the order they were raised.
pub fn of_task(conn: &Conn, task: i64) -> Result<Vec<Interruption>> {
    conn.all(
        &format!(
            "SELECT {COLUMNS} FROM interruptions i JOIN tasks t ON t.id = i.task_id
             WHERE i.task_id = ?1 ORDER BY i.id"
        ),
        &[&task],
        interruption,
    )
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<Interruption>> {
    conn.first(
        &format!(
            "SELECT {COLUMNS} FROM interruptions i JOIN tasks t ON t.id = i.task_id
             WHERE i.id = ?1"
        ),
        &[&id],
        interruption,
    )
}

/// The task an interruption is raised on, its row locked for the rest of `tx`
/// (PostgreSQL: `FOR UPDATE`; SQLite's write transaction excludes every other writer),
/// so that two decisions on one deployment are made one after the other.
pub fn lock_task_of(tx: &ChangeTx, interruption: i64) -> Result<Option<i64>> {
    tx.first(
        tx.dialect(
            "SELECT t.id FROM interruptions i JOIN tasks t ON t.id = i.task_id WHERE i.id = ?1",
            "SELECT t.id FROM interruptions i JOIN tasks t ON t.id = i.task_id WHERE i.id = ?1
             FOR UPDATE OF t",
        ),
        &[&interruption],
        |r| r.get(0),
    )
}

/// Who takes responsibility for an interruption.
pub fn set_responsible(tx: &ChangeTx, id: i64, user: Option<i64>) -> Result<()> {
    tx.execute(
        "UPDATE interruptions SET responsible_user_id = ?2 WHERE id = ?1",
        &[&id, &user],
    )?;
    Ok(())
}

/// The decision on an interruption, by whom.
pub struct Decision<'a> {
    pub result: &'a str,
    pub notes: &'a str,
    pub by: &'a str,
    pub by_user: Option<i64>,
    pub at: i64,
}

/// Records `d` on interruption `id` if it is still undecided (a conditional write: of
/// two decisions racing, one is recorded); false when it was decided already.
pub fn decide(tx: &ChangeTx, id: i64, d: &Decision<'_>) -> Result<bool> {
    let changed = tx.execute(
        "UPDATE interruptions SET result = ?2, notes = ?3, submitted_by = ?4,
             submitted_by_user = ?5, submitted_at = ?6, responsible_user_id = ?5
         WHERE id = ?1 AND result IS NULL",
        &[&id, &d.result, &d.notes, &d.by, &d.by_user, &d.at],
    )?;
    Ok(changed == 1)
}

/// How many of a task's interruptions are undecided.
pub fn undecided(conn: &Conn, task: i64) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM interruptions WHERE task_id = ?1 AND result IS NULL",
        &[&task],
    )?
    .get(0)
}

/// Ends a waiting deployment as `Canceled`: its approval was refused.
pub fn reject(tx: &ChangeTx, task: i64, message: &str, by: &str, now: i64) -> Result<()> {
    super::notify::queue_changed(tx)?;
    tx.execute(
        concatcp!(
            "UPDATE tasks SET state = ",
            TaskState::Canceled.quoted(),
            ", completed_time = ?2, last_updated_time = ?2, error_message = ?3, canceled_by = ?4
             WHERE id = ?1 AND state = ",
            TaskState::Queued.quoted()
        ),
        &[&task, &now, &message, &by],
    )?;
    Ok(())
}
