//! E-mail addresses: one rule for what upkeep accepts as an address, wherever one comes from
//! (a subscription form, the API, the configuration's channels and SMTP sender).
//!
//! An address is `local@domain`, both parts non-empty, one `@`, a domain that neither starts
//! nor ends with a dot, at most [`EmailAddress::MAX_LEN`] bytes, and none of the characters
//! that would let it carry a display name, a second address or a header (white space, control
//! characters, `<>",;()[]\:`). Surrounding white space is trimmed. Case is kept as given;
//! [`EmailAddress::to_lowercase`] gives the form subscribers are stored and matched under.

use std::fmt;

/// A checked e-mail address.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

/// Why a text is not an e-mail address; its `Display` is a sentence for the person who typed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmailError {
    Empty,
    TooLong,
    ForbiddenCharacter,
    NotAnAddress,
}

impl fmt::Display for EmailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmailError::Empty => f.write_str("enter an e-mail address"),
            EmailError::TooLong => write!(
                f,
                "an e-mail address has at most {} characters",
                EmailAddress::MAX_LEN
            ),
            EmailError::ForbiddenCharacter => {
                f.write_str("an e-mail address has no spaces, quotes, brackets, commas or colons")
            }
            EmailError::NotAnAddress => {
                f.write_str("this is not an e-mail address (name@example.com)")
            }
        }
    }
}

impl std::error::Error for EmailError {}

impl EmailAddress {
    /// Longest address accepted (the RFC 5321 path limit).
    pub const MAX_LEN: usize = 254;

    /// Checks `raw` (trimmed) against the rule of this module.
    pub fn parse(raw: &str) -> Result<EmailAddress, EmailError> {
        let email = raw.trim();
        if email.is_empty() {
            return Err(EmailError::Empty);
        }
        if email.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let forbidden = |c: char| {
            c.is_whitespace()
                || c.is_control()
                || matches!(
                    c,
                    '<' | '>' | '"' | ',' | ';' | '(' | ')' | '[' | ']' | '\\' | ':'
                )
        };
        if email.chars().any(forbidden) {
            return Err(EmailError::ForbiddenCharacter);
        }
        match email.split_once('@') {
            Some((local, domain))
                if !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                Ok(EmailAddress(email.to_owned()))
            }
            _ => Err(EmailError::NotAnAddress),
        }
    }

    /// The address in lower case: the form a subscriber is stored and found under.
    pub fn to_lowercase(&self) -> EmailAddress {
        EmailAddress(self.0.to_lowercase())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An e-mail address fit to show to someone who may not read it in full (a `viewer`'s audit
/// log, a log line): the first character of the local part, then `…@` and the domain
/// (`a…@example.com`). Text without `@` is shown as `…`.
pub fn redact_address(address: &str) -> String {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EmailAddress {
    type Err = EmailError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EmailAddress::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_trimmed_and_keep_their_case() {
        let a = EmailAddress::parse(" Ann@Example.COM ");
        assert_eq!(a.as_ref().map(EmailAddress::as_str), Ok("Ann@Example.COM"));
        assert_eq!(
            a.map(|a| a.to_lowercase().into_string()).as_deref(),
            Ok("ann@example.com")
        );
        assert_eq!(
            "ops+status@acme.example"
                .parse::<EmailAddress>()
                .map(|a| a.to_string()),
            Ok("ops+status@acme.example".to_owned())
        );
    }

    #[test]
    fn what_is_not_an_address_says_why() {
        for (bad, why) in [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("ann", EmailError::NotAnAddress),
            ("@example.com", EmailError::NotAnAddress),
            ("ann@", EmailError::NotAnAddress),
            ("a@b@c", EmailError::NotAnAddress),
            ("ann@.com", EmailError::NotAnAddress),
            ("ann@example.", EmailError::NotAnAddress),
            ("ann smith@example.com", EmailError::ForbiddenCharacter),
            ("<script>@x.y", EmailError::ForbiddenCharacter),
            ("Ann <ann@x.y>", EmailError::ForbiddenCharacter),
            ("a@x.y,b@x.y", EmailError::ForbiddenCharacter),
            (
                "ann@example.com\r\nBcc: x@y.z",
                EmailError::ForbiddenCharacter,
            ),
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(why), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::TooLong));
        let longest = format!("{}@example.com", "a".repeat(EmailAddress::MAX_LEN - 12));
        assert!(EmailAddress::parse(&longest).is_ok());
        assert_eq!(
            EmailError::TooLong.to_string(),
            "an e-mail address has at most 254 characters"
        );
    }
}

#[cfg(test)]
mod redaction_tests {
    use super::redact_address;

    #[test]
    fn addresses_are_redacted_to_their_first_character_and_domain() {
        assert_eq!(redact_address("alice@example.com"), "a…@example.com");
        assert_eq!(redact_address("a…@example.com"), "a…@example.com");
        assert_eq!(redact_address("no-at-sign"), "…");
        assert_eq!(redact_address("élise@exemple.fr"), "é…@exemple.fr");
    }
}
