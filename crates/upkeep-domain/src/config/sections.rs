//! Decoding of each section of the file into the model, then the checks that span sections:
//! references between ids (monitor → component, tenant → region, route → channel, ...),
//! `depends_on` cycles, push keys shared by two monitors or backups, and e-mail channels
//! without an SMTP server. Every problem is collected with its position.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::decode::{Decoder, Fields, Zone, check_host_port, suggest};
use super::model::*;
use super::yaml::{Entry, Node, NodeKind, Pos, Problem};
use crate::business_hours::BusinessHours;
use crate::condition::Condition;
use crate::email::EmailAddress;
use crate::maintenance::preflight::{self, Check};
use crate::notify::retry::RetryPolicy;
use crate::recurrence::{parse_cron, validate_rrule};
use crate::rule_expr::RuleExpr;

const MONITOR_KINDS: [&str; 5] = ["http", "tcp", "dns", "tls", "push"];
const CHANNEL_KINDS: [&str; 4] = ["email", "webhook", "slack", "pagerduty"];
const HTTP_METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

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
    let mut s = Sections {
        now,
        default_zone,
        default_zone_name,
        references: Vec::new(),
        push_keys: Vec::new(),
        dependency_pos: BTreeMap::new(),
        email_channels: Vec::new(),
    };
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
    let components = top
        .optional(&mut d, "components", |d, n| {
            Some(d.id_map(n, |d, e| s.component(d, &e.key, &e.value)))
        })
        .unwrap_or_default();
    let monitors = top
        .optional(&mut d, "monitors", |d, n| {
            Some(d.id_map(n, |d, e| s.monitor(d, &e.value)))
        })
        .unwrap_or_default();
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
    top.finish(&mut d);

    s.check_references(&mut d, root);
    s.check_cycles(&mut d, &components);
    s.check_push_keys(&mut d);
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
        }),
        _ => None,
    };
    (config, d.problems)
}

fn read_page(d: &mut Decoder, node: &Node) -> Option<Page> {
    let mut f = d.fields(node)?;
    let name = f.required(d, "name", Decoder::string);
    let url = f.required(d, "url", Decoder::url);
    let zone = f.required(d, "timezone", Decoder::zone);
    f.finish(d);
    let Zone {
        zone,
        name: zone_name,
    } = zone?;
    Some(Page {
        name: name?,
        url: url?.trim_end_matches('/').to_owned(),
        timezone: zone,
        timezone_name: zone_name,
    })
}

fn read_server(d: &mut Decoder, node: &Node) -> Option<Server> {
    let defaults = Server::default();
    let mut f = d.fields(node)?;
    let rate_limit = f
        .optional(d, "rate_limit", |d, n| {
            read_rate_limit(d, n, defaults.rate_limit)
        })
        .unwrap_or(defaults.rate_limit);
    let ping_rate_limit = f
        .optional(d, "ping_rate_limit", |d, n| {
            read_rate_limit(d, n, defaults.ping_rate_limit)
        })
        .unwrap_or(defaults.ping_rate_limit);
    let max_body_bytes = f.optional(d, "max_body", |d, n| d.parsed(n, parse_size));
    let request_timeout = f.optional(d, "request_timeout", positive_duration);
    let max_connections = f.optional(d, "max_connections", |d, n| {
        positive(d, n, Decoder::integer::<usize>, 0)
    });
    let shutdown_grace = f.optional(d, "shutdown_grace", Decoder::duration);
    f.finish(d);
    Some(Server {
        rate_limit,
        ping_rate_limit,
        max_body_bytes: max_body_bytes.unwrap_or(defaults.max_body_bytes),
        request_timeout: request_timeout.unwrap_or(defaults.request_timeout),
        max_connections: max_connections.unwrap_or(defaults.max_connections),
        shutdown_grace: shutdown_grace.unwrap_or(defaults.shutdown_grace),
    })
}

fn read_rate_limit(d: &mut Decoder, n: &Node, defaults: RateLimit) -> Option<RateLimit> {
    let mut f = d.fields(n)?;
    let per_second = f.optional(d, "per_second", Decoder::integer::<u32>);
    let burst = f.optional(d, "burst", |d, n| {
        positive(d, n, Decoder::integer::<u32>, 0)
    });
    f.finish(d);
    Some(RateLimit {
        per_second: per_second.unwrap_or(defaults.per_second),
        burst: burst.unwrap_or(defaults.burst),
    })
}

fn read_monitoring(d: &mut Decoder, node: &Node) -> Option<MonitoringSettings> {
    let defaults = MonitoringSettings::default();
    let mut f = d.fields(node)?;
    let retention = f.optional(d, "retention", positive_duration);
    let max_concurrent = f.optional(d, "max_concurrent", |d, n| {
        positive(d, n, Decoder::integer::<usize>, 0)
    });
    f.finish(d);
    Some(MonitoringSettings {
        retention: retention.unwrap_or(defaults.retention),
        max_concurrent: max_concurrent.unwrap_or(defaults.max_concurrent),
    })
}

fn read_region(d: &mut Decoder, node: &Node) -> Option<Region> {
    let mut f = d.fields(node)?;
    let zone = f.required(d, "timezone", Decoder::zone);
    let business_hours = f.optional(d, "business_hours", |d, n| {
        d.parsed(n, BusinessHours::parse)
    });
    f.finish(d);
    let Zone { zone, name } = zone?;
    Some(Region {
        timezone: zone,
        timezone_name: name,
        business_hours: business_hours.unwrap_or_default(),
    })
}

fn read_alertmanager(d: &mut Decoder, node: &Node) -> Option<Alertmanager> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", Decoder::url);
    let label = f.optional(d, "component_label", Decoder::string);
    f.finish(d);
    Some(Alertmanager {
        url: url?.trim_end_matches('/').to_owned(),
        component_label: label.unwrap_or_else(|| "component".to_owned()),
    })
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

fn string_list(d: &mut Decoder, node: &Node) -> Option<Vec<String>> {
    d.list(node, Decoder::string)
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

    fn tenant(&mut self, d: &mut Decoder, node: &Node) -> Option<Tenant> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let region = f.required(d, "region", |d, n| self.id_ref(d, n, IdKind::Region));
        f.finish(d);
        Some(Tenant {
            name: name?,
            region: region?,
        })
    }

    fn component(&mut self, d: &mut Decoder, id: &str, node: &Node) -> Option<Component> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let group = f.optional(d, "group", Decoder::string);
        let description = f.optional(d, "description", Decoder::string);
        let depends_on = f.optional(d, "depends_on", |d, n| {
            d.list(n, |d, item| {
                let dependency = self.id_ref(d, item, IdKind::Component)?;
                self.dependency_pos
                    .entry((id.to_owned(), dependency.clone()))
                    .or_insert(item.pos);
                Some(dependency)
            })
        });
        f.finish(d);
        Some(Component {
            name: name?,
            group,
            description,
            depends_on: depends_on.unwrap_or_default(),
        })
    }

    fn monitor(&mut self, d: &mut Decoder, node: &Node) -> Option<Monitor> {
        let mut f = d.fields(node)?;
        let component = f.required(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        let kind =
            one_kind(d, &mut f, "a monitor", &MONITOR_KINDS).and_then(|(kind, n, _)| match kind {
                "http" => read_http(d, n).map(MonitorKind::Http),
                "tcp" => read_tcp(d, n).map(MonitorKind::Tcp),
                "dns" => read_dns(d, n).map(MonitorKind::Dns),
                "tls" => read_tls(d, n).map(MonitorKind::Tls),
                _ => self.push(d, n).map(MonitorKind::Push),
            });
        let interval = f.optional(d, "interval", positive_duration);
        let timeout = f.optional(d, "timeout", positive_duration);
        let conditions = f.optional(d, "conditions", |d, n| d.list(n, read_condition));
        let failure_threshold = f.optional(d, "failure_threshold", positive_count);
        let recovery_threshold = f.optional(d, "recovery_threshold", positive_count);
        let locations = f.optional(d, "locations", string_list);
        let severity = f.optional(d, "severity", read_severity);
        f.finish(d);
        Some(Monitor {
            component: component?,
            kind: kind?,
            interval: interval.unwrap_or(Duration::from_secs(60)),
            timeout: timeout.unwrap_or(Duration::from_secs(10)),
            conditions: conditions.unwrap_or_default(),
            failure_threshold: failure_threshold.unwrap_or(3),
            recovery_threshold: recovery_threshold.unwrap_or(1),
            locations,
            severity: severity.unwrap_or(Severity::Critical),
        })
    }

    fn push(&mut self, d: &mut Decoder, node: &Node) -> Option<PushCheck> {
        let mut f = d.fields(node)?;
        let key = f.required(d, "key", |d, n| self.push_key(d, n));
        let period = f.optional(d, "period", positive_duration);
        let cron = f.optional(d, "cron", |d, n| {
            d.parsed(n, |expr| {
                parse_cron(expr)
                    .map(|_| expr.to_owned())
                    .map_err(|err| format!("bad cron expression `{expr}`: {err}"))
            })
        });
        let zone = f.optional(d, "timezone", Decoder::zone);
        let grace = f
            .optional(d, "grace", Decoder::duration)
            .unwrap_or(DEFAULT_GRACE);
        let has_period = f.has("period");
        let has_cron = f.has("cron");
        let pos = f.pos;
        f.finish(d);
        let schedule = match (has_period, has_cron) {
            (true, true) => {
                d.error(pos, "a push monitor has `period` or `cron`, not both");
                return None;
            }
            (false, false) => {
                d.error(
                    pos,
                    "a push monitor needs `period` (e.g. 1d) or `cron` (e.g. \"0 2 * * *\")",
                );
                return None;
            }
            (true, false) => PushSchedule::Period {
                period: period?,
                grace,
            },
            (false, true) => {
                let (timezone, timezone_name) = self.zone_or_default(zone);
                PushSchedule::Cron {
                    expr: cron?,
                    timezone,
                    timezone_name,
                    grace,
                }
            }
        };
        Some(PushCheck {
            key: key?,
            schedule,
        })
    }

    fn push_key(&mut self, d: &mut Decoder, node: &Node) -> Option<String> {
        let key = d.string(node)?;
        if !d.check_id(&key, node.pos) {
            return None;
        }
        self.push_keys.push((key.clone(), node.pos));
        Some(key)
    }

    fn rule(&mut self, d: &mut Decoder, node: &Node) -> Option<Rule> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let scrape = f.required(d, "scrape", Decoder::url);
        let interval = f.optional(d, "interval", positive_duration);
        let expr = f.required(d, "expr", |d, n| {
            let text = d.text(n)?;
            match RuleExpr::parse(text) {
                Ok(expr) => Some(expr),
                Err(err) => {
                    d.error(
                        n.pos_in_text(err.offset),
                        format!("bad rule expression: {}", err.message),
                    );
                    None
                }
            }
        });
        let for_duration = f.optional(d, "for", Decoder::duration);
        let severity = f.required(d, "severity", read_severity);
        let component = f.required(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        f.finish(d);
        Some(Rule {
            name: name?,
            scrape: scrape?,
            interval: interval.unwrap_or(Duration::from_secs(30)),
            expr: expr?,
            for_duration: for_duration.unwrap_or(Duration::ZERO),
            severity: severity?,
            component: component?,
        })
    }

    fn maintenance(&mut self, d: &mut Decoder, node: &Node) -> Option<Maintenance> {
        let mut f = d.fields(node)?;
        let policy = f.optional(d, "policy", read_policy).unwrap_or_default();
        let windows = f
            .optional(d, "windows", |d, n| {
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                d.list(n, |d, n| {
                    let window = self.window(d, n)?;
                    if let Some(line) = seen.insert(window.id.clone(), n.pos.line) {
                        d.error(
                            n.pos,
                            format!(
                                "duplicate window id `{}`, first defined at line {line}",
                                window.id
                            ),
                        );
                        return None;
                    }
                    Some(window)
                })
            })
            .unwrap_or_default();
        f.finish(d);
        Some(Maintenance { policy, windows })
    }

    fn window(&mut self, d: &mut Decoder, node: &Node) -> Option<Window> {
        let mut f = d.fields(node)?;
        let id = f.required(d, "id", |d, n| {
            let id = d.string(n)?;
            d.check_id(&id, n.pos).then_some(id)
        });
        let title = f.required(d, "title", Decoder::string);
        let description = f.optional(d, "description", Decoder::string);
        let zone = f.optional(d, "timezone", Decoder::zone);
        let starts = f.optional(d, "starts", |d, n| {
            d.parsed(n, |text| match text.parse::<Date>() {
                Ok(date) if (1970..=2200).contains(&date.year()) => Ok(date),
                Ok(_) => Err(format!(
                    "`{text}` is out of range: use a year from 1970 to 2200"
                )),
                Err(_) => Err(format!("bad date `{text}`: write YYYY-MM-DD")),
            })
        });
        let (timezone, timezone_name) = self.zone_or_default(zone);
        let now = self.now;
        let rrule = f.required(d, "rrule", |d, n| {
            d.parsed(n, |rule| {
                if starts.is_none() && rule.to_ascii_uppercase().contains("COUNT=") {
                    return Err(
                        "a rule with COUNT needs `starts` (the day it counts from)".to_owned()
                    );
                }
                validate_rrule(rule, &timezone, starts, now)
                    .map(|()| rule.trim().to_owned())
                    .map_err(|err| format!("bad rrule: {err}"))
            })
        });
        let duration = f.required(d, "duration", positive_duration);
        let components = f.required(d, "components", |d, n| {
            self.id_refs(d, n, IdKind::Component)
        });
        let tenants = f.optional(d, "tenants", |d, n| match n.scalar() {
            Some(scalar) if scalar.text == "all" => Some(TenantSel::All),
            Some(_) => {
                d.error(n.pos, "expected `all` or a list of tenant ids");
                None
            }
            None => self.id_refs(d, n, IdKind::Tenant).map(TenantSel::List),
        });
        let checks = f.optional(d, "checks", |d, n| {
            d.choice(
                n,
                "checks mode",
                &[("run", ChecksMode::Run), ("skip", ChecksMode::Skip)],
            )
        });
        let counts_as_downtime = f.optional(d, "counts_as_downtime", Decoder::bool);
        let notify_subscribers = f.optional(d, "notify_subscribers", Decoder::bool);
        let preflight = f.optional(d, "preflight", |d, n| {
            d.list(n, |d, item| self.preflight_check(d, item))
        });
        f.finish(d);
        Some(Window {
            id: id?,
            title: title?,
            description,
            timezone,
            timezone_name,
            rrule: rrule?,
            starts,
            duration: duration?,
            components: components?,
            tenants: tenants.unwrap_or(TenantSel::All),
            checks: checks.unwrap_or(ChecksMode::Run),
            counts_as_downtime: counts_as_downtime.unwrap_or(false),
            notify_subscribers: notify_subscribers.unwrap_or(true),
            preflight: preflight.unwrap_or_default(),
        })
    }

    /// One pre-flight check: `backups_fresh`, `no_open_incidents`, `monitors_green` (all
    /// components), `{ monitors_green: [ids] }` or `{ command: "...", timeout: 30s }`.
    fn preflight_check(&mut self, d: &mut Decoder, node: &Node) -> Option<Check> {
        if let Some(scalar) = node.scalar() {
            return match scalar.text.as_str() {
                "backups_fresh" => Some(Check::BackupsFresh),
                "no_open_incidents" => Some(Check::NoOpenIncidents),
                "monitors_green" => Some(Check::MonitorsGreen { components: vec![] }),
                other => {
                    d.error(
                        node.pos,
                        format!(
                            "unknown pre-flight check `{other}`: expected backups_fresh, \
                             monitors_green, no_open_incidents or {{ command: ... }}"
                        ),
                    );
                    None
                }
            };
        }
        let mut f = d.fields(node)?;
        let green = f.optional(d, "monitors_green", |d, n| {
            self.id_refs(d, n, IdKind::Component)
        });
        let command = f.optional(d, "command", Decoder::string);
        let timeout = f.optional(d, "timeout", positive_duration);
        f.finish(d);
        match (green, command) {
            (Some(components), None) if timeout.is_none() => {
                Some(Check::MonitorsGreen { components })
            }
            (None, Some(run)) => {
                let timeout = timeout.unwrap_or(preflight::DEFAULT_COMMAND_TIMEOUT);
                if run.trim().is_empty() || timeout > preflight::MAX_COMMAND_TIMEOUT {
                    d.error(
                        node.pos,
                        "a command check needs a command and a timeout of at most 1h",
                    );
                    return None;
                }
                Some(Check::Command {
                    run,
                    timeout_ms: timeout.as_millis() as u64,
                })
            }
            _ => {
                d.error(
                    node.pos,
                    "a pre-flight check map is `{ monitors_green: [ids] }` or \
                     `{ command: \"...\", timeout: 30s }`",
                );
                None
            }
        }
    }

    fn backup(&mut self, d: &mut Decoder, node: &Node) -> Option<Backup> {
        let mut f = d.fields(node)?;
        let rpo = f.required(d, "rpo", positive_duration);
        let rto = f.required(d, "rto", positive_duration);
        let drill_every = f.optional(d, "drill_every", positive_duration);
        let push_key = f.required(d, "push_key", |d, n| self.push_key(d, n));
        f.finish(d);
        Some(Backup {
            rpo: rpo?,
            rto: rto?,
            drill_every,
            push_key: push_key?,
        })
    }

    fn self_backup(&mut self, d: &mut Decoder, node: &Node) -> Option<SelfBackup> {
        let mut f = d.fields(node)?;
        let every = f.required(d, "every", positive_duration);
        let dir = f.required(d, "dir", |d, n| {
            let dir = d.string(n)?;
            if dir.trim().is_empty() {
                d.error(n.pos, "must name a directory");
                return None;
            }
            Some(std::path::PathBuf::from(dir))
        });
        let keep = f.optional(d, "keep", positive_count);
        let backup_set = f.optional(d, "backup_set", |d, n| self.id_ref(d, n, IdKind::Backup));
        f.finish(d);
        Some(SelfBackup {
            every: every?,
            dir: dir?,
            keep: keep.unwrap_or(7),
            backup_set,
        })
    }

    fn slo(&mut self, d: &mut Decoder, entry: &Entry) -> Option<Slo> {
        self.reference(IdKind::Component, &entry.key, entry.key_pos);
        let mut f = d.fields(&entry.value)?;
        let objective = f.required(d, "objective", |d, n| d.parsed(n, parse_objective_ppm));
        let window = f.optional(d, "window", |d, n| d.parsed(n, parse_slo_window));
        let burn_rates = f.optional(d, "burn_rates", |d, n| d.list(n, read_burn_rate));
        f.finish(d);
        Some(Slo {
            objective_ppm: objective?,
            window: window.unwrap_or(SloWindow::CalendarYear),
            burn_rates: burn_rates.unwrap_or_else(BurnRate::defaults),
        })
    }

    fn notifications(&mut self, d: &mut Decoder, node: &Node) -> Option<Notifications> {
        let mut f = d.fields(node)?;
        let smtp = f.optional(d, "smtp", read_smtp);
        let channels = f
            .optional(d, "channels", |d, n| {
                Some(d.id_map(n, |d, e| self.channel(d, &e.value)))
            })
            .unwrap_or_default();
        let routes = f
            .optional(d, "routes", |d, n| d.list(n, |d, n| self.route(d, n)))
            .unwrap_or_default();
        let retry = f.optional(d, "retry", read_retry);
        let renotify_every = f.optional(d, "renotify_every", Decoder::duration);
        let confirm_within = f.optional(d, "confirm_within", positive_duration);
        let delivery_timeout = f.optional(d, "delivery_timeout", positive_duration);
        let retention = f.optional(d, "retention", positive_duration);
        f.finish(d);
        let defaults = Notifications::default();
        Some(Notifications {
            smtp,
            channels,
            routes,
            retry: retry.unwrap_or(defaults.retry),
            renotify_every: renotify_every.unwrap_or(defaults.renotify_every),
            confirm_within: confirm_within.unwrap_or(defaults.confirm_within),
            delivery_timeout: delivery_timeout.unwrap_or(defaults.delivery_timeout),
            retention: retention.unwrap_or(defaults.retention),
        })
    }

    fn channel(&mut self, d: &mut Decoder, node: &Node) -> Option<Channel> {
        let mut f = d.fields(node)?;
        let (kind, value, pos) = one_kind(d, &mut f, "a channel", &CHANNEL_KINDS)?;
        f.finish(d);
        match kind {
            "email" => {
                self.email_channels.push(pos);
                let addresses = match value.kind {
                    NodeKind::Sequence(_) => d.list(value, read_email)?,
                    _ => vec![read_email(d, value)?],
                };
                if addresses.is_empty() {
                    d.error(value.pos, "an e-mail channel needs at least one address");
                    return None;
                }
                Some(Channel::Email(addresses))
            }
            "webhook" => {
                let mut f = d.fields(value)?;
                let url = f.required(d, "url", Decoder::url);
                let secret = f.optional(d, "secret", Decoder::string);
                f.finish(d);
                Some(Channel::Webhook { url: url?, secret })
            }
            "slack" => {
                let mut f = d.fields(value)?;
                let url = f.required(d, "url", Decoder::url);
                f.finish(d);
                Some(Channel::Slack { url: url? })
            }
            _ => {
                let mut f = d.fields(value)?;
                let routing_key = f.required(d, "routing_key", Decoder::string);
                let url = f.optional(d, "url", Decoder::url);
                f.finish(d);
                Some(Channel::PagerDuty {
                    routing_key: routing_key?,
                    url: url.unwrap_or_else(|| PAGERDUTY_EVENTS_URL.to_owned()),
                })
            }
        }
    }

    fn route(&mut self, d: &mut Decoder, node: &Node) -> Option<Route> {
        let mut f = d.fields(node)?;
        let severity = f.required(d, "severity", read_severity);
        let component = f.optional(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        let channels = f.required(d, "channels", |d, n| {
            let channels = self.id_refs(d, n, IdKind::Channel)?;
            if channels.is_empty() {
                d.error(n.pos, "a route needs at least one channel");
                return None;
            }
            Some(channels)
        });
        f.finish(d);
        Some(Route {
            severity: severity?,
            component,
            channels: channels?,
        })
    }

    /// Reports references to ids that no section declares.
    fn check_references(&self, d: &mut Decoder, root: &Node) {
        let mut declared: BTreeMap<IdKind, BTreeSet<&str>> = BTreeMap::new();
        for kind in [
            IdKind::Component,
            IdKind::Region,
            IdKind::Tenant,
            IdKind::Channel,
            IdKind::Backup,
        ] {
            declared.insert(kind, declared_ids(root, kind.section()));
        }
        for (kind, id, pos) in &self.references {
            let Some(ids) = declared.get(kind) else {
                continue;
            };
            if ids.contains(id.as_str()) {
                continue;
            }
            let candidates: Vec<&str> = ids.iter().copied().collect();
            let hint = match suggest(id, &candidates) {
                Some(close) => format!("; did you mean `{close}`?"),
                None if candidates.is_empty() => format!("; `{}` declares none", kind.section()),
                None => format!(" (declared: {})", candidates.join(", ")),
            };
            d.error(*pos, format!("unknown {} `{id}`{hint}", kind.noun()));
        }
    }

    /// Reports each `depends_on` cycle once, at the edge that closes it.
    fn check_cycles(&self, d: &mut Decoder, components: &BTreeMap<String, Component>) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Visiting,
            Done,
        }
        let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
        let mut reported: BTreeSet<Vec<&str>> = BTreeSet::new();
        for start in components.keys() {
            if marks.contains_key(start.as_str()) {
                continue;
            }
            let mut path: Vec<(&str, usize)> = vec![(start.as_str(), 0)];
            marks.insert(start.as_str(), Mark::Visiting);
            while let Some((node, next)) = path.last().copied() {
                let dependencies = components
                    .get(node)
                    .map_or(&[][..], |component| component.depends_on.as_slice());
                let Some(child) = dependencies.get(next) else {
                    marks.insert(node, Mark::Done);
                    path.pop();
                    continue;
                };
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                if !components.contains_key(child) {
                    continue;
                }
                match marks.get(child.as_str()) {
                    None => {
                        marks.insert(child.as_str(), Mark::Visiting);
                        path.push((child.as_str(), 0));
                    }
                    Some(Mark::Visiting) => {
                        let from = path.iter().position(|(id, _)| *id == child).unwrap_or(0);
                        let mut cycle: Vec<&str> =
                            path.iter().skip(from).map(|(id, _)| *id).collect();
                        let mut canonical = cycle.clone();
                        canonical.sort_unstable();
                        if reported.insert(canonical) {
                            cycle.push(child.as_str());
                            let pos = self
                                .dependency_pos
                                .get(&(node.to_owned(), child.clone()))
                                .copied()
                                .unwrap_or_default();
                            d.error(pos, format!("dependency cycle: {}", cycle.join(" -> ")));
                        }
                    }
                    Some(Mark::Done) => {}
                }
            }
        }
    }

    /// Reports a push key used twice (by monitors or backups).
    fn check_push_keys(&self, d: &mut Decoder) {
        let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
        for (key, pos) in &self.push_keys {
            match first_line.get(key.as_str()) {
                Some(line) => d.error(
                    *pos,
                    format!("duplicate push key `{key}`, first used at line {line}"),
                ),
                None => {
                    first_line.insert(key, pos.line);
                }
            }
        }
    }
}

/// The ids declared under a top-level section (`notifications.channels` for nested ones),
/// read from the tree so that an entry with its own problems still counts as declared.
fn declared_ids<'n>(root: &'n Node, section: &str) -> BTreeSet<&'n str> {
    let mut node = Some(root);
    for key in section.split('.') {
        node = node.and_then(|node| match &node.kind {
            NodeKind::Mapping(entries) => entries
                .iter()
                .find(|entry| entry.key == key)
                .map(|entry| &entry.value),
            _ => None,
        });
    }
    match node.map(|node| &node.kind) {
        Some(NodeKind::Mapping(entries)) => {
            entries.iter().map(|entry| entry.key.as_str()).collect()
        }
        _ => BTreeSet::new(),
    }
}

fn read_http(d: &mut Decoder, node: &Node) -> Option<HttpCheck> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", Decoder::url);
    let method = f.optional(d, "method", |d, n| {
        d.parsed(n, |text| {
            let upper = text.to_ascii_uppercase();
            if HTTP_METHODS.contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err(format!(
                    "unknown HTTP method `{text}`: use {}",
                    HTTP_METHODS.join(", ")
                ))
            }
        })
    });
    let headers = f.optional(d, "headers", |d, n| d.string_map(n));
    let body = f.optional(d, "body", |d, n| d.text(n).map(str::to_owned));
    let expected_status = f.optional(d, "expected_status", |d, n| {
        d.parsed(n, |text| match text.parse::<u16>() {
            Ok(status @ 100..=599) => Ok(status),
            _ => Err(format!(
                "expected an HTTP status between 100 and 599, found `{text}`"
            )),
        })
    });
    let verify_tls = f.optional(d, "verify_tls", Decoder::bool);
    let follow_redirects = f.optional(d, "follow_redirects", Decoder::bool);
    f.finish(d);
    Some(HttpCheck {
        url: url?,
        method: method.unwrap_or_else(|| "GET".to_owned()),
        headers: headers.unwrap_or_default(),
        body,
        expected_status,
        verify_tls: verify_tls.unwrap_or(true),
        follow_redirects: follow_redirects.unwrap_or(true),
    })
}

fn read_address(d: &mut Decoder, node: &Node, port_required: bool) -> Option<String> {
    d.parsed(node, |text| {
        check_host_port(text, port_required)
            .map(|()| text.to_owned())
            .map_err(|why| format!("bad address `{text}`: {why}"))
    })
}

fn read_tcp(d: &mut Decoder, node: &Node) -> Option<TcpCheck> {
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, true));
    f.finish(d);
    Some(TcpCheck { address: address? })
}

fn read_dns(d: &mut Decoder, node: &Node) -> Option<DnsCheck> {
    let mut f = d.fields(node)?;
    let name = f.required(d, "name", Decoder::string);
    let record_type = f.optional(d, "record_type", |d, n| {
        d.parsed(n, |text| {
            let upper = text.to_ascii_uppercase();
            DnsRecordType::ALL
                .iter()
                .find(|(name, _)| *name == upper)
                .map(|(_, kind)| *kind)
                .ok_or_else(|| {
                    let names: Vec<&str> = DnsRecordType::ALL.iter().map(|(n, _)| *n).collect();
                    format!("unknown DNS record type `{text}`: use {}", names.join(", "))
                })
        })
    });
    let expected = f.optional(d, "expected", Decoder::string);
    let resolver = f.optional(d, "resolver", |d, n| read_address(d, n, false));
    f.finish(d);
    Some(DnsCheck {
        name: name?,
        record_type: record_type.unwrap_or(DnsRecordType::A),
        expected,
        resolver,
    })
}

fn read_tls(d: &mut Decoder, node: &Node) -> Option<TlsCheck> {
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, false));
    let server_name = f.optional(d, "server_name", Decoder::string);
    f.finish(d);
    let address = address?;
    let has_port = match address.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => address.contains(':'),
    };
    let host = if has_port {
        address
            .rsplit_once(':')
            .map_or(address.as_str(), |(host, _)| host)
    } else {
        address.as_str()
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some(TlsCheck {
        server_name: server_name.unwrap_or(host),
        address: if has_port {
            address
        } else {
            format!("{address}:443")
        },
    })
}

fn read_condition(d: &mut Decoder, node: &Node) -> Option<Condition> {
    let text = d.text(node)?;
    match Condition::parse(text) {
        Ok(condition) => Some(condition),
        Err(err) => {
            d.error(
                node.pos_in_text(err.offset),
                format!("bad condition: {}", err.message),
            );
            None
        }
    }
}

fn read_severity(d: &mut Decoder, node: &Node) -> Option<Severity> {
    d.choice(node, "severity", &Severity::ALL)
}

fn read_policy(d: &mut Decoder, node: &Node) -> Option<MaintenancePolicy> {
    let defaults = MaintenancePolicy::default();
    let mut f = d.fields(node)?;
    let planned = f
        .optional(d, "planned", |d, n| {
            let mut f = d.fields(n)?;
            let min_notice = f.optional(d, "min_notice", Decoder::duration);
            f.finish(d);
            Some(PlannedPolicy {
                min_notice: min_notice.unwrap_or(defaults.planned.min_notice),
            })
        })
        .unwrap_or_default();
    let emergency = f
        .optional(d, "emergency", |d, n| {
            let mut f = d.fields(n)?;
            let min_notice = f.optional(d, "min_notice", Decoder::duration);
            let require_reason = f.optional(d, "require_reason", Decoder::bool);
            f.finish(d);
            Some(EmergencyPolicy {
                min_notice: min_notice.unwrap_or(defaults.emergency.min_notice),
                require_reason: require_reason.unwrap_or(defaults.emergency.require_reason),
            })
        })
        .unwrap_or_default();
    let outside_business_hours = f.optional(d, "outside_business_hours", Decoder::bool);
    let tenant_slot = f.optional(d, "tenant_slot", positive_duration);
    let reminders = f.optional(d, "reminders", |d, n| d.list(n, positive_duration));
    let preflight_ahead = f.optional(d, "preflight_ahead", Decoder::duration);
    f.finish(d);
    let mut reminders = reminders.unwrap_or(defaults.reminders);
    reminders.sort_unstable_by(|a, b| b.cmp(a));
    reminders.dedup();
    Some(MaintenancePolicy {
        planned,
        emergency,
        outside_business_hours: outside_business_hours.unwrap_or(defaults.outside_business_hours),
        tenant_slot: tenant_slot.unwrap_or(defaults.tenant_slot),
        reminders,
        preflight_ahead: preflight_ahead.unwrap_or(defaults.preflight_ahead),
    })
}

fn read_burn_rate(d: &mut Decoder, node: &Node) -> Option<BurnRate> {
    let mut f = d.fields(node)?;
    let factor = f.required(d, "factor", |d, n| {
        d.parsed(n, |text| {
            let milli = parse_scaled_decimal(text, 3)?;
            u32::try_from(milli)
                .ok()
                .filter(|milli| *milli > 0)
                .ok_or_else(|| format!("a burn-rate factor must be above 0, found `{text}`"))
        })
    });
    let long = f.required(d, "long", positive_duration);
    let short = f.required(d, "short", positive_duration);
    let severity = f.optional(d, "severity", read_severity);
    f.finish(d);
    let (long, short) = (long?, short?);
    if short >= long {
        d.error(
            node.pos,
            "a burn-rate tier's `short` window must be shorter than `long`",
        );
        return None;
    }
    Some(BurnRate {
        factor_milli: factor?,
        long,
        short,
        severity: severity.unwrap_or(Severity::Critical),
    })
}

fn read_smtp(d: &mut Decoder, node: &Node) -> Option<Smtp> {
    let mut f = d.fields(node)?;
    let host = f.required(d, "host", |d, n| read_address(d, n, false));
    let port = f.optional(d, "port", |d, n| positive(d, n, Decoder::integer::<u16>, 0));
    let from = f.required(d, "from", read_email);
    let username = f.optional(d, "username", Decoder::string);
    let password = f.optional(d, "password", Decoder::string);
    let ca_file = f.optional(d, "ca_file", |d, n| {
        let path = d.string(n)?;
        if path.trim().is_empty() {
            d.error(n.pos, "must name a PEM file");
            return None;
        }
        Some(std::path::PathBuf::from(path))
    });
    let tls = f.optional(d, "tls", |d, n| {
        d.choice(
            n,
            "SMTP security",
            &[
                ("none", SmtpTls::None),
                ("starttls", SmtpTls::Starttls),
                ("tls", SmtpTls::Tls),
            ],
        )
    });
    f.finish(d);
    let (port, tls) = match (port, tls) {
        (Some(port), Some(tls)) => (port, tls),
        (Some(465), None) => (465, SmtpTls::Tls),
        (Some(587), None) => (587, SmtpTls::Starttls),
        (Some(port), None) => (port, SmtpTls::None),
        (None, Some(SmtpTls::Tls)) => (465, SmtpTls::Tls),
        (None, Some(SmtpTls::Starttls)) => (587, SmtpTls::Starttls),
        (None, Some(SmtpTls::None) | None) => (25, SmtpTls::None),
    };
    Some(Smtp {
        host: host?,
        port,
        from: from?,
        username,
        password,
        tls,
        ca_file,
    })
}

fn read_retry(d: &mut Decoder, node: &Node) -> Option<RetryPolicy> {
    let mut f = d.fields(node)?;
    let initial = f.optional(d, "initial", positive_duration);
    let max_interval = f.optional(d, "max_interval", positive_duration);
    let max_age = f.optional(d, "max_age", positive_duration);
    f.finish(d);
    let defaults = RetryPolicy::default();
    let policy = RetryPolicy {
        initial: initial.unwrap_or(defaults.initial),
        max_interval: max_interval.unwrap_or(defaults.max_interval),
        max_age: max_age.unwrap_or(defaults.max_age),
    };
    if policy.initial > policy.max_interval {
        d.error(node.pos, "`initial` must not be longer than `max_interval`");
        return None;
    }
    Some(policy)
}

fn read_email(d: &mut Decoder, node: &Node) -> Option<String> {
    d.parsed(node, |text| {
        EmailAddress::parse(text)
            .map(EmailAddress::into_string)
            .map_err(|why| format!("bad e-mail address `{text}`: {why}"))
    })
}

/// Parses a size such as `64KB`, `1MB`, `10MB` or `1048576` (bytes). KB, MB and GB are powers
/// of 1024, as are KiB, MiB and GiB.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let trimmed = text.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = trimmed.split_at(digits);
    let multiplier: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" | "KIB" | "K" => 1 << 10,
        "MB" | "MIB" | "M" => 1 << 20,
        "GB" | "GIB" | "G" => 1 << 30,
        _ => {
            return Err(format!(
                "bad size `{text}`: write e.g. 64KB, 1MB or a number of bytes"
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .and_then(|bytes| usize::try_from(bytes).ok())
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| format!("bad size `{text}`: write e.g. 64KB, 1MB or a number of bytes"))
}

/// Parses a decimal written with at most `decimals` digits after the point into an integer
/// scaled by 10^decimals, exactly (no floating point): `99.9` with 4 decimals is 999_000.
fn parse_scaled_decimal(text: &str, decimals: u32) -> Result<u64, String> {
    let bad = || format!("bad number `{text}`: write e.g. 99.9 (at most {decimals} decimals)");
    let (whole, fraction) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return Err(bad());
    }
    let fraction_len = u32::try_from(fraction.len()).map_err(|_| bad())?;
    if fraction_len > decimals {
        return Err(bad());
    }
    let scale = 10u64.pow(decimals);
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let fraction: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u64>().map_err(|_| bad())? * 10u64.pow(decimals - fraction_len)
    };
    whole
        .checked_mul(scale)
        .and_then(|scaled| scaled.checked_add(fraction))
        .ok_or_else(bad)
}

/// Parses an SLO objective in percent (`99.9`, `99.95%`) into parts per million.
pub fn parse_objective_ppm(text: &str) -> Result<u32, String> {
    let number = text.trim().trim_end_matches('%');
    let ppm = parse_scaled_decimal(number, 4)?;
    match u32::try_from(ppm) {
        Ok(ppm) if ppm > 0 && ppm < 1_000_000 => Ok(ppm),
        _ => Err(format!(
            "an objective is a percentage above 0 and below 100, found `{text}`"
        )),
    }
}

fn parse_slo_window(text: &str) -> Result<SloWindow, String> {
    match text.trim() {
        "calendar_year" => Ok(SloWindow::CalendarYear),
        "calendar_quarter" => Ok(SloWindow::CalendarQuarter),
        "calendar_month" => Ok(SloWindow::CalendarMonth),
        other => {
            let period = other.strip_prefix("rolling").unwrap_or(other).trim();
            crate::duration::parse_duration(period)
                .ok()
                .filter(|period| !period.is_zero())
                .map(SloWindow::Rolling)
                .ok_or_else(|| {
                    format!(
                        "unknown SLO window `{text}`: use calendar_year, calendar_quarter, calendar_month or rolling 30d"
                    )
                })
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn objectives_are_exact() {
        assert_eq!(parse_objective_ppm("99.9"), Ok(999_000));
        assert_eq!(parse_objective_ppm("99.95%"), Ok(999_500));
        assert_eq!(parse_objective_ppm("99.9999"), Ok(999_999));
        assert_eq!(parse_objective_ppm("90"), Ok(900_000));
        for bad in ["100", "0", "99.99999", "abc", "-1", "99,9", ".9", "9.x"] {
            assert!(parse_objective_ppm(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64KB"), Ok(64 * 1024));
        assert_eq!(parse_size("1MB"), Ok(1024 * 1024));
        assert_eq!(parse_size("10MB"), Ok(10 * 1024 * 1024));
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("2 MiB"), Ok(2 * 1024 * 1024));
        for bad in [
            "",
            "MB",
            "1TB",
            "-1",
            "0",
            "1.5MB",
            "99999999999999999999GB",
        ] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn slo_windows() {
        assert_eq!(
            parse_slo_window("calendar_month"),
            Ok(SloWindow::CalendarMonth)
        );
        assert_eq!(
            parse_slo_window("rolling 30d"),
            Ok(SloWindow::Rolling(Duration::from_secs(30 * 86_400)))
        );
        assert_eq!(
            parse_slo_window("28d"),
            Ok(SloWindow::Rolling(Duration::from_secs(28 * 86_400)))
        );
        assert!(parse_slo_window("weekly").is_err());
    }

    proptest! {
        #[test]
        fn objective_ppm_matches_integer_arithmetic(whole in 1u32..100, fraction in 0u32..10_000) {
            let text = format!("{whole}.{fraction:04}");
            let expected = whole * 10_000 + fraction;
            prop_assume!(expected < 1_000_000);
            prop_assert_eq!(parse_objective_ppm(&text), Ok(expected));
        }
    }
}
