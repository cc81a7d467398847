//! The availability report and SLO endpoints over real sockets: an incident's declared
//! outage becomes downtime in the JSON figures, the CSV and the self-contained HTML (checked
//! with an HTML5 parser: the table, the SVG charts, no script, its own CSP), the SLO budget of
//! the calendar year is exact, and bad questions get problems.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use crate::support;

use reqwest::StatusCode;
use scraper::{Html, Selector};
use serde_json::{Value, json};
use support::{TestApp, problem};

const CONFIG: &str = r#"
page: { name: Test Cloud, url: "https://status.example.test", timezone: Europe/Rome }
server: { rate_limit: { per_second: 1000, burst: 1000 } }
regions:
  eu: { timezone: Europe/Rome, business_hours: "Mon-Fri 08:00-19:00" }
tenants:
  acme: { name: Acme Corp, region: eu }
components:
  api: { name: "Public <API>" }
  db: { name: Database }
slos:
  api: { objective: 99.9, window: calendar_year }
"#;

#[tokio::test]
async fn the_report_counts_an_outage_in_every_format() {
    let app = TestApp::start(CONFIG).await;
    // A major outage of the API that began ten minutes ago and is resolved now.
    let started = jiff::Timestamp::now() - jiff::SignedDuration::from_mins(10);
    let r = app
        .post_json(
            "/api/v1/incidents",
            &app.editor,
            &json!({
                "title": "API down",
                "components": [{ "id": "api", "status": "major_outage" }],
                "started_at": started.to_string(),
            }),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .post_json(
            &format!("/api/v1/incidents/{id}/resolve"),
            &app.editor,
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::OK);

    let report: Value = app
        .json(
            "/api/v1/reports/availability?tenant=acme",
            Some(&app.viewer),
        )
        .await;
    let year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .year();
    assert!(
        report["period"]["from"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{year}-01-01T00:00:00.000+01:00"))
    );
    assert!(matches!(
        report["period"]["year_days"].as_u64(),
        Some(365 | 366)
    ));
    let api = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "api")
        .unwrap();
    let major = api["figures"]["major_ms"].as_i64().unwrap();
    assert!(
        (599_000..=602_000).contains(&major),
        "about ten minutes: {major}"
    );
    assert_eq!(
        api["figures"]["sla_downtime_ms"],
        api["figures"]["major_ms"]
    );
    // Only the incident declared anything about the API: ten minutes observed, all down.
    assert_eq!(api["figures"]["observed_ms"], api["figures"]["major_ms"]);
    assert_eq!(api["figures"]["sla_ppm"], 0);
    assert!(api["figures"]["coverage_ppm"].as_i64().unwrap() < 100);
    let db = report["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "db")
        .unwrap();
    // Nothing watches the database: no figure, never 100 %.
    assert_eq!(db["figures"]["sla_ppm"], Value::Null);
    assert_eq!(db["figures"]["raw_ppm"], Value::Null);
    assert_eq!(db["figures"]["observed_ms"], 0);
    assert_eq!(db["figures"]["coverage_ppm"], 0);
    assert_eq!(db["figures"]["unobserved_ms"], db["figures"]["period_ms"]);
    assert_eq!(report["tenants"][0]["id"], "acme");
    assert_eq!(report["slos"][0]["component"], "api");
    let budget = report["slos"][0]["status"]["budget_ms"].as_i64().unwrap();
    assert!(budget == 31_536_000 || budget == 31_622_400, "{budget}");
    assert_eq!(
        report["slos"][0]["status"]["spent_ms"],
        api["figures"]["sla_downtime_ms"]
    );

    // CSV: a header, the two components, the tenant and overall.
    let r = app
        .client
        .get(app.url("/api/v1/reports/availability?format=csv&tenant=acme"))
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = r.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    assert!(lines[0].starts_with("kind,name,from,to,period_ms,sla_ppm"));
    assert!(lines[0].ends_with(",observed_ms,unobserved_ms,coverage_ppm"));
    let database = lines
        .iter()
        .find(|l| l.starts_with("component,Database,"))
        .unwrap();
    let cells: Vec<&str> = database.split(',').collect();
    assert_eq!((cells[5], cells[6], cells[7]), ("", "", ""), "{database}");
    assert_eq!((cells[15], cells[17]), ("0", "0"), "{database}");
    assert!(
        lines[1].starts_with("component,Public <API>,")
            || lines[2].starts_with("component,Public <API>,")
    );

    // HTML: a table with every row, SVG charts, nothing that runs, its own CSP.
    let r = app
        .client
        .get(app.url("/api/v1/reports/availability?format=html"))
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.starts_with("default-src 'none'") && !csp.contains("script"),
        "{csp}"
    );
    let html = r.text().await.unwrap();
    let doc = Html::parse_document(&html);
    let sel = |s: &str| Selector::parse(s).unwrap();
    assert_eq!(doc.select(&sel("script")).count(), 0);
    assert!(
        doc.select(&sel("svg")).count() >= 3,
        "daily, monthly, burn-down"
    );
    let names: Vec<String> = doc
        .select(&sel("tbody tr td:nth-child(2)"))
        .map(|e| e.text().collect())
        .collect();
    assert!(names.contains(&"Public <API>".to_owned()), "{names:?}");
    assert!(html.contains("Public &#60;API&#62;") || html.contains("Public &lt;API&gt;"));
    assert!(html.contains("Error budget burn-down"));
    let year = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Europe/Rome").unwrap())
        .date();
    assert!(html.contains(&format!("<title>Availability {}</title>", year.year())));
    let database: String = doc
        .select(&sel("tbody tr"))
        .map(|e| e.text().collect::<String>())
        .find(|t| t.contains("Database"))
        .unwrap();
    assert!(
        database.contains("no data") && !database.contains("100.0000%"),
        "{database}"
    );
    // A bar per day up to today in the daily chart, none after; unobserved days grey.
    let chart = doc
        .select(&sel("svg[aria-label=\"Daily availability of Database\"]"))
        .next()
        .unwrap();
    let bars: Vec<_> = chart.select(&sel("rect.day")).collect();
    assert_eq!(bars.len(), usize::try_from(year.day_of_year()).unwrap());
    assert!(
        bars.iter()
            .all(|b| b.value().attr("fill") == Some("#d0d7de"))
    );
    // Nothing is drawn past measured_to: in every chart, every day's and month's bar ends
    // where the blank, not yet measured part begins (when the year goes on after today).
    let num =
        |e: &scraper::ElementRef, a: &str| -> f64 { e.value().attr(a).unwrap().parse().unwrap() };
    for svg in doc.select(&sel("svg")) {
        let Some(blank) = svg.select(&sel("rect.unmeasured")).next() else {
            assert_eq!(year.day_of_year(), year.days_in_year());
            continue;
        };
        let edge = num(&blank, "x");
        for bar in svg.select(&sel("rect.day, rect.month")) {
            assert!(num(&bar, "x") + num(&bar, "width") <= edge + 0.01);
        }
    }

    // An SLO on its own.
    let slos: Value = app
        .json("/api/v1/slos?component=api", Some(&app.viewer))
        .await;
    assert_eq!(slos[0]["status"]["budget_ms"].as_i64().unwrap(), budget);
}

#[tokio::test]
async fn bad_questions_get_problems() {
    let app = TestApp::start(CONFIG).await;
    let get = |path: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(path))
                .bearer_auth(&app.viewer)
                .send()
                .await
                .unwrap()
        }
    };
    problem(
        get("/api/v1/reports/availability?format=pdf").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?component=nope").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?year=2026&from=2026-01-01&to=2026-02-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?from=2026-02-01&to=2026-01-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?from=yesterday&to=2026-01-01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?partial_weight=2").await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    problem(
        get("/api/v1/reports/availability?year=99999").await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    problem(
        get("/api/v1/slos?component=db").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = app
        .client
        .get(app.url("/api/v1/reports/availability"))
        .send()
        .await
        .unwrap();
    problem(r, StatusCode::UNAUTHORIZED).await;
    // A month of a past year works and is complete.
    let r =
        get("/api/v1/reports/availability?from=2025-02-01&to=2025-03-01&partial_weight=0.5").await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["period"]["complete"], true);
    assert_eq!(v["period"]["length_ms"], 28 * 86_400_000i64);
    assert_eq!(v["partial_weight_ppm"], 500_000);
}

/// The OpenAPI document describes the report's JSON as served: every object of a served
/// report (with daily series and an SLO) has exactly the properties its schema lists, and
/// the coverage fields are there with their meaning.
#[tokio::test]
async fn the_openapi_schema_of_the_report_is_what_is_served() {
    let app = TestApp::start(CONFIG).await;
    let doc: Value = app.json("/api/v1/openapi.json", None).await;
    let schemas = &doc["components"]["schemas"];
    let report: Value = app
        .json(
            "/api/v1/reports/availability?daily=true&tenant=acme",
            Some(&app.viewer),
        )
        .await;
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let props = |name: &str| -> Vec<String> {
        let mut k: Vec<String> = schemas[name]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {name}"))
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&report), props("AvailabilityReport"));
    assert_eq!(keys(&report["period"]), props("PeriodInfo"));
    assert_eq!(keys(&report["components"][0]), props("ComponentReport"));
    assert_eq!(keys(&report["overall"]), props("GroupReport"));
    assert_eq!(
        keys(&report["components"][0]["figures"]),
        props("AvailabilityFigures")
    );
    assert_eq!(
        keys(&report["components"][0]["daily"][0]),
        props("AvailabilityDay")
    );
    let slo = &report["slos"][0];
    assert_eq!(keys(slo), props("SloReport"));
    assert_eq!(keys(&slo["status"]), props("SloBudget"));
    assert_eq!(keys(&slo["measured"]), props("AvailabilityFigures"));
    assert_eq!(keys(&slo["burn"][0]), props("BurnRateTier"));

    let figures = &schemas["AvailabilityFigures"]["properties"];
    for field in ["observed_ms", "unobserved_ms", "coverage_ppm"] {
        assert!(figures[field].is_object(), "{field} undocumented");
    }
    // An availability may be null (nothing observed).
    let sla = figures["sla_ppm"].to_string();
    assert!(sla.contains("null"), "{sla}");
    let described = doc["paths"]["/api/v1/reports/availability"]["get"]["description"]
        .as_str()
        .unwrap();
    assert!(
        described.contains("coverage_ppm") && described.contains("never 100 %"),
        "{described}"
    );
}
