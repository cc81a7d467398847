//! SLO burn-rate alerts: every minute each configured SLO is measured
//! ([`crate::reports::slo_status`]) and its multi-window burn-rate tiers evaluated; a change of
//! the worst firing tier (`ok`, `warning`, `critical`) is an operator alert, stored as a
//! `monitor_events` row with source `slo:COMPONENT` (so it has a history and survives
//! restarts and lease hand-overs without alerting twice) and logged. Gauges on `/metrics`:
//! `upkeep_slo_budget_remaining_ratio{component}` (left / budget, negative once overspent) and
//! `upkeep_slo_burn_alert{component,severity}` (0 or 1).
//!
//! Only the replica holding the `monitoring` lease records and alerts; every replica exports
//! the gauges.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::Config;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::LoadedConfig;
use crate::periodic::Periodic;
use crate::reports::{SloReport, slo_status};
use crate::transitions::Transitions;

/// How often the SLOs are measured.
pub const EVERY: Duration = Duration::from_secs(60);

/// The event source of an SLO.
pub fn source(component: &str) -> EventSource {
    EventSource::Slo(component.to_owned())
}

/// The worst firing tier's severity, or `ok`.
pub fn level(report: &SloReport) -> EventState {
    let firing = |sev: &str| report.burn.iter().any(|t| t.firing && t.severity == sev);
    if firing("critical") {
        EventState::Critical
    } else if firing("warning") {
        EventState::Warning
    } else if report.burn.iter().any(|t| t.firing) {
        EventState::Info
    } else {
        EventState::Ok
    }
}

/// Runs until `stop` is cancelled.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    every: Duration,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    // Gauges on every replica; changes recorded by the lease holder.
    let mut ticks = Periodic::observing("slo-alerts", every, active).start(stop);
    while let Some(turn) = ticks.next().await {
        let cfg = Arc::clone(&config.borrow());
        ticks.done(check(&store, &cfg.config, clock.now(), turn.held).await);
    }
}

/// One pass: measure, export, and (when `record`) store and log changes. Returns the events
/// recorded.
pub async fn check(
    store: &Store,
    config: &Config,
    now: Timestamp,
    record: bool,
) -> Result<Vec<MonitorEvent>, StoreError> {
    if config.slos.is_empty() {
        return Ok(Vec::new());
    }
    let reports = slo_status(
        store,
        config,
        None,
        upkeep_domain::availability::DEFAULT_PARTIAL_WEIGHT_PPM,
        now,
    )
    .await?;
    let mut changes = Transitions::new(store, now);
    for r in &reports {
        export(r);
        if !record {
            continue;
        }
        let to = level(r);
        let Some(change) = changes
            .observe(source(&r.component), EventState::Ok, to, || reason(r, to))
            .await?
        else {
            continue;
        };
        let reason = &change.reason;
        match to {
            EventState::Critical => {
                tracing::error!(component = %r.component, "operator alert: SLO of `{}` {}", r.component, reason)
            }
            EventState::Ok => {
                tracing::info!(component = %r.component, "operator alert: SLO of `{}` recovered: {}", r.component, reason)
            }
            _ => {
                tracing::warn!(component = %r.component, "operator alert: SLO of `{}` {}", r.component, reason)
            }
        }
    }
    changes.record().await
}

/// Why `r` is at level `to`: the firing tiers, or the budget left.
fn reason(r: &SloReport, to: EventState) -> String {
    if to == EventState::Ok {
        return format!(
            "no burn-rate tier fires; {} ms of budget left",
            r.status.left_ms
        );
    }
    let detail = r
        .burn
        .iter()
        .filter(|t| t.firing)
        .map(|t| {
            format!(
                "{}× over {} and {} ({} burning {:.1}× and {:.1}×)",
                t.factor_milli as f64 / 1000.0,
                upkeep_domain::duration::format_duration(Duration::from_millis(
                    u64::try_from(t.long_ms).unwrap_or(0)
                )),
                upkeep_domain::duration::format_duration(Duration::from_millis(
                    u64::try_from(t.short_ms).unwrap_or(0)
                )),
                t.severity,
                t.long_burn_milli as f64 / 1000.0,
                t.short_burn_milli as f64 / 1000.0,
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    format!("burn-rate alert: {detail}")
}

fn export(r: &SloReport) {
    let ratio = if r.status.budget_weighted > 0 {
        r.status.left_weighted as f64 / r.status.budget_weighted as f64
    } else {
        0.0
    };
    metrics::gauge!("upkeep_slo_budget_remaining_ratio", "component" => r.component.clone())
        .set(ratio);
    for severity in ["critical", "warning"] {
        let firing = r.burn.iter().any(|t| t.firing && t.severity == severity);
        metrics::gauge!("upkeep_slo_burn_alert", "component" => r.component.clone(), "severity" => severity)
            .set(if firing { 1.0 } else { 0.0 });
    }
}
