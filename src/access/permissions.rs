//! Permissions and built-in roles, named exactly as Octopus names them
//! (their table is in `docs/accounts.md`, checked against this file by the docs tests).

use std::fmt;

pub use crate::model::Role;

/// Declares the permissions once: the enum, `ALL`, their names, and one requirement
/// marker type per permission (in [`need`]) for the route guards.
macro_rules! permissions {
    ($($name:ident),* $(,)?) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Permission {
            $($name),*
        }

        impl Permission {
            pub const ALL: [Permission; [$(stringify!($name)),*].len()] = [$(Permission::$name),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Permission::$name => stringify!($name)),*
                }
            }
        }

        /// What a route requires of its caller, as a type: `Change<need::UserEdit>`.
        pub mod need {
            use super::{Permission, Requirement};

            /// Any signed-in user.
            pub struct SignedIn;
            impl Requirement for SignedIn {
                const PERMISSION: Option<Permission> = None;
            }

            $(
                pub struct $name;
                impl Requirement for $name {
                    const PERMISSION: Option<Permission> = Some(Permission::$name);
                }
            )*
        }
    };
}

/// A route's requirement: a permission, or only being signed in.
pub trait Requirement: Send + Sync + 'static {
    const PERMISSION: Option<Permission>;
}

permissions!(
    AdministerSystem,
    ProjectView,
    ProjectCreate,
    ProjectEdit,
    ProjectDelete,
    EnvironmentView,
    EnvironmentCreate,
    EnvironmentEdit,
    ReleaseCreate,
    DeploymentCreate,
    TaskView,
    TaskCreate,
    TaskCancel,
    EventView,
    UserView,
    UserEdit,
    DeploymentFreezeAdminister,
    LibraryVariableSetView,
    LibraryVariableSetEdit,
    SubscriptionView,
    SubscriptionEdit,
);

use Permission::*;

impl Permission {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions, as a bit set (16 permissions fit easily).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub fn of(permissions: &[Permission]) -> PermissionSet {
        PermissionSet(permissions.iter().fold(0, |acc, p| acc | p.bit()))
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    pub fn union(self, other: PermissionSet) -> PermissionSet {
        PermissionSet(self.0 | other.0)
    }

    pub fn names(self) -> Vec<&'static str> {
        Permission::ALL
            .iter()
            .filter(|p| self.contains(**p))
            .map(|p| p.name())
            .collect()
    }
}

/// What each built-in role grants. The roles themselves are
/// [`crate::model::Role`]: the store keeps them; only here do they mean permissions.
impl Role {
    pub fn permissions(self) -> PermissionSet {
        match self {
            Role::SystemAdministrator => PermissionSet::of(&Permission::ALL),
            Role::SystemManager => PermissionSet::of(&Permission::ALL[1..]),
            Role::ProjectLead => PermissionSet::of(&[
                ProjectView,
                ProjectCreate,
                ProjectEdit,
                ProjectDelete,
                EnvironmentView,
                EnvironmentCreate,
                EnvironmentEdit,
                ReleaseCreate,
                DeploymentCreate,
                TaskView,
                TaskCreate,
                TaskCancel,
                EventView,
                LibraryVariableSetView,
                LibraryVariableSetEdit,
                SubscriptionView,
                SubscriptionEdit,
            ]),
            Role::ProjectDeployer => PermissionSet::of(&[
                ProjectView,
                EnvironmentView,
                ReleaseCreate,
                DeploymentCreate,
                TaskView,
                TaskCancel,
                LibraryVariableSetView,
            ]),
            Role::Viewer => PermissionSet::of(&[
                ProjectView,
                EnvironmentView,
                TaskView,
                LibraryVariableSetView,
            ]),
        }
    }
}

/// The permissions granted by a list of roles.
pub fn permissions_of(roles: &[Role]) -> PermissionSet {
    roles.iter().fold(PermissionSet::default(), |acc, r| {
        acc.union(r.permissions())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_roles_match_the_spec() {
        assert_eq!(Role::SystemAdministrator.permissions().names().len(), 21);
        let manager = Role::SystemManager.permissions();
        assert!(!manager.contains(AdministerSystem));
        assert!(manager.contains(DeploymentFreezeAdminister));
        assert_eq!(manager.names().len(), 20);
        let lead = Role::ProjectLead.permissions();
        assert!(lead.contains(TaskCreate) && lead.contains(EventView));
        assert!(!lead.contains(DeploymentFreezeAdminister));
        assert!(!lead.contains(UserView) && !lead.contains(AdministerSystem));
        assert_eq!(
            Role::ProjectDeployer.permissions().names(),
            vec![
                "ProjectView",
                "EnvironmentView",
                "ReleaseCreate",
                "DeploymentCreate",
                "TaskView",
                "TaskCancel",
                "LibraryVariableSetView"
            ]
        );
        assert_eq!(
            Role::Viewer.permissions().names(),
            vec![
                "ProjectView",
                "EnvironmentView",
                "TaskView",
                "LibraryVariableSetView"
            ]
        );
        assert_eq!(
            Role::by_name(" project deployer"),
            Some(Role::ProjectDeployer)
        );
    }
}
