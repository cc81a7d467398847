//! `icmp` probes against loopback and against test hosts in network namespaces this test
//! makes and removes (`ip netns`, a veth pair, a /30 in 10.200.0.0/16): a host that answers,
//! one whose namespace drops echo requests (nftables) and one that drops every other one, for
//! loss conditions. And the socket fallback: in a namespace where this process has no
//! CAP_NET_RAW, pings go over an unprivileged ICMP socket when `net.ipv4.ping_group_range`
//! allows it, and fail in words saying what is missing when it does not.
//!
//! The namespaced hosts need root, iproute2 and nft; a missing one skips the test (fails under
//! `UPKEEP_REQUIRE_PEERS=1`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use upkeep_store::testing::hosts::{TestHost, run};

use upkeep_engine::monitoring::probe::{ProbeOutcome, Prober};
use upkeep_store::testing::peer;

use crate::probe_support::{failure, monitor};

async fn ping(fields: &str, rest: &str) -> ProbeOutcome {
    let m = monitor(&format!("{{ component: c, icmp: {{ {fields} }}, {rest} }}"));
    Prober::new().unwrap().probe(&m).await
}

#[tokio::test]
async fn icmp_loopback_answers_without_loss() {
    let outcome = ping(
        "host: 127.0.0.1, count: 3, packet_interval: 20ms",
        r#"timeout: 5s, conditions: ["[PACKET_LOSS] == 0", "[RTT_MIN] >= 0", "[RTT_MAX] < 500", "[RTT_AVG] < 500"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    assert!(outcome.latency_ms < 500, "{outcome:?}");

    // The same answers tested against an impossible round trip: the words say what was seen.
    let outcome = ping(
        "host: 127.0.0.1, count: 2, packet_interval: 20ms",
        r#"timeout: 5s, conditions: ["[RTT_MAX] < 0"]"#,
    )
    .await;
    let words = failure(&outcome);
    assert!(
        words.starts_with("condition `[RTT_MAX] < 0` failed: the longest round trip was ")
            && words.ends_with(" ms"),
        "{words}"
    );

    // A name resolves to an address of the wanted family; an address must be of it.
    let outcome = ping("host: localhost, family: ipv4, count: 1", "timeout: 5s").await;
    assert!(outcome.ok, "{outcome:?}");
    let outcome = ping(r#"host: "::1", family: ipv4"#, "timeout: 5s").await;
    assert_eq!(failure(&outcome), "::1 is not an IPv4 address (family)");
}

#[tokio::test]
async fn icmp_ipv6_loopback_answers_without_loss() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here: ::1 not tested");
        return;
    }
    let outcome = ping(
        r#"host: "::1", count: 3, packet_interval: 20ms"#,
        r#"timeout: 5s, conditions: ["[PACKET_LOSS] == 0"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn icmp_host_in_a_namespace_answers() {
    let Some(host) = TestHost::new("icmp") else {
        return;
    };
    let outcome = ping(
        &format!("host: {}, count: 3, packet_interval: 50ms", host.address),
        r#"timeout: 5s, conditions: ["[PACKET_LOSS] == 0", "[RTT_AVG] < 500"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
}

#[tokio::test]
async fn icmp_host_dropping_echo_requests_is_down_in_words() {
    let Some(host) = TestHost::new("icmp") else {
        return;
    };
    if host.firewall("icmp type echo-request drop").is_none() {
        return;
    }
    let outcome = ping(
        &format!(
            "host: {}, count: 3, packet_interval: 50ms, packet_timeout: 300ms",
            host.address
        ),
        "timeout: 2s",
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "host down: 100% packet loss (no reply to 3 echo requests to {})",
            host.address
        )
    );

    // A loss condition decides on its own; round trips of nothing are explained.
    let outcome = ping(
        &format!("host: {}, count: 2, packet_timeout: 200ms", host.address),
        r#"timeout: 2s, conditions: ["[RTT_AVG] < 100"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        format!(
            "host down: 100% packet loss (no reply to 2 echo requests to {}); condition `[RTT_AVG] < 100` failed: no echo reply was received",
            host.address
        )
    );
}

#[tokio::test]
async fn icmp_partial_loss_meets_loss_conditions() {
    let Some(host) = TestHost::new("icmp") else {
        return;
    };
    // Every other echo request is dropped: exactly half of them, whatever the timing.
    if host
        .firewall("icmp type echo-request numgen inc mod 2 == 0 drop")
        .is_none()
    {
        return;
    }
    let fields = format!(
        "host: {}, count: 4, packet_interval: 50ms, packet_timeout: 300ms",
        host.address
    );
    let outcome = ping(
        &fields,
        r#"timeout: 2s, conditions: ["[PACKET_LOSS] < 25"]"#,
    )
    .await;
    assert_eq!(
        failure(&outcome),
        "condition `[PACKET_LOSS] < 25` failed: the packet loss was 50% (2 of 4 echo requests unanswered)"
    );
    let outcome = ping(
        &fields,
        r#"timeout: 2s, conditions: ["[PACKET_LOSS] <= 50"]"#,
    )
    .await;
    assert!(outcome.ok, "{outcome:?}");
    // Without a loss condition, a host that answers at all is up.
    let outcome = ping(&fields, "timeout: 2s").await;
    assert!(outcome.ok, "{outcome:?}");
}

/// Runs [`icmp_without_raw_sockets`]'s inner half in the host's namespace, without
/// CAP_NET_RAW, with `ping_group_range` set to `range` there; its output when it fails.
fn run_unprivileged(host: &TestHost, range: &str, expect: &str) -> Result<(), String> {
    run(
        "ip",
        &[
            "netns",
            "exec",
            &host.namespace,
            "sysctl",
            "-q",
            "-w",
            &format!("net.ipv4.ping_group_range={range}"),
        ],
    )?;
    let exe = std::env::current_exe().unwrap();
    let output = Command::new("ip")
        .args(["netns", "exec", &host.namespace])
        .args([
            "setpriv",
            "--inh-caps=-net_raw",
            "--bounding-set=-net_raw",
            "--",
        ])
        .arg(exe)
        .args([
            "--exact",
            "probe_icmp::icmp_unprivileged_inner",
            "--ignored",
            "--nocapture",
        ])
        .env("UPKEEP_ICMP_EXPECT", expect)
        .output()
        .map_err(|err| err.to_string())?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() && text.contains("1 passed") {
        Ok(())
    } else {
        Err(text)
    }
}

#[tokio::test]
async fn icmp_without_raw_sockets_uses_unprivileged_ones_or_says_what_is_missing() {
    let Some(host) = TestHost::new("icmp") else {
        return;
    };
    if Command::new("setpriv").arg("--version").output().is_err() {
        peer::skip("setpriv (util-linux)", "apt-get install util-linux");
        return;
    }
    run_unprivileged(&host, "0 2147483647", "ok").unwrap();
    run_unprivileged(&host, "1 0", "refused").unwrap();
}

/// The half of the test above that runs in the namespace, without CAP_NET_RAW.
#[tokio::test]
#[ignore = "run by icmp_without_raw_sockets_uses_unprivileged_ones_or_says_what_is_missing"]
async fn icmp_unprivileged_inner() {
    let outcome = ping(
        "host: 127.0.0.1, count: 2, packet_interval: 20ms",
        r#"timeout: 5s"#,
    )
    .await;
    match std::env::var("UPKEEP_ICMP_EXPECT").as_deref() {
        Ok("ok") => assert!(outcome.ok, "{outcome:?}"),
        Ok("refused") => assert_eq!(
            failure(&outcome),
            "cannot ping: unprivileged ICMP sockets are not allowed for group 0 \
             (net.ipv4.ping_group_range is \"1 0\"; widen it, e.g. sysctl -w \
             net.ipv4.ping_group_range=\"0 2147483647\"), and raw ICMP sockets need root or \
             CAP_NET_RAW"
        ),
        other => panic!("UPKEEP_ICMP_EXPECT is {other:?}"),
    }
}
