//! API keys. Only the SHA-256 of a key is stored.

use super::sql::{Conn, Row};
use super::ChangeTx;
use crate::error::Result;

pub struct ApiKey {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub created_at: i64,
}

const COLUMNS: &str = "id, user_id, purpose, created_at";

fn from_row(r: &Row) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.col("id")?,
        user_id: r.col("user_id")?,
        purpose: r.col("purpose")?,
        created_at: r.col("created_at")?,
    })
}

pub fn create(tx: &ChangeTx, user_id: i64, purpose: &str, key_hash: &str) -> Result<ApiKey> {
    let row = tx.query_one(
        &format!(
            "INSERT INTO api_keys (user_id, purpose, key_hash, created_at)
             VALUES (?1, ?2, ?3, ?4) RETURNING {COLUMNS}"
        ),
        &[&user_id, &purpose, &key_hash, &crate::clock::now_ms()],
    )?;
    from_row(&row)
}

/// The user a key belongs to.
pub fn user_for(conn: &Conn, key_hash: &str) -> Result<Option<i64>> {
    conn.query_opt(
        "SELECT user_id FROM api_keys WHERE key_hash = ?1",
        &[&key_hash],
    )?
    .map(|r| r.get(0))
    .transpose()
}

pub fn list_for_user(conn: &Conn, user_id: i64) -> Result<Vec<ApiKey>> {
    conn.query(
        &format!("SELECT {COLUMNS} FROM api_keys WHERE user_id = ?1 ORDER BY id"),
        &[&user_id],
    )?
    .iter()
    .map(from_row)
    .collect()
}

/// Deletes key `id` if it belongs to `user_id`; returns its purpose if it did.
pub fn delete(tx: &ChangeTx, user_id: i64, id: i64) -> Result<Option<String>> {
    tx.query_opt(
        "DELETE FROM api_keys WHERE id = ?1 AND user_id = ?2 RETURNING purpose",
        &[&id, &user_id],
    )?
    .map(|r| r.get(0))
    .transpose()
}
