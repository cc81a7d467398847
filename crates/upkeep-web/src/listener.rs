//! Accepting connections: a cap on concurrent connections (at the cap, new connections wait in
//! the kernel's accept queue until one closes, so one client opening thousands of sockets cannot
//! exhaust the process), and the client address every request carries.
//!
//! The client of a request is its TCP peer, unless the peer is one of `server.trusted_proxies`:
//! then it is taken from `X-Forwarded-For` by [`upkeep_domain::net::forwarded_client`]. Nothing
//! else ever reads a forwarded address, so a client that talks to upkeep directly cannot choose
//! its own.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::HeaderName;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use upkeep_domain::net::{Cidr, forwarded_client};

/// The real client of a request, as seen by handlers (`ConnectInfo<ClientAddr>`): what every
/// per-client limit keys on and what the logs name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The TCP peer of the connection a request came on (a proxy, when there is one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// `X-Forwarded-For`.
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The client of a request that came from `peer` with `headers`, believing forwarded addresses
/// only from `trusted` peers.
pub fn client_of(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    if trusted.is_empty() {
        return peer.to_canonical();
    }
    forwarded_client(
        peer,
        trusted,
        headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok()),
    )
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
