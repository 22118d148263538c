//! Configuration ➜ Nodes: each server node with its status, last heartbeat, task cap and
//! running tasks; administrators drain, undrain and set the task cap.

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{Route, State};

use super::forms::{field, FormResult, RowError};
use super::{done, refused, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::cluster;
use crate::error::{Error, Result};
use crate::store::nodes;

pub fn routes() -> Vec<Route> {
    rocket::routes![page, drain, task_cap]
}

const BACK: &str = "/configuration/nodes";

pub struct NodeRow {
    pub name: String,
    pub status: &'static str,
    pub last_seen: super::view::When,
    pub task_cap: i64,
    pub running: i64,
    pub version: String,
    pub draining: bool,
}

/// For administrators: the live nodes run different versions or schema levels (a
/// rolling upgrade in progress, or one left half done), in words.
fn mixed(nodes: &[nodes::Node], now: i64, offline_ms: i64) -> Option<String> {
    let live: Vec<&nodes::Node> = nodes
        .iter()
        .filter(|n| n.stopped_at.is_none() && !cluster::is_offline(n, now, offline_ms))
        .collect();
    let mut kinds: Vec<(String, Option<i64>)> = live
        .iter()
        .map(|n| (n.version.clone(), n.schema_level))
        .collect();
    kinds.sort();
    kinds.dedup();
    if kinds.len() < 2 {
        return None;
    }
    let each = live
        .iter()
        .map(|n| {
            let level = n
                .schema_level
                .map_or_else(|| "before 14".to_string(), |l| l.to_string());
            format!("{} runs {} (schema {level})", n.name, n.version)
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(format!(
        "The running nodes are not all the same version: {each}. Finish the rolling upgrade \
         (docs/upgrades.md) so that every node runs the same drydock."
    ))
}

#[derive(Template)]
#[template(path = "config/nodes.html")]
struct NodesPage {
    layout: Layout,
    nodes: Vec<NodeRow>,
    this_node: String,
    can_edit: bool,
    /// For administrators: this node's scripts run with the server's own powers.
    script_warning: Option<String>,
    /// A refused task cap, shown in its row.
    refused: Option<RowError>,
    /// For administrators: the nodes run different versions.
    mixed: Option<String>,
}

#[rocket::get("/configuration/nodes")]
async fn page(
    caller: Allowed<need::TaskView>,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    nodes_page(app, &caller, flash, None).await
}

async fn nodes_page(
    app: &App,
    caller: &Caller,
    flash: Option<FlashMessage<'_>>,
    refused: Option<RowError>,
) -> Result<RawHtml<String>> {
    let nodes = app.store.read(nodes::nodes).await?;
    let now = clock::now_ms();
    let offline_ms = app.config.node_offline_secs * 1000;
    let mixed = mixed(&nodes, now, offline_ms).filter(|_| caller.can(Permission::AdministerSystem));
    render(&NodesPage {
        layout: Layout::new("Nodes", caller, flash).at("/configuration/nodes"),
        refused,
        mixed,
        nodes: nodes
            .into_iter()
            .map(|n| NodeRow {
                status: cluster::status(&n, now, offline_ms).as_str(),
                last_seen: super::view::When::at(n.last_seen, clock::now_ms()),
                task_cap: n.task_cap,
                running: n.running,
                draining: n.draining,
                version: match n.schema_level {
                    Some(level) => format!("{} (schema {level})", n.version),
                    None => n.version,
                },
                name: n.name,
            })
            .collect(),
        this_node: app.config.node_name.clone(),
        can_edit: caller.can(Permission::AdministerSystem),
        script_warning: if caller.can(Permission::AdministerSystem) {
            crate::queue::scripts::ScriptUser::resolve(
                &app.config.script_user,
                &app.config.script_uids,
            )
            .ok()
            .and_then(|user| user.warning())
        } else {
            None
        },
    })
}

#[derive(FromForm)]
pub struct DrainForm {
    draining: bool,
}

#[rocket::post("/configuration/nodes/<name>/drain", data = "<change>")]
async fn drain(
    change: FormChange<need::AdministerSystem, DrainForm>,
    name: &str,
    app: &State<App>,
) -> Flash<Redirect> {
    let result = cluster::set_draining(&app.store, &change.proof, name, change.form.draining).await;
    app.queue.wake();
    match result {
        Ok(n) if n.draining => done(BACK.into(), format!("Node {} is draining.", n.name)),
        Ok(n) => done(BACK.into(), format!("Node {} is running.", n.name)),
        Err(e) => refused(BACK.into(), &e),
    }
}

#[derive(FromForm)]
pub struct CapForm {
    task_cap: String,
}

#[rocket::post("/configuration/nodes/<name>/task-cap", data = "<change>")]
async fn task_cap(
    change: FormChange<need::AdministerSystem, CapForm>,
    name: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let typed = change.form.task_cap.clone();
    let result = async {
        let text = change.form.task_cap.trim().to_string();
        let cap = text
            .parse::<i64>()
            .map_err(|_| Error::bad("MaxConcurrentTasks", format!("'{text}' is not a number")))?;
        cluster::set_task_cap(&app.store, &change.proof, name, cap).await
    }
    .await;
    app.queue.wake();
    match result {
        Ok(n) => FormResult::done(done(
            BACK.into(),
            format!("Node {} runs at most {} tasks at once.", n.name, n.task_cap),
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let field = field("MaxConcurrentTasks", "task_cap", "Task cap");
            let row = RowError::new(name, &typed, &e, field);
            FormResult::again(nodes_page(app, &change.caller, None, Some(row)).await)
        }
    }
}
