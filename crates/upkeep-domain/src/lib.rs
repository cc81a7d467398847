//! The pure domain of upkeep: the configuration model and its validation, durations, business
//! hours, time-zone math, roles and status types.
//!
//! Architecture invariant: nothing in this crate performs I/O or reads the clock. The current
//! instant and the process environment arrive as parameters, so every rule here is testable with
//! fixed inputs.

pub mod agent;
pub mod alert_rule;
pub mod availability;
pub mod backup;
pub mod business_hours;
pub mod calendar;
pub mod component_status;
pub mod condition;
pub mod config;
pub mod console;
pub mod docker_engine;
pub mod duration;
pub mod email;
pub mod event;
pub mod grpc_health;
pub mod heartbeat;
pub mod http_head;
pub mod icmp;
pub mod incident;
pub mod inventory;
pub mod maintenance;
pub mod markdown;
pub mod metrics_text;
pub mod monitor_state;
pub mod net;
pub mod notify;
pub mod ping_key;
pub mod protocol_lines;
pub mod quorum;
pub mod rdap;
pub mod recurrence;
pub mod role;
pub mod rollout;
pub mod rollups;
pub mod rounds;
pub mod rule_expr;
pub mod shards;
pub mod slo;
pub mod snmp;
pub mod syntax;
pub mod varint;
