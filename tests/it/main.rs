//! The whole test suite in one binary, one module per area, sharing one `common`
//! helper set: the HTTP harness (Rocket's local client on a real SQLite file), the real
//! binary on a port (`common::server`), raw HTTP as an attacker writes it
//! (`common::raw`), and the browser (`common::browser`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod accessibility;
mod api;
mod api_accounts;
mod api_pages;
mod approval_pages;
mod approvals;
mod approvals_cluster;
mod approvals_races;
mod architecture;
mod attacks;
mod attacks_host;
mod attacks_sign_in;
mod auth;
mod browser;
mod browser_approvals;
mod browser_freezes;
mod browser_subscriptions;
mod cli;
mod cluster;
mod cluster_cuts;
mod cluster_faults;
mod cluster_nodes;
mod collections;
mod confirm_pages;
mod crash_loop;
mod db_faults;
mod deep_links;
mod docs;
mod freeze_pages;
mod freeze_queue;
mod freezes;
mod guard;
mod hostile;
mod hostile_races;
mod idempotency;
mod isolation;
mod key_cache;
mod launcher;
mod live_cells;
mod maintenance;
mod metrics;
mod new_user;
mod notices;
mod octopus_actions;
mod octopus_actions_refused;
mod octopus_api;
mod octopus_bodies;
mod octopus_client;
mod octopus_npm;
mod octopus_python;
mod pages;
mod postgres_backend;
mod postgres_tls;
mod queue;
mod queue_api;
mod queue_order;
mod recovery;
mod rolling;
mod second_attack;
mod secrets;
mod slugs;
mod spaces;
mod subscription_pages;
mod system_tasks;
mod task_pages;
mod variable_pages;
mod variables;
mod webhooks;
