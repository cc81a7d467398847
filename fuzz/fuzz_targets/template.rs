//! Any templated-webhook templates and any alert text: compiling and rendering never panic and
//! stay within their bounds; a rendered JSON body always parses; a rendered URL is http(s) with
//! no space or control character; a header value has no control character; a value written
//! into a JSON body always arrives as the same JSON value.
#![no_main]

use jiff::Timestamp;
use libfuzzer_sys::fuzz_target;
use upkeep_domain::config::Severity;
use upkeep_domain::notify::AlertState;
use upkeep_domain::notify::providers::Message;
use upkeep_domain::notify::template::{self, CustomWebhook, MAX_BODY, MAX_HEADER, MAX_URL};

fuzz_target!(|input: (&str, &str, &str, &str, u8)| {
    let (url, header, body, summary, kind) = input;
    let content_type = match kind % 3 {
        0 => "application/json",
        1 => "application/x-www-form-urlencoded",
        _ => "text/plain",
    };
    let message = Message {
        delivery_id: "d".into(),
        key: summary.chars().rev().collect(),
        state: AlertState::Firing,
        severity: Severity::Critical,
        title: format!("FIRING: {summary}"),
        summary: summary.into(),
        fields: vec![("Alert".into(), summary.into())],
        component: None,
        detail: summary.into(),
        site_name: "Acme".into(),
        site_url: "https://status.example".into(),
        since: Timestamp::UNIX_EPOCH,
        at: Timestamp::UNIX_EPOCH,
    };
    let hook = CustomWebhook {
        method: "POST",
        url: format!("https://t.example/{url}"),
        headers: vec![("X-Fuzz".into(), header.into())],
        content_type: content_type.into(),
        body: Some(body.into()),
    };
    let _ = template::compile(&hook);
    if let Ok(request) = template::render(&hook, &message) {
        assert!(request.url.len() <= MAX_URL);
        assert!(request.url.starts_with("https://t.example/"));
        assert!(!request.url.contains(|c: char| c.is_whitespace() || c.is_control()));
        for (_, value) in &request.headers {
            assert!(value.len() <= MAX_HEADER);
            assert!(!value.contains(|c: char| c.is_control()));
        }
        assert!(request.body.len() <= MAX_BODY);
        if kind % 3 == 0 {
            assert!(serde_json::from_str::<serde_json::Value>(&request.body).is_ok());
        }
    }
    // A value interpolated into a JSON body is that value, whatever it holds.
    let fixed = CustomWebhook {
        body: Some("{\"s\": {{ alert.summary }}, \"t\": {{ title|safe }}}".into()),
        url: "https://t.example/{{ alert.summary }}".into(),
        headers: Vec::new(),
        content_type: "application/json".into(),
        method: "POST",
    };
    match template::render(&fixed, &message) {
        Ok(request) => {
            let v: serde_json::Value = serde_json::from_str(&request.body).unwrap();
            assert_eq!(v["s"].as_str(), Some(summary));
            assert!(!request.url["https://t.example/".len()..].contains(['/', '?', '#']));
        }
        // Only a URL longer than its bound may fail.
        Err(err) => assert!(summary.len() * 3 > MAX_URL - 20, "{err}"),
    }
});
