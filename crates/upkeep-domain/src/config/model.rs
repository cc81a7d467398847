//! The validated configuration model: what the rest of upkeep reads once [`super::parse`] has
//! accepted a file. Every reference between sections (monitor → component, tenant → region,
//! route → channel, ...) has been checked, every duration, zone, rule and expression parsed.
//! Defaults are filled in here, so consumers never see an absent optional with a default.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::business_hours::BusinessHours;
use crate::condition::Condition;
use crate::email::EmailAddress;
use crate::rule_expr::RuleExpr;

/// The whole configuration file.
#[derive(Clone, Debug)]
pub struct Config {
    /// The public page.
    pub page: Page,
    /// Limits of the HTTP server (`server:`, optional).
    pub server: Server,
    /// How the monitoring engine runs (`monitoring:`, optional).
    pub monitoring: MonitoringSettings,
    /// Regions by id.
    pub regions: BTreeMap<String, Region>,
    /// Tenants by id.
    pub tenants: BTreeMap<String, Tenant>,
    /// Components by id.
    pub components: BTreeMap<String, Component>,
    /// Monitors by id.
    pub monitors: BTreeMap<String, Monitor>,
    /// Alert rules over scraped metrics, in file order.
    pub rules: Vec<Rule>,
    /// Maintenance policy and recurring windows.
    pub maintenance: Maintenance,
    /// Backup sets by id.
    pub backups: BTreeMap<String, Backup>,
    /// SLOs by component id.
    pub slos: BTreeMap<String, Slo>,
    /// Notification channels and routes.
    pub notifications: Notifications,
    /// Alertmanager integration (`alertmanager:`, optional).
    pub alertmanager: Option<Alertmanager>,
    /// Scheduled backups of upkeep's own database (`self_backup:`, optional).
    pub self_backup: Option<SelfBackup>,
    /// The update inventory (`inventory:`, optional).
    pub inventory: Inventory,
    /// The definition of each monitor probed from a probe agent's location, by id: its tree
    /// after `${VAR}` substitution and tenant-template instantiation, which the server sends
    /// to the agents of its locations (`super::assignment`).
    pub agent_definitions: BTreeMap<String, super::yaml::Node>,
}

impl Config {
    /// Ids of the components `tenant` owns (from `tenant_services`), in id order.
    pub fn tenant_components<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.components
            .iter()
            .filter(move |(_, c)| c.tenant.as_deref() == Some(tenant))
            .map(|(id, _)| id.as_str())
    }

    /// Ids of the monitors of the components `tenant` owns, in id order: the default gate of a
    /// tenant's rollout step.
    pub fn tenant_monitors<'a>(&'a self, tenant: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.monitors
            .iter()
            .filter(move |(_, m)| {
                self.components
                    .get(&m.component)
                    .is_some_and(|c| c.tenant.as_deref() == Some(tenant))
            })
            .map(|(id, _)| id.as_str())
    }
}

/// `page:`
#[derive(Clone, Debug)]
pub struct Page {
    /// Name shown on the page.
    pub name: String,
    /// Public base URL used in links, feeds and e-mails (no trailing slash).
    pub url: String,
    /// Default zone for display and reports.
    pub timezone: TimeZone,
    /// The zone's IANA name as written.
    pub timezone_name: String,
    /// The public first update of automatic incidents, per kind (an addition).
    pub public_text: PublicText,
}

/// `page.public_text:` — what automatic incidents say in public, as templates with
/// `{component}` (the component's name) and `{status}` (`down`, `partially down` or
/// `degraded`). Never the failure's own words: those are the operator's detail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicText {
    /// An incident opened by a monitor.
    pub monitor: String,
    /// An incident opened by an alert (an alert rule's or Alertmanager's).
    pub alert: String,
}

impl Default for PublicText {
    fn default() -> Self {
        let text = "{component} is {status}. Our automated checks noticed it and we are \
                    investigating."
            .to_owned();
        PublicText {
            monitor: text.clone(),
            alert: text,
        }
    }
}

impl PublicText {
    /// `template` with its placeholders filled in.
    pub fn render(template: &str, component: &str, status: &str) -> String {
        template
            .replace("{component}", component)
            .replace("{status}", status)
    }

    /// Checks a template: only `{component}` and `{status}` may appear in braces.
    pub fn check(template: &str) -> Result<(), String> {
        if template.trim().is_empty() {
            return Err("a public text must not be empty".to_owned());
        }
        let rest = template.replace("{component}", "").replace("{status}", "");
        if rest.contains('{') || rest.contains('}') {
            return Err(format!(
                "unknown placeholder in `{template}`: write {{component}} or {{status}}"
            ));
        }
        Ok(())
    }
}

/// `server:` — protection of the public side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    /// Per-client-IP rate limit on public routes.
    pub rate_limit: RateLimit,
    /// Per-token rate limit of requests that carry an API token (instead of `rate_limit`;
    /// default 50/s, burst 500).
    pub token_rate_limit: RateLimit,
    /// Per-client-IP rate limit on `/ping/*`, apart from the pages: one backup host may run
    /// many jobs at the top of the hour (default 100/s, burst 1000).
    pub ping_rate_limit: RateLimit,
    /// Largest accepted request body, in bytes (default 1 MiB).
    pub max_body_bytes: usize,
    /// Time limit for one request (default 30 s).
    pub request_timeout: Duration,
    /// Most concurrent connections (default 4096).
    pub max_connections: usize,
    /// Most concurrent connections from one client address (default 256; 0: no cap); trusted
    /// proxies are not capped.
    pub max_connections_per_client: usize,
    /// How long in-flight requests may finish on shutdown (default 30 s).
    pub shutdown_grace: Duration,
    /// Per-client limit of `POST /subscribe`, a minute at a time (default 6 a minute, burst 3).
    pub subscribe_rate_limit: MinuteRateLimit,
    /// When set, `/metrics` and the detail of `/readyz` need `Authorization: Bearer TOKEN`
    /// (default unset: both are open, as `/healthz` always is).
    pub metrics_token: Option<String>,
    /// Per-client budget of pings to unknown keys, apart from `ping_rate_limit`: guessing a
    /// key is hopeless at a few tries a minute (default 6 a minute, burst 10).
    pub ping_miss_rate_limit: MinuteRateLimit,
    /// Networks of the reverse proxies in front: only from a peer inside one is the client
    /// taken from `X-Forwarded-For`; empty by default (trust nobody).
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// Whether connections from trusted proxies start with a PROXY protocol (v1 or v2) header
    /// naming the client (default false).
    pub proxy_protocol: bool,
    /// Hourly budget of subscription confirmation mails, overall and per recipient domain
    /// (default 200 an hour, 20 an hour per domain).
    pub confirmation_mail_budget: MailBudget,
}

/// `server.confirmation_mail_budget:`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailBudget {
    /// Confirmation mails an hour in all; 0 disables this budget.
    pub per_hour: u32,
    /// Confirmation mails an hour to the addresses of one domain; 0 disables this budget.
    pub per_domain_per_hour: u32,
}

/// `server.subscribe_rate_limit:`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MinuteRateLimit {
    /// Sustained requests a minute per client; 0 disables this limit.
    pub per_minute: u32,
    /// Burst size.
    pub burst: u32,
}

/// `server.rate_limit:`
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained requests per second per client IP; 0 disables rate limiting (default 20).
    pub per_second: u32,
    /// Burst size (default 100).
    pub burst: u32,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            rate_limit: RateLimit {
                per_second: 20,
                burst: 100,
            },
            ping_rate_limit: RateLimit {
                per_second: 100,
                burst: 1000,
            },
            token_rate_limit: RateLimit {
                per_second: 50,
                burst: 500,
            },
            max_body_bytes: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_connections_per_client: 256,
            shutdown_grace: Duration::from_secs(30),
            subscribe_rate_limit: MinuteRateLimit {
                per_minute: 6,
                burst: 3,
            },
            metrics_token: None,
            ping_miss_rate_limit: MinuteRateLimit {
                per_minute: 6,
                burst: 10,
            },
            trusted_proxies: Vec::new(),
            proxy_protocol: false,
            confirmation_mail_budget: MailBudget {
                per_hour: 200,
                per_domain_per_hour: 20,
            },
        }
    }
}

/// `monitoring:` — how the monitoring engine runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitoringSettings {
    /// How long raw check results are kept; rollups are kept for good (default 14 d).
    pub retention: Duration,
    /// Most probes in flight at once (default 1024).
    pub max_concurrent: usize,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            retention: Duration::from_secs(14 * 86_400),
            max_concurrent: 1024,
        }
    }
}

/// `regions.ID:`
#[derive(Clone, Debug)]
pub struct Region {
    /// The region's zone.
    pub timezone: TimeZone,
    /// The zone's IANA name as written.
    pub timezone_name: String,
    /// Local business hours (empty when not given).
    pub business_hours: BusinessHours,
}

/// `tenants.ID:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// Display name.
    pub name: String,
    /// Region id.
    pub region: String,
    /// Variables the `tenant_services` templates read as `{tenant.vars.NAME}` and rollout
    /// actions receive as `UPKEEP_VAR_NAME` (default none).
    pub vars: BTreeMap<String, String>,
    /// Whether the tenant's page `/tenants/{id}` is served (default true).
    pub public: bool,
}

/// `components.ID:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Component {
    /// Display name.
    pub name: String,
    /// Group shown on the page.
    pub group: Option<String>,
    /// Short description.
    pub description: Option<String>,
    /// Ids of components this one depends on (acyclic).
    pub depends_on: Vec<String>,
    /// Whether the status page shows, under the component's bars, the mean response time over
    /// the last day per location of its monitors probed from several locations.
    pub show_latency: bool,
    /// The tenant that owns this component (instantiated from `tenant_services`); `None` for a
    /// shared component.
    pub tenant: Option<String>,
}

/// The location of probes run by the server itself.
pub const SERVER_LOCATION: &str = "server";

/// `monitors.ID:`
#[derive(Clone, Debug)]
pub struct Monitor {
    /// Component id.
    pub component: String,
    /// What is probed.
    pub kind: MonitorKind,
    /// Time between probes (default 60 s).
    pub interval: Duration,
    /// Time limit of one probe (default 10 s).
    pub timeout: Duration,
    /// Conditions that must all hold for a probe to succeed.
    pub conditions: Vec<Condition>,
    /// Consecutive failures before the monitor is down (default 3).
    pub failure_threshold: u32,
    /// Consecutive successes before it is up again (default 1).
    pub recovery_threshold: u32,
    /// Where it is probed from: [`SERVER_LOCATION`] (the server itself, the default) and the
    /// locations of probe agents; distinct, in the order written.
    pub locations: Vec<String>,
    /// Failing results of one round, from distinct locations, that make the round a failure;
    /// also the fewest results a round needs to be judged at all (default: more than half of
    /// the locations; 1 for a monitor probed from the server alone).
    pub quorum: usize,
    /// Severity of its alert when it goes down, for routing (default critical).
    pub severity: Severity,
    /// The tenant that owns this monitor (instantiated from `tenant_services`); `None` for a
    /// shared monitor. A tenant's monitor may watch a shared component.
    pub tenant: Option<String>,
}

impl Monitor {
    /// Whether the server alone probes it (the results of one probe are its rounds).
    pub fn server_only(&self) -> bool {
        matches!(self.locations.as_slice(), [only] if only == SERVER_LOCATION)
    }

    /// Whether a probe agent at `location` probes it.
    pub fn probed_from(&self, location: &str) -> bool {
        self.locations.iter().any(|l| l == location)
    }
}

/// The kind of a monitor, from the one kind key it has.
#[derive(Clone, Debug)]
pub enum MonitorKind {
    /// `http:`
    Http(HttpCheck),
    /// `tcp:`
    Tcp(TcpCheck),
    /// `dns:`
    Dns(DnsCheck),
    /// `tls:`
    Tls(TlsCheck),
    /// `postgres:`
    Postgres(DatabaseCheck),
    /// `mysql:` (MySQL and MariaDB)
    Mysql(DatabaseCheck),
    /// `redis:`
    Redis(DatabaseCheck),
    /// `mqtt:`
    Mqtt(MqttCheck),
    /// `websocket:`
    Websocket(WebsocketCheck),
    /// `snmp:`
    Snmp(SnmpCheck),
    /// `grpc:`
    Grpc(GrpcCheck),
    /// `docker:`
    Docker(DockerCheck),
    /// `icmp:`
    Icmp(IcmpCheck),
    /// `domain:`
    Domain(DomainCheck),
    /// `smtp:`
    Smtp(MailCheck),
    /// `imap:`
    Imap(MailCheck),
    /// `ssh:`
    Ssh(SshCheck),
    /// `push:`
    Push(PushCheck),
}

/// `http:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpCheck {
    /// URL to request.
    pub url: String,
    /// HTTP method, upper case (default GET).
    pub method: String,
    /// Extra request headers.
    pub headers: BTreeMap<String, String>,
    /// Request body.
    pub body: Option<String>,
    /// Expected status; `None` means any 2xx (when no condition looks at `[STATUS]`).
    pub expected_status: Option<u16>,
    /// Verify the server's certificate (default true).
    pub verify_tls: bool,
    /// Follow redirects (default true).
    pub follow_redirects: bool,
    /// Follow redirects to other hosts too (`redirect_hosts: any`); by default a redirect to
    /// another host name is not followed, so a target cannot point the prober anywhere.
    pub redirects_to_other_hosts: bool,
}

/// `tcp:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpCheck {
    /// `host:port` to connect to.
    pub address: String,
}

/// `dns:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsCheck {
    /// Name to resolve.
    pub name: String,
    /// Record type (default A).
    pub record_type: DnsRecordType,
    /// An answer that must be present.
    pub expected: Option<String>,
    /// Resolver `host[:port]`; `None` means the system's.
    pub resolver: Option<String>,
}

/// DNS record types a monitor may ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsRecordType {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Canonical name.
    Cname,
    /// Mail exchanger.
    Mx,
    /// Name server.
    Ns,
    /// Text.
    Txt,
    /// Service.
    Srv,
    /// Certification authority authorization.
    Caa,
    /// Pointer.
    Ptr,
    /// Start of authority.
    Soa,
}

impl DnsRecordType {
    /// Every type with its name, for parsing and messages.
    pub const ALL: [(&'static str, DnsRecordType); 10] = [
        ("A", DnsRecordType::A),
        ("AAAA", DnsRecordType::Aaaa),
        ("CNAME", DnsRecordType::Cname),
        ("MX", DnsRecordType::Mx),
        ("NS", DnsRecordType::Ns),
        ("TXT", DnsRecordType::Txt),
        ("SRV", DnsRecordType::Srv),
        ("CAA", DnsRecordType::Caa),
        ("PTR", DnsRecordType::Ptr),
        ("SOA", DnsRecordType::Soa),
    ];
}

/// `tls:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsCheck {
    /// `host[:port]`, port 443 when omitted (stored with the port).
    pub address: String,
    /// Server name sent in SNI and checked in the certificate (default the host).
    pub server_name: String,
}

/// `postgres:`, `mysql:` and `redis:` — a database server the probe logs in to and may ask
/// one question (`query` for SQL, `command` for Redis). Its `Debug` form hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseCheck {
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]`, `mysql://...`
    /// (`mariadb://` too), `redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]` or `rediss://...` (TLS).
    pub url: String,
    /// The password, when not in the URL (usually `${VAR}`); it replaces the URL's.
    pub password: Option<String>,
    /// A file holding the password (its first line), read at each check; it replaces the
    /// URL's.
    pub password_file: Option<std::path::PathBuf>,
    /// The SQL query (`postgres`, `mysql`) or Redis command whose answer conditions test.
    pub query: Option<String>,
}

impl DatabaseCheck {
    /// The URL without its password, fit for messages.
    pub fn shown_url(&self) -> String {
        hide_password(&self.url)
    }
}

impl std::fmt::Debug for DatabaseCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseCheck")
            .field("url", &self.shown_url())
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("password_file", &self.password_file)
            .field("query", &self.query)
            .finish()
    }
}

/// `mqtt:` — an MQTT broker the probe connects to, and where `topic` is set, subscribes and
/// waits for one message (after publishing `payload` itself when set). The broker's URL,
/// `password`, `password_file` and `topic` (in `query`) are read and hidden like a database's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttCheck {
    /// `mqtt://[USER[:PASSWORD]@]HOST[:PORT]` or `mqtts://...` (TLS); `query` is the `topic`.
    pub server: DatabaseCheck,
    /// What the probe publishes on the topic before waiting for it to come back.
    pub payload: Option<String>,
}

/// `websocket:` — a WebSocket endpoint the probe upgrades to and may send one message, whose
/// first answer conditions test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebsocketCheck {
    /// `ws://HOST[:PORT][/PATH]` or `wss://...` (TLS).
    pub url: String,
    /// The text message sent once the upgrade succeeded.
    pub message: Option<String>,
}

/// `snmp:` — an SNMP agent the probe asks for one or a few OIDs with one GET (SNMPv2c with a
/// community, or SNMPv3 as a USM user); the first OID's value is `[VALUE]` for conditions.
/// Its `Debug` form hides the community and the keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpCheck {
    /// `host:port` of the agent (port 161 when the configuration leaves it out).
    pub address: String,
    /// The OIDs asked for, in order (at least one, at most [`SnmpCheck::MAX_OIDS`]).
    pub oids: Vec<crate::snmp::Oid>,
    /// The version and its credentials.
    pub security: SnmpSecurity,
}

impl SnmpCheck {
    /// The most OIDs one check asks for.
    pub const MAX_OIDS: usize = 16;
}

/// How an `snmp` check speaks to its agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnmpSecurity {
    /// SNMPv2c with a community (there is no default community).
    V2c {
        /// The community.
        community: Secret,
    },
    /// SNMPv3 with the User-based Security Model.
    V3(SnmpUser),
}

/// An SNMPv3 user: the security level follows from the keys given (none: noAuthNoPriv;
/// `auth_key`: authNoPriv; both: authPriv).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnmpUser {
    /// The USM user name.
    pub name: String,
    /// The authentication protocol and password.
    pub auth: Option<(crate::snmp::AuthProtocol, Secret)>,
    /// The AES-128 privacy password (needs `auth`).
    pub privacy: Option<Secret>,
    /// The SNMPv3 context name (empty by default).
    pub context: String,
}

/// A secret a probe needs: written in the configuration (usually `"${VAR}"`) or the first line
/// of a file read at each check (a mounted secret may rotate). Its `Debug` form shows a file's
/// path, never a value.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    /// The value itself.
    Value(String),
    /// A file whose first line is the value.
    File(std::path::PathBuf),
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Value(_) => f.write_str("Value(***)"),
            Secret::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// `grpc:` — a gRPC server asked `grpc.health.v1.Health/Check` for one service (or the whole
/// server). Its `Debug` form hides the metadata values (they are [`Secret`]s).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GrpcCheck {
    /// `grpc://HOST:PORT` (plaintext HTTP/2) or `grpcs://HOST[:PORT]` (TLS, port 443 by default);
    /// never with a user or password.
    pub url: String,
    /// The service name asked about; empty means the server as a whole.
    pub service: String,
    /// A PEM file of the certificate authorities trusted for `grpcs://` instead of the web's
    /// roots.
    pub ca_file: Option<std::path::PathBuf>,
    /// Metadata sent with the call, by lower-case name: written under `metadata` (usually
    /// `${VAR}`) or the first line of a file named under `metadata_files`.
    pub metadata: BTreeMap<String, Secret>,
}

/// `docker:` — a container whose state and health the Docker Engine API reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerCheck {
    /// The container's name or id.
    pub container: String,
    /// Where the engine listens: `unix:///PATH` (default `unix:///var/run/docker.sock`) or
    /// `tcp://HOST:PORT`.
    pub host: DockerHost,
}

/// Where a Docker engine listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DockerHost {
    /// A Unix socket.
    Unix(std::path::PathBuf),
    /// `host:port` over plain TCP.
    Tcp(String),
}

impl std::fmt::Display for DockerHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DockerHost::Unix(path) => write!(f, "unix://{}", path.display()),
            DockerHost::Tcp(address) => write!(f, "tcp://{address}"),
        }
    }
}

/// `icmp:` — a host the probe sends `count` echo requests (ping) and counts the answers of.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpCheck {
    /// A host name or an IPv4 or IPv6 address.
    pub host: String,
    /// Echo requests per check (1 to 100; default 3).
    pub count: u32,
    /// Time between two echo requests (default 200 ms).
    pub packet_interval: Duration,
    /// How long each echo request waits for its reply (default 1 s).
    pub packet_timeout: Duration,
    /// Which address family a host name resolves to (default: the first address found).
    pub family: Option<IpFamily>,
}

/// An IP address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpFamily {
    /// `ipv4`
    V4,
    /// `ipv6`
    V6,
}

/// `domain:` — a registered domain whose registration expiry the probe reads over RDAP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainCheck {
    /// The registered domain, lower case, without a trailing dot (`example.com`).
    pub name: String,
    /// The base URL of the RDAP server to ask (`/domain/NAME` is appended) instead of the
    /// one the bootstrap file names for the domain's top-level domain.
    pub rdap_server: Option<String>,
    /// An RDAP bootstrap file (RFC 9224) read instead of the one built in.
    pub bootstrap_file: Option<std::path::PathBuf>,
    /// How long an answer is reused before the registry is asked again (default 6 h).
    pub refresh: Duration,
}

/// `smtp:` and `imap:` — a mail server the probe greets, asks for its extensions
/// (capabilities), upgrades to TLS when it should, and leaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailCheck {
    /// `smtp://HOST[:PORT]` (25), `smtps://...` (465, TLS from the first byte),
    /// `imap://HOST[:PORT]` (143) or `imaps://...` (993).
    pub url: String,
    /// Whether a plain connection upgrades with STARTTLS (`never` for the TLS schemes).
    pub starttls: StartTls,
    /// A PEM file of the authorities the certificate is checked against, instead of the web's.
    pub ca_file: Option<std::path::PathBuf>,
}

/// `ssh:` — an SSH server whose identification the probe reads; with `host_key` it completes
/// the key exchange and checks the server's key against the pinned fingerprint; with
/// `command` (the operator's opt-in to running one) it also logs in as `user` and runs it.
/// Its `Debug` form hides the password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshCheck {
    /// `host[:port]`, port 22 when omitted (stored with the port).
    pub address: String,
    /// The server's host key fingerprint as `ssh-keygen -lf` prints it (`SHA256:...`);
    /// required with `command`.
    pub host_key: Option<String>,
    /// The user `command` runs as.
    pub user: Option<String>,
    /// The private key (OpenSSH format, no passphrase) the user logs in with.
    pub private_key_file: Option<std::path::PathBuf>,
    /// The user's password (`password`, usually `${VAR}`, or `password_file`).
    pub password: Option<Secret>,
    /// The command whose exit status and output conditions test.
    pub command: Option<String>,
}

/// When a plain mail connection upgrades with STARTTLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTls {
    /// Always; a server that does not offer it fails the check.
    Required,
    /// When the server offers it (the default).
    IfOffered,
    /// Never: the dialogue stays in clear text.
    Never,
}

/// `SCHEME://USER:PASSWORD@HOST/...` with the password replaced by `***`; other text as is.
pub fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

/// `push:` — a heartbeat the monitored job sends to `/ping/{key}`.
#[derive(Clone, Debug)]
pub struct PushCheck {
    /// The ping key (unique across monitors and backups).
    pub key: String,
    /// When pings are due.
    pub schedule: PushSchedule,
}

/// When a push monitor expects its pings.
#[derive(Clone, Debug)]
pub enum PushSchedule {
    /// Every `period`; late after `period + grace`.
    Period {
        /// Expected time between pings.
        period: Duration,
        /// Extra time allowed (default 1 h).
        grace: Duration,
    },
    /// On a 5-field cron schedule in `timezone`; late after the scheduled time + `grace`.
    Cron {
        /// The cron expression as written (validated).
        expr: String,
        /// Zone the schedule is read in (default the page's).
        timezone: TimeZone,
        /// The zone's IANA name.
        timezone_name: String,
        /// Extra time allowed (default 1 h).
        grace: Duration,
    },
}

/// `rules[]` — an alert over a Prometheus text-format scrape.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Alert name.
    pub name: String,
    /// URL scraped.
    pub scrape: String,
    /// Time between scrapes (default 30 s).
    pub interval: Duration,
    /// The condition.
    pub expr: RuleExpr,
    /// How long it must hold before the alert fires (`for:`, default 0 s).
    pub for_duration: Duration,
    /// Severity, used for routing.
    pub severity: Severity,
    /// Component id.
    pub component: String,
}

/// Alert severity.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Pages someone.
    Critical,
    /// Needs attention.
    Warning,
    /// For the record.
    Info,
}

impl Severity {
    /// Every severity with its name.
    pub const ALL: [(&'static str, Severity); 3] = [
        ("critical", Severity::Critical),
        ("warning", Severity::Warning),
        ("info", Severity::Info),
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// `maintenance:`
#[derive(Clone, Debug, Default)]
pub struct Maintenance {
    /// The written policy.
    pub policy: MaintenancePolicy,
    /// Recurring windows.
    pub windows: Vec<Window>,
}

/// `maintenance.policy:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MaintenancePolicy {
    /// Rules for planned maintenance.
    pub planned: PlannedPolicy,
    /// Rules for emergency maintenance.
    pub emergency: EmergencyPolicy,
    /// Whether each tenant's slot must fall outside its region's business hours (default false).
    pub outside_business_hours: bool,
    /// Length of one tenant's slot (default 15 m).
    pub tenant_slot: Duration,
    /// Reminder offsets before a start (default 72 h and 1 h), longest first.
    pub reminders: Vec<Duration>,
    /// How long before a start the pre-flight checks are first evaluated (default 15 m; they
    /// are evaluated again at the start).
    pub preflight_ahead: Duration,
    /// The longest span of a one-off maintenance, from its start to its end (default 31 d).
    pub max_span: Duration,
}

/// `maintenance.policy.planned:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedPolicy {
    /// Least notice before the start (default 14 d).
    pub min_notice: Duration,
}

/// `maintenance.policy.emergency:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmergencyPolicy {
    /// Least notice before the start (default 0 s).
    pub min_notice: Duration,
    /// Whether a reason must be given (default true).
    pub require_reason: bool,
}

impl Default for PlannedPolicy {
    fn default() -> Self {
        PlannedPolicy {
            min_notice: Duration::from_secs(14 * 86_400),
        }
    }
}

impl Default for EmergencyPolicy {
    fn default() -> Self {
        EmergencyPolicy {
            min_notice: Duration::ZERO,
            require_reason: true,
        }
    }
}

impl Default for MaintenancePolicy {
    fn default() -> Self {
        MaintenancePolicy {
            planned: PlannedPolicy::default(),
            emergency: EmergencyPolicy::default(),
            outside_business_hours: false,
            tenant_slot: Duration::from_secs(15 * 60),
            reminders: vec![Duration::from_secs(72 * 3600), Duration::from_secs(3600)],
            preflight_ahead: Duration::from_secs(15 * 60),
            max_span: Duration::from_secs(31 * 86_400),
        }
    }
}

/// `maintenance.windows[]` — a recurring window.
#[derive(Clone, Debug)]
pub struct Window {
    /// Unique id.
    pub id: String,
    /// Title shown to readers.
    pub title: String,
    /// Markdown description.
    pub description: Option<String>,
    /// Zone the rule is read in (default the page's).
    pub timezone: TimeZone,
    /// The zone's IANA name.
    pub timezone_name: String,
    /// RFC 5545 RRULE (the part after `RRULE:`), validated; see [`crate::recurrence`].
    pub rrule: String,
    /// First local day of the rule (its DTSTART date); `None` anchors at the query start.
    pub starts: Option<Date>,
    /// Length of each occurrence, in absolute time.
    pub duration: Duration,
    /// Affected component ids.
    pub components: Vec<String>,
    /// Affected tenants.
    pub tenants: TenantSel,
    /// Whether monitors keep probing during the window (default run).
    pub checks: ChecksMode,
    /// Whether the window counts as downtime in SLA figures (default false).
    pub counts_as_downtime: bool,
    /// Whether subscribers are notified (default true).
    pub notify_subscribers: bool,
    /// Pre-flight checks that must pass before each occurrence starts.
    pub preflight: Vec<crate::maintenance::preflight::Check>,
    /// The rollout each occurrence drives (`docs/rollouts.md`).
    pub rollout: Option<crate::rollout::RolloutSpec>,
}

/// Which tenants a window affects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantSel {
    /// `all`
    All,
    /// A list of tenant ids.
    List(Vec<String>),
}

/// Whether checks run during a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksMode {
    /// Keep probing; results are recorded as maintenance.
    Run,
    /// Pause probing.
    Skip,
}

/// `backups.ID:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// Recovery point objective: the oldest a last good backup may be.
    pub rpo: Duration,
    /// Recovery time objective: the longest a restore may take.
    pub rto: Duration,
    /// Drill cadence; `None` means no drills are expected.
    pub drill_every: Option<Duration>,
    /// Ping key the backup job reports to (unique across monitors and backups).
    pub push_key: String,
}

/// `slos.COMPONENT:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slo {
    /// Objective in parts per million (99.9 % = 999_000).
    pub objective_ppm: u32,
    /// The period the objective is measured over.
    pub window: SloWindow,
    /// Burn-rate alert tiers (default the SRE workbook's four).
    pub burn_rates: Vec<BurnRate>,
}

/// The period of an SLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SloWindow {
    /// The calendar year in the page's zone.
    CalendarYear,
    /// The calendar quarter in the page's zone.
    CalendarQuarter,
    /// The calendar month in the page's zone.
    CalendarMonth,
    /// A rolling period ending now.
    Rolling(Duration),
}

/// One multi-window burn-rate tier: alert when both windows burn faster than `factor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BurnRate {
    /// Burn-rate factor in thousandths (14.4× = 14_400).
    pub factor_milli: u32,
    /// Long window.
    pub long: Duration,
    /// Short window.
    pub short: Duration,
    /// Severity of the alert.
    pub severity: Severity,
}

impl BurnRate {
    /// The SRE workbook's tiers: 14.4× 1h/5m and 6× 6h/30m page, 3× 1d/2h and 1× 3d/6h ticket.
    pub fn defaults() -> Vec<BurnRate> {
        let tier = |factor_milli, long_minutes: u64, short_minutes: u64, severity| BurnRate {
            factor_milli,
            long: Duration::from_secs(long_minutes * 60),
            short: Duration::from_secs(short_minutes * 60),
            severity,
        };
        vec![
            tier(14_400, 60, 5, Severity::Critical),
            tier(6_000, 360, 30, Severity::Critical),
            tier(3_000, 1440, 120, Severity::Warning),
            tier(1_000, 4320, 360, Severity::Warning),
        ]
    }
}

/// `notifications:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifications {
    /// Outgoing mail server; required when an e-mail channel exists.
    pub smtp: Option<Smtp>,
    /// Channels by id.
    pub channels: BTreeMap<String, Channel>,
    /// Routes, in file order.
    pub routes: Vec<Route>,
    /// When failed deliveries are tried again (`retry: {initial, max_interval, max_age}`).
    pub retry: crate::notify::retry::RetryPolicy,
    /// How often a still-firing, unacknowledged alert is sent again (default 4 h; 0 s = never).
    pub renotify_every: Duration,
    /// How long a subscription's confirmation link works (default 48 h).
    pub confirm_within: Duration,
    /// Time limit of one delivery attempt (HTTP or SMTP, default 10 s). A worker's claim on a
    /// delivery lasts four times this, so a crashed worker's deliveries are taken over soon.
    pub delivery_timeout: Duration,
    /// How long notices and finished deliveries are kept (default 30 d; never less than the
    /// longest reminder lead plus a day, so a reminder is never written twice).
    pub retention: Duration,
}

impl Default for Notifications {
    fn default() -> Self {
        Notifications {
            smtp: None,
            channels: BTreeMap::new(),
            routes: Vec::new(),
            retry: crate::notify::retry::RetryPolicy::default(),
            renotify_every: Duration::from_secs(4 * 3600),
            confirm_within: Duration::from_secs(48 * 3600),
            delivery_timeout: Duration::from_secs(10),
            retention: Duration::from_secs(30 * 86_400),
        }
    }
}

/// `notifications.smtp:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Smtp {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Sender address.
    pub from: EmailAddress,
    /// User name for AUTH.
    pub username: Option<String>,
    /// Password for AUTH.
    pub password: Option<String>,
    /// Transport security (default by port: 465 tls, 587 starttls, otherwise none).
    pub tls: SmtpTls,
    /// Extra CA certificates (PEM) trusted for the server's certificate, for a private CA.
    pub ca_file: Option<std::path::PathBuf>,
}

/// SMTP transport security.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text.
    None,
    /// Upgrade with STARTTLS.
    Starttls,
    /// TLS from the first byte.
    Tls,
}

/// A notification channel, from the one kind key it has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Channel {
    /// `email: [addresses]`
    Email(Vec<EmailAddress>),
    /// `webhook: { url, secret? }` — JSON, HMAC-signed when a secret is set.
    Webhook {
        /// Receiver URL.
        url: String,
        /// Signing secret.
        secret: Option<String>,
    },
    /// `slack: { url }` — Slack-compatible incoming webhook.
    Slack {
        /// Incoming-webhook URL.
        url: String,
    },
    /// `pagerduty: { routing_key, url? }` — Events API v2.
    PagerDuty {
        /// Integration routing key.
        routing_key: String,
        /// Events endpoint.
        url: String,
    },
    /// A chat, pager or push provider (`discord`, `telegram`, `teams`, `opsgenie`, `ntfy`,
    /// `pushover`, `google_chat`, `mattermost`, `rocketchat`, `splunk_oncall`, `matrix`,
    /// `gotify`).
    Provider(crate::notify::providers::Provider),
    /// `custom_webhook: { url, method?, headers?, content_type?, body? }` — a request made of
    /// locked-down templates (`upkeep_domain::notify::template`).
    CustomWebhook(crate::notify::template::CustomWebhook),
}

/// The public PagerDuty Events API v2 endpoint, the default of `pagerduty.url`.
pub const PAGERDUTY_EVENTS_URL: &str = "https://events.pagerduty.com/v2/enqueue";

/// `notifications.routes[]`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Severity matched.
    pub severity: Severity,
    /// Component matched; `None` matches all.
    pub component: Option<String>,
    /// Channel ids notified.
    pub channels: Vec<String>,
}

/// `alertmanager:`
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alertmanager {
    /// Base URL of Alertmanager (API v2 lives under it).
    pub url: String,
    /// Label that names the component in incoming alerts (default `component`).
    pub component_label: String,
}

/// `self_backup:` — upkeep backing up its own database on a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfBackup {
    /// How often a backup is written.
    pub every: Duration,
    /// Directory the backup files are written to.
    pub dir: std::path::PathBuf,
    /// How many backup files are kept (the oldest beyond are deleted); at least 1.
    pub keep: u32,
    /// Id of the `backups:` entry whose push key receives each run's pings.
    pub backup_set: Option<String>,
}

/// `inventory:` — the update inventory (`docs/inventory.md`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inventory {
    /// How often every index and end-of-life file is read again (`refresh`, default 1 h).
    pub refresh: Duration,
    /// Largest index read, in bytes (`max_index_size`, default 50 MB).
    pub max_index_bytes: u64,
    /// Items by id.
    pub items: BTreeMap<String, InventoryItem>,
    /// Policies, in file order.
    pub policies: Vec<InventoryPolicy>,
}

impl Default for Inventory {
    fn default() -> Self {
        Self {
            refresh: Duration::from_secs(3600),
            max_index_bytes: 50 * 1024 * 1024,
            items: BTreeMap::new(),
            policies: Vec::new(),
        }
    }
}

impl Inventory {
    /// The sources of `item` at `place`: the place's own (`places.PLACE`) where given, else
    /// the item's.
    pub fn sources<'a>(&'a self, item: &str, place: &str) -> Option<ItemSources<'a>> {
        let it = self.items.get(item)?;
        let own = it.places.get(place);
        Some(ItemSources {
            helm: own.and_then(|p| p.helm.as_ref()).unwrap_or(&it.helm),
            eol: own.and_then(|p| p.eol.as_ref()).or(it.eol.as_ref()),
        })
    }

    /// Every index location the items name (successors and places included), once.
    pub fn index_locations(&self) -> std::collections::BTreeSet<&IndexLocation> {
        let mut out = std::collections::BTreeSet::new();
        for item in self.items.values() {
            let helms = std::iter::once(&item.helm)
                .chain(item.places.values().filter_map(|p| p.helm.as_ref()));
            for helm in helms {
                out.insert(&helm.index);
                if let Some(s) = &helm.successor {
                    out.insert(&s.index);
                }
            }
        }
        out
    }
}

/// One item of the inventory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InventoryItem {
    /// Its chart (`helm:`).
    pub helm: HelmSource,
    /// Its end-of-life file (`eol:`, optional).
    pub eol: Option<EolSource>,
    /// Sources that differ per place (a cluster or a tenant): `places: { PLACE: { helm, eol } }`.
    pub places: BTreeMap<String, PlaceSources>,
}

/// A chart in a Helm repository, and optionally the chart that replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelmSource {
    /// Where the repository's `index.yaml` is.
    pub index: IndexLocation,
    /// The chart's name in it.
    pub chart: String,
    /// The chart that replaces this one (`successor: { chart, index }`, index defaulting to
    /// this one's).
    pub successor: Option<ChartRef>,
}

/// A chart in a repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChartRef {
    pub index: IndexLocation,
    pub chart: String,
}

/// Where an `index.yaml` is read from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum IndexLocation {
    /// An `http://` or `https://` URL.
    Url(String),
    /// A local file (relative paths are relative to the configuration file's directory).
    File(std::path::PathBuf),
}

impl IndexLocation {
    /// The location as written: the URL or the path.
    pub fn key(&self) -> String {
        match self {
            IndexLocation::Url(url) => url.clone(),
            IndexLocation::File(path) => path.display().to_string(),
        }
    }
}

/// An endoflife.date-format file (`eol: { file }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EolSource {
    /// The file (relative paths are relative to the configuration file's directory).
    pub file: std::path::PathBuf,
}

/// The sources of one place that differ from the item's.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PlaceSources {
    pub helm: Option<HelmSource>,
    pub eol: Option<EolSource>,
}

/// The sources that apply to an item at a place.
#[derive(Clone, Copy, Debug)]
pub struct ItemSources<'a> {
    pub helm: &'a HelmSource,
    pub eol: Option<&'a EolSource>,
}

/// One inventory policy: a rule and the severity of its alert when broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InventoryPolicy {
    pub rule: InventoryRule,
    pub severity: Severity,
}

/// What an inventory policy requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InventoryRule {
    /// `max_behind: patch | minor | major`: the most a deployment may lag the latest stable
    /// release (`patch`: only patch releases; `minor`: only within the latest major; `major`:
    /// at most one major release).
    MaxBehind(Lag),
    /// `end_of_life: true`: the deployed application version's cycle has not ended.
    EndOfLife,
}

/// How far behind, by SemVer part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Lag {
    Patch,
    Minor,
    Major,
}

impl Lag {
    /// Every lag with its name.
    pub const ALL: [(&'static str, Lag); 3] = [
        ("patch", Lag::Patch),
        ("minor", Lag::Minor),
        ("major", Lag::Major),
    ];

    /// The configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            Lag::Patch => "patch",
            Lag::Minor => "minor",
            Lag::Major => "major",
        }
    }
}
