//! Client addresses behind reverse proxies: CIDR networks (`server.trusted_proxies`), the one
//! rule that picks the real client of a request from its TCP peer and `X-Forwarded-For`, and
//! the reader of PROXY protocol (v1 text and v2 binary) headers ([`proxy_header`]).
//!
//! The rule: when the peer is not inside a trusted network, the peer is the client and every
//! forwarded header is ignored (anyone can send one). When it is, the client is the right-most
//! address of `X-Forwarded-For` (all its headers, in order) that is not itself trusted: each
//! trusted proxy appends the address it received the request from, so walking from the right
//! past our own proxies reaches the first hop nobody we trust vouches beyond. When every
//! address is trusted, the left-most one is the client. An entry that is not an address ends
//! the walk at the last trusted hop, which is then the client (garbage never names a client).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is its own /32 or
/// /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Whether `ip` is inside this network. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`)
    /// counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(u32::from(ip)), 32, self.prefix) == u128::from(u32::from(net))
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask(u128::from(ip), 128, self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// `bits` (a `width`-bit number) with all but the first `prefix` bits cleared.
fn mask(bits: u128, width: u8, prefix: u8) -> u128 {
    if prefix == 0 {
        return 0;
    }
    let host_bits = u32::from(width - prefix.min(width));
    let all = if width == 128 {
        u128::MAX
    } else {
        (1u128 << width) - 1
    };
    bits & (all << host_bits) & all
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "`{text}` is not a network: write an address with a prefix length, e.g. \
                 10.0.0.0/8, 192.168.1.10/32 or fd00::/8"
            )
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let width: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= width)
                .ok_or_else(|| format!("`{text}`: the prefix length must be at most {width}"))?,
            Some(_) => return Err(bad()),
        };
        let network = match addr {
            IpAddr::V4(v4) => {
                let bits = mask(u128::from(u32::from(v4)), 32, prefix);
                // At most 32 bits remain after the mask.
                IpAddr::V4(u32::try_from(bits).unwrap_or(0).into())
            }
            IpAddr::V6(v6) => IpAddr::V6(mask(u128::from(v6), 128, prefix).into()),
        };
        if network != addr {
            return Err(format!(
                "`{text}` has host bits set: the network is {network}/{prefix}"
            ));
        }
        Ok(Cidr { network, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// Whether `ip` is inside one of `trusted`.
pub fn is_trusted(ip: IpAddr, trusted: &[Cidr]) -> bool {
    trusted.iter().any(|net| net.contains(ip))
}

/// The real client of a request whose TCP peer is `peer` and whose `X-Forwarded-For` headers
/// are `forwarded_for` (in the order received), by the rule in the module documentation.
pub fn forwarded_client<'h>(
    peer: IpAddr,
    trusted: &[Cidr],
    forwarded_for: impl IntoIterator<Item = &'h str>,
) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let entries: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let Some(ip) = parse_forwarded_address(entry) else {
            return client;
        };
        client = ip;
        if !is_trusted(ip, trusted) {
            return ip;
        }
    }
    client
}

/// One `X-Forwarded-For` entry: an address, `IPv4:port` or `[IPv6]:port`.
fn parse_forwarded_address(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (addr, _port) = rest.split_once(']')?;
        return addr
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|ip| IpAddr::V6(ip).to_canonical());
    }
    let (addr, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    addr.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// The 12-byte signature that starts a PROXY protocol v2 header.
const PROXY_V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, `\r\n` included.
const PROXY_V1_MAX: usize = 107;
/// The longest v2 address block accepted (addresses and TLVs).
const PROXY_V2_MAX_BLOCK: usize = 1024;

/// What the first bytes of a connection say as a PROXY protocol (v1 or v2) header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// More bytes are needed: at least this many more.
    NeedMore(usize),
    /// A complete header of `len` bytes, naming the client's `source` address (`None` for
    /// `LOCAL`/`UNKNOWN` connections and address families other than TCP over IPv4 or IPv6:
    /// the connection's own peer is then the client).
    Done {
        len: usize,
        source: Option<std::net::SocketAddr>,
    },
    /// Not a PROXY protocol header.
    Invalid,
}

/// Reads a PROXY protocol header from the start of `bytes` (a connection's first bytes).
pub fn proxy_header(bytes: &[u8]) -> ProxyHeader {
    if bytes.len() < 12 {
        let prefix_ok = PROXY_V2_SIGNATURE.starts_with(bytes)
            || b"PROXY ".starts_with(&bytes[..bytes.len().min(6)]);
        return if prefix_ok {
            ProxyHeader::NeedMore(12 - bytes.len())
        } else {
            ProxyHeader::Invalid
        };
    }
    if bytes.starts_with(PROXY_V2_SIGNATURE) {
        return proxy_v2(bytes);
    }
    if bytes.starts_with(b"PROXY ") {
        return proxy_v1(bytes);
    }
    ProxyHeader::Invalid
}

fn proxy_v1(bytes: &[u8]) -> ProxyHeader {
    let window = &bytes[..bytes.len().min(PROXY_V1_MAX)];
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if bytes.len() < PROXY_V1_MAX {
            ProxyHeader::NeedMore(1)
        } else {
            ProxyHeader::Invalid
        };
    };
    let len = end + 2;
    let Ok(line) = std::str::from_utf8(&bytes[..end]) else {
        return ProxyHeader::Invalid;
    };
    let fields: Vec<&str> = line.split(' ').collect();
    match fields.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::Done { len, source: None },
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let (Ok(src), Ok(_), Ok(sport), Ok(_)) = (
                src.parse::<IpAddr>(),
                dst.parse::<IpAddr>(),
                sport.parse::<u16>(),
                dport.parse::<u16>(),
            ) else {
                return ProxyHeader::Invalid;
            };
            if src.is_ipv4() != (*family == "TCP4") {
                return ProxyHeader::Invalid;
            }
            ProxyHeader::Done {
                len,
                source: Some(std::net::SocketAddr::new(src, sport)),
            }
        }
        _ => ProxyHeader::Invalid,
    }
}

fn proxy_v2(bytes: &[u8]) -> ProxyHeader {
    if bytes.len() < 16 {
        return ProxyHeader::NeedMore(16 - bytes.len());
    }
    let block = usize::from(u16::from_be_bytes([bytes[14], bytes[15]]));
    if block > PROXY_V2_MAX_BLOCK {
        return ProxyHeader::Invalid;
    }
    let len = 16 + block;
    if bytes.len() < len {
        return ProxyHeader::NeedMore(len - bytes.len());
    }
    let (version, command) = (bytes[12] >> 4, bytes[12] & 0x0f);
    if version != 2 || command > 1 {
        return ProxyHeader::Invalid;
    }
    if command == 0 {
        return ProxyHeader::Done { len, source: None };
    }
    let addresses = &bytes[16..len];
    let source = match bytes[13] {
        // TCP over IPv4: source, destination, source port, destination port.
        0x11 if addresses.len() >= 12 => {
            let ip: [u8; 4] = [addresses[0], addresses[1], addresses[2], addresses[3]];
            let port = u16::from_be_bytes([addresses[8], addresses[9]]);
            Some(std::net::SocketAddr::new(IpAddr::from(ip), port))
        }
        // TCP over IPv6.
        0x21 if addresses.len() >= 36 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&addresses[..16]);
            let port = u16::from_be_bytes([addresses[32], addresses[33]]);
            Some(std::net::SocketAddr::new(IpAddr::from(ip), port))
        }
        0x11 | 0x21 => return ProxyHeader::Invalid,
        _ => None,
    };
    ProxyHeader::Done { len, source }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<Cidr> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn proxy_headers_v1_and_v2() {
        use std::net::SocketAddr;
        let v1 = b"PROXY TCP4 198.51.100.7 10.0.0.1 56324 443\r\nGET / HTTP/1.1\r\n";
        assert_eq!(
            proxy_header(v1),
            ProxyHeader::Done {
                len: 44,
                source: Some("198.51.100.7:56324".parse::<SocketAddr>().unwrap())
            }
        );
        assert_eq!(proxy_header(&v1[..20]), ProxyHeader::NeedMore(1));
        assert_eq!(proxy_header(b"PRO"), ProxyHeader::NeedMore(9));
        assert_eq!(
            proxy_header(b"PROXY UNKNOWN\r\n"),
            ProxyHeader::Done {
                len: 15,
                source: None
            }
        );
        let v6 = b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n";
        assert_eq!(
            proxy_header(v6),
            ProxyHeader::Done {
                len: v6.len(),
                source: Some("[2001:db8::1]:1".parse::<SocketAddr>().unwrap())
            }
        );
        for bad in [
            &b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"[..],
            b"PROXY TCP4 198.51.100.7 10.0.0.1 99999 443\r\n",
            b"PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n",
            b"PROXY TCP4 junk\r\n",
            &[b'P'; 200][..],
        ] {
            assert_eq!(proxy_header(bad), ProxyHeader::Invalid, "{bad:?}");
        }
        let long = [&b"PROXY "[..], &[b'1'; 150][..]].concat();
        assert_eq!(proxy_header(&long), ProxyHeader::Invalid);

        let mut v2 = PROXY_V2_SIGNATURE.to_vec();
        v2.extend_from_slice(&[
            0x21, 0x11, 0, 12, 203, 0, 113, 9, 10, 0, 0, 1, 0xdb, 0x0c, 1, 187,
        ]);
        assert_eq!(
            proxy_header(&v2),
            ProxyHeader::Done {
                len: 28,
                source: Some("203.0.113.9:56076".parse::<SocketAddr>().unwrap())
            }
        );
        assert_eq!(proxy_header(&v2[..14]), ProxyHeader::NeedMore(2));
        assert_eq!(proxy_header(&v2[..20]), ProxyHeader::NeedMore(8));
        let mut local = PROXY_V2_SIGNATURE.to_vec();
        local.extend_from_slice(&[0x20, 0x00, 0, 0]);
        assert_eq!(
            proxy_header(&local),
            ProxyHeader::Done {
                len: 16,
                source: None
            }
        );
        let mut short = PROXY_V2_SIGNATURE.to_vec();
        short.extend_from_slice(&[0x21, 0x11, 0, 4, 1, 2, 3, 4]);
        assert_eq!(proxy_header(&short), ProxyHeader::Invalid);
        let mut huge = PROXY_V2_SIGNATURE.to_vec();
        huge.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(proxy_header(&huge), ProxyHeader::Invalid);
    }

    #[test]
    fn cidrs_parse_and_contain() {
        let net: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert_eq!(net.to_string(), "10.0.0.0/8");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("1.2.3.4")));
        let all6: Cidr = "::/0".parse().unwrap();
        assert!(all6.contains(ip("2001:db8::1")));
        for bad in [
            "",
            "10.0.0.0/33",
            "10.0.0.1/8",
            "10.0.0/8",
            "fd00::/129",
            "host",
            "10.0.0.0/",
            "10.0.0.0/-1",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn only_a_trusted_peer_is_believed() {
        let trusted = nets(&["127.0.0.1/32", "10.0.0.0/8"]);
        // Not a trusted peer: the header is ignored.
        assert_eq!(
            forwarded_client(ip("203.0.113.9"), &trusted, ["1.2.3.4"]),
            ip("203.0.113.9")
        );
        // No proxies trusted: the header is always ignored.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &[], ["1.2.3.4"]),
            ip("127.0.0.1")
        );
        // A trusted peer: the right-most untrusted entry, past our own proxies.
        assert_eq!(
            forwarded_client(
                ip("127.0.0.1"),
                &trusted,
                ["6.6.6.6, 198.51.100.7", "10.1.1.1"]
            ),
            ip("198.51.100.7"),
            "a spoofed left part does not count"
        );
        // No header: the peer.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &trusted, []),
            ip("127.0.0.1")
        );
        // Every entry trusted: the left-most.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &trusted, ["10.0.0.5, 10.0.0.6"]),
            ip("10.0.0.5")
        );
        // Garbage ends the walk at the last trusted hop.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &trusted, ["1.2.3.4, junk, 10.0.0.6"]),
            ip("10.0.0.6")
        );
        // Ports and IPv6.
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &trusted, ["198.51.100.7:5555"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            forwarded_client(ip("::ffff:127.0.0.1"), &trusted, ["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
        assert_eq!(
            forwarded_client(ip("127.0.0.1"), &trusted, ["2001:db8::2"]),
            ip("2001:db8::2")
        );
    }
}
