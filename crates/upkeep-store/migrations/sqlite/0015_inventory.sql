-- The update inventory (docs/inventory.md). What is deployed where, as machines report it, and
-- the last good read of every Helm index and end-of-life file the configuration names.
-- Instants are integer milliseconds since the Unix epoch, UTC.

CREATE TABLE inventory_deployed (
    item          TEXT NOT NULL,                 -- the `inventory.items` id
    place         TEXT NOT NULL,                 -- where: a cluster, a tenant, an environment
    chart_version TEXT NOT NULL,                 -- as reported (may not be a version)
    app_version   TEXT,
    reported_at   INTEGER NOT NULL,
    reported_by   TEXT NOT NULL,
    PRIMARY KEY (item, place)
);

CREATE TABLE inventory_sources (
    location      TEXT PRIMARY KEY,              -- the index URL or file path, or `eol:PATH`
    etag          TEXT,                          -- for a conditional GET
    last_modified TEXT,
    body          TEXT,                          -- the last good read, summarised as JSON
    good_at       INTEGER,                       -- when that read was made (NULL: never)
    checked_at    INTEGER NOT NULL,              -- the last attempt
    error         TEXT                           -- why the last attempt failed, NULL when it did not
);
