//! Any text as a Helm repository index, an endoflife.date file and `helm list` JSON: never
//! panics; a read index keeps its releases in ascending order with no duplicates, and the
//! latest stable release is stable; any text as a version parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upkeep_domain::inventory::eol::{parse_eol, status};
use upkeep_domain::inventory::helm_list::{chart_version_of, parse_helm_list};
use upkeep_domain::inventory::{latest_stable, parse_index, parse_lenient};

fuzz_target!(|text: &str| {
    if let Ok(index) = parse_index(text, None) {
        for releases in index.charts.values() {
            assert!(releases.windows(2).all(|w| w[0].version < w[1].version));
            if let Some(latest) = latest_stable(releases) {
                assert!(latest.is_stable());
            }
        }
    }
    if let Ok(cycles) = parse_eol(text) {
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let _ = status(&cycles, "1.2.3", now);
    }
    if let Ok(releases) = parse_helm_list(text) {
        for r in &releases {
            let _ = chart_version_of(&r.chart, &r.name);
        }
    }
    if let Some(version) = parse_lenient(text) {
        assert_eq!(parse_lenient(&version.to_string()), Some(version));
    }
});
