//! Settings the nodes of a cluster share (`cluster_settings` table): the first node's
//! value wins.

use super::sql::Conn;
use super::BookTx;
use crate::error::Result;

/// The cluster's value of `name`: the one stored, or `fresh` stored now by the first
/// node that asks (nodes starting together agree on one).
pub fn shared_setting(tx: &BookTx, name: &str, fresh: &str) -> Result<String> {
    tx.execute(
        "INSERT INTO cluster_settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        &[&name, &fresh],
    )?;
    setting(tx, name)?
        .ok_or_else(|| crate::error::Error::internal(format!("the setting {name} is gone")))
}

/// The cluster's value of `name`, if one was stored.
pub fn setting(conn: &Conn, name: &str) -> Result<Option<String>> {
    conn.first(
        "SELECT value FROM cluster_settings WHERE name = ?1",
        &[&name],
        |r| r.get(0),
    )
}
