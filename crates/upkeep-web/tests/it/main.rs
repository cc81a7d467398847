//! The integration tests of `upkeep-web`, one binary: each module holds the tests of one
//! area of the HTTP surface; `support` boots the real router on port 0.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod agents;
mod alertmanager;
mod api;
mod backups;
mod calendars;
mod console;
mod console_admin;
mod console_lists;
mod console_more;
mod console_ops;
mod console_pages;
mod incidents;
mod inventory;
mod limits;
mod maintenance;
mod openapi;
mod pages;
mod ping;
mod reports;
mod rollout;
mod statuspage;
mod statuspage_shape;
mod subscribe;
mod tenants;
