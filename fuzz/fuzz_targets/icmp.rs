//! Any bytes as an ICMP or ICMPv6 packet, with and without an IPv4 header: reading one as an
//! echo reply never panics, and a reply read back carries what was put in it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::icmp::{IpVersion, echo_reply, parse_echo_reply};

fuzz_target!(|bytes: &[u8]| {
    for version in [IpVersion::V4, IpVersion::V6] {
        for with_ip_header in [false, true] {
            if let Some(reply) = parse_echo_reply(version, bytes, with_ip_header) {
                let again = echo_reply(version, reply.id, reply.seq, reply.payload);
                let read = parse_echo_reply(version, &again, false);
                assert_eq!(read.map(|r| (r.id, r.seq)), Some((reply.id, reply.seq)));
            }
        }
    }
});
