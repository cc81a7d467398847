//! SNMP messages for the `snmp` probe: GET requests and their answers in SNMPv2c
//! (RFC 3416, RFC 1901) and SNMPv3 with the User-based Security Model (RFC 3412, RFC 3414,
//! RFC 3826, RFC 7860), encoded and decoded here without I/O.
//!
//! [`encode_v2c_get`] and [`decode_v2c`] carry a community; [`encode_v3_get`] builds a GET as a
//! [`User`] at a security level (digest and encryption done here) and [`open_v3`] reads an
//! answer: it checks the digest of an authenticated one, decrypts an encrypted one and says
//! which USM report an agent sent instead of an answer ([`UsmReport`]). Decoding reads outside
//! input: it never panics, never reads past a length, and bounds object identifiers to
//! [`MAX_OID_ARCS`] arcs (the fuzz target `snmp` feeds it arbitrary bytes).

mod ber;
pub mod usm;

use std::fmt;

pub use usm::{AuthProtocol, LocalKey, MasterKey};

/// The most arcs an object identifier may have (RFC 2578 3.5).
pub const MAX_OID_ARCS: usize = 128;

/// The largest message upkeep says it accepts (`msgMaxSize`): the largest UDP payload.
pub const MAX_MESSAGE_SIZE: usize = 65_507;

/// Why bytes are not an SNMP message upkeep can read, as a phrase: "a length past the end of
/// the message".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError(pub &'static str);

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// An object identifier such as `1.3.6.1.2.1.1.3.0`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Oid(Vec<u32>);

impl Oid {
    /// Parses dotted decimal (a leading dot allowed): at least two arcs, the first 0, 1 or 2,
    /// the second below 40 unless the first is 2, at most [`MAX_OID_ARCS`].
    pub fn parse(text: &str) -> Result<Oid, String> {
        let digits = text.strip_prefix('.').unwrap_or(text);
        let bad = |why: &str| format!("bad OID `{text}`: {why}");
        let arcs = digits
            .split('.')
            .map(|arc| {
                if arc.is_empty() || !arc.bytes().all(|b| b.is_ascii_digit()) {
                    Err(bad(
                        "use numbers separated by dots, such as 1.3.6.1.2.1.1.3.0 (names need a MIB, which upkeep does not read)",
                    ))
                } else {
                    arc.parse::<u32>()
                        .map_err(|_| bad("an arc is larger than 4294967295"))
                }
            })
            .collect::<Result<Vec<u32>, String>>()?;
        match arcs.as_slice() {
            [] | [_] => Err(bad("an OID has at least two arcs")),
            _ if arcs.len() > MAX_OID_ARCS => Err(bad("an OID has at most 128 arcs")),
            [first, ..] if *first > 2 => Err(bad("the first arc is 0, 1 or 2")),
            [first, second, ..] if *first < 2 && *second >= 40 => {
                Err(bad("under 0 and 1 the second arc is below 40"))
            }
            _ => Ok(Oid(arcs)),
        }
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, arc) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(".")?;
            }
            write!(f, "{arc}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Oid({self})")
    }
}

/// A variable's value in an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// INTEGER (Integer32 and enumerations).
    Integer(i64),
    /// OCTET STRING.
    OctetString(Vec<u8>),
    /// NULL.
    Null,
    /// OBJECT IDENTIFIER.
    ObjectId(Oid),
    /// IpAddress.
    IpAddress([u8; 4]),
    /// Counter32.
    Counter32(u32),
    /// Gauge32 (Unsigned32).
    Gauge32(u32),
    /// TimeTicks: hundredths of a second.
    TimeTicks(u32),
    /// Opaque.
    Opaque(Vec<u8>),
    /// Counter64.
    Counter64(u64),
    /// noSuchObject: the agent implements no such object.
    NoSuchObject,
    /// noSuchInstance: the object exists but not this instance.
    NoSuchInstance,
    /// endOfMibView.
    EndOfMibView,
}

impl Value {
    /// The value as conditions read it: numbers in decimal, text as text (bytes that are not
    /// UTF-8 or hold control characters as hex pairs such as `00 1A 2B`), OIDs dotted and IP
    /// addresses as `10.0.0.1`; `None` for the three exceptions.
    pub fn text(&self) -> Option<String> {
        Some(match self {
            Value::Integer(n) => n.to_string(),
            Value::OctetString(bytes) => octets_text(bytes),
            Value::Null => String::new(),
            Value::ObjectId(oid) => oid.to_string(),
            Value::IpAddress([a, b, c, d]) => format!("{a}.{b}.{c}.{d}"),
            Value::Counter32(n) | Value::Gauge32(n) | Value::TimeTicks(n) => n.to_string(),
            Value::Opaque(bytes) => hex_pairs(bytes),
            Value::Counter64(n) => n.to_string(),
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView => return None,
        })
    }

    /// Whether the value is a number (so JSON carries it as one).
    pub fn is_number(&self) -> bool {
        matches!(
            self,
            Value::Integer(_)
                | Value::Counter32(_)
                | Value::Gauge32(_)
                | Value::TimeTicks(_)
                | Value::Counter64(_)
        )
    }

    /// The SMI name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Integer(_) => "INTEGER",
            Value::OctetString(_) => "OCTET STRING",
            Value::Null => "NULL",
            Value::ObjectId(_) => "OBJECT IDENTIFIER",
            Value::IpAddress(_) => "IpAddress",
            Value::Counter32(_) => "Counter32",
            Value::Gauge32(_) => "Gauge32",
            Value::TimeTicks(_) => "TimeTicks",
            Value::Opaque(_) => "Opaque",
            Value::Counter64(_) => "Counter64",
            Value::NoSuchObject => "noSuchObject",
            Value::NoSuchInstance => "noSuchInstance",
            Value::EndOfMibView => "endOfMibView",
        }
    }
}

fn octets_text(bytes: &[u8]) -> String {
    // Agents often end display strings with a NUL.
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    match std::str::from_utf8(trimmed) {
        Ok(text)
            if !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n')) =>
        {
            text.to_owned()
        }
        _ => hex_pairs(bytes),
    }
}

fn hex_pairs(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The PDU types upkeep sends or reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PduType {
    GetRequest,
    GetNextRequest,
    Response,
    SetRequest,
    GetBulkRequest,
    InformRequest,
    Trap,
    Report,
}

impl PduType {
    fn tag(self) -> u8 {
        match self {
            PduType::GetRequest => 0xa0,
            PduType::GetNextRequest => 0xa1,
            PduType::Response => 0xa2,
            PduType::SetRequest => 0xa3,
            PduType::GetBulkRequest => 0xa5,
            PduType::InformRequest => 0xa6,
            PduType::Trap => 0xa7,
            PduType::Report => 0xa8,
        }
    }

    fn of(tag: u8) -> Option<PduType> {
        Some(match tag {
            0xa0 => PduType::GetRequest,
            0xa1 => PduType::GetNextRequest,
            0xa2 => PduType::Response,
            0xa3 => PduType::SetRequest,
            0xa5 => PduType::GetBulkRequest,
            0xa6 => PduType::InformRequest,
            0xa7 => PduType::Trap,
            0xa8 => PduType::Report,
            _ => return None,
        })
    }
}

/// A protocol data unit: a request, an answer or a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pdu {
    pub kind: PduType,
    pub request_id: i32,
    pub error_status: i64,
    pub error_index: i64,
    pub varbinds: Vec<(Oid, Value)>,
}

/// The name of an error-status (RFC 3416 3), or `None` for one outside the standard's range.
pub fn error_status_name(status: i64) -> Option<&'static str> {
    const NAMES: [&str; 19] = [
        "noError",
        "tooBig",
        "noSuchName",
        "badValue",
        "readOnly",
        "genErr",
        "noAccess",
        "wrongType",
        "wrongLength",
        "wrongEncoding",
        "wrongValue",
        "noCreation",
        "inconsistentValue",
        "resourceUnavailable",
        "commitFailed",
        "undoFailed",
        "authorizationError",
        "notWritable",
        "inconsistentName",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|index| NAMES.get(index).copied())
}

fn encode_pdu(kind: PduType, request_id: i32, oids: &[Oid]) -> Vec<u8> {
    let mut list = Vec::new();
    for oid in oids {
        let mut bind = ber::tlv(ber::OBJECT_IDENTIFIER, &ber::oid_content(oid.arcs()));
        ber::put(&mut bind, ber::NULL, &[]);
        ber::put(&mut list, ber::SEQUENCE, &bind);
    }
    let mut content = ber::integer(i64::from(request_id));
    content.extend(ber::integer(0));
    content.extend(ber::integer(0));
    ber::put(&mut content, ber::SEQUENCE, &list);
    ber::tlv(kind.tag(), &content)
}

fn decode_pdu(reader: &mut ber::Reader<'_>) -> Result<Pdu, DecodeError> {
    let tlv = reader.any()?;
    let kind = PduType::of(tlv.tag).ok_or(DecodeError("an unknown PDU type"))?;
    let mut pdu = tlv.reader(reader.buf());
    let request_id = i32::try_from(pdu.integer("a request-id that is not an integer")?)
        .map_err(|_| DecodeError("a request-id out of range"))?;
    let error_status = pdu.integer("an error-status that is not an integer")?;
    let error_index = pdu.integer("an error-index that is not an integer")?;
    let mut list = pdu.enter(ber::SEQUENCE, "variable bindings that are not a sequence")?;
    let mut varbinds = Vec::new();
    while !list.is_empty() {
        let mut bind = list.enter(ber::SEQUENCE, "a variable binding that is not a sequence")?;
        let oid = bind.expect(ber::OBJECT_IDENTIFIER, "a variable binding without an OID")?;
        let oid = Oid(ber::oid_arcs(oid.content)?);
        let value = decode_value(bind.any()?)?;
        varbinds.push((oid, value));
    }
    Ok(Pdu {
        kind,
        request_id,
        error_status,
        error_index,
        varbinds,
    })
}

fn decode_value(tlv: ber::Tlv<'_>) -> Result<Value, DecodeError> {
    let small = |content: &[u8]| {
        u32::try_from(ber::unsigned(content)?).map_err(|_| DecodeError("a 32-bit value above 2^32"))
    };
    Ok(match tlv.tag {
        ber::INTEGER => Value::Integer(ber::signed(tlv.content)?),
        ber::OCTET_STRING => Value::OctetString(tlv.content.to_vec()),
        ber::NULL => Value::Null,
        ber::OBJECT_IDENTIFIER => Value::ObjectId(Oid(ber::oid_arcs(tlv.content)?)),
        0x40 => match tlv.content {
            [a, b, c, d] => Value::IpAddress([*a, *b, *c, *d]),
            _ => return Err(DecodeError("an IpAddress that is not 4 bytes")),
        },
        0x41 => Value::Counter32(small(tlv.content)?),
        0x42 => Value::Gauge32(small(tlv.content)?),
        0x43 => Value::TimeTicks(small(tlv.content)?),
        0x44 => Value::Opaque(tlv.content.to_vec()),
        0x46 => Value::Counter64(ber::unsigned(tlv.content)?),
        0x80 => Value::NoSuchObject,
        0x81 => Value::NoSuchInstance,
        0x82 => Value::EndOfMibView,
        _ => return Err(DecodeError("a value of an unknown type")),
    })
}

/// A GET of `oids` in SNMPv2c.
pub fn encode_v2c_get(community: &[u8], request_id: i32, oids: &[Oid]) -> Vec<u8> {
    let mut content = ber::integer(1);
    ber::put(&mut content, ber::OCTET_STRING, community);
    content.extend(encode_pdu(PduType::GetRequest, request_id, oids));
    ber::tlv(ber::SEQUENCE, &content)
}

/// An SNMPv1 or v2c message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommunityMessage {
    /// 0 for SNMPv1, 1 for SNMPv2c.
    pub version: i64,
    pub community: Vec<u8>,
    pub pdu: Pdu,
}

/// Reads an SNMPv1 or v2c message.
pub fn decode_v2c(bytes: &[u8]) -> Result<CommunityMessage, DecodeError> {
    let mut message = ber::Reader::new(bytes).enter(ber::SEQUENCE, "not a BER sequence")?;
    let version = message.integer("no version number")?;
    if !matches!(version, 0 | 1) {
        return Err(DecodeError("not an SNMPv1 or v2c message"));
    }
    let community = message.octets("no community")?.content.to_vec();
    let pdu = decode_pdu(&mut message)?;
    Ok(CommunityMessage {
        version,
        community,
        pdu,
    })
}

/// The version number an SNMP message says it is (0 for v1, 1 for v2c, 3 for v3).
pub fn message_version(bytes: &[u8]) -> Result<i64, DecodeError> {
    ber::Reader::new(bytes)
        .enter(ber::SEQUENCE, "not a BER sequence")?
        .integer("no version number")
}

/// The security level of SNMPv3 requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SecurityLevel {
    NoAuthNoPriv,
    AuthNoPriv,
    AuthPriv,
}

impl SecurityLevel {
    /// The name the standards use.
    pub fn name(self) -> &'static str {
        match self {
            SecurityLevel::NoAuthNoPriv => "noAuthNoPriv",
            SecurityLevel::AuthNoPriv => "authNoPriv",
            SecurityLevel::AuthPriv => "authPriv",
        }
    }
}

const FLAG_AUTH: u8 = 0x01;
const FLAG_PRIV: u8 = 0x02;
const FLAG_REPORTABLE: u8 = 0x04;
const USM: i64 = 3;

/// What an agent's engine said of itself (`msgAuthoritativeEngineID`, boots and time).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Engine {
    pub id: Vec<u8>,
    pub boots: u32,
    pub time: u32,
}

/// An SNMPv3 user with keys localised to the agent's engine. Its `Debug` shows the name and
/// the security level, never a key.
#[derive(Clone)]
pub struct User {
    pub name: Vec<u8>,
    /// The authentication key, for authNoPriv and authPriv.
    pub auth: Option<LocalKey>,
    /// The AES-128 privacy key, for authPriv.
    pub privacy: Option<[u8; 16]>,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("level", &self.level())
            .finish_non_exhaustive()
    }
}

impl User {
    pub fn level(&self) -> SecurityLevel {
        match (&self.auth, &self.privacy) {
            (Some(_), Some(_)) => SecurityLevel::AuthPriv,
            (Some(_), None) => SecurityLevel::AuthNoPriv,
            _ => SecurityLevel::NoAuthNoPriv,
        }
    }
}

/// One SNMPv3 GET to send.
#[derive(Clone, Debug)]
pub struct V3Get<'a> {
    pub msg_id: i32,
    pub request_id: i32,
    pub oids: &'a [Oid],
    pub context_name: &'a [u8],
    /// The engine to address: empty for discovery (then the user and keys are not used).
    pub engine: &'a Engine,
    /// 8 bytes that never repeat for a key (the AES salt).
    pub salt: [u8; 8],
}

/// An SNMPv3 GET as `user` at the user's security level; a discovery probe (no variables, no
/// user, no security) when `get.engine` has no id yet.
pub fn encode_v3_get(get: &V3Get<'_>, user: &User) -> Vec<u8> {
    let discovery = get.engine.id.is_empty();
    let level = if discovery {
        SecurityLevel::NoAuthNoPriv
    } else {
        user.level()
    };
    let oids = if discovery { &[][..] } else { get.oids };
    let mut scoped = Vec::new();
    ber::put(&mut scoped, ber::OCTET_STRING, &get.engine.id);
    ber::put(&mut scoped, ber::OCTET_STRING, get.context_name);
    scoped.extend(encode_pdu(PduType::GetRequest, get.request_id, oids));
    let mut scoped = ber::tlv(ber::SEQUENCE, &scoped);

    let (flags, priv_params) = match (level, user.privacy) {
        (SecurityLevel::AuthPriv, Some(key)) => {
            usm::aes_encrypt(
                &key,
                get.engine.boots,
                get.engine.time,
                &get.salt,
                &mut scoped,
            );
            scoped = ber::tlv(ber::OCTET_STRING, &scoped);
            (FLAG_AUTH | FLAG_PRIV, get.salt.to_vec())
        }
        (SecurityLevel::AuthNoPriv | SecurityLevel::AuthPriv, _) => (FLAG_AUTH, Vec::new()),
        (SecurityLevel::NoAuthNoPriv, _) => (0, Vec::new()),
    };
    let auth = user.auth.as_ref().filter(|_| flags & FLAG_AUTH != 0);
    let digest_len = auth.map_or(0, |key| key.protocol().digest_len());

    let mut head = ber::tlv(ber::OCTET_STRING, &get.engine.id);
    head.extend(ber::integer(i64::from(get.engine.boots)));
    head.extend(ber::integer(i64::from(get.engine.time)));
    ber::put(
        &mut head,
        ber::OCTET_STRING,
        if discovery { &[] } else { &user.name },
    );
    let auth_at_in_params = head.len() + ber::header_len(digest_len);
    ber::put(&mut head, ber::OCTET_STRING, &vec![0; digest_len]);
    ber::put(&mut head, ber::OCTET_STRING, &priv_params);
    let params = ber::tlv(ber::SEQUENCE, &head);
    let auth_at_in_params = ber::header_len(head.len()) + auth_at_in_params;

    let mut header = ber::integer(i64::from(get.msg_id));
    header.extend(ber::integer(MAX_MESSAGE_SIZE as i64));
    ber::put(&mut header, ber::OCTET_STRING, &[flags | FLAG_REPORTABLE]);
    header.extend(ber::integer(USM));

    let mut content = ber::integer(3);
    ber::put(&mut content, ber::SEQUENCE, &header);
    let auth_at_in_content = content.len() + ber::header_len(params.len()) + auth_at_in_params;
    ber::put(&mut content, ber::OCTET_STRING, &params);
    content.extend(scoped);
    let auth_at = ber::header_len(content.len()) + auth_at_in_content;
    let mut message = ber::tlv(ber::SEQUENCE, &content);
    if let Some(key) = auth {
        let digest = key.digest(&message);
        if let Some(slot) = message.get_mut(auth_at..auth_at + digest_len) {
            slot.copy_from_slice(&digest);
        }
    }
    message
}

/// The counters whose reports say why the USM refused a request (RFC 3414 5), or another
/// report's first variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsmReport {
    /// usmStatsUnsupportedSecLevels.
    UnsupportedSecLevel,
    /// usmStatsNotInTimeWindows: the engine's boots or time were stale (also how an agent
    /// tells an authenticated client its time).
    NotInTimeWindow,
    /// usmStatsUnknownUserNames.
    UnknownUserName,
    /// usmStatsUnknownEngineIDs: the answer to discovery.
    UnknownEngineId,
    /// usmStatsWrongDigests: wrong authentication key or protocol.
    WrongDigest,
    /// usmStatsDecryptionErrors: wrong privacy key or protocol.
    DecryptionError,
    /// Any other report (such as snmpUnknownContexts), by its first variable's OID; `None`
    /// for a report without variables.
    Other(Option<Oid>),
}

impl UsmReport {
    fn of(pdu: &Pdu) -> UsmReport {
        let Some((oid, _)) = pdu.varbinds.first() else {
            return UsmReport::Other(None);
        };
        match oid.arcs() {
            [1, 3, 6, 1, 6, 3, 15, 1, 1, counter, 0] => match counter {
                1 => UsmReport::UnsupportedSecLevel,
                2 => UsmReport::NotInTimeWindow,
                3 => UsmReport::UnknownUserName,
                4 => UsmReport::UnknownEngineId,
                5 => UsmReport::WrongDigest,
                6 => UsmReport::DecryptionError,
                _ => UsmReport::Other(Some(oid.clone())),
            },
            _ => UsmReport::Other(Some(oid.clone())),
        }
    }
}

/// An SNMPv3 message as read by [`open_v3`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct V3Answer {
    pub msg_id: i32,
    /// The engine as the message describes it.
    pub engine: Engine,
    pub user: Vec<u8>,
    /// Whether the digest was there and checked.
    pub authenticated: bool,
    pub what: V3Content,
}

/// What an SNMPv3 message carried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V3Content {
    /// A PDU other than a report (normally the response).
    Pdu(Pdu),
    /// A report: the agent refused the request.
    Report(UsmReport, Pdu),
}

/// Why an SNMPv3 message could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum V3Error {
    /// Not a well-formed SNMPv3 message.
    Decode(DecodeError),
    /// The message uses a security model other than the USM.
    NotUsm(i64),
    /// The message is authenticated but the digest is not the user's.
    WrongDigest,
    /// The message is authenticated or encrypted but the user has no key for it.
    NoKey,
    /// The encrypted part did not decrypt into a scoped PDU.
    Decryption,
}

impl From<DecodeError> for V3Error {
    fn from(err: DecodeError) -> V3Error {
        V3Error::Decode(err)
    }
}

/// Reads an SNMPv3 message sent to `user`: checks the digest when the message is
/// authenticated, decrypts it when it is encrypted.
pub fn open_v3(bytes: &[u8], user: &User) -> Result<V3Answer, V3Error> {
    let mut message = ber::Reader::new(bytes).enter(ber::SEQUENCE, "not a BER sequence")?;
    if message.integer("no version number")? != 3 {
        return Err(DecodeError("not an SNMPv3 message").into());
    }
    let mut header = message.enter(ber::SEQUENCE, "no header")?;
    let msg_id = i32::try_from(header.integer("no message id")?)
        .map_err(|_| DecodeError("a message id out of range"))?;
    header.integer("no maximum size")?;
    let flags = match header.octets("no flags")?.content {
        [flags] => *flags,
        _ => return Err(DecodeError("flags that are not one byte").into()),
    };
    let model = header.integer("no security model")?;
    if model != USM {
        return Err(V3Error::NotUsm(model));
    }
    let params = message.octets("no security parameters")?;
    let mut params = params
        .reader(bytes)
        .enter(ber::SEQUENCE, "security parameters that are not a sequence")?;
    let engine_id = params.octets("no engine id")?.content.to_vec();
    let boots = u32::try_from(params.integer("no engine boots")?)
        .map_err(|_| DecodeError("engine boots out of range"))?;
    let time = u32::try_from(params.integer("no engine time")?)
        .map_err(|_| DecodeError("engine time out of range"))?;
    let user_name = params.octets("no user name")?.content.to_vec();
    let digest = params.octets("no authentication parameters")?;
    let salt = params.octets("no privacy parameters")?.content;
    let engine = Engine {
        id: engine_id,
        boots,
        time,
    };

    let authenticated = flags & FLAG_AUTH != 0;
    if authenticated {
        let key = user.auth.as_ref().ok_or(V3Error::NoKey)?;
        let mut zeroed = bytes.to_vec();
        if let Some(slot) = zeroed.get_mut(digest.start..digest.start + digest.content.len()) {
            slot.fill(0);
        }
        if !key.verify(&zeroed, digest.content) {
            return Err(V3Error::WrongDigest);
        }
    }
    let plain;
    let mut scoped = if flags & FLAG_PRIV != 0 {
        if !authenticated {
            return Err(DecodeError("encrypted without authentication").into());
        }
        let key = user.privacy.ok_or(V3Error::NoKey)?;
        let salt: [u8; 8] = salt.try_into().map_err(|_| V3Error::Decryption)?;
        let mut data = message.octets("no encrypted PDU")?.content.to_vec();
        usm::aes_decrypt(&key, engine.boots, engine.time, &salt, &mut data);
        plain = data;
        ber::Reader::new(&plain)
            .enter(ber::SEQUENCE, "")
            .map_err(|_| V3Error::Decryption)?
    } else {
        message.enter(ber::SEQUENCE, "no scoped PDU")?
    };
    scoped.octets("no context engine id")?;
    scoped.octets("no context name")?;
    let pdu = decode_pdu(&mut scoped)?;
    let what = if pdu.kind == PduType::Report {
        V3Content::Report(UsmReport::of(&pdu), pdu)
    } else {
        V3Content::Pdu(pdu)
    };
    Ok(V3Answer {
        msg_id,
        engine,
        user: user_name,
        authenticated,
        what,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn oid(text: &str) -> Oid {
        Oid::parse(text).unwrap()
    }

    #[test]
    fn oids_parse_and_print() {
        assert_eq!(oid(".1.3.6.1.2.1.1.3.0").to_string(), "1.3.6.1.2.1.1.3.0");
        for bad in ["", "1", "1..3", "3.1", "1.40", "1.3.x", "1.3.99999999999"] {
            assert!(Oid::parse(bad).is_err(), "{bad}");
        }
        assert!(Oid::parse("sysUpTime.0").unwrap_err().contains("MIB"));
    }

    #[test]
    fn v2c_round_trips() {
        let oids = [oid("1.3.6.1.2.1.1.3.0"), oid("1.3.6.1.2.1.1.1.0")];
        let bytes = encode_v2c_get(b"secret", 77, &oids);
        let message = decode_v2c(&bytes).unwrap();
        assert_eq!(message.community, b"secret");
        assert_eq!(message.pdu.kind, PduType::GetRequest);
        assert_eq!(message.pdu.request_id, 77);
        assert_eq!(
            message.pdu.varbinds,
            vec![
                (oids[0].clone(), Value::Null),
                (oids[1].clone(), Value::Null)
            ]
        );
        assert_eq!(message_version(&bytes), Ok(1));
        // Every shorter prefix is refused, never a panic.
        for len in 0..bytes.len() {
            assert!(decode_v2c(&bytes[..len]).is_err());
        }
    }

    #[test]
    fn values_decode_and_read_as_text() {
        let cases: [(&[u8], Value, Option<&str>); 8] = [
            (&[0x02, 1, 0xff], Value::Integer(-1), Some("-1")),
            (
                &[0x41, 5, 0, 0xff, 0xff, 0xff, 0xff],
                Value::Counter32(u32::MAX),
                Some("4294967295"),
            ),
            (&[0x43, 2, 1, 0], Value::TimeTicks(256), Some("256")),
            (
                &[0x40, 4, 10, 0, 0, 1],
                Value::IpAddress([10, 0, 0, 1]),
                Some("10.0.0.1"),
            ),
            (
                &[0x04, 3, b'u', b'p', 0],
                Value::OctetString(b"up\0".to_vec()),
                Some("up"),
            ),
            (
                &[0x04, 2, 0, 0x1a],
                Value::OctetString(vec![0, 0x1a]),
                Some("00 1A"),
            ),
            (
                &[0x06, 3, 0x2b, 6, 1],
                Value::ObjectId(oid("1.3.6.1")),
                Some("1.3.6.1"),
            ),
            (&[0x80, 0], Value::NoSuchObject, None),
        ];
        for (bytes, value, text) in cases {
            let decoded = decode_value(ber::Reader::new(bytes).any().unwrap()).unwrap();
            assert_eq!(decoded, value);
            assert_eq!(decoded.text().as_deref(), text);
        }
        assert!(decode_value(ber::Reader::new(&[0x40, 3, 1, 2, 3]).any().unwrap()).is_err());
        assert!(decode_value(ber::Reader::new(&[0x41, 5, 1, 0, 0, 0, 0]).any().unwrap()).is_err());
    }

    #[test]
    fn v3_requests_open_with_the_same_keys_only() {
        let engine = Engine {
            id: b"\x80\x00\x1f\x88\x04engine".to_vec(),
            boots: 4,
            time: 1234,
        };
        let keys = |auth: &[u8], privacy: &[u8]| User {
            name: b"monitor".to_vec(),
            auth: Some(
                MasterKey::from_password(AuthProtocol::Sha256, auth)
                    .unwrap()
                    .localise(&engine.id),
            ),
            privacy: Some(
                MasterKey::from_password(AuthProtocol::Sha256, privacy)
                    .unwrap()
                    .localise(&engine.id)
                    .aes128(),
            ),
        };
        let user = keys(b"authpass1", b"privpass1");
        let oids = [oid("1.3.6.1.2.1.1.5.0")];
        let get = V3Get {
            msg_id: 9,
            request_id: 10,
            oids: &oids,
            context_name: b"",
            engine: &engine,
            salt: [7; 8],
        };
        let bytes = encode_v3_get(&get, &user);
        let opened = open_v3(&bytes, &user).unwrap();
        assert_eq!(opened.msg_id, 9);
        assert_eq!(opened.engine, engine);
        assert_eq!(opened.user, b"monitor");
        assert!(opened.authenticated);
        let V3Content::Pdu(pdu) = opened.what else {
            panic!("a PDU")
        };
        assert_eq!(pdu.request_id, 10);
        assert_eq!(pdu.varbinds, vec![(oids[0].clone(), Value::Null)]);

        assert_eq!(
            open_v3(&bytes, &keys(b"authpass2", b"privpass1")),
            Err(V3Error::WrongDigest)
        );
        assert_eq!(
            open_v3(&bytes, &keys(b"authpass1", b"privpass2")),
            Err(V3Error::Decryption)
        );
        for len in 0..bytes.len() {
            assert!(open_v3(&bytes[..len], &user).is_err());
        }

        // Discovery: no user, no security, no variables.
        let discovery = Engine::default();
        let probe = encode_v3_get(
            &V3Get {
                engine: &discovery,
                ..get
            },
            &user,
        );
        let opened = open_v3(&probe, &user).unwrap();
        assert!(!opened.authenticated && opened.user.is_empty());
        assert!(matches!(opened.what, V3Content::Pdu(pdu) if pdu.varbinds.is_empty()));
    }

    #[test]
    fn reports_name_their_counter() {
        let report = |text: &str| Pdu {
            kind: PduType::Report,
            request_id: 0,
            error_status: 0,
            error_index: 0,
            varbinds: vec![(oid(text), Value::Counter32(1))],
        };
        assert_eq!(
            UsmReport::of(&report("1.3.6.1.6.3.15.1.1.5.0")),
            UsmReport::WrongDigest
        );
        assert_eq!(
            UsmReport::of(&report("1.3.6.1.6.3.15.1.1.3.0")),
            UsmReport::UnknownUserName
        );
        assert_eq!(
            UsmReport::of(&report("1.3.6.1.6.3.12.1.5.0")),
            UsmReport::Other(Some(oid("1.3.6.1.6.3.12.1.5.0")))
        );
        assert_eq!(error_status_name(2), Some("noSuchName"));
        assert_eq!(error_status_name(99), None);
    }
}
