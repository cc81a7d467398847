//! `inventory:`: what is read, the defaults, and each mistake at its line and column.

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::config::{IndexLocation, InventoryRule, Lag, Severity, parse};

const PAGE: &str = "page: { name: Acme, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn problems(inventory: &str) -> Vec<String> {
    let text = format!("{PAGE}{inventory}");
    parse("test.yaml", &text, &|_| None, now())
        .err()
        .unwrap_or_else(|| panic!("should be refused:\n{text}"))
        .0
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_contract_block_is_read_with_its_defaults() {
    let text = format!(
        "{PAGE}{}",
        r#"inventory:
  refresh: 1h
  items:
    traefik:
      helm: { index: "https://traefik.github.io/charts/index.yaml", chart: traefik }
      eol: { file: "eol/traefik.json" }
    ingress:
      helm:
        index: charts/index.yaml
        chart: ingress-old
        successor: { chart: ingress }
      places:
        prod-us: { helm: { index: "file:///srv/us/index.yaml", chart: ingress } }
  policies:
    - { max_behind: minor, severity: warning }
    - { end_of_life: true, severity: critical }
"#
    );
    let config = parse("test.yaml", &text, &|_| None, now()).unwrap_or_else(|d| panic!("{d}"));
    let inv = &config.inventory;
    assert_eq!(inv.refresh, Duration::from_secs(3600));
    assert_eq!(inv.max_index_bytes, 50 * 1024 * 1024);
    assert_eq!(
        inv.items["traefik"].helm.index,
        IndexLocation::Url("https://traefik.github.io/charts/index.yaml".into())
    );
    assert_eq!(
        inv.items["traefik"].eol.as_ref().unwrap().file.to_str(),
        Some("eol/traefik.json")
    );
    let ingress = &inv.items["ingress"];
    let successor = ingress.helm.successor.as_ref().unwrap();
    assert_eq!(
        (successor.chart.as_str(), &successor.index),
        ("ingress", &IndexLocation::File("charts/index.yaml".into()))
    );
    assert_eq!(
        inv.sources("ingress", "prod-us").unwrap().helm.index,
        IndexLocation::File("/srv/us/index.yaml".into())
    );
    assert_eq!(
        inv.sources("ingress", "prod-eu").unwrap().helm.chart,
        "ingress-old"
    );
    assert_eq!(inv.index_locations().len(), 3);
    assert_eq!(inv.policies[0].rule, InventoryRule::MaxBehind(Lag::Minor));
    assert_eq!(inv.policies[0].severity, Severity::Warning);
    assert_eq!(inv.policies[1].rule, InventoryRule::EndOfLife);

    let config = parse("test.yaml", PAGE, &|_| None, now()).unwrap();
    assert!(config.inventory.items.is_empty());
}

#[test]
fn mistakes_are_reported_where_they_are() {
    let found = problems(
        r#"inventory:
  refresh: soon
  items:
    traefik:
      helm: { index: "ftp://example.com/index.yaml", chart: traefik }
    nginx:
      helm: { index: "https://example.com/index.yaml" }
      eol: { path: x.json }
    "bad id":
      helm: { index: a.yaml, chart: a }
  policies:
    - { max_behind: minr, severity: warning }
    - { end_of_life: true }
    - { max_behind: patch, end_of_life: true, severity: info }
    - { end_of_life: false, severity: info }
"#,
    );
    let expected = [
        ("test.yaml:3:12:", "bad duration"),
        ("test.yaml:6:22:", "http:// or https://"),
        ("test.yaml:8:13:", "missing required key `chart`"),
        ("test.yaml:9:12:", "missing required key `file`"),
        ("test.yaml:9:14:", "unknown key `path`"),
        ("test.yaml:10:5:", "invalid id `bad id`"),
        ("test.yaml:13:21:", "unknown lag `minr`"),
        ("test.yaml:14:7:", "missing required key `severity`"),
        ("test.yaml:15:28:", "exactly one kind"),
        ("test.yaml:16:22:", "checks nothing"),
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for ((at, fragment), problem) in expected.iter().zip(&found) {
        assert!(
            problem.starts_with(at) && problem.contains(fragment),
            "expected {at} {fragment:?}, got {problem:?}\n{found:#?}"
        );
    }
}
