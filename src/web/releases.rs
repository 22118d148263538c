//! A release's page: where it is deployed, its history, the Deploy form (now or
//! later, with an expiry) and the promotion button; deployment freezes mark the
//! environments they block (`overrides.rs`).

use askama::Template;
use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{Route, State};

use super::confirm::{self, Ask};
use super::forms::{field, form_time_in, Field, FormErrors, FormResult};
use super::live::Cell;
use super::view::{TaskRow, When};
use super::{done, page_id, render, Layout};
use crate::access::permissions::Permission;
use crate::app::App;
use crate::auth::{need, Allowed, Caller, FormChange};
use crate::clock;
use crate::deploy::{self, DeploymentInput};
use crate::error::{Error, Result};
use crate::store::deployments::{self, Cells};
use crate::store::projects::{self, Environment, Project, Release};
use crate::store::task_list;

pub fn routes() -> Vec<Route> {
    rocket::routes![release, deploy_release, update_variables]
}

const DEPLOY_FIELDS: &[Field] = &[
    field("EnvironmentId", "environment", "Environment"),
    field("QueueTime", "queue_time", "Start at"),
    field(
        "QueueTimeExpiry",
        "queue_time_expiry",
        "Give up if not started by",
    ),
    field("zone", "zone", "Time zone"),
];

/// An environment on the release page: what is live there, and this release there.
pub struct EnvironmentRow {
    pub environment: Environment,
    /// What is live there (of any release of the project).
    pub live: Option<Cell>,
    /// This release there: its last success (`live`) and its latest attempt.
    pub cell: Option<Cell>,
    /// The deployment freezes on over this release's project and the environment now.
    pub frozen: crate::freezes::read::Frozen,
    /// Their windows ahead, for the deploy form's script (`freezes::read::windows_ahead`).
    pub windows: String,
}

impl EnvironmentRow {
    /// Whether `release` is what is live in this environment.
    pub fn is_live(&self, release: &i64) -> bool {
        self.live.as_ref().is_some_and(|c| c.is_live(*release))
    }
}

/// The deploy form as shown: defaults, or what was typed.
#[derive(FromForm, Clone, Default)]
pub struct DeployForm {
    pub(super) environment: String,
    pub(super) when: String,
    pub(super) queue_time: Option<String>,
    pub(super) queue_time_expiry: Option<String>,
    /// `yes` once the preview of a deployment to an environment that asks was seen.
    pub(super) confirmed: Option<String>,
    /// The time zone the times are typed in (an IANA name; UTC when none is given).
    pub(super) zone: Option<String>,
    /// Prompted variables' values by variable id (`prompted[<id>]`).
    pub(super) prompted: std::collections::HashMap<String, String>,
    /// Sensitive prompted values by variable id (`secret_password[<id>]`): never
    /// shown again, not kept by a refused form.
    pub(super) secret_password: std::collections::HashMap<String, String>,
}

impl DeployForm {
    /// The fields as the confirmation page posts them again.
    fn fields(&self) -> Vec<(String, String)> {
        let mut fields = vec![
            ("environment".to_string(), self.environment.clone()),
            ("when".to_string(), self.when.clone()),
        ];
        for (name, value) in [
            ("queue_time", &self.queue_time),
            ("queue_time_expiry", &self.queue_time_expiry),
            ("zone", &self.zone),
        ] {
            if let Some(value) = value {
                fields.push((name.to_string(), value.clone()));
            }
        }
        let mut prompted: Vec<_> = self.prompted.iter().collect();
        prompted.sort();
        for (id, value) in prompted {
            fields.push((format!("prompted[{id}]"), value.clone()));
        }
        fields
    }

    /// The prompted values typed, by variable id (the field the change checks them
    /// under is the form's), sensitive ones included; empty ones left out.
    fn prompted_values(&self) -> std::collections::BTreeMap<String, String> {
        self.prompted
            .iter()
            .chain(self.secret_password.iter())
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The value typed for prompted variable `id`.
    fn prompted_text(&self, id: &str) -> &str {
        self.prompted.get(id).map_or("", String::as_str)
    }

    fn later(&self) -> bool {
        self.when == "later"
    }

    fn queue_time_text(&self) -> &str {
        self.queue_time.as_deref().unwrap_or_default()
    }

    fn expiry_text(&self) -> &str {
        self.queue_time_expiry.as_deref().unwrap_or_default()
    }

    /// The time zone's name as typed, or UTC.
    fn zone_text(&self) -> &str {
        self.zone
            .as_deref()
            .map(str::trim)
            .filter(|z| !z.is_empty())
            .unwrap_or("UTC")
    }

    fn input(
        self,
        release_id: i64,
        key: std::sync::Arc<crate::secrets::MasterKey>,
    ) -> Result<DeploymentInput> {
        let prompted = crate::variables::Prompted {
            field: "Prompted",
            values: self.prompted_values(),
            key: Some(key),
        };
        let zone = match jiff::tz::TimeZone::get(self.zone_text()) {
            Ok(zone) => zone,
            Err(_) => {
                return Err(Error::bad(
                    "zone",
                    format!(
                        "'{}' is not a time zone (an IANA name such as Europe/Berlin, or UTC)",
                        crate::error::shown(self.zone_text())
                    ),
                ))
            }
        };
        let environment = page_id("Environments", &self.environment)
            .map_err(|_| Error::bad("EnvironmentId", "is required: choose an environment"));
        let later = self.later();
        let queue_time = if later {
            match form_time_in("QueueTime", self.queue_time, &zone) {
                Ok(Some(t)) => Ok(Some(t)),
                Ok(None) => Err(Error::bad(
                    "QueueTime",
                    "is required for a later deployment",
                )),
                Err(e) => Err(e),
            }
        } else {
            Ok(None)
        };
        let expiry = if later {
            form_time_in("QueueTimeExpiry", self.queue_time_expiry, &zone)
        } else {
            Ok(None)
        };
        match (environment, queue_time, expiry) {
            (Ok(environment_id), Ok(queue_time), Ok(queue_time_expiry)) => Ok(DeploymentInput {
                release_id,
                environment_id,
                queue_time,
                queue_time_expiry,
                prompted,
            }),
            (a, b, c) => {
                Error::all([a.err(), b.err(), c.err()].into_iter().flatten().collect())?;
                Err(Error::internal("unreachable: a problem was found"))
            }
        }
    }
}

#[derive(Template)]
#[template(path = "projects/release.html")]
struct ReleasePage {
    layout: Layout,
    project: Project,
    release: Release,
    created: When,
    /// What deploying it runs: its snapshot (the project's for an older release).
    script: String,
    /// The project's script is no longer the release's snapshot.
    script_changed: bool,
    /// The project's variables changed since the release's snapshot of them.
    variables_changed: bool,
    /// The prompted variables the Deploy form asks for.
    prompts: Vec<crate::variables::resolve::Asked>,
    /// May take the snapshot again (`ReleaseCreate`).
    can_update_variables: bool,
    environments: Vec<EnvironmentRow>,
    /// The next environment in promotion order after the furthest one this release
    /// succeeded in (or the first), and whether that is a promotion.
    promote: Option<(i64, String, bool)>,
    can_deploy: bool,
    /// May deploy through a freeze (Override and deploy).
    can_override: bool,
    /// Why the promotion's environment is frozen, if it is.
    promote_frozen: String,
    /// Why the form's chosen environment is frozen, if it is.
    chosen_frozen: String,
    form: DeployForm,
    errors: FormErrors,
    /// Every deployment of this release, newest first.
    tasks: Vec<TaskRow>,
}

pub(super) async fn release_page(
    app: &App,
    caller: &Caller,
    id: i64,
    flash: Option<FlashMessage<'_>>,
    typed: Option<(DeployForm, FormErrors)>,
) -> Result<RawHtml<String>> {
    let now = clock::now_ms();
    let (
        (release, variables_changed),
        environments,
        latest,
        (history, outlooks),
        (frozen, windows),
    ) = app
        .store
        .read(move |c| {
            let release = projects::find_release(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Release Releases-{id} was not found.")))?;
            let (environments, _) = projects::list_environments(c, 0, 1000)?;
            let frozen = crate::freezes::read::frozen(c, release.project_id, &environments, now)?;
            let windows =
                crate::freezes::read::windows_ahead(c, release.project_id, &environments, now)?;
            let of_release = Cells {
                release: Some(id),
                ..Cells::default()
            };
            let of_project = Cells {
                project: Some(release.project_id),
                ..Cells::default()
            };
            let latest = (
                deployments::live(c, now, of_release)?,
                deployments::live(c, now, of_project)?,
            );
            let filter = task_list::Filter {
                release_id: Some(id),
                count_up_to: Some(0),
                ..task_list::Filter::default()
            };
            let (history, _) = task_list::list(c, &filter, 0, 50)?;
            let outlooks = super::live::outlooks(c, &history, now)?;
            let variables_changed =
                crate::variables::changed_since(c, release.project_id, release.id)?;
            Ok((
                (release, variables_changed),
                environments,
                latest,
                (history, outlooks),
                (frozen, windows),
            ))
        })
        .await?;
    let project = super::find_project(app, release.project_id).await?;
    let prompts = prompts_of(app, id).await?;
    let ((latest, live), history) = if caller.can(Permission::TaskView) {
        (latest, history)
    } else {
        ((Vec::new(), Vec::new()), Vec::new())
    };
    let rows: Vec<EnvironmentRow> = environments
        .into_iter()
        .map(|environment| EnvironmentRow {
            windows: windows
                .iter()
                .find(|(e, _)| *e == environment.id)
                .map(|(_, w)| w.clone())
                .unwrap_or_default(),
            frozen: frozen
                .iter()
                .find(|(e, _)| *e == environment.id)
                .map(|(_, f)| f.clone())
                .unwrap_or_default(),
            cell: latest
                .iter()
                .find(|l| l.latest.environment_id == environment.id)
                .map(|l| Cell::new(l, now)),
            live: live
                .iter()
                .find(|l| l.latest.environment_id == environment.id)
                .map(|l| Cell::new(l, now)),
            environment,
        })
        .collect();
    let furthest = rows
        .iter()
        .rposition(|r| r.cell.as_ref().is_some_and(|c| c.live.is_some()));
    let promote = match furthest {
        Some(i) => rows
            .get(i + 1)
            .map(|r| (r.environment.id, r.environment.name.clone(), true)),
        None => rows
            .first()
            .filter(|r| r.cell.is_none())
            .map(|r| (r.environment.id, r.environment.name.clone(), false)),
    };
    // The form starts on the promotion's environment, or the next one in promotion
    // order after it that no freeze blocks now.
    let promote_at = promote
        .as_ref()
        .and_then(|p| rows.iter().position(|r| r.environment.id == p.0));
    let default_environment = promote_at.map(|at| {
        rows[at..]
            .iter()
            .find(|r| !r.frozen.is_frozen())
            .unwrap_or(&rows[at])
            .environment
            .id
    });
    let (form, errors) = typed.unwrap_or_else(|| {
        let form = DeployForm {
            environment: default_environment
                .map(|id| id.to_string())
                .unwrap_or_default(),
            when: "now".into(),
            ..<DeployForm as Default>::default()
        };
        (form, FormErrors::none())
    });
    let reason_of = |env: Option<String>| {
        rows.iter()
            .find(|r| Some(r.environment.id.to_string()) == env)
            .map(|r| r.frozen.reason.clone())
            .unwrap_or_default()
    };
    let promote_frozen = reason_of(promote.as_ref().map(|p| p.0.to_string()));
    let chosen_frozen = reason_of(Some(form.environment.clone()));
    render(&ReleasePage {
        promote_frozen,
        chosen_frozen,
        layout: Layout::new(
            &format!("{} {}", project.name, release.version),
            caller,
            flash,
        )
        .at("/projects"),
        created: When::at(release.created_at, now),
        script: release
            .deployment_script
            .clone()
            .unwrap_or_else(|| project.deployment_script.clone()),
        script_changed: release
            .deployment_script
            .as_ref()
            .is_some_and(|s| *s != project.deployment_script),
        variables_changed,
        prompts,
        can_update_variables: caller.can(Permission::ReleaseCreate),
        project,
        release,
        environments: rows,
        promote,
        can_deploy: caller.can(Permission::DeploymentCreate),
        can_override: caller.can(Permission::DeploymentCreate)
            && caller.can(Permission::DeploymentFreezeAdminister),
        form,
        errors,
        tasks: TaskRow::list_with(history, now, &outlooks),
    })
}

#[rocket::get("/releases/<id>")]
async fn release(
    caller: Allowed<need::ProjectView>,
    id: &str,
    app: &State<App>,
    flash: Option<FlashMessage<'_>>,
) -> Result<RawHtml<String>> {
    let id = page_id("Releases", id)?;
    release_page(app, &caller, id, flash, None).await
}

#[rocket::post("/releases/<id>/deploy", data = "<change>")]
async fn deploy_release(
    change: FormChange<need::DeploymentCreate, DeployForm>,
    id: &str,
    app: &State<App>,
) -> Result<FormResult> {
    let id = page_id("Releases", id)?;
    let mut typed = change.form.clone();
    typed.secret_password.clear();
    let result = async {
        let fields = change.form.fields();
        let confirmed = change.form.confirmed.clone();
        let secrets = change.form.secrets(&prompts_of(app, id).await?);
        let input = change.form.input(id, app.master_key.clone())?;
        let ask = Ask {
            verb: "Deploy",
            release_id: id,
            environment_id: input.environment_id,
            at: input.queue_time,
            action: format!("/releases/{id}/deploy"),
            fields,
            back: format!("/releases/{id}"),
            note: String::new(),
            secrets,
        };
        if let Some(page) = confirm::preview(app, &change.caller, confirmed.as_deref(), ask).await?
        {
            return Ok(Err(page));
        }
        deploy::create_deployment(&app.store, &app.queue, &change.proof, input)
            .await
            .map(Ok)
    }
    .await;
    match result {
        Ok(Err(page)) => FormResult::ask(page),
        Ok(Ok(queued)) => FormResult::done(done(
            format!("/tasks/{}", queued.task_id),
            "The deployment has been queued.",
        )),
        Err(e @ Error::NotFound(_)) => Err(e),
        Err(e) => {
            let errors = FormErrors::from_error(&e, DEPLOY_FIELDS);
            FormResult::again(
                release_page(app, &change.caller, id, None, Some((typed, errors))).await,
            )
        }
    }
}

/// The prompted variables a deployment of release `id` asks for, in any environment
/// (each once, by name; its first scope's wording).
async fn prompts_of(app: &App, id: i64) -> Result<Vec<crate::variables::resolve::Asked>> {
    app.store
        .read(move |c| {
            let release = projects::find_release(c, id)?
                .ok_or_else(|| Error::NotFound(format!("Release Releases-{id} was not found.")))?;
            let sources = crate::variables::release_sources(c, release.project_id, id)?;
            let (environments, _) = projects::list_environments(c, 0, 1000)?;
            let mut asked: Vec<crate::variables::resolve::Asked> = Vec::new();
            for e in &environments {
                for a in crate::variables::resolve::prompted(&sources, e.id) {
                    if !asked.iter().any(|b| b.id == a.id) {
                        asked.push(a);
                    }
                }
            }
            Ok(asked)
        })
        .await
}

impl DeployForm {
    /// The sensitive prompted values this form had, to ask again on a confirmation
    /// page: (input name, label).
    fn secrets(&self, prompts: &[crate::variables::resolve::Asked]) -> Vec<(String, String)> {
        prompts
            .iter()
            .filter(|a| a.sensitive && self.secret_password.contains_key(&a.id))
            .map(|a| (format!("secret_password[{}]", a.id), a.label.clone()))
            .collect()
    }
}

/// **Update variables**: the release takes the project's variables as they are now.
#[rocket::post("/releases/<id>/snapshot-variables", data = "<change>")]
async fn update_variables(
    change: FormChange<need::ReleaseCreate, crate::auth::guards::NoFields>,
    id: &str,
    app: &State<App>,
) -> Result<rocket::response::Flash<rocket::response::Redirect>> {
    let id = page_id("Releases", id)?;
    let back = format!("/releases/{id}");
    Ok(
        match crate::variables::update_snapshot(&app.store, &change.proof, id).await {
            Ok(_) => done(
                back,
                "The release now has the project's variables as they are.",
            ),
            Err(e) => super::refused(back, &e),
        },
    )
}
