//! The integration tests of `upkeep-domain`, one binary: each module holds the tests of one
//! area (fixtures under `tests/fixtures/`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assignment;
mod availability;
mod config;
mod inventory_config;
mod rollout_config;
mod tenant_services;
