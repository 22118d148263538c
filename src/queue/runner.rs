//! Runs one claimed task to its end.
//!
//! A `Deploy` task runs the project's script under `bash` in a fresh working directory,
//! as the leader of its own process group. Its stdout and stderr lines go to the task
//! log as they come, written in batches by the node's output thread (`queue::output`:
//! every 100 ms; the runner makes no database call while the script runs). On cancel, timeout
//! or node shutdown the whole group gets SIGTERM, then SIGKILL after the grace period;
//! when the script ends, whatever it left in its group is killed too, so no child
//! process outlives its task.

use std::os::unix::process::ExitStatusExt;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use super::jobs::{Ending, Job};
use super::output::{drain_pipes, watch, Pipe};
use super::{until_committed, Settings, TICK};
use crate::clock;
use crate::error::{Error, Result};
use crate::model::{TaskKind, TaskState};
use crate::store::tasks::{self, Task};
use crate::store::{projects, BookTx, Store};
use crate::variables::{self, resolve, resolve::Facts};

/// A task's error when its script was stopped because its node was cut off.
pub const CUT_OFF: &str = "stopped: this node could not reach the database for too long \
                           (its heartbeat stopped), so it stopped the script before the \
                           cluster took the node for offline";

/// How a task ended.
struct Outcome {
    state: TaskState,
    error: Option<String>,
    exit_code: Option<i64>,
}

impl Outcome {
    /// Not run at all: the task goes back to the queue (`Queued` is never an end).
    fn given_back(why: String) -> Outcome {
        Outcome {
            state: TaskState::Queued,
            error: Some(why),
            exit_code: None,
        }
    }

    fn failed(error: String) -> Outcome {
        Outcome {
            state: TaskState::Failed,
            error: Some(error),
            exit_code: None,
        }
    }
}

/// Runs `task` to its end and records it; `then`, in the same transaction as that
/// record, may claim this thread's next task, which is returned.
pub fn run(
    store: &Store,
    settings: &Settings,
    task: Task,
    cancel: &AtomicBool,
    then: impl FnOnce(&BookTx) -> Result<Vec<Task>>,
) -> Vec<Task> {
    let id = task.id;
    let outcome = match task.name {
        TaskKind::Deploy => deploy(store, settings, &task, cancel)
            .unwrap_or_else(|e| Outcome::failed(e.to_string())),
        system if task.is_system => {
            let job = Job {
                store,
                queue: settings,
                task_id: id,
                cancel,
            };
            match settings.jobs.run(system.as_str(), job) {
                Ending::Done => Outcome {
                    state: TaskState::Success,
                    error: None,
                    exit_code: None,
                },
                Ending::Stopped => stopped_outcome(store, id, None),
                Ending::Failed(e) => Outcome::failed(e),
            }
        }
        other => Outcome::failed(format!(
            "drydock does not know how to run a task named '{other}'"
        )),
    };
    // The end is recorded whatever the database does meanwhile (a restart, a lost
    // connection): recording it is idempotent, so it is retried until it commits. Only
    // the first attempt also claims this thread's next task.
    let ended_at = clock::now_ms();
    if outcome.state == TaskState::Queued {
        let why = outcome.error.unwrap_or_default();
        eprintln!("drydock: ServerTasks-{id} goes back to the queue unstarted: {why}");
        until_committed(
            &format!("the return of ServerTasks-{id} to the queue"),
            || store.bookkeeping_now(|tx| tasks::release(tx, id, &settings.node, ended_at)),
        );
        return Vec::new();
    }
    let mut then = Some(then);
    until_committed(&format!("the end of ServerTasks-{id}"), || {
        store.bookkeeping_now(|tx| {
            crate::store::claim::lock_queue(tx)?;
            let ended = tasks::finish(
                tx,
                id,
                outcome.state,
                outcome.error.as_deref(),
                outcome.exit_code,
                ended_at,
            )?;
            if ended {
                super::announce::ended(tx, &task, outcome.state, outcome.error.as_deref())?;
                crate::maintenance::announce_if_quiet(tx, ended_at)?;
            }
            let Some(then) = then.take() else {
                return Ok(Vec::new());
            };
            // A failed claim does not undo the record of the end.
            Ok(tx.partial(|| then(tx)).unwrap_or_else(|e| {
                eprintln!("drydock: claiming after ServerTasks-{id}: {e}");
                Vec::new()
            }))
        })
    })
}

fn deploy(store: &Store, settings: &Settings, task: &Task, cancel: &AtomicBool) -> Result<Outcome> {
    let (project_id, env_id, release_id) =
        match (task.project_id, task.environment_id, task.release_id) {
            (Some(p), Some(e), Some(r)) => (p, e, r),
            _ => {
                return Ok(Outcome::failed(
                    "the task names no project, environment or release".into(),
                ))
            }
        };
    let key = settings.master_key.as_deref();
    let found = store.read_now(|c| {
        Ok((
            projects::find(c, project_id)?,
            projects::find_environment(c, env_id)?,
            projects::find_release(c, release_id)?,
            variables::inputs(c, key, (project_id, release_id, task.id)),
        ))
    });
    // Nothing has run yet: a task whose first reads fail (the database restarting) goes
    // back to the queue rather than failing (other errors fail it, as they would again).
    let found = match found {
        Ok(found) => found,
        Err(e @ Error::Unavailable(_)) => return Ok(Outcome::given_back(e.to_string())),
        Err(e) => return Err(e),
    };
    let (Some(project), Some(env), Some(release), inputs) = found else {
        return Ok(Outcome::failed(
            "the project, environment or release was deleted before the task started".into(),
        ));
    };
    let script_user = match &settings.script_user {
        Ok(user) => user,
        Err(e) => return Ok(Outcome::failed(e.clone())),
    };
    let facts = Facts {
        project_id: project.id,
        project: project.name.clone(),
        environment_id: env.id,
        environment: env.name.clone(),
        release_id: release.id,
        release: release.version.clone(),
        deployment_id: 0,
        task_id: task.id,
    };
    let values = match inputs.and_then(|inputs| deployment_values(store, settings, facts, inputs)) {
        Ok(values) => values,
        Err(e @ Error::Unavailable(_)) => return Ok(Outcome::given_back(e.to_string())),
        Err(e) => return Ok(Outcome::failed(format!("the deployment's variables: {e}"))),
    };
    let dir = settings.work_dir.join(format!("ServerTasks-{}", task.id));
    let io = |path: &std::path::Path, e: std::io::Error| {
        Error::internal_from(format!("{}", path.display()), e)
    };
    let make = |dir: &std::path::Path| {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new().mode(0o700).create(dir)
    };
    match make(&dir) {
        Ok(()) => {}
        // Left by a node that died while the task ran.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_dir_all(&dir);
            make(&dir).map_err(|e| io(&dir, e))?;
        }
        // A stopping node on the same data directory removed the (empty) work
        // directory meanwhile: made again, with its checks, then the task's own.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            super::scripts::prepare_work_dir(&settings.work_dir).map_err(Error::internal)?;
            make(&dir).map_err(|e| io(&dir, e))?;
        }
        Err(e) => return Err(io(&dir, e)),
    }
    // With script_uids, this task's own user (the directory is handed to it now).
    let script_user = &script_user
        .for_task(&settings.work_dir, &dir, task.id)
        .map_err(|e| io(&dir, e))?;
    let script = dir.join("deploy.sh");
    // The script the release was created with; a release from before snapshots runs
    // the project's.
    let snapshot = release
        .deployment_script
        .as_deref()
        .unwrap_or(&project.deployment_script);
    // A script with values substituted into it is this task's alone; an unchanged
    // one is linked from the shared cache.
    let substituted = resolve::substitute(snapshot, &values);
    // Only a script that calls get_octopusvariable gets the prelude that defines it
    // and its values on standard input; any other runs as before (stdin /dev/null).
    let asks = substituted.contains("get_octopusvariable");
    match &substituted {
        std::borrow::Cow::Borrowed(same) => {
            script_user.place_script(&settings.work_dir, same, &script)
        }
        std::borrow::Cow::Owned(text) => script_user.place_private(text, &script),
    }
    .map_err(|e| io(&script, e))?;
    let prelude = dir.join(super::scripts::PRELUDE_FILE);
    if asks {
        script_user
            .place_script(&settings.work_dir, super::scripts::PRELUDE, &prelude)
            .map_err(|e| io(&prelude, e))?;
    }
    script_user.hand_over(&dir).map_err(|e| io(&dir, e))?;
    let mut vars = vec![
        ("DRYDOCK_PROJECT", project.name.clone()),
        ("DRYDOCK_RELEASE", release.version.clone()),
        ("DRYDOCK_ENVIRONMENT", env.name.clone()),
        ("DRYDOCK_TASK_ID", format!("ServerTasks-{}", task.id)),
    ];
    if asks {
        vars.push(("BASH_ENV", prelude.display().to_string()));
    }
    let timeout = Duration::from_secs(project.script_timeout_secs.max(1) as u64);
    let masker = resolve::Masker::new(
        values
            .iter()
            .filter(|v| v.sensitive)
            .map(|v| v.value.as_str()),
    );
    let stdin = if asks {
        variables_input(&values).map(Some)
    } else {
        Ok(None)
    };
    let outcome = match stdin {
        Err(e) => Ok(Outcome::failed(e)),
        Ok(stdin) => {
            match start_script(settings, script_user, task.id, &script, &dir, &vars, stdin) {
                Ok(started) => {
                    supervise(store, settings, task.id, started, timeout, cancel, masker)
                }
                Err(e) => Ok(Outcome::failed(e)),
            }
        }
    };
    // A task of its own user id leaves nothing running: every process of that id goes
    // (one that left the script's group and directory too) before the id is free.
    if script_user.uid() != settings.script_user.as_ref().map_or(0, |u| u.uid()) {
        crate::process::kill_user(script_user.uid());
    }
    // Most scripts leave nothing but their deploy.sh and prelude: calls, not a walk.
    let _ = std::fs::remove_file(&script);
    if asks {
        let _ = std::fs::remove_file(&prelude);
    }
    if std::fs::remove_dir(&dir).is_err() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

/// The values a deployment uses, from what its first read found (see
/// `variables::resolve`); what it used is recorded for its task page (names only)
/// when it has any variables of its own.
fn deployment_values(
    store: &Store,
    settings: &Settings,
    mut facts: Facts,
    inputs: variables::Inputs,
) -> Result<Vec<resolve::Resolved>> {
    facts.deployment_id = inputs.deployment_id.unwrap_or(0);
    let values = resolve::resolve(
        &inputs.sources,
        &facts,
        &inputs.prompted,
        settings.master_key.as_deref(),
    )?;
    let used = resolve::used(&values);
    if !used.is_empty() {
        let text = serde_json::to_string(&used)
            .map_err(|e| Error::internal_from("recording the variables used", e))?;
        store.bookkeeping_now(|tx| crate::store::variables::save_used(tx, facts.task_id, &text))?;
    }
    Ok(values)
}

/// The script's standard input: every value as name, NUL, value, NUL (what the prelude
/// reads), in a memory file that exists nowhere on disk and that no other process
/// can open by a path of its own.
fn variables_input(values: &[resolve::Resolved]) -> std::result::Result<std::fs::File, String> {
    use std::io::{Seek, Write};
    let fd =
        nix::sys::memfd::memfd_create(c"drydock-variables", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(|e| format!("could not pass the variables to the script: {e}"))?;
    let mut file = std::fs::File::from(fd);
    let mut bytes = Vec::new();
    for v in values {
        bytes.extend_from_slice(v.name.as_bytes());
        bytes.push(0);
        bytes.extend_from_slice(v.value.as_bytes());
        bytes.push(0);
    }
    file.write_all(&bytes)
        .and_then(|()| file.rewind())
        .map_err(|e| format!("could not pass the variables to the script: {e}"))?;
    Ok(file)
}

/// Why the script is being stopped.
#[derive(Clone, Copy, PartialEq)]
enum Stop {
    Cancel,
    Timeout,
    /// This node could not write its heartbeat for long: the cluster is about to fail
    /// its tasks (see `queue::heartbeat`).
    CutOff,
}

/// Starts `bash script` in `dir` as the script user: through the node's launcher when
/// it has one that can run, else as a child of this process (through `setpriv` as root).
fn start_script(
    settings: &Settings,
    script_user: &super::scripts::ScriptUser,
    id: i64,
    script: &std::path::Path,
    dir: &std::path::Path,
    vars: &[(&str, String)],
    stdin: Option<std::fs::File>,
) -> std::result::Result<Script, String> {
    if let Some(launcher) = &settings.launcher {
        let bash = super::scripts::program("bash");
        let env = script_user.environment(vars);
        let given = stdin
            .as_ref()
            .map(|f| f.try_clone().map(std::os::fd::OwnedFd::from))
            .transpose()
            .map_err(|e| format!("could not pass the variables to the script: {e}"))?;
        match launcher.spawn(bash, script, dir, env, settings.script_nice, given.as_ref()) {
            Ok(launched) => return Ok(Script::Launched(launched)),
            Err(super::launcher::NotStarted::Failed(e)) => {
                // The launcher may have started it before it stopped answering.
                crate::process::kill_leftovers(&settings.work_dir, &[id], script_user.uid());
                return Err(e);
            }
            Err(super::launcher::NotStarted::Unavailable) => {}
        }
    }
    let mut command = script_user.command(script, dir, vars);
    command
        .stdin(stdin.map_or_else(Stdio::null, Stdio::from))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    super::scripts::spawn_at(settings.script_nice, command)
        .map(Script::Child)
        .map_err(|e| format!("could not start bash: {e}"))
}

/// A started script: a child of this process, or one the launcher started.
enum Script {
    Child(Child),
    Launched(super::launcher::Launched),
}

impl Script {
    /// Signals the script's process group. False when that is no longer possible.
    fn signal(&self, group: Pid, signal: Signal) -> bool {
        match self {
            Script::Child(_) => killpg(group, signal).is_ok(),
            Script::Launched(launched) => launched.signal(signal),
        }
    }
}

fn supervise(
    store: &Store,
    settings: &Settings,
    id: i64,
    mut script: Script,
    timeout: Duration,
    cancel: &AtomicBool,
    masker: resolve::Masker,
) -> Result<Outcome> {
    // The runner's own thread watches the script's two pipes and its exit (a pidfd of
    // its child, or the channel the launcher reports on) with one poll: no thread per
    // pipe, none to wait.
    let (group, exit, pipes) = match &mut script {
        Script::Child(child) => {
            let group = Pid::from_raw(child.id() as i32);
            let exit = match rustix::process::pidfd_open(
                rustix::process::Pid::from_child(child),
                rustix::process::PidfdFlags::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) => {
                    let _ = killpg(group, Signal::SIGKILL);
                    let _ = child.wait();
                    return Err(Error::internal_from("watching the script's process", e));
                }
            };
            let pipes = [
                child.stdout.take().map(|p| Pipe::new(p.into(), "stdout")),
                child.stderr.take().map(|p| Pipe::new(p.into(), "stderr")),
            ];
            (group, exit, pipes)
        }
        Script::Launched(launched) => {
            // Its channel: readable when the launcher reports the end, or is gone.
            let exit = launched
                .channel
                .try_clone()
                .map_err(|e| Error::internal_from("watching the script's process", e))?;
            let pipes = [
                launched.stdout.take().map(|p| Pipe::new(p, "stdout")),
                launched.stderr.take().map(|p| Pipe::new(p, "stderr")),
            ];
            (Pid::from_raw(0), exit, pipes)
        }
    };
    let mut pipes = pipes;

    let (started, began_at) = (Instant::now(), clock::now_ms());
    // No database call from here until the script has ended (see `queue::output`).
    let registered = settings.outputs.register(id, masker);
    let (log, told_to_stop) = (&registered.running.log, &registered.running.told_to_stop);
    let mut stop: Option<(Stop, Instant)> = None;
    let status = loop {
        let exited = match watch(&mut pipes, Some(&exit), TICK, log) {
            Ok(exited) => exited,
            Err(e) => {
                // Giving up on the script: it is stopped first, never left running
                // in a directory about to go.
                script.signal(group, Signal::SIGKILL);
                return Err(e);
            }
        };
        if exited {
            let status = match &mut script {
                // Nothing the script started outlives it: its group is killed before
                // the script is reaped, while its number cannot belong to others (the
                // launcher does the same for the scripts it starts).
                Script::Child(child) => {
                    let _ = killpg(group, Signal::SIGKILL);
                    child
                        .wait()
                        .map_err(|e| Error::internal_from("waiting for bash", e))
                }
                Script::Launched(launched) => launched.status().map_err(|e| {
                    // Its launcher died: what the script left is found by its
                    // working directory, as after a crash.
                    if let Ok(user) = &settings.script_user {
                        crate::process::kill_leftovers(&settings.work_dir, &[id], user.uid());
                    }
                    Error::internal(e)
                }),
            };
            match status {
                Ok(status) => break status,
                Err(e) => {
                    drain_pipes(store, &mut pipes, log)?;
                    return Err(e);
                }
            }
        }
        match stop {
            None => {
                let cancelled =
                    cancel.load(Ordering::SeqCst) || told_to_stop.load(Ordering::SeqCst);
                let why = if cancelled {
                    Some(Stop::Cancel)
                } else if started.elapsed() >= timeout {
                    Some(Stop::Timeout)
                } else if cut_off_before(settings, began_at) {
                    Some(Stop::CutOff)
                } else {
                    None
                };
                if let Some(why) = why {
                    script.signal(group, Signal::SIGTERM);
                    stop = Some((why, Instant::now()));
                }
            }
            Some((why, since)) => {
                let grace = if why == Stop::CutOff {
                    super::heartbeat::cut_off_grace(settings)
                } else {
                    settings.cancel_grace
                };
                if since.elapsed() >= grace {
                    script.signal(group, Signal::SIGKILL);
                }
            }
        }
    };
    drain_pipes(store, &mut pipes, log)?;
    let mut outcome = outcome_of(store, id, status, stop.map(|s| s.0), timeout);
    // A failure's summary quotes what the script last said on stderr.
    if outcome.state == TaskState::Failed && stop.is_none() {
        if let (Some(error), Some(said)) = (&mut outcome.error, log.last_error()) {
            *error = format!("{}: {said}", error.trim_end_matches('.'));
        }
    }
    Ok(outcome)
}

/// Whether this node was cut off from the database at or after `began_at` (epoch ms):
/// a script begun while it was already cut off had just been claimed, so the database
/// was back, and its heartbeat is about to say so.
fn cut_off_before(settings: &Settings, began_at: i64) -> bool {
    let since = settings.cut_off.load(Ordering::SeqCst);
    since != 0 && since >= began_at
}

/// A task stopped on request: cancelled by someone (it is `Cancelling`), or stopped
/// because this node is shutting down.
fn stopped_outcome(store: &Store, id: i64, code: Option<i64>) -> Outcome {
    let cancelled =
        store.read_now(|c| tasks::state_of(c, id)).ok().flatten() == Some(TaskState::Cancelling);
    if cancelled {
        Outcome {
            state: TaskState::Canceled,
            error: Some("Canceled while it was running.".into()),
            exit_code: code,
        }
    } else {
        Outcome {
            state: TaskState::Failed,
            error: Some("interrupted: server node stopped".into()),
            exit_code: code,
        }
    }
}

fn outcome_of(
    store: &Store,
    id: i64,
    status: ExitStatus,
    stop: Option<Stop>,
    timeout: Duration,
) -> Outcome {
    let code = status.code().map(i64::from);
    match stop {
        Some(Stop::Timeout) => Outcome {
            state: TaskState::TimedOut,
            error: Some(format!(
                "The script ran longer than its timeout of {} s and was stopped.",
                timeout.as_secs()
            )),
            exit_code: code,
        },
        Some(Stop::Cancel) => stopped_outcome(store, id, code),
        Some(Stop::CutOff) => Outcome {
            state: TaskState::Failed,
            error: Some(CUT_OFF.into()),
            exit_code: code,
        },
        None => match (code, status.signal()) {
            (Some(0), _) => Outcome {
                state: TaskState::Success,
                error: None,
                exit_code: Some(0),
            },
            (Some(n), _) => Outcome {
                state: TaskState::Failed,
                error: Some(format!("The script exited with status {n}.")),
                exit_code: Some(n),
            },
            (None, signal) => Outcome::failed(format!(
                "The script was killed by signal {}.",
                signal.unwrap_or_default()
            )),
        },
    }
}
