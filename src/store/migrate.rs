//! Schema migrations: `migrations/NNNN_name.sql`, compiled into the binary, applied at
//! startup in one transaction and recorded in `schema_migrations`.

use rusqlite::{params, Connection, TransactionBehavior};

use crate::clock;
use crate::error::{Error, Result};

/// Every migration, in order. Append only: a shipped migration never changes.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "accounts",
        include_str!("../../migrations/0001_accounts.sql"),
    ),
    (
        2,
        "deployments",
        include_str!("../../migrations/0002_deployments.sql"),
    ),
    (
        3,
        "system_tasks",
        include_str!("../../migrations/0003_system_tasks.sql"),
    ),
    (
        4,
        "maintenance",
        include_str!("../../migrations/0004_maintenance.sql"),
    ),
    (
        5,
        "node_stop",
        include_str!("../../migrations/0005_node_stop.sql"),
    ),
    (
        6,
        "node_owner",
        include_str!("../../migrations/0006_node_owner.sql"),
    ),
    (
        7,
        "login_pending",
        include_str!("../../migrations/0007_login_pending.sql"),
    ),
    (
        8,
        "task_error_lines",
        include_str!("../../migrations/0008_task_error_lines.sql"),
    ),
    (
        9,
        "environment_order",
        include_str!("../../migrations/0009_environment_order.sql"),
    ),
    (
        10,
        "task_canceled_by",
        include_str!("../../migrations/0010_task_canceled_by.sql"),
    ),
    (
        11,
        "release_created_by",
        include_str!("../../migrations/0011_release_created_by.sql"),
    ),
];

/// Applies the migrations this database lacks. Returns how many were applied.
pub fn apply(conn: &mut Connection) -> Result<usize> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             name       TEXT    NOT NULL,
             applied_at INTEGER NOT NULL
         )",
    )?;
    let current: i64 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        [],
        |r| r.get(0),
    )?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(Error::Internal(format!(
            "the database is at schema version {current}, newer than this drydock knows ({newest}); \
             run a newer drydock or restore a backup"
        )));
    }
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.execute_batch(sql)
            .map_err(|e| Error::Internal(format!("migration {version:04}_{name}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![version, name, clock::now_ms()],
        )?;
        applied += 1;
    }
    tx.commit()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_once_and_records() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), MIGRATIONS.len());
        assert_eq!(apply(&mut conn).unwrap(), 0);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, MIGRATIONS.len());
    }
}
