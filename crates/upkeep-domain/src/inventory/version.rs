//! Versions read as Helm reads them (Masterminds semver, lenient): an optional `v` prefix,
//! one to three numeric parts (missing ones are zero: `1.2` is `1.2.0`), then an optional
//! `-prerelease` and `+build`. Anything else is not a version.

use semver::{BuildMetadata, Prerelease, Version};

/// The version `text` names, normalised to full SemVer, or `None` when it is not one.
pub fn parse_lenient(text: &str) -> Option<Version> {
    let text = text.trim();
    let text = text.strip_prefix(['v', 'V']).unwrap_or(text);
    let (rest, build) = match text.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (text, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let mut numbers = [0u64; 3];
    for (count, part) in core.split('.').enumerate() {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *numbers.get_mut(count)? = part.parse().ok()?;
    }
    let mut version = Version::new(numbers[0], numbers[1], numbers[2]);
    if let Some(pre) = pre {
        version.pre = Prerelease::new(pre).ok().filter(|p| !p.is_empty())?;
    }
    if let Some(build) = build {
        version.build = BuildMetadata::new(build).ok().filter(|b| !b.is_empty())?;
    }
    Some(version)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn helm_lenient_forms() {
        let v = |s: &str| parse_lenient(s).map(|v| v.to_string());
        assert_eq!(v("1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(v("v1.2.3").as_deref(), Some("1.2.3"));
        assert_eq!(v("1.2").as_deref(), Some("1.2.0"));
        assert_eq!(v("v2").as_deref(), Some("2.0.0"));
        assert_eq!(v("01.02.03").as_deref(), Some("1.2.3"));
        assert_eq!(v("1.2.3-rc.1").as_deref(), Some("1.2.3-rc.1"));
        assert_eq!(
            v("1.2-beta+exp.sha.5").as_deref(),
            Some("1.2.0-beta+exp.sha.5")
        );
        for bad in [
            "", "v", "1.2.3.4", "latest", "1..2", "1.2.x", "1.2.3-", "1.2.3+", " - ",
        ] {
            assert_eq!(parse_lenient(bad), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn full_semver_round_trips(major in 0u64..10_000, minor in 0u64..10_000, patch in 0u64..10_000, pre in proptest::option::of("[a-z]{1,5}(\\.[1-9][0-9]{0,2})?"), v in any::<bool>()) {
            let mut text = format!("{}{major}.{minor}.{patch}", if v { "v" } else { "" });
            if let Some(pre) = &pre { text.push('-'); text.push_str(pre); }
            let parsed = parse_lenient(&text).expect("parses");
            prop_assert_eq!((parsed.major, parsed.minor, parsed.patch), (major, minor, patch));
            prop_assert_eq!(parsed.pre.is_empty(), pre.is_none());
        }

        #[test]
        fn never_panics(text in ".{0,40}") {
            let _ = parse_lenient(&text);
        }

        #[test]
        fn short_forms_pad_with_zeros(major in 0u64..1000, minor in 0u64..1000) {
            prop_assert_eq!(parse_lenient(&format!("{major}.{minor}")), Some(semver::Version::new(major, minor, 0)));
            prop_assert_eq!(parse_lenient(&format!("v{major}")), Some(semver::Version::new(major, 0, 0)));
        }
    }
}
