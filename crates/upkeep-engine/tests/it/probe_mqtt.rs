//! `mqtt` probes against the real broker named by `UPKEEP_TEST_MQTT_URL` (Mosquitto; see
//! `upkeep_store::testing::peer`): a healthy connect, a publish/subscribe round trip whose
//! payload conditions test both ways, a retained message read, and refused ports, silent
//! listeners and refused credentials explained in words, with the password never in the words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{SECRET, closed_port, failure, monitor, silent_listener};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!("{{ component: c, mqtt: {{ {fields} }}, {rest} }}"));
    Prober::new().unwrap().probe(&m).await
}

/// A topic no other test run uses.
fn topic(name: &str) -> String {
    format!("upkeep/test/{name}/{:016x}", rand::random::<u64>())
}

#[tokio::test]
async fn mqtt_connects_and_tests_a_round_trip() {
    let Some(url) = peer::mqtt_url() else {
        return;
    };
    let outcome = probe(&format!(r#"url: "{url}""#), "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");

    let round_trip = format!(
        r#"url: "{url}", topic: "{}", payload: '{{"status": "up", "lag": 2}}'"#,
        topic("round")
    );
    let outcome = probe(
        &round_trip,
        r#"timeout: 5s, conditions: ["[BODY].status == up", "[BODY].lag < 5", "[RESPONSE_TIME] < 5000"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe(
        &round_trip,
        r#"timeout: 5s, conditions: ["[BODY].lag > 10"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].lag > 10` failed: `lag` was 2"
    );
}

#[tokio::test]
async fn mqtt_reads_a_retained_message_and_times_out_without_one() {
    let Some(url) = peer::mqtt_url() else {
        return;
    };
    let retained = topic("retained");
    // Another client leaves a retained message on the topic, as a device reporting its state.
    let parsed = url::Url::parse(&url).unwrap();
    let mut options = rumqttc::MqttOptions::new(
        format!("upkeep-test-{:08x}", rand::random::<u32>()),
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(1883),
    );
    options.set_keep_alive(Duration::from_secs(5));
    let (client, mut events) = rumqttc::AsyncClient::new(options, 10);
    client
        .publish(&retained, rumqttc::QoS::AtLeastOnce, true, "online")
        .await
        .unwrap();
    loop {
        if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) = events.poll().await.unwrap() {
            break;
        }
    }

    let outcome = probe(
        &format!(r#"url: "{url}", topic: "{retained}""#),
        r#"timeout: 5s, conditions: ["[BODY] == online"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    // Clear the retained message; an empty topic has nothing to read.
    client
        .publish(&retained, rumqttc::QoS::AtLeastOnce, true, "")
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
    let quiet = topic("quiet");
    let outcome = probe(
        &format!(r#"url: "{url}", topic: "{quiet}""#),
        "timeout: 500ms",
    )
    .await;
    let host = format!(
        "{}:{}",
        parsed.host_str().unwrap(),
        parsed.port().unwrap_or(1883)
    );
    assert_eq!(
        failure(&outcome),
        format!(
            "timed out after 500 ms waiting for a message on `{quiet}` from the MQTT broker at {host}"
        )
    );
}

#[tokio::test]
async fn mqtt_refused_and_silent_brokers_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"url: "mqtt://{closed}""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let started = Instant::now();
    let outcome = probe(
        &format!(r#"url: "mqtt://monitor@{silent}", password: "{SECRET}", topic: t"#),
        "timeout: 500ms",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 500 ms connecting to the MQTT broker at {silent}")
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
}

/// A broker that answers every CONNECT with CONNACK "bad user name or password".
async fn refusing_broker() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 512];
                if stream.read(&mut buf).await.unwrap_or(0) > 0 {
                    let _ = stream.write_all(&[0x20, 0x02, 0x00, 0x04]).await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn mqtt_refused_credentials_are_explained_without_the_password() {
    let broker = refusing_broker().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mqtt-password");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let outcome = probe(
        &format!(
            r#"url: "mqtt://monitor@{broker}", password_file: "{}""#,
            file.display()
        ),
        "timeout: 5s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!("the MQTT broker at {broker} refused the credentials: bad user name or password")
    );
}
