//! Sessions and sign-in throttling: bookkeeping, written outside the change guard so
//! that signing in and out keep working in maintenance mode.

use super::sql::Conn;
use super::BookTx;
use crate::error::Result;

pub struct Session {
    pub user_id: i64,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub fn create(
    tx: &BookTx,
    token_hash: &str,
    user_id: i64,
    csrf_token: &str,
    now: i64,
) -> Result<()> {
    tx.execute(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at)
         VALUES (?1, ?2, ?3, ?4, ?4)",
        &[&token_hash, &user_id, &csrf_token, &now],
    )?;
    Ok(())
}

pub fn find(conn: &Conn, token_hash: &str) -> Result<Option<Session>> {
    conn.query_opt(
        "SELECT user_id, csrf_token, created_at, last_seen_at FROM sessions WHERE token_hash = ?1",
        &[&token_hash],
    )?
    .map(|r| {
        Ok(Session {
            user_id: r.col("user_id")?,
            csrf_token: r.col("csrf_token")?,
            created_at: r.col("created_at")?,
            last_seen_at: r.col("last_seen_at")?,
        })
    })
    .transpose()
}

pub fn touch(tx: &BookTx, token_hash: &str, now: i64) -> Result<()> {
    tx.execute(
        "UPDATE sessions SET last_seen_at = ?2 WHERE token_hash = ?1",
        &[&token_hash, &now],
    )?;
    Ok(())
}

pub fn delete(tx: &BookTx, token_hash: &str) -> Result<()> {
    tx.execute("DELETE FROM sessions WHERE token_hash = ?1", &[&token_hash])?;
    Ok(())
}

/// Removes sessions idle since `idle_before` or created before `created_before`.
pub fn delete_expired(tx: &BookTx, idle_before: i64, created_before: i64) -> Result<usize> {
    Ok(tx.execute(
        "DELETE FROM sessions WHERE last_seen_at < ?1 OR created_at < ?2",
        &[&idle_before, &created_before],
    )? as usize)
}

/// A pending reservation older than this counts as a failure: its check died with its
/// process.
const PENDING_MS: i64 = 60_000;

/// Why a password check may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Throttled {
    /// `max` failures since the window began; the oldest of them at this time.
    Failures { oldest: i64 },
    /// `max` checks are running right now: try again in a moment.
    Busy,
}

/// Reserves one password check under every key in one write transaction: unless a
/// key already has `max` attempts (failures, or checks still running) since `since`,
/// records one pending attempt under each key and returns their row ids. It counts as
/// an attempt until [`settle`] makes it a failure or [`release`] takes it back, so
/// attempts that arrive together cannot all pass a count read before any was written.
pub fn reserve_attempt(
    tx: &BookTx,
    keys: &[String],
    now: i64,
    since: i64,
    max: i64,
) -> Result<std::result::Result<Vec<i64>, Throttled>> {
    let db = tx;
    // On PostgreSQL, attempts on the same keys (from any node) count and reserve one at
    // a time, in one order so that two attempts never wait for each other.
    let mut locks: Vec<&String> = keys.iter().collect();
    locks.sort();
    locks.dedup();
    for key in locks {
        db.exclusive_named(&format!("sign-in {key}"))?;
    }
    let mut throttled = None;
    for key in keys {
        let row = db.query_one(
            "SELECT COUNT(*) FILTER (WHERE pending = 0 OR at < ?3),
                    MIN(at) FILTER (WHERE pending = 0 OR at < ?3),
                    COUNT(*) FILTER (WHERE pending = 1 AND at >= ?3)
             FROM login_failures WHERE key = ?1 AND at >= ?2",
            &[key, &since, &(now - PENDING_MS)],
        )?;
        let (failures, oldest, running): (i64, Option<i64>, i64) =
            (row.get(0)?, row.get(1)?, row.get(2)?);
        if failures >= max {
            let oldest = oldest.unwrap_or(now);
            throttled = Some(match throttled {
                Some(Throttled::Failures { oldest: other }) => Throttled::Failures {
                    oldest: oldest.max(other),
                },
                _ => Throttled::Failures { oldest },
            });
        } else if failures + running >= max && throttled.is_none() {
            throttled = Some(Throttled::Busy);
        }
    }
    if let Some(throttled) = throttled {
        return Ok(Err(throttled));
    }
    let mut ids = Vec::with_capacity(keys.len());
    for key in keys {
        let row = db.query_one(
            "INSERT INTO login_failures (key, at, pending) VALUES (?1, ?2, 1) RETURNING id",
            &[key, &now],
        )?;
        ids.push(row.get(0)?);
    }
    Ok(Ok(ids))
}

/// The password was wrong: reserved attempts become failures.
pub fn settle(tx: &BookTx, ids: &[i64]) -> Result<()> {
    let db = tx;
    for id in ids {
        db.execute("UPDATE login_failures SET pending = 0 WHERE id = ?1", &[id])?;
    }
    Ok(())
}

/// Takes back reserved attempts (the password was right), and under `clear_key` the
/// failures recorded before them; attempts reserved later stay counted.
pub fn release(tx: &BookTx, ids: &[i64], clear_key: &str) -> Result<()> {
    let db = tx;
    for id in ids {
        db.execute("DELETE FROM login_failures WHERE id = ?1", &[id])?;
    }
    if let Some(first) = ids.iter().min() {
        db.execute(
            "DELETE FROM login_failures WHERE key = ?1 AND id < ?2",
            &[&clear_key, first],
        )?;
    }
    Ok(())
}

pub fn delete_old_failures(tx: &BookTx, before: i64) -> Result<usize> {
    Ok(tx.execute("DELETE FROM login_failures WHERE at < ?1", &[&before])? as usize)
}
