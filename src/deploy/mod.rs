//! Projects, environments, releases and deployments: validation (naming the field) and
//! audit, shared by the pages and the API. No HTTP in here.

use crate::access::Permission;
use crate::error::{Error, Result};
use crate::freezes;
pub use crate::freezes::Override;
use crate::queue::Queue;
use crate::store::deployments::{self, Deployment};
use crate::store::freezes as freezes_store;
use crate::store::idempotency::{self, Taken};
use crate::store::projects::{self, Environment, Project, ProjectFields, Release};
use crate::store::slugs;
use crate::store::tasks::{self, Cancel, NewTask};
use crate::store::{events, ChangeTx, Store};
pub(crate) use crate::validate::text as check_text;

mod commands;
mod environments;

pub use commands::*;
pub use environments::*;

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 4_000;
pub const MAX_SCRIPT: usize = 256 * 1024;
pub const MAX_VERSION: usize = 100;
pub const DEFAULT_SCRIPT_TIMEOUT_SECS: i64 = 3600;
pub const MAX_SCRIPT_TIMEOUT_SECS: i64 = 7 * 24 * 3600;

fn check_name(field: &str, value: &str) -> Result<()> {
    crate::validate::name(field, value, MAX_NAME)
}

pub struct ProjectInput {
    pub name: String,
    /// `None`: from the name on create, kept on update.
    pub slug: Option<String>,
    pub description: String,
    /// The bash script a deployment runs. Empty is allowed: a deployment that does
    /// nothing (what an Octopus-shaped project created without one gets). `None` on
    /// update keeps the current script; on create it is empty.
    pub deployment_script: Option<String>,
    pub script_timeout_secs: Option<i64>,
    /// The library variable sets the project includes, in order; `None` keeps them.
    pub included_library_sets: Option<Vec<i64>>,
    /// Its approval rules (`crate::approvals::rules`), in order; `None` keeps them.
    pub approval_rules: Option<Vec<crate::approvals::rules::Draft>>,
}

/// Every problem with a project's fields (none: it can be saved).
pub fn project_problems(input: &ProjectInput) -> Vec<Error> {
    let timeout = input
        .script_timeout_secs
        .unwrap_or(DEFAULT_SCRIPT_TIMEOUT_SECS);
    let mut problems = Vec::new();
    problems.extend(check_name("Name", input.name.trim()).err());
    if let Some(slug) = &input.slug {
        problems.extend(slugs::check(slug).err());
    }
    problems.extend(check_text("Description", &input.description, MAX_DESCRIPTION, false).err());
    if let Some(script) = &input.deployment_script {
        problems.extend(check_text("DeploymentScript", script, MAX_SCRIPT, false).err());
    }
    if !(1..=MAX_SCRIPT_TIMEOUT_SECS).contains(&timeout) {
        problems.push(Error::bad(
            "ScriptTimeoutSeconds",
            format!("must be between 1 and {MAX_SCRIPT_TIMEOUT_SECS}"),
        ));
    }
    problems
}

/// What a project's change sets besides its own fields: the library sets it includes
/// and its approval rules (`None`: kept).
struct Extras {
    included: Option<Vec<i64>>,
    rules: Option<Vec<crate::approvals::rules::Draft>>,
}

fn project_fields(input: ProjectInput) -> Result<(ProjectFields, Extras)> {
    Error::all(project_problems(&input))?;
    let extras = Extras {
        included: input.included_library_sets,
        rules: input.approval_rules,
    };
    Ok((
        ProjectFields {
            name: input.name.trim().to_string(),
            slug: input.slug,
            script_timeout_secs: input
                .script_timeout_secs
                .unwrap_or(DEFAULT_SCRIPT_TIMEOUT_SECS),
            description: input.description,
            deployment_script: input.deployment_script,
        },
        extras,
    ))
}

/// Sets the library variable sets `project` includes and its approval rules, when the
/// change names them; a change of rules is audited on its own, rule by rule.
fn set_extras(tx: &ChangeTx, project: &Project, extras: &Extras) -> Result<()> {
    if let Some(sets) = &extras.included {
        crate::variables::library::check_included(tx, sets)?;
        crate::store::variables::set_included(tx, project.id, sets)?;
    }
    if let Some(drafts) = &extras.rules {
        use crate::approvals::rules;
        let before = crate::store::approvals::rules_of(tx, project.id)?;
        let checked = rules::check(tx, project.id, drafts.clone())?;
        crate::store::approvals::set_rules(tx, project.id, &checked)?;
        let after = crate::store::approvals::rules_of(tx, project.id)?;
        if before != after {
            let mut words = Vec::new();
            for r in &after {
                let (envs, people) = rules::names(tx, r)?;
                words.push(format!(
                    "ApprovalRules-{} ({})",
                    r.id,
                    rules::describe(r, &envs, &people)
                ));
            }
            let text = match words.is_empty() {
                true => format!("Removed the approval rules of project {}", project.name),
                false => format!(
                    "Set the approval rules of project {}: {}",
                    project.name,
                    words.join("; ")
                ),
            };
            events::record(
                tx,
                "ApprovalRulesModified",
                &text,
                &[format!("Projects-{}", project.id)],
            )?;
        }
    }
    Ok(())
}

fn project_not_found(id: i64) -> Error {
    Error::NotFound(format!("Project Projects-{id} was not found."))
}

fn environment_not_found(id: i64) -> Error {
    Error::NotFound(format!("Environment Environments-{id} was not found."))
}

pub async fn create_project(
    store: &Store,
    admission: &impl crate::store::Admit,
    input: ProjectInput,
) -> Result<Project> {
    let (fields, extras) = project_fields(input)?;
    store
        .change(admission, move |tx| {
            let project = projects::create(tx, &fields)?;
            set_extras(tx, &project, &extras)?;
            let related = [format!("Projects-{}", project.id)];
            events::record(
                tx,
                "ProjectCreated",
                &format!("Created project {}", project.name),
                &related,
            )?;
            Ok(project)
        })
        .await
}

pub async fn update_project(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    input: ProjectInput,
) -> Result<Project> {
    let (fields, extras) = project_fields(input)?;
    store
        .change(admission, move |tx| {
            projects::find(tx, id)?.ok_or_else(|| project_not_found(id))?;
            projects::update(tx, id, &fields)?;
            let project = projects::find(tx, id)?.ok_or_else(|| project_not_found(id))?;
            set_extras(tx, &project, &extras)?;
            let related = [format!("Projects-{id}")];
            events::record(
                tx,
                "ProjectModified",
                &format!("Modified project {}", fields.name),
                &related,
            )?;
            projects::find(tx, id)?.ok_or_else(|| project_not_found(id))
        })
        .await
}

/// One edit of a project's approval rules, as its settings page makes them.
pub enum RuleEdit {
    Add(crate::approvals::rules::Draft),
    Remove(i64),
}

/// Adds or removes one of a project's approval rules, in one change (the rest are kept
/// as they are then), audited as any change of its rules.
pub async fn edit_approval_rules(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    edit: RuleEdit,
) -> Result<Project> {
    store
        .change(admission, move |tx| {
            let project = projects::find(tx, id)?.ok_or_else(|| project_not_found(id))?;
            let mut rules = crate::store::approvals::rules_of(tx, id)?;
            match edit {
                RuleEdit::Add(draft) => rules.push(draft),
                RuleEdit::Remove(rule) => {
                    let before = rules.len();
                    rules.retain(|r| r.id != rule);
                    if rules.len() == before {
                        return Err(Error::NotFound(format!(
                            "ApprovalRules-{rule} is not a rule of this project (deleted meanwhile?)."
                        )));
                    }
                }
            }
            let extras = Extras {
                included: None,
                rules: Some(rules),
            };
            set_extras(tx, &project, &extras)?;
            Ok(project)
        })
        .await
}

/// Deletes a project with its releases and deployments; its tasks stay as history. A
/// project with queued or running tasks cannot be deleted.
pub async fn delete_project(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
) -> Result<()> {
    store
        .change(admission, move |tx| {
            let project = projects::find(tx, id)?.ok_or_else(|| project_not_found(id))?;
            let active = tasks::active_count(tx, Some(id), None)?;
            if active > 0 {
                return Err(Error::Conflict(format!(
                    "Project {} has {active} queued or running tasks; cancel them first.",
                    project.name
                )));
            }
            projects::delete(tx, id)?;
            let related = [format!("Projects-{id}")];
            events::record(
                tx,
                "ProjectDeleted",
                &format!("Deleted project {}", project.name),
                &related,
            )?;
            Ok(())
        })
        .await
}

pub async fn create_release(
    store: &Store,
    admission: &impl crate::store::Admit,
    project_id: i64,
    version: String,
    notes: String,
) -> Result<Release> {
    let version = version.trim().to_string();
    Error::all(
        [
            check_version("Version", &version).err(),
            check_text("ReleaseNotes", &notes, MAX_DESCRIPTION, false).err(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )?;
    store
        .change(admission, move |tx| {
            let project = projects::find(tx, project_id)?.ok_or_else(|| {
                Error::bad("ProjectId", format!("Projects-{project_id} does not exist"))
            })?;
            insert_release(tx, &project, &version, &notes)
        })
        .await
}

fn check_version(field: &str, version: &str) -> Result<()> {
    check_name(field, version)?;
    if version.chars().count() > MAX_VERSION {
        return Err(Error::bad(
            field,
            format!("must be at most {MAX_VERSION} characters"),
        ));
    }
    Ok(())
}

fn insert_release(tx: &ChangeTx, project: &Project, version: &str, notes: &str) -> Result<Release> {
    let release = projects::create_release(tx, project.id, version, notes)?;
    crate::variables::take_snapshot(tx, project.id, release.id)?;
    let related = [
        format!("Releases-{}", release.id),
        format!("Projects-{}", project.id),
    ];
    let message = format!("Created release {} of {}", release.version, project.name);
    events::record(tx, "ReleaseCreated", &message, &related)?;
    Ok(release)
}

pub struct DeploymentInput {
    pub release_id: i64,
    pub environment_id: i64,
    /// `None`: now.
    pub queue_time: Option<i64>,
    pub queue_time_expiry: Option<i64>,
    /// Values for the project's prompted variables.
    pub prompted: crate::variables::Prompted,
}

/// The names a caller used for the queue time and its expiry, for error messages.
pub struct TimeFields {
    pub queue_time: &'static str,
    pub expiry: &'static str,
}

pub const OCTOPUS_TIME_FIELDS: TimeFields = TimeFields {
    queue_time: "QueueTime",
    expiry: "QueueTimeExpiry",
};

fn check_times(
    fields: &TimeFields,
    queue_time: Option<i64>,
    expiry: Option<i64>,
    now: i64,
) -> Result<i64> {
    let queue_time = queue_time.unwrap_or(now);
    if let Some(expiry) = expiry {
        if expiry < queue_time {
            return Err(Error::bad(
                fields.expiry,
                format!("must not be before {}", fields.queue_time),
            ));
        }
        if expiry < now {
            return Err(Error::bad(fields.expiry, "is in the past"));
        }
    }
    Ok(queue_time)
}

/// A deployment just queued: the deployment, its task's id, and the task's queue time.
pub struct Queued {
    pub deployment: Deployment,
    pub task_id: i64,
    pub queue_time: i64,
}

/// Queues a deployment: one change inserts its task and the deployment, audited; then
/// the local queue processor is woken so that a free slot starts it at once.
pub async fn create_deployment(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    input: DeploymentInput,
) -> Result<Queued> {
    create(store, queue, admission, input, None, None).await
}

/// [`create_deployment`] with the client's `Idempotency-Key`: a retry of the same
/// request with the same key answers with the deployment the first one queued.
pub async fn create_deployment_once(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    input: DeploymentInput,
    key: Option<String>,
) -> Result<Queued> {
    create(store, queue, admission, input, None, key).await
}

/// Queues a deployment through the freezes `overriding` names (Octopus's
/// `POST /api/deployments/override`): only freezes on over its project and environment
/// now, all of them, with a reason, by a caller who may administer freezes and create
/// deployments. The reason goes on the audit trail and the task's log.
pub async fn create_deployment_overriding(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    input: DeploymentInput,
    overriding: Override,
) -> Result<Queued> {
    create(store, queue, admission, input, Some(overriding), None).await
}

async fn create(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    input: DeploymentInput,
    overriding: Option<Override>,
    key: Option<String>,
) -> Result<Queued> {
    let now = crate::clock::now_ms();
    let queue_time = check_times(
        &OCTOPUS_TIME_FIELDS,
        input.queue_time,
        input.queue_time_expiry,
        now,
    )?;
    let once = key.map(|key| {
        let fingerprint = format!(
            "deployment {} {} {:?} {:?}",
            input.release_id, input.environment_id, input.queue_time, input.queue_time_expiry
        );
        (key, fingerprint)
    });
    let created = store
        .change(admission, move |tx| {
            let user = crate::access::proof_of(tx)?.actor().user_id.unwrap_or(0);
            if let Some((key, fingerprint)) = &once {
                if let Taken::Replay(ids) = idempotency::take(tx, user, key, fingerprint, now)? {
                    let mut again = replay(tx, &ids)?;
                    return again.pop().ok_or_else(gone);
                }
            }
            let release = projects::find_release(tx, input.release_id)?.ok_or_else(|| {
                Error::bad(
                    "ReleaseId",
                    format!("Releases-{} does not exist", input.release_id),
                )
            })?;
            let env = projects::find_environment(tx, input.environment_id)?.ok_or_else(|| {
                Error::bad(
                    "EnvironmentId",
                    format!("Environments-{} does not exist", input.environment_id),
                )
            })?;
            let project = projects::find(tx, release.project_id)?
                .ok_or_else(|| project_not_found(release.project_id))?;
            let (deployment, task_id) = queue_deployment(
                tx,
                &project,
                &release,
                &env,
                (queue_time, input.queue_time_expiry),
                overriding.as_ref(),
                (Through::Identity, &input.prompted),
            )?;
            if let Some((key, _)) = &once {
                idempotency::record(tx, user, key, &[task_id])?;
            }
            Ok((deployment, task_id, queue_time))
        })
        .await?;
    queue.wake();
    let (deployment, task_id, queue_time) = created;
    Ok(Queued {
        deployment,
        task_id,
        queue_time,
    })
}

/// What a request replayed by its idempotency key queued the first time: each task's
/// deployment, its id and queue time, in order.
pub(crate) fn replay(tx: &ChangeTx, task_ids: &[i64]) -> Result<Vec<(Deployment, i64, i64)>> {
    task_ids
        .iter()
        .map(|&id| {
            let deployment = deployments::find_by_task(tx, id)?.ok_or_else(gone)?;
            let task = tasks::find(tx, id)?.ok_or_else(gone)?;
            Ok((deployment, id, task.queue_time))
        })
        .collect()
}

/// A replayed request whose deployments are gone meanwhile (deleted by retention).
fn gone() -> Error {
    Error::bad(
        "Idempotency-Key",
        "what the first request with this key queued is gone; send a new key",
    )
}

/// How a deployment came to be queued, recorded with who queued it.
#[derive(Clone, Copy)]
enum Through {
    /// The way the caller signed in: a session, an API key, the command line.
    Identity,
    /// Octopus's executions API (`deployments/create/untenanted/v1`).
    Executions,
}

impl Through {
    /// What the task records (`None`: the way the caller signed in).
    fn queued_via(self) -> Option<&'static str> {
        match self {
            Through::Executions => Some("Executions API"),
            Through::Identity => None,
        }
    }
}

/// Inserts a deployment's task and the deployment, audited, inside the caller's change:
/// refused while a deployment freeze is on over the project and environment, unless
/// `overriding` passes every such freeze.
fn queue_deployment(
    tx: &ChangeTx,
    project: &Project,
    release: &Release,
    env: &Environment,
    (queue_time, queue_time_expiry): (i64, Option<i64>),
    overriding: Option<&Override>,
    (through, prompted): (Through, &crate::variables::Prompted),
) -> Result<(Deployment, i64)> {
    if overriding.is_some() {
        let proof = crate::access::proof_of(tx)?;
        if !proof.actor().can(Permission::DeploymentCreate) {
            return Err(Error::missing_permission(Permission::DeploymentCreate));
        }
    }
    let where_ = format!("{} in {}", project.name, env.name);
    let check = freezes::check_creation(tx, (project.id, env.id), &where_, queue_time, overriding)?;
    let task = NewTask {
        name: crate::model::TaskKind::Deploy,
        description: format!(
            "Deploy {} release {} to {}",
            project.name, release.version, env.name
        ),
        queue_time,
        queue_time_expiry,
        project_id: Some(project.id),
        environment_id: Some(env.id),
        release_id: Some(release.id),
        concurrency_tag: Some(format!("Projects-{}/Environments-{}", project.id, env.id)),
        arguments: serde_json::json!({
            "ReleaseId": format!("Releases-{}", release.id),
            "EnvironmentId": format!("Environments-{}", env.id),
        })
        .to_string(),
        is_system: false,
        queued_via: through.queued_via(),
    };
    let task_id = tasks::insert(tx, &task)?;
    crate::variables::queue_prompted(tx, prompted, (project.id, release.id, env.id), task_id)?;
    crate::approvals::require(tx, (project, release, env), task_id)?;
    let deployment = deployments::create(tx, release.id, env.id, task_id)?;
    let related = [
        format!("Deployments-{}", deployment.id),
        format!("ServerTasks-{task_id}"),
        format!("Projects-{}", project.id),
        format!("Releases-{}", release.id),
        format!("Environments-{}", env.id),
    ];
    events::record(tx, "DeploymentQueued", &task.description, &related)?;
    if let Some(o) = overriding {
        let ids: Vec<i64> = check.overridden.iter().map(|f| f.row.id).collect();
        freezes_store::record_override(tx, task_id, &ids, o.reason.trim())?;
        let mut related = related.to_vec();
        let named: Vec<String> = check
            .overridden
            .iter()
            .map(|f| {
                related.push(f.id());
                format!("'{}' ({})", f.row.name, f.id())
            })
            .collect();
        events::record(
            tx,
            "DeploymentFreezeOverridden",
            &format!(
                "Overrode deployment freeze {} to deploy {} release {} to {}: {}",
                named.join(", "),
                project.name,
                release.version,
                env.name,
                o.reason.trim()
            ),
            &related,
        )?;
    }
    Ok((deployment, task_id))
}

/// Cancels every deployment still executing or due to start (not system tasks, not ones
/// scheduled for later), in one change: what an administrator does to make a server
/// quiet sooner. Returns how many were asked to stop.
pub async fn cancel_all_busy(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
) -> Result<usize> {
    let ids = store
        .change(admission, move |tx| {
            let now = crate::clock::now_ms();
            let busy = tasks::busy_non_system(tx, now, 10_000)?;
            let mut ids = Vec::with_capacity(busy.len());
            for task in busy {
                if task.state == crate::model::TaskState::Cancelling {
                    continue;
                }
                tasks::request_cancel(tx, task.id)?;
                ids.push(task.id);
            }
            if !ids.is_empty() {
                let related: Vec<String> =
                    ids.iter().map(|id| format!("ServerTasks-{id}")).collect();
                events::record(
                    tx,
                    "TaskCanceled",
                    &format!(
                        "Requested cancellation of all {} remaining tasks",
                        ids.len()
                    ),
                    &related,
                )?;
            }
            Ok(ids)
        })
        .await?;
    for id in &ids {
        queue.cancel(*id);
    }
    Ok(ids.len())
}

/// Cancels a task: a queued one at once, an executing one through its node.
pub async fn cancel_task(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    id: i64,
) -> Result<Cancel> {
    let outcome = store
        .change(admission, move |tx| {
            let outcome = tasks::request_cancel(tx, id)?;
            let related = [format!("ServerTasks-{id}")];
            events::record(
                tx,
                "TaskCanceled",
                &format!("Requested cancellation of ServerTasks-{id}"),
                &related,
            )?;
            Ok(outcome)
        })
        .await?;
    queue.cancel(id);
    Ok(outcome)
}
