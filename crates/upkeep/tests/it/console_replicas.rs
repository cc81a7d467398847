//! Console sessions live in the database, not in a process: over real HTTP, a session made by
//! one `upkeep serve` is honoured by another on the same PostgreSQL database and by a restarted
//! process, and signing out everywhere on one ends the user's sessions on all. SQLite serves one
//! process at a time, so there only the restart is tested.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};

use crate::support::{Server, Workspace, ok};
use crate::user::create_user;

const PASSWORD: &str = "correct horse battery";

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn base(server: &Server) -> String {
    format!("http://{}", server.addr)
}

/// Signs in on `server` through the form; the session cookie (`name=value`).
pub(crate) async fn sign_in(http: &reqwest::Client, server: &Server, email: &str) -> String {
    let base = base(server);
    let r = http
        .post(format!("{base}/admin/login"))
        .header(ORIGIN, &base)
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin");
    let cookie = r.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.starts_with("upkeep_admin="), "{cookie}");
    cookie.split(';').next().unwrap().to_owned()
}

/// `GET path` on `server` with `cookie`: the status and, for a redirect, where it leads.
pub(crate) async fn get(
    http: &reqwest::Client,
    server: &Server,
    cookie: &str,
    path: &str,
) -> (StatusCode, String, String) {
    let r = http
        .get(format!("{}{path}", base(server)))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(LOCATION)
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, location, r.text().await.unwrap())
}

/// Asserts that `cookie` is a live session of Ada's on `server`; the account page's text.
async fn signed_in(http: &reqwest::Client, server: &Server, cookie: &str) -> String {
    let (status, location, body) = get(http, server, cookie, "/admin/account").await;
    assert_eq!(status, StatusCode::OK, "{location} {body}");
    assert!(body.contains("ada@example.com"), "{body}");
    body
}

/// Asserts that `cookie` is no session on `server`: the console sends to the sign-in form.
async fn signed_out(http: &reqwest::Client, server: &Server, cookie: &str) {
    let (status, location, _) = get(http, server, cookie, "/admin").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/login");
}

async fn sign_out_everywhere(http: &reqwest::Client, server: &Server, cookie: &str) {
    let base = base(server);
    let r = http
        .post(format!("{base}/admin/logout-everywhere"))
        .header(ORIGIN, &base)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[LOCATION], "/admin/login");
}

pub(crate) fn create_ada(db: &str) {
    ok(create_user(
        db,
        "ada@example.com",
        "editor",
        "Ada",
        &format!("{PASSWORD}\n"),
    ));
}

fn serve(ws: &Workspace, db: &str) -> Server {
    Server::start(&["--config", &ws.config], db)
}

const CONFIG: &str = "\npage: { name: Replica Cloud, url: \"http://127.0.0.1\", timezone: UTC }\n\
                      server: { rate_limit: { per_second: 0 } }\n";

#[test]
fn a_console_session_survives_a_restart_and_sign_out_everywhere_ends_every_session_sqlite() {
    let ws = Workspace::with_config(CONFIG);
    create_ada(&ws.db);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let http = client();
    let server = serve(&ws, &ws.db);
    let (first, second) = runtime.block_on(async {
        let first = sign_in(&http, &server, "ada@example.com").await;
        let second = sign_in(&http, &server, "ada@example.com").await;
        assert_ne!(first, second);
        (first, second)
    });
    drop(server);
    let server = serve(&ws, &ws.db);
    runtime.block_on(async {
        let account = signed_in(&http, &server, &first).await;
        assert!(account.contains("Active sessions: 2."), "{account}");
        signed_in(&http, &server, &second).await;
        sign_out_everywhere(&http, &server, &second).await;
        signed_out(&http, &server, &first).await;
        signed_out(&http, &server, &second).await;
    });
    drop(server);
    let server = serve(&ws, &ws.db);
    runtime.block_on(async {
        signed_out(&http, &server, &first).await;
        // A new sign-in works after all that.
        let third = sign_in(&http, &server, "ada@example.com").await;
        let account = signed_in(&http, &server, &third).await;
        assert!(account.contains("Active sessions: 1."), "{account}");
    });
}

#[test]
fn a_console_session_works_on_every_postgres_replica_and_survives_a_restart() {
    let test = "a_console_session_works_on_every_postgres_replica_and_survives_a_restart";
    let Some(url) = upkeep_store::testing::postgres_url(test) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let pg = runtime.block_on(upkeep_store::testing::TestDatabase::postgres(&url));
    let ws = Workspace::with_config(CONFIG);
    create_ada(&pg.url);
    let http = client();
    // The first replica migrates the schema before the second starts.
    let a = serve(&ws, &pg.url);
    let b = serve(&ws, &pg.url);
    assert_ne!(a.addr, b.addr);
    let (on_a, on_b) = runtime.block_on(async {
        // Made on one, honoured by the other.
        let on_a = sign_in(&http, &a, "ada@example.com").await;
        signed_in(&http, &b, &on_a).await;
        let on_b = sign_in(&http, &b, "ada@example.com").await;
        let account = signed_in(&http, &a, &on_b).await;
        assert!(account.contains("Active sessions: 2."), "{account}");
        // Signing out on one replica ends the session on the other.
        let r = http
            .post(format!("{}/admin/logout", base(&a)))
            .header(ORIGIN, base(&a))
            .header(COOKIE, &on_a)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        signed_out(&http, &b, &on_a).await;
        let on_a = sign_in(&http, &a, "ada@example.com").await;
        (on_a, on_b)
    });
    // A restarted replica knows both.
    drop(a);
    let a = serve(&ws, &pg.url);
    runtime.block_on(async {
        signed_in(&http, &a, &on_a).await;
        signed_in(&http, &a, &on_b).await;
        signed_in(&http, &b, &on_a).await;
        // Signing out everywhere on one replica ends every session on both.
        sign_out_everywhere(&http, &b, &on_a).await;
        for server in [&a, &b] {
            signed_out(&http, server, &on_a).await;
            signed_out(&http, server, &on_b).await;
        }
    });
    drop((a, b));
    runtime.block_on(pg.cleanup());
}
