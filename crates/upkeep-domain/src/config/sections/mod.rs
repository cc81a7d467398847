//! Decoding of each section of the file into the model, then the checks that span sections:
//! references between ids (monitor → component, tenant → region, route → channel, ...),
//! `depends_on` cycles, push keys shared by two monitors or backups, and e-mail channels
//! without an SMTP server. Every problem is collected with its position.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::decode::{Decoder, Fields, Zone, check_host_port, describe, suggest};
use super::model::*;
use super::yaml::{Entry, Node, NodeKind, Pos, Problem};
use crate::business_hours::BusinessHours;
use crate::condition::Condition;
use crate::email::EmailAddress;
use crate::maintenance::preflight::{self, Check};
use crate::notify::retry::RetryPolicy;
use crate::recurrence::{parse_cron, validate_rrule};
use crate::rule_expr::RuleExpr;

mod checks;
mod components;
mod continuity;
mod inventory;
mod maintenance;
mod monitors;
mod notifications;
mod rollout;
mod settings;
mod tenant_services;

use components::*;
pub use continuity::parse_objective_ppm;
pub use monitors::MONITOR_KINDS;
use monitors::*;
pub use rollout::decode_rollout_json;
pub use settings::parse_size;
use settings::*;

/// The kinds of id a value may refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum IdKind {
    Component,
    Region,
    Tenant,
    Channel,
    Backup,
}

impl IdKind {
    fn section(self) -> &'static str {
        match self {
            IdKind::Component => "components",
            IdKind::Region => "regions",
            IdKind::Tenant => "tenants",
            IdKind::Channel => "notifications.channels",
            IdKind::Backup => "backups",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            IdKind::Component => "component",
            IdKind::Region => "region",
            IdKind::Tenant => "tenant",
            IdKind::Channel => "channel",
            IdKind::Backup => "backup set",
        }
    }
}

/// State shared by the section readers: what needs checking once every section is read.
struct Sections {
    now: Timestamp,
    default_zone: TimeZone,
    default_zone_name: String,
    references: Vec<(IdKind, String, Pos)>,
    push_keys: Vec<(String, Pos)>,
    dependency_pos: BTreeMap<(String, String), Pos>,
    email_channels: Vec<Pos>,
    /// Each window's rollout references and the tenants the window covers.
    rollouts: Vec<(rollout::RolloutRefs, TenantSel)>,
    /// Ids of the components instantiated from `tenant_services` (declared like shared ones).
    generated_components: BTreeSet<String>,
    /// The tree of each monitor probed from an agent's location ([`Config::agent_definitions`]).
    agent_definitions: BTreeMap<String, Node>,
}

impl Sections {
    fn new(now: Timestamp, default_zone: TimeZone, default_zone_name: String) -> Self {
        Sections {
            now,
            default_zone,
            default_zone_name,
            references: Vec::new(),
            push_keys: Vec::new(),
            dependency_pos: BTreeMap::new(),
            email_channels: Vec::new(),
            rollouts: Vec::new(),
            generated_components: BTreeSet::new(),
            agent_definitions: BTreeMap::new(),
        }
    }

    /// Reads monitor `id` from `node`; keeps its tree when an agent's location probes it.
    fn monitor_entry(&mut self, d: &mut Decoder, id: &str, node: &Node) -> Option<Monitor> {
        let monitor = self.monitor(d, node)?;
        if monitor.locations.iter().any(|l| l != SERVER_LOCATION) {
            self.agent_definitions.insert(id.to_owned(), node.clone());
        }
        Some(monitor)
    }
}

/// Decodes one monitor's definition as an agent receives it (`super::assignment`): the same
/// reader as a monitor of the file, its component checked against `components`.
pub(super) fn decode_monitor(
    node: &Node,
    components: &BTreeSet<String>,
) -> (Option<Monitor>, Vec<Problem>) {
    let mut d = Decoder::default();
    let mut s = Sections::new(Timestamp::UNIX_EPOCH, TimeZone::UTC, "UTC".to_owned());
    let monitor = s.monitor(&mut d, node);
    s.generated_components = components.clone();
    let root = Node {
        pos: node.pos,
        kind: NodeKind::Mapping(Vec::new()),
    };
    s.check_references(&mut d, &root);
    if d.problems.is_empty() {
        (monitor, d.problems)
    } else {
        (None, d.problems)
    }
}

/// Decodes the whole tree; `None` when any problem was found.
pub fn decode(root: &Node, now: Timestamp) -> (Option<Config>, Vec<Problem>) {
    let mut d = Decoder::default();
    let Some(mut top) = d.fields(root) else {
        return (None, d.problems);
    };
    let page = top.required(&mut d, "page", read_page);
    let (default_zone, default_zone_name) = page.as_ref().map_or_else(
        || (TimeZone::UTC, "UTC".to_owned()),
        |page: &Page| (page.timezone.clone(), page.timezone_name.clone()),
    );
    let mut s = Sections::new(now, default_zone, default_zone_name);
    let server = top
        .optional(&mut d, "server", read_server)
        .unwrap_or_default();
    let monitoring = top
        .optional(&mut d, "monitoring", read_monitoring)
        .unwrap_or_default();
    let regions = top
        .optional(&mut d, "regions", |d, n| {
            Some(d.id_map(n, |d, e| read_region(d, &e.value)))
        })
        .unwrap_or_default();
    let tenants = top
        .optional(&mut d, "tenants", |d, n| {
            Some(d.id_map(n, |d, e| s.tenant(d, &e.value)))
        })
        .unwrap_or_default();
    let mut components = top
        .optional(&mut d, "components", |d, n| {
            Some(d.id_map(n, |d, e| s.component(d, &e.key, &e.value)))
        })
        .unwrap_or_default();
    let mut monitors = top
        .optional(&mut d, "monitors", |d, n| {
            Some(d.id_map(n, |d, e| s.monitor_entry(d, &e.key, &e.value)))
        })
        .unwrap_or_default();
    if let Some(services) = top.optional(&mut d, "tenant_services", |d, n| {
        s.tenant_services(d, n, root, &tenants)
    }) {
        components.extend(services.components);
        monitors.extend(services.monitors);
    }
    let rules = top
        .optional(&mut d, "rules", |d, n| {
            let mut seen: BTreeMap<String, usize> = BTreeMap::new();
            d.list(n, |d, n| {
                let rule = s.rule(d, n)?;
                if let Some(line) = seen.insert(rule.name.clone(), n.pos.line) {
                    d.error(
                        n.pos,
                        format!(
                            "duplicate rule name `{}`, first defined at line {line}: names identify alerts",
                            rule.name
                        ),
                    );
                    return None;
                }
                Some(rule)
            })
        })
        .unwrap_or_default();
    let maintenance = top
        .optional(&mut d, "maintenance", |d, n| s.maintenance(d, n))
        .unwrap_or_default();
    let backups = top
        .optional(&mut d, "backups", |d, n| {
            Some(d.id_map(n, |d, e| s.backup(d, &e.value)))
        })
        .unwrap_or_default();
    let slos = top
        .optional(&mut d, "slos", |d, n| Some(d.id_map(n, |d, e| s.slo(d, e))))
        .unwrap_or_default();
    let notifications = top
        .optional(&mut d, "notifications", |d, n| s.notifications(d, n))
        .unwrap_or_default();
    let alertmanager = top.optional(&mut d, "alertmanager", read_alertmanager);
    let self_backup = top.optional(&mut d, "self_backup", |d, n| s.self_backup(d, n));
    let inventory = top
        .optional(&mut d, "inventory", inventory::read_inventory)
        .unwrap_or_default();
    top.finish(&mut d);

    s.check_references(&mut d, root);
    s.check_cycles(&mut d, &components);
    s.check_push_keys(&mut d);
    for (refs, covered) in &s.rollouts {
        rollout::check_rollout(
            &mut d,
            refs,
            &tenants,
            &monitors,
            covered,
            maintenance.policy.tenant_slot,
        );
    }
    if notifications.smtp.is_none() {
        for pos in &s.email_channels {
            d.error(
                *pos,
                "an e-mail channel needs `notifications.smtp` to send through",
            );
        }
    }

    let config = match page {
        Some(page) if d.problems.is_empty() => Some(Config {
            page,
            server,
            monitoring,
            regions,
            tenants,
            components,
            monitors,
            rules,
            maintenance,
            backups,
            slos,
            notifications,
            alertmanager,
            self_backup,
            inventory,
            agent_definitions: s.agent_definitions,
        }),
        _ => None,
    };
    (config, d.problems)
}

/// Reads a value with `read` and refuses it when it is not greater than `zero`.
fn positive<T: PartialOrd>(
    d: &mut Decoder,
    node: &Node,
    read: impl FnOnce(&mut Decoder, &Node) -> Option<T>,
    zero: T,
) -> Option<T> {
    let value = read(d, node)?;
    if value > zero {
        Some(value)
    } else {
        d.error(node.pos, "must be greater than zero");
        None
    }
}

fn positive_count(d: &mut Decoder, node: &Node) -> Option<u32> {
    positive(d, node, Decoder::integer::<u32>, 0)
}

fn positive_duration(d: &mut Decoder, node: &Node) -> Option<Duration> {
    positive(d, node, Decoder::duration, Duration::ZERO)
}

/// Reads a mapping that must hold exactly one of `kinds`; returns the kind and its value.
fn one_kind<'n>(
    d: &mut Decoder,
    f: &mut Fields<'n>,
    what: &str,
    kinds: &[&'static str],
) -> Option<(&'static str, &'n Node, Pos)> {
    let present: Vec<(&'static str, Pos)> = kinds
        .iter()
        .filter_map(|kind| f.key_pos(kind).map(|pos| (*kind, pos)))
        .collect();
    match present.as_slice() {
        [] => {
            d.error(f.pos, format!("{what} needs one of: {}", kinds.join(", ")));
            None
        }
        [(kind, pos)] => match f.get(kind) {
            Some(node) => Some((kind, node, *pos)),
            None => {
                d.error(*pos, format!("`{kind}` needs a value"));
                None
            }
        },
        [(first, _), (second, pos), ..] => {
            d.error(
                *pos,
                format!("{what} has exactly one kind; found both `{first}` and `{second}`"),
            );
            None
        }
    }
}

impl Sections {
    fn reference(&mut self, kind: IdKind, id: &str, pos: Pos) {
        self.references.push((kind, id.to_owned(), pos));
    }

    /// Reads an id that refers to another section.
    fn id_ref(&mut self, d: &mut Decoder, node: &Node, kind: IdKind) -> Option<String> {
        let id = d.string(node)?;
        self.reference(kind, &id, node.pos);
        Some(id)
    }

    fn id_refs(&mut self, d: &mut Decoder, node: &Node, kind: IdKind) -> Option<Vec<String>> {
        d.list(node, |d, item| self.id_ref(d, item, kind))
    }

    fn zone_or_default(&self, zone: Option<Zone>) -> (TimeZone, String) {
        zone.map_or_else(
            || (self.default_zone.clone(), self.default_zone_name.clone()),
            |zone| (zone.zone, zone.name),
        )
    }
}

fn read_severity(d: &mut Decoder, node: &Node) -> Option<Severity> {
    d.choice(node, "severity", &Severity::ALL)
}
