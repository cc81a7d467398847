//! Webhook signatures: `Upkeep-Signature: t=UNIX,v1=HEX(HMAC_SHA256(secret, "t.body"))`.
//!
//! The timestamp is part of the signed text, so a receiver that rejects old timestamps (five
//! minutes is usual) is safe from replays; `v1` names the scheme so it can change without
//! breaking receivers.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The `Upkeep-Signature` header value for `body` sent at `unix_seconds`.
pub fn sign(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac(secret, unix_seconds, body))
    )
}

fn mac(secret: &[u8], unix_seconds: i64, body: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable_key(),
    };
    m.update(unix_seconds.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().to_vec()
}

#[cold]
fn unreachable_key() -> ! {
    // `Hmac::new_from_slice` only fails for fixed-size-key MACs; HMAC has none.
    panic!("HMAC rejected a key")
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature header is not `t=UNIX,v1=HEX`")]
    Malformed,
    #[error("the signature's timestamp is {0} s away from now (more than the tolerance)")]
    Stale(i64),
    #[error("no v1 signature matches the body")]
    Mismatch,
}

/// Checks a header made by [`sign`]: the body matches one of its `v1` values (compared in
/// constant time) and its timestamp is within `tolerance_seconds` of `now_unix`.
pub fn verify(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_seconds: i64,
) -> Result<(), VerifyError> {
    let mut t = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().map_err(|_| VerifyError::Malformed)?),
            Some(("v1", v)) => signatures.push(hex::decode(v).map_err(|_| VerifyError::Malformed)?),
            Some(_) => {}
            None => return Err(VerifyError::Malformed),
        }
    }
    let t = t.ok_or(VerifyError::Malformed)?;
    if signatures.is_empty() {
        return Err(VerifyError::Malformed);
    }
    let skew = now_unix.saturating_sub(t).saturating_abs();
    if skew > tolerance_seconds {
        return Err(VerifyError::Stale(skew));
    }
    let mut m = match HmacSha256::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable_key(),
    };
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    for s in &signatures {
        if m.clone().verify_slice(s).is_ok() {
            return Ok(());
        }
    }
    Err(VerifyError::Mismatch)
}

/// A token for a link that acts on one object (`purpose` `unsubscribe`, object `id`): an HMAC
/// of both under a key kept in the database, so no per-link secret is stored and a token works
/// only for its object and purpose. 32 hex digits (128 bits).
pub fn link_token(key: &[u8], purpose: &str, id: &str) -> String {
    hex::encode(&link_mac(key, purpose, id)[..16])
}

/// Whether `token` is [`link_token`]'s for this purpose and object (constant-time compare).
pub fn link_token_valid(key: &[u8], purpose: &str, id: &str, token: &str) -> bool {
    let Ok(given) = hex::decode(token) else {
        return false;
    };
    let want = link_mac(key, purpose, id);
    given.len() == 16
        && want[..16]
            .iter()
            .zip(&given)
            .fold(0_u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn link_mac(key: &[u8], purpose: &str, id: &str) -> Vec<u8> {
    let mut m = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => unreachable_key(),
    };
    m.update(purpose.as_bytes());
    m.update(b"\0");
    m.update(id.as_bytes());
    m.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    #[test]
    fn link_tokens_bind_purpose_and_object() {
        let t = link_token(b"key", "unsubscribe", "abc");
        assert_eq!(t.len(), 32);
        assert!(link_token_valid(b"key", "unsubscribe", "abc", &t));
        assert!(!link_token_valid(b"key", "unsubscribe", "abd", &t));
        assert!(!link_token_valid(b"key", "other", "abc", &t));
        assert!(!link_token_valid(b"key2", "unsubscribe", "abc", &t));
        assert!(!link_token_valid(b"key", "unsubscribe", "abc", &t[..30]));
        assert!(!link_token_valid(b"key", "unsubscribe", "abc", "zz"));
    }

    use super::*;

    #[test]
    fn known_vector() {
        // python3 -c 'import hmac,hashlib; print(hmac.new(b"secret", b"1700000000.{\"a\":1}",
        //     hashlib.sha256).hexdigest())'
        assert_eq!(
            sign(b"secret", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn round_trip_and_tampering() {
        let h = sign(b"k", 100, b"body");
        assert_eq!(verify(b"k", &h, b"body", 100, 300), Ok(()));
        assert_eq!(
            verify(b"k", &h, b"bodY", 100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"other", &h, b"body", 100, 300),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"k", &h, b"body", 500, 300),
            Err(VerifyError::Stale(400))
        );
        assert_eq!(
            verify(b"k", "garbage", b"body", 100, 300),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            verify(b"k", "t=1,v1=zz", b"body", 1, 300),
            Err(VerifyError::Malformed)
        );
    }
}
