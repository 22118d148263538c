//! Octopus's event subscriptions: `/api/subscriptions` (list, `all`, get, create,
//! update, delete), and drydock's `POST /api/subscriptions/{id}/test` and
//! `GET /api/subscriptions/{id}/deliveries`.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{Route, State};
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::app::App;
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::error::{Error, Result};
use crate::http::SPACE_ID;
use crate::notify;
use crate::store::webhooks::{self, Delivery, Subscription};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, all, get, create, update, delete, test, deliveries]
}

/// Octopus's `TimeSpan` text of `secs`.
fn time_span(secs: i64) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// A subscription as Octopus answers it; the secret is never shown (`HasWebhookSecret`
/// says whether one is set).
pub fn resource(s: &Subscription) -> Value {
    let id = format!("Subscriptions-{}", s.id);
    let f = &s.filter;
    json!({
        "Id": id,
        "Name": s.name,
        "Type": "Event",
        "IsDisabled": s.is_disabled,
        "SpaceId": SPACE_ID,
        "EventNotificationSubscription": {
            "Filter": {
                "Users": f.users, "Projects": f.projects, "ProjectGroups": [],
                "Environments": f.environments, "EventGroups": f.event_groups,
                "EventCategories": f.event_categories, "DocumentTypes": [], "Tags": [],
                "Tenants": [],
            },
            "EmailTeams": [],
            "EmailFrequencyPeriod": "01:00:00",
            "EmailPriority": "Normal",
            "EmailShowDatesInTimeZoneId": "UTC",
            "WebhookURI": s.webhook_uri,
            "WebhookTeams": [],
            "WebhookTimeout": time_span(s.timeout_secs),
            "WebhookHeaderKey": s.header_key,
            "WebhookHeaderValue": s.header_value,
            "WebhookSecret": null,
            "HasWebhookSecret": s.secret.as_deref().is_some_and(|x| !x.is_empty()),
            "PayloadFormat": s.payload,
        },
        "Links": {
            "Self": format!("/api/subscriptions/{id}"),
            "Test": format!("/api/subscriptions/{id}/test"),
            "Deliveries": format!("/api/subscriptions/{id}/deliveries"),
        },
    })
}

pub fn delivery_resource(d: &Delivery) -> Value {
    json!({
        "Id": format!("Deliveries-{}", d.id),
        "SubscriptionId": format!("Subscriptions-{}", d.subscription_id),
        "EventId": format!("Events-{}", d.event_id),
        "Created": clock::iso(d.created_at),
        "State": d.state,
        "Attempts": d.attempts,
        "NextAttempt": (d.state == "Pending").then(|| clock::iso(d.next_attempt_at)),
        "LastStatusCode": d.last_status,
        "LastError": d.last_error,
        "LastDurationMs": d.last_ms,
        "Finished": d.finished_at.map(clock::iso),
        "SentBy": d.claimed_by,
    })
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("Subscription Subscriptions-{id} was not found."))
}

#[rocket::get("/subscriptions?<skip>&<take>")]
async fn list(
    _caller: Allowed<need::SubscriptionView>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<Value>>> {
    let (skip, take) = paging(skip, take)?;
    let (items, total) = app
        .store
        .read(move |c| webhooks::list(c, skip, take))
        .await?;
    Ok(Collection::new(
        "Subscription",
        items.iter().map(resource).collect(),
        total,
        take,
    ))
}

#[rocket::get("/subscriptions/all")]
async fn all(
    _caller: Allowed<need::SubscriptionView>,
    app: &State<App>,
) -> Result<Json<Vec<Value>>> {
    let (items, _) = app
        .store
        .read(move |c| webhooks::list(c, 0, i64::MAX))
        .await?;
    Ok(Json(items.iter().map(resource).collect()))
}

#[rocket::get("/subscriptions/<id>", rank = 2)]
async fn get(
    _caller: Allowed<need::SubscriptionView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Subscriptions", id)?;
    let found = app.store.read(move |c| webhooks::find(c, id)).await?;
    found
        .map(|s| Json(resource(&s)))
        .ok_or_else(|| not_found(id))
}

#[rocket::post("/subscriptions", data = "<body>")]
async fn create(
    change: Change<need::SubscriptionEdit>,
    body: Body<Value>,
    app: &State<App>,
) -> Result<(Status, Json<Value>)> {
    let input = notify::parse(&body.into_inner()?)?;
    let keys = (app.master_key.as_ref(), app.config.webhook_allow_private);
    let s = notify::create(&app.store, &change.proof, keys, input).await?;
    Ok((Status::Created, Json(resource(&s))))
}

#[rocket::put("/subscriptions/<id>", data = "<body>")]
async fn update(
    change: Change<need::SubscriptionEdit>,
    id: &str,
    body: Body<Value>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Subscriptions", id)?;
    let input = notify::parse(&body.into_inner()?)?;
    let keys = (app.master_key.as_ref(), app.config.webhook_allow_private);
    let s = notify::update(&app.store, &change.proof, keys, id, input).await?;
    Ok(Json(resource(&s)))
}

#[rocket::delete("/subscriptions/<id>")]
async fn delete(
    change: Change<need::SubscriptionEdit>,
    id: &str,
    app: &State<App>,
) -> Result<Status> {
    let id = parse_id("Subscriptions", id)?;
    notify::delete(&app.store, &change.proof, id).await?;
    Ok(Status::NoContent)
}

/// Sends the subscription a test event now (whatever its filter).
#[rocket::post("/subscriptions/<id>/test")]
async fn test(
    change: Change<need::SubscriptionEdit>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Subscriptions", id)?;
    let delivery = notify::send_test(&app.store, &change.proof, id).await?;
    Ok(Json(
        json!({"DeliveryId": format!("Deliveries-{delivery}")}),
    ))
}

/// The subscription's latest deliveries, newest first (`take`, at most 100).
#[rocket::get("/subscriptions/<id>/deliveries?<take>")]
async fn deliveries(
    _caller: Allowed<need::SubscriptionView>,
    id: &str,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Subscriptions", id)?;
    let (_, take) = paging(None, take)?;
    let found = app
        .store
        .read(move |c| {
            webhooks::find(c, id)?.ok_or_else(|| not_found(id))?;
            webhooks::recent(c, id, take.min(100))
        })
        .await?;
    Ok(Json(
        json!({"Items": found.iter().map(delivery_resource).collect::<Vec<_>>()}),
    ))
}
