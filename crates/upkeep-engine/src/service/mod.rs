//! Application services: one function per use case, called alike by the admin API, the
//! command line and any other front end, so every one of them applies the same rules, writes
//! the same audit rows and refuses alike. A service takes the store, the configuration and the
//! instant of the request, and returns a typed error that each front end puts in its own words
//! (the API as `application/problem+json`, the CLI as a message); parsing a request's own
//! format (JSON bodies, flags) stays with the front end.

pub mod agents;
pub mod audit;
pub mod backups;
pub mod incident;
pub mod inventory;
pub mod latency;
pub mod maintenance;
pub mod notifications;
pub mod rollout;
pub mod subscribers;
pub mod token;
pub mod user;

/// Who asks: the actor the audit log records, and whether they may override a policy (an
/// admin token on the API; an operator on the command line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub actor: String,
    pub may_override: bool,
}
