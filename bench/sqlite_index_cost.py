#!/usr/bin/env python3
"""What a batch of pings costs SQLite by how many keys it spans and how many (key, at) indexes
the pings table has: the write path of `upkeep serve` without the server (BENCHMARKS.md,
"Heartbeat ingestion on SQLite"). WAL, synchronous=FULL, 200,000 pings already stored, then 600
transactions of 70 pings each (the mean batch at 256 connections), keys in rotation.

    python3 bench/sqlite_index_cost.py [DIR]
"""
import glob
import os
import sqlite3
import sys
import tempfile
import time


def run(path, keys, indexes, sync="FULL", commits=600, per=70):
    for f in glob.glob(path + "*"):
        os.remove(f)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(f"PRAGMA synchronous={sync}")
    con.execute(
        "CREATE TABLE pings (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, "
        "at INTEGER NOT NULL, kind TEXT NOT NULL, exit_code INTEGER, rid TEXT, "
        "body TEXT NOT NULL, duration_ms INTEGER, ended_at INTEGER)"
    )
    if indexes >= 1:
        con.execute("CREATE INDEX pings_key_at ON pings (key, at)")
    if indexes >= 2:
        con.execute("CREATE INDEX pings_success ON pings (key, at) WHERE kind = 'success'")
    con.execute(
        "CREATE INDEX pings_open_starts ON pings (key, at) "
        "WHERE kind = 'start' AND ended_at IS NULL"
    )
    at = 1_700_000_000_000
    con.execute("BEGIN")
    con.executemany(
        "INSERT INTO pings (key, at, kind, body) VALUES (?, ?, 'success', '')",
        [(f"bench-{i % keys}", at + i) for i in range(200_000)],
    )
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    at += 200_000
    k = 0
    began = time.perf_counter()
    for _ in range(commits):
        rows = []
        for _ in range(per):
            k = (k + 1) % keys
            at += 1
            rows.append((f"bench-{k}", at))
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO pings (key, at, kind, body) VALUES (?, ?, 'success', '')", rows)
        con.execute("COMMIT")
    spent = time.perf_counter() - began
    con.close()
    print(
        f"keys {keys:5}  (key, at) indexes {indexes}  synchronous {sync:4}: "
        f"{spent / commits * 1000:.2f} ms a commit, {commits * per / spent:,.0f} pings/s",
        flush=True,
    )


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    path = os.path.join(d, "cost.db")
    print(f"sqlite {sqlite3.sqlite_version}; load {open('/proc/loadavg').read().split()[0]}")
    for keys, indexes, sync in [
        (1, 2, "FULL"),
        (1000, 2, "FULL"),
        (1000, 1, "FULL"),
        (1000, 0, "FULL"),
        (1000, 2, "OFF"),
        (1000, 1, "OFF"),
    ]:
        run(path, keys, indexes, sync)


if __name__ == "__main__":
    main()
