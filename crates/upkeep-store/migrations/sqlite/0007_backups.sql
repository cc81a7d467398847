-- Backups and recovery drills (PRODUCT §3.7). Backup runs are pings of the backup set's push
-- key; a backup job may report its size. Instants are integer milliseconds since the Unix
-- epoch, UTC.

ALTER TABLE pings ADD COLUMN size_bytes INTEGER;   -- `?size=BYTES` on an end, if reported

CREATE TABLE drills (
    id           TEXT PRIMARY KEY,                 -- 12 lowercase alphanumerics
    backup_set   TEXT NOT NULL,                    -- the `backups:` id in the configuration
    started_at   INTEGER NOT NULL,
    finished_at  INTEGER,                          -- NULL while the drill runs
    outcome      TEXT CHECK (outcome IN ('success', 'failure')),
    validated    INTEGER,                          -- boolean 0 | 1: the restore was checked
    recovery_ms  INTEGER,                          -- finished - started, only when it counts
    notes        TEXT NOT NULL,
    started_by   TEXT NOT NULL,
    finished_by  TEXT
);
CREATE INDEX drills_set_started ON drills (backup_set, started_at);
CREATE INDEX drills_set_finished ON drills (backup_set, finished_at);
