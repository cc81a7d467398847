-- Notifications (PRODUCT §3.5): the outbox and its deliveries, subscribers, operator alert
-- states. Instants are integer milliseconds since the Unix epoch, UTC.

-- A notice is written in the same transaction as the change that causes it. `dedup_key` makes
-- writing one idempotent (a reminder, an alert follower replaying an event).
CREATE TABLE notices (
    id             BIGSERIAL PRIMARY KEY,
    dedup_key      TEXT NOT NULL UNIQUE,
    audience       TEXT NOT NULL CHECK (audience IN ('customers', 'operators')),
    payload        TEXT NOT NULL,                 -- JSON of the notice
    created_at     BIGINT NOT NULL,
    fanned_out_at  BIGINT                         -- NULL until deliveries are made for it
);
CREATE INDEX notices_unfanned ON notices (fanned_out_at, id);
CREATE INDEX notices_created ON notices (created_at);

-- One row per (notice, recipient). `id` is the delivery id sent on every attempt.
CREATE TABLE deliveries (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    notice_id        BIGINT,                      -- NULL for a subscription confirmation
    event            TEXT NOT NULL,               -- incident.opened, alert.firing, ...
    recipient        TEXT NOT NULL,               -- channel:ID or subscriber:ID
    channel          TEXT NOT NULL CHECK (channel IN ('email', 'webhook', 'slack', 'pagerduty')),
    destination      TEXT NOT NULL,               -- address or URL
    order_key        TEXT NOT NULL,               -- deliveries with one key go out one at a time, in seq order (one destination)
    subject          TEXT NOT NULL,               -- incident/ID, maintenance/ID, alert/KEY (or the event)
    content          TEXT NOT NULL,               -- JSON of what is sent
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
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_order ON deliveries (order_key, state, seq);
CREATE INDEX deliveries_created ON deliveries (created_at);
CREATE INDEX deliveries_recipient ON deliveries (recipient, state);

-- Status-page subscribers: e-mail (double opt-in) or webhook (admin-made).
CREATE TABLE subscribers (
    id                   TEXT PRIMARY KEY,
    kind                 TEXT NOT NULL CHECK (kind IN ('email', 'webhook')),
    address              TEXT NOT NULL,           -- lower-case e-mail address, or URL
    secret               TEXT,                    -- webhook signing secret
    components           TEXT NOT NULL,           -- JSON list; empty = every component
    tenant               TEXT,
    confirmed_at         BIGINT,                  -- NULL until confirmed
    pending_scope        TEXT,                    -- JSON {components, tenant} awaiting confirmation
    confirm_token_hash   TEXT,                    -- sha256 hex of the link's token
    confirm_expires_at   BIGINT,
    confirm_sent_at      BIGINT,
    created_at           BIGINT NOT NULL,
    UNIQUE (kind, address)
);
CREATE INDEX subscribers_confirm ON subscribers (confirm_token_hash);

-- Operator alerts as notified: what fires, since when, when it was last sent.
CREATE TABLE alert_states (
    key               TEXT PRIMARY KEY,           -- monitor:ID, rule:NAME, preflight:MID, ...
    severity          TEXT NOT NULL,
    component         TEXT,
    firing            BOOLEAN NOT NULL,
    since             BIGINT NOT NULL,
    summary           TEXT NOT NULL,
    detail            TEXT NOT NULL,
    notified          BOOLEAN NOT NULL,           -- false while a maintenance suppresses it
    last_notified_at  BIGINT,
    repeats           BIGINT NOT NULL DEFAULT 0,
    acknowledged_at   BIGINT,
    acknowledged_by   TEXT
);

-- Keys made once per database (the HMAC key of unsubscribe links).
CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
