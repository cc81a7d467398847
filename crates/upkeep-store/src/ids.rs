//! Identifiers: 12 lowercase alphanumerics, the shape Statuspage uses, random and stable per
//! object; and token secrets.

use rand::Rng;
use rand::distr::Alphanumeric;

/// A new random id of 12 lowercase ASCII letters and digits (about 62 bits).
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..12)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// A new random UUID (version 4) in its lower-case 8-4-4-4-12 form: delivery ids and the
/// run ids that pair a ping's start with its end.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new bearer-token secret: `upk_` and 43 alphanumerics (about 256 bits).
pub fn new_token_secret() -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("upk_{body}")
}

/// A new console session token: 43 alphanumerics (about 256 bits), the value of the session
/// cookie.
pub fn new_session_token() -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect()
}

/// A new ping key for a push monitor or a backup: 32 characters from an alphabet of 32
/// lower-case letters and digits without look-alikes (`0`, `1`, `l`, `o`), 160 random bits.
pub fn new_ping_key() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// Whether `s` has the shape of an id made by [`new_id`].
pub fn is_id(s: &str) -> bool {
    s.len() == 12
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_statuspage_shape_and_differ() {
        let a = new_id();
        let b = new_id();
        assert!(is_id(&a), "{a}");
        assert_ne!(a, b);
        assert!(!is_id("ABCDEFGHIJKL"));
        assert!(!is_id("short"));
    }

    #[test]
    fn uuids_are_lower_case_version_4_and_differ() {
        let a = new_uuid();
        assert_eq!(a.len(), 36);
        assert_eq!(a, a.to_lowercase());
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
        assert_eq!(a.matches('-').count(), 4);
        assert_ne!(a, new_uuid());
    }

    #[test]
    fn secrets_are_long_and_prefixed() {
        let s = new_token_secret();
        assert!(s.starts_with("upk_"));
        assert_eq!(s.len(), 47);
    }
}
