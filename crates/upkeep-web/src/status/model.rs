//! The public status model: what every public representation (the Statuspage v2 JSON, the HTML
//! pages, the feeds, the badges) is rendered from, resolved once per snapshot.
//!
//! Pure: no clock, no I/O. The same [`Inputs`] always give the same [`Model`].
//!
//! - A component's status derives from its monitors and firing rules
//!   ([`upkeep_domain::component_status::derive`]), overridden by the worst status an
//!   unresolved incident declares for it.
//! - Its `updated_at` is the latest of the configuration's load, its monitors' last status
//!   change and the last update of an unresolved incident affecting it.
//! - The overall indicator is the worst of the components' statuses and the unresolved
//!   incidents' impacts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use sha2::{Digest, Sha256};
use upkeep_domain::component_status::{ComponentStatus, derive, with_overrides};
use upkeep_domain::config::{Config, Monitor, Severity, TenantSel};
use upkeep_domain::incident::Impact;
use upkeep_domain::maintenance::MaintenanceStatus;
use upkeep_domain::maintenance::{Coverage, MaintenanceRecord};
use upkeep_domain::monitor_state::MonitorStatus;
use upkeep_engine::service::latency::LocationLatency;
use upkeep_store::incidents::IncidentRecord;

use super::uptime::{self, DayUptime, History};

/// Everything a snapshot is built from.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub config: &'a Config,
    /// When the running configuration was loaded.
    pub config_loaded_at: Timestamp,
    /// Each monitor's status and when it last changed, by monitor id (missing: pending).
    pub monitors: HashMap<String, (MonitorStatus, Timestamp)>,
    /// `(component id, severity)` of every firing rule.
    pub firing: Vec<(String, Severity)>,
    /// The most recent incidents, newest first.
    pub recent: Vec<IncidentRecord>,
    /// Every unresolved incident, newest first.
    pub unresolved: Vec<IncidentRecord>,
    /// Maintenances: the upcoming, the active and the most recent finished ones.
    pub maintenances: Vec<MaintenanceRecord>,
    /// The progress of the rollout of each maintenance in progress that drives one, by
    /// maintenance id.
    pub rollouts: std::collections::BTreeMap<String, upkeep_engine::service::rollout::Progress>,
    /// The uptime history (the bars and badges).
    pub history: &'a History,
    /// The response-time lines of the components that show one ([`shown_latency`]).
    pub latency: &'a ShownLatency,
    /// The instant the snapshot is for (today's bar ends here).
    pub now: Timestamp,
}

/// A component as the public sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ComponentView {
    /// The id in the configuration.
    pub key: String,
    /// The public, Statuspage-shaped id ([`stable_id`]).
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub group: Option<String>,
    pub status: ComponentStatus,
    pub updated_at: Timestamp,
    /// The last [`uptime::DAYS`] local days, oldest first.
    pub days: Vec<DayUptime>,
    /// With `show_latency`: the mean response time over the last day per location of its
    /// monitors probed from several locations, `(location, milliseconds)`, in the order the
    /// locations are first listed; locations without checks in that day are left out.
    pub latency: Vec<(String, u64)>,
}

/// Each location's checks over the last day, by monitor id
/// ([`upkeep_engine::service::latency::by_location`]).
pub type Latency = HashMap<String, Vec<LocationLatency>>;

/// The monitors whose response time per location the page shows: those probed from more than
/// one location, of components with `show_latency`, owned as their component is (a tenant's
/// monitor watching a shared component is left out: its locations are the tenant's own, and
/// the shared line is on every page).
pub fn latency_monitors(config: &Config) -> Vec<(&str, &Monitor)> {
    config
        .monitors
        .iter()
        .filter(|(_, m)| m.locations.len() > 1)
        .filter(|(_, m)| {
            config
                .components
                .get(&m.component)
                .is_some_and(|c| c.show_latency && c.tenant == m.tenant)
        })
        .map(|(id, m)| (id.as_str(), m))
        .collect()
}

/// The line each component with `show_latency` shows, by component id: the mean response
/// time per location of its monitors that `latency` holds (`component_latency`). The one
/// computation of the figures the page shows: the snapshot is rendered from it, and rebuilt
/// only when it changes (a day's totals change with every check; its rounded means seldom).
pub type ShownLatency = BTreeMap<String, Vec<(String, u64)>>;

/// [`ShownLatency`] of `config`'s components from each monitor's checks in `latency`.
pub fn shown_latency(config: &Config, latency: &Latency) -> ShownLatency {
    config
        .components
        .iter()
        .filter(|(_, c)| c.show_latency)
        .map(|(cid, _)| {
            let line = component_latency(&monitors_of(config, cid), latency);
            (cid.clone(), line)
        })
        .collect()
}

/// The ids of the monitors of component `cid`.
fn monitors_of<'c>(config: &'c Config, cid: &str) -> Vec<&'c str> {
    config
        .monitors
        .iter()
        .filter(|(_, m)| m.component == cid)
        .map(|(mid, _)| mid.as_str())
        .collect()
}

/// The mean response time per location of the component's monitors in `monitor_ids` that
/// `latency` holds (each location's checks of all of them together).
fn component_latency(monitor_ids: &[&str], latency: &Latency) -> Vec<(String, u64)> {
    let mut merged: Vec<LocationLatency> = Vec::new();
    for l in monitor_ids
        .iter()
        .filter_map(|id| latency.get(*id))
        .flatten()
    {
        match merged.iter_mut().find(|m| m.location == l.location) {
            Some(m) => m.totals.add(&l.totals),
            None => merged.push(l.clone()),
        }
    }
    merged
        .into_iter()
        .filter_map(|l| Some((l.mean_ms()?, l.location)))
        .map(|(ms, location)| (location, ms))
        .collect()
}

/// A group of components, or one ungrouped component, in page order.
#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Group {
        id: String,
        name: String,
        status: ComponentStatus,
        updated_at: Timestamp,
        /// Indexes into [`Model::components`].
        members: Vec<usize>,
    },
    Single(usize),
}

/// The resolved public status.
#[derive(Debug, Clone)]
pub struct Model {
    pub page_id: String,
    pub name: String,
    pub url: String,
    pub tz: TimeZone,
    pub tz_name: String,
    pub config_loaded_at: Timestamp,
    pub components: Vec<ComponentView>,
    /// Ungrouped components and groups, in the order of their first component.
    pub sections: Vec<Section>,
    /// `none | maintenance | minor | major | critical`.
    pub indicator: &'static str,
    /// The latest change of anything shown.
    pub updated_at: Timestamp,
    /// The most recent incidents, newest first.
    pub recent: Vec<IncidentRecord>,
    /// Every unresolved incident, newest first.
    pub unresolved: Vec<IncidentRecord>,
    /// Maintenances by start, soonest first (see [`Inputs::maintenances`]).
    pub maintenances: Vec<MaintenanceRecord>,
    /// The configuration's maintenance policy and recurring windows.
    pub maintenance_config: upkeep_domain::config::Maintenance,
    /// Tenants and their regions, for the tenants' calendars.
    pub tenants: Arc<BTreeMap<String, upkeep_domain::config::Tenant>>,
    pub regions: Arc<BTreeMap<String, upkeep_domain::config::Region>>,
    /// One line per maintenance whose rollout is under way ("7 of 12 tenants updated"), by
    /// maintenance id: counts only, nothing internal.
    pub rollout_lines: std::collections::BTreeMap<String, String>,
    pub now: Timestamp,
    pub today: Date,
    /// The tenant this model is for (its page, `/tenants/{id}`); `None`: the public page.
    pub tenant: Option<String>,
    /// Each tenant's slot in each maintenance covering it, by maintenance id then tenant
    /// (absent: the window cannot hold every slot; the tenant's is the whole window).
    pub slots: Arc<Slots>,
    /// What only a tenant's model shows: its own components, the records as stored.
    scoped: Arc<Scoped>,
}

/// Tenants' slots, by maintenance id then tenant id.
pub type Slots = HashMap<String, BTreeMap<String, (Timestamp, Timestamp)>>;

/// The parts of the whole status that tenants' models are cut from.
#[derive(Debug, Clone, Default)]
struct Scoped {
    /// Each tenant's own components, by tenant id.
    own: BTreeMap<String, Vec<ComponentView>>,
    /// The owner of each tenant's own component, by component id.
    owners: BTreeMap<String, String>,
    recent: Vec<IncidentRecord>,
    unresolved: Vec<IncidentRecord>,
    maintenances: Vec<MaintenanceRecord>,
}

/// A deterministic Statuspage-shaped id (12 lowercase alphanumerics) for a config object of
/// `kind` (`page`, `component`, `group`) named `key`: base 36 of a SHA-256 prefix.
pub fn stable_id(kind: &str, key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let digest = Sha256::new()
        .chain_update(kind.as_bytes())
        .chain_update([0u8])
        .chain_update(key.as_bytes())
        .finalize();
    let mut n = digest
        .iter()
        .take(16)
        .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
    let mut out = [b'0'; 12];
    for slot in out.iter_mut().rev() {
        // `n % 36` is below 36, so the index is in bounds.
        *slot = ALPHABET[(n % 36) as usize];
        n /= 36;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// Rank for "worst": maintenance counts just above operational, so any real trouble beats it.
pub fn rank(s: ComponentStatus) -> u8 {
    match s {
        ComponentStatus::Operational => 0,
        ComponentStatus::UnderMaintenance => 1,
        ComponentStatus::DegradedPerformance => 2,
        ComponentStatus::PartialOutage => 3,
        ComponentStatus::MajorOutage => 4,
    }
}

/// The worse of two statuses.
pub fn worst(a: ComponentStatus, b: ComponentStatus) -> ComponentStatus {
    if rank(b) > rank(a) { b } else { a }
}

/// The `status.indicator` from the components' statuses and the unresolved incidents' impacts.
pub fn indicator(
    components: impl IntoIterator<Item = ComponentStatus>,
    impacts: impl IntoIterator<Item = Impact>,
) -> &'static str {
    // 0 none, 1 maintenance, 2 minor, 3 major, 4 critical.
    let from_components = components.into_iter().map(rank);
    let from_incidents = impacts.into_iter().map(|i| match i {
        Impact::None => 0,
        Impact::Minor => 2,
        Impact::Major => 3,
        Impact::Critical => 4,
    });
    match from_components.chain(from_incidents).max().unwrap_or(0) {
        4 => "critical",
        3 => "major",
        2 => "minor",
        1 => "maintenance",
        _ => "none",
    }
}

/// Statuspage's description of an indicator.
pub fn description(indicator: &str) -> &'static str {
    match indicator {
        "critical" => "Major System Outage",
        "major" => "Partial System Outage",
        "minor" => "Minor Service Outage",
        "maintenance" => "Service Under Maintenance",
        _ => "All Systems Operational",
    }
}

impl Model {
    /// Resolves `inputs`.
    pub fn build(inputs: &Inputs<'_>) -> Model {
        let config = inputs.config;
        let tz = config.page.timezone.clone();
        let today = tz.to_datetime(inputs.now).date();
        let days = uptime::last_days(today, uptime::DAYS);

        // Worst status declared by an unresolved incident, and its last change, per component.
        let mut declared: HashMap<&str, (ComponentStatus, Timestamp)> = HashMap::new();
        for incident in &inputs.unresolved {
            for c in &incident.components {
                let entry = declared
                    .entry(c.id.as_str())
                    .or_insert((c.status, incident.updated_at));
                entry.0 = worst(entry.0, c.status);
                entry.1 = entry.1.max(incident.updated_at);
            }
        }
        // Incidents that may show on the bars: the recent ones and every unresolved one.
        let mut bar_incidents: Vec<IncidentRecord> = inputs.unresolved.clone();
        for i in &inputs.recent {
            if !bar_incidents.iter().any(|u| u.id == i.id) {
                bar_incidents.push(i.clone());
            }
        }

        let now = inputs.now;
        let coverages: Vec<(&MaintenanceRecord, Coverage)> = inputs
            .maintenances
            .iter()
            .map(|m| (m, Coverage::of(config, m)))
            .collect();
        let slots: Slots = coverages
            .iter()
            .map(|(m, c)| {
                let per_tenant = c.slots().map(|(t, span)| (t.to_owned(), span)).collect();
                (m.id.clone(), per_tenant)
            })
            .collect();
        let every: Vec<ComponentView> = config
            .components
            .iter()
            .map(|(cid, c)| {
                let mut updated_at = inputs.config_loaded_at;
                let monitor_ids = monitors_of(config, cid);
                let statuses: Vec<MonitorStatus> = monitor_ids
                    .iter()
                    .map(|mid| match inputs.monitors.get(*mid) {
                        Some((status, since)) => {
                            updated_at = updated_at.max(*since);
                            *status
                        }
                        None => MonitorStatus::Pending,
                    })
                    .collect();
                let severities: Vec<Severity> = inputs
                    .firing
                    .iter()
                    .filter(|(component, _)| component == cid)
                    .map(|(_, s)| *s)
                    .collect();
                let incident = declared.get(cid.as_str()).map(|(status, at)| {
                    updated_at = updated_at.max(*at);
                    *status
                });
                let covered = coverages.iter().any(|(m, c)| {
                    m.status == MaintenanceStatus::InProgress
                        && c.covers_while_in_progress(cid, now)
                });
                if covered {
                    updated_at = updated_at.max(
                        coverages
                            .iter()
                            .filter(|(_, c)| c.concerns(cid))
                            .map(|(m, _)| m.updated_at)
                            .fold(Timestamp::MIN, Timestamp::max),
                    );
                }
                ComponentView {
                    key: cid.clone(),
                    id: stable_id("component", cid),
                    name: c.name.clone(),
                    description: c.description.clone(),
                    group: c.group.clone(),
                    status: with_overrides(derive(&statuses, &severities), incident, covered),
                    updated_at,
                    days: uptime::component_days(
                        cid,
                        &monitor_ids,
                        inputs.history,
                        &tz,
                        &days,
                        inputs.now,
                        &bar_incidents,
                    ),
                    latency: if c.show_latency {
                        inputs.latency.get(cid).cloned().unwrap_or_default()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        let owners: BTreeMap<String, String> = config
            .components
            .iter()
            .filter_map(|(id, c)| Some((id.clone(), c.tenant.clone()?)))
            .collect();
        let mut own: BTreeMap<String, Vec<ComponentView>> = BTreeMap::new();
        let mut components: Vec<ComponentView> = Vec::new();
        for view in every {
            match owners.get(&view.key) {
                Some(tenant) => own.entry(tenant.clone()).or_default().push(view),
                None => components.push(view),
            }
        }
        let mut maintenances = inputs.maintenances.clone();
        maintenances.sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
        let scoped = Scoped {
            own,
            owners,
            recent: inputs.recent.clone(),
            unresolved: inputs.unresolved.clone(),
            maintenances,
        };
        let seen = |id: &str| !scoped.owners.contains_key(id);
        let recent = visible_incidents(&scoped.recent, &seen);
        let unresolved = visible_incidents(&scoped.unresolved, &seen);
        let maintenances = visible_maintenances(&scoped.maintenances, &seen);
        let sections = sections_of(&components, inputs.config_loaded_at);
        let indicator = indicator(
            components.iter().map(|c| c.status),
            unresolved.iter().map(|i| i.impact),
        );
        let updated_at = latest(
            &components,
            &recent,
            &unresolved,
            &maintenances,
            inputs.config_loaded_at,
        );

        Model {
            page_id: stable_id("page", &config.page.url),
            name: config.page.name.clone(),
            url: config.page.url.trim_end_matches('/').to_owned(),
            tz,
            tz_name: config.page.timezone_name.clone(),
            config_loaded_at: inputs.config_loaded_at,
            components,
            sections,
            indicator,
            updated_at,
            recent,
            unresolved,
            maintenances,
            maintenance_config: config.maintenance.clone(),
            tenants: Arc::new(config.tenants.clone()),
            regions: Arc::new(config.regions.clone()),
            rollout_lines: inputs
                .rollouts
                .iter()
                .map(|(id, p)| {
                    (
                        id.clone(),
                        format!("{} of {} tenants updated", p.done, p.total),
                    )
                })
                .collect(),
            now: inputs.now,
            today,
            tenant: None,
            slots: Arc::new(slots),
            scoped: Arc::new(scoped),
        }
    }

    /// The model of `tenant`'s page: its own components first, then the shared ones; the
    /// incidents on them; the maintenances that cover it. `None` for an unknown tenant.
    pub fn for_tenant(&self, tenant: &str) -> Option<Model> {
        self.tenants.get(tenant)?;
        let scoped = &self.scoped;
        let mut components: Vec<ComponentView> =
            scoped.own.get(tenant).cloned().unwrap_or_default();
        components.extend(self.components.iter().cloned());
        let seen = |id: &str| scoped.owners.get(id).is_none_or(|owner| owner == tenant);
        let recent = visible_incidents(&scoped.recent, &seen);
        let unresolved = visible_incidents(&scoped.unresolved, &seen);
        let maintenances: Vec<MaintenanceRecord> =
            visible_maintenances(&scoped.maintenances, &seen)
                .into_iter()
                .filter(|m| match &m.tenants {
                    TenantSel::All => true,
                    TenantSel::List(ids) => ids.iter().any(|t| t == tenant),
                })
                .collect();
        let indicator = indicator(
            components.iter().map(|c| c.status),
            unresolved.iter().map(|i| i.impact),
        );
        Some(Model {
            sections: sections_of(&components, self.config_loaded_at),
            updated_at: latest(
                &components,
                &recent,
                &unresolved,
                &maintenances,
                self.config_loaded_at,
            ),
            components,
            indicator,
            recent,
            unresolved,
            maintenances,
            tenant: Some(tenant.to_owned()),
            ..self.clone()
        })
    }

    /// Every component, each tenant's own included: what operators see in the console.
    pub fn every_component(&self) -> impl Iterator<Item = &ComponentView> {
        self.components
            .iter()
            .chain(self.scoped.own.values().flatten())
    }

    /// Whether this model may show component `id`: a shared one, or one of its tenant's own.
    pub fn shows(&self, id: &str) -> bool {
        self.scoped
            .owners
            .get(id)
            .is_none_or(|owner| self.tenant.as_deref() == Some(owner.as_str()))
    }

    /// Whether this model may show `i`: it names no component, or one the model shows.
    pub fn shows_incident(&self, i: &IncidentRecord) -> bool {
        let mut named = i
            .components
            .iter()
            .chain(i.updates.iter().flat_map(|u| u.components.iter()))
            .peekable();
        named.peek().is_none() || named.any(|c| self.shows(&c.id))
    }

    /// Whether this model may show `m`: it names no component, or one the model shows.
    pub fn shows_maintenance(&self, m: &MaintenanceRecord) -> bool {
        m.components.is_empty() || m.components.iter().any(|c| self.shows(c))
    }

    /// The first public tenant owning one of the components `ids`, if any.
    pub fn public_owner<'i>(&self, ids: impl Iterator<Item = &'i str>) -> Option<String> {
        ids.filter_map(|id| self.scoped.owners.get(id))
            .find(|owner| self.tenants.get(*owner).is_some_and(|t| t.public))
            .cloned()
    }

    /// The zone of the model's tenant's region (the page's zone for the public model).
    pub fn tenant_zone(&self) -> TimeZone {
        self.tenant
            .as_deref()
            .and_then(|t| self.tenants.get(t))
            .and_then(|t| self.regions.get(&t.region))
            .map_or_else(|| self.tz.clone(), |r| r.timezone.clone())
    }

    /// The slot of the model's tenant in maintenance `id`, when it has one.
    pub fn tenant_slot(&self, id: &str) -> Option<(Timestamp, Timestamp)> {
        let tenant = self.tenant.as_deref()?;
        self.slots.get(id)?.get(tenant).copied()
    }
}

/// The incidents that concern what `seen` accepts, each cut down to those components: one
/// naming components of which none is seen is left out (a platform-wide one, naming none, stays).
fn visible_incidents(all: &[IncidentRecord], seen: &dyn Fn(&str) -> bool) -> Vec<IncidentRecord> {
    all.iter()
        .filter(|i| {
            let named: Vec<&str> = i
                .components
                .iter()
                .chain(i.updates.iter().flat_map(|u| u.components.iter()))
                .map(|c| c.id.as_str())
                .collect();
            named.is_empty() || named.iter().any(|c| seen(c))
        })
        .map(|i| {
            let mut i = i.clone();
            i.components.retain(|c| seen(&c.id));
            for u in &mut i.updates {
                u.components.retain(|c| seen(&c.id));
            }
            i
        })
        .collect()
}

/// The maintenances that concern what `seen` accepts, cut down the same way.
fn visible_maintenances(
    all: &[MaintenanceRecord],
    seen: &dyn Fn(&str) -> bool,
) -> Vec<MaintenanceRecord> {
    all.iter()
        .filter(|m| m.components.is_empty() || m.components.iter().any(|c| seen(c)))
        .map(|m| {
            let mut m = m.clone();
            m.components.retain(|c| seen(c));
            m
        })
        .collect()
}

/// The latest change of anything shown.
fn latest(
    components: &[ComponentView],
    recent: &[IncidentRecord],
    unresolved: &[IncidentRecord],
    maintenances: &[MaintenanceRecord],
    loaded_at: Timestamp,
) -> Timestamp {
    components
        .iter()
        .map(|c| c.updated_at)
        .chain(recent.iter().map(|i| i.updated_at))
        .chain(unresolved.iter().map(|i| i.updated_at))
        .chain(maintenances.iter().map(|m| m.updated_at))
        .fold(loaded_at, Timestamp::max)
}

/// Ungrouped components and groups, in the order of their first component.
fn sections_of(components: &[ComponentView], loaded_at: Timestamp) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    for (index, c) in components.iter().enumerate() {
        match &c.group {
            None => sections.push(Section::Single(index)),
            Some(g) => {
                let existing = sections.iter_mut().find_map(|s| match s {
                    Section::Group { name, members, .. } if name == g => Some(members),
                    _ => None,
                });
                match existing {
                    Some(members) => members.push(index),
                    None => sections.push(Section::Group {
                        id: stable_id("group", g),
                        name: g.clone(),
                        status: ComponentStatus::Operational,
                        updated_at: loaded_at,
                        members: vec![index],
                    }),
                }
            }
        }
    }
    for section in &mut sections {
        if let Section::Group {
            status,
            updated_at,
            members,
            ..
        } = section
        {
            for &m in members.iter() {
                if let Some(c) = components.get(m) {
                    *status = worst(*status, c.status);
                    *updated_at = (*updated_at).max(c.updated_at);
                }
            }
        }
    }
    sections
}

impl Model {
    /// Maintenances in progress or verifying, soonest start first.
    pub fn active_maintenances(&self) -> impl Iterator<Item = &MaintenanceRecord> {
        self.maintenances.iter().filter(|m| {
            matches!(
                m.status,
                MaintenanceStatus::InProgress | MaintenanceStatus::Verifying
            )
        })
    }

    /// Maintenances not started yet (held ones included), soonest first.
    pub fn upcoming_maintenances(&self) -> impl Iterator<Item = &MaintenanceRecord> {
        self.maintenances
            .iter()
            .filter(|m| m.status == MaintenanceStatus::Scheduled)
    }

    /// Completed and cancelled maintenances that had started (or were due), latest first.
    pub fn past_maintenances(&self) -> impl Iterator<Item = &MaintenanceRecord> {
        self.maintenances
            .iter()
            .rev()
            .filter(|m| m.status.is_terminal() && m.starts_at <= self.now)
    }

    /// The public line on the progress of maintenance `id`'s rollout, if it is under way.
    pub fn rollout_line(&self, id: &str) -> Option<&str> {
        self.rollout_lines.get(id).map(String::as_str)
    }

    /// The component with configuration id `key`.
    pub fn component(&self, key: &str) -> Option<&ComponentView> {
        self.components.iter().find(|c| c.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenants_monitor_of_a_shared_component_brings_no_latency_to_the_shared_line() {
        let text = r#"
page: { name: Example, url: "https://status.example.com", timezone: UTC }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  globex: { name: Globex, region: eu, public: false }
components:
  api: { name: API, show_latency: true }
monitors:
  api-health:
    component: api
    http: { url: "https://api.example.com/health" }
    locations: [server, eu-1, us-1]
tenant_services:
  components:
    app: { name: "{tenant.name} workspace", show_latency: true }
  monitors:
    edge:
      component: api
      http: { url: "https://{tenant.id}.example.com/health" }
      locations: [server, "{tenant.id}-onprem"]
    app-health:
      component: app
      http: { url: "https://{tenant.id}.example.com/app" }
      locations: [server, "{tenant.id}-onprem"]
"#;
        let config = upkeep_domain::config::parse("t.yaml", text, &|_| None, Timestamp::now())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            config
                .monitors
                .get("globex.edge")
                .and_then(|m| m.tenant.as_deref()),
            Some("globex")
        );
        let shown: Vec<&str> = latency_monitors(&config)
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        // The shared component's line: its shared monitor only. The tenant's own component:
        // the tenant's monitor.
        assert_eq!(shown, ["api-health", "globex.app-health"]);
    }

    #[test]
    fn stable_ids_have_the_statuspage_shape_and_do_not_change() {
        let a = stable_id("component", "api");
        assert_eq!(a.len(), 12);
        assert!(
            a.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
        assert_eq!(a, stable_id("component", "api"));
        assert_ne!(a, stable_id("group", "api"));
        assert_ne!(a, stable_id("component", "web"));
    }

    #[test]
    fn the_indicator_is_the_worst_of_components_and_incidents() {
        use ComponentStatus::*;
        assert_eq!(indicator([Operational], []), "none");
        assert_eq!(
            indicator([UnderMaintenance, Operational], []),
            "maintenance"
        );
        assert_eq!(
            indicator([UnderMaintenance, DegradedPerformance], []),
            "minor"
        );
        assert_eq!(indicator([PartialOutage], [Impact::Minor]), "major");
        assert_eq!(indicator([Operational], [Impact::Critical]), "critical");
        assert_eq!(indicator([MajorOutage], []), "critical");
        assert_eq!(description("none"), "All Systems Operational");
        assert_eq!(description("major"), "Partial System Outage");
    }
}
