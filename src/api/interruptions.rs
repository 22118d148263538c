//! Octopus's interruptions API over drydock's approvals: `GET /api/interruptions`
//! (`regarding`, `pendingOnly`, paged), `GET /api/interruptions/{id}`,
//! `PUT /api/interruptions/{id}/responsible` and `POST /api/interruptions/{id}/submit`
//! with `{Notes, Result: "Proceed" | "Abort"}`.

use rocket::serde::json::Json;
use rocket::{Route, State};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{paging, parse_id, Body, Collection};
use crate::access::Actor;
use crate::app::App;
use crate::approvals::{self, rules, Outcome};
use crate::auth::{need, Allowed, Change};
use crate::clock;
use crate::error::{Error, Result};
use crate::http::SPACE_ID;
use crate::store::approvals::{self as stored, Filter, Interruption};
use crate::store::{tasks, Conn};

pub fn routes() -> Vec<Route> {
    rocket::routes![list, get, responsible, submit]
}

/// One interruption as Octopus answers it, for `actor` (`CanTakeResponsibility`,
/// `HasResponsibility`).
pub fn resource(conn: &Conn, i: &Interruption, actor: &Actor) -> Result<Value> {
    let id = format!("Interruptions-{}", i.id);
    let rule = match i.rule_id {
        Some(r) => stored::find_rule(conn, r)?.unwrap_or_else(|| i.rule.clone()),
        None => i.rule.clone(),
    };
    let (envs, people) = rules::names(conn, &rule)?;
    let instructions = format!(
        "Approval rule ApprovalRules-{}: {}.",
        rule.id,
        rules::describe(&rule, &envs, &people)
    );
    let task = tasks::find(conn, i.task_id)?;
    let mut related = vec![format!("ServerTasks-{}", i.task_id)];
    if let Some(t) = &task {
        related.extend(t.project_id.map(|p| format!("Projects-{p}")));
        related.extend(t.environment_id.map(|e| format!("Environments-{e}")));
    }
    Ok(json!({
        "Id": id,
        "SpaceId": SPACE_ID,
        "Title": i.title,
        "Created": clock::iso(i.created_at),
        "IsPending": i.is_pending(),
        "Type": "ManualIntervention",
        "Form": {
            "Values": {
                "Instructions": instructions,
                "Notes": i.notes,
                "Result": i.result,
            },
            "Elements": [
                {"Name": "Instructions", "IsValueRequired": false,
                 "Control": {"Type": "Paragraph", "Text": instructions, "ResolveLinks": false}},
                {"Name": "Notes", "IsValueRequired": rule.note_required,
                 "Control": {"Type": "TextArea", "Label": "Notes"}},
                {"Name": "Result", "IsValueRequired": true,
                 "Control": {"Type": "SubmitButtonGroup", "Buttons": [
                     {"Text": "Proceed", "Value": "Proceed", "RequiresConfirmation": false},
                     {"Text": "Abort", "Value": "Abort", "RequiresConfirmation": true},
                 ]}},
            ],
        },
        "RelatedDocumentIds": related,
        "ResponsibleTeamIds": [],
        "ResponsibleUserId": i.responsible_user_id.map(|u| format!("Users-{u}")),
        "CanTakeResponsibility": approvals::could_decide(conn, i, actor)?,
        "HasResponsibility": i.responsible_user_id.is_some() && i.responsible_user_id == actor.user_id,
        "TaskId": format!("ServerTasks-{}", i.task_id),
        "CorrelationId": format!("ServerTasks-{}/ApprovalRules-{}", i.task_id, i.rule.id),
        "IsLinkedToOtherInterruption": false,
        "ApprovalRuleId": format!("ApprovalRules-{}", rule.id),
        "SubmittedBy": i.submitted_by,
        "Submitted": i.submitted_at.map(clock::iso),
        "Links": {
            "Self": format!("/api/interruptions/{id}"),
            "Submit": format!("/api/interruptions/{id}/submit"),
            "Responsible": format!("/api/interruptions/{id}/responsible"),
        },
    }))
}

/// `regarding`: a task (`ServerTasks-N`); anything else names no interruption.
fn regarding_task(regarding: Option<&str>) -> Result<Option<i64>> {
    match regarding.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(r) => parse_id("ServerTasks", r).map(Some).map_err(|_| {
            Error::bad(
                "regarding",
                format!(
                    "'{}' is not a task id (ServerTasks-N): drydock's interruptions are raised on tasks",
                    crate::error::shown(r)
                ),
            )
        }),
    }
}

fn flag(name: &str, value: Option<&str>) -> Result<bool> {
    match value.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(Error::bad(
            name,
            format!("'{}' is not true or false", crate::error::shown(v)),
        )),
    }
}

#[rocket::get("/interruptions?<regarding>&<pendingOnly>&<skip>&<take>")]
#[allow(non_snake_case)]
async fn list(
    caller: Allowed<need::TaskView>,
    regarding: Option<&str>,
    pendingOnly: Option<&str>,
    skip: Option<&str>,
    take: Option<&str>,
    app: &State<App>,
) -> Result<Json<Collection<Value>>> {
    let (skip, take) = paging(skip, take)?;
    let filter = Filter {
        task: regarding_task(regarding)?,
        pending_only: flag("pendingOnly", pendingOnly)?,
    };
    let actor = caller.actor();
    let (items, total) = app
        .store
        .read(move |c| {
            let (found, total) = stored::list(c, &filter, skip, take)?;
            let items = found
                .iter()
                .map(|i| resource(c, i, &actor))
                .collect::<Result<Vec<_>>>()?;
            Ok((items, total))
        })
        .await?;
    Ok(Collection::new("Interruption", items, total, take))
}

async fn one(app: &App, id: i64, actor: Actor) -> Result<Value> {
    app.store
        .read(move |c| match stored::find(c, id)? {
            Some(i) => resource(c, &i, &actor),
            None => Err(Error::NotFound(format!(
                "Interruption Interruptions-{id} was not found."
            ))),
        })
        .await
}

#[rocket::get("/interruptions/<id>")]
async fn get(caller: Allowed<need::TaskView>, id: &str, app: &State<App>) -> Result<Json<Value>> {
    let id = parse_id("Interruptions", id)?;
    Ok(Json(one(app, id, caller.actor()).await?))
}

/// Takes responsibility for it (only someone who could decide on it may).
#[rocket::put("/interruptions/<id>/responsible")]
async fn responsible(
    change: Change<need::TaskView>,
    id: &str,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Interruptions", id)?;
    approvals::take_responsibility(&app.store, &change.proof, id).await?;
    Ok(Json(one(app, id, change.caller.actor()).await?))
}

/// The form's values: `Result` (`Proceed` or `Abort`) and `Notes`; Octopus's clients
/// send the form's other values too (`Instructions`), which are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct SubmitBody {
    result: Option<String>,
    notes: Option<String>,
    #[allow(dead_code)]
    instructions: Option<Value>,
}

#[rocket::post("/interruptions/<id>/submit", data = "<body>")]
async fn submit(
    change: Change<need::TaskView>,
    id: &str,
    body: Body<SubmitBody>,
    app: &State<App>,
) -> Result<Json<Value>> {
    let id = parse_id("Interruptions", id)?;
    let body = body.into_inner()?;
    let result = body
        .result
        .ok_or_else(|| Error::bad("Result", "is required: Proceed or Abort"))?;
    let outcome = Outcome::parse(&result)?;
    approvals::submit(
        &app.store,
        &change.proof,
        id,
        outcome,
        body.notes.unwrap_or_default(),
    )
    .await?;
    app.queue.wake();
    Ok(Json(one(app, id, change.caller.actor()).await?))
}
