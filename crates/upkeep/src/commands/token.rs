//! `upkeep token create|list|revoke`.

use std::process::ExitCode;

use anyhow::bail;
use upkeep_engine::service::token::{self, TokenServiceError};

use super::{cli_caller, open_migrated};
use crate::cli::TokenCommand;

pub async fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    let caller = cli_caller();
    match cmd {
        TokenCommand::Create { role, name, db } => {
            token::valid_name(&name).map_err(anyhow::Error::msg)?;
            let store = open_migrated(&db.database).await?;
            let created = token::create(&store, &caller, &name, role, now).await;
            store.close().await;
            let created = created?;
            eprintln!(
                "created {} token `{}` with id {}; its secret follows and is not shown again:",
                role, created.record.name, created.record.id
            );
            println!("{}", created.secret);
        }
        TokenCommand::List { db } => {
            let store = open_migrated(&db.database).await?;
            let tokens = token::list(&store).await;
            store.close().await;
            let tokens = tokens?;
            println!(
                "{:<12}  {:<6}  {:<24}  {:<24}  NAME",
                "ID", "ROLE", "CREATED", "STATE"
            );
            for t in tokens {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", at.strftime("%Y-%m-%d %H:%M")),
                    None => "active".to_owned(),
                };
                println!(
                    "{:<12}  {:<6}  {:<24}  {:<24}  {}",
                    t.id,
                    t.role,
                    t.created_at.strftime("%Y-%m-%d %H:%M:%SZ").to_string(),
                    state,
                    t.name
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let store = open_migrated(&db.database).await?;
            let revoked = token::revoke(&store, &caller, &id, now).await;
            store.close().await;
            match revoked {
                Ok(t) => println!("token {} (`{}`) is revoked", t.id, t.name),
                Err(TokenServiceError::NotFound(_)) => {
                    bail!("there is no token `{id}`; `upkeep token list` shows them")
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
