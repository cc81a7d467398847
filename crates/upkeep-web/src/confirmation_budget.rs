//! The budget of subscription confirmation mails, so that no client can make upkeep mail
//! strangers by the thousand through `POST /subscribe` (whatever addresses it uses):
//!
//! - an hourly budget overall and one per recipient domain
//!   (`server.confirmation_mail_budget`), each a GCRA quota ([`HourLimiter`]) that allows its
//!   whole hour at once and then recovers steadily;
//! - a growing delay per address: after the first mail, the next may follow
//!   [`crate::subscribe::RESEND_AFTER_MS`] (10 minutes) later, and every further one waits twice
//!   as long as the one before (20, 40, 80 minutes, ... at most a day); a day without a mail
//!   to the address starts over. Requests within the delay send nothing.
//!
//! Over a budget, the request gets the same answer as any other and nothing is sent; the
//! refusal is logged (with the domain, not the address) and counted
//! (`upkeep_confirmation_mails_refused_total`). The budgets and delays are kept in memory: a
//! restart starts them afresh (the store's own 10-minute resend window still holds).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use upkeep_domain::config::MailBudget;

use crate::rate_limit::HourLimiter;
use crate::subscribe::RESEND_AFTER_MS;

/// The longest delay between two confirmation mails to one address.
pub const MAX_RESEND_AFTER_MS: i64 = 24 * 60 * 60 * 1000;

/// Why a confirmation mail is not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// `server.confirmation_mail_budget.per_hour` is spent.
    Overall,
    /// `server.confirmation_mail_budget.per_domain_per_hour` is spent for the domain.
    Domain,
}

/// The budgets and the delays per address (see the module documentation).
#[derive(Debug)]
pub struct ConfirmationBudget {
    overall: HourLimiter<()>,
    per_domain: HourLimiter<String>,
    /// Per address: mails sent in the current run and when the last one went (ms).
    sent: Mutex<HashMap<String, (u32, i64)>>,
}

impl ConfirmationBudget {
    pub fn new(budget: MailBudget) -> Self {
        Self {
            overall: HourLimiter::new(budget.per_hour),
            per_domain: HourLimiter::new(budget.per_domain_per_hour),
            sent: Mutex::default(),
        }
    }

    /// Applies a new budget; counters restart only when it actually changed.
    pub fn reconfigure(&self, budget: MailBudget) {
        self.overall.reconfigure(budget.per_hour);
        self.per_domain.reconfigure(budget.per_domain_per_hour);
    }

    /// How long after the last confirmation mail to `address` the next may go, at `now_ms`.
    pub fn resend_after_ms(&self, address: &str, now_ms: i64) -> i64 {
        let sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        match sent.get(address) {
            Some(&(n, last)) if n > 0 && now_ms.saturating_sub(last) < MAX_RESEND_AFTER_MS => {
                let doubled = RESEND_AFTER_MS.saturating_mul(1_i64 << (n - 1).min(16));
                doubled.min(MAX_RESEND_AFTER_MS)
            }
            _ => RESEND_AFTER_MS,
        }
    }

    /// Spends one mail to `address` from the budgets, or says which one is spent; on success
    /// the address's delay grows.
    pub fn spend(&self, address: &str, now_ms: i64) -> Result<(), OverBudget> {
        let domain = domain_of(address).to_owned();
        self.per_domain
            .check_key(&domain)
            .map_err(|_| OverBudget::Domain)?;
        self.overall
            .check_key(&())
            .map_err(|_| OverBudget::Overall)?;
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        let entry = sent.entry(address.to_owned()).or_insert((0, now_ms));
        if now_ms.saturating_sub(entry.1) >= MAX_RESEND_AFTER_MS {
            entry.0 = 0;
        }
        *entry = (entry.0.saturating_add(1), now_ms);
        Ok(())
    }

    /// Forgets domains whose budget has recovered and addresses without a mail for a day.
    pub fn forget_idle(&self, now_ms: i64) {
        self.per_domain.forget_idle();
        let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
        sent.retain(|_, (_, last)| now_ms.saturating_sub(*last) < MAX_RESEND_AFTER_MS);
        sent.shrink_to_fit();
    }
}

/// Shared between the state's clones.
pub type SharedBudget = Arc<ConfirmationBudget>;

/// The domain of an address (lower case already): what follows its last `@`.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60 * 1000;

    #[test]
    fn the_delay_per_address_doubles_and_a_quiet_day_resets_it() {
        let budget = ConfirmationBudget::new(MailBudget {
            per_hour: 0,
            per_domain_per_hour: 0,
        });
        let a = "ann@example.com";
        assert_eq!(budget.resend_after_ms(a, 0), 10 * MIN);
        let mut now = 0;
        for expected in [10, 20, 40, 80, 160] {
            assert_eq!(budget.spend(a, now), Ok(()));
            assert_eq!(budget.resend_after_ms(a, now), expected * MIN);
            now += expected * MIN;
        }
        assert_eq!(
            budget.resend_after_ms("bob@example.com", now),
            10 * MIN,
            "other addresses are unaffected"
        );
        for _ in 0..20 {
            let _ = budget.spend(a, now);
        }
        assert_eq!(budget.resend_after_ms(a, now), MAX_RESEND_AFTER_MS);
        now += MAX_RESEND_AFTER_MS;
        assert_eq!(budget.resend_after_ms(a, now), 10 * MIN);
        budget.forget_idle(now);
        assert!(
            budget
                .sent
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .is_empty()
        );
    }

    #[test]
    fn budgets_overall_and_per_domain() {
        let budget = ConfirmationBudget::new(MailBudget {
            per_hour: 5,
            per_domain_per_hour: 2,
        });
        assert_eq!(budget.spend("a@one.test", 0), Ok(()));
        assert_eq!(budget.spend("b@one.test", 0), Ok(()));
        assert_eq!(budget.spend("c@one.test", 0), Err(OverBudget::Domain));
        assert_eq!(budget.spend("a@two.test", 0), Ok(()));
        assert_eq!(budget.spend("b@two.test", 0), Ok(()));
        assert_eq!(budget.spend("a@three.test", 0), Ok(()));
        assert_eq!(budget.spend("b@three.test", 0), Err(OverBudget::Overall));
        assert_eq!(domain_of("x@y.z"), "y.z");
    }
}
