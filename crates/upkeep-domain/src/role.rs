//! Roles of API tokens and what each may do.
//!
//! Roles are ordered: `viewer` reads, `editor` also changes runtime facts (incidents,
//! maintenance, subscribers, backups, drills), `admin` also manages tokens, reloads the
//! configuration and overrides the maintenance policy. `hook` stands apart: it may only post
//! alerts to the Alertmanager hook (which `editor` and `admin` may post to as well), so the
//! secret kept in Alertmanager's configuration can neither read nor change anything else.
//! `agent` stands apart too: a probe agent's token (the agent is known by the token's name)
//! may only read its location's assignments and post its results, and nothing else may: the
//! assignments carry the monitors' secrets (docs/agents.md).

use std::fmt;
use std::str::FromStr;

/// The role carried by an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Only posts to the Alertmanager hook; nothing else, not even reading.
    Hook,
    /// A probe agent: only reads its assignments and posts its results; nothing else.
    Agent,
    Viewer,
    Editor,
    Admin,
}

impl Role {
    /// All roles, weakest first.
    pub const ALL: [Role; 5] = [
        Role::Hook,
        Role::Agent,
        Role::Viewer,
        Role::Editor,
        Role::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hook => "hook",
            Role::Agent => "agent",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Whether a holder of `self` may do what needs `required`: a stronger role may do what a
    /// weaker one may, except that `hook` may do only what needs `hook`, and what needs `hook`
    /// (posting alerts) is also open to `editor` and `admin`, not to `viewer`; `agent` may do
    /// only what needs `agent`, and only `agent` may do that.
    pub fn allows(self, required: Role) -> bool {
        match (self, required) {
            (Role::Agent, _) | (_, Role::Agent) => self == required,
            (Role::Hook, required) => required == Role::Hook,
            (role, Role::Hook) => role >= Role::Editor,
            (role, required) => role >= required,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a role name that is not `viewer`, `editor`, `admin`, `hook` or `agent`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected viewer, editor, admin, hook or agent")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Admin.allows(Role::Editor));
        assert!(Role::Editor.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Editor));
        assert!(!Role::Editor.allows(Role::Admin));
        // `hook` may only post alerts; posting alerts is open to editors and admins too.
        for r in [Role::Viewer, Role::Editor, Role::Admin] {
            assert!(!Role::Hook.allows(r), "{r}");
        }
        assert!(Role::Hook.allows(Role::Hook));
        assert!(Role::Editor.allows(Role::Hook));
        assert!(Role::Admin.allows(Role::Hook));
        assert!(!Role::Viewer.allows(Role::Hook));
        // `agent` may only do what needs `agent`, and nobody else may.
        for r in Role::ALL {
            assert_eq!(Role::Agent.allows(r), r == Role::Agent, "{r}");
            assert_eq!(r.allows(Role::Agent), r == Role::Agent, "{r}");
        }
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
    }
}
