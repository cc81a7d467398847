//! The `upkeep` binary: parses the command line and runs one command.
//!
//! Error policy: commands return `anyhow::Result`; `main` prints the error chain once and exits
//! with status 1. `upkeep check` prints its own diagnostics and exits 1 on any problem.

mod cli;
mod commands;
mod logging;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of glibc's allocator: glibc keeps a heap arena per thread that touched it
/// and returns little of it, which left the probing server with about a third more resident
/// memory than its heap needed (BENCHMARKS.md, "Probes at scale").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    logging::init(cli.log_format, &cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("upkeep: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("upkeep: {e:#}");
            ExitCode::FAILURE
        }
    }
}
