//! Schema levels across a cluster: who counts as an older node running beside a
//! migration (and the refusal that names them), what a running node finds when the
//! schema moved past it, and what a binary would apply (`drydock database pending`).

use rusqlite::{params, Connection};

use super::{postgres_error, Migration, Migrations, LEVELS_SINCE};
use crate::error::{Error, Result};

/// Who is migrating: a node starting (`node`: its own name, not counted as a running
/// node), or a command (`None`). Older nodes seen within `offline_ms` of `now` keep an
/// incompatible migration from being applied.
pub struct Starting<'a> {
    pub node: Option<&'a str>,
    pub offline_ms: i64,
    pub now: i64,
}

/// A node running beside the one that would migrate: name, version, schema level.
#[derive(Debug, Clone, PartialEq)]
pub struct Running {
    pub name: String,
    pub version: String,
    pub level: Option<i64>,
    pub last_seen: i64,
}

/// The refusal when an incompatible migration is due and older nodes run: names them
/// and gives the procedure.
pub(super) fn refusal(migration: &Migration, running: &[Running], now: i64) -> Error {
    let nodes = running
        .iter()
        .map(|r| {
            let level = r
                .level
                .map_or_else(|| "before level 14".to_string(), |l| l.to_string());
            format!(
                "{} (drydock {}, schema {level}, seen {} s ago)",
                r.name,
                r.version,
                (now - r.last_seen).max(0) / 1000
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Error::Conflict(format!(
        "this drydock must apply migration {:04}_{}, which nodes running an older drydock \
         cannot work beside, and these nodes are running: {nodes}. Nothing was changed. \
         Upgrade them together: turn maintenance mode on and wait until it is quiet \
         (`drydock maintenance enable --wait`), stop every node, back up, then start the \
         new version on each node (docs/upgrades.md).",
        migration.version, migration.name
    ))
}

/// Nodes other than `starting`'s seen within its offline threshold, not stopped, whose
/// schema level is below `level` (unknown counts as below): what an incompatible
/// migration must not run under. `current`: the schema the database is at.
pub(super) fn running_sqlite(
    tx: &rusqlite::Transaction<'_>,
    current: i64,
    level: i64,
    starting: &Starting<'_>,
) -> Result<Vec<Running>> {
    if current < 5 {
        // No nodes table yet (3), or no record of a stop (5): nothing to ask.
        return Ok(Vec::new());
    }
    let levels = current >= LEVELS_SINCE;
    let sql = format!(
        "SELECT name, version, {}, last_seen FROM nodes
         WHERE name <> ?1 AND stopped_at IS NULL AND last_seen >= ?2 {}
         ORDER BY name",
        if levels { "schema_level" } else { "NULL" },
        if levels {
            "AND (schema_level IS NULL OR schema_level < ?3)"
        } else {
            "AND ?3 = ?3"
        },
    );
    let mut statement = tx.prepare(&sql)?;
    let rows = statement.query_map(
        params![
            starting.node.unwrap_or(""),
            starting.now - starting.offline_ms,
            level
        ],
        |r| {
            Ok(Running {
                name: r.get(0)?,
                version: r.get(1)?,
                level: r.get(2)?,
                last_seen: r.get(3)?,
            })
        },
    )?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// [`running_sqlite`] on PostgreSQL.
pub(super) fn running_postgres(
    tx: &mut postgres::Transaction<'_>,
    current: i64,
    level: i64,
    starting: &Starting<'_>,
) -> Result<Vec<Running>> {
    if current == 0 {
        return Ok(Vec::new());
    }
    let levels = current >= LEVELS_SINCE;
    let sql = format!(
        "SELECT name, version, {}, last_seen FROM nodes
         WHERE name <> $1 AND stopped_at IS NULL AND last_seen >= $2 {}
         ORDER BY name",
        if levels {
            "schema_level"
        } else {
            "NULL::BIGINT"
        },
        if levels {
            "AND (schema_level IS NULL OR schema_level < $3)"
        } else {
            "AND $3::BIGINT = $3::BIGINT"
        },
    );
    let rows = tx
        .query(
            &sql,
            &[
                &starting.node.unwrap_or(""),
                &(starting.now - starting.offline_ms),
                &level,
            ],
        )
        .map_err(postgres_error)?;
    Ok(rows
        .iter()
        .map(|r| Running {
            name: r.get(0),
            version: r.get(1),
            level: r.get(2),
            last_seen: r.get(3),
        })
        .collect())
}

/// What this binary would do to the database `config` names, without doing it: the
/// version it is at, and the migrations it lacks with whether each is compatible with
/// older nodes. A release whose pending migrations are all compatible (or none) can be
/// rolled through a cluster node by node.
pub fn pending(config: &crate::config::Config) -> Result<(i64, Vec<Migration>)> {
    let read = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations";
    let current: i64 = match &config.database_url {
        Some(url) => {
            let mut client = crate::store::sql::PgManager::new(url)?.connect_client()?;
            let exists: bool = client
                .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
                .map_err(postgres_error)?
                .get(0);
            if exists {
                client
                    .query_one(
                        "SELECT COALESCE(MAX(version), 0)::BIGINT FROM schema_migrations",
                        &[],
                    )
                    .map_err(postgres_error)?
                    .get(0)
            } else {
                0
            }
        }
        None => {
            let path = config.db_path();
            if !path.exists() {
                0
            } else {
                let conn =
                    Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
                let exists: bool = conn.query_row(
                    "SELECT EXISTS(SELECT 1 FROM sqlite_master WHERE name = 'schema_migrations')",
                    [],
                    |r| r.get(0),
                )?;
                if exists {
                    conn.query_row(read, [], |r| r.get(0))?
                } else {
                    0
                }
            }
        }
    };
    let set = Migrations::shipped();
    Ok((current, set.after(current).cloned().collect()))
}

/// What a running node finds when the schema moved past the one it knows: the newest
/// version, and whether every migration past its own is compatible with it.
pub fn schema_ahead(conn: &crate::store::Conn, mine: i64) -> Result<Option<(i64, bool)>> {
    let row = conn.query_one(
        "SELECT MAX(version), MIN(compatible) FROM schema_migrations WHERE version > ?1",
        &[&mine],
    )?;
    let newest: Option<i64> = row.get(0)?;
    let all_compatible: Option<i64> = row.get(1)?;
    Ok(newest.map(|n| (n, all_compatible == Some(1))))
}
