//! `snmp` probes against the real net-snmp agent (`snmpd`, started by each test on a loopback
//! UDP port with a configuration it writes in a temporary directory): SNMPv2c and SNMPv3 at
//! every security level reading values that conditions test as numbers and as text, and a
//! wrong community (silence), wrong keys, an unknown user, absent objects and a closed port
//! explained in words, with the community and keys never in the words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{SECRET, failure, monitor};

/// The privacy password of `privuser` (the auth password, and the community, are [`SECRET`]).
const PRIV_KEY: &str = "priv-Pass-77";
/// An OID the agent answers with the integer 87 (`override`).
const GAUGE_OID: &str = "1.3.6.1.4.1.2021.255.1.0";
/// An OID the agent answers with the text "up".
const STATE_OID: &str = "1.3.6.1.4.1.2021.255.2.0";
const SYS_DESCR: &str = "1.3.6.1.2.1.1.1.0";
const SYS_UPTIME: &str = "1.3.6.1.2.1.1.3.0";

/// A running `snmpd`, killed when dropped.
struct Agent {
    child: Child,
    address: String,
    dir: tempfile::TempDir,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Agent {
    /// A file in the agent's directory holding `text`.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// Starts `snmpd` on 127.0.0.1 with a v2c community, three SNMPv3 users (one per security
/// level) and two overridden OIDs; `None` after skipping when `snmpd` is missing.
fn agent() -> Option<Agent> {
    let snmpd = peer::snmpd()?;
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("snmpd.conf");
    std::fs::write(
        &conf,
        format!(
            "rocommunity {SECRET} 127.0.0.1\n\
             createUser privuser SHA-256 \"{SECRET}\" AES \"{PRIV_KEY}\"\n\
             createUser authuser SHA \"{SECRET}\"\n\
             createUser plainuser\n\
             rouser privuser priv\n\
             rouser authuser auth\n\
             rouser plainuser noauth\n\
             sysDescr upkeep test agent\n\
             override {GAUGE_OID} integer 87\n\
             override {STATE_OID} octet_str up\n"
        ),
    )
    .unwrap();
    // A free UDP port (bound, then released for snmpd).
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path().join("snmpd.log");
    let child = Command::new(snmpd)
        .args(["-f", "-Lo", "-C", "-c"])
        .arg(&conf)
        .arg(format!("udp:127.0.0.1:{port}"))
        .env("SNMP_PERSISTENT_DIR", dir.path().join("persist"))
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let agent = Agent {
        child,
        address: format!("127.0.0.1:{port}"),
        dir,
    };
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("NET-SNMP version") {
            return Some(agent);
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "snmpd did not start:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn probe(agent: &Agent, fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!(
        r#"{{ component: c, snmp: {{ address: "{}", {fields} }}, {rest} }}"#,
        agent.address
    ));
    Prober::new().unwrap().probe(&m).await
}

fn v2c() -> String {
    format!(r#"community: "{SECRET}""#)
}

fn v3_priv(auth: &str, privacy: &str) -> String {
    format!(
        r#"user: privuser, auth_protocol: sha256, auth_key: "{auth}", priv_protocol: aes, priv_key: "{privacy}""#
    )
}

#[tokio::test]
async fn snmp_v2c_reads_values_that_conditions_test() {
    let Some(agent) = agent() else {
        return;
    };
    let outcome = probe(
        &agent,
        &format!("{}, oid: {SYS_DESCR}", v2c()),
        r#"timeout: 5s, conditions: ["[VALUE] == \"upkeep test agent\"", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let numeric = format!("{}, oid: {GAUGE_OID}", v2c());
    let outcome = probe(
        &agent,
        &numeric,
        r#"timeout: 5s, conditions: ["[VALUE] < 90"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = probe(
        &agent,
        &numeric,
        r#"timeout: 5s, conditions: ["[VALUE] > 90"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[VALUE] > 90` failed: the value was 87"
    );

    // Several OIDs: [VALUE] is the first, [BODY][i] each in order; the community from a file.
    let file = agent.file("community", &format!("{SECRET}\n"));
    let several = format!(
        "community_file: \"{}\", oid: [{STATE_OID}, {GAUGE_OID}, {SYS_UPTIME}]",
        file.display()
    );
    let outcome = probe(
        &agent,
        &several,
        r#"timeout: 5s, conditions: ["[VALUE] == \"up\"", "[BODY][1] >= 87", "[BODY][2] > 0"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = probe(
        &agent,
        &several,
        r#"timeout: 5s, conditions: ["[VALUE] == \"down\""]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        r#"condition `[VALUE] == "down"` failed: the value was "up""#
    );
}

#[tokio::test]
async fn snmp_v2c_with_a_wrong_community_times_out_in_words() {
    let Some(agent) = agent() else {
        return;
    };
    let outcome = probe(
        &agent,
        &format!(r#"community: "not-the-community", oid: {SYS_DESCR}"#),
        "timeout: 2s",
    )
    .await;
    let text = failure(&outcome);
    assert_eq!(
        text,
        format!(
            "timed out after 2 s waiting for the SNMP agent at {} to answer (SNMPv2c: an agent \
             drops a request with a wrong community without a word, so a wrong community looks \
             like this too)",
            agent.address
        )
    );
    assert!(!text.contains("not-the-community"), "{text}");
}

#[tokio::test]
async fn snmp_absent_objects_and_a_closed_port_fail_in_words() {
    let Some(agent) = agent() else {
        return;
    };
    let at = &agent.address;
    let outcome = probe(
        &agent,
        &format!("{}, oid: 1.3.6.1.4.1.99999.1.0", v2c()),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SNMP agent at {at} has no such object (noSuchObject): the OID is not \
             implemented or not in the view of this community or user: 1.3.6.1.4.1.99999.1.0"
        )
    );
    let outcome = probe(
        &agent,
        &format!("{}, oid: 1.3.6.1.2.1.1.1.7", v2c()),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SNMP agent at {at} has the object but no such instance (noSuchInstance): \
             1.3.6.1.2.1.1.1.7"
        )
    );

    let missing = agent.dir.path().join("no-such-file");
    let outcome = probe(
        &agent,
        &format!(
            "community_file: \"{}\", oid: {SYS_DESCR}",
            missing.display()
        ),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "cannot read the community file {}: No such file or directory (os error 2)",
            missing.display()
        )
    );

    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let m = monitor(&format!(
        r#"{{ component: c, snmp: {{ address: "{closed}", {}, oid: {SYS_DESCR} }}, timeout: 5s }}"#,
        v2c()
    ));
    let outcome = Prober::new().unwrap().probe(&m).await;
    assert_eq!(
        failure(&outcome),
        format!(
            "connection refused by {closed} (ICMP port unreachable: no SNMP agent listens on \
             that UDP port)"
        )
    );
}

#[tokio::test]
async fn snmp_v3_reads_at_every_security_level() {
    let Some(agent) = agent() else {
        return;
    };
    let outcome = probe(
        &agent,
        &format!("{}, oid: {GAUGE_OID}", v3_priv(SECRET, PRIV_KEY)),
        r#"timeout: 10s, conditions: ["[VALUE] == 87", "[VALUE] < 90"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let key = agent.file("auth-key", &format!("{SECRET}\n"));
    let outcome = probe(
        &agent,
        &format!(
            "user: authuser, auth_protocol: sha, auth_key_file: \"{}\", oid: {STATE_OID}",
            key.display()
        ),
        r#"timeout: 10s, conditions: ["[VALUE] == \"up\""]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe(
        &agent,
        &format!("user: plainuser, oid: {SYS_DESCR}"),
        r#"timeout: 10s, conditions: ["[VALUE] contains test"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn snmp_v3_refusals_are_explained_in_words() {
    let Some(agent) = agent() else {
        return;
    };
    let at = &agent.address;
    let outcome = probe(
        &agent,
        &format!("{}, oid: {SYS_DESCR}", v3_priv("wrong-auth-key", PRIV_KEY)),
        "timeout: 10s",
    )
    .await;
    let text = failure(&outcome);
    assert_eq!(
        text,
        format!(
            "authentication failed at the SNMP agent at {at} for user \"privuser\": wrong auth \
             key or auth protocol (usmStatsWrongDigests)"
        )
    );
    assert!(!text.contains("wrong-auth-key") && !text.contains(PRIV_KEY));

    // AES-CFB decrypts anything: with a wrong priv key the agent reads nonsense and drops it.
    let outcome = probe(
        &agent,
        &format!("{}, oid: {SYS_DESCR}", v3_priv(SECRET, "wrong-priv-key")),
        "timeout: 3s",
    )
    .await;
    let text = failure(&outcome);
    assert_eq!(
        text,
        format!(
            "timed out after 3 s waiting for the SNMP agent at {at} to answer the GET as user \
             \"privuser\" (authPriv: an agent drops a request that decrypts into nonsense \
             without a word, so a wrong priv key looks like this too)"
        )
    );
    assert!(!text.contains("wrong-priv-key"));

    let outcome = probe(
        &agent,
        &format!(r#"user: nobody, auth_protocol: sha, auth_key: "{SECRET}", oid: {SYS_DESCR}"#),
        "timeout: 10s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SNMP agent at {at} does not know the user \"nobody\" (usmStatsUnknownUserNames)"
        )
    );

    // authuser has no privacy key on the agent's side, so it cannot ask at authPriv.
    let outcome = probe(
        &agent,
        &format!(
            r#"user: authuser, auth_protocol: sha, auth_key: "{SECRET}", priv_key: "{PRIV_KEY}", oid: {SYS_DESCR}"#
        ),
        "timeout: 10s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SNMP agent at {at} does not accept user \"authuser\" at security level \
             authPriv (usmStatsUnsupportedSecLevels)"
        )
    );

    let outcome = probe(
        &agent,
        &format!("{}, oid: 1.3.6.1.4.1.99999.1.0", v3_priv(SECRET, PRIV_KEY)),
        "timeout: 10s",
    )
    .await;
    assert!(failure(&outcome).contains("(noSuchObject)"), "{outcome:?}");
}
