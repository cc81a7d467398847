//! `tcp` probes: resolve `address` and open a TCP connection to it. Success is an accepted
//! connection; `[RESPONSE_TIME]` conditions see the connect time (resolution included). The
//! connection is closed at once without sending anything.

use std::time::Instant;

use upkeep_domain::config::TcpCheck;

use super::{Failure, Progress, Seen, connect};

pub(super) async fn probe(check: &TcpCheck, progress: &Progress) -> Result<Seen, Failure> {
    let started = Instant::now();
    let stream = connect(&check.address, progress).await?;
    let elapsed = started.elapsed();
    drop(stream);
    Ok(Seen {
        elapsed,
        ..Seen::default()
    })
}
