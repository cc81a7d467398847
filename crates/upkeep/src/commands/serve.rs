//! `upkeep serve`: the server. Start-up order: configuration (refuse to start on any problem),
//! database and migrations, listener, background tasks; shutdown in reverse, each step bounded
//! by the configured grace period.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, ReloadError, load};
use upkeep_engine::lease::{LeaseKeeper, LeaseSettings};
use upkeep_engine::monitoring::probe::Prober;
use upkeep_engine::monitoring::scheduler::{self, SchedulerSettings};
use upkeep_engine::supervisor::Supervisor;
use upkeep_store::Store;
use upkeep_web::state::AppState;

use super::open_migrated;
use crate::cli::ServeArgs;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let clock: SharedClock = Arc::new(SystemClock);
    let source = match args.config {
        Some(path) => ConfigSource::File(path),
        None => {
            tracing::info!("no --config given: running the built-in demo configuration");
            ConfigSource::EmbeddedDemo
        }
    };
    let loaded = match load(&source, clock.now()) {
        Ok(loaded) => loaded,
        Err(e) => {
            for line in e.lines() {
                eprintln!("{line}");
            }
            eprintln!("upkeep: not starting: the configuration has problems");
            return Ok(ExitCode::FAILURE);
        }
    };
    let grace = loaded.config.server.shutdown_grace;
    // Signal handlers first, so a SIGHUP or SIGTERM during migrations is not fatal.
    let hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let stop_signal = shutdown_signal()?;
    let config = ConfigHandle::new(loaded);

    let store = open_migrated(&args.db.database).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;

    let supervisor = Supervisor::new();
    supervisor.spawn(
        "config-reload-on-sighup",
        reload_on_sighup(
            hangup,
            config.clone(),
            store.clone(),
            clock.clone(),
            supervisor.token(),
        ),
    );

    // One replica at a time probes, judges pushes and evaluates rules; the others stand by and
    // take over within one lease period if it dies.
    let holder = format!("{}-{}", upkeep_store::ids::new_id(), std::process::id());
    let (monitoring_lease, lease_task) = LeaseKeeper::start(
        store.clone(),
        clock.clone(),
        "monitoring".into(),
        holder,
        LeaseSettings::default(),
        supervisor.token(),
    );
    supervisor.spawn("monitoring-lease", lease_task);

    let prober = Prober::new().context("setting up the probes")?;
    // Maintenance with `checks: skip` tells the scheduler which components not to probe.
    let skip = upkeep_engine::maintenance::SkipList::default();
    let settings = SchedulerSettings {
        max_concurrent: config.current().config.monitoring.max_concurrent,
        skip: skip.clone(),
        ..SchedulerSettings::default()
    };
    let (monitors, scheduler) = scheduler::start(
        store.clone(),
        config.subscribe(),
        clock.clone(),
        prober,
        settings,
        monitoring_lease.watch(),
        supervisor.token(),
    )
    .await
    .context("starting the probe scheduler")?;
    supervisor.spawn("probe-scheduler", scheduler);
    let scrape_client = reqwest::Client::builder()
        .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("setting up the metrics scraper")?;
    let (rules, rule_engine) = upkeep_engine::monitoring::rules::start(
        store.clone(),
        config.subscribe(),
        clock.clone(),
        scrape_client,
        monitoring_lease.watch(),
        supervisor.token(),
    );
    supervisor.spawn("alert-rules", rule_engine);
    // Incidents opened and resolved from monitor and rule transitions, by the lease holder only.
    supervisor.spawn(
        "auto-incidents",
        upkeep_engine::incidents::run(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::incidents::AutoIncidentSettings::default(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    // Maintenance windows: materialised, started and ended at their instants, by the lease
    // holder only (each status change is also a conditional update, so it happens once).
    supervisor.spawn(
        "maintenance",
        upkeep_engine::maintenance::run(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::maintenance::MaintenanceSettings {
                skip,
                ..Default::default()
            },
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    // Backup sets against their RPO and drill cadence: gauges everywhere, alerts by the holder.
    supervisor.spawn(
        "backups",
        upkeep_engine::backups::run(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::backups::BackupWatchSettings::default(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    // SLO burn-rate alerts: gauges everywhere, alerts by the lease holder.
    supervisor.spawn(
        "slo-alerts",
        upkeep_engine::slo_alerts::run(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::slo_alerts::EVERY,
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    // Scheduled backups of upkeep's own database (`self_backup:`), by the lease holder only.
    supervisor.spawn(
        "self-backup",
        upkeep_engine::self_backup::run(
            store.clone(),
            args.db.database.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::self_backup::SelfBackupSettings::default(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    // Notifications: notices fanned out into deliveries, operator events into alerts, reminders
    // and re-notification by the lease holder; deliveries sent by every replica (claimed rows
    // keep them apart).
    supervisor.spawn(
        "notify-fan-out",
        upkeep_engine::notify::fan_out(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    supervisor.spawn(
        "notify-alerts",
        upkeep_engine::notify::follow_alerts(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    supervisor.spawn(
        "notify-timers",
        upkeep_engine::notify::timers(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    supervisor.spawn(
        "notify-prune",
        upkeep_engine::notify::prune(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            monitoring_lease.watch(),
            supervisor.token(),
        ),
    );
    supervisor.spawn(
        "notify-deliver",
        upkeep_engine::notify::deliver(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            upkeep_engine::notify::DeliverySettings::default(),
            supervisor.token(),
        ),
    );
    supervisor.spawn(
        "prune-results",
        scheduler::prune_results(
            store.clone(),
            config.subscribe(),
            clock.clone(),
            supervisor.token(),
        ),
    );

    // Pings are acknowledged once committed; the writer drains its queue when stopped, which
    // happens after the HTTP server has finished the requests in flight.
    let (pings, ping_writer) =
        upkeep_engine::monitoring::pings::PingWriter::start(store.clone(), supervisor.token());
    supervisor.spawn("ping-writer", ping_writer);

    let state = AppState::new(store.clone(), config, clock)
        .with_monitors(monitors)
        .with_rules(rules)
        .with_pings(pings);
    let stopping = CancellationToken::new();
    tracing::info!(
        address = %addr,
        database = store.backend().as_str(),
        version = env!("CARGO_PKG_VERSION"),
        "upkeep listening on http://{addr}"
    );
    let server = tokio::spawn(upkeep_web::serve(
        listener,
        state,
        supervisor.token(),
        wait_for_stop(stopping.clone()),
    ));
    let mut server = server;

    tokio::select! {
        result = &mut server => {
            // The server ended on its own: a fault.
            supervisor.shutdown(grace).await;
            store.close().await;
            result.context("the HTTP server task failed")?.context("the HTTP server failed")?;
            return Ok(ExitCode::FAILURE);
        }
        signal = stop_signal => {
            tracing::info!(signal, "shutting down: finishing requests in flight");
        }
    }
    stopping.cancel();
    match tokio::time::timeout(grace, &mut server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!(error = %e, "the HTTP server failed while stopping"),
        Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server task failed"),
        Err(_) => {
            tracing::warn!(
                grace_ms = grace.as_millis() as u64,
                "requests still open after the grace period are cut"
            );
            server.abort();
        }
    }
    supervisor.shutdown(grace).await;
    store.close().await;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_stop(stopping: CancellationToken) {
    stopping.cancelled().await;
}

/// A future that completes on SIGTERM or SIGINT, naming which. The handlers are installed
/// when this is called, not when the future is first polled.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = &'static str>> {
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
        }
    })
}

/// Reloads the configuration on every SIGHUP until `stop`.
async fn reload_on_sighup(
    mut hup: tokio::signal::unix::Signal,
    config: ConfigHandle,
    store: Store,
    clock: SharedClock,
    stop: CancellationToken,
) {
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            received = hup.recv() => {
                if received.is_none() {
                    return;
                }
                match config.reload(&store, "signal:SIGHUP", clock.now()).await {
                    Ok(r) if !r.changed() => tracing::info!("SIGHUP: configuration unchanged"),
                    Ok(_) => {}
                    Err(ReloadError::Load(e)) => {
                        for problem in e.lines() {
                            tracing::error!("SIGHUP: {problem}");
                        }
                        tracing::error!(
                            "SIGHUP: the configuration has problems; the running configuration stays in force"
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "SIGHUP: reload failed"),
                }
            }
        }
    }
}
