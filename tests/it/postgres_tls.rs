//! TLS to PostgreSQL (`sslmode`, `sslrootcert` in `database_url`), against the test
//! server `scripts/postgres.sh` starts with `ssl=on` and a certificate its own CA signed
//! for the name `localhost` (not `127.0.0.1`); `other-ca.crt` signed nothing it has.

use std::path::PathBuf;

use crate::common;

use common::pg::{skip, Database};
use common::server::{api_key, create_user, run_cli, Server};
use drydock::store::sql::PgManager;

/// The test CA's directory (`DRYDOCK_TEST_POSTGRES_TLS`); missing only with a server of
/// the developer's own, and never under CI.
fn certificates() -> Option<PathBuf> {
    if skip() {
        return None;
    }
    match std::env::var_os("DRYDOCK_TEST_POSTGRES_TLS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("DRYDOCK_TEST_POSTGRES_TLS is not set: run the tests with scripts/test.sh")
        }
        None => {
            eprintln!("skipping: DRYDOCK_TEST_POSTGRES_TLS is not set (a server of your own)");
            None
        }
    }
}

/// `db`'s URL with `host` for 127.0.0.1 and `query` added.
fn url(db: &Database, host: &str, query: &str) -> String {
    format!("{}?{query}", db.url.replacen("127.0.0.1", host, 1))
}

/// Whether a connection made as `url` says is encrypted, as the server sees it.
fn encrypted(url: &str) -> Result<bool, String> {
    let manager = PgManager::new(url).map_err(|e| e.to_string())?;
    let mut client = manager.connect_client().map_err(|e| e.to_string())?;
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

#[test]
fn each_sslmode_encrypts_and_checks_the_server_as_libpq_does() {
    let Some(tls) = certificates() else { return };
    let db = Database::fresh();
    let ca = tls.join("ca.crt");
    let other = tls.join("other-ca.crt");
    let (ca, other) = (ca.display(), other.display());
    let cases = [
        (url(&db, "127.0.0.1", "sslmode=disable"), Ok(false)),
        // prefer (the default) takes TLS when the server offers it, unchecked.
        (url(&db, "127.0.0.1", "connect_timeout=10"), Ok(true)),
        (url(&db, "127.0.0.1", "sslmode=allow"), Ok(true)),
        (url(&db, "127.0.0.1", "sslmode=require"), Ok(true)),
        // require with a CA checks the chain, as libpq does.
        (
            url(
                &db,
                "127.0.0.1",
                &format!("sslmode=require&sslrootcert={other}"),
            ),
            Err("certificate"),
        ),
        // verify-ca: the chain, not the name (the certificate is for localhost).
        (
            url(
                &db,
                "127.0.0.1",
                &format!("sslmode=verify-ca&sslrootcert={ca}"),
            ),
            Ok(true),
        ),
        (
            url(
                &db,
                "127.0.0.1",
                &format!("sslmode=verify-ca&sslrootcert={other}"),
            ),
            Err("certificate"),
        ),
        // verify-full: the chain and the name.
        (
            url(
                &db,
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            Ok(true),
        ),
        (
            url(
                &db,
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={ca}"),
            ),
            Err("certificate"),
        ),
        (
            url(
                &db,
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={other}"),
            ),
            Err("certificate"),
        ),
    ];
    for (url, expected) in cases {
        match (encrypted(&url), expected) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{url}"),
            (Err(e), Err(says)) => {
                assert!(e.contains("cannot connect to PostgreSQL"), "{url}: {e}");
                assert!(e.contains(says), "{url}: {e}");
            }
            (got, want) => panic!("{url}: got {got:?}, expected {want:?}"),
        }
    }
}

/// A node whose `database_url` says verify-full serves, and every connection it holds
/// (the pool's and the one listening for notifications) is encrypted.
#[test]
fn a_node_on_verify_full_works_over_encrypted_connections_only() {
    let Some(tls) = certificates() else { return };
    let db = Database::fresh();
    let dir = tempfile::tempdir().unwrap();
    let database_url = url(
        &db,
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            tls.join("ca.crt").display()
        ),
    );
    std::fs::write(
        dir.path().join("drydock.toml"),
        format!("database_url = \"{database_url}\"\n"),
    )
    .unwrap();
    create_user(
        dir.path(),
        "ada",
        "System Administrator",
        "correct horse battery",
    );
    let key = api_key(dir.path(), "ada");
    let server = Server::node(dir.path(), "sealed");
    let (status, project) = server.api(
        &key,
        "POST",
        "/api/projects",
        Some(serde_json::json!({"Name": "Over TLS"})),
    );
    assert_eq!(status, 201, "{project}");
    let (status, read) = server.api(&key, "GET", "/api/projects/all", None);
    assert_eq!(status, 200, "{read}");
    assert!(read.to_string().contains("Over TLS"), "{read}");

    let mut admin = db.client();
    let rows = admin
        .query(
            "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s ON s.pid = a.pid \
             WHERE a.datname = current_database() AND a.application_name = 'sealed'",
            &[],
        )
        .unwrap();
    let ssl: Vec<bool> = rows.iter().map(|r| r.get(0)).collect();
    assert!(ssl.len() >= 2, "the node's connections: {ssl:?}");
    assert!(ssl.iter().all(|s| *s), "a connection in the clear: {ssl:?}");

    // The same URL with the wrong CA: the node does not start, and says why.
    let wrong = database_url.replace("ca.crt", "other-ca.crt");
    let (code, out, err) = run_cli(dir.path(), &["--database-url", &wrong, "node", "list"], "");
    assert_ne!(code, 0, "{out}");
    assert!(err.contains("certificate"), "{err}");
}
