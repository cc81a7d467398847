//! `icmp` probes (ping): resolve `host`, send `count` echo requests `packet_interval` apart and
//! wait up to `packet_timeout` for each reply; conditions see the packet loss and the round
//! trips (`[PACKET_LOSS]`, `[RTT_MIN]`, `[RTT_AVG]`, `[RTT_MAX]`; `[RESPONSE_TIME]` is the
//! mean round trip).
//!
//! The socket is an unprivileged ICMP datagram socket (`SOCK_DGRAM`/`IPPROTO_ICMP`, allowed
//! for the groups in `net.ipv4.ping_group_range`, which also governs ICMPv6), else a raw
//! socket (root or `CAP_NET_RAW`). A datagram socket's replies are sorted out by the kernel,
//! which sets the identifier to the socket's port; a raw socket sees every ICMP packet of the
//! host, so a reply counts only when it comes from the target with this check's random
//! identifier, one of its sequence numbers and its random payload. Packets are built and read
//! by `upkeep_domain::icmp`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use upkeep_domain::condition::PingStats;
use upkeep_domain::config::{IcmpCheck, IpFamily};
use upkeep_domain::icmp::{IpVersion, echo_request, parse_echo_reply};

use super::{Failure, Progress, Seen, stage};

/// Bytes read per packet: an IPv4 header with options (60) and an echo message with our
/// 16-byte payload fit many times over; anything longer is not our reply.
const RECEIVE_BUFFER: usize = 1024;

/// Which kind of socket a check got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SocketKind {
    /// `SOCK_DGRAM`: replies without the IP header, identifier set by the kernel.
    Datagram,
    /// `SOCK_RAW`: every ICMP packet of the host; IPv4 ones with their IP header.
    Raw,
}

/// "waiting for echo replies from HOST" or "resolving HOST".
pub(super) fn describe(check: &IcmpCheck, reached: u8) -> String {
    if reached >= stage::CONNECTED {
        format!(" waiting for echo replies from {}", check.host)
    } else {
        format!(" resolving {}", check.host)
    }
}

pub(super) async fn probe(check: &IcmpCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let target = resolve(check).await?;
    progress.reached(stage::CONNECTED);
    let version = match target {
        IpAddr::V4(_) => IpVersion::V4,
        IpAddr::V6(_) => IpVersion::V6,
    };
    let (socket, kind) = open(version)?;
    let shown = if check.host == target.to_string() {
        check.host.clone()
    } else {
        format!("{} ({target})", check.host)
    };
    let stats = exchange(check, &socket, kind, version, target, &shown).await?;
    let elapsed = match stats.rtt_ms {
        Some((_, avg, _)) => Duration::from_secs_f64(avg / 1000.0),
        None => started.elapsed(),
    };
    Ok(Seen {
        elapsed,
        pings: Some(stats),
        ..Seen::default()
    })
}

/// The address to ping: the literal, or the first address of the wanted family the system
/// resolver gives for the name.
async fn resolve(check: &IcmpCheck) -> Result<IpAddr, Failure> {
    let wanted = |ip: &IpAddr| match check.family {
        Some(IpFamily::V4) => ip.is_ipv4(),
        Some(IpFamily::V6) => ip.is_ipv6(),
        None => true,
    };
    let family_name = match check.family {
        Some(IpFamily::V6) => "IPv6",
        _ => "IPv4",
    };
    if let Ok(ip) = check.host.parse::<IpAddr>() {
        return if wanted(&ip) {
            Ok(ip)
        } else {
            Err(Failure::new(format!(
                "{} is not an {family_name} address (family)",
                check.host
            )))
        };
    }
    let found: Vec<IpAddr> = tokio::net::lookup_host((check.host.as_str(), 0))
        .await
        .map_err(|_| Failure::new(format!("DNS lookup of {} failed", check.host)))?
        .map(|addr| addr.ip())
        .collect();
    found.iter().copied().find(wanted).ok_or_else(|| {
        Failure::new(if found.is_empty() {
            format!("DNS lookup of {} returned no addresses", check.host)
        } else {
            format!("{} has no {family_name} address", check.host)
        })
    })
}

/// An ICMP socket for `version`: a datagram socket when this process's group may open one,
/// else a raw one; when neither opens, a failure saying what each needs.
fn open(version: IpVersion) -> Result<(UdpSocket, SocketKind), Failure> {
    let (domain, protocol, any) = match version {
        IpVersion::V4 => (
            Domain::IPV4,
            Protocol::ICMPV4,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ),
        IpVersion::V6 => (
            Domain::IPV6,
            Protocol::ICMPV6,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ),
    };
    let (socket, kind) = match Socket::new(domain, Type::DGRAM, Some(protocol)) {
        Ok(socket) => {
            // Bound now, so that the identifier (the port) is known before the first send.
            socket
                .bind(&SockAddr::from(SocketAddr::new(any, 0)))
                .map_err(|err| Failure::new(format!("cannot bind the ICMP socket: {err}")))?;
            (socket, SocketKind::Datagram)
        }
        Err(datagram) => match Socket::new(domain, Type::RAW, Some(protocol)) {
            Ok(socket) => (socket, SocketKind::Raw),
            Err(raw) => return Err(Failure::new(neither(&datagram, &raw))),
        },
    };
    socket
        .set_nonblocking(true)
        .map_err(|err| Failure::new(format!("cannot set up the ICMP socket: {err}")))?;
    let socket = UdpSocket::from_std(socket.into())
        .map_err(|err| Failure::new(format!("cannot set up the ICMP socket: {err}")))?;
    Ok((socket, kind))
}

/// Why no ICMP socket opened, in words: which permission is missing for each kind.
fn neither(datagram: &std::io::Error, raw: &std::io::Error) -> String {
    use std::os::unix::fs::MetadataExt;
    let group = std::fs::metadata("/proc/self").map(|m| m.gid()).ok();
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .ok()
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "));
    let unprivileged = match datagram.kind() {
        std::io::ErrorKind::PermissionDenied => format!(
            "unprivileged ICMP sockets are not allowed for group {} (net.ipv4.ping_group_range is \"{}\"; widen it, e.g. sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")",
            group.map_or_else(|| "?".to_owned(), |g| g.to_string()),
            range.as_deref().unwrap_or("?")
        ),
        _ => format!("unprivileged ICMP sockets are unavailable ({datagram})"),
    };
    let privileged = match raw.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "raw ICMP sockets need root or CAP_NET_RAW".to_owned()
        }
        _ => format!("raw ICMP sockets are unavailable ({raw})"),
    };
    format!("cannot ping: {unprivileged}, and {privileged}")
}

/// Sends the echo requests and collects the replies.
async fn exchange(
    check: &IcmpCheck,
    socket: &UdpSocket,
    kind: SocketKind,
    version: IpVersion,
    target: IpAddr,
    shown: &str,
) -> Result<PingStats, Failure> {
    let count = usize::try_from(check.count).unwrap_or(1).max(1);
    // The kernel sets a datagram socket's identifier to its port.
    let id = match kind {
        SocketKind::Datagram => socket.local_addr().map(|a| a.port()).unwrap_or(0),
        SocketKind::Raw => rand::random::<u16>(),
    };
    let mut payload = rand::random::<[u8; 8]>().to_vec();
    payload.extend_from_slice(b"upkeep\0\0");
    let with_ip_header = kind == SocketKind::Raw && version == IpVersion::V4;
    let destination = SocketAddr::new(target, 0);

    let mut sent_at: Vec<Instant> = Vec::with_capacity(count);
    let mut round_trips: Vec<Option<Duration>> = vec![None; count];
    let mut buffer = [0u8; RECEIVE_BUFFER];
    let start = tokio::time::Instant::now();
    loop {
        let answered = round_trips.iter().filter(|r| r.is_some()).count();
        let all_sent = sent_at.len() == count;
        if all_sent && answered == count {
            break;
        }
        let wake = match sent_at.last() {
            Some(last) if all_sent => tokio::time::Instant::from_std(*last) + check.packet_timeout,
            _ => {
                start
                    + check
                        .packet_interval
                        .saturating_mul(u32::try_from(sent_at.len()).unwrap_or(u32::MAX))
            }
        };
        tokio::select! {
            () = tokio::time::sleep_until(wake) => {
                if all_sent {
                    break;
                }
                let seq = u16::try_from(sent_at.len()).unwrap_or(u16::MAX);
                let request = echo_request(version, id, seq, &payload);
                socket
                    .send_to(&request, destination)
                    .await
                    .map_err(|err| Failure::new(send_error_text(&err, shown)))?;
                sent_at.push(Instant::now());
            }
            received = socket.recv_from(&mut buffer) => {
                let (len, from) = received.map_err(|err| {
                    Failure::new(format!("receiving echo replies from {shown} failed: {err}"))
                })?;
                let arrived = Instant::now();
                if from.ip() != target {
                    continue;
                }
                let Some(reply) = buffer.get(..len).and_then(|packet| {
                    parse_echo_reply(version, packet, with_ip_header)
                }) else {
                    continue;
                };
                let index = usize::from(reply.seq);
                if reply.id != id || reply.payload != payload.as_slice() {
                    continue;
                }
                if let (Some(sent), Some(slot)) = (sent_at.get(index), round_trips.get_mut(index)) {
                    let round_trip = arrived.saturating_duration_since(*sent);
                    if slot.is_none() && round_trip <= check.packet_timeout {
                        *slot = Some(round_trip);
                    }
                }
            }
        }
    }
    let millis: Vec<f64> = round_trips
        .iter()
        .flatten()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    let rtt_ms = (!millis.is_empty()).then(|| {
        let min = millis.iter().copied().fold(f64::INFINITY, f64::min);
        let max = millis.iter().copied().fold(0.0, f64::max);
        let avg = millis.iter().sum::<f64>() / millis.len() as f64;
        (min, avg, max)
    });
    Ok(PingStats {
        sent: u32::try_from(sent_at.len()).unwrap_or(u32::MAX),
        received: u32::try_from(millis.len()).unwrap_or(u32::MAX),
        rtt_ms,
    })
}

/// A failed send, in words.
fn send_error_text(err: &std::io::Error, shown: &str) -> String {
    use std::io::ErrorKind;
    match err.kind() {
        ErrorKind::NetworkUnreachable => format!("network unreachable for {shown}"),
        ErrorKind::HostUnreachable => format!("host unreachable: {shown}"),
        ErrorKind::PermissionDenied => {
            format!(
                "sending echo requests to {shown} is not permitted (a firewall rule on this host?)"
            )
        }
        ErrorKind::AddrNotAvailable => format!("address not available: {shown}"),
        _ => format!("sending an echo request to {shown} failed: {err}"),
    }
}
