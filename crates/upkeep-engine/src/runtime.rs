//! The whole background side of one upkeep process, started in one call: the lease, the probe
//! scheduler, the rule engine, automatic incidents, maintenance, rollouts, backups, SLO alerts, the
//! update inventory, the self-backup, the notification pipeline, pruning and the ping writer, each under the
//! [`Supervisor`]. `upkeep serve` and the tests boot this same graph.
//!
//! # The leader lease and the probe shards
//!
//! Probing is split between the replicas: each holds some of the probe shards
//! (`monitoring::shards`, one lease each) and probes their monitors, so probing capacity grows
//! with replicas.
//!
//! One lease, [`LEADER_LEASE`], gates all the other work that must happen once across
//! replicas: push judgement, rule evaluation, automatic incidents, maintenance transitions
//! and pre-flight checks, rollouts (whose writes also carry the lease's fencing token), backup and SLO alert transitions, the inventory's refresh and policy alerts, the self-backup, and the
//! notification fan-out, alert following, timers and outbox pruning. Every replica serves the
//! API and pings, sends deliveries (claimed rows keep replicas apart), exports the backup and
//! SLO gauges and prunes old results.
//!
//! It is one lease rather than one per concern because the concerns read each other's state in
//! the same instant: the maintenance engine tells the scheduler which components not to probe
//! (an in-memory list), incidents and alerts are held back by the maintenance in progress, and
//! alerts follow the events that probing and rules write. On one replica these stay consistent
//! without coordination; split across replicas they would need it. The work is light next to
//! serving, so one leader costs nothing that a split would win back.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use upkeep_store::Store;

use crate::clock::SharedClock;
use crate::config::ConfigHandle;
use crate::lease::{LeaseKeeper, LeaseSettings};
use crate::monitoring::pings::PingWriter;
use crate::monitoring::probe::{ProbeSetupError, Prober};
use crate::monitoring::rules::RuleHandle;
use crate::monitoring::scheduler::{self, MonitorHandle, SchedulerSettings};
use crate::monitoring::shards::ShardKeeper;
use crate::supervisor::{Health, Supervisor};
use crate::{
    backups, incidents, inventory, maintenance, monitoring, notify, rollout, self_backup,
    slo_alerts,
};

pub use upkeep_store::snapshot::LEADER_LEASE;

/// Settings of [`Engine::start`].
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// This replica's name in the lease (unique per process).
    pub holder: String,
    /// How long the lease lasts and how often it is renewed.
    pub lease: LeaseSettings,
}

impl Default for EngineSettings {
    fn default() -> Self {
        Self {
            holder: format!("{}-{}", upkeep_store::ids::new_id(), std::process::id()),
            lease: LeaseSettings::default(),
        }
    }
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("setting up the probes: {0}")]
    Probes(#[from] ProbeSetupError),
    #[error("setting up an HTTP client (metrics scraper, inventory): {0}")]
    Scraper(#[from] reqwest::Error),
    #[error("starting the probe scheduler: {0}")]
    Scheduler(#[from] upkeep_store::StoreError),
}

/// The running background side and the handles the HTTP side needs.
#[derive(Debug)]
pub struct Engine {
    /// Owns every task; stop them with [`Supervisor::shutdown`].
    pub supervisor: Supervisor,
    /// Which tasks are down (for readiness).
    pub health: Health,
    /// The probe scheduler's live view of the monitors.
    pub monitors: MonitorHandle,
    /// The rule engine's live view of the alert rules.
    pub rules: RuleHandle,
    /// The ping writer (group commit).
    pub pings: PingWriter,
    /// Whether this replica holds [`LEADER_LEASE`].
    pub lease: LeaseKeeper,
    /// The probe shards this replica holds: which monitors it probes and writes.
    pub shards: ShardKeeper,
}

impl Engine {
    /// Starts every background task on `store` with the live `config`. `database_url` is the
    /// database the self-backup copies.
    pub async fn start(
        store: Store,
        config: ConfigHandle,
        clock: SharedClock,
        database_url: String,
        settings: EngineSettings,
    ) -> Result<Engine, StartError> {
        let supervisor = Supervisor::new();
        let stop = supervisor.token();
        let holder = settings.holder.clone();
        let (shards, shard_task) = ShardKeeper::start(
            store.clone(),
            clock.clone(),
            settings.holder.clone(),
            settings.lease.clone(),
            stop.clone(),
        );
        supervisor.spawn("probe-shards", shard_task);
        let (lease, lease_task) = LeaseKeeper::start(
            store.clone(),
            clock.clone(),
            LEADER_LEASE.into(),
            settings.holder,
            settings.lease,
            stop.clone(),
        );
        supervisor.spawn("leader-lease", lease_task);

        // Maintenance with `checks: skip` tells the scheduler which components not to probe.
        let skip = maintenance::SkipList::default();
        let follow = skip.clone();
        let arrivals = crate::monitoring::pings::Arrivals::default();
        let scheduler_settings = SchedulerSettings {
            max_concurrent: config.current().config.monitoring.max_concurrent,
            skip: skip.clone(),
            arrivals: arrivals.clone(),
            owned: shards.watch(),
            ..SchedulerSettings::default()
        };
        let (monitors, scheduler) = scheduler::start(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            Prober::new()?,
            scheduler_settings,
            lease.watch(),
            stop.clone(),
        )
        .await?;
        supervisor.spawn("probe-scheduler", scheduler);
        let scrape_client = reqwest::Client::builder()
            .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let (rules, rule_engine) = monitoring::rules::start(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            scrape_client,
            lease.watch(),
            stop.clone(),
        );
        supervisor.spawn("alert-rules", rule_engine);

        // The tasks below are rebuilt from their parts when they die.
        let parts = Parts {
            store: store.clone(),
            config: config.clone(),
            clock: clock.clone(),
            lease: lease.watch(),
            stop: stop.clone(),
        };
        let p = parts.clone();
        supervisor.spawn_restarting("auto-incidents", move || {
            incidents::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                incidents::AutoIncidentSettings::default(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("maintenance", move || {
            maintenance::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                maintenance::MaintenanceSettings {
                    skip: skip.clone(),
                    ..Default::default()
                },
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("maintenance-skip", move || {
            maintenance::follow_skip(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                follow.clone(),
                maintenance::MaintenanceSettings::default().tick,
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("rollouts", move || {
            rollout::driver::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                holder.clone(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("backups", move || {
            backups::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                backups::BackupWatchSettings::default(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("slo-alerts", move || {
            slo_alerts::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                slo_alerts::EVERY,
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("agents-watch", move || {
            crate::agents_watch::run(
                p.store.clone(),
                p.clock.clone(),
                crate::agents_watch::EVERY,
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        let settings = inventory::InventorySettings::default();
        let fetcher = inventory::Fetcher::new(settings.timeout)?;
        supervisor.spawn_restarting("inventory", move || {
            inventory::run(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                fetcher.clone(),
                settings.clone(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("self-backup", move || {
            self_backup::run(
                p.store.clone(),
                database_url.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                self_backup::SelfBackupSettings::default(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("notify-fan-out", move || {
            let (store, config, clock) = (p.store.clone(), p.config.subscribe(), p.clock.clone());
            notify::fan_out(store, config, clock, p.lease.clone(), p.stop.clone())
        });
        let p = parts.clone();
        supervisor.spawn_restarting("notify-alerts", move || {
            let (store, config, clock) = (p.store.clone(), p.config.subscribe(), p.clock.clone());
            notify::follow_alerts(store, config, clock, p.lease.clone(), p.stop.clone())
        });
        let p = parts.clone();
        supervisor.spawn_restarting("notify-timers", move || {
            let (store, config, clock) = (p.store.clone(), p.config.subscribe(), p.clock.clone());
            notify::timers(store, config, clock, p.lease.clone(), p.stop.clone())
        });
        let p = parts.clone();
        supervisor.spawn_restarting("notify-prune", move || {
            let (store, config, clock) = (p.store.clone(), p.config.subscribe(), p.clock.clone());
            notify::prune(store, config, clock, p.lease.clone(), p.stop.clone())
        });
        // Deliveries are sent by every replica; claimed rows keep them apart.
        let p = parts.clone();
        supervisor.spawn_restarting("notify-deliver", move || {
            notify::deliver(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                notify::DeliverySettings::default(),
                p.stop.clone(),
            )
        });
        let p = parts.clone();
        supervisor.spawn_restarting("fold-results", move || {
            scheduler::fold_results(
                p.store.clone(),
                p.config.subscribe(),
                p.clock.clone(),
                p.lease.clone(),
                p.stop.clone(),
            )
        });
        let p = parts;
        supervisor.spawn_restarting("prune-results", move || {
            let (store, config, clock) = (p.store.clone(), p.config.subscribe(), p.clock.clone());
            scheduler::prune_results(store, config, clock, p.stop.clone())
        });

        // Pings are acknowledged once committed; the writer drains its queue when stopped,
        // which happens after the HTTP server has finished the requests in flight.
        // Committed pings wake the push monitors' judge on this replica.
        let (pings, ping_writer) = PingWriter::start_reporting(store, stop, arrivals);
        supervisor.spawn("ping-writer", ping_writer);

        Ok(Engine {
            health: supervisor.health(),
            supervisor,
            monitors,
            rules,
            pings,
            lease,
            shards,
        })
    }

    /// Stops every task, waiting up to `grace`; returns whether all finished in time.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.supervisor.shutdown(grace).await
    }
}

/// What the restartable tasks are built from.
#[derive(Clone)]
struct Parts {
    store: Store,
    config: ConfigHandle,
    clock: SharedClock,
    lease: tokio::sync::watch::Receiver<bool>,
    stop: CancellationToken,
}
