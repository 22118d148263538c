//! `drydock node list|drain|undrain|task-cap`.

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::{load_config, runtime};
use crate::access::Proof;
use crate::clock;
use crate::cluster;
use crate::error::Result;
use crate::store::{nodes, Store};

#[derive(Subcommand)]
pub enum NodeCommand {
    /// List the server nodes: status, last seen, task cap, running tasks.
    List,
    /// Drain a node: it finishes what it runs and starts nothing new.
    Drain { name: String },
    /// End a node's drain.
    Undrain { name: String },
    /// Set how many tasks a node runs at once (until it restarts).
    TaskCap { name: String, cap: i64 },
}

pub fn run(data_dir: &Path, cmd: NodeCommand) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    crate::files::prepare_data_dir(data_dir)?;
    let store = Store::open(&config)?;
    let proof = Proof::command_line();
    let rt = runtime()?;
    let node = match cmd {
        NodeCommand::List => {
            let now = clock::now_ms();
            for n in store.read_now(nodes::nodes)? {
                let status = cluster::status(&n, now, config.node_offline_secs * 1000);
                println!(
                    "{:20} {:9} last seen {}  task cap {:3}  running {:3}  version {}",
                    n.name,
                    status,
                    clock::display(n.last_seen),
                    n.task_cap,
                    n.running,
                    n.version
                );
            }
            return Ok(ExitCode::SUCCESS);
        }
        NodeCommand::Drain { name } => {
            rt.block_on(cluster::set_draining(&store, &proof, &name, true))?
        }
        NodeCommand::Undrain { name } => {
            rt.block_on(cluster::set_draining(&store, &proof, &name, false))?
        }
        NodeCommand::TaskCap { name, cap } => {
            rt.block_on(cluster::set_task_cap(&store, &proof, &name, cap))?
        }
    };
    let state = if node.draining { "draining" } else { "running" };
    println!("node {}: {state}, task cap {}", node.name, node.task_cap);
    Ok(ExitCode::SUCCESS)
}
