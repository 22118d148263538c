//! Sessions and sign-in throttling: bookkeeping, written outside the change guard so
//! that signing in and out keep working in maintenance mode.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::error::Result;

pub struct Session {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub fn create(
    tx: &Transaction,
    token_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        params![token_hash, user_id, csrf_token, now],
    )?;
    Ok(())
}

pub fn find(conn: &Connection, token_hash: &str) -> Result<Option<Session>> {
    Ok(conn
        .prepare_cached(
            "SELECT user_id, csrf_token, created_at, last_seen_at FROM sessions WHERE token_hash = ?1",
        )?
        .query_row([token_hash], |r| {
            Ok(Session {
                user_id: r.get(0)?,
                csrf_token: r.get(1)?,
                created_at: r.get(2)?,
                last_seen_at: r.get(3)?,
            })
        })
        .optional()?)
}

pub fn touch(tx: &Transaction, token_hash: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
        params![token_hash, now],
    )?;
    Ok(())
}

pub fn delete(tx: &Transaction, token_hash: &str) -> Result<()> {
    tx.execute("DELETE FROM sessions WHERE token_hash = ?1", [token_hash])?;
    Ok(())
}

/// Removes sessions idle since `idle_before` or created before `created_before`.
pub fn delete_expired(tx: &Transaction, idle_before: i64, created_before: i64) -> Result<usize> {
    Ok(tx.execute(
        "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
        params![idle_before, created_before],
    )?)
}

/// Failed sign-ins recorded under `key` since `since`.
pub fn failures_since(conn: &Connection, key: &str, since: i64) -> Result<(i64, Option<i64>)> {
    Ok(conn
        .prepare_cached("SELECT COUNT(*), MIN(at) FROM login_failures WHERE key = ?1 AND at >= ?2")?
        .query_row(params![key, since], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

pub fn record_failure(tx: &Transaction, key: &str, now: i64) -> Result<()> {
    tx.execute(
        "INSERT INTO login_failures (key, at) VALUES (?1, ?2)",
        params![key, now],
    )?;
    Ok(())
}

pub fn clear_failures(tx: &Transaction, key: &str) -> Result<()> {
    tx.execute("DELETE FROM login_failures WHERE key = ?1", [key])?;
    Ok(())
}

pub fn delete_old_failures(tx: &Transaction, before: i64) -> Result<usize> {
    Ok(tx.execute("DELETE FROM login_failures WHERE at < ?1", [before])?)
}
