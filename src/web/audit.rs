//! Configuration ➜ Audit: the event log, newest first, filtered by user, event and date
//! range (all in the URL), each event in words with links to what it is about.

use askama::Template;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::tasks::Choice;
use super::view::When;
use super::{render, Layout};
use crate::app::App;
use crate::auth::{need, Allowed};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::events::{self, Event, EventFilter};

pub fn routes() -> Vec<Route> {
    rocket::routes![audit]
}

const PAGE_SIZE: i64 = 50;
const DAY_MS: i64 = 86_400_000;

/// A link to what an event is about.
pub struct Related {
    /// What it names in words ("Project Shop"), or the id when that is gone.
    pub label: String,
    pub id: String,
    pub href: Option<String>,
}

pub struct EventRow {
    pub id: i64,
    pub occurred: When,
    pub what: String,
    pub username: String,
    pub identity: String,
    pub message: String,
    pub related: Vec<Related>,
}

/// An event's name in words: `DeploymentQueued` → "Deployment queued".
pub fn in_words(category: &str) -> String {
    let mut words = String::with_capacity(category.len() + 4);
    for (i, c) in category.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            words.push(' ');
            words.extend(c.to_lowercase());
        } else {
            words.push(c);
        }
    }
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

/// What the ids on a page of events name ("Project Shop", "Release Shop 1.0"), looked
/// up once per id; an id whose thing is gone keeps its id.
type Names = std::collections::HashMap<String, String>;

fn names_of(c: &crate::store::Conn, events: &[Event]) -> Result<Names> {
    use crate::store::{projects, users};
    let mut names = Names::new();
    let ids = events
        .iter()
        .flat_map(|e| e.related_ids.iter().cloned())
        .chain(
            events
                .iter()
                .filter_map(|e| e.user_id.map(|u| format!("Users-{u}"))),
        );
    for id in ids {
        if names.contains_key(&id) {
            continue;
        }
        let Some((kind, n)) = id.rsplit_once('-') else {
            continue;
        };
        let Ok(n) = n.parse::<i64>() else {
            continue;
        };
        let name = match kind {
            "Projects" => projects::find(c, n)?.map(|p| format!("Project {}", p.name)),
            "Environments" => {
                projects::find_environment(c, n)?.map(|e| format!("Environment {}", e.name))
            }
            "Releases" => match projects::find_release(c, n)? {
                Some(r) => {
                    let project = projects::find(c, r.project_id)?.map(|p| p.name);
                    Some(format!(
                        "Release {} {}",
                        project.unwrap_or_default(),
                        r.version
                    ))
                }
                None => None,
            },
            "Users" => users::find(c, n)?.map(|u| format!("User {}", u.username)),
            "DeploymentFreezes" => {
                crate::freezes::find(c, n)?.map(|f| format!("Freeze '{}'", f.row.name))
            }
            _ => None,
        };
        if let Some(name) = name {
            names.insert(id, name);
        }
    }
    Ok(names)
}

/// Where an id such as `Projects-3` or `ServerTasks-12` is shown, if it has a page.
fn link(id: &str) -> Related {
    let page = id.rsplit_once('-').and_then(|(kind, n)| {
        let n: i64 = n.parse().ok()?;
        Some(match kind {
            "Projects" => format!("/projects/{n}"),
            "Releases" => format!("/releases/{n}"),
            "Environments" => format!("/environments/{n}"),
            "ServerTasks" => format!("/tasks/{n}"),
            "Users" => format!("/configuration/users/{n}"),
            _ => return None,
        })
    });
    Related {
        label: id.to_string(),
        id: id.to_string(),
        href: page,
    }
}

impl EventRow {
    fn new(e: Event, now: i64, names: &Names) -> EventRow {
        let mut related: Vec<Related> = e.related_ids.iter().map(|id| link(id)).collect();
        if let Some(user) = e.user_id {
            related.push(link(&format!("Users-{user}")));
        }
        for r in &mut related {
            if let Some(name) = names.get(&r.id) {
                r.label = name.clone();
            }
        }
        EventRow {
            id: e.id,
            occurred: When::at(e.occurred, now),
            what: in_words(&e.category),
            username: e.username,
            identity: e.identity,
            message: e.message,
            related,
        }
    }
}

#[derive(Template)]
#[template(path = "config/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<EventRow>,
    categories: Vec<Choice>,
    user: String,
    from: String,
    to: String,
    query: String,
    total: i64,
    prev: Option<i64>,
    next: Option<i64>,
}

/// A `YYYY-MM-DD` (UTC) day's start, or a 400 naming the parameter.
fn day(name: &str, value: Option<&str>) -> Result<Option<i64>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => clock::parse_iso(&format!("{v}T00:00:00+00:00"))
            .map(Some)
            .ok_or_else(|| Error::bad(name, format!("'{v}' is not a date (YYYY-MM-DD)"))),
    }
}

#[rocket::get("/configuration/audit?<user>&<event>&<from>&<to>&<skip>")]
#[allow(clippy::too_many_arguments)]
async fn audit(
    caller: Allowed<need::EventView>,
    user: Option<&str>,
    event: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    skip: Option<i64>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let skip = skip.unwrap_or(0).max(0);
    let text = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| v.chars().take(200).collect::<String>())
    };
    let filter = EventFilter {
        username: text(user),
        category: text(event),
        from: day("from", from)?,
        until: day("to", to)?.map(|d| d + DAY_MS),
    };
    let query = [
        ("user", filter.username.clone()),
        ("event", filter.category.clone()),
        ("from", text(from)),
        ("to", text(to)),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
    .collect::<Vec<_>>()
    .join("&");
    let search = filter.clone();
    let (events, total, categories, names) = app
        .store
        .read(move |c| {
            let (events, total) = events::search(c, &search, skip, PAGE_SIZE)?;
            let names = names_of(c, &events)?;
            Ok((events, total, events::categories(c)?, names))
        })
        .await?;
    let now = clock::now_ms();
    let chosen = filter.category.clone().unwrap_or_default();
    let mut choices = vec![Choice {
        value: String::new(),
        label: "Any event".into(),
        selected: chosen.is_empty(),
    }];
    choices.extend(categories.into_iter().map(|c| Choice {
        selected: c == chosen,
        label: in_words(&c),
        value: c,
    }));
    render(&AuditPage {
        layout: Layout::new("Audit", &caller, flash).at("/configuration/audit"),
        events: events
            .into_iter()
            .map(|e| EventRow::new(e, now, &names))
            .collect(),
        categories: choices,
        user: filter.username.unwrap_or_default(),
        from: text(from).unwrap_or_default(),
        to: text(to).unwrap_or_default(),
        query: if query.is_empty() {
            query
        } else {
            format!("{query}&")
        },
        total,
        prev: (skip > 0).then(|| (skip - PAGE_SIZE).max(0)),
        next: (skip + PAGE_SIZE < total).then_some(skip + PAGE_SIZE),
    })
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_read_as_words_and_ids_link_to_their_pages() {
        assert_eq!(in_words("DeploymentQueued"), "Deployment queued");
        assert_eq!(in_words("maintenance"), "Maintenance");
        assert_eq!(link("ServerTasks-12").href.as_deref(), Some("/tasks/12"));
        assert_eq!(link("Deployments-3").href, None);
    }
}
