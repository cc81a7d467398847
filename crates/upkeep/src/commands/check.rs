//! `upkeep check`: validate a configuration file, print every problem.

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
