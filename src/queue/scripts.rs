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
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{Gid, Uid, User};

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

/// Who this node's scripts run as.
#[derive(Debug, Clone)]
pub enum ScriptUser {
    /// drydock runs as root: scripts run as this (non-root) user.
    Switched {
        name: String,
        uid: u32,
        gid: u32,
        home: PathBuf,
    },
    /// drydock does not run as root: scripts run as drydock's own user.
    Same {
        name: String,
        uid: u32,
        home: PathBuf,
    },
}

impl ScriptUser {
    /// Resolves `script_user` for a node running as the current user.
    pub fn resolve(script_user: &str) -> Result<ScriptUser, String> {
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
        Ok(ScriptUser::Switched {
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home: user.dir,
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

    pub fn name(&self) -> &str {
        match self {
            ScriptUser::Switched { name, .. } | ScriptUser::Same { name, .. } => name,
        }
    }

    /// `bash script` as this user, in `dir`, with a clean environment plus `vars`.
    pub fn command(&self, script: &Path, dir: &Path, vars: &[(&str, String)]) -> Command {
        let mut command = match self {
            ScriptUser::Switched { uid, gid, .. } => {
                let mut c = Command::new(program("setpriv"));
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"))
                    .args(SETPRIV_FLAGS)
                    .arg(program("bash"));
                c
            }
            ScriptUser::Same { .. } => Command::new(program("bash")),
        };
        command
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

    /// The launcher that starts this user's scripts, when drydock runs as root and
    /// knows its own binary ([`super::launcher`]).
    pub fn launcher(&self) -> Option<super::launcher::Launcher> {
        match self {
            ScriptUser::Switched { uid, gid, .. } => super::launcher::Launcher::new(*uid, *gid),
            ScriptUser::Same { .. } => None,
        }
    }

    /// Hands a task's fresh directory (and the files in it) to this user, readable by
    /// it alone.
    pub fn own(&self, path: &Path) -> std::io::Result<()> {
        if let ScriptUser::Switched { uid, gid, .. } = self {
            nix::unistd::chown(path, Some(Uid::from_raw(*uid)), Some(Gid::from_raw(*gid)))
                .map_err(std::io::Error::from)?;
        }
        let mode = if path.is_dir() { 0o700 } else { 0o600 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
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

/// Creates `work_dir` if missing (0711: scripts may pass through to their own
/// directory but not list the others), and refuses one that another user owns, that
/// others may write, or that is a symbolic link: it may sit in a shared place such as
/// /tmp, where someone else could have made it first.
pub fn prepare_work_dir(work_dir: &Path) -> Result<(), String> {
    let me = Uid::effective().as_raw();
    let failed = |e: std::io::Error| format!("{}: {e}", work_dir.display());
    if let Some(parent) = work_dir.parent() {
        fs::create_dir_all(parent).map_err(failed)?;
    }
    match fs::DirBuilder::new().mode(0o711).create(work_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(failed(e)),
    }
    let meta = fs::symlink_metadata(work_dir).map_err(failed)?;
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(format!(
            "the tasks' working directory {} is not a directory owned by drydock's user \
             (uid {me}) and writable by it alone; remove it, or set work_dir",
            work_dir.display()
        ));
    }
    // Scripts of another user must be able to pass through to their own directory.
    fs::set_permissions(work_dir, fs::Permissions::from_mode(0o711)).map_err(failed)
}
