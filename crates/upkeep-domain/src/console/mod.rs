//! The console's rules: how long a session lives, what a password must be, how sign-in
//! failures slow the next attempt, and the second factor ([`totp`]). Pure: instants and
//! counts come in as parameters.

pub mod totp;

use jiff::SignedDuration;

/// A signed-in session ends after this long without a request.
pub const SESSION_IDLE: SignedDuration = SignedDuration::from_mins(30);
/// A signed-in session ends this long after sign-in, however busy.
pub const SESSION_ABSOLUTE: SignedDuration = SignedDuration::from_hours(12);
/// Between a correct password and the second factor: this long to enter the code.
pub const SECOND_FACTOR_WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// A destructive action (revoking a token, disabling a user) needs the password or a second
/// factor code confirmed within this long.
pub const CONFIRMATION_WINDOW: SignedDuration = SignedDuration::from_mins(5);

/// Whether a confirmation made at `confirmed_at` still covers a destructive action at `now`.
pub fn recently_confirmed(confirmed_at: Option<jiff::Timestamp>, now: jiff::Timestamp) -> bool {
    confirmed_at.is_some_and(|at| {
        let age = now.duration_since(at);
        !age.is_negative() && age <= CONFIRMATION_WINDOW
    })
}

/// Shortest password accepted, in characters.
pub const PASSWORD_MIN_CHARS: usize = 12;
/// Longest password accepted, in bytes (argon2 takes any length; this bounds the work a
/// request can ask for).
pub const PASSWORD_MAX_BYTES: usize = 1024;

/// Why a password is refused; its `Display` is a sentence for the person who chose it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("a password has at least {PASSWORD_MIN_CHARS} characters")]
    TooShort,
    #[error("a password has at most {PASSWORD_MAX_BYTES} bytes")]
    TooLong,
    #[error("a password has no control characters (a line break, a tab, ...)")]
    ControlCharacter,
}

/// Checks a new password. Length is what counts (NIST SP 800-63B): no composition rules.
pub fn check_password(password: &str) -> Result<(), PasswordError> {
    if password.len() > PASSWORD_MAX_BYTES {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < PASSWORD_MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if password.chars().any(char::is_control) {
        return Err(PasswordError::ControlCharacter);
    }
    Ok(())
}

/// Which failures a throttle key counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleKind {
    /// Failures against one e-mail address (whether or not it names a user).
    Account,
    /// Failures from one client address.
    Client,
}

impl ThrottleKind {
    /// Failures allowed before any delay: a person mistyping is not slowed; a client gets more
    /// room than an account, for offices behind one address.
    pub fn free_failures(self) -> i64 {
        match self {
            ThrottleKind::Account => 3,
            ThrottleKind::Client => 10,
        }
    }

    /// The key the store counts failures under.
    pub fn key(self, value: &str) -> String {
        match self {
            ThrottleKind::Account => format!("account:{}", value.trim().to_lowercase()),
            ThrottleKind::Client => format!("client:{value}"),
        }
    }
}

/// Failures are forgotten after this long without one.
pub const THROTTLE_FORGET: SignedDuration = SignedDuration::from_hours(1);
/// The longest delay the throttle imposes.
pub const THROTTLE_MAX_DELAY: SignedDuration = SignedDuration::from_mins(15);

/// How long the next attempt waits after the `failures`-th failure in a row: nothing for the
/// free failures, then 1 s, doubling with each further failure, at most
/// [`THROTTLE_MAX_DELAY`].
pub fn throttle_delay(kind: ThrottleKind, failures: i64) -> SignedDuration {
    let over = failures - kind.free_failures();
    if over <= 0 {
        return SignedDuration::ZERO;
    }
    let max = THROTTLE_MAX_DELAY.as_secs();
    let secs = if over > 20 {
        max
    } else {
        (1i64 << (over - 1)).min(max)
    };
    SignedDuration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_confirmation_covers_five_minutes_and_nothing_before_it() {
        let at = jiff::Timestamp::from_second(1_790_000_000).unwrap_or_default();
        let later = |s: i64| at.checked_add(SignedDuration::from_secs(s)).unwrap_or(at);
        assert!(!recently_confirmed(None, at));
        assert!(recently_confirmed(Some(at), at));
        assert!(recently_confirmed(Some(at), later(300)));
        assert!(!recently_confirmed(Some(at), later(301)));
        assert!(
            !recently_confirmed(Some(later(10)), at),
            "not from the future"
        );
    }

    #[test]
    fn passwords_are_judged_by_length_only() {
        assert_eq!(check_password("short"), Err(PasswordError::TooShort));
        assert_eq!(check_password("elevenchars"), Err(PasswordError::TooShort));
        assert_eq!(check_password("twelve chars"), Ok(()));
        // Characters, not bytes: twelve accented letters pass.
        assert_eq!(check_password("éééééééééééé"), Ok(()));
        assert_eq!(
            check_password(&"x".repeat(PASSWORD_MAX_BYTES + 1)),
            Err(PasswordError::TooLong)
        );
        assert_eq!(
            check_password("twelve chars\n"),
            Err(PasswordError::ControlCharacter)
        );
    }

    #[test]
    fn delays_grow_after_the_free_failures_and_stop_at_the_cap() {
        let d = |n| throttle_delay(ThrottleKind::Account, n).as_secs();
        assert_eq!([d(1), d(2), d(3)], [0, 0, 0]);
        assert_eq!([d(4), d(5), d(6), d(7)], [1, 2, 4, 8]);
        assert_eq!(d(13), 512);
        assert_eq!(d(14), 900);
        assert_eq!(d(1_000_000), 900);
        assert_eq!(throttle_delay(ThrottleKind::Client, 10).as_secs(), 0);
        assert_eq!(throttle_delay(ThrottleKind::Client, 11).as_secs(), 1);
        assert_eq!(ThrottleKind::Account.key(" Ada@X.org"), "account:ada@x.org");
        assert_eq!(ThrottleKind::Client.key("192.0.2.1"), "client:192.0.2.1");
    }
}
