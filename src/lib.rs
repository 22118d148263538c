//! drydock: a self-hosted deployment and task server with Octopus-style maintenance mode.
//!
//! [`App::open`] prepares a data directory (database, migrations, secret key, first
//! administrator); [`rocket()`] builds the web server around it. The binary and the tests
//! both go through these two functions. The crate root only declares the modules and
//! re-exports those two: nothing in `src/` names it.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod access;
pub mod accounts;
pub mod api;
pub mod app;
pub mod approvals;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod deploy;
pub mod error;
pub mod files;
pub mod freezes;
pub mod http;
pub mod maintenance;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod password;
pub mod process;
pub mod queue;
pub mod secrets;
pub mod server;
pub mod store;
pub mod system_tasks;
pub mod tokens;
pub mod validate;
pub mod variables;
pub mod web;

pub use crate::app::{App, Opened};
pub use crate::server::rocket;
