//! `upkeep token create|list|revoke`.

use std::process::ExitCode;

use anyhow::bail;

use super::{cli_actor, open_migrated};
use crate::cli::TokenCommand;

pub async fn run(cmd: TokenCommand) -> anyhow::Result<ExitCode> {
    let now = jiff::Timestamp::now();
    match cmd {
        TokenCommand::Create { role, name, db } => {
            let name = upkeep_web::api::tokens::valid_name(&name).map_err(anyhow::Error::msg)?;
            let store = open_migrated(&db.database).await?;
            let created = store.create_token(name, role, &cli_actor(), now).await?;
            store.close().await;
            eprintln!(
                "created {} token `{}` with id {}; its secret follows and is not shown again:",
                role, created.record.name, created.record.id
            );
            println!("{}", created.secret);
        }
        TokenCommand::List { db } => {
            let store = open_migrated(&db.database).await?;
            let tokens = store.list_tokens().await?;
            store.close().await;
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
            let revoked = store.revoke_token(&id, &cli_actor(), now).await?;
            store.close().await;
            match revoked {
                Some(t) => println!("token {} (`{}`) is revoked", t.id, t.name),
                None => bail!("there is no token `{id}`; `upkeep token list` shows them"),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
