//! Any text as a monitor condition: never panics, errors point at a char boundary inside the
//! text, and what parses evaluates without panicking (the text doubles as the body and the SNMP value).
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::condition::{Condition, Observation, PingStats};

fuzz_target!(|text: &str| {
    match Condition::parse(text) {
        Ok(condition) => {
            let json = serde_json::from_str(text)
                .unwrap_or_else(|_| serde_json::json!({"status": "ok", "a": {"b": [1, 2]}}));
            let observation = Observation {
                status: Some(200),
                response_time_ms: Some(12),
                body: Some(text),
                json: Some(&json),
                cert_expiry_days: Some(30),
                value: Some(text),
                pings: Some(PingStats {
                    sent: 3,
                    received: 2,
                    rtt_ms: Some((0.5, 1.0, 1.5)),
                }),
                domain_expiry_days: Some(90),
            };
            let _ = condition.evaluate(&observation);
        }
        Err(err) => assert!(text.is_char_boundary(err.offset)),
    }
});
