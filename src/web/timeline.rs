//! The timeline page: the next 14 days of maintenance windows, deployment freeze
//! windows by project × environment, and scheduled deployments with what will become
//! of each (`freezes::timeline`; the API's `GET /api/timeline` is the same data).

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::view::When;
use super::{render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::Result;
use crate::freezes::timeline::{self, Outcome};

pub fn routes() -> Vec<Route> {
    rocket::routes![timeline_page]
}

pub struct TimelineDeployment {
    pub task: i64,
    pub description: String,
    pub due: When,
    pub outcome: &'static str,
    pub flagged: bool,
    pub class: &'static str,
    /// "fails at its start: freeze 'X'", "held until …", ...
    pub why: String,
}

pub struct TimelineFreeze {
    pub id: i64,
    pub name: String,
    pub start: When,
    pub end: When,
    pub on_start: &'static str,
    pub pairs: Vec<String>,
}

pub struct TimelineWindow {
    pub start: When,
    pub end: When,
    pub message: String,
}

#[derive(Template)]
#[template(path = "timeline.html")]
struct TimelinePage {
    layout: Layout,
    from: String,
    to: String,
    windows: Vec<TimelineWindow>,
    freezes: Vec<TimelineFreeze>,
    deployments: Vec<TimelineDeployment>,
    flagged: usize,
    visible: timeline::Visible,
}

/// The next 14 days: maintenance windows, freeze windows by pair, scheduled deployments
/// with what will become of them.
#[rocket::get("/timeline")]
async fn timeline_page(
    caller: Allowed<need::SignedIn>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let (from, to) = timeline::span(None, None, now)?;
    let visible = timeline::Visible {
        pairs: caller.can(Permission::ProjectView) && caller.can(Permission::EnvironmentView),
        deployments: caller.can(Permission::TaskView),
    };
    let t = app
        .store
        .read(move |c| timeline::timeline(c, from, to, now, visible))
        .await?;
    let deployments: Vec<TimelineDeployment> = t
        .deployments
        .iter()
        .map(|d| {
            let named = d
                .freezes
                .iter()
                .map(|(_, n)| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ");
            let (class, why) = match d.outcome {
                Outcome::Runs => ("good", String::new()),
                Outcome::Overridden => ("good", format!("through {named} by override")),
                Outcome::Fails => ("bad", format!("fails at its start: freeze {named}")),
                Outcome::Held { until } => (
                    "scheduled",
                    format!("held by freeze {named} until {}", clock::display(until)),
                ),
                Outcome::TimesOut { at } => (
                    "bad",
                    format!(
                        "held by freeze {named}, times out at {}",
                        clock::display(at)
                    ),
                ),
            };
            // One waiting for an approval starts only once approved, then as foreseen.
            let (outcome, class, why) = if d.task.waits_for_approval() {
                let then = match why.as_str() {
                    "" => String::new(),
                    w => format!("; then {w}"),
                };
                (
                    "Awaiting approval",
                    "awaiting",
                    format!("not before it is approved{then}"),
                )
            } else {
                (d.outcome.as_str(), class, why)
            };
            TimelineDeployment {
                task: d.task.id,
                description: d.task.description.clone(),
                due: When::at(d.due, now),
                outcome,
                flagged: d.outcome.flagged(),
                class,
                why,
            }
        })
        .collect();
    render(&TimelinePage {
        layout: Layout::new("Timeline", &caller, flash).at("/timeline"),
        from: clock::display(from),
        to: clock::display(to),
        windows: t
            .maintenance
            .iter()
            .map(|w| TimelineWindow {
                start: When::at(w.start_at, now),
                end: When::at(w.end_at, now),
                message: w.message.clone().unwrap_or_default(),
            })
            .collect(),
        freezes: t
            .freezes
            .iter()
            .map(|w| TimelineFreeze {
                id: w.freeze.row.id,
                name: w.freeze.row.name.clone(),
                start: When::at(w.start, now),
                end: When::at(w.end, now),
                on_start: w.freeze.on_start.as_str(),
                pairs: w
                    .pairs
                    .iter()
                    .map(|(_, p, _, e)| format!("{p} → {e}"))
                    .collect(),
            })
            .collect(),
        flagged: deployments.iter().filter(|d| d.flagged).count(),
        deployments,
        visible,
    })
}
