//! The storage contract, run against SQLite and PostgreSQL alike.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::role::Role;
use upkeep_store::audit::AuditEntry;
use upkeep_store::testing::databases;
use upkeep_store::{Backend, Readiness, Store};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

#[tokio::test]
async fn migrations_apply_once_and_readiness_follows_them() {
    for db in databases("migrations_apply_once_and_readiness_follows_them").await {
        let store = Store::connect(&db.url, &Default::default()).await.unwrap();
        assert!(
            matches!(
                store.readiness().await,
                Readiness::MigrationsPending(_) | Readiness::Unreachable(_)
            ),
            "a fresh database is not ready before migrating"
        );
        let applied = store.migrate().await.unwrap();
        assert!(applied >= 1, "{:?}: nothing applied", store.backend());
        assert_eq!(
            store.migrate().await.unwrap(),
            0,
            "second run applies nothing"
        );
        assert_eq!(store.readiness().await, Readiness::Ready);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tokens_page_by_creation_then_id() {
    for db in databases("tokens_page_by_creation_then_id").await {
        let store = db.store().await;
        store
            .create_token("first", Role::Editor, "cli:root", at(0))
            .await
            .unwrap();
        // Pages by (creation, id): tokens made in the same millisecond are neither lost
        // nor shown twice across a page boundary.
        for name in ["twin a", "twin b"] {
            store
                .create_token(name, Role::Viewer, "cli:root", at(5))
                .await
                .unwrap();
        }
        let mut seen = Vec::new();
        let mut after: Option<(jiff::Timestamp, String)> = None;
        loop {
            let page = store
                .tokens_after(after.as_ref().map(|(t, id)| (*t, id.as_str())), 1)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = Some((last.created_at, last.id.clone()));
            seen.extend(page.into_iter().map(|t| t.id));
        }
        let all: Vec<String> = store
            .list_tokens()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.id)
            .collect();
        assert_eq!(seen, all);
        assert_eq!(seen.len(), 3);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn tokens_authenticate_until_revoked_and_every_change_is_audited() {
    for db in databases("tokens_authenticate_until_revoked_and_every_change_is_audited").await {
        let store = db.store().await;
        let created = store
            .create_token("deploy bot", Role::Editor, "cli:root", at(0))
            .await
            .unwrap();
        assert!(created.secret.starts_with("upk_"));
        assert_eq!(created.record.role().unwrap(), Role::Editor);

        let found = store
            .authenticate(&created.secret, at(1))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.id, created.record.id);
        assert!(
            store
                .authenticate("upk_wrong", at(1))
                .await
                .unwrap()
                .is_none()
        );
        // last_used_at is refreshed.
        let listed = store.list_tokens().await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].last_used_at, Some(at(1)));

        let revoked = store
            .revoke_token(&created.record.id, "cli:root", at(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.revoked_at, Some(at(2)));
        assert!(
            store
                .authenticate(&created.secret, at(3))
                .await
                .unwrap()
                .is_none()
        );
        // Revoking again changes nothing; an unknown id is None.
        let again = store
            .revoke_token(&created.record.id, "cli:root", at(4))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(again.revoked_at, Some(at(2)));
        assert!(
            store
                .revoke_token("nosuchtoken1", "cli:root", at(4))
                .await
                .unwrap()
                .is_none()
        );

        let audit = store.list_audit(10, None).await.unwrap();
        let actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            ["token.revoke", "token.create"],
            "newest first, one row per change"
        );
        let create = &audit[1];
        assert_eq!(create.actor, "cli:root");
        assert_eq!(create.target, format!("token/{}", created.record.id));
        assert!(create.before.is_none());
        let after = create.after.as_ref().unwrap();
        assert_eq!(after["name"], "deploy bot");
        assert!(
            !after.to_string().contains(&created.secret),
            "the secret never reaches the audit log"
        );
        assert_eq!(
            audit[0].before.as_ref().unwrap()["revoked_at"],
            serde_json::Value::Null
        );
        // Paging.
        let older = store.list_audit(10, Some(audit[0].id)).await.unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].action, "token.create");
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_secret_is_not_stored() {
    for db in databases("the_secret_is_not_stored").await {
        if !db.url.starts_with("sqlite:") {
            db.cleanup().await;
            continue;
        }
        let store = db.store().await;
        let created = store
            .create_token("t", Role::Admin, "cli:root", at(0))
            .await
            .unwrap();
        store.close().await;
        let path = db.url.trim_start_matches("sqlite://");
        let mut bytes = std::fs::read(path).unwrap();
        if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
            bytes.extend(wal);
        }
        let needle = created.secret.as_bytes();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the token secret appears in the database file"
        );
    }
}

#[tokio::test]
async fn a_lease_has_one_holder_until_it_expires_or_is_released() {
    for db in databases("a_lease_has_one_holder_until_it_expires_or_is_released").await {
        let store = db.store().await;
        let ttl = Duration::from_secs(30);
        assert!(
            store
                .try_acquire_lease("scheduler", "a", ttl, at(0))
                .await
                .unwrap()
        );
        assert!(
            !store
                .try_acquire_lease("scheduler", "b", ttl, at(10))
                .await
                .unwrap()
        );
        assert!(
            store
                .try_acquire_lease("scheduler", "a", ttl, at(20))
                .await
                .unwrap(),
            "renewal"
        );
        assert!(
            !store
                .try_acquire_lease("scheduler", "b", ttl, at(49))
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .lease_holder("scheduler", at(49))
                .await
                .unwrap()
                .as_deref(),
            Some("a")
        );
        assert!(
            store
                .try_acquire_lease("scheduler", "b", ttl, at(50))
                .await
                .unwrap(),
            "expired"
        );
        assert!(
            !store
                .try_acquire_lease("scheduler", "a", ttl, at(51))
                .await
                .unwrap()
        );
        store.release_lease("scheduler", "a").await.unwrap();
        assert_eq!(
            store
                .lease_holder("scheduler", at(52))
                .await
                .unwrap()
                .as_deref(),
            Some("b"),
            "only the holder releases"
        );
        store.release_lease("scheduler", "b").await.unwrap();
        assert!(
            store
                .try_acquire_lease("scheduler", "a", ttl, at(53))
                .await
                .unwrap()
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn live_leases_by_prefix_carry_tokens_and_expired_members_are_deleted() {
    for db in databases("live_leases_by_prefix_carry_tokens").await {
        let store = db.store().await;
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        let ttl = Duration::from_secs(15);
        for (name, holder) in [("shard:00", "a"), ("shard:01", "b"), ("replica:a", "a")] {
            assert!(
                store
                    .try_acquire_lease(name, holder, ttl, at(0))
                    .await
                    .unwrap()
            );
        }
        let live = store.live_leases("shard:", at(10)).await.unwrap();
        let names: Vec<(&str, &str, i64)> = live
            .iter()
            .map(|l| (l.name.as_str(), l.holder.as_str(), l.token))
            .collect();
        assert_eq!(names, [("shard:00", "a", 1), ("shard:01", "b", 1)]);
        // b takes shard 00 over once a's lease has expired: the token goes up.
        assert!(
            store
                .try_acquire_lease("shard:00", "b", ttl, at(15))
                .await
                .unwrap()
        );
        let live = store.live_leases("shard:", at(16)).await.unwrap();
        assert_eq!((live[0].holder.as_str(), live[0].token), ("b", 2));
        assert_eq!(live.len(), 1, "shard 01 expired at 15: {live:?}");
        // One statement renews every live lease of a holder under the prefix.
        assert!(
            store
                .try_acquire_lease("shard:02", "b", ttl, at(16))
                .await
                .unwrap()
        );
        let mut renewed = store
            .renew_leases("shard:", "b", ttl, at(20))
            .await
            .unwrap();
        renewed.sort();
        assert_eq!(renewed, ["shard:00", "shard:02"]);
        assert!(
            store
                .renew_leases("shard:", "a", ttl, at(20))
                .await
                .unwrap()
                .is_empty()
        );
        let live = store.live_leases("shard:", at(34)).await.unwrap();
        assert_eq!(live.len(), 2, "renewed until 35: {live:?}");
        // Only expired rows under the prefix go.
        assert_eq!(
            store
                .delete_expired_leases("replica:", at(14))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .delete_expired_leases("replica:", at(16))
                .await
                .unwrap(),
            1
        );
        assert_eq!(store.live_leases("shard:", at(16)).await.unwrap().len(), 2);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_claims_of_one_lease_have_exactly_one_winner() {
    for db in databases("concurrent_claims_of_one_lease_have_exactly_one_winner").await {
        let store = db.store().await;
        let mut tasks = Vec::new();
        for i in 0..16 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .try_acquire_lease(
                        "outbox",
                        &format!("replica-{i}"),
                        Duration::from_secs(30),
                        at(0),
                    )
                    .await
                    .unwrap()
            }));
        }
        let mut winners = 0;
        for t in tasks {
            winners += usize::from(t.await.unwrap());
        }
        assert_eq!(winners, 1, "{:?}", store.backend());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn bad_urls_are_refused_with_a_readable_error() {
    let err = Store::connect("mysql://localhost/x", &Default::default())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("neither a sqlite:// nor a postgres://"),
        "{err}"
    );
    assert_eq!(
        upkeep_store::redact("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
    assert_eq!(Backend::Postgres.as_str(), "postgres");
}

#[tokio::test]
async fn standalone_audit_rows_keep_before_and_after_json() {
    for db in databases("standalone_audit_rows_keep_before_and_after_json").await {
        let store = db.store().await;
        let entry = AuditEntry {
            actor: "token:abc (ops)".into(),
            action: "config.reload".into(),
            target: "config".into(),
            before: Some(serde_json::json!({"digest": "aa"})),
            after: Some(serde_json::json!({"digest": "bb", "nested": [1, "two"]})),
        };
        store.record_audit(&entry, at(5)).await.unwrap();
        let rows = store.list_audit(5, None).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].at, at(5));
        assert_eq!(rows[0].before, entry.before);
        assert_eq!(rows[0].after, entry.after);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_confirmation_is_stored_with_its_audit_row() {
    use upkeep_domain::notify::routing::Scope;
    use upkeep_store::subscribers::SubscribeOutcome;
    for db in databases("a_confirmation_is_stored_with_its_audit_row").await {
        let store = db.store().await;
        let scope = Scope {
            components: vec!["api".into()],
            tenant: None,
        };
        let outcome = store
            .request_subscription("eve@example.com", &scope, 3_600_000, 0, at(1))
            .await
            .unwrap();
        let SubscribeOutcome::SendConfirmation { token, .. } = outcome else {
            panic!("a new address gets a token");
        };
        assert!(store.list_audit(5, None).await.unwrap().is_empty());
        let confirmed = store
            .confirm_subscription(&token, at(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(confirmed.confirmed_at, Some(at(2)));
        let rows = store.list_audit(5, None).await.unwrap();
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!(rows[0].action, "subscriber.confirm");
        assert_eq!(rows[0].actor, format!("subscriber:{}", confirmed.id));
        assert_eq!(rows[0].target, format!("subscriber/{}", confirmed.id));
        let before = rows[0].before.as_ref().unwrap();
        let after = rows[0].after.as_ref().unwrap();
        assert!(before["confirmed_at"].is_null());
        assert!(!after["confirmed_at"].is_null());
        assert_eq!(after["components"], serde_json::json!(["api"]));
        assert_ne!(
            after["address"], "eve@example.com",
            "the address is redacted"
        );
        // The link is used: a second click changes nothing and records nothing.
        assert!(
            store
                .confirm_subscription(&token, at(3))
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(store.list_audit(5, None).await.unwrap().len(), 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_hook_token_is_stored_and_read_back() {
    for db in databases("a_hook_token_is_stored_and_read_back").await {
        let store = db.store().await;
        let created = store
            .create_token("alertmanager", Role::Hook, "cli:ops", at(1))
            .await
            .unwrap();
        let token = store
            .authenticate(&created.secret, at(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(token.role().unwrap(), Role::Hook);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_audit_log_is_filtered_by_actor_action_and_time_and_paged_without_repeats_or_gaps() {
    use upkeep_store::audit::AuditFilter;
    for db in databases("audit_log_filtered_and_paged").await {
        let store = db.store().await;
        for i in 0..30i64 {
            let entry = AuditEntry {
                actor: if i % 2 == 0 {
                    "user:a (Ada@example.com)"
                } else {
                    "cli:root"
                }
                .into(),
                action: if i % 3 == 0 {
                    "token.revoke"
                } else {
                    "user.create"
                }
                .into(),
                target: format!("x/{i}"),
                before: None,
                after: None,
            };
            store.record_audit(&entry, at(i)).await.unwrap();
        }
        let filter = AuditFilter {
            actor: "ADA@".into(),
            action_prefix: "token.".into(),
            from: Some(at(3)),
            until: Some(at(27)),
        };
        let want: Vec<String> = (3..27)
            .rev()
            .filter(|i| i % 2 == 0 && i % 3 == 0)
            .map(|i| format!("x/{i}"))
            .collect();
        let mut got = Vec::new();
        let mut before = None;
        loop {
            let page = store.list_audit_filtered(&filter, 2, before).await.unwrap();
            if page.is_empty() {
                break;
            }
            before = page.last().map(|r| r.id);
            got.extend(page.into_iter().map(|r| r.target));
        }
        assert_eq!(got, want);
        let all = store
            .list_audit_filtered(&AuditFilter::default(), 100, None)
            .await
            .unwrap();
        assert_eq!(all.len(), 30);
        let like = AuditFilter {
            actor: "%".into(),
            ..AuditFilter::default()
        };
        assert!(
            store
                .list_audit_filtered(&like, 100, None)
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn subscribers_are_searched_by_address_and_paged_by_key_without_repeats_or_gaps() {
    use upkeep_domain::notify::routing::Scope;
    for db in databases("subscribers_searched_and_paged").await {
        let store = db.store().await;
        // Two at each instant, so that pages break inside a run of equal creation times.
        for i in 0..21i64 {
            store
                .create_webhook_subscriber(
                    &format!("https://Hook{i}.example.com/P/{i}"),
                    None,
                    &Scope::default(),
                    "test",
                    at(i / 2),
                )
                .await
                .unwrap();
        }
        let walk = |needle: &'static str| {
            let store = store.clone();
            async move {
                let mut got = Vec::new();
                let mut after: Option<(Timestamp, String)> = None;
                loop {
                    let key = after.as_ref().map(|(t, id)| (*t, id.as_str()));
                    let page = store.search_subscribers(needle, key, 4).await.unwrap();
                    if page.is_empty() {
                        break;
                    }
                    after = page.last().map(|r| (r.created_at, r.id.clone()));
                    got.extend(page.into_iter().map(|r| r.address));
                }
                got
            }
        };
        let all = walk("").await;
        let listed: Vec<String> = store
            .list_subscribers(false, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.address)
            .collect();
        assert_eq!(all, listed, "the list's order, every row once");
        assert_eq!(all.len(), 21);
        let ones = walk("hook1").await;
        assert_eq!(ones.len(), 11, "{ones:?}"); // 1 and 10 to 19, any case
        assert!(walk("p/2").await.len() == 2, "2 and 20");
        assert!(walk("%").await.is_empty(), "no pattern characters");
        // ASCII letters fold, others are matched as given: alike on both backends.
        store
            .create_webhook_subscriber(
                "https://hooks.example.org/Über-Straße",
                None,
                &Scope::default(),
                "test",
                at(30),
            )
            .await
            .unwrap();
        let umlaut = ["https://hooks.example.org/Über-Straße"];
        assert_eq!(walk("Über-straße").await, umlaut);
        assert_eq!(walk("ÜBER-STRAßE").await, umlaut);
        assert!(walk("über").await.is_empty(), "only ASCII letters fold");
        store.close().await;
        db.cleanup().await;
    }
}
