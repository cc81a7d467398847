//! A small driver for headless Chromium over the DevTools protocol (`--remote-debugging-pipe`,
//! through two named pipes): one browser and one page per test, so tests stay independent.
//! The page is driven as a person would: typing into the focused field, pressing Tab, clicking
//! buttons; `eval` reads what the page shows.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a command or a wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(30);

/// A browser under the DevTools protocol: commands go to its fd 3, answers come from its fd 4,
/// each message a JSON text ended by a NUL byte.
pub struct Browser {
    child: Child,
    to: File,
    from: mpsc::Receiver<Value>,
    next_id: u64,
    session: String,
    /// Every JavaScript dialog (alert, confirm, prompt) the page opened, by its message.
    dialogs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// A new browser with an empty profile, or `None` after skipping the running test when
    /// Chromium is missing (see `upkeep_store::testing::peer`).
    pub fn start() -> Option<Browser> {
        upkeep_store::testing::peer::chromium()?;
        let dir = tempfile::tempdir().unwrap();
        let (cmd_in, cmd_out) = (dir.path().join("cdp-in"), dir.path().join("cdp-out"));
        for fifo in [&cmd_in, &cmd_out] {
            assert!(Command::new("mkfifo").arg(fifo).status().unwrap().success());
        }
        let child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$PROFILE" --remote-debugging-pipe about:blank 3<"$IN" 4>"$OUT""#)
            .env("PROFILE", dir.path().join("profile"))
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
            dialogs: Vec::new(),
            _dir: dir,
        };
        let target = b.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
        let target_id = target["targetId"].as_str().unwrap().to_owned();
        let attached = b.call(
            None,
            "Target.attachToTarget",
            json!({ "targetId": target_id, "flatten": true }),
        );
        b.session = attached["sessionId"].as_str().unwrap().to_owned();
        // Page events tell of dialogs; each is recorded and dismissed.
        b.page("Page.enable", json!({}));
        b.resize(1280, false);
        Some(b)
    }

    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to.write_all(&bytes).unwrap();
        id
    }

    /// Sends a command and waits for its answer: its result, or its error.
    fn try_call(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, Value> {
        let id = self.send(session, method, params);
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self
                .from
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no answer to {method} within {PATIENCE:?}"));
            if message["id"] == json!(id) {
                return match message.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(message["result"].clone()),
                };
            }
            if message["method"] == "Page.javascriptDialogOpening" {
                let text = message["params"]["message"].as_str().unwrap_or_default();
                self.dialogs.push(text.to_owned());
                let s = self.session.clone();
                self.send(
                    Some(&s),
                    "Page.handleJavaScriptDialog",
                    json!({ "accept": false }),
                );
            }
        }
    }

    /// Sends a command and waits for its answer, which must not be an error.
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.try_call(session, method, params)
            .unwrap_or_else(|e| panic!("{method}: {e}"))
    }

    /// A command to the page.
    pub fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// Evaluates `expr` in the page; its value, or `null` when it threw or the page was
    /// between two documents.
    pub fn eval(&mut self, expr: &str) -> Value {
        let session = self.session.clone();
        match self.try_call(
            Some(&session),
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        ) {
            Ok(r) if r.get("exceptionDetails").is_none() => r["result"]["value"].clone(),
            _ => Value::Null,
        }
    }

    /// [`eval`](Self::eval) of an expression that yields a string.
    pub fn eval_str(&mut self, expr: &str) -> String {
        self.eval(expr).as_str().unwrap_or_default().to_owned()
    }

    /// Waits until `expr` is true in the page.
    pub fn wait_for(&mut self, what: &str, expr: &str) {
        let deadline = Instant::now() + PATIENCE;
        while self.eval(expr) != json!(true) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the page at {} says: {}",
                self.eval_str("location.href"),
                self.text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `action` (script that leaves the current document) and waits until a new
    /// document has loaded.
    fn leave_with(&mut self, what: &str, action: &str) {
        self.eval(&format!("window.__upkeepOld = true; {action}; true"));
        self.wait_for(
            what,
            "window.__upkeepOld === undefined && document.readyState === 'complete'",
        );
    }

    /// Opens `url` and waits for the page (after redirects) to load.
    pub fn goto(&mut self, url: &str) {
        self.eval("window.__upkeepOld = true");
        self.page("Page.navigate", json!({ "url": url }));
        self.wait_for(
            url,
            "window.__upkeepOld === undefined && document.readyState === 'complete'",
        );
    }

    /// Reloads the page and waits for it.
    pub fn reload(&mut self) {
        self.leave_with("the reload", "location.reload()");
    }

    /// Clicks the element `selector` (a submit button, a link) and waits for the next page.
    pub fn click(&mut self, selector: &str) {
        let found = self.eval(&format!("!!document.querySelector({})", js(selector)));
        assert_eq!(
            found,
            json!(true),
            "no `{selector}` on {}: {}",
            self.eval_str("location.href"),
            self.text()
        );
        self.leave_with(
            selector,
            &format!("document.querySelector({}).click()", js(selector)),
        );
    }

    /// Empties the field `selector`, focuses it and types `text` into it.
    pub fn fill(&mut self, selector: &str, text: &str) {
        let focused = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e) return false; e.value = ''; e.focus(); return document.activeElement === e; }})()",
            js(selector)
        ));
        assert_eq!(focused, json!(true), "cannot focus `{selector}`");
        self.page("Input.insertText", json!({ "text": text }));
    }

    /// Chooses `value` in the `<select>` `selector`.
    pub fn choose(&mut self, selector: &str, value: &str) {
        let done = self.eval(&format!(
            "(() => {{ const e = document.querySelector({}); if (!e || ![...e.options].some(o => o.value === {v})) return false; e.value = {v}; e.dispatchEvent(new Event('change')); return true; }})()",
            js(selector),
            v = js(value)
        ));
        assert_eq!(done, json!(true), "no option `{value}` in `{selector}`");
    }

    /// Presses a key (`Tab`, `Enter`, ...) as the keyboard would, on the focused element.
    pub fn press(&mut self, key: &str, code: u32, shift: bool) {
        let modifiers = if shift { 8 } else { 0 };
        for kind in ["rawKeyDown", "keyUp"] {
            self.page(
                "Input.dispatchKeyEvent",
                json!({ "type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code, "modifiers": modifiers }),
            );
        }
    }

    /// The page's visible text.
    pub fn text(&mut self) -> String {
        self.eval_str("document.body ? document.body.innerText : ''")
    }

    /// The path of the page shown.
    pub fn path(&mut self) -> String {
        self.eval_str("location.pathname")
    }

    /// The HTTP status of the document shown (the last answer of its redirects).
    pub fn status(&mut self) -> u64 {
        self.eval("performance.getEntriesByType('navigation')[0].responseStatus")
            .as_u64()
            .unwrap_or(0)
    }

    /// The dialogs the page opened so far.
    pub fn dialogs(&self) -> &[String] {
        &self.dialogs
    }

    /// Emulates a screen `width` px wide (a phone's, with touch and a mobile viewport, when
    /// `mobile`).
    pub fn resize(&mut self, width: u32, mobile: bool) {
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile }),
        );
    }

    /// Emulates the dark or the light colour scheme.
    pub fn color_scheme(&mut self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.page(
            "Emulation.setEmulatedMedia",
            json!({ "features": [{ "name": "prefers-color-scheme", "value": value }] }),
        );
    }

    /// A full-page PNG screenshot saved as `name` under `target/test-artifacts/`.
    pub fn screenshot(&mut self, name: &str) -> PathBuf {
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

/// `text` as a JavaScript string literal.
pub fn js(text: &str) -> String {
    serde_json::to_string(text).unwrap()
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
