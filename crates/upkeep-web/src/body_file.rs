//! Large snapshot bodies kept also in a sealed in-memory file (a Linux `memfd`), so that the
//! fast path ([`crate::wire`]) sends them with `sendfile`: the kernel hands the file's pages to
//! the socket rather than copying the body out of upkeep's memory for every answer, as nginx
//! does with the files it serves. On loopback and on most network cards that is one copy of
//! the body per answer instead of two.
//!
//! - Only bodies of at least [`SEND_FROM_FILE`] bytes get a file: below that, the second system
//!   call (the head, then the body) costs more than the copy saves.
//! - The file is sealed once written (`F_SEAL_WRITE`, `F_SEAL_SHRINK`, `F_SEAL_GROW`,
//!   `F_SEAL_SEAL`), so the bytes a socket is handed can never change under it; it is freed
//!   when the last snapshot holding its body is dropped.
//! - The body stays in memory as well (hyper, the compressed encodings and `HEAD` use it); a
//!   file costs the body's size again, in RAM.
//! - Where a file cannot be made (another system, a limit on open files), the body is written
//!   from memory as before: the file is an optimisation, never a condition.

use std::sync::Arc;

/// Identity bodies from this size on get a file.
pub const SEND_FROM_FILE: usize = 16 * 1024;

/// A body's bytes in a sealed in-memory file.
#[derive(Debug)]
pub struct BodyFile {
    #[cfg(target_os = "linux")]
    fd: std::os::fd::OwnedFd,
    len: usize,
}

/// Equal when of the same length: a file always holds its [`crate::status::snapshot::Body`]'s
/// plain bytes, which that comparison covers.
impl PartialEq for BodyFile {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len
    }
}

impl Eq for BodyFile {}

impl BodyFile {
    /// `bytes` in a sealed file, when they are large enough to be worth one and the file can
    /// be made (a failure is logged at debug level: the body is then written from memory).
    pub fn of(bytes: &[u8]) -> Option<Arc<BodyFile>> {
        if bytes.len() < SEND_FROM_FILE {
            return None;
        }
        match Self::make(bytes) {
            Ok(file) => Some(Arc::new(file)),
            Err(e) => {
                tracing::debug!(error = %e, bytes = bytes.len(), "a body is served from memory: no sealed file for it");
                None
            }
        }
    }

    #[cfg(target_os = "linux")]
    fn make(bytes: &[u8]) -> std::io::Result<BodyFile> {
        use nix::fcntl::{FcntlArg, SealFlag, fcntl};
        use nix::sys::memfd::{MFdFlags, memfd_create};
        use std::io::Write;

        let fd = memfd_create(
            "upkeep-body",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )?;
        let mut file = std::fs::File::from(fd);
        file.write_all(bytes)?;
        let fd = std::os::fd::OwnedFd::from(file);
        fcntl(
            &fd,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_WRITE
                    | SealFlag::F_SEAL_SHRINK
                    | SealFlag::F_SEAL_GROW
                    | SealFlag::F_SEAL_SEAL,
            ),
        )?;
        Ok(BodyFile {
            fd,
            len: bytes.len(),
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn make(_: &[u8]) -> std::io::Result<BodyFile> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

/// Writes `head`, then `file`'s bytes with `sendfile`, to `tcp`, waiting whenever the socket
/// takes no more. The head is sent with `MSG_MORE`, so it leaves in the body's first packet.
#[cfg(target_os = "linux")]
pub async fn send(
    tcp: &tokio::net::TcpStream,
    mut head: &[u8],
    file: &BodyFile,
) -> std::io::Result<()> {
    use nix::sys::socket::{MsgFlags, send};
    use std::os::fd::AsRawFd;
    use tokio::io::Interest;

    while !head.is_empty() {
        tcp.writable().await?;
        let sent = tcp.try_io(Interest::WRITABLE, || {
            send(
                tcp.as_raw_fd(),
                head,
                // nix names no MSG_MORE.
                MsgFlags::from_bits_retain(nix::libc::MSG_MORE) | MsgFlags::MSG_NOSIGNAL,
            )
            .map_err(std::io::Error::from)
        });
        match sent {
            Ok(n) => head = &head[n..],
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    let end = nix::libc::off_t::try_from(file.len).map_err(std::io::Error::other)?;
    let mut offset: nix::libc::off_t = 0;
    while offset < end {
        tcp.writable().await?;
        let sent = tcp.try_io(Interest::WRITABLE, || {
            let left = usize::try_from(end - offset).unwrap_or(usize::MAX);
            nix::sys::sendfile::sendfile(tcp, &file.fd, Some(&mut offset), left)
                .map_err(std::io::Error::from)
        });
        match sent {
            Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;
    use tokio::io::AsyncReadExt;

    #[test]
    fn small_bodies_get_no_file_and_a_files_bytes_cannot_change() {
        assert!(BodyFile::of(&[7; SEND_FROM_FILE - 1]).is_none());
        let file = BodyFile::of(&[7; SEND_FROM_FILE]).expect("a file");
        assert_eq!(file.len, SEND_FROM_FILE);
        let mut handle = std::fs::File::from(file.fd.try_clone().expect("dup"));
        use std::io::{Read, Seek, Write};
        assert!(
            handle.write_all(b"changed").is_err(),
            "sealed against writes"
        );
        assert!(handle.set_len(1).is_err(), "sealed against shrinking");
        handle.rewind().expect("rewind");
        let mut back = Vec::new();
        handle.read_to_end(&mut back).expect("read");
        assert_eq!(back, vec![7; SEND_FROM_FILE]);
    }

    #[tokio::test]
    async fn a_body_larger_than_the_socket_takes_arrives_whole_after_its_head() {
        // 3 MB, more than a socket's buffers hold: `sendfile` writes part, waits, goes on.
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let file = BodyFile::of(&body).expect("a file");
        let head = b"HTTP/1.1 200 OK\r\ncontent-length: 3000000\r\n\r\n".to_vec();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let expected: Vec<u8> = head.iter().chain(&body).copied().collect();
        let reader = tokio::spawn(async move {
            let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
            // A slow reader, so that the sender finds the socket full.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            let mut got = Vec::new();
            let mut chunk = vec![0u8; 7_000];
            for reads in 1.. {
                let n = client.read(&mut chunk).await.expect("read");
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&chunk[..n]);
                if reads % 20 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                }
            }
            got
        });
        let (server, _) = listener.accept().await.expect("accept");
        send(&server, &head, &file).await.expect("sent");
        drop(server);
        let got = reader.await.expect("reader");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the head, then the body, byte for byte");
    }
}
