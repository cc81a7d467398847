//! Any bytes as the start of a connection with a PROXY protocol header: never panics, a header
//! never claims more bytes than it was given, and asking for more is never asking for zero.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::net::{ProxyHeader, proxy_header};

fuzz_target!(|bytes: &[u8]| {
    match proxy_header(bytes) {
        ProxyHeader::Done { len, .. } => assert!(len <= bytes.len()),
        ProxyHeader::NeedMore(n) => assert!(n > 0),
        ProxyHeader::Invalid => {}
    }
});
