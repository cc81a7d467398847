//! Every metric upkeep exports, defined once: its name, type, unit and help text.
//!
//! The engine and the web side record metrics with the `metrics` macros under these names;
//! [`describe`] gives each its `# HELP` and `# TYPE` lines, so `/metrics` passes
//! `promtool check metrics`. A metric recorded anywhere in the workspace and missing here fails
//! this module's tests. Labels stay bounded: ids from the configuration, fixed words, route
//! templates.

use metrics::Unit;

/// The type of a metric, as Prometheus shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Option<Unit>,
    pub help: &'static str,
}

const fn metric(name: &'static str, kind: Kind, unit: Option<Unit>, help: &'static str) -> Metric {
    Metric {
        name,
        kind,
        unit,
        help,
    }
}

/// The catalogue, grouped by the part of upkeep that records each metric.
pub const CATALOGUE: &[Metric] = &[
    // The process.
    metric(
        "upkeep_build_info",
        Kind::Gauge,
        None,
        "Always 1; labelled with the version",
    ),
    // HTTP (the web side).
    metric(
        "upkeep_http_requests_total",
        Kind::Counter,
        None,
        "HTTP requests answered, by method, route template and status class",
    ),
    metric(
        "upkeep_http_request_duration_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to answer an HTTP request, by route template",
    ),
    metric(
        "upkeep_http_rate_limited_total",
        Kind::Counter,
        None,
        "Requests refused with 429 by a per-client rate limit",
    ),
    metric(
        "upkeep_confirmation_mails_refused_total",
        Kind::Counter,
        None,
        "Subscription confirmation mails not sent because a budget was spent, by budget (overall or domain)",
    ),
    metric(
        "upkeep_console_sign_ins_total",
        Kind::Counter,
        None,
        "Console sign-in steps (password, then the second factor), by outcome (signed_in, second_factor, refused, locked)",
    ),
    metric(
        "upkeep_http_connections_refused_total",
        Kind::Counter,
        None,
        "Connections closed at once because their client held server.max_connections_per_client",
    ),
    metric(
        "upkeep_http_fast_answers_total",
        Kind::Counter,
        None,
        "Plain reads of the status snapshot's fixed paths answered from prepared bytes below the HTTP stack (also counted in upkeep_http_requests_total)",
    ),
    metric(
        "upkeep_status_snapshot_builds_total",
        Kind::Counter,
        None,
        "Status snapshots rendered and compressed because their inputs changed",
    ),
    metric(
        "upkeep_status_snapshot_build_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to render and compress a status snapshot (off the async runtime)",
    ),
    // Configuration.
    metric(
        "upkeep_config_reloads_total",
        Kind::Counter,
        None,
        "Configuration reloads, by outcome (applied, unchanged, rejected)",
    ),
    // Background tasks.
    metric(
        "upkeep_task_failures_total",
        Kind::Counter,
        None,
        "Background tasks that ended before shutdown or panicked, by task",
    ),
    // Rollouts.
    metric(
        "upkeep_rollouts",
        Kind::Gauge,
        None,
        "Rollouts not over, by state (pending, running, paused, halted)",
    ),
    metric(
        "upkeep_rollout_tenants",
        Kind::Gauge,
        None,
        "Tenant steps of the rollouts not over, by state",
    ),
    // Probes and monitors.
    metric(
        "upkeep_probes_total",
        Kind::Counter,
        None,
        "Probes run, by outcome (ok, failed)",
    ),
    metric(
        "upkeep_rounds_total",
        Kind::Counter,
        None,
        "Rounds of monitors probed from several locations judged, by verdict (pass, fail, unknown)",
    ),
    metric(
        "upkeep_agent_results_late_total",
        Kind::Counter,
        None,
        "Locations' results that arrived after their round was judged (kept as history only)",
    ),
    metric(
        "upkeep_probe_duration_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time a probe took to answer or fail",
    ),
    metric(
        "upkeep_probe_lag_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "How late a probe started after it was due",
    ),
    metric(
        "upkeep_probe_shards_held",
        Kind::Gauge,
        None,
        "Probe shards this replica holds (of 64; all of them with SQLite)",
    ),
    metric(
        "upkeep_monitor_transitions_total",
        Kind::Counter,
        None,
        "Monitor state changes, by the state entered",
    ),
    metric(
        "upkeep_probe_write_errors_total",
        Kind::Counter,
        None,
        "Failed writes of a batch of probe results (retried)",
    ),
    metric(
        "upkeep_probe_results_dropped_total",
        Kind::Counter,
        None,
        "Probe results dropped because too many waited for a failing database",
    ),
    metric(
        "upkeep_rule_evaluations_total",
        Kind::Counter,
        None,
        "Evaluations of alert rules over scraped metrics",
    ),
    // Heartbeats.
    metric(
        "upkeep_ping_batch_size",
        Kind::Histogram,
        Some(Unit::Count),
        "Pings written together in one commit",
    ),
    metric(
        "upkeep_ping_commit_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to write and commit one batch of pings",
    ),
    metric(
        "upkeep_ping_move_size",
        Kind::Histogram,
        Some(Unit::Count),
        "Pings moved together from the ping inbox into the indexed pings table",
    ),
    metric(
        "upkeep_ping_move_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to move the ping inbox into the indexed pings table",
    ),
    // Notifications.
    metric(
        "upkeep_outbox_pending",
        Kind::Gauge,
        Some(Unit::Count),
        "Deliveries waiting to be sent",
    ),
    metric(
        "upkeep_outbox_unfanned",
        Kind::Gauge,
        Some(Unit::Count),
        "Notices not yet fanned out into deliveries",
    ),
    metric(
        "upkeep_outbox_failed",
        Kind::Gauge,
        Some(Unit::Count),
        "Deliveries given up after their retries",
    ),
    metric(
        "upkeep_outbox_oldest_age_seconds",
        Kind::Gauge,
        Some(Unit::Seconds),
        "Age of the oldest delivery still waiting, 0 when none waits",
    ),
    metric(
        "upkeep_notifications_sent_total",
        Kind::Counter,
        None,
        "Deliveries sent, by channel type",
    ),
    metric(
        "upkeep_notification_failures_total",
        Kind::Counter,
        None,
        "Failed delivery attempts, by channel type",
    ),
    // The update inventory.
    metric(
        "upkeep_inventory_reads_total",
        Kind::Counter,
        None,
        "Reads of Helm indexes, by outcome (fresh, unchanged, failed)",
    ),
    metric(
        "upkeep_inventory_index_parse_seconds",
        Kind::Histogram,
        Some(Unit::Seconds),
        "Time to parse one Helm repository index",
    ),
    metric(
        "upkeep_inventory_items",
        Kind::Gauge,
        None,
        "Inventory items at their places, by state",
    ),
    // Continuity.
    metric(
        "upkeep_slo_budget_remaining_ratio",
        Kind::Gauge,
        None,
        "Share of the downtime budget left in the SLO window, by component",
    ),
    metric(
        "upkeep_slo_burn_alert",
        Kind::Gauge,
        None,
        "1 while a burn-rate alert of that severity fires for the component, else 0",
    ),
    metric(
        "upkeep_backup_age_seconds",
        Kind::Gauge,
        Some(Unit::Seconds),
        "Age of the backup set's last successful backup, -1 when it has none",
    ),
    metric(
        "upkeep_backup_state",
        Kind::Gauge,
        None,
        "1 for the backup set's current state, 0 for the others",
    ),
];

/// Gives every metric of the [`CATALOGUE`] its help text, type and unit in the installed
/// recorder. Call once, after installing the recorder.
pub fn describe() {
    for m in CATALOGUE {
        match (m.kind, m.unit) {
            (Kind::Counter, Some(unit)) => metrics::describe_counter!(m.name, unit, m.help),
            (Kind::Counter, None) => metrics::describe_counter!(m.name, m.help),
            (Kind::Gauge, Some(unit)) => metrics::describe_gauge!(m.name, unit, m.help),
            (Kind::Gauge, None) => metrics::describe_gauge!(m.name, m.help),
            (Kind::Histogram, Some(unit)) => metrics::describe_histogram!(m.name, unit, m.help),
            (Kind::Histogram, None) => metrics::describe_histogram!(m.name, m.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn names_are_unique_and_follow_prometheus_conventions() {
        let mut seen = BTreeSet::new();
        for m in CATALOGUE {
            assert!(seen.insert(m.name), "{} is defined twice", m.name);
            assert!(m.name.starts_with("upkeep_"), "{}", m.name);
            assert_eq!(
                m.kind == Kind::Counter,
                m.name.ends_with("_total"),
                "{}: counters, and only counters, end in _total",
                m.name
            );
            assert_eq!(
                m.unit == Some(Unit::Seconds),
                m.name.ends_with("_seconds"),
                "{}: the unit is in the name",
                m.name
            );
            assert!(!m.help.is_empty(), "{}", m.name);
        }
    }

    /// Every `metrics::counter!`, `gauge!` and `histogram!` in the workspace's sources names a
    /// metric of the catalogue, with the catalogue's type; every metric of the catalogue is
    /// recorded somewhere.
    #[test]
    fn every_recorded_metric_is_in_the_catalogue() {
        let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        collect_rust_files(&crates, &mut files);
        let mut recorded = BTreeSet::new();
        for file in &files {
            let Ok(text) = std::fs::read_to_string(file) else {
                continue;
            };
            for (macro_name, kind) in [
                ("counter!(", Kind::Counter),
                ("gauge!(", Kind::Gauge),
                ("histogram!(", Kind::Histogram),
            ] {
                for (at, _) in text.match_indices(&format!("metrics::{macro_name}")) {
                    let rest = &text[at + "metrics::".len() + macro_name.len()..];
                    let rest = rest.trim_start();
                    let Some(quoted) = rest.strip_prefix('"') else {
                        continue; // a name from a variable: the catalogue's own describe
                    };
                    let name = quoted.split('"').next().unwrap_or_default();
                    recorded.insert(name.to_owned());
                    let m = CATALOGUE.iter().find(|m| m.name == name);
                    assert!(
                        m.is_some_and(|m| m.kind == kind),
                        "{}: `{name}` is recorded as a {kind:?} but the catalogue {}",
                        file.display(),
                        m.map_or("does not have it".to_owned(), |m| format!(
                            "says {:?}",
                            m.kind
                        ))
                    );
                }
            }
        }
        for m in CATALOGUE {
            assert!(recorded.contains(m.name), "{} is never recorded", m.name);
        }
    }

    fn collect_rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "target") {
                    collect_rust_files(&path, out);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
}
