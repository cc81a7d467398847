//! A real HTTP/1.1 receiver for notification tests: it listens on a loopback port, reads each
//! request (head and `Content-Length` body), records it byte for byte (method, target, header
//! lines in order, body), and answers as its behaviour says — a status, a status with headers
//! and a body (a rate limit's `Retry-After`), a closed connection, or no answer at all.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the receiver does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    /// A status with more header lines (`Name: value`, CRLF-separated) and a body.
    Reply(u16, &'static str, &'static str),
    /// Close the connection without answering.
    Close,
    /// Never answer (the sender's timeout must fire).
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The request target (path and query).
    pub path: String,
    /// The header lines as sent, in order.
    pub lines: Vec<String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub answer: Answer,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

type Behaviour = dyn Fn(usize, &Received) -> Answer + Send + Sync;

/// A running receiver.
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts a receiver; `behaviour(n, request)` decides the answer to the n-th request (0-based).
    pub async fn start(
        behaviour: impl Fn(usize, &Received) -> Answer + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let behaviour: Arc<Behaviour> = Arc::new(behaviour);
        let log = Arc::clone(&received);
        let task = tokio::spawn(async move {
            let counter = Arc::new(Mutex::new(0_usize));
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (log, behaviour, counter) = (
                    Arc::clone(&log),
                    Arc::clone(&behaviour),
                    Arc::clone(&counter),
                );
                tokio::spawn(async move {
                    loop {
                        let Some(mut req) = read_request(&mut socket).await else {
                            return;
                        };
                        let n = {
                            let mut c = counter.lock().unwrap();
                            *c += 1;
                            *c - 1
                        };
                        let answer = behaviour(n, &req);
                        req.answer = answer;
                        match answer {
                            Answer::Status(_) | Answer::Reply(..) => {
                                let Some(head) = answer_bytes(answer) else {
                                    return;
                                };
                                let written = socket.write_all(head.as_bytes()).await.is_ok();
                                // Recorded once the answer is on its way: a request whose
                                // answer could not be written was not received.
                                if !written {
                                    return;
                                }
                                log.lock().unwrap().push(req);
                            }
                            Answer::Close => {
                                log.lock().unwrap().push(req);
                                return;
                            }
                            Answer::Hang => {
                                log.lock().unwrap().push(req);
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            }
                        }
                    }
                });
            }
        });
        Receiver {
            url,
            received,
            task,
        }
    }

    pub fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Requests answered with a 2xx.
    pub fn accepted(&self) -> Vec<Received> {
        self.all()
            .into_iter()
            .filter(|r| {
                matches!(r.answer, Answer::Status(c) | Answer::Reply(c, ..) if (200..300).contains(&c))
            })
            .collect()
    }
}

/// The bytes of a status answer.
fn answer_bytes(answer: Answer) -> Option<String> {
    match answer {
        Answer::Reply(code, extra, body) => {
            let extra = if extra.is_empty() {
                String::new()
            } else {
                format!("{extra}\r\n")
            };
            Some(format!(
                "HTTP/1.1 {code} X\r\ncontent-length: {}\r\n{extra}\r\n{body}",
                body.len()
            ))
        }
        Answer::Status(code) => Some(format!(
            "HTTP/1.1 {code} X\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"
        )),
        Answer::Close | Answer::Hang => None,
    }
}

async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0_u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next()?;
    let method = request_line.split(' ').next().unwrap_or("").to_owned();
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    let raw_lines: Vec<String> = lines
        .clone()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    Some(Received {
        method,
        path,
        lines: raw_lines,
        headers,
        body,
        answer: Answer::Status(0),
    })
}
