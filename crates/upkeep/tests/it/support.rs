//! Shared by the binary's integration tests: run `upkeep` commands and a real `upkeep serve`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_upkeep");

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// Runs `upkeep ARGS` without the deployment's environment.
pub fn upkeep(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("UPKEEP_DATABASE_URL")
        .env_remove("UPKEEP_CONFIG")
        .output()
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command that succeeded: its stdout (the exit code and both streams otherwise).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A command that failed: its stderr.
pub fn failed(out: Output) -> String {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    text(&out.stderr)
}

/// A configuration: the test page's header, then `$rest` (a literal that starts on a new line).
macro_rules! page_config {
    ($rest:literal) => {
        concat!(
            "\npage:\n  name: Test Cloud\n  url: http://127.0.0.1:8080\n  timezone: Europe/Rome",
            $rest
        )
    };
}
pub(crate) use page_config;

/// A temporary directory holding `upkeep.yaml` and a SQLite database `upkeep.db`, removed on
/// drop.
pub struct Workspace {
    dir: tempfile::TempDir,
    /// The path of `upkeep.yaml`.
    pub config: String,
    /// The `sqlite://` URL of `upkeep.db`.
    pub db: String,
}

impl Workspace {
    /// An empty directory: no configuration written yet.
    pub fn empty() -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("upkeep.yaml").to_str().unwrap().to_owned();
        let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
        Workspace { dir, config, db }
    }

    /// A directory whose `upkeep.yaml` holds `yaml`.
    pub fn with_config(yaml: &str) -> Workspace {
        let ws = Workspace::empty();
        ws.write_config(yaml);
        ws
    }

    pub fn write_config(&self, yaml: &str) {
        std::fs::write(&self.config, yaml).unwrap();
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The `sqlite://` URL of another database file `name` in the directory.
    pub fn sqlite(&self, name: &str) -> String {
        format!("sqlite://{}", self.dir.path().join(name).display())
    }
}

/// A running `upkeep serve`, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: String,
    log: mpsc::Receiver<String>,
    /// Lines logged before the address line: work started with the server (a due backup, say)
    /// can log before the listener does, and `wait_log` must still find it.
    early: std::cell::RefCell<std::collections::VecDeque<String>>,
}

impl Server {
    pub fn start(args: &[&str], db_url: &str) -> Server {
        Server::start_on("127.0.0.1:0", args, db_url)
    }

    /// [`Server::start`] on a chosen address (a server restarted on the same port).
    pub fn start_on(listen: &str, args: &[&str], db_url: &str) -> Server {
        let mut child = Command::new(BIN)
            .arg("serve")
            .args(["--listen", listen, "--database", db_url])
            .args(args)
            .env_remove("UPKEEP_CONFIG")
            .env("UPKEEP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut early = std::collections::VecDeque::new();
        let addr = loop {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("upkeep did not report its address"));
            if line.starts_with('{') {
                let event: serde_json::Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("a JSON log line that is not JSON ({e}): {line}"));
                assert!(
                    event["timestamp"].is_string() && event["level"].is_string(),
                    "{line}"
                );
                if let Some(addr) = event["address"].as_str() {
                    break addr.to_owned();
                }
            } else if let Some(rest) = line.split("listening on http://").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
            early.push_back(line);
        };
        Server {
            child,
            addr,
            log: rx,
            early: std::cell::RefCell::new(early),
        }
    }

    pub fn request(&self, request: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> String {
        let auth = token
            .map(|t| format!("authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        self.request(&format!(
            "GET {path} HTTP/1.1\r\nhost: x\r\n{auth}connection: close\r\n\r\n"
        ))
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for a log line containing `needle`.
    pub fn wait_log(&self, needle: &str) -> String {
        while let Some(line) = self.early.borrow_mut().pop_front() {
            if line.contains(needle) {
                return line;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self
                .log
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(_) => panic!("no log line containing `{needle}`"),
            }
        }
    }

    /// Every log line written during the next `span`.
    pub fn lines_for(&self, span: Duration) -> Vec<String> {
        let deadline = Instant::now() + span;
        let mut lines = Vec::new();
        while let Ok(line) = self
            .log
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            lines.push(line);
        }
        lines
    }

    pub fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "upkeep did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn admin_token(db_url: &str) -> String {
    let out = upkeep(&[
        "token",
        "create",
        "--role",
        "admin",
        "--name",
        "test admin",
        "--database",
        db_url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().to_owned()
}

/// A loopback HTTP target answering every request `200` with `body`, one thread per
/// connection; returns its port.
pub fn http_target(body: &'static str) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}
