//! The User-based Security Model's cryptography (RFC 3414, RFC 7860, RFC 3826): passwords to
//! keys, keys localised to an engine, HMAC digests (HMAC-SHA-96 and HMAC-SHA-256-192) and
//! AES-128 in CFB mode.

use aes::Aes128;
use cfb_mode::cipher::KeyIvInit;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The authentication protocols upkeep speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthProtocol {
    /// usmHMACSHAAuthProtocol: HMAC-SHA-1 cut to 12 bytes (RFC 3414).
    Sha1,
    /// usmHMAC192SHA256AuthProtocol: HMAC-SHA-256 cut to 24 bytes (RFC 7860).
    Sha256,
}

impl AuthProtocol {
    /// The names configuration accepts, with the protocol each means.
    pub const NAMES: [(&'static str, AuthProtocol); 3] = [
        ("sha", AuthProtocol::Sha1),
        ("sha1", AuthProtocol::Sha1),
        ("sha256", AuthProtocol::Sha256),
    ];

    /// The name shown in messages.
    pub fn name(self) -> &'static str {
        match self {
            AuthProtocol::Sha1 => "SHA",
            AuthProtocol::Sha256 => "SHA-256",
        }
    }

    /// How many bytes of the HMAC travel in `msgAuthenticationParameters`.
    pub fn digest_len(self) -> usize {
        match self {
            AuthProtocol::Sha1 => 12,
            AuthProtocol::Sha256 => 24,
        }
    }
}

/// How many bytes of a password the key derivation hashes (RFC 3414 A.2).
const PASSWORD_STRETCH: usize = 1024 * 1024;

/// The shortest password the USM accepts (RFC 3414 11.2).
pub const MIN_PASSWORD_LEN: usize = 8;

/// A user's key before localisation (`Ku`): the password hashed over a megabyte. Slow by
/// design (milliseconds); compute it once per check, away from the async runtime.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    protocol: AuthProtocol,
    key: Vec<u8>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterKey")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl MasterKey {
    /// `Ku` of `password` (at least [`MIN_PASSWORD_LEN`] bytes, else `None`).
    pub fn from_password(protocol: AuthProtocol, password: &[u8]) -> Option<MasterKey> {
        if password.len() < MIN_PASSWORD_LEN {
            return None;
        }
        let key = match protocol {
            AuthProtocol::Sha1 => stretch::<Sha1>(password),
            AuthProtocol::Sha256 => stretch::<Sha256>(password),
        };
        Some(MasterKey { protocol, key })
    }

    /// `Kul`: the key localised to the authoritative engine `engine_id`.
    pub fn localise(&self, engine_id: &[u8]) -> LocalKey {
        let key = match self.protocol {
            AuthProtocol::Sha1 => localise::<Sha1>(&self.key, engine_id),
            AuthProtocol::Sha256 => localise::<Sha256>(&self.key, engine_id),
        };
        LocalKey {
            protocol: self.protocol,
            key,
        }
    }
}

fn stretch<D: Digest>(password: &[u8]) -> Vec<u8> {
    let mut hasher = D::new();
    let mut block = [0u8; 64];
    let mut index = 0usize;
    for _ in 0..PASSWORD_STRETCH / block.len() {
        for byte in &mut block {
            *byte = password.get(index % password.len()).copied().unwrap_or(0);
            index += 1;
        }
        hasher.update(block);
    }
    hasher.finalize().to_vec()
}

fn localise<D: Digest>(key: &[u8], engine_id: &[u8]) -> Vec<u8> {
    let mut hasher = D::new();
    hasher.update(key);
    hasher.update(engine_id);
    hasher.update(key);
    hasher.finalize().to_vec()
}

/// A key localised to one engine.
#[derive(Clone, PartialEq, Eq)]
pub struct LocalKey {
    protocol: AuthProtocol,
    key: Vec<u8>,
}

impl std::fmt::Debug for LocalKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKey")
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl LocalKey {
    pub fn protocol(&self) -> AuthProtocol {
        self.protocol
    }

    /// The digest of a whole message whose authentication parameters are zeros.
    pub fn digest(&self, message: &[u8]) -> Vec<u8> {
        let mut full = match self.protocol {
            AuthProtocol::Sha1 => hmac::<Hmac<Sha1>>(&self.key, message),
            AuthProtocol::Sha256 => hmac::<Hmac<Sha256>>(&self.key, message),
        };
        full.truncate(self.protocol.digest_len());
        full
    }

    /// Whether `digest` is this key's digest of `message` (with zeros in its place), compared
    /// in constant time.
    pub fn verify(&self, message: &[u8], digest: &[u8]) -> bool {
        if digest.len() != self.protocol.digest_len() {
            return false;
        }
        match self.protocol {
            AuthProtocol::Sha1 => verify::<Hmac<Sha1>>(&self.key, message, digest),
            AuthProtocol::Sha256 => verify::<Hmac<Sha256>>(&self.key, message, digest),
        }
    }

    /// The AES-128 key a privacy key localised with this key's hash yields (its first 16
    /// bytes; both hashes give at least 20).
    pub fn aes128(&self) -> [u8; 16] {
        let mut key = [0u8; 16];
        for (slot, byte) in key.iter_mut().zip(&self.key) {
            *slot = *byte;
        }
        key
    }
}

fn hmac<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8]) -> Vec<u8> {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length.
        Err(_) => Vec::new(),
    }
}

fn verify<M: Mac + hmac::digest::KeyInit>(key: &[u8], message: &[u8], digest: &[u8]) -> bool {
    match <M as hmac::digest::KeyInit>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(message);
            mac.verify_truncated_left(digest).is_ok()
        }
        Err(_) => false,
    }
}

/// The initialisation vector of AES-CFB (RFC 3826 3.1.2.1): the engine's boots and time and
/// the message's 8-byte salt.
fn aes_iv(boots: u32, time: u32, salt: &[u8; 8]) -> [u8; 16] {
    let mut iv = [0u8; 16];
    let parts = boots
        .to_be_bytes()
        .into_iter()
        .chain(time.to_be_bytes())
        .chain(salt.iter().copied());
    for (slot, byte) in iv.iter_mut().zip(parts) {
        *slot = byte;
    }
    iv
}

/// Encrypts `data` in place with AES-128-CFB.
pub fn aes_encrypt(key: &[u8; 16], boots: u32, time: u32, salt: &[u8; 8], data: &mut [u8]) {
    let iv = aes_iv(boots, time, salt);
    cfb_mode::BufEncryptor::<Aes128>::new(key.into(), (&iv).into()).encrypt(data);
}

/// Decrypts `data` in place with AES-128-CFB.
pub fn aes_decrypt(key: &[u8; 16], boots: u32, time: u32, salt: &[u8; 8], data: &mut [u8]) {
    let iv = aes_iv(boots, time, salt);
    cfb_mode::BufDecryptor::<Aes128>::new(key.into(), (&iv).into()).decrypt(data);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 3414 A.3.2: password "maplesyrup", engine 000000000000000000000002.
    #[test]
    fn keys_match_the_rfc_examples() {
        let engine = hex("000000000000000000000002");
        let master = MasterKey::from_password(AuthProtocol::Sha1, b"maplesyrup").unwrap();
        assert_eq!(master.key, hex("9fb5cc0381497b3793528939ff788d5d79145211"));
        assert_eq!(
            master.localise(&engine).key,
            hex("6695febc9288e36282235fc7151f128497b38f3f")
        );
        // RFC 7860 A.2 (usmHMAC192SHA256AuthProtocol).
        let master = MasterKey::from_password(AuthProtocol::Sha256, b"maplesyrup").unwrap();
        assert_eq!(
            master.localise(&engine).key,
            hex("8982e0e549e866db361a6b625d84cccc11162d453ee8ce3a6445c2d6776f0f8b")
        );
        assert!(MasterKey::from_password(AuthProtocol::Sha1, b"short").is_none());
    }

    #[test]
    fn digests_verify_and_aes_round_trips() {
        let key = MasterKey::from_password(AuthProtocol::Sha256, b"authpass1")
            .unwrap()
            .localise(b"engine");
        let digest = key.digest(b"message");
        assert_eq!(digest.len(), 24);
        assert!(key.verify(b"message", &digest));
        assert!(!key.verify(b"messagf", &digest));
        assert!(!key.verify(b"message", &digest[..12]));

        let aes = key.aes128();
        let mut data = b"a scoped PDU of any length".to_vec();
        aes_encrypt(&aes, 3, 1000, &[1; 8], &mut data);
        assert_ne!(&data[..], b"a scoped PDU of any length");
        aes_decrypt(&aes, 3, 1000, &[1; 8], &mut data);
        assert_eq!(&data[..], b"a scoped PDU of any length");
    }
}
