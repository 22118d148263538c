//! Library variable sets: named sets of variables several projects include (a
//! project's own value wins over a library's). A set a project includes cannot be
//! deleted.

use crate::clock;
use crate::error::{Error, Result};
use crate::store::variables::{self as stored, LibrarySet};
use crate::store::{events, projects, Store};
use crate::validate;

fn checked(name: &str, description: &str) -> Result<(String, String)> {
    let name = name.trim().to_string();
    let description = description.trim().to_string();
    Error::all(
        [
            validate::name("Name", &name, 200).err(),
            validate::text("Description", &description, 1000, false).err(),
        ]
        .into_iter()
        .flatten()
        .collect(),
    )?;
    Ok((name, description))
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!(
        "Library variable set LibraryVariableSets-{id} was not found."
    ))
}

pub async fn create(
    store: &Store,
    admission: &impl crate::store::Admit,
    name: String,
    description: String,
) -> Result<LibrarySet> {
    let (name, description) = checked(&name, &description)?;
    store
        .change(admission, move |tx| {
            let id = stored::create_library_set(tx, &name, &description, clock::now_ms())?;
            let related = [format!("LibraryVariableSets-{id}")];
            events::record(
                tx,
                "LibraryVariableSetCreated",
                &format!("Created library variable set {name}"),
                &related,
            )?;
            stored::find_library_set(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

pub async fn update(
    store: &Store,
    admission: &impl crate::store::Admit,
    id: i64,
    name: String,
    description: String,
) -> Result<LibrarySet> {
    let (name, description) = checked(&name, &description)?;
    store
        .change(admission, move |tx| {
            stored::find_library_set(tx, id)?.ok_or_else(|| not_found(id))?;
            stored::update_library_set(tx, id, &name, &description)?;
            let related = [format!("LibraryVariableSets-{id}")];
            events::record(
                tx,
                "LibraryVariableSetModified",
                &format!("Modified library variable set {name}"),
                &related,
            )?;
            stored::find_library_set(tx, id)?.ok_or_else(|| not_found(id))
        })
        .await
}

pub async fn delete(store: &Store, admission: &impl crate::store::Admit, id: i64) -> Result<()> {
    store
        .change(admission, move |tx| {
            let set = stored::find_library_set(tx, id)?.ok_or_else(|| not_found(id))?;
            let users = stored::projects_including(tx, id)?;
            if !users.is_empty() {
                let names = users
                    .iter()
                    .map(|p| {
                        projects::find(tx, *p)
                            .map(|found| found.map_or_else(|| format!("Projects-{p}"), |f| f.name))
                    })
                    .collect::<Result<Vec<_>>>()?;
                return Err(Error::Conflict(format!(
                    "Library variable set {} is included by {}; remove it from them first.",
                    set.name,
                    names.join(", ")
                )));
            }
            stored::delete_library_set(tx, id)?;
            let related = [format!("LibraryVariableSets-{id}")];
            events::record(
                tx,
                "LibraryVariableSetDeleted",
                &format!("Deleted library variable set {}", set.name),
                &related,
            )?;
            Ok(())
        })
        .await
}

/// Checks that every library set in `sets` exists (as `IncludedLibraryVariableSetIds`
/// names them) and has no twin.
pub fn check_included(conn: &crate::store::sql::Conn, sets: &[i64]) -> Result<()> {
    for (i, set) in sets.iter().enumerate() {
        if sets[..i].contains(set) {
            return Err(Error::bad(
                "IncludedLibraryVariableSetIds",
                format!("LibraryVariableSets-{set} is named twice"),
            ));
        }
        if stored::find_library_set(conn, *set)?.is_none() {
            return Err(Error::bad(
                "IncludedLibraryVariableSetIds",
                format!("LibraryVariableSets-{set} does not exist"),
            ));
        }
    }
    Ok(())
}
