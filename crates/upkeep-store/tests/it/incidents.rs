//! The incident storage contract, run against SQLite and PostgreSQL alike: create, update,
//! resolve, reopen, edit and delete, each with its audit row; ordering and the unresolved filter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::Timestamp;
use upkeep_domain::component_status::ComponentStatus::{self, *};
use upkeep_domain::incident::{AffectedComponent, Impact, IncidentStatus};
use upkeep_store::Store;
use upkeep_store::incidents::{IncidentChange, IncidentEdit, NewIncident};
use upkeep_store::testing::databases;

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + secs).unwrap()
}

fn c(id: &str, status: ComponentStatus) -> AffectedComponent {
    AffectedComponent {
        id: id.into(),
        status,
    }
}

fn new(title: &str, components: Vec<AffectedComponent>) -> NewIncident {
    NewIncident {
        title: title.into(),
        status: IncidentStatus::Investigating,
        impact: None,
        body: "We are looking into it.".into(),
        components,
        started_at: None,
        auto: false,
    }
}

async fn audit_actions(store: &Store) -> Vec<(String, String)> {
    let mut rows = store.list_audit(1000, None).await.unwrap();
    rows.reverse();
    rows.into_iter()
        .filter(|r| r.action.starts_with("incident."))
        .map(|r| (r.action, r.target))
        .collect()
}

#[tokio::test]
async fn incidents_live_through_updates_resolution_reopening_and_deletion() {
    for db in databases("incidents_live_through_updates_resolution_reopening_and_deletion").await {
        let store = db.store().await;
        let created = store
            .create_incident(
                &new(
                    "API errors",
                    vec![c("api", MajorOutage), c("web", DegradedPerformance)],
                ),
                "cli:root",
                at(0),
            )
            .await
            .unwrap();
        assert_eq!(created.id.len(), 12);
        assert_eq!(
            created.impact,
            Impact::Critical,
            "impact defaults from the worst component"
        );
        assert_eq!(created.started_at, at(0));
        assert_eq!(created.resolved_at, None);
        assert!(!created.auto);
        assert_eq!(created.updates.len(), 1);
        assert_eq!(created.updates[0].body, "We are looking into it.");
        let got = store.get_incident(&created.id).await.unwrap().unwrap();
        assert_eq!(
            got,
            created,
            "{:?}: read back what was written",
            store.backend()
        );

        // An update that changes status and one component's status.
        let updated = store
            .add_incident_update(
                &created.id,
                &IncidentChange {
                    status: Some(IncidentStatus::Identified),
                    body: Some("A bad deploy.".into()),
                    components: vec![c("web", Operational), c("db", PartialOutage)],
                },
                "token:abc (ops)",
                at(60),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(updated.status, IncidentStatus::Identified);
        assert_eq!(updated.updated_at, at(60));
        assert_eq!(
            updated.components,
            vec![
                c("api", MajorOutage),
                c("web", Operational),
                c("db", PartialOutage)
            ]
        );
        assert_eq!(updated.impact, Impact::Critical, "updates keep the impact");
        let got = store.get_incident(&created.id).await.unwrap().unwrap();
        assert_eq!(got, updated);
        assert_eq!(got.updates.len(), 2);
        assert_eq!(got.updates[0].body, "A bad deploy.", "newest first");
        assert_eq!(got.updates[0].created_by, "token:abc (ops)");
        assert_eq!(
            got.updates[1].components,
            vec![c("api", MajorOutage), c("web", DegradedPerformance)],
            "each update keeps the component statuses of its time"
        );

        // An update with only a body keeps the status.
        let noted = store
            .add_incident_update(
                &created.id,
                &IncidentChange {
                    body: Some("Rolling back.".into()),
                    ..Default::default()
                },
                "cli:root",
                at(90),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(noted.status, IncidentStatus::Identified);
        assert_eq!(noted.updates[0].status, IncidentStatus::Identified);

        // Resolve, then a postmortem keeps the resolution time, then reopen clears it.
        let resolved = store
            .add_incident_update(
                &created.id,
                &IncidentChange {
                    status: Some(IncidentStatus::Resolved),
                    ..Default::default()
                },
                "cli:root",
                at(120),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(resolved.resolved_at, Some(at(120)));
        let post = store
            .add_incident_update(
                &created.id,
                &IncidentChange {
                    status: Some(IncidentStatus::Postmortem),
                    ..Default::default()
                },
                "cli:root",
                at(180),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(post.resolved_at, Some(at(120)));
        let reopened = store
            .add_incident_update(
                &created.id,
                &IncidentChange {
                    status: Some(IncidentStatus::Investigating),
                    body: Some("It is back.".into()),
                    ..Default::default()
                },
                "cli:root",
                at(240),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(reopened.resolved_at, None);
        let got = store.get_incident(&created.id).await.unwrap().unwrap();
        assert_eq!(got.resolved_at, None);
        assert_eq!(got.updates.len(), 6);

        // Edit title, impact and postmortem; an empty edit records nothing.
        let edited = store
            .edit_incident(
                &created.id,
                &IncidentEdit {
                    title: Some("API errors after deploy".into()),
                    impact: Some(Impact::Major),
                    postmortem: Some(Some("# What happened".into())),
                },
                "cli:root",
                at(300),
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(edited.title, "API errors after deploy");
        assert_eq!(edited.impact, Impact::Major);
        assert_eq!(edited.updates.len(), 6, "an edit adds no update");
        let same = store
            .edit_incident(&created.id, &IncidentEdit::default(), "cli:root", at(301))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(same.updated_at, at(300));
        assert_eq!(
            store.get_incident(&created.id).await.unwrap().unwrap(),
            edited
        );

        // Unknown ids.
        assert!(store.get_incident("nosuchincid1").await.unwrap().is_none());
        assert!(
            store
                .add_incident_update(
                    "nosuchincid1",
                    &IncidentChange {
                        body: Some("x".into()),
                        ..Default::default()
                    },
                    "cli:root",
                    at(0)
                )
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .edit_incident("nosuchincid1", &IncidentEdit::default(), "cli:root", at(0))
                .await
                .unwrap()
                .is_none()
        );

        // Delete: gone with its timeline, the audit row keeps it all.
        let deleted = store
            .delete_incident(&created.id, "cli:root", at(400))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(deleted.id, created.id);
        assert!(store.get_incident(&created.id).await.unwrap().is_none());
        assert!(
            store
                .delete_incident(&created.id, "cli:root", at(401))
                .await
                .unwrap()
                .is_none()
        );
        assert!(store.list_incidents(50, false).await.unwrap().is_empty());

        let target = format!("incident/{}", created.id);
        let expected: Vec<(String, String)> = [
            "incident.create",
            "incident.update",
            "incident.update",
            "incident.update",
            "incident.update",
            "incident.update",
            "incident.edit",
            "incident.delete",
        ]
        .into_iter()
        .map(|a| (a.to_owned(), target.clone()))
        .collect();
        assert_eq!(audit_actions(&store).await, expected);

        let log = store.list_audit(100, None).await.unwrap();
        let delete = &log[0];
        assert_eq!(delete.action, "incident.delete");
        assert!(delete.after.is_none());
        let before = delete.before.as_ref().unwrap();
        assert_eq!(before["title"], "API errors after deploy");
        assert_eq!(before["updates"].as_array().unwrap().len(), 6);
        let edit = &log[1];
        assert_eq!(edit.before.as_ref().unwrap()["impact"], "critical");
        assert_eq!(edit.after.as_ref().unwrap()["impact"], "major");
        let reopen = &log[2];
        assert_eq!(reopen.actor, "cli:root");
        assert_eq!(reopen.before.as_ref().unwrap()["status"], "postmortem");
        assert_eq!(reopen.after.as_ref().unwrap()["status"], "investigating");
        assert_eq!(
            reopen.after.as_ref().unwrap()["update"]["body"],
            "It is back."
        );
        let create = log.iter().find(|r| r.action == "incident.create").unwrap();
        assert!(create.before.is_none());
        assert_eq!(
            create.after.as_ref().unwrap()["components"][0],
            serde_json::json!({"id": "api", "status": "major_outage"})
        );

        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn incidents_list_newest_first_with_an_unresolved_filter() {
    for db in databases("incidents_list_newest_first_with_an_unresolved_filter").await {
        let store = db.store().await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let mut n = new(&format!("incident {i}"), vec![]);
            if i == 1 {
                n.status = IncidentStatus::Resolved;
                n.impact = Some(Impact::Minor);
                n.auto = true;
                n.started_at = Some(at(-600));
            }
            let rec = store
                .create_incident(&n, "system", at(i * 10))
                .await
                .unwrap();
            ids.push(rec.id);
        }
        // Resolve the third one.
        store
            .add_incident_update(
                &ids[2],
                &IncidentChange {
                    status: Some(IncidentStatus::Resolved),
                    body: Some("Fixed.".into()),
                    ..Default::default()
                },
                "system",
                at(100),
            )
            .await
            .unwrap()
            .unwrap();

        let all = store.list_incidents(50, false).await.unwrap();
        let listed: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, vec![&ids[3], &ids[2], &ids[1], &ids[0]]);
        assert_eq!(all[0].updates.len(), 1, "listing carries the timeline");
        assert_eq!(all[1].updates.len(), 2);

        let first = &all[2];
        assert!(first.auto);
        assert_eq!(first.impact, Impact::Minor);
        assert_eq!(first.started_at, at(-600));
        assert_eq!(
            first.resolved_at,
            Some(at(10)),
            "created resolved: resolved at creation"
        );
        assert_eq!(first.impact, Impact::Minor);

        let open = store.list_incidents(50, true).await.unwrap();
        let listed: Vec<&str> = open.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, vec![&ids[3], &ids[0]]);

        let two = store.list_incidents(2, false).await.unwrap();
        assert_eq!(two.len(), 2);
        assert_eq!(two[0].id, ids[3]);

        // Keyset pages follow on from the last row shown, with and without the filter.
        let key = |r: &upkeep_store::incidents::IncidentRecord| (r.created_at, r.id.clone());
        let (at1, id1) = key(&two[1]);
        let rest = store
            .incidents_before(Some((at1, &id1)), 10, false)
            .await
            .unwrap();
        let listed: Vec<&str> = rest.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, vec![&ids[1], &ids[0]]);
        let (at3, id3) = key(&open[0]);
        let open_rest = store
            .incidents_before(Some((at3, &id3)), 10, true)
            .await
            .unwrap();
        let listed: Vec<&str> = open_rest.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(listed, vec![&ids[0]]);

        store.close().await;
        db.cleanup().await;
    }
}

#[tokio::test]
async fn concurrent_updates_to_one_incident_all_land() {
    for db in databases("concurrent_updates_to_one_incident_all_land").await {
        let store = db.store().await;
        let rec = store
            .create_incident(&new("busy", vec![]), "system", at(0))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..4 {
            let store = store.clone();
            let id = rec.id.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .add_incident_update(
                        &id,
                        &IncidentChange {
                            body: Some(format!("note {i}")),
                            components: vec![c(&format!("c{i}"), PartialOutage)],
                            ..Default::default()
                        },
                        "system",
                        at(1 + i),
                    )
                    .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap().unwrap();
        }
        let got = store.get_incident(&rec.id).await.unwrap().unwrap();
        assert_eq!(got.updates.len(), 5, "no update lost");
        assert_eq!(got.components.len(), 4, "no component lost");
        let audits = audit_actions(&store).await;
        assert_eq!(audits.len(), 5, "one audit row per change: {audits:?}");
        store.close().await;
        db.cleanup().await;
    }
}
