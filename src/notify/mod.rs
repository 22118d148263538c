//! Notifications: Octopus's event subscriptions (a filter over the audit log and a
//! webhook), checked field by field and saved as changes (`parse`, [`create`],
//! [`update`], [`delete`], [`send_test`]); what a delivery sends ([`payload`], signed
//! with `hmac.rs`); where it may go (`address.rs`); and the sender each node runs
//! (`sender.rs`). Deliveries themselves are raised by the store, in the transaction of
//! the event that owes them.

pub mod address;
pub mod hmac;
pub mod sender;

use serde_json::{json, Value};

use crate::clock;
use crate::error::{shown, Error, Result};
use crate::secrets::MasterKey;
use crate::store::events::{self, Event};
use crate::store::webhooks::{self, Fields, Filter, Subscription};
use crate::store::{Admit, Store};

/// drydock's one space, as Octopus's payloads name it.
const SPACE_ID: &str = "Spaces-1";

pub const MAX_NAME: usize = 200;
pub const MAX_HEADER: usize = 1_000;
pub const MAX_SECRET: usize = 1_000;
pub const MAX_FILTER: usize = 200;
/// The longest a webhook may take to answer, and the default.
pub const MAX_TIMEOUT_SECS: i64 = 60;
pub const DEFAULT_TIMEOUT_SECS: i64 = 10;

/// A subscription as a caller gives it, checked.
pub struct Input {
    pub name: String,
    pub is_disabled: bool,
    pub filter: Filter,
    pub webhook_uri: String,
    pub payload: String,
    pub timeout_secs: i64,
    pub header: Option<(String, String)>,
    /// `None`: keep the one it has (or none); `Some("")`: remove it.
    pub secret: Option<String>,
}

/// Headers a subscription may not set: drydock's own and HTTP's framing.
const RESERVED: [&str; 6] = [
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
];

/// Octopus's `TimeSpan` (`"00:00:10"`), or seconds as a number.
fn timeout(value: Option<&Value>) -> Result<i64> {
    let secs = match value {
        None | Some(Value::Null) => return Ok(DEFAULT_TIMEOUT_SECS),
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => {
            let parts: Vec<Option<i64>> = s.split(':').map(|p| p.trim().parse().ok()).collect();
            match parts.as_slice() {
                [Some(h), Some(m), Some(sec)] => Some(h * 3600 + m * 60 + sec),
                [Some(sec)] => Some(*sec),
                _ => None,
            }
        }
        Some(_) => None,
    };
    match secs {
        Some(s) if (1..=MAX_TIMEOUT_SECS).contains(&s) => Ok(s),
        _ => Err(Error::bad(
            "EventNotificationSubscription.WebhookTimeout",
            format!("must be between 00:00:01 and 00:01:00 (1 to {MAX_TIMEOUT_SECS} seconds)"),
        )),
    }
}

/// A field's text, trimmed ('' when absent or not text).
fn text(v: Option<&Value>) -> &str {
    v.and_then(Value::as_str).map(str::trim).unwrap_or_default()
}

fn strings(at: &str, value: Option<&Value>, problems: &mut Vec<Error>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() <= MAX_FILTER => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                match item.as_str().map(str::trim) {
                    Some(s)
                        if !s.is_empty()
                            && s.len() <= MAX_NAME
                            && !s.chars().any(char::is_control) =>
                    {
                        out.push(s.to_string())
                    }
                    _ => problems.push(Error::bad(&format!("{at}[{i}]"), "must be a name or id")),
                }
            }
            out
        }
        Some(_) => {
            problems.push(Error::bad(
                at,
                format!("must be a list of at most {MAX_FILTER} names or ids"),
            ));
            Vec::new()
        }
    }
}

/// Checks a subscription body (Octopus's shape, with drydock's `WebhookSecret` and
/// `PayloadFormat`): every problem at once, naming the field.
pub fn parse(body: &Value) -> Result<Input> {
    let Some(top) = body.as_object() else {
        return Err(Error::bad("body", "must be a subscription object"));
    };
    let mut problems = Vec::new();

    let name = text(top.get("Name")).to_string();
    problems.extend(crate::validate::name("Name", &name, MAX_NAME).err());
    match top.get("Type").and_then(Value::as_str) {
        None | Some("Event") => {}
        Some(other) => problems.push(Error::bad(
            "Type",
            format!(
                "'{}' is not supported: drydock's subscriptions are Event",
                shown(other)
            ),
        )),
    }
    let is_disabled = match top.get("IsDisabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(Error::bad("IsDisabled", "must be true or false"));
            false
        }
    };
    let empty = serde_json::Map::new();
    let sub = match top.get("EventNotificationSubscription") {
        Some(Value::Object(o)) => o,
        _ => {
            problems.push(Error::bad(
                "EventNotificationSubscription",
                "is required: an object with Filter and WebhookURI",
            ));
            &empty
        }
    };
    const AT: &str = "EventNotificationSubscription";
    let filter_value = sub
        .get("Filter")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let list = |name: &str, problems: &mut Vec<Error>| {
        strings(
            &format!("{AT}.Filter.{name}"),
            filter_value.get(name),
            problems,
        )
    };
    let filter = Filter {
        users: list("Users", &mut problems),
        projects: list("Projects", &mut problems),
        environments: list("Environments", &mut problems),
        event_groups: list("EventGroups", &mut problems),
        event_categories: list("EventCategories", &mut problems),
    };
    for (i, g) in filter.event_groups.iter().enumerate() {
        if webhooks::group_categories(g).is_none() {
            let names: Vec<&str> = webhooks::GROUPS.iter().map(|(n, _)| *n).collect();
            problems.push(Error::bad(
                &format!("{AT}.Filter.EventGroups[{i}]"),
                format!(
                    "'{}' is not an event group; they are {}",
                    shown(g),
                    names.join(", ")
                ),
            ));
        }
    }
    let webhook_uri = text(sub.get("WebhookURI")).to_string();
    if webhook_uri.is_empty() {
        problems.push(Error::bad(&format!("{AT}.WebhookURI"), "is required"));
    } else if let Err(e) = address::parse(&format!("{AT}.WebhookURI"), &webhook_uri) {
        problems.push(e);
    }
    let timeout_secs = timeout(sub.get("WebhookTimeout")).unwrap_or_else(|e| {
        problems.push(e);
        DEFAULT_TIMEOUT_SECS
    });
    let key = text(sub.get("WebhookHeaderKey")).to_string();
    let value = text(sub.get("WebhookHeaderValue")).to_string();
    let header = if key.is_empty() {
        None
    } else if key.len() > MAX_NAME
        || !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        problems.push(Error::bad(
            &format!("{AT}.WebhookHeaderKey"),
            "must be a header name: letters, digits, - and _",
        ));
        None
    } else if RESERVED.contains(&key.to_ascii_lowercase().as_str())
        || key.to_ascii_lowercase().starts_with("x-drydock-")
    {
        problems.push(Error::bad(
            &format!("{AT}.WebhookHeaderKey"),
            format!("{key} is set by drydock itself"),
        ));
        None
    } else if value.len() > MAX_HEADER || value.chars().any(char::is_control) {
        problems.push(Error::bad(
            &format!("{AT}.WebhookHeaderValue"),
            format!("must be at most {MAX_HEADER} characters, without control characters"),
        ));
        None
    } else {
        Some((key, value))
    };
    let secret = match sub.get("WebhookSecret") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.len() <= MAX_SECRET && !s.contains('\0') => Some(s.clone()),
        Some(_) => {
            problems.push(Error::bad(
                &format!("{AT}.WebhookSecret"),
                format!("must be text of at most {MAX_SECRET} characters (null keeps the one set)"),
            ));
            None
        }
    };
    let payload = match sub.get("PayloadFormat").and_then(Value::as_str) {
        None => "Octopus".to_string(),
        Some(p) if p.eq_ignore_ascii_case("octopus") => "Octopus".to_string(),
        Some(p) if p.eq_ignore_ascii_case("slack") => "Slack".to_string(),
        Some(other) => {
            problems.push(Error::bad(
                &format!("{AT}.PayloadFormat"),
                format!("'{}' is not Octopus or Slack", shown(other)),
            ));
            String::new()
        }
    };
    Error::all(problems)?;
    Ok(Input {
        name,
        is_disabled,
        filter,
        webhook_uri,
        payload,
        timeout_secs,
        header,
        secret,
    })
}

/// The subscription's fields as stored: its secret sealed (`None` keeps it).
fn fields(input: Input, key: &MasterKey) -> Result<Fields> {
    let secret = match input.secret.as_deref() {
        None => None,
        Some("") => Some(String::new()),
        Some(s) => Some(key.seal(s)?),
    };
    let (header_key, header_value) = input.header.unzip();
    Ok(Fields {
        name: input.name,
        is_disabled: input.is_disabled,
        filter: input.filter,
        webhook_uri: input.webhook_uri,
        payload: input.payload,
        timeout_secs: input.timeout_secs,
        header_key,
        header_value,
        secret,
    })
}

/// Refuses a webhook whose host resolves to a private address (unless allowed): checked
/// when it is saved, and again by the sender at each delivery.
async fn check_reachable(uri: &str, allow_private: bool) -> Result<()> {
    let field = "EventNotificationSubscription.WebhookURI";
    let target = address::parse(field, uri)?;
    let resolved = tokio::task::spawn_blocking(move || {
        address::resolve(&target.host, target.port, allow_private).map(|_| ())
    })
    .await
    .map_err(|e| Error::internal_from("resolving a webhook's host", e))?;
    resolved.map_err(|e| Error::bad(field, e.to_string()))
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("Subscription Subscriptions-{id} was not found."))
}

/// Creates a subscription, audited (`SubscriptionCreated`).
pub async fn create(
    store: &Store,
    admission: &impl Admit,
    (key, allow_private): (&MasterKey, bool),
    input: Input,
) -> Result<Subscription> {
    check_reachable(&input.webhook_uri, allow_private).await?;
    let fields = fields(input, key)?;
    store
        .change(admission, move |tx| {
            let now = clock::now_ms();
            let id = webhooks::create(tx, &fields, now)?;
            events::record(
                tx,
                "SubscriptionCreated",
                &format!("Created subscription {}", fields.name),
                &[format!("Subscriptions-{id}")],
            )?;
            webhooks::find(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

/// Replaces a subscription's fields (a secret not given is kept), audited.
pub async fn update(
    store: &Store,
    admission: &impl Admit,
    (key, allow_private): (&MasterKey, bool),
    id: i64,
    input: Input,
) -> Result<Subscription> {
    check_reachable(&input.webhook_uri, allow_private).await?;
    let fields = fields(input, key)?;
    store
        .change(admission, move |tx| {
            webhooks::find(tx, id)?.ok_or_else(|| not_found(id))?;
            webhooks::update(tx, id, &fields, clock::now_ms())?;
            events::record(
                tx,
                "SubscriptionModified",
                &format!("Modified subscription {}", fields.name),
                &[format!("Subscriptions-{id}")],
            )?;
            webhooks::find(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

/// Disables a subscription (its events raise no deliveries; those raised still go) or
/// enables it again, audited (`SubscriptionDisabled`, `SubscriptionEnabled`).
pub async fn set_disabled(
    store: &Store,
    admission: &impl Admit,
    id: i64,
    disabled: bool,
) -> Result<Subscription> {
    store
        .change(admission, move |tx| {
            let s = webhooks::find(tx, id)?.ok_or_else(|| not_found(id))?;
            if s.is_disabled != disabled {
                webhooks::set_disabled(tx, id, disabled, clock::now_ms())?;
                let (category, verb) = if disabled {
                    ("SubscriptionDisabled", "Disabled")
                } else {
                    ("SubscriptionEnabled", "Enabled")
                };
                events::record(
                    tx,
                    category,
                    &format!("{verb} subscription {}", s.name),
                    &[format!("Subscriptions-{id}")],
                )?;
            }
            webhooks::find(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

/// Deletes a subscription and its delivery log, audited.
pub async fn delete(store: &Store, admission: &impl Admit, id: i64) -> Result<()> {
    store
        .change(admission, move |tx| {
            let s = webhooks::find(tx, id)?.ok_or_else(|| not_found(id))?;
            webhooks::delete(tx, id)?;
            events::record(
                tx,
                "SubscriptionDeleted",
                &format!("Deleted subscription {}", s.name),
                &[format!("Subscriptions-{id}")],
            )?;
            Ok(())
        })
        .await
}

/// "Send a test event": an audit event (`SubscriptionTested`) delivered to this
/// subscription alone, whatever its filter (and even disabled). Returns the delivery.
pub async fn send_test(store: &Store, admission: &impl Admit, id: i64) -> Result<i64> {
    store
        .change(admission, move |tx| {
            let s = webhooks::find(tx, id)?.ok_or_else(|| not_found(id))?;
            let event = events::record_unannounced(
                tx,
                "SubscriptionTested",
                &format!("A test event for subscription {}", s.name),
                &[format!("Subscriptions-{id}")],
            )?;
            webhooks::raise(tx, id, event, clock::now_ms())
        })
        .await
}

/// Where links in a payload point: `server_url`, or this node's address.
pub fn server_url(config: &crate::config::Config) -> String {
    config
        .server_url
        .clone()
        .unwrap_or_else(|| format!("http://{}:{}", config.address, config.port))
        .trim_end_matches('/')
        .to_string()
}

/// The page an event is best seen on: its task's, else its project's, else the audit
/// log.
fn page_of(server: &str, e: &Event) -> String {
    let id = |prefix: &str| {
        e.related_ids
            .iter()
            .find_map(|r| r.strip_prefix(prefix).and_then(|n| n.parse::<i64>().ok()))
    };
    if let Some(t) = id("ServerTasks-") {
        format!("{server}/tasks/{t}")
    } else if let Some(p) = id("Projects-") {
        format!("{server}/projects/{p}")
    } else {
        format!("{server}/configuration/audit")
    }
}

/// What a delivery sends: Octopus's webhook payload, or Slack's `{"text": ...}`.
pub fn payload(s: &Subscription, e: &Event, server: &str, now: i64) -> Value {
    if s.payload == "Slack" {
        let page = page_of(server, e);
        return json!({"text": format!("{} <{page}|{}>", e.message, e.category)});
    }
    json!({
        "Timestamp": clock::iso(now),
        "EventType": "SubscriptionPayload",
        "Payload": {
            "ServerUri": server,
            "ServerAuditUri": format!("{server}/configuration/audit"),
            "BatchProcessingDate": clock::iso(now),
            "Subscription": {
                "Id": format!("Subscriptions-{}", s.id),
                "Name": s.name,
                "Type": "Event",
                "IsDisabled": s.is_disabled,
                "SpaceId": SPACE_ID,
            },
            "Event": {
                "Id": format!("Events-{}", e.id),
                "Category": e.category,
                "UserId": e.user_id.map(|u| format!("Users-{u}")),
                "Username": e.username,
                "IdentityEstablishedWith": e.identity,
                "Occurred": clock::iso(e.occurred),
                "Message": e.message,
                "RelatedDocumentIds": e.related_ids,
                "SpaceId": SPACE_ID,
                "Links": {"Self": format!("{server}/api/events/Events-{}", e.id), "Web": page_of(server, e)},
            },
        },
    })
}
