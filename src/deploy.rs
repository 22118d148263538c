//! Projects, environments, releases and deployments: validation (naming the field) and
//! audit, shared by the pages and the API. No HTTP in here.

use crate::error::{Error, Result};
use crate::queue::Queue;
use crate::store::deployments::{self, Deployment};
use crate::store::projects::{self, Environment, Project, ProjectFields, Release};
use crate::store::tasks::{self, Cancel, NewTask};
use crate::store::{events, ChangeTx, Store};

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
    /// The bash script a deployment runs. Empty is allowed: a deployment that does
    /// nothing (what an Octopus-shaped project created without one gets). `None` on
    /// update keeps the current script; on create it is empty.
    pub deployment_script: Option<String>,
    pub script_timeout_secs: Option<i64>,
}

/// Every problem with a project's fields (none: it can be saved).
pub fn project_problems(input: &ProjectInput) -> Vec<Error> {
    let timeout = input
        .script_timeout_secs
        .unwrap_or(DEFAULT_SCRIPT_TIMEOUT_SECS);
    let mut problems = Vec::new();
    problems.extend(check_name("Name", input.name.trim()).err());
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

fn project_fields(input: ProjectInput) -> Result<ProjectFields> {
    Error::all(project_problems(&input))?;
    Ok(ProjectFields {
        name: input.name.trim().to_string(),
        script_timeout_secs: input
            .script_timeout_secs
            .unwrap_or(DEFAULT_SCRIPT_TIMEOUT_SECS),
        description: input.description,
        deployment_script: input.deployment_script,
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

pub struct EnvironmentInput {
    pub name: String,
    pub description: String,
    /// Where it goes in promotion order; `None`: last on create, unchanged on update.
    pub sort_order: Option<i64>,
}

fn check_environment(input: &mut EnvironmentInput) -> Result<()> {
    input.name = input.name.trim().to_string();
    let mut problems = Vec::new();
    problems.extend(check_name("Name", &input.name).err());
    problems.extend(check_text("Description", &input.description, MAX_DESCRIPTION, false).err());
    if let Some(order) = input.sort_order {
        if !(0..=1_000_000).contains(&order) {
            problems.push(Error::bad("SortOrder", "must be between 0 and 1000000"));
        }
    }
    Error::all(problems)
}

pub async fn create_environment(
    store: &Store,
    admission: &impl crate::store::Admit,
    mut input: EnvironmentInput,
) -> Result<Environment> {
    check_environment(&mut input)?;
    store
        .change(admission, move |tx| {
            let env = projects::create_environment(
                tx,
                &input.name,
                &input.description,
                input.sort_order,
            )?;
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
    mut input: EnvironmentInput,
) -> Result<Environment> {
    check_environment(&mut input)?;
    store
        .change(admission, move |tx| {
            projects::find_environment(tx, id)?.ok_or_else(|| environment_not_found(id))?;
            projects::update_environment(
                tx,
                id,
                &input.name,
                &input.description,
                input.sort_order,
            )?;
            let related = [format!("Environments-{id}")];
            events::record(
                tx,
                "EnvironmentModified",
                &format!("Modified environment {}", input.name),
                &related,
            )?;
            projects::find_environment(tx, id)?.ok_or_else(|| environment_not_found(id))
        })
        .await
}

/// Puts every environment in promotion order: `ids` names each exactly once (Octopus's
/// `PUT /api/environments/sortorder`).
pub async fn reorder_environments(
    store: &Store,
    admission: &impl crate::store::Admit,
    ids: Vec<i64>,
) -> Result<Vec<Environment>> {
    store
        .change(admission, move |tx| {
            let (all, _) = projects::list_environments(tx, 0, i64::MAX)?;
            let mut given = ids.clone();
            given.sort_unstable();
            let mut existing: Vec<i64> = all.iter().map(|e| e.id).collect();
            existing.sort_unstable();
            if given != existing {
                return Err(Error::bad(
                    "body",
                    format!(
                        "must name every environment exactly once ({} environments, {} ids given)",
                        existing.len(),
                        ids.len()
                    ),
                ));
            }
            set_order(tx, &ids)
        })
        .await
}

/// Moves an environment one place earlier or later in promotion order.
pub async fn move_environment(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    earlier: bool,
) -> Result<Vec<Environment>> {
    store
        .change(admission, move |tx| {
            let (all, _) = projects::list_environments(tx, 0, i64::MAX)?;
            let mut ids: Vec<i64> = all.iter().map(|e| e.id).collect();
            let at = ids
                .iter()
                .position(|e| *e == id)
                .ok_or_else(|| environment_not_found(id))?;
            let other = if earlier {
                at.checked_sub(1)
            } else {
                Some(at + 1)
            };
            if let Some(other) = other.filter(|o| *o < ids.len()) {
                ids.swap(at, other);
            }
            set_order(tx, &ids)
        })
        .await
}

fn set_order(tx: &ChangeTx, ids: &[i64]) -> Result<Vec<Environment>> {
    projects::set_environment_order(tx, ids)?;
    let (ordered, _) = projects::list_environments(tx, 0, i64::MAX)?;
    let names: Vec<&str> = ordered.iter().map(|e| e.name.as_str()).collect();
    let related: Vec<String> = ids.iter().map(|id| format!("Environments-{id}")).collect();
    events::record(
        tx,
        "EnvironmentsReordered",
        &format!("Put environments in the order {}", names.join(", ")),
        &related,
    )?;
    Ok(ordered)
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
    let related = [
        format!("Releases-{}", release.id),
        format!("Projects-{}", project.id),
    ];
    let message = format!("Created release {} of {}", release.version, project.name);
    events::record(tx, "ReleaseCreated", &message, &related)?;
    Ok(release)
}

/// The version after `latest`: its last run of digits plus one, everything else kept
/// (`1.4.2` → `1.4.3`, `2026.11-rc9` → `2026.11-rc10`, `1.0.9` → `1.0.10`); `0.0.1`
/// for a project's first release (what Octopus's default version template gives).
pub fn next_version(latest: Option<&str>) -> std::result::Result<String, String> {
    let Some(latest) = latest else {
        return Ok("0.0.1".to_string());
    };
    let chars: Vec<char> = latest.chars().collect();
    let Some(last) = chars.iter().rposition(char::is_ascii_digit) else {
        return Err(format!(
            "the latest release '{latest}' has no number to increment; give a ReleaseVersion"
        ));
    };
    let first = chars[..last]
        .iter()
        .rposition(|c| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let mut digits: Vec<char> = chars[first..=last].to_vec();
    let mut i = digits.len();
    loop {
        if i == 0 {
            digits.insert(0, '1');
            break;
        }
        i -= 1;
        if digits[i] == '9' {
            digits[i] = '0';
        } else {
            digits[i] = char::from(digits[i] as u8 + 1);
            break;
        }
    }
    let mut next: String = chars[..first].iter().collect();
    next.extend(digits);
    next.extend(&chars[last + 1..]);
    Ok(next)
}

/// A project or environment as Octopus's executions API names it: by id or by name.
fn project_named(tx: &ChangeTx, field: &str, text: &str) -> Result<Project> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Error::bad(field, "is required"));
    }
    let by_id = text
        .strip_prefix("Projects-")
        .and_then(|n| n.parse::<i64>().ok());
    let found = match by_id {
        Some(id) => projects::find(tx, id)?,
        None => projects::find_by_name(tx, text)?,
    };
    found.ok_or_else(|| Error::bad(field, format!("no project is named '{text}'")))
}

fn environment_named(tx: &ChangeTx, field: &str, text: &str) -> Result<Environment> {
    let text = text.trim();
    let by_id = text
        .strip_prefix("Environments-")
        .and_then(|n| n.parse::<i64>().ok());
    let found = match by_id {
        Some(id) => projects::find_environment(tx, id)?,
        None => projects::find_environment_by_name(tx, text)?,
    };
    found.ok_or_else(|| Error::bad(field, format!("no environment is named '{text}'")))
}

/// What Octopus's `releases/create/v1` asks for.
pub struct ReleaseCommand {
    /// The project's name or id.
    pub project: String,
    /// `None`: the next version after the project's latest release ([`next_version`]).
    pub version: Option<String>,
    pub notes: String,
    /// Return the existing release of that version instead of refusing a second one.
    pub ignore_if_exists: bool,
}

/// Creates a release the way Octopus's executions API does: the project by name or
/// id, the version given or the next one. Returns the release and whether it is new.
pub async fn create_release_command(
    store: &Store,
    admission: &impl crate::store::Admit,
    command: ReleaseCommand,
) -> Result<(Release, bool)> {
    let version = command
        .version
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
    if let Some(v) = &version {
        check_version("ReleaseVersion", v)?;
    }
    check_text("ReleaseNotes", &command.notes, MAX_DESCRIPTION, false)?;
    store
        .change(admission, move |tx| {
            let project = project_named(tx, "ProjectName", &command.project)?;
            let version = match version {
                Some(v) => v,
                None => {
                    let latest = projects::latest_release(tx, project.id)?;
                    let next = next_version(latest.as_ref().map(|r| r.version.as_str()))
                        .map_err(|e| Error::bad("ReleaseVersion", e))?;
                    check_version("ReleaseVersion", &next)?;
                    next
                }
            };
            if command.ignore_if_exists {
                if let Some(existing) = projects::find_release_by_version(tx, project.id, &version)?
                {
                    return Ok((existing, false));
                }
            }
            Ok((
                insert_release(tx, &project, &version, &command.notes)?,
                true,
            ))
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
    let now = crate::clock::now_ms();
    let queue_time = check_times(
        &OCTOPUS_TIME_FIELDS,
        input.queue_time,
        input.queue_time_expiry,
        now,
    )?;
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
            queue_deployment(
                tx,
                &project,
                &release,
                &env,
                queue_time,
                input.queue_time_expiry,
            )
        })
        .await?;
    queue.wake();
    let (deployment, task_id) = created;
    Ok(Queued {
        deployment,
        task_id,
        queue_time,
    })
}

/// What Octopus's `deployments/create/untenanted/v1` asks for.
pub struct DeploymentsCommand {
    /// The project's name or id.
    pub project: String,
    pub release_version: String,
    /// Environment names or ids: one deployment each.
    pub environments: Vec<String>,
    pub queue_time: Option<i64>,
    pub queue_time_expiry: Option<i64>,
}

/// At most this many environments in one deployments command.
pub const MAX_ENVIRONMENTS: usize = 100;

/// Queues one deployment of a release per environment, all in one change: either every
/// deployment is queued or none is.
pub async fn create_deployments_command(
    store: &Store,
    queue: &Queue,
    admission: &impl crate::store::Admit,
    command: DeploymentsCommand,
) -> Result<Vec<(Deployment, i64)>> {
    let now = crate::clock::now_ms();
    let fields = TimeFields {
        queue_time: "RunAt",
        expiry: "NoRunAfter",
    };
    let queue_time = check_times(&fields, command.queue_time, command.queue_time_expiry, now)?;
    let version = command.release_version.trim().to_string();
    if version.is_empty() {
        return Err(Error::bad("ReleaseVersion", "is required"));
    }
    let names: Vec<String> = command
        .environments
        .iter()
        .map(|e| e.trim().to_string())
        .collect();
    if names.is_empty() {
        return Err(Error::bad(
            "EnvironmentNames",
            "must name at least one environment",
        ));
    }
    if names.len() > MAX_ENVIRONMENTS {
        return Err(Error::bad(
            "EnvironmentNames",
            format!("at most {MAX_ENVIRONMENTS} environments at once"),
        ));
    }
    let created = store
        .change(admission, move |tx| {
            let project = project_named(tx, "ProjectName", &command.project)?;
            let release =
                projects::find_release_by_version(tx, project.id, &version)?.ok_or_else(|| {
                    Error::bad(
                        "ReleaseVersion",
                        format!("project {} has no release '{version}'", project.name),
                    )
                })?;
            let mut seen = std::collections::HashSet::new();
            let mut created = Vec::with_capacity(names.len());
            for name in &names {
                let env = environment_named(tx, "EnvironmentNames", name)?;
                if !seen.insert(env.id) {
                    return Err(Error::bad(
                        "EnvironmentNames",
                        format!("names environment {} more than once", env.name),
                    ));
                }
                created.push(queue_deployment(
                    tx,
                    &project,
                    &release,
                    &env,
                    queue_time,
                    command.queue_time_expiry,
                )?);
            }
            Ok(created)
        })
        .await?;
    queue.wake();
    Ok(created)
}

/// Inserts a deployment's task and the deployment, audited, inside the caller's change.
fn queue_deployment(
    tx: &ChangeTx,
    project: &Project,
    release: &Release,
    env: &Environment,
    queue_time: i64,
    queue_time_expiry: Option<i64>,
) -> Result<(Deployment, i64)> {
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

#[cfg(test)]
mod tests {
    use super::next_version;

    #[test]
    fn next_version_increments_the_last_number() {
        assert_eq!(next_version(None).unwrap(), "0.0.1");
        assert_eq!(next_version(Some("1.4.2")).unwrap(), "1.4.3");
        assert_eq!(next_version(Some("1.0.9")).unwrap(), "1.0.10");
        assert_eq!(next_version(Some("2026.11-rc9")).unwrap(), "2026.11-rc10");
        assert_eq!(next_version(Some("v7-beta")).unwrap(), "v8-beta");
        assert_eq!(next_version(Some("99")).unwrap(), "100");
        assert_eq!(
            next_version(Some("1.99999999999999999999999")).unwrap(),
            "1.100000000000000000000000"
        );
        assert!(next_version(Some("release"))
            .unwrap_err()
            .contains("release"));
    }
}
