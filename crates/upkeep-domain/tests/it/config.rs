//! Integration tests of the configuration contract: the shipped example files parse, and each
//! kind of mistake is reported at its exact `line:column` with a useful message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::config::{
    Channel, ChecksMode, Config, MonitorKind, PushSchedule, Secret, Severity, SloWindow, SmtpTls,
    SnmpSecurity, StartTls, TenantSel, parse,
};
use upkeep_domain::snmp::AuthProtocol;

const CONTRACT: &str = include_str!("../../../../examples/upkeep.yaml");
const DEMO: &str = include_str!("../../../../examples/demo.yaml");

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn contract_env(name: &str) -> Option<String> {
    match name {
        "UPKEEP_HOOK_SECRET" => Some("hook-secret".into()),
        "PD_KEY" => Some("pd-routing-key".into()),
        _ => None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The diagnostics of a fixture, each as `LINE:COLUMN: message`.
fn problems(name: &str) -> Vec<String> {
    let diagnostics = parse(name, &fixture(name), &no_env, now())
        .err()
        .unwrap_or_else(|| panic!("{name} should be refused"));
    diagnostics
        .0
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

/// Asserts that the fixture's only problem is at `at` and mentions `fragment`.
fn assert_single(name: &str, at: &str, fragment: &str) {
    let found = problems(name);
    assert_eq!(found.len(), 1, "{name}: {found:#?}");
    let problem = &found[0];
    assert!(
        problem.starts_with(&format!("{at}: ")) && problem.contains(fragment),
        "{name}: expected {at} with {fragment:?}, got {problem:?}"
    );
}

fn parse_ok(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Config {
    parse("test.yaml", text, env, now()).unwrap_or_else(|d| panic!("{d}"))
}

#[test]
fn contract_file_parses_exactly_as_written() {
    let config = parse_ok(CONTRACT, &contract_env);
    assert_eq!(config.page.name, "Acme Cloud");
    assert_eq!(config.page.url, "http://127.0.0.1:8080");
    assert_eq!(config.page.timezone_name, "Europe/Rome");
    assert_eq!(config.regions["us"].timezone_name, "America/New_York");
    assert_eq!(
        config.regions["eu"].business_hours.to_string(),
        "Mon-Fri 08:00-19:00"
    );
    assert_eq!(config.tenants["globex"].region, "us");
    assert_eq!(config.tenants["acme"].vars["host"], "acme.eu.example.com");
    assert!(config.tenants["acme"].public && !config.tenants["globex"].public);
    assert_eq!(
        config.components["acme.app"].tenant.as_deref(),
        Some("acme")
    );
    assert_eq!(config.components["globex.app"].name, "Globex workspace");
    assert_eq!(config.monitors["acme.app-health"].component, "acme.app");
    assert_eq!(
        config.tenant_monitors("globex").collect::<Vec<_>>(),
        vec!["globex.app-health"]
    );
    assert_eq!(config.components["api"].group.as_deref(), Some("Platform"));
    assert_eq!(
        config.components["api"].description.as_deref(),
        Some("REST and GraphQL endpoints")
    );

    let api = &config.monitors["api-health"];
    assert_eq!(api.interval, Duration::from_secs(30));
    assert_eq!(api.timeout, Duration::from_secs(5));
    assert_eq!(api.conditions.len(), 3);
    assert_eq!((api.failure_threshold, api.recovery_threshold), (3, 1));
    let MonitorKind::Http(http) = &api.kind else {
        panic!("api-health is an http monitor")
    };
    assert_eq!(http.method, "GET");
    assert!(http.verify_tls && http.follow_redirects);

    let db_port = &config.monitors["db-port"];
    assert!(matches!(&db_port.kind, MonitorKind::Tcp(tcp) if tcp.address == "127.0.0.1:27017"));
    assert_eq!(db_port.timeout, Duration::from_secs(10));
    let MonitorKind::Push(push) = &config.monitors["nightly-backup"].kind else {
        panic!("nightly-backup is a push monitor")
    };
    assert_eq!(push.key, "fs3nnig3x4bschbj9ajzprwq9fxisb5b");
    assert!(matches!(
        push.schedule,
        PushSchedule::Period { period, grace }
            if period == Duration::from_secs(86_400) && grace == Duration::from_secs(3600)
    ));

    let rule = &config.rules[0];
    assert_eq!(rule.name, "HighCPUUsage");
    assert_eq!(rule.expr.metric, "cpu_usage");
    assert_eq!(rule.for_duration, Duration::from_secs(300));
    assert_eq!(rule.severity, Severity::Warning);

    let policy = &config.maintenance.policy;
    assert_eq!(policy.planned.min_notice, Duration::from_secs(14 * 86_400));
    assert!(policy.emergency.require_reason);
    assert!(policy.outside_business_hours);
    assert_eq!(policy.tenant_slot, Duration::from_secs(900));
    assert_eq!(
        policy.reminders,
        vec![Duration::from_secs(72 * 3600), Duration::from_secs(3600)]
    );
    let window = &config.maintenance.windows[0];
    assert_eq!(window.id, "monthly");
    assert_eq!(window.duration, Duration::from_secs(4 * 3600));
    assert_eq!(window.components, vec!["api", "db"]);
    assert_eq!(window.tenants, TenantSel::All);
    assert_eq!(window.checks, ChecksMode::Run);
    assert!(!window.counts_as_downtime && window.notify_subscribers);
    let rollout = window
        .rollout
        .as_ref()
        .expect("the example window drives a rollout");
    assert_eq!(rollout.canary, vec!["acme"]);
    assert_eq!(rollout.settle(), Duration::from_secs(300));
    assert_eq!(rollout.gate.min_samples, 3);
    assert_eq!(rollout.pause_timeout(), Duration::from_secs(1800));
    assert_eq!(
        rollout.gate_monitors(&config, "acme"),
        vec!["acme.app-health"],
        "by default, the tenant's own monitors gate its step"
    );

    let backup = &config.backups["mongo-main"];
    assert_eq!(backup.rpo, Duration::from_secs(6 * 3600));
    assert_eq!(backup.drill_every, Some(Duration::from_secs(30 * 86_400)));
    assert_eq!(config.slos["api"].objective_ppm, 999_000);
    assert_eq!(config.slos["api"].window, SloWindow::CalendarYear);
    assert_eq!(config.slos["api"].burn_rates.len(), 4);

    let smtp = config.notifications.smtp.as_ref().unwrap();
    assert_eq!((smtp.port, smtp.tls), (2525, SmtpTls::None));
    assert_eq!(
        config.notifications.channels["ops-hook"],
        Channel::Webhook {
            url: "http://127.0.0.1:9100/hook".into(),
            secret: Some("hook-secret".into())
        }
    );
    assert_eq!(
        config.notifications.channels["pager"],
        Channel::PagerDuty {
            routing_key: "pd-routing-key".into(),
            url: "http://127.0.0.1:9100/pd".into()
        }
    );
    assert_eq!(config.notifications.routes.len(), 2);
    assert_eq!(
        config.notifications.routes[0].channels,
        vec!["pager", "ops-chat"]
    );
    assert!(config.alertmanager.is_none());
    assert_eq!(config.server.rate_limit.per_second, 20);
}

#[test]
fn contract_file_without_its_variables_names_both() {
    let diagnostics = parse("upkeep.yaml", CONTRACT, &no_env, now()).unwrap_err();
    let text = diagnostics.to_string();
    assert_eq!(diagnostics.0.len(), 2, "{text}");
    assert!(text.contains("`UPKEEP_HOOK_SECRET` is not set"), "{text}");
    assert!(text.contains("`PD_KEY` is not set"), "{text}");
}

#[test]
fn fixture_copy_of_the_contract_matches_the_example() {
    assert_eq!(fixture("contract.yaml"), CONTRACT);
}

#[test]
fn demo_file_parses_with_no_environment() {
    let config = parse_ok(DEMO, &no_env);
    assert_eq!(config.page.url, "http://127.0.0.1:8080");
    assert!(config.components.contains_key("web") && config.components.contains_key("jobs"));
    let MonitorKind::Http(http) = &config.monitors["web-health"].kind else {
        panic!("web-health is an http monitor")
    };
    assert_eq!(http.url, "http://127.0.0.1:8080/healthz");
    assert!(matches!(
        config.monitors["jobs-heartbeat"].kind,
        MonitorKind::Push(_)
    ));
    assert_eq!(config.maintenance.windows.len(), 1);
    assert_eq!(config.server.max_body_bytes, 1024 * 1024);
    assert!(config.notifications.smtp.is_none());
    // The demo starts quietly: no channel that could fail to deliver, no drill overdue at once.
    assert!(config.notifications.channels.is_empty());
    assert!(config.backups.values().all(|b| b.drill_every.is_none()));
}

#[test]
fn tab_indentation() {
    assert_single("tab.yaml", "3:1", "a tab is used for indentation");
}

#[test]
fn duplicate_key() {
    assert_single(
        "duplicate_key.yaml",
        "4:3",
        "duplicate key `name`, first defined at line 2",
    );
}

#[test]
fn unknown_key_with_suggestion() {
    assert_single(
        "unknown_key.yaml",
        "8:5",
        "unknown key `intervall`; did you mean `interval`?",
    );
}

#[test]
fn wrong_type() {
    assert_single(
        "wrong_type.yaml",
        "5:15",
        "expected a mapping, found the string",
    );
}

#[test]
fn unknown_zone() {
    assert_single(
        "unknown_zone.yaml",
        "4:13",
        "unknown time zone `Europe/Rom`",
    );
}

#[test]
fn rrule_that_never_occurs() {
    assert_single("rrule_never.yaml", "8:14", "never occurs");
}

#[test]
fn bad_rrule() {
    assert_single("rrule_bad.yaml", "8:14", "bad rrule");
}

#[test]
fn bad_cron() {
    assert_single("cron_bad.yaml", "7:33", "bad cron expression `0 25 * * *`");
}

#[test]
fn bad_duration() {
    assert_single("duration_bad.yaml", "8:15", "write 30s");
}

#[test]
fn bad_business_hours() {
    assert_single("business_hours_bad.yaml", "3:48", "unknown day `Fry`");
}

#[test]
fn bad_condition_points_inside_the_string() {
    // Line 8 is `    conditions: ["[STATUS] == 200", "[RESPONSE_TIME] < fast"]`: the second
    // string opens at column 37, its text starts at 38, and `fast` is 18 chars further.
    assert_single(
        "condition_bad.yaml",
        "8:56",
        "expected a number after `<`, found `fast`",
    );
}

#[test]
fn dependency_cycle() {
    assert_single("cycle.yaml", "4:39", "dependency cycle: api -> db -> api");
}

#[test]
fn dangling_references() {
    assert_eq!(
        problems("dangling.yaml"),
        vec![
            "5:36: unknown region `europe` (declared: eu)",
            "10:16: unknown component `apii`; did you mean `api`?",
            "19:23: unknown tenant `globex` (declared: acme)",
            "24:40: unknown channel `pager` (declared: ops-chat)",
        ]
    );
}

#[test]
fn missing_environment_variable_points_at_the_dollar() {
    assert_single(
        "env_missing.yaml",
        "4:45",
        "environment variable `PD_KEY` is not set; set it or write ${PD_KEY:-default}",
    );
}

#[test]
fn environment_defaults_and_escapes() {
    let text = fixture("env_default.yaml");
    let config = parse_ok(&text, &no_env);
    assert_eq!(config.page.name, "Acme Cloud");
    assert_eq!(config.page.url, "http://127.0.0.1:8080");
    assert_eq!(config.server.max_connections, 100);
    assert_eq!(
        config.notifications.channels["price"],
        Channel::Webhook {
            url: "http://127.0.0.1:9100/hook".into(),
            secret: Some("$5".into())
        }
    );
    let set = |name: &str| (name == "HOOK_SECRET").then(|| "from-env".to_owned());
    let config = parse_ok(&text, &set);
    assert!(matches!(
        &config.notifications.channels["hook"],
        Channel::Webhook { secret: Some(secret), .. } if secret == "from-env"
    ));
}

#[test]
fn every_error_is_reported_in_order() {
    assert_eq!(
        problems("many_errors.yaml"),
        vec![
            "3:8: bad URL `ftp://127.0.0.1`: it must start with http:// or https://",
            "4:13: unknown time zone `Mars/Olympus`: use an IANA name such as Europe/Rome or UTC",
            "6:21: unknown key `colour`; expected one of: name, group, description, show_latency, depends_on",
            "10:58: unknown HTTP method `FETCH`: use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS",
            "11:14: bad duration `5 seconds`: unknown unit after 5 (use ms, s, m, h, d or w)",
            "15:22: bad rule expression: expected a number after the comparison, found `> 80`",
            "16:15: unknown severity `urgent`: use critical, warning, info",
        ]
    );
}

#[test]
fn show_latency_is_a_bool_off_by_default_and_a_bad_value_is_placed() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API, show_latency: true }}\n  db: {{ name: DB }}\n"
    );
    let config = parse_ok(&text, &no_env);
    assert!(config.components["api"].show_latency);
    assert!(!config.components["db"].show_latency);
    let bad = format!(
        "{PAGE}components:\n  api:\n    name: API\n    show_latency: sometimes\n  db: {{ name: DB, show_latency: 1 }}\n"
    );
    let diagnostics = parse("conf/upkeep.yaml", &bad, &no_env, now()).unwrap_err();
    assert_eq!(
        diagnostics.to_string(),
        "conf/upkeep.yaml:5:19: expected true or false, found `sometimes`\n\
         conf/upkeep.yaml:6:33: expected true or false, found `1`"
    );
}

#[test]
fn diagnostics_display_file_line_column() {
    let diagnostics = parse("conf/upkeep.yaml", "page: 3\n", &no_env, now()).unwrap_err();
    assert_eq!(
        diagnostics.to_string(),
        "conf/upkeep.yaml:1:7: expected a mapping, found the number 3"
    );
}

#[test]
fn empty_and_non_mapping_files_are_refused() {
    for text in ["", "# nothing\n", "- a\n- b\n", "just text"] {
        assert!(parse("x.yaml", text, &no_env, now()).is_err(), "{text:?}");
    }
}

/// The diagnostics of an inline file, each as `LINE:COLUMN: message`.
fn problems_of(text: &str) -> Vec<String> {
    parse("inline.yaml", text, &no_env, now())
        .err()
        .map(|d| {
            d.0.iter()
                .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
                .collect()
        })
        .unwrap_or_default()
}

const PAGE: &str = "page: { name: Acme, url: \"http://127.0.0.1:8080\", timezone: Europe/Rome }\n";

#[test]
fn push_monitor_on_a_cron_schedule() {
    let text = format!(
        "{PAGE}components:\n  db: {{ name: DB }}\nmonitors:\n  nightly:\n    component: db\n    push: {{ key: nightly, cron: \"0 2 * * *\", timezone: America/New_York }}\n"
    );
    let config = parse_ok(&text, &no_env);
    let MonitorKind::Push(push) = &config.monitors["nightly"].kind else {
        panic!("push monitor")
    };
    assert!(matches!(
        &push.schedule,
        PushSchedule::Cron { expr, timezone_name, grace, .. }
            if expr == "0 2 * * *" && timezone_name == "America/New_York" && *grace == Duration::from_secs(3600)
    ));
}

#[test]
fn missing_required_key_is_reported_at_the_mapping() {
    let text = format!("{PAGE}components:\n  api:\n    group: Platform\n");
    assert_eq!(problems_of(&text), vec!["4:5: missing required key `name`"]);
    assert_eq!(
        problems_of("components: {}\n"),
        vec!["1:1: missing required key `page`"]
    );
}

#[test]
fn cross_section_checks() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  a:\n    component: api\n    push: {{ key: shared, period: 1h }}\n  b:\n    component: api\n    tcp: {{ address: \"127.0.0.1:1\" }}\n    push: {{ key: other, period: 1h }}\nbackups:\n  db: {{ rpo: 1h, rto: 1h, push_key: shared }}\nmaintenance:\n  windows:\n    - {{ id: w, title: W, rrule: \"FREQ=DAILY\", duration: 1h, components: [api] }}\n    - {{ id: w, title: W2, rrule: \"FREQ=DAILY\", duration: 1h, components: [api] }}\nnotifications:\n  channels:\n    mail: {{ email: [\"ops@acme.example\"] }}\n"
    );
    assert_eq!(
        problems_of(&text),
        vec![
            "11:5: a monitor has exactly one kind; found both `tcp` and `push`",
            "13:37: duplicate push key `shared`, first used at line 7",
            "17:7: duplicate window id `w`, first defined at line 16",
            "20:13: an e-mail channel needs `notifications.smtp` to send through",
        ]
    );
}

#[test]
fn optional_sections_have_their_defaults() {
    let config = parse_ok(PAGE, &no_env);
    assert_eq!(config.server.rate_limit.burst, 100);
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(30));
    assert_eq!(config.server.max_connections, 4096);
    assert_eq!(
        config.maintenance.policy.emergency.min_notice,
        Duration::ZERO
    );
    assert!(!config.maintenance.policy.outside_business_hours);
    assert!(config.monitors.is_empty() && config.rules.is_empty());

    let text = format!(
        "{PAGE}server:\n  rate_limit: {{ per_second: 0 }}\n  max_body: 64KB\nalertmanager: {{ url: \"http://127.0.0.1:9093/\" }}\n"
    );
    let config = parse_ok(&text, &no_env);
    assert_eq!(config.server.rate_limit.per_second, 0);
    assert_eq!(config.server.max_body_bytes, 64 * 1024);
    let alertmanager = config.alertmanager.unwrap();
    assert_eq!(alertmanager.url, "http://127.0.0.1:9093");
    assert_eq!(alertmanager.component_label, "component");
}

#[test]
fn condition_error_in_a_block_list_points_inside_the_string() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  m:\n    component: api\n    http: {{ url: \"http://127.0.0.1:1/\" }}\n    conditions:\n      - \"[BODY].a[x] == 1\"\n      - '[STATUS] =! 200'\n"
    );
    assert_eq!(
        problems_of(&text),
        vec![
            "9:19: bad condition: expected an array index such as [0] in the [BODY] path",
            "10:19: bad condition: expected an operator: == != < <= > >= contains matches",
        ]
    );
}

#[test]
fn unquoted_condition_gets_a_hint() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  m:\n    component: api\n    http: {{ url: \"http://127.0.0.1:1/\" }}\n    conditions:\n      - [STATUS] == 200\n"
    );
    let found = problems_of(&text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("9:"), "{found:?}");
    assert!(found[0].contains("must be quoted"), "{found:?}");
}

#[test]
fn monitoring_settings_have_defaults_and_are_validated() {
    let base = "page: { name: X, url: \"http://127.0.0.1:8080\", timezone: UTC }\n";
    let config = parse("m.yaml", base, &|_| None, NOW_FOR_MONITORING).unwrap();
    assert_eq!(
        config.monitoring.retention,
        std::time::Duration::from_secs(14 * 86_400)
    );
    assert_eq!(config.monitoring.max_concurrent, 1024);
    let text = format!("{base}monitoring: {{ retention: 30d, max_concurrent: 64 }}\n");
    let config = parse("m.yaml", &text, &|_| None, NOW_FOR_MONITORING).unwrap();
    assert_eq!(
        config.monitoring.retention,
        std::time::Duration::from_secs(30 * 86_400)
    );
    assert_eq!(config.monitoring.max_concurrent, 64);
    let text = format!("{base}monitoring: {{ retention: 0s, max_concurrent: 0, keep: 1 }}\n");
    let errors = parse("m.yaml", &text, &|_| None, NOW_FOR_MONITORING)
        .unwrap_err()
        .to_string();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 3, "{errors}");
    assert!(lines[0].starts_with("m.yaml:2:26: "), "{errors}");
    assert!(lines[1].starts_with("m.yaml:2:46: "), "{errors}");
    assert!(
        lines[2].starts_with("m.yaml:2:49: ") && lines[2].contains("keep"),
        "{errors}"
    );
}

const NOW_FOR_MONITORING: jiff::Timestamp = jiff::Timestamp::constant(1_795_000_000, 0);

#[test]
fn duplicate_rule_names_are_refused() {
    let text = "page: { name: X, url: \"http://127.0.0.1:8080\", timezone: UTC }\n\
                components:\n  api: { name: API }\n\
                rules:\n  - { name: HighCPU, scrape: \"http://127.0.0.1:9000/metrics\", expr: cpu > 80, severity: warning, component: api }\n  \
                - { name: HighCPU, scrape: \"http://127.0.0.1:9001/metrics\", expr: cpu > 90, severity: critical, component: api }\n";
    let errors = parse("r.yaml", text, &|_| None, NOW_FOR_MONITORING)
        .unwrap_err()
        .to_string();
    assert!(
        errors.starts_with("r.yaml:6:5: duplicate rule name `HighCPU`, first defined at line 5"),
        "{errors}"
    );
}

const PREFLIGHT: &str = r#"
page: { name: P, url: "https://status.example", timezone: Europe/Rome }
components:
  api: { name: API }
  db: { name: DB }
maintenance:
  policy: { preflight_ahead: 30m }
  windows:
    - id: nightly
      title: Nightly
      rrule: "FREQ=DAILY;BYHOUR=2;BYMINUTE=30"
      duration: 1h
      components: [db]
      preflight:
        - backups_fresh
        - no_open_incidents
        - monitors_green
        - { monitors_green: [api, db] }
        - { command: "kubectl get pods -l app=db | grep -c Running", timeout: 20s }
"#;

#[test]
fn windows_name_their_preflight_checks() {
    use upkeep_domain::maintenance::preflight::Check;
    let config = parse_ok(PREFLIGHT, &no_env);
    assert_eq!(
        config.maintenance.policy.preflight_ahead,
        Duration::from_secs(1800)
    );
    assert_eq!(
        config.maintenance.windows[0].preflight,
        vec![
            Check::BackupsFresh,
            Check::NoOpenIncidents,
            Check::MonitorsGreen { components: vec![] },
            Check::MonitorsGreen {
                components: vec!["api".into(), "db".into()]
            },
            Check::Command {
                run: "kubectl get pods -l app=db | grep -c Running".into(),
                timeout_ms: 20_000
            },
        ]
    );
}

#[test]
fn bad_preflight_checks_are_reported_where_they_are() {
    let text = PREFLIGHT
        .replace("- no_open_incidents", "- no_incidents")
        .replace("[api, db]", "[api, dbx]")
        .replace(", timeout: 20s", ", timeout: 2h");
    let diagnostics = parse("upkeep.yaml", &text, &no_env, now()).err().unwrap();
    let found: Vec<String> = diagnostics
        .0
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with("16:11: unknown pre-flight check `no_incidents`"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("18:35: ") && found[1].contains("dbx"),
        "{found:#?}"
    );
    assert!(
        found[2].starts_with("19:11: ") && found[2].contains("at most 1h"),
        "{found:#?}"
    );
}

#[test]
fn a_counted_rule_needs_a_first_day() {
    let text = PREFLIGHT.replace(
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=30",
        "FREQ=DAILY;COUNT=3;BYHOUR=2;BYMINUTE=30",
    );
    let diagnostics = parse("upkeep.yaml", &text, &no_env, now()).err().unwrap();
    assert_eq!(diagnostics.0.len(), 1);
    assert!(diagnostics.0[0].message.contains("COUNT needs `starts`"));
    let with_start = text.replace(
        "      duration: 1h",
        "      starts: 2026-12-01\n      duration: 1h",
    );
    parse_ok(&with_start, &no_env);
}

#[test]
fn notification_settings_have_defaults_and_are_checked() {
    let config = parse_ok(PAGE, &no_env);
    let n = &config.notifications;
    assert_eq!(n.retry.initial, Duration::from_secs(10));
    assert_eq!(n.retry.max_interval, Duration::from_secs(600));
    assert_eq!(n.retry.max_age, Duration::from_secs(3 * 86_400));
    assert_eq!(n.renotify_every, Duration::from_secs(4 * 3600));
    assert_eq!(n.confirm_within, Duration::from_secs(48 * 3600));
    assert_eq!(n.delivery_timeout, Duration::from_secs(10));
    assert_eq!(n.retention, Duration::from_secs(30 * 86_400));

    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  m: {{ component: api, tcp: {{ address: \"127.0.0.1:1\" }}, severity: warning }}\nnotifications:\n  renotify_every: 0s\n  retry: {{ initial: 1s, max_interval: 1m, max_age: 1d }}\n  smtp: {{ host: mail.example, from: \"s@example.com\", tls: starttls, ca_file: /etc/ssl/ca.pem }}\n"
    );
    let config = parse_ok(&text, &no_env);
    assert_eq!(config.monitors["m"].severity, Severity::Warning);
    assert!(config.notifications.renotify_every.is_zero());
    assert_eq!(
        config.notifications.retry.max_age,
        Duration::from_secs(86_400)
    );
    let smtp = config.notifications.smtp.as_ref().unwrap();
    assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
    assert_eq!(
        smtp.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ssl/ca.pem"))
    );

    let text = format!(
        "{PAGE}notifications:\n  retry: {{ initial: 1h, max_interval: 1m }}\n  delivery_timeout: 0s\n  retension: 1d\n"
    );
    assert_eq!(
        problems_of(&text),
        vec![
            "3:10: `initial` must not be longer than `max_interval`",
            "4:21: must be greater than zero",
            "5:3: unknown key `retension`; did you mean `retention`?",
        ]
    );
}

#[test]
fn trusted_proxies_and_the_subscribe_quota() {
    let config = parse_ok(PAGE, &no_env);
    assert!(config.server.trusted_proxies.is_empty());
    assert!(!config.server.proxy_protocol);
    assert_eq!(config.server.subscribe_rate_limit.per_minute, 6);
    assert_eq!(config.server.subscribe_rate_limit.burst, 3);
    assert_eq!(config.server.confirmation_mail_budget.per_hour, 200);
    assert_eq!(
        config.server.confirmation_mail_budget.per_domain_per_hour,
        20
    );
    let text = format!(
        "{PAGE}server:\n  confirmation_mail_budget: {{ per_hour: 50, per_domain_per_hour: 0 }}\n"
    );
    let budget = parse_ok(&text, &no_env).server.confirmation_mail_budget;
    assert_eq!((budget.per_hour, budget.per_domain_per_hour), (50, 0));

    let text = format!(
        "{PAGE}server:\n  trusted_proxies: [127.0.0.1/32, \"10.0.0.0/8\", \"fd00::/8\"]\n  proxy_protocol: true\n  subscribe_rate_limit: {{ per_minute: 60, burst: 10 }}\n"
    );
    let config = parse_ok(&text, &no_env);
    let nets: Vec<String> = config
        .server
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]);
    assert!(config.server.proxy_protocol);
    assert_eq!(config.server.subscribe_rate_limit.per_minute, 60);
    assert_eq!(config.server.subscribe_rate_limit.burst, 10);

    let text = format!(
        "{PAGE}server:\n  trusted_proxies: [10.0.0.1/8, nginx]\n  subscribe_rate_limit: {{ per_minute: 6, burst: 0 }}\n"
    );
    let found = problems_of(&text);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(
        found[0].starts_with("3:21: ")
            && found[0].contains("host bits set: the network is 10.0.0.0/8"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("3:33: ") && found[1].contains("not a network"),
        "{found:#?}"
    );
    assert_eq!(found[2], "4:49: must be greater than zero");
}

#[test]
fn the_metrics_token_is_long_and_printable() {
    assert_eq!(parse_ok(PAGE, &no_env).server.metrics_token, None);
    let text = format!("{PAGE}server:\n  metrics_token: abcdefghijklmnop\n");
    assert_eq!(
        parse_ok(&text, &no_env).server.metrics_token.as_deref(),
        Some("abcdefghijklmnop")
    );
    let text = format!("{PAGE}server:\n  metrics_token: short\n");
    let found = problems_of(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("3:18: ") && found[0].contains("at least 16"),
        "{found:#?}"
    );
}

#[test]
fn smtp_credentials_need_tls_unless_plain_text_is_allowed() {
    let smtp = |rest: &str| {
        format!(
            "{PAGE}notifications:\n  smtp: {{ host: mail.example.com, from: \"s@example.com\"{rest} }}\n"
        )
    };
    let found = problems_of(&smtp(", username: u, password: p"));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("3:58: ") && found[0].contains("clear text"),
        "{found:#?}"
    );
    assert!(problems_of(&smtp(", port: 2525, password: p")).len() == 1);
    for ok in [
        ", username: u, password: p, tls: starttls",
        ", port: 465, username: u, password: p",
        ", username: u, password: p, allow_plaintext_auth: true",
        "",
    ] {
        assert_eq!(problems_of(&smtp(ok)), Vec::<String>::new(), "{ok}");
    }
}

#[test]
fn public_texts_are_templates_with_known_placeholders() {
    let config = parse_ok(PAGE, &no_env);
    assert_eq!(
        upkeep_domain::config::PublicText::render(&config.page.public_text.monitor, "API", "down"),
        "API is down. Our automated checks noticed it and we are investigating."
    );
    let text = "page:\n  name: Acme\n  url: \"http://127.0.0.1:8080\"\n  timezone: Europe/Rome\n  public_text:\n    alert: \"We see trouble with {component}: {status}.\"\n";
    let config = parse_ok(text, &no_env);
    assert_eq!(
        upkeep_domain::config::PublicText::render(
            &config.page.public_text.alert,
            "API",
            "degraded"
        ),
        "We see trouble with API: degraded."
    );
    let bad = "page:\n  name: Acme\n  url: \"http://127.0.0.1:8080\"\n  timezone: Europe/Rome\n  public_text:\n    monitor: \"{component} failed: {reason}\"\n";
    let found = problems_of(bad);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("6:14: ") && found[0].contains("unknown placeholder"),
        "{found:#?}"
    );
}

#[test]
fn a_window_longer_than_max_span_is_refused_at_its_duration() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmaintenance:\n  policy:\n    max_span: 6h\n  windows:\n    - id: short\n      title: Short\n      rrule: \"FREQ=DAILY\"\n      duration: 6h\n      components: [api]\n    - id: long\n      title: Long\n      rrule: \"FREQ=WEEKLY\"\n      duration: 7h\n      components: [api]\n"
    );
    let found = problems_of(&text);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]
            .starts_with("16:17: a window of 7h is longer than `maintenance.policy.max_span` (6h)"),
        "{found:#?}"
    );
    // Within the default limit (31 days) a long window is fine.
    let ok = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmaintenance:\n  windows:\n    - {{ id: w, title: W, rrule: \"FREQ=MONTHLY\", duration: 30d, components: [api] }}\n"
    );
    assert_eq!(
        parse_ok(&ok, &no_env).maintenance.windows[0].duration,
        Duration::from_secs(30 * 86_400)
    );
}

/// The first YAML example of a documentation page.
fn first_yaml_block(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("```yaml\n").unwrap() + "```yaml\n".len();
    text[start..start + text[start..].find("```").unwrap()].to_owned()
}

/// Every provider page's example parses: its channel, under a minimal page and a route to it,
/// with each `${VAR}` set.
#[test]
fn provider_docs_examples_parse() {
    let dir = format!("{}/../../docs/providers", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().and_then(|n| n.to_str()) == Some("README.md") {
            continue;
        }
        let example = first_yaml_block(&path);
        let channels = example
            .split_once("  channels:\n")
            .map_or(example.as_str(), |(_, rest)| rest);
        let channels = channels.split("  routes:").next().unwrap();
        let id = channels.trim_start().split(':').next().unwrap().trim();
        let yaml = format!(
            "page: {{ name: Acme, url: \"https://status.example\", timezone: UTC }}\n\
             notifications:\n  channels:\n{channels}  routes:\n    - {{ severity: critical, channels: [{id}] }}\n"
        );
        let config = parse(
            "example.yaml",
            &yaml,
            &|name: &str| Some(format!("https://hooks.example/{name}")),
            now(),
        )
        .unwrap_or_else(|d| panic!("{}: {d}\n{yaml}", path.display()));
        assert!(
            matches!(
                config.notifications.channels.get(id),
                Some(Channel::Provider(_) | Channel::CustomWebhook(_))
            ),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert_eq!(checked, 13);
}

#[test]
fn a_secret_url_that_does_not_parse_is_not_quoted() {
    let yaml = "page: { name: Acme, url: \"https://status.example\", timezone: UTC }\n\
        notifications:\n  channels:\n    d: { discord: { url: \"ftp://discord.com/api/webhooks/1/SeCrEt\" } }\n";
    let err = parse("t.yaml", yaml, &no_env, now())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t.yaml:4:") && !err.contains("SeCrEt"),
        "{err}"
    );
}

/// A templated webhook's problems are found when the file is read, each at its place: a syntax
/// error at its line inside a block body, an undefined name, a body that does not render JSON.
#[test]
fn custom_webhook_template_problems_are_reported_at_their_line() {
    let yaml = r#"page: { name: Acme, url: "https://status.example", timezone: UTC }
notifications:
  channels:
    a:
      custom_webhook:
        url: "https://t.example/{{ alert.key }}"
        body: |
          {
            "title": {{ title }},
            "key": {{ alert.key
          }
    b:
      custom_webhook:
        url: "https://t.example/{{ alert.nope }}"
    c:
      custom_webhook:
        url: "https://t.example/"
        headers: { X-Ok: "{{ alert.severity }}", "Bad Name": x }
        body: "{{ title }} and more"
"#;
    let err = parse("t.yaml", yaml, &no_env, now()).unwrap_err();
    let found: Vec<String> = err
        .0
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(found.len(), 4, "{found:#?}");
    assert!(
        found[0].starts_with("11:11: body template, line 4: syntax error"),
        "{found:#?}"
    );
    assert!(
        found[1].starts_with("14:15: url template") && found[1].contains("undefined"),
        "{found:#?}"
    );
    assert!(
        found[2].contains("`Bad Name` is not a header name"),
        "{found:#?}"
    );
    assert!(
        found[3].starts_with("19:16: body template") && found[3].contains("not JSON"),
        "{found:#?}"
    );
}

#[test]
fn database_monitors_take_a_url_a_password_and_a_question() {
    let text = format!(
        "{PAGE}components:\n  db: {{ name: DB }}\nmonitors:\n  \
         pg:\n    component: db\n    postgres: {{ url: \"postgres://monitor@127.0.0.1:5432/app\", password: \"${{PG_PASSWORD}}\", query: \"SELECT 1\" }}\n  \
         my:\n    component: db\n    mysql: {{ url: \"mariadb://monitor@127.0.0.1/app\", password_file: /run/secrets/mysql }}\n  \
         cache:\n    component: db\n    redis: {{ url: \"redis://127.0.0.1:6379/0\", command: INFO replication }}\n"
    );
    let env = |name: &str| (name == "PG_PASSWORD").then(|| "from-env".to_owned());
    let config = parse_ok(&text, &env);
    let MonitorKind::Postgres(pg) = &config.monitors["pg"].kind else {
        panic!("postgres monitor")
    };
    assert_eq!(pg.password.as_deref(), Some("from-env"));
    assert_eq!(pg.query.as_deref(), Some("SELECT 1"));
    let MonitorKind::Mysql(my) = &config.monitors["my"].kind else {
        panic!("mysql monitor")
    };
    assert_eq!(
        my.password_file.as_deref(),
        Some(std::path::Path::new("/run/secrets/mysql"))
    );
    let MonitorKind::Redis(cache) = &config.monitors["cache"].kind else {
        panic!("redis monitor")
    };
    assert_eq!(cache.query.as_deref(), Some("INFO replication"));
}

#[test]
fn database_monitor_problems_never_quote_the_password() {
    let text = format!(
        "{PAGE}components:\n  db: {{ name: DB }}\nmonitors:\n  \
         pg:\n    component: db\n    postgres: {{ url: \"http://u:hunter2@db/app\" }}\n  \
         my:\n    component: db\n    mysql: {{ url: \"mysql://db/app\", password: x, password_file: /f }}\n  \
         cache:\n    component: db\n    redis: {{ url: \"redis://db\", query: PING }}\n"
    );
    assert_eq!(
        problems_of(&text),
        vec![
            "7:22: bad URL `http://u:***@db/app`: it must start with postgres:// or postgresql://",
            "10:50: `password` and `password_file` exclude each other",
            "13:33: unknown key `query`; expected one of: url, password, password_file, command",
        ]
    );
}

#[test]
fn mqtt_monitors_take_a_broker_a_topic_and_a_payload() {
    let text = format!(
        "{PAGE}components:\n  mq: {{ name: MQ }}\nmonitors:\n  \
         broker:\n    component: mq\n    mqtt: {{ url: \"mqtts://monitor@mq:8883\", password: \"${{MQ_PASSWORD}}\", topic: upkeep/probe, payload: ping }}\n  \
         bare:\n    component: mq\n    mqtt: {{ url: \"mqtt://mq\", payload: ping }}\n  \
         web:\n    component: mq\n    mqtt: {{ url: \"http://u:hunter2@mq\" }}\n"
    );
    let env = |name: &str| (name == "MQ_PASSWORD").then(|| "from-env".to_owned());
    // The first monitor alone is valid.
    let good = &text[..text.find("  bare:").unwrap()];
    let config = parse_ok(good, &env);
    let MonitorKind::Mqtt(broker) = &config.monitors["broker"].kind else {
        panic!("mqtt monitor")
    };
    assert_eq!(broker.server.password.as_deref(), Some("from-env"));
    assert_eq!(broker.server.query.as_deref(), Some("upkeep/probe"));
    assert_eq!(broker.payload.as_deref(), Some("ping"));
    assert_eq!(
        problems_of(&text),
        vec![
            "7:56: environment variable `MQ_PASSWORD` is not set; set it or write ${MQ_PASSWORD:-default}",
            "10:31: `payload` needs a `topic` to publish it on",
            "13:18: bad URL `http://u:***@mq`: it must start with mqtt:// or mqtts://",
        ]
    );
}

#[test]
fn websocket_monitors_take_a_url_and_a_message() {
    let text = format!(
        "{PAGE}components:\n  web: {{ name: Web }}\nmonitors:\n  \
         live:\n    component: web\n    websocket: {{ url: \"wss://example.net/live\", message: ping }}\n  \
         web:\n    component: web\n    websocket: {{ url: \"https://example.net/live\" }}\n"
    );
    let good = &text[..text.find("  web:\n    component").unwrap()];
    let config = parse_ok(good, &|_| None);
    let MonitorKind::Websocket(live) = &config.monitors["live"].kind else {
        panic!("websocket monitor")
    };
    assert_eq!(live.url, "wss://example.net/live");
    assert_eq!(live.message.as_deref(), Some("ping"));
    assert_eq!(
        problems_of(&text),
        vec!["10:23: bad URL `https://example.net/live`: it must start with ws:// or wss://"]
    );
}

#[test]
fn snmp_monitors_take_an_agent_oids_and_credentials() {
    let text = format!(
        "{PAGE}components:\n  net: {{ name: Net }}\nmonitors:\n  \
         sw:\n    component: net\n    snmp: {{ address: switch1, oid: .1.3.6.1.2.1.1.3.0, community: \"${{COMMUNITY}}\" }}\n  \
         ups:\n    component: net\n    snmp: {{ address: \"ups:1161\", oid: [1.3.6.1.4.1.1.0, 1.3.6.1.4.1.2.0], user: monitor, auth_protocol: sha256, auth_key_file: /run/auth, priv_key: \"${{PRIV}}\", context: ups }}\n"
    );
    let env = |name: &str| match name {
        "COMMUNITY" => Some("c0mmunity-x".to_owned()),
        "PRIV" => Some("priv-pass-1".to_owned()),
        _ => None,
    };
    let config = parse_ok(&text, &env);
    let MonitorKind::Snmp(sw) = &config.monitors["sw"].kind else {
        panic!("snmp monitor")
    };
    assert_eq!(sw.address, "switch1:161");
    assert_eq!(sw.oids.len(), 1);
    assert_eq!(sw.oids[0].to_string(), "1.3.6.1.2.1.1.3.0");
    assert_eq!(
        sw.security,
        SnmpSecurity::V2c {
            community: Secret::Value("c0mmunity-x".into())
        }
    );
    let MonitorKind::Snmp(ups) = &config.monitors["ups"].kind else {
        panic!("snmp monitor")
    };
    assert_eq!(ups.address, "ups:1161");
    assert_eq!(ups.oids.len(), 2);
    let SnmpSecurity::V3(user) = &ups.security else {
        panic!("SNMPv3")
    };
    assert_eq!(user.name, "monitor");
    assert_eq!(user.context, "ups");
    assert_eq!(
        user.auth,
        Some((AuthProtocol::Sha256, Secret::File("/run/auth".into())))
    );
    assert_eq!(user.privacy, Some(Secret::Value("priv-pass-1".into())));
    // The debug form (logs) never holds a secret.
    let shown = format!("{:?} {:?}", config.monitors["sw"], config.monitors["ups"]);
    assert!(
        !shown.contains("c0mmunity-x") && !shown.contains("priv-pass-1"),
        "{shown}"
    );
    assert!(shown.contains("/run/auth"), "{shown}");

    let bad = |snmp: &str| {
        problems_of(&format!(
            "{PAGE}components:\n  net: {{ name: Net }}\nmonitors:\n  m:\n    component: net\n    snmp: {{ address: sw, {snmp} }}\n"
        ))
    };
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0"),
        vec![
            "7:11: an snmp monitor needs `community` or `community_file` (SNMPv2c) or `user` (SNMPv3); there is no default community"
        ]
    );
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0, community: public1, user: u"),
        vec!["7:11: `community` (SNMPv2c) and `user` (SNMPv3) exclude each other"]
    );
    assert_eq!(
        bad("oid: sysUpTime.0, community: public1"),
        vec![
            "7:31: bad OID `sysUpTime.0`: use numbers separated by dots, such as 1.3.6.1.2.1.1.3.0 (names need a MIB, which upkeep does not read)"
        ]
    );
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0, community: public1, auth_key: longenough"),
        vec!["7:70: `auth_key` is for SNMPv3 (`user`), not a community"]
    );
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0, user: u, auth_key: longenough"),
        vec!["7:11: `auth_key` needs `auth_protocol`: sha or sha256"]
    );
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0, user: u, priv_key: longenough"),
        vec![
            "7:11: `priv_key` needs `auth_key`: SNMPv3 encrypts only authenticated messages (authPriv)"
        ]
    );
    let short = bad("oid: 1.3.6.1.2.1.1.3.0, user: u, auth_protocol: md5, auth_key: sh0rt");
    assert_eq!(
        short,
        vec![
            "7:74: unknown authentication protocol `md5`: use sha, sha1, sha256",
            "7:89: `auth_key` is too short: at least 8 characters",
        ]
    );
    assert!(short.iter().all(|p| !p.contains("sh0rt")));
    assert_eq!(
        bad("oid: 1.3.6.1.2.1.1.3.0, community: public1, community_file: /f"),
        vec!["7:70: `community` and `community_file` exclude each other"]
    );
}

/// The example of docs/probes/snmp.md is a working configuration.
#[test]
fn the_snmp_page_example_parses() {
    let page = include_str!("../../../../docs/probes/snmp.md");
    let example = page
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .unwrap();
    let env = |name: &str| Some(format!("{name}-value"));
    let config = parse_ok(&format!("{PAGE}{example}"), &env);
    let MonitorKind::Snmp(ups) = &config.monitors["ups-load"].kind else {
        panic!("snmp monitor")
    };
    assert_eq!(ups.oids.len(), 2);
    assert!(matches!(&ups.security, SnmpSecurity::V3(user) if user.privacy.is_some()));
    assert_eq!(config.monitors["core-switch"].conditions.len(), 1);
}

#[test]
fn grpc_monitors_take_a_server_a_service_a_ca_file_and_metadata() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  \
         cart:\n    component: api\n    grpc: {{ url: \"grpcs://cart.internal:8443\", service: shop.Cart, ca_file: /etc/upkeep/ca.pem, metadata: {{ authorization: \"Bearer s3cret\" }}, metadata_files: {{ x-api-key: /run/secrets/key }} }}\n  \
         plain:\n    component: api\n    grpc: {{ url: \"grpc://10.0.0.5:50051\" }}\n  \
         bad1:\n    component: api\n    grpc: {{ url: \"grpc://10.0.0.5\" }}\n  \
         bad2:\n    component: api\n    grpc: {{ url: \"grpc://10.0.0.5:1/x.Y\", ca_file: /ca.pem }}\n  \
         bad3:\n    component: api\n    grpc: {{ url: \"grpc://10.0.0.5:1\", ca_file: /ca.pem }}\n  \
         bad4:\n    component: api\n    grpc: {{ url: \"grpcs://h\", metadata: {{ Grpc-Timeout: \"1\", te: x, key-bin: x }} }}\n  \
         bad5:\n    component: api\n    grpc: {{ url: \"grpcs://h\", metadata: {{ token: \"s3cret\" }}, metadata_files: {{ token: /t }} }}\n  \
         bad6:\n    component: api\n    grpc: {{ url: \"grpcs://h\", metadata: {{ token: \"s3cret\\u00e9\" }} }}\n"
    );
    let good = &text[..text.find("  bad1:").unwrap()];
    let config = parse_ok(good, &|_| None);
    let MonitorKind::Grpc(cart) = &config.monitors["cart"].kind else {
        panic!("grpc monitor")
    };
    assert_eq!(cart.url, "grpcs://cart.internal:8443");
    assert_eq!(cart.service, "shop.Cart");
    assert_eq!(
        cart.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/upkeep/ca.pem"))
    );
    assert_eq!(
        cart.metadata["authorization"],
        Secret::Value("Bearer s3cret".into())
    );
    assert_eq!(
        cart.metadata["x-api-key"],
        Secret::File("/run/secrets/key".into())
    );
    // The metadata values never show in the Debug form (logs).
    let debug = format!("{cart:?}");
    assert!(
        !debug.contains("s3cret") && debug.contains("authorization"),
        "{debug}"
    );
    let MonitorKind::Grpc(plain) = &config.monitors["plain"].kind else {
        panic!("grpc monitor")
    };
    assert_eq!((plain.service.as_str(), plain.metadata.len()), ("", 0));
    let problems = problems_of(&text);
    assert!(
        problems.iter().all(|p| !p.contains("s3cret")),
        "{problems:?}"
    );
    assert_eq!(
        problems,
        vec![
            "13:18: bad URL `grpc://10.0.0.5`: give the port: grpc://HOST:PORT",
            "16:18: bad URL `grpc://10.0.0.5:1/x.Y`: a gRPC URL names the server only, without a path",
            "19:39: `ca_file` needs TLS: use a grpcs:// URL",
            "22:41: bad metadata name `Grpc-Timeout`: use lower case letters, digits, `-`, `_` and `.`",
            "22:41: bad metadata name `key-bin`: binary metadata is not supported",
            "22:41: bad metadata name `te`: the protocol itself sets it",
            "25:62: metadata `token` is in both `metadata` and `metadata_files`",
            "28:41: the value of metadata `token` must be printable ASCII",
        ]
    );
}

#[test]
fn icmp_monitors_take_a_host_count_and_packet_timing() {
    let good = format!(
        "{PAGE}components:\n  net: {{ name: Net }}\nmonitors:\n  \
         gw:\n    component: net\n    icmp: {{ host: 10.0.0.1 }}\n  \
         v6:\n    component: net\n    icmp: {{ host: \"[2001:db8::1]\", count: 5, packet_interval: 1s, packet_timeout: 2s, family: ipv6 }}\n    timeout: 10s\n"
    );
    let config = parse_ok(&good, &|_| None);
    let MonitorKind::Icmp(gw) = &config.monitors["gw"].kind else {
        panic!("icmp monitor")
    };
    assert_eq!(gw.host, "10.0.0.1");
    assert_eq!(gw.count, 3);
    assert_eq!(gw.packet_interval, Duration::from_millis(200));
    assert_eq!(gw.packet_timeout, Duration::from_secs(1));
    assert_eq!(gw.family, None);
    let MonitorKind::Icmp(v6) = &config.monitors["v6"].kind else {
        panic!("icmp monitor")
    };
    assert_eq!(v6.host, "2001:db8::1");
    assert_eq!(
        (v6.count, v6.family),
        (5, Some(upkeep_domain::config::IpFamily::V6))
    );

    let bad = format!(
        "{PAGE}components:\n  net: {{ name: Net }}\nmonitors:\n  \
         a:\n    component: net\n    icmp: {{ host: \"10.0.0.1:80\", count: 0 }}\n  \
         b:\n    component: net\n    icmp: {{ host: gw.example, count: 10, packet_interval: 1s }}\n    timeout: 5s\n"
    );
    assert_eq!(
        problems_of(&bad),
        vec![
            "7:19: bad host `10.0.0.1:80`: expected a host name or an IP address (no port)",
            "7:41: `count` must be between 1 and 100, found 0",
            "9:5: the echo requests need up to 10s ((count - 1) x packet_interval + packet_timeout) but the monitor's timeout is 5s: raise `timeout` or lower `count`",
        ]
    );
}

#[test]
fn docker_monitors_take_a_container_and_an_engine_host() {
    let text = format!(
        "{PAGE}components:\n  web: {{ name: Web }}\nmonitors:\n  \
         web:\n    component: web\n    docker: {{ container: web-1 }}\n  \
         remote:\n    component: web\n    docker: {{ container: 4fa6e0f0c678, host: \"tcp://10.0.0.7:2375\" }}\n  \
         mounted:\n    component: web\n    docker: {{ container: db, host: /run/user/1000/docker.sock }}\n  \
         bad1:\n    component: web\n    docker: {{ container: \"../etc\" }}\n  \
         bad2:\n    component: web\n    docker: {{ container: web, host: \"http://10.0.0.7\" }}\n  \
         bad3:\n    component: web\n    docker: {{ container: web, host: \"tcp://10.0.0.7\" }}\n"
    );
    let good = &text[..text.find("  bad1:").unwrap()];
    let config = parse_ok(good, &|_| None);
    let host = |id: &str| match &config.monitors[id].kind {
        MonitorKind::Docker(check) => (check.container.clone(), check.host.to_string()),
        _ => panic!("docker monitor"),
    };
    assert_eq!(
        host("web"),
        ("web-1".into(), "unix:///var/run/docker.sock".into())
    );
    assert_eq!(
        host("remote"),
        ("4fa6e0f0c678".into(), "tcp://10.0.0.7:2375".into())
    );
    assert_eq!(
        host("mounted"),
        ("db".into(), "unix:///run/user/1000/docker.sock".into())
    );
    assert_eq!(
        problems_of(&text),
        vec![
            "16:26: bad container `../etc`: a Docker name or id starts with a letter or digit followed by letters, digits, `_`, `.` or `-`",
            "19:37: bad Docker host `http://10.0.0.7`: use unix:///PATH (the socket, as in DOCKER_HOST) or tcp://HOST:PORT",
            "22:37: bad Docker host `tcp://10.0.0.7`: a port is required, e.g. 127.0.0.1:5432",
        ]
    );
}

#[test]
fn domain_monitors_take_a_name_and_where_to_ask() {
    let good = format!(
        "{PAGE}components:\n  web: {{ name: Web }}\nmonitors:\n  \
         reg:\n    component: web\n    domain: {{ name: Example.COM. }}\n  \
         own:\n    component: web\n    domain: {{ name: example.net, rdap_server: \"https://rdap.example/v1/\", refresh: 12h }}\n  \
         file:\n    component: web\n    domain: {{ name: example.org, bootstrap_file: /etc/upkeep/dns.json }}\n"
    );
    let config = parse_ok(&good, &|_| None);
    let MonitorKind::Domain(reg) = &config.monitors["reg"].kind else {
        panic!("domain monitor")
    };
    assert_eq!(reg.name, "example.com");
    assert_eq!(reg.rdap_server, None);
    assert_eq!(reg.refresh, Duration::from_secs(6 * 3600));
    let MonitorKind::Domain(own) = &config.monitors["own"].kind else {
        panic!("domain monitor")
    };
    assert_eq!(own.rdap_server.as_deref(), Some("https://rdap.example/v1"));
    assert_eq!(own.refresh, Duration::from_secs(12 * 3600));
    let MonitorKind::Domain(file) = &config.monitors["file"].kind else {
        panic!("domain monitor")
    };
    assert_eq!(
        file.bootstrap_file.as_deref(),
        Some(std::path::Path::new("/etc/upkeep/dns.json"))
    );

    let bad = format!(
        "{PAGE}components:\n  web: {{ name: Web }}\nmonitors:\n  \
         a:\n    component: web\n    domain: {{ name: localhost }}\n  \
         b:\n    component: web\n    domain: {{ name: example.com, rdap_server: \"ftp://x\" }}\n  \
         c:\n    component: web\n    domain: {{ name: example.com, rdap_server: \"https://x\", bootstrap_file: f.json }}\n"
    );
    assert_eq!(
        problems_of(&bad),
        vec![
            "7:21: bad domain `localhost`: expected a registered domain such as example.com, with its top-level domain",
            "10:47: bad URL `ftp://x`: it must start with http:// or https://",
            "13:60: `rdap_server` and `bootstrap_file` exclude each other: the server is asked directly",
        ]
    );
}

#[test]
fn mail_monitors_take_a_url_starttls_and_a_ca_file() {
    let text = format!(
        "{PAGE}components:\n  mail: {{ name: Mail }}\nmonitors:\n  \
         mx:\n    component: mail\n    smtp: {{ url: \"smtp://mx.example.net:587\", starttls: required, ca_file: /etc/ca.pem }}\n  \
         box:\n    component: mail\n    imap: {{ url: \"imaps://imap.example.net\" }}\n  \
         plain:\n    component: mail\n    imap: {{ url: \"imap://imap.example.net\" }}\n  \
         bad1:\n    component: mail\n    smtp: {{ url: \"smtps://mx.example.net\", starttls: never }}\n  \
         bad2:\n    component: mail\n    imap: {{ url: \"smtp://mx.example.net\" }}\n  \
         bad3:\n    component: mail\n    smtp: {{ url: \"smtp://me:pw@mx.example.net\" }}\n  \
         bad4:\n    component: mail\n    smtp: {{ url: \"smtp://mx.example.net\", starttls: maybe }}\n"
    );
    let good = &text[..text.find("  bad1:").unwrap()];
    let config = parse_ok(good, &|_| None);
    let MonitorKind::Smtp(mx) = &config.monitors["mx"].kind else {
        panic!("smtp monitor")
    };
    assert_eq!(mx.url, "smtp://mx.example.net:587");
    assert_eq!(mx.starttls, StartTls::Required);
    assert_eq!(
        mx.ca_file.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    let MonitorKind::Imap(mailbox) = &config.monitors["box"].kind else {
        panic!("imap monitor")
    };
    assert_eq!(mailbox.starttls, StartTls::Never);
    let MonitorKind::Imap(plain) = &config.monitors["plain"].kind else {
        panic!("imap monitor")
    };
    assert_eq!(plain.starttls, StartTls::IfOffered);
    assert_eq!(
        problems_of(&text),
        vec![
            "16:44: `starttls` applies to smtp:// only: smtps:// is TLS from the first byte",
            "19:18: bad URL `smtp://mx.example.net`: it must start with imap:// or imaps://",
            "22:18: bad URL `smtp://me:***@mx.example.net`: it takes no user: the smtp probe does not log in",
            "25:53: unknown STARTTLS choice `maybe`: use required, if_offered, never",
        ]
    );
}

/// Every probe page's example parses under a minimal page, with each `${VAR}` set.
#[test]
fn probe_docs_examples_parse() {
    let dir = format!("{}/../../docs/probes", env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().and_then(|n| n.to_str()) == Some("README.md") {
            continue;
        }
        let yaml = format!("{PAGE}{}", first_yaml_block(&path));
        let config = parse(
            "example.yaml",
            &yaml,
            &|name: &str| Some(format!("{name}-value")),
            now(),
        )
        .unwrap_or_else(|d| panic!("{}: {d}\n{yaml}", path.display()));
        assert!(!config.monitors.is_empty(), "{}", path.display());
        checked += 1;
    }
    assert!(checked >= 7, "{checked} pages");
}

/// The examples of docs/probes/icmp.md and domain.md are working configurations.
#[test]
fn the_icmp_and_domain_page_examples_parse() {
    let example = |page: &str| {
        page.split("```yaml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .unwrap()
            .to_owned()
    };
    let icmp = example(include_str!("../../../../docs/probes/icmp.md"));
    let config = parse_ok(&format!("{PAGE}{icmp}"), &|_| None);
    let MonitorKind::Icmp(gateway) = &config.monitors["edge-gateway"].kind else {
        panic!("icmp monitor")
    };
    assert_eq!(
        (gateway.host.as_str(), gateway.count),
        ("gw1.example.net", 5)
    );
    assert_eq!(config.monitors["edge-gateway"].conditions.len(), 2);

    let domain = example(include_str!("../../../../docs/probes/domain.md"));
    let config = parse_ok(&format!("{PAGE}{domain}"), &|_| None);
    let MonitorKind::Domain(own) = &config.monitors["internal-registration"].kind else {
        panic!("domain monitor")
    };
    assert_eq!(
        own.rdap_server.as_deref(),
        Some("https://rdap.registry.example")
    );
    assert!(matches!(
        config.monitors["example-com-registration"].kind,
        MonitorKind::Domain(_)
    ));
}

#[test]
fn ssh_monitors_run_commands_only_on_pinned_servers() {
    const KEY: &str = "SHA256:e5xHDjTr5Z6N17PY4iqo8AiAlbnTunG8edly0fndW54";
    let text = format!(
        "{PAGE}components:\n  hosts: {{ name: Hosts }}\nmonitors:\n  \
         banner:\n    component: hosts\n    ssh: {{ address: bastion.example.net }}\n  \
         nginx:\n    component: hosts\n    ssh: {{ address: \"web1:2222\", host_key: \"{KEY}\", user: monitor, private_key_file: /run/secrets/key, command: \"systemctl is-active nginx\" }}\n  \
         v6:\n    component: hosts\n    ssh: {{ address: \"::1\", host_key: \"{KEY}\", user: monitor, password: \"${{SSH_PASSWORD}}\", command: uptime }}\n  \
         bad1:\n    component: hosts\n    ssh: {{ address: web1, user: monitor, password: x, command: uptime }}\n  \
         bad2:\n    component: hosts\n    ssh: {{ address: web1, user: monitor }}\n  \
         bad3:\n    component: hosts\n    ssh: {{ address: web1, host_key: \"MD5:aa:bb\" }}\n  \
         bad4:\n    component: hosts\n    ssh: {{ address: web1, host_key: \"{KEY}\", user: m, password: x, private_key_file: /k, command: uptime }}\n"
    );
    let good = &text[..text.find("  bad1:").unwrap()];
    let config = parse_ok(good, &|name| {
        (name == "SSH_PASSWORD").then(|| "hunter2".to_owned())
    });
    let MonitorKind::Ssh(banner) = &config.monitors["banner"].kind else {
        panic!("ssh monitor")
    };
    assert_eq!(banner.address, "bastion.example.net:22");
    assert_eq!(banner.command, None);
    let MonitorKind::Ssh(nginx) = &config.monitors["nginx"].kind else {
        panic!("ssh monitor")
    };
    assert_eq!(nginx.address, "web1:2222");
    assert_eq!(nginx.host_key.as_deref(), Some(KEY));
    assert_eq!(nginx.command.as_deref(), Some("systemctl is-active nginx"));
    let MonitorKind::Ssh(v6) = &config.monitors["v6"].kind else {
        panic!("ssh monitor")
    };
    assert_eq!(v6.address, "[::1]:22");
    assert_eq!(v6.password, Some(Secret::Value("hunter2".into())));
    assert!(!format!("{v6:?}").contains("hunter2"));
    assert_eq!(
        problems_of(&text),
        vec![
            "13:118: environment variable `SSH_PASSWORD` is not set; set it or write ${SSH_PASSWORD:-default}",
            "16:10: an ssh `command` needs `host_key` (the server's fingerprint: a command runs only on a pinned server)",
            "19:10: `user` is for running a `command`; without one the probe does not log in",
            "22:37: bad host key fingerprint `MD5:aa:bb`: write it as `ssh-keygen -lf KEY.pub` prints it, SHA256: and 43 characters of base64",
            "25:10: `private_key_file`, `password` and `password_file` exclude each other",
        ]
    );
}

#[test]
fn monitors_take_locations_and_a_quorum() {
    let text = format!(
        "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  \
         local:\n    component: api\n    tcp: {{ address: \"a:1\" }}\n  \
         three:\n    component: api\n    tcp: {{ address: \"a:1\" }}\n    locations: [server, eu-1, us-1]\n  \
         four:\n    component: api\n    tcp: {{ address: \"a:1\" }}\n    locations: [eu-1, us-1, ap-1, sa-1]\n  \
         any:\n    component: api\n    tcp: {{ address: \"a:1\" }}\n    locations: [eu-1, us-1]\n    quorum: 1\n"
    );
    let config = parse_ok(&text, &no_env);
    let m = |id: &str| &config.monitors[id];
    assert_eq!(m("local").locations, ["server"]);
    assert_eq!(m("local").quorum, 1);
    assert!(m("local").server_only());
    assert_eq!(m("three").locations, ["server", "eu-1", "us-1"]);
    assert_eq!(m("three").quorum, 2, "more than half of three");
    assert!(!m("three").server_only() && m("three").probed_from("us-1"));
    assert_eq!(m("four").quorum, 3, "more than half of four");
    assert!(!m("four").probed_from("server"));
    assert_eq!(m("any").quorum, 1);
}

#[test]
fn bad_locations_and_quorums_are_placed() {
    let monitor = |extra: &str| {
        format!(
            "{PAGE}components:\n  api: {{ name: API }}\nmonitors:\n  m:\n    component: api\n    tcp: {{ address: \"a:1\" }}\n{extra}"
        )
    };
    let p = problems_of(&monitor("    locations: [eu-1, eu-1]\n"));
    assert!(
        p.iter()
            .any(|p| p.contains("location `eu-1` is listed twice")),
        "{p:?}"
    );
    let p = problems_of(&monitor("    locations: []\n"));
    assert!(
        p.iter().any(|p| p.contains("needs at least one location")),
        "{p:?}"
    );
    let p = problems_of(&monitor("    locations: [\"eu 1\"]\n"));
    assert!(p.iter().any(|p| p.contains("invalid id `eu 1`")), "{p:?}");
    let p = problems_of(&monitor("    locations: [eu-1, us-1]\n    quorum: 3\n"));
    assert!(
        p.iter()
            .any(|p| p.starts_with("9:13:") && p.contains("quorum 3 is more than")),
        "{p:?}"
    );
    let p = problems_of(&monitor("    locations: [eu-1]\n    quorum: 0\n"));
    assert!(!p.is_empty(), "a quorum of 0 is refused");
}
