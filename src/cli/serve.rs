//! `drydock serve`: one server node.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::load_config;
use crate::app::App;
use crate::error::{Error, Result};
use crate::files::INITIAL_PASSWORD_FILE;

#[derive(Args, Default)]
pub struct ServeArgs {
    /// Listen on this port instead of the configured one (default 8000).
    #[arg(long)]
    pub port: Option<u16>,
    /// This node's name (default: the configured one, or the host name).
    #[arg(long)]
    pub node_name: Option<String>,
}

/// Prints the first administrator's password once, on the console.
pub fn announce_admin(data_dir: &Path, password: &str) {
    println!("drydock: created the first administrator");
    println!("    username: admin");
    println!("    password: {password}");
    println!(
        "    (also written to {}; change it after signing in)",
        data_dir.join(INITIAL_PASSWORD_FILE).display()
    );
}

pub fn run(data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    let mut config = load_config(data_dir)?;
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(name) = args.node_name {
        config.node_name = name;
        config
            .validate()
            .map_err(|e| Error::BadRequest(e.to_string(), Vec::new()))?;
    }
    // This very binary starts the node's script launcher (see `queue::launcher`): by
    // /proc/<pid>/exe, the running file itself, even once an upgrade replaced it on disk.
    crate::queue::launcher::use_program(format!("/proc/{}/exe", std::process::id()).into());
    let opened = App::open(config)?;
    if let Some(password) = &opened.initial_admin_password {
        announce_admin(data_dir, password);
    }
    let blocking = crate::app::blocking_threads(&opened.app.config);
    let server = crate::server::rocket(opened.app)?;
    // Rocket's own runtime, but idle blocking threads (the database's) end after a
    // second instead of tokio's ten: after a burst their stacks and allocator caches
    // would otherwise stay resident for that long (ARCHITECTURE.md, "Memory").
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("rocket-worker-thread")
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max_blocking_threads(blocking)
        .thread_keep_alive(std::time::Duration::from_secs(1))
        .enable_all()
        .build()
        .map_err(|e| Error::internal_from("starting the runtime", e))?;
    let launched = runtime.block_on(server.launch());
    runtime.shutdown_timeout(std::time::Duration::from_millis(500));
    launched.map_err(|e| Error::internal_from("server", e))?;
    Ok(ExitCode::SUCCESS)
}
