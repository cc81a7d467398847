//! Any bytes as an SNMP agent's answer, read as the `snmp` probe reads one: never panics; a
//! v2c message that decodes has a known PDU type and values whose text is bounded by the
//! input; an SNMPv3 message opened with or without keys never claims a digest it did not
//! check, and a request encoded from what decoded opens again with the same keys.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use upkeep_domain::snmp::{self, AuthProtocol, Engine, MasterKey, User, V3Content, V3Error, V3Get};

/// Keys derived once (the derivation hashes a megabyte).
fn users(engine_id: &[u8]) -> [User; 2] {
    static MASTER: OnceLock<(MasterKey, MasterKey)> = OnceLock::new();
    let (auth, privacy) = MASTER.get_or_init(|| {
        (
            MasterKey::from_password(AuthProtocol::Sha1, b"authpass1")
                .unwrap_or_else(|| unreachable!()),
            MasterKey::from_password(AuthProtocol::Sha1, b"privpass1")
                .unwrap_or_else(|| unreachable!()),
        )
    });
    [
        User {
            name: b"monitor".to_vec(),
            auth: None,
            privacy: None,
        },
        User {
            name: b"monitor".to_vec(),
            auth: Some(auth.localise(engine_id)),
            privacy: Some(privacy.localise(engine_id).aes128()),
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let _ = snmp::message_version(data);
    if let Ok(message) = snmp::decode_v2c(data) {
        for (oid, value) in &message.pdu.varbinds {
            assert!(oid.arcs().len() <= snmp::MAX_OID_ARCS);
            if let Some(text) = value.text() {
                // Hex pairs take three characters a byte at most.
                assert!(text.len() <= data.len() * 3 + 64);
            }
        }
        let oids: Vec<snmp::Oid> = message
            .pdu
            .varbinds
            .iter()
            .map(|(oid, _)| oid.clone())
            .collect();
        let again = snmp::encode_v2c_get(&message.community, message.pdu.request_id, &oids);
        let decoded = snmp::decode_v2c(&again).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(decoded.pdu.varbinds.len(), oids.len());
    }
    let [plain, keyed] = users(b"\x80\x00\x1f\x88\x04fuzz");
    match snmp::open_v3(data, &plain) {
        Ok(answer) => assert!(!answer.authenticated),
        Err(V3Error::Decode(_) | V3Error::NotUsm(_) | V3Error::NoKey) => {}
        Err(other) => panic!("without keys: {other:?}"),
    }
    if let Ok(answer) = snmp::open_v3(data, &keyed)
        && answer.engine.id.len() <= 32
    {
        let oids: Vec<snmp::Oid> = match &answer.what {
            V3Content::Pdu(pdu) | V3Content::Report(_, pdu) => {
                pdu.varbinds.iter().map(|(oid, _)| oid.clone()).collect()
            }
        };
        let [_, user] = users(&answer.engine.id);
        let engine: Engine = answer.engine.clone();
        let request = snmp::encode_v3_get(
            &V3Get {
                msg_id: answer.msg_id,
                request_id: 1,
                oids: &oids,
                context_name: b"",
                engine: &engine,
                salt: [3; 8],
            },
            &user,
        );
        let opened = snmp::open_v3(&request, &user).unwrap_or_else(|err| panic!("{err:?}"));
        assert!(engine.id.is_empty() || opened.authenticated);
    }
});
