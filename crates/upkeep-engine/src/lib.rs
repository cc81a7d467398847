//! upkeep's background side: the clock, the live configuration and its reloads, the supervisor
//! that starts and stops background tasks, and leases that let replicas share work.
//!
//! Later engines live here as modules of their own, each started by the supervisor: the probe
//! scheduler (`monitoring`), the maintenance scheduler (`maintenance`), the outbox worker
//! (`notify`) and the continuity jobs (`continuity`). Each takes the current instant from a
//! [`clock::Clock`] and the configuration from a [`config::ConfigHandle`], and asks a
//! [`lease::LeaseKeeper`] before doing work that must run once across replicas.
//!
//! [`service`] holds the application's use cases (scheduling a maintenance, starting it, ...),
//! called alike by the admin API and the command line.

pub mod alertmanager;
pub mod backups;
pub mod clock;
pub mod config;
pub mod follower;
pub mod incidents;
pub mod lease;
pub mod maintenance;
pub mod metrics;
pub mod monitoring;
pub mod notify;
pub mod periodic;
pub mod reports;
pub mod self_backup;
pub mod service;
pub mod slo_alerts;
pub mod supervisor;
