//! `maintenance`: the policy, recurring windows and their pre-flight checks.

use super::*;

pub(super) fn read_policy(d: &mut Decoder, node: &Node) -> Option<MaintenancePolicy> {
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
    let max_span = f.optional(d, "max_span", positive_duration);
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
        max_span: max_span.unwrap_or(defaults.max_span),
    })
}

impl Sections {
    pub(super) fn maintenance(&mut self, d: &mut Decoder, node: &Node) -> Option<Maintenance> {
        let mut f = d.fields(node)?;
        let policy = f.optional(d, "policy", read_policy).unwrap_or_default();
        let windows = f
            .optional(d, "windows", |d, n| {
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                d.list(n, |d, n| {
                    let window = self.window(d, n, policy.max_span)?;
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

    /// One recurring window; its `duration` is at most `max_span`
    /// (`maintenance.policy.max_span`, read before the windows).
    pub(super) fn window(
        &mut self,
        d: &mut Decoder,
        node: &Node,
        max_span: Duration,
    ) -> Option<Window> {
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
        let duration = f.required(d, "duration", |d, n| {
            let duration = positive_duration(d, n)?;
            if duration > max_span {
                d.error(
                    n.pos,
                    format!(
                        "a window of {} is longer than `maintenance.policy.max_span` ({}); \
                         shorten it or raise the limit",
                        crate::duration::format_duration(duration),
                        crate::duration::format_duration(max_span)
                    ),
                );
                return None;
            }
            Some(duration)
        });
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
        let rollout = f.optional(d, "rollout", super::rollout::read_rollout);
        f.finish(d);
        let tenants = tenants.unwrap_or(TenantSel::All);
        let rollout = rollout.map(|(spec, refs)| {
            self.rollouts.push((refs, tenants.clone()));
            spec
        });
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
            tenants,
            checks: checks.unwrap_or(ChecksMode::Run),
            counts_as_downtime: counts_as_downtime.unwrap_or(false),
            notify_subscribers: notify_subscribers.unwrap_or(true),
            preflight: preflight.unwrap_or_default(),
            rollout,
        })
    }

    /// One pre-flight check: `backups_fresh`, `no_open_incidents`, `monitors_green` (all
    /// components), `{ monitors_green: [ids] }` or `{ command: "...", timeout: 30s }`.
    pub(super) fn preflight_check(&mut self, d: &mut Decoder, node: &Node) -> Option<Check> {
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
}
