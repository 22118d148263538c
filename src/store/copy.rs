//! `drydock database copy`: everything of a SQLite install into an empty PostgreSQL
//! database (the servers stopped), table by table in one PostgreSQL transaction, with
//! every table's row count compared at the end.

use super::sql::{Conn, Param, Value};
use super::{BookTx, Store};
use crate::error::{Error, Result};

/// The tables in an order that keeps every reference valid as rows arrive, and how each
/// is copied. A table the binary does not list here is refused, so a new table cannot
/// be left behind silently.
const TABLES: &[(&str, How)] = &[
    ("users", How::Rows),
    ("user_roles", How::Rows),
    ("sessions", How::Rows),
    ("api_keys", How::Rows),
    ("login_failures", How::Rows),
    ("events", How::Rows),
    ("projects", How::Rows),
    ("environments", How::Rows),
    ("releases", How::Rows),
    ("tasks", How::Rows),
    ("deployments", How::Rows),
    ("task_log", How::Rows),
    // Kept by triggers as the tasks arrive; compared like every other table.
    ("task_counts", How::Derived),
    // Seeded by the migrations: replaced by the source's rows.
    ("system_tasks", How::Replace),
    ("nodes", How::Rows),
    ("maintenance", How::Replace),
    ("maintenance_windows", How::Rows),
    ("cluster_settings", How::Rows),
    ("deployment_freezes", How::Rows),
    ("deployment_freeze_scope", How::Rows),
    ("idempotency_keys", How::Rows),
    ("library_variable_sets", How::Rows),
    ("variable_sets", How::Rows),
    ("project_library_sets", How::Rows),
    ("release_variables", How::Rows),
    ("task_variables", How::Rows),
    ("approval_rules", How::Rows),
    ("interruptions", How::Rows),
    ("subscriptions", How::Rows),
    ("deliveries", How::Rows),
    ("notices", How::Rows),
    // Each database records its own.
    ("schema_migrations", How::Own),
];

#[derive(Clone, Copy, PartialEq)]
enum How {
    Rows,
    Replace,
    Derived,
    Own,
}

/// Rows per `INSERT`: well under PostgreSQL's 65,535 parameters for the widest table.
const BATCH: usize = 500;

/// The product's tables of `conn`'s database, by name.
pub fn tables(conn: &Conn) -> Result<Vec<String>> {
    conn.all(
        conn.dialect(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
             ORDER BY table_name",
        ),
        &[],
        |r| r.get(0),
    )
}

fn columns(conn: &Conn, table: &str) -> Result<Vec<String>> {
    conn.all(
        conn.dialect(
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position",
        ),
        &[&table],
        |r| r.get(0),
    )
}

fn count(conn: &Conn, table: &str) -> Result<i64> {
    conn.query_one(&format!("SELECT COUNT(*) FROM {table}"), &[])?
        .get(0)
}

/// Copies every table of `from` (SQLite) into `to` (PostgreSQL, migrated and without
/// users or tasks), `cookie_key` (the data directory's `secret.key`) as the cluster's.
/// Returns every table's row count, the same on both.
pub fn copy_all(from: &Store, to: &Store, cookie_key: Option<&str>) -> Result<Vec<(String, i64)>> {
    if from.is_postgres() || !to.is_postgres() {
        return Err(Error::bad(
            "to",
            "copies a SQLite install into PostgreSQL only",
        ));
    }
    from.read_now(|src| {
        // One snapshot of the source.
        src.batch("BEGIN")?;
        let copied = to.bookkeeping_now(|dst| copy_tables(src, dst, cookie_key));
        src.batch("COMMIT")?;
        copied
    })
}

fn copy_tables(src: &Conn, dst: &BookTx, cookie_key: Option<&str>) -> Result<Vec<(String, i64)>> {
    let known = |t: &String| TABLES.iter().any(|(name, _)| name == t);
    for side in [tables(src)?, tables(dst)?] {
        if let Some(unknown) = side.iter().find(|t| !known(t)) {
            return Err(Error::internal(format!(
                "this drydock does not know how to copy the table {unknown}"
            )));
        }
    }
    for table in ["users", "tasks", "projects", "events"] {
        if count(dst, table)? > 0 {
            return Err(Error::bad(
                "to",
                format!(
                    "the PostgreSQL database is not empty: it has {table}; copy into a new one"
                ),
            ));
        }
    }
    let mut counts = Vec::new();
    for (table, how) in TABLES {
        match how {
            How::Own => continue,
            How::Derived => {}
            How::Rows | How::Replace => {
                if *how == How::Replace {
                    dst.execute(&format!("DELETE FROM {table}"), &[])?;
                }
                copy_rows(src, dst, table)?;
            }
        }
        if *how == How::Derived {
            // Sums by state (PostgreSQL keeps changes in count, folded here).
            super::tasks::compact_counts(dst)?;
            let sums = |conn: &Conn| -> Result<Vec<(String, i64)>> {
                let mut all: Vec<(String, i64)> = super::tasks::counts(conn)?
                    .into_iter()
                    .map(|(state, n)| (state.to_string(), n))
                    .filter(|(_, n)| *n != 0)
                    .collect();
                all.sort();
                Ok(all)
            };
            let (mine, theirs) = (sums(src)?, sums(dst)?);
            if mine != theirs {
                return Err(Error::internal(format!("task counts {mine:?} in SQLite but {theirs:?} in PostgreSQL; nothing was copied")));
            }
            counts.push((table.to_string(), count(dst, table)?));
            continue;
        }
        let (mine, theirs) = (count(src, table)?, count(dst, table)?);
        if mine != theirs && !(*table == "cluster_settings" && cookie_key.is_some()) {
            return Err(Error::internal(format!(
                "{table}: {mine} rows in SQLite but {theirs} in PostgreSQL; nothing was copied"
            )));
        }
        counts.push((table.to_string(), theirs));
    }
    if let Some(key) = cookie_key {
        dst.execute(
            "INSERT INTO cluster_settings (name, value) VALUES ('secret_key', ?1)
             ON CONFLICT (name) DO NOTHING",
            &[&key],
        )?;
    }
    // Identity columns go on after the highest id copied.
    for (table, _) in TABLES {
        let has_id = columns(dst, table)?.iter().any(|c| c == "id");
        if has_id {
            dst.query(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   COALESCE(MAX(id), 0) + 1, false)::TEXT FROM {table}
                     WHERE pg_get_serial_sequence('{table}', 'id') IS NOT NULL"
                ),
                &[],
            )?;
        }
    }
    Ok(counts)
}

fn copy_rows(src: &Conn, dst: &Conn, table: &str) -> Result<()> {
    let names = columns(src, table)?;
    if names != columns(dst, table)? {
        return Err(Error::internal(format!(
            "{table} has other columns in PostgreSQL than in SQLite"
        )));
    }
    let list = names.join(", ");
    let mut batch: Vec<Value> = Vec::with_capacity(BATCH * names.len());
    let flush = |batch: &mut Vec<Value>| -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let rows = batch.len() / names.len();
        let mut n = 0;
        let values: Vec<String> = (0..rows)
            .map(|_| {
                let marks: Vec<String> = (0..names.len())
                    .map(|_| {
                        n += 1;
                        format!("?{n}")
                    })
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let params: Vec<&dyn Param> = batch.iter().map(|v| v as &dyn Param).collect();
        dst.execute(
            &format!("INSERT INTO {table} ({list}) VALUES {}", values.join(", ")),
            &params,
        )?;
        batch.clear();
        Ok(())
    };
    src.scan(
        &format!("SELECT {list} FROM {table} ORDER BY 1"),
        &[],
        |row| {
            batch.extend(row.values.iter().cloned());
            if batch.len() >= BATCH * names.len() {
                flush(&mut batch)?;
            }
            Ok(true)
        },
    )?;
    flush(&mut batch)
}
