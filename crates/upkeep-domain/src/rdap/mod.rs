//! RDAP for domain registrations: which server answers for a domain (the IANA bootstrap file
//! for DNS, RFC 9224) and what its answer says (a domain object, RFC 9083: events such as
//! `expiration`, and statuses). Pure functions over text; the engine fetches.
//!
//! [`BUILTIN_BOOTSTRAP`] is IANA's `https://data.iana.org/rdap/dns.json` as published on
//! 2026-01-30 (its `publication` field), one service per line; a `domain` monitor may name
//! another file or an RDAP server of its own.

use jiff::Timestamp;
use serde_json::Value;

/// IANA's RDAP bootstrap file for DNS (RFC 9224), as shipped with upkeep.
pub const BUILTIN_BOOTSTRAP: &str = include_str!("dns.json");

/// At most this many statuses of a domain are kept, each cut to [`MAX_STATUS_CHARS`].
pub const MAX_STATUSES: usize = 32;
/// The longest status kept, in characters.
pub const MAX_STATUS_CHARS: usize = 100;

/// A registered domain as written in a configuration: lower case, no trailing dot, at least
/// two labels of letters, digits and hyphens (internationalised names as A-labels, `xn--`).
pub fn normalize_domain(text: &str) -> Result<String, String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let bad = |why: &str| format!("bad domain `{text}`: {why}");
    if !name.is_ascii() {
        return Err(bad(
            "write an internationalised name as its A-label (xn--...)",
        ));
    }
    if name.len() > 253 {
        return Err(bad("it is longer than 253 characters"));
    }
    let labels: Vec<&str> = name.split('.').collect();
    if labels.len() < 2 {
        return Err(bad(
            "expected a registered domain such as example.com, with its top-level domain",
        ));
    }
    for label in &labels {
        if label.is_empty()
            || label.len() > 63
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(bad(&format!(
                "`{label}` is not a DNS label (letters, digits and inner hyphens, at most 63)"
            )));
        }
    }
    Ok(name)
}

/// A parsed bootstrap file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bootstrap {
    /// The file's `publication` instant as written, when it has one.
    pub publication: Option<String>,
    services: Vec<Service>,
}

/// One service: the DNS suffixes it serves and its base URLs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Service {
    entries: Vec<String>,
    urls: Vec<String>,
}

/// Reads a bootstrap file for DNS (RFC 9224): an object whose `services` is a list of
/// `[[ENTRY, ...], [URL, ...]]` pairs. Entries are compared without case; URLs other than
/// `http://` and `https://` are left out.
pub fn parse_bootstrap(text: &str) -> Result<Bootstrap, String> {
    let value: Value = serde_json::from_str(text)
        .map_err(|err| format!("the bootstrap file is not JSON: {err}"))?;
    let Some(services) = value.get("services").and_then(Value::as_array) else {
        return Err("the bootstrap file has no `services` list".to_owned());
    };
    let mut read = Vec::with_capacity(services.len());
    for (index, service) in services.iter().enumerate() {
        let strings = |v: Option<&Value>| -> Option<Vec<String>> {
            v?.as_array()?
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect()
        };
        let pair = service.as_array();
        let entries = strings(pair.and_then(|p| p.first()));
        let urls = strings(pair.and_then(|p| p.get(1)));
        let (Some(entries), Some(urls)) = (entries, urls) else {
            return Err(format!(
                "service {} of the bootstrap file is not [[entries], [URLs]]",
                index + 1
            ));
        };
        read.push(Service {
            entries: entries
                .iter()
                .map(|e| e.trim_end_matches('.').to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
            urls: urls
                .into_iter()
                .filter(|u| u.starts_with("https://") || u.starts_with("http://"))
                .collect(),
        });
    }
    Ok(Bootstrap {
        publication: value
            .get("publication")
            .and_then(Value::as_str)
            .map(str::to_owned),
        services: read,
    })
}

impl Bootstrap {
    /// The base URL of the RDAP server for `domain` (normalised as [`normalize_domain`]
    /// does): the service whose entry matches the most labels at the end of the name (RFC
    /// 9224, section 4), its `https://` URL if it has one. `None` when no entry matches.
    pub fn server_for(&self, domain: &str) -> Option<&str> {
        let mut best: Option<(usize, &Service)> = None;
        for service in &self.services {
            if service.urls.is_empty() {
                continue;
            }
            for entry in &service.entries {
                let matches = domain == entry
                    || domain
                        .strip_suffix(entry.as_str())
                        .is_some_and(|head| head.ends_with('.'));
                let labels = entry.split('.').count();
                if matches && best.is_none_or(|(longest, _)| labels > longest) {
                    best = Some((labels, service));
                }
            }
        }
        let (_, service) = best?;
        service
            .urls
            .iter()
            .find(|u| u.starts_with("https://"))
            .or_else(|| service.urls.first())
            .map(String::as_str)
    }
}

/// What an RDAP domain object says of the registration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Registration {
    /// `ldhName`, as the registry writes it.
    pub name: Option<String>,
    /// The `expiration` event (the latest, if there are several).
    pub expiration: Option<Timestamp>,
    /// The `registration` event.
    pub registration: Option<Timestamp>,
    /// The `last changed` event.
    pub last_changed: Option<Timestamp>,
    /// `status`, as written (`client transfer prohibited`, ...), bounded.
    pub status: Vec<String>,
}

/// Reads an RDAP answer for `/domain/NAME` (RFC 9083, section 5.3). An RDAP error object
/// (`errorCode`, `title`, `description`) is an error in its own words; an object of another
/// class, or one that is not JSON, is explained.
pub fn parse_domain(bytes: &[u8]) -> Result<Registration, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|err| format!("the answer is not JSON ({err})"))?;
    let Some(object) = value.as_object() else {
        return Err("the answer is not an RDAP object".to_owned());
    };
    if let Some(error) = error_text(&value) {
        return Err(format!("the server answered with an error: {error}"));
    }
    match object.get("objectClassName").and_then(Value::as_str) {
        Some(class) if class.eq_ignore_ascii_case("domain") => {}
        Some(class) => {
            return Err(format!(
                "the answer is an RDAP `{}` object, not a domain",
                cut(class, 40)
            ));
        }
        None => return Err("the answer has no objectClassName: not an RDAP domain".to_owned()),
    }
    let mut registration = Registration {
        name: object
            .get("ldhName")
            .and_then(Value::as_str)
            .map(|name| cut(name, 253)),
        ..Registration::default()
    };
    let events = object
        .get("events")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for event in events {
        let Some(action) = event.get("eventAction").and_then(Value::as_str) else {
            continue;
        };
        let slot = match action.to_ascii_lowercase().as_str() {
            "expiration" => &mut registration.expiration,
            "registration" => &mut registration.registration,
            "last changed" => &mut registration.last_changed,
            _ => continue,
        };
        let Some(date) = event.get("eventDate").and_then(Value::as_str) else {
            return Err(format!("the `{action}` event has no eventDate"));
        };
        let instant = parse_date(date).ok_or_else(|| {
            format!(
                "the `{action}` event's date `{}` is not an RFC 3339 date",
                cut(date, 40)
            )
        })?;
        if slot.is_none_or(|known| instant > known) {
            *slot = Some(instant);
        }
    }
    registration.status = object
        .get("status")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .take(MAX_STATUSES)
                .map(|s| cut(s, MAX_STATUS_CHARS))
                .collect()
        })
        .unwrap_or_default();
    Ok(registration)
}

/// The words of an RDAP error object (RFC 9083, section 6): "404 Not Found: the domain is not
/// registered here"; `None` when `value` is not one.
pub fn error_text(value: &Value) -> Option<String> {
    let code = value.get("errorCode")?.as_u64()?;
    let title = value.get("title").and_then(Value::as_str);
    let description: Vec<&str> = value
        .get("description")
        .and_then(Value::as_array)
        .map(|lines| lines.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut text = code.to_string();
    if let Some(title) = title {
        text.push(' ');
        text.push_str(&cut(title, 80));
    }
    if !description.is_empty() {
        text.push_str(": ");
        text.push_str(&cut(&description.join(" "), 160));
    }
    Some(text)
}

/// An RDAP date: RFC 3339 (`2027-08-13T04:00:00Z`, with an offset, with fractions); a date
/// and time without an offset is read as UTC, as some registries write it.
fn parse_date(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    text.parse::<Timestamp>().ok().or_else(|| {
        text.parse::<jiff::civil::DateTime>()
            .ok()?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|zoned| zoned.timestamp())
    })
}

/// Whole days from `now` until `instant`, rounded down (negative once past).
pub fn days_until(instant: Timestamp, now: Timestamp) -> i64 {
    instant
        .as_second()
        .saturating_sub(now.as_second())
        .div_euclid(86_400)
}

/// Text cut to `max` characters.
fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn builtin() -> Bootstrap {
        parse_bootstrap(BUILTIN_BOOTSTRAP).unwrap()
    }

    #[test]
    fn the_shipped_bootstrap_names_the_registries() {
        let bootstrap = builtin();
        assert_eq!(
            bootstrap.publication.as_deref(),
            Some("2026-01-30T00:00:01Z")
        );
        assert_eq!(
            bootstrap.server_for("example.com"),
            Some("https://rdap.verisign.com/com/v1/")
        );
        assert_eq!(
            bootstrap.server_for("www.example.net"),
            Some("https://rdap.verisign.com/net/v1/")
        );
        assert_eq!(
            bootstrap.server_for("wikipedia.org"),
            Some("https://rdap.publicinterestregistry.org/rdap/")
        );
        assert_eq!(
            bootstrap.server_for("example.dev"),
            Some("https://pubapi.registry.google/rdap/")
        );
        assert_eq!(
            bootstrap.server_for("bbc.co.uk"),
            Some("https://rdap.nominet.uk/uk/")
        );
        assert_eq!(bootstrap.server_for("nic.cz"), Some("https://rdap.nic.cz/"));
        // The file lists .kg over plain HTTP only.
        assert_eq!(
            bootstrap.server_for("example.kg"),
            Some("http://rdap.cctld.kg/")
        );
        // Not every top-level domain has an RDAP service: .de is not in the file.
        assert_eq!(bootstrap.server_for("example.de"), None);
        // A suffix of a label is no match.
        assert_eq!(bootstrap.server_for("example.xcom"), None);
    }

    #[test]
    fn the_longest_entry_wins_and_https_is_preferred() {
        let bootstrap = parse_bootstrap(
            r#"{"version": "1.0", "services": [
                [["uk"], ["https://rdap.uk.example/"]],
                [["CO.UK."], ["http://co-uk.example/", "https://co-uk.example/"]],
                [["ftp"], ["ftp://nowhere.example/"]]
            ]}"#,
        )
        .unwrap();
        assert_eq!(
            bootstrap.server_for("shop.co.uk"),
            Some("https://co-uk.example/")
        );
        assert_eq!(
            bootstrap.server_for("gov.uk"),
            Some("https://rdap.uk.example/")
        );
        assert_eq!(bootstrap.server_for("x.ftp"), None);
        assert_eq!(bootstrap.publication, None);
    }

    #[test]
    fn bootstrap_problems_are_explained() {
        assert!(parse_bootstrap("{").unwrap_err().contains("not JSON"));
        assert_eq!(
            parse_bootstrap("{}").unwrap_err(),
            "the bootstrap file has no `services` list"
        );
        assert_eq!(
            parse_bootstrap(r#"{"services": [[["com"], ["https://a/"]], [["net"]]]}"#).unwrap_err(),
            "service 2 of the bootstrap file is not [[entries], [URLs]]"
        );
    }

    /// The shape of a real registry's answer (a .com domain at Verisign), shortened.
    const VERISIGN: &str = r#"{
      "objectClassName": "domain",
      "handle": "2336799_DOMAIN_COM-VRSN",
      "ldhName": "EXAMPLE.COM",
      "links": [{"value": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM", "rel": "self",
                 "href": "https://rdap.verisign.com/com/v1/domain/EXAMPLE.COM", "type": "application/rdap+json"}],
      "status": ["client delete prohibited", "client transfer prohibited", "client update prohibited"],
      "entities": [{"objectClassName": "entity", "handle": "376", "roles": ["registrar"],
                    "vcardArray": ["vcard", [["version", {}, "text", "4.0"], ["fn", {}, "text", "RESERVED-Internet Assigned Numbers Authority"]]]}],
      "events": [
        {"eventAction": "registration", "eventDate": "1995-08-14T04:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2027-08-13T04:00:00Z"},
        {"eventAction": "last changed", "eventDate": "2026-08-14T07:01:34Z"},
        {"eventAction": "last update of RDAP database", "eventDate": "2026-12-06T04:53:12Z"}
      ],
      "secureDNS": {"delegationSigned": true},
      "nameservers": [{"objectClassName": "nameserver", "ldhName": "A.IANA-SERVERS.NET"}],
      "rdapConformance": ["rdap_level_0", "icann_rdap_technical_implementation_guide_1"],
      "notices": [{"title": "Terms of Use", "description": ["Service subject to Terms of Use."]}]
    }"#;

    #[test]
    fn reads_a_registry_answer() {
        let read = parse_domain(VERISIGN.as_bytes()).unwrap();
        assert_eq!(read.name.as_deref(), Some("EXAMPLE.COM"));
        assert_eq!(
            read.expiration,
            Some("2027-08-13T04:00:00Z".parse().unwrap())
        );
        assert_eq!(
            read.registration,
            Some("1995-08-14T04:00:00Z".parse().unwrap())
        );
        assert_eq!(
            read.last_changed,
            Some("2026-08-14T07:01:34Z".parse().unwrap())
        );
        assert_eq!(read.status.len(), 3);
        assert_eq!(read.status[1], "client transfer prohibited");
        let now: Timestamp = "2026-12-06T05:00:00Z".parse().unwrap();
        assert_eq!(days_until(read.expiration.unwrap(), now), 249);
        assert_eq!(days_until("2026-12-06T04:00:00Z".parse().unwrap(), now), -1);
    }

    #[test]
    fn dates_with_offsets_fractions_or_no_zone() {
        for (text, expected) in [
            ("2027-01-02T03:04:05Z", "2027-01-02T03:04:05Z"),
            ("2027-01-02T05:04:05+02:00", "2027-01-02T03:04:05Z"),
            ("2027-01-02T03:04:05.123Z", "2027-01-02T03:04:05.123Z"),
            ("2027-01-02T03:04:05", "2027-01-02T03:04:05Z"),
        ] {
            assert_eq!(parse_date(text), Some(expected.parse().unwrap()), "{text}");
        }
        assert_eq!(parse_date("next year"), None);
    }

    #[test]
    fn answers_that_are_not_domains_are_explained() {
        assert!(
            parse_domain(b"<html>")
                .unwrap_err()
                .starts_with("the answer is not JSON")
        );
        assert_eq!(
            parse_domain(b"[1]").unwrap_err(),
            "the answer is not an RDAP object"
        );
        assert_eq!(
            parse_domain(br#"{"objectClassName": "entity"}"#).unwrap_err(),
            "the answer is an RDAP `entity` object, not a domain"
        );
        assert_eq!(
            parse_domain(
                br#"{"errorCode": 404, "title": "Not Found", "description": ["No such domain."]}"#
            )
            .unwrap_err(),
            "the server answered with an error: 404 Not Found: No such domain."
        );
        assert_eq!(
            parse_domain(
                br#"{"objectClassName": "domain", "events": [{"eventAction": "expiration", "eventDate": "soon"}]}"#
            )
            .unwrap_err(),
            "the `expiration` event's date `soon` is not an RFC 3339 date"
        );
        let bare = parse_domain(br#"{"objectClassName": "domain"}"#).unwrap();
        assert_eq!(bare.expiration, None);
    }

    #[test]
    fn domains_are_normalised_and_checked() {
        assert_eq!(normalize_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            normalize_domain("xn--bcher-kva.de").unwrap(),
            "xn--bcher-kva.de"
        );
        assert!(normalize_domain("com").unwrap_err().contains("top-level"));
        assert!(
            normalize_domain("bücher.de")
                .unwrap_err()
                .contains("A-label")
        );
        assert!(normalize_domain("-x.com").unwrap_err().contains("`-x`"));
        assert!(normalize_domain("a..com").unwrap_err().contains("``"));
        assert!(normalize_domain("a_b.com").unwrap_err().contains("`a_b`"));
    }
}
