//! Configuration ➜ Subscriptions: the event subscriptions with their webhooks (list,
//! create, edit, disable, delete, "send a test event") and each one's delivery log,
//! failures first in words. The form is turned into the API's body and saved through
//! the same checks and changes as `/api/subscriptions` (`crate::notify`).

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};
use serde_json::{json, Value};

use super::forms::{field, Field, FormErrors, FormResult};
use super::freezes::{names, Names};
use super::view::When;
use super::{done, page_id, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::guards::NoFields;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::error::{Error, Result};
use crate::notify;
use crate::store::{events, webhooks};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, new, show, create, update, enable, test, delete]
}

const BACK: &str = "/configuration/subscriptions";
/// How many of a subscription's latest deliveries its page shows.
const LOG: i64 = 50;

const AT: &str = "EventNotificationSubscription";
const FIELDS: &[Field] = &[
    field("Name", "name", "Name"),
    field(
        "EventNotificationSubscription.WebhookURI",
        "uri",
        "Webhook URL",
    ),
    field(
        "EventNotificationSubscription.WebhookTimeout",
        "timeout",
        "Timeout",
    ),
    field(
        "EventNotificationSubscription.WebhookHeaderKey",
        "header_key",
        "Header name",
    ),
    field(
        "EventNotificationSubscription.WebhookHeaderValue",
        "header_value",
        "Header value",
    ),
    field(
        "EventNotificationSubscription.WebhookSecret",
        "secret",
        "Signing secret",
    ),
    field(
        "EventNotificationSubscription.PayloadFormat",
        "format",
        "Payload",
    ),
    field(
        "EventNotificationSubscription.Filter.EventCategories",
        "categories",
        "Categories",
    ),
];

pub struct Row {
    pub id: i64,
    pub name: String,
    pub uri: String,
    pub format: String,
    pub disabled: bool,
    pub filter: String,
    /// The last delivery: its state and when.
    pub last: Option<(String, When)>,
    pub failed: usize,
}

#[derive(Template)]
#[template(path = "config/subscriptions.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    can_edit: bool,
}

/// What a filter selects, in words.
fn describe(f: &webhooks::Filter, names: &Names) -> String {
    let mut parts = Vec::new();
    let named = |ids: &[String], prefix: &str, list: &[(i64, String)]| -> Vec<String> {
        ids.iter()
            .map(|id| {
                id.strip_prefix(prefix)
                    .and_then(|n| n.parse::<i64>().ok())
                    .and_then(|n| list.iter().find(|(i, _)| *i == n))
                    .map_or_else(|| id.clone(), |(_, name)| name.clone())
            })
            .collect()
    };
    let kinds: Vec<String> = f
        .event_groups
        .iter()
        .chain(&f.event_categories)
        .cloned()
        .collect();
    parts.push(if kinds.is_empty() {
        "every event".to_string()
    } else {
        kinds.join(", ")
    });
    if !f.projects.is_empty() {
        parts.push(format!(
            "of {}",
            named(&f.projects, "Projects-", &names.0).join(", ")
        ));
    }
    if !f.environments.is_empty() {
        parts.push(format!(
            "in {}",
            named(&f.environments, "Environments-", &names.1).join(", ")
        ));
    }
    if !f.users.is_empty() {
        parts.push(format!("by {}", f.users.join(", ")));
    }
    parts.join(" ")
}

#[rocket::get("/configuration/subscriptions")]
async fn list(
    caller: Allowed<need::SubscriptionView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let names = names(app).await?;
    let subs = app
        .store
        .read(|c| {
            let (subs, _) = webhooks::list(c, 0, 1_000)?;
            subs.into_iter()
                .map(|s| {
                    let log = webhooks::recent(c, s.id, LOG)?;
                    Ok((s, log))
                })
                .collect::<Result<Vec<_>>>()
        })
        .await?;
    let now = clock::now_ms();
    render(&ListPage {
        layout: Layout::new("Subscriptions", &caller, flash).at(BACK),
        rows: subs
            .into_iter()
            .map(|(s, log)| Row {
                id: s.id,
                filter: describe(&s.filter, &names),
                uri: s.webhook_uri,
                format: s.payload,
                disabled: s.is_disabled,
                last: log
                    .first()
                    .map(|d| (d.state.clone(), When::at(d.created_at, now))),
                failed: log.iter().filter(|d| d.state == "Failed").count(),
                name: s.name,
            })
            .collect(),
        can_edit: caller.can(Permission::SubscriptionEdit),
    })
}

/// The form: every field may be left out (a form posted by hand).
#[derive(FromForm, Clone, Default)]
pub struct SubscriptionForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    uri: String,
    #[field(default = String::new())]
    format: String,
    #[field(default = String::new())]
    timeout: String,
    #[field(default = String::new())]
    header_key: String,
    #[field(default = String::new())]
    header_value: String,
    /// Blank keeps the one set.
    #[field(default = String::new())]
    secret: String,
    #[field(default = false)]
    remove_secret: bool,
    #[field(default = Vec::new())]
    groups: Vec<String>,
    /// Categories, separated by commas or spaces.
    #[field(default = String::new())]
    categories: String,
    #[field(default = Vec::new())]
    projects: Vec<String>,
    #[field(default = Vec::new())]
    environments: Vec<String>,
    #[field(default = false)]
    disabled: bool,
}

impl SubscriptionForm {
    fn of(s: &webhooks::Subscription) -> SubscriptionForm {
        SubscriptionForm {
            name: s.name.clone(),
            uri: s.webhook_uri.clone(),
            format: s.payload.clone(),
            timeout: s.timeout_secs.to_string(),
            header_key: s.header_key.clone().unwrap_or_default(),
            header_value: s.header_value.clone().unwrap_or_default(),
            secret: String::new(),
            remove_secret: false,
            groups: s.filter.event_groups.clone(),
            categories: s.filter.event_categories.join(", "),
            projects: s.filter.projects.clone(),
            environments: s.filter.environments.clone(),
            disabled: s.is_disabled,
        }
    }

    /// The API's body for what was typed.
    fn body(&self) -> Value {
        let categories: Vec<&str> = self
            .categories
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|c| !c.is_empty())
            .collect();
        let secret = match (self.remove_secret, self.secret.is_empty()) {
            (true, _) => json!(""),
            (false, true) => Value::Null,
            (false, false) => json!(self.secret),
        };
        let timeout = self.timeout.trim();
        json!({
            "Name": self.name.trim(),
            "Type": "Event",
            "IsDisabled": self.disabled,
            AT: {
                "Filter": {
                    "EventGroups": self.groups,
                    "EventCategories": categories,
                    "Projects": self.projects,
                    "Environments": self.environments,
                },
                "WebhookURI": self.uri.trim(),
                "WebhookTimeout": if timeout.is_empty() { Value::Null } else { json!(timeout) },
                "WebhookHeaderKey": self.header_key.trim(),
                "WebhookHeaderValue": self.header_value,
                "WebhookSecret": secret,
                "PayloadFormat": if self.format.is_empty() { "Octopus" } else { &self.format },
            },
        })
    }

    pub fn has_group(&self, g: &&str) -> bool {
        self.groups.iter().any(|x| x == g)
    }

    pub fn has_project(&self, id: &i64) -> bool {
        self.projects.contains(&format!("Projects-{id}"))
    }

    pub fn has_environment(&self, id: &i64) -> bool {
        self.environments.contains(&format!("Environments-{id}"))
    }
}

pub struct DeliveryRow {
    pub id: i64,
    pub event: String,
    pub state: String,
    pub attempts: i64,
    pub status: String,
    pub error: String,
    pub ms: String,
    pub node: String,
    pub when: When,
    pub next: Option<When>,
}

#[derive(Template)]
#[template(path = "config/subscription.html")]
struct FormPage {
    layout: Layout,
    id: Option<i64>,
    form: SubscriptionForm,
    errors: FormErrors,
    has_secret: bool,
    groups: Vec<&'static str>,
    projects: Vec<(i64, String)>,
    environments: Vec<(i64, String)>,
    deliveries: Vec<DeliveryRow>,
    can_edit: bool,
}

async fn form_page(
    app: &App,
    caller: &Caller,
    id: Option<i64>,
    (form, errors): (SubscriptionForm, FormErrors),
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let (projects, environments) = names(app).await?;
    let (has_secret, log) = match id {
        Some(id) => {
            app.store
                .read(move |c| {
                    let s = webhooks::find(c, id)?.ok_or_else(|| not_found(id))?;
                    let mut log = Vec::new();
                    for d in webhooks::recent(c, id, LOG)? {
                        let event = events::find(c, d.event_id)?
                            .map_or_else(|| format!("Events-{}", d.event_id), |e| e.category);
                        log.push((d, event));
                    }
                    Ok((s.secret.is_some_and(|x| !x.is_empty()), log))
                })
                .await?
        }
        None => (false, Vec::new()),
    };
    let now = clock::now_ms();
    let title = match id {
        Some(_) => format!("Subscription {}", form.name),
        None => "New subscription".to_string(),
    };
    render(&FormPage {
        layout: Layout::new(&title, caller, flash).at(BACK),
        id,
        form,
        errors,
        has_secret,
        groups: webhooks::GROUPS.iter().map(|(g, _)| *g).collect(),
        projects,
        environments,
        deliveries: log
            .into_iter()
            .map(|(d, event)| DeliveryRow {
                id: d.id,
                event,
                attempts: d.attempts,
                status: d.last_status.map(|s| s.to_string()).unwrap_or_default(),
                error: d.last_error.clone().unwrap_or_default(),
                ms: d.last_ms.map(|m| format!("{m} ms")).unwrap_or_default(),
                node: d.claimed_by.clone().unwrap_or_default(),
                when: When::at(d.created_at, now),
                next: (d.state == "Pending" && d.attempts > 0)
                    .then(|| When::at(d.next_attempt_at, now)),
                state: d.state,
            })
            .collect(),
        can_edit: caller.can(Permission::SubscriptionEdit),
    })
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("Subscription Subscriptions-{id} was not found."))
}

#[rocket::get("/configuration/subscriptions/new")]
async fn new(caller: Allowed<need::SubscriptionEdit>, app: &State<App>) -> Result<RawHtml<String>> {
    let form = SubscriptionForm {
        format: "Octopus".into(),
        timeout: notify::DEFAULT_TIMEOUT_SECS.to_string(),
        ..Default::default()
    };
    form_page(app, &caller, None, (form, FormErrors::none()), None).await
}

#[rocket::get("/configuration/subscriptions/<id>")]
async fn show(
    caller: Allowed<need::SubscriptionView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Subscriptions", id)?;
    let s = app
        .store
        .read(move |c| webhooks::find(c, id))
        .await?
        .ok_or_else(|| not_found(id))?;
    let form = (SubscriptionForm::of(&s), FormErrors::none());
    form_page(app, &caller, Some(id), form, flash).await
}

#[rocket::post("/configuration/subscriptions", data = "<change>")]
async fn create(
    change: FormChange<need::SubscriptionEdit, SubscriptionForm>,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.clone();
    let keys = (app.master_key.as_ref(), app.config.webhook_allow_private);
    let saved = match notify::parse(&change.form.body()) {
        Ok(input) => notify::create(&app.store, &change.proof, keys, input).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(s) => FormResult::done(done(
            format!("{BACK}/{}", s.id),
            format!("Created subscription {}.", s.name),
        )),
        Err(e) => {
            let errors = FormErrors::from_error(&e, FIELDS);
            FormResult::again(form_page(app, &change.caller, None, (typed, errors), None).await)
        }
    }
}

#[rocket::post("/configuration/subscriptions/<id>", data = "<change>")]
async fn update(
    change: FormChange<need::SubscriptionEdit, SubscriptionForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Subscriptions", id)?;
    let typed = change.form.clone();
    let keys = (app.master_key.as_ref(), app.config.webhook_allow_private);
    let saved = match notify::parse(&change.form.body()) {
        Ok(input) => notify::update(&app.store, &change.proof, keys, id, input).await,
        Err(e) => Err(e),
    };
    match saved {
        Ok(s) => FormResult::done(done(
            format!("{BACK}/{id}"),
            format!("Saved subscription {}.", s.name),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, FIELDS);
            FormResult::again(form_page(app, &change.caller, Some(id), (typed, errors), None).await)
        }
    }
}

#[derive(FromForm)]
pub struct EnableForm {
    disabled: bool,
}

/// Disables a subscription (its events raise no deliveries) or enables it again.
#[rocket::post("/configuration/subscriptions/<id>/enable", data = "<change>")]
async fn enable(
    change: FormChange<need::SubscriptionEdit, EnableForm>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Subscriptions", id)?;
    let back = format!("{BACK}/{id}");
    let disabled = change.form.disabled;
    Ok(
        match notify::set_disabled(&app.store, &change.proof, id, disabled).await {
            Ok(s) if s.is_disabled => done(back, format!("Subscription {} is disabled.", s.name)),
            Ok(s) => done(back, format!("Subscription {} is enabled.", s.name)),
            Err(e) => refused(back, &e),
        },
    )
}

#[rocket::post("/configuration/subscriptions/<id>/test", data = "<change>")]
async fn test(
    change: FormChange<need::SubscriptionEdit, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Subscriptions", id)?;
    let back = format!("{BACK}/{id}");
    Ok(
        match notify::send_test(&app.store, &change.proof, id).await {
            Ok(d) => done(
                back,
                format!("A test event is on its way (Deliveries-{d}): its result shows below."),
            ),
            Err(e) => refused(back, &e),
        },
    )
}

#[rocket::post("/configuration/subscriptions/<id>/delete", data = "<change>")]
async fn delete(
    change: FormChange<need::SubscriptionEdit, NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<Flash<Redirect>> {
    let id = page_id("Subscriptions", id)?;
    Ok(match notify::delete(&app.store, &change.proof, id).await {
        Ok(()) => done(
            BACK.into(),
            "The subscription and its delivery log have been deleted.",
        ),
        Err(e) => refused(format!("{BACK}/{id}"), &e),
    })
}
