//! Any bytes as a gRPC health answer's body: never panics; a parsed status has a name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::grpc_health::parse_answer;

fuzz_target!(|body: &[u8]| {
    if let Ok(status) = parse_answer(body) {
        assert!(!status.name().is_empty());
    }
});
