//! `upkeep serve`: the server. Start-up order: configuration (refuse to start on any problem),
//! database and migrations, listener, background tasks (the engine, started as one graph by
//! `upkeep_engine::runtime`); shutdown in reverse, each step bounded by the configured grace
//! period.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Config, MonitorKind, PushSchedule};
use upkeep_domain::duration::format_duration;
use upkeep_engine::clock::{SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, ReloadError, load};
use upkeep_engine::runtime::{Engine, EngineSettings};
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
    for (who, bits) in upkeep_domain::ping_key::weak_keys(&loaded.config) {
        tracing::warn!(key_of = %who, bits, "a ping key looks guessable; make one with `upkeep key new`");
    }
    // Signal handlers first, so a SIGHUP or SIGTERM during migrations is not fatal.
    let hangup = signal(SignalKind::hangup()).context("listening for SIGHUP")?;
    let stop_signal = shutdown_signal()?;
    let config = ConfigHandle::new(loaded);

    let store = open_migrated(&args.db.database).await?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;

    let engine = Engine::start(
        store.clone(),
        config.clone(),
        clock.clone(),
        args.db.database.clone(),
        EngineSettings::default(),
    )
    .await?;
    let supervisor = engine.supervisor.clone();
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

    let state = AppState::new(store.clone(), config.clone(), clock)
        .with_monitors(engine.monitors)
        .with_rules(engine.rules)
        .with_pings(engine.pings)
        .with_health(engine.health);
    let stopping = CancellationToken::new();
    tracing::info!(
        address = %addr,
        database = store.backend().as_str(),
        version = env!("CARGO_PKG_VERSION"),
        "upkeep listening on http://{addr}"
    );
    for line in first_screen(&config.current().config, addr) {
        tracing::info!("{line}");
    }
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

/// What a person starting upkeep needs to know next, logged once after the address: where the
/// page and the API are, how each push monitor expects its pings (never its key: a ping key is
/// a secret), and whether alerts go anywhere but this log.
fn first_screen(config: &Config, addr: SocketAddr) -> Vec<String> {
    let host = if addr.ip().is_unspecified() {
        SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), addr.port())
    } else {
        addr
    };
    let base = format!("http://{host}");
    let mut lines = vec![
        format!(
            "status page: {base}/ (history: {base}/history, Statuspage JSON: {base}/api/v2/summary.json)"
        ),
        format!(
            "admin API: {base}/api/v1/ (described at {base}/api/v1/openapi.json); make a token with \
             `upkeep token create --role admin --name NAME` and send it as `Authorization: Bearer TOKEN`"
        ),
    ];
    for (id, monitor) in &config.monitors {
        let MonitorKind::Push(push) = &monitor.kind else {
            continue;
        };
        let when = match &push.schedule {
            PushSchedule::Period { period, grace } => format!(
                "a success ping every {} (late after {} more)",
                format_duration(*period),
                format_duration(*grace)
            ),
            PushSchedule::Cron {
                expr,
                timezone_name,
                grace,
                ..
            } => format!(
                "a success ping on `{expr}` in {timezone_name} (late after {} more)",
                format_duration(*grace)
            ),
        };
        lines.push(format!(
            "push monitor `{id}` expects {when}: curl -fsS {base}/ping/KEY, KEY being its push.key \
             (/ping/KEY/fail reports a failed run)"
        ));
    }
    if config.notifications.channels.is_empty() {
        lines.push(
            "no notification channels are configured: operator alerts are written to this log only"
                .to_owned(),
        );
    }
    lines
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
