//! Idempotency keys: a request that creates deployments may carry an
//! `Idempotency-Key`; a retry with the same key from the same user (its first answer
//! lost to a broken connection, a 5xx after the commit) gets what the first request
//! queued instead of queuing it again. The key is taken inside the creating change's
//! transaction, so it commits with the deployments or not at all; two requests racing
//! with one key queue once (PostgreSQL's `ON CONFLICT` waits for the first to end).

use super::{BookTx, ChangeTx};
use crate::error::{Error, Result};

/// How long a key is remembered.
pub const KEEP_MS: i64 = 24 * 3600 * 1000;

/// What taking a key found.
#[derive(Debug, PartialEq)]
pub enum Taken {
    /// A new key (or one older than [`KEEP_MS`]): queue, then [`record`] the tasks.
    New,
    /// The same request came before with this key: the tasks it queued.
    Replay(Vec<i64>),
}

/// Takes `key` for `user`'s request described by `fingerprint`, inside the change
/// that will queue the deployments. The same key with another request is a 400 naming
/// the header.
pub fn take(tx: &ChangeTx, user: i64, key: &str, fingerprint: &str, now: i64) -> Result<Taken> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE user_id = ?1 AND idem_key = ?2 AND created_at < ?3",
        &[&user, &key, &(now - KEEP_MS)],
    )?;
    let inserted = tx.execute(
        "INSERT INTO idempotency_keys (user_id, idem_key, fingerprint, created_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
        &[&user, &key, &fingerprint, &now],
    )?;
    if inserted == 1 {
        return Ok(Taken::New);
    }
    let row = tx.query_one(
        "SELECT fingerprint, task_ids FROM idempotency_keys WHERE user_id = ?1 AND idem_key = ?2",
        &[&user, &key],
    )?;
    let (first, ids): (String, String) = (row.get(0)?, row.get(1)?);
    if first != fingerprint {
        return Err(Error::bad(
            "Idempotency-Key",
            "was already used for a different request; send a new key for a new request",
        ));
    }
    Ok(Taken::Replay(
        ids.split(',').filter_map(|id| id.parse().ok()).collect(),
    ))
}

/// Records the tasks the request that took `key` queued.
pub fn record(tx: &ChangeTx, user: i64, key: &str, task_ids: &[i64]) -> Result<()> {
    let ids: Vec<String> = task_ids.iter().map(i64::to_string).collect();
    tx.execute(
        "UPDATE idempotency_keys SET task_ids = ?3 WHERE user_id = ?1 AND idem_key = ?2",
        &[&user, &key, &ids.join(",")],
    )?;
    Ok(())
}

/// Forgets keys older than [`KEEP_MS`] (`SessionCleanup`). Returns how many went.
pub fn expire(tx: &BookTx, now: i64) -> Result<u64> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE created_at < ?1",
        &[&(now - KEEP_MS)],
    )
}
