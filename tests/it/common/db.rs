//! The test's own look into the database, on whichever backend the suite runs: the
//! store's one SQL text ([`drydock::store::sql::Conn`]) on a connection of the test's
//! own (for assertions and for ageing rows, never for what the product should do).

use std::cell::RefCell;

use drydock::config::Config;
use drydock::store::sql::{Conn, FromValue, Param, PgConn, Row};

pub enum Db {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<PgConn>>),
}

impl Db {
    pub fn open(config: &Config) -> Db {
        match &config.database_url {
            Some(url) => Db::Postgres(Box::new(RefCell::new(PgConn::new(
                postgres::Client::connect(url, postgres::NoTls).expect("connect to PostgreSQL"),
            )))),
            None => Db::Sqlite(rusqlite::Connection::open(config.db_path()).expect("open db")),
        }
    }

    /// The database of the data directory `dir` as the binary finds it there.
    pub fn for_dir(dir: &std::path::Path) -> Db {
        Db::open(&config_for(dir))
    }

    pub fn conn(&self) -> Conn<'_> {
        match self {
            Db::Sqlite(c) => Conn::Sqlite(c),
            Db::Postgres(c) => Conn::Postgres(c),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    /// The first column of the one row `sql` returns.
    pub fn one<T: FromValue>(&self, sql: &str, params: &[&dyn Param]) -> T {
        self.conn()
            .query_one(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .get(0)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Every row `sql` returns.
    pub fn rows(&self, sql: &str, params: &[&dyn Param]) -> Vec<Row> {
        self.conn()
            .query(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Runs `sql`; how many rows it changed.
    pub fn exec(&self, sql: &str, params: &[&dyn Param]) -> u64 {
        self.conn()
            .execute(sql, params)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The product's tables, by name.
    pub fn tables(&self) -> Vec<String> {
        let sql = self.conn().dialect(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             ORDER BY name",
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables
             WHERE table_schema = 'public' ORDER BY table_name COLLATE \"C\"",
        );
        self.rows(sql, &[])
            .iter()
            .map(|r| r.get(0).expect("a table name"))
            .collect()
    }
}

/// A backup opened as the database it holds: SQLite's copy as it is (checked with
/// `PRAGMA integrity_check`), PostgreSQL's `pg_dump` archive restored with
/// `pg_restore --exit-on-error` into a fresh database (the restore is the check).
pub struct Restored {
    pub db: Db,
    _pg: Option<super::pg::Database>,
}

pub fn restore(config: &Config, file: &std::path::Path) -> Restored {
    if config.database_url.is_none() {
        let db = Db::Sqlite(rusqlite::Connection::open(file).expect("open the copy"));
        let check: String = db.one("PRAGMA integrity_check", &[]);
        assert_eq!(check, "ok");
        return Restored { db, _pg: None };
    }
    let target = super::pg::Database::fresh();
    let output = std::process::Command::new(super::pg::program("pg_restore"))
        .args(["--exit-on-error", "--no-owner", "--dbname", &target.url])
        .arg(file)
        .output()
        .expect("run pg_restore");
    assert!(
        output.status.success(),
        "pg_restore: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config = Config {
        database_url: Some(target.url.clone()),
        ..config.clone()
    };
    Restored {
        db: Db::open(&config),
        _pg: Some(target),
    }
}

/// The test configuration of data directory `dir`, with the database and master key
/// its `drydock.toml` names (as the binary would find them).
pub fn config_for(dir: &std::path::Path) -> Config {
    let text = std::fs::read_to_string(dir.join(drydock::config::CONFIG_FILE)).unwrap_or_default();
    let setting = |key: &str| {
        text.lines().find_map(|l| {
            let value = l.trim().strip_prefix(key)?.trim().strip_prefix('=')?;
            Some(value.trim().trim_matches('"').to_string())
        })
    };
    let mut config = Config::for_tests(dir);
    config.database_url = setting("database_url");
    config.master_key_file = setting("master_key_file").map(std::path::PathBuf::from);
    config
}
