//! Any UTF-8 text as a configuration file: parsing must never panic, and every diagnostic must
//! carry a 1-based position.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let env = |name: &str| (name == "SET").then(|| "value".to_owned());
    let now = jiff::Timestamp::from_second(1_795_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    if let Err(diagnostics) = upkeep_domain::config::parse("fuzz.yaml", text, &env, now) {
        assert!(!diagnostics.0.is_empty());
        for diagnostic in &diagnostics.0 {
            assert!(
                diagnostic.line >= 1 && diagnostic.column >= 1,
                "{diagnostic}"
            );
        }
    }
});
