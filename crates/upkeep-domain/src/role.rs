//! Roles of API tokens and what each may do.
//!
//! Roles are ordered: `viewer` reads, `editor` also changes runtime facts (incidents,
//! maintenance, subscribers, backups, drills), `admin` also manages tokens, reloads the
//! configuration and overrides the maintenance policy. `hook` stands apart: it may only post
//! alerts to the Alertmanager hook (which `editor` and `admin` may post to as well), so the
//! secret kept in Alertmanager's configuration can neither read nor change anything else.

use std::fmt;
use std::str::FromStr;

/// The role carried by an API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Only posts to the Alertmanager hook; nothing else, not even reading.
    Hook,
    Viewer,
    Editor,
    Admin,
}

impl Role {
    /// All roles, weakest first.
    pub const ALL: [Role; 4] = [Role::Hook, Role::Viewer, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Hook => "hook",
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Whether a holder of `self` may do what needs `required`: a stronger role may do what a
    /// weaker one may, except that `hook` may do only what needs `hook`, and what needs `hook`
    /// (posting alerts) is also open to `editor` and `admin`, not to `viewer`.
    pub fn allows(self, required: Role) -> bool {
        match (self, required) {
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

/// The error for a role name that is not `viewer`, `editor`, `admin` or `hook`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: expected viewer, editor, admin or hook")]
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
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert_eq!("root".parse::<Role>(), Err(UnknownRole("root".into())));
    }
}
