//! upkeep behind a real reverse proxy (nginx, the Debian `nginx-light` package) as the README
//! recommends: with `server.trusted_proxies` naming the proxy, every per-client limit keys on
//! the client the proxy forwarded, so one abusive client does not starve the others; and a
//! client that reaches upkeep directly cannot choose its address with `X-Forwarded-For`.
//! Clients bind distinct loopback source addresses (127.0.0.2, 127.0.0.3, ...). Skips loudly
//! when nginx is absent (see `upkeep_store::testing::peer`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use support::{Server, Workspace, page_config};

const PING_KEY: &str = "Qm7xT2vK9pL4wR8sN3bY6cJ1hF5dZ0aE";

const CONFIG: &str = page_config!(
    r#"
server:
  trusted_proxies: [127.0.0.1/32]
  ping_rate_limit: { per_second: 1, burst: 5 }
  subscribe_rate_limit: { per_minute: 1, burst: 2 }
components:
  backups: { name: Backups }
monitors:
  nightly:
    component: backups
    push: { key: Qm7xT2vK9pL4wR8sN3bY6cJ1hF5dZ0aE, period: 1d, grace: 1h }
notifications:
  smtp: { host: 127.0.0.1, port: 9, from: "status@acme.example" }
"#
);

/// A running nginx proxying to upkeep, killed on drop.
struct Nginx {
    child: Child,
    addr: String,
    dir: PathBuf,
}

impl Nginx {
    fn start(program: &Path, dir: &Path, upstream: &str) -> Nginx {
        let dir = dir.join("nginx");
        std::fs::create_dir_all(&dir).unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let d = dir.display();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                r#"
daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen {addr};
    location / {{
      proxy_pass http://{upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }}
  }}
}}
"#
            ),
        )
        .unwrap();
        let child = Command::new(program)
            .arg("-p")
            .arg(&dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut nginx = Nginx { child, addr, dir };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&nginx.addr).is_err() {
            if let Some(status) = nginx.child.try_wait().unwrap() {
                panic!("nginx exited with {status}: {}", nginx.error_log());
            }
            assert!(Instant::now() < deadline, "nginx did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client whose connections leave from `source` (a loopback address).
fn client_from(source: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(source.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn ping(client: &reqwest::Client, base: &str, forwarded_for: Option<&str>) -> StatusCode {
    let mut request = client.get(format!("{base}/ping/{PING_KEY}"));
    if let Some(xff) = forwarded_for {
        request = request.header("x-forwarded-for", xff);
    }
    request.send().await.unwrap().status()
}

async fn subscribe(client: &reqwest::Client, base: &str, email: &str) -> StatusCode {
    client
        .post(format!("{base}/subscribe"))
        .json(&serde_json::json!({ "email": email }))
        .send()
        .await
        .unwrap()
        .status()
}

/// Sends pings until one is refused with 429 (at most `tries`); how many were accepted.
async fn pings_until_refused(
    client: &reqwest::Client,
    base: &str,
    forwarded_for: impl Fn(usize) -> Option<String>,
    tries: usize,
) -> Option<usize> {
    for i in 0..tries {
        let status = ping(client, base, forwarded_for(i).as_deref()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            return Some(i);
        }
        assert_eq!(status, StatusCode::OK, "ping {i}");
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_nginx_one_client_exhausting_its_budget_does_not_block_another() {
    let Some(program) = upkeep_store::testing::peer::nginx() else {
        return;
    };
    let ws = Workspace::with_config(CONFIG);
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let nginx = Nginx::start(&program, ws.path(), &server.addr);
    let proxied = format!("http://{}", nginx.addr);
    let (a, b) = (client_from("127.0.0.2"), client_from("127.0.0.3"));

    // Client A floods the pings, even claiming to be B: nginx appends A's own address, and
    // upkeep takes the right-most address its trusted proxy vouches for.
    let accepted = pings_until_refused(&a, &proxied, |_| Some("127.0.0.3".into()), 50).await;
    assert!(
        accepted.is_some_and(|n| n <= 6),
        "A is limited after its burst: {accepted:?}; nginx: {}",
        nginx.error_log()
    );
    // B's heartbeat still goes through.
    assert_eq!(ping(&b, &proxied, None).await, StatusCode::OK);

    // The same for subscriptions: A uses up its quota, B is not affected.
    let mut refused = false;
    for i in 0..5 {
        let status = subscribe(&a, &proxied, &format!("a{i}@example.com")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
        assert_eq!(status, StatusCode::ACCEPTED, "subscription {i} of A");
    }
    assert!(refused, "A's subscriptions are limited");
    assert_eq!(
        subscribe(&b, &proxied, "b@example.com").await,
        StatusCode::ACCEPTED
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_not_behind_a_trusted_proxy_cannot_choose_its_address() {
    let Some(program) = upkeep_store::testing::peer::nginx() else {
        return;
    };
    let ws = Workspace::with_config(CONFIG);
    let server = Server::start(&["--config", &ws.config], &ws.db);
    let nginx = Nginx::start(&program, ws.path(), &server.addr);
    let direct = format!("http://{}", server.addr);
    let proxied = format!("http://{}", nginx.addr);

    // C talks to upkeep directly (127.0.0.4 is not a trusted proxy) and names a new address in
    // every request, or its victim's: all of it is charged to C.
    let c = client_from("127.0.0.4");
    let accepted = pings_until_refused(
        &c,
        &direct,
        |i| {
            Some(if i % 2 == 0 {
                format!("198.51.100.{i}")
            } else {
                "127.0.0.5".into()
            })
        },
        50,
    )
    .await;
    assert!(
        accepted.is_some_and(|n| n <= 6),
        "C is limited after its burst whatever it claims: {accepted:?}"
    );
    // The victim, behind the proxy, is untouched.
    let d = client_from("127.0.0.5");
    assert_eq!(ping(&d, &proxied, None).await, StatusCode::OK);
    // And so is a client talking to upkeep directly from the address C claimed to have.
    assert_eq!(ping(&d, &direct, None).await, StatusCode::OK);
}
