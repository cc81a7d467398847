//! The rollout storage contract on SQLite and PostgreSQL: a maintenance keeps its rollout
//! specification (secrets never in the audit log), a rollout is created once with its tenants in
//! order, attempts are stored before they run and closed after, every change is conditional on
//! the revision read and on the fencing token of the leader lease, whose token goes up only when
//! the holder changes and never goes back.

use std::time::Duration;

use jiff::Timestamp;
use upkeep_domain::maintenance::Kind;
use upkeep_domain::rollout::machine::{Change, Phase};
use upkeep_domain::rollout::{
    GateSpec, OnUnknown, Outcome, RolloutSpec, RolloutState, Step, StepRun, StepSpec, TenantState,
};
use upkeep_store::maintenance::NewMaintenance;
use upkeep_store::rollouts::{AttemptEnd, AttemptStart, PlannedTenant, Writer, is_fenced};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn spec() -> RolloutSpec {
    RolloutSpec {
        action: StepSpec {
            run: StepRun::Command("./deploy.sh".into()),
            timeout_ms: 60_000,
        },
        rollback: Some(StepSpec {
            run: StepRun::Webhook {
                url: "http://127.0.0.1:9/rollback".into(),
                secret: "very-secret-signing-key".into(),
            },
            timeout_ms: 60_000,
        }),
        settle_ms: 120_000,
        gate: GateSpec::default(),
        canary: vec!["globex".into()],
        failure_budget: 0,
        pause_timeout_ms: 600_000,
        on_unknown: OnUnknown::Halt,
    }
}

fn tenants() -> Vec<PlannedTenant> {
    ["globex", "acme"]
        .iter()
        .enumerate()
        .map(|(i, t)| PlannedTenant {
            tenant: (*t).into(),
            slot_start: at(i as i64 * 900),
            slot_end: at(i as i64 * 900 + 900),
        })
        .collect()
}

#[tokio::test]
async fn a_rollout_is_stored_step_by_step_and_fenced() {
    for db in databases("a_rollout_is_stored_step_by_step_and_fenced").await {
        let store = db.store().await;
        let mut new = NewMaintenance::new(Kind::Planned, "Upgrade", at(0), at(3600));
        new.rollout = Some(spec());
        let m = store
            .create_maintenance(&new, "cli:root", at(-30 * 86_400), None)
            .await
            .unwrap();
        let read = store.get_maintenance(&m.id).await.unwrap().unwrap();
        assert_eq!(read.rollout, Some(spec()));
        let audit = store.list_audit(100, None).await.unwrap();
        let text = serde_json::to_string(&audit).unwrap();
        assert!(text.contains("[redacted]"), "{text}");
        assert!(!text.contains("very-secret-signing-key"), "{text}");
        assert_eq!(
            store.rollouts_to_create().await.unwrap(),
            Vec::<String>::new()
        );

        // The leader lease's token: 1 for the first holder, the same on renewal, +1 on takeover.
        let ttl = Duration::from_secs(15);
        assert!(
            store
                .try_acquire_lease("leader", "a", ttl, at(0))
                .await
                .unwrap()
        );
        assert_eq!(
            store.lease_token("leader", "a", at(1)).await.unwrap(),
            Some(1)
        );
        assert!(
            store
                .try_acquire_lease("leader", "a", ttl, at(5))
                .await
                .unwrap()
        );
        assert_eq!(
            store.lease_token("leader", "a", at(6)).await.unwrap(),
            Some(1)
        );
        assert_eq!(store.lease_token("leader", "b", at(6)).await.unwrap(), None);

        assert!(
            store
                .create_rollout(&m.id, &spec(), &tenants(), Writer::Driver(1), at(0))
                .await
                .unwrap()
        );
        assert!(
            !store
                .create_rollout(&m.id, &spec(), &tenants(), Writer::Driver(1), at(1))
                .await
                .unwrap(),
            "created once"
        );
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        assert_eq!(r.state, RolloutState::Pending);
        let order: Vec<&str> = r.tenants.iter().map(|t| t.tenant.as_str()).collect();
        assert_eq!(order, ["globex", "acme"]);
        assert_eq!(
            store.unfinished_rollouts().await.unwrap(),
            vec![m.id.clone()]
        );

        let running = Change {
            rollout: Some(RolloutState::Running),
            reason: "the maintenance started".into(),
            ..Change::default()
        };
        let r = store
            .apply_rollout_change(
                &m.id,
                r.revision,
                Writer::Driver(1),
                &running,
                None,
                &[],
                at(1),
            )
            .await
            .unwrap();
        assert_eq!(r.state, RolloutState::Running);
        // A change computed from a stale read is refused.
        let stale = store
            .apply_rollout_change(
                &m.id,
                r.revision - 1,
                Writer::Person("cli:root"),
                &running,
                None,
                &[],
                at(1),
            )
            .await
            .unwrap_err();
        assert!(!is_fenced(&stale), "{stale}");

        let start = AttemptStart {
            tenant: "globex".into(),
            step: Step::Action,
            attempt: 1,
            resumed: false,
        };
        let key = store
            .begin_attempt(&m.id, r.revision, Writer::Driver(1), &start, at(2))
            .await
            .unwrap();
        assert_eq!(key, format!("{}.globex.action.1", m.id));
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        assert_eq!(r.tenants[0].state, TenantState::Acting);
        assert_eq!(
            r.tenants[0].attempts[0].outcome, None,
            "stored before it runs"
        );
        let view = r.view(Phase::Open, at(3600));
        assert_eq!(view.tenants[0].attempts[0].attempt, 1);

        // Another replica takes the lease over: the old holder's writes are fenced off.
        assert!(
            store
                .try_acquire_lease("leader", "b", ttl, at(30))
                .await
                .unwrap()
        );
        assert_eq!(
            store.lease_token("leader", "b", at(31)).await.unwrap(),
            Some(2)
        );
        let end = AttemptEnd {
            tenant: "globex".into(),
            step: Step::Action,
            attempt: 1,
            outcome: Outcome::Succeeded,
            detail: Some("deployed".into()),
            tenant_state: TenantState::Settling,
            decision: "action attempt 1 succeeded".into(),
        };
        let r = store
            .finish_attempt(&m.id, r.revision, Writer::Driver(2), &end, &[], at(32))
            .await
            .unwrap();
        let fenced = store
            .finish_attempt(&m.id, r.revision, Writer::Driver(1), &end, &[], at(33))
            .await
            .unwrap_err();
        assert!(is_fenced(&fenced), "{fenced}");
        assert_eq!(r.tenants[0].state, TenantState::Settling);
        assert_eq!(r.tenants[0].attempts[0].outcome, Some(Outcome::Succeeded));
        assert_eq!(r.tenants[0].attempts[0].detail.as_deref(), Some("deployed"));

        // A released lease keeps its token: the next holder's is higher still.
        store.release_lease("leader", "b").await.unwrap();
        assert!(
            store
                .try_acquire_lease("leader", "a", ttl, at(40))
                .await
                .unwrap()
        );
        assert_eq!(
            store.lease_token("leader", "a", at(41)).await.unwrap(),
            Some(3)
        );

        // An operator's change is not fenced, only conditional on the revision.
        let aborted = Change {
            rollout: Some(RolloutState::Aborted),
            reason: "aborted by an operator".into(),
            ..Change::default()
        };
        let r = store
            .apply_rollout_change(
                &m.id,
                r.revision,
                Writer::Person("cli:root"),
                &aborted,
                None,
                &[],
                at(50),
            )
            .await
            .unwrap();
        assert_eq!(r.state, RolloutState::Aborted);
        assert_eq!(r.reason, "aborted by an operator");
        assert!(store.unfinished_rollouts().await.unwrap().is_empty());
        let actions: Vec<String> = store
            .list_audit(100, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.action.starts_with("rollout."))
            .map(|a| a.action)
            .collect();
        assert_eq!(actions.len(), 5, "{actions:?}");
    }
}

#[tokio::test]
async fn an_unknown_attempt_is_closed_with_its_reason() {
    for db in databases("an_unknown_attempt_is_closed_with_its_reason").await {
        let store = db.store().await;
        let mut new = NewMaintenance::new(Kind::Emergency, "Fix", at(0), at(3600));
        new.reason = Some("CVE".into());
        new.rollout = Some(spec());
        let m = store
            .create_maintenance(&new, "cli:root", at(0), None)
            .await
            .unwrap();
        store
            .create_rollout(
                &m.id,
                &spec(),
                &tenants(),
                Writer::Person("cli:root"),
                at(0),
            )
            .await
            .unwrap();
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        let start = AttemptStart {
            tenant: "acme".into(),
            step: Step::Action,
            attempt: 1,
            resumed: false,
        };
        store
            .begin_attempt(&m.id, r.revision, Writer::Driver(1), &start, at(1))
            .await
            .unwrap();
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        // Resumed: the same row, one more run, the same key.
        let again = AttemptStart {
            resumed: true,
            ..start
        };
        let key = store
            .begin_attempt(&m.id, r.revision, Writer::Driver(1), &again, at(2))
            .await
            .unwrap();
        assert_eq!(key, format!("{}.acme.action.1", m.id));
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        assert_eq!(r.tenants[1].attempts.len(), 1);
        assert_eq!(r.tenants[1].attempts[0].runs, 2);
        let change = Change {
            rollout: Some(RolloutState::Halted),
            tenant: Some(("acme".into(), TenantState::Halted)),
            unknown: Some(("acme".into(), Step::Action, 1)),
            reason: "upkeep stopped during action attempt 1".into(),
        };
        let r = store
            .apply_rollout_change(
                &m.id,
                r.revision,
                Writer::Driver(1),
                &change,
                None,
                &[],
                at(3),
            )
            .await
            .unwrap();
        assert_eq!(r.state, RolloutState::Halted);
        assert_eq!(r.tenants[1].state, TenantState::Halted);
        assert_eq!(r.tenants[1].attempts[0].outcome, Some(Outcome::Unknown));
        assert_eq!(
            r.tenants[1].decision.as_deref(),
            Some("upkeep stopped during action attempt 1")
        );
    }
}

/// The keys of the tenants' update notices written so far, in order.
async fn update_notices(store: &upkeep_store::Store) -> Vec<String> {
    store
        .unfanned_notices(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|n| n.dedup_key.starts_with("rollout/"))
        .map(|n| n.dedup_key)
        .collect()
}

/// Runs one attempt of `step` for `tenant` through the store, ending with `outcome` and the
/// tenant in `after`.
async fn attempt(
    store: &upkeep_store::Store,
    id: &str,
    tenant: &str,
    step: Step,
    number: u32,
    resumed: bool,
    after: TenantState,
) {
    let r = store.rollout(id).await.unwrap().unwrap();
    let start = AttemptStart {
        tenant: tenant.into(),
        step,
        attempt: number,
        resumed,
    };
    store
        .begin_attempt(id, r.revision, Writer::Driver(1), &start, at(10))
        .await
        .unwrap();
    let end = AttemptEnd {
        tenant: tenant.into(),
        step,
        attempt: number,
        outcome: Outcome::Succeeded,
        detail: None,
        tenant_state: after,
        decision: "done".into(),
    };
    store
        .finish_attempt(id, r.revision + 1, Writer::Driver(1), &end, &[], at(20))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_tenants_update_notices_are_written_with_its_steps_once_each() {
    for db in databases("a_tenants_update_notices_are_written_once").await {
        let store = db.store().await;
        let mut new = NewMaintenance::new(Kind::Emergency, "Fix", at(0), at(3600));
        new.reason = Some("CVE".into());
        new.rollout = Some(spec());
        new.components = vec!["core".into()];
        let m = store
            .create_maintenance(&new, "cli:root", at(0), None)
            .await
            .unwrap();
        let writer = Writer::Driver(1);
        store
            .create_rollout(&m.id, &spec(), &tenants(), writer, at(0))
            .await
            .unwrap();
        // globex: started, settling (nothing), resumed (nothing), passed by its gate.
        attempt(
            &store,
            &m.id,
            "globex",
            Step::Action,
            1,
            false,
            TenantState::Settling,
        )
        .await;
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        let passed = Change {
            tenant: Some(("globex".into(), TenantState::Passed)),
            reason: "gate passed".into(),
            ..Change::default()
        };
        store
            .apply_rollout_change(&m.id, r.revision, writer, &passed, None, &[], at(30))
            .await
            .unwrap();
        // acme: started, failed, rolled back; retried by an operator and passed.
        attempt(
            &store,
            &m.id,
            "acme",
            Step::Action,
            1,
            false,
            TenantState::Failed,
        )
        .await;
        attempt(
            &store,
            &m.id,
            "acme",
            Step::Rollback,
            1,
            false,
            TenantState::RolledBack,
        )
        .await;
        attempt(
            &store,
            &m.id,
            "acme",
            Step::Action,
            2,
            false,
            TenantState::Settling,
        )
        .await;
        let r = store.rollout(&m.id).await.unwrap().unwrap();
        let passed = Change {
            tenant: Some(("acme".into(), TenantState::Passed)),
            reason: "gate passed".into(),
            ..Change::default()
        };
        store
            .apply_rollout_change(&m.id, r.revision, writer, &passed, None, &[], at(40))
            .await
            .unwrap();
        let id = &m.id;
        assert_eq!(
            update_notices(&store).await,
            [
                format!("rollout/{id}/globex/started/1"),
                format!("rollout/{id}/globex/completed/1"),
                format!("rollout/{id}/acme/started/1"),
                format!("rollout/{id}/acme/rolled_back/1"),
                format!("rollout/{id}/acme/started/2"),
                format!("rollout/{id}/acme/completed/2"),
            ]
        );
        let notices = store.unfanned_notices(1000).await.unwrap();
        let last = notices.last().unwrap();
        let json = serde_json::to_value(&last.notice).unwrap();
        assert_eq!(json["type"], "rollout");
        assert_eq!(json["title"], "Fix");
        assert_eq!(json["tenant"], "acme");
        assert_eq!(json["components"], serde_json::json!(["core"]));
        assert_eq!(json["slot"]["start"], at(900).to_string());
        assert!(!json.to_string().contains("deploy.sh"), "{json}");

        // A maintenance that does not notify subscribers writes none.
        let mut quiet = NewMaintenance::new(Kind::Emergency, "Quiet", at(0), at(3600));
        quiet.reason = Some("CVE".into());
        quiet.rollout = Some(spec());
        quiet.notify_subscribers = false;
        let q = store
            .create_maintenance(&quiet, "cli:root", at(0), None)
            .await
            .unwrap();
        store
            .create_rollout(&q.id, &spec(), &tenants(), writer, at(0))
            .await
            .unwrap();
        attempt(
            &store,
            &q.id,
            "acme",
            Step::Action,
            1,
            false,
            TenantState::Failed,
        )
        .await;
        attempt(
            &store,
            &q.id,
            "acme",
            Step::Rollback,
            1,
            false,
            TenantState::RolledBack,
        )
        .await;
        assert_eq!(update_notices(&store).await.len(), 6);
    }
}
