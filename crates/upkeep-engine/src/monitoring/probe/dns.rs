//! `dns` probes: ask a resolver for `name`'s records of `record_type` and, when `expected` is
//! set, require it among the answers.
//!
//! The resolver is the monitor's `resolver` (`host[:port]`, port 53 by default, over UDP with
//! TCP fallback) or the system's configuration (`/etc/resolv.conf`). Resolvers are built once
//! per address and shared, with their answer cache turned off so that every probe asks the
//! network. Names are queried as fully qualified (no search domains). Answers compare with
//! `expected` case-insensitively and regardless of a trailing dot; addresses compare as
//! addresses, and for MX and SRV the target name alone also matches.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use upkeep_domain::config::{DnsCheck, DnsRecordType};

use super::{Failure, Progress, Seen, split_host_port};

/// Resolvers kept at most; past this the cache starts over (configurations rarely name more
/// than a handful).
const MAX_RESOLVERS: usize = 64;

/// Where queries go.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum ResolverKey {
    System,
    Server(SocketAddr),
}

/// The resolvers in use, shared by clones of the prober.
#[derive(Clone, Default)]
pub(super) struct Resolvers {
    resolvers: Arc<Mutex<HashMap<ResolverKey, TokioResolver>>>,
}

impl Resolvers {
    pub(super) async fn probe(
        &self,
        check: &DnsCheck,
        _progress: &Progress,
    ) -> Result<Seen, Failure> {
        let started = Instant::now();
        let resolver_text = check.resolver.as_deref().unwrap_or("the system resolver");
        let key = match &check.resolver {
            None => ResolverKey::System,
            Some(address) => ResolverKey::Server(resolver_address(address).await?),
        };
        let resolver = self.resolver(key)?;
        let record_type = record_type(check.record_type);
        let type_name = type_name(check.record_type);
        let mut name = Name::from_utf8(&check.name)
            .map_err(|_| Failure::new(format!("DNS: `{}` is not a valid name", check.name)))?;
        name.set_fqdn(true);
        let display_name = check.name.trim_end_matches('.');

        let lookup = resolver.lookup(name, record_type).await.map_err(|err| {
            Failure::new(error_text(&err, display_name, type_name, resolver_text))
        })?;
        let elapsed = started.elapsed();
        let answers: Vec<&RData> = lookup
            .answers()
            .iter()
            .filter(|record| record.record_type() == record_type)
            .map(|record| &record.data)
            .collect();
        if answers.is_empty() {
            return Err(Failure::new(format!(
                "DNS: no {type_name} record for {display_name}"
            )));
        }
        if let Some(expected) = &check.expected
            && !answers
                .iter()
                .any(|answer| matches_expected(answer, expected))
        {
            let found: Vec<String> = answers.iter().map(|answer| answer.to_string()).collect();
            return Err(Failure::new(format!(
                "DNS: {type_name} records of {display_name} do not include `{expected}` (answers: {})",
                found.join(", ")
            )));
        }
        Ok(Seen {
            elapsed,
            ..Seen::default()
        })
    }

    fn resolver(&self, key: ResolverKey) -> Result<TokioResolver, Failure> {
        if let Ok(resolvers) = self.resolvers.lock()
            && let Some(resolver) = resolvers.get(&key)
        {
            return Ok(resolver.clone());
        }
        let resolver = build_resolver(key)?;
        if let Ok(mut resolvers) = self.resolvers.lock() {
            if resolvers.len() >= MAX_RESOLVERS {
                resolvers.clear();
            }
            resolvers.insert(key, resolver.clone());
        }
        Ok(resolver)
    }
}

fn build_resolver(key: ResolverKey) -> Result<TokioResolver, Failure> {
    let mut builder = match key {
        ResolverKey::System => TokioResolver::builder_tokio().map_err(|err| {
            Failure::new(format!(
                "DNS: cannot read the system resolver configuration: {err}"
            ))
        })?,
        ResolverKey::Server(address) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = address.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = address.port();
            let server = NameServerConfig::new(address.ip(), true, vec![udp, tcp]);
            let mut builder = TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, Vec::new(), vec![server]),
                TokioRuntimeProvider::default(),
            );
            builder.options_mut().use_hosts_file = ResolveHosts::Never;
            builder
        }
    };
    let options = builder.options_mut();
    options.cache_size = 0;
    options.ndots = 0;
    builder
        .build()
        .map_err(|err| Failure::new(format!("DNS: cannot set up the resolver: {err}")))
}

/// The socket address of a configured resolver, `host[:port]`.
async fn resolver_address(address: &str) -> Result<SocketAddr, Failure> {
    let (host, port) = split_host_port(address, 53)
        .ok_or_else(|| Failure::new(format!("DNS: bad resolver address `{address}`")))?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    tokio::net::lookup_host((host.as_str(), port))
        .await
        .ok()
        .and_then(|mut found| found.next())
        .ok_or_else(|| Failure::new(format!("DNS lookup of resolver {host} failed")))
}

fn record_type(kind: DnsRecordType) -> RecordType {
    match kind {
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Cname => RecordType::CNAME,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Ns => RecordType::NS,
        DnsRecordType::Txt => RecordType::TXT,
        DnsRecordType::Srv => RecordType::SRV,
        DnsRecordType::Caa => RecordType::CAA,
        DnsRecordType::Ptr => RecordType::PTR,
        DnsRecordType::Soa => RecordType::SOA,
    }
}

fn type_name(kind: DnsRecordType) -> &'static str {
    DnsRecordType::ALL
        .iter()
        .find(|(_, candidate)| *candidate == kind)
        .map_or("?", |(name, _)| name)
}

/// Lower case without a trailing dot.
fn normalize(text: &str) -> String {
    text.trim().trim_end_matches('.').to_lowercase()
}

/// Whether an answer is the expected one.
fn matches_expected(answer: &RData, expected: &str) -> bool {
    let wanted = normalize(expected);
    match answer {
        RData::A(a) => expected.trim().parse::<IpAddr>() == Ok(IpAddr::V4(a.0)),
        RData::AAAA(aaaa) => expected.trim().parse::<IpAddr>() == Ok(IpAddr::V6(aaaa.0)),
        RData::MX(mx) => {
            normalize(&answer.to_string()) == wanted
                || normalize(&mx.exchange.to_string()) == wanted
        }
        RData::SRV(srv) => {
            normalize(&answer.to_string()) == wanted || normalize(&srv.target.to_string()) == wanted
        }
        _ => normalize(&answer.to_string()) == wanted,
    }
}

/// A resolver error in words.
fn error_text(err: &NetError, name: &str, type_name: &str, resolver: &str) -> String {
    if err.is_nx_domain() {
        return format!("DNS: {name} does not exist (NXDOMAIN from {resolver})");
    }
    if err.is_no_records_found() {
        return format!("DNS: no {type_name} record for {name}");
    }
    match err {
        NetError::Timeout => format!("DNS: no answer from {resolver}"),
        NetError::Dns(DnsError::ResponseCode(code)) => {
            format!("DNS: {resolver} answered {code} for {name}")
        }
        NetError::Io(io) => format!("DNS: cannot reach {resolver}: {io}"),
        NetError::NoConnections => format!("DNS: cannot reach {resolver}"),
        other => format!("DNS lookup of {name} failed: {other}"),
    }
}
