//! Nothing internal reaches the public: a real `upkeep serve` whose HTTP probe fails against a
//! closed port, and a real Alertmanager payload (annotations naming internal hosts, a
//! `generatorURL` with Prometheus's address and PromQL) posted to its hook, open automatic
//! incidents; a confirmed e-mail subscriber (a real SMTP server, aiosmtpd) receives their
//! mails. No probe URL, host, port, monitor id, alert name or annotation appears on any public
//! page, feed, JSON document or subscriber mail — while the operator's detail stays in the
//! admin API. Skips loudly without aiosmtpd.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use crate::notify::{Smtp, http, link_path, parse_mail, post_json};
use crate::support::{Server, admin_token};

fn config(smtp_port: u16, monitor: &str) -> String {
    format!(
        r#"
page: {{ name: Acme Cloud, url: "https://status.acme.example", timezone: Europe/Rome }}
components:
  api: {{ name: Public API }}
  db: {{ name: Database }}
notifications:
  smtp: {{ host: 127.0.0.1, port: {smtp_port}, from: "status@acme.example" }}
  delivery_timeout: 2s
{monitor}"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn no_probe_error_or_alert_annotation_reaches_pages_feeds_json_or_mails() {
    let dir = tempfile::tempdir().unwrap();
    let Some(smtp) = Smtp::start(dir.path()) else {
        return;
    };
    let config_path = dir.path().join("upkeep.yaml");
    std::fs::write(&config_path, config(smtp.port, "")).unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let token = admin_token(&db);
    let server = Server::start(&["--config", config_path.to_str().unwrap()], &db);
    let base = format!("http://{}", server.addr);
    let c = http();

    // A subscriber, confirmed.
    let (status, answer) = post_json(
        &c,
        format!("{base}/subscribe"),
        None,
        serde_json::json!({ "email": "alice@customer.example" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let confirm = parse_mail(&smtp.wait_for(1)[0]);
    let confirm_path = link_path(&confirm.text, "/subscribe/confirm/");
    let confirmed = c
        .post(format!("{base}{confirm_path}"))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status().as_u16(), 200);

    // A monitor whose probe fails against a closed port (its error names the URL, host and
    // port), added by a reload.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = format!("127.0.0.1:{closed_port}");
    let probe_path = "/internal/health-check-7731x";
    std::fs::write(
        &config_path,
        config(
            smtp.port,
            &format!(
                "monitors:\n  api-health-probe:\n    component: api\n    http: {{ url: \"http://{target}{probe_path}\" }}\n    interval: 1s\n    timeout: 1s\n    failure_threshold: 1\n"
            ),
        ),
    )
    .unwrap();
    server.signal("HUP");

    // A real Alertmanager notification about the database.
    let generator =
        "http://prometheus.internal.example:9090/graph?g0.expr=pg_replication_lag_seconds+%3E+30";
    let payload = serde_json::json!({
        "version": "4",
        "groupKey": "{}:{alertname=\"PgReplicationLag\"}",
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "upkeep",
        "groupLabels": { "alertname": "PgReplicationLag" },
        "commonLabels": { "alertname": "PgReplicationLag", "severity": "critical", "component": "db" },
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.internal.example:9093",
        "alerts": [{
            "status": "firing",
            "labels": { "alertname": "PgReplicationLag", "severity": "critical", "component": "db", "instance": "pg-replica-2.internal.example:5432" },
            "annotations": {
                "summary": "Replication lag on pg-replica-2.internal.example:5432 is 45s",
                "description": "pg_replication_lag_seconds > 30 for 5m; runbook https://wiki.internal.example/pg"
            },
            "startsAt": "2026-11-22T05:58:12.345Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": generator,
            "fingerprint": "feedc0ffee000001"
        }]
    });
    let hook = c
        .post(format!("{base}/hooks/alertmanager"))
        .bearer_auth(&token)
        .json(&payload)
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook.status().as_u16(),
        200,
        "{}",
        hook.text().await.unwrap()
    );

    // Both incidents open, and the subscriber hears of both.
    let deadline = Instant::now() + Duration::from_secs(30);
    let incidents = loop {
        let list: serde_json::Value = c
            .get(format!("{base}/api/v2/incidents.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let incidents = list["incidents"].as_array().unwrap().clone();
        if incidents.len() == 2 {
            break incidents;
        }
        assert!(Instant::now() < deadline, "two incidents: {list}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mails = smtp.wait_for(3);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mails = smtp.messages().len().max(mails.len());
    let mails: Vec<_> = smtp.messages()[..mails]
        .iter()
        .map(|raw| parse_mail(raw))
        .collect();
    assert!(mails.len() >= 3, "confirmation and two incident mails");

    // Every public text.
    let mut public = Vec::new();
    let mut paths: Vec<String> = [
        "/",
        "/history",
        "/feed.atom",
        "/feed.rss",
        "/maintenance.ics",
        "/api/v2/summary.json",
        "/api/v2/status.json",
        "/api/v2/components.json",
        "/api/v2/incidents.json",
        "/api/v2/incidents/unresolved.json",
        "/api/v2/scheduled-maintenances.json",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .collect();
    for incident in &incidents {
        paths.push(format!("/incidents/{}", incident["id"].as_str().unwrap()));
    }
    for path in &paths {
        let resp = c.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200, "{path}");
        public.push((path.clone(), resp.text().await.unwrap()));
    }
    for (i, mail) in mails.iter().enumerate() {
        public.push((
            format!("mail {i} ({})", mail.subject),
            format!("{}\n{}\n{}", mail.subject, mail.text, mail.html),
        ));
    }
    let internal = [
        target.as_str(),
        probe_path,
        "health-check-7731x",
        "api-health-probe",
        "PgReplicationLag",
        "pg-replica-2",
        "internal.example",
        "pg_replication_lag",
        "9090",
        "runbook",
        "Replication lag",
    ];
    for (where_, text) in &public {
        for needle in internal {
            assert!(
                !text.contains(needle),
                "`{needle}` is public in {where_}:\n{text}"
            );
        }
    }
    // The public text names the components.
    let summary = &public[5].1;
    assert!(
        summary.contains("Public API is down") || summary.contains("Public API is partially down"),
        "{summary}"
    );
    assert!(summary.contains("Database is partially down"), "{summary}");
    assert!(
        mails
            .iter()
            .any(|m| m.text.contains("Database is partially down")),
        "the subscriber heard of the database"
    );

    // The operator's detail is still in the admin API.
    let events = c
        .get(format!("{base}/api/v1/monitors/api-health-probe/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(events.contains(&closed_port.to_string()), "{events}");
}
