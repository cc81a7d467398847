//! What one check of each monitor costs the prober: each monitor of a configuration is probed
//! at a fixed rate (new checks start on a timer whatever the earlier ones are doing, as the
//! scheduler starts them) for a while, with the probe code the server runs (`Prober::probe`),
//! and the process's CPU time (user + system, all threads, from `/proc/self/stat`) is divided
//! by the checks made. The peers are other processes, so their work is not counted.
//!
//! Usage: `probe_cost CONFIG.yaml [RATE [SECONDS [MONITOR...]]]` (defaults 1000 checks/s,
//! 10 s, every monitor); `bench/kinds.sh` starts the peers and runs it. Prints one line per
//! monitor: checks made, failures (and the first one's words), the rate reached, CPU per
//! check, and the median and 99th-percentile latency.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use upkeep_domain::config::{Monitor, parse};
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};

type Failure = Box<dyn std::error::Error>;

/// This process's CPU time so far (user + system, every thread), in clock ticks.
fn cpu_ticks() -> Result<u64, Failure> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("odd /proc/self/stat")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the file (utime, stime) are the 12th and 13th after the name.
    let utime: u64 = fields.get(11).ok_or("no utime")?.parse()?;
    let stime: u64 = fields.get(12).ok_or("no stime")?.parse()?;
    Ok(utime + stime)
}

fn ticks_per_second() -> f64 {
    // Linux reports /proc times in USER_HZ, which is 100 on every architecture it runs on.
    100.0
}

async fn run(
    prober: &Arc<Prober>,
    monitor: &Arc<Monitor>,
    rate: u32,
    seconds: u64,
) -> Result<(usize, Vec<ProbeOutcome>, f64, Duration), Failure> {
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let total = usize::try_from(u64::from(rate) * seconds)?;
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut checks = JoinSet::new();
    let cpu0 = cpu_ticks()?;
    let started = Instant::now();
    for _ in 0..total {
        ticker.tick().await;
        let (prober, monitor) = (Arc::clone(prober), Arc::clone(monitor));
        checks.spawn(async move { prober.probe(&monitor).await });
    }
    let mut outcomes = Vec::with_capacity(total);
    while let Some(done) = checks.join_next().await {
        outcomes.push(done?);
    }
    let elapsed = started.elapsed();
    let cpu = (cpu_ticks()? - cpu0) as f64 / ticks_per_second();
    Ok((total, outcomes, cpu, elapsed))
}

fn percentile(sorted: &[u32], q: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args
        .first()
        .ok_or("usage: probe_cost CONFIG.yaml [RATE [SECONDS [MONITOR...]]]")?;
    let rate: u32 = args.get(1).map_or(Ok(1000), |s| s.parse())?;
    let seconds: u64 = args.get(2).map_or(Ok(10), |s| s.parse())?;
    let only: Vec<&String> = args.iter().skip(3).collect();
    let text = std::fs::read_to_string(path)?;
    let env = |name: &str| std::env::var(name).ok();
    let config = parse(path, &text, &env, jiff::Timestamp::now()).map_err(|e| e.to_string())?;
    let prober = Arc::new(Prober::new()?);
    println!(
        "{:<12} {:>7} {:>7} {:>9} {:>12} {:>9} {:>9}  first failure",
        "monitor", "checks", "failed", "checks/s", "CPU/check", "p50", "p99"
    );
    for (id, monitor) in &config.monitors {
        if !only.is_empty() && !only.contains(&id) {
            continue;
        }
        let monitor = Arc::new(monitor.clone());
        // A short warm-up: connection pools, resolvers and TLS sessions as a running server
        // has them.
        run(&prober, &monitor, rate.min(100), 1).await?;
        let (total, outcomes, cpu, elapsed) = run(&prober, &monitor, rate, seconds).await?;
        let failed: Vec<&ProbeOutcome> = outcomes.iter().filter(|o| !o.ok).collect();
        let mut latencies: Vec<u32> = outcomes.iter().map(|o| o.latency_ms).collect();
        latencies.sort_unstable();
        let first = failed
            .first()
            .and_then(|o| o.failure.clone())
            .unwrap_or_default();
        println!(
            "{:<12} {:>7} {:>7} {:>9.0} {:>9.0} µs {:>6} ms {:>6} ms  {}",
            id,
            total,
            failed.len(),
            total as f64 / elapsed.as_secs_f64(),
            cpu / total as f64 * 1e6,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            first
        );
    }
    Ok(())
}
