//! Leaf types the store keeps and every layer names: the built-in roles (their names;
//! what they grant is `access::permissions`).

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
