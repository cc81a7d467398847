//! Accepting connections: a cap on concurrent connections (at the cap, new connections wait in
//! the kernel's accept queue until one closes, so one client opening thousands of sockets cannot
//! exhaust the process), and the client address every request carries.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The peer address of a connection, as seen by handlers (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

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
