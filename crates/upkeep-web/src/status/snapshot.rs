//! The in-memory snapshot the public status is served from: every page's, feed's, badge's and
//! JSON document's body prepared once per rebuild, plain, gzip and brotli, with a strong ETag
//! and a Last-Modified, and the [`Model`] they were rendered from.
//!
//! A rebuild that produces the same plain bytes for a path keeps the old body, so its ETag and
//! Last-Modified do not move and clients' conditional requests keep answering 304.
//! Readers take an `Arc` of the current snapshot under a short read lock and never wait for a
//! rebuild.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, RwLock};

use axum::http::{HeaderMap, HeaderValue, header};
use jiff::Timestamp;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, Notify};

use super::model::Model;
use super::uptime::History;

/// The Statuspage v2 JSON endpoints.
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

    /// The document of this endpoint among `docs`.
    pub fn document(self, docs: &super::statuspage::Documents) -> &[u8] {
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

/// One rendered resource: its path, media type and plain bytes.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub path: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
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
    /// The media type.
    pub content_type: &'static str,
    /// The header values that describe this body, made once so that serving it builds none.
    pub headers: BodyHeaders,
    /// `plain` in a sealed file, for the large bodies of the snapshot's fixed paths: the fast
    /// path sends them from there ([`crate::body_file`]). Other bodies have none.
    pub file: Option<std::sync::Arc<crate::body_file::BodyFile>>,
}

/// A [`Body`]'s answers' headers, made once so that serving it builds none: for each
/// representation (by [`super::Coding::index`]: identity, gzip, br) the headers of a `200` and
/// of a `304`, the security headers ([`crate::SECURITY_HEADERS`]) and the pages' short
/// `Cache-Control` included; only the stylesheet's answers replace that (`super::send`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyHeaders {
    /// The strong ETag of each representation.
    pub etags: [HeaderValue; 3],
    pub ok: [HeaderMap; 3],
    pub not_modified: [HeaderMap; 3],
    /// `ok` and `not_modified` as the lines of an HTTP/1.1 head, for answers written without
    /// the HTTP stack ([`crate::wire`]).
    pub wire_ok: [axum::body::Bytes; 3],
    pub wire_not_modified: [axum::body::Bytes; 3],
}

impl BodyHeaders {
    fn new(tag: &str, last_modified: &str, content_type: &'static str) -> std::io::Result<Self> {
        let value = |text: String| HeaderValue::try_from(text).map_err(std::io::Error::other);
        let etags = [
            value(format!("\"{tag}\""))?,
            value(format!("\"{tag}-gzip\""))?,
            value(format!("\"{tag}-br\""))?,
        ];
        let last_modified = value(last_modified.to_owned())?;
        let encodings = [None, Some("gzip"), Some("br")];
        let not_modified = std::array::from_fn(|i| {
            let mut headers = HeaderMap::with_capacity(16);
            headers.insert(header::LAST_MODIFIED, last_modified.clone());
            headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
            headers.insert(header::ETAG, etags[i].clone());
            headers.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(super::CACHE_CONTROL),
            );
            crate::security_headers(&mut headers);
            headers
        });
        let ok = std::array::from_fn(|i| {
            let mut headers: HeaderMap = not_modified[i].clone();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Some(encoding) = encodings[i] {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            headers
        });
        let wire = |headers: &HeaderMap| {
            let mut lines = Vec::with_capacity(512);
            crate::wire::header_lines(headers, &mut lines);
            axum::body::Bytes::from(lines)
        };
        Ok(Self {
            wire_ok: std::array::from_fn(|i| wire(&ok[i])),
            wire_not_modified: std::array::from_fn(|i| wire(&not_modified[i])),
            etags,
            ok,
            not_modified,
        })
    }
}

/// `plain` gzip-compressed at `level`.
pub fn gzip(plain: &[u8], level: u32) -> std::io::Result<Vec<u8>> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
    gz.write_all(plain)?;
    gz.finish()
}

/// `plain` brotli-compressed at `quality`, with the smallest window that holds it (at most 22
/// bits). A window larger than the body gains nothing, and the encoder's tables grow with it:
/// at quality 11 a 22-bit window costs 34 MB of zeroed memory for each body, however small.
pub fn brotli(plain: &[u8], quality: u32) -> std::io::Result<Vec<u8>> {
    let mut br = Vec::new();
    {
        let mut w =
            brotli::CompressorWriter::new(&mut br, 4096, quality, brotli_window(plain.len()));
        w.write_all(plain)?;
        w.flush()?;
    }
    Ok(br)
}

/// Bits of the smallest brotli window that holds `len` bytes (a window of `b` bits holds
/// 2^b − 16), within brotli's 10 to the 22 used here.
fn brotli_window(len: usize) -> u32 {
    let needed = len.saturating_add(16).saturating_sub(1);
    (usize::BITS - needed.leading_zeros()).clamp(10, 22)
}

/// Brotli quality of the bodies rendered on request (gzip level [`ON_REQUEST_GZIP`]): most of
/// the gain of the best levels for a small part of their time. Snapshot bodies, prepared once
/// per rebuild and served many times, are compressed at the best levels.
pub const ON_REQUEST_BROTLI: u32 = 5;

/// Snapshot bodies up to this size get brotli's best quality (11); larger ones quality 9.
/// Quality 11 costs ~100× quality 9 for ~1.5 % less: on a 2 MB page (200 components with
/// their 90-day bars) 4.5 s against 0.2 s, 14.6 KB against 14.8 KB — seconds of CPU on every
/// rebuild, and a first page that waits for them. Up to 64 KiB it is a few milliseconds.
pub const BEST_BROTLI_UP_TO: usize = 64 * 1024;
/// Gzip level of the bodies rendered on request.
pub const ON_REQUEST_GZIP: u32 = 6;

/// Most pages rendered on request a snapshot keeps; past it, one is dropped for each new one.
pub const MAX_ON_REQUEST: usize = 1024;

impl Body {
    /// Prepares `plain` in every encoding at the best levels (brotli 9 past
    /// [`BEST_BROTLI_UP_TO`]); `at` becomes its Last-Modified.
    pub fn new(plain: &[u8], content_type: &'static str, at: Timestamp) -> std::io::Result<Body> {
        let brotli = if plain.len() <= BEST_BROTLI_UP_TO {
            11
        } else {
            9
        };
        Self::with_levels(plain, content_type, at, brotli, 9)
    }

    /// This body with its bytes also in a sealed file when it is large enough for one
    /// ([`crate::body_file`]): for the fixed paths, the ones the fast path serves.
    pub fn with_file(mut self) -> Body {
        self.file = crate::body_file::BodyFile::of(&self.plain);
        self
    }

    /// Prepares a body rendered on request ([`ON_REQUEST_BROTLI`], [`ON_REQUEST_GZIP`]); it is
    /// CPU work, to run off the async runtime (`spawn_blocking`).
    pub fn on_request(
        plain: &[u8],
        content_type: &'static str,
        at: Timestamp,
    ) -> std::io::Result<Body> {
        Self::with_levels(plain, content_type, at, ON_REQUEST_BROTLI, ON_REQUEST_GZIP)
    }

    fn with_levels(
        plain: &[u8],
        content_type: &'static str,
        at: Timestamp,
        brotli_quality: u32,
        gzip_level: u32,
    ) -> std::io::Result<Body> {
        let gzip = gzip(plain, gzip_level)?;
        let br = brotli(plain, brotli_quality)?;
        let digest = Sha256::digest(plain);
        let tag: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let last_modified = http_date(at);
        let headers = BodyHeaders::new(&tag, &last_modified, content_type)?;
        Ok(Body {
            plain: plain.to_vec().into(),
            gzip: gzip.into(),
            brotli: br.into(),
            tag,
            last_modified,
            content_type,
            headers,
            file: None,
        })
    }
}

/// `t` as an IMF-fixdate (`Sun, 22 Nov 2026 06:12:00 GMT`).
pub fn http_date(t: Timestamp) -> String {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// Every resource's body, by path, and the model they came from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    bodies: HashMap<String, Arc<Body>>,
    /// The bodies of [`super::fixed_paths`], in its order: found without hashing the path.
    fixed: Vec<Option<Arc<Body>>>,
    /// What the bodies were rendered from (pages rendered on demand use it too).
    pub model: Arc<Model>,
    /// A digest of the inputs; equal inputs are not rendered again.
    pub inputs: u64,
    /// Pages rendered on request from [`Snapshot::model`] (the tenants' pages, the pages of
    /// older incidents and maintenances by revision), kept until the next snapshot replaces
    /// this one.
    on_request: Arc<std::sync::Mutex<HashMap<String, Arc<Body>>>>,
}

impl Snapshot {
    /// The body at `path`.
    pub fn body(&self, path: &str) -> Option<&Arc<Body>> {
        self.bodies.get(path)
    }

    /// The body of the `i`th of [`super::fixed_paths`].
    pub fn fixed_body(&self, i: usize) -> Option<&Arc<Body>> {
        self.fixed.get(i)?.as_ref()
    }

    /// The page at `path` rendered on request from this snapshot, if it was.
    pub fn rendered(&self, path: &str) -> Option<Arc<Body>> {
        self.on_request
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// Keeps `body`, rendered on request from this snapshot, as the page at `path` (at most
    /// [`MAX_ON_REQUEST`] pages: past it, another one is dropped).
    pub fn keep_rendered(&self, path: String, body: Arc<Body>) {
        let mut kept = self.on_request.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= MAX_ON_REQUEST && !kept.contains_key(&path) {
            let dropped = kept.keys().next().cloned();
            if let Some(dropped) = dropped {
                kept.remove(&dropped);
            }
        }
        kept.insert(path, body);
    }

    /// The snapshot of `rendered` built at `at`, reusing the bodies of `previous` whose bytes
    /// did not change (same ETag, same Last-Modified).
    pub fn build(
        rendered: Vec<Rendered>,
        model: Arc<Model>,
        inputs: u64,
        at: Timestamp,
        previous: Option<&Snapshot>,
    ) -> std::io::Result<Snapshot> {
        let mut bodies = HashMap::with_capacity(rendered.len());
        for r in rendered {
            let kept = previous.and_then(|p| p.body(&r.path)).filter(|b| {
                b.plain.as_ref() == r.bytes.as_slice() && b.content_type == r.content_type
            });
            let body = match kept {
                Some(b) => Arc::clone(b),
                None => {
                    let body = Body::new(&r.bytes, r.content_type, at)?;
                    // Only the fixed paths are answered by the fast path, from a file.
                    let fixed = super::fixed_paths().any(|(path, _)| path == r.path);
                    Arc::new(if fixed { body.with_file() } else { body })
                }
            };
            bodies.insert(r.path, body);
        }
        let fixed = super::fixed_paths()
            .map(|(path, _)| bodies.get(path).cloned())
            .collect();
        Ok(Snapshot {
            bodies,
            fixed,
            model,
            inputs,
            on_request: Arc::default(),
        })
    }
}

/// State of the builder: one build at a time, and the uptime history it keeps up to date.
#[derive(Debug, Default)]
pub struct Builder {
    pub history: History,
    /// When the history was last read.
    pub history_at: Option<Timestamp>,
    /// Counts the reads that changed the history.
    pub history_generation: u64,
    /// The maintenances last read (re-read only when the table changed).
    pub maintenances: Option<super::MaintenanceCache>,
    /// The response-time lines the page shows, by component
    /// ([`super::model::shown_latency`]).
    pub latency: super::model::ShownLatency,
    /// When they were last read, and the configuration (its load instant) they were read for.
    pub latency_at: Option<(Timestamp, Timestamp)>,
    /// Counts the reads that changed them.
    pub latency_generation: u64,
}

/// The shared cell holding the current snapshot. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SnapshotCell {
    current: Arc<RwLock<Option<Arc<Snapshot>>>>,
    /// Held while building (so the first requests share one build).
    pub builder: Arc<Mutex<Builder>>,
    changed: Arc<Notify>,
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

    /// Tells the rebuilding task that something shown changed here, so it rebuilds now rather
    /// than at its next poll.
    pub fn poke(&self) {
        self.changed.notify_one();
    }

    /// Waits for [`SnapshotCell::poke`].
    pub async fn poked(&self) {
        self.changed.notified().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use std::io::Read;

    #[test]
    fn the_window_is_the_smallest_that_holds_the_body() {
        for (len, bits) in [
            (0, 10),
            (1_000, 10),
            (1_008, 10),
            (1_009, 11),
            (65_520, 16),
            (65_521, 17),
            (4_194_288, 22),
            (50_000_000, 22),
        ] {
            assert_eq!(brotli_window(len), bits, "{len} bytes");
            if bits < 22 {
                assert!(len <= (1 << bits) - 16, "{len} bytes fit {bits} bits");
            }
        }
    }

    #[test]
    fn bodies_at_every_window_edge_come_back_whole() {
        // Text that repeats from far back, so matches reach across the whole window.
        let text: Vec<u8> = (0..300_000u32)
            .flat_map(|i| format!("<li class=\"d-{}\">{}</li>", i % 7, i % 4_099).into_bytes())
            .collect();
        for bits in [10u32, 11, 16, 17] {
            let edge = (1usize << bits) - 16;
            for len in [edge - 1, edge, edge + 1] {
                let plain = &text[..len];
                for quality in [ON_REQUEST_BROTLI, 9, 11] {
                    let packed = brotli(plain, quality).unwrap();
                    let mut back = Vec::new();
                    brotli::Decompressor::new(packed.as_slice(), 4096)
                        .read_to_end(&mut back)
                        .unwrap();
                    assert!(back == plain, "{len} bytes at quality {quality}");
                }
            }
        }
    }
}
