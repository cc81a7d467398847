//! Probe shards: the replicas sharing one database split the probing between them.
//!
//! Every monitor belongs to one of `upkeep_domain::shards::SHARDS` shards (a stable hash of its
//! id); each shard is a lease `shard:NN` in the lease table, with its fencing token. Each
//! replica also keeps a membership lease `replica:HOLDER`, so the others know it is live. At
//! each pass (every `renew_every`) the [`ShardKeeper`] renews what it holds, and
//! `upkeep_domain::shards::plan` tells it which free shards to claim and which to give up; the
//! result is published as an [`Owned`] view that the scheduler asks before each probe and
//! before writing each result. With SQLite (one process) the one replica holds every shard.
//!
//! # At most one probe per round
//!
//! A replica stops probing a shard before any other replica could take it:
//!
//! - **Expiry.** A renewal sent at instant `t` (this replica's monotonic clock) writes
//!   `expires_at = wall(t) + ttl`. The replica treats the shard as its own only until
//!   `t + ttl − margin` (`margin` = `renew_every`), checked at each probe, whatever happened to
//!   later renewals (a hung database, a lost connection). Another replica can take the shard
//!   only once its own wall clock passes `expires_at`; as long as the replicas' clocks agree to
//!   within `margin` (5 s by default), that is after this replica stopped.
//! - **Giving up.** A shard to give up is first drained for one pass: still renewed, no longer
//!   probed, its results still written; only at the next pass is the lease released.
//! - **Rounds.** A replica probes a monitor's round only if it held the shard since before the
//!   round started (`since` ≤ round start), and the old holder stopped before the new one took
//!   the shard (above), more than `margin` before by the old holder's clock: a round the old
//!   holder probed started before the new holder's `since`, so it is not probed again.
//!
//! A round in flight at a hand-over may be missed (a result that arrives after its shard was
//! lost is not written); none is probed twice. A killed replica's shards are taken within one
//! lease period of its last renewal (`ttl`, 15 s by default): each pass notes when the first of
//! the others' shards runs out, and the keeper passes again just after it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::Either;
use jiff::Timestamp;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use upkeep_domain::shards::{SHARDS, plan, shard_of};
use upkeep_store::Store;

use crate::clock::SharedClock;
use crate::lease::LeaseSettings;

/// Lease names of the shards: `shard:00` … `shard:63`.
pub const SHARD_PREFIX: &str = "shard:";
/// Lease names of the live replicas: `replica:HOLDER`.
pub const MEMBER_PREFIX: &str = "replica:";

/// How long an expired membership lease is kept before it is deleted.
const MEMBER_ROWS_KEPT: Duration = Duration::from_secs(3600);

/// A shard this replica holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldShard {
    /// The lease's fencing token.
    pub token: i64,
    /// When this replica took it (wall clock): only rounds starting from then are probed here.
    pub since: Timestamp,
    /// Until when this replica may probe it and write its results (`t + ttl − margin` for the
    /// last renewal sent at `t`).
    pub until: Instant,
    /// False while the shard is being given up: its results are still written, no new probe
    /// starts.
    pub probing: bool,
    /// When it began to be given up: the lease is released one whole pass period later, even
    /// when a pass comes early (another replica's shard ran out).
    pub given_up_at: Option<Instant>,
}

/// Which monitors this replica probes and writes: the shards it holds.
#[derive(Debug, Clone, Default)]
pub struct Owned {
    count: u32,
    /// Every monitor, always (a scheduler outside the engine: tests, one process).
    all: bool,
    held: BTreeMap<u32, HeldShard>,
}

impl Owned {
    /// Owns every monitor, for good.
    pub fn everything() -> Owned {
        Owned {
            count: SHARDS,
            all: true,
            held: BTreeMap::new(),
        }
    }

    fn shard(&self, monitor_id: &str) -> Option<&HeldShard> {
        self.held
            .get(&shard_of(monitor_id, self.count))
            .filter(|h| Instant::now() < h.until)
    }

    /// Whether this replica owns the monitor now: it writes its results and states.
    pub fn owns(&self, monitor_id: &str) -> bool {
        self.all || self.shard(monitor_id).is_some()
    }

    /// Whether this replica probes the monitor's round starting at `round`: it owns the monitor,
    /// is not giving its shard up, and has held it since before the round started.
    pub fn probes(&self, monitor_id: &str, round: Timestamp) -> bool {
        self.all
            || self
                .shard(monitor_id)
                .is_some_and(|h| h.probing && h.since <= round)
    }

    /// The shards held now, with their leases.
    pub fn shards(&self) -> impl Iterator<Item = (u32, &HeldShard)> {
        let now = Instant::now();
        self.held
            .iter()
            .filter(move |(_, h)| now < h.until)
            .map(|(s, h)| (*s, h))
    }

    /// Whether this view owns every monitor (no shards).
    pub fn is_everything(&self) -> bool {
        self.all
    }
}

/// A view that never changes (the sender is gone).
pub fn fixed(owned: Owned) -> watch::Receiver<Arc<Owned>> {
    watch::channel(Arc::new(owned)).1
}

/// The lease name of shard `s`.
fn lease_name(s: u32) -> String {
    format!("{SHARD_PREFIX}{s:02}")
}

/// Keeps this replica's shards and publishes them.
#[derive(Debug, Clone)]
pub struct ShardKeeper {
    owned: watch::Receiver<Arc<Owned>>,
}

impl ShardKeeper {
    /// Starts keeping shards for `holder`; the returned future must be spawned (it ends, and
    /// releases every shard, when `stop` is cancelled).
    pub fn start(
        store: Store,
        clock: SharedClock,
        holder: String,
        settings: LeaseSettings,
        stop: CancellationToken,
    ) -> (
        ShardKeeper,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        if store.backend() == upkeep_store::Backend::Sqlite {
            // One process: it holds every shard, with no lease to keep.
            metrics::gauge!("upkeep_probe_shards_held").set(f64::from(SHARDS));
            let task = async move { stop.cancelled().await };
            let owned = fixed(Owned::everything());
            return (ShardKeeper { owned }, Either::Left(task));
        }
        let (tx, rx) = watch::channel(Arc::new(Owned {
            count: SHARDS,
            all: false,
            held: BTreeMap::new(),
        }));
        let keeper = Keeper {
            store,
            clock,
            member: format!("{MEMBER_PREFIX}{holder}"),
            holder,
            settings,
            held: BTreeMap::new(),
            others_expire: None,
            tx,
        };
        (ShardKeeper { owned: rx }, Either::Right(keeper.run(stop)))
    }

    /// A receiver of this replica's view, changed whenever the shards held change.
    pub fn watch(&self) -> watch::Receiver<Arc<Owned>> {
        self.owned.clone()
    }

    /// The view now.
    pub fn owned(&self) -> Arc<Owned> {
        Arc::clone(&self.owned.borrow())
    }
}

struct Keeper {
    store: Store,
    clock: SharedClock,
    holder: String,
    member: String,
    settings: LeaseSettings,
    held: BTreeMap<u32, HeldShard>,
    /// When the first shard another replica holds runs out unless renewed (this replica's
    /// monotonic clock): a pass then, rather than at the next one, takes a dead replica's
    /// shards within one lease period of its last renewal.
    others_expire: Option<Instant>,
    tx: watch::Sender<Arc<Owned>>,
}

impl Keeper {
    /// Passes until `stop`, then gives everything up.
    async fn run(mut self, stop: CancellationToken) {
        'passes: loop {
            let began = Instant::now();
            let every = self.settings.renew_every;
            // A pass that hangs (a database that does not answer) is given up after a lease
            // period; shards not renewed meanwhile run out on their own (`until`).
            if tokio::time::timeout(self.settings.ttl, self.pass())
                .await
                .is_err()
            {
                tracing::warn!("renewing probe shards took longer than a lease period");
            }
            self.publish();
            // Until the next pass: publish the loss of each held shard that runs out, and pass
            // at once when another replica's shard runs out (to take it if it was not renewed).
            let next = began + every;
            let others = self.others_expire.filter(|e| *e > Instant::now());
            loop {
                let now = Instant::now();
                if now >= next || others.is_some_and(|e| e <= now) {
                    break;
                }
                let wake = self
                    .held
                    .values()
                    .map(|h| h.until)
                    .filter(|u| *u > now)
                    .chain(others)
                    .min()
                    .map_or(next, |u| u.min(next));
                tokio::select! {
                    () = stop.cancelled() => break 'passes,
                    () = tokio::time::sleep_until(wake) => {}
                }
                let before = self.held.len();
                self.held.retain(|_, h| Instant::now() < h.until);
                if self.held.len() != before {
                    self.publish();
                }
            }
        }
        self.release_all().await;
    }

    fn publish(&self) {
        let now = Instant::now();
        let held: BTreeMap<u32, HeldShard> = self
            .held
            .iter()
            .filter(|(_, h)| now < h.until)
            .map(|(s, h)| (*s, h.clone()))
            .collect();
        metrics::gauge!("upkeep_probe_shards_held").set(held.len() as f64);
        self.tx.send_if_modified(|old| {
            let changed = old.held.len() != held.len()
                || old
                    .held
                    .iter()
                    .zip(&held)
                    .any(|((a, x), (b, y))| a != b || x.probing != y.probing);
            // The validity moves on at every renewal: always stored, announced only when
            // the set of shards (or what is probed) changed.
            *old = Arc::new(Owned {
                count: SHARDS,
                all: false,
                held: held.clone(),
            });
            changed
        });
    }

    /// Until when a renewal sent at `sent` lets this replica act.
    fn valid_until(&self, sent: Instant) -> Instant {
        let margin = self.settings.renew_every.min(self.settings.ttl);
        sent + self.settings.ttl.saturating_sub(margin)
    }

    /// Claims shard `s`: `Ok(None)` when another replica holds it.
    async fn try_take(&self, s: u32) -> Result<Option<Instant>, upkeep_store::StoreError> {
        let sent = Instant::now();
        let got = self
            .store
            .try_acquire_lease(
                &lease_name(s),
                &self.holder,
                self.settings.ttl,
                self.clock.now(),
            )
            .await?;
        Ok(got.then(|| self.valid_until(sent)))
    }

    /// One pass: membership, renewals, hand-overs, claims.
    async fn pass(&mut self) {
        let ttl = self.settings.ttl;
        if let Err(e) = self
            .store
            .try_acquire_lease(&self.member, &self.holder, ttl, self.clock.now())
            .await
        {
            tracing::warn!(error = %e, "cannot renew this replica's membership");
        }
        // Shards drained for a pass are released now; the view first, then the lease.
        let drained: Vec<u32> = self
            .held
            .iter()
            .filter(|(_, h)| {
                h.given_up_at
                    .is_some_and(|at| at + self.settings.renew_every <= Instant::now())
            })
            .map(|(s, _)| *s)
            .collect();
        if !drained.is_empty() {
            self.held.retain(|s, _| !drained.contains(s));
            self.publish();
            for s in &drained {
                if let Err(e) = self
                    .store
                    .release_lease(&lease_name(*s), &self.holder)
                    .await
                {
                    tracing::warn!(error = %e, "cannot release a probe shard; it will expire");
                }
            }
            tracing::info!(shards = ?drained, "gave probe shards up");
        }
        // Every held shard renewed in one statement.
        let sent = Instant::now();
        match self
            .store
            .renew_leases(SHARD_PREFIX, &self.holder, ttl, self.clock.now())
            .await
        {
            Ok(renewed) => {
                let until = self.valid_until(sent);
                let renewed: std::collections::HashSet<u32> =
                    renewed.iter().filter_map(|n| parse_shard(n)).collect();
                // One not renewed had expired (or was taken): it is no longer ours.
                self.held.retain(|s, _| renewed.contains(s));
                for h in self.held.values_mut() {
                    h.until = until;
                }
            }
            // Kept until their validity runs out.
            Err(e) => tracing::warn!(error = %e, "cannot renew the probe shards"),
        }
        let now = self.clock.now();
        let (shards, members) = match (
            self.store.live_leases(SHARD_PREFIX, now).await,
            self.store.live_leases(MEMBER_PREFIX, now).await,
        ) {
            (Ok(s), Ok(m)) => (s, m),
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "cannot read the probe shards' leases");
                return;
            }
        };
        // A little after the first of the others' shards runs out, by this replica's clock.
        let grace = Duration::from_millis(100);
        self.others_expire = shards
            .iter()
            .filter(|row| row.holder != self.holder)
            .map(|row| row.expires_at)
            .min()
            .map(|at| {
                let left = at.duration_since(now).unsigned_abs();
                Instant::now() + left + grace
            });
        self.note_tokens(&shards);
        let names: Vec<&str> = members
            .iter()
            .filter_map(|m| m.name.strip_prefix(MEMBER_PREFIX))
            .collect();
        let todo = plan(&self.holder, &names, &holders_of(&shards));
        for s in &todo.release {
            if let Some(h) = self.held.get_mut(s)
                && h.probing
            {
                h.probing = false;
                h.given_up_at = Some(Instant::now());
            }
        }
        if !todo.release.is_empty() {
            tracing::info!(shards = ?todo.release, "giving probe shards up");
        }
        // The survivors of a dead replica pass at the same instant and may claim the same free
        // shard: one that another replica took first is replaced by another free one, in this
        // pass rather than the next, so the dead replica's shards are all taken at once.
        // Each shard missed is one another replica took, so this ends within SHARDS misses.
        let mut claim = todo.claim;
        let mut taken = Vec::new();
        let mut misses = 0;
        'claims: while !claim.is_empty() {
            let mut missed = false;
            for s in claim {
                match self.try_take(s).await {
                    Ok(Some(until)) => {
                        self.held.insert(
                            s,
                            HeldShard {
                                token: 0,
                                since: self.clock.now(),
                                until,
                                probing: true,
                                given_up_at: None,
                            },
                        );
                        taken.push(s);
                    }
                    Ok(None) => {
                        missed = true;
                        misses += 1;
                    }
                    Err(e) => {
                        tracing::warn!(shard = s, error = %e, "cannot claim a probe shard");
                        break 'claims;
                    }
                }
            }
            if !missed || misses >= SHARDS {
                break;
            }
            // What is still free, once the other claimers have gone on.
            let Ok(rows) = self.store.live_leases(SHARD_PREFIX, self.clock.now()).await else {
                break;
            };
            claim = plan(&self.holder, &names, &holders_of(&rows)).claim;
        }
        if !taken.is_empty() {
            tracing::info!(shards = ?taken, "took probe shards");
            // The fencing tokens of the shards just taken.
            if let Ok(rows) = self.store.live_leases(SHARD_PREFIX, self.clock.now()).await {
                self.note_tokens(&rows);
            }
        }
        if let Ok(before) = self
            .clock
            .now()
            .checked_sub(jiff::SignedDuration::try_from(MEMBER_ROWS_KEPT).unwrap_or_default())
            && let Err(e) = self
                .store
                .delete_expired_leases(MEMBER_PREFIX, before)
                .await
        {
            tracing::debug!(error = %e, "cannot delete old membership leases");
        }
    }

    /// The fencing tokens of the shards this replica holds, as stored.
    fn note_tokens(&mut self, rows: &[upkeep_store::leases::LeaseRow]) {
        for row in rows {
            if let Some(s) = parse_shard(&row.name)
                && row.holder == self.holder
                && let Some(h) = self.held.get_mut(&s)
            {
                h.token = row.token;
            }
        }
    }

    /// On the way out: stop, then release every shard and the membership.
    async fn release_all(&mut self) {
        let held: Vec<u32> = self.held.keys().copied().collect();
        self.held.clear();
        self.publish();
        for s in held {
            if let Err(e) = self.store.release_lease(&lease_name(s), &self.holder).await {
                tracing::warn!(error = %e, "cannot release a probe shard; it will expire");
            }
        }
        if let Err(e) = self.store.release_lease(&self.member, &self.holder).await {
            tracing::debug!(error = %e, "cannot release this replica's membership");
        }
    }
}

/// Who holds each shard, by shard number (`None`: free).
fn holders_of(rows: &[upkeep_store::leases::LeaseRow]) -> Vec<Option<&str>> {
    let mut holders = vec![None; SHARDS as usize];
    for row in rows {
        if let Some(s) = parse_shard(&row.name) {
            holders[s as usize] = Some(row.holder.as_str());
        }
    }
    holders
}

fn parse_shard(name: &str) -> Option<u32> {
    name.strip_prefix(SHARD_PREFIX)?
        .parse()
        .ok()
        .filter(|s| *s < SHARDS)
}
