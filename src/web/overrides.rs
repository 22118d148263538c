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
use crate::deploy::{self, DeploymentInput, Override};
use crate::error::{Error, Result};
use crate::freezes;

pub fn routes() -> Vec<Route> {
    rocket::routes![override_and_deploy]
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
            prompted: Default::default(),
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
            secrets: Vec::new(),
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
