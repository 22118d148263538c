//! What a deployment takes from the variables: the sets it reads (its release's
//! snapshot, or the project's of the moment), its prompted values (checked when it is
//! queued, kept sealed) and what it used.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{owner_name, read, resolve};
use crate::clock;
use crate::error::{Error, Result};
use crate::secrets::MasterKey;
use crate::store::sql::Conn;
use crate::store::variables::{self as stored, Owner};
use crate::store::{events, projects, ChangeTx, Store};

/// Prompted values given with a deployment (name → value), the field they came in
/// (`FormValues`, `Variables`, the form's), and the key that seals them.
#[derive(Clone, Default)]
pub struct Prompted {
    pub field: &'static str,
    pub values: BTreeMap<String, String>,
    pub key: Option<Arc<MasterKey>>,
}

impl std::fmt::Debug for Prompted {
    /// Names only: the values may be sensitive.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompted")
            .field("field", &self.field)
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Checks a deployment's prompted values (see [`resolve::check_prompted`]) inside the
/// change that queues it as task `task`, and keeps them, sealed.
pub fn queue_prompted(
    tx: &ChangeTx,
    prompted: &Prompted,
    (project, release, environment): (i64, i64, i64),
    task: i64,
) -> Result<()> {
    let sources = release_sources(tx, project, release)?;
    let field = if prompted.field.is_empty() {
        "FormValues"
    } else {
        prompted.field
    };
    let kept = resolve::check_prompted(field, &sources, &[environment], &prompted.values)?;
    if kept.is_empty() {
        return Ok(());
    }
    let key = prompted.key.as_deref().ok_or_else(resolve::no_key)?;
    keep_prompted(tx, key, task, &kept)
}

/// The sets a deployment of `project` reads now: the project's own, then the library
/// sets it includes, in its order.
pub fn current_sources(conn: &Conn, project: i64) -> Result<Vec<resolve::Source>> {
    let mut owners = vec![Owner::Project(project)];
    owners.extend(
        stored::included(conn, project)?
            .into_iter()
            .map(Owner::Library),
    );
    owners
        .into_iter()
        .map(|owner| {
            let set = read(conn, owner)?;
            Ok(resolve::Source {
                owner: owner.id(),
                name: owner_name(conn, owner)?,
                version: set.version,
                variables: set.variables,
            })
        })
        .collect()
}

/// The sets a deployment of `release` reads: its snapshot, or for a release without
/// one (created before variables, or by an older node) the project's of the moment.
pub fn release_sources(conn: &Conn, project: i64, release: i64) -> Result<Vec<resolve::Source>> {
    match stored::snapshot(conn, release)? {
        Some((_, text)) => serde_json::from_str(&text)
            .map_err(|e| Error::internal_from("reading a release's variable snapshot", e)),
        None => current_sources(conn, project),
    }
}

/// Keeps the project's variables as they are now with `release`, as Octopus's variable
/// snapshot does (replacing any it had).
pub fn take_snapshot(tx: &ChangeTx, project: i64, release: i64) -> Result<()> {
    let sources = current_sources(tx, project)?;
    let text = serde_json::to_string(&sources)
        .map_err(|e| Error::internal_from("writing a variable snapshot", e))?;
    stored::save_snapshot(tx, release, &text, clock::now_ms())
}

/// Takes `release`'s snapshot again from its project's variables as they are now,
/// audited (Octopus's "update variables"; the executions API's
/// `UpdateVariableSnapshot`).
pub fn refresh_snapshot(tx: &ChangeTx, release: &projects::Release) -> Result<()> {
    let project = projects::find(tx, release.project_id)?.ok_or_else(|| {
        Error::NotFound(format!(
            "Project Projects-{} was not found.",
            release.project_id
        ))
    })?;
    take_snapshot(tx, project.id, release.id)?;
    let related = [
        format!("Releases-{}", release.id),
        format!("Projects-{}", project.id),
    ];
    events::record(
        tx,
        "ReleaseVariablesUpdated",
        &format!(
            "Updated the variable snapshot of release {} of {}",
            release.version, project.name
        ),
        &related,
    )?;
    Ok(())
}

/// [`refresh_snapshot`] as a change of its own.
pub async fn update_snapshot(
    store: &Store,
    admission: &impl crate::store::Admit,
    release: i64,
) -> Result<projects::Release> {
    store
        .change(admission, move |tx| {
            let found = projects::find_release(tx, release)?.ok_or_else(|| {
                Error::NotFound(format!("Release Releases-{release} was not found."))
            })?;
            refresh_snapshot(tx, &found)?;
            Ok(found)
        })
        .await
}

/// Whether the project's variables changed since `release`'s snapshot (a set edited,
/// added or no longer included); false for a release without a snapshot.
pub fn changed_since(conn: &Conn, project: i64, release: i64) -> Result<bool> {
    let Some((_, text)) = stored::snapshot(conn, release)? else {
        return Ok(false);
    };
    let kept: Vec<resolve::Source> = serde_json::from_str(&text)
        .map_err(|e| Error::internal_from("reading a release's variable snapshot", e))?;
    let now = current_sources(conn, project)?;
    let versions = |s: &[resolve::Source]| -> Vec<(String, i64)> {
        s.iter().map(|s| (s.owner.clone(), s.version)).collect()
    };
    Ok(versions(&kept) != versions(&now))
}

/// Records a deployment's prompted values, sealed.
pub fn keep_prompted(
    tx: &ChangeTx,
    key: &MasterKey,
    task: i64,
    given: &BTreeMap<String, String>,
) -> Result<()> {
    if given.is_empty() {
        return Ok(());
    }
    let sealed = given
        .iter()
        .map(|(name, value)| Ok((name.clone(), key.seal(value)?)))
        .collect::<Result<BTreeMap<_, _>>>()?;
    let text = serde_json::to_string(&sealed)
        .map_err(|e| Error::internal_from("writing prompted values", e))?;
    stored::save_prompted(tx, task, &text)
}

/// The prompted values task `task` was given, opened (none for a task without).
pub fn given_values(conn: &Conn, key: &MasterKey, task: i64) -> Result<BTreeMap<String, String>> {
    let Some((text, _)) = stored::task_variables(conn, task)? else {
        return Ok(BTreeMap::new());
    };
    let sealed: BTreeMap<String, String> = serde_json::from_str(&text)
        .map_err(|e| Error::internal_from("reading prompted values", e))?;
    sealed
        .into_iter()
        .map(|(name, value)| Ok((name, key.open(&value)?)))
        .collect()
}

/// What a task used, as recorded when it started (empty before, or for a task from
/// before variables).
pub fn used_by(conn: &Conn, task: i64) -> Result<Vec<resolve::Used>> {
    match stored::task_variables(conn, task)? {
        Some((_, Some(used))) => serde_json::from_str(&used)
            .map_err(|e| Error::internal_from("reading a task's variables", e)),
        _ => Ok(Vec::new()),
    }
}

/// What a deployment's start takes from the variables.
pub struct Inputs {
    pub sources: Vec<resolve::Source>,
    /// Its prompted values, opened.
    pub prompted: BTreeMap<String, String>,
    pub deployment_id: Option<i64>,
}

/// Reads [`Inputs`] for task `task` of `release` (of `project`): one round trip, and
/// one more for a release without a snapshot.
pub fn inputs(
    conn: &Conn,
    key: Option<&MasterKey>,
    (project, release, task): (i64, i64, i64),
) -> Result<Inputs> {
    let (snapshot, prompted, deployment_id) = stored::deployment_inputs(conn, release, task)?;
    let sources = match snapshot {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::internal_from("reading a release's variable snapshot", e))?,
        None => current_sources(conn, project)?,
    };
    let prompted = match prompted {
        None => BTreeMap::new(),
        Some(text) => {
            let key = key.ok_or_else(resolve::no_key)?;
            let sealed: BTreeMap<String, String> = serde_json::from_str(&text)
                .map_err(|e| Error::internal_from("reading prompted values", e))?;
            sealed
                .into_iter()
                .map(|(name, value)| Ok((name, key.open(&value)?)))
                .collect::<Result<_>>()?
        }
    };
    Ok(Inputs {
        sources,
        prompted,
        deployment_id,
    })
}
