//! The `upkeep` binary: parses the command line and runs one command.
//!
//! Error policy: commands return `anyhow::Result`; `main` prints the error chain once and exits
//! with status 1. `upkeep check` prints its own diagnostics and exits 1 on any problem.

mod cli;
mod commands;
mod logging;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_heap_arenas();
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

/// Caps glibc's heap arenas at one per core (at least two), before any thread starts. By
/// default glibc gives each thread that allocates under contention an arena of its own, up to
/// eight per core, and keeps the free memory of each: the probing server held about a third
/// more resident memory than its heap (BENCHMARKS.md, "Probes at scale"). An operator's own
/// setting (`MALLOC_ARENA_MAX`, or `arena_max` in `GLIBC_TUNABLES`) is left alone. Other C
/// libraries (musl) and systems keep their allocator's defaults.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn limit_heap_arenas() {
    let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() || tunables.contains("arena_max") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
    let arenas = libc::c_int::try_from(cores.max(2)).unwrap_or(libc::c_int::MAX);
    // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_heap_arenas() {}
