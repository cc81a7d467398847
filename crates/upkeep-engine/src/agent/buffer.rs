//! The agent's durable buffer: results wait here, in batches, until the server took them.
//!
//! - Each batch is one file, `batch-SEQ-COUNT.json` (SEQ zero-padded, so names sort in send
//!   order), written to a temporary name, flushed to disk (`fsync`), renamed into place and
//!   the directory flushed: a crash leaves either the whole batch or none of it (a left-over
//!   temporary file is removed at start).
//! - `state.json` (written the same way) keeps the next sequence number and the running total
//!   of results dropped. A sequence number is taken (and the state written) before its batch
//!   is, so none is ever used twice; at start the next one is at least the current time in
//!   microseconds, so a wiped directory does not reuse the numbers of an earlier one.
//! - Bounds: batches sealed more than `max_age` ago, and the oldest batches beyond `max_bytes`
//!   in all, are dropped (oldest first), logged and counted (`dropped`, sent with each batch).
//! - A batch file is deleted only once the server answered 2xx for it (stored, or stored
//!   before).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use upkeep_domain::agent::AgentResult;

/// A sealed batch as stored in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBatch {
    pub seq: u64,
    /// The location it was probed from.
    pub location: String,
    pub results: Vec<AgentResult>,
}

/// A batch file waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub seq: u64,
    pub results: u64,
    pub path: PathBuf,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    next_seq: u64,
    dropped: u64,
}

/// A batch file as the buffer's index knows it.
#[derive(Debug, Clone)]
struct Entry {
    pending: Pending,
    bytes: u64,
    sealed: SystemTime,
}

/// The buffer in its directory, with an index of its batch files (read once at start, then
/// kept in step with every change, so a long outage's thousands of files are not listed again
/// at each batch).
#[derive(Debug)]
pub struct Buffer {
    dir: PathBuf,
    state: State,
    max_bytes: u64,
    max_age: Duration,
    files: BTreeMap<u64, Entry>,
    total_bytes: u64,
}

fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!("tmp-{name}"));
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, dir.join(name))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// `batch-SEQ-COUNT.json` → (seq, count).
fn parse_name(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix("batch-")?.strip_suffix(".json")?;
    let (seq, count) = rest.split_once('-')?;
    Some((seq.parse().ok()?, count.parse().ok()?))
}

impl Buffer {
    /// Opens (creating it, readable by its owner only) the buffer in `dir`; `now_micros` is
    /// the current time in microseconds since the epoch.
    pub fn open(
        dir: &Path,
        max_bytes: u64,
        max_age: Duration,
        now_micros: u64,
    ) -> std::io::Result<Buffer> {
        fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        }
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().starts_with("tmp-") {
                fs::remove_file(entry.path())?;
            }
        }
        let state: State = match fs::read(dir.join("state.json")) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(e),
        };
        let mut buffer = Buffer {
            dir: dir.to_owned(),
            state,
            max_bytes,
            max_age,
            files: BTreeMap::new(),
            total_bytes: 0,
        };
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if let Some((seq, results)) = parse_name(&name.to_string_lossy()) {
                let meta = entry.metadata()?;
                buffer.index(
                    Pending {
                        seq,
                        results,
                        path: entry.path(),
                    },
                    meta.len(),
                    meta.modified().unwrap_or_else(|_| SystemTime::now()),
                );
            }
        }
        let after_files = buffer
            .files
            .keys()
            .next_back()
            .map_or(0, |seq| seq.saturating_add(1));
        buffer.state.next_seq = buffer.state.next_seq.max(after_files).max(now_micros);
        buffer.save_state()?;
        Ok(buffer)
    }

    fn index(&mut self, pending: Pending, bytes: u64, sealed: SystemTime) {
        self.total_bytes = self.total_bytes.saturating_add(bytes);
        if let Some(old) = self.files.insert(
            pending.seq,
            Entry {
                pending,
                bytes,
                sealed,
            },
        ) {
            self.total_bytes = self.total_bytes.saturating_sub(old.bytes);
        }
    }

    fn unindex(&mut self, seq: u64) {
        if let Some(old) = self.files.remove(&seq) {
            self.total_bytes = self.total_bytes.saturating_sub(old.bytes);
        }
    }

    fn save_state(&self) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&self.state).map_err(std::io::Error::other)?;
        write_atomically(&self.dir, "state.json", &bytes)
    }

    /// Results dropped so far (the buffer's bounds), a running total.
    pub fn dropped(&self) -> u64 {
        self.state.dropped
    }

    /// Takes the next sequence number, durably.
    pub fn take_seq(&mut self) -> std::io::Result<u64> {
        let seq = self.state.next_seq;
        self.state.next_seq = seq.saturating_add(1);
        self.save_state()?;
        Ok(seq)
    }

    /// Seals `results` into a new batch file, then applies the bounds.
    pub fn seal(&mut self, location: &str, results: Vec<AgentResult>) -> std::io::Result<u64> {
        let seq = self.take_seq()?;
        let count = results.len();
        let batch = StoredBatch {
            seq,
            location: location.to_owned(),
            results,
        };
        let bytes = serde_json::to_vec(&batch).map_err(std::io::Error::other)?;
        let name = format!("batch-{seq:020}-{count}.json");
        write_atomically(&self.dir, &name, &bytes)?;
        let now = SystemTime::now();
        self.index(
            Pending {
                seq,
                results: count as u64,
                path: self.dir.join(name),
            },
            bytes.len() as u64,
            now,
        );
        self.enforce_bounds(now)?;
        Ok(seq)
    }

    /// The batch files waiting, oldest first.
    pub fn pending(&self) -> Vec<Pending> {
        self.files.values().map(|e| e.pending.clone()).collect()
    }

    /// The oldest batch file waiting.
    pub fn first(&self) -> Option<Pending> {
        self.files.values().next().map(|e| e.pending.clone())
    }

    /// How many batch files wait.
    pub fn waiting(&self) -> usize {
        self.files.len()
    }

    /// Reads a batch file; `None` when it is unreadable (it is then set aside, and counted).
    pub fn read(&mut self, pending: &Pending) -> std::io::Result<Option<StoredBatch>> {
        let bytes = fs::read(&pending.path)?;
        match serde_json::from_slice(&bytes) {
            Ok(batch) => Ok(Some(batch)),
            Err(e) => {
                tracing::error!(file = %pending.path.display(), error = %e, "probe agent: a buffered batch cannot be read; it is set aside");
                self.set_aside(pending)?;
                Ok(None)
            }
        }
    }

    /// Deletes a batch the server took.
    pub fn remove(&mut self, pending: &Pending) -> std::io::Result<()> {
        fs::remove_file(&pending.path)?;
        self.unindex(pending.seq);
        sync_dir(&self.dir)
    }

    /// Replaces a batch's results (the same sequence number), as one atomic write.
    pub fn rewrite(&mut self, pending: &Pending, batch: &StoredBatch) -> std::io::Result<Pending> {
        let bytes = serde_json::to_vec(batch).map_err(std::io::Error::other)?;
        let name = format!("batch-{:020}-{}.json", batch.seq, batch.results.len());
        write_atomically(&self.dir, &name, &bytes)?;
        let path = self.dir.join(&name);
        if path != pending.path {
            fs::remove_file(&pending.path)?;
            sync_dir(&self.dir)?;
        }
        let sealed = self
            .files
            .get(&pending.seq)
            .map_or_else(SystemTime::now, |e| e.sealed);
        let rewritten = Pending {
            seq: batch.seq,
            results: batch.results.len() as u64,
            path,
        };
        self.unindex(pending.seq);
        self.index(rewritten.clone(), bytes.len() as u64, sealed);
        Ok(rewritten)
    }

    /// Moves a batch the server refused for good out of the queue (kept as `rejected-*` for
    /// its operator), counting its results as dropped.
    pub fn set_aside(&mut self, pending: &Pending) -> std::io::Result<()> {
        let name = pending
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        fs::rename(&pending.path, self.dir.join(format!("rejected-{name}")))?;
        self.unindex(pending.seq);
        self.count_dropped(pending.results)
    }

    fn count_dropped(&mut self, results: u64) -> std::io::Result<()> {
        self.state.dropped = self.state.dropped.saturating_add(results);
        self.save_state()
    }

    /// Drops batches sealed more than `max_age` before `now`, then the oldest beyond
    /// `max_bytes`; logs and counts what it dropped.
    pub fn enforce_bounds(&mut self, now: SystemTime) -> std::io::Result<()> {
        let mut dropped = 0u64;
        let mut files = 0usize;
        while let Some(oldest) = self.files.values().next().cloned() {
            let old = now.duration_since(oldest.sealed).unwrap_or_default() > self.max_age;
            if !old && self.total_bytes <= self.max_bytes {
                break;
            }
            fs::remove_file(&oldest.pending.path)?;
            self.unindex(oldest.pending.seq);
            dropped = dropped.saturating_add(oldest.pending.results);
            files += 1;
        }
        if files > 0 {
            sync_dir(&self.dir)?;
            tracing::warn!(
                batches = files,
                results = dropped,
                "probe agent: buffered results dropped, oldest first (the buffer keeps at most {} bytes, {}s)",
                self.max_bytes,
                self.max_age.as_secs()
            );
            self.count_dropped(dropped)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn result(n: i64) -> AgentResult {
        AgentResult {
            monitor: "api".into(),
            at: jiff::Timestamp::from_millisecond(1_780_000_000_000 + n).unwrap(),
            ok: true,
            latency_ms: 3,
            status_code: Some(200),
            failure: None,
        }
    }

    #[test]
    fn batches_survive_reopening_in_order_and_seqs_are_never_reused() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 5).unwrap();
        let first = b.seal("eu-1", vec![result(1)]).unwrap();
        let second = b.seal("eu-1", vec![result(2), result(3)]).unwrap();
        assert_eq!((first, second), (5, 6));
        std::fs::write(dir.path().join("tmp-batch-x"), b"half").unwrap();
        drop(b);
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 0).unwrap();
        assert!(!dir.path().join("tmp-batch-x").exists());
        let pending = b.pending();
        assert_eq!(
            pending
                .iter()
                .map(|p| (p.seq, p.results))
                .collect::<Vec<_>>(),
            [(5, 1), (6, 2)]
        );
        assert_eq!(b.read(&pending[1]).unwrap().unwrap().results.len(), 2);
        b.remove(&pending[0]).unwrap();
        assert_eq!(b.take_seq().unwrap(), 7);
        drop(b);
        // Every number taken stays taken, even after its batch was sent and deleted.
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 0).unwrap();
        assert_eq!(b.take_seq().unwrap(), 8);
    }

    #[test]
    fn the_oldest_batches_beyond_the_bounds_are_dropped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 700, Duration::from_secs(3600), 1).unwrap();
        for n in 0..5 {
            b.seal("eu-1", vec![result(n), result(n + 1)]).unwrap();
        }
        let left: Vec<u64> = b.pending().iter().map(|p| p.seq).collect();
        assert!(left.len() < 5 && !left.is_empty(), "{left:?}");
        assert_eq!(*left.last().unwrap(), 5, "the newest stays: {left:?}");
        assert_eq!(b.dropped(), 2 * (5 - left.len() as u64));
        // Age: an hour later everything is dropped.
        b.enforce_bounds(SystemTime::now() + Duration::from_secs(3601))
            .unwrap();
        assert!(b.pending().is_empty());
        assert_eq!(b.dropped(), 10);
    }
}
