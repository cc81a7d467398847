//! The console in a real browser: headless Chromium, driven over the DevTools protocol (see
//! `cdp`), against a real `upkeep serve` on a SQLite file. Each test starts its own server and
//! browser. People's flows are followed through the real forms — signing in (refused, throttled,
//! with a second factor), an incident from opening to resolution as the public page shows it, a
//! maintenance refused for short notice and scheduled at the earliest allowed start, a viewer's
//! read-only pages, a form posted from another origin, an idle session ending, hostile text
//! staying inert — and the pages are checked for labels, keyboard order and text contrast.
//! Screenshots at 1280 and 390 px wide are saved under `target/test-artifacts/`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use jiff::{Timestamp, ToSpan};
use serde_json::{Value, json};

use crate::cdp::{Browser, js};
use crate::support::{Server, Workspace, ok, upkeep};
use crate::user::create_user;

const PASSWORD: &str = "correct horse battery";

const CONFIG: &str = r#"
page: { name: Browser Cloud, url: "http://127.0.0.1", timezone: Europe/Rome }
server: { rate_limit: { per_second: 0 } }
components:
  api: { name: Public API, group: Core }
  site: { name: Website }
"#;

/// A real `upkeep serve` over a fresh SQLite file, with the users a test asks for.
struct Console {
    ws: Workspace,
    server: Option<Server>,
    base: String,
}

impl Console {
    /// A workspace with `CONFIG` plus `extra` (YAML that starts on a new line); the server is
    /// not started yet.
    fn new(extra: &str) -> Console {
        let ws = Workspace::with_config(&format!("{CONFIG}{extra}"));
        Console {
            ws,
            server: None,
            base: String::new(),
        }
    }

    /// Creates a user with `role` whose password is [`PASSWORD`].
    fn user(&self, email: &str, role: &str, name: &str) -> &Console {
        ok(create_user(
            &self.ws.db,
            email,
            role,
            name,
            &format!("{PASSWORD}\n"),
        ));
        self
    }

    /// Runs `upkeep ARGS --config C --database D`.
    fn cli(&self, args: &[&str]) -> String {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--config", &self.ws.config, "--database", &self.ws.db]);
        ok(upkeep(&all))
    }

    fn start(&mut self) {
        let server = Server::start(&["--config", &self.ws.config], &self.ws.db);
        self.base = format!("http://{}", server.addr);
        self.server = Some(server);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Runs one SQL statement on the server's database, as upkeep itself never would.
    fn sql(&self, statement: &str) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let store =
                upkeep_store::Store::connect(&self.ws.db, &upkeep_store::ConnectOptions::default())
                    .await
                    .unwrap();
            upkeep_store::testing::execute(&store, statement)
                .await
                .unwrap();
        });
    }
}

/// A running console whose one user is Ada, an editor, and a browser; `None` after skipping
/// the running test without Chromium.
fn with_editor() -> Option<(Console, Browser)> {
    let b = Browser::start()?;
    let mut c = Console::new("");
    c.user("ada@example.com", "editor", "Ada Lovelace");
    c.start();
    Some((c, b))
}

/// Signs `email` in through the form with `password`; the page the form leads to is shown.
fn submit_login(b: &mut Browser, c: &Console, email: &str, password: &str) {
    if b.path() != "/admin/login" {
        b.goto(&c.url("/admin/login"));
    }
    b.fill("#email", email);
    b.fill("#password", password);
    b.click("form[action=\"/admin/login\"] button[type=submit]");
}

/// Signs `email` in and waits for the overview.
fn sign_in(b: &mut Browser, c: &Console, email: &str) {
    submit_login(b, c, email, PASSWORD);
    assert_eq!(b.path(), "/admin", "{}", b.text());
    assert!(b.text().contains("Needs attention now"), "{}", b.text());
}

/// Polls `check` on the page at `url`, reloading, until it holds.
fn eventually_on(b: &mut Browser, url: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    b.goto(url);
    loop {
        let text = b.text();
        if check(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never {what}: {text}");
        std::thread::sleep(Duration::from_millis(200));
        b.reload();
    }
}

/// Elements a hostile text would have made had it been taken as markup, dialogs included.
fn assert_inert(b: &mut Browser, page: &str) {
    assert_eq!(
        b.eval(
            "[...document.querySelectorAll('script, img[src=\"x\"], [onerror], [onload], [onmouseover]')]\
             .filter(e => !(e.tagName === 'SCRIPT' && e.getAttribute('src') && e.getAttribute('src').startsWith('/admin/static/console.js?')))\
             .length"
        ),
        json!(0),
        "markup from typed text on {page}"
    );
    assert!(!b.eval_str("document.title").contains("owned"));
    assert!(
        b.dialogs().is_empty(),
        "dialogs on {page}: {:?}",
        b.dialogs()
    );
}

#[test]
fn an_operator_signs_in_through_the_form_and_sees_what_needs_attention() {
    let mut c = Console::new("");
    c.user("ada@example.com", "editor", "Ada Lovelace");
    c.cli(&[
        "incident",
        "open",
        "--title",
        "API errors <script>alert(1)</script>",
        "--component",
        "api=major_outage",
    ]);
    c.start();
    let Some(mut b) = Browser::start() else {
        return;
    };
    b.goto(&c.url("/admin"));
    assert_eq!(b.path(), "/admin/login");
    b.screenshot("console-login-1280.png");
    sign_in(&mut b, &c, "ada@example.com");
    // The session cookie is not readable by script.
    assert_eq!(b.eval("document.cookie"), json!(""));
    // The snapshot of the status is built moments after start: wait for the component.
    let text = eventually_on(&mut b, &c.url("/admin"), "listed the component", |t| {
        t.contains("Public API")
    });
    assert!(text.contains("Major outage"), "{text}");
    assert!(
        text.contains("API errors <script>alert(1)</script>"),
        "shown as text: {text}"
    );
    assert!(text.contains("Ada Lovelace"), "{text}");
    assert_inert(&mut b, "the overview");

    // Signing out through the button ends the session.
    b.click("form[action=\"/admin/logout\"] button");
    assert_eq!(b.path(), "/admin/login");
    b.goto(&c.url("/admin"));
    assert_eq!(b.path(), "/admin/login");
}

#[test]
fn a_wrong_password_is_refused_and_repeated_failures_are_throttled() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    // The three free failures: each refused with the one answer, the address kept.
    for _ in 0..3 {
        submit_login(&mut b, &c, "ada@example.com", "not the password at all");
        assert_eq!(b.path(), "/admin/login");
        assert_eq!(b.status(), 401);
        let text = b.text();
        assert!(
            text.contains("That e-mail address and password do not match an active account."),
            "{text}"
        );
        assert_eq!(
            b.eval_str("document.getElementById('email').value"),
            "ada@example.com"
        );
        assert_eq!(b.eval_str("document.getElementById('password').value"), "");
    }
    // Further failures lock the account for 1 s, then 2 s, then 4 s: fail until a lock of
    // 4 s is running, waiting out the shorter ones.
    let mut failures = 3;
    while failures < 6 {
        submit_login(&mut b, &c, "ada@example.com", "not the password at all");
        match b.status() {
            401 => failures += 1,
            429 => {
                let text = b.text();
                assert!(
                    text.contains(
                        "Too many failed sign-ins for this account or from this address."
                    ),
                    "{text}"
                );
                std::thread::sleep(Duration::from_millis(1_100));
            }
            other => panic!("status {other}: {}", b.text()),
        }
    }
    // While the lock holds, even the right password is refused, and the page says why.
    submit_login(&mut b, &c, "ada@example.com", PASSWORD);
    assert_eq!(b.status(), 429, "{}", b.text());
    let text = b.text();
    assert!(
        text.contains(
            "Too many failed sign-ins for this account or from this address. Try again in"
        ),
        "{text}"
    );
    assert_eq!(b.path(), "/admin/login");
    let secs: u64 = text
        .split("Try again in ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!((1..=4).contains(&secs), "{text}");
    // Once it has passed, the right password signs in. The page shows whole seconds, so
    // up to one more may remain (and a busy machine may have taken part of it already).
    std::thread::sleep(Duration::from_secs(secs + 1) + Duration::from_millis(200));
    sign_in(&mut b, &c, "ada@example.com");
}

/// The TOTP code of `secret` (base32) for the step after the current one: accepted (one step
/// of skew) and never the step already used by the enrolment.
fn next_code(secret_base32: &str) -> String {
    use upkeep_domain::console::totp;
    let secret = totp::base32_decode(secret_base32).unwrap();
    totp::code_at_step(&secret, totp::step_at(Timestamp::now().as_second()) + 1)
}

#[test]
fn a_second_factor_is_enrolled_on_the_account_page_and_asked_for_at_sign_in() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    sign_in(&mut b, &c, "ada@example.com");
    b.click("a[href=\"/admin/account\"]");
    assert!(
        b.text().contains("Two-factor sign-in is off"),
        "{}",
        b.text()
    );
    b.click("form[action=\"/admin/account/totp\"] button");
    let secret = b.eval_str("document.querySelector('.secret code').textContent.trim()");
    assert!(secret.len() >= 32, "{secret}: {}", b.text());
    let uri = b.eval_str("document.querySelector('code.uri').textContent");
    assert!(
        uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")),
        "{uri}"
    );
    // A wrong code is refused; the current one turns the factor on.
    b.fill("#code", "12345");
    b.click("form[action=\"/admin/account/totp/confirm\"] button");
    assert!(b.text().contains("that code is not right"), "{}", b.text());
    assert!(b.eval("!!document.querySelector('.secret code')") == json!(true));
    let secret_bytes = upkeep_domain::console::totp::base32_decode(&secret).unwrap();
    let now_code = upkeep_domain::console::totp::code_at_step(
        &secret_bytes,
        upkeep_domain::console::totp::step_at(Timestamp::now().as_second()),
    );
    b.fill("#code", &now_code);
    b.click("form[action=\"/admin/account/totp/confirm\"] button");
    let codes = b.eval("[...document.querySelectorAll('.codes code')].map(c => c.textContent)");
    assert_eq!(codes.as_array().map(Vec::len), Some(10), "{}", b.text());
    assert!(
        b.text().contains("Two-factor sign-in is on"),
        "{}",
        b.text()
    );

    b.click("form[action=\"/admin/logout\"] button");
    // The password alone now leads to the second step; a code that is not current is
    // refused there; the next step's code signs in.
    submit_login(&mut b, &c, "ada@example.com", PASSWORD);
    assert_eq!(b.path(), "/admin/login/code", "{}", b.text());
    // The second step is as usable as the first: a labelled field, readable in both schemes.
    assert_eq!(unlabelled(&mut b), json!([]), "the code form");
    for dark in [false, true] {
        b.color_scheme(dark);
        assert_eq!(
            b.eval(LOW_CONTRAST),
            json!([]),
            "the code form, dark: {dark}"
        );
    }
    b.color_scheme(false);
    let valid: Vec<String> = (-1..=2)
        .map(|d| {
            upkeep_domain::console::totp::code_at_step(
                &secret_bytes,
                upkeep_domain::console::totp::step_at(Timestamp::now().as_second()) + d,
            )
        })
        .collect();
    let wrong = (0..)
        .map(|n: u32| format!("{:06}", (n * 7919) % 1_000_000))
        .find(|w| !valid.contains(w))
        .unwrap();
    b.fill("#code", &wrong);
    b.click("form[action=\"/admin/login/code\"] button");
    assert_eq!(b.path(), "/admin/login/code");
    assert_eq!(b.status(), 401, "{}", b.text());
    b.fill("#code", &next_code(&secret));
    b.click("form[action=\"/admin/login/code\"] button");
    assert_eq!(b.path(), "/admin", "{}", b.text());
    assert!(b.text().contains("Needs attention now"));
    b.click("a[href=\"/admin/account\"]");
    assert!(
        b.text()
            .contains("Two-factor sign-in is on; 10 recovery codes left"),
        "{}",
        b.text()
    );
}

#[test]
fn an_editor_opens_updates_and_resolves_an_incident_and_the_public_page_follows() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    eventually_on(&mut b, &c.url("/"), "an operational page", |t| {
        t.contains("All Systems Operational")
    });
    sign_in(&mut b, &c, "ada@example.com");
    b.click("nav a[href=\"/admin/incidents\"]");
    b.fill("#title", "Checkout is failing");
    b.choose("#c-api", "major_outage");
    b.fill("#body", "We are looking into **failed payments**.");
    b.click("form[action=\"/admin/incidents\"] button[type=submit]");
    assert!(b.path().starts_with("/admin/incidents/"), "{}", b.text());
    let incident = b.eval_str("location.href");
    let text = b.text();
    assert!(
        text.contains("Checkout is failing") && text.contains("investigating"),
        "{text}"
    );
    assert_eq!(
        b.eval("document.querySelector('.body strong').textContent"),
        json!("failed payments")
    );

    let public = eventually_on(&mut b, &c.url("/"), "showed the incident", |t| {
        t.contains("Checkout is failing")
    });
    assert!(public.contains("Active incidents"), "{public}");
    // Bold text in a message keeps its case (only the status label is capitalised).
    assert!(
        public.contains("We are looking into failed payments."),
        "{public}"
    );
    assert!(!public.contains("All Systems Operational"), "{public}");

    b.goto(&incident);
    b.choose("#status", "monitoring");
    b.choose("#c-api", "degraded_performance");
    b.fill("#body", "A fix is rolling out.");
    let path = b.path();
    b.click(&format!(
        "form[action=\"{path}/updates\"] button:not([name=preview])"
    ));
    // Posted, not previewed: the form is empty again.
    assert_eq!(b.eval_str("document.getElementById('body').value"), "");
    let text = b.text();
    assert!(
        text.contains("A fix is rolling out.") && text.contains("monitoring"),
        "{text}"
    );
    eventually_on(&mut b, &c.url("/"), "showed the update", |t| {
        t.contains("A fix is rolling out.")
    });

    b.goto(&incident);
    b.fill("#resolve-body", "Payments work again.");
    b.click(&format!("form[action=\"{path}/resolve\"] button"));
    let text = b.text();
    assert!(text.contains("resolved"), "{text}");
    assert_eq!(
        b.eval("!!document.getElementById('resolve-body')"),
        json!(false)
    );
    let public = eventually_on(&mut b, &c.url("/"), "turned back", |t| {
        t.contains("All Systems Operational")
    });
    assert!(!public.contains("Active incidents"), "{public}");
    assert!(b.dialogs().is_empty());
}

#[test]
fn a_maintenance_refused_for_short_notice_is_scheduled_at_the_earliest_allowed_start() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    sign_in(&mut b, &c, "ada@example.com");
    b.click("nav a[href=\"/admin/maintenance\"]");
    let tomorrow = (Timestamp::now() + 24.hours())
        .in_tz("Europe/Rome")
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M")
        .to_string();
    b.fill("#title", "Database upgrade");
    // A datetime-local field takes its value as the date picker would set it.
    b.eval(&format!(
        "document.getElementById('starts').value = {}",
        js(&tomorrow)
    ));
    b.fill("#duration", "90");
    b.eval("document.querySelector('input[name=component][value=api]').click()");
    b.fill("#message", "Writes pause for a few minutes.");
    // The server reads its clock between these two instants.
    let before = Timestamp::now();
    b.click("form[action=\"/admin/maintenance\"] button[type=submit]");
    let after = Timestamp::now();
    assert_eq!(b.status(), 422);
    let text = b.text();
    assert!(text.contains("The earliest allowed start is"), "{text}");
    let earliest = b.eval_str("document.getElementById('starts').value");
    assert_ne!(earliest, tomorrow);
    let earliest_at = earliest
        .parse::<jiff::civil::DateTime>()
        .unwrap()
        .in_tz("Europe/Rome")
        .unwrap()
        .timestamp();
    // Fourteen days after the server's clock and a minute to spare, rounded up to the form's
    // whole minute: still allowed when submitted again below, whatever the second it was
    // refused at.
    let fortnight = jiff::SignedDuration::from_hours(14 * 24);
    let minute = jiff::SignedDuration::from_mins(1);
    assert!(
        earliest_at.duration_since(before) >= fortnight + minute
            && earliest_at.duration_since(after) <= fortnight + jiff::SignedDuration::from_mins(2),
        "{earliest} is not 14 days and a minute after {before}..{after}"
    );
    assert!(
        text.contains(&format!(
            "earliest the notice policy allows ({earliest}, a minute to spare)"
        )),
        "{text}"
    );
    // Every field is kept.
    assert_eq!(
        b.eval_str("document.getElementById('title').value"),
        "Database upgrade"
    );
    assert_eq!(
        b.eval_str("document.getElementById('duration').value"),
        "90"
    );
    assert_eq!(
        b.eval("document.querySelector('input[name=component][value=api]').checked"),
        json!(true)
    );
    assert_eq!(
        b.eval_str("document.getElementById('message').value"),
        "Writes pause for a few minutes."
    );
    b.click("form[action=\"/admin/maintenance\"] button[type=submit]");
    assert!(b.path().starts_with("/admin/maintenance/"), "{}", b.text());
    let text = b.text();
    assert!(
        text.contains("Database upgrade") && text.contains("scheduled"),
        "{text}"
    );
    eventually_on(&mut b, &c.url("/"), "listed the maintenance", |t| {
        t.contains("Database upgrade")
    });
}

#[test]
fn a_viewer_sees_no_write_controls_and_a_forged_post_is_refused() {
    let mut c = Console::new(
        r#"
monitors:
  api-tcp: { component: api, tcp: { address: "127.0.0.1:9" }, interval: 60s }
"#,
    );
    c.user("vic@example.com", "viewer", "Vic Viewer");
    c.cli(&[
        "incident",
        "open",
        "--title",
        "Slow search",
        "--component",
        "site=degraded_performance",
    ]);
    let start = Timestamp::now() + (20 * 24).hours();
    c.cli(&[
        "maintenance",
        "schedule",
        "--title",
        "Disk swap",
        "--start",
        &start.to_string(),
        "--duration",
        "1h",
        "--component",
        "api",
    ]);
    c.start();
    let Some(mut b) = Browser::start() else {
        return;
    };
    sign_in(&mut b, &c, "vic@example.com");
    let month = start
        .in_tz("Europe/Rome")
        .unwrap()
        .strftime("%Y-%m")
        .to_string();
    b.goto(&c.url(&format!("/admin/maintenance?month={month}")));
    let maintenance = b.eval_str("document.querySelector('a.mw').getAttribute('href')");
    b.goto(&c.url("/admin/incidents"));
    let incident = b.eval_str("document.querySelector('td a').getAttribute('href')");
    assert!(incident.starts_with("/admin/incidents/"), "{incident}");
    let pages = [
        "/admin".to_owned(),
        "/admin/incidents".to_owned(),
        incident.clone(),
        "/admin/monitors".to_owned(),
        "/admin/monitors/api-tcp".to_owned(),
        "/admin/maintenance".to_owned(),
        format!("/admin/maintenance?month={month}"),
        maintenance,
        "/admin/alerts".to_owned(),
        "/admin/deliveries".to_owned(),
        "/admin/inventory".to_owned(),
        "/admin/reports".to_owned(),
        "/admin/backups".to_owned(),
        "/admin/audit".to_owned(),
    ];
    for page in &pages {
        b.goto(&c.url(page));
        assert_eq!(b.status(), 200, "{page}");
        let posts = b.eval(
            "[...document.querySelectorAll('form')].filter(f => f.method === 'post' && f.getAttribute('action') !== '/admin/logout').map(f => f.getAttribute('action'))",
        );
        assert_eq!(posts, json!([]), "write controls for a viewer on {page}");
        assert_eq!(
            b.eval("!!document.querySelector('a[href=\"/admin/users\"]')"),
            json!(false)
        );
        assert_eq!(
            b.eval("!!document.querySelector('a[href=\"/admin/subscribers\"]')"),
            json!(false),
            "subscribers are the admin's"
        );
    }
    // A write posted anyway, from the console's own origin with the session: refused.
    let forged = |path: &str, body: &str| {
        format!(
            "fetch({}, {{ method: 'POST', headers: {{ 'content-type': 'application/x-www-form-urlencoded' }}, body: {}, redirect: 'manual' }}).then(r => r.status)",
            js(path),
            js(body)
        )
    };
    for (path, body) in [
        (
            "/admin/incidents",
            "title=Forged&component.api=major_outage&body=x",
        ),
        (&format!("{incident}/resolve"), "body=forged"),
        (
            &format!("{incident}/updates"),
            "status=monitoring&body=forged",
        ),
        ("/admin/monitors/api-tcp/pause", ""),
        (
            "/admin/maintenance",
            "title=Forged&kind=emergency&starts=2030-01-01T10:00&duration=5&reason=x",
        ),
        (
            "/admin/users",
            "email=evil%40example.com&name=E&role=admin&password=aaaaaaaaaaaaaaa&password_again=aaaaaaaaaaaaaaa",
        ),
        ("/admin/tokens", "name=evil&role=admin"),
    ] {
        assert_eq!(b.eval(&forged(path, body)), json!(403), "POST {path}");
    }
    b.goto(&c.url("/admin/incidents"));
    let text = b.text();
    assert!(
        !text.contains("Forged") && text.contains("Slow search"),
        "{text}"
    );
    b.goto(&c.url(&incident));
    assert!(!b.text().contains("forged") && b.text().contains("investigating"));
    let list = ok(upkeep(&["user", "list", "--database", &c.ws.db]));
    assert!(!list.contains("evil@example.com"), "{list}");
}

/// A page on another origin (`127.0.0.1` on another port) whose form posts to `action`.
fn other_origin(action: &str) -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let page = format!(
        "<!doctype html><title>Elsewhere</title><form method=post action=\"{action}\">\
         <input name=title value=\"Planted from elsewhere\">\
         <input name=component.api value=major_outage>\
         <button type=submit>Go</button></form>"
    );
    let server = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    (listener, url)
}

#[test]
fn a_form_posted_from_another_origin_is_refused() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    sign_in(&mut b, &c, "ada@example.com");
    let (_listener, elsewhere) = other_origin(&c.url("/admin/incidents"));
    b.goto(&elsewhere);
    assert_eq!(b.eval_str("document.title"), "Elsewhere");
    b.click("button");
    assert_eq!(b.status(), 403, "{}", b.text());
    assert!(
        b.text()
            .contains("cross-site requests to the console are refused"),
        "{}",
        b.text()
    );
    // Nothing was opened, and the session is still good for the console's own forms.
    b.goto(&c.url("/admin/incidents"));
    assert_eq!(b.path(), "/admin/incidents");
    assert!(!b.text().contains("Planted from elsewhere"), "{}", b.text());
    b.fill("#title", "Opened from the console");
    b.click("form[action=\"/admin/incidents\"] button[type=submit]");
    assert!(b.path().starts_with("/admin/incidents/"), "{}", b.text());
}

#[test]
fn an_idle_session_ends_and_the_browser_is_sent_back_to_the_sign_in_form() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    sign_in(&mut b, &c, "ada@example.com");
    b.click("nav a[href=\"/admin/incidents\"]");
    b.fill("#title", "Typed before the session ended");
    // The session's last use as if 30 minutes (the idle limit) and a second had passed.
    c.sql(
        "UPDATE console_sessions SET last_seen_at = last_seen_at - idle_timeout_ms - 1000, \
         created_at = created_at - idle_timeout_ms - 1000",
    );
    // The form posted now leads to the sign-in form and opens nothing.
    b.click("form[action=\"/admin/incidents\"] button[type=submit]");
    assert_eq!(b.path(), "/admin/login", "{}", b.text());
    b.goto(&c.url("/admin/incidents"));
    assert_eq!(b.path(), "/admin/login");
    sign_in(&mut b, &c, "ada@example.com");
    b.goto(&c.url("/admin/incidents"));
    assert!(
        !b.text().contains("Typed before the session ended"),
        "{}",
        b.text()
    );
}

#[test]
fn hostile_text_in_an_incident_stays_inert_in_the_console_and_on_the_public_page() {
    let Some((c, mut b)) = with_editor() else {
        return;
    };
    let title = "<img src=x onerror=alert(document.domain)><script>alert(1)</script>";
    let body = "<img src=x onerror=\"document.title='owned'\"> <script>alert(2)</script> \
                <b onmouseover=alert(3)>bold</b>";
    sign_in(&mut b, &c, "ada@example.com");
    b.click("nav a[href=\"/admin/incidents\"]");
    b.fill("#title", title);
    b.choose("#c-site", "partial_outage");
    b.fill("#body", body);
    b.click("form[action=\"/admin/incidents\"] button[type=submit]");
    assert!(b.path().starts_with("/admin/incidents/"), "{}", b.text());
    let incident = b.eval_str("location.href");
    assert_eq!(
        b.eval_str("document.querySelector('main h1').textContent"),
        title
    );
    assert_inert(&mut b, "the incident's console page");
    let path = b.path();
    b.fill(
        "#body",
        "<script>alert(4)</script><img src=x onerror=alert(5)> second update",
    );
    b.click(&format!(
        "form[action=\"{path}/updates\"] button:not([name=preview])"
    ));
    assert_eq!(b.eval_str("document.getElementById('body').value"), "");
    assert!(b.text().contains("second update"), "{}", b.text());
    assert_inert(&mut b, "the incident's console page after an update");
    b.goto(&c.url("/admin/incidents"));
    assert!(b.text().contains(title), "{}", b.text());
    assert_inert(&mut b, "the incident list");
    b.goto(&c.url("/admin"));
    assert_inert(&mut b, "the overview");

    // The page is rebuilt after each write; wait for the one that has the update.
    let public = eventually_on(&mut b, &c.url("/"), "showed the incident's update", |t| {
        t.contains(title) && t.contains("second update")
    });
    assert!(public.contains("second update"), "{public}");
    assert_inert(&mut b, "the public page");
    b.click("article h3 a");
    assert!(b.path().starts_with("/incidents/"), "{}", b.text());
    assert!(b.text().contains(title));
    assert_inert(&mut b, "the public incident page");
    // Moving the pointer over the bold text (the would-be handler) does nothing either.
    b.goto(&incident);
    let (x, y) = (
        b.eval("document.querySelector('.body b, .body strong').getBoundingClientRect().x + 2"),
        b.eval("document.querySelector('.body b, .body strong').getBoundingClientRect().y + 2"),
    );
    b.page(
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseMoved", "x": x, "y": y }),
    );
    assert_inert(&mut b, "the incident's console page under the pointer");
}

/// A TCP port that accepts connections, for a monitor that stays up.
fn open_port() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accept = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        for stream in accept.incoming() {
            if stream.is_err() {
                break;
            }
        }
    });
    (listener, port)
}

/// A console with an admin, monitors, an incident and a maintenance: every page has
/// something to show.
fn busy_console() -> (Console, TcpListener) {
    let (listener, port) = open_port();
    let mut c = Console::new(&format!(
        r#"
monitors:
  api-tcp: {{ component: api, tcp: {{ address: "127.0.0.1:{port}" }}, interval: 2s }}
  site-tcp: {{ component: site, tcp: {{ address: "127.0.0.1:9" }}, interval: 2s }}
backups:
  main-db: {{ rpo: 6h, rto: 24h, drill_every: 30d, push_key: k7Qm2xV9pL4sN8wR3tY6zB1c }}
"#
    ));
    c.user("root@example.com", "admin", "Grace Hopper");
    c.cli(&[
        "incident",
        "open",
        "--title",
        "Website returns errors for some visitors in the EU region",
        "--component",
        "site=partial_outage",
    ]);
    let start = Timestamp::now() + (20 * 24).hours();
    c.cli(&[
        "maintenance",
        "schedule",
        "--title",
        "Storage migration of the primary database cluster",
        "--start",
        &start.to_string(),
        "--duration",
        "2h",
        "--component",
        "api",
    ]);
    c.start();
    (c, listener)
}

#[test]
fn the_main_pages_fit_a_phone_and_a_desktop_screen() {
    let (c, _port) = busy_console();
    let Some(mut b) = Browser::start() else {
        return;
    };
    sign_in(&mut b, &c, "root@example.com");
    // Wait for the monitors' first checks, so the pages show live states.
    eventually_on(
        &mut b,
        &c.url("/admin/monitors"),
        "checked the monitors",
        |t| t.contains("up") && t.contains("down"),
    );
    eventually_on(&mut b, &c.url("/admin"), "listed the components", |t| {
        t.contains("Partial outage")
    });
    // Each page; on a phone, none of their lists may scroll sideways in its box.
    let pages = [
        ("overview", "/admin", true),
        ("incidents", "/admin/incidents", true),
        ("monitors", "/admin/monitors", true),
        ("monitor", "/admin/monitors/api-tcp", true),
        ("maintenance", "/admin/maintenance", true),
        ("alerts", "/admin/alerts", true),
        ("deliveries", "/admin/deliveries", true),
        ("inventory", "/admin/inventory", true),
        ("subscribers", "/admin/subscribers", true),
        ("backups", "/admin/backups", true),
        ("backup-set", "/admin/backups/main-db", true),
        ("audit", "/admin/audit", true),
        ("users", "/admin/users", true),
        ("confirm", "/admin/confirm?next=%2Fadmin%2Fusers", true),
    ];
    let mut shots = Vec::new();
    for (width, mobile) in [(1280, false), (390, true)] {
        b.resize(width, mobile);
        for (name, path, stacked) in pages {
            b.goto(&c.url(path));
            assert_eq!(b.status(), 200, "{path}");
            // Nothing is wider than the screen but the tables' own scrolling boxes.
            let wide = b.eval(&format!(
                "[...document.querySelectorAll('body *')].filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right > {width} + 1).map(e => e.tagName + '.' + e.className)"
            ));
            assert_eq!(wide, json!([]), "{path} at {width} px");
            assert_eq!(
                b.eval(&format!("document.documentElement.scrollWidth <= {width}")),
                json!(true),
                "{path} scrolls sideways at {width} px"
            );
            if mobile && stacked {
                // On a phone, lists and the calendar fit the screen: no box scrolls sideways.
                let scrolling = b.eval(
                    "[...document.querySelectorAll('.scroll')].filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.firstElementChild.className)",
                );
                assert_eq!(scrolling, json!([]), "{path} at {width} px");
            }
            shots.push(b.screenshot(&format!("console-{name}-{width}.png")));
        }
    }
    println!("screenshots: {shots:?}");
}

/// Every form control of the page shown that has no label naming it.
fn unlabelled(b: &mut Browser) -> Value {
    b.eval(
        "[...document.querySelectorAll('input, select, textarea')]\
         .filter(e => e.type !== 'hidden')\
         .filter(e => !([...(e.labels || [])].some(l => l.textContent.trim()) || (e.getAttribute('aria-label') || '').trim() || e.getAttribute('aria-labelledby')))\
         .map(e => e.outerHTML.slice(0, 120))",
    )
}

/// Presses Tab from the top of the freshly loaded page until `selector` has the focus; how many
/// presses it took, or `None` within `max`.
fn tabs_to(b: &mut Browser, selector: &str, max: usize) -> Option<usize> {
    b.reload();
    for n in 1..=max {
        b.press("Tab", 9, false);
        let here = b.eval(&format!(
            "document.activeElement === document.querySelector({})",
            js(selector)
        ));
        if here == json!(true) {
            return Some(n);
        }
    }
    None
}

/// Text whose contrast with the background behind it is under 4.5:1 (WCAG 2 AA for body
/// text), computed from the colours the browser resolved.
const LOW_CONTRAST: &str = r#"(() => {
  const parse = c => { const v = (c.match(/[\d.]+/g) || []).map(Number); return { rgb: v.slice(0, 3), a: v.length > 3 ? v[3] : 1 }; };
  const lum = rgb => { const [r, g, b] = rgb.map(x => { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); }); return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const behind = e => { for (; e; e = e.parentElement) { const c = parse(getComputedStyle(e).backgroundColor); if (c.a > 0) return c.rgb; } return [255, 255, 255]; };
  const low = [];
  for (const e of document.querySelectorAll('body *')) {
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const r = e.getBoundingClientRect();
    if (!own || r.width === 0 || r.height === 0) continue;
    const s = getComputedStyle(e);
    if (s.visibility === 'hidden') continue;
    // SVG text is painted with its fill.
    const paint = e instanceof SVGElement ? s.fill : s.color;
    if (!paint.startsWith('rgb')) continue;
    const fg = parse(paint).rgb, bg = behind(e);
    const [hi, lo] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) low.push(`${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}": ${s.color} on rgb(${bg}) = ${ratio.toFixed(2)}`);
  }
  return low;
})()"#;

#[test]
fn every_field_is_labelled_the_keyboard_reaches_the_actions_and_text_contrast_is_enough() {
    let (c, _port) = busy_console();
    let Some(mut b) = Browser::start() else {
        return;
    };
    b.goto(&c.url("/admin/login"));
    assert_eq!(unlabelled(&mut b), json!([]), "the sign-in form");
    // From the top of the sign-in page the keyboard reaches the fields, then the button.
    let email = tabs_to(&mut b, "#email", 10).expect("Tab never reaches the address");
    let button = tabs_to(&mut b, "form[action=\"/admin/login\"] button", 10)
        .expect("Tab never reaches the button");
    assert!(email < button);
    sign_in(&mut b, &c, "root@example.com");
    eventually_on(
        &mut b,
        &c.url("/admin/monitors"),
        "checked the monitors",
        |t| t.contains("down"),
    );
    b.goto(&c.url("/admin/incidents"));
    let incident = b.eval_str("document.querySelector('td a').getAttribute('href')");
    let month = (Timestamp::now() + (20 * 24).hours())
        .in_tz("Europe/Rome")
        .unwrap()
        .strftime("%Y-%m")
        .to_string();
    b.goto(&c.url(&format!("/admin/maintenance?month={month}")));
    let maintenance = b.eval_str("document.querySelector('a.mw').getAttribute('href')");
    // Each page, and the action the keyboard must reach on it.
    let pages: Vec<(String, &str)> = vec![
        ("/admin".into(), "nav a[href=\"/admin/incidents\"]"),
        (
            "/admin/incidents".into(),
            "form[action=\"/admin/incidents\"] button[type=submit]",
        ),
        (incident.clone(), "form[action$=\"/resolve\"] button"),
        (
            "/admin/monitors".into(),
            "a[href=\"/admin/monitors/api-tcp\"]",
        ),
        (
            "/admin/monitors/api-tcp".into(),
            "form[action$=\"/pause\"] button",
        ),
        (
            "/admin/maintenance".into(),
            "form[action=\"/admin/maintenance\"] button[type=submit]",
        ),
        (maintenance, "form[action$=\"/cancel\"] button"),
        ("/admin/alerts".into(), "nav a[href=\"/admin/account\"]"),
        ("/admin/deliveries".into(), "nav a[href=\"/admin/account\"]"),
        ("/admin/inventory".into(), "nav a[href=\"/admin/account\"]"),
        ("/admin/reports".into(), "nav a[href=\"/admin/account\"]"),
        ("/admin/config".into(), "nav a[href=\"/admin/account\"]"),
        (
            "/admin/subscribers".into(),
            "nav a[href=\"/admin/account\"]",
        ),
        ("/admin/backups".into(), "nav a[href=\"/admin/account\"]"),
        (
            "/admin/backups/main-db".into(),
            "form[action=\"/admin/backups/main-db/drills\"] button",
        ),
        (
            "/admin/confirm?next=%2Fadmin%2Fusers".into(),
            "form[action=\"/admin/confirm\"] button",
        ),
        ("/admin/audit".into(), "nav a[href=\"/admin/account\"]"),
        (
            "/admin/users".into(),
            "form[action=\"/admin/users\"] button[type=submit]",
        ),
        (
            "/admin/account".into(),
            "form[action=\"/admin/account/totp\"] button",
        ),
    ];
    let mut low = Vec::new();
    for (path, action) in &pages {
        b.goto(&c.url(path));
        assert_eq!(b.status(), 200, "{path}");
        assert_eq!(unlabelled(&mut b), json!([]), "unlabelled fields on {path}");
        assert!(
            tabs_to(&mut b, action, 150).is_some(),
            "Tab never reaches `{action}` on {path}"
        );
        // The focused control is visibly marked.
        let outline = b.eval("getComputedStyle(document.activeElement).outlineStyle");
        assert_ne!(
            outline,
            json!("none"),
            "no focus ring on `{action}` on {path}"
        );
        for dark in [false, true] {
            b.color_scheme(dark);
            let found = b.eval(LOW_CONTRAST);
            for f in found.as_array().unwrap() {
                low.push(format!(
                    "{path} ({}): {}",
                    if dark { "dark" } else { "light" },
                    f.as_str().unwrap()
                ));
            }
        }
        b.color_scheme(false);
    }
    assert!(
        low.is_empty(),
        "text under 4.5:1 contrast:\n{}",
        low.join("\n")
    );
    // The public page's text too.
    for dark in [false, true] {
        b.color_scheme(dark);
        b.goto(&c.url("/"));
        let found = b.eval(LOW_CONTRAST);
        assert_eq!(found, json!([]), "the public page, dark: {dark}");
    }
}
