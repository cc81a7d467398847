//! `upkeep check`: validate a configuration file, print every problem; warn (exit 0) about
//! ping keys that look guessable.

use std::process::ExitCode;

use upkeep_engine::config::{ConfigSource, load};

use crate::cli::CheckArgs;

pub fn run(args: &CheckArgs) -> ExitCode {
    let source = ConfigSource::File(args.config.clone());
    match load(&source, jiff::Timestamp::now()) {
        Ok(loaded) => {
            let c = &loaded.config;
            println!(
                "{}: ok ({} components, {} monitors, {} rules, {} tenants, {} maintenance windows)",
                source.display_name(),
                c.components.len(),
                c.monitors.len(),
                c.rules.len(),
                c.tenants.len(),
                c.maintenance.windows.len()
            );
            for (who, bits) in upkeep_domain::ping_key::weak_keys(c) {
                eprintln!(
                    "{}: warning: the ping key of {who} has about {bits} bits of apparent \
                     entropy, under {}: anyone who guesses it can fake or silence its \
                     heartbeats; make one with `upkeep key new`",
                    source.display_name(),
                    upkeep_domain::ping_key::STRONG_KEY_BITS
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let lines = e.lines();
            for line in &lines {
                eprintln!("{line}");
            }
            eprintln!("{} problem(s) found", lines.len());
            ExitCode::FAILURE
        }
    }
}
