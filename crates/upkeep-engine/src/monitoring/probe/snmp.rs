//! `snmp` probes: one GET of the monitor's OIDs over UDP, in SNMPv2c with its community or in
//! SNMPv3 as a USM user (engine discovery first, then the GET at the user's security level,
//! once more after a time-window report). Messages are built and read by
//! [`upkeep_domain::snmp`]; this module sends them, resends every second while no answer
//! comes (UDP loses datagrams; the monitor's timeout bounds the whole check), and puts what
//! came back in words.
//!
//! The first OID's value is `[VALUE]`; every value, in order, is `[BODY]` (one per line) and
//! `[BODY][i]` (a JSON array, numbers as numbers). An agent's exceptions (noSuchObject,
//! noSuchInstance, endOfMibView), error-status and USM reports fail the check in words. The
//! community and the keys never appear in a failure.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tokio::net::UdpSocket;
use upkeep_domain::config::{SnmpCheck, SnmpSecurity, SnmpUser};
use upkeep_domain::snmp::{
    self, DecodeError, Engine, MasterKey, Pdu, PduType, SecurityLevel, User, UsmReport, V3Content,
    V3Error, V3Get, Value,
};

use super::{
    Failure, MAX_VALUE_CHARS, Progress, Seen, cut, io_error_text, read_secret, split_host_port,
    stage,
};

/// How long the probe waits for an answer before sending the request again.
const RESEND_EVERY: Duration = Duration::from_secs(1);

/// "waiting for the SNMP agent at switch:161 to answer ...", with why silence is common.
pub(super) fn describe(check: &SnmpCheck, reached: u8) -> String {
    let at = &check.address;
    match &check.security {
        SnmpSecurity::V2c { .. } => format!(
            " waiting for the SNMP agent at {at} to answer (SNMPv2c: an agent drops a request \
             with a wrong community without a word, so a wrong community looks like this too)"
        ),
        SnmpSecurity::V3(user) if reached >= stage::CONNECTED => {
            let level = level(user);
            let hint = if level == SecurityLevel::AuthPriv {
                ": an agent drops a request that decrypts into nonsense without a word, so a \
                 wrong priv key looks like this too"
            } else {
                ""
            };
            format!(
                " waiting for the SNMP agent at {at} to answer the GET as user \"{}\" ({}{hint})",
                user.name,
                level.name()
            )
        }
        SnmpSecurity::V3(_) => {
            format!(" waiting for the SNMP agent at {at} to answer SNMPv3 engine discovery")
        }
    }
}

fn level(user: &SnmpUser) -> SecurityLevel {
    match (&user.auth, &user.privacy) {
        (Some(_), Some(_)) => SecurityLevel::AuthPriv,
        (Some(_), None) => SecurityLevel::AuthNoPriv,
        _ => SecurityLevel::NoAuthNoPriv,
    }
}

pub(super) async fn probe(check: &SnmpCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let socket = Agent::connect(&check.address).await?;
    let pdu = match &check.security {
        SnmpSecurity::V2c { community } => {
            let community = read_secret(community, "community").await?;
            socket.v2c(check, community.as_bytes()).await?
        }
        SnmpSecurity::V3(user) => socket.v3(check, user, progress).await?,
    };
    let elapsed = started.elapsed();
    let values = values(check, &pdu)?;
    let texts: Vec<String> = values
        .iter()
        .map(|value| cut(&value.text().unwrap_or_default(), MAX_VALUE_CHARS))
        .collect();
    let json = Json::Array(
        values
            .iter()
            .zip(&texts)
            .map(|(value, text)| match text.parse::<serde_json::Number>() {
                Ok(number) if value.is_number() => Json::Number(number),
                _ => Json::String(text.clone()),
            })
            .collect(),
    );
    Ok(Seen {
        elapsed,
        value: texts.first().cloned(),
        body: Some(texts.join("\n")),
        json: Some(json),
        ..Seen::default()
    })
}

/// The values of a response to the GET of `check.oids`, or the agent's refusal in words.
fn values<'p>(check: &SnmpCheck, pdu: &'p Pdu) -> Result<Vec<&'p Value>, Failure> {
    let at = &check.address;
    if pdu.error_status != 0 {
        let name = snmp::error_status_name(pdu.error_status).unwrap_or("an unknown error");
        let oid = usize::try_from(pdu.error_index)
            .ok()
            .and_then(|index| index.checked_sub(1))
            .and_then(|index| check.oids.get(index))
            .map(|oid| format!(" for {oid}"))
            .unwrap_or_default();
        return Err(Failure::new(format!(
            "the SNMP agent at {at} answered {name} (error-status {}){oid}",
            pdu.error_status
        )));
    }
    if pdu.varbinds.len() != check.oids.len() {
        return Err(Failure::new(format!(
            "the SNMP agent at {at} answered {} values for {} OIDs",
            pdu.varbinds.len(),
            check.oids.len()
        )));
    }
    let mut values = Vec::with_capacity(pdu.varbinds.len());
    for (asked, (oid, value)) in check.oids.iter().zip(&pdu.varbinds) {
        if oid != asked {
            return Err(Failure::new(format!(
                "the SNMP agent at {at} answered {oid} when asked for {asked}"
            )));
        }
        let missing = match value {
            Value::NoSuchObject => {
                "has no such object (noSuchObject): the OID is not implemented or not in the view of this community or user"
            }
            Value::NoSuchInstance => "has the object but no such instance (noSuchInstance)",
            Value::EndOfMibView => "has nothing at or past it (endOfMibView)",
            value => {
                values.push(value);
                continue;
            }
        };
        return Err(Failure::new(format!(
            "the SNMP agent at {at} {missing}: {oid}"
        )));
    }
    Ok(values)
}

/// A UDP socket connected to one agent.
struct Agent<'c> {
    socket: UdpSocket,
    at: &'c str,
}

impl<'c> Agent<'c> {
    async fn connect(address: &'c str) -> Result<Agent<'c>, Failure> {
        let found: Option<SocketAddr> = match tokio::net::lookup_host(address).await {
            Ok(mut found) => found.next(),
            Err(_) => {
                let host =
                    split_host_port(address, 0).map_or_else(|| address.to_owned(), |(h, _)| h);
                return Err(Failure::new(format!("DNS lookup of {host} failed")));
            }
        };
        let Some(target) = found else {
            return Err(Failure::new(format!(
                "DNS lookup of {address} returned no addresses"
            )));
        };
        let local: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(local)
            .await
            .map_err(|err| Failure::new(io_error_text(&err, address)))?;
        socket
            .connect(target)
            .await
            .map_err(|err| Failure::new(io_error_text(&err, address)))?;
        Ok(Agent {
            socket,
            at: address,
        })
    }

    /// Sends `request` (again every [`RESEND_EVERY`]) until `accept` takes an answer:
    /// `None` ignores a datagram (an answer to another request), `Some` ends the exchange.
    async fn exchange<T>(
        &self,
        request: &[u8],
        mut accept: impl FnMut(&[u8]) -> Option<Result<T, Failure>>,
    ) -> Result<T, Failure> {
        let mut buf = vec![0u8; snmp::MAX_MESSAGE_SIZE];
        loop {
            self.socket
                .send(request)
                .await
                .map_err(|err| self.io(&err))?;
            let deadline = tokio::time::Instant::now() + RESEND_EVERY;
            loop {
                match tokio::time::timeout_at(deadline, self.socket.recv(&mut buf)).await {
                    Err(_) => break,
                    Ok(Err(err)) => return Err(self.io(&err)),
                    Ok(Ok(len)) => {
                        if let Some(done) = accept(buf.get(..len).unwrap_or(&[])) {
                            return done;
                        }
                    }
                }
            }
        }
    }

    fn io(&self, err: &std::io::Error) -> Failure {
        let words = io_error_text(err, self.at);
        Failure::new(if err.kind() == std::io::ErrorKind::ConnectionRefused {
            format!("{words} (ICMP port unreachable: no SNMP agent listens on that UDP port)")
        } else {
            words
        })
    }

    fn not_snmp(&self, err: DecodeError) -> Failure {
        Failure::new(format!(
            "the answer from {} is not an SNMP message upkeep can read: {err}",
            self.at
        ))
    }

    async fn v2c(&self, check: &SnmpCheck, community: &[u8]) -> Result<Pdu, Failure> {
        let request_id = new_id();
        let request = snmp::encode_v2c_get(community, request_id, &check.oids);
        self.exchange(&request, |data| match snmp::decode_v2c(data) {
            Err(err) => Some(Err(self.not_snmp(err))),
            Ok(message) if message.pdu.request_id != request_id => None,
            Ok(message) if message.pdu.kind != PduType::Response => {
                Some(Err(Failure::new(format!(
                    "the SNMP agent at {} sent a {:?} PDU instead of a response",
                    self.at, message.pdu.kind
                ))))
            }
            Ok(message) => Some(Ok(message.pdu)),
        })
        .await
    }

    async fn v3(
        &self,
        check: &SnmpCheck,
        config: &SnmpUser,
        progress: &Progress,
    ) -> Result<Pdu, Failure> {
        let keys = master_keys(config).await?;
        let mut user = User {
            name: config.name.as_bytes().to_vec(),
            auth: None,
            privacy: None,
        };
        let request_id = new_id();
        let context = config.context.as_bytes();
        let answer = self
            .v3_get(check, context, request_id, &Engine::default(), &user)
            .await?;
        let mut engine = answer.engine;
        if engine.id.is_empty() {
            return Err(Failure::new(format!(
                "the SNMP agent at {} did not tell its engine id when asked (SNMPv3 discovery)",
                self.at
            )));
        }
        progress.reached(stage::CONNECTED);
        user.auth = keys.auth.as_ref().map(|key| key.localise(&engine.id));
        user.privacy = keys
            .privacy
            .as_ref()
            .map(|key| key.localise(&engine.id).aes128());
        let level = user.level();
        let mut synced_at = Instant::now();
        for attempt in 0..2 {
            let elapsed = u32::try_from(synced_at.elapsed().as_secs()).unwrap_or(u32::MAX);
            let now = Engine {
                id: engine.id.clone(),
                boots: engine.boots,
                time: engine.time.saturating_add(elapsed),
            };
            let answer = self.v3_get(check, context, request_id, &now, &user).await?;
            match answer.what {
                V3Content::Pdu(pdu) if pdu.kind == PduType::Response => {
                    if level > SecurityLevel::NoAuthNoPriv && !answer.authenticated {
                        return Err(Failure::new(format!(
                            "the SNMP agent at {} answered without authentication ({} asked)",
                            self.at,
                            level.name()
                        )));
                    }
                    if pdu.request_id != request_id {
                        return Err(Failure::new(format!(
                            "the SNMP agent at {} answered another request",
                            self.at
                        )));
                    }
                    return Ok(pdu);
                }
                V3Content::Pdu(pdu) => {
                    return Err(Failure::new(format!(
                        "the SNMP agent at {} sent a {:?} PDU instead of a response",
                        self.at, pdu.kind
                    )));
                }
                V3Content::Report(UsmReport::NotInTimeWindow, _) if attempt == 0 => {
                    // The agent tells its boots and time this way: resynchronise once.
                    engine.boots = answer.engine.boots;
                    engine.time = answer.engine.time;
                    synced_at = Instant::now();
                }
                V3Content::Report(report, _) => {
                    return Err(Failure::new(self.report_text(&report, config, level)));
                }
            }
        }
        Err(Failure::new(self.report_text(
            &UsmReport::NotInTimeWindow,
            config,
            level,
        )))
    }

    /// Sends the GET (a discovery probe while `engine` has no id) in a message of its own and
    /// reads the answer to it.
    async fn v3_get(
        &self,
        check: &SnmpCheck,
        context: &[u8],
        request_id: i32,
        engine: &Engine,
        user: &User,
    ) -> Result<snmp::V3Answer, Failure> {
        let msg_id = new_id();
        let request = snmp::encode_v3_get(
            &V3Get {
                msg_id,
                request_id,
                oids: &check.oids,
                context_name: context,
                engine,
                salt: rand::random::<u64>().to_be_bytes(),
            },
            user,
        );
        self.exchange(&request, |data| self.open(data, user, msg_id))
            .await
    }

    /// Reads an SNMPv3 datagram for the message `msg_id`: `None` for another message.
    fn open(
        &self,
        data: &[u8],
        user: &User,
        msg_id: i32,
    ) -> Option<Result<snmp::V3Answer, Failure>> {
        let at = self.at;
        match snmp::open_v3(data, user) {
            Ok(answer) if answer.msg_id != msg_id => None,
            Ok(answer) => Some(Ok(answer)),
            Err(V3Error::Decode(err)) => Some(Err(self.not_snmp(err))),
            Err(V3Error::NotUsm(model)) => Some(Err(Failure::new(format!(
                "the SNMP agent at {at} answered with security model {model}, not the USM (3)"
            )))),
            Err(V3Error::WrongDigest) => Some(Err(Failure::new(format!(
                "authentication failed: the answer from the SNMP agent at {at} does not carry \
                 the digest of the user's auth key (wrong auth key or auth protocol)"
            )))),
            Err(V3Error::NoKey) => Some(Err(Failure::new(format!(
                "the SNMP agent at {at} answered at a higher security level than the user's"
            )))),
            Err(V3Error::Decryption) => Some(Err(Failure::new(format!(
                "cannot decrypt the answer from the SNMP agent at {at}: wrong priv key \
                 (decryption error)"
            )))),
        }
    }

    /// A USM report in words.
    fn report_text(&self, report: &UsmReport, user: &SnmpUser, level: SecurityLevel) -> String {
        let at = self.at;
        let name = &user.name;
        match report {
            UsmReport::WrongDigest => format!(
                "authentication failed at the SNMP agent at {at} for user \"{name}\": wrong auth \
                 key or auth protocol (usmStatsWrongDigests)"
            ),
            UsmReport::UnknownUserName => format!(
                "the SNMP agent at {at} does not know the user \"{name}\" \
                 (usmStatsUnknownUserNames)"
            ),
            UsmReport::NotInTimeWindow => format!(
                "the SNMP agent at {at} found the request outside its time window even after \
                 resynchronising (usmStatsNotInTimeWindows)"
            ),
            UsmReport::UnsupportedSecLevel => format!(
                "the SNMP agent at {at} does not accept user \"{name}\" at security level {} \
                 (usmStatsUnsupportedSecLevels)",
                level.name()
            ),
            UsmReport::DecryptionError => format!(
                "the SNMP agent at {at} could not decrypt the request of user \"{name}\": wrong \
                 priv key (usmStatsDecryptionErrors)"
            ),
            UsmReport::UnknownEngineId => format!(
                "the SNMP agent at {at} did not recognise the engine id it gave \
                 (usmStatsUnknownEngineIDs)"
            ),
            UsmReport::Other(Some(oid)) => match oid.arcs() {
                [1, 3, 6, 1, 6, 3, 12, 1, 4 | 5, 0] => format!(
                    "the SNMP agent at {at} has no context \"{}\" (report {oid})",
                    user.context
                ),
                _ => format!("the SNMP agent at {at} refused the request (report {oid})"),
            },
            UsmReport::Other(None) => {
                format!("the SNMP agent at {at} refused the request (an empty report)")
            }
        }
    }
}

/// Keys stretched from passwords, by auth protocol and password: stretching is a megabyte of
/// hashing per key (milliseconds of CPU), and every check of a user asks for the same ones.
/// `None` is a password too short to stretch.
static STRETCHED: LazyLock<Mutex<Stretched>> = LazyLock::new(Mutex::default);

/// Stretched keys by (auth protocol's name, password).
type Stretched = HashMap<(&'static str, String), Option<MasterKey>>;

/// Most stretched keys kept (the map is emptied when full).
const MAX_STRETCHED: usize = 256;

/// The user's keys before localisation.
struct MasterKeys {
    auth: Option<MasterKey>,
    privacy: Option<MasterKey>,
}

/// Reads the user's passwords and stretches them into keys (a megabyte of hashing each, away
/// from the async runtime).
async fn master_keys(user: &SnmpUser) -> Result<MasterKeys, Failure> {
    let Some((protocol, auth)) = &user.auth else {
        return Ok(MasterKeys {
            auth: None,
            privacy: None,
        });
    };
    let protocol = *protocol;
    let auth = read_secret(auth, "auth key").await?;
    let privacy = match &user.privacy {
        Some(secret) => Some(read_secret(secret, "priv key").await?),
        None => None,
    };
    let short = |what: &str| {
        Failure::new(format!(
            "the {what} is shorter than {} characters, which SNMPv3 refuses",
            snmp::usm::MIN_PASSWORD_LEN
        ))
    };
    let cached = |password: &str| {
        STRETCHED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&(protocol.name(), password.to_owned()))
            .cloned()
    };
    // Both known: no stretching (`Some(None)` for "no priv key").
    let privacy_hit = match privacy.as_deref() {
        None => Some(None),
        Some(password) => cached(password).map(Some),
    };
    let stretched = match (cached(&auth), privacy_hit) {
        (Some(auth), Some(privacy)) => (auth, privacy),
        _ => {
            tokio::task::spawn_blocking(move || {
                let stretch = |password: String| {
                    let key = MasterKey::from_password(protocol, password.as_bytes());
                    let mut keys = STRETCHED
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    // Bounded: a rotating secret file leaves old entries behind.
                    if keys.len() >= MAX_STRETCHED {
                        keys.clear();
                    }
                    keys.insert((protocol.name(), password), key.clone());
                    key
                };
                (stretch(auth), privacy.map(stretch))
            })
            .await
            .map_err(|err| Failure::new(format!("cannot derive the SNMPv3 keys: {err}")))?
        }
    };
    match stretched {
        (None, _) => Err(short("auth key")),
        (Some(_), Some(None)) => Err(short("priv key")),
        (Some(auth), privacy) => Ok(MasterKeys {
            auth: Some(auth),
            privacy: privacy.flatten(),
        }),
    }
}

/// A fresh positive message or request id.
fn new_id() -> i32 {
    rand::random::<i32>() & i32::MAX
}
