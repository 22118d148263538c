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
    (
        12,
        "cluster_settings",
        include_str!("../../migrations/0012_cluster_settings.sql"),
    ),
    (
        13,
        "deployment_freezes",
        include_str!("../../migrations/0013_deployment_freezes.sql"),
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

/// PostgreSQL's migrations: its baseline is the whole schema at [`POSTGRES_BASELINE`]
/// (a PostgreSQL database is always new), later migrations follow as `(version, name,
/// sql)` beside their SQLite files. Append only.
const POSTGRES_BASELINE: (i64, &str) = (
    11,
    include_str!("../../migrations/postgres/0011_schema.sql"),
);
const POSTGRES_MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        12,
        "cluster_settings",
        include_str!("../../migrations/postgres/0012_cluster_settings.sql"),
    ),
    (
        13,
        "deployment_freezes",
        include_str!("../../migrations/postgres/0013_deployment_freezes.sql"),
    ),
];

/// The key of the advisory lock nodes take to migrate a PostgreSQL database, so that
/// nodes starting together migrate once ("drydock" in ASCII).
const MIGRATION_LOCK: i64 = 0x0064_7279_646f_636b;

fn postgres_error(e: postgres::Error) -> Error {
    Error::Internal(format!("database: {e}"))
}

/// Applies the migrations a PostgreSQL database lacks, in one transaction, under a
/// transaction-scoped advisory lock (a node that starts while another migrates waits,
/// then finds nothing left to do). A database newer than this binary is refused, and
/// left as it was. Returns how many migrations were applied (the baseline counts as
/// the versions it stands for).
pub fn apply_postgres(client: &mut postgres::Client) -> Result<usize> {
    let mut tx = client.transaction().map_err(postgres_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(postgres_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             name       TEXT   NOT NULL,
             applied_at BIGINT NOT NULL
         )",
    )
    .map_err(postgres_error)?;
    let current: i64 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .map_err(postgres_error)?
        .get(0);
    let newest = POSTGRES_MIGRATIONS
        .last()
        .map_or(POSTGRES_BASELINE.0, |m| m.0);
    if current > newest {
        return Err(Error::Internal(format!(
            "the database is at schema version {current}, newer than this drydock knows ({newest}); \
             run a newer drydock or restore a backup"
        )));
    }
    if current != 0 && current < POSTGRES_BASELINE.0 {
        return Err(Error::Internal(format!(
            "the database is at schema version {current}, older than any PostgreSQL schema \
             drydock makes ({}): it was not made by drydock",
            POSTGRES_BASELINE.0
        )));
    }
    let record = |tx: &mut postgres::Transaction<'_>, version: i64, name: &str| {
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &name, &clock::now_ms()],
        )
        .map_err(postgres_error)
    };
    let mut applied = 0;
    if current == 0 {
        let (baseline, sql) = POSTGRES_BASELINE;
        tx.batch_execute(sql)
            .map_err(|e| Error::Internal(format!("the PostgreSQL schema: {e}")))?;
        // The baseline stands for every migration up to its version.
        for (version, name, _) in MIGRATIONS.iter().filter(|m| m.0 <= baseline) {
            record(&mut tx, *version, name)?;
            applied += 1;
        }
    }
    let after = current.max(POSTGRES_BASELINE.0);
    for (version, name, sql) in POSTGRES_MIGRATIONS.iter().filter(|m| m.0 > after) {
        tx.batch_execute(sql)
            .map_err(|e| Error::Internal(format!("migration {version:04}_{name}: {e}")))?;
        record(&mut tx, *version, name)?;
        applied += 1;
    }
    tx.commit().map_err(postgres_error)?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_migrations_keep_step_with_sqlite_ones() {
        // The baseline stands for SQLite migrations that exist, and each later
        // PostgreSQL migration is the same version and name as its SQLite one.
        assert!(MIGRATIONS.iter().any(|m| m.0 == POSTGRES_BASELINE.0));
        for (version, name, _) in POSTGRES_MIGRATIONS {
            assert!(
                MIGRATIONS.iter().any(|m| m.0 == *version && m.1 == *name),
                "PostgreSQL migration {version:04}_{name} has no SQLite twin"
            );
        }
        // A SQLite migration past the baseline needs its PostgreSQL twin.
        let newest_postgres = POSTGRES_MIGRATIONS
            .last()
            .map_or(POSTGRES_BASELINE.0, |m| m.0);
        assert_eq!(newest_postgres, MIGRATIONS.last().unwrap().0);
    }

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
