//! Users and their roles.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{conflict_on_unique, ChangeTx};
use crate::error::Result;
use crate::model::Role;

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

fn from_row(row: &Row) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
        is_active: row.get(3)?,
        roles: Vec::new(),
        created_at: row.get(4)?,
    })
}

fn with_roles(conn: &Connection, mut user: User) -> Result<User> {
    user.roles = roles_of(conn, user.id)?;
    Ok(user)
}

pub fn roles_of(conn: &Connection, user_id: i64) -> Result<Vec<Role>> {
    let mut stmt = conn.prepare_cached("SELECT role FROM user_roles WHERE user_id = ?1")?;
    let names = stmt
        .query_map([user_id], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::by_name(n)).collect();
    roles.sort();
    Ok(roles)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get(0))?)
}

pub fn find(conn: &Connection, id: i64) -> Result<Option<User>> {
    let user = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?;
    user.map(|u| with_roles(conn, u)).transpose()
}

pub fn find_by_username(conn: &Connection, username: &str) -> Result<Option<User>> {
    let user = conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE username = ?1"))?
        .query_row([username], from_row)
        .optional()?;
    user.map(|u| with_roles(conn, u)).transpose()
}

pub fn credentials(conn: &Connection, username: &str) -> Result<Option<Credentials>> {
    Ok(conn
        .prepare_cached("SELECT id, password_hash, is_active FROM users WHERE username = ?1")?
        .query_row([username], |r| {
            Ok(Credentials {
                user_id: r.get(0)?,
                password_hash: r.get(1)?,
                is_active: r.get(2)?,
            })
        })
        .optional()?)
}

pub fn password_hash(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT password_hash FROM users WHERE id = ?1")?
        .query_row([id], |r| r.get(0))
        .optional()?)
}

/// One page of users ordered by id, and the total count.
pub fn list(conn: &Connection, skip: i64, take: i64) -> Result<(Vec<User>, i64)> {
    let users = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM users ORDER BY id LIMIT ?1 OFFSET ?2"
        ))?
        .query_map(params![take, skip], from_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let users = users
        .into_iter()
        .map(|u| with_roles(conn, u))
        .collect::<Result<Vec<_>>>()?;
    Ok((users, count(conn)?))
}

pub fn create(tx: &ChangeTx, new: &NewUser) -> Result<User> {
    tx.execute(
        "INSERT INTO users (username, display_name, password_hash, is_active, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            new.username,
            new.display_name,
            new.password_hash,
            new.is_active,
            crate::clock::now_ms()
        ],
    )
    .map_err(|e| {
        conflict_on_unique(
            e,
            format!("A user named '{}' already exists.", new.username),
        )
    })?;
    let id = tx.last_insert_rowid();
    set_roles(tx, id, &new.roles)?;
    with_roles(tx, find_row(tx, id)?)
}

fn find_row(conn: &Connection, id: i64) -> Result<User> {
    Ok(conn
        .prepare_cached(&format!("SELECT {COLUMNS} FROM users WHERE id = ?1"))?
        .query_row([id], from_row)?)
}

pub fn set_roles(tx: &ChangeTx, user_id: i64, roles: &[Role]) -> Result<()> {
    tx.execute("DELETE FROM user_roles WHERE user_id = ?1", [user_id])?;
    let mut insert =
        tx.prepare_cached("INSERT OR IGNORE INTO user_roles (user_id, role) VALUES (?1, ?2)")?;
    for role in roles {
        insert.execute(params![user_id, role.name()])?;
    }
    Ok(())
}

pub fn set_display_name(tx: &ChangeTx, user_id: i64, display_name: &str) -> Result<()> {
    tx.execute(
        "UPDATE users SET display_name = ?2 WHERE id = ?1",
        params![user_id, display_name],
    )?;
    Ok(())
}

/// Deactivating also ends the user's sessions and revokes nothing else: API keys stop
/// working because authentication checks `is_active`.
pub fn set_active(tx: &ChangeTx, user_id: i64, active: bool) -> Result<()> {
    tx.execute(
        "UPDATE users SET is_active = ?2 WHERE id = ?1",
        params![user_id, active],
    )?;
    if !active {
        tx.execute("DELETE FROM sessions WHERE user_id = ?1", [user_id])?;
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
    tx.execute(
        "UPDATE users SET password_hash = ?2 WHERE id = ?1",
        params![user_id, password_hash],
    )?;
    tx.execute(
        "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2",
        params![user_id, keep_session],
    )?;
    Ok(())
}

/// How many active users hold `role`.
pub fn count_active_with_role(conn: &Connection, role: Role) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id
         WHERE r.role = ?1 AND u.is_active = 1",
        [role.name()],
        |r| r.get(0),
    )?)
}
