//! `upkeep agent`: probes from another network and reports to the server (docs/agents.md).
//! Thin over `upkeep_engine::agent`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;
use upkeep_engine::agent::{self, AgentError, AgentSettings};
use upkeep_engine::clock::SystemClock;

use crate::cli::AgentArgs;

/// Where the buffer lives without `--data-dir`: `$XDG_STATE_HOME/upkeep/agent-LOCATION`, else
/// `~/.local/state/upkeep/agent-LOCATION`, else `./upkeep-agent-LOCATION`.
pub fn default_data_dir(location: &str) -> PathBuf {
    let name = format!("agent-{location}");
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(state).join("upkeep").join(name);
    }
    if let Some(home) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(home).join(".local/state/upkeep").join(name);
    }
    PathBuf::from(format!("upkeep-{name}"))
}

pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| default_data_dir(&args.location));
    let mut settings = AgentSettings::new(args.server, args.token, args.location, data_dir);
    if let Some(mb) = args.max_buffer_mb {
        settings.max_buffer_bytes = mb.saturating_mul(1024 * 1024);
    }
    let stop = CancellationToken::new();
    let mut term = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
    let on_signal = stop.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("probe agent: stopping");
        on_signal.cancel();
    });
    match agent::run(settings, Arc::new(SystemClock), stop).await {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e @ AgentError::Refused(_)) => {
            eprintln!("upkeep: {e}");
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}
