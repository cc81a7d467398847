//! `mqtt` probes: connect to a broker (optionally as a user), and where a `topic` is set,
//! subscribe to it and wait for one message — after publishing `payload` on it when set (a
//! round trip through the broker), or else the topic's retained message. The message's payload
//! is `[BODY]` for conditions (cut to [`MAX_TEXT_BYTES`], read as JSON when it is JSON).
//!
//! The URL, password and password file are those of the database kinds ([`super::database`]):
//! read and hidden the same way. The client is `rumqttc` (MQTT 3.1.1); each check uses a fresh
//! client id, a clean session, and disconnects politely.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{
    AsyncClient, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet, QoS,
    TlsConfiguration, Transport,
};
use upkeep_domain::config::{DatabaseCheck, MqttCheck};

use super::database::{MAX_TEXT_BYTES, address, masked, password};
use super::{Failure, Progress, Seen, io_error_text, stage};

/// Reached once the subscription is acknowledged.
const SUBSCRIBED: u8 = stage::HEADERS;

/// "connecting to the MQTT broker at mq:1883" or "waiting for a message on `topic` ...".
pub(super) fn describe(check: &MqttCheck, reached: u8) -> String {
    let server = &check.server;
    match &server.query {
        Some(topic) if reached >= SUBSCRIBED => format!(
            " waiting for a message on `{topic}` from the MQTT broker at {}",
            address(server)
        ),
        Some(topic) if reached >= stage::CONNECTED => format!(
            " subscribing to `{topic}` on the MQTT broker at {}",
            address(server)
        ),
        _ => format!(" connecting to the MQTT broker at {}", address(server)),
    }
}

pub(super) async fn probe(
    check: &MqttCheck,
    timeout: Duration,
    progress: &Progress,
) -> Result<Seen, Failure> {
    let password = password(&check.server).await?;
    let started = Instant::now();
    let message = exchange(check, password.as_deref(), timeout, progress)
        .await
        .map_err(|message| Failure::new(masked(message, password.as_deref())))?;
    let elapsed = started.elapsed();
    let (body, json) = match message {
        None => (None, None),
        Some(bytes) => {
            let text = bounded(&bytes);
            let json = serde_json::from_str(&text).ok();
            (Some(text), json)
        }
    };
    Ok(Seen {
        elapsed,
        body,
        json,
        ..Seen::default()
    })
}

/// `bytes` as lossy UTF-8, cut to [`MAX_TEXT_BYTES`] on a character boundary (for message
/// payloads: MQTT's and WebSocket's).
pub(super) fn bounded(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_TEXT_BYTES)]).into_owned();
    if bytes.len() > MAX_TEXT_BYTES && text.ends_with('\u{fffd}') {
        text.pop();
    }
    text
}

/// The broker's options from the check's URL: host, port, user, password, TLS.
fn options(check: &DatabaseCheck, password: Option<&str>) -> Result<MqttOptions, String> {
    let bad = |why: &str| format!("bad MQTT URL `{}`: {why}", check.shown_url());
    let url = url::Url::parse(&check.url).map_err(|err| bad(&err.to_string()))?;
    let tls = url.scheme() == "mqtts";
    let host = url.host_str().ok_or_else(|| bad("it has no host"))?;
    let port = url.port().unwrap_or(if tls { 8883 } else { 1883 });
    let id = format!("upkeep-{:016x}", rand::random::<u64>());
    let mut options = MqttOptions::new(id, host, port);
    options.set_clean_session(true);
    options.set_keep_alive(Duration::from_secs(60));
    let user = url.username();
    let url_password = url
        .password()
        .map(|p| {
            url::form_urlencoded::parse(format!("p={p}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    if !user.is_empty() {
        options.set_credentials(user, password.map_or(url_password, str::to_owned));
    } else if password.is_some() {
        return Err(bad("a password needs a user name in the URL"));
    }
    if tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
            Arc::new(super::web_roots_tls().map_err(|why| bad(&why))?),
        )));
    }
    Ok(options)
}

/// Connects, and with a topic subscribes (publishes) and waits for one message's payload.
async fn exchange(
    check: &MqttCheck,
    password: Option<&str>,
    timeout: Duration,
    progress: &Progress,
) -> Result<Option<Vec<u8>>, String> {
    let server = &check.server;
    let (client, mut events) = AsyncClient::new(options(server, password)?, 10);
    // The monitor's timeout bounds the whole check; the client's own is set past it.
    let mut network = events.network_options();
    network.set_connection_timeout(timeout.as_secs().saturating_add(1));
    events.set_network_options(network);
    let topic = server.query.as_deref();
    let mut answer = None;
    loop {
        let event = events
            .poll()
            .await
            .map_err(|err| mqtt_error(server, &err))?;
        let Event::Incoming(packet) = event else {
            continue;
        };
        match packet {
            Packet::ConnAck(_) => {
                progress.reached(stage::CONNECTED);
                match topic {
                    None => break,
                    Some(topic) => client
                        .try_subscribe(topic, QoS::AtLeastOnce)
                        .map_err(|err| format!("cannot subscribe to `{topic}`: {err}"))?,
                }
            }
            Packet::SubAck(ack) => {
                if ack
                    .return_codes
                    .iter()
                    .any(|code| matches!(code, rumqttc::SubscribeReasonCode::Failure))
                {
                    return Err(format!(
                        "the MQTT broker at {} refused the subscription to `{}`",
                        address(server),
                        topic.unwrap_or("")
                    ));
                }
                progress.reached(SUBSCRIBED);
                if let (Some(topic), Some(payload)) = (topic, &check.payload) {
                    client
                        .try_publish(topic, QoS::AtLeastOnce, false, payload.clone().into_bytes())
                        .map_err(|err| format!("cannot publish on `{topic}`: {err}"))?;
                }
            }
            Packet::Publish(publish) => {
                answer = Some(publish.payload.to_vec());
                break;
            }
            _ => {}
        }
    }
    // A failed goodbye does not fail a check whose answer is in.
    if client.try_disconnect().is_ok() {
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    }
    Ok(answer)
}

/// A client error in words.
fn mqtt_error(server: &DatabaseCheck, err: &ConnectionError) -> String {
    let broker = format!("the MQTT broker at {}", address(server));
    match err {
        ConnectionError::Io(io) => io_error_text(io, address(server)),
        ConnectionError::Tls(tls) => format!("TLS error with {broker}: {tls}"),
        ConnectionError::ConnectionRefused(code) => {
            let why = match code {
                ConnectReturnCode::BadUserNamePassword => "bad user name or password",
                ConnectReturnCode::NotAuthorized => "not authorized",
                ConnectReturnCode::BadClientId => "client id rejected",
                ConnectReturnCode::RefusedProtocolVersion => "MQTT 3.1.1 not supported",
                ConnectReturnCode::ServiceUnavailable => "service unavailable",
                ConnectReturnCode::Success => "no reason given",
            };
            if matches!(
                code,
                ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized
            ) {
                format!("{broker} refused the credentials: {why}")
            } else {
                format!("{broker} refused the connection: {why}")
            }
        }
        ConnectionError::NotConnAck(packet) => {
            format!("{broker} broke the protocol (is it MQTT?): expected CONNACK, got {packet:?}")
        }
        ConnectionError::MqttState(rumqttc::StateError::Io(io)) => {
            io_error_text(io, address(server))
        }
        other => format!("{broker}: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_are_bounded_on_character_boundaries() {
        assert_eq!(bounded(b"up"), "up");
        let long = "é".repeat(MAX_TEXT_BYTES);
        let text = bounded(long.as_bytes());
        assert!(text.len() <= MAX_TEXT_BYTES);
        assert!(text.chars().all(|c| c == 'é'));
    }
}
