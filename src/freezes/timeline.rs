//! One timeline of what is coming (drydock's own, no peer has it): maintenance windows,
//! every freeze window by project × environment, and the scheduled deployments, each
//! with what will become of it — it runs, fails at its start, is held until a freeze
//! ends, or times out while held.

use super::gate::{judge, Judgement};
use super::Freeze;
use crate::error::{Error, Result};
use crate::store::freezes as rows;
use crate::store::tasks::{self, Task};
use crate::store::{maintenance, projects, Conn};

/// The look-ahead when none is asked for: two weeks.
pub const DEFAULT_SPAN_MS: i64 = 14 * 86_400_000;
/// The longest span one timeline covers.
pub const MAX_SPAN_MS: i64 = 62 * 86_400_000;
/// The most scheduled deployments one timeline lists.
pub const MAX_DEPLOYMENTS: i64 = 500;
/// The most freeze windows × their pairs one timeline lists (each pair of each window
/// is an entry): beyond it the caller is asked for a shorter span.
pub const MAX_FREEZE_ENTRIES: usize = 20_000;

/// What a caller may see of the timeline, by their permissions, as every list: the
/// projects and environments a freeze covers (`ProjectView` and `EnvironmentView`),
/// and the scheduled deployments (`TaskView`). Maintenance windows and the freezes'
/// names and times are for everyone signed in.
#[derive(Clone, Copy, Debug)]
pub struct Visible {
    pub pairs: bool,
    pub deployments: bool,
}

pub struct Timeline {
    pub from: i64,
    pub to: i64,
    pub maintenance: Vec<maintenance::Window>,
    pub freezes: Vec<FreezeWindow>,
    pub deployments: Vec<Scheduled>,
}

/// One window of one freeze, with the pairs it covers by name.
pub struct FreezeWindow {
    pub freeze: Freeze,
    pub start: i64,
    pub end: i64,
    /// (project id, name, environment id, name).
    pub pairs: Vec<(i64, String, i64, String)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing stops it.
    Runs,
    /// Its override passes the freezes on at its start.
    Overridden,
    /// A `Fail` freeze is on at its start.
    Fails,
    /// `Hold` freezes are on at its start: it waits until `until`.
    Held { until: i64 },
    /// Held past its queue time expiry: it times out at the expiry.
    TimesOut { at: i64 },
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Runs => "Runs",
            Outcome::Overridden => "Overridden",
            Outcome::Fails => "Fails",
            Outcome::Held { .. } => "Held",
            Outcome::TimesOut { .. } => "TimesOut",
        }
    }

    /// Whether the timeline flags it.
    pub fn flagged(&self) -> bool {
        !matches!(self, Outcome::Runs | Outcome::Overridden)
    }
}

pub struct Scheduled {
    pub task: Task,
    /// When it is due: its queue time, or now for one a freeze holds already.
    pub due: i64,
    pub outcome: Outcome,
    /// The freezes that decide it (id, name).
    pub freezes: Vec<(i64, String)>,
}

/// The span asked for (`from`, `to`; ISO 8601 strings parsed by the caller): from now
/// for two weeks by default; `to` after `from`, at most [`MAX_SPAN_MS`] later.
pub fn span(from: Option<i64>, to: Option<i64>, now: i64) -> Result<(i64, i64)> {
    let from = from.unwrap_or(now);
    let to = to.unwrap_or(from + DEFAULT_SPAN_MS);
    if to <= from {
        return Err(Error::bad("to", "must be after from"));
    }
    if to - from > MAX_SPAN_MS {
        return Err(Error::bad(
            "to",
            format!(
                "a timeline covers at most {} days",
                MAX_SPAN_MS / 86_400_000
            ),
        ));
    }
    Ok((from, to))
}

/// What happens to `task`, due at `due` (the claim's own rule, `gate::judge`).
fn outcome(conn: &Conn, task: &Task, due: i64) -> Result<(Outcome, Vec<(i64, String)>)> {
    let named = |list: &[(Freeze, super::Window)]| {
        list.iter()
            .map(|(f, _)| (f.row.id, f.row.name.clone()))
            .collect::<Vec<_>>()
    };
    Ok(match judge(conn, task, due)? {
        Judgement::Free => (Outcome::Runs, Vec::new()),
        Judgement::Overridden(through, _) => (Outcome::Overridden, named(&through)),
        Judgement::Fails(failing) => (Outcome::Fails, named(&failing)),
        Judgement::Held(blocking, until) => {
            let outcome = match task.queue_time_expiry {
                Some(at) if at < until => Outcome::TimesOut { at },
                _ => Outcome::Held { until },
            };
            (outcome, named(&blocking))
        }
    })
}

/// What will become of queued `task` (due at its queue time, or now if that passed):
/// the claim's own rule, as the timeline foresees it, with the freezes that decide it.
pub fn predict(conn: &Conn, task: &Task, now: i64) -> Result<(Outcome, Vec<(i64, String)>)> {
    outcome(conn, task, task.queue_time.max(now))
}

/// `windows` in start order with those that overlap or touch merged: a freeze whose
/// windows last longer than the gap between them is on without a break.
fn merged(windows: Vec<super::Window>) -> Vec<super::Window> {
    let mut out: Vec<super::Window> = Vec::with_capacity(windows.len());
    for (start, end) in windows {
        match out.last_mut() {
            Some(last) if start <= last.1 => last.1 = last.1.max(end),
            _ => out.push((start, end)),
        }
    }
    out
}

/// The timeline of `[from, to)` as of `now`, as much as `visible` lets the caller see;
/// a 400 naming `to` when its freeze windows × pairs pass [`MAX_FREEZE_ENTRIES`].
pub fn timeline(conn: &Conn, from: i64, to: i64, now: i64, visible: Visible) -> Result<Timeline> {
    let maintenance = maintenance::windows(conn)?
        .into_iter()
        .filter(|w| {
            w.end_at > from
                && w.start_at < to
                && matches!(
                    w.state,
                    maintenance::WindowState::Scheduled | maintenance::WindowState::Active
                )
        })
        .collect();
    let mut names = std::collections::HashMap::new();
    let mut freezes = Vec::new();
    let mut entries = 0;
    for freeze in super::all(conn)? {
        let Some(schedule) = freeze.schedule.clone() else {
            continue;
        };
        let windows = merged(schedule.between(from, to));
        if windows.is_empty() {
            continue;
        }
        let shown = if visible.pairs {
            freeze.row.scope.len()
        } else {
            0
        };
        entries += windows.len() * shown.max(1);
        if entries > MAX_FREEZE_ENTRIES {
            return Err(Error::bad(
                "to",
                format!(
                    "the freezes have more than {MAX_FREEZE_ENTRIES} windows × project and environment pairs \
                     from {} to {}: ask for a shorter span",
                    crate::clock::iso(from),
                    crate::clock::iso(to)
                ),
            ));
        }
        let mut pairs = Vec::new();
        for (p, e) in freeze.row.scope.iter().take(shown) {
            let project = match names.get(&('p', *p)) {
                Some(n) => String::clone(n),
                None => {
                    let n = projects::find(conn, *p)?
                        .map_or_else(|| format!("Projects-{p}"), |x| x.name);
                    names.insert(('p', *p), n.clone());
                    n
                }
            };
            let environment = match names.get(&('e', *e)) {
                Some(n) => String::clone(n),
                None => {
                    let n = projects::find_environment(conn, *e)?
                        .map_or_else(|| format!("Environments-{e}"), |x| x.name);
                    names.insert(('e', *e), n.clone());
                    n
                }
            };
            pairs.push((*p, project, *e, environment));
        }
        for (start, end) in windows {
            freezes.push(FreezeWindow {
                freeze: freeze.clone(),
                start,
                end,
                pairs: pairs.clone(),
            });
        }
    }
    freezes.sort_by_key(|w| (w.start, w.freeze.row.id));
    let mut deployments = Vec::new();
    if !visible.deployments {
        return Ok(Timeline {
            from,
            to,
            maintenance,
            freezes,
            deployments,
        });
    }
    if from <= now {
        for task in rows::held_tasks(conn, now, MAX_DEPLOYMENTS)? {
            let (outcome, freezes) = outcome(conn, &task, now)?;
            deployments.push(Scheduled {
                due: now,
                task,
                outcome,
                freezes,
            });
        }
    }
    for task in tasks::scheduled_between(conn, from.max(now), to, MAX_DEPLOYMENTS)? {
        let due = task.queue_time;
        let (outcome, freezes) = outcome(conn, &task, due)?;
        deployments.push(Scheduled {
            due,
            task,
            outcome,
            freezes,
        });
    }
    Ok(Timeline {
        from,
        to,
        maintenance,
        freezes,
        deployments,
    })
}
