//! `upkeep user create|list|disable|enable|reset-password` on both databases, the password
//! read from standard input; the sign-in that follows goes through a real `upkeep serve`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::cli::database_urls;
use crate::support::{BIN, Server, failed, ok};

/// Runs `upkeep ARGS` with `stdin` piped in.
pub(crate) fn upkeep_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("UPKEEP_DATABASE_URL")
        .env_remove("UPKEEP_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `upkeep user create` on the database `db`, with `stdin` (the password, then a newline)
/// piped in.
pub(crate) fn create_user(db: &str, email: &str, role: &str, name: &str, stdin: &str) -> Output {
    upkeep_with_stdin(
        &[
            "user",
            "create",
            "--email",
            email,
            "--role",
            role,
            "--name",
            name,
            "--password-stdin",
            "--database",
            db,
        ],
        stdin,
    )
}

fn upkeep(args: &[&str]) -> Output {
    upkeep_with_stdin(args, "")
}

/// `POST /admin/login` on `server`: the status line and headers of the answer.
fn sign_in(server: &Server, email: &str, password: &str) -> String {
    let body = format!(
        "email={}&password={}",
        email.replace('@', "%40"),
        password.replace(' ', "+")
    );
    let head = server.request(&format!(
        "POST /admin/login HTTP/1.1\r\nhost: x\r\nsec-fetch-site: same-origin\r\n\
         content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    ));
    head.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[test]
fn user_commands_create_list_disable_and_reset_passwords_from_stdin() {
    for (url, _dir) in
        database_urls("user_commands_create_list_disable_and_reset_passwords_from_stdin")
    {
        let email = format!("ada.{}@example.com", std::process::id());
        let create = |email: &str, role: &str, password: &str| {
            create_user(&url, email, role, "Ada L.", password)
        };
        let out = ok(create(&email, "admin", "correct horse battery\n"));
        assert!(
            out.contains(&format!("created admin user {email}")),
            "{out}"
        );

        // Refusals a person can act on.
        let err = failed(create(
            &email.to_uppercase(),
            "viewer",
            "another good password",
        ));
        assert!(err.contains("exists already"), "{err}");
        let err = failed(create("bob@example.com", "viewer", "short\n"));
        assert!(err.contains("at least 12 characters"), "{err}");
        let err = failed(create("bob@example.com", "hook", "long enough password"));
        assert!(err.contains("expected viewer, editor or admin"), "{err}");
        let err = failed(create("bob@example.com", "viewer", ""));
        assert!(err.contains("no password on standard input"), "{err}");
        let err = failed(upkeep(&[
            "user",
            "create",
            "--email",
            "bob@example.com",
            "--role",
            "viewer",
            "--database",
            &url,
        ]));
        assert!(err.contains("--password-stdin"), "{err}");

        let list = ok(upkeep(&["user", "list", "--database", &url]));
        let line = list
            .lines()
            .find(|l| l.contains(&email))
            .unwrap_or_else(|| panic!("{list}"));
        assert!(
            line.contains("admin") && line.contains("active") && line.ends_with("Ada L."),
            "{line}"
        );
        assert!(
            !list.contains("correct horse") && !list.contains("argon2"),
            "{list}"
        );
        assert!(
            !list.contains("bob@example.com"),
            "refused users were not created: {list}"
        );

        let out = ok(upkeep(&["user", "disable", &email, "--database", &url]));
        assert!(out.contains("is disabled"), "{out}");
        let list = ok(upkeep(&["user", "list", "--database", &url]));
        assert!(
            list.lines()
                .any(|l| l.contains(&email) && l.contains("disabled")),
            "{list}"
        );
        let err = failed(upkeep(&[
            "user",
            "disable",
            "nobody@example.com",
            "--database",
            &url,
        ]));
        assert!(
            err.contains("there is no user `nobody@example.com`"),
            "{err}"
        );

        // A disabled user is refused with the same answer as a wrong password.
        let server = Server::start(&[], &url);
        let refused = sign_in(&server, &email, "correct horse battery");
        assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
        ok(upkeep(&["user", "enable", &email, "--database", &url]));
        let signed_in = sign_in(&server, &email, "correct horse battery");
        assert!(signed_in.starts_with("HTTP/1.1 303"), "{signed_in}");

        let err = failed(upkeep_with_stdin(
            &[
                "user",
                "reset-password",
                &email,
                "--password-stdin",
                "--database",
                &url,
            ],
            "too short",
        ));
        assert!(err.contains("at least 12 characters"), "{err}");
        let out = ok(upkeep_with_stdin(
            &[
                "user",
                "reset-password",
                &email,
                "--password-stdin",
                "--database",
                &url,
            ],
            "a brand new passphrase\r\n",
        ));
        assert!(out.contains("sessions have ended"), "{out}");
        let old = sign_in(&server, &email, "correct horse battery");
        assert!(old.starts_with("HTTP/1.1 401"), "{old}");
        let new = sign_in(&server, &email, "a brand new passphrase");
        assert!(new.starts_with("HTTP/1.1 303"), "{new}");
        drop(server);
    }
}
