//! ICMP echo messages (ping, RFC 792 and RFC 4443): the request a probe sends and the reader
//! of what comes back. Pure functions over bytes; the sockets are the engine's.
//!
//! An echo message is 8 bytes of header — type, code, checksum, identifier, sequence number —
//! and the payload, which a reply carries back unchanged. Over IPv4 the sender computes the
//! checksum; over IPv6 the kernel does (it covers a pseudo-header the sender does not see),
//! so the field is left zero. A raw IPv4 socket reads the IP header before the ICMP message;
//! every other socket reads the message alone.

/// Bytes of an echo message before its payload.
pub const ECHO_HEADER_LEN: usize = 8;

/// The IP version an echo message travels over (its type numbers differ).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpVersion {
    /// ICMP for IPv4: echo request 8, echo reply 0.
    V4,
    /// ICMPv6: echo request 128, echo reply 129.
    V6,
}

impl IpVersion {
    fn request_type(self) -> u8 {
        match self {
            IpVersion::V4 => 8,
            IpVersion::V6 => 128,
        }
    }

    fn reply_type(self) -> u8 {
        match self {
            IpVersion::V4 => 0,
            IpVersion::V6 => 129,
        }
    }
}

/// An echo reply as read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EchoReply<'a> {
    /// The identifier the request carried (for ICMP datagram sockets, the one the kernel set).
    pub id: u16,
    /// The request's sequence number.
    pub seq: u16,
    /// The payload, as the request carried it.
    pub payload: &'a [u8],
}

/// An echo request with `id`, `seq` and `payload`.
pub fn echo_request(version: IpVersion, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    echo(version, version.request_type(), id, seq, payload)
}

/// An echo reply with `id`, `seq` and `payload` (what a host answers a request with).
pub fn echo_reply(version: IpVersion, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    echo(version, version.reply_type(), id, seq, payload)
}

fn echo(version: IpVersion, kind: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(ECHO_HEADER_LEN + payload.len());
    message.extend_from_slice(&[kind, 0, 0, 0]);
    message.extend_from_slice(&id.to_be_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(payload);
    if version == IpVersion::V4 {
        let sum = checksum(&message).to_be_bytes();
        message[2] = sum[0];
        message[3] = sum[1];
    }
    message
}

/// The Internet checksum (RFC 1071) of `bytes`: the ones' complement of their ones'
/// complement sum in 16-bit words (an odd last byte padded with zero). A message whose
/// checksum field is right sums to zero.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut words = bytes.chunks_exact(2);
    for word in words.by_ref() {
        sum += u32::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = words.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The folding above leaves at most 16 bits.
    !(u16::try_from(sum).unwrap_or(u16::MAX))
}

/// Reads `packet` as an echo reply; `None` for anything else (another ICMP message, a
/// truncated one, one whose IPv4 checksum is wrong, an IP header that is not ICMP's).
/// `with_ip_header`: the packet starts with an IPv4 header (raw IPv4 sockets).
pub fn parse_echo_reply(
    version: IpVersion,
    packet: &[u8],
    with_ip_header: bool,
) -> Option<EchoReply<'_>> {
    let message = if with_ip_header {
        let first = *packet.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let header_len = usize::from(first & 0x0f) * 4;
        // Protocol 1 is ICMP.
        if header_len < 20 || *packet.get(9)? != 1 {
            return None;
        }
        packet.get(header_len..)?
    } else {
        packet
    };
    if message.len() < ECHO_HEADER_LEN
        || message[0] != version.reply_type()
        || message[1] != 0
        || (version == IpVersion::V4 && checksum(message) != 0)
    {
        return None;
    }
    Some(EchoReply {
        id: u16::from_be_bytes([message[4], message[5]]),
        seq: u16::from_be_bytes([message[6], message[7]]),
        payload: &message[ECHO_HEADER_LEN..],
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn requests_carry_type_id_sequence_and_a_valid_checksum() {
        let request = echo_request(IpVersion::V4, 0x1234, 7, b"upkeep");
        assert_eq!(&request[..2], &[8, 0]);
        assert_eq!(&request[4..8], &[0x12, 0x34, 0, 7]);
        assert_eq!(&request[8..], b"upkeep");
        assert_eq!(checksum(&request), 0);
        let v6 = echo_request(IpVersion::V6, 1, 2, b"x");
        assert_eq!(&v6[..4], &[128, 0, 0, 0]);
    }

    #[test]
    fn a_known_checksum() {
        // RFC 1071's example bytes: 00 01 f2 03 f4 f5 f6 f7 sum to ddf2, so the checksum is 220d.
        assert_eq!(
            checksum(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]),
            0x220d
        );
        assert_eq!(checksum(&[0xff]), 0x00ff);
    }

    #[test]
    fn reads_replies_with_and_without_the_ip_header() {
        let reply = echo_reply(IpVersion::V4, 9, 3, b"abc");
        let read = parse_echo_reply(IpVersion::V4, &reply, false).unwrap();
        assert_eq!((read.id, read.seq, read.payload), (9, 3, &b"abc"[..]));

        let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        packet.extend_from_slice(&[127, 0, 0, 1, 127, 0, 0, 1]);
        packet.extend_from_slice(&reply);
        let read = parse_echo_reply(IpVersion::V4, &packet, true).unwrap();
        assert_eq!((read.id, read.seq), (9, 3));

        // The same bytes as UDP (protocol 17) are not ICMP.
        packet[9] = 17;
        assert_eq!(parse_echo_reply(IpVersion::V4, &packet, true), None);

        let v6 = echo_reply(IpVersion::V6, 5, 6, b"");
        assert_eq!(parse_echo_reply(IpVersion::V6, &v6, false).unwrap().seq, 6);
    }

    #[test]
    fn ignores_requests_errors_truncation_and_bad_checksums() {
        let request = echo_request(IpVersion::V4, 1, 1, b"p");
        assert_eq!(parse_echo_reply(IpVersion::V4, &request, false), None);
        let mut reply = echo_reply(IpVersion::V4, 1, 1, b"p");
        assert_eq!(parse_echo_reply(IpVersion::V4, &reply[..7], false), None);
        reply[8] ^= 0xff;
        assert_eq!(parse_echo_reply(IpVersion::V4, &reply, false), None);
        // Destination unreachable.
        let unreachable = [3, 1, 0xfc, 0xfe, 0, 0, 0, 0];
        assert_eq!(parse_echo_reply(IpVersion::V4, &unreachable, false), None);
        assert_eq!(parse_echo_reply(IpVersion::V4, &[], true), None);
        assert_eq!(parse_echo_reply(IpVersion::V4, &[0x4f, 0, 0], true), None);
    }

    proptest! {
        #[test]
        fn replies_read_back(id: u16, seq: u16, payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            for version in [IpVersion::V4, IpVersion::V6] {
                let reply = echo_reply(version, id, seq, &payload);
                let read = parse_echo_reply(version, &reply, false).unwrap();
                prop_assert_eq!((read.id, read.seq, read.payload), (id, seq, &payload[..]));
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            for version in [IpVersion::V4, IpVersion::V6] {
                let _ = parse_echo_reply(version, &bytes, true);
                let _ = parse_echo_reply(version, &bytes, false);
            }
        }
    }
}
