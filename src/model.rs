//! Leaf types the store keeps and every layer names: the built-in roles (their names;
//! what they grant is `access::permissions`), and the states and kinds that were
//! strings: task state, task kind, maintenance window state, node status. Each is
//! spelled once, as its variant's name (which is Octopus's spelling): Rust gets it from
//! `as_str`, SQL from `quoted` (for literals in queries, through `const_format`, so that
//! partial indexes still match), JSON and pages from `Display`/`Serialize`, and the
//! database reads it back through `FromSql`.

/// An enum spelled as strings (`spelled!`): how the store binds and reads it.
pub trait Spelling: Sized + Copy + 'static {
    fn spelling(self) -> &'static str;
    fn every() -> &'static [Self];
}

/// An enum whose variants are spelled as strings exactly as they are named.
macro_rules! spelled {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant),*
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),*
                }
            }

            /// As an SQL string literal (`'Queued'`).
            pub const fn quoted(self) -> &'static str {
                match self {
                    $($name::$variant => concat!("'", stringify!($variant), "'")),*
                }
            }

            /// Looks a spelling up, ignoring case.
            pub fn parse(text: &str) -> Option<$name> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str().eq_ignore_ascii_case(text.trim()))
            }
        }

        impl Spelling for $name {
            fn spelling(self) -> &'static str {
                self.as_str()
            }
            fn every() -> &'static [$name] {
                $name::ALL
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                Ok(self.as_str().into())
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(
                value: rusqlite::types::ValueRef<'_>,
            ) -> rusqlite::types::FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| rusqlite::types::FromSqlError::Other(
                        format!("'{text}' is not a {}", stringify!($name)).into(),
                    ))
            }
        }
    };
}

spelled! {
    /// A task's state (Octopus's `TaskState`).
    TaskState { Queued, Executing, Cancelling, Success, Failed, Canceled, TimedOut }
}

impl TaskState {
    /// Success, Failed, Canceled or TimedOut: it will not change again.
    pub const fn is_completed(self) -> bool {
        matches!(
            self,
            TaskState::Success | TaskState::Failed | TaskState::Canceled | TaskState::TimedOut
        )
    }
}

spelled! {
    /// What a task does: a deployment, or one of the built-in system tasks.
    TaskKind { Deploy, Retention, Backup, SessionCleanup, NodeHealth }
}

impl TaskKind {
    /// The built-in system tasks, in the order they are listed.
    pub const SYSTEM: [TaskKind; 4] = [
        TaskKind::Backup,
        TaskKind::NodeHealth,
        TaskKind::Retention,
        TaskKind::SessionCleanup,
    ];
}

spelled! {
    /// A scheduled maintenance window's state.
    WindowState { Scheduled, Active, Completed, Canceled }
}

spelled! {
    /// A server node's status, as the Nodes page and `drydock node list` show it.
    NodeStatus { Running, Draining, Offline, Stopped }
}

/// SQL lists of states, for `IN` clauses.
pub mod sql {
    use super::TaskState::*;
    use const_format::concatcp;

    /// Running on a node: `('Executing', 'Cancelling')`.
    pub const RUNNING: &str = concatcp!("(", Executing.quoted(), ", ", Cancelling.quoted(), ")");
    /// Not yet completed: queued or running.
    pub const ACTIVE: &str = concatcp!(
        "(",
        Queued.quoted(),
        ", ",
        Executing.quoted(),
        ", ",
        Cancelling.quoted(),
        ")"
    );
    /// Completed: success, failure, canceled or timed out.
    pub const COMPLETED: &str = concatcp!(
        "(",
        Success.quoted(),
        ", ",
        Failed.quoted(),
        ", ",
        Canceled.quoted(),
        ", ",
        TimedOut.quoted(),
        ")"
    );
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    SystemAdministrator,
    SystemManager,
    ProjectLead,
    ProjectDeployer,
    Viewer,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::SystemAdministrator,
        Role::SystemManager,
        Role::ProjectLead,
        Role::ProjectDeployer,
        Role::Viewer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Role::SystemAdministrator => "System Administrator",
            Role::SystemManager => "System Manager",
            Role::ProjectLead => "Project Lead",
            Role::ProjectDeployer => "Project Deployer",
            Role::Viewer => "Viewer",
        }
    }

    /// Looks a role up by its name, ignoring case and surrounding space.
    pub fn by_name(name: &str) -> Option<Role> {
        let name = name.trim();
        Role::ALL
            .into_iter()
            .find(|r| r.name().eq_ignore_ascii_case(name))
    }
}
