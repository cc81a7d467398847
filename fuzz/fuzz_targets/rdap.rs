//! Any text as an RDAP bootstrap file and as an RDAP domain answer: never panics; a server
//! found for a domain is an http(s) URL; statuses stay within their bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::rdap::{
    MAX_STATUS_CHARS, MAX_STATUSES, normalize_domain, parse_bootstrap, parse_domain,
};

fuzz_target!(|text: &str| {
    if let Ok(bootstrap) = parse_bootstrap(text) {
        for name in ["example.com", "a.b.co.uk", "x"] {
            if let Some(url) = bootstrap.server_for(name) {
                assert!(url.starts_with("https://") || url.starts_with("http://"));
            }
        }
    }
    if let Ok(registration) = parse_domain(text.as_bytes()) {
        assert!(registration.status.len() <= MAX_STATUSES);
        assert!(registration
            .status
            .iter()
            .all(|s| s.chars().count() <= MAX_STATUS_CHARS));
    }
    if let Ok(name) = normalize_domain(text) {
        assert_eq!(normalize_domain(&name), Ok(name.clone()));
    }
});
