//! `ssh` probes: connect and read the server's identification (`SSH-2.0-OpenSSH_9.2p1 ...`),
//! which is `[BODY]`. With `host_key`, the key exchange follows and the server's host key must
//! have the pinned fingerprint, or the check fails before anything is sent under that key. With
//! `command` (the operator's opt-in, which needs the pin), the probe logs in as `user` with a
//! private key file or a password, runs the command, and its exit status is `[STATUS]` and its
//! output `[BODY]` (cut to [`MAX_TEXT_BYTES`], read as JSON when it is JSON). A non-zero exit
//! fails the check unless a condition tests `[STATUS]`.
//!
//! The identification is read here (parsed by `upkeep_domain::protocol_lines`) and the bytes
//! read are handed on to `russh`, which speaks the rest of the protocol on `ring`.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, client};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use upkeep_domain::config::SshCheck;
use upkeep_domain::protocol_lines::{MAX_LINES_BEFORE_IDENTIFICATION, SshIdentification};

use super::database::{MAX_TEXT_BYTES, masked};
use super::mqtt::bounded;
use super::{Failure, Progress, Seen, connect, io_error_text, stage};

/// Reached once the identification was read.
const IDENTIFIED: u8 = stage::HEADERS;
/// Reached once the host key matched the pin.
const KEYED: u8 = 3;
/// Reached once the server accepted the login.
const RUNNING: u8 = 4;

/// The most bytes read before the identification is complete.
const MAX_IDENTIFICATION_BYTES: usize = 8 * 1024;
/// The most bytes of the command's standard error kept for the failure's words.
const MAX_STDERR_BYTES: usize = 1024;

/// "connecting to the SSH server at host:22", "waiting for the command ... to finish", ...
pub(super) fn describe(check: &SshCheck, reached: u8) -> String {
    let at = &check.address;
    match reached {
        0 => format!(" connecting to the SSH server at {at}"),
        stage::CONNECTED => format!(" waiting for the identification of the SSH server at {at}"),
        IDENTIFIED => format!(" in the key exchange with the SSH server at {at}"),
        KEYED => format!(
            " logging in to the SSH server at {at} as `{}`",
            check.user.as_deref().unwrap_or("")
        ),
        _ => format!(
            " waiting for the command `{}` on {at} to finish",
            check.command.as_deref().unwrap_or("")
        ),
    }
}

/// "the SSH server at host:22 WHAT".
fn fail(check: &SshCheck, what: &str) -> Failure {
    Failure::new(format!("the SSH server at {} {what}", check.address))
}

/// How the probe logs in.
enum Login {
    Key(Arc<russh::keys::PrivateKey>),
    Password(String),
}

pub(super) async fn probe(
    check: &SshCheck,
    status_tested: bool,
    progress: &Progress,
) -> Result<Seen, Failure> {
    let login = match &check.command {
        Some(_) => Some(login(check).await?),
        None => None,
    };
    let password = match &login {
        Some(Login::Password(password)) => Some(password.clone()),
        _ => None,
    };
    let started = Instant::now();
    let mut stream = connect(&check.address, progress).await?;
    let (identification, read) = identification(check, &mut stream).await?;
    progress.reached(IDENTIFIED);
    let banner = Seen {
        body: Some(identification.line()),
        json: Some(serde_json::json!({
            "protocol": identification.protocol,
            "software": identification.software,
            "comments": identification.comments.clone().unwrap_or_default(),
        })),
        ..Seen::default()
    };
    let Some(pinned) = &check.host_key else {
        return Ok(Seen {
            elapsed: started.elapsed(),
            ..banner
        });
    };
    // russh reads the identification again from the bytes already read.
    let (reader, writer) = stream.into_split();
    let stream = tokio::io::join(std::io::Cursor::new(read).chain(reader), writer);
    let presented = Arc::new(Mutex::new(None));
    let handler = Pinned {
        pinned: pinned.clone(),
        presented: Arc::clone(&presented),
    };
    let config = Arc::new(client::Config::default());
    let mut session = client::connect_stream(config, stream, handler)
        .await
        .map_err(
            |err| match presented.lock().ok().and_then(|seen| seen.clone()) {
                Some(seen) if seen != *pinned => fail(
                    check,
                    &format!(
                        "presented the host key {seen}, not the pinned {pinned}: refused (a \
                     reinstalled server, or another machine answering at this address)"
                    ),
                ),
                _ => Failure::new(ssh_error(check, &err)),
            },
        )?;
    progress.reached(KEYED);
    let (Some(command), Some(user), Some(login)) = (&check.command, &check.user, login) else {
        let elapsed = started.elapsed();
        goodbye(&session).await;
        return Ok(Seen { elapsed, ..banner });
    };
    let auth = match login {
        Login::Key(key) => {
            let hash = session
                .best_supported_rsa_hash()
                .await
                .ok()
                .flatten()
                .flatten();
            session
                .authenticate_publickey(user, PrivateKeyWithHashAlg::new(key, hash))
                .await
        }
        Login::Password(ref password) => session.authenticate_password(user, password).await,
    }
    .map_err(|err| Failure::new(masked(ssh_error(check, &err), password.as_deref())))?;
    if !auth.success() {
        goodbye(&session).await;
        return Err(fail(
            check,
            &format!("refused the credentials of `{user}` (bad credentials)"),
        ));
    }
    progress.reached(RUNNING);
    let outcome = run(&session, command)
        .await
        .map_err(|err| Failure::new(ssh_error(check, &err)))?;
    let elapsed = started.elapsed();
    goodbye(&session).await;
    let Some(exit) = outcome.status else {
        return Err(fail(
            check,
            &format!(
                "ended the command `{command}` without an exit status{}",
                outcome
                    .signal
                    .map(|signal| format!(" (killed by signal {signal})"))
                    .unwrap_or_default()
            ),
        ));
    };
    let status = u16::try_from(exit).unwrap_or(u16::MAX);
    if exit != 0 && !status_tested {
        let stderr = bounded(&outcome.stderr);
        let stderr = stderr.trim();
        let mut failure = Failure::new(format!(
            "the command `{command}` on {} exited with status {exit}{}",
            check.address,
            if stderr.is_empty() {
                String::new()
            } else {
                format!(": {stderr}")
            }
        ));
        failure.status = Some(status);
        return Err(failure);
    }
    let text = bounded(&outcome.stdout);
    let json = serde_json::from_str(&text).ok();
    Ok(Seen {
        elapsed,
        status: Some(status),
        body: Some(text),
        json,
        ..Seen::default()
    })
}

/// The private key or password the check logs in with, read now.
async fn login(check: &SshCheck) -> Result<Login, Failure> {
    if let Some(path) = &check.private_key_file {
        let key = russh::keys::load_secret_key(path, None).map_err(|err| {
            Failure::new(format!(
                "cannot read the private key file {}: {err}",
                path.display()
            ))
        })?;
        return Ok(Login::Key(Arc::new(key)));
    }
    match &check.password {
        Some(secret) => Ok(Login::Password(
            super::read_secret(secret, "password").await?,
        )),
        None => Err(Failure::new(
            "an ssh command needs a private key file or a password".to_owned(),
        )),
    }
}

/// Reads up to the server's identification line; returns it and every byte read so far.
async fn identification(
    check: &SshCheck,
    stream: &mut TcpStream,
) -> Result<(SshIdentification, Vec<u8>), Failure> {
    let mut read = Vec::new();
    let mut start = 0;
    let mut lines = 0;
    loop {
        while let Some(end) = read[start..].iter().position(|b| *b == b'\n') {
            let mut line = &read[start..start + end];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            match SshIdentification::parse(&String::from_utf8_lossy(line)) {
                Ok(Some(identification)) => return Ok((identification, read)),
                Ok(None) => lines += 1,
                Err(why) => {
                    return Err(fail(
                        check,
                        &format!("broke the protocol (is it SSH?): {why}"),
                    ));
                }
            }
            if lines > MAX_LINES_BEFORE_IDENTIFICATION {
                return Err(fail(
                    check,
                    &format!(
                        "broke the protocol (is it SSH?): more than \
                         {MAX_LINES_BEFORE_IDENTIFICATION} lines without an SSH identification"
                    ),
                ));
            }
            start += end + 1;
        }
        if read.len() > MAX_IDENTIFICATION_BYTES {
            return Err(fail(
                check,
                "broke the protocol (is it SSH?): 8 KiB without an SSH identification",
            ));
        }
        let mut chunk = [0u8; 1024];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|err| Failure::new(io_error_text(&err, &check.address)))?;
        if n == 0 {
            return Err(fail(
                check,
                "closed the connection before identifying itself",
            ));
        }
        read.extend_from_slice(&chunk[..n]);
    }
}

/// What a command left behind.
struct Ran {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    status: Option<u32>,
    signal: Option<String>,
}

/// Runs `command` in a session channel and reads until the channel closes; output beyond the
/// bounds is read and dropped.
async fn run(session: &client::Handle<Pinned>, command: &str) -> Result<Ran, russh::Error> {
    let mut channel = session.channel_open_session().await?;
    channel.exec(true, command.as_bytes()).await?;
    let mut ran = Ran {
        stdout: Vec::new(),
        stderr: Vec::new(),
        status: None,
        signal: None,
    };
    // At most one byte past `max` is kept (so a cut can be told), however many messages come.
    let keep = |kept: &mut Vec<u8>, data: &[u8], max: usize| {
        let room = (max + 1).saturating_sub(kept.len());
        kept.extend_from_slice(&data[..data.len().min(room)]);
    };
    while let Some(message) = channel.wait().await {
        match message {
            ChannelMsg::Data { data } => keep(&mut ran.stdout, &data, MAX_TEXT_BYTES),
            ChannelMsg::ExtendedData { data, ext: 1 } => {
                keep(&mut ran.stderr, &data, MAX_STDERR_BYTES);
            }
            ChannelMsg::ExitStatus { exit_status } => ran.status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                ran.signal = Some(format!("{signal_name:?}"));
            }
            _ => {}
        }
    }
    Ok(ran)
}

/// Ends the session politely; never fails.
async fn goodbye(session: &client::Handle<Pinned>) {
    let _ = session
        .disconnect(Disconnect::ByApplication, "", "en")
        .await;
}

/// A russh error in words.
fn ssh_error(check: &SshCheck, err: &russh::Error) -> String {
    match err {
        russh::Error::IO(io) => io_error_text(io, &check.address),
        russh::Error::Disconnect | russh::Error::HUP => {
            format!("the SSH server at {} closed the connection", check.address)
        }
        russh::Error::NoCommonAlgo { kind, .. } => format!(
            "the SSH server at {} has no {kind:?} algorithm in common with upkeep",
            check.address
        ),
        other => format!("SSH with {} failed: {other}", check.address),
    }
}

/// Accepts the server's key only when its SHA-256 fingerprint is the pinned one, and notes
/// the fingerprint it saw for the failure's words.
struct Pinned {
    pinned: String,
    presented: Arc<Mutex<Option<String>>>,
}

impl client::Handler for Pinned {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let fingerprint = key.public_key().fingerprint(HashAlg::Sha256).to_string();
        let matches = fingerprint == self.pinned;
        if let Ok(mut presented) = self.presented.lock() {
            *presented = Some(fingerprint);
        }
        Ok(matches)
    }
}
