//! Configuration ➜ Audit: the event log, newest first.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::{render, Layout};
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::Result;
use crate::store::events::{self, Event};
use crate::App;

pub fn routes() -> Vec<Route> {
    rocket::routes![audit]
}

const PAGE_SIZE: i64 = 50;

pub struct EventRow {
    pub id: i64,
    pub occurred: String,
    pub category: String,
    pub username: String,
    pub identity: String,
    pub message: String,
}

impl From<Event> for EventRow {
    fn from(e: Event) -> EventRow {
        EventRow {
            id: e.id,
            occurred: clock::display(e.occurred),
            category: e.category,
            username: e.username,
            identity: e.identity,
            message: e.message,
        }
    }
}

#[derive(Template)]
#[template(path = "config/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<EventRow>,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

#[rocket::get("/configuration/audit?<skip>")]
async fn audit(
    caller: Allowed<need::EventView>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    let (events, total) = app
        .store
        .read(move |c| events::list(c, skip, PAGE_SIZE))
        .await?;
    render(&AuditPage {
        layout: Layout::new("Audit", &caller, flash).at("/configuration/audit"),
        events: events.into_iter().map(EventRow::from).collect(),
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
    })
}
