//! `monitors` (HTTP, TCP, DNS, TLS, PostgreSQL, MySQL, Redis, MQTT, WebSocket, SNMP, gRPC, Docker, ICMP, domain, SMTP, IMAP, SSH and push checks with their conditions) and `rules`.

use super::*;

/// The monitor kinds, in the order messages and the console list them.
pub const MONITOR_KINDS: [&str; 18] = [
    "http",
    "tcp",
    "dns",
    "tls",
    "postgres",
    "mysql",
    "redis",
    "mqtt",
    "websocket",
    "snmp",
    "grpc",
    "docker",
    "icmp",
    "domain",
    "smtp",
    "imap",
    "ssh",
    "push",
];

/// The most echo requests one `icmp` check sends.
pub const MAX_ICMP_COUNT: u32 = 100;

/// The URL schemes of each database kind.
const POSTGRES_SCHEMES: [&str; 2] = ["postgres", "postgresql"];
const MYSQL_SCHEMES: [&str; 2] = ["mysql", "mariadb"];
const REDIS_SCHEMES: [&str; 2] = ["redis", "rediss"];
const MQTT_SCHEMES: [&str; 2] = ["mqtt", "mqtts"];
const WEBSOCKET_SCHEMES: [&str; 2] = ["ws", "wss"];
const GRPC_SCHEMES: [&str; 2] = ["grpc", "grpcs"];

/// Where a `docker` monitor finds the engine unless told.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";
const SMTP_SCHEMES: [&str; 2] = ["smtp", "smtps"];
const IMAP_SCHEMES: [&str; 2] = ["imap", "imaps"];

pub(super) const HTTP_METHODS: [&str; 7] =
    ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

pub(super) const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

pub(super) fn read_http(d: &mut Decoder, node: &Node) -> Option<HttpCheck> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", Decoder::url);
    let method = f.optional(d, "method", |d, n| {
        d.parsed(n, |text| {
            let upper = text.to_ascii_uppercase();
            if HTTP_METHODS.contains(&upper.as_str()) {
                Ok(upper)
            } else {
                Err(format!(
                    "unknown HTTP method `{text}`: use {}",
                    HTTP_METHODS.join(", ")
                ))
            }
        })
    });
    let headers = f.optional(d, "headers", |d, n| d.string_map(n));
    let body = f.optional(d, "body", |d, n| d.text(n).map(str::to_owned));
    let expected_status = f.optional(d, "expected_status", |d, n| {
        d.parsed(n, |text| match text.parse::<u16>() {
            Ok(status @ 100..=599) => Ok(status),
            _ => Err(format!(
                "expected an HTTP status between 100 and 599, found `{text}`"
            )),
        })
    });
    let verify_tls = f.optional(d, "verify_tls", Decoder::bool);
    let follow_redirects = f.optional(d, "follow_redirects", Decoder::bool);
    let redirect_hosts = f.optional(d, "redirect_hosts", |d, n| {
        d.choice(n, "redirect hosts", &[("same", false), ("any", true)])
    });
    f.finish(d);
    Some(HttpCheck {
        url: url?,
        method: method.unwrap_or_else(|| "GET".to_owned()),
        headers: headers.unwrap_or_default(),
        body,
        expected_status,
        verify_tls: verify_tls.unwrap_or(true),
        follow_redirects: follow_redirects.unwrap_or(true),
        redirects_to_other_hosts: redirect_hosts.unwrap_or(false),
    })
}

pub(super) fn read_address(d: &mut Decoder, node: &Node, port_required: bool) -> Option<String> {
    d.parsed(node, |text| {
        check_host_port(text, port_required)
            .map(|()| text.to_owned())
            .map_err(|why| format!("bad address `{text}`: {why}"))
    })
}

pub(super) fn read_tcp(d: &mut Decoder, node: &Node) -> Option<TcpCheck> {
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, true));
    f.finish(d);
    Some(TcpCheck { address: address? })
}

pub(super) fn read_dns(d: &mut Decoder, node: &Node) -> Option<DnsCheck> {
    let mut f = d.fields(node)?;
    let name = f.required(d, "name", Decoder::string);
    let record_type = f.optional(d, "record_type", |d, n| {
        d.parsed(n, |text| {
            let upper = text.to_ascii_uppercase();
            DnsRecordType::ALL
                .iter()
                .find(|(name, _)| *name == upper)
                .map(|(_, kind)| *kind)
                .ok_or_else(|| {
                    let names: Vec<&str> = DnsRecordType::ALL.iter().map(|(n, _)| *n).collect();
                    format!("unknown DNS record type `{text}`: use {}", names.join(", "))
                })
        })
    });
    let expected = f.optional(d, "expected", Decoder::string);
    let resolver = f.optional(d, "resolver", |d, n| read_address(d, n, false));
    f.finish(d);
    Some(DnsCheck {
        name: name?,
        record_type: record_type.unwrap_or(DnsRecordType::A),
        expected,
        resolver,
    })
}

pub(super) fn read_tls(d: &mut Decoder, node: &Node) -> Option<TlsCheck> {
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, false));
    let server_name = f.optional(d, "server_name", Decoder::string);
    f.finish(d);
    let address = address?;
    let has_port = has_port(&address);
    let host = if has_port {
        address
            .rsplit_once(':')
            .map_or(address.as_str(), |(host, _)| host)
    } else {
        address.as_str()
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    Some(TlsCheck {
        server_name: server_name.unwrap_or(host),
        address: if has_port {
            address
        } else {
            format!("{address}:443")
        },
    })
}

/// Whether `host[:port]` (IPv6 in brackets) has its port.
fn has_port(address: &str) -> bool {
    match address.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => address.contains(':'),
    }
}

/// `snmp:`: `address` (port 161 by default), `oid` (one or a list), and either `community`
/// (SNMPv2c) or `user` (SNMPv3) with its keys; each secret written (usually `${VAR}`) or in a
/// file (`*_file`), never quoted in a problem.
pub(super) fn read_snmp(d: &mut Decoder, node: &Node) -> Option<SnmpCheck> {
    use crate::snmp::{AuthProtocol, Oid, usm::MIN_PASSWORD_LEN};
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, false));
    let read_oid = |d: &mut Decoder, n: &Node| d.parsed(n, Oid::parse);
    let oids = f.required(d, "oid", |d, n| match &n.kind {
        NodeKind::Sequence(_) => {
            let oids = d.list(n, read_oid)?;
            if oids.is_empty() || oids.len() > SnmpCheck::MAX_OIDS {
                d.error(
                    n.pos,
                    format!("`oid` lists 1 to {} OIDs", SnmpCheck::MAX_OIDS),
                );
                return None;
            }
            Some(oids)
        }
        _ => read_oid(d, n).map(|oid| vec![oid]),
    });
    let community = read_secret(d, &mut f, "community", "community_file", 1);
    let user = f.optional(d, "user", Decoder::string);
    let auth_protocol = f.optional(d, "auth_protocol", |d, n| {
        d.choice(n, "authentication protocol", &AuthProtocol::NAMES)
    });
    let auth_key = read_secret(d, &mut f, "auth_key", "auth_key_file", MIN_PASSWORD_LEN);
    let priv_protocol = f.optional(d, "priv_protocol", |d, n| {
        d.choice(n, "privacy protocol", &[("aes", ()), ("aes128", ())])
    });
    let priv_key = read_secret(d, &mut f, "priv_key", "priv_key_file", MIN_PASSWORD_LEN);
    let context = f.optional(d, "context", Decoder::string);
    let v3_only = [
        "auth_protocol",
        "auth_key",
        "auth_key_file",
        "priv_protocol",
        "priv_key",
        "priv_key_file",
        "context",
    ]
    .into_iter()
    .find_map(|key| f.key_pos(key).map(|pos| (key, pos)));
    let has_community = f.has("community") || f.has("community_file");
    let has_user = f.has("user");
    let pos = f.pos;
    f.finish(d);
    let (community, auth_key, priv_key) = (community?, auth_key?, priv_key?);
    let security = match (has_community, has_user) {
        (true, true) => {
            d.error(
                pos,
                "`community` (SNMPv2c) and `user` (SNMPv3) exclude each other",
            );
            return None;
        }
        (false, false) => {
            d.error(
                pos,
                "an snmp monitor needs `community` or `community_file` (SNMPv2c) or `user` (SNMPv3); there is no default community",
            );
            return None;
        }
        (true, false) => {
            if let Some((key, pos)) = v3_only {
                d.error(
                    pos,
                    format!("`{key}` is for SNMPv3 (`user`), not a community"),
                );
                return None;
            }
            SnmpSecurity::V2c {
                community: community?,
            }
        }
        (false, true) => {
            let auth = match (auth_protocol, auth_key) {
                (Some(protocol), Some(key)) => Some((protocol, key)),
                (None, None) => None,
                (None, Some(_)) => {
                    d.error(pos, "`auth_key` needs `auth_protocol`: sha or sha256");
                    return None;
                }
                (Some(_), None) => {
                    d.error(pos, "`auth_protocol` needs `auth_key` or `auth_key_file`");
                    return None;
                }
            };
            if priv_key.is_some() && auth.is_none() {
                d.error(pos, "`priv_key` needs `auth_key`: SNMPv3 encrypts only authenticated messages (authPriv)");
                return None;
            }
            if priv_protocol.is_some() && priv_key.is_none() {
                d.error(pos, "`priv_protocol` needs `priv_key` or `priv_key_file`");
                return None;
            }
            SnmpSecurity::V3(SnmpUser {
                name: user?,
                auth,
                privacy: priv_key,
                context: context.unwrap_or_default(),
            })
        }
    };
    let address = address?;
    Some(SnmpCheck {
        address: if has_port(&address) {
            address
        } else {
            format!("{address}:161")
        },
        oids: oids?,
        security,
    })
}

/// A secret written under `key` or in a file named under `file_key` (exclusive): `Some(None)`
/// when neither is there, `None` after a problem. A written value shorter than `min_len` is
/// refused without being quoted.
fn read_secret(
    d: &mut Decoder,
    f: &mut Fields<'_>,
    key: &'static str,
    file_key: &'static str,
    min_len: usize,
) -> Option<Option<Secret>> {
    let written = f.key_pos(key);
    let filed = f.key_pos(file_key);
    let value = f.get(key);
    let file = f.get(file_key);
    match (written, filed) {
        (Some(_), Some(pos)) => {
            d.error(pos, format!("`{key}` and `{file_key}` exclude each other"));
            None
        }
        (Some(pos), None) => {
            let Some(node) = value else {
                d.error(pos, format!("`{key}` needs a value"));
                return None;
            };
            let text = d.text(node)?;
            if text.len() < min_len {
                d.error(
                    node.pos,
                    format!("`{key}` is too short: at least {min_len} characters"),
                );
                return None;
            }
            Some(Some(Secret::Value(text.to_owned())))
        }
        (None, Some(pos)) => {
            let Some(node) = file else {
                d.error(pos, format!("`{file_key}` needs a value"));
                return None;
            };
            d.string(node).map(|path| Some(Secret::File(path.into())))
        }
        (None, None) => Some(None),
    }
}

/// `postgres:`, `mysql:` or `redis:` (`kind`). The URL may hold a password, so a problem with
/// it never quotes it; `password` and `password_file` exclude each other.
pub(super) fn read_database(d: &mut Decoder, node: &Node, kind: &str) -> Option<DatabaseCheck> {
    let mut f = d.fields(node)?;
    let check = read_server(d, &mut f, kind);
    f.finish(d);
    check
}

/// `mqtt:`: a broker read like a database server (`topic` as its question), and `payload`.
pub(super) fn read_mqtt(d: &mut Decoder, node: &Node) -> Option<MqttCheck> {
    let mut f = d.fields(node)?;
    let server = read_server(d, &mut f, "mqtt");
    let payload = f.optional(d, "payload", Decoder::string);
    let orphan = f
        .key_pos("payload")
        .filter(|_| server.as_ref().is_some_and(|s| s.query.is_none()));
    f.finish(d);
    if let Some(pos) = orphan {
        d.error(pos, "`payload` needs a `topic` to publish it on");
        return None;
    }
    Some(MqttCheck {
        server: server?,
        payload,
    })
}

/// `websocket:`: `url` (`ws://` or `wss://`) and an optional `message`.
pub(super) fn read_websocket(d: &mut Decoder, node: &Node) -> Option<WebsocketCheck> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", |d, n| {
        d.parsed(n, |text| {
            super::super::decode::check_url(text, &WEBSOCKET_SCHEMES).map(|()| text.to_owned())
        })
    });
    let message = f.optional(d, "message", Decoder::string);
    f.finish(d);
    Some(WebsocketCheck { url: url?, message })
}

/// `grpc:`: `url` (`grpc://HOST:PORT` or `grpcs://HOST[:PORT]`, no path), `service`,
/// `ca_file` (TLS only), `metadata` and `metadata_files`. No problem quotes a metadata value.
pub(super) fn read_grpc(d: &mut Decoder, node: &Node) -> Option<GrpcCheck> {
    let mut f = d.fields(node)?;
    let url = f.required(d, "url", |d, n| {
        d.parsed(n, |text| {
            // `check_grpc_url` refuses a user or password, so the URL may be quoted.
            super::super::decode::check_url(text, &GRPC_SCHEMES)
                .and_then(|()| check_grpc_url(text))
                .map(|()| text.to_owned())
        })
    });
    let service = f.optional(d, "service", Decoder::string);
    let ca_file = f.optional(d, "ca_file", |d, n| {
        d.string(n).map(std::path::PathBuf::from)
    });
    let ca_pos = f.key_pos("ca_file");
    let metadata = f.optional(d, "metadata", |d, n| {
        let map = d.string_map(n)?;
        let mut ok = check_metadata_names(d, n, map.keys());
        for (name, value) in &map {
            if !value.bytes().all(|b| (0x20..0x7f).contains(&b)) {
                d.error(
                    n.pos,
                    format!("the value of metadata `{name}` must be printable ASCII"),
                );
                ok = false;
            }
        }
        ok.then_some(map)
    });
    let metadata_files = f.optional(d, "metadata_files", |d, n| {
        let map = d.string_map(n)?;
        check_metadata_names(d, n, map.keys()).then(|| {
            map.into_iter()
                .map(|(name, path)| (name, std::path::PathBuf::from(path)))
                .collect::<BTreeMap<_, _>>()
        })
    });
    let both_pos = f.key_pos("metadata_files");
    f.finish(d);
    let url = url?;
    if let Some(pos) = ca_pos.filter(|_| url.starts_with("grpc://")) {
        d.error(pos, "`ca_file` needs TLS: use a grpcs:// URL");
        return None;
    }
    let mut metadata: BTreeMap<String, Secret> = metadata
        .unwrap_or_default()
        .into_iter()
        .map(|(name, value)| (name, Secret::Value(value)))
        .collect();
    for (name, path) in metadata_files.unwrap_or_default() {
        if metadata.contains_key(&name) {
            d.error(
                both_pos.unwrap_or(node.pos),
                format!("metadata `{name}` is in both `metadata` and `metadata_files`"),
            );
            return None;
        }
        metadata.insert(name, Secret::File(path));
    }
    Some(GrpcCheck {
        url,
        service: service.unwrap_or_default(),
        ca_file,
        metadata,
    })
}

/// A gRPC URL names a server only: no path, query or user, and `grpc://` needs its port.
fn check_grpc_url(text: &str) -> Result<(), String> {
    let bad = |why: &str| format!("bad URL `{text}`: {why}");
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(bad("a gRPC URL names the server only, without a path"));
    }
    if rest.contains('@') {
        return Err(bad("put credentials in `metadata`, not in the URL"));
    }
    let has_port = match rest.strip_prefix('[') {
        Some(v6) => v6.contains("]:"),
        None => rest.contains(':'),
    };
    if scheme == "grpc" && !has_port {
        return Err(bad("give the port: grpc://HOST:PORT"));
    }
    Ok(())
}

/// gRPC metadata names: lower case letters, digits, `-`, `_` and `.`, not reserved by the
/// protocol (`grpc-…`, `content-type`, `te`, `user-agent`) and not binary (`…-bin`).
fn check_metadata_names<'a>(
    d: &mut Decoder,
    node: &Node,
    names: impl Iterator<Item = &'a String>,
) -> bool {
    let mut ok = true;
    for name in names {
        let why = if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            Some("use lower case letters, digits, `-`, `_` and `.`")
        } else if name.starts_with("grpc-")
            || ["content-type", "te", "user-agent"].contains(&name.as_str())
        {
            Some("the protocol itself sets it")
        } else if name.ends_with("-bin") {
            Some("binary metadata is not supported")
        } else {
            None
        };
        if let Some(why) = why {
            d.error(node.pos, format!("bad metadata name `{name}`: {why}"));
            ok = false;
        }
    }
    ok
}

/// `docker:`: `container` (a name or id) and `host` (`unix:///PATH`, a bare absolute path, or
/// `tcp://HOST:PORT`; default [`DEFAULT_DOCKER_HOST`]).
pub(super) fn read_docker(d: &mut Decoder, node: &Node) -> Option<DockerCheck> {
    let mut f = d.fields(node)?;
    let container = f.required(d, "container", |d, n| {
        d.parsed(n, |text| {
            let mut bytes = text.bytes();
            let valid = bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
                && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && text.len() <= 255;
            if valid {
                Ok(text.to_owned())
            } else {
                Err(format!(
                    "bad container `{text}`: a Docker name or id starts with a letter or digit \
                     followed by letters, digits, `_`, `.` or `-`"
                ))
            }
        })
    });
    let host = f.optional(d, "host", |d, n| d.parsed(n, parse_docker_host));
    f.finish(d);
    Some(DockerCheck {
        container: container?,
        host: match host {
            Some(host) => host,
            None => parse_docker_host(DEFAULT_DOCKER_HOST).ok()?,
        },
    })
}

/// `unix:///PATH`, `/PATH` or `tcp://HOST:PORT`.
fn parse_docker_host(text: &str) -> Result<DockerHost, String> {
    let bad = |why: &str| format!("bad Docker host `{text}`: {why}");
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("it contains spaces or control characters"));
    }
    let path = text.strip_prefix("unix://").unwrap_or(text);
    if path.starts_with('/') {
        return Ok(DockerHost::Unix(std::path::PathBuf::from(path)));
    }
    if let Some(address) = text.strip_prefix("tcp://") {
        let address = address.strip_suffix('/').unwrap_or(address);
        return check_host_port(address, true)
            .map(|()| DockerHost::Tcp(address.to_owned()))
            .map_err(|why| bad(&why));
    }
    Err(bad(
        "use unix:///PATH (the socket, as in DOCKER_HOST) or tcp://HOST:PORT",
    ))
}

/// `icmp:`: `host` (a name or an address), `count`, `packet_interval`, `packet_timeout` and
/// `family`.
pub(super) fn read_icmp(d: &mut Decoder, node: &Node) -> Option<IcmpCheck> {
    let mut f = d.fields(node)?;
    let host = f.required(d, "host", |d, n| d.parsed(n, check_ping_host));
    let count = f.optional(d, "count", |d, n| {
        let count = d.integer::<u32>(n)?;
        if (1..=MAX_ICMP_COUNT).contains(&count) {
            Some(count)
        } else {
            d.error(
                n.pos,
                format!("`count` must be between 1 and {MAX_ICMP_COUNT}, found {count}"),
            );
            None
        }
    });
    let packet_interval = f.optional(d, "packet_interval", positive_duration);
    let packet_timeout = f.optional(d, "packet_timeout", positive_duration);
    let family = f.optional(d, "family", |d, n| {
        d.choice(
            n,
            "address family",
            &[("ipv4", IpFamily::V4), ("ipv6", IpFamily::V6)],
        )
    });
    f.finish(d);
    Some(IcmpCheck {
        host: host?,
        count: count.unwrap_or(3),
        packet_interval: packet_interval.unwrap_or(Duration::from_millis(200)),
        packet_timeout: packet_timeout.unwrap_or(Duration::from_secs(1)),
        family,
    })
}

/// A host to ping: an IPv4 or IPv6 address (brackets allowed) or a host name.
fn check_ping_host(text: &str) -> Result<String, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if bare.parse::<std::net::IpAddr>().is_ok() {
        return Ok(bare.to_owned());
    }
    let name = bare.strip_suffix('.').unwrap_or(bare);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if name.is_empty() || name.len() > 253 || !name.split('.').all(label_ok) {
        return Err(format!(
            "bad host `{text}`: expected a host name or an IP address (no port)"
        ));
    }
    Ok(name.to_owned())
}

/// `domain:`: `name` (the registered domain), and optionally `rdap_server` or
/// `bootstrap_file`, and `refresh`.
pub(super) fn read_domain(d: &mut Decoder, node: &Node) -> Option<DomainCheck> {
    let mut f = d.fields(node)?;
    let name = f.required(d, "name", |d, n| d.parsed(n, crate::rdap::normalize_domain));
    let rdap_server = f.optional(d, "rdap_server", Decoder::url);
    let bootstrap_file = f.optional(d, "bootstrap_file", |d, n| {
        d.string(n).map(std::path::PathBuf::from)
    });
    let refresh = f.optional(d, "refresh", positive_duration);
    let both = f.key_pos("bootstrap_file").filter(|_| f.has("rdap_server"));
    f.finish(d);
    if let Some(pos) = both {
        d.error(
            pos,
            "`rdap_server` and `bootstrap_file` exclude each other: the server is asked directly",
        );
        return None;
    }
    Some(DomainCheck {
        name: name?,
        rdap_server: rdap_server.map(|url| url.trim_end_matches('/').to_owned()),
        bootstrap_file,
        refresh: refresh.unwrap_or(Duration::from_secs(6 * 3600)),
    })
}

/// `smtp:` or `imap:` (`kind`): `url`, `starttls` (plain URLs only) and `ca_file`.
pub(super) fn read_mail(d: &mut Decoder, node: &Node, kind: &str) -> Option<MailCheck> {
    let mut f = d.fields(node)?;
    let schemes = if kind == "smtp" {
        &SMTP_SCHEMES
    } else {
        &IMAP_SCHEMES
    };
    let url = f.required(d, "url", |d, n| {
        d.parsed(n, |text| {
            super::super::decode::check_url(text, schemes)?;
            let authority = text
                .split_once("://")
                .map_or("", |(_, rest)| rest)
                .split(['/', '?', '#'])
                .next()
                .unwrap_or("");
            if authority.contains('@') {
                return Err(format!(
                    "bad URL `{}`: it takes no user: the {kind} probe does not log in",
                    hide_password(text)
                ));
            }
            Ok(text.to_owned())
        })
    });
    let starttls = f.optional(d, "starttls", |d, n| {
        d.choice(
            n,
            "STARTTLS choice",
            &[
                ("required", StartTls::Required),
                ("if_offered", StartTls::IfOffered),
                ("never", StartTls::Never),
            ],
        )
    });
    let ca_file = f.optional(d, "ca_file", super::notifications::read_pem_path);
    let starttls_pos = f.key_pos("starttls");
    f.finish(d);
    let url = url?;
    let implicit = url.starts_with(&format!("{}://", schemes[1]));
    if implicit && let Some(pos) = starttls_pos {
        d.error(
            pos,
            format!(
                "`starttls` applies to {}:// only: {}:// is TLS from the first byte",
                schemes[0], schemes[1]
            ),
        );
        return None;
    }
    Some(MailCheck {
        url,
        starttls: if implicit {
            StartTls::Never
        } else {
            starttls.unwrap_or(StartTls::IfOffered)
        },
        ca_file,
    })
}

/// `ssh:`: `address`, `host_key`, and for a command `user`, one of `private_key_file`,
/// `password` and `password_file`, and `command`. A command is run only on a server whose key
/// is pinned.
pub(super) fn read_ssh(d: &mut Decoder, node: &Node) -> Option<SshCheck> {
    let mut f = d.fields(node)?;
    let address = f.required(d, "address", |d, n| read_address(d, n, false));
    let host_key = f.optional(d, "host_key", |d, n| {
        d.parsed(n, |text| {
            let digest = text.strip_prefix("SHA256:").unwrap_or("");
            let base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
            if digest.len() == 43 && digest.chars().all(base64) {
                Ok(text.to_owned())
            } else {
                Err(format!(
                    "bad host key fingerprint `{text}`: write it as `ssh-keygen -lf KEY.pub` \
                     prints it, SHA256: and 43 characters of base64"
                ))
            }
        })
    });
    let user = f.optional(d, "user", Decoder::string);
    let private_key_file = f.optional(d, "private_key_file", |d, n| {
        d.string(n).map(std::path::PathBuf::from)
    });
    let password = read_secret(d, &mut f, "password", "password_file", 1);
    let command = f.optional(d, "command", |d, n| {
        d.parsed(n, |text| {
            if text.trim().is_empty() {
                Err(
                    "`command` is empty: leave it out to read the server's identification only"
                        .to_owned(),
                )
            } else {
                Ok(text.to_owned())
            }
        })
    });
    let pos = f.pos;
    let login_keys: Vec<&str> = ["user", "private_key_file", "password", "password_file"]
        .into_iter()
        .filter(|key| f.has(key))
        .collect();
    let secrets = ["private_key_file", "password", "password_file"]
        .into_iter()
        .filter(|key| f.has(key))
        .count();
    let has_command = f.has("command");
    let has_host_key = f.has("host_key");
    f.finish(d);
    let password = password?;
    if !has_command && !login_keys.is_empty() {
        d.error(
            pos,
            format!(
                "`{}` is for running a `command`; without one the probe does not log in",
                login_keys.join("`, `")
            ),
        );
        return None;
    }
    if has_command {
        let mut missing = Vec::new();
        if !has_host_key {
            missing.push(
                "`host_key` (the server's fingerprint: a command runs only on a pinned server)",
            );
        }
        if !login_keys.contains(&"user") {
            missing.push("`user`");
        }
        if secrets == 0 {
            missing.push("one of `private_key_file`, `password` and `password_file`");
        }
        if !missing.is_empty() {
            d.error(
                pos,
                format!("an ssh `command` needs {}", missing.join(", ")),
            );
            return None;
        }
        if secrets > 1 {
            d.error(
                pos,
                "`private_key_file`, `password` and `password_file` exclude each other",
            );
            return None;
        }
    }
    let address = address?;
    let address = match address.strip_prefix('[') {
        Some(v6) if v6.contains("]:") => address,
        Some(_) => format!("{address}:22"),
        None if address.matches(':').count() == 1 => address,
        // A bare IPv6 address has several colons and no port.
        None if address.contains(':') => format!("[{address}]:22"),
        None => format!("{address}:22"),
    };
    Some(SshCheck {
        address,
        host_key,
        user,
        private_key_file,
        password,
        command,
    })
}

/// The keys database kinds and `mqtt` share: `url`, `password`, `password_file` and the
/// question (`query`, `command` or `topic`).
fn read_server(d: &mut Decoder, f: &mut Fields<'_>, kind: &str) -> Option<DatabaseCheck> {
    let (schemes, question): (&[&str], &'static str) = match kind {
        "postgres" => (&POSTGRES_SCHEMES, "query"),
        "mysql" => (&MYSQL_SCHEMES, "query"),
        "mqtt" => (&MQTT_SCHEMES, "topic"),
        _ => (&REDIS_SCHEMES, "command"),
    };
    let url = f.required(d, "url", |d, n| {
        d.parsed(n, |text| {
            super::super::decode::check_url(text, schemes)
                .map(|()| text.to_owned())
                .map_err(|why| {
                    why.replace(&format!("`{text}`"), &format!("`{}`", hide_password(text)))
                })
        })
    });
    let password = f.optional(d, "password", Decoder::string);
    let password_file = f.optional(d, "password_file", |d, n| {
        d.string(n).map(std::path::PathBuf::from)
    });
    let query = f.optional(d, question, |d, n| {
        d.parsed(n, |text| {
            if text.trim().is_empty() {
                Err(format!(
                    "`{question}` is empty: leave it out to only log in"
                ))
            } else {
                Ok(text.to_owned())
            }
        })
    });
    let both = f.key_pos("password_file").filter(|_| f.has("password"));
    if let Some(pos) = both {
        d.error(pos, "`password` and `password_file` exclude each other");
        return None;
    }
    Some(DatabaseCheck {
        url: url?,
        password,
        password_file,
        query,
    })
}

pub(super) fn read_condition(d: &mut Decoder, node: &Node) -> Option<Condition> {
    let text = d.text(node)?;
    match Condition::parse(text) {
        Ok(condition) => Some(condition),
        Err(err) => {
            d.error(
                node.pos_in_text(err.offset),
                format!("bad condition: {}", err.message),
            );
            None
        }
    }
}

/// `locations:` — distinct location names (ids: agents name theirs with `--location`), at least
/// one; `server` is the server itself.
fn read_locations(d: &mut Decoder, node: &Node) -> Option<Vec<String>> {
    let NodeKind::Sequence(items) = &node.kind else {
        d.error(
            node.pos,
            format!("expected a list of locations, found {}", describe(node)),
        );
        return None;
    };
    if items.is_empty() {
        d.error(
            node.pos,
            "`locations` needs at least one location (leave it out to probe from the server alone)",
        );
        return None;
    }
    let mut seen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let name = d.string(item)?;
        if !d.check_id(&name, item.pos) {
            return None;
        }
        if seen.contains(&name) {
            d.error(item.pos, format!("location `{name}` is listed twice"));
            return None;
        }
        seen.push(name);
    }
    Some(seen)
}

impl Sections {
    pub(super) fn monitor(&mut self, d: &mut Decoder, node: &Node) -> Option<Monitor> {
        let mut f = d.fields(node)?;
        let component = f.required(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        let kind =
            one_kind(d, &mut f, "a monitor", &MONITOR_KINDS).and_then(|(kind, n, _)| match kind {
                "http" => read_http(d, n).map(MonitorKind::Http),
                "tcp" => read_tcp(d, n).map(MonitorKind::Tcp),
                "dns" => read_dns(d, n).map(MonitorKind::Dns),
                "tls" => read_tls(d, n).map(MonitorKind::Tls),
                "postgres" => read_database(d, n, kind).map(MonitorKind::Postgres),
                "mysql" => read_database(d, n, kind).map(MonitorKind::Mysql),
                "redis" => read_database(d, n, kind).map(MonitorKind::Redis),
                "mqtt" => read_mqtt(d, n).map(MonitorKind::Mqtt),
                "websocket" => read_websocket(d, n).map(MonitorKind::Websocket),
                "snmp" => read_snmp(d, n).map(MonitorKind::Snmp),
                "grpc" => read_grpc(d, n).map(MonitorKind::Grpc),
                "docker" => read_docker(d, n).map(MonitorKind::Docker),
                "icmp" => read_icmp(d, n).map(MonitorKind::Icmp),
                "domain" => read_domain(d, n).map(MonitorKind::Domain),
                "smtp" => read_mail(d, n, kind).map(MonitorKind::Smtp),
                "imap" => read_mail(d, n, kind).map(MonitorKind::Imap),
                "ssh" => read_ssh(d, n).map(MonitorKind::Ssh),
                _ => self.push(d, n).map(MonitorKind::Push),
            });
        let interval = f.optional(d, "interval", positive_duration);
        let timeout = f.optional(d, "timeout", positive_duration);
        let conditions = f.optional(d, "conditions", |d, n| d.list(n, read_condition));
        let failure_threshold = f.optional(d, "failure_threshold", positive_count);
        let recovery_threshold = f.optional(d, "recovery_threshold", positive_count);
        let locations = f.optional(d, "locations", read_locations);
        let quorum = f
            .get("quorum")
            .and_then(|n| positive_count(d, n).map(|q| (q, n.pos)));
        let severity = f.optional(d, "severity", read_severity);
        let pos = f.pos;
        f.finish(d);
        let timeout = timeout.unwrap_or(Duration::from_secs(10));
        if let Some(MonitorKind::Icmp(icmp)) = &kind {
            let needed = icmp
                .packet_interval
                .saturating_mul(icmp.count.saturating_sub(1))
                + icmp.packet_timeout;
            if needed > timeout {
                d.error(
                    pos,
                    format!(
                        "the echo requests need up to {} ((count - 1) x packet_interval + packet_timeout) but the monitor's timeout is {}: raise `timeout` or lower `count`",
                        crate::duration::format_duration(needed),
                        crate::duration::format_duration(timeout)
                    ),
                );
                return None;
            }
        }
        let locations = locations.unwrap_or_else(|| vec![SERVER_LOCATION.to_owned()]);
        let quorum = match quorum {
            None => locations.len() / 2 + 1,
            Some((q, qpos)) => {
                let q = usize::try_from(q).unwrap_or(usize::MAX);
                if q > locations.len() {
                    d.error(
                        qpos,
                        format!(
                            "quorum {q} is more than the monitor's {} location(s): a round could never fail",
                            locations.len()
                        ),
                    );
                    return None;
                }
                q
            }
        };
        if matches!(kind, Some(MonitorKind::Push(_))) && locations.as_slice() != [SERVER_LOCATION] {
            d.error(
                pos,
                "a push monitor is judged on the pings the server receives: it takes no `locations`",
            );
            return None;
        }
        Some(Monitor {
            component: component?,
            kind: kind?,
            interval: interval.unwrap_or(Duration::from_secs(60)),
            timeout,
            conditions: conditions.unwrap_or_default(),
            failure_threshold: failure_threshold.unwrap_or(3),
            recovery_threshold: recovery_threshold.unwrap_or(1),
            locations,
            quorum,
            severity: severity.unwrap_or(Severity::Critical),
            tenant: None,
        })
    }

    pub(super) fn push(&mut self, d: &mut Decoder, node: &Node) -> Option<PushCheck> {
        let mut f = d.fields(node)?;
        let key = f.required(d, "key", |d, n| self.push_key(d, n));
        let period = f.optional(d, "period", positive_duration);
        let cron = f.optional(d, "cron", |d, n| {
            d.parsed(n, |expr| {
                parse_cron(expr)
                    .map(|_| expr.to_owned())
                    .map_err(|err| format!("bad cron expression `{expr}`: {err}"))
            })
        });
        let zone = f.optional(d, "timezone", Decoder::zone);
        let grace = f
            .optional(d, "grace", Decoder::duration)
            .unwrap_or(DEFAULT_GRACE);
        let has_period = f.has("period");
        let has_cron = f.has("cron");
        let pos = f.pos;
        f.finish(d);
        let schedule = match (has_period, has_cron) {
            (true, true) => {
                d.error(pos, "a push monitor has `period` or `cron`, not both");
                return None;
            }
            (false, false) => {
                d.error(
                    pos,
                    "a push monitor needs `period` (e.g. 1d) or `cron` (e.g. \"0 2 * * *\")",
                );
                return None;
            }
            (true, false) => PushSchedule::Period {
                period: period?,
                grace,
            },
            (false, true) => {
                let (timezone, timezone_name) = self.zone_or_default(zone);
                PushSchedule::Cron {
                    expr: cron?,
                    timezone,
                    timezone_name,
                    grace,
                }
            }
        };
        Some(PushCheck {
            key: key?,
            schedule,
        })
    }

    pub(super) fn push_key(&mut self, d: &mut Decoder, node: &Node) -> Option<String> {
        let key = d.string(node)?;
        if !d.check_id(&key, node.pos) {
            return None;
        }
        self.push_keys.push((key.clone(), node.pos));
        Some(key)
    }

    pub(super) fn rule(&mut self, d: &mut Decoder, node: &Node) -> Option<Rule> {
        let mut f = d.fields(node)?;
        let name = f.required(d, "name", Decoder::string);
        let scrape = f.required(d, "scrape", Decoder::url);
        let interval = f.optional(d, "interval", positive_duration);
        let expr = f.required(d, "expr", |d, n| {
            let text = d.text(n)?;
            match RuleExpr::parse(text) {
                Ok(expr) => Some(expr),
                Err(err) => {
                    d.error(
                        n.pos_in_text(err.offset),
                        format!("bad rule expression: {}", err.message),
                    );
                    None
                }
            }
        });
        let for_duration = f.optional(d, "for", Decoder::duration);
        let severity = f.required(d, "severity", read_severity);
        let component = f.required(d, "component", |d, n| self.id_ref(d, n, IdKind::Component));
        f.finish(d);
        Some(Rule {
            name: name?,
            scrape: scrape?,
            interval: interval.unwrap_or(Duration::from_secs(30)),
            expr: expr?,
            for_duration: for_duration.unwrap_or(Duration::ZERO),
            severity: severity?,
            component: component?,
        })
    }
}
