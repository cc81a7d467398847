//! When a failed delivery is tried again: exponential backoff with full jitter, capped, until a
//! maximum age after which the delivery is marked failed (and shown by the admin API).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// The retry schedule (`notifications.retry:`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay after the first failure (default 10 s).
    pub initial: Duration,
    /// Largest delay between attempts (default 10 min): a receiver back after an hour's outage
    /// gets its backlog within this long.
    pub max_interval: Duration,
    /// Age after which a delivery is given up (default 3 days).
    pub max_age: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_secs(10),
            max_interval: Duration::from_secs(600),
            max_age: Duration::from_secs(3 * 86_400),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again at this instant.
    RetryAt(Timestamp),
    /// Give up: the delivery is older than the policy's maximum age (or the error is final).
    GiveUp,
}

impl RetryPolicy {
    /// The ceiling of the delay after `attempts` failed attempts (1 = the first failure):
    /// `initial · 2^(attempts−1)`, at most `max_interval`.
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(32);
        self.initial
            .checked_mul(1_u32 << exp.min(31))
            .unwrap_or(self.max_interval)
            .min(self.max_interval)
    }

    /// The next attempt after a failure at `now` of a delivery created at `created_at`, after
    /// `attempts` attempts. `jitter` in `[0, 1)` spreads the retries of many deliveries
    /// ("equal jitter": half the ceiling fixed, half random, so a retry never comes at once).
    pub fn next(&self, created_at: Timestamp, now: Timestamp, attempts: u32, jitter: f64) -> Next {
        let age = now.duration_since(created_at);
        let max_age = SignedDuration::try_from(self.max_age).unwrap_or(SignedDuration::MAX);
        if age >= max_age {
            return Next::GiveUp;
        }
        let ceiling = self.ceiling(attempts).as_millis() as f64;
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let delay_ms = (ceiling / 2.0 + ceiling / 2.0 * jitter).max(1.0) as i64;
        match now.checked_add(SignedDuration::from_millis(delay_ms)) {
            Ok(at) => Next::RetryAt(at),
            Err(_) => Next::GiveUp,
        }
    }

    /// [`next`](Self::next), unless the receiver said how long to wait (`Retry-After`, a rate
    /// limit's `retry_after`): then that long instead of the backoff's guess, but never less
    /// than the backoff's own floor (half its ceiling for `attempts`, and a second) — a receiver
    /// answering "retry now" again and again is still backed off. A wait that ends past the
    /// maximum age gives up now.
    pub fn next_after(
        &self,
        created_at: Timestamp,
        now: Timestamp,
        attempts: u32,
        jitter: f64,
        wait: Option<Duration>,
    ) -> Next {
        let Some(wait) = wait else {
            return self.next(created_at, now, attempts, jitter);
        };
        let floor = (self.ceiling(attempts) / 2).max(Duration::from_secs(1));
        let wait = SignedDuration::try_from(wait.max(floor)).unwrap_or(SignedDuration::MAX);
        let max_age = SignedDuration::try_from(self.max_age).unwrap_or(SignedDuration::MAX);
        match (now.checked_add(wait), created_at.checked_add(max_age)) {
            (Ok(at), Ok(end)) if at < end => Next::RetryAt(at),
            (Ok(at), Err(_)) => Next::RetryAt(at),
            _ => Next::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(10));
        assert_eq!(p.ceiling(2), Duration::from_secs(20));
        assert_eq!(p.ceiling(6), Duration::from_secs(320));
        assert_eq!(p.ceiling(7), Duration::from_secs(600));
        assert_eq!(p.ceiling(u32::MAX), Duration::from_secs(600));
    }

    #[test]
    fn gives_up_at_the_maximum_age() {
        let p = RetryPolicy::default();
        let created = ts(1_000_000);
        assert_eq!(
            p.next(created, ts(1_000_000 + 3 * 86_400), 50, 0.5),
            Next::GiveUp
        );
        assert!(matches!(
            p.next(created, ts(1_000_000 + 3 * 86_400 - 1), 50, 0.5),
            Next::RetryAt(_)
        ));
    }

    #[test]
    fn an_hour_long_outage_is_caught_up_within_the_cap() {
        // Attempts every ≤ 10 min: after a receiver comes back, the next attempt is at most
        // 10 minutes away whatever the number of failures so far.
        let p = RetryPolicy::default();
        let created = ts(0);
        let mut now = ts(0);
        let mut attempts = 1;
        while now < ts(3600) {
            match p.next(created, now, attempts, 0.999) {
                Next::RetryAt(at) => {
                    assert!(at.duration_since(now) <= SignedDuration::from_secs(600));
                    now = at;
                }
                Next::GiveUp => panic!("gave up within an hour"),
            }
            attempts += 1;
        }
        assert!(attempts < 20, "{attempts} attempts in an hour");
    }

    #[test]
    fn a_receivers_wait_replaces_the_backoff_above_its_floor() {
        let p = RetryPolicy::default();
        let created = ts(1_000);
        assert_eq!(
            p.next_after(created, ts(1_000), 1, 0.5, Some(Duration::from_secs(90))),
            Next::RetryAt(ts(1_090))
        );
        // A wait shorter than the backoff's floor (half its ceiling: 5 s for a first attempt)
        // waits the floor: a receiver answering "now" again and again is still backed off.
        assert_eq!(
            p.next_after(created, ts(1_000), 1, 0.5, Some(Duration::from_millis(200))),
            Next::RetryAt(ts(1_005))
        );
        assert_eq!(
            p.next_after(created, ts(1_000), 8, 0.5, Some(Duration::ZERO)),
            Next::RetryAt(ts(1_300)),
            "the eighth attempt's floor: half of 600 s"
        );
        assert_eq!(
            p.next_after(
                created,
                ts(1_000),
                1,
                0.5,
                Some(Duration::from_secs(4 * 86_400))
            ),
            Next::GiveUp
        );
    }

    proptest! {
        #[test]
        fn delay_within_half_ceiling_and_ceiling(attempts in 1_u32..100, jitter in 0.0_f64..1.0) {
            let p = RetryPolicy::default();
            let now = ts(1_000);
            if let Next::RetryAt(at) = p.next(now, now, attempts, jitter) {
                let delay = at.duration_since(now).as_millis();
                let ceiling = p.ceiling(attempts).as_millis() as i128;
                prop_assert!(delay >= ceiling / 2 && delay <= ceiling, "{delay} vs {ceiling}");
            } else {
                prop_assert!(false, "gave up on a fresh delivery");
            }
        }
    }
}
