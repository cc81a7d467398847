//! Console users, their sessions and the sign-in throttle, on SQLite and PostgreSQL alike.

use jiff::{SignedDuration, Timestamp};
use upkeep_domain::role::Role;
use upkeep_store::Store;
use upkeep_store::sessions::{SessionLimits, SessionStage};
use upkeep_store::testing::databases;
use upkeep_store::users::{CreateUserError, NewUser};

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

const LIMITS: SessionLimits = SessionLimits {
    idle: SignedDuration::from_secs(1800),
    absolute: SignedDuration::from_secs(12 * 3600),
};

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        display_name: "Ada Lovelace".into(),
        role,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    }
}

#[tokio::test]
async fn users_are_created_once_per_address_listed_disabled_and_audited() {
    for db in databases("users_are_created_once_per_address_listed_disabled_and_audited").await {
        let store = db.store().await;
        let ada = store
            .create_user(&new_user("Ada@Example.com", Role::Admin), "cli:root", at(0))
            .await
            .unwrap();
        assert_eq!(ada.email, "ada@example.com", "stored lower-case");
        assert_eq!(ada.role, Role::Admin);
        let again = store
            .create_user(
                &new_user("ADA@example.com", Role::Viewer),
                "cli:root",
                at(1),
            )
            .await;
        assert!(
            matches!(again, Err(CreateUserError::EmailTaken(ref e)) if e == "ada@example.com"),
            "{again:?}"
        );
        store
            .create_user(
                &new_user("bob@example.com", Role::Viewer),
                "cli:root",
                at(2),
            )
            .await
            .unwrap();
        let listed = store.list_users().await.unwrap();
        let emails: Vec<&str> = listed.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(emails, ["ada@example.com", "bob@example.com"]);
        let first = store.users_after(None, 1).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].email, "ada@example.com");
        let next = store.users_after(Some(&first[0].email), 5).await.unwrap();
        let emails: Vec<&str> = next.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            ["bob@example.com"],
            "the next page follows on by address"
        );

        let found = store
            .user_by_email(" ADA@example.COM ")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.record, ada);
        assert!(found.password_hash.starts_with("$argon2id$"));

        let disabled = store
            .disable_user(&ada.id, "cli:root", at(3))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(disabled.disabled_at, Some(at(3)));
        // Disabling twice records nothing more.
        store
            .disable_user(&ada.id, "cli:root", at(4))
            .await
            .unwrap();
        store.enable_user(&ada.id, "cli:root", at(5)).await.unwrap();
        assert!(
            store
                .disable_user("nosuchuserid", "cli:root", at(6))
                .await
                .unwrap()
                .is_none()
        );

        let audit = store.list_audit(100, None).await.unwrap();
        let actions: Vec<&str> = audit.iter().rev().map(|a| a.action.as_str()).collect();
        assert_eq!(
            actions,
            ["user.create", "user.create", "user.disable", "user.enable"]
        );
        let text = serde_json::to_string(&audit).unwrap();
        assert!(
            !text.contains("argon2"),
            "the hash is never audited: {text}"
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn sessions_expire_idle_and_absolute_end_with_the_user_and_survive_a_restart() {
    for db in
        databases("sessions_expire_idle_and_absolute_end_with_the_user_and_survive_a_restart").await
    {
        let store = db.store().await;
        let ada = store
            .create_user(
                &new_user("ada@example.com", Role::Editor),
                "cli:root",
                at(0),
            )
            .await
            .unwrap();
        let s = store
            .create_session(&ada.id, SessionStage::SignedIn, LIMITS, "192.0.2.1", at(0))
            .await
            .unwrap();
        assert_eq!(s.token.len(), 43);
        let seen = store.session(&s.token, at(10)).await.unwrap().unwrap();
        assert_eq!(seen.user.id, ada.id);
        assert_eq!(seen.stage, SessionStage::SignedIn);
        assert!(
            store
                .session("not-a-token", at(10))
                .await
                .unwrap()
                .is_none()
        );

        // Used every 20 minutes, it lives past its idle timeout of 30 minutes...
        for minutes in [20, 40, 60, 80] {
            assert!(
                store
                    .session(&s.token, at(minutes * 60))
                    .await
                    .unwrap()
                    .is_some(),
                "alive at {minutes} min"
            );
        }
        // ...and survives a restart of upkeep (a new pool on the same database).
        store.close().await;
        let store = Store::connect(&db.url, &Default::default()).await.unwrap();
        assert!(
            store
                .session(&s.token, at(90 * 60))
                .await
                .unwrap()
                .is_some()
        );
        // Idle for 31 minutes: gone.
        assert!(
            store
                .session(&s.token, at(121 * 60))
                .await
                .unwrap()
                .is_none()
        );

        // The absolute expiry holds however busy the session is.
        let busy = store
            .create_session(&ada.id, SessionStage::SignedIn, LIMITS, "192.0.2.1", at(0))
            .await
            .unwrap();
        let mut t = 0;
        while t < 12 * 3600 - 600 {
            t += 600;
            assert!(
                store.session(&busy.token, at(t)).await.unwrap().is_some(),
                "{t}"
            );
        }
        assert!(
            store
                .session(&busy.token, at(12 * 3600))
                .await
                .unwrap()
                .is_none()
        );

        // A disabled user's sessions end; so do they on a new password.
        let a = store
            .create_session(
                &ada.id,
                SessionStage::SignedIn,
                LIMITS,
                "192.0.2.1",
                at(50_000),
            )
            .await
            .unwrap();
        store
            .disable_user(&ada.id, "cli:root", at(50_001))
            .await
            .unwrap();
        store
            .enable_user(&ada.id, "cli:root", at(50_002))
            .await
            .unwrap();
        assert!(store.session(&a.token, at(50_003)).await.unwrap().is_none());
        let b = store
            .create_session(
                &ada.id,
                SessionStage::SignedIn,
                LIMITS,
                "192.0.2.1",
                at(50_004),
            )
            .await
            .unwrap();
        store
            .set_user_password(&ada.id, "$argon2id$new", "cli:root", at(50_005))
            .await
            .unwrap();
        assert!(store.session(&b.token, at(50_006)).await.unwrap().is_none());

        // Sign-out ends one session; sign-out everywhere ends them all.
        let c = store
            .create_session(
                &ada.id,
                SessionStage::SignedIn,
                LIMITS,
                "192.0.2.1",
                at(50_010),
            )
            .await
            .unwrap();
        let d = store
            .create_session(
                &ada.id,
                SessionStage::SignedIn,
                LIMITS,
                "192.0.2.2",
                at(50_010),
            )
            .await
            .unwrap();
        assert!(store.delete_session(&c.id_sha256).await.unwrap());
        assert!(store.session(&c.token, at(50_011)).await.unwrap().is_none());
        assert!(store.session(&d.token, at(50_011)).await.unwrap().is_some());
        assert_eq!(
            store
                .count_user_sessions(&ada.id, at(50_011))
                .await
                .unwrap(),
            1
        );
        let e = store
            .create_session(
                &ada.id,
                SessionStage::SignedIn,
                LIMITS,
                "192.0.2.3",
                at(50_012),
            )
            .await
            .unwrap();
        let ended = store
            .delete_user_sessions(&ada.id, &format!("user:{}", ada.id), at(50_013))
            .await
            .unwrap();
        assert_eq!(ended, 2);
        assert!(store.session(&d.token, at(50_014)).await.unwrap().is_none());
        assert!(store.session(&e.token, at(50_014)).await.unwrap().is_none());
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn totp_steps_and_recovery_codes_are_accepted_once() {
    for db in databases("totp_steps_and_recovery_codes_are_accepted_once").await {
        let store = db.store().await;
        let ada = store
            .create_user(
                &new_user("ada@example.com", Role::Viewer),
                "cli:root",
                at(0),
            )
            .await
            .unwrap();
        store
            .begin_user_totp(&ada.id, "JBSWY3DPEHPK3PXP", "user:x", at(1))
            .await
            .unwrap();
        let creds = store.user_credentials(&ada.id).await.unwrap().unwrap();
        assert_eq!(creds.totp_secret.as_deref(), Some("JBSWY3DPEHPK3PXP"));
        assert!(
            creds.record.totp_enabled_at.is_none(),
            "waits for its first code"
        );
        let codes = vec![
            "aaaa-bbbb-cccc-dddd".to_string(),
            "eeee-ffff-gggg-hhhh".to_string(),
        ];
        let enrolled = store
            .enable_user_totp(&ada.id, 100, &codes, "user:x", at(2))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(enrolled.totp_enabled_at, Some(at(2)));
        assert!(
            store
                .begin_user_totp(&ada.id, "OTHER", "user:x", at(3))
                .await
                .is_err(),
            "an enrolled factor is removed before another is begun"
        );
        // The step of enrolment and earlier ones are spent; a later one is accepted once.
        assert!(!store.use_totp_step(&ada.id, 100).await.unwrap());
        assert!(!store.use_totp_step(&ada.id, 99).await.unwrap());
        assert!(store.use_totp_step(&ada.id, 101).await.unwrap());
        assert!(!store.use_totp_step(&ada.id, 101).await.unwrap());

        assert_eq!(store.recovery_codes_left(&ada.id).await.unwrap(), 2);
        assert!(
            store
                .use_recovery_code(&ada.id, "AAAABBBBCCCCDDDD", at(4))
                .await
                .unwrap()
        );
        assert!(
            !store
                .use_recovery_code(&ada.id, "aaaa-bbbb-cccc-dddd", at(5))
                .await
                .unwrap()
        );
        assert!(
            !store
                .use_recovery_code(&ada.id, "zzzz-zzzz-zzzz-zzzz", at(5))
                .await
                .unwrap()
        );
        assert_eq!(store.recovery_codes_left(&ada.id).await.unwrap(), 1);

        store
            .remove_user_totp(&ada.id, "cli:root", at(6))
            .await
            .unwrap();
        let creds = store.user_credentials(&ada.id).await.unwrap().unwrap();
        assert!(creds.totp_secret.is_none() && creds.record.totp_enabled_at.is_none());
        assert_eq!(store.recovery_codes_left(&ada.id).await.unwrap(), 0);
        let audit = store.list_audit(100, None).await.unwrap();
        let text = serde_json::to_string(&audit).unwrap();
        assert!(
            !text.contains("JBSWY3DPEHPK3PXP"),
            "the secret is never audited"
        );
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn the_sign_in_throttle_counts_failures_per_key_and_forgets_them() {
    for db in databases("the_sign_in_throttle_counts_failures_per_key_and_forgets_them").await {
        let store = db.store().await;
        let forget = SignedDuration::from_secs(3600);
        let delay = |n: i64| SignedDuration::from_secs(if n < 3 { 0 } else { 1 << (n - 3) });
        let keys = ["account:ada@example.com", "client:192.0.2.1"];
        for i in 1..=4 {
            let n = store
                .record_login_failure(keys[0], forget, delay, at(i))
                .await
                .unwrap();
            assert_eq!(n, i);
        }
        // The fourth failure at +4 s locks the account for 2 s.
        assert_eq!(
            store.login_locked_until(&keys, at(4)).await.unwrap(),
            Some(at(6))
        );
        assert_eq!(store.login_locked_until(&keys, at(6)).await.unwrap(), None);
        assert_eq!(
            store.login_locked_until(&keys[1..], at(4)).await.unwrap(),
            None
        );
        // An hour without failures: counting starts again.
        let n = store
            .record_login_failure(keys[0], forget, delay, at(4 + 3600))
            .await
            .unwrap();
        assert_eq!(n, 1);
        store.clear_login_failures(keys[0]).await.unwrap();
        let n = store
            .record_login_failure(keys[0], forget, delay, at(3610))
            .await
            .unwrap();
        assert_eq!(n, 1);
        assert_eq!(store.prune_login_failures(at(10_000)).await.unwrap(), 1);
        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn a_confirmation_is_kept_on_its_session_only_and_audited() {
    for db in databases("a_confirmation_is_kept_on_its_session_only_and_audited").await {
        let store = db.store().await;
        let ada = store
            .create_user(&new_user("ada@example.com", Role::Admin), "cli:root", at(0))
            .await
            .unwrap();
        let one = store
            .create_session(&ada.id, SessionStage::SignedIn, LIMITS, "192.0.2.1", at(0))
            .await
            .unwrap();
        let two = store
            .create_session(&ada.id, SessionStage::SignedIn, LIMITS, "192.0.2.2", at(0))
            .await
            .unwrap();
        let pending = store
            .create_session(
                &ada.id,
                SessionStage::SecondFactor,
                LIMITS,
                "192.0.2.3",
                at(0),
            )
            .await
            .unwrap();
        let seen = store.session(&one.token, at(1)).await.unwrap().unwrap();
        assert_eq!(seen.confirmed_at, None);
        assert!(
            store
                .confirm_session(&one.id_sha256, "user:x", &ada.id, at(60))
                .await
                .unwrap()
        );
        assert!(
            !store
                .confirm_session(&pending.id_sha256, "user:x", &ada.id, at(60))
                .await
                .unwrap(),
            "a session waiting for its second factor confirms nothing"
        );
        let seen = store.session(&one.token, at(61)).await.unwrap().unwrap();
        assert_eq!(seen.confirmed_at, Some(at(60)));
        let other = store.session(&two.token, at(61)).await.unwrap().unwrap();
        assert_eq!(other.confirmed_at, None, "only the session that confirmed");
        let audit = store.list_audit(10, None).await.unwrap();
        assert_eq!(
            audit
                .iter()
                .filter(|a| a.action == "session.confirm")
                .count(),
            1
        );
        store.delete_session(&one.id_sha256).await.unwrap();
        assert!(
            !store
                .confirm_session(&one.id_sha256, "user:x", &ada.id, at(90))
                .await
                .unwrap()
        );
    }
}
