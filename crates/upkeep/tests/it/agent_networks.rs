//! Probe locations that really differ: three agents (the built binary), each on a test host of
//! its own (a network namespace, `upkeep_store::testing::hosts`), probe a TCP target in the
//! test's namespace, and nftables on an agent's host cuts it off from the target. The real
//! server judges each round from their results: one location of three cut off leaves the
//! monitor up with that location's own alert; two take it down and open an incident; two
//! agents stopped make it unknown — never down, never up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::TcpListener;
use std::time::Duration;

use serde_json::Value;
use upkeep_store::testing::hosts::TestHost;

use crate::agent::{Agent, agent_token, eventually};
use crate::support::{Server, Workspace, admin_token};

/// The monitor `api` as `GET /api/v1/monitors` shows it.
fn monitor(server: &Server, token: &str) -> Value {
    let answer = server.get("/api/v1/monitors", Some(token));
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let all: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    all.as_array()
        .and_then(|a| a.iter().find(|m| m["id"] == "api").cloned())
        .unwrap_or(Value::Null)
}

fn location<'a>(m: &'a Value, name: &str) -> &'a Value {
    m["locations"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["location"] == name))
        .unwrap_or(&Value::Null)
}

#[test]
fn a_quorum_of_agents_in_other_networks_decides_and_dissent_is_shown() {
    let hosts: Vec<TestHost> = ["eu", "us", "ap"]
        .iter()
        .filter_map(|_| TestHost::new("agent"))
        .collect();
    if hosts.len() < 3 {
        return; // skipped: no namespaces here
    }
    // The target and the server listen on this side of the first host's pair: every host
    // reaches them through its default route.
    let here = hosts[0].near.clone();
    let target = TcpListener::bind(format!("{here}:0")).unwrap();
    let target_port = target.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in target.incoming() {
            drop(conn);
        }
    });
    if hosts
        .iter()
        .any(|h| h.cut_off(&here, target_port, false).is_none())
    {
        return; // skipped: no nftables
    }
    let ws = Workspace::with_config(&format!(
        r#"
page: {{ name: Networks, url: "http://127.0.0.1:8080", timezone: UTC }}
components:
  api: {{ name: API }}
monitors:
  api:
    component: api
    tcp: {{ address: "{here}:{target_port}" }}
    interval: 2s
    timeout: 1s
    failure_threshold: 2
    locations: [eu-1, us-1, ap-1]
"#
    ));
    let admin = admin_token(&ws.db);
    let server = Server::start_on(&format!("{here}:0"), &["--config", &ws.config], &ws.db);
    let mut agents: Vec<Agent> = ["eu-1", "us-1", "ap-1"]
        .iter()
        .zip(&hosts)
        .map(|(location, host)| {
            let token = agent_token(&ws.db, &format!("probe-{location}"));
            let dir = ws.path().join(format!("agent-{location}"));
            Agent::start_in(Some(&host.namespace), &server.addr, &token, location, &dir)
        })
        .collect();
    let within = Duration::from_secs(40);

    // Every location sees the target: up.
    eventually(within, "up from three locations", || {
        let m = monitor(&server, &admin);
        m["status"] == "up"
            && ["eu-1", "us-1", "ap-1"]
                .iter()
                .all(|l| location(&m, l)["status"] == "passing")
    });

    // eu-1 cut off: it fails, the other two outvote it; its own alert fires.
    hosts[0].cut_off(&here, target_port, true).unwrap();
    eventually(within, "eu-1 alerting below quorum", || {
        location(&monitor(&server, &admin), "eu-1")["alerting"] == true
    });
    let m = monitor(&server, &admin);
    assert_eq!(m["status"], "up", "{m}");
    assert_eq!(location(&m, "eu-1")["status"], "failing", "{m}");
    assert!(location(&m, "eu-1")["failing_since"].is_string(), "{m}");
    // The operator alert follows the event (the alert follower runs apart).
    eventually(within, "the location's operator alert", || {
        server
            .get("/api/v1/alerts", Some(&admin))
            .contains("location:api@eu-1")
    });

    // us-1 cut off too: a quorum fails, the monitor goes down and an incident opens.
    hosts[1].cut_off(&here, target_port, true).unwrap();
    eventually(within, "down from two locations", || {
        monitor(&server, &admin)["status"] == "down"
    });
    eventually(within, "an automatic incident", || {
        server
            .get("/api/v1/incidents", Some(&admin))
            .contains("API is down")
    });

    // Both back, then two agents stopped: one result a round is fewer than the quorum.
    hosts[0].cut_off(&here, target_port, false).unwrap();
    hosts[1].cut_off(&here, target_port, false).unwrap();
    eventually(within, "up again", || {
        monitor(&server, &admin)["status"] == "up"
    });
    agents[0].kill9();
    agents[1].kill9();
    eventually(within, "unknown with two agents stopped", || {
        monitor(&server, &admin)["status"] == "unknown"
    });
    // The event is written after the state it records is live: wait for it too.
    eventually(
        within,
        "the unknown event naming the silent locations",
        || {
            server
                .get("/api/v1/monitors/api/events", Some(&admin))
                .contains("1 of 3 locations reported (silent: eu-1, us-1)")
        },
    );
    // Never down while unknown.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(monitor(&server, &admin)["status"], "unknown");
    drop(agents);
}
