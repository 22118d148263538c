//! Who deployment scripts run as, and where.
//!
//! When drydock runs as root, a script never does: it runs as `script_user` (default
//! `nobody`) with that user's groups, through `setpriv` (util-linux, on every Debian)
//! with no capabilities and `no_new_privs`, so neither setuid programs nor file
//! capabilities give it more. It works in its own directory owned by that user, under
//! `work_dir`, outside the data directory (which is 0700, its files 0600): it cannot
//! read the database, `secret.key` or the initial password, and running drydock's own
//! binary from a script opens nothing. When drydock does not run as root it cannot
//! switch users: scripts run as drydock's own user, and the node says so at start and
//! on the Nodes page.
//!
//! Either way a script gets a clean environment: `PATH`, `HOME`, `USER`, `LOGNAME`,
//! `LANG` and the documented `DRYDOCK_*` task variables, nothing of the server's own.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};
use sha2::{Digest, Sha256};

pub(crate) const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// `setpriv`'s flags after the user and group: the user's groups, no capabilities in
/// any set, `no_new_privs`.
pub(crate) const SETPRIV_FLAGS: [&str; 5] = [
    "--init-groups",
    "--no-new-privs",
    "--inh-caps=-all",
    "--bounding-set=-all",
    "--",
];

/// `started` through util-linux's `setsid`, in a session of its own: a
/// process can join only a process group of its own session, so nothing a script
/// starts can move into a group of the server's (or of anything else started from the
/// server's shell) and be killed with it; the script's group, which cleanup kills,
/// holds the script's own processes alone. (`--wait`: should `setsid` have to fork,
/// its exit is still the script's.) Used as the program, or after `setpriv --`.
pub(crate) fn in_own_session(started: &Path) -> [std::ffi::OsString; 3] {
    [program("setsid").into(), "--wait".into(), started.into()]
}

/// Who this node's scripts run as.
#[derive(Debug, Clone)]
pub enum ScriptUser {
    /// drydock runs as root: scripts run as this (non-root) user.
    Switched {
        name: String,
        uid: u32,
        gid: u32,
        home: PathBuf,
        /// The groups a script gets, when `setpriv` cannot look them up by the user
        /// id (one task's own, which no account has): `script_user`'s, looked up once
        /// at start with `script_uids`; `None`: the account's own.
        groups: Option<Vec<u32>>,
        /// `script_uids`: each task then runs as a user id of its own from this range
        /// (see `queue::task_users`).
        range: Option<super::task_users::UidRange>,
    },
    /// drydock does not run as root: scripts run as drydock's own user.
    Same {
        name: String,
        uid: u32,
        home: PathBuf,
    },
}

impl ScriptUser {
    /// Resolves `script_user` (and `script_uids`) for a node running as the current
    /// user.
    pub fn resolve(script_user: &str, script_uids: &str) -> Result<ScriptUser, String> {
        let range = super::task_users::UidRange::parse(script_uids)?;
        let me = Uid::current();
        if !me.is_root() {
            let user = User::from_uid(me).ok().flatten();
            return Ok(ScriptUser::Same {
                name: user
                    .as_ref()
                    .map_or_else(|| me.to_string(), |u| u.name.clone()),
                uid: me.as_raw(),
                home: user.map_or_else(|| PathBuf::from("/"), |u| u.dir),
            });
        }
        let user = User::from_name(script_user)
            .map_err(|e| format!("script_user '{script_user}': {e}"))?
            .ok_or_else(|| {
                format!(
                    "script_user '{script_user}' is not a user on this host; create it (e.g. \
                     `useradd --system --create-home drydock-scripts`) or set script_user to an \
                     existing unprivileged user"
                )
            })?;
        if user.uid.is_root() || user.gid == Gid::from_raw(0) {
            return Err(format!(
                "script_user '{script_user}' is root or in group root: deployment scripts never run as root; \
                 set script_user to an unprivileged user"
            ));
        }
        if range.is_some_and(|r| r.contains(user.uid.as_raw())) {
            return Err(format!(
                "script_uids includes script_user '{script_user}' (uid {}): the range must                  be user ids no account uses",
                user.uid
            ));
        }
        // Tasks of their own ids get this user's groups, looked up once here.
        let groups = match range {
            None => None,
            Some(_) => {
                let c_name = std::ffi::CString::new(user.name.as_str())
                    .map_err(|e| format!("script_user '{script_user}': {e}"))?;
                let list = nix::unistd::getgrouplist(&c_name, user.gid)
                    .map_err(|e| format!("script_user '{script_user}': its groups: {e}"))?;
                Some(list.into_iter().map(|g| g.as_raw()).collect())
            }
        };
        Ok(ScriptUser::Switched {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
            groups,
            range,
        })
    }

    /// Whether each task runs as a user id of its own (`script_uids`).
    pub fn per_task(&self) -> bool {
        matches!(self, ScriptUser::Switched { range: Some(_), .. })
    }

    /// Who task `task_id`'s script runs as: with `script_uids`, a free id of the
    /// range with this user's groups, to which its fresh directory `dir` is handed
    /// over (its home too); else this user.
    pub fn for_task(
        &self,
        work_dir: &Path,
        dir: &Path,
        task_id: i64,
    ) -> std::io::Result<ScriptUser> {
        let ScriptUser::Switched {
            name,
            gid,
            groups,
            range: Some(range),
            ..
        } = self
        else {
            return Ok(self.clone());
        };
        let uid = super::task_users::allocate(*range, work_dir, dir, task_id, *gid)?;
        Ok(ScriptUser::Switched {
            name: name.clone(),
            uid,
            gid: *gid,
            home: dir.to_path_buf(),
            groups: groups.clone(),
            range: None,
        })
    }

    /// What the node says once at start (and the Nodes page shows administrators) when
    /// scripts run with the server's own powers.
    pub fn warning(&self) -> Option<String> {
        match self {
            ScriptUser::Switched { .. } => None,
            ScriptUser::Same { name, uid, .. } => Some(format!(
                "drydock runs as {name} (uid {uid}), not as root, so it cannot switch users: \
                 deployment scripts run as {name} too and can read this node's data directory \
                 (database, secret.key). Run drydock as root with script_user, or see SECURITY.md."
            )),
        }
    }

    /// The user id scripts run as: the only one cleanup ever signals.
    pub fn uid(&self) -> u32 {
        match self {
            ScriptUser::Switched { uid, .. } | ScriptUser::Same { uid, .. } => *uid,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ScriptUser::Switched { name, .. } | ScriptUser::Same { name, .. } => name,
        }
    }

    /// `bash script` as this user, in `dir`, with a clean environment plus `vars`.
    pub fn command(&self, script: &Path, dir: &Path, vars: &[(&str, String)]) -> Command {
        let [setsid, wait, bash] = in_own_session(program("bash"));
        let mut command = match self {
            ScriptUser::Switched {
                uid, gid, groups, ..
            } => {
                let mut c = Command::new(program("setpriv"));
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"));
                match groups {
                    None => c.args(SETPRIV_FLAGS),
                    Some(groups) if groups.is_empty() => {
                        c.arg("--clear-groups").args(&SETPRIV_FLAGS[1..])
                    }
                    Some(groups) => {
                        let list: Vec<String> = groups.iter().map(u32::to_string).collect();
                        c.arg(format!("--groups={}", list.join(",")))
                            .args(&SETPRIV_FLAGS[1..])
                    }
                };
                c.arg(setsid);
                c
            }
            ScriptUser::Same { .. } => Command::new(setsid),
        };
        command
            .arg(wait)
            .arg(bash)
            .arg(script)
            .current_dir(dir)
            .env_clear()
            .envs(self.environment(vars));
        command
    }

    /// A script's whole environment: `PATH`, `HOME`, `USER`, `LOGNAME`, `LANG` and
    /// `vars`.
    pub fn environment(&self, vars: &[(&str, String)]) -> Vec<(String, String)> {
        let (name, home) = match self {
            ScriptUser::Switched { name, home, .. } | ScriptUser::Same { name, home, .. } => {
                (name, home)
            }
        };
        let lang = std::env::var("LANG").unwrap_or_else(|_| "C.UTF-8".into());
        let mut env = vec![
            ("PATH".to_string(), PATH.to_string()),
            ("HOME".to_string(), home.display().to_string()),
            ("USER".to_string(), name.clone()),
            ("LOGNAME".to_string(), name.clone()),
            ("LANG".to_string(), lang),
        ];
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    }

    /// Puts `script` at `at` (a task's `deploy.sh`), readable by this user, read-only
    /// (and as root, owned by drydock's user, so that no script can change it): a hard link to a copy kept in `work_dir/.scripts`, named by
    /// the script's SHA-256 and written once (a new directory entry per task instead
    /// of a file written, handed over and deleted). When that cannot be done (another
    /// file system's rules, a cache removed meanwhile), the file is written in place.
    pub fn place_script(&self, work_dir: &Path, script: &str, at: &Path) -> std::io::Result<()> {
        let cache = work_dir.join(".scripts");
        let name = format!("{}.sh", hex::encode(Sha256::digest(script.as_bytes())));
        let kept = cache.join(&name);
        if fs::hard_link(&kept, at).is_ok() {
            return Ok(());
        }
        if self.keep_script(&cache, &name, script).is_ok() && fs::hard_link(&kept, at).is_ok() {
            return Ok(());
        }
        fs::write(at, script)?;
        self.own(at)
    }

    /// Writes `script` into the cache as `name` (whole or not at all: written under
    /// another name, then renamed), owned by drydock's user and readable by the
    /// script user's group when that is another user. Copies older than an hour go
    /// then, so the cache holds the scripts in use, however often projects change.
    fn keep_script(&self, cache: &Path, name: &str, script: &str) -> std::io::Result<()> {
        match fs::DirBuilder::new().mode(0o711).create(cache) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let meta = fs::symlink_metadata(cache)?;
        if !meta.is_dir() || meta.uid() != Uid::effective().as_raw() {
            return Err(std::io::Error::other(
                "the script cache is not drydock's own",
            ));
        }
        let partial = cache.join(format!(
            ".{name}.{}.{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let written = (|| {
            let mut file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&partial)?;
            std::io::Write::write_all(&mut file, script.as_bytes())?;
            // Read-only: a script that writes to its own deploy.sh is refused rather
            // than changing the copy later tasks run.
            let mode = match self {
                ScriptUser::Switched { gid, .. } => {
                    nix::unistd::fchown(&file, None, Some(Gid::from_raw(*gid)))
                        .map_err(std::io::Error::from)?;
                    0o440
                }
                ScriptUser::Same { .. } => 0o400,
            };
            file.set_permissions(fs::Permissions::from_mode(mode))?;
            fs::rename(&partial, cache.join(name))
        })();
        if written.is_err() {
            let _ = fs::remove_file(&partial);
            return written;
        }
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        for entry in fs::read_dir(cache)?.flatten() {
            let stale = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at < old);
            if stale {
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(())
    }

    /// Writes `script` at `at` for this user alone (mode 0600): a script with values
    /// substituted into it, which no other task may read and the shared cache must
    /// not keep.
    pub fn place_private(&self, script: &str, at: &Path) -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(at)?;
        std::io::Write::write_all(&mut file, script.as_bytes())?;
        drop(file);
        self.own(at)
    }

    /// Hands a task's fresh directory (made 0700) to this user.
    pub fn hand_over(&self, dir: &Path) -> std::io::Result<()> {
        if let ScriptUser::Switched { uid, gid, .. } = self {
            nix::unistd::chown(dir, Some(Uid::from_raw(*uid)), Some(Gid::from_raw(*gid)))
                .map_err(std::io::Error::from)?;
        }
        Ok(())
    }

    /// Hands a file to this user, readable by it alone.
    fn own(&self, file: &Path) -> std::io::Result<()> {
        self.hand_over(file)?;
        fs::set_permissions(file, fs::Permissions::from_mode(0o600))
    }
}

/// What bash reads before a deployment script that calls `get_octopusvariable`
/// (through `BASH_ENV`; a script that does not name it runs without): the deployment's
/// variables from standard input (name, value, each ended by NUL; names without case)
/// into an array of the shell's own (not exported: what the script starts does not
/// inherit them), then `get_octopusvariable` as Octopus's bash scripts call it.
/// Standard input is then `/dev/null`, as before; `BASH_ENV` is unset so that bash
/// scripts the script starts do not read it again.
pub const PRELUDE: &str = r#"# drydock: the deployment's variables, and Octopus's get_octopusvariable.
unset BASH_ENV
declare -A __drydock_variables=()
while IFS= read -r -d '' __drydock_name && IFS= read -r -d '' __drydock_value; do
  __drydock_variables["${__drydock_name,,}"]=$__drydock_value
done
unset __drydock_name __drydock_value
exec 0</dev/null
get_octopusvariable() {
  local name="${1,,}"
  if [[ -n "${__drydock_variables[$name]+set}" ]]; then
    printf '%s
' "${__drydock_variables[$name]}"
  fi
}
"#;

/// The prelude's name in a task's directory.
pub const PRELUDE_FILE: &str = ".drydock-prelude.sh";

/// A spawn request for a thread at some niceness, and where to answer.
type SpawnRequest = (
    Command,
    std::sync::mpsc::Sender<std::io::Result<std::process::Child>>,
);

/// Starts `command` from a thread that runs at `nice` (one per niceness, kept for the
/// process's life), so the child has that niceness from its first instruction: a
/// child inherits its parent thread's, and the standard library's spawn cannot set
/// it. (A niceness set after the spawn would leave what the script starts at once
/// with the server's.)
pub(crate) fn spawn_at(nice: i32, command: Command) -> std::io::Result<std::process::Child> {
    use std::sync::mpsc;
    static SPAWNERS: std::sync::OnceLock<
        std::sync::Mutex<std::collections::HashMap<i32, mpsc::Sender<SpawnRequest>>>,
    > = std::sync::OnceLock::new();
    let spawner = {
        let mut spawners = SPAWNERS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match spawners.get(&nice) {
            Some(spawner) => spawner.clone(),
            None => {
                let (tx, rx) = mpsc::channel::<SpawnRequest>();
                std::thread::Builder::new()
                    .name(format!("drydock-spawn-{nice}"))
                    .spawn(move || {
                        let _ = rustix::process::setpriority_process(None, nice);
                        for (mut command, answer) in rx {
                            let _ = answer.send(command.spawn());
                        }
                    })?;
                spawners.insert(nice, tx.clone());
                tx
            }
        }
    };
    let (answer, answered) = mpsc::channel();
    spawner
        .send((command, answer))
        .map_err(|_| std::io::Error::other("the spawning thread is gone"))?;
    answered
        .recv()
        .map_err(|_| std::io::Error::other("the spawning thread is gone"))?
}

/// `name`'s absolute path, found once on the server's own `PATH` (then `/usr/bin`).
/// Scripts get a `PATH` of their own; a program named by an absolute path lets the
/// standard library start it with `posix_spawn` rather than by forking the whole
/// server (which costs a copy of its page tables per task: 3x fewer tasks a second).
pub(crate) fn program(name: &'static str) -> &'static Path {
    static FOUND: std::sync::OnceLock<std::collections::HashMap<&'static str, PathBuf>> =
        std::sync::OnceLock::new();
    let found = FOUND.get_or_init(|| {
        let path = std::env::var_os("PATH").unwrap_or_default();
        ["bash", "setpriv"]
            .into_iter()
            .map(|program| {
                let at = std::env::split_paths(&path)
                    .map(|dir| dir.join(program))
                    .find(|candidate| candidate.is_file())
                    .unwrap_or_else(|| Path::new("/usr/bin").join(program));
                (program, at)
            })
            .collect()
    });
    found
        .get(name)
        .map_or_else(|| Path::new(name), |p| p.as_path())
}

/// What a node leaves of `work_dir` when it stops with nothing running: nothing, unless
/// another node still works there. The script cache goes (a running node's next task
/// writes its script again), then the directory if it is empty (a node that finds it
/// gone makes it again for its next task).
pub fn leave_work_dir(work_dir: &Path) {
    let _ = fs::remove_dir_all(work_dir.join(".scripts"));
    let _ = fs::remove_dir(work_dir);
}

/// Creates `work_dir` if missing (0711: scripts may pass through to their own
/// directory but not list the others), and refuses one that another user owns, that
/// others may write, or that is a symbolic link: it may sit in a shared place such as
/// /tmp, where someone else could have made it first.
pub fn prepare_work_dir(work_dir: &Path) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", work_dir.display());
    if let Some(parent) = work_dir.parent() {
        fs::create_dir_all(parent).map_err(failed)?;
    }
    crate::files::own_work_dir(work_dir).map_err(|why| {
        format!(
            "the tasks' working directory {} {why}: it must be a directory of drydock's user \
             that no one else may write; remove it, or set work_dir",
            work_dir.display()
        )
    })?;
    // Scripts of another user must be able to pass through to their own directory.
    fs::set_permissions(work_dir, fs::Permissions::from_mode(0o711)).map_err(failed)
}

/// The ids of the task directories (`ServerTasks-N`) in `work_dir`.
pub fn task_dirs(work_dir: &Path) -> Vec<i64> {
    fs::read_dir(work_dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_str()?
                        .strip_prefix("ServerTasks-")?
                        .parse()
                        .ok()
                })
                .collect()
        })
        .unwrap_or_default()
}
