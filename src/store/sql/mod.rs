//! One SQL text for both backends (issue 17, in progress: the store's files move onto
//! this one by one). A statement is written once, as SQLite spells it, with numbered
//! parameters (`?1`, `?2`, ...), and runs on either a SQLite connection or a PostgreSQL
//! one ([`Conn`]); on PostgreSQL the parameters become `$1`, `$2`, ... Both schemas store
//! the same values (64-bit integers, text, 0/1 flags: `migrations/postgres`), so a
//! parameter or a column is one of four [`Value`]s whatever the backend; a column of
//! another PostgreSQL type (`NUMERIC` from `SUM`, say) is refused by name: cast it.

pub mod pg;
pub mod tls;
mod value;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::error::{Error, Result};
use pg::{from_postgres, postgres_error, postgres_params, storable};
pub use pg::{has_password, redacted, split_password, PgManager};
use value::{from_sqlite, names};
pub use value::{FromValue, Param, Row, Value};

/// The most statements one PostgreSQL connection keeps prepared: more than the
/// store's own texts, so they stay prepared, and a bound on what texts built from
/// a request (a list of ids) can make the server keep for the connection.
pub const MAX_PREPARED: usize = 256;

/// A PostgreSQL connection with the statements it has prepared (by SQL text), at most
/// [`MAX_PREPARED`]: the least recently used goes first (dropping it closes it on the
/// server).
pub struct PgConn {
    pub(super) client: postgres::Client,
    prepared: HashMap<String, (postgres::Statement, u64)>,
    uses: u64,
}

impl PgConn {
    pub fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client,
            prepared: HashMap::new(),
            uses: 0,
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        self.uses += 1;
        if let Some((statement, used)) = self.prepared.get_mut(sql) {
            *used = self.uses;
            return Ok(statement.clone());
        }
        let statement = self
            .client
            .prepare(&postgres_text(sql))
            .map_err(postgres_error)?;
        if self.prepared.len() >= MAX_PREPARED {
            let oldest = self
                .prepared
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(text, _)| text.clone());
            if let Some(oldest) = oldest {
                self.prepared.remove(&oldest);
            }
        }
        self.prepared
            .insert(sql.to_string(), (statement.clone(), self.uses));
        Ok(statement)
    }

    /// How many statements this connection keeps prepared.
    pub fn prepared_count(&self) -> usize {
        self.prepared.len()
    }
}

/// How a statement failed, before it becomes the store's [`Error`]: callers that
/// expect a uniqueness conflict say what it means ([`Conn::execute_unique`]).
enum Failure {
    Sqlite(rusqlite::Error),
    Postgres(postgres::Error),
    Store(Error),
}

impl Failure {
    fn is_unique_violation(&self) -> bool {
        match self {
            Failure::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
            }
            Failure::Postgres(e) => e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sqlite(e)
    }
}
impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Failure {
        Failure::Postgres(e)
    }
}
impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Store(e)
    }
}
impl From<Failure> for Error {
    fn from(f: Failure) -> Error {
        match f {
            Failure::Sqlite(e) => e.into(),
            Failure::Postgres(e) => postgres_error(e),
            Failure::Store(e) => e,
        }
    }
}

/// A connection of either backend, as the store's functions take it.
#[derive(Clone, Copy)]
pub enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(&'a RefCell<PgConn>),
}

impl Conn<'_> {
    pub fn is_postgres(&self) -> bool {
        matches!(self, Conn::Postgres(_))
    }

    /// `sqlite` or `postgres`, by this connection's backend: for the few statements
    /// the two spell differently, written next to each other where they are used.
    pub fn dialect<'s>(&self, sqlite: &'s str, postgres: &'s str) -> &'s str {
        if self.is_postgres() {
            postgres
        } else {
            sqlite
        }
    }

    /// Serialises the rest of this transaction with every other one that takes the same
    /// `key`, on any node: PostgreSQL's transaction-level advisory lock. On SQLite,
    /// where a write transaction (`BEGIN IMMEDIATE`) already excludes every other
    /// writer, nothing to do.
    /// [`Conn::exclusive`] without waiting: whether it was taken (always on SQLite,
    /// whose write transaction is this process's alone already).
    pub fn try_exclusive(&self, key: i64) -> Result<bool> {
        if !self.is_postgres() {
            return Ok(true);
        }
        let taken: i64 = self
            .query_one("SELECT pg_try_advisory_xact_lock(?1)::INT", &[&key])?
            .get(0)?;
        Ok(taken == 1)
    }

    pub fn exclusive(&self, key: i64) -> Result<()> {
        if self.is_postgres() {
            self.query("SELECT pg_advisory_xact_lock(?1)::TEXT", &[&key])?;
        }
        Ok(())
    }

    /// Runs `f` so that its failure undoes what it wrote and no more: the transaction
    /// around it goes on (a savepoint). SQLite undoes a failed statement alone, but
    /// PostgreSQL fails the whole transaction at the first failed statement.
    pub fn partial<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.batch("SAVEPOINT partial")?;
        match f() {
            Ok(out) => {
                self.batch("RELEASE partial")?;
                Ok(out)
            }
            Err(e) => {
                self.batch("ROLLBACK TO partial")?;
                self.batch("RELEASE partial")?;
                Err(e)
            }
        }
    }

    /// [`Conn::exclusive`] for a lock named by text (a sign-in throttling key, say):
    /// transactions taking the same name run one at a time.
    pub fn exclusive_named(&self, name: &str) -> Result<()> {
        if self.is_postgres() {
            self.query(
                "SELECT pg_advisory_xact_lock(hashtextextended(?1, 0))::TEXT",
                &[&name],
            )?;
        }
        Ok(())
    }

    /// Every row `sql` returns.
    pub fn query(&self, sql: &str, params: &[&dyn Param]) -> Result<Vec<Row>> {
        Ok(self.rows(sql, params, usize::MAX)?)
    }

    /// The one row `sql` must return; a uniqueness conflict is refused with
    /// `conflict` (e.g. `INSERT ... RETURNING id` of a name already taken).
    pub fn query_one_unique(
        &self,
        sql: &str,
        params: &[&dyn Param],
        conflict: impl FnOnce() -> String,
    ) -> Result<Row> {
        unique(self.rows(sql, params, 1), conflict)?
            .into_iter()
            .next()
            .ok_or_else(|| Error::internal(format!("database: no row from {sql}")))
    }

    /// At most `limit` rows (SQLite stops reading there).
    fn rows(
        &self,
        sql: &str,
        params: &[&dyn Param],
        limit: usize,
    ) -> std::result::Result<Vec<Row>, Failure> {
        let values: Vec<Value> = params.iter().map(|p| p.value()).collect();
        match self {
            Conn::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let columns = statement.column_count();
                let named = names(statement.column_names().into_iter());
                let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
                let mut out = Vec::new();
                while out.len() < limit {
                    let Some(row) = rows.next()? else { break };
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(from_sqlite(row.get_ref(i)?));
                    }
                    out.push(Row {
                        values,
                        columns: named.clone(),
                    });
                }
                Ok(out)
            }
            Conn::Postgres(cell) => {
                storable(&values)?;
                let mut pg = cell.borrow_mut();
                let statement = pg.statement(sql)?;
                let rows = pg.client.query(&statement, &postgres_params(&values))?;
                let named = names(statement.columns().iter().map(|c| c.name()));
                Ok(rows
                    .iter()
                    .take(limit)
                    .map(|row| from_postgres(row, &named))
                    .collect::<Result<_>>()?)
            }
        }
    }

    /// Hands the rows of `sql` to `each` one at a time until it returns false. SQLite
    /// reads no further rows than that; PostgreSQL has sent them all (bound the query
    /// with `LIMIT` where that matters).
    pub fn scan(
        &self,
        sql: &str,
        params: &[&dyn Param],
        mut each: impl FnMut(&Row) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Conn::Sqlite(conn) => {
                let values: Vec<Value> = params.iter().map(|p| p.value()).collect();
                let mut statement = conn.prepare_cached(sql)?;
                let columns = statement.column_count();
                let named = names(statement.column_names().into_iter());
                let mut rows = statement.query(rusqlite::params_from_iter(values.iter()))?;
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for i in 0..columns {
                        values.push(from_sqlite(row.get_ref(i)?));
                    }
                    let row = Row {
                        values,
                        columns: named.clone(),
                    };
                    if !each(&row)? {
                        break;
                    }
                }
                Ok(())
            }
            Conn::Postgres(_) => {
                for row in self.query(sql, params)? {
                    if !each(&row)? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// The first row `sql` returns, if any.
    pub fn query_opt(&self, sql: &str, params: &[&dyn Param]) -> Result<Option<Row>> {
        Ok(self.rows(sql, params, 1)?.into_iter().next())
    }

    /// The first row `sql` finds, as `read` makes it.
    pub fn first<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnOnce(&Row) -> Result<T>,
    ) -> Result<Option<T>> {
        self.query_opt(sql, params)?.map(|r| read(&r)).transpose()
    }

    /// Every row `sql` finds, as `read` makes them.
    pub fn all<T>(
        &self,
        sql: &str,
        params: &[&dyn Param],
        read: impl FnMut(&Row) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.query(sql, params)?.iter().map(read).collect()
    }

    /// The one row `sql` must return.
    pub fn query_one(&self, sql: &str, params: &[&dyn Param]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| Error::internal(format!("database: no row from {sql}")))
    }

    /// Runs `sql`; how many rows it changed.
    pub fn execute(&self, sql: &str, params: &[&dyn Param]) -> Result<u64> {
        Ok(self.run(sql, params)?)
    }

    /// [`Conn::execute`], a uniqueness conflict refused with `conflict`.
    pub fn execute_unique(
        &self,
        sql: &str,
        params: &[&dyn Param],
        conflict: impl FnOnce() -> String,
    ) -> Result<u64> {
        unique(self.run(sql, params), conflict)
    }

    fn run(&self, sql: &str, params: &[&dyn Param]) -> std::result::Result<u64, Failure> {
        let values: Vec<Value> = params.iter().map(|p| p.value()).collect();
        match self {
            Conn::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?
                as u64),
            Conn::Postgres(cell) => {
                storable(&values)?;
                let mut pg = cell.borrow_mut();
                let statement = pg.statement(sql)?;
                Ok(pg.client.execute(&statement, &postgres_params(&values))?)
            }
        }
    }

    /// Runs statements without parameters (transaction control, DDL).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Conn::Sqlite(conn) => Ok(conn.execute_batch(sql)?),
            Conn::Postgres(cell) => cell
                .borrow_mut()
                .client
                .batch_execute(sql)
                .map_err(postgres_error),
        }
    }
}

/// `result`, a uniqueness conflict refused with `conflict`.
fn unique<T>(
    result: std::result::Result<T, Failure>,
    conflict: impl FnOnce() -> String,
) -> Result<T> {
    match result {
        Ok(t) => Ok(t),
        Err(f) if f.is_unique_violation() => Err(Error::Conflict(conflict())),
        Err(f) => Err(f.into()),
    }
}

/// `sql` as PostgreSQL takes it: SQLite's parameters (`?1`, or a bare `?`, the next
/// number) as PostgreSQL's (`$1`), and SQLite's index hints (`INDEXED BY name`, which PostgreSQL's planner does
/// without) dropped; text in quotes (strings, quoted names) is left alone.
pub fn postgres_text(sql: &str) -> Cow<'_, str> {
    let hinted = sql.contains("INDEXED BY");
    if !sql.contains('?') && !hinted {
        return Cow::Borrowed(sql);
    }
    let sql: Cow<'_, str> = if hinted {
        Cow::Owned(without_index_hints(sql))
    } else {
        Cow::Borrowed(sql)
    };
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    // A bare `?` is SQLite's next parameter after the highest numbered so far.
    let mut highest = 0u32;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                let number = digits.parse().unwrap_or(highest + 1);
                highest = highest.max(number);
                out.push('$');
                out.push_str(&number.to_string());
                continue;
            }
            None => {}
        }
        out.push(c);
    }
    Cow::Owned(out)
}

/// `sql` without its `INDEXED BY name` hints (outside quotes).
fn without_index_hints(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut rest = sql;
    while let Some(c) = rest.chars().next() {
        if quote.is_none() && rest.starts_with("INDEXED BY ") {
            let after = rest["INDEXED BY ".len()..].trim_start();
            let name_end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            rest = after[name_end..].trim_start();
            continue;
        }
        match quote {
            Some(q) if c == q => quote = None,
            None if c == '\'' || c == '"' => quote = Some(c),
            _ => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `%XX` escapes decoded, as URLs carry a password with reserved characters.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_parameters_become_postgres_ones_outside_quotes() {
        assert_eq!(
            postgres_text("SELECT a FROM t WHERE b = ?1 AND c = '?2' AND \"?3\" = ?12"),
            "SELECT a FROM t WHERE b = $1 AND c = '?2' AND \"?3\" = $12"
        );
        assert!(matches!(postgres_text("SELECT 1"), Cow::Borrowed(_)));
        assert_eq!(
            postgres_text("SELECT 1 WHERE a IN (?, ?) AND b = ?5 AND c = ? AND d = '?'"),
            "SELECT 1 WHERE a IN ($1, $2) AND b = $5 AND c = $6 AND d = '?'"
        );
        assert_eq!(
            postgres_text(
                "UPDATE tasks INDEXED BY tasks_expiry SET e = 'INDEXED BY x' WHERE q < ?1"
            ),
            "UPDATE tasks SET e = 'INDEXED BY x' WHERE q < $1"
        );
    }

    #[test]
    fn one_text_runs_on_sqlite_with_the_same_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let db = Conn::Sqlite(&conn);
        db.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, n INTEGER, flag INTEGER)")
            .unwrap();
        let id = db
            .query_one(
                "INSERT INTO t (name, n, flag) VALUES (?1, ?2, ?3) RETURNING id",
                &[&"a", &Some(7i64), &true],
            )
            .unwrap()
            .get::<i64>(0)
            .unwrap();
        db.execute(
            "INSERT INTO t (name, n, flag) VALUES (?1, ?2, ?3)",
            &[&"b", &None::<i64>, &false],
        )
        .unwrap();
        let rows = db
            .query(
                "SELECT name, n, flag FROM t WHERE id >= ?1 ORDER BY id",
                &[&id],
            )
            .unwrap();
        let read: Vec<(String, Option<i64>, bool)> = rows
            .iter()
            .map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap()))
            .collect();
        assert_eq!(
            read,
            vec![("a".into(), Some(7), true), ("b".into(), None, false)]
        );
        assert!(db
            .query_opt("SELECT 1 FROM t WHERE id < 0", &[])
            .unwrap()
            .is_none());
        assert!(
            rows[0].get::<i64>(0).is_err(),
            "text is not read as a number"
        );
    }
}
