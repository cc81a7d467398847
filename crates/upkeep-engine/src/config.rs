//! The live configuration: loaded from a file (or the embedded demo), validated by the domain,
//! and swapped atomically on reload.
//!
//! Invariant: readers only ever see a configuration that validated completely. A reload that
//! fails leaves the running configuration in place and returns every problem found.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::Timestamp;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, watch};
use upkeep_domain::config::{Config, Diagnostic, Diagnostics};
use upkeep_store::Store;
use upkeep_store::audit::AuditEntry;

/// The demo configuration compiled into the binary, used when no file is given. It works
/// offline with no environment variables set.
pub const EMBEDDED_DEMO: &str = include_str!("../../../examples/demo.yaml");

/// Where the configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    EmbeddedDemo,
}

impl ConfigSource {
    /// The name used in diagnostics: the path as given, or `<embedded demo.yaml>`.
    pub fn display_name(&self) -> String {
        match self {
            ConfigSource::File(p) => p.display().to_string(),
            ConfigSource::EmbeddedDemo => "<embedded demo.yaml>".into(),
        }
    }
}

/// A validated configuration and what it was made from.
#[derive(Debug)]
pub struct LoadedConfig {
    pub config: Config,
    pub source: ConfigSource,
    /// Hex SHA-256 of the text it was parsed from: what reloads and the audit log compare.
    pub digest: String,
    pub loaded_at: Timestamp,
}

/// How much a configuration holds: what `GET /api/v1/config` and the console's configuration
/// page count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub components: usize,
    pub monitors: usize,
    pub tenants: usize,
    pub rules: usize,
    pub windows: usize,
}

impl LoadedConfig {
    /// What the configuration holds.
    pub fn counts(&self) -> Counts {
        let c = &self.config;
        Counts {
            components: c.components.len(),
            monitors: c.monitors.len(),
            tenants: c.tenants.len(),
            rules: c.rules.len(),
            windows: c.maintenance.windows.len(),
        }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl LoadError {
    /// Every problem as a `FILE:LINE:COLUMN: message` line (or the read error).
    pub fn lines(&self) -> Vec<String> {
        match self {
            LoadError::Read { .. } => vec![self.to_string()],
            LoadError::Invalid(d) => d.0.iter().map(Diagnostic::to_string).collect(),
        }
    }
}

/// Reads and validates a configuration, taking `${VAR}` values from the process environment.
pub fn load(source: &ConfigSource, now: Timestamp) -> Result<LoadedConfig, LoadError> {
    let text = match source {
        ConfigSource::File(path) => read(path)?,
        ConfigSource::EmbeddedDemo => EMBEDDED_DEMO.to_owned(),
    };
    let env = |name: &str| std::env::var(name).ok();
    let config = upkeep_domain::config::parse(&source.display_name(), &text, &env, now)
        .map_err(LoadError::Invalid)?;
    Ok(LoadedConfig {
        config,
        source: source.clone(),
        digest: hex::encode(Sha256::digest(text.as_bytes())),
        loaded_at: now,
    })
}

fn read(path: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The new file could not be read or is invalid.
    #[error("{0}")]
    Load(LoadError),
    /// The change could not be written to the audit log, so it was not applied.
    #[error("the reload was not applied because the audit log could not be written: {0}")]
    Audit(#[from] upkeep_store::StoreError),
}

/// What a reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reloaded {
    pub previous_digest: String,
    pub digest: String,
}

impl Reloaded {
    pub fn changed(&self) -> bool {
        self.previous_digest != self.digest
    }
}

/// The running configuration, shared by every part of the server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConfigHandle {
    tx: Arc<watch::Sender<Arc<LoadedConfig>>>,
    /// Serialises reloads so two at once cannot interleave.
    reloading: Arc<Mutex<()>>,
}

impl ConfigHandle {
    pub fn new(initial: LoadedConfig) -> Self {
        let (tx, _rx) = watch::channel(Arc::new(initial));
        Self {
            tx: Arc::new(tx),
            reloading: Arc::new(Mutex::new(())),
        }
    }

    /// The configuration in force now.
    pub fn current(&self) -> Arc<LoadedConfig> {
        self.tx.borrow().clone()
    }

    /// A receiver that wakes on every successful reload (engines re-plan on it).
    pub fn subscribe(&self) -> watch::Receiver<Arc<LoadedConfig>> {
        self.tx.subscribe()
    }

    /// Re-reads the configuration from its source. When it validates and differs from the
    /// running one, the change is written to the audit log (as `actor`) and then replaces the old
    /// configuration at once for every reader. On any failure nothing changes.
    pub async fn reload(
        &self,
        store: &Store,
        actor: &str,
        now: Timestamp,
    ) -> Result<Reloaded, ReloadError> {
        let _guard = self.reloading.lock().await;
        let current = self.current();
        let next = match load(&current.source, now) {
            Ok(next) => next,
            Err(e) => {
                metrics::counter!("upkeep_config_reloads_total", "outcome" => "rejected")
                    .increment(1);
                return Err(ReloadError::Load(e));
            }
        };
        let reloaded = Reloaded {
            previous_digest: current.digest.clone(),
            digest: next.digest.clone(),
        };
        if !reloaded.changed() {
            metrics::counter!("upkeep_config_reloads_total", "outcome" => "unchanged").increment(1);
            return Ok(reloaded);
        }
        let entry = AuditEntry {
            actor: actor.to_owned(),
            action: "config.reload".into(),
            target: format!("config/{}", current.source.display_name()),
            before: Some(json!({ "sha256": reloaded.previous_digest })),
            after: Some(json!({ "sha256": reloaded.digest })),
        };
        store.record_audit(&entry, now).await?;
        self.tx.send_replace(Arc::new(next));
        metrics::counter!("upkeep_config_reloads_total", "outcome" => "applied").increment(1);
        tracing::info!(actor, sha256 = %reloaded.digest, "configuration reloaded");
        Ok(reloaded)
    }
}
