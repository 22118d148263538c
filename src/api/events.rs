//! `GET /api/events`: the audit log, newest first, paged (`EventView`).

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Serialize;

use super::{paging, Collection};
use crate::app::App;
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::Result;
use crate::store::events::{self, Event};

pub fn routes() -> Vec<Route> {
    rocket::routes![list]
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EventResource {
    pub id: String,
    pub category: String,
    pub user_id: Option<String>,
    pub username: String,
    pub identity_established_with: String,
    pub occurred: String,
    pub message: String,
    pub related_document_ids: Vec<String>,
}

impl From<Event> for EventResource {
    fn from(e: Event) -> EventResource {
        EventResource {
            id: format!("Events-{}", e.id),
            category: e.category,
            user_id: e.user_id.map(|id| format!("Users-{id}")),
            username: e.username,
            identity_established_with: e.identity,
            occurred: clock::iso(e.occurred),
            message: e.message,
            related_document_ids: e.related_ids,
        }
    }
}

/// `GET /api/events`: newest first, narrowed by `ids`.
#[rocket::get("/events?<skip>&<take>&<ids>")]
async fn list(
    _caller: Allowed<need::EventView>,
    skip: Option<&str>,
    take: Option<&str>,
    ids: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<EventResource>>> {
    let (skip, take) = paging(skip, take)?;
    let ids = super::id_list("ids", "Events", ids)?;
    let (events, total) = app
        .store
        .read(move |c| events::list_ids(c, ids, skip, take))
        .await?;
    let items = events.into_iter().map(EventResource::from).collect();
    Ok(Collection::new("Event", items, total, take))
}
