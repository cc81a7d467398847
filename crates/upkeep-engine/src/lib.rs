//! upkeep's background side: the clock, the live configuration and its reloads, the supervisor
//! that starts, restarts and stops background tasks, and leases that let replicas share work.
//!
//! [`runtime::Engine::start`] boots the whole graph (`upkeep serve` and the tests use it): the
//! probe scheduler (`monitoring`), the maintenance engine (`maintenance`), the notification
//! pipeline (`notify`), automatic incidents, backups, SLO alerts and the self-backup. Each takes
//! the current instant from a [`clock::Clock`] and the configuration from a
//! [`config::ConfigHandle`]; periodic work runs on [`periodic::Periodic`] (gated by the leader
//! lease where it must run once across replicas), and the followers of the operator event log
//! read it through [`follower::EventFollower`].
//!
//! [`service`] holds the application's use cases (scheduling a maintenance, starting it, ...),
//! called alike by the admin API and the command line.

pub mod agent;
pub mod agents_watch;
pub mod alertmanager;
pub mod backups;
pub mod clock;
pub mod config;
pub mod follower;
pub mod incidents;
pub mod inventory;
pub mod lease;
pub mod maintenance;
pub mod metrics;
pub mod monitoring;
pub mod notify;
pub mod periodic;
pub mod reports;
pub mod rollout;
pub mod runtime;
pub mod self_backup;
pub mod service;
pub mod shell;
pub mod slo_alerts;
pub mod supervisor;
mod transitions;
