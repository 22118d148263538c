//! What the pages show of the freezes: which environments a freeze blocks now and
//! why, every frozen project × environment (for the matrices), the windows ahead (for
//! the deploy form's warning), and what an overridden deployment went through.

use std::collections::HashMap;

use super::OnStart;
use crate::clock;
use crate::error::Result;
use crate::store::projects::Environment;
use crate::store::Conn;

/// The freezes on over one environment: ids, and the sentence that says so.
#[derive(Clone, Default)]
pub struct Frozen {
    pub ids: Vec<i64>,
    pub reason: String,
}

impl Frozen {
    pub fn is_frozen(&self) -> bool {
        !self.ids.is_empty()
    }
}

/// How far ahead the deploy form knows the freezes' windows.
const AHEAD_MS: i64 = 62 * 86_400_000;

/// Per environment, the windows of the freezes over `project` there from `now` for the
/// next 62 days, for the deploy form's script to warn as a time is chosen:
/// `start end hold name` per window (times in ms; `hold` 1 or 0), windows split by `;`.
pub fn windows_ahead(
    c: &Conn,
    project: i64,
    environments: &[Environment],
    now: i64,
) -> Result<Vec<(i64, String)>> {
    let all = super::all(c)?;
    Ok(environments
        .iter()
        .map(|env| {
            let windows: Vec<String> = all
                .iter()
                .filter(|f| f.covers(project, env.id))
                .flat_map(|f| {
                    let hold = matches!(f.on_start, OnStart::Hold);
                    f.schedule
                        .as_ref()
                        .map(|s| s.between(now, now + AHEAD_MS))
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |(start, end)| {
                            let name = f.row.name.replace(';', ",");
                            format!("{start} {end} {} {name}", u8::from(hold))
                        })
                })
                .collect();
            (env.id, windows.join(";"))
        })
        .collect())
}

/// For each environment a freeze blocks `project` in now: why.
pub fn frozen(
    c: &Conn,
    project: i64,
    environments: &[Environment],
    now: i64,
) -> Result<Vec<(i64, Frozen)>> {
    let mut out = Vec::new();
    for env in environments {
        let on = super::in_force(c, project, env.id, now)?;
        if on.is_empty() {
            continue;
        }
        let named = on
            .iter()
            .map(|(f, (_, end))| format!("'{}' until {}", f.row.name, clock::display(*end)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push((
            env.id,
            Frozen {
                ids: on.iter().map(|(f, _)| f.row.id).collect(),
                reason: format!("Frozen by deployment freeze {named}."),
            },
        ));
    }
    Ok(out)
}

/// Every project × environment a freeze blocks now, with why (for the matrix).
pub fn frozen_pairs(c: &Conn, now: i64) -> Result<HashMap<(i64, i64), String>> {
    let mut out: HashMap<(i64, i64), String> = Default::default();
    for f in super::all(c)? {
        let Some((_, end)) = f.window_at(now) else {
            continue;
        };
        let said = format!("'{}' until {}", f.row.name, clock::display(end));
        for pair in &f.row.scope {
            out.entry(*pair)
                .and_modify(|s| {
                    s.push_str(", ");
                    s.push_str(&said);
                })
                .or_insert_with(|| said.clone());
        }
    }
    for reason in out.values_mut() {
        *reason = format!("Frozen by deployment freeze {reason}.");
    }
    Ok(out)
}

/// The freezes an overridden deployment went through ("'X' (DeploymentFreezes-1)", by
/// name while they exist) and the reason given, if it was one.
pub fn override_of(c: &Conn, task: i64) -> Result<Option<(String, String)>> {
    let Some((ids, reason)) = crate::store::freezes::override_of_task(c, task)? else {
        return Ok(None);
    };
    let mut named = Vec::new();
    for freeze in ids {
        named.push(match super::find(c, freeze)? {
            Some(f) => format!("'{}' ({})", f.row.name, f.id()),
            None => format!("DeploymentFreezes-{freeze} (since deleted)"),
        });
    }
    Ok(Some((named.join(", "), reason)))
}
