//! Optimistic concurrency, written once: a change to an incident, a maintenance or a rollout is
//! computed from the row as read and written only over the revision it was read at (`WHERE
//! revision = ...`). When another change got there first, the change is computed again from the new row,
//! after a short pause that grows with each attempt (with jitter, so two clashing writers do
//! not retry in step), at most [`MAX_ATTEMPTS`] times; then the caller gets a
//! [`StoreError::Conflict`] it can act on (try again).

use std::time::Duration;

use rand::Rng;
use upkeep_domain::notify::retry::RetryPolicy;

use crate::StoreError;

/// How often a change is tried before giving up with [`StoreError::Conflict`].
pub const MAX_ATTEMPTS: u32 = 8;

/// The pause before the second attempt is up to 2 ms; it doubles with every attempt up to
/// 50 ms, so all attempts together wait at most about a quarter of a second.
const BACKOFF: RetryPolicy = RetryPolicy {
    initial: Duration::from_millis(2),
    max_interval: Duration::from_millis(50),
    max_age: Duration::MAX,
};

/// What one attempt of an optimistic change did.
pub enum Attempt<T> {
    /// Written (or nothing to write): the change's answer.
    Done(T),
    /// Another change to the same row won the race: compute the change again.
    Clashed,
}

/// Runs `attempt` until it is [`Attempt::Done`], pausing a little longer after each clash, at
/// most [`MAX_ATTEMPTS`] times. `target` names the row in the error ("maintenance abc").
pub async fn on_clash<T, F, Fut>(target: &str, mut attempt: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Attempt<T>, StoreError>>,
{
    for n in 1..=MAX_ATTEMPTS {
        if let Attempt::Done(answer) = attempt().await? {
            return Ok(answer);
        }
        if n < MAX_ATTEMPTS {
            tokio::time::sleep(pause(n)).await;
        }
    }
    tracing::warn!(
        target,
        attempts = MAX_ATTEMPTS,
        "change given up: the row kept changing"
    );
    Err(StoreError::Conflict(format!(
        "{target} kept changing under concurrent updates; try again"
    )))
}

/// The pause after `clashes` clashes: half the ceiling fixed, half random.
fn pause(clashes: u32) -> Duration {
    let ceiling = BACKOFF.ceiling(clashes);
    let half = ceiling / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn a_clash_is_retried_until_the_change_is_written() {
        let calls = Cell::new(0);
        let answer = on_clash("maintenance abc", || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                Ok(if n < 3 {
                    Attempt::Clashed
                } else {
                    Attempt::Done(n)
                })
            }
        })
        .await;
        assert_eq!(answer.ok(), Some(3));
    }

    #[tokio::test]
    async fn a_row_that_keeps_changing_is_a_conflict_after_the_last_attempt() {
        let calls = Cell::new(0);
        let started = std::time::Instant::now();
        let answer: Result<(), _> = on_clash("maintenance abc", || {
            calls.set(calls.get() + 1);
            async { Ok(Attempt::Clashed) }
        })
        .await;
        assert_eq!(calls.get(), MAX_ATTEMPTS);
        match answer {
            Err(StoreError::Conflict(message)) => assert_eq!(
                message,
                "maintenance abc kept changing under concurrent updates; try again"
            ),
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Every clash but the last is followed by a pause of at least half its ceiling.
        let least: Duration = (1..MAX_ATTEMPTS).map(|n| BACKOFF.ceiling(n) / 2).sum();
        assert!(started.elapsed() >= least, "{:?}", started.elapsed());
    }

    #[test]
    fn the_pause_grows_and_stays_bounded() {
        for n in 1..=MAX_ATTEMPTS {
            let p = pause(n);
            assert!(
                p >= BACKOFF.ceiling(n) / 2 && p <= BACKOFF.ceiling(n),
                "{n}: {p:?}"
            );
        }
        assert!(BACKOFF.ceiling(1) < BACKOFF.ceiling(4));
        assert_eq!(BACKOFF.ceiling(MAX_ATTEMPTS), Duration::from_millis(50));
    }
}
