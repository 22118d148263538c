//! `drydock maintenance status|enable|disable`.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Subcommand;

use super::{load_config, runtime};
use crate::access::Proof;
use crate::clock;
use crate::error::Result;
use crate::maintenance;
use crate::store::Store;

#[derive(Subcommand)]
pub enum MaintenanceCommand {
    /// Print the mode, its message, what is still running or due, and whether it is quiet.
    Status,
    /// Turn maintenance mode on.
    Enable {
        /// A message for every user's banner.
        #[arg(long)]
        message: Option<String>,
        /// Wait until the server is quiet (exit 0), printing progress; exit 3 on timeout.
        #[arg(long)]
        wait: bool,
        /// With --wait: give up after this many seconds.
        #[arg(long, requires = "wait")]
        timeout: Option<u64>,
    },
    /// Turn maintenance mode off.
    Disable,
}

/// Exit code of `enable --wait` when the server did not become quiet in time.
const TIMED_OUT: u8 = 3;

fn describe(status: &maintenance::Status) -> String {
    let mode = if status.mode.is_on { "on" } else { "off" };
    let quiet = if status.is_quiet {
        "quiet: safe to stop"
    } else {
        "not quiet"
    };
    let held = match (status.held, status.held_until) {
        (0, _) | (_, None) => String::new(),
        (n, Some(until)) => format!(
            ", {n} held by a freeze until {} (they do not start before)",
            clock::display(until)
        ),
    };
    let awaiting = match status.awaiting {
        0 => String::new(),
        n => format!(", {n} awaiting approval (they do not start before)"),
    };
    format!(
        "maintenance mode {mode}; {} executing, {} queued and due{held}{awaiting}; {quiet}",
        status.executing, status.queued
    )
}

pub fn run(data_dir: &Path, cmd: MaintenanceCommand) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    crate::files::prepare_data_dir(data_dir)?;
    let store = Store::open(&config)?;
    let proof = Proof::command_line();
    match cmd {
        MaintenanceCommand::Status => {
            let status = store.read_now(maintenance::status)?;
            println!("{}", describe(&status));
            if let Some(m) = &status.mode.message {
                println!("message: {m}");
            }
            if let (Some(by), Some(on)) = (&status.mode.modified_by, status.mode.modified_on) {
                println!("last changed by {by} at {}", clock::display(on));
            }
            for t in &status.tasks {
                let node = t.server_node.as_deref().unwrap_or("-");
                println!(
                    "  ServerTasks-{} {} {} on {node}: {}",
                    t.id, t.name, t.state, t.description
                );
            }
        }
        MaintenanceCommand::Enable {
            message,
            wait,
            timeout,
        } => {
            let rt = runtime()?;
            let message = message.map(Some);
            rt.block_on(maintenance::set_mode(&store, &proof, true, message))?;
            println!("maintenance mode enabled");
            if wait {
                return wait_quiet(&store, timeout.map(Duration::from_secs));
            }
        }
        MaintenanceCommand::Disable => {
            let rt = runtime()?;
            rt.block_on(maintenance::set_mode(&store, &proof, false, None))?;
            println!("maintenance mode disabled");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints a progress line whenever what is left changes, until quiet or timed out.
fn wait_quiet(store: &Store, timeout: Option<Duration>) -> Result<ExitCode> {
    let started = Instant::now();
    let mut last = String::new();
    loop {
        let status = store.read_now(maintenance::status)?;
        let line = describe(&status);
        if line != last {
            println!("{line}");
            last = line;
        }
        if status.is_quiet {
            return Ok(ExitCode::SUCCESS);
        }
        if !status.mode.is_on {
            println!("maintenance mode was turned off while waiting");
            return Ok(ExitCode::FAILURE);
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            println!("timed out waiting for quiet");
            return Ok(ExitCode::from(TIMED_OUT));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}
