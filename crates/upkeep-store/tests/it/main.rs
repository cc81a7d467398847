//! The integration tests of `upkeep-store`, one binary: each module holds the tests of one
//! area, against SQLite and, when configured, PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agents;
mod backups;
mod incidents;
mod inventory;
mod maintenance;
mod monitoring;
mod peer;
mod ping_inbox;
mod rollouts;
mod rollup_days;
mod schema;
mod snapshot;
mod store;
mod users;
mod write_lock;
