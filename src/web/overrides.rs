//! Deployment freezes on the release page: which environments a freeze blocks now, and
//! "Override and deploy" for holders of `DeploymentFreezeAdminister` (a reason
//! required; the freezes named are those on now).

use rocket::form::FromForm;
use rocket::{Route, State};

use super::confirm::{self, Ask};
use super::forms::{FormErrors, FormResult};
use super::releases::{release_page, DeployForm};
use super::{done, page_id};
use crate::app::App;
use crate::auth::{need, FormChange};
use crate::clock;
use crate::deploy::{self, DeploymentInput, Override};
use crate::error::{Error, Result};
use crate::freezes;
use crate::store::projects::Environment;
use crate::store::Conn;

pub fn routes() -> Vec<Route> {
    rocket::routes![override_and_deploy]
}

/// The freezes on over one environment: ids, and the sentence that says so.
#[derive(Clone, Default)]
pub struct Frozen {
    pub ids: Vec<i64>,
    pub reason: String,
}

impl Frozen {
    pub fn is_frozen(&self) -> bool {
        !self.ids.is_empty()
    }
}

/// How far ahead the deploy form knows the freezes' windows.
const AHEAD_MS: i64 = 62 * 86_400_000;

/// Per environment, the windows of the freezes over `project` there from `now` for the
/// next 62 days, for the deploy form's script to warn as a time is chosen:
/// `start end hold name` per window (times in ms; `hold` 1 or 0), windows split by `;`.
pub fn windows_ahead(
    c: &Conn,
    project: i64,
    environments: &[Environment],
    now: i64,
) -> Result<Vec<(i64, String)>> {
    let all = freezes::all(c)?;
    Ok(environments
        .iter()
        .map(|env| {
            let windows: Vec<String> = all
                .iter()
                .filter(|f| f.covers(project, env.id))
                .flat_map(|f| {
                    let hold = matches!(f.on_start, freezes::OnStart::Hold);
                    f.schedule
                        .as_ref()
                        .map(|s| s.between(now, now + AHEAD_MS))
                        .unwrap_or_default()
                        .into_iter()
                        .map(move |(start, end)| {
                            let name = f.row.name.replace(';', ",");
                            format!("{start} {end} {} {name}", u8::from(hold))
                        })
                })
                .collect();
            (env.id, windows.join(";"))
        })
        .collect())
}

/// For each environment a freeze blocks `project` in now: why.
pub fn frozen(
    c: &Conn,
    project: i64,
    environments: &[Environment],
    now: i64,
) -> Result<Vec<(i64, Frozen)>> {
    let mut out = Vec::new();
    for env in environments {
        let on = freezes::in_force(c, project, env.id, now)?;
        if on.is_empty() {
            continue;
        }
        let named = on
            .iter()
            .map(|(f, (_, end))| format!("'{}' until {}", f.row.name, clock::display(*end)))
            .collect::<Vec<_>>()
            .join(", ");
        out.push((
            env.id,
            Frozen {
                ids: on.iter().map(|(f, _)| f.row.id).collect(),
                reason: format!("Frozen by deployment freeze {named}."),
            },
        ));
    }
    Ok(out)
}

/// Every project × environment a freeze blocks now, with why (for the matrix).
pub fn frozen_pairs(c: &Conn, now: i64) -> Result<std::collections::HashMap<(i64, i64), String>> {
    let mut out: std::collections::HashMap<(i64, i64), String> = Default::default();
    for f in freezes::all(c)? {
        let Some((_, end)) = f.window_at(now) else {
            continue;
        };
        let said = format!("'{}' until {}", f.row.name, clock::display(end));
        for pair in &f.row.scope {
            out.entry(*pair)
                .and_modify(|s| {
                    s.push_str(", ");
                    s.push_str(&said);
                })
                .or_insert_with(|| said.clone());
        }
    }
    for reason in out.values_mut() {
        *reason = format!("Frozen by deployment freeze {reason}.");
    }
    Ok(out)
}

/// "Deployed through deployment freeze 'X' (DeploymentFreezes-1), overridden by mia
/// (Session): reason".
pub fn override_note(c: &Conn, task: &crate::store::tasks::Task) -> Result<Option<String>> {
    let Some((ids, reason)) = crate::store::freezes::override_of_task(c, task.id)? else {
        return Ok(None);
    };
    let mut named = Vec::new();
    for freeze in ids {
        named.push(match freezes::find(c, freeze)? {
            Some(f) => format!("'{}' ({})", f.row.name, f.id()),
            None => format!("DeploymentFreezes-{freeze} (since deleted)"),
        });
    }
    let by = match super::view::queued_by(task) {
        by if by.is_empty() => by,
        by => format!(" by {by}"),
    };
    Ok(Some(format!(
        "Deployed through deployment freeze {}, overridden{by}: {reason}",
        named.join(", ")
    )))
}

#[derive(FromForm, Clone, Default)]
pub struct OverrideForm {
    environment: String,
    reason: String,
    freeze: Vec<String>,
    /// `yes` once the preview was seen (for an environment that asks first).
    confirmed: Option<String>,
}

/// "Override and deploy": the release to one environment now, through the freezes the
/// page showed as on.
#[rocket::post("/releases/<id>/override", data = "<change>")]
async fn override_and_deploy(
    change: FormChange<need::DeploymentFreezeAdminister, OverrideForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Releases", id)?;
    let form = change.form.clone();
    let result = async {
        let environment_id = page_id("Environments", &form.environment)
            .map_err(|_| Error::bad("EnvironmentId", "is required: choose an environment"))?;
        let freezes = form
            .freeze
            .iter()
            .map(|f| f.trim().parse::<i64>())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|_| Error::BadRequest(freezes::NO_VALID_FREEZES.into(), vec![]))?;
        let input = DeploymentInput {
            release_id: id,
            environment_id,
            queue_time: None,
            queue_time_expiry: None,
        };
        let mut fields = vec![
            ("environment".to_string(), form.environment.clone()),
            ("reason".to_string(), form.reason.clone()),
        ];
        fields.extend(
            form.freeze
                .iter()
                .map(|f| ("freeze".to_string(), f.clone())),
        );
        let ask = Ask {
            verb: "Override and deploy",
            release_id: id,
            environment_id,
            at: None,
            action: format!("/releases/{id}/override"),
            fields,
            back: format!("/releases/{id}"),
            note: format!(
                "Through the deployment freeze that is on, for this reason: {}",
                form.reason.trim()
            ),
        };
        // Without a reason the change itself refuses it: no preview first.
        let ready = !form.reason.trim().is_empty();
        if ready {
            if let Some(page) =
                confirm::preview(app, &change.caller, form.confirmed.as_deref(), ask).await?
            {
                return Ok(Err(page));
            }
        }
        let overriding = Override {
            freezes,
            reason: form.reason.clone(),
        };
        deploy::create_deployment_overriding(
            &app.store,
            &app.queue,
            &change.proof,
            input,
            overriding,
        )
        .await
        .map(Ok)
    }
    .await;
    match result {
        Ok(Err(page)) => FormResult::ask(page),
        Ok(Ok(queued)) => FormResult::done(done(
            format!("/tasks/{}", queued.task_id),
            "The deployment has been queued through the freeze.",
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, &[]);
            let typed = DeployForm {
                environment: form.environment,
                when: "now".into(),
                ..<DeployForm as Default>::default()
            };
            FormResult::again(
                release_page(app, &change.caller, id, None, Some((typed, errors))).await,
            )
        }
    }
}
