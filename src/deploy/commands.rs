//! Octopus's executions API as domain commands: a release by project name and the next
//! version, and one deployment per named environment in one change (all or none).

use super::{
    check_text, check_times, check_version, insert_release, queue_deployment, TimeFields,
    MAX_DESCRIPTION,
};
use crate::error::{Error, Result};
use crate::queue::Queue;
use crate::store::deployments::Deployment;
use crate::store::idempotency::{self, Taken};
use crate::store::projects::{self, Environment, Project, Release};
use crate::store::{ChangeTx, Store};

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

/// What Octopus's `deployments/create/untenanted/v1` asks for.
pub struct DeploymentsCommand {
    /// The project's name or id.
    pub project: String,
    pub release_version: String,
    /// Environment names or ids: one deployment each.
    pub environments: Vec<String>,
    pub queue_time: Option<i64>,
    pub queue_time_expiry: Option<i64>,
    /// Values for the project's prompted variables (the executions API's `Variables`).
    pub prompted: crate::variables::Prompted,
    /// Take the release's variable snapshot again first (`UpdateVariableSnapshot`).
    pub update_snapshot: bool,
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
    key: Option<String>,
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
    let once = key.map(|key| {
        let fingerprint = format!(
            "deployments {:?} {version:?} {names:?} {:?} {:?}",
            command.project.trim(),
            command.queue_time,
            command.queue_time_expiry
        );
        (key, fingerprint)
    });
    let created = store
        .change(admission, move |tx| {
            let user = crate::access::proof_of(tx)?.actor().user_id.unwrap_or(0);
            if let Some((key, fingerprint)) = &once {
                if let Taken::Replay(ids) = idempotency::take(tx, user, key, fingerprint, now)? {
                    let again = super::replay(tx, &ids)?;
                    return Ok(again.into_iter().map(|(d, id, _)| (d, id)).collect());
                }
            }
            let project = project_named(tx, "ProjectName", &command.project)?;
            let release =
                projects::find_release_by_version(tx, project.id, &version)?.ok_or_else(|| {
                    Error::bad(
                        "ReleaseVersion",
                        format!("project {} has no release '{version}'", project.name),
                    )
                })?;
            if command.update_snapshot {
                crate::variables::refresh_snapshot(tx, &release)?;
            }
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
                    (queue_time, command.queue_time_expiry),
                    None,
                    (super::Through::Executions, &command.prompted),
                )?);
            }
            if let Some((key, _)) = &once {
                let ids: Vec<i64> = created.iter().map(|(_, id)| *id).collect();
                idempotency::record(tx, user, key, &ids)?;
            }
            Ok(created)
        })
        .await?;
    queue.wake();
    Ok(created)
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
