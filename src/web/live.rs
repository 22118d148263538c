//! What is live in a project × environment, as every page's cell shows it: the last
//! successful deployment there (version, who, when) and, over it, what is on its way or
//! just failed (running, queued, held until …, a failed attempt). One rule
//! ([`deployments::live`]) for the dashboard, the projects list, the project,
//! environment and release pages, and `/api/dashboard`. Also the stamp pages poll to
//! refresh themselves.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::view::{badge_for, When};
use crate::app::App;
use crate::auth::Caller;
use crate::clock;
use crate::error::Result;
use crate::model::TaskState;
use crate::store::deployments::{self, Latest};

pub fn routes() -> Vec<Route> {
    rocket::routes![stamp]
}

/// What `static/refresh.js` polls: a stamp that changes with the queue and with every
/// audited change, for a page left open to bring itself up to date.
/// The stamp is a digest: it says that something moved, never what (a caller without
/// `TaskView` learns no task counts from it).
#[rocket::get("/live/stamp")]
async fn stamp(caller: Caller, app: &State<App>) -> Result<Json<Value>> {
    use sha2::Digest;
    let see_tasks = caller.can(crate::access::permissions::Permission::TaskView);
    let stamp = app
        .store
        .read(move |c| crate::store::tasks::change_stamp(c, see_tasks))
        .await?;
    let digest = sha2::Sha256::digest(stamp.as_bytes());
    let short: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    Ok(Json(json!({ "Stamp": short })))
}

/// The deployment that is live.
pub struct Shown {
    pub version: String,
    pub release_id: i64,
    pub task: i64,
    pub when: When,
    /// Who queued it ("alice").
    pub by: String,
    /// It succeeded, and its script wrote to stderr.
    pub warnings: bool,
}

/// The latest attempt, when it is not what is live.
pub struct Pending {
    pub label: &'static str,
    pub class: &'static str,
    pub version: String,
    pub release_id: i64,
    pub task: i64,
    /// "until 2026-12-08 10:00:00 UTC (in 2 days)", "started 3 min ago", the error line.
    pub note: String,
    pub by: String,
}

/// One cell.
pub struct Cell {
    pub live: Option<Shown>,
    pub pending: Option<Pending>,
}

impl Cell {
    pub fn new(cell: &deployments::Live, now: i64) -> Cell {
        let live = cell.live.as_ref().map(|l| Shown {
            version: l.version.clone(),
            release_id: l.release_id,
            task: l.task,
            when: When::at(l.completed_time.unwrap_or(l.queue_time), now),
            by: l.deployed_by.clone(),
            warnings: l.has_warnings,
        });
        let latest = &cell.latest;
        let pending = (cell.previous().is_some() || cell.live.is_none()).then(|| {
            let badge = badge_for(
                latest.state,
                latest.queue_time,
                (latest.held_until, latest.awaiting),
                now,
            );
            Pending {
                label: badge.label,
                class: badge.class,
                version: latest.version.clone(),
                release_id: latest.release_id,
                task: latest.task,
                note: note(latest, now),
                by: latest.deployed_by.clone(),
            }
        });
        Cell { live, pending }
    }

    /// The class of the cell's stripe: the attempt's when there is one, else success.
    pub fn class(&self) -> &'static str {
        match (&self.pending, &self.live) {
            (Some(p), _) => p.class,
            (None, Some(l)) if l.warnings => "warn",
            (None, Some(_)) => "good",
            (None, None) => "none",
        }
    }

    /// Whether `release` is what is live here.
    pub fn is_live(&self, release: i64) -> bool {
        self.live.as_ref().is_some_and(|l| l.release_id == release)
    }

    /// Whether the latest attempt here is of `release` and not live yet.
    pub fn is_pending(&self, release: i64) -> bool {
        self.pending
            .as_ref()
            .is_some_and(|p| p.release_id == release)
    }
}

/// For each queued deployment among `tasks`, what will happen to it when it is due, in
/// words ("fails at its start: deployment freeze 'Launch week' is on then"), from the
/// rule the claim applies and the timeline shows; nothing for one that simply runs.
pub fn outlooks(
    c: &crate::store::Conn,
    tasks: &[crate::store::tasks::Task],
    now: i64,
) -> Result<std::collections::HashMap<i64, String>> {
    use crate::freezes::timeline::{predict, Outcome};
    let mut out = std::collections::HashMap::new();
    for t in tasks {
        // One a freeze holds already says so with its badge.
        let held = t.held_until.is_some_and(|h| h > now);
        if t.state != TaskState::Queued || t.is_system || t.project_id.is_none() || held {
            continue;
        }
        let (outcome, freezes) = predict(c, t, now)?;
        let named = freezes
            .iter()
            .map(|(_, name)| format!("'{name}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let said = match outcome {
            Outcome::Runs => continue,
            Outcome::Overridden => format!("runs through deployment freeze {named} by override"),
            Outcome::Fails => {
                format!("will fail at its start: deployment freeze {named} is on then")
            }
            Outcome::Held { until } => format!(
                "will be held by deployment freeze {named} until {}",
                clock::display(until)
            ),
            Outcome::TimesOut { at } => format!(
                "will time out at {}: deployment freeze {named} holds it past its expiry",
                clock::display(at)
            ),
        };
        out.insert(t.id, said);
    }
    Ok(out)
}

/// What the attempt's badge does not say: until when a freeze holds it, since when it
/// runs or waits, when it failed and with what.
fn note(latest: &Latest, now: i64) -> String {
    let relative = |ms| super::view::relative(ms, now);
    match latest.state {
        TaskState::Queued if latest.awaiting => {
            format!("waiting for approval since {}", relative(latest.queue_time))
        }
        TaskState::Queued => match latest.held_until.filter(|h| *h > now) {
            Some(until) => format!("until {} ({})", clock::display(until), relative(until)),
            None => format!("queued {}", relative(latest.queue_time)),
        },
        TaskState::Executing | TaskState::Cancelling => {
            format!("started {}", relative(latest.start_time.unwrap_or(now)))
        }
        TaskState::Success => String::new(),
        TaskState::Failed | TaskState::TimedOut | TaskState::Canceled => {
            let at = relative(latest.completed_time.unwrap_or(latest.queue_time));
            match latest.error_message.as_deref().filter(|e| !e.is_empty()) {
                Some(error) => format!("attempt {at}: {error}"),
                None => format!("attempt {at}"),
            }
        }
    }
}
