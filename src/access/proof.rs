//! The proof that a change may be made. The store's `change` entry point demands one, and
//! outside this module it can only be had from the change guards (`auth::guards`), from
//! the command line, or from the built-in bootstrap and schedule code: so a route that
//! skips the guard cannot write (guard transparency).

use super::permissions::{Permission, PermissionSet};

/// How the acting identity was established; recorded on every audit event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    SessionCookie,
    ApiKey,
    CommandLine,
    Schedule,
    /// drydock itself (first-start bootstrap).
    System,
}

impl Via {
    /// The `IdentityEstablishedWith` text of Octopus's events.
    pub fn name(self) -> &'static str {
        match self {
            Via::SessionCookie => "Session cookie",
            Via::ApiKey => "API key",
            Via::CommandLine => "Command line",
            Via::Schedule => "Schedule",
            Via::System => "System",
        }
    }
}

/// Who is acting: a signed-in user, or drydock itself.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub username: String,
    pub permissions: PermissionSet,
}

impl Actor {
    pub fn can(&self, p: Permission) -> bool {
        self.permissions.contains(p)
    }

    pub fn is_admin(&self) -> bool {
        self.can(Permission::AdministerSystem)
    }
}

/// Permission to make one change. Fields are private: see the module comment.
///
/// A request's proof also names the permission its route required, so that the store
/// can decide again inside the change's own transaction, with the caller's roles as
/// they are in the database at commit time ([`Proof::refreshed`]): a caller demoted
/// while their request's body was still arriving is refused then.
#[derive(Debug, Clone)]
pub struct Proof {
    actor: Actor,
    via: Via,
    required: Option<Permission>,
}

impl Proof {
    /// Used by the request guards once authentication, permission and CSRF have passed.
    pub fn for_request(actor: Actor, via: Via, required: Option<Permission>) -> Proof {
        Proof {
            actor,
            via,
            required,
        }
    }

    /// The permission the change's route required (`None`: only being signed in).
    pub fn required(&self) -> Option<Permission> {
        self.required
    }

    /// This proof for a change whose permission depends on what the request names
    /// (whose variable set it edits): refused now when the caller lacks `p`, and
    /// decided again inside the change's transaction as a route's own permission is.
    /// Only a proof that required nothing more may be narrowed.
    pub fn needing(&self, p: Permission) -> Result<Proof, Permission> {
        if !self.actor.can(p) || self.required.is_some_and(|q| q != p) {
            return Err(p);
        }
        let mut proof = self.clone();
        proof.required = Some(p);
        Ok(proof)
    }

    /// The same proof with the caller's permissions as the database holds them now.
    pub fn refreshed(&self, permissions: PermissionSet) -> Proof {
        let mut proof = self.clone();
        proof.actor.permissions = permissions;
        proof
    }

    /// A change typed at the command line by whoever can open the data directory (the
    /// OS user who owns it is an administrator, in maintenance mode too). Its audit
    /// events name that OS user and the process: `command line (dana, uid 1000, pid
    /// 4242, parent 4100 bash)`.
    pub(crate) fn command_line() -> Proof {
        Proof::internal(&command_line_actor(), Via::CommandLine)
    }

    /// A change made by a maintenance window's schedule.
    pub(crate) fn schedule() -> Proof {
        Proof::internal("schedule", Via::Schedule)
    }

    /// drydock's own changes (first-start bootstrap).
    pub(crate) fn system() -> Proof {
        Proof::internal("system", Via::System)
    }

    fn internal(name: &str, via: Via) -> Proof {
        Proof {
            actor: Actor {
                user_id: None,
                username: name.into(),
                permissions: PermissionSet::of(&Permission::ALL),
            },
            via,
            required: None,
        }
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    pub fn via(&self) -> Via {
        self.via
    }
}

/// The OS user and process behind a command-line change.
fn command_line_actor() -> String {
    let uid = nix::unistd::Uid::current();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map_or_else(|| uid.to_string(), |u| u.name);
    let parent = nix::unistd::getppid();
    let parent_name = std::fs::read_to_string(format!("/proc/{parent}/comm"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    format!(
        "command line ({user}, uid {uid}, pid {}, parent {parent} {parent_name})",
        std::process::id()
    )
}
