//! The update inventory: what version of each platform component is deployed where, against
//! the latest stable release of its chart.
//!
//! Each item is bound to its sources explicitly (a Helm repository `index.yaml` and a chart
//! name, optionally a successor chart and an endoflife.date file); nothing is guessed by name.
//! [`version`] reads versions as Helm does, [`index`] reads an `index.yaml` (streaming, keeping
//! only what the inventory needs), [`eol`] reads endoflife.date's release cycles, and
//! [`assess`] computes, for one deployed version and `now`, the latest patch, minor and overall
//! release, how far behind each is, the end of life and the [`State`](assess::State); it also
//! judges the policies. Everything here is pure: texts and instants are parameters.

pub mod assess;
pub mod eol;
pub mod helm_list;
pub mod index;
pub mod plan;
pub mod version;

pub use assess::{Assessment, PolicyVerdict, State, Target, assess, evaluate, latest_stable};
pub use index::{Index, IndexError, Release, parse_index};
pub use version::parse_lenient;

/// Whether `place` is a valid place name (where an item is deployed: a cluster, a tenant, an
/// environment): like a configuration id, 1 to 64 letters, digits, `-`, `_` and `.`, starting
/// with a letter or digit.
pub fn valid_place(place: &str) -> bool {
    place
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric())
        && place.len() <= 64
        && place
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
