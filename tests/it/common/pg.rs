//! PostgreSQL for the tests: the server named by `DRYDOCK_TEST_POSTGRES` (a
//! `postgres://` address; `scripts/test.sh` starts a throw-away one), on which each test
//! gets a database of its own, dropped when it ends. Outside CI a developer without
//! PostgreSQL may set `DRYDOCK_SKIP_POSTGRES=1`; under `CI=true` nothing skips.

use std::sync::atomic::{AtomicU64, Ordering};

/// A fresh, empty database, dropped (with its connections) when this goes.
pub struct Database {
    pub url: String,
    name: String,
    server: String,
}

/// Whether PostgreSQL tests should be skipped (never under CI).
pub fn skip() -> bool {
    if std::env::var_os("DRYDOCK_TEST_POSTGRES").is_some() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let allowed = std::env::var("DRYDOCK_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if ci || !allowed {
        panic!(
            "DRYDOCK_TEST_POSTGRES is not set: run the tests with `bash scripts/test.sh` (it \
             starts a throw-away PostgreSQL), or set DRYDOCK_SKIP_POSTGRES=1 outside CI"
        );
    }
    eprintln!("skipping the PostgreSQL test: DRYDOCK_SKIP_POSTGRES=1");
    true
}

/// Whether the whole suite runs on PostgreSQL (`DRYDOCK_TEST_BACKEND=postgres`, which
/// `scripts/test.sh` sets for the suite's second run) instead of SQLite files.
pub fn suite_on_postgres() -> bool {
    std::env::var("DRYDOCK_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

/// A PostgreSQL program (`pg_restore`, `psql`): on the `PATH`, else the newest of
/// Debian's `/usr/lib/postgresql/*/bin`.
pub fn program(name: &str) -> std::path::PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    if let Some(found) = on_path {
        return found;
    }
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs")
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let path = e.path().join("bin").join(name);
            path.is_file().then_some((version, path))
        })
        .collect();
    found.sort();
    found.pop().expect("a PostgreSQL installation").1
}

impl Database {
    /// Its name on the server.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A new database on the test server.
    pub fn fresh() -> Database {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let server = std::env::var("DRYDOCK_TEST_POSTGRES").expect("DRYDOCK_TEST_POSTGRES");
        let name = format!(
            "drydock_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {server}: {e}"));
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
        Database {
            url: format!("{base}/{name}"),
            name,
            server,
        }
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect to the test database")
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
