//! The console in a real browser: headless Chromium, driven over the DevTools protocol
//! (`--remote-debugging-pipe`, through two named pipes), opens `/admin`, is sent to the sign-in
//! form, types the e-mail address and password into it and presses the button; the overview
//! must then list the open incident and the component it takes down. Screenshots at 1280 and
//! 390 px wide are saved under `target/test-artifacts/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, ok, upkeep};
use crate::user::upkeep_with_stdin;

/// A browser under the DevTools protocol: commands go to its fd 3, answers come from its fd 4,
/// each message a JSON text ended by a NUL byte.
struct Browser {
    child: Child,
    to: File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
}

impl Browser {
    fn start(dir: &Path) -> Browser {
        let (cmd_in, cmd_out) = (dir.join("cdp-in"), dir.join("cdp-out"));
        for fifo in [&cmd_in, &cmd_out] {
            assert!(Command::new("mkfifo").arg(fifo).status().unwrap().success());
        }
        let profile = dir.join("chromium-console");
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$PROFILE" --remote-debugging-pipe about:blank 3<"$IN" 4>"$OUT""#)
            .env("PROFILE", &profile)
            .env("IN", &cmd_in)
            .env("OUT", &cmd_out)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The shell opens the command pipe first, then the answer pipe: open them in that order.
        let to = OpenOptions::new().write(true).open(&cmd_in).unwrap();
        let from_file = File::open(&cmd_out).unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_file);
            loop {
                let mut buf = Vec::new();
                match reader.read_until(0, &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        buf.pop();
                        if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                            && tx.send(v).is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        let mut b = Browser {
            child,
            to,
            from: rx,
            next_id: 0,
            session: String::new(),
        };
        let target = b.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = b.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        b
    }

    /// Sends a command and waits for its answer (events in between are dropped).
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let answer = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"));
            if answer["id"] == json!(id) {
                assert!(answer.get("error").is_none(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// Evaluates `expr` in the page; its value.
    fn eval(&mut self, expr: &str) -> Value {
        let r = self.page(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        r["result"]["value"].clone()
    }

    /// Waits until `expr` is true in the page.
    fn wait_for(&mut self, what: &str, expr: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.eval(expr) != json!(true) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn resize(&mut self, width: u32, mobile: bool) {
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile }),
        );
    }

    /// A full-page PNG screenshot saved as `name` under `target/test-artifacts/`.
    fn screenshot(&mut self, name: &str) -> PathBuf {
        let shot = self.page(
            "Page.captureScreenshot",
            json!({ "format": "png", "captureBeyondViewport": true }),
        );
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
            "{name}"
        );
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-artifacts");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(name);
        std::fs::write(&file, png).unwrap();
        file
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut buffer, mut bits) = (0u32, 0);
    for c in text.bytes().filter(|c| *c != b'=') {
        let v = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        buffer = (buffer << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}

#[test]
fn an_operator_signs_in_through_the_form_and_sees_what_needs_attention() {
    if upkeep_store::testing::peer::chromium().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("upkeep.yaml");
    std::fs::write(
        &config,
        r#"
page: { name: Browser Cloud, url: "http://127.0.0.1", timezone: Europe/Rome }
server: { rate_limit: { per_second: 0 } }
components:
  api: { name: Public API, group: Core }
  site: { name: Website }
"#,
    )
    .unwrap();
    let db = format!("sqlite://{}", dir.path().join("upkeep.db").display());
    let config_arg = config.to_str().unwrap();
    ok(upkeep_with_stdin(
        &[
            "user",
            "create",
            "--email",
            "ada@example.com",
            "--role",
            "editor",
            "--name",
            "Ada Lovelace",
            "--password-stdin",
            "--database",
            &db,
        ],
        "correct horse battery\n",
    ));
    ok(upkeep(&[
        "incident",
        "open",
        "--title",
        "API errors <script>alert(1)</script>",
        "--component",
        "api=major_outage",
        "--config",
        config_arg,
        "--database",
        &db,
    ]));
    let server = Server::start(&["--config", config_arg], &db);
    let base = format!("http://{}", server.addr);

    let mut browser = Browser::start(dir.path());
    browser.resize(1280, false);
    browser.page("Page.navigate", json!({ "url": format!("{base}/admin") }));
    browser.wait_for(
        "the sign-in form",
        "location.pathname === '/admin/login' && document.readyState === 'complete' && !!document.querySelector('form[action=\"/admin/login\"]')",
    );
    browser.screenshot("console-login-1280.png");
    // Type into the real fields and press the real button.
    browser.eval("document.getElementById('email').focus()");
    browser.page("Input.insertText", json!({ "text": "ada@example.com" }));
    browser.eval("document.getElementById('password').focus()");
    browser.page(
        "Input.insertText",
        json!({ "text": "correct horse battery" }),
    );
    browser.eval("document.querySelector('button[type=submit]').click()");
    browser.wait_for(
        "the overview",
        "location.pathname === '/admin' && document.readyState === 'complete' && document.body.innerText.includes('Needs attention now')",
    );
    // The session cookie is not readable by script.
    assert_eq!(browser.eval("document.cookie"), json!(""));
    // The snapshot of the status is built moments after start: wait for the component.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = browser.eval("document.body.innerText");
        let text = text.as_str().unwrap_or_default().to_owned();
        if text.contains("Public API") {
            assert!(text.contains("Major outage"), "{text}");
            assert!(
                text.contains("API errors <script>alert(1)</script>"),
                "shown as text: {text}"
            );
            assert!(text.contains("Ada Lovelace"), "{text}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the overview never listed the component: {text}"
        );
        std::thread::sleep(Duration::from_millis(300));
        browser.page("Page.reload", json!({}));
        browser.wait_for("the reload", "document.readyState === 'complete'");
    }
    assert_eq!(
        browser.eval("document.querySelectorAll('script').length"),
        json!(0)
    );
    let wide = browser.screenshot("console-overview-1280.png");
    browser.resize(390, true);
    browser.page("Page.reload", json!({}));
    browser.wait_for("the reload", "document.readyState === 'complete' && document.body.innerText.includes('Needs attention now')");
    // Nothing is wider than the phone's screen but the tables' own scrolling boxes.
    assert_eq!(
        browser.eval("document.documentElement.scrollWidth <= 390"),
        json!(true),
        "the page scrolls sideways at 390 px"
    );
    let narrow = browser.screenshot("console-overview-390.png");
    println!("screenshots: {} {}", wide.display(), narrow.display());

    // Signing out through the button ends the session.
    browser.eval("document.querySelector('form[action=\"/admin/logout\"] button').click()");
    browser.wait_for(
        "the sign-in form again",
        "location.pathname === '/admin/login' && document.readyState === 'complete'",
    );
    browser.page("Page.navigate", json!({ "url": format!("{base}/admin") }));
    browser.wait_for(
        "the form once more",
        "location.pathname === '/admin/login' && document.readyState === 'complete'",
    );
}
