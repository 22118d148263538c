//! Users and their roles.

use super::sql::{Conn, Row};
use super::ChangeTx;
use crate::error::Result;
use crate::model::Role;
use const_format::concatcp;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_active: bool,
    pub roles: Vec<Role>,
    pub created_at: i64,
}

/// What sign-in needs to know about a username.
pub struct Credentials {
    pub user_id: i64,
    pub password_hash: String,
    pub is_active: bool,
}

pub struct NewUser {
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub is_active: bool,
    pub roles: Vec<Role>,
}

const COLUMNS: &str = "id, username, display_name, is_active, created_at";

fn from_row(row: &Row) -> Result<User> {
    Ok(User {
        id: row.col("id")?,
        username: row.col("username")?,
        display_name: row.col("display_name")?,
        is_active: row.col("is_active")?,
        roles: Vec::new(),
        created_at: row.col("created_at")?,
    })
}

fn with_roles(db: &Conn, mut user: User) -> Result<User> {
    user.roles = roles(db, user.id)?;
    Ok(user)
}

pub fn roles_of(conn: &Conn, user_id: i64) -> Result<Vec<Role>> {
    roles(conn, user_id)
}

fn roles(db: &Conn, user_id: i64) -> Result<Vec<Role>> {
    let rows = db.query(
        "SELECT role FROM user_roles WHERE user_id = ?1",
        &[&user_id],
    )?;
    let mut roles = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(role) = Role::by_name(&row.get::<String>(0)?) {
            roles.push(role);
        }
    }
    roles.sort();
    Ok(roles)
}

pub fn count(conn: &Conn) -> Result<i64> {
    conn.query_one("SELECT COUNT(*) FROM users", &[])?.get(0)
}

/// [`find`], inside a change that decides by the user (its admission): on PostgreSQL
/// the row is share-locked for the rest of the change, so a change of their roles or
/// of whether they are active ([`set_roles`], [`set_active`], which lock it to change
/// it) commits either before this change reads them or after it commits. SQLite's
/// write transaction already excludes every other one.
pub fn find_for_change(conn: &Conn, id: i64) -> Result<Option<User>> {
    let row = conn.query_opt(
        conn.dialect(
            concatcp!("SELECT ", COLUMNS, " FROM users WHERE id = ?1"),
            concatcp!("SELECT ", COLUMNS, " FROM users WHERE id = ?1 FOR SHARE"),
        ),
        &[&id],
    )?;
    row.map(|r| with_roles(conn, from_row(&r)?)).transpose()
}

/// Locks the user's row to change who they are (PostgreSQL; see [`find_for_change`]).
fn lock_to_change(tx: &ChangeTx, user_id: i64) -> Result<()> {
    if tx.is_postgres() {
        tx.query("SELECT id FROM users WHERE id = ?1 FOR UPDATE", &[&user_id])?;
    }
    Ok(())
}

pub fn find(conn: &Conn, id: i64) -> Result<Option<User>> {
    let db = conn;
    let row = db.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE id = ?1"),
        &[&id],
    )?;
    row.map(|r| with_roles(db, from_row(&r)?)).transpose()
}

pub fn find_by_username(conn: &Conn, username: &str) -> Result<Option<User>> {
    let db = conn;
    let row = db.query_opt(
        &format!("SELECT {COLUMNS} FROM users WHERE username = ?1"),
        &[&username],
    )?;
    row.map(|r| with_roles(db, from_row(&r)?)).transpose()
}

/// The id of the account `username` names, as the column's collation matches names.
pub fn id_by_username(conn: &Conn, username: &str) -> Result<Option<i64>> {
    conn.query_opt("SELECT id FROM users WHERE username = ?1", &[&username])?
        .map(|r| r.get(0))
        .transpose()
}

pub fn credentials(conn: &Conn, username: &str) -> Result<Option<Credentials>> {
    let row = conn.query_opt(
        "SELECT id, password_hash, is_active FROM users WHERE username = ?1",
        &[&username],
    )?;
    row.map(|r| {
        Ok(Credentials {
            user_id: r.get(0)?,
            password_hash: r.get(1)?,
            is_active: r.get(2)?,
        })
    })
    .transpose()
}

pub fn password_hash(conn: &Conn, id: i64) -> Result<Option<String>> {
    conn.query_opt("SELECT password_hash FROM users WHERE id = ?1", &[&id])?
        .map(|r| r.get(0))
        .transpose()
}

/// One page of users ordered by id, and the total count.
pub fn list(conn: &Conn, skip: i64, take: i64) -> Result<(Vec<User>, i64)> {
    list_named(conn, &super::filter::Named::default(), skip, take)
}

/// One page of the users `filter` names (`partial_name` in the username, without
/// case), by id, and how many it names.
pub fn list_named(
    conn: &Conn,
    filter: &super::filter::Named,
    skip: i64,
    take: i64,
) -> Result<(Vec<User>, i64)> {
    let clause = filter.clause_on("username");
    let rows = conn.query(
        &format!(
            "SELECT {COLUMNS} FROM users{} ORDER BY id LIMIT ? OFFSET ?",
            clause.sql()
        ),
        &super::filter::params(&clause.paged(skip, take)),
    )?;
    let users = rows
        .iter()
        .map(|r| with_roles(conn, from_row(r)?))
        .collect::<Result<Vec<_>>>()?;
    let total = conn
        .query_one(
            &format!("SELECT COUNT(*) FROM users{}", clause.sql()),
            &clause.params(),
        )?
        .get(0)?;
    Ok((users, total))
}

pub fn create(tx: &ChangeTx, new: &NewUser) -> Result<User> {
    let db = tx;
    let row = db.query_one_unique(
        &format!(
            "INSERT INTO users (username, display_name, password_hash, is_active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) RETURNING {COLUMNS}"
        ),
        &[
            &new.username,
            &new.display_name,
            &new.password_hash,
            &new.is_active,
            &crate::clock::now_ms(),
        ],
        || format!("A user named '{}' already exists.", new.username),
    )?;
    let user = from_row(&row)?;
    set_roles(tx, user.id, &new.roles)?;
    with_roles(db, user)
}

pub fn set_roles(tx: &ChangeTx, user_id: i64, roles: &[Role]) -> Result<()> {
    lock_to_change(tx, user_id)?;
    let db = tx;
    db.execute("DELETE FROM user_roles WHERE user_id = ?1", &[&user_id])?;
    for role in roles {
        db.execute(
            "INSERT INTO user_roles (user_id, role) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
            &[&user_id, &role.name()],
        )?;
    }
    Ok(())
}

pub fn set_display_name(tx: &ChangeTx, user_id: i64, display_name: &str) -> Result<()> {
    tx.execute(
        "UPDATE users SET display_name = ?2 WHERE id = ?1",
        &[&user_id, &display_name],
    )?;
    Ok(())
}

/// Deactivating also ends the user's sessions and revokes nothing else: API keys stop
/// working because authentication checks `is_active`.
pub fn set_active(tx: &ChangeTx, user_id: i64, active: bool) -> Result<()> {
    lock_to_change(tx, user_id)?;
    let db = tx;
    db.execute(
        "UPDATE users SET is_active = ?2 WHERE id = ?1",
        &[&user_id, &active],
    )?;
    if !active {
        db.execute("DELETE FROM sessions WHERE user_id = ?1", &[&user_id])?;
    }
    Ok(())
}

/// Sets the password hash and ends the user's other sessions (`keep_session` is the
/// SHA-256 of the session that made the change, if any).
pub fn set_password(
    tx: &ChangeTx,
    user_id: i64,
    password_hash: &str,
    keep_session: Option<&str>,
) -> Result<()> {
    let db = tx;
    db.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        &[&user_id, &password_hash],
    )?;
    db.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS DISTINCT FROM ?2",
        &[&user_id, &keep_session],
    )?;
    Ok(())
}

/// How many active users hold `role`.
pub fn count_active_with_role(conn: &Conn, role: Role) -> Result<i64> {
    conn.query_one(
        "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id
             WHERE r.role = ?1 AND u.is_active = 1",
        &[&role.name()],
    )?
    .get(0)
}
