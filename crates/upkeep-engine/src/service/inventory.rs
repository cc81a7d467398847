//! Update inventory use cases: a machine reports what is deployed of an item at a place
//! ([`report_deployed`], the API's `PUT /api/v1/inventory/{item}/deployed`), the output of
//! `helm list` is imported for a place ([`import`]), and the inventory is listed with each
//! deployment judged against its chart's latest stable release ([`list`], the API's
//! `GET /api/v1/inventory` and `upkeep inventory report`).
//!
//! Reports are checked against the configuration: the item must be configured, the place a
//! valid name and the chart version a version (Helm's lenient SemVer). The judgement reads the
//! last good read of each index and end-of-life file, as the refresh task stored it
//! ([`crate::inventory`]).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use serde::Serialize;
use upkeep_domain::config::{Config, Inventory};
use upkeep_domain::inventory::assess::Inputs;
use upkeep_domain::inventory::eol::{Cycle, parse_eol};
use upkeep_domain::inventory::helm_list::{chart_version_of, parse_helm_list};
use upkeep_domain::inventory::plan::{Upgrade, WindowRef, assign, upgrade_of};
use upkeep_domain::inventory::{Assessment, Release, assess, parse_lenient, valid_place};
use upkeep_store::inventory::{Deployed, DeployedChange, DeployedReport, SourceRecord};
use upkeep_store::{Store, StoreError};

use super::Caller;
use crate::inventory::{IndexSummary, eol_key};

/// Why an inventory use case refused.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The item is not in `inventory.items`.
    #[error(
        "there is no inventory item `{0}`: items are declared under `inventory.items` in the configuration"
    )]
    UnknownItem(String),
    /// The request is not acceptable, for a person.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A report of what is deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub place: String,
    pub chart_version: String,
    pub app_version: Option<String>,
}

fn check_report(inventory: &Inventory, item: &str, report: &Report) -> Result<(), InventoryError> {
    if !inventory.items.contains_key(item) {
        return Err(InventoryError::UnknownItem(item.to_owned()));
    }
    if !valid_place(&report.place) {
        return Err(InventoryError::Invalid(format!(
            "invalid place `{}`: use up to 64 letters, digits, `-`, `_` and `.`, starting with a letter or digit",
            report.place
        )));
    }
    if parse_lenient(&report.chart_version).is_none() {
        return Err(InventoryError::Invalid(format!(
            "chart_version `{}` is not a semantic version (e.g. 1.2.3 or v1.2)",
            report.chart_version
        )));
    }
    if report.app_version.as_ref().is_some_and(|a| a.len() > 128) {
        return Err(InventoryError::Invalid(
            "app_version is longer than 128 characters".to_owned(),
        ));
    }
    Ok(())
}

fn to_store(item: &str, report: &Report) -> DeployedReport {
    DeployedReport {
        item: item.to_owned(),
        place: report.place.clone(),
        chart_version: report.chart_version.trim().to_owned(),
        app_version: report
            .app_version
            .as_ref()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty()),
    }
}

/// Records what is deployed of `item` at a place (audited when it changes).
pub async fn report_deployed(
    store: &Store,
    config: &Config,
    caller: &Caller,
    item: &str,
    report: &Report,
    now: Timestamp,
) -> Result<DeployedChange, InventoryError> {
    check_report(&config.inventory, item, report)?;
    let mut changes = store
        .report_deployed(&[to_store(item, report)], &caller.actor, now)
        .await?;
    changes
        .pop()
        .ok_or_else(|| InventoryError::Store(StoreError::Corrupt("no change returned".into())))
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImportOutcome {
    /// Items stored, with their versions.
    pub imported: Vec<(String, String)>,
    /// How many of them changed.
    pub changed: usize,
    /// Releases whose chart no item is bound to (`NAMESPACE/NAME (CHART)`), when told to skip
    /// them.
    pub skipped: Vec<String>,
}

/// Imports the output of `helm list --all-namespaces --output json` for `place`: each release
/// whose chart is the chart an item is bound to at that place is that item's deployment (a
/// release of a successor chart is not: once a place has moved, bind the item to the new
/// chart). A release of a chart no item is bound to refuses the whole import
/// unless `skip_unknown`; two releases of one item at one place always do. Everything is
/// stored in one transaction, or nothing.
pub async fn import(
    store: &Store,
    config: &Config,
    caller: &Caller,
    place: &str,
    helm_list_json: &str,
    skip_unknown: bool,
    now: Timestamp,
) -> Result<ImportOutcome, InventoryError> {
    let releases = parse_helm_list(helm_list_json).map_err(InventoryError::Invalid)?;
    let inventory = &config.inventory;
    let mut found: BTreeMap<String, (Report, String)> = BTreeMap::new();
    let mut unknown = Vec::new();
    for release in &releases {
        let origin = format!("{}/{} ({})", release.namespace, release.name, release.chart);
        let matched = inventory.items.keys().find_map(|item| {
            let sources = inventory.sources(item, place)?;
            chart_version_of(&release.chart, &sources.helm.chart)
                .map(|version| (item.clone(), version.to_owned()))
        });
        let Some((item, version)) = matched else {
            unknown.push(origin);
            continue;
        };
        let report = Report {
            place: place.to_owned(),
            chart_version: version,
            app_version: release.app_version.clone(),
        };
        check_report(inventory, &item, &report)?;
        if let Some((_, first)) = found.get(&item) {
            return Err(InventoryError::Invalid(format!(
                "two releases of inventory item `{item}` at place `{place}`: {first} and {origin}; import each cluster or namespace as its own place"
            )));
        }
        found.insert(item, (report, origin));
    }
    if !unknown.is_empty() && !skip_unknown {
        return Err(InventoryError::Invalid(format!(
            "no inventory item is bound to the chart of {}: add the item under `inventory.items`, or skip such releases (`--skip-unknown`); nothing was imported",
            unknown.join(", ")
        )));
    }
    let reports: Vec<DeployedReport> = found
        .iter()
        .map(|(item, (report, _))| to_store(item, report))
        .collect();
    let changes = store.report_deployed(&reports, &caller.actor, now).await?;
    Ok(ImportOutcome {
        imported: reports
            .into_iter()
            .map(|r| (r.item, r.chart_version))
            .collect(),
        changed: changes.iter().filter(|c| c.changed).count(),
        skipped: unknown,
    })
}

/// How fresh the data a row was judged on is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceState {
    /// The index location, as configured.
    pub location: String,
    /// When it was last read successfully (`None`: never).
    pub read_at: Option<Timestamp>,
    /// Seconds since then.
    pub age_seconds: Option<i64>,
    /// Why the last attempt failed, if it did (the last good read is still used).
    pub error: Option<String>,
}

/// One item at one place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryRow {
    pub item: String,
    /// Where; `None` for an item nothing has been reported for.
    pub place: Option<String>,
    /// The chart the item is bound to there.
    pub chart: String,
    pub chart_version: Option<String>,
    pub app_version: Option<String>,
    pub reported_at: Option<Timestamp>,
    pub reported_by: Option<String>,
    #[serde(flatten)]
    pub assessment: Assessment,
    /// The index read it was judged on.
    pub index: SourceState,
}

/// The stored reads by location.
pub(crate) struct Reads {
    sources: BTreeMap<String, SourceRecord>,
    indexes: BTreeMap<String, IndexSummary>,
    eols: BTreeMap<String, Vec<Cycle>>,
}

impl Reads {
    pub(crate) async fn load(store: &Store) -> Result<Reads, StoreError> {
        let mut reads = Reads {
            sources: BTreeMap::new(),
            indexes: BTreeMap::new(),
            eols: BTreeMap::new(),
        };
        for source in store.list_inventory_sources().await? {
            if let Some(body) = &source.body {
                if source.location.starts_with("eol:") {
                    if let Ok(cycles) = parse_eol(body) {
                        reads.eols.insert(source.location.clone(), cycles);
                    }
                } else if let Ok(summary) = serde_json::from_str::<IndexSummary>(body) {
                    reads.indexes.insert(source.location.clone(), summary);
                }
            }
            reads.sources.insert(source.location.clone(), source);
        }
        Ok(reads)
    }

    fn releases(&self, location: &str, chart: &str) -> Option<&[Release]> {
        let summary = self.indexes.get(location)?;
        Some(summary.charts.get(chart).map_or(&[][..], Vec::as_slice))
    }

    fn state(&self, location: &str, now: Timestamp) -> SourceState {
        let source = self.sources.get(location);
        let read_at = source.and_then(|s| s.good_at);
        SourceState {
            location: location.to_owned(),
            read_at,
            age_seconds: read_at.map(|t| now.duration_since(t).as_secs().max(0)),
            error: source.and_then(|s| s.error.clone()),
        }
    }
}

fn judge(
    config: &Config,
    reads: &Reads,
    item: &str,
    place: Option<&str>,
    deployed: Option<&Deployed>,
    now: Timestamp,
) -> Option<InventoryRow> {
    let inventory = &config.inventory;
    let sources = inventory.sources(item, place.unwrap_or(""))?;
    let location = sources.helm.index.key();
    let releases = reads.releases(&location, &sources.helm.chart);
    let successor = sources.helm.successor.as_ref().and_then(|s| {
        reads
            .releases(&s.index.key(), &s.chart)
            .map(|r| (s.chart.as_str(), r))
    });
    let eol = sources
        .eol
        .and_then(|e| reads.eols.get(&eol_key(&e.file)))
        .map(Vec::as_slice);
    let mut assessment = assess(
        Inputs {
            chart_version: deployed.map_or("", |d| d.chart_version.as_str()),
            app_version: deployed.and_then(|d| d.app_version.as_deref()),
            releases,
            successor,
            eol,
        },
        now,
    );
    if deployed.is_none() {
        assessment.note = Some("nothing has been reported deployed yet".to_owned());
    }
    Some(InventoryRow {
        item: item.to_owned(),
        place: place.map(str::to_owned),
        chart: sources.helm.chart.clone(),
        chart_version: deployed.map(|d| d.chart_version.clone()),
        app_version: deployed.and_then(|d| d.app_version.clone()),
        reported_at: deployed.map(|d| d.reported_at),
        reported_by: deployed.map(|d| d.reported_by.clone()),
        assessment,
        index: reads.state(&location, now),
    })
}

/// Every configured item at every place something was reported for (an item with no report
/// is one row without a place, `unknown`), by item and place. Reports of items no longer
/// configured are left out.
pub async fn list(
    store: &Store,
    config: &Config,
    now: Timestamp,
) -> Result<Vec<InventoryRow>, StoreError> {
    let reads = Reads::load(store).await?;
    let deployed = store.list_deployed().await?;
    let mut rows = Vec::new();
    let mut seen = BTreeSet::new();
    for d in &deployed {
        if let Some(row) = judge(config, &reads, &d.item, Some(&d.place), Some(d), now) {
            seen.insert(d.item.clone());
            rows.push(row);
        }
    }
    for item in config.inventory.items.keys() {
        if !seen.contains(item)
            && let Some(row) = judge(config, &reads, item, None, None, now)
        {
            rows.push(row);
        }
    }
    rows.sort_by(|a, b| (&a.item, &a.place).cmp(&(&b.item, &b.place)));
    Ok(rows)
}

/// For each window (in the order given), the upgrades due in it
/// ([`upkeep_domain::inventory::plan`]).
pub async fn upgrades_due(
    store: &Store,
    config: &Config,
    windows: &[WindowRef<'_>],
    now: Timestamp,
) -> Result<Vec<Vec<Upgrade>>, StoreError> {
    if config.inventory.items.is_empty() {
        return Ok(vec![Vec::new(); windows.len()]);
    }
    let rows = list(store, config, now).await?;
    let upgrades: Vec<Upgrade> = rows
        .iter()
        .filter_map(|r| {
            upgrade_of(
                &r.item,
                r.place.as_deref()?,
                r.chart_version.as_deref()?,
                &r.assessment,
            )
        })
        .collect();
    let is_tenant = |place: &str| config.tenants.contains_key(place);
    Ok(assign(&upgrades, windows, &is_tenant, now))
}
