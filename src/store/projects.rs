//! Projects, environments and releases.

use super::filter::{params, Clause, Named};
use super::slugs::{self, Kind};
use super::sql::{Conn, Row, Value};
use super::ChangeTx;
use crate::clock;
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct Project {
    pub id: i64,
    pub name: String,
    /// What people type for it (`GET /api/projects/{slug}`).
    pub slug: String,
    pub description: String,
    pub deployment_script: String,
    pub script_timeout_secs: i64,
    pub created_at: i64,
}

pub struct ProjectFields {
    pub name: String,
    /// `None`: from the name on create, kept on update.
    pub slug: Option<String>,
    pub description: String,
    /// `None` on update: keep the project's script.
    pub deployment_script: Option<String>,
    pub script_timeout_secs: i64,
}

fn project(row: &Row) -> Result<Project> {
    let name: String = row.col("name")?;
    Ok(Project {
        id: row.col("id")?,
        slug: slugs::effective(row.col("slug")?, &name),
        name,
        description: row.col("description")?,
        deployment_script: row.col("deployment_script")?,
        script_timeout_secs: row.col("script_timeout_secs")?,
        created_at: row.col("created_at")?,
    })
}

const COLUMNS: &str =
    "id, name, description, deployment_script, script_timeout_secs, created_at, slug";
const PROJECT: &str =
    "SELECT id, name, description, deployment_script, script_timeout_secs, created_at, slug FROM projects";

pub fn find(conn: &Conn, id: i64) -> Result<Option<Project>> {
    conn.first(&format!("{PROJECT} WHERE id = ?1"), &[&id], project)
}

/// The project with this name (names are unique, compared without case).
pub fn find_by_name(conn: &Conn, name: &str) -> Result<Option<Project>> {
    conn.first(&format!("{PROJECT} WHERE name = ?1"), &[&name], project)
}

/// The project a slug names.
pub fn find_by_slug(conn: &Conn, slug: &str) -> Result<Option<Project>> {
    match slugs::find(conn, Kind::Projects, slug)? {
        Some(id) => find(conn, id),
        None => Ok(None),
    }
}

/// One page of every project, by name, and how many there are.
pub fn list(conn: &Conn, skip: i64, take: i64) -> Result<(Vec<Project>, i64)> {
    list_named(conn, &Named::default(), skip, take)
}

/// One page of the projects `filter` names, by name, and how many it names.
pub fn list_named(
    conn: &Conn,
    filter: &Named,
    skip: i64,
    take: i64,
) -> Result<(Vec<Project>, i64)> {
    let clause = filter.clause();
    let items = conn.all(
        &format!("{PROJECT}{} ORDER BY name LIMIT ? OFFSET ?", clause.sql()),
        &params(&clause.paged(skip, take)),
        project,
    )?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) FROM projects{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((items, total))
}

pub fn create(tx: &ChangeTx, f: &ProjectFields) -> Result<Project> {
    let slug = match &f.slug {
        Some(slug) => {
            slugs::claim(tx, Kind::Projects, None, slug)?;
            slug.clone()
        }
        None => slugs::fresh(tx, Kind::Projects, &f.name)?,
    };
    let row = tx.query_one_unique(
        &format!(
            "INSERT INTO projects (name, description, deployment_script, script_timeout_secs, created_at, slug)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             RETURNING {COLUMNS}"
        ),
        &[
            &f.name,
            &f.description,
            &f.deployment_script.as_deref().unwrap_or_default(),
            &f.script_timeout_secs,
            &clock::now_ms(),
            &slug,
        ],
        || format!("A project named '{}' already exists.", f.name),
    )?;
    project(&row)
}

/// Saves `f` over project `id`; its slug stays unless `f` sets one (a project without
/// one stored keeps the one its old name gave it).
pub fn update(tx: &ChangeTx, id: i64, f: &ProjectFields) -> Result<()> {
    let slug = match &f.slug {
        Some(slug) => {
            slugs::claim(tx, Kind::Projects, Some(id), slug)?;
            Some(slug.clone())
        }
        None => find(tx, id)?.map(|p| p.slug),
    };
    tx.execute_unique(
        "UPDATE projects SET name = ?2, description = ?3,
                deployment_script = COALESCE(CAST(?4 AS TEXT), deployment_script),
                script_timeout_secs = ?5, slug = COALESCE(CAST(?6 AS TEXT), slug)
         WHERE id = ?1",
        &[
            &id,
            &f.name,
            &f.description,
            &f.deployment_script,
            &f.script_timeout_secs,
            &slug,
        ],
        || format!("A project named '{}' already exists.", f.name),
    )?;
    Ok(())
}

pub fn delete(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM projects WHERE id = ?1", &[&id])?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct Environment {
    pub id: i64,
    pub name: String,
    /// What people type for it (`GET /api/environments/{slug}`).
    pub slug: String,
    pub description: String,
    pub created_at: i64,
    /// Promotion order: lower first.
    pub sort_order: i64,
    /// Whether a deployment to it from a page asks for a confirmation first; `None`:
    /// the default, only the last in promotion order does.
    pub needs_confirmation: Option<bool>,
}

fn environment(row: &Row) -> Result<Environment> {
    let name: String = row.col("name")?;
    Ok(Environment {
        id: row.col("id")?,
        slug: slugs::effective(row.col("slug")?, &name),
        name,
        description: row.col("description")?,
        created_at: row.col("created_at")?,
        sort_order: row.col("sort_order")?,
        needs_confirmation: row.get::<Option<i64>>(6)?.map(|n| n != 0),
    })
}

const ENVIRONMENT: &str =
    "SELECT id, name, description, created_at, sort_order, slug, needs_confirmation FROM environments";

pub fn find_environment(conn: &Conn, id: i64) -> Result<Option<Environment>> {
    conn.first(&format!("{ENVIRONMENT} WHERE id = ?1"), &[&id], environment)
}

/// The environment with this name (compared without case).
pub fn find_environment_by_name(conn: &Conn, name: &str) -> Result<Option<Environment>> {
    conn.first(
        &format!("{ENVIRONMENT} WHERE name = ?1"),
        &[&name],
        environment,
    )
}

/// The environment a slug names.
pub fn find_environment_by_slug(conn: &Conn, slug: &str) -> Result<Option<Environment>> {
    match slugs::find(conn, Kind::Environments, slug)? {
        Some(id) => find_environment(conn, id),
        None => Ok(None),
    }
}

/// One page of every environment, in promotion order, and how many there are.
pub fn list_environments(conn: &Conn, skip: i64, take: i64) -> Result<(Vec<Environment>, i64)> {
    list_environments_named(conn, &Named::default(), skip, take)
}

/// One page of the environments `filter` names, in promotion order, and how many it
/// names.
pub fn list_environments_named(
    conn: &Conn,
    filter: &Named,
    skip: i64,
    take: i64,
) -> Result<(Vec<Environment>, i64)> {
    let clause = filter.clause();
    let items = conn.all(
        &format!(
            "{ENVIRONMENT}{} ORDER BY sort_order, name LIMIT ? OFFSET ?",
            clause.sql()
        ),
        &params(&clause.paged(skip, take)),
        environment,
    )?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) FROM environments{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((items, total))
}

/// Creates an environment, last in promotion order unless `sort_order` says where.
pub fn create_environment(
    tx: &ChangeTx,
    name: &str,
    slug: Option<&str>,
    description: &str,
    sort_order: Option<i64>,
) -> Result<Environment> {
    let slug = match slug {
        Some(slug) => {
            slugs::claim(tx, Kind::Environments, None, slug)?;
            slug.to_string()
        }
        None => slugs::fresh(tx, Kind::Environments, name)?,
    };
    let row = tx.query_one_unique(
        "INSERT INTO environments (name, description, created_at, sort_order, slug)
         VALUES (?1, ?2, ?3, COALESCE(CAST(?4 AS BIGINT),
                                      (SELECT COALESCE(MAX(sort_order), 0) + 1 FROM environments)),
                 ?5)
         RETURNING id, name, description, created_at, sort_order, slug, needs_confirmation",
        &[&name, &description, &clock::now_ms(), &sort_order, &slug],
        || format!("An environment named '{name}' already exists."),
    )?;
    environment(&row)
}

/// The last environment in promotion order, if there is one.
pub fn last_environment(conn: &Conn) -> Result<Option<i64>> {
    conn.first(
        "SELECT id FROM environments ORDER BY sort_order DESC, name DESC LIMIT 1",
        &[],
        |r| r.get(0),
    )
}

/// Sets whether deploying to environment `id` from a page asks for a confirmation
/// (`None`: the default, only the last in promotion order does).
pub fn set_needs_confirmation(tx: &ChangeTx, id: i64, needs: Option<bool>) -> Result<()> {
    let value: Option<i64> = needs.map(i64::from);
    tx.execute(
        "UPDATE environments SET needs_confirmation = ?2 WHERE id = ?1",
        &[&id, &value],
    )?;
    Ok(())
}

/// Renames an environment; `sort_order` moves it if given, `slug` sets its slug (else
/// it stays).
pub fn update_environment(
    tx: &ChangeTx,
    id: i64,
    name: &str,
    slug: Option<&str>,
    description: &str,
    sort_order: Option<i64>,
) -> Result<()> {
    let slug = match slug {
        Some(slug) => {
            slugs::claim(tx, Kind::Environments, Some(id), slug)?;
            Some(slug.to_string())
        }
        None => find_environment(tx, id)?.map(|e| e.slug),
    };
    tx.execute_unique(
        "UPDATE environments SET name = ?2, description = ?3,
                sort_order = COALESCE(CAST(?4 AS BIGINT), sort_order),
                slug = COALESCE(CAST(?5 AS TEXT), slug)
         WHERE id = ?1",
        &[&id, &name, &description, &sort_order, &slug],
        || format!("An environment named '{name}' already exists."),
    )?;
    Ok(())
}

/// Puts environments in the given promotion order (1, 2, ...).
pub fn set_environment_order(tx: &ChangeTx, ids: &[i64]) -> Result<()> {
    let db = tx;
    for (i, id) in ids.iter().enumerate() {
        db.execute(
            "UPDATE environments SET sort_order = ?2 WHERE id = ?1",
            &[id, &(i as i64 + 1)],
        )?;
    }
    Ok(())
}

pub fn delete_environment(tx: &ChangeTx, id: i64) -> Result<()> {
    tx.execute("DELETE FROM environments WHERE id = ?1", &[&id])?;
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
    /// The project's deployment script when the release was created: what deploying
    /// it runs. `None` for a release from before snapshots (it runs the project's).
    pub deployment_script: Option<String>,
}

fn release(row: &Row) -> Result<Release> {
    Ok(Release {
        id: row.col("id")?,
        project_id: row.col("project_id")?,
        version: row.col("version")?,
        notes: row.col("notes")?,
        created_at: row.col("created_at")?,
        created_by: row.col("created_by")?,
        deployment_script: row.col("deployment_script")?,
    })
}

const RELEASE: &str =
    "SELECT id, project_id, version, notes, created_at, created_by, deployment_script FROM releases";

pub fn find_release(conn: &Conn, id: i64) -> Result<Option<Release>> {
    conn.first(&format!("{RELEASE} WHERE id = ?1"), &[&id], release)
}

/// The project's release with this version.
pub fn find_release_by_version(
    conn: &Conn,
    project_id: i64,
    version: &str,
) -> Result<Option<Release>> {
    conn.first(
        &format!("{RELEASE} WHERE project_id = ?1 AND version = ?2"),
        &[&project_id, &version],
        release,
    )
}

/// The project's most recently created release.
pub fn latest_release(conn: &Conn, project_id: i64) -> Result<Option<Release>> {
    conn.first(
        &format!("{RELEASE} WHERE project_id = ?1 ORDER BY id DESC LIMIT 1"),
        &[&project_id],
        release,
    )
}

/// Releases, newest first, of one project or of all.
pub fn list_releases(
    conn: &Conn,
    project_id: Option<i64>,
    skip: i64,
    take: i64,
) -> Result<(Vec<Release>, i64)> {
    let filter = ReleaseFilter {
        project: project_id,
        ..ReleaseFilter::default()
    };
    search_releases(conn, &filter, skip, take)
}

/// What a list of releases is narrowed to (Octopus's `searchByVersion` and `ids`).
#[derive(Debug, Clone, Default)]
pub struct ReleaseFilter {
    pub project: Option<i64>,
    /// Part of the version, without case.
    pub version: Option<String>,
    pub ids: Option<Vec<i64>>,
}

/// One page of the releases `filter` names, newest first, and how many it names.
pub fn search_releases(
    conn: &Conn,
    filter: &ReleaseFilter,
    skip: i64,
    take: i64,
) -> Result<(Vec<Release>, i64)> {
    let mut clause = Clause::default();
    if let Some(project) = filter.project {
        clause.equals("project_id", Value::Int(project));
    }
    if let Some(version) = &filter.version {
        clause.contains("version", version);
    }
    if let Some(ids) = &filter.ids {
        clause.ids("id", ids);
    }
    let items = conn.all(
        &format!(
            "{RELEASE}{} ORDER BY id DESC LIMIT ? OFFSET ?",
            clause.sql()
        ),
        &params(&clause.paged(skip, take)),
        release,
    )?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) FROM releases{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((items, total))
}

pub fn create_release(
    tx: &ChangeTx,
    project_id: i64,
    version: &str,
    notes: &str,
) -> Result<Release> {
    let project =
        find(tx, project_id)?.map_or_else(|| format!("Projects-{project_id}"), |p| p.name);
    let row = tx.query_one_unique(
        "INSERT INTO releases
             (project_id, version, notes, created_at, created_by, deployment_script)
         VALUES (?1, ?2, ?3, ?4, ?5,
             (SELECT deployment_script FROM projects WHERE id = ?1))
         RETURNING id, project_id, version, notes, created_at, created_by, deployment_script",
        &[
            &project_id,
            &version,
            &notes,
            &clock::now_ms(),
            &tx.identity().username,
        ],
        || format!("Project {project} already has a release '{version}'."),
    )?;
    release(&row)
}
