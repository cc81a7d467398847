//! Which upgrades are due in which maintenance window.
//!
//! Decisions: an upgrade is due when an item at a place is behind its chart's latest stable
//! release (`behind_patch`, `behind_minor`, `behind_major`) or at its end of life with a newer
//! release out; it goes to the latest stable release (or, for a deprecated chart, its
//! successor's). It is due in the first upcoming window that covers its place: a place that
//! is a tenant id is covered by the windows of that tenant (`tenants: all` or a list naming
//! it); any other place (a cluster, an environment) by every window. Later windows do not list
//! it again.

use jiff::Timestamp;
use serde::Serialize;

use super::assess::{Assessment, State};
use crate::config::TenantSel;

/// One upgrade: an item at a place, from the deployed version to the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Upgrade {
    pub item: String,
    pub place: String,
    pub from: String,
    pub to: String,
    pub state: State,
}

/// The upgrade due for a deployment, if any.
pub fn upgrade_of(item: &str, place: &str, deployed: &str, a: &Assessment) -> Option<Upgrade> {
    let behind = matches!(
        a.state,
        State::BehindPatch | State::BehindMinor | State::BehindMajor | State::EndOfLife
    );
    if !behind {
        return None;
    }
    let to = match (&a.latest, &a.successor) {
        (Some(latest), _) if latest.releases_behind > 0 => latest.version.clone(),
        (None, Some(s)) => format!("{} {}", s.chart, s.version),
        _ => return None,
    };
    Some(Upgrade {
        item: item.to_owned(),
        place: place.to_owned(),
        from: deployed.to_owned(),
        to,
        state: a.state,
    })
}

/// An upcoming window: when it starts and which tenants it covers.
#[derive(Clone, Copy, Debug)]
pub struct WindowRef<'a> {
    pub start: Timestamp,
    pub tenants: &'a TenantSel,
}

/// For each window (in the order given), the upgrades due in it. `is_tenant` says whether a
/// place is a tenant id. Windows that start before `now` take nothing.
pub fn assign(
    upgrades: &[Upgrade],
    windows: &[WindowRef<'_>],
    is_tenant: &dyn Fn(&str) -> bool,
    now: Timestamp,
) -> Vec<Vec<Upgrade>> {
    let mut order: Vec<usize> = (0..windows.len()).collect();
    order.sort_by_key(|&i| windows[i].start);
    let mut out = vec![Vec::new(); windows.len()];
    for upgrade in upgrades {
        let covers = |w: &WindowRef<'_>| {
            !is_tenant(&upgrade.place)
                || match w.tenants {
                    TenantSel::All => true,
                    TenantSel::List(ids) => ids.contains(&upgrade.place),
                }
        };
        if let Some(&i) = order
            .iter()
            .find(|&&i| windows[i].start >= now && covers(&windows[i]))
            && let Some(slot) = out.get_mut(i)
        {
            slot.push(upgrade.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn up(item: &str, place: &str) -> Upgrade {
        Upgrade {
            item: item.into(),
            place: place.into(),
            from: "1.0.0".into(),
            to: "1.1.0".into(),
            state: State::BehindMinor,
        }
    }

    #[test]
    fn each_upgrade_goes_to_the_first_window_covering_its_place() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        let all = TenantSel::All;
        let acme = TenantSel::List(vec!["acme".into()]);
        let windows = [
            WindowRef {
                start: t("2026-12-10T00:00:00Z"),
                tenants: &all,
            },
            WindowRef {
                start: t("2026-12-03T00:00:00Z"),
                tenants: &acme,
            },
            WindowRef {
                start: t("2026-11-01T00:00:00Z"),
                tenants: &all,
            },
        ];
        let upgrades = [
            up("traefik", "prod-eu"),
            up("app", "acme"),
            up("app", "globex"),
        ];
        let is_tenant = |p: &str| p == "acme" || p == "globex";
        let due = assign(&upgrades, &windows, &is_tenant, t("2026-12-01T00:00:00Z"));
        let names = |i: usize| {
            due[i]
                .iter()
                .map(|u| format!("{}@{}", u.item, u.place))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(1),
            ["traefik@prod-eu", "app@acme"],
            "the first upcoming window"
        );
        assert_eq!(names(0), ["app@globex"], "globex is not in the acme window");
        assert!(due[2].is_empty(), "a past window takes nothing");
    }
}
