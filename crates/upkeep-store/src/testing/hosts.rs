//! The project's own test hosts: network namespaces joined to the test's namespace by a veth
//! pair, made and removed by the test (`ip netns`, iproute2). A host is "another network": a
//! probe agent can run inside one, and nftables inside it can cut it off from a target.
//! Test traffic goes only to loopback and to these hosts.
//!
//! Each host is a /30 in 10.200.0.0/16: this side `10.200.A.B+1`, the host `10.200.A.B+2`,
//! with a default route back through this side, so a host reaches every address of the test's
//! namespace (a server or a target bound to [`TestHost::near`]). Removed on drop, whatever the
//! test did. Needs root, iproute2 and (for [`TestHost::nft`]) nftables: a missing one skips
//! the test (fails under `UPKEEP_REQUIRE_PEERS=1`).

use std::process::{Command, Stdio};

use super::peer;

/// Runs a command; its stderr when it fails.
pub fn run(program: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|err| format!("{program}: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A test host in a network namespace of its own.
#[derive(Debug)]
pub struct TestHost {
    /// The namespace's name (`ip netns exec NAME ...` runs a program on the host).
    pub namespace: String,
    /// The veth end in the test's namespace.
    pub outside: String,
    /// The host's address.
    pub address: String,
    /// The address of the test's side of the pair (reachable from the host).
    pub near: String,
}

impl TestHost {
    /// A new host named `upkeep-PURPOSE-…`, or `None` after skipping the test (no root, no
    /// `ip`).
    pub fn new(purpose: &str) -> Option<TestHost> {
        let tag = rand::random::<u32>();
        let a = tag >> 24;
        let b = (tag >> 16 & 0x3f) * 4;
        let host = TestHost {
            namespace: format!("upkeep-{purpose}-{tag:08x}"),
            outside: format!("uk{tag:08x}a"),
            address: format!("10.200.{a}.{}", b + 2),
            near: format!("10.200.{a}.{}", b + 1),
        };
        let inside = format!("uk{tag:08x}b");
        let near = format!("{}/30", host.near);
        let far = format!("{}/30", host.address);
        if let Err(why) = run("ip", &["netns", "add", &host.namespace]) {
            peer::skip(
                "network namespaces",
                &format!("run the tests as root with iproute2 installed ({why})"),
            );
            return None;
        }
        let ns = host.namespace.as_str();
        let steps: [&[&str]; 7] = [
            &[
                "link",
                "add",
                &host.outside,
                "type",
                "veth",
                "peer",
                "name",
                &inside,
                "netns",
                ns,
            ],
            &["addr", "add", &near, "dev", &host.outside],
            &["link", "set", &host.outside, "up"],
            &["-n", ns, "addr", "add", &far, "dev", &inside],
            &["-n", ns, "link", "set", &inside, "up"],
            &["-n", ns, "link", "set", "lo", "up"],
            &["-n", ns, "route", "add", "default", "via", &host.near],
        ];
        for step in steps {
            if let Err(why) = run("ip", step) {
                panic!("cannot make test host {}: {why}", host.namespace);
            }
        }
        Some(host)
    }

    /// Loads an nftables ruleset (the text of `nft -f`) into the host's namespace, replacing
    /// the table it names; `None` after skipping the test when `nft` is missing.
    pub fn nft(&self, ruleset: &str) -> Option<()> {
        if Command::new("nft").arg("--version").output().is_err() {
            peer::skip("nft (nftables)", "bash scripts/test-deps.sh installs it");
            return None;
        }
        let path =
            std::env::temp_dir().join(format!("{}-{}.nft", self.namespace, rand::random::<u32>()));
        if let Err(e) = std::fs::write(&path, ruleset) {
            panic!("cannot write {}: {e}", path.display());
        }
        let loaded = run(
            "ip",
            &[
                "netns",
                "exec",
                &self.namespace,
                "nft",
                "-f",
                &path.to_string_lossy(),
            ],
        );
        let _ = std::fs::remove_file(&path);
        if let Err(why) = loaded {
            panic!("cannot load nftables rules into {}: {why}", self.namespace);
        }
        Some(())
    }

    /// Loads one rule into an input chain of a table of the host's own (see [`TestHost::nft`]).
    pub fn firewall(&self, rule: &str) -> Option<()> {
        self.nft(&format!(
            "table inet upkeep_test {{\n  chain input {{\n    type filter hook input priority 0; policy accept;\n    {rule}\n  }}\n}}\n"
        ))
    }

    /// Cuts the host off from `address:port` over TCP (its SYNs are dropped on the way out),
    /// or lets it through again with `cut = false`.
    pub fn cut_off(&self, address: &str, port: u16, cut: bool) -> Option<()> {
        let rule = if cut {
            format!("ip daddr {address} tcp dport {port} drop")
        } else {
            String::new()
        };
        self.nft(&format!(
            "table inet upkeep_cut\ndelete table inet upkeep_cut\ntable inet upkeep_cut {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n    {rule}\n  }}\n}}\n"
        ))
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        let _ = run("ip", &["link", "del", &self.outside]);
        let _ = run("ip", &["netns", "del", &self.namespace]);
    }
}
