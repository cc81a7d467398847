//! Any bytes as the start of a request on the public side: never panics; a plain `GET` never
//! claims more bytes than it was given, its path is a path, and reading the same bytes with
//! more after them reads the same head.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::http_head::{Head, read_head};

fuzz_target!(|bytes: &[u8]| {
    if let Head::Plain(get) = read_head(bytes) {
        assert!(get.len <= bytes.len());
        assert!(get.path.starts_with('/'));
        let mut more = bytes.to_vec();
        more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(read_head(&more), Head::Plain(get));
    }
});
