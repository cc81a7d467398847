//! The maintenance calendars read by real iCalendar parsers (Python's `icalendar` and
//! `recurring-ical-events`, set up by `scripts/test.sh`): the occurrences a client
//! expands from `/maintenance.ics` — across the next spring-forward night — are exactly
//! upkeep's own; a moved occurrence is an override with a higher SEQUENCE, a cancelled one says
//! `STATUS:CANCELLED`; a tenant's calendar shows that tenant's slot, outside its business hours
//! in its own zone. Also the maintenance on the page and in the Statuspage JSON.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::support;

use std::process::Command;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::StatusCode;
use serde_json::Value;
use support::{TestApp, problem};
use upkeep_domain::config::{Config, TenantSel, parse};
use upkeep_domain::maintenance::{Kind, MaintenanceStatus, TenantInput, materialise, plan_slots};
use upkeep_store::maintenance::{MaintenanceEdit, MaintenanceFilter, NewMaintenance};

const CONFIG: &str = r#"
page: { name: Test Cloud, url: "https://status.example.test", timezone: Europe/Rome }
server: { rate_limit: { per_second: 1000, burst: 1000 } }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
  us: { timezone: America/New_York, business_hours: "Mon-Fri 08:00-18:00" }
tenants:
  alpha: { name: Alpha Ltd, region: eu }
  beta: { name: Beta Inc, region: us }
components:
  db: { name: Database }
  api: { name: Public API }
maintenance:
  policy: { outside_business_hours: true, tenant_slot: 15m }
  windows:
    - id: nightly
      title: Nightly database maintenance
      timezone: Europe/Rome
      rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
      duration: 1h
      components: [db]
"#;

fn config() -> Config {
    parse("t.yaml", CONFIG, &|_| None, Timestamp::now()).unwrap_or_else(|e| panic!("{:?}", e.0))
}

fn python_ok() -> bool {
    upkeep_store::testing::peer::python(&["icalendar", "recurring_ical_events"]).is_some()
}

/// Expands `ics` between `from` and `to` with recurring-ical-events; every instance as
/// `{uid, start, end (UTC RFC 3339), status, sequence, summary, tzid}`.
fn expand(ics: &str, from: Timestamp, to: Timestamp) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cal.ics");
    std::fs::write(&file, ics).unwrap();
    let out = Command::new(upkeep_store::testing::peer::python_interpreter())
        .arg("-c")
        .arg(
            r#"
import json, sys, datetime, icalendar, recurring_ical_events
cal = icalendar.Calendar.from_ical(open(sys.argv[1], "rb").read())
def utc(d):
    return d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
start = datetime.datetime.fromisoformat(sys.argv[2])
stop = datetime.datetime.fromisoformat(sys.argv[3])
out = []
for e in recurring_ical_events.of(cal).between(start, stop):
    s = e["DTSTART"].dt
    out.append({
        "uid": str(e["UID"]), "start": utc(s), "end": utc(e["DTEND"].dt),
        "status": str(e.get("STATUS", "")), "sequence": int(e.get("SEQUENCE", 0)),
        "summary": str(e.get("SUMMARY", "")),
        "tzid": str(e["DTSTART"].params.get("TZID", "")),
    })
out.sort(key=lambda x: x["start"])
print(json.dumps(out))
"#,
        )
        .arg(&file)
        .arg(from.to_string())
        .arg(to.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

async fn start() -> TestApp {
    TestApp::start_seeded(CONFIG, |store| async move {
        let now = Timestamp::now();
        upkeep_engine::maintenance::materialise_all(
            &store,
            &config(),
            now,
            Duration::from_secs(20 * 86_400),
        )
        .await
        .unwrap();
        // A one-off maintenance for both tenants, a week ahead at 01:00 UTC for two hours:
        // outside both tenants' business hours whatever the weekday and the season (Rome
        // 02:00–05:00, New York 20:00–23:00).
        let day = now
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()
            .checked_add(jiff::Span::new().days(7))
            .unwrap();
        let begin = day
            .at(1, 0, 0, 0)
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp();
        let mut new = NewMaintenance::new(
            Kind::Planned,
            "Storage upgrade",
            begin,
            begin + jiff::SignedDuration::from_hours(2),
        );
        new.components = vec!["api".into()];
        new.tenants = TenantSel::List(vec!["alpha".into(), "beta".into()]);
        new.description = Some("New disks, one tenant at a time.".into());
        store
            .create_maintenance(&new, "test", now, None)
            .await
            .unwrap();
    })
    .await
}

#[tokio::test]
async fn clients_expand_the_calendar_into_upkeeps_own_occurrences() {
    if !python_ok() {
        return;
    }
    let app = start().await;
    let r = app.get("/maintenance.ics", None).await;
    assert_eq!(r.headers()["content-type"], "text/calendar; charset=utf-8");
    let ics = r.text().await.unwrap();
    assert!(
        ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Rome\r\n"),
        "{ics}"
    );
    assert!(ics.contains("RRULE:FREQ=DAILY;BYHOUR=2;BYMINUTE=30\r\n"));

    // A year ahead: both of Rome's daylight-saving nights are crossed, whatever today is.
    let now = Timestamp::now();
    let from = now + jiff::SignedDuration::from_hours(2);
    let to = now + jiff::SignedDuration::from_hours(24 * 370);
    let window = &config().maintenance.windows[0];
    let ours: Vec<(String, String)> = materialise(window, now, Duration::from_secs(380 * 86_400))
        .unwrap()
        .into_iter()
        // What the client returns: every instance that overlaps [from, to).
        .filter(|o| o.end > from && o.start < to)
        .map(|o| (o.start.to_string(), o.end.to_string()))
        .collect();
    let theirs: Vec<(String, String)> = expand(&ics, from, to)
        .into_iter()
        .filter(|e| e["uid"].as_str().unwrap().starts_with("window-nightly@"))
        .map(|e| {
            (
                e["start"].as_str().unwrap().to_owned(),
                e["end"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(ours.len() > 360, "{}", ours.len());
    assert_eq!(theirs, ours);
    // Every instance lasts exactly its hour; consecutive starts are 24 h apart except around
    // the two nights the clocks change (02:30 does not exist in spring: 03:30 CEST, so the
    // same 01:30Z as the night before; the autumn change leaves 25 h).
    let instants: Vec<(Timestamp, Timestamp)> = ours
        .iter()
        .map(|(s, e)| (s.parse().unwrap(), e.parse().unwrap()))
        .collect();
    assert!(
        instants
            .iter()
            .all(|(s, e)| e.duration_since(*s).as_secs() == 3600)
    );
    let gaps: Vec<i64> = instants
        .windows(2)
        .map(|p| p[1].0.duration_since(p[0].0).as_secs() / 3600)
        .collect();
    assert_eq!(gaps.iter().filter(|g| **g != 24).count(), 2, "{gaps:?}");
    assert!(gaps.contains(&25), "{gaps:?}");
    assert!(gaps.contains(&23), "{gaps:?}");

    // The one-off maintenance is there once, in the page's zone.
    let all = expand(&ics, now, now + jiff::SignedDuration::from_hours(24 * 14));
    let oneoff: Vec<&Value> = all
        .iter()
        .filter(|e| e["summary"] == "Storage upgrade")
        .collect();
    assert_eq!(oneoff.len(), 1);
    assert_eq!(oneoff[0]["tzid"], "Europe/Rome");
    assert_eq!(oneoff[0]["status"], "CONFIRMED");
}

#[tokio::test]
async fn moved_and_cancelled_occurrences_are_overrides() {
    if !python_ok() {
        return;
    }
    let app = start().await;
    let now = Timestamp::now();
    let upcoming = app
        .store
        .list_maintenances(MaintenanceFilter::Upcoming, 100)
        .await
        .unwrap();
    let nightly: Vec<_> = upcoming
        .iter()
        .filter(|m| m.window_id.as_deref() == Some("nightly"))
        .collect();
    let (moved, cancelled) = (nightly[2], nightly[3]);
    let new_start = moved.starts_at + jiff::SignedDuration::from_hours(1);
    app.store
        .reschedule_maintenance(
            &moved.id,
            &MaintenanceEdit {
                starts_at: Some(new_start),
                ends_at: Some(moved.ends_at + jiff::SignedDuration::from_hours(1)),
                ..Default::default()
            },
            "test",
            now,
        )
        .await
        .unwrap()
        .unwrap();
    app.store
        .cancel_maintenance(&cancelled.id, "Not needed this week.", "test", now)
        .await
        .unwrap()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let ics = loop {
        let ics = app.text("/maintenance.ics").await;
        if ics.contains("STATUS:CANCELLED") {
            break ics;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cancellation in {ics}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let key_local = |key: &str| key.rsplit_once('@').unwrap().1.replace(['-', ':'], "");
    let moved_id = format!(
        "RECURRENCE-ID;TZID=Europe/Rome:{}00",
        key_local(moved.occurrence_key.as_deref().unwrap())
    );
    assert!(ics.contains(&moved_id), "{moved_id} in {ics}");

    let instances = expand(&ics, now, now + jiff::SignedDuration::from_hours(24 * 10));
    let at = |t: Timestamp| {
        instances
            .iter()
            .find(|e| e["start"] == t.to_string())
            .cloned()
    };
    // Overrides count from the series' SEQUENCE: the reader applied them (the moved one is at
    // its new time, the old time is gone, the cancelled one says so) and the file says
    // series + 1 for each.
    let series = at(nightly[4].starts_at).expect("an untouched occurrence")["sequence"]
        .as_i64()
        .unwrap();
    let m = at(new_start).expect("the moved occurrence at its new time");
    assert!(m["sequence"].as_i64().unwrap() >= series);
    assert!(at(moved.starts_at).is_none(), "the old time is gone");
    let c = at(cancelled.starts_at).expect("the cancelled occurrence");
    assert_eq!(c["status"], "CANCELLED");
    let unfolded = ics.replace("\r\n ", "");
    let sequences: Vec<i64> = unfolded
        .lines()
        .filter_map(|l| l.strip_prefix("SEQUENCE:"))
        .map(|v| v.trim().parse().unwrap())
        .filter(|v| *v > 1000) // the series and its overrides, not the one-off (0)
        .collect();
    let base = sequences.iter().min().copied().unwrap();
    assert!(
        sequences.iter().filter(|s| **s == base + 1).count() >= 2,
        "{sequences:?}"
    );
}

#[tokio::test]
async fn a_tenants_calendar_shows_its_own_slot() {
    if !python_ok() {
        return;
    }
    let app = start().await;
    let cfg = config();
    let now = Timestamp::now();
    let oneoff = app
        .store
        .list_maintenances(MaintenanceFilter::Upcoming, 100)
        .await
        .unwrap()
        .into_iter()
        .find(|m| m.title == "Storage upgrade")
        .unwrap();
    let inputs: Vec<TenantInput> = ["alpha", "beta"]
        .iter()
        .map(|id| {
            let region = &cfg.regions[&cfg.tenants[*id].region];
            TenantInput {
                id: (*id).into(),
                zone: region.timezone.clone(),
                business_hours: region.business_hours.clone(),
            }
        })
        .collect();
    let slots = plan_slots(
        oneoff.starts_at,
        oneoff.ends_at,
        &inputs,
        Duration::from_secs(900),
        true,
        &[],
    )
    .unwrap();
    for (tenant, zone) in [("alpha", "Europe/Rome"), ("beta", "America/New_York")] {
        let ics = app
            .text(&format!("/tenants/{tenant}/maintenance.ics"))
            .await;
        assert!(ics.contains(&format!("TZID:{zone}")), "{ics}");
        let events = expand(&ics, now, now + jiff::SignedDuration::from_hours(24 * 14));
        let mine: Vec<&Value> = events
            .iter()
            .filter(|e| {
                e["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with("Storage upgrade")
            })
            .collect();
        assert_eq!(mine.len(), 1, "{events:#?}");
        let slot = slots.iter().find(|s| s.tenant == tenant).unwrap();
        assert_eq!(mine[0]["start"], slot.start.to_string());
        assert_eq!(mine[0]["end"], slot.end.to_string());
        assert_eq!(mine[0]["tzid"], zone);
        assert!(
            mine[0]["uid"]
                .as_str()
                .unwrap()
                .contains(&format!("-{tenant}@status.example.test"))
        );
        // Every nightly occurrence (tenants: all) is there too, one slot each.
        let nightly = events
            .iter()
            .filter(|e| e["summary"].as_str().unwrap().starts_with("Nightly"))
            .count();
        assert!(nightly >= 13, "{nightly}");
    }
    problem(
        app.get("/tenants/nobody/maintenance.ics", None).await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

#[tokio::test]
async fn maintenance_shows_on_the_page_and_in_the_statuspage_json() {
    let app = start().await;
    let upcoming: Value = app
        .json("/api/v2/scheduled-maintenances/upcoming.json", None)
        .await;
    let list = upcoming["scheduled_maintenances"].as_array().unwrap();
    assert!(list.len() >= 19, "{}", list.len());
    let first = &list[0];
    for field in [
        "id",
        "name",
        "status",
        "created_at",
        "updated_at",
        "monitoring_at",
        "resolved_at",
        "impact",
        "shortlink",
        "started_at",
        "page_id",
        "incident_updates",
        "components",
        "scheduled_for",
        "scheduled_until",
    ] {
        assert!(first.get(field).is_some(), "{field} missing: {first}");
    }
    assert_eq!(first["status"], "scheduled");
    assert_eq!(first["impact"], "maintenance");
    assert_eq!(first["components"][0]["name"], "Database");
    let active: Value = app
        .json("/api/v2/scheduled-maintenances/active.json", None)
        .await;
    assert_eq!(active["scheduled_maintenances"], Value::Array(vec![]));

    // The page lists the next five and points at the calendar for the rest.
    let html = app.text("/").await;
    assert!(html.contains("Nightly database maintenance"));
    assert!(html.contains("more scheduled"));
    assert!(html.contains("href=\"/maintenance.ics\""));
    let id = first["id"].as_str().unwrap();
    let page = app.text(&format!("/maintenance/{id}")).await;
    assert!(page.contains("<title>Nightly database maintenance — Test Cloud</title>"));

    // In progress: the component is under maintenance and the indicator says so.
    let m = app.store.get_maintenance(id).await.unwrap().unwrap();
    app.store
        .transition_maintenance(
            id,
            m.status,
            MaintenanceStatus::InProgress,
            "test",
            Timestamp::now(),
        )
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let s: Value = app.json("/api/v2/summary.json", None).await;
        let db = s["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Database")
            .unwrap()
            .clone();
        if db["status"] == "under_maintenance" {
            assert_eq!(s["status"]["indicator"], "maintenance");
            assert_eq!(s["scheduled_maintenances"][0]["status"], "in_progress");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
