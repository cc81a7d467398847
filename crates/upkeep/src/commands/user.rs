//! `upkeep user create|list|disable|enable|reset-password|remove-totp`: console users, working
//! directly on the database through `service::user`, as the console does.
//!
//! Passwords are read from standard input (`--password-stdin`, the first line, without its line
//! ending) so that they never appear in a process list or a shell history.

use std::io::BufRead;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;
use upkeep_engine::service::user::{self, CreateUser};
use upkeep_store::users::UserRecord;

use super::{cli_caller, open_migrated};
use crate::cli::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user who signs in to the console at /admin.
    Create {
        /// The e-mail address the user signs in with.
        #[arg(long)]
        email: String,
        /// What the user may do, as for API tokens: `viewer` reads; `editor` also changes
        /// incidents, maintenance, subscribers, backups; `admin` also manages users.
        #[arg(long, value_parser = parse_user_role)]
        role: upkeep_domain::role::Role,
        /// The name shown in the console and the audit log (default: the address's local part).
        #[arg(long)]
        name: Option<String>,
        /// Read the password from standard input (its first line). Required: a password is
        /// never taken as an argument.
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// List users (never their passwords).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Disable a user: they cannot sign in and their sessions end at once.
    Disable {
        /// The user's e-mail address or id.
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Enable a disabled user.
    Enable {
        /// The user's e-mail address or id.
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Set a new password (read from standard input); the user's sessions end.
    ResetPassword {
        /// The user's e-mail address or id.
        user: String,
        /// Read the new password from standard input (its first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        db: DatabaseArgs,
    },
    /// Remove a user's second factor (TOTP) and recovery codes, for one who lost both.
    RemoveTotp {
        /// The user's e-mail address or id.
        user: String,
        #[command(flatten)]
        db: DatabaseArgs,
    },
}

fn parse_user_role(s: &str) -> Result<upkeep_domain::role::Role, String> {
    match s.parse::<upkeep_domain::role::Role>() {
        Ok(upkeep_domain::role::Role::Hook | upkeep_domain::role::Role::Agent) | Err(_) => Err(
            format!("unknown role `{s}`: expected viewer, editor or admin"),
        ),
        Ok(role) => Ok(role),
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        bail!(
            "no password on standard input: pipe it in, e.g. `printf '%s' \"$PW\" | upkeep user ...`"
        );
    }
    Ok(password.to_owned())
}

fn state(u: &UserRecord) -> String {
    match u.disabled_at {
        Some(at) => format!("disabled {}", at.strftime("%Y-%m-%d %H:%M")),
        None => "active".into(),
    }
}

pub async fn run(cmd: UserCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        UserCommand::Create {
            email,
            role,
            name,
            password_stdin: _,
            db,
        } => {
            let password = read_password()?;
            let store = open_migrated(&db.database).await?;
            let new = CreateUser {
                email,
                display_name: name,
                role,
                password,
            };
            let created = user::create(&store, &cli_caller(), new, now).await;
            store.close().await;
            let created = created?;
            println!(
                "created {} user {} ({}) with id {}; they sign in at /admin/login",
                created.role, created.email, created.display_name, created.id
            );
        }
        UserCommand::List { db } => {
            let store = open_migrated(&db.database).await?;
            let users = user::list(&store).await;
            store.close().await;
            println!(
                "{:<12}  {:<6}  {:<24}  {:<4}  {:<32}  NAME",
                "ID", "ROLE", "STATE", "2FA", "E-MAIL"
            );
            for u in users? {
                println!(
                    "{:<12}  {:<6}  {:<24}  {:<4}  {:<32}  {}",
                    u.id,
                    u.role,
                    state(&u),
                    if u.totp_enabled_at.is_some() {
                        "yes"
                    } else {
                        "no"
                    },
                    u.email,
                    u.display_name
                );
            }
        }
        UserCommand::Disable { user: who, db } => {
            let store = open_migrated(&db.database).await?;
            let done = user::disable(&store, &cli_caller(), &who, now).await;
            store.close().await;
            let u = done?;
            println!("user {} is disabled; their sessions have ended", u.email);
        }
        UserCommand::Enable { user: who, db } => {
            let store = open_migrated(&db.database).await?;
            let done = user::enable(&store, &cli_caller(), &who, now).await;
            store.close().await;
            let u = done?;
            println!("user {} is enabled", u.email);
        }
        UserCommand::ResetPassword {
            user: who,
            password_stdin: _,
            db,
        } => {
            let password = read_password()?;
            let store = open_migrated(&db.database).await?;
            let done = user::reset_password(&store, &cli_caller(), &who, &password, now).await;
            store.close().await;
            let u = done?;
            println!(
                "the password of {} is changed; their sessions have ended",
                u.email
            );
        }
        UserCommand::RemoveTotp { user: who, db } => {
            let store = open_migrated(&db.database).await?;
            let done = user::remove_totp(&store, &cli_caller(), &who, now).await;
            store.close().await;
            let u = done?;
            println!("the second factor of {} is removed", u.email);
        }
    }
    Ok(ExitCode::SUCCESS)
}
