//! The in-memory snapshot the public JSON is served from: every endpoint's body prepared once
//! per rebuild, plain, gzip and brotli, with a strong ETag and a Last-Modified.
//!
//! A rebuild that produces the same plain bytes for an endpoint keeps the old body, so its
//! ETag and Last-Modified do not move and clients' conditional requests keep answering 304.
//! Readers take an `Arc` of the current snapshot under a short read lock and never wait for a
//! rebuild.

use std::io::Write;
use std::sync::{Arc, RwLock};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::statuspage::Documents;

/// The endpoints served from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Summary,
    Status,
    Components,
    Incidents,
    Unresolved,
    ScheduledMaintenances,
    UpcomingMaintenances,
    ActiveMaintenances,
}

impl Endpoint {
    pub const ALL: [Endpoint; 8] = [
        Endpoint::Summary,
        Endpoint::Status,
        Endpoint::Components,
        Endpoint::Incidents,
        Endpoint::Unresolved,
        Endpoint::ScheduledMaintenances,
        Endpoint::UpcomingMaintenances,
        Endpoint::ActiveMaintenances,
    ];

    /// The route.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Summary => "/api/v2/summary.json",
            Endpoint::Status => "/api/v2/status.json",
            Endpoint::Components => "/api/v2/components.json",
            Endpoint::Incidents => "/api/v2/incidents.json",
            Endpoint::Unresolved => "/api/v2/incidents/unresolved.json",
            Endpoint::ScheduledMaintenances => "/api/v2/scheduled-maintenances.json",
            Endpoint::UpcomingMaintenances => "/api/v2/scheduled-maintenances/upcoming.json",
            Endpoint::ActiveMaintenances => "/api/v2/scheduled-maintenances/active.json",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn document(self, docs: &Documents) -> &[u8] {
        match self {
            Endpoint::Summary => &docs.summary,
            Endpoint::Status => &docs.status,
            Endpoint::Components => &docs.components,
            Endpoint::Incidents => &docs.incidents,
            Endpoint::Unresolved => &docs.unresolved,
            Endpoint::ScheduledMaintenances => &docs.scheduled_maintenances,
            Endpoint::UpcomingMaintenances => &docs.upcoming_maintenances,
            Endpoint::ActiveMaintenances => &docs.active_maintenances,
        }
    }
}

/// One endpoint's body in every encoding we serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub plain: axum::body::Bytes,
    pub gzip: axum::body::Bytes,
    pub brotli: axum::body::Bytes,
    /// Hex SHA-256 prefix of the plain bytes (without quotes); encoded variants append
    /// `-gzip` / `-br` so each representation has its own strong validator.
    pub tag: String,
    /// As an HTTP date.
    pub last_modified: String,
}

impl Body {
    /// Prepares `plain` in every encoding; `at` becomes its Last-Modified.
    pub fn new(plain: &[u8], at: Timestamp) -> std::io::Result<Body> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(plain)?;
        let gzip = gz.finish()?;
        let mut br = Vec::new();
        {
            let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
            w.write_all(plain)?;
            w.flush()?;
        }
        let digest = Sha256::digest(plain);
        let tag = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        Ok(Body {
            plain: plain.to_vec().into(),
            gzip: gzip.into(),
            brotli: br.into(),
            tag,
            last_modified: http_date(at),
        })
    }
}

/// `t` as an IMF-fixdate (`Sun, 22 Nov 2026 06:12:00 GMT`).
pub fn http_date(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Every endpoint's body.
#[derive(Debug, Clone)]
pub struct Snapshot {
    bodies: Vec<Arc<Body>>,
}

impl Snapshot {
    /// The body of `endpoint`.
    pub fn body(&self, endpoint: Endpoint) -> Option<&Arc<Body>> {
        self.bodies.get(endpoint.index())
    }

    /// The snapshot of `docs` built at `at`, reusing the bodies of `previous` whose bytes did
    /// not change (same ETag, same Last-Modified).
    pub fn build(
        docs: &Documents,
        at: Timestamp,
        previous: Option<&Snapshot>,
    ) -> std::io::Result<Snapshot> {
        let mut bodies = Vec::with_capacity(Endpoint::ALL.len());
        for endpoint in Endpoint::ALL {
            let plain = endpoint.document(docs);
            let kept = previous
                .and_then(|p| p.body(endpoint))
                .filter(|b| b.plain.as_ref() == plain);
            bodies.push(match kept {
                Some(b) => Arc::clone(b),
                None => Arc::new(Body::new(plain, at)?),
            });
        }
        Ok(Snapshot { bodies })
    }
}

/// The shared cell holding the current snapshot. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCell {
    current: Arc<RwLock<Option<Arc<Snapshot>>>>,
}

impl SnapshotCell {
    /// The current snapshot, if one was built.
    pub fn get(&self) -> Option<Arc<Snapshot>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the current snapshot.
    pub fn set(&self, snapshot: Arc<Snapshot>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
    }
}
