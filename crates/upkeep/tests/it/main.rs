//! The integration tests of the `upkeep` binary, one test binary: each module drives the real
//! command line or a real `upkeep serve`; `support` starts them, `receiver` (shared with the
//! engine's tests) records webhook deliveries.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../upkeep-engine/tests/it/receiver.rs"]
mod receiver;
mod support;

mod agent;
mod agent_networks;
mod alertmanager_real;
mod backup;
mod browser;
mod cdp;
mod cli;
mod console_browser;
mod console_replicas;
mod drill;
mod fast_path;
mod incident;
mod inventory;
mod latency;
mod maintenance;
mod maintenance_plan;
mod monitoring;
pub(crate) mod notify;
mod ping;
mod probe_shards;
mod prometheus_metrics;
mod proxy;
mod public_text;
mod report;
mod rollout;
mod rollout_crash;
mod statuspage_consumer;
mod user;
