//! Keyset paging, the one way every console list is paged: a page shows at most `size` rows,
//! read as `size + 1` so it knows whether another page follows, and the next page starts after
//! the key of the last row shown — never at an offset, so a deep page costs what the first does
//! (docs/console.md).

use jiff::Timestamp;

/// The longest id accepted in a page key; longer text is cut (no id is that long).
const ID_MAX: usize = 64;

/// A position in a list ordered by time then id, as a page address carries it: `MILLIS/ID`.
pub fn stamp_key(at: Timestamp, id: &str) -> String {
    format!("{}/{id}", at.as_millisecond())
}

/// The `(time, id)` of a `MILLIS/ID` key; `None` for anything else (then the first page shows).
pub fn parse_stamp_key(text: &str) -> Option<(Timestamp, String)> {
    let (ms, id) = text.split_once('/')?;
    let at = Timestamp::from_millisecond(ms.parse().ok()?).ok()?;
    Some((at, id.chars().take(ID_MAX).collect()))
}

/// A plain key (an id, an address) as given in a page address, cut to a sane length; `None`
/// when empty.
pub fn plain_key(text: Option<&str>) -> Option<String> {
    let text = text?.trim();
    (!text.is_empty()).then(|| text.chars().take(320).collect())
}

/// Keeps the first `size` of `rows` (read as `size + 1`) and returns the key of the last row
/// kept when more follow.
pub fn cut<T, K>(rows: &mut Vec<T>, size: u32, key: impl FnOnce(&T) -> K) -> Option<K> {
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    if rows.len() <= size {
        return None;
    }
    rows.truncate(size);
    rows.last().map(key)
}

/// `path?k=v&…` with every value form-encoded; empty and absent values are left out.
pub fn url(path: &str, pairs: &[(&str, Option<&str>)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            query.append_pair(k, v);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_key_reads_back_and_bad_ones_mean_the_first_page() {
        let at = Timestamp::from_millisecond(1_767_225_600_123).unwrap();
        let key = stamp_key(at, "0190-abc");
        assert_eq!(key, "1767225600123/0190-abc");
        assert_eq!(parse_stamp_key(&key), Some((at, "0190-abc".to_owned())));
        for bad in ["", "12", "x/id", "99999999999999999999/id"] {
            assert_eq!(parse_stamp_key(bad), None, "{bad}");
        }
        let long = format!("1/{}", "a".repeat(500));
        assert_eq!(parse_stamp_key(&long).unwrap().1.len(), ID_MAX);
    }

    #[test]
    fn cut_keeps_a_page_and_keys_the_next_only_when_one_follows() {
        let mut rows: Vec<u32> = (1..=4).collect();
        assert_eq!(cut(&mut rows, 3, |r| *r), Some(3));
        assert_eq!(rows, [1, 2, 3]);
        let mut rows: Vec<u32> = (1..=3).collect();
        assert_eq!(cut(&mut rows, 3, |r| *r), None);
        assert_eq!(rows, [1, 2, 3]);
    }

    #[test]
    fn urls_encode_values_and_leave_out_empty_ones() {
        assert_eq!(
            url("/admin/x", &[("q", Some("")), ("after", None)]),
            "/admin/x"
        );
        assert_eq!(
            url("/admin/x", &[("q", Some("a b&c")), ("after", Some("1/z"))]),
            "/admin/x?q=a+b%26c&after=1%2Fz"
        );
        assert_eq!(plain_key(Some("  ")), None);
        assert_eq!(plain_key(Some(" a@b ")).as_deref(), Some("a@b"));
    }
}
