//! The silences client against a real Alertmanager (the Debian `prometheus-alertmanager`
//! binary, 0.25): silences are created with the right matcher and actually silence alerts of
//! the listed components only, expiring is idempotent, and an Alertmanager that is down or
//! hangs gives a retryable error quickly. Skips loudly when the binary is absent
//! (see `upkeep_store::testing::peer`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use upkeep_engine::alertmanager::{SilenceClient, SilenceError, SilenceRequest, SilenceState};

const ALERTMANAGER: &str = "prometheus-alertmanager";

const CONFIG: &str = r#"
route:
  receiver: blackhole
receivers:
  - name: blackhole
"#;

fn installed() -> bool {
    upkeep_store::testing::peer::alertmanager().is_some()
}

/// A running Alertmanager, killed on drop.
struct Alertmanager {
    child: Child,
    base: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    async fn start() -> Alertmanager {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("alertmanager.yml");
        std::fs::write(&config, CONFIG).unwrap();
        let storage = dir.path().join("data");
        std::fs::create_dir_all(&storage).unwrap();
        let log = dir.path().join("alertmanager.log");
        let port = free_port();
        let child = Command::new(ALERTMANAGER)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", storage.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut am = Alertmanager {
            child,
            base: format!("http://127.0.0.1:{port}"),
            log,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = am.child.try_wait().unwrap() {
                panic!("alertmanager exited with {status}:\n{}", am.log());
            }
            if let Ok(resp) = am.http.get(format!("{}/-/ready", am.base)).send().await
                && resp.status() == 200
            {
                return am;
            }
            assert!(
                Instant::now() < deadline,
                "alertmanager not ready:\n{}",
                am.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn client(&self) -> SilenceClient {
        SilenceClient::new(&self.base).unwrap()
    }

    async fn get_json(&self, path: &str) -> Value {
        let resp = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "GET {path}\n{}", self.log());
        resp.json().await.unwrap()
    }

    /// The silence `id` as listed by `GET /api/v2/silences`.
    async fn listed_silence(&self, id: &str) -> Value {
        let all = self.get_json("/api/v2/silences").await;
        all.as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("silence {id} not listed: {all:#}"))
    }

    /// Fires one alert per component (`alertname=Down`, `<label>=<component>`).
    async fn fire(&self, label: &str, components: &[&str]) {
        let starts_at = Timestamp::now() - SignedDuration::from_secs(60);
        let alerts: Vec<Value> = components
            .iter()
            .map(|c| {
                json!({
                    "labels": { "alertname": "Down", label: c },
                    "startsAt": starts_at.to_string(),
                })
            })
            .collect();
        let resp = self
            .http
            .post(format!("{}/api/v2/alerts", self.base))
            .json(&alerts)
            .send()
            .await
            .unwrap();
        assert_eq!(
            resp.status(),
            200,
            "{:?}\n{}",
            resp.text().await,
            self.log()
        );
    }

    /// `silencedBy` of the alert for `component`, from `GET /api/v2/alerts`.
    async fn silenced_by(&self, label: &str, component: &str) -> Vec<String> {
        let alerts = self.get_json("/api/v2/alerts").await;
        let alert = alerts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["labels"][label] == component)
            .unwrap_or_else(|| panic!("no alert for {component}: {alerts:#}"));
        alert["status"]["silencedBy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_owned())
            .collect()
    }

    /// Checks, waiting up to 5 s for Alertmanager to settle, that exactly the alerts of
    /// `silenced` carry silence `id` and those of `not_silenced` carry none.
    async fn assert_silenced(
        &self,
        label: &str,
        id: &str,
        silenced: &[&str],
        not_silenced: &[&str],
    ) {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let mut ok = true;
            let mut seen = Vec::new();
            for c in silenced {
                let by = self.silenced_by(label, c).await;
                ok &= by == [id];
                seen.push((c.to_string(), by));
            }
            for c in not_silenced {
                let by = self.silenced_by(label, c).await;
                ok &= by.is_empty();
                seen.push((c.to_string(), by));
            }
            if ok {
                // The `silenced=true` filter agrees.
                let only_silenced = self
                    .get_json("/api/v2/alerts?silenced=true&inhibited=false&active=false&unprocessed=false")
                    .await;
                let mut names: Vec<String> = only_silenced
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|a| a["labels"][label].as_str().map(str::to_owned))
                    .collect();
                names.sort();
                let mut want: Vec<String> = silenced.iter().map(|s| s.to_string()).collect();
                want.sort();
                assert_eq!(names, want, "{only_silenced:#}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "silence {id}: wanted {silenced:?} silenced and {not_silenced:?} not; saw {seen:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn window(components: &[&str]) -> SilenceRequest {
    let now = Timestamp::now();
    SilenceRequest {
        component_label: "component".to_owned(),
        components: components.iter().map(|c| (*c).to_owned()).collect(),
        starts_at: now - SignedDuration::from_secs(5),
        ends_at: now + SignedDuration::from_hours(1),
        created_by: "upkeep".to_owned(),
        comment: "Maintenance window: database upgrade".to_owned(),
    }
}

#[tokio::test]
async fn a_silence_for_two_components_silences_their_alerts_only() {
    if !installed() {
        return;
    }
    let am = Alertmanager::start().await;
    let client = am.client();
    let req = window(&["api", "web"]);
    let id = client.create(&req).await.unwrap();
    assert!(!id.is_empty());

    let listed = am.listed_silence(&id).await;
    assert_eq!(listed["status"]["state"], "active", "{listed:#}");
    assert_eq!(
        listed["matchers"],
        json!([{ "name": "component", "value": "^(?:api|web)$", "isRegex": true, "isEqual": true }]),
        "{listed:#}"
    );
    assert_eq!(listed["createdBy"], "upkeep");
    assert_eq!(listed["comment"], "Maintenance window: database upgrade");
    let ends_at: Timestamp = listed["endsAt"].as_str().unwrap().parse().unwrap();
    assert!(
        ends_at.duration_since(req.ends_at).abs() < SignedDuration::from_secs(1),
        "{listed:#}"
    );
    assert_eq!(client.get(&id).await.unwrap(), Some(SilenceState::Active));

    am.fire("component", &["api", "web", "db", "apiweb"]).await;
    am.assert_silenced("component", &id, &["api", "web"], &["db", "apiweb"])
        .await;
}

#[tokio::test]
async fn expiring_is_idempotent() {
    if !installed() {
        return;
    }
    let am = Alertmanager::start().await;
    let client = am.client();
    let id = client.create(&window(&["api"])).await.unwrap();
    am.fire("component", &["api"]).await;
    am.assert_silenced("component", &id, &["api"], &[]).await;

    client.expire(&id).await.unwrap();
    assert_eq!(client.get(&id).await.unwrap(), Some(SilenceState::Expired));
    assert_eq!(am.listed_silence(&id).await["status"]["state"], "expired");
    am.assert_silenced("component", &id, &[], &["api"]).await;

    // Again: Alertmanager 0.25 answers 200 again; either way it is done.
    client.expire(&id).await.unwrap();
    assert_eq!(client.get(&id).await.unwrap(), Some(SilenceState::Expired));

    // A silence Alertmanager never heard of (or already garbage-collected): DELETE answers
    // 500 "silence not found" in 0.25 (GET answers 404); the client counts it as done.
    let unknown = "00000000-0000-4000-8000-000000000000";
    client.expire(unknown).await.unwrap();
    assert_eq!(client.get(unknown).await.unwrap(), None);

    // A pending silence (the window starts later) can be expired too.
    let mut later = window(&["web"]);
    later.starts_at = Timestamp::now() + SignedDuration::from_mins(10);
    let pending = client.create(&later).await.unwrap();
    assert_eq!(
        client.get(&pending).await.unwrap(),
        Some(SilenceState::Pending)
    );
    client.expire(&pending).await.unwrap();
    assert_eq!(
        client.get(&pending).await.unwrap(),
        Some(SilenceState::Expired)
    );
}

#[tokio::test]
async fn invalid_silences_are_rejected_and_not_retryable() {
    if !installed() {
        return;
    }
    let am = Alertmanager::start().await;
    let client = am.client();

    // A window that is already over.
    let mut over = window(&["api"]);
    over.starts_at = Timestamp::now() - SignedDuration::from_hours(2);
    over.ends_at = Timestamp::now() - SignedDuration::from_hours(1);
    let err = client.create(&over).await.unwrap_err();
    assert!(
        matches!(err, SilenceError::Rejected { status: 400, .. }),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    eprintln!("ended window: {err}");

    // No components: refused before asking Alertmanager.
    let err = client.create(&window(&[])).await.unwrap_err();
    assert!(matches!(err, SilenceError::Invalid(_)), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_alertmanager_that_is_down_is_retryable_and_quick() {
    // No binary needed: nothing listens on the port.
    let port = free_port();
    let client = SilenceClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let started = Instant::now();
    let err = client.create(&window(&["api"])).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("down: {err} (after {took:?})");
    assert!(matches!(err, SilenceError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let err = client.expire("some-id").await.unwrap_err();
    assert!(matches!(err, SilenceError::Unreachable(_)), "{err:?}");
    let err = client.get("some-id").await.unwrap_err();
    assert!(matches!(err, SilenceError::Unreachable(_)), "{err:?}");

    // Something that accepts connections but never answers: the timeout bounds the call.
    let hang = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = hang.local_addr().unwrap();
    let client =
        SilenceClient::with_timeout(&format!("http://{addr}"), Duration::from_millis(500)).unwrap();
    let started = Instant::now();
    let err = client.create(&window(&["api"])).await.unwrap_err();
    let took = started.elapsed();
    eprintln!("hanging: {err} (after {took:?})");
    assert!(matches!(err, SilenceError::Unreachable(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(took < Duration::from_secs(3), "took {took:?}");
    drop(hang);
}

#[tokio::test]
async fn one_component_is_an_exact_matcher_and_metacharacters_are_literal() {
    if !installed() {
        return;
    }
    let am = Alertmanager::start().await;
    let client = am.client();

    let single = client.create(&window(&["db.eu"])).await.unwrap();
    let listed = am.listed_silence(&single).await;
    assert_eq!(
        listed["matchers"],
        json!([{ "name": "component", "value": "db.eu", "isRegex": false, "isEqual": true }]),
        "{listed:#}"
    );
    am.fire("component", &["db.eu", "dbxeu"]).await;
    am.assert_silenced("component", &single, &["db.eu"], &["dbxeu"])
        .await;
    client.expire(&single).await.unwrap();

    // Several components with metacharacters: each id matches only itself.
    let mut req = window(&["cache.eu", "a+b", "(x|y)"]);
    req.component_label = "service".to_owned();
    let many = client.create(&req).await.unwrap();
    let listed = am.listed_silence(&many).await;
    assert_eq!(
        listed["matchers"][0]["value"], r"^(?:cache\.eu|a\+b|\(x\|y\))$",
        "{listed:#}"
    );
    am.fire(
        "service",
        &["cache.eu", "a+b", "(x|y)", "cachexeu", "aab", "x", "y"],
    )
    .await;
    am.assert_silenced(
        "service",
        &many,
        &["cache.eu", "a+b", "(x|y)"],
        &["cachexeu", "aab", "x", "y"],
    )
    .await;
}

/// The maintenance engine end to end: a window that starts creates the silence over its
/// components (retrying while Alertmanager is unreachable) and stores its id; cancelling the
/// window expires it.
#[tokio::test]
async fn maintenance_windows_create_and_expire_their_silence() {
    use upkeep_domain::maintenance::{Kind, MaintenanceStatus};
    use upkeep_engine::maintenance::{EngineState, step, sweep_silences};
    use upkeep_store::maintenance::NewMaintenance;
    if !installed() {
        return;
    }
    let am = Alertmanager::start().await;
    let db = upkeep_store::testing::TestDatabase::sqlite();
    let store = db.store().await;
    let config_for = |url: &str| {
        let text = format!(
            r#"
page: {{ name: T, url: "https://status.example", timezone: UTC }}
components:
  db: {{ name: Database }}
  api: {{ name: API }}
alertmanager: {{ url: "{url}" }}
"#
        );
        upkeep_domain::config::parse("t.yaml", &text, &|_| None, Timestamp::now())
            .unwrap_or_else(|e| panic!("{:?}", e.0))
    };
    let now = Timestamp::now();
    let mut new = NewMaintenance::new(
        Kind::Emergency,
        "Replace a disk",
        now - SignedDuration::from_secs(30),
        now + SignedDuration::from_hours(1),
    );
    new.components = vec!["db".into()];
    new.reason = Some("disk failing".into());
    let m = store
        .create_maintenance(&new, "test", now, None)
        .await
        .unwrap();

    // Alertmanager unreachable when the window starts: the window starts anyway.
    let mut state = EngineState::default();
    let down = config_for(&format!("http://127.0.0.1:{}", free_port()));
    step(&store, &down, Timestamp::now(), &mut state)
        .await
        .unwrap();
    let started = store.get_maintenance(&m.id).await.unwrap().unwrap();
    assert_eq!(started.status, MaintenanceStatus::InProgress);
    assert_eq!(started.silence_id, None);

    // Reachable again: the next step creates the silence.
    let up = config_for(&am.base);
    step(&store, &up, Timestamp::now(), &mut state)
        .await
        .unwrap();
    let id = store
        .get_maintenance(&m.id)
        .await
        .unwrap()
        .unwrap()
        .silence_id
        .expect("the silence id is stored");
    let listed = am.listed_silence(&id).await;
    assert_eq!(listed["status"]["state"], "active", "{listed:#}");
    assert_eq!(listed["matchers"][0]["name"], "component");
    assert_eq!(listed["matchers"][0]["value"], "db");

    // Extended while running: the silence is replaced by one that lasts to the new end.
    step(&store, &up, Timestamp::now(), &mut state)
        .await
        .unwrap();
    let new_end = now + SignedDuration::from_hours(3);
    store
        .reschedule_maintenance(
            &m.id,
            &upkeep_store::maintenance::MaintenanceEdit {
                ends_at: Some(new_end),
                ..Default::default()
            },
            "test",
            Timestamp::now(),
        )
        .await
        .unwrap()
        .unwrap();
    step(&store, &up, Timestamp::now(), &mut state)
        .await
        .unwrap();
    let replaced = store
        .get_maintenance(&m.id)
        .await
        .unwrap()
        .unwrap()
        .silence_id
        .expect("a new silence");
    assert_ne!(replaced, id);
    assert_eq!(am.listed_silence(&id).await["status"]["state"], "expired");
    let listed = am.listed_silence(&replaced).await;
    let ends: Timestamp = listed["endsAt"].as_str().unwrap().parse().unwrap();
    assert!(
        (ends.as_second() - new_end.as_second()).abs() <= 1,
        "{listed:#}"
    );
    let id = replaced;

    // Cancelled early: the sweep expires the silence and forgets its id.
    store
        .cancel_maintenance(&m.id, "Disk replaced already.", "test", Timestamp::now())
        .await
        .unwrap();
    sweep_silences(&store, &up, Timestamp::now()).await.unwrap();
    assert_eq!(am.listed_silence(&id).await["status"]["state"], "expired");
    assert_eq!(
        store
            .get_maintenance(&m.id)
            .await
            .unwrap()
            .unwrap()
            .silence_id,
        None
    );
}
