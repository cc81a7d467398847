//! The update inventory's background work (lease holder): every `inventory.refresh` each Helm
//! index and end-of-life file the configuration names is read again, and every pass the
//! policies are judged on each item at each place; a change of the most severe broken policy
//! (`ok`, `info`, `warning`, `critical`) is an operator alert, stored as a `monitor_events`
//! row with source `inventory:ITEM@PLACE`, so it routes, repeats and resolves like every
//! other operator alert.
//!
//! Reading an index: a URL is fetched with the `ETag` / `Last-Modified` of the last good read
//! (a `304` confirms it), at most [`MAX_REDIRECTS`] redirects, within the timeout, and its
//! body is streamed and dropped as soon as it passes `inventory.max_index_size`; a local file
//! is refused beyond the same size. The index is parsed off the runtime, and only the charts
//! the configuration names are kept, summarised as JSON in the store. A read that fails for
//! any reason (the network, the HTTP status, the size, YAML that is not an index) keeps the
//! last good read and records why, so every row can say how old its data is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use reqwest::{StatusCode, redirect};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use upkeep_domain::config::{Config, IndexLocation};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::inventory::eol::parse_eol;
use upkeep_domain::inventory::{Release, evaluate, parse_index};
use upkeep_store::inventory::{SourceOutcome, SourceRecord};
use upkeep_store::monitoring::MonitorEvent;
use upkeep_store::{Store, StoreError};

use crate::clock::SharedClock;
use crate::config::{ConfigSource, LoadedConfig};
use crate::periodic::Periodic;
use crate::service::inventory::list;
use crate::transitions::Transitions;

/// Redirects followed at most when fetching an index.
pub const MAX_REDIRECTS: usize = 5;

/// How the refresh task runs.
#[derive(Debug, Clone)]
pub struct InventorySettings {
    /// How often a pass runs (sources are read again only every `inventory.refresh`).
    pub every: Duration,
    /// How long one fetch may take, body included.
    pub timeout: Duration,
}

impl Default for InventorySettings {
    fn default() -> Self {
        Self {
            every: Duration::from_secs(60),
            timeout: Duration::from_secs(30),
        }
    }
}

/// What is kept of an index: the charts the configuration names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexSummary {
    /// Releases by chart (ascending).
    pub charts: BTreeMap<String, Vec<Release>>,
    /// Entries in the whole index.
    pub entries: usize,
    /// Entries of the kept charts that were skipped (not a version, ...).
    pub skipped: usize,
    /// Why, for the first few.
    pub warnings: Vec<String>,
    /// The charts asked for when it was read (a chart added since needs a full read).
    pub wanted: BTreeSet<String>,
}

/// The store key of an end-of-life file.
pub fn eol_key(file: &Path) -> String {
    format!("eol:{}", file.display())
}

/// The HTTP client of index fetches.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
}

impl Fetcher {
    /// A client following at most [`MAX_REDIRECTS`] redirects; each fetch within `timeout`.
    pub fn new(timeout: Duration) -> Result<Fetcher, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("upkeep/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect::Policy::limited(MAX_REDIRECTS))
            .connect_timeout(timeout)
            .build()?;
        Ok(Fetcher { client, timeout })
    }
}

/// What one source read did, for logs and the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRead {
    pub location: String,
    /// `fresh`, `unchanged`, `failed` or `skipped` (read recently enough).
    pub outcome: &'static str,
    pub detail: Option<String>,
    /// Time spent parsing, in milliseconds (fresh reads).
    pub parse_ms: Option<u64>,
}

/// The directory relative paths of the configuration are read from.
pub fn config_dir(source: &ConfigSource) -> PathBuf {
    match source {
        ConfigSource::File(path) => path.parent().map(Path::to_path_buf).unwrap_or_default(),
        ConfigSource::EmbeddedDemo => PathBuf::new(),
    }
}

fn resolve(dir: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        dir.join(path)
    }
}

/// Each index location with the charts wanted from it.
fn wanted(config: &Config) -> BTreeMap<IndexLocation, BTreeSet<String>> {
    let mut out: BTreeMap<IndexLocation, BTreeSet<String>> = BTreeMap::new();
    for item in config.inventory.items.values() {
        let helms =
            std::iter::once(&item.helm).chain(item.places.values().filter_map(|p| p.helm.as_ref()));
        for helm in helms {
            out.entry(helm.index.clone())
                .or_default()
                .insert(helm.chart.clone());
            if let Some(s) = &helm.successor {
                out.entry(s.index.clone())
                    .or_default()
                    .insert(s.chart.clone());
            }
        }
    }
    out
}

fn eol_files(config: &Config) -> BTreeSet<PathBuf> {
    config
        .inventory
        .items
        .values()
        .flat_map(|item| {
            item.eol
                .iter()
                .chain(item.places.values().filter_map(|p| p.eol.as_ref()))
                .map(|e| e.file.clone())
        })
        .collect()
}

/// Whether `prior` is recent enough not to read again.
fn fresh_enough(prior: Option<&SourceRecord>, refresh: Duration, now: Timestamp) -> bool {
    prior.is_some_and(|p| {
        now.duration_since(p.checked_at).as_secs()
            < i64::try_from(refresh.as_secs()).unwrap_or(i64::MAX)
    })
}

/// Reads every source due (all of them with `force`), records each outcome, and returns them.
pub async fn refresh(
    store: &Store,
    loaded: &LoadedConfig,
    fetcher: &Fetcher,
    now: Timestamp,
    force: bool,
) -> Result<Vec<SourceRead>, StoreError> {
    let config = &loaded.config;
    let dir = config_dir(&loaded.source);
    let inventory = &config.inventory;
    let mut reads = Vec::new();
    for (location, charts) in wanted(config) {
        let key = location.key();
        let prior = store.get_inventory_source(&key).await?;
        let summary: Option<IndexSummary> = prior
            .as_ref()
            .and_then(|p| p.body.as_deref())
            .and_then(|b| serde_json::from_str(b).ok());
        let covers = summary
            .as_ref()
            .is_some_and(|s| s.wanted.is_superset(&charts));
        if !force && covers && fresh_enough(prior.as_ref(), inventory.refresh, now) {
            reads.push(SourceRead {
                location: key,
                outcome: "skipped",
                detail: None,
                parse_ms: None,
            });
            continue;
        }
        // Validators only when the stored read holds every chart wanted now.
        let validators = prior.as_ref().filter(|_| covers);
        let (outcome, parse_ms) = read_index(
            fetcher,
            &location,
            &dir,
            charts,
            validators,
            inventory.max_index_bytes,
        )
        .await;
        let read = SourceRead {
            location: key.clone(),
            outcome: match &outcome {
                SourceOutcome::Fresh { .. } => "fresh",
                SourceOutcome::Unchanged => "unchanged",
                SourceOutcome::Failed(_) => "failed",
            },
            detail: match &outcome {
                SourceOutcome::Failed(why) => Some(why.clone()),
                _ => None,
            },
            parse_ms,
        };
        metrics::counter!("upkeep_inventory_reads_total", "outcome" => read.outcome).increment(1);
        match &outcome {
            SourceOutcome::Failed(why) => {
                let age = prior
                    .as_ref()
                    .and_then(|p| p.good_at)
                    .map_or("never read".to_owned(), |t| {
                        format!("last good read {} s old", now.duration_since(t).as_secs())
                    });
                tracing::warn!(location = %key, "inventory: cannot read index {key}: {why}; keeping the last good read ({age})");
            }
            _ => tracing::debug!(location = %key, outcome = read.outcome, "inventory: index read"),
        }
        store.record_inventory_source(&key, &outcome, now).await?;
        reads.push(read);
    }
    for file in eol_files(config) {
        let key = eol_key(&file);
        let prior = store.get_inventory_source(&key).await?;
        if !force
            && prior.as_ref().is_some_and(|p| p.body.is_some())
            && fresh_enough(prior.as_ref(), inventory.refresh, now)
        {
            continue;
        }
        let path = resolve(&dir, &file);
        let outcome = match read_file_capped(&path, inventory.max_index_bytes).await {
            Ok(text) => match parse_eol(&text) {
                Ok(_) => SourceOutcome::Fresh {
                    body: text,
                    etag: None,
                    last_modified: None,
                },
                Err(why) => SourceOutcome::Failed(format!("{}: {why}", path.display())),
            },
            Err(why) => SourceOutcome::Failed(why),
        };
        if let SourceOutcome::Failed(why) = &outcome {
            tracing::warn!(location = %key, "inventory: cannot read end-of-life file: {why}; keeping the last good read");
        }
        store.record_inventory_source(&key, &outcome, now).await?;
        reads.push(SourceRead {
            location: key,
            outcome: if matches!(outcome, SourceOutcome::Failed(_)) {
                "failed"
            } else {
                "fresh"
            },
            detail: match outcome {
                SourceOutcome::Failed(why) => Some(why),
                _ => None,
            },
            parse_ms: None,
        });
    }
    Ok(reads)
}

/// The body of an index, or why it cannot be had.
enum Fetched {
    Body {
        text: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
}

async fn read_index(
    fetcher: &Fetcher,
    location: &IndexLocation,
    dir: &Path,
    charts: BTreeSet<String>,
    validators: Option<&SourceRecord>,
    max_bytes: u64,
) -> (SourceOutcome, Option<u64>) {
    let fetched =
        match location {
            IndexLocation::Url(url) => fetch(fetcher, url, validators, max_bytes).await,
            IndexLocation::File(path) => read_file_capped(&resolve(dir, path), max_bytes)
                .await
                .map(|text| Fetched::Body {
                    text,
                    etag: None,
                    last_modified: None,
                }),
        };
    let (text, etag, last_modified) = match fetched {
        Ok(Fetched::NotModified) => return (SourceOutcome::Unchanged, None),
        Ok(Fetched::Body {
            text,
            etag,
            last_modified,
        }) => (text, etag, last_modified),
        Err(why) => return (SourceOutcome::Failed(why), None),
    };
    let parsed = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let index = parse_index(&text, Some(&charts));
        (index, started.elapsed(), charts)
    })
    .await;
    let (index, took, charts) = match parsed {
        Ok(done) => done,
        Err(e) => return (SourceOutcome::Failed(format!("parsing stopped: {e}")), None),
    };
    metrics::histogram!("upkeep_inventory_index_parse_seconds").record(took.as_secs_f64());
    let parse_ms = u64::try_from(took.as_millis()).ok();
    let index = match index {
        Ok(index) => index,
        Err(e) => {
            return (
                SourceOutcome::Failed(format!("not a Helm repository index: {e}")),
                parse_ms,
            );
        }
    };
    let summary = IndexSummary {
        charts: index.charts,
        entries: index.entries,
        skipped: index.skipped,
        warnings: index.warnings,
        wanted: charts,
    };
    for warning in &summary.warnings {
        tracing::warn!(location = %location.key(), "inventory: {warning}");
    }
    match serde_json::to_string(&summary) {
        Ok(body) => (
            SourceOutcome::Fresh {
                body,
                etag,
                last_modified,
            },
            parse_ms,
        ),
        Err(e) => (SourceOutcome::Failed(format!("summarising: {e}")), parse_ms),
    }
}

async fn fetch(
    fetcher: &Fetcher,
    url: &str,
    validators: Option<&SourceRecord>,
    max_bytes: u64,
) -> Result<Fetched, String> {
    let mut request = fetcher.client.get(url).timeout(fetcher.timeout);
    if let Some(prior) = validators {
        if let Some(etag) = &prior.etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &prior.last_modified {
            request = request.header(IF_MODIFIED_SINCE, modified);
        }
    }
    let describe = |e: reqwest::Error| describe(&e, fetcher.timeout);
    let mut response = request.send().await.map_err(describe)?;
    let status = response.status();
    if status == StatusCode::NOT_MODIFIED && validators.is_some() {
        return Ok(Fetched::NotModified);
    }
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    if let Some(length) = response.content_length()
        && length > max_bytes
    {
        return Err(too_large(max_bytes));
    }
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if u64::try_from(body.len() + chunk.len()).unwrap_or(u64::MAX) > max_bytes {
            return Err(too_large(max_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|_| "the index is not UTF-8 text".to_owned())?;
    Ok(Fetched::Body {
        text,
        etag,
        last_modified,
    })
}

fn too_large(max_bytes: u64) -> String {
    format!(
        "the index is larger than `inventory.max_index_size` ({max_bytes} bytes); reading stopped there"
    )
}

fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    if err.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs_f64());
    }
    if err.is_redirect() {
        return format!("too many redirects (more than {MAX_REDIRECTS}; a redirect loop?)");
    }
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}

async fn read_file_capped(path: &Path, max_bytes: u64) -> Result<String, String> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > max_bytes {
        return Err(format!("{}: {}", path.display(), too_large(max_bytes)));
    }
    tokio::fs::read_to_string(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The event source of an item at a place.
pub fn source(item: &str, place: &str) -> EventSource {
    EventSource::Inventory(format!("{item}@{place}"))
}

/// Judges the policies on every item at every place and records the changes (operator
/// alerts). Returns the events recorded.
pub async fn check_policies(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<MonitorEvent>, StoreError> {
    let rows = list(store, config, now).await?;
    let mut changes = Transitions::new(store, now);
    let mut counts: BTreeMap<&'static str, u32> = BTreeMap::new();
    for row in &rows {
        *counts.entry(row.assessment.state.as_str()).or_default() += 1;
        let Some(place) = &row.place else { continue };
        let verdict = evaluate(&config.inventory.policies, &row.assessment);
        let to = verdict
            .as_ref()
            .map_or(EventState::Ok, |v| EventState::of_severity(v.severity));
        let reason = || match &verdict {
            Some(v) => v.reasons.join("; "),
            None => format!("keeps every policy ({})", row.assessment.state.as_str()),
        };
        if let Some(change) = changes
            .observe(source(&row.item, place), EventState::Ok, to, reason)
            .await?
        {
            tracing::warn!(item = %row.item, place = %place, "operator alert: inventory item `{}` at {place}: {} ({})", row.item, change.reason, change.to);
        }
    }
    for state in upkeep_domain::inventory::State::ALL {
        let n = counts.get(state.as_str()).copied().unwrap_or(0);
        metrics::gauge!("upkeep_inventory_items", "state" => state.as_str()).set(f64::from(n));
    }
    changes.record().await
}

/// Runs until `stop` is cancelled: a pass every `settings.every` while the lease is held.
pub async fn run(
    store: Store,
    config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    fetcher: Fetcher,
    settings: InventorySettings,
    active: watch::Receiver<bool>,
    stop: CancellationToken,
) {
    let mut ticks = Periodic::while_held("inventory", settings.every, active).start(stop);
    while let Some(_turn) = ticks.next().await {
        let loaded = Arc::clone(&config.borrow());
        if loaded.config.inventory.items.is_empty() {
            continue;
        }
        let result = async {
            refresh(&store, &loaded, &fetcher, clock.now(), false).await?;
            check_policies(&store, &loaded.config, clock.now()).await
        }
        .await;
        ticks.done(result);
    }
}
