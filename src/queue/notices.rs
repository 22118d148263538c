//! What drydock tells by watching the clock rather than a change: a maintenance window
//! coming up (`maintenance_window_notice_secs` before it starts), a drain overdue
//! (maintenance on for `drain_overdue_secs` with deployments still running), a freeze
//! window starting and ending (related to the projects and environments it covers), a
//! node gone silent or left on a binary the schema moved past, and a deployment still
//! running well past its timeout.
//!
//! Every node watches at each heartbeat: one read finds what is due and not yet told;
//! only then one bookkeeping transaction claims each notice's key (`store::notices`)
//! and records its event, whose webhook deliveries are raised with it. Of nodes
//! watching the same clock, the one whose insert lands tells; the rest tell nothing.

use crate::clock;
use crate::error::Result;
use crate::store::events::{self, SystemEvent};
use crate::store::maintenance::{self, WindowState};
use crate::store::{migrate, nodes, notices, tasks, Conn, Store};

/// What the watch goes by.
#[derive(Debug, Clone)]
pub struct Watch {
    /// This node (it does not tell of itself as offline).
    pub node: String,
    /// How long before a maintenance window starts it is announced.
    pub window_notice_ms: i64,
    /// How long maintenance mode may be on with deployments running before that is told.
    pub drain_overdue_ms: i64,
    /// How far past its timeout a running deployment is told of as stuck.
    pub stuck_margin_ms: i64,
    /// After how long silent a node is offline; `None` while this node has not itself
    /// been in touch with the database long enough to judge (`offline::InTouch`).
    pub offline_ms: Option<i64>,
}

/// One thing to tell: the notice's key (and the end of the window it tells of) and the
/// event.
#[derive(Debug, Clone)]
struct Notice {
    key: String,
    ends_at: Option<i64>,
    what: SystemEvent,
    message: String,
    related: Vec<String>,
}

/// Tells what is due at `now` and not yet told; returns how many this node told.
pub fn watch(store: &Store, rules: &Watch, now: i64) -> Result<usize> {
    let due = store.read_now(|conn| {
        let mut all = windows(conn, rules, now)?;
        all.extend(drain(conn, rules, now)?);
        all.extend(freezes(conn, now)?);
        all.extend(node_notices(conn, rules, now)?);
        all.extend(stuck(conn, rules, now)?);
        let untold = notices::untold(conn, all.iter().map(|n| n.key.clone()).collect())?;
        Ok(all
            .into_iter()
            .filter(|n| untold.contains(&n.key))
            .collect::<Vec<_>>())
    })?;
    if due.is_empty() {
        return Ok(0);
    }
    store.bookkeeping_now(|tx| {
        let mut told = 0;
        for n in &due {
            if notices::claim(tx, &n.key, n.ends_at, now)? {
                events::record_system(tx, n.what, &n.message, &n.related)?;
                told += 1;
            }
        }
        Ok(told)
    })
}

/// Scheduled maintenance windows starting within the notice's lead time.
fn windows(conn: &Conn, rules: &Watch, now: i64) -> Result<Vec<Notice>> {
    Ok(maintenance::windows(conn)?
        .into_iter()
        .filter(|w| {
            w.state == WindowState::Scheduled
                && w.start_at > now
                && w.start_at - rules.window_notice_ms <= now
        })
        .map(|w| {
            let minutes = (w.start_at - now + 59_999) / 60_000;
            let mut message = format!(
                "Maintenance mode goes on in {minutes} min, at {}, until {}",
                clock::display(w.start_at),
                clock::display(w.end_at)
            );
            if let Some(m) = w.message.as_deref().filter(|m| !m.is_empty()) {
                message.push_str(": ");
                message.push_str(m);
            }
            Notice {
                key: format!("window-announced:{}", w.id),
                ends_at: None,
                what: SystemEvent::MaintenanceWindowAnnounced,
                message,
                related: vec![format!("MaintenanceWindows-{}", w.id), "maintenance".into()],
            }
        })
        .collect())
}

/// Maintenance mode on for the drain's allowance with deployments still running.
fn drain(conn: &Conn, rules: &Watch, now: i64) -> Result<Vec<Notice>> {
    let mode = maintenance::get(conn)?;
    let Some(since) = mode.modified_on.filter(|_| mode.is_on) else {
        return Ok(Vec::new());
    };
    if now - since < rules.drain_overdue_ms {
        return Ok(Vec::new());
    }
    let (executing, _) = tasks::busy_counts(conn, now)?;
    if executing == 0 {
        return Ok(Vec::new());
    }
    Ok(vec![Notice {
        key: format!("drain-overdue:{since}"),
        ends_at: None,
        what: SystemEvent::MaintenanceDrainOverdue,
        message: format!(
            "Maintenance mode has been on since {} and {executing} deployment(s) still run: \
             not yet safe to stop",
            clock::display(since)
        ),
        related: vec!["maintenance".into()],
    }])
}

/// Freeze windows open now not yet told of, and those told of as open that have ended
/// (or whose freeze was deleted or moved).
fn freezes(conn: &Conn, now: i64) -> Result<Vec<Notice>> {
    let all = crate::freezes::all(conn)?;
    let related = |f: &crate::freezes::Freeze| {
        let mut ids = vec![f.id()];
        let mut projects: Vec<i64> = f.row.scope.iter().map(|(p, _)| *p).collect();
        let mut environments: Vec<i64> = f.row.scope.iter().map(|(_, e)| *e).collect();
        projects.dedup();
        environments.sort_unstable();
        environments.dedup();
        ids.extend(projects.iter().map(|p| format!("Projects-{p}")));
        ids.extend(environments.iter().map(|e| format!("Environments-{e}")));
        ids
    };
    let mut out = Vec::new();
    for f in &all {
        if let Some((start, end)) = f.window_at(now) {
            out.push(Notice {
                key: format!("freeze-started:{}:{start}", f.row.id),
                ends_at: Some(end),
                what: SystemEvent::DeploymentFreezeStarted,
                message: format!(
                    "Deployment freeze '{}' started; until {}, over {} project × environment pair(s)",
                    f.row.name,
                    clock::display(end),
                    f.row.scope.len()
                ),
                related: related(f),
            });
        }
    }
    for (key, ends_at) in notices::begun(conn, "freeze-started:")? {
        let mut parts = key.split(':').skip(1);
        let id: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let start: i64 = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let freeze = all.iter().find(|f| f.row.id == id);
        let open = freeze.and_then(|f| f.window_at(now)) == Some((start, ends_at));
        if open && ends_at > now {
            continue;
        }
        let (name, ids) = match freeze {
            Some(f) => (format!("'{}'", f.row.name), related(f)),
            None => (
                format!("DeploymentFreezes-{id} (deleted)"),
                vec![format!("DeploymentFreezes-{id}")],
            ),
        };
        out.push(Notice {
            key: format!("ended:{key}"),
            ends_at: None,
            what: SystemEvent::DeploymentFreezeEnded,
            message: format!("Deployment freeze {name} ended"),
            related: ids,
        });
    }
    Ok(out)
}

/// Nodes gone silent (judged only by a node in touch itself) and nodes left running a
/// binary the schema moved past incompatibly.
fn node_notices(conn: &Conn, rules: &Watch, now: i64) -> Result<Vec<Notice>> {
    let mut out = Vec::new();
    for n in nodes::nodes(conn)? {
        if n.stopped_at.is_some() {
            continue;
        }
        let silent = rules.offline_ms.map(|ms| n.last_seen < now - ms);
        let related = vec![crate::cluster::node_id(&n.name)];
        if silent == Some(true) && n.name != rules.node {
            out.push(Notice {
                key: format!("node-offline:{}:{}", n.name, n.last_seen),
                ends_at: None,
                what: SystemEvent::NodeOffline,
                message: format!(
                    "Node {} is offline: nothing heard from it since {}",
                    n.name,
                    clock::display(n.last_seen)
                ),
                related,
            });
        } else if silent == Some(false) {
            let Some(level) = n.schema_level else {
                continue;
            };
            if let Some((newest, false)) = migrate::schema_ahead(conn, level)? {
                out.push(Notice {
                    key: format!("node-outdated:{}:{}", n.name, n.started_at),
                    ends_at: None,
                    what: SystemEvent::NodeOutdated,
                    message: format!(
                        "Node {} (drydock {}) is outdated: the schema is at {newest}, past its \
                         {level}; it claims no more tasks and stops once its running ones end",
                        n.name, n.version
                    ),
                    related,
                });
            }
        }
    }
    Ok(out)
}

/// Deployments still running well past their timeout.
fn stuck(conn: &Conn, rules: &Watch, now: i64) -> Result<Vec<Notice>> {
    Ok(notices::stuck_tasks(conn, now, rules.stuck_margin_ms)?
        .into_iter()
        .map(|t| {
            let mut related = vec![format!("ServerTasks-{}", t.task_id)];
            related.extend(t.project_id.map(|p| format!("Projects-{p}")));
            related.extend(t.environment_id.map(|e| format!("Environments-{e}")));
            Notice {
                key: format!("task-stuck:{}", t.task_id),
                ends_at: None,
                what: SystemEvent::TaskStuck,
                message: format!(
                    "{} has run since {} on {}, past its timeout of {} s, and has not stopped",
                    t.description,
                    clock::display(t.start_time),
                    t.server_node.as_deref().unwrap_or("no node"),
                    t.timeout_secs
                ),
                related,
            }
        })
        .collect())
}
