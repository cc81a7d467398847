//! Notifications: the outbox's workers (`docs/notifications.md`).
//!
//! - [`fan_out()`] (lease holder): each notice written by a change becomes one delivery per
//!   recipient — confirmed subscribers whose scope covers it for customer notices, the routed
//!   channels for operator alerts — rendered once ([`render`]) and stored with its delivery id.
//! - [`follow_alerts`] (lease holder): the operator event log (`monitor_events`: monitors,
//!   rules, pre-flight holds, SLO burn, backups, drills) becomes firing and resolved alerts; an
//!   alert on a component under maintenance is recorded but held back.
//! - [`timers()`] (lease holder): maintenance reminders, re-notification of alerts still firing,
//!   held-back alerts whose window ended, expired unconfirmed subscriptions, outbox gauges.
//! - [`deliver`] (every replica): claims due deliveries, sends them ([`send`]), records the
//!   outcome; failures are retried with backoff until `notifications.retry.max_age`.
//!
//! Each worker has its module (`fan_out`, `alerts`, `timers`, `delivery`), whose public items are
//! re-exported here; `render`, `send` and `links` serve them, and this file holds the reader
//! helpers they share.

mod alerts;
mod delivery;
mod fan_out;
pub mod links;
pub mod render;
pub mod send;
mod timers;

use std::collections::BTreeMap;

use jiff::tz::TimeZone;
use upkeep_domain::config::Config;

pub use alerts::{ALERT_CURSOR, alert_change_of, follow_alerts, follow_alerts_once};
pub use delivery::{Attempted, DeliverySettings, deliver, deliver_once};
pub use fan_out::{FanOutContext, deliveries_for, fan_out, fan_out_once};
pub use timers::{due_reminder, prune, prune_cutoff, timers, timers_once};

/// Display names of the configured components, by id.
pub fn component_names(config: &Config) -> BTreeMap<String, String> {
    config
        .components
        .iter()
        .map(|(id, c)| (id.clone(), c.name.clone()))
        .collect()
}

/// The zone a reader sees times in: their tenant's region's, else the page's.
pub fn reader_zone(config: &Config, tenant: Option<&str>) -> (TimeZone, String) {
    tenant
        .and_then(|t| config.tenants.get(t))
        .and_then(|t| config.regions.get(&t.region))
        .map(|r| (r.timezone.clone(), r.timezone_name.clone()))
        .unwrap_or_else(|| {
            (
                config.page.timezone.clone(),
                config.page.timezone_name.clone(),
            )
        })
}

#[cfg(test)]
mod testing {
    #![allow(clippy::unwrap_used)]

    use jiff::Timestamp;
    use upkeep_domain::config::Config;

    pub fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub fn config() -> Config {
        upkeep_domain::config::parse(
            "t.yaml",
            r#"
page: { name: T, url: "https://s.example", timezone: UTC }
components: { api: { name: API } }
monitors:
  m: { component: api, tcp: { address: "127.0.0.1:9" }, severity: warning }
rules:
  - { name: HighCPU, scrape: "http://127.0.0.1:9/metrics", expr: cpu > 1, severity: critical, component: api }
backups:
  nightly: { rpo: 6h, rto: 1h, push_key: k1 }
"#,
            &|_| None,
            ts("2026-01-01T00:00:00Z"),
        )
        .unwrap_or_else(|e| panic!("{:?}", e.0))
    }
}
