//! `docker` probes: ask the Docker Engine API (`GET /v1.41/containers/{container}/json`, on
//! the engine's Unix socket or `tcp://HOST:PORT`) how a container is. Its state is `[BODY]`
//! (`running`, `exited`, …) and the inspection's state in Docker's own names is
//! `[BODY].State.Status`, `[BODY].State.Health.Status`, `[BODY].State.ExitCode`,
//! `[BODY].RestartCount`, …; without a condition on `[BODY]` the check needs the container
//! running and, when it has a health check, healthy.
//!
//! The answer is read by the pure parser [`upkeep_domain::docker_engine`], the body capped at
//! [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES). The container's configuration (its environment
//! may hold secrets) is never kept.

use std::time::Instant;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper::http::Request;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use upkeep_domain::config::{DockerCheck, DockerHost};
use upkeep_domain::docker_engine::{self, Container};

use super::{Failure, MAX_BODY_BYTES, Progress, Seen, connect, io_error_text, stage};

/// "connecting to the Docker engine at unix:///var/run/docker.sock" or "waiting for ...".
pub(super) fn describe(check: &DockerCheck, reached: u8) -> String {
    if reached >= stage::CONNECTED {
        format!(
            " waiting for the Docker engine at {} to answer about `{}`",
            check.host, check.container
        )
    } else {
        format!(" connecting to the Docker engine at {}", check.host)
    }
}

pub(super) async fn probe(check: &DockerCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let container = match &check.host {
        DockerHost::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path)
                .await
                .map_err(|err| Failure::new(socket_error_text(&err, check)))?;
            progress.reached(stage::CONNECTED);
            inspect(stream, check, "docker").await
        }
        DockerHost::Tcp(address) => {
            let stream = connect(address, progress).await?;
            inspect(stream, check, address).await
        }
    }
    .map_err(Failure::new)?;
    Ok(Seen {
        elapsed: started.elapsed(),
        body: Some(container.status.clone()),
        json: Some(container.json),
        ..Seen::default()
    })
}

/// Without a condition on `[BODY]`: the problem when the container is not running, or not
/// healthy when it has a health check.
pub(super) fn not_up(check: &DockerCheck, seen: &Seen) -> Option<String> {
    let json = seen.json.as_ref()?;
    let state = &json["State"];
    let status = state["Status"].as_str().unwrap_or("");
    let name = &check.container;
    if status != "running" {
        let exit = match (state["ExitCode"].as_i64(), state["OOMKilled"].as_bool()) {
            (_, Some(true)) => ", killed for lack of memory".to_owned(),
            (Some(code), _) if code != 0 && status == "exited" => format!(" with code {code}"),
            _ => String::new(),
        };
        let error = state["Error"]
            .as_str()
            .filter(|e| !e.is_empty())
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        let restarts = json["RestartCount"]
            .as_u64()
            .filter(|n| *n > 0)
            .map(|n| format!(", restarted {n} times"))
            .unwrap_or_default();
        return Some(format!(
            "container `{name}` is not running: {status}{exit}{error}{restarts}"
        ));
    }
    let health = state["Health"]["Status"].as_str()?;
    (health != "healthy").then(|| {
        let streak = state["Health"]["FailingStreak"]
            .as_u64()
            .filter(|n| *n > 0)
            .map(|n| format!(", {n} failed checks in a row"))
            .unwrap_or_default();
        let last = &state["Health"]["Log"][0];
        let last = match (last["ExitCode"].as_i64(), last["Output"].as_str()) {
            (Some(code), Some(output)) if !output.is_empty() => {
                format!("; last check exited {code}: {output}")
            }
            (Some(code), _) => format!("; last check exited {code}"),
            _ => String::new(),
        };
        format!("container `{name}` is running but {health}{streak} (expected healthy){last}")
    })
}

/// The socket could not be reached, in words.
fn socket_error_text(err: &std::io::Error, check: &DockerCheck) -> String {
    use std::io::ErrorKind;
    let host = &check.host;
    match err.kind() {
        ErrorKind::NotFound => format!(
            "the Docker socket {host} does not exist (is Docker running here, is the socket mounted?)"
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied on the Docker socket {host} (upkeep's user needs to be in its group, usually `docker`)"
        ),
        ErrorKind::ConnectionRefused => {
            format!("nothing listens on the Docker socket {host} (is the Docker engine running?)")
        }
        _ => io_error_text(err, &host.to_string()),
    }
}

/// `GET /v1.41/containers/{container}/json` over `io` with `Host: {host}`.
async fn inspect<T>(io: T, check: &DockerCheck, host: &str) -> Result<Container, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let at = &check.host;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|err| format!("HTTP with the Docker engine at {at} failed: {err}"))?;
    let path = format!(
        "/{}/containers/{}/json",
        docker_engine::API_VERSION,
        check.container
    );
    let request = Request::get(path)
        .header("host", host)
        .header("user-agent", concat!("upkeep/", env!("CARGO_PKG_VERSION")))
        .header("accept", "application/json")
        .body(Empty::<Bytes>::new())
        .map_err(|err| format!("cannot build the request to the Docker engine: {err}"))?;
    let exchange = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|err| hyper_error_text(&err, check))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
            .collect()
            .await
            .map_err(|err| match err.downcast_ref::<hyper::Error>() {
                Some(err) => hyper_error_text(err, check),
                None => {
                    format!("the Docker engine at {at} answered more than {MAX_BODY_BYTES} bytes")
                }
            })?
            .to_bytes();
        let name = &check.container;
        let message = || {
            docker_engine::error_message(&body)
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        };
        match status {
            200 => docker_engine::parse_inspect(&body)
                .map_err(|why| format!("the Docker engine at {at}: {why}")),
            404 => Err(format!(
                "no such container `{name}` on the Docker engine at {at}"
            )),
            400 => Err(format!(
                "the Docker engine at {at} does not speak API {} (400{})",
                docker_engine::API_VERSION,
                message()
            )),
            401 | 403 => Err(format!(
                "the Docker engine at {at} refused the request ({status}{})",
                message()
            )),
            _ => Err(format!(
                "the Docker engine at {at} failed with HTTP {status}{}",
                message()
            )),
        }
    };
    tokio::select! {
        answer = exchange => answer,
        ended = connection => Err(match ended {
            Err(err) => hyper_error_text(&err, check),
            Ok(()) => format!("the Docker engine at {at} closed the connection without answering"),
        }),
    }
}

/// An HTTP failure with the engine, in words.
fn hyper_error_text(err: &hyper::Error, check: &DockerCheck) -> String {
    if let Some(io) = super::io_cause(err) {
        return io_error_text(io, &format!("the Docker engine at {}", check.host));
    }
    if err.is_closed() || err.is_incomplete_message() {
        return format!(
            "the Docker engine at {} closed the connection without answering",
            check.host
        );
    }
    format!(
        "HTTP with the Docker engine at {} failed: {err}",
        check.host
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check() -> DockerCheck {
        DockerCheck {
            container: "web".to_owned(),
            host: DockerHost::Unix("/var/run/docker.sock".into()),
        }
    }

    // Tests run as root, for whom a socket's permissions deny nothing: the words are checked
    // here.
    #[test]
    fn socket_errors_read_as_words() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert_eq!(
            socket_error_text(&denied, &check()),
            "permission denied on the Docker socket unix:///var/run/docker.sock (upkeep's user \
             needs to be in its group, usually `docker`)"
        );
        let other = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(
            socket_error_text(&other, &check()),
            "connection reset by unix:///var/run/docker.sock"
        );
    }
}
