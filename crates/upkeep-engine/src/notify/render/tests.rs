//! What rendered mails and bodies say, byte for byte where it matters.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use upkeep_domain::notify::NoticeComponent;

const SITE: Site<'static> = Site {
    name: "Acme Cloud",
    url: "https://status.acme.test",
};

/// The text part with its wrapping undone.
fn flat(s: &str) -> String {
    one_line(s)
}

/// `s` as askama escapes it in HTML.
fn escaped(s: &str) -> String {
    s.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// Every tag of `html`, `<` to `>`.
fn tags(html: &str) -> Vec<&str> {
    html.split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(t))
        .collect()
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn names() -> BTreeMap<String, String> {
    [
        ("api".to_owned(), "Public API".to_owned()),
        ("db".to_owned(), "Database".to_owned()),
    ]
    .into_iter()
    .collect()
}

fn reader<'a>(
    zone: &'a TimeZone,
    zone_name: &'a str,
    names: &'a BTreeMap<String, String>,
) -> Reader<'a> {
    Reader {
        zone,
        zone_name,
        tenant_name: None,
        tenant_id: None,
        slot: None,
        unsubscribe_url: None,
        component_names: names,
    }
}

fn maintenance(event: MaintenanceEvent, starts: &str, ends: &str) -> MaintenanceNotice {
    MaintenanceNotice {
        event,
        id: "m1".into(),
        title: "Monthly infrastructure maintenance".into(),
        kind: "planned".into(),
        description: "We upgrade the **database** cluster.".into(),
        reason: String::new(),
        starts_at: ts(starts),
        ends_at: ts(ends),
        previous: None,
        components: vec!["api".into(), "db".into()],
        tenants: None,
        canary: vec![],
        lead_seconds: None,
        at: ts("2026-10-01T10:00:00Z"),
    }
}

fn incident(title: &str, body: &str) -> IncidentNotice {
    IncidentNotice {
        event: IncidentEvent::Opened,
        id: "inc-1".into(),
        title: title.into(),
        status: "investigating".into(),
        impact: "major".into(),
        components: vec![NoticeComponent {
            id: "api".into(),
            name: "Public API".into(),
            status: "major_outage".into(),
        }],
        body: body.into(),
        started_at: ts("2026-03-07T21:00:00Z"),
        at: ts("2026-03-07T21:05:00Z"),
    }
}

fn alert(state: AlertState) -> AlertNotice {
    AlertNotice {
        key: "monitor:api-health".into(),
        state,
        severity: Severity::Critical,
        component: Some("api".into()),
        summary: "monitor api-health down".into(),
        detail: "HTTP 503 from https://api.acme.test/health".into(),
        since: ts("2026-03-07T21:00:00Z"),
        at: ts("2026-03-07T21:01:00Z"),
    }
}

#[test]
fn maintenance_across_the_autumn_change_shows_each_offset_and_tenant_slot() {
    // Europe/Rome goes from CEST (+02:00) to CET (+01:00) at 03:00 local on 25 Oct 2026.
    let rome = tz("Europe/Rome");
    let names = names();
    let mut r = reader(&rome, "Europe/Rome", &names);
    r.tenant_name = Some("Acme Corp");
    r.slot = Some((ts("2026-10-25T02:30:00Z"), ts("2026-10-25T02:45:00Z")));
    let n = maintenance(
        MaintenanceEvent::Scheduled,
        "2026-10-24T23:00:00Z", // 01:00 CEST
        "2026-10-25T03:00:00Z", // 04:00 CET
    );
    let mail = notice_email(&SITE, &r, &Notice::Maintenance(n));
    for part in [&flat(&mail.text), &mail.html] {
        assert!(part.contains("01:00 (CEST, UTC+02:00)"), "{part}");
        assert!(part.contains("04:00 (CET, UTC+01:00)"), "{part}");
        assert!(part.contains("Europe/Rome"), "{part}");
        assert!(part.contains("Public API, Database"), "{part}");
    }
    assert!(
        mail.subject.starts_with(
            "[Acme Cloud] Scheduled maintenance: Monthly infrastructure maintenance — "
        )
    );
    assert!(
        mail.subject.contains("Sun 25 Oct 01:00 CEST–04:00 CET"),
        "{}",
        mail.subject
    );
    // The slot: 02:30Z and 02:45Z are 03:30 and 03:45 CET.
    assert!(
        flat(&mail.text).contains(
            "Your service (Acme Corp) will be updated on Sunday 25 October 2026 between 03:30 and 03:45 CET (Europe/Rome)."
        ),
        "{}",
        mail.text
    );
    assert!(mail.html.contains(
        "Your service (Acme Corp) will be updated on Sunday 25 October 2026 between 03:30 and 03:45 CET (Europe/Rome)."
    ));
    assert!(mail.html.contains("<strong>database</strong>"));
    assert!(mail.text.contains("We upgrade the **database** cluster."));
    assert!(
        mail.text
            .contains("https://status.acme.test/maintenance/m1")
    );
}

#[test]
fn same_offset_window_names_the_zone_once_and_new_york_reader_sees_new_york() {
    let names = names();
    let n = Notice::Maintenance(maintenance(
        MaintenanceEvent::Scheduled,
        "2026-03-07T21:00:00Z",
        "2026-03-08T01:00:00Z",
    ));
    let rome = tz("Europe/Rome");
    let mail = notice_email(&SITE, &reader(&rome, "Europe/Rome", &names), &n);
    assert!(
        flat(&mail.text).contains(
            "Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)"
        ),
        "{}",
        mail.text
    );
    assert!(
        mail.html.contains(
            "Saturday 7 March 2026, 22:00 – Sunday 8 March 2026, 02:00 (Europe/Rome, CET)"
        )
    );
    assert_eq!(
        mail.subject,
        "[Acme Cloud] Scheduled maintenance: Monthly infrastructure maintenance — Sat 7 Mar 22:00–02:00 CET"
    );

    // New York is still on EST on 7 March 2026 (DST starts 8 March at 02:00).
    let ny = tz("America/New_York");
    let mail = notice_email(&SITE, &reader(&ny, "America/New_York", &names), &n);
    assert!(
        mail.html
            .contains("Saturday 7 March 2026, 16:00 – 20:00 (America/New_York, EST)"),
        "{}",
        mail.html
    );
    assert!(mail.subject.ends_with("Sat 7 Mar 16:00–20:00 EST"));
}

#[test]
fn reschedule_reminder_and_emergency() {
    let rome = tz("Europe/Rome");
    let names = names();
    let r = reader(&rome, "Europe/Rome", &names);
    let mut n = maintenance(
        MaintenanceEvent::Rescheduled,
        "2026-03-14T21:00:00Z",
        "2026-03-15T01:00:00Z",
    );
    n.previous = Some((ts("2026-03-07T21:00:00Z"), ts("2026-03-08T01:00:00Z")));
    let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
    assert!(
        mail.subject
            .starts_with("[Acme Cloud] Maintenance rescheduled:")
    );
    assert!(mail.html.contains("Saturday 7 March 2026, 22:00"));
    assert!(mail.html.contains("Saturday 14 March 2026, 22:00"));
    assert!(mail.text.contains("Previously: "));

    n.event = MaintenanceEvent::Reminder;
    n.lead_seconds = Some(3600);
    let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
    assert_eq!(
        mail.subject,
        "[Acme Cloud] Reminder: Monthly infrastructure maintenance starts in 1 hour"
    );
    n.lead_seconds = Some(72 * 3600);
    let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
    assert!(mail.subject.ends_with("starts in 72 hours"));
    assert!(mail.text.contains("This maintenance starts in 72 hours."));

    n.event = MaintenanceEvent::Scheduled;
    n.kind = "emergency".into();
    n.reason = "Critical security patch".into();
    let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
    assert!(
        mail.subject
            .starts_with("[Acme Cloud] Emergency maintenance:")
    );
    assert!(mail.text.contains("Reason: Critical security patch"));

    for (event, word) in [
        (MaintenanceEvent::Cancelled, "cancelled"),
        (MaintenanceEvent::Started, "started"),
        (MaintenanceEvent::Completed, "completed"),
    ] {
        n.event = event;
        n.kind = "planned".into();
        let mail = notice_email(&SITE, &r, &Notice::Maintenance(n.clone()));
        assert_eq!(
            mail.subject,
            format!("[Acme Cloud] Maintenance {word}: Monthly infrastructure maintenance")
        );
    }
}

#[test]
fn incident_mail_says_status_impact_components_and_links() {
    let rome = tz("Europe/Rome");
    let names = names();
    let r = reader(&rome, "Europe/Rome", &names);
    let mut n = incident("API errors", "We see *elevated* error rates.");
    let mail = notice_email(&SITE, &r, &Notice::Incident(n.clone()));
    assert_eq!(
        mail.subject,
        "[Acme Cloud] Incident: API errors — Investigating"
    );
    for part in [&mail.text, &mail.html] {
        assert!(part.contains("Investigating"));
        assert!(part.contains("Major"));
        assert!(part.contains("Public API: Major outage"));
        assert!(part.contains("https://status.acme.test/incidents/inc-1"));
        assert!(part.contains("Saturday 7 March 2026, 22:00 (Europe/Rome, CET)"));
    }
    assert!(mail.html.contains("<em>elevated</em>"));
    assert!(mail.text.contains("We see *elevated* error rates."));
    n.event = IncidentEvent::Resolved;
    let mail = notice_email(&SITE, &r, &Notice::Incident(n));
    assert_eq!(mail.subject, "[Acme Cloud] Resolved: API errors");
}

#[test]
fn hostile_text_is_escaped_and_subject_is_one_line() {
    let rome = tz("Europe/Rome");
    let mut names = names();
    names.insert("api".into(), "<script>alert(2)</script>".into());
    let r = reader(&rome, "Europe/Rome", &names);
    let title =
        "Boom\r\nBcc: evil@x.test \"><img src=x onerror=alert(1)> <script>alert(1)</script>";
    let body =
        "<script>alert(3)</script>\n\n\"><img src=x onerror=alert(4)>\n\n[x](javascript:alert(5))";
    let mut inc = incident(title, body);
    inc.components[0].name = "\"><img src=x onerror=alert(6)>".into();
    let mut m = maintenance(
        MaintenanceEvent::Scheduled,
        "2026-03-07T21:00:00Z",
        "2026-03-08T01:00:00Z",
    );
    m.title = title.into();
    m.description = body.into();
    for notice in [Notice::Incident(inc), Notice::Maintenance(m)] {
        let mail = notice_email(&SITE, &r, &notice);
        let lower = mail.html.to_lowercase();
        assert!(!lower.contains("<script"), "{}", mail.html);
        assert!(!lower.contains("<img"), "{}", mail.html);
        assert!(!lower.contains("javascript:"), "{}", mail.html);
        // `onerror` may appear only as escaped text, never inside a tag.
        for tag in tags(&lower) {
            assert!(!tag.contains("onerror"), "{tag}");
            assert!(!tag.contains("script"), "{tag}");
        }
        // The body's hostile HTML is gone altogether (sanitised, not escaped).
        assert!(!lower.contains("alert(3)") && !lower.contains("alert(4)"));
        // The title appears, escaped.
        let shown = escaped(&one_line(title));
        assert!(mail.html.contains(&shown), "{shown}\n{}", mail.html);
        assert!(!mail.subject.contains('\r') && !mail.subject.contains('\n'));
        assert!(mail.subject.contains("Boom Bcc: evil@x.test"));
        assert!(!mail.text.contains("Boom\r"));
    }
}

#[test]
fn long_subject_is_cut_on_a_char_boundary() {
    let rome = tz("Europe/Rome");
    let names = names();
    let r = reader(&rome, "Europe/Rome", &names);
    let n = incident(&"é".repeat(400), "");
    let mail = notice_email(&SITE, &r, &Notice::Incident(n));
    assert_eq!(mail.subject.chars().count(), SUBJECT_MAX_CHARS);
    assert!(mail.subject.ends_with('…'));
}

#[test]
fn unsubscribe_link_in_both_parts_only_when_given() {
    let rome = tz("Europe/Rome");
    let names = names();
    let mut r = reader(&rome, "Europe/Rome", &names);
    let n = Notice::Incident(incident("API errors", ""));
    let mail = notice_email(&SITE, &r, &n);
    assert!(!mail.text.to_lowercase().contains("unsubscribe"));
    assert!(!mail.html.to_lowercase().contains("unsubscribe"));
    assert!(mail.text.contains("you subscribed"));
    let url = "https://status.acme.test/unsubscribe?t=abc&x=1";
    r.unsubscribe_url = Some(url);
    let mail = notice_email(&SITE, &r, &n);
    assert!(mail.text.contains(url));
    assert!(
        mail.html
            .contains("https://status.acme.test/unsubscribe?t=abc&#38;x=1")
            || mail
                .html
                .contains("https://status.acme.test/unsubscribe?t=abc&amp;x=1"),
        "{}",
        mail.html
    );
}

#[test]
fn confirmation_mail_links_expiry_scope_and_ignore_line() {
    let rome = tz("Europe/Rome");
    let names = names();
    let r = reader(&rome, "Europe/Rome", &names);
    let scope = Scope {
        components: vec!["api".into(), "db".into()],
        tenant: None,
    };
    let mail = confirmation_email(
        &SITE,
        &r,
        "https://status.acme.test/subscribe/confirm?t=tok",
        ts("2026-03-08T21:00:00Z"),
        &scope,
    );
    assert_eq!(mail.subject, "[Acme Cloud] Confirm your subscription");
    for part in [&mail.text, &mail.html] {
        assert!(part.contains("https://status.acme.test/subscribe/confirm?t=tok"));
        assert!(part.contains("Sunday 8 March 2026, 22:00 (Europe/Rome, CET)"));
        assert!(part.contains("Public API, Database"));
        assert!(part.contains("If you did not ask for this, ignore this mail"));
    }
    let mail = confirmation_email(
        &SITE,
        &r,
        "https://x.test/c",
        ts("2026-03-08T21:00:00Z"),
        &Scope::default(),
    );
    assert!(
        mail.text
            .contains("every incident and maintenance of Acme Cloud")
    );
    let mut tenant_reader = r;
    tenant_reader.tenant_name = Some("Acme Corp");
    let mail = confirmation_email(
        &SITE,
        &tenant_reader,
        "https://x.test/c",
        ts("2026-03-08T21:00:00Z"),
        &Scope {
            components: vec![],
            tenant: Some("acme".into()),
        },
    );
    assert!(flat(&mail.text).contains("maintenance that concerns Acme Corp"));
    assert!(mail.html.contains("maintenance that concerns Acme Corp"));
}

#[test]
fn alert_mail_subjects() {
    let rome = tz("Europe/Rome");
    let mail = alert_email(&SITE, &rome, "Europe/Rome", &alert(AlertState::Firing));
    assert_eq!(
        mail.subject,
        "[Acme Cloud] FIRING critical: monitor api-health down"
    );
    assert!(
        mail.text
            .contains("HTTP 503 from https://api.acme.test/health")
    );
    assert!(!mail.text.to_lowercase().contains("unsubscribe"));
    let mail = alert_email(&SITE, &rome, "Europe/Rome", &alert(AlertState::Resolved));
    assert_eq!(
        mail.subject,
        "[Acme Cloud] RESOLVED: monitor api-health down"
    );
}

#[test]
fn webhook_body_is_stable_json() {
    let n = Notice::Incident(incident("API errors", "body"));
    let v: Value = serde_json::from_str(&webhook_body(&SITE, "d-42", &n)).unwrap();
    assert_eq!(v["id"], "d-42");
    assert_eq!(v["event"], "incident.opened");
    assert_eq!(v["created_at"], "2026-03-07T21:05:00Z");
    assert_eq!(v["page"]["name"], "Acme Cloud");
    assert_eq!(v["page"]["url"], "https://status.acme.test");
    assert_eq!(v["data"]["type"], "incident");
    assert_eq!(v["data"]["title"], "API errors");
    let back: Notice = serde_json::from_value(v["data"].clone()).unwrap();
    assert_eq!(back, n);
}

#[test]
fn slack_body_escapes_control_characters_and_links() {
    let n = Notice::Incident(incident("Errors <b> & <!channel>", "Body <@U123> & more"));
    let raw = slack_body(&SITE, &tz("Europe/Rome"), &n);
    let v: Value = serde_json::from_str(&raw).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.contains("Errors &lt;b&gt; &amp; &lt;!channel&gt;"),
        "{text}"
    );
    let blocks = v["blocks"].as_array().unwrap();
    let all: String = blocks
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!all.contains("<!channel>"));
    assert!(!all.contains("<@U123>"));
    assert!(all.contains("&lt;@U123&gt; &amp; more"));
    assert!(all.contains("<https://status.acme.test/incidents/inc-1|"));
}

#[test]
fn pagerduty_trigger_and_resolve() {
    let v: Value =
        serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Firing))).unwrap();
    assert_eq!(v["routing_key"], "rk");
    assert_eq!(v["event_action"], "trigger");
    assert_eq!(v["dedup_key"], "upkeep/monitor:api-health");
    assert_eq!(v["payload"]["severity"], "critical");
    assert_eq!(v["payload"]["source"], "status.acme.test");
    assert_eq!(v["payload"]["component"], "api");
    assert_eq!(v["payload"]["timestamp"], "2026-03-07T21:01:00Z");
    assert_eq!(v["payload"]["custom_details"]["state"], "firing");
    assert_eq!(v["client"], "Acme Cloud");
    assert_eq!(v["client_url"], "https://status.acme.test");

    let v: Value =
        serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Repeat))).unwrap();
    assert_eq!(v["event_action"], "trigger");

    let v: Value = serde_json::from_str(&pagerduty_body(
        &SITE,
        "rk",
        &alert(AlertState::Acknowledged),
    ))
    .unwrap();
    assert_eq!(v["event_action"], "acknowledge");
    assert!(v.get("payload").is_none());

    let v: Value =
        serde_json::from_str(&pagerduty_body(&SITE, "rk", &alert(AlertState::Resolved))).unwrap();
    assert_eq!(v["event_action"], "resolve");
    assert_eq!(v["dedup_key"], "upkeep/monitor:api-health");
    assert!(v.get("payload").is_none());

    let mut long = alert(AlertState::Firing);
    long.summary = "ü".repeat(2000);
    let v: Value = serde_json::from_str(&pagerduty_body(&SITE, "rk", &long)).unwrap();
    assert_eq!(
        v["payload"]["summary"].as_str().unwrap().chars().count(),
        1024
    );
}

#[test]
fn long_dedup_keys_are_cut_stable_and_unique() {
    let key = format!("rule:{}", "x".repeat(400));
    let a = pagerduty_dedup_key(&key);
    assert!(a.len() <= 255, "{}", a.len());
    assert!(a.starts_with("upkeep/rule:xxx"));
    assert_eq!(a, pagerduty_dedup_key(&key));
    let other = format!("rule:{}y", "x".repeat(399));
    assert_ne!(a, pagerduty_dedup_key(&other));
    let wide = "ü".repeat(300);
    assert!(pagerduty_dedup_key(&wide).len() <= 255);
    assert_eq!(pagerduty_dedup_key("short"), "upkeep/short");
}

fn update(event: RolloutEvent) -> RolloutNotice {
    RolloutNotice {
        event,
        id: "m1".into(),
        title: "Monthly platform update".into(),
        tenant: "acme".into(),
        tenant_name: "Acme Corp".into(),
        components: vec!["api".into()],
        // 23:00–23:15 CET in Rome on 7 March 2026.
        slot: upkeep_domain::notify::NoticeSlot {
            start: ts("2026-03-07T22:00:00Z"),
            end: ts("2026-03-07T22:15:00Z"),
        },
        at: ts("2026-03-07T22:05:00Z"),
        local: None,
    }
}

#[test]
fn a_tenants_update_is_told_in_the_tenants_zone() {
    let names = names();
    let rome = tz("Europe/Rome");
    let mut r = reader(&rome, "Europe/Rome", &names);
    r.tenant_name = Some("Acme Corp");
    r.tenant_id = Some("acme");
    let subjects: Vec<String> = [
        RolloutEvent::Started,
        RolloutEvent::Completed,
        RolloutEvent::RolledBack,
    ]
    .into_iter()
    .map(|e| notice_email(&SITE, &r, &Notice::Rollout(update(e))).subject)
    .collect();
    assert_eq!(
        subjects,
        [
            "[Acme Cloud] Acme Corp: your update of Monthly platform update started",
            "[Acme Cloud] Acme Corp: your update of Monthly platform update completed",
            "[Acme Cloud] Acme Corp: your update of Monthly platform update was rolled back",
        ]
    );
    let mail = notice_email(&SITE, &r, &Notice::Rollout(update(RolloutEvent::Completed)));
    let text = flat(&mail.text);
    assert!(
        text.contains("completed on Saturday 7 March 2026, 23:05 (Europe/Rome, CET)"),
        "{text}"
    );
    assert!(
        text.contains(
            "Your slot: on Saturday 7 March 2026 between 23:00 and 23:15 CET (Europe/Rome)"
        ),
        "{text}"
    );
    assert!(
        text.contains("https://status.acme.test/maintenance/m1"),
        "{text}"
    );
    assert!(mail.html.contains("23:05"), "{}", mail.html);
    let rolled = notice_email(
        &SITE,
        &r,
        &Notice::Rollout(update(RolloutEvent::RolledBack)),
    );
    assert!(flat(&rolled.text).contains("was rolled back on Saturday 7 March 2026, 23:05"));

    // The same update read in New York (a reader's zone is what counts).
    let ny = tz("America/New_York");
    let r = reader(&ny, "America/New_York", &names);
    let text = flat(&notice_email(&SITE, &r, &Notice::Rollout(update(RolloutEvent::Started))).text);
    assert!(
        text.contains("started on Saturday 7 March 2026, 17:05"),
        "{text}"
    );

    // Slack: the times in the zone it is given.
    let slack = slack_body(
        &SITE,
        &rome,
        &Notice::Rollout(update(RolloutEvent::Completed)),
    );
    let v: Value = serde_json::from_str(&slack).unwrap();
    let block = v["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(block.contains("Acme Corp: update completed"), "{block}");
    assert!(block.contains("*At:* 7 Mar 2026, 23:05 CET"), "{block}");
    assert!(
        block.contains("*Slot:* Sat 7 Mar 23:00–23:15 CET"),
        "{block}"
    );
}

#[test]
fn a_tenants_update_webhook_carries_its_local_times_and_nothing_internal() {
    let rome = tz("Europe/Rome");
    let mut n = update(RolloutEvent::RolledBack);
    n.local = Some(local_times(&n, &rome, "Europe/Rome"));
    let body: Value =
        serde_json::from_str(&webhook_body(&SITE, "d-1", &Notice::Rollout(n))).unwrap();
    assert_eq!(body["event"], "rollout.rolled_back");
    assert_eq!(body["created_at"], "2026-03-07T22:05:00Z");
    let data = &body["data"];
    assert_eq!(data["type"], "rollout");
    assert_eq!(data["event"], "rolled_back");
    assert_eq!(data["tenant"], "acme");
    assert_eq!(data["tenant_name"], "Acme Corp");
    assert_eq!(data["slot"]["start"], "2026-03-07T22:00:00Z");
    assert_eq!(
        data["local"],
        json!({
            "timezone": "Europe/Rome",
            "at": "2026-03-07T23:05:00+01:00",
            "slot_start": "2026-03-07T23:00:00+01:00",
            "slot_end": "2026-03-07T23:15:00+01:00",
        })
    );
    let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "at",
            "components",
            "event",
            "id",
            "local",
            "slot",
            "tenant",
            "tenant_name",
            "title",
            "type"
        ]
    );
}
