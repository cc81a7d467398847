//! The update inventory's rows on SQLite and PostgreSQL: reports upserted and audited only
//! when they change, sources keeping their last good read through 304s and failures.

use jiff::Timestamp;
use upkeep_store::inventory::{DeployedReport, SourceOutcome};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn report(item: &str, place: &str, chart: &str, app: Option<&str>) -> DeployedReport {
    DeployedReport {
        item: item.into(),
        place: place.into(),
        chart_version: chart.into(),
        app_version: app.map(Into::into),
    }
}

#[tokio::test]
async fn deployed_versions_are_upserted_and_each_change_audited() {
    for db in databases("deployed_versions_are_upserted_and_each_change_audited").await {
        let store = db.store().await;
        let first = store
            .report_deployed(
                &[
                    report("traefik", "prod-eu", "30.0.0", Some("v3.1.0")),
                    report("traefik", "prod-us", "29.0.0", None),
                ],
                "token:a (ci)",
                at(0),
            )
            .await
            .unwrap();
        assert!(first.iter().all(|c| c.changed && c.before.is_none()));
        let same = store
            .report_deployed(
                &[report("traefik", "prod-eu", "30.0.0", Some("v3.1.0"))],
                "token:a (ci)",
                at(60),
            )
            .await
            .unwrap();
        assert!(!same[0].changed, "a repeated report is no change");
        let moved = store
            .report_deployed(
                &[report("traefik", "prod-eu", "30.1.0", Some("v3.1.2"))],
                "cli:ops",
                at(120),
            )
            .await
            .unwrap();
        assert!(moved[0].changed);
        assert_eq!(moved[0].before.as_ref().unwrap().chart_version, "30.0.0");

        let rows = store.list_deployed().await.unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].place.as_str(), rows[0].chart_version.as_str()),
            ("prod-eu", "30.1.0")
        );
        assert_eq!(rows[0].reported_at, at(120));
        assert_eq!(rows[0].reported_by, "cli:ops");
        assert_eq!(rows[1].app_version, None);

        let audit = store.list_audit(10, None).await.unwrap();
        let ours: Vec<_> = audit
            .iter()
            .filter(|a| a.action == "inventory.deployed")
            .collect();
        assert_eq!(ours.len(), 3, "two creations and one change: {ours:#?}");
        assert_eq!(ours[0].target, "inventory/traefik/prod-eu");
        assert_eq!(ours[0].actor, "cli:ops");
        assert_eq!(ours[0].before.as_ref().unwrap()["chart_version"], "30.0.0");
        assert_eq!(ours[0].after.as_ref().unwrap()["chart_version"], "30.1.0");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_source_keeps_its_last_good_read() {
    for db in databases("a_source_keeps_its_last_good_read").await {
        let store = db.store().await;
        let loc = "http://127.0.0.1:1/index.yaml";
        assert_eq!(store.get_inventory_source(loc).await.unwrap(), None);
        store
            .record_inventory_source(
                loc,
                &SourceOutcome::Failed("connection refused".into()),
                at(0),
            )
            .await
            .unwrap();
        let s = store.get_inventory_source(loc).await.unwrap().unwrap();
        assert_eq!(
            (s.body, s.good_at, s.error.as_deref()),
            (None, None, Some("connection refused"))
        );
        let fresh = SourceOutcome::Fresh {
            body: "{\"a\":1}".into(),
            etag: Some("\"v1\"".into()),
            last_modified: Some("Mon, 01 Jan 2024 00:00:00 GMT".into()),
        };
        store
            .record_inventory_source(loc, &fresh, at(10))
            .await
            .unwrap();
        store
            .record_inventory_source(loc, &SourceOutcome::Unchanged, at(20))
            .await
            .unwrap();
        let s = store.get_inventory_source(loc).await.unwrap().unwrap();
        assert_eq!(
            (s.good_at, s.checked_at, s.etag.as_deref()),
            (Some(at(20)), at(20), Some("\"v1\""))
        );
        store
            .record_inventory_source(loc, &SourceOutcome::Failed("timed out".into()), at(30))
            .await
            .unwrap();
        let s = store.get_inventory_source(loc).await.unwrap().unwrap();
        assert_eq!(
            s.body.as_deref(),
            Some("{\"a\":1}"),
            "the last good read is kept"
        );
        assert_eq!(
            (s.good_at, s.checked_at, s.error.as_deref()),
            (Some(at(20)), at(30), Some("timed out"))
        );
        assert_eq!(store.list_inventory_sources().await.unwrap().len(), 1);
        store.close().await;
        db.cleanup().await;
    }
}
