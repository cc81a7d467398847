//! Heartbeat intake: pings from `/ping/{key}` are written in batches (group commit) and each
//! request is acknowledged only once its ping is durable.
