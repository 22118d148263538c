//! Projects, environments, releases and deployments: validation (naming the field) and
//! audit, shared by the pages and the API. No HTTP in here.

use crate::error::{Error, Result};
use crate::queue::Queue;
use crate::store::deployments::{self, Deployment};
use crate::store::projects::{self, Environment, Project, ProjectFields, Release};
use crate::store::tasks::{self, Cancel, NewTask};
use crate::store::{events, Store};

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 4_000;
pub const MAX_SCRIPT: usize = 256 * 1024;
pub const MAX_VERSION: usize = 100;
pub const DEFAULT_SCRIPT_TIMEOUT_SECS: i64 = 3600;
pub const MAX_SCRIPT_TIMEOUT_SECS: i64 = 7 * 24 * 3600;

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<()> {
    if required && value.trim().is_empty() {
        return Err(Error::bad(field, "is required"));
    }
    if value.chars().count() > max {
        return Err(Error::bad(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value.contains('\0') {
        return Err(Error::bad(field, "must not contain NUL characters"));
    }
    Ok(())
}

fn check_name(field: &str, value: &str) -> Result<()> {
    check_text(field, value, MAX_NAME, true)?;
    if value.chars().any(char::is_control) {
        return Err(Error::bad(field, "must not contain control characters"));
    }
    Ok(())
}

pub struct ProjectInput {
    pub name: String,
    pub description: String,
    pub deployment_script: String,
    pub script_timeout_secs: Option<i64>,
}

fn project_fields(input: ProjectInput) -> Result<ProjectFields> {
    let name = input.name.trim().to_string();
    check_name("Name", &name)?;
    check_text("Description", &input.description, MAX_DESCRIPTION, false)?;
    check_text(
        "DeploymentScript",
        &input.deployment_script,
        MAX_SCRIPT,
        true,
    )?;
    let timeout = input
        .script_timeout_secs
        .unwrap_or(DEFAULT_SCRIPT_TIMEOUT_SECS);
    if !(1..=MAX_SCRIPT_TIMEOUT_SECS).contains(&timeout) {
        return Err(Error::bad(
            "ScriptTimeoutSeconds",
            format!("must be between 1 and {MAX_SCRIPT_TIMEOUT_SECS}"),
        ));
    }
    Ok(ProjectFields {
        name,
        description: input.description,
        deployment_script: input.deployment_script,
        script_timeout_secs: timeout,
    })
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
    let fields = project_fields(input)?;
    store
        .change(admission, move |tx| {
            let project = projects::create(tx, &fields)?;
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
    let fields = project_fields(input)?;
    store
        .change(admission, move |tx| {
            projects::find(tx, id)?.ok_or_else(|| project_not_found(id))?;
            projects::update(tx, id, &fields)?;
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

pub async fn create_environment(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: String,
    description: String,
) -> Result<Environment> {
    let name = name.trim().to_string();
    check_name("Name", &name)?;
    check_text("Description", &description, MAX_DESCRIPTION, false)?;
    store
        .change(admission, move |tx| {
            let env = projects::create_environment(tx, &name, &description)?;
            let related = [format!("Environments-{}", env.id)];
            events::record(
                tx,
                "EnvironmentCreated",
                &format!("Created environment {}", env.name),
                &related,
            )?;
            Ok(env)
        })
        .await
}

pub async fn update_environment(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    name: String,
    description: String,
) -> Result<Environment> {
    let name = name.trim().to_string();
    check_name("Name", &name)?;
    check_text("Description", &description, MAX_DESCRIPTION, false)?;
    store
        .change(admission, move |tx| {
            projects::find_environment(tx, id)?.ok_or_else(|| environment_not_found(id))?;
            projects::update_environment(tx, id, &name, &description)?;
            let related = [format!("Environments-{id}")];
            events::record(
                tx,
                "EnvironmentModified",
                &format!("Modified environment {name}"),
                &related,
            )?;
            projects::find_environment(tx, id)?.ok_or_else(|| environment_not_found(id))
        })
        .await
}

pub async fn delete_environment(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
) -> Result<()> {
    store
        .change(admission, move |tx| {
            let env =
                projects::find_environment(tx, id)?.ok_or_else(|| environment_not_found(id))?;
            let busy = tasks::active_count(tx, None, Some(id))?;
            if busy > 0 {
                return Err(Error::Conflict(format!(
                    "Environment {} has {busy} queued or running deployments; cancel them first.",
                    env.name
                )));
            }
            projects::delete_environment(tx, id)?;
            let related = [format!("Environments-{id}")];
            events::record(
                tx,
                "EnvironmentDeleted",
                &format!("Deleted environment {}", env.name),
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
    check_name("Version", &version)?;
    if version.chars().count() > MAX_VERSION {
        return Err(Error::bad(
            "Version",
            format!("must be at most {MAX_VERSION} characters"),
        ));
    }
    check_text("ReleaseNotes", &notes, MAX_DESCRIPTION, false)?;
    store
        .change(admission, move |tx| {
            let project = projects::find(tx, project_id)?.ok_or_else(|| {
                Error::bad("ProjectId", format!("Projects-{project_id} does not exist"))
            })?;
            let release = projects::create_release(tx, project_id, &version, &notes)?;
            let related = [
                format!("Releases-{}", release.id),
                format!("Projects-{project_id}"),
            ];
            let message = format!("Created release {} of {}", release.version, project.name);
            events::record(tx, "ReleaseCreated", &message, &related)?;
            Ok(release)
        })
        .await
}

pub struct DeploymentInput {
    pub release_id: i64,
    pub environment_id: i64,
    /// `None`: now.
    pub queue_time: Option<i64>,
    pub queue_time_expiry: Option<i64>,
}

/// Queues a deployment: one change inserts its task and the deployment, audited; then
/// the local queue processor is woken so that a free slot starts it at once.
pub async fn create_deployment(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    input: DeploymentInput,
) -> Result<(Deployment, i64)> {
    let now = crate::clock::now_ms();
    let queue_time = input.queue_time.unwrap_or(now);
    if let Some(expiry) = input.queue_time_expiry {
        if expiry < queue_time {
            return Err(Error::bad(
                "QueueTimeExpiry",
                "must not be before QueueTime",
            ));
        }
        if expiry < now {
            return Err(Error::bad("QueueTimeExpiry", "is in the past"));
        }
    }
    let created = store
        .change(admission, move |tx| {
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
            let task = NewTask {
                name: crate::model::TaskKind::Deploy,
                description: format!(
                    "Deploy {} release {} to {}",
                    project.name, release.version, env.name
                ),
                queue_time,
                queue_time_expiry: input.queue_time_expiry,
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
            };
            let task_id = tasks::insert(tx, &task)?;
            let deployment = deployments::create(tx, release.id, env.id, task_id)?;
            let related = [
                format!("Deployments-{}", deployment.id),
                format!("ServerTasks-{task_id}"),
                format!("Projects-{}", project.id),
                format!("Releases-{}", release.id),
                format!("Environments-{}", env.id),
            ];
            events::record(tx, "DeploymentQueued", &task.description, &related)?;
            Ok((deployment, task_id))
        })
        .await?;
    queue.wake();
    Ok(created)
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
