//! The update inventory against a real HTTP server on a local socket and real files, on
//! SQLite and PostgreSQL: real-shaped `index.yaml` files (prereleases, deprecated entries,
//! `v`-prefixed and two-part versions, an unparseable version, a successor chart in a local
//! file, a 15,000-entry index), an index that changes between refreshes and one that answers
//! 304, one that hangs, one over the size cap (streamed, never held), a redirect loop and a
//! malformed index (each a clear error, the last good read kept); `helm list -o json` imports
//! for several places; an endoflife.date file; every state; policy alerts firing and clearing.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::config::parse;
use upkeep_domain::event::{EventSource, EventState};
use upkeep_domain::inventory::State;
use upkeep_engine::config::{ConfigSource, LoadedConfig};
use upkeep_engine::inventory::{Fetcher, check_policies, refresh};
use upkeep_engine::service::Caller;
use upkeep_engine::service::inventory::{
    InventoryError, InventoryRow, Report, import, list, report_deployed,
};
use upkeep_store::testing::databases;

use crate::probe_support::{Reply, http_server};

/// A release in a test index: version, app version, created, deprecated.
pub type Entry<'a> = (&'a str, &'a str, &'a str, bool);

/// An `index.yaml` as Helm writes it: each entry with the fields a real repository carries.
pub fn index_yaml(charts: &[(&str, &[Entry<'_>])]) -> String {
    let mut out = String::from("apiVersion: v1\nentries:\n");
    for (chart, releases) in charts {
        writeln!(out, "  {chart}:").unwrap();
        for (version, app, created, deprecated) in *releases {
            write!(
                out,
                "  - annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: bump\n    \
                 apiVersion: v2\n    appVersion: {app}\n    created: \"{created}\"\n    \
                 description: A chart\n    digest: 0123abcd\n    home: https://example.invalid\n    \
                 keywords:\n    - ingress\n    maintainers:\n    - email: a@example.invalid\n      name: a\n    \
                 name: {chart}\n    type: application\n    urls:\n    - https://example.invalid/{chart}-{version}.tgz\n    \
                 version: {version}\n"
            )
            .unwrap();
            if *deprecated {
                out.push_str("    deprecated: true\n");
            }
        }
    }
    out.push_str("generated: \"2026-11-01T00:00:00Z\"\n");
    out
}

/// A generated index of `n` entries of chart `big` (1.0.0 .. with a few prereleases).
pub fn big_index(n: usize) -> String {
    let mut entries: Vec<(String, String, String, bool)> = Vec::with_capacity(n);
    for i in 0..n {
        let version = if i % 10 == 9 {
            format!("{}.{}.{}-rc.1", i / 1000, (i / 10) % 100, i % 10)
        } else {
            format!("{}.{}.{}", i / 1000, (i / 10) % 100, i % 10)
        };
        entries.push((
            version,
            format!("v{i}"),
            "2026-01-01T00:00:00Z".into(),
            false,
        ));
    }
    let borrowed: Vec<(&str, &str, &str, bool)> = entries
        .iter()
        .map(|(v, a, c, d)| (v.as_str(), a.as_str(), c.as_str(), *d))
        .collect();
    index_yaml(&[("big", &borrowed)])
}

const TRAEFIK_V1: &[(&str, &str, &str, bool)] = &[
    ("30.0.0", "v3.0.0", "2026-06-01T00:00:00Z", false),
    ("v30.0.1", "v3.0.1", "2026-06-15T00:00:00Z", false),
    ("30.1", "v3.1.0", "2026-07-01T00:00:00Z", false),
    ("31.0.0-rc.1", "v3.2.0-rc.1", "2026-08-01T00:00:00Z", false),
    ("30.2.0", "v3.1.1", "2026-08-02T00:00:00Z", true),
    ("not.a.version", "x", "2026-08-03T00:00:00Z", false),
];

fn traefik_v2() -> Vec<(&'static str, &'static str, &'static str, bool)> {
    let mut v = TRAEFIK_V1.to_vec();
    v.push(("31.0.0", "v3.2.0", "2026-10-01T00:00:00Z", false));
    v
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn helm_list(entries: &[(&str, &str, &str, &str)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(name, ns, chart, app)| {
            format!(
                r#"{{"name":"{name}","namespace":"{ns}","revision":"4","updated":"2026-11-20 10:11:12.123456789 +0000 UTC","status":"deployed","chart":"{chart}","app_version":"{app}"}}"#
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

fn row<'a>(rows: &'a [InventoryRow], item: &str, place: Option<&str>) -> &'a InventoryRow {
    rows.iter()
        .find(|r| r.item == item && r.place.as_deref() == place)
        .unwrap_or_else(|| panic!("no row {item}@{place:?} in {rows:#?}"))
}

#[tokio::test]
async fn indexes_are_read_judged_and_alerted_on() {
    let changed = Arc::new(AtomicUsize::new(0));
    let flip = Arc::clone(&changed);
    let sent = Arc::new(AtomicU64::new(0));
    let streamed = Arc::clone(&sent);
    let big = Arc::new(big_index(15_000));
    let big_body = Arc::clone(&big);
    let server = http_server(move |req, _| match req.path.as_str() {
        "/traefik/index.yaml" => {
            let v2 = flip.load(Ordering::SeqCst) > 0;
            let etag = if v2 { "\"v2\"" } else { "\"v1\"" };
            if req.header("if-none-match") == Some(etag) {
                return Reply::status(304);
            }
            let body = if v2 {
                index_yaml(&[("traefik", &traefik_v2())])
            } else {
                index_yaml(&[("traefik", TRAEFIK_V1)])
            };
            Reply::Full {
                status: 200,
                headers: vec![("ETag".into(), etag.into())],
                body: body.into_bytes(),
            }
        }
        "/big/index.yaml" => Reply::text(200, &big_body),
        "/hang/index.yaml" => Reply::Hang,
        "/huge/index.yaml" => Reply::Stream {
            len: 50 * 1024 * 1024,
            sent: Arc::clone(&streamed),
        },
        "/loop/index.yaml" => Reply::redirect(302, "/loop/index.yaml"),
        "/flaky/index.yaml" if flip.load(Ordering::SeqCst) == 0 => Reply::text(
            200,
            &index_yaml(&[(
                "flaky",
                &[("1.0.0", "1.0.0", "2026-01-01T00:00:00Z", false)],
            )]),
        ),
        "/flaky/index.yaml" => Reply::text(200, "entries:\n  flaky: [ {version: 1.0.0\n"),
        _ => Reply::status(404),
    })
    .await;

    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "charts/index.yaml",
        &index_yaml(&[
            (
                "ingress-old",
                &[("1.0.0", "1.0.0", "2025-01-01T00:00:00Z", true)],
            ),
            (
                "ingress",
                &[
                    ("2.0.0", "2.0.0", "2026-01-01T00:00:00Z", false),
                    ("2.1.0-beta.1", "2.1.0", "2026-02-01T00:00:00Z", false),
                ],
            ),
        ]),
    );
    write(
        dir.path(),
        "eol/traefik.json",
        r#"[
        {"cycle": "3.1", "releaseDate": "2026-07-01", "eol": false, "latest": "3.1.1", "lts": false},
        {"cycle": "3.0", "releaseDate": "2026-04-01", "eol": "2026-10-31", "latest": "3.0.1"},
        {"cycle": "2", "eol": true, "latest": "2.11.0"}
    ]"#,
    );
    let yaml = format!(
        r#"page: {{ name: T, url: "https://status.example", timezone: UTC }}
inventory:
  refresh: 1h
  max_index_size: 16MB
  items:
    traefik:
      helm: {{ index: "{traefik}", chart: traefik }}
      eol: {{ file: eol/traefik.json }}
    ingress:
      helm: {{ index: charts/index.yaml, chart: ingress-old, successor: {{ chart: ingress }} }}
    big:
      helm: {{ index: "{big}", chart: big }}
    hang:
      helm: {{ index: "{hang}", chart: hang }}
    huge:
      helm: {{ index: "{huge}", chart: huge }}
    loop:
      helm: {{ index: "{lp}", chart: loop }}
    flaky:
      helm: {{ index: "{flaky}", chart: flaky }}
  policies:
    - {{ max_behind: minor, severity: warning }}
    - {{ end_of_life: true, severity: critical }}
"#,
        traefik = server.url("/traefik/index.yaml"),
        big = server.url("/big/index.yaml"),
        hang = server.url("/hang/index.yaml"),
        huge = server.url("/huge/index.yaml"),
        lp = server.url("/loop/index.yaml"),
        flaky = server.url("/flaky/index.yaml"),
    );
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, &yaml).unwrap();
    let t0 = t("2026-11-20T12:00:00Z");
    let config = parse("upkeep.yaml", &yaml, &|_| None, t0).unwrap_or_else(|d| panic!("{d}"));
    let loaded = LoadedConfig {
        config,
        source: ConfigSource::File(path),
        digest: String::new(),
        loaded_at: t0,
    };
    let config = &loaded.config;
    let fetcher = Fetcher::new(Duration::from_secs(2)).unwrap();
    let ci = Caller {
        actor: "token:ci (deployer)".into(),
        may_override: false,
    };

    for db in databases("indexes_are_read_judged_and_alerted_on").await {
        changed.store(0, Ordering::SeqCst);
        let store = db.store().await;
        let reads = refresh(&store, &loaded, &fetcher, t0, false).await.unwrap();
        let outcome = |loc: &str| {
            reads
                .iter()
                .find(|r| r.location.contains(loc))
                .map(|r| (r.outcome, r.detail.clone().unwrap_or_default()))
                .unwrap()
        };
        assert_eq!(outcome("/traefik/").0, "fresh");
        assert_eq!(outcome("charts/index.yaml").0, "fresh");
        assert_eq!(outcome("/flaky/").0, "fresh");
        let (o, why) = outcome("/big/");
        assert_eq!(o, "fresh", "{why}");
        let stored = store
            .get_inventory_source(&server.url("/big/index.yaml"))
            .await
            .unwrap()
            .unwrap();
        let summary: upkeep_engine::inventory::IndexSummary =
            serde_json::from_str(stored.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            (summary.entries, summary.charts["big"].len()),
            (15_000, 15_000)
        );
        assert!(
            reads
                .iter()
                .find(|r| r.location.contains("/big/"))
                .unwrap()
                .parse_ms
                .is_some()
        );
        let (o, why) = outcome("/hang/");
        assert!(o == "failed" && why.contains("timed out"), "{why}");
        let (o, why) = outcome("/huge/");
        assert!(o == "failed" && why.contains("max_index_size"), "{why}");
        assert!(
            sent.load(Ordering::SeqCst) < 24 * 1024 * 1024,
            "the body is not read far past the cap: {} bytes sent",
            sent.load(Ordering::SeqCst)
        );
        let (o, why) = outcome("/loop/");
        assert!(o == "failed" && why.contains("redirect"), "{why}");
        assert_eq!(outcome("eol:").0, "fresh");

        // Deployments reported by machines: the API's use case and a `helm list` import for
        // two places.
        let report = |place: &str, chart: &str, app: &str| Report {
            place: place.into(),
            chart_version: chart.into(),
            app_version: Some(app.into()),
        };
        report_deployed(
            &store,
            config,
            &ci,
            "traefik",
            &report("prod-eu", "30.1.0", "v3.1.0"),
            t0,
        )
        .await
        .unwrap();
        let err = report_deployed(
            &store,
            config,
            &ci,
            "nginx",
            &report("prod-eu", "1.0.0", "1"),
            t0,
        )
        .await
        .unwrap_err();
        assert!(matches!(err, InventoryError::UnknownItem(_)), "{err}");
        let err = report_deployed(
            &store,
            config,
            &ci,
            "traefik",
            &report("prod-eu", "latest", "1"),
            t0,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("not a semantic version"), "{err}");
        let err = report_deployed(
            &store,
            config,
            &ci,
            "traefik",
            &report("prod eu", "1.0.0", "1"),
            t0,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("invalid place"), "{err}");

        let us = helm_list(&[
            ("traefik", "traefik", "traefik-30.0.0", "v3.0.0"),
            ("ingress", "ingress", "ingress-old-1.0.0", "1.0.0"),
            ("big", "big", "big-14.99.7", "v14997"),
            ("flaky", "flaky", "flaky-1.0.0", "1.0.0"),
            (
                "cert-manager",
                "cert-manager",
                "cert-manager-v1.15.0",
                "v1.15.0",
            ),
        ]);
        let err = import(&store, config, &ci, "prod-us", &us, false, t0)
            .await
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("cert-manager/cert-manager (cert-manager-v1.15.0)"),
            "{err}"
        );
        assert!(
            store.list_deployed().await.unwrap().len() == 1,
            "a refused import stores nothing"
        );
        let done = import(&store, config, &ci, "prod-us", &us, true, t0)
            .await
            .unwrap();
        assert_eq!(done.imported.len(), 4);
        assert_eq!(done.skipped.len(), 1);
        let ap = helm_list(&[
            ("traefik", "edge", "traefik-31.0.0-rc.1", "v3.2.0-rc.1"),
            ("hang", "x", "hang-1.0.0", "1.0.0"),
        ]);
        import(&store, config, &ci, "prod-ap", &ap, false, t0)
            .await
            .unwrap();
        let twice = helm_list(&[
            ("a", "a", "traefik-30.0.0", "x"),
            ("b", "b", "traefik-30.1.0", "y"),
        ]);
        let err = import(&store, config, &ci, "dev", &twice, false, t0)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("two releases"), "{err}");
        let successor = helm_list(&[("ingress", "ingress", "ingress-2.0.0", "2.0.0")]);
        let err = import(&store, config, &ci, "dev", &successor, false, t0)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("no inventory item is bound"),
            "{err}"
        );
        assert!(
            import(
                &store,
                config,
                &ci,
                "dev",
                "{\"not\": \"a list\"}",
                false,
                t0
            )
            .await
            .is_err()
        );

        let rows = list(&store, config, t0).await.unwrap();
        let eu = row(&rows, "traefik", Some("prod-eu"));
        assert_eq!(eu.assessment.state, State::Current, "{eu:#?}");
        assert_eq!(eu.assessment.latest.as_ref().unwrap().version, "30.1.0");
        let us_t = row(&rows, "traefik", Some("prod-us"));
        assert_eq!(
            us_t.assessment.state,
            State::EndOfLife,
            "3.0 ended on 2026-10-31: {us_t:#?}"
        );
        let eol = us_t.assessment.end_of_life.as_ref().unwrap();
        assert_eq!((eol.cycle.as_str(), eol.days_left), ("3.0", Some(-20)));
        let patch = us_t.assessment.latest_patch.as_ref().unwrap();
        assert_eq!(
            (patch.version.as_str(), patch.releases_behind),
            ("30.0.1", 1)
        );
        let latest = us_t.assessment.latest.as_ref().unwrap();
        assert_eq!(
            (
                latest.version.as_str(),
                latest.releases_behind,
                latest.days_behind
            ),
            ("30.1.0", 2, Some(158))
        );
        assert_eq!(
            row(&rows, "traefik", Some("prod-ap")).assessment.state,
            State::Ahead
        );
        let ingress = row(&rows, "ingress", Some("prod-us"));
        assert_eq!(ingress.assessment.state, State::BehindMajor, "{ingress:#?}");
        assert_eq!(
            ingress.assessment.successor.as_ref().unwrap().version,
            "2.0.0"
        );
        assert_eq!(
            row(&rows, "big", Some("prod-us")).assessment.state,
            State::BehindPatch
        );
        let hang = row(&rows, "hang", Some("prod-ap"));
        assert_eq!(hang.assessment.state, State::Unknown);
        assert!(
            hang.index
                .error
                .as_deref()
                .is_some_and(|e| e.contains("timed out"))
        );
        assert_eq!(row(&rows, "loop", None).assessment.state, State::Unknown);

        // Policies: the end of life at prod-us is critical, the successor move a warning.
        let fired = check_policies(&store, config, t0).await.unwrap();
        let level = |events: &[upkeep_store::monitoring::MonitorEvent], at: &str| {
            events
                .iter()
                .find(|e| e.source == EventSource::Inventory(at.into()))
                .map(|e| e.to)
        };
        assert_eq!(
            level(&fired, "traefik@prod-us"),
            Some(EventState::Critical),
            "{fired:#?}"
        );
        assert_eq!(level(&fired, "ingress@prod-us"), Some(EventState::Warning));
        assert_eq!(
            level(&fired, "traefik@prod-eu"),
            None,
            "ok from ok is no change"
        );
        assert!(
            check_policies(&store, config, t0).await.unwrap().is_empty(),
            "no change, no event"
        );

        // The index changes: a conditional GET gets the new one; then a 304 keeps it.
        changed.store(1, Ordering::SeqCst);
        let t1 = t0 + SignedDuration::from_hours(2);
        let reads = refresh(&store, &loaded, &fetcher, t1, false).await.unwrap();
        assert_eq!(
            reads
                .iter()
                .find(|r| r.location.contains("/traefik/"))
                .unwrap()
                .outcome,
            "fresh"
        );
        let (o, why) = reads
            .iter()
            .find(|r| r.location.contains("/flaky/"))
            .map(|r| (r.outcome, r.detail.clone().unwrap_or_default()))
            .unwrap();
        assert!(
            o == "failed" && why.contains("not a Helm repository index"),
            "{why}"
        );
        let t2 = t1 + SignedDuration::from_hours(2);
        let reads = refresh(&store, &loaded, &fetcher, t2, false).await.unwrap();
        assert_eq!(
            reads
                .iter()
                .find(|r| r.location.contains("/traefik/"))
                .unwrap()
                .outcome,
            "unchanged"
        );
        let rows = list(&store, config, t2).await.unwrap();
        let eu = row(&rows, "traefik", Some("prod-eu"));
        assert_eq!(
            eu.assessment.state,
            State::BehindMajor,
            "31.0.0 is out: {eu:#?}"
        );
        let flaky = row(&rows, "flaky", Some("prod-us"));
        assert_eq!(
            flaky.assessment.state,
            State::Current,
            "the last good read is kept: {flaky:#?}"
        );
        assert_eq!(
            flaky.index.age_seconds,
            Some(4 * 3600),
            "and its age is told"
        );
        assert!(flaky.index.error.is_some());

        let fired = check_policies(&store, config, t2).await.unwrap();
        assert_eq!(
            level(&fired, "traefik@prod-eu"),
            Some(EventState::Warning),
            "{fired:#?}"
        );
        // Upgrading clears it.
        report_deployed(
            &store,
            config,
            &ci,
            "traefik",
            &report("prod-eu", "31.0.0", "v3.2.0"),
            t2,
        )
        .await
        .unwrap();
        let cleared = check_policies(&store, config, t2).await.unwrap();
        assert_eq!(
            level(&cleared, "traefik@prod-eu"),
            Some(EventState::Ok),
            "{cleared:#?}"
        );

        // Every change is audited.
        let audit = store.list_audit(100, None).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|a| a.action == "inventory.deployed")
                .count(),
            8
        );
        store.close().await;
        db.cleanup().await;
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
