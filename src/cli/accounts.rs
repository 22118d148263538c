//! `drydock user create|set-password` and `drydock apikey create`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::{load_config, read_password_stdin, runtime};
use crate::access::Proof;
use crate::accounts::{self, NewUserInput};
use crate::app::App;
use crate::error::{Error, Result};
use crate::store::users;

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input (required).
        #[arg(long, required = true)]
        password_stdin: bool,
        /// A built-in role, e.g. "Project Deployer"; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Reset a user's password; the new one is read from standard input.
    SetPassword {
        #[arg(long)]
        username: String,
        #[arg(long, required = true)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
pub enum ApiKeyCommand {
    /// Create an API key for a user and print it (shown only this once).
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        purpose: String,
    },
}

fn open(data_dir: &Path) -> Result<App> {
    let opened = App::open(load_config(data_dir)?)?;
    if let Some(password) = opened.initial_admin_password {
        super::serve::announce_admin(data_dir, &password);
    }
    Ok(opened.app)
}

pub fn user(data_dir: &Path, cmd: UserCommand) -> Result<ExitCode> {
    let app = open(data_dir)?;
    let proof = Proof::command_line();
    let rt = runtime()?;
    match cmd {
        UserCommand::Create {
            username,
            roles,
            display_name,
            ..
        } => {
            let input = NewUserInput {
                username,
                display_name,
                password: read_password_stdin()?,
                roles,
                is_active: true,
            };
            let user = rt.block_on(accounts::create_user(
                &app.store,
                &app.hasher,
                &proof,
                input,
            ))?;
            let roles: Vec<&str> = user.roles.iter().map(|r| r.name()).collect();
            println!(
                "created Users-{} {} [{}]",
                user.id,
                user.username,
                roles.join(", ")
            );
        }
        UserCommand::SetPassword { username, .. } => {
            let password = read_password_stdin()?;
            rt.block_on(accounts::set_password_by_name(
                &app.store,
                &app.hasher,
                &proof,
                &username,
                password,
            ))?;
            println!("password of {username} changed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn apikey(data_dir: &Path, cmd: ApiKeyCommand) -> Result<ExitCode> {
    let app = open(data_dir)?;
    let proof = Proof::command_line();
    let ApiKeyCommand::Create { username, purpose } = cmd;
    let rt = runtime()?;
    let name = username.clone();
    let user = rt
        .block_on(app.store.read(move |c| users::find_by_username(c, &name)))?
        .ok_or_else(|| Error::NotFound(format!("No user named '{username}'.")))?;
    let (_, key) = rt.block_on(accounts::create_api_key(
        &app.store, &proof, user.id, &purpose,
    ))?;
    println!("{key}");
    Ok(ExitCode::SUCCESS)
}
