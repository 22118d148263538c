//! Variables as stored: each set (a project's, a library variable set's) one versioned
//! JSON text whose sensitive values are already sealed; the library sets and which
//! projects include them; a release's snapshot; a deployment's prompted values and
//! what it used. What the texts hold is the domain's (`crate::variables`).

use super::sql::{Conn, Row};
use super::{BookTx, ChangeTx};
use crate::error::Result;

/// Who owns a variable set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Project(i64),
    Library(i64),
}

impl Owner {
    /// `Projects-1`, `LibraryVariableSets-1`.
    pub fn id(self) -> String {
        match self {
            Owner::Project(id) => format!("Projects-{id}"),
            Owner::Library(id) => format!("LibraryVariableSets-{id}"),
        }
    }
}

/// A set's version and its variables' JSON text (`[]` for a set never written).
#[derive(Debug, Clone)]
pub struct StoredSet {
    pub version: i64,
    pub variables: String,
}

pub fn find_set(conn: &Conn, owner: Owner) -> Result<StoredSet> {
    let found = conn.first(
        "SELECT version, variables FROM variable_sets WHERE owner_id = ?1",
        &[&owner.id()],
        |r| {
            Ok(StoredSet {
                version: r.col("version")?,
                variables: r.col("variables")?,
            })
        },
    )?;
    Ok(found.unwrap_or(StoredSet {
        version: 0,
        variables: "[]".into(),
    }))
}

/// Writes `owner`'s variables if its version is still `expected` (a conditional write:
/// of two changes racing from one version, one writes); false when it is not.
pub fn save_set(
    tx: &ChangeTx,
    owner: Owner,
    expected: i64,
    variables: &str,
    now: i64,
) -> Result<bool> {
    let (project, library) = match owner {
        Owner::Project(id) => (Some(id), None),
        Owner::Library(id) => (None, Some(id)),
    };
    let written = if expected == 0 {
        tx.execute(
            "INSERT INTO variable_sets
                 (owner_id, project_id, library_set_id, version, variables, modified_at)
             VALUES (?1, ?2, ?3, 1, ?4, ?5) ON CONFLICT DO NOTHING",
            &[&owner.id(), &project, &library, &variables, &now],
        )?
    } else {
        tx.execute(
            "UPDATE variable_sets SET version = version + 1, variables = ?3, modified_at = ?4
             WHERE owner_id = ?1 AND version = ?2",
            &[&owner.id(), &expected, &variables, &now],
        )?
    };
    Ok(written > 0)
}

#[derive(Debug, Clone)]
pub struct LibrarySet {
    pub id: i64,
    pub name: String,
    pub description: String,
}

fn library(r: &Row) -> Result<LibrarySet> {
    Ok(LibrarySet {
        id: r.col("id")?,
        name: r.col("name")?,
        description: r.col("description")?,
    })
}

pub fn library_sets(conn: &Conn) -> Result<Vec<LibrarySet>> {
    conn.all(
        "SELECT id, name, description FROM library_variable_sets ORDER BY name",
        &[],
        library,
    )
}

pub fn find_library_set(conn: &Conn, id: i64) -> Result<Option<LibrarySet>> {
    conn.first(
        "SELECT id, name, description FROM library_variable_sets WHERE id = ?1",
        &[&id],
        library,
    )
}

pub fn create_library_set(tx: &ChangeTx, name: &str, description: &str, now: i64) -> Result<i64> {
    tx.query_one_unique(
        "INSERT INTO library_variable_sets (name, description, created_at)
         VALUES (?1, ?2, ?3) RETURNING id",
        &[&name, &description, &now],
        || format!("A library variable set named '{name}' already exists."),
    )?
    .get(0)
}

pub fn update_library_set(tx: &ChangeTx, id: i64, name: &str, description: &str) -> Result<()> {
    tx.execute_unique(
        "UPDATE library_variable_sets SET name = ?2, description = ?3 WHERE id = ?1",
        &[&id, &name, &description],
        || format!("A library variable set named '{name}' already exists."),
    )?;
    Ok(())
}

pub fn delete_library_set(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM library_variable_sets WHERE id = ?1", &[&id])?;
    Ok(())
}

/// The projects that include library set `id`, by id.
pub fn projects_including(conn: &Conn, id: i64) -> Result<Vec<i64>> {
    conn.all(
        "SELECT project_id FROM project_library_sets WHERE library_set_id = ?1
         ORDER BY project_id",
        &[&id],
        |r| r.get(0),
    )
}

/// The library sets `project` includes, in its order.
pub fn included(conn: &Conn, project: i64) -> Result<Vec<i64>> {
    conn.all(
        "SELECT library_set_id FROM project_library_sets WHERE project_id = ?1
         ORDER BY position",
        &[&project],
        |r| r.get(0),
    )
}

pub fn set_included(tx: &ChangeTx, project: i64, sets: &[i64]) -> Result<()> {
    tx.execute(
        "DELETE FROM project_library_sets WHERE project_id = ?1",
        &[&project],
    )?;
    for (position, set) in sets.iter().enumerate() {
        let position = position as i64;
        tx.execute(
            "INSERT INTO project_library_sets (project_id, library_set_id, position)
             VALUES (?1, ?2, ?3)",
            &[&project, set, &position],
        )?;
    }
    Ok(())
}

/// A release's snapshot text, when it has one.
pub fn snapshot(conn: &Conn, release: i64) -> Result<Option<(i64, String)>> {
    conn.first(
        "SELECT taken_at, snapshot FROM release_variables WHERE release_id = ?1",
        &[&release],
        |r| Ok((r.col("taken_at")?, r.col("snapshot")?)),
    )
}

pub fn save_snapshot(tx: &ChangeTx, release: i64, snapshot: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO release_variables (release_id, taken_at, snapshot) VALUES (?1, ?2, ?3)
         ON CONFLICT (release_id) DO UPDATE SET taken_at = ?2, snapshot = ?3",
        &[&release, &now, &snapshot],
    )?;
    Ok(())
}

/// Records a deployment's prompted values (a JSON object of sealed values).
pub fn save_prompted(tx: &ChangeTx, task: i64, prompted: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO task_variables (task_id, prompted) VALUES (?1, ?2)",
        &[&task, &prompted],
    )?;
    Ok(())
}

/// A task's prompted values and what it used, when it has a row.
pub fn task_variables(conn: &Conn, task: i64) -> Result<Option<(String, Option<String>)>> {
    conn.first(
        "SELECT prompted, used FROM task_variables WHERE task_id = ?1",
        &[&task],
        |r| Ok((r.col("prompted")?, r.col("used")?)),
    )
}

/// Records what a task that started used (names and where from, never a value).
pub fn save_used(tx: &BookTx, task: i64, used: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO task_variables (task_id, prompted, used) VALUES (?1, '{}', ?2)
         ON CONFLICT (task_id) DO UPDATE SET used = ?2",
        &[&task, &used],
    )?;
    Ok(())
}

/// Every project's included library sets: (project, set), in each project's order.
pub fn included_all(conn: &Conn) -> Result<Vec<(i64, i64)>> {
    conn.all(
        "SELECT project_id, library_set_id FROM project_library_sets
         ORDER BY project_id, position",
        &[],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// What a deployment's start reads of the variables, in one round trip: its release's
/// snapshot, its prompted values and its deployment's id (each `None` when absent).
pub fn deployment_inputs(
    conn: &Conn,
    release: i64,
    task: i64,
) -> Result<(Option<String>, Option<String>, Option<i64>)> {
    let row = conn.query_one(
        "SELECT (SELECT snapshot FROM release_variables WHERE release_id = ?1) AS snapshot,
                (SELECT prompted FROM task_variables WHERE task_id = ?2) AS prompted,
                (SELECT id FROM deployments WHERE task_id = ?2) AS deployment",
        &[&release, &task],
    )?;
    Ok((
        row.col("snapshot")?,
        row.col("prompted")?,
        row.col("deployment")?,
    ))
}
