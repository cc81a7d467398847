//! Times the update inventory's index reader on a generated Helm repository index of
//! `N` entries (default 15,000) shaped like a real one (annotations, maintainers, URLs,
//! digests; every tenth a prerelease, every fiftieth deprecated, a few unparseable).
//!
//! `cargo run --release -p upkeep-domain --example inventory_index -- [N] [RUNS]`

use std::fmt::Write as _;
use std::time::Instant;

use upkeep_domain::inventory::{latest_stable, parse_index};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(15_000);
    let runs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(5);
    let charts = [
        "app",
        "traefik",
        "ingress-nginx",
        "cert-manager",
        "postgresql",
    ];
    let mut text = String::from("apiVersion: v1\nentries:\n");
    for (c, chart) in charts.iter().enumerate() {
        let _ = writeln!(text, "  {chart}:");
        for i in (c..n).step_by(charts.len()) {
            let version = match i % 50 {
                49 => "v-not-a-version".to_owned(),
                9 | 19 | 29 | 39 => format!("{}.{}.{}-rc.1", i / 1000, (i / 10) % 100, i % 10),
                _ => format!("v{}.{}.{}", i / 1000, (i / 10) % 100, i % 10),
            };
            let _ = write!(
                text,
                "  - annotations:\n      artifacthub.io/changes: |\n        - kind: changed\n          description: bump {i}\n      artifacthub.io/license: Apache-2.0\n    \
                 apiVersion: v2\n    appVersion: {i}.0.0\n    created: \"2024-01-01T00:00:{:02}.{i:09}Z\"\n    \
                 dependencies:\n    - name: common\n      repository: oci://registry.example/charts\n      version: 2.x.x\n    \
                 description: A Helm chart for {chart}\n    digest: {i:064x}\n    home: https://example.invalid/{chart}\n    \
                 icon: https://example.invalid/{chart}.svg\n    keywords:\n    - {chart}\n    - ingress\n    \
                 maintainers:\n    - email: maintainers@example.invalid\n      name: Maintainers\n    \
                 name: {chart}\n    sources:\n    - https://example.invalid/src/{chart}\n    type: application\n    \
                 urls:\n    - https://example.invalid/{chart}-{version}.tgz\n    version: {version}\n",
                i % 60
            );
            if i % 50 == 7 {
                text.push_str("    deprecated: true\n");
            }
        }
    }
    text.push_str("generated: \"2024-01-02T00:00:00Z\"\n");
    println!(
        "index: {n} entries over {} charts, {:.1} MiB",
        charts.len(),
        text.len() as f64 / 1_048_576.0
    );
    let wanted = ["traefik".to_owned()].into_iter().collect();
    for (label, only) in [
        ("every chart kept", None),
        ("one chart kept", Some(&wanted)),
    ] {
        let mut times = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let index = match parse_index(&text, only) {
                Ok(index) => index,
                Err(e) => {
                    eprintln!("error: {e}");
                    std::process::exit(1);
                }
            };
            let latest = latest_stable(index.charts.get("traefik").map_or(&[][..], Vec::as_slice))
                .map(|r| r.version.to_string());
            times.push(started.elapsed());
            if times.len() == 1 {
                println!(
                    "{label}: {} entries read, {} skipped, latest stable traefik {}",
                    index.entries,
                    index.skipped,
                    latest.unwrap_or_default()
                );
            }
        }
        times.sort();
        println!(
            "{label}: best {:.1} ms, median {:.1} ms over {runs} runs",
            times[0].as_secs_f64() * 1000.0,
            times[times.len() / 2].as_secs_f64() * 1000.0
        );
    }
}
