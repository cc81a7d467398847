//! `ssh` probes against a real OpenSSH server: Debian's `sshd`, started here on a loopback
//! port with its own configuration, host key and authorized key in a temporary directory. The
//! identification in conditions, a command's output and exit status on a pinned server, and a
//! refused port, a silent listener, another protocol version, a rejected key or password and a
//! host key that is not the pinned one explained in words (the command never runs then).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use tokio::process::{Child, Command};
use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{
    SECRET, closed_port, daemon, failure, line_server, monitor, silent_listener,
};

async fn probe(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!("{{ component: c, ssh: {{ {fields} }}, {rest} }}"));
    Prober::new().unwrap().probe(&m).await
}

/// `sshd` on 127.0.0.1:`port` that lets `user` in with the key `user_key`; killed on drop.
struct Sshd {
    _child: Child,
    port: u16,
    dir: tempfile::TempDir,
    /// The host key's fingerprint, as `ssh-keygen -lf` prints it.
    host_key: String,
    /// A fingerprint of another key.
    other_host_key: String,
    user: String,
    user_key: PathBuf,
    /// A key the server does not know.
    stranger_key: PathBuf,
}

/// Makes an ed25519 key pair at `path` (and `PATH.pub`); returns its fingerprint.
fn key_pair(keygen: &Path, path: &Path) -> String {
    let made = std::process::Command::new(keygen)
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
    let listed = std::process::Command::new(keygen)
        .arg("-lf")
        .arg(format!("{}.pub", path.display()))
        .output()
        .unwrap();
    let text = String::from_utf8(listed.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_owned()
}

impl Sshd {
    async fn start() -> Option<Sshd> {
        let program = peer::sshd()?;
        let keygen = peer::program("ssh-keygen", "openssh-client")?;
        // sshd refuses to start without its privilege separation directory, which Debian's
        // service unit makes at boot; the tests run sshd without that unit.
        std::fs::create_dir_all("/run/sshd").expect("/run/sshd for sshd (run the tests as root)");
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let host_key = key_pair(&keygen, &root.join("host.key"));
        let other_host_key = key_pair(&keygen, &root.join("other.key"));
        key_pair(&keygen, &root.join("user.key"));
        key_pair(&keygen, &root.join("stranger.key"));
        std::fs::copy(root.join("user.key.pub"), root.join("authorized_keys")).unwrap();
        let user = String::from_utf8(
            std::process::Command::new("id")
                .arg("-un")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim()
        .to_owned();
        let config_path = root.join("sshd_config");
        let (child, port) = daemon(
            "sshd",
            |port| {
                let config = format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {root}/host.key\n\
                     PidFile {root}/sshd.pid\n\
                     AuthorizedKeysFile {root}/authorized_keys\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     PasswordAuthentication yes\n\
                     KbdInteractiveAuthentication no\n\
                     PermitRootLogin yes\n",
                    root = root.display()
                );
                std::fs::write(&config_path, config).unwrap();
                let mut command = Command::new(&program);
                command.args(["-D", "-e", "-f"]).arg(&config_path);
                command
            },
            |line| line.starts_with("SSH-2.0-"),
        )
        .await;
        Some(Sshd {
            _child: child,
            port,
            user,
            user_key: root.join("user.key"),
            stranger_key: root.join("stranger.key"),
            dir,
            host_key,
            other_host_key,
        })
    }

    /// The check's keys for running `command` as the user with `key`, pinned to `host_key`.
    fn command(&self, host_key: &str, key: &Path, command: &str) -> String {
        format!(
            r#"address: "127.0.0.1:{}", host_key: "{host_key}", user: {}, private_key_file: "{}", command: '{command}'"#,
            self.port,
            self.user,
            key.display()
        )
    }
}

#[tokio::test]
async fn ssh_reads_the_identification_and_checks_a_pinned_key() {
    let Some(sshd) = Sshd::start().await else {
        return;
    };
    let address = format!(r#"address: "127.0.0.1:{}""#, sshd.port);
    let outcome = probe(
        &address,
        r#"timeout: 5s, conditions: ["[BODY] contains OpenSSH", "[BODY].software matches ^OpenSSH_", "[BODY].protocol == 2.0"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let outcome = probe(
        &address,
        r#"timeout: 5s, conditions: ["[BODY] contains dropbear"]"#,
    )
    .await;
    let text = failure(&outcome);
    assert!(
        text.starts_with(
            "condition `[BODY] contains dropbear` failed: the body was \"SSH-2.0-OpenSSH_"
        ),
        "{text}"
    );

    // The key exchange with the pin, without logging in.
    let pinned = format!(r#"{address}, host_key: "{}""#, sshd.host_key);
    let outcome = probe(
        &pinned,
        r#"timeout: 5s, conditions: ["[BODY] contains OpenSSH"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");

    let wrong = format!(r#"{address}, host_key: "{}""#, sshd.other_host_key);
    let outcome = probe(&wrong, "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SSH server at 127.0.0.1:{} presented the host key {}, not the pinned {}: refused \
             (a reinstalled server, or another machine answering at this address)",
            sshd.port, sshd.host_key, sshd.other_host_key
        )
    );
}

#[tokio::test]
async fn ssh_runs_a_command_and_tests_its_output_and_exit_status() {
    let Some(sshd) = Sshd::start().await else {
        return;
    };
    let healthy = sshd.command(
        &sshd.host_key,
        &sshd.user_key,
        r#"echo "{\"load\": 0.25, \"state\": \"active\"}"; echo noise >&2"#,
    );
    let outcome = probe(
        &healthy,
        r#"timeout: 10s, conditions: ["[BODY].state == active", "[BODY].load < 1", "[STATUS] == 0"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert_eq!(outcome.status_code, Some(0));

    let outcome = probe(&healthy, r#"timeout: 10s, conditions: ["[BODY].load > 2"]"#).await;
    assert_eq!(
        failure(&outcome),
        "condition `[BODY].load > 2` failed: `load` was 0.25"
    );

    // A non-zero exit fails the check, with the command's complaint...
    let failing = sshd.command(
        &sshd.host_key,
        &sshd.user_key,
        "echo nginx is inactive >&2; exit 3",
    );
    let outcome = probe(&failing, "timeout: 10s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the command `echo nginx is inactive >&2; exit 3` on 127.0.0.1:{} exited with \
             status 3: nginx is inactive",
            sshd.port
        )
    );
    assert_eq!(outcome.status_code, Some(3));
    // ...unless the conditions judge the status themselves.
    let outcome = probe(&failing, r#"timeout: 10s, conditions: ["[STATUS] == 3"]"#).await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn ssh_refuses_bad_credentials_and_unpinned_servers() {
    let Some(sshd) = Sshd::start().await else {
        return;
    };
    let refused = format!(
        "the SSH server at 127.0.0.1:{} refused the credentials of `{}` (bad credentials)",
        sshd.port, sshd.user
    );
    let outcome = probe(
        &sshd.command(&sshd.host_key, &sshd.stranger_key, "true"),
        "timeout: 10s",
    )
    .await;
    assert_eq!(failure(&outcome), refused);

    // A wrong password from a file: refused, and never in the words.
    let password_file = sshd.dir.path().join("password");
    std::fs::write(&password_file, format!("{SECRET}\n")).unwrap();
    let outcome = probe(
        &format!(
            r#"address: "127.0.0.1:{}", host_key: "{}", user: {}, password_file: "{}", command: "true""#,
            sshd.port,
            sshd.host_key,
            sshd.user,
            password_file.display()
        ),
        "timeout: 10s",
    )
    .await;
    assert_eq!(failure(&outcome), refused);

    // Another host key than the pinned one: nothing is sent under it, so the command never runs.
    let marker = sshd.dir.path().join("ran");
    let touch = |host_key: &str| {
        sshd.command(
            host_key,
            &sshd.user_key,
            &format!("touch {}", marker.display()),
        )
    };
    let outcome = probe(&touch(&sshd.other_host_key), "timeout: 10s").await;
    assert!(
        failure(&outcome).contains(&format!("not the pinned {}: refused", sshd.other_host_key)),
        "{outcome:?}"
    );
    assert!(!marker.exists(), "the command ran on an unpinned server");
    // The same command with the right pin does run (so the marker would have shown it).
    let outcome = probe(&touch(&sshd.host_key), "timeout: 10s").await;
    assert!(outcome.ok, "{outcome:?}");
    assert!(marker.exists());
}

#[tokio::test]
async fn ssh_failures_are_explained() {
    let closed = closed_port().await;
    let outcome = probe(&format!(r#"address: "{closed}""#), "timeout: 5s").await;
    assert_eq!(failure(&outcome), format!("connection refused by {closed}"));

    let silent = silent_listener().await;
    let outcome = probe(&format!(r#"address: "{silent}""#), "timeout: 1s").await;
    assert_eq!(
        failure(&outcome),
        format!("timed out after 1 s waiting for the identification of the SSH server at {silent}")
    );

    let old = line_server("SSH-1.5-OldServer\r\n", |_| String::new()).await;
    let outcome = probe(&format!(r#"address: "{old}""#), "timeout: 5s").await;
    assert_eq!(
        failure(&outcome),
        format!(
            "the SSH server at {old} broke the protocol (is it SSH?): the server speaks SSH \
             protocol 1.5, not 2.0"
        )
    );

    let missing_key = format!(
        r#"address: "{old}", host_key: "SHA256:e5xHDjTr5Z6N17PY4iqo8AiAlbnTunG8edly0fndW54", user: monitor, private_key_file: /nonexistent/upkeep-key, command: "true""#
    );
    let outcome = probe(&missing_key, "timeout: 5s").await;
    let text = failure(&outcome);
    assert!(
        text.starts_with("cannot read the private key file /nonexistent/upkeep-key: "),
        "{text}"
    );
}
