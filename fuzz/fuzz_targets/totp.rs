//! Any text as a base32 TOTP secret and any text as a typed code: never panics; what decodes
//! encodes to a text that decodes to the same bytes; a code is accepted only for a step within
//! one of the current one and after the last one used, and only as that step's code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::console::totp;

fuzz_target!(|input: (&str, &str, i64, Option<i64>)| {
    let (secret, typed, now, last) = input;
    if let Some(bytes) = totp::base32_decode(secret) {
        let again = totp::base32_encode(&bytes);
        assert_eq!(totp::base32_decode(&again).as_deref(), Some(&bytes[..]));
        let now = now.clamp(-1_000_000_000_000, 1_000_000_000_000);
        if let Some(step) = totp::verify(&bytes, typed, now, last) {
            assert!((step - totp::step_at(now)).abs() <= totp::SKEW_STEPS);
            assert!(last.is_none_or(|l| step > l));
            assert_eq!(totp::code_at_step(&bytes, step), typed.split_whitespace().collect::<String>());
        }
    }
    let _ = upkeep_domain::console::check_password(typed);
});
