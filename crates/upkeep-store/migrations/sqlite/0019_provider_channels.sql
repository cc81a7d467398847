-- Deliveries may go out on the chat, pager and push providers and the templated webhook too.
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt with the same columns
-- and indexes.
CREATE TABLE deliveries_new (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    notice_id        BIGINT,
    event            TEXT NOT NULL,
    recipient        TEXT NOT NULL,
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook', 'slack', 'pagerduty',
                         'discord', 'telegram', 'teams', 'opsgenie', 'ntfy', 'pushover',
                         'google_chat', 'mattermost', 'rocketchat', 'splunk_oncall', 'matrix',
                         'gotify', 'custom_webhook')),
    destination      TEXT NOT NULL,
    order_key        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    content          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    claimed_by       TEXT,
    claimed_until    BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    sent_at          BIGINT,
    UNIQUE (notice_id, recipient, destination)
);
INSERT INTO deliveries_new (seq, id, notice_id, event, recipient, channel, destination,
    order_key, subject, content, state, attempts, next_attempt_at, claimed_by, claimed_until,
    last_error, created_at, sent_at)
SELECT seq, id, notice_id, event, recipient, channel, destination, order_key, subject, content,
    state, attempts, next_attempt_at, claimed_by, claimed_until, last_error, created_at, sent_at
FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_order ON deliveries (order_key, state, seq);
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_recipient ON deliveries (recipient, state);
CREATE INDEX deliveries_state_seq ON deliveries (state, seq);
