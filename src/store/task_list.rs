//! Task lists: one page of tasks by the filters the pages and the API offer (ids, states,
//! node, project, environment, release, kind, text, scheduled or not), with its total.
//! Re-exported by `tasks`.

use super::filter::{marks, padded, params};
use super::sql::{Conn, Param, Value};
use super::tasks::{counts, task, Task, TaskState, COLUMNS, Q_QUEUED};
use crate::error::{Error, Result};
use const_format::concatcp;

#[derive(Default, Clone)]
pub struct Filter {
    /// Only these tasks (Octopus's `ids`); empty: any.
    pub ids: Vec<i64>,
    pub states: Vec<TaskState>,
    pub node: Option<String>,
    pub project_id: Option<i64>,
    /// `Some(false)`: deployments only; `Some(true)`: system tasks only.
    pub system: Option<bool>,
    pub environment_id: Option<i64>,
    pub release_id: Option<i64>,
    /// Words the description contains (without case).
    pub text: Option<String>,
    /// Scheduled tasks (queued for a later time) only, or none of them, as of a moment.
    pub scheduled: Option<Scheduled>,
    /// Count matches only up to this many (the total is then "at least"): a page's
    /// pager need not scan a million tasks; `Some(0)` when only the page is wanted.
    /// `None`: the exact total (the API's).
    pub count_up_to: Option<i64>,
}

/// Whether a task list is of scheduled tasks (queued, their time not yet come), or of
/// everything else, as of `at`. Scheduled tasks are listed soonest first.
#[derive(Clone, Copy)]
pub enum Scheduled {
    Only { at: i64 },
    Excluded { at: i64 },
}

/// One page of tasks, newest first, and the total. Every filter walks an index; the
/// total of a state filter comes from `task_counts`, not from counting.
pub fn list(conn: &Conn, filter: &Filter, skip: i64, take: i64) -> Result<(Vec<Task>, i64)> {
    let mut clauses = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    // Lists are padded (the last value repeated) to a few lengths, so that requests
    // with lists of every length make a handful of SQL texts, not one each (PostgreSQL
    // keeps every prepared text per connection).
    if let Some(&last) = filter.ids.last() {
        let ids = padded(&filter.ids, filter.ids.len().next_power_of_two(), last);
        clauses.push(format!("id IN ({})", marks(ids.len())));
        args.extend(ids.into_iter().map(Value::Int));
    }
    if let Some(&last) = filter.states.last() {
        let states = padded(&filter.states, TaskState::ALL.len(), last);
        clauses.push(format!("state IN ({})", marks(states.len())));
        args.extend(states.iter().map(|s| s.value()));
    }
    if let Some(node) = &filter.node {
        clauses.push("server_node = ?".into());
        args.push(Value::Text(node.clone()));
    }
    if let Some(project) = filter.project_id {
        clauses.push("project_id = ?".into());
        args.push(Value::Int(project));
    }
    if let Some(system) = filter.system {
        clauses.push("is_system = ?".into());
        args.push(system.value());
    }
    if let Some(env) = filter.environment_id {
        clauses.push("environment_id = ?".into());
        args.push(Value::Int(env));
    }
    if let Some(release) = filter.release_id {
        clauses.push("release_id = ?".into());
        args.push(Value::Int(release));
    }
    if let Some(text) = &filter.text {
        clauses.push("instr(lower(description), lower(?)) > 0".into());
        args.push(Value::Text(text.clone()));
    }
    let mut order = "id DESC";
    match filter.scheduled {
        Some(Scheduled::Only { at }) => {
            clauses.push(concatcp!("state = ", Q_QUEUED, " AND queue_time > ?").into());
            args.push(Value::Int(at));
            order = "queue_time, id";
        }
        Some(Scheduled::Excluded { at }) => {
            clauses.push(concatcp!("NOT (state = ", Q_QUEUED, " AND queue_time > ?)").into());
            args.push(Value::Int(at));
        }
        None => {}
    }
    let filter_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let mut page_args = args.clone();
    page_args.push(Value::Int(take));
    page_args.push(Value::Int(skip));
    let items = conn.all(
        &format!("SELECT {COLUMNS} FROM tasks {filter_sql} ORDER BY {order} LIMIT ? OFFSET ?"),
        &params(&page_args),
        task,
    )?;
    let total = if filter.node.is_none()
        && filter.project_id.is_none()
        && filter.ids.is_empty()
        && filter.system.is_none()
        && filter.environment_id.is_none()
        && filter.release_id.is_none()
        && filter.text.is_none()
        && filter.scheduled.is_none()
    {
        counted_total(conn, &filter.states)?
    } else if let Some(cap) = filter.count_up_to {
        let mut capped = args;
        capped.push(Value::Int(cap));
        conn.query_one(
            &format!("SELECT COUNT(*) FROM (SELECT 1 FROM tasks {filter_sql} LIMIT ?) AS page"),
            &params(&capped),
        )?
        .get(0)?
    } else {
        conn.query_one(
            &format!("SELECT COUNT(*) FROM tasks {filter_sql}"),
            &params(&args),
        )?
        .get(0)?
    };
    Ok((items, total))
}

fn counted_total(conn: &Conn, states: &[TaskState]) -> Result<i64> {
    let counts = counts(conn)?;
    Ok(counts
        .iter()
        .filter(|(s, _)| states.is_empty() || states.iter().any(|x| x == s))
        .map(|(_, n)| n)
        .sum())
}

/// Parses `states=Queued,Executing`; unknown states are a 400 naming the valid ones.
pub fn parse_states(states: Option<&str>) -> Result<Vec<TaskState>> {
    let Some(states) = states.filter(|s| !s.trim().is_empty()) else {
        return Ok(Vec::new());
    };
    let mut parsed = states
        .split(',')
        .map(|s| {
            TaskState::parse(s).ok_or_else(|| {
                let valid: Vec<&str> = TaskState::ALL.iter().map(|s| s.as_str()).collect();
                Error::bad(
                    "states",
                    format!("unknown state '{}'; valid: {}", s.trim(), valid.join(", ")),
                )
            })
        })
        .collect::<Result<Vec<TaskState>>>()?;
    // Each state once, in one order: `Queued,Queued,...` is the list `Queued`.
    parsed.sort_by_key(|s| s.as_str());
    parsed.dedup();
    Ok(parsed)
}
