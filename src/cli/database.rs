//! `drydock database copy --to postgres://...`: moves an install from the SQLite file in
//! the data directory to PostgreSQL (ARCHITECTURE.md, "Two backends").

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::load_config;
use crate::clock;
use crate::error::{Error, Result};
use crate::store::{copy, nodes, sql, Store};

#[derive(Subcommand)]
pub enum DatabaseCommand {
    /// Say which migrations this binary would apply at its first start, and whether
    /// each lets older nodes keep running: all compatible (or none) means the release
    /// can be rolled through a cluster node by node. Changes nothing.
    Pending,
    /// Copy everything from the data directory's SQLite file into an empty PostgreSQL
    /// database (stop every server first), and check every table's row count.
    Copy {
        /// The PostgreSQL database (postgres://user@host:port/db), without a password:
        /// any local user can read a command line.
        #[arg(long, required_unless_present = "to_file", conflicts_with = "to_file")]
        to: Option<String>,
        /// A file (mode 0600) whose first line is the PostgreSQL URL, password and all.
        #[arg(long)]
        to_file: Option<std::path::PathBuf>,
    },
}

pub fn run(data_dir: &Path, cmd: DatabaseCommand) -> Result<ExitCode> {
    match cmd {
        DatabaseCommand::Pending => pending(data_dir),
        DatabaseCommand::Copy { to, to_file } => {
            let to = match (to, to_file) {
                (Some(url), _) => super::url_argument("--to", url)?,
                (None, Some(file)) => crate::config::read_url_file(&file)
                    .map_err(|e| Error::bad("to-file", e.to_string()))?,
                (None, None) => return Err(Error::bad("to", "--to or --to-file is required")),
            };
            copy_to(data_dir, to)
        }
    }
}

fn pending(data_dir: &Path) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    let (current, pending) = crate::store::migrate::pending(&config)?;
    let newest = crate::store::migrate::Migrations::shipped().newest();
    if current > newest {
        println!(
            "The database is at schema {current}, newer than this drydock ({newest}): it will not start on it."
        );
        return Ok(ExitCode::from(1));
    }
    if current == 0 {
        println!("A new database: the first node to start creates the schema (up to {newest}).");
        return Ok(ExitCode::SUCCESS);
    }
    println!("The database is at schema {current}; this drydock knows up to {newest}.");
    for m in &pending {
        let kind = if m.compatible {
            "compatible: older nodes may keep running"
        } else {
            "incompatible: every node must stop first"
        };
        println!("  {:04}_{}  {kind}", m.version, m.name);
    }
    if pending.iter().all(|m| m.compatible) {
        println!(
            "Rolling upgrade possible: drain, stop, replace, start and undrain one node at a time \
             (scripts/rolling-upgrade.sh)."
        );
    } else {
        println!(
            "Not a rolling upgrade: turn maintenance mode on (`drydock maintenance enable --wait`), \
             stop every node, back up, then start the new version (docs/upgrades.md)."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn copy_to(data_dir: &Path, to: String) -> Result<ExitCode> {
    let mut config = load_config(data_dir)?;
    if config.database_url.is_some() {
        return Err(Error::bad(
            "database_url",
            "this install already uses PostgreSQL; copy runs on a SQLite install (unset database_url)",
        ));
    }
    if !config.db_path().exists() {
        return Err(Error::bad(
            "data-dir",
            format!("{} does not exist", config.db_path().display()),
        ));
    }
    let from = Store::open(&config)?;
    let now = clock::now_ms();
    let offline_ms = config.node_offline_secs * 1000;
    let running: Vec<String> = from
        .read_now(nodes::nodes)?
        .into_iter()
        .filter(|n| !crate::cluster::is_offline(n, now, offline_ms))
        .map(|n| n.name)
        .collect();
    if !running.is_empty() {
        return Err(Error::Conflict(format!(
            "stop every server first: node(s) {} are running on this data directory",
            running.join(", ")
        )));
    }
    config.database_url = Some(to.clone());
    config.validate().map_err(|e| Error::bad("to", e))?;
    let target = Store::open(&config)?;
    let key = std::fs::read_to_string(data_dir.join(crate::files::SECRET_KEY_FILE))
        .ok()
        .map(|k| k.trim().to_string());
    let counts = copy::copy_all(&from, &target, key.as_deref())?;
    let rows: i64 = counts.iter().map(|(_, n)| n).sum();
    for (table, n) in &counts {
        println!("{table:20} {n:>10} rows");
    }
    println!(
        "copied {} tables ({rows} rows) into {}; every table's row count matches",
        counts.len(),
        sql::redacted(&to)
    );
    println!(
        "Next: on every node set database_url = \"{}\" in {} (or database_url_file, naming \
         a file only drydock's user can read), then start the servers. {} stays as it was.",
        sql::redacted(&to),
        crate::config::CONFIG_FILE,
        config.db_path().display()
    );
    Ok(ExitCode::SUCCESS)
}
