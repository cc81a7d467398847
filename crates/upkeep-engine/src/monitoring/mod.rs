//! Health monitoring: probes of every kind, the scheduler that runs them, push heartbeats and
//! alert rules over scraped metrics. Pure decisions (debouncing, component status, lateness)
//! live in the domain; this module does the I/O around them.

pub mod pings;
pub mod probe;
pub mod rounds;
pub mod rules;
pub mod schedule;
pub mod scheduler;
pub mod shards;
