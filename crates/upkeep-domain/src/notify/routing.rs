//! Who gets a notice.
//!
//! - Operator alerts go to the channels of **every** route that matches them: a route matches
//!   when its severity is the alert's and its component (if it names one) is the alert's. Routes
//!   add up rather than the first one winning, so `critical → [pager, chat]` beside
//!   `component: db → [dba-mail]` pages and mails the DBAs for a critical database alert.
//! - Customer notices go to confirmed subscribers whose scope covers them: all components, or
//!   one of the notice's components (a notice naming no component concerns everyone); a tenant
//!   subscriber gets maintenance that covers its tenant, and incidents like anyone else. A
//!   tenant's own components (from `tenant_services`) concern only that tenant's subscribers:
//!   a notice naming only other tenants' components is not sent.
//! - A tenant's own update in a rollout ([`Notice::Rollout`]) goes only to that tenant's
//!   subscribers (with the same component filter as the maintenance's notices): a subscriber
//!   without a tenant hears of the maintenance, not of every tenant's update in it.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Component, Route, Severity};

use super::Notice;

/// The channel ids an operator alert of `severity` on `component` goes to, deduplicated.
pub fn channels_for(
    routes: &[Route],
    severity: Severity,
    component: Option<&str>,
) -> BTreeSet<String> {
    routes
        .iter()
        .filter(|r| r.severity == severity)
        .filter(|r| match (&r.component, component) {
            (None, _) => true,
            (Some(want), Some(have)) => want == have,
            (Some(_), None) => false,
        })
        .flat_map(|r| r.channels.iter().cloned())
        .collect()
}

/// What a subscriber asked to hear about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    /// Component ids; empty = every component.
    pub components: Vec<String>,
    /// One tenant: maintenance notices only when the maintenance covers it.
    pub tenant: Option<String>,
}

/// Whether a subscriber with `scope` gets `notice`. Operator alerts never go to subscribers.
/// `components` (the configuration's) tells which components a tenant owns: a tenant's own
/// component concerns only that tenant's subscribers, so a notice about nothing but other
/// tenants' components is not sent.
pub fn subscriber_wants(
    scope: &Scope,
    notice: &Notice,
    components: &BTreeMap<String, Component>,
) -> bool {
    let visible = |c: &str| match components.get(c).and_then(|x| x.tenant.as_deref()) {
        None => true,
        Some(owner) => scope.tenant.as_deref() == Some(owner),
    };
    // A notice about no component in particular (a platform-wide incident) concerns everyone.
    let components_match = || {
        let named = notice.components();
        named.is_empty()
            || named.iter().any(|c| {
                visible(c)
                    && (scope.components.is_empty() || scope.components.iter().any(|s| s == c))
            })
    };
    match notice {
        Notice::Alert(_) => false,
        Notice::Incident(_) => components_match(),
        Notice::Maintenance(m) => {
            let tenant_match = match (&scope.tenant, &m.tenants) {
                (None, _) | (Some(_), None) => true,
                (Some(t), Some(list)) => list.iter().any(|x| x == t),
            };
            tenant_match && components_match()
        }
        Notice::Rollout(r) => {
            scope.tenant.as_deref() == Some(r.tenant.as_str()) && components_match()
        }
    }
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;
    use crate::notify::{
        AlertNotice, AlertState, IncidentEvent, IncidentNotice, MaintenanceEvent,
        MaintenanceNotice, NoticeComponent, NoticeSlot, RolloutEvent, RolloutNotice,
    };

    fn route(severity: Severity, component: Option<&str>, channels: &[&str]) -> Route {
        Route {
            severity,
            component: component.map(str::to_owned),
            channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        }
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn routes_add_up_by_severity_and_component() {
        let routes = vec![
            route(Severity::Critical, None, &["pager", "chat"]),
            route(Severity::Warning, None, &["chat"]),
            route(Severity::Critical, Some("db"), &["dba", "pager"]),
        ];
        assert_eq!(
            channels_for(&routes, Severity::Critical, Some("api")),
            set(&["chat", "pager"])
        );
        assert_eq!(
            channels_for(&routes, Severity::Critical, Some("db")),
            set(&["chat", "dba", "pager"])
        );
        assert_eq!(
            channels_for(&routes, Severity::Critical, None),
            set(&["chat", "pager"])
        );
        assert_eq!(
            channels_for(&routes, Severity::Warning, Some("db")),
            set(&["chat"])
        );
        assert!(channels_for(&routes, Severity::Info, Some("db")).is_empty());
    }

    fn incident(components: &[&str]) -> Notice {
        Notice::Incident(IncidentNotice {
            event: IncidentEvent::Opened,
            id: "i".into(),
            title: "t".into(),
            status: "investigating".into(),
            impact: "major".into(),
            components: components
                .iter()
                .map(|c| NoticeComponent {
                    id: (*c).into(),
                    name: (*c).into(),
                    status: "major_outage".into(),
                })
                .collect(),
            body: String::new(),
            started_at: Timestamp::UNIX_EPOCH,
            at: Timestamp::UNIX_EPOCH,
        })
    }

    fn maintenance(components: &[&str], tenants: Option<&[&str]>) -> Notice {
        Notice::Maintenance(MaintenanceNotice {
            event: MaintenanceEvent::Scheduled,
            id: "m".into(),
            title: "t".into(),
            kind: "planned".into(),
            description: String::new(),
            reason: String::new(),
            starts_at: Timestamp::UNIX_EPOCH,
            ends_at: Timestamp::UNIX_EPOCH,
            previous: None,
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            tenants: tenants.map(|t| t.iter().map(|c| (*c).to_owned()).collect()),
            canary: vec![],
            lead_seconds: None,
            at: Timestamp::UNIX_EPOCH,
        })
    }

    #[test]
    fn subscribers_get_what_their_scope_covers() {
        let none = BTreeMap::new();
        let all = Scope::default();
        let api = Scope {
            components: vec!["api".into()],
            tenant: None,
        };
        let acme = Scope {
            components: vec![],
            tenant: Some("acme".into()),
        };
        assert!(subscriber_wants(&all, &incident(&["db"]), &none));
        assert!(subscriber_wants(&api, &incident(&["db", "api"]), &none));
        assert!(!subscriber_wants(&api, &incident(&["db"]), &none));
        assert!(
            subscriber_wants(&api, &incident(&[]), &none),
            "platform-wide"
        );
        assert!(subscriber_wants(&acme, &incident(&["db"]), &none));
        assert!(subscriber_wants(&acme, &maintenance(&["db"], None), &none));
        assert!(subscriber_wants(
            &acme,
            &maintenance(&["db"], Some(&["globex", "acme"])),
            &none
        ));
        assert!(!subscriber_wants(
            &acme,
            &maintenance(&["db"], Some(&["globex"])),
            &none
        ));
        assert!(!subscriber_wants(&api, &maintenance(&["db"], None), &none));
        let alert = Notice::Alert(AlertNotice {
            key: "monitor:x".into(),
            state: AlertState::Firing,
            severity: Severity::Critical,
            component: Some("api".into()),
            summary: String::new(),
            detail: String::new(),
            since: Timestamp::UNIX_EPOCH,
            at: Timestamp::UNIX_EPOCH,
        });
        assert!(!subscriber_wants(&all, &alert, &none));
    }

    #[test]
    fn a_tenants_own_components_concern_only_its_subscribers() {
        let component = |tenant: Option<&str>| Component {
            name: "x".into(),
            group: None,
            description: None,
            depends_on: vec![],
            show_latency: false,
            tenant: tenant.map(str::to_owned),
        };
        let components = BTreeMap::from([
            ("db".to_owned(), component(None)),
            ("acme.app".to_owned(), component(Some("acme"))),
            ("globex.app".to_owned(), component(Some("globex"))),
        ]);
        let scope = |tenant: Option<&str>| Scope {
            components: vec![],
            tenant: tenant.map(str::to_owned),
        };
        let (all, acme, globex) = (scope(None), scope(Some("acme")), scope(Some("globex")));
        let on_acme = incident(&["acme.app"]);
        assert!(subscriber_wants(&acme, &on_acme, &components));
        assert!(!subscriber_wants(&globex, &on_acme, &components));
        assert!(!subscriber_wants(&all, &on_acme, &components));
        let mixed = incident(&["acme.app", "db"]);
        assert!(subscriber_wants(&globex, &mixed, &components));
        assert!(subscriber_wants(&all, &mixed, &components));
        let on_db = incident(&["db"]);
        assert!(subscriber_wants(&globex, &on_db, &components));
        let only_acme_app = Scope {
            components: vec!["acme.app".into()],
            tenant: Some("globex".into()),
        };
        assert!(!subscriber_wants(&only_acme_app, &on_acme, &components));
        assert!(!subscriber_wants(
            &globex,
            &maintenance(&["acme.app"], Some(&["acme", "globex"])),
            &components
        ));
    }

    fn update(tenant: &str, components: &[&str]) -> Notice {
        Notice::Rollout(RolloutNotice {
            event: RolloutEvent::Started,
            id: "m".into(),
            title: "t".into(),
            tenant: tenant.into(),
            tenant_name: tenant.into(),
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            slot: NoticeSlot {
                start: Timestamp::UNIX_EPOCH,
                end: Timestamp::UNIX_EPOCH,
            },
            at: Timestamp::UNIX_EPOCH,
            local: None,
        })
    }

    #[test]
    fn a_tenants_update_goes_to_that_tenants_subscribers_only() {
        let scope = |tenant: Option<&str>, components: &[&str]| Scope {
            components: components.iter().map(|c| (*c).to_owned()).collect(),
            tenant: tenant.map(str::to_owned),
        };
        assert!(subscriber_wants(
            &scope(Some("acme"), &[]),
            &update("acme", &["db"]),
            &BTreeMap::new()
        ));
        assert!(subscriber_wants(
            &scope(Some("acme"), &["db"]),
            &update("acme", &["db", "api"]),
            &BTreeMap::new()
        ));
        assert!(!subscriber_wants(
            &scope(Some("acme"), &["api"]),
            &update("acme", &["db"]),
            &BTreeMap::new()
        ));
        assert!(!subscriber_wants(
            &scope(Some("globex"), &[]),
            &update("acme", &["db"]),
            &BTreeMap::new()
        ));
        assert!(!subscriber_wants(
            &scope(None, &[]),
            &update("acme", &["db"]),
            &BTreeMap::new()
        ));
        assert!(!subscriber_wants(
            &scope(None, &["db"]),
            &update("acme", &["db"]),
            &BTreeMap::new()
        ));
    }
}
