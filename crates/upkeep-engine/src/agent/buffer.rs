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
//!   before). One the server refused for its content is moved to `rejected/` (the newest
//!   [`REJECTED_KEPT`] are kept there for the operator); one too large for the server is
//!   split in halves; after a conflict of numbers (another batch was stored under one) the
//!   waiting batches are numbered again from the server's next free number.
//! - A split is safe to interrupt: the second half's number is reserved in the batch's own
//!   file first, and a batch that carries such a number is never sent, only split again
//!   ([`StoredBatch::split_interrupted`]), which writes the same halves under the same numbers
//!   (the server takes a batch it already holds as a duplicate). Of two files of one number (a
//!   crash between writing the first half and removing the whole) the one with fewer results
//!   is the later and is kept.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use upkeep_domain::agent::AgentResult;

/// The directory (inside the buffer's) of the batches the server refused.
pub const REJECTED_DIR: &str = "rejected";
/// How many refused batches `rejected/` keeps (the newest).
pub const REJECTED_KEPT: usize = 100;

/// A sealed batch as stored in its file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredBatch {
    pub seq: u64,
    /// The location it was probed from.
    pub location: String,
    pub results: Vec<AgentResult>,
    /// The number reserved for this batch's second half by a split that has begun
    /// ([`Buffer::split`]); never sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_seq: Option<u64>,
}

impl StoredBatch {
    /// Whether a split of this batch began and was stopped (a crash): it is to be split again
    /// before anything is sent, since its second half may already wait under its reserved
    /// number, and sending the whole batch would send that half twice.
    pub fn split_interrupted(&self) -> bool {
        self.split_seq.is_some()
    }
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
                // Two files of one number: a split stopped between writing the first half
                // and removing the whole batch. The first half (fewer results) is the later.
                if let Some(other) = buffer.files.get(&seq).map(|e| e.pending.clone()) {
                    let stale = if other.results <= results {
                        entry.path()
                    } else {
                        buffer.unindex(seq);
                        other.path
                    };
                    fs::remove_file(&stale)?;
                    if stale == entry.path() {
                        continue;
                    }
                }
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

    /// Takes the next sequence number for a heartbeat, without writing the state: an empty
    /// batch has the same content as every other, so a number used twice for one is a
    /// duplicate to the server, and the numbers at start are at least the current time in
    /// microseconds anyway. So a heartbeat writes nothing to disk (and still goes while the
    /// disk cannot be written).
    pub fn heartbeat_seq(&mut self) -> u64 {
        let seq = self.state.next_seq;
        self.state.next_seq = seq.saturating_add(1);
        seq
    }

    /// Seals `results` into a new batch file, then applies the bounds.
    pub fn seal(&mut self, location: &str, results: Vec<AgentResult>) -> std::io::Result<u64> {
        let seq = self.take_seq()?;
        let batch = StoredBatch {
            seq,
            location: location.to_owned(),
            results,
            split_seq: None,
        };
        let now = SystemTime::now();
        self.write_batch(&batch, now)?;
        // The batch is written: bounds not applied now are applied at the next seal.
        if let Err(e) = self.enforce_bounds(now) {
            tracing::warn!(error = %e, "probe agent: the buffer's bounds could not be applied");
        }
        Ok(seq)
    }

    /// Writes a batch's file (atomically) and indexes it, replacing the entry of its number.
    fn write_batch(&mut self, batch: &StoredBatch, sealed: SystemTime) -> std::io::Result<Pending> {
        let bytes = serde_json::to_vec(batch).map_err(std::io::Error::other)?;
        let name = format!("batch-{:020}-{}.json", batch.seq, batch.results.len());
        write_atomically(&self.dir, &name, &bytes)?;
        let pending = Pending {
            seq: batch.seq,
            results: batch.results.len() as u64,
            path: self.dir.join(name),
        };
        self.index(pending.clone(), bytes.len() as u64, sealed);
        Ok(pending)
    }

    /// When a waiting batch was sealed (now, if it is not known).
    fn sealed_at(&self, seq: u64) -> SystemTime {
        self.files
            .get(&seq)
            .map_or_else(SystemTime::now, |e| e.sealed)
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

    /// Reads a batch file; `None` when it is unreadable (it is then set aside, and counted)
    /// or gone (the directory was emptied under the agent: forgotten, and counted).
    pub fn read(&mut self, pending: &Pending) -> std::io::Result<Option<StoredBatch>> {
        let bytes = match fs::read(&pending.path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(file = %pending.path.display(), "probe agent: a buffered batch is gone from the data directory; its results are lost");
                self.unindex(pending.seq);
                self.count_dropped(pending.results)?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
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
        match fs::remove_file(&pending.path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        self.unindex(pending.seq);
        sync_dir(&self.dir)
    }

    /// Replaces a batch's file by `batch` (its results, or its number), as one atomic write
    /// followed by the removal of the old file when its name changed.
    pub fn rewrite(&mut self, pending: &Pending, batch: &StoredBatch) -> std::io::Result<Pending> {
        let sealed = self.sealed_at(pending.seq);
        let rewritten = self.write_batch(batch, sealed)?;
        if rewritten.path != pending.path {
            fs::remove_file(&pending.path)?;
            if pending.seq != batch.seq {
                self.unindex(pending.seq);
            }
            sync_dir(&self.dir)?;
        }
        Ok(rewritten)
    }

    /// Splits a batch too large for the server in halves, in three atomic steps: a new
    /// number for the second half is reserved in the batch's own file (unless an earlier,
    /// interrupted split reserved one), the second half is written under it (sent after the
    /// batches already waiting), then the first half replaces the batch. Interrupted at any
    /// point and done again, it writes the same files: no result is lost or sent under two
    /// numbers.
    pub fn split(&mut self, pending: &Pending, batch: &StoredBatch) -> std::io::Result<()> {
        let (first, second) = batch.results.split_at(batch.results.len().div_ceil(2));
        let sealed = self.sealed_at(pending.seq);
        let second_seq = match batch.split_seq {
            Some(seq) => seq,
            None => {
                let seq = self.take_seq()?;
                // Same number and count: the file is replaced in place.
                self.write_batch(
                    &StoredBatch {
                        split_seq: Some(seq),
                        ..batch.clone()
                    },
                    sealed,
                )?;
                seq
            }
        };
        self.write_batch(
            &StoredBatch {
                seq: second_seq,
                location: batch.location.clone(),
                results: second.to_vec(),
                split_seq: None,
            },
            sealed,
        )?;
        self.rewrite(
            pending,
            &StoredBatch {
                seq: batch.seq,
                location: batch.location.clone(),
                results: first.to_vec(),
                split_seq: None,
            },
        )?;
        Ok(())
    }

    /// Deletes a batch the server will never take (a single result too large for it),
    /// counting its results as dropped.
    pub fn drop_batch(&mut self, pending: &Pending) -> std::io::Result<()> {
        self.remove(pending)?;
        self.count_dropped(pending.results)
    }

    /// Numbers the waiting batches again, in order, from `from` (the server's next free
    /// number for this agent) or the buffer's own next number, whichever is higher, so that
    /// none is a number used before. The next number is written first: a crash midway leaves
    /// batches under old numbers, which the server refuses again the same way.
    pub fn renumber(&mut self, from: u64) -> std::io::Result<()> {
        let base = from.max(self.state.next_seq);
        let waiting = self.pending();
        self.state.next_seq = base.saturating_add(waiting.len() as u64);
        self.save_state()?;
        let new_seq: BTreeMap<u64, u64> = waiting.iter().map(|p| p.seq).zip(base..).collect();
        for (seq, pending) in (base..).zip(&waiting) {
            let Some(mut batch) = self.read(pending)? else {
                continue;
            };
            batch.seq = seq;
            // An interrupted split's second half moves with it; one not written yet is
            // reserved again when the split is done again.
            batch.split_seq = batch.split_seq.and_then(|s| new_seq.get(&s).copied());
            self.rewrite(pending, &batch)?;
        }
        Ok(())
    }

    /// Moves a batch the server refused for good out of the queue, into `rejected/` (which
    /// keeps the newest [`REJECTED_KEPT`]), counting its results as dropped.
    pub fn set_aside(&mut self, pending: &Pending) -> std::io::Result<()> {
        let dir = self.dir.join(REJECTED_DIR);
        fs::create_dir_all(&dir)?;
        let name = pending
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        fs::rename(&pending.path, dir.join(name))?;
        self.unindex(pending.seq);
        sync_dir(&self.dir)?;
        let mut kept: Vec<PathBuf> = fs::read_dir(&dir)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        kept.sort();
        for old in &kept[..kept.len().saturating_sub(REJECTED_KEPT)] {
            fs::remove_file(old)?;
        }
        self.count_dropped(pending.results)
    }

    /// Adds `results` to the running total of results dropped, and writes the state (when
    /// that fails, the total is kept in memory and written with the next state).
    pub fn count_dropped(&mut self, results: u64) -> std::io::Result<()> {
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
            match fs::remove_file(&oldest.pending.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
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
            round: None,
        }
    }

    fn seqs(b: &Buffer) -> Vec<(u64, u64)> {
        b.pending().iter().map(|p| (p.seq, p.results)).collect()
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

    #[test]
    fn a_batch_too_large_is_split_in_halves_and_a_single_result_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 10).unwrap();
        b.seal("eu-1", (0..5).map(result).collect()).unwrap();
        b.seal("eu-1", vec![result(9)]).unwrap();
        let first = b.first().unwrap();
        let stored = b.read(&first).unwrap().unwrap();
        b.split(&first, &stored).unwrap();
        assert_eq!(seqs(&b), [(10, 3), (11, 1), (12, 2)]);
        let halves: Vec<AgentResult> = [10, 12]
            .iter()
            .flat_map(|seq| {
                let p = b.pending().into_iter().find(|p| p.seq == *seq).unwrap();
                b.read(&p).unwrap().unwrap().results
            })
            .collect();
        assert_eq!(halves, stored.results, "nothing lost, nothing twice");
        let single = b.pending().into_iter().find(|p| p.seq == 11).unwrap();
        b.drop_batch(&single).unwrap();
        assert_eq!(b.dropped(), 1);
        drop(b);
        let b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 0).unwrap();
        assert_eq!(seqs(&b), [(10, 3), (12, 2)]);
    }

    /// Sends every waiting batch, as the agent's sender does, to a server that takes at most
    /// `limit` results a batch (413 otherwise: the batch is split) and each number once (a
    /// number sent again must carry the same results); returns what the server holds.
    fn drain(b: &mut Buffer, server: &mut BTreeMap<u64, Vec<AgentResult>>, limit: usize) {
        while let Some(p) = b.first() {
            let batch = b.read(&p).unwrap().unwrap();
            if batch.split_interrupted() || batch.results.len() > limit {
                b.split(&p, &batch).unwrap();
                continue;
            }
            match server.get(&batch.seq) {
                Some(held) => assert_eq!(held, &batch.results, "number {} reused", batch.seq),
                None => {
                    server.insert(batch.seq, batch.results.clone());
                }
            }
            b.remove(&p).unwrap();
        }
    }

    #[test]
    fn a_split_stopped_after_any_of_its_writes_stores_every_result_once() {
        // The server still refuses the whole batch after the restart, or now takes it.
        for (step, limit) in (0..=3).flat_map(|step| [(step, 2), (step, usize::MAX)]) {
            let dir = tempfile::tempdir().unwrap();
            let open = |now| Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), now);
            let mut b = open(10).unwrap();
            let mut sealed: Vec<AgentResult> = (0..5).map(result).collect();
            b.seal("eu-1", sealed.clone()).unwrap();
            b.seal("eu-1", vec![result(9)]).unwrap();
            sealed.push(result(9));
            let whole = b.first().unwrap();
            let batch = b.read(&whole).unwrap().unwrap();
            // The files a split leaves when the process dies after `step` of its writes.
            let now = SystemTime::now();
            let part = |seq, results: &[AgentResult]| StoredBatch {
                seq,
                location: "eu-1".into(),
                results: results.to_vec(),
                split_seq: None,
            };
            if step >= 1 {
                let reserved = b.take_seq().unwrap();
                let marked = StoredBatch {
                    split_seq: Some(reserved),
                    ..batch.clone()
                };
                b.write_batch(&marked, now).unwrap();
                if step >= 2 {
                    b.write_batch(&part(reserved, &batch.results[3..]), now)
                        .unwrap();
                }
                if step >= 3 {
                    b.write_batch(&part(batch.seq, &batch.results[..3]), now)
                        .unwrap();
                }
            }
            drop(b);
            let mut server = BTreeMap::new();
            let mut b = open(0).unwrap();
            if step == 3 {
                // Of the two files of the batch's number, the first half (the later) is kept.
                let files = fs::read_dir(dir.path())
                    .unwrap()
                    .filter_map(Result::ok)
                    .filter_map(|e| parse_name(&e.file_name().to_string_lossy()))
                    .filter(|(seq, _)| *seq == batch.seq)
                    .collect::<Vec<_>>();
                assert_eq!(files, [(batch.seq, 3)]);
                assert_eq!(seqs(&b)[0], (batch.seq, 3));
            }
            drain(&mut b, &mut server, limit);
            drop(b);
            // Nothing is left to send after a restart either.
            let mut b = open(0).unwrap();
            assert!(
                b.pending().is_empty(),
                "step {step}, limit {limit}: {:?}",
                seqs(&b)
            );
            drain(&mut b, &mut server, limit);
            let mut stored: Vec<AgentResult> = server.into_values().flatten().collect();
            stored.sort_by_key(|r| r.at);
            assert_eq!(
                stored, sealed,
                "step {step}, limit {limit}: every result once"
            );
        }
    }

    #[test]
    fn renumbering_keeps_an_interrupted_splits_second_half() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 10).unwrap();
        b.seal("eu-1", (0..4).map(result).collect()).unwrap();
        let whole = b.first().unwrap();
        let batch = b.read(&whole).unwrap().unwrap();
        let reserved = b.take_seq().unwrap();
        let now = SystemTime::now();
        b.write_batch(
            &StoredBatch {
                split_seq: Some(reserved),
                ..batch.clone()
            },
            now,
        )
        .unwrap();
        b.write_batch(
            &StoredBatch {
                seq: reserved,
                location: "eu-1".into(),
                results: batch.results[2..].to_vec(),
                split_seq: None,
            },
            now,
        )
        .unwrap();
        b.renumber(100).unwrap();
        assert_eq!(seqs(&b), [(100, 4), (101, 2)]);
        let whole = b.first().unwrap();
        let batch = b.read(&whole).unwrap().unwrap();
        assert_eq!(batch.split_seq, Some(101), "the half moved with the batch");
        b.split(&whole, &batch).unwrap();
        assert_eq!(
            seqs(&b),
            [(100, 2), (101, 2)],
            "the half is not written twice"
        );
    }

    #[test]
    fn waiting_batches_are_numbered_again_from_the_servers_next_free_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 10).unwrap();
        b.seal("eu-1", vec![result(1)]).unwrap();
        b.seal("eu-1", vec![result(2), result(3)]).unwrap();
        assert_eq!(b.heartbeat_seq(), 12);
        b.renumber(500).unwrap();
        assert_eq!(seqs(&b), [(500, 1), (501, 2)]);
        let p = b.first().unwrap();
        assert_eq!(b.read(&p).unwrap().unwrap().results, vec![result(1)]);
        // Never below the buffer's own next number.
        b.renumber(7).unwrap();
        assert_eq!(seqs(&b), [(502, 1), (503, 2)]);
        assert_eq!(b.take_seq().unwrap(), 504);
        drop(b);
        let mut b = Buffer::open(dir.path(), 1 << 20, Duration::from_secs(3600), 0).unwrap();
        assert_eq!(seqs(&b), [(502, 1), (503, 2)]);
        assert_eq!(b.take_seq().unwrap(), 505);
    }

    #[test]
    fn refused_batches_are_kept_aside_and_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = Buffer::open(dir.path(), 1 << 22, Duration::from_secs(3600), 1).unwrap();
        for n in 0..(REJECTED_KEPT as i64 + 3) {
            b.seal("eu-1", vec![result(n)]).unwrap();
            let p = b.first().unwrap();
            b.set_aside(&p).unwrap();
        }
        assert!(b.pending().is_empty());
        assert_eq!(b.dropped(), REJECTED_KEPT as u64 + 3);
        let mut kept: Vec<String> = std::fs::read_dir(dir.path().join(REJECTED_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        kept.sort();
        assert_eq!(kept.len(), REJECTED_KEPT);
        assert_eq!(
            kept[0],
            format!("batch-{:020}-1.json", 4),
            "the oldest went first"
        );
        drop(b);
        // The directory of refused batches is not a batch.
        let b = Buffer::open(dir.path(), 1 << 22, Duration::from_secs(3600), 0).unwrap();
        assert!(b.pending().is_empty());
    }
}
