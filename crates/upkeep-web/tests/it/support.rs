//! The test server shared by the HTTP tests: the real router on port 0 over a throw-away SQLite
//! file, tokens of each role, and the problem+json assertion.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use reqwest::{Client, Method, Response, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use upkeep_domain::role::Role;
use upkeep_engine::clock::SystemClock;
use upkeep_engine::config::{ConfigHandle, ConfigSource, load};
use upkeep_store::Store;
use upkeep_store::testing::TestDatabase;
use upkeep_web::state::AppState;

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub store: Store,
    pub config_path: PathBuf,
    pub admin: String,
    pub editor: String,
    pub viewer: String,
    pub stop: CancellationToken,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn start(config_text: &str) -> TestApp {
        Self::start_with(config_text, upkeep_web::HEADER_READ_TIMEOUT).await
    }

    pub async fn start_with(config_text: &str, header_timeout: std::time::Duration) -> TestApp {
        Self::start_full(config_text, header_timeout, |_| async {}).await
    }

    /// Starts after `seed` has written to the empty database (what the server reads at start).
    pub async fn start_seeded<F, Fut>(config_text: &str, seed: F) -> TestApp
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        Self::start_full(config_text, upkeep_web::HEADER_READ_TIMEOUT, seed).await
    }

    async fn start_full<F, Fut>(
        config_text: &str,
        header_timeout: std::time::Duration,
        seed: F,
    ) -> TestApp
    where
        F: FnOnce(Store) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("upkeep.yaml");
        std::fs::write(&config_path, config_text).unwrap();
        let loaded = load(
            &ConfigSource::File(config_path.clone()),
            jiff::Timestamp::now(),
        )
        .unwrap_or_else(|e| panic!("test config invalid: {:?}", e.lines()));
        let db = TestDatabase::sqlite();
        let store = db.store().await;
        seed(store.clone()).await;
        let now = jiff::Timestamp::now();
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
        let state = AppState::new(
            store.clone(),
            ConfigHandle::new(loaded),
            Arc::new(SystemClock),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let shutdown = stop.clone();
        tokio::spawn(upkeep_web::serve_with(
            listener,
            state,
            stop.clone(),
            async move { shutdown.cancelled().await },
            header_timeout,
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
            _db: db,
            _dir: dir,
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

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }
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
