//! Any `Upkeep-Signature` header and body: verifying never panics, and a header made by `sign`
//! for the same body always verifies (and never for another body).
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::notify::signature::{sign, verify};

fuzz_target!(|input: (&str, &[u8], i64)| {
    let (header, body, t) = input;
    let _ = verify(b"secret", header, body, t, 300);
    let made = sign(b"secret", t, body);
    assert_eq!(verify(b"secret", &made, body, t, 0), Ok(()));
    let mut other = body.to_vec();
    other.push(b'x');
    assert!(verify(b"secret", &made, &other, t, 0).is_err());
});
