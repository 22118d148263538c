//! Online copies of the database, interruptible. SQLite: `VACUUM INTO` reads one
//! snapshot (WAL lets writers go on meanwhile) and writes a compact copy. PostgreSQL:
//! `pg_dump` in its custom format (one consistent snapshot; `pg_restore` reads it).

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::config::Config;
use crate::error::{Error, Result};

/// The database a backup copies.
#[derive(Debug, Clone)]
pub enum Source {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Source {
    pub fn of(config: &Config) -> Source {
        match &config.database_url {
            Some(url) => Source::Postgres(url.clone()),
            None => Source::Sqlite(config.db_path()),
        }
    }

    /// What a backup file of this database is named with: SQLite's are databases,
    /// PostgreSQL's are `pg_dump` archives.
    pub fn suffix(&self) -> &'static str {
        match self {
            Source::Sqlite(_) => ".db",
            Source::Postgres(_) => ".dump",
        }
    }

    /// For log lines (without a password).
    pub fn describe(&self) -> String {
        match self {
            Source::Sqlite(path) => path.display().to_string(),
            Source::Postgres(url) => super::sql::redacted(url),
        }
    }
}

/// Copies `source` into `out` (which must not exist; made readable by drydock's user
/// alone), stopping early when `stop` returns true. Returns false if it stopped.
pub fn backup(source: &Source, out: &Path, stop: &(dyn Fn() -> bool + Sync)) -> Result<bool> {
    match source {
        Source::Sqlite(db) => backup_to(db, out, stop),
        Source::Postgres(url) => {
            let pg_dump = pg_dump()?;
            create_private(out)?;
            let done = dump(&pg_dump, url, out, stop);
            if !matches!(done, Ok(true)) {
                let _ = std::fs::remove_file(out);
            }
            done
        }
    }
}

/// `pg_dump`: on the `PATH`, else the newest of Debian's `/usr/lib/postgresql/*/bin`.
fn pg_dump() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("pg_dump"))
        .find(|p| p.is_file());
    if let Some(found) = on_path {
        return Ok(found);
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| {
            dir.flatten()
                .map(|e| e.path().join("bin/pg_dump"))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    debian.sort_by_key(|p| {
        p.components()
            .nth(4)
            .and_then(|c| c.as_os_str().to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    debian.pop().ok_or_else(|| {
        Error::Unavailable(
            "backing up PostgreSQL needs pg_dump, which is not installed \
             (Debian: apt-get install postgresql-client)"
                .into(),
        )
    })
}

/// Runs `pg_dump` into `out`. The password is in neither its arguments nor its
/// environment (another local user may read the one, a process of drydock's user the
/// other): it goes in a passfile, 0600, beside `out`, named in `PGPASSFILE` and removed
/// when the dump ends.
fn dump(pg_dump: &Path, url: &str, out: &Path, stop: &(dyn Fn() -> bool + Sync)) -> Result<bool> {
    let (url, password) = super::sql::split_password(url);
    let passfile = password
        .map(|password| PassFile::beside(out, &password))
        .transpose()?;
    let mut command = Command::new(pg_dump);
    command
        .arg("--format=custom")
        .arg("--no-owner")
        .arg("--file")
        .arg(out)
        .arg("--dbname")
        .arg(&url)
        .env_remove("PGPASSWORD")
        .env_remove("DRYDOCK_DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(passfile) = &passfile {
        command.env("PGPASSFILE", &passfile.0);
    }
    let mut child = command
        .spawn()
        .map_err(|e| Error::internal_from(format!("starting {}", pg_dump.display()), e))?;
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(stderr) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(stderr, &mut text);
        }
        text
    });
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| Error::internal_from("pg_dump", e))?
        {
            break status;
        }
        if stop() {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let errors = reader.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::internal(format!(
            "pg_dump failed ({status}): {}",
            errors.trim()
        )));
    }
    Ok(true)
}

/// Makes `out` empty and readable by drydock's user alone (a backup holds everything
/// the database does, password hashes too); refuses one that exists.
fn create_private(out: &Path) -> Result<()> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::bad(
            "out",
            format!("{} already exists", out.display()),
        )),
        Err(e) => Err(Error::bad("out", format!("{}: {e}", out.display()))),
    }
}

/// Copies the SQLite database at `db` into `out` (which must not exist), stopping early
/// when `stop` returns true. Returns false if it stopped.
pub fn backup_to(db: &Path, out: &Path, stop: &(dyn Fn() -> bool + Sync)) -> Result<bool> {
    // Made empty first: VACUUM INTO fills an empty file.
    create_private(out)?;
    let conn = rusqlite::Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(30))?;
    let interrupt = conn.get_interrupt_handle();
    let finished = AtomicBool::new(false);
    let stopped = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !finished.load(Ordering::SeqCst) {
                if stop() {
                    stopped.store(true, Ordering::SeqCst);
                    interrupt.interrupt();
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        let result = conn.execute("VACUUM INTO ?1", [out.to_string_lossy()]);
        finished.store(true, Ordering::SeqCst);
        result
    });
    if stopped.load(Ordering::SeqCst) {
        let _ = std::fs::remove_file(out);
        return Ok(false);
    }
    if let Err(e) = result {
        let _ = std::fs::remove_file(out);
        return Err(e.into());
    }
    Ok(true)
}

/// A libpq passfile holding one password for any server, removed when dropped.
struct PassFile(PathBuf);

impl PassFile {
    fn beside(out: &Path, password: &str) -> Result<PassFile> {
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| Error::internal_from("the random generator failed", e))?;
        let name = format!(".pgpass-{}", hex::encode(random));
        let path = out.parent().unwrap_or(Path::new(".")).join(name);
        let escaped = password.replace('\\', "\\\\").replace(':', "\\:");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| Error::internal_from(format!("{}", path.display()), e))?;
        std::io::Write::write_all(&mut file, format!("*:*:*:*:{escaped}\n").as_bytes())
            .map_err(|e| Error::internal_from(format!("{}", path.display()), e))?;
        Ok(PassFile(path))
    }
}

impl Drop for PassFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
