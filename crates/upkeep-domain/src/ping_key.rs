//! How guessable a ping key looks. `/ping/{key}` is public and unauthenticated: the key is the
//! only thing between a stranger and a backup's heartbeat, so it must be as hard to guess as a
//! password. `upkeep key new` makes keys of 160 bits; `upkeep check` and `upkeep serve` warn
//! about a configured key under [`STRONG_KEY_BITS`] of apparent entropy (a warning, not an
//! error: a key may be shared with jobs that cannot be changed at once).

use crate::config::{Config, MonitorKind};

/// The apparent entropy a ping key should have, in bits.
pub const STRONG_KEY_BITS: u32 = 128;

/// The apparent entropy of `key`, in bits: its length times the bits of the alphabet its
/// characters are drawn from (digits 10, lower-case letters 26, upper-case 26, anything else
/// 32, added up per class present). A key that repeats few characters (fewer distinct ones
/// than half its length and half that alphabet) counts only the characters it uses.
/// `apparent` because a key that looks random may not be (`password12345678…`): this is an
/// upper bound, good for catching short and patterned keys.
pub fn apparent_bits(key: &str) -> u32 {
    let chars: Vec<char> = key.chars().collect();
    if chars.is_empty() {
        return 0;
    }
    let has = |f: fn(&char) -> bool| chars.iter().any(f);
    let mut alphabet = 0u32;
    if has(char::is_ascii_digit) {
        alphabet += 10;
    }
    if has(char::is_ascii_lowercase) {
        alphabet += 26;
    }
    if has(char::is_ascii_uppercase) {
        alphabet += 26;
    }
    if has(|c| !c.is_ascii_alphanumeric()) {
        alphabet += 32;
    }
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    let distinct = u32::try_from(distinct.len()).unwrap_or(u32::MAX);
    let len = u32::try_from(chars.len()).unwrap_or(u32::MAX);
    if distinct < len.div_ceil(2).min(alphabet / 2) {
        alphabet = distinct;
    }
    let bits = f64::from(len) * f64::from(alphabet.max(1)).log2();
    // `bits` is finite and non-negative; the cast saturates.
    bits.floor() as u32
}

/// Every configured ping key under [`STRONG_KEY_BITS`]: who uses it (`monitor ID` or
/// `backup ID`) and its apparent bits, in configuration order.
pub fn weak_keys(config: &Config) -> Vec<(String, u32)> {
    let monitors = config.monitors.iter().filter_map(|(id, m)| match &m.kind {
        MonitorKind::Push(push) => Some((format!("monitor `{id}`"), push.key.as_str())),
        _ => None,
    });
    let backups = config
        .backups
        .iter()
        .map(|(id, b)| (format!("backup `{id}`"), b.push_key.as_str()));
    monitors
        .chain(backups)
        .map(|(who, key)| (who, apparent_bits(key)))
        .filter(|(_, bits)| *bits < STRONG_KEY_BITS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_patterned_keys_are_weak_and_generated_ones_strong() {
        assert_eq!(apparent_bits(""), 0);
        assert!(apparent_bits("9d1c-mongo") < 64, "the old example");
        assert!(apparent_bits("5b2f0c1e-backup") < 128);
        assert!(apparent_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") < 10);
        assert!(apparent_bits("abababababababababababababababababababab") < 64);
        // 32 characters of a 32-letter alphabet (as `upkeep key new` makes them): 160 bits.
        assert!(apparent_bits("k7wq2mzr8xhtn4vc9dpj3fys6bga5eu2") >= STRONG_KEY_BITS);
        // A UUID (v4: 122 random bits) looks like 36 characters of 42: strong enough.
        assert!(apparent_bits("6f1c1f0e-8f5e-4b8a-9d3c-1a2b3c4d5e6f") >= STRONG_KEY_BITS);
        // 32 hex digits: 128 bits.
        assert!(apparent_bits("0123456789abcdef0f1e2d3c4b5a6978") >= 128);
    }
}
