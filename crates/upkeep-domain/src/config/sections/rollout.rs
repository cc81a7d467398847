//! `rollout:` of a recurring window (and, through [`decode_rollout_json`], of a one-off
//! maintenance in the API: one reader for both). What can be checked only once every section is
//! read — the gate's monitors exist, the canaries are covered by the window, a step's timeout
//! fits in a tenant slot — is checked by [`check_rollout`].

use super::*;
use crate::rollout::{
    DEFAULT_MIN_SAMPLES, DEFAULT_PAUSE_TIMEOUT, DEFAULT_SETTLE, DEFAULT_STEP_TIMEOUT, GateSpec,
    MAX_STEP_TIMEOUT, NoData, OnUnknown, RolloutSpec, StepRun, StepSpec,
};

/// Where a rollout's references are written, for the checks that need every section.
#[derive(Clone, Debug, Default)]
pub(super) struct RolloutRefs {
    /// `gate.monitors` ids and their positions.
    pub monitors: Vec<(String, Pos)>,
    /// `canary` ids and their positions.
    pub canary: Vec<(String, Pos)>,
    /// Each step's timeout and its position.
    pub timeouts: Vec<(Duration, Pos)>,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Reads `rollout:`; the references it makes are returned for [`check_rollout`].
pub(super) fn read_rollout(d: &mut Decoder, node: &Node) -> Option<(RolloutSpec, RolloutRefs)> {
    let mut refs = RolloutRefs::default();
    let mut f = d.fields(node)?;
    let action = f.required(d, "action", |d, n| read_step(d, n, &mut refs));
    let rollback = f.optional(d, "rollback", |d, n| read_step(d, n, &mut refs));
    let settle = f.optional(d, "settle", Decoder::duration);
    let gate = f.optional(d, "gate", |d, n| {
        let mut g = d.fields(n)?;
        let monitors = g.optional(d, "monitors", |d, n| {
            d.list(n, |d, item| {
                let id = d.string(item)?;
                refs.monitors.push((id.clone(), item.pos));
                Some(id)
            })
        });
        let min_samples = g.optional(d, "min_samples", positive_count);
        let no_data = g.optional(d, "no_data", |d, n| {
            d.choice(
                n,
                "no_data",
                &[("pause", NoData::Pause), ("fail", NoData::Fail)],
            )
        });
        g.finish(d);
        Some(GateSpec {
            monitors,
            min_samples: min_samples.unwrap_or(DEFAULT_MIN_SAMPLES),
            no_data: no_data.unwrap_or(NoData::Pause),
        })
    });
    let canary = f.optional(d, "canary", |d, n| {
        let mut seen = BTreeSet::new();
        d.list(n, |d, item| {
            let id = d.string(item)?;
            if !seen.insert(id.clone()) {
                d.error(item.pos, format!("tenant `{id}` is listed twice"));
                return None;
            }
            refs.canary.push((id.clone(), item.pos));
            Some(id)
        })
    });
    let failure_budget = f.optional(d, "failure_budget", Decoder::integer::<u32>);
    let pause_timeout = f.optional(d, "pause_timeout", positive_duration);
    let on_unknown = f.optional(d, "on_unknown", |d, n| {
        d.choice(
            n,
            "on_unknown",
            &[("halt", OnUnknown::Halt), ("retry", OnUnknown::Retry)],
        )
    });
    f.finish(d);
    let spec = RolloutSpec {
        action: action?,
        rollback,
        settle_ms: millis(settle.unwrap_or(DEFAULT_SETTLE)),
        gate: gate.unwrap_or_default(),
        canary: canary.unwrap_or_default(),
        failure_budget: failure_budget.unwrap_or(0),
        pause_timeout_ms: millis(pause_timeout.unwrap_or(DEFAULT_PAUSE_TIMEOUT)),
        on_unknown: on_unknown.unwrap_or(OnUnknown::Halt),
    };
    Some((spec, refs))
}

/// `{ command: "...", timeout: 10m }` or `{ webhook: { url, secret }, timeout: 10m }`.
fn read_step(d: &mut Decoder, node: &Node, refs: &mut RolloutRefs) -> Option<StepSpec> {
    let mut f = d.fields(node)?;
    let kind = one_kind(d, &mut f, "a rollout step", &["command", "webhook"]);
    let timeout_pos = f.key_pos("timeout");
    let timeout = f.optional(d, "timeout", |d, n| {
        let timeout = positive_duration(d, n)?;
        if timeout > MAX_STEP_TIMEOUT {
            d.error(n.pos, "a step's timeout is at most 24h");
            return None;
        }
        Some(timeout)
    });
    let run = match kind {
        Some(("command", n, _)) => {
            let command = d.string(n)?;
            if command.trim().is_empty() {
                d.error(n.pos, "the command is empty");
                return None;
            }
            Some(StepRun::Command(command))
        }
        Some((_, n, _)) => {
            let mut w = d.fields(n)?;
            let url = w.required(d, "url", Decoder::url);
            let secret = w.required(d, "secret", |d, n| {
                let secret = d.string(n)?;
                if secret.len() < 16 {
                    d.error(n.pos, "a webhook secret needs at least 16 characters");
                    return None;
                }
                Some(secret)
            });
            w.finish(d);
            Some(StepRun::Webhook {
                url: url?,
                secret: secret?,
            })
        }
        None => None,
    };
    f.finish(d);
    let timeout = timeout.unwrap_or(DEFAULT_STEP_TIMEOUT);
    refs.timeouts
        .push((timeout, timeout_pos.unwrap_or(node.pos)));
    Some(StepSpec {
        run: run?,
        timeout_ms: millis(timeout),
    })
}

/// The checks of a rollout against the rest of the configuration: every gate monitor is a
/// configured monitor or, for every tenant the window covers, names one of that tenant's own
/// (`TENANT.ID`); every canary is a tenant the window covers; no step's timeout is longer than
/// a tenant slot.
pub(super) fn check_rollout(
    d: &mut Decoder,
    refs: &RolloutRefs,
    tenants: &BTreeMap<String, Tenant>,
    monitors: &BTreeMap<String, Monitor>,
    covered: &TenantSel,
    tenant_slot: Duration,
) {
    let covered: Vec<&String> = match covered {
        TenantSel::All => tenants.keys().collect(),
        TenantSel::List(ids) => ids.iter().collect(),
    };
    for (id, pos) in &refs.monitors {
        let own = |t: &&String| monitors.contains_key(&format!("{t}.{id}"));
        if monitors.contains_key(id) || (!covered.is_empty() && covered.iter().all(own)) {
            continue;
        }
        let candidates: Vec<&str> = monitors.keys().map(String::as_str).collect();
        let hint = suggest(id, &candidates)
            .map(|close| format!("; did you mean `{close}`?"))
            .unwrap_or_default();
        d.error(
            *pos,
            format!(
                "unknown monitor `{id}` (neither a monitor nor one every covered tenant has){hint}"
            ),
        );
    }
    for (id, pos) in &refs.canary {
        if !tenants.contains_key(id) {
            let candidates: Vec<&str> = tenants.keys().map(String::as_str).collect();
            let hint = suggest(id, &candidates)
                .map(|close| format!("; did you mean `{close}`?"))
                .unwrap_or_default();
            d.error(*pos, format!("unknown tenant `{id}`{hint}"));
        } else if !covered.contains(&id) {
            d.error(
                *pos,
                format!("canary `{id}` is not a tenant this window covers"),
            );
        }
    }
    for (timeout, pos) in &refs.timeouts {
        if *timeout > tenant_slot {
            d.error(
                *pos,
                format!(
                    "a step's timeout ({}) is longer than a tenant slot ({}): the step could not \
                     finish inside its slot",
                    crate::duration::format_duration(*timeout),
                    crate::duration::format_duration(tenant_slot)
                ),
            );
        }
    }
}

/// Reads the `rollout` object of a one-off maintenance (API JSON) with the same reader and
/// checks as a window's, against `config`: the rollout, or every problem as a sentence.
pub fn decode_rollout_json(
    value: &serde_json::Value,
    config: &Config,
    covered: &TenantSel,
) -> Result<RolloutSpec, Vec<String>> {
    let text = value.to_string();
    let messages = |problems: Vec<Problem>| problems.into_iter().map(|(_, m)| m).collect();
    let (root, problems) = super::super::yaml::parse(&text).map_err(|p| vec![p.1])?;
    if !problems.is_empty() {
        return Err(messages(problems));
    }
    let Some(root) = root else {
        return Err(vec!["`rollout` must be an object".to_owned()]);
    };
    let mut d = Decoder::default();
    let read = read_rollout(&mut d, &root);
    if let Some((_, refs)) = &read {
        check_rollout(
            &mut d,
            refs,
            &config.tenants,
            &config.monitors,
            covered,
            config.maintenance.policy.tenant_slot,
        );
    }
    match read {
        Some((spec, _)) if d.problems.is_empty() => Ok(spec),
        _ if d.problems.is_empty() => Err(vec!["`rollout` could not be read".to_owned()]),
        _ => Err(messages(d.problems)),
    }
}
