//! The integration tests of `upkeep-engine`, one binary: each module holds the tests of one
//! background task; `probe_support` and `receiver` are the shared real peers (targets and
//! HTTP receivers).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod probe_support;
mod receiver;

mod agent_ingest;
mod agent_sending;
mod alertmanager_silences;
mod auto_incidents;
mod engine;
mod heartbeats;
mod inventory;
mod latency;
mod locations;
mod maintenance_engine;
mod notify_outbox;
mod notify_providers;
mod notify_send;
mod probe;
mod probe_databases;
mod probe_docker;
mod probe_domain;
mod probe_grpc;
mod probe_icmp;
mod probe_imap;
mod probe_mqtt;
mod probe_smtp;
mod probe_snmp;
mod probe_ssh;
mod probe_tls_errors;
mod probe_websocket;
mod reports;
mod rollout_driver;
mod rollout_run;
mod self_backup;
mod slo_alerts;
