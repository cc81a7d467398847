//! `upkeep maintenance plan`: the configured recurring windows' occurrences between two dates
//! with each occurrence's tenant slots, as a table, JSON and iCalendar, without a database.
//! Pins the spring-forward rule (a daily 02:30 window in Europe/Rome starts at 03:30 CEST on
//! 28 March 2027), tenant slots outside business hours in each tenant's zone, the tenants that
//! do not fit, and the errors for a bad configuration and bad dates.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::Output;

use serde_json::Value;
use support::{ok, page_config, text, upkeep};

const CONFIG: &str = page_config!(
    r#"
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-18:00" }
  us: { timezone: America/New_York, business_hours: "Mon-Fri 08:00-18:00" }
tenants:
  acme: { name: Acme Corp, region: eu }
  beta: { name: Beta Inc, region: us }
components:
  db: { name: Database }
maintenance:
  policy:
    outside_business_hours: true
  windows:
    - id: nightly
      title: Nightly database maintenance
      rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
      duration: 1h
      components: [db]
    - id: lunch
      title: Lunch upgrade
      rrule: "FREQ=WEEKLY;BYDAY=MO;BYHOUR=13;BYMINUTE=0"
      duration: 30m
      components: [db]
"#
);

fn failed(out: Output) -> (Option<i32>, String) {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    (out.status.code(), text(&out.stderr))
}

struct Files {
    _dir: tempfile::TempDir,
    config: String,
}

fn files(config: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("upkeep.yaml");
    std::fs::write(&path, config).unwrap();
    Files {
        config: path.to_str().unwrap().to_owned(),
        _dir: dir,
    }
}

fn plan(f: &Files, extra: &[&str]) -> Output {
    let mut args = vec!["maintenance", "plan", "--config", &f.config];
    args.extend_from_slice(extra);
    upkeep(&args)
}

const SPRING: [&str; 4] = ["--from", "2027-03-27", "--to", "2027-03-30"];

#[test]
fn json_lists_occurrences_across_spring_forward_with_slots_in_each_tenant_zone() {
    let f = files(CONFIG);
    let mut args = SPRING.to_vec();
    args.extend(["--format", "json"]);
    let out: Value = serde_json::from_str(&ok(plan(&f, &args))).unwrap();
    let items = out.as_array().unwrap();
    let keys: Vec<&str> = items.iter().map(|o| o["key"].as_str().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "nightly@2027-03-27T02:30",
            "nightly@2027-03-28T02:30",
            "nightly@2027-03-29T02:30",
            "lunch@2027-03-29T13:00",
        ]
    );
    // 28 March: 02:30 does not exist in Rome; the occurrence starts at 03:30 CEST and lasts
    // its hour.
    let spring = &items[1];
    assert_eq!(spring["window"], "nightly");
    assert_eq!(spring["start"], "2027-03-28T01:30:00.000Z");
    assert_eq!(spring["end"], "2027-03-28T02:30:00.000Z");
    assert_eq!(spring["local_start"], "2027-03-28T03:30:00+02:00");
    assert!(spring.get("error").is_none(), "{spring}");
    let slots = spring["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0]["tenant"], "acme");
    assert_eq!(slots[0]["local_start"], "2027-03-28T03:30:00+02:00");
    assert_eq!(slots[0]["local_end"], "2027-03-28T03:45:00+02:00");
    assert_eq!(slots[0]["timezone"], "Europe/Rome");
    assert_eq!(slots[1]["tenant"], "beta");
    assert_eq!(slots[1]["start"], "2027-03-28T01:45:00.000Z");
    assert_eq!(slots[1]["local_start"], "2027-03-27T21:45:00-04:00");
    assert_eq!(slots[1]["timezone"], "America/New_York");
    // The day before, still winter time in Rome.
    assert_eq!(items[0]["local_start"], "2027-03-27T02:30:00+01:00");
    // Monday 13:00 in Rome is business hours there: Acme does not fit, Beta (07:00 in New
    // York) does.
    let lunch = &items[3];
    assert_eq!(
        lunch["error"]["tenants_not_fitting"],
        serde_json::json!(["acme"])
    );
    let slots = lunch["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 1);
    assert_eq!(slots[0]["tenant"], "beta");
    assert_eq!(slots[0]["local_start"], "2027-03-29T07:00:00-04:00");

    // RFC 3339 instants bound the period too: [from, to).
    let out: Value = serde_json::from_str(&ok(plan(
        &f,
        &[
            "--from",
            "2027-03-28T01:30:00Z",
            "--to",
            "2027-03-29T00:30:00Z",
            "--format",
            "json",
        ],
    )))
    .unwrap();
    assert_eq!(out.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(out[0]["key"], "nightly@2027-03-28T02:30");
}

#[test]
fn the_table_shows_local_times_with_zone_abbreviations() {
    let f = files(CONFIG);
    let table = ok(plan(&f, &SPRING));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(
        lines[3], "nightly  2027-03-28 03:30 CEST – 04:30 CEST  Nightly database maintenance",
        "{table}"
    );
    assert!(
        lines[4].trim_start().starts_with("acme")
            && lines[4].contains("2027-03-28 03:30 CEST – 03:45 CEST")
            && lines[4].ends_with("(Europe/Rome)"),
        "{table}"
    );
    assert!(
        lines[5].contains("2027-03-27 21:45 EDT – 22:00 EDT")
            && lines[5].ends_with("(America/New_York)"),
        "{table}"
    );
    assert!(lines[0].contains("02:30 CET – 03:30 CET"), "{table}");
    assert!(
        table.contains("    does not fit: acme (Acme Corp)"),
        "{table}"
    );
    let empty = ok(plan(
        &f,
        &[
            "--from",
            "2027-03-27T03:00:00Z",
            "--to",
            "2027-03-27T04:00:00Z",
        ],
    ));
    assert!(empty.contains("no maintenance window occurs"), "{empty}");
}

#[test]
fn ics_has_one_event_per_occurrence_with_stable_uids() {
    let f = files(CONFIG);
    let mut args = SPRING.to_vec();
    args.extend(["--format", "ics"]);
    let ics = ok(plan(&f, &args));
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.trim_end().ends_with("END:VCALENDAR"), "{ics}");
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 4, "{ics}");
    for uid in [
        "UID:nightly@2027-03-27T02:30",
        "UID:nightly@2027-03-28T02:30",
        "UID:nightly@2027-03-29T02:30",
        "UID:lunch@2027-03-29T13:00",
    ] {
        assert!(ics.contains(uid), "{uid}: {ics}");
    }
    assert!(
        ics.contains("DTSTART;TZID=Europe/Rome:20270328T033000"),
        "{ics}"
    );
    assert!(ics.contains("BEGIN:VTIMEZONE\r\nTZID:Europe/Rome"), "{ics}");
    // The same plan twice gives the same events (DTSTAMP aside).
    let again = ok(plan(&f, &args));
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.starts_with("DTSTAMP"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&ics), strip(&again));
}

#[test]
fn bad_configurations_and_dates_are_refused() {
    // A configuration error: FILE:LINE:COL, as `upkeep check` prints it, exit 1.
    let bad = CONFIG.replace("FREQ=DAILY;BYHOUR=2", "FREQ=SOMETIMES;BYHOUR=2");
    let f = files(&bad);
    let (code, err) = failed(plan(&f, &SPRING));
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("{}:", f.config)), "{err}");
    assert!(err.contains("problem(s) found"), "{err}");

    let f = files(CONFIG);
    let (code, err) = failed(plan(&f, &["--from", "2027-13-01", "--to", "2027-03-30"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("--from must be a date such as"), "{err}");
    let (code, err) = failed(plan(&f, &["--from", "2027-03-30", "--to", "2027-03-27"]));
    assert_eq!(code, Some(1));
    assert!(err.contains("must come before --to"), "{err}");
    let (code, err) = failed(plan(&f, &["--from", "2027-03-27"]));
    assert_eq!(code, Some(2), "{err}");
    let mut args = SPRING.to_vec();
    args.extend(["--format", "xml"]);
    let (code, _) = failed(plan(&f, &args));
    assert_eq!(code, Some(2));
}
