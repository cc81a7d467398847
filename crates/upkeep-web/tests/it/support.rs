//! The test server of every HTTP test: the real router on port 0 over a throw-away SQLite file,
//! with tokens of each role, the system clock or a manual one, the real ping writer when asked,
//! and a database seeded before start; and the problem+json assertion.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use upkeep_domain::role::Role;
use upkeep_engine::clock::{Clock, ManualClock, SharedClock, SystemClock};
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_engine::monitoring::pings::PingWriter;
use upkeep_engine::supervisor::Health;
use upkeep_store::Store;
use upkeep_store::testing::TestDatabase;
use upkeep_web::state::AppState;

/// The real router on port 0 over a throw-away SQLite file, built by [`TestApp::builder`].
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Store,
    pub config_path: PathBuf,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    pub stop: CancellationToken,
    /// The router's state (what the handlers share).
    pub state: AppState,
    clock: Option<Arc<ManualClock>>,
    writer: Option<JoinHandle<()>>,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

/// How a [`TestApp`] is built: its configuration text, its clock, whether the real ping writer
/// runs, the header read timeout, and what is written to the database before the server starts.
pub struct TestAppBuilder {
    config_text: String,
    clock: Option<Timestamp>,
    pings: bool,
    header_timeout: Duration,
    health: Option<Health>,
}

impl TestAppBuilder {
    /// A [`ManualClock`] standing at `at` (RFC 3339) instead of the system clock; tokens are
    /// created at that instant.
    pub fn manual_clock(mut self, at: &str) -> Self {
        self.clock = Some(at.parse().unwrap());
        self
    }

    /// Runs the real ping writer (group commit); without it pings are refused with 503.
    pub fn pings(mut self) -> Self {
        self.pings = true;
        self
    }

    /// Reports the background tasks of `health` on `/readyz`, as a server with its engine does.
    pub fn health(mut self, health: Health) -> Self {
        self.health = Some(health);
        self
    }

    /// How long a client may take to send its request headers.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    pub async fn start(self) -> TestApp {
        self.start_seeded(|_| async {}).await
    }

    /// Starts after `seed` has written to the empty database (what the server reads at start).
    pub async fn start_seeded<F, Fut>(self, seed: F) -> TestApp
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("upkeep.yaml");
        std::fs::write(&config_path, &self.config_text).unwrap();
        let loaded = load(&ConfigSource::File(config_path.clone()), Timestamp::now())
            .unwrap_or_else(|e| panic!("test config invalid: {:?}", e.lines()));
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        seed(store.clone()).await;
        let manual = self.clock.map(|at| Arc::new(ManualClock::new(at)));
        let clock: SharedClock = match &manual {
            Some(manual) => manual.clone(),
            None => Arc::new(SystemClock),
        };
        let now = clock.now();
        let token = |role: Role| {
            let store = store.clone();
            async move {
                store
                    .create_token(&format!("{role} token"), role, "test", now)
                    .await
                    .unwrap()
                    .secret
            }
        };
        let (admin, editor, viewer) = (
            token(Role::Admin).await,
            token(Role::Editor).await,
            token(Role::Viewer).await,
        );
        let stop = CancellationToken::new();
        let mut state = AppState::new(store.clone(), ConfigHandle::new(loaded), clock);
        if let Some(health) = self.health {
            state = state.with_health(health);
        }
        let mut writer = None;
        if self.pings {
            let (pings, task) = PingWriter::start(store.clone(), stop.clone());
            writer = Some(tokio::spawn(task));
            state = state.with_pings(pings);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let shutdown = stop.clone();
        tokio::spawn(upkeep_web::serve_with(
            listener,
            state.clone(),
            stop.clone(),
            async move { shutdown.cancelled().await },
            self.header_timeout,
        ));
        TestApp {
            base,
            client: Client::new(),
            store,
            config_path,
            admin,
            editor,
            viewer,
            stop,
            state,
            clock: manual,
            writer,
            _db: db,
            _dir: dir,
        }
    }
}

impl TestApp {
    /// A builder for an app on `config_text`, with the system clock and no ping writer.
    pub fn builder(config_text: &str) -> TestAppBuilder {
        TestAppBuilder {
            config_text: config_text.to_owned(),
            clock: None,
            pings: false,
            header_timeout: upkeep_web::HEADER_READ_TIMEOUT,
            health: None,
        }
    }

    pub async fn start(config_text: &str) -> TestApp {
        Self::builder(config_text).start().await
    }

    /// Starts after `seed` has written to the empty database (what the server reads at start).
    pub async fn start_seeded<F, Fut>(config_text: &str, seed: F) -> TestApp
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        Self::builder(config_text).start_seeded(seed).await
    }

    /// The manual clock (the app must be built with [`TestAppBuilder::manual_clock`]).
    pub fn clock(&self) -> &ManualClock {
        self.clock
            .as_deref()
            .expect("built with TestAppBuilder::manual_clock")
    }

    /// The app's current instant.
    pub fn now(&self) -> Timestamp {
        self.clock().now()
    }

    /// Moves the manual clock `secs` seconds on.
    pub fn advance(&self, secs: i64) {
        self.clock().advance(SignedDuration::from_secs(secs));
    }

    /// Stops the server and waits for the ping writer to flush what it acknowledged.
    pub async fn shut_down(mut self) {
        self.stop.cancel();
        if let Some(writer) = self.writer.take() {
            writer.await.unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn send(&self, method: Method, path: &str, token: &str) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, path: &str, token: Option<&str>) -> Value {
        let r = self.get(path, token).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// `METHOD path` with `body` as JSON, as the holder of `token`.
    pub async fn request_json(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Response {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request_json(Method::POST, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> Response {
        self.request_json(Method::PATCH, path, token, body).await
    }

    /// The body of a public page that answers 200.
    pub async fn text(&self, path: &str) -> String {
        let r = self.get(path, None).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.text().await.unwrap()
    }
}

/// A configuration: the test page's header, then `$rest` (a literal that starts on a new line).
macro_rules! page_config {
    ($rest:literal) => {
        concat!(
            "\npage:\n  name: Test Cloud\n  url: http://127.0.0.1:8080\n  timezone: Europe/Rome",
            $rest
        )
    };
}
pub(crate) use page_config;

/// An RFC 3339 instant in UTC with milliseconds, as the API writes them.
pub fn is_instant(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.ends_with('Z') && s.len() == 24 && s.parse::<Timestamp>().is_ok())
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// Asserts the response is a problem document with `status` and returns it.
pub async fn problem(resp: Response, status: StatusCode) -> Value {
    assert_eq!(resp.status(), status);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert!(body["title"].is_string(), "{body}");
    assert!(body["type"].is_string(), "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| d.len() > 10),
        "a detail a person can act on: {body}"
    );
    body
}
