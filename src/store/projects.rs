//! Projects, environments and releases.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{conflict_on_unique, ChangeTx};
use crate::clock;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub deployment_script: String,
    pub script_timeout_secs: i64,
    pub created_at: i64,
}

pub struct ProjectFields {
    pub name: String,
    pub description: String,
    /// `None` on update: keep the project's script.
    pub deployment_script: Option<String>,
    pub script_timeout_secs: i64,
}

fn project(row: &Row) -> rusqlite::Result<Project> {
    Ok(Project {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        deployment_script: row.get(3)?,
        script_timeout_secs: row.get(4)?,
        created_at: row.get(5)?,
    })
}

const PROJECT: &str =
    "SELECT id, name, description, deployment_script, script_timeout_secs, created_at FROM projects";

pub fn find(conn: &Connection, id: i64) -> Result<Option<Project>> {
    Ok(conn
        .prepare_cached(&format!("{PROJECT} WHERE id = ?1"))?
        .query_row([id], project)
        .optional()?)
}

/// The project with this name (names are unique, compared without case).
pub fn find_by_name(conn: &Connection, name: &str) -> Result<Option<Project>> {
    Ok(conn
        .prepare_cached(&format!("{PROJECT} WHERE name = ?1"))?
        .query_row([name], project)
        .optional()?)
}

pub fn list(conn: &Connection, skip: i64, take: i64) -> Result<(Vec<Project>, i64)> {
    let items = conn
        .prepare_cached(&format!("{PROJECT} ORDER BY name LIMIT ?1 OFFSET ?2"))?
        .query_map(params![take, skip], project)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = conn.query_row("SELECT COUNT(*) FROM projects", [], |r| r.get(0))?;
    Ok((items, total))
}

pub fn create(tx: &ChangeTx, f: &ProjectFields) -> Result<Project> {
    tx.execute(
        "INSERT INTO projects (name, description, deployment_script, script_timeout_secs, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            f.name,
            f.description,
            f.deployment_script.as_deref().unwrap_or_default(),
            f.script_timeout_secs,
            clock::now_ms()
        ],
    )
    .map_err(|e| conflict_on_unique(e, format!("A project named '{}' already exists.", f.name)))?;
    Ok(find(tx, tx.last_insert_rowid())?.ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?)
}

pub fn update(tx: &ChangeTx, id: i64, f: &ProjectFields) -> Result<()> {
    tx.execute(
        "UPDATE projects SET name = ?2, description = ?3,
                deployment_script = COALESCE(?4, deployment_script), script_timeout_secs = ?5
         WHERE id = ?1",
        params![
            id,
            f.name,
            f.description,
            f.deployment_script,
            f.script_timeout_secs
        ],
    )
    .map_err(|e| conflict_on_unique(e, format!("A project named '{}' already exists.", f.name)))?;
    Ok(())
}

pub fn delete(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM projects WHERE id = ?1", [id])?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub created_at: i64,
    /// Promotion order: lower first.
    pub sort_order: i64,
}

fn environment(row: &Row) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: row.get(0)?,
        name: row.get(1)?,
        description: row.get(2)?,
        created_at: row.get(3)?,
        sort_order: row.get(4)?,
    })
}

const ENVIRONMENT: &str = "SELECT id, name, description, created_at, sort_order FROM environments";

pub fn find_environment(conn: &Connection, id: i64) -> Result<Option<Environment>> {
    Ok(conn
        .prepare_cached(&format!("{ENVIRONMENT} WHERE id = ?1"))?
        .query_row([id], environment)
        .optional()?)
}

/// The environment with this name (compared without case).
pub fn find_environment_by_name(conn: &Connection, name: &str) -> Result<Option<Environment>> {
    Ok(conn
        .prepare_cached(&format!("{ENVIRONMENT} WHERE name = ?1"))?
        .query_row([name], environment)
        .optional()?)
}

pub fn list_environments(
    conn: &Connection,
    skip: i64,
    take: i64,
) -> Result<(Vec<Environment>, i64)> {
    let items = conn
        .prepare_cached(&format!(
            "{ENVIRONMENT} ORDER BY sort_order, name LIMIT ?1 OFFSET ?2"
        ))?
        .query_map(params![take, skip], environment)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = conn.query_row("SELECT COUNT(*) FROM environments", [], |r| r.get(0))?;
    Ok((items, total))
}

/// Creates an environment, last in promotion order unless `sort_order` says where.
pub fn create_environment(
    tx: &ChangeTx,
    name: &str,
    description: &str,
    sort_order: Option<i64>,
) -> Result<Environment> {
    tx.execute(
        "INSERT INTO environments (name, description, created_at, sort_order)
         VALUES (?1, ?2, ?3, COALESCE(?4, (SELECT COALESCE(MAX(sort_order), 0) + 1 FROM environments)))",
        params![name, description, clock::now_ms(), sort_order],
    )
    .map_err(|e| conflict_on_unique(e, format!("An environment named '{name}' already exists.")))?;
    Ok(find_environment(tx, tx.last_insert_rowid())?
        .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?)
}

/// Renames an environment; `sort_order` moves it if given.
pub fn update_environment(
    tx: &ChangeTx,
    id: i64,
    name: &str,
    description: &str,
    sort_order: Option<i64>,
) -> Result<()> {
    tx.execute(
        "UPDATE environments SET name = ?2, description = ?3, sort_order = COALESCE(?4, sort_order)
         WHERE id = ?1",
        params![id, name, description, sort_order],
    )
    .map_err(|e| conflict_on_unique(e, format!("An environment named '{name}' already exists.")))?;
    Ok(())
}

/// Puts environments in the given promotion order (1, 2, ...).
pub fn set_environment_order(tx: &ChangeTx, ids: &[i64]) -> Result<()> {
    let mut update = tx.prepare_cached("UPDATE environments SET sort_order = ?2 WHERE id = ?1")?;
    for (i, id) in ids.iter().enumerate() {
        update.execute(params![id, i as i64 + 1])?;
    }
    Ok(())
}

pub fn delete_environment(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM environments WHERE id = ?1", [id])?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Release {
    pub id: i64,
    pub project_id: i64,
    pub version: String,
    pub notes: String,
    pub created_at: i64,
    /// The username of who created it.
    pub created_by: String,
}

fn release(row: &Row) -> rusqlite::Result<Release> {
    Ok(Release {
        id: row.get(0)?,
        project_id: row.get(1)?,
        version: row.get(2)?,
        notes: row.get(3)?,
        created_at: row.get(4)?,
        created_by: row.get(5)?,
    })
}

const RELEASE: &str = "SELECT id, project_id, version, notes, created_at, created_by FROM releases";

pub fn find_release(conn: &Connection, id: i64) -> Result<Option<Release>> {
    Ok(conn
        .prepare_cached(&format!("{RELEASE} WHERE id = ?1"))?
        .query_row([id], release)
        .optional()?)
}

/// The project's release with this version.
pub fn find_release_by_version(
    conn: &Connection,
    project_id: i64,
    version: &str,
) -> Result<Option<Release>> {
    Ok(conn
        .prepare_cached(&format!("{RELEASE} WHERE project_id = ?1 AND version = ?2"))?
        .query_row(params![project_id, version], release)
        .optional()?)
}

/// The project's most recently created release.
pub fn latest_release(conn: &Connection, project_id: i64) -> Result<Option<Release>> {
    Ok(conn
        .prepare_cached(&format!(
            "{RELEASE} WHERE project_id = ?1 ORDER BY id DESC LIMIT 1"
        ))?
        .query_row([project_id], release)
        .optional()?)
}

/// Releases, newest first, of one project or of all.
pub fn list_releases(
    conn: &Connection,
    project_id: Option<i64>,
    skip: i64,
    take: i64,
) -> Result<(Vec<Release>, i64)> {
    search_releases(conn, project_id, None, skip, take)
}

/// Releases, newest first, of one project or of all, whose version contains `version`
/// (Octopus's `searchByVersion`) if given.
pub fn search_releases(
    conn: &Connection,
    project_id: Option<i64>,
    version: Option<&str>,
    skip: i64,
    take: i64,
) -> Result<(Vec<Release>, i64)> {
    const MATCHING: &str =
        "WHERE (?1 IS NULL OR project_id = ?1) AND (?2 IS NULL OR instr(version, ?2) > 0)";
    let items = conn
        .prepare_cached(&format!(
            "{RELEASE} {MATCHING} ORDER BY id DESC LIMIT ?3 OFFSET ?4"
        ))?
        .query_map(params![project_id, version, take, skip], release)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let total = conn
        .prepare_cached(&format!("SELECT COUNT(*) FROM releases {MATCHING}"))?
        .query_row(params![project_id, version], |r| r.get(0))?;
    Ok((items, total))
}

pub fn create_release(
    tx: &ChangeTx,
    project_id: i64,
    version: &str,
    notes: &str,
) -> Result<Release> {
    tx.execute(
        "INSERT INTO releases (project_id, version, notes, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            project_id,
            version,
            notes,
            clock::now_ms(),
            tx.identity().username
        ],
    )
    .map_err(|e| {
        conflict_on_unique(
            e,
            format!("Release '{version}' already exists for Projects-{project_id}."),
        )
    })?;
    Ok(find_release(tx, tx.last_insert_rowid())?
        .ok_or_else(|| rusqlite::Error::QueryReturnedNoRows)?)
}
