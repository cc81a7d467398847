//! Replicas share the probing: real `upkeep serve` processes on one PostgreSQL database split
//! 3,000 HTTP monitors by probe shards (`monitoring::shards`). Every monitor is probed once per
//! round and none twice, a joining replica takes its share (and only that moves), and the
//! monitors of a replica killed with `kill -9` are probed by the others within one lease
//! period, one pass and one interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use upkeep_domain::rounds::round_start;
use upkeep_domain::shards::{SHARDS, shard_of};
use upkeep_store::Store;
use upkeep_store::testing::{TestDatabase, postgres_url, result_instants};

use crate::support::Server;

const MONITORS: usize = 3_000;
const INTERVAL: Duration = Duration::from_secs(10);
/// The lease's period (`LeaseSettings::default`).
const LEASE: Duration = Duration::from_secs(15);

fn config(port: u16) -> String {
    let mut yaml = String::from(
        "page: { name: Test, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
         components:\n  api: { name: API }\nmonitors:\n",
    );
    for i in 0..MONITORS {
        yaml.push_str(&format!(
            "  m{i:04}:\n    component: api\n    http: {{ url: \"http://127.0.0.1:{port}/m{i}\" }}\n    interval: 10s\n    timeout: 5s\n"
        ));
    }
    yaml
}

fn id(i: usize) -> String {
    format!("m{i:04}")
}

/// Shards held now, by holder.
async fn holders(store: &Store) -> BTreeMap<u32, String> {
    store
        .live_leases("shard:", Timestamp::now())
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.name["shard:".len()..].parse().unwrap(), l.holder))
        .collect()
}

fn per_holder(h: &BTreeMap<u32, String>) -> HashMap<String, usize> {
    let mut c = HashMap::new();
    for holder in h.values() {
        *c.entry(holder.clone()).or_default() += 1;
    }
    c
}

/// Whether every shard is held and `replicas` holders share them fairly.
fn fair(h: &BTreeMap<u32, String>, replicas: usize) -> bool {
    let c = per_holder(h);
    let n = SHARDS as usize;
    h.len() == n
        && c.len() == replicas
        && c.values()
            .all(|k| *k == n / replicas || *k == n / replicas + 1)
}

/// Waits (up to `within`) until `replicas` replicas hold the shards fairly.
async fn settle(store: &Store, replicas: usize, within: Duration) -> BTreeMap<u32, String> {
    let deadline = Instant::now() + within;
    loop {
        let h = holders(store).await;
        if fair(&h, replicas) {
            return h;
        }
        assert!(
            Instant::now() < deadline,
            "{replicas} replicas did not share the shards fairly: {:?}",
            per_holder(&h)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Results per monitor and round (round start in ms) from `since` on.
async fn per_round(store: &Store, since: Timestamp) -> HashMap<(String, i64), usize> {
    let mut counts = HashMap::new();
    for (monitor, at) in result_instants(store, since.as_millisecond())
        .await
        .unwrap()
    {
        let at = Timestamp::from_millisecond(at).unwrap();
        let round = round_start(&monitor, INTERVAL, at).as_millisecond();
        *counts.entry((monitor, round)).or_default() += 1;
    }
    counts
}

fn assert_none_twice(counts: &HashMap<(String, i64), usize>) {
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).take(10).collect();
    assert!(
        twice.is_empty(),
        "probed more than once in a round: {twice:?}"
    );
}

/// Every monitor has exactly one result in each of its rounds that start in `[from, to)`.
fn assert_every_round(counts: &HashMap<(String, i64), usize>, from: Timestamp, to: Timestamp) {
    let mut missing = Vec::new();
    let mut rounds = 0;
    for i in 0..MONITORS {
        let m = id(i);
        let mut start = round_start(&m, INTERVAL, from);
        if start < from {
            start += INTERVAL;
        }
        while start < to {
            rounds += 1;
            let n = counts
                .get(&(m.clone(), start.as_millisecond()))
                .copied()
                .unwrap_or(0);
            if n != 1 {
                missing.push((m.clone(), start, n));
            }
            start += INTERVAL;
        }
    }
    assert!(rounds >= MONITORS, "the window holds no whole round");
    assert!(
        missing.is_empty(),
        "{} of {rounds} rounds not probed exactly once, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// Waits until results are stored up to `at` (the writers flush every second).
async fn wait_until(at: Timestamp) {
    let wait = at.duration_since(Timestamp::now()) + jiff::SignedDuration::from_secs(3);
    if let Ok(wait) = Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}

/// Over the next two whole rounds every monitor is probed exactly once per round, and no
/// round since `began` was probed twice.
async fn two_rounds_once_each(store: &Store, began: Timestamp) {
    let from = Timestamp::now() + INTERVAL;
    let to = from + INTERVAL * 2;
    wait_until(to).await;
    let counts = per_round(store, began).await;
    assert_none_twice(&counts);
    assert_every_round(&counts, from, to);
}

fn holder_of(server: &Server) -> String {
    format!("-{}", server.child.id())
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_the_probing_once_per_round_through_a_join_and_a_kill() {
    let Some(base) = postgres_url("replicas_share_the_probing") else {
        return;
    };
    let pg = TestDatabase::postgres(&base).await;
    let store = pg.store().await;
    let port = crate::support::http_target("ok");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, config(port)).unwrap();
    let args = ["--config", path.to_str().unwrap()];
    let began = Timestamp::now();

    // Two replicas: 32 shards each.
    let a = Server::start(&args, &pg.url);
    let mut b = Some(Server::start(&args, &pg.url));
    settle(&store, 2, Duration::from_secs(60)).await;
    two_rounds_once_each(&store, began).await;

    // A third joins: it takes its share, and only its share moves.
    let before = holders(&store).await;
    let c = Server::start(&args, &pg.url);
    let after = settle(&store, 3, LEASE * 3).await;
    let joiner = holder_of(&c);
    let moved = before
        .iter()
        .filter(|(s, h)| after.get(s) != Some(h))
        .count();
    let taken = after.values().filter(|h| h.ends_with(&joiner)).count();
    assert!(taken >= 21, "the joiner holds {taken} shards");
    assert_eq!(moved, taken, "a join moved more than the joiner's share");
    two_rounds_once_each(&store, began).await;

    // Each replica reports the shards it holds. A gauge is set at the end of its replica's
    // pass, so it is compared with the shards as stored until they agree, within a lease.
    let deadline = Instant::now() + LEASE;
    loop {
        let now = holders(&store).await;
        let mut disagree = Vec::new();
        for server in [&a, b.as_ref().unwrap(), &c] {
            let metrics = server.get("/metrics", None);
            let held = metrics
                .lines()
                .find_map(|l| l.strip_prefix("upkeep_probe_shards_held "))
                .unwrap_or_else(|| panic!("no shards gauge: {metrics}"));
            let held = held.trim().parse::<f64>().unwrap() as usize;
            let mine = now
                .values()
                .filter(|h| h.ends_with(&holder_of(server)))
                .count();
            if held != mine {
                disagree.push((holder_of(server), held, mine));
            }
        }
        if disagree.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "(replica, gauge, stored shards) disagree: {disagree:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // One is killed: its shards are taken within a lease period of its last renewal (the
    // others pass just after the first of its shards runs out, not at their next pass), and
    // its monitors are probed again within that and an interval.
    let victim = b.take().unwrap();
    let victim_holder = holder_of(&victim);
    let at_kill = holders(&store).await;
    let orphaned: Vec<String> = (0..MONITORS)
        .map(id)
        .filter(|m| {
            at_kill
                .get(&shard_of(m, SHARDS))
                .is_some_and(|h| h.ends_with(&victim_holder))
        })
        .collect();
    assert!(!orphaned.is_empty());
    victim.signal("KILL");
    let killed = Timestamp::now();
    drop(victim);
    // Within a lease period of the last renewal; the margin is for a loaded machine (the
    // whole suite at once), and the probing bound below is what the take-over must meet.
    settle(&store, 2, LEASE + Duration::from_secs(10)).await;
    let shared = Timestamp::now();
    // Probed from the first round that starts after the take-over; the margin is for the
    // writer's flush and a loaded machine (debug builds, the whole suite at once).
    let bound = killed + LEASE + INTERVAL + Duration::from_secs(8);
    wait_until(bound).await;
    let mut last: HashMap<String, i64> = HashMap::new();
    for (m, at) in result_instants(&store, killed.as_millisecond())
        .await
        .unwrap()
    {
        let e = last.entry(m).or_insert(i64::MAX);
        *e = (*e).min(at);
    }
    let late: Vec<&String> = orphaned
        .iter()
        .filter(|m| last.get(*m).is_none_or(|at| *at > bound.as_millisecond()))
        .collect();
    assert!(
        late.is_empty(),
        "{} of the killed replica's {} monitors not probed again within {:?} (shards \
         shared again {:?} after the kill), e.g. {:?}",
        late.len(),
        orphaned.len(),
        bound.duration_since(killed),
        shared.duration_since(killed),
        &late[..late.len().min(10)]
    );
    two_rounds_once_each(&store, began).await;

    drop((a, c));
    store.close().await;
    pg.cleanup().await;
}
