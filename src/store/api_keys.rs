//! API keys. Only the SHA-256 of a key is stored.

use rusqlite::{params, Connection, OptionalExtension};

use super::ChangeTx;
use crate::error::Result;

pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub created_at: i64,
}

pub fn create(tx: &ChangeTx, user_id: i64, purpose: &str, key_hash: &str) -> Result<ApiKey> {
    let now = crate::clock::now_ms();
    tx.execute(
        "INSERT INTO api_keys (user_id, purpose, key_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![user_id, purpose, key_hash, now],
    )?;
    Ok(ApiKey {
        id: tx.last_insert_rowid(),
        user_id,
        purpose: purpose.to_string(),
        created_at: now,
    })
}

/// The user a key belongs to.
pub fn user_for(conn: &Connection, key_hash: &str) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT user_id FROM api_keys WHERE key_hash = ?1")?
        .query_row([key_hash], |r| r.get(0))
        .optional()?)
}

pub fn list_for_user(conn: &Connection, user_id: i64) -> Result<Vec<ApiKey>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, purpose, created_at FROM api_keys WHERE user_id = ?1 ORDER BY id",
    )?;
    let keys = stmt
        .query_map([user_id], |r| {
            Ok(ApiKey {
                id: r.get(0)?,
                user_id: r.get(1)?,
                purpose: r.get(2)?,
                created_at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(keys)
}

/// Deletes key `id` if it belongs to `user_id`; returns its purpose if it did.
pub fn delete(tx: &ChangeTx, user_id: i64, id: i64) -> Result<Option<String>> {
    let purpose: Option<String> = tx
        .query_row(
            "SELECT purpose FROM api_keys WHERE id = ?1 AND user_id = ?2",
            params![id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    if purpose.is_some() {
        tx.execute("DELETE FROM api_keys WHERE id = ?1", [id])?;
    }
    Ok(purpose)
}
