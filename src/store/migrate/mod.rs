//! Schema migrations: `migrations/NNNN_name.sql`, compiled into the binary, applied at
//! startup in one transaction and recorded in `schema_migrations`.

use std::borrow::Cow;

use rusqlite::{params, Connection, TransactionBehavior};

mod levels;

pub use levels::{pending, schema_ahead, Running, Starting};
use levels::{refusal, running_postgres, running_sqlite};

use crate::clock;
use crate::error::{Error, Result};

/// A migration as shipped: its SQLite SQL, PostgreSQL's (`None`: the PostgreSQL
/// baseline covers it), and whether nodes of the schema before it may keep running
/// beside it. Most may not: only a migration that adds what older nodes never read (a
/// table, a nullable column) without changing what their writes mean is compatible.
struct Shipped {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: Option<&'static str>,
    compatible: bool,
}

/// Every migration, in order. Append only: a shipped migration never changes.
const SHIPPED: &[Shipped] = &[
    Shipped {
        version: 1,
        name: "accounts",
        sqlite: include_str!("../../../migrations/0001_accounts.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 2,
        name: "deployments",
        sqlite: include_str!("../../../migrations/0002_deployments.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 3,
        name: "system_tasks",
        sqlite: include_str!("../../../migrations/0003_system_tasks.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 4,
        name: "maintenance",
        sqlite: include_str!("../../../migrations/0004_maintenance.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 5,
        name: "node_stop",
        sqlite: include_str!("../../../migrations/0005_node_stop.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 6,
        name: "node_owner",
        sqlite: include_str!("../../../migrations/0006_node_owner.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 7,
        name: "login_pending",
        sqlite: include_str!("../../../migrations/0007_login_pending.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 8,
        name: "task_error_lines",
        sqlite: include_str!("../../../migrations/0008_task_error_lines.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 9,
        name: "environment_order",
        sqlite: include_str!("../../../migrations/0009_environment_order.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 10,
        name: "task_canceled_by",
        sqlite: include_str!("../../../migrations/0010_task_canceled_by.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 11,
        name: "release_created_by",
        sqlite: include_str!("../../../migrations/0011_release_created_by.sql"),
        postgres: None,
        compatible: false,
    },
    Shipped {
        version: 12,
        name: "cluster_settings",
        sqlite: include_str!("../../../migrations/0012_cluster_settings.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0012_cluster_settings.sql"
        )),
        compatible: false,
    },
    Shipped {
        version: 13,
        name: "deployment_freezes",
        sqlite: include_str!("../../../migrations/0013_deployment_freezes.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0013_deployment_freezes.sql"
        )),
        compatible: false,
    },
    Shipped {
        version: 14,
        name: "schema_levels",
        sqlite: include_str!("../../../migrations/0014_schema_levels.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0014_schema_levels.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 15,
        name: "idempotency_keys",
        sqlite: include_str!("../../../migrations/0015_idempotency_keys.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0015_idempotency_keys.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 16,
        name: "slugs",
        sqlite: include_str!("../../../migrations/0016_slugs.sql"),
        postgres: Some(include_str!("../../../migrations/postgres/0016_slugs.sql")),
        compatible: true,
    },
    Shipped {
        version: 17,
        name: "deployment_facts",
        sqlite: include_str!("../../../migrations/0017_deployment_facts.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0017_deployment_facts.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 18,
        name: "variables",
        sqlite: include_str!("../../../migrations/0018_variables.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0018_variables.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 19,
        name: "approvals",
        sqlite: include_str!("../../../migrations/0019_approvals.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0019_approvals.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 20,
        name: "webhooks",
        sqlite: include_str!("../../../migrations/0020_webhooks.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0020_webhooks.sql"
        )),
        compatible: true,
    },
    Shipped {
        version: 21,
        name: "notices",
        sqlite: include_str!("../../../migrations/0021_notices.sql"),
        postgres: Some(include_str!(
            "../../../migrations/postgres/0021_notices.sql"
        )),
        compatible: true,
    },
];

/// The schema level at which nodes record theirs and migrations their compatibility.
pub const LEVELS_SINCE: i64 = 14;

/// One migration of a [`Migrations`] set.
#[derive(Clone, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: Cow<'static, str>,
    pub sqlite: Cow<'static, str>,
    /// `None` for versions the PostgreSQL baseline covers.
    pub postgres: Option<Cow<'static, str>>,
    pub compatible: bool,
}

/// The migrations a binary knows. [`Migrations::shipped`] is this binary's; a test may
/// add its own after them, to play a newer binary against the real one.
#[derive(Clone, Debug)]
pub struct Migrations {
    list: Vec<Migration>,
}

impl Migrations {
    pub fn shipped() -> Migrations {
        Migrations {
            list: SHIPPED
                .iter()
                .map(|m| Migration {
                    version: m.version,
                    name: m.name.into(),
                    sqlite: m.sqlite.into(),
                    postgres: m.postgres.map(Cow::from),
                    compatible: m.compatible,
                })
                .collect(),
        }
    }

    /// This set with `m` after its newest.
    pub fn with(mut self, m: Migration) -> Migrations {
        self.list.push(m);
        self
    }

    /// The newest version: the schema level of a node running this set.
    pub fn newest(&self) -> i64 {
        self.list.last().map_or(0, |m| m.version)
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn after(&self, version: i64) -> impl Iterator<Item = &Migration> {
        self.list.iter().filter(move |m| m.version > version)
    }
}

/// Applies this binary's migrations a SQLite database lacks, as a command would.
/// Returns how many were applied.
pub fn apply(conn: &mut Connection) -> Result<usize> {
    let starting = Starting {
        node: None,
        offline_ms: 0,
        now: clock::now_ms(),
    };
    apply_set(conn, &Migrations::shipped(), &starting)
}

/// Applies the migrations of `set` a SQLite database lacks, in one `BEGIN IMMEDIATE`
/// transaction. A database newer than the set is refused, and so is an incompatible
/// migration while older nodes run (`levels::refusal`); either leaves it as it was.
pub fn apply_set(
    conn: &mut Connection,
    set: &Migrations,
    starting: &Starting<'_>,
) -> Result<usize> {
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
    let newest = set.newest();
    if current > newest {
        return Err(Error::internal(format!("the database is at schema version {current}, newer than this drydock knows ({newest}); \
             run a newer drydock or restore a backup")));
    }
    if let Some(m) = set.after(current).find(|m| !m.compatible) {
        let running = running_sqlite(&tx, current, newest, starting)?;
        if !running.is_empty() {
            return Err(refusal(m, &running, starting.now));
        }
    }
    let mut applied = 0;
    for m in set.after(current) {
        tx.execute_batch(&m.sqlite).map_err(|e| {
            Error::internal_from(format!("migration {:04}_{}", m.version, m.name), e)
        })?;
        if m.version >= LEVELS_SINCE {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at, compatible)
                 VALUES (?1, ?2, ?3, ?4)",
                params![m.version, m.name, clock::now_ms(), m.compatible],
            )?;
        } else {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
                params![m.version, m.name, clock::now_ms()],
            )?;
        }
        applied += 1;
    }
    tx.commit()?;
    Ok(applied)
}

/// PostgreSQL's baseline: the whole schema at version 11 (a PostgreSQL database is
/// always new); later migrations carry their PostgreSQL SQL beside SQLite's.
const POSTGRES_BASELINE: (i64, &str) = (
    11,
    include_str!("../../../migrations/postgres/0011_schema.sql"),
);

/// The key of the advisory lock nodes take to migrate a PostgreSQL database, so that
/// nodes starting together migrate once ("drydock" in ASCII).
const MIGRATION_LOCK: i64 = 0x0064_7279_646f_636b;

fn postgres_error(e: postgres::Error) -> Error {
    Error::internal(format!("database: {}", super::sql::pg::with_causes(&e)))
}

/// Applies this binary's migrations a PostgreSQL database lacks, as a command would.
pub fn apply_postgres(client: &mut postgres::Client) -> Result<usize> {
    let starting = Starting {
        node: None,
        offline_ms: 0,
        now: clock::now_ms(),
    };
    apply_postgres_set(client, &Migrations::shipped(), &starting)
}

/// Applies the migrations of `set` a PostgreSQL database lacks, in one transaction,
/// under a transaction-scoped advisory lock (a node that starts while another migrates
/// waits, then finds nothing left to do). A database newer than the set is refused, and
/// so is an incompatible migration while older nodes run; either leaves it as it was.
/// Returns how many migrations were applied (the baseline counts as the versions it
/// stands for).
pub fn apply_postgres_set(
    client: &mut postgres::Client,
    set: &Migrations,
    starting: &Starting<'_>,
) -> Result<usize> {
    let mut tx = client.transaction().map_err(postgres_error)?;
    // A migration may take long, and a node starting meanwhile waits for it: the
    // sessions' statement and lock deadlines are not for this transaction.
    tx.batch_execute("SET LOCAL statement_timeout = 0; SET LOCAL lock_timeout = 0")
        .map_err(postgres_error)?;
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
    let newest = set.newest();
    if current > newest {
        return Err(Error::internal(format!("the database is at schema version {current}, newer than this drydock knows ({newest}); \
             run a newer drydock or restore a backup")));
    }
    if current != 0 && current < POSTGRES_BASELINE.0 {
        return Err(Error::internal(format!(
            "the database is at schema version {current}, older than any PostgreSQL schema \
             drydock makes ({}): it was not made by drydock",
            POSTGRES_BASELINE.0
        )));
    }
    if let Some(m) = set
        .after(current.max(POSTGRES_BASELINE.0))
        .find(|m| !m.compatible)
    {
        let running = running_postgres(&mut tx, current, newest, starting)?;
        if !running.is_empty() {
            return Err(refusal(m, &running, starting.now));
        }
    }
    let record = |tx: &mut postgres::Transaction<'_>, m: &Migration| {
        let name: &str = &m.name;
        let now = clock::now_ms();
        let result = if m.version >= LEVELS_SINCE {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at, compatible)
                 VALUES ($1, $2, $3, $4)",
                &[&m.version, &name, &now, &i64::from(m.compatible)],
            )
        } else {
            tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                &[&m.version, &name, &now],
            )
        };
        result.map_err(postgres_error)
    };
    let mut applied = 0;
    if current == 0 {
        let (baseline, sql) = POSTGRES_BASELINE;
        tx.batch_execute(sql)
            .map_err(|e| Error::internal_from("the PostgreSQL schema", e))?;
        // The baseline stands for every migration up to its version.
        for m in set.list.iter().filter(|m| m.version <= baseline) {
            record(&mut tx, m)?;
            applied += 1;
        }
    }
    for m in set.after(current.max(POSTGRES_BASELINE.0)) {
        let sql = m.postgres.as_deref().ok_or_else(|| {
            Error::internal(format!(
                "migration {:04}_{} has no PostgreSQL SQL",
                m.version, m.name
            ))
        })?;
        tx.batch_execute(sql).map_err(|e| {
            Error::internal_from(format!("migration {:04}_{}", m.version, m.name), e)
        })?;
        record(&mut tx, m)?;
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
        // The baseline is a shipped version; every migration past it has PostgreSQL
        // SQL, and none before it does; versions go up by one.
        assert!(SHIPPED.iter().any(|m| m.version == POSTGRES_BASELINE.0));
        for (i, m) in SHIPPED.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "{}", m.name);
            assert_eq!(
                m.postgres.is_some(),
                m.version > POSTGRES_BASELINE.0,
                "{:04}_{}",
                m.version,
                m.name
            );
        }
    }

    #[test]
    fn applies_once_and_records() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(apply(&mut conn).unwrap(), SHIPPED.len());
        assert_eq!(apply(&mut conn).unwrap(), 0);
        let n: i64 = conn
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n as usize, SHIPPED.len());
    }
}
