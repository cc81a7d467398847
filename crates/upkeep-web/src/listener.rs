//! Accepting connections: a cap on concurrent connections (at the cap, new connections wait in
//! the kernel's accept queue until one closes, so one client opening thousands of sockets cannot
//! exhaust the process), and the client address every request carries.
//!
//! The client of a request is its TCP peer, unless the peer is one of `server.trusted_proxies`:
//! then it is taken from `X-Forwarded-For` by [`upkeep_domain::net::forwarded_client`]. With
//! `server.proxy_protocol`, a connection from a trusted proxy must start with a PROXY protocol
//! header ([`read_proxy_header`]; v1 or v2), whose source address stands for the peer (a
//! connection without one is closed); a connection from anyone else is read as plain HTTP, so
//! its PROXY line is a bad request, never believed. Nothing else ever reads a forwarded
//! address, so a client that talks to upkeep directly cannot choose its own.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use axum::http::header::HeaderName;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use upkeep_domain::net::{Cidr, ProxyHeader, forwarded_client, proxy_header};

/// The real client of a request, as seen by handlers (`ConnectInfo<ClientAddr>`): what every
/// per-client limit keys on and what the logs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The TCP peer of the connection a request came on (a proxy, when there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// `X-Forwarded-For`.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client of a request that came from `peer` with `forwarded_for` (its
/// `X-Forwarded-For` values, [`forwarded_for`]), believing forwarded addresses only from
/// `trusted` peers.
pub fn client_of<'h>(
    peer: IpAddr,
    forwarded_for: impl IntoIterator<Item = &'h str>,
    trusted: &[Cidr],
) -> IpAddr {
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    forwarded_client(peer, trusted, forwarded_for)
}

/// The `X-Forwarded-For` values of `headers` that are text.
pub fn forwarded_for(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|value| value.to_str().ok())
}

/// [`TcpListener`] with a connection cap.
#[derive(Debug)]
pub struct LimitedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

/// A connection slot, held for as long as the connection is open.
#[derive(Debug)]
pub struct Slot(#[allow(dead_code)] OwnedSemaphorePermit);

impl LimitedListener {
    pub fn new(inner: TcpListener, max_connections: usize) -> Self {
        Self {
            inner,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
        }
    }

    /// The next connection, once a slot is free. Accept errors (out of file descriptors, a
    /// connection reset before it was accepted) are logged and retried after a pause.
    pub async fn accept(&self) -> (TcpStream, SocketAddr, Slot) {
        loop {
            let Ok(permit) = Arc::clone(&self.slots).acquire_owned().await else {
                // The semaphore is never closed; keep the loop total anyway.
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    return (stream, addr, Slot(permit));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}

/// Open connections per client address (keyed like the rate limits, by
/// [`crate::rate_limit::client_key`]), so one host cannot hold every connection slot.
#[derive(Debug, Default, Clone)]
pub struct PerClient {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One connection counted against its client, released on drop.
#[derive(Debug)]
pub struct ClientConnection {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    key: IpAddr,
}

impl PerClient {
    /// Counts a connection from `peer` unless it already holds `cap` of them (`cap == 0`: no
    /// cap). `None` when the connection must be refused.
    pub fn admit(&self, peer: IpAddr, cap: usize) -> Option<ClientConnection> {
        let key = crate::rate_limit::client_key(peer);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key).or_insert(0);
        if cap > 0 && *count >= cap {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            open: Arc::clone(&self.open),
            key,
        })
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Reads the PROXY protocol header that starts `stream`, exactly (the HTTP request after it is
/// left unread): the client's address, or `None` when the header names none (`LOCAL`,
/// `UNKNOWN`). An error when the connection does not start with a valid header.
pub async fn read_proxy_header(stream: &mut TcpStream) -> std::io::Result<Option<SocketAddr>> {
    let mut buf = Vec::with_capacity(64);
    loop {
        match proxy_header(&buf) {
            ProxyHeader::Done { source, .. } => return Ok(source),
            ProxyHeader::NeedMore(n) => {
                let start = buf.len();
                buf.resize(start + n, 0);
                stream.read_exact(&mut buf[start..]).await?;
            }
            ProxyHeader::Invalid => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the connection does not start with a PROXY protocol header",
                ));
            }
        }
    }
}
