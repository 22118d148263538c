//! `drydock approvals list|approve|reject`: the waiting deployments, and decisions made
//! as the command line's operator (an administrator, audited with the OS user and
//! process, as every command-line change is).

use std::path::Path;
use std::process::ExitCode;

use clap::Subcommand;

use super::{load_config, runtime};
use crate::access::Proof;
use crate::approvals::{self, inbox, Outcome};
use crate::clock;
use crate::error::{Error, Result};
use crate::store::{approvals as stored, Store};

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// List the approvals deployments wait for, oldest first.
    List,
    /// Approve: ID is an interruption (`Interruptions-N`) or a task (`ServerTasks-N`,
    /// every approval it waits for).
    Approve {
        id: String,
        /// Recorded with the decision (some rules require one).
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reject: the deployment ends `Canceled`, with the note.
    Reject {
        id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// `Prefix-N` or `N`, as N.
fn number(prefix: &str, text: &str) -> Option<i64> {
    let t = text.trim();
    let n = match t.split_once('-') {
        Some((p, n)) if p.eq_ignore_ascii_case(prefix) => n,
        Some(_) => return None,
        None => t,
    };
    n.parse().ok().filter(|n: &i64| *n > 0)
}

/// The interruptions `id` names: one, or every pending one of a task.
fn named(store: &Store, id: &str) -> Result<Vec<i64>> {
    if let Some(task) = number("ServerTasks", id).filter(|_| id.contains('-')) {
        let pending: Vec<i64> = store
            .read_now(|c| stored::of_task(c, task))?
            .into_iter()
            .filter(|i| i.is_pending())
            .map(|i| i.id)
            .collect();
        if pending.is_empty() {
            return Err(Error::NotFound(format!(
                "ServerTasks-{task} waits for no approval."
            )));
        }
        return Ok(pending);
    }
    match number("Interruptions", id) {
        Some(n) => Ok(vec![n]),
        None => Err(Error::bad(
            "ID",
            format!(
                "'{}' is neither an interruption (Interruptions-N) nor a task (ServerTasks-N)",
                crate::error::shown(id)
            ),
        )),
    }
}

pub fn run(data_dir: &Path, cmd: ApprovalsCommand) -> Result<ExitCode> {
    let config = load_config(data_dir)?;
    crate::files::prepare_data_dir(data_dir)?;
    let store = Store::open(&config)?;
    let proof = Proof::command_line();
    let (id, outcome, note) = match cmd {
        ApprovalsCommand::List => {
            let now = clock::now_ms();
            let actor = proof.actor().clone();
            let waiting = store.read_now(|c| inbox::pending(c, &actor))?;
            if waiting.is_empty() {
                println!("no deployment waits for an approval");
            }
            for s in waiting {
                let i = &s.interruption;
                println!(
                    "Interruptions-{}  ServerTasks-{}  {}  waiting since {}{}  rule: {}",
                    i.id,
                    i.task_id,
                    s.task.description,
                    clock::display(i.created_at),
                    match s.task.queued_by.as_str() {
                        "" => String::new(),
                        by => format!(", queued by {by}"),
                    },
                    s.rule
                );
                if s.task.queue_time > now {
                    println!(
                        "    scheduled: starts {} once approved",
                        clock::display(s.task.queue_time)
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        ApprovalsCommand::Approve { id, note } => (id, Outcome::Proceed, note),
        ApprovalsCommand::Reject { id, note } => (id, Outcome::Abort, note),
    };
    let rt = runtime()?;
    for n in named(&store, &id)? {
        let i = rt.block_on(approvals::submit(&store, &proof, n, outcome, note.clone()))?;
        let verb = match outcome {
            Outcome::Proceed => "approved",
            Outcome::Abort => "rejected (the deployment is canceled)",
        };
        println!(
            "Interruptions-{n} {verb}: ServerTasks-{} {}",
            i.task_id, i.title
        );
        if outcome == Outcome::Abort {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
