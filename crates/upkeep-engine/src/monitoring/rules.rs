//! Alert rules over scraped metrics (`cpu_usage > 80 for 5m`, `up == 0 for 1m`,
//! `error_rate > 0.05 for 2m`): each rule's target is scraped at the rule's interval, its
//! expression evaluated (domain `alert_rule::evaluate`), and its state stepped through
//! `inactive → pending → firing → inactive`. Every change is recorded as an event with subject
//! `rule:NAME`, beside monitor events, for incidents and notifications to consume.
//!
//! Only the replica holding the monitoring lease (`active`) evaluates; the others follow its
//! events. At start and on taking over, each rule resumes from its last recorded event (pending or firing since then), so a
//! restart neither fires an alert twice nor forgets to resolve one. A firing or pending rule
//! removed by a reload is closed with an event saying so.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upkeep_domain::alert_rule::{AlertChange, AlertState, Evaluation, evaluate};
use upkeep_domain::config::{Rule, Severity};
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::metrics_text::{self, Sample};
use upkeep_store::Store;
use upkeep_store::monitoring::MonitorEvent;

use crate::clock::SharedClock;
use crate::config::LoadedConfig;

/// Largest scrape body read; a larger one fails the scrape.
pub const MAX_SCRAPE_BYTES: usize = 10 * 1024 * 1024;

/// How often a replica that does not evaluate rules refreshes their states.
const STANDBY_REFRESH: Duration = Duration::from_secs(10);

/// Longest a scrape may take (shorter when the rule's interval is shorter).
const MAX_SCRAPE_TIME: Duration = Duration::from_secs(10);

/// A rule and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleView {
    pub component: String,
    pub severity: Severity,
    pub state: AlertState,
    pub last_value: Option<f64>,
    pub last_detail: Option<String>,
    pub last_evaluated: Option<Timestamp>,
}

/// Read access to every rule's state.
#[derive(Debug, Clone, Default)]
pub struct RuleHandle {
    live: Arc<RwLock<HashMap<String, RuleView>>>,
}

impl RuleHandle {
    pub fn views(&self) -> HashMap<String, RuleView> {
        self.live.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Severities of the rules firing on `component`.
    pub fn firing_on(&self, component: &str) -> Vec<Severity> {
        self.live
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|r| r.component == component && matches!(r.state, AlertState::Firing { .. }))
            .map(|r| r.severity)
            .collect()
    }
}

/// Scrapes `url` and parses the exposition; the error says why in words.
pub async fn scrape(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> Result<Vec<Sample>, String> {
    let fetch = async {
        let mut resp = client
            .get(url)
            .header("accept", "text/plain;version=0.0.4")
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {}", root_cause(&e)))?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| format!("reading {url}: {}", root_cause(&e)))?
        {
            if body.len() + chunk.len() > MAX_SCRAPE_BYTES {
                return Err(format!("{url} sent more than {MAX_SCRAPE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        let text =
            String::from_utf8(body).map_err(|_| format!("{url} sent text that is not UTF-8"))?;
        metrics_text::parse(&text)
    };
    match tokio::time::timeout(timeout, fetch).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "{url} did not answer within {} s",
            timeout.as_secs_f32()
        )),
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Starts the rule engine; the future ends when `stop` is cancelled.
pub fn start(
    store: Store,
    mut config: watch::Receiver<Arc<LoadedConfig>>,
    clock: SharedClock,
    client: reqwest::Client,
    mut active: watch::Receiver<bool>,
    stop: CancellationToken,
) -> (RuleHandle, impl Future<Output = ()> + Send + 'static) {
    let handle = RuleHandle::default();
    let live = handle.live.clone();
    let task = async move {
        let configured = config.borrow().config.rules.clone();
        restore(&store, &live, &configured).await;
        let mut due: HashMap<String, Instant> = HashMap::new();
        let mut in_flight: HashSet<String> = HashSet::new();
        let (done_tx, mut done_rx) = mpsc::channel::<(Rule, Evaluation)>(256);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut standby_refresh = Instant::now();
        let mut lease_open = true;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                Some((rule, evaluation)) = done_rx.recv() => {
                    in_flight.remove(&rule.name);
                    let still_configured = config.borrow().config.rules.iter().any(|r| r.name == rule.name);
                    if still_configured {
                        record(&store, &live, &clock, &rule, evaluation).await;
                    }
                    continue;
                }
                _ = tick.tick() => {}
                changed = config.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
                changed = active.changed(), if lease_open => {
                    lease_open = changed.is_ok();
                    if lease_open && *active.borrow_and_update() {
                        // Taking over from another replica: resume from its events.
                        let configured = config.borrow().config.rules.clone();
                        restore(&store, &live, &configured).await;
                    }
                }
            }
            if !*active.borrow() {
                // Standing by: follow the replica that evaluates, through its events.
                if standby_refresh.elapsed() >= STANDBY_REFRESH {
                    let configured = config.borrow().config.rules.clone();
                    restore(&store, &live, &configured).await;
                    standby_refresh = Instant::now();
                }
                continue;
            }
            let rules: Vec<Rule> = config.borrow_and_update().config.rules.clone();
            let names: HashSet<&str> = rules.iter().map(|r| r.name.as_str()).collect();
            let removed: Vec<(String, AlertState)> = {
                let mut map = live.write().unwrap_or_else(|e| e.into_inner());
                let gone: Vec<String> = map
                    .keys()
                    .filter(|n| !names.contains(n.as_str()))
                    .cloned()
                    .collect();
                gone.into_iter()
                    .filter_map(|n| map.remove(&n).map(|v| (n, v.state)))
                    .collect()
            };
            close_removed(&store, &clock, removed).await;
            due.retain(|n, _| names.contains(n.as_str()));
            let now = Instant::now();
            for rule in rules {
                let next = due.entry(rule.name.clone()).or_insert(now);
                if *next > now || in_flight.contains(&rule.name) {
                    continue;
                }
                *next = now + rule.interval;
                in_flight.insert(rule.name.clone());
                let client = client.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let timeout = rule.interval.min(MAX_SCRAPE_TIME);
                    let scraped = scrape(&client, &rule.scrape, timeout).await;
                    let evaluation = evaluate(&rule.expr, &scraped);
                    let _ = done.send((rule, evaluation)).await;
                });
            }
        }
    };
    (handle, task)
}

/// Steps one rule with a fresh evaluation and records the change, if any.
async fn record(
    store: &Store,
    live: &Arc<RwLock<HashMap<String, RuleView>>>,
    clock: &SharedClock,
    rule: &Rule,
    evaluation: Evaluation,
) {
    let at = clock.now();
    let (from, state, change) = {
        let mut map = live.write().unwrap_or_else(|e| e.into_inner());
        let from = map
            .get(&rule.name)
            .map_or(AlertState::Inactive, |v| v.state);
        let (state, change) = from.step(evaluation.holds, at, rule.for_duration);
        map.insert(
            rule.name.clone(),
            RuleView {
                component: rule.component.clone(),
                severity: rule.severity,
                state,
                last_value: evaluation.value,
                last_detail: Some(evaluation.detail.clone()),
                last_evaluated: Some(at),
            },
        );
        (from, state, change)
    };
    metrics::counter!("upkeep_rule_evaluations_total").increment(1);
    let Some(change) = change else { return };
    if change == AlertChange::Firing {
        tracing::warn!(rule = %rule.name, severity = rule.severity.as_str(), detail = %evaluation.detail, "alert firing");
    } else {
        tracing::info!(rule = %rule.name, change = ?change, detail = %evaluation.detail, "alert changed");
    }
    let event = MonitorEvent {
        source: EventSource::Rule(rule.name.clone()),
        at,
        from: from.into(),
        to: state.into(),
        reason: evaluation.detail,
    };
    if let Err(e) = store.record_monitor_events(&[event]).await {
        tracing::error!(error = %e, rule = %rule.name, "cannot record an alert rule event");
    }
}

/// Resumes each rule from its last recorded event.
async fn restore(store: &Store, live: &Arc<RwLock<HashMap<String, RuleView>>>, rules: &[Rule]) {
    for rule in rules {
        let subject = EventSource::Rule(rule.name.clone());
        let last = match store.list_monitor_events(Some(&subject), 1).await {
            Ok(mut events) => events.pop(),
            Err(e) => {
                tracing::warn!(error = %e, rule = %rule.name, "cannot restore the rule's state");
                continue;
            }
        };
        let state = match last {
            Some(e) => match e.to {
                EventState::Firing => AlertState::Firing { since: e.at },
                EventState::Pending => AlertState::Pending { since: e.at },
                _ => AlertState::Inactive,
            },
            None => continue,
        };
        live.write().unwrap_or_else(|e| e.into_inner()).insert(
            rule.name.clone(),
            RuleView {
                component: rule.component.clone(),
                severity: rule.severity,
                state,
                last_value: None,
                last_detail: None,
                last_evaluated: None,
            },
        );
    }
}

/// Records that rules removed from the configuration while pending or firing are over.
async fn close_removed(store: &Store, clock: &SharedClock, removed: Vec<(String, AlertState)>) {
    let at = clock.now();
    let events: Vec<MonitorEvent> = removed
        .into_iter()
        .filter(|(_, state)| *state != AlertState::Inactive)
        .map(|(name, state)| MonitorEvent {
            source: EventSource::Rule(name),
            at,
            from: state.into(),
            to: EventState::Inactive,
            reason: "the rule was removed from the configuration".to_owned(),
        })
        .collect();
    if !events.is_empty()
        && let Err(e) = store.record_monitor_events(&events).await
    {
        tracing::error!(error = %e, "cannot record the end of removed rules");
    }
}
