//! `upkeep ping KEY -- CMD ARGS...`: wrap a job in heartbeat pings.

use std::process::ExitCode;

use crate::cli::PingArgs;

pub async fn run(args: PingArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`upkeep ping {}` is not available in this build", args.key)
}
