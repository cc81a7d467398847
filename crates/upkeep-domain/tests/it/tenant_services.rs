//! `tenant_services`: templates instantiated once per tenant, and every problem of an instance
//! reported at the template's line and column, naming the tenant when not every tenant has it.

use jiff::Timestamp;
use upkeep_domain::config::{Config, MonitorKind, PushSchedule, parse};

/// Nine lines: two tenants with variables, one shared component `db`.
const BASE: &str = r#"page: { name: T, url: "http://127.0.0.1:8080", timezone: UTC }
regions:
  eu: { timezone: Europe/Rome }
  us: { timezone: America/New_York }
tenants:
  acme:   { name: Acme Corp, region: eu, vars: { host: "acme.eu.example.com", code: A1 } }
  globex: { name: Globex,    region: us, vars: { region_code: US }, public: false }
components:
  db: { name: Database }
"#;

fn now() -> Timestamp {
    "2026-11-22T10:00:00Z".parse().unwrap()
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn config(rest: &str) -> Config {
    parse("config.yaml", &format!("{BASE}{rest}"), &no_env, now()).unwrap_or_else(|d| panic!("{d}"))
}

/// Every problem as `LINE:COLUMN: message`.
fn problems(rest: &str) -> Vec<String> {
    parse("config.yaml", &format!("{BASE}{rest}"), &no_env, now())
        .err()
        .unwrap_or_else(|| panic!("should be refused:\n{rest}"))
        .0
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect()
}

#[test]
fn templates_are_instantiated_for_every_tenant() {
    let config = config(
        r#"tenant_services:
  components:
    app: { name: "{tenant.name} workspace", group: "Tenant {tenant.id}", depends_on: [db] }
    worker: { name: "Worker in {tenant.region}", depends_on: [app] }
  monitors:
    app-health:
      component: app
      http: { url: "https://{tenant.vars.host}/health" }
      interval: 30s
    db-from-tenant:
      component: db
      push: { key: "{tenant.id}-db", period: 1h }
    literal:
      component: worker
      http: { url: "http://127.0.0.1:9000/x", method: POST, body: "{{\"tenant\": \"{tenant.id}\"}}" }
"#
        .replace("{tenant.vars.host}", "{tenant.id}.example.com")
        .as_str(),
    );
    assert_eq!(
        config.components.keys().collect::<Vec<_>>(),
        vec![
            "acme.app",
            "acme.worker",
            "db",
            "globex.app",
            "globex.worker"
        ]
    );
    let app = &config.components["acme.app"];
    assert_eq!(app.name, "Acme Corp workspace");
    assert_eq!(app.group.as_deref(), Some("Tenant acme"));
    assert_eq!(
        app.depends_on,
        vec!["db"],
        "a shared component stays as written"
    );
    assert_eq!(app.tenant.as_deref(), Some("acme"));
    assert_eq!(config.components["globex.worker"].name, "Worker in us");
    assert_eq!(
        config.components["globex.worker"].depends_on,
        vec!["globex.app"],
        "a template component becomes the tenant's own"
    );
    assert_eq!(config.components["db"].tenant, None);

    let health = &config.monitors["globex.app-health"];
    assert_eq!(health.component, "globex.app");
    let MonitorKind::Http(http) = &health.kind else {
        panic!("an http monitor")
    };
    assert_eq!(http.url, "https://globex.example.com/health");
    assert_eq!(health.interval.as_secs(), 30);
    let db = &config.monitors["acme.db-from-tenant"];
    assert_eq!(db.component, "db");
    let MonitorKind::Push(push) = &db.kind else {
        panic!("a push monitor")
    };
    assert_eq!(push.key, "acme-db");
    assert!(matches!(push.schedule, PushSchedule::Period { .. }));
    let MonitorKind::Http(literal) = &config.monitors["acme.literal"].kind else {
        panic!("an http monitor")
    };
    assert_eq!(literal.body.as_deref(), Some(r#"{"tenant": "acme"}"#));

    assert_eq!(
        config.tenant_components("acme").collect::<Vec<_>>(),
        vec!["acme.app", "acme.worker"]
    );
    assert_eq!(
        config.tenant_monitors("globex").collect::<Vec<_>>(),
        vec!["globex.app-health", "globex.literal"],
        "a tenant's monitor on a shared component is not the tenant's own"
    );
    assert_eq!(config.tenants["acme"].vars["host"], "acme.eu.example.com");
    assert!(config.tenants["acme"].public);
    assert!(!config.tenants["globex"].public);
}

#[test]
fn tenants_without_services_and_services_without_tenants() {
    let config = config("tenant_services:\n  components: {}\n");
    assert_eq!(config.components.len(), 1);
    let text = BASE.replace(
        "tenants:\n  acme:   { name: Acme Corp, region: eu, vars: { host: \"acme.eu.example.com\", code: A1 } }\n  globex: { name: Globex,    region: us, vars: { region_code: US }, public: false }\n",
        "",
    );
    let config = parse(
        "config.yaml",
        &format!(
            "{text}tenant_services:\n  components:\n    app: {{ name: \"{{tenant.name}}\" }}\n"
        ),
        &no_env,
        now(),
    )
    .unwrap();
    assert_eq!(config.components.len(), 1);
}

#[test]
fn other_sections_may_name_instances() {
    let config = config(
        r#"tenant_services:
  components:
    app: { name: "{tenant.name} workspace" }
maintenance:
  windows:
    - id: acme-only
      title: Acme work
      timezone: Europe/Rome
      rrule: "FREQ=MONTHLY;BYDAY=1SA;BYHOUR=22"
      duration: 1h
      components: [acme.app, db]
      tenants: [acme]
"#,
    );
    assert_eq!(
        config.maintenance.windows[0].components,
        vec!["acme.app", "db"]
    );
}

#[test]
fn an_unknown_variable_is_reported_for_the_tenant_that_lacks_it() {
    assert_eq!(
        problems(
            r#"tenant_services:
  monitors:
    app-health:
      component: db
      http: { url: "https://{tenant.vars.host}/health" }
"#
        ),
        vec![
            "14:29: tenant `globex`: unknown variable `{tenant.vars.host}` (globex has: region_code)"
        ]
    );
}

#[test]
fn a_problem_every_tenant_shares_is_reported_once() {
    assert_eq!(
        problems(
            r#"tenant_services:
  components:
    app: { name: "{tenant.nme}", colour: red }
  monitors:
    app-health:
      component: app
      tcp: { address: "{tenant.id}.internal:80" }
      interval: 30x
"#
        ),
        vec![
            "12:19: unknown placeholder `{tenant.nme}`: use {tenant.id}, {tenant.name}, {tenant.region} or {tenant.vars.NAME} (write `{{` for a literal `{`)",
            "12:34: unknown key `colour`; expected one of: name, group, description, show_latency, depends_on",
            "17:17: bad duration `30x`: unknown unit after 30 (use ms, s, m, h, d or w)",
        ]
    );
}

#[test]
fn a_value_that_breaks_one_tenant_names_it() {
    let found = problems(
        r#"tenant_services:
  monitors:
    site:
      component: db
      http: { url: "https://{tenant.vars.region_code}{tenant.vars.code}" }
"#
        .replace("{tenant.vars.code}", "")
        .as_str(),
    );
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("14:29: tenant `acme`: unknown variable `{tenant.vars.region_code}`"),
        "{found:#?}"
    );
    let found = problems(
        r#"tenant_services:
  monitors:
    site:
      component: db
      http: { url: "https://x.example/{tenant.name}" }
"#,
    );
    assert_eq!(
        found,
        vec![
            "14:20: tenant `acme`: bad URL `https://x.example/Acme Corp`: it contains spaces or control characters"
        ]
    );
}

#[test]
fn braces_must_be_placeholders_or_doubled() {
    assert_eq!(
        problems(
            r#"tenant_services:
  components:
    app: { name: "a } b" }
    web: { name: "{tenant.id" }
"#
        ),
        vec![
            "12:21: a lone `}`: write `}}` for a literal `}`",
            "13:19: unterminated `{`: close the placeholder with `}` or write `{{` for a literal `{`",
        ]
    );
}

#[test]
fn an_instance_may_not_take_a_shared_id() {
    let text = BASE.replace(
        "  db: { name: Database }\n",
        "  db: { name: Database }\n  acme.app: { name: Taken }\n",
    );
    let found: Vec<String> = parse(
        "config.yaml",
        &format!("{text}tenant_services:\n  components:\n    app: {{ name: App }}\n"),
        &no_env,
        now(),
    )
    .unwrap_err()
    .0
    .iter()
    .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
    .collect();
    assert_eq!(
        found,
        vec![
            "13:5: tenant `acme`: `acme.app` is also declared under `components`: rename one of them"
        ]
    );
}

#[test]
fn push_keys_must_differ_per_tenant() {
    assert_eq!(
        problems(
            r#"tenant_services:
  monitors:
    beat:
      component: db
      push: { key: same-key, period: 1h }
"#
        ),
        vec![
            "14:20: push key `same-key` is the same for every tenant: put a placeholder such as {tenant.id} in it"
        ]
    );
    assert_eq!(
        problems(
            r#"monitors:
  shared:
    component: db
    push: { key: acme-beat, period: 1h }
tenant_services:
  monitors:
    beat:
      component: db
      push: { key: "{tenant.id}-beat", period: 1h }
"#
        ),
        vec!["18:20: duplicate push key `acme-beat`, first used at line 13"]
    );
}

#[test]
fn references_from_templates_are_checked() {
    assert_eq!(
        problems(
            r#"tenant_services:
  components:
    app: { name: App, depends_on: [dbb] }
  monitors:
    m:
      component: ap
      tcp: { address: "127.0.0.1:1" }
"#
        ),
        vec![
            "12:36: unknown component `dbb`; did you mean `db`?",
            "15:18: unknown component `ap` (declared: acme.app, db, globex.app)",
        ]
    );
}

#[test]
fn tenant_variables_and_public_are_checked() {
    let text = BASE.replace(
        "vars: { region_code: US }, public: false",
        "vars: { region-code: US, n: [1] }, public: maybe",
    );
    let found: Vec<String> = parse("config.yaml", &text, &no_env, now())
        .unwrap_err()
        .0
        .iter()
        .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
        .collect();
    assert_eq!(
        found,
        vec![
            "7:50: invalid variable name `region-code`: use letters, digits and `_`",
            "7:70: expected a string, found a list",
            "7:85: expected true or false, found `maybe`",
        ]
    );
}

#[test]
fn the_template_section_has_a_shape() {
    assert_eq!(
        problems("tenant_services:\n  component: {}\n  monitors: [a]\n"),
        vec![
            "11:3: unknown key `component`; did you mean `components`?",
            "12:13: expected a mapping of ids, found a list",
        ]
    );
}
