//! The public side's fast path below the HTTP stack: each connection starts here, and while
//! its requests are plain `GET`s of the snapshot's fixed paths ([`upkeep_domain::http_head`])
//! they are answered by writing prepared bytes — the body's prepared head lines
//! ([`crate::status::snapshot::BodyHeaders`]), its length, the date and the body — after the
//! same lookup, quota and metrics as [`crate::prepared`]. The first request that is anything
//! else (another path or method, a body, credentials, over quota, no snapshot yet, a head this
//! reader does not take) hands the connection, with every byte read so far, to hyper, which
//! serves the rest of it as it serves every connection. A large identity body is sent from
//! its sealed file with `sendfile` ([`crate::body_file`]) rather than copied from memory.
//!
//! What a client sees is the same either way: the same status, headers and body as hyper
//! writes for the prepared answer (the `upkeep` crate's `fast_path` tests compare the two
//! header for header and body for body, the date aside). Keep-alive, pipelined requests, the
//! header read timeout (a head must be whole within it; it is also the idle time of a
//! keep-alive connection) and graceful shutdown (an idle connection closes, an answer being
//! written finishes) hold here as they do in hyper.

use std::io::IoSlice;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use axum::http::HeaderMap;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio_util::sync::CancellationToken;
use upkeep_domain::http_head::{Head, read_head};

/// A head longer than this is left to hyper (whose own limit is larger).
const MAX_HEAD: usize = 16 * 1024;

/// How a connection left the fast path.
pub(crate) enum Outcome<S> {
    /// It is closed (the client closed it, an error, the header read timeout, shutdown).
    Closed,
    /// The rest of it is hyper's: `S`, after the bytes already read.
    Handoff(Prefixed<S>),
}

/// A connection's stream as the fast path writes to it: a large body is sent to a TCP
/// stream from its file ([`crate::body_file`]); to anything else, from memory.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin {
    /// The TCP stream, where a body can be sent from its file.
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        None
    }
}

impl Stream for tokio::net::TcpStream {
    fn tcp(&self) -> Option<&tokio::net::TcpStream> {
        Some(self)
    }
}

/// Serves `io`'s plain requests for `connection` until one is not plain (see the module).
pub(crate) async fn serve<S: Stream>(
    mut io: S,
    connection: &crate::Connection,
    header_read_timeout: Duration,
    draining: &CancellationToken,
) -> Outcome<S> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut start = 0;
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    // One timer for the connection: when it fires, a head that started less than the timeout
    // ago moves it on; one that started earlier closes the connection.
    let mut head_started = Instant::now();
    let timer = tokio::time::sleep(header_read_timeout);
    tokio::pin!(timer);
    let drained = draining.cancelled();
    tokio::pin!(drained);
    let mut draining_seen = false;
    loop {
        match read_head(&buf[start..]) {
            Head::Plain(get) => {
                let client = connection.client(get.forwarded_for);
                out.clear();
                let Some(body) = connection.prepared.answer_plain(&get, client, &mut out) else {
                    return handoff(io, buf, start);
                };
                start += get.len;
                if send(&mut io, &out, &body).await.is_err() {
                    return Outcome::Closed;
                }
                if start == buf.len() {
                    buf.clear();
                    start = 0;
                    if draining.is_cancelled() {
                        return Outcome::Closed;
                    }
                    head_started = Instant::now();
                }
                continue;
            }
            Head::Other => return handoff(io, buf, start),
            Head::Partial => {}
        }
        if buf.len() - start >= MAX_HEAD {
            return handoff(io, buf, start);
        }
        if start > 0 {
            buf.drain(..start);
            start = 0;
        }
        buf.reserve(4096);
        tokio::select! {
            biased;
            read = io.read_buf(&mut buf) => match read {
                Ok(0) | Err(_) => return Outcome::Closed,
                Ok(_) => {}
            },
            () = &mut timer => {
                let deadline = head_started + header_read_timeout;
                if Instant::now() >= deadline {
                    tracing::debug!("connection closed: no whole request head in time");
                    return Outcome::Closed;
                }
                timer.as_mut().reset(deadline.into());
            }
            () = &mut drained, if !draining_seen => {
                draining_seen = true;
                if buf.is_empty() {
                    return Outcome::Closed;
                }
            }
        }
    }
}

fn handoff<S>(io: S, mut buf: Vec<u8>, start: usize) -> Outcome<S> {
    buf.drain(..start);
    Outcome::Handoff(Prefixed {
        prefix: buf,
        at: 0,
        inner: io,
    })
}

/// Writes `head` then `body`: from the body's file where there is one and `io` is a TCP
/// stream, else from memory.
async fn send<S: Stream>(
    io: &mut S,
    head: &[u8],
    body: &crate::prepared::PlainBody,
) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    if let (Some(file), Some(tcp)) = (body.file.as_deref(), io.tcp()) {
        return crate::body_file::send(tcp, head, file).await;
    }
    write_both(io, head, &body.bytes).await
}

/// Writes `head` then `body`, in as few writes as the socket takes.
async fn write_both<S: AsyncWrite + Unpin>(
    io: &mut S,
    mut head: &[u8],
    mut body: &[u8],
) -> std::io::Result<()> {
    while !head.is_empty() || !body.is_empty() {
        let n = io
            .write_vectored(&[IoSlice::new(head), IoSlice::new(body)])
            .await?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let from_head = n.min(head.len());
        head = &head[from_head..];
        body = &body[n - from_head..];
    }
    Ok(())
}

/// `headers` as the lines of an HTTP/1.1 head (`name: value\r\n` each), appended to `out`.
pub(crate) fn header_lines(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends the head of a prepared answer to `out`: the status line, `lines` (the body's
/// prepared header lines), its length (not for a `304`), the date, and the blank line.
pub(crate) fn head(out: &mut Vec<u8>, not_modified: bool, lines: &[u8], length: usize) {
    if not_modified {
        out.extend_from_slice(b"HTTP/1.1 304 Not Modified\r\n");
    } else {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    }
    out.extend_from_slice(lines);
    if !not_modified {
        out.extend_from_slice(b"content-length: ");
        push_decimal(out, length);
        out.extend_from_slice(b"\r\n");
    }
    date_line(out);
    out.extend_from_slice(b"\r\n");
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        at -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

thread_local! {
    /// The `date` line of the current second, made once a second per thread.
    static DATE: std::cell::RefCell<(u64, Vec<u8>)> = const { std::cell::RefCell::new((u64::MAX, Vec::new())) };
}

/// Appends `date: <now as an HTTP date>\r\n`.
fn date_line(out: &mut Vec<u8>) {
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    DATE.with_borrow_mut(|(cached, line)| {
        if *cached != second {
            *cached = second;
            line.clear();
            line.extend_from_slice(b"date: ");
            line.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
            line.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line);
    });
}

/// A connection handed to hyper: what the fast path had read, then the socket.
pub(crate) struct Prefixed<S> {
    prefix: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Prefixed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if this.at < this.prefix.len() {
            let n = buf.remaining().min(this.prefix.len() - this.at);
            buf.put_slice(&this.prefix[this.at..this.at + n]);
            this.at += n;
            if this.at == this.prefix.len() {
                this.prefix = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Prefixed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_has_its_status_lines_length_and_date() {
        let mut out = Vec::new();
        head(&mut out, false, b"etag: \"t\"\r\n", 1234);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\netag: \"t\"\r\ncontent-length: 1234\r\ndate: "),
            "{text}"
        );
        assert!(text.ends_with(" GMT\r\n\r\n"), "{text}");

        let mut out = Vec::new();
        head(&mut out, true, b"etag: \"t\"\r\n", 0);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(
            text.starts_with("HTTP/1.1 304 Not Modified\r\netag: \"t\"\r\ndate: "),
            "{text}"
        );
        assert!(!text.contains("content-length"), "{text}");
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        for n in [0usize, 7, 10, 1_949_368, usize::MAX] {
            let mut out = b"x".to_vec();
            push_decimal(&mut out, n);
            assert_eq!(out, format!("x{n}").into_bytes());
        }
    }

    #[tokio::test]
    async fn a_handed_over_connection_reads_the_bytes_already_read_first() {
        let (client, server) = tokio::io::duplex(64);
        let mut prefixed = Prefixed {
            prefix: b"GET / HT".to_vec(),
            at: 0,
            inner: server,
        };
        let mut client = client;
        client
            .write_all(b"TP/1.1\r\n\r\n")
            .await
            .unwrap_or_default();
        drop(client);
        let mut all = Vec::new();
        prefixed.read_to_end(&mut all).await.unwrap_or_default();
        assert_eq!(all, b"GET / HTTP/1.1\r\n\r\n");
    }
}
