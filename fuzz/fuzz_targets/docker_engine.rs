//! Any bytes as a Docker Engine API answer (container inspection or error body): never
//! panics; a parsed inspection keeps its status in `[BODY].State.Status` and bounded texts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::docker_engine::{MAX_OUTPUT_CHARS, error_message, parse_inspect};

fuzz_target!(|body: &[u8]| {
    if let Ok(container) = parse_inspect(body) {
        assert_eq!(container.json["State"]["Status"], container.status.as_str());
        if let Some((_, output)) = &container.last_check {
            assert!(output.chars().count() <= MAX_OUTPUT_CHARS);
        }
    }
    if let Some(message) = error_message(body) {
        assert!(message.chars().count() <= MAX_OUTPUT_CHARS);
    }
});
