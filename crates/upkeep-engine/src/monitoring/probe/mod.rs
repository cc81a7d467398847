//! Probes: one check of one monitor against the outside world.
