//! The command line (`docs/command-line.md`). `drydock` with no subcommand serves. Every subcommand
//! works directly on the data directory's database, so it works beside running servers.

mod accounts;
mod approvals;
mod database;
mod maintenance;
mod node;
mod serve;

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{Error, Result};

#[derive(Parser)]
#[command(
    name = "drydock",
    version,
    about = "Self-hosted deployment and task server"
)]
pub struct Cli {
    /// The data directory: database, secret key, backups.
    #[arg(
        long,
        global = true,
        env = "DRYDOCK_DATA_DIR",
        default_value = "drydock-data"
    )]
    pub data_dir: PathBuf,
    /// A PostgreSQL database to use instead of the SQLite file in the data directory
    /// (the `database_url` key; also `DRYDOCK_DATABASE_URL`). Without a password: any
    /// local user can read a command line; give a URL with one in --database-url-file.
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// A file (mode 0600) whose first line is the PostgreSQL URL, password and all (the
    /// `database_url_file` key; also `DRYDOCK_DATABASE_URL_FILE`).
    #[arg(long, global = true)]
    pub database_url_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a server node: web UI, API (the default).
    Serve(serve::ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(accounts::UserCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Apikey(accounts::ApiKeyCommand),
    /// Maintenance mode: status, enable (optionally waiting for quiet), disable.
    #[command(subcommand)]
    Maintenance(maintenance::MaintenanceCommand),
    /// Approvals deployments wait for: list, approve, reject.
    #[command(subcommand)]
    Approvals(approvals::ApprovalsCommand),
    /// The database: copy a SQLite install into PostgreSQL.
    #[command(subcommand)]
    Database(database::DatabaseCommand),
    /// Server nodes: list, drain, undrain, task cap.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// The script launcher a node starts for itself (not for people to run).
    #[command(hide = true)]
    ScriptLauncher,
    /// Where this node's master key is (it seals sensitive variables) and how to copy
    /// it to another node; `--show` prints the key itself.
    MasterKey {
        /// Print the key (64 hex digits), e.g. to pipe it to another node.
        #[arg(long)]
        show: bool,
    },
    /// Write a consistent copy of the database while servers keep running.
    Backup {
        /// The file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
}

/// Parses the command line, runs the subcommand, and returns the process's exit code.
pub fn main() -> ExitCode {
    let mut cli = Cli::parse();
    if let Some(Command::ScriptLauncher) = cli.command {
        return crate::queue::launcher::serve();
    }
    // Read by the configuration as the `database_url` key, like DRYDOCK_DATABASE_URL
    // (set here, before any thread starts).
    if let Some(url) = &cli.database_url {
        if let Err(e) = url_argument("--database-url", url.clone()) {
            eprintln!("drydock: {e}");
            return ExitCode::FAILURE;
        }
        std::env::set_var("DRYDOCK_DATABASE_URL", url);
    }
    if let Some(file) = &cli.database_url_file {
        std::env::set_var("DRYDOCK_DATABASE_URL_FILE", file);
    }
    // Once, before anything else: every path below is absolute, whatever directory a
    // script, SQLite or a child process later works in.
    cli.data_dir = match crate::config::absolute_dir(&cli.data_dir) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("drydock: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        None => serve::run(&cli.data_dir, serve::ServeArgs::default()),
        Some(Command::Serve(args)) => serve::run(&cli.data_dir, args),
        Some(Command::User(cmd)) => accounts::user(&cli.data_dir, cmd),
        Some(Command::Apikey(cmd)) => accounts::apikey(&cli.data_dir, cmd),
        Some(Command::Backup { out }) => backup(&cli.data_dir, &out),
        Some(Command::Maintenance(cmd)) => maintenance::run(&cli.data_dir, cmd),
        Some(Command::Node(cmd)) => node::run(&cli.data_dir, cmd),
        Some(Command::Approvals(cmd)) => approvals::run(&cli.data_dir, cmd),
        Some(Command::Database(cmd)) => database::run(&cli.data_dir, cmd),
        Some(Command::ScriptLauncher) => Ok(crate::queue::launcher::serve()),
        Some(Command::MasterKey { show }) => master_key(&cli.data_dir, show),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("drydock: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A PostgreSQL URL given on the command line (`flag`), refused when it carries a
/// password: every local user, a deployment script too, can read a process's
/// arguments in `/proc/<pid>/cmdline` while it runs.
fn url_argument(flag: &str, url: String) -> Result<String> {
    if crate::store::sql::has_password(&url) {
        return Err(Error::bad(
            flag.trim_start_matches('-'),
            format!(
                "{flag} carries a password, which every local user could read in \
                 /proc/{}/cmdline while drydock runs: put the URL in a file only drydock's \
                 user can read (mode 0600) and name the file instead ({flag}-file FILE, or \
                 database_url_file in drydock.toml), or set database_url in drydock.toml",
                std::process::id()
            ),
        ));
    }
    Ok(url)
}

fn load_config(data_dir: &std::path::Path) -> Result<Config> {
    Config::load(data_dir).map_err(|e| Error::BadRequest(e.to_string(), Vec::new()))
}

/// Reads a password from the first line of standard input.
fn read_password_stdin() -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::bad("stdin", e))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// A runtime for subcommands that call the async store API.
fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal_from("starting the runtime", e))
}

fn master_key(data_dir: &std::path::Path, show: bool) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    crate::files::prepare_data_dir(&config.data_dir)?;
    let key = crate::secrets::MasterKey::load(&config)?;
    let path = key.path().display();
    // With --show only the key goes to standard output (to be piped); the rest to
    // standard error.
    let say = |text: String| {
        if show {
            eprintln!("{text}")
        } else {
            println!("{text}")
        }
    };
    say(format!(
        "master key: {path} (check value {})",
        key.check_value()
    ));
    let stored = crate::store::Store::open(&config).and_then(|store| {
        store.read_now(|c| crate::store::settings::setting(c, crate::secrets::CHECK_SETTING))
    });
    match stored {
        Ok(Some(check)) if check == key.check_value() => {
            say("the database's sensitive values are sealed with this key".into())
        }
        Ok(Some(check)) => say(format!(
            "WARNING: the database expects another key (check value {check}): this node              refuses to start with this one"
        )),
        Ok(None) => say("the database has not seen a master key yet".into()),
        Err(e) => say(format!("(the database could not be read: {e})")),
    }
    say(format!(
        "It seals the sensitive variables; the database holds only its check value, so a          backup of the database alone cannot decrypt them: back this file up apart from          the database.
Every node on one PostgreSQL database needs this same key. To copy          it to another node:
  drydock --data-dir {} master-key --show | ssh other-host          'install -m 600 /dev/stdin /var/lib/drydock/master.key'
(or put it anywhere          private on that host and set master_key_file in its drydock.toml)",
        config.data_dir.display()
    ));
    if show {
        println!("{}", key.hex());
    }
    Ok(ExitCode::SUCCESS)
}

fn backup(data_dir: &std::path::Path, out: &std::path::Path) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    let source = crate::store::backup::Source::of(&config);
    if let crate::store::backup::Source::Sqlite(db) = &source {
        if !db.exists() {
            return Err(Error::bad(
                "data-dir",
                format!("{} does not exist", db.display()),
            ));
        }
    }
    let out = std::path::absolute(out).map_err(|e| Error::bad("out", e))?;
    let out = out.as_path();
    crate::store::backup::backup(&source, out, &|| false)?;
    let size = std::fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    println!("backup written to {} ({} KiB)", out.display(), size / 1024);
    Ok(ExitCode::SUCCESS)
}
