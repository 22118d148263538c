//! Environments: create, edit, delete, and their promotion order (`SortOrder`), each a
//! change audited like every other.

use super::{check_name, check_text, environment_not_found, MAX_DESCRIPTION};
use crate::error::{Error, Result};
use crate::store::projects::{self, Environment};
use crate::store::tasks;
use crate::store::{events, ChangeTx, Store};

pub struct EnvironmentInput {
    pub name: String,
    /// `None`: from the name on create, kept on update.
    pub slug: Option<String>,
    pub description: String,
    /// Where it goes in promotion order; `None`: last on create, unchanged on update.
    pub sort_order: Option<i64>,
    /// Whether deploying to it from a page asks for a confirmation: `Some(None)` the
    /// default (only the last in promotion order does); `None`: unchanged (the default
    /// on create).
    pub needs_confirmation: Option<Option<bool>>,
}

/// Whether a deployment to `env` from a page asks for a confirmation first: as set, or
/// by default when it is the last in promotion order (Production, usually).
pub fn needs_confirmation(conn: &crate::store::Conn, env: &Environment) -> Result<bool> {
    match env.needs_confirmation {
        Some(set) => Ok(set),
        None => Ok(projects::last_environment(conn)? == Some(env.id)),
    }
}

fn check_environment(input: &mut EnvironmentInput) -> Result<()> {
    input.name = input.name.trim().to_string();
    let mut problems = Vec::new();
    problems.extend(check_name("Name", &input.name).err());
    if let Some(slug) = &input.slug {
        problems.extend(crate::store::slugs::check(slug).err());
    }
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
                input.slug.as_deref(),
                &input.description,
                input.sort_order,
            )?;
            if let Some(needs) = input.needs_confirmation {
                projects::set_needs_confirmation(tx, env.id, needs)?;
            }
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
                input.slug.as_deref(),
                &input.description,
                input.sort_order,
            )?;
            if let Some(needs) = input.needs_confirmation {
                projects::set_needs_confirmation(tx, id, needs)?;
            }
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
