//! Monitoring data: check results, their rollups, monitor states and events, push pings.
