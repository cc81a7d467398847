//! `websocket` probes: open the connection and upgrade it (`ws://`, or `wss://` with the
//! certificate checked against the web's roots); with a `message`, send it as text and wait for
//! the first text or binary message back, which is `[BODY]` for conditions (cut to
//! [`MAX_TEXT_BYTES`], read as JSON when it is JSON). The check ends with a close frame.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{Error, Message};
use upkeep_domain::config::{WebsocketCheck, hide_password};

use super::{Failure, Progress, Seen, io_error_text, stage};

/// `host[:port]` of the URL, for messages.
fn address(check: &WebsocketCheck) -> String {
    match url::Url::parse(&check.url) {
        Ok(url) => format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(80)
        ),
        Err(_) => hide_password(&check.url),
    }
}

/// "upgrading the connection to ws:1234" or "waiting for an answer from ...".
pub(super) fn describe(check: &WebsocketCheck, reached: u8) -> String {
    if reached >= stage::CONNECTED {
        format!(
            " waiting for an answer to the message from {}",
            address(check)
        )
    } else {
        format!(" upgrading to WebSocket at {}", address(check))
    }
}

pub(super) async fn probe(check: &WebsocketCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let bad = |why: String| {
        Failure::new(format!(
            "bad WebSocket URL `{}`: {why}",
            hide_password(&check.url)
        ))
    };
    let connector = if check.url.starts_with("wss://") {
        Some(tokio_tungstenite::Connector::Rustls(Arc::new(
            super::web_roots_tls().map_err(bad)?,
        )))
    } else {
        None
    };
    let (mut socket, _) = tokio_tungstenite::connect_async_tls_with_config(
        check.url.as_str(),
        None,
        false,
        connector,
    )
    .await
    .map_err(|err| Failure::new(error_text(check, &err)))?;
    progress.reached(stage::CONNECTED);
    let Some(message) = &check.message else {
        let _ = socket.close(None).await;
        return Ok(Seen {
            elapsed: started.elapsed(),
            ..Seen::default()
        });
    };
    socket
        .send(Message::text(message.clone()))
        .await
        .map_err(|err| Failure::new(error_text(check, &err)))?;
    let answer = loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => break super::mqtt::bounded(text.as_bytes()),
            Some(Ok(Message::Binary(bytes))) => break super::mqtt::bounded(&bytes),
            Some(Ok(Message::Close(frame))) => {
                return Err(Failure::new(format!(
                    "{} closed the connection without answering{}",
                    address(check),
                    frame
                        .map(|f| format!(" ({} {})", u16::from(f.code), f.reason))
                        .unwrap_or_default()
                )));
            }
            Some(Ok(_)) => continue,
            Some(Err(err)) => return Err(Failure::new(error_text(check, &err))),
            None => {
                return Err(Failure::new(format!(
                    "{} closed the connection without answering",
                    address(check)
                )));
            }
        }
    };
    let elapsed = started.elapsed();
    // A failed goodbye does not fail a check whose answer is in.
    let _ = socket.close(None).await;
    let json = serde_json::from_str(&answer).ok();
    Ok(Seen {
        elapsed,
        body: Some(answer),
        json,
        ..Seen::default()
    })
}

/// A client error in words.
fn error_text(check: &WebsocketCheck, err: &Error) -> String {
    let at = address(check);
    match err {
        Error::Io(io) => io_error_text(io, &at),
        Error::Tls(tls) => format!("TLS error with {at}: {tls}"),
        Error::Http(response) => format!(
            "{at} answered HTTP {} instead of switching to WebSocket",
            response.status().as_u16()
        ),
        Error::Url(why) => format!("bad WebSocket URL `{}`: {why}", hide_password(&check.url)),
        Error::ConnectionClosed | Error::AlreadyClosed => {
            format!("{at} closed the connection without answering")
        }
        Error::Protocol(why) => format!("{at} broke the WebSocket protocol: {why}"),
        other => format!("WebSocket at {at}: {other}"),
    }
}
