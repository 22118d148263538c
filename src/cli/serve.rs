//! `drydock serve`: one server node.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use super::load_config;
use crate::error::{Error, Result};
use crate::files::INITIAL_PASSWORD_FILE;
use crate::App;

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
    let opened = App::open(config)?;
    if let Some(password) = &opened.initial_admin_password {
        announce_admin(data_dir, password);
    }
    let server = crate::rocket(opened.app)?;
    rocket::execute(server.launch()).map_err(|e| Error::Internal(format!("server: {e}")))?;
    Ok(ExitCode::SUCCESS)
}
