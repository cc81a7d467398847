//! What a maintenance covers, and when: the one answer behind suppression (no incident, no
//! page), the `under_maintenance` status, planned time in availability figures and the
//! tenants' pages (`docs/decisions.md#maintenance`, "What a window covers").
//!
//! - A component the maintenance lists is covered for the whole span `[start, end)` (a shared
//!   component, or a tenant's own component named explicitly).
//! - A tenant's own component (from `tenant_services`) that the maintenance does not list is
//!   covered when the maintenance covers its tenant (`tenants: all` or a list naming it), and
//!   then only during that tenant's slot: outside it a failure of that component is the
//!   tenant's trouble like any other. The slots are [`maintenance_slots`], the plan the mails,
//!   calendars and the API show; a tenant the plan cannot place is covered for the whole span.
//! - Nothing else is covered.
//!
//! Whether the maintenance is in progress is the caller's to check (it is a status, not a span).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;

use super::lifecycle::covers;
use super::record::MaintenanceRecord;
use super::slots::maintenance_slots;
use crate::config::{Config, TenantSel};

/// What one maintenance covers; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coverage {
    start: Timestamp,
    end: Timestamp,
    listed: BTreeSet<String>,
    /// Each covered tenant's own components, by component id.
    owner: BTreeMap<String, String>,
    /// Each covered tenant's slot (tenants the plan could not place are absent).
    slots: BTreeMap<String, (Timestamp, Timestamp)>,
}

impl Coverage {
    /// The coverage of a maintenance spanning `[start, end)` that lists `components` and
    /// covers `tenants` (`canary` first in the slot plan), under the configuration's tenants,
    /// regions and slot policy.
    pub fn new(
        config: &Config,
        components: &[String],
        tenants: &TenantSel,
        start: Timestamp,
        end: Timestamp,
        canary: &[String],
    ) -> Coverage {
        let covered: Vec<&String> = match tenants {
            TenantSel::All => config.tenants.keys().collect(),
            TenantSel::List(ids) => ids
                .iter()
                .filter(|id| config.tenants.contains_key(*id))
                .collect(),
        };
        let owner: BTreeMap<String, String> = config
            .components
            .iter()
            .filter_map(|(id, c)| {
                let tenant = c.tenant.as_ref()?;
                covered
                    .contains(&tenant)
                    .then(|| (id.clone(), tenant.clone()))
            })
            .collect();
        let slots = maintenance_slots(
            &config.tenants,
            &config.regions,
            &config.maintenance.policy,
            &covered,
            start,
            end,
            canary,
        )
        .map(|plan| {
            plan.into_iter()
                .map(|slot| (slot.tenant, (slot.start, slot.end)))
                .collect()
        })
        .unwrap_or_default();
        Coverage {
            start,
            end,
            listed: components.iter().cloned().collect(),
            owner,
            slots,
        }
    }

    /// The coverage of a stored maintenance.
    pub fn of(config: &Config, m: &MaintenanceRecord) -> Coverage {
        Coverage::new(
            config,
            &m.components,
            &m.tenants,
            m.starts_at,
            m.ends_at,
            m.canary(),
        )
    }

    /// The part of the maintenance that covers `component`: the whole span, a tenant's slot,
    /// or `None` when the maintenance does not cover it at all.
    pub fn span_of(&self, component: &str) -> Option<(Timestamp, Timestamp)> {
        if self.listed.contains(component) {
            return Some((self.start, self.end));
        }
        let tenant = self.owner.get(component)?;
        Some(
            self.slots
                .get(tenant)
                .copied()
                .unwrap_or((self.start, self.end)),
        )
    }

    /// Whether the maintenance covers `component` at `at`.
    pub fn covers(&self, component: &str, at: Timestamp) -> bool {
        self.span_of(component)
            .is_some_and(|(start, end)| covers(start, end, at))
    }

    /// Whether the maintenance, known to be in progress, covers `component` at `at`: a listed
    /// component whenever it is in progress (its status, not the clock, says when the window
    /// runs: a start by hand moves it), a tenant's own component during its tenant's slot.
    pub fn covers_while_in_progress(&self, component: &str, at: Timestamp) -> bool {
        if self.listed.contains(component) {
            return true;
        }
        self.span_of(component)
            .is_some_and(|(start, end)| covers(start, end, at))
    }

    /// Whether the maintenance concerns `component` at all (at some instant of its span).
    pub fn concerns(&self, component: &str) -> bool {
        self.span_of(component).is_some()
    }

    /// Every component the maintenance concerns: the listed ones, then the covered tenants'
    /// own ones.
    pub fn components(&self) -> Vec<String> {
        let mut out: Vec<String> = self.listed.iter().cloned().collect();
        out.extend(
            self.owner
                .keys()
                .filter(|c| !self.listed.contains(*c))
                .cloned(),
        );
        out
    }

    /// The own components of `tenant` the maintenance covers during its slot (not listed).
    pub fn tenant_components(&self, tenant: &str) -> Vec<String> {
        self.owner
            .iter()
            .filter(|(c, t)| *t == tenant && !self.listed.contains(*c))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// The covered tenants' slots, by tenant id.
    pub fn slots(&self) -> impl Iterator<Item = (&str, (Timestamp, Timestamp))> {
        self.slots.iter().map(|(t, span)| (t.as_str(), *span))
    }

    /// The slot of `tenant`, when the maintenance covers it and the plan placed it.
    pub fn slot(&self, tenant: &str) -> Option<(Timestamp, Timestamp)> {
        self.slots.get(tenant).copied()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const CONFIG: &str = r#"
page: { name: T, url: "http://127.0.0.1:8080", timezone: UTC }
regions:
  utc: { timezone: UTC }
tenants:
  acme:   { name: Acme, region: utc }
  globex: { name: Globex, region: utc }
components:
  db: { name: Database }
  api: { name: API }
tenant_services:
  components:
    app: { name: "{tenant.name} app" }
maintenance:
  policy: { tenant_slot: 15m }
"#;

    fn config() -> Config {
        crate::config::parse("t.yaml", CONFIG, &|_| None, ts("2026-01-01T00:00:00Z")).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn window(tenants: TenantSel, components: &[&str]) -> Coverage {
        let components: Vec<String> = components.iter().map(|c| (*c).to_owned()).collect();
        Coverage::new(
            &config(),
            &components,
            &tenants,
            ts("2026-02-01T22:00:00Z"),
            ts("2026-02-02T00:00:00Z"),
            &[],
        )
    }

    #[test]
    fn listed_components_are_covered_for_the_whole_window() {
        let c = window(TenantSel::All, &["db"]);
        assert!(c.covers("db", ts("2026-02-01T22:00:00Z")));
        assert!(c.covers("db", ts("2026-02-01T23:59:59Z")));
        assert!(!c.covers("db", ts("2026-02-02T00:00:00Z")));
        assert!(!c.covers("api", ts("2026-02-01T22:30:00Z")));
        assert!(!c.concerns("api"));
        assert!(c.covers_while_in_progress("db", ts("2026-02-02T00:00:01Z")));
        assert!(c.covers_while_in_progress("acme.app", ts("2026-02-01T22:05:00Z")));
        assert!(!c.covers_while_in_progress("acme.app", ts("2026-02-01T22:20:00Z")));
    }

    #[test]
    fn a_tenants_own_components_are_covered_during_its_slot_only() {
        let c = window(TenantSel::All, &["db"]);
        assert_eq!(
            c.slot("acme"),
            Some((ts("2026-02-01T22:00:00Z"), ts("2026-02-01T22:15:00Z")))
        );
        assert_eq!(
            c.slot("globex"),
            Some((ts("2026-02-01T22:15:00Z"), ts("2026-02-01T22:30:00Z")))
        );
        assert!(c.covers("acme.app", ts("2026-02-01T22:05:00Z")));
        assert!(!c.covers("acme.app", ts("2026-02-01T22:20:00Z")));
        assert!(c.covers("globex.app", ts("2026-02-01T22:20:00Z")));
        assert!(!c.covers("globex.app", ts("2026-02-01T22:05:00Z")));
        assert!(!c.covers("globex.app", ts("2026-02-01T23:00:00Z")));
        assert_eq!(c.components(), vec!["db", "acme.app", "globex.app"]);
        assert_eq!(c.tenant_components("acme"), vec!["acme.app"]);
    }

    #[test]
    fn tenants_the_window_does_not_cover_are_not_covered() {
        let c = window(TenantSel::List(vec!["globex".into()]), &[]);
        assert!(!c.concerns("acme.app"));
        assert_eq!(
            c.slot("globex"),
            Some((ts("2026-02-01T22:00:00Z"), ts("2026-02-01T22:15:00Z")))
        );
        assert!(c.covers("globex.app", ts("2026-02-01T22:10:00Z")));
        assert_eq!(c.slot("acme"), None);
    }

    #[test]
    fn a_tenants_component_listed_by_name_is_covered_for_the_whole_window() {
        let c = window(TenantSel::List(vec![]), &["acme.app"]);
        assert!(c.covers("acme.app", ts("2026-02-01T23:30:00Z")));
        assert!(!c.concerns("globex.app"));
    }

    #[test]
    fn a_tenant_without_a_slot_is_covered_for_the_whole_window() {
        let config = config();
        let c = Coverage::new(
            &config,
            &[],
            &TenantSel::All,
            ts("2026-02-01T22:00:00Z"),
            ts("2026-02-01T22:20:00Z"),
            &[],
        );
        assert!(c.covers("globex.app", ts("2026-02-01T22:19:00Z")));
        assert!(c.covers("acme.app", ts("2026-02-01T22:19:00Z")));
    }
}
