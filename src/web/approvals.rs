//! The Approvals page (what waits for the viewer, what waits for others), and the
//! decision form it and the task page post: Approve or Reject, with a note.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::view::When;
use super::{done, page_id, refused, render, Layout};
use crate::app::App;
use crate::approvals::{self, inbox, Outcome};
use crate::auth::{need, Allowed, FormChange};
use crate::clock;
use crate::error::Result;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, decide]
}

/// One waiting approval as the page lists it.
pub struct Row {
    pub id: i64,
    pub task: i64,
    pub description: String,
    pub queued_by: String,
    pub waiting: When,
    /// For a deployment scheduled for later: when it would start once approved.
    pub starts: Option<When>,
    pub rule: String,
    pub note_required: bool,
    pub why_not: String,
}

impl Row {
    pub fn of(s: &inbox::Shown, now: i64) -> Row {
        Row {
            id: s.interruption.id,
            task: s.task.id,
            description: s.task.description.clone(),
            queued_by: super::view::queued_by(&s.task),
            waiting: When::at(s.interruption.created_at, now),
            starts: (s.task.queue_time > now).then(|| When::at(s.task.queue_time, now)),
            rule: s.rule.clone(),
            note_required: s.note_required,
            why_not: s.why_not.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "approvals/list.html")]
struct ApprovalsPage {
    layout: Layout,
    yours: Vec<Row>,
    others: Vec<Row>,
}

#[rocket::get("/approvals")]
async fn page(
    caller: Allowed<need::TaskView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let actor = caller.actor();
    let now = clock::now_ms();
    let shown = app.store.read(move |c| inbox::pending(c, &actor)).await?;
    let (yours, others): (Vec<_>, Vec<_>) = shown.iter().partition(|s| s.yours);
    render(&ApprovalsPage {
        layout: Layout::new("Approvals", &caller, flash)
            .at("/approvals")
            .refreshing(),
        yours: yours.iter().map(|s| Row::of(s, now)).collect(),
        others: others.iter().map(|s| Row::of(s, now)).collect(),
    })
}

/// Approve or Reject (`decision`), with `notes`; `back` is where the page came from.
#[derive(FromForm)]
pub struct DecisionForm {
    #[field(default = String::new())]
    decision: String,
    #[field(default = String::new())]
    notes: String,
    #[field(default = String::new())]
    back: String,
}

/// Where a decision's answer goes: the task page it came from, or the Approvals page.
fn back_to(back: &str, task: Option<i64>) -> String {
    match task {
        Some(t) if back == "task" => format!("/tasks/{t}"),
        _ => "/approvals".into(),
    }
}

#[rocket::post("/approvals/<id>", data = "<change>")]
async fn decide(
    change: FormChange<need::TaskView, DecisionForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Interruptions", id)?;
    let form = change.form;
    let task = app
        .store
        .read(move |c| crate::store::approvals::find(c, id))
        .await?
        .map(|i| i.task_id);
    let back = back_to(&form.back, task);
    let outcome = match Outcome::parse(&form.decision) {
        Ok(o) => o,
        Err(e) => return Ok(refused(back, &e)),
    };
    Ok(
        match approvals::submit(&app.store, &change.proof, id, outcome, form.notes).await {
            Ok(i) => {
                app.queue.wake();
                let what = match outcome {
                    Outcome::Proceed if i.task_state == crate::model::TaskState::Queued => {
                        "Approved: it joins the queue once every approval it needs is given."
                    }
                    Outcome::Proceed => "Approved.",
                    Outcome::Abort => "Rejected: the deployment is canceled.",
                };
                done(back, format!("ServerTasks-{}: {what}", i.task_id))
            }
            Err(e) => refused(back, &e),
        },
    )
}
